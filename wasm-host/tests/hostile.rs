//! Hostile guests: each is answered with an ERROR naming the reason, and the same
//! WasmChaincode then serves the next transaction correctly.

mod common;

use std::time::{Duration, Instant};

use common::*;
use prost::Message;
use weft_proto::protos::Response;
use weft_proto::protos::chaincode_message::Type;
use weft_wasm_host::TxLimits;

async fn assert_ok_after(peer: &mut FakePeer, txid: &str) {
    let answer = peer.transact(tx(txid, &[b"O"])).await;
    assert_eq!(answer.r#type, Type::Completed as i32, "{answer:?}");
    let response = Response::decode(answer.payload.as_slice()).expect("Response");
    assert_eq!(
        (response.status, response.payload.as_slice()),
        (200, &b"fine"[..])
    );
}

#[tokio::test]
async fn hostile_guests_fail_with_a_reason_and_the_chaincode_keeps_serving() {
    let engine = test_engine();
    assert!(
        engine.is_pooled(),
        "the test engine uses the pooling allocator"
    );
    let cc = load(&engine, "hostile");
    let limits = TxLimits {
        fuel: 20_000_000,
        timeout: Duration::from_secs(5),
    };
    let mut peer = FakePeer::start(&cc, limits).await;

    let cases: &[(&str, &str)] = &[
        ("L", "chaincode mycc failed: out of fuel"),
        (
            "M",
            "chaincode mycc failed: memory limit: the guest tried to grow its memory beyond 4194304 bytes, then trap: wasm `unreachable` instruction executed",
        ),
        ("S", "chaincode mycc failed: stack overflow"),
        (
            "U",
            "chaincode mycc failed: trap: wasm `unreachable` instruction executed",
        ),
        (
            "P",
            "chaincode mycc failed: trap: out of bounds memory access: call request at 4294967040+100 is outside the guest's 131072-byte memory",
        ),
        (
            "B",
            "chaincode mycc failed: call request of 100000 bytes exceeds the limit of 65536 bytes",
        ),
        (
            "G",
            "chaincode mycc failed: malformed response from the guest: not a peer.Response",
        ),
        (
            "E",
            "chaincode mycc failed: malformed response from the guest: the event is not a peer.ChaincodeEvent",
        ),
        (
            "A",
            "chaincode mycc failed: called the host after completing the transaction",
        ),
        (
            "C",
            "chaincode mycc failed: called the host after completing the transaction",
        ),
        (
            "N",
            "chaincode mycc failed: fabric_run returned 0 without calling complete",
        ),
        ("R", "chaincode mycc failed: fabric_run returned 7"),
    ];
    for (i, (op, reason)) in cases.iter().enumerate() {
        let txid = format!("bad-{i}-{op}");
        let answer = peer.transact(tx(&txid, &[op.as_bytes()])).await;
        assert_eq!(
            (answer.txid.as_str(), answer.channel_id.as_str()),
            (txid.as_str(), CHANNEL)
        );
        let text = error_text(&answer);
        assert!(
            text.starts_with(reason),
            "guest {op}: got {text:?}, want {reason:?}"
        );
        assert_ok_after(&mut peer, &format!("ok-{i}")).await;
    }
    assert!(
        peer.requests.is_empty(),
        "no hostile request reached the peer: {:?}",
        peer.requests
    );
    let stats = engine.stats();
    assert_eq!(stats.failed(), cases.len() as u64);
    assert_eq!(stats.completed(), cases.len() as u64);
    peer.close().await;
}

#[tokio::test]
async fn wall_clock_timeout_stops_a_long_guest() {
    let engine = test_engine();
    let cc = load(&engine, "hostile");
    let limits = TxLimits {
        fuel: u64::MAX / 2,
        timeout: Duration::from_millis(200),
    };
    let mut peer = FakePeer::start(&cc, limits).await;

    // This test runs on a current-thread runtime: the ticker task only makes progress
    // if the looping guest yields to tokio (every epoch tick).
    let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let ticker = tokio::spawn({
        let ticks = ticks.clone();
        async move {
            loop {
                tokio::time::sleep(Duration::from_millis(5)).await;
                ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    });
    let started = Instant::now();
    let answer = peer.transact(tx("slow", &[b"L"])).await;
    let elapsed = started.elapsed();
    ticker.abort();
    let ticks = ticks.load(std::sync::atomic::Ordering::Relaxed);
    assert!(ticks >= 10, "the guest let other tasks run: {ticks} ticks");
    assert_eq!(
        error_text(&answer),
        "chaincode mycc failed: wall-clock timeout"
    );
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert_ok_after(&mut peer, "after-slow").await;
    peer.close().await;
}

#[tokio::test]
async fn a_peer_that_never_answers_hits_the_timeout() {
    let engine = test_engine();
    let cc = load(&engine, "well_behaved");
    let limits = TxLimits {
        fuel: 50_000_000,
        timeout: Duration::from_millis(200),
    };
    let mut peer = FakePeer::start(&cc, limits).await;
    peer.to_cc
        .send(tx("stuck", &[b"put", b"v"]))
        .await
        .expect("send");
    let request = peer.recv().await;
    assert_eq!(request.r#type, Type::GetState as i32);
    // Never answer: the wall clock ends the transaction.
    let answer = peer.recv().await;
    assert_eq!(
        error_text(&answer),
        "chaincode mycc failed: wall-clock timeout"
    );
    peer.close().await;
}
