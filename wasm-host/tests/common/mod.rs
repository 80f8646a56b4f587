//! Test helpers: guest loading and a fake peer on the other end of `serve`'s channels.
#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use prost::Message;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use weft_proto::protos::chaincode_message::Type;
use weft_proto::protos::{ChaincodeId, ChaincodeInput, ChaincodeMessage, GetState, PutState};
use weft_wasm_host::{EngineConfig, TxLimits, WasmChaincode, WasmEngine, WasmError};

pub const CHANNEL: &str = "mychannel";
pub const CC_ID: &str = "mycc";

/// Reads `tests/guests/<name>.wat`, splices in the prelude, and returns the wasm bytes.
pub fn guest_wasm(name: &str) -> Vec<u8> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/guests");
    let prelude = std::fs::read_to_string(format!("{dir}/prelude.wat")).expect("prelude");
    let text = std::fs::read_to_string(format!("{dir}/{name}.wat")).expect("guest");
    let text = text.replace(";; @prelude", &prelude);
    wat::parse_str(&text).expect("valid wat")
}

/// An engine sized for tests: 64 instances, 4 MiB memories, 64 KiB messages.
pub fn test_engine() -> WasmEngine {
    WasmEngine::new(EngineConfig {
        max_instances: 64,
        max_memory_bytes: 4 * 1024 * 1024,
        max_message_bytes: 64 * 1024,
        ..EngineConfig::default()
    })
    .expect("engine")
}

pub fn load(engine: &WasmEngine, name: &str) -> WasmChaincode {
    engine.load(&guest_wasm(name)).expect("load guest")
}

pub fn small_limits() -> TxLimits {
    TxLimits {
        fuel: 50_000_000,
        timeout: Duration::from_secs(5),
    }
}

/// A TRANSACTION message with the given args (no proposal).
pub fn tx(txid: &str, args: &[&[u8]]) -> ChaincodeMessage {
    ChaincodeMessage {
        r#type: Type::Transaction as i32,
        payload: ChaincodeInput {
            args: args.iter().map(|a| a.to_vec()).collect(),
            ..ChaincodeInput::default()
        }
        .encode_to_vec(),
        txid: txid.to_owned(),
        channel_id: CHANNEL.to_owned(),
        ..ChaincodeMessage::default()
    }
}

pub fn msg(t: Type, txid: &str, payload: Vec<u8>) -> ChaincodeMessage {
    ChaincodeMessage {
        r#type: t as i32,
        payload,
        txid: txid.to_owned(),
        channel_id: CHANNEL.to_owned(),
        ..ChaincodeMessage::default()
    }
}

/// The peer side of a `serve` session.
pub struct FakePeer {
    pub to_cc: mpsc::Sender<ChaincodeMessage>,
    pub from_cc: mpsc::Receiver<ChaincodeMessage>,
    pub state: HashMap<String, Vec<u8>>,
    /// Every request the chaincode sent (GET_STATE, PUT_STATE, …).
    pub requests: Vec<ChaincodeMessage>,
    pub serve: JoinHandle<Result<(), WasmError>>,
}

impl FakePeer {
    /// Starts `serve` and performs the REGISTER / REGISTERED / READY handshake.
    pub async fn start(cc: &WasmChaincode, limits: TxLimits) -> Self {
        let (to_cc, cc_in) = mpsc::channel(256);
        let (cc_out, mut from_cc) = mpsc::channel(256);
        let cc = cc.clone();
        let serve =
            tokio::spawn(async move { cc.serve(CC_ID.to_owned(), limits, cc_in, cc_out).await });
        let register = from_cc.recv().await.expect("REGISTER");
        assert_eq!(register.r#type, Type::Register as i32);
        let id = ChaincodeId::decode(register.payload.as_slice()).expect("ChaincodeId");
        assert_eq!(id.name, CC_ID);
        to_cc
            .send(msg(Type::Registered, "", vec![]))
            .await
            .expect("send");
        to_cc
            .send(msg(Type::Keepalive, "", vec![]))
            .await
            .expect("send");
        to_cc
            .send(msg(Type::Ready, "", vec![]))
            .await
            .expect("send");
        Self {
            to_cc,
            from_cc,
            state: HashMap::new(),
            requests: Vec::new(),
            serve,
        }
    }

    pub async fn recv(&mut self) -> ChaincodeMessage {
        tokio::time::timeout(Duration::from_secs(10), self.from_cc.recv())
            .await
            .expect("chaincode answered in time")
            .expect("stream open")
    }

    /// Answers one request from the state map.
    pub async fn answer(&mut self, m: &ChaincodeMessage) {
        let reply = match Type::try_from(m.r#type) {
            Ok(Type::GetState) => {
                let req = GetState::decode(m.payload.as_slice()).expect("GetState");
                let value = self.state.get(&req.key).cloned().unwrap_or_default();
                ChaincodeMessage {
                    r#type: Type::Response as i32,
                    payload: value,
                    ..m.clone()
                }
            }
            Ok(Type::PutState) => {
                let req = PutState::decode(m.payload.as_slice()).expect("PutState");
                self.state.insert(req.key, req.value);
                ChaincodeMessage {
                    r#type: Type::Response as i32,
                    payload: vec![],
                    ..m.clone()
                }
            }
            _ => ChaincodeMessage {
                r#type: Type::Error as i32,
                payload: b"unsupported".to_vec(),
                ..m.clone()
            },
        };
        self.to_cc.send(reply).await.expect("send reply");
    }

    /// Sends a TRANSACTION and serves its requests until COMPLETED or ERROR.
    pub async fn transact(&mut self, tx: ChaincodeMessage) -> ChaincodeMessage {
        let txid = tx.txid.clone();
        self.to_cc.send(tx).await.expect("send tx");
        loop {
            let m = self.recv().await;
            match Type::try_from(m.r#type) {
                Ok(Type::Completed | Type::Error) => {
                    assert_eq!(m.txid, txid, "answer for the right transaction");
                    return m;
                }
                _ => {
                    self.requests.push(m.clone());
                    self.answer(&m).await;
                }
            }
        }
    }

    pub async fn close(self) {
        drop(self.to_cc);
        let result = tokio::time::timeout(Duration::from_secs(5), self.serve)
            .await
            .expect("serve ends when incoming closes")
            .expect("serve task");
        assert!(result.is_ok(), "serve returned {result:?}");
    }
}

pub fn error_text(m: &ChaincodeMessage) -> String {
    assert_eq!(m.r#type, Type::Error as i32, "expected ERROR, got {m:?}");
    String::from_utf8(m.payload.clone()).expect("utf-8")
}
