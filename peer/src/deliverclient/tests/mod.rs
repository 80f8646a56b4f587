//! The deliver client against in-process fake ordering services serving signed blocks.

// Test helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used)]

mod fake_orderer;
mod network;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use tokio::sync::watch;
use weft_common::msp::Identity;
use weft_common::protoutil;
use weft_proto::common::{Block, HeaderType};
use weft_proto::orderer::{SeekInfo, seek_info as seek};

use super::*;
use fake_orderer::{FakeOrderer, Mode, ServerTls, unreachable_address};
use network::{CHANNEL, TestNetwork};

/// Bounds every wait so a broken client fails the test instead of hanging it.
const WAIT: Duration = Duration::from_secs(10);

async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Polls `condition` until it holds.
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    within(what, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

fn plain(address: &str) -> OrdererEndpoint {
    OrdererEndpoint::new(address, Vec::new())
}

/// A running client, its buffer and the sender of its endpoint list.
struct Running {
    handle: DeliverHandle,
    buffer: BlockBuffer,
    endpoints: watch::Sender<Vec<OrdererEndpoint>>,
}

impl Running {
    /// Starts a client of `net`'s channel (verifying against the genesis config) from
    /// after block `after`, visiting `endpoints` in order.
    fn start(
        net: &TestNetwork,
        endpoints: Vec<OrdererEndpoint>,
        config: DeliverClientConfig,
        after: &Block,
        capacity: usize,
    ) -> Self {
        let (endpoints_tx, endpoints_rx) = watch::channel(endpoints);
        let verifier = Arc::new(ChannelConfigVerifier::new(CHANNEL, net.config.clone()));
        let mut client =
            DeliverClient::new(CHANNEL, config, net.peer.clone(), endpoints_rx, verifier).unwrap();
        client.shuffle_endpoints = false;
        let (tx, buffer) = block_buffer(capacity);
        let start = StartPosition::after(after.header.as_ref().unwrap());
        Self {
            handle: client.spawn(start, tx),
            buffer,
            endpoints: endpoints_tx,
        }
    }

    async fn recv(&mut self, n: usize) -> Vec<Block> {
        let mut blocks = Vec::with_capacity(n);
        for _ in 0..n {
            let block = within("a block", self.buffer.recv()).await;
            blocks.push(block.expect("the client stopped"));
        }
        blocks
    }

    /// Nothing more arrives for a moment.
    async fn assert_quiet(&mut self) {
        let extra = tokio::time::timeout(Duration::from_millis(300), self.buffer.recv()).await;
        assert!(extra.is_err(), "unexpected block: {extra:?}");
    }
}

fn numbers(blocks: &[Block]) -> Vec<u64> {
    blocks
        .iter()
        .map(|b| b.header.as_ref().unwrap().number)
        .collect()
}

#[tokio::test]
async fn delivers_blocks_in_order_from_the_ledger_height_then_waits_for_new_ones() {
    let net = TestNetwork::new();
    let chain = net.chain(6);
    let orderer = FakeOrderer::start(chain.clone(), Mode::Serve, net.config.clone(), None).await;
    let mut client = Running::start(
        &net,
        vec![plain(&orderer.address)],
        DeliverClientConfig::default(),
        &chain[1],
        DEFAULT_BUFFER_CAPACITY,
    );

    let blocks = client.recv(4).await;
    assert_eq!(blocks, chain[2..6]);
    client.assert_quiet().await;

    // BLOCK_UNTIL_READY: a block cut later arrives on the same stream.
    let next = net.block_after(&chain[5], net.orderer.as_ref(), 0);
    orderer.state.blocks.push(next.clone());
    assert_eq!(client.recv(1).await, [next]);

    assert_eq!(orderer.state.seeks(), [2]);
    let counters = client.handle.counters();
    assert_eq!(
        counters,
        DeliverCounters {
            blocks_received: 5,
            next_block: 7,
            ..Default::default()
        }
    );
    assert_eq!(client.handle.shutdown().await, DeliverExit::Stopped);
}

#[tokio::test]
async fn waits_at_the_head_of_an_orderer_that_sends_headers_with_the_first_block() {
    let net = TestNetwork::new();
    let chain = net.chain(3);
    let orderer = FakeOrderer::start(chain.clone(), Mode::Serve, net.config.clone(), None).await;
    orderer.state.send_headers_with_first_response();
    let config = DeliverClientConfig {
        conn_timeout: Duration::from_millis(100),
        ..DeliverClientConfig::default()
    };
    // Caught up: the orderer has nothing to send, so no headers either, for longer than
    // the connection timeout.
    let mut client = Running::start(
        &net,
        vec![plain(&orderer.address)],
        config,
        &chain[2],
        DEFAULT_BUFFER_CAPACITY,
    );
    client.assert_quiet().await;
    assert_eq!(
        client.handle.counters(),
        DeliverCounters {
            next_block: 3,
            ..Default::default()
        }
    );

    let next = net.block_after(&chain[2], net.orderer.as_ref(), 0);
    orderer.state.blocks.push(next.clone());
    assert_eq!(client.recv(1).await, [next]);
    assert_eq!(orderer.state.seeks(), [3]);
    assert_eq!(client.handle.counters().reconnects, 0);
    assert_eq!(client.handle.shutdown().await, DeliverExit::Stopped);
}

#[tokio::test]
async fn reconnects_after_a_dropped_stream_without_gaps_or_duplicates() {
    let net = TestNetwork::new();
    let chain = net.chain(9);
    let orderer = FakeOrderer::start(chain.clone(), Mode::Serve, net.config.clone(), None).await;
    orderer.state.drop_streams_after(&[3, 2]);
    let mut client = Running::start(
        &net,
        vec![plain(&orderer.address)],
        DeliverClientConfig::default(),
        &chain[0],
        DEFAULT_BUFFER_CAPACITY,
    );

    let blocks = client.recv(8).await;
    assert_eq!(numbers(&blocks), (1..=8).collect::<Vec<_>>());
    assert_eq!(blocks, chain[1..]);
    client.assert_quiet().await;
    assert_eq!(orderer.state.seeks(), [1, 4, 6]);
    let counters = client.handle.counters();
    assert_eq!(counters.reconnects, 2);
    assert_eq!(counters.stream_failures, 2);
    assert_eq!(counters.blocks_received, 8);
    assert_eq!(client.handle.shutdown().await, DeliverExit::Stopped);
}

#[tokio::test]
async fn fails_over_past_unreachable_and_refusing_orderers() {
    let net = TestNetwork::new();
    let chain = net.chain(4);
    let config = net.config.clone();
    let not_found = FakeOrderer::start(chain.clone(), Mode::NoChannel, config.clone(), None).await;
    let forbidden = FakeOrderer::start(chain.clone(), Mode::Forbid, config.clone(), None).await;
    let good = FakeOrderer::start(chain.clone(), Mode::Serve, config, None).await;
    let mut client = Running::start(
        &net,
        vec![
            plain(&unreachable_address()),
            plain(&not_found.address),
            plain(&forbidden.address),
            plain(&good.address),
        ],
        DeliverClientConfig::default(),
        &chain[0],
        DEFAULT_BUFFER_CAPACITY,
    );

    let blocks = client.recv(3).await;
    assert_eq!(blocks, chain[1..]);
    assert_eq!(not_found.state.seeks(), [1]);
    assert_eq!(forbidden.state.seeks(), [1]);
    assert_eq!(good.state.seeks(), [1]);
    let counters = client.handle.counters();
    assert_eq!(counters.connection_failures, 1);
    assert_eq!(counters.stream_failures, 2);
    assert_eq!(counters.reconnects, 3);
    assert_eq!(client.handle.shutdown().await, DeliverExit::Stopped);
}

/// How the first orderer spoils block 3.
#[derive(Debug, Clone, Copy)]
enum Tamper {
    /// Signed by the peer, which is no orderer.
    BadSignature,
    /// Properly signed, but its previous hash is not block 2's hash.
    BrokenHashChain,
    /// Block 4 where block 3 belongs.
    WrongNumber,
}

async fn refused_block_is_never_buffered(tamper: Tamper) {
    let net = TestNetwork::new();
    let chain = net.chain(6);
    let mut spoiled = chain.clone();
    match tamper {
        Tamper::BadSignature => {
            protoutil::sign_block(&mut spoiled[3], net.peer.as_ref(), 0, &[]).unwrap();
        }
        Tamper::BrokenHashChain => {
            let mut forged = protoutil::build_block(
                3,
                vec![0xAB; 32],
                chain[3].data.as_ref().unwrap().data.clone(),
            );
            protoutil::sign_block(&mut forged, net.orderer.as_ref(), 0, &[]).unwrap();
            spoiled[3] = forged;
        }
        Tamper::WrongNumber => {
            spoiled.remove(3);
        }
    }
    let bad = FakeOrderer::start(spoiled, Mode::Serve, net.config.clone(), None).await;
    let good = FakeOrderer::start(chain.clone(), Mode::Serve, net.config.clone(), None).await;
    let mut client = Running::start(
        &net,
        vec![plain(&bad.address), plain(&good.address)],
        DeliverClientConfig::default(),
        &chain[0],
        DEFAULT_BUFFER_CAPACITY,
    );

    let blocks = client.recv(5).await;
    assert_eq!(blocks, chain[1..], "{tamper:?}");
    client.assert_quiet().await;
    assert_eq!(bad.state.seeks(), [1], "{tamper:?}");
    assert_eq!(good.state.seeks(), [3], "{tamper:?}");
    let counters = client.handle.counters();
    let refused_by_verifier = !matches!(tamper, Tamper::WrongNumber);
    assert_eq!(
        counters.verification_failures,
        u64::from(refused_by_verifier),
        "{tamper:?}"
    );
    assert_eq!(
        counters.stream_failures,
        u64::from(!refused_by_verifier),
        "{tamper:?}"
    );
    assert_eq!(client.handle.shutdown().await, DeliverExit::Stopped);
}

#[tokio::test]
async fn a_block_with_a_bad_signature_is_never_buffered() {
    refused_block_is_never_buffered(Tamper::BadSignature).await;
}

#[tokio::test]
async fn a_block_breaking_the_hash_chain_is_never_buffered() {
    refused_block_is_never_buffered(Tamper::BrokenHashChain).await;
}

#[tokio::test]
async fn a_block_out_of_order_is_never_buffered() {
    refused_block_is_never_buffered(Tamper::WrongNumber).await;
}

#[tokio::test]
async fn follows_a_config_block_that_replaces_the_orderers() {
    let net = TestNetwork::new();
    let mut chain = net.chain(2);
    let rotated = net.profile_config("Rotated", 1);
    chain.push(net.config_block_after(&chain[1], rotated, net.orderer.as_ref()));
    for _ in 0..2 {
        let next = net.block_after(chain.last().unwrap(), net.orderer2.as_ref(), 2);
        chain.push(next);
    }
    let orderer = FakeOrderer::start(chain.clone(), Mode::Serve, net.config.clone(), None).await;
    // The committer never commits here: the verifier's source stays at the genesis config.
    let mut client = Running::start(
        &net,
        vec![plain(&orderer.address)],
        DeliverClientConfig::default(),
        &chain[0],
        DEFAULT_BUFFER_CAPACITY,
    );
    assert_eq!(client.recv(4).await, chain[1..]);
    assert_eq!(client.handle.counters().verification_failures, 0);
    assert_eq!(client.handle.shutdown().await, DeliverExit::Stopped);
}

#[test]
fn verifier_checks_chain_channel_and_orderer_signatures() {
    let net = TestNetwork::new();
    let chain = net.chain(3);
    let verifier = ChannelConfigVerifier::new(CHANNEL, net.config.clone());
    let hash = |b: &Block| protoutil::block_header_hash(b.header.as_ref().unwrap()).to_vec();

    verifier
        .verify_block(&chain[1], 1, &hash(&chain[0]))
        .unwrap();
    verifier
        .verify_block(&chain[2], 2, &hash(&chain[1]))
        .unwrap();

    // Wrong position: number and previous hash.
    assert!(matches!(
        verifier.verify_block(&chain[2], 3, &hash(&chain[1])),
        Err(VerifyError::Structure(
            ProtoError::BlockNumberMismatch { .. }
        ))
    ));
    assert!(matches!(
        verifier.verify_block(&chain[2], 2, &hash(&chain[0])),
        Err(VerifyError::Structure(ProtoError::PreviousHashMismatch {
            number: 2
        }))
    ));
    // Not signed by an orderer, or not signed at all.
    let mut by_peer = chain[1].clone();
    protoutil::sign_block(&mut by_peer, net.peer.as_ref(), 0, &[]).unwrap();
    assert!(matches!(
        verifier.verify_block(&by_peer, 1, &hash(&chain[0])),
        Err(VerifyError::Signatures { number: 1, .. })
    ));
    let mut by_other_orderer = chain[1].clone();
    protoutil::sign_block(&mut by_other_orderer, net.orderer2.as_ref(), 0, &[]).unwrap();
    assert!(matches!(
        verifier.verify_block(&by_other_orderer, 1, &hash(&chain[0])),
        Err(VerifyError::Signatures { .. })
    ));
    // Tampered data.
    let mut tampered = chain[1].clone();
    tampered.data.as_mut().unwrap().data[0].push(0);
    assert!(matches!(
        verifier.verify_block(&tampered, 1, &hash(&chain[0])),
        Err(VerifyError::Structure(ProtoError::DataHashMismatch {
            number: 1
        }))
    ));
    // Another channel's verifier.
    let other = ChannelConfigVerifier::new("otherchannel", net.config.clone());
    assert!(matches!(
        other.verify_block(&chain[1], 1, &hash(&chain[0])),
        Err(VerifyError::WrongChannel { .. })
    ));
}

#[test]
fn verifier_adopts_a_verified_config_block_until_the_committed_config_catches_up() {
    let net = TestNetwork::new();
    let chain = net.chain(2);
    let config_block = net.config_block_after(
        &chain[1],
        net.profile_config("Rotated", 1),
        net.orderer.as_ref(),
    );
    let hash = |b: &Block| protoutil::block_header_hash(b.header.as_ref().unwrap()).to_vec();
    let by_new = net.block_after(&config_block, net.orderer2.as_ref(), 2);
    let by_old = net.block_after(&config_block, net.orderer.as_ref(), 2);

    let (committed_tx, committed_rx) = watch::channel(net.config.clone());
    let verifier = ChannelConfigVerifier::new(CHANNEL, committed_rx);
    // Without the config block, the new orderer is unknown.
    assert!(
        verifier
            .verify_block(&by_new, 3, &hash(&config_block))
            .is_err()
    );
    // The config block is signed by the old orderers; after it, only the new ones count.
    verifier
        .verify_block(&config_block, 2, &hash(&chain[1]))
        .unwrap();
    verifier
        .verify_block(&by_new, 3, &hash(&config_block))
        .unwrap();
    assert!(matches!(
        verifier.verify_block(&by_old, 3, &hash(&config_block)),
        Err(VerifyError::Signatures { number: 3, .. })
    ));
    // Block 1 (before the config block) is still checked against the old config.
    verifier
        .verify_block(&chain[1], 1, &hash(&chain[0]))
        .unwrap();

    // Once committed, the source's config is used.
    let committed =
        Arc::new(weft_common::channelconfig::ChannelConfig::from_block(&config_block).unwrap());
    committed_tx.send_replace(committed);
    verifier
        .verify_block(&by_new, 3, &hash(&config_block))
        .unwrap();
    assert!(
        verifier
            .verify_block(&by_old, 3, &hash(&config_block))
            .is_err()
    );
}

#[tokio::test]
async fn mutual_tls_with_endpoints_and_roots_from_the_channel_config() {
    let net = TestNetwork::new();
    let chain = net.chain(4);
    let tls = ServerTls {
        server: net.orderer_tls(),
        client_ca: Some(net.org1_tls_ca()),
    };
    let orderer =
        FakeOrderer::start(chain.clone(), Mode::Serve, net.config.clone(), Some(tls)).await;
    // The config names orderer.example.com:7050; the override points it at the fake and
    // keeps the TLS roots of the orderer org's MSP.
    let overrides = HashMap::from([(
        "orderer.example.com:7050".to_owned(),
        AddressOverride {
            address: orderer.address.clone(),
            root_certs: None,
        },
    )]);
    let endpoints = orderer_endpoints(&net.config, &overrides);
    assert_eq!(endpoints.len(), 1);
    assert_eq!(endpoints[0].address, orderer.address);
    assert_eq!(endpoints[0].root_certs.len(), 1);

    let peer_tls = net.peer_tls();
    let config = DeliverClientConfig {
        tls: Some(ClientTlsConfig {
            client_certificate: Some((peer_tls.cert, peer_tls.key)),
        }),
        ..DeliverClientConfig::default()
    };
    let mut client = Running::start(&net, endpoints.clone(), config, &chain[0], 4);
    assert_eq!(client.recv(3).await, chain[1..]);
    assert_eq!(client.handle.counters().connection_failures, 0);
    assert_eq!(client.handle.shutdown().await, DeliverExit::Stopped);

    // Without a client certificate the orderer refuses the connection.
    let config = DeliverClientConfig {
        tls: Some(ClientTlsConfig::default()),
        ..DeliverClientConfig::default()
    };
    let mut anonymous = Running::start(&net, endpoints, config, &chain[0], 4);
    anonymous.assert_quiet().await;
    let counters = anonymous.handle.counters();
    assert!(
        counters.connection_failures + counters.stream_failures >= 1,
        "{counters:?}"
    );
    assert_eq!(anonymous.handle.shutdown().await, DeliverExit::Stopped);
}

#[test]
fn endpoints_come_from_org_endpoints_or_else_global_addresses() {
    let net = TestNetwork::new();
    let config_of = |profile: &str| {
        weft_common::channelconfig::ChannelConfig::from_block(&net.profile_genesis(profile))
            .unwrap()
    };
    let tls_root = |config: &weft_common::channelconfig::ChannelConfig, msp: &str| {
        config
            .msp_manager()
            .get(msp)
            .unwrap()
            .tls_root_certs()
            .to_vec()
    };

    // Org endpoints, with their org's TLS roots.
    let genesis = config_of("Genesis");
    let org_roots = tls_root(&genesis, "OrdererMSP");
    assert_eq!(org_roots.len(), 1);
    assert_eq!(
        orderer_endpoints(&genesis, &HashMap::new()),
        [OrdererEndpoint::new("orderer.example.com:7050", org_roots)]
    );

    // No org endpoints: the global addresses, trusting every orderer org's roots (orgs
    // in group name order: OrdererOrg2Global, OrdererOrgGlobal).
    let global = config_of("Global");
    let all_roots: Vec<Vec<u8>> = [
        tls_root(&global, "OrdererMSP2"),
        tls_root(&global, "OrdererMSP"),
    ]
    .concat();
    assert_eq!(all_roots.len(), 2);
    let overrides = HashMap::from([(
        "b.example.org:7050".to_owned(),
        AddressOverride {
            address: "127.0.0.1:7050".to_owned(),
            root_certs: Some(vec![b"override CA".to_vec()]),
        },
    )]);
    assert_eq!(
        orderer_endpoints(&global, &overrides),
        [
            OrdererEndpoint::new("a.example.com:7050", all_roots),
            OrdererEndpoint::new("127.0.0.1:7050", vec![b"override CA".to_vec()]),
        ]
    );
}

#[tokio::test]
async fn reconnects_over_a_new_endpoint_list() {
    let net = TestNetwork::new();
    let chain = net.chain(4);
    let first = FakeOrderer::start(chain.clone(), Mode::Serve, net.config.clone(), None).await;
    let second = FakeOrderer::start(chain.clone(), Mode::Serve, net.config.clone(), None).await;
    let mut client = Running::start(
        &net,
        vec![plain(&first.address)],
        DeliverClientConfig::default(),
        &chain[0],
        DEFAULT_BUFFER_CAPACITY,
    );
    assert_eq!(client.recv(3).await, chain[1..]);

    // The same list again changes nothing.
    client.endpoints.send_replace(vec![plain(&first.address)]);
    client.assert_quiet().await;
    assert_eq!(first.state.seeks(), [1]);

    client.endpoints.send_replace(vec![plain(&second.address)]);
    eventually("the seek to the new orderer", || {
        second.state.seeks() == [4]
    })
    .await;
    let next = net.block_after(&chain[3], net.orderer.as_ref(), 0);
    second.state.blocks.push(next.clone());
    assert_eq!(client.recv(1).await, [next]);
    let counters = client.handle.counters();
    assert_eq!(counters.stream_failures + counters.connection_failures, 0);
    assert_eq!(counters.reconnects, 1);
    assert_eq!(client.handle.shutdown().await, DeliverExit::Stopped);
}

#[tokio::test]
async fn gives_up_after_the_total_retry_time_unless_static_leader() {
    let net = TestNetwork::new();
    let config = DeliverClientConfig {
        static_leader: false,
        reconnect_total_time_threshold: Duration::from_millis(250),
        ..DeliverClientConfig::default()
    };
    let client = Running::start(
        &net,
        vec![plain(&unreachable_address())],
        config,
        &net.genesis,
        DEFAULT_BUFFER_CAPACITY,
    );
    // Sleeps of 100, 120, then 144 ms: 364 ms > 250 ms.
    let exit = within("giving up", client.handle.join()).await;
    assert_eq!(
        exit,
        DeliverExit::GaveUp {
            retried_for: Duration::from_millis(364)
        }
    );

    let config = DeliverClientConfig {
        static_leader: true,
        reconnect_total_time_threshold: Duration::from_millis(50),
        ..DeliverClientConfig::default()
    };
    let client = Running::start(
        &net,
        vec![plain(&unreachable_address())],
        config,
        &net.genesis,
        DEFAULT_BUFFER_CAPACITY,
    );
    eventually("four failures", || {
        client.handle.counters().connection_failures >= 4
    })
    .await;
    assert!(!client.handle.is_finished());
    assert_eq!(
        within("stopping", client.handle.shutdown()).await,
        DeliverExit::Stopped
    );
}

#[tokio::test]
async fn shutdown_stops_the_task_wherever_it_waits() {
    let net = TestNetwork::new();
    let chain = net.chain(5);
    let orderer = FakeOrderer::start(chain.clone(), Mode::Serve, net.config.clone(), None).await;

    // Waiting for the next block at the orderer's head.
    let mut client = Running::start(
        &net,
        vec![plain(&orderer.address)],
        DeliverClientConfig::default(),
        &chain[0],
        DEFAULT_BUFFER_CAPACITY,
    );
    client.recv(4).await;
    assert_eq!(
        within("stopping", client.handle.shutdown()).await,
        DeliverExit::Stopped
    );
    // The buffer ends once the client is gone.
    assert_eq!(within("end of buffer", client.buffer.recv()).await, None);

    // Waiting for room in a full buffer.
    let client = Running::start(
        &net,
        vec![plain(&orderer.address)],
        DeliverClientConfig::default(),
        &chain[0],
        1,
    );
    eventually("a full buffer", || client.buffer.len() == 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(client.handle.counters().blocks_received, 1);
    assert!(!client.handle.is_finished());
    assert_eq!(
        within("stopping", client.handle.shutdown()).await,
        DeliverExit::Stopped
    );

    // Sleeping before a reconnection.
    let client = Running::start(
        &net,
        vec![plain(&unreachable_address())],
        DeliverClientConfig::default(),
        &chain[0],
        1,
    );
    eventually("a failure", || {
        client.handle.counters().connection_failures >= 1
    })
    .await;
    assert_eq!(
        within("stopping", client.handle.shutdown()).await,
        DeliverExit::Stopped
    );

    // The committer going away ends the client too.
    let client = Running::start(
        &net,
        vec![plain(&orderer.address)],
        DeliverClientConfig::default(),
        &chain[0],
        1,
    );
    drop(client.buffer);
    assert_eq!(
        within("the client noticing", client.handle.join()).await,
        DeliverExit::BufferClosed
    );
}

#[test]
fn seek_request_is_fabrics_and_signed_by_the_peer() {
    let net = TestNetwork::new();
    let hash = [7u8; 32];
    let envelope = seek_envelope(CHANNEL, net.peer.as_ref(), 42, Some(&hash)).unwrap();
    let unpacked = protoutil::unpack_envelope(&envelope).unwrap();
    let header = &unpacked.channel_header;
    assert_eq!(header.r#type, HeaderType::DeliverSeekInfo as i32);
    assert_eq!(header.channel_id, CHANNEL);
    assert_eq!(header.version, 0);
    assert_eq!(header.epoch, 0);
    assert!(header.tx_id.is_empty());
    assert_eq!(header.tls_cert_hash, hash);
    assert_eq!(header.timestamp.as_ref().unwrap().nanos, 0);
    assert_eq!(unpacked.signature_header.nonce.len(), protoutil::NONCE_LEN);

    let info = SeekInfo::decode(unpacked.data.as_slice()).unwrap();
    assert_eq!(info, seek_info(42));
    assert_eq!(info.behavior, seek::SeekBehavior::BlockUntilReady as i32);

    let creator = Identity::from_serialized(&unpacked.signature_header.creator).unwrap();
    assert_eq!(creator.mspid(), "Org1MSP");
    creator
        .verify(&envelope.payload, &envelope.signature)
        .unwrap();

    let without = seek_envelope(CHANNEL, net.peer.as_ref(), 0, None).unwrap();
    let unpacked = protoutil::unpack_envelope(&without).unwrap();
    assert!(unpacked.channel_header.tls_cert_hash.is_empty());
}

#[test]
fn client_refuses_an_unreadable_client_certificate() {
    let net = TestNetwork::new();
    let (_tx, rx) = watch::channel(Vec::new());
    let config = DeliverClientConfig {
        tls: Some(ClientTlsConfig {
            client_certificate: Some((b"not a certificate".to_vec(), b"no key".to_vec())),
        }),
        ..DeliverClientConfig::default()
    };
    let verifier = Arc::new(ChannelConfigVerifier::new(CHANNEL, net.config.clone()));
    assert!(matches!(
        DeliverClient::new(CHANNEL, config, net.peer.clone(), rx, verifier),
        Err(DeliverClientError::ClientCertificate(_))
    ));
}
