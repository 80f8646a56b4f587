//! One real `orderer` process: join a channel with `osnadmin`, broadcast signed
//! envelopes, read them back in signed, hash-chained blocks with Deliver, restart the
//! process and find everything still there.

mod cluster_net;

use cluster_net::{
    ChannelSettings, Network, blocks_holding, broadcast, deliver, envelope, seek_envelope,
    specified, wait_until_ordering,
};
use prost::Message;
use weft_common::protoutil;
use weft_proto::common::Status;
use weft_proto::orderer::seek_info::SeekBehavior;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_then_deliver_on_one_node_survives_a_restart() {
    let mut net = Network::new(
        1,
        ChannelSettings {
            max_message_count: 3,
            ..Default::default()
        },
    );
    net.start(0);
    net.join(0);
    wait_until_ordering(&net, 0).await;
    let client_identity = net.client();
    let mut client = net.broadcast_client(0);

    // 7 envelopes after the probe, cut by count (3) or by the 200 ms timeout.
    let sent: Vec<_> = (0..7)
        .map(|i| envelope(&client_identity, format!("tx {i}").as_bytes()))
        .collect();
    let responses = broadcast(&mut client, sent.clone())
        .await
        .expect("broadcast");
    assert_eq!(responses.len(), 7);
    for r in &responses {
        assert_eq!(r.status, Status::Success as i32, "{r:?}");
    }

    let blocks = blocks_holding(&mut client, &client_identity, 8).await;
    assert_eq!(
        blocks[0], net.genesis,
        "block 0 is the genesis block as joined"
    );
    let mut delivered = Vec::new();
    for (i, block) in blocks.iter().enumerate().skip(1) {
        let header = block.header.as_ref().unwrap();
        assert_eq!(header.number, i as u64);
        protoutil::verify_block_structure(
            block,
            i as u64,
            &protoutil::block_header_hash(blocks[i - 1].header.as_ref().unwrap()),
        )
        .expect("hash chain");
        // Signed by the orderer: one signature, over the right bytes, by an OrdererMSP identity.
        let signatures = protoutil::block_signatures(block).expect("signatures");
        assert_eq!(signatures.len(), 1);
        let data = block.data.as_ref().unwrap();
        assert!(
            data.data.len() <= 3,
            "MaxMessageCount 3 respected: {}",
            data.data.len()
        );
        delivered.extend(data.data.iter().cloned());
    }
    let sent_bytes: Vec<Vec<u8>> = sent.iter().map(|e| e.encode_to_vec()).collect();
    assert_eq!(
        delivered[1..],
        sent_bytes[..],
        "every envelope exactly once, in order, after the probe"
    );
    assert!(
        blocks
            .iter()
            .skip(1)
            .any(|b| b.data.as_ref().unwrap().data.len() == 3),
        "a count cut happened"
    );
    let height = blocks.len() as u64;

    // Restart: the ledger and the chain come back, and ordering continues.
    net.kill(0);
    net.start(0);
    let mut client = net.broadcast_client(0);
    let mut responses = Vec::new();
    for _ in 0..50 {
        responses = broadcast(
            &mut client,
            vec![envelope(&client_identity, b"after restart")],
        )
        .await
        .unwrap_or_default();
        if responses
            .first()
            .is_some_and(|r| r.status == Status::Success as i32)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        responses.first().map(|r| r.status),
        Some(Status::Success as i32),
        "{responses:?}"
    );
    let seek = seek_envelope(
        &client_identity,
        specified(0),
        specified(height),
        SeekBehavior::BlockUntilReady,
    );
    let (blocks_after, status) = deliver(&mut client, seek)
        .await
        .expect("deliver after restart");
    assert_eq!(status, Some(Status::Success));
    assert_eq!(
        &blocks_after[..blocks.len()],
        &blocks[..],
        "blocks before the restart are unchanged"
    );
    assert_eq!(
        blocks_after[blocks.len()].data.as_ref().unwrap().data.len(),
        1
    );
}
