//! An in-process ordering service: `/orderer.AtomicBroadcast/Deliver` served by the
//! shared Deliver engine over prepared blocks, with faults on demand.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures::{Stream, StreamExt};
use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use weft_common::channelconfig::ChannelConfig;
use weft_common::deliver::{
    AccessDenied, BlockSource, ChannelLookup, ClientInfo, DeliverChannel, DeliverConfig,
    DeliverSink, Deliverer, MemoryBlockSource, SeekRequest, SendBlockError, SinkClosed,
};
use weft_common::grpc::{self, ServerOptions};
use weft_common::policy::SignedData;
use weft_proto::common::{Block, Envelope, Payload, Status};
use weft_proto::orderer::atomic_broadcast_server::{AtomicBroadcast, AtomicBroadcastServer};
use weft_proto::orderer::{
    BroadcastResponse, DeliverResponse, SeekInfo, deliver_response, seek_position,
};

use super::network::{CHANNEL, TlsPair};

/// How the fake answers seek requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Serves its blocks.
    Serve,
    /// Does not know the channel (NOT_FOUND).
    NoChannel,
    /// Refuses the requester (FORBIDDEN).
    Forbid,
}

/// What a fake orderer serves and what it saw.
pub struct FakeState {
    /// The blocks served: block `n` is the `n`-th (numbers are not checked).
    pub blocks: MemoryBlockSource,
    mode: Mode,
    config: Arc<ChannelConfig>,
    /// For successive streams: end the stream (without a status) after this many blocks.
    drop_after: Mutex<VecDeque<usize>>,
    /// The start block of every seek request received.
    seeks: Mutex<Vec<u64>>,
    /// Send the response headers only with the first response, as grpc-go does.
    lazy_headers: AtomicBool,
}

impl FakeState {
    /// The starts of the seek requests received so far.
    pub fn seeks(&self) -> Vec<u64> {
        self.seeks.lock().expect("seeks").clone()
    }

    /// Ends the next streams after `counts` blocks each, in order.
    pub fn drop_streams_after(&self, counts: &[usize]) {
        self.drop_after
            .lock()
            .expect("drop_after")
            .extend(counts.iter().copied());
    }

    /// Holds the response headers back until the first response, as a Go orderer does.
    pub fn send_headers_with_first_response(&self) {
        self.lazy_headers.store(true, Ordering::Relaxed);
    }

    fn record(&self, envelope: &Envelope) {
        let start = Payload::decode(envelope.payload.as_slice())
            .ok()
            .and_then(|p| SeekInfo::decode(p.data.as_slice()).ok())
            .and_then(|s| s.start)
            .and_then(|s| match s.r#type {
                Some(seek_position::Type::Specified(n)) => Some(n.number),
                _ => None,
            });
        if let Some(start) = start {
            self.seeks.lock().expect("seeks").push(start);
        }
    }
}

struct Channel(Arc<FakeState>);

impl DeliverChannel for Channel {
    fn blocks(&self) -> &dyn BlockSource {
        &self.0.blocks
    }

    fn config_sequence(&self) -> u64 {
        0
    }

    fn authorize(&self, resource: &str, request: &SignedData<'_>) -> Result<(), AccessDenied> {
        if self.0.mode == Mode::Forbid {
            return Err(AccessDenied::new("forbidden by the test"));
        }
        self.0
            .config
            .policy_manager()
            .evaluate(resource, std::slice::from_ref(request))
            .map_err(AccessDenied::from)
    }
}

struct Channels(Arc<FakeState>);

impl ChannelLookup for Channels {
    fn channel(&self, channel_id: &str) -> Option<Arc<dyn DeliverChannel>> {
        (channel_id == CHANNEL && self.0.mode != Mode::NoChannel)
            .then(|| Arc::new(Channel(self.0.clone())) as Arc<dyn DeliverChannel>)
    }
}

struct Sink {
    tx: mpsc::Sender<Result<DeliverResponse, tonic::Status>>,
    remaining: Option<usize>,
}

impl DeliverSink for Sink {
    async fn send_block(
        &mut self,
        block: Block,
        _request: &SeekRequest<'_>,
    ) -> Result<(), SendBlockError> {
        if let Some(remaining) = &mut self.remaining {
            if *remaining == 0 {
                return Err(SendBlockError::Closed);
            }
            *remaining -= 1;
        }
        let response = DeliverResponse {
            r#type: Some(deliver_response::Type::Block(block)),
        };
        self.tx
            .send(Ok(response))
            .await
            .map_err(|_| SendBlockError::Closed)
    }

    async fn send_status(&mut self, status: Status) -> Result<(), SinkClosed> {
        let response = DeliverResponse {
            r#type: Some(deliver_response::Type::Status(status as i32)),
        };
        self.tx.send(Ok(response)).await.map_err(|_| SinkClosed)
    }

    fn closed(&self) -> impl Future<Output = ()> + Send {
        let tx = self.tx.clone();
        async move { tx.closed().await }
    }
}

struct Service {
    state: Arc<FakeState>,
    deliverer: Deliverer,
}

type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, tonic::Status>> + Send + 'static>>;

#[tonic::async_trait]
impl AtomicBroadcast for Service {
    type BroadcastStream = ResponseStream<BroadcastResponse>;
    type DeliverStream = ResponseStream<DeliverResponse>;

    async fn broadcast(
        &self,
        _request: tonic::Request<tonic::Streaming<Envelope>>,
    ) -> Result<tonic::Response<Self::BroadcastStream>, tonic::Status> {
        Err(tonic::Status::unimplemented(
            "the fake orderer only delivers",
        ))
    }

    async fn deliver(
        &self,
        request: tonic::Request<tonic::Streaming<Envelope>>,
    ) -> Result<tonic::Response<Self::DeliverStream>, tonic::Status> {
        let client = ClientInfo {
            tls_cert_hash: grpc::client_cert_hash(&request).map(|h| h.to_vec()),
        };
        let state = self.state.clone();
        let inbound = request.into_inner().inspect(move |item| {
            if let Ok(envelope) = item {
                state.record(envelope);
            }
        });
        let remaining = self
            .state
            .drop_after
            .lock()
            .expect("drop_after")
            .pop_front();
        let deliverer = self.deliverer.clone();
        let (tx, mut rx) = mpsc::channel(4);
        tokio::spawn(async move {
            let mut sink = Sink { tx, remaining };
            let _ = deliverer.serve_stream(inbound, &client, &mut sink).await;
        });
        if self.state.lazy_headers.load(Ordering::Relaxed) {
            // tonic sends the headers when this returns: wait for the first response.
            let first = rx.recv().await;
            let rest = ReceiverStream::new(rx);
            return Ok(tonic::Response::new(Box::pin(
                futures::stream::iter(first).chain(rest),
            )));
        }
        Ok(tonic::Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// TLS of a fake orderer: its server pair and, for mutual TLS, the client CA (PEM).
pub struct ServerTls {
    pub server: TlsPair,
    pub client_ca: Option<Vec<u8>>,
}

/// A running fake orderer; dropping it stops the server.
pub struct FakeOrderer {
    /// `127.0.0.1:port`.
    pub address: String,
    /// What it serves and saw.
    pub state: Arc<FakeState>,
    _shutdown: oneshot::Sender<()>,
}

impl FakeOrderer {
    /// Serves `blocks` in `mode`, authorizing requesters against `/Channel/Readers` of
    /// `config`.
    pub async fn start(
        blocks: Vec<Block>,
        mode: Mode,
        config: Arc<ChannelConfig>,
        tls: Option<ServerTls>,
    ) -> Self {
        let state = Arc::new(FakeState {
            blocks: MemoryBlockSource::new(blocks),
            mode,
            config,
            drop_after: Mutex::new(VecDeque::new()),
            seeks: Mutex::new(Vec::new()),
            lazy_headers: AtomicBool::new(false),
        });
        let mutual_tls = tls.as_ref().is_some_and(|t| t.client_ca.is_some());
        let deliverer = Deliverer::new(
            Arc::new(Channels(state.clone())),
            "/Channel/Readers",
            DeliverConfig {
                mutual_tls,
                ..DeliverConfig::default()
            },
        );
        let server_tls = tls.map(|t| {
            weft_common::tls::server_config_from_pem(
                &t.server.cert,
                &t.server.key,
                t.client_ca.as_deref(),
            )
            .expect("server TLS config")
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let service = AtomicBroadcastServer::new(Service {
            state: state.clone(),
            deliverer,
        });
        let incoming = grpc::incoming(listener, server_tls);
        tokio::spawn(async move {
            let _ = grpc::server(&ServerOptions::default())
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            address,
            state,
            _shutdown: shutdown,
        }
    }
}

/// An address nothing listens on.
pub fn unreachable_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address: SocketAddr = listener.local_addr().expect("address");
    drop(listener);
    address.to_string()
}
