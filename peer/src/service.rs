//! The gRPC face of the endorser: `/protos.Endorser/ProcessProposal`.

use weft_proto::protos::endorser_server::Endorser as EndorserRpc;
use weft_proto::protos::{ProposalResponse, SignedProposal};

use crate::endorser::Endorser;

/// Serves `ProcessProposal` with an [`Endorser`].
#[derive(Debug, Clone)]
pub struct EndorserService {
    endorser: Endorser,
}

impl EndorserService {
    /// The service over `endorser`.
    pub fn new(endorser: Endorser) -> Self {
        Self { endorser }
    }
}

#[tonic::async_trait]
impl EndorserRpc for EndorserService {
    async fn process_proposal(
        &self,
        request: tonic::Request<SignedProposal>,
    ) -> Result<tonic::Response<ProposalResponse>, tonic::Status> {
        match self.endorser.process_proposal(request.into_inner()).await {
            Ok(response) => Ok(tonic::Response::new(response)),
            Err(rejected) => Err(tonic::Status::unknown(rejected.0)),
        }
    }
}
