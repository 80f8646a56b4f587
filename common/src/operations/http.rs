//! Serving an axum router over plain TCP or TLS, HTTP/1.1 and HTTP/2, with graceful
//! shutdown: the operations endpoints (peer and orderer) and the orderer's admin endpoint
//! share this.
//!
//! Each request carries a [`ConnInfo`] extension saying whether the connection is TLS and
//! which client certificate (if any) the handshake verified, so handlers can apply
//! Fabric's "secure handler" rule (a verified client certificate is required on TLS
//! endpoints for `/metrics`, `/logspec` and the participation API).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::Service;

/// How long a TLS handshake may take before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long request headers may take to arrive (Go's `ReadTimeout` in Fabric is 10s).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long open connections get to finish after shutdown (Fabric's `Stop` waits 5s).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// What a handler may want to know about the connection a request came on.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The peer's address.
    pub remote: SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// The client's leaf certificate, verified during the handshake.
    pub client_cert: Option<CertificateDer<'static>>,
}

impl ConnInfo {
    /// Fabric's `RequireCert` rule for secure handlers: on a TLS endpoint the client
    /// must have presented a verified certificate. Plain HTTP endpoints are open.
    pub fn authorized(&self) -> bool {
        !self.tls || self.client_cert.is_some()
    }
}

/// `401 Unauthorized` with an empty body, as Fabric's `RequireCert` middleware answers.
pub fn unauthorized() -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response
}

/// The `ConnInfo` of a request (a request without one is treated as plain HTTP).
pub fn conn_info<B>(request: &Request<B>) -> ConnInfo {
    request
        .extensions()
        .get::<ConnInfo>()
        .cloned()
        .unwrap_or_else(|| ConnInfo {
            remote: SocketAddr::from(([0, 0, 0, 0], 0)),
            tls: false,
            client_cert: None,
        })
}

/// The server-side TLS config actually used: the given one, offering both `h2` and
/// `http/1.1` by ALPN (the shared configs offer only `h2`, for gRPC; HTTP clients such
/// as curl or Python may offer only `http/1.1`).
fn http_tls_config(tls: &rustls::ServerConfig) -> Arc<rustls::ServerConfig> {
    let mut config = tls.clone();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting,
/// lets open connections finish their requests (up to 5s) and returns.
pub async fn serve<F>(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    router: Router,
    shutdown: F,
) where
    F: Future<Output = ()> + Send,
{
    let acceptor = tls.map(|config| TlsAcceptor::from(http_tls_config(&config)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);

    loop {
        let (tcp, remote) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Typically EMFILE: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accepting an HTTP connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let router = router.clone();
        let acceptor = acceptor.clone();
        let stop = stop_rx.clone();
        connections.spawn(async move {
            match acceptor {
                None => {
                    let info = ConnInfo {
                        remote,
                        tls: false,
                        client_cert: None,
                    };
                    serve_connection(tcp, info, router, stop).await;
                }
                Some(acceptor) => {
                    let stream =
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(e)) => {
                                tracing::debug!(%remote, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%remote, "TLS handshake timed out");
                                return;
                            }
                        };
                    let client_cert = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|certs| certs.first())
                        .map(|cert| cert.clone().into_owned());
                    let info = ConnInfo {
                        remote,
                        tls: true,
                        client_cert,
                    };
                    serve_connection(stream, info, router, stop).await;
                }
            }
        });
    }

    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.abort_all();
    }
}

async fn serve_connection<I>(io: I, info: ConnInfo, router: Router, mut stop: watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(info.clone());
        let mut router = router.clone();
        async move { router.call(request).await }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let stopped = async move {
        // Either the stop flag was raised or the server is gone: stop in both cases.
        let _ = stop.wait_for(|stopped| *stopped).await;
    };
    tokio::pin!(stopped);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "HTTP connection ended with an error");
            }
        }
        () = &mut stopped => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// The JSON body Go's `json.Encoder` writes: the value followed by a newline.
pub fn json_line<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain structs cannot fail; fall back to `null` if it ever did.
    let mut body = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
    body.push(b'\n');
    body
}

/// A response with `status`, `Content-Type: application/json` and `body`.
pub fn json_response(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    response
}

/// Go's `http.NotFound`: `404 page not found`.
pub fn not_found() -> Response<Body> {
    let mut response = Response::new(Body::from("404 page not found\n"));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response.headers_mut().insert(
        "x-content-type-options",
        axum::http::HeaderValue::from_static("nosniff"),
    );
    response
}
