//! Phase B: read conflicts against committed state and earlier transactions of the
//! block, phantom reads (raw and Merkle-summarized ranges), hashed reads, and the state
//! the valid transactions leave.

use weft_proto::protos::collection_config::Payload as CollectionPayload;
use weft_proto::protos::{CollectionConfig, CollectionConfigPackage, StaticCollectionConfig};

use super::*;
use crate::validation::range_merkle::RangeQueryResultsHelper;

/// Chaincode `basic` (any peer endorses) with committed keys a1 (1,0), a2 (1,1), a3 (1,2),
/// b1 (1,3) and k (1,0).
fn state() -> MemState {
    let mut state = MemState::default();
    define(
        &mut state,
        &[("basic", sig("OR('Org1MSP.peer','Org2MSP.peer')"))],
    );
    for (i, key) in ["a1", "a2", "a3", "b1"].into_iter().enumerate() {
        state.put_at(
            "basic",
            key,
            key.as_bytes().to_vec(),
            Version::new(1, i as u64),
        );
    }
    state.put("basic", "k", b"v0".to_vec());
    state
}

fn tx(net: &Net, rw: Rw) -> Tx {
    net.tx("basic", rw.build(), &[&net.peer1a])
}

fn ns() -> Rw {
    Rw::new().ns("basic")
}

fn run(net: &Net, state: &MemState, txs: &[Tx]) -> ValidatedBlock {
    let entries: Vec<&[u8]> = txs.iter().map(|t| t.bytes.as_slice()).collect();
    validate(net, state, &entries)
}

#[test]
fn reads_must_match_committed_versions() {
    let net = Net::new();
    let state = state();
    let w = || ns().write("k", b"v1");
    for (rw, expected) in [
        (w().read("k", Some((1, 0))), Code::Valid),
        (w().read("k", Some((1, 1))), Code::MvccReadConflict),
        (w().read("k", None), Code::MvccReadConflict),
        (w().read("absent", None), Code::Valid),
        (w().read("absent", Some((1, 0))), Code::MvccReadConflict),
        // Reads of other namespaces count too, defined or not.
        (
            w().ns("ghost").read("x", Some((1, 0))),
            Code::MvccReadConflict,
        ),
        (w().ns("ghost").read("x", None), Code::Valid),
        // A namespace the ledger cannot hold holds nothing.
        (
            w().ns("a\0b").read("x", None).range("", "", true, vec![]),
            Code::Valid,
        ),
        (
            w().ns("a\0b").read("x", Some((1, 0))),
            Code::MvccReadConflict,
        ),
    ] {
        let validated = run(&net, &state, &[tx(&net, rw)]);
        assert_codes(&validated, &[expected]);
        for updates in &validated.updates {
            let names: Vec<&str> = updates
                .namespaces
                .iter()
                .map(|n| n.namespace.as_str())
                .collect();
            assert_eq!(names, ["basic"], "only namespaces with writes are carried");
        }
    }
}

#[test]
fn keys_updated_earlier_in_the_block_conflict() {
    let net = Net::new();
    let mut state = state();
    let read_k = || ns().read("k", Some((1, 0)));
    let validated = run(
        &net,
        &state,
        &[
            tx(&net, read_k().write("k", b"v1")),
            // Read at the committed version, but tx 0 updated it.
            tx(&net, read_k().write("k", b"v2")),
            // Blind writes never conflict.
            tx(&net, ns().write("k", b"v3")),
            // Reading a key no valid transaction touched is fine.
            tx(&net, ns().read("a1", Some((1, 0))).write("n", b"1")),
            // An invalid transaction's writes are not seen.
            net.tx("basic", ns().write("a1", b"x").build(), &[]),
            tx(&net, ns().read("a1", Some((1, 0))).write("n2", b"1")),
        ],
    );
    assert_codes(
        &validated,
        &[
            Code::Valid,
            Code::MvccReadConflict,
            Code::Valid,
            Code::Valid,
            Code::EndorsementPolicyFailure,
            Code::Valid,
        ],
    );
    state.apply(2, &validated.updates);
    assert_eq!(state.value("basic", "k"), Some(&b"v3"[..]));
    assert_eq!(state.version("basic", "k"), Some(Version::new(2, 2)));
    assert_eq!(state.value("basic", "a1"), Some(&b"a1"[..]));
    assert_eq!(state.version("basic", "n2"), Some(Version::new(2, 5)));

    // A delete and a metadata-only update are updates too.
    let state = self::state();
    let validated = run(
        &net,
        &state,
        &[
            tx(&net, ns().delete("k")),
            tx(&net, ns().read("k", None).write("x", b"1")),
            tx(&net, ns().metadata("a1", &[("tag", b"t".to_vec())])),
            tx(&net, ns().read("a1", Some((1, 0))).write("y", b"1")),
            // A metadata update of an absent key changes nothing.
            tx(&net, ns().metadata("nokey", &[("tag", b"t".to_vec())])),
            tx(&net, ns().read("nokey", None).write("z", b"1")),
        ],
    );
    assert_codes(
        &validated,
        &[
            Code::Valid,
            Code::MvccReadConflict,
            Code::Valid,
            Code::MvccReadConflict,
            Code::Valid,
            Code::Valid,
        ],
    );
    let mut state = state;
    state.apply(2, &validated.updates);
    assert_eq!(state.value("basic", "k"), None);
    let a1 = state.get_state("basic", "a1").unwrap().unwrap();
    assert_eq!(a1.value, b"a1");
    assert_eq!(a1.version, Version::new(2, 2));
    assert_eq!(a1.metadata.get("tag"), Some(&b"t".to_vec()));
    assert_eq!(state.value("basic", "nokey"), None);
    assert_eq!(state.value("basic", "z"), Some(&b"1"[..]));
}

#[test]
fn range_queries_detect_phantoms() {
    let net = Net::new();
    let state = state();
    let a = |key: &str, tx: u64| kv_read(key, (1, tx));
    let all_a = || vec![a("a1", 0), a("a2", 1), a("a3", 2)];
    let range_a = || ns().range("a", "b", true, all_a()).write("out", b"1");

    // Against committed state alone.
    for (rw, expected) in [
        (range_a(), Code::Valid),
        (
            ns().range("a", "b", true, vec![a("a1", 0), a("a3", 2)]),
            Code::PhantomReadConflict,
        ),
        (
            ns().range("a", "b", true, vec![a("a1", 0), a("a2", 9), a("a3", 2)]),
            Code::PhantomReadConflict,
        ),
        (
            ns().range("a", "b", true, vec![a("a1", 0), a("a2", 1)]),
            Code::PhantomReadConflict,
        ),
        (
            ns().range("a", "b", true, vec![]),
            Code::PhantomReadConflict,
        ),
        (ns().range("x", "y", true, vec![]), Code::Valid),
        // Not exhausted: the end key (the last key returned) is part of the range.
        (
            ns().range("a1", "a2", false, vec![a("a1", 0), a("a2", 1)]),
            Code::Valid,
        ),
        (
            ns().range("a1", "a2", false, vec![a("a1", 0)]),
            Code::PhantomReadConflict,
        ),
        (ns().range("a1", "a2", true, vec![a("a1", 0)]), Code::Valid),
        // An empty end key: to the end of the namespace.
        (
            ns().range(
                "a2",
                "",
                true,
                vec![a("a2", 1), a("a3", 2), a("b1", 3), kv_read("k", (1, 0))],
            ),
            Code::Valid,
        ),
        // start > end: nothing.
        (ns().range("b", "a", true, vec![]), Code::Valid),
    ] {
        let validated = run(&net, &state, &[tx(&net, rw.write("w", b"1"))]);
        assert_codes(&validated, &[expected]);
    }

    // Against the block's earlier updates.
    for (earlier, expected) in [
        (ns().write("a25", b"new"), Code::PhantomReadConflict),
        (ns().delete("a2"), Code::PhantomReadConflict),
        (ns().write("a2", b"changed"), Code::PhantomReadConflict),
        (
            ns().metadata("a2", &[("tag", vec![1])]),
            Code::PhantomReadConflict,
        ),
        (ns().write("b0", b"outside"), Code::Valid),
        (
            ns().write("a", b"start-is-inclusive"),
            Code::PhantomReadConflict,
        ),
        (ns().write("b", b"end-is-exclusive"), Code::Valid),
        (ns().delete("nokey"), Code::Valid),
    ] {
        let validated = run(&net, &state, &[tx(&net, earlier), tx(&net, range_a())]);
        assert_codes(&validated, &[Code::Valid, expected]);
    }
    // start > end scans nothing, with updates in the block too; a non-exhausted one
    // still includes its end key.
    let validated = run(
        &net,
        &state,
        &[
            tx(&net, ns().write("a25", b"new")),
            tx(&net, ns().range("b", "a", true, vec![])),
            tx(&net, ns().range("b1", "a1", false, vec![a("a1", 0)])),
            tx(&net, ns().range("b1", "a1", false, vec![])),
        ],
    );
    assert_codes(
        &validated,
        &[
            Code::Valid,
            Code::Valid,
            Code::Valid,
            Code::PhantomReadConflict,
        ],
    );
    // The end key of a non-exhausted range, updated earlier in the block.
    let validated = run(
        &net,
        &state,
        &[
            tx(&net, ns().write("a2", b"changed")),
            tx(
                &net,
                ns().range("a1", "a2", false, vec![a("a1", 0), a("a2", 1)]),
            ),
        ],
    );
    assert_codes(&validated, &[Code::Valid, Code::PhantomReadConflict]);
    // …and one it would now see with its new version.
    let validated = run(
        &net,
        &state,
        &[
            tx(&net, ns().write("a2", b"changed")),
            tx(
                &net,
                ns().range("a1", "a2", false, vec![a("a1", 0), kv_read("a2", (2, 0))]),
            ),
        ],
    );
    assert_codes(&validated, &[Code::Valid, Code::Valid]);
}

#[test]
fn merkle_summarized_ranges_detect_phantoms() {
    let net = Net::new();
    let mut state = state();
    for i in 0..120u64 {
        state.put_at("basic", &format!("m{i:03}"), vec![1], Version::new(1, i));
    }
    let summary_of = |keys: &[(String, (u64, u64))]| {
        let mut helper = RangeQueryResultsHelper::fabric_default();
        for (key, v) in keys {
            helper.add_result(kv_read(key, *v));
        }
        helper.done().1.expect("more than 50 results")
    };
    let committed: Vec<(String, (u64, u64))> =
        (0..120u64).map(|i| (format!("m{i:03}"), (1, i))).collect();
    let summary = summary_of(&committed);
    let range = || {
        ns().range_merkle("m", "n", true, summary.clone())
            .write("w", b"1")
    };

    let mut shorter = summary_of(&committed[..119]);
    shorter.max_degree = 50;
    let mut degree_one = summary.clone();
    degree_one.max_degree = 1;
    let mut other_degree = summary.clone();
    other_degree.max_degree = 60;
    for (rw, expected) in [
        (range(), Code::Valid),
        (
            ns().range_merkle("m", "n", true, shorter),
            Code::PhantomReadConflict,
        ),
        (
            ns().range_merkle("m", "n", true, degree_one),
            Code::PhantomReadConflict,
        ),
        (
            ns().range_merkle("m", "n", true, other_degree),
            Code::PhantomReadConflict,
        ),
        // 50 results now are raw reads, never a summary.
        (
            ns().range_merkle("m", "m050", true, summary_of(&committed[..51])),
            Code::PhantomReadConflict,
        ),
        (
            ns().range_merkle("m", "m051", true, summary_of(&committed[..51])),
            Code::Valid,
        ),
    ] {
        let validated = run(&net, &state, &[tx(&net, rw.write("x", b"1"))]);
        assert_codes(&validated, &[expected]);
    }
    for (earlier, expected) in [
        (ns().write("m0505", b"new"), Code::PhantomReadConflict),
        (ns().delete("m119"), Code::PhantomReadConflict),
        (ns().write("m000", b"changed"), Code::PhantomReadConflict),
        (ns().write("n", b"outside"), Code::Valid),
    ] {
        let validated = run(&net, &state, &[tx(&net, earlier), tx(&net, range())]);
        assert_codes(&validated, &[Code::Valid, expected]);
    }
}

#[test]
fn hashed_reads_conflict_with_earlier_hashed_writes() {
    let net = Net::new();
    let mut state = MemState::default();
    let mut def = ChaincodeDefinition::new(1, "1.0", &sig("OR('Org1MSP.peer')"));
    def.collections = CollectionConfigPackage {
        config: vec![CollectionConfig {
            payload: Some(CollectionPayload::StaticCollectionConfig(
                StaticCollectionConfig {
                    name: "coll".into(),
                    ..Default::default()
                },
            )),
        }],
    };
    state.apply(1, &[definitions_tx_updates(0, "d", &[("pdc", &def)])]);
    let pdc = |rw: Rw| net.tx("pdc", rw.build(), &[&net.peer1a]);
    let validated = validate(
        &net,
        &state,
        &[
            &pdc(Rw::new().ns("pdc").hashed_write("coll", "x", b"1")).bytes,
            &pdc(Rw::new()
                .ns("pdc")
                .hashed_read("coll", "x", None)
                .write("a", b"1"))
            .bytes,
            &pdc(Rw::new()
                .ns("pdc")
                .hashed_read("coll", "y", None)
                .write("b", b"1"))
            .bytes,
        ],
    );
    assert_codes(
        &validated,
        &[Code::Valid, Code::MvccReadConflict, Code::Valid],
    );
}
