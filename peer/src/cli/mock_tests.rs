//! The client commands against in-process mock services (an Endorser, the peer's
//! Deliver and an orderer's AtomicBroadcast) over TLS, with identities from `cryptogen`:
//! what goes on the wire, TLS settings and bindings, and the files `fetch` writes.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use futures::Stream;
use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use weft_common::crypto::Signer;
use weft_common::msp::MspDir;
use weft_common::{grpc, protoutil, tls};
use weft_proto::common::{
    Block, BlockHeader, BlockMetadata, BlockchainInfo, Envelope, HeaderType, LastConfig, Metadata,
    OrdererBlockMetadata, Status,
};
use weft_proto::orderer::atomic_broadcast_server::{AtomicBroadcast, AtomicBroadcastServer};
use weft_proto::orderer::{BroadcastResponse, SeekInfo, seek_position};
use weft_proto::protos::deliver_server::{Deliver, DeliverServer};
use weft_proto::protos::endorser_server::{Endorser, EndorserServer};
use weft_proto::protos::{
    ChaincodeInvocationSpec, ChaincodeProposalPayload, ChannelInfo, ChannelQueryResponse,
    ProposalResponse, Response, SignedProposal,
};
use weft_tools::cryptogen::{self, CryptoConfig};

use super::args::{FetchArgs, GetinfoArgs, JoinArgs, ListArgs, OrdererArgs};
use super::channel;
use super::log::Logger;
use crate::config::PeerConfig;

const CHANNEL: &str = "mychannel";
/// The newest block the mock services have; its last config block is [`LAST_CONFIG`].
const NEWEST: u64 = 4;
const LAST_CONFIG: u64 = 2;

/// What the mocks saw.
#[derive(Debug, Default)]
struct Seen {
    proposals: Vec<SignedProposal>,
    /// Per seek: (channel id, tls_cert_hash, start position, stream index).
    seeks: Vec<(String, Vec<u8>, Option<seek_position::Type>, usize)>,
    /// Per Deliver stream: the hash of the client's TLS certificate, if any.
    streams: Vec<Option<[u8; 32]>>,
}

#[derive(Debug, Clone, Default)]
struct Mock {
    seen: Arc<Mutex<Seen>>,
}

fn block(number: u64) -> Block {
    let signatures = Metadata {
        value: OrdererBlockMetadata {
            last_config: Some(LastConfig { index: LAST_CONFIG }),
            consenter_metadata: Vec::new(),
        }
        .encode_to_vec(),
        signatures: Vec::new(),
    };
    Block {
        header: Some(BlockHeader {
            number,
            previous_hash: vec![1, 2, 3],
            data_hash: vec![4, 5, 6],
        }),
        data: None,
        metadata: Some(BlockMetadata {
            metadata: vec![signatures.encode_to_vec(), Vec::new(), Vec::new()],
        }),
    }
}

fn ok(payload: Vec<u8>) -> ProposalResponse {
    ProposalResponse {
        response: Some(Response {
            status: 200,
            message: String::new(),
            payload,
        }),
        ..ProposalResponse::default()
    }
}

#[tonic::async_trait]
impl Endorser for Mock {
    async fn process_proposal(
        &self,
        request: tonic::Request<SignedProposal>,
    ) -> Result<tonic::Response<ProposalResponse>, tonic::Status> {
        let signed = request.into_inner();
        let proposal = weft_proto::protos::Proposal::decode(signed.proposal_bytes.as_slice())
            .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
        let payload = ChaincodeProposalPayload::decode(proposal.payload.as_slice())
            .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
        let cis = ChaincodeInvocationSpec::decode(payload.input.as_slice())
            .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
        let args = cis
            .chaincode_spec
            .and_then(|s| s.input)
            .map(|i| i.args)
            .unwrap_or_default();
        self.seen.lock().expect("lock").proposals.push(signed);
        let response = match args.first().map(Vec::as_slice) {
            Some(b"JoinChain") => ok(Vec::new()),
            Some(b"GetChannels") => ok(ChannelQueryResponse {
                channels: vec![ChannelInfo {
                    channel_id: CHANNEL.into(),
                }],
            }
            .encode_to_vec()),
            Some(b"GetChainInfo") if args.get(1).map(Vec::as_slice) == Some(CHANNEL.as_bytes()) => {
                ok(BlockchainInfo {
                    height: NEWEST + 1,
                    current_block_hash: vec![9; 32],
                    previous_block_hash: vec![8; 32],
                    bootstrapping_snapshot_info: None,
                }
                .encode_to_vec())
            }
            _ => ProposalResponse {
                response: Some(Response {
                    status: 500,
                    message: "access denied".into(),
                    payload: Vec::new(),
                }),
                ..ProposalResponse::default()
            },
        };
        Ok(tonic::Response::new(response))
    }
}

type PeerStream =
    Pin<Box<dyn Stream<Item = Result<weft_proto::protos::DeliverResponse, tonic::Status>> + Send>>;
type OrdererStream =
    Pin<Box<dyn Stream<Item = Result<weft_proto::orderer::DeliverResponse, tonic::Status>> + Send>>;

/// The answers to one seek: the block (if the channel and block exist), then a status.
fn answer(seen: &Arc<Mutex<Seen>>, stream: usize, env: &Envelope) -> (Option<Block>, Status) {
    let Ok(up) = protoutil::unpack_envelope(env) else {
        return (None, Status::BadRequest);
    };
    let Ok(info) = SeekInfo::decode(up.data.as_slice()) else {
        return (None, Status::BadRequest);
    };
    let start = info.start.and_then(|p| p.r#type);
    seen.lock().expect("lock").seeks.push((
        up.channel_header.channel_id.clone(),
        up.channel_header.tls_cert_hash.clone(),
        start,
        stream,
    ));
    if up.channel_header.channel_id != CHANNEL {
        return (None, Status::NotFound);
    }
    let number = match start {
        Some(seek_position::Type::Oldest(_)) => 0,
        Some(seek_position::Type::Newest(_)) => NEWEST,
        Some(seek_position::Type::Specified(s)) if s.number <= NEWEST => s.number,
        _ => return (None, Status::NotFound),
    };
    (Some(block(number)), Status::Success)
}

impl Mock {
    /// Runs a Deliver stream: for each seek, the block and a status.
    fn serve<R: Send + 'static>(
        &self,
        mut requests: tonic::Streaming<Envelope>,
        client_hash: Option<[u8; 32]>,
        wrap_block: fn(Block) -> R,
        wrap_status: fn(Status) -> R,
    ) -> mpsc::Receiver<Result<R, tonic::Status>> {
        let seen = self.seen.clone();
        let stream = {
            let mut s = seen.lock().expect("lock");
            s.streams.push(client_hash);
            s.streams.len() - 1
        };
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(async move {
            while let Ok(Some(env)) = requests.message().await {
                let (block, status) = answer(&seen, stream, &env);
                if let Some(block) = block {
                    let _ = tx.send(Ok(wrap_block(block))).await;
                }
                let _ = tx.send(Ok(wrap_status(status))).await;
                if status != Status::Success {
                    break;
                }
            }
        });
        rx
    }
}

#[tonic::async_trait]
impl Deliver for Mock {
    type DeliverStream = PeerStream;
    type DeliverFilteredStream = PeerStream;
    type DeliverWithPrivateDataStream = PeerStream;

    async fn deliver(
        &self,
        request: tonic::Request<tonic::Streaming<Envelope>>,
    ) -> Result<tonic::Response<PeerStream>, tonic::Status> {
        use weft_proto::protos::DeliverResponse as R;
        use weft_proto::protos::deliver_response::Type;
        let hash = grpc::client_cert_hash(&request);
        let rx = self.serve(
            request.into_inner(),
            hash,
            |b| R {
                r#type: Some(Type::Block(b)),
            },
            |s| R {
                r#type: Some(Type::Status(s as i32)),
            },
        );
        Ok(tonic::Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn deliver_filtered(
        &self,
        _request: tonic::Request<tonic::Streaming<Envelope>>,
    ) -> Result<tonic::Response<PeerStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("mock"))
    }

    async fn deliver_with_private_data(
        &self,
        _request: tonic::Request<tonic::Streaming<Envelope>>,
    ) -> Result<tonic::Response<PeerStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("mock"))
    }
}

#[tonic::async_trait]
impl AtomicBroadcast for Mock {
    type BroadcastStream =
        Pin<Box<dyn Stream<Item = Result<BroadcastResponse, tonic::Status>> + Send>>;
    type DeliverStream = OrdererStream;

    async fn broadcast(
        &self,
        _request: tonic::Request<tonic::Streaming<Envelope>>,
    ) -> Result<tonic::Response<Self::BroadcastStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("mock"))
    }

    async fn deliver(
        &self,
        request: tonic::Request<tonic::Streaming<Envelope>>,
    ) -> Result<tonic::Response<OrdererStream>, tonic::Status> {
        use weft_proto::orderer::DeliverResponse as R;
        use weft_proto::orderer::deliver_response::Type;
        let hash = grpc::client_cert_hash(&request);
        let rx = self.serve(
            request.into_inner(),
            hash,
            |b| R {
                r#type: Some(Type::Block(b)),
            },
            |s| R {
                r#type: Some(Type::Status(s as i32)),
            },
        );
        Ok(tonic::Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// Crypto material, a mock peer (Endorser + Deliver, mutual TLS optional) and a mock
/// orderer (server TLS), each on its own loopback port.
struct Fixture {
    dir: tempfile::TempDir,
    peer: Mock,
    orderer: Mock,
    peer_port: u16,
    orderer_port: u16,
}

fn package_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

impl Fixture {
    async fn start(peer_mutual_tls: bool) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let tools = package_dir().join("../tools/testdata");
        let crypto = CryptoConfig::load(&tools.join("crypto-config.yaml")).expect("crypto");
        cryptogen::generate(&crypto, &dir.path().join("organizations")).expect("cryptogen");
        let mut fixture = Fixture {
            dir,
            peer: Mock::default(),
            orderer: Mock::default(),
            peer_port: 0,
            orderer_port: 0,
        };

        let peer_tls = fixture.peer_dir().join("tls");
        let client_roots = [peer_tls.join("ca.crt")];
        let config = tls::server_config(
            &peer_tls.join("server.crt"),
            &peer_tls.join("server.key"),
            peer_mutual_tls.then_some(&client_roots[..]),
        )
        .expect("peer tls");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        fixture.peer_port = listener.local_addr().expect("addr").port();
        let router = grpc::server(&grpc::ServerOptions::default())
            .add_service(EndorserServer::new(fixture.peer.clone()))
            .add_service(DeliverServer::new(fixture.peer.clone()));
        tokio::spawn(router.serve_with_incoming(grpc::incoming(listener, Some(config))));

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
            .add_service(AtomicBroadcastServer::new(fixture.orderer.clone()));
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

    fn admin(&self) -> PathBuf {
        self.org1().join("users/Admin@org1.example.com")
    }

    /// The configuration the test network's scripts give the CLI for Org1's admin.
    fn config(&self, extra: &[(&str, String)]) -> PeerConfig {
        let p = |path: PathBuf| path.display().to_string();
        let mut env = vec![
            ("CORE_PEER_ADDRESS", format!("127.0.0.1:{}", self.peer_port)),
            ("CORE_PEER_TLS_ENABLED", "true".into()),
            (
                "CORE_PEER_TLS_ROOTCERT_FILE",
                p(self.peer_dir().join("tls/ca.crt")),
            ),
            ("CORE_PEER_LOCALMSPID", "Org1MSP".into()),
            ("CORE_PEER_MSPCONFIGPATH", p(self.admin().join("msp"))),
        ];
        env.extend(extra.iter().cloned());
        PeerConfig::from_yaml_str("", None, env).expect("config")
    }

    fn orderer_args(&self) -> OrdererArgs {
        OrdererArgs {
            orderer: format!("localhost:{}", self.orderer_port),
            tls: true,
            cafile: Some(self.orderer_dir().join("tls/ca.crt")),
            orderer_tls_hostname_override: Some("orderer.example.com".into()),
            ..OrdererArgs::default()
        }
    }

    fn seen(&self, orderer: bool) -> std::sync::MutexGuard<'_, Seen> {
        let mock = if orderer { &self.orderer } else { &self.peer };
        mock.seen.lock().expect("lock")
    }
}

fn quiet() -> Logger {
    Logger::new("error")
}

fn read_block(path: &Path) -> Block {
    Block::decode(std::fs::read(path).expect("block file").as_slice()).expect("block")
}

#[tokio::test]
async fn join_list_getinfo_over_tls() {
    let f = Fixture::start(false).await;
    let config = f.config(&[]);
    let log = quiet();
    let genesis = f.dir.path().join("mychannel.block");
    std::fs::write(&genesis, block(0).encode_to_vec()).expect("genesis");

    channel::join(
        &config,
        &log,
        &JoinArgs {
            blockpath: Some(genesis.clone()),
            extra: Vec::new(),
        },
    )
    .await
    .expect("join");
    channel::list(&config, &log, &ListArgs::default())
        .await
        .expect("list");
    channel::getinfo(
        &config,
        &log,
        &GetinfoArgs {
            channel_id: Some(CHANNEL.into()),
            extra: Vec::new(),
        },
    )
    .await
    .expect("getinfo");

    let admin = MspDir::load(&f.admin().join("msp"), "Org1MSP")
        .expect("admin msp")
        .signing_identity
        .expect("admin identity");
    let proposals = std::mem::take(&mut f.seen(false).proposals);
    assert_eq!(proposals.len(), 3);
    for signed in &proposals {
        // Signed by the admin of CORE_PEER_MSPCONFIGPATH, well-formed for the endorser.
        admin
            .identity()
            .verify(&signed.proposal_bytes, &signed.signature)
            .expect("admin signature");
        let up = protoutil::unpack_proposal(signed).expect("unpacks");
        assert_eq!(up.channel_header.channel_id, "");
        assert_eq!(up.signature_header.creator, admin.creator());
    }
    let header_types: Vec<i32> = proposals
        .iter()
        .map(|s| {
            protoutil::unpack_proposal(s)
                .expect("unpacks")
                .channel_header
                .r#type
        })
        .collect();
    assert_eq!(
        header_types,
        vec![
            HeaderType::Config as i32,
            HeaderType::EndorserTransaction as i32,
            HeaderType::EndorserTransaction as i32
        ]
    );
    let join = protoutil::unpack_proposal(&proposals[0]).expect("unpacks");
    let payload = ChaincodeProposalPayload::decode(join.proposal.payload.as_slice()).expect("pp");
    let cis = ChaincodeInvocationSpec::decode(payload.input.as_slice()).expect("cis");
    let args = cis
        .chaincode_spec
        .and_then(|s| s.input)
        .expect("input")
        .args;
    assert_eq!(
        args,
        vec![
            b"JoinChain".to_vec(),
            std::fs::read(&genesis).expect("genesis")
        ]
    );

    // A refusal from the endorser is Fabric's "proposal failed".
    let missing = GetinfoArgs {
        channel_id: Some("nochannel".into()),
        extra: Vec::new(),
    };
    let err = channel::getinfo(&config, &log, &missing)
        .await
        .expect_err("refused");
    assert_eq!(
        err.to_string(),
        "received bad response, status 500: access denied"
    );
}

#[tokio::test]
async fn join_reports_a_missing_block_file_and_a_wrong_ca() {
    let f = Fixture::start(false).await;
    let log = quiet();
    let missing = f.dir.path().join("nope.block");
    let err = channel::join(
        &f.config(&[]),
        &log,
        &JoinArgs {
            blockpath: Some(missing.clone()),
            extra: Vec::new(),
        },
    )
    .await
    .expect_err("no block");
    assert_eq!(
        err.to_string(),
        format!(
            "genesis block file not found open {}: no such file or directory",
            missing.display()
        )
    );
    let err = channel::join(&f.config(&[]), &log, &JoinArgs::default())
        .await
        .expect_err("no -b");
    assert_eq!(err.to_string(), "Must supply genesis block path");

    // Trusting the orderer's CA instead of the peer's: the TLS handshake fails.
    let wrong_ca = f.orderer_dir().join("tls/ca.crt").display().to_string();
    let config = f.config(&[("CORE_PEER_TLS_ROOTCERT_FILE", wrong_ca)]);
    let err = channel::list(&config, &log, &ListArgs::default())
        .await
        .expect_err("wrong CA");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "error getting endorser client for channel: endorser client failed to connect to \
             127.0.0.1:{}",
            f.peer_port
        )),
        "{text}"
    );
}

#[tokio::test]
async fn fetch_config_from_the_peer_with_mutual_tls() {
    let f = Fixture::start(true).await;
    let p = |path: PathBuf| path.display().to_string();
    let tls_dir = f.admin().join("tls");
    let config = f.config(&[
        ("CORE_PEER_TLS_CLIENTAUTHREQUIRED", "true".into()),
        (
            "CORE_PEER_TLS_CLIENTCERT_FILE",
            p(tls_dir.join("client.crt")),
        ),
        (
            "CORE_PEER_TLS_CLIENTKEY_FILE",
            p(tls_dir.join("client.key")),
        ),
    ]);
    let out = f.dir.path().join("config_block.pb");
    let args = FetchArgs {
        args: vec!["config".into(), p(out.clone())],
        channel_id: Some(CHANNEL.into()),
        best_effort: false,
    };
    channel::fetch(&config, &quiet(), &OrdererArgs::default(), &args)
        .await
        .expect("fetch config");
    assert_eq!(read_block(&out), block(LAST_CONFIG));

    {
        let seen = f.seen(false);
        // One stream, two seeks (newest, then the last config block), both bound to the
        // client certificate the server saw.
        assert_eq!(seen.streams.len(), 1);
        let client_hash = seen.streams[0].expect("client certificate presented");
        let starts: Vec<_> = seen.seeks.iter().map(|s| s.2).collect();
        assert!(matches!(
            starts.as_slice(),
            [
                Some(seek_position::Type::Newest(_)),
                Some(seek_position::Type::Specified(s))
            ] if s.number == LAST_CONFIG
        ));
        for (channel_id, hash, _, stream) in &seen.seeks {
            assert_eq!(channel_id, CHANNEL);
            assert_eq!(hash.as_slice(), client_hash.as_slice());
            assert_eq!(*stream, 0);
        }
    }

    // Without a client certificate the peer refuses the handshake (under TLS 1.3 the
    // client learns it on its first request, as a Go client does).
    let err = channel::fetch(&f.config(&[]), &quiet(), &OrdererArgs::default(), &args)
        .await
        .expect_err("no client certificate");
    let text = err.to_string();
    assert!(
        text.starts_with("error getting newest block: rpc error: ")
            || text.starts_with("error getting deliver client for channel: "),
        "{text}"
    );
    assert_eq!(
        f.seen(false).seeks.len(),
        2,
        "nothing more reached the service"
    );
}

#[tokio::test]
async fn fetch_from_the_orderer() {
    let f = Fixture::start(false).await;
    let config = f.config(&[]);
    let out = f.dir.path().join("newest.block");
    let args = |target: &str, channel_id: &str| FetchArgs {
        args: vec![target.into(), out.display().to_string()],
        channel_id: Some(channel_id.into()),
        best_effort: false,
    };
    channel::fetch(
        &config,
        &quiet(),
        &f.orderer_args(),
        &args("newest", CHANNEL),
    )
    .await
    .expect("fetch newest");
    assert_eq!(read_block(&out), block(NEWEST));
    channel::fetch(
        &config,
        &quiet(),
        &f.orderer_args(),
        &args("oldest", CHANNEL),
    )
    .await
    .expect("fetch oldest");
    assert_eq!(read_block(&out), block(0));
    channel::fetch(&config, &quiet(), &f.orderer_args(), &args("3", CHANNEL))
        .await
        .expect("fetch 3");
    assert_eq!(read_block(&out), block(3));
    // Went to the orderer, not the peer; no client certificate, no binding.
    assert!(f.seen(false).seeks.is_empty());
    assert!(f.seen(true).seeks.iter().all(|s| s.1.is_empty()));

    let err = channel::fetch(
        &config,
        &quiet(),
        &f.orderer_args(),
        &args("newest", "nochannel"),
    )
    .await
    .expect_err("unknown channel");
    assert_eq!(err.to_string(), "can't read the block: &{NOT_FOUND}");
    let err = channel::fetch(&config, &quiet(), &f.orderer_args(), &args("99", CHANNEL))
        .await
        .expect_err("beyond the height");
    assert_eq!(err.to_string(), "can't read the block: &{NOT_FOUND}");

    // --tls without --cafile fails before dialing, with Fabric's message.
    let no_ca = OrdererArgs {
        cafile: None,
        ..f.orderer_args()
    };
    let err = channel::fetch(&config, &quiet(), &no_ca, &args("newest", CHANNEL))
        .await
        .expect_err("no CA");
    assert_eq!(
        err.to_string(),
        "failed to create deliver client for orderer: failed to load config for \
         OrdererClient: unable to load orderer.tls.rootcert.file: open : no such file or \
         directory"
    );
}
