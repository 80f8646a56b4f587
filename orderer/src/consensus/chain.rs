//! One channel's ordering chain on one node: the Raft driver and the block writer.
//!
//! A dedicated OS thread owns the `RawNode` (raft-rs does no I/O of its own) and runs
//! the classic loop: tick on a timer, step inbound messages, propose, and for every
//! `Ready` persist entries and hard state (synced) before sending what must follow
//! persistence, then apply committed entries.
//!
//! Applying is deterministic and identical on every node (see [`super::entry`]): each
//! committed envelope acknowledges its waiting Broadcast (if it arrived at this node)
//! and goes through the block cutter; every cut batch becomes the next block, signed by
//! this node and appended to the block store together with the chain's *position* —
//! (log index, items consumed in that entry) just after the block's last item — in one
//! atomic write. After a crash the chain resumes from that position: Raft re-delivers
//! the entry at the position's index and the items already in blocks are skipped.

use std::collections::HashMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use prost::Message as _;
use raft::eraftpb::{Entry, EntryType, Message as RaftMessage};
use raft::{RawNode, StateRole};
use tokio::sync::{oneshot, watch};
use weft_common::blockstore::BlockStore;
use weft_common::channelconfig::ChannelConfig;
use weft_common::crypto::{Signer, sha256};
use weft_common::msp::SigningIdentity;
use weft_common::protoutil;
use weft_proto::common::{Block, Envelope};

use super::entry::LogEntry;
use super::storage::{CF_RAFT_STATE, RaftStorage};
use crate::blockcutter::{BlockCutter, CutLimits, CutReason, MessageSize};

/// Key (in [`CF_RAFT_STATE`]) of the chain's position, written with every block.
const KEY_POSITION: &[u8] = b"applied_position";

/// Most envelopes the leader puts into one log entry.
const MAX_ENVELOPES_PER_ENTRY: usize = 2000;
/// Most bytes the leader puts into one log entry.
const MAX_BYTES_PER_ENTRY: usize = 8 << 20;

/// Static settings of a chain, from the channel config and the node's config.
#[derive(Debug, Clone)]
pub struct ChainSettings {
    /// The channel.
    pub channel_id: String,
    /// This node's Raft id (its 1-based index among the channel's consenters).
    pub node_id: u64,
    /// Every consenter's Raft id.
    pub voters: Vec<u64>,
    /// Raft tick interval.
    pub tick_interval: Duration,
    /// Ticks without a heartbeat before a follower campaigns.
    pub election_tick: usize,
    /// Ticks between leader heartbeats.
    pub heartbeat_tick: usize,
    /// Applied log bytes between snapshots (log compaction); 0 disables compaction.
    pub snapshot_interval_bytes: u64,
}

/// Where the chain is, as observers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChainStatus {
    /// The Raft id of the current leader, 0 when none is known.
    pub leader: u64,
    /// Whether this node leads.
    pub is_leader: bool,
    /// The current Raft term.
    pub term: u64,
    /// Set once the chain stopped (halted or failed).
    pub halted: bool,
}

/// Why an envelope was not ordered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// No leader is known right now (an election is under way).
    #[error("no Raft leader")]
    NoLeader,
    /// The envelope was not committed in time (e.g. the leader failed meanwhile).
    #[error("the envelope was not committed within {0:?}")]
    Timeout(Duration),
    /// The chain stopped.
    #[error("the chain for channel {0} is halted")]
    Halted(String),
    /// A config update was validated against a config that changed before ordering.
    #[error("config sequence advanced from {validated} to {current} while ordering the update")]
    ConfigSequenceChanged {
        /// The sequence the update was validated against.
        validated: u64,
        /// The sequence when it was ordered.
        current: u64,
    },
}

/// Sends Raft traffic to the other consenters of a channel.
pub trait Transport: Send + Sync + 'static {
    /// Sends a Raft message to node `to` of `channel` (best effort; Raft retries).
    fn send(&self, channel: &str, to: u64, message: RaftMessage);
    /// Forwards a client envelope to the leader `to`. `config_sequence` is set for an
    /// orderer-signed CONFIG envelope.
    fn forward(&self, channel: &str, to: u64, envelope: Vec<u8>, config_sequence: Option<u64>);
}

/// Pulls blocks this node lacks from another consenter (after a Raft snapshot).
pub trait BlockPuller: Send + Sync + 'static {
    /// Fetches blocks `from..=to` of `channel` from node `source`, verified and in order.
    fn pull(&self, channel: &str, source: u64, from: u64, to: u64) -> Result<Vec<Block>, String>;
}

enum Input {
    Step(Box<RaftMessage>),
    Envelope {
        bytes: Vec<u8>,
        hash: [u8; 32],
        forwarded: bool,
    },
    Config {
        bytes: Vec<u8>,
        hash: [u8; 32],
        sequence: u64,
        forwarded: bool,
    },
    Halt,
}

type Waiters = Mutex<HashMap<[u8; 32], Vec<oneshot::Sender<Result<(), SubmitError>>>>>;

struct Shared {
    channel_id: String,
    input: Mutex<mpsc::Sender<Input>>,
    waiters: Waiters,
    status: watch::Receiver<ChainStatus>,
    config: RwLock<Arc<ChannelConfig>>,
    store: Arc<BlockStore>,
}

impl Shared {
    fn send(&self, input: Input) -> bool {
        self.input
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(input)
            .is_ok()
    }

    fn resolve(&self, hash: &[u8; 32], result: Result<(), SubmitError>) {
        let senders = self
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(hash);
        for sender in senders.into_iter().flatten() {
            let _ = sender.send(result.clone());
        }
    }

    fn fail_all(&self, error: SubmitError) {
        let all: Vec<_> = self
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .collect();
        for sender in all.into_iter().flat_map(|(_, s)| s) {
            let _ = sender.send(Err(error.clone()));
        }
    }
}

/// A running chain; cheap to clone.
#[derive(Clone)]
pub struct Chain {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("channel", &self.shared.channel_id)
            .field("status", &self.status())
            .finish()
    }
}

/// A chain could not start.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The Raft storage failed.
    #[error(transparent)]
    Storage(#[from] super::storage::RaftStorageError),
    /// raft-rs refused the configuration.
    #[error("raft: {0}")]
    Raft(#[from] raft::Error),
    /// The stored chain position or blocks are inconsistent.
    #[error("chain state: {0}")]
    State(String),
}

/// Everything a chain needs to run.
pub struct ChainParts {
    /// Static settings.
    pub settings: ChainSettings,
    /// The channel's block store (its database also holds the Raft column families).
    pub store: Arc<BlockStore>,
    /// The channel config as of the last block.
    pub config: Arc<ChannelConfig>,
    /// This node's signing identity (signs blocks).
    pub signer: Arc<SigningIdentity>,
    /// Raft traffic to the other consenters.
    pub transport: Arc<dyn Transport>,
    /// Fetches blocks after a snapshot.
    pub puller: Arc<dyn BlockPuller>,
    /// Observes cut blocks, leadership and persistence (metrics).
    pub observer: Arc<dyn ChainObserver>,
}

impl std::fmt::Debug for ChainParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainParts")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Hooks for metrics; every method has a no-op default.
pub trait ChainObserver: Send + Sync + 'static {
    /// A block was written.
    fn block_written(&self, _channel: &str, _number: u64, _reason: CutReason) {}
    /// Leadership changed.
    fn leader_changed(&self, _channel: &str, _status: ChainStatus) {}
    /// A Ready was persisted, taking `elapsed`.
    fn persisted(&self, _channel: &str, _elapsed: Duration) {}
    /// A snapshot was taken at block `number`.
    fn snapshot_taken(&self, _channel: &str, _number: u64) {}
    /// A proposal was dropped by Raft.
    fn proposal_failed(&self, _channel: &str) {}
}

/// A [`ChainObserver`] that ignores everything.
#[derive(Debug, Default)]
pub struct NoObserver;
impl ChainObserver for NoObserver {}

impl Chain {
    /// Starts the chain's Raft thread.
    pub fn start(parts: ChainParts) -> Result<Chain, ChainError> {
        let ChainParts {
            settings,
            store,
            config,
            signer,
            transport,
            puller,
            observer,
        } = parts;
        let storage = RaftStorage::open(store.db().clone(), &settings.voters)?;
        let position = read_position(&store)?;
        let applied = position.index.saturating_sub(1);
        let hard_commit = storage.hard_state().commit;
        let snapshot_index = storage.latest_snapshot().get_metadata().index;
        if applied > hard_commit || applied < snapshot_index && position.index != 0 {
            return Err(ChainError::State(format!(
                "chain position {position:?} is outside the Raft log (commit {hard_commit}, snapshot {snapshot_index})"
            )));
        }
        let raft_config = raft::Config {
            id: settings.node_id,
            election_tick: settings.election_tick,
            heartbeat_tick: settings.heartbeat_tick,
            applied: applied.max(snapshot_index),
            max_size_per_msg: 4 << 20,
            max_inflight_msgs: 256,
            check_quorum: true,
            pre_vote: true,
            ..Default::default()
        };
        raft_config.validate()?;
        let logger = slog::Logger::root(
            TracingDrain,
            slog::o!("channel" => settings.channel_id.clone()),
        );
        let mut node = RawNode::new(&raft_config, storage.clone(), &logger)?;
        if settings.voters == [settings.node_id] {
            // A single consenter need not wait an election timeout.
            node.campaign()?;
        }

        let (input_tx, input_rx) = mpsc::channel();
        let (status_tx, status_rx) = watch::channel(ChainStatus::default());
        let shared = Arc::new(Shared {
            channel_id: settings.channel_id.clone(),
            input: Mutex::new(input_tx),
            waiters: Mutex::new(HashMap::new()),
            status: status_rx,
            config: RwLock::new(config.clone()),
            store: store.clone(),
        });
        let applier = Applier::new(&settings, store, config, signer, shared.clone(), position)?;
        let driver = Driver {
            settings,
            node,
            storage,
            input: input_rx,
            shared: shared.clone(),
            status: status_tx,
            transport,
            puller,
            observer,
            applier,
            proposals: Vec::new(),
            proposal_bytes: 0,
            time_to_cut_sent: None,
        };
        std::thread::Builder::new()
            .name(format!("raft-{}", shared.channel_id))
            .spawn(move || driver.run())
            .map_err(|e| ChainError::State(format!("cannot spawn the raft thread: {e}")))?;
        Ok(Chain { shared })
    }

    /// The channel this chain orders.
    pub fn channel_id(&self) -> &str {
        &self.shared.channel_id
    }

    /// Orders a (validated, canonical) envelope; resolves once its log entry is
    /// committed, or fails after `timeout`.
    pub async fn order(&self, envelope: Vec<u8>, timeout: Duration) -> Result<(), SubmitError> {
        let hash = sha256(&envelope);
        let rx = self.wait_for(hash);
        if !self.shared.send(Input::Envelope {
            bytes: envelope,
            hash,
            forwarded: false,
        }) {
            return Err(SubmitError::Halted(self.shared.channel_id.clone()));
        }
        self.await_result(hash, rx, timeout).await
    }

    /// Orders an orderer-signed CONFIG envelope validated against config `sequence`.
    pub async fn configure(
        &self,
        envelope: Vec<u8>,
        sequence: u64,
        timeout: Duration,
    ) -> Result<(), SubmitError> {
        let hash = sha256(&envelope);
        let rx = self.wait_for(hash);
        if !self.shared.send(Input::Config {
            bytes: envelope,
            hash,
            sequence,
            forwarded: false,
        }) {
            return Err(SubmitError::Halted(self.shared.channel_id.clone()));
        }
        self.await_result(hash, rx, timeout).await
    }

    fn wait_for(&self, hash: [u8; 32]) -> oneshot::Receiver<Result<(), SubmitError>> {
        let (tx, rx) = oneshot::channel();
        self.shared
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(hash)
            .or_default()
            .push(tx);
        rx
    }

    async fn await_result(
        &self,
        hash: [u8; 32],
        rx: oneshot::Receiver<Result<(), SubmitError>>,
        timeout: Duration,
    ) -> Result<(), SubmitError> {
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(SubmitError::Halted(self.shared.channel_id.clone())),
            Err(_) => {
                // Forget our waiter; others for the same bytes keep theirs.
                let mut waiters = self
                    .shared
                    .waiters
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                if let Some(list) = waiters.get_mut(&hash) {
                    list.retain(|s| !s.is_closed());
                    if list.is_empty() {
                        waiters.remove(&hash);
                    }
                }
                Err(SubmitError::Timeout(timeout))
            }
        }
    }

    /// An envelope another consenter forwarded to us as the leader.
    pub fn forwarded(&self, envelope: Vec<u8>, config_sequence: Option<u64>) {
        let hash = sha256(&envelope);
        let input = match config_sequence {
            Some(sequence) => Input::Config {
                bytes: envelope,
                hash,
                sequence,
                forwarded: true,
            },
            None => Input::Envelope {
                bytes: envelope,
                hash,
                forwarded: true,
            },
        };
        self.shared.send(input);
    }

    /// A Raft message from another consenter.
    pub fn step(&self, message: RaftMessage) {
        self.shared.send(Input::Step(Box::new(message)));
    }

    /// Leadership and liveness.
    pub fn status(&self) -> ChainStatus {
        *self.shared.status.borrow()
    }

    /// A receiver of status changes.
    pub fn watch_status(&self) -> watch::Receiver<ChainStatus> {
        self.shared.status.clone()
    }

    /// The channel config as of the last block written.
    pub fn config(&self) -> Arc<ChannelConfig> {
        self.shared
            .config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The channel's block store.
    pub fn store(&self) -> &Arc<BlockStore> {
        &self.shared.store
    }

    /// Stops the Raft thread; pending submissions fail.
    pub fn halt(&self) {
        self.shared.send(Input::Halt);
    }
}

/// The resume point stored with every block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Position {
    /// Raft log index of the entry holding the block's last item (0: genesis only).
    index: u64,
    /// Items of that entry already in blocks.
    consumed: u32,
}

impl Position {
    fn encode(self) -> [u8; 12] {
        let mut out = [0u8; 12];
        out[..8].copy_from_slice(&self.index.to_be_bytes());
        out[8..].copy_from_slice(&self.consumed.to_be_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let index = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
        let consumed = u32::from_be_bytes(bytes.get(8..12)?.try_into().ok()?);
        Some(Position { index, consumed })
    }
}

fn read_position(store: &BlockStore) -> Result<Position, ChainError> {
    let db = store.db();
    let cf = db
        .cf_handle(CF_RAFT_STATE)
        .ok_or_else(|| ChainError::State("raft_state column family missing".into()))?;
    match db
        .get_cf(cf, KEY_POSITION)
        .map_err(|e| ChainError::State(e.to_string()))?
    {
        None => Ok(Position::default()),
        Some(bytes) => Position::decode(&bytes)
            .ok_or_else(|| ChainError::State("corrupt chain position".into())),
    }
}

/// Snapshot payload: the last block the snapshot covers and where to resume.
fn encode_snapshot_data(last_block: u64, position: Position) -> Vec<u8> {
    let mut out = last_block.to_be_bytes().to_vec();
    out.extend_from_slice(&position.encode());
    out
}

fn decode_snapshot_data(data: &[u8]) -> Option<(u64, Position)> {
    let last = u64::from_be_bytes(data.get(..8)?.try_into().ok()?);
    Some((last, Position::decode(data.get(8..)?)?))
}

/// An envelope inside the cutter, with where it came from.
struct Pending {
    bytes: Vec<u8>,
    size: usize,
    /// Position just after this envelope.
    after: Position,
}

impl MessageSize for Pending {
    fn message_size(&self) -> usize {
        self.size
    }
}

/// The deterministic half: committed entries → blocks.
struct Applier {
    channel_id: String,
    store: Arc<BlockStore>,
    config: Arc<ChannelConfig>,
    signer: Arc<SigningIdentity>,
    shared: Arc<Shared>,
    cutter: BlockCutter<Pending>,
    next_number: u64,
    last_config_index: u64,
    /// Skip items of this entry already in blocks (after a restart).
    resume: Option<Position>,
    /// Where the last written block ends.
    position: Position,
    /// When the pending batch became non-empty (drives the leader's time-to-cut).
    pending_since: Option<Instant>,
    batch_timeout: Duration,
    consenter_ids: Vec<u64>,
    bytes_since_snapshot: u64,
    /// Blocks written since the last `take_written` (for the observer).
    written: Vec<(u64, CutReason)>,
}

fn cut_limits(config: &ChannelConfig) -> (CutLimits, Duration) {
    match config.orderer() {
        Some(o) => (
            CutLimits {
                max_message_count: o.batch_size.max_message_count,
                preferred_max_bytes: o.batch_size.preferred_max_bytes,
            },
            o.batch_timeout,
        ),
        None => (
            CutLimits {
                max_message_count: 500,
                preferred_max_bytes: 2 << 20,
            },
            Duration::from_secs(2),
        ),
    }
}

impl Applier {
    fn new(
        settings: &ChainSettings,
        store: Arc<BlockStore>,
        config: Arc<ChannelConfig>,
        signer: Arc<SigningIdentity>,
        shared: Arc<Shared>,
        position: Position,
    ) -> Result<Self, ChainError> {
        let (limits, batch_timeout) = cut_limits(&config);
        let last = store
            .last_block()
            .map_err(|e| ChainError::State(e.to_string()))?
            .ok_or_else(|| ChainError::State("the block store has no genesis block".into()))?;
        let last_config_index = protoutil::last_config_index(&last).unwrap_or(0);
        Ok(Self {
            channel_id: settings.channel_id.clone(),
            next_number: store.height(),
            store,
            config,
            signer,
            shared,
            cutter: BlockCutter::new(limits),
            last_config_index,
            resume: (position.index != 0).then_some(position),
            position,
            pending_since: None,
            batch_timeout,
            consenter_ids: settings.voters.clone(),
            bytes_since_snapshot: 0,
            written: Vec::new(),
        })
    }

    fn apply(&mut self, entry: &Entry) -> Result<(), String> {
        if entry.get_entry_type() != EntryType::EntryNormal {
            // Membership is static (from the channel config); conf changes are never proposed.
            return Ok(());
        }
        self.bytes_since_snapshot += entry.data.len() as u64;
        let Some(decoded) = LogEntry::decode(&entry.data).map_err(|e| e.to_string())? else {
            return Ok(());
        };
        let skip = match self.resume {
            Some(p) if p.index == entry.index => {
                self.resume = None;
                p.consumed
            }
            Some(p) if p.index > entry.index => return Ok(()),
            _ => 0,
        };
        match decoded {
            LogEntry::Envelopes(envelopes) => {
                for (ordinal, bytes) in envelopes.into_iter().enumerate() {
                    let ordinal = ordinal as u32;
                    let hash = sha256(&bytes);
                    self.shared.resolve(&hash, Ok(()));
                    if ordinal < skip {
                        continue;
                    }
                    let size = Envelope::decode(bytes.as_slice())
                        .map(|e| e.payload.len() + e.signature.len())
                        .unwrap_or(bytes.len());
                    let after = Position {
                        index: entry.index,
                        consumed: ordinal + 1,
                    };
                    for batch in self.cutter.ordered(Pending { bytes, size, after }) {
                        self.write_batch(batch.envelopes, batch.reason)?;
                    }
                    if self.cutter.has_pending() && self.pending_since.is_none() {
                        self.pending_since = Some(Instant::now());
                    }
                }
            }
            LogEntry::TimeToCut { block_number } => {
                if skip == 0
                    && block_number == self.next_number
                    && let Some(batch) = self.cutter.cut(CutReason::Timeout)
                {
                    self.write_batch(batch.envelopes, batch.reason)?;
                }
            }
            LogEntry::Config { sequence, envelope } => {
                let hash = sha256(&envelope);
                let current = self.config.sequence();
                if sequence != current {
                    self.shared.resolve(
                        &hash,
                        Err(SubmitError::ConfigSequenceChanged {
                            validated: sequence,
                            current,
                        }),
                    );
                    return Ok(());
                }
                if skip == 0 {
                    if let Some(batch) = self.cutter.cut(CutReason::Config) {
                        self.write_batch(batch.envelopes, batch.reason)?;
                    }
                    self.write_config_block(
                        envelope,
                        Position {
                            index: entry.index,
                            consumed: 1,
                        },
                    )?;
                }
                self.shared.resolve(&hash, Ok(()));
            }
        }
        Ok(())
    }

    fn write_batch(&mut self, envelopes: Vec<Pending>, reason: CutReason) -> Result<(), String> {
        let after = envelopes.last().map(|p| p.after).unwrap_or(self.position);
        let data = envelopes.into_iter().map(|p| p.bytes).collect();
        self.write_block(data, after, reason)?;
        if !self.cutter.has_pending() {
            self.pending_since = None;
        }
        Ok(())
    }

    fn write_config_block(&mut self, envelope: Vec<u8>, after: Position) -> Result<(), String> {
        let number = self.next_number;
        self.write_block(vec![envelope.clone()], after, CutReason::Config)?;
        // The block is written: from now on the channel runs on the new config.
        let block = self
            .store
            .block(number)
            .map_err(|e| e.to_string())?
            .ok_or("config block vanished")?;
        let config = ChannelConfig::from_block(&block)
            .map_err(|e| format!("applying config block {number}: {e}"))?;
        let (limits, timeout) = cut_limits(&config);
        self.cutter.set_limits(limits);
        self.batch_timeout = timeout;
        let config = Arc::new(config);
        *self
            .shared
            .config
            .write()
            .unwrap_or_else(|p| p.into_inner()) = config.clone();
        self.config = config;
        Ok(())
    }

    fn write_block(
        &mut self,
        data: Vec<Vec<u8>>,
        after: Position,
        reason: CutReason,
    ) -> Result<(), String> {
        let number = self.next_number;
        let previous = self.store.last_header_hash();
        let mut block = protoutil::build_block(number, previous, data);
        if reason == CutReason::Config {
            self.last_config_index = number;
        }
        let consenter_metadata = weft_proto::etcdraft::BlockMetadata {
            consenter_ids: self.consenter_ids.clone(),
            next_consenter_id: self.consenter_ids.iter().max().copied().unwrap_or(0) + 1,
            raft_index: after.index,
        }
        .encode_to_vec();
        protoutil::sign_block(
            &mut block,
            self.signer.as_ref() as &dyn Signer,
            self.last_config_index,
            &consenter_metadata,
        )
        .map_err(|e| format!("signing block {number}: {e}"))?;
        let db = self.store.db();
        let cf = db
            .cf_handle(CF_RAFT_STATE)
            .ok_or("raft_state column family missing")?;
        let mut extra = rocksdb::WriteBatch::default();
        extra.put_cf(cf, KEY_POSITION, after.encode());
        self.store
            .append(&block, extra)
            .map_err(|e| format!("appending block {number}: {e}"))?;
        self.next_number += 1;
        self.position = after;
        self.written.push((number, reason));
        tracing::debug!(channel = %self.channel_id, number, reason = reason.as_str(), "wrote block");
        Ok(())
    }

    /// Installs a snapshot: the blocks up to `last_block` are fetched from elsewhere, the
    /// pending batch restarts empty at `position`.
    fn restore(
        &mut self,
        last_block: u64,
        position: Position,
        blocks: Vec<Block>,
    ) -> Result<(), String> {
        for block in blocks {
            let number = block.header.as_ref().map(|h| h.number).unwrap_or_default();
            if number < self.store.height() {
                continue;
            }
            let db = self.store.db();
            let cf = db
                .cf_handle(CF_RAFT_STATE)
                .ok_or("raft_state column family missing")?;
            let mut extra = rocksdb::WriteBatch::default();
            if number == last_block {
                extra.put_cf(cf, KEY_POSITION, position.encode());
            }
            self.store
                .append(&block, extra)
                .map_err(|e| format!("appending pulled block {number}: {e}"))?;
            if protoutil::is_config_block(&block) {
                let config = ChannelConfig::from_block(&block).map_err(|e| e.to_string())?;
                self.last_config_index = number;
                let config = Arc::new(config);
                *self
                    .shared
                    .config
                    .write()
                    .unwrap_or_else(|p| p.into_inner()) = config.clone();
                self.config = config;
            }
        }
        if self.store.height() != last_block + 1 {
            return Err(format!(
                "after pulling, height is {} not {}",
                self.store.height(),
                last_block + 1
            ));
        }
        let (limits, timeout) = cut_limits(&self.config);
        self.cutter = BlockCutter::new(limits);
        self.batch_timeout = timeout;
        self.next_number = last_block + 1;
        self.position = position;
        self.resume = Some(position);
        self.pending_since = None;
        Ok(())
    }
}

/// The Raft thread's state.
struct Driver {
    settings: ChainSettings,
    node: RawNode<RaftStorage>,
    storage: RaftStorage,
    input: mpsc::Receiver<Input>,
    shared: Arc<Shared>,
    status: watch::Sender<ChainStatus>,
    transport: Arc<dyn Transport>,
    puller: Arc<dyn BlockPuller>,
    observer: Arc<dyn ChainObserver>,
    applier: Applier,
    /// Envelopes waiting to be proposed (leader only).
    proposals: Vec<Vec<u8>>,
    proposal_bytes: usize,
    /// The block number a time-to-cut was proposed for, and when.
    time_to_cut_sent: Option<(u64, Instant)>,
}

impl Driver {
    fn run(mut self) {
        let channel = self.settings.channel_id.clone();
        match self.run_loop() {
            Ok(()) => tracing::info!(%channel, "chain halted"),
            Err(e) => tracing::error!(%channel, error = %e, "chain failed; halting"),
        }
        self.status.send_modify(|s| s.halted = true);
        self.shared.fail_all(SubmitError::Halted(channel));
    }

    fn run_loop(&mut self) -> Result<(), String> {
        let tick = self.settings.tick_interval;
        let mut next_tick = Instant::now() + tick;
        loop {
            let wait = next_tick.saturating_duration_since(Instant::now());
            match self.input.recv_timeout(wait) {
                Ok(input) => {
                    if !self.handle(input)? {
                        return Ok(());
                    }
                    // Take whatever else is queued before doing Raft work: it batches proposals.
                    for _ in 0..10_000 {
                        match self.input.try_recv() {
                            Ok(input) => {
                                if !self.handle(input)? {
                                    return Ok(());
                                }
                            }
                            Err(_) => break,
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
            if Instant::now() >= next_tick {
                self.node.tick();
                next_tick += tick;
                if next_tick < Instant::now() {
                    next_tick = Instant::now() + tick;
                }
            }
            self.propose_pending();
            self.maybe_time_to_cut();
            self.on_ready()?;
        }
    }

    /// Returns false on halt.
    fn handle(&mut self, input: Input) -> Result<bool, String> {
        match input {
            Input::Halt => return Ok(false),
            Input::Step(message) => {
                if let Err(e) = self.node.step(*message) {
                    tracing::debug!(channel = %self.settings.channel_id, error = %e, "raft step");
                }
            }
            Input::Envelope {
                bytes,
                hash,
                forwarded,
            } => {
                let status = *self.status.borrow();
                if status.is_leader {
                    self.proposal_bytes += bytes.len();
                    self.proposals.push(bytes);
                } else if status.leader != 0 && !forwarded {
                    self.transport
                        .forward(&self.settings.channel_id, status.leader, bytes, None);
                } else if !forwarded {
                    self.shared.resolve(&hash, Err(SubmitError::NoLeader));
                }
            }
            Input::Config {
                bytes,
                hash,
                sequence,
                forwarded,
            } => {
                let status = *self.status.borrow();
                if status.is_leader {
                    let entry = LogEntry::Config {
                        sequence,
                        envelope: bytes,
                    }
                    .encode();
                    if self.node.propose(Vec::new(), entry).is_err() {
                        self.observer.proposal_failed(&self.settings.channel_id);
                        self.shared.resolve(&hash, Err(SubmitError::NoLeader));
                    }
                } else if status.leader != 0 && !forwarded {
                    self.transport.forward(
                        &self.settings.channel_id,
                        status.leader,
                        bytes,
                        Some(sequence),
                    );
                } else if !forwarded {
                    self.shared.resolve(&hash, Err(SubmitError::NoLeader));
                }
            }
        }
        Ok(true)
    }

    /// Proposes buffered envelopes as entries (leader only).
    fn propose_pending(&mut self) {
        while !self.proposals.is_empty() {
            if self.node.raft.state != StateRole::Leader {
                // Lost leadership with envelopes in hand: their submitters time out and
                // retry; forwarding them blindly could order them twice.
                for bytes in self.proposals.drain(..) {
                    self.shared
                        .resolve(&sha256(&bytes), Err(SubmitError::NoLeader));
                }
                self.proposal_bytes = 0;
                return;
            }
            let mut take = 0;
            let mut bytes = 0;
            while take < self.proposals.len() && take < MAX_ENVELOPES_PER_ENTRY {
                bytes += self.proposals[take].len();
                take += 1;
                if bytes >= MAX_BYTES_PER_ENTRY {
                    break;
                }
            }
            let batch: Vec<Vec<u8>> = self.proposals.drain(..take).collect();
            self.proposal_bytes = self.proposal_bytes.saturating_sub(bytes);
            let entry = LogEntry::Envelopes(batch);
            if self.node.propose(Vec::new(), entry.encode()).is_err() {
                self.observer.proposal_failed(&self.settings.channel_id);
                if let LogEntry::Envelopes(batch) = entry {
                    for bytes in batch {
                        self.shared
                            .resolve(&sha256(&bytes), Err(SubmitError::NoLeader));
                    }
                }
            }
        }
    }

    /// The leader proposes a time-to-cut when the pending batch is older than the batch timeout.
    fn maybe_time_to_cut(&mut self) {
        if self.node.raft.state != StateRole::Leader {
            return;
        }
        let Some(since) = self.applier.pending_since else {
            return;
        };
        let timeout = self.applier.batch_timeout;
        if since.elapsed() < timeout {
            return;
        }
        let number = self.applier.next_number;
        if let Some((sent_for, at)) = self.time_to_cut_sent
            && sent_for == number
            && at.elapsed() < timeout
        {
            return;
        }
        if self
            .node
            .propose(
                Vec::new(),
                LogEntry::TimeToCut {
                    block_number: number,
                }
                .encode(),
            )
            .is_ok()
        {
            self.time_to_cut_sent = Some((number, Instant::now()));
        }
    }

    fn on_ready(&mut self) -> Result<(), String> {
        if !self.node.has_ready() {
            return Ok(());
        }
        let mut ready = self.node.ready();
        let channel = self.settings.channel_id.clone();

        if let Some(ss) = ready.ss() {
            let status = ChainStatus {
                leader: ss.leader_id,
                is_leader: ss.raft_state == StateRole::Leader,
                term: self.node.raft.term,
                halted: false,
            };
            self.status.send_replace(status);
            self.observer.leader_changed(&channel, status);
            if !status.is_leader {
                self.time_to_cut_sent = None;
            }
        }
        // A leader may send before persisting (Raft thesis §10.2.1).
        self.send(ready.take_messages());

        if !ready.snapshot().is_empty() {
            let snapshot = ready.snapshot().clone();
            self.storage
                .apply_snapshot(&snapshot)
                .map_err(|e| e.to_string())?;
            self.install_snapshot(snapshot.get_data(), snapshot.get_metadata().index)?;
        }

        self.apply_entries(ready.take_committed_entries())?;

        let started = Instant::now();
        self.storage
            .persist(ready.entries(), ready.hs())
            .map_err(|e| e.to_string())?;
        self.observer.persisted(&channel, started.elapsed());
        self.send(ready.take_persisted_messages());

        let mut light = self.node.advance(ready);
        if let Some(commit) = light.commit_index() {
            self.storage.set_commit(commit).map_err(|e| e.to_string())?;
        }
        self.send(light.take_messages());
        self.apply_entries(light.take_committed_entries())?;
        self.node.advance_apply();
        self.maybe_snapshot()?;
        Ok(())
    }

    fn send(&self, messages: Vec<RaftMessage>) {
        for message in messages {
            self.transport
                .send(&self.settings.channel_id, message.to, message);
        }
    }

    fn apply_entries(&mut self, entries: Vec<Entry>) -> Result<(), String> {
        for entry in &entries {
            self.applier.apply(entry)?;
        }
        for (number, reason) in self.applier.written.drain(..) {
            self.observer
                .block_written(&self.settings.channel_id, number, reason);
        }
        Ok(())
    }

    fn install_snapshot(&mut self, data: &[u8], index: u64) -> Result<(), String> {
        let (last_block, position) = decode_snapshot_data(data)
            .ok_or_else(|| format!("undecodable snapshot at index {index}"))?;
        let height = self.applier.store.height();
        let blocks = if height <= last_block {
            let source = self.node.raft.leader_id;
            tracing::info!(channel = %self.settings.channel_id, from = height, to = last_block, source, "pulling blocks after a snapshot");
            self.puller
                .pull(&self.settings.channel_id, source, height, last_block)?
        } else {
            Vec::new()
        };
        self.applier.restore(last_block, position, blocks)
    }

    /// Compacts the log once enough bytes were applied: everything before the entry of
    /// the last block's position is in blocks.
    fn maybe_snapshot(&mut self) -> Result<(), String> {
        let interval = self.settings.snapshot_interval_bytes;
        if interval == 0 || self.applier.bytes_since_snapshot < interval {
            return Ok(());
        }
        let position = self.applier.position;
        if position.index < 2 || self.applier.cutter.has_pending() {
            return Ok(());
        }
        let index = position.index - 1;
        let last_block = self.applier.next_number - 1;
        self.storage
            .compact(index, encode_snapshot_data(last_block, position))
            .map_err(|e| e.to_string())?;
        self.applier.bytes_since_snapshot = 0;
        self.observer
            .snapshot_taken(&self.settings.channel_id, last_block);
        Ok(())
    }
}

/// Routes raft-rs's slog records into `tracing`.
struct TracingDrain;

impl slog::Drain for TracingDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(
        &self,
        record: &slog::Record<'_>,
        _values: &slog::OwnedKVList,
    ) -> Result<(), slog::Never> {
        match record.level() {
            slog::Level::Critical | slog::Level::Error => {
                tracing::error!(target: "raft", "{}", record.msg())
            }
            slog::Level::Warning => tracing::warn!(target: "raft", "{}", record.msg()),
            slog::Level::Info => tracing::debug!(target: "raft", "{}", record.msg()),
            _ => tracing::trace!(target: "raft", "{}", record.msg()),
        }
        Ok(())
    }
}
