//! The bounded buffer between the deliver client and the committer.
//!
//! The deliver client is the only writer and puts verified blocks in strictly increasing
//! order, one number after the other; the committer takes them out with
//! [`BlockBuffer::recv`]. When the buffer is full the client stops reading from the
//! orderer (gRPC flow control then holds the orderer back) until the committer catches up.

use tokio::sync::mpsc;
use weft_proto::common::Block;

/// The default number of blocks the buffer holds.
pub const DEFAULT_BUFFER_CAPACITY: usize = 16;

/// A buffer holding up to `capacity` blocks (at least 1): the sending end for
/// [`DeliverClient::spawn`](super::DeliverClient::spawn) and the receiving end for the
/// committer.
pub fn block_buffer(capacity: usize) -> (BlockBufferSender, BlockBuffer) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (BlockBufferSender { tx }, BlockBuffer { rx })
}

/// The deliver client's end of a [`block_buffer`]. Not `Clone`: a single writer is what
/// keeps the blocks in order.
#[derive(Debug)]
pub struct BlockBufferSender {
    tx: mpsc::Sender<Block>,
}

impl BlockBufferSender {
    /// Waits for room and puts `block` in the buffer; `Err` gives the block back when the
    /// committer's end is gone.
    pub(crate) async fn send(&self, block: Block) -> Result<(), Block> {
        self.tx.send(block).await.map_err(|e| e.0)
    }

    /// Whether the committer's end is gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// The committer's end of a [`block_buffer`]: verified blocks, in order, without gaps.
#[derive(Debug)]
pub struct BlockBuffer {
    rx: mpsc::Receiver<Block>,
}

impl BlockBuffer {
    /// The next block; `None` once the deliver client has stopped and the buffer is
    /// drained.
    pub async fn recv(&mut self) -> Option<Block> {
        self.rx.recv().await
    }

    /// The next block if one is buffered, without waiting.
    pub fn try_recv(&mut self) -> Option<Block> {
        self.rx.try_recv().ok()
    }

    /// The number of blocks waiting.
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// Whether no block is waiting.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    /// The underlying tokio receiver.
    pub fn into_inner(self) -> mpsc::Receiver<Block> {
        self.rx
    }
}
