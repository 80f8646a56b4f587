//! Fetches blocks from another consenter with Deliver, for a node that received a Raft
//! snapshot and lacks the blocks it covers.
//!
//! The source is a consenter reached over the cluster's mutual TLS, and every block is
//! checked against this node's own chain as it is appended (number, previous hash, data
//! hash): a forged block cannot extend the chain.

use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use tokio_stream::StreamExt;
use weft_common::grpc::{self, ClientTls};
use weft_common::msp::SigningIdentity;
use weft_common::protoutil;
use weft_proto::common::{Block, HeaderType};
use weft_proto::orderer::atomic_broadcast_client::AtomicBroadcastClient;
use weft_proto::orderer::{
    SeekInfo, SeekPosition, SeekSpecified, deliver_response, seek_info, seek_position,
};

use crate::cluster::Cluster;
use crate::consensus::chain::BlockPuller;

/// Pulls blocks through `/orderer.AtomicBroadcast/Deliver` of another consenter.
#[derive(Debug, Clone)]
pub struct DeliverPuller {
    runtime: tokio::runtime::Handle,
    cluster: Arc<Cluster>,
    tls: Option<ClientTls>,
    signer: Arc<SigningIdentity>,
    timeout: Duration,
}

impl DeliverPuller {
    /// A puller signing its seek requests with `signer`.
    pub fn new(
        runtime: tokio::runtime::Handle,
        cluster: Arc<Cluster>,
        tls: Option<ClientTls>,
        signer: Arc<SigningIdentity>,
    ) -> Self {
        Self {
            runtime,
            cluster,
            tls,
            signer,
            timeout: Duration::from_secs(60),
        }
    }

    async fn fetch(
        &self,
        channel: &str,
        endpoint: &str,
        server_name: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<Block>, String> {
        let tls = self.tls.clone().map(|mut t| {
            t.server_name_override
                .get_or_insert_with(|| server_name.to_owned());
            t
        });
        let connection = grpc::channel(endpoint, tls).map_err(|e| e.to_string())?;
        let mut client =
            AtomicBroadcastClient::new(connection).max_decoding_message_size(256 << 20);
        let specified = |number| SeekPosition {
            r#type: Some(seek_position::Type::Specified(SeekSpecified { number })),
        };
        let seek = SeekInfo {
            start: Some(specified(from)),
            stop: Some(specified(to)),
            behavior: seek_info::SeekBehavior::FailIfNotReady as i32,
            error_response: 0,
        };
        let envelope = protoutil::create_signed_envelope(
            HeaderType::DeliverSeekInfo,
            channel,
            self.signer.as_ref(),
            &seek.encode_to_vec(),
            0,
        )
        .map_err(|e| e.to_string())?;
        let request = tokio_stream::iter(vec![envelope]);
        let mut responses = client
            .deliver(request)
            .await
            .map_err(|e| e.to_string())?
            .into_inner();
        let mut blocks = Vec::new();
        while let Some(item) = responses.next().await {
            match item.map_err(|e| e.to_string())?.r#type {
                Some(deliver_response::Type::Block(block)) => blocks.push(block),
                Some(deliver_response::Type::Status(status)) => {
                    if status == weft_proto::common::Status::Success as i32 {
                        break;
                    }
                    return Err(format!(
                        "deliver from {endpoint} ended with status {status}"
                    ));
                }
                None => {}
            }
        }
        if blocks.len() as u64 != to - from + 1 {
            return Err(format!(
                "expected {} blocks from {endpoint}, got {}",
                to - from + 1,
                blocks.len()
            ));
        }
        Ok(blocks)
    }
}

impl BlockPuller for DeliverPuller {
    fn pull(&self, channel: &str, source: u64, from: u64, to: u64) -> Result<Vec<Block>, String> {
        let member = self
            .cluster
            .member_info(channel, source)
            .ok_or_else(|| format!("unknown consenter {source}"))?;
        self.runtime.block_on(async {
            tokio::time::timeout(
                self.timeout,
                self.fetch(channel, &member.endpoint, &member.server_name, from, to),
            )
            .await
            .map_err(|_| format!("pulling blocks {from}..={to} timed out"))?
        })
    }
}
