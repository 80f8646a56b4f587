//! System chaincodes invoked through ProcessProposal: `cscc` (channel configuration:
//! join, list) and `qscc` (ledger queries), which answer directly with a `Response` as a
//! chaincode would, and `_lifecycle` (install, approve, commit: [`lifecycle`]), which runs
//! in a transaction simulator whose results the endorser endorses. Their ACLs are checked
//! per function, as Fabric's do.

mod cscc;
pub mod lifecycle;
mod qscc;

use std::sync::Arc;

use weft_common::protoutil::UnpackedProposal;
use weft_proto::protos::Response;

use crate::acl::AclProvider;
use crate::channels::Channels;

/// Status of a successful response.
pub const OK: i32 = 200;
/// Status of a failed response (the shim's `ERROR`).
pub const ERROR: i32 = 500;

/// What a system chaincode reads and changes.
#[derive(Debug, Clone)]
pub struct SystemContext {
    /// The joined channels.
    pub channels: Arc<Channels>,
    /// The peer's ACLs.
    pub acl: AclProvider,
}

/// The names of the system chaincodes this peer serves.
pub const SYSTEM_CHAINCODES: &[&str] = &["cscc", "qscc", lifecycle::LIFECYCLE_NAMESPACE];

/// Whether `name` is a system chaincode of this peer.
pub fn is_system_chaincode(name: &str) -> bool {
    SYSTEM_CHAINCODES.contains(&name)
}

/// Invokes system chaincode `name` for `proposal`; `None` if `name` is not one of those
/// answering directly (`_lifecycle` runs through [`lifecycle::invoke`]). Blocking (ledger
/// I/O): call it off the async runtime.
pub fn invoke(ctx: &SystemContext, name: &str, proposal: &UnpackedProposal) -> Option<Response> {
    match name {
        "cscc" => Some(cscc::invoke(ctx, proposal)),
        "qscc" => Some(qscc::invoke(ctx, proposal)),
        _ => None,
    }
}

/// A successful response carrying `payload`.
fn success(payload: Vec<u8>) -> Response {
    Response {
        status: OK,
        message: String::new(),
        payload,
    }
}

/// An error response with `message`.
fn error(message: impl Into<String>) -> Response {
    Response {
        status: ERROR,
        message: message.into(),
        payload: Vec::new(),
    }
}

/// The arguments as UTF-8 text (lossy), for function names and ids.
fn arg_str(args: &[Vec<u8>], index: usize) -> Option<String> {
    args.get(index)
        .map(|a| String::from_utf8_lossy(a).into_owned())
}
