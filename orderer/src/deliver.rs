//! `/orderer.AtomicBroadcast/Deliver`: the shared Deliver engine
//! ([`weft_common::deliver`]) over this node's chains, checking `/Channel/Readers`.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use weft_common::deliver::{
    AccessDenied, BlockSource, ChannelLookup, ClientInfo, DeliverChannel, DeliverConfig,
    DeliverSink, Deliverer, SeekRequest, SendBlockError, SinkClosed,
};
use weft_common::policy::SignedData;
use weft_proto::common::{Block, Status};
use weft_proto::orderer::{DeliverResponse, deliver_response};

use crate::consensus::chain::Chain;
use crate::registrar::Registrar;

/// The policy a Deliver requester must satisfy on the orderer.
const READERS: &str = "/Channel/Readers";

/// Deliver over the registrar's chains.
#[derive(Debug, Clone)]
pub struct DeliverContext {
    deliverer: Deliverer,
    metrics: Option<Arc<crate::metrics::OrdererMetrics>>,
}

impl DeliverContext {
    /// Deliver for `registrar`'s channels; `mutual_tls` binds requests to the client's
    /// TLS certificate (`ChannelHeader.tls_cert_hash`).
    pub fn new(
        registrar: Arc<Registrar>,
        mutual_tls: bool,
        metrics: Option<Arc<crate::metrics::OrdererMetrics>>,
    ) -> Self {
        let config = DeliverConfig {
            mutual_tls,
            ..DeliverConfig::default()
        };
        Self {
            deliverer: Deliverer::new(Arc::new(Channels(registrar)), READERS, config),
            metrics,
        }
    }
}

struct Channels(Arc<Registrar>);

impl ChannelLookup for Channels {
    fn channel(&self, channel_id: &str) -> Option<Arc<dyn DeliverChannel>> {
        self.0
            .chain(channel_id)
            .map(|chain| Arc::new(ChainChannel(chain)) as Arc<dyn DeliverChannel>)
    }
}

struct ChainChannel(Chain);

impl DeliverChannel for ChainChannel {
    fn blocks(&self) -> &dyn BlockSource {
        self.0.store().as_ref()
    }

    fn config_sequence(&self) -> u64 {
        self.0.config().sequence()
    }

    fn authorize(&self, resource: &str, request: &SignedData<'_>) -> Result<(), AccessDenied> {
        self.0
            .config()
            .policy_manager()
            .evaluate(resource, std::slice::from_ref(request))
            .map_err(AccessDenied::from)
    }

    fn consenter_errors(&self) -> Option<watch::Receiver<bool>> {
        None
    }
}

struct Sink {
    tx: mpsc::Sender<Result<DeliverResponse, tonic::Status>>,
    metrics: Option<Arc<crate::metrics::OrdererMetrics>>,
}

impl DeliverSink for Sink {
    async fn send_block(
        &mut self,
        block: Block,
        request: &SeekRequest<'_>,
    ) -> Result<(), SendBlockError> {
        let response = DeliverResponse {
            r#type: Some(deliver_response::Type::Block(block)),
        };
        self.tx
            .send(Ok(response))
            .await
            .map_err(|_| SendBlockError::Closed)?;
        if let Some(metrics) = &self.metrics {
            metrics
                .deliver_blocks_sent
                .with_label_values(&[request.channel_id, "false", "block"])
                .inc();
        }
        Ok(())
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

/// Serves one Deliver stream.
pub async fn serve(
    ctx: Arc<DeliverContext>,
    request: tonic::Request<tonic::Streaming<weft_proto::common::Envelope>>,
) -> Result<
    tonic::Response<Pin<Box<dyn Stream<Item = Result<DeliverResponse, tonic::Status>> + Send>>>,
    tonic::Status,
> {
    let client = ClientInfo {
        tls_cert_hash: weft_common::grpc::client_cert_hash(&request).map(|h| h.to_vec()),
    };
    let inbound = request.into_inner();
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        if let Some(metrics) = &ctx.metrics {
            metrics.deliver_streams_opened.inc();
        }
        let mut sink = Sink {
            tx,
            metrics: ctx.metrics.clone(),
        };
        if let Err(status) = ctx
            .deliverer
            .serve_stream(inbound, &client, &mut sink)
            .await
        {
            tracing::debug!(%status, "deliver stream ended with a receive error");
        }
        if let Some(metrics) = &ctx.metrics {
            metrics.deliver_streams_closed.inc();
        }
    });
    Ok(tonic::Response::new(Box::pin(ReceiverStream::new(rx))))
}
