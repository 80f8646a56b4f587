//! The channels this orderer serves: joining from a genesis block, restarting them from
//! disk, removing them; the backend of the channel participation API.
//!
//! Each channel lives in `<FileLedger.Location>/chains/<channel>/`: one RocksDB holding
//! the block store and the Raft column families, so a block and the Raft position it
//! reflects commit together.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use weft_common::blockstore::BlockStore;
use weft_common::channelconfig::{ChannelConfig, ConsensusType};
use weft_common::msp::SigningIdentity;
use weft_common::protoutil;
use weft_proto::common::Block;

use crate::cluster::{Cluster, Member};
use crate::consensus::chain::{BlockPuller, Chain, ChainObserver, ChainParts, ChainSettings};
use crate::consensus::storage::{CF_RAFT_LOG, CF_RAFT_STATE};
use crate::participation::{
    ChannelInfo, ChannelParticipation, ChannelStatus, ConsensusRelation, ParticipationError,
};

/// What every chain of this node shares.
#[derive(Clone)]
pub struct NodeContext {
    /// `FileLedger.Location`.
    pub ledger_root: PathBuf,
    /// Signs blocks and config envelopes.
    pub signer: Arc<SigningIdentity>,
    /// DER of this node's cluster server TLS certificate: how it finds itself among consenters.
    pub server_cert_der: Option<Vec<u8>>,
    /// Raft traffic.
    pub cluster: Arc<Cluster>,
    /// Fetches blocks after a snapshot.
    pub puller: Arc<dyn BlockPuller>,
    /// Metrics.
    pub observer: Arc<dyn ChainObserver>,
    /// `Consensus.TickIntervalOverride`, when set.
    pub tick_override: Option<Duration>,
}

impl std::fmt::Debug for NodeContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeContext")
            .field("ledger_root", &self.ledger_root)
            .finish_non_exhaustive()
    }
}

/// The channel registry.
#[derive(Debug)]
pub struct Registrar {
    node: NodeContext,
    chains: RwLock<BTreeMap<String, Chain>>,
}

/// A channel could not be started.
#[derive(Debug, thiserror::Error)]
pub enum RegistrarError {
    /// The ledger directory could not be read or written.
    #[error("ledger directory {path}: {message}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// A channel's stored state is unusable.
    #[error("channel {channel}: {message}")]
    Channel {
        /// The channel.
        channel: String,
        /// What is wrong.
        message: String,
    },
}

fn chains_dir(root: &Path) -> PathBuf {
    root.join("chains")
}

fn open_store(dir: &Path) -> Result<BlockStore, String> {
    BlockStore::open(dir, &[CF_RAFT_LOG, CF_RAFT_STATE]).map_err(|e| e.to_string())
}

impl Registrar {
    /// Opens every channel found under the ledger root and starts its chain.
    pub fn open(node: NodeContext) -> Result<Arc<Self>, RegistrarError> {
        let registrar = Arc::new(Self {
            node,
            chains: RwLock::new(BTreeMap::new()),
        });
        let dir = chains_dir(&registrar.node.ledger_root);
        std::fs::create_dir_all(&dir).map_err(|e| RegistrarError::Io {
            path: dir.clone(),
            message: e.to_string(),
        })?;
        let entries = std::fs::read_dir(&dir).map_err(|e| RegistrarError::Io {
            path: dir.clone(),
            message: e.to_string(),
        })?;
        for entry in entries {
            let entry = entry.map_err(|e| RegistrarError::Io {
                path: dir.clone(),
                message: e.to_string(),
            })?;
            if !entry.path().is_dir() {
                continue;
            }
            let channel = entry.file_name().to_string_lossy().into_owned();
            let chain = registrar
                .restart(&channel, &entry.path())
                .map_err(|message| RegistrarError::Channel {
                    channel: channel.clone(),
                    message,
                })?;
            registrar
                .chains
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(channel, chain);
        }
        Ok(registrar)
    }

    fn restart(&self, channel: &str, dir: &Path) -> Result<Chain, String> {
        let store = Arc::new(open_store(dir)?);
        let last = store
            .last_block()
            .map_err(|e| e.to_string())?
            .ok_or("no blocks")?;
        let config_index = protoutil::last_config_index(&last).map_err(|e| e.to_string())?;
        let config_block = store
            .block(config_index)
            .map_err(|e| e.to_string())?
            .ok_or("last config block missing")?;
        let config = ChannelConfig::from_block(&config_block).map_err(|e| e.to_string())?;
        self.start_chain(channel, store, config)
    }

    fn start_chain(
        &self,
        channel: &str,
        store: Arc<BlockStore>,
        config: ChannelConfig,
    ) -> Result<Chain, String> {
        let raft = match config.orderer().map(|o| &o.consensus) {
            Some(ConsensusType::EtcdRaft(raft)) => raft.clone(),
            Some(other) => {
                return Err(format!(
                    "consensus type {} is not supported (etcdraft only)",
                    other.name()
                ));
            }
            None => return Err("the config has no Orderer group".into()),
        };
        let mut members = Vec::new();
        let mut node_id = None;
        for (i, consenter) in raft.consenters.iter().enumerate() {
            let id = i as u64 + 1;
            let client_der = first_cert_der(&consenter.client_tls_cert)?;
            let server_der = first_cert_der(&consenter.server_tls_cert)?;
            if self.node.server_cert_der.as_deref() == Some(server_der.as_slice()) {
                node_id = Some(id);
            }
            members.push(Member {
                id,
                endpoint: format!("{}:{}", consenter.host, consenter.port),
                server_name: consenter.host.clone(),
                client_cert_hash: weft_common::tls::cert_hash(&client_der),
            });
        }
        let node_id = node_id.ok_or(
            "this orderer is not in the channel's consenter set (its cluster TLS server certificate matches no consenter); follower mode is not supported",
        )?;
        let voters: Vec<u64> = members.iter().map(|m| m.id).collect();
        self.node.cluster.set_members(channel, members);
        let options = &raft.options;
        let settings = ChainSettings {
            channel_id: channel.to_owned(),
            node_id,
            voters,
            tick_interval: self
                .node
                .tick_override
                .unwrap_or(options.tick_interval)
                .max(Duration::from_millis(10)),
            election_tick: options.election_tick.max(2) as usize,
            heartbeat_tick: options.heartbeat_tick.max(1) as usize,
            snapshot_interval_bytes: u64::from(options.snapshot_interval_size),
        };
        Chain::start(ChainParts {
            settings,
            store,
            config: Arc::new(config),
            signer: self.node.signer.clone(),
            transport: self.node.cluster.clone(),
            puller: self.node.puller.clone(),
            observer: self.node.observer.clone(),
        })
        .map_err(|e| e.to_string())
    }

    /// The running chain of `channel`.
    pub fn chain(&self, channel: &str) -> Option<Chain> {
        self.chains
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(channel)
            .cloned()
    }

    /// Every running chain.
    pub fn chains(&self) -> Vec<Chain> {
        self.chains
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Stops every chain (process shutdown).
    pub fn halt_all(&self) {
        for chain in self.chains() {
            chain.halt();
        }
    }

    fn info_of(chain: &Chain) -> ChannelInfo {
        let status = chain.status();
        ChannelInfo {
            name: chain.channel_id().to_owned(),
            consensus_relation: ConsensusRelation::Consenter,
            status: if status.halted {
                ChannelStatus::Failed
            } else {
                ChannelStatus::Active
            },
            height: chain.store().height(),
        }
    }
}

fn first_cert_der(pem: &[u8]) -> Result<Vec<u8>, String> {
    let certs = weft_common::tls::certificates_from_pem(pem, "consenter certificate")
        .map_err(|e| e.to_string())?;
    certs
        .into_iter()
        .next()
        .map(|c| c.to_vec())
        .ok_or_else(|| "consenter certificate is empty".into())
}

impl ChannelParticipation for Registrar {
    fn join(&self, block: Block) -> Result<ChannelInfo, ParticipationError> {
        let channel = protoutil::block_channel_id(&block)
            .map_err(|e| ParticipationError::BadRequest(e.to_string()))?;
        if self.chain(&channel).is_some() {
            return Err(ParticipationError::AlreadyExists(format!(
                "cannot join: channel already exists: {channel}"
            )));
        }
        let number = block.header.as_ref().map(|h| h.number).unwrap_or_default();
        if number != 0 {
            return Err(ParticipationError::BadRequest(format!(
                "joining with config block {number} needs on-boarding from other orderers, which is not supported; join with the genesis block"
            )));
        }
        let config = ChannelConfig::from_block(&block)
            .map_err(|e| ParticipationError::BadRequest(format!("invalid config block: {e}")))?;
        let dir = chains_dir(&self.node.ledger_root).join(&channel);
        if dir.exists() {
            return Err(ParticipationError::Conflict(format!(
                "channel {channel} has leftover data at {}",
                dir.display()
            )));
        }
        let result = (|| {
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            let store = Arc::new(open_store(&dir)?);
            store
                .append(&block, rocksdb::WriteBatch::default())
                .map_err(|e| e.to_string())?;
            self.start_chain(&channel, store, config)
        })();
        match result {
            Ok(chain) => {
                let info = Self::info_of(&chain);
                self.chains
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(channel, chain);
                Ok(info)
            }
            Err(message) => {
                let _ = std::fs::remove_dir_all(&dir);
                self.node.cluster.remove_channel(&channel);
                Err(ParticipationError::BadRequest(message))
            }
        }
    }

    fn list(&self) -> Vec<String> {
        self.chains
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    fn info(&self, channel: &str) -> Option<ChannelInfo> {
        self.chain(channel).map(|c| Self::info_of(&c))
    }

    fn remove(&self, channel: &str) -> Result<(), ParticipationError> {
        let chain = self
            .chains
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(channel)
            .ok_or_else(|| {
                ParticipationError::NotFound(format!(
                    "cannot remove: channel {channel} does not exist"
                ))
            })?;
        chain.halt();
        self.node.cluster.remove_channel(channel);
        let store = chain.store().clone();
        drop(chain);
        // The Raft thread holds the store until it exits; wait for it before deleting.
        for _ in 0..100 {
            if Arc::strong_count(&store) == 1 {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(store);
        let dir = chains_dir(&self.node.ledger_root).join(channel);
        std::fs::remove_dir_all(&dir)
            .map_err(|e| ParticipationError::Internal(format!("removing {}: {e}", dir.display())))
    }
}

impl crate::cluster::ChainLookup for Registrar {
    fn chain(&self, channel: &str) -> Option<Chain> {
        Registrar::chain(self, channel)
    }
}

impl crate::broadcast::ChannelChains for Registrar {
    fn chain(&self, channel: &str) -> Option<Chain> {
        Registrar::chain(self, channel)
    }
}
