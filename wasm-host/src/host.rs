//! The four `fabric.*` host functions and the per-transaction store state.

use prost::Message;
use tokio::sync::{mpsc, oneshot};
use wasmtime::{Caller, Engine, Extern, Linker, Memory, ResourceLimiter};
use weft_proto::protos::chaincode_message::Type;
use weft_proto::protos::{ChaincodeEvent, ChaincodeMessage, Response};

use crate::abi::{
    IMPORT_MODULE, KIND_INVOKE_CHAINCODE, KIND_SIGNED_PROPOSAL, KIND_TX_INPUT, LOG_MAX_BYTES,
    LOG_MAX_LINES, MEMORY_EXPORT, PEER_KINDS, STATUS_OK, STATUS_PEER_ERROR, STATUS_REJECTED,
};
use crate::engine::MAX_TABLE_ELEMENTS;

/// A peer-bound request of a guest and where its reply goes.
pub(crate) type PeerRequest = (ChaincodeMessage, oneshot::Sender<ChaincodeMessage>);

/// Text of the trap raised by any host call after `complete`.
pub(crate) const AFTER_COMPLETE: &str = "called the host after completing the transaction";

/// The guest's final answer, as given to `complete`.
#[derive(Debug)]
pub(crate) struct Completion {
    pub(crate) response: Vec<u8>,
    pub(crate) event: Option<ChaincodeEvent>,
}

/// Memory/table limits of one instance; remembers whether the memory cap was hit.
#[derive(Debug)]
pub(crate) struct GuestLimiter {
    pub(crate) max_memory: usize,
    pub(crate) memory_limit_hit: bool,
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory || maximum.is_some_and(|m| desired > m) {
            self.memory_limit_hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.memory_limit_hit = true;
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }
}

/// Everything a transaction's `Store` carries.
#[derive(Debug)]
pub(crate) struct HostState {
    pub(crate) limiter: GuestLimiter,
    pub(crate) chaincode_id: String,
    pub(crate) txid: String,
    pub(crate) channel_id: String,
    pub(crate) tx_input: Vec<u8>,
    pub(crate) signed_proposal: Vec<u8>,
    pub(crate) requests: mpsc::Sender<PeerRequest>,
    pub(crate) max_message_bytes: usize,
    pub(crate) parked: Option<Vec<u8>>,
    pub(crate) completed: Option<Completion>,
    pub(crate) complete_called: bool,
    /// The reason of a trap the host raised itself (first one wins).
    pub(crate) failure: Option<String>,
    pub(crate) timed_out: bool,
    pub(crate) log_lines: u32,
    pub(crate) log_bytes: usize,
    pub(crate) log_capped: bool,
}

/// Records `reason` as the transaction's failure and returns the trap to raise.
fn fail(state: &mut HostState, reason: String) -> wasmtime::Error {
    let error = wasmtime::Error::msg(reason.clone());
    state.failure.get_or_insert(reason);
    error
}

fn guest_memory(caller: &mut Caller<'_, HostState>) -> wasmtime::Result<Memory> {
    match caller
        .get_export(MEMORY_EXPORT)
        .and_then(Extern::into_memory)
    {
        Some(memory) => Ok(memory),
        None => Err(fail(
            caller.data_mut(),
            "the guest exports no memory".into(),
        )),
    }
}

fn ensure_open(caller: &mut Caller<'_, HostState>) -> wasmtime::Result<()> {
    if caller.data().complete_called {
        return Err(fail(caller.data_mut(), AFTER_COMPLETE.into()));
    }
    Ok(())
}

/// Reads `len` bytes at `ptr` of guest memory; traps when out of bounds or over the cap.
fn read_guest(
    caller: &mut Caller<'_, HostState>,
    memory: &Memory,
    ptr: i32,
    len: i32,
    what: &str,
) -> wasmtime::Result<Vec<u8>> {
    let (ptr, len) = (ptr as u32 as usize, len as u32 as usize);
    let max = caller.data().max_message_bytes;
    if len > max {
        return Err(fail(
            caller.data_mut(),
            format!("{what} of {len} bytes exceeds the limit of {max} bytes"),
        ));
    }
    if len == 0 {
        return Ok(Vec::new());
    }
    let mut buf = vec![0; len];
    if memory.read(&*caller, ptr, &mut buf).is_err() {
        let size = memory.data_size(&*caller);
        return Err(fail(
            caller.data_mut(),
            format!(
                "trap: out of bounds memory access: {what} at {ptr}+{len} is outside the guest's {size}-byte memory"
            ),
        ));
    }
    Ok(buf)
}

fn write_guest(
    caller: &mut Caller<'_, HostState>,
    memory: &Memory,
    ptr: i32,
    bytes: &[u8],
    what: &str,
) -> wasmtime::Result<()> {
    let ptr = ptr as u32 as usize;
    if memory.write(&mut *caller, ptr, bytes).is_err() {
        let size = memory.data_size(&*caller);
        return Err(fail(
            caller.data_mut(),
            format!(
                "trap: out of bounds memory access: {what} at {ptr}+{} is outside the guest's {size}-byte memory",
                bytes.len()
            ),
        ));
    }
    Ok(())
}

/// Maps the peer's reply to a `call` status and bytes.
fn map_reply(kind: i32, reply: ChaincodeMessage) -> (i64, Vec<u8>) {
    match Type::try_from(reply.r#type) {
        Ok(Type::Response) if kind == KIND_INVOKE_CHAINCODE => {
            // Like the Go shim: the RESPONSE carries the callee's final ChaincodeMessage.
            match ChaincodeMessage::decode(reply.payload.as_slice()) {
                Ok(inner) if inner.r#type == Type::Completed as i32 => (STATUS_OK, inner.payload),
                Ok(inner) if inner.r#type == Type::Error as i32 => {
                    (STATUS_PEER_ERROR, inner.payload)
                }
                Ok(inner) => (
                    STATUS_PEER_ERROR,
                    format!(
                        "unexpected INVOKE_CHAINCODE answer of type {}",
                        type_name(inner.r#type)
                    )
                    .into_bytes(),
                ),
                Err(e) => (
                    STATUS_PEER_ERROR,
                    format!("malformed INVOKE_CHAINCODE answer: {e}").into_bytes(),
                ),
            }
        }
        Ok(Type::Response) => (STATUS_OK, reply.payload),
        Ok(Type::Error) => (STATUS_PEER_ERROR, reply.payload),
        _ => (
            STATUS_PEER_ERROR,
            format!("unexpected reply of type {}", type_name(reply.r#type)).into_bytes(),
        ),
    }
}

/// Name of a ChaincodeMessage type number, for messages.
pub(crate) fn type_name(t: i32) -> String {
    Type::try_from(t).map_or_else(|_| format!("#{t}"), |t| t.as_str_name().to_owned())
}

async fn host_call(
    caller: &mut Caller<'_, HostState>,
    (kind, req_ptr, req_len, out_ptr, out_cap): (i32, i32, i32, i32, i32),
) -> wasmtime::Result<i64> {
    ensure_open(caller)?;
    let memory = guest_memory(caller)?;
    let req = read_guest(caller, &memory, req_ptr, req_len, "call request")?;
    // The output buffer must lie inside memory even if the answer ends up parked.
    let (out_start, cap) = (out_ptr as u32 as usize, out_cap as u32 as usize);
    let size = memory.data_size(&*caller);
    if out_start.checked_add(cap).is_none_or(|end| end > size) {
        return Err(fail(
            caller.data_mut(),
            format!(
                "trap: out of bounds memory access: call output buffer at {out_start}+{cap} is outside the guest's {size}-byte memory"
            ),
        ));
    }

    let (status, bytes) = match kind {
        KIND_TX_INPUT => (STATUS_OK, caller.data().tx_input.clone()),
        KIND_SIGNED_PROPOSAL => (STATUS_OK, caller.data().signed_proposal.clone()),
        k if PEER_KINDS.contains(&k) => {
            let state = caller.data();
            let msg = ChaincodeMessage {
                r#type: k,
                payload: req,
                txid: state.txid.clone(),
                channel_id: state.channel_id.clone(),
                ..ChaincodeMessage::default()
            };
            let requests = state.requests.clone();
            let (reply_tx, reply_rx) = oneshot::channel();
            let reply = match requests.send((msg, reply_tx)).await {
                Ok(()) => reply_rx.await.ok(),
                Err(_) => None,
            };
            match reply {
                Some(reply) => map_reply(k, reply),
                None => (STATUS_PEER_ERROR, b"stream terminated".to_vec()),
            }
        }
        other => (
            STATUS_REJECTED,
            format!("call kind {other} is not allowed").into_bytes(),
        ),
    };

    let Ok(len) = i32::try_from(bytes.len()) else {
        return Err(fail(
            caller.data_mut(),
            format!("answer of {} bytes is too large for the guest", bytes.len()),
        ));
    };
    if bytes.len() <= cap {
        write_guest(caller, &memory, out_ptr, &bytes, "call output buffer")?;
        caller.data_mut().parked = None;
    } else {
        caller.data_mut().parked = Some(bytes);
    }
    Ok((status << 32) | i64::from(len))
}

fn host_take(mut caller: Caller<'_, HostState>, dst: i32) -> wasmtime::Result<i32> {
    ensure_open(&mut caller)?;
    let Some(bytes) = caller.data_mut().parked.take() else {
        return Ok(-1);
    };
    let memory = guest_memory(&mut caller)?;
    write_guest(&mut caller, &memory, dst, &bytes, "take destination")?;
    // Parked answers were checked to fit in an i32 when parked.
    Ok(i32::try_from(bytes.len()).unwrap_or(i32::MAX))
}

fn host_complete(
    mut caller: Caller<'_, HostState>,
    (resp_ptr, resp_len, event_ptr, event_len): (i32, i32, i32, i32),
) -> wasmtime::Result<i32> {
    ensure_open(&mut caller)?;
    caller.data_mut().complete_called = true;
    let memory = guest_memory(&mut caller)?;
    let response = read_guest(&mut caller, &memory, resp_ptr, resp_len, "response")?;
    let event = if event_len == 0 {
        None
    } else {
        Some(read_guest(
            &mut caller,
            &memory,
            event_ptr,
            event_len,
            "event",
        )?)
    };
    if let Err(e) = Response::decode(response.as_slice()) {
        return Err(fail(
            caller.data_mut(),
            format!("malformed response from the guest: not a peer.Response ({e})"),
        ));
    }
    let event = match event
        .map(|b| ChaincodeEvent::decode(b.as_slice()))
        .transpose()
    {
        Ok(event) => event,
        Err(e) => {
            return Err(fail(
                caller.data_mut(),
                format!(
                    "malformed response from the guest: the event is not a peer.ChaincodeEvent ({e})"
                ),
            ));
        }
    };
    caller.data_mut().completed = Some(Completion { response, event });
    Ok(0)
}

fn host_log(
    mut caller: Caller<'_, HostState>,
    (level, ptr, len): (i32, i32, i32),
) -> wasmtime::Result<()> {
    let len_bytes = len as u32 as usize;
    let state = caller.data_mut();
    if state.log_lines >= LOG_MAX_LINES || state.log_bytes.saturating_add(len_bytes) > LOG_MAX_BYTES
    {
        if !state.log_capped {
            state.log_capped = true;
            tracing::debug!(
                chaincode = %state.chaincode_id,
                txid = %state.txid,
                "guest log cap reached; further lines of this transaction are dropped"
            );
        }
        return Ok(());
    }
    let memory = guest_memory(&mut caller)?;
    let text = read_guest(&mut caller, &memory, ptr, len, "log text")?;
    let state = caller.data_mut();
    state.log_lines += 1;
    state.log_bytes += text.len();
    tracing::debug!(
        target: "weft_wasm_guest",
        chaincode = %state.chaincode_id,
        txid = %state.txid,
        level,
        "{}",
        String::from_utf8_lossy(&text)
    );
    Ok(())
}

/// Builds the engine-wide linker with the four host functions.
pub(crate) fn linker(engine: &Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    linker.func_wrap_async(
        IMPORT_MODULE,
        "call",
        |mut caller: Caller<'_, HostState>, args: (i32, i32, i32, i32, i32)| {
            Box::new(async move { host_call(&mut caller, args).await })
        },
    )?;
    linker.func_wrap(IMPORT_MODULE, "take", host_take)?;
    linker.func_wrap(
        IMPORT_MODULE,
        "complete",
        |caller: Caller<'_, HostState>, rp: i32, rl: i32, ep: i32, el: i32| {
            host_complete(caller, (rp, rl, ep, el))
        },
    )?;
    linker.func_wrap(
        IMPORT_MODULE,
        "log",
        |caller: Caller<'_, HostState>, level: i32, ptr: i32, len: i32| {
            host_log(caller, (level, ptr, len))
        },
    )?;
    Ok(linker)
}
