//! The peer's deliver client: one task per channel pulling blocks from the channel's
//! ordering service (`/orderer.AtomicBroadcast/Deliver`) and handing verified blocks, in
//! order, to the committer through a bounded [`BlockBuffer`] (Fabric's
//! `internal/pkg/peer/blocksprovider.Deliverer`, v2.5, without gossip).
//!
//! Per connection attempt the client takes the next orderer of a shuffled round-robin over
//! the current [`OrdererEndpoint`]s, dials it (TLS with the endpoint's CA certificates
//! and, for mutual TLS, the peer's client certificate, within
//! [`DeliverClientConfig::conn_timeout`]) and sends one signed seek request
//! ([`seek_envelope`]): from the next block it needs to `u64::MAX`, BLOCK_UNTIL_READY.
//! Then, for each response:
//!
//! - a block must carry the next number and pass the [`BlockVerifier`]; it is put in the
//!   buffer (waiting for room), the next number advances and the failure count resets;
//! - a wrong number, a block failing verification, any status (SUCCESS included — the
//!   seek never completes — and FORBIDDEN, NOT_FOUND, SERVICE_UNAVAILABLE, BAD_REQUEST…),
//!   a stream error or the stream ending are failures: the client disconnects and, after
//!   the [`backoff_delay`], tries the next orderer.
//!
//! A change of the endpoint list (the peer publishes a new one when a config block
//! commits) makes the client disconnect and reconnect over the new list, without counting
//! a failure. After [`DeliverClientConfig::reconnect_total_time_threshold`] of consecutive
//! backoff sleeps, a client that is not a static leader gives up
//! ([`DeliverExit::GaveUp`]).
//!
//! Stopping: [`DeliverHandle::stop`] or dropping the [`DeliverHandle`]; the task ends at
//! once wherever it waits (connecting, reading, sleeping, waiting for buffer room).
//!
//! Deliberate difference from Fabric: the total retry time counts consecutive failures
//! only (it resets with the failure count when a block arrives); Fabric never resets it,
//! so a long-lived non-leader peer eventually gives up after a single failure.

mod backoff;
mod buffer;
mod endpoints;
mod seek;
mod verifier;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use weft_common::crypto::Signer;
use weft_common::grpc::{self, ClientOptions, ClientTls, GrpcError};
use weft_common::protoutil::{self, ProtoError};
use weft_common::tls::{self, TlsError};
use weft_proto::common::{Block, BlockHeader, Status};
use weft_proto::orderer::atomic_broadcast_client::AtomicBroadcastClient;
use weft_proto::orderer::{DeliverResponse, deliver_response};

pub use backoff::{BACKOFF_EXPONENT_BASE, INITIAL_RETRY_DELAY, backoff_delay};
pub use buffer::{BlockBuffer, BlockBufferSender, DEFAULT_BUFFER_CAPACITY, block_buffer};
pub use endpoints::{AddressOverride, OrdererEndpoint, orderer_endpoints};
pub use seek::{seek_envelope, seek_info};
pub use verifier::{
    BLOCK_VALIDATION_POLICY, BlockVerifier, ChannelConfigVerifier, ConfigSource, VerifyError,
};

use endpoints::EndpointRotation;

/// The deliver client's settings (`peer.deliveryclient.*` and `peer.keepalive.deliveryClient.*`
/// of core.yaml), with Fabric's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverClientConfig {
    /// Deadline for TCP + TLS + HTTP/2 setup and for the Deliver RPC to open
    /// (`connTimeout`, 3 s).
    pub conn_timeout: Duration,
    /// The longest sleep between two attempts (`reConnectBackoffThreshold`, 3600 s).
    pub reconnect_backoff_threshold: Duration,
    /// How long consecutive failures may keep the client sleeping before it gives up
    /// (`reconnectTotalTimeThreshold`, 3600 s); ignored by a static leader.
    pub reconnect_total_time_threshold: Duration,
    /// Never give up (Fabric's static org leader: `gossip.orgLeader` true without leader
    /// election, core.yaml's default; Weft has no gossip, so every peer pulls).
    pub static_leader: bool,
    /// Client keepalive ping interval (`peer.keepalive.deliveryClient.interval`, 60 s).
    pub keepalive_interval: Duration,
    /// Client keepalive ping timeout (`peer.keepalive.deliveryClient.timeout`, 20 s).
    pub keepalive_timeout: Duration,
    /// Largest accepted response (`peer.maxRecvMsgSize`, 100 MiB).
    pub max_recv_msg_size: usize,
    /// Largest request sent (`peer.maxSendMsgSize`, 100 MiB).
    pub max_send_msg_size: usize,
    /// TLS towards the orderers (`peer.tls.enabled`); `None` dials in plaintext.
    pub tls: Option<ClientTlsConfig>,
}

impl Default for DeliverClientConfig {
    fn default() -> Self {
        Self {
            conn_timeout: Duration::from_secs(3),
            reconnect_backoff_threshold: Duration::from_secs(3600),
            reconnect_total_time_threshold: Duration::from_secs(3600),
            static_leader: true,
            keepalive_interval: Duration::from_secs(60),
            keepalive_timeout: Duration::from_secs(20),
            max_recv_msg_size: grpc::DEFAULT_MAX_RECV_MSG_SIZE,
            max_send_msg_size: grpc::DEFAULT_MAX_SEND_MSG_SIZE,
            tls: None,
        }
    }
}

/// TLS settings of the deliver client; the CA certificates come with each endpoint.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClientTlsConfig {
    /// The peer's client certificate chain and key (PEM) for orderers requiring mutual
    /// TLS (`peer.tls.clientCert.file`, `peer.tls.clientKey.file`). When set, seek
    /// requests carry its hash in `ChannelHeader.tls_cert_hash`.
    pub client_certificate: Option<(Vec<u8>, Vec<u8>)>,
}

impl fmt::Debug for ClientTlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTlsConfig")
            .field("client_certificate", &self.client_certificate.is_some())
            .finish()
    }
}

/// Where pulling starts: the ledger's height and the header hash of its last block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartPosition {
    /// The first block to ask for (the ledger height).
    pub next_block: u64,
    /// The header hash of block `next_block − 1` (empty when starting at 0).
    pub previous_hash: Vec<u8>,
}

impl StartPosition {
    /// The position right after the block with `header` (the ledger's last block).
    pub fn after(header: &BlockHeader) -> Self {
        Self {
            next_block: header.number.saturating_add(1),
            previous_hash: protoutil::block_header_hash(header).to_vec(),
        }
    }
}

/// Why a deliver client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DeliverClientError {
    /// The client TLS certificate or key is unreadable.
    #[error("bad client TLS certificate or key: {0}")]
    ClientCertificate(#[from] TlsError),
}

/// Why the deliver task ended.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliverExit {
    /// Stopped through its handle (or the handle was dropped).
    Stopped,
    /// Not a static leader, and the consecutive retries exceeded the total time threshold.
    GaveUp {
        /// The backoff sleeps counted when giving up.
        retried_for: Duration,
    },
    /// The committer's end of the buffer is gone.
    BufferClosed,
    /// The seek request could not be signed (Fabric gives up likewise).
    SeekRequest(ProtoError),
    /// The task panicked or was aborted.
    Aborted(String),
}

/// Counters of one deliver client, for metrics.
#[derive(Debug, Default)]
pub struct DeliverStats {
    blocks_received: AtomicU64,
    reconnects: AtomicU64,
    connection_failures: AtomicU64,
    stream_failures: AtomicU64,
    verification_failures: AtomicU64,
    next_block: AtomicU64,
}

/// A snapshot of [`DeliverStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliverCounters {
    /// Blocks verified and buffered.
    pub blocks_received: u64,
    /// Connection attempts after the first one.
    pub reconnects: u64,
    /// Attempts that did not get a Deliver stream open (no endpoint, dial, TLS, RPC).
    pub connection_failures: u64,
    /// Streams that ended in failure: status, error, hang-up, out-of-order block.
    pub stream_failures: u64,
    /// Blocks refused by the verifier (each also ends its stream).
    pub verification_failures: u64,
    /// The next block number the client will ask for.
    pub next_block: u64,
}

impl DeliverStats {
    /// The current values.
    pub fn snapshot(&self) -> DeliverCounters {
        DeliverCounters {
            blocks_received: self.blocks_received.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            connection_failures: self.connection_failures.load(Ordering::Relaxed),
            stream_failures: self.stream_failures.load(Ordering::Relaxed),
            verification_failures: self.verification_failures.load(Ordering::Relaxed),
            next_block: self.next_block.load(Ordering::Relaxed),
        }
    }

    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A running deliver client. Dropping it stops the task (as [`DeliverHandle::stop`]).
#[derive(Debug)]
pub struct DeliverHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<DeliverExit>,
    stats: Arc<DeliverStats>,
}

impl DeliverHandle {
    /// Asks the task to stop; it ends at its next await point.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Waits for the task to end.
    pub async fn join(self) -> DeliverExit {
        let Self { stop, task, .. } = self;
        let exit = task.await;
        drop(stop);
        exit.unwrap_or_else(|e| DeliverExit::Aborted(e.to_string()))
    }

    /// Stops the task and waits for it to end.
    pub async fn shutdown(self) -> DeliverExit {
        self.stop();
        self.join().await
    }

    /// Whether the task has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// The client's counters.
    pub fn stats(&self) -> &Arc<DeliverStats> {
        &self.stats
    }

    /// A snapshot of the client's counters.
    pub fn counters(&self) -> DeliverCounters {
        self.stats.snapshot()
    }
}

/// A deliver client for one channel, ready to [`spawn`](DeliverClient::spawn).
pub struct DeliverClient {
    channel_id: String,
    config: DeliverClientConfig,
    signer: Arc<dyn Signer>,
    endpoints: watch::Receiver<Vec<OrdererEndpoint>>,
    verifier: Arc<dyn BlockVerifier>,
    tls_cert_hash: Option<Vec<u8>>,
    shuffle_endpoints: bool,
}

impl fmt::Debug for DeliverClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeliverClient")
            .field("channel_id", &self.channel_id)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// How one connection ended.
enum Outcome {
    /// The endpoint list changed: reconnect at once.
    Refreshed,
    /// A failure: back off, then try another orderer.
    Failed(Failure),
}

/// Why a connection attempt or stream failed (logged, then retried).
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("no orderer endpoints are currently defined")]
    NoEndpoints,
    #[error("cannot build the TLS client config: {0}")]
    Tls(#[from] TlsError),
    #[error("{0}")]
    Connect(#[from] GrpcError),
    #[error("the Deliver RPC failed: {0}")]
    Rpc(tonic::Status),
    #[error("the orderer hung up without sending a status")]
    HungUp,
    #[error("received status {} from the orderer", status_name(*.0))]
    Status(i32),
    #[error("received an empty response")]
    EmptyResponse,
    #[error("received a block without a header")]
    NoHeader,
    #[error("received block {found}, expected block {expected}")]
    OutOfOrder { expected: u64, found: u64 },
    #[error("block from orderer could not be verified: {0}")]
    Verify(#[from] VerifyError),
}

/// `SUCCESS`, `FORBIDDEN`…, or the number for values outside the enum.
fn status_name(status: i32) -> String {
    Status::try_from(status)
        .map(|s| s.as_str_name().to_owned())
        .unwrap_or_else(|_| status.to_string())
}

/// Completes once a stop is requested or the handle is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// The responses of one Deliver RPC, the RPC's own failure included; ends when the
/// orderer closes the stream.
type DeliverStream = BoxStream<'static, Result<DeliverResponse, tonic::Status>>;

impl DeliverClient {
    /// A client for `channel_id`, signing seek requests with `signer` (the peer's
    /// identity), dialing the orderers of `endpoints` (the current list; the peer sends a
    /// new one when a config block commits) and checking blocks with `verifier`.
    pub fn new(
        channel_id: impl Into<String>,
        config: DeliverClientConfig,
        signer: Arc<dyn Signer>,
        endpoints: watch::Receiver<Vec<OrdererEndpoint>>,
        verifier: Arc<dyn BlockVerifier>,
    ) -> Result<Self, DeliverClientError> {
        let tls_cert_hash = match config
            .tls
            .as_ref()
            .and_then(|t| t.client_certificate.as_ref())
        {
            Some((cert, key)) => {
                let chain = tls::certificates_from_pem(cert, "client TLS certificate")?;
                tls::private_key_from_pem(key, "client TLS key")?;
                chain.first().map(|leaf| tls::cert_hash(leaf).to_vec())
            }
            None => None,
        };
        Ok(Self {
            channel_id: channel_id.into(),
            config,
            signer,
            endpoints,
            verifier,
            tls_cert_hash,
            shuffle_endpoints: true,
        })
    }

    /// Starts pulling from `start` into `buffer` on the current tokio runtime.
    pub fn spawn(self, start: StartPosition, buffer: BlockBufferSender) -> DeliverHandle {
        let (stop_tx, stop_rx) = watch::channel(false);
        let stats = Arc::new(DeliverStats::default());
        stats.next_block.store(start.next_block, Ordering::Relaxed);
        let task = tokio::spawn(self.run(start, buffer, stop_rx, stats.clone()));
        DeliverHandle {
            stop: stop_tx,
            task,
            stats,
        }
    }

    /// The task: connect, receive, back off, until stopped or giving up.
    async fn run(
        self,
        start: StartPosition,
        buffer: BlockBufferSender,
        mut stop: watch::Receiver<bool>,
        stats: Arc<DeliverStats>,
    ) -> DeliverExit {
        let channel = self.channel_id.as_str();
        let mut endpoints_rx = self.endpoints.clone();
        let mut endpoints_open = true;
        let mut rotation = EndpointRotation::new(self.shuffle_endpoints);
        let mut next = start.next_block;
        let mut previous_hash = start.previous_hash;
        let mut failures: u32 = 0;
        let mut retried_for = Duration::ZERO;
        let mut attempts: u64 = 0;

        loop {
            if *stop.borrow() || stop.has_changed().is_err() {
                return DeliverExit::Stopped;
            }
            if failures > 0 {
                let delay = backoff_delay(failures, self.config.reconnect_backoff_threshold);
                retried_for += delay;
                if retried_for > self.config.reconnect_total_time_threshold {
                    if !self.config.static_leader {
                        tracing::warn!(
                            channel,
                            threshold = ?self.config.reconnect_total_time_threshold,
                            "retried block delivery for longer than \
                             peer.deliveryclient.reconnectTotalTimeThreshold; giving up"
                        );
                        return DeliverExit::GaveUp { retried_for };
                    }
                    tracing::warn!(
                        channel,
                        "peer is a static leader, ignoring \
                         peer.deliveryclient.reconnectTotalTimeThreshold"
                    );
                }
                tracing::warn!(
                    channel,
                    failures,
                    ?delay,
                    "disconnected from the ordering service; reconnecting after the delay"
                );
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = stopped(&mut stop) => return DeliverExit::Stopped,
                }
            }

            let current = endpoints_rx.borrow_and_update().clone();
            let Some(endpoint) = rotation.next(&current) else {
                tracing::warn!(channel, "cannot connect: {}", Failure::NoEndpoints);
                DeliverStats::bump(&stats.connection_failures);
                failures = failures.saturating_add(1);
                continue;
            };
            attempts += 1;
            if attempts > 1 {
                DeliverStats::bump(&stats.reconnects);
            }
            let address = endpoint.address.as_str();

            let envelope = match seek_envelope(
                channel,
                self.signer.as_ref(),
                next,
                self.tls_cert_hash.as_deref(),
            ) {
                Ok(envelope) => envelope,
                Err(e) => {
                    tracing::error!(channel, error = %e, "cannot sign the seek request");
                    return DeliverExit::SeekRequest(e);
                }
            };
            let opened = tokio::select! {
                opened = self.open_stream(&endpoint, envelope) => opened,
                () = stopped(&mut stop) => return DeliverExit::Stopped,
            };
            let mut stream = match opened {
                Ok(stream) => stream,
                Err(e) => {
                    tracing::warn!(channel, endpoint = address, error = %e, "cannot connect to the orderer");
                    DeliverStats::bump(&stats.connection_failures);
                    failures = failures.saturating_add(1);
                    continue;
                }
            };
            tracing::info!(
                channel,
                endpoint = address,
                next_block = next,
                "pulling blocks from the ordering service"
            );

            let outcome = loop {
                tokio::select! {
                    () = stopped(&mut stop) => return DeliverExit::Stopped,
                    changed = endpoints_rx.changed(), if endpoints_open => {
                        if changed.is_err() {
                            endpoints_open = false;
                        } else if *endpoints_rx.borrow_and_update() != current {
                            break Outcome::Refreshed;
                        }
                    }
                    message = stream.next() => {
                        let block = match block_of(message, next) {
                            Ok(block) => block,
                            Err(e) => break Outcome::Failed(e),
                        };
                        if let Err(e) = self.verifier.verify_block(&block, next, &previous_hash) {
                            DeliverStats::bump(&stats.verification_failures);
                            break Outcome::Failed(e.into());
                        }
                        let hash = block
                            .header
                            .as_ref()
                            .map(|h| protoutil::block_header_hash(h).to_vec())
                            .unwrap_or_default();
                        tracing::debug!(channel, endpoint = address, block = next, "buffering block");
                        tokio::select! {
                            sent = buffer.send(block) => if sent.is_err() {
                                tracing::info!(channel, "the block buffer is closed; stopping");
                                return DeliverExit::BufferClosed;
                            },
                            () = stopped(&mut stop) => return DeliverExit::Stopped,
                        }
                        next += 1;
                        previous_hash = hash;
                        failures = 0;
                        retried_for = Duration::ZERO;
                        DeliverStats::bump(&stats.blocks_received);
                        stats.next_block.store(next, Ordering::Relaxed);
                    }
                }
            };
            drop(stream);
            match outcome {
                Outcome::Refreshed => tracing::info!(
                    channel,
                    endpoint = address,
                    "orderer endpoints changed; reconnecting over the new list"
                ),
                Outcome::Failed(e) => {
                    if !matches!(e, Failure::Verify(_)) {
                        DeliverStats::bump(&stats.stream_failures);
                    }
                    tracing::warn!(channel, endpoint = address, error = %e, "disconnecting from the orderer");
                    failures = failures.saturating_add(1);
                }
            }
        }
    }

    /// Dials `endpoint` (within [`DeliverClientConfig::conn_timeout`]) and starts the
    /// Deliver RPC with `envelope` as its only request.
    ///
    /// The RPC itself is not awaited here: a Go orderer sends the response headers only
    /// with the first block, so a peer at the head of the chain would otherwise wait for
    /// the next block to be cut before it is "connected". The returned stream yields the
    /// RPC's failure, if any, as its first item.
    async fn open_stream(
        &self,
        endpoint: &OrdererEndpoint,
        envelope: weft_proto::common::Envelope,
    ) -> Result<DeliverStream, Failure> {
        let tls = self.client_tls(endpoint)?;
        let options = ClientOptions {
            keepalive_interval: self.config.keepalive_interval,
            keepalive_timeout: self.config.keepalive_timeout,
            connect_timeout: self.config.conn_timeout,
        };
        let channel = grpc::connect(&endpoint.address, tls, &options).await?;
        let mut client = AtomicBroadcastClient::new(channel)
            .max_decoding_message_size(self.config.max_recv_msg_size)
            .max_encoding_message_size(self.config.max_send_msg_size);
        // The request side stays open, as Fabric's client never half-closes it.
        let requests = tokio_stream::once(envelope).chain(tokio_stream::pending());
        let rpc = async move { client.deliver(requests).await };
        Ok(futures::stream::once(rpc)
            .flat_map(|opened| match opened {
                Ok(response) => response.into_inner().left_stream(),
                Err(status) => futures::stream::once(async { Err(status) }).right_stream(),
            })
            .boxed())
    }

    /// The TLS settings for `endpoint`, or `None` for plaintext.
    fn client_tls(&self, endpoint: &OrdererEndpoint) -> Result<Option<ClientTls>, TlsError> {
        let Some(settings) = &self.config.tls else {
            return Ok(None);
        };
        let roots = endpoint.root_certs.join(&b"\n"[..]);
        let identity = settings
            .client_certificate
            .as_ref()
            .map(|(cert, key)| (cert.as_slice(), key.as_slice()));
        let config = tls::client_config_from_pem(&roots, identity)?;
        Ok(Some(ClientTls {
            config,
            server_name_override: None,
        }))
    }
}

/// The block of a stream message expected to be block `next`.
fn block_of(
    message: Option<Result<DeliverResponse, tonic::Status>>,
    next: u64,
) -> Result<Block, Failure> {
    let response = match message {
        Some(Ok(response)) => response,
        None => return Err(Failure::HungUp),
        Some(Err(status)) => return Err(Failure::Rpc(status)),
    };
    match response.r#type {
        Some(deliver_response::Type::Block(block)) => {
            let found = block.header.as_ref().ok_or(Failure::NoHeader)?.number;
            if found != next {
                return Err(Failure::OutOfOrder {
                    expected: next,
                    found,
                });
            }
            Ok(block)
        }
        Some(deliver_response::Type::Status(status)) => Err(Failure::Status(status)),
        None => Err(Failure::EmptyResponse),
    }
}
