//! Reopening, catching up state and history that lag behind the blocks, rebuilding,
//! and the hashes that compare two ledgers.

use std::path::Path;

use rocksdb::{Options, WriteBatch};
use weft_common::blockstore::{BlockStore, Db};
use weft_proto::common::Block;
use weft_proto::protos::TxValidationCode;

use super::fixtures::{Rw, Signers, Tx, commit, open, updates_of};
use crate::ledger::{Ledger, StateView, VersionedValue};

/// Five blocks of puts, deletes, metadata writes, an invalid transaction and a config
/// transaction.
fn workload(s: &Signers) -> Vec<Vec<Tx>> {
    vec![
        vec![s.config_tx()],
        vec![
            s.endorser_tx(
                &Rw::new()
                    .put("a", b"1")
                    .put("b", b"1")
                    .meta("a", &[("P", b"p")]),
            ),
            s.endorser_tx(&Rw::new().ns("other").put("\u{0}x\u{0}", b"1")),
        ],
        vec![
            s.endorser_tx(&Rw::new().put("a", b"2").del("b")),
            s.endorser_tx(&Rw::new().put("c", b"x"))
                .with_code(TxValidationCode::MvccReadConflict),
            s.endorser_tx(&Rw::new().meta("a", &[("Q", b"q")]).put("d", b"2")),
        ],
        vec![],
        vec![
            s.endorser_tx(&Rw::new().put("b", b"4").meta("d", &[])),
            s.endorser_tx(&Rw::new().put("e", b"4").del("a")),
        ],
    ]
}

fn commit_all(ledger: &Ledger, blocks: &[Vec<Tx>]) -> Vec<Block> {
    blocks.iter().map(|txs| commit(ledger, txs)).collect()
}

fn hashes(ledger: &Ledger) -> ([u8; 32], [u8; 32]) {
    (
        ledger.state_hash().expect("state hash"),
        ledger.history_hash().expect("history hash"),
    )
}

fn all_state(ledger: &impl StateView) -> Vec<(String, VersionedValue)> {
    ["cc", "other"]
        .iter()
        .flat_map(|ns| ledger.range(ns, "", "").expect("range"))
        .map(|item| item.expect("item"))
        .collect()
}

/// Drops column family `name` from the database in `dir` (the ledger must be closed).
fn drop_cf(dir: &Path, name: &str) {
    let opts = Options::default();
    let names = Db::list_cf(&opts, dir).expect("list cfs");
    assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    let mut db = Db::open_cf(&opts, dir, &names).expect("open raw");
    db.drop_cf(name).expect("drop cf");
}

#[test]
fn reopening_keeps_blocks_state_and_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Signers::new();
    let blocks = workload(&s);
    let (expected, state) = {
        let ledger = open(dir.path());
        commit_all(&ledger, &blocks[..4]);
        (hashes(&ledger), all_state(&ledger))
    };
    {
        // Both savepoints name the last block, so opening replays nothing.
        let store = BlockStore::open(dir.path(), &["state", "history"]).expect("store");
        for name in ["state", "history"] {
            let savepoint = store
                .db()
                .get_cf(store.cf(name).expect("cf"), b"\xffsavepoint")
                .expect("get");
            assert_eq!(savepoint, Some(3u64.to_be_bytes().to_vec()), "{name}");
        }
    }
    let ledger = open(dir.path());
    assert_eq!(ledger.height(), 4);
    assert_eq!(hashes(&ledger), expected);
    assert_eq!(all_state(&ledger), state);
    assert_eq!(ledger.snapshot().expect("snapshot").height(), 4);
    // And the chain goes on.
    commit(&ledger, &blocks[4]);
    assert_eq!(ledger.height(), 5);
    assert_ne!(hashes(&ledger), expected);
}

#[test]
fn two_ledgers_with_the_same_blocks_hash_alike() {
    let s = Signers::new();
    let blocks = workload(&s);
    let (d1, d2) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let (l1, l2) = (open(d1.path()), open(d2.path()));
    commit_all(&l1, &blocks);
    commit_all(&l2, &blocks);
    assert_eq!(hashes(&l1), hashes(&l2));

    // One more differing write changes the state hash, and the history hash.
    commit(&l1, &[s.endorser_tx(&Rw::new().put("z", b"1"))]);
    commit(&l2, &[s.endorser_tx(&Rw::new().put("z", b"2"))]);
    let (h1, h2) = (hashes(&l1), hashes(&l2));
    assert_ne!(h1.0, h2.0);
    assert_eq!(h1.1, h2.1, "same keys at the same versions");
    // A metadata difference alone changes the state hash too.
    commit(&l1, &[s.endorser_tx(&Rw::new().meta("z", &[("P", b"1")]))]);
    commit(&l2, &[s.endorser_tx(&Rw::new().meta("z", &[("P", b"2")]))]);
    commit(&l1, &[s.endorser_tx(&Rw::new().put("z", b"same"))]);
    commit(&l2, &[s.endorser_tx(&Rw::new().put("z", b"same"))]);
    assert_ne!(hashes(&l1).0, hashes(&l2).0);
}

#[test]
fn wiped_state_or_history_is_replayed_on_open() {
    let s = Signers::new();
    let blocks = workload(&s);
    for wiped in [&["state"][..], &["history"], &["state", "history"]] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (expected, state, history) = {
            let ledger = open(dir.path());
            commit_all(&ledger, &blocks);
            let history = ledger.history("cc", "a").expect("history");
            assert_eq!(history.len(), 3);
            (hashes(&ledger), all_state(&ledger), history)
        };
        for name in wiped {
            drop_cf(dir.path(), name);
        }
        {
            // Really gone before the ledger reopens.
            let store = BlockStore::open(dir.path(), &["state", "history"]).expect("store");
            let cf = store.cf(wiped[0]).expect("cf");
            assert!(
                store
                    .db()
                    .iterator_cf(cf, rocksdb::IteratorMode::Start)
                    .next()
                    .is_none()
            );
        }
        let ledger = open(dir.path());
        assert_eq!(hashes(&ledger), expected, "after wiping {wiped:?}");
        assert_eq!(all_state(&ledger), state);
        assert_eq!(ledger.history("cc", "a").expect("history"), history);
        commit(&ledger, &[s.endorser_tx(&Rw::new().put("a", b"after"))]);
    }
}

#[test]
fn state_behind_the_blocks_catches_up() {
    let s = Signers::new();
    let blocks = workload(&s);
    let reference_dir = tempfile::tempdir().expect("tempdir");
    let reference = open(reference_dir.path());
    let committed = commit_all(&reference, &blocks);

    // A ledger whose blocks 3.. were appended without state or history (as a version
    // committing them separately would leave it after a crash).
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let ledger = open(dir.path());
        for (txs, block) in blocks.iter().zip(&committed).take(2) {
            ledger.commit(block, &updates_of(txs)).expect("commit");
        }
    }
    {
        let store = BlockStore::open(dir.path(), &[]).expect("store");
        for block in &committed[2..] {
            store.append(block, WriteBatch::default()).expect("append");
        }
    }
    let ledger = open(dir.path());
    assert_eq!(ledger.height(), 5);
    assert_eq!(hashes(&ledger), hashes(&reference));
    assert_eq!(all_state(&ledger), all_state(&reference));
    assert_eq!(
        ledger.history("cc", "a").expect("history"),
        reference.history("cc", "a").expect("history")
    );
}

#[test]
fn leftovers_without_a_savepoint_are_cleared_before_replay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Signers::new();
    let blocks = workload(&s);
    let (expected, state) = {
        let ledger = open(dir.path());
        commit_all(&ledger, &blocks);
        (hashes(&ledger), all_state(&ledger))
    };
    {
        // Stale state and history entries without savepoints: replaying over them
        // without clearing first would keep them.
        let store = BlockStore::open(dir.path(), &["state", "history"]).expect("store");
        let mut batch = WriteBatch::default();
        for name in ["state", "history"] {
            batch.delete_cf(store.cf(name).expect("cf"), b"\xffsavepoint");
        }
        batch.put_cf(
            store.cf("state").expect("cf"),
            b"cc\x00stale",
            b"\x01garbage",
        );
        batch.put_cf(store.cf("history").expect("cf"), b"cc\x00stale\x00", b"");
        store.db().write(batch).expect("write");
    }
    let ledger = open(dir.path());
    assert_eq!(hashes(&ledger), expected);
    assert_eq!(all_state(&ledger), state);
}

#[test]
fn rebuild_gives_identical_state_and_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Signers::new();
    let blocks = workload(&s);
    let ledger = open(dir.path());
    commit_all(&ledger, &blocks);
    let expected = hashes(&ledger);
    let state = all_state(&ledger);

    ledger.rebuild_state().expect("rebuild");
    assert_eq!(hashes(&ledger), expected);
    assert_eq!(all_state(&ledger), state);
    assert_eq!(ledger.snapshot().expect("snapshot").height(), 5);

    // Commits continue after a rebuild, and a reopen does not replay again needlessly.
    commit(&ledger, &[s.endorser_tx(&Rw::new().put("a", b"6"))]);
    let after = hashes(&ledger);
    drop(ledger);
    let ledger = open(dir.path());
    assert_eq!(hashes(&ledger), after);
}

#[test]
fn empty_ledger_opens_and_hashes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = open(dir.path());
    assert_eq!(ledger.height(), 0);
    assert_eq!(ledger.snapshot().expect("snapshot").height(), 0);
    let empty = hashes(&ledger);
    ledger.rebuild_state().expect("rebuild empty");
    assert_eq!(hashes(&ledger), empty);
    drop(ledger);
    assert_eq!(hashes(&open(dir.path())), empty);
}
