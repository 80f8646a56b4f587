//! Talking to the nodes: signing identities from MSP directories, gRPC channels over our
//! TLS, proposals (evaluate / endorse), Broadcast, waiting for a transaction's commit on
//! the peers' DeliverFiltered, and the orderer admin API over HTTPS with mutual TLS.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use weft_common::crypto::Signer;
use weft_common::grpc::{self, ClientTls};
use weft_common::msp::{MspDir, SigningIdentity};
use weft_common::protoutil;
use weft_proto::common::{Envelope, HeaderType, Status};
use weft_proto::orderer::atomic_broadcast_client::AtomicBroadcastClient;
use weft_proto::orderer::{
    SeekInfo, SeekNewest, SeekPosition, SeekSpecified, seek_info, seek_position,
};
use weft_proto::protos::deliver_client::DeliverClient;
use weft_proto::protos::endorser_client::EndorserClient;
use weft_proto::protos::{ProposalResponse, TxValidationCode, deliver_response};

use crate::error::NetworkError;
use crate::layout::{CHANNEL, HOST, Layout, ORDERER, ORDERER_PORT, PeerSpec};

/// Largest message the clients accept (Fabric's 100 MiB).
const MAX_MESSAGE: usize = 100 * 1024 * 1024;
/// How long a transaction may take from broadcast to commit on every peer.
pub const COMMIT_TIMEOUT: Duration = Duration::from_secs(60);

/// Loads the signing identity in MSP directory `dir` for `mspid`.
pub fn load_identity(dir: &Path, mspid: &str) -> Result<Arc<SigningIdentity>, NetworkError> {
    let msp = MspDir::load(dir, mspid).map_err(|e| NetworkError::Step {
        step: format!("load the identity in {}", dir.display()),
        reason: e.to_string(),
        log: None,
    })?;
    msp.signing_identity
        .map(Arc::new)
        .ok_or_else(|| NetworkError::Step {
            step: format!("load the identity in {}", dir.display()),
            reason: "no signing certificate and key".into(),
            log: None,
        })
}

fn tls_channel(address: &str, ca: &Path) -> Result<Channel, NetworkError> {
    let step = || format!("connect to {address}");
    let config = weft_common::tls::client_config(&[ca.to_path_buf()], None).map_err(|e| {
        NetworkError::Step {
            step: step(),
            reason: e.to_string(),
            log: None,
        }
    })?;
    grpc::channel(
        address,
        Some(ClientTls {
            config,
            server_name_override: None,
        }),
    )
    .map_err(|e| NetworkError::Step {
        step: step(),
        reason: e.to_string(),
        log: None,
    })
}

/// A peer as the network's clients see it: its name, address, log and gRPC channel.
#[derive(Debug, Clone)]
pub struct PeerConn {
    /// The peer.
    pub spec: PeerSpec,
    /// Its log file (named in errors).
    pub log: PathBuf,
    channel: Channel,
}

impl PeerConn {
    /// A (lazily connecting) client of `peer`, trusting its org's TLS CA.
    pub fn new(layout: &Layout, peer: PeerSpec) -> Result<Self, NetworkError> {
        Ok(Self {
            spec: peer,
            log: layout.log(&peer.name()),
            channel: tls_channel(&peer.address(), &layout.peer_tls_ca(&peer))?,
        })
    }

    /// Sends `proposal` to ProcessProposal; a gRPC error names this peer's log.
    pub async fn process_proposal(
        &self,
        signed: weft_proto::protos::SignedProposal,
    ) -> Result<ProposalResponse, String> {
        EndorserClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
            .process_proposal(signed)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| format!("{}: {}", self.spec.name(), status.message()))
    }

    /// Opens DeliverFiltered on `mychannel` from the newest block on, signed by
    /// `signer`; returns once the stream delivered its first block (so that anything
    /// committed afterwards is seen).
    pub async fn watch(&self, signer: &dyn Signer) -> Result<CommitWatch, String> {
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
            error_response: 0,
        };
        let envelope = protoutil::create_signed_envelope(
            HeaderType::DeliverSeekInfo,
            CHANNEL,
            signer,
            &seek.encode_to_vec(),
            0,
        )
        .map_err(|e| e.to_string())?;
        let mut stream = DeliverClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .deliver_filtered(tokio_stream::iter(vec![envelope]))
            .await
            .map_err(|s| format!("{}: DeliverFiltered: {}", self.spec.name(), s.message()))?
            .into_inner();
        let first = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .map_err(|_| {
                format!(
                    "{}: DeliverFiltered sent no block in 30 s",
                    self.spec.name()
                )
            })?;
        let mut seen = HashMap::new();
        match first {
            Some(Ok(response)) => match response.r#type {
                Some(deliver_response::Type::FilteredBlock(block)) => {
                    for tx in block.filtered_transactions {
                        seen.insert(tx.txid, tx.tx_validation_code);
                    }
                }
                other => {
                    return Err(format!(
                        "{}: DeliverFiltered answered {other:?}",
                        self.spec.name()
                    ));
                }
            },
            Some(Err(s)) => {
                return Err(format!(
                    "{}: DeliverFiltered: {}",
                    self.spec.name(),
                    s.message()
                ));
            }
            None => return Err(format!("{}: DeliverFiltered ended", self.spec.name())),
        }
        Ok(CommitWatch {
            peer: self.spec.name(),
            stream,
            seen,
        })
    }

    /// Calls `chaincode` on `channel` (`""` for channel-less system functions) with
    /// `args`, signed by `signer`, without ordering: the response payload, or the status
    /// and message of an answer other than 200.
    pub async fn query(
        &self,
        chaincode: &str,
        channel: &str,
        args: Vec<Vec<u8>>,
        signer: &dyn Signer,
    ) -> Result<Result<Vec<u8>, (i32, String)>, String> {
        let (proposal, _) = protoutil::create_chaincode_proposal(
            channel,
            chaincode,
            args,
            HashMap::new(),
            signer.creator(),
            None,
        );
        let signed = protoutil::sign_proposal(&proposal, signer).map_err(|e| e.to_string())?;
        let answer = self
            .process_proposal(signed)
            .await?
            .response
            .unwrap_or_default();
        Ok(if answer.status == 200 {
            Ok(answer.payload)
        } else {
            Err((answer.status, answer.message))
        })
    }

    /// [`Self::query`], any answer other than 200 being an error.
    pub async fn system_call(
        &self,
        chaincode: &str,
        channel: &str,
        args: Vec<Vec<u8>>,
        signer: &dyn Signer,
    ) -> Result<Vec<u8>, String> {
        self.query(chaincode, channel, args, signer)
            .await?
            .map_err(|(status, message)| {
                format!(
                    "{}: {chaincode} answered {status}: {message}",
                    self.spec.name()
                )
            })
    }
}

/// A DeliverFiltered stream waiting for transactions to commit.
#[derive(Debug)]
pub struct CommitWatch {
    peer: String,
    stream: tonic::Streaming<weft_proto::protos::DeliverResponse>,
    seen: HashMap<String, i32>,
}

impl CommitWatch {
    /// Waits (up to `timeout`) until `txid` is committed and returns its validation code.
    pub async fn wait(
        &mut self,
        txid: &str,
        timeout: Duration,
    ) -> Result<TxValidationCode, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(code) = self.seen.get(txid) {
                return Ok(TxValidationCode::try_from(*code)
                    .unwrap_or(TxValidationCode::InvalidOtherReason));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let next = tokio::time::timeout(left, self.stream.next())
                .await
                .map_err(|_| {
                    format!(
                        "{}: transaction {txid} not committed within {} s",
                        self.peer,
                        timeout.as_secs()
                    )
                })?;
            match next {
                Some(Ok(response)) => {
                    if let Some(deliver_response::Type::FilteredBlock(block)) = response.r#type {
                        for tx in block.filtered_transactions {
                            self.seen.insert(tx.txid, tx.tx_validation_code);
                        }
                    }
                }
                Some(Err(s)) => {
                    return Err(format!("{}: DeliverFiltered: {}", self.peer, s.message()));
                }
                None => return Err(format!("{}: DeliverFiltered ended", self.peer)),
            }
        }
    }
}

/// The orderer as the clients see it.
#[derive(Debug, Clone)]
pub struct OrdererConn {
    /// Its log file.
    pub log: PathBuf,
    channel: Channel,
    admin_tls: Arc<rustls::ClientConfig>,
}

impl OrdererConn {
    /// A client of the orderer: Broadcast over TLS, and the admin API with the orderer
    /// admin's TLS client certificate.
    pub fn new(layout: &Layout) -> Result<Self, NetworkError> {
        let ca = layout.orderer_tls_ca();
        let admin = layout.orderer_admin_tls();
        let admin_tls = weft_common::tls::client_config(
            std::slice::from_ref(&ca),
            Some((&admin.join("client.crt"), &admin.join("client.key"))),
        )
        .map_err(|e| NetworkError::Step {
            step: "load the orderer admin's TLS identity".into(),
            reason: e.to_string(),
            log: None,
        })?;
        Ok(Self {
            log: layout.log(ORDERER),
            channel: tls_channel(&format!("{HOST}:{ORDERER_PORT}"), &ca)?,
            admin_tls,
        })
    }

    /// Broadcasts `envelope`, retrying while the channel has no Raft leader yet
    /// (SERVICE_UNAVAILABLE) for up to 30 s.
    pub async fn broadcast(&self, envelope: Envelope) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut client = AtomicBroadcastClient::new(self.channel.clone())
                .max_encoding_message_size(MAX_MESSAGE)
                .max_decoding_message_size(MAX_MESSAGE);
            let outcome = match client
                .broadcast(tokio_stream::iter(vec![envelope.clone()]))
                .await
            {
                Ok(response) => match response.into_inner().next().await {
                    Some(Ok(answer)) if answer.status == Status::Success as i32 => return Ok(()),
                    Some(Ok(answer)) => {
                        let status = Status::try_from(answer.status)
                            .map(|s| s.as_str_name().to_owned())
                            .unwrap_or_else(|_| answer.status.to_string());
                        let retry = answer.status == Status::ServiceUnavailable as i32;
                        (format!("orderer answered {status}: {}", answer.info), retry)
                    }
                    Some(Err(s)) => (format!("Broadcast: {}", s.message()), true),
                    None => ("Broadcast stream ended without an answer".to_owned(), true),
                },
                Err(s) => (format!("Broadcast: {}", s.message()), true),
            };
            if !outcome.1 || Instant::now() > deadline {
                return Err(outcome.0);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// One HTTPS request to the admin endpoint (mutual TLS): (status, body).
    pub async fn admin_request(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(u16, String), String> {
        let mut config = (*self.admin_tls).clone();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tcp = tokio::net::TcpStream::connect((HOST, crate::layout::ORDERER_ADMIN_PORT))
            .await
            .map_err(|e| format!("connect to the admin endpoint: {e}"))?;
        let name =
            rustls_pki_types::ServerName::try_from(HOST.to_owned()).map_err(|e| e.to_string())?;
        let mut stream = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("admin endpoint TLS handshake: {e}"))?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {HOST}:{}\r\nConnection: close\r\nContent-Length: {}\r\n",
            crate::layout::ORDERER_ADMIN_PORT,
            body.len()
        );
        if let Some(content_type) = content_type {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        head.push_str("\r\n");
        let io = |e: std::io::Error| format!("admin endpoint: {e}");
        stream.write_all(head.as_bytes()).await.map_err(io)?;
        stream.write_all(body).await.map_err(io)?;
        stream.flush().await.map_err(io)?;
        let mut raw = Vec::new();
        // A TLS close without close_notify still leaves the full response read.
        let _ = stream.read_to_end(&mut raw).await;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| format!("admin endpoint: malformed response {text:?}"))?;
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        Ok((status, body))
    }
}

/// A transaction to endorse and order: the proposal's creator signs the envelope.
#[derive(Debug)]
pub struct Invocation<'a> {
    /// The chaincode.
    pub chaincode: &'a str,
    /// The arguments (function name first).
    pub args: Vec<Vec<u8>>,
    /// The transient map.
    pub transient: HashMap<String, Vec<u8>>,
    /// Who signs the proposal and the transaction.
    pub signer: &'a SigningIdentity,
}

/// Evaluates `invocation` on `peer` (no ordering): the response payload.
pub async fn evaluate(
    peer: &PeerConn,
    invocation: Invocation<'_>,
) -> Result<Vec<u8>, NetworkError> {
    let step = format!("evaluate {} on {}", invocation.chaincode, peer.spec.name());
    let (proposal, _) = protoutil::create_chaincode_proposal(
        CHANNEL,
        invocation.chaincode,
        invocation.args,
        invocation.transient,
        invocation.signer.creator(),
        None,
    );
    let signed =
        protoutil::sign_proposal(&proposal, invocation.signer).map_err(|e| NetworkError::Step {
            step: step.clone(),
            reason: e.to_string(),
            log: None,
        })?;
    let response = peer
        .process_proposal(signed)
        .await
        .map_err(|reason| NetworkError::Step {
            step: step.clone(),
            reason,
            log: Some(peer.log.clone()),
        })?;
    let answer = response.response.unwrap_or_default();
    if !(200..400).contains(&answer.status) {
        return Err(NetworkError::Step {
            step,
            reason: format!("status {}: {}", answer.status, answer.message),
            log: None,
        });
    }
    Ok(answer.payload)
}

/// Endorses `invocation` on every peer of `endorsers`, orders it, and waits until every
/// peer of `wait_on` committed it as VALID. Returns the txid and the response payload.
pub async fn submit(
    orderer: &OrdererConn,
    endorsers: &[&PeerConn],
    wait_on: &[&PeerConn],
    invocation: Invocation<'_>,
    step: &str,
) -> Result<(String, Vec<u8>), NetworkError> {
    let fail = |reason: String, log: Option<PathBuf>| NetworkError::Step {
        step: step.to_owned(),
        reason,
        log,
    };
    let signer = invocation.signer;
    let (proposal, txid) = protoutil::create_chaincode_proposal(
        CHANNEL,
        invocation.chaincode,
        invocation.args,
        invocation.transient,
        signer.creator(),
        None,
    );
    let signed =
        protoutil::sign_proposal(&proposal, signer).map_err(|e| fail(e.to_string(), None))?;
    let unpacked = protoutil::unpack_proposal(&signed).map_err(|e| fail(e.to_string(), None))?;
    let answers = futures::future::join_all(endorsers.iter().map(|peer| {
        let signed = signed.clone();
        async move { (peer, peer.process_proposal(signed).await) }
    }))
    .await;
    let mut responses = Vec::new();
    for (peer, answer) in answers {
        let response = answer.map_err(|reason| fail(reason, Some(peer.log.clone())))?;
        let status = response.response.as_ref().map_or(0, |r| r.status);
        if !(200..400).contains(&status) {
            let message = response
                .response
                .as_ref()
                .map(|r| r.message.clone())
                .unwrap_or_default();
            return Err(fail(
                format!(
                    "{} endorsed with status {status}: {message}",
                    peer.spec.name()
                ),
                Some(peer.log.clone()),
            ));
        }
        responses.push(response);
    }
    let payload = responses
        .first()
        .and_then(|r| r.response.as_ref())
        .map(|r| r.payload.clone())
        .unwrap_or_default();
    let unsigned = protoutil::assemble_transaction(&unpacked, &responses)
        .map_err(|e| fail(e.to_string(), None))?;
    let envelope = protoutil::sign_envelope_payload(unsigned.payload, signer)
        .map_err(|e| fail(e.to_string(), None))?;

    let mut watches = Vec::new();
    for peer in wait_on {
        let watch = peer
            .watch(signer)
            .await
            .map_err(|r| fail(r, Some(peer.log.clone())))?;
        watches.push((peer, watch));
    }
    orderer
        .broadcast(envelope)
        .await
        .map_err(|r| fail(r, Some(orderer.log.clone())))?;
    for (peer, mut watch) in watches {
        let code = watch
            .wait(&txid, COMMIT_TIMEOUT)
            .await
            .map_err(|r| fail(r, Some(peer.log.clone())))?;
        if code != TxValidationCode::Valid {
            return Err(fail(
                format!(
                    "transaction {txid} committed as {} on {}",
                    code.as_str_name(),
                    peer.spec.name()
                ),
                Some(peer.log.clone()),
            ));
        }
    }
    Ok((txid, payload))
}

/// Clients of the whole network: the orderer, both peers and each org's admin.
#[derive(Debug, Clone)]
pub struct Clients {
    /// The orderer.
    pub orderer: OrdererConn,
    /// `peer0.org1`, `peer0.org2`.
    pub peers: Vec<PeerConn>,
    /// Each org's admin, in the order of `peers`.
    pub admins: Vec<Arc<SigningIdentity>>,
}

impl Clients {
    /// Clients of the network under `layout` (connections are made on first use).
    pub fn new(layout: &Layout) -> Result<Self, NetworkError> {
        let mut peers = Vec::new();
        let mut admins = Vec::new();
        for spec in crate::layout::PEERS {
            peers.push(PeerConn::new(layout, spec)?);
            admins.push(load_identity(&layout.admin_msp(&spec), &spec.mspid())?);
        }
        Ok(Self {
            orderer: OrdererConn::new(layout)?,
            peers,
            admins,
        })
    }
}
