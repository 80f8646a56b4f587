//! Every protobuf message the SDK defines has Fabric's field numbers and types: a fully
//! populated message encoded by the SDK decodes as `weft-proto`'s (our transcription of
//! fabric-protos) and re-encodes to the same bytes, and back.

use std::collections::BTreeMap;
use std::fmt::Debug;

use prost::Message;
use weft_chaincode_sdk::proto as sdk;
use weft_proto::{kvrwset, msp, protos, queryresult};

/// `a` → bytes → `B` → bytes must be identical (no field dropped as unknown, same wire
/// types), and decoding back gives `a`.
fn check<A, B>(a: &A)
where
    A: Message + Default + PartialEq + Debug,
    B: Message + Default,
{
    let bytes = a.encode_to_vec();
    let theirs = B::decode(bytes.as_slice()).expect("weft-proto decodes the SDK's bytes");
    let again = theirs.encode_to_vec();
    assert_eq!(bytes, again, "{a:?}: re-encoded differently by weft-proto");
    assert_eq!(&A::decode(again.as_slice()).expect("SDK decodes"), a);
}

fn ts() -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: 1_700_000_000,
        nanos: 7,
    }
}

fn input() -> sdk::ChaincodeInput {
    sdk::ChaincodeInput {
        args: vec![b"fn".to_vec(), b"arg".to_vec()],
        decorations: BTreeMap::from([("d".to_owned(), b"v".to_vec())]),
        is_init: true,
    }
}

fn kv_read(key: &str) -> sdk::KvRead {
    sdk::KvRead {
        key: key.into(),
        version: Some(sdk::Version {
            block_num: 3,
            tx_num: 4,
        }),
    }
}

#[test]
fn shim_requests_match_fabric() {
    check::<_, protos::GetState>(&sdk::GetState {
        key: "k".into(),
        collection: "c".into(),
    });
    check::<_, protos::GetStateMetadata>(&sdk::GetStateMetadata {
        key: "k".into(),
        collection: "c".into(),
    });
    check::<_, protos::PutState>(&sdk::PutState {
        key: "k".into(),
        value: b"v".to_vec(),
        collection: "c".into(),
    });
    check::<_, protos::PutStateMetadata>(&sdk::PutStateMetadata {
        key: "k".into(),
        collection: "c".into(),
        metadata: Some(sdk::StateMetadata {
            metakey: "VALIDATION_PARAMETER".into(),
            value: b"ep".to_vec(),
        }),
    });
    check::<_, protos::DelState>(&sdk::DelState {
        key: "k".into(),
        collection: "c".into(),
    });
    check::<_, protos::PurgePrivateState>(&sdk::DelState {
        key: "k".into(),
        collection: "c".into(),
    });
    check::<_, protos::GetStateByRange>(&sdk::GetStateByRange {
        start_key: "a".into(),
        end_key: "z".into(),
        collection: "c".into(),
        metadata: b"m".to_vec(),
    });
    check::<_, protos::GetQueryResult>(&sdk::GetQueryResult {
        query: "{}".into(),
        collection: "c".into(),
        metadata: b"m".to_vec(),
    });
    check::<_, protos::QueryMetadata>(&sdk::QueryMetadata {
        page_size: 10,
        bookmark: "b".into(),
    });
    check::<_, protos::GetHistoryForKey>(&sdk::GetHistoryForKey { key: "k".into() });
    check::<_, protos::QueryStateNext>(&sdk::QueryStateNext { id: "q".into() });
    check::<_, protos::QueryStateClose>(&sdk::QueryStateClose { id: "q".into() });
    check::<_, protos::GetStateMultiple>(&sdk::GetStateMultiple {
        keys: vec!["a".into(), "b".into()],
        collection: "c".into(),
    });
    check::<_, protos::ChaincodeSpec>(&sdk::ChaincodeSpec {
        r#type: 1,
        chaincode_id: Some(sdk::ChaincodeId {
            path: "p".into(),
            name: "cc/ch".into(),
            version: "1".into(),
        }),
        input: Some(input()),
        timeout: 5,
    });
}

#[test]
fn shim_answers_match_fabric() {
    check::<_, protos::QueryResponse>(&sdk::QueryResponse {
        results: vec![sdk::QueryResultBytes {
            result_bytes: b"r".to_vec(),
        }],
        has_more: true,
        id: "q".into(),
        metadata: b"m".to_vec(),
    });
    check::<_, protos::QueryResponseMetadata>(&sdk::QueryResponseMetadata {
        fetched_records_count: 2,
        bookmark: "b".into(),
    });
    check::<_, protos::StateMetadataResult>(&sdk::StateMetadataResult {
        entries: vec![sdk::StateMetadata {
            metakey: "m".into(),
            value: b"v".to_vec(),
        }],
    });
    check::<_, protos::GetStateMultipleResult>(&sdk::GetStateMultipleResult {
        values: vec![b"a".to_vec(), b"b".to_vec()],
    });
    check::<_, queryresult::Kv>(&sdk::Kv {
        namespace: "ns".into(),
        key: "k".into(),
        value: b"v".to_vec(),
    });
    check::<_, queryresult::KeyModification>(&sdk::KeyModification {
        tx_id: "t".into(),
        value: b"v".to_vec(),
        timestamp: Some(ts()),
        is_delete: true,
    });
    check::<_, protos::Response>(&sdk::Response {
        status: 500,
        message: "m".into(),
        payload: b"p".to_vec(),
    });
    check::<_, protos::ChaincodeEvent>(&sdk::ChaincodeEvent {
        chaincode_id: "cc".into(),
        tx_id: "t".into(),
        event_name: "e".into(),
        payload: b"p".to_vec(),
    });
    check::<_, msp::SerializedIdentity>(&sdk::SerializedIdentity {
        mspid: "Org1MSP".into(),
        id_bytes: b"pem".to_vec(),
    });
    check::<_, protos::ChaincodeInput>(&input());
}

#[test]
fn tx_input_matches_the_host() {
    let ours = sdk::TxInput {
        txid: "t".into(),
        channel_id: "ch".into(),
        input: Some(input()),
        creator: b"c".to_vec(),
        transient: BTreeMap::from([("a".to_owned(), b"1".to_vec())]),
        timestamp: Some(ts()),
        binding: b"b".to_vec(),
    };
    // The host's field 3 is `bytes` holding the encoded ChaincodeInput: same wire.
    check::<_, weft_wasm_host::TxInput>(&ours);
}

#[test]
fn rwset_messages_match_fabric() {
    check::<_, kvrwset::KvrwSet>(&sdk::KvRwSet {
        reads: vec![
            kv_read("a"),
            sdk::KvRead {
                key: "b".into(),
                version: None,
            },
        ],
        range_queries_info: vec![
            sdk::RangeQueryInfo {
                start_key: "a".into(),
                end_key: "z".into(),
                itr_exhausted: true,
                raw_reads: Some(sdk::QueryReads {
                    kv_reads: vec![kv_read("c")],
                }),
                reads_merkle_hashes: None,
            },
            sdk::RangeQueryInfo {
                start_key: "b".into(),
                end_key: "y".into(),
                itr_exhausted: false,
                raw_reads: None,
                reads_merkle_hashes: Some(sdk::QueryReadsMerkleSummary {
                    max_degree: 50,
                    max_level: 2,
                    max_level_hashes: vec![b"h1".to_vec(), b"h2".to_vec()],
                }),
            },
        ],
        writes: vec![sdk::KvWrite {
            key: "w".into(),
            is_delete: true,
            value: b"v".to_vec(),
        }],
        metadata_writes: vec![sdk::KvMetadataWrite {
            key: "m".into(),
            entries: vec![sdk::KvMetadataEntry {
                name: "n".into(),
                value: b"v".to_vec(),
            }],
        }],
    });
}
