//! Weft's WebAssembly chaincode runtime.
//!
//! A chaincode is a core wasm module speaking the guest ABI documented in [`abi`]. The
//! runtime compiles it once ([`WasmEngine::load`] / [`WasmEngine::load_cached`]), then runs
//! every transaction on a fresh, pooled wasmtime instance with a fuel budget and a
//! wall-clock timeout ([`TxLimits`]), speaking Fabric's ChaincodeMessage shim protocol to
//! the peer ([`WasmChaincode::serve`], built on [`WasmChaincode::run`]).
//!
//! The crate depends on nothing peer-specific so that it can run both inside the peer
//! (in-process channels) and in a standalone runner (a gRPC `ChaincodeSupport.Register`
//! stream).

pub mod abi;
mod engine;
mod error;
mod host;
mod shim;

pub use abi::TxInput;
pub use engine::{
    EngineConfig, LoadKind, MAX_MODULE_BYTES, MAX_TABLE_ELEMENTS, WasmEngine, WasmStats,
};
pub use error::WasmError;
pub use shim::{BoxFuture, ShimLink, TxLimits, WasmChaincode};
