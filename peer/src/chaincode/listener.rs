//! `/protos.ChaincodeSupport/Register`: the gRPC service chaincode processes dial (a
//! `fabric-shim` chaincode in dev mode, or one the peer is launching) to open their
//! message stream with the peer.

use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use weft_proto::protos::ChaincodeMessage;
use weft_proto::protos::chaincode_support_server::ChaincodeSupport as ChaincodeSupportRpc;

use super::support::ChaincodeSupport;

/// The stream of messages the peer sends to a registered chaincode.
pub type ChaincodeStream =
    Pin<Box<dyn Stream<Item = Result<ChaincodeMessage, tonic::Status>> + Send>>;

/// Serves `Register` by handing each stream to the chaincode support's handlers.
#[derive(Debug, Clone)]
pub struct ChaincodeListener {
    support: Arc<ChaincodeSupport>,
}

impl ChaincodeListener {
    /// The service over `support`.
    pub fn new(support: Arc<ChaincodeSupport>) -> Self {
        Self { support }
    }
}

#[tonic::async_trait]
impl ChaincodeSupportRpc for ChaincodeListener {
    type RegisterStream = ChaincodeStream;

    async fn register(
        &self,
        request: tonic::Request<tonic::Streaming<ChaincodeMessage>>,
    ) -> Result<tonic::Response<Self::RegisterStream>, tonic::Status> {
        let (outgoing, to_chaincode) = mpsc::channel(256);
        self.support.connect(request.into_inner(), outgoing);
        let stream = ReceiverStream::new(to_chaincode).map(Ok);
        Ok(tonic::Response::new(Box::pin(stream)))
    }
}
