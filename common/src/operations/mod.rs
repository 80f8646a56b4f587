//! The operations endpoint (`operations.listenAddress` of the peer,
//! `Operations.ListenAddress` of the orderer), as Fabric's `core/operations` serves it:
//!
//! - `GET /healthz`: `200 {"status":"OK","time":…}`, or `503` with the failed checks of
//!   the registered [`HealthChecker`]s (`{"status":"Service Unavailable","time":…,
//!   "failed_checks":[{"component":…,"reason":…}]}`); other methods `405`.
//! - `/metrics`: the Prometheus text exposition of a [`MetricsSource`] (only with the
//!   `prometheus` metrics provider; `404` otherwise).
//! - `GET|PUT /logspec`: `{"spec":"info"}`; PUT takes the same shape in
//!   `FABRIC_LOGGING_SPEC` grammar and answers `204`; bad specs `400 {"error":…}`.
//! - `GET /version`: `{"CommitSHA":…,"Version":…}`.
//!
//! With TLS, `/metrics` and `/logspec` require a verified client certificate (`401`
//! otherwise), like Fabric's secure handlers; `/healthz` and `/version` stay open.
//!
//! What each process adds is its own: the metrics it exports (a [`MetricsSource`]), its
//! health checkers, and the [`LogSpec`] driving its `tracing` filter.
//!
//! Modules: [`http`] serves any axum router over TCP or TLS (the orderer's admin endpoint
//! uses it too); [`client`] is a minimal HTTP(S) client for these endpoints (tests,
//! tools).

pub mod client;
pub mod http;
mod logspec;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::any;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::net::TcpListener;

use self::http::{json_line, json_response};
pub use self::logspec::{LogSpec, LogSpecError, env_filter_from_logspec, logspec_to_filter};

/// Fabric's health-check timeout: after it the request is answered `408`.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest `/logspec` PUT body accepted.
const MAX_LOGSPEC_BODY: usize = 64 * 1024;

/// The content type of the Prometheus text exposition format (0.0.4).
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

// ---------------------------------------------------------------------------------------
// Health checks

/// A component whose health `/healthz` reports. `Err(reason)` marks it failed.
///
/// Checks run on the blocking thread pool, all at once; closures
/// `Fn() -> Result<(), String>` are checkers too.
pub trait HealthChecker: Send + Sync + 'static {
    /// Checks the component; the error text is reported as the failure reason.
    fn health_check(&self) -> Result<(), String>;
}

impl<F> HealthChecker for F
where
    F: Fn() -> Result<(), String> + Send + Sync + 'static,
{
    fn health_check(&self) -> Result<(), String> {
        self()
    }
}

/// One failed check in a `/healthz` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedCheck {
    /// The component name it was registered under.
    pub component: String,
    /// The checker's error text.
    pub reason: String,
}

/// The `/healthz` body (Fabric's `healthz.HealthStatus`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthStatus {
    /// `OK` or `Service Unavailable`.
    pub status: String,
    /// When the checks ran, RFC 3339 with nanoseconds.
    pub time: String,
    /// The failed checks, sorted by component (absent when all pass).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_checks: Vec<FailedCheck>,
}

/// `/healthz` status when every check passes.
pub const STATUS_OK: &str = "OK";
/// `/healthz` status when a check fails.
pub const STATUS_UNAVAILABLE: &str = "Service Unavailable";

// ---------------------------------------------------------------------------------------
// Metrics

/// What `/metrics` exposes: a process's metrics, encoded in the Prometheus text format on
/// each scrape.
///
/// Closures `Fn() -> Result<Vec<u8>, String>` are sources too.
pub trait MetricsSource: Send + Sync + 'static {
    /// The current values in the Prometheus text exposition format; the error text is
    /// answered with `500`.
    fn encode_text(&self) -> Result<Vec<u8>, String>;

    /// The `Content-Type` of [`MetricsSource::encode_text`]'s output.
    fn content_type(&self) -> &'static str {
        TEXT_CONTENT_TYPE
    }
}

impl<F> MetricsSource for F
where
    F: Fn() -> Result<Vec<u8>, String> + Send + Sync + 'static,
{
    fn encode_text(&self) -> Result<Vec<u8>, String> {
        self()
    }
}

// ---------------------------------------------------------------------------------------
// State and server

/// `/version`'s body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// The commit the binary was built from (`WEFT_COMMIT_SHA` at build time).
    #[serde(
        rename = "CommitSHA",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub commit_sha: String,
    /// The release version.
    #[serde(rename = "Version", default, skip_serializing_if = "String::is_empty")]
    pub version: String,
}

impl VersionInfo {
    /// This build: the workspace version (every Weft crate shares it) and
    /// `WEFT_COMMIT_SHA` from the build environment (`development build` without it, as
    /// Fabric's unreleased binaries say).
    pub fn current() -> Self {
        Self {
            commit_sha: option_env!("WEFT_COMMIT_SHA")
                .unwrap_or("development build")
                .to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// A checker name registered twice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is already registered")]
pub struct AlreadyRegistered(pub String);

/// What the operations endpoint serves.
pub struct OperationsState {
    version: VersionInfo,
    metrics: Option<Arc<dyn MetricsSource>>,
    logspec: Option<Arc<LogSpec>>,
    checkers: RwLock<BTreeMap<String, Arc<dyn HealthChecker>>>,
}

impl std::fmt::Debug for OperationsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let checkers: Vec<String> = self
            .checkers
            .read()
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default();
        f.debug_struct("OperationsState")
            .field("version", &self.version)
            .field("metrics", &self.metrics.is_some())
            .field("logspec", &self.logspec)
            .field("checkers", &checkers)
            .finish()
    }
}

impl OperationsState {
    /// A state serving `/healthz` (no checkers yet) and `/version`.
    pub fn new(version: VersionInfo) -> Self {
        Self {
            version,
            metrics: None,
            logspec: None,
            checkers: RwLock::new(BTreeMap::new()),
        }
    }

    /// Also serves `/metrics` from `metrics` (the `prometheus` metrics provider).
    pub fn with_metrics(mut self, metrics: Arc<dyn MetricsSource>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Also serves `/logspec` through `logspec`.
    pub fn with_logspec(mut self, logspec: Arc<LogSpec>) -> Self {
        self.logspec = Some(logspec);
        self
    }

    /// Adds a health checker under `component`.
    pub fn register_checker(
        &self,
        component: &str,
        checker: Arc<dyn HealthChecker>,
    ) -> Result<(), AlreadyRegistered> {
        let mut checkers = self
            .checkers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if checkers.contains_key(component) {
            return Err(AlreadyRegistered(component.to_owned()));
        }
        checkers.insert(component.to_owned(), checker);
        Ok(())
    }

    /// Removes the checker of `component`, if any.
    pub fn deregister_checker(&self, component: &str) {
        self.checkers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(component);
    }

    /// Runs every checker (concurrently, on the blocking pool) and returns the failures,
    /// sorted by component.
    pub async fn run_checks(&self) -> Vec<FailedCheck> {
        let checkers: Vec<(String, Arc<dyn HealthChecker>)> = self
            .checkers
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(|(name, checker)| (name.clone(), Arc::clone(checker)))
            .collect();
        let handles: Vec<_> = checkers
            .into_iter()
            .map(|(name, checker)| {
                (
                    name,
                    tokio::task::spawn_blocking(move || checker.health_check()),
                )
            })
            .collect();
        let mut failed = Vec::new();
        for (component, handle) in handles {
            let reason = match handle.await {
                Ok(Ok(())) => continue,
                Ok(Err(reason)) => reason,
                Err(e) => format!("health check panicked: {e}"),
            };
            failed.push(FailedCheck { component, reason });
        }
        failed
    }
}

/// The operations routes, for embedding or testing; [`serve`] serves them.
pub fn router(state: Arc<OperationsState>) -> Router {
    Router::new()
        .route("/healthz", any(healthz))
        .route("/metrics", any(metrics))
        .route("/logspec", any(logspec))
        .route("/version", any(version))
        .fallback(|| async { http::not_found() })
        .with_state(state)
}

/// Serves the operations endpoint on `listener` (TLS when `tls` is given, built by
/// [`crate::tls`], e.g. through the processes' `HttpTls::server_config`) until
/// `shutdown` completes; open connections then get up to 5s to finish.
pub async fn serve<F>(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    state: Arc<OperationsState>,
    shutdown: F,
) where
    F: Future<Output = ()> + Send,
{
    http::serve(listener, tls, router(state), shutdown).await;
}

fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00Z"))
}

async fn healthz(State(state): State<Arc<OperationsState>>, request: Request) -> Response {
    if request.method() != Method::GET {
        return empty(StatusCode::METHOD_NOT_ALLOWED);
    }
    let Ok(failed) = tokio::time::timeout(HEALTH_TIMEOUT, state.run_checks()).await else {
        return empty(StatusCode::REQUEST_TIMEOUT);
    };
    let status = HealthStatus {
        status: if failed.is_empty() {
            STATUS_OK
        } else {
            STATUS_UNAVAILABLE
        }
        .to_owned(),
        time: now_rfc3339(),
        failed_checks: failed,
    };
    let code = if status.failed_checks.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    // Fabric marshals without a trailing newline here.
    json_response(code, serde_json::to_vec(&status).unwrap_or_default())
}

async fn metrics(State(state): State<Arc<OperationsState>>, request: Request) -> Response {
    let Some(metrics) = &state.metrics else {
        return http::not_found();
    };
    if !authorized(&request) {
        return http::unauthorized();
    }
    match metrics.encode_text() {
        Ok(body) => {
            let mut response = Response::new(Body::from(body));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(metrics.content_type()),
            );
            response
        }
        Err(e) => {
            let mut response = Response::new(Body::from(e));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            response
        }
    }
}

#[derive(Serialize, Deserialize)]
struct LogSpecBody {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    spec: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

fn logspec_error(message: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        json_line(&ErrorBody { error: message }),
    )
}

async fn logspec(State(state): State<Arc<OperationsState>>, request: Request) -> Response {
    let Some(logspec) = state.logspec.clone() else {
        return http::not_found();
    };
    if !authorized(&request) {
        return http::unauthorized();
    }
    match *request.method() {
        Method::GET => json_response(
            StatusCode::OK,
            json_line(&LogSpecBody {
                spec: logspec.spec(),
            }),
        ),
        Method::PUT => {
            let body = match to_bytes(request.into_body(), MAX_LOGSPEC_BODY).await {
                Ok(body) => body,
                Err(e) => return logspec_error(&e.to_string()),
            };
            let parsed: LogSpecBody = match serde_json::from_slice(&body) {
                Ok(parsed) => parsed,
                Err(e) => return logspec_error(&e.to_string()),
            };
            match logspec.activate(&parsed.spec) {
                Ok(()) => empty(StatusCode::NO_CONTENT),
                Err(e) => logspec_error(&e.to_string()),
            }
        }
        ref other => logspec_error(&format!("invalid request method: {other}")),
    }
}

async fn version(State(state): State<Arc<OperationsState>>, request: Request) -> Response {
    if request.method() != Method::GET {
        #[derive(Serialize)]
        struct VersionError {
            #[serde(rename = "Error")]
            error: String,
        }
        let body = VersionError {
            error: format!("invalid request method: {}", request.method()),
        };
        return json_response(
            StatusCode::BAD_REQUEST,
            serde_json::to_vec(&body).unwrap_or_default(),
        );
    }
    json_response(
        StatusCode::OK,
        serde_json::to_vec(&state.version).unwrap_or_default(),
    )
}

fn authorized(request: &Request) -> bool {
    let info = http::conn_info(request);
    if !info.authorized() {
        tracing::warn!(
            uri = %request.uri(),
            method = %request.method(),
            remote = %info.remote,
            "client request not authorized: a valid client certificate is required"
        );
        return false;
    }
    true
}

fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}
#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    fn router_of(state: Arc<OperationsState>) -> Router {
        router(state)
    }

    async fn call(
        router: &Router,
        method: Method,
        path: &str,
        body: &str,
    ) -> (StatusCode, String, Option<String>) {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .body(Body::from(body.to_owned()))
            .expect("request");
        let response = tower::Service::call(&mut router.clone(), request)
            .await
            .expect("infallible");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (
            status,
            String::from_utf8(body.to_vec()).expect("utf-8"),
            content_type,
        )
    }

    /// A metrics source counting its scrapes.
    struct FakeMetrics(AtomicU64);

    impl MetricsSource for FakeMetrics {
        fn encode_text(&self) -> Result<Vec<u8>, String> {
            let scrapes = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(format!("# TYPE scrapes counter\nscrapes {scrapes}\n").into_bytes())
        }
    }

    fn state_with_everything() -> (Arc<OperationsState>, Arc<FakeMetrics>, Arc<LogSpec>) {
        let metrics = Arc::new(FakeMetrics(AtomicU64::new(0)));
        let logspec = Arc::new(LogSpec::new("info", |_| Ok(())).expect("logspec"));
        let state = OperationsState::new(VersionInfo {
            commit_sha: "abc123".into(),
            version: "0.1.0".into(),
        })
        .with_metrics(metrics.clone())
        .with_logspec(Arc::clone(&logspec));
        (Arc::new(state), metrics, logspec)
    }

    #[tokio::test]
    async fn healthz_ok_then_failing() {
        let (state, _, _) = state_with_everything();
        let router = router(Arc::clone(&state));
        let (status, body, content_type) = call(&router, Method::GET, "/healthz", "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type.as_deref(), Some("application/json"));
        let health: HealthStatus = serde_json::from_str(&body).expect("json");
        assert_eq!(health.status, "OK");
        assert!(
            OffsetDateTime::parse(&health.time, &Rfc3339).is_ok(),
            "{}",
            health.time
        );
        assert!(!body.contains("failed_checks"), "{body}");

        state
            .register_checker("raft", Arc::new(|| Ok(())))
            .expect("register");
        state
            .register_checker("ledger", Arc::new(|| Err("disk full".to_owned())))
            .expect("register");
        assert_eq!(
            state.register_checker("raft", Arc::new(|| Ok(()))),
            Err(AlreadyRegistered("raft".into()))
        );
        let (status, body, _) = call(&router, Method::GET, "/healthz", "").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let health: HealthStatus = serde_json::from_str(&body).expect("json");
        assert_eq!(health.status, "Service Unavailable");
        assert_eq!(
            health.failed_checks,
            vec![FailedCheck {
                component: "ledger".into(),
                reason: "disk full".into()
            }]
        );

        state.deregister_checker("ledger");
        let (status, _, _) = call(&router, Method::GET, "/healthz", "").await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, _) = call(&router, Method::POST, "/healthz", "").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn metrics_exposition() {
        let (state, metrics, _) = state_with_everything();
        let router = router(state);
        let (status, body, content_type) = call(&router, Method::GET, "/metrics", "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type.as_deref(), Some(TEXT_CONTENT_TYPE));
        assert_eq!(body, "# TYPE scrapes counter\nscrapes 1\n");
        let (_, body, _) = call(&router, Method::GET, "/metrics", "").await;
        assert!(body.ends_with("scrapes 2\n"), "{body}");
        assert_eq!(metrics.0.load(Ordering::SeqCst), 2);

        // A failing source: 500 with its error text.
        let failing = Arc::new(
            OperationsState::new(VersionInfo::current())
                .with_metrics(Arc::new(|| Err::<Vec<u8>, _>("registry gone".to_owned()))),
        );
        let (status, body, _) = call(&router_of(failing), Method::GET, "/metrics", "").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body, "registry gone");

        // Metrics provider disabled: no /metrics.
        let plain = Arc::new(OperationsState::new(VersionInfo::current()));
        let (status, _, _) = call(&router_of(plain), Method::GET, "/metrics", "").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn logspec_get_and_put() {
        let (state, _, logspec) = state_with_everything();
        let router = router(state);
        let (status, body, _) = call(&router, Method::GET, "/logspec", "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "{\"spec\":\"info\"}\n");

        let (status, body, _) = call(
            &router,
            Method::PUT,
            "/logspec",
            "{\"spec\":\"gossip=debug:warning\"}",
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        assert_eq!(logspec.spec(), "gossip=debug:warn");
        let (_, body, _) = call(&router, Method::GET, "/logspec", "").await;
        assert_eq!(body, "{\"spec\":\"gossip=debug:warn\"}\n");

        let (status, body, _) =
            call(&router, Method::PUT, "/logspec", "{\"spec\":\"shouting\"}").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            "{\"error\":\"invalid logging specification 'shouting': bad segment 'shouting'\"}\n"
        );
        let (status, _, _) = call(&router, Method::PUT, "/logspec", "not json").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, body, _) = call(&router, Method::POST, "/logspec", "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, "{\"error\":\"invalid request method: POST\"}\n");
    }

    #[tokio::test]
    async fn version_and_unknown_paths() {
        let (state, _, _) = state_with_everything();
        let router = router(state);
        let (status, body, _) = call(&router, Method::GET, "/version", "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "{\"CommitSHA\":\"abc123\",\"Version\":\"0.1.0\"}");
        let (status, body, _) = call(&router, Method::DELETE, "/version", "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, "{\"Error\":\"invalid request method: DELETE\"}");
        let (status, body, _) = call(&router, Method::GET, "/nope", "").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body, "404 page not found\n");
        assert_eq!(VersionInfo::current().version, env!("CARGO_PKG_VERSION"));
    }

    /// A real server: plain HTTP/1.1, then TLS without client authentication, where the
    /// secure handlers (`/metrics`, `/logspec`) answer 401 and the others stay open.
    #[tokio::test]
    async fn served_over_tcp_and_tls() {
        async fn get(
            addr: std::net::SocketAddr,
            tls: Option<&client::ClientTls>,
            path: &str,
        ) -> StatusCode {
            client::request(addr, tls, Method::GET, path, bytes::Bytes::new())
                .await
                .expect("request")
                .status
        }

        async fn start(
            tls: Option<Arc<rustls::ServerConfig>>,
        ) -> (
            std::net::SocketAddr,
            tokio::sync::oneshot::Sender<()>,
            tokio::task::JoinHandle<()>,
        ) {
            let (state, _, _) = state_with_everything();
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("addr");
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(serve(listener, tls, state, async {
                let _ = stopped.await;
            }));
            (addr, stop, task)
        }

        let (addr, stop, task) = start(None).await;
        assert_eq!(get(addr, None, "/healthz").await, StatusCode::OK);
        assert_eq!(get(addr, None, "/metrics").await, StatusCode::OK);
        assert_eq!(get(addr, None, "/logspec").await, StatusCode::OK);
        stop.send(()).expect("stop");
        task.await.expect("server");

        // Server-only TLS.
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).expect("ca");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .expect("params")
            .signed_by(&key, &issuer)
            .expect("leaf");
        let server = crate::tls::server_config_from_pem(
            cert.pem().as_bytes(),
            key.serialize_pem().as_bytes(),
            None,
        )
        .expect("server config");
        let client = client::ClientTls {
            config: crate::tls::client_config_from_pem(ca_cert.pem().as_bytes(), None)
                .expect("client config"),
            server_name: "localhost".to_owned(),
        };

        let (addr, stop, task) = start(Some(server)).await;
        assert_eq!(get(addr, Some(&client), "/healthz").await, StatusCode::OK);
        assert_eq!(get(addr, Some(&client), "/version").await, StatusCode::OK);
        assert_eq!(
            get(addr, Some(&client), "/metrics").await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            get(addr, Some(&client), "/logspec").await,
            StatusCode::UNAUTHORIZED
        );
        stop.send(()).expect("stop");
        task.await.expect("server");
    }
}
