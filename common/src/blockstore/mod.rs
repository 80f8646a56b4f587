//! The append-only block store shared by the orderer and the peer.
//!
//! One RocksDB database per ledger directory holds three column families of ours:
//!
//! - [`CF_BLOCKS`]: block number (8 bytes, big-endian) → the block's protobuf encoding;
//! - [`CF_TXIDS`]: txid → block number (8 bytes BE) ‖ transaction index (4 bytes BE);
//! - [`CF_HASHES`]: block header hash → block number (8 bytes BE), for lookups by hash;
//! - [`CF_META`]: the height and the header hash of the last block.
//!
//! Callers may open more column families in the same database ([`BlockStore::open`]'s
//! `extra_cfs`) and hand a `WriteBatch` over them to [`BlockStore::append`]: the block, its
//! index entries, the new height and the caller's writes land in one atomic RocksDB write
//! (WAL-backed, fsynced by default). The orderer uses this for its Raft applied index, the
//! peer for its state and history databases. A crash at any point therefore leaves either
//! the whole block (with the caller's writes) or nothing, and [`BlockStore::open`] recovers
//! the height from the database.
//!
//! Appends are checked like Fabric's block file manager does (number = height,
//! `previous_hash` = header hash of the last block, empty for block 0) plus the data hash.
//! Transaction validation is not the store's business.
//!
//! Readers never wait for appends; [`BlockStore::subscribe`] gives a watch on the height,
//! updated after each append, which Deliver uses to wait for new blocks.

#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use prost::Message;
use rocksdb::{
    ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, DBWithThreadMode, Options,
    SingleThreaded, WriteBatch, WriteOptions,
};
use tokio::sync::watch;
use weft_proto::common::Block;

use crate::protoutil::{block_data_hash, block_header_hash, compute_txid, unpack_envelope_bytes};

/// The RocksDB handle type of a block store. Spelled out (rather than `rocksdb::DB`) so
/// that a workspace-wide `multi-threaded-cf` feature cannot change it under our feet.
pub type Db = DBWithThreadMode<SingleThreaded>;

/// Column family of the blocks: number (u64 BE) → block bytes.
pub const CF_BLOCKS: &str = "blocks";
/// Column family of the txid index: txid → number (u64 BE) ‖ tx index (u32 BE).
pub const CF_TXIDS: &str = "txids";
/// Column family of the block hash index: header hash → number (u64 BE).
pub const CF_HASHES: &str = "hashes";
/// Column family of the store's own state (height, last header hash).
pub const CF_META: &str = "meta";

/// Column families reserved for the store (RocksDB's own `default` included).
const RESERVED_CFS: [&str; 5] = [CF_BLOCKS, CF_TXIDS, CF_HASHES, CF_META, "default"];

const META_HEIGHT: &[u8] = b"height";
const META_LAST_HASH: &[u8] = b"last_header_hash";

/// Why a block store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockStoreError {
    /// RocksDB reported an error (I/O, corruption detected by RocksDB, lock held…).
    #[error("rocksdb: {0}")]
    Rocks(String),
    /// The block to append has no header.
    #[error("block has no header")]
    MissingHeader,
    /// The block to append is not the next one.
    #[error("wrong block number: expected {expected}, got {got}")]
    WrongNumber {
        /// The store's height.
        expected: u64,
        /// The block's number.
        got: u64,
    },
    /// The block's `previous_hash` is not the header hash of the last block.
    #[error("block {number}: previous hash {got} does not match the last block's hash {expected}")]
    WrongPreviousHash {
        /// The block's number.
        number: u64,
        /// The last block's header hash (hex; empty for block 0).
        expected: String,
        /// The block's `previous_hash` (hex).
        got: String,
    },
    /// The block's `data_hash` does not match its data.
    #[error("block {number}: data hash does not match the block data")]
    WrongDataHash {
        /// The block's number.
        number: u64,
    },
    /// The database content is inconsistent (undecodable block, missing block below the
    /// height, meta entries that do not match the blocks…).
    #[error("corrupt block store: {0}")]
    Corrupt(String),
    /// A requested extra column family uses a name the store reserves.
    #[error("column family {0:?} is reserved by the block store")]
    ReservedColumnFamily(String),
    /// No column family of this name was opened.
    #[error("unknown column family {0:?}")]
    UnknownColumnFamily(String),
}

impl From<rocksdb::Error> for BlockStoreError {
    fn from(e: rocksdb::Error) -> Self {
        BlockStoreError::Rocks(e.into_string())
    }
}

/// Where a transaction sits in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TxLocation {
    /// The number of the block holding the transaction.
    pub block_number: u64,
    /// The transaction's index in `BlockData.data`.
    pub tx_index: u32,
}

/// How a [`BlockStore`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockStoreOptions {
    /// Fsync the write-ahead log on every append (default `true`). Without it an OS crash
    /// may lose the last appends, but never tears one apart.
    pub sync: bool,
}

impl Default for BlockStoreOptions {
    fn default() -> Self {
        Self { sync: true }
    }
}

/// The end of the chain, kept in memory and mirrored in [`CF_META`].
#[derive(Debug, Clone, Default)]
struct Tip {
    height: u64,
    last_hash: Vec<u8>,
}

/// An append-only chain of blocks in RocksDB, with a txid index. Cheap to share behind an
/// `Arc`: reads and appends take `&self`, appends are serialized internally.
#[derive(Debug)]
pub struct BlockStore {
    db: Arc<Db>,
    tip: RwLock<Tip>,
    append_lock: Mutex<()>,
    height_tx: watch::Sender<u64>,
    options: BlockStoreOptions,
}

impl BlockStore {
    /// Opens (creating if needed) the store in directory `path`, with the caller's extra
    /// column families `extra_cfs` (see [`Self::cf`]). Column families already in the
    /// database are opened too, so dropping a name from `extra_cfs` is harmless.
    pub fn open(path: impl AsRef<Path>, extra_cfs: &[&str]) -> Result<Self, BlockStoreError> {
        Self::open_with(path, extra_cfs, BlockStoreOptions::default())
    }

    /// [`Self::open`] with explicit options.
    pub fn open_with(
        path: impl AsRef<Path>,
        extra_cfs: &[&str],
        options: BlockStoreOptions,
    ) -> Result<Self, BlockStoreError> {
        if let Some(reserved) = extra_cfs.iter().find(|cf| RESERVED_CFS.contains(cf)) {
            return Err(BlockStoreError::ReservedColumnFamily(
                (*reserved).to_owned(),
            ));
        }
        let path = path.as_ref();
        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.set_compression_type(DBCompressionType::Lz4);

        // Every column family must be named when opening: ours, the caller's, and any the
        // database already has (a missing database simply has none).
        let mut names: Vec<String> = [CF_BLOCKS, CF_TXIDS, CF_HASHES, CF_META]
            .iter()
            .chain(extra_cfs)
            .map(|s| (*s).to_owned())
            .collect();
        for existing in Db::list_cf(&db_opts, path).unwrap_or_default() {
            if existing != "default" && !names.contains(&existing) {
                names.push(existing);
            }
        }
        let descriptors = names.into_iter().map(|name| {
            let mut cf_opts = Options::default();
            cf_opts.set_compression_type(DBCompressionType::Lz4);
            ColumnFamilyDescriptor::new(name, cf_opts)
        });
        let db = Db::open_cf_descriptors(&db_opts, path, descriptors)?;

        let tip = read_tip(&db)?;
        let (height_tx, _) = watch::channel(tip.height);
        Ok(Self {
            db: Arc::new(db),
            tip: RwLock::new(tip),
            append_lock: Mutex::new(()),
            height_tx,
            options,
        })
    }

    /// The underlying database, for reading the caller's column families.
    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }

    /// The handle of column family `name` (one of the `extra_cfs`, or one of ours for
    /// reading), to build the `WriteBatch` given to [`Self::append`] or to read.
    pub fn cf(&self, name: &str) -> Result<&ColumnFamily, BlockStoreError> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| BlockStoreError::UnknownColumnFamily(name.to_owned()))
    }

    /// Appends `block` together with the caller's writes `extra`, in one atomic write.
    ///
    /// The block must have a header, number = [`Self::height`], `previous_hash` =
    /// [`Self::last_header_hash`] (empty for block 0) and a `data_hash` matching its data;
    /// otherwise nothing is written. Its transactions are indexed by txid (the channel
    /// header's, or computed from nonce and creator when empty, as Fabric does; entries that
    /// do not decode are not indexed; a txid already indexed keeps its first location).
    /// `extra` must not touch the store's own column families.
    pub fn append(&self, block: &Block, mut extra: WriteBatch) -> Result<(), BlockStoreError> {
        let _append = self
            .append_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let tip = self.read_tip();

        let header = block
            .header
            .as_ref()
            .ok_or(BlockStoreError::MissingHeader)?;
        let number = header.number;
        if number != tip.height {
            return Err(BlockStoreError::WrongNumber {
                expected: tip.height,
                got: number,
            });
        }
        if header.previous_hash != tip.last_hash {
            return Err(BlockStoreError::WrongPreviousHash {
                number,
                expected: hex::encode(&tip.last_hash),
                got: hex::encode(&header.previous_hash),
            });
        }
        let empty = Default::default();
        let data = block.data.as_ref().unwrap_or(&empty);
        if header.data_hash != block_data_hash(data) {
            return Err(BlockStoreError::WrongDataHash { number });
        }

        let blocks = self.cf(CF_BLOCKS)?;
        let txids = self.cf(CF_TXIDS)?;
        let meta = self.cf(CF_META)?;
        let mut seen = HashSet::new();
        for (index, entry) in data.data.iter().enumerate() {
            let Some(txid) = indexed_txid(entry) else {
                continue;
            };
            if !seen.insert(txid.clone()) || self.db.get_pinned_cf(txids, &txid)?.is_some() {
                continue;
            }
            let index = u32::try_from(index)
                .map_err(|_| BlockStoreError::Corrupt(format!("block {number}: too many txs")))?;
            extra.put_cf(txids, &txid, encode_location(number, index));
        }
        let hash = block_header_hash(header).to_vec();
        let height = number + 1;
        extra.put_cf(self.cf(CF_HASHES)?, &hash, number.to_be_bytes());
        extra.put_cf(blocks, number.to_be_bytes(), block.encode_to_vec());
        extra.put_cf(meta, META_HEIGHT, height.to_be_bytes());
        extra.put_cf(meta, META_LAST_HASH, &hash);

        let mut write_opts = WriteOptions::default();
        write_opts.set_sync(self.options.sync);
        self.db.write_opt(extra, &write_opts)?;

        *self.tip.write().unwrap_or_else(PoisonError::into_inner) = Tip {
            height,
            last_hash: hash,
        };
        self.height_tx.send_replace(height);
        Ok(())
    }

    /// The number of blocks (the next block's number).
    pub fn height(&self) -> u64 {
        self.read_tip().height
    }

    /// The header hash of the last block; empty when the store is empty.
    pub fn last_header_hash(&self) -> Vec<u8> {
        self.read_tip().last_hash
    }

    /// The block at `number` as appended, encoded; `None` at or beyond the height.
    pub fn block_bytes(&self, number: u64) -> Result<Option<Vec<u8>>, BlockStoreError> {
        Ok(self.db.get_cf(self.cf(CF_BLOCKS)?, number.to_be_bytes())?)
    }

    /// The block at `number`; `None` at or beyond the height.
    pub fn block(&self, number: u64) -> Result<Option<Block>, BlockStoreError> {
        self.block_bytes(number)?
            .map(|bytes| decode_block(number, &bytes))
            .transpose()
    }

    /// The number of the block whose header hash is `hash`, if stored.
    pub fn block_number_by_hash(&self, hash: &[u8]) -> Result<Option<u64>, BlockStoreError> {
        self.db
            .get_pinned_cf(self.cf(CF_HASHES)?, hash)?
            .map(|value| {
                <[u8; 8]>::try_from(value.as_ref())
                    .map(u64::from_be_bytes)
                    .map_err(|_| BlockStoreError::Corrupt("hash index entry is not 8 bytes".into()))
            })
            .transpose()
    }

    /// The block whose header hash is `hash`, if stored.
    pub fn block_by_hash(&self, hash: &[u8]) -> Result<Option<Block>, BlockStoreError> {
        match self.block_number_by_hash(hash)? {
            Some(number) => self.block(number),
            None => Ok(None),
        }
    }

    /// The last block; `None` when the store is empty.
    pub fn last_block(&self) -> Result<Option<Block>, BlockStoreError> {
        match self.height().checked_sub(1) {
            Some(last) => self.block(last),
            None => Ok(None),
        }
    }

    /// Where the transaction with `txid` was first stored.
    pub fn tx_location(&self, txid: &str) -> Result<Option<TxLocation>, BlockStoreError> {
        self.db
            .get_pinned_cf(self.cf(CF_TXIDS)?, txid)?
            .map(|value| decode_location(&value))
            .transpose()
    }

    /// Whether a transaction with `txid` is stored.
    pub fn contains_txid(&self, txid: &str) -> Result<bool, BlockStoreError> {
        Ok(self.tx_location(txid)?.is_some())
    }

    /// A watch on the height, updated after every append (the block is readable by then).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.height_tx.subscribe()
    }

    fn read_tip(&self) -> Tip {
        self.tip
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The txid under which an envelope is indexed: the channel header's, or (when empty) the
/// one computed from the signature header, like Fabric's `GetOrComputeTxIDFromEnvelope`.
/// `None` for entries that do not unpack.
fn indexed_txid(entry: &[u8]) -> Option<String> {
    let envelope = unpack_envelope_bytes(entry).ok()?;
    if envelope.tx_id().is_empty() {
        let signature_header = &envelope.signature_header;
        Some(compute_txid(
            &signature_header.nonce,
            &signature_header.creator,
        ))
    } else {
        Some(envelope.tx_id().to_owned())
    }
}

fn decode_block(number: u64, bytes: &[u8]) -> Result<Block, BlockStoreError> {
    Block::decode(bytes)
        .map_err(|e| BlockStoreError::Corrupt(format!("block {number} does not decode: {e}")))
}

fn encode_location(number: u64, index: u32) -> [u8; 12] {
    let mut out = [0; 12];
    out[..8].copy_from_slice(&number.to_be_bytes());
    out[8..].copy_from_slice(&index.to_be_bytes());
    out
}

fn decode_location(value: &[u8]) -> Result<TxLocation, BlockStoreError> {
    let (number, index) = value
        .split_first_chunk::<8>()
        .and_then(|(n, rest)| Some((n, <[u8; 4]>::try_from(rest).ok()?)))
        .ok_or_else(|| BlockStoreError::Corrupt(format!("bad txid index value {value:02x?}")))?;
    Ok(TxLocation {
        block_number: u64::from_be_bytes(*number),
        tx_index: u32::from_be_bytes(index),
    })
}

/// Reads the height and last header hash from [`CF_META`] and checks them against the
/// last block.
fn read_tip(db: &Db) -> Result<Tip, BlockStoreError> {
    let missing = |name: &str| BlockStoreError::Corrupt(format!("column family {name} missing"));
    let meta = db.cf_handle(CF_META).ok_or_else(|| missing(CF_META))?;
    let blocks = db.cf_handle(CF_BLOCKS).ok_or_else(|| missing(CF_BLOCKS))?;

    let Some(height_bytes) = db.get_cf(meta, META_HEIGHT)? else {
        if db.get_pinned_cf(blocks, 0u64.to_be_bytes())?.is_some() {
            return Err(BlockStoreError::Corrupt(
                "blocks present but no recorded height".into(),
            ));
        }
        return Ok(Tip::default());
    };
    let height = <[u8; 8]>::try_from(height_bytes.as_slice())
        .map(u64::from_be_bytes)
        .map_err(|_| BlockStoreError::Corrupt("bad height record".into()))?;
    let last_hash = db.get_cf(meta, META_LAST_HASH)?.unwrap_or_default();

    let Some(last) = height.checked_sub(1) else {
        return Ok(Tip::default());
    };
    let bytes = db
        .get_cf(blocks, last.to_be_bytes())?
        .ok_or_else(|| BlockStoreError::Corrupt(format!("height {height} but no block {last}")))?;
    let block = decode_block(last, &bytes)?;
    let header = block
        .header
        .as_ref()
        .ok_or_else(|| BlockStoreError::Corrupt(format!("block {last} has no header")))?;
    if header.number != last || block_header_hash(header)[..] != last_hash[..] {
        return Err(BlockStoreError::Corrupt(format!(
            "block {last} does not match the recorded last header hash"
        )));
    }
    if db.get_pinned_cf(blocks, height.to_be_bytes())?.is_some() {
        return Err(BlockStoreError::Corrupt(format!(
            "block {height} present above the recorded height"
        )));
    }
    Ok(Tip { height, last_hash })
}
