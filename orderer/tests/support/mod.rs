//! Shared by the participation API and osnadmin tests: a test PKI (rcgen), a fake
//! registrar, config blocks, an in-process admin server and a small HTTP(S) client.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::HOST;
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls_pki_types::ServerName;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use weft_orderer::participation::{
    self, ChannelInfo, ChannelParticipation, ChannelStatus, ConsensusRelation, ParticipationError,
};
use weft_proto::common::{Block, Config, ConfigGroup};

/// A CA able to issue leaves.
pub struct Ca {
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("self-signed");
        Self {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf (certificate PEM, key PEM) for `sans`.
    pub fn leaf(&self, sans: &[&str]) -> (String, String) {
        let names: Vec<String> = sans.iter().map(|s| (*s).to_owned()).collect();
        let params = CertificateParams::new(names).expect("params");
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        (cert.pem(), key.serialize_pem())
    }
}

/// PEM files of a TLS CA, a server identity and a client identity, plus a client identity
/// from another CA.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub rogue_cert: PathBuf,
    pub rogue_key: PathBuf,
}

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write");
    path
}

impl Pki {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = Ca::new("tls-ca");
        let (server_cert, server_key) = ca.leaf(&["localhost", "127.0.0.1"]);
        let (client_cert, client_key) = ca.leaf(&["admin"]);
        let rogue = Ca::new("rogue-ca");
        let (rogue_cert, rogue_key) = rogue.leaf(&["admin"]);
        let d = dir.path();
        Self {
            ca: write(d, "ca.crt", &ca.cert_pem),
            server_cert: write(d, "server.crt", &server_cert),
            server_key: write(d, "server.key", &server_key),
            client_cert: write(d, "client.crt", &client_cert),
            client_key: write(d, "client.key", &client_key),
            rogue_cert: write(d, "rogue.crt", &rogue_cert),
            rogue_key: write(d, "rogue.key", &rogue_key),
            dir,
        }
    }

    /// The admin endpoint's config: mutual TLS with the test CA as client root.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        weft_common::tls::server_config(
            &self.server_cert,
            &self.server_key,
            Some(std::slice::from_ref(&self.ca)),
        )
        .expect("server config")
    }

    /// A client trusting the test CA, with the test client identity.
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        weft_common::tls::client_config(
            std::slice::from_ref(&self.ca),
            Some((&self.client_cert, &self.client_key)),
        )
        .expect("client config")
    }

    /// A client trusting the test CA without any identity.
    pub fn anonymous_client_config(&self) -> Arc<rustls::ClientConfig> {
        weft_common::tls::client_config(std::slice::from_ref(&self.ca), None)
            .expect("client config")
    }

    /// A client trusting the test CA, presenting a certificate of another CA.
    pub fn rogue_client_config(&self) -> Arc<rustls::ClientConfig> {
        weft_common::tls::client_config(
            std::slice::from_ref(&self.ca),
            Some((&self.rogue_cert, &self.rogue_key)),
        )
        .expect("client config")
    }
}

/// A registrar keeping channels in memory. A channel named `pending-removal` cannot be
/// joined or removed (409); `broken` fails on join (500).
#[derive(Default)]
pub struct FakeRegistrar {
    pub channels: Mutex<BTreeMap<String, ChannelInfo>>,
}

impl ChannelParticipation for FakeRegistrar {
    fn join(&self, config_block: Block) -> Result<ChannelInfo, ParticipationError> {
        let name = weft_common::protoutil::block_channel_id(&config_block)
            .map_err(|e| ParticipationError::BadRequest(e.to_string()))?;
        match name.as_str() {
            "pending-removal" => {
                return Err(ParticipationError::Conflict(
                    "cannot join: channel pending removal".into(),
                ));
            }
            "broken" => {
                return Err(ParticipationError::Internal(
                    "cannot join: channel removal failure".into(),
                ));
            }
            _ => {}
        }
        let mut channels = self.channels.lock().expect("lock");
        if channels.contains_key(&name) {
            return Err(ParticipationError::AlreadyExists(
                "cannot join: channel already exists".into(),
            ));
        }
        let info = ChannelInfo {
            name: name.clone(),
            consensus_relation: ConsensusRelation::Consenter,
            status: ChannelStatus::Active,
            height: 1,
        };
        channels.insert(name, info.clone());
        Ok(info)
    }

    fn list(&self) -> Vec<String> {
        self.channels
            .lock()
            .expect("lock")
            .keys()
            .cloned()
            .collect()
    }

    fn info(&self, channel: &str) -> Option<ChannelInfo> {
        self.channels.lock().expect("lock").get(channel).cloned()
    }

    fn remove(&self, channel: &str) -> Result<(), ParticipationError> {
        if channel == "pending-removal" {
            return Err(ParticipationError::Conflict(
                "cannot remove: channel pending removal".into(),
            ));
        }
        self.channels
            .lock()
            .expect("lock")
            .remove(channel)
            .map(|_| ())
            .ok_or_else(|| {
                ParticipationError::NotFound("cannot remove: channel does not exist".into())
            })
    }
}

/// A genesis block of `channel_id` whose config has the given top-level groups.
pub fn config_block(channel_id: &str, groups: &[&str]) -> Block {
    let mut channel_group = ConfigGroup::default();
    for group in groups {
        channel_group
            .groups
            .insert((*group).to_owned(), ConfigGroup::default());
    }
    let config = Config {
        sequence: 0,
        channel_group: Some(channel_group),
    };
    weft_common::protoutil::genesis_block(channel_id, &config)
}

/// An application channel's genesis block.
pub fn app_block(channel_id: &str) -> Block {
    config_block(channel_id, &["Application", "Orderer"])
}

/// A running admin server.
pub struct Server {
    pub addr: SocketAddr,
    pub registrar: Arc<FakeRegistrar>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves the participation API on 127.0.0.1:0.
    pub async fn start(tls: Option<Arc<rustls::ServerConfig>>, max_body: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let registrar = Arc::new(FakeRegistrar::default());
        let backend: Arc<dyn ChannelParticipation> = registrar.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(participation::serve(
            listener,
            tls,
            backend,
            max_body,
            async {
                let _ = stopped.await;
            },
        ));
        Self {
            addr,
            registrar,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Serves the admin endpoint with participation disabled.
    pub async fn start_disabled() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(participation::serve_disabled(listener, None, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            registrar: Arc::new(FakeRegistrar::default()),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task");
        }
    }
}

/// A response: status, headers, body.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .expect("error field")
            .to_owned()
    }
}

/// One request to `addr`: TLS with `tls` (h2 or HTTP/1.1 per ALPN), plain HTTP/1.1
/// otherwise.
pub async fn request(
    addr: SocketAddr,
    tls: Option<Arc<rustls::ClientConfig>>,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<Reply, String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    match tls {
        None => send(tcp, false, addr, method, path, headers, body).await,
        Some(config) => {
            let connector = tokio_rustls::TlsConnector::from(config);
            let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
            let stream = connector
                .connect(name, tcp)
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
            send(stream, h2, addr, method, path, headers, body).await
        }
    }
}

async fn send<I>(
    io: I,
    h2: bool,
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<Reply, String>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let uri = if h2 {
        format!("https://localhost:{}{path}", addr.port())
    } else {
        path.to_owned()
    };
    let mut builder = Request::builder().method(method).uri(uri);
    if !h2 {
        builder = builder.header(HOST, format!("localhost:{}", addr.port()));
    }
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let io = TokioIo::new(io);
    let response = if h2 {
        let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(|e| format!("h2 handshake: {e}"))?;
        tokio::spawn(conn);
        sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| format!("http1 handshake: {e}"))?;
        tokio::spawn(conn);
        sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?
    };
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// A multipart/form-data body with the given (field name, file name, bytes) parts.
pub fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "weft-test-boundary-5f2c9a";
    let mut body = Vec::new();
    for (name, file_name, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file_name {
            Some(file) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
