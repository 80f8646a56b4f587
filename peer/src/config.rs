//! The peer's local configuration: a `core.yaml`-shaped file plus `CORE_*` environment
//! overrides, read the way Fabric's peer reads it (viper with prefix `CORE`).
//!
//! Two layers, as for the orderer (the shared machinery is
//! [`weft_common::localconfig`]):
//! - a permissive raw tree: every known key is optional, keys match without regard to
//!   case, unknown keys (gossip, BCCSP, vm, ledger, ...) are ignored;
//! - the validated [`PeerConfig`]: typed values, Fabric's defaults (those of its sample
//!   `core.yaml`) filled in, relative paths resolved against the config file's directory.
//!   Validation collects every problem and reports them together
//!   ([`ConfigError::Invalid`]).
//!
//! Environment overrides follow Fabric's rule: `CORE_` + the key path upper-cased with
//! `.` replaced by `_` (`peer.tls.enabled` → `CORE_PEER_TLS_ENABLED`,
//! `peer.tls.rootcert.file` → `CORE_PEER_TLS_ROOTCERT_FILE`); empty variables are
//! ignored; lists are written `[a,b]`.
//!
//! The same configuration serves the node (`peer node start`) and the command line
//! client (`peer channel ...`): the client reads `peer.address`, `peer.tls.enabled`,
//! `peer.tls.rootcert.file`, `peer.tls.serverhostoverride`, `peer.tls.clientAuthRequired`
//! with `peer.tls.clientCert.file`/`clientKey.file`, `peer.client.connTimeout`,
//! `peer.mspConfigPath` and `peer.localMspId`, exactly as Fabric's CLI does.
//!
//! Weft-specific choices:
//! - Without any `core.yaml` (no `FABRIC_CFG_PATH`, none in `.` or
//!   `/etc/hyperledger/fabric`, or none in the `FABRIC_CFG_PATH` directory) the defaults
//!   below plus the environment are used; Fabric refuses to start without the file.
//! - `peer.listenAddress` defaults to `0.0.0.0:7051` as in Fabric's sample `core.yaml`
//!   (the peer listens on every interface unless told otherwise), while
//!   `operations.listenAddress` defaults to `127.0.0.1:9443`, also as in Fabric.
//! - The ledger of channel `ch` lives in `<peer.fileSystemPath>/ledgersData/chains/<ch>`
//!   (one directory per channel holding its block store, state and history; Fabric keeps
//!   the block files in `ledgersData/chains/chains/<ch>` and shares one state and one
//!   history LevelDB among channels). See [`Peer::channel_ledger_dir`].
//! - `peer.address` with an unspecified host (`0.0.0.0`, `::`) is not replaced by an
//!   auto-detected interface address; see [`Peer::chaincode_endpoint`].
//! - `metrics.provider: statsd` is refused (Weft serves Prometheus only).

use std::path::{Path, PathBuf};
use std::time::Duration;

use weft_common::localconfig::{self, Checker, ConfigProblem, Leaf, LoadError};

/// The environment variable prefix of peer overrides.
pub const ENV_PREFIX: &str = "CORE";
/// The file name stem Fabric looks for (`core.yaml` or `core.yml`).
pub const CONFIG_NAME: &str = "core";

/// Default `peer.id` (Fabric's sample).
pub const DEFAULT_PEER_ID: &str = "jdoe";
/// Default `peer.networkId` (Fabric's sample).
pub const DEFAULT_NETWORK_ID: &str = "dev";
/// Default `peer.listenAddress` and `peer.address` (Fabric's sample `core.yaml`).
pub const DEFAULT_LISTEN_ADDRESS: &str = "0.0.0.0:7051";
/// The chaincode listener's port when `peer.chaincodeListenAddress` is not set.
pub const DEFAULT_CHAINCODE_PORT: u16 = 7052;
/// Default `peer.mspConfigPath` (relative to the config directory).
pub const DEFAULT_MSP_CONFIG_PATH: &str = "msp";
/// Default `peer.localMspId`.
pub const DEFAULT_LOCAL_MSP_ID: &str = "SampleOrg";
/// Default `peer.fileSystemPath`.
pub const DEFAULT_FILE_SYSTEM_PATH: &str = "/var/hyperledger/production";
/// The directory under `peer.fileSystemPath` holding the ledgers (Fabric's name).
pub const LEDGERS_DATA_DIR: &str = "ledgersData";
/// Default `operations.listenAddress`.
pub const DEFAULT_OPERATIONS_LISTEN_ADDRESS: &str = "127.0.0.1:9443";
/// Default `peer.maxRecvMsgSize` and `peer.maxSendMsgSize`: 100 MiB.
pub const DEFAULT_MAX_MSG_SIZE: usize = 100 * 1024 * 1024;

/// Every key this module reads, in Fabric's spelling. Environment overrides apply to
/// exactly these keys (`peer.deliveryclient.addressOverrides`, a list of maps, can only
/// be set in the file, as in Fabric).
pub const KNOWN_KEYS: &[&str] = &[
    "peer.id",
    "peer.networkId",
    "peer.listenAddress",
    "peer.address",
    "peer.chaincodeListenAddress",
    "peer.chaincodeAddress",
    "peer.mspConfigPath",
    "peer.localMspId",
    "peer.fileSystemPath",
    "peer.tls.enabled",
    "peer.tls.cert.file",
    "peer.tls.key.file",
    "peer.tls.rootcert.file",
    "peer.tls.clientAuthRequired",
    "peer.tls.clientRootCAs.files",
    "peer.tls.clientCert.file",
    "peer.tls.clientKey.file",
    "peer.tls.serverhostoverride",
    "peer.keepalive.interval",
    "peer.keepalive.timeout",
    "peer.keepalive.minInterval",
    "peer.keepalive.client.interval",
    "peer.keepalive.client.timeout",
    "peer.keepalive.deliveryClient.interval",
    "peer.keepalive.deliveryClient.timeout",
    "peer.authentication.timewindow",
    "peer.client.connTimeout",
    "peer.gateway.enabled",
    "peer.gateway.endorsementTimeout",
    "peer.gateway.broadcastTimeout",
    "peer.gateway.dialTimeout",
    "peer.deliveryclient.reConnectBackoffThreshold",
    "peer.deliveryclient.reconnectTotalTimeThreshold",
    "peer.deliveryclient.connTimeout",
    "peer.limits.concurrency.endorserService",
    "peer.limits.concurrency.deliverService",
    "peer.limits.concurrency.gatewayService",
    "peer.maxRecvMsgSize",
    "peer.maxSendMsgSize",
    "operations.listenAddress",
    "operations.tls.enabled",
    "operations.tls.cert.file",
    "operations.tls.key.file",
    "operations.tls.clientAuthRequired",
    "operations.tls.clientRootCAs.files",
    "metrics.provider",
    "chaincode.executetimeout",
    "chaincode.installTimeout",
    "chaincode.startuptimeout",
    "chaincode.mode",
    "chaincode.wasm.fuel",
    "chaincode.wasm.memoryLimit",
    "chaincode.wasm.maxInstances",
    "chaincode.launcher.default",
    "chaincode.launcher.docker",
    "chaincode.launcher.wasm",
    "chaincode.launcher.runner",
    "vm.docker.hostConfig.NetworkMode",
    "ledger.state.totalQueryLimit",
];

// ---------------------------------------------------------------------------------------
// Errors

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be found, read or parsed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// One or more values are invalid; every problem found is listed.
    #[error("invalid peer configuration: {}", localconfig::join_problems(.0))]
    Invalid(Vec<ConfigProblem>),
}

// ---------------------------------------------------------------------------------------
// The validated configuration

/// The peer's validated local configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerConfig {
    /// The file the values came from, if one was found.
    pub config_file: Option<PathBuf>,
    /// `peer`.
    pub peer: Peer,
    /// `operations`.
    pub operations: Operations,
    /// `metrics`.
    pub metrics: Metrics,
    /// `chaincode`.
    pub chaincode: Chaincode,
}

/// `peer`: the node's identity, listeners, TLS, services and their limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Peer {
    /// `peer.id` (default `jdoe`).
    pub id: String,
    /// `peer.networkId` (default `dev`).
    pub network_id: String,
    /// `peer.listenAddress`: the `host:port` the gRPC server (Endorser, Deliver, Gateway)
    /// binds (default `0.0.0.0:7051`).
    pub listen_address: String,
    /// `peer.address`: the `host:port` other nodes and clients reach this peer at; the
    /// command line client dials it (default `0.0.0.0:7051`).
    pub address: String,
    /// `peer.chaincodeListenAddress`: the `host:port` the chaincode server binds; when
    /// not set, `<host of peer.address>:7052`, as in Fabric.
    pub chaincode_listen_address: String,
    /// `peer.chaincodeAddress`: the `host:port` chaincode processes dial, when set
    /// (see [`Peer::chaincode_endpoint`] for the fallback).
    pub chaincode_address: Option<String>,
    /// `peer.mspConfigPath`, resolved (default `msp`).
    pub msp_config_path: PathBuf,
    /// `peer.localMspId` (default `SampleOrg`).
    pub local_msp_id: String,
    /// `peer.fileSystemPath`, resolved (default `/var/hyperledger/production`).
    pub file_system_path: PathBuf,
    /// `peer.tls`.
    pub tls: PeerTls,
    /// `peer.keepalive`.
    pub keepalive: Keepalive,
    /// `peer.authentication.timewindow` (default 15m): accepted clock skew of client
    /// timestamps (Deliver).
    pub authentication_time_window: Duration,
    /// `peer.client.connTimeout` (default 3s): the command line client's dial timeout.
    pub client_conn_timeout: Duration,
    /// `peer.gateway`.
    pub gateway: Gateway,
    /// `peer.deliveryclient`.
    pub delivery_client: DeliveryClient,
    /// `peer.limits`.
    pub limits: Limits,
    /// `peer.maxRecvMsgSize` in bytes (default 100 MiB).
    pub max_recv_msg_size: usize,
    /// `peer.maxSendMsgSize` in bytes (default 100 MiB).
    pub max_send_msg_size: usize,
}

/// `peer.tls`: TLS of the peer's gRPC server and of its (and the CLI's) client
/// connections.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerTls {
    /// `enabled` (default false).
    pub enabled: bool,
    /// `cert.file`: the server certificate (PEM), resolved (default `tls/server.crt`).
    pub cert_file: PathBuf,
    /// `key.file`: the server key (PEM), resolved (default `tls/server.key`).
    pub key_file: PathBuf,
    /// `rootcert.file`: the CA (PEM) the command line client trusts for the peer, and
    /// the node for its own TLS chain, resolved (default `tls/ca.crt`).
    pub root_cert_file: PathBuf,
    /// `clientAuthRequired` (default false): the server requires client certificates
    /// chaining to `clientRootCAs.files`; the CLI presents `clientCert.file`.
    pub client_auth_required: bool,
    /// `clientRootCAs.files`, resolved (default `[tls/ca.crt]`).
    pub client_root_cas: Vec<PathBuf>,
    /// `clientCert.file`, resolved: the certificate presented on client connections
    /// (see [`PeerTls::client_cert`] for the node's fallback).
    pub client_cert_file: Option<PathBuf>,
    /// `clientKey.file`, resolved.
    pub client_key_file: Option<PathBuf>,
    /// `serverhostoverride`: the name the CLI checks in the peer's certificate instead
    /// of the host of `peer.address`.
    pub server_host_override: Option<String>,
}

/// `peer.keepalive`: gRPC keepalive settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Keepalive {
    /// `interval` (default 7200s): interval of server pings.
    pub interval: Duration,
    /// `timeout` (default 20s): how long the server waits for a ping answer.
    pub timeout: Duration,
    /// `minInterval` (default 60s): minimum ping interval allowed from clients.
    pub min_interval: Duration,
    /// `client.interval` (default 60s): pings on connections to other peers.
    pub client_interval: Duration,
    /// `client.timeout` (default 20s).
    pub client_timeout: Duration,
    /// `deliveryClient.interval` (default 60s): pings on the connection to the orderer.
    pub delivery_client_interval: Duration,
    /// `deliveryClient.timeout` (default 20s).
    pub delivery_client_timeout: Duration,
}

/// `peer.gateway`: the Fabric Gateway service.
#[derive(Debug, Clone, PartialEq)]
pub struct Gateway {
    /// `enabled` (default true).
    pub enabled: bool,
    /// `endorsementTimeout` (default 30s).
    pub endorsement_timeout: Duration,
    /// `broadcastTimeout` (default 30s).
    pub broadcast_timeout: Duration,
    /// `dialTimeout` (default 2m).
    pub dial_timeout: Duration,
}

/// `peer.deliveryclient`: how the peer pulls blocks from the orderers.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryClient {
    /// `reConnectBackoffThreshold` (default 3600s): the longest wait between attempts.
    pub reconnect_backoff_threshold: Duration,
    /// `reconnectTotalTimeThreshold` (default 3600s): how long to keep retrying.
    pub reconnect_total_time_threshold: Duration,
    /// `connTimeout` (default 3s): dial timeout.
    pub conn_timeout: Duration,
    /// `addressOverrides`: orderer endpoints replaced when dialing (file only).
    pub address_overrides: Vec<AddressOverride>,
}

/// One `peer.deliveryclient.addressOverrides` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressOverride {
    /// `from`: the endpoint as the channel config names it.
    pub from: String,
    /// `to`: the endpoint dialed instead.
    pub to: String,
    /// `caCertsFile`: the CAs (PEM) trusted for `to`, resolved; `None` keeps the
    /// channel's orderer CAs.
    pub ca_certs_file: Option<PathBuf>,
}

/// `peer.limits.concurrency`: how many requests each service handles at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// `concurrency.endorserService` (default 2500).
    pub endorser_service: usize,
    /// `concurrency.deliverService` (default 2500): concurrent Deliver streams.
    pub deliver_service: usize,
    /// `concurrency.gatewayService` (default 500).
    pub gateway_service: usize,
}

/// TLS of an HTTP endpoint (`operations.tls`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpTls {
    /// `enabled`.
    pub enabled: bool,
    /// `cert.file`, resolved (required when enabled).
    pub cert_file: PathBuf,
    /// `key.file`, resolved (required when enabled).
    pub key_file: PathBuf,
    /// `clientAuthRequired`: clients must present a certificate from `clientRootCAs`.
    pub client_auth_required: bool,
    /// `clientRootCAs.files`, resolved.
    pub client_root_cas: Vec<PathBuf>,
}

/// `operations`: the `/healthz`, `/metrics`, `/logspec`, `/version` endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Operations {
    /// `listenAddress` as `host:port` (default 127.0.0.1:9443).
    pub listen_address: String,
    /// `tls`.
    pub tls: HttpTls,
}

/// `metrics.provider`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsProvider {
    /// `prometheus`: `/metrics` is served on the operations endpoint.
    Prometheus,
    /// `disabled` (the default).
    Disabled,
}

/// `metrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// `provider`.
    pub provider: MetricsProvider,
}

/// `chaincode.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChaincodeMode {
    /// `net` (the default): the peer launches chaincode.
    Net,
    /// `dev`: chaincode is started by the user and registers itself
    /// (`peer node start --peer-chaincodedev`).
    Dev,
}

/// `chaincode`: execution limits and mode.
#[derive(Debug, Clone, PartialEq)]
pub struct Chaincode {
    /// `executetimeout` (default 30s): the longest a chaincode invocation may take.
    pub execute_timeout: Duration,
    /// `installTimeout` (default 300s): the longest a package install may take.
    pub install_timeout: Duration,
    /// `startuptimeout` (default 300s): the longest a chaincode launch may take.
    pub startup_timeout: Duration,
    /// `mode` (default `net`).
    pub mode: ChaincodeMode,
    /// `wasm` (Weft's addition): the sandbox limits of WASM chaincode.
    pub wasm: WasmSettings,
    /// `launcher` (Weft's addition) and `vm.docker`: which launcher runs `wasm` packages.
    pub launcher: LauncherSettings,
    /// `ledger.state.totalQueryLimit` (default 100000): the most results one query of a
    /// chaincode returns.
    pub total_query_limit: u32,
}

/// `chaincode.launcher` (Weft's addition) and `vm.docker.hostConfig.NetworkMode`: where
/// `wasm` packages run — in process (`wasm`, the default) or in a Docker container
/// (`docker`), peer-wide or per package label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LauncherSettings {
    /// `chaincode.launcher.default`: `wasm` (default) or `docker`.
    pub default: String,
    /// `chaincode.launcher.docker`: package labels run in Docker whatever the default.
    pub docker: Vec<String>,
    /// `chaincode.launcher.wasm`: package labels run in process whatever the default.
    pub wasm: Vec<String>,
    /// `chaincode.launcher.runner`: the static `weft-ccrunner` put into chaincode images
    /// (default: `weft-ccrunner` next to the `peer` executable).
    pub runner: Option<PathBuf>,
    /// `vm.docker.hostConfig.NetworkMode` (default `host`).
    pub network_mode: String,
}

impl LauncherSettings {
    /// Whether any package may run in Docker.
    pub fn uses_docker(&self) -> bool {
        self.default == "docker" || !self.docker.is_empty()
    }

    /// Package label → launcher, for the labels named explicitly.
    pub fn overrides(&self) -> std::collections::HashMap<String, String> {
        self.docker
            .iter()
            .map(|label| (label.clone(), "docker".to_owned()))
            .chain(
                self.wasm
                    .iter()
                    .map(|label| (label.clone(), "wasm".to_owned())),
            )
            .collect()
    }
}

/// `chaincode.wasm`: limits of the WASM sandboxes (Weft's addition to `core.yaml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WasmSettings {
    /// `fuel` (default 10 000 000 000): the deterministic execution budget of one
    /// transaction; every endorser of a channel should use the same value.
    pub fuel: u64,
    /// `memoryLimit` (bytes, default 64 MiB): the most linear memory an instance may grow to.
    pub memory_limit: u64,
    /// `maxInstances` (default 256): WASM transactions executing at once (the size of the
    /// instance pool).
    pub max_instances: u32,
}

// ---------------------------------------------------------------------------------------
// Derived values

impl Peer {
    /// The root of the peer's ledgers: `<peer.fileSystemPath>/ledgersData`.
    pub fn ledgers_root(&self) -> PathBuf {
        self.file_system_path.join(LEDGERS_DATA_DIR)
    }

    /// The directory holding channel `channel_id`'s ledger (block store, state and
    /// history): `<peer.fileSystemPath>/ledgersData/chains/<channel_id>`.
    pub fn channel_ledger_dir(&self, channel_id: &str) -> PathBuf {
        self.ledgers_root().join("chains").join(channel_id)
    }

    /// The endpoint chaincode processes dial (Fabric's `computeChaincodeEndpoint`):
    /// `peer.chaincodeAddress` if set; else `peer.chaincodeListenAddress` when explicitly
    /// set with a specified host (an unspecified one takes the host of `peer.address`);
    /// else `<host of peer.address>:7052`. `None` when all that is known is an
    /// unspecified host (`0.0.0.0`, `::`), which a chaincode cannot dial (Fabric would
    /// auto-detect an interface address for `peer.address` there; Weft does not).
    pub fn chaincode_endpoint(&self) -> Option<String> {
        let unspecified = |host: &str| {
            host.parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_unspecified())
        };
        if let Some(address) = &self.chaincode_address {
            let (host, _) = localconfig::split_host_port(address)?;
            return (!unspecified(host)).then(|| address.clone());
        }
        let (peer_host, _) = localconfig::split_host_port(&self.address)?;
        let (listen_host, listen_port) =
            localconfig::split_host_port(&self.chaincode_listen_address)?;
        if !unspecified(listen_host) {
            return Some(self.chaincode_listen_address.clone());
        }
        (!unspecified(peer_host)).then(|| localconfig::join_host_port(peer_host, listen_port))
    }
}

impl PeerTls {
    /// The certificate the node presents on its client connections (to orderers):
    /// `clientCert.file`, or `cert.file` when not set, as in Fabric.
    pub fn client_cert(&self) -> &Path {
        self.client_cert_file.as_deref().unwrap_or(&self.cert_file)
    }

    /// The key of [`PeerTls::client_cert`]: `clientKey.file`, or `key.file`.
    pub fn client_key(&self) -> &Path {
        self.client_key_file.as_deref().unwrap_or(&self.key_file)
    }
}

// ---------------------------------------------------------------------------------------
// Loading

impl PeerConfig {
    /// Loads the configuration the way the `peer` binary does: `core.yaml` searched in
    /// `$FABRIC_CFG_PATH` (only there when set), else `.` and `/etc/hyperledger/fabric`
    /// (none found: defaults only), then the process environment's `CORE_*` overrides.
    pub fn load() -> Result<Self, ConfigError> {
        let file = localconfig::find_config_file_from_env(CONFIG_NAME);
        Self::from_sources(file.as_deref(), std::env::vars())
    }

    /// Loads an explicit file (which must exist) with the process environment's overrides.
    pub fn load_file(path: &Path) -> Result<Self, ConfigError> {
        Self::from_sources(Some(path), std::env::vars())
    }

    /// Loads from an optional file and the given environment (name, value) pairs; other
    /// pairs than `CORE_*` are ignored.
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
        mut tree: serde_yaml::Value,
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
        validate(&raw, base_dir).map_err(ConfigError::Invalid)
    }
}

impl Default for PeerConfig {
    /// Fabric's defaults, no file, no environment; relative paths stay relative to the
    /// working directory.
    fn default() -> Self {
        let mut c = Checker::new(None);
        let config = build(&RawConfig::default(), &mut c);
        debug_assert!(c.problems().is_empty(), "defaults are valid");
        config
    }
}

/// The environment variable overriding `key` (`peer.tls.enabled` →
/// `CORE_PEER_TLS_ENABLED`).
pub fn env_var_name(key: &str) -> String {
    localconfig::env_var_name(ENV_PREFIX, key)
}

// ---------------------------------------------------------------------------------------
// The raw layer: every leaf is an optional YAML value, every section may be absent or null.

use localconfig::null_as_default;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawConfig {
    #[serde(deserialize_with = "null_as_default")]
    peer: RawPeer,
    #[serde(deserialize_with = "null_as_default")]
    operations: RawOperations,
    #[serde(deserialize_with = "null_as_default")]
    metrics: RawMetrics,
    #[serde(deserialize_with = "null_as_default")]
    chaincode: RawChaincode,
    #[serde(deserialize_with = "null_as_default")]
    ledger: RawLedger,
    #[serde(deserialize_with = "null_as_default")]
    vm: RawVm,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawVm {
    #[serde(deserialize_with = "null_as_default")]
    docker: RawVmDocker,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawVmDocker {
    #[serde(rename = "hostconfig", deserialize_with = "null_as_default")]
    host_config: RawHostConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawHostConfig {
    #[serde(rename = "networkmode")]
    network_mode: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawPeer {
    id: Leaf,
    #[serde(rename = "networkid")]
    network_id: Leaf,
    #[serde(rename = "listenaddress")]
    listen_address: Leaf,
    address: Leaf,
    #[serde(rename = "chaincodelistenaddress")]
    chaincode_listen_address: Leaf,
    #[serde(rename = "chaincodeaddress")]
    chaincode_address: Leaf,
    #[serde(rename = "mspconfigpath")]
    msp_config_path: Leaf,
    #[serde(rename = "localmspid")]
    local_msp_id: Leaf,
    #[serde(rename = "filesystempath")]
    file_system_path: Leaf,
    #[serde(deserialize_with = "null_as_default")]
    tls: RawPeerTls,
    #[serde(deserialize_with = "null_as_default")]
    keepalive: RawKeepalive,
    #[serde(deserialize_with = "null_as_default")]
    authentication: RawAuthentication,
    #[serde(deserialize_with = "null_as_default")]
    client: RawClient,
    #[serde(deserialize_with = "null_as_default")]
    gateway: RawGateway,
    #[serde(rename = "deliveryclient", deserialize_with = "null_as_default")]
    delivery_client: RawDeliveryClient,
    #[serde(deserialize_with = "null_as_default")]
    limits: RawLimits,
    #[serde(rename = "maxrecvmsgsize")]
    max_recv_msg_size: Leaf,
    #[serde(rename = "maxsendmsgsize")]
    max_send_msg_size: Leaf,
}

/// `{ file: <path> }`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawFile {
    file: Leaf,
}

/// `{ files: [<path>, ...] }`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawFiles {
    files: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawPeerTls {
    enabled: Leaf,
    #[serde(deserialize_with = "null_as_default")]
    cert: RawFile,
    #[serde(deserialize_with = "null_as_default")]
    key: RawFile,
    #[serde(deserialize_with = "null_as_default")]
    rootcert: RawFile,
    #[serde(rename = "clientauthrequired")]
    client_auth_required: Leaf,
    #[serde(rename = "clientrootcas", deserialize_with = "null_as_default")]
    client_root_cas: RawFiles,
    #[serde(rename = "clientcert", deserialize_with = "null_as_default")]
    client_cert: RawFile,
    #[serde(rename = "clientkey", deserialize_with = "null_as_default")]
    client_key: RawFile,
    serverhostoverride: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawIntervalTimeout {
    interval: Leaf,
    timeout: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawKeepalive {
    interval: Leaf,
    timeout: Leaf,
    #[serde(rename = "mininterval")]
    min_interval: Leaf,
    #[serde(deserialize_with = "null_as_default")]
    client: RawIntervalTimeout,
    #[serde(rename = "deliveryclient", deserialize_with = "null_as_default")]
    delivery_client: RawIntervalTimeout,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawAuthentication {
    timewindow: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawClient {
    #[serde(rename = "conntimeout")]
    conn_timeout: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawGateway {
    enabled: Leaf,
    #[serde(rename = "endorsementtimeout")]
    endorsement_timeout: Leaf,
    #[serde(rename = "broadcasttimeout")]
    broadcast_timeout: Leaf,
    #[serde(rename = "dialtimeout")]
    dial_timeout: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawDeliveryClient {
    #[serde(rename = "reconnectbackoffthreshold")]
    reconnect_backoff_threshold: Leaf,
    #[serde(rename = "reconnecttotaltimethreshold")]
    reconnect_total_time_threshold: Leaf,
    #[serde(rename = "conntimeout")]
    conn_timeout: Leaf,
    #[serde(rename = "addressoverrides")]
    address_overrides: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawLimits {
    #[serde(deserialize_with = "null_as_default")]
    concurrency: RawConcurrency,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawConcurrency {
    #[serde(rename = "endorserservice")]
    endorser_service: Leaf,
    #[serde(rename = "deliverservice")]
    deliver_service: Leaf,
    #[serde(rename = "gatewayservice")]
    gateway_service: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawHttpTls {
    enabled: Leaf,
    #[serde(deserialize_with = "null_as_default")]
    cert: RawFile,
    #[serde(deserialize_with = "null_as_default")]
    key: RawFile,
    #[serde(rename = "clientauthrequired")]
    client_auth_required: Leaf,
    #[serde(rename = "clientrootcas", deserialize_with = "null_as_default")]
    client_root_cas: RawFiles,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawOperations {
    #[serde(rename = "listenaddress")]
    listen_address: Leaf,
    #[serde(deserialize_with = "null_as_default")]
    tls: RawHttpTls,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawMetrics {
    provider: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawChaincode {
    executetimeout: Leaf,
    #[serde(rename = "installtimeout")]
    install_timeout: Leaf,
    startuptimeout: Leaf,
    mode: Leaf,
    #[serde(deserialize_with = "null_as_default")]
    wasm: RawWasm,
    #[serde(deserialize_with = "null_as_default")]
    launcher: RawLauncher,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawLauncher {
    default: Leaf,
    docker: Leaf,
    wasm: Leaf,
    runner: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawWasm {
    fuel: Leaf,
    #[serde(rename = "memorylimit")]
    memory_limit: Leaf,
    #[serde(rename = "maxinstances")]
    max_instances: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawLedger {
    #[serde(deserialize_with = "null_as_default")]
    state: RawLedgerState,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawLedgerState {
    #[serde(rename = "totalquerylimit")]
    total_query_limit: Leaf,
}

// ---------------------------------------------------------------------------------------
// Validation

fn validate(raw: &RawConfig, base_dir: Option<&Path>) -> Result<PeerConfig, Vec<ConfigProblem>> {
    let mut c = Checker::new(base_dir);
    let config = build(raw, &mut c);
    c.finish(config)
}

/// Builds the typed configuration, recording problems in `c`.
fn build(raw: &RawConfig, c: &mut Checker<'_>) -> PeerConfig {
    PeerConfig {
        config_file: None,
        peer: build_peer(&raw.peer, c),
        operations: build_operations(&raw.operations, c),
        metrics: Metrics {
            provider: metrics_provider(&raw.metrics, c),
        },
        chaincode: build_chaincode(&raw.chaincode, &raw.ledger, &raw.vm, c),
    }
}

fn build_peer(p: &RawPeer, c: &mut Checker<'_>) -> Peer {
    let listen_address = c.listen_address(
        "peer.listenAddress",
        &p.listen_address,
        DEFAULT_LISTEN_ADDRESS,
    );
    let address = c.listen_address("peer.address", &p.address, DEFAULT_LISTEN_ADDRESS);
    let chaincode_listen_address =
        match c.string("peer.chaincodeListenAddress", &p.chaincode_listen_address) {
            Some(a) => {
                c.check_host_port("peer.chaincodeListenAddress", &a);
                a
            }
            None => {
                let host = localconfig::split_host_port(&address).map_or("0.0.0.0", |(h, _)| h);
                localconfig::join_host_port(host, DEFAULT_CHAINCODE_PORT)
            }
        };
    let chaincode_address = c.string("peer.chaincodeAddress", &p.chaincode_address);
    if let Some(a) = &chaincode_address {
        c.check_host_port("peer.chaincodeAddress", a);
    }

    let t = &p.tls;
    let tls = PeerTls {
        enabled: c.bool_or("peer.tls.enabled", &t.enabled, false),
        cert_file: c.path_or("peer.tls.cert.file", &t.cert.file, "tls/server.crt"),
        key_file: c.path_or("peer.tls.key.file", &t.key.file, "tls/server.key"),
        root_cert_file: c.path_or("peer.tls.rootcert.file", &t.rootcert.file, "tls/ca.crt"),
        client_auth_required: c.bool_or(
            "peer.tls.clientAuthRequired",
            &t.client_auth_required,
            false,
        ),
        client_root_cas: match c.list_opt("peer.tls.clientRootCAs.files", &t.client_root_cas.files)
        {
            Some(files) => files.iter().map(|f| c.resolve(f)).collect(),
            None => vec![c.resolve("tls/ca.crt")],
        },
        client_cert_file: c.path("peer.tls.clientCert.file", &t.client_cert.file),
        client_key_file: c.path("peer.tls.clientKey.file", &t.client_key.file),
        server_host_override: c.string("peer.tls.serverhostoverride", &t.serverhostoverride),
    };
    if tls.enabled && tls.client_auth_required && tls.client_root_cas.is_empty() {
        c.problem(
            "peer.tls.clientRootCAs.files",
            "must list at least one CA file when peer.tls.clientAuthRequired is true",
        );
    }

    let k = &p.keepalive;
    let keepalive = Keepalive {
        interval: c.duration_or("peer.keepalive.interval", &k.interval, secs(7200)),
        timeout: c.duration_or("peer.keepalive.timeout", &k.timeout, secs(20)),
        min_interval: c.duration_or("peer.keepalive.minInterval", &k.min_interval, secs(60)),
        client_interval: c.duration_or(
            "peer.keepalive.client.interval",
            &k.client.interval,
            secs(60),
        ),
        client_timeout: c.duration_or("peer.keepalive.client.timeout", &k.client.timeout, secs(20)),
        delivery_client_interval: c.duration_or(
            "peer.keepalive.deliveryClient.interval",
            &k.delivery_client.interval,
            secs(60),
        ),
        delivery_client_timeout: c.duration_or(
            "peer.keepalive.deliveryClient.timeout",
            &k.delivery_client.timeout,
            secs(20),
        ),
    };

    let g = &p.gateway;
    let gateway = Gateway {
        enabled: c.bool_or("peer.gateway.enabled", &g.enabled, true),
        endorsement_timeout: c.duration_or(
            "peer.gateway.endorsementTimeout",
            &g.endorsement_timeout,
            secs(30),
        ),
        broadcast_timeout: c.duration_or(
            "peer.gateway.broadcastTimeout",
            &g.broadcast_timeout,
            secs(30),
        ),
        dial_timeout: c.duration_or("peer.gateway.dialTimeout", &g.dial_timeout, secs(120)),
    };

    let d = &p.delivery_client;
    let delivery_client = DeliveryClient {
        reconnect_backoff_threshold: c.duration_or(
            "peer.deliveryclient.reConnectBackoffThreshold",
            &d.reconnect_backoff_threshold,
            secs(3600),
        ),
        reconnect_total_time_threshold: c.duration_or(
            "peer.deliveryclient.reconnectTotalTimeThreshold",
            &d.reconnect_total_time_threshold,
            secs(3600),
        ),
        conn_timeout: c.duration_or("peer.deliveryclient.connTimeout", &d.conn_timeout, secs(3)),
        address_overrides: address_overrides(&d.address_overrides, c),
    };

    let l = &p.limits.concurrency;
    let limits = Limits {
        endorser_service: c.count_or(
            "peer.limits.concurrency.endorserService",
            &l.endorser_service,
            2500,
        ),
        deliver_service: c.count_or(
            "peer.limits.concurrency.deliverService",
            &l.deliver_service,
            2500,
        ),
        gateway_service: c.count_or(
            "peer.limits.concurrency.gatewayService",
            &l.gateway_service,
            500,
        ),
    };

    Peer {
        id: c.string_or("peer.id", &p.id, DEFAULT_PEER_ID),
        network_id: c.string_or("peer.networkId", &p.network_id, DEFAULT_NETWORK_ID),
        listen_address,
        address,
        chaincode_listen_address,
        chaincode_address,
        msp_config_path: c.path_or(
            "peer.mspConfigPath",
            &p.msp_config_path,
            DEFAULT_MSP_CONFIG_PATH,
        ),
        local_msp_id: c.string_or("peer.localMspId", &p.local_msp_id, DEFAULT_LOCAL_MSP_ID),
        file_system_path: c.path_or(
            "peer.fileSystemPath",
            &p.file_system_path,
            DEFAULT_FILE_SYSTEM_PATH,
        ),
        tls,
        keepalive,
        authentication_time_window: c.duration_or(
            "peer.authentication.timewindow",
            &p.authentication.timewindow,
            secs(15 * 60),
        ),
        client_conn_timeout: c.duration_or(
            "peer.client.connTimeout",
            &p.client.conn_timeout,
            secs(3),
        ),
        gateway,
        delivery_client,
        limits,
        max_recv_msg_size: c.msg_size(
            "peer.maxRecvMsgSize",
            &p.max_recv_msg_size,
            DEFAULT_MAX_MSG_SIZE,
        ),
        max_send_msg_size: c.msg_size(
            "peer.maxSendMsgSize",
            &p.max_send_msg_size,
            DEFAULT_MAX_MSG_SIZE,
        ),
    }
}

/// `peer.deliveryclient.addressOverrides`: a list of `{from, to, caCertsFile}`; entries
/// with neither `from` nor `to` (the commented-out sample) are skipped.
fn address_overrides(leaf: &Leaf, c: &mut Checker<'_>) -> Vec<AddressOverride> {
    const KEY: &str = "peer.deliveryclient.addressOverrides";
    let items = match leaf {
        None | Some(serde_yaml::Value::Null) => return Vec::new(),
        Some(serde_yaml::Value::Sequence(items)) => items,
        Some(_) => {
            c.problem(KEY, "must be a list of {from, to, caCertsFile}");
            return Vec::new();
        }
    };
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct RawOverride {
        from: Leaf,
        to: Leaf,
        #[serde(rename = "cacertsfile")]
        ca_certs_file: Leaf,
    }
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let key = format!("{KEY}[{i}]");
        let raw = match RawOverride::deserialize(item.clone()) {
            Ok(raw) => raw,
            Err(e) => {
                c.problem(&key, format!("must be a map of from, to, caCertsFile: {e}"));
                continue;
            }
        };
        let from = c.string(&format!("{key}.from"), &raw.from);
        let to = c.string(&format!("{key}.to"), &raw.to);
        let ca_certs_file = c.path(&format!("{key}.caCertsFile"), &raw.ca_certs_file);
        match (from, to) {
            (None, None) if ca_certs_file.is_none() => {}
            (Some(from), Some(to)) => out.push(AddressOverride {
                from,
                to,
                ca_certs_file,
            }),
            _ => c.problem(&key, "needs both from and to"),
        }
    }
    out
}

fn build_operations(o: &RawOperations, c: &mut Checker<'_>) -> Operations {
    let listen_address = c.listen_address(
        "operations.listenAddress",
        &o.listen_address,
        DEFAULT_OPERATIONS_LISTEN_ADDRESS,
    );
    let t = &o.tls;
    let tls = HttpTls {
        enabled: c.bool_or("operations.tls.enabled", &t.enabled, false),
        cert_file: c
            .path("operations.tls.cert.file", &t.cert.file)
            .unwrap_or_default(),
        key_file: c
            .path("operations.tls.key.file", &t.key.file)
            .unwrap_or_default(),
        client_auth_required: c.bool_or(
            "operations.tls.clientAuthRequired",
            &t.client_auth_required,
            false,
        ),
        client_root_cas: c.paths(
            "operations.tls.clientRootCAs.files",
            &t.client_root_cas.files,
        ),
    };
    if tls.enabled {
        for (key, path) in [
            ("operations.tls.cert.file", &tls.cert_file),
            ("operations.tls.key.file", &tls.key_file),
        ] {
            if path.as_os_str().is_empty() {
                c.problem(key, "must be set when operations.tls.enabled is true");
            }
        }
        if tls.client_auth_required && tls.client_root_cas.is_empty() {
            c.problem(
                "operations.tls.clientRootCAs.files",
                "must list at least one CA file when operations.tls.clientAuthRequired is true",
            );
        }
    }
    Operations {
        listen_address,
        tls,
    }
}

fn metrics_provider(m: &RawMetrics, c: &mut Checker<'_>) -> MetricsProvider {
    const KEY: &str = "metrics.provider";
    match c
        .string(KEY, &m.provider)
        .map(|s| s.to_lowercase())
        .as_deref()
    {
        None | Some("disabled") => MetricsProvider::Disabled,
        Some("prometheus") => MetricsProvider::Prometheus,
        Some("statsd") => {
            c.problem(
                KEY,
                "statsd is not supported by Weft; use \"prometheus\" or \"disabled\"",
            );
            MetricsProvider::Disabled
        }
        Some(other) => {
            c.problem(
                KEY,
                format!("unknown provider {other:?} (\"prometheus\" or \"disabled\")"),
            );
            MetricsProvider::Disabled
        }
    }
}

fn build_chaincode(
    cc: &RawChaincode,
    ledger: &RawLedger,
    vm: &RawVm,
    c: &mut Checker<'_>,
) -> Chaincode {
    let default_launcher = match c.string("chaincode.launcher.default", &cc.launcher.default) {
        None => "wasm".to_owned(),
        Some(l) if l == "wasm" || l == "docker" => l,
        Some(other) => {
            c.problem(
                "chaincode.launcher.default",
                format!("unknown launcher {other:?} (\"wasm\" or \"docker\")"),
            );
            "wasm".to_owned()
        }
    };
    let launcher = LauncherSettings {
        default: default_launcher,
        docker: c.list("chaincode.launcher.docker", &cc.launcher.docker),
        wasm: c.list("chaincode.launcher.wasm", &cc.launcher.wasm),
        runner: c.path("chaincode.launcher.runner", &cc.launcher.runner),
        network_mode: c.string_or(
            "vm.docker.hostConfig.NetworkMode",
            &vm.docker.host_config.network_mode,
            "host",
        ),
    };
    let mode = match c.string("chaincode.mode", &cc.mode).as_deref() {
        None | Some("net") => ChaincodeMode::Net,
        Some("dev") => ChaincodeMode::Dev,
        Some(other) => {
            c.problem(
                "chaincode.mode",
                format!("unknown mode {other:?} (\"net\" or \"dev\")"),
            );
            ChaincodeMode::Net
        }
    };
    Chaincode {
        execute_timeout: c.duration_or("chaincode.executetimeout", &cc.executetimeout, secs(30)),
        install_timeout: c.duration_or("chaincode.installTimeout", &cc.install_timeout, secs(300)),
        startup_timeout: c.duration_or("chaincode.startuptimeout", &cc.startuptimeout, secs(300)),
        mode,
        wasm: WasmSettings {
            fuel: c
                .integer("chaincode.wasm.fuel", &cc.wasm.fuel)
                .filter(|f| *f > 0)
                .unwrap_or(10_000_000_000),
            memory_limit: c
                .integer("chaincode.wasm.memoryLimit", &cc.wasm.memory_limit)
                .filter(|m| *m > 0)
                .unwrap_or(64 << 20),
            max_instances: c
                .integer("chaincode.wasm.maxInstances", &cc.wasm.max_instances)
                .filter(|n| *n > 0)
                .map_or(256, |n| u32::try_from(n).unwrap_or(u32::MAX)),
        },
        launcher,
        total_query_limit: c
            .integer(
                "ledger.state.totalQueryLimit",
                &ledger.state.total_query_limit,
            )
            .filter(|n| *n > 0)
            .map_or(100_000, |n| u32::try_from(n).unwrap_or(u32::MAX)),
    }
}

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_ENV: [(&str, &str); 0] = [];

    /// Fabric's sample core.yaml, trimmed but with its shape and unknown sections.
    const SAMPLE: &str = r#"
peer:
    id: jdoe
    networkId: dev
    listenAddress: 0.0.0.0:7051
    address: 0.0.0.0:7051
    addressAutoDetect: false
    gateway:
        enabled: true
        endorsementTimeout: 30s
        broadcastTimeout: 30s
        dialTimeout: 2m
    keepalive:
        interval: 7200s
        timeout: 20s
        minInterval: 60s
        client:
            interval: 60s
            timeout: 20s
        deliveryClient:
            interval: 60s
            timeout: 20s
    gossip:
        bootstrap: 127.0.0.1:7051
        useLeaderElection: false
        orgLeader: true
    tls:
        enabled:  false
        clientAuthRequired: false
        cert:
            file: tls/server.crt
        key:
            file: tls/server.key
        rootcert:
            file: tls/ca.crt
        clientRootCAs:
            files:
              - tls/ca.crt
        clientKey:
            file:
        clientCert:
            file:
    authentication:
        timewindow: 15m
    fileSystemPath: /var/hyperledger/production
    BCCSP:
        Default: SW
        SW:
            Hash: SHA2
            Security: 256
    mspConfigPath: msp
    localMspId: SampleOrg
    client:
        connTimeout: 3s
    deliveryclient:
        blockGossipEnabled: true
        reconnectTotalTimeThreshold: 3600s
        connTimeout: 3s
        reConnectBackoffThreshold: 3600s
        addressOverrides:
    #        - from:
    #          to:
    #          caCertsFile:
    localMspType: bccsp
    profile:
        enabled:     false
        listenAddress: 0.0.0.0:6060
    discovery:
        enabled: true
    limits:
        concurrency:
            endorserService: 2500
            deliverService: 2500
            gatewayService: 500
    maxRecvMsgSize: 104857600
    maxSendMsgSize: 104857600
vm:
    endpoint: unix:///var/run/docker.sock
chaincode:
    id:
        path:
        name:
    builder: $(DOCKER_NS)/fabric-ccenv:$(TWO_DIGIT_VERSION)
    installTimeout: 300s
    startuptimeout: 300s
    executetimeout: 30s
    mode: net
    keepalive: 0
    system:
        _lifecycle: enable
        cscc: enable
ledger:
  state:
    stateDatabase: goleveldb
operations:
    listenAddress: 127.0.0.1:9443
    tls:
        enabled: false
        cert:
            file:
        key:
            file:
        clientAuthRequired: false
        clientRootCAs:
            files: []
metrics:
    provider: disabled
    statsd:
        network: udp
"#;

    fn problems(err: ConfigError) -> Vec<ConfigProblem> {
        match err {
            ConfigError::Invalid(p) => p,
            other => panic!("expected Invalid, got {other}"),
        }
    }

    fn problem_keys(err: ConfigError) -> Vec<String> {
        problems(err).into_iter().map(|p| p.key).collect()
    }

    fn assert_fabric_defaults(cfg: &PeerConfig) {
        let p = &cfg.peer;
        assert_eq!(p.id, "jdoe");
        assert_eq!(p.network_id, "dev");
        assert_eq!(p.listen_address, "0.0.0.0:7051");
        assert_eq!(p.address, "0.0.0.0:7051");
        assert_eq!(p.chaincode_listen_address, "0.0.0.0:7052");
        assert_eq!(p.chaincode_address, None);
        assert_eq!(p.local_msp_id, "SampleOrg");
        assert_eq!(
            p.file_system_path,
            PathBuf::from("/var/hyperledger/production")
        );
        assert!(!p.tls.enabled);
        assert!(!p.tls.client_auth_required);
        assert_eq!(p.tls.client_cert_file, None);
        assert_eq!(p.tls.client_key_file, None);
        assert_eq!(p.keepalive.interval, secs(7200));
        assert_eq!(p.keepalive.timeout, secs(20));
        assert_eq!(p.keepalive.min_interval, secs(60));
        assert_eq!(p.keepalive.client_interval, secs(60));
        assert_eq!(p.keepalive.delivery_client_timeout, secs(20));
        assert_eq!(p.authentication_time_window, secs(900));
        assert_eq!(p.client_conn_timeout, secs(3));
        assert_eq!(
            p.gateway,
            Gateway {
                enabled: true,
                endorsement_timeout: secs(30),
                broadcast_timeout: secs(30),
                dial_timeout: secs(120),
            }
        );
        assert_eq!(
            p.delivery_client,
            DeliveryClient {
                reconnect_backoff_threshold: secs(3600),
                reconnect_total_time_threshold: secs(3600),
                conn_timeout: secs(3),
                address_overrides: Vec::new(),
            }
        );
        assert_eq!(
            p.limits,
            Limits {
                endorser_service: 2500,
                deliver_service: 2500,
                gateway_service: 500,
            }
        );
        assert_eq!(p.max_recv_msg_size, DEFAULT_MAX_MSG_SIZE);
        assert_eq!(p.max_send_msg_size, DEFAULT_MAX_MSG_SIZE);
        assert_eq!(cfg.operations.listen_address, "127.0.0.1:9443");
        assert_eq!(cfg.operations.tls, HttpTls::default());
        assert_eq!(cfg.metrics.provider, MetricsProvider::Disabled);
        assert_eq!(
            cfg.chaincode,
            Chaincode {
                execute_timeout: secs(30),
                install_timeout: secs(300),
                startup_timeout: secs(300),
                mode: ChaincodeMode::Net,
                wasm: WasmSettings {
                    fuel: 10_000_000_000,
                    memory_limit: 64 << 20,
                    max_instances: 256,
                },
                launcher: LauncherSettings {
                    default: "wasm".into(),
                    docker: vec![],
                    wasm: vec![],
                    runner: None,
                    network_mode: "host".into(),
                },
                total_query_limit: 100_000,
            }
        );
    }

    #[test]
    fn wasm_limits_and_query_limit_come_from_file_and_env() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("core.yaml");
        std::fs::write(
            &file,
            "chaincode:\n  wasm:\n    fuel: 5000\n    memoryLimit: 1048576\nledger:\n  state:\n    totalQueryLimit: 77\n",
        )
        .expect("write");
        let cfg = PeerConfig::from_sources(
            Some(file.as_path()),
            [("CORE_CHAINCODE_WASM_MAXINSTANCES", "8")],
        )
        .expect("config");
        assert_eq!(
            cfg.chaincode.wasm,
            WasmSettings {
                fuel: 5000,
                memory_limit: 1 << 20,
                max_instances: 8,
            }
        );
        assert_eq!(cfg.chaincode.total_query_limit, 77);
    }

    #[test]
    fn defaults_without_any_file() {
        let cfg = PeerConfig::from_sources(None::<&Path>, NO_ENV).expect("defaults");
        assert_eq!(cfg.config_file, None);
        assert_fabric_defaults(&cfg);
        assert_eq!(cfg.peer.msp_config_path, PathBuf::from("msp"));
        assert_eq!(cfg.peer.tls.cert_file, PathBuf::from("tls/server.crt"));
        assert_eq!(cfg.peer.tls.root_cert_file, PathBuf::from("tls/ca.crt"));
        assert_eq!(
            cfg.peer.tls.client_root_cas,
            vec![PathBuf::from("tls/ca.crt")]
        );
        assert_eq!(PeerConfig::default(), cfg);
    }

    #[test]
    fn sample_file_parses_with_unknown_sections() {
        let cfg = PeerConfig::from_yaml_str(SAMPLE, Some(Path::new("/etc/peer")), NO_ENV)
            .expect("sample config");
        assert_fabric_defaults(&cfg);
        assert_eq!(cfg.peer.msp_config_path, PathBuf::from("/etc/peer/msp"));
        assert_eq!(
            cfg.peer.tls.key_file,
            PathBuf::from("/etc/peer/tls/server.key")
        );
        assert_eq!(
            cfg.peer.tls.client_root_cas,
            vec![PathBuf::from("/etc/peer/tls/ca.crt")]
        );
    }

    #[test]
    fn env_overrides_file_values() {
        // What test-network's compose file sets for peer0.org1.example.com, plus the
        // client-side variables its scripts export.
        let env = [
            ("CORE_PEER_ID", "peer0.org1.example.com"),
            ("CORE_PEER_ADDRESS", "peer0.org1.example.com:7051"),
            ("CORE_PEER_LISTENADDRESS", "0.0.0.0:7051"),
            ("CORE_PEER_CHAINCODEADDRESS", "peer0.org1.example.com:7052"),
            ("CORE_PEER_CHAINCODELISTENADDRESS", "0.0.0.0:7052"),
            ("CORE_PEER_GOSSIP_BOOTSTRAP", "peer0.org1.example.com:7051"),
            ("CORE_PEER_LOCALMSPID", "Org1MSP"),
            ("CORE_PEER_MSPCONFIGPATH", "/etc/hyperledger/peer/msp"),
            ("CORE_PEER_TLS_ENABLED", "true"),
            (
                "CORE_PEER_TLS_CERT_FILE",
                "/etc/hyperledger/fabric/tls/server.crt",
            ),
            (
                "CORE_PEER_TLS_KEY_FILE",
                "/etc/hyperledger/fabric/tls/server.key",
            ),
            (
                "CORE_PEER_TLS_ROOTCERT_FILE",
                "/etc/hyperledger/fabric/tls/ca.crt",
            ),
            ("CORE_PEER_TLS_CLIENTROOTCAS_FILES", "[tls/a.crt, /b.crt]"),
            (
                "CORE_OPERATIONS_LISTENADDRESS",
                "peer0.org1.example.com:9444",
            ),
            ("CORE_METRICS_PROVIDER", "prometheus"),
            ("CORE_CHAINCODE_EXECUTETIMEOUT", "300s"),
            ("CORE_LEDGER_STATE_STATEDATABASE", "goleveldb"),
            ("CORE_PEER_GATEWAY_DIALTIMEOUT", "1m30s"),
            ("CORE_PEER_DELIVERYCLIENT_RECONNECTBACKOFFTHRESHOLD", "10s"),
            ("CORE_PEER_LIMITS_CONCURRENCY_GATEWAYSERVICE", "50"),
            ("FABRIC_LOGGING_SPEC", "INFO"),
            // Empty values do not override; other prefixes are ignored.
            ("CORE_PEER_NETWORKID", ""),
            ("ORDERER_GENERAL_LISTENPORT", "7050"),
        ];
        let cfg = PeerConfig::from_yaml_str(SAMPLE, Some(Path::new("/cfg")), env)
            .expect("config with overrides");
        let p = &cfg.peer;
        assert_eq!(p.id, "peer0.org1.example.com");
        assert_eq!(p.network_id, "dev");
        assert_eq!(p.address, "peer0.org1.example.com:7051");
        assert_eq!(p.chaincode_listen_address, "0.0.0.0:7052");
        assert_eq!(
            p.chaincode_address.as_deref(),
            Some("peer0.org1.example.com:7052")
        );
        assert_eq!(p.local_msp_id, "Org1MSP");
        assert_eq!(
            p.msp_config_path,
            PathBuf::from("/etc/hyperledger/peer/msp")
        );
        assert!(p.tls.enabled);
        assert_eq!(
            p.tls.root_cert_file,
            PathBuf::from("/etc/hyperledger/fabric/tls/ca.crt")
        );
        assert_eq!(
            p.tls.client_root_cas,
            vec![PathBuf::from("/cfg/tls/a.crt"), PathBuf::from("/b.crt")]
        );
        assert_eq!(cfg.operations.listen_address, "peer0.org1.example.com:9444");
        assert_eq!(cfg.metrics.provider, MetricsProvider::Prometheus);
        assert_eq!(cfg.chaincode.execute_timeout, secs(300));
        assert_eq!(p.gateway.dial_timeout, secs(90));
        assert_eq!(p.delivery_client.reconnect_backoff_threshold, secs(10));
        assert_eq!(p.limits.gateway_service, 50);
        assert_eq!(p.limits.endorser_service, 2500);
    }

    #[test]
    fn file_values_win_over_defaults_and_env_over_file() {
        let yaml = "peer:\n  id: from-file\n  localMspId: FileMSP\n";
        let cfg =
            PeerConfig::from_yaml_str(yaml, None, [("CORE_PEER_ID", "from-env")]).expect("config");
        assert_eq!(cfg.peer.id, "from-env");
        assert_eq!(cfg.peer.local_msp_id, "FileMSP");
        assert_eq!(cfg.peer.network_id, DEFAULT_NETWORK_ID);
    }

    #[test]
    fn keys_and_variable_names_match_case_insensitively() {
        let yaml = "PEER:\n  LocalMSPID: Org2MSP\n  TLS:\n    Enabled: TRUE\n";
        let env = [("core_peer_address", "localhost:9051")];
        let cfg = PeerConfig::from_yaml_str(yaml, None, env).expect("config");
        assert_eq!(cfg.peer.local_msp_id, "Org2MSP");
        assert!(cfg.peer.tls.enabled);
        assert_eq!(cfg.peer.address, "localhost:9051");
    }

    #[test]
    fn relative_paths_resolve_against_the_config_file_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("core.yaml");
        std::fs::write(
            &file,
            "peer:\n  mspConfigPath: msp\n  fileSystemPath: data\n  tls:\n    cert:\n      \
             file: tls/server.crt\n    key:\n      file: /abs/server.key\n    clientCert:\n      \
             file: tls/client.crt\n  deliveryclient:\n    addressOverrides:\n      - from: \
             orderer.example.com:7050\n        to: localhost:7050\n        caCertsFile: \
             tls/orderer-ca.crt\n",
        )
        .expect("write");
        // Relative values from the environment resolve against the file's directory too,
        // as Fabric's `config.GetPath` does.
        let env = [("CORE_PEER_TLS_ROOTCERT_FILE", "tls/ca.crt")];
        let cfg = PeerConfig::from_sources(Some(&file), env).expect("config");
        let base = dir.path();
        assert_eq!(cfg.config_file.as_deref(), Some(file.as_path()));
        assert_eq!(cfg.peer.msp_config_path, base.join("msp"));
        assert_eq!(cfg.peer.file_system_path, base.join("data"));
        assert_eq!(cfg.peer.tls.cert_file, base.join("tls/server.crt"));
        assert_eq!(cfg.peer.tls.key_file, PathBuf::from("/abs/server.key"));
        assert_eq!(cfg.peer.tls.root_cert_file, base.join("tls/ca.crt"));
        assert_eq!(
            cfg.peer.tls.client_cert_file,
            Some(base.join("tls/client.crt"))
        );
        // Defaults are relative to the config directory as well.
        assert_eq!(cfg.peer.tls.client_root_cas, vec![base.join("tls/ca.crt")]);
        assert_eq!(
            cfg.peer.delivery_client.address_overrides,
            vec![AddressOverride {
                from: "orderer.example.com:7050".into(),
                to: "localhost:7050".into(),
                ca_certs_file: Some(base.join("tls/orderer-ca.crt")),
            }]
        );
        assert_eq!(
            cfg.peer.channel_ledger_dir("mychannel"),
            base.join("data/ledgersData/chains/mychannel")
        );
    }

    #[test]
    fn bad_values_are_reported_together() {
        let yaml = r#"
peer:
  listenAddress: 0.0.0.0
  chaincodeAddress: nohostport
  tls:
    enabled: maybe
  keepalive:
    interval: 5 seconds
  gateway:
    enabled: yes-please
  deliveryclient:
    addressOverrides:
      - from: a:1
  limits:
    concurrency:
      endorserService: lots
  maxRecvMsgSize: 4294967296
operations:
  listenAddress: localhost
  tls:
    enabled: true
metrics:
  provider: statsd
chaincode:
  mode: debug
"#;
        let env = [
            ("CORE_CHAINCODE_EXECUTETIMEOUT", "soon"),
            ("CORE_PEER_CLIENT_CONNTIMEOUT", "-3s"),
        ];
        let err = PeerConfig::from_yaml_str(yaml, None, env).expect_err("invalid");
        let text = err.to_string();
        let keys = problem_keys(err);
        for expected in [
            "peer.listenAddress",
            "peer.chaincodeAddress",
            "peer.tls.enabled",
            "peer.keepalive.interval",
            "peer.gateway.enabled",
            "peer.deliveryclient.addressOverrides[0]",
            "peer.limits.concurrency.endorserService",
            "peer.maxRecvMsgSize",
            "peer.client.connTimeout",
            "operations.listenAddress",
            "operations.tls.cert.file",
            "operations.tls.key.file",
            "metrics.provider",
            "chaincode.mode",
            "chaincode.executetimeout",
        ] {
            assert!(
                keys.iter().any(|k| k == expected),
                "{expected} not in {keys:?}"
            );
        }
        assert!(text.starts_with("invalid peer configuration: "), "{text}");
        assert!(text.contains("statsd is not supported"), "{text}");
    }

    #[test]
    fn mutual_tls_needs_client_roots() {
        let env = [
            ("CORE_PEER_TLS_ENABLED", "true"),
            ("CORE_PEER_TLS_CLIENTAUTHREQUIRED", "true"),
            ("CORE_PEER_TLS_CLIENTROOTCAS_FILES", "[]"),
        ];
        let keys = problem_keys(PeerConfig::from_yaml_str("", None, env).expect_err("no roots"));
        assert_eq!(keys, vec!["peer.tls.clientRootCAs.files"]);
    }

    #[test]
    fn load_errors_name_the_file() {
        let err = PeerConfig::from_sources(Some(Path::new("/nonexistent/core.yaml")), NO_ENV)
            .expect_err("missing file");
        assert!(
            matches!(err, ConfigError::Load(LoadError::Read { .. })),
            "{err}"
        );
        let err = PeerConfig::from_yaml_str("peer: [1, 2", None, NO_ENV).expect_err("bad yaml");
        assert!(
            matches!(err, ConfigError::Load(LoadError::Parse { .. })),
            "{err}"
        );
        let err = PeerConfig::from_yaml_str("peer: 5", None, NO_ENV).expect_err("scalar");
        assert!(
            matches!(err, ConfigError::Load(LoadError::Parse { .. })),
            "{err}"
        );
    }

    #[test]
    fn chaincode_endpoint_follows_fabric() {
        let endpoint = |env: &[(&str, &str)]| {
            PeerConfig::from_yaml_str("", None, env.iter().copied())
                .expect("config")
                .peer
                .chaincode_endpoint()
        };
        // Case A: chaincodeAddress wins, unless unspecified.
        assert_eq!(
            endpoint(&[("CORE_PEER_CHAINCODEADDRESS", "peer0:7052")]).as_deref(),
            Some("peer0:7052")
        );
        assert_eq!(
            endpoint(&[("CORE_PEER_CHAINCODEADDRESS", "0.0.0.0:7052")]),
            None
        );
        // Case B: a specified chaincodeListenAddress; an unspecified one takes the host
        // of peer.address with its own port.
        assert_eq!(
            endpoint(&[("CORE_PEER_CHAINCODELISTENADDRESS", "10.0.0.5:7152")]).as_deref(),
            Some("10.0.0.5:7152")
        );
        assert_eq!(
            endpoint(&[
                ("CORE_PEER_CHAINCODELISTENADDRESS", "0.0.0.0:7152"),
                ("CORE_PEER_ADDRESS", "peer0.org1.example.com:7051"),
            ])
            .as_deref(),
            Some("peer0.org1.example.com:7152")
        );
        // Case C: peer.address host, port 7052; D: nothing dialable.
        assert_eq!(
            endpoint(&[("CORE_PEER_ADDRESS", "peer0.org1.example.com:7051")]).as_deref(),
            Some("peer0.org1.example.com:7052")
        );
        assert_eq!(endpoint(&[]), None);
        // The default listen address follows peer.address's host.
        let cfg = PeerConfig::from_yaml_str("", None, [("CORE_PEER_ADDRESS", "[::1]:7051")])
            .expect("config");
        assert_eq!(cfg.peer.chaincode_listen_address, "[::1]:7052");
    }

    #[test]
    fn node_client_certificate_falls_back_to_the_server_one() {
        let cfg = PeerConfig::default();
        assert_eq!(cfg.peer.tls.client_cert(), cfg.peer.tls.cert_file.as_path());
        assert_eq!(cfg.peer.tls.client_key(), cfg.peer.tls.key_file.as_path());
        let cfg = PeerConfig::from_yaml_str(
            "",
            None,
            [
                ("CORE_PEER_TLS_CLIENTCERT_FILE", "/c.crt"),
                ("CORE_PEER_TLS_CLIENTKEY_FILE", "/c.key"),
            ],
        )
        .expect("config");
        assert_eq!(cfg.peer.tls.client_cert(), Path::new("/c.crt"));
        assert_eq!(cfg.peer.tls.client_key(), Path::new("/c.key"));
    }

    #[test]
    fn env_var_names_follow_fabric() {
        assert_eq!(env_var_name("peer.tls.enabled"), "CORE_PEER_TLS_ENABLED");
        assert_eq!(
            env_var_name("peer.tls.rootcert.file"),
            "CORE_PEER_TLS_ROOTCERT_FILE"
        );
        assert_eq!(
            env_var_name("peer.mspConfigPath"),
            "CORE_PEER_MSPCONFIGPATH"
        );
        assert_eq!(
            env_var_name("chaincode.executetimeout"),
            "CORE_CHAINCODE_EXECUTETIMEOUT"
        );
    }

    #[test]
    fn fabric_cfg_path_locates_core_yaml() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            localconfig::find_config_file(CONFIG_NAME, Some(dir.path())),
            None
        );
        std::fs::write(dir.path().join("core.yaml"), "peer:\n  id: p\n").expect("write");
        let file = localconfig::find_config_file(CONFIG_NAME, Some(dir.path())).expect("found");
        let cfg = PeerConfig::from_sources(Some(&file), NO_ENV).expect("config");
        assert_eq!(cfg.peer.id, "p");
        assert_eq!(cfg.peer.msp_config_path, dir.path().join("msp"));
    }
}
