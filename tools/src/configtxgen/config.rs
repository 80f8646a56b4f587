//! The `configtx.yaml` format: organizations, capabilities, application and orderer
//! defaults, channel policies and profiles.
//!
//! Loading follows Fabric's configtxgen: YAML anchors and `<<` merge keys are applied,
//! unknown keys are errors, byte sizes may be written "10 MB" / "512 KB", relative
//! paths (`MSPDir`, consenter TLS certificates) resolve against the directory holding
//! `configtx.yaml`, and a selected profile gets Fabric's defaults and checks
//! ([`Profile::complete`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};
use weft_common::channelconfig::parse_go_duration;

use super::ConfigtxError;

/// File name configtxgen looks for in its config directory.
pub const CONFIG_FILE_NAME: &str = "configtx.yaml";

/// The whole `configtx.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopLevel {
    /// Named channel profiles (what `-profile` selects).
    #[serde(rename = "Profiles", deserialize_with = "null_default")]
    pub profiles: BTreeMap<String, Profile>,
    /// Organization definitions (what `-printOrg` looks in).
    #[serde(rename = "Organizations", deserialize_with = "null_default")]
    pub organizations: Vec<Organization>,
    /// Channel defaults, usually referenced from profiles by anchor.
    #[serde(rename = "Channel")]
    pub channel: Option<Profile>,
    /// Application defaults.
    #[serde(rename = "Application")]
    pub application: Option<Application>,
    /// Orderer defaults.
    #[serde(rename = "Orderer")]
    pub orderer: Option<Orderer>,
    /// Capability sets (`Channel`, `Orderer`, `Application`), referenced by anchor.
    #[serde(rename = "Capabilities", deserialize_with = "null_default")]
    pub capabilities: BTreeMap<String, BTreeMap<String, bool>>,
    /// Directory holding the file; relative paths resolve against it.
    #[serde(skip)]
    pub config_dir: PathBuf,
}

/// One profile: the content of a channel's config group.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Profile {
    /// Legacy consortium name (system-channel era).
    #[serde(rename = "Consortium")]
    pub consortium: String,
    /// The `Application` group.
    #[serde(rename = "Application")]
    pub application: Option<Application>,
    /// The `Orderer` group.
    #[serde(rename = "Orderer")]
    pub orderer: Option<Orderer>,
    /// Legacy consortiums (system channel only; not supported by Weft).
    #[serde(rename = "Consortiums")]
    pub consortiums: Option<BTreeMap<String, Consortium>>,
    /// Channel capabilities (`V2_0: true`).
    #[serde(rename = "Capabilities", deserialize_with = "null_default")]
    pub capabilities: BTreeMap<String, bool>,
    /// Channel-level policies.
    #[serde(rename = "Policies")]
    pub policies: Option<BTreeMap<String, Policy>>,
}

/// A policy definition: `Type: Signature|ImplicitMeta`, `Rule: "..."`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// `Signature` or `ImplicitMeta`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// A policy-language rule (`OR('Org1MSP.admin')`) or an implicit-meta rule (`ANY Readers`).
    #[serde(rename = "Rule")]
    pub rule: String,
}

/// A legacy consortium.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Consortium {
    /// Member organizations.
    #[serde(rename = "Organizations", deserialize_with = "null_default")]
    pub organizations: Vec<Organization>,
}

/// The application section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Application {
    /// Application organizations (peer orgs).
    #[serde(rename = "Organizations", deserialize_with = "null_default")]
    pub organizations: Vec<Organization>,
    /// Application capabilities (`V2_5: true`).
    #[serde(rename = "Capabilities", deserialize_with = "null_default")]
    pub capabilities: BTreeMap<String, bool>,
    /// Application policies (Readers, Writers, Admins, Endorsement, LifecycleEndorsement…).
    #[serde(rename = "Policies")]
    pub policies: Option<BTreeMap<String, Policy>>,
    /// ACL overrides: resource → policy reference.
    #[serde(rename = "ACLs", deserialize_with = "null_default")]
    pub acls: BTreeMap<String, String>,
}

/// An organization.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Organization {
    /// The org's name: the key of its config group.
    #[serde(rename = "Name")]
    pub name: String,
    /// The MSP ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// The verifying MSP directory (relative to `configtx.yaml`'s directory).
    #[serde(rename = "MSPDir")]
    pub msp_dir: String,
    /// `bccsp` (X.509, the default) or `idemix` (not supported).
    #[serde(rename = "MSPType")]
    pub msp_type: String,
    /// The org's policies.
    #[serde(rename = "Policies")]
    pub policies: Option<BTreeMap<String, Policy>>,
    /// Anchor peers (application orgs).
    #[serde(rename = "AnchorPeers", deserialize_with = "null_default")]
    pub anchor_peers: Vec<AnchorPeer>,
    /// Orderer endpoints (orderer orgs), `host:port`.
    #[serde(rename = "OrdererEndpoints", deserialize_with = "null_default")]
    pub orderer_endpoints: Vec<String>,
    /// Deprecated; accepted and ignored.
    #[serde(rename = "AdminPrincipal")]
    pub admin_principal: String,
    /// The org is defined elsewhere; refused when building a genesis block.
    #[serde(rename = "SkipAsForeign")]
    pub skip_as_foreign: bool,
}

/// An anchor peer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnchorPeer {
    /// Host name.
    #[serde(rename = "Host")]
    pub host: String,
    /// Port.
    #[serde(rename = "Port")]
    pub port: i32,
}

/// The orderer section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Orderer {
    /// `etcdraft` (or the legacy `solo`, `kafka`); `solo` when empty, as in Fabric.
    #[serde(rename = "OrdererType")]
    pub orderer_type: String,
    /// Legacy global orderer addresses (channel `OrdererAddresses` value).
    #[serde(rename = "Addresses", deserialize_with = "null_default")]
    pub addresses: Vec<String>,
    /// Go duration, e.g. "2s"; 2s when empty.
    #[serde(rename = "BatchTimeout", deserialize_with = "duration_text")]
    pub batch_timeout: String,
    /// Block cutting limits.
    #[serde(rename = "BatchSize", deserialize_with = "null_default")]
    pub batch_size: BatchSize,
    /// Legacy Kafka brokers.
    #[serde(rename = "Kafka", deserialize_with = "null_default")]
    pub kafka: Kafka,
    /// Raft consenters and options.
    #[serde(rename = "EtcdRaft")]
    pub etcd_raft: Option<EtcdRaft>,
    /// Orderer organizations.
    #[serde(rename = "Organizations", deserialize_with = "null_default")]
    pub organizations: Vec<Organization>,
    /// `ChannelRestrictions.max_count`.
    #[serde(rename = "MaxChannels")]
    pub max_channels: u64,
    /// Orderer capabilities.
    #[serde(rename = "Capabilities", deserialize_with = "null_default")]
    pub capabilities: BTreeMap<String, bool>,
    /// Orderer policies (must include BlockValidation).
    #[serde(rename = "Policies")]
    pub policies: Option<BTreeMap<String, Policy>>,
}

/// Block cutting limits; sizes accept "10 MB", "512 KB", "1 GB" or plain numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchSize {
    /// Messages per block.
    #[serde(rename = "MaxMessageCount", deserialize_with = "byte_size")]
    pub max_message_count: u32,
    /// Largest message accepted.
    #[serde(rename = "AbsoluteMaxBytes", deserialize_with = "byte_size")]
    pub absolute_max_bytes: u32,
    /// Preferred block size.
    #[serde(rename = "PreferredMaxBytes", deserialize_with = "byte_size")]
    pub preferred_max_bytes: u32,
}

/// Legacy Kafka settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Kafka {
    /// `host:port` of each broker.
    #[serde(rename = "Brokers", deserialize_with = "null_default")]
    pub brokers: Vec<String>,
}

/// etcdraft consensus metadata.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EtcdRaft {
    /// The Raft cluster members.
    #[serde(rename = "Consenters", deserialize_with = "null_default")]
    pub consenters: Vec<Consenter>,
    /// Raft tuning.
    #[serde(rename = "Options")]
    pub options: Option<RaftOptions>,
}

/// One Raft consenter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Consenter {
    /// Host name.
    #[serde(rename = "Host")]
    pub host: String,
    /// Cluster port.
    #[serde(rename = "Port")]
    pub port: u32,
    /// Path of the consenter's client TLS certificate (PEM).
    #[serde(rename = "ClientTLSCert", alias = "ClientTlsCert")]
    pub client_tls_cert: String,
    /// Path of the consenter's server TLS certificate (PEM).
    #[serde(rename = "ServerTLSCert", alias = "ServerTlsCert")]
    pub server_tls_cert: String,
}

/// Raft options; zero values get Fabric's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RaftOptions {
    /// Go duration between Raft ticks (default "500ms").
    #[serde(rename = "TickInterval", deserialize_with = "duration_text")]
    pub tick_interval: String,
    /// Ticks before an election (default 10).
    #[serde(rename = "ElectionTick")]
    pub election_tick: u32,
    /// Ticks between heartbeats (default 1).
    #[serde(rename = "HeartbeatTick")]
    pub heartbeat_tick: u32,
    /// In-flight append messages (default 5).
    #[serde(rename = "MaxInflightBlocks")]
    pub max_inflight_blocks: u32,
    /// Bytes between snapshots (default 16 MB).
    #[serde(rename = "SnapshotIntervalSize", deserialize_with = "byte_size")]
    pub snapshot_interval_size: u32,
}

/// A key present with no value (`Organizations:`) means the default, as in Go.
fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A YAML scalar as text: strings as they are, numbers in decimal; `None` for null.
fn scalar_text<'de, D: Deserializer<'de>>(
    deserializer: D,
    expected: &str,
) -> Result<Option<String>, D::Error> {
    use serde::de::Error;
    match serde_yaml::Value::deserialize(deserializer)? {
        serde_yaml::Value::Null => Ok(None),
        serde_yaml::Value::String(text) => Ok(Some(text)),
        serde_yaml::Value::Number(n) => Ok(Some(n.to_string())),
        other => Err(D::Error::custom(format!(
            "expected {expected}, found {other:?}"
        ))),
    }
}

/// A Go duration kept as text (checked when the profile is completed). A bare number
/// is nanoseconds, as in Go's config decoding.
fn duration_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = scalar_text(deserializer, "a duration such as 2s")?.unwrap_or_default();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(format!("{text}ns"));
    }
    Ok(text)
}

/// A `uint32` that may be written with a k/m/g unit: "10 MB", "512kb", "2G", 98304.
fn byte_size<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    use serde::de::Error;
    match scalar_text(deserializer, "a number or a size such as 10 MB")? {
        None => Ok(0),
        Some(text) => parse_byte_size(&text).map_err(D::Error::custom),
    }
}

/// Parses Fabric's byte sizes: digits, optional spaces, then `k`, `m` or `g`
/// (any case) optionally followed by `b`/`B`; or plain digits.
pub fn parse_byte_size(text: &str) -> Result<u32, String> {
    let bad = || {
        format!("invalid byte size '{text}': expected a number with an optional KB, MB or GB unit")
    };
    let trimmed = text.trim();
    let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(bad());
    }
    let number: u64 = trimmed[..digits].parse().map_err(|_| bad())?;
    let unit = trimmed[digits..].trim_start().to_ascii_lowercase();
    let shift = match unit.as_str() {
        "" => 0,
        "k" | "kb" => 10,
        "m" | "mb" => 20,
        "g" | "gb" => 30,
        _ => return Err(bad()),
    };
    number
        .checked_shl(shift)
        .filter(|v| *v <= u64::from(u32::MAX))
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| format!("value '{text}' overflows uint32"))
}

impl TopLevel {
    /// Parses `configtx.yaml` text; `config_dir` anchors relative paths.
    pub fn from_yaml(text: &str, config_dir: &Path) -> Result<Self, ConfigtxError> {
        let yaml_error = |source: serde_yaml::Error| ConfigtxError::Yaml {
            path: config_dir.join(CONFIG_FILE_NAME),
            source,
        };
        let mut value: serde_yaml::Value = serde_yaml::from_str(text).map_err(yaml_error)?;
        if value.is_null() {
            value = serde_yaml::Value::Mapping(Default::default());
        }
        value.apply_merge().map_err(yaml_error)?;
        let mut top: TopLevel = serde_yaml::from_value(value).map_err(yaml_error)?;
        top.config_dir = config_dir.to_path_buf();
        Ok(top)
    }

    /// Reads `configtx.yaml` from `path`, which is the file itself or a directory holding it.
    pub fn load(path: &Path) -> Result<Self, ConfigtxError> {
        let file = if path.is_dir() {
            path.join(CONFIG_FILE_NAME)
        } else {
            path.to_path_buf()
        };
        if !file.is_file() {
            return Err(ConfigtxError::ConfigNotFound(path.to_path_buf()));
        }
        let text = std::fs::read_to_string(&file).map_err(|e| ConfigtxError::io(&file, e))?;
        let dir = file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let mut top = Self::from_yaml(&text, &dir).map_err(|e| match e {
            ConfigtxError::Yaml { source, .. } => ConfigtxError::Yaml {
                path: file.clone(),
                source,
            },
            other => other,
        })?;
        top.config_dir = dir;
        Ok(top)
    }

    /// The named profile, with defaults applied and paths resolved.
    pub fn profile(&self, name: &str) -> Result<Profile, ConfigtxError> {
        let mut profile = self
            .profiles
            .get(name)
            .cloned()
            .ok_or_else(|| ConfigtxError::UnknownProfile(name.to_string()))?;
        profile.complete(&self.config_dir)?;
        Ok(profile)
    }

    /// The named top-level organization, paths resolved.
    pub fn organization(&self, name: &str) -> Result<Organization, ConfigtxError> {
        let mut org = self
            .organizations
            .iter()
            .find(|o| o.name == name)
            .cloned()
            .ok_or_else(|| ConfigtxError::UnknownOrganization(name.to_string()))?;
        org.complete(&self.config_dir);
        Ok(org)
    }
}

/// Joins a relative path onto `dir`; absolute and empty paths are left alone.
fn translate(dir: &Path, path: &str) -> String {
    if path.is_empty() || Path::new(path).is_absolute() {
        return path.to_string();
    }
    dir.join(path).to_string_lossy().into_owned()
}

impl Profile {
    /// Fabric's `completeInitialization`: resolves org MSP directories and consenter
    /// certificate paths, fills orderer defaults and checks the etcdraft section.
    pub fn complete(&mut self, config_dir: &Path) -> Result<(), ConfigtxError> {
        if let Some(app) = &mut self.application {
            for org in &mut app.organizations {
                org.complete(config_dir);
            }
        }
        if let Some(consortiums) = &mut self.consortiums {
            for consortium in consortiums.values_mut() {
                for org in &mut consortium.organizations {
                    org.complete(config_dir);
                }
            }
        }
        if let Some(orderer) = &mut self.orderer {
            for org in &mut orderer.organizations {
                org.complete(config_dir);
            }
            orderer.complete(config_dir)?;
        }
        Ok(())
    }
}

impl Organization {
    fn complete(&mut self, config_dir: &Path) {
        if self.msp_type.is_empty() {
            self.msp_type = "bccsp".to_string();
        }
        self.msp_dir = translate(config_dir, &self.msp_dir);
    }
}

/// Fabric's genesis defaults.
const DEFAULT_ORDERER_TYPE: &str = "solo";
const DEFAULT_BATCH_TIMEOUT: &str = "2s";
const DEFAULT_MAX_MESSAGE_COUNT: u32 = 500;
const DEFAULT_ABSOLUTE_MAX_BYTES: u32 = 10 * 1024 * 1024;
const DEFAULT_PREFERRED_MAX_BYTES: u32 = 2 * 1024 * 1024;
const DEFAULT_TICK_INTERVAL: &str = "500ms";
const DEFAULT_ELECTION_TICK: u32 = 10;
const DEFAULT_HEARTBEAT_TICK: u32 = 1;
const DEFAULT_MAX_INFLIGHT_BLOCKS: u32 = 5;
const DEFAULT_SNAPSHOT_INTERVAL_SIZE: u32 = 16 * 1024 * 1024;

fn default_if_zero(value: &mut u32, default: u32) {
    if *value == 0 {
        *value = default;
    }
}

impl Orderer {
    fn complete(&mut self, config_dir: &Path) -> Result<(), ConfigtxError> {
        if self.orderer_type.is_empty() {
            self.orderer_type = DEFAULT_ORDERER_TYPE.to_string();
        }
        if self.batch_timeout.is_empty() {
            self.batch_timeout = DEFAULT_BATCH_TIMEOUT.to_string();
        }
        parse_go_duration(&self.batch_timeout).map_err(|e| ConfigtxError::Invalid {
            what: "Orderer.BatchTimeout".to_string(),
            reason: e.to_string(),
        })?;
        default_if_zero(
            &mut self.batch_size.max_message_count,
            DEFAULT_MAX_MESSAGE_COUNT,
        );
        default_if_zero(
            &mut self.batch_size.absolute_max_bytes,
            DEFAULT_ABSOLUTE_MAX_BYTES,
        );
        default_if_zero(
            &mut self.batch_size.preferred_max_bytes,
            DEFAULT_PREFERRED_MAX_BYTES,
        );
        match self.orderer_type.as_str() {
            "solo" | "kafka" => Ok(()),
            "etcdraft" => self.complete_etcdraft(config_dir),
            other => Err(ConfigtxError::UnknownOrdererType(other.to_string())),
        }
    }

    fn complete_etcdraft(&mut self, config_dir: &Path) -> Result<(), ConfigtxError> {
        let invalid = |reason: String| ConfigtxError::Invalid {
            what: "Orderer.EtcdRaft".to_string(),
            reason,
        };
        let raft = self
            .etcd_raft
            .as_mut()
            .ok_or_else(|| invalid("etcdraft configuration missing".to_string()))?;
        let options = raft.options.get_or_insert_with(RaftOptions::default);
        if options.tick_interval.is_empty() {
            options.tick_interval = DEFAULT_TICK_INTERVAL.to_string();
        }
        default_if_zero(&mut options.election_tick, DEFAULT_ELECTION_TICK);
        default_if_zero(&mut options.heartbeat_tick, DEFAULT_HEARTBEAT_TICK);
        default_if_zero(
            &mut options.max_inflight_blocks,
            DEFAULT_MAX_INFLIGHT_BLOCKS,
        );
        default_if_zero(
            &mut options.snapshot_interval_size,
            DEFAULT_SNAPSHOT_INTERVAL_SIZE,
        );
        if raft.consenters.is_empty() {
            return Err(invalid(
                "etcdraft configuration did not specify any consenter".to_string(),
            ));
        }
        parse_go_duration(&options.tick_interval).map_err(|e| {
            invalid(format!(
                "TickInterval ({}) must be in time duration format: {e}",
                options.tick_interval
            ))
        })?;
        if options.election_tick <= options.heartbeat_tick {
            return Err(invalid(
                "election tick must be greater than heartbeat tick".to_string(),
            ));
        }
        for consenter in &mut raft.consenters {
            let name = format!("{}:{}", consenter.host, consenter.port);
            let missing =
                |field: &str| invalid(format!("consenter {name} did not specify {field}"));
            if consenter.host.is_empty() {
                return Err(missing("host"));
            }
            if consenter.port == 0 {
                return Err(missing("port"));
            }
            if consenter.client_tls_cert.is_empty() {
                return Err(missing("client TLS cert"));
            }
            if consenter.server_tls_cert.is_empty() {
                return Err(missing("server TLS cert"));
            }
            consenter.client_tls_cert = translate(config_dir, &consenter.client_tls_cert);
            consenter.server_tls_cert = translate(config_dir, &consenter.server_tls_cert);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_follow_fabric() {
        assert_eq!(parse_byte_size("10 MB"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_byte_size("512 KB"), Ok(512 * 1024));
        assert_eq!(parse_byte_size("512kb"), Ok(512 * 1024));
        assert_eq!(parse_byte_size("2m"), Ok(2 * 1024 * 1024));
        assert_eq!(parse_byte_size("1 G"), Ok(1 << 30));
        assert_eq!(parse_byte_size("98304"), Ok(98304));
        assert!(parse_byte_size("4 GB").unwrap_err().contains("overflows"));
        for bad in ["10 TB", "MB", "ten MB", "10 MiB", "-1 MB", "", "1.5 MB"] {
            assert!(
                parse_byte_size(bad)
                    .unwrap_err()
                    .contains("invalid byte size"),
                "{bad}"
            );
        }
    }

    #[test]
    fn merge_keys_apply_recursively_and_explicit_keys_win() {
        let text = r#"
Capabilities:
  Application: &AppCaps
    V2_5: true
Application: &AppDefaults
  Policies:
    Readers: {Type: ImplicitMeta, Rule: "ANY Readers"}
  Capabilities:
    <<: *AppCaps
Orderer: &OrdererDefaults
  OrdererType: solo
  BatchTimeout: 2s
  BatchSize:
    MaxMessageCount: 10
    AbsoluteMaxBytes: 99 MB
    PreferredMaxBytes: 512 KB
Profiles:
  P:
    Orderer:
      <<: *OrdererDefaults
      BatchTimeout: 1s
    Application:
      <<: *AppDefaults
"#;
        let top = TopLevel::from_yaml(text, Path::new("/cfg")).unwrap();
        let profile = top.profile("P").unwrap();
        let orderer = profile.orderer.unwrap();
        assert_eq!(orderer.batch_timeout, "1s");
        assert_eq!(orderer.batch_size.absolute_max_bytes, 99 * 1024 * 1024);
        assert_eq!(orderer.batch_size.preferred_max_bytes, 512 * 1024);
        let app = profile.application.unwrap();
        assert_eq!(app.capabilities.get("V2_5"), Some(&true));
        assert_eq!(app.policies.unwrap()["Readers"].rule, "ANY Readers");
    }

    #[test]
    fn defaults_and_paths() {
        let text = r#"
Profiles:
  Raft:
    Orderer:
      OrdererType: etcdraft
      EtcdRaft:
        Consenters:
          - Host: o1
            Port: 7050
            ClientTLSCert: tls/client.crt
            ServerTlsCert: /abs/server.crt
      Organizations:
        - Name: O
          ID: OMSP
          MSPDir: msp
"#;
        let top = TopLevel::from_yaml(text, Path::new("/cfg")).unwrap();
        let orderer = top.profile("Raft").unwrap().orderer.unwrap();
        assert_eq!(orderer.batch_timeout, "2s");
        assert_eq!(orderer.batch_size.max_message_count, 500);
        assert_eq!(orderer.batch_size.absolute_max_bytes, 10 << 20);
        assert_eq!(orderer.batch_size.preferred_max_bytes, 2 << 20);
        let raft = orderer.etcd_raft.unwrap();
        let options = raft.options.unwrap();
        assert_eq!(options.tick_interval, "500ms");
        assert_eq!(
            (
                options.election_tick,
                options.heartbeat_tick,
                options.max_inflight_blocks
            ),
            (10, 1, 5)
        );
        assert_eq!(options.snapshot_interval_size, 16 << 20);
        assert_eq!(raft.consenters[0].client_tls_cert, "/cfg/tls/client.crt");
        assert_eq!(raft.consenters[0].server_tls_cert, "/abs/server.crt");
        assert_eq!(orderer.organizations[0].msp_dir, "/cfg/msp");
        assert_eq!(orderer.organizations[0].msp_type, "bccsp");

        let empty = TopLevel::from_yaml("Profiles:\n  S:\n    Orderer:\n", Path::new("/"))
            .unwrap()
            .profile("S")
            .unwrap();
        assert!(empty.orderer.is_none());
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        let dir = Path::new("/cfg");
        let yaml = |text: &str| TopLevel::from_yaml(text, dir);
        assert!(matches!(
            yaml("Profiles: [unclosed"),
            Err(ConfigtxError::Yaml { .. })
        ));
        assert!(matches!(
            yaml("Profiles:\n  P:\n    Ordrer: {}\n"),
            Err(ConfigtxError::Yaml { .. })
        ));
        let err = yaml("Orderer:\n  BatchSize:\n    MaxMessageCount: [1]\n").unwrap_err();
        assert!(err.to_string().contains("expected a number"), "{err}");
        let err = yaml("Orderer:\n  BatchSize:\n    AbsoluteMaxBytes: 10 TB\n").unwrap_err();
        assert!(
            err.to_string().contains("invalid byte size '10 TB'"),
            "{err}"
        );
        assert!(matches!(
            yaml("Profiles: {}\n").unwrap().profile("Nope"),
            Err(ConfigtxError::UnknownProfile(p)) if p == "Nope"
        ));
        let profile = |orderer: &str| {
            yaml(&format!("Profiles:\n  P:\n    Orderer:\n{orderer}"))
                .unwrap()
                .profile("P")
        };
        assert!(matches!(
            profile("      OrdererType: bft\n"),
            Err(ConfigtxError::UnknownOrdererType(t)) if t == "bft"
        ));
        assert!(matches!(
            profile("      BatchTimeout: 2 seconds\n"),
            Err(ConfigtxError::Invalid { .. })
        ));
        assert!(matches!(
            profile("      OrdererType: etcdraft\n"),
            Err(ConfigtxError::Invalid { .. })
        ));
        assert!(matches!(
            profile("      OrdererType: etcdraft\n      EtcdRaft:\n        Consenters:\n          - Host: a\n            Port: 1\n"),
            Err(ConfigtxError::Invalid { reason, .. }) if reason.contains("client TLS cert")
        ));
        assert!(matches!(
            profile("      OrdererType: etcdraft\n      EtcdRaft:\n        Consenters:\n          - {Host: a, Port: 1, ClientTLSCert: c, ServerTLSCert: s}\n        Options:\n          ElectionTick: 1\n          HeartbeatTick: 2\n"),
            Err(ConfigtxError::Invalid { reason, .. }) if reason.contains("election tick")
        ));
        assert!(matches!(
            TopLevel::load(Path::new("/definitely/not/here")),
            Err(ConfigtxError::ConfigNotFound(_))
        ));
    }
}
