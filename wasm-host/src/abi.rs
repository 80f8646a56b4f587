//! # The Weft guest ABI, version 1
//!
//! (ARCHITECTURE.md carries the same text for readers of the repository; change both.)
//!
//! A Weft chaincode is a core WebAssembly module (no component model, no WASI). It talks
//! to the host through four functions imported from the module `fabric` and exports three
//! items. All pointers and lengths are `i32` values read as **unsigned** offsets into the
//! guest's exported memory.
//!
//! ## Guest exports
//!
//! | export | type | meaning |
//! |---|---|---|
//! | `memory` | memory | the guest's linear memory (the host caps its size) |
//! | `fabric_abi_v1` | `() -> ()` | ABI version marker; a module must export exactly one `fabric_abi_v*` marker and it must be `v1` |
//! | `fabric_run` | `() -> i32` | called once per transaction on a fresh instance; returns 0 after a successful `complete`, anything else is a failure |
//!
//! ## Host imports (module `fabric`)
//!
//! | import | signature | semantics |
//! |---|---|---|
//! | `call` | `(kind: i32, req_ptr: i32, req_len: i32, out_ptr: i32, out_cap: i32) -> i64` | performs the shim request `kind` (a `ChaincodeMessage.Type` number) with the payload bytes `req`; see below |
//! | `take` | `(dst_ptr: i32) -> i32` | copies the parked result of the last `call` to `dst_ptr`, clears the slot, returns its length (`-1` if nothing is parked) |
//! | `complete` | `(resp_ptr: i32, resp_len: i32, event_ptr: i32, event_len: i32) -> i32` | the guest's final answer: an encoded `peer.Response` and optionally an encoded `peer.ChaincodeEvent` (`event_len = 0`: no event); returns 0 |
//! | `log` | `(level: i32, ptr: i32, len: i32) -> ()` | UTF-8 debug text to the host's log (`tracing`, debug level); capped at 100 lines / 16 KiB per transaction; never affects results |
//!
//! ### `call`
//!
//! The result is `(status << 32) | len` where `len` is an unsigned 32-bit length:
//!
//! | status | meaning | bytes |
//! |---|---|---|
//! | 0 | the peer answered RESPONSE (or a host-local kind succeeded) | the response payload |
//! | 1 | the peer answered ERROR | UTF-8 error text |
//! | 2 | rejected by the host without reaching the peer (unknown or disallowed kind) | UTF-8 error text |
//!
//! If `len <= out_cap` the bytes have already been written at `out_ptr`. Otherwise they are
//! *parked*: the guest allocates `len` bytes and fetches them with `take`. There is one
//! parking slot; the next `call` replaces whatever was parked and not taken.
//!
//! Kinds and their request payloads (the Fabric shim messages, encoded with protobuf):
//!
//! | kind | Fabric type | `req` | response bytes |
//! |---|---|---|---|
//! | 5 | TRANSACTION (host-local) | empty (ignored) | the encoded [`TxInput`] |
//! | 8 | GET_STATE | `GetState{key, collection}` | the value (empty = absent) |
//! | 9 | PUT_STATE | `PutState{key, value, collection}` | empty |
//! | 10 | DEL_STATE | `DelState{key, collection}` | empty |
//! | 11 | INVOKE_CHAINCODE | `ChaincodeSpec{chaincode_id.name = "cc" or "cc/channel", input}` | the callee's encoded `peer.Response` (the host unwraps the peer's RESPONSE → `ChaincodeMessage(COMPLETED)` → `Response`, like the Go shim; a callee ERROR becomes status 1 with its text) |
//! | 14 | GET_STATE_BY_RANGE | `GetStateByRange` | `QueryResponse` |
//! | 15 | GET_QUERY_RESULT | `GetQueryResult` | `QueryResponse` |
//! | 16 | QUERY_STATE_NEXT | `QueryStateNext{id}` | `QueryResponse` |
//! | 17 | QUERY_STATE_CLOSE | `QueryStateClose{id}` | `QueryResponse` |
//! | 19 | GET_HISTORY_FOR_KEY | `GetHistoryForKey{key}` | `QueryResponse` of `KeyModification` |
//! | 20 | GET_STATE_METADATA | `GetStateMetadata{key, collection}` | `StateMetadataResult` |
//! | 21 | PUT_STATE_METADATA | `PutStateMetadata{key, collection, metadata}` | empty |
//! | 22 | GET_PRIVATE_DATA_HASH | `GetState{key, collection}` | SHA-256 of the private value |
//! | 23 | PURGE_PRIVATE_DATA | `DelState{key, collection}` | empty |
//! | 25 | GET_STATE_MULTIPLE | `GetStateMultiple{keys, collection}` | `GetStateMultipleResult` |
//! | 256 | (host-local) | empty (ignored) | the client's `SignedProposal` bytes (empty if the peer sent none) |
//!
//! The host does not decode peer-bound requests: it wraps `req` verbatim in
//! `ChaincodeMessage{type: kind, payload: req, txid, channel_id}`. The host owns `txid` and
//! `channel_id`, so a guest cannot address another transaction. Any other kind (including
//! 24, WRITE_BATCH_STATE, which Fabric v2.5 peers do not serve) is answered with status 2.
//!
//! ### `TxInput` (Weft-defined protobuf, answer to kind 5)
//!
//! | field | number | type | source |
//! |---|---|---|---|
//! | `txid` | 1 | string | TRANSACTION.txid |
//! | `channel_id` | 2 | string | TRANSACTION.channel_id |
//! | `input` | 3 | `protos.ChaincodeInput` (args, decorations, is_init) | TRANSACTION.payload, copied verbatim |
//! | `creator` | 4 | bytes | `SignatureHeader.creator` (the `SerializedIdentity` bytes) |
//! | `transient` | 5 | `map<string, bytes>` | `ChaincodeProposalPayload.TransientMap`, encoded in key order |
//! | `timestamp` | 6 | `google.protobuf.Timestamp` | `ChannelHeader.timestamp` |
//! | `binding` | 7 | bytes | SHA-256(nonce ‖ creator ‖ epoch as 8-byte little-endian), as Fabric's Go stub computes it |
//!
//! Fields 4–7 come from the TRANSACTION's `proposal` (`SignedProposal.proposal_bytes` →
//! `Proposal` → `Header` → `ChannelHeader`/`SignatureHeader`, `Proposal.payload` →
//! `ChaincodeProposalPayload`); they are empty when the message carries no proposal.
//!
//! ## Rules
//!
//! - A pointer/length outside the guest's memory traps (the host never panics). The
//!   `call` output buffer (`out_ptr`, `out_cap`) must lie inside memory even when the
//!   answer ends up parked.
//! - A `call` request, or a `Response`/event given to `complete`, longer than the engine's
//!   `max_message_bytes` (default 4 MiB) traps. Answers from the peer are not capped by
//!   the host (the guest's memory limit applies when it `take`s them).
//! - `log` may also be called after `complete`; lines over the cap are dropped silently.
//! - A second `complete`, or any `call`/`take` after `complete`, traps ("called the host
//!   after completing the transaction").
//! - `complete` with bytes that do not decode as `peer.Response` (or an event that does not
//!   decode as `peer.ChaincodeEvent`) traps ("malformed response from the guest").
//! - The host sends COMPLETED (payload = the guest's `Response` bytes verbatim,
//!   `chaincode_event` = the event) only when `fabric_run` returns 0 after `complete`.
//!   Anything else — a trap, running out of fuel, the wall-clock timeout, `fabric_run`
//!   returning non-zero or without `complete` — is answered with a ChaincodeMessage ERROR
//!   whose payload reads `chaincode <id> failed: <reason>`, the reason being e.g.
//!   `out of fuel`, `wall-clock timeout`, `memory limit ...`, `stack overflow`,
//!   `trap: <wasmtime's trap message>`, `malformed response from the guest ...`.
//! - Only the four `fabric.*` functions may be imported (no WASI, clocks or randomness);
//!   memory is capped (default 64 MiB), one memory, one table of at most 20 000 elements,
//!   `.wasm` at most 4 MiB. Each transaction runs on a fresh instance with a fuel budget
//!   (deterministic) and a wall-clock timeout (backstop).
//! - Floats are NaN-canonicalized; SIMD, threads, memory64, multi-memory, GC and
//!   exceptions are disabled.

use std::collections::BTreeMap;

use prost::Message;
use sha2::{Digest, Sha256};
use weft_proto::common::{ChannelHeader, Header, SignatureHeader};
use weft_proto::protos::{ChaincodeInput, ChaincodeProposalPayload, Proposal, SignedProposal};

/// Import module name of the host functions.
pub const IMPORT_MODULE: &str = "fabric";
/// Prefix of the ABI version marker export.
pub const ABI_MARKER_PREFIX: &str = "fabric_abi_v";
/// The marker export of the ABI this host implements.
pub const ABI_MARKER_V1: &str = "fabric_abi_v1";
/// The per-transaction entry point.
pub const RUN_EXPORT: &str = "fabric_run";
/// The guest memory export.
pub const MEMORY_EXPORT: &str = "memory";

/// `call` kind served by the host: the encoded [`TxInput`].
pub const KIND_TX_INPUT: i32 = 5;
/// `call` kind served by the host: the client's `SignedProposal` bytes.
pub const KIND_SIGNED_PROPOSAL: i32 = 256;
/// `call` kind INVOKE_CHAINCODE, whose answer the host unwraps.
pub const KIND_INVOKE_CHAINCODE: i32 = 11;
/// `call` kinds forwarded to the peer.
pub const PEER_KINDS: [i32; 14] = [8, 9, 10, 11, 14, 15, 16, 17, 19, 20, 21, 22, 23, 25];

/// `call` status: RESPONSE (or a host-local kind).
pub const STATUS_OK: i64 = 0;
/// `call` status: the peer answered ERROR.
pub const STATUS_PEER_ERROR: i64 = 1;
/// `call` status: rejected by the host.
pub const STATUS_REJECTED: i64 = 2;

/// Per-transaction cap on `log` lines.
pub const LOG_MAX_LINES: u32 = 100;
/// Per-transaction cap on `log` bytes.
pub const LOG_MAX_BYTES: usize = 16 * 1024;

/// The transaction context a guest fetches with `call(5, …)`.
///
/// Field 3 holds the TRANSACTION payload verbatim: on the wire a `bytes` field with an
/// encoded message is identical to an embedded `ChaincodeInput`, so guests decode it as
/// `ChaincodeInput input = 3`. Keeping the peer's bytes avoids re-encoding its map (whose
/// order would otherwise depend on a hash seed).
#[derive(Clone, PartialEq, Message)]
pub struct TxInput {
    /// Transaction id.
    #[prost(string, tag = "1")]
    pub txid: String,
    /// Channel id ("" for channel-less invocations).
    #[prost(string, tag = "2")]
    pub channel_id: String,
    /// Encoded `protos.ChaincodeInput` (args, decorations, is_init).
    #[prost(bytes = "vec", tag = "3")]
    pub input: Vec<u8>,
    /// The creator's `SerializedIdentity` bytes.
    #[prost(bytes = "vec", tag = "4")]
    pub creator: Vec<u8>,
    /// The proposal's transient map.
    #[prost(btree_map = "string, bytes", tag = "5")]
    pub transient: BTreeMap<String, Vec<u8>>,
    /// The channel header's timestamp.
    #[prost(message, optional, tag = "6")]
    pub timestamp: Option<prost_types::Timestamp>,
    /// SHA-256(nonce ‖ creator ‖ epoch as 8-byte little-endian).
    #[prost(bytes = "vec", tag = "7")]
    pub binding: Vec<u8>,
}

/// Fabric's proposal binding: SHA-256(nonce ‖ creator ‖ epoch as 8-byte little-endian).
pub fn compute_binding(nonce: &[u8], creator: &[u8], epoch: u64) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(nonce);
    hash.update(creator);
    hash.update(epoch.to_le_bytes());
    hash.finalize().to_vec()
}

/// Builds the [`TxInput`] of a TRANSACTION/INIT message from its payload (an encoded
/// `ChaincodeInput`) and optional proposal. Errors name what failed to decode.
pub fn build_tx_input(
    txid: &str,
    channel_id: &str,
    payload: &[u8],
    proposal: Option<&SignedProposal>,
) -> Result<TxInput, String> {
    ChaincodeInput::decode(payload).map_err(|e| format!("malformed ChaincodeInput: {e}"))?;
    let mut input = TxInput {
        txid: txid.to_owned(),
        channel_id: channel_id.to_owned(),
        input: payload.to_vec(),
        ..TxInput::default()
    };
    if let Some(signed) = proposal {
        let proposal = Proposal::decode(signed.proposal_bytes.as_slice())
            .map_err(|e| format!("malformed proposal: {e}"))?;
        let header = Header::decode(proposal.header.as_slice())
            .map_err(|e| format!("malformed proposal header: {e}"))?;
        let channel_header = ChannelHeader::decode(header.channel_header.as_slice())
            .map_err(|e| format!("malformed channel header: {e}"))?;
        let signature_header = SignatureHeader::decode(header.signature_header.as_slice())
            .map_err(|e| format!("malformed signature header: {e}"))?;
        let payload = ChaincodeProposalPayload::decode(proposal.payload.as_slice())
            .map_err(|e| format!("malformed chaincode proposal payload: {e}"))?;
        input.binding = compute_binding(
            &signature_header.nonce,
            &signature_header.creator,
            channel_header.epoch,
        );
        input.creator = signature_header.creator;
        input.transient = payload.transient_map.into_iter().collect();
        input.timestamp = channel_header.timestamp;
    }
    Ok(input)
}
