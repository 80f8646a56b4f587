//! `peer node start`: wires the peer together and runs it until shutdown.
//!
//! One gRPC listener (`peer.listenAddress`) serves the Endorser and Deliver services; a
//! second (`peer.chaincodeListenAddress`) serves `/protos.ChaincodeSupport/Register` to
//! chaincode processes. Each joined channel runs a deliver client pulling blocks from its
//! orderers and a committer validating and committing them in order
//! ([`crate::committer`]). Application chaincodes run through the chaincode support
//! ([`crate::chaincode`]) with the `wasm` and `ccaas` launchers. The operations endpoint
//! (`operations.listenAddress`: `/healthz`, `/metrics`, `/logspec`, `/version`) is
//! [`weft_common::operations`]'s, serving the peer's [`PeerMetrics`] and a ledger health
//! check.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use weft_common::grpc::{self, ServerOptions};
use weft_common::msp::{Msp, MspDir, SigningIdentity};
use weft_common::operations::{
    HealthChecker, LogSpec, MetricsSource, OperationsState, VersionInfo,
};
use weft_proto::protos::chaincode_support_server::ChaincodeSupportServer;
use weft_proto::protos::deliver_server::DeliverServer;
use weft_proto::protos::endorser_server::EndorserServer;
use weft_wasm_host::{EngineConfig, TxLimits, WasmEngine};

use crate::acl::AclProvider;
use crate::chaincode::package::{CCAAS_TYPE, PackageStore, WASM_TYPE};
use crate::chaincode::{
    CcaasLauncher, ChaincodeListener, ChaincodeSupport, DockerLauncher, DockerSettings, Launcher,
    SupportConfig, WasmLauncher,
};
use crate::channels::{Channels, JoinError};
use crate::committer::ChannelRunner;
use crate::config::{ChaincodeMode, HttpTls, MetricsProvider, PeerConfig};
use crate::deliver::DeliverService;
use crate::endorser::Endorser;
use crate::metrics::PeerMetrics;
use crate::service::EndorserService;

/// Why the node could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The local MSP could not be loaded or has no usable signing identity.
    #[error("local MSP: {0}")]
    Msp(String),
    /// TLS material could not be loaded.
    #[error("TLS: {0}")]
    Tls(String),
    /// The listener could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// The joined channels could not be opened.
    #[error("channels: {0}")]
    Channels(#[from] JoinError),
    /// The gRPC server failed.
    #[error("server: {0}")]
    Serve(String),
    /// The chaincode runtime could not be set up.
    #[error("chaincode support: {0}")]
    Chaincode(String),
    /// The metrics could not be registered.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// The node's listeners, bound by [`run`] or by a test.
#[derive(Debug)]
pub struct Listeners {
    /// `peer.listenAddress`: the Endorser and Deliver services.
    pub peer: TcpListener,
    /// `operations.listenAddress`: the operations endpoint, when served.
    pub operations: Option<TcpListener>,
}

async fn bind(address: &str) -> Result<TcpListener, NodeError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| NodeError::Bind {
            address: address.to_owned(),
            source,
        })
}

/// Binds `peer.listenAddress` and `operations.listenAddress` and runs the node until
/// SIGINT/SIGTERM. `logspec` drives the process's log filter from `/logspec`.
pub async fn run(config: PeerConfig, logspec: Option<Arc<LogSpec>>) -> Result<(), NodeError> {
    let listeners = Listeners {
        peer: bind(&config.peer.listen_address).await?,
        operations: Some(bind(&config.operations.listen_address).await?),
    };
    serve(config, listeners, logspec, shutdown_signal()).await
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// The peer's identity: its MSP and signing identity.
fn load_identity(config: &PeerConfig) -> Result<(Arc<Msp>, Arc<SigningIdentity>), NodeError> {
    let dir = MspDir::load(&config.peer.msp_config_path, &config.peer.local_msp_id)
        .map_err(|e| NodeError::Msp(format!("{}: {e}", config.peer.msp_config_path.display())))?;
    let msp = dir.msp().map_err(|e| NodeError::Msp(e.to_string()))?;
    let signer = dir
        .signing_identity
        .ok_or_else(|| NodeError::Msp("no signing identity (signcerts/ and keystore/)".into()))?;
    if signer
        .identity()
        .is_expired_at(time::OffsetDateTime::now_utc())
    {
        return Err(NodeError::Msp(format!(
            "the signing certificate expired at {}",
            signer.identity().not_after()
        )));
    }
    Ok((Arc::new(msp), Arc::new(signer)))
}

fn tls_error(e: impl std::fmt::Display) -> NodeError {
    NodeError::Tls(e.to_string())
}

/// The gRPC server's TLS config, when TLS is on.
fn server_tls(config: &PeerConfig) -> Result<Option<Arc<rustls::ServerConfig>>, NodeError> {
    let tls = &config.peer.tls;
    if !tls.enabled {
        return Ok(None);
    }
    let config = if tls.client_auth_required {
        weft_common::tls::server_config(&tls.cert_file, &tls.key_file, Some(&tls.client_root_cas))
    } else {
        weft_common::tls::server_config(&tls.cert_file, &tls.key_file, None)
    };
    config.map(Some).map_err(tls_error)
}

/// The operations endpoint's TLS config (`operations.tls`), when enabled: with
/// `clientAuthRequired` clients must present a certificate chaining to `clientRootCAs`.
fn operations_tls(tls: &HttpTls) -> Result<Option<Arc<rustls::ServerConfig>>, NodeError> {
    if !tls.enabled {
        return Ok(None);
    }
    let client_auth = tls
        .client_auth_required
        .then_some(tls.client_root_cas.as_slice());
    weft_common::tls::server_config(&tls.cert_file, &tls.key_file, client_auth)
        .map(Some)
        .map_err(tls_error)
}

impl MetricsSource for PeerMetrics {
    fn encode_text(&self) -> Result<Vec<u8>, String> {
        PeerMetrics::encode_text(self).map_err(|e| e.to_string())
    }

    fn content_type(&self) -> &'static str {
        crate::metrics::TEXT_CONTENT_TYPE
    }
}

/// Healthy while every joined channel's ledger answers: its last block can be read.
struct LedgersHealth(Arc<Channels>);

impl HealthChecker for LedgersHealth {
    fn health_check(&self) -> Result<(), String> {
        let mut failed = Vec::new();
        for channel in self.0.all() {
            let store = channel.ledger().block_store();
            let height = store.height();
            let Some(last) = height.checked_sub(1) else {
                failed.push(format!("{}: the ledger has no blocks", channel.id()));
                continue;
            };
            match store.block(last) {
                Ok(Some(_)) => {}
                Ok(None) => failed.push(format!("{}: block {last} is missing", channel.id())),
                Err(e) => failed.push(format!("{}: {e}", channel.id())),
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(failed.join("; "))
        }
    }
}

/// The operations endpoint's state: `/version`, `/healthz` with the ledger check,
/// `/metrics` from `metrics` with `metrics.provider: prometheus`, `/logspec` with
/// `logspec`.
fn operations_state(
    config: &PeerConfig,
    channels: Arc<Channels>,
    metrics: Arc<PeerMetrics>,
    logspec: Option<Arc<LogSpec>>,
) -> Result<Arc<OperationsState>, NodeError> {
    let mut state = OperationsState::new(VersionInfo {
        commit_sha: option_env!("WEFT_COMMIT_SHA")
            .unwrap_or_default()
            .to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    });
    if config.metrics.provider == MetricsProvider::Prometheus {
        state = state.with_metrics(metrics);
    }
    if let Some(logspec) = logspec {
        state = state.with_logspec(logspec);
    }
    let state = Arc::new(state);
    state
        .register_checker("ledger", Arc::new(LedgersHealth(channels)))
        .map_err(|e| NodeError::Serve(format!("health checker: {e}")))?;
    Ok(state)
}

/// Runs the node on bound listeners until `shutdown` completes. `logspec` drives the
/// process's log filter from `/logspec` (not served without it).
pub async fn serve(
    config: PeerConfig,
    listeners: Listeners,
    logspec: Option<Arc<LogSpec>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    let (local_msp, signer) = load_identity(&config)?;
    // The peer's metrics: served on /metrics, counted by the endorser and chaincode support.
    let metrics = Arc::new(PeerMetrics::new()?);
    let ops_tls = operations_tls(&config.operations.tls)?;
    let tls = server_tls(&config)?;
    let file_system_path = config.peer.file_system_path.clone();
    let channels = Arc::new(
        tokio::task::spawn_blocking(move || Channels::open(&file_system_path))
            .await
            .map_err(|e| NodeError::Serve(e.to_string()))??,
    );
    let runner = Arc::new(
        ChannelRunner::new(&config, signer.clone(), tokio::runtime::Handle::current())
            .map_err(tls_error)?,
    );
    channels.set_starter(runner.clone());

    let endorser = Endorser::new(channels.clone(), local_msp, signer);
    let (support, docker) =
        chaincode_support(&config, channels.clone(), endorser.acl().clone(), &metrics).await?;
    let endorser = endorser
        .with_chaincode_support(support.clone())
        .with_metrics(metrics.clone());
    let mutual_tls = config.peer.tls.enabled && config.peer.tls.client_auth_required;
    let deliver = DeliverService::new(channels.clone(), endorser.acl().clone(), mutual_tls);
    let max_recv = config.peer.max_recv_msg_size;
    let max_send = config.peer.max_send_msg_size;
    let options = ServerOptions {
        keepalive_interval: config.peer.keepalive.interval,
        keepalive_timeout: config.peer.keepalive.timeout,
        ..ServerOptions::default()
    };
    let router = grpc::server(&options)
        .add_service(
            EndorserServer::new(EndorserService::new(endorser))
                .max_decoding_message_size(max_recv)
                .max_encoding_message_size(max_send),
        )
        .add_service(
            DeliverServer::new(deliver)
                .max_decoding_message_size(max_recv)
                .max_encoding_message_size(max_send),
        );
    let incoming =
        grpc::incoming_with_timeout(listeners.peer, tls.clone(), options.handshake_timeout);
    let (stop_tx, mut stop_rx) = watch::channel(false);

    let operations = match listeners.operations {
        Some(listener) => {
            let state = operations_state(&config, channels.clone(), metrics.clone(), logspec)?;
            let mut stop = stop_rx.clone();
            Some(tokio::spawn(weft_common::operations::serve(
                listener,
                ops_tls,
                state,
                async move {
                    let _ = stop.wait_for(|stop| *stop).await;
                },
            )))
        }
        None => None,
    };

    // The chaincode listener: the peer's server TLS (no client certificates) unless in dev
    // mode, where chaincode processes connect in plain text as with Fabric.
    let chaincode_address = config.peer.chaincode_listen_address.clone();
    let chaincode_socket = TcpListener::bind(&chaincode_address)
        .await
        .map_err(|source| NodeError::Bind {
            address: chaincode_address.clone(),
            source,
        })?;
    let chaincode_tls = match config.chaincode.mode {
        ChaincodeMode::Dev => None,
        ChaincodeMode::Net => tls,
    };
    let chaincode_incoming =
        grpc::incoming_with_timeout(chaincode_socket, chaincode_tls, options.handshake_timeout);
    let chaincode_router = grpc::server(&options).add_service(
        ChaincodeSupportServer::new(ChaincodeListener::new(support.clone()))
            .max_decoding_message_size(max_recv)
            .max_encoding_message_size(max_send),
    );
    let mut chaincode_stop = stop_rx.clone();
    tokio::spawn(async move {
        let stopped = chaincode_router
            .serve_with_incoming_shutdown(chaincode_incoming, async move {
                let _ = chaincode_stop.wait_for(|stop| *stop).await;
            })
            .await;
        if let Err(e) = stopped {
            tracing::error!(error = %e, "the chaincode listener stopped");
        }
    });
    let server = tokio::spawn(async move {
        router
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = stop_rx.wait_for(|stop| *stop).await;
            })
            .await
            .map_err(|e| e.to_string())
    });
    tracing::info!(
        peer = %config.peer.id,
        listen = %config.peer.listen_address,
        chaincode_listen = %config.peer.chaincode_listen_address,
        chaincode_mode = ?config.chaincode.mode,
        channels = ?channels.ids(),
        "peer started"
    );
    tokio::pin!(server);
    let result = tokio::select! {
        () = shutdown => Ok(()),
        done = &mut server => match done {
            Ok(Ok(())) => Err(NodeError::Serve("the gRPC server stopped unexpectedly".into())),
            Ok(Err(e)) => Err(NodeError::Serve(e)),
            Err(e) => Err(NodeError::Serve(e.to_string())),
        },
    };
    let _ = stop_tx.send(true);
    runner.stop().await;
    if let Some(docker) = docker {
        docker.shutdown().await;
    }
    if result.is_ok() {
        let _ = server.await;
    }
    if let Some(operations) = operations {
        let _ = operations.await;
    }
    tracing::info!("peer stopped");
    result
}

/// The chaincode support with the `wasm` launcher (modules compiled at install, compiled
/// artifacts cached under `<fileSystemPath>/chaincodes/wasm`), the `ccaas` launcher, and,
/// when `chaincode.launcher` sends any package to Docker, the `docker` launcher (returned
/// too, to remove its containers at shutdown).
async fn chaincode_support(
    config: &PeerConfig,
    channels: Arc<Channels>,
    acl: AclProvider,
    metrics: &Arc<PeerMetrics>,
) -> Result<(Arc<ChaincodeSupport>, Option<Arc<DockerLauncher>>), NodeError> {
    let cc = &config.chaincode;
    let fsp = &config.peer.file_system_path;
    let packages = PackageStore::under(fsp).map_err(|e| NodeError::Chaincode(e.to_string()))?;
    let engine = WasmEngine::new(EngineConfig {
        max_instances: cc.wasm.max_instances,
        max_memory_bytes: usize::try_from(cc.wasm.memory_limit).unwrap_or(usize::MAX),
        ..EngineConfig::default()
    })
    .map_err(|e| NodeError::Chaincode(e.to_string()))?;
    let limits = TxLimits {
        fuel: cc.wasm.fuel,
        timeout: cc.execute_timeout,
    };
    metrics
        .register_wasm_stats(Arc::new(engine.clone()))
        .map_err(|e| NodeError::Chaincode(format!("WASM metrics: {e}")))?;
    let wasm: Arc<dyn Launcher> = Arc::new(WasmLauncher::new(
        engine,
        fsp.join("chaincodes").join("wasm"),
        limits,
    ));
    let ccaas: Arc<dyn Launcher> = Arc::new(CcaasLauncher);
    let mut launchers: HashMap<String, Arc<dyn Launcher>> =
        HashMap::from([(WASM_TYPE.to_owned(), wasm), (CCAAS_TYPE.to_owned(), ccaas)]);
    let docker = if cc.launcher.uses_docker() {
        let launcher = Arc::new(docker_launcher(config, limits).await?);
        launchers.insert("docker".to_owned(), launcher.clone());
        Some(launcher)
    } else {
        None
    };
    let support_config = SupportConfig {
        execute_timeout: cc.execute_timeout,
        startup_timeout: cc.startup_timeout,
        total_query_limit: i32::try_from(cc.total_query_limit).unwrap_or(i32::MAX),
        dev_mode: cc.mode == ChaincodeMode::Dev,
        wasm_launcher: cc.launcher.default.clone(),
        launcher_overrides: cc.launcher.overrides(),
    };
    let support = ChaincodeSupport::new(support_config, channels, acl, packages, launchers);
    support.attach_metrics(metrics.clone());
    Ok((support, docker))
}

/// The `docker` launcher: containers dial `peer.chaincodeAddress` (or the listener's
/// address) over the peer's TLS when it is on; the runner binary is
/// `chaincode.launcher.runner` or `weft-ccrunner` beside this executable.
async fn docker_launcher(
    config: &PeerConfig,
    limits: TxLimits,
) -> Result<DockerLauncher, NodeError> {
    let cc = &config.chaincode;
    let peer = &config.peer;
    let runner = match &cc.launcher.runner {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|dir| dir.join("weft-ccrunner")))
            .ok_or_else(|| {
                NodeError::Chaincode(
                    "cannot locate weft-ccrunner: set chaincode.launcher.runner".into(),
                )
            })?,
    };
    let peer_address = peer.chaincode_endpoint().ok_or_else(|| {
        NodeError::Chaincode(
            "the docker launcher needs an address containers can dial: set peer.chaincodeAddress"
                .into(),
        )
    })?;
    let tls_root_cert = if peer.tls.enabled && cc.mode != ChaincodeMode::Dev {
        Some(std::fs::read(&peer.tls.root_cert_file).map_err(|e| {
            NodeError::Chaincode(format!(
                "reading {} for chaincode containers: {e}",
                peer.tls.root_cert_file.display()
            ))
        })?)
    } else {
        None
    };
    DockerLauncher::connect(DockerSettings {
        runner,
        peer_address,
        network_id: peer.network_id.clone(),
        peer_id: peer.id.clone(),
        msp_id: peer.local_msp_id.clone(),
        network_mode: cc.launcher.network_mode.clone(),
        tls_root_cert,
        limits,
        memory_limit: usize::try_from(cc.wasm.memory_limit).unwrap_or(usize::MAX),
    })
    .await
    .map_err(NodeError::Chaincode)
}
