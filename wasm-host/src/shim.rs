//! A loaded chaincode and the shim side of Fabric's ChaincodeMessage protocol.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use prost::Message;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use wasmtime::{InstancePre, Module, Store, Trap, UpdateDeadline};
use weft_proto::protos::chaincode_message::Type;
use weft_proto::protos::{ChaincodeId, ChaincodeMessage};

use crate::abi::{RUN_EXPORT, build_tx_input};
use crate::engine::WasmEngine;
use crate::error::WasmError;
use crate::host::{Completion, GuestLimiter, HostState, PeerRequest, type_name};

/// Per-transaction budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxLimits {
    /// Fuel (≈ wasm instructions); deterministic. Default 10^10.
    pub fuel: u64,
    /// Wall-clock backstop. Default 30 s (Fabric's `chaincode.executetimeout`).
    pub timeout: Duration,
}

impl Default for TxLimits {
    fn default() -> Self {
        Self {
            fuel: 10_000_000_000,
            timeout: Duration::from_secs(30),
        }
    }
}

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How a running transaction's peer requests leave the runtime.
///
/// `request` receives a ChaincodeMessage (GET_STATE, PUT_STATE, …) already carrying the
/// transaction's `txid` and `channel_id`, and resolves to the peer's reply: RESPONSE or
/// ERROR. Requests of one transaction are strictly sequential.
pub trait ShimLink: Send {
    /// Sends `msg` to the peer and waits for its RESPONSE or ERROR.
    fn request(&mut self, msg: ChaincodeMessage) -> BoxFuture<'_, ChaincodeMessage>;
}

/// A validated, compiled chaincode: a `Module` and its `InstancePre`. Cheap to clone.
#[derive(Clone)]
pub struct WasmChaincode {
    inner: Arc<ChaincodeInner>,
}

struct ChaincodeInner {
    engine: WasmEngine,
    module: Module,
    pre: InstancePre<HostState>,
}

impl fmt::Debug for WasmChaincode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WasmChaincode")
            .field("module", &self.inner.module.name())
            .finish_non_exhaustive()
    }
}

enum ExecError {
    Instantiate(wasmtime::Error),
    Run(wasmtime::Error),
}

type Routes = Arc<Mutex<HashMap<(String, String), mpsc::Sender<ChaincodeMessage>>>>;

fn error_message(txid: &str, channel_id: &str, text: String) -> ChaincodeMessage {
    ChaincodeMessage {
        r#type: Type::Error as i32,
        payload: text.into_bytes(),
        txid: txid.to_owned(),
        channel_id: channel_id.to_owned(),
        ..ChaincodeMessage::default()
    }
}

/// Waits for a message of type `want` during registration (KEEPALIVE is skipped).
async fn expect(
    incoming: &mut mpsc::Receiver<ChaincodeMessage>,
    want: Type,
) -> Result<(), WasmError> {
    loop {
        let msg = incoming.recv().await.ok_or(WasmError::StreamClosed)?;
        match Type::try_from(msg.r#type) {
            Ok(t) if t == want => return Ok(()),
            Ok(Type::Keepalive) => continue,
            Ok(Type::Error) => {
                return Err(WasmError::Protocol(format!(
                    "the peer refused the registration: {}",
                    String::from_utf8_lossy(&msg.payload)
                )));
            }
            _ => {
                return Err(WasmError::Protocol(format!(
                    "expected {}, got {}",
                    want.as_str_name(),
                    type_name(msg.r#type)
                )));
            }
        }
    }
}

/// The [`ShimLink`] of [`WasmChaincode::serve`]: requests go out on the shared stream,
/// replies come back through the transaction's route.
struct ChannelLink {
    outgoing: mpsc::Sender<ChaincodeMessage>,
    replies: mpsc::Receiver<ChaincodeMessage>,
}

impl ShimLink for ChannelLink {
    fn request(&mut self, msg: ChaincodeMessage) -> BoxFuture<'_, ChaincodeMessage> {
        Box::pin(async move {
            let (txid, channel_id) = (msg.txid.clone(), msg.channel_id.clone());
            if self.outgoing.send(msg).await.is_err() {
                return error_message(&txid, &channel_id, "stream terminated".into());
            }
            match self.replies.recv().await {
                Some(reply) => reply,
                None => error_message(&txid, &channel_id, "stream terminated".into()),
            }
        })
    }
}

impl WasmChaincode {
    pub(crate) fn new(engine: WasmEngine, module: Module, pre: InstancePre<HostState>) -> Self {
        Self {
            inner: Arc::new(ChaincodeInner {
                engine,
                module,
                pre,
            }),
        }
    }

    /// The engine this chaincode was loaded by.
    pub fn engine(&self) -> &WasmEngine {
        &self.inner.engine
    }

    /// Runs one TRANSACTION or INIT message on a fresh instance, sending the guest's peer
    /// requests through `link`, and returns the answer for the peer: COMPLETED (payload =
    /// the guest's `Response`, `chaincode_event` = its event) or ERROR (payload =
    /// `chaincode <chaincode_id> failed: <reason>`), with the message's txid/channel_id.
    pub async fn run(
        &self,
        chaincode_id: &str,
        tx: &ChaincodeMessage,
        limits: &TxLimits,
        link: &mut dyn ShimLink,
    ) -> ChaincodeMessage {
        let started = Instant::now();
        let stats = self.inner.engine.stats();
        let (outcome, fuel_used) = self.execute(chaincode_id, tx, limits, link).await;
        stats.fuel_consumed.fetch_add(fuel_used, Ordering::Relaxed);
        match outcome {
            Ok(Completion { response, event }) => {
                stats.completed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    chaincode = chaincode_id,
                    txid = %tx.txid,
                    channel = %tx.channel_id,
                    fuel = fuel_used,
                    elapsed_us = started.elapsed().as_micros() as u64,
                    "wasm transaction completed"
                );
                ChaincodeMessage {
                    r#type: Type::Completed as i32,
                    payload: response,
                    txid: tx.txid.clone(),
                    channel_id: tx.channel_id.clone(),
                    chaincode_event: event,
                    ..ChaincodeMessage::default()
                }
            }
            Err(reason) => {
                stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    chaincode = chaincode_id,
                    txid = %tx.txid,
                    channel = %tx.channel_id,
                    fuel = fuel_used,
                    elapsed_us = started.elapsed().as_micros() as u64,
                    reason = %reason,
                    "wasm transaction failed"
                );
                error_message(
                    &tx.txid,
                    &tx.channel_id,
                    format!("chaincode {chaincode_id} failed: {reason}"),
                )
            }
        }
    }

    async fn execute(
        &self,
        chaincode_id: &str,
        tx: &ChaincodeMessage,
        limits: &TxLimits,
        link: &mut dyn ShimLink,
    ) -> (Result<Completion, String>, u64) {
        let engine = &self.inner.engine;
        if tx.r#type != Type::Transaction as i32 && tx.r#type != Type::Init as i32 {
            return (
                Err(format!("cannot run a {} message", type_name(tx.r#type))),
                0,
            );
        }
        let tx_input =
            match build_tx_input(&tx.txid, &tx.channel_id, &tx.payload, tx.proposal.as_ref()) {
                Ok(input) => input.encode_to_vec(),
                Err(e) => return (Err(e), 0),
            };
        let config = engine.config();
        let (requests, mut request_rx) = mpsc::channel::<PeerRequest>(1);
        let state = HostState {
            limiter: GuestLimiter {
                max_memory: config.max_memory_bytes,
                memory_limit_hit: false,
            },
            chaincode_id: chaincode_id.to_owned(),
            txid: tx.txid.clone(),
            channel_id: tx.channel_id.clone(),
            tx_input,
            signed_proposal: tx
                .proposal
                .as_ref()
                .map(Message::encode_to_vec)
                .unwrap_or_default(),
            requests,
            max_message_bytes: config.max_message_bytes,
            parked: None,
            completed: None,
            complete_called: false,
            failure: None,
            timed_out: false,
            log_lines: 0,
            log_bytes: 0,
            log_capped: false,
        };
        let mut store = Store::new(&engine.inner.engine, state);
        store.limiter(|s| &mut s.limiter);
        if let Err(e) = store.set_fuel(limits.fuel) {
            return (Err(format!("cannot set the fuel budget: {e}")), 0);
        }
        // Yield to tokio on every epoch tick (10 ms) so a long guest never blocks a worker,
        // and interrupt it once the wall-clock budget is spent.
        let deadline = Instant::now() + limits.timeout;
        store.epoch_deadline_callback(move |mut ctx| {
            if Instant::now() >= deadline {
                ctx.data_mut().timed_out = true;
                Ok(UpdateDeadline::Interrupt)
            } else {
                // tokio's yield_now defers the wake-up until the runtime has polled its
                // drivers, so timers (and I/O) make progress even on a busy worker.
                Ok(UpdateDeadline::YieldCustom(
                    1,
                    Box::pin(tokio::task::yield_now()),
                ))
            }
        });
        store.set_epoch_deadline(1);
        engine
            .stats()
            .instantiations
            .fetch_add(1, Ordering::Relaxed);

        let result = {
            let pre = &self.inner.pre;
            let store = &mut store;
            let exec = async move {
                let instance = pre
                    .instantiate_async(&mut *store)
                    .await
                    .map_err(ExecError::Instantiate)?;
                let run = instance
                    .get_typed_func::<(), i32>(&mut *store, RUN_EXPORT)
                    .map_err(ExecError::Instantiate)?;
                run.call_async(&mut *store, ())
                    .await
                    .map_err(ExecError::Run)
            };
            let mut exec = std::pin::pin!(exec);
            let served = async {
                loop {
                    tokio::select! {
                        result = &mut exec => break result,
                        Some((msg, reply)) = request_rx.recv() => {
                            let answer = link.request(msg).await;
                            let _ = reply.send(answer);
                        }
                    }
                }
            };
            tokio::time::timeout(limits.timeout, served).await
        };

        let fuel_used = limits
            .fuel
            .saturating_sub(store.get_fuel().unwrap_or(limits.fuel));
        let state = store.data_mut();
        let outcome = match result {
            Err(_elapsed) => Err("wall-clock timeout".to_owned()),
            Ok(Ok(0)) => match state.completed.take() {
                Some(completion) => Ok(completion),
                None => Err("fabric_run returned 0 without calling complete".to_owned()),
            },
            Ok(Ok(code)) => Err(format!("fabric_run returned {code}")),
            Ok(Err(ExecError::Instantiate(e))) => {
                if state.limiter.memory_limit_hit {
                    Err(format!(
                        "memory limit: the module needs more than {} bytes of memory",
                        config.max_memory_bytes
                    ))
                } else {
                    Err(format!("cannot instantiate the module: {e:#}"))
                }
            }
            Ok(Err(ExecError::Run(e))) => Err(describe(&e, state, config.max_memory_bytes)),
        };
        (outcome, fuel_used)
    }

    /// Serves the chaincode over a ChaincodeMessage stream pair, like a fabric-shim
    /// process on its gRPC stream: REGISTER (payload `ChaincodeID{name: chaincode_id}`),
    /// then REGISTERED and READY from the peer, then every TRANSACTION/INIT runs
    /// concurrently on its own instance via [`WasmChaincode::run`]; the peer's RESPONSE and
    /// ERROR replies are routed by (channel_id, txid). KEEPALIVE is ignored. A TRANSACTION
    /// whose (channel, txid) is already running is answered ERROR "duplicate transaction".
    /// Returns `Ok(())` when `incoming` closes (transactions still running are abandoned).
    pub async fn serve(
        &self,
        chaincode_id: String,
        limits: TxLimits,
        mut incoming: mpsc::Receiver<ChaincodeMessage>,
        outgoing: mpsc::Sender<ChaincodeMessage>,
    ) -> Result<(), WasmError> {
        let register = ChaincodeMessage {
            r#type: Type::Register as i32,
            payload: ChaincodeId {
                name: chaincode_id.clone(),
                ..ChaincodeId::default()
            }
            .encode_to_vec(),
            ..ChaincodeMessage::default()
        };
        outgoing
            .send(register)
            .await
            .map_err(|_| WasmError::StreamClosed)?;
        expect(&mut incoming, Type::Registered).await?;
        expect(&mut incoming, Type::Ready).await?;
        tracing::debug!(chaincode = %chaincode_id, "wasm chaincode registered and ready");

        let routes: Routes = Arc::default();
        let mut tasks = JoinSet::new();
        while let Some(msg) = incoming.recv().await {
            while tasks.try_join_next().is_some() {}
            let key = (msg.channel_id.clone(), msg.txid.clone());
            match Type::try_from(msg.r#type) {
                Ok(Type::Transaction | Type::Init) => {
                    let (reply_tx, replies) = mpsc::channel(4);
                    let duplicate = {
                        let mut routes = routes.lock().unwrap_or_else(PoisonError::into_inner);
                        if routes.contains_key(&key) {
                            true
                        } else {
                            routes.insert(key.clone(), reply_tx);
                            false
                        }
                    };
                    if duplicate {
                        let answer = error_message(
                            &msg.txid,
                            &msg.channel_id,
                            "duplicate transaction".into(),
                        );
                        if outgoing.send(answer).await.is_err() {
                            break;
                        }
                        continue;
                    }
                    let this = self.clone();
                    let id = chaincode_id.clone();
                    let routes = Arc::clone(&routes);
                    let outgoing = outgoing.clone();
                    tasks.spawn(async move {
                        let mut link = ChannelLink {
                            outgoing: outgoing.clone(),
                            replies,
                        };
                        let answer = this.run(&id, &msg, &limits, &mut link).await;
                        routes
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .remove(&key);
                        let _ = outgoing.send(answer).await;
                    });
                }
                Ok(Type::Response | Type::Error) => {
                    let route = routes
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get(&key)
                        .cloned();
                    match route {
                        Some(route) => {
                            if route.try_send(msg).is_err() {
                                tracing::warn!(
                                    channel = %key.0, txid = %key.1,
                                    "dropping an unsolicited reply from the peer"
                                );
                            }
                        }
                        None => tracing::warn!(
                            channel = %key.0, txid = %key.1,
                            "dropping a reply for a transaction that is not running"
                        ),
                    }
                }
                Ok(Type::Keepalive) => {}
                _ => tracing::warn!(
                    kind = %type_name(msg.r#type),
                    "ignoring an unexpected message from the peer"
                ),
            }
        }
        routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        tasks.abort_all();
        Ok(())
    }
}

/// Names the reason of a failed `fabric_run` call.
fn describe(error: &wasmtime::Error, state: &mut HostState, max_memory: usize) -> String {
    if let Some(reason) = state.failure.take() {
        return reason;
    }
    if state.timed_out {
        return "wall-clock timeout".to_owned();
    }
    let base = match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => return "out of fuel".to_owned(),
        Some(Trap::Interrupt) => return "wall-clock timeout".to_owned(),
        Some(Trap::StackOverflow) => return "stack overflow".to_owned(),
        Some(trap) => {
            let text = trap.to_string();
            format!(
                "trap: {}",
                text.strip_prefix("wasm trap: ").unwrap_or(&text)
            )
        }
        None => format!("trap: {error:#}"),
    };
    if state.limiter.memory_limit_hit {
        format!(
            "memory limit: the guest tried to grow its memory beyond {max_memory} bytes, then {base}"
        )
    } else {
        base
    }
}
