//! An in-memory [`BlockSource`] for tests and tools.

use std::sync::{PoisonError, RwLock};

use tokio::sync::watch;
use weft_proto::common::Block;

use super::BlockSource;
use crate::blockstore::BlockStoreError;

/// Blocks held in memory, in order: block `n` is the `n`-th pushed. Nothing is checked.
#[derive(Debug)]
pub struct MemoryBlockSource {
    blocks: RwLock<Vec<Block>>,
    height: watch::Sender<u64>,
}

impl MemoryBlockSource {
    /// A source holding `blocks`.
    pub fn new(blocks: Vec<Block>) -> Self {
        let (height, _) = watch::channel(blocks.len() as u64);
        Self {
            blocks: RwLock::new(blocks),
            height,
        }
    }

    /// Appends `block` and notifies subscribers.
    pub fn push(&self, block: Block) {
        let mut blocks = self.blocks.write().unwrap_or_else(PoisonError::into_inner);
        blocks.push(block);
        self.height.send_replace(blocks.len() as u64);
    }

    /// How many height watches are alive (each waiting Deliver session holds one).
    pub fn subscriber_count(&self) -> usize {
        self.height.receiver_count()
    }
}

impl Default for MemoryBlockSource {
    fn default() -> Self {
        Self::new(Vec::new())
    }
}

impl BlockSource for MemoryBlockSource {
    fn height(&self) -> u64 {
        self.blocks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len() as u64
    }

    fn block(&self, number: u64) -> Result<Option<Block>, BlockStoreError> {
        let blocks = self.blocks.read().unwrap_or_else(PoisonError::into_inner);
        Ok(usize::try_from(number)
            .ok()
            .and_then(|n| blocks.get(n))
            .cloned())
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.height.subscribe()
    }
}
