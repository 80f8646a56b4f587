//! `weft network up|down|deploy`: the one-command development network.
//!
//! With nothing but the built `orderer` and `peer` binaries, [`up`] generates crypto
//! material in Fabric test-network's layout and the `mychannel` genesis block, writes an
//! `orderer.yaml`/`core.yaml` per node, starts one Raft orderer and one peer for each of
//! `Org1MSP` and `Org2MSP` as real processes (TLS everywhere), joins the channel through
//! the orderer's channel participation API and the peers' `cscc`, and deploys chaincode
//! through direct proposals to `_lifecycle` ([`deploy`]). Everything lives under one
//! directory ([`layout::Layout`]), so a second `up` resumes.
//!
//! Modules by domain:
//! - [`layout`]: the directory layout, node names and ports;
//! - [`crypto`]: crypto material and the channel genesis block (`weft-tools`);
//! - [`config`]: `orderer.yaml`, `core.yaml` and the connection profiles;
//! - [`process`]: child processes (spawn, readiness, stop by pid), port checks;
//! - [`client`]: gRPC and HTTPS clients: proposals, broadcast, commit wait;
//! - [`channel`]: joining the orderer and the peers to the channel;
//! - [`package`]: chaincode packages and building contracts for wasm32;
//! - [`deploy`]: install, approve, commit through `_lifecycle`;
//! - [`up`]: the `up` command's orchestration, progress output and signals.

pub mod channel;
pub mod client;
pub mod config;
pub mod crypto;
pub mod deploy;
pub mod error;
pub mod layout;
pub mod package;
pub mod process;
pub mod up;

pub use error::NetworkError;
