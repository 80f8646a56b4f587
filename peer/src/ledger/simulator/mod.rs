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
//! Private data (`rwset_builder.go`, `query_executor.go`, `tx_simulator.go`):
//!
//! - a private read (`GetPrivateData`) reads the value this peer holds and the hashed
//!   state; their versions must agree (else Fabric's "private data matching public hash
//!   version is not available" error); it records `KVReadHash{SHA-256(key), version}` in
//!   the collection's hashed rwset. `GetPrivateDataHash` and `GetPrivateDataMetadata`
//!   read the hashed state only and record the same;
//! - a private write records the clear `KVWrite` in the private rwset and
//!   `KVWriteHash{SHA-256(key), is_delete, SHA-256(value) unless a delete}` in the hashed
//!   one (a purge: `is_delete` and `is_purge`); a private metadata write records
//!   `KVMetadataWrite{key, no entries}` in the private rwset and the entries in the hashed
//!   one, as Fabric does;
//! - every collection's entries are sorted by the key in clear (not by hash); collections
//!   sort by name after the namespace's public sets; each collection of the private rwset
//!   is a marshaled `KVRWSet` (writes and metadata writes) whose SHA-256 becomes the
//!   hashed set's `pvt_rwset_hash`;
//! - private range queries record nothing; Fabric allows them only before any write and
//!   refuses writes after them;
//! - collection names are checked, when a [`CollectionCheck`] is set, before any private
//!   read or write (Fabric's `collNameValidator`).
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
    HashedRwSet, KvMetadataEntry, KvMetadataWrite, KvMetadataWriteHash, KvRead, KvReadHash,
    KvWrite, KvWriteHash, KvrwSet, QueryReads, RangeQueryInfo, Version as PbVersion,
};
use weft_proto::rwset::tx_read_write_set::DataModel;
use weft_proto::rwset::{
    CollectionHashedReadWriteSet, CollectionPvtReadWriteSet, NsPvtReadWriteSet, NsReadWriteSet,
    TxPvtReadWriteSet, TxReadWriteSet,
};

use super::private::hash;
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

/// Decides whether `collection` may be used in `namespace`, reading definitions from the
/// simulation's snapshot; `Err` carries the message the chaincode gets.
pub type CollectionCheck =
    Arc<dyn Fn(&LedgerSnapshot<'_>, &str, &str) -> Result<(), String> + Send + Sync>;

/// The outcome of a simulation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimulationResults {
    /// The public read-write set (with the collections' hashed sets).
    pub rwset: TxReadWriteSet,
    /// `rwset` encoded: the bytes that go into `ChaincodeAction.results`.
    pub bytes: Vec<u8>,
    /// The private read-write set, if the transaction wrote private data: it never
    /// leaves the peer but through the transient store.
    pub pvt_rwset: Option<TxPvtReadWriteSet>,
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
    /// A private data range query in a transaction that has written.
    #[error(
        "txid [{txid}]: unsuppored transaction. Queries on pvt data is supported only in a \
         read-only transaction"
    )]
    PrivateQueryAfterWrite {
        /// The transaction id.
        txid: String,
    },
    /// A write in a transaction that has queried private data.
    #[error(
        "txid [{txid}]: unsuppored transaction. Transaction has already performed queries \
         on pvt data. Writes are not allowed"
    )]
    WriteAfterPrivateQuery {
        /// The transaction id.
        txid: String,
    },
    /// The collection is not usable in the namespace (undefined, no definition…).
    #[error("{0}")]
    Collection(String),
    /// The private value this peer holds is not the one the hashed state names.
    #[error(
        "private data matching public hash version is not available. Public hash version = \
         {hashed}, Private data version = {private}"
    )]
    PrivateVersionMismatch {
        /// The hashed state's version, as Fabric prints it.
        hashed: String,
        /// The private value's version, as Fabric prints it.
        private: String,
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
#[derive(Debug, Default)]
struct NsBuilder {
    reads: BTreeMap<String, KvRead>,
    writes: BTreeMap<String, KvWrite>,
    metadata_writes: BTreeMap<String, KvMetadataWrite>,
    range_queries: Vec<RangeQueryInfo>,
    range_query_keys: HashSet<(String, String, bool)>,
    /// Hashed sets per collection (`collHashRwBuilder`), keyed by name.
    collections: BTreeMap<String, HashedBuilder>,
}

/// One collection's hashed read-write set under construction, entries keyed by the key
/// in clear (Fabric sorts them so).
#[derive(Debug, Default)]
struct HashedBuilder {
    reads: BTreeMap<String, KvReadHash>,
    writes: BTreeMap<String, KvWriteHash>,
    metadata_writes: BTreeMap<String, KvMetadataWriteHash>,
    pvt_rwset_hash: Vec<u8>,
}

impl HashedBuilder {
    fn build(self, collection_name: String) -> CollectionHashedReadWriteSet {
        CollectionHashedReadWriteSet {
            collection_name,
            hashed_rwset: HashedRwSet {
                hashed_reads: self.reads.into_values().collect(),
                hashed_writes: self.writes.into_values().collect(),
                metadata_writes: self.metadata_writes.into_values().collect(),
            }
            .encode_to_vec(),
            pvt_rwset_hash: self.pvt_rwset_hash,
        }
    }
}

/// One collection's private read-write set under construction (`collPvtRwBuilder`).
#[derive(Debug, Default)]
struct PrivateBuilder {
    writes: BTreeMap<String, KvWrite>,
    metadata_writes: BTreeMap<String, KvMetadataWrite>,
}

impl PrivateBuilder {
    fn build(self) -> Vec<u8> {
        KvrwSet {
            writes: self.writes.into_values().collect(),
            metadata_writes: self.metadata_writes.into_values().collect(),
            ..KvrwSet::default()
        }
        .encode_to_vec()
    }
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

    fn build(self, namespace: String) -> NsReadWriteSet {
        let kv = KvrwSet {
            reads: self.reads.into_values().collect(),
            range_queries_info: self.range_queries,
            writes: self.writes.into_values().collect(),
            metadata_writes: self.metadata_writes.into_values().collect(),
        };
        NsReadWriteSet {
            namespace,
            rwset: kv.encode_to_vec(),
            collection_hashed_rwset: self
                .collections
                .into_iter()
                .map(|(name, builder)| builder.build(name))
                .collect(),
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
    /// Index of its record in `TxSimulator::range_records` (`None`: a private data
    /// query, which records nothing).
    record: Option<usize>,
    namespace: String,
    /// The collection of a private data query.
    collection: Option<String>,
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
    /// Private sets per namespace and collection (`nsPvtRwBuilder`).
    private: BTreeMap<String, BTreeMap<String, PrivateBuilder>>,
    collection_check: Option<CollectionCheck>,
    range_records: Vec<RangeRecord>,
    queries: HashMap<QueryId, OpenQuery>,
    next_query: u64,
    writeset_metadata: BTreeMap<String, BTreeMap<String, KeyMetadata>>,
    write_performed: bool,
    paginated_query_performed: bool,
    private_query_performed: bool,
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
            private: BTreeMap::new(),
            collection_check: None,
            range_records: Vec::new(),
            queries: HashMap::new(),
            next_query: 0,
            writeset_metadata: BTreeMap::new(),
            write_performed: false,
            paginated_query_performed: false,
            private_query_performed: false,
        })
    }

    /// Checks collection names before private reads and writes from now on.
    pub fn set_collection_check(&mut self, check: CollectionCheck) {
        self.collection_check = Some(check);
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

    /// Fabric's `checkWritePrecondition`: no write after a private data query or a
    /// paginated query.
    fn check_write(&mut self) -> Result<(), SimulationError> {
        if self.private_query_performed {
            return Err(SimulationError::WriteAfterPrivateQuery {
                txid: self.txid.clone(),
            });
        }
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

    /// Fabric's `validateCollName`.
    fn check_collection(&self, namespace: &str, collection: &str) -> Result<(), SimulationError> {
        match &self.collection_check {
            Some(check) => check(self.cell.borrow_dependent(), namespace, collection)
                .map_err(SimulationError::Collection),
            None => Ok(()),
        }
    }

    fn hashed(&mut self, namespace: &str, collection: &str) -> &mut HashedBuilder {
        self.ns(namespace)
            .collections
            .entry(collection.to_owned())
            .or_default()
    }

    fn private_set(&mut self, namespace: &str, collection: &str) -> &mut PrivateBuilder {
        self.private
            .entry(namespace.to_owned())
            .or_default()
            .entry(collection.to_owned())
            .or_default()
    }

    fn record_hashed_read(
        &mut self,
        namespace: &str,
        collection: &str,
        key: &str,
        version: Option<Version>,
    ) {
        let read = KvReadHash {
            key_hash: hash(key.as_bytes()),
            version: version.map(pb_version),
        };
        self.hashed(namespace, collection)
            .reads
            .insert(key.to_owned(), read);
    }

    /// The committed private value of `key` in `collection` of `namespace`, recording a
    /// hashed read. Fails if this peer's private value is not the one the hashed state
    /// names (it missed the private data of the last write).
    pub fn get_private_data(
        &mut self,
        namespace: &str,
        collection: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, SimulationError> {
        self.check_collection(namespace, collection)?;
        let snapshot = self.cell.borrow_dependent();
        let value = snapshot.get_private(namespace, collection, key)?;
        let hashed = snapshot.get_private_hash(namespace, collection, key)?;
        let private_version = value.as_ref().map(|v| v.version);
        let hashed_version = hashed.as_ref().map(|v| v.version);
        if private_version != hashed_version {
            return Err(SimulationError::PrivateVersionMismatch {
                hashed: go_height(hashed_version),
                private: go_height(private_version),
            });
        }
        self.record_hashed_read(namespace, collection, key, private_version);
        Ok(value.map(|v| v.value))
    }

    /// The SHA-256 of the committed value of `key` in `collection` of `namespace` (every
    /// peer of the channel has it), recording a hashed read.
    pub fn get_private_data_hash(
        &mut self,
        namespace: &str,
        collection: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, SimulationError> {
        self.check_collection(namespace, collection)?;
        let hashed = self
            .cell
            .borrow_dependent()
            .get_private_hash(namespace, collection, key)?;
        self.record_hashed_read(
            namespace,
            collection,
            key,
            hashed.as_ref().map(|v| v.version),
        );
        Ok(hashed.map(|v| v.value))
    }

    /// The committed metadata of private `key` (kept with its hash), recording a hashed
    /// read.
    pub fn get_private_data_metadata(
        &mut self,
        namespace: &str,
        collection: &str,
        key: &str,
    ) -> Result<KeyMetadata, SimulationError> {
        self.check_collection(namespace, collection)?;
        let hashed = self
            .cell
            .borrow_dependent()
            .get_private_hash(namespace, collection, key)?;
        self.record_hashed_read(
            namespace,
            collection,
            key,
            hashed.as_ref().map(|v| v.version),
        );
        Ok(hashed.map(|v| v.metadata).unwrap_or_default())
    }

    /// Writes `value` to private `key` of `collection` (an empty value is a delete): in
    /// clear in the private rwset, hashed in the public one.
    pub fn set_private_data(
        &mut self,
        namespace: &str,
        collection: &str,
        key: &str,
        value: Vec<u8>,
    ) -> Result<(), SimulationError> {
        self.check_collection(namespace, collection)?;
        self.check_write()?;
        let is_delete = value.is_empty();
        let hashed = KvWriteHash {
            key_hash: hash(key.as_bytes()),
            is_delete,
            value_hash: if is_delete { Vec::new() } else { hash(&value) },
            is_purge: false,
        };
        self.hashed(namespace, collection)
            .writes
            .insert(key.to_owned(), hashed);
        self.private_set(namespace, collection).writes.insert(
            key.to_owned(),
            KvWrite {
                key: key.to_owned(),
                is_delete,
                value,
            },
        );
        Ok(())
    }

    /// Deletes private `key` of `collection` (a write of an empty value).
    pub fn delete_private_data(
        &mut self,
        namespace: &str,
        collection: &str,
        key: &str,
    ) -> Result<(), SimulationError> {
        self.set_private_data(namespace, collection, key, Vec::new())
    }

    /// Purges private `key` of `collection`: deleted, and marked so that its history
    /// goes too.
    pub fn purge_private_data(
        &mut self,
        namespace: &str,
        collection: &str,
        key: &str,
    ) -> Result<(), SimulationError> {
        self.check_collection(namespace, collection)?;
        self.check_write()?;
        let hashed = KvWriteHash {
            key_hash: hash(key.as_bytes()),
            is_delete: true,
            value_hash: Vec::new(),
            is_purge: true,
        };
        self.hashed(namespace, collection)
            .writes
            .insert(key.to_owned(), hashed);
        self.private_set(namespace, collection).writes.insert(
            key.to_owned(),
            KvWrite {
                key: key.to_owned(),
                is_delete: true,
                value: Vec::new(),
            },
        );
        Ok(())
    }

    /// Sets the whole metadata of private `key` of `collection` (empty: clears it).
    pub fn set_private_data_metadata(
        &mut self,
        namespace: &str,
        collection: &str,
        key: &str,
        metadata: KeyMetadata,
    ) -> Result<(), SimulationError> {
        self.check_collection(namespace, collection)?;
        self.check_write()?;
        let hashed = KvMetadataWriteHash {
            key_hash: hash(key.as_bytes()),
            entries: metadata
                .into_iter()
                .map(|(name, value)| KvMetadataEntry { name, value })
                .collect(),
        };
        self.hashed(namespace, collection)
            .metadata_writes
            .insert(key.to_owned(), hashed);
        self.private_set(namespace, collection)
            .metadata_writes
            .insert(
                key.to_owned(),
                KvMetadataWrite {
                    key: key.to_owned(),
                    entries: Vec::new(),
                },
            );
        Ok(())
    }

    /// Opens a range query over the private keys of `collection` in `[start, end)` (`end`
    /// empty: to the end). It records nothing; it is refused once the transaction has
    /// written, and writes are refused after it. Results come with
    /// [`Self::next_batch`].
    pub fn open_private_range(
        &mut self,
        namespace: &str,
        collection: &str,
        start: &str,
        end: &str,
    ) -> Result<QueryId, SimulationError> {
        self.check_collection(namespace, collection)?;
        if self.write_performed {
            return Err(SimulationError::PrivateQueryAfterWrite {
                txid: self.txid.clone(),
            });
        }
        self.private_query_performed = true;
        drop(
            self.cell
                .borrow_dependent()
                .private_range(namespace, collection, start, end)?,
        );
        self.next_query += 1;
        let id = format!("{}-{}", self.txid, self.next_query);
        self.queries.insert(
            id.clone(),
            OpenQuery {
                record: None,
                namespace: namespace.to_owned(),
                collection: Some(collection.to_owned()),
                next_start: start.to_owned(),
                end: end.to_owned(),
                returned: 0,
                limit: self.config.total_query_limit,
                paginated: false,
                pending: None,
            },
        );
        Ok(id)
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
                record: Some(record),
                namespace: namespace.to_owned(),
                collection: None,
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
        let mut record = match query.record {
            Some(index) => Some(
                self.range_records
                    .get_mut(index)
                    .ok_or_else(|| LedgerError::Corrupt("range query record missing".into()))?,
            ),
            None => None,
        };
        let mut cursor = Cursor {
            snapshot,
            iter: None,
        };
        let mut results: Vec<KeyValue> = query.pending.take().into_iter().collect();
        loop {
            if query.returned >= query.limit {
                return cursor.finish(query, results);
            }
            let Some(result) = cursor.pull(query, record.as_deref_mut())? else {
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
        let mut pvt_namespaces = Vec::with_capacity(self.private.len());
        for (namespace, collections) in self.private {
            let mut collection_pvt_rwset = Vec::with_capacity(collections.len());
            for (collection_name, builder) in collections {
                let rwset = builder.build();
                namespaces
                    .entry(namespace.clone())
                    .or_default()
                    .collections
                    .entry(collection_name.clone())
                    .or_default()
                    .pvt_rwset_hash = hash(&rwset);
                collection_pvt_rwset.push(CollectionPvtReadWriteSet {
                    collection_name,
                    rwset,
                });
            }
            pvt_namespaces.push(NsPvtReadWriteSet {
                namespace,
                collection_pvt_rwset,
            });
        }
        let pvt_rwset = (!pvt_namespaces.is_empty()).then_some(TxPvtReadWriteSet {
            data_model: DataModel::Kv as i32,
            ns_pvt_rwset: pvt_namespaces,
        });
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
                .map(|(namespace, builder)| builder.build(namespace))
                .collect(),
        };
        let bytes = rwset.encode_to_vec();
        Ok(SimulationResults {
            rwset,
            bytes,
            pvt_rwset,
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
            let iter = match &query.collection {
                Some(collection) => self.snapshot.private_range(
                    &query.namespace,
                    collection,
                    &query.next_start,
                    &query.end,
                )?,
                None => self
                    .snapshot
                    .range(&query.namespace, &query.next_start, &query.end)?,
            };
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
        record: Option<&mut RangeRecord>,
    ) -> Result<Option<KeyValue>, LedgerError> {
        match self.iter(query)?.next().transpose()? {
            None => {
                if let Some(record) = record {
                    record.info.itr_exhausted = true;
                    record.info.end_key = query.end.clone();
                }
                Ok(None)
            }
            Some((key, value)) => {
                if let Some(record) = record {
                    record.helper.add_result(KvRead {
                        key: key.clone(),
                        version: Some(pb_version(value.version)),
                    });
                    record.info.end_key.clone_from(&key);
                }
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

/// A version as Fabric's `version.Height` prints in errors (`<nil>` when absent).
fn go_height(version: Option<Version>) -> String {
    match version {
        Some(v) => format!("{{BlockNum: {}, TxNum: {}}}", v.block_num, v.tx_num),
        None => "<nil>".to_owned(),
    }
}

fn pb_version(version: Version) -> PbVersion {
    PbVersion {
        block_num: version.block_num,
        tx_num: version.tx_num,
    }
}
