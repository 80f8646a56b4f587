//! Wires an orderer node together and runs it until shutdown.
//!
//! Listeners: the general gRPC listener (`AtomicBroadcast`, and `Cluster` unless a
//! dedicated cluster listener is configured), the admin HTTPS endpoint (channel
//! participation) and the operations endpoint. [`run`] binds them from the config;
//! [`serve`] takes bound listeners so tests can start a node on port 0.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use weft_common::grpc::{self, ClientTls, ServerOptions};
use weft_common::msp::{MspDir, SigningIdentity};
use weft_proto::orderer::atomic_broadcast_server::AtomicBroadcastServer;
use weft_proto::orderer::cluster_server::ClusterServer;

use crate::broadcast::BroadcastContext;
use crate::cluster::{Cluster, ClusterService};
use crate::config::OrdererConfig;
use crate::consensus::chain::{ChainObserver, ChainStatus};
use crate::deliver::DeliverContext;
use crate::metrics::OrdererMetrics;
use crate::operations::{HealthChecker, LogSpec, OperationsState, VersionInfo};
use crate::puller::DeliverPuller;
use crate::registrar::{NodeContext, Registrar};
use crate::service::AtomicBroadcastService;

/// How long Broadcast waits for an envelope to be committed in the Raft log.
const COMMIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the node could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The local MSP could not be loaded or has no signing identity.
    #[error("local MSP: {0}")]
    Msp(String),
    /// A TLS certificate or key could not be loaded.
    #[error("TLS: {0}")]
    Tls(String),
    /// A listener could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// The channels could not be opened.
    #[error(transparent)]
    Registrar(#[from] crate::registrar::RegistrarError),
    /// Metrics could not be registered.
    #[error("metrics: {0}")]
    Metrics(String),
    /// A server failed.
    #[error("server: {0}")]
    Serve(String),
}

/// The node's listeners, bound by [`run`] or by a test.
#[derive(Debug)]
pub struct Listeners {
    /// The general gRPC listener.
    pub general: TcpListener,
    /// A dedicated cluster listener, when configured.
    pub cluster: Option<TcpListener>,
    /// The admin (channel participation) endpoint.
    pub admin: Option<TcpListener>,
    /// The operations endpoint.
    pub operations: Option<TcpListener>,
}

async fn bind(address: &str) -> Result<TcpListener, ServerError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| ServerError::Bind {
            address: address.to_owned(),
            source,
        })
}

/// Binds every configured listener and runs the node until `shutdown` completes.
pub async fn run(
    config: OrdererConfig,
    logspec: Option<Arc<LogSpec>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let listeners = Listeners {
        general: bind(&config.general.listen_socket()).await?,
        cluster: match &config.general.cluster.listener {
            Some(l) => Some(bind(&l.socket()).await?),
            None => None,
        },
        admin: Some(bind(&config.admin.listen_address).await?),
        operations: Some(bind(&config.operations.listen_address).await?),
    };
    serve(config, listeners, logspec, shutdown).await
}

fn load_signer(config: &OrdererConfig) -> Result<Arc<SigningIdentity>, ServerError> {
    let msp =
        MspDir::load(&config.general.local_msp_dir, &config.general.local_msp_id).map_err(|e| {
            ServerError::Msp(format!("{}: {e}", config.general.local_msp_dir.display()))
        })?;
    let signer = msp
        .signing_identity
        .ok_or_else(|| ServerError::Msp("no signing identity (signcerts/ and keystore/)".into()))?;
    if signer
        .identity()
        .is_expired_at(time::OffsetDateTime::now_utc())
    {
        return Err(ServerError::Msp(format!(
            "the signing certificate expired at {}",
            signer.identity().not_after()
        )));
    }
    Ok(Arc::new(signer))
}

fn tls_error(e: impl std::fmt::Display) -> ServerError {
    ServerError::Tls(e.to_string())
}

/// TLS material of the gRPC side: the general server config, the cluster client, and
/// the certificate that identifies this node among consenters.
struct GrpcTls {
    general: Option<Arc<rustls::ServerConfig>>,
    cluster_server: Option<Arc<rustls::ServerConfig>>,
    cluster_client: Option<ClientTls>,
    server_cert_der: Option<Vec<u8>>,
}

fn grpc_tls(config: &OrdererConfig) -> Result<GrpcTls, ServerError> {
    let tls = &config.general.tls;
    let cluster = &config.general.cluster;
    if !tls.enabled {
        return Ok(GrpcTls {
            general: None,
            cluster_server: None,
            cluster_client: None,
            server_cert_der: None,
        });
    }
    let cluster_roots: Vec<PathBuf> = if cluster.root_cas.is_empty() {
        tls.root_cas.clone()
    } else {
        cluster.root_cas.clone()
    };
    let general = if tls.client_auth_required {
        let mut roots = tls.client_root_cas.clone();
        roots.extend(cluster_roots.iter().cloned());
        weft_common::tls::server_config(&tls.certificate, &tls.private_key, Some(&roots))
            .map_err(tls_error)?
    } else {
        let mut roots = cluster_roots.clone();
        roots.extend(tls.client_root_cas.iter().cloned());
        if roots.is_empty() {
            weft_common::tls::server_config(&tls.certificate, &tls.private_key, None)
                .map_err(tls_error)?
        } else {
            weft_common::tls::server_config_optional_client_auth(
                &tls.certificate,
                &tls.private_key,
                &roots,
            )
            .map_err(tls_error)?
        }
    };
    let (cluster_server, server_cert) = match &cluster.listener {
        Some(l) => (
            Some(
                weft_common::tls::server_config(
                    &l.server_certificate,
                    &l.server_private_key,
                    Some(&cluster_roots),
                )
                .map_err(tls_error)?,
            ),
            l.server_certificate.clone(),
        ),
        None => (None, tls.certificate.clone()),
    };
    let client_cert = cluster
        .client_certificate
        .clone()
        .unwrap_or_else(|| tls.certificate.clone());
    let client_key = cluster
        .client_private_key
        .clone()
        .unwrap_or_else(|| tls.private_key.clone());
    let client = weft_common::tls::client_config(&cluster_roots, Some((&client_cert, &client_key)))
        .map_err(tls_error)?;
    let pem = std::fs::read(&server_cert)
        .map_err(|e| ServerError::Tls(format!("{}: {e}", server_cert.display())))?;
    let server_cert_der =
        weft_common::tls::certificates_from_pem(&pem, &server_cert.display().to_string())
            .map_err(tls_error)?
            .into_iter()
            .next()
            .map(|c| c.to_vec());
    Ok(GrpcTls {
        general: Some(general),
        cluster_server,
        cluster_client: Some(ClientTls {
            config: client,
            server_name_override: None,
        }),
        server_cert_der,
    })
}

/// Feeds chain events into the metrics.
struct MetricsObserver(Arc<OrdererMetrics>);

impl ChainObserver for MetricsObserver {
    fn block_written(&self, channel: &str, number: u64, reason: crate::blockcutter::CutReason) {
        let m = &self.0;
        m.block_cut(channel, reason, None);
        m.etcdraft_committed_block_number
            .with_label_values(&[channel])
            .set(number as i64);
        m.ledger_blockchain_height
            .with_label_values(&[channel])
            .set(number as i64 + 1);
    }

    fn leader_changed(&self, channel: &str, status: ChainStatus) {
        let m = &self.0;
        m.etcdraft_is_leader
            .with_label_values(&[channel])
            .set(i64::from(status.is_leader));
        if status.leader != 0 {
            m.etcdraft_leader_changes
                .with_label_values(&[channel])
                .inc();
        }
    }

    fn persisted(&self, channel: &str, elapsed: Duration) {
        self.0
            .etcdraft_data_persist_duration
            .with_label_values(&[channel])
            .observe(elapsed.as_secs_f64());
    }

    fn snapshot_taken(&self, channel: &str, number: u64) {
        self.0
            .etcdraft_snapshot_block_number
            .with_label_values(&[channel])
            .set(number as i64);
    }

    fn proposal_failed(&self, channel: &str) {
        self.0
            .etcdraft_proposal_failures
            .with_label_values(&[channel])
            .inc();
    }
}

/// Healthy while no chain has halted.
struct ChainsHealth(Arc<Registrar>);

impl HealthChecker for ChainsHealth {
    fn health_check(&self) -> Result<(), String> {
        let halted: Vec<String> = self
            .0
            .chains()
            .iter()
            .filter(|c| c.status().halted)
            .map(|c| c.channel_id().to_owned())
            .collect();
        if halted.is_empty() {
            Ok(())
        } else {
            Err(format!("halted channels: {}", halted.join(", ")))
        }
    }
}

/// Runs the node on already bound listeners until `shutdown` completes.
pub async fn serve(
    config: OrdererConfig,
    listeners: Listeners,
    logspec: Option<Arc<LogSpec>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let signer = load_signer(&config)?;
    let metrics = Arc::new(
        OrdererMetrics::new(env!("CARGO_PKG_VERSION"))
            .map_err(|e| ServerError::Metrics(e.to_string()))?,
    );
    let tls = grpc_tls(&config)?;
    if tls.general.is_none() {
        tracing::warn!("General.TLS is disabled: only single-node (development) channels can run");
    }

    let runtime = tokio::runtime::Handle::current();
    let cluster = Cluster::new(runtime.clone(), tls.cluster_client.clone());
    let puller = Arc::new(DeliverPuller::new(
        runtime,
        cluster.clone(),
        tls.cluster_client.clone(),
        signer.clone(),
    ));
    let registrar = Registrar::open(NodeContext {
        ledger_root: config.file_ledger.location.clone(),
        signer: signer.clone(),
        server_cert_der: tls.server_cert_der.clone(),
        cluster: cluster.clone(),
        puller,
        observer: Arc::new(MetricsObserver(metrics.clone())),
        tick_override: config.consensus.tick_interval_override,
    })?;
    cluster.set_chains(registrar.clone());

    let broadcast = Arc::new(BroadcastContext {
        chains: registrar.clone(),
        signer: signer.clone(),
        commit_timeout: COMMIT_TIMEOUT,
        metrics: Some(metrics.clone()),
    });
    let deliver = Arc::new(DeliverContext::new(
        registrar.clone(),
        config.general.tls.enabled && config.general.tls.client_auth_required,
        Some(metrics.clone()),
    ));
    let service = AtomicBroadcastService::new(broadcast, deliver);
    let max_recv = config.general.max_recv_msg_size;
    let max_send = config.general.max_send_msg_size;
    let broadcast_server = AtomicBroadcastServer::new(service)
        .max_decoding_message_size(max_recv)
        .max_encoding_message_size(max_send);
    let cluster_server = ClusterServer::new(ClusterService::new(cluster.clone()))
        .max_decoding_message_size(256 << 20)
        .max_encoding_message_size(256 << 20);

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let options = ServerOptions {
        keepalive_interval: config.general.keepalive.server_interval,
        keepalive_timeout: config.general.keepalive.server_timeout,
        ..ServerOptions::default()
    };

    let mut tasks = tokio::task::JoinSet::new();
    {
        let mut router = grpc::server(&options).add_service(broadcast_server);
        if listeners.cluster.is_none() {
            router = router.add_service(cluster_server.clone());
        }
        let incoming = grpc::incoming_with_timeout(
            listeners.general,
            tls.general.clone(),
            options.handshake_timeout,
        );
        let stop = stopped();
        tasks.spawn(async move {
            router
                .serve_with_incoming_shutdown(incoming, stop)
                .await
                .map_err(|e| e.to_string())
        });
    }
    if let Some(listener) = listeners.cluster {
        let router = grpc::server(&options).add_service(cluster_server);
        let incoming = grpc::incoming_with_timeout(
            listener,
            tls.cluster_server.clone(),
            options.handshake_timeout,
        );
        let stop = stopped();
        tasks.spawn(async move {
            router
                .serve_with_incoming_shutdown(incoming, stop)
                .await
                .map_err(|e| e.to_string())
        });
    }
    if let Some(listener) = listeners.admin {
        let admin_tls = config.admin.tls.server_config().map_err(tls_error)?;
        let stop = stopped();
        if config.channel_participation.enabled {
            let backend = registrar.clone();
            let max_body = config.channel_participation.max_request_body_size;
            tasks.spawn(async move {
                crate::participation::serve(listener, admin_tls, backend, max_body, stop).await;
                Ok(())
            });
        } else {
            tasks.spawn(async move {
                crate::participation::serve_disabled(listener, admin_tls, stop).await;
                Ok(())
            });
        }
    }
    if let Some(listener) = listeners.operations {
        let ops_tls = config.operations.tls.server_config().map_err(tls_error)?;
        let mut state = OperationsState::new(VersionInfo {
            commit_sha: option_env!("WEFT_COMMIT_SHA")
                .unwrap_or_default()
                .to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        });
        if config.metrics.provider == crate::config::MetricsProvider::Prometheus {
            state = state.with_metrics(metrics.clone());
        }
        if let Some(logspec) = logspec {
            state = state.with_logspec(logspec);
        }
        let state = Arc::new(state);
        state
            .register_checker("channels", Arc::new(ChainsHealth(registrar.clone())))
            .map_err(|e| ServerError::Serve(format!("health checker: {e}")))?;
        let stop = stopped();
        tasks.spawn(async move {
            crate::operations::serve(listener, ops_tls, state, stop).await;
            Ok(())
        });
    }
    tracing::info!(listen = %config.general.listen_socket(), "orderer started");

    let result = tokio::select! {
        () = shutdown => Ok(()),
        Some(done) = tasks.join_next() => match done {
            Ok(Ok(())) => Err(ServerError::Serve("a server stopped unexpectedly".into())),
            Ok(Err(e)) => Err(ServerError::Serve(e)),
            Err(e) => Err(ServerError::Serve(e.to_string())),
        },
    };
    let _ = stop_tx.send(true);
    registrar.halt_all();
    while tasks.join_next().await.is_some() {}
    tracing::info!("orderer stopped");
    result
}
