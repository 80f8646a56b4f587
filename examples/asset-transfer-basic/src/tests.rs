//! Every function of the contract on the mock ledger, with the answers the Go sample
//! gives and the read/write sets Fabric records.

use weft_chaincode_sdk::mock::{MockIdentity, MockLedger};
use weft_chaincode_sdk::proto::{KvRead, KvWrite, Version};
use weft_chaincode_sdk::{Chaincode, Response};

use super::*;

fn setup() -> (MockLedger, Chaincode, MockIdentity) {
    let identity = MockIdentity::with_attributes("Org1MSP", "appUser", &[]);
    (MockLedger::new("basic"), chaincode(), identity)
}

fn ok(response: &Response) -> String {
    assert_eq!(response.status, 200, "{}", response.message);
    String::from_utf8(response.payload.clone()).expect("utf-8 payload")
}

fn err(response: &Response) -> &str {
    assert_eq!(response.status, 500, "{response:?}");
    assert!(response.payload.is_empty());
    &response.message
}

fn initialized() -> (MockLedger, Chaincode, MockIdentity) {
    let (mut ledger, cc, id) = setup();
    ok(&ledger.invoke(&cc, &id, "InitLedger", &[]));
    (ledger, cc, id)
}

const ASSET1: &str =
    r#"{"AppraisedValue":300,"Color":"blue","ID":"asset1","Owner":"Tomoko","Size":5}"#;

#[test]
fn init_ledger_writes_six_assets_without_reading() {
    let (ledger, _, _) = initialized();
    assert_eq!(
        ledger.keys(),
        ["asset1", "asset2", "asset3", "asset4", "asset5", "asset6"]
    );
    assert_eq!(ledger.state("asset1"), Some(ASSET1.as_bytes()));
    let rwset = ledger.last_tx().expect("tx").rwset("basic");
    assert!(rwset.reads.is_empty());
    assert_eq!(rwset.writes.len(), 6);
    assert_eq!(
        ledger.version("asset1"),
        Some(Version {
            block_num: 1,
            tx_num: 0
        })
    );
}

#[test]
fn read_asset_returns_the_json_and_records_the_read() {
    let (mut ledger, cc, id) = initialized();
    let response = ledger.evaluate(&cc, &id, "ReadAsset", &["asset1"]);
    assert_eq!(ok(&response), ASSET1);
    let rwset = ledger.last_tx().expect("tx").rwset("basic");
    assert_eq!(
        rwset.reads,
        [KvRead {
            key: "asset1".into(),
            version: Some(Version {
                block_num: 1,
                tx_num: 0
            }),
        }]
    );
    assert!(rwset.writes.is_empty());

    let missing = ledger.evaluate(&cc, &id, "ReadAsset", &["asset9"]);
    assert_eq!(err(&missing), "the asset asset9 does not exist");
    let rwset = ledger.last_tx().expect("tx").rwset("basic");
    assert_eq!(
        rwset.reads,
        [KvRead {
            key: "asset9".into(),
            version: None
        }]
    );
}

#[test]
fn create_asset_checks_existence_then_writes() {
    let (mut ledger, cc, id) = initialized();
    let args = ["asset7", "purple", "20", "Ana", "900"];
    assert_eq!(ok(&ledger.invoke(&cc, &id, "CreateAsset", &args)), "");
    let tx = ledger.last_tx().expect("tx");
    assert!(tx.committed);
    let rwset = tx.rwset("basic");
    assert_eq!(
        rwset.reads,
        [KvRead {
            key: "asset7".into(),
            version: None
        }]
    );
    let json = r#"{"AppraisedValue":900,"Color":"purple","ID":"asset7","Owner":"Ana","Size":20}"#;
    assert_eq!(
        rwset.writes,
        [KvWrite {
            key: "asset7".into(),
            is_delete: false,
            value: json.as_bytes().to_vec(),
        }]
    );
    assert_eq!(ledger.state("asset7"), Some(json.as_bytes()));

    let again = ledger.invoke(&cc, &id, "CreateAsset", &args);
    assert_eq!(err(&again), "the asset asset7 already exists");
    assert!(!ledger.last_tx().expect("tx").committed);
}

#[test]
fn create_asset_converts_arguments_as_go_does() {
    let (mut ledger, cc, id) = initialized();
    let bad = ledger.invoke(&cc, &id, "CreateAsset", &["a", "red", "big", "Bo", "1"]);
    assert_eq!(
        err(&bad),
        "error managing parameter size. conversion error. cannot convert passed value big to int"
    );
    let short = ledger.invoke(&cc, &id, "CreateAsset", &["a", "red"]);
    assert_eq!(
        err(&short),
        "incorrect number of params. Expected 5, received 2"
    );
}

#[test]
fn update_asset_replaces_an_existing_asset_only() {
    let (mut ledger, cc, id) = initialized();
    let args = ["asset1", "green", "6", "Tomoko", "350"];
    ok(&ledger.invoke(&cc, &id, "UpdateAsset", &args));
    let json = r#"{"AppraisedValue":350,"Color":"green","ID":"asset1","Owner":"Tomoko","Size":6}"#;
    assert_eq!(ledger.state("asset1"), Some(json.as_bytes()));
    assert_eq!(
        ledger.version("asset1"),
        Some(Version {
            block_num: 2,
            tx_num: 0
        })
    );

    let missing = ledger.invoke(&cc, &id, "UpdateAsset", &["nope", "a", "1", "b", "2"]);
    assert_eq!(err(&missing), "the asset nope does not exist");
}

#[test]
fn delete_asset_deletes_an_existing_asset_only() {
    let (mut ledger, cc, id) = initialized();
    ok(&ledger.invoke(&cc, &id, "DeleteAsset", &["asset2"]));
    let tx = ledger.last_tx().expect("tx");
    assert_eq!(tx.written("basic", "asset2"), Some(None));
    assert_eq!(ledger.state("asset2"), None);
    let again = ledger.invoke(&cc, &id, "DeleteAsset", &["asset2"]);
    assert_eq!(err(&again), "the asset asset2 does not exist");
}

#[test]
fn asset_exists_answers_true_or_false() {
    let (mut ledger, cc, id) = initialized();
    assert_eq!(
        ok(&ledger.evaluate(&cc, &id, "AssetExists", &["asset3"])),
        "true"
    );
    assert_eq!(
        ok(&ledger.evaluate(&cc, &id, "AssetExists", &["asset9"])),
        "false"
    );
}

#[test]
fn transfer_asset_returns_the_old_owner() {
    let (mut ledger, cc, id) = initialized();
    let response = ledger.invoke(&cc, &id, "TransferAsset", &["asset1", "Christopher"]);
    assert_eq!(ok(&response), "Tomoko");
    let json =
        r#"{"AppraisedValue":300,"Color":"blue","ID":"asset1","Owner":"Christopher","Size":5}"#;
    assert_eq!(ledger.state("asset1"), Some(json.as_bytes()));
    let missing = ledger.invoke(&cc, &id, "TransferAsset", &["asset9", "X"]);
    assert_eq!(err(&missing), "the asset asset9 does not exist");
}

#[test]
fn get_all_assets_lists_the_range_and_records_it() {
    let (mut ledger, cc, id) = setup();
    assert_eq!(ok(&ledger.evaluate(&cc, &id, "GetAllAssets", &[])), "");
    ok(&ledger.invoke(&cc, &id, "InitLedger", &[]));
    let all = ok(&ledger.evaluate(&cc, &id, "GetAllAssets", &[]));
    let assets: Vec<Asset> = serde_json::from_str(&all).expect("JSON array");
    assert_eq!(assets.len(), 6);
    assert!(all.starts_with(&format!("[{ASSET1},")));
    let rwset = ledger.last_tx().expect("tx").rwset("basic");
    assert!(rwset.reads.is_empty());
    let [range] = rwset.range_queries_info.as_slice() else {
        panic!("one range query: {rwset:?}");
    };
    assert_eq!(range.start_key, "\u{1}");
    assert_eq!(range.end_key, "");
    assert!(range.itr_exhausted);
    assert_eq!(range.raw_reads.as_ref().map(|r| r.kv_reads.len()), Some(6));
}

#[test]
fn routing_and_metadata_follow_the_go_contract_api() {
    let (mut ledger, cc, id) = initialized();
    let qualified = ledger.evaluate(&cc, &id, "SmartContract:ReadAsset", &["asset1"]);
    assert_eq!(ok(&qualified), ASSET1);
    let lower = ledger.evaluate(&cc, &id, "readAsset", &["asset1"]);
    assert_eq!(ok(&lower), ASSET1);
    let unknown = ledger.evaluate(&cc, &id, "NoSuchFunction", &[]);
    assert_eq!(
        err(&unknown),
        "Function NoSuchFunction not found in contract SmartContract"
    );
    let other = ledger.evaluate(&cc, &id, "Other:ReadAsset", &[]);
    assert_eq!(err(&other), "Contract not found with name Other");

    let metadata = ok(&ledger.evaluate(&cc, &id, "org.hyperledger.fabric:GetMetadata", &[]));
    let metadata: serde_json::Value = serde_json::from_str(&metadata).expect("JSON");
    let contract = &metadata["contracts"]["SmartContract"];
    assert_eq!(contract["default"], true);
    let names: Vec<&str> = contract["transactions"]
        .as_array()
        .expect("transactions")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "AssetExists",
            "CreateAsset",
            "DeleteAsset",
            "GetAllAssets",
            "InitLedger",
            "ReadAsset",
            "TransferAsset",
            "UpdateAsset"
        ]
    );
    let read = &contract["transactions"][5];
    assert_eq!(read["tag"], serde_json::json!(["evaluate", "EVALUATE"]));
    assert_eq!(read["returns"]["$ref"], "#/components/schemas/Asset");
    let asset = &metadata["components"]["schemas"]["Asset"];
    assert_eq!(
        asset["required"],
        serde_json::json!(["AppraisedValue", "Color", "ID", "Owner", "Size"])
    );
}
