//! Many transactions in flight through one `serve`, replies routed by (channel, txid).

mod common;

use std::collections::HashMap;

use common::*;
use prost::Message;
use weft_proto::protos::chaincode_message::Type;
use weft_proto::protos::{ChaincodeInput, ChaincodeMessage, GetState, Response};

fn tx_on(channel: &str, txid: &str, key: &str) -> ChaincodeMessage {
    ChaincodeMessage {
        r#type: Type::Transaction as i32,
        payload: ChaincodeInput {
            args: vec![key.as_bytes().to_vec()],
            ..ChaincodeInput::default()
        }
        .encode_to_vec(),
        txid: txid.to_owned(),
        channel_id: channel.to_owned(),
        ..ChaincodeMessage::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_transactions_get_their_own_answers() {
    let engine = test_engine();
    let cc = load(&engine, "echo_get");
    let mut peer = FakePeer::start(&cc, small_limits()).await;

    // The same 16 txids on two channels: only (channel, txid) tells them apart.
    let mut expected = HashMap::new();
    for channel in ["ch-a", "ch-b"] {
        for i in 0..16 {
            let txid = format!("t{i}");
            let key = format!("{channel}/{txid}");
            expected.insert(
                (channel.to_owned(), txid.clone()),
                format!("value of {key}"),
            );
            peer.to_cc
                .send(tx_on(channel, &txid, &key))
                .await
                .expect("send");
        }
    }

    // Hold every GET_STATE until all 32 are in flight, then answer in reverse order.
    let mut pending = Vec::new();
    while pending.len() < 32 {
        let m = peer.recv().await;
        assert_eq!(m.r#type, Type::GetState as i32, "{m:?}");
        let key = GetState::decode(m.payload.as_slice())
            .expect("GetState")
            .key;
        assert_eq!(
            key,
            format!("{}/{}", m.channel_id, m.txid),
            "request carries its own tx"
        );
        pending.push(m);
    }
    for m in pending.into_iter().rev() {
        let key = GetState::decode(m.payload.as_slice())
            .expect("GetState")
            .key;
        let reply = ChaincodeMessage {
            r#type: Type::Response as i32,
            payload: format!("value of {key}").into_bytes(),
            ..m
        };
        peer.to_cc.send(reply).await.expect("reply");
    }

    let mut answered = HashMap::new();
    while answered.len() < 32 {
        let m = peer.recv().await;
        assert_eq!(m.r#type, Type::Completed as i32, "{m:?}");
        let response = Response::decode(m.payload.as_slice()).expect("Response");
        let previous = answered.insert(
            (m.channel_id.clone(), m.txid.clone()),
            String::from_utf8(response.payload).expect("utf-8"),
        );
        assert!(previous.is_none(), "one answer per transaction");
    }
    assert_eq!(answered, expected);
    assert_eq!(engine.stats().completed(), 32);
    peer.close().await;
}

#[tokio::test]
async fn a_running_txid_is_a_duplicate() {
    let engine = test_engine();
    let cc = load(&engine, "echo_get");
    let mut peer = FakePeer::start(&cc, small_limits()).await;
    peer.state.insert("k".into(), b"v".to_vec());

    peer.to_cc.send(tx("dup", &[b"k"])).await.expect("send");
    let request = peer.recv().await;
    assert_eq!(request.r#type, Type::GetState as i32);
    peer.to_cc.send(tx("dup", &[b"k"])).await.expect("send");
    let answer = peer.recv().await;
    assert_eq!(
        (answer.txid.as_str(), answer.channel_id.as_str()),
        ("dup", CHANNEL)
    );
    assert_eq!(error_text(&answer), "duplicate transaction");

    peer.answer(&request).await;
    let answer = peer.recv().await;
    assert_eq!(answer.r#type, Type::Completed as i32, "{answer:?}");
    // Once finished, the txid may run again.
    let again = peer.transact(tx("dup", &[b"k"])).await;
    assert_eq!(again.r#type, Type::Completed as i32, "{again:?}");
    peer.close().await;
}

#[tokio::test]
async fn registration_failures_are_errors() {
    let engine = test_engine();
    let cc = load(&engine, "echo_get");
    let (to_cc, cc_in) = tokio::sync::mpsc::channel(4);
    let (cc_out, mut from_cc) = tokio::sync::mpsc::channel(4);
    let task = tokio::spawn({
        let cc = cc.clone();
        async move { cc.serve(CC_ID.into(), small_limits(), cc_in, cc_out).await }
    });
    assert_eq!(
        from_cc.recv().await.expect("REGISTER").r#type,
        Type::Register as i32
    );
    to_cc
        .send(msg(Type::Error, "", b"duplicate chaincodeID".to_vec()))
        .await
        .expect("send");
    let err = task.await.expect("task").expect_err("refused");
    assert_eq!(
        err.to_string(),
        "chaincode shim protocol error: the peer refused the registration: duplicate chaincodeID"
    );

    let (to_cc, cc_in) = tokio::sync::mpsc::channel(4);
    let (cc_out, mut from_cc) = tokio::sync::mpsc::channel(4);
    let task =
        tokio::spawn(async move { cc.serve(CC_ID.into(), small_limits(), cc_in, cc_out).await });
    assert_eq!(
        from_cc.recv().await.expect("REGISTER").r#type,
        Type::Register as i32
    );
    to_cc
        .send(msg(Type::Registered, "", vec![]))
        .await
        .expect("send");
    to_cc.send(tx("early", &[b"k"])).await.expect("send");
    let err = task.await.expect("task").expect_err("unexpected");
    assert_eq!(
        err.to_string(),
        "chaincode shim protocol error: expected READY, got TRANSACTION"
    );
}
