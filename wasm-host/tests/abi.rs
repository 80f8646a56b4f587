//! The guest ABI through `serve`: a well-behaved guest, TxInput contents, parked results.

mod common;

use std::collections::BTreeMap;

use common::*;
use prost::Message;
use weft_proto::common::{ChannelHeader, Header, SignatureHeader};
use weft_proto::protos::ChaincodeMessage;
use weft_proto::protos::chaincode_message::Type;
use weft_proto::protos::{
    ChaincodeEvent, ChaincodeInput, ChaincodeProposalPayload, GetState, Proposal, PutState,
    Response, SignedProposal,
};
use weft_wasm_host::abi::compute_binding;
use weft_wasm_host::{BoxFuture, ShimLink, TxInput};

#[tokio::test]
async fn well_behaved_guest_reads_writes_and_completes() {
    let engine = test_engine();
    let cc = load(&engine, "well_behaved");
    let mut peer = FakePeer::start(&cc, small_limits()).await;
    peer.state.insert("a".into(), b"value-of-a".to_vec());

    let answer = peer.transact(tx("tx1", &[b"put", b"new-b"])).await;

    assert_eq!(answer.r#type, Type::Completed as i32, "{answer:?}");
    assert_eq!(answer.txid, "tx1");
    assert_eq!(answer.channel_id, CHANNEL);
    let response = Response::decode(answer.payload.as_slice()).expect("Response");
    assert_eq!(response.status, 200);
    assert_eq!(response.message, "ok");
    assert_eq!(response.payload, b"value-of-a");
    let event = answer.chaincode_event.expect("event");
    assert_eq!(event.event_name, "evt");
    assert_eq!(event.payload, b"p");

    assert_eq!(peer.requests.len(), 2, "{:?}", peer.requests);
    let get = &peer.requests[0];
    assert_eq!(get.r#type, Type::GetState as i32);
    assert_eq!(
        (get.txid.as_str(), get.channel_id.as_str()),
        ("tx1", CHANNEL)
    );
    assert_eq!(
        GetState::decode(get.payload.as_slice()).expect("GetState"),
        GetState {
            key: "a".into(),
            collection: String::new()
        }
    );
    let put = &peer.requests[1];
    assert_eq!(put.r#type, Type::PutState as i32);
    assert_eq!(
        (put.txid.as_str(), put.channel_id.as_str()),
        ("tx1", CHANNEL)
    );
    assert_eq!(
        PutState::decode(put.payload.as_slice()).expect("PutState"),
        PutState {
            key: "b".into(),
            value: b"new-b".to_vec(),
            collection: String::new()
        }
    );
    assert_eq!(peer.state.get("b").map(Vec::as_slice), Some(&b"new-b"[..]));

    let stats = engine.stats();
    assert_eq!(stats.completed(), 1);
    assert_eq!(stats.failed(), 0);
    assert_eq!(stats.instantiations(), 1);
    assert!(stats.fuel_consumed() > 0);
    peer.close().await;
}

fn signed_proposal(creator: &[u8], nonce: &[u8], epoch: u64) -> SignedProposal {
    let channel_header = ChannelHeader {
        r#type: 3,
        channel_id: CHANNEL.into(),
        tx_id: "tx-prop".into(),
        epoch,
        timestamp: Some(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 42,
        }),
        ..ChannelHeader::default()
    };
    let signature_header = SignatureHeader {
        creator: creator.to_vec(),
        nonce: nonce.to_vec(),
    };
    let header = Header {
        channel_header: channel_header.encode_to_vec(),
        signature_header: signature_header.encode_to_vec(),
    };
    let payload = ChaincodeProposalPayload {
        input: vec![],
        transient_map: [
            ("k2".to_owned(), b"v2".to_vec()),
            ("k1".to_owned(), b"v1".to_vec()),
        ]
        .into_iter()
        .collect(),
    };
    let proposal = Proposal {
        header: header.encode_to_vec(),
        payload: payload.encode_to_vec(),
        extension: vec![],
    };
    SignedProposal {
        proposal_bytes: proposal.encode_to_vec(),
        signature: b"sig".to_vec(),
    }
}

#[tokio::test]
async fn tx_input_and_signed_proposal_reach_the_guest() {
    let engine = test_engine();
    let cc = load(&engine, "echo_input");
    let mut peer = FakePeer::start(&cc, small_limits()).await;
    let proposal = signed_proposal(b"creator-identity", b"nonce-123", 7);
    let mut message = tx("tx-prop", &[b"fn", b"arg"]);
    message.proposal = Some(proposal.clone());

    let answer = peer.transact(message.clone()).await;
    assert_eq!(answer.r#type, Type::Completed as i32, "{answer:?}");
    let response = Response::decode(answer.payload.as_slice()).expect("Response");
    let input = TxInput::decode(response.payload.as_slice()).expect("TxInput");
    assert_eq!(input.txid, "tx-prop");
    assert_eq!(input.channel_id, CHANNEL);
    assert_eq!(input.input, message.payload);
    let args = ChaincodeInput::decode(input.input.as_slice()).expect("ChaincodeInput");
    assert_eq!(args.args, vec![b"fn".to_vec(), b"arg".to_vec()]);
    assert_eq!(input.creator, b"creator-identity");
    let transient: BTreeMap<String, Vec<u8>> = [
        ("k1".to_owned(), b"v1".to_vec()),
        ("k2".to_owned(), b"v2".to_vec()),
    ]
    .into();
    assert_eq!(input.transient, transient);
    assert_eq!(
        input.timestamp,
        Some(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 42
        })
    );
    assert_eq!(
        input.binding,
        compute_binding(b"nonce-123", b"creator-identity", 7)
    );
    // binding = SHA-256(nonce ‖ creator ‖ epoch LE), computed independently here.
    {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"nonce-123creator-identity");
        h.update([7, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(input.binding, h.finalize().to_vec());
    }
    let event = answer.chaincode_event.expect("event");
    assert_eq!(event.event_name, "sp");
    assert_eq!(event.payload, proposal.encode_to_vec());

    // Without a proposal: creator/transient/timestamp/binding are empty.
    let answer = peer.transact(tx("tx-noprop", &[b"x"])).await;
    let response = Response::decode(answer.payload.as_slice()).expect("Response");
    let input = TxInput::decode(response.payload.as_slice()).expect("TxInput");
    assert_eq!(input.txid, "tx-noprop");
    assert!(input.creator.is_empty() && input.transient.is_empty());
    assert!(input.timestamp.is_none() && input.binding.is_empty());
    assert_eq!(
        answer.chaincode_event,
        Some(ChaincodeEvent {
            event_name: "sp".into(),
            ..ChaincodeEvent::default()
        })
    );

    // A malformed proposal is answered with ERROR.
    let mut bad = tx("tx-bad", &[b"x"]);
    bad.proposal = Some(SignedProposal {
        proposal_bytes: vec![0xff, 0xff],
        signature: vec![],
    });
    let answer = peer.transact(bad).await;
    let text = error_text(&answer);
    assert!(
        text.starts_with("chaincode mycc failed: malformed proposal"),
        "{text}"
    );
    peer.close().await;
}

#[tokio::test]
async fn large_results_are_parked_and_taken() {
    let engine = test_engine();
    let cc = load(&engine, "parked");
    let mut peer = FakePeer::start(&cc, small_limits()).await;
    let big: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    peer.state.insert("big".into(), big.clone());

    let answer = peer.transact(tx("tx-big", &[b"get"])).await;
    assert_eq!(answer.r#type, Type::Completed as i32, "{answer:?}");
    let response = Response::decode(answer.payload.as_slice()).expect("Response");
    assert_eq!(response.status, 200);
    assert_eq!(response.payload, big);
    peer.close().await;
}

#[tokio::test]
async fn disallowed_kind_is_rejected_by_the_host() {
    let engine = test_engine();
    let cc = load(&engine, "hostile");
    let mut peer = FakePeer::start(&cc, small_limits()).await;
    let answer = peer.transact(tx("tx-k", &[b"K"])).await;
    assert_eq!(answer.r#type, Type::Completed as i32, "{answer:?}");
    let response = Response::decode(answer.payload.as_slice()).expect("Response");
    assert_eq!(response.payload, b"call kind 24 is not allowed");
    assert!(peer.requests.is_empty(), "nothing reached the peer");
    peer.close().await;
}

/// Answers INVOKE_CHAINCODE with a RESPONSE wrapping the callee's final message.
struct InvokeLink(ChaincodeMessage);

impl ShimLink for InvokeLink {
    fn request(&mut self, msg: ChaincodeMessage) -> BoxFuture<'_, ChaincodeMessage> {
        Box::pin(async move {
            assert_eq!(msg.r#type, Type::InvokeChaincode as i32);
            ChaincodeMessage {
                r#type: Type::Response as i32,
                payload: self.0.encode_to_vec(),
                ..msg
            }
        })
    }
}

#[tokio::test]
async fn invoke_chaincode_answers_are_unwrapped() {
    let engine = test_engine();
    let cc = load(&engine, "hostile");
    let callee = Response {
        status: 200,
        message: "callee".into(),
        payload: b"from callee".to_vec(),
    };
    let mut link = InvokeLink(ChaincodeMessage {
        r#type: Type::Completed as i32,
        payload: callee.encode_to_vec(),
        ..ChaincodeMessage::default()
    });
    let answer = cc
        .run(CC_ID, &tx("inv-1", &[b"I"]), &small_limits(), &mut link)
        .await;
    assert_eq!(answer.r#type, Type::Completed as i32, "{answer:?}");
    let response = Response::decode(answer.payload.as_slice()).expect("Response");
    assert_eq!(response.payload, callee.encode_to_vec());
    assert!(answer.chaincode_event.is_none(), "status 0");

    let mut link = InvokeLink(ChaincodeMessage {
        r#type: Type::Error as i32,
        payload: b"callee failed".to_vec(),
        ..ChaincodeMessage::default()
    });
    let answer = cc
        .run(CC_ID, &tx("inv-2", &[b"I"]), &small_limits(), &mut link)
        .await;
    let response = Response::decode(answer.payload.as_slice()).expect("Response");
    assert_eq!(response.payload, b"callee failed");
    assert!(answer.chaincode_event.is_some(), "status 1");
}
