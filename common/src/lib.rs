//! What both Weft processes share: the Fabric rules that must be computed the same way
//! everywhere. See `ARCHITECTURE.md` for the map and the invariants.
//!
//! Layout:
//! - [`crypto`]: SHA-256 and ECDSA P-256 (low-S, DER) behind a backend trait.
//! - [`msp`]: X.509 identities, MSPs (chain validation, NodeOUs, CRLs), MSP directories.
//! - [`policy`]: signature policies, implicit-meta policies, the policy-string parser.
//! - [`protoutil`]: txids, proposals, envelopes, proposal hashes, block hashing.
//! - [`channelconfig`]: a typed view of a channel's config block.
//! - [`tls`]: rustls server and client configs from PEM files.
//! - [`grpc`]: tonic servers and clients over our rustls configs, client certs for handlers.
//! - [`configtx`]: validating and applying channel config updates (CONFIG_UPDATE).
//! - [`blockstore`]: the append-only RocksDB block store (blocks, txid index, height watch).
//! - [`deliver`]: the Deliver protocol engine (seek requests → blocks and a final status).
//! - [`localconfig`]: reading `core.yaml` / `orderer.yaml` with Fabric's env override rule.
//! - [`operations`]: the operations endpoint (`/healthz`, `/metrics`, `/logspec`, `/version`)
//!   and `FABRIC_LOGGING_SPEC`, served by the peer and the orderer.

#[cfg(feature = "storage")]
pub mod blockstore;
pub mod channelconfig;
pub mod configtx;
pub mod crypto;
#[cfg(feature = "storage")]
pub mod deliver;
pub mod grpc;
pub mod localconfig;
pub mod msp;
pub mod operations;
pub mod policy;
pub mod protoutil;
pub mod tls;
