//! [`LedgerSnapshot`]: a consistent view of the committed state for transaction
//! simulation, over a RocksDB snapshot.

use rocksdb::SnapshotWithThreadMode;
use weft_common::blockstore::Db;

use super::private::{hash, hashed_namespace, hashed_state_key, private_namespace};
use super::read::{Source, StateReader};
use super::store::Ledger;
use super::{LedgerError, StateIter, StateView, VersionedValue};

/// The state as of one committed block. Commits go on while it lives (RocksDB snapshots
/// never block writers); reads through it, txid lookups included, see none of them.
pub struct LedgerSnapshot<'a> {
    ledger: &'a Ledger,
    snapshot: SnapshotWithThreadMode<'a, Db>,
    height: u64,
}

impl std::fmt::Debug for LedgerSnapshot<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerSnapshot")
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

impl<'a> LedgerSnapshot<'a> {
    /// Takes a snapshot of `ledger` now.
    pub(crate) fn new(ledger: &'a Ledger) -> Result<Self, LedgerError> {
        let snapshot = ledger.block_store().db().snapshot();
        // The state savepoint is written with each block, so inside the snapshot it names
        // exactly the last block the snapshot's state reflects.
        let height = Source::Snapshot(&snapshot)
            .savepoint(ledger.state_cf()?)?
            .map_or(0, |last| last + 1);
        Ok(Self {
            ledger,
            snapshot,
            height,
        })
    }

    /// The number of blocks whose state this snapshot reflects (the last one's number +
    /// 1; 0 for an empty ledger).
    pub fn height(&self) -> u64 {
        self.height
    }

    /// The committed private value of `key` in `collection` of `namespace`, if this peer
    /// holds it.
    pub fn get_private(
        &self,
        namespace: &str,
        collection: &str,
        key: &str,
    ) -> Result<Option<VersionedValue>, LedgerError> {
        self.private_reader()?
            .get_state(&private_namespace(namespace, collection), key)
    }

    /// The committed hashed entry (value hash, metadata, version) of `key` in `collection`
    /// of `namespace`.
    pub fn get_private_hash(
        &self,
        namespace: &str,
        collection: &str,
        key: &str,
    ) -> Result<Option<VersionedValue>, LedgerError> {
        self.reader()?.get_state(
            &hashed_namespace(namespace, collection),
            &hashed_state_key(&hash(key.as_bytes())),
        )
    }

    /// The committed private keys of `collection` of `namespace` in `[start, end)` (`end`
    /// empty: to the end), with their values.
    pub fn private_range<'b>(
        &'b self,
        namespace: &str,
        collection: &str,
        start: &str,
        end: &str,
    ) -> Result<StateIter<'b>, LedgerError> {
        self.private_reader()?
            .range(&private_namespace(namespace, collection), start, end)
    }

    fn private_reader(&self) -> Result<StateReader<'_>, LedgerError> {
        Ok(StateReader {
            source: Source::Snapshot(&self.snapshot),
            state: self.ledger.private_cf()?,
            db: self.ledger.block_store().db(),
        })
    }

    fn reader(&self) -> Result<StateReader<'_>, LedgerError> {
        Ok(StateReader {
            source: Source::Snapshot(&self.snapshot),
            state: self.ledger.state_cf()?,
            db: self.ledger.block_store().db(),
        })
    }
}

impl StateView for LedgerSnapshot<'_> {
    fn get_state(&self, namespace: &str, key: &str) -> Result<Option<VersionedValue>, LedgerError> {
        self.reader()?.get_state(namespace, key)
    }

    fn range<'b>(
        &'b self,
        namespace: &str,
        start: &str,
        end: &str,
    ) -> Result<StateIter<'b>, LedgerError> {
        self.reader()?.range(namespace, start, end)
    }

    fn contains_txid(&self, txid: &str) -> Result<bool, LedgerError> {
        self.reader()?.contains_txid(txid)
    }
}
