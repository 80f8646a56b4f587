//! Real `peer` processes beside the orderers of `cluster_net`: each peer configured
//! through `CORE_PEER_*` variables as an operator would, driven with the real `peer` CLI.
//! Every process is started by a test and stopped by its pid (kill on drop).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::cluster_net::{Network, binary, free_port};

/// One peer process of an org (`peer0.org1.example.com`…).
#[derive(Debug)]
pub struct PeerNode {
    /// `org1`, `org2`.
    pub org: String,
    /// The MSP id (`Org1MSP`).
    pub mspid: String,
    /// The gRPC port.
    pub port: u16,
    /// The ledger root (`peer.fileSystemPath`).
    pub data_dir: PathBuf,
    /// Its log file.
    pub log: PathBuf,
    child: Option<Child>,
    orgs: PathBuf,
    cfg_dir: PathBuf,
}

/// The `peer` binary under test.
pub fn peer_binary() -> PathBuf {
    binary("peer", option_env!("CARGO_BIN_EXE_peer"))
}

impl PeerNode {
    /// A peer of `org` (1 or 2) of `net`, not started.
    pub fn new(net: &Network, org: usize) -> Self {
        let dir = net.dir.path();
        let cfg_dir = dir.join("peer-no-config");
        std::fs::create_dir_all(&cfg_dir).expect("cfg dir");
        Self {
            org: format!("org{org}"),
            mspid: format!("Org{org}MSP"),
            port: free_port(),
            data_dir: dir.join(format!("data/peer0.org{org}")),
            log: dir.join(format!("peer0.org{org}.log")),
            child: None,
            orgs: net.orgs.clone(),
            cfg_dir,
        }
    }

    fn org_dir(&self) -> PathBuf {
        self.orgs
            .join("peerOrganizations")
            .join(format!("{}.example.com", self.org))
    }

    fn peer_dir(&self) -> PathBuf {
        self.org_dir()
            .join("peers")
            .join(format!("peer0.{}.example.com", self.org))
    }

    /// The org's TLS CA certificate.
    pub fn tls_ca(&self) -> PathBuf {
        self.org_dir()
            .join("tlsca")
            .join(format!("tlsca.{}.example.com-cert.pem", self.org))
    }

    /// Starts the peer process and waits for its port.
    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let p = |path: &Path| path.display().to_string();
        let tls = self.peer_dir().join("tls");
        let child = Command::new(peer_binary())
            .args(["node", "start"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("FABRIC_CFG_PATH", &self.cfg_dir)
            .env(
                "FABRIC_LOGGING_SPEC",
                std::env::var("WEFT_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env("CORE_PEER_ID", format!("peer0.{}.example.com", self.org))
            .env(
                "CORE_PEER_LISTENADDRESS",
                format!("127.0.0.1:{}", self.port),
            )
            .env("CORE_PEER_ADDRESS", format!("127.0.0.1:{}", self.port))
            .env(
                "CORE_PEER_CHAINCODELISTENADDRESS",
                format!("127.0.0.1:{}", free_port()),
            )
            .env("CORE_PEER_LOCALMSPID", &self.mspid)
            .env("CORE_PEER_MSPCONFIGPATH", p(&self.peer_dir().join("msp")))
            .env("CORE_PEER_FILESYSTEMPATH", p(&self.data_dir))
            .env("CORE_PEER_TLS_ENABLED", "true")
            .env("CORE_PEER_TLS_CERT_FILE", p(&tls.join("server.crt")))
            .env("CORE_PEER_TLS_KEY_FILE", p(&tls.join("server.key")))
            .env("CORE_PEER_TLS_ROOTCERT_FILE", p(&tls.join("ca.crt")))
            .env(
                "CORE_OPERATIONS_LISTENADDRESS",
                format!("127.0.0.1:{}", free_port()),
            )
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn peer");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("peer exited with {status}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "peer never listened:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILLs the peer (by pid) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The peer's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs the `peer` CLI as the org's admin against this peer.
    pub fn cli(&self, args: &[&str]) -> Output {
        let p = |path: &Path| path.display().to_string();
        let admin_msp = self
            .org_dir()
            .join("users")
            .join(format!("Admin@{}.example.com", self.org))
            .join("msp");
        Command::new(peer_binary())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("FABRIC_CFG_PATH", &self.cfg_dir)
            .env("CORE_PEER_ADDRESS", format!("127.0.0.1:{}", self.port))
            .env("CORE_PEER_LOCALMSPID", &self.mspid)
            .env("CORE_PEER_MSPCONFIGPATH", p(&admin_msp))
            .env("CORE_PEER_TLS_ENABLED", "true")
            .env("CORE_PEER_TLS_ROOTCERT_FILE", p(&self.tls_ca()))
            .output()
            .expect("run peer CLI")
    }

    /// Runs the CLI and returns its stdout, panicking with its output on failure.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "peer {args:?} failed: {}{}\n--- peer log ---\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    }
}

impl Drop for PeerNode {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            eprintln!("--- log of peer0.{} (last 60 lines) ---", self.org);
            for line in &lines[lines.len().saturating_sub(60)..] {
                eprintln!("{line}");
            }
        }
    }
}
