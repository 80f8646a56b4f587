//! One channel on the peer: its ledger, its current config, and the commit path that
//! validates a block, commits it with its state updates, switches to a new config when
//! the block carries one, and tells the rest of the peer what committed.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{broadcast, watch};
use weft_common::channelconfig::{ChannelConfig, ConfigError};
use weft_common::protoutil;
use weft_proto::common::Block;
use weft_proto::protos::TxValidationCode;

use crate::ledger::private::{PrivateWrite, private_writes_matching};
use crate::ledger::{Ledger, LedgerError, config_tx_updates};
use crate::validation::{BlockValidator, ValidationError};

/// How many commit notices a slow subscriber may fall behind before it misses some.
const COMMIT_NOTICE_BACKLOG: usize = 256;

/// Why a channel operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The channel config in a block could not be read.
    #[error("channel config: {0}")]
    Config(#[from] ConfigError),
    /// The genesis block is not a channel's first config block.
    #[error("invalid genesis block: {0}")]
    Genesis(String),
    /// A block could not be validated as a whole.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// A block is not the next one.
    #[error("block {got} is not the next block of channel {channel} (height {height})")]
    OutOfOrder {
        /// The channel.
        channel: String,
        /// The ledger height.
        height: u64,
        /// The block's number.
        got: u64,
    },
    /// The block has no header.
    #[error("block has no header")]
    NoHeader,
}

/// What one committed transaction became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedTx {
    /// The transaction id (empty for a config transaction without one).
    pub txid: String,
    /// Its validation code.
    pub code: TxValidationCode,
}

/// A block that just committed, as the peer announces it.
#[derive(Debug, Clone)]
pub struct CommitNotice {
    /// The channel.
    pub channel_id: String,
    /// The committed block, TRANSACTIONS_FILTER included.
    pub block: Arc<Block>,
    /// Its transactions with their validation codes, in block order.
    pub transactions: Vec<CommittedTx>,
}

impl CommitNotice {
    /// The block's number.
    pub fn number(&self) -> u64 {
        self.block.header.as_ref().map_or(0, |h| h.number)
    }
}

/// A channel the peer has joined.
pub struct Channel {
    id: String,
    ledger: Arc<Ledger>,
    config: watch::Sender<Arc<ChannelConfig>>,
    validator: BlockValidator,
    commits: broadcast::Sender<Arc<CommitNotice>>,
    commit_lock: Mutex<()>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("id", &self.id)
            .field("height", &self.ledger.height())
            .finish_non_exhaustive()
    }
}

impl Channel {
    /// Creates the channel's ledger in `dir` from its genesis block (the CSCC JoinChain
    /// path): the block must be block 0 holding the channel's config.
    pub fn create(dir: &Path, genesis: &Block) -> Result<Self, ChannelError> {
        let header = genesis.header.as_ref().ok_or(ChannelError::NoHeader)?;
        if header.number != 0 {
            return Err(ChannelError::Genesis(format!(
                "block number is {}, not 0",
                header.number
            )));
        }
        let config = ChannelConfig::from_block(genesis)?;
        config.check_capabilities_supported()?;
        let ledger = Ledger::open(dir)?;
        if ledger.height() == 0 {
            // The genesis config transaction is valid by definition; its ConfigEnvelope is
            // stored like every later config transaction's.
            let envelope = protoutil::extract_envelope(genesis, 0)
                .and_then(|e| {
                    protoutil::unpack_envelope(&e).map(|u| (u.tx_id().to_owned(), u.data))
                })
                .map_err(|e| ChannelError::Genesis(e.to_string()))?;
            let mut block = genesis.clone();
            let filter = vec![TxValidationCode::Valid as u8];
            protoutil::set_transactions_filter(&mut block, filter);
            ledger.commit(&block, &[config_tx_updates(0, &envelope.0, &envelope.1)])?;
        }
        Self::with(config.channel_id().to_owned(), Arc::new(ledger), config)
    }

    /// Opens a channel whose ledger already exists in `dir`.
    pub fn open(dir: &Path) -> Result<Self, ChannelError> {
        let ledger = Ledger::open(dir)?;
        let store = ledger.block_store();
        let last = store
            .last_block()
            .map_err(LedgerError::from)?
            .ok_or_else(|| LedgerError::Corrupt(format!("no blocks in {}", dir.display())))?;
        let config_number = protoutil::last_config_index(&last)
            .map_err(|e| LedgerError::Corrupt(format!("last block's LAST_CONFIG: {e}")))?;
        let config_block = store
            .block(config_number)
            .map_err(LedgerError::from)?
            .ok_or_else(|| LedgerError::Corrupt(format!("no config block {config_number}")))?;
        let config = ChannelConfig::from_block(&config_block)?;
        Self::with(config.channel_id().to_owned(), Arc::new(ledger), config)
    }

    fn with(id: String, ledger: Arc<Ledger>, config: ChannelConfig) -> Result<Self, ChannelError> {
        let (commits, _) = broadcast::channel(COMMIT_NOTICE_BACKLOG);
        Ok(Self {
            id,
            ledger,
            config: watch::Sender::new(Arc::new(config)),
            validator: BlockValidator::new(),
            commits,
            commit_lock: Mutex::new(()),
        })
    }

    /// The channel id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The channel's ledger.
    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// The current channel config.
    pub fn config(&self) -> Arc<ChannelConfig> {
        self.config.borrow().clone()
    }

    /// A watch on the channel config, updated when a config block commits.
    pub fn watch_config(&self) -> watch::Receiver<Arc<ChannelConfig>> {
        self.config.subscribe()
    }

    /// Commit notices from now on.
    pub fn subscribe_commits(&self) -> broadcast::Receiver<Arc<CommitNotice>> {
        self.commits.subscribe()
    }

    /// The private writes of valid transaction `tx` of block `number` this peer holds:
    /// the first private read-write set in the transient store whose collections match the
    /// block's hashes. The endorser kept only collections this peer's org is a member of;
    /// without one (this peer did not endorse the transaction) the transaction's private
    /// data is missing here and only its hashes are committed.
    fn private_writes(
        &self,
        number: u64,
        tx: &crate::ledger::TxUpdates,
    ) -> Result<Vec<PrivateWrite>, ChannelError> {
        let candidates = self.ledger.transient_private_data(&tx.txid)?;
        let mut last_error = None;
        for pvt in &candidates {
            match private_writes_matching(pvt, &tx.collections, |_, _| true) {
                Ok(writes) => return Ok(writes),
                Err(reason) => last_error = Some(reason),
            }
        }
        match last_error {
            Some(reason) => tracing::warn!(
                channel = %self.id, block = number, txid = %tx.txid,
                "private data not committed: {reason}"
            ),
            None => tracing::debug!(
                channel = %self.id, block = number, txid = %tx.txid,
                "no private data held for the transaction; committing its hashes only"
            ),
        }
        Ok(Vec::new())
    }

    /// Validates and commits the next block. Blocks are committed strictly in order: a
    /// block below the height was already committed and is skipped (`Ok(None)`), a block
    /// above it is an error. Blocking: call it off the async runtime.
    pub fn commit_block(&self, block: Block) -> Result<Option<Arc<CommitNotice>>, ChannelError> {
        let _guard = self
            .commit_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let number = block.header.as_ref().ok_or(ChannelError::NoHeader)?.number;
        let height = self.ledger.height();
        if number < height {
            return Ok(None);
        }
        if number > height {
            return Err(ChannelError::OutOfOrder {
                channel: self.id.clone(),
                height,
                got: number,
            });
        }
        let config = self.config();
        let validated = self
            .validator
            .validate(&block, &config, self.ledger.as_ref())?;
        let mut block = block;
        protoutil::set_transactions_filter(&mut block, validated.filter.clone());
        let mut updates = validated.updates;
        for tx in updates.iter_mut().filter(|tx| !tx.collections.is_empty()) {
            tx.private = self.private_writes(number, tx)?;
        }
        self.ledger.commit(&block, &updates)?;
        if let Some(new_config) = validated.config.map(|c| c.config) {
            tracing::info!(channel = %self.id, block = number, sequence = new_config.sequence(), "channel config updated");
            self.config.send_replace(Arc::new(new_config));
        }
        let transactions = validated
            .txids
            .into_iter()
            .zip(validated.codes)
            .map(|(txid, code)| CommittedTx { txid, code })
            .collect();
        let notice = Arc::new(CommitNotice {
            channel_id: self.id.clone(),
            block: Arc::new(block),
            transactions,
        });
        // No subscribers is fine.
        let _ = self.commits.send(notice.clone());
        Ok(Some(notice))
    }
}
