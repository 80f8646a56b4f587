//! The one seam between the SDK and whatever executes it: the peer's WASM runtime (the
//! guest ABI v1 imports, on `wasm32`) or the [`crate::mock`] ledger (natively). Both
//! receive the same protobuf-encoded shim requests.

use std::fmt;

/// `call` kinds: the `ChaincodeMessage.Type` numbers of the shim requests (and the
/// host-local kinds of the Weft ABI).
pub mod kind {
    /// TRANSACTION: the host answers the encoded `TxInput`.
    pub const TX_INPUT: i32 = 5;
    /// GET_STATE.
    pub const GET_STATE: i32 = 8;
    /// PUT_STATE.
    pub const PUT_STATE: i32 = 9;
    /// DEL_STATE.
    pub const DEL_STATE: i32 = 10;
    /// INVOKE_CHAINCODE.
    pub const INVOKE_CHAINCODE: i32 = 11;
    /// GET_STATE_BY_RANGE.
    pub const GET_STATE_BY_RANGE: i32 = 14;
    /// GET_QUERY_RESULT.
    pub const GET_QUERY_RESULT: i32 = 15;
    /// QUERY_STATE_NEXT.
    pub const QUERY_STATE_NEXT: i32 = 16;
    /// QUERY_STATE_CLOSE.
    pub const QUERY_STATE_CLOSE: i32 = 17;
    /// GET_HISTORY_FOR_KEY.
    pub const GET_HISTORY_FOR_KEY: i32 = 19;
    /// GET_STATE_METADATA.
    pub const GET_STATE_METADATA: i32 = 20;
    /// PUT_STATE_METADATA.
    pub const PUT_STATE_METADATA: i32 = 21;
    /// GET_PRIVATE_DATA_HASH.
    pub const GET_PRIVATE_DATA_HASH: i32 = 22;
    /// PURGE_PRIVATE_DATA.
    pub const PURGE_PRIVATE_DATA: i32 = 23;
    /// GET_STATE_MULTIPLE.
    pub const GET_STATE_MULTIPLE: i32 = 25;
    /// Host-local: the client's `SignedProposal` bytes.
    pub const SIGNED_PROPOSAL: i32 = 256;
}

/// Log levels passed to [`Host::log`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    /// Debug detail.
    Debug = 0,
    /// Information.
    Info = 1,
    /// Something unexpected.
    Warn = 2,
    /// A failure.
    Error = 3,
}

/// Why a host `call` failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostError {
    /// The peer answered ERROR with this text.
    Peer(String),
    /// The host refused the request without reaching the peer.
    Rejected(String),
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Peer(text) | Self::Rejected(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for HostError {}

/// What executes a chaincode: the transport of its shim requests.
pub trait Host {
    /// Performs shim request `kind` with the encoded request; returns the response bytes.
    fn call(&mut self, kind: i32, request: &[u8]) -> Result<Vec<u8>, HostError>;
    /// The final answer: an encoded `peer.Response` and optionally a `peer.ChaincodeEvent`.
    fn complete(&mut self, response: &[u8], event: Option<&[u8]>);
    /// Debug text for the host's log.
    fn log(&mut self, level: LogLevel, text: &str);
}

/// The host of a chaincode compiled to WebAssembly: the `fabric.*` imports of the guest
/// ABI v1. The only `unsafe` code of the SDK lives here.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
pub mod wasm {
    use super::{Host, HostError, LogLevel};

    #[link(wasm_import_module = "fabric")]
    unsafe extern "C" {
        fn call(kind: i32, req_ptr: i32, req_len: i32, out_ptr: i32, out_cap: i32) -> i64;
        fn take(dst_ptr: i32) -> i32;
        fn complete(resp_ptr: i32, resp_len: i32, event_ptr: i32, event_len: i32) -> i32;
        fn log(level: i32, ptr: i32, len: i32);
    }

    /// Size of the scratch buffer answers are first written to.
    const SCRATCH: usize = 4096;

    /// The guest ABI's host (one per transaction).
    #[derive(Debug, Default)]
    pub struct WasmHost;

    // wasm32 pointers and lengths are 32-bit: `as i32` keeps the bits the host reads as
    // unsigned.
    fn ptr(bytes: &[u8]) -> i32 {
        bytes.as_ptr() as usize as i32
    }

    fn len(bytes: &[u8]) -> i32 {
        bytes.len() as i32
    }

    impl Host for WasmHost {
        fn call(&mut self, kind: i32, request: &[u8]) -> Result<Vec<u8>, HostError> {
            let mut out = vec![0u8; SCRATCH];
            // SAFETY: `request` and `out` are live buffers of this memory with the lengths
            // passed; the host writes at most `out_cap` bytes at `out_ptr`.
            let result = unsafe {
                call(
                    kind,
                    ptr(request),
                    len(request),
                    out.as_mut_ptr() as usize as i32,
                    SCRATCH as i32,
                )
            };
            let status = (result >> 32) as u32;
            let n = (result & 0xffff_ffff) as u32 as usize;
            if n <= SCRATCH {
                out.truncate(n);
            } else {
                out = vec![0u8; n];
                // SAFETY: the answer is parked and `out` has room for its `n` bytes.
                let taken = unsafe { take(out.as_mut_ptr() as usize as i32) };
                out.truncate(usize::try_from(taken).unwrap_or(0));
            }
            match status {
                0 => Ok(out),
                1 => Err(HostError::Peer(String::from_utf8_lossy(&out).into_owned())),
                _ => Err(HostError::Rejected(
                    String::from_utf8_lossy(&out).into_owned(),
                )),
            }
        }

        fn complete(&mut self, response: &[u8], event: Option<&[u8]>) {
            let event = event.unwrap_or_default();
            // SAFETY: both buffers are live for the duration of the call.
            unsafe {
                complete(ptr(response), len(response), ptr(event), len(event));
            }
        }

        fn log(&mut self, level: LogLevel, text: &str) {
            // SAFETY: `text` is live for the duration of the call.
            unsafe { log(level as i32, ptr(text.as_bytes()), len(text.as_bytes())) }
        }
    }
}
