//! Protocol tests of the chaincode handler, driven by a scripted shim: each test plays a
//! chaincode process over an in-memory stream (REGISTER, then answers to TRANSACTION /
//! INIT with state requests and a COMPLETED) and checks every message the peer sends
//! against what Fabric v2.5's `core/chaincode/handler.go` would send, and the read-write
//! set the simulation recorded.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use prost::Message;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use weft_common::msp::{MspDir, SigningIdentity};
use weft_common::policy::dsl;
use weft_common::protoutil::{self, build_block, set_transactions_filter};
use weft_proto::kvrwset::range_query_info::ReadsInfo;
use weft_proto::kvrwset::{KvMetadataEntry, KvMetadataWrite, KvRead, KvWrite, KvrwSet};
use weft_proto::protos::chaincode_message::Type;
use weft_proto::protos::{
    ChaincodeAction, ChaincodeEvent, ChaincodeId, ChaincodeInput, ChaincodeMessage, ChaincodeSpec,
    DelState, GetHistoryForKey, GetQueryResult, GetState, GetStateByRange, GetStateMetadata,
    GetStateMultiple, GetStateMultipleResult, PutState, PutStateMetadata, QueryMetadata,
    QueryResponse, QueryResponseMetadata, QueryStateClose, QueryStateNext, Response, StateMetadata,
    StateMetadataResult, TxValidationCode,
};
use weft_proto::queryresult::{KeyModification, Kv};
use weft_proto::rwset::tx_read_write_set::DataModel;
use weft_proto::rwset::{NsReadWriteSet, TxReadWriteSet};
use weft_tools::configtxgen;
use weft_tools::cryptogen::{self, CryptoConfig};

use super::handler::{self, HandlerError};
use super::package::PackageStore;
use super::{
    Approval, ChaincodeSupport, ExecuteError, INITIALIZED_KEY, SupportConfig, TxParams, share,
};
use crate::acl::AclProvider;
use crate::channel::Channel;
use crate::channels::Channels;
use crate::ledger::{KeyMetadataWrite, KeyWrite, NsUpdates, TxUpdates, tx_updates_from_rwset};
use crate::validation::definitions::{
    ChaincodeDefinition, LIFECYCLE_NAMESPACE, definitions_tx_updates, field_key, signature_policy,
};
use crate::validation::range_merkle::RangeQueryResultsHelper;

const CHANNEL: &str = "mychannel";
/// How long the shim waits for a message the peer must send.
const WAIT: Duration = Duration::from_secs(10);
/// How long the shim listens to make sure the peer sends nothing.
const QUIET: Duration = Duration::from_millis(250);
/// Keys `r000`..`r249` seeded for the range tests.
const RANGE_KEYS: usize = 250;
/// Keys `p00`..`p09` seeded for the pagination tests.
const PAGE_KEYS: usize = 10;

fn package_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

type Execution = JoinHandle<Result<(Response, Option<ChaincodeEvent>), ExecuteError>>;
type Served = JoinHandle<Result<(), HandlerError>>;

/// A peer with one joined channel, the chaincode support in dev mode, and seeded state.
struct Net {
    dir: tempfile::TempDir,
    channels: Arc<Channels>,
    channel: Arc<Channel>,
    support: Arc<ChaincodeSupport>,
    user1: SigningIdentity,
    peer: SigningIdentity,
}

impl Net {
    /// `basic` and `callee` defined (no init required), approved, state seeded; executions
    /// time out after 10 s.
    fn new() -> Self {
        Self::with(
            &[("basic", false), ("callee", false)],
            Duration::from_secs(10),
        )
    }

    /// Chaincodes `defs` (name, init required) defined at sequence 1 / version 1.0 and
    /// approved without a package (dev mode: ccid `name:1.0`), state seeded in `basic`.
    fn with(defs: &[(&str, bool)], execute_timeout: Duration) -> Self {
        Self::with_config(
            defs,
            SupportConfig {
                execute_timeout,
                startup_timeout: Duration::from_secs(1),
                dev_mode: true,
                ..SupportConfig::default()
            },
        )
    }

    /// [`Self::with`] and the given support settings.
    fn with_config(defs: &[(&str, bool)], config: SupportConfig) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let tools = package_dir().join("../tools/testdata");
        let orgs = dir.path().join("organizations");
        let crypto = CryptoConfig::load(&tools.join("crypto-config.yaml")).expect("crypto");
        cryptogen::generate(&crypto, &orgs).expect("cryptogen");
        std::fs::copy(
            tools.join("configtx.yaml"),
            dir.path().join("configtx.yaml"),
        )
        .expect("configtx");
        let top = configtxgen::TopLevel::load(dir.path()).expect("configtx.yaml");
        let profile = top.profile("TwoOrgsApplicationGenesis").expect("profile");
        let genesis = configtxgen::genesis_block(&profile, CHANNEL).expect("genesis");

        let org1 = orgs.join("peerOrganizations/org1.example.com");
        let peer_msp =
            MspDir::load(&org1.join("peers/peer0.org1.example.com/msp"), "Org1MSP").expect("msp");
        let user1 = MspDir::load(&org1.join("users/User1@org1.example.com/msp"), "Org1MSP")
            .expect("msp")
            .signing_identity
            .expect("user1");
        let channels = Arc::new(Channels::open(&dir.path().join("peer")).expect("channels"));
        let channel = channels.join(&genesis).expect("join");
        let acl = AclProvider::new(Arc::new(peer_msp.msp().expect("local msp")));
        let support = ChaincodeSupport::new(
            config,
            channels.clone(),
            acl,
            PackageStore::under(&dir.path().join("packages")).expect("package store"),
            HashMap::new(),
        );
        let net = Net {
            peer: peer_msp.signing_identity.clone().expect("peer identity"),
            user1,
            channels,
            channel: channel.clone(),
            support,
            dir,
        };
        net.define(&channel, defs, seed());
        net
    }

    /// Joins a second channel, `legacy`, whose application capability is V1_2 (no
    /// key-level endorsement, no purge), with `basic` defined and approved.
    fn legacy_channel(&self) -> Arc<Channel> {
        let dir = self.dir.path().join("legacy");
        std::fs::create_dir_all(&dir).expect("dir");
        let yaml = std::fs::read_to_string(package_dir().join("../tools/testdata/configtx.yaml"))
            .expect("configtx");
        std::os::unix::fs::symlink(
            self.dir.path().join("organizations"),
            dir.join("organizations"),
        )
        .expect("symlink");
        let yaml = yaml.replace(
            "Application: &ApplicationCapabilities\n    V2_5: true",
            "Application: &ApplicationCapabilities\n    V1_2: true",
        );
        assert!(yaml.contains("V1_2: true"));
        std::fs::write(dir.join("configtx.yaml"), yaml).expect("write");
        let top = configtxgen::TopLevel::load(&dir).expect("configtx.yaml");
        let profile = top.profile("TwoOrgsApplicationGenesis").expect("profile");
        let genesis = configtxgen::genesis_block(&profile, "legacy").expect("genesis");
        let channel = self.channels.join(&genesis).expect("join legacy");
        self.define(&channel, &[("basic", false)], seed());
        channel
    }

    /// Commits a block defining `defs` and writing `seed` (test seeding, not validated).
    fn define(&self, channel: &Arc<Channel>, defs: &[(&str, bool)], seed: Vec<NsUpdates>) {
        let policy = signature_policy(dsl::parse("OR('Org1MSP.peer')").expect("policy"));
        let definitions: Vec<(String, ChaincodeDefinition)> = defs
            .iter()
            .map(|(name, init_required)| {
                let mut definition = ChaincodeDefinition::new(1, "1.0", &policy);
                definition.endorsement_info.init_required = *init_required;
                ((*name).to_owned(), definition)
            })
            .collect();
        let refs: Vec<(&str, &ChaincodeDefinition)> =
            definitions.iter().map(|(n, d)| (n.as_str(), d)).collect();
        let mut updates = definitions_tx_updates(0, "define", &refs);
        updates.namespaces.extend(seed);
        commit_updates(channel, vec![updates]);
        for (name, _) in defs {
            self.support.approve(
                channel.id(),
                name,
                Approval {
                    sequence: 1,
                    package_id: None,
                },
            );
        }
    }

    /// A transaction of `user1` invoking `chaincode` on `channel`, with a fresh simulator.
    fn params_on(&self, channel: &Arc<Channel>, chaincode: &str) -> TxParams {
        let (proposal, txid) = protoutil::create_chaincode_proposal(
            channel.id(),
            chaincode,
            vec![b"invoke".to_vec()],
            HashMap::new(),
            self.user1.serialized(),
            None,
        );
        let signed_proposal = protoutil::sign_proposal(&proposal, &self.user1).expect("sign");
        let simulator = share(channel.ledger().new_tx_simulator(&txid).expect("simulator"));
        TxParams {
            channel: channel.clone(),
            txid,
            signed_proposal,
            creator: self.user1.serialized().to_vec(),
            simulator,
        }
    }

    fn params(&self) -> TxParams {
        self.params_on(&self.channel, "basic")
    }

    /// A transaction of `basic` on `mychannel` proposed (and signed) by `signer`.
    fn params_as(&self, signer: &SigningIdentity) -> TxParams {
        let (proposal, txid) = protoutil::create_chaincode_proposal(
            CHANNEL,
            "basic",
            vec![b"invoke".to_vec()],
            HashMap::new(),
            signer.serialized(),
            None,
        );
        let signed_proposal = protoutil::sign_proposal(&proposal, signer).expect("sign");
        let simulator = share(
            self.channel
                .ledger()
                .new_tx_simulator(&txid)
                .expect("simulator"),
        );
        TxParams {
            channel: self.channel.clone(),
            txid,
            signed_proposal,
            creator: signer.serialized().to_vec(),
            simulator,
        }
    }

    /// Starts `support.execute` for `params` in a task.
    fn start(&self, params: &TxParams, name: &str, input: ChaincodeInput) -> Execution {
        let support = self.support.clone();
        let params = params.clone();
        let name = name.to_owned();
        tokio::spawn(async move { support.execute(&params, &name, input).await })
    }

    /// A VALID endorser transaction of `basic` on `mychannel` carrying `rwset`: its
    /// envelope and txid.
    fn endorser_tx(&self, rwset: &TxReadWriteSet) -> (Vec<u8>, String) {
        let (proposal, txid) = protoutil::create_chaincode_proposal(
            CHANNEL,
            "basic",
            vec![b"invoke".to_vec()],
            HashMap::new(),
            self.user1.serialized(),
            None,
        );
        let signed = protoutil::sign_proposal(&proposal, &self.user1).expect("sign");
        let unpacked = protoutil::unpack_proposal(&signed).expect("unpack");
        let action = ChaincodeAction {
            results: rwset.encode_to_vec(),
            events: Vec::new(),
            response: Some(Response {
                status: 200,
                ..Default::default()
            }),
            chaincode_id: Some(ChaincodeId {
                name: "basic".into(),
                version: "1.0".into(),
                ..Default::default()
            }),
        };
        let prp = protoutil::create_proposal_response_payload(&unpacked.proposal_hash, &action);
        let response = protoutil::create_proposal_response(
            Response {
                status: 200,
                ..Default::default()
            },
            prp,
            &self.peer,
        )
        .expect("endorse");
        let unsigned = protoutil::assemble_transaction(&unpacked, &[response]).expect("assemble");
        let envelope =
            protoutil::sign_envelope_payload(unsigned.payload, &self.user1).expect("sign tx");
        (envelope.encode_to_vec(), txid)
    }
}

/// The seeded state of `basic`: `a`, `b`, the range keys, the page keys, and `m` with
/// metadata.
fn seed() -> Vec<NsUpdates> {
    let mut writes = vec![put("a", b"alpha"), put("b", b"beta"), put("m", b"mv")];
    writes.extend((0..RANGE_KEYS).map(|i| put(&range_key(i), format!("v{i}").as_bytes())));
    writes.extend((0..PAGE_KEYS).map(|i| put(&page_key(i), format!("p{i}").as_bytes())));
    vec![NsUpdates {
        namespace: "basic".to_owned(),
        writes,
        metadata_writes: vec![KeyMetadataWrite {
            key: "m".to_owned(),
            entries: [
                ("VALIDATION_PARAMETER".to_owned(), b"vp".to_vec()),
                ("other".to_owned(), b"o".to_vec()),
            ]
            .into(),
        }],
    }]
}

fn put(key: &str, value: &[u8]) -> KeyWrite {
    KeyWrite {
        key: key.to_owned(),
        value: Some(value.to_vec()),
    }
}

fn range_key(i: usize) -> String {
    format!("r{i:03}")
}

fn page_key(i: usize) -> String {
    format!("p{i:02}")
}

/// Commits `updates` as the next block of `channel`'s ledger, one placeholder
/// transaction each, all VALID (test seeding).
fn commit_updates(channel: &Channel, updates: Vec<TxUpdates>) {
    let data = updates.iter().map(|_| b"seed".to_vec()).collect();
    commit_block(channel, data, updates);
}

fn commit_block(channel: &Channel, data: Vec<Vec<u8>>, updates: Vec<TxUpdates>) {
    let ledger = channel.ledger();
    let store = ledger.block_store();
    let count = data.len();
    let mut block = build_block(store.height(), store.last_header_hash(), data);
    set_transactions_filter(&mut block, vec![TxValidationCode::Valid as u8; count]);
    ledger.commit(&block, &updates).expect("commit");
}

fn input(args: &[&[u8]]) -> ChaincodeInput {
    ChaincodeInput {
        args: args.iter().map(|a| a.to_vec()).collect(),
        ..Default::default()
    }
}

/// The simulation's read-write set (takes the simulator).
fn rwset_of(params: &TxParams) -> TxReadWriteSet {
    params
        .simulator
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .expect("simulator not taken yet")
        .done()
        .expect("done")
        .rwset
}

fn ns(rwset: &TxReadWriteSet, namespace: &str) -> Option<KvrwSet> {
    rwset
        .ns_rwset
        .iter()
        .find(|ns| ns.namespace == namespace)
        .map(|ns| KvrwSet::decode(ns.rwset.as_slice()).expect("kvrwset"))
}

fn namespaces(rwset: &TxReadWriteSet) -> Vec<&str> {
    rwset
        .ns_rwset
        .iter()
        .map(|ns| ns.namespace.as_str())
        .collect()
}

fn read(key: &str, version: Option<(u64, u64)>) -> KvRead {
    KvRead {
        key: key.to_owned(),
        version: version
            .map(|(block_num, tx_num)| weft_proto::kvrwset::Version { block_num, tx_num }),
    }
}

fn write(key: &str, value: &[u8]) -> KvWrite {
    KvWrite {
        key: key.to_owned(),
        is_delete: value.is_empty(),
        value: value.to_vec(),
    }
}

fn decode_response(payload: &[u8]) -> QueryResponse {
    QueryResponse::decode(payload).expect("QueryResponse")
}

fn kvs(response: &QueryResponse) -> Vec<Kv> {
    response
        .results
        .iter()
        .map(|r| Kv::decode(r.result_bytes.as_slice()).expect("queryresult.KV"))
        .collect()
}

fn range_kv(i: usize) -> Kv {
    Kv {
        namespace: "basic".to_owned(),
        key: range_key(i),
        value: format!("v{i}").into_bytes(),
    }
}

fn page_kv(i: usize) -> Kv {
    Kv {
        namespace: "basic".to_owned(),
        key: page_key(i),
        value: format!("p{i}").into_bytes(),
    }
}

/// The fake chaincode process: its end of the stream.
struct Shim {
    to_peer: Option<mpsc::Sender<ChaincodeMessage>>,
    from_peer: mpsc::Receiver<ChaincodeMessage>,
}

impl Shim {
    /// A stream served by the handler, not registered yet.
    fn open(support: &Arc<ChaincodeSupport>) -> (Shim, Served) {
        let (to_peer, incoming) = mpsc::channel(256);
        let (outgoing, from_peer) = mpsc::channel(256);
        let served = tokio::spawn(handler::serve(
            support.clone(),
            ReceiverStream::new(incoming).map(Ok::<_, tonic::Status>),
            outgoing,
        ));
        (
            Shim {
                to_peer: Some(to_peer),
                from_peer,
            },
            served,
        )
    }

    /// A registered chaincode `ccid`: REGISTER answered by REGISTERED then READY, both
    /// empty.
    async fn register(support: &Arc<ChaincodeSupport>, ccid: &str) -> (Shim, Served) {
        let (mut shim, served) = Shim::open(support);
        shim.send(register_msg(ccid)).await;
        shim.expect_registered().await;
        (shim, served)
    }

    async fn expect_registered(&mut self) {
        assert_eq!(
            self.recv().await,
            ChaincodeMessage {
                r#type: Type::Registered as i32,
                ..Default::default()
            }
        );
        assert_eq!(
            self.recv().await,
            ChaincodeMessage {
                r#type: Type::Ready as i32,
                ..Default::default()
            }
        );
    }

    async fn send(&self, msg: ChaincodeMessage) {
        self.to_peer
            .as_ref()
            .expect("stream open")
            .send(msg)
            .await
            .expect("the peer reads the stream");
    }

    /// Ends the chaincode's side of the stream.
    fn hang_up(&mut self) {
        self.to_peer = None;
    }

    /// The next message from the peer (never a KEEPALIVE).
    async fn recv(&mut self) -> ChaincodeMessage {
        let msg = tokio::time::timeout(WAIT, self.from_peer.recv())
            .await
            .expect("the peer answered in time")
            .expect("the peer's stream is open");
        assert_ne!(
            msg.r#type,
            Type::Keepalive as i32,
            "the peer never sends KEEPALIVE"
        );
        msg
    }

    /// Asserts the peer sends nothing for a while (and keeps the stream open).
    async fn quiet(&mut self) {
        match tokio::time::timeout(QUIET, self.from_peer.recv()).await {
            Err(_) => {}
            Ok(Some(msg)) => panic!("unexpected message from the peer: {msg:?}"),
            Ok(None) => panic!("the peer ended the stream"),
        }
    }

    /// Asserts the peer ends the stream without sending anything more.
    async fn closed(&mut self) {
        let end = tokio::time::timeout(WAIT, self.from_peer.recv())
            .await
            .expect("the peer ended the stream in time");
        assert_eq!(end, None, "the peer ends the stream without a message");
    }

    /// The TRANSACTION (or INIT) the peer sends for `params`, checked.
    async fn expect_tx(&mut self, r#type: Type, params: &TxParams, input: &ChaincodeInput) {
        let msg = self.recv().await;
        assert_eq!(
            msg,
            ChaincodeMessage {
                r#type: r#type as i32,
                payload: input.encode_to_vec(),
                txid: params.txid.clone(),
                proposal: Some(params.signed_proposal.clone()),
                channel_id: params.channel_id().to_owned(),
                ..Default::default()
            }
        );
    }

    /// Sends a request of `txid` on `channel` and returns the peer's answer, checked to
    /// carry the same txid and channel.
    async fn request_on(
        &mut self,
        channel: &str,
        txid: &str,
        r#type: Type,
        payload: Vec<u8>,
    ) -> ChaincodeMessage {
        self.send(msg_of(r#type, payload, txid, channel)).await;
        let answer = self.recv().await;
        assert_eq!(
            (answer.txid.as_str(), answer.channel_id.as_str()),
            (txid, channel)
        );
        assert_eq!(answer.proposal, None);
        assert_eq!(answer.chaincode_event, None);
        answer
    }

    async fn request(
        &mut self,
        params: &TxParams,
        r#type: Type,
        payload: Vec<u8>,
    ) -> ChaincodeMessage {
        self.request_on(params.channel_id(), &params.txid, r#type, payload)
            .await
    }

    /// A request that must succeed: the RESPONSE payload.
    async fn ok(&mut self, params: &TxParams, r#type: Type, payload: Vec<u8>) -> Vec<u8> {
        let answer = self.request(params, r#type, payload).await;
        assert_eq!(
            answer.r#type,
            Type::Response as i32,
            "{:?} refused: {}",
            r#type,
            String::from_utf8_lossy(&answer.payload)
        );
        answer.payload
    }

    /// A request that must fail: the ERROR text.
    async fn err(&mut self, params: &TxParams, r#type: Type, payload: Vec<u8>) -> String {
        let answer = self.request(params, r#type, payload).await;
        assert_eq!(answer.r#type, Type::Error as i32, "{answer:?}");
        String::from_utf8(answer.payload).expect("utf-8 error text")
    }

    async fn complete(&self, params: &TxParams, response: &Response) {
        self.send(completed(params, response, None)).await;
    }
}

fn msg_of(r#type: Type, payload: Vec<u8>, txid: &str, channel: &str) -> ChaincodeMessage {
    ChaincodeMessage {
        r#type: r#type as i32,
        payload,
        txid: txid.to_owned(),
        channel_id: channel.to_owned(),
        ..Default::default()
    }
}

fn register_msg(ccid: &str) -> ChaincodeMessage {
    msg_of(
        Type::Register,
        ChaincodeId {
            name: ccid.to_owned(),
            ..Default::default()
        }
        .encode_to_vec(),
        "",
        "",
    )
}

fn completed(
    params: &TxParams,
    response: &Response,
    event: Option<ChaincodeEvent>,
) -> ChaincodeMessage {
    ChaincodeMessage {
        chaincode_event: event,
        ..msg_of(
            Type::Completed,
            response.encode_to_vec(),
            &params.txid,
            params.channel_id(),
        )
    }
}

fn ok_response(payload: &[u8]) -> Response {
    Response {
        status: 200,
        message: "ok".to_owned(),
        payload: payload.to_vec(),
    }
}

fn get_state(key: &str) -> Vec<u8> {
    GetState {
        key: key.to_owned(),
        collection: String::new(),
    }
    .encode_to_vec()
}

fn put_state(key: &str, value: &[u8]) -> Vec<u8> {
    PutState {
        key: key.to_owned(),
        value: value.to_vec(),
        collection: String::new(),
    }
    .encode_to_vec()
}

fn range(start: &str, end: &str, metadata: Option<QueryMetadata>) -> Vec<u8> {
    GetStateByRange {
        start_key: start.to_owned(),
        end_key: end.to_owned(),
        collection: String::new(),
        metadata: metadata.map_or_else(Vec::new, |m| m.encode_to_vec()),
    }
    .encode_to_vec()
}

fn next(id: &str) -> Vec<u8> {
    QueryStateNext { id: id.to_owned() }.encode_to_vec()
}

fn close(id: &str) -> Vec<u8> {
    QueryStateClose { id: id.to_owned() }.encode_to_vec()
}

fn failed(r#type: &str, txid: &str, reason: &str) -> String {
    format!("{type} failed: transaction ID: {txid}: {reason}")
}

async fn finish(execution: Execution) -> Result<(Response, Option<ChaincodeEvent>), ExecuteError> {
    tokio::time::timeout(WAIT, execution)
        .await
        .expect("execution ended in time")
        .expect("execution task")
}

// ---------------------------------------------------------------------------------------
// 1. Registration

#[tokio::test]
async fn register_is_answered_registered_then_ready_and_keepalives_are_ignored() {
    let net = Net::new();
    // Through the support's own entry point, as the gRPC listener does.
    let (to_peer, incoming) = mpsc::channel(16);
    let (outgoing, from_peer) = mpsc::channel(16);
    net.support
        .connect(ReceiverStream::new(incoming).map(Ok), outgoing);
    let mut shim = Shim {
        to_peer: Some(to_peer),
        from_peer,
    };
    // KEEPALIVE in created state: ignored, no answer.
    shim.send(msg_of(Type::Keepalive, Vec::new(), "", "")).await;
    shim.quiet().await;
    assert!(net.support.registry().connected().is_empty());
    shim.send(register_msg("basic:1.0")).await;
    shim.expect_registered().await;
    assert_eq!(net.support.registry().connected(), ["basic:1.0"]);
    // KEEPALIVE in ready state: ignored; the peer never sends one either.
    shim.send(msg_of(Type::Keepalive, Vec::new(), "", "")).await;
    shim.quiet().await;

    // The stream still serves a transaction, KEEPALIVEs in the middle ignored.
    let params = net.params();
    let call = input(&[b"f"]);
    let execution = net.start(&params, "basic", call.clone());
    shim.expect_tx(Type::Transaction, &params, &call).await;
    shim.send(msg_of(Type::Keepalive, Vec::new(), &params.txid, CHANNEL))
        .await;
    assert_eq!(
        shim.ok(&params, Type::GetState, get_state("a")).await,
        b"alpha"
    );
    shim.complete(&params, &ok_response(b"done")).await;
    let (response, event) = finish(execution).await.expect("executed");
    assert_eq!(response, ok_response(b"done"));
    assert_eq!(event, None);
    shim.quiet().await;
}

#[tokio::test]
async fn a_duplicate_registration_is_refused_and_the_first_keeps_serving() {
    let net = Net::new();
    let (mut first, _served) = Shim::register(&net.support, "basic:1.0").await;

    // Refused ("duplicate chaincodeID: basic:1.0", logged): nothing is sent and the
    // stream stays open in created state, as in Fabric.
    let (mut second, served) = Shim::open(&net.support);
    second.send(register_msg("basic:1.0")).await;
    second.quiet().await;
    drop(second);
    let result = tokio::time::timeout(WAIT, served)
        .await
        .expect("ended")
        .expect("task");
    assert_eq!(result, Ok(()));
    // The first registration is untouched and still serves.
    assert_eq!(net.support.registry().connected(), ["basic:1.0"]);
    let params = net.params();
    let call = input(&[b"f"]);
    let execution = net.start(&params, "basic", call.clone());
    first.expect_tx(Type::Transaction, &params, &call).await;
    first.complete(&params, &ok_response(b"")).await;
    finish(execution).await.expect("executed");
}

#[tokio::test]
async fn an_empty_name_is_refused_and_a_first_message_other_than_register_ends_the_stream() {
    let net = Net::new();

    // An empty name is refused and logged; the stream stays in created state, where
    // anything but REGISTER ends it.
    let (mut shim, served) = Shim::open(&net.support);
    shim.send(register_msg("")).await;
    shim.quiet().await;
    shim.send(msg_of(Type::GetState, get_state("a"), "tx0", CHANNEL))
        .await;
    shim.closed().await;
    assert!(matches!(
        served.await.expect("task"),
        Err(HandlerError::Protocol(_))
    ));

    let (mut shim, served) = Shim::open(&net.support);
    shim.send(msg_of(Type::GetState, get_state("a"), "tx1", CHANNEL))
        .await;
    shim.closed().await;
    assert_eq!(
        served.await.expect("task"),
        Err(HandlerError::Protocol(
            "[tx1] Fabric side handler cannot handle message (GET_STATE) while in created state"
                .to_owned()
        ))
    );

    let (mut shim, served) = Shim::open(&net.support);
    shim.send(msg_of(Type::Completed, Vec::new(), "tx2", CHANNEL))
        .await;
    shim.closed().await;
    assert!(matches!(
        served.await.expect("task"),
        Err(HandlerError::Protocol(_))
    ));
    assert!(net.support.registry().connected().is_empty());
}

#[tokio::test]
async fn an_unexpected_message_in_ready_state_ends_the_stream_and_deregisters() {
    let net = Net::new();
    let (mut shim, served) = Shim::register(&net.support, "basic:1.0").await;
    shim.send(msg_of(Type::Registered, Vec::new(), "tx9", CHANNEL))
        .await;
    shim.closed().await;
    assert_eq!(
        served.await.expect("task"),
        Err(HandlerError::Protocol(
            "[tx9] Fabric side handler cannot handle message (REGISTERED) while in ready state"
                .to_owned()
        ))
    );
    assert!(net.support.registry().connected().is_empty());
}

/// Fabric's `HandleRegister` only logs a failed registration (undecodable payload,
/// empty name, duplicate id) and returns nil: the stream stays open in *created*
/// state, so the chaincode may send another REGISTER on it.
#[tokio::test]
async fn a_refused_registration_leaves_the_stream_open_in_created_state() {
    let net = Net::new();
    let (_first, _served) = Shim::register(&net.support, "basic:1.0").await;
    let (mut second, _served2) = Shim::open(&net.support);
    second.send(register_msg("basic:1.0")).await;
    second.quiet().await;
    second.send(register_msg("callee:1.0")).await;
    second.expect_registered().await;
}

// ---------------------------------------------------------------------------------------
// 2. Single-key state requests

#[tokio::test]
async fn get_put_del_state_answer_like_fabric_and_are_recorded() {
    let net = Net::new();
    let (mut shim, _served) = Shim::register(&net.support, "basic:1.0").await;
    let params = net.params();
    let call = input(&[b"put", b"x"]);
    let execution = net.start(&params, "basic", call.clone());
    shim.expect_tx(Type::Transaction, &params, &call).await;

    // GET_STATE: RESPONSE whose payload is the value, empty when absent.
    let answer = shim.request(&params, Type::GetState, get_state("a")).await;
    assert_eq!(
        answer,
        msg_of(Type::Response, b"alpha".to_vec(), &params.txid, CHANNEL)
    );
    assert_eq!(
        shim.request(&params, Type::GetState, get_state("missing"))
            .await,
        msg_of(Type::Response, Vec::new(), &params.txid, CHANNEL)
    );
    // PUT_STATE / DEL_STATE: RESPONSE with an empty payload.
    assert_eq!(
        shim.request(&params, Type::PutState, put_state("a", b"new"))
            .await,
        msg_of(Type::Response, Vec::new(), &params.txid, CHANNEL)
    );
    assert_eq!(
        shim.request(
            &params,
            Type::DelState,
            DelState {
                key: "b".into(),
                collection: String::new()
            }
            .encode_to_vec()
        )
        .await,
        msg_of(Type::Response, Vec::new(), &params.txid, CHANNEL)
    );
    shim.ok(&params, Type::PutState, put_state("c", b"gamma"))
        .await;
    // Own writes are invisible to reads.
    assert_eq!(
        shim.ok(&params, Type::GetState, get_state("a")).await,
        b"alpha"
    );
    assert_eq!(shim.ok(&params, Type::GetState, get_state("c")).await, b"");
    // An undecodable request.
    let text = shim.err(&params, Type::GetState, vec![0xff, 0xff]).await;
    assert!(
        text.starts_with(&failed("GET_STATE", &params.txid, "unmarshal failed")),
        "{text}"
    );

    let event = ChaincodeEvent {
        event_name: "evt".into(),
        payload: b"p".to_vec(),
        ..Default::default()
    };
    shim.send(completed(&params, &ok_response(b"done"), Some(event)))
        .await;
    let (response, event) = finish(execution).await.expect("executed");
    assert_eq!(response, ok_response(b"done"));
    assert_eq!(
        event,
        Some(ChaincodeEvent {
            chaincode_id: "basic".into(),
            tx_id: params.txid.clone(),
            event_name: "evt".into(),
            payload: b"p".to_vec(),
        })
    );

    let rwset = rwset_of(&params);
    assert_eq!(rwset.data_model, DataModel::Kv as i32);
    assert_eq!(namespaces(&rwset), [LIFECYCLE_NAMESPACE, "basic"]);
    let lifecycle = ns(&rwset, LIFECYCLE_NAMESPACE).expect("_lifecycle");
    assert_eq!(lifecycle.reads.len(), 1);
    assert_eq!(lifecycle.reads[0].key, field_key("basic", "Sequence"));
    let basic = ns(&rwset, "basic").expect("basic");
    assert_eq!(
        basic,
        KvrwSet {
            reads: vec![
                read("a", Some((1, 0))),
                read("c", None),
                read("missing", None),
            ],
            range_queries_info: Vec::new(),
            writes: vec![write("a", b"new"), write("b", b""), write("c", b"gamma")],
            metadata_writes: Vec::new(),
        }
    );
}

#[tokio::test]
async fn an_error_from_the_chaincode_fails_the_execution() {
    let net = Net::new();
    let (mut shim, _served) = Shim::register(&net.support, "basic:1.0").await;
    let params = net.params();
    let call = input(&[b"f"]);
    let execution = net.start(&params, "basic", call.clone());
    shim.expect_tx(Type::Transaction, &params, &call).await;
    shim.send(msg_of(Type::Error, b"boom".to_vec(), &params.txid, CHANNEL))
        .await;
    assert_eq!(
        finish(execution).await,
        Err(ExecuteError(
            "transaction returned with failure: boom".to_owned()
        ))
    );
}

/// GET_STATE_MULTIPLE is a v3.1 shim message (Fabric 2.5's handler would end the stream
/// on it); Weft serves it, the READY payload staying empty so 2.5 shims never use it.
#[tokio::test]
async fn get_state_multiple_returns_values_in_order_and_records_reads() {
    let net = Net::new();
    let (mut shim, _served) = Shim::register(&net.support, "basic:1.0").await;
    let params = net.params();
    let call = input(&[b"f"]);
    let execution = net.start(&params, "basic", call.clone());
    shim.expect_tx(Type::Transaction, &params, &call).await;
    let payload = shim
        .ok(
            &params,
            Type::GetStateMultiple,
            GetStateMultiple {
                keys: vec!["b".into(), "missing".into(), "a".into()],
                collection: String::new(),
            }
            .encode_to_vec(),
        )
        .await;
    assert_eq!(
        GetStateMultipleResult::decode(payload.as_slice()).expect("result"),
        GetStateMultipleResult {
            values: vec![b"beta".to_vec(), Vec::new(), b"alpha".to_vec()]
        }
    );
    shim.complete(&params, &ok_response(b"")).await;
    finish(execution).await.expect("executed");
    let basic = ns(&rwset_of(&params), "basic").expect("basic");
    assert_eq!(
        basic.reads,
        [
            read("a", Some((1, 0))),
            read("b", Some((1, 0))),
            read("missing", None)
        ]
    );
}

#[tokio::test]
async fn requests_of_an_unknown_transaction_get_fabric_errors() {
    let net = Net::new();
    let (mut shim, _served) = Shim::register(&net.support, "basic:1.0").await;
    let answer = shim
        .request_on(CHANNEL, "nope", Type::GetState, get_state("a"))
        .await;
    assert_eq!(
        answer,
        msg_of(
            Type::Error,
            failed("GET_STATE", "nope", "no ledger context").into_bytes(),
            "nope",
            CHANNEL
        )
    );
    let spec = ChaincodeSpec {
        chaincode_id: Some(ChaincodeId {
            name: "callee".into(),
            ..Default::default()
        }),
        input: Some(input(&[b"f"])),
        ..Default::default()
    };
    let answer = shim
        .request_on(CHANNEL, "nope", Type::InvokeChaincode, spec.encode_to_vec())
        .await;
    assert_eq!(
        String::from_utf8_lossy(&answer.payload),
        failed(
            "INVOKE_CHAINCODE",
            "nope",
            "could not get valid transaction"
        )
    );
    // A COMPLETED for a transaction that is not executing is ignored.
    shim.send(msg_of(Type::Completed, Vec::new(), "nope", CHANNEL))
        .await;
    shim.quiet().await;
}

// ---------------------------------------------------------------------------------------
// 3. Range queries

#[tokio::test]
async fn a_range_query_comes_in_batches_of_100_and_is_recorded() {
    let net = Net::new();
    let (mut shim, _served) = Shim::register(&net.support, "basic:1.0").await;
    let params = net.params();
    let call = input(&[b"f"]);
    let execution = net.start(&params, "basic", call.clone());
    shim.expect_tx(Type::Transaction, &params, &call).await;

    let first = decode_response(
        &shim
            .ok(&params, Type::GetStateByRange, range("r", "s", None))
            .await,
    );
    assert!(first.has_more);
    assert!(!first.id.is_empty());
    assert!(first.metadata.is_empty());
    assert_eq!(kvs(&first), (0..100).map(range_kv).collect::<Vec<_>>());
    let id = first.id.clone();

    let second = decode_response(&shim.ok(&params, Type::QueryStateNext, next(&id)).await);
    assert_eq!((second.has_more, second.id.as_str()), (true, id.as_str()));
    assert_eq!(kvs(&second), (100..200).map(range_kv).collect::<Vec<_>>());
    let third = decode_response(&shim.ok(&params, Type::QueryStateNext, next(&id)).await);
    assert_eq!((third.has_more, third.id.as_str()), (false, id.as_str()));
    assert!(third.metadata.is_empty());
    assert_eq!(
        kvs(&third),
        (200..RANGE_KEYS).map(range_kv).collect::<Vec<_>>()
    );
    // Finished: the iterator is gone.
    assert_eq!(
        shim.err(&params, Type::QueryStateNext, next(&id)).await,
        failed("QUERY_STATE_NEXT", &params.txid, "query iterator not found")
    );

    // A second query closed after its first batch.
    let early = decode_response(
        &shim
            .ok(&params, Type::GetStateByRange, range("r", "s", None))
            .await,
    );
    assert!(early.has_more);
    assert_ne!(early.id, id);
    let answer = shim
        .ok(&params, Type::QueryStateClose, close(&early.id))
        .await;
    assert_eq!(
        answer,
        QueryResponse {
            has_more: false,
            id: early.id.clone(),
            ..Default::default()
        }
        .encode_to_vec()
    );
    assert_eq!(
        shim.err(&params, Type::QueryStateNext, next(&early.id))
            .await,
        failed("QUERY_STATE_NEXT", &params.txid, "query iterator not found")
    );
    assert_eq!(
        shim.err(&params, Type::QueryStateNext, next("unknown"))
            .await,
        failed("QUERY_STATE_NEXT", &params.txid, "query iterator not found")
    );
    // Closing an unknown query is not an error.
    assert_eq!(
        shim.ok(&params, Type::QueryStateClose, close("unknown"))
            .await,
        QueryResponse {
            has_more: false,
            id: "unknown".into(),
            ..Default::default()
        }
        .encode_to_vec()
    );
    shim.complete(&params, &ok_response(b"")).await;
    finish(execution).await.expect("executed");

    // Recorded: the exhausted query with a Merkle summary of its 250 reads, then the
    // closed one up to the 101st key pulled (the one that overflowed the first batch).
    let basic = ns(&rwset_of(&params), "basic").expect("basic");
    assert!(basic.reads.is_empty() && basic.writes.is_empty());
    let summary = |count: usize| {
        let mut helper = RangeQueryResultsHelper::fabric_default();
        for i in 0..count {
            helper.add_result(read(&range_key(i), Some((1, 0))));
        }
        let (reads, summary) = helper.done();
        assert!(reads.is_empty());
        ReadsInfo::ReadsMerkleHashes(summary.expect("more than 50 reads: a Merkle summary"))
    };
    assert_eq!(basic.range_queries_info.len(), 2);
    let full = &basic.range_queries_info[0];
    assert_eq!(
        (
            full.start_key.as_str(),
            full.end_key.as_str(),
            full.itr_exhausted
        ),
        ("r", "s", true)
    );
    assert_eq!(full.reads_info, Some(summary(RANGE_KEYS)));
    let closed = &basic.range_queries_info[1];
    assert_eq!(
        (
            closed.start_key.as_str(),
            closed.end_key.as_str(),
            closed.itr_exhausted
        ),
        ("r", "r100", false)
    );
    assert_eq!(closed.reads_info, Some(summary(101)));
}

#[tokio::test]
async fn small_and_empty_ranges_are_recorded_with_raw_reads_or_none() {
    let net = Net::new();
    let (mut shim, _served) = Shim::register(&net.support, "basic:1.0").await;
    let params = net.params();
    let call = input(&[b"f"]);
    let execution = net.start(&params, "basic", call.clone());
    shim.expect_tx(Type::Transaction, &params, &call).await;
    let small = decode_response(
        &shim
            .ok(&params, Type::GetStateByRange, range("p", "q", None))
            .await,
    );
    assert!(!small.has_more);
    assert_eq!(kvs(&small), (0..PAGE_KEYS).map(page_kv).collect::<Vec<_>>());
    let empty = decode_response(
        &shim
            .ok(&params, Type::GetStateByRange, range("x", "y", None))
            .await,
    );
    assert!(empty.results.is_empty() && !empty.has_more);
    // A COMPLETED carrying the right txid but another channel is not this execution's.
    shim.send(msg_of(
        Type::Completed,
        ok_response(b"wrong").encode_to_vec(),
        &params.txid,
        "legacy",
    ))
    .await;
    shim.quiet().await;
    shim.complete(&params, &ok_response(b"right")).await;
    let (response, _) = finish(execution).await.expect("executed");
    assert_eq!(response.payload, b"right");
    let basic = ns(&rwset_of(&params), "basic").expect("basic");
    assert_eq!(basic.range_queries_info.len(), 2);
    let raw = &basic.range_queries_info[0];
    assert_eq!(
        (
            raw.start_key.as_str(),
            raw.end_key.as_str(),
            raw.itr_exhausted
        ),
        ("p", "q", true)
    );
    assert_eq!(
        raw.reads_info,
        Some(ReadsInfo::RawReads(weft_proto::kvrwset::QueryReads {
            kv_reads: (0..PAGE_KEYS)
                .map(|i| read(&page_key(i), Some((1, 0))))
                .collect()
        }))
    );
    let none = &basic.range_queries_info[1];
    assert_eq!(
        (
            none.start_key.as_str(),
            none.end_key.as_str(),
            none.itr_exhausted
        ),
        ("x", "y", true)
    );
    assert_eq!(none.reads_info, None);
}

// ---------------------------------------------------------------------------------------
// 4. Paginated range queries

#[tokio::test]
async fn a_paginated_range_query_walks_pages_by_bookmark_and_forbids_writes() {
    let net = Net::new();
    let (mut shim, _served) = Shim::register(&net.support, "basic:1.0").await;
    let params = net.params();
    let call = input(&[b"f"]);
    let execution = net.start(&params, "basic", call.clone());
    shim.expect_tx(Type::Transaction, &params, &call).await;

    let mut bookmark = String::new();
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    loop {
        let metadata = QueryMetadata {
            page_size: 3,
            bookmark: bookmark.clone(),
        };
        let page = decode_response(
            &shim
                .ok(
                    &params,
                    Type::GetStateByRange,
                    range("p", "q", Some(metadata)),
                )
                .await,
        );
        assert!(!page.has_more, "a page comes whole");
        assert!(!page.id.is_empty());
        let meta = QueryResponseMetadata::decode(page.metadata.as_slice()).expect("metadata");
        let results = kvs(&page);
        assert_eq!(
            usize::try_from(meta.fetched_records_count).ok(),
            Some(results.len())
        );
        pages.push((results.len(), meta.bookmark.clone()));
        seen.extend(results);
        // The page's iterator is gone once answered.
        assert_eq!(
            shim.err(&params, Type::QueryStateNext, next(&page.id))
                .await,
            failed("QUERY_STATE_NEXT", &params.txid, "query iterator not found")
        );
        if meta.bookmark.is_empty() {
            break;
        }
        bookmark = meta.bookmark;
    }
    assert_eq!(
        pages,
        [
            (3, "p03".to_owned()),
            (3, "p06".to_owned()),
            (3, "p09".to_owned()),
            (1, String::new())
        ]
    );
    assert_eq!(seen, (0..PAGE_KEYS).map(page_kv).collect::<Vec<_>>());

    // A bookmark without a page size: the rest of the range in one page.
    let page = decode_response(
        &shim
            .ok(
                &params,
                Type::GetStateByRange,
                range(
                    "p",
                    "q",
                    Some(QueryMetadata {
                        page_size: 0,
                        bookmark: "p07".into(),
                    }),
                ),
            )
            .await,
    );
    assert_eq!(kvs(&page), (7..PAGE_KEYS).map(page_kv).collect::<Vec<_>>());
    assert_eq!(
        QueryResponseMetadata::decode(page.metadata.as_slice()).expect("metadata"),
        QueryResponseMetadata {
            fetched_records_count: 3,
            bookmark: String::new()
        }
    );

    // No write after a paginated query (Fabric's txSimulator text, typo included).
    assert_eq!(
        shim.err(&params, Type::PutState, put_state("a", b"x"))
            .await,
        failed(
            "PUT_STATE",
            &params.txid,
            &format!(
                "txid [{}]: unsuppored transaction. Transaction has already performed a paginated query. Writes are not allowed",
                params.txid
            )
        )
    );
    shim.complete(&params, &ok_response(b"")).await;
    finish(execution).await.expect("executed");
}

#[tokio::test]
async fn a_paginated_query_after_a_write_is_refused() {
    let net = Net::new();
    let (mut shim, _served) = Shim::register(&net.support, "basic:1.0").await;
    let params = net.params();
    let call = input(&[b"f"]);
    let execution = net.start(&params, "basic", call.clone());
    shim.expect_tx(Type::Transaction, &params, &call).await;
    shim.ok(&params, Type::PutState, put_state("a", b"x")).await;
    let metadata = QueryMetadata {
        page_size: 3,
        bookmark: String::new(),
    };
    assert_eq!(
        shim.err(
            &params,
            Type::GetStateByRange,
            range("p", "q", Some(metadata))
        )
        .await,
        failed(
            "GET_STATE_BY_RANGE",
            &params.txid,
            &format!(
                "txid [{}]: unsuppored transaction. Paginated queries are supported only in a read-only transaction",
                params.txid
            )
        )
    );
    // Not paginated (page size 0, no bookmark): allowed.
    let metadata = QueryMetadata::default();
    let page = decode_response(
        &shim
            .ok(
                &params,
                Type::GetStateByRange,
                range("p", "q", Some(metadata)),
            )
            .await,
    );
    assert_eq!(kvs(&page).len(), PAGE_KEYS);
    assert!(page.metadata.is_empty());
    shim.complete(&params, &ok_response(b"")).await;
    finish(execution).await.expect("executed");
}

// ---------------------------------------------------------------------------------------
// 5. Rich queries

#[tokio::test]
async fn get_query_result_is_not_supported_on_leveldb() {
    let net = Net::new();
    let (mut shim, _served) = Shim::register(&net.support, "basic:1.0").await;
    let params = net.params();
    let call = input(&[b"f"]);
    let execution = net.start(&params, "basic", call.clone());
    shim.expect_tx(Type::Transaction, &params, &call).await;
    let query = GetQueryResult {
        query: r#"{"selector":{}}"#.into(),
        ..Default::default()
    };
    assert_eq!(
        shim.err(&params, Type::GetQueryResult, query.encode_to_vec())
            .await,
        failed(
            "GET_QUERY_RESULT",
            &params.txid,
            "ExecuteQuery not supported for leveldb"
        )
    );
    shim.complete(&params, &ok_response(b"")).await;
    finish(execution).await.expect("executed");
}

/// Fabric: a paginated rich query goes through `txSimulator.ExecuteQueryWithPagination`
/// (marks the transaction as having run a paginated query, or is refused after a write)
/// and LevelDB answers "ExecuteQueryWithMetadata not supported for leveldb".
#[tokio::test]
async fn a_paginated_rich_query_fails_like_fabric() {
    let net = Net::new();
    let (mut shim, _served) = Shim::register(&net.support, "basic:1.0").await;
    let params = net.params();
    let call = input(&[b"f"]);
    let execution = net.start(&params, "basic", call.clone());
    shim.expect_tx(Type::Transaction, &params, &call).await;
    let query = GetQueryResult {
        query: r#"{"selector":{}}"#.into(),
        collection: String::new(),
        metadata: QueryMetadata {
            page_size: 2,
            bookmark: String::new(),
        }
        .encode_to_vec(),
    };
    assert_eq!(
        shim.err(&params, Type::GetQueryResult, query.encode_to_vec())
            .await,
        failed(
            "GET_QUERY_RESULT",
            &params.txid,
            "ExecuteQueryWithMetadata not supported for leveldb"
        )
    );
    let text = shim
        .err(&params, Type::PutState, put_state("a", b"x"))
        .await;
    assert!(text.ends_with("Writes are not allowed"), "{text}");
    shim.complete(&params, &ok_response(b"")).await;
    finish(execution).await.expect("executed");
}

// ---------------------------------------------------------------------------------------
// 6. History

#[tokio::test]
async fn history_for_key_is_newest_first_with_txids_and_timestamps() {
    let net = Net::new();
    let writes: [Option<&[u8]>; 4] = [Some(b"h1"), Some(b"h2"), None, Some(b"h3")];
    let mut expected = Vec::new();
    for value in writes {
        let kv = KvrwSet {
            writes: vec![write("h", value.unwrap_or_default())],
            ..Default::default()
        };
        let rwset = TxReadWriteSet {
            data_model: DataModel::Kv as i32,
            ns_rwset: vec![NsReadWriteSet {
                namespace: "basic".into(),
                rwset: kv.encode_to_vec(),
                collection_hashed_rwset: Vec::new(),
            }],
        };
        let (envelope, txid) = net.endorser_tx(&rwset);
        let timestamp = protoutil::unpack_envelope_bytes(&envelope)
            .expect("unpack")
            .channel_header
            .timestamp;
        assert!(timestamp.is_some());
        let updates = tx_updates_from_rwset(0, &txid, &rwset).expect("updates");
        commit_block(&net.channel, vec![envelope], vec![updates]);
        expected.push(KeyModification {
            tx_id: txid,
            value: value.unwrap_or_default().to_vec(),
            timestamp,
            is_delete: value.is_none(),
        });
    }
    expected.reverse();
    // 105 more writes of another key in one block: two batches.
    let mut envelopes = Vec::new();
    let mut updates = Vec::new();
    for i in 0..105u64 {
        let kv = KvrwSet {
            writes: vec![write("many", format!("m{i}").as_bytes())],
            ..Default::default()
        };
        let rwset = TxReadWriteSet {
            data_model: DataModel::Kv as i32,
            ns_rwset: vec![NsReadWriteSet {
                namespace: "basic".into(),
                rwset: kv.encode_to_vec(),
                collection_hashed_rwset: Vec::new(),
            }],
        };
        let (envelope, txid) = net.endorser_tx(&rwset);
        updates.push(tx_updates_from_rwset(i, &txid, &rwset).expect("updates"));
        envelopes.push(envelope);
    }
    commit_block(&net.channel, envelopes, updates);

    let (mut shim, _served) = Shim::register(&net.support, "basic:1.0").await;
    let params = net.params();
    let call = input(&[b"f"]);
    let execution = net.start(&params, "basic", call.clone());
    shim.expect_tx(Type::Transaction, &params, &call).await;
    let history = |key: &str| GetHistoryForKey { key: key.into() }.encode_to_vec();

    let response = decode_response(&shim.ok(&params, Type::GetHistoryForKey, history("h")).await);
    assert!(!response.has_more);
    assert!(!response.id.is_empty());
    let mods: Vec<KeyModification> = response
        .results
        .iter()
        .map(|r| KeyModification::decode(r.result_bytes.as_slice()).expect("KeyModification"))
        .collect();
    assert_eq!(mods, expected);

    let first = decode_response(
        &shim
            .ok(&params, Type::GetHistoryForKey, history("many"))
            .await,
    );
    assert!(first.has_more);
    assert_eq!(first.results.len(), 100);
    let newest = KeyModification::decode(first.results[0].result_bytes.as_slice()).expect("km");
    assert_eq!(newest.value, b"m104");
    let second = decode_response(
        &shim
            .ok(&params, Type::QueryStateNext, next(&first.id))
            .await,
    );
    assert_eq!(
        (second.has_more, second.id.as_str()),
        (false, first.id.as_str())
    );
    assert_eq!(second.results.len(), 5);
    let oldest = KeyModification::decode(second.results[4].result_bytes.as_slice()).expect("km");
    assert_eq!(oldest.value, b"m0");
    assert_eq!(
        shim.err(&params, Type::QueryStateNext, next(&first.id))
            .await,
        failed("QUERY_STATE_NEXT", &params.txid, "query iterator not found")
    );
    // Closed early.
    let again = decode_response(
        &shim
            .ok(&params, Type::GetHistoryForKey, history("many"))
            .await,
    );
    assert_eq!(
        shim.ok(&params, Type::QueryStateClose, close(&again.id))
            .await,
        QueryResponse {
            has_more: false,
            id: again.id.clone(),
            ..Default::default()
        }
        .encode_to_vec()
    );
    assert_eq!(
        shim.err(&params, Type::QueryStateNext, next(&again.id))
            .await,
        failed("QUERY_STATE_NEXT", &params.txid, "query iterator not found")
    );
    // No history: an empty, finished response.
    let none = decode_response(
        &shim
            .ok(&params, Type::GetHistoryForKey, history("never"))
            .await,
    );
    assert!(none.results.is_empty() && !none.has_more);
    shim.complete(&params, &ok_response(b"")).await;
    finish(execution).await.expect("executed");
    // History reads are not recorded.
    let rwset = rwset_of(&params);
    assert_eq!(ns(&rwset, "basic"), None);
}

// ---------------------------------------------------------------------------------------
// 7. State metadata

#[tokio::test]
async fn state_metadata_is_served_and_its_writes_recorded() {
    let net = Net::new();
    let (mut shim, _served) = Shim::register(&net.support, "basic:1.0").await;
    let params = net.params();
    let call = input(&[b"f"]);
    let execution = net.start(&params, "basic", call.clone());
    shim.expect_tx(Type::Transaction, &params, &call).await;
    let get = |key: &str| {
        GetStateMetadata {
            key: key.into(),
            collection: String::new(),
        }
        .encode_to_vec()
    };
    let payload = shim.ok(&params, Type::GetStateMetadata, get("m")).await;
    let mut entries = StateMetadataResult::decode(payload.as_slice())
        .expect("StateMetadataResult")
        .entries;
    // Fabric builds the entries from a Go map: order is not part of the contract.
    entries.sort_by(|x, y| x.metakey.cmp(&y.metakey));
    assert_eq!(
        entries,
        [
            StateMetadata {
                metakey: "VALIDATION_PARAMETER".into(),
                value: b"vp".to_vec()
            },
            StateMetadata {
                metakey: "other".into(),
                value: b"o".to_vec()
            },
        ]
    );
    assert_eq!(
        shim.ok(&params, Type::GetStateMetadata, get("a")).await,
        b""
    );
    assert_eq!(
        shim.ok(&params, Type::GetStateMetadata, get("none")).await,
        b""
    );
    let put = PutStateMetadata {
        key: "a".into(),
        collection: String::new(),
        metadata: Some(StateMetadata {
            metakey: "VALIDATION_PARAMETER".into(),
            value: b"policy".to_vec(),
        }),
    };
    assert_eq!(
        shim.ok(&params, Type::PutStateMetadata, put.encode_to_vec())
            .await,
        b""
    );
    shim.complete(&params, &ok_response(b"")).await;
    finish(execution).await.expect("executed");
    let basic = ns(&rwset_of(&params), "basic").expect("basic");
    assert_eq!(
        basic.reads,
        [
            read("a", Some((1, 0))),
            read("m", Some((1, 0))),
            read("none", None)
        ]
    );
    assert!(basic.writes.is_empty());
    assert_eq!(
        basic.metadata_writes,
        [KvMetadataWrite {
            key: "a".into(),
            entries: vec![KvMetadataEntry {
                name: "VALIDATION_PARAMETER".into(),
                value: b"policy".to_vec()
            }]
        }]
    );
}

#[tokio::test]
async fn state_metadata_and_purge_need_the_application_capability() {
    let net = Net::new();
    let legacy = net.legacy_channel();
    let (mut shim, _served) = Shim::register(&net.support, "basic:1.0").await;
    let params = net.params_on(&legacy, "basic");
    let call = input(&[b"f"]);
    let execution = net.start(&params, "basic", call.clone());
    shim.expect_tx(Type::Transaction, &params, &call).await;
    // Plain state works on that channel.
    assert_eq!(
        shim.ok(&params, Type::GetState, get_state("a")).await,
        b"alpha"
    );
    let kle = "key level endorsement is not enabled, channel application capability of V1_3 or later is required";
    let get = GetStateMetadata {
        key: "m".into(),
        collection: String::new(),
    };
    assert_eq!(
        shim.err(&params, Type::GetStateMetadata, get.encode_to_vec())
            .await,
        failed("GET_STATE_METADATA", &params.txid, kle)
    );
    let put = PutStateMetadata {
        key: "a".into(),
        collection: String::new(),
        metadata: Some(StateMetadata {
            metakey: "VALIDATION_PARAMETER".into(),
            value: b"policy".to_vec(),
        }),
    };
    assert_eq!(
        shim.err(&params, Type::PutStateMetadata, put.encode_to_vec())
            .await,
        failed("PUT_STATE_METADATA", &params.txid, kle)
    );
    let purge = DelState {
        key: "a".into(),
        collection: "secret".into(),
    };
    assert_eq!(
        shim.err(&params, Type::PurgePrivateData, purge.encode_to_vec())
            .await,
        failed(
            "PURGE_PRIVATE_DATA",
            &params.txid,
            "purge private data is not enabled, channel application capability of V2_5 or later is required"
        )
    );
    shim.complete(&params, &ok_response(b"")).await;
    finish(execution).await.expect("executed");
    let basic = ns(&rwset_of(&params), "basic").expect("basic");
    assert!(basic.metadata_writes.is_empty());
}

// ---------------------------------------------------------------------------------------
// 8. Private data

/// Every private-data request with `collection`, as (type name, type, payload).
fn private_requests(collection: &str) -> Vec<(&'static str, Type, Vec<u8>)> {
    let c = collection.to_owned();
    vec![
        (
            "GET_STATE",
            Type::GetState,
            GetState {
                key: "k".into(),
                collection: c.clone(),
            }
            .encode_to_vec(),
        ),
        (
            "PUT_STATE",
            Type::PutState,
            PutState {
                key: "k".into(),
                value: b"v".to_vec(),
                collection: c.clone(),
            }
            .encode_to_vec(),
        ),
        (
            "DEL_STATE",
            Type::DelState,
            DelState {
                key: "k".into(),
                collection: c.clone(),
            }
            .encode_to_vec(),
        ),
        (
            "GET_STATE_BY_RANGE",
            Type::GetStateByRange,
            GetStateByRange {
                start_key: "a".into(),
                end_key: "z".into(),
                collection: c.clone(),
                metadata: Vec::new(),
            }
            .encode_to_vec(),
        ),
        (
            "GET_QUERY_RESULT",
            Type::GetQueryResult,
            GetQueryResult {
                query: "{}".into(),
                collection: c.clone(),
                metadata: Vec::new(),
            }
            .encode_to_vec(),
        ),
        (
            "GET_STATE_METADATA",
            Type::GetStateMetadata,
            GetStateMetadata {
                key: "k".into(),
                collection: c.clone(),
            }
            .encode_to_vec(),
        ),
        (
            "PUT_STATE_METADATA",
            Type::PutStateMetadata,
            PutStateMetadata {
                key: "k".into(),
                collection: c.clone(),
                metadata: Some(StateMetadata {
                    metakey: "VALIDATION_PARAMETER".into(),
                    value: b"p".to_vec(),
                }),
            }
            .encode_to_vec(),
        ),
        (
            "GET_PRIVATE_DATA_HASH",
            Type::GetPrivateDataHash,
            GetState {
                key: "k".into(),
                collection: c.clone(),
            }
            .encode_to_vec(),
        ),
        (
            "PURGE_PRIVATE_DATA",
            Type::PurgePrivateData,
            DelState {
                key: "k".into(),
                collection: c,
            }
            .encode_to_vec(),
        ),
    ]
}

#[tokio::test]
async fn undefined_collections_are_refused_naming_the_collection() {
    let net = Net::new();
    let (mut shim, _served) = Shim::register(&net.support, "basic:1.0").await;
    let params = net.params();
    params
        .simulator
        .lock()
        .expect("simulator")
        .as_mut()
        .expect("simulating")
        .set_collection_check(crate::chaincode::collections::collection_check(
            net.channel.config(),
        ));
    let call = input(&[b"f"]);
    let execution = net.start(&params, "basic", call.clone());
    shim.expect_tx(Type::Transaction, &params, &call).await;
    for (name, r#type, payload) in private_requests("secret") {
        let text = shim.err(&params, r#type, payload).await;
        assert!(
            text.starts_with(&failed(name, &params.txid, "")) && text.contains("secret"),
            "{text}"
        );
    }
    // PURGE_PRIVATE_DATA without a collection.
    let purge = DelState {
        key: "k".into(),
        collection: String::new(),
    };
    assert_eq!(
        shim.err(&params, Type::PurgePrivateData, purge.encode_to_vec())
            .await,
        failed(
            "PURGE_PRIVATE_DATA",
            &params.txid,
            "only applicable for private data"
        )
    );
    shim.complete(&params, &ok_response(b"")).await;
    finish(execution).await.expect("executed");
    // Nothing recorded for the refused requests.
    assert_eq!(ns(&rwset_of(&params), "basic"), None);
}

// ---------------------------------------------------------------------------------------
// 9. Chaincode-to-chaincode

fn invoke_spec(target: &str, args: &[&[u8]]) -> Vec<u8> {
    ChaincodeSpec {
        chaincode_id: Some(ChaincodeId {
            name: target.into(),
            ..Default::default()
        }),
        input: Some(input(args)),
        ..Default::default()
    }
    .encode_to_vec()
}

#[tokio::test]
async fn invoke_chaincode_runs_the_callee_in_the_same_simulation() {
    let net = Net::new();
    let (mut caller, _s1) = Shim::register(&net.support, "basic:1.0").await;
    let (mut callee, _s2) = Shim::register(&net.support, "callee:1.0").await;
    let params = net.params();
    let call = input(&[b"f"]);
    let execution = net.start(&params, "basic", call.clone());
    caller.expect_tx(Type::Transaction, &params, &call).await;
    caller
        .ok(&params, Type::PutState, put_state("mine", b"1"))
        .await;

    // The version in the target name is ignored.
    caller
        .send(msg_of(
            Type::InvokeChaincode,
            invoke_spec("callee:9.9", &[b"g", b"x"]),
            &params.txid,
            CHANNEL,
        ))
        .await;
    // The callee gets a TRANSACTION with the same txid, channel and proposal.
    callee
        .expect_tx(Type::Transaction, &params, &input(&[b"g", b"x"]))
        .await;
    assert_eq!(
        callee.ok(&params, Type::GetState, get_state("a")).await,
        b""
    );
    callee
        .ok(&params, Type::PutState, put_state("theirs", b"2"))
        .await;
    let done = completed(
        &params,
        &ok_response(b"callee-ok"),
        Some(ChaincodeEvent {
            event_name: "inner".into(),
            payload: b"e".to_vec(),
            ..Default::default()
        }),
    );
    callee.send(done.clone()).await;
    // The caller's RESPONSE carries the callee's COMPLETED message as sent.
    let answer = caller.recv().await;
    assert_eq!(
        answer,
        msg_of(Type::Response, done.encode_to_vec(), &params.txid, CHANNEL)
    );

    // A callee ERROR is a RESPONSE too, carrying the ERROR message.
    caller
        .send(msg_of(
            Type::InvokeChaincode,
            invoke_spec("callee", &[b"h"]),
            &params.txid,
            CHANNEL,
        ))
        .await;
    callee
        .expect_tx(Type::Transaction, &params, &input(&[b"h"]))
        .await;
    let error = msg_of(
        Type::Error,
        b"callee failed".to_vec(),
        &params.txid,
        CHANNEL,
    );
    callee.send(error.clone()).await;
    assert_eq!(
        caller.recv().await,
        msg_of(Type::Response, error.encode_to_vec(), &params.txid, CHANNEL)
    );

    caller.complete(&params, &ok_response(b"caller-ok")).await;
    let (response, _) = finish(execution).await.expect("executed");
    assert_eq!(response.payload, b"caller-ok");

    let rwset = rwset_of(&params);
    assert_eq!(namespaces(&rwset), [LIFECYCLE_NAMESPACE, "basic", "callee"]);
    let lifecycle = ns(&rwset, LIFECYCLE_NAMESPACE).expect("_lifecycle");
    let keys: Vec<&str> = lifecycle.reads.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            field_key("basic", "Sequence").as_str(),
            field_key("callee", "Sequence").as_str()
        ]
    );
    let basic = ns(&rwset, "basic").expect("basic");
    assert_eq!(basic.writes, [write("mine", b"1")]);
    let theirs = ns(&rwset, "callee").expect("callee");
    assert_eq!(theirs.reads, [read("a", None)]);
    assert_eq!(theirs.writes, [write("theirs", b"2")]);
}

#[tokio::test]
async fn invoke_chaincode_failures() {
    let net = Net::new();
    let (mut caller, _s1) = Shim::register(&net.support, "basic:1.0").await;
    let params = net.params();
    let call = input(&[b"f"]);
    let execution = net.start(&params, "basic", call.clone());
    caller.expect_tx(Type::Transaction, &params, &call).await;

    // Another channel the peer has not joined. (Fabric checks the cc2cc ACL against the
    // target channel first and would answer "Failed to get policy manager for channel
    // [otherchannel]".)
    let text = caller
        .err(
            &params,
            Type::InvokeChaincode,
            invoke_spec("callee/otherchannel", &[b"g"]),
        )
        .await;
    assert!(
        text.starts_with(&failed("INVOKE_CHAINCODE", &params.txid, ""))
            && text.contains("otherchannel"),
        "{text}"
    );
    assert_eq!(
        text,
        failed(
            "INVOKE_CHAINCODE",
            &params.txid,
            "failed to find ledger for channel: otherchannel"
        )
    );
    // A chaincode that is not defined.
    let text = caller
        .err(
            &params,
            Type::InvokeChaincode,
            invoke_spec("nothing", &[b"g"]),
        )
        .await;
    assert!(
        text.starts_with(&failed(
            "INVOKE_CHAINCODE",
            &params.txid,
            "execute failed: "
        )) && text.contains("nothing"),
        "{text}"
    );
    // The chaincode calling itself on the same channel: a second context for the same
    // (channel, txid) on its handler is refused.
    let text = caller
        .err(
            &params,
            Type::InvokeChaincode,
            invoke_spec("basic", &[b"g"]),
        )
        .await;
    assert!(
        text.starts_with(&failed(
            "INVOKE_CHAINCODE",
            &params.txid,
            "execute failed: "
        )) && text.ends_with(&format!("txid: {}({CHANNEL}) exists", params.txid)),
        "{text}"
    );
    caller.complete(&params, &ok_response(b"")).await;
    finish(execution).await.expect("executed");
}

/// The cc2cc ACL (`peer/ChaincodeToChaincode` → `/Channel/Application/Writers`) is
/// checked against the proposal: a peer identity is not a writer.
#[tokio::test]
async fn invoke_chaincode_checks_the_chaincode_to_chaincode_acl() {
    let net = Net::new();
    let (mut caller, _s1) = Shim::register(&net.support, "basic:1.0").await;
    let (mut callee, _s2) = Shim::register(&net.support, "callee:1.0").await;
    let params = net.params_as(&net.peer);
    let call = input(&[b"f"]);
    let execution = net.start(&params, "basic", call.clone());
    caller.expect_tx(Type::Transaction, &params, &call).await;
    let text = caller
        .err(
            &params,
            Type::InvokeChaincode,
            invoke_spec("callee", &[b"g"]),
        )
        .await;
    assert!(
        text.starts_with(&failed("INVOKE_CHAINCODE", &params.txid, "")),
        "{text}"
    );
    callee.quiet().await;
    caller.complete(&params, &ok_response(b"")).await;
    finish(execution).await.expect("executed");
    assert_eq!(ns(&rwset_of(&params), "callee"), None);
}

#[tokio::test]
async fn invoke_chaincode_on_another_channel_is_read_only() {
    let net = Net::new();
    let legacy = net.legacy_channel();
    // One process serves `basic` on both channels.
    let (mut shim, _served) = Shim::register(&net.support, "basic:1.0").await;
    let params = net.params();
    let call = input(&[b"f"]);
    let execution = net.start(&params, "basic", call.clone());
    shim.expect_tx(Type::Transaction, &params, &call).await;
    shim.send(msg_of(
        Type::InvokeChaincode,
        invoke_spec("basic/legacy", &[b"g"]),
        &params.txid,
        CHANNEL,
    ))
    .await;
    // The callee runs on `legacy` under the same txid, with the caller's proposal.
    let inner = shim.recv().await;
    assert_eq!(
        inner,
        ChaincodeMessage {
            r#type: Type::Transaction as i32,
            payload: input(&[b"g"]).encode_to_vec(),
            txid: params.txid.clone(),
            proposal: Some(params.signed_proposal.clone()),
            channel_id: "legacy".to_owned(),
            ..Default::default()
        }
    );
    let answer = shim
        .request_on("legacy", &params.txid, Type::GetState, get_state("a"))
        .await;
    assert_eq!(answer.payload, b"alpha");
    let answer = shim
        .request_on(
            "legacy",
            &params.txid,
            Type::PutState,
            put_state("x", b"dropped"),
        )
        .await;
    assert_eq!(answer.r#type, Type::Response as i32);
    let done = msg_of(
        Type::Completed,
        ok_response(b"from legacy").encode_to_vec(),
        &params.txid,
        "legacy",
    );
    shim.send(done.clone()).await;
    assert_eq!(
        shim.recv().await,
        msg_of(Type::Response, done.encode_to_vec(), &params.txid, CHANNEL)
    );
    shim.complete(&params, &ok_response(b"")).await;
    finish(execution).await.expect("executed");
    // Nothing of the other channel's simulation lands in the caller's rwset.
    let rwset = rwset_of(&params);
    assert_eq!(namespaces(&rwset), [LIFECYCLE_NAMESPACE]);
    assert_eq!(
        ns(&rwset, LIFECYCLE_NAMESPACE)
            .expect("_lifecycle")
            .reads
            .len(),
        1
    );
    assert_eq!(legacy.ledger().height(), 2);
}

// ---------------------------------------------------------------------------------------
// 10. Concurrency

#[tokio::test]
async fn twenty_transactions_in_flight_on_one_stream_answered_out_of_order() {
    let net = Net::new();
    let (mut shim, _served) = Shim::register(&net.support, "basic:1.0").await;
    let call = input(&[b"f"]);
    let mut runs = Vec::new();
    for _ in 0..20 {
        let params = net.params();
        let execution = net.start(&params, "basic", call.clone());
        runs.push((params, execution));
    }
    let by_txid: HashMap<String, usize> = runs
        .iter()
        .enumerate()
        .map(|(i, (p, _))| (p.txid.clone(), i))
        .collect();
    // All 20 TRANSACTIONs arrive before any is answered.
    let mut arrived = Vec::new();
    for _ in 0..20 {
        let msg = shim.recv().await;
        assert_eq!(msg.r#type, Type::Transaction as i32);
        arrived.push(by_txid[&msg.txid]);
    }
    arrived.sort_unstable();
    assert_eq!(arrived, (0..20).collect::<Vec<_>>());
    // One request per transaction, all in flight at once, answered per txid.
    for (params, _) in &runs {
        shim.send(msg_of(
            Type::PutState,
            put_state("k", params.txid.as_bytes()),
            &params.txid,
            CHANNEL,
        ))
        .await;
    }
    let mut answered = Vec::new();
    for _ in 0..20 {
        let msg = shim.recv().await;
        assert_eq!(msg.r#type, Type::Response as i32);
        answered.push(by_txid[&msg.txid]);
    }
    answered.sort_unstable();
    assert_eq!(answered, (0..20).collect::<Vec<_>>());
    // Completed in reverse order.
    for (params, _) in runs.iter().rev() {
        shim.complete(params, &ok_response(params.txid.as_bytes()))
            .await;
    }
    for (params, execution) in runs {
        let (response, _) = finish(execution).await.expect("executed");
        assert_eq!(response.payload, params.txid.as_bytes());
        let basic = ns(&rwset_of(&params), "basic").expect("basic");
        assert_eq!(basic.writes, [write("k", params.txid.as_bytes())]);
    }
}

#[tokio::test]
async fn a_second_request_of_a_transaction_while_one_is_pending_is_dropped() {
    let net = Net::new();
    let (mut caller, _s1) = Shim::register(&net.support, "basic:1.0").await;
    let (mut callee, _s2) = Shim::register(&net.support, "callee:1.0").await;
    let params = net.params();
    let call = input(&[b"f"]);
    let execution = net.start(&params, "basic", call.clone());
    caller.expect_tx(Type::Transaction, &params, &call).await;
    // INVOKE_CHAINCODE stays pending until the callee completes.
    caller
        .send(msg_of(
            Type::InvokeChaincode,
            invoke_spec("callee", &[b"g"]),
            &params.txid,
            CHANNEL,
        ))
        .await;
    callee
        .expect_tx(Type::Transaction, &params, &input(&[b"g"]))
        .await;
    // Meanwhile another request of the same transaction: dropped, never answered.
    caller
        .send(msg_of(
            Type::GetState,
            get_state("a"),
            &params.txid,
            CHANNEL,
        ))
        .await;
    caller.quiet().await;
    // The callee's own requests (another stream) are served.
    assert_eq!(
        callee.ok(&params, Type::GetState, get_state("a")).await,
        b""
    );
    let done = completed(&params, &ok_response(b"inner"), None);
    callee.send(done.clone()).await;
    // Only the INVOKE_CHAINCODE is answered.
    assert_eq!(
        caller.recv().await,
        msg_of(Type::Response, done.encode_to_vec(), &params.txid, CHANNEL)
    );
    caller.quiet().await;
    // Once nothing is pending, requests are served again.
    assert_eq!(
        caller.ok(&params, Type::GetState, get_state("a")).await,
        b"alpha"
    );
    caller.complete(&params, &ok_response(b"")).await;
    finish(execution).await.expect("executed");
}

#[tokio::test]
async fn a_second_execution_of_the_same_txid_on_a_handler_is_refused() {
    let net = Net::new();
    let (mut shim, _served) = Shim::register(&net.support, "basic:1.0").await;
    let params = net.params();
    let call = input(&[b"f"]);
    let execution = net.start(&params, "basic", call.clone());
    shim.expect_tx(Type::Transaction, &params, &call).await;
    let again = net.start(&params, "basic", call.clone());
    assert_eq!(
        finish(again).await,
        Err(ExecuteError(format!(
            "failed to execute transaction {txid}: error sending: txid: {txid}({CHANNEL}) exists",
            txid = params.txid
        )))
    );
    shim.quiet().await;
    shim.complete(&params, &ok_response(b"")).await;
    finish(execution).await.expect("executed");
}

// ---------------------------------------------------------------------------------------
// 11. Timeout and stream end

#[tokio::test]
async fn an_execution_times_out_and_late_messages_find_no_context() {
    let net = Net::with(&[("basic", false)], Duration::from_millis(300));
    let (mut shim, _served) = Shim::register(&net.support, "basic:1.0").await;
    let params = net.params();
    let call = input(&[b"f"]);
    let started = Instant::now();
    let execution = net.start(&params, "basic", call.clone());
    shim.expect_tx(Type::Transaction, &params, &call).await;
    let error = finish(execution).await.expect_err("timed out").0;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(
        error.starts_with(&format!("failed to execute transaction {}: ", params.txid))
            && error.ends_with("timeout expired while executing transaction"),
        "{error}"
    );
    // The context is gone: a late request fails, a late COMPLETED is ignored.
    assert_eq!(
        shim.err(&params, Type::GetState, get_state("a")).await,
        failed("GET_STATE", &params.txid, "no ledger context")
    );
    shim.complete(&params, &ok_response(b"late")).await;
    shim.quiet().await;
    // The handler still serves.
    let params = net.params();
    let execution = net.start(&params, "basic", call.clone());
    shim.expect_tx(Type::Transaction, &params, &call).await;
    shim.complete(&params, &ok_response(b"ok")).await;
    finish(execution).await.expect("executed");
}

/// Fabric: `ChaincodeSupport.execute` wraps the handler's error with "error sending"
/// and `processChaincodeExecutionResult` with "failed to execute transaction <txid>".
#[tokio::test]
async fn timeout_and_stream_end_errors_have_fabrics_wording() {
    let net = Net::with(&[("basic", false)], Duration::from_millis(300));
    let (mut shim, _served) = Shim::register(&net.support, "basic:1.0").await;
    let params = net.params();
    let call = input(&[b"f"]);
    let execution = net.start(&params, "basic", call.clone());
    shim.expect_tx(Type::Transaction, &params, &call).await;
    assert_eq!(
        finish(execution).await,
        Err(ExecuteError(format!(
            "failed to execute transaction {}: error sending: timeout expired while executing transaction",
            params.txid
        )))
    );
    let params = net.params();
    let execution = net.start(&params, "basic", call.clone());
    shim.expect_tx(Type::Transaction, &params, &call).await;
    shim.hang_up();
    assert_eq!(
        finish(execution).await,
        Err(ExecuteError(format!(
            "failed to execute transaction {}: error sending: chaincode stream terminated",
            params.txid
        )))
    );
}

#[tokio::test]
async fn the_stream_ending_mid_transaction_fails_it_and_deregisters() {
    let net = Net::new();
    let (mut shim, served) = Shim::register(&net.support, "basic:1.0").await;
    assert_eq!(net.support.registry().connected(), ["basic:1.0"]);
    let params = net.params();
    let call = input(&[b"f"]);
    let started = Instant::now();
    let execution = net.start(&params, "basic", call.clone());
    shim.expect_tx(Type::Transaction, &params, &call).await;
    shim.hang_up();
    let error = finish(execution).await.expect_err("terminated").0;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        error.starts_with(&format!("failed to execute transaction {}: ", params.txid))
            && error.ends_with("chaincode stream terminated"),
        "{error}"
    );
    assert_eq!(served.await.expect("task"), Ok(()));
    shim.closed().await;
    assert!(net.support.registry().connected().is_empty());
    // With nobody registered (dev mode: the peer does not launch), a call fails at once.
    let params = net.params();
    let error = finish(net.start(&params, "basic", call))
        .await
        .expect_err("no chaincode")
        .0;
    assert!(error.contains("basic:1.0"), "{error}");
}

// ---------------------------------------------------------------------------------------
// 12. Init rules

#[tokio::test]
async fn init_rules_follow_fabric() {
    let net = Net::with(
        &[("basic", true), ("plain", false)],
        Duration::from_secs(10),
    );
    let (mut shim, _served) = Shim::register(&net.support, "basic:1.0").await;
    let (mut plain, _served2) = Shim::register(&net.support, "plain:1.0").await;
    let call = input(&[b"f"]);

    // Not initialized: a normal call is refused before reaching the chaincode.
    let params = net.params();
    let error = finish(net.start(&params, "basic", call.clone()))
        .await
        .expect_err("not initialized")
        .0;
    assert!(
        error.starts_with(&format!("failed to execute transaction {}: ", params.txid))
            && error.ends_with(
                "chaincode 'basic' has not been initialized for this version, must call as init first"
            ),
        "{error}"
    );
    shim.quiet().await;

    // Init: the peer writes the initialized key (= version) and sends INIT.
    let params = net.params();
    let init = ChaincodeInput {
        is_init: true,
        ..input(&[b"init"])
    };
    let execution = net.start(&params, "basic", init.clone());
    shim.expect_tx(Type::Init, &params, &init).await;
    shim.ok(&params, Type::PutState, put_state("i", b"1")).await;
    // Private data APIs are refused in Init().
    for (name, r#type, payload) in private_requests("secret") {
        let text = shim.err(&params, r#type, payload).await;
        assert_eq!(
            text,
            failed(
                name,
                &params.txid,
                "private data APIs are not allowed in chaincode Init()"
            )
        );
    }
    shim.complete(&params, &ok_response(b"inited")).await;
    finish(execution).await.expect("initialized");
    let rwset = rwset_of(&params);
    let basic = ns(&rwset, "basic").expect("basic");
    assert_eq!(basic.reads, [read(INITIALIZED_KEY, None)]);
    assert_eq!(
        basic.writes,
        [write(INITIALIZED_KEY, b"1.0"), write("i", b"1")]
    );
    assert_eq!(
        &INITIALIZED_KEY.as_bytes()[..5],
        &[0x00, 0xf4, 0x8f, 0xbf, 0xbf]
    );
    commit_updates(
        &net.channel,
        vec![tx_updates_from_rwset(0, &params.txid, &rwset).expect("updates")],
    );

    // Initialized: init again is refused, a normal call goes through.
    let params = net.params();
    let error = finish(net.start(&params, "basic", init.clone()))
        .await
        .expect_err("already initialized")
        .0;
    assert!(
        error.ends_with("chaincode 'basic' is already initialized but called as init"),
        "{error}"
    );
    shim.quiet().await;
    let params = net.params();
    let execution = net.start(&params, "basic", call.clone());
    shim.expect_tx(Type::Transaction, &params, &call).await;
    shim.complete(&params, &ok_response(b"")).await;
    finish(execution).await.expect("executed");
    let basic = ns(&rwset_of(&params), "basic").expect("basic");
    assert_eq!(basic.reads, [read(INITIALIZED_KEY, Some((2, 0)))]);
    assert!(basic.writes.is_empty());

    // No init required: init is refused.
    let params = net.params_on(&net.channel, "plain");
    let error = finish(net.start(&params, "plain", init.clone()))
        .await
        .expect_err("no init")
        .0;
    assert!(
        error.ends_with("chaincode 'plain' does not require initialization but called as init"),
        "{error}"
    );
    plain.quiet().await;
}

/// Fabric's `ChaincodeSupport.Invoke` wraps `CheckInvocation` errors with "invalid
/// invocation".
#[tokio::test]
async fn init_rule_errors_have_fabrics_wording() {
    let net = Net::with(&[("basic", true)], Duration::from_secs(10));
    let (_shim, _served) = Shim::register(&net.support, "basic:1.0").await;
    let params = net.params();
    assert_eq!(
        finish(net.start(&params, "basic", input(&[b"f"]))).await,
        Err(ExecuteError(format!(
            "failed to execute transaction {}: invalid invocation: chaincode 'basic' has not been initialized for this version, must call as init first",
            params.txid
        )))
    );
}

// ---------------------------------------------------------------------------------------
// Total query limit (`ledger.state.totalQueryLimit`)

fn limited(limit: i32) -> Net {
    Net::with_config(
        &[("basic", false)],
        SupportConfig {
            execute_timeout: Duration::from_secs(10),
            startup_timeout: Duration::from_secs(1),
            total_query_limit: limit,
            dev_mode: true,
            ..SupportConfig::default()
        },
    )
}

#[tokio::test]
async fn the_total_query_limit_caps_a_range_query() {
    let net = limited(120);
    let (mut shim, _served) = Shim::register(&net.support, "basic:1.0").await;
    // The endorser creates the simulator with the limit (endorser/mod.rs).
    let mut params = net.params();
    params.simulator = share(
        net.channel
            .ledger()
            .new_tx_simulator_with(
                &params.txid,
                crate::ledger::SimulatorConfig {
                    total_query_limit: 120,
                },
            )
            .expect("simulator"),
    );
    let call = input(&[b"f"]);
    let execution = net.start(&params, "basic", call.clone());
    shim.expect_tx(Type::Transaction, &params, &call).await;
    // Fabric: 100 with has_more, then the 20 up to the limit and the end.
    let first = decode_response(
        &shim
            .ok(&params, Type::GetStateByRange, range("r", "s", None))
            .await,
    );
    assert_eq!((first.results.len(), first.has_more), (100, true));
    let second = decode_response(
        &shim
            .ok(&params, Type::QueryStateNext, next(&first.id))
            .await,
    );
    assert_eq!((second.results.len(), second.has_more), (20, false));
    assert_eq!(kvs(&second), (100..120).map(range_kv).collect::<Vec<_>>());
    shim.complete(&params, &ok_response(b"")).await;
    finish(execution).await.expect("executed");
}

#[tokio::test]
async fn the_total_query_limit_caps_history_queries() {
    let net = limited(3);
    for value in [b"h1", b"h2", b"h3", b"h4"] {
        let kv = KvrwSet {
            writes: vec![write("h", value)],
            ..Default::default()
        };
        let rwset = TxReadWriteSet {
            data_model: DataModel::Kv as i32,
            ns_rwset: vec![NsReadWriteSet {
                namespace: "basic".into(),
                rwset: kv.encode_to_vec(),
                collection_hashed_rwset: Vec::new(),
            }],
        };
        let (envelope, txid) = net.endorser_tx(&rwset);
        let updates = tx_updates_from_rwset(0, &txid, &rwset).expect("updates");
        commit_block(&net.channel, vec![envelope], vec![updates]);
    }
    let (mut shim, _served) = Shim::register(&net.support, "basic:1.0").await;
    let params = net.params();
    let call = input(&[b"f"]);
    let execution = net.start(&params, "basic", call.clone());
    shim.expect_tx(Type::Transaction, &params, &call).await;
    let response = decode_response(
        &shim
            .ok(
                &params,
                Type::GetHistoryForKey,
                GetHistoryForKey { key: "h".into() }.encode_to_vec(),
            )
            .await,
    );
    assert!(!response.has_more);
    let values: Vec<Vec<u8>> = response
        .results
        .iter()
        .map(|r| {
            KeyModification::decode(r.result_bytes.as_slice())
                .expect("km")
                .value
        })
        .collect();
    assert_eq!(values, [b"h4".to_vec(), b"h3".to_vec(), b"h2".to_vec()]);
    shim.complete(&params, &ok_response(b"")).await;
    finish(execution).await.expect("executed");
}

/// Fabric enforces the limit in the handler, for every query of a transaction; for a
/// chaincode-to-chaincode call to another channel Weft's handler creates the callee's
/// simulator with the default settings instead.
#[tokio::test]
async fn the_total_query_limit_applies_to_a_callee_on_another_channel() {
    let net = limited(120);
    let legacy = net.legacy_channel();
    let (mut shim, _served) = Shim::register(&net.support, "basic:1.0").await;
    let params = net.params();
    let call = input(&[b"f"]);
    let execution = net.start(&params, "basic", call.clone());
    shim.expect_tx(Type::Transaction, &params, &call).await;
    shim.send(msg_of(
        Type::InvokeChaincode,
        invoke_spec("basic/legacy", &[b"g"]),
        &params.txid,
        CHANNEL,
    ))
    .await;
    let inner = shim.recv().await;
    assert_eq!(inner.channel_id, legacy.id());
    let first = shim
        .request_on(
            legacy.id(),
            &params.txid,
            Type::GetStateByRange,
            range("r", "s", None),
        )
        .await;
    let first = decode_response(&first.payload);
    assert_eq!((first.results.len(), first.has_more), (100, true));
    let second = shim
        .request_on(
            legacy.id(),
            &params.txid,
            Type::QueryStateNext,
            next(&first.id),
        )
        .await;
    let second = decode_response(&second.payload);
    let got = (second.results.len(), second.has_more);
    let done = msg_of(
        Type::Completed,
        ok_response(b"").encode_to_vec(),
        &params.txid,
        legacy.id(),
    );
    shim.send(done).await;
    assert_eq!(shim.recv().await.r#type, Type::Response as i32);
    shim.complete(&params, &ok_response(b"")).await;
    finish(execution).await.expect("executed");
    assert_eq!(got, (20, false));
}

// ---------------------------------------------------------------------------------------
// End to end through the endorser

impl Net {
    /// Org1's peer0 endorser running chaincodes through this support.
    fn endorser(&self) -> crate::endorser::Endorser {
        let msp = MspDir::load(
            &self.dir.path().join(
                "organizations/peerOrganizations/org1.example.com/peers/peer0.org1.example.com/msp",
            ),
            "Org1MSP",
        )
        .expect("msp");
        crate::endorser::Endorser::new(
            self.channels.clone(),
            Arc::new(msp.msp().expect("local msp")),
            Arc::new(self.peer.clone()),
        )
        .with_chaincode_support(self.support.clone())
    }
}

#[tokio::test]
async fn process_proposal_drives_the_scripted_chaincode_end_to_end() {
    let net = Net::with(&[("basic", false)], Duration::from_millis(300));
    let endorser = net.endorser();
    let (mut shim, _served) = Shim::register(&net.support, "basic:1.0").await;
    let proposal = |args: &[&[u8]]| {
        let (proposal, txid) = protoutil::create_chaincode_proposal(
            CHANNEL,
            "basic",
            args.iter().map(|a| a.to_vec()).collect(),
            HashMap::new(),
            net.user1.serialized(),
            None,
        );
        (
            protoutil::sign_proposal(&proposal, &net.user1).expect("sign"),
            txid,
        )
    };

    // Success: the chaincode sees the client's proposal and args; the action carries its
    // rwset and response.
    let (signed, txid) = proposal(&[b"put", b"k", b"v"]);
    let call = {
        let endorser = endorser.clone();
        let signed = signed.clone();
        tokio::spawn(async move { endorser.process_proposal(signed).await })
    };
    let msg = shim.recv().await;
    assert_eq!(
        msg,
        ChaincodeMessage {
            r#type: Type::Transaction as i32,
            payload: input(&[b"put", b"k", b"v"]).encode_to_vec(),
            txid: txid.clone(),
            proposal: Some(signed.clone()),
            channel_id: CHANNEL.to_owned(),
            ..Default::default()
        }
    );
    let ack = shim
        .request_on(CHANNEL, &txid, Type::PutState, put_state("k", b"v"))
        .await;
    assert_eq!(ack.r#type, Type::Response as i32);
    shim.send(msg_of(
        Type::Completed,
        ok_response(b"stored").encode_to_vec(),
        &txid,
        CHANNEL,
    ))
    .await;
    let response = tokio::time::timeout(WAIT, call)
        .await
        .expect("in time")
        .expect("task")
        .expect("not refused");
    assert_eq!(response.response, Some(ok_response(b"stored")));
    assert!(response.endorsement.is_some());
    let prp = weft_proto::protos::ProposalResponsePayload::decode(response.payload.as_slice())
        .expect("prp");
    let action = ChaincodeAction::decode(prp.extension.as_slice()).expect("action");
    let rwset = TxReadWriteSet::decode(action.results.as_slice()).expect("rwset");
    assert_eq!(
        ns(&rwset, "basic").expect("basic").writes,
        [write("k", b"v")]
    );

    // Timeout: status 500, Fabric's "error in simulation: …" text.
    let (signed, txid) = proposal(&[b"slow"]);
    let call = {
        let endorser = endorser.clone();
        tokio::spawn(async move { endorser.process_proposal(signed).await })
    };
    assert_eq!(shim.recv().await.txid, txid);
    let response = tokio::time::timeout(WAIT, call)
        .await
        .expect("in time")
        .expect("task")
        .expect("not refused");
    let answer = response.response.expect("response");
    assert_eq!(answer.status, 500);
    assert!(
        answer.message.starts_with(&format!(
            "error in simulation: failed to execute transaction {txid}: "
        )) && answer
            .message
            .ends_with("timeout expired while executing transaction"),
        "{}",
        answer.message
    );
    assert!(response.endorsement.is_none());

    // ERROR from the chaincode: "transaction returned with failure".
    let (signed, txid) = proposal(&[b"bad"]);
    let call = {
        let endorser = endorser.clone();
        tokio::spawn(async move { endorser.process_proposal(signed).await })
    };
    assert_eq!(shim.recv().await.txid, txid);
    shim.send(msg_of(Type::Error, b"nope".to_vec(), &txid, CHANNEL))
        .await;
    let response = tokio::time::timeout(WAIT, call)
        .await
        .expect("in time")
        .expect("task")
        .expect("not refused");
    let answer = response.response.expect("response");
    assert_eq!(
        (answer.status, answer.message.as_str()),
        (
            500,
            "error in simulation: transaction returned with failure: nope"
        )
    );
}
