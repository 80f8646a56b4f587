//! [`TxSimulator`]: what the endorser runs a chaincode against. It reads one consistent
//! snapshot of the committed state and records the transaction's read-write set exactly
//! as Fabric v2.5's `lockbased_txmgr` simulator does (`txmgr/tx_simulator.go`,
//! `txmgr/query_executor.go`, `rwsetutil/rwset_builder.go`), so that Weft and Go peers
//! produce identical rwset bytes for the same simulation.
//!
//! Rules reproduced (Fabric file in parentheses):
//!
//! - reads go to the committed state only: a transaction never sees its own writes
//!   (`query_executor.go`); each read records `KVRead{key, version}`, version absent
//!   for an absent key, one entry per key (`rwset_builder.go` keeps the latest; on one
//!   snapshot every read of a key sees the same version);
//! - `GetStateMetadata` records the read like `GetState` (`query_executor.go`);
//! - a write is `KVWrite{key, is_delete: value empty, value}`, last write per key wins;
//!   a delete is a write of an empty value; a metadata write replaces the key's whole
//!   metadata write, entries sorted by name, a delete being no entries
//!   (`rwset_builder.go`, `rwset_proto_util.go`); Fabric's LevelDB state database
//!   accepts every key and value (`stateleveldb.ValidateKeyValue` returns nil), and so
//!   does this simulator;
//! - every write looks up the key's committed metadata for the endorser's chaincode
//!   interest (`txSimulator.checkStateMetadata`, `ledger.WritesetMetadata`);
//! - range queries (`resultsItr`): every result the iterator yields is fed to the
//!   [`RangeQueryResultsHelper`] and becomes the `end_key`; an exhausted iterator sets
//!   `itr_exhausted` and the requested end key; closing records nothing more. Every
//!   query opened is recorded when the results are taken, in opening order, and
//!   `RWSetBuilder.AddToRangeQuerySet` keeps only the first of several identical
//!   `(start_key, end_key, itr_exhausted)`;
//! - results are handed out as the chaincode handler's `QueryResponseGenerator` does:
//!   batches of at most `max` results, the result that overflows a batch being pulled
//!   from the iterator (and so recorded) before the batch is returned; at most
//!   `ledger.state.totalQueryLimit` results per query;
//! - paginated range queries (`handler.go`, `stateleveldb` `kvScanner`): the bookmark
//!   (if non-empty) replaces the start key, the whole page is returned at once, the
//!   bookmark returned is the next key after the page (not recorded) or `""` once the
//!   range is exhausted; they are only allowed in transactions that have not written,
//!   and writes are refused after one (`tx_simulator.go`, Fabric's error texts);
//! - the rwset: namespaces sorted by name, in each namespace reads, writes and metadata
//!   writes sorted by key, range queries in order (`rwset_builder.go`); data model KV.
//!
//! Private data (collection hashed rwsets, the private rwset) is not simulated here: the
//! seam is `NsBuilder`, where per-collection hashed read-write sets sorted by
//! collection name would be added to each `NsReadWriteSet`.
//!
//! The simulator owns an `Arc<Ledger>` and a [`LedgerSnapshot`] of it (a self-referential
//! cell), so it is `Send + 'static` and can live across the chaincode's message round
//! trips. It never keeps a RocksDB iterator between calls: an open range query is plain
//! data, and each fetch opens a new iterator on the same snapshot just after the last key
//! pulled.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use prost::Message;
use self_cell::self_cell;
use weft_proto::kvrwset::range_query_info::ReadsInfo;
use weft_proto::kvrwset::{
    KvMetadataEntry, KvMetadataWrite, KvRead, KvWrite, KvrwSet, QueryReads, RangeQueryInfo,
    Version as PbVersion,
};
use weft_proto::rwset::tx_read_write_set::DataModel;
use weft_proto::rwset::{NsReadWriteSet, TxReadWriteSet};

use super::{
    HistoryEntry, KeyMetadata, Ledger, LedgerError, LedgerSnapshot, StateIter, StateView, Version,
};
use crate::validation::range_merkle::RangeQueryResultsHelper;

#[cfg(test)]
mod tests;

/// Fabric's default `ledger.state.totalQueryLimit`: the most results one query returns.
pub const DEFAULT_TOTAL_QUERY_LIMIT: usize = 100_000;

/// The batch size Fabric's chaincode handler uses between QUERY_STATE_NEXT round trips
/// (`QueryResponseGenerator.MaxResultLimit`).
pub const QUERY_BATCH_SIZE: usize = 100;

/// The identifier of an open query, as sent to the chaincode in `QueryResponse.id`.
pub type QueryId = String;

/// One result of a range query: key and value.
pub type KeyValue = (String, Vec<u8>);

/// Settings of a simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimulatorConfig {
    /// The most results one range query returns (`ledger.state.totalQueryLimit`).
    pub total_query_limit: usize,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            total_query_limit: DEFAULT_TOTAL_QUERY_LIMIT,
        }
    }
}

/// The pagination a chaincode asked for (`QueryMetadata`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pagination {
    /// The page size (≤ 0: no limit but the total query limit).
    pub page_size: i32,
    /// Where the page starts (a key returned as the previous page's bookmark), or empty.
    pub bookmark: String,
}

impl Pagination {
    /// Whether Fabric treats the query as paginated (`isMetadataSetForPagination`).
    fn is_set(&self) -> bool {
        self.page_size != 0 || !self.bookmark.is_empty()
    }
}

/// What Fabric returns with a page (`QueryResponseMetadata`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageMetadata {
    /// The number of results in the page.
    pub fetched_records_count: i32,
    /// The key the next page starts at, or empty when the range is exhausted.
    pub bookmark: String,
}

/// One response to a query fetch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryBatch {
    /// `(key, value)` pairs in key order.
    pub results: Vec<KeyValue>,
    /// Whether more results are available with another fetch; when `false` the query is
    /// finished and its id no longer valid.
    pub has_more: bool,
    /// For a paginated query, the page's metadata (`None` otherwise).
    pub metadata: Option<PageMetadata>,
}

/// The outcome of a simulation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimulationResults {
    /// The public read-write set.
    pub rwset: TxReadWriteSet,
    /// `rwset` encoded: the bytes that go into `ChaincodeAction.results`.
    pub bytes: Vec<u8>,
    /// For each namespace and written key (value or metadata), the key's committed
    /// metadata (empty if none): Fabric's `WritesetMetadata`, from which the endorser
    /// derives the chaincode interest (key-level endorsement policies).
    pub writeset_metadata: BTreeMap<String, BTreeMap<String, KeyMetadata>>,
}

/// Why a simulation step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimulationError {
    /// Reading the ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// No open query has this id (never opened, finished or closed).
    #[error("query iterator not found")]
    UnknownQuery(QueryId),
    /// A paginated query in a transaction that has written.
    #[error(
        "txid [{txid}]: unsuppored transaction. Paginated queries are supported only in a \
         read-only transaction"
    )]
    PaginatedQueryAfterWrite {
        /// The transaction id.
        txid: String,
    },
    /// A write in a transaction that has run a paginated query.
    #[error(
        "txid [{txid}]: unsuppored transaction. Transaction has already performed a \
         paginated query. Writes are not allowed"
    )]
    WriteAfterPaginatedQuery {
        /// The transaction id.
        txid: String,
    },
}

self_cell!(
    /// The ledger and a snapshot borrowing it, held together.
    struct SnapshotCell {
        owner: Arc<Ledger>,

        #[covariant]
        dependent: LedgerSnapshot,
    }
);

/// The read-write set of one namespace under construction (Fabric's `nsPubRwBuilder`).
///
/// Private data would add here, per collection, the hashed reads and writes and the
/// private rwset's hash (emitted sorted by collection name).
#[derive(Debug, Default)]
struct NsBuilder {
    reads: BTreeMap<String, KvRead>,
    writes: BTreeMap<String, KvWrite>,
    metadata_writes: BTreeMap<String, KvMetadataWrite>,
    range_queries: Vec<RangeQueryInfo>,
    range_query_keys: HashSet<(String, String, bool)>,
}

impl NsBuilder {
    fn add_range_query(&mut self, info: RangeQueryInfo) {
        let key = (
            info.start_key.clone(),
            info.end_key.clone(),
            info.itr_exhausted,
        );
        if self.range_query_keys.insert(key) {
            self.range_queries.push(info);
        }
    }

    fn build(self) -> KvrwSet {
        KvrwSet {
            reads: self.reads.into_values().collect(),
            range_queries_info: self.range_queries,
            writes: self.writes.into_values().collect(),
            metadata_writes: self.metadata_writes.into_values().collect(),
        }
    }
}

/// What a range query has recorded so far (Fabric's `resultsItr`), kept until the
/// results are taken whether the query is still open or not.
#[derive(Debug)]
struct RangeRecord {
    namespace: String,
    /// Start key, end key and exhaustion; the reads are added at the end.
    info: RangeQueryInfo,
    helper: RangeQueryResultsHelper,
}

/// An open range query: plain data, resumed on the snapshot at each fetch.
#[derive(Debug)]
struct OpenQuery {
    /// Index of its record in `TxSimulator::range_records`.
    record: usize,
    namespace: String,
    /// Where the next iterator starts (inclusive): the query's start, then just after
    /// the last key pulled.
    next_start: String,
    /// The requested end key (exclusive; empty: the namespace's end).
    end: String,
    /// The results handed out so far, the pending one included.
    returned: usize,
    /// The most results to return.
    limit: usize,
    paginated: bool,
    /// A result pulled from the iterator but not yet returned (it overflowed a batch).
    pending: Option<KeyValue>,
}

/// Simulates one transaction against a snapshot of a ledger, recording its read-write
/// set. Create it with [`Ledger::new_tx_simulator`]; finish it with [`TxSimulator::done`].
pub struct TxSimulator {
    cell: SnapshotCell,
    txid: String,
    config: SimulatorConfig,
    namespaces: BTreeMap<String, NsBuilder>,
    range_records: Vec<RangeRecord>,
    queries: HashMap<QueryId, OpenQuery>,
    next_query: u64,
    writeset_metadata: BTreeMap<String, BTreeMap<String, KeyMetadata>>,
    write_performed: bool,
    paginated_query_performed: bool,
}

impl std::fmt::Debug for TxSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxSimulator")
            .field("txid", &self.txid)
            .field("height", &self.height())
            .field("open_queries", &self.queries.len())
            .finish_non_exhaustive()
    }
}

impl TxSimulator {
    /// A simulator for transaction `txid` over a snapshot of `ledger` taken now.
    pub fn new(
        ledger: Arc<Ledger>,
        txid: &str,
        config: SimulatorConfig,
    ) -> Result<Self, LedgerError> {
        let cell = SnapshotCell::try_new(ledger, |ledger| ledger.snapshot())?;
        Ok(Self {
            cell,
            txid: txid.to_owned(),
            config,
            namespaces: BTreeMap::new(),
            range_records: Vec::new(),
            queries: HashMap::new(),
            next_query: 0,
            writeset_metadata: BTreeMap::new(),
            write_performed: false,
            paginated_query_performed: false,
        })
    }

    /// The number of blocks whose state the simulation reads.
    pub fn height(&self) -> u64 {
        self.cell.borrow_dependent().height()
    }

    /// The transaction id.
    pub fn txid(&self) -> &str {
        &self.txid
    }

    /// The snapshot the simulation reads, for reads that must not be recorded (txid
    /// lookups, definitions…).
    pub fn snapshot(&self) -> &LedgerSnapshot<'_> {
        self.cell.borrow_dependent()
    }

    /// The ledger simulated against.
    pub fn ledger(&self) -> &Arc<Ledger> {
        self.cell.borrow_owner()
    }

    fn ns(&mut self, namespace: &str) -> &mut NsBuilder {
        self.namespaces.entry(namespace.to_owned()).or_default()
    }

    fn record_read(&mut self, namespace: &str, key: &str, version: Option<Version>) {
        let read = KvRead {
            key: key.to_owned(),
            version: version.map(pb_version),
        };
        self.ns(namespace).reads.insert(key.to_owned(), read);
    }

    /// The committed value of `key`, recording the read. The transaction's own writes
    /// are not visible.
    pub fn get_state(
        &mut self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, SimulationError> {
        let value = self.cell.borrow_dependent().get_state(namespace, key)?;
        self.record_read(namespace, key, value.as_ref().map(|v| v.version));
        Ok(value.map(|v| v.value))
    }

    /// The committed values of `keys` (in order), recording each read.
    pub fn get_state_multiple(
        &mut self,
        namespace: &str,
        keys: &[String],
    ) -> Result<Vec<Option<Vec<u8>>>, SimulationError> {
        keys.iter()
            .map(|key| self.get_state(namespace, key))
            .collect()
    }

    /// The committed metadata of `key` (empty if none or absent), recording the read of
    /// the key as [`Self::get_state`] does.
    pub fn get_state_metadata(
        &mut self,
        namespace: &str,
        key: &str,
    ) -> Result<KeyMetadata, SimulationError> {
        let value = self.cell.borrow_dependent().get_state(namespace, key)?;
        self.record_read(namespace, key, value.as_ref().map(|v| v.version));
        Ok(value.map(|v| v.metadata).unwrap_or_default())
    }

    /// Fabric's `checkWritePrecondition`: no write after a paginated query.
    fn check_write(&mut self) -> Result<(), SimulationError> {
        if self.paginated_query_performed {
            return Err(SimulationError::WriteAfterPaginatedQuery {
                txid: self.txid.clone(),
            });
        }
        self.write_performed = true;
        Ok(())
    }

    /// Fabric's `checkStateMetadata`: remembers the written key's committed metadata.
    fn note_writeset_metadata(&mut self, namespace: &str, key: &str) -> Result<(), LedgerError> {
        let metadata = self
            .cell
            .borrow_dependent()
            .get_state(namespace, key)?
            .map(|v| v.metadata)
            .unwrap_or_default();
        self.writeset_metadata
            .entry(namespace.to_owned())
            .or_default()
            .insert(key.to_owned(), metadata);
        Ok(())
    }

    /// Writes `value` to `key` (an empty value is a delete). The last write of a key wins.
    pub fn set_state(
        &mut self,
        namespace: &str,
        key: &str,
        value: Vec<u8>,
    ) -> Result<(), SimulationError> {
        self.check_write()?;
        let write = KvWrite {
            key: key.to_owned(),
            is_delete: value.is_empty(),
            value,
        };
        self.ns(namespace).writes.insert(key.to_owned(), write);
        self.note_writeset_metadata(namespace, key)?;
        Ok(())
    }

    /// Deletes `key` (a write of an empty value).
    pub fn delete_state(&mut self, namespace: &str, key: &str) -> Result<(), SimulationError> {
        self.set_state(namespace, key, Vec::new())
    }

    /// Sets the whole metadata of `key` to `metadata` (empty: clears it). The last
    /// metadata write of a key wins.
    pub fn set_state_metadata(
        &mut self,
        namespace: &str,
        key: &str,
        metadata: KeyMetadata,
    ) -> Result<(), SimulationError> {
        self.check_write()?;
        let write = KvMetadataWrite {
            key: key.to_owned(),
            entries: metadata
                .into_iter()
                .map(|(name, value)| KvMetadataEntry { name, value })
                .collect(),
        };
        self.ns(namespace)
            .metadata_writes
            .insert(key.to_owned(), write);
        self.note_writeset_metadata(namespace, key)?;
        Ok(())
    }

    /// Clears the metadata of `key` (a metadata write with no entries).
    pub fn delete_state_metadata(
        &mut self,
        namespace: &str,
        key: &str,
    ) -> Result<(), SimulationError> {
        self.set_state_metadata(namespace, key, KeyMetadata::new())
    }

    /// Fabric's check before a paginated query of any kind (e.g. a paginated rich
    /// query): refused once the transaction has written; afterwards writes are refused.
    pub fn begin_paginated_query(&mut self) -> Result<(), SimulationError> {
        if self.write_performed {
            return Err(SimulationError::PaginatedQueryAfterWrite {
                txid: self.txid.clone(),
            });
        }
        self.paginated_query_performed = true;
        Ok(())
    }

    /// Opens a range query over the committed keys of `namespace` in `[start, end)`
    /// (`end` empty: to the namespace's end). With a `pagination` Fabric treats as set
    /// (page size ≠ 0 or a bookmark), the query is paginated: refused if the transaction
    /// has written, the bookmark (if any) replacing `start`, and writes refused from now
    /// on. Results come with [`Self::next_batch`].
    pub fn open_range(
        &mut self,
        namespace: &str,
        start: &str,
        end: &str,
        pagination: Option<Pagination>,
    ) -> Result<QueryId, SimulationError> {
        let pagination = pagination.filter(Pagination::is_set);
        let mut start = start;
        let mut limit = self.config.total_query_limit;
        if let Some(page) = &pagination {
            if self.write_performed {
                return Err(SimulationError::PaginatedQueryAfterWrite {
                    txid: self.txid.clone(),
                });
            }
            self.paginated_query_performed = true;
            if !page.bookmark.is_empty() {
                start = &page.bookmark;
            }
            if let Ok(size) = usize::try_from(page.page_size)
                && size > 0
                && size < limit
            {
                limit = size;
            }
        }
        // Fabric opens the database iterator here; its errors surface now.
        drop(self.cell.borrow_dependent().range(namespace, start, end)?);

        let record = self.range_records.len();
        self.range_records.push(RangeRecord {
            namespace: namespace.to_owned(),
            info: RangeQueryInfo {
                start_key: start.to_owned(),
                ..Default::default()
            },
            helper: RangeQueryResultsHelper::fabric_default(),
        });
        self.next_query += 1;
        let id = format!("{}-{}", self.txid, self.next_query);
        self.queries.insert(
            id.clone(),
            OpenQuery {
                record,
                namespace: namespace.to_owned(),
                next_start: start.to_owned(),
                end: end.to_owned(),
                returned: 0,
                limit,
                paginated: pagination.is_some(),
                pending: None,
            },
        );
        Ok(id)
    }

    /// The next results of query `id`: for a non-paginated query a batch of at most `max`
    /// results (at least 1), for a paginated one the whole page with its metadata.
    /// When `has_more` is false the query is finished (its id is no longer valid); on
    /// error too.
    pub fn next_batch(&mut self, id: &str, max: usize) -> Result<QueryBatch, SimulationError> {
        let Some(mut query) = self.queries.remove(id) else {
            return Err(SimulationError::UnknownQuery(id.to_owned()));
        };
        let batch = self.fetch(&mut query, max.max(1))?;
        if batch.has_more {
            self.queries.insert(id.to_owned(), query);
        }
        Ok(batch)
    }

    /// [`Self::next_batch`] without the page metadata: `(results, has_more)`.
    pub fn next_results(
        &mut self,
        id: &str,
        max: usize,
    ) -> Result<(Vec<KeyValue>, bool), SimulationError> {
        let batch = self.next_batch(id, max)?;
        Ok((batch.results, batch.has_more))
    }

    /// Closes query `id` (what it recorded stays). Returns whether it was open; closing
    /// an unknown query is not an error, as in Fabric.
    pub fn close_query(&mut self, id: &str) -> bool {
        self.queries.remove(id).is_some()
    }

    /// Runs Fabric's `QueryResponseGenerator.BuildQueryResponse` over the query's
    /// `resultsItr`, resumed on the snapshot.
    fn fetch(&mut self, query: &mut OpenQuery, max: usize) -> Result<QueryBatch, LedgerError> {
        let snapshot = self.cell.borrow_dependent();
        let record = self
            .range_records
            .get_mut(query.record)
            .ok_or_else(|| LedgerError::Corrupt("range query record missing".into()))?;
        let mut cursor = Cursor {
            snapshot,
            iter: None,
        };
        let mut results: Vec<KeyValue> = query.pending.take().into_iter().collect();
        loop {
            if query.returned >= query.limit {
                return cursor.finish(query, results);
            }
            let Some(result) = cursor.pull(query, record)? else {
                return cursor.finish(query, results);
            };
            query.returned += 1;
            if !query.paginated && results.len() == max {
                query.pending = Some(result);
                return Ok(QueryBatch {
                    results,
                    has_more: true,
                    metadata: None,
                });
            }
            results.push(result);
        }
    }

    /// Every committed write of `key` in `namespace`, newest first (not recorded, and
    /// read from the latest history, as Fabric's history query executor does).
    pub fn history(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Vec<HistoryEntry>, SimulationError> {
        Ok(self.cell.borrow_owner().history(namespace, key)?)
    }

    /// Finishes the simulation: the read-write set (range queries recorded as they stand,
    /// open or not) and its encoding.
    pub fn done(self) -> Result<SimulationResults, SimulationError> {
        let mut namespaces = self.namespaces;
        for record in self.range_records {
            let mut info = record.info;
            let (reads, summary) = record.helper.done();
            info.reads_info = match summary {
                Some(summary) => Some(ReadsInfo::ReadsMerkleHashes(summary)),
                // Fabric records raw reads only if there was at least one.
                None if reads.is_empty() => None,
                None => Some(ReadsInfo::RawReads(QueryReads { kv_reads: reads })),
            };
            namespaces
                .entry(record.namespace)
                .or_default()
                .add_range_query(info);
        }
        let rwset = TxReadWriteSet {
            data_model: DataModel::Kv as i32,
            ns_rwset: namespaces
                .into_iter()
                .map(|(namespace, builder)| NsReadWriteSet {
                    namespace,
                    rwset: builder.build().encode_to_vec(),
                    collection_hashed_rwset: Vec::new(),
                })
                .collect(),
        };
        let bytes = rwset.encode_to_vec();
        Ok(SimulationResults {
            rwset,
            bytes,
            writeset_metadata: self.writeset_metadata,
        })
    }
}

/// One fetch's iterator over the snapshot, opened at the first pull.
struct Cursor<'s> {
    snapshot: &'s LedgerSnapshot<'s>,
    iter: Option<StateIter<'s>>,
}

impl<'s> Cursor<'s> {
    fn iter(&mut self, query: &OpenQuery) -> Result<&mut StateIter<'s>, LedgerError> {
        if self.iter.is_none() {
            let iter = self
                .snapshot
                .range(&query.namespace, &query.next_start, &query.end)?;
            self.iter = Some(iter);
        }
        self.iter
            .as_mut()
            .ok_or_else(|| LedgerError::Corrupt("range iterator missing".into()))
    }

    /// Fabric's `resultsItr.Next`: the next result, recorded; `None` (recorded as the
    /// exhaustion of the range) at the end.
    fn pull(
        &mut self,
        query: &mut OpenQuery,
        record: &mut RangeRecord,
    ) -> Result<Option<KeyValue>, LedgerError> {
        match self.iter(query)?.next().transpose()? {
            None => {
                record.info.itr_exhausted = true;
                record.info.end_key = query.end.clone();
                Ok(None)
            }
            Some((key, value)) => {
                record.helper.add_result(KvRead {
                    key: key.clone(),
                    version: Some(pb_version(value.version)),
                });
                record.info.end_key.clone_from(&key);
                query.next_start = format!("{key}\u{0}");
                Ok(Some((key, value.value)))
            }
        }
    }

    /// The last response of a query: for a paginated one, with the bookmark (the next
    /// key, not recorded, as `kvScanner.GetBookmarkAndClose` reads it).
    fn finish(
        &mut self,
        query: &OpenQuery,
        results: Vec<KeyValue>,
    ) -> Result<QueryBatch, LedgerError> {
        let metadata = if query.paginated {
            let bookmark = match self.iter(query)?.next().transpose()? {
                Some((key, _)) => key,
                None => String::new(),
            };
            Some(PageMetadata {
                fetched_records_count: i32::try_from(query.returned).unwrap_or(i32::MAX),
                bookmark,
            })
        } else {
            None
        };
        Ok(QueryBatch {
            results,
            has_more: false,
            metadata,
        })
    }
}

fn pb_version(version: Version) -> PbVersion {
    PbVersion {
        block_num: version.block_num,
        tx_num: version.tx_num,
    }
}
