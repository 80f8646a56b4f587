//! A transaction's read-write set, decoded once (Fabric's `rwsetutil.TxRwSet`), and the
//! [`TxUpdates`] its writes become when the transaction is valid.

use prost::Message;
use weft_proto::kvrwset::{HashedRwSet, KvrwSet};
use weft_proto::rwset::TxReadWriteSet;

use crate::ledger::TxUpdates;

/// A decoded `TxReadWriteSet`: every namespace's `KVRWSet` and collection `HashedRWSet`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ParsedRwSet {
    /// Namespaces in rwset order.
    pub namespaces: Vec<NsRwSet>,
}

/// One namespace of a read-write set.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct NsRwSet {
    /// The namespace (chaincode name).
    pub namespace: String,
    /// Public reads, range queries, writes and metadata writes.
    pub kv: KvrwSet,
    /// Hashed read-write sets of private data collections, in rwset order.
    pub collections: Vec<CollRwSet>,
}

/// The hashed read-write set of one private data collection.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct CollRwSet {
    /// The collection name.
    pub name: String,
    /// Hashed reads, writes and metadata writes.
    pub hashed: HashedRwSet,
    /// The hash of the collection's private read-write set (empty if it writes nothing).
    pub pvt_rwset_hash: Vec<u8>,
}

/// A written key as the endorsement checks see it: collection ("" for public data) and
/// key (the key hash for private data).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct WrittenKey {
    /// The collection, "" for public state.
    pub collection: String,
    /// The key, or the key hash for a collection.
    pub key: Vec<u8>,
}

impl ParsedRwSet {
    /// Decodes `results` (a marshaled `TxReadWriteSet`) and every nested set; any failure
    /// is the reason for BAD_RWSET.
    pub fn parse(results: &[u8]) -> Result<Self, String> {
        let tx = TxReadWriteSet::decode(results)
            .map_err(|e| format!("cannot decode TxReadWriteSet: {e}"))?;
        let namespaces = tx
            .ns_rwset
            .into_iter()
            .map(|ns| {
                let kv = KvrwSet::decode(ns.rwset.as_slice()).map_err(|e| {
                    format!("namespace {:?}: cannot decode KVRWSet: {e}", ns.namespace)
                })?;
                let collections = ns
                    .collection_hashed_rwset
                    .into_iter()
                    .map(|c| {
                        let hashed = HashedRwSet::decode(c.hashed_rwset.as_slice()).map_err(|e| {
                            format!(
                                "namespace {:?} collection {:?}: cannot decode HashedRWSet: {e}",
                                ns.namespace, c.collection_name
                            )
                        })?;
                        Ok(CollRwSet {
                            name: c.collection_name,
                            hashed,
                            pvt_rwset_hash: c.pvt_rwset_hash,
                        })
                    })
                    .collect::<Result<_, String>>()?;
                Ok(NsRwSet {
                    namespace: ns.namespace,
                    kv,
                    collections,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { namespaces })
    }

    /// The first namespace that appears twice, if any (ILLEGAL_WRITESET).
    pub fn duplicate_namespace(&self) -> Option<&str> {
        let mut seen = std::collections::HashSet::new();
        self.namespaces
            .iter()
            .map(|ns| ns.namespace.as_str())
            .find(|name| !seen.insert(*name))
    }

    /// The namespace's set, if the rwset has one.
    pub fn namespace(&self, name: &str) -> Option<&NsRwSet> {
        self.namespaces.iter().find(|ns| ns.namespace == name)
    }

    /// The transaction's writes as the ledger applies them (public and hashed, with
    /// the collections' hashes; `crate::ledger::push_ns_updates`, shared with recovery).
    pub fn to_tx_updates(&self, tx_num: u64, txid: &str) -> TxUpdates {
        let mut tx = TxUpdates {
            tx_num,
            txid: txid.to_owned(),
            ..TxUpdates::default()
        };
        for ns in &self.namespaces {
            crate::ledger::push_ns_updates(
                &mut tx,
                &ns.namespace,
                &ns.kv,
                ns.collections
                    .iter()
                    .map(|c| (c.name.as_str(), &c.hashed, c.pvt_rwset_hash.as_slice())),
            );
        }
        tx
    }
}

impl NsRwSet {
    /// Whether the namespace writes anything: public writes or metadata writes, or
    /// hashed writes or metadata writes of a collection (Fabric's `txWritesToNamespace`).
    pub fn writes(&self) -> bool {
        !self.kv.writes.is_empty()
            || !self.kv.metadata_writes.is_empty()
            || self
                .collections
                .iter()
                .any(|c| !c.hashed.hashed_writes.is_empty() || !c.hashed.metadata_writes.is_empty())
    }

    /// Every key the endorsement checks visit, in Fabric's order: public writes, public
    /// metadata writes, then each collection's hashed writes, then each collection's
    /// hashed metadata writes.
    pub fn written_keys(&self) -> Vec<WrittenKey> {
        let public = |key: &str| WrittenKey {
            collection: String::new(),
            key: key.as_bytes().to_vec(),
        };
        let mut keys: Vec<WrittenKey> = self.kv.writes.iter().map(|w| public(&w.key)).collect();
        keys.extend(self.kv.metadata_writes.iter().map(|w| public(&w.key)));
        for c in &self.collections {
            keys.extend(c.hashed.hashed_writes.iter().map(|w| WrittenKey {
                collection: c.name.clone(),
                key: w.key_hash.clone(),
            }));
        }
        for c in &self.collections {
            keys.extend(c.hashed.metadata_writes.iter().map(|w| WrittenKey {
                collection: c.name.clone(),
                key: w.key_hash.clone(),
            }));
        }
        keys
    }

    /// The keys whose metadata (and so possibly key-level policy) this namespace
    /// changes: public and hashed metadata writes.
    pub fn metadata_written_keys(&self) -> Vec<WrittenKey> {
        let mut keys: Vec<WrittenKey> = self
            .kv
            .metadata_writes
            .iter()
            .map(|w| WrittenKey {
                collection: String::new(),
                key: w.key.as_bytes().to_vec(),
            })
            .collect();
        for c in &self.collections {
            keys.extend(c.hashed.metadata_writes.iter().map(|w| WrittenKey {
                collection: c.name.clone(),
                key: w.key_hash.clone(),
            }));
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{KeyMetadata, KeyMetadataWrite, KeyWrite};
    use weft_proto::kvrwset::{KvMetadataEntry, KvMetadataWrite, KvWrite};
    use weft_proto::rwset::NsReadWriteSet;

    fn kv_write(key: &str, value: &[u8], is_delete: bool) -> KvWrite {
        KvWrite {
            key: key.into(),
            is_delete,
            value: value.to_vec(),
        }
    }

    #[test]
    fn undecodable_parts_are_reported() {
        assert!(ParsedRwSet::parse(b"\xff\xff").is_err());
        let tx = TxReadWriteSet {
            data_model: 0,
            ns_rwset: vec![NsReadWriteSet {
                namespace: "cc".into(),
                rwset: vec![0x0a, 0x05],
                collection_hashed_rwset: vec![],
            }],
        };
        let err = ParsedRwSet::parse(&tx.encode_to_vec()).unwrap_err();
        assert!(err.contains("\"cc\""), "{err}");
        assert_eq!(ParsedRwSet::parse(b""), Ok(ParsedRwSet::default()));
    }

    #[test]
    fn updates_follow_fabrics_write_rules() {
        let kv = KvrwSet {
            writes: vec![
                kv_write("a", b"1", false),
                kv_write("empty", b"", false),
                kv_write("del", b"x", true),
                kv_write("twice", b"1", false),
                kv_write("twice", b"2", false),
                kv_write("put-then-del", b"1", false),
                kv_write("put-then-del", b"", true),
                kv_write("del-then-put", b"", true),
                kv_write("del-then-put", b"1", false),
            ],
            metadata_writes: vec![
                KvMetadataWrite {
                    key: "a".into(),
                    entries: vec![
                        KvMetadataEntry {
                            name: "n".into(),
                            value: b"1".to_vec(),
                        },
                        KvMetadataEntry {
                            name: "n".into(),
                            value: b"2".to_vec(),
                        },
                    ],
                },
                KvMetadataWrite {
                    key: "b".into(),
                    entries: vec![],
                },
            ],
            ..Default::default()
        };
        let rwset = ParsedRwSet {
            namespaces: vec![
                NsRwSet {
                    namespace: "cc".into(),
                    kv,
                    collections: vec![],
                },
                NsRwSet {
                    namespace: "readonly".into(),
                    ..Default::default()
                },
            ],
        };
        let updates = rwset.to_tx_updates(4, "tx");
        assert_eq!((updates.tx_num, updates.txid.as_str()), (4, "tx"));
        let w = |key: &str, value: Option<&[u8]>| KeyWrite {
            key: key.into(),
            value: value.map(<[u8]>::to_vec),
        };
        assert_eq!(
            updates.namespaces[0].writes,
            [
                w("a", Some(b"1")),
                w("empty", None),
                w("del", None),
                w("twice", Some(b"2")),
                w("put-then-del", None),
                w("del-then-put", None),
            ]
        );
        assert_eq!(
            updates.namespaces[0].metadata_writes,
            [
                KeyMetadataWrite {
                    key: "a".into(),
                    entries: [("n".to_owned(), b"2".to_vec())].into_iter().collect(),
                },
                KeyMetadataWrite {
                    key: "b".into(),
                    entries: KeyMetadata::new(),
                },
            ]
        );
        // The read-only namespace has no updates.
        assert_eq!(updates.namespaces.len(), 1);
    }
}
