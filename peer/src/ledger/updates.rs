//! From read-write sets to [`TxUpdates`]: one transaction's rwset, and the valid
//! transactions of a committed block (what recovery replays and history reads back).

use prost::Message;
use weft_common::protoutil::{
    UnpackedTransaction, transactions_filter, tx_validation_code_at, unpack_endorser_transaction,
    unpack_envelope_bytes,
};
use weft_proto::common::{Block, HeaderType};
use weft_proto::kvrwset::KvrwSet;
use weft_proto::protos::TxValidationCode;
use weft_proto::rwset::TxReadWriteSet;

use super::{KeyMetadata, KeyMetadataWrite, KeyWrite, LedgerError, NsUpdates, TxUpdates};

/// The public writes of transaction `tx_num` (id `txid`) from its read-write set.
///
/// Each `NsReadWriteSet.rwset` is decoded as a `KVRWSet`; its writes become
/// [`KeyWrite`]s (`is_delete` → `None`), its metadata writes [`KeyMetadataWrite`]s
/// (entries by name, a repeated name keeping its last value). Namespaces keep their rwset
/// order, including those without writes. Collection hashed writes are not carried (no
/// private data yet).
pub fn tx_updates_from_rwset(
    tx_num: u64,
    txid: &str,
    rwset: &TxReadWriteSet,
) -> Result<TxUpdates, LedgerError> {
    let namespaces = rwset
        .ns_rwset
        .iter()
        .map(|ns| {
            let kv = KvrwSet::decode(ns.rwset.as_slice()).map_err(|e| {
                LedgerError::InvalidRwset(format!(
                    "tx {txid}: namespace {:?}: KVRWSet: {e}",
                    ns.namespace
                ))
            })?;
            Ok(ns_updates(&ns.namespace, kv))
        })
        .collect::<Result<_, LedgerError>>()?;
    Ok(TxUpdates {
        tx_num,
        txid: txid.to_owned(),
        namespaces,
    })
}

fn ns_updates(namespace: &str, kv: KvrwSet) -> NsUpdates {
    let writes = kv
        .writes
        .into_iter()
        .map(|w| KeyWrite {
            key: w.key,
            value: (!w.is_delete).then_some(w.value),
        })
        .collect();
    let metadata_writes = kv
        .metadata_writes
        .into_iter()
        .map(|m| KeyMetadataWrite {
            key: m.key,
            entries: m
                .entries
                .into_iter()
                .map(|e| (e.name, e.value))
                .collect::<KeyMetadata>(),
        })
        .collect();
    NsUpdates {
        namespace: namespace.to_owned(),
        writes,
        metadata_writes,
    }
}

/// The updates a committed block made: those of its transactions whose
/// TRANSACTIONS_FILTER code is VALID and whose type is ENDORSER_TRANSACTION (config
/// transactions write no state), in block order.
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
        let Some(tx) = valid_endorser_tx(number, index, entry)? else {
            continue;
        };
        let rwset = tx_rwset(number, index, &tx)?;
        let tx_num = u64::try_from(index)
            .map_err(|_| LedgerError::Corrupt(format!("block {number}: tx index {index}")))?;
        let updates = tx_updates_from_rwset(tx_num, tx.envelope.tx_id(), &rwset)
            .map_err(|e| LedgerError::Corrupt(format!("block {number} tx {index}: {e}")))?;
        out.push(updates);
    }
    Ok(out)
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
