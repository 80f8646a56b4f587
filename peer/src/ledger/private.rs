//! Private data: the names and layouts Fabric uses for collections, the hashed state every
//! peer of the channel commits, the private state only member peers hold, and the
//! transient store where an endorsement's private writes wait for their block.
//!
//! Fabric keeps both kinds of private state in its state database under derived
//! namespaces (`statedb` `DerivePvtDataNs`/`DeriveHashedDataNs`); so does Weft:
//!
//! - **hashed state** lives in the `state` column family under namespace
//!   `<ns>$$h<collection>`, keyed by the hex SHA-256 of the key, valued by the SHA-256 of
//!   the value. It comes from the blocks (the collections' `HashedRWSet`s), so recovery
//!   rebuilds it like public state, and every peer of the channel holds it;
//! - **private state** lives in its own column family `private` under namespace
//!   `<ns>$$p<collection>`, keyed and valued in clear. It does not come from blocks (only
//!   its hashes do): a member peer commits it from its transient store, where the
//!   endorser left the private read-write set, after checking it against the hash the
//!   block carries. Replaying blocks never touches it;
//! - the **transient store**: column family `transient`, `txid ‖ 0x00 ‖ endorsement
//!   height (u64 BE) ‖ sequence (u64 BE)` → the `TxPvtReadWriteSet` bytes. Entries of a
//!   block's transactions are removed when the block commits, entries older than
//!   [`TRANSIENT_BLOCK_RETENTION`] blocks as the ledger grows.
//!
//! Collection names cannot contain `$` (Fabric's collection name rule), and chaincode names
//! cannot either, so the derived namespaces never collide with a chaincode's.
//!
//! Dissemination to other member peers (Fabric's gossip) does not exist yet: a member
//! peer that did not endorse a transaction commits its hashes only, and logs the missing
//! private data.

use std::sync::atomic::{AtomicU64, Ordering};

use prost::Message;
use rocksdb::{ColumnFamily, IteratorMode, WriteBatch};
use sha2::{Digest, Sha256};
use weft_proto::kvrwset::{HashedRwSet, KvrwSet};
use weft_proto::rwset::TxPvtReadWriteSet;

use super::codec::{META_PREFIX, state_key};
use super::read::{Source, StateReader};
use super::store::Ledger;
use super::{KeyMetadata, KeyMetadataWrite, KeyWrite, LedgerError, NsUpdates, VersionedValue};

/// Column family of the private state (values in clear, member peers only).
pub(crate) const CF_PRIVATE: &str = "private";
/// Column family of the transient store.
pub(crate) const CF_TRANSIENT: &str = "transient";

/// The name prefix of an org's implicit private data collection.
pub const IMPLICIT_COLLECTION_PREFIX: &str = "_implicit_org_";

/// Fabric's default `peer.gossip.pvtData.transientstoreMaxBlockRetention`: private
/// read-write sets of endorsements older than this many blocks are dropped.
pub const TRANSIENT_BLOCK_RETENTION: u64 = 1000;

/// The implicit collection of the org with MSP id `msp_id` (`_implicit_org_<MSPID>`).
pub fn implicit_collection(msp_id: &str) -> String {
    format!("{IMPLICIT_COLLECTION_PREFIX}{msp_id}")
}

/// The MSP id whose implicit collection `collection` is, if it is one.
pub fn implicit_collection_msp(collection: &str) -> Option<&str> {
    collection.strip_prefix(IMPLICIT_COLLECTION_PREFIX)
}

/// The state namespace of the hashed data of `collection` of chaincode `namespace`.
pub fn hashed_namespace(namespace: &str, collection: &str) -> String {
    format!("{namespace}$$h{collection}")
}

/// The namespace of the private data of `collection` of chaincode `namespace` (in the
/// private column family).
pub fn private_namespace(namespace: &str, collection: &str) -> String {
    format!("{namespace}$$p{collection}")
}

/// Whether a state namespace is a derived one (hashed or private data), which the history
/// index does not record.
pub fn is_derived_namespace(namespace: &str) -> bool {
    namespace.contains("$$")
}

/// SHA-256 of `bytes` (Fabric's `util.ComputeHash`, used for keys, values and private
/// read-write sets).
pub fn hash(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

/// The hashed-state key of a key hash: its lowercase hex.
pub fn hashed_state_key(key_hash: &[u8]) -> String {
    hex::encode(key_hash)
}

/// One write of a valid transaction to the private state of a collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateWrite {
    /// The chaincode.
    pub namespace: String,
    /// The collection.
    pub collection: String,
    /// The key in clear.
    pub key: String,
    /// The new value, or `None` for a delete or a purge.
    pub value: Option<Vec<u8>>,
}

/// What a valid transaction's rwset says about one collection it writes: the hash of the
/// private read-write set its endorsers produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionHash {
    /// The chaincode.
    pub namespace: String,
    /// The collection.
    pub collection: String,
    /// SHA-256 of the collection's private `KVRWSet` bytes (`pvt_rwset_hash`).
    pub pvt_rwset_hash: Vec<u8>,
}

/// Whether a hashed write deletes its key (Fabric's `IsKVWriteHashDelete`: the flag, an
/// empty value hash, or the hash of an empty value).
fn hashed_write_deletes(is_delete: bool, value_hash: &[u8]) -> bool {
    is_delete || value_hash.is_empty() || value_hash == hash(&[]).as_slice()
}

/// The hashed-state updates of one collection's `HashedRWSet` (written under
/// [`hashed_namespace`]), with the public state's rules: the last write of a key wins
/// unless one of its writes is a delete (or a purge); `None` when it writes nothing.
pub fn hashed_ns_updates(
    namespace: &str,
    collection: &str,
    hashed: &HashedRwSet,
) -> Option<NsUpdates> {
    if hashed.hashed_writes.is_empty() && hashed.metadata_writes.is_empty() {
        return None;
    }
    let mut writes: Vec<KeyWrite> = Vec::with_capacity(hashed.hashed_writes.len());
    for write in &hashed.hashed_writes {
        let key = hashed_state_key(&write.key_hash);
        let deletes = write.is_purge || hashed_write_deletes(write.is_delete, &write.value_hash);
        let value = (!deletes).then(|| write.value_hash.clone());
        match writes.iter_mut().find(|w| w.key == key) {
            Some(existing) if existing.value.is_some() => existing.value = value,
            Some(_) => {}
            None => writes.push(KeyWrite { key, value }),
        }
    }
    let mut metadata_writes: Vec<KeyMetadataWrite> = Vec::new();
    for write in &hashed.metadata_writes {
        let key = hashed_state_key(&write.key_hash);
        let entries: KeyMetadata = write
            .entries
            .iter()
            .map(|e| (e.name.clone(), e.value.clone()))
            .collect();
        match metadata_writes.iter_mut().find(|w| w.key == key) {
            Some(existing) => existing.entries = entries,
            None => metadata_writes.push(KeyMetadataWrite { key, entries }),
        }
    }
    Some(NsUpdates {
        namespace: hashed_namespace(namespace, collection),
        writes,
        metadata_writes,
    })
}

/// The private writes of one collection's private `KVRWSet`, with the same rules as
/// [`hashed_ns_updates`] (an empty value deletes).
pub fn private_writes(namespace: &str, collection: &str, kv: &KvrwSet) -> Vec<PrivateWrite> {
    let mut out: Vec<PrivateWrite> = Vec::with_capacity(kv.writes.len());
    for write in &kv.writes {
        let value = (!write.is_delete && !write.value.is_empty()).then(|| write.value.clone());
        match out.iter_mut().find(|w| w.key == write.key) {
            Some(existing) if existing.value.is_some() => existing.value = value,
            Some(_) => {}
            None => out.push(PrivateWrite {
                namespace: namespace.to_owned(),
                collection: collection.to_owned(),
                key: write.key.clone(),
                value,
            }),
        }
    }
    out
}

/// The private writes a transaction's private read-write set carries for the collections
/// `wanted` keeps, each collection checked against the hash the block carries: a
/// collection whose bytes do not hash to `expected` is refused as a whole (`Err` with the
/// reason), one the block does not mention is ignored.
pub fn private_writes_matching(
    pvt: &TxPvtReadWriteSet,
    expected: &[CollectionHash],
    mut wanted: impl FnMut(&str, &str) -> bool,
) -> Result<Vec<PrivateWrite>, String> {
    let mut out = Vec::new();
    for ns in &pvt.ns_pvt_rwset {
        for coll in &ns.collection_pvt_rwset {
            let Some(block_hash) = expected
                .iter()
                .find(|h| h.namespace == ns.namespace && h.collection == coll.collection_name)
            else {
                continue;
            };
            if hash(&coll.rwset) != block_hash.pvt_rwset_hash {
                return Err(format!(
                    "private data of collection {} of namespace {} does not match the hash in \
                     the block",
                    coll.collection_name, ns.namespace
                ));
            }
            if !wanted(&ns.namespace, &coll.collection_name) {
                continue;
            }
            let kv = KvrwSet::decode(coll.rwset.as_slice()).map_err(|e| {
                format!(
                    "private data of collection {} of namespace {}: KVRWSet: {e}",
                    coll.collection_name, ns.namespace
                )
            })?;
            out.extend(private_writes(&ns.namespace, &coll.collection_name, &kv));
        }
    }
    Ok(out)
}

/// Process-wide sequence distinguishing two endorsements of one transaction persisted in
/// the same block height.
static TRANSIENT_SEQUENCE: AtomicU64 = AtomicU64::new(0);

fn transient_prefix(txid: &str) -> Vec<u8> {
    let mut out = txid.as_bytes().to_vec();
    out.push(0);
    out
}

fn transient_height(raw_key: &[u8]) -> Option<u64> {
    let sep = raw_key.iter().position(|b| *b == 0)?;
    let height = raw_key.get(sep + 1..sep + 9)?;
    Some(u64::from_be_bytes(height.try_into().ok()?))
}

impl Ledger {
    /// The private state column family.
    pub(crate) fn private_cf(&self) -> Result<&ColumnFamily, LedgerError> {
        Ok(self.block_store().cf(CF_PRIVATE)?)
    }

    /// The transient store column family.
    pub(crate) fn transient_cf(&self) -> Result<&ColumnFamily, LedgerError> {
        Ok(self.block_store().cf(CF_TRANSIENT)?)
    }

    /// The committed private value of `key` in `collection` of `namespace`, if this peer
    /// holds it (not recorded anywhere: for `_lifecycle`'s own lookups and queries).
    pub fn private_data(
        &self,
        namespace: &str,
        collection: &str,
        key: &str,
    ) -> Result<Option<VersionedValue>, LedgerError> {
        let reader = StateReader {
            source: Source::Latest(self.block_store().db()),
            state: self.private_cf()?,
            db: self.block_store().db(),
        };
        reader.get_state(&private_namespace(namespace, collection), key)
    }

    /// The committed hash of the value of `key` in `collection` of `namespace` (every peer
    /// of the channel holds it).
    pub fn private_data_hash(
        &self,
        namespace: &str,
        collection: &str,
        key: &str,
    ) -> Result<Option<VersionedValue>, LedgerError> {
        let reader = StateReader {
            source: Source::Latest(self.block_store().db()),
            state: self.state_cf()?,
            db: self.block_store().db(),
        };
        reader.get_state(
            &hashed_namespace(namespace, collection),
            &hashed_state_key(&hash(key.as_bytes())),
        )
    }

    /// Keeps an endorsement's private read-write set until its transaction commits
    /// (Fabric's transient store), durably: it is on disk when this returns.
    pub fn persist_transient(
        &self,
        txid: &str,
        pvt: &TxPvtReadWriteSet,
    ) -> Result<(), LedgerError> {
        let mut key = transient_prefix(txid);
        key.extend_from_slice(&self.height().to_be_bytes());
        key.extend_from_slice(
            &TRANSIENT_SEQUENCE
                .fetch_add(1, Ordering::Relaxed)
                .to_be_bytes(),
        );
        let mut options = rocksdb::WriteOptions::default();
        options.set_sync(true);
        let mut batch = WriteBatch::default();
        batch.put_cf(self.transient_cf()?, key, pvt.encode_to_vec());
        self.block_store().db().write_opt(batch, &options)?;
        Ok(())
    }

    /// Every private read-write set the transient store holds for `txid`.
    pub fn transient_private_data(
        &self,
        txid: &str,
    ) -> Result<Vec<TxPvtReadWriteSet>, LedgerError> {
        let prefix = transient_prefix(txid);
        let mut upper = prefix.clone();
        if let Some(last) = upper.last_mut() {
            *last = 1;
        }
        let source = Source::Latest(self.block_store().db());
        source
            .iter(self.transient_cf()?, prefix, upper, IteratorMode::Start)
            .map(|item| {
                let (_, value) = item?;
                TxPvtReadWriteSet::decode(&*value)
                    .map_err(|e| LedgerError::Corrupt(format!("transient store entry: {e}")))
            })
            .collect()
    }

    /// Adds to `batch` the removal of the transient entries of `txids`, and of every
    /// entry endorsed more than [`TRANSIENT_BLOCK_RETENTION`] blocks below `height` (that
    /// sweep runs when `height` is a multiple of 100).
    pub(crate) fn purge_transient(
        &self,
        batch: &mut WriteBatch,
        txids: &[String],
        height: u64,
    ) -> Result<(), LedgerError> {
        let cf = self.transient_cf()?;
        for txid in txids {
            let prefix = transient_prefix(txid);
            let mut upper = prefix.clone();
            if let Some(last) = upper.last_mut() {
                *last = 1;
            }
            batch.delete_range_cf(cf, prefix, upper);
        }
        if height.is_multiple_of(100) && height > TRANSIENT_BLOCK_RETENTION {
            let oldest = height - TRANSIENT_BLOCK_RETENTION;
            let source = Source::Latest(self.block_store().db());
            for item in source.iter(cf, Vec::new(), vec![META_PREFIX], IteratorMode::Start) {
                let (raw_key, _) = item?;
                if transient_height(&raw_key).is_some_and(|h| h < oldest) {
                    batch.delete_cf(cf, raw_key);
                }
            }
        }
        Ok(())
    }

    /// Adds to `batch` the private writes of block `number`'s valid transactions.
    pub(crate) fn private_batch(
        &self,
        batch: &mut WriteBatch,
        number: u64,
        updates: &[super::TxUpdates],
    ) -> Result<(), LedgerError> {
        let cf = self.private_cf()?;
        for tx in updates {
            let version = super::Version::new(number, tx.tx_num);
            for write in &tx.private {
                let raw_key = state_key(
                    &private_namespace(&write.namespace, &write.collection),
                    &write.key,
                );
                match &write.value {
                    Some(value) => batch.put_cf(
                        cf,
                        raw_key,
                        super::codec::encode_value(&VersionedValue {
                            value: value.clone(),
                            metadata: KeyMetadata::new(),
                            version,
                        })?,
                    ),
                    None => batch.delete_cf(cf, raw_key),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_proto::kvrwset::{KvWrite, KvWriteHash};
    use weft_proto::rwset::{CollectionPvtReadWriteSet, NsPvtReadWriteSet};

    #[test]
    fn names_follow_fabric() {
        assert_eq!(implicit_collection("Org1MSP"), "_implicit_org_Org1MSP");
        assert_eq!(
            implicit_collection_msp("_implicit_org_Org1MSP"),
            Some("Org1MSP")
        );
        assert_eq!(implicit_collection_msp("marbles"), None);
        assert_eq!(hashed_namespace("cc", "coll"), "cc$$hcoll");
        assert_eq!(private_namespace("cc", "coll"), "cc$$pcoll");
        assert!(is_derived_namespace("cc$$hcoll"));
        assert!(!is_derived_namespace("cc"));
    }

    #[test]
    fn hashed_updates_delete_on_flag_empty_or_hash_of_empty() {
        let write = |key: &str, value: &[u8], is_delete: bool| KvWriteHash {
            key_hash: hash(key.as_bytes()),
            is_delete,
            value_hash: if value.is_empty() {
                Vec::new()
            } else {
                hash(value)
            },
            is_purge: false,
        };
        let mut empty_hash = write("c", b"", false);
        empty_hash.value_hash = hash(&[]);
        let set = HashedRwSet {
            hashed_reads: vec![],
            hashed_writes: vec![
                write("a", b"1", false),
                write("b", b"", false),
                empty_hash,
                write("d", b"x", true),
            ],
            metadata_writes: vec![],
        };
        let updates = hashed_ns_updates("cc", "coll", &set).expect("writes");
        assert_eq!(updates.namespace, "cc$$hcoll");
        let values: Vec<_> = updates.writes.iter().map(|w| w.value.is_some()).collect();
        assert_eq!(values, [true, false, false, false]);
        assert_eq!(updates.writes[0].key, hex::encode(hash(b"a")));
        assert_eq!(
            updates.writes[0].value.as_deref(),
            Some(hash(b"1").as_slice())
        );
    }

    #[test]
    fn private_writes_are_checked_against_the_block_hash() {
        let kv = KvrwSet {
            writes: vec![KvWrite {
                key: "k".into(),
                is_delete: false,
                value: b"v".to_vec(),
            }],
            ..Default::default()
        };
        let bytes = kv.encode_to_vec();
        let pvt = TxPvtReadWriteSet {
            data_model: 0,
            ns_pvt_rwset: vec![NsPvtReadWriteSet {
                namespace: "cc".into(),
                collection_pvt_rwset: vec![CollectionPvtReadWriteSet {
                    collection_name: "coll".into(),
                    rwset: bytes.clone(),
                }],
            }],
        };
        let good = [CollectionHash {
            namespace: "cc".into(),
            collection: "coll".into(),
            pvt_rwset_hash: hash(&bytes),
        }];
        let writes = private_writes_matching(&pvt, &good, |_, _| true).expect("matches");
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].value.as_deref(), Some(b"v".as_slice()));
        assert!(
            private_writes_matching(&pvt, &good, |_, _| false)
                .expect("matches")
                .is_empty()
        );
        let bad = [CollectionHash {
            pvt_rwset_hash: hash(b"other"),
            ..good[0].clone()
        }];
        assert!(private_writes_matching(&pvt, &bad, |_, _| true).is_err());
        assert!(
            private_writes_matching(&pvt, &[], |_, _| true)
                .expect("ignored")
                .is_empty()
        );
    }
}
