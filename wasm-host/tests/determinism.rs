//! The same guest and input give byte-identical answers and the same fuel.

mod common;

use std::collections::HashMap;

use common::*;
use prost::Message;
use weft_proto::protos::chaincode_message::Type;
use weft_proto::protos::{ChaincodeMessage, GetState};
use weft_wasm_host::{BoxFuture, ShimLink};

async fn one_run(engine: &weft_wasm_host::WasmEngine) -> (Vec<u8>, u64) {
    let cc = load(engine, "well_behaved");
    let mut peer = FakePeer::start(&cc, small_limits()).await;
    peer.state.insert("a".into(), b"A".to_vec());
    let before = engine.stats().fuel_consumed();
    let answer = peer.transact(tx("same-tx", &[b"put", b"value"])).await;
    assert_eq!(answer.r#type, Type::Completed as i32, "{answer:?}");
    let fuel = engine.stats().fuel_consumed() - before;
    peer.close().await;
    (answer.encode_to_vec(), fuel)
}

#[tokio::test]
async fn same_guest_and_input_twice_is_byte_identical() {
    let engine = test_engine();
    let (first, fuel1) = one_run(&engine).await;
    let (second, fuel2) = one_run(&engine).await;
    assert_eq!(first, second);
    assert_eq!(fuel1, fuel2);
    assert!(fuel1 > 0);
    // Another engine with the same configuration agrees too.
    let (third, fuel3) = one_run(&test_engine()).await;
    assert_eq!(first, third);
    assert_eq!(fuel1, fuel3);
}

/// A ShimLink over a map, for `run` without the registration dance.
struct MapLink(HashMap<String, Vec<u8>>, Vec<ChaincodeMessage>);

impl ShimLink for MapLink {
    fn request(&mut self, msg: ChaincodeMessage) -> BoxFuture<'_, ChaincodeMessage> {
        Box::pin(async move {
            self.1.push(msg.clone());
            let payload = if msg.r#type == Type::GetState as i32 {
                let key = GetState::decode(msg.payload.as_slice())
                    .expect("GetState")
                    .key;
                self.0.get(&key).cloned().unwrap_or_default()
            } else {
                vec![]
            };
            ChaincodeMessage {
                r#type: Type::Response as i32,
                payload,
                ..msg
            }
        })
    }
}

#[tokio::test]
async fn run_without_serve_matches_serve() {
    let engine = test_engine();
    let (via_serve, _) = one_run(&engine).await;
    let cc = load(&engine, "well_behaved");
    let mut link = MapLink([("a".to_owned(), b"A".to_vec())].into(), vec![]);
    let answer = cc
        .run(
            CC_ID,
            &tx("same-tx", &[b"put", b"value"]),
            &small_limits(),
            &mut link,
        )
        .await;
    assert_eq!(answer.encode_to_vec(), via_serve);
    assert_eq!(link.1.len(), 2);
    assert!(
        link.1
            .iter()
            .all(|m| m.txid == "same-tx" && m.channel_id == CHANNEL)
    );
}
