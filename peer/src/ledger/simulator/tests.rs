//! Tests of the transaction simulator over a real ledger with committed blocks.

use std::sync::Arc;

use prost::Message;
use weft_proto::kvrwset::range_query_info::ReadsInfo;
use weft_proto::kvrwset::{
    KvMetadataEntry, KvMetadataWrite, KvRead, KvWrite, KvrwSet, QueryReads, RangeQueryInfo,
    Version as PbVersion,
};
use weft_proto::rwset::{NsReadWriteSet, TxReadWriteSet};

use super::{
    Pagination, QueryBatch, SimulationError, SimulationResults, SimulatorConfig, TxSimulator,
};
use crate::ledger::tests::fixtures::{Rw, Signers, commit, open};
use crate::ledger::{KeyMetadata, Ledger, VALIDATION_PARAMETER};
use crate::validation::range_merkle::RangeQueryResultsHelper;

/// The contract with the chaincode handler: the simulator crosses await points.
const _: () = {
    const fn assert_send_static<T: Send + 'static>() {}
    assert_send_static::<TxSimulator>();
};

fn new_ledger() -> (tempfile::TempDir, Arc<Ledger>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = Arc::new(open(dir.path()));
    (dir, ledger)
}

/// Commits one block holding one transaction with `rw`.
fn commit_rw(ledger: &Ledger, signers: &Signers, rw: &Rw) {
    commit(ledger, &[signers.endorser_tx(rw)]);
}

fn key(i: usize) -> String {
    format!("k{i:03}")
}

/// Commits keys k000..k{n-1} of namespace `cc` (value = key) in one block, plus a key in
/// neighbouring namespaces.
fn commit_keys(ledger: &Ledger, signers: &Signers, n: usize) {
    let mut rw = Rw::new().ns("cc");
    for i in 0..n {
        rw = rw.put(&key(i), key(i).as_bytes());
    }
    let rw = rw.ns("cb").put("k000", b"x").ns("cd").put("k000", b"x");
    commit_rw(ledger, signers, &rw);
}

fn v(block_num: u64, tx_num: u64) -> Option<PbVersion> {
    Some(PbVersion { block_num, tx_num })
}

fn read(key: &str, version: Option<PbVersion>) -> KvRead {
    KvRead {
        key: key.to_owned(),
        version,
    }
}

fn write(key: &str, value: &[u8]) -> KvWrite {
    KvWrite {
        key: key.to_owned(),
        is_delete: value.is_empty(),
        value: value.to_vec(),
    }
}

/// The decoded KVRWSet of namespace `ns` in `results` (which must hold it).
fn ns_kv(results: &SimulationResults, ns: &str) -> KvrwSet {
    let ns_rwset = results
        .rwset
        .ns_rwset
        .iter()
        .find(|n| n.namespace == ns)
        .expect("namespace recorded");
    KvrwSet::decode(ns_rwset.rwset.as_slice()).expect("decode kvrwset")
}

/// Fetches query `id` to the end in batches of `max`, returning the keys.
fn drain(sim: &mut TxSimulator, id: &str, max: usize) -> Vec<String> {
    let mut keys = Vec::new();
    loop {
        let (results, has_more) = sim.next_results(id, max).expect("next results");
        keys.extend(results.into_iter().map(|(k, _)| k));
        if !has_more {
            return keys;
        }
    }
}

fn raw(reads: Vec<KvRead>) -> Option<ReadsInfo> {
    Some(ReadsInfo::RawReads(QueryReads { kv_reads: reads }))
}

/// Reads of keys `range` all written in block 0, tx 0.
fn block0_reads(range: std::ops::Range<usize>) -> Vec<KvRead> {
    range.map(|i| read(&key(i), v(0, 0))).collect()
}

#[test]
fn reads_and_writes_are_recorded_sorted_with_committed_versions() {
    let (_dir, ledger) = new_ledger();
    let s = Signers::new();
    commit_rw(
        &ledger,
        &s,
        &Rw::new().ns("cc").put("a", b"1").put("b", b"2"),
    );
    commit_rw(
        &ledger,
        &s,
        &Rw::new()
            .ns("cc")
            .put("b", b"22")
            .ns("other")
            .put("x", b"X"),
    );

    let mut sim = ledger.new_tx_simulator("tx1").expect("simulator");
    assert_eq!(sim.txid(), "tx1");
    assert_eq!(sim.height(), 2);
    // Recorded out of order, across namespaces.
    assert_eq!(
        sim.get_state("other", "x").expect("get"),
        Some(b"X".to_vec())
    );
    assert_eq!(sim.get_state("cc", "b").expect("get"), Some(b"22".to_vec()));
    assert_eq!(sim.get_state("cc", "zz").expect("get"), None);
    sim.set_state("cc", "a", b"new".to_vec()).expect("put");
    // Own writes are invisible: the committed value, the committed version.
    assert_eq!(sim.get_state("cc", "a").expect("get"), Some(b"1".to_vec()));
    sim.set_state("cc", "c", b"v1".to_vec()).expect("put");
    sim.set_state("cc", "c", b"v2".to_vec()).expect("put");
    sim.delete_state("cc", "b").expect("delete");
    sim.set_state("aaa", "k", Vec::new()).expect("empty put");
    sim.set_state("cc", "\u{0}comp\u{0}1\u{0}", b"c".to_vec())
        .expect("composite key");

    let results = sim.done().expect("done");
    let cc = KvrwSet {
        reads: vec![read("a", v(0, 0)), read("b", v(1, 0)), read("zz", None)],
        range_queries_info: vec![],
        writes: vec![
            write("\u{0}comp\u{0}1\u{0}", b"c"),
            write("a", b"new"),
            write("b", b""),
            write("c", b"v2"),
        ],
        metadata_writes: vec![],
    };
    let aaa = KvrwSet {
        writes: vec![write("k", b"")],
        ..Default::default()
    };
    let other = KvrwSet {
        reads: vec![read("x", v(1, 0))],
        ..Default::default()
    };
    let expected = TxReadWriteSet {
        data_model: 0,
        ns_rwset: [("aaa", aaa), ("cc", cc), ("other", other)]
            .into_iter()
            .map(|(ns, kv)| NsReadWriteSet {
                namespace: ns.to_owned(),
                rwset: kv.encode_to_vec(),
                collection_hashed_rwset: vec![],
            })
            .collect(),
    };
    assert_eq!(results.rwset, expected);
    assert_eq!(results.bytes, expected.encode_to_vec());
    assert!(ns_kv(&results, "aaa").writes[0].is_delete);
    assert!(ns_kv(&results, "cc").writes[2].is_delete);
    // Every written key's committed metadata (none here) is reported.
    let written: Vec<(&str, &str)> = results
        .writeset_metadata
        .iter()
        .flat_map(|(ns, keys)| keys.keys().map(move |k| (ns.as_str(), k.as_str())))
        .collect();
    assert_eq!(
        written,
        [
            ("aaa", "k"),
            ("cc", "\u{0}comp\u{0}1\u{0}"),
            ("cc", "a"),
            ("cc", "b"),
            ("cc", "c")
        ]
    );

    // A read-only simulation that records nothing yields an empty rwset.
    let empty = ledger.new_tx_simulator("tx2").expect("simulator");
    let results = empty.done().expect("done");
    assert!(results.rwset.ns_rwset.is_empty());
    assert!(results.bytes.is_empty());
}

#[test]
fn a_simulation_reads_the_state_of_its_start() {
    let (_dir, ledger) = new_ledger();
    let s = Signers::new();
    commit_rw(
        &ledger,
        &s,
        &Rw::new().ns("cc").put("a", b"1").put("b", b"1"),
    );

    let mut old = ledger.new_tx_simulator("old").expect("simulator");
    assert_eq!(old.get_state("cc", "a").expect("get"), Some(b"1".to_vec()));
    commit_rw(
        &ledger,
        &s,
        &Rw::new().ns("cc").put("a", b"2").del("b").put("c", b"2"),
    );
    let mut new = ledger.new_tx_simulator("new").expect("simulator");
    assert_eq!((old.height(), new.height()), (1, 2));

    // The old simulation keeps its view, for point reads and range scans.
    assert_eq!(old.get_state("cc", "b").expect("get"), Some(b"1".to_vec()));
    assert_eq!(old.get_state("cc", "c").expect("get"), None);
    let id = old.open_range("cc", "", "", None).expect("range");
    assert_eq!(drain(&mut old, &id, 100), ["a", "b"]);
    // The new one sees the commit.
    assert_eq!(new.get_state("cc", "a").expect("get"), Some(b"2".to_vec()));
    assert_eq!(new.get_state("cc", "b").expect("get"), None);
    let id = new.open_range("cc", "", "", None).expect("range");
    assert_eq!(drain(&mut new, &id, 100), ["a", "c"]);

    let old = ns_kv(&old.done().expect("done"), "cc");
    assert_eq!(
        old.reads,
        [read("a", v(0, 0)), read("b", v(0, 0)), read("c", None)]
    );
    let new = ns_kv(&new.done().expect("done"), "cc");
    assert_eq!(new.reads, [read("a", v(1, 0)), read("b", None)]);
}

#[test]
fn range_queries_record_raw_reads_or_a_merkle_summary() {
    let (_dir, ledger) = new_ledger();
    let s = Signers::new();
    commit_keys(&ledger, &s, 120);
    let mut sim = ledger.new_tx_simulator("tx").expect("simulator");

    // Up to 50 results, exhausted: raw reads, the requested end key.
    let small = sim.open_range("cc", "k000", "k010", None).expect("range");
    let batch = sim.next_batch(&small, 100).expect("batch");
    assert_eq!(batch.results.len(), 10);
    assert_eq!(batch.results[3], (key(3), key(3).into_bytes()));
    assert!(!batch.has_more && batch.metadata.is_none());
    // A finished query is gone, as Fabric's handler cleans it up.
    assert_eq!(
        sim.next_results(&small, 100),
        Err(SimulationError::UnknownQuery(small.clone()))
    );

    // The whole namespace: 120 results in batches of 100 → a Merkle summary.
    let all = sim.open_range("cc", "", "", None).expect("range");
    let (first, more) = sim.next_results(&all, 100).expect("batch");
    assert_eq!((first.len(), more), (100, true));
    let (rest, more) = sim.next_results(&all, 100).expect("batch");
    assert_eq!((rest.len(), more), (20, false));
    assert_eq!(rest.last().map(|r| r.0.clone()), Some(key(119)));

    // Closed early: the end key is the last key pulled from the iterator, which, as in
    // Fabric's QueryResponseGenerator, includes the result that overflowed the batch.
    let early = sim.open_range("cc", "k020", "k090", None).expect("range");
    let (batch, more) = sim.next_results(&early, 5).expect("batch");
    assert_eq!(batch.len(), 5);
    assert!(more);
    assert!(sim.close_query(&early));
    assert!(!sim.close_query(&early));

    // The same query again, exhausted the same way: recorded once.
    let again = sim.open_range("cc", "k000", "k010", None).expect("range");
    assert_eq!(drain(&mut sim, &again, 3).len(), 10);
    // Opened but never fetched: start key only.
    sim.open_range("cc", "k100", "", None).expect("range");
    // A range in another namespace, empty.
    let none = sim.open_range("zz", "", "", None).expect("range");
    assert!(drain(&mut sim, &none, 100).is_empty());

    let results = sim.done().expect("done");
    let mut helper = RangeQueryResultsHelper::fabric_default();
    for r in block0_reads(0..120) {
        helper.add_result(r);
    }
    let (_, summary) = helper.done();
    let summary = summary.expect("more than 50 results make a summary");
    assert_eq!(summary.max_level_hashes.len(), 3);
    let cc = ns_kv(&results, "cc");
    assert_eq!(
        cc.range_queries_info,
        [
            RangeQueryInfo {
                start_key: key(0),
                end_key: key(10),
                itr_exhausted: true,
                reads_info: raw(block0_reads(0..10)),
            },
            RangeQueryInfo {
                start_key: String::new(),
                end_key: String::new(),
                itr_exhausted: true,
                reads_info: Some(ReadsInfo::ReadsMerkleHashes(summary)),
            },
            RangeQueryInfo {
                start_key: key(20),
                end_key: key(25),
                itr_exhausted: false,
                reads_info: raw(block0_reads(20..26)),
            },
            RangeQueryInfo {
                start_key: key(100),
                end_key: String::new(),
                itr_exhausted: false,
                reads_info: None,
            },
        ]
    );
    assert!(cc.reads.is_empty() && cc.writes.is_empty());
    assert_eq!(
        ns_kv(&results, "zz").range_queries_info,
        [RangeQueryInfo {
            itr_exhausted: true,
            ..Default::default()
        }]
    );
    // Neighbouring namespaces were not scanned.
    assert_eq!(
        results
            .rwset
            .ns_rwset
            .iter()
            .map(|n| n.namespace.as_str())
            .collect::<Vec<_>>(),
        ["cc", "zz"]
    );
}

#[test]
fn an_open_range_query_keeps_its_snapshot_across_commits() {
    let (_dir, ledger) = new_ledger();
    let s = Signers::new();
    commit_keys(&ledger, &s, 60);
    let mut sim = ledger.new_tx_simulator("tx").expect("simulator");
    let id = sim.open_range("cc", "k005", "", None).expect("range");
    let (first, more) = sim.next_results(&id, 10).expect("batch");
    assert!(more);
    let mut keys: Vec<String> = first.into_iter().map(|r| r.0).collect();

    // Between two fetches: keys deleted, inserted, rewritten.
    let mut rw = Rw::new().ns("cc");
    for i in (10..40).step_by(3) {
        rw = rw.del(&key(i));
    }
    let rw = rw.put("k0155", b"new").put(&key(50), b"changed");
    commit_rw(&ledger, &s, &rw);

    keys.extend(drain(&mut sim, &id, 10));
    let expected: Vec<String> = (5..60).map(key).collect();
    assert_eq!(keys, expected);
    let results = sim.done().expect("done");
    let info = &ns_kv(&results, "cc").range_queries_info[0];
    assert!(info.itr_exhausted);
    assert!(matches!(
        info.reads_info,
        Some(ReadsInfo::ReadsMerkleHashes(_))
    ));

    // A simulator started now sees the commit.
    let mut now = ledger.new_tx_simulator("tx2").expect("simulator");
    let id = now.open_range("cc", "k005", "k020", None).expect("range");
    assert_eq!(
        drain(&mut now, &id, 100),
        [
            "k005", "k006", "k007", "k008", "k009", "k011", "k012", "k014", "k015", "k0155",
            "k017", "k018"
        ]
    );
}

#[test]
fn the_total_query_limit_stops_a_query_unexhausted() {
    let (_dir, ledger) = new_ledger();
    let s = Signers::new();
    commit_keys(&ledger, &s, 40);
    let config = SimulatorConfig {
        total_query_limit: 30,
    };
    let mut sim = ledger
        .new_tx_simulator_with("tx", config)
        .expect("simulator");
    let id = sim.open_range("cc", "", "", None).expect("range");
    let (first, more) = sim.next_results(&id, 20).expect("batch");
    assert_eq!((first.len(), more), (20, true));
    let (rest, more) = sim.next_results(&id, 20).expect("batch");
    assert_eq!((rest.len(), more), (10, false));
    let results = sim.done().expect("done");
    assert_eq!(
        ns_kv(&results, "cc").range_queries_info,
        [RangeQueryInfo {
            start_key: String::new(),
            end_key: key(29),
            itr_exhausted: false,
            reads_info: raw(block0_reads(0..30)),
        }]
    );
}

#[test]
fn paginated_queries_walk_with_bookmarks_in_read_only_transactions() {
    let (_dir, ledger) = new_ledger();
    let s = Signers::new();
    commit_keys(&ledger, &s, 5);
    let mut sim = ledger.new_tx_simulator("txp").expect("simulator");

    let page = |bookmark: &str| {
        Some(Pagination {
            page_size: 2,
            bookmark: bookmark.to_owned(),
        })
    };
    let mut bookmark = String::new();
    let mut pages = Vec::new();
    loop {
        let id = sim
            .open_range("cc", "", "", page(&bookmark))
            .expect("paginated range");
        let QueryBatch {
            results,
            has_more,
            metadata,
        } = sim.next_batch(&id, 100).expect("page");
        assert!(!has_more);
        let metadata = metadata.expect("page metadata");
        assert_eq!(metadata.fetched_records_count as usize, results.len());
        pages.push(results.into_iter().map(|r| r.0).collect::<Vec<_>>());
        bookmark = metadata.bookmark;
        if bookmark.is_empty() {
            break;
        }
        assert!(matches!(
            sim.next_batch(&id, 100),
            Err(SimulationError::UnknownQuery(_))
        ));
    }
    assert_eq!(
        pages,
        [vec![key(0), key(1)], vec![key(2), key(3)], vec![key(4)]]
    );

    // No writes after a paginated query.
    let err = sim
        .set_state("cc", "k", b"v".to_vec())
        .expect_err("write after paginated query");
    assert_eq!(
        err.to_string(),
        "txid [txp]: unsuppored transaction. Transaction has already performed a paginated \
         query. Writes are not allowed"
    );
    assert!(sim.delete_state("cc", "k").is_err());
    assert!(
        sim.set_state_metadata("cc", "k", KeyMetadata::new())
            .is_err()
    );

    let results = sim.done().expect("done");
    let cc = ns_kv(&results, "cc");
    assert!(cc.writes.is_empty() && cc.metadata_writes.is_empty());
    assert_eq!(
        cc.range_queries_info,
        [
            RangeQueryInfo {
                start_key: String::new(),
                end_key: key(1),
                itr_exhausted: false,
                reads_info: raw(block0_reads(0..2)),
            },
            RangeQueryInfo {
                start_key: key(2),
                end_key: key(3),
                itr_exhausted: false,
                reads_info: raw(block0_reads(2..4)),
            },
            RangeQueryInfo {
                start_key: key(4),
                end_key: String::new(),
                itr_exhausted: true,
                reads_info: raw(block0_reads(4..5)),
            },
        ]
    );

    // No paginated query after a write; plain range queries are fine, and metadata with
    // neither page size nor bookmark is no pagination.
    let mut sim = ledger.new_tx_simulator("txw").expect("simulator");
    sim.set_state("cc", "k", b"v".to_vec()).expect("put");
    let err = sim
        .open_range("cc", "", "", page(""))
        .expect_err("paginated query after write");
    assert_eq!(
        err.to_string(),
        "txid [txw]: unsuppored transaction. Paginated queries are supported only in a \
         read-only transaction"
    );
    let id = sim
        .open_range("cc", "", "", Some(Pagination::default()))
        .expect("unpaginated");
    let batch = sim.next_batch(&id, 100).expect("batch");
    assert_eq!((batch.results.len(), batch.metadata), (5, None));
    sim.set_state("cc", "k2", b"v".to_vec()).expect("put");
}

#[test]
fn metadata_reads_and_writes_are_recorded() {
    let (_dir, ledger) = new_ledger();
    let s = Signers::new();
    commit_rw(
        &ledger,
        &s,
        &Rw::new()
            .ns("cc")
            .put("m", b"v")
            .meta("m", &[(VALIDATION_PARAMETER, b"policy"), ("z", b"1")])
            .put("plain", b"p"),
    );
    let mut sim = ledger.new_tx_simulator("tx").expect("simulator");
    let committed: KeyMetadata = [
        (VALIDATION_PARAMETER.to_owned(), b"policy".to_vec()),
        ("z".to_owned(), b"1".to_vec()),
    ]
    .into_iter()
    .collect();
    assert_eq!(sim.get_state_metadata("cc", "m").expect("meta"), committed);
    assert!(
        sim.get_state_metadata("cc", "absent")
            .expect("meta")
            .is_empty()
    );
    let values = sim
        .get_state_multiple("cc", &["plain".to_owned(), "gone".to_owned()])
        .expect("multiple");
    assert_eq!(values, [Some(b"p".to_vec()), None]);

    let new: KeyMetadata = [
        ("b".to_owned(), b"2".to_vec()),
        ("a".to_owned(), b"1".to_vec()),
    ]
    .into_iter()
    .collect();
    sim.set_state_metadata("cc", "plain", KeyMetadata::new())
        .expect("meta");
    sim.set_state_metadata("cc", "plain", new).expect("meta");
    sim.delete_state_metadata("cc", "m").expect("delete meta");

    let results = sim.done().expect("done");
    let cc = ns_kv(&results, "cc");
    assert_eq!(
        cc.reads,
        [
            read("absent", None),
            read("gone", None),
            read("m", v(0, 0)),
            read("plain", v(0, 0))
        ]
    );
    let entry = |name: &str, value: &[u8]| KvMetadataEntry {
        name: name.to_owned(),
        value: value.to_vec(),
    };
    assert_eq!(
        cc.metadata_writes,
        [
            KvMetadataWrite {
                key: "m".to_owned(),
                entries: vec![],
            },
            KvMetadataWrite {
                key: "plain".to_owned(),
                entries: vec![entry("a", b"1"), entry("b", b"2")],
            },
        ]
    );
    assert!(cc.writes.is_empty());
    let cc_meta = &results.writeset_metadata["cc"];
    assert_eq!(cc_meta["m"], committed);
    assert!(cc_meta["plain"].is_empty());
}

#[test]
fn history_is_read_but_not_recorded() {
    let (_dir, ledger) = new_ledger();
    let s = Signers::new();
    commit_rw(&ledger, &s, &Rw::new().ns("cc").put("h", b"1"));
    commit_rw(&ledger, &s, &Rw::new().ns("cc").put("h", b"2"));
    let sim = ledger.new_tx_simulator("tx").expect("simulator");
    let history = sim.history("cc", "h").expect("history");
    let values: Vec<Option<Vec<u8>>> = history.into_iter().map(|e| e.value).collect();
    assert_eq!(values, [Some(b"2".to_vec()), Some(b"1".to_vec())]);
    assert!(sim.done().expect("done").rwset.ns_rwset.is_empty());
}

#[test]
fn a_simulator_moves_to_another_thread() {
    let (_dir, ledger) = new_ledger();
    let s = Signers::new();
    commit_rw(&ledger, &s, &Rw::new().ns("cc").put("a", b"1"));
    let mut sim = ledger.new_tx_simulator("tx").expect("simulator");
    let id = sim.open_range("cc", "", "", None).expect("range");
    // The ledger handle may go: the simulator keeps it alive.
    drop(ledger);
    let results = std::thread::spawn(move || {
        let value = sim.get_state("cc", "a").expect("get");
        let keys = drain(&mut sim, &id, 100);
        (value, keys, sim.done().expect("done"))
    })
    .join()
    .expect("thread");
    assert_eq!(results.0, Some(b"1".to_vec()));
    assert_eq!(results.1, ["a"]);
    assert_eq!(ns_kv(&results.2, "cc").reads, [read("a", v(0, 0))]);
}

mod private_data {
    //! Private data: what the simulator records, and reads of committed private state.

    use super::*;
    use crate::ledger::private::{hash, private_writes_matching};
    use crate::ledger::tests::fixtures::{next_block, updates_of};
    use weft_proto::kvrwset::{HashedRwSet, KvReadHash, KvWriteHash};

    /// Commits a transaction carrying `results` (public rwset from the block, private
    /// writes from the private rwset checked against the block's hashes) as the channel
    /// does for a member peer that endorsed it.
    fn commit_results(ledger: &Ledger, signers: &Signers, results: &SimulationResults) {
        let tx = signers.endorser_tx_with(results.rwset.clone());
        let block = next_block(ledger, std::slice::from_ref(&tx));
        let mut updates = updates_of(std::slice::from_ref(&tx));
        for update in &mut updates {
            if let Some(pvt) = &results.pvt_rwset {
                update.private =
                    private_writes_matching(pvt, &update.collections, |_, _| true).expect("match");
            }
        }
        ledger.commit(&block, &updates).expect("commit");
    }

    fn hashed_set(results: &SimulationResults, ns: &str, coll: &str) -> (HashedRwSet, Vec<u8>) {
        let set = results
            .rwset
            .ns_rwset
            .iter()
            .find(|n| n.namespace == ns)
            .and_then(|n| {
                n.collection_hashed_rwset
                    .iter()
                    .find(|c| c.collection_name == coll)
            })
            .expect("collection recorded");
        (
            HashedRwSet::decode(set.hashed_rwset.as_slice()).expect("decode"),
            set.pvt_rwset_hash.clone(),
        )
    }

    #[test]
    fn private_writes_go_hashed_to_the_rwset_and_clear_to_the_private_set() {
        let (_dir, ledger) = new_ledger();
        let mut sim = ledger.new_tx_simulator("tx1").expect("sim");
        sim.set_private_data("cc", "coll", "z", b"last".to_vec())
            .expect("write");
        sim.set_private_data("cc", "coll", "a", b"first".to_vec())
            .expect("write");
        sim.delete_private_data("cc", "coll", "d").expect("delete");
        sim.set_state("cc", "pub", b"p".to_vec()).expect("public");
        let results = sim.done().expect("done");

        let (hashed, pvt_hash) = hashed_set(&results, "cc", "coll");
        // Sorted by the key in clear: a, d, z.
        assert_eq!(
            hashed.hashed_writes,
            vec![
                KvWriteHash {
                    key_hash: hash(b"a"),
                    is_delete: false,
                    value_hash: hash(b"first"),
                    is_purge: false,
                },
                KvWriteHash {
                    key_hash: hash(b"d"),
                    is_delete: true,
                    value_hash: Vec::new(),
                    is_purge: false,
                },
                KvWriteHash {
                    key_hash: hash(b"z"),
                    is_delete: false,
                    value_hash: hash(b"last"),
                    is_purge: false,
                },
            ]
        );
        let pvt = results.pvt_rwset.as_ref().expect("private rwset");
        assert_eq!(pvt.ns_pvt_rwset.len(), 1);
        let coll = &pvt.ns_pvt_rwset[0].collection_pvt_rwset[0];
        assert_eq!(coll.collection_name, "coll");
        assert_eq!(hash(&coll.rwset), pvt_hash);
        let kv = KvrwSet::decode(coll.rwset.as_slice()).expect("decode");
        assert_eq!(
            kv.writes,
            vec![write("a", b"first"), write("d", b""), write("z", b"last")]
        );
        // The public part is untouched by the private writes.
        assert_eq!(ns_kv(&results, "cc").writes, vec![write("pub", b"p")]);
    }

    #[test]
    fn committed_private_data_reads_back_with_its_hash_version() {
        let (_dir, ledger) = new_ledger();
        let signers = Signers::new();
        let mut sim = ledger.new_tx_simulator("tx1").expect("sim");
        sim.set_private_data("cc", "coll", "k", b"secret".to_vec())
            .expect("write");
        let results = sim.done().expect("done");
        commit_results(&ledger, &signers, &results);

        let mut sim = ledger.new_tx_simulator("tx2").expect("sim");
        assert_eq!(
            sim.get_private_data("cc", "coll", "k").expect("read"),
            Some(b"secret".to_vec())
        );
        assert_eq!(
            sim.get_private_data_hash("cc", "coll", "k").expect("hash"),
            Some(hash(b"secret"))
        );
        assert_eq!(
            sim.get_private_data("cc", "coll", "absent").expect("read"),
            None
        );
        let results = sim.done().expect("done");
        let (hashed, pvt_hash) = hashed_set(&results, "cc", "coll");
        assert!(pvt_hash.is_empty(), "reads only: no private rwset");
        assert!(results.pvt_rwset.is_none());
        assert_eq!(
            hashed.hashed_reads,
            vec![
                KvReadHash {
                    key_hash: hash(b"absent"),
                    version: None,
                },
                KvReadHash {
                    key_hash: hash(b"k"),
                    version: v(0, 0),
                },
            ]
        );
        assert_eq!(
            ledger
                .private_data("cc", "coll", "k")
                .expect("read")
                .map(|v| v.value),
            Some(b"secret".to_vec())
        );
    }

    #[test]
    fn a_peer_without_the_private_value_refuses_to_read_it() {
        let (_dir, ledger) = new_ledger();
        let signers = Signers::new();
        let mut sim = ledger.new_tx_simulator("tx1").expect("sim");
        sim.set_private_data("cc", "coll", "k", b"secret".to_vec())
            .expect("write");
        let mut results = sim.done().expect("done");
        // A non-member (or a peer that missed the data): hashes only.
        results.pvt_rwset = None;
        commit_results(&ledger, &signers, &results);

        let mut sim = ledger.new_tx_simulator("tx2").expect("sim");
        let err = sim
            .get_private_data("cc", "coll", "k")
            .expect_err("mismatch");
        assert_eq!(
            err.to_string(),
            "private data matching public hash version is not available. Public hash version = \
             {BlockNum: 0, TxNum: 0}, Private data version = <nil>"
        );
        // The hash is there for every peer.
        assert_eq!(
            sim.get_private_data_hash("cc", "coll", "k").expect("hash"),
            Some(hash(b"secret"))
        );
    }

    #[test]
    fn private_range_queries_record_nothing_and_forbid_writes() {
        let (_dir, ledger) = new_ledger();
        let signers = Signers::new();
        let mut sim = ledger.new_tx_simulator("tx1").expect("sim");
        for k in ["a", "b", "c"] {
            sim.set_private_data("cc", "coll", k, k.as_bytes().to_vec())
                .expect("write");
        }
        let results = sim.done().expect("done");
        commit_results(&ledger, &signers, &results);

        let mut sim = ledger.new_tx_simulator("tx2").expect("sim");
        let id = sim
            .open_private_range("cc", "coll", "a", "c")
            .expect("open");
        let batch = sim.next_batch(&id, 10).expect("batch");
        assert_eq!(
            batch.results,
            vec![("a".into(), b"a".to_vec()), ("b".into(), b"b".to_vec())]
        );
        assert!(!batch.has_more);
        let err = sim
            .set_private_data("cc", "coll", "d", b"d".to_vec())
            .expect_err("write after private query");
        assert!(matches!(
            err,
            SimulationError::WriteAfterPrivateQuery { .. }
        ));
        let results = sim.done().expect("done");
        assert!(results.rwset.ns_rwset.is_empty(), "nothing recorded");

        let mut sim = ledger.new_tx_simulator("tx3").expect("sim");
        sim.set_state("cc", "x", b"x".to_vec()).expect("write");
        let err = sim
            .open_private_range("cc", "coll", "", "")
            .expect_err("query after write");
        assert_eq!(
            err.to_string(),
            "txid [tx3]: unsuppored transaction. Queries on pvt data is supported only in a \
             read-only transaction"
        );
    }

    #[test]
    fn purges_and_collection_checks() {
        let (_dir, ledger) = new_ledger();
        let mut sim = ledger.new_tx_simulator("tx1").expect("sim");
        sim.set_collection_check(Arc::new(|_, ns: &str, coll: &str| {
            if coll == "coll" {
                Ok(())
            } else {
                Err(format!(
                    "collection [{coll}] not defined in the collection config for chaincode [{ns}]"
                ))
            }
        }));
        sim.purge_private_data("cc", "coll", "k").expect("purge");
        let err = sim
            .set_private_data("cc", "other", "k", b"v".to_vec())
            .expect_err("undefined collection");
        assert_eq!(
            err.to_string(),
            "collection [other] not defined in the collection config for chaincode [cc]"
        );
        let results = sim.done().expect("done");
        let (hashed, _) = hashed_set(&results, "cc", "coll");
        assert_eq!(
            hashed.hashed_writes,
            vec![KvWriteHash {
                key_hash: hash(b"k"),
                is_delete: true,
                value_hash: Vec::new(),
                is_purge: true,
            }]
        );
    }
}
