//! From read-write sets to [`TxUpdates`]: one transaction's rwset, and the valid
//! transactions of a committed block (what recovery replays and history reads back).

use prost::Message;
use weft_common::protoutil::{
    UnpackedTransaction, transactions_filter, tx_validation_code_at, unpack_endorser_transaction,
    unpack_envelope_bytes,
};
use weft_proto::common::{Block, HeaderType};
use weft_proto::kvrwset::{HashedRwSet, KvrwSet};
use weft_proto::protos::TxValidationCode;
use weft_proto::rwset::TxReadWriteSet;

use super::private::{CollectionHash, hashed_ns_updates};
use super::{KeyMetadata, KeyMetadataWrite, KeyWrite, LedgerError, NsUpdates, TxUpdates};

/// The public writes of transaction `tx_num` (id `txid`) from its read-write set, with
/// Fabric's rules (the validator and recovery both use this, so a replayed block writes
/// exactly what the live commit wrote):
///
/// - a write with `is_delete` or an empty value is a delete (`rwsetutil.IsKVWriteDelete`);
/// - a key written more than once in one namespace is written once: deleted if any of
///   its writes is a delete, otherwise with its last value;
/// - a key's metadata entries are kept by name (a repeated key keeps its last write), no
///   entries clearing the metadata;
/// - namespaces keep their rwset order; those without public writes are left out;
/// - each collection's hashed writes follow its namespace's public writes, under the
///   collection's hashed namespace ([`super::private`]), with the same rules; the
///   collections' private read-write set hashes are listed in `collections`.
pub fn tx_updates_from_rwset(
    tx_num: u64,
    txid: &str,
    rwset: &TxReadWriteSet,
) -> Result<TxUpdates, LedgerError> {
    let mut tx = TxUpdates {
        tx_num,
        txid: txid.to_owned(),
        ..TxUpdates::default()
    };
    for ns in &rwset.ns_rwset {
        let kv = KvrwSet::decode(ns.rwset.as_slice()).map_err(|e| {
            LedgerError::InvalidRwset(format!(
                "tx {txid}: namespace {:?}: KVRWSet: {e}",
                ns.namespace
            ))
        })?;
        let collections = ns
            .collection_hashed_rwset
            .iter()
            .map(|c| {
                let hashed = HashedRwSet::decode(c.hashed_rwset.as_slice()).map_err(|e| {
                    LedgerError::InvalidRwset(format!(
                        "tx {txid}: namespace {:?} collection {:?}: HashedRWSet: {e}",
                        ns.namespace, c.collection_name
                    ))
                })?;
                Ok((
                    c.collection_name.as_str(),
                    hashed,
                    c.pvt_rwset_hash.as_slice(),
                ))
            })
            .collect::<Result<Vec<_>, LedgerError>>()?;
        push_ns_updates(
            &mut tx,
            &ns.namespace,
            &kv,
            collections
                .iter()
                .map(|(name, hashed, hash)| (*name, hashed, *hash)),
        );
    }
    Ok(tx)
}

/// Adds to `tx` the updates of one namespace: its public writes ([`ns_updates_from_kv`]),
/// then each collection's hashed writes ([`hashed_ns_updates`]) and, for a collection
/// with a private read-write set, the hash the block carries for it.
pub(crate) fn push_ns_updates<'a>(
    tx: &mut TxUpdates,
    namespace: &str,
    kv: &KvrwSet,
    collections: impl IntoIterator<Item = (&'a str, &'a HashedRwSet, &'a [u8])>,
) {
    tx.namespaces.extend(ns_updates_from_kv(namespace, kv));
    for (collection, hashed, pvt_rwset_hash) in collections {
        tx.namespaces
            .extend(hashed_ns_updates(namespace, collection, hashed));
        if !pvt_rwset_hash.is_empty() {
            tx.collections.push(CollectionHash {
                namespace: namespace.to_owned(),
                collection: collection.to_owned(),
                pvt_rwset_hash: pvt_rwset_hash.to_vec(),
            });
        }
    }
}

/// The updates of one namespace's `KVRWSet` under the rules of [`tx_updates_from_rwset`];
/// `None` when it writes nothing.
pub fn ns_updates_from_kv(namespace: &str, kv: &KvrwSet) -> Option<NsUpdates> {
    if kv.writes.is_empty() && kv.metadata_writes.is_empty() {
        return None;
    }
    let mut writes: Vec<KeyWrite> = Vec::with_capacity(kv.writes.len());
    let mut index = std::collections::HashMap::new();
    for write in &kv.writes {
        let value = (!write.is_delete && !write.value.is_empty()).then(|| write.value.clone());
        match index.get(write.key.as_str()) {
            None => {
                index.insert(write.key.as_str(), writes.len());
                writes.push(KeyWrite {
                    key: write.key.clone(),
                    value,
                });
            }
            Some(&i) => {
                let existing: &mut KeyWrite = &mut writes[i];
                if existing.value.is_some() {
                    existing.value = value;
                }
            }
        }
    }
    let mut metadata_writes: Vec<KeyMetadataWrite> = Vec::with_capacity(kv.metadata_writes.len());
    for write in &kv.metadata_writes {
        let entries: KeyMetadata = write
            .entries
            .iter()
            .map(|e| (e.name.clone(), e.value.clone()))
            .collect();
        match metadata_writes.iter_mut().find(|w| w.key == write.key) {
            Some(existing) => existing.entries = entries,
            None => metadata_writes.push(KeyMetadataWrite {
                key: write.key.clone(),
                entries,
            }),
        }
    }
    Some(NsUpdates {
        namespace: namespace.to_owned(),
        writes,
        metadata_writes,
    })
}

/// The namespace of the peer's own state entries (Fabric's `peerNamespace`).
pub const PEER_NAMESPACE: &str = "";
/// The key under which a valid CONFIG transaction stores its `ConfigEnvelope` bytes
/// (Fabric's `ConfigTxProcessor`).
pub const CHANNEL_CONFIG_KEY: &str = "CHANNEL_CONFIG_ENV_BYTES";

/// The state update of a valid CONFIG transaction (the genesis block's included): its
/// `ConfigEnvelope` bytes under [`CHANNEL_CONFIG_KEY`] in [`PEER_NAMESPACE`], as Fabric's
/// peer writes them.
pub fn config_tx_updates(tx_num: u64, txid: &str, config_envelope: &[u8]) -> TxUpdates {
    TxUpdates {
        tx_num,
        txid: txid.to_owned(),
        collections: Vec::new(),
        private: Vec::new(),
        namespaces: vec![NsUpdates {
            namespace: PEER_NAMESPACE.to_owned(),
            writes: vec![KeyWrite {
                key: CHANNEL_CONFIG_KEY.to_owned(),
                value: Some(config_envelope.to_vec()),
            }],
            metadata_writes: Vec::new(),
        }],
    }
}

/// The updates a committed block made: those of its transactions whose
/// TRANSACTIONS_FILTER code is VALID — endorser transactions' rwsets and config
/// transactions' [`config_tx_updates`] — in block order.
///
/// A VALID endorser transaction that does not unpack, or whose rwset does not decode,
/// means the block was not validated as it claims: [`LedgerError::Corrupt`].
pub fn updates_of_committed_block(block: &Block) -> Result<Vec<TxUpdates>, LedgerError> {
    let number = block.header.as_ref().map_or(0, |h| h.number);
    let filter = transactions_filter(block);
    let Some(data) = block.data.as_ref() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (index, entry) in data.data.iter().enumerate() {
        if tx_validation_code_at(filter, index) != Some(TxValidationCode::Valid) {
            continue;
        }
        let tx_num = u64::try_from(index)
            .map_err(|_| LedgerError::Corrupt(format!("block {number}: tx index {index}")))?;
        if let Some((txid, config_envelope)) = valid_config_tx(number, index, entry)? {
            out.push(config_tx_updates(tx_num, &txid, &config_envelope));
            continue;
        }
        let Some(tx) = valid_endorser_tx(number, index, entry)? else {
            continue;
        };
        let rwset = tx_rwset(number, index, &tx)?;
        let updates = tx_updates_from_rwset(tx_num, tx.envelope.tx_id(), &rwset)
            .map_err(|e| LedgerError::Corrupt(format!("block {number} tx {index}: {e}")))?;
        out.push(updates);
    }
    Ok(out)
}

/// Entry `index` of committed block `number`, known VALID, as (txid, ConfigEnvelope
/// bytes) if it is a CONFIG transaction.
fn valid_config_tx(
    number: u64,
    index: usize,
    entry: &[u8],
) -> Result<Option<(String, Vec<u8>)>, LedgerError> {
    let envelope = unpack_envelope_bytes(entry)
        .map_err(|e| LedgerError::Corrupt(format!("block {number} tx {index} (VALID): {e}")))?;
    if envelope.header_type() != HeaderType::Config as i32 {
        return Ok(None);
    }
    Ok(Some((envelope.tx_id().to_owned(), envelope.data.clone())))
}

/// Unpacks entry `index` of committed block `number`, known VALID: `None` if it is not
/// an endorser transaction.
pub(crate) fn valid_endorser_tx(
    number: u64,
    index: usize,
    entry: &[u8],
) -> Result<Option<UnpackedTransaction>, LedgerError> {
    let corrupt = |e: &dyn std::fmt::Display| {
        LedgerError::Corrupt(format!("block {number} tx {index} (VALID): {e}"))
    };
    let envelope = unpack_envelope_bytes(entry).map_err(|e| corrupt(&e))?;
    if envelope.header_type() != HeaderType::EndorserTransaction as i32 {
        return Ok(None);
    }
    unpack_endorser_transaction(envelope)
        .map(Some)
        .map_err(|e| corrupt(&e))
}

/// The read-write set in an unpacked transaction's chaincode action.
pub(crate) fn tx_rwset(
    number: u64,
    index: usize,
    tx: &UnpackedTransaction,
) -> Result<TxReadWriteSet, LedgerError> {
    TxReadWriteSet::decode(tx.chaincode_action.results.as_slice()).map_err(|e| {
        LedgerError::Corrupt(format!(
            "block {number} tx {index} (VALID): TxReadWriteSet: {e}"
        ))
    })
}
