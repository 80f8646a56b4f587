//! A typed view of a channel's configuration, read from a config block.
//!
//! [`ChannelConfig::from_block`] takes a genesis or config block apart (envelope → payload
//! → `ConfigEnvelope` → `Config`), decodes and checks every value Fabric's
//! `common/channelconfig` reads, builds the orgs' MSPs into an [`MspManager`] and the
//! policy tree into a [`PolicyManager`]. The received `ConfigEnvelope` bytes are kept
//! ([`ChannelConfig::raw_config_envelope`]): hash or sign those, never a re-encoding of
//! the decoded messages (protobuf maps have no canonical order).
//!
//! Layout of the config tree (keys in [`keys`]):
//!
//! ```text
//! Channel   values HashingAlgorithm, BlockDataHashingStructure, [OrdererAddresses], [Capabilities], [Consortium]
//! ├─ Orderer       values ConsensusType, BatchSize, BatchTimeout, [ChannelRestrictions], [Capabilities], [KafkaBrokers]
//! │  └─ <org>      values MSP, [Endpoints]
//! └─ Application   values [Capabilities], [ACLs]
//!    └─ <org>      values MSP, [AnchorPeers]
//! ```
//!
//! Every malformed piece is a [`ConfigError`] naming the group path and key.

mod application;
mod duration;
mod orderer;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use prost::Message;
use weft_proto::common::{
    BlockDataHashingStructure, Capabilities as CapabilitiesProto, Config, ConfigEnvelope,
    ConfigGroup, Consortium, HashingAlgorithm, HeaderType, OrdererAddresses,
};
use weft_proto::msp::MspConfig;

use crate::msp::{Msp, MspError, MspManager};
use crate::policy::{PolicyError, PolicyManager};
use crate::protoutil::ProtoError;
use crate::protoutil::envelope::unpack_envelope_bytes;

pub use application::{AnchorPeer, ApplicationConfig, ApplicationOrg};
pub use duration::{DurationError, format_go_duration, parse_go_duration};
pub use orderer::{
    BatchSize, ConsensusState, ConsensusType, Consenter, EtcdRaftConfig, OrdererConfig, OrdererOrg,
    RaftOptions,
};

/// Group, value and policy names of the channel config tree.
pub mod keys {
    /// The root group.
    pub const CHANNEL_GROUP: &str = "Channel";
    /// The orderer group under the root.
    pub const ORDERER_GROUP: &str = "Orderer";
    /// The application group under the root.
    pub const APPLICATION_GROUP: &str = "Application";
    /// The legacy consortiums group (system channel only).
    pub const CONSORTIUMS_GROUP: &str = "Consortiums";

    /// Root value: `common.HashingAlgorithm`.
    pub const HASHING_ALGORITHM: &str = "HashingAlgorithm";
    /// Root value: `common.BlockDataHashingStructure`.
    pub const BLOCK_DATA_HASHING_STRUCTURE: &str = "BlockDataHashingStructure";
    /// Root value: `common.OrdererAddresses` (legacy global orderer endpoints).
    pub const ORDERER_ADDRESSES: &str = "OrdererAddresses";
    /// Root value: `common.Consortium` (legacy).
    pub const CONSORTIUM: &str = "Consortium";
    /// Root, Orderer and Application value: `common.Capabilities`.
    pub const CAPABILITIES: &str = "Capabilities";
    /// Orderer value: `orderer.ConsensusType`.
    pub const CONSENSUS_TYPE: &str = "ConsensusType";
    /// Orderer value: `orderer.BatchSize`.
    pub const BATCH_SIZE: &str = "BatchSize";
    /// Orderer value: `orderer.BatchTimeout`.
    pub const BATCH_TIMEOUT: &str = "BatchTimeout";
    /// Orderer value: `orderer.ChannelRestrictions`.
    pub const CHANNEL_RESTRICTIONS: &str = "ChannelRestrictions";
    /// Orderer value: `orderer.KafkaBrokers` (legacy).
    pub const KAFKA_BROKERS: &str = "KafkaBrokers";
    /// Orderer org value: `common.OrdererAddresses`.
    pub const ENDPOINTS: &str = "Endpoints";
    /// Org value: `msp.MSPConfig`.
    pub const MSP: &str = "MSP";
    /// Application org value: `protos.AnchorPeers`.
    pub const ANCHOR_PEERS: &str = "AnchorPeers";
    /// Application value: `protos.ACLs`.
    pub const ACLS: &str = "ACLs";

    /// Policy name: who may read.
    pub const READERS: &str = "Readers";
    /// Policy name: who may write.
    pub const WRITERS: &str = "Writers";
    /// Policy name: who may administer.
    pub const ADMINS: &str = "Admins";
    /// Orderer policy: who may sign blocks.
    pub const BLOCK_VALIDATION: &str = "BlockValidation";
    /// Application policy: default chaincode endorsement policy.
    pub const ENDORSEMENT: &str = "Endorsement";
    /// Application policy: who must endorse lifecycle commits.
    pub const LIFECYCLE_ENDORSEMENT: &str = "LifecycleEndorsement";
}

/// Capability names Fabric v2.5 understands, per level.
pub mod known_capabilities {
    /// Channel-level capabilities.
    pub const CHANNEL: &[&str] = &["V1_1", "V1_3", "V1_4_2", "V1_4_3", "V2_0"];
    /// Orderer capabilities.
    pub const ORDERER: &[&str] = &["V1_1", "V1_4_2", "V2_0"];
    /// Application capabilities.
    pub const APPLICATION: &[&str] = &["V1_1", "V1_2", "V1_3", "V1_4_2", "V2_0", "V2_5"];
}

/// Why a channel configuration was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The block or envelope around the config is malformed or not a CONFIG envelope.
    #[error("malformed config block: {0}")]
    Block(#[from] ProtoError),
    /// The `ConfigEnvelope` bytes do not decode.
    #[error("cannot decode ConfigEnvelope: {0}")]
    UndecodableEnvelope(prost::DecodeError),
    /// The `ConfigEnvelope` has no `config`.
    #[error("config envelope carries no config")]
    MissingConfig,
    /// The `Config` has no `channel_group`.
    #[error("config has no channel group")]
    MissingChannelGroup,
    /// A required group is absent.
    #[error("missing config group {path}")]
    MissingGroup {
        /// Path of the missing group, e.g. `/Channel/Orderer`.
        path: String,
    },
    /// A group that is not allowed where it is.
    #[error("config group {path} is not allowed")]
    UnexpectedGroup {
        /// Path of the group.
        path: String,
    },
    /// A required value is absent.
    #[error("missing config value {key} in {path}")]
    MissingValue {
        /// Path of the group.
        path: String,
        /// The value's key.
        key: String,
    },
    /// A value key that does not belong in this group.
    #[error("unexpected config value {key} in {path}")]
    UnexpectedValue {
        /// Path of the group.
        path: String,
        /// The value's key.
        key: String,
    },
    /// A value's bytes do not decode as the message its key calls for.
    #[error("cannot decode config value {key} in {path}: {source}")]
    UndecodableValue {
        /// Path of the group.
        path: String,
        /// The value's key.
        key: String,
        /// The decoder's complaint.
        source: prost::DecodeError,
    },
    /// `HashingAlgorithm` is not SHA256 (SHA3_256 is not supported by Weft).
    #[error("unsupported hashing algorithm {0:?}")]
    UnsupportedHashingAlgorithm(String),
    /// `BlockDataHashingStructure.width` is not `u32::MAX`.
    #[error("block data hashing structure width {0} is not supported (only 4294967295)")]
    UnsupportedHashingWidth(u32),
    /// Neither the channel-level `OrdererAddresses` nor (with V1_4_2+) per-org endpoints.
    #[error("must set some OrdererAddresses")]
    NoOrdererAddresses,
    /// An orderer org carries `Endpoints` without a channel capability that allows it.
    #[error(
        "orderer org {org} cannot carry Endpoints until V1_4_2+ channel capabilities are enabled"
    )]
    EndpointsWithoutCapability {
        /// The org's group name.
        org: String,
    },
    /// `ConsensusType.type` is not one Fabric v2.5 knows.
    #[error("unknown consensus type {0:?}")]
    UnknownConsensusType(String),
    /// `ConsensusType.state` is not NORMAL or MAINTENANCE.
    #[error("unknown consensus state {0}")]
    UnknownConsensusState(i32),
    /// The etcdraft metadata is malformed or inconsistent.
    #[error("invalid etcdraft metadata: {0}")]
    InvalidEtcdRaft(String),
    /// `BatchSize` has a zero field or preferred > absolute.
    #[error("invalid batch size: {0}")]
    InvalidBatchSize(String),
    /// `BatchTimeout` is not a positive Go duration.
    #[error("invalid batch timeout {value:?}: {reason}")]
    InvalidBatchTimeout {
        /// The timeout text.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// `ACLs` present without an application capability that allows them.
    #[error("ACLs may not be specified without the required capability (V1_2 or later)")]
    AclsWithoutCapability,
    /// An org's MSP could not be built.
    #[error("MSP of org {org}: {source}")]
    Msp {
        /// The org's group name.
        org: String,
        /// The MSP's complaint.
        source: MspError,
    },
    /// Two orgs define the same MSP ID with different configurations.
    #[error("two different definitions of MSP {mspid}")]
    ConflictingMsp {
        /// The MSP ID.
        mspid: String,
    },
    /// A required capability is not one this version supports.
    #[error("{level} capability {name} is required but not supported")]
    UnsupportedCapability {
        /// `Channel`, `Orderer` or `Application`.
        level: &'static str,
        /// The capability name.
        name: String,
    },
    /// The policy tree could not be built.
    #[error("policies: {0}")]
    Policy(#[from] PolicyError),
}

/// A set of required capabilities (`Capabilities` value), e.g. {"V2_0"}.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    names: BTreeSet<String>,
}

impl Capabilities {
    fn from_proto(proto: &CapabilitiesProto) -> Self {
        Self {
            names: proto.capabilities.keys().cloned().collect(),
        }
    }

    /// Whether capability `name` (e.g. "V2_0") is required.
    pub fn contains(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// The required capability names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// Whether no capability is required.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The required names not in `known`.
    pub fn unsupported(&self, known: &[&str]) -> Vec<String> {
        self.names
            .iter()
            .filter(|n| !known.contains(&n.as_str()))
            .cloned()
            .collect()
    }

    fn any_of(&self, names: &[&str]) -> bool {
        names.iter().any(|n| self.contains(n))
    }
}

/// A decoded, checked channel configuration.
#[derive(Clone)]
pub struct ChannelConfig {
    channel_id: String,
    envelope: ConfigEnvelope,
    raw_envelope: Option<Vec<u8>>,
    hashing_algorithm: String,
    block_data_hashing_width: u32,
    orderer_addresses: Vec<String>,
    consortium: Option<String>,
    capabilities: Capabilities,
    orderer: Option<OrdererConfig>,
    application: Option<ApplicationConfig>,
    msp_manager: Arc<MspManager>,
    policy_manager: Arc<PolicyManager>,
}

impl std::fmt::Debug for ChannelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelConfig")
            .field("channel_id", &self.channel_id)
            .field("sequence", &self.sequence())
            .field("hashing_algorithm", &self.hashing_algorithm)
            .field("capabilities", &self.capabilities)
            .field("orderer", &self.orderer)
            .field("application", &self.application)
            .finish_non_exhaustive()
    }
}

impl ChannelConfig {
    /// Reads a genesis or config block: exactly one envelope, of type CONFIG; the channel
    /// ID comes from its channel header.
    pub fn from_block(block: &weft_proto::common::Block) -> Result<Self, ConfigError> {
        let data = block.data.as_ref().map_or(&[][..], |d| d.data.as_slice());
        let [only] = data else {
            return Err(ConfigError::Block(ProtoError::NotAConfigBlock));
        };
        let envelope = unpack_envelope_bytes(only)?;
        if envelope.header_type() != HeaderType::Config as i32 {
            return Err(ConfigError::Block(ProtoError::NotAConfigBlock));
        }
        let channel_id = envelope.channel_id().to_string();
        Self::from_config_envelope_bytes(&channel_id, envelope.data)
    }

    /// Reads a marshaled `ConfigEnvelope` (a CONFIG payload's data), keeping the bytes.
    pub fn from_config_envelope_bytes(
        channel_id: &str,
        bytes: Vec<u8>,
    ) -> Result<Self, ConfigError> {
        let envelope =
            ConfigEnvelope::decode(bytes.as_slice()).map_err(ConfigError::UndecodableEnvelope)?;
        let mut config = Self::from_config_envelope(channel_id, &envelope)?;
        config.raw_envelope = Some(bytes);
        Ok(config)
    }

    /// Reads a decoded `ConfigEnvelope` (no raw bytes are kept).
    pub fn from_config_envelope(
        channel_id: &str,
        envelope: &ConfigEnvelope,
    ) -> Result<Self, ConfigError> {
        let config = envelope.config.as_ref().ok_or(ConfigError::MissingConfig)?;
        let mut out = Self::from_config(channel_id, config)?;
        out.envelope = envelope.clone();
        Ok(out)
    }

    /// Reads a decoded `Config` of channel `channel_id`.
    pub fn from_config(channel_id: &str, config: &Config) -> Result<Self, ConfigError> {
        let root_group = config
            .channel_group
            .as_ref()
            .ok_or(ConfigError::MissingChannelGroup)?;
        let root = Group::new(format!("/{}", keys::CHANNEL_GROUP), root_group);
        root.allow_values(&[
            keys::HASHING_ALGORITHM,
            keys::BLOCK_DATA_HASHING_STRUCTURE,
            keys::ORDERER_ADDRESSES,
            keys::CONSORTIUM,
            keys::CAPABILITIES,
        ])?;
        for name in root_group.groups.keys() {
            if name != keys::ORDERER_GROUP && name != keys::APPLICATION_GROUP {
                return Err(ConfigError::UnexpectedGroup {
                    path: root.child_path(name),
                });
            }
        }

        let hashing: HashingAlgorithm = root.require(keys::HASHING_ALGORITHM)?;
        if hashing.name != "SHA256" {
            return Err(ConfigError::UnsupportedHashingAlgorithm(hashing.name));
        }
        let width: BlockDataHashingStructure = root.require(keys::BLOCK_DATA_HASHING_STRUCTURE)?;
        if width.width != u32::MAX {
            return Err(ConfigError::UnsupportedHashingWidth(width.width));
        }
        let orderer_addresses = root
            .optional::<OrdererAddresses>(keys::ORDERER_ADDRESSES)?
            .map(|a| a.addresses)
            .unwrap_or_default();
        let consortium = root
            .optional::<Consortium>(keys::CONSORTIUM)?
            .map(|c| c.name);
        let capabilities = root.capabilities()?;
        let org_endpoints = capabilities.any_of(&["V1_4_2", "V1_4_3", "V2_0"]);
        if !org_endpoints && orderer_addresses.is_empty() {
            return Err(ConfigError::NoOrdererAddresses);
        }

        let mut msps = MspCollector::default();
        let orderer = match root.child(keys::ORDERER_GROUP) {
            Some(group) => Some(OrdererConfig::parse(&group, org_endpoints, &mut msps)?),
            None => None,
        };
        let application = match root.child(keys::APPLICATION_GROUP) {
            Some(group) => Some(ApplicationConfig::parse(&group, &mut msps)?),
            None => None,
        };
        let msp_manager = Arc::new(MspManager::new(msps.into_msps()));
        let policy_manager = Arc::new(PolicyManager::from_channel_group(
            root_group,
            Arc::clone(&msp_manager),
        )?);

        Ok(Self {
            channel_id: channel_id.to_string(),
            envelope: ConfigEnvelope {
                config: Some(config.clone()),
                last_update: None,
            },
            raw_envelope: None,
            hashing_algorithm: hashing.name,
            block_data_hashing_width: width.width,
            orderer_addresses,
            consortium,
            capabilities,
            orderer,
            application,
            msp_manager,
            policy_manager,
        })
    }

    /// The channel's name.
    pub fn channel_id(&self) -> &str {
        &self.channel_id
    }

    /// The config sequence (0 for a genesis block; +1 per config update).
    pub fn sequence(&self) -> u64 {
        self.config().sequence
    }

    /// The decoded `Config`.
    pub fn config(&self) -> &Config {
        self.envelope
            .config
            .as_ref()
            .expect("every constructor stores the config it was built from")
    }

    /// The decoded `ConfigEnvelope` (with `last_update` when the input had one).
    pub fn config_envelope(&self) -> &ConfigEnvelope {
        &self.envelope
    }

    /// The `ConfigEnvelope` bytes exactly as received, when built from a block or bytes.
    pub fn raw_config_envelope(&self) -> Option<&[u8]> {
        self.raw_envelope.as_deref()
    }

    /// `HashingAlgorithm.name`; always "SHA256" once accepted.
    pub fn hashing_algorithm(&self) -> &str {
        &self.hashing_algorithm
    }

    /// `BlockDataHashingStructure.width`; always `u32::MAX` once accepted.
    pub fn block_data_hashing_width(&self) -> u32 {
        self.block_data_hashing_width
    }

    /// The legacy channel-level `OrdererAddresses` (may be empty with V1_4_2+).
    pub fn orderer_addresses(&self) -> &[String] {
        &self.orderer_addresses
    }

    /// The legacy `Consortium` name, if set.
    pub fn consortium(&self) -> Option<&str> {
        self.consortium.as_deref()
    }

    /// Channel-level capabilities.
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// The orderer section, if the config has one.
    pub fn orderer(&self) -> Option<&OrdererConfig> {
        self.orderer.as_ref()
    }

    /// The application section, if the config has one.
    pub fn application(&self) -> Option<&ApplicationConfig> {
        self.application.as_ref()
    }

    /// The MSPs of every org of the channel.
    pub fn msp_manager(&self) -> &Arc<MspManager> {
        &self.msp_manager
    }

    /// The channel's policies (`/Channel/...`).
    pub fn policy_manager(&self) -> &Arc<PolicyManager> {
        &self.policy_manager
    }

    /// Fails on the first required capability (channel, orderer or application level)
    /// that Fabric v2.5 does not know; a peer or orderer must refuse such a channel.
    pub fn check_capabilities_supported(&self) -> Result<(), ConfigError> {
        let levels = [
            (
                "Channel",
                Some(&self.capabilities),
                known_capabilities::CHANNEL,
            ),
            (
                "Orderer",
                self.orderer.as_ref().map(|o| &o.capabilities),
                known_capabilities::ORDERER,
            ),
            (
                "Application",
                self.application.as_ref().map(|a| &a.capabilities),
                known_capabilities::APPLICATION,
            ),
        ];
        for (level, caps, known) in levels {
            if let Some(name) = caps.and_then(|c| c.unsupported(known).into_iter().next()) {
                return Err(ConfigError::UnsupportedCapability { level, name });
            }
        }
        Ok(())
    }
}

/// A config group with its path, for decoding values with precise errors.
pub(crate) struct Group<'a> {
    path: String,
    group: &'a ConfigGroup,
}

impl<'a> Group<'a> {
    pub(crate) fn new(path: String, group: &'a ConfigGroup) -> Self {
        Self { path, group }
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn child_path(&self, name: &str) -> String {
        format!("{}/{name}", self.path)
    }

    pub(crate) fn child(&self, name: &str) -> Option<Group<'a>> {
        self.group
            .groups
            .get(name)
            .map(|g| Group::new(self.child_path(name), g))
    }

    /// Subgroups sorted by name.
    pub(crate) fn children(&self) -> Vec<(String, Group<'a>)> {
        let mut names: Vec<&String> = self.group.groups.keys().collect();
        names.sort();
        names
            .into_iter()
            .filter_map(|n| self.child(n).map(|g| (n.clone(), g)))
            .collect()
    }

    /// The raw bytes of value `key` (empty when absent).
    pub(crate) fn raw_value(&self, key: &str) -> &'a [u8] {
        self.group
            .values
            .get(key)
            .map_or(&[][..], |v| v.value.as_slice())
    }

    pub(crate) fn has_value(&self, key: &str) -> bool {
        self.group.values.contains_key(key)
    }

    /// Refuses value keys outside `allowed`, as Fabric does.
    pub(crate) fn allow_values(&self, allowed: &[&str]) -> Result<(), ConfigError> {
        let mut keys: Vec<&String> = self.group.values.keys().collect();
        keys.sort();
        match keys.into_iter().find(|k| !allowed.contains(&k.as_str())) {
            Some(key) => Err(ConfigError::UnexpectedValue {
                path: self.path.clone(),
                key: key.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Refuses any subgroup (org groups are leaves).
    pub(crate) fn forbid_groups(&self) -> Result<(), ConfigError> {
        match self.children().into_iter().next() {
            Some((name, _)) => Err(ConfigError::UnexpectedGroup {
                path: self.child_path(&name),
            }),
            None => Ok(()),
        }
    }

    pub(crate) fn optional<M: Message + Default>(
        &self,
        key: &str,
    ) -> Result<Option<M>, ConfigError> {
        let Some(value) = self.group.values.get(key) else {
            return Ok(None);
        };
        M::decode(value.value.as_slice())
            .map(Some)
            .map_err(|source| ConfigError::UndecodableValue {
                path: self.path.clone(),
                key: key.to_string(),
                source,
            })
    }

    pub(crate) fn require<M: Message + Default>(&self, key: &str) -> Result<M, ConfigError> {
        self.optional(key)?
            .ok_or_else(|| ConfigError::MissingValue {
                path: self.path.clone(),
                key: key.to_string(),
            })
    }

    pub(crate) fn capabilities(&self) -> Result<Capabilities, ConfigError> {
        Ok(self
            .optional::<CapabilitiesProto>(keys::CAPABILITIES)?
            .map(|c| Capabilities::from_proto(&c))
            .unwrap_or_default())
    }
}

/// Gathers the orgs' MSPs, one per MSP ID.
#[derive(Default)]
pub(crate) struct MspCollector {
    msps: BTreeMap<String, (Vec<u8>, Msp)>,
}

impl MspCollector {
    /// Builds the org's MSP from its `MSP` value; returns the MSP ID. An MSP ID seen
    /// before must come with the same configuration.
    pub(crate) fn add(&mut self, org: &Group<'_>, org_name: &str) -> Result<String, ConfigError> {
        let config: MspConfig = org.require(keys::MSP)?;
        let msp = Msp::from_msp_config(&config).map_err(|source| ConfigError::Msp {
            org: org_name.to_string(),
            source,
        })?;
        let mspid = msp.id().to_string();
        if mspid.is_empty() {
            return Err(ConfigError::Msp {
                org: org_name.to_string(),
                source: MspError::Config("empty MSP ID".to_string()),
            });
        }
        let bytes = org.raw_value(keys::MSP).to_vec();
        match self.msps.get(&mspid) {
            Some((seen, _)) if *seen != bytes => Err(ConfigError::ConflictingMsp { mspid }),
            Some(_) => Ok(mspid),
            None => {
                self.msps.insert(mspid.clone(), (bytes, msp));
                Ok(mspid)
            }
        }
    }

    fn into_msps(self) -> Vec<Msp> {
        self.msps.into_values().map(|(_, msp)| msp).collect()
    }
}

#[cfg(test)]
mod tests;
