//! How a block's updates change the state: Fabric's per-transaction key operations
//! (`txmgmt/validation/tx_ops_preparation.go`), independent of storage.
//!
//! Transactions apply in order, each seeing the outcome of the earlier ones. Within one
//! transaction each touched key gets one outcome, with version `(block, tx_num)`:
//!
//! - a delete removes value and metadata (it wins over a put or metadata write of the
//!   same key in the same transaction);
//! - a put with a metadata write stores both;
//! - a put alone keeps the key's latest metadata (from an earlier transaction of the
//!   block, else the committed state);
//! - a metadata write alone keeps the latest value with the new metadata (an empty entry
//!   set clears it); on an absent key it is ignored and the key stays absent.
//!
//! Several puts (or metadata writes) of one key in one transaction — which no endorser
//! produces — keep the last one.

use std::collections::BTreeMap;

use super::{KeyMetadata, LedgerError, TxUpdates, Version, VersionedValue};

/// `(namespace, key)`.
pub(crate) type StateKey = (String, String);

/// What a block leaves behind for every key it touched: the new value, or `None` when
/// the key is now absent.
pub(crate) type StateChanges = BTreeMap<StateKey, Option<VersionedValue>>;

/// One transaction's operations on one key.
#[derive(Debug, Default)]
struct KeyOp {
    delete: bool,
    put: Option<Vec<u8>>,
    metadata: Option<KeyMetadata>,
}

/// Applies `updates` (transactions of block `block_num`, in order) on top of the
/// committed state that `committed` reads, and returns the resulting changes.
pub(crate) fn apply_block<F>(
    block_num: u64,
    updates: &[TxUpdates],
    mut committed: F,
) -> Result<StateChanges, LedgerError>
where
    F: FnMut(&str, &str) -> Result<Option<VersionedValue>, LedgerError>,
{
    let mut changes = StateChanges::new();
    for tx in updates {
        let version = Version::new(block_num, tx.tx_num);
        for (state_key, op) in key_ops(tx) {
            let outcome = if op.delete {
                None
            } else {
                match (op.put, op.metadata) {
                    (Some(value), Some(metadata)) => Some(VersionedValue {
                        value,
                        metadata,
                        version,
                    }),
                    (Some(value), None) => {
                        let metadata = latest(&changes, &state_key, &mut committed)?
                            .map(|v| v.metadata)
                            .unwrap_or_default();
                        Some(VersionedValue {
                            value,
                            metadata,
                            version,
                        })
                    }
                    (None, Some(metadata)) => {
                        match latest(&changes, &state_key, &mut committed)? {
                            Some(current) => Some(VersionedValue {
                                value: current.value,
                                metadata,
                                version,
                            }),
                            // Metadata of an absent key: nothing happens.
                            None => continue,
                        }
                    }
                    (None, None) => continue,
                }
            };
            changes.insert(state_key, outcome);
        }
    }
    Ok(changes)
}

/// The transaction's operations grouped by key.
fn key_ops(tx: &TxUpdates) -> BTreeMap<StateKey, KeyOp> {
    fn entry<'m>(
        ops: &'m mut BTreeMap<StateKey, KeyOp>,
        namespace: &str,
        key: &str,
    ) -> &'m mut KeyOp {
        ops.entry((namespace.to_owned(), key.to_owned()))
            .or_default()
    }
    let mut ops = BTreeMap::new();
    for ns in &tx.namespaces {
        for write in &ns.writes {
            let op = entry(&mut ops, &ns.namespace, &write.key);
            match &write.value {
                Some(value) => op.put = Some(value.clone()),
                None => op.delete = true,
            }
        }
        for write in &ns.metadata_writes {
            entry(&mut ops, &ns.namespace, &write.key).metadata = Some(write.entries.clone());
        }
    }
    ops
}

/// The key's value after the block's earlier transactions.
fn latest<F>(
    changes: &StateChanges,
    state_key: &StateKey,
    committed: &mut F,
) -> Result<Option<VersionedValue>, LedgerError>
where
    F: FnMut(&str, &str) -> Result<Option<VersionedValue>, LedgerError>,
{
    match changes.get(state_key) {
        Some(change) => Ok(change.clone()),
        None => committed(&state_key.0, &state_key.1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{KeyMetadataWrite, KeyWrite, NsUpdates};

    fn md(entries: &[(&str, &[u8])]) -> KeyMetadata {
        entries
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.to_vec()))
            .collect()
    }

    fn tx(
        tx_num: u64,
        writes: &[(&str, Option<&[u8]>)],
        metas: &[(&str, KeyMetadata)],
    ) -> TxUpdates {
        TxUpdates {
            tx_num,
            txid: format!("tx{tx_num}"),
            namespaces: vec![NsUpdates {
                namespace: "cc".into(),
                writes: writes
                    .iter()
                    .map(|(k, v)| KeyWrite {
                        key: (*k).into(),
                        value: v.map(<[u8]>::to_vec),
                    })
                    .collect(),
                metadata_writes: metas
                    .iter()
                    .map(|(k, e)| KeyMetadataWrite {
                        key: (*k).into(),
                        entries: e.clone(),
                    })
                    .collect(),
            }],
            ..TxUpdates::default()
        }
    }

    fn vv(value: &[u8], metadata: KeyMetadata, version: Version) -> VersionedValue {
        VersionedValue {
            value: value.to_vec(),
            metadata,
            version,
        }
    }

    fn key(k: &str) -> StateKey {
        ("cc".to_owned(), k.to_owned())
    }

    /// Committed state: `a` with metadata, `b` without.
    fn committed(ns: &str, k: &str) -> Result<Option<VersionedValue>, LedgerError> {
        assert_eq!(ns, "cc");
        Ok(match k {
            "a" => Some(vv(b"a0", md(&[("P", b"pa")]), Version::new(1, 0))),
            "b" => Some(vv(b"b0", KeyMetadata::new(), Version::new(1, 1))),
            _ => None,
        })
    }

    #[test]
    fn puts_keep_metadata_and_metadata_writes_keep_values() {
        let updates = [
            tx(0, &[("a", Some(b"a1"))], &[]),
            tx(2, &[], &[("b", md(&[("P", b"pb")]))]),
            tx(3, &[], &[("absent", md(&[("P", b"px")]))]),
        ];
        let changes = apply_block(5, &updates, committed).expect("apply");
        assert_eq!(
            changes.get(&key("a")),
            Some(&Some(vv(b"a1", md(&[("P", b"pa")]), Version::new(5, 0))))
        );
        assert_eq!(
            changes.get(&key("b")),
            Some(&Some(vv(b"b0", md(&[("P", b"pb")]), Version::new(5, 2))))
        );
        assert_eq!(changes.get(&key("absent")), None);
        assert_eq!(changes.len(), 2);
    }

    #[test]
    fn later_transactions_see_earlier_ones() {
        let updates = [
            // tx0 deletes a; tx1 writes metadata on a (now absent: ignored); tx2 puts a
            // (no metadata to keep); tx3 puts new key c with metadata; tx4 puts c again
            // and keeps tx3's metadata.
            tx(0, &[("a", None)], &[]),
            tx(1, &[], &[("a", md(&[("P", b"x")]))]),
            tx(2, &[("a", Some(b"a2"))], &[]),
            tx(3, &[("c", Some(b"c3"))], &[("c", md(&[("P", b"pc")]))]),
            tx(4, &[("c", Some(b"c4"))], &[]),
        ];
        let changes = apply_block(9, &updates, committed).expect("apply");
        assert_eq!(
            changes.get(&key("a")),
            Some(&Some(vv(b"a2", KeyMetadata::new(), Version::new(9, 2))))
        );
        assert_eq!(
            changes.get(&key("c")),
            Some(&Some(vv(b"c4", md(&[("P", b"pc")]), Version::new(9, 4))))
        );
    }

    #[test]
    fn deletes_win_and_empty_metadata_clears() {
        let updates = [
            tx(
                0,
                &[("a", Some(b"x")), ("a", None)],
                &[("a", md(&[("Q", b"q")]))],
            ),
            tx(1, &[("b", Some(b"b1"))], &[("b", KeyMetadata::new())]),
        ];
        let changes = apply_block(2, &updates, |ns, k| {
            committed(ns, k).map(|v| {
                v.map(|mut v| {
                    v.metadata = md(&[("P", b"old")]);
                    v
                })
            })
        })
        .expect("apply");
        assert_eq!(changes.get(&key("a")), Some(&None));
        assert_eq!(
            changes.get(&key("b")),
            Some(&Some(vv(b"b1", KeyMetadata::new(), Version::new(2, 1))))
        );
    }

    #[test]
    fn lookup_errors_propagate() {
        let updates = [tx(0, &[("a", Some(b"x"))], &[])];
        let err = apply_block(1, &updates, |_, _| Err(LedgerError::Rocks("boom".into())));
        assert_eq!(err, Err(LedgerError::Rocks("boom".into())));
    }
}
