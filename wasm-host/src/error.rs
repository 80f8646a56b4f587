//! Errors of the WASM chaincode runtime.

/// What can go wrong configuring the engine, loading a module or speaking the shim protocol.
///
/// Failures of a single transaction are not errors of this type: they are answered to
/// the peer with a ChaincodeMessage ERROR and the runtime keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum WasmError {
    /// The wasmtime engine could not be configured.
    #[error("failed to configure the wasm engine: {0}")]
    Engine(String),
    /// The `.wasm` is larger than the install limit.
    #[error("invalid chaincode module: {size} bytes exceeds the limit of {max} bytes")]
    ModuleTooLarge {
        /// Size of the module.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The module does not satisfy the ABI (missing or mistyped exports or imports, limits).
    #[error("invalid chaincode module: {0}")]
    InvalidModule(String),
    /// The module imports something outside the four `fabric.*` functions.
    #[error("invalid chaincode module: imports {module}.{name}, which chaincode may not use")]
    ForbiddenImport {
        /// Import module name.
        module: String,
        /// Import field name.
        name: String,
    },
    /// Cranelift rejected or failed to compile the module.
    #[error("failed to compile chaincode module: {0}")]
    Compile(String),
    /// The peer broke the shim protocol during registration.
    #[error("chaincode shim protocol error: {0}")]
    Protocol(String),
    /// The peer's end of the stream went away.
    #[error("the peer closed the chaincode stream")]
    StreamClosed,
}
