//! Reading state, either the latest committed or a RocksDB snapshot: the code behind both
//! [`StateView`](super::StateView) implementations.

use rocksdb::{
    ColumnFamily, DBIteratorWithThreadMode, IteratorMode, ReadOptions, SnapshotWithThreadMode,
};
use weft_common::blockstore::{CF_TXIDS, Db};

use super::codec::{
    SAVEPOINT_KEY, check_namespace, decode_savepoint, decode_value, namespace_end,
    namespace_prefix, state_key, state_key_suffix,
};
use super::{LedgerError, StateIter, VersionedValue};

/// Where reads go: the latest committed data or a snapshot of it.
#[derive(Clone, Copy)]
pub(crate) enum Source<'a> {
    /// The database as it is at each read.
    Latest(&'a Db),
    /// A fixed point in time.
    Snapshot(&'a SnapshotWithThreadMode<'a, Db>),
}

impl<'a> Source<'a> {
    /// The value of `key` in column family `cf`.
    pub(crate) fn get(
        &self,
        cf: &ColumnFamily,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, LedgerError> {
        Ok(match self {
            Source::Latest(db) => db.get_cf(cf, key)?,
            Source::Snapshot(snapshot) => snapshot.get_cf(cf, key)?,
        })
    }

    /// An iterator over column family `cf` within `[lower, upper)`, forward or (with
    /// `IteratorMode::End`) backward.
    pub(crate) fn iter(
        &self,
        cf: &ColumnFamily,
        lower: Vec<u8>,
        upper: Vec<u8>,
        mode: IteratorMode<'_>,
    ) -> DBIteratorWithThreadMode<'a, Db> {
        let mut opts = ReadOptions::default();
        opts.set_iterate_lower_bound(lower);
        opts.set_iterate_upper_bound(upper);
        match *self {
            Source::Latest(db) => db.iterator_cf_opt(cf, opts, mode),
            Source::Snapshot(snapshot) => snapshot.iterator_cf_opt(cf, opts, mode),
        }
    }

    /// The savepoint stored in column family `cf`, if any.
    pub(crate) fn savepoint(&self, cf: &ColumnFamily) -> Result<Option<u64>, LedgerError> {
        self.get(cf, SAVEPOINT_KEY)?
            .map(|bytes| decode_savepoint(&bytes))
            .transpose()
    }
}

/// State reads over one [`Source`].
#[derive(Clone, Copy)]
pub(crate) struct StateReader<'a> {
    pub(crate) source: Source<'a>,
    pub(crate) state: &'a ColumnFamily,
    pub(crate) db: &'a Db,
}

impl<'a> StateReader<'a> {
    /// The committed value of `key` in `namespace`.
    pub(crate) fn get_state(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<VersionedValue>, LedgerError> {
        check_namespace(namespace)?;
        self.source
            .get(self.state, &state_key(namespace, key))?
            .map(|bytes| decode_value(&bytes))
            .transpose()
    }

    /// The keys of `namespace` in `[start, end)` (`end` empty: to the namespace's end).
    pub(crate) fn range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
    ) -> Result<StateIter<'a>, LedgerError> {
        check_namespace(namespace)?;
        if !end.is_empty() && start.as_bytes() >= end.as_bytes() {
            return Ok(Box::new(std::iter::empty()));
        }
        let prefix_len = namespace_prefix(namespace).len();
        let lower = state_key(namespace, start);
        let upper = if end.is_empty() {
            namespace_end(namespace)
        } else {
            state_key(namespace, end)
        };
        let iter = self
            .source
            .iter(self.state, lower, upper, IteratorMode::Start);
        Ok(Box::new(iter.map(move |item| {
            let (raw_key, raw_value) = item?;
            let key = state_key_suffix(&raw_key, prefix_len)?;
            Ok((key, decode_value(&raw_value)?))
        })))
    }

    /// Whether the txid index holds `txid`.
    pub(crate) fn contains_txid(&self, txid: &str) -> Result<bool, LedgerError> {
        let txids = self
            .db
            .cf_handle(CF_TXIDS)
            .ok_or_else(|| LedgerError::Corrupt(format!("column family {CF_TXIDS} missing")))?;
        Ok(self.source.get(txids, txid.as_bytes())?.is_some())
    }
}
