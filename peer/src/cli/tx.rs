//! What the chaincode commands share, as Fabric's `internal/peer/common`,
//! `internal/peer/chaincode/common.go` and `internal/peer/lifecycle/chaincode` do it:
//! connections to the peers named by `--peerAddresses`/`--tlsRootCertFiles` (or
//! `peer.address`), proposals, the signed transaction assembled from endorsements
//! (`protoutil.CreateSignedTx`, with its checks and messages), the broadcast to the
//! orderer, and the `DeliverGroup` waiting on each peer's DeliverFiltered for a txid's
//! validation code.

use std::collections::HashMap;
use std::time::Duration;

use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use weft_common::crypto::{SHA256_LEN, Signer};
use weft_common::protoutil;
use weft_proto::common::{
    ChannelHeader, Envelope, Header, HeaderType, Payload, SignatureHeader, Status,
};
use weft_proto::orderer::atomic_broadcast_client::AtomicBroadcastClient;
use weft_proto::orderer::{
    SeekInfo, SeekNewest, SeekPosition, SeekSpecified, seek_info, seek_position,
};
use weft_proto::protos::deliver_client::DeliverClient;
use weft_proto::protos::endorser_client::EndorserClient;
use weft_proto::protos::{
    ChaincodeEndorsedAction, ChaincodeHeaderExtension, ChaincodeId, ChaincodeInput,
    ChaincodeInvocationSpec, ChaincodeProposalPayload, ChaincodeSpec, Proposal, ProposalResponse,
    Response, SignedProposal, TxValidationCode, chaincode_spec, deliver_response,
};

use super::CliError;
use super::args::{OrdererArgs, PeerTargetArgs};
use super::channel::{base64_std, rpc_error};
use super::client::{Target, TargetTls, go_io_error};
use super::log::{CHAINCODE_CMD, Logger};
use crate::config::PeerConfig;

// ---------------------------------------------------------------------------------------
// Peer connections

/// One peer a command talks to: its endorser and deliver clients over one connection.
#[derive(Debug, Clone)]
pub struct PeerConn {
    /// The address as Fabric names it in messages (`peer.address` when none was given).
    pub address: String,
    /// `/protos.Endorser`.
    pub endorser: EndorserClient<Channel>,
    /// `/protos.Deliver`.
    pub deliver: DeliverClient<Channel>,
    /// SHA-256 of the client TLS certificate, when one is presented.
    pub tls_cert_hash: Option<[u8; SHA256_LEN]>,
}

/// How peer connection problems are worded: lifecycle commands say
/// `failed to validate peer connection parameters: ...` and `failed to retrieve endorser
/// client for <cmd>: ...`; `peer chaincode` says `error validating peer connection
/// parameters: ...` and `error getting endorser client for <cmd>: ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wording {
    /// `internal/peer/lifecycle/chaincode`.
    Lifecycle,
    /// `internal/peer/chaincode`.
    Chaincode,
}

/// Checks the peer flags as Fabric does for command `command` (one peer unless
/// `multiple` is allowed; as many TLS root files as addresses when TLS is on) and
/// returns (address, TLS root file) pairs.
pub fn peer_targets(
    config: &PeerConfig,
    peers: &PeerTargetArgs,
    command: &str,
    multiple: bool,
    wording: Wording,
) -> Result<Vec<(String, String)>, CliError> {
    let validation = |reason: String| {
        CliError::Usage(match wording {
            Wording::Lifecycle => {
                format!("failed to validate peer connection parameters: {reason}")
            }
            Wording::Chaincode => {
                format!("error validating peer connection parameters: {reason}")
            }
        })
    };
    if let Some(profile) = peers
        .connection_profile
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        return Err(validation(format!(
            "connection profiles are not supported by Weft's peer CLI (--connectionProfile \
             {profile}); use --peerAddresses and --tlsRootCertFiles"
        )));
    }
    let addresses = peers.addresses();
    let roots = peers.root_cert_files();
    if !multiple && addresses.len() > 1 {
        return Err(validation(match wording {
            Wording::Lifecycle => format!(
                "'{command}' command supports one peer. {} peers provided",
                addresses.len()
            ),
            Wording::Chaincode => format!(
                "'{command}' command can only be executed against one peer. received {}",
                addresses.len()
            ),
        }));
    }
    if !config.peer.tls.enabled {
        return Ok(addresses.into_iter().map(|a| (a, String::new())).collect());
    }
    if roots.len() != addresses.len() {
        return Err(validation(format!(
            "number of peer addresses ({}) does not match the number of TLS root cert files ({})",
            addresses.len(),
            roots.len()
        )));
    }
    Ok(addresses.into_iter().zip(roots).collect())
}

/// Connects to each (address, TLS root file): an empty address means `peer.address` with
/// the configuration's TLS settings (Fabric's `NewPeerClientFromEnv`); otherwise the given
/// address trusting the given root file (`NewPeerClientForAddress`).
pub async fn connect_peers(
    config: &PeerConfig,
    targets: &[(String, String)],
    command: &str,
    wording: Wording,
) -> Result<Vec<PeerConn>, CliError> {
    let mut conns = Vec::with_capacity(targets.len());
    for (address, root) in targets {
        let failed = |reason: String| {
            CliError::Client(match wording {
                Wording::Lifecycle => {
                    format!("failed to retrieve endorser client for {command}: {reason}")
                }
                Wording::Chaincode => {
                    format!("error getting endorser client for {command}: {reason}")
                }
            })
        };
        let target = peer_target(config, address, root).map_err(&failed)?;
        let connection = target
            .connect("endorser")
            .await
            .map_err(|e| failed(e.to_string()))?;
        conns.push(PeerConn {
            address: target.address.clone(),
            endorser: EndorserClient::new(connection.channel.clone())
                .max_decoding_message_size(target.max_recv_msg_size)
                .max_encoding_message_size(target.max_send_msg_size),
            deliver: DeliverClient::new(connection.channel)
                .max_decoding_message_size(target.max_recv_msg_size),
            tls_cert_hash: connection.tls_cert_hash,
        });
    }
    if conns.is_empty() {
        return Err(CliError::Client("no endorser clients retrieved".into()));
    }
    Ok(conns)
}

/// The dial target for one `--peerAddresses` entry.
fn peer_target(config: &PeerConfig, address: &str, root: &str) -> Result<Target, String> {
    let mut target = Target::peer(config);
    if address.is_empty() {
        return Ok(target);
    }
    target.address = address.to_owned();
    if config.peer.tls.enabled {
        if root.is_empty() {
            return Err("tls root cert file must be set".into());
        }
        let path = std::path::Path::new(root);
        std::fs::read(path).map_err(|e| {
            format!(
                "unable to load TLS root cert file from {root}: {}",
                go_io_error("open", path, &e)
            )
        })?;
        target.tls = Some(TargetTls {
            root_cert: path.to_path_buf(),
            server_name_override: config.peer.tls.server_host_override.clone(),
        });
    }
    Ok(target)
}

// ---------------------------------------------------------------------------------------
// Proposals

/// A proposal as Fabric's `protoutil.CreateChaincodeProposalWithTxIDAndTransient` builds
/// it: ENDORSER_TRANSACTION on `channel_id`, a fresh nonce and txid, epoch 0, the current
/// time, a `ChaincodeHeaderExtension` naming `chaincode`; the payload a
/// `ChaincodeProposalPayload{ChaincodeInvocationSpec{ChaincodeSpec{spec_type, id, input}},
/// transient}`. Returns the proposal and its txid.
pub fn proposal(
    channel_id: &str,
    chaincode: &str,
    spec_type: chaincode_spec::Type,
    input: ChaincodeInput,
    transient_map: HashMap<String, Vec<u8>>,
    creator: &[u8],
) -> (Proposal, String) {
    let nonce = protoutil::create_nonce();
    let tx_id = protoutil::compute_txid(&nonce, creator);
    let chaincode_id = ChaincodeId {
        name: chaincode.to_owned(),
        ..ChaincodeId::default()
    };
    let channel_header = ChannelHeader {
        r#type: HeaderType::EndorserTransaction as i32,
        version: 0,
        timestamp: Some(protoutil::header::timestamp_now()),
        channel_id: channel_id.to_owned(),
        tx_id: tx_id.clone(),
        epoch: 0,
        extension: ChaincodeHeaderExtension {
            chaincode_id: Some(chaincode_id.clone()),
        }
        .encode_to_vec(),
        tls_cert_hash: Vec::new(),
    };
    let invocation = ChaincodeInvocationSpec {
        chaincode_spec: Some(ChaincodeSpec {
            r#type: spec_type as i32,
            chaincode_id: Some(chaincode_id),
            input: Some(input),
            timeout: 0,
        }),
    };
    let proposal = Proposal {
        header: Header {
            channel_header: channel_header.encode_to_vec(),
            signature_header: SignatureHeader {
                creator: creator.to_vec(),
                nonce,
            }
            .encode_to_vec(),
        }
        .encode_to_vec(),
        payload: ChaincodeProposalPayload {
            input: invocation.encode_to_vec(),
            transient_map,
        }
        .encode_to_vec(),
        extension: Vec::new(),
    };
    (proposal, tx_id)
}

/// Signs `proposal` (Fabric's `signProposal`).
pub fn sign(proposal: &Proposal, signer: &dyn Signer) -> Result<SignedProposal, String> {
    protoutil::sign_proposal(proposal, signer).map_err(|e| e.to_string())
}

/// Sends `signed` to every peer concurrently and gathers the responses in peer order;
/// the first transport error wins, as `processProposals` does.
pub async fn process_proposals(
    peers: &[PeerConn],
    signed: &SignedProposal,
) -> Result<Vec<ProposalResponse>, tonic::Status> {
    let calls = peers.iter().map(|p| {
        let mut endorser = p.endorser.clone();
        let signed = signed.clone();
        async move {
            endorser
                .process_proposal(signed)
                .await
                .map(|r| r.into_inner())
        }
    });
    futures::future::join_all(calls).await.into_iter().collect()
}

/// Fabric's `protoutil.CreateSignedTx`: checks that every response succeeded (status in
/// `[200, 400)`) with identical payloads, keeps the unique endorsements, and signs the
/// transaction envelope. Errors carry Fabric's messages.
pub fn create_signed_tx(
    proposal: &Proposal,
    signer: &dyn Signer,
    responses: &[ProposalResponse],
) -> Result<Envelope, String> {
    let first = responses
        .first()
        .ok_or("at least one proposal response is required")?;
    let header = Header::decode(proposal.header.as_slice()).map_err(|e| e.to_string())?;
    let payload =
        ChaincodeProposalPayload::decode(proposal.payload.as_slice()).map_err(|e| e.to_string())?;
    let signature_header =
        SignatureHeader::decode(header.signature_header.as_slice()).map_err(|e| e.to_string())?;
    if signature_header.creator != signer.creator() {
        return Err("signer must be the same as the one referenced in the header".into());
    }
    for response in responses {
        let (status, message) = response
            .response
            .as_ref()
            .map_or((0, ""), |r| (r.status, r.message.as_str()));
        if !(200..400).contains(&status) {
            return Err(format!(
                "proposal response was not successful, error code {status}, msg {message}"
            ));
        }
        if response.payload != first.payload {
            return Err(format!(
                "ProposalResponsePayloads do not match (base64): '{}' vs '{}'",
                base64_std(&response.payload),
                base64_std(&first.payload)
            ));
        }
    }
    let endorsements =
        protoutil::unique_endorsements(responses.iter().filter_map(|r| r.endorsement.as_ref()));
    if endorsements.is_empty() {
        return Err("no endorsements".into());
    }
    let action = ChaincodeEndorsedAction {
        proposal_response_payload: first.payload.clone(),
        endorsements,
    };
    let unsigned = protoutil::transaction_envelope(&header, &payload, action);
    protoutil::sign_envelope_payload(unsigned.payload, signer).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------
// Orderer

/// A Broadcast stream to the orderer (`-o`), ready to send.
#[derive(Debug)]
pub struct Broadcaster {
    requests: mpsc::Sender<Envelope>,
    replies: tonic::Streaming<weft_proto::orderer::BroadcastResponse>,
}

impl Broadcaster {
    /// Dials the orderer described by the flags and opens a Broadcast stream. The error is
    /// the reason only; callers add their context.
    pub async fn connect(orderer: &OrdererArgs) -> Result<Self, String> {
        let target = Target::orderer(orderer);
        let connection = target.connect("orderer").await.map_err(|e| e.to_string())?;
        let (tx, rx) = mpsc::channel(1);
        let replies = AtomicBroadcastClient::new(connection.channel)
            .max_decoding_message_size(target.max_recv_msg_size)
            .max_encoding_message_size(target.max_send_msg_size)
            .broadcast(ReceiverStream::new(rx))
            .await
            .map_err(|s| {
                format!(
                    "orderer client failed to connect to {}: {}",
                    target.address,
                    rpc_error(&s)
                )
            })?
            .into_inner();
        Ok(Self {
            requests: tx,
            replies,
        })
    }

    /// Sends `envelope` and waits for its acknowledgement (Fabric's
    /// `BroadcastGRPCClient.Send`).
    pub async fn send(&mut self, envelope: Envelope) -> Result<(), String> {
        self.requests
            .send(envelope)
            .await
            .map_err(|_| "could not send to orderer node: EOF".to_owned())?;
        match self.replies.message().await {
            Ok(Some(reply)) if reply.status == Status::Success as i32 => Ok(()),
            Ok(Some(reply)) => Err(format!(
                "got unexpected status: {} -- {}",
                super::channel::status_name(reply.status),
                reply.info
            )),
            Ok(None) => Err("EOF".into()),
            Err(status) => Err(rpc_error(&status)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Waiting for the commit

/// The seek envelope of a `DeliverGroup` client: DELIVER_SEEK_INFO on `channel_id`,
/// from the newest block to `u64::MAX`, BLOCK_UNTIL_READY, bound to the client TLS
/// certificate when one is presented (Fabric's `createDeliverEnvelope`).
pub fn deliver_envelope(
    channel_id: &str,
    tls_cert_hash: Option<&[u8]>,
    signer: &dyn Signer,
) -> Result<Envelope, String> {
    let seek = SeekInfo {
        start: Some(SeekPosition {
            r#type: Some(seek_position::Type::Newest(SeekNewest {})),
        }),
        stop: Some(SeekPosition {
            r#type: Some(seek_position::Type::Specified(SeekSpecified {
                number: u64::MAX,
            })),
        }),
        behavior: seek_info::SeekBehavior::BlockUntilReady as i32,
        error_response: seek_info::SeekErrorResponse::Strict as i32,
    };
    let channel_header = ChannelHeader {
        r#type: HeaderType::DeliverSeekInfo as i32,
        version: 0,
        timestamp: Some(protoutil::header::timestamp_now_seconds()),
        channel_id: channel_id.to_owned(),
        tx_id: String::new(),
        epoch: 0,
        extension: Vec::new(),
        tls_cert_hash: tls_cert_hash.map(<[u8]>::to_vec).unwrap_or_default(),
    };
    let payload = Payload {
        header: Some(Header {
            channel_header: channel_header.encode_to_vec(),
            signature_header: SignatureHeader {
                creator: signer.creator().to_vec(),
                nonce: protoutil::create_nonce(),
            }
            .encode_to_vec(),
        }),
        data: seek.encode_to_vec(),
    };
    protoutil::sign_envelope_payload(payload.encode_to_vec(), signer).map_err(|e| e.to_string())
}

/// Fabric's `DeliverGroup`: one DeliverFiltered stream per peer, opened before the
/// transaction is broadcast, each waiting for the block holding the txid.
#[derive(Debug)]
pub struct DeliverGroup {
    streams: Vec<(
        String,
        mpsc::Sender<Envelope>,
        tonic::Streaming<weft_proto::protos::DeliverResponse>,
    )>,
    tx_id: String,
    deadline: tokio::time::Instant,
}

impl DeliverGroup {
    /// Connects to every peer's DeliverFiltered within `timeout` (the whole group's
    /// budget, as Fabric's context).
    pub async fn connect(
        peers: &[PeerConn],
        channel_id: &str,
        tx_id: &str,
        signer: &dyn Signer,
        timeout: Duration,
    ) -> Result<Self, CliError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut opening = Vec::new();
        for peer in peers {
            let envelope = deliver_envelope(
                channel_id,
                peer.tls_cert_hash.as_ref().map(|h| h.as_slice()),
                signer,
            )
            .map_err(CliError::Client)?;
            let mut client = peer.deliver.clone();
            let address = peer.address.clone();
            opening.push(async move {
                let (tx, rx) = mpsc::channel(1);
                tx.send(envelope).await.map_err(|_| {
                    format!("error sending deliver seek info envelope to {address}: EOF")
                })?;
                let stream = client
                    .deliver_filtered(ReceiverStream::new(rx))
                    .await
                    .map_err(|s| {
                        format!(
                            "error connecting to deliver filtered at {address}: {}",
                            rpc_error(&s)
                        )
                    })?
                    .into_inner();
                Ok::<_, String>((address, tx, stream))
            });
        }
        let opened = tokio::time::timeout_at(deadline, futures::future::join_all(opening))
            .await
            .map_err(|_| {
                CliError::Client("timed out waiting for connection to deliver on all peers".into())
            })?;
        let mut streams = Vec::new();
        for result in opened {
            streams.push(result.map_err(|e| {
                CliError::Client(format!("failed to connect to deliver on all peers: {e}"))
            })?);
        }
        Ok(Self {
            streams,
            tx_id: tx_id.to_owned(),
            deadline,
        })
    }

    /// Waits until every peer reported the txid's block, logging each validation code;
    /// a code other than VALID, a status or a broken stream is an error.
    pub async fn wait(self, log: &Logger) -> Result<(), CliError> {
        let tx_id = self.tx_id.clone();
        let waits = self.streams.into_iter().map(|(address, keep, mut stream)| {
            let tx_id = tx_id.clone();
            async move {
                let _keep = keep;
                loop {
                    let response = match stream.message().await {
                        Ok(Some(r)) => r,
                        Ok(None) => {
                            return Err(format!(
                                "error receiving from deliver filtered at {address}: EOF"
                            ));
                        }
                        Err(s) => {
                            return Err(format!(
                                "error receiving from deliver filtered at {address}: {}",
                                rpc_error(&s)
                            ));
                        }
                    };
                    match response.r#type {
                        Some(deliver_response::Type::FilteredBlock(block)) => {
                            if let Some(tx) =
                                block.filtered_transactions.iter().find(|t| t.txid == tx_id)
                            {
                                return Ok((address, tx.tx_validation_code));
                            }
                        }
                        Some(deliver_response::Type::Status(s)) => {
                            return Err(format!(
                                "deliver completed with status ({}) before txid received",
                                super::channel::status_name(s)
                            ));
                        }
                        Some(deliver_response::Type::Block(_)) => {
                            return Err(format!(
                                "received unexpected response type (*peer.DeliverResponse_Block) \
                                 from {address}"
                            ));
                        }
                        Some(deliver_response::Type::BlockAndPrivateData(_)) => {
                            return Err(format!(
                                "received unexpected response type \
                                 (*peer.DeliverResponse_BlockAndPrivateData) from {address}"
                            ));
                        }
                        None => {
                            return Err(format!(
                                "received unexpected response type (<nil>) from {address}"
                            ));
                        }
                    }
                }
            }
        });
        let results = tokio::time::timeout_at(self.deadline, futures::future::join_all(waits))
            .await
            .map_err(|_| CliError::Client("timed out waiting for txid on all peers".into()))?;
        let mut first_error = None;
        for result in results {
            match result {
                Ok((address, code)) => {
                    let name = validation_code_name(code);
                    log.info(
                        CHAINCODE_CMD,
                        "ClientWait",
                        &format!("txid [{tx_id}] committed with status ({name}) at {address}"),
                    );
                    if code != TxValidationCode::Valid as i32 && first_error.is_none() {
                        first_error = Some(format!("transaction invalidated with status ({name})"));
                    }
                }
                Err(e) => {
                    if first_error.is_none() {
                        first_error = Some(e);
                    }
                }
            }
        }
        match first_error {
            Some(e) => Err(CliError::Response(e)),
            None => Ok(()),
        }
    }
}

/// A `TxValidationCode` by its Go name (`MVCC_READ_CONFLICT`), or the number.
pub fn validation_code_name(code: i32) -> String {
    TxValidationCode::try_from(code)
        .map_or_else(|_| code.to_string(), |c| c.as_str_name().to_owned())
}

// ---------------------------------------------------------------------------------------
// Go's rendering of messages (`%v` of a protobuf message: its compact text format)

/// A string or bytes field as Go's prototext writes it: printable text kept, `"` and `\`
/// escaped, control bytes and invalid UTF-8 as `\xNN`, C1 controls as `\u00NN`.
pub fn text_quote(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    let mut rest = bytes;
    while !rest.is_empty() {
        let (ch, len) = match std::str::from_utf8(rest) {
            Ok(s) => s
                .chars()
                .next()
                .map_or((None, 1), |c| (Some(c), c.len_utf8())),
            Err(e) if e.valid_up_to() > 0 => {
                let s = std::str::from_utf8(&rest[..e.valid_up_to()]).unwrap_or_default();
                s.chars()
                    .next()
                    .map_or((None, 1), |c| (Some(c), c.len_utf8()))
            }
            Err(_) => (None, 1),
        };
        match ch {
            None => out.push_str(&format!("\\x{:02x}", rest[0])),
            Some('"') => out.push_str("\\\""),
            Some('\\') => out.push_str("\\\\"),
            Some('\n') => out.push_str("\\n"),
            Some('\r') => out.push_str("\\r"),
            Some('\t') => out.push_str("\\t"),
            Some(c) if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            Some(c) if (0x80..=0x9f).contains(&(c as u32)) => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            Some(c) => out.push(c),
        }
        rest = &rest[len..];
    }
    out.push('"');
    out
}

/// `%v` of a `peer.Response`: `status:200 payload:"..."` (zero fields omitted).
pub fn response_text(response: &Response) -> String {
    let mut fields = Vec::new();
    if response.status != 0 {
        fields.push(format!("status:{}", response.status));
    }
    if !response.message.is_empty() {
        fields.push(format!(
            "message:{}",
            text_quote(response.message.as_bytes())
        ));
    }
    if !response.payload.is_empty() {
        fields.push(format!("payload:{}", text_quote(&response.payload)));
    }
    fields.join(" ")
}

/// `%v` of a `*peer.ProposalResponse` (`<nil>` for none).
pub fn proposal_response_text(response: Option<&ProposalResponse>) -> String {
    let Some(r) = response else {
        return "<nil>".into();
    };
    let mut fields = Vec::new();
    if r.version != 0 {
        fields.push(format!("version:{}", r.version));
    }
    if let Some(t) = &r.timestamp {
        let mut ts = Vec::new();
        if t.seconds != 0 {
            ts.push(format!("seconds:{}", t.seconds));
        }
        if t.nanos != 0 {
            ts.push(format!("nanos:{}", t.nanos));
        }
        fields.push(format!("timestamp:{{{}}}", ts.join(" ")));
    }
    if let Some(resp) = &r.response {
        fields.push(format!("response:{{{}}}", response_text(resp)));
    }
    if !r.payload.is_empty() {
        fields.push(format!("payload:{}", text_quote(&r.payload)));
    }
    if let Some(e) = &r.endorsement {
        let mut es = Vec::new();
        if !e.endorser.is_empty() {
            es.push(format!("endorser:{}", text_quote(&e.endorser)));
        }
        if !e.signature.is_empty() {
            es.push(format!("signature:{}", text_quote(&e.signature)));
        }
        fields.push(format!("endorsement:{{{}}}", es.join(" ")));
    }
    fields.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prototext_like_go() {
        let r = Response {
            status: 200,
            message: String::new(),
            payload: br#"{"ID":"asset1","Size":5}"#.to_vec(),
        };
        assert_eq!(
            response_text(&r),
            r#"status:200 payload:"{\"ID\":\"asset1\",\"Size\":5}""#
        );
        let r = Response {
            status: 500,
            message: "asset x does not exist".into(),
            payload: Vec::new(),
        };
        assert_eq!(
            response_text(&r),
            r#"status:500 message:"asset x does not exist""#
        );
        assert_eq!(text_quote(b"\n\x01\xff\\\t"), r#""\n\x01\xff\\\t""#);
        assert_eq!(text_quote("é\u{85}".as_bytes()), "\"é\\u0085\"");
        assert_eq!(proposal_response_text(None), "<nil>");
    }

    #[test]
    fn validation_codes_by_name() {
        assert_eq!(validation_code_name(0), "VALID");
        assert_eq!(validation_code_name(11), "MVCC_READ_CONFLICT");
        assert_eq!(validation_code_name(12345), "12345");
    }
}
