//! The chaincode runner: a WASM chaincode as its own process, the way a Fabric chaincode
//! container runs. It reads the settings a Fabric peer gives a chaincode container
//! ([`RunnerConfig::from_env`]), dials the peer's chaincode listener, opens
//! `/protos.ChaincodeSupport/Register`, and serves transactions with the same WASM
//! runtime the peer embeds (`weft-wasm-host`), so the chaincode behaves exactly as under
//! the in-process `wasm` launcher.
//!
//! It has no storage code (no RocksDB), so it links statically into a small binary for a
//! `FROM scratch` image (the peer's `docker` launcher builds one).

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use weft_common::grpc::{self, ClientOptions, ClientTls};
use weft_proto::protos::chaincode_support_client::ChaincodeSupportClient;
use weft_wasm_host::{EngineConfig, TxLimits, WasmEngine};

/// Where the module is when `WEFT_CHAINCODE_WASM` is not set (the image layout).
pub const DEFAULT_MODULE_PATH: &str = "/chaincode.wasm";

/// How many messages may wait in each direction of the stream.
const STREAM_BUFFER: usize = 64;

/// Why the runner stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// A required setting is missing or malformed.
    #[error("{0}")]
    Config(String),
    /// A file (module, certificate, key) could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TLS material does not form a usable client configuration.
    #[error("TLS settings: {0}")]
    Tls(String),
    /// The module is not a valid chaincode.
    #[error("cannot load the chaincode module: {0}")]
    Module(String),
    /// The peer could not be reached or the stream failed.
    #[error("{0}")]
    Peer(String),
}

/// The settings of a chaincode process, with Fabric's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerConfig {
    /// `CORE_CHAINCODE_ID_NAME`: the id the chaincode registers under (the package id).
    pub chaincode_id: String,
    /// `CORE_PEER_ADDRESS` or `-peer.address=`: the peer's chaincode listener.
    pub peer_address: String,
    /// `CORE_PEER_TLS_ENABLED`.
    pub tls_enabled: bool,
    /// `CORE_PEER_TLS_ROOTCERT_FILE`: the CA the peer's certificate chains to.
    pub root_cert_file: Option<PathBuf>,
    /// `CORE_TLS_CLIENT_CERT_PATH` and `CORE_TLS_CLIENT_KEY_PATH`: the client certificate
    /// the peer issued for this chaincode.
    pub client_cert_file: Option<PathBuf>,
    /// The client key (see `client_cert_file`).
    pub client_key_file: Option<PathBuf>,
    /// `CORE_PEER_TLS_SERVERHOSTOVERRIDE`: the name to verify the peer's certificate
    /// against instead of the address's host.
    pub server_name_override: Option<String>,
    /// `WEFT_CHAINCODE_WASM`: the module.
    pub module: PathBuf,
    /// `WEFT_CHAINCODE_FUEL`: fuel per transaction.
    pub fuel: u64,
    /// `WEFT_CHAINCODE_MEMORY_LIMIT`: linear memory cap per instance, bytes.
    pub memory_limit: usize,
    /// `WEFT_CHAINCODE_EXECUTE_TIMEOUT_SECS`: wall-clock backstop per transaction.
    pub execute_timeout: Duration,
}

impl RunnerConfig {
    /// Reads the settings from `vars` (the environment) and `args` (the command line,
    /// where Fabric passes `-peer.address=<host:port>`).
    pub fn from_env(
        vars: impl Fn(&str) -> Option<String>,
        args: &[String],
    ) -> Result<Self, RunnerError> {
        let non_empty = |name: &str| vars(name).filter(|v| !v.is_empty());
        let chaincode_id = non_empty("CORE_CHAINCODE_ID_NAME")
            .ok_or_else(|| RunnerError::Config("CORE_CHAINCODE_ID_NAME must be set".into()))?;
        let from_args = args.iter().find_map(|a| {
            a.strip_prefix("-peer.address=")
                .or_else(|| a.strip_prefix("--peer.address="))
                .map(str::to_owned)
        });
        let peer_address = from_args
            .or_else(|| non_empty("CORE_PEER_ADDRESS"))
            .ok_or_else(|| {
                RunnerError::Config(
                    "the peer address must be given (-peer.address=<host:port> or CORE_PEER_ADDRESS)"
                        .into(),
                )
            })?;
        let tls_enabled = match non_empty("CORE_PEER_TLS_ENABLED").as_deref() {
            None => false,
            Some(v) => parse_bool(v).ok_or_else(|| {
                RunnerError::Config(format!("CORE_PEER_TLS_ENABLED: not a boolean: {v:?}"))
            })?,
        };
        let number = |name: &str, default: u64| -> Result<u64, RunnerError> {
            match non_empty(name) {
                None => Ok(default),
                Some(v) => v
                    .parse()
                    .map_err(|_| RunnerError::Config(format!("{name}: not a number: {v:?}"))),
            }
        };
        let defaults = EngineConfig::default();
        let limits = TxLimits::default();
        let config = RunnerConfig {
            chaincode_id,
            peer_address,
            tls_enabled,
            root_cert_file: non_empty("CORE_PEER_TLS_ROOTCERT_FILE").map(PathBuf::from),
            client_cert_file: non_empty("CORE_TLS_CLIENT_CERT_PATH").map(PathBuf::from),
            client_key_file: non_empty("CORE_TLS_CLIENT_KEY_PATH").map(PathBuf::from),
            server_name_override: non_empty("CORE_PEER_TLS_SERVERHOSTOVERRIDE"),
            module: non_empty("WEFT_CHAINCODE_WASM")
                .map_or_else(|| PathBuf::from(DEFAULT_MODULE_PATH), PathBuf::from),
            fuel: number("WEFT_CHAINCODE_FUEL", limits.fuel)?,
            memory_limit: usize::try_from(number(
                "WEFT_CHAINCODE_MEMORY_LIMIT",
                defaults.max_memory_bytes as u64,
            )?)
            .map_err(|_| RunnerError::Config("WEFT_CHAINCODE_MEMORY_LIMIT is too large".into()))?,
            execute_timeout: Duration::from_secs(number(
                "WEFT_CHAINCODE_EXECUTE_TIMEOUT_SECS",
                limits.timeout.as_secs(),
            )?),
        };
        if config.tls_enabled && config.root_cert_file.is_none() {
            return Err(RunnerError::Config(
                "CORE_PEER_TLS_ENABLED is true but CORE_PEER_TLS_ROOTCERT_FILE is not set".into(),
            ));
        }
        if config.client_cert_file.is_some() != config.client_key_file.is_some() {
            return Err(RunnerError::Config(
                "CORE_TLS_CLIENT_CERT_PATH and CORE_TLS_CLIENT_KEY_PATH go together".into(),
            ));
        }
        Ok(config)
    }

    /// The TLS client settings, if TLS is enabled.
    fn client_tls(&self) -> Result<Option<ClientTls>, RunnerError> {
        if !self.tls_enabled {
            return Ok(None);
        }
        let read = |path: &PathBuf| {
            std::fs::read(path).map_err(|source| RunnerError::Read {
                path: path.clone(),
                source,
            })
        };
        let roots = match &self.root_cert_file {
            Some(path) => read(path)?,
            None => return Err(RunnerError::Config("no TLS root certificate".into())),
        };
        let identity = match (&self.client_cert_file, &self.client_key_file) {
            (Some(cert), Some(key)) => Some((read(cert)?, read(key)?)),
            _ => None,
        };
        let config = weft_common::tls::client_config_from_pem(
            &roots,
            identity
                .as_ref()
                .map(|(cert, key)| (cert.as_slice(), key.as_slice())),
        )
        .map_err(|e| RunnerError::Tls(e.to_string()))?;
        Ok(Some(ClientTls {
            config,
            server_name_override: self.server_name_override.clone(),
        }))
    }
}

/// Fabric's (Go `strconv.ParseBool`) booleans.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Loads the module, registers with the peer and serves transactions until the peer
/// closes the stream (then `Err`: a chaincode process ends when its peer goes away, and
/// the launcher restarts it).
pub async fn run(config: &RunnerConfig) -> Result<(), RunnerError> {
    let wasm = std::fs::read(&config.module).map_err(|source| RunnerError::Read {
        path: config.module.clone(),
        source,
    })?;
    let engine = WasmEngine::new(EngineConfig {
        max_memory_bytes: config.memory_limit,
        ..EngineConfig::default()
    })
    .map_err(|e| RunnerError::Module(e.to_string()))?;
    let chaincode = engine
        .load(&wasm)
        .map_err(|e| RunnerError::Module(e.to_string()))?;
    let tls = config.client_tls()?;
    let channel = grpc::connect(&config.peer_address, tls, &ClientOptions::default())
        .await
        .map_err(|e| RunnerError::Peer(format!("error connecting to the peer: {e}")))?;

    let (to_peer, outbox) = mpsc::channel(STREAM_BUFFER);
    let (inbox, from_peer) = mpsc::channel(STREAM_BUFFER);
    let limits = TxLimits {
        fuel: config.fuel,
        timeout: config.execute_timeout,
    };
    let id = config.chaincode_id.clone();
    let serving =
        tokio::spawn(async move { chaincode.serve(id, limits, from_peer, to_peer).await });
    let mut stream = ChaincodeSupportClient::new(channel)
        .register(ReceiverStream::new(outbox))
        .await
        .map_err(|e| RunnerError::Peer(format!("register: {}", e.message())))?
        .into_inner();
    tracing::info!(chaincode = %config.chaincode_id, peer = %config.peer_address, "stream to the peer open");
    let ended = loop {
        match stream.message().await {
            Ok(Some(msg)) => {
                if inbox.send(msg).await.is_err() {
                    break "the chaincode stopped serving".to_owned();
                }
            }
            Ok(None) => break "the peer closed the stream".to_owned(),
            Err(e) => break format!("the stream failed: {}", e.message()),
        }
    };
    drop(inbox);
    let served = serving
        .await
        .map_err(|e| RunnerError::Peer(format!("the chaincode task failed: {e}")))?;
    match served {
        Err(e) => Err(RunnerError::Peer(format!("{ended}: {e}"))),
        Ok(()) => Err(RunnerError::Peer(ended)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)], args: &[&str]) -> Result<RunnerConfig, RunnerError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        RunnerConfig::from_env(|name| vars.get(name).cloned(), &args)
    }

    #[test]
    fn reads_fabrics_container_settings() {
        let c = config(
            &[
                ("CORE_CHAINCODE_ID_NAME", "basic_1.0:abc"),
                ("CORE_PEER_ADDRESS", "127.0.0.1:9999"),
                ("CORE_PEER_TLS_ENABLED", "true"),
                (
                    "CORE_PEER_TLS_ROOTCERT_FILE",
                    "/etc/hyperledger/fabric/peer.crt",
                ),
                (
                    "CORE_TLS_CLIENT_CERT_PATH",
                    "/etc/hyperledger/fabric/client.crt",
                ),
                (
                    "CORE_TLS_CLIENT_KEY_PATH",
                    "/etc/hyperledger/fabric/client.key",
                ),
                ("WEFT_CHAINCODE_FUEL", "1000"),
            ],
            &["chaincode", "-peer.address=127.0.0.1:7052"],
        )
        .expect("config");
        assert_eq!(c.chaincode_id, "basic_1.0:abc");
        // The command-line flag wins, as the shim reads it first.
        assert_eq!(c.peer_address, "127.0.0.1:7052");
        assert!(c.tls_enabled);
        assert_eq!(c.fuel, 1000);
        assert_eq!(c.module, PathBuf::from(DEFAULT_MODULE_PATH));
    }

    #[test]
    fn refuses_incomplete_settings() {
        let missing_id = config(&[("CORE_PEER_ADDRESS", "a:1")], &[]);
        assert!(
            missing_id
                .unwrap_err()
                .to_string()
                .contains("CORE_CHAINCODE_ID_NAME")
        );
        let missing_peer = config(&[("CORE_CHAINCODE_ID_NAME", "x")], &[]);
        assert!(
            missing_peer
                .unwrap_err()
                .to_string()
                .contains("peer address")
        );
        let tls_without_root = config(
            &[
                ("CORE_CHAINCODE_ID_NAME", "x"),
                ("CORE_PEER_ADDRESS", "a:1"),
                ("CORE_PEER_TLS_ENABLED", "true"),
            ],
            &[],
        );
        assert!(
            tls_without_root
                .unwrap_err()
                .to_string()
                .contains("ROOTCERT")
        );
        let bad_bool = config(
            &[
                ("CORE_CHAINCODE_ID_NAME", "x"),
                ("CORE_PEER_ADDRESS", "a:1"),
                ("CORE_PEER_TLS_ENABLED", "yes"),
            ],
            &[],
        );
        assert!(bad_bool.unwrap_err().to_string().contains("not a boolean"));
    }

    #[tokio::test]
    async fn a_missing_module_is_reported_before_dialing() {
        let c = config(
            &[
                ("CORE_CHAINCODE_ID_NAME", "x"),
                ("CORE_PEER_ADDRESS", "127.0.0.1:1"),
                ("WEFT_CHAINCODE_WASM", "/nonexistent/chaincode.wasm"),
            ],
            &[],
        )
        .expect("config");
        let err = run(&c).await.expect_err("no module");
        assert!(
            err.to_string().contains("/nonexistent/chaincode.wasm"),
            "{err}"
        );
    }
}
