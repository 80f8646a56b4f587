//! The orderer's local configuration: an `orderer.yaml`-shaped file plus `ORDERER_*`
//! environment overrides, read the way Fabric's `orderer/common/localconfig` reads it.
//!
//! Two layers:
//! - a permissive raw tree (serde): every known key is optional, keys match without regard
//!   to case, unknown keys (Kafka, BCCSP, Debug, ...) are ignored;
//! - the validated [`OrdererConfig`] the rest of the orderer reads: typed values, defaults
//!   filled in, relative paths resolved against the config file's directory. Validation
//!   collects every problem and reports them together ([`ConfigError::Invalid`]).
//!
//! Environment overrides follow Fabric's rule: `ORDERER_` + the key path upper-cased with
//! `.` replaced by `_` (`General.TLS.Enabled` → `ORDERER_GENERAL_TLS_ENABLED`); empty
//! variables are ignored. Values are text: lists are written `[a,b]` (or a single item),
//! booleans as Go's `strconv.ParseBool` accepts them, durations as Go durations (`5s`),
//! byte sizes as `1 MB` / `512 KB` / a plain number.
//!
//! Weft-specific choices (see the field docs): `General.BootstrapMethod` must be `none`
//! (there is no system channel), and with no file at all the defaults below plus the
//! environment are enough to start a node.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_yaml::Value;
use weft_common::localconfig::{self, Checker, Leaf, LoadError, join_host_port, null_as_default};
#[cfg(test)]
use weft_common::localconfig::{parse_byte_size, split_list};
use weft_common::tls::TlsError;

pub use weft_common::localconfig::{ConfigProblem, DEFAULT_CONFIG_DIR, FABRIC_CFG_PATH};

/// The environment variable prefix of orderer overrides.
pub const ENV_PREFIX: &str = "ORDERER";
/// The file name stem Fabric looks for (`orderer.yaml` or `orderer.yml`).
pub const CONFIG_NAME: &str = "orderer";

/// Default `General.ListenAddress`.
pub const DEFAULT_LISTEN_ADDRESS: &str = "127.0.0.1";
/// Default `General.ListenPort`.
pub const DEFAULT_LISTEN_PORT: u16 = 7050;
/// Default `Operations.ListenAddress` (Fabric's sample `orderer.yaml`).
pub const DEFAULT_OPERATIONS_LISTEN_ADDRESS: &str = "127.0.0.1:8443";
/// Default `Admin.ListenAddress` (Fabric's sample `orderer.yaml`).
pub const DEFAULT_ADMIN_LISTEN_ADDRESS: &str = "127.0.0.1:9443";
/// Default `General.MaxRecvMsgSize` and `General.MaxSendMsgSize`: 100 MiB.
pub const DEFAULT_MAX_MSG_SIZE: usize = 100 * 1024 * 1024;
/// Default `ChannelParticipation.MaxRequestBodySize`: 1 MiB.
pub const DEFAULT_MAX_REQUEST_BODY_SIZE: usize = 1024 * 1024;
/// Default `FileLedger.Location`.
pub const DEFAULT_FILE_LEDGER_LOCATION: &str = "/var/hyperledger/production/orderer";
/// Default `General.LocalMSPDir` (relative to the config directory).
pub const DEFAULT_LOCAL_MSP_DIR: &str = "msp";
/// Default `General.LocalMSPID`.
pub const DEFAULT_LOCAL_MSP_ID: &str = "SampleOrg";
/// Default `Consensus.EvictionSuspicion` (Fabric's etcdraft default).
pub const DEFAULT_EVICTION_SUSPICION: Duration = Duration::from_secs(600);

/// Every key this module reads, in Fabric's spelling. Environment overrides apply to
/// exactly these keys.
pub const KNOWN_KEYS: &[&str] = &[
    "General.ListenAddress",
    "General.ListenPort",
    "General.TLS.Enabled",
    "General.TLS.PrivateKey",
    "General.TLS.Certificate",
    "General.TLS.RootCAs",
    "General.TLS.ClientAuthRequired",
    "General.TLS.ClientRootCAs",
    "General.Cluster.ListenAddress",
    "General.Cluster.ListenPort",
    "General.Cluster.ServerCertificate",
    "General.Cluster.ServerPrivateKey",
    "General.Cluster.ClientCertificate",
    "General.Cluster.ClientPrivateKey",
    "General.Cluster.RootCAs",
    "General.Cluster.SendBufferSize",
    "General.Cluster.DialTimeout",
    "General.Cluster.RPCTimeout",
    "General.Keepalive.ServerMinInterval",
    "General.Keepalive.ServerInterval",
    "General.Keepalive.ServerTimeout",
    "General.MaxRecvMsgSize",
    "General.MaxSendMsgSize",
    "General.BootstrapMethod",
    "General.LocalMSPDir",
    "General.LocalMSPID",
    "General.Authentication.TimeWindow",
    "General.Authentication.NoExpirationChecks",
    "FileLedger.Location",
    "Consensus.WALDir",
    "Consensus.SnapDir",
    "Consensus.EvictionSuspicion",
    "Consensus.TickIntervalOverride",
    "Operations.ListenAddress",
    "Operations.TLS.Enabled",
    "Operations.TLS.Certificate",
    "Operations.TLS.PrivateKey",
    "Operations.TLS.ClientAuthRequired",
    "Operations.TLS.ClientRootCAs",
    "Metrics.Provider",
    "Admin.ListenAddress",
    "Admin.TLS.Enabled",
    "Admin.TLS.Certificate",
    "Admin.TLS.PrivateKey",
    "Admin.TLS.ClientAuthRequired",
    "Admin.TLS.ClientRootCAs",
    "ChannelParticipation.Enabled",
    "ChannelParticipation.MaxRequestBodySize",
];

// ---------------------------------------------------------------------------------------
// Errors

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read configuration file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration file is not YAML of the expected shape.
    #[error("cannot parse configuration file {}: {source}", path.display())]
    Parse {
        /// The file (or `<inline>` for YAML given as text).
        path: PathBuf,
        /// The parser's complaint.
        source: serde_yaml::Error,
    },
    /// One or more values are invalid; every problem found is listed.
    #[error("invalid orderer configuration: {}", localconfig::join_problems(.0))]
    Invalid(Vec<ConfigProblem>),
}

impl From<LoadError> for ConfigError {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::Read { path, source } => Self::Read { path, source },
            LoadError::Parse { path, source } => Self::Parse { path, source },
        }
    }
}

// ---------------------------------------------------------------------------------------
// The validated configuration

/// The orderer's validated local configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct OrdererConfig {
    /// The file the values came from, if one was found.
    pub config_file: Option<PathBuf>,
    /// `General`.
    pub general: General,
    /// `FileLedger`.
    pub file_ledger: FileLedger,
    /// `Consensus` (etcdraft).
    pub consensus: Consensus,
    /// `Operations`.
    pub operations: Operations,
    /// `Metrics`.
    pub metrics: Metrics,
    /// `Admin`.
    pub admin: Admin,
    /// `ChannelParticipation`.
    pub channel_participation: ChannelParticipation,
}

/// `General`: the client-facing gRPC listener and the node's identity.
#[derive(Debug, Clone, PartialEq)]
pub struct General {
    /// `General.ListenAddress` (host or IP; default 127.0.0.1).
    pub listen_address: String,
    /// `General.ListenPort` (default 7050).
    pub listen_port: u16,
    /// `General.TLS`.
    pub tls: GeneralTls,
    /// `General.Cluster`.
    pub cluster: Cluster,
    /// `General.Keepalive`.
    pub keepalive: Keepalive,
    /// `General.MaxRecvMsgSize` in bytes (default 100 MiB).
    pub max_recv_msg_size: usize,
    /// `General.MaxSendMsgSize` in bytes (default 100 MiB).
    pub max_send_msg_size: usize,
    /// `General.LocalMSPDir`, resolved.
    pub local_msp_dir: PathBuf,
    /// `General.LocalMSPID` (default SampleOrg).
    pub local_msp_id: String,
    /// `General.Authentication`.
    pub authentication: Authentication,
}

impl General {
    /// The `host:port` the Broadcast/Deliver gRPC server binds.
    pub fn listen_socket(&self) -> String {
        join_host_port(&self.listen_address, self.listen_port)
    }
}

/// `General.TLS`: TLS of the Broadcast/Deliver listener.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GeneralTls {
    /// `Enabled`.
    pub enabled: bool,
    /// `PrivateKey` (PEM file), resolved.
    pub private_key: PathBuf,
    /// `Certificate` (PEM file), resolved.
    pub certificate: PathBuf,
    /// `RootCAs` (PEM files), resolved.
    pub root_cas: Vec<PathBuf>,
    /// `ClientAuthRequired`.
    pub client_auth_required: bool,
    /// `ClientRootCAs` (PEM files), resolved.
    pub client_root_cas: Vec<PathBuf>,
}

/// `General.Cluster`: node-to-node (Raft) traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// A dedicated cluster listener, when `ListenAddress`, `ListenPort`,
    /// `ServerCertificate` and `ServerPrivateKey` are all set; `None` when none is set
    /// (cluster traffic then shares the general listener, which must use TLS).
    pub listener: Option<ClusterListener>,
    /// `ClientCertificate` (PEM file) presented to other consenters, resolved.
    pub client_certificate: Option<PathBuf>,
    /// `ClientPrivateKey` (PEM file), resolved.
    pub client_private_key: Option<PathBuf>,
    /// `RootCAs` (PEM files) trusted for other consenters, resolved.
    pub root_cas: Vec<PathBuf>,
    /// `SendBufferSize`: messages buffered per remote consenter (default 100).
    pub send_buffer_size: usize,
    /// `DialTimeout` (default 5s).
    pub dial_timeout: Duration,
    /// `RPCTimeout` (default 7s).
    pub rpc_timeout: Duration,
}

/// A dedicated cluster listener (`General.Cluster.ListenAddress` etc.).
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterListener {
    /// `ListenAddress`.
    pub address: String,
    /// `ListenPort`.
    pub port: u16,
    /// `ServerCertificate` (PEM file), resolved.
    pub server_certificate: PathBuf,
    /// `ServerPrivateKey` (PEM file), resolved.
    pub server_private_key: PathBuf,
}

impl ClusterListener {
    /// The `host:port` the cluster server binds.
    pub fn socket(&self) -> String {
        join_host_port(&self.address, self.port)
    }
}

/// `General.Keepalive`: gRPC server keepalive settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Keepalive {
    /// `ServerMinInterval` (default 60s): minimum ping interval allowed from clients.
    pub server_min_interval: Duration,
    /// `ServerInterval` (default 2h): interval of server pings.
    pub server_interval: Duration,
    /// `ServerTimeout` (default 20s): how long to wait for a ping answer.
    pub server_timeout: Duration,
}

/// `General.Authentication`.
#[derive(Debug, Clone, PartialEq)]
pub struct Authentication {
    /// `TimeWindow` (default 15m): accepted clock skew of client timestamps.
    pub time_window: Duration,
    /// `NoExpirationChecks`: skip the expiration check of client certificates.
    pub no_expiration_checks: bool,
}

/// `FileLedger`.
#[derive(Debug, Clone, PartialEq)]
pub struct FileLedger {
    /// `Location`, resolved (default /var/hyperledger/production/orderer).
    pub location: PathBuf,
}

/// `Consensus`: etcdraft storage and timing.
#[derive(Debug, Clone, PartialEq)]
pub struct Consensus {
    /// `WALDir`, resolved (default `<FileLedger.Location>/etcdraft/wal`).
    pub wal_dir: PathBuf,
    /// `SnapDir`, resolved (default `<FileLedger.Location>/etcdraft/snapshot`).
    pub snap_dir: PathBuf,
    /// `EvictionSuspicion` (default 10m).
    pub eviction_suspicion: Duration,
    /// `TickIntervalOverride`: replaces the channel's tick interval when set.
    pub tick_interval_override: Option<Duration>,
}

/// TLS of an HTTP endpoint (`Operations.TLS`, `Admin.TLS`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpTls {
    /// `Enabled`.
    pub enabled: bool,
    /// `Certificate` (PEM file), resolved.
    pub certificate: PathBuf,
    /// `PrivateKey` (PEM file), resolved.
    pub private_key: PathBuf,
    /// `ClientAuthRequired`: clients must present a certificate from `ClientRootCAs`.
    pub client_auth_required: bool,
    /// `ClientRootCAs` (PEM files), resolved.
    pub client_root_cas: Vec<PathBuf>,
}

impl HttpTls {
    /// The rustls server config of this endpoint (through [`weft_common::tls`]), or `None`
    /// when TLS is disabled. With `ClientAuthRequired` the server requires a client
    /// certificate chaining to `ClientRootCAs`; without it no client certificate is asked
    /// for.
    pub fn server_config(&self) -> Result<Option<Arc<rustls::ServerConfig>>, TlsError> {
        if !self.enabled {
            return Ok(None);
        }
        let client_auth = self
            .client_auth_required
            .then_some(self.client_root_cas.as_slice());
        weft_common::tls::server_config(&self.certificate, &self.private_key, client_auth).map(Some)
    }
}

/// `Operations`: the `/healthz`, `/metrics`, `/logspec`, `/version` endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Operations {
    /// `ListenAddress` as `host:port` (default 127.0.0.1:8443).
    pub listen_address: String,
    /// `TLS`.
    pub tls: HttpTls,
}

/// `Metrics.Provider`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsProvider {
    /// `prometheus`: `/metrics` is served on the operations endpoint.
    Prometheus,
    /// `disabled` (the default).
    Disabled,
}

/// `Metrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// `Provider`.
    pub provider: MetricsProvider,
}

/// `Admin`: the endpoint serving the channel participation API.
#[derive(Debug, Clone, PartialEq)]
pub struct Admin {
    /// `ListenAddress` as `host:port` (default 127.0.0.1:9443).
    pub listen_address: String,
    /// `TLS` (when enabled, client authentication is mandatory, as in Fabric).
    pub tls: HttpTls,
}

/// `ChannelParticipation`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelParticipation {
    /// `Enabled`. Defaults to true in Weft: with `BootstrapMethod: none` the API is the
    /// only way to join channels (Fabric 3 drops the switch altogether).
    pub enabled: bool,
    /// `MaxRequestBodySize` in bytes (default 1 MiB).
    pub max_request_body_size: usize,
}

// ---------------------------------------------------------------------------------------
// Loading

impl OrdererConfig {
    /// Loads the configuration the way the `orderer` binary does: `orderer.yaml` searched
    /// in `$FABRIC_CFG_PATH` (only there when set), else `.` and `/etc/hyperledger/fabric`
    /// (none found: defaults only), then the process environment's `ORDERER_*` overrides.
    pub fn load() -> Result<Self, ConfigError> {
        let file = localconfig::find_config_file_from_env(CONFIG_NAME);
        Self::from_sources(file.as_deref(), std::env::vars())
    }

    /// Loads an explicit file (which must exist) with the process environment's overrides.
    pub fn load_file(path: &Path) -> Result<Self, ConfigError> {
        Self::from_sources(Some(path), std::env::vars())
    }

    /// Loads from an optional file and the given environment (name, value) pairs; other
    /// pairs than `ORDERER_*` are ignored.
    pub fn from_sources<I, K, V>(file: Option<&Path>, env: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let (tree, base) = match file {
            Some(path) => (
                localconfig::read_yaml_file(path)?,
                path.parent().map(Path::to_owned),
            ),
            None => (localconfig::empty_tree(), None),
        };
        let mut config = Self::from_tree(tree, base.as_deref(), env, file)?;
        config.config_file = file.map(Path::to_owned);
        Ok(config)
    }

    /// Loads from YAML text; relative paths resolve against `base_dir` (or stay relative
    /// to the working directory without one).
    pub fn from_yaml_str<I, K, V>(
        yaml: &str,
        base_dir: Option<&Path>,
        env: I,
    ) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let tree = localconfig::parse_yaml(yaml, Path::new("<inline>"))?;
        Self::from_tree(tree, base_dir, env, None)
    }

    fn from_tree<I, K, V>(
        mut tree: Value,
        base_dir: Option<&Path>,
        env: I,
        file: Option<&Path>,
    ) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        localconfig::apply_env_overrides(&mut tree, ENV_PREFIX, KNOWN_KEYS, env);
        let raw: RawConfig = localconfig::deserialize_tree(tree, file)?;
        validate(raw, base_dir)
    }
}

/// Fabric's search for `orderer.yaml` / `orderer.yml`: only in `fabric_cfg_path` (the
/// value of `FABRIC_CFG_PATH`) when given, else in `.`, then `/etc/hyperledger/fabric`.
pub fn find_config_file(fabric_cfg_path: Option<&Path>) -> Option<PathBuf> {
    localconfig::find_config_file(CONFIG_NAME, fabric_cfg_path)
}

/// The environment variable overriding `key` (`General.TLS.Enabled` →
/// `ORDERER_GENERAL_TLS_ENABLED`).
pub fn env_var_name(key: &str) -> String {
    localconfig::env_var_name(ENV_PREFIX, key)
}

// ---------------------------------------------------------------------------------------
// The raw layer: every leaf is an optional YAML value, every section may be absent or null.

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawConfig {
    #[serde(deserialize_with = "null_as_default")]
    general: RawGeneral,
    #[serde(rename = "fileledger", deserialize_with = "null_as_default")]
    file_ledger: RawFileLedger,
    #[serde(deserialize_with = "null_as_default")]
    consensus: RawConsensus,
    #[serde(deserialize_with = "null_as_default")]
    operations: RawHttpEndpoint,
    #[serde(deserialize_with = "null_as_default")]
    metrics: RawMetrics,
    #[serde(deserialize_with = "null_as_default")]
    admin: RawHttpEndpoint,
    #[serde(rename = "channelparticipation", deserialize_with = "null_as_default")]
    channel_participation: RawChannelParticipation,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawGeneral {
    #[serde(rename = "listenaddress")]
    listen_address: Leaf,
    #[serde(rename = "listenport")]
    listen_port: Leaf,
    #[serde(deserialize_with = "null_as_default")]
    tls: RawTls,
    #[serde(deserialize_with = "null_as_default")]
    cluster: RawCluster,
    #[serde(deserialize_with = "null_as_default")]
    keepalive: RawKeepalive,
    #[serde(rename = "maxrecvmsgsize")]
    max_recv_msg_size: Leaf,
    #[serde(rename = "maxsendmsgsize")]
    max_send_msg_size: Leaf,
    #[serde(rename = "bootstrapmethod")]
    bootstrap_method: Leaf,
    #[serde(rename = "localmspdir")]
    local_msp_dir: Leaf,
    #[serde(rename = "localmspid")]
    local_msp_id: Leaf,
    #[serde(deserialize_with = "null_as_default")]
    authentication: RawAuthentication,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawTls {
    enabled: Leaf,
    #[serde(rename = "privatekey")]
    private_key: Leaf,
    certificate: Leaf,
    #[serde(rename = "rootcas")]
    root_cas: Leaf,
    #[serde(rename = "clientauthrequired")]
    client_auth_required: Leaf,
    #[serde(rename = "clientrootcas")]
    client_root_cas: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawCluster {
    #[serde(rename = "listenaddress")]
    listen_address: Leaf,
    #[serde(rename = "listenport")]
    listen_port: Leaf,
    #[serde(rename = "servercertificate")]
    server_certificate: Leaf,
    #[serde(rename = "serverprivatekey")]
    server_private_key: Leaf,
    #[serde(rename = "clientcertificate")]
    client_certificate: Leaf,
    #[serde(rename = "clientprivatekey")]
    client_private_key: Leaf,
    #[serde(rename = "rootcas")]
    root_cas: Leaf,
    #[serde(rename = "sendbuffersize")]
    send_buffer_size: Leaf,
    #[serde(rename = "dialtimeout")]
    dial_timeout: Leaf,
    #[serde(rename = "rpctimeout")]
    rpc_timeout: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawKeepalive {
    #[serde(rename = "servermininterval")]
    server_min_interval: Leaf,
    #[serde(rename = "serverinterval")]
    server_interval: Leaf,
    #[serde(rename = "servertimeout")]
    server_timeout: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawAuthentication {
    #[serde(rename = "timewindow")]
    time_window: Leaf,
    #[serde(rename = "noexpirationchecks")]
    no_expiration_checks: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawFileLedger {
    location: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawConsensus {
    #[serde(rename = "waldir")]
    wal_dir: Leaf,
    #[serde(rename = "snapdir")]
    snap_dir: Leaf,
    #[serde(rename = "evictionsuspicion")]
    eviction_suspicion: Leaf,
    #[serde(rename = "tickintervaloverride")]
    tick_interval_override: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawHttpEndpoint {
    #[serde(rename = "listenaddress")]
    listen_address: Leaf,
    #[serde(deserialize_with = "null_as_default")]
    tls: RawTls,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawMetrics {
    provider: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawChannelParticipation {
    enabled: Leaf,
    #[serde(rename = "maxrequestbodysize")]
    max_request_body_size: Leaf,
}

// ---------------------------------------------------------------------------------------
// Validation

fn validate(raw: RawConfig, base_dir: Option<&Path>) -> Result<OrdererConfig, ConfigError> {
    let mut c = Checker::new(base_dir);
    let g = &raw.general;

    // General.
    match c
        .string("General.BootstrapMethod", &g.bootstrap_method)
        .as_deref()
    {
        None | Some("none") => {}
        Some("file") => c.problem(
            "General.BootstrapMethod",
            "\"file\" is not supported: Weft has no system channel; set it to \"none\" and \
             join channels with the channel participation API (osnadmin)",
        ),
        Some(other) => c.problem(
            "General.BootstrapMethod",
            format!("unknown bootstrap method {other:?} (only \"none\" is supported)"),
        ),
    }
    let tls = GeneralTls {
        enabled: c.bool_or("General.TLS.Enabled", &g.tls.enabled, false),
        private_key: c
            .path("General.TLS.PrivateKey", &g.tls.private_key)
            .unwrap_or_default(),
        certificate: c
            .path("General.TLS.Certificate", &g.tls.certificate)
            .unwrap_or_default(),
        root_cas: c.paths("General.TLS.RootCAs", &g.tls.root_cas),
        client_auth_required: c.bool_or(
            "General.TLS.ClientAuthRequired",
            &g.tls.client_auth_required,
            false,
        ),
        client_root_cas: c.paths("General.TLS.ClientRootCAs", &g.tls.client_root_cas),
    };
    if tls.enabled {
        require_tls_files(&mut c, "General.TLS", &tls.certificate, &tls.private_key);
    }

    let cl = &g.cluster;
    let cluster_address = c.string("General.Cluster.ListenAddress", &cl.listen_address);
    let cluster_port = c.port("General.Cluster.ListenPort", &cl.listen_port);
    let cluster_cert = c.path("General.Cluster.ServerCertificate", &cl.server_certificate);
    let cluster_key = c.path("General.Cluster.ServerPrivateKey", &cl.server_private_key);
    let listener = match (cluster_address, cluster_port, cluster_cert, cluster_key) {
        (None, None, None, None) => None,
        (Some(address), Some(port), Some(server_certificate), Some(server_private_key)) => {
            Some(ClusterListener {
                address,
                port,
                server_certificate,
                server_private_key,
            })
        }
        _ => {
            c.problem(
                "General.Cluster",
                "ListenPort, ListenAddress, ServerCertificate and ServerPrivateKey must be \
                 defined altogether (or none of them, to share the general listener)",
            );
            None
        }
    };
    let cluster = Cluster {
        listener,
        client_certificate: c.path("General.Cluster.ClientCertificate", &cl.client_certificate),
        client_private_key: c.path("General.Cluster.ClientPrivateKey", &cl.client_private_key),
        root_cas: c.paths("General.Cluster.RootCAs", &cl.root_cas),
        send_buffer_size: match c.integer("General.Cluster.SendBufferSize", &cl.send_buffer_size) {
            None | Some(0) => 100,
            Some(n) => usize::try_from(n).unwrap_or(100),
        },
        dial_timeout: c.duration_or(
            "General.Cluster.DialTimeout",
            &cl.dial_timeout,
            Duration::from_secs(5),
        ),
        rpc_timeout: c.duration_or(
            "General.Cluster.RPCTimeout",
            &cl.rpc_timeout,
            Duration::from_secs(7),
        ),
    };

    let ka = &g.keepalive;
    let keepalive = Keepalive {
        server_min_interval: c.duration_or(
            "General.Keepalive.ServerMinInterval",
            &ka.server_min_interval,
            Duration::from_secs(60),
        ),
        server_interval: c.duration_or(
            "General.Keepalive.ServerInterval",
            &ka.server_interval,
            Duration::from_secs(7200),
        ),
        server_timeout: c.duration_or(
            "General.Keepalive.ServerTimeout",
            &ka.server_timeout,
            Duration::from_secs(20),
        ),
    };

    let general = General {
        listen_address: c.string_or(
            "General.ListenAddress",
            &g.listen_address,
            DEFAULT_LISTEN_ADDRESS,
        ),
        listen_port: c
            .port("General.ListenPort", &g.listen_port)
            .unwrap_or(DEFAULT_LISTEN_PORT),
        tls,
        cluster,
        keepalive,
        max_recv_msg_size: c.msg_size(
            "General.MaxRecvMsgSize",
            &g.max_recv_msg_size,
            DEFAULT_MAX_MSG_SIZE,
        ),
        max_send_msg_size: c.msg_size(
            "General.MaxSendMsgSize",
            &g.max_send_msg_size,
            DEFAULT_MAX_MSG_SIZE,
        ),
        local_msp_dir: c
            .path("General.LocalMSPDir", &g.local_msp_dir)
            .unwrap_or_else(|| c.resolve(DEFAULT_LOCAL_MSP_DIR)),
        local_msp_id: c.string_or("General.LocalMSPID", &g.local_msp_id, DEFAULT_LOCAL_MSP_ID),
        authentication: Authentication {
            time_window: c.duration_or(
                "General.Authentication.TimeWindow",
                &g.authentication.time_window,
                Duration::from_secs(15 * 60),
            ),
            no_expiration_checks: c.bool_or(
                "General.Authentication.NoExpirationChecks",
                &g.authentication.no_expiration_checks,
                false,
            ),
        },
    };

    // FileLedger and Consensus.
    let location = c
        .path("FileLedger.Location", &raw.file_ledger.location)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_FILE_LEDGER_LOCATION));
    let cs = &raw.consensus;
    let consensus = Consensus {
        wal_dir: c
            .path("Consensus.WALDir", &cs.wal_dir)
            .unwrap_or_else(|| location.join("etcdraft").join("wal")),
        snap_dir: c
            .path("Consensus.SnapDir", &cs.snap_dir)
            .unwrap_or_else(|| location.join("etcdraft").join("snapshot")),
        eviction_suspicion: c.duration_or(
            "Consensus.EvictionSuspicion",
            &cs.eviction_suspicion,
            DEFAULT_EVICTION_SUSPICION,
        ),
        tick_interval_override: c
            .duration("Consensus.TickIntervalOverride", &cs.tick_interval_override)
            .filter(|d| !d.is_zero()),
    };
    let file_ledger = FileLedger { location };

    // Operations, Metrics, Admin, ChannelParticipation.
    let operations = Operations {
        listen_address: c.listen_address(
            "Operations.ListenAddress",
            &raw.operations.listen_address,
            DEFAULT_OPERATIONS_LISTEN_ADDRESS,
        ),
        tls: http_tls(&mut c, "Operations.TLS", &raw.operations.tls, false),
    };
    if operations.tls.enabled
        && operations.tls.client_auth_required
        && operations.tls.client_root_cas.is_empty()
    {
        c.problem(
            "Operations.TLS.ClientRootCAs",
            "must list at least one CA file when ClientAuthRequired is true",
        );
    }

    let provider = match c
        .string("Metrics.Provider", &raw.metrics.provider)
        .map(|s| s.to_lowercase())
        .as_deref()
    {
        None | Some("disabled") => MetricsProvider::Disabled,
        Some("prometheus") => MetricsProvider::Prometheus,
        Some("statsd") => {
            c.problem(
                "Metrics.Provider",
                "statsd is not supported by Weft; use \"prometheus\" or \"disabled\"",
            );
            MetricsProvider::Disabled
        }
        Some(other) => {
            c.problem(
                "Metrics.Provider",
                format!("unknown provider {other:?} (\"prometheus\" or \"disabled\")"),
            );
            MetricsProvider::Disabled
        }
    };

    let admin = Admin {
        listen_address: c.listen_address(
            "Admin.ListenAddress",
            &raw.admin.listen_address,
            DEFAULT_ADMIN_LISTEN_ADDRESS,
        ),
        tls: http_tls(&mut c, "Admin.TLS", &raw.admin.tls, true),
    };
    if admin.tls.enabled {
        if !admin.tls.client_auth_required {
            c.problem(
                "Admin.TLS.ClientAuthRequired",
                "must be true when Admin.TLS.Enabled is true",
            );
        } else if admin.tls.client_root_cas.is_empty() {
            c.problem(
                "Admin.TLS.ClientRootCAs",
                "must list at least one CA file when Admin.TLS.Enabled is true",
            );
        }
    }

    let cp = &raw.channel_participation;
    let channel_participation = ChannelParticipation {
        enabled: c.bool_or("ChannelParticipation.Enabled", &cp.enabled, true),
        max_request_body_size: match c.byte_size(
            "ChannelParticipation.MaxRequestBodySize",
            &cp.max_request_body_size,
        ) {
            None | Some(0) => DEFAULT_MAX_REQUEST_BODY_SIZE,
            Some(n) => n,
        },
    };

    c.finish(OrdererConfig {
        config_file: None,
        general,
        file_ledger,
        consensus,
        operations,
        metrics: Metrics { provider },
        admin,
        channel_participation,
    })
    .map_err(ConfigError::Invalid)
}

fn require_tls_files(c: &mut Checker<'_>, prefix: &str, cert: &Path, key: &Path) {
    if cert.as_os_str().is_empty() {
        c.problem(
            &format!("{prefix}.Certificate"),
            format!("must be set when {prefix}.Enabled is true"),
        );
    }
    if key.as_os_str().is_empty() {
        c.problem(
            &format!("{prefix}.PrivateKey"),
            format!("must be set when {prefix}.Enabled is true"),
        );
    }
}

fn http_tls(c: &mut Checker<'_>, prefix: &str, raw: &RawTls, client_auth_default: bool) -> HttpTls {
    let key = |name: &str| format!("{prefix}.{name}");
    let tls = HttpTls {
        enabled: c.bool_or(&key("Enabled"), &raw.enabled, false),
        certificate: c
            .path(&key("Certificate"), &raw.certificate)
            .unwrap_or_default(),
        private_key: c
            .path(&key("PrivateKey"), &raw.private_key)
            .unwrap_or_default(),
        client_auth_required: c.bool_or(
            &key("ClientAuthRequired"),
            &raw.client_auth_required,
            client_auth_default,
        ),
        client_root_cas: c.paths(&key("ClientRootCAs"), &raw.client_root_cas),
    };
    if tls.enabled {
        require_tls_files(c, prefix, &tls.certificate, &tls.private_key);
    }
    tls
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_ENV: [(&str, &str); 0] = [];

    /// Fabric's sample orderer.yaml, trimmed but with its shape and unknown sections.
    const SAMPLE: &str = r#"
General:
    ListenAddress: 127.0.0.1
    ListenPort: 7050
    TLS:
        Enabled: false
        PrivateKey: tls/server.key
        Certificate: tls/server.crt
        RootCAs:
          - tls/ca.crt
        ClientAuthRequired: false
        ClientRootCAs:
    Keepalive:
        ServerMinInterval: 60s
        ServerInterval: 7200s
        ServerTimeout: 20s
    MaxRecvMsgSize: 104857600
    MaxSendMsgSize: 104857600
    Cluster:
        SendBufferSize: 100
        ClientCertificate:
        ClientPrivateKey:
        ListenPort:
        ListenAddress:
        ServerCertificate:
        ServerPrivateKey:
    BootstrapMethod: none
    BootstrapFile:
    LocalMSPDir: msp
    LocalMSPID: SampleOrg
    Profile:
        Enabled: false
        Address: 0.0.0.0:6060
    BCCSP:
        Default: SW
        SW:
            Hash: SHA2
            Security: 256
    Authentication:
        TimeWindow: 15m
FileLedger:
    Location: /var/hyperledger/production/orderer
Kafka:
    Retry:
        ShortInterval: 5s
Debug:
    BroadcastTraceDir:
Operations:
    ListenAddress: 127.0.0.1:8443
    TLS:
        Enabled: false
        Certificate:
        PrivateKey:
        ClientAuthRequired: false
        ClientRootCAs: []
Metrics:
    Provider: disabled
    Statsd:
      Network: udp
Admin:
    ListenAddress: 127.0.0.1:9443
    TLS:
        Enabled: false
        Certificate:
        PrivateKey:
        ClientAuthRequired: true
        ClientRootCAs: []
ChannelParticipation:
    Enabled: false
    MaxRequestBodySize: 1 MB
Consensus:
    WALDir: /var/hyperledger/production/orderer/etcdraft/wal
    SnapDir: /var/hyperledger/production/orderer/etcdraft/snapshot
"#;

    fn problems(err: ConfigError) -> Vec<ConfigProblem> {
        match err {
            ConfigError::Invalid(p) => p,
            other => panic!("expected Invalid, got {other}"),
        }
    }

    #[test]
    fn sample_file_parses_with_unknown_sections() {
        let cfg = OrdererConfig::from_yaml_str(SAMPLE, Some(Path::new("/etc/orderer")), NO_ENV)
            .expect("sample config");
        assert_eq!(cfg.general.listen_socket(), "127.0.0.1:7050");
        assert!(!cfg.general.tls.enabled);
        assert_eq!(
            cfg.general.tls.root_cas,
            vec![PathBuf::from("/etc/orderer/tls/ca.crt")]
        );
        assert!(cfg.general.tls.client_root_cas.is_empty());
        assert_eq!(
            cfg.general.keepalive.server_interval,
            Duration::from_secs(7200)
        );
        assert_eq!(cfg.general.max_recv_msg_size, 104_857_600);
        assert_eq!(cfg.general.cluster.listener, None);
        assert_eq!(cfg.general.cluster.send_buffer_size, 100);
        assert_eq!(cfg.general.local_msp_dir, PathBuf::from("/etc/orderer/msp"));
        assert_eq!(cfg.operations.listen_address, "127.0.0.1:8443");
        assert_eq!(cfg.admin.listen_address, "127.0.0.1:9443");
        assert!(cfg.admin.tls.client_auth_required);
        assert_eq!(cfg.metrics.provider, MetricsProvider::Disabled);
        assert!(!cfg.channel_participation.enabled);
        assert_eq!(cfg.channel_participation.max_request_body_size, 1024 * 1024);
        assert_eq!(
            cfg.consensus.wal_dir,
            PathBuf::from("/var/hyperledger/production/orderer/etcdraft/wal")
        );
        assert_eq!(cfg.consensus.eviction_suspicion, DEFAULT_EVICTION_SUSPICION);
        assert_eq!(cfg.consensus.tick_interval_override, None);
    }

    #[test]
    fn env_overrides_file_values() {
        // What test-network's compose file sets for orderer.example.com.
        let env = [
            ("ORDERER_GENERAL_LISTENADDRESS", "0.0.0.0"),
            ("ORDERER_GENERAL_LISTENPORT", "7050"),
            ("ORDERER_GENERAL_LOCALMSPID", "OrdererMSP"),
            (
                "ORDERER_GENERAL_LOCALMSPDIR",
                "/var/hyperledger/orderer/msp",
            ),
            ("ORDERER_GENERAL_TLS_ENABLED", "true"),
            (
                "ORDERER_GENERAL_TLS_PRIVATEKEY",
                "/var/hyperledger/orderer/tls/server.key",
            ),
            (
                "ORDERER_GENERAL_TLS_CERTIFICATE",
                "/var/hyperledger/orderer/tls/server.crt",
            ),
            (
                "ORDERER_GENERAL_TLS_ROOTCAS",
                "[/var/hyperledger/orderer/tls/ca.crt, other/ca.crt]",
            ),
            (
                "ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE",
                "tls/server.crt",
            ),
            ("ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY", "tls/server.key"),
            ("ORDERER_GENERAL_CLUSTER_ROOTCAS", "[tls/ca.crt]"),
            ("ORDERER_GENERAL_BOOTSTRAPMETHOD", "none"),
            ("ORDERER_CHANNELPARTICIPATION_ENABLED", "true"),
            ("ORDERER_ADMIN_TLS_ENABLED", "True"),
            ("ORDERER_ADMIN_TLS_CERTIFICATE", "tls/server.crt"),
            ("ORDERER_ADMIN_TLS_PRIVATEKEY", "tls/server.key"),
            ("ORDERER_ADMIN_TLS_ROOTCAS", "[tls/ca.crt]"),
            ("ORDERER_ADMIN_TLS_CLIENTROOTCAS", "[tls/ca.crt]"),
            ("ORDERER_ADMIN_LISTENADDRESS", "0.0.0.0:7053"),
            (
                "ORDERER_OPERATIONS_LISTENADDRESS",
                "orderer.example.com:9443",
            ),
            ("ORDERER_METRICS_PROVIDER", "prometheus"),
            ("ORDERER_GENERAL_KEEPALIVE_SERVERTIMEOUT", "1m30s"),
            ("ORDERER_CONSENSUS_TICKINTERVALOVERRIDE", "250ms"),
            ("ORDERER_CHANNELPARTICIPATION_MAXREQUESTBODYSIZE", "4 MB"),
            // Not keys: ignored, even though they share the prefix.
            ("ORDERER_CA", "/tmp/ca.crt"),
            ("ORDERER_ADMIN_TLS_SIGN_CERT", "/tmp/x"),
            // Empty values do not override.
            ("ORDERER_GENERAL_LISTENPORT", ""),
            ("CORE_PEER_ID", "peer0"),
        ];
        let cfg = OrdererConfig::from_yaml_str(SAMPLE, Some(Path::new("/cfg")), env)
            .expect("config with overrides");
        assert_eq!(cfg.general.listen_socket(), "0.0.0.0:7050");
        assert_eq!(cfg.general.local_msp_id, "OrdererMSP");
        assert_eq!(
            cfg.general.local_msp_dir,
            PathBuf::from("/var/hyperledger/orderer/msp")
        );
        assert!(cfg.general.tls.enabled);
        assert_eq!(
            cfg.general.tls.root_cas,
            vec![
                PathBuf::from("/var/hyperledger/orderer/tls/ca.crt"),
                PathBuf::from("/cfg/other/ca.crt")
            ]
        );
        assert_eq!(
            cfg.general.cluster.client_certificate,
            Some(PathBuf::from("/cfg/tls/server.crt"))
        );
        assert_eq!(
            cfg.general.cluster.root_cas,
            vec![PathBuf::from("/cfg/tls/ca.crt")]
        );
        assert!(cfg.channel_participation.enabled);
        assert_eq!(cfg.channel_participation.max_request_body_size, 4 << 20);
        assert!(cfg.admin.tls.enabled);
        assert_eq!(
            cfg.admin.tls.client_root_cas,
            vec![PathBuf::from("/cfg/tls/ca.crt")]
        );
        assert_eq!(cfg.admin.listen_address, "0.0.0.0:7053");
        assert_eq!(cfg.operations.listen_address, "orderer.example.com:9443");
        assert_eq!(cfg.metrics.provider, MetricsProvider::Prometheus);
        assert_eq!(
            cfg.general.keepalive.server_timeout,
            Duration::from_secs(90)
        );
        assert_eq!(
            cfg.consensus.tick_interval_override,
            Some(Duration::from_millis(250))
        );
    }

    #[test]
    fn env_names_match_case_insensitively_and_keys_too() {
        let yaml = "general:\n  listenport: 7150\nADMIN:\n  LISTENADDRESS: 0.0.0.0:7053\n";
        let env = [("orderer_general_listenaddress", "10.0.0.1")];
        let cfg = OrdererConfig::from_yaml_str(yaml, None, env).expect("config");
        assert_eq!(cfg.general.listen_socket(), "10.0.0.1:7150");
        assert_eq!(cfg.admin.listen_address, "0.0.0.0:7053");
    }

    #[test]
    fn env_creates_keys_missing_from_the_file() {
        let env = [
            ("ORDERER_GENERAL_CLUSTER_LISTENADDRESS", "0.0.0.0"),
            ("ORDERER_GENERAL_CLUSTER_LISTENPORT", "7051"),
            (
                "ORDERER_GENERAL_CLUSTER_SERVERCERTIFICATE",
                "tls/cluster.crt",
            ),
            (
                "ORDERER_GENERAL_CLUSTER_SERVERPRIVATEKEY",
                "tls/cluster.key",
            ),
            ("ORDERER_CONSENSUS_WALDIR", "wal"),
        ];
        let cfg =
            OrdererConfig::from_yaml_str("General:\n", Some(Path::new("/o")), env).expect("config");
        let listener = cfg.general.cluster.listener.expect("cluster listener");
        assert_eq!(listener.socket(), "0.0.0.0:7051");
        assert_eq!(
            listener.server_certificate,
            PathBuf::from("/o/tls/cluster.crt")
        );
        assert_eq!(cfg.consensus.wal_dir, PathBuf::from("/o/wal"));
    }

    #[test]
    fn bools_and_lists_in_go_syntax() {
        for (text, expected) in [("1", true), ("t", true), ("TRUE", true), ("F", false)] {
            let env = [("ORDERER_GENERAL_TLS_CLIENTAUTHREQUIRED", text)];
            let cfg = OrdererConfig::from_yaml_str("", None, env).expect("config");
            assert_eq!(cfg.general.tls.client_auth_required, expected, "{text}");
        }
        assert_eq!(split_list("[a, b ,c]"), vec!["a", "b", "c"]);
        assert_eq!(split_list("single"), vec!["single"]);
        assert!(split_list("[]").is_empty());
        assert!(split_list("").is_empty());
        assert_eq!(parse_byte_size("1 MB"), Some(1 << 20));
        assert_eq!(parse_byte_size("512k"), Some(512 << 10));
        assert_eq!(parse_byte_size("2G"), Some(2 << 30));
        assert_eq!(parse_byte_size("1234"), Some(1234));
        assert_eq!(parse_byte_size("1 TB"), None);
        assert_eq!(parse_byte_size("MB"), None);
    }

    #[test]
    fn relative_paths_resolve_against_the_config_file_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("orderer.yaml");
        std::fs::write(
            &file,
            "General:\n  TLS:\n    Enabled: true\n    Certificate: tls/server.crt\n    \
             PrivateKey: /abs/server.key\n  LocalMSPDir: msp\nFileLedger:\n  Location: data\n",
        )
        .expect("write");
        let cfg = OrdererConfig::from_sources(Some(&file), NO_ENV).expect("config");
        assert_eq!(cfg.config_file.as_deref(), Some(file.as_path()));
        assert_eq!(
            cfg.general.tls.certificate,
            dir.path().join("tls/server.crt")
        );
        assert_eq!(
            cfg.general.tls.private_key,
            PathBuf::from("/abs/server.key")
        );
        assert_eq!(cfg.general.local_msp_dir, dir.path().join("msp"));
        assert_eq!(cfg.file_ledger.location, dir.path().join("data"));
        // WAL and snapshots default under the ledger location.
        assert_eq!(cfg.consensus.wal_dir, dir.path().join("data/etcdraft/wal"));
        assert_eq!(
            cfg.consensus.snap_dir,
            dir.path().join("data/etcdraft/snapshot")
        );
    }

    #[test]
    fn find_config_file_prefers_fabric_cfg_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Nothing there: the search moves on to `.` and /etc/hyperledger/fabric.
        assert!(find_config_file(Some(dir.path())).is_none_or(|p| !p.starts_with(dir.path())));
        std::fs::write(dir.path().join("orderer.yml"), "General:\n").expect("write");
        assert_eq!(
            find_config_file(Some(dir.path())),
            Some(dir.path().join("orderer.yml"))
        );
        std::fs::write(dir.path().join("orderer.yaml"), "General:\n").expect("write");
        assert_eq!(
            find_config_file(Some(dir.path())),
            Some(dir.path().join("orderer.yaml"))
        );
    }

    #[test]
    fn missing_explicit_file_is_a_read_error() {
        let err = OrdererConfig::from_sources(Some(Path::new("/nonexistent/orderer.yaml")), NO_ENV)
            .expect_err("missing file");
        assert!(matches!(err, ConfigError::Read { .. }), "{err}");
    }

    #[test]
    fn malformed_yaml_is_a_parse_error() {
        let err =
            OrdererConfig::from_yaml_str("General: [1, 2", None, NO_ENV).expect_err("bad yaml");
        assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
        let err =
            OrdererConfig::from_yaml_str("General: 5", None, NO_ENV).expect_err("scalar section");
        assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
    }

    #[test]
    fn defaults_without_any_file() {
        let cfg = OrdererConfig::from_sources(None::<&Path>, NO_ENV).expect("defaults");
        assert_eq!(cfg.config_file, None);
        assert_eq!(cfg.general.listen_socket(), "127.0.0.1:7050");
        assert!(!cfg.general.tls.enabled);
        assert_eq!(cfg.general.local_msp_dir, PathBuf::from("msp"));
        assert_eq!(cfg.general.local_msp_id, "SampleOrg");
        assert_eq!(cfg.general.max_send_msg_size, DEFAULT_MAX_MSG_SIZE);
        assert_eq!(cfg.general.cluster.dial_timeout, Duration::from_secs(5));
        assert_eq!(cfg.general.cluster.rpc_timeout, Duration::from_secs(7));
        assert_eq!(
            cfg.general.authentication.time_window,
            Duration::from_secs(900)
        );
        assert_eq!(cfg.operations.listen_address, "127.0.0.1:8443");
        assert_eq!(cfg.admin.listen_address, "127.0.0.1:9443");
        assert!(cfg.admin.tls.client_auth_required);
        assert!(cfg.channel_participation.enabled);
        assert_eq!(
            cfg.channel_participation.max_request_body_size,
            DEFAULT_MAX_REQUEST_BODY_SIZE
        );
        assert_eq!(
            cfg.file_ledger.location,
            PathBuf::from(DEFAULT_FILE_LEDGER_LOCATION)
        );
        assert_eq!(cfg.metrics.provider, MetricsProvider::Disabled);

        // Env alone is enough for a TLS node.
        let env = [
            ("ORDERER_GENERAL_TLS_ENABLED", "true"),
            ("ORDERER_GENERAL_TLS_CERTIFICATE", "/t/server.crt"),
            ("ORDERER_GENERAL_TLS_PRIVATEKEY", "/t/server.key"),
            ("ORDERER_GENERAL_LISTENPORT", "7150"),
        ];
        let cfg = OrdererConfig::from_sources(None::<&Path>, env).expect("env only");
        assert!(cfg.general.tls.enabled);
        assert_eq!(cfg.general.listen_port, 7150);
    }

    #[test]
    fn validation_collects_every_problem() {
        let yaml = r#"
General:
  ListenPort: 70000
  BootstrapMethod: file
  TLS:
    Enabled: maybe
  Keepalive:
    ServerTimeout: 5 seconds
  MaxRecvMsgSize: -1
  Cluster:
    ListenPort: 7051
Operations:
  ListenAddress: localhost
Metrics:
  Provider: statsd
Admin:
  TLS:
    Enabled: true
    ClientAuthRequired: false
ChannelParticipation:
  MaxRequestBodySize: lots
"#;
        let env = [
            ("ORDERER_GENERAL_TLS_ENABLED", "true"),
            ("ORDERER_CONSENSUS_EVICTIONSUSPICION", "soon"),
        ];
        let err = OrdererConfig::from_yaml_str(yaml, None, env).expect_err("invalid");
        let text = err.to_string();
        let keys: Vec<String> = problems(err).into_iter().map(|p| p.key).collect();
        for expected in [
            "General.ListenPort",
            "General.BootstrapMethod",
            "General.TLS.Certificate",
            "General.TLS.PrivateKey",
            "General.Keepalive.ServerTimeout",
            "General.MaxRecvMsgSize",
            "General.Cluster",
            "Consensus.EvictionSuspicion",
            "Operations.ListenAddress",
            "Metrics.Provider",
            "Admin.TLS.Certificate",
            "Admin.TLS.PrivateKey",
            "Admin.TLS.ClientAuthRequired",
            "ChannelParticipation.MaxRequestBodySize",
        ] {
            assert!(
                keys.iter().any(|k| k == expected),
                "{expected} not in {keys:?}"
            );
        }
        assert!(text.contains("\"file\" is not supported"), "{text}");
    }

    #[test]
    fn yaml_tls_bool_maybe_is_reported_when_not_overridden() {
        let err =
            OrdererConfig::from_yaml_str("General:\n  TLS:\n    Enabled: maybe\n", None, NO_ENV)
                .expect_err("bad bool");
        assert_eq!(
            problems(err),
            vec![ConfigProblem {
                key: "General.TLS.Enabled".into(),
                reason: "\"maybe\" is not a boolean".into()
            }]
        );
    }

    #[test]
    fn admin_tls_needs_client_roots() {
        let env = [
            ("ORDERER_ADMIN_TLS_ENABLED", "true"),
            ("ORDERER_ADMIN_TLS_CERTIFICATE", "/a.crt"),
            ("ORDERER_ADMIN_TLS_PRIVATEKEY", "/a.key"),
        ];
        let keys: Vec<String> =
            problems(OrdererConfig::from_yaml_str("", None, env).expect_err("no client roots"))
                .into_iter()
                .map(|p| p.key)
                .collect();
        assert_eq!(keys, vec!["Admin.TLS.ClientRootCAs"]);
    }

    #[test]
    fn env_var_names_follow_fabric() {
        assert_eq!(
            env_var_name("General.TLS.ClientRootCAs"),
            "ORDERER_GENERAL_TLS_CLIENTROOTCAS"
        );
        assert_eq!(
            env_var_name("ChannelParticipation.MaxRequestBodySize"),
            "ORDERER_CHANNELPARTICIPATION_MAXREQUESTBODYSIZE"
        );
    }

    #[test]
    fn ipv6_listen_socket() {
        let env = [("ORDERER_GENERAL_LISTENADDRESS", "::1")];
        let cfg = OrdererConfig::from_yaml_str("", None, env).expect("config");
        assert_eq!(cfg.general.listen_socket(), "[::1]:7050");
    }
}
