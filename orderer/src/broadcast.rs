//! `/orderer.AtomicBroadcast/Broadcast`: accept envelopes for ordering.
//!
//! Checks run in Fabric's order, each failure answered with Fabric's status:
//! well-formed payload and headers (BAD_REQUEST) → channel exists (BAD_REQUEST: there is
//! no system channel) → message kind (CONFIG and ORDERER_TRANSACTION cannot be sent
//! directly: BAD_REQUEST) → maintenance mode (SERVICE_UNAVAILABLE) → not empty →
//! size ≤ `AbsoluteMaxBytes` (BAD_REQUEST) → creator certificate not expired
//! (BAD_REQUEST) → `/Channel/Writers` (FORBIDDEN) → a Raft leader exists
//! (SERVICE_UNAVAILABLE). A CONFIG_UPDATE is then validated against the channel config and
//! ordered as an orderer-signed CONFIG envelope; an update that is invalid or whose
//! signatures do not satisfy the mod policies is BAD_REQUEST, as in Fabric.
//!
//! Deliberate difference from Fabric: SUCCESS is answered only once the envelope is
//! committed in the Raft log, so an acknowledged envelope survives any leader failure.

use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use weft_common::channelconfig::ChannelConfig;
use weft_common::configtx;
use weft_common::msp::SigningIdentity;
use weft_common::protoutil::{self, UnpackedEnvelope};
use weft_proto::common::{Envelope, HeaderType, Status};
use weft_proto::orderer::BroadcastResponse;

use crate::consensus::chain::{Chain, SubmitError};

/// Finds a channel's chain (the registrar).
pub trait ChannelChains: Send + Sync + 'static {
    /// The running chain of `channel`.
    fn chain(&self, channel: &str) -> Option<Chain>;
}

/// What Broadcast needs besides the chains.
#[derive(Clone)]
pub struct BroadcastContext {
    /// The channels.
    pub chains: Arc<dyn ChannelChains>,
    /// Signs the CONFIG envelopes made from config updates.
    pub signer: Arc<SigningIdentity>,
    /// How long to wait for an envelope to be committed in the Raft log.
    pub commit_timeout: Duration,
    /// Where outcomes are counted.
    pub metrics: Option<Arc<crate::metrics::OrdererMetrics>>,
}

impl std::fmt::Debug for BroadcastContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BroadcastContext")
            .field("commit_timeout", &self.commit_timeout)
            .finish_non_exhaustive()
    }
}

fn respond(status: Status, info: impl Into<String>) -> BroadcastResponse {
    BroadcastResponse {
        status: status as i32,
        info: info.into(),
    }
}

/// Processes one envelope and returns the response to send back.
pub async fn process(ctx: &BroadcastContext, envelope: Envelope) -> BroadcastResponse {
    let started = Instant::now();
    let (response, channel, kind) = process_inner(ctx, envelope).await;
    if let Some(metrics) = &ctx.metrics {
        let status = Status::try_from(response.status)
            .map(|s| s.as_str_name())
            .unwrap_or("UNKNOWN");
        metrics.broadcast_processed(&channel, kind, status, started.elapsed());
    }
    response
}

async fn process_inner(
    ctx: &BroadcastContext,
    envelope: Envelope,
) -> (BroadcastResponse, String, &'static str) {
    let unpacked = match protoutil::unpack_envelope(&envelope) {
        Ok(u) => u,
        Err(e) => {
            return (
                respond(
                    Status::BadRequest,
                    format!("could not determine channel ID: {e}"),
                ),
                String::new(),
                "",
            );
        }
    };
    let channel = unpacked.channel_id().to_owned();
    let kind = HeaderType::try_from(unpacked.header_type())
        .map(|t| t.as_str_name())
        .unwrap_or("UNKNOWN");
    let Some(chain) = ctx.chains.chain(&channel) else {
        return (
            respond(
                Status::BadRequest,
                format!(
                    "channel creation request not allowed because the orderer system channel is not defined (channel {channel} does not exist on this orderer)"
                ),
            ),
            channel,
            kind,
        );
    };
    let response = match HeaderType::try_from(unpacked.header_type()) {
        Ok(HeaderType::Config) | Ok(HeaderType::OrdererTransaction) => respond(
            Status::BadRequest,
            format!("message of type {kind} cannot be processed directly; send a CONFIG_UPDATE"),
        ),
        Ok(HeaderType::ConfigUpdate) => order_config_update(ctx, &chain, &unpacked).await,
        _ => order_normal(ctx, &chain, &unpacked).await,
    };
    (response, channel, kind)
}

/// The checks every envelope passes: maintenance, emptiness, size, expiry, Writers.
fn check_filters(
    config: &ChannelConfig,
    unpacked: &UnpackedEnvelope,
) -> Result<(), BroadcastResponse> {
    let envelope = &unpacked.envelope;
    if envelope.payload.is_empty() {
        return Err(respond(Status::BadRequest, "message was empty"));
    }
    if let Some(orderer) = config.orderer() {
        let size = envelope.payload.len() + envelope.signature.len();
        if size > orderer.batch_size.absolute_max_bytes as usize {
            return Err(respond(
                Status::BadRequest,
                format!(
                    "message payload is {size} bytes and exceeds maximum allowed {} bytes",
                    orderer.batch_size.absolute_max_bytes
                ),
            ));
        }
    }
    match config
        .msp_manager()
        .deserialize_identity(unpacked.creator())
    {
        Ok(identity) if identity.is_expired_at(time::OffsetDateTime::now_utc()) => {
            return Err(respond(
                Status::BadRequest,
                format!(
                    "broadcast client identity expired at {}",
                    identity.not_after()
                ),
            ));
        }
        // An identity that does not deserialize fails the Writers policy below.
        _ => {}
    }
    if let Err(e) = config
        .policy_manager()
        .evaluate("/Channel/Writers", &[unpacked.signed_data()])
    {
        return Err(respond(
            Status::Forbidden,
            format!(
                "implicit policy evaluation failed - the supplied identity does not satisfy /Channel/Writers: {e}"
            ),
        ));
    }
    Ok(())
}

fn in_maintenance(config: &ChannelConfig) -> bool {
    config
        .orderer()
        .is_some_and(|o| o.state == weft_common::channelconfig::ConsensusState::Maintenance)
}

fn leader_known(chain: &Chain) -> Result<(), BroadcastResponse> {
    let status = chain.status();
    if status.halted {
        return Err(respond(Status::ServiceUnavailable, "the chain is halted"));
    }
    if status.leader == 0 {
        return Err(respond(
            Status::ServiceUnavailable,
            "no Raft leader: an election is in progress",
        ));
    }
    Ok(())
}

fn submit_error(e: SubmitError) -> BroadcastResponse {
    match e {
        SubmitError::ConfigSequenceChanged { .. } => respond(Status::BadRequest, e.to_string()),
        _ => respond(Status::ServiceUnavailable, e.to_string()),
    }
}

async fn order_normal(
    ctx: &BroadcastContext,
    chain: &Chain,
    unpacked: &UnpackedEnvelope,
) -> BroadcastResponse {
    let config = chain.config();
    if in_maintenance(&config) {
        return respond(
            Status::ServiceUnavailable,
            "normal transactions are rejected: maintenance mode",
        );
    }
    if let Err(response) = check_filters(&config, unpacked) {
        return response;
    }
    if let Err(response) = leader_known(chain) {
        return response;
    }
    match chain
        .order(unpacked.envelope.encode_to_vec(), ctx.commit_timeout)
        .await
    {
        Ok(()) => respond(Status::Success, ""),
        Err(e) => submit_error(e),
    }
}

async fn order_config_update(
    ctx: &BroadcastContext,
    chain: &Chain,
    unpacked: &UnpackedEnvelope,
) -> BroadcastResponse {
    let config = chain.config();
    if let Err(response) = check_filters(&config, unpacked) {
        return response;
    }
    let update = match configtx::config_update_envelope_from(&unpacked.envelope) {
        Ok(update) => update,
        Err(e) => {
            return respond(
                Status::BadRequest,
                format!("invalid config update envelope: {e}"),
            );
        }
    };
    let next = match configtx::propose_update(
        config.config(),
        config.channel_id(),
        &update,
        config.policy_manager(),
    ) {
        Ok(next) => next,
        // Fabric answers BAD_REQUEST for every invalid update, mod_policy failures included.
        Err(e) => return respond(e.status(), e.to_string()),
    };
    if let Err(reason) = same_consenters(&config, &next, config.channel_id()) {
        return respond(Status::BadRequest, reason);
    }
    let envelope = match configtx::wrap_config(
        next,
        unpacked.envelope.clone(),
        config.channel_id(),
        ctx.signer.as_ref(),
    ) {
        Ok(envelope) => envelope,
        Err(e) => {
            return respond(
                Status::InternalServerError,
                format!("cannot sign the config envelope: {e}"),
            );
        }
    };
    if let Err(response) = leader_known(chain) {
        return response;
    }
    match chain
        .configure(
            envelope.encode_to_vec(),
            config.sequence(),
            ctx.commit_timeout,
        )
        .await
    {
        Ok(()) => respond(Status::Success, ""),
        Err(e) => submit_error(e),
    }
}

/// Raft membership is static in Weft: a config update may not change the consenters.
fn same_consenters(
    current: &ChannelConfig,
    next: &weft_proto::common::Config,
    channel: &str,
) -> Result<(), String> {
    let next = ChannelConfig::from_config(channel, next)
        .map_err(|e| format!("the updated config is invalid: {e}"))?;
    let consenters = |c: &ChannelConfig| {
        c.orderer()
            .and_then(|o| o.etcdraft())
            .map(|r| r.consenters.clone())
    };
    if consenters(current) != consenters(&next) {
        return Err("changing the consenter set is not supported by this orderer".into());
    }
    Ok(())
}
