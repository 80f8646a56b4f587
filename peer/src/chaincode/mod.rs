//! Chaincode support: running application chaincodes for the endorser.
//!
//! - [`ChaincodeSupport`] (`support`): definition lookup in `_lifecycle`, init rules,
//!   launch, execution, result mapping — Fabric's `ChaincodeSupport`.
//! - [`Handler`] (`handler`): the one ChaincodeMessage state machine every chaincode
//!   talks to, whatever launched it; serves the state requests against the transaction's
//!   simulator.
//! - `context`: per-transaction state ([`TxParams`], the shared simulator).
//! - `registry`: connected chaincodes and launches under way.
//! - `launcher`: the [`Launcher`] trait and the `wasm` and `ccaas` launchers.
//! - `listener`: `/protos.ChaincodeSupport/Register` for chaincodes that dial the peer.
//! - `package`: Fabric's package format and the installed-package store.

pub mod collections;
mod context;
mod docker;
mod handler;
mod launcher;
mod listener;
pub mod package;
mod registry;
mod support;

pub use context::{SharedSimulator, TxParams, share};
pub use docker::{DockerLauncher, DockerSettings};
pub use handler::{ERROR_EXECUTION_TIMEOUT, ERROR_STREAM_TERMINATED, Handler, HandlerError};
pub use launcher::{CcaasLauncher, ConnectionInfo, Launcher, WasmLauncher};
pub use listener::ChaincodeListener;
pub use registry::HandlerRegistry;
pub use support::{
    Approval, ChaincodeSupport, EndorsementInfo, ExecuteError, INITIALIZED_KEY, SupportConfig,
};

#[cfg(test)]
mod tests;
