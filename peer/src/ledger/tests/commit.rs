//! Commit semantics: versions, metadata retention, deletes, invalid transactions, the
//! checks on what `commit` is given.

use weft_common::blockstore::BlockStoreError;
use weft_common::protoutil::set_transactions_filter;
use weft_proto::protos::TxValidationCode;

use super::fixtures::{Rw, Signers, Tx, commit, next_block, open, updates_of};
use crate::ledger::{
    KeyMetadata, LedgerError, StateView, VALIDATION_PARAMETER, Version, VersionedValue,
    updates_of_committed_block,
};

fn md(entries: &[(&str, &[u8])]) -> KeyMetadata {
    entries
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.to_vec()))
        .collect()
}

fn vv(value: &[u8], metadata: KeyMetadata, block: u64, tx: u64) -> Option<VersionedValue> {
    Some(VersionedValue {
        value: value.to_vec(),
        metadata,
        version: Version::new(block, tx),
    })
}

fn get(ledger: &impl StateView, key: &str) -> Option<VersionedValue> {
    ledger.get_state("cc", key).expect("get_state")
}

#[test]
fn versions_metadata_and_deletes_follow_fabric() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = open(dir.path());
    let s = Signers::new();
    let policy: &[u8] = b"key-level policy";

    // Block 0: a with metadata, b and c plain; a key in another namespace.
    commit(
        &ledger,
        &[
            s.endorser_tx(
                &Rw::new()
                    .ns("cc")
                    .put("a", b"a0")
                    .meta("a", &[(VALIDATION_PARAMETER, policy)])
                    .put("b", b"b0"),
            ),
            s.endorser_tx(
                &Rw::new()
                    .ns("cc")
                    .put("c", b"c0")
                    .ns("other")
                    .put("a", b"x"),
            ),
        ],
    );
    assert_eq!(
        get(&ledger, "a"),
        vv(b"a0", md(&[(VALIDATION_PARAMETER, policy)]), 0, 0)
    );
    assert_eq!(get(&ledger, "b"), vv(b"b0", md(&[]), 0, 0));
    assert_eq!(get(&ledger, "c"), vv(b"c0", md(&[]), 0, 1));
    assert_eq!(
        ledger.get_state("other", "a").expect("get"),
        vv(b"x", md(&[]), 0, 1)
    );

    // Block 1.
    commit(
        &ledger,
        &[
            // tx0: a's value changes, its metadata stays.
            s.endorser_tx(&Rw::new().put("a", b"a1")),
            // tx1: metadata only on b: value stays, version moves.
            s.endorser_tx(&Rw::new().meta("b", &[("X", b"1"), ("Y", b"2")])),
            // tx2: metadata on an absent key: ignored.
            s.endorser_tx(&Rw::new().meta("ghost", &[("X", b"1")])),
            // tx3: delete c (value and metadata).
            s.endorser_tx(&Rw::new().del("c").meta("c", &[("X", b"1")])),
            // tx4: overrides tx0's write of a; keeps a's metadata still.
            s.endorser_tx(&Rw::new().put("a", b"a4")),
            // tx5: metadata on b again, emptied: cleared, value kept.
            s.endorser_tx(&Rw::new().meta("b", &[])),
            // tx6: c comes back: no metadata survives the delete.
            s.endorser_tx(&Rw::new().put("c", b"c6")),
            // tx7: a put with metadata replaces both.
            s.endorser_tx(&Rw::new().put("d", b"d7").meta("d", &[("Z", b"z")])),
        ],
    );
    assert_eq!(
        get(&ledger, "a"),
        vv(b"a4", md(&[(VALIDATION_PARAMETER, policy)]), 1, 4)
    );
    assert_eq!(get(&ledger, "b"), vv(b"b0", md(&[]), 1, 5));
    assert_eq!(get(&ledger, "ghost"), None);
    assert_eq!(get(&ledger, "c"), vv(b"c6", md(&[]), 1, 6));
    assert_eq!(get(&ledger, "d"), vv(b"d7", md(&[("Z", b"z")]), 1, 7));
    // Untouched namespaces keep their versions.
    assert_eq!(
        ledger.get_state("other", "a").expect("get"),
        vv(b"x", md(&[]), 0, 1)
    );

    // Block 2: metadata written by one transaction is kept by a put in a later one; a
    // deleted key stays deleted.
    commit(
        &ledger,
        &[
            s.endorser_tx(&Rw::new().meta("b", &[("K", b"k")])),
            s.endorser_tx(&Rw::new().put("b", b"b2")),
            s.endorser_tx(&Rw::new().del("d")),
        ],
    );
    assert_eq!(get(&ledger, "b"), vv(b"b2", md(&[("K", b"k")]), 2, 1));
    assert_eq!(get(&ledger, "d"), None);
    assert_eq!(ledger.height(), 3);
}

#[test]
fn invalid_transactions_write_nothing_but_are_indexed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = open(dir.path());
    let s = Signers::new();
    let txs = [
        s.endorser_tx(&Rw::new().put("a", b"1")),
        s.endorser_tx(&Rw::new().put("b", b"1").put("a", b"bad"))
            .with_code(TxValidationCode::MvccReadConflict),
        s.config_tx(),
        s.endorser_tx(&Rw::new().put("c", b"3")),
    ];
    let block = commit(&ledger, &txs);

    assert_eq!(get(&ledger, "a"), vv(b"1", md(&[]), 0, 0));
    assert_eq!(get(&ledger, "b"), None);
    assert_eq!(get(&ledger, "c"), vv(b"3", md(&[]), 0, 3));
    assert!(ledger.history("cc", "b").expect("history").is_empty());
    assert_eq!(ledger.history("cc", "a").expect("history").len(), 1);

    // Only the valid transactions carry updates (the config one its ConfigEnvelope).
    let updates = updates_of_committed_block(&block).expect("updates");
    assert_eq!(
        updates.iter().map(|u| u.tx_num).collect::<Vec<_>>(),
        vec![0, 2, 3]
    );
    assert_eq!(
        updates[1].namespaces[0].namespace,
        crate::ledger::PEER_NAMESPACE
    );
    assert_eq!(updates[2].txid, txs[3].txid);

    // Every transaction is in the txid index, invalid or config ones too.
    for (index, tx) in txs.iter().enumerate() {
        assert!(
            ledger.contains_txid(&tx.txid).expect("contains"),
            "tx {index}"
        );
        let location = ledger
            .block_store()
            .tx_location(&tx.txid)
            .expect("location")
            .expect("indexed");
        assert_eq!(
            (location.block_number, location.tx_index as usize),
            (0, index)
        );
    }
    assert!(!ledger.contains_txid("no-such-tx").expect("contains"));
}

#[test]
fn commit_refuses_inconsistent_input_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = open(dir.path());
    let s = Signers::new();
    commit(&ledger, &[s.endorser_tx(&Rw::new().put("a", b"0"))]);
    let state = ledger.state_hash().expect("state hash");
    let history = ledger.history_hash().expect("history hash");

    let txs = [
        s.endorser_tx(&Rw::new().put("a", b"1")),
        s.endorser_tx(&Rw::new().put("b", b"1"))
            .with_code(TxValidationCode::EndorsementPolicyFailure),
    ];
    let good = next_block(&ledger, &txs);
    let updates = updates_of(&txs);

    // No TRANSACTIONS_FILTER.
    let mut unfiltered = good.clone();
    set_transactions_filter(&mut unfiltered, Vec::new());
    assert!(matches!(
        ledger.commit(&unfiltered, &updates),
        Err(LedgerError::InvalidCommit(_))
    ));

    // Updates of a transaction the filter says is invalid.
    let all = [
        txs[0].clone(),
        Tx {
            code: TxValidationCode::Valid,
            ..txs[1].clone()
        },
    ];
    assert!(matches!(
        ledger.commit(&good, &updates_of(&all)),
        Err(LedgerError::InvalidCommit(_))
    ));

    // Updates out of order.
    let mut twice = updates.clone();
    twice.push(updates[0].clone());
    assert!(matches!(
        ledger.commit(&good, &twice),
        Err(LedgerError::InvalidCommit(_))
    ));

    // A namespace the key layout cannot hold.
    let mut nul = updates.clone();
    nul[0].namespaces[0].namespace = "c\0c".into();
    assert_eq!(
        ledger.commit(&good, &nul),
        Err(LedgerError::InvalidNamespace("c\0c".into()))
    );

    // Not the next block.
    let mut skipped = good.clone();
    if let Some(h) = skipped.header.as_mut() {
        h.number = 5;
    }
    assert_eq!(
        ledger.commit(&skipped, &updates),
        Err(LedgerError::BlockStore(BlockStoreError::WrongNumber {
            expected: 1,
            got: 5
        }))
    );

    // A broken hash chain: refused by the block store after the batch was built; the
    // batch must not have been written either.
    let mut unchained = good.clone();
    if let Some(h) = unchained.header.as_mut() {
        h.previous_hash = vec![0; 32];
    }
    assert!(matches!(
        ledger.commit(&unchained, &updates),
        Err(LedgerError::BlockStore(
            BlockStoreError::WrongPreviousHash { .. }
        ))
    ));

    assert_eq!(ledger.height(), 1);
    assert_eq!(get(&ledger, "a"), vv(b"0", md(&[]), 0, 0));
    assert_eq!(ledger.state_hash().expect("state hash"), state);
    assert_eq!(ledger.history_hash().expect("history hash"), history);
    assert!(!ledger.contains_txid(&txs[0].txid).expect("contains"));

    // The good block still commits.
    ledger.commit(&good, &updates).expect("commit");
    assert_eq!(get(&ledger, "a"), vv(b"1", md(&[]), 1, 0));
    assert_ne!(ledger.state_hash().expect("state hash"), state);
    assert_ne!(ledger.history_hash().expect("history hash"), history);
}

#[test]
fn empty_blocks_and_config_blocks_commit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = open(dir.path());
    let s = Signers::new();
    commit(&ledger, &[s.config_tx()]);
    commit(&ledger, &[]);
    commit(&ledger, &[s.endorser_tx(&Rw::new().put("k", b"v"))]);
    assert_eq!(ledger.height(), 3);
    assert_eq!(get(&ledger, "k"), vv(b"v", md(&[]), 2, 0));
    assert_eq!(ledger.snapshot().expect("snapshot").height(), 3);
}

#[test]
fn rwsets_decode_into_updates() {
    let rw = Rw::new()
        .ns("a")
        .put("k1", b"v1")
        .del("k2")
        .meta("k1", &[("P", b"p"), ("Q", b"")])
        .ns("b");
    let updates = crate::ledger::tx_updates_from_rwset(4, "t", &rw.build()).expect("updates");
    assert_eq!(updates.tx_num, 4);
    assert_eq!(updates.txid, "t");
    // Namespace "b" writes nothing: left out.
    assert_eq!(updates.namespaces.len(), 1);
    let a = &updates.namespaces[0];
    assert_eq!(a.namespace, "a");
    assert_eq!(
        a.writes,
        vec![
            crate::ledger::KeyWrite {
                key: "k1".into(),
                value: Some(b"v1".to_vec())
            },
            crate::ledger::KeyWrite {
                key: "k2".into(),
                value: None
            },
        ]
    );
    assert_eq!(a.metadata_writes[0].entries, md(&[("P", b"p"), ("Q", b"")]));

    let mut broken = rw.build();
    broken.ns_rwset[0].rwset = vec![0x1a, 0x05, 0x0a];
    assert!(matches!(
        crate::ledger::tx_updates_from_rwset(0, "t", &broken),
        Err(LedgerError::InvalidRwset(_))
    ));
}
