//! Joining `mychannel`: the orderer through the channel participation API (mutual TLS
//! with the orderer admin's TLS certificate, as `osnadmin channel join` does), each peer
//! through `cscc` JoinChain signed by its org's admin (as `peer channel join` does).
//! Both check first whether the node is a member already, so a resumed network skips them.

use prost::Message;
use weft_common::msp::SigningIdentity;
use weft_proto::protos::ChannelQueryResponse;

use crate::client::{OrdererConn, PeerConn};
use crate::error::NetworkError;
use crate::layout::{CHANNEL, Layout};

/// What a join step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joined {
    /// The node joined now.
    Now,
    /// The node was a member already.
    Already,
}

/// Joins the orderer to `mychannel` with the genesis block unless it is a member.
pub async fn join_orderer(layout: &Layout, orderer: &OrdererConn) -> Result<Joined, NetworkError> {
    let step = format!("join the orderer to {CHANNEL}");
    let fail = |reason: String| NetworkError::Step {
        step: step.clone(),
        reason,
        log: Some(orderer.log.clone()),
    };
    let path = format!("/participation/v1/channels/{CHANNEL}");
    let (status, _) = orderer
        .admin_request("GET", &path, None, &[])
        .await
        .map_err(fail)?;
    if status == 200 {
        return Ok(Joined::Already);
    }
    let block_path = layout.genesis_block();
    let block = std::fs::read(&block_path).map_err(NetworkError::io(&block_path))?;
    let boundary = hex::encode(rand::random::<[u8; 16]>());
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"config-block\"; filename=\"{CHANNEL}.block\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&block);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let (status, answer) = orderer
        .admin_request(
            "POST",
            "/participation/v1/channels",
            Some(&format!("multipart/form-data; boundary={boundary}")),
            &body,
        )
        .await
        .map_err(fail)?;
    if status == 201 {
        Ok(Joined::Now)
    } else {
        Err(fail(format!(
            "the admin API answered {status}: {}",
            answer.trim()
        )))
    }
}

/// The channels `peer` is a member of (`cscc` GetChannels as `admin`).
pub async fn peer_channels(
    peer: &PeerConn,
    admin: &SigningIdentity,
) -> Result<Vec<String>, String> {
    let payload = peer
        .system_call("cscc", "", vec![b"GetChannels".to_vec()], admin)
        .await?;
    let response = ChannelQueryResponse::decode(payload.as_slice()).map_err(|e| e.to_string())?;
    Ok(response
        .channels
        .into_iter()
        .map(|c| c.channel_id)
        .collect())
}

/// Joins `peer` to `mychannel` (`cscc` JoinChain as its org's `admin`) unless it is a
/// member.
pub async fn join_peer(
    layout: &Layout,
    peer: &PeerConn,
    admin: &SigningIdentity,
) -> Result<Joined, NetworkError> {
    let step = format!("join {} to {CHANNEL}", peer.spec.name());
    let fail = |reason: String| NetworkError::Step {
        step: step.clone(),
        reason,
        log: Some(peer.log.clone()),
    };
    if peer_channels(peer, admin)
        .await
        .map_err(fail)?
        .iter()
        .any(|c| c == CHANNEL)
    {
        return Ok(Joined::Already);
    }
    let block_path = layout.genesis_block();
    let block = std::fs::read(&block_path).map_err(NetworkError::io(&block_path))?;
    peer.system_call("cscc", "", vec![b"JoinChain".to_vec(), block], admin)
        .await
        .map_err(fail)?;
    Ok(Joined::Now)
}
