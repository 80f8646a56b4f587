//! Launchers: how a chaincode comes to life. Each one only produces a ChaincodeMessage
//! stream that [`ChaincodeSupport::connect`] hands to a [`Handler`](super::Handler); the
//! handler never knows which launcher it talks to.
//!
//! - [`WasmLauncher`] (package type `wasm`, the default): the module is compiled at
//!   install and its artifact cached on disk; at launch an in-process WASM shim
//!   (`weft_wasm_host`) registers over a pair of channels and runs every transaction in
//!   a fresh sandboxed instance.
//! - [`CcaasLauncher`] (package type `ccaas`): the peer dials the chaincode server named
//!   in the package's `connection.json` and opens `/protos.Chaincode/Connect`.
//! - External processes registering over `/protos.ChaincodeSupport/Register` (dev mode,
//!   `fabric-shim` chaincodes) need no launcher: see [`super::listener`].

use std::collections::HashMap;
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use weft_common::grpc::{self, ClientOptions, ClientTls};
use weft_proto::protos::chaincode_client::ChaincodeClient;
use weft_wasm_host::{LoadKind, TxLimits, WasmChaincode, WasmEngine};

use super::package::ChaincodePackage;
use super::support::ChaincodeSupport;

/// Messages buffered between a chaincode and its handler, each way.
const STREAM_BUFFER: usize = 256;

/// Starts chaincodes of one package type.
pub trait Launcher: Send + Sync + Debug {
    /// Prepares an installed package for fast launches (e.g. compiles a module). Called
    /// at install; may be a no-op.
    fn prepare<'a>(
        &'a self,
        ccid: &'a str,
        package: &'a ChaincodePackage,
    ) -> BoxFuture<'a, Result<(), String>>;

    /// Starts chaincode `ccid`; it must then register through
    /// [`ChaincodeSupport::connect`]. Returns once started (registration is awaited by
    /// the caller).
    fn start<'a>(
        &'a self,
        support: &'a Arc<ChaincodeSupport>,
        ccid: &'a str,
        package: &'a ChaincodePackage,
    ) -> BoxFuture<'a, Result<(), String>>;
}

/// The `wasm` launcher.
pub struct WasmLauncher {
    engine: WasmEngine,
    cache_dir: PathBuf,
    limits: TxLimits,
    modules: Mutex<HashMap<String, WasmChaincode>>,
}

impl Debug for WasmLauncher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmLauncher")
            .field("cache_dir", &self.cache_dir)
            .finish_non_exhaustive()
    }
}

impl WasmLauncher {
    /// A launcher running modules on `engine`, caching compiled artifacts in
    /// `cache_dir`, each transaction within `limits`.
    pub fn new(engine: WasmEngine, cache_dir: PathBuf, limits: TxLimits) -> Self {
        Self {
            engine,
            cache_dir,
            limits,
            modules: Mutex::default(),
        }
    }

    /// The engine (for its statistics).
    pub fn engine(&self) -> &WasmEngine {
        &self.engine
    }

    /// The module of `ccid`: in memory, else loaded from the artifact cache, else
    /// compiled (off the async workers).
    async fn module(
        &self,
        ccid: &str,
        package: &ChaincodePackage,
    ) -> Result<WasmChaincode, String> {
        if let Some(module) = self.lock().get(ccid) {
            return Ok(module.clone());
        }
        let wasm = package.wasm_module().map_err(|e| e.to_string())?;
        let engine = self.engine.clone();
        let cache_dir = self.cache_dir.clone();
        let id = ccid.to_owned();
        let started = std::time::Instant::now();
        let (module, kind) =
            tokio::task::spawn_blocking(move || engine.load_cached(&cache_dir, &id, &wasm))
                .await
                .map_err(|e| format!("loading the module failed: {e}"))?
                .map_err(|e| e.to_string())?;
        tracing::info!(
            chaincode = %ccid,
            how = match kind { LoadKind::Compiled => "compiled", LoadKind::FromCache => "from cache" },
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "WASM chaincode module loaded"
        );
        self.lock().insert(ccid.to_owned(), module.clone());
        Ok(module)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, WasmChaincode>> {
        self.modules.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Launcher for WasmLauncher {
    fn prepare<'a>(
        &'a self,
        ccid: &'a str,
        package: &'a ChaincodePackage,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { self.module(ccid, package).await.map(|_| ()) })
    }

    fn start<'a>(
        &'a self,
        support: &'a Arc<ChaincodeSupport>,
        ccid: &'a str,
        package: &'a ChaincodePackage,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let module = self.module(ccid, package).await?;
            let (to_chaincode, chaincode_inbox) = mpsc::channel(STREAM_BUFFER);
            let (chaincode_outbox, from_chaincode) = mpsc::channel(STREAM_BUFFER);
            let id = ccid.to_owned();
            let limits = self.limits;
            tokio::spawn(async move {
                if let Err(e) = module
                    .serve(id.clone(), limits, chaincode_inbox, chaincode_outbox)
                    .await
                {
                    tracing::warn!(chaincode = %id, error = %e, "WASM chaincode shim stopped");
                }
            });
            support.connect(ReceiverStream::new(from_chaincode).map(Ok), to_chaincode);
            Ok(())
        })
    }
}

/// `connection.json` of a `ccaas` package (Fabric's fields).
#[derive(Debug, Clone, Deserialize)]
pub struct ConnectionInfo {
    /// `host:port` of the chaincode server.
    pub address: String,
    /// How long to wait for the connection (Go duration, e.g. "10s"; default 10 s).
    #[serde(default)]
    pub dial_timeout: String,
    /// Whether the server speaks TLS.
    #[serde(default)]
    pub tls_required: bool,
    /// Whether the server requires a client certificate.
    #[serde(default)]
    pub client_auth_required: bool,
    /// PEM of the client key (mutual TLS).
    #[serde(default)]
    pub client_key: String,
    /// PEM of the client certificate (mutual TLS).
    #[serde(default)]
    pub client_cert: String,
    /// PEM of the server's root CA.
    #[serde(default)]
    pub root_cert: String,
}

/// Parses a Go duration of the simple forms `10s`, `500ms`, `1m`.
fn parse_go_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic())?);
    let value: f64 = number.parse().ok()?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

/// The `ccaas` launcher: dials the chaincode server of the package.
#[derive(Debug, Default)]
pub struct CcaasLauncher;

impl Launcher for CcaasLauncher {
    fn prepare<'a>(
        &'a self,
        _ccid: &'a str,
        package: &'a ChaincodePackage,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { connection_info(package).map(|_| ()) })
    }

    fn start<'a>(
        &'a self,
        support: &'a Arc<ChaincodeSupport>,
        ccid: &'a str,
        package: &'a ChaincodePackage,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let info = connection_info(package)?;
            let tls = if info.tls_required {
                let identity = info
                    .client_auth_required
                    .then_some((info.client_cert.as_bytes(), info.client_key.as_bytes()));
                let config =
                    weft_common::tls::client_config_from_pem(info.root_cert.as_bytes(), identity)
                        .map_err(|e| format!("connection.json TLS settings: {e}"))?;
                Some(ClientTls {
                    config,
                    server_name_override: None,
                })
            } else {
                None
            };
            let options = ClientOptions {
                connect_timeout: parse_go_duration(&info.dial_timeout)
                    .unwrap_or(Duration::from_secs(10)),
                ..ClientOptions::default()
            };
            let channel = grpc::connect(&info.address, tls, &options)
                .await
                .map_err(|e| {
                    format!("error connecting to chaincode server {}: {e}", info.address)
                })?;
            let (to_chaincode, outbox) = mpsc::channel(STREAM_BUFFER);
            let incoming = ChaincodeClient::new(channel)
                .connect(ReceiverStream::new(outbox))
                .await
                .map_err(|e| {
                    format!(
                        "error opening the chaincode stream to {}: {}",
                        info.address,
                        e.message()
                    )
                })?
                .into_inner();
            tracing::info!(chaincode = %ccid, address = %info.address, "connected to chaincode server");
            support.connect(incoming, to_chaincode);
            Ok(())
        })
    }
}

/// The `connection.json` of a `ccaas` package.
fn connection_info(package: &ChaincodePackage) -> Result<ConnectionInfo, String> {
    let files = package.code_files().map_err(|e| e.to_string())?;
    let raw = files
        .get("connection.json")
        .ok_or("the ccaas package's code.tar.gz holds no connection.json")?;
    serde_json::from_slice(raw).map_err(|e| format!("invalid connection.json: {e}"))
}

#[cfg(test)]
mod tests {
    use super::parse_go_duration;
    use std::time::Duration;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_go_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_go_duration(""), None);
    }
}
