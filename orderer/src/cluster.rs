//! Node-to-node traffic: Raft messages and envelopes forwarded to the leader, over
//! Fabric's `/orderer.Cluster/Step` bidirectional stream with mutual TLS.
//!
//! Outbound, one long-lived stream per remote endpoint carries every channel's traffic;
//! it reconnects with backoff, and messages sent while it is down are dropped (Raft
//! retransmits). Inbound, a consenter is recognised by its TLS client certificate: the
//! certificate's hash must be the `client_tls_cert` of a consenter of the message's
//! channel, and a Raft message must come `from` that consenter's id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use protobuf::Message as _;
use raft::eraftpb::Message as RaftMessage;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use weft_common::grpc::{self, ClientTls};
use weft_proto::common::{Envelope, HeaderType};
use weft_proto::orderer::cluster_client::ClusterClient;
use weft_proto::orderer::cluster_server;
use weft_proto::orderer::{
    ConsensusRequest, StepRequest, StepResponse, SubmitRequest, step_request,
};

use crate::consensus::chain::{Chain, Transport};

/// Messages queued per remote endpoint before new ones are dropped.
const LINK_QUEUE: usize = 8192;

/// One consenter of a channel, as the transport needs it.
#[derive(Debug, Clone)]
pub struct Member {
    /// Raft id.
    pub id: u64,
    /// `host:port` of its cluster endpoint.
    pub endpoint: String,
    /// The TLS server name to expect (the consenter's host).
    pub server_name: String,
    /// SHA-256 of its TLS client certificate (DER).
    pub client_cert_hash: [u8; 32],
}

#[derive(Debug, Default)]
struct ChannelMembers {
    by_id: HashMap<u64, Member>,
}

/// Finds the running chain of a channel (the registrar).
pub trait ChainLookup: Send + Sync + 'static {
    /// The chain of `channel`, if this node runs one.
    fn chain(&self, channel: &str) -> Option<Chain>;
}

/// The cluster transport and the `Cluster` gRPC service.
pub struct Cluster {
    runtime: tokio::runtime::Handle,
    tls: Option<ClientTls>,
    channels: RwLock<HashMap<String, ChannelMembers>>,
    links: Mutex<HashMap<String, mpsc::Sender<StepRequest>>>,
    chains: RwLock<Option<Arc<dyn ChainLookup>>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// A transport dialing with `tls` (None only for single-node development setups).
    pub fn new(runtime: tokio::runtime::Handle, tls: Option<ClientTls>) -> Arc<Self> {
        Arc::new(Self {
            runtime,
            tls,
            channels: RwLock::new(HashMap::new()),
            links: Mutex::new(HashMap::new()),
            chains: RwLock::new(None),
        })
    }

    /// Connects the inbound side to the registrar's chains.
    pub fn set_chains(&self, chains: Arc<dyn ChainLookup>) {
        *self.chains.write().unwrap_or_else(|p| p.into_inner()) = Some(chains);
    }

    /// Sets (or replaces) the consenters of `channel`.
    pub fn set_members(&self, channel: &str, members: Vec<Member>) {
        let by_id = members.into_iter().map(|m| (m.id, m)).collect();
        self.channels
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(channel.to_owned(), ChannelMembers { by_id });
    }

    /// Forgets `channel` (removed from this node).
    pub fn remove_channel(&self, channel: &str) {
        self.channels
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(channel);
    }

    /// The consenter `id` of `channel`.
    pub fn member_info(&self, channel: &str, id: u64) -> Option<Member> {
        self.member(channel, id)
    }

    fn member(&self, channel: &str, id: u64) -> Option<Member> {
        self.channels
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(channel)?
            .by_id
            .get(&id)
            .cloned()
    }

    fn member_by_cert(&self, channel: &str, cert_hash: &[u8; 32]) -> Option<u64> {
        let channels = self.channels.read().unwrap_or_else(|p| p.into_inner());
        channels
            .get(channel)?
            .by_id
            .values()
            .find(|m| &m.client_cert_hash == cert_hash)
            .map(|m| m.id)
    }

    fn enqueue(&self, member: &Member, request: StepRequest) {
        let mut links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        let sender = links
            .entry(member.endpoint.clone())
            .or_insert_with(|| self.spawn_link(member));
        if sender.try_send(request).is_err() {
            tracing::debug!(endpoint = %member.endpoint, "cluster link queue full or closed; dropping a message");
            if sender.is_closed() {
                links.remove(&member.endpoint);
            }
        }
    }

    fn spawn_link(&self, member: &Member) -> mpsc::Sender<StepRequest> {
        let (tx, rx) = mpsc::channel(LINK_QUEUE);
        let endpoint = member.endpoint.clone();
        let tls = self.tls.clone().map(|mut t| {
            if t.server_name_override.is_none() {
                t.server_name_override = Some(member.server_name.clone());
            }
            t
        });
        self.runtime.spawn(run_link(endpoint, tls, rx));
        tx
    }

    /// Handles one inbound request from the stream of a peer whose client certificate hash is `cert`.
    fn receive(&self, cert: Option<[u8; 32]>, request: StepRequest) -> Result<(), String> {
        let chains = self
            .chains
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or("not serving channels yet")?;
        match request.payload {
            Some(step_request::Payload::ConsensusRequest(req)) => {
                let from = self.authenticate(&req.channel, cert)?;
                let message = RaftMessage::parse_from_bytes(&req.payload)
                    .map_err(|e| format!("bad raft message: {e}"))?;
                if let Some(from) = from
                    && message.from != from
                {
                    return Err(format!(
                        "raft message claims to be from {} but the sender is {from}",
                        message.from
                    ));
                }
                let chain = chains
                    .chain(&req.channel)
                    .ok_or_else(|| format!("no chain for channel {}", req.channel))?;
                chain.step(message);
            }
            Some(step_request::Payload::SubmitRequest(req)) => {
                self.authenticate(&req.channel, cert)?;
                let envelope = req.payload.ok_or("submit request without an envelope")?;
                let chain = chains
                    .chain(&req.channel)
                    .ok_or_else(|| format!("no chain for channel {}", req.channel))?;
                let is_config = weft_common::protoutil::channel_header_of(&envelope)
                    .map(|h| h.r#type == HeaderType::Config as i32)
                    .unwrap_or(false);
                chain.forwarded(
                    prost::Message::encode_to_vec(&envelope),
                    is_config.then_some(req.last_validation_seq),
                );
            }
            None => return Err("empty step request".into()),
        }
        Ok(())
    }

    /// The sender's consenter id; `None` when cluster TLS is off (single-node development).
    fn authenticate(&self, channel: &str, cert: Option<[u8; 32]>) -> Result<Option<u64>, String> {
        if self.tls.is_none() {
            return Ok(None);
        }
        let cert = cert.ok_or("cluster request without a TLS client certificate")?;
        self.member_by_cert(channel, &cert)
            .map(Some)
            .ok_or_else(|| {
                format!("TLS client certificate is not a consenter of channel {channel}")
            })
    }
}

impl Transport for Cluster {
    fn send(&self, channel: &str, to: u64, message: RaftMessage) {
        let Some(member) = self.member(channel, to) else {
            tracing::debug!(channel, to, "raft message for an unknown consenter");
            return;
        };
        let payload = message.write_to_bytes().unwrap_or_default();
        let request = StepRequest {
            payload: Some(step_request::Payload::ConsensusRequest(ConsensusRequest {
                channel: channel.to_owned(),
                payload,
                metadata: Vec::new(),
            })),
        };
        self.enqueue(&member, request);
    }

    fn forward(&self, channel: &str, to: u64, envelope: Vec<u8>, config_sequence: Option<u64>) {
        let Some(member) = self.member(channel, to) else {
            return;
        };
        let Ok(envelope) = <Envelope as prost::Message>::decode(envelope.as_slice()) else {
            return;
        };
        let request = StepRequest {
            payload: Some(step_request::Payload::SubmitRequest(SubmitRequest {
                channel: channel.to_owned(),
                last_validation_seq: config_sequence.unwrap_or_default(),
                payload: Some(envelope),
            })),
        };
        self.enqueue(&member, request);
    }
}

/// Keeps one outbound Step stream to `endpoint` alive, feeding it from `rx`; ends when
/// every sender is gone.
async fn run_link(endpoint: String, tls: Option<ClientTls>, mut rx: mpsc::Receiver<StepRequest>) {
    let mut backoff = Duration::from_millis(50);
    loop {
        let channel = match grpc::channel(&endpoint, tls.clone()) {
            Ok(channel) => channel,
            Err(e) => {
                tracing::warn!(%endpoint, error = %e, "cluster endpoint unusable");
                return;
            }
        };
        let mut client = ClusterClient::new(channel)
            .max_decoding_message_size(256 << 20)
            .max_encoding_message_size(256 << 20);
        let (out_tx, out_rx) = mpsc::channel::<StepRequest>(256);
        let mut call = Box::pin(client.step(ReceiverStream::new(out_rx)));
        let mut inbound: Option<tonic::Streaming<StepResponse>> = None;
        let mut sent_any = false;
        loop {
            tokio::select! {
                message = rx.recv() => match message {
                    None => return,
                    Some(message) => {
                        if out_tx.send(message).await.is_err() {
                            break;
                        }
                        sent_any = true;
                    }
                },
                response = &mut call, if inbound.is_none() => match response {
                    Ok(response) => inbound = Some(response.into_inner()),
                    Err(status) => {
                        tracing::debug!(%endpoint, %status, "cluster stream failed");
                        break;
                    }
                },
                item = async { inbound.as_mut().expect("guarded").next().await }, if inbound.is_some() => {
                    if !matches!(item, Some(Ok(_))) {
                        break;
                    }
                }
            }
        }
        if sent_any {
            backoff = Duration::from_millis(50);
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// The inbound `Cluster` service.
#[derive(Debug, Clone)]
pub struct ClusterService {
    cluster: Arc<Cluster>,
}

impl ClusterService {
    /// Serves inbound cluster traffic into `cluster`'s chains.
    pub fn new(cluster: Arc<Cluster>) -> Self {
        Self { cluster }
    }
}

#[tonic::async_trait]
impl cluster_server::Cluster for ClusterService {
    type StepStream = ReceiverStream<Result<StepResponse, tonic::Status>>;

    async fn step(
        &self,
        request: tonic::Request<tonic::Streaming<StepRequest>>,
    ) -> Result<tonic::Response<Self::StepStream>, tonic::Status> {
        let cert = grpc::client_cert_hash(&request);
        let mut inbound = request.into_inner();
        let cluster = self.cluster.clone();
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(async move {
            // Holding `tx` keeps the response stream open while the peer sends.
            let _keep_open = tx;
            while let Some(item) = inbound.next().await {
                match item {
                    Ok(request) => {
                        if let Err(e) = cluster.receive(cert, request) {
                            tracing::warn!(error = %e, "rejected cluster message");
                        }
                    }
                    Err(_) => break,
                }
            }
        });
        Ok(tonic::Response::new(ReceiverStream::new(rx)))
    }
}
