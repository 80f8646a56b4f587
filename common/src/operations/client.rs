//! A minimal HTTP(S) client for the operations endpoints: one request per connection,
//! HTTP/1.1 over plain TCP or TLS (rustls, `http/1.1` by ALPN). For tests and tools that
//! talk to `/healthz`, `/metrics`, `/logspec` and `/version`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A response: status, headers and the whole body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Reply {
    /// The body as (lossy) UTF-8 text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value, when present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// TLS settings of a [`request`]: the client config and the name to verify the server's
/// certificate against.
#[derive(Debug, Clone)]
pub struct ClientTls {
    /// The rustls client config (e.g. from [`crate::tls::client_config`]); its ALPN
    /// protocols are replaced by `http/1.1`.
    pub config: Arc<rustls::ClientConfig>,
    /// The server name (SNI and certificate verification), e.g. `localhost`.
    pub server_name: String,
}

/// Sends one `method path` request with `body` to `addr` (TLS with `tls`) and reads the
/// whole response.
pub async fn request(
    addr: SocketAddr,
    tls: Option<&ClientTls>,
    method: Method,
    path: &str,
    body: impl Into<Bytes>,
) -> Result<Reply, String> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    match tls {
        None => send(tcp, "localhost", addr, method, path, body.into()).await,
        Some(tls) => {
            let mut config = (*tls.config).clone();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            let name = ServerName::try_from(tls.server_name.clone())
                .map_err(|e| format!("server name {:?}: {e}", tls.server_name))?;
            let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake: {e}"))?;
            send(stream, &tls.server_name, addr, method, path, body.into()).await
        }
    }
}

async fn send<I>(
    io: I,
    host: &str,
    addr: SocketAddr,
    method: Method,
    path: &str,
    body: Bytes,
) -> Result<Reply, String>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, format!("{host}:{}", addr.port()))
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    let connection = tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("response body: {e}"))?
        .to_bytes();
    drop(sender);
    let _ = connection.await;
    Ok(Reply {
        status,
        headers,
        body,
    })
}
