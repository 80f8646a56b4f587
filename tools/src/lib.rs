//! Fabric's crypto and channel tooling, as libraries behind the `cryptogen` and
//! `configtxgen` binaries (the dev network reuses them).
//!
//! - [`cryptogen`]: reads a `crypto-config.yaml` and writes CAs, MSP directories and TLS
//!   material in the directory layout Fabric's `cryptogen` produces.
//! - [`configtxgen`]: reads a `configtx.yaml` profile and builds a channel's genesis
//!   block; also prints blocks and organization definitions as JSON.

pub mod configtxgen;
pub mod cryptogen;
mod pem;
