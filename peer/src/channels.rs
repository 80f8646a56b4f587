//! The channels this peer has joined: one ledger directory each under
//! `<fileSystemPath>/ledgersData/chains/<channel>`, opened at start and created by
//! JoinChain.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use weft_proto::common::Block;

use crate::channel::{Channel, ChannelError};

/// Where channel ledgers live under the peer's file system path.
pub const CHAINS_DIR: &str = "ledgersData/chains";

/// Why a channel could not be joined or opened.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The peer already has this channel.
    #[error("channel {0} already exists")]
    AlreadyJoined(String),
    /// The genesis block or the ledger was refused.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// The ledger directory could not be created or listed.
    #[error("{path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Runs what a channel needs once it is open (its deliver client and committer).
pub trait ChannelStarter: Send + Sync {
    /// Called once per channel, after it was opened at start or created by a join.
    fn start(&self, channel: Arc<Channel>);
}

/// The joined channels.
pub struct Channels {
    root: PathBuf,
    channels: RwLock<BTreeMap<String, Arc<Channel>>>,
    starter: RwLock<Option<Arc<dyn ChannelStarter>>>,
}

impl std::fmt::Debug for Channels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channels")
            .field("root", &self.root)
            .field("channels", &self.ids())
            .finish_non_exhaustive()
    }
}

impl Channels {
    /// Opens every channel found under `file_system_path`.
    pub fn open(file_system_path: &Path) -> Result<Self, JoinError> {
        let root = file_system_path.join(CHAINS_DIR);
        std::fs::create_dir_all(&root).map_err(|source| JoinError::Io {
            path: root.clone(),
            source,
        })?;
        let entries = std::fs::read_dir(&root).map_err(|source| JoinError::Io {
            path: root.clone(),
            source,
        })?;
        let mut channels = BTreeMap::new();
        for entry in entries {
            let entry = entry.map_err(|source| JoinError::Io {
                path: root.clone(),
                source,
            })?;
            if !entry.path().is_dir() {
                continue;
            }
            let channel = Channel::open(&entry.path())?;
            tracing::info!(
                channel = channel.id(),
                height = channel.ledger().height(),
                "opened channel"
            );
            channels.insert(channel.id().to_owned(), Arc::new(channel));
        }
        Ok(Self {
            root,
            channels: RwLock::new(channels),
            starter: RwLock::new(None),
        })
    }

    /// Sets what runs for each channel, and runs it for the channels already open.
    pub fn set_starter(&self, starter: Arc<dyn ChannelStarter>) {
        *self
            .starter
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(starter.clone());
        for channel in self.all() {
            starter.start(channel);
        }
    }

    /// The channel `id`, if joined.
    pub fn get(&self, id: &str) -> Option<Arc<Channel>> {
        self.channels
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    /// The joined channel ids, sorted.
    pub fn ids(&self) -> Vec<String> {
        self.channels
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }

    /// Every joined channel.
    pub fn all(&self) -> Vec<Arc<Channel>> {
        self.channels
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// Joins the channel whose genesis block is `genesis`: creates its ledger, commits
    /// the block, and starts pulling blocks. Blocking (ledger I/O).
    pub fn join(&self, genesis: &Block) -> Result<Arc<Channel>, JoinError> {
        let config = weft_common::channelconfig::ChannelConfig::from_block(genesis)
            .map_err(ChannelError::from)?;
        let id = config.channel_id().to_owned();
        let mut channels = self
            .channels
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if channels.contains_key(&id) {
            return Err(JoinError::AlreadyJoined(id));
        }
        let dir = self.root.join(&id);
        if dir.exists() {
            // A directory without an open channel: a join that failed half-way.
            std::fs::remove_dir_all(&dir).map_err(|source| JoinError::Io {
                path: dir.clone(),
                source,
            })?;
        }
        let channel = match Channel::create(&dir, genesis) {
            Ok(channel) => Arc::new(channel),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e.into());
            }
        };
        channels.insert(id.clone(), channel.clone());
        drop(channels);
        tracing::info!(channel = %id, "joined channel");
        if let Some(starter) = self
            .starter
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
        {
            starter.start(channel.clone());
        }
        Ok(channel)
    }
}
