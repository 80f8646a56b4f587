//! The client-facing gRPC service, `/orderer.AtomicBroadcast/{Broadcast,Deliver}`.
//!
//! Broadcast answers one `BroadcastResponse` per envelope, in order, and ends the stream
//! after the first non-SUCCESS answer, as Fabric does. Envelopes of one stream are
//! processed concurrently (their answers still go out in order), so a single client
//! stream is not limited to one Raft commit at a time.

use std::pin::Pin;
use std::sync::Arc;

use futures::stream::{FuturesOrdered, Stream};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use weft_proto::common::{Envelope, Status};
use weft_proto::orderer::atomic_broadcast_server::AtomicBroadcast;
use weft_proto::orderer::{BroadcastResponse, DeliverResponse};

use crate::broadcast::{self, BroadcastContext};
use crate::deliver::DeliverContext;

/// Envelopes of one Broadcast stream processed at the same time.
const BROADCAST_PIPELINE: usize = 1024;

/// The AtomicBroadcast service.
#[derive(Debug, Clone)]
pub struct AtomicBroadcastService {
    broadcast: Arc<BroadcastContext>,
    deliver: Arc<DeliverContext>,
}

impl AtomicBroadcastService {
    /// A service over the given Broadcast and Deliver contexts.
    pub fn new(broadcast: Arc<BroadcastContext>, deliver: Arc<DeliverContext>) -> Self {
        Self { broadcast, deliver }
    }
}

type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, tonic::Status>> + Send + 'static>>;

#[tonic::async_trait]
impl AtomicBroadcast for AtomicBroadcastService {
    type BroadcastStream = ResponseStream<BroadcastResponse>;
    type DeliverStream = ResponseStream<DeliverResponse>;

    async fn broadcast(
        &self,
        request: tonic::Request<tonic::Streaming<Envelope>>,
    ) -> Result<tonic::Response<Self::BroadcastStream>, tonic::Status> {
        let mut inbound = request.into_inner();
        let ctx = self.broadcast.clone();
        let (tx, rx) = mpsc::channel::<Result<BroadcastResponse, tonic::Status>>(64);
        tokio::spawn(async move {
            let mut in_flight = FuturesOrdered::new();
            let mut inbound_open = true;
            loop {
                tokio::select! {
                    item = inbound.next(), if inbound_open && in_flight.len() < BROADCAST_PIPELINE => match item {
                        Some(Ok(envelope)) => {
                            let ctx = ctx.clone();
                            in_flight.push_back(async move { broadcast::process(&ctx, envelope).await });
                        }
                        Some(Err(status)) => {
                            tracing::debug!(%status, "broadcast stream receive error");
                            inbound_open = false;
                        }
                        None => inbound_open = false,
                    },
                    Some(response) = in_flight.next(), if !in_flight.is_empty() => {
                        let success = response.status == Status::Success as i32;
                        if tx.send(Ok(response)).await.is_err() || !success {
                            // Client gone, or Fabric's rule: the stream ends after a failure.
                            return;
                        }
                    }
                    else => return,
                }
                if !inbound_open && in_flight.is_empty() {
                    return;
                }
            }
        });
        Ok(tonic::Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn deliver(
        &self,
        request: tonic::Request<tonic::Streaming<Envelope>>,
    ) -> Result<tonic::Response<Self::DeliverStream>, tonic::Status> {
        crate::deliver::serve(self.deliver.clone(), request).await
    }
}
