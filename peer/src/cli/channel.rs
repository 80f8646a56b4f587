//! `peer channel join|list|getinfo|fetch`, as Fabric's `internal/peer/channel`.
//!
//! - `join -b <block>`: a proposal to `cscc` `["JoinChain", <block bytes>]` with header
//!   type CONFIG and an empty channel id, sent to `/protos.Endorser/ProcessProposal`;
//!   logs `Successfully submitted proposal to join channel`.
//! - `list`: `cscc` `["GetChannels"]` (ENDORSER_TRANSACTION, channel ""); prints
//!   `Channels peers has joined: ` then one channel id per line.
//! - `getinfo -c ch`: `qscc` `["GetChainInfo", ch]` (ENDORSER_TRANSACTION, channel "");
//!   prints `Blockchain info: ` and the `BlockchainInfo` as Go's `encoding/json` writes
//!   it (omitting zero fields, hashes in base64).
//! - `fetch <newest|oldest|config|N> [file] -c ch`: a seek for that one block (start =
//!   stop, BLOCK_UNTIL_READY) from the orderer's `/orderer.AtomicBroadcast/Deliver`
//!   when `-o host:port` is given, else from the peer's `/protos.Deliver/Deliver`;
//!   `config` fetches the newest block, reads its last-config index and fetches that
//!   block on the same stream. The block is written to `file`, by default
//!   `<ch>_<target as typed>.block`.
//!
//! Every proposal's ChaincodeSpec has type GOLANG, as Fabric's CLI sends it.

use std::collections::HashMap;
use std::path::Path;

use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;
use weft_common::crypto::Signer;
use weft_common::protoutil;
use weft_proto::common::{
    Block, BlockchainInfo, ChannelHeader, Envelope, Header, HeaderType, Payload, SignatureHeader,
    Status,
};
use weft_proto::orderer::atomic_broadcast_client::AtomicBroadcastClient;
use weft_proto::orderer::{
    SeekInfo, SeekNewest, SeekOldest, SeekPosition, SeekSpecified, seek_info, seek_position,
};
use weft_proto::protos::deliver_client::DeliverClient;
use weft_proto::protos::endorser_client::EndorserClient;
use weft_proto::protos::{
    ChaincodeHeaderExtension, ChaincodeId, ChaincodeInput, ChaincodeInvocationSpec,
    ChaincodeProposalPayload, ChaincodeSpec, ChannelQueryResponse, Proposal, ProposalResponse,
    chaincode_spec,
};

use super::CliError;
use super::args::{FetchArgs, GetinfoArgs, JoinArgs, ListArgs, OrdererArgs};
use super::client::{Connection, Target, go_io_error, load_signer};
use super::log::{CHANNEL_CMD, CLI_COMMON, Logger};
use crate::config::PeerConfig;

/// The configuration system chaincode.
pub const CSCC: &str = "cscc";
/// The query system chaincode.
pub const QSCC: &str = "qscc";
/// `cscc` function joining the peer to a channel.
pub const JOIN_CHAIN: &str = "JoinChain";
/// `cscc` function listing the joined channels.
pub const GET_CHANNELS: &str = "GetChannels";
/// `qscc` function returning a channel's `BlockchainInfo`.
pub const GET_CHAIN_INFO: &str = "GetChainInfo";

// ---------------------------------------------------------------------------------------
// Commands

/// `peer channel join -b <genesis block file>`.
pub async fn join(config: &PeerConfig, log: &Logger, args: &JoinArgs) -> Result<(), CliError> {
    let Some(block_path) = &args.blockpath else {
        return Err(CliError::Usage("Must supply genesis block path".into()));
    };
    let signer = load_signer(config)?;
    let mut endorser = endorser_client(config).await?;
    log.info(
        CHANNEL_CMD,
        "InitCmdFactory",
        "Endorser and orderer connections initialized",
    );
    let block = std::fs::read(block_path).map_err(|e| {
        CliError::Io(format!(
            "genesis block file not found {}",
            go_io_error("open", block_path, &e)
        ))
    })?;
    let (proposal, _) = join_proposal(block, signer.creator());
    let signed = protoutil::sign_proposal(&proposal, &signer)
        .map_err(|e| CliError::Client(format!("Error creating signed proposal {e}")))?;
    let response = endorser
        .process_proposal(signed)
        .await
        .map_err(|status| proposal_failed(&rpc_error(&status)))?
        .into_inner();
    check_join_response(&response)?;
    log.info(
        CHANNEL_CMD,
        "executeJoin",
        "Successfully submitted proposal to join channel",
    );
    Ok(())
}

/// `peer channel list`.
pub async fn list(config: &PeerConfig, log: &Logger, args: &ListArgs) -> Result<(), CliError> {
    if !args.extra.is_empty() {
        return Err(CliError::Usage(format!(
            "trailing args detected: [{}]",
            args.extra.join(" ")
        )));
    }
    let signer = load_signer(config)?;
    let mut endorser = endorser_client(config).await?;
    log.info(
        CHANNEL_CMD,
        "InitCmdFactory",
        "Endorser and orderer connections initialized",
    );
    let (proposal, _) = get_channels_proposal(signer.creator());
    let signed = protoutil::sign_proposal(&proposal, &signer)
        .map_err(|e| CliError::Client(format!("Cannot create signed proposal, due to {e}")))?;
    let response = endorser
        .process_proposal(signed)
        .await
        .map_err(|status| {
            CliError::Client(format!(
                "Failed sending proposal, got {}",
                rpc_error(&status)
            ))
        })?
        .into_inner();
    let channels = channels_from_response(&response)?;
    print!("{}", format_channel_list(&channels));
    Ok(())
}

/// `peer channel getinfo -c <channel>`.
pub async fn getinfo(
    config: &PeerConfig,
    log: &Logger,
    args: &GetinfoArgs,
) -> Result<(), CliError> {
    let channel_id = required_channel(args.channel_id.as_deref())?;
    let signer = load_signer(config)?;
    let mut endorser = endorser_client(config).await?;
    log.info(
        CHANNEL_CMD,
        "InitCmdFactory",
        "Endorser and orderer connections initialized",
    );
    let (proposal, _) = get_chain_info_proposal(channel_id, signer.creator());
    let signed = protoutil::sign_proposal(&proposal, &signer)
        .map_err(|e| CliError::Client(format!("cannot create signed proposal: {e}")))?;
    let response = endorser
        .process_proposal(signed)
        .await
        .map_err(|status| {
            CliError::Client(format!("failed sending proposal: {}", rpc_error(&status)))
        })?
        .into_inner();
    let info = chain_info_from_response(&response)?;
    print!("{}", format_chain_info(&info));
    Ok(())
}

/// `peer channel fetch <newest|oldest|config|N> [outputfile] -c <channel>`.
pub async fn fetch(
    config: &PeerConfig,
    log: &Logger,
    orderer: &OrdererArgs,
    args: &FetchArgs,
) -> Result<(), CliError> {
    let request = FetchRequest::parse(&args.args)?;
    let channel_id = required_channel(args.channel_id.as_deref())?;
    let signer = load_signer(config)?;
    let mut session = if uses_orderer(&orderer.orderer) {
        if !orderer.tls_handshake_time_shift.is_zero() {
            log.info(
                CHANNEL_CMD,
                "InitCmdFactory",
                "--tlsHandshakeTimeShift is accepted but ignored: Weft checks certificate \
                 validity at the current time",
            );
        }
        let connection = Target::orderer(orderer)
            .connect("orderer")
            .await
            .map_err(|e| {
                CliError::Client(format!("failed to create deliver client for orderer: {e}"))
            })?;
        DeliverSession::orderer(connection, DEFAULT_MAX_BLOCK)
    } else {
        let target = Target::peer(config);
        let connection = target.connect("deliver").await.map_err(|e| {
            CliError::Client(format!(
                "error getting deliver client for channel: failed to create deliver client \
                 for peer: {e}"
            ))
        })?;
        DeliverSession::peer(connection, target.max_recv_msg_size)
    };
    log.info(
        CHANNEL_CMD,
        "InitCmdFactory",
        "Endorser and orderer connections initialized",
    );
    let seek = SeekRequest {
        channel_id,
        best_effort: args.best_effort,
        signer: &signer,
    };
    let block = match request.target {
        FetchTarget::Oldest => session.fetch(&seek, Position::Oldest, log).await?,
        FetchTarget::Newest => session.fetch(&seek, Position::Newest, log).await?,
        FetchTarget::Number(n) => session.fetch(&seek, Position::Number(n), log).await?,
        FetchTarget::Config => {
            let newest = session.fetch(&seek, Position::Newest, log).await?;
            let index = protoutil::last_config_index(&newest)
                .map_err(|e| CliError::Response(e.to_string()))?;
            log.info(
                CHANNEL_CMD,
                "fetch",
                &format!("Retrieving last config block: {index}"),
            );
            session.fetch(&seek, Position::Number(index), log).await?
        }
    };
    let file = request
        .output
        .clone()
        .unwrap_or_else(|| default_block_file(channel_id, &request.target_text));
    std::fs::write(&file, block.encode_to_vec())
        .map_err(|e| CliError::Io(go_io_error("open", Path::new(&file), &e)))?;
    Ok(())
}

/// The largest block accepted from an orderer (Fabric's default 100 MiB).
const DEFAULT_MAX_BLOCK: usize = crate::config::DEFAULT_MAX_MSG_SIZE;

fn required_channel(channel_id: Option<&str>) -> Result<&str, CliError> {
    channel_id
        .filter(|c| !c.is_empty())
        .ok_or_else(|| CliError::Usage("Must supply channel ID".into()))
}

async fn endorser_client(
    config: &PeerConfig,
) -> Result<EndorserClient<tonic::transport::Channel>, CliError> {
    let target = Target::peer(config);
    let connection = target
        .connect("endorser")
        .await
        .map_err(|e| CliError::Client(format!("error getting endorser client for channel: {e}")))?;
    Ok(EndorserClient::new(connection.channel)
        .max_decoding_message_size(target.max_recv_msg_size)
        .max_encoding_message_size(target.max_send_msg_size))
}

/// Go's rendering of a gRPC status error (`rpc error: code = Unavailable desc = ...`).
pub fn rpc_error(status: &tonic::Status) -> String {
    format!(
        "rpc error: code = {:?} desc = {}",
        status.code(),
        status.message()
    )
}

fn proposal_failed(reason: &str) -> CliError {
    CliError::Response(format!("proposal failed (err: {reason})"))
}

// ---------------------------------------------------------------------------------------
// Proposals

/// A proposal as Fabric's CLI builds it (`protoutil.CreateProposalFromCIS`): channel
/// header of `header_type` on `channel_id` with a fresh txid, epoch 0, the current time
/// and a `ChaincodeHeaderExtension` naming `chaincode`; signature header with `creator`
/// and a fresh nonce; payload a `ChaincodeProposalPayload` whose input is a
/// `ChaincodeInvocationSpec{ChaincodeSpec{type: GOLANG, chaincode_id{name}, input{args}}}`.
/// Returns the proposal and its txid.
pub fn cli_proposal(
    header_type: HeaderType,
    channel_id: &str,
    chaincode: &str,
    args: Vec<Vec<u8>>,
    creator: &[u8],
) -> (Proposal, String) {
    let nonce = protoutil::create_nonce();
    let tx_id = protoutil::compute_txid(&nonce, creator);
    let chaincode_id = ChaincodeId {
        name: chaincode.to_owned(),
        ..ChaincodeId::default()
    };
    let channel_header = ChannelHeader {
        r#type: header_type as i32,
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
    let signature_header = SignatureHeader {
        creator: creator.to_vec(),
        nonce,
    };
    let invocation = ChaincodeInvocationSpec {
        chaincode_spec: Some(ChaincodeSpec {
            r#type: chaincode_spec::Type::Golang as i32,
            chaincode_id: Some(chaincode_id),
            input: Some(ChaincodeInput {
                args,
                ..ChaincodeInput::default()
            }),
            timeout: 0,
        }),
    };
    let proposal = Proposal {
        header: Header {
            channel_header: channel_header.encode_to_vec(),
            signature_header: signature_header.encode_to_vec(),
        }
        .encode_to_vec(),
        payload: ChaincodeProposalPayload {
            input: invocation.encode_to_vec(),
            transient_map: HashMap::new(),
        }
        .encode_to_vec(),
        extension: Vec::new(),
    };
    (proposal, tx_id)
}

/// `cscc` `["JoinChain", block]`, header type CONFIG, no channel.
pub fn join_proposal(block: Vec<u8>, creator: &[u8]) -> (Proposal, String) {
    cli_proposal(
        HeaderType::Config,
        "",
        CSCC,
        vec![JOIN_CHAIN.as_bytes().to_vec(), block],
        creator,
    )
}

/// `cscc` `["GetChannels"]`, header type ENDORSER_TRANSACTION, no channel.
pub fn get_channels_proposal(creator: &[u8]) -> (Proposal, String) {
    cli_proposal(
        HeaderType::EndorserTransaction,
        "",
        CSCC,
        vec![GET_CHANNELS.as_bytes().to_vec()],
        creator,
    )
}

/// `qscc` `["GetChainInfo", channel]`, header type ENDORSER_TRANSACTION, no channel in
/// the header (the channel travels in the arguments).
pub fn get_chain_info_proposal(channel_id: &str, creator: &[u8]) -> (Proposal, String) {
    cli_proposal(
        HeaderType::EndorserTransaction,
        "",
        QSCC,
        vec![
            GET_CHAIN_INFO.as_bytes().to_vec(),
            channel_id.as_bytes().to_vec(),
        ],
        creator,
    )
}

// ---------------------------------------------------------------------------------------
// Responses and output

/// Join succeeded when the response status is 0 or 200 (Fabric's check).
pub fn check_join_response(response: &ProposalResponse) -> Result<(), CliError> {
    let (status, message) = response
        .response
        .as_ref()
        .map_or((0, ""), |r| (r.status, r.message.as_str()));
    if status != 0 && status != 200 {
        return Err(proposal_failed(&format!(
            "bad proposal response {status}: {message}"
        )));
    }
    Ok(())
}

/// The channel ids of a `GetChannels` answer.
pub fn channels_from_response(response: &ProposalResponse) -> Result<Vec<String>, CliError> {
    let r = ok_response(response, "Received bad response")?;
    let list = ChannelQueryResponse::decode(r.payload.as_slice())
        .map_err(|e| CliError::Response(format!("Cannot read channels list response, {e}")))?;
    Ok(list.channels.into_iter().map(|c| c.channel_id).collect())
}

/// What `peer channel list` prints.
pub fn format_channel_list(channels: &[String]) -> String {
    let mut out = String::from("Channels peers has joined: \n");
    for channel in channels {
        out.push_str(channel);
        out.push('\n');
    }
    out
}

/// The `BlockchainInfo` of a `GetChainInfo` answer.
pub fn chain_info_from_response(response: &ProposalResponse) -> Result<BlockchainInfo, CliError> {
    let r = ok_response(response, "received bad response")?;
    BlockchainInfo::decode(r.payload.as_slice())
        .map_err(|e| CliError::Response(format!("cannot read qscc response: {e}")))
}

fn ok_response<'a>(
    response: &'a ProposalResponse,
    what: &str,
) -> Result<&'a weft_proto::protos::Response, CliError> {
    match &response.response {
        Some(r) if r.status == 200 => Ok(r),
        Some(r) => Err(CliError::Response(format!(
            "{what}, status {}: {}",
            r.status, r.message
        ))),
        None => Err(CliError::Response(format!("{what}, status 0: "))),
    }
}

/// What `peer channel getinfo` prints: `Blockchain info: ` and the info as Go's
/// `json.Marshal` of the generated struct writes it (fields in declaration order, zero
/// values omitted, byte strings in padded standard base64).
pub fn format_chain_info(info: &BlockchainInfo) -> String {
    let mut fields = Vec::new();
    if info.height != 0 {
        fields.push(format!("\"height\":{}", info.height));
    }
    if !info.current_block_hash.is_empty() {
        fields.push(format!(
            "\"currentBlockHash\":\"{}\"",
            base64_std(&info.current_block_hash)
        ));
    }
    if !info.previous_block_hash.is_empty() {
        fields.push(format!(
            "\"previousBlockHash\":\"{}\"",
            base64_std(&info.previous_block_hash)
        ));
    }
    if let Some(snapshot) = &info.bootstrapping_snapshot_info {
        let inner = if snapshot.last_block_in_snapshot == 0 {
            String::new()
        } else {
            format!(
                "\"lastBlockInSnapshot\":{}",
                snapshot.last_block_in_snapshot
            )
        };
        fields.push(format!("\"bootstrappingSnapshotInfo\":{{{inner}}}"));
    }
    format!("Blockchain info: {{{}}}\n", fields.join(","))
}

/// Standard base64 with padding (Go's `base64.StdEncoding`).
pub fn base64_std(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Fetch

/// What `peer channel fetch` was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchTarget {
    /// `oldest`: block 0 (or the oldest kept).
    Oldest,
    /// `newest`: the last block.
    Newest,
    /// `config`: the last config block.
    Config,
    /// A block number.
    Number(u64),
}

/// The parsed positional arguments of `peer channel fetch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    /// The block asked for.
    pub target: FetchTarget,
    /// The target as typed (it names the default output file).
    pub target_text: String,
    /// The output file, when given.
    pub output: Option<String>,
}

impl FetchRequest {
    /// Parses `<newest|oldest|config|N> [outputfile]` with Fabric's messages.
    pub fn parse(args: &[String]) -> Result<Self, CliError> {
        let Some(target_text) = args.first() else {
            return Err(CliError::Usage(
                "fetch target required, oldest, newest, config, or a number".into(),
            ));
        };
        if args.len() > 2 {
            return Err(CliError::Usage("trailing args detected".into()));
        }
        let target = match target_text.as_str() {
            "oldest" => FetchTarget::Oldest,
            "newest" => FetchTarget::Newest,
            "config" => FetchTarget::Config,
            other => {
                let digits = other.strip_prefix('+').unwrap_or(other);
                digits
                    .parse::<u64>()
                    .map(FetchTarget::Number)
                    .map_err(|_| CliError::Usage(format!("fetch target illegal: {other}")))?
            }
        };
        Ok(Self {
            target,
            target_text: target_text.clone(),
            output: args.get(1).cloned(),
        })
    }
}

/// Fabric's default output file: `<channel>_<target as typed>.block`.
pub fn default_block_file(channel_id: &str, target_text: &str) -> String {
    format!("{channel_id}_{target_text}.block")
}

/// Whether `-o` names an orderer: Fabric's test is exactly one `:` in the value;
/// anything else (including no `-o`) fetches from the peer.
pub fn uses_orderer(endpoint: &str) -> bool {
    endpoint.split(':').count() == 2
}

/// A position to seek.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// The oldest block.
    Oldest,
    /// The newest block.
    Newest,
    /// Block `n`.
    Number(u64),
}

impl Position {
    fn seek_position(self) -> SeekPosition {
        let r#type = match self {
            Self::Oldest => seek_position::Type::Oldest(SeekOldest {}),
            Self::Newest => seek_position::Type::Newest(SeekNewest {}),
            Self::Number(number) => seek_position::Type::Specified(SeekSpecified { number }),
        };
        SeekPosition {
            r#type: Some(r#type),
        }
    }

    fn what(self) -> &'static str {
        match self {
            Self::Oldest => "oldest",
            Self::Newest => "newest",
            Self::Number(_) => "specified",
        }
    }
}

/// Who asks for blocks of which channel.
#[derive(Debug)]
pub struct SeekRequest<'a, S: Signer> {
    /// The channel.
    pub channel_id: &'a str,
    /// `--bestEffort`.
    pub best_effort: bool,
    /// The signer of the seek envelopes.
    pub signer: &'a S,
}

/// The seek envelope Fabric's CLI sends (`seekHelper`): a DELIVER_SEEK_INFO envelope on
/// `channel_id` signed by `signer`, carrying `SeekInfo{start = stop = position,
/// BLOCK_UNTIL_READY, BEST_EFFORT if asked}`, epoch 0, and the client TLS certificate's
/// hash when one is presented.
pub fn seek_envelope(
    channel_id: &str,
    position: Position,
    best_effort: bool,
    tls_cert_hash: Option<&[u8]>,
    signer: &dyn Signer,
) -> Result<Envelope, CliError> {
    let seek_info = SeekInfo {
        start: Some(position.seek_position()),
        stop: Some(position.seek_position()),
        behavior: seek_info::SeekBehavior::BlockUntilReady as i32,
        error_response: if best_effort {
            seek_info::SeekErrorResponse::BestEffort as i32
        } else {
            seek_info::SeekErrorResponse::Strict as i32
        },
    };
    let nonce = protoutil::create_nonce();
    let channel_header = ChannelHeader {
        r#type: HeaderType::DeliverSeekInfo as i32,
        version: 0,
        timestamp: Some(protoutil::header::timestamp_now_seconds()),
        channel_id: channel_id.to_owned(),
        tx_id: protoutil::compute_txid(&nonce, signer.creator()),
        epoch: 0,
        extension: Vec::new(),
        tls_cert_hash: tls_cert_hash.map(<[u8]>::to_vec).unwrap_or_default(),
    };
    let payload = Payload {
        header: Some(Header {
            channel_header: channel_header.encode_to_vec(),
            signature_header: SignatureHeader {
                creator: signer.creator().to_vec(),
                nonce,
            }
            .encode_to_vec(),
        }),
        data: seek_info.encode_to_vec(),
    };
    protoutil::sign_envelope_payload(payload.encode_to_vec(), signer)
        .map_err(|e| CliError::Client(format!("Error signing envelope: {e}")))
}

/// One answer of either Deliver service.
enum Reply {
    Status(i32),
    Block(Box<Block>),
    Other(&'static str),
}

/// The response stream of the orderer's or the peer's Deliver.
enum Replies {
    Orderer(Streaming<weft_proto::orderer::DeliverResponse>),
    Peer(Streaming<weft_proto::protos::DeliverResponse>),
}

/// A Deliver stream on which seeks are sent one after the other, as Fabric's CLI does.
struct DeliverSession {
    connection: Connection,
    from_peer: bool,
    max_block: usize,
    requests: Option<mpsc::Sender<Envelope>>,
    replies: Option<Replies>,
}

impl DeliverSession {
    fn orderer(connection: Connection, max_block: usize) -> Self {
        Self {
            connection,
            from_peer: false,
            max_block,
            requests: None,
            replies: None,
        }
    }

    fn peer(connection: Connection, max_block: usize) -> Self {
        Self {
            connection,
            from_peer: true,
            max_block,
            requests: None,
            replies: None,
        }
    }

    /// Seeks `position` and reads the block, then the status that follows it.
    async fn fetch<S: Signer>(
        &mut self,
        seek: &SeekRequest<'_, S>,
        position: Position,
        log: &Logger,
    ) -> Result<Block, CliError> {
        let envelope = seek_envelope(
            seek.channel_id,
            position,
            seek.best_effort,
            self.connection.tls_cert_hash.as_ref().map(|h| h.as_slice()),
            seek.signer,
        )?;
        self.send(envelope).await.map_err(|reason| {
            CliError::Client(format!("error getting {} block: {reason}", position.what()))
        })?;
        let block = match self.recv().await? {
            Reply::Block(block) => block,
            Reply::Status(status) => {
                let text = status_name(status);
                log.info(CLI_COMMON, "readBlock", &format!("Got status: &{{{text}}}"));
                return Err(CliError::Response(format!(
                    "can't read the block: &{{{text}}}"
                )));
            }
            Reply::Other(kind) => {
                return Err(CliError::Response(format!(
                    "response error: unknown type {kind}"
                )));
            }
        };
        let number = block.header.as_ref().map_or(0, |h| h.number);
        log.info(
            CLI_COMMON,
            "readBlock",
            &format!("Received block: {number}"),
        );
        // Flush the status that ends this seek (its value does not matter, as in Fabric).
        let _ = self.recv().await;
        Ok(*block)
    }

    async fn send(&mut self, envelope: Envelope) -> Result<(), String> {
        if let Some(requests) = &self.requests {
            return requests.send(envelope).await.map_err(|_| "EOF".to_owned());
        }
        // First seek: queue it, then open the stream (the server may answer only once
        // it has a request).
        let (tx, rx) = mpsc::channel(4);
        tx.send(envelope).await.map_err(|_| "EOF".to_owned())?;
        let channel = self.connection.channel.clone();
        let replies = if self.from_peer {
            let mut client = DeliverClient::new(channel).max_decoding_message_size(self.max_block);
            Replies::Peer(
                client
                    .deliver(ReceiverStream::new(rx))
                    .await
                    .map_err(|s| rpc_error(&s))?
                    .into_inner(),
            )
        } else {
            let mut client =
                AtomicBroadcastClient::new(channel).max_decoding_message_size(self.max_block);
            Replies::Orderer(
                client
                    .deliver(ReceiverStream::new(rx))
                    .await
                    .map_err(|s| rpc_error(&s))?
                    .into_inner(),
            )
        };
        self.requests = Some(tx);
        self.replies = Some(replies);
        Ok(())
    }

    async fn recv(&mut self) -> Result<Reply, CliError> {
        let receiving = |reason: String| CliError::Client(format!("error receiving: {reason}"));
        match &mut self.replies {
            None => Err(receiving("EOF".into())),
            Some(Replies::Orderer(stream)) => {
                use weft_proto::orderer::deliver_response::Type;
                match stream.message().await {
                    Ok(Some(m)) => Ok(match m.r#type {
                        Some(Type::Status(s)) => Reply::Status(s),
                        Some(Type::Block(b)) => Reply::Block(Box::new(b)),
                        None => Reply::Other("<nil>"),
                    }),
                    Ok(None) => Err(receiving("EOF".into())),
                    Err(status) => Err(receiving(rpc_error(&status))),
                }
            }
            Some(Replies::Peer(stream)) => {
                use weft_proto::protos::deliver_response::Type;
                let from_peer = |reason: String| {
                    receiving(format!(
                        "error receiving from peer deliver service: {reason}"
                    ))
                };
                match stream.message().await {
                    Ok(Some(m)) => Ok(match m.r#type {
                        Some(Type::Status(s)) => Reply::Status(s),
                        Some(Type::Block(b)) => Reply::Block(Box::new(b)),
                        Some(Type::FilteredBlock(_)) => {
                            Reply::Other("*peer.DeliverResponse_FilteredBlock")
                        }
                        Some(Type::BlockAndPrivateData(_)) => {
                            Reply::Other("*peer.DeliverResponse_BlockAndPrivateData")
                        }
                        None => Reply::Other("<nil>"),
                    }),
                    Ok(None) => Err(from_peer("EOF".into())),
                    Err(status) => Err(from_peer(rpc_error(&status))),
                }
            }
        }
    }
}

/// A `common.Status` by its Go name (`NOT_FOUND`), or the number when unknown.
pub fn status_name(status: i32) -> String {
    Status::try_from(status).map_or_else(|_| status.to_string(), |s| s.as_str_name().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_proto::common::BootstrappingSnapshotInfo;
    use weft_proto::protos::{ChannelInfo, Response};

    /// A signer with a fixed identity and a fake signature, enough to build messages.
    struct FakeSigner(Vec<u8>);

    impl Signer for FakeSigner {
        fn creator(&self) -> &[u8] {
            &self.0
        }
        fn sign(&self, message: &[u8]) -> Result<Vec<u8>, weft_common::crypto::CryptoError> {
            Ok(message.iter().rev().copied().collect())
        }
    }

    /// Decodes a proposal the way the endorser does and returns its parts.
    fn decode(proposal: &Proposal) -> (ChannelHeader, SignatureHeader, ChaincodeSpec) {
        let header = Header::decode(proposal.header.as_slice()).expect("header");
        let ch = ChannelHeader::decode(header.channel_header.as_slice()).expect("channel header");
        let sh =
            SignatureHeader::decode(header.signature_header.as_slice()).expect("signature header");
        let payload =
            ChaincodeProposalPayload::decode(proposal.payload.as_slice()).expect("payload");
        assert!(payload.transient_map.is_empty());
        let cis = ChaincodeInvocationSpec::decode(payload.input.as_slice()).expect("cis");
        (ch, sh, cis.chaincode_spec.expect("spec"))
    }

    #[test]
    fn join_proposal_is_what_fabrics_cli_sends() {
        let creator = b"creator".to_vec();
        let (proposal, txid) = join_proposal(b"genesis".to_vec(), &creator);
        let (ch, sh, spec) = decode(&proposal);
        assert_eq!(ch.r#type, HeaderType::Config as i32);
        assert_eq!(ch.channel_id, "");
        assert_eq!(ch.epoch, 0);
        assert_eq!(ch.tx_id, txid);
        assert!(ch.timestamp.is_some());
        let ext = ChaincodeHeaderExtension::decode(ch.extension.as_slice()).expect("extension");
        assert_eq!(ext.chaincode_id.map(|c| c.name).as_deref(), Some("cscc"));
        assert_eq!(sh.creator, creator);
        assert_eq!(sh.nonce.len(), protoutil::NONCE_LEN);
        protoutil::check_txid(&txid, &sh.nonce, &creator).expect("txid binds nonce and creator");
        assert_eq!(spec.r#type, chaincode_spec::Type::Golang as i32);
        assert_eq!(spec.chaincode_id.map(|c| c.name).as_deref(), Some("cscc"));
        assert_eq!(
            spec.input.expect("input").args,
            vec![b"JoinChain".to_vec(), b"genesis".to_vec()]
        );
        assert!(proposal.extension.is_empty());
    }

    #[test]
    fn list_and_getinfo_proposals() {
        let (proposal, _) = get_channels_proposal(b"me");
        let (ch, _, spec) = decode(&proposal);
        assert_eq!(ch.r#type, HeaderType::EndorserTransaction as i32);
        assert_eq!(ch.channel_id, "");
        assert_eq!(spec.chaincode_id.map(|c| c.name).as_deref(), Some("cscc"));
        assert_eq!(
            spec.input.expect("input").args,
            vec![b"GetChannels".to_vec()]
        );

        let (proposal, _) = get_chain_info_proposal("mychannel", b"me");
        let (ch, _, spec) = decode(&proposal);
        assert_eq!(ch.r#type, HeaderType::EndorserTransaction as i32);
        assert_eq!(ch.channel_id, "");
        assert_eq!(spec.chaincode_id.map(|c| c.name).as_deref(), Some("qscc"));
        assert_eq!(
            spec.input.expect("input").args,
            vec![b"GetChainInfo".to_vec(), b"mychannel".to_vec()]
        );
    }

    fn response(status: i32, message: &str, payload: Vec<u8>) -> ProposalResponse {
        ProposalResponse {
            response: Some(Response {
                status,
                message: message.into(),
                payload,
            }),
            ..ProposalResponse::default()
        }
    }

    #[test]
    fn join_response_statuses() {
        check_join_response(&response(200, "", Vec::new())).expect("200");
        check_join_response(&response(0, "", Vec::new())).expect("0");
        check_join_response(&ProposalResponse::default()).expect("no response");
        let err = check_join_response(&response(
            500,
            "access denied for [JoinChain][mychannel]",
            Vec::new(),
        ))
        .expect_err("500");
        assert_eq!(
            err.to_string(),
            "proposal failed (err: bad proposal response 500: access denied for \
             [JoinChain][mychannel])"
        );
    }

    #[test]
    fn channel_list_output() {
        let payload = ChannelQueryResponse {
            channels: vec![
                ChannelInfo {
                    channel_id: "mychannel".into(),
                },
                ChannelInfo {
                    channel_id: "other".into(),
                },
            ],
        }
        .encode_to_vec();
        let channels = channels_from_response(&response(200, "", payload)).expect("channels");
        assert_eq!(
            format_channel_list(&channels),
            "Channels peers has joined: \nmychannel\nother\n"
        );
        assert_eq!(format_channel_list(&[]), "Channels peers has joined: \n");
        let err = channels_from_response(&response(403, "forbidden", Vec::new()))
            .expect_err("bad status");
        assert_eq!(
            err.to_string(),
            "Received bad response, status 403: forbidden"
        );
        let err = channels_from_response(&response(200, "", vec![0xff])).expect_err("bad payload");
        assert!(
            err.to_string()
                .starts_with("Cannot read channels list response, "),
            "{err}"
        );
    }

    #[test]
    fn chain_info_output_matches_go_json() {
        let info = BlockchainInfo {
            height: 1,
            current_block_hash: vec![0xfb, 0xff, 0x00, 0x10],
            previous_block_hash: Vec::new(),
            bootstrapping_snapshot_info: None,
        };
        assert_eq!(
            format_chain_info(&info),
            "Blockchain info: {\"height\":1,\"currentBlockHash\":\"+/8AEA==\"}\n"
        );
        let info = BlockchainInfo {
            height: 7,
            current_block_hash: b"abc".to_vec(),
            previous_block_hash: b"ab".to_vec(),
            bootstrapping_snapshot_info: Some(BootstrappingSnapshotInfo {
                last_block_in_snapshot: 3,
            }),
        };
        assert_eq!(
            format_chain_info(&info),
            "Blockchain info: {\"height\":7,\"currentBlockHash\":\"YWJj\",\
             \"previousBlockHash\":\"YWI=\",\"bootstrappingSnapshotInfo\":\
             {\"lastBlockInSnapshot\":3}}\n"
        );
        assert_eq!(
            format_chain_info(&BlockchainInfo::default()),
            "Blockchain info: {}\n"
        );
        let payload = info.encode_to_vec();
        assert_eq!(
            chain_info_from_response(&response(200, "", payload)).expect("info"),
            info
        );
        let err = chain_info_from_response(&response(500, "no such channel", Vec::new()))
            .expect_err("bad status");
        assert_eq!(
            err.to_string(),
            "received bad response, status 500: no such channel"
        );
    }

    #[test]
    fn base64_like_go() {
        for (input, expected) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_std(input), expected);
        }
    }

    #[test]
    fn fetch_arguments_and_default_file_names() {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let r = FetchRequest::parse(&args(&["config"])).expect("config");
        assert_eq!(r.target, FetchTarget::Config);
        assert_eq!(r.output, None);
        assert_eq!(
            default_block_file("mychannel", &r.target_text),
            "mychannel_config.block"
        );
        let r = FetchRequest::parse(&args(&["newest", "out.block"])).expect("newest");
        assert_eq!(r.target, FetchTarget::Newest);
        assert_eq!(r.output.as_deref(), Some("out.block"));
        assert_eq!(
            FetchRequest::parse(&args(&["oldest"]))
                .expect("oldest")
                .target,
            FetchTarget::Oldest
        );
        let r = FetchRequest::parse(&args(&["05"])).expect("number");
        assert_eq!(r.target, FetchTarget::Number(5));
        assert_eq!(default_block_file("ch", &r.target_text), "ch_05.block");

        let err = |a: &[&str]| {
            FetchRequest::parse(&args(a))
                .expect_err("refused")
                .to_string()
        };
        assert_eq!(
            err(&[]),
            "fetch target required, oldest, newest, config, or a number"
        );
        assert_eq!(err(&["newest", "a", "b"]), "trailing args detected");
        assert_eq!(err(&["latest"]), "fetch target illegal: latest");
        assert_eq!(err(&["-1"]), "fetch target illegal: -1");
    }

    #[test]
    fn orderer_endpoint_selection_is_fabrics() {
        assert!(uses_orderer("localhost:7050"));
        assert!(uses_orderer("orderer.example.com:7050"));
        assert!(!uses_orderer(""));
        assert!(!uses_orderer("orderer.example.com"));
        assert!(!uses_orderer("[::1]:7050"));
    }

    #[test]
    fn seek_envelope_asks_for_one_block() {
        let signer = FakeSigner(b"admin".to_vec());
        let hash = [7u8; 32];
        let env = seek_envelope("mychannel", Position::Number(5), true, Some(&hash), &signer)
            .expect("envelope");
        let up = protoutil::unpack_envelope(&env).expect("unpack");
        assert_eq!(up.channel_header.r#type, HeaderType::DeliverSeekInfo as i32);
        assert_eq!(up.channel_header.channel_id, "mychannel");
        assert_eq!(up.channel_header.epoch, 0);
        assert_eq!(up.channel_header.tls_cert_hash, hash.to_vec());
        assert_eq!(up.channel_header.timestamp.map(|t| t.nanos), Some(0));
        assert_eq!(up.signature_header.creator, b"admin".to_vec());
        protoutil::check_txid(
            &up.channel_header.tx_id,
            &up.signature_header.nonce,
            b"admin",
        )
        .expect("txid");
        assert_eq!(
            env.signature,
            env.payload.iter().rev().copied().collect::<Vec<_>>()
        );
        let info = SeekInfo::decode(up.data.as_slice()).expect("seek info");
        let specified = Some(SeekPosition {
            r#type: Some(seek_position::Type::Specified(SeekSpecified { number: 5 })),
        });
        assert_eq!(info.start, specified);
        assert_eq!(info.stop, specified);
        assert_eq!(
            info.behavior,
            seek_info::SeekBehavior::BlockUntilReady as i32
        );
        assert_eq!(
            info.error_response,
            seek_info::SeekErrorResponse::BestEffort as i32
        );

        let env = seek_envelope("ch", Position::Newest, false, None, &signer).expect("envelope");
        let up = protoutil::unpack_envelope(&env).expect("unpack");
        assert!(up.channel_header.tls_cert_hash.is_empty());
        let info = SeekInfo::decode(up.data.as_slice()).expect("seek info");
        assert_eq!(
            info.start.and_then(|p| p.r#type),
            Some(seek_position::Type::Newest(SeekNewest {}))
        );
        assert_eq!(
            info.error_response,
            seek_info::SeekErrorResponse::Strict as i32
        );
    }

    #[test]
    fn deliver_status_names() {
        assert_eq!(status_name(Status::NotFound as i32), "NOT_FOUND");
        assert_eq!(status_name(Status::Forbidden as i32), "FORBIDDEN");
        assert_eq!(status_name(12345), "12345");
    }

    #[test]
    fn grpc_errors_read_like_go() {
        let status = tonic::Status::unavailable("connection refused");
        assert_eq!(
            rpc_error(&status),
            "rpc error: code = Unavailable desc = connection refused"
        );
    }
}
