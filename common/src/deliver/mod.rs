//! The Deliver protocol engine, shared by the orderer (`/orderer.AtomicBroadcast/Deliver`)
//! and the peer (`/protos.Deliver/Deliver`, `DeliverFiltered`, `DeliverWithPrivateData`).
//!
//! The engine is transport-agnostic: [`Deliverer::serve_stream`] reads seek envelopes from
//! any `Stream<Item = Result<Envelope, E>>` and writes through a [`DeliverSink`], which
//! turns each block into whatever the RPC sends (a `Block`, a [`filtered_block`], a block
//! with private data) and knows when the client went away. Channels come from a
//! [`ChannelLookup`]; each [`DeliverChannel`] gives its blocks ([`BlockSource`], e.g. a
//! [`BlockStore`]) and its access check.
//!
//! Per seek envelope, as Fabric's `common/deliver` handler (v2.5):
//!
//! 1. payload, header, channel header and signature header must decode, the channel header
//!    must carry a timestamp within [`DeliverConfig::time_window`] of now, and with
//!    [`DeliverConfig::mutual_tls`] its `tls_cert_hash` must equal the client certificate's
//!    hash → else BAD_REQUEST (txid and nonce are not checked: fabric-gateway sends neither);
//! 2. unknown channel → NOT_FOUND;
//! 3. `SeekInfo` must decode → else BAD_REQUEST;
//! 4. a consenter error (unless BEST_EFFORT) → SERVICE_UNAVAILABLE;
//! 5. the creator's certificate must not be expired and [`DeliverChannel::authorize`] must
//!    accept `SignedData{payload, creator, signature}` → else FORBIDDEN; the check is
//!    repeated before every block (re-running `authorize` when the config sequence grew);
//! 6. start and stop must be present → else BAD_REQUEST. Start: Oldest → 0, Newest →
//!    height − 1, Specified n → n (NOT_FOUND if n > height; n = height waits), NextCommit →
//!    height. Stop: Oldest → start, Newest → height − 1 at request time (start if start is
//!    Newest too), Specified m → m. stop < start → BAD_REQUEST;
//! 7. blocks are sent in order; FAIL_IF_NOT_READY ends with NOT_FOUND at the first missing
//!    block, BLOCK_UNTIL_READY waits for it; after the stop block → SUCCESS.
//!
//! The final status is sent after the blocks. After SUCCESS the stream waits for the next
//! seek envelope; after any other status it ends. A client that goes away (the sink
//! closes) ends everything at once, without a status. The engine spawns no task: dropping
//! the future stops it.

mod access;
mod filtered;
mod memory;
mod seek;

#[cfg(test)]
mod tests;

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::{Stream, StreamExt};
use prost::Message;
use prost_types::Timestamp;
use tokio::sync::watch;
use weft_proto::common::{Block, Envelope, Status};
use weft_proto::orderer::SeekInfo;
use weft_proto::orderer::seek_info::{SeekBehavior, SeekErrorResponse};

use crate::blockstore::{BlockStore, BlockStoreError};
use crate::msp::Identity;
use crate::policy::{PolicyError, SignedData};
use crate::protoutil::{UnpackedEnvelope, unpack_envelope};

use access::SessionAccess;

pub use filtered::{FilteredBlockError, filtered_block};
pub use memory::MemoryBlockSource;

/// Fabric's default `TimeWindow` for Deliver requests (`General.Authentication.TimeWindow`
/// on the orderer, `peer.authentication.timewindow` on the peer).
pub const DEFAULT_TIME_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Where Deliver reads a channel's blocks from.
pub trait BlockSource: Send + Sync {
    /// The number of blocks (the next block's number).
    fn height(&self) -> u64;
    /// The block at `number`; `None` at or beyond the height.
    fn block(&self, number: u64) -> Result<Option<Block>, BlockStoreError>;
    /// A watch on the height, updated once a new block is readable.
    fn subscribe(&self) -> watch::Receiver<u64>;
}

impl BlockSource for BlockStore {
    fn height(&self) -> u64 {
        BlockStore::height(self)
    }

    fn block(&self, number: u64) -> Result<Option<Block>, BlockStoreError> {
        BlockStore::block(self, number)
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        BlockStore::subscribe(self)
    }
}

/// A request was refused by a channel's access check (or the requester's certificate
/// expired).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("access denied: {reason}")]
pub struct AccessDenied {
    /// Why, for the logs.
    pub reason: String,
}

impl AccessDenied {
    /// A refusal for `reason`.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

impl From<PolicyError> for AccessDenied {
    fn from(e: PolicyError) -> Self {
        Self::new(e.to_string())
    }
}

/// One channel as Deliver sees it.
pub trait DeliverChannel: Send + Sync {
    /// The channel's blocks.
    fn blocks(&self) -> &dyn BlockSource;

    /// The channel's current config sequence. A session re-runs [`Self::authorize`] before
    /// the next block whenever this grew since its last check (Fabric caches the decision
    /// until the config changes).
    fn config_sequence(&self) -> u64;

    /// Whether the seek request's signer may read the channel. `resource` is what the
    /// [`Deliverer`] was built with: the orderer passes a policy path (`/Channel/Readers`),
    /// the peer an ACL resource (`event/Block`, `event/FilteredBlock`). `request` is
    /// `SignedData{data: Envelope.payload, identity: SignatureHeader.creator, signature}`.
    fn authorize(&self, resource: &str, request: &SignedData<'_>) -> Result<(), AccessDenied>;

    /// A watch that turns `true` while the consenter is in error (orderer only): new and
    /// waiting STRICT requests then end with SERVICE_UNAVAILABLE. `None` (the default):
    /// never in error.
    fn consenter_errors(&self) -> Option<watch::Receiver<bool>> {
        None
    }
}

/// Finds channels by id.
pub trait ChannelLookup: Send + Sync {
    /// The channel `channel_id`, if this node serves it.
    fn channel(&self, channel_id: &str) -> Option<Arc<dyn DeliverChannel>>;
}

/// The request a block is sent for, for sinks that need more than the block (private
/// data eligibility, logging).
#[derive(Debug, Clone, Copy)]
pub struct SeekRequest<'a> {
    /// The channel.
    pub channel_id: &'a str,
    /// The decoded seek request.
    pub seek_info: &'a SeekInfo,
    /// The request's signature: the envelope payload, its creator, the signature.
    pub signed_data: &'a SignedData<'a>,
}

/// The sink can take no more responses (the client went away): the stream ends silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the deliver client is gone")]
pub struct SinkClosed;

/// Why a sink did not send a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendBlockError {
    /// The client went away: the stream ends without a status.
    #[error("the deliver client is gone")]
    Closed,
    /// The block could not be turned into a response (e.g. a filtered block failed to
    /// build): the seek ends with this status (not SUCCESS, so the stream ends too).
    #[error("block not sent, ending with status {0:?}")]
    Abort(Status),
}

impl From<SinkClosed> for SendBlockError {
    fn from(_: SinkClosed) -> Self {
        SendBlockError::Closed
    }
}

/// Where the engine writes responses: one per RPC flavour (full blocks, filtered blocks,
/// blocks with private data). Typically a wrapper around the `mpsc::Sender` behind a tonic
/// response stream.
pub trait DeliverSink: Send + Sync {
    /// Sends `block` (or what the RPC makes of it) for `request`.
    fn send_block(
        &mut self,
        block: Block,
        request: &SeekRequest<'_>,
    ) -> impl Future<Output = Result<(), SendBlockError>> + Send;

    /// Sends the final status of a seek request.
    fn send_status(
        &mut self,
        status: Status,
    ) -> impl Future<Output = Result<(), SinkClosed>> + Send;

    /// Completes when the client is gone (e.g. `mpsc::Sender::closed`), so a session waiting
    /// for blocks ends at once. The default never completes: a vanished client is then only
    /// noticed at the next send.
    fn closed(&self) -> impl Future<Output = ()> + Send {
        std::future::pending()
    }
}

/// Server-side settings of a Deliver service.
#[derive(Debug, Clone)]
pub struct DeliverConfig {
    /// Maximum distance between a request's timestamp and now (Fabric: 15 minutes).
    pub time_window: Duration,
    /// Whether client TLS certificates are required: requests must then carry the SHA-256
    /// of the client's certificate in `ChannelHeader.tls_cert_hash`.
    pub mutual_tls: bool,
    /// Whether sessions end when the requester's certificate expires (Fabric's
    /// `NoExpirationChecks` turned around).
    pub check_identity_expiration: bool,
    /// The clock (for the time window and certificate expiry); `SystemTime::now` by default.
    pub clock: fn() -> SystemTime,
}

impl Default for DeliverConfig {
    fn default() -> Self {
        Self {
            time_window: DEFAULT_TIME_WINDOW,
            mutual_tls: false,
            check_identity_expiration: true,
            clock: SystemTime::now,
        }
    }
}

/// What the transport knows about the client of one stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// SHA-256 of the DER certificate the client presented in the TLS handshake, if any.
    pub tls_cert_hash: Option<Vec<u8>>,
}

/// A Deliver service: channels, the resource checked on them, and the settings. Build one
/// per RPC flavour (they differ in `resource` and in the sink used).
#[derive(Clone)]
pub struct Deliverer {
    channels: Arc<dyn ChannelLookup>,
    resource: String,
    config: DeliverConfig,
}

impl fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deliverer")
            .field("resource", &self.resource)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The outcome of one seek before its final status is sent.
enum Outcome {
    /// Send this status.
    Status(Status),
    /// The client is gone: send nothing more.
    ClientGone,
}

impl From<Status> for Outcome {
    fn from(status: Status) -> Self {
        Outcome::Status(status)
    }
}

impl Deliverer {
    /// A service over `channels` that authorizes requests for `resource` (see
    /// [`DeliverChannel::authorize`]).
    pub fn new(
        channels: Arc<dyn ChannelLookup>,
        resource: impl Into<String>,
        config: DeliverConfig,
    ) -> Self {
        Self {
            channels,
            resource: resource.into(),
            config,
        }
    }

    /// Serves one Deliver stream: for each seek envelope read from `incoming`, blocks then a
    /// final status go to `sink`. Returns `Ok` when `incoming` ends, after a non-SUCCESS
    /// status, or when the client is gone; `Err` with the error `incoming` yielded.
    pub async fn serve_stream<S, E, K>(
        &self,
        incoming: S,
        client: &ClientInfo,
        sink: &mut K,
    ) -> Result<(), E>
    where
        S: Stream<Item = Result<Envelope, E>>,
        K: DeliverSink,
    {
        let mut incoming = pin!(incoming);
        loop {
            let next = tokio::select! {
                next = incoming.next() => next,
                () = sink.closed() => return Ok(()),
            };
            let envelope = match next {
                None => return Ok(()),
                Some(Err(e)) => return Err(e),
                Some(Ok(envelope)) => envelope,
            };
            match self.serve_seek(&envelope, client, sink).await {
                Ok(Status::Success) => {}
                Ok(_) | Err(SinkClosed) => return Ok(()),
            }
        }
    }

    /// Serves one seek envelope: sends the blocks, then the final status, and returns that
    /// status. `Err(SinkClosed)` when the client went away (nothing more was sent).
    pub async fn serve_seek<K: DeliverSink>(
        &self,
        envelope: &Envelope,
        client: &ClientInfo,
        sink: &mut K,
    ) -> Result<Status, SinkClosed> {
        match self.deliver_blocks(envelope, client, sink).await {
            Outcome::Status(status) => {
                sink.send_status(status).await?;
                Ok(status)
            }
            Outcome::ClientGone => Err(SinkClosed),
        }
    }

    async fn deliver_blocks<K: DeliverSink>(
        &self,
        envelope: &Envelope,
        client: &ClientInfo,
        sink: &mut K,
    ) -> Outcome {
        let request = match self.parse_envelope(envelope, client) {
            Ok(request) => request,
            Err(reason) => {
                tracing::warn!(%reason, "rejecting deliver request");
                return Status::BadRequest.into();
            }
        };
        let channel_id = request.channel_id();
        let Some(channel) = self.channels.channel(channel_id) else {
            // Debug only: SDKs poll for channels being created.
            tracing::debug!(channel = channel_id, "deliver: channel not found");
            return Status::NotFound.into();
        };
        let seek_info = match SeekInfo::decode(request.data.as_slice()) {
            Ok(seek_info) => seek_info,
            Err(e) => {
                tracing::warn!(channel = channel_id, error = %e, "deliver: malformed SeekInfo");
                return Status::BadRequest.into();
            }
        };
        let mut consenter_errors =
            if seek_info.error_response == SeekErrorResponse::BestEffort as i32 {
                None
            } else {
                channel.consenter_errors()
            };
        if consenter_errors.as_ref().is_some_and(|e| *e.borrow()) {
            tracing::warn!(channel = channel_id, "deliver: consenter in error");
            return Status::ServiceUnavailable.into();
        }

        let signed = request.signed_data();
        let expiry = if self.config.check_identity_expiration {
            Identity::from_serialized(request.creator()).ok()
        } else {
            None
        };
        let mut access = SessionAccess::new(
            channel.as_ref(),
            &self.resource,
            &signed,
            expiry,
            self.config.clock,
        );
        if let Err(e) = access.check() {
            tracing::warn!(channel = channel_id, reason = %e.reason, "deliver: client not authorized");
            return Status::Forbidden.into();
        }

        let (Some(start), Some(stop)) = (&seek_info.start, &seek_info.stop) else {
            tracing::warn!(
                channel = channel_id,
                "deliver: SeekInfo without start or stop"
            );
            return Status::BadRequest.into();
        };
        let source = channel.blocks();
        let mut heights = source.subscribe();
        let range = match seek::resolve(start, stop, source.height()) {
            Ok(range) => range,
            Err(status) => {
                tracing::warn!(
                    channel = channel_id,
                    ?status,
                    "deliver: unusable seek range"
                );
                return status.into();
            }
        };
        let fail_if_not_ready = seek_info.behavior == SeekBehavior::FailIfNotReady as i32;
        let seek_request = SeekRequest {
            channel_id,
            seek_info: &seek_info,
            signed_data: &signed,
        };

        let mut number = range.start;
        loop {
            if fail_if_not_ready && number >= source.height() {
                return Status::NotFound.into();
            }
            if consenter_errors.as_ref().is_some_and(|e| *e.borrow()) {
                return Status::ServiceUnavailable.into();
            }
            if let Some(outcome) =
                wait_for_block(number, &mut heights, &mut consenter_errors, sink).await
            {
                return outcome;
            }
            let block = match source.block(number) {
                Ok(Some(block)) => block,
                Ok(None) => {
                    tracing::error!(
                        channel = channel_id,
                        number,
                        "deliver: block missing below height"
                    );
                    return Status::ServiceUnavailable.into();
                }
                Err(e) => {
                    tracing::error!(channel = channel_id, number, error = %e, "deliver: reading block");
                    return Status::ServiceUnavailable.into();
                }
            };
            if let Err(e) = access.check() {
                tracing::warn!(channel = channel_id, reason = %e.reason, "deliver: authorization revoked");
                return Status::Forbidden.into();
            }
            match sink.send_block(block, &seek_request).await {
                Ok(()) => {}
                Err(SendBlockError::Closed) => return Outcome::ClientGone,
                Err(SendBlockError::Abort(status)) => return status.into(),
            }
            if number == range.stop {
                return Status::Success.into();
            }
            number += 1;
        }
    }

    /// Fabric's `parseEnvelope` + `validateChannelHeader`: headers decode, timestamp within
    /// the window, TLS binding when mutual TLS is on.
    fn parse_envelope(
        &self,
        envelope: &Envelope,
        client: &ClientInfo,
    ) -> Result<UnpackedEnvelope, String> {
        let request = unpack_envelope(envelope).map_err(|e| e.to_string())?;
        let timestamp = request
            .channel_header
            .timestamp
            .as_ref()
            .ok_or("channel header has no timestamp")?;
        if !within_window(timestamp, (self.config.clock)(), self.config.time_window) {
            return Err(format!(
                "timestamp {timestamp} is more than {:?} away from now",
                self.config.time_window
            ));
        }
        if self.config.mutual_tls {
            let claimed = &request.channel_header.tls_cert_hash;
            if claimed.is_empty() {
                return Err("client did not include its TLS certificate hash".into());
            }
            match client.tls_cert_hash.as_deref() {
                None | Some([]) => return Err("client did not send a TLS certificate".into()),
                Some(actual) if actual != claimed.as_slice() => {
                    return Err(format!(
                        "claimed TLS certificate hash {} is not the actual one {}",
                        hex::encode(claimed),
                        hex::encode(actual)
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(request)
    }
}

/// Waits until block `number` exists. `None` when it does; otherwise how the seek ends
/// (SERVICE_UNAVAILABLE when the source or the consenter fails, or the client is gone).
async fn wait_for_block<K: DeliverSink>(
    number: u64,
    heights: &mut watch::Receiver<u64>,
    consenter_errors: &mut Option<watch::Receiver<bool>>,
    sink: &K,
) -> Option<Outcome> {
    if *heights.borrow() > number {
        return None;
    }
    tokio::select! {
        reached = heights.wait_for(|height| *height > number) => {
            if reached.is_ok() {
                None
            } else {
                tracing::warn!(number, "deliver: block source closed while waiting");
                Some(Status::ServiceUnavailable.into())
            }
        }
        () = consenter_failure(consenter_errors) => {
            tracing::warn!(number, "deliver: consenter error while waiting");
            Some(Status::ServiceUnavailable.into())
        }
        () = sink.closed() => Some(Outcome::ClientGone),
    }
}

/// Completes when the consenter reports an error; never if there is no watch or its sender
/// is gone.
async fn consenter_failure(errors: &mut Option<watch::Receiver<bool>>) {
    if let Some(errors) = errors
        && errors.wait_for(|errored| *errored).await.is_ok()
    {
        return;
    }
    std::future::pending().await
}

/// Whether `timestamp` is at most `window` away from `now`, either way.
fn within_window(timestamp: &Timestamp, now: SystemTime, window: Duration) -> bool {
    let to_i128 = |nanos: u128| i128::try_from(nanos).unwrap_or(i128::MAX);
    let now_nanos = match now.duration_since(UNIX_EPOCH) {
        Ok(since) => to_i128(since.as_nanos()),
        Err(before) => -to_i128(before.duration().as_nanos()),
    };
    let stamp_nanos = i128::from(timestamp.seconds) * 1_000_000_000 + i128::from(timestamp.nanos);
    (now_nanos - stamp_nanos).abs() <= to_i128(window.as_nanos())
}
