//! The history of a key (`GetHistoryForKey`): the index gives the versions that wrote it,
//! the block store gives back each write, as Fabric's history database does.

use std::time::SystemTime;

use prost::Message;
use rocksdb::IteratorMode;
use weft_proto::common::Block;
use weft_proto::kvrwset::KvrwSet;
use weft_proto::queryresult::KeyModification;

use super::codec::{check_namespace, history_entry_version, history_prefix};
use super::read::Source;
use super::store::Ledger;
use super::updates::{tx_rwset, valid_endorser_tx};
use super::{LedgerError, Version};

/// One write of a key by a valid transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The writing transaction's id.
    pub txid: String,
    /// Where the transaction is: block and index in it.
    pub version: Version,
    /// The transaction's channel header timestamp (`None` if absent or out of range).
    pub timestamp: Option<SystemTime>,
    /// Whether the write was a delete.
    pub is_delete: bool,
    /// The value written; `None` for a delete.
    pub value: Option<Vec<u8>>,
}

impl HistoryEntry {
    /// The entry as the chaincode shim returns it (`queryresult.KeyModification`).
    pub fn to_key_modification(&self) -> KeyModification {
        KeyModification {
            tx_id: self.txid.clone(),
            value: self.value.clone().unwrap_or_default(),
            timestamp: self.timestamp.map(Into::into),
            is_delete: self.is_delete,
        }
    }
}

impl Ledger {
    /// Every write of `key` in `namespace` by a valid transaction, newest first.
    pub fn history(&self, namespace: &str, key: &str) -> Result<Vec<HistoryEntry>, LedgerError> {
        check_namespace(namespace)?;
        let prefix = history_prefix(namespace, key);
        let mut upper = prefix.clone();
        if let Some(last) = upper.last_mut() {
            // The prefix ends with the 0x00 separator.
            *last += 1;
        }
        let iter = Source::Latest(self.block_store().db()).iter(
            self.history_cf()?,
            prefix.clone(),
            upper,
            IteratorMode::End,
        );
        let mut cached: Option<(u64, Block)> = None;
        let mut out = Vec::new();
        for item in iter {
            let (raw_key, _) = item?;
            let Some(version) = history_entry_version(&raw_key, prefix.len()) else {
                continue; // an entry of a longer key sharing the prefix
            };
            if cached.as_ref().is_none_or(|(n, _)| *n != version.block_num) {
                let block = self
                    .block_store()
                    .block(version.block_num)?
                    .ok_or_else(|| {
                        LedgerError::Corrupt(format!(
                            "history of {namespace}/{key:?} names missing block {}",
                            version.block_num
                        ))
                    })?;
                cached = Some((version.block_num, block));
            }
            let Some((_, block)) = cached.as_ref() else {
                continue;
            };
            out.push(read_back(block, version, namespace, key)?);
        }
        Ok(out)
    }
}

/// The write of `key` in `namespace` by the transaction at `version` in `block`.
fn read_back(
    block: &Block,
    version: Version,
    namespace: &str,
    key: &str,
) -> Result<HistoryEntry, LedgerError> {
    let Version { block_num, tx_num } = version;
    let corrupt = |what: &str| {
        LedgerError::Corrupt(format!(
            "history of {namespace}/{key:?}: block {block_num} tx {tx_num}: {what}"
        ))
    };
    let index = usize::try_from(tx_num).map_err(|_| corrupt("index out of range"))?;
    let entry = block
        .data
        .as_ref()
        .and_then(|d| d.data.get(index))
        .ok_or_else(|| corrupt("no such transaction"))?;
    let tx = valid_endorser_tx(block_num, index, entry)?
        .ok_or_else(|| corrupt("not an endorser transaction"))?;
    let rwset = tx_rwset(block_num, index, &tx)?;
    let write = rwset
        .ns_rwset
        .iter()
        .filter(|ns| ns.namespace == namespace)
        .map(|ns| KvrwSet::decode(ns.rwset.as_slice()).map_err(|e| corrupt(&e.to_string())))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flat_map(|kv| kv.writes)
        .rfind(|w| w.key == key)
        .ok_or_else(|| corrupt("the transaction does not write the key"))?;
    let timestamp = tx
        .envelope
        .channel_header
        .timestamp
        .and_then(|t| SystemTime::try_from(t).ok());
    Ok(HistoryEntry {
        txid: tx.envelope.tx_id().to_owned(),
        version,
        timestamp,
        is_delete: write.is_delete,
        value: (!write.is_delete).then_some(write.value),
    })
}
