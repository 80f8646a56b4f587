//! Deliver's `SeekInfo` semantics against one real `orderer` process: which blocks each
//! start/stop/behaviour combination yields, the final statuses, waiting for blocks not
//! yet cut, access control, and a client that goes away mid-wait.

mod cluster_net;

use std::time::Duration;

use cluster_net::{
    ChannelSettings, Network, blocks_holding, broadcast, deliver, envelope, seek_envelope,
    specified, wait_until_ordering,
};
use prost::Message;
use tokio_stream::StreamExt;
use weft_common::protoutil;
use weft_proto::common::{Block, Envelope, HeaderType, Status};
use weft_proto::orderer::atomic_broadcast_client::AtomicBroadcastClient;
use weft_proto::orderer::seek_info::SeekBehavior;
use weft_proto::orderer::seek_position::Type::{Newest, Oldest};
use weft_proto::orderer::{SeekInfo, SeekNewest, SeekOldest, SeekPosition, deliver_response};

type Client = AtomicBroadcastClient<tonic::transport::Channel>;

fn oldest() -> SeekPosition {
    SeekPosition {
        r#type: Some(Oldest(SeekOldest {})),
    }
}

fn newest() -> SeekPosition {
    SeekPosition {
        r#type: Some(Newest(SeekNewest {})),
    }
}

fn numbers(blocks: &[Block]) -> Vec<u64> {
    blocks
        .iter()
        .map(|b| b.header.as_ref().expect("header").number)
        .collect()
}

/// One seek on a fresh stream: the block numbers and the final status (within 30 s).
async fn seek(client: &mut Client, env: Envelope) -> (Vec<Block>, Option<Status>) {
    tokio::time::timeout(Duration::from_secs(30), deliver(client, env))
        .await
        .expect("deliver answered within 30 s")
        .expect("deliver rpc")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seek_info_cases_on_a_real_node() {
    // One envelope per block, so block numbers are known: the probe is block 1, the five
    // envelopes blocks 2..=6.
    let mut net = Network::new(
        1,
        ChannelSettings {
            max_message_count: 1,
            ..Default::default()
        },
    );
    net.start(0);
    net.join(0);
    wait_until_ordering(&net, 0).await;
    let signer = net.client();
    let mut client = net.broadcast_client(0);
    let sent: Vec<_> = (0..5)
        .map(|i| envelope(&signer, format!("tx {i}").as_bytes()))
        .collect();
    let responses = broadcast(&mut client, sent).await.expect("broadcast");
    assert_eq!(responses.len(), 5);
    for r in &responses {
        assert_eq!(r.status, Status::Success as i32, "{r:?}");
    }
    let blocks = blocks_holding(&mut client, &signer, 6).await;
    assert_eq!(numbers(&blocks), vec![0, 1, 2, 3, 4, 5, 6]);
    let height = blocks.len() as u64;
    assert_eq!(height, 7);
    let unless = SeekBehavior::BlockUntilReady;
    let fail = SeekBehavior::FailIfNotReady;

    // Oldest → Oldest: the genesis block only.
    let (got, status) = seek(
        &mut client,
        seek_envelope(&signer, oldest(), oldest(), unless),
    )
    .await;
    assert_eq!(numbers(&got), vec![0]);
    assert_eq!(got[0], net.genesis);
    assert_eq!(status, Some(Status::Success));

    // Newest → Newest: the last block only.
    let (got, status) = seek(
        &mut client,
        seek_envelope(&signer, newest(), newest(), unless),
    )
    .await;
    assert_eq!(numbers(&got), vec![height - 1]);
    assert_eq!(got[0], blocks[(height - 1) as usize]);
    assert_eq!(status, Some(Status::Success));

    // Specified(1) → Specified(2): blocks 1 and 2, then SUCCESS.
    let (got, status) = seek(
        &mut client,
        seek_envelope(&signer, specified(1), specified(2), unless),
    )
    .await;
    assert_eq!(numbers(&got), vec![1, 2]);
    assert_eq!(&got[..], &blocks[1..=2]);
    assert_eq!(status, Some(Status::Success));

    // Oldest → Newest: everything, then SUCCESS.
    let (got, status) = seek(
        &mut client,
        seek_envelope(&signer, oldest(), newest(), fail),
    )
    .await;
    assert_eq!(numbers(&got), vec![0, 1, 2, 3, 4, 5, 6]);
    assert_eq!(status, Some(Status::Success));

    // start > stop: BAD_REQUEST, no blocks.
    let (got, status) = seek(
        &mut client,
        seek_envelope(&signer, specified(3), specified(2), unless),
    )
    .await;
    assert!(got.is_empty(), "{:?}", numbers(&got));
    assert_eq!(status, Some(Status::BadRequest));

    // FAIL_IF_NOT_READY beyond the height: NOT_FOUND, no blocks.
    let (got, status) = seek(
        &mut client,
        seek_envelope(&signer, specified(height + 3), specified(height + 3), fail),
    )
    .await;
    assert!(got.is_empty(), "{:?}", numbers(&got));
    assert_eq!(status, Some(Status::NotFound));

    // FAIL_IF_NOT_READY at the height (the next block, not yet cut): NOT_FOUND too.
    let (got, status) = seek(
        &mut client,
        seek_envelope(&signer, specified(height), specified(height), fail),
    )
    .await;
    assert!(got.is_empty(), "{:?}", numbers(&got));
    assert_eq!(status, Some(Status::NotFound));

    // FAIL_IF_NOT_READY across the height: the existing blocks, then NOT_FOUND.
    let (got, status) = seek(
        &mut client,
        seek_envelope(&signer, specified(5), specified(height + 1), fail),
    )
    .await;
    assert_eq!(numbers(&got), vec![5, 6]);
    assert_eq!(status, Some(Status::NotFound));

    // BLOCK_UNTIL_READY at the height: waits for the block a later broadcast creates.
    let waiter = {
        let mut client = client.clone();
        let env = seek_envelope(&signer, specified(height), specified(height), unless);
        tokio::spawn(async move {
            tokio::time::timeout(Duration::from_secs(30), deliver(&mut client, env)).await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiter.is_finished(),
        "the deliver waits for block {height}"
    );
    let late = envelope(&signer, b"after the request");
    let responses = broadcast(&mut client, vec![late.clone()])
        .await
        .expect("broadcast");
    assert_eq!(responses[0].status, Status::Success as i32, "{responses:?}");
    let (got, status) = waiter
        .await
        .expect("join")
        .expect("the waiting deliver got its block within 30 s")
        .expect("deliver rpc");
    assert_eq!(numbers(&got), vec![height]);
    assert_eq!(
        got[0].data.as_ref().expect("data").data,
        vec![late.encode_to_vec()],
        "the new block holds the envelope broadcast after the request"
    );
    assert_eq!(status, Some(Status::Success));
    let height = height + 1;

    // Unknown channel: NOT_FOUND.
    let seek_info = SeekInfo {
        start: Some(oldest()),
        stop: Some(oldest()),
        behavior: unless as i32,
        error_response: 0,
    };
    let unknown = protoutil::create_signed_envelope(
        HeaderType::DeliverSeekInfo,
        "nosuchchannel",
        signer.as_ref(),
        &seek_info.encode_to_vec(),
        0,
    )
    .expect("seek envelope");
    let (got, status) = seek(&mut client, unknown).await;
    assert!(got.is_empty());
    assert_eq!(status, Some(Status::NotFound));

    // A requester from an MSP the channel does not know: FORBIDDEN.
    let other = Network::new(1, ChannelSettings::default());
    let stranger = other.client();
    let (got, status) = seek(
        &mut client,
        seek_envelope(&stranger, oldest(), oldest(), unless),
    )
    .await;
    assert!(got.is_empty());
    assert_eq!(status, Some(Status::Forbidden));

    // A tampered signature by a known Reader: FORBIDDEN too.
    let mut tampered = seek_envelope(&signer, oldest(), oldest(), unless);
    let last = tampered.signature.len() - 1;
    tampered.signature[last] ^= 0x01;
    let (got, status) = seek(&mut client, tampered).await;
    assert!(got.is_empty());
    assert_eq!(status, Some(Status::Forbidden));

    // A client that goes away while its deliver waits for a block: the node keeps serving.
    {
        let env = seek_envelope(&signer, specified(height), specified(u64::MAX), unless);
        let mut waiting = client
            .deliver(tokio_stream::iter(vec![env]))
            .await
            .expect("deliver rpc")
            .into_inner();
        let early = tokio::time::timeout(Duration::from_millis(300), waiting.next()).await;
        assert!(early.is_err(), "nothing to send yet: {early:?}");
        drop(waiting);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (got, status) = seek(
        &mut client,
        seek_envelope(&signer, oldest(), oldest(), unless),
    )
    .await;
    assert_eq!(numbers(&got), vec![0]);
    assert_eq!(status, Some(Status::Success));
    let responses = broadcast(&mut client, vec![envelope(&signer, b"after cancel")])
        .await
        .expect("broadcast");
    assert_eq!(responses[0].status, Status::Success as i32, "{responses:?}");
    let (got, status) = seek(
        &mut client,
        seek_envelope(&signer, specified(height), specified(height), unless),
    )
    .await;
    assert_eq!(numbers(&got), vec![height]);
    assert_eq!(status, Some(Status::Success));
    assert!(net.is_running(0), "the node is still up");

    // One stream, two seeks: after SUCCESS the stream serves the next request.
    let mut responses = client
        .deliver(tokio_stream::iter(vec![
            seek_envelope(&signer, specified(1), specified(1), unless),
            seek_envelope(&signer, specified(2), specified(3), unless),
        ]))
        .await
        .expect("deliver rpc")
        .into_inner();
    let mut events = Vec::new();
    while let Some(item) = tokio::time::timeout(Duration::from_secs(30), responses.next())
        .await
        .expect("responses within 30 s")
    {
        match item.expect("deliver item").r#type {
            Some(deliver_response::Type::Block(b)) => {
                events.push(format!("block {}", b.header.expect("header").number))
            }
            Some(deliver_response::Type::Status(s)) => events.push(format!(
                "status {}",
                Status::try_from(s).map_or("?", |s| s.as_str_name())
            )),
            None => {}
        }
    }
    assert_eq!(
        events,
        vec![
            "block 1",
            "status SUCCESS",
            "block 2",
            "block 3",
            "status SUCCESS"
        ]
    );
}
