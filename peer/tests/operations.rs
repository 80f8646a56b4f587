//! The peer's operations endpoint (`operations.listenAddress`), served by a real
//! `peer node start` process with no channel joined: `/healthz`, `/metrics` (with
//! `metrics.provider: prometheus`, 404 when disabled), `/logspec` changing the running
//! process's log filter, `/version`; over plain HTTP, over TLS without client
//! authentication (the secure handlers `/metrics` and `/logspec` then answer 401, as
//! Fabric's do for clients without a certificate), and over mutual TLS.
//!
//! Every process is started by a test and stopped by its pid (kill on drop).

#[path = "../../orderer/tests/cluster_net/mod.rs"]
mod cluster_net;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cluster_net::{ChannelSettings, Network, free_port};
use hyper::{Method, StatusCode};
use serde_json::Value;
use weft_common::operations::client::{self, ClientTls, Reply};

const ORG: &str = "org1.example.com";
const PEER: &str = "peer0.org1.example.com";

/// Crypto material of Org1 and a channel genesis block (`cluster_net`'s network; no
/// orderer is started).
struct Material {
    net: Network,
}

impl Material {
    fn new() -> Self {
        Self {
            net: Network::new(1, ChannelSettings::default()),
        }
    }

    fn root(&self) -> &Path {
        self.net.dir.path()
    }

    /// `peer.fileSystemPath` of the peer started as `name`.
    fn data_dir(&self, name: &str) -> PathBuf {
        self.root().join(format!("{name}-data"))
    }

    fn org_dir(&self) -> PathBuf {
        self.net.orgs.join("peerOrganizations").join(ORG)
    }

    fn peer_dir(&self) -> PathBuf {
        self.org_dir().join("peers").join(PEER)
    }

    /// The peer's TLS directory (`ca.crt`, `server.crt`, `server.key`).
    fn peer_tls(&self) -> PathBuf {
        self.peer_dir().join("tls")
    }

    /// The org admin's TLS directory (`ca.crt`, `client.crt`, `client.key`).
    fn admin_tls(&self) -> PathBuf {
        self.org_dir()
            .join("users")
            .join(format!("Admin@{ORG}"))
            .join("tls")
    }
}

/// A running `peer node start`.
struct PeerProcess {
    child: Option<Child>,
    log: PathBuf,
    operations: SocketAddr,
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

impl PeerProcess {
    /// Starts a peer of `material` with `FABRIC_LOGGING_SPEC=logspec` and the extra
    /// `CORE_*` variables `env`, its operations endpoint on a free loopback port.
    fn start(material: &Material, name: &str, logspec: &str, env: &[(&str, String)]) -> Self {
        let root = material.root();
        let cfg_dir = root.join("no-config");
        std::fs::create_dir_all(&cfg_dir).expect("cfg dir");
        let log = root.join(format!("{name}.log"));
        let log_file = std::fs::File::create(&log).expect("log file");
        let tls = material.peer_tls();
        let operations = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut command = Command::new(env!("CARGO_BIN_EXE_peer"));
        command
            .args(["node", "start"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("FABRIC_CFG_PATH", &cfg_dir)
            .env("FABRIC_LOGGING_SPEC", logspec)
            .env("CORE_PEER_ID", PEER)
            .env(
                "CORE_PEER_LISTENADDRESS",
                format!("127.0.0.1:{}", free_port()),
            )
            .env(
                "CORE_PEER_CHAINCODELISTENADDRESS",
                format!("127.0.0.1:{}", free_port()),
            )
            .env("CORE_PEER_LOCALMSPID", "Org1MSP")
            .env(
                "CORE_PEER_MSPCONFIGPATH",
                p(&material.peer_dir().join("msp")),
            )
            .env("CORE_PEER_FILESYSTEMPATH", p(&material.data_dir(name)))
            .env("CORE_PEER_TLS_ENABLED", "true")
            .env("CORE_PEER_TLS_CERT_FILE", p(&tls.join("server.crt")))
            .env("CORE_PEER_TLS_KEY_FILE", p(&tls.join("server.key")))
            .env("CORE_PEER_TLS_ROOTCERT_FILE", p(&tls.join("ca.crt")))
            .env("CORE_OPERATIONS_LISTENADDRESS", operations.to_string());
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command
            .stdout(Stdio::from(log_file.try_clone().expect("log")))
            .stderr(Stdio::from(log_file))
            .spawn()
            .expect("spawn peer");
        Self {
            child: Some(child),
            log,
            operations,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the operations endpoint answers `/version` (over `tls` when given).
    async fn wait_ready(&mut self, tls: Option<&ClientTls>) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("peer exited with {status}:\n{}", self.log());
            }
            let answer = tokio::time::timeout(
                Duration::from_secs(5),
                client::request(self.operations, tls, Method::GET, "/version", ""),
            )
            .await;
            if let Ok(Ok(reply)) = answer {
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the operations endpoint never answered ({answer:?}):\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn call(&self, tls: Option<&ClientTls>, method: Method, path: &str, body: &str) -> Reply {
        tokio::time::timeout(
            Duration::from_secs(20),
            client::request(self.operations, tls, method.clone(), path, body.to_owned()),
        )
        .await
        .unwrap_or_else(|_| panic!("{method} {path} timed out:\n{}", self.log()))
        .unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.log()))
    }

    async fn get(&self, tls: Option<&ClientTls>, path: &str) -> Reply {
        self.call(tls, Method::GET, path, "").await
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            eprintln!("--- peer log (last 60 lines) ---");
            for line in &lines[lines.len().saturating_sub(60)..] {
                eprintln!("{line}");
            }
        }
    }
}

fn json(reply: &Reply) -> Value {
    serde_json::from_slice(&reply.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", reply.text()))
}

/// `/healthz` answers 200 `{"status":"OK","time":…}` without failed checks.
async fn assert_healthy(peer: &PeerProcess, tls: Option<&ClientTls>) {
    let reply = peer.get(tls, "/healthz").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let health = json(&reply);
    assert_eq!(health["status"], "OK", "{health}");
    assert!(
        health["time"].as_str().is_some_and(|t| !t.is_empty()),
        "{health}"
    );
    assert!(health.get("failed_checks").is_none(), "{health}");
}

/// `/version` answers `{"CommitSHA":…,"Version":<the crate version>}`.
async fn assert_version(peer: &PeerProcess, tls: Option<&ClientTls>) {
    let reply = peer.get(tls, "/version").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(json(&reply)["Version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_healthz_metrics_logspec_version() {
    let material = Material::new();
    let mut peer = PeerProcess::start(
        &material,
        "plain",
        "info",
        &[("CORE_METRICS_PROVIDER", "prometheus".to_owned())],
    );
    peer.wait_ready(None).await;

    assert_healthy(&peer, None).await;
    let reply = peer.call(None, Method::POST, "/healthz", "").await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);

    let reply = peer.get(None, "/metrics").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = reply.text();
    for line in [
        "# TYPE endorser_proposals_received counter",
        "endorser_proposals_received 0",
        "endorser_successful_proposals 0",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }

    // The log spec the process started with, then changed at run time.
    let reply = peer.get(None, "/logspec").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "{\"spec\":\"info\"}\n");
    let reply = peer
        .call(None, Method::PUT, "/logspec", "{\"spec\":\"debug\"}")
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    assert_eq!(
        peer.get(None, "/logspec").await.text(),
        "{\"spec\":\"debug\"}\n"
    );
    let reply = peer
        .call(
            None,
            Method::PUT,
            "/logspec",
            "{\"spec\":\"weft_peer.node=debug:warning\"}",
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    assert_eq!(
        peer.get(None, "/logspec").await.text(),
        "{\"spec\":\"weft_peer.node=debug:warn\"}\n"
    );
    let reply = peer
        .call(None, Method::PUT, "/logspec", "{\"spec\":\"shouting\"}")
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        json(&reply)["error"],
        "invalid logging specification 'shouting': bad segment 'shouting'"
    );
    assert_eq!(
        peer.get(None, "/logspec").await.text(),
        "{\"spec\":\"weft_peer.node=debug:warn\"}\n"
    );

    assert_version(&peer, None).await;
    let reply = peer.get(None, "/nope").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_reads_the_joined_ledgers() {
    let material = Material::new();
    // Join the channel before the start (its orderer never runs: the peer's deliver
    // client keeps retrying, the ledger stays at the genesis block).
    {
        let channels = weft_peer::channels::Channels::open(&material.data_dir("joined"))
            .expect("open channels");
        channels.join(&material.net.genesis).expect("join");
    }
    let mut peer = PeerProcess::start(&material, "joined", "info", &[]);
    peer.wait_ready(None).await;
    assert_healthy(&peer, None).await;
    assert!(
        peer.log().contains(cluster_net::CHANNEL),
        "the channel was not opened:\n{}",
        peer.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_disabled_is_not_found() {
    let material = Material::new();
    // metrics.provider defaults to disabled, as in Fabric.
    let mut peer = PeerProcess::start(&material, "disabled", "gossip=debug:WARNING", &[]);
    peer.wait_ready(None).await;

    assert_healthy(&peer, None).await;
    let reply = peer.get(None, "/metrics").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text());
    assert_eq!(reply.text(), "404 page not found\n");
    // The initial spec, in Fabric's normalized form.
    assert_eq!(
        peer.get(None, "/logspec").await.text(),
        "{\"spec\":\"gossip=debug:warn\"}\n"
    );
    assert_version(&peer, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_without_client_auth() {
    let material = Material::new();
    let tls = material.peer_tls();
    let mut peer = PeerProcess::start(
        &material,
        "tls",
        "info",
        &[
            ("CORE_METRICS_PROVIDER", "prometheus".to_owned()),
            ("CORE_OPERATIONS_TLS_ENABLED", "true".to_owned()),
            ("CORE_OPERATIONS_TLS_CERT_FILE", p(&tls.join("server.crt"))),
            ("CORE_OPERATIONS_TLS_KEY_FILE", p(&tls.join("server.key"))),
        ],
    );
    let client_tls = ClientTls {
        config: weft_common::tls::client_config(&[tls.join("ca.crt")], None)
            .expect("client config"),
        server_name: "localhost".to_owned(),
    };
    peer.wait_ready(Some(&client_tls)).await;

    assert_healthy(&peer, Some(&client_tls)).await;
    assert_version(&peer, Some(&client_tls)).await;
    // Fabric's secure handlers want a verified client certificate on a TLS endpoint.
    for path in ["/metrics", "/logspec"] {
        let reply = peer.get(Some(&client_tls), path).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{path}: {}",
            reply.text()
        );
    }
    let reply = peer
        .call(
            Some(&client_tls),
            Method::PUT,
            "/logspec",
            "{\"spec\":\"debug\"}",
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = tokio::time::timeout(
        Duration::from_secs(10),
        client::request(peer.operations, None, Method::GET, "/healthz", ""),
    )
    .await
    .expect("plain request timed out");
    assert!(
        plain.as_ref().map_or(true, |r| r.status != StatusCode::OK),
        "{plain:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_serves_metrics_and_logspec() {
    let material = Material::new();
    let tls = material.peer_tls();
    let admin = material.admin_tls();
    let mut peer = PeerProcess::start(
        &material,
        "mtls",
        "info",
        &[
            ("CORE_METRICS_PROVIDER", "prometheus".to_owned()),
            ("CORE_OPERATIONS_TLS_ENABLED", "true".to_owned()),
            ("CORE_OPERATIONS_TLS_CERT_FILE", p(&tls.join("server.crt"))),
            ("CORE_OPERATIONS_TLS_KEY_FILE", p(&tls.join("server.key"))),
            ("CORE_OPERATIONS_TLS_CLIENTAUTHREQUIRED", "true".to_owned()),
            (
                "CORE_OPERATIONS_TLS_CLIENTROOTCAS_FILES",
                format!("[{}]", p(&tls.join("ca.crt"))),
            ),
        ],
    );
    let client_tls = ClientTls {
        config: weft_common::tls::client_config(
            &[tls.join("ca.crt")],
            Some((&admin.join("client.crt"), &admin.join("client.key"))),
        )
        .expect("client config"),
        server_name: "localhost".to_owned(),
    };
    peer.wait_ready(Some(&client_tls)).await;

    assert_healthy(&peer, Some(&client_tls)).await;
    // At info, a refused handshake is not logged.
    let anonymous = ClientTls {
        config: weft_common::tls::client_config(&[tls.join("ca.crt")], None)
            .expect("client config"),
        server_name: "localhost".to_owned(),
    };
    let refused = tokio::time::timeout(
        Duration::from_secs(10),
        client::request(
            peer.operations,
            Some(&anonymous),
            Method::GET,
            "/healthz",
            "",
        ),
    )
    .await
    .expect("anonymous request timed out");
    assert!(refused.is_err(), "{refused:?}");

    let reply = peer.get(Some(&client_tls), "/metrics").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(reply.text().contains("endorser_proposals_received 0"));
    let reply = peer
        .call(
            Some(&client_tls),
            Method::PUT,
            "/logspec",
            "{\"spec\":\"debug\"}",
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    assert_eq!(
        peer.get(Some(&client_tls), "/logspec").await.text(),
        "{\"spec\":\"debug\"}\n"
    );

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !peer.log().contains("TLS handshake failed"),
        "logged at info:\n{}",
        peer.log()
    );

    // Without a client certificate the handshake is refused.
    let refused = tokio::time::timeout(
        Duration::from_secs(10),
        client::request(
            peer.operations,
            Some(&anonymous),
            Method::GET,
            "/healthz",
            "",
        ),
    )
    .await
    .expect("anonymous request timed out");
    assert!(refused.is_err(), "{refused:?}");

    // The debug level set through /logspec is live: the refused handshake is logged at
    // debug (not at info, the starting level).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !peer.log().contains("TLS handshake failed") {
        assert!(
            Instant::now() < deadline,
            "no debug line after PUT /logspec debug:\n{}",
            peer.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
