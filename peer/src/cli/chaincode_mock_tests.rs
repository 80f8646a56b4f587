//! `peer lifecycle chaincode ...` and `peer chaincode invoke|query` against in-process
//! mock peers (Endorser + Deliver) and a mock orderer (Broadcast) over TLS, with
//! identities from `cryptogen`: the proposals on the wire (function names, protobuf
//! arguments, channel, chaincode spec), the transactions broadcast (endorsements of every
//! peer), `--waitForEvent` on each peer's DeliverFiltered, outputs, and Fabric's error
//! wording (a refusing peer, bad `-c`, bad peer flags, timeouts, invalidated transactions).

use std::collections::HashMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::Stream;
use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use weft_common::{grpc, protoutil, tls};
use weft_proto::common::{Envelope, HeaderType, Payload, Status};
use weft_proto::lifecycle::{
    ApproveChaincodeDefinitionForMyOrgArgs, CheckCommitReadinessResult,
    CommitChaincodeDefinitionArgs, InstallChaincodeArgs, InstallChaincodeResult,
    QueryInstalledChaincodesResult, chaincode_source, query_installed_chaincodes_result,
};
use weft_proto::orderer::atomic_broadcast_server::{AtomicBroadcast, AtomicBroadcastServer};
use weft_proto::orderer::{BroadcastResponse, SeekInfo, seek_position};
use weft_proto::protos::deliver_server::{Deliver, DeliverServer};
use weft_proto::protos::endorser_server::{Endorser, EndorserServer};
use weft_proto::protos::{
    ChaincodeAction, ChaincodeActionPayload, ChaincodeEndorsedAction, ChaincodeInvocationSpec,
    ChaincodeProposalPayload, DeliverResponse, Endorsement, FilteredBlock, FilteredTransaction,
    ProposalResponse, ProposalResponsePayload, Response, SignedProposal, Transaction,
    TxValidationCode, chaincode_spec, deliver_response,
};
use weft_tools::cryptogen::{self, CryptoConfig};

use super::args::{
    DefinitionArgs, InstallArgs, InvokeArgs, OrdererArgs, PeerTargetArgs, QueryArgs,
    QueryInstalledArgs,
};
use super::log::Logger;
use super::{chaincode, lifecycle};
use crate::config::PeerConfig;

const CHANNEL: &str = "mychannel";
const PACKAGE_ID: &str = "basic_1.0:0123";

/// What the mocks saw, and how they answer.
#[derive(Debug, Default)]
struct State {
    /// (peer name, proposal) in arrival order.
    proposals: Vec<(&'static str, SignedProposal)>,
    /// Envelopes broadcast to the orderer.
    broadcast: Vec<Envelope>,
    /// (peer name, seek envelope) of each DeliverFiltered stream.
    seeks: Vec<(&'static str, Envelope)>,
    /// Peers answering every proposal with status 500 and this message.
    refusing: HashMap<&'static str, String>,
    /// The validation code DeliverFiltered reports for ordered transactions.
    code: i32,
    /// DeliverFiltered never answers (to test timeouts).
    silent: bool,
}

#[derive(Debug, Clone)]
struct World {
    state: Arc<Mutex<State>>,
    /// Txids ordered by the mock orderer.
    ordered: broadcast::Sender<String>,
}

impl World {
    fn new() -> Self {
        Self {
            state: Arc::default(),
            ordered: broadcast::channel(16).0,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("lock")
    }
}

#[derive(Debug, Clone)]
struct MockPeer {
    name: &'static str,
    world: World,
}

fn ok(payload: Vec<u8>) -> Response {
    Response {
        status: 200,
        message: String::new(),
        payload,
    }
}

/// A response endorsed by `peer`: identical payloads across peers for identical input.
fn endorsed(peer: &str, response: Response) -> ProposalResponse {
    let prp = ProposalResponsePayload {
        proposal_hash: vec![7; 32],
        extension: ChaincodeAction {
            response: Some(response.clone()),
            ..ChaincodeAction::default()
        }
        .encode_to_vec(),
    };
    ProposalResponse {
        version: 1,
        response: Some(response),
        payload: prp.encode_to_vec(),
        endorsement: Some(Endorsement {
            endorser: peer.as_bytes().to_vec(),
            signature: b"signature".to_vec(),
        }),
        ..ProposalResponse::default()
    }
}

/// (chaincode name, spec type, args) of a signed proposal.
fn invocation(signed: &SignedProposal) -> (String, i32, Vec<Vec<u8>>, bool) {
    let proposal =
        weft_proto::protos::Proposal::decode(signed.proposal_bytes.as_slice()).expect("proposal");
    let payload = ChaincodeProposalPayload::decode(proposal.payload.as_slice()).expect("payload");
    let spec = ChaincodeInvocationSpec::decode(payload.input.as_slice())
        .expect("cis")
        .chaincode_spec
        .expect("spec");
    let input = spec.input.unwrap_or_default();
    (
        spec.chaincode_id.map(|c| c.name).unwrap_or_default(),
        spec.r#type,
        input.args,
        input.is_init,
    )
}

#[tonic::async_trait]
impl Endorser for MockPeer {
    async fn process_proposal(
        &self,
        request: tonic::Request<SignedProposal>,
    ) -> Result<tonic::Response<ProposalResponse>, tonic::Status> {
        let signed = request.into_inner();
        let (name, _, args, _) = invocation(&signed);
        let refusal = {
            let mut state = self.world.state();
            state.proposals.push((self.name, signed));
            state.refusing.get(self.name).cloned()
        };
        if let Some(message) = refusal {
            return Ok(tonic::Response::new(ProposalResponse {
                response: Some(Response {
                    status: 500,
                    message,
                    payload: Vec::new(),
                }),
                ..ProposalResponse::default()
            }));
        }
        let function = args.first().cloned().unwrap_or_default();
        let response = match (name.as_str(), function.as_slice()) {
            ("_lifecycle", b"InstallChaincode") => ok(InstallChaincodeResult {
                package_id: PACKAGE_ID.into(),
                label: "basic_1.0".into(),
            }
            .encode_to_vec()),
            ("_lifecycle", b"QueryInstalledChaincodes") => ok(QueryInstalledChaincodesResult {
                installed_chaincodes: vec![query_installed_chaincodes_result::InstalledChaincode {
                    package_id: PACKAGE_ID.into(),
                    label: "basic_1.0".into(),
                    references: HashMap::new(),
                }],
            }
            .encode_to_vec()),
            ("_lifecycle", b"CheckCommitReadiness") => ok(CheckCommitReadinessResult {
                approvals: HashMap::from([
                    ("Org1MSP".to_owned(), true),
                    ("Org2MSP".to_owned(), false),
                ]),
            }
            .encode_to_vec()),
            ("_lifecycle", _) => ok(Vec::new()),
            (_, b"fail") => {
                return Ok(tonic::Response::new(ProposalResponse {
                    response: Some(Response {
                        status: 500,
                        message: "asset1 does not exist".into(),
                        payload: Vec::new(),
                    }),
                    ..ProposalResponse::default()
                }));
            }
            (_, _) => ok(args[1..].join(&b","[..])),
        };
        Ok(tonic::Response::new(endorsed(self.name, response)))
    }
}

type PeerStream = Pin<Box<dyn Stream<Item = Result<DeliverResponse, tonic::Status>> + Send>>;

#[tonic::async_trait]
impl Deliver for MockPeer {
    type DeliverStream = PeerStream;
    type DeliverFilteredStream = PeerStream;
    type DeliverWithPrivateDataStream = PeerStream;

    async fn deliver(
        &self,
        _request: tonic::Request<tonic::Streaming<Envelope>>,
    ) -> Result<tonic::Response<PeerStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("mock"))
    }

    async fn deliver_filtered(
        &self,
        request: tonic::Request<tonic::Streaming<Envelope>>,
    ) -> Result<tonic::Response<PeerStream>, tonic::Status> {
        let mut requests = request.into_inner();
        let seek = requests
            .message()
            .await?
            .ok_or_else(|| tonic::Status::invalid_argument("no seek"))?;
        let mut ordered = self.world.ordered.subscribe();
        let (code, silent) = {
            let mut state = self.world.state();
            state.seeks.push((self.name, seek));
            (state.code, state.silent)
        };
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            let _requests = requests;
            if silent {
                tokio::time::sleep(Duration::from_secs(60)).await;
                return;
            }
            let mut number = 5;
            while let Ok(txid) = ordered.recv().await {
                let block = FilteredBlock {
                    channel_id: CHANNEL.into(),
                    number,
                    filtered_transactions: vec![FilteredTransaction {
                        txid,
                        r#type: HeaderType::EndorserTransaction as i32,
                        tx_validation_code: code,
                        data: None,
                    }],
                };
                number += 1;
                let response = DeliverResponse {
                    r#type: Some(deliver_response::Type::FilteredBlock(block)),
                };
                if tx.send(Ok(response)).await.is_err() {
                    return;
                }
            }
        });
        Ok(tonic::Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn deliver_with_private_data(
        &self,
        _request: tonic::Request<tonic::Streaming<Envelope>>,
    ) -> Result<tonic::Response<PeerStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("mock"))
    }
}

#[derive(Debug, Clone)]
struct MockOrderer {
    world: World,
}

#[tonic::async_trait]
impl AtomicBroadcast for MockOrderer {
    type BroadcastStream =
        Pin<Box<dyn Stream<Item = Result<BroadcastResponse, tonic::Status>> + Send>>;
    type DeliverStream = Pin<
        Box<dyn Stream<Item = Result<weft_proto::orderer::DeliverResponse, tonic::Status>> + Send>,
    >;

    async fn broadcast(
        &self,
        request: tonic::Request<tonic::Streaming<Envelope>>,
    ) -> Result<tonic::Response<Self::BroadcastStream>, tonic::Status> {
        let mut requests = request.into_inner();
        let world = self.world.clone();
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            while let Ok(Some(envelope)) = requests.message().await {
                let txid = protoutil::unpack_envelope(&envelope)
                    .map(|u| u.channel_header.tx_id)
                    .unwrap_or_default();
                world.state().broadcast.push(envelope);
                // Give the deliver streams a moment, as ordering does.
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = world.ordered.send(txid);
                let reply = BroadcastResponse {
                    status: Status::Success as i32,
                    info: String::new(),
                };
                if tx.send(Ok(reply)).await.is_err() {
                    return;
                }
            }
        });
        Ok(tonic::Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn deliver(
        &self,
        _request: tonic::Request<tonic::Streaming<Envelope>>,
    ) -> Result<tonic::Response<Self::DeliverStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("mock"))
    }
}

/// Crypto material, two mock peers and a mock orderer, TLS everywhere.
struct Fixture {
    dir: tempfile::TempDir,
    world: World,
    peer_ports: [u16; 2],
    orderer_port: u16,
}

fn package_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

impl Fixture {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let tools = package_dir().join("../tools/testdata");
        let crypto = CryptoConfig::load(&tools.join("crypto-config.yaml")).expect("crypto");
        cryptogen::generate(&crypto, &dir.path().join("organizations")).expect("cryptogen");
        let world = World::new();
        let mut fixture = Fixture {
            dir,
            world: world.clone(),
            peer_ports: [0, 0],
            orderer_port: 0,
        };
        let peer_tls = fixture.peer_dir().join("tls");
        for (i, name) in ["peer0", "peer1"].into_iter().enumerate() {
            let config = tls::server_config(
                &peer_tls.join("server.crt"),
                &peer_tls.join("server.key"),
                None,
            )
            .expect("peer tls");
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            fixture.peer_ports[i] = listener.local_addr().expect("addr").port();
            let mock = MockPeer {
                name,
                world: world.clone(),
            };
            let router = grpc::server(&grpc::ServerOptions::default())
                .add_service(EndorserServer::new(mock.clone()))
                .add_service(DeliverServer::new(mock));
            tokio::spawn(router.serve_with_incoming(grpc::incoming(listener, Some(config))));
        }
        let orderer_tls = fixture.orderer_dir().join("tls");
        let config = tls::server_config(
            &orderer_tls.join("server.crt"),
            &orderer_tls.join("server.key"),
            None,
        )
        .expect("orderer tls");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        fixture.orderer_port = listener.local_addr().expect("addr").port();
        let router = grpc::server(&grpc::ServerOptions::default())
            .add_service(AtomicBroadcastServer::new(MockOrderer { world }));
        tokio::spawn(router.serve_with_incoming(grpc::incoming(listener, Some(config))));
        fixture
    }

    fn org1(&self) -> PathBuf {
        self.dir
            .path()
            .join("organizations/peerOrganizations/org1.example.com")
    }

    fn peer_dir(&self) -> PathBuf {
        self.org1().join("peers/peer0.org1.example.com")
    }

    fn orderer_dir(&self) -> PathBuf {
        self.dir
            .path()
            .join("organizations/ordererOrganizations/example.com/orderers/orderer.example.com")
    }

    fn peer_ca(&self) -> String {
        self.peer_dir().join("tls/ca.crt").display().to_string()
    }

    /// Org1's admin, `CORE_PEER_ADDRESS` = the first mock peer.
    fn config(&self) -> PeerConfig {
        let p = |path: PathBuf| path.display().to_string();
        let env = vec![
            (
                "CORE_PEER_ADDRESS",
                format!("127.0.0.1:{}", self.peer_ports[0]),
            ),
            ("CORE_PEER_TLS_ENABLED", "true".into()),
            ("CORE_PEER_TLS_ROOTCERT_FILE", self.peer_ca()),
            ("CORE_PEER_LOCALMSPID", "Org1MSP".into()),
            (
                "CORE_PEER_MSPCONFIGPATH",
                p(self.org1().join("users/Admin@org1.example.com/msp")),
            ),
        ];
        PeerConfig::from_yaml_str("", None, env).expect("config")
    }

    fn orderer(&self) -> OrdererArgs {
        OrdererArgs {
            orderer: format!("127.0.0.1:{}", self.orderer_port),
            tls: true,
            cafile: Some(self.orderer_dir().join("tls/ca.crt")),
            ..OrdererArgs::default()
        }
    }

    /// `--peerAddresses`/`--tlsRootCertFiles` of both mock peers.
    fn both_peers(&self) -> PeerTargetArgs {
        PeerTargetArgs {
            peer_addresses: self
                .peer_ports
                .iter()
                .map(|p| format!("127.0.0.1:{p}"))
                .collect(),
            tls_root_cert_files: vec![self.peer_ca(), self.peer_ca()],
            ..PeerTargetArgs::default()
        }
    }

    fn definition(&self) -> DefinitionArgs {
        DefinitionArgs {
            channel_id: CHANNEL.into(),
            name: "basic".into(),
            version: "1.0".into(),
            sequence: 1,
            package_id: PACKAGE_ID.into(),
            signature_policy: "AND('Org1MSP.peer','Org2MSP.peer')".into(),
            wait_for_event_timeout: Duration::from_secs(5),
            peers: self.both_peers(),
            ..DefinitionArgs::default()
        }
    }
}

/// The endorsed action and the proposal payload of a broadcast transaction.
fn transaction_parts(envelope: &Envelope) -> (ChaincodeEndorsedAction, Vec<u8>) {
    let payload = Payload::decode(envelope.payload.as_slice()).expect("payload");
    let tx = Transaction::decode(payload.data.as_slice()).expect("transaction");
    let action = tx.actions.first().expect("one action");
    let cap = ChaincodeActionPayload::decode(action.payload.as_slice()).expect("action payload");
    (
        cap.action.expect("endorsed action"),
        cap.chaincode_proposal_payload,
    )
}

fn quiet() -> Logger {
    Logger::new("error")
}

#[tokio::test]
async fn install_and_queryinstalled_send_lifecycle_proposals() {
    let f = Fixture::start().await;
    let config = f.config();
    let package = f.dir.path().join("basic.tar.gz");
    std::fs::write(&package, b"package bytes").expect("package");
    lifecycle::install(
        &config,
        &quiet(),
        &InstallArgs {
            args: vec![package.display().to_string()],
            peers: PeerTargetArgs::default(),
        },
    )
    .await
    .expect("install");
    let text = lifecycle::query_installed(&config, &QueryInstalledArgs::default())
        .await
        .expect("queryinstalled");
    assert_eq!(
        text,
        format!("Installed chaincodes on peer:\nPackage ID: {PACKAGE_ID}, Label: basic_1.0\n")
    );
    let json = lifecycle::query_installed(
        &config,
        &QueryInstalledArgs {
            output: "json".into(),
            ..QueryInstalledArgs::default()
        },
    )
    .await
    .expect("json");
    assert_eq!(
        json,
        format!(
            "{{\n\t\"installed_chaincodes\": [\n\t\t{{\n\t\t\t\"package_id\": \"{PACKAGE_ID}\",\n\
             \t\t\t\"label\": \"basic_1.0\"\n\t\t}}\n\t]\n}}\n"
        )
    );

    let state = f.world.state();
    assert_eq!(state.proposals.len(), 3);
    // Both went to CORE_PEER_ADDRESS (the first peer), channel-less, to _lifecycle with
    // no chaincode type.
    let (peer, install) = &state.proposals[0];
    assert_eq!(*peer, "peer0");
    let up = protoutil::unpack_proposal(install).expect("unpacks");
    assert_eq!(up.channel_header.channel_id, "");
    assert_eq!(
        up.channel_header.r#type,
        HeaderType::EndorserTransaction as i32
    );
    let (name, spec_type, args, _) = invocation(install);
    assert_eq!(name, "_lifecycle");
    assert_eq!(spec_type, chaincode_spec::Type::Undefined as i32);
    assert_eq!(args[0], b"InstallChaincode");
    assert_eq!(
        InstallChaincodeArgs::decode(args[1].as_slice())
            .expect("args")
            .chaincode_install_package,
        b"package bytes"
    );
    assert_eq!(
        invocation(&state.proposals[1].1).2[0],
        b"QueryInstalledChaincodes"
    );
}

#[tokio::test]
async fn approve_collects_endorsements_broadcasts_and_waits_on_every_peer() {
    let f = Fixture::start().await;
    f.world.state().code = TxValidationCode::Valid as i32;
    let args = f.definition();
    lifecycle::submit_definition(
        &f.config(),
        &quiet(),
        &f.orderer(),
        &args,
        lifecycle::Submit::Approve,
    )
    .await
    .expect("approve");

    let state = f.world.state();
    let peers: Vec<&str> = state.proposals.iter().map(|p| p.0).collect();
    assert_eq!(peers, vec!["peer0", "peer1"]);
    // One signed proposal, sent to both.
    assert_eq!(state.proposals[0].1, state.proposals[1].1);
    let (name, _, args, _) = invocation(&state.proposals[0].1);
    assert_eq!(name, "_lifecycle");
    assert_eq!(args[0], b"ApproveChaincodeDefinitionForMyOrg");
    let approve = ApproveChaincodeDefinitionForMyOrgArgs::decode(args[1].as_slice()).expect("args");
    assert_eq!(
        (approve.name.as_str(), approve.version.as_str()),
        ("basic", "1.0")
    );
    assert_eq!(approve.sequence, 1);
    assert!(!approve.validation_parameter.is_empty());
    assert_eq!(
        approve.source.and_then(|s| s.r#type),
        Some(chaincode_source::Type::LocalPackage(
            chaincode_source::Local {
                package_id: PACKAGE_ID.into()
            }
        ))
    );
    let up = protoutil::unpack_proposal(&state.proposals[0].1).expect("unpacks");
    assert_eq!(up.channel_header.channel_id, CHANNEL);

    // The transaction carries both endorsements and the proposal's txid.
    assert_eq!(state.broadcast.len(), 1);
    let tx = protoutil::unpack_envelope(&state.broadcast[0]).expect("envelope");
    assert_eq!(tx.channel_header.tx_id, up.channel_header.tx_id);
    let (action, _) = transaction_parts(&state.broadcast[0]);
    let endorsers: Vec<&[u8]> = action
        .endorsements
        .iter()
        .map(|e| e.endorser.as_slice())
        .collect();
    assert_eq!(endorsers, vec![&b"peer0"[..], b"peer1"]);

    // A DeliverFiltered stream per peer, from the newest block on, on the channel.
    assert_eq!(state.seeks.len(), 2);
    for (_, seek) in &state.seeks {
        let up = protoutil::unpack_envelope(seek).expect("seek");
        assert_eq!(up.channel_header.r#type, HeaderType::DeliverSeekInfo as i32);
        assert_eq!(up.channel_header.channel_id, CHANNEL);
        let info = SeekInfo::decode(up.data.as_slice()).expect("seek info");
        assert!(matches!(
            info.start.and_then(|p| p.r#type),
            Some(seek_position::Type::Newest(_))
        ));
    }
}

#[tokio::test]
async fn commit_reports_refusals_invalidation_and_timeouts_like_fabric() {
    let f = Fixture::start().await;
    let config = f.config();
    let args = f.definition();
    let commit = |args: DefinitionArgs| {
        let config = config.clone();
        let orderer = f.orderer();
        async move {
            lifecycle::submit_definition(
                &config,
                &quiet(),
                &orderer,
                &args,
                lifecycle::Submit::Commit,
            )
            .await
            .map_err(|e| e.to_string())
        }
    };

    // The second peer refuses: the transaction cannot be assembled.
    let refusal = "failed to invoke backing implementation of 'CommitChaincodeDefinition': \
                   chaincode definition not agreed to by this org (Org2MSP)";
    f.world.state().refusing.insert("peer1", refusal.into());
    assert_eq!(
        commit(args.clone()).await,
        Err(format!(
            "failed to create signed transaction: proposal response was not successful, error \
             code 500, msg {refusal}"
        ))
    );
    // The first peer refuses: Fabric's "proposal failed with status".
    f.world.state().refusing.insert("peer0", refusal.into());
    assert_eq!(
        commit(args.clone()).await,
        Err(format!("proposal failed with status: 500 - {refusal}"))
    );
    assert!(f.world.state().broadcast.is_empty());
    f.world.state().refusing.clear();

    // Ordered but invalidated.
    f.world.state().code = TxValidationCode::EndorsementPolicyFailure as i32;
    assert_eq!(
        commit(args.clone()).await,
        Err("transaction invalidated with status (ENDORSEMENT_POLICY_FAILURE)".into())
    );
    let (_, _, proposal_args, _) = invocation(&f.world.state().proposals.last().expect("p").1);
    assert_eq!(proposal_args[0], b"CommitChaincodeDefinition");
    CommitChaincodeDefinitionArgs::decode(proposal_args[1].as_slice()).expect("commit args");

    // No block ever arrives.
    f.world.state().silent = true;
    let short = DefinitionArgs {
        wait_for_event_timeout: Duration::from_millis(300),
        ..args.clone()
    };
    assert_eq!(
        commit(short).await,
        Err("timed out waiting for txid on all peers".into())
    );
    // Not waiting: done once the orderer acknowledged.
    let no_wait = DefinitionArgs {
        wait_for_event: false,
        ..args.clone()
    };
    assert_eq!(commit(no_wait).await, Ok(()));

    // Missing flags are reported after connecting, as Fabric does.
    let no_sequence = DefinitionArgs {
        sequence: 0,
        ..args.clone()
    };
    assert_eq!(
        commit(no_sequence).await,
        Err(
            "The required parameter 'sequence' is empty. Rerun the command with --sequence flag"
                .into()
        )
    );
}

#[tokio::test]
async fn checkcommitreadiness_text_and_json() {
    let f = Fixture::start().await;
    let args = DefinitionArgs {
        peers: PeerTargetArgs::default(),
        ..f.definition()
    };
    let text = lifecycle::check_commit_readiness(&f.config(), &args)
        .await
        .expect("readiness");
    assert_eq!(
        text,
        "Chaincode definition for chaincode 'basic', version '1.0', sequence '1' on channel \
         'mychannel' approval status by org:\nOrg1MSP: true\nOrg2MSP: false\n"
    );
    let json = lifecycle::check_commit_readiness(
        &f.config(),
        &DefinitionArgs {
            output: "json".into(),
            ..args.clone()
        },
    )
    .await
    .expect("json");
    assert_eq!(
        json,
        "{\n\t\"approvals\": {\n\t\t\"Org1MSP\": true,\n\t\t\"Org2MSP\": false\n\t}\n}\n"
    );
    // One peer only, as Fabric.
    let err = lifecycle::check_commit_readiness(&f.config(), &f.definition())
        .await
        .expect_err("two peers");
    assert_eq!(
        err.to_string(),
        "failed to validate peer connection parameters: 'checkcommitreadiness' command supports \
         one peer. 2 peers provided"
    );
}

#[tokio::test]
async fn invoke_and_query_like_fabric() {
    let f = Fixture::start().await;
    let config = f.config();
    let invoke = InvokeArgs {
        name: "basic".into(),
        ctor: r#"{"function":"CreateAsset","Args":["asset1","blue"]}"#.into(),
        channel_id: CHANNEL.into(),
        wait_for_event: true,
        wait_for_event_timeout: Duration::from_secs(5),
        peers: f.both_peers(),
        ..InvokeArgs::default()
    };
    chaincode::invoke(
        &config,
        &quiet(),
        &f.orderer(),
        r#"{"secret":"c2VjcmV0"}"#,
        &invoke,
    )
    .await
    .expect("invoke");
    {
        let state = f.world.state();
        assert_eq!(state.broadcast.len(), 1);
        assert_eq!(state.seeks.len(), 2);
        let (name, spec_type, args, is_init) = invocation(&state.proposals[0].1);
        assert_eq!(name, "basic");
        assert_eq!(spec_type, chaincode_spec::Type::Golang as i32);
        assert_eq!(
            args,
            vec![
                b"CreateAsset".to_vec(),
                b"asset1".to_vec(),
                b"blue".to_vec()
            ]
        );
        assert!(!is_init);
        let up = protoutil::unpack_proposal(&state.proposals[0].1).expect("unpacks");
        assert_eq!(
            up.transient_map().get("secret").map(Vec::as_slice),
            Some(&b"secret"[..])
        );
        // The transient map stays out of the transaction.
        let (_, proposal_payload) = transaction_parts(&state.broadcast[0]);
        let payload =
            ChaincodeProposalPayload::decode(proposal_payload.as_slice()).expect("payload");
        assert!(payload.transient_map.is_empty());
    }

    // The chaincode refuses: Fabric's "endorsement failure during invoke".
    let failing = InvokeArgs {
        ctor: r#"{"Args":["fail"]}"#.into(),
        ..invoke.clone()
    };
    let err = chaincode::invoke(&config, &quiet(), &f.orderer(), "", &failing)
        .await
        .expect_err("refused");
    assert_eq!(
        err.to_string(),
        "endorsement failure during invoke. response: status:500 message:\"asset1 does not exist\""
    );
    assert_eq!(
        f.world.state().broadcast.len(),
        1,
        "nothing more was ordered"
    );

    // Bad -c and bad --transient.
    let bad = InvokeArgs {
        ctor: r#"{"Args":["a"],"Function":"f","x":1}"#.into(),
        ..invoke.clone()
    };
    let err = chaincode::invoke(&config, &quiet(), &f.orderer(), "", &bad)
        .await
        .expect_err("bad ctor");
    assert_eq!(
        err.to_string(),
        "non-empty JSON chaincode parameters must contain the following keys: 'Args' or \
         'Function' and 'Args'"
    );
    let err = chaincode::invoke(&config, &quiet(), &f.orderer(), "{", &invoke)
        .await
        .expect_err("bad transient");
    assert_eq!(
        err.to_string(),
        "error parsing transient string: unexpected end of JSON input - proposal response: <nil>"
    );
    let err = chaincode::invoke(
        &config,
        &quiet(),
        &f.orderer(),
        "",
        &InvokeArgs {
            channel_id: String::new(),
            ..invoke.clone()
        },
    )
    .await
    .expect_err("no channel");
    assert_eq!(
        err.to_string(),
        "The required parameter 'channelID' is empty. Rerun the command with -C flag"
    );

    // Query: the payload of the first peer; one peer only.
    let query = QueryArgs {
        ctor: r#"{"Args":["ReadAsset","asset1"]}"#.into(),
        name: "basic".into(),
        channel_id: CHANNEL.into(),
        ..QueryArgs::default()
    };
    let payload = chaincode::query(&config, "", &query).await.expect("query");
    assert_eq!(payload, b"asset1");
    let err = chaincode::query(
        &config,
        "",
        &QueryArgs {
            peers: f.both_peers(),
            ..query.clone()
        },
    )
    .await
    .expect_err("two peers");
    assert_eq!(
        err.to_string(),
        "error validating peer connection parameters: 'query' command can only be executed \
         against one peer. received 2"
    );
    let err = chaincode::query(
        &config,
        "",
        &QueryArgs {
            ctor: r#"{"Args":["fail"]}"#.into(),
            ..query.clone()
        },
    )
    .await
    .expect_err("refused");
    assert_eq!(
        err.to_string(),
        "endorsement failure during query. response: status:500 message:\"asset1 does not exist\""
    );
}

#[tokio::test]
async fn peer_flags_are_checked_like_fabric() {
    let f = Fixture::start().await;
    let config = f.config();
    let query = |peers: PeerTargetArgs| QueryArgs {
        ctor: r#"{"Args":["ReadAsset","asset1"]}"#.into(),
        name: "basic".into(),
        channel_id: CHANNEL.into(),
        peers,
        ..QueryArgs::default()
    };
    // An address without its TLS root file.
    let err = chaincode::query(
        &config,
        "",
        &query(PeerTargetArgs {
            peer_addresses: vec![format!("127.0.0.1:{}", f.peer_ports[1])],
            ..PeerTargetArgs::default()
        }),
    )
    .await
    .expect_err("no root file");
    assert_eq!(
        err.to_string(),
        "error getting endorser client for query: tls root cert file must be set"
    );
    // Fewer root files than addresses.
    let err = lifecycle::submit_definition(
        &config,
        &quiet(),
        &f.orderer(),
        &DefinitionArgs {
            peers: PeerTargetArgs {
                tls_root_cert_files: vec![f.peer_ca()],
                ..f.both_peers()
            },
            ..f.definition()
        },
        lifecycle::Submit::Approve,
    )
    .await
    .expect_err("mismatch");
    assert_eq!(
        err.to_string(),
        "failed to validate peer connection parameters: number of peer addresses (2) does not \
         match the number of TLS root cert files (1)"
    );
    // A missing root file.
    let err = chaincode::query(
        &config,
        "",
        &query(PeerTargetArgs {
            peer_addresses: vec![format!("127.0.0.1:{}", f.peer_ports[1])],
            tls_root_cert_files: vec!["/nonexistent/ca.crt".into()],
            ..PeerTargetArgs::default()
        }),
    )
    .await
    .expect_err("missing root file");
    assert_eq!(
        err.to_string(),
        "error getting endorser client for query: unable to load TLS root cert file from \
         /nonexistent/ca.crt: open /nonexistent/ca.crt: no such file or directory"
    );
    // No peer listening at the address.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let err = lifecycle::install(
        &config,
        &quiet(),
        &InstallArgs {
            args: vec!["pkg.tar.gz".into()],
            peers: PeerTargetArgs {
                peer_addresses: vec![format!("127.0.0.1:{port}")],
                tls_root_cert_files: vec![f.peer_ca()],
                ..PeerTargetArgs::default()
            },
        },
    )
    .await
    .expect_err("nothing listens");
    assert!(
        err.to_string().starts_with(&format!(
            "failed to retrieve endorser client for install: endorser client failed to connect \
             to 127.0.0.1:{port}: failed to create new connection: "
        )),
        "{err}"
    );
    // Connection profiles are refused, saying so.
    let err = lifecycle::query_installed(
        &config,
        &QueryInstalledArgs {
            peers: PeerTargetArgs {
                connection_profile: Some("profile.yaml".into()),
                ..PeerTargetArgs::default()
            },
            ..QueryInstalledArgs::default()
        },
    )
    .await
    .expect_err("profile");
    assert!(
        err.to_string()
            .contains("connection profiles are not supported by Weft's peer CLI"),
        "{err}"
    );
    // A missing package file, after connecting (Fabric's order).
    let err = lifecycle::install(
        &config,
        &quiet(),
        &InstallArgs {
            args: vec!["/nonexistent/pkg.tar.gz".into()],
            peers: PeerTargetArgs::default(),
        },
    )
    .await
    .expect_err("no package");
    assert_eq!(
        err.to_string(),
        "failed to read chaincode package at '/nonexistent/pkg.tar.gz': open \
         /nonexistent/pkg.tar.gz: no such file or directory"
    );
}
