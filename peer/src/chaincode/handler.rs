//! The chaincode [`Handler`]: one state machine and one message loop for every chaincode,
//! whatever launched it (a WASM sandbox, a `fabric-shim` process registering over gRPC, a
//! chaincode server the peer dialed).
//!
//! States: *created* (only REGISTER is legal) → REGISTERED sent → *established* → READY
//! sent → *ready*. In ready, COMPLETED and ERROR end a transaction the peer sent; the
//! state requests (GET_STATE … PURGE_PRIVATE_DATA, GET_STATE_MULTIPLE) are served each in
//! its own task, one at a time per (channel, txid), answered with RESPONSE or ERROR;
//! KEEPALIVE is ignored; anything else ends the stream, as Fabric's handler does.
//! Executions are correlated by (channel, txid), so many transactions run at once on one
//! stream.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use futures::{Stream, StreamExt};
use prost::Message;
use tokio::sync::{mpsc, oneshot, watch};
use weft_proto::protos::chaincode_message::Type;
use weft_proto::protos::{
    ChaincodeId, ChaincodeMessage, ChaincodeSpec, DelState, GetHistoryForKey, GetQueryResult,
    GetState, GetStateByRange, GetStateMetadata, GetStateMultiple, GetStateMultipleResult,
    PutState, PutStateMetadata, QueryMetadata, QueryResponse, QueryResponseMetadata,
    QueryResultBytes, QueryStateClose, QueryStateNext, StateMetadata, StateMetadataResult,
};
use weft_proto::queryresult::Kv;

use super::collections;
use super::context::{self, SharedSimulator, TxContext, TxParams, share};
use super::support::ChaincodeSupport;
use crate::acl::resources;
use crate::ledger::{
    KeyMetadata, Pagination, QueryBatch, SimulationError, SimulatorConfig, TxSimulator,
};

/// Fabric's error when a chaincode does not answer within `chaincode.executetimeout`.
pub const ERROR_EXECUTION_TIMEOUT: &str = "timeout expired while executing transaction";
/// Fabric's error when the chaincode's stream ends during an execution.
pub const ERROR_STREAM_TERMINATED: &str = "chaincode stream terminated";

/// Results per QueryResponse of a non-paginated query (Fabric's `maxResultLimit`).
const MAX_RESULT_LIMIT: usize = 100;

/// Application capabilities that enable key-level endorsement (state metadata).
const KEY_LEVEL_ENDORSEMENT_CAPABILITIES: [&str; 5] = ["V1_3", "V1_4_2", "V1_4_3", "V2_0", "V2_5"];

/// Why a stream ended or an execution failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// The chaincode broke the protocol; the stream is ended.
    #[error("{0}")]
    Protocol(String),
    /// The registration was refused.
    #[error("{0}")]
    Registration(String),
    /// The transaction context for this (channel, txid) already exists.
    #[error("txid: {txid}({channel}) exists")]
    DuplicateTx {
        /// The transaction id.
        txid: String,
        /// The channel.
        channel: String,
    },
    /// No answer within the execute timeout.
    #[error("{ERROR_EXECUTION_TIMEOUT}")]
    Timeout,
    /// The stream ended before the chaincode answered.
    #[error("{ERROR_STREAM_TERMINATED}")]
    StreamTerminated,
}

/// The peer's side of one chaincode connection.
pub struct Handler {
    ccid: OnceLock<String>,
    sender: mpsc::Sender<ChaincodeMessage>,
    support: Weak<ChaincodeSupport>,
    contexts: Mutex<HashMap<(String, String), Arc<TxContext>>>,
    /// (channel, txid) pairs with a request being served.
    active: Mutex<HashSet<(String, String)>>,
    done: watch::Sender<bool>,
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handler")
            .field("ccid", &self.ccid.get())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn type_name(t: i32) -> String {
    Type::try_from(t).map_or_else(|_| t.to_string(), |t| t.as_str_name().to_owned())
}

/// Serves one chaincode stream until it ends: registration, then the ready loop. The
/// handler deregisters when the stream ends; executions waiting on it fail with
/// [`ERROR_STREAM_TERMINATED`].
pub async fn serve<S>(
    support: Arc<ChaincodeSupport>,
    mut incoming: S,
    outgoing: mpsc::Sender<ChaincodeMessage>,
) -> Result<(), HandlerError>
where
    S: Stream<Item = Result<ChaincodeMessage, tonic::Status>> + Unpin + Send,
{
    let (done, _) = watch::channel(false);
    let handler = Arc::new(Handler {
        ccid: OnceLock::new(),
        sender: outgoing,
        support: Arc::downgrade(&support),
        contexts: Mutex::default(),
        active: Mutex::default(),
        done,
    });
    let result = handler.clone().run(&support, &mut incoming).await;
    handler.done.send_replace(true);
    if let Some(ccid) = handler.ccid.get() {
        support.registry().deregister(ccid, &handler);
        match &result {
            Ok(()) => tracing::info!(chaincode = %ccid, "chaincode stream ended"),
            Err(e) => tracing::warn!(chaincode = %ccid, error = %e, "chaincode stream ended"),
        }
    }
    result
}

impl Handler {
    /// The chaincode id it registered with (empty before REGISTER).
    pub fn ccid(&self) -> &str {
        self.ccid.get().map_or("", String::as_str)
    }

    async fn run<S>(
        self: Arc<Self>,
        support: &Arc<ChaincodeSupport>,
        incoming: &mut S,
    ) -> Result<(), HandlerError>
    where
        S: Stream<Item = Result<ChaincodeMessage, tonic::Status>> + Unpin + Send,
    {
        // Created: wait for REGISTER.
        loop {
            let msg = match incoming.next().await {
                None => return Ok(()),
                Some(Err(status)) => {
                    return Err(HandlerError::Protocol(format!(
                        "receive from chaincode support stream failed: {}",
                        status.message()
                    )));
                }
                Some(Ok(msg)) => msg,
            };
            match Type::try_from(msg.r#type) {
                Ok(Type::Keepalive) => continue,
                Ok(Type::Register) => match self.register(support, &msg).await {
                    Ok(()) => break,
                    Err(HandlerError::StreamTerminated) => {
                        return Err(HandlerError::StreamTerminated);
                    }
                    // As Fabric: a refused registration is logged and the stream stays
                    // in created state (the chaincode may register again).
                    Err(refused) => {
                        tracing::warn!(error = %refused, "chaincode registration refused");
                    }
                },
                _ => {
                    return Err(HandlerError::Protocol(format!(
                        "[{}] Fabric side handler cannot handle message ({}) while in created state",
                        msg.txid,
                        type_name(msg.r#type)
                    )));
                }
            }
        }
        // Ready.
        while let Some(item) = incoming.next().await {
            let msg = item.map_err(|status| {
                HandlerError::Protocol(format!(
                    "receive from chaincode support stream failed: {}",
                    status.message()
                ))
            })?;
            match Type::try_from(msg.r#type) {
                Ok(Type::Keepalive) => {}
                Ok(Type::Completed | Type::Error) => self.notify(msg),
                Ok(
                    Type::GetState
                    | Type::PutState
                    | Type::DelState
                    | Type::InvokeChaincode
                    | Type::GetStateByRange
                    | Type::GetQueryResult
                    | Type::QueryStateNext
                    | Type::QueryStateClose
                    | Type::GetHistoryForKey
                    | Type::GetStateMetadata
                    | Type::PutStateMetadata
                    | Type::GetPrivateDataHash
                    | Type::PurgePrivateData
                    | Type::GetStateMultiple,
                ) => {
                    let handler = self.clone();
                    tokio::spawn(async move { handler.handle_request(msg).await });
                }
                _ => {
                    return Err(HandlerError::Protocol(format!(
                        "[{}] Fabric side handler cannot handle message ({}) while in ready state",
                        msg.txid,
                        type_name(msg.r#type)
                    )));
                }
            }
        }
        Ok(())
    }

    async fn register(
        self: &Arc<Self>,
        support: &Arc<ChaincodeSupport>,
        msg: &ChaincodeMessage,
    ) -> Result<(), HandlerError> {
        let id = ChaincodeId::decode(msg.payload.as_slice()).map_err(|e| {
            HandlerError::Registration(format!("could not unmarshal registration info: {e}"))
        })?;
        if id.name.is_empty() {
            return Err(HandlerError::Registration(
                "error in handling register chaincode, chaincodeID name is empty".to_owned(),
            ));
        }
        let registry = support.registry();
        if let Err(reason) = registry.register(&id.name, self.clone()) {
            registry.failed(&id.name, reason.clone());
            return Err(HandlerError::Registration(reason));
        }
        let _ = self.ccid.set(id.name.clone());
        for r#type in [Type::Registered, Type::Ready] {
            let sent = self
                .sender
                .send(ChaincodeMessage {
                    r#type: r#type as i32,
                    ..Default::default()
                })
                .await;
            if sent.is_err() {
                registry.failed(&id.name, ERROR_STREAM_TERMINATED.to_owned());
                return Err(HandlerError::StreamTerminated);
            }
        }
        tracing::info!(chaincode = %id.name, "chaincode registered");
        registry.ready(&id.name);
        Ok(())
    }

    fn notify(&self, msg: ChaincodeMessage) {
        let key = (msg.channel_id.clone(), msg.txid.clone());
        let context = lock(&self.contexts).get(&key).cloned();
        match context {
            Some(context) => context.notify(msg),
            None => tracing::debug!(
                txid = %msg.txid,
                channel = %msg.channel_id,
                "completion for a transaction that is not executing"
            ),
        }
    }

    /// Sends `msg` (TRANSACTION or INIT) for `params` and waits for the chaincode's
    /// COMPLETED or ERROR, at most `timeout`. State requests of the transaction go to
    /// `params.simulator` under `namespace`.
    pub async fn execute(
        &self,
        params: TxParams,
        namespace: &str,
        msg: ChaincodeMessage,
        timeout: Duration,
    ) -> Result<ChaincodeMessage, HandlerError> {
        let key = (msg.channel_id.clone(), msg.txid.clone());
        let (tx, rx) = oneshot::channel();
        let is_init = msg.r#type == Type::Init as i32;
        {
            let mut contexts = lock(&self.contexts);
            if contexts.contains_key(&key) {
                return Err(HandlerError::DuplicateTx {
                    txid: key.1,
                    channel: key.0,
                });
            }
            let context = TxContext::new(params, namespace.to_owned(), is_init, tx);
            contexts.insert(key.clone(), Arc::new(context));
        }
        let result = self.wait_for_completion(msg, rx, timeout).await;
        lock(&self.contexts).remove(&key);
        result
    }

    async fn wait_for_completion(
        &self,
        msg: ChaincodeMessage,
        rx: oneshot::Receiver<ChaincodeMessage>,
        timeout: Duration,
    ) -> Result<ChaincodeMessage, HandlerError> {
        let mut done = self.done.subscribe();
        if *done.borrow() || self.sender.send(msg).await.is_err() {
            return Err(HandlerError::StreamTerminated);
        }
        tokio::select! {
            answer = rx => answer.map_err(|_| HandlerError::StreamTerminated),
            () = tokio::time::sleep(timeout) => Err(HandlerError::Timeout),
            _ = done.wait_for(|d| *d) => Err(HandlerError::StreamTerminated),
        }
    }

    async fn handle_request(self: Arc<Self>, msg: ChaincodeMessage) {
        let key = (msg.channel_id.clone(), msg.txid.clone());
        if !lock(&self.active).insert(key.clone()) {
            tracing::error!(
                chaincode = %self.ccid(),
                txid = %msg.txid,
                channel = %msg.channel_id,
                "another request is pending for this transaction; dropping this one"
            );
            return;
        }
        let started = std::time::Instant::now();
        let kind = type_name(msg.r#type);
        let support = self.support.upgrade();
        let metrics = support.as_deref().and_then(ChaincodeSupport::metrics);
        if let Some(m) = metrics {
            m.shim_requests_received
                .with_label_values(&[kind.as_str(), msg.channel_id.as_str(), self.ccid()])
                .inc();
        }
        let context = lock(&self.contexts).get(&key).cloned();
        let result = match context {
            None => Err(if msg.r#type == Type::InvokeChaincode as i32 {
                "could not get valid transaction".to_owned()
            } else {
                "no ledger context".to_owned()
            }),
            Some(context) => self.dispatch(&msg, &context).await,
        };
        let reply = match result {
            Ok(payload) => ChaincodeMessage {
                r#type: Type::Response as i32,
                payload,
                txid: msg.txid.clone(),
                channel_id: msg.channel_id.clone(),
                ..Default::default()
            },
            Err(e) => {
                let text = format!(
                    "{} failed: transaction ID: {}: {e}",
                    type_name(msg.r#type),
                    msg.txid
                );
                tracing::debug!(chaincode = %self.ccid(), error = %text, "chaincode request failed");
                ChaincodeMessage {
                    r#type: Type::Error as i32,
                    payload: text.into_bytes(),
                    txid: msg.txid.clone(),
                    channel_id: msg.channel_id.clone(),
                    ..Default::default()
                }
            }
        };
        if let Some(m) = metrics {
            let success = if reply.r#type == Type::Error as i32 {
                "false"
            } else {
                "true"
            };
            let labels = [kind.as_str(), msg.channel_id.as_str(), self.ccid(), success];
            m.shim_requests_completed.with_label_values(&labels).inc();
            m.shim_request_duration
                .with_label_values(&labels)
                .observe(started.elapsed().as_secs_f64());
        }
        lock(&self.active).remove(&key);
        let _ = self.sender.send(reply).await;
    }

    async fn dispatch(
        &self,
        msg: &ChaincodeMessage,
        context: &Arc<TxContext>,
    ) -> Result<Vec<u8>, String> {
        let payload = msg.payload.as_slice();
        let support = self.support.upgrade().ok_or("the peer is shutting down")?;
        let limit = support.config().total_query_limit;
        match Type::try_from(msg.r#type) {
            Ok(Type::GetState) => {
                let req = decode::<GetState>(payload)?;
                if req.collection.is_empty() {
                    return with_simulator(context, |sim| {
                        sim.get_state(&context.namespace, &req.key)
                    })
                    .map(Option::unwrap_or_default);
                }
                check_private(context, &req.collection, Some(Access::Read))?;
                with_simulator(context, |sim| {
                    sim.get_private_data(&context.namespace, &req.collection, &req.key)
                })
                .map(Option::unwrap_or_default)
            }
            Ok(Type::GetStateMultiple) => {
                let req = decode::<GetStateMultiple>(payload)?;
                let values = if req.collection.is_empty() {
                    with_simulator(context, |sim| {
                        sim.get_state_multiple(&context.namespace, &req.keys)
                    })?
                } else {
                    check_private(context, &req.collection, Some(Access::Read))?;
                    with_simulator(context, |sim| {
                        req.keys
                            .iter()
                            .map(|key| {
                                sim.get_private_data(&context.namespace, &req.collection, key)
                            })
                            .collect::<Result<Vec<_>, _>>()
                    })?
                };
                Ok(GetStateMultipleResult {
                    values: values.into_iter().map(Option::unwrap_or_default).collect(),
                }
                .encode_to_vec())
            }
            Ok(Type::PutState) => {
                let req = decode::<PutState>(payload)?;
                if req.collection.is_empty() {
                    with_simulator(context, |sim| {
                        sim.set_state(&context.namespace, &req.key, req.value)
                    })?;
                } else {
                    check_private(context, &req.collection, Some(Access::Write))?;
                    with_simulator(context, |sim| {
                        sim.set_private_data(
                            &context.namespace,
                            &req.collection,
                            &req.key,
                            req.value,
                        )
                    })?;
                }
                Ok(Vec::new())
            }
            Ok(Type::DelState) => {
                let req = decode::<DelState>(payload)?;
                if req.collection.is_empty() {
                    with_simulator(context, |sim| {
                        sim.delete_state(&context.namespace, &req.key)
                    })?;
                } else {
                    check_private(context, &req.collection, Some(Access::Write))?;
                    with_simulator(context, |sim| {
                        sim.delete_private_data(&context.namespace, &req.collection, &req.key)
                    })?;
                }
                Ok(Vec::new())
            }
            Ok(Type::GetStateMetadata) => {
                check_capability(context, &KEY_LEVEL_ENDORSEMENT_CAPABILITIES).map_err(|()| {
                    "key level endorsement is not enabled, channel application capability of V1_3 or later is required"
                        .to_owned()
                })?;
                let req = decode::<GetStateMetadata>(payload)?;
                let metadata = if req.collection.is_empty() {
                    with_simulator(context, |sim| {
                        sim.get_state_metadata(&context.namespace, &req.key)
                    })?
                } else {
                    check_private(context, &req.collection, Some(Access::Read))?;
                    with_simulator(context, |sim| {
                        sim.get_private_data_metadata(&context.namespace, &req.collection, &req.key)
                    })?
                };
                Ok(StateMetadataResult {
                    entries: metadata
                        .into_iter()
                        .map(|(metakey, value)| StateMetadata { metakey, value })
                        .collect(),
                }
                .encode_to_vec())
            }
            Ok(Type::PutStateMetadata) => {
                check_capability(context, &KEY_LEVEL_ENDORSEMENT_CAPABILITIES).map_err(|()| {
                    "key level endorsement is not enabled, channel application capability of V1_3 or later is required"
                        .to_owned()
                })?;
                let req = decode::<PutStateMetadata>(payload)?;
                let entry = req.metadata.unwrap_or_default();
                let metadata = KeyMetadata::from([(entry.metakey, entry.value)]);
                if req.collection.is_empty() {
                    with_simulator(context, |sim| {
                        sim.set_state_metadata(&context.namespace, &req.key, metadata)
                    })?;
                } else {
                    check_private(context, &req.collection, Some(Access::Write))?;
                    with_simulator(context, |sim| {
                        sim.set_private_data_metadata(
                            &context.namespace,
                            &req.collection,
                            &req.key,
                            metadata,
                        )
                    })?;
                }
                Ok(Vec::new())
            }
            Ok(Type::GetPrivateDataHash) => {
                let req = decode::<GetState>(payload)?;
                check_private(context, &req.collection, None)?;
                with_simulator(context, |sim| {
                    sim.get_private_data_hash(&context.namespace, &req.collection, &req.key)
                })
                .map(Option::unwrap_or_default)
            }
            Ok(Type::PurgePrivateData) => {
                check_capability(context, &["V2_5"]).map_err(|()| {
                    "purge private data is not enabled, channel application capability of V2_5 or later is required"
                        .to_owned()
                })?;
                let req = decode::<DelState>(payload)?;
                if req.collection.is_empty() {
                    return Err("only applicable for private data".into());
                }
                check_private(context, &req.collection, Some(Access::Write))?;
                with_simulator(context, |sim| {
                    sim.purge_private_data(&context.namespace, &req.collection, &req.key)
                })?;
                Ok(Vec::new())
            }
            Ok(Type::GetStateByRange) => {
                let req = decode::<GetStateByRange>(payload)?;
                let pagination = if req.metadata.is_empty() {
                    None
                } else {
                    let metadata = decode::<QueryMetadata>(&req.metadata)?;
                    Some(Pagination {
                        page_size: metadata.page_size,
                        bookmark: metadata.bookmark,
                    })
                };
                if !req.collection.is_empty() {
                    check_private(context, &req.collection, Some(Access::Read))?;
                }
                with_simulator(context, |sim| {
                    let id = if req.collection.is_empty() {
                        sim.open_range(
                            &context.namespace,
                            &req.start_key,
                            &req.end_key,
                            pagination,
                        )?
                    } else {
                        sim.open_private_range(
                            &context.namespace,
                            &req.collection,
                            &req.start_key,
                            &req.end_key,
                        )?
                    };
                    let batch = sim.next_batch(&id, MAX_RESULT_LIMIT)?;
                    Ok::<_, SimulationError>(range_response(&context.namespace, id, batch))
                })
            }
            Ok(Type::QueryStateNext) => {
                let req = decode::<QueryStateNext>(payload)?;
                if let Some(response) = next_history_batch(context, &req.id) {
                    return Ok(response);
                }
                with_simulator(context, |sim| {
                    let batch = sim.next_batch(&req.id, MAX_RESULT_LIMIT)?;
                    Ok::<_, SimulationError>(range_response(
                        &context.namespace,
                        req.id.clone(),
                        batch,
                    ))
                })
            }
            Ok(Type::QueryStateClose) => {
                let req = decode::<QueryStateClose>(payload)?;
                if context.histories().remove(&req.id).is_none() {
                    with_simulator(context, |sim| {
                        sim.close_query(&req.id);
                        Ok::<_, SimulationError>(())
                    })?;
                }
                Ok(QueryResponse {
                    has_more: false,
                    id: req.id,
                    ..Default::default()
                }
                .encode_to_vec())
            }
            Ok(Type::GetQueryResult) => {
                let req = decode::<GetQueryResult>(payload)?;
                let metadata = if req.metadata.is_empty() {
                    None
                } else {
                    Some(decode::<QueryMetadata>(&req.metadata)?)
                };
                if !req.collection.is_empty() {
                    check_private(context, &req.collection, Some(Access::Read))?;
                    return Err("ExecuteQuery not supported for leveldb".into());
                }
                let paginated = metadata
                    .as_ref()
                    .is_some_and(|m| m.page_size != 0 || !m.bookmark.is_empty());
                if paginated {
                    with_simulator(context, TxSimulator::begin_paginated_query)?;
                    return Err("ExecuteQueryWithMetadata not supported for leveldb".into());
                }
                Err("ExecuteQuery not supported for leveldb".into())
            }
            Ok(Type::GetHistoryForKey) => {
                let req = decode::<GetHistoryForKey>(payload)?;
                let history = context
                    .params
                    .channel
                    .ledger()
                    .history(&context.namespace, &req.key)
                    .map_err(|e| e.to_string())?;
                let limit = usize::try_from(limit).unwrap_or(usize::MAX);
                let entries = history
                    .iter()
                    .take(limit)
                    .map(|entry| entry.to_key_modification().encode_to_vec())
                    .collect();
                let id = next_query_id();
                context.histories().insert(id.clone(), entries);
                next_history_batch(context, &id).ok_or_else(|| "query iterator not found".into())
            }
            Ok(Type::InvokeChaincode) => {
                let spec = decode::<ChaincodeSpec>(payload)?;
                self.invoke_chaincode(&support, context, spec).await
            }
            _ => Err(format!("unexpected message type {}", type_name(msg.r#type))),
        }
    }

    /// INVOKE_CHAINCODE: the callee runs in the caller's simulator (same channel), or in
    /// a fresh simulator whose writes are dropped (another channel: read-only). The
    /// RESPONSE carries the callee's final message.
    async fn invoke_chaincode(
        &self,
        support: &Arc<ChaincodeSupport>,
        context: &Arc<TxContext>,
        spec: ChaincodeSpec,
    ) -> Result<Vec<u8>, String> {
        let target = spec.chaincode_id.map(|id| id.name).unwrap_or_default();
        let (name_version, channel_id) = match target.split_once('/') {
            Some((name, channel)) => (name, channel),
            None => (target.as_str(), ""),
        };
        let name = name_version
            .split_once(':')
            .map_or(name_version, |(n, _)| n);
        let caller = &context.params;
        let channel = if channel_id.is_empty() || channel_id == caller.channel_id() {
            caller.channel.clone()
        } else {
            support
                .channels()
                .get(channel_id)
                .ok_or_else(|| format!("failed to find ledger for channel: {channel_id}"))?
        };
        if crate::scc::is_system_chaincode(name) {
            return Err(format!(
                "execute failed: system chaincode {name} cannot be invoked from a chaincode on this peer"
            ));
        }
        let config = channel.config();
        support
            .acl()
            .check(
                resources::PEER_CHAINCODE_TO_CHAINCODE,
                Some(&config),
                &caller.signed_data(),
            )
            .map_err(|e| e.to_string())?;
        let simulator: SharedSimulator = if Arc::ptr_eq(&channel, &caller.channel) {
            caller.simulator.clone()
        } else {
            let limits = SimulatorConfig {
                total_query_limit: usize::try_from(support.config().total_query_limit)
                    .unwrap_or(usize::MAX),
            };
            let simulator = channel
                .ledger()
                .new_tx_simulator_with(&caller.txid, limits)
                .map_err(|e| e.to_string())?;
            share(simulator)
        };
        let params = TxParams {
            channel,
            txid: caller.txid.clone(),
            signed_proposal: caller.signed_proposal.clone(),
            creator: caller.creator.clone(),
            simulator,
        };
        let input = spec.input.unwrap_or_default();
        let answer = support
            .invoke(&params, name, input)
            .await
            .map_err(|e| format!("execute failed: {e}"))?;
        Ok(answer.encode_to_vec())
    }
}

static QUERY_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A fresh iterator id for queries the handler serves itself.
fn next_query_id() -> String {
    let n = QUERY_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("history-{n}")
}

fn decode<M: Message + Default>(bytes: &[u8]) -> Result<M, String> {
    M::decode(bytes).map_err(|e| format!("unmarshal failed: {e}"))
}

fn with_simulator<T, E: std::fmt::Display>(
    context: &TxContext,
    f: impl FnOnce(&mut TxSimulator) -> Result<T, E>,
) -> Result<T, String> {
    context::with_simulator(&context.params.simulator, f)
}

fn check_capability(context: &TxContext, any_of: &[&str]) -> Result<(), ()> {
    let config = context.params.channel.config();
    let enabled = config
        .application()
        .is_some_and(|app| any_of.iter().any(|c| app.capabilities.contains(c)));
    if enabled { Ok(()) } else { Err(()) }
}

/// Private data: refused inside INIT as Fabric does, otherwise not available yet.
/// The access a private data operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// Fabric's checks before a private data operation: none in `Init`, and (unless `access`
/// is `None`, as for `GetPrivateDataHash`) the creator's permission on the collection
/// (`errorIfCreatorHasNoReadPermission` / `…WritePermission`).
fn check_private(
    context: &TxContext,
    collection: &str,
    access: Option<Access>,
) -> Result<(), String> {
    if context.is_init {
        return Err("private data APIs are not allowed in chaincode Init()".into());
    }
    let Some(access) = access else {
        return Ok(());
    };
    let config = context.params.channel.config();
    let resolved = with_simulator(context, |sim| {
        Ok::<_, String>(collections::resolve(
            sim.snapshot(),
            &config,
            &context.namespace,
            collection,
        ))
    })?
    .map_err(|_| {
        format!(
            "collection {}/{}/{collection} could not be found",
            context.params.channel_id(),
            context.namespace
        )
    })?;
    let (read, write) = collections::permissions(&config, &resolved, &context.params.creator);
    match access {
        Access::Read if !read => Err(format!(
            "tx creator does not have read access permission on privatedata in \
             chaincodeName:{} collectionName: {collection}",
            context.namespace
        )),
        Access::Write if !write => Err(format!(
            "tx creator does not have write access permission on privatedata in \
             chaincodeName:{} collectionName: {collection}",
            context.namespace
        )),
        _ => Ok(()),
    }
}

/// The QueryResponse of a range query batch: `queryresult.KV`s of `namespace`.
fn range_response(namespace: &str, id: String, batch: QueryBatch) -> Vec<u8> {
    let results = batch
        .results
        .into_iter()
        .map(|(key, value)| QueryResultBytes {
            result_bytes: Kv {
                namespace: namespace.to_owned(),
                key,
                value,
            }
            .encode_to_vec(),
        })
        .collect();
    let metadata = batch.metadata.map_or_else(Vec::new, |page| {
        QueryResponseMetadata {
            fetched_records_count: page.fetched_records_count,
            bookmark: page.bookmark,
        }
        .encode_to_vec()
    });
    QueryResponse {
        results,
        has_more: batch.has_more,
        id,
        metadata,
    }
    .encode_to_vec()
}

/// The next batch (at most 100) of history query `id`, or `None` if it is not a history
/// query of this transaction. A finished query is forgotten.
fn next_history_batch(context: &TxContext, id: &str) -> Option<Vec<u8>> {
    let mut histories = context.histories();
    let entries = histories.get_mut(id)?;
    let take = entries.len().min(MAX_RESULT_LIMIT);
    let results = entries
        .drain(..take)
        .map(|result_bytes| QueryResultBytes { result_bytes })
        .collect();
    let has_more = !entries.is_empty();
    if !has_more {
        histories.remove(id);
    }
    Some(
        QueryResponse {
            results,
            has_more,
            id: id.to_owned(),
            metadata: Vec::new(),
        }
        .encode_to_vec(),
    )
}
