//! `configtxgen`: channel genesis blocks from a `configtx.yaml` profile.
//!
//! [`TopLevel::load`] reads the file (anchors, `<<` merges, byte sizes, relative paths),
//! [`TopLevel::profile`] picks a profile and applies Fabric's defaults,
//! [`channel_group`] encodes it into the channel's `ConfigGroup` and [`genesis_block`]
//! wraps that into block 0 as Fabric's configtxgen does. [`inspect::block_json`] and
//! [`print_org`] print blocks and org definitions as JSON.

pub mod config;
pub mod encoder;
pub mod inspect;

use std::path::{Path, PathBuf};

use weft_proto::common::{Block, Config};

pub use config::{Organization, Profile, TopLevel};
pub use encoder::channel_group;

/// Everything that can go wrong while reading `configtx.yaml` or building a block.
#[derive(Debug, thiserror::Error)]
pub enum ConfigtxError {
    /// No `configtx.yaml` where it was looked for.
    #[error(
        "could not find configtx.yaml in {0}; set FABRIC_CFG_PATH or -configPath to a \
         directory that contains configtx.yaml"
    )]
    ConfigNotFound(PathBuf),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// `configtx.yaml` is not valid YAML or does not have the expected shape
    /// (unknown keys, wrong types, bad byte sizes).
    #[error("error reading configuration {path}: {source}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: serde_yaml::Error,
    },
    /// `-profile` names a profile that is not in the file.
    #[error("could not find profile: {0}")]
    UnknownProfile(String),
    /// `-printOrg` names an organization that is not in the file.
    #[error("organization {0} not found")]
    UnknownOrganization(String),
    /// `OrdererType` is not `etcdraft` (or the legacy `solo` / `kafka`).
    #[error("unknown orderer type: {0}")]
    UnknownOrdererType(String),
    /// A setting has a value Fabric refuses.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// The setting.
        what: String,
        /// Why it is refused.
        reason: String,
    },
    /// A group lacks a policy Fabric requires (Readers, Writers, Admins, BlockValidation).
    #[error("no {policy} policy defined for {group}")]
    MissingPolicy {
        /// The group (`Channel`, `Orderer`, `Application` or an org name).
        group: String,
        /// The missing policy ("any" when the group has no `Policies` at all).
        policy: String,
    },
    /// A policy's `Type` is neither `Signature` nor `ImplicitMeta`.
    #[error("unknown policy type '{kind}' for policy {policy} of {group}")]
    UnknownPolicyType {
        /// The group.
        group: String,
        /// The policy name.
        policy: String,
        /// The type found.
        kind: String,
    },
    /// A policy's `Rule` does not parse.
    #[error("invalid rule '{rule}' for policy {policy} of {group}: {reason}")]
    BadPolicyRule {
        /// The group.
        group: String,
        /// The policy name.
        policy: String,
        /// The rule text.
        rule: String,
        /// The parser's complaint.
        reason: String,
    },
    /// An organization's MSP directory could not be loaded.
    #[error("error loading MSP configuration for org {org} from {dir}: {reason}")]
    Msp {
        /// The organization.
        org: String,
        /// Its `MSPDir`.
        dir: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A Raft consenter's TLS certificate file could not be read.
    #[error("cannot load {which} TLS cert for consenter {consenter} from {path}: {reason}")]
    ConsenterCert {
        /// `host:port`.
        consenter: String,
        /// `client` or `server`.
        which: String,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The profile cannot make the requested artifact (no orderer or application section).
    #[error("refusing to generate block: {0}")]
    IncompleteProfile(String),
    /// Something configtxgen can express but Weft does not do.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// The channel ID is not a valid Fabric channel name.
    #[error(
        "invalid channel ID '{0}': must be 1-249 characters of [a-z0-9.-], starting with a letter"
    )]
    BadChannelId(String),
    /// A file given to `-inspectBlock` is not a block.
    #[error("error unmarshalling to block: {0}")]
    MalformedBlock(String),
}

impl ConfigtxError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Where configtxgen looks for `configtx.yaml`: `-configPath` if given, else
/// `$FABRIC_CFG_PATH`, then the current directory, then `/etc/hyperledger/fabric`.
pub fn config_search_paths(config_path: Option<&Path>) -> Vec<PathBuf> {
    if let Some(path) = config_path {
        return vec![path.to_path_buf()];
    }
    let mut paths = Vec::new();
    if let Some(env) = std::env::var_os("FABRIC_CFG_PATH").filter(|v| !v.is_empty()) {
        paths.push(PathBuf::from(env));
    }
    paths.push(PathBuf::from("."));
    paths.push(PathBuf::from("/etc/hyperledger/fabric"));
    paths
}

/// Loads `configtx.yaml` from the first of `paths` that holds one (see
/// [`config_search_paths`]); a path may also name the file itself.
pub fn find_config(paths: &[PathBuf]) -> Result<TopLevel, ConfigtxError> {
    for path in paths {
        let holds_file = path.is_file() || path.join(config::CONFIG_FILE_NAME).is_file();
        if holds_file {
            return TopLevel::load(path);
        }
    }
    let searched = paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    Err(ConfigtxError::ConfigNotFound(PathBuf::from(searched)))
}

/// Checks a channel name the way Fabric's orderer does when the block is joined:
/// 1–249 characters of `[a-z0-9.-]`, starting with a letter.
pub fn validate_channel_id(channel_id: &str) -> Result<(), ConfigtxError> {
    let mut chars = channel_id.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    if first_ok && rest_ok && channel_id.len() < 250 {
        Ok(())
    } else {
        Err(ConfigtxError::BadChannelId(channel_id.to_string()))
    }
}

/// The genesis block of an application channel: the profile must have an Orderer and
/// an Application section.
pub fn genesis_block(profile: &Profile, channel_id: &str) -> Result<Block, ConfigtxError> {
    validate_channel_id(channel_id)?;
    if profile.orderer.is_none() {
        return Err(ConfigtxError::IncompleteProfile(
            "the profile is missing an Orderer section".to_string(),
        ));
    }
    if profile.application.is_none() {
        return Err(ConfigtxError::IncompleteProfile(
            "the application channel profile is missing an Application section".to_string(),
        ));
    }
    let group = channel_group(profile)?;
    let config = Config {
        sequence: 0,
        channel_group: Some(group),
    };
    Ok(weft_common::protoutil::genesis_block(channel_id, &config))
}

/// Writes `data` to `path` (mode 0640), creating missing parent directories.
pub fn write_output(path: &Path, data: &[u8]) -> Result<(), ConfigtxError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| ConfigtxError::io(parent, e))?;
    }
    std::fs::write(path, data).map_err(|e| ConfigtxError::io(path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o640))
            .map_err(|e| ConfigtxError::io(path, e))?;
    }
    Ok(())
}

/// The definition of top-level organization `name` as JSON (its orderer-org group:
/// MSP, policies and endpoints), for adding the org to a channel by hand.
pub fn print_org(top: &TopLevel, name: &str) -> Result<serde_json::Value, ConfigtxError> {
    let org = top.organization(name)?;
    let group = encoder::orderer_org_group(&org)?;
    Ok(inspect::group_json(&group))
}

#[cfg(test)]
mod tests;
