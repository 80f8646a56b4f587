//! The Weft chaincode SDK: write Hyperledger Fabric contracts in Rust, compile them to
//! WebAssembly (`wasm32-unknown-unknown`) and run them in the Weft peer — or natively,
//! against the [`mock`] ledger, in unit tests.
//!
//! ```ignore
//! use weft_chaincode_sdk::{Context, ContractError, Schema, contract};
//!
//! #[derive(Default)]
//! pub struct Basic;
//!
//! #[contract(name = "basic", default)]
//! impl Basic {
//!     #[transaction(submit)]
//!     fn put(&self, ctx: &mut Context, key: String, value: String) -> Result<(), ContractError> {
//!         Ok(ctx.stub().put_state(&key, value)?)
//!     }
//!
//!     #[transaction(evaluate)]
//!     fn get(&self, ctx: &mut Context, key: String) -> Result<String, ContractError> {
//!         let value = ctx.stub().get_state(&key)?.unwrap_or_default();
//!         Ok(String::from_utf8_lossy(&value).into_owned())
//!     }
//! }
//!
//! weft_chaincode_sdk::export!(Basic);
//! ```
//!
//! Conventions follow fabric-contract-api-go: `Contract:Function` routing (split at the
//! last `:`), the default contract for bare names, Rust `snake_case` methods exported in
//! `PascalCase` (`create_asset` → `CreateAsset`), strings passed raw, numbers and
//! booleans as text, other types as JSON, an error answered `Response{500, message}`,
//! and `org.hyperledger.fabric:GetMetadata`.
//!
//! Every ledger operation is a protobuf-encoded Fabric shim request to a [`Host`]: the
//! guest ABI v1 imports on `wasm32` (module `host::wasm`), the [`mock::MockLedger`] natively.

pub mod contract;
pub mod convert;
pub mod error;
pub mod host;
pub mod identity;
#[cfg(not(target_arch = "wasm32"))]
pub mod mock;
pub mod proto;
pub mod stub;

pub use contract::{Chaincode, Context, Contract, SYSTEM_CONTRACT, TransactionInfo, TxKind};
pub use convert::{Bytes, Components, FromArg, IntoPayload, IntoTxResult, Json, Schema};
pub use error::{ContractError, StubError};
pub use host::{Host, HostError, LogLevel};
pub use identity::{ClientIdentity, IdentityError};
pub use proto::{ChaincodeEvent, KeyModification, Kv, QueryResponseMetadata, Response};
pub use stub::{HistoryQueryIterator, QueryIterator, StateQueryIterator, Stub};
pub use weft_chaincode_macros::{Schema, contract};
pub use x509_parser;

/// Exports the chaincode made of the given contracts: a `chaincode()` function building
/// the [`Chaincode`] and, on `wasm32`, the guest ABI v1 exports `fabric_abi_v1` and
/// `fabric_run`.
///
/// ```ignore
/// weft_chaincode_sdk::export!(AssetTransfer, Other::default());
/// ```
#[macro_export]
macro_rules! export {
    ($($contract:expr),+ $(,)?) => {
        /// The chaincode this crate exports.
        pub fn chaincode() -> $crate::Chaincode {
            $crate::Chaincode::new()$(.with($contract))+
        }

        /// Guest ABI version marker.
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        pub extern "C" fn fabric_abi_v1() {}

        /// Runs one transaction.
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        pub extern "C" fn fabric_run() -> i32 {
            $crate::__private::run(&chaincode())
        }
    };
}

#[doc(hidden)]
pub mod __private {
    pub use serde_json::{Value, json};

    /// `fabric_run`: fetch, dispatch, complete; 0 on success.
    #[cfg(target_arch = "wasm32")]
    pub fn run(chaincode: &crate::Chaincode) -> i32 {
        use crate::host::{Host, LogLevel, wasm::WasmHost};
        std::panic::set_hook(Box::new(|info| {
            WasmHost.log(LogLevel::Error, &info.to_string());
        }));
        let mut host = WasmHost;
        match chaincode.run(&mut host) {
            Ok(()) => 0,
            Err(e) => {
                host.log(LogLevel::Error, &e.to_string());
                1
            }
        }
    }
}
