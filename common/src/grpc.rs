//! gRPC over Weft's own rustls configurations (tonic 0.14, no tonic TLS features).
//!
//! tonic's built-in TLS cannot take a ready-made rustls config and hides the client
//! certificate from handlers. Fabric needs both: configs come from [`crate::tls`], and the
//! client certificate feeds `ChannelHeader.tls_cert_hash` checks and the orderer cluster's
//! authentication of consenters. So TLS happens here, around plain TCP:
//!
//! - Servers: bind a [`tokio::net::TcpListener`], wrap it with [`incoming`] and hand the
//!   stream to `Server::serve_with_incoming[_shutdown]` (see [`server`] for a builder with
//!   Fabric's keepalive defaults). Handshakes run concurrently; one that fails or stalls
//!   never holds up other clients. Handlers read the connection's [`PeerInfo`] with
//!   [`peer_info`] / [`client_cert_hash`].
//! - Clients: [`channel`] (lazy) or [`connect`] (eager, bounded by a timeout) give a
//!   `tonic::transport::Channel` that dials TCP and runs the rustls handshake itself,
//!   optionally verifying the server under another name ([`ClientTls::server_name_override`],
//!   Fabric's `--ordererTLSHostnameOverride`).
//!
//! Message size limits are set by callers on the generated clients and servers
//! (`max_decoding_message_size` / `max_encoding_message_size`); Fabric's defaults are
//! [`DEFAULT_MAX_RECV_MSG_SIZE`] and [`DEFAULT_MAX_SEND_MSG_SIZE`].

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, Stream, StreamExt};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ServerConfig};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector, TlsStream};
use tonic::codegen::Service;
use tonic::codegen::http::Uri;
use tonic::transport::server::Connected;
use tonic::transport::{Channel, Endpoint, Server};

use crate::crypto::SHA256_LEN;
use crate::tls::cert_hash;

/// Fabric's default limit on received gRPC messages (100 MiB).
pub const DEFAULT_MAX_RECV_MSG_SIZE: usize = 100 * 1024 * 1024;
/// Fabric's default limit on sent gRPC messages (100 MiB).
pub const DEFAULT_MAX_SEND_MSG_SIZE: usize = 100 * 1024 * 1024;
/// How long a client may take to complete the TCP + TLS connection (Fabric's
/// `DefaultConnectionTimeout`); also the server's TLS handshake deadline.
pub const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the accept loop pauses after a non-transient accept error (e.g. out of file
/// descriptors), so it does not spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// What went wrong while setting up a gRPC client connection.
#[derive(Debug, thiserror::Error)]
pub enum GrpcError {
    /// The endpoint is not `host:port`.
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// Why it was refused.
        reason: String,
    },
    /// The name to verify the server certificate against is not a DNS name or IP address.
    #[error("invalid TLS server name {name:?}")]
    InvalidServerName {
        /// The name.
        name: String,
    },
    /// The connection (TCP, TLS or HTTP/2) could not be established.
    #[error("cannot connect to {endpoint}: {reason}")]
    Connect {
        /// The endpoint.
        endpoint: String,
        /// The transport error with its causes.
        reason: String,
        /// The transport error.
        #[source]
        source: tonic::transport::Error,
    },
    /// The connection was not established within the timeout.
    #[error("cannot connect to {endpoint}: timed out after {after:?}")]
    Timeout {
        /// The endpoint.
        endpoint: String,
        /// The timeout.
        after: Duration,
    },
}

// ---------------------------------------------------------------------------------------
// Server side
// ---------------------------------------------------------------------------------------

/// What a handler knows about the connection a request came in on: a request extension
/// set for every request served from [`incoming`] (read it with [`peer_info`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The client's address.
    pub remote_addr: SocketAddr,
    /// The certificate chain the client presented during the TLS handshake (leaf first);
    /// `None` on plaintext connections and when the client sent no certificate.
    pub client_certificates: Option<Arc<[CertificateDer<'static>]>>,
}

impl PeerInfo {
    /// The leaf client certificate, if one was presented.
    pub fn client_certificate(&self) -> Option<&CertificateDer<'static>> {
        self.client_certificates.as_ref()?.first()
    }

    /// SHA-256 of the leaf client certificate's DER (Fabric's `tls_cert_hash`).
    pub fn client_cert_hash(&self) -> Option<[u8; SHA256_LEN]> {
        self.client_certificate().map(|cert| cert_hash(cert))
    }
}

/// The [`PeerInfo`] of the connection `req` arrived on (`None` if the server was not fed
/// by [`incoming`]).
pub fn peer_info<T>(req: &tonic::Request<T>) -> Option<&PeerInfo> {
    req.extensions().get::<PeerInfo>()
}

/// SHA-256 of the leaf client TLS certificate of the connection `req` arrived on.
pub fn client_cert_hash<T>(req: &tonic::Request<T>) -> Option<[u8; SHA256_LEN]> {
    peer_info(req)?.client_cert_hash()
}

/// Server tuning with Fabric's defaults (`General.Keepalive` of the orderer,
/// `peer.keepalive` of the peer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// Idle time after which the server pings the client (Fabric: 2 h).
    pub keepalive_interval: Duration,
    /// How long the server waits for the ping's answer before closing (Fabric: 20 s).
    pub keepalive_timeout: Duration,
    /// Deadline for a client's TLS handshake (Fabric: 5 s).
    pub handshake_timeout: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            keepalive_interval: Duration::from_secs(2 * 60 * 60),
            keepalive_timeout: Duration::from_secs(20),
            handshake_timeout: DEFAULT_CONNECTION_TIMEOUT,
        }
    }
}

/// A tonic server builder with the keepalive settings of `options`. Serve it with
/// `serve_with_incoming[_shutdown]` on [`incoming_with_timeout`]`(listener, tls,
/// options.handshake_timeout)`.
pub fn server(options: &ServerOptions) -> Server {
    Server::builder()
        .http2_keepalive_interval(Some(options.keepalive_interval))
        .http2_keepalive_timeout(Some(options.keepalive_timeout))
}

/// The connections accepted on `listener`, TLS-terminated with `tls` when given, for
/// `tonic::transport::Server::serve_with_incoming[_shutdown]`. Handshakes have
/// [`DEFAULT_CONNECTION_TIMEOUT`] to complete; see [`incoming_with_timeout`].
pub fn incoming(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
) -> impl Stream<Item = Result<Conn, io::Error>> + Send + 'static {
    incoming_with_timeout(listener, tls, DEFAULT_CONNECTION_TIMEOUT)
}

/// [`incoming`] with an explicit TLS handshake deadline.
///
/// TLS handshakes run concurrently while the stream is polled: a slow client never
/// delays the others. A handshake that fails (wrong CA, no client certificate under
/// mutual TLS, garbage) or misses the deadline is logged at debug level and dropped; it
/// never ends the stream. Accept errors are yielded as `Err` (tonic logs and skips them).
/// Dropping the stream closes the listener and abandons pending handshakes.
pub fn incoming_with_timeout(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    handshake_timeout: Duration,
) -> impl Stream<Item = Result<Conn, io::Error>> + Send + 'static {
    let state = Acceptor {
        listener,
        tls: tls.map(TlsAcceptor::from),
        handshake_timeout,
        handshakes: FuturesUnordered::new(),
    };
    futures::stream::unfold(state, Acceptor::next)
}

/// The state behind [`incoming`].
struct Acceptor {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    handshake_timeout: Duration,
    handshakes: FuturesUnordered<BoxFuture<'static, Option<Conn>>>,
}

impl Acceptor {
    /// The next ready connection, accepting and handshaking meanwhile.
    async fn next(mut self) -> Option<(Result<Conn, io::Error>, Self)> {
        loop {
            tokio::select! {
                accepted = self.listener.accept() => {
                    let (tcp, remote_addr) = match accepted {
                        Ok(accepted) => accepted,
                        Err(e) if is_transient(&e) => continue,
                        Err(e) => {
                            tracing::debug!(error = %e, "gRPC accept error");
                            tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                            return Some((Err(e), self));
                        }
                    };
                    if let Err(e) = tcp.set_nodelay(true) {
                        tracing::debug!(%remote_addr, error = %e, "cannot set TCP_NODELAY");
                    }
                    match &self.tls {
                        None => {
                            let info = PeerInfo { remote_addr, client_certificates: None };
                            return Some((Ok(Conn { io: Io::Plain(tcp), info }), self));
                        }
                        Some(acceptor) => self.handshakes.push(Box::pin(handshake(
                            acceptor.clone(),
                            tcp,
                            remote_addr,
                            self.handshake_timeout,
                        ))),
                    }
                }
                Some(done) = self.handshakes.next(), if !self.handshakes.is_empty() => {
                    if let Some(conn) = done {
                        return Some((Ok(conn), self));
                    }
                }
            }
        }
    }
}

/// Errors that concern one connection only: accepting simply goes on.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// Runs one server-side TLS handshake; `None` (logged) if it fails or times out.
async fn handshake(
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    remote_addr: SocketAddr,
    timeout: Duration,
) -> Option<Conn> {
    match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => {
            let client_certificates = tls
                .get_ref()
                .1
                .peer_certificates()
                .filter(|chain| !chain.is_empty())
                .map(Arc::from);
            Some(Conn {
                io: Io::Tls(Box::new(TlsStream::Server(tls))),
                info: PeerInfo {
                    remote_addr,
                    client_certificates,
                },
            })
        }
        Ok(Err(e)) => {
            tracing::debug!(%remote_addr, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%remote_addr, ?timeout, "TLS handshake timed out");
            None
        }
    }
}

/// An accepted connection (plain TCP or TLS-terminated) with its [`PeerInfo`].
pub struct Conn {
    io: Io,
    info: PeerInfo,
}

impl Conn {
    /// What is known about the client.
    pub fn peer_info(&self) -> &PeerInfo {
        &self.info
    }
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("tls", &matches!(self.io, Io::Tls(_)))
            .field("info", &self.info)
            .finish()
    }
}

impl Connected for Conn {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        self.info.clone()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A TCP stream, TLS-wrapped or not (both sides use it).
enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Client side
// ---------------------------------------------------------------------------------------

/// TLS settings of a client connection.
#[derive(Debug, Clone)]
pub struct ClientTls {
    /// The rustls config (roots, optional client certificate, ALPN `h2`), usually from
    /// [`crate::tls::client_config`].
    pub config: Arc<ClientConfig>,
    /// Verify the server certificate against this name instead of the endpoint's host
    /// (Fabric's `--ordererTLSHostnameOverride` / `ServerNameOverride`).
    pub server_name_override: Option<String>,
}

/// Client tuning with Fabric's defaults (`peer.keepalive.client`, `DefaultConnectionTimeout`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// Idle time after which the client pings the server (Fabric: 60 s; Fabric servers
    /// refuse pings more frequent than `ServerMinInterval`, 60 s by default).
    pub keepalive_interval: Duration,
    /// How long the client waits for the ping's answer before closing (Fabric: 20 s).
    pub keepalive_timeout: Duration,
    /// Deadline for TCP + TLS (and, for [`connect`], HTTP/2) setup (Fabric: 5 s).
    pub connect_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            keepalive_interval: Duration::from_secs(60),
            keepalive_timeout: Duration::from_secs(20),
            connect_timeout: DEFAULT_CONNECTION_TIMEOUT,
        }
    }
}

/// A lazily connecting channel to `endpoint` (`host:port`), over TLS when `tls` is given,
/// with [`ClientOptions::default`]. The first RPC dials; a broken connection is re-dialed
/// on the next RPC.
pub fn channel(endpoint: &str, tls: Option<ClientTls>) -> Result<Channel, GrpcError> {
    channel_with(endpoint, tls, &ClientOptions::default())
}

/// [`channel`] with explicit options.
pub fn channel_with(
    endpoint: &str,
    tls: Option<ClientTls>,
    options: &ClientOptions,
) -> Result<Channel, GrpcError> {
    let (builder, connector) = prepare(endpoint, tls, options)?;
    Ok(builder.connect_with_connector_lazy(connector))
}

/// A channel to `endpoint` that is connected (TCP, TLS and HTTP/2) before it is returned,
/// within `options.connect_timeout`.
pub async fn connect(
    endpoint: &str,
    tls: Option<ClientTls>,
    options: &ClientOptions,
) -> Result<Channel, GrpcError> {
    let (builder, connector) = prepare(endpoint, tls, options)?;
    let connecting = builder.connect_with_connector(connector);
    match tokio::time::timeout(options.connect_timeout, connecting).await {
        Ok(Ok(channel)) => Ok(channel),
        Ok(Err(source)) => Err(GrpcError::Connect {
            endpoint: endpoint.to_owned(),
            reason: error_chain(&source),
            source,
        }),
        Err(_) => Err(GrpcError::Timeout {
            endpoint: endpoint.to_owned(),
            after: options.connect_timeout,
        }),
    }
}

/// The tonic endpoint and the connector dialing `endpoint`.
fn prepare(
    endpoint: &str,
    tls: Option<ClientTls>,
    options: &ClientOptions,
) -> Result<(Endpoint, Connector), GrpcError> {
    let invalid = |reason: String| GrpcError::InvalidEndpoint {
        endpoint: endpoint.to_owned(),
        reason,
    };
    let uri: Uri = format!("http://{endpoint}")
        .parse()
        .map_err(|e: tonic::codegen::http::uri::InvalidUri| invalid(e.to_string()))?;
    let host = uri.host().unwrap_or_default().to_owned();
    if host.is_empty() || uri.port().is_none() || uri.path() != "/" || endpoint.contains('/') {
        return Err(invalid("expected host:port".to_owned()));
    }

    // The connector always sees an `http` URI, so tonic never tries TLS of its own; the
    // requests carry the `https` scheme when TLS is on.
    let mut builder = Endpoint::from(uri)
        .connect_timeout(options.connect_timeout)
        .http2_keep_alive_interval(options.keepalive_interval)
        .keep_alive_timeout(options.keepalive_timeout)
        .keep_alive_while_idle(false)
        .tcp_nodelay(true);

    let tls = match tls {
        None => None,
        Some(tls) => {
            let origin: Uri = format!("https://{endpoint}")
                .parse()
                .map_err(|e: tonic::codegen::http::uri::InvalidUri| invalid(e.to_string()))?;
            builder = builder.origin(origin);
            let name = tls.server_name_override.unwrap_or_else(|| {
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned()
            });
            let server_name = ServerName::try_from(name.clone())
                .map_err(|_| GrpcError::InvalidServerName { name })?;
            Some((TlsConnector::from(tls.config), server_name))
        }
    };
    let connector = Connector {
        address: endpoint.to_owned(),
        tls,
    };
    Ok((builder, connector))
}

/// Dials TCP to a fixed address and runs the client TLS handshake when configured.
#[derive(Clone)]
struct Connector {
    address: String,
    tls: Option<(TlsConnector, ServerName<'static>)>,
}

impl Service<Uri> for Connector {
    type Response = TokioIo<Io>;
    type Error = io::Error;
    type Future = BoxFuture<'static, io::Result<TokioIo<Io>>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let tcp = TcpStream::connect(&this.address).await?;
            tcp.set_nodelay(true)?;
            let io = match this.tls {
                None => Io::Plain(tcp),
                Some((connector, name)) => {
                    let tls = connector.connect(name, tcp).await?;
                    Io::Tls(Box::new(TlsStream::Client(tls)))
                }
            };
            Ok(TokioIo::new(io))
        })
    }
}

/// An error and its causes, `: `-separated (tonic's transport error alone says little).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let part = e.to_string();
        // Wrappers often repeat their source's text; say each thing once.
        if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    use tokio::io::AsyncWriteExt;
    use tokio::sync::oneshot;
    use weft_proto::protos::endorser_client::EndorserClient;
    use weft_proto::protos::endorser_server::{Endorser, EndorserServer};
    use weft_proto::protos::{ProposalResponse, Response, SignedProposal};

    use super::*;
    use crate::tls::{client_config_from_pem, server_config_from_pem};

    /// Bounds every RPC so a broken setup fails instead of hanging the test.
    const RPC_TIMEOUT: Duration = Duration::from_secs(10);

    /// Answers with what it knows about the caller's connection: `message` is the hex
    /// client certificate hash or "none"; `payload` is the remote address.
    struct EchoPeer;

    #[tonic::async_trait]
    impl Endorser for EchoPeer {
        async fn process_proposal(
            &self,
            request: tonic::Request<SignedProposal>,
        ) -> Result<tonic::Response<ProposalResponse>, tonic::Status> {
            let info = peer_info(&request)
                .ok_or_else(|| tonic::Status::internal("no peer info"))?
                .clone();
            let message = client_cert_hash(&request).map_or_else(|| "none".to_owned(), hex::encode);
            Ok(tonic::Response::new(ProposalResponse {
                response: Some(Response {
                    status: 200,
                    message,
                    payload: info.remote_addr.to_string().into_bytes(),
                }),
                ..Default::default()
            }))
        }
    }

    struct Pki {
        ca_pem: String,
        issuer: Issuer<'static, KeyPair>,
    }

    struct Leaf {
        cert_pem: String,
        key_pem: String,
    }

    impl Leaf {
        fn der(&self) -> Vec<u8> {
            crate::tls::certificates_from_pem(self.cert_pem.as_bytes(), "test").expect("cert")[0]
                .to_vec()
        }
    }

    impl Pki {
        fn new(name: &str) -> Self {
            let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, name);
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            let key = KeyPair::generate().expect("key");
            let cert = params.self_signed(&key).expect("self-signed");
            Self {
                ca_pem: cert.pem(),
                issuer: Issuer::new(params, key),
            }
        }

        fn leaf(&self, sans: &[&str]) -> Leaf {
            let names: Vec<String> = sans.iter().map(|s| (*s).to_owned()).collect();
            let params = CertificateParams::new(names).expect("params");
            let key = KeyPair::generate().expect("key");
            let cert = params.signed_by(&key, &self.issuer).expect("signed");
            Leaf {
                cert_pem: cert.pem(),
                key_pem: key.serialize_pem(),
            }
        }
    }

    /// A running test server; dropping it shuts the server down.
    struct TestServer {
        addr: SocketAddr,
        _shutdown: oneshot::Sender<()>,
    }

    async fn serve(tls: Option<Arc<ServerConfig>>, handshake_timeout: Duration) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let connections = incoming_with_timeout(listener, tls, handshake_timeout);
        tokio::spawn(async move {
            server(&ServerOptions::default())
                .add_service(EndorserServer::new(EchoPeer))
                .serve_with_incoming_shutdown(connections, async {
                    let _ = rx.await;
                })
                .await
                .expect("server");
        });
        TestServer {
            addr,
            _shutdown: tx,
        }
    }

    /// One RPC over `channel`: (cert hash message, remote address) or the error text.
    async fn call(channel: Channel) -> Result<(String, String), String> {
        let rpc = async move {
            let mut client = EndorserClient::new(channel)
                .max_decoding_message_size(DEFAULT_MAX_RECV_MSG_SIZE)
                .max_encoding_message_size(DEFAULT_MAX_SEND_MSG_SIZE);
            let reply = client
                .process_proposal(SignedProposal::default())
                .await
                .map_err(|status| status.to_string())?
                .into_inner();
            let response = reply.response.ok_or("no response")?;
            Ok((
                response.message,
                String::from_utf8(response.payload).map_err(|e| e.to_string())?,
            ))
        };
        within(rpc).await.unwrap_or_else(|| Err("timed out".into()))
    }

    async fn within<T>(f: impl Future<Output = T>) -> Option<T> {
        tokio::time::timeout(RPC_TIMEOUT, f).await.ok()
    }

    fn client_tls(config: Arc<ClientConfig>) -> Option<ClientTls> {
        Some(ClientTls {
            config,
            server_name_override: None,
        })
    }

    #[tokio::test]
    async fn plaintext_round_trip_has_no_client_cert() {
        let server = serve(None, DEFAULT_CONNECTION_TIMEOUT).await;
        let ch = channel(&server.addr.to_string(), None).expect("channel");
        let (hash, remote) = call(ch).await.expect("rpc");
        assert_eq!(hash, "none");
        assert!(remote.starts_with("127.0.0.1:"), "{remote}");
        assert_ne!(remote, server.addr.to_string());

        // The eager variant connects too.
        let ch = connect(&server.addr.to_string(), None, &ClientOptions::default())
            .await
            .expect("connect");
        assert_eq!(call(ch).await.expect("rpc").0, "none");
    }

    #[tokio::test]
    async fn server_only_tls_round_trip() {
        let pki = Pki::new("tls-ca");
        let leaf = pki.leaf(&["localhost", "127.0.0.1"]);
        let server_tls =
            server_config_from_pem(leaf.cert_pem.as_bytes(), leaf.key_pem.as_bytes(), None)
                .expect("server config");
        let server = serve(Some(server_tls), DEFAULT_CONNECTION_TIMEOUT).await;
        let client = client_config_from_pem(pki.ca_pem.as_bytes(), None).expect("client");

        let ch = channel(&server.addr.to_string(), client_tls(client.clone())).expect("ch");
        assert_eq!(call(ch).await.expect("rpc").0, "none");
        // By name: "localhost" is in the certificate.
        let endpoint = format!("localhost:{}", server.addr.port());
        let ch = connect(&endpoint, client_tls(client), &ClientOptions::default())
            .await
            .expect("connect");
        assert_eq!(call(ch).await.expect("rpc").0, "none");
    }

    #[tokio::test]
    async fn mutual_tls_hands_the_client_cert_to_handlers() {
        let server_pki = Pki::new("server-ca");
        let client_pki = Pki::new("client-ca");
        let server_leaf = server_pki.leaf(&["127.0.0.1"]);
        let client_leaf = client_pki.leaf(&["client"]);
        let server_tls = server_config_from_pem(
            server_leaf.cert_pem.as_bytes(),
            server_leaf.key_pem.as_bytes(),
            Some(client_pki.ca_pem.as_bytes()),
        )
        .expect("server config");
        let server = serve(Some(server_tls), DEFAULT_CONNECTION_TIMEOUT).await;

        let client = client_config_from_pem(
            server_pki.ca_pem.as_bytes(),
            Some((
                client_leaf.cert_pem.as_bytes(),
                client_leaf.key_pem.as_bytes(),
            )),
        )
        .expect("client");
        let ch = channel(&server.addr.to_string(), client_tls(client)).expect("channel");
        let (hash, _) = call(ch).await.expect("rpc");
        assert_eq!(hash, hex::encode(cert_hash(&client_leaf.der())));

        // A client without a certificate is refused.
        let anonymous = client_config_from_pem(server_pki.ca_pem.as_bytes(), None).expect("c");
        let ch = channel(&server.addr.to_string(), client_tls(anonymous)).expect("channel");
        assert!(call(ch).await.is_err());

        // So is one whose certificate comes from another CA.
        let rogue = Pki::new("rogue-ca").leaf(&["client"]);
        let rogue = client_config_from_pem(
            server_pki.ca_pem.as_bytes(),
            Some((rogue.cert_pem.as_bytes(), rogue.key_pem.as_bytes())),
        )
        .expect("client");
        // (Under TLS 1.3 the client's side of the handshake completes before the server
        // checks its certificate, so the refusal shows on the first RPC.)
        let ch = channel(&server.addr.to_string(), client_tls(rogue)).expect("channel");
        assert!(call(ch).await.is_err());
    }

    #[tokio::test]
    async fn client_refuses_a_server_of_another_ca() {
        let pki = Pki::new("tls-ca");
        let leaf = pki.leaf(&["127.0.0.1"]);
        let server_tls =
            server_config_from_pem(leaf.cert_pem.as_bytes(), leaf.key_pem.as_bytes(), None)
                .expect("server config");
        let server = serve(Some(server_tls), DEFAULT_CONNECTION_TIMEOUT).await;
        let other = Pki::new("other-ca");
        let client = client_config_from_pem(other.ca_pem.as_bytes(), None).expect("client");

        let endpoint = server.addr.to_string();
        match connect(
            &endpoint,
            client_tls(client.clone()),
            &ClientOptions::default(),
        )
        .await
        {
            Err(GrpcError::Connect { reason, .. }) => {
                assert!(reason.contains("certificate"), "{reason}")
            }
            other => panic!("expected a connect error, got {other:?}"),
        }
        let lazy = channel(&endpoint, client_tls(client)).expect("channel");
        assert!(call(lazy).await.is_err());
    }

    #[tokio::test]
    async fn hostname_override_verifies_another_name() {
        let pki = Pki::new("tls-ca");
        let leaf = pki.leaf(&["orderer.example.com"]);
        let server_tls =
            server_config_from_pem(leaf.cert_pem.as_bytes(), leaf.key_pem.as_bytes(), None)
                .expect("server config");
        let server = serve(Some(server_tls), DEFAULT_CONNECTION_TIMEOUT).await;
        let client = client_config_from_pem(pki.ca_pem.as_bytes(), None).expect("client");
        let endpoint = server.addr.to_string();

        // 127.0.0.1 is not in the certificate...
        let plain = channel(&endpoint, client_tls(client.clone())).expect("channel");
        assert!(call(plain).await.is_err());
        // ...but verifying it as orderer.example.com works.
        let tls = ClientTls {
            config: client,
            server_name_override: Some("orderer.example.com".into()),
        };
        let ch = channel(&endpoint, Some(tls)).expect("channel");
        assert_eq!(call(ch).await.expect("rpc").0, "none");
    }

    #[tokio::test]
    async fn stalled_and_failed_handshakes_do_not_block_others() {
        let pki = Pki::new("tls-ca");
        let leaf = pki.leaf(&["127.0.0.1"]);
        let server_tls =
            server_config_from_pem(leaf.cert_pem.as_bytes(), leaf.key_pem.as_bytes(), None)
                .expect("server config");
        // A handshake deadline far beyond the RPC timeout: only concurrency can save us.
        let server = serve(Some(server_tls), Duration::from_secs(600)).await;

        // A client that connects and says nothing, and one that sends garbage.
        let _stalled = TcpStream::connect(server.addr).await.expect("connect");
        let mut garbage = TcpStream::connect(server.addr).await.expect("connect");
        garbage
            .write_all(b"GET / HTTP/1.1\r\n\r\n")
            .await
            .expect("write");

        let client = client_config_from_pem(pki.ca_pem.as_bytes(), None).expect("client");
        let ch = channel(&server.addr.to_string(), client_tls(client)).expect("channel");
        assert_eq!(call(ch).await.expect("rpc").0, "none");
    }

    #[tokio::test]
    async fn handshakes_time_out() {
        let pki = Pki::new("tls-ca");
        let leaf = pki.leaf(&["127.0.0.1"]);
        let server_tls =
            server_config_from_pem(leaf.cert_pem.as_bytes(), leaf.key_pem.as_bytes(), None)
                .expect("server config");
        let server = serve(Some(server_tls), Duration::from_millis(200)).await;
        let mut stalled = TcpStream::connect(server.addr).await.expect("connect");
        // The server gives up and closes: the read sees EOF (or a reset).
        let mut buf = [0u8; 1];
        let read = within(tokio::io::AsyncReadExt::read(&mut stalled, &mut buf)).await;
        assert!(matches!(read, Some(Ok(0)) | Some(Err(_))), "{read:?}");
    }

    #[test]
    fn bad_endpoints_and_names_are_typed_errors() {
        for endpoint in [
            "",
            "localhost",
            "http://localhost:7050",
            "a b:1",
            "host:7050/x",
        ] {
            assert!(
                matches!(
                    channel(endpoint, None),
                    Err(GrpcError::InvalidEndpoint { .. })
                ),
                "{endpoint:?}"
            );
        }
        let pki = Pki::new("ca");
        let client = client_config_from_pem(pki.ca_pem.as_bytes(), None).expect("client");
        let tls = ClientTls {
            config: client,
            server_name_override: Some("not a name!".into()),
        };
        assert!(matches!(
            channel("localhost:7050", Some(tls)),
            Err(GrpcError::InvalidServerName { .. })
        ));
    }

    #[tokio::test]
    async fn connecting_to_nothing_fails_or_times_out() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let options = ClientOptions {
            connect_timeout: Duration::from_secs(2),
            ..Default::default()
        };
        let err = connect(&addr.to_string(), None, &options)
            .await
            .expect_err("nothing listens");
        assert!(matches!(
            err,
            GrpcError::Connect { .. } | GrpcError::Timeout { .. }
        ));
    }
}
