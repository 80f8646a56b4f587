//! The `/Channel/Orderer` group: consensus, block cutting, orderer orgs.

use std::collections::BTreeMap;
use std::time::Duration;

use prost::Message;
use weft_proto::common::OrdererAddresses;
use weft_proto::etcdraft;
use weft_proto::orderer::{
    BatchSize as BatchSizeProto, BatchTimeout, ChannelRestrictions,
    ConsensusType as ConsensusProto, KafkaBrokers,
};

use super::{Capabilities, ConfigError, Group, MspCollector, keys, parse_go_duration};

/// The orderer section of a channel config.
#[derive(Debug, Clone, PartialEq)]
pub struct OrdererConfig {
    /// The consensus implementation and its settings.
    pub consensus: ConsensusType,
    /// `ConsensusType.metadata` as received.
    pub consensus_metadata: Vec<u8>,
    /// Normal operation or maintenance mode.
    pub state: ConsensusState,
    /// Block cutting limits.
    pub batch_size: BatchSize,
    /// How long the first message of a batch waits before the batch is cut.
    pub batch_timeout: Duration,
    /// `ChannelRestrictions.max_count` (0 = unlimited; system channel only).
    pub max_channels: u64,
    /// Orderer capabilities.
    pub capabilities: Capabilities,
    /// Orderer orgs by group name.
    pub organizations: BTreeMap<String, OrdererOrg>,
}

/// The consensus implementation named by `ConsensusType.type`.
#[derive(Debug, Clone, PartialEq)]
pub enum ConsensusType {
    /// `etcdraft`, with its decoded metadata.
    EtcdRaft(EtcdRaftConfig),
    /// `solo` (deprecated in Fabric; single node).
    Solo,
    /// `kafka` (deprecated in Fabric), with the brokers of the `KafkaBrokers` value.
    Kafka {
        /// `host:port` of each broker.
        brokers: Vec<String>,
    },
}

impl ConsensusType {
    /// The type name as written in the config ("etcdraft", "solo", "kafka").
    pub fn name(&self) -> &'static str {
        match self {
            ConsensusType::EtcdRaft(_) => "etcdraft",
            ConsensusType::Solo => "solo",
            ConsensusType::Kafka { .. } => "kafka",
        }
    }
}

/// `ConsensusType.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsensusState {
    /// Ordering normally.
    Normal,
    /// Maintenance mode: only config transactions from orderer admins.
    Maintenance,
}

/// etcdraft `ConfigMetadata`, checked as Fabric's Raft chain checks it.
#[derive(Debug, Clone, PartialEq)]
pub struct EtcdRaftConfig {
    /// The Raft cluster members.
    pub consenters: Vec<Consenter>,
    /// Raft tuning.
    pub options: RaftOptions,
}

/// One Raft cluster member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consenter {
    /// Cluster host.
    pub host: String,
    /// Cluster port.
    pub port: u32,
    /// The member's TLS client certificate, PEM.
    pub client_tls_cert: Vec<u8>,
    /// The member's TLS server certificate, PEM.
    pub server_tls_cert: Vec<u8>,
}

/// etcdraft `Options`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftOptions {
    /// Time between Raft ticks.
    pub tick_interval: Duration,
    /// Ticks without a leader before an election.
    pub election_tick: u32,
    /// Ticks between leader heartbeats.
    pub heartbeat_tick: u32,
    /// Append messages in flight during optimistic replication.
    pub max_inflight_blocks: u32,
    /// Bytes of blocks between snapshots.
    pub snapshot_interval_size: u32,
}

/// `orderer.BatchSize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSize {
    /// Messages per block.
    pub max_message_count: u32,
    /// Largest accepted message (payload + signature), bytes.
    pub absolute_max_bytes: u32,
    /// Preferred block size, bytes.
    pub preferred_max_bytes: u32,
}

/// An orderer organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrdererOrg {
    /// The org's group name.
    pub name: String,
    /// Its MSP ID.
    pub msp_id: String,
    /// Its orderer endpoints (`Endpoints` value), `host:port`.
    pub endpoints: Vec<String>,
}

impl OrdererConfig {
    pub(crate) fn parse(
        group: &Group<'_>,
        org_endpoints_allowed: bool,
        msps: &mut MspCollector,
    ) -> Result<Self, ConfigError> {
        group.allow_values(&[
            keys::CONSENSUS_TYPE,
            keys::BATCH_SIZE,
            keys::BATCH_TIMEOUT,
            keys::CHANNEL_RESTRICTIONS,
            keys::CAPABILITIES,
            keys::KAFKA_BROKERS,
        ])?;
        let consensus: ConsensusProto = group.require(keys::CONSENSUS_TYPE)?;
        let state = match consensus.state {
            0 => ConsensusState::Normal,
            1 => ConsensusState::Maintenance,
            other => return Err(ConfigError::UnknownConsensusState(other)),
        };
        let kind = match consensus.r#type.as_str() {
            "etcdraft" => ConsensusType::EtcdRaft(parse_etcdraft(group, &consensus.metadata)?),
            "solo" => ConsensusType::Solo,
            "kafka" => ConsensusType::Kafka {
                brokers: group
                    .optional::<KafkaBrokers>(keys::KAFKA_BROKERS)?
                    .map(|b| b.brokers)
                    .unwrap_or_default(),
            },
            other => return Err(ConfigError::UnknownConsensusType(other.to_string())),
        };
        let batch_size = parse_batch_size(group.require(keys::BATCH_SIZE)?)?;
        let timeout: BatchTimeout = group.require(keys::BATCH_TIMEOUT)?;
        let batch_timeout =
            parse_go_duration(&timeout.timeout).map_err(|e| ConfigError::InvalidBatchTimeout {
                value: timeout.timeout.clone(),
                reason: e.to_string(),
            })?;
        if batch_timeout.is_zero() {
            return Err(ConfigError::InvalidBatchTimeout {
                value: timeout.timeout,
                reason: "must be positive".to_string(),
            });
        }
        let max_channels = group
            .optional::<ChannelRestrictions>(keys::CHANNEL_RESTRICTIONS)?
            .map_or(0, |r| r.max_count);

        let mut organizations = BTreeMap::new();
        for (name, org) in group.children() {
            org.forbid_groups()?;
            org.allow_values(&[keys::MSP, keys::ENDPOINTS])?;
            if !org_endpoints_allowed && org.has_value(keys::ENDPOINTS) {
                return Err(ConfigError::EndpointsWithoutCapability { org: name });
            }
            let msp_id = msps.add(&org, &name)?;
            let endpoints = org
                .optional::<OrdererAddresses>(keys::ENDPOINTS)?
                .map(|a| a.addresses)
                .unwrap_or_default();
            organizations.insert(
                name.clone(),
                OrdererOrg {
                    name,
                    msp_id,
                    endpoints,
                },
            );
        }

        Ok(Self {
            consensus: kind,
            consensus_metadata: consensus.metadata,
            state,
            batch_size,
            batch_timeout,
            max_channels,
            capabilities: group.capabilities()?,
            organizations,
        })
    }

    /// The etcdraft settings, when the consensus type is etcdraft.
    pub fn etcdraft(&self) -> Option<&EtcdRaftConfig> {
        match &self.consensus {
            ConsensusType::EtcdRaft(raft) => Some(raft),
            _ => None,
        }
    }
}

/// Fabric's batch size rules: no zero field, preferred ≤ absolute.
fn parse_batch_size(proto: BatchSizeProto) -> Result<BatchSize, ConfigError> {
    let invalid = |reason: String| Err(ConfigError::InvalidBatchSize(reason));
    if proto.max_message_count == 0 {
        return invalid("max message count is 0".to_string());
    }
    if proto.absolute_max_bytes == 0 {
        return invalid("absolute max bytes is 0".to_string());
    }
    if proto.preferred_max_bytes == 0 {
        return invalid("preferred max bytes is 0".to_string());
    }
    if proto.preferred_max_bytes > proto.absolute_max_bytes {
        return invalid(format!(
            "preferred max bytes ({}) greater than absolute max bytes ({})",
            proto.preferred_max_bytes, proto.absolute_max_bytes
        ));
    }
    Ok(BatchSize {
        max_message_count: proto.max_message_count,
        absolute_max_bytes: proto.absolute_max_bytes,
        preferred_max_bytes: proto.preferred_max_bytes,
    })
}

/// Decodes and checks etcdraft metadata the way Fabric's Raft chain does.
fn parse_etcdraft(group: &Group<'_>, metadata: &[u8]) -> Result<EtcdRaftConfig, ConfigError> {
    let invalid = |reason: String| ConfigError::InvalidEtcdRaft(reason);
    let metadata = etcdraft::ConfigMetadata::decode(metadata).map_err(|source| {
        ConfigError::UndecodableValue {
            path: group.path().to_string(),
            key: format!("{} (etcdraft metadata)", keys::CONSENSUS_TYPE),
            source,
        }
    })?;
    let options = metadata
        .options
        .ok_or_else(|| invalid("no options".to_string()))?;
    if options.heartbeat_tick == 0 || options.election_tick == 0 || options.max_inflight_blocks == 0
    {
        return Err(invalid(format!(
            "none of HeartbeatTick ({}), ElectionTick ({}) and MaxInflightBlocks ({}) can be zero",
            options.heartbeat_tick, options.election_tick, options.max_inflight_blocks
        )));
    }
    if options.election_tick <= options.heartbeat_tick {
        return Err(invalid(format!(
            "ElectionTick ({}) must be greater than HeartbeatTick ({})",
            options.election_tick, options.heartbeat_tick
        )));
    }
    let tick_interval = parse_go_duration(&options.tick_interval).map_err(|e| {
        invalid(format!(
            "cannot parse TickInterval ({:?}): {e}",
            options.tick_interval
        ))
    })?;
    if tick_interval.is_zero() {
        return Err(invalid("TickInterval cannot be zero".to_string()));
    }
    if metadata.consenters.is_empty() {
        return Err(invalid("empty consenter set".to_string()));
    }
    let mut consenters: Vec<Consenter> = Vec::new();
    for c in metadata.consenters {
        let consenter = Consenter {
            host: c.host,
            port: c.port,
            client_tls_cert: c.client_tls_cert,
            server_tls_cert: c.server_tls_cert,
        };
        if consenters.contains(&consenter) {
            return Err(invalid(format!(
                "duplicate consenter {}:{}",
                consenter.host, consenter.port
            )));
        }
        consenters.push(consenter);
    }
    Ok(EtcdRaftConfig {
        consenters,
        options: RaftOptions {
            tick_interval,
            election_tick: options.election_tick,
            heartbeat_tick: options.heartbeat_tick,
            max_inflight_blocks: options.max_inflight_blocks,
            snapshot_interval_size: options.snapshot_interval_size,
        },
    })
}
