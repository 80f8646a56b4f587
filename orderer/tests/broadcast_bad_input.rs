//! Broadcast against one real `orderer` process with bad input: each kind of bad envelope
//! is answered with Fabric's status, a failure ends the stream, and the node keeps ordering
//! good envelopes afterwards.

mod cluster_net;

use std::time::Duration;

use cluster_net::{CHANNEL, ChannelSettings, Network, broadcast, envelope, wait_until_ordering};
use prost::Message;
use tokio_stream::StreamExt;
use weft_common::msp::SigningIdentity;
use weft_common::protoutil;
use weft_proto::common::{Envelope, HeaderType, Status};
use weft_proto::orderer::atomic_broadcast_client::AtomicBroadcastClient;

type Client = AtomicBroadcastClient<tonic::transport::Channel>;

/// `AbsoluteMaxBytes` of the channel. An envelope carries its creator's PEM certificate
/// (~0.9 KB with NodeOUs), so a good envelope does not fit in 1 KB: 4 KB leaves room for
/// good envelopes while an 8 KB payload is far over.
const MAX_BYTES: usize = 4 * 1024;

/// Sends `env` alone on a fresh Broadcast stream and returns the one response's status.
async fn status_of(client: &mut Client, env: Envelope) -> (Status, String) {
    let responses = tokio::time::timeout(Duration::from_secs(30), broadcast(client, vec![env]))
        .await
        .expect("broadcast answered within 30 s")
        .expect("broadcast rpc");
    assert_eq!(responses.len(), 1, "one response: {responses:?}");
    let status = Status::try_from(responses[0].status).expect("known status");
    (status, responses[0].info.clone())
}

/// A good envelope on a fresh stream is ordered (SUCCESS).
async fn still_orders(client: &mut Client, signer: &SigningIdentity, after: &str) {
    let (status, info) = status_of(client, envelope(signer, b"good")).await;
    assert_eq!(
        status,
        Status::Success,
        "a good envelope after {after} is ordered: {info}"
    );
}

async fn expect_status(
    client: &mut Client,
    signer: &SigningIdentity,
    what: &str,
    env: Envelope,
    expected: Status,
) {
    let (status, info) = status_of(client, env).await;
    assert_eq!(status, expected, "{what}: {info}");
    still_orders(client, signer, what).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_broadcast_input_is_refused_and_the_node_keeps_ordering() {
    let mut net = Network::new(
        1,
        ChannelSettings {
            absolute_max_bytes: "4 KB",
            preferred_max_bytes: "4 KB",
            ..Default::default()
        },
    );
    net.start(0);
    net.join(0);
    wait_until_ordering(&net, 0).await;
    let signer = net.client();
    let mut client = net.broadcast_client(0);
    still_orders(&mut client, &signer, "start").await;

    // Unsigned: the Writers policy sees no valid signature.
    let mut unsigned = envelope(&signer, b"unsigned");
    unsigned.signature.clear();
    expect_status(
        &mut client,
        &signer,
        "an unsigned envelope",
        unsigned,
        Status::Forbidden,
    )
    .await;

    // A valid signature with one byte flipped (the last byte: the DER stays well-formed).
    let mut tampered = envelope(&signer, b"tampered");
    let last = tampered.signature.len() - 1;
    tampered.signature[last] ^= 0x01;
    expect_status(
        &mut client,
        &signer,
        "a wrong signature",
        tampered,
        Status::Forbidden,
    )
    .await;

    // Correctly signed by an identity that is a Reader but not a Writer (Org2 peer).
    let org2_peer = net.user(
        "peerOrganizations/org2.example.com/peers/peer0.org2.example.com/msp",
        "Org2MSP",
    );
    expect_status(
        &mut client,
        &signer,
        "a signer that is not a Writer",
        envelope(&org2_peer, b"not a writer"),
        Status::Forbidden,
    )
    .await;

    // A channel this orderer does not have (and there is no system channel).
    let unknown = protoutil::create_signed_envelope(
        HeaderType::EndorserTransaction,
        "nosuchchannel",
        signer.as_ref(),
        b"unknown channel",
        0,
    )
    .expect("envelope");
    expect_status(
        &mut client,
        &signer,
        "an unknown channel",
        unknown,
        Status::BadRequest,
    )
    .await;

    // Over AbsoluteMaxBytes.
    let oversized = envelope(&signer, &vec![7u8; 2 * MAX_BYTES]);
    assert!(oversized.payload.len() > MAX_BYTES);
    assert!(
        envelope(&signer, b"good").encoded_len() < MAX_BYTES,
        "a good envelope fits"
    );
    expect_status(
        &mut client,
        &signer,
        "an oversized envelope",
        oversized,
        Status::BadRequest,
    )
    .await;

    // Bytes that are no Payload at all.
    let garbage = Envelope {
        payload: b"garbage".to_vec(),
        signature: b"x".to_vec(),
    };
    expect_status(
        &mut client,
        &signer,
        "a garbage envelope",
        garbage,
        Status::BadRequest,
    )
    .await;

    // CONFIG envelopes are made by the orderer from CONFIG_UPDATEs, never sent directly.
    let config = protoutil::create_signed_envelope(
        HeaderType::Config,
        CHANNEL,
        signer.as_ref(),
        b"not really a config",
        0,
    )
    .expect("envelope");
    expect_status(
        &mut client,
        &signer,
        "a CONFIG envelope sent directly",
        config,
        Status::BadRequest,
    )
    .await;

    // Fabric's rule: after a non-SUCCESS response the server ends the stream, so of
    // [bad, good] on one stream exactly one response (the bad one's) arrives.
    let mut bad = envelope(&signer, b"bad first");
    bad.signature.clear();
    let good = envelope(&signer, b"good second");
    let mut responses = client
        .broadcast(tokio_stream::iter(vec![bad, good]))
        .await
        .expect("broadcast rpc")
        .into_inner();
    let mut received = Vec::new();
    loop {
        let item = tokio::time::timeout(Duration::from_secs(30), responses.next())
            .await
            .expect("the stream ends within 30 s");
        match item {
            Some(Ok(response)) => received.push(response),
            Some(Err(status)) => panic!("stream ended with an error: {status:?}"),
            None => break,
        }
    }
    assert_eq!(
        received.len(),
        1,
        "one response, then the stream ends: {received:?}"
    );
    assert_eq!(
        received[0].status,
        Status::Forbidden as i32,
        "{:?}",
        received[0]
    );
    still_orders(&mut client, &signer, "a stream ended by a failure").await;
}
