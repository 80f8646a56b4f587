//! [`Ledger`]: one channel's block store, state database and history index in one
//! RocksDB database, committed block by block in single atomic writes.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use rocksdb::{ColumnFamily, IteratorMode, WriteBatch};
use sha2::{Digest, Sha256};
use weft_common::blockstore::{BlockStore, BlockStoreError, BlockStoreOptions};
use weft_common::protoutil::{transactions_filter, tx_validation_code_at};
use weft_proto::common::Block;
use weft_proto::protos::TxValidationCode;

use super::apply::apply_block;
use super::codec::{
    CF_HISTORY, CF_STATE, END_OF_ALL_KEYS, META_PREFIX, SAVEPOINT_KEY, check_namespace,
    decode_value, encode_savepoint, encode_value, history_key, split_history_key, split_state_key,
    state_key,
};
use super::private::{CF_PRIVATE, CF_TRANSIENT, is_derived_namespace};
use super::read::{Source, StateReader};
use super::snapshot::LedgerSnapshot;
use super::{
    LedgerError, SimulatorConfig, StateIter, StateView, TxSimulator, TxUpdates, Version,
    VersionedValue,
};

/// One channel's ledger: blocks (with the txid index), the versioned state and the
/// history index, in one RocksDB database. Besides the block store's column families:
///
/// - `state`: `namespace ‖ 0x00 ‖ key` → `1 ‖ block (u64 BE) ‖ tx (u64 BE) ‖ metadata
///   count (u32 BE) ‖ (name len ‖ name ‖ value len ‖ value)* ‖ value`;
/// - `history`: `namespace ‖ 0x00 ‖ key ‖ 0x00 ‖ block (u64 BE) ‖ tx (u64 BE)` → empty,
///   values being read back from the blocks;
/// - in each, the key `0xff ‖ "savepoint"` → the last block applied to it (u64 BE).
///
/// [`Ledger::commit`] writes a block, its state changes, its history entries and both
/// savepoints in one atomic RocksDB write, so a crash leaves all of a block or none of
/// it. Readers never wait for commits; [`Ledger::snapshot`] gives a consistent view for
/// simulation.
pub struct Ledger {
    store: Arc<BlockStore>,
    /// Serializes commits and rebuilds: a block's changes are computed from the state the
    /// previous block left.
    commit_lock: Mutex<()>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("height", &self.height())
            .finish_non_exhaustive()
    }
}

/// What [`Ledger::block_batch`] should cover.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Targets {
    pub(crate) state: bool,
    pub(crate) history: bool,
}

impl Ledger {
    /// Opens (creating if needed) the ledger in directory `dir`, with fsynced commits.
    ///
    /// State and history that lag behind the blocks (their column families were wiped,
    /// or a crash interrupted a rebuild) are caught up by replaying the committed blocks.
    pub fn open(dir: &Path) -> Result<Self, LedgerError> {
        Self::open_with(dir, BlockStoreOptions::default())
    }

    /// [`Self::open`] with explicit block store options.
    pub fn open_with(dir: &Path, options: BlockStoreOptions) -> Result<Self, LedgerError> {
        let store = BlockStore::open_with(
            dir,
            &[CF_STATE, CF_HISTORY, CF_PRIVATE, CF_TRANSIENT],
            options,
        )?;
        let ledger = Self {
            store: Arc::new(store),
            commit_lock: Mutex::new(()),
        };
        {
            let _guard = ledger.lock();
            ledger.catch_up()?;
        }
        Ok(ledger)
    }

    /// The number of committed blocks (the next block's number).
    pub fn height(&self) -> u64 {
        self.store.height()
    }

    /// The block store (blocks, txid index, height watch) for Deliver and queries.
    pub fn block_store(&self) -> &Arc<BlockStore> {
        &self.store
    }

    /// Commits the next block with the state updates of its valid transactions.
    ///
    /// `block` must carry its TRANSACTIONS_FILTER (one code per transaction); `updates`
    /// are the valid transactions' writes in block order (strictly increasing `tx_num`,
    /// each marked VALID in the filter), applied as Fabric does: each
    /// written key gets version `(block, tx_num)`, a value write keeps the key's metadata
    /// unless the same transaction writes metadata, a delete removes value and metadata,
    /// a metadata write on an absent key is ignored, a later transaction wins over an
    /// earlier one. Every write (put or delete) of `updates` is recorded in the history
    /// index. Block, txid index, state, history and savepoints go in one atomic write;
    /// on error nothing is written.
    pub fn commit(&self, block: &Block, updates: &[TxUpdates]) -> Result<(), LedgerError> {
        let _guard = self.lock();
        let number = block
            .header
            .as_ref()
            .ok_or(BlockStoreError::MissingHeader)?
            .number;
        let height = self.store.height();
        if number != height {
            return Err(BlockStoreError::WrongNumber {
                expected: height,
                got: number,
            }
            .into());
        }
        check_updates(block, number, updates)?;
        let mut batch = self.block_batch(
            number,
            updates,
            Targets {
                state: true,
                history: true,
            },
        )?;
        self.private_batch(&mut batch, number, updates)?;
        let txids = block_txids(block);
        self.purge_transient(&mut batch, &txids, number + 1)?;
        self.store.append(block, batch)?;
        tracing::debug!(block = number, txs = updates.len(), "block committed");
        Ok(())
    }

    /// A consistent read-only view of the state as of the last committed block, for
    /// simulation. Commits go on while it lives; it does not see them.
    pub fn snapshot(&self) -> Result<LedgerSnapshot<'_>, LedgerError> {
        LedgerSnapshot::new(self)
    }

    /// A transaction simulator for `txid` over a snapshot of this ledger taken now, with
    /// the default settings.
    pub fn new_tx_simulator(self: &Arc<Self>, txid: &str) -> Result<TxSimulator, LedgerError> {
        self.new_tx_simulator_with(txid, SimulatorConfig::default())
    }

    /// [`Self::new_tx_simulator`] with explicit settings.
    pub fn new_tx_simulator_with(
        self: &Arc<Self>,
        txid: &str,
        config: SimulatorConfig,
    ) -> Result<TxSimulator, LedgerError> {
        TxSimulator::new(Arc::clone(self), txid, config)
    }

    /// SHA-256 over every key of the state (namespace and key order) with its version,
    /// metadata and value: equal on two ledgers holding the same state.
    pub fn state_hash(&self) -> Result<[u8; 32], LedgerError> {
        let snapshot = self.store.db().snapshot();
        let mut hasher = Sha256::new();
        hasher.update(b"weft-state-v1");
        let iter = Source::Snapshot(&snapshot).iter(
            self.state_cf()?,
            Vec::new(),
            vec![META_PREFIX],
            IteratorMode::Start,
        );
        for item in iter {
            let (raw_key, raw_value) = item?;
            let (namespace, key) = split_state_key(&raw_key)?;
            let value = decode_value(&raw_value)?;
            hash_field(&mut hasher, namespace.as_bytes());
            hash_field(&mut hasher, key.as_bytes());
            hash_version(&mut hasher, value.version);
            hasher.update((value.metadata.len() as u64).to_be_bytes());
            for (name, entry) in &value.metadata {
                hash_field(&mut hasher, name.as_bytes());
                hash_field(&mut hasher, entry);
            }
            hash_field(&mut hasher, &value.value);
        }
        Ok(hasher.finalize().into())
    }

    /// SHA-256 over every history index entry (namespace, key, version) in index order:
    /// equal on two ledgers that recorded the same writes. (Values are read back from
    /// blocks, which the block store's hash chain covers.)
    pub fn history_hash(&self) -> Result<[u8; 32], LedgerError> {
        let snapshot = self.store.db().snapshot();
        let mut hasher = Sha256::new();
        hasher.update(b"weft-history-v1");
        let iter = Source::Snapshot(&snapshot).iter(
            self.history_cf()?,
            Vec::new(),
            vec![META_PREFIX],
            IteratorMode::Start,
        );
        for item in iter {
            let (raw_key, _) = item?;
            let (namespace, key, version) = split_history_key(&raw_key)?;
            hash_field(&mut hasher, namespace.as_bytes());
            hash_field(&mut hasher, key.as_bytes());
            hash_version(&mut hasher, version);
        }
        Ok(hasher.finalize().into())
    }

    /// The state column family.
    pub(crate) fn state_cf(&self) -> Result<&ColumnFamily, LedgerError> {
        Ok(self.store.cf(CF_STATE)?)
    }

    /// The history column family.
    pub(crate) fn history_cf(&self) -> Result<&ColumnFamily, LedgerError> {
        Ok(self.store.cf(CF_HISTORY)?)
    }

    /// Takes the commit lock.
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.commit_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads of the latest committed state.
    fn latest(&self) -> Result<StateReader<'_>, LedgerError> {
        Ok(StateReader {
            source: Source::Latest(self.store.db()),
            state: self.state_cf()?,
            db: self.store.db(),
        })
    }

    /// The writes block `number` makes with `updates` on top of the current state: state
    /// changes and state savepoint if `targets.state`, history entries and history
    /// savepoint if `targets.history`. Call with the commit lock held.
    pub(crate) fn block_batch(
        &self,
        number: u64,
        updates: &[TxUpdates],
        targets: Targets,
    ) -> Result<WriteBatch, LedgerError> {
        let mut batch = WriteBatch::default();
        if targets.state {
            let reader = self.latest()?;
            let changes = apply_block(number, updates, |ns, key| reader.get_state(ns, key))?;
            let state = self.state_cf()?;
            for ((namespace, key), change) in &changes {
                let raw_key = state_key(namespace, key);
                match change {
                    Some(value) => batch.put_cf(state, raw_key, encode_value(value)?),
                    None => batch.delete_cf(state, raw_key),
                }
            }
            batch.put_cf(state, SAVEPOINT_KEY, encode_savepoint(number));
        }
        if targets.history {
            let history = self.history_cf()?;
            for tx in updates {
                let version = Version::new(number, tx.tx_num);
                for ns in tx
                    .namespaces
                    .iter()
                    .filter(|ns| !is_derived_namespace(&ns.namespace))
                {
                    for write in &ns.writes {
                        batch.put_cf(history, history_key(&ns.namespace, &write.key, version), []);
                    }
                }
            }
            batch.put_cf(history, SAVEPOINT_KEY, encode_savepoint(number));
        }
        Ok(batch)
    }

    /// Removes everything from the state and history column families, savepoints
    /// included. Call with the commit lock held.
    pub(crate) fn clear(&self, targets: Targets) -> Result<(), LedgerError> {
        let db = self.store.db();
        let mut batch = WriteBatch::default();
        let mut cfs = Vec::new();
        if targets.state {
            cfs.push(self.state_cf()?);
        }
        if targets.history {
            cfs.push(self.history_cf()?);
        }
        for cf in &cfs {
            batch.delete_range_cf(*cf, &[][..], END_OF_ALL_KEYS);
        }
        db.write(batch)?;
        for cf in cfs {
            db.compact_range_cf(cf, None::<&[u8]>, None::<&[u8]>);
        }
        Ok(())
    }
}

impl StateView for Ledger {
    fn get_state(&self, namespace: &str, key: &str) -> Result<Option<VersionedValue>, LedgerError> {
        self.latest()?.get_state(namespace, key)
    }

    fn range<'a>(
        &'a self,
        namespace: &str,
        start: &str,
        end: &str,
    ) -> Result<StateIter<'a>, LedgerError> {
        self.latest()?.range(namespace, start, end)
    }

    fn contains_txid(&self, txid: &str) -> Result<bool, LedgerError> {
        Ok(self.store.contains_txid(txid)?)
    }
}

/// The transaction ids of every transaction of `block` that unpacks (whatever its code):
/// their transient store entries go when the block commits.
fn block_txids(block: &Block) -> Vec<String> {
    let Some(data) = block.data.as_ref() else {
        return Vec::new();
    };
    data.data
        .iter()
        .filter_map(|entry| weft_common::protoutil::unpack_envelope_bytes(entry).ok())
        .map(|envelope| envelope.tx_id().to_owned())
        .collect()
}

/// Checks that `updates` fit `block`: a filter entry per transaction, strictly
/// increasing transaction numbers of VALID transactions, representable namespaces.
fn check_updates(block: &Block, number: u64, updates: &[TxUpdates]) -> Result<(), LedgerError> {
    let tx_count = block.data.as_ref().map_or(0, |d| d.data.len());
    let filter = transactions_filter(block);
    if filter.len() != tx_count {
        return Err(LedgerError::InvalidCommit(format!(
            "block {number}: TRANSACTIONS_FILTER has {} entries for {tx_count} transactions",
            filter.len()
        )));
    }
    let mut previous: Option<u64> = None;
    for tx in updates {
        if previous.is_some_and(|p| tx.tx_num <= p) {
            return Err(LedgerError::InvalidCommit(format!(
                "block {number}: updates of tx {} out of order",
                tx.tx_num
            )));
        }
        previous = Some(tx.tx_num);
        let valid = usize::try_from(tx.tx_num)
            .ok()
            .and_then(|index| tx_validation_code_at(filter, index))
            == Some(TxValidationCode::Valid);
        if !valid {
            return Err(LedgerError::InvalidCommit(format!(
                "block {number}: updates for tx {} ({}), which is not a VALID transaction of the block",
                tx.tx_num, tx.txid
            )));
        }
        for ns in &tx.namespaces {
            check_namespace(&ns.namespace)?;
        }
    }
    Ok(())
}

fn hash_field(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_be_bytes());
    hasher.update(bytes);
}

fn hash_version(hasher: &mut Sha256, version: Version) {
    hasher.update(version.block_num.to_be_bytes());
    hasher.update(version.tx_num.to_be_bytes());
}
