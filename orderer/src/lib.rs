//! The Weft orderer: Fabric's ordering service on Raft.
//!
//! Layout:
//! - [`config`]: `orderer.yaml` with `ORDERER_*` overrides.
//! - [`broadcast`]: `/orderer.AtomicBroadcast/Broadcast` checks and ordering.
//! - [`blockcutter`]: Fabric's batch cutting rules.
//! - [`consensus`]: the Raft log storage, the log entry format and the per-channel chain.
//! - [`cluster`]: node-to-node traffic over `/orderer.Cluster/Step` with mutual TLS.
//! - [`puller`]: fetches blocks from another consenter after a Raft snapshot.
//! - [`registrar`]: the channels this node serves (join, restart, remove).
//! - [`participation`]: the channel participation REST API (`osnadmin`).
//! - [`operations`]: `/healthz`, `/metrics`, `/logspec`, `/version`.
//! - [`metrics`]: Prometheus metrics with Fabric's names.
//! - [`deliver`]: `/orderer.AtomicBroadcast/Deliver` over the shared Deliver engine.
//! - [`service`]: the AtomicBroadcast gRPC service.
//! - [`server`]: wires everything into a running node.
//!
//! See ARCHITECTURE.md for the flows and invariants.

pub mod blockcutter;
pub mod broadcast;
pub mod cluster;
pub mod config;
pub mod consensus;
pub mod deliver;
mod http;
pub mod metrics;
pub mod operations;
pub mod participation;
pub mod puller;
pub mod registrar;
pub mod server;
pub mod service;
