//! `/protos.Endorser/ProcessProposal`, in Fabric's order:
//!
//! 1. unpack the signed proposal (a malformed one is a gRPC error naming what is wrong);
//! 2. find the channel (`channel 'x' not found` as a 500 response), or use the local MSP
//!    for channel-less calls;
//! 3. pre-process: header type, epoch, nonce, creator, txid, signature by a valid creator
//!    of the channel (or local) MSPs; on a channel, a txid already in the ledger is refused
//!    and application chaincodes need `peer/Propose`. Failures are gRPC errors with
//!    Fabric's messages (`error validating proposal: access denied: …`);
//! 4. invoke: `cscc` and `qscc` answer directly (each checks its own ACLs); `_lifecycle`
//!    runs in a transaction simulator on a channel and its results are endorsed like an
//!    application chaincode's (with "escc"); a response with status ≥ 400, or any
//!    channel-less call, comes back without endorsement;
//! 5. endorse: the proposal response payload (proposal hash, the chaincode action) signed
//!    with the peer's identity.
//!
//! Application chaincodes run through [`ChaincodeSupport`] against a transaction
//! simulator on the channel's ledger: the definition is looked up in `_lifecycle` (an
//! undefined chaincode gets Fabric's "make sure the chaincode … has been successfully
//! defined" answer), the chaincode executes, its read-write set and event go into the
//! proposal response payload, and the definition's endorsement plugin signs it
//! (`plugin`).

use std::sync::Arc;
use std::time::Instant;

use prost::Message;
use time::OffsetDateTime;
use weft_common::msp::{Identity, Msp, MspError, SigningIdentity};
use weft_common::policy::SignedData;
use weft_common::protoutil::{self, Part, ProtoError, UnpackedProposal};
use weft_proto::common::HeaderType;
use weft_proto::protos::{
    ChaincodeAction, ChaincodeEvent, ChaincodeId, ProposalResponse, Response, SignedProposal,
};

use crate::acl::{AclProvider, resources};
use crate::chaincode::collections;
use crate::chaincode::{ChaincodeSupport, TxParams, share};
use crate::channel::Channel;
use crate::channels::Channels;
use crate::ledger::{SimulationResults, SimulatorConfig};
use crate::metrics::PeerMetrics;
use crate::scc::lifecycle::{self, LifecycleContext};
use crate::scc::{self, SystemContext};
use crate::validation::definitions::DEFAULT_ENDORSEMENT_PLUGIN;

pub mod plugin;

use plugin::EndorsementPlugins;

/// The version the chaincode id of a system chaincode carries in its endorsements.
const SYSTEM_CHAINCODE_VERSION: &str = "syscc";

/// A proposal refused before invocation: the gRPC error message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProposalRejected(pub String);

/// The endorser service's state.
#[derive(Debug, Clone)]
pub struct Endorser {
    channels: Arc<Channels>,
    local_msp: Arc<Msp>,
    signer: Arc<SigningIdentity>,
    acl: AclProvider,
    plugins: EndorsementPlugins,
    support: Option<Arc<ChaincodeSupport>>,
    metrics: Option<Arc<PeerMetrics>>,
}

impl Endorser {
    /// An endorser over `channels`, checking channel-less calls against `local_msp` and
    /// signing endorsements with `signer`.
    pub fn new(channels: Arc<Channels>, local_msp: Arc<Msp>, signer: Arc<SigningIdentity>) -> Self {
        let acl = AclProvider::new(local_msp.clone());
        let plugins = EndorsementPlugins::with_default(signer.clone());
        Self {
            channels,
            local_msp,
            signer,
            acl,
            plugins,
            support: None,
            metrics: None,
        }
    }

    /// The endorser counting into `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<PeerMetrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    fn metrics(&self) -> Option<&PeerMetrics> {
        self.metrics.as_deref()
    }

    /// The endorser running application chaincodes through `support`.
    pub fn with_chaincode_support(mut self, support: Arc<ChaincodeSupport>) -> Self {
        self.support = Some(support);
        self
    }

    /// The endorsement plugins, to register more.
    pub fn plugins_mut(&mut self) -> &mut EndorsementPlugins {
        &mut self.plugins
    }

    /// The peer's ACLs.
    pub fn acl(&self) -> &AclProvider {
        &self.acl
    }

    /// Processes one signed proposal. `Err` is a refusal before invocation (a gRPC error
    /// for the client); every later outcome is a `ProposalResponse`.
    pub async fn process_proposal(
        &self,
        signed: SignedProposal,
    ) -> Result<ProposalResponse, ProposalRejected> {
        if let Some(m) = self.metrics() {
            m.proposals_received.inc();
        }
        let proposal = protoutil::unpack_proposal(&signed).map_err(|e| {
            if let Some(m) = self.metrics() {
                m.proposal_validation_failures.inc();
            }
            ProposalRejected(fabric_message(&e))
        })?;
        self.process_unpacked(proposal).await
    }

    /// Everything after unpacking, with the proposal duration and success metrics.
    async fn process_unpacked(
        &self,
        proposal: UnpackedProposal,
    ) -> Result<ProposalResponse, ProposalRejected> {
        let started = Instant::now();
        let channel_id = proposal.channel_id().to_owned();
        let chaincode = proposal.chaincode_name.clone();
        let response = self.process_checked(proposal).await?;
        let success = response.endorsement.is_some() || channel_id.is_empty();
        if let Some(m) = self.metrics() {
            if success {
                m.successful_proposals.inc();
            }
            m.proposal_duration
                .with_label_values(&[
                    channel_id.as_str(),
                    chaincode.as_str(),
                    if success { "true" } else { "false" },
                ])
                .observe(started.elapsed().as_secs_f64());
        }
        Ok(response)
    }

    async fn process_checked(
        &self,
        proposal: UnpackedProposal,
    ) -> Result<ProposalResponse, ProposalRejected> {
        let channel = if proposal.channel_id().is_empty() {
            None
        } else {
            match self.channels.get(proposal.channel_id()) {
                Some(channel) => Some(channel),
                None => {
                    return Ok(failure(format!(
                        "channel '{}' not found",
                        proposal.channel_id()
                    )));
                }
            }
        };
        self.pre_process(&proposal, channel.as_deref())?;

        let name = proposal.chaincode_name.clone();
        if name == lifecycle::LIFECYCLE_NAMESPACE {
            return Ok(self.invoke_lifecycle(proposal, channel).await);
        }
        if scc::is_system_chaincode(&name) {
            let ctx = SystemContext {
                channels: self.channels.clone(),
                acl: self.acl.clone(),
            };
            let proposal = Arc::new(proposal);
            let invoked = proposal.clone();
            let response = tokio::task::spawn_blocking(move || {
                scc::invoke(&ctx, &invoked.chaincode_name, &invoked)
            })
            .await
            .map_err(|e| ProposalRejected(format!("system chaincode {name} failed: {e}")))?
            .unwrap_or_else(|| failure_response(format!("unknown system chaincode {name}")));
            return Ok(self.finish(&proposal, channel.is_some(), &name, response, Vec::new()));
        }

        Ok(self.simulate_and_endorse(proposal, channel).await)
    }

    /// Runs an application chaincode in a simulator on the channel and endorses its
    /// answer (Fabric's `ProcessProposalSuccessfullyOrError`). Every failure is a 500
    /// response carrying Fabric's message.
    async fn simulate_and_endorse(
        &self,
        proposal: UnpackedProposal,
        channel: Option<Arc<Channel>>,
    ) -> ProposalResponse {
        let name = proposal.chaincode_name.clone();
        let channel_id = proposal.channel_id().to_owned();
        let not_defined = |reason: &str| {
            failure(format!(
                "make sure the chaincode {name} has been successfully defined on channel {channel_id} and try again: {reason}"
            ))
        };
        let Some(channel) = channel else {
            return not_defined(&format!(
                "could not get channel config for channel '{channel_id}'"
            ));
        };
        let Some(support) = &self.support else {
            return not_defined(&format!("chaincode {name} not found"));
        };
        let limits = SimulatorConfig {
            total_query_limit: usize::try_from(support.config().total_query_limit)
                .unwrap_or(usize::MAX),
        };
        let simulator = match channel
            .ledger()
            .new_tx_simulator_with(proposal.tx_id(), limits)
        {
            Ok(mut simulator) => {
                simulator.set_collection_check(collections::collection_check(channel.config()));
                share(simulator)
            }
            Err(e) => return failure(format!("failed to create the transaction simulator: {e}")),
        };
        let params = TxParams {
            channel: channel.clone(),
            txid: proposal.tx_id().to_owned(),
            signed_proposal: proposal.signed_proposal.clone(),
            creator: proposal.creator().to_vec(),
            simulator: simulator.clone(),
        };
        let info = match support.endorsement_info(&params, &name) {
            Ok(Some(info)) => info,
            Ok(None) => return not_defined(&format!("chaincode {name} not found")),
            Err(e) => return not_defined(&e.0),
        };
        let labels = [channel_id.as_str(), name.as_str()];
        let simulating = Instant::now();
        let executed = support
            .execute_defined(&params, &info, &name, proposal.input.clone())
            .await;
        if let Some(m) = self.metrics() {
            m.simulation_duration
                .with_label_values(&labels)
                .observe(simulating.elapsed().as_secs_f64());
        }
        let (response, event) = match executed {
            Ok(answer) => answer,
            Err(e) => {
                if let Some(m) = self.metrics() {
                    m.proposal_simulation_failures
                        .with_label_values(&labels)
                        .inc();
                }
                return failure(format!("error in simulation: {e}"));
            }
        };
        let taken = simulator.lock().unwrap_or_else(|e| e.into_inner()).take();
        let results = match taken.map(|simulator| simulator.done()) {
            Some(Ok(results)) => results,
            Some(Err(e)) => return failure(format!("error in simulation: {e}")),
            None => {
                return failure("error in simulation: the simulation was already finished".into());
            }
        };
        let simulated = Simulated {
            response,
            event,
            results,
            version: info.version(),
            endorsement_plugin: info.endorsement_plugin(),
        };
        self.endorse_simulated(&proposal, &channel, &name, simulated)
    }

    /// `_lifecycle`: channel-less (install and its queries) it answers directly; on a
    /// channel it runs in a transaction simulator and its results are endorsed with
    /// "escc", as Fabric endorses a system chaincode's.
    async fn invoke_lifecycle(
        &self,
        proposal: UnpackedProposal,
        channel: Option<Arc<Channel>>,
    ) -> ProposalResponse {
        let name = proposal.chaincode_name.clone();
        let ctx = LifecycleContext {
            channels: self.channels.clone(),
            acl: self.acl.clone(),
            msp_id: self.local_msp.id().to_owned(),
            support: self.support.clone(),
        };
        let Some(channel) = channel else {
            let response = lifecycle::invoke(&ctx, None, None, &proposal).await;
            return self.finish(&proposal, false, &name, response, Vec::new());
        };
        let mut simulator = match channel.ledger().new_tx_simulator(proposal.tx_id()) {
            Ok(simulator) => simulator,
            Err(e) => return failure(format!("failed to create the transaction simulator: {e}")),
        };
        simulator.set_collection_check(collections::collection_check(channel.config()));
        let response =
            lifecycle::invoke(&ctx, Some(&channel), Some(&mut simulator), &proposal).await;
        let results = match simulator.done() {
            Ok(results) => results,
            Err(e) => return failure(format!("error in simulation: {e}")),
        };
        let simulated = Simulated {
            response,
            event: None,
            results,
            version: SYSTEM_CHAINCODE_VERSION,
            endorsement_plugin: DEFAULT_ENDORSEMENT_PLUGIN,
        };
        self.endorse_simulated(&proposal, &channel, &name, simulated)
    }

    /// Turns a finished simulation into the proposal response (Fabric's tail of
    /// `ProcessProposalSuccessfullyOrError`): the private data kept for commit, the
    /// chaincode action, unendorsed for status ≥ 400, else signed by the endorsement
    /// plugin.
    fn endorse_simulated(
        &self,
        proposal: &UnpackedProposal,
        channel: &Channel,
        name: &str,
        simulated: Simulated<'_>,
    ) -> ProposalResponse {
        let Simulated {
            response,
            event,
            results,
            version,
            endorsement_plugin,
        } = simulated;
        let channel_id = proposal.channel_id();
        let labels = [channel_id, name];
        if response.status < 400
            && let Some(pvt) = results.pvt_rwset.clone()
            && let Err(e) = self.keep_private_data(channel, proposal.tx_id(), pvt)
        {
            return failure(format!(
                "error in simulation: failed to keep private data: {e}"
            ));
        }
        let action = ChaincodeAction {
            results: results.bytes,
            events: event.map(|e| e.encode_to_vec()).unwrap_or_default(),
            response: Some(response.clone()),
            chaincode_id: Some(ChaincodeId {
                name: name.to_owned(),
                version: version.to_owned(),
                path: String::new(),
            }),
        };
        let prp = protoutil::create_proposal_response_payload(&proposal.proposal_hash, &action);
        if response.status >= scc::ERROR {
            return protoutil::unendorsed_proposal_response(response, Some(prp));
        }
        let endorsement_failed = |chaincode_error: &str| {
            if let Some(m) = self.metrics() {
                m.endorsement_failures
                    .with_label_values(&[labels[0], labels[1], chaincode_error])
                    .inc();
            }
        };
        if response.status >= 400 {
            endorsement_failed("true");
            return protoutil::unendorsed_proposal_response(response, None);
        }
        let signing = Instant::now();
        let endorsed = self.plugins.endorse(
            endorsement_plugin,
            channel_id,
            prp,
            &proposal.signed_proposal,
        );
        if let Some(m) = self.metrics() {
            m.endorsement_duration
                .with_label_values(&labels)
                .observe(signing.elapsed().as_secs_f64());
        }
        match endorsed {
            Ok((endorsement, payload)) => ProposalResponse {
                version: 1,
                response: Some(response),
                payload,
                endorsement: Some(endorsement),
                ..Default::default()
            },
            Err(e) => {
                endorsement_failed("false");
                failure(format!("endorsing with plugin failed: {e}"))
            }
        }
    }

    /// Keeps the private read-write set of an endorsement in the channel's transient
    /// store until its transaction commits — only the collections this peer's org is a
    /// member of (Fabric distributes the rest to member peers; without gossip, those are
    /// dropped here).
    fn keep_private_data(
        &self,
        channel: &Channel,
        txid: &str,
        pvt: weft_proto::rwset::TxPvtReadWriteSet,
    ) -> Result<(), crate::ledger::LedgerError> {
        let ledger = channel.ledger();
        let snapshot = ledger.snapshot()?;
        let config = channel.config();
        match collections::eligible_private_data(pvt, &snapshot, &config, self.local_msp.id()) {
            Some(eligible) => ledger.persist_transient(txid, &eligible),
            None => Ok(()),
        }
    }

    /// Fabric's `preProcess`: the proposal's validity (headers, creator, signature),
    /// then, on a channel, txid uniqueness and the `peer/Propose` ACL for application
    /// chaincodes. Each refusal is counted under Fabric's metric for its kind.
    fn pre_process(
        &self,
        proposal: &UnpackedProposal,
        channel: Option<&Channel>,
    ) -> Result<(), ProposalRejected> {
        let creator = self.validate(proposal, channel).inspect_err(|_| {
            if let Some(m) = self.metrics() {
                m.proposal_validation_failures.inc();
            }
        })?;
        let Some(channel) = channel else {
            return Ok(());
        };
        let labels = [proposal.channel_id(), proposal.chaincode_name.as_str()];
        let txid = proposal.tx_id();
        let duplicate = channel
            .ledger()
            .block_store()
            .contains_txid(txid)
            .map_err(|e| ProposalRejected(format!("cannot check the txid: {e}")))?;
        if duplicate {
            if let Some(m) = self.metrics() {
                m.duplicate_transaction_failures
                    .with_label_values(&labels)
                    .inc();
            }
            return Err(ProposalRejected(format!(
                "duplicate transaction found [{txid}]. Creator [{}]",
                hex::encode(proposal.creator())
            )));
        }
        if !scc::is_system_chaincode(&proposal.chaincode_name) {
            // The creator's signature was verified by `validate`: the ACL evaluates the
            // policy over the identity without verifying it again.
            self.acl
                .check_verified(
                    resources::PEER_PROPOSE,
                    &channel.config(),
                    &proposal.signed_data(),
                    &creator,
                )
                .map_err(|e| {
                    if let Some(m) = self.metrics() {
                        m.proposal_acl_failures.with_label_values(&labels).inc();
                    }
                    ProposalRejected(e.to_string())
                })?;
        }
        Ok(())
    }

    /// Fabric's `UnpackedProposal.Validate`: header checks, then the creator against the
    /// channel's MSPs (or the local MSP for channel-less calls) and its signature.
    /// Returns the creator, verified.
    fn validate(
        &self,
        proposal: &UnpackedProposal,
        channel: Option<&Channel>,
    ) -> Result<Arc<Identity>, ProposalRejected> {
        let invalid = |e: String| ProposalRejected(format!("error validating proposal: {e}"));
        proposal
            .check_header()
            .map_err(|e| invalid(fabric_message(&e)))?;
        let channel_id = proposal.channel_id();
        let signed = proposal.signed_data();
        match channel {
            Some(channel) => {
                let config = channel.config();
                let msps = config.msp_manager();
                check_creator(
                    channel_id,
                    &signed,
                    |bytes| msps.deserialize_identity(bytes),
                    |identity| msps.validate(identity),
                )
            }
            None => check_creator(
                channel_id,
                &signed,
                |bytes| self.local_msp.deserialize_identity(bytes).map(Arc::new),
                |identity| self.local_msp.validate(identity),
            ),
        }
    }

    /// Turns a chaincode's response into the proposal response Fabric gives: unendorsed
    /// for status ≥ 400 (with the payload when ≥ 500) and for channel-less calls, else
    /// endorsed by this peer.
    fn finish(
        &self,
        proposal: &UnpackedProposal,
        on_channel: bool,
        chaincode: &str,
        response: Response,
        results: Vec<u8>,
    ) -> ProposalResponse {
        let action = ChaincodeAction {
            results,
            events: Vec::new(),
            response: Some(response.clone()),
            chaincode_id: Some(ChaincodeId {
                name: chaincode.to_owned(),
                version: SYSTEM_CHAINCODE_VERSION.to_owned(),
                path: String::new(),
            }),
        };
        let prp = protoutil::create_proposal_response_payload(&proposal.proposal_hash, &action);
        if response.status >= scc::ERROR {
            return protoutil::unendorsed_proposal_response(response, Some(prp));
        }
        if !on_channel || response.status >= 400 {
            return protoutil::unendorsed_proposal_response(response, None);
        }
        match protoutil::create_proposal_response(response, prp, self.signer.as_ref()) {
            Ok(endorsed) => endorsed,
            Err(e) => failure(format!("error endorsing the response: {e}")),
        }
    }
}

/// What a simulation produced, to be endorsed ([`Endorser::endorse_simulated`]).
struct Simulated<'a> {
    /// The chaincode's response.
    response: Response,
    /// Its event, if any.
    event: Option<ChaincodeEvent>,
    /// The read-write sets.
    results: SimulationResults,
    /// The version in the action's chaincode id.
    version: &'a str,
    /// The plugin that signs.
    endorsement_plugin: &'a str,
}

/// Fabric's creator checks in its order (deserialize, validate, verify the signature),
/// plus Weft's refusal of an expired certificate between validation and verification
/// (stricter than Fabric, whose MSP checks chains as of the certificate's NotBefore).
/// Only the expiry is told to the client; other reasons are logged, as Fabric does.
/// Returns the verified creator.
fn check_creator(
    channel_id: &str,
    signed: &SignedData<'_>,
    deserialize: impl FnOnce(&[u8]) -> Result<Arc<Identity>, MspError>,
    validate: impl FnOnce(&Identity) -> Result<(), MspError>,
) -> Result<Arc<Identity>, ProposalRejected> {
    let invalid = |m: String| ProposalRejected(format!("error validating proposal: {m}"));
    let identity = match deserialize(&signed.identity) {
        Ok(identity) => identity,
        // Weft's deserializer already checks the chain, which Fabric does while
        // validating: the org is known.
        Err(MspError::UntrustedChain { mspid, reason }) => {
            tracing::warn!(%reason, "access denied: the creator's certificate chain is not valid");
            return Err(invalid(format!(
                "access denied: channel [{channel_id}] creator org [{mspid}]"
            )));
        }
        Err(e) => {
            tracing::warn!(error = %e, "access denied: the creator does not deserialize");
            return Err(invalid(format!(
                "access denied: channel [{channel_id}] creator org unknown, creator is malformed"
            )));
        }
    };
    let denied = |reason: String| {
        tracing::warn!(%reason, "access denied");
        invalid(format!(
            "access denied: channel [{channel_id}] creator org [{}]",
            identity.mspid()
        ))
    };
    validate(&identity).map_err(|e| denied(e.to_string()))?;
    if identity.is_expired_at(OffsetDateTime::now_utc()) {
        return Err(invalid(format!(
            "access denied: channel [{channel_id}] creator org [{}]: creator identity expired at {}",
            identity.mspid(),
            identity.not_after()
        )));
    }
    identity
        .verify(&signed.data, &signed.signature)
        .map_err(|e| denied(e.to_string()))?;
    Ok(identity)
}

/// A proposal unpacking or header error in Fabric's words (`core/common/validation`,
/// `protoutil` unmarshalers); the shared [`ProtoError`] texts serve commit-time validation.
fn fabric_message(e: &ProtoError) -> String {
    match e {
        ProtoError::Decode { part, source } => format!("error unmarshalling {part}: {source}"),
        ProtoError::Missing(Part::ChaincodeHeaderExtension) => {
            "ChaincodeHeaderExtension.ChaincodeId is nil".into()
        }
        ProtoError::Empty {
            part: Part::ChaincodeHeaderExtension,
            ..
        } => "ChaincodeHeaderExtension.ChaincodeId.Name is empty".into(),
        ProtoError::Missing(Part::ChaincodeSpec) => {
            "chaincode invocation spec did not contain chaincode spec".into()
        }
        ProtoError::Missing(Part::ChaincodeInput) => {
            "chaincode input did not contain any input".into()
        }
        ProtoError::HeaderTypeNotAllowed { header_type } => format!(
            "invalid header type {}",
            HeaderType::try_from(*header_type)
                .map_or_else(|_| header_type.to_string(), |t| t.as_str_name().to_owned())
        ),
        ProtoError::NonZeroEpoch(_) => "epoch is non-zero".into(),
        ProtoError::Empty {
            part: Part::SignatureHeader,
            field,
        } => format!("{field} is empty"),
        ProtoError::TxIdMismatch { expected, found } => {
            format!("incorrectly computed txid '{found}' -- expected '{expected}'")
        }
        ProtoError::Empty {
            part: Part::SignedProposal,
            field: "proposal_bytes",
        } => "empty proposal bytes".into(),
        ProtoError::Empty {
            part: Part::SignedProposal,
            field: "signature",
        } => "empty signature bytes".into(),
        other => other.to_string(),
    }
}

fn failure_response(message: String) -> Response {
    Response {
        status: scc::ERROR,
        message,
        payload: Vec::new(),
    }
}

/// An unendorsed 500 response.
fn failure(message: String) -> ProposalResponse {
    protoutil::unendorsed_proposal_response(failure_response(message), None)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod preprocess_tests;

#[cfg(test)]
mod chaincode_tests;
