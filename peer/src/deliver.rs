//! The peer's `/protos.Deliver` service: `Deliver` (full blocks), `DeliverFiltered`
//! (filtered blocks) and `DeliverWithPrivateData`, on the shared Deliver engine
//! ([`weft_common::deliver`]) over the joined channels' ledgers. Access is the
//! `event/Block` / `event/FilteredBlock` ACL of the channel (Readers by default); blocks
//! are pushed as they commit.
//!
//! Private data is not disseminated yet: `DeliverWithPrivateData` sends each block with
//! an empty private data map.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use weft_common::deliver::{
    AccessDenied, BlockSource, ChannelLookup, ClientInfo, DeliverChannel, DeliverConfig,
    DeliverSink, Deliverer, SeekRequest, SendBlockError, SinkClosed, filtered_block,
};
use weft_common::policy::SignedData;
use weft_proto::common::{Block, Envelope, Status};
use weft_proto::protos::deliver_server::Deliver;
use weft_proto::protos::{BlockAndPrivateData, DeliverResponse, deliver_response};

use crate::acl::{AclProvider, resources};
use crate::channel::Channel;
use crate::channels::Channels;

/// The response stream of one Deliver RPC.
pub type DeliverStream = Pin<Box<dyn Stream<Item = Result<DeliverResponse, tonic::Status>> + Send>>;

/// What a stream sends for each block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavour {
    Full,
    Filtered,
    WithPrivateData,
}

/// The peer's Deliver service.
#[derive(Debug, Clone)]
pub struct DeliverService {
    full: Deliverer,
    filtered: Deliverer,
}

impl DeliverService {
    /// Deliver over `channels`, with ACLs from `acl`; `mutual_tls` binds requests to the
    /// client's TLS certificate.
    pub fn new(channels: Arc<Channels>, acl: AclProvider, mutual_tls: bool) -> Self {
        let lookup: Arc<dyn ChannelLookup> = Arc::new(Lookup { channels, acl });
        let config = DeliverConfig {
            mutual_tls,
            ..DeliverConfig::default()
        };
        Self {
            full: Deliverer::new(lookup.clone(), resources::EVENT_BLOCK, config.clone()),
            filtered: Deliverer::new(lookup, resources::EVENT_FILTERED_BLOCK, config),
        }
    }

    fn serve(
        &self,
        flavour: Flavour,
        request: tonic::Request<tonic::Streaming<Envelope>>,
    ) -> tonic::Response<DeliverStream> {
        let client = ClientInfo {
            tls_cert_hash: weft_common::grpc::client_cert_hash(&request).map(|h| h.to_vec()),
        };
        let deliverer = match flavour {
            Flavour::Filtered => self.filtered.clone(),
            Flavour::Full | Flavour::WithPrivateData => self.full.clone(),
        };
        let inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            let mut sink = Sink { tx, flavour };
            if let Err(status) = deliverer.serve_stream(inbound, &client, &mut sink).await {
                tracing::debug!(%status, "deliver stream ended with a receive error");
            }
        });
        tonic::Response::new(Box::pin(ReceiverStream::new(rx)))
    }
}

#[tonic::async_trait]
impl Deliver for DeliverService {
    type DeliverStream = DeliverStream;
    type DeliverFilteredStream = DeliverStream;
    type DeliverWithPrivateDataStream = DeliverStream;

    async fn deliver(
        &self,
        request: tonic::Request<tonic::Streaming<Envelope>>,
    ) -> Result<tonic::Response<DeliverStream>, tonic::Status> {
        Ok(self.serve(Flavour::Full, request))
    }

    async fn deliver_filtered(
        &self,
        request: tonic::Request<tonic::Streaming<Envelope>>,
    ) -> Result<tonic::Response<DeliverStream>, tonic::Status> {
        Ok(self.serve(Flavour::Filtered, request))
    }

    async fn deliver_with_private_data(
        &self,
        request: tonic::Request<tonic::Streaming<Envelope>>,
    ) -> Result<tonic::Response<DeliverStream>, tonic::Status> {
        Ok(self.serve(Flavour::WithPrivateData, request))
    }
}

struct Lookup {
    channels: Arc<Channels>,
    acl: AclProvider,
}

impl ChannelLookup for Lookup {
    fn channel(&self, channel_id: &str) -> Option<Arc<dyn DeliverChannel>> {
        self.channels.get(channel_id).map(|channel| {
            Arc::new(ChannelView {
                channel,
                acl: self.acl.clone(),
            }) as Arc<dyn DeliverChannel>
        })
    }
}

struct ChannelView {
    channel: Arc<Channel>,
    acl: AclProvider,
}

impl DeliverChannel for ChannelView {
    fn blocks(&self) -> &dyn BlockSource {
        self.channel.ledger().block_store().as_ref()
    }

    fn config_sequence(&self) -> u64 {
        self.channel.config().sequence()
    }

    fn authorize(&self, resource: &str, request: &SignedData<'_>) -> Result<(), AccessDenied> {
        self.acl
            .check(resource, Some(&self.channel.config()), request)
            .map_err(|e| AccessDenied::new(e.to_string()))
    }
}

struct Sink {
    tx: mpsc::Sender<Result<DeliverResponse, tonic::Status>>,
    flavour: Flavour,
}

impl DeliverSink for Sink {
    async fn send_block(
        &mut self,
        block: Block,
        request: &SeekRequest<'_>,
    ) -> Result<(), SendBlockError> {
        let response = match self.flavour {
            Flavour::Full => deliver_response::Type::Block(block),
            Flavour::Filtered => match filtered_block(&block) {
                Ok(filtered) => deliver_response::Type::FilteredBlock(filtered),
                Err(e) => {
                    tracing::warn!(channel = request.channel_id, error = %e, "cannot filter a block");
                    return Err(SendBlockError::Abort(Status::InternalServerError));
                }
            },
            Flavour::WithPrivateData => {
                deliver_response::Type::BlockAndPrivateData(BlockAndPrivateData {
                    block: Some(block),
                    private_data_map: Default::default(),
                })
            }
        };
        self.tx
            .send(Ok(DeliverResponse {
                r#type: Some(response),
            }))
            .await
            .map_err(|_| SendBlockError::Closed)
    }

    async fn send_status(&mut self, status: Status) -> Result<(), SinkClosed> {
        self.tx
            .send(Ok(DeliverResponse {
                r#type: Some(deliver_response::Type::Status(status as i32)),
            }))
            .await
            .map_err(|_| SinkClosed)
    }

    fn closed(&self) -> impl Future<Output = ()> + Send {
        let tx = self.tx.clone();
        async move { tx.closed().await }
    }
}
