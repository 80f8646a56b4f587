//! The peer's ledger of one channel: the shared block store plus a versioned state
//! database and a history database, committed together block by block.
//!
//! This module's top level holds the vocabulary the rest of the peer speaks with the
//! ledger: versions, versioned values, the per-transaction updates a validated block
//! carries, and the [`StateView`] the validator and the simulator read through.
//!
//! Layout: [`Ledger`] (`store`: open, commit, hashes), `apply` (how a block's updates
//! change the state, Fabric's rules), `codec` (the column families' byte layouts),
//! `read` (state reads, latest or snapshot), [`LedgerSnapshot`], [`HistoryEntry`]
//! (`history`: GetHistoryForKey), `recovery` (catch-up on open, rebuild), `updates`
//! (rwsets and committed blocks → [`TxUpdates`]), [`TxSimulator`] (`simulator`: the
//! endorser's transaction simulation and rwset recording).

use std::collections::BTreeMap;

mod apply;
mod codec;
mod history;
pub mod private;
mod read;
mod recovery;
mod simulator;
mod snapshot;
mod store;
mod updates;

#[cfg(test)]
mod tests;

pub use history::HistoryEntry;
pub use simulator::{
    CollectionCheck, DEFAULT_TOTAL_QUERY_LIMIT, KeyValue, PageMetadata, Pagination,
    QUERY_BATCH_SIZE, QueryBatch, QueryId, SimulationError, SimulationResults, SimulatorConfig,
    TxSimulator,
};
pub use snapshot::LedgerSnapshot;
pub use store::Ledger;
pub(crate) use updates::push_ns_updates;
pub use updates::{
    CHANNEL_CONFIG_KEY, PEER_NAMESPACE, config_tx_updates, ns_updates_from_kv,
    tx_updates_from_rwset, updates_of_committed_block,
};

/// The height of a committed write: the block and the transaction index in it. Ordered
/// as Fabric orders versions (block first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Version {
    /// Number of the block holding the writing transaction.
    pub block_num: u64,
    /// Index of the writing transaction in that block.
    pub tx_num: u64,
}

impl Version {
    /// The version `(block_num, tx_num)`.
    pub const fn new(block_num: u64, tx_num: u64) -> Self {
        Self { block_num, tx_num }
    }
}

/// Key metadata: entry name → bytes (e.g. `VALIDATION_PARAMETER` for key-level
/// endorsement), kept in name order.
pub type KeyMetadata = BTreeMap<String, Vec<u8>>;

/// The name of the metadata entry holding a key-level endorsement policy.
pub const VALIDATION_PARAMETER: &str = "VALIDATION_PARAMETER";

/// A value in the state database with the version of the write that produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedValue {
    /// The value bytes.
    pub value: Vec<u8>,
    /// The key's metadata (empty if none).
    pub metadata: KeyMetadata,
    /// The version of the last write of the value or its metadata.
    pub version: Version,
}

/// One write of a valid transaction to a key of a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyWrite {
    /// The key.
    pub key: String,
    /// The new value, or `None` for a delete.
    pub value: Option<Vec<u8>>,
}

/// One metadata write of a valid transaction: the key's metadata becomes `entries`
/// (an empty map clears it). A metadata write on an absent key is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMetadataWrite {
    /// The key.
    pub key: String,
    /// The key's complete new metadata.
    pub entries: KeyMetadata,
}

/// The public writes of one valid transaction to one namespace, in rwset order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NsUpdates {
    /// The namespace (chaincode name, or `_lifecycle`…).
    pub namespace: String,
    /// Value writes and deletes.
    pub writes: Vec<KeyWrite>,
    /// Metadata writes.
    pub metadata_writes: Vec<KeyMetadataWrite>,
}

/// The state updates of one valid transaction of a block.
///
/// Applying a block's updates in order gives each written key the version
/// `(block, tx_num)`. A value write keeps the key's existing metadata unless the same
/// transaction writes metadata too; a delete removes value and metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxUpdates {
    /// The transaction's index in the block.
    pub tx_num: u64,
    /// The transaction id (recorded by the history database).
    pub txid: String,
    /// Writes per namespace: public namespaces and the hashed state of collections
    /// ([`private::hashed_namespace`]).
    pub namespaces: Vec<NsUpdates>,
    /// The collections the transaction writes, with the hash of each one's private
    /// read-write set as the block carries it.
    pub collections: Vec<private::CollectionHash>,
    /// Private state writes this peer commits (collections it is a member of whose
    /// private data it holds; filled in before the commit from the transient store).
    pub private: Vec<private::PrivateWrite>,
}

/// Why a ledger operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// The block store refused or failed.
    #[error(transparent)]
    BlockStore(#[from] weft_common::blockstore::BlockStoreError),
    /// RocksDB reported an error.
    #[error("rocksdb: {0}")]
    Rocks(String),
    /// Stored bytes do not decode, or the databases disagree in a way recovery cannot fix.
    #[error("corrupt ledger: {0}")]
    Corrupt(String),
    /// A caller asked for something the ledger does not hold.
    #[error("{0}")]
    NotFound(String),
    /// A namespace the key layout cannot hold (it contains a 0x00 byte).
    #[error("invalid namespace {0:?}")]
    InvalidNamespace(String),
    /// A read-write set does not decode.
    #[error("invalid rwset: {0}")]
    InvalidRwset(String),
    /// `commit` was called with a block and updates that do not fit together (missing
    /// TRANSACTIONS_FILTER, updates of a transaction not marked VALID, …).
    #[error("invalid commit: {0}")]
    InvalidCommit(String),
}

impl From<rocksdb::Error> for LedgerError {
    fn from(e: rocksdb::Error) -> Self {
        LedgerError::Rocks(e.into_string())
    }
}

/// Read access to committed state, as the validator and the transaction simulator need it.
pub trait StateView: Send + Sync {
    /// The committed value of `key` in `namespace`, if any.
    fn get_state(&self, namespace: &str, key: &str) -> Result<Option<VersionedValue>, LedgerError>;

    /// The committed keys of `namespace` in `[start, end)` in key (byte) order, with their
    /// values. An empty `end` means "to the end of the namespace".
    fn range<'a>(
        &'a self,
        namespace: &str,
        start: &str,
        end: &str,
    ) -> Result<StateIter<'a>, LedgerError>;

    /// Whether a transaction with this id is already in the ledger (any validation code).
    fn contains_txid(&self, txid: &str) -> Result<bool, LedgerError>;
}

/// An iterator over `(key, value)` pairs of a range scan.
pub type StateIter<'a> =
    Box<dyn Iterator<Item = Result<(String, VersionedValue), LedgerError>> + 'a>;
