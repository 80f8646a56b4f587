//! A puppeteer for real `orderer` processes on loopback: crypto material and the genesis
//! block from `weft-tools`, nodes configured through `ORDERER_*` variables as an operator
//! would, channels joined with the real `osnadmin`, and gRPC clients over our TLS.
//!
//! Every process is started by a test and stopped by its pid (kill on drop).

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use tempfile::TempDir;
use tokio_stream::StreamExt;
use weft_common::grpc::{self, ClientTls};
use weft_common::msp::{MspDir, SigningIdentity};
use weft_common::protoutil;
use weft_proto::common::{Block, Envelope, HeaderType, Status};
use weft_proto::orderer::atomic_broadcast_client::AtomicBroadcastClient;
use weft_proto::orderer::{
    BroadcastResponse, SeekInfo, SeekPosition, SeekSpecified, deliver_response, seek_info,
    seek_position,
};

pub const CHANNEL: &str = "mychannel";

/// Ports of one node.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub general: u16,
    pub admin: u16,
    pub operations: u16,
}

/// The path of workspace binary `name`: cargo's `CARGO_BIN_EXE_<name>` when this file is
/// compiled into the orderer's own tests, else the binary beside the test executable's
/// directory (`target/<profile>/<name>`, built by a workspace-wide test run).
pub fn binary(name: &str, from_cargo: Option<&'static str>) -> PathBuf {
    if let Some(path) = from_cargo {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("current exe");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .join(name);
    assert!(
        path.is_file(),
        "{} is missing: build it first (`cargo build --workspace --bins`; the workspace test run does)",
        path.display()
    );
    path
}

/// A free loopback port, never the same twice in this process (the OS may hand a port
/// just released to the next `bind(0)`, and ports are picked before processes bind them).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("bind 127.0.0.1:0")
            .local_addr()
            .expect("addr")
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Channel settings written into configtx.yaml.
#[derive(Debug, Clone)]
pub struct ChannelSettings {
    pub batch_timeout: &'static str,
    pub max_message_count: u32,
    pub absolute_max_bytes: &'static str,
    pub preferred_max_bytes: &'static str,
    pub tick_interval: &'static str,
    pub election_tick: u32,
    pub snapshot_interval_size: &'static str,
}

impl Default for ChannelSettings {
    fn default() -> Self {
        Self {
            batch_timeout: "200ms",
            max_message_count: 10,
            absolute_max_bytes: "1 MB",
            preferred_max_bytes: "512 KB",
            tick_interval: "100ms",
            election_tick: 10,
            snapshot_interval_size: "16 MB",
        }
    }
}

/// One orderer node: its files, ports and (when running) process.
#[derive(Debug)]
pub struct Node {
    pub index: usize,
    pub name: String,
    pub ports: Ports,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
}

/// A set of orderer nodes sharing one channel genesis block.
#[derive(Debug)]
pub struct Network {
    pub dir: TempDir,
    pub orgs: PathBuf,
    pub nodes: Vec<Node>,
    pub genesis: Block,
    pub genesis_path: PathBuf,
}

impl Network {
    /// Crypto material for `n` orderers (orderer0…) and Org1/Org2, and a genesis block
    /// with every orderer a consenter.
    pub fn new(n: usize, settings: ChannelSettings) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let orgs = dir.path().join("organizations");
        let specs: String = (0..n)
            .map(|i| {
                format!("      - Hostname: orderer{i}\n        SANS: [localhost, 127.0.0.1]\n")
            })
            .collect();
        let crypto_config = format!(
            r#"OrdererOrgs:
  - Name: Orderer
    Domain: example.com
    EnableNodeOUs: true
    Specs:
{specs}PeerOrgs:
  - Name: Org1
    Domain: org1.example.com
    EnableNodeOUs: true
    Template:
      Count: 1
      SANS: [localhost, 127.0.0.1]
    Users:
      Count: 1
  - Name: Org2
    Domain: org2.example.com
    EnableNodeOUs: true
    Template:
      Count: 1
      SANS: [localhost, 127.0.0.1]
    Users:
      Count: 1
"#
        );
        let config =
            weft_tools::cryptogen::CryptoConfig::from_yaml(&crypto_config).expect("crypto-config");
        weft_tools::cryptogen::generate(&config, &orgs).expect("cryptogen");

        let nodes: Vec<Node> = (0..n)
            .map(|i| Node {
                index: i,
                name: format!("orderer{i}.example.com"),
                ports: Ports {
                    general: free_port(),
                    admin: free_port(),
                    operations: free_port(),
                },
                data_dir: dir.path().join(format!("data/orderer{i}")),
                log: dir.path().join(format!("orderer{i}.log")),
                child: None,
            })
            .collect();
        let consenters: String = nodes
            .iter()
            .map(|node| {
                let tls = format!("organizations/ordererOrganizations/example.com/orderers/{}/tls/server.crt", node.name);
                format!(
                    "          - Host: 127.0.0.1\n            Port: {}\n            ClientTLSCert: {tls}\n            ServerTLSCert: {tls}\n",
                    node.ports.general
                )
            })
            .collect();
        let endpoints: String = nodes
            .iter()
            .map(|n| format!("      - 127.0.0.1:{}\n", n.ports.general))
            .collect();
        let s = &settings;
        let configtx = format!(
            r#"Organizations:
  - &OrdererOrg
    Name: OrdererOrg
    ID: OrdererMSP
    MSPDir: organizations/ordererOrganizations/example.com/msp
    Policies:
      Readers: {{Type: Signature, Rule: "OR('OrdererMSP.member')"}}
      Writers: {{Type: Signature, Rule: "OR('OrdererMSP.member')"}}
      Admins: {{Type: Signature, Rule: "OR('OrdererMSP.admin')"}}
    OrdererEndpoints:
{endpoints}  - &Org1
    Name: Org1MSP
    ID: Org1MSP
    MSPDir: organizations/peerOrganizations/org1.example.com/msp
    Policies:
      Readers: {{Type: Signature, Rule: "OR('Org1MSP.admin', 'Org1MSP.peer', 'Org1MSP.client')"}}
      Writers: {{Type: Signature, Rule: "OR('Org1MSP.admin', 'Org1MSP.client')"}}
      Admins: {{Type: Signature, Rule: "OR('Org1MSP.admin')"}}
      Endorsement: {{Type: Signature, Rule: "OR('Org1MSP.peer')"}}
  - &Org2
    Name: Org2MSP
    ID: Org2MSP
    MSPDir: organizations/peerOrganizations/org2.example.com/msp
    Policies:
      Readers: {{Type: Signature, Rule: "OR('Org2MSP.admin', 'Org2MSP.peer')"}}
      Writers: {{Type: Signature, Rule: "OR('Org2MSP.admin')"}}
      Admins: {{Type: Signature, Rule: "OR('Org2MSP.admin')"}}
      Endorsement: {{Type: Signature, Rule: "OR('Org2MSP.peer')"}}
Profiles:
  Test:
    Policies:
      Readers: {{Type: ImplicitMeta, Rule: "ANY Readers"}}
      Writers: {{Type: ImplicitMeta, Rule: "ANY Writers"}}
      Admins: {{Type: ImplicitMeta, Rule: "MAJORITY Admins"}}
    Capabilities: {{V2_0: true}}
    Orderer:
      OrdererType: etcdraft
      BatchTimeout: {batch_timeout}
      BatchSize:
        MaxMessageCount: {max_message_count}
        AbsoluteMaxBytes: {absolute_max_bytes}
        PreferredMaxBytes: {preferred_max_bytes}
      EtcdRaft:
        Consenters:
{consenters}        Options:
          TickInterval: {tick_interval}
          ElectionTick: {election_tick}
          HeartbeatTick: 1
          MaxInflightBlocks: 5
          SnapshotIntervalSize: {snapshot_interval_size}
      Organizations: [*OrdererOrg]
      Policies:
        Readers: {{Type: ImplicitMeta, Rule: "ANY Readers"}}
        Writers: {{Type: ImplicitMeta, Rule: "ANY Writers"}}
        Admins: {{Type: ImplicitMeta, Rule: "MAJORITY Admins"}}
        BlockValidation: {{Type: ImplicitMeta, Rule: "ANY Writers"}}
      Capabilities: {{V2_0: true}}
    Application:
      Organizations: [*Org1, *Org2]
      Policies:
        Readers: {{Type: ImplicitMeta, Rule: "ANY Readers"}}
        Writers: {{Type: ImplicitMeta, Rule: "ANY Writers"}}
        Admins: {{Type: ImplicitMeta, Rule: "MAJORITY Admins"}}
        Endorsement: {{Type: ImplicitMeta, Rule: "MAJORITY Endorsement"}}
        LifecycleEndorsement: {{Type: ImplicitMeta, Rule: "MAJORITY Endorsement"}}
      Capabilities: {{V2_5: true}}
"#,
            batch_timeout = s.batch_timeout,
            max_message_count = s.max_message_count,
            absolute_max_bytes = s.absolute_max_bytes,
            preferred_max_bytes = s.preferred_max_bytes,
            tick_interval = s.tick_interval,
            election_tick = s.election_tick,
            snapshot_interval_size = s.snapshot_interval_size,
        );
        std::fs::write(dir.path().join("configtx.yaml"), &configtx).expect("write configtx.yaml");
        let top = weft_tools::configtxgen::TopLevel::from_yaml(&configtx, dir.path())
            .expect("configtx.yaml");
        let profile = top.profile("Test").expect("profile");
        let genesis =
            weft_tools::configtxgen::genesis_block(&profile, CHANNEL).expect("genesis block");
        let genesis_path = dir.path().join("mychannel.block");
        std::fs::write(&genesis_path, genesis.encode_to_vec()).expect("write genesis");
        Self {
            dir,
            orgs,
            nodes,
            genesis,
            genesis_path,
        }
    }

    fn orderer_dir(&self, node: usize) -> PathBuf {
        self.orgs
            .join("ordererOrganizations/example.com/orderers")
            .join(&self.nodes[node].name)
    }

    /// The TLS CA of the orderer org.
    pub fn orderer_tls_ca(&self) -> PathBuf {
        self.orgs
            .join("ordererOrganizations/example.com/tlsca/tlsca.example.com-cert.pem")
    }

    fn admin_tls_dir(&self) -> PathBuf {
        self.orgs
            .join("ordererOrganizations/example.com/users/Admin@example.com/tls")
    }

    /// Starts node `i` (again), appending to its log file.
    pub fn start(&mut self, i: usize) {
        let tls = self.orderer_dir(i).join("tls");
        let msp = self.orderer_dir(i).join("msp");
        let ca = self.orderer_tls_ca();
        let cfg_dir = self.dir.path().join("no-config");
        std::fs::create_dir_all(&cfg_dir).expect("cfg dir");
        let node = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .expect("log file");
        let p = |path: &Path| path.display().to_string();
        let child = Command::new(binary("orderer", option_env!("CARGO_BIN_EXE_orderer")))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("FABRIC_CFG_PATH", &cfg_dir)
            .env(
                "FABRIC_LOGGING_SPEC",
                std::env::var("WEFT_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env("ORDERER_GENERAL_LISTENADDRESS", "127.0.0.1")
            .env("ORDERER_GENERAL_LISTENPORT", node.ports.general.to_string())
            .env("ORDERER_GENERAL_LOCALMSPID", "OrdererMSP")
            .env("ORDERER_GENERAL_LOCALMSPDIR", p(&msp))
            .env("ORDERER_GENERAL_BOOTSTRAPMETHOD", "none")
            .env("ORDERER_GENERAL_TLS_ENABLED", "true")
            .env("ORDERER_GENERAL_TLS_PRIVATEKEY", p(&tls.join("server.key")))
            .env(
                "ORDERER_GENERAL_TLS_CERTIFICATE",
                p(&tls.join("server.crt")),
            )
            .env("ORDERER_GENERAL_TLS_ROOTCAS", format!("[{}]", p(&ca)))
            .env(
                "ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE",
                p(&tls.join("server.crt")),
            )
            .env(
                "ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY",
                p(&tls.join("server.key")),
            )
            .env("ORDERER_GENERAL_CLUSTER_ROOTCAS", format!("[{}]", p(&ca)))
            .env("ORDERER_FILELEDGER_LOCATION", p(&node.data_dir))
            .env("ORDERER_CHANNELPARTICIPATION_ENABLED", "true")
            .env(
                "ORDERER_ADMIN_LISTENADDRESS",
                format!("127.0.0.1:{}", node.ports.admin),
            )
            .env("ORDERER_ADMIN_TLS_ENABLED", "true")
            .env("ORDERER_ADMIN_TLS_PRIVATEKEY", p(&tls.join("server.key")))
            .env("ORDERER_ADMIN_TLS_CERTIFICATE", p(&tls.join("server.crt")))
            .env("ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED", "true")
            .env("ORDERER_ADMIN_TLS_CLIENTROOTCAS", format!("[{}]", p(&ca)))
            .env(
                "ORDERER_OPERATIONS_LISTENADDRESS",
                format!("127.0.0.1:{}", node.ports.operations),
            )
            .env("ORDERER_METRICS_PROVIDER", "prometheus")
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn orderer");
        node.child = Some(child);
        wait_for_port(node.ports.general, &node.log);
    }

    /// Starts every node.
    pub fn start_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.start(i);
        }
    }

    /// SIGKILLs node `i` (by pid) and reaps it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether node `i` is running (not exited).
    pub fn is_running(&mut self, i: usize) -> bool {
        match self.nodes[i].child.as_mut() {
            Some(child) => child.try_wait().ok().flatten().is_none(),
            None => false,
        }
    }

    /// The log of node `i`.
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(&self.nodes[i].log).unwrap_or_default()
    }

    /// Runs `osnadmin` against node `i` with the orderer admin's TLS identity.
    pub fn osnadmin(&self, i: usize, args: &[&str]) -> std::process::Output {
        let admin = self.admin_tls_dir();
        Command::new(binary("osnadmin", option_env!("CARGO_BIN_EXE_osnadmin")))
            .args(args)
            .args(["-o", &format!("127.0.0.1:{}", self.nodes[i].ports.admin)])
            .args(["--ca-file", &self.orderer_tls_ca().display().to_string()])
            .args([
                "--client-cert",
                &admin.join("client.crt").display().to_string(),
            ])
            .args([
                "--client-key",
                &admin.join("client.key").display().to_string(),
            ])
            .output()
            .expect("run osnadmin")
    }

    /// Joins node `i` to the channel with the genesis block.
    pub fn join(&self, i: usize) {
        let genesis = self.genesis_path.display().to_string();
        let out = self.osnadmin(
            i,
            &[
                "channel",
                "join",
                "--channelID",
                CHANNEL,
                "--config-block",
                &genesis,
            ],
        );
        assert!(
            out.status.success(),
            "osnadmin join on node {i} failed: {}{}\n--- log ---\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log(i)
        );
    }

    /// A signing identity: `Org1MSP` User1 (a client: satisfies Writers and Readers).
    pub fn client(&self) -> Arc<SigningIdentity> {
        self.user(
            "peerOrganizations/org1.example.com/users/User1@org1.example.com/msp",
            "Org1MSP",
        )
    }

    /// Any user's signing identity by MSP dir (relative to organizations/).
    pub fn user(&self, msp_dir: &str, mspid: &str) -> Arc<SigningIdentity> {
        let dir = MspDir::load(&self.orgs.join(msp_dir), mspid).expect("user msp");
        Arc::new(dir.signing_identity.expect("signing identity"))
    }

    /// A gRPC client of node `i`'s AtomicBroadcast over TLS.
    pub fn broadcast_client(&self, i: usize) -> AtomicBroadcastClient<tonic::transport::Channel> {
        let config =
            weft_common::tls::client_config(&[self.orderer_tls_ca()], None).expect("client tls");
        let channel = grpc::channel(
            &format!("127.0.0.1:{}", self.nodes[i].ports.general),
            Some(ClientTls {
                config,
                server_name_override: None,
            }),
        )
        .expect("grpc channel");
        AtomicBroadcastClient::new(channel).max_decoding_message_size(256 << 20)
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
        if std::thread::panicking() {
            for i in 0..self.nodes.len() {
                eprintln!("--- log of orderer{i} (last 60 lines) ---");
                let log = self.log(i);
                let lines: Vec<&str> = log.lines().collect();
                for line in &lines[lines.len().saturating_sub(60)..] {
                    eprintln!("{line}");
                }
            }
        }
    }
}

fn wait_for_port(port: u16, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "orderer never listened on {port}; log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// An endorser-transaction-shaped envelope signed by `signer`, carrying `data`.
pub fn envelope(signer: &SigningIdentity, data: &[u8]) -> Envelope {
    protoutil::create_signed_envelope(HeaderType::EndorserTransaction, CHANNEL, signer, data, 0)
        .expect("envelope")
}

/// Sends envelopes on one Broadcast stream and returns the responses in order.
pub async fn broadcast(
    client: &mut AtomicBroadcastClient<tonic::transport::Channel>,
    envelopes: Vec<Envelope>,
) -> Result<Vec<BroadcastResponse>, tonic::Status> {
    let count = envelopes.len();
    let mut responses = client
        .broadcast(tokio_stream::iter(envelopes))
        .await?
        .into_inner();
    let mut out = Vec::with_capacity(count);
    while let Some(item) = responses.next().await {
        out.push(item?);
        if out.len() == count {
            break;
        }
    }
    Ok(out)
}

/// A seek envelope for blocks `start..=stop` signed by `signer`.
pub fn seek_envelope(
    signer: &SigningIdentity,
    start: SeekPosition,
    stop: SeekPosition,
    behavior: seek_info::SeekBehavior,
) -> Envelope {
    let seek = SeekInfo {
        start: Some(start),
        stop: Some(stop),
        behavior: behavior as i32,
        error_response: 0,
    };
    protoutil::create_signed_envelope(
        HeaderType::DeliverSeekInfo,
        CHANNEL,
        signer,
        &seek.encode_to_vec(),
        0,
    )
    .expect("seek envelope")
}

/// A `Specified(n)` seek position.
pub fn specified(number: u64) -> SeekPosition {
    SeekPosition {
        r#type: Some(seek_position::Type::Specified(SeekSpecified { number })),
    }
}

/// Broadcasts probe envelopes to node `i` until one is ordered (a leader exists),
/// returning how many probes were ordered (always 1). Panics after 30 s.
pub async fn wait_until_ordering(net: &Network, i: usize) -> usize {
    let signer = net.client();
    let mut client = net.broadcast_client(i);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = None;
    while Instant::now() < deadline {
        match broadcast(&mut client, vec![envelope(&signer, b"probe")]).await {
            Ok(r)
                if r.first()
                    .is_some_and(|r| r.status == Status::Success as i32) =>
            {
                return 1;
            }
            other => last = Some(format!("{other:?}")),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("node {i} never ordered a probe: {last:?}\n{}", net.log(i));
}

/// Delivers blocks `from..=to` from node `i` (waiting for them) and the final status.
pub async fn deliver(
    client: &mut AtomicBroadcastClient<tonic::transport::Channel>,
    envelope: Envelope,
) -> Result<(Vec<Block>, Option<Status>), tonic::Status> {
    let mut responses = client
        .deliver(tokio_stream::iter(vec![envelope]))
        .await?
        .into_inner();
    let mut blocks = Vec::new();
    while let Some(item) = responses.next().await {
        match item?.r#type {
            Some(deliver_response::Type::Block(block)) => blocks.push(block),
            Some(deliver_response::Type::Status(status)) => {
                return Ok((blocks, Status::try_from(status).ok()));
            }
            None => {}
        }
    }
    Ok((blocks, None))
}

/// Streams blocks from 0 on (waiting for new ones) until they hold `envelopes` data
/// entries in total after the genesis block; returns those blocks, genesis included.
pub async fn blocks_holding(
    client: &mut AtomicBroadcastClient<tonic::transport::Channel>,
    signer: &SigningIdentity,
    envelopes: usize,
) -> Vec<Block> {
    let seek = seek_envelope(
        signer,
        specified(0),
        specified(u64::MAX),
        seek_info::SeekBehavior::BlockUntilReady,
    );
    let mut responses = client
        .deliver(tokio_stream::iter(vec![seek]))
        .await
        .expect("deliver")
        .into_inner();
    let mut blocks = Vec::new();
    let mut seen = 0;
    let deadline = Duration::from_secs(30);
    while seen < envelopes {
        let item = tokio::time::timeout(deadline, responses.next())
            .await
            .unwrap_or_else(|_| panic!("only {seen} of {envelopes} envelopes delivered in 30 s"));
        match item.expect("stream ended").expect("deliver error").r#type {
            Some(deliver_response::Type::Block(block)) => {
                if !blocks.is_empty() {
                    seen += block.data.as_ref().map_or(0, |d| d.data.len());
                }
                blocks.push(block);
            }
            Some(deliver_response::Type::Status(status)) => {
                panic!("deliver ended with status {status}")
            }
            None => {}
        }
    }
    blocks
}

/// The Raft leader among running nodes, from their operations endpoint metrics.
pub fn leader(net: &mut Network) -> Option<usize> {
    for i in 0..net.nodes.len() {
        if !net.is_running(i) {
            continue;
        }
        let url = format!("127.0.0.1:{}", net.nodes[i].ports.operations);
        let body = http_get(&url, "/metrics").unwrap_or_default();
        if body
            .lines()
            .any(|l| l.starts_with("consensus_etcdraft_is_leader{channel=\"mychannel\"} 1"))
        {
            return Some(i);
        }
    }
    None
}

pub fn http_get(addr: &str, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    stream.read_to_string(&mut out).ok()?;
    Some(out)
}

pub fn wait_for_leader(net: &mut Network, not: Option<usize>) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(l) = leader(net)
            && Some(l) != not
        {
            return l;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no leader elected in 30 s");
}

pub fn envelopes_of(blocks: &[Block]) -> Vec<Vec<u8>> {
    blocks
        .iter()
        .skip(1)
        .flat_map(|b| b.data.as_ref().map(|d| d.data.clone()).unwrap_or_default())
        .collect()
}

pub fn header_hashes(blocks: &[Block]) -> Vec<[u8; 32]> {
    blocks
        .iter()
        .map(|b| protoutil::block_header_hash(b.header.as_ref().expect("header")))
        .collect()
}

/// Retries a Deliver of block 0 until the node answers one (a node just restarted may
/// reset the first connections while it opens its channels), until `deadline`.
pub async fn wait_until_delivering(
    client: &mut AtomicBroadcastClient<tonic::transport::Channel>,
    signer: &SigningIdentity,
    deadline: Instant,
) {
    loop {
        let seek = seek_envelope(
            signer,
            specified(0),
            specified(0),
            seek_info::SeekBehavior::BlockUntilReady,
        );
        let last = match deliver(client, seek).await {
            Ok((blocks, _)) if !blocks.is_empty() => return,
            other => format!("{other:?}"),
        };
        assert!(
            Instant::now() < deadline,
            "the node never delivered: {last}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Delivers from block 0 until every envelope of `wanted` is in the chain (30 s at most).
pub async fn blocks_until_contains(
    client: &mut AtomicBroadcastClient<tonic::transport::Channel>,
    signer: &SigningIdentity,
    wanted: &[Vec<u8>],
) -> Vec<Block> {
    let deadline = Instant::now() + Duration::from_secs(30);
    wait_until_delivering(client, signer, deadline).await;
    let mut need = wanted.len();
    loop {
        let blocks = tokio::time::timeout(
            Duration::from_secs(30),
            blocks_holding(client, signer, need),
        )
        .await;
        if let Ok(blocks) = blocks {
            let all = envelopes_of(&blocks);
            let missing = wanted.iter().filter(|w| !all.contains(w)).count();
            if missing == 0 {
                return blocks;
            }
            need = all.len() + missing;
        }
        assert!(
            Instant::now() < deadline,
            "acknowledged envelopes never all delivered"
        );
    }
}
