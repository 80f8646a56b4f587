//! Real `orderer` and `peer` processes: the peer joins the channel with `peer channel
//! join`, pulls and commits the orderer's blocks, survives an orderer restart in the
//! middle of the stream (reconnects and catches up), and resumes from its own height
//! after being killed.

#[path = "../../orderer/tests/cluster_net/mod.rs"]
mod cluster_net;
mod peer_net;

use std::time::{Duration, Instant};

use base64::Engine;
use cluster_net::{
    CHANNEL, ChannelSettings, Network, blocks_holding, broadcast, envelope, wait_until_ordering,
};
use peer_net::PeerNode;
use prost::Message;
use weft_common::protoutil;
use weft_proto::common::{Block, Status};

/// `peer channel getinfo`: (height, current block hash).
fn chain_info(peer: &PeerNode) -> (u64, Vec<u8>) {
    let out = peer.cli_ok(&["channel", "getinfo", "-c", CHANNEL]);
    let json = out
        .split("Blockchain info: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no chain info in {out:?}"));
    let info: serde_json::Value =
        serde_json::from_str(json.lines().next().unwrap_or_default()).expect("chain info JSON");
    let height = info["height"].as_u64().expect("height");
    let hash = base64::engine::general_purpose::STANDARD
        .decode(info["currentBlockHash"].as_str().unwrap_or_default())
        .expect("base64 hash");
    (height, hash)
}

/// Waits until the peer's height is `height`, returning its current block hash.
fn wait_for_height(peer: &PeerNode, height: u64) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (h, hash) = chain_info(peer);
        if h == height {
            return hash;
        }
        assert!(
            h < height,
            "peer height {h} went past the orderer's {height}"
        );
        assert!(
            Instant::now() < deadline,
            "peer stuck at height {h} of {height}:\n{}",
            peer.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

async fn broadcast_batch(net: &Network, label: &str, count: usize) {
    let signer = net.client();
    let mut client = net.broadcast_client(0);
    let batch: Vec<_> = (0..count)
        .map(|i| envelope(&signer, format!("{label} {i}").as_bytes()))
        .collect();
    let responses = broadcast(&mut client, batch).await.expect("broadcast");
    assert!(
        responses.iter().all(|r| r.status == Status::Success as i32),
        "{responses:?}"
    );
}

async fn orderer_chain(net: &Network, envelopes: usize) -> Vec<Block> {
    let mut client = net.broadcast_client(0);
    blocks_holding(&mut client, &net.client(), envelopes).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_joins_pulls_and_survives_orderer_and_peer_restarts() {
    let mut net = Network::new(
        1,
        ChannelSettings {
            max_message_count: 5,
            ..Default::default()
        },
    );
    net.start(0);
    net.join(0);
    wait_until_ordering(&net, 0).await;
    broadcast_batch(&net, "before join", 12).await;

    let mut peer = PeerNode::new(&net, 1);
    peer.start();
    let genesis = net.genesis_path.display().to_string();
    let out = peer.cli_ok(&["channel", "join", "-b", &genesis]);
    assert!(
        out.contains("Successfully submitted proposal to join channel"),
        "{out}"
    );
    let listed = peer.cli_ok(&["channel", "list"]);
    assert!(listed.contains(CHANNEL), "{listed}");
    // Joining twice is refused with the reason.
    let again = peer.cli(&["channel", "join", "-b", &genesis]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exists"),
        "{again:?}"
    );

    // The blocks ordered before the join arrive.
    let chain = orderer_chain(&net, 1 + 12).await;
    let hash = wait_for_height(&peer, chain.len() as u64);
    let last = chain.last().expect("blocks");
    assert_eq!(
        hash,
        protoutil::block_header_hash(last.header.as_ref().expect("header")).to_vec()
    );

    // The orderer restarts in the middle of the stream.
    broadcast_batch(&net, "before restart", 10).await;
    net.kill(0);
    net.start(0);
    wait_until_ordering(&net, 0).await;
    broadcast_batch(&net, "after restart", 10).await;
    let chain = orderer_chain(&net, 1 + 12 + 10 + 1 + 10).await;
    let hash = wait_for_height(&peer, chain.len() as u64);
    assert_eq!(
        hash,
        protoutil::block_header_hash(chain.last().unwrap().header.as_ref().unwrap()).to_vec(),
        "the peer's chain is the orderer's"
    );

    // Killed, the peer restarts from its own height and goes on.
    peer.kill();
    broadcast_batch(&net, "while the peer is down", 7).await;
    peer.start();
    let chain = orderer_chain(&net, 1 + 12 + 10 + 1 + 10 + 7).await;
    let hash = wait_for_height(&peer, chain.len() as u64);
    assert_eq!(
        hash,
        protoutil::block_header_hash(chain.last().unwrap().header.as_ref().unwrap()).to_vec()
    );
    let listed = peer.cli_ok(&["channel", "list"]);
    assert!(listed.contains(CHANNEL), "{listed}");

    // The peer's Deliver: `peer channel fetch` reads the committed blocks (with their
    // TRANSACTIONS_FILTER), and DeliverFiltered reports the same validation codes.
    let newest = net.dir.path().join("newest.block");
    peer.cli_ok(&[
        "channel",
        "fetch",
        "newest",
        &newest.display().to_string(),
        "-c",
        CHANNEL,
    ]);
    let fetched =
        Block::decode(std::fs::read(&newest).expect("fetched block").as_slice()).expect("block");
    assert_eq!(fetched.header, chain.last().unwrap().header);
    let filter = protoutil::transactions_filter(&fetched).to_vec();
    assert_eq!(
        filter.len(),
        fetched.data.as_ref().map_or(0, |d| d.data.len()),
        "a committed block carries one validation code per transaction"
    );
    // DeliverFiltered: the genesis block's config transaction, VALID. (The other blocks
    // carry test envelopes that are not transactions: Fabric, like Weft, cannot filter
    // them and ends such a stream with INTERNAL_SERVER_ERROR.)
    let filtered = filtered_blocks(&net, &peer, 0).await;
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0].number, 0);
    assert_eq!(filtered[0].channel_id, CHANNEL);
    let codes: Vec<i32> = filtered[0]
        .filtered_transactions
        .iter()
        .map(|t| t.tx_validation_code)
        .collect();
    assert_eq!(
        codes,
        vec![weft_proto::protos::TxValidationCode::Valid as i32]
    );
}

/// DeliverFiltered from the peer for block `number` only.
async fn filtered_blocks(
    net: &Network,
    peer: &PeerNode,
    number: u64,
) -> Vec<weft_proto::protos::FilteredBlock> {
    use tokio_stream::StreamExt;
    use weft_proto::protos::deliver_client::DeliverClient;
    use weft_proto::protos::deliver_response;

    let tls = weft_common::tls::client_config(&[peer.tls_ca()], None).expect("client tls");
    let channel = weft_common::grpc::channel(
        &format!("127.0.0.1:{}", peer.port),
        Some(weft_common::grpc::ClientTls {
            config: tls,
            server_name_override: None,
        }),
    )
    .expect("channel");
    let seek = cluster_net::seek_envelope(
        &net.client(),
        cluster_net::specified(number),
        cluster_net::specified(number),
        weft_proto::orderer::seek_info::SeekBehavior::BlockUntilReady,
    );
    let mut responses = DeliverClient::new(channel)
        .deliver_filtered(tokio_stream::iter(vec![seek]))
        .await
        .expect("deliver filtered")
        .into_inner();
    let mut blocks = Vec::new();
    while let Some(response) = responses.next().await {
        match response.expect("response").r#type {
            Some(deliver_response::Type::FilteredBlock(block)) => blocks.push(block),
            Some(deliver_response::Type::Status(status)) => {
                assert_eq!(status, Status::Success as i32);
                break;
            }
            other => panic!("unexpected response {other:?}"),
        }
    }
    blocks
}
