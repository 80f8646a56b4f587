//! raft-rs `Storage` over RocksDB: the durable Raft log, hard state, conf state and the
//! latest snapshot's metadata.
//!
//! The column families live in the channel's ledger database, next to the block store,
//! so that a block and the Raft position it reflects are written in one atomic batch.
//! Every write that raft-rs requires to be durable before messages go out (entries, hard
//! state) is synced.

use std::sync::{Arc, RwLock};

use protobuf::Message as _;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, StorageError};
use rocksdb::{ColumnFamily, WriteBatch, WriteOptions};
use weft_common::blockstore::Db as DB;

/// Column family holding log entries, keyed by big-endian index.
pub const CF_RAFT_LOG: &str = "raft_log";
/// Column family holding the hard state, conf state, snapshot and the chain's position.
pub const CF_RAFT_STATE: &str = "raft_state";

const KEY_HARD_STATE: &[u8] = b"hard_state";
const KEY_CONF_STATE: &[u8] = b"conf_state";
const KEY_SNAPSHOT: &[u8] = b"snapshot";

/// A failure of the Raft storage itself (the database or a corrupt record).
#[derive(Debug, thiserror::Error)]
pub enum RaftStorageError {
    /// RocksDB failed.
    #[error("raft storage: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// A column family is missing from the database.
    #[error("raft storage: column family {0} missing")]
    MissingColumnFamily(&'static str),
    /// A stored record does not decode.
    #[error("raft storage: corrupt {what}: {reason}")]
    Corrupt {
        /// Which record.
        what: &'static str,
        /// The decoder's message.
        reason: String,
    },
}

impl From<RaftStorageError> for raft::Error {
    fn from(e: RaftStorageError) -> Self {
        raft::Error::Store(StorageError::Other(Box::new(e)))
    }
}

#[derive(Debug, Clone, Default)]
struct Cache {
    hard_state: HardState,
    conf_state: ConfState,
    snapshot: Snapshot,
    /// Index of the last entry (or of the snapshot when the log is empty).
    last_index: u64,
}

impl Cache {
    fn first_index(&self) -> u64 {
        self.snapshot.get_metadata().index + 1
    }
}

/// The durable Raft storage of one channel on one node.
#[derive(Clone)]
pub struct RaftStorage {
    db: Arc<DB>,
    cache: Arc<RwLock<Cache>>,
}

impl std::fmt::Debug for RaftStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cache = self.read();
        f.debug_struct("RaftStorage")
            .field("first_index", &cache.first_index())
            .field("last_index", &cache.last_index)
            .field("commit", &cache.hard_state.commit)
            .finish()
    }
}

fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

fn decode<M: protobuf::Message>(what: &'static str, bytes: &[u8]) -> Result<M, RaftStorageError> {
    M::parse_from_bytes(bytes).map_err(|e| RaftStorageError::Corrupt {
        what,
        reason: e.to_string(),
    })
}

fn encode<M: protobuf::Message>(m: &M) -> Vec<u8> {
    m.write_to_bytes()
        .expect("raft protobuf messages always encode")
}

impl RaftStorage {
    /// Opens the storage in `db` (which must have [`CF_RAFT_LOG`] and [`CF_RAFT_STATE`]).
    /// A database without Raft state is initialized with `voters` as the conf state: a
    /// new channel whose consenters are `voters`.
    pub fn open(db: Arc<DB>, voters: &[u64]) -> Result<Self, RaftStorageError> {
        let state = db
            .cf_handle(CF_RAFT_STATE)
            .ok_or(RaftStorageError::MissingColumnFamily(CF_RAFT_STATE))?;
        let log = db
            .cf_handle(CF_RAFT_LOG)
            .ok_or(RaftStorageError::MissingColumnFamily(CF_RAFT_LOG))?;

        let mut cache = Cache::default();
        match db.get_cf(state, KEY_CONF_STATE)? {
            Some(bytes) => cache.conf_state = decode("conf state", &bytes)?,
            None => {
                cache.conf_state.set_voters(voters.to_vec());
                let mut batch = WriteBatch::default();
                batch.put_cf(state, KEY_CONF_STATE, encode(&cache.conf_state));
                db.write_opt(batch, &synced())?;
            }
        }
        if let Some(bytes) = db.get_cf(state, KEY_HARD_STATE)? {
            cache.hard_state = decode("hard state", &bytes)?;
        }
        if let Some(bytes) = db.get_cf(state, KEY_SNAPSHOT)? {
            cache.snapshot = decode("snapshot", &bytes)?;
        }
        cache
            .snapshot
            .mut_metadata()
            .set_conf_state(cache.conf_state.clone());
        cache.last_index = cache.snapshot.get_metadata().index;
        let mut last = db.iterator_cf(log, rocksdb::IteratorMode::End);
        if let Some(item) = last.next() {
            let (key, _) = item?;
            let bytes: [u8; 8] =
                key.as_ref()
                    .try_into()
                    .map_err(|_| RaftStorageError::Corrupt {
                        what: "log key",
                        reason: format!("{} bytes", key.len()),
                    })?;
            cache.last_index = cache.last_index.max(u64::from_be_bytes(bytes));
        }
        drop(last);
        Ok(Self {
            db,
            cache: Arc::new(RwLock::new(cache)),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Cache> {
        self.cache
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Cache> {
        self.cache
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn cf(&self, name: &'static str) -> Result<&ColumnFamily, RaftStorageError> {
        self.db
            .cf_handle(name)
            .ok_or(RaftStorageError::MissingColumnFamily(name))
    }

    /// The current hard state (term, vote, commit).
    pub fn hard_state(&self) -> HardState {
        self.read().hard_state.clone()
    }

    /// The latest snapshot (empty when none was taken).
    pub fn latest_snapshot(&self) -> Snapshot {
        self.read().snapshot.clone()
    }

    /// Persists new entries (replacing any conflicting suffix) and, if given, the hard
    /// state, in one synced write. This is what a Raft `Ready` asks to be durable.
    pub fn persist(
        &self,
        entries: &[Entry],
        hard_state: Option<&HardState>,
    ) -> Result<(), RaftStorageError> {
        if entries.is_empty() && hard_state.is_none() {
            return Ok(());
        }
        let log = self.cf(CF_RAFT_LOG)?;
        let state = self.cf(CF_RAFT_STATE)?;
        let mut batch = WriteBatch::default();
        let mut new_last = None;
        {
            let cache = self.read();
            if let Some(first) = entries.first() {
                // Entries from `first.index` on replace whatever was there.
                if first.index <= cache.last_index {
                    batch.delete_range_cf(
                        log,
                        index_key(first.index),
                        index_key(cache.last_index + 1),
                    );
                }
                for e in entries {
                    batch.put_cf(log, index_key(e.index), encode(e));
                }
                new_last = entries.last().map(|e| e.index);
            }
        }
        if let Some(hs) = hard_state {
            batch.put_cf(state, KEY_HARD_STATE, encode(hs));
        }
        self.db.write_opt(batch, &synced())?;
        let mut cache = self.write();
        if let Some(last) = new_last {
            cache.last_index = last;
        }
        if let Some(hs) = hard_state {
            cache.hard_state = hs.clone();
        }
        Ok(())
    }

    /// Records a new commit index (raft-rs reports it after `advance`).
    pub fn set_commit(&self, commit: u64) -> Result<(), RaftStorageError> {
        let mut hs = self.hard_state();
        if hs.commit == commit {
            return Ok(());
        }
        hs.commit = commit;
        self.persist(&[], Some(&hs))
    }

    /// Installs a snapshot received from the leader: the log is emptied and restarts after
    /// the snapshot's index.
    pub fn apply_snapshot(&self, snapshot: &Snapshot) -> Result<(), RaftStorageError> {
        let meta = snapshot.get_metadata();
        let log = self.cf(CF_RAFT_LOG)?;
        let state = self.cf(CF_RAFT_STATE)?;
        let mut hs = self.hard_state();
        hs.term = hs.term.max(meta.term);
        hs.commit = hs.commit.max(meta.index);
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(log, index_key(0), index_key(u64::MAX));
        batch.put_cf(state, KEY_SNAPSHOT, encode(snapshot));
        batch.put_cf(state, KEY_CONF_STATE, encode(meta.get_conf_state()));
        batch.put_cf(state, KEY_HARD_STATE, encode(&hs));
        self.db.write_opt(batch, &synced())?;
        let mut cache = self.write();
        cache.snapshot = snapshot.clone();
        cache.conf_state = meta.get_conf_state().clone();
        cache.hard_state = hs;
        cache.last_index = meta.index;
        Ok(())
    }

    /// Takes a snapshot at `index` (which must be applied and in the log) carrying `data`,
    /// then drops the log entries up to it.
    pub fn compact(&self, index: u64, data: Vec<u8>) -> Result<(), RaftStorageError> {
        let term = {
            let cache = self.read();
            if index <= cache.snapshot.get_metadata().index || index > cache.last_index {
                return Ok(());
            }
            drop(cache);
            raft::Storage::term(self, index).map_err(|e| RaftStorageError::Corrupt {
                what: "log entry",
                reason: format!("term of {index}: {e}"),
            })?
        };
        let mut snapshot = Snapshot::default();
        snapshot.set_data(data.into());
        let mut meta = SnapshotMetadata {
            index,
            term,
            ..Default::default()
        };
        meta.set_conf_state(self.read().conf_state.clone());
        snapshot.set_metadata(meta);

        let log = self.cf(CF_RAFT_LOG)?;
        let state = self.cf(CF_RAFT_STATE)?;
        let mut batch = WriteBatch::default();
        batch.put_cf(state, KEY_SNAPSHOT, encode(&snapshot));
        batch.delete_range_cf(log, index_key(0), index_key(index + 1));
        self.db.write_opt(batch, &synced())?;
        self.write().snapshot = snapshot;
        Ok(())
    }

    fn entry(&self, index: u64) -> Result<Option<Entry>, RaftStorageError> {
        let log = self.cf(CF_RAFT_LOG)?;
        match self.db.get_cf(log, index_key(index))? {
            Some(bytes) => Ok(Some(decode("log entry", &bytes)?)),
            None => Ok(None),
        }
    }
}

fn synced() -> WriteOptions {
    let mut options = WriteOptions::default();
    options.set_sync(true);
    options
}

impl raft::Storage for RaftStorage {
    fn initial_state(&self) -> raft::Result<RaftState> {
        let cache = self.read();
        Ok(RaftState {
            hard_state: cache.hard_state.clone(),
            conf_state: cache.conf_state.clone(),
        })
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        let max_size = max_size.into();
        {
            let cache = self.read();
            if low < cache.first_index() {
                return Err(raft::Error::Store(StorageError::Compacted));
            }
            if high > cache.last_index + 1 {
                return Err(raft::Error::Store(StorageError::Unavailable));
            }
        }
        let log = self.cf(CF_RAFT_LOG)?;
        let mut entries = Vec::with_capacity((high - low) as usize);
        let mut size = 0u64;
        let iter = self.db.iterator_cf(
            log,
            rocksdb::IteratorMode::From(&index_key(low), rocksdb::Direction::Forward),
        );
        for item in iter {
            let (_, value) = item.map_err(RaftStorageError::from)?;
            let entry: Entry = decode("log entry", &value)?;
            if entry.index >= high {
                break;
            }
            size += u64::from(entry.compute_size());
            // Always return at least one entry, then respect the size limit.
            if !entries.is_empty() && max_size.is_some_and(|max| size > max) {
                break;
            }
            entries.push(entry);
        }
        if entries.first().is_some_and(|e| e.index != low) || (entries.is_empty() && low < high) {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        Ok(entries)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        {
            let cache = self.read();
            let meta = cache.snapshot.get_metadata();
            if idx == meta.index {
                return Ok(meta.term);
            }
            if idx < cache.first_index() {
                return Err(raft::Error::Store(StorageError::Compacted));
            }
            if idx > cache.last_index {
                return Err(raft::Error::Store(StorageError::Unavailable));
            }
        }
        match self.entry(idx)? {
            Some(entry) => Ok(entry.term),
            None => Err(raft::Error::Store(StorageError::Unavailable)),
        }
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.read().first_index())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.read().last_index)
    }

    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        let cache = self.read();
        if cache.snapshot.get_metadata().index < request_index {
            return Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable,
            ));
        }
        Ok(cache.snapshot.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft::Storage;

    fn open_db(dir: &std::path::Path) -> Arc<DB> {
        let mut options = rocksdb::Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        Arc::new(DB::open_cf(&options, dir, [CF_RAFT_LOG, CF_RAFT_STATE]).unwrap())
    }

    fn entry(index: u64, term: u64, data: &[u8]) -> Entry {
        let mut e = Entry {
            index,
            term,
            ..Default::default()
        };
        e.set_data(data.to_vec().into());
        e
    }

    #[test]
    fn new_storage_holds_the_voters_and_an_empty_log() {
        let dir = tempfile::tempdir().unwrap();
        let s = RaftStorage::open(open_db(dir.path()), &[1, 2, 3]).unwrap();
        let state = s.initial_state().unwrap();
        assert_eq!(state.conf_state.voters, vec![1, 2, 3]);
        assert_eq!(s.first_index().unwrap(), 1);
        assert_eq!(s.last_index().unwrap(), 0);
        assert_eq!(s.term(0).unwrap(), 0);
    }

    #[test]
    fn persisted_entries_and_hard_state_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = RaftStorage::open(open_db(dir.path()), &[1]).unwrap();
            let hs = HardState {
                term: 2,
                vote: 1,
                commit: 2,
                ..Default::default()
            };
            s.persist(
                &[entry(1, 1, b"a"), entry(2, 2, b"b"), entry(3, 2, b"c")],
                Some(&hs),
            )
            .unwrap();
        }
        let s = RaftStorage::open(open_db(dir.path()), &[9]).unwrap();
        assert_eq!(
            s.initial_state().unwrap().conf_state.voters,
            vec![1],
            "conf state is not re-initialized"
        );
        assert_eq!(s.hard_state().commit, 2);
        assert_eq!(s.last_index().unwrap(), 3);
        let got = s
            .entries(1, 4, None, GetEntriesContext::empty(false))
            .unwrap();
        assert_eq!(
            got.iter().map(|e| e.data.to_vec()).collect::<Vec<_>>(),
            vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
        );
        assert_eq!(s.term(2).unwrap(), 2);
    }

    #[test]
    fn conflicting_suffix_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let s = RaftStorage::open(open_db(dir.path()), &[1]).unwrap();
        s.persist(
            &[entry(1, 1, b"a"), entry(2, 1, b"b"), entry(3, 1, b"c")],
            None,
        )
        .unwrap();
        s.persist(&[entry(2, 2, b"B")], None).unwrap();
        assert_eq!(s.last_index().unwrap(), 2);
        let got = s
            .entries(1, 3, None, GetEntriesContext::empty(false))
            .unwrap();
        assert_eq!(got[1].data.to_vec(), b"B".to_vec());
        assert!(s.term(3).is_err());
    }

    #[test]
    fn size_limit_returns_at_least_one_entry() {
        let dir = tempfile::tempdir().unwrap();
        let s = RaftStorage::open(open_db(dir.path()), &[1]).unwrap();
        s.persist(&[entry(1, 1, &[0; 100]), entry(2, 1, &[0; 100])], None)
            .unwrap();
        assert_eq!(
            s.entries(1, 3, 1, GetEntriesContext::empty(false))
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            s.entries(1, 3, None, GetEntriesContext::empty(false))
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn compaction_takes_a_snapshot_and_drops_the_prefix() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = RaftStorage::open(open_db(dir.path()), &[1, 2]).unwrap();
            s.persist(
                &[entry(1, 1, b"a"), entry(2, 1, b"b"), entry(3, 2, b"c")],
                None,
            )
            .unwrap();
            s.compact(2, b"block 7".to_vec()).unwrap();
            assert_eq!(s.first_index().unwrap(), 3);
            assert_eq!(s.term(2).unwrap(), 1);
            assert!(matches!(
                s.term(1),
                Err(raft::Error::Store(StorageError::Compacted))
            ));
            assert!(matches!(
                s.entries(1, 3, None, GetEntriesContext::empty(false)),
                Err(raft::Error::Store(StorageError::Compacted))
            ));
        }
        let s = RaftStorage::open(open_db(dir.path()), &[1, 2]).unwrap();
        let snap = s.snapshot(2, 2).unwrap();
        assert_eq!(snap.get_metadata().index, 2);
        assert_eq!(snap.get_data(), b"block 7");
        assert_eq!(snap.get_metadata().get_conf_state().voters, vec![1, 2]);
        assert!(matches!(
            s.snapshot(3, 2),
            Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable
            ))
        ));
        assert_eq!(s.last_index().unwrap(), 3);
    }

    #[test]
    fn an_installed_snapshot_resets_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let s = RaftStorage::open(open_db(dir.path()), &[1, 2, 3]).unwrap();
        s.persist(&[entry(1, 1, b"a")], None).unwrap();
        let mut snap = Snapshot::default();
        snap.mut_metadata().index = 10;
        snap.mut_metadata().term = 3;
        snap.mut_metadata()
            .mut_conf_state()
            .set_voters(vec![1, 2, 3]);
        s.apply_snapshot(&snap).unwrap();
        assert_eq!(s.first_index().unwrap(), 11);
        assert_eq!(s.last_index().unwrap(), 10);
        assert_eq!(s.term(10).unwrap(), 3);
        assert_eq!(s.hard_state().commit, 10);
    }
}
