//! [`ChaincodeSupport`]: from "invoke chaincode X on channel C" to a running chaincode's
//! answer. It looks the definition up in `_lifecycle` (recording the read of its
//! sequence, as Fabric does, so an upgrade racing the transaction invalidates it), finds
//! the package this org approved (from the committed hashes of its implicit collection,
//! [`lifecycle::local_approval`], cached per block height), launches the chaincode if it is not connected (through
//! the [`Launcher`] for the package's type), and runs the transaction through the
//! chaincode's [`Handler`].

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use futures::Stream;
use prost::Message;
use tokio::sync::mpsc;
use weft_proto::lifecycle::StateData;
use weft_proto::lifecycle::state_data::Type as StateDataType;
use weft_proto::protos::chaincode_message::Type;
use weft_proto::protos::{ChaincodeEvent, ChaincodeInput, ChaincodeMessage, Response};

use super::context::{SharedSimulator, TxParams, with_simulator};
use super::handler::{self, Handler, HandlerError};
use super::launcher::Launcher;
use super::package::{ChaincodePackage, PackageError, PackageStore};
use super::registry::{HandlerRegistry, Launching};
use crate::acl::AclProvider;
use crate::channels::Channels;
use crate::ledger::LedgerSnapshot;
use crate::metrics::PeerMetrics;
use crate::scc::lifecycle::{self, LocalApproval};
use crate::validation::definitions::{self, ChaincodeDefinition, LIFECYCLE_NAMESPACE};

/// The key, in a chaincode's own namespace, recording the version it was initialized
/// at (`"\x00" + U+10FFFF + "initialized"`).
pub const INITIALIZED_KEY: &str = "\u{0}\u{10FFFF}initialized";

/// Execution settings (from `core.yaml`'s `chaincode` and `ledger` sections).
#[derive(Debug, Clone)]
pub struct SupportConfig {
    /// `chaincode.executetimeout`.
    pub execute_timeout: Duration,
    /// `chaincode.startuptimeout`.
    pub startup_timeout: Duration,
    /// `ledger.state.totalQueryLimit`: results per query at most.
    pub total_query_limit: i32,
    /// `chaincode.mode: dev`: chaincodes are started by the user and register themselves.
    pub dev_mode: bool,
    /// `chaincode.launcher.default`: the launcher of `wasm` packages (`wasm`, in process,
    /// or `docker`).
    pub wasm_launcher: String,
    /// `chaincode.launcher.overrides`: package label → launcher, for `wasm` packages
    /// that run elsewhere than the default.
    pub launcher_overrides: HashMap<String, String>,
}

impl SupportConfig {
    /// The launcher (key of the support's launcher map) that runs `package`: for a `wasm`
    /// package the one configured for its label or the default, else its type's own.
    pub fn launcher_for(&self, package: &ChaincodePackage) -> String {
        if package.metadata.kind != super::package::WASM_TYPE {
            return package.metadata.kind.clone();
        }
        self.launcher_overrides
            .get(&package.metadata.label)
            .unwrap_or(&self.wasm_launcher)
            .clone()
    }
}

impl Default for SupportConfig {
    fn default() -> Self {
        Self {
            execute_timeout: Duration::from_secs(30),
            startup_timeout: Duration::from_secs(300),
            total_query_limit: 100_000,
            dev_mode: false,
            wasm_launcher: super::package::WASM_TYPE.to_owned(),
            launcher_overrides: HashMap::new(),
        }
    }
}

/// This org's approval of a chaincode definition on a channel: the sequence and the
/// package this peer runs for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// The approved definition's sequence.
    pub sequence: i64,
    /// The package approved for this org (`None`: approved without a package).
    pub package_id: Option<String>,
}

/// What the endorser and the handler need to invoke a defined chaincode.
#[derive(Debug, Clone)]
pub struct EndorsementInfo {
    /// The chaincode id it runs under (the package id; `name:version` in dev mode).
    pub ccid: String,
    /// The committed definition.
    pub definition: ChaincodeDefinition,
}

impl EndorsementInfo {
    /// The definition's version.
    pub fn version(&self) -> &str {
        &self.definition.endorsement_info.version
    }

    /// The endorsement plugin that signs its proposals ("escc" by default).
    pub fn endorsement_plugin(&self) -> &str {
        &self.definition.endorsement_info.endorsement_plugin
    }
}

/// Why an invocation failed before or while the chaincode ran (Fabric's wording).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExecuteError(pub String);

/// Chaincode support for the whole peer.
#[derive(Debug)]
pub struct ChaincodeSupport {
    config: SupportConfig,
    registry: HandlerRegistry,
    channels: Arc<Channels>,
    acl: AclProvider,
    packages: PackageStore,
    launchers: HashMap<String, Arc<dyn Launcher>>,
    approvals: RwLock<HashMap<(String, String), Approval>>,
    committed_approvals: RwLock<HashMap<(String, String), CommittedApproval>>,
    metrics: OnceLock<Arc<PeerMetrics>>,
}

/// This org's approval of a committed definition as read at one ledger height.
#[derive(Debug, Clone)]
struct CommittedApproval {
    height: u64,
    sequence: i64,
    approval: Option<Approval>,
}

impl ChaincodeSupport {
    /// Chaincode support over `channels`, with installed packages in `packages` and a
    /// launcher per package type.
    pub fn new(
        config: SupportConfig,
        channels: Arc<Channels>,
        acl: AclProvider,
        packages: PackageStore,
        launchers: HashMap<String, Arc<dyn Launcher>>,
    ) -> Arc<Self> {
        let registry = HandlerRegistry::new(config.dev_mode);
        Arc::new(Self {
            config,
            registry,
            channels,
            acl,
            packages,
            launchers,
            approvals: RwLock::default(),
            committed_approvals: RwLock::default(),
            metrics: OnceLock::new(),
        })
    }

    /// Counts launches, executions and shim requests into `metrics` from now on (the
    /// first call wins).
    pub fn attach_metrics(&self, metrics: Arc<PeerMetrics>) {
        let _ = self.metrics.set(metrics);
    }

    /// The metrics, once attached.
    pub fn metrics(&self) -> Option<&PeerMetrics> {
        self.metrics.get().map(Arc::as_ref)
    }

    /// Execution settings.
    pub fn config(&self) -> &SupportConfig {
        &self.config
    }

    /// The connected chaincodes.
    pub fn registry(&self) -> &HandlerRegistry {
        &self.registry
    }

    /// The peer's channels.
    pub fn channels(&self) -> &Arc<Channels> {
        &self.channels
    }

    /// The peer's ACLs.
    pub fn acl(&self) -> &AclProvider {
        &self.acl
    }

    /// The installed packages.
    pub fn packages(&self) -> &PackageStore {
        &self.packages
    }

    /// Installs a package: saves it and prepares it for its launcher (a `wasm` module is
    /// compiled now and its artifact cached on disk); a package that fails to build is
    /// removed again, as Fabric does. Returns the package id.
    pub async fn install(&self, bytes: &[u8]) -> Result<String, ExecuteError> {
        let (id, package) = self
            .packages
            .save(bytes)
            .map_err(|e| ExecuteError(e.to_string()))?;
        if let Some(launcher) = self.launchers.get(&self.config.launcher_for(&package))
            && let Err(e) = launcher.prepare(&id, &package).await
        {
            if let Err(removal) = self.packages.delete(&id) {
                tracing::warn!(
                    package_id = %id, error = %removal,
                    "could not remove a package that failed to build"
                );
            }
            return Err(ExecuteError(format!("could not build chaincode {id}: {e}")));
        }
        // An approval read before the install may name this package by its hash only.
        self.committed_approvals
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        Ok(id)
    }

    /// Records this org's approval of chaincode `name` on `channel` (a test seam: it
    /// takes precedence over the approval committed through `_lifecycle` while its
    /// sequence is the committed one).
    pub fn approve(&self, channel: &str, name: &str, approval: Approval) {
        self.approvals
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert((channel.to_owned(), name.to_owned()), approval);
    }

    /// This org's approval of `name` on `channel` recorded with [`Self::approve`], if any.
    pub fn approval(&self, channel: &str, name: &str) -> Option<Approval> {
        self.approvals
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(channel.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Serves a chaincode's message stream (a gRPC Register stream, a dialed chaincode
    /// server, or an in-process WASM shim) until it ends.
    pub fn connect<S>(self: &Arc<Self>, incoming: S, outgoing: mpsc::Sender<ChaincodeMessage>)
    where
        S: Stream<Item = Result<ChaincodeMessage, tonic::Status>> + Unpin + Send + 'static,
    {
        let support = self.clone();
        tokio::spawn(async move {
            let _ = handler::serve(support, incoming, outgoing).await;
        });
    }

    /// The definition of `name` on the transaction's channel and the chaincode id this
    /// peer runs it under (Fabric's `ChaincodeEndorsementInfo`). The sequence is read
    /// through the transaction's simulator, so it lands in the read set. `Ok(None)`: not
    /// defined.
    pub fn endorsement_info(
        &self,
        params: &TxParams,
        name: &str,
    ) -> Result<Option<EndorsementInfo>, ExecuteError> {
        let channel_id = params.channel_id();
        let sequence =
            read_sequence(&params.simulator, name).map_err(|e| {
                ExecuteError(format!(
                    "could not get current sequence for chaincode '{name}' on channel '{channel_id}': {e}"
                ))
            })?;
        if sequence == 0 {
            return Ok(None);
        }
        let seam = self
            .approval(channel_id, name)
            .filter(|a| a.sequence == sequence);
        let looked_up = with_simulator(&params.simulator, |sim| {
            let snapshot = sim.snapshot();
            let definition = definitions::chaincode_definition(snapshot, name)
                .map_err(|e| format!("could not read the chaincode definition: {e}"))?
                .unwrap_or_default();
            if definition.sequence != sequence {
                return Ok::<_, String>((definition, None));
            }
            let approval = match seam {
                Some(approval) => Some(approval),
                None => self.committed_approval(channel_id, name, snapshot, &definition)?,
            };
            Ok((definition, approval))
        });
        let (definition, approval) = looked_up.map_err(ExecuteError)?;
        if definition.sequence != sequence {
            return Err(ExecuteError(format!(
                "chaincode cache at sequence {} but current sequence is {sequence}, chaincode definition for '{name}' changed during invoke",
                definition.sequence
            )));
        }
        let approval = approval.ok_or_else(|| {
            ExecuteError(format!(
                "chaincode definition for '{name}' at sequence {sequence} on channel '{channel_id}' has not yet been approved by this org"
            ))
        })?;
        let installed = approval
            .package_id
            .filter(|id| self.config.dev_mode || self.packages.contains(id));
        let ccid = match installed {
            Some(id) => id,
            None if self.config.dev_mode => {
                format!("{name}:{}", definition.endorsement_info.version)
            }
            None => {
                return Err(ExecuteError(format!(
                    "chaincode definition for '{name}' exists, but chaincode is not installed"
                )));
            }
        };
        Ok(Some(EndorsementInfo { ccid, definition }))
    }

    /// This org's approval of `definition` of `name`, committed through `_lifecycle` in
    /// `snapshot` (`None`: not approved), cached until the ledger grows.
    fn committed_approval(
        &self,
        channel_id: &str,
        name: &str,
        snapshot: &LedgerSnapshot<'_>,
        definition: &ChaincodeDefinition,
    ) -> Result<Option<Approval>, String> {
        let key = (channel_id.to_owned(), name.to_owned());
        let height = snapshot.height();
        let cached = self
            .committed_approvals
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .filter(|c| c.height == height && c.sequence == definition.sequence)
            .map(|c| c.approval.clone());
        if let Some(approval) = cached {
            return Ok(approval);
        }
        let installed = || {
            self.packages
                .list()
                .map(|list| list.into_iter().map(|p| p.package_id).collect())
                .unwrap_or_default()
        };
        let looked_up = lifecycle::local_approval(
            snapshot,
            self.acl.local_msp_id(),
            name,
            definition,
            installed,
        )
        .map_err(|e| format!("could not check this org's approval of chaincode '{name}': {e}"))?;
        let approval = match looked_up {
            LocalApproval::NotApproved => None,
            LocalApproval::Approved(package_id) => Some(Approval {
                sequence: definition.sequence,
                package_id,
            }),
        };
        self.committed_approvals
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                key,
                CommittedApproval {
                    height,
                    sequence: definition.sequence,
                    approval: approval.clone(),
                },
            );
        Ok(approval)
    }

    /// Runs `input` on chaincode `name` and returns its response and event (Fabric's
    /// `ChaincodeSupport.Execute`): an ERROR from the chaincode is an error.
    pub async fn execute(
        self: &Arc<Self>,
        params: &TxParams,
        name: &str,
        input: ChaincodeInput,
    ) -> Result<(Response, Option<ChaincodeEvent>), ExecuteError> {
        let answer = self.invoke(params, name, input).await;
        execution_result(&params.txid, name, answer)
    }

    /// [`execute`](Self::execute) for a chaincode whose `info` the caller already looked
    /// up through this transaction's simulator (the endorser does, to pick the plugin).
    pub async fn execute_defined(
        self: &Arc<Self>,
        params: &TxParams,
        info: &EndorsementInfo,
        name: &str,
        input: ChaincodeInput,
    ) -> Result<(Response, Option<ChaincodeEvent>), ExecuteError> {
        let answer = self.invoke_defined(params, info, name, input).await;
        execution_result(&params.txid, name, answer)
    }

    /// Checks the invocation (definition, init rules), launches the chaincode if needed
    /// and runs the transaction; returns the chaincode's final message (COMPLETED or
    /// ERROR). Used by [`execute`](Self::execute) and chaincode-to-chaincode calls.
    pub async fn invoke(
        self: &Arc<Self>,
        params: &TxParams,
        name: &str,
        input: ChaincodeInput,
    ) -> Result<ChaincodeMessage, ExecuteError> {
        let channel_id = params.channel_id().to_owned();
        // Fabric wraps every CheckInvocation error "invalid invocation: ".
        let invalid = |e: String| ExecuteError(format!("invalid invocation: {e}"));
        let info = self
            .endorsement_info(params, name)
            .map_err(|e| {
                invalid(format!(
                    "[channel {channel_id}] failed to get chaincode container info for {name}: {e}"
                ))
            })?
            .ok_or_else(|| {
                invalid(format!(
                    "[channel {channel_id}] failed to get chaincode container info for {name}: chaincode {name} not found"
                ))
            })?;
        self.invoke_defined(params, &info, name, input).await
    }

    /// [`invoke`](Self::invoke) with the definition already looked up.
    async fn invoke_defined(
        self: &Arc<Self>,
        params: &TxParams,
        info: &EndorsementInfo,
        name: &str,
        input: ChaincodeInput,
    ) -> Result<ChaincodeMessage, ExecuteError> {
        let channel_id = params.channel_id().to_owned();
        let r#type = self
            .check_init(params, name, info, &input)
            .map_err(|e| ExecuteError(format!("invalid invocation: {e}")))?;
        let handler = self.launch(&info.ccid).await?;
        let msg = ChaincodeMessage {
            r#type: r#type as i32,
            payload: input.encode_to_vec(),
            txid: params.txid.clone(),
            proposal: Some(params.signed_proposal.clone()),
            channel_id: channel_id.clone(),
            ..Default::default()
        };
        let executed = handler
            .execute(params.clone(), name, msg, self.config.execute_timeout)
            .await;
        if matches!(executed, Err(HandlerError::Timeout))
            && let Some(m) = self.metrics()
        {
            m.execute_timeouts.with_label_values(&[&info.ccid]).inc();
        }
        executed.map_err(|e| ExecuteError(format!("error sending: {e}")))
    }

    /// Fabric's `CheckInvocation` init rules: INIT only when the definition requires it
    /// and this version is not initialized yet (then the version is written under
    /// [`INITIALIZED_KEY`]); a normal call needs a completed init when one is required.
    fn check_init(
        &self,
        params: &TxParams,
        name: &str,
        info: &EndorsementInfo,
        input: &ChaincodeInput,
    ) -> Result<Type, ExecuteError> {
        let init_required = info.definition.endorsement_info.init_required;
        let needs_init = if init_required {
            let value = with_simulator(&params.simulator, |sim| {
                sim.get_state(name, INITIALIZED_KEY)
            })
            .map_err(|e| ExecuteError(format!("could not get 'initialized' key: {e}")))?;
            value.as_deref() != Some(info.version().as_bytes())
        } else {
            false
        };
        if input.is_init {
            if !init_required {
                return Err(ExecuteError(format!(
                    "chaincode '{name}' does not require initialization but called as init"
                )));
            }
            if !needs_init {
                return Err(ExecuteError(format!(
                    "chaincode '{name}' is already initialized but called as init"
                )));
            }
            let version = info.version().as_bytes().to_vec();
            with_simulator(&params.simulator, |sim| {
                sim.set_state(name, INITIALIZED_KEY, version)
            })
            .map_err(|e| ExecuteError(format!("could not set 'initialized' key: {e}")))?;
            return Ok(Type::Init);
        }
        if needs_init {
            return Err(ExecuteError(format!(
                "chaincode '{name}' has not been initialized for this version, must call as init first"
            )));
        }
        Ok(Type::Transaction)
    }

    /// The connected handler of `ccid`, launching the chaincode if needed and waiting at
    /// most `chaincode.startuptimeout` for it to register.
    pub async fn launch(self: &Arc<Self>, ccid: &str) -> Result<Arc<Handler>, ExecuteError> {
        if let Some(handler) = self.registry.handler(ccid) {
            return Ok(handler);
        }
        let started = std::time::Instant::now();
        let launched = self.launch_and_wait(ccid).await;
        if let Some(m) = self.metrics() {
            let success = if launched.is_ok() { "true" } else { "false" };
            m.launch_duration
                .with_label_values(&[ccid, success])
                .observe(started.elapsed().as_secs_f64());
            if launched.is_err() {
                m.launch_failures.with_label_values(&[ccid]).inc();
            }
        }
        launched
    }

    async fn launch_and_wait(self: &Arc<Self>, ccid: &str) -> Result<Arc<Handler>, ExecuteError> {
        let mut state = match self.registry.launching(ccid) {
            Launching::Ready(handler) => return Ok(handler),
            Launching::Wait(state) => state,
            Launching::Start(state) => {
                if let Err(reason) = self.start(ccid).await {
                    self.registry.failed(ccid, reason.clone());
                    return Err(ExecuteError(format!(
                        "could not launch chaincode {ccid}: {reason}"
                    )));
                }
                state
            }
        };
        let outcome =
            tokio::time::timeout(self.config.startup_timeout, state.wait_for(Option::is_some))
                .await;
        let outcome = match outcome {
            Err(_) => {
                if let Some(m) = self.metrics() {
                    m.launch_timeouts.with_label_values(&[ccid]).inc();
                }
                let reason =
                    format!("timeout expired while starting chaincode {ccid} for transaction");
                self.registry.failed(ccid, reason.clone());
                return Err(ExecuteError(format!(
                    "could not launch chaincode {ccid}: {reason}"
                )));
            }
            Ok(Err(_)) => Some(Err("the launch was abandoned".to_owned())),
            Ok(Ok(outcome)) => outcome.clone(),
        };
        match outcome {
            Some(Ok(())) => self.registry.handler(ccid).ok_or_else(|| {
                ExecuteError(format!(
                    "claimed to start chaincode container for {ccid} but could not find handler"
                ))
            }),
            Some(Err(reason)) => Err(ExecuteError(format!(
                "could not launch chaincode {ccid}: {reason}"
            ))),
            None => Err(ExecuteError(format!("could not launch chaincode {ccid}"))),
        }
    }

    /// Starts `ccid` with the launcher of its package's type.
    async fn start(self: &Arc<Self>, ccid: &str) -> Result<(), String> {
        if self.config.dev_mode {
            return Err(format!(
                "chaincode {ccid} is not running; in dev mode the chaincode is started by the user and registers with the peer"
            ));
        }
        let bytes = self.packages.load(ccid).map_err(|e| e.to_string())?;
        let package = ChaincodePackage::parse(&bytes).map_err(|e: PackageError| e.to_string())?;
        let kind = package.metadata.kind.clone();
        let name = self.config.launcher_for(&package);
        let launcher = self.launchers.get(&name).ok_or_else(|| {
            if name == kind {
                format!("chaincode type '{kind}' cannot be launched by this peer")
            } else {
                format!(
                    "launcher '{name}' (for chaincode type '{kind}') is not configured on this peer"
                )
            }
        })?;
        launcher.start(self, ccid, &package).await
    }
}

/// Fabric's `processChaincodeExecutionResult`: COMPLETED → the decoded response (and the
/// event, stamped with chaincode name and txid), ERROR → "transaction returned with
/// failure: …".
fn execution_result(
    txid: &str,
    name: &str,
    answer: Result<ChaincodeMessage, ExecuteError>,
) -> Result<(Response, Option<ChaincodeEvent>), ExecuteError> {
    let answer =
        answer.map_err(|e| ExecuteError(format!("failed to execute transaction {txid}: {e}")))?;
    let event = answer.chaincode_event.map(|mut event| {
        event.chaincode_id = name.to_owned();
        event.tx_id = txid.to_owned();
        event
    });
    match Type::try_from(answer.r#type) {
        Ok(Type::Completed) => {
            let response = Response::decode(answer.payload.as_slice()).map_err(|e| {
                ExecuteError(format!(
                    "failed to unmarshal response for transaction {txid}: {e}"
                ))
            })?;
            Ok((response, event))
        }
        Ok(Type::Error) => Err(ExecuteError(format!(
            "transaction returned with failure: {}",
            String::from_utf8_lossy(&answer.payload)
        ))),
        _ => Err(ExecuteError(format!(
            "unexpected response type {} for transaction {txid}",
            answer.r#type
        ))),
    }
}

/// The committed sequence of `name` read through the simulator (0 when not defined).
fn read_sequence(simulator: &SharedSimulator, name: &str) -> Result<i64, String> {
    let key = definitions::field_key(name, "Sequence");
    let Some(bytes) = with_simulator(simulator, |sim| sim.get_state(LIFECYCLE_NAMESPACE, &key))?
    else {
        return Ok(0);
    };
    let data = StateData::decode(bytes.as_slice()).map_err(|e| e.to_string())?;
    match data.r#type {
        Some(StateDataType::Int64(sequence)) => Ok(sequence),
        None => Ok(0),
        Some(_) => Err(format!("field {key} is not an Int64")),
    }
}
