//! A real Node `fabric-shim` 2.5.8 chaincode (tests/interop/chaincode, a
//! fabric-contract-api contract) run by the peer as an external process, both ways
//! Fabric runs one:
//!
//! - dev mode: the chaincode dials the peer's `/protos.ChaincodeSupport/Register` and
//!   registers as `basic:1.0`;
//! - chaincode-as-a-service: the peer dials the chaincode's server
//!   (`/protos.Chaincode/Connect`) named in a `ccaas` package's `connection.json`.
//!
//! Its read-write set and event must be byte-identical to the WASM guest
//! wasm-host/tests/guests/well_behaved.wat doing the same work on an identically seeded
//! ledger, and a contract error must come back as an unendorsed 500 with its message.
//!
//! Needs `node` (≥ 20) on PATH and `npm ci` run in tests/interop (scripts/setup does it).
//! The Node processes get their own process group and are killed by pid/group when a
//! test ends.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener as StdTcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use weft_common::msp::{MspDir, SigningIdentity};
use weft_common::policy::dsl;
use weft_common::protoutil::{self, build_block, set_transactions_filter};
use weft_peer::chaincode::package::{ChaincodePackage, PackageStore};
use weft_peer::chaincode::{
    Approval, CcaasLauncher, ChaincodeListener, ChaincodeSupport, Launcher, SupportConfig,
    WasmLauncher,
};
use weft_peer::channels::Channels;
use weft_peer::endorser::Endorser;
use weft_peer::ledger::{KeyWrite, NsUpdates};
use weft_peer::metrics::PeerMetrics;
use weft_peer::validation::definitions::{
    ChaincodeDefinition, LIFECYCLE_NAMESPACE, definitions_tx_updates, field_key, signature_policy,
};
use weft_proto::kvrwset::KvrwSet;
use weft_proto::protos::chaincode_support_server::ChaincodeSupportServer;
use weft_proto::protos::{
    ChaincodeAction, ChaincodeEvent, ProposalResponse, ProposalResponsePayload, SignedProposal,
    TxValidationCode,
};
use weft_proto::rwset::TxReadWriteSet;
use weft_tools::configtxgen;
use weft_tools::cryptogen::{self, CryptoConfig};
use weft_wasm_host::{EngineConfig, TxLimits, WasmEngine};

const CHANNEL: &str = "mychannel";
const NAME: &str = "basic";
/// The id a dev-mode chaincode registers under: `<name>:<version>`.
const DEV_CCID: &str = "basic:1.0";
/// How long a Node chaincode may take to register or start listening.
const STARTUP: Duration = Duration::from_secs(15);

/// weft-peer's directory, at run time (CI builds in another checkout than it runs).
fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR (run via cargo)"))
}

fn interop_dir() -> PathBuf {
    manifest_dir().join("../tests/interop")
}

/// The WASM twin of the Node contract, with the shared prelude spliced in.
fn well_behaved_guest() -> Vec<u8> {
    let dir = manifest_dir().join("../wasm-host/tests/guests");
    let prelude = std::fs::read_to_string(dir.join("prelude.wat")).expect("prelude.wat");
    let text = std::fs::read_to_string(dir.join("well_behaved.wat")).expect("well_behaved.wat");
    wat::parse_str(text.replace(";; @prelude", &prelude)).expect("valid wat")
}

/// Org1's peer0 on a fresh two-org `mychannel` ledger, with chaincode support (dev mode
/// or not; `wasm` and `ccaas` launchers) behind its endorser.
struct Net {
    channels: Arc<Channels>,
    support: Arc<ChaincodeSupport>,
    endorser: Endorser,
    metrics: Arc<PeerMetrics>,
    user1: SigningIdentity,
    dir: tempfile::TempDir,
}

impl Net {
    fn new(dev_mode: bool) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let tools = manifest_dir().join("../tools/testdata");
        let orgs = dir.path().join("organizations");
        let crypto = CryptoConfig::load(&tools.join("crypto-config.yaml")).expect("crypto");
        cryptogen::generate(&crypto, &orgs).expect("cryptogen");
        std::fs::copy(
            tools.join("configtx.yaml"),
            dir.path().join("configtx.yaml"),
        )
        .expect("configtx");
        let top = configtxgen::TopLevel::load(dir.path()).expect("configtx.yaml");
        let profile = top.profile("TwoOrgsApplicationGenesis").expect("profile");
        let genesis = configtxgen::genesis_block(&profile, CHANNEL).expect("genesis");

        let org1 = orgs.join("peerOrganizations/org1.example.com");
        let peer_msp =
            MspDir::load(&org1.join("peers/peer0.org1.example.com/msp"), "Org1MSP").expect("msp");
        let user1 = MspDir::load(&org1.join("users/User1@org1.example.com/msp"), "Org1MSP")
            .expect("user msp")
            .signing_identity
            .expect("user1 signing identity");
        let local_msp = Arc::new(peer_msp.msp().expect("local msp"));
        let signer = Arc::new(peer_msp.signing_identity.clone().expect("peer identity"));

        let channels = Arc::new(Channels::open(&dir.path().join("peer")).expect("channels"));
        channels.join(&genesis).expect("join");
        let endorser = Endorser::new(channels.clone(), local_msp, signer);

        let engine = WasmEngine::new(EngineConfig {
            max_instances: 8,
            ..EngineConfig::default()
        })
        .expect("engine");
        let wasm: Arc<dyn Launcher> = Arc::new(WasmLauncher::new(
            engine,
            dir.path().join("wasm-cache"),
            TxLimits {
                fuel: 50_000_000,
                timeout: Duration::from_secs(5),
            },
        ));
        let ccaas: Arc<dyn Launcher> = Arc::new(CcaasLauncher);
        let support = ChaincodeSupport::new(
            SupportConfig {
                execute_timeout: Duration::from_secs(10),
                startup_timeout: Duration::from_secs(10),
                dev_mode,
                ..SupportConfig::default()
            },
            channels.clone(),
            endorser.acl().clone(),
            PackageStore::under(&dir.path().join("peer")).expect("package store"),
            HashMap::from([("wasm".to_owned(), wasm), ("ccaas".to_owned(), ccaas)]),
        );
        let metrics = Arc::new(PeerMetrics::new().expect("metrics"));
        support.attach_metrics(metrics.clone());
        let endorser = endorser
            .with_chaincode_support(support.clone())
            .with_metrics(metrics.clone());
        Net {
            channels,
            support,
            endorser,
            metrics,
            user1,
            dir,
        }
    }

    /// Commits block 1 (unvalidated test seeding): the definition of `basic` at sequence
    /// 1, version 1.0, endorsed by OR('Org1MSP.peer'), and `a` = "alpha" in its namespace.
    fn define_basic(&self) {
        let policy = signature_policy(dsl::parse("OR('Org1MSP.peer')").expect("policy"));
        let definition = ChaincodeDefinition::new(1, "1.0", &policy);
        let mut updates = definitions_tx_updates(0, "define-1", &[(NAME, &definition)]);
        updates.namespaces.push(NsUpdates {
            namespace: NAME.to_owned(),
            writes: vec![KeyWrite {
                key: "a".to_owned(),
                value: Some(b"alpha".to_vec()),
            }],
            metadata_writes: Vec::new(),
        });
        updates.namespaces.retain(|ns| !ns.writes.is_empty());
        let channel = self.channels.get(CHANNEL).expect("channel");
        let ledger = channel.ledger();
        let previous = ledger.block_store().last_header_hash();
        let mut block = build_block(1, previous, vec![b"seed".to_vec()]);
        set_transactions_filter(&mut block, vec![TxValidationCode::Valid as u8]);
        ledger.commit(&block, &[updates]).expect("seed commit");
    }

    fn approve(&self, package_id: Option<String>) {
        self.support.approve(
            CHANNEL,
            NAME,
            Approval {
                sequence: 1,
                package_id,
            },
        );
    }

    /// Installs a package and approves it for `basic`; returns its package id.
    async fn install_and_approve(&self, kind: &str, files: &[(&str, &[u8])]) -> String {
        let package = ChaincodePackage::build(kind, "basic_1.0", "", files).expect("package");
        let ccid = self.support.install(&package).await.expect("install");
        self.approve(Some(ccid.clone()));
        ccid
    }

    fn proposal(&self, args: &[&[u8]]) -> SignedProposal {
        let args = args.iter().map(|a| a.to_vec()).collect();
        let (proposal, _) = protoutil::create_chaincode_proposal(
            CHANNEL,
            NAME,
            args,
            HashMap::new(),
            self.user1.serialized(),
            None,
        );
        protoutil::sign_proposal(&proposal, &self.user1).expect("sign")
    }

    async fn call(&self, args: &[&[u8]]) -> ProposalResponse {
        self.endorser
            .process_proposal(self.proposal(args))
            .await
            .expect("proposal not refused")
    }

    /// Serves `/protos.ChaincodeSupport/Register` on 127.0.0.1:<free port>.
    async fn serve_chaincode_support(&self) -> (SocketAddr, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let service = ChaincodeSupportServer::new(ChaincodeListener::new(self.support.clone()));
        let server = tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await;
        });
        (addr, server)
    }

    fn metrics_text(&self) -> String {
        String::from_utf8(self.metrics.encode_text().expect("metrics")).expect("utf8")
    }
}

/// A `fabric-chaincode-node` process in its own process group, output in a log file.
struct NodeChaincode {
    child: Child,
    log: PathBuf,
}

impl NodeChaincode {
    /// `node …/fabric-chaincode-node <args…> --module-path tests/interop/chaincode`.
    fn spawn(args: &[&str], log_dir: &Path) -> Self {
        let interop = interop_dir();
        let cli = interop.join("node_modules/.bin/fabric-chaincode-node");
        assert!(
            cli.exists(),
            "{} is missing: run `npm ci` in tests/interop (scripts/setup does)",
            cli.display()
        );
        let log = log_dir.join(format!("chaincode-{}.log", args[0]));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new("node")
            .arg(&cli)
            .args(args)
            .arg("--module-path")
            .arg(interop.join("chaincode"))
            .current_dir(&interop)
            .env("CORE_CHAINCODE_LOGGING_LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .expect("start node (is node ≥ 20 on PATH?)");
        NodeChaincode { child, log }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics (with the chaincode's output) if the process has exited.
    fn assert_running(&mut self, what: &str) {
        if let Some(status) = self.child.try_wait().expect("try_wait") {
            panic!(
                "the Node chaincode exited ({status}) before {what}; its output:\n{}",
                self.output()
            );
        }
    }

    /// SIGKILLs the process group (pgid = the child's pid) and reaps the child.
    fn kill(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeChaincode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `done` every 50 ms until it holds, the chaincode exits, or `STARTUP` passes.
async fn wait_for(node: &mut NodeChaincode, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + STARTUP;
    while !done() {
        node.assert_running(what);
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; the Node chaincode's output:\n{}",
            node.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A free port on 127.0.0.1 (bound, then released for the chaincode server).
fn free_port() -> u16 {
    StdTcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn status(r: &ProposalResponse) -> i32 {
    r.response.as_ref().map_or(0, |r| r.status)
}

fn message(r: &ProposalResponse) -> String {
    r.response
        .as_ref()
        .map_or(String::new(), |r| r.message.clone())
}

/// What a `Put value-1` produced, in the form to compare across chaincode runtimes.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// The marshalled `TxReadWriteSet` (ChaincodeAction.results).
    rwset: Vec<u8>,
    /// The event's name, payload and chaincode id (its tx id is per proposal).
    event: (String, Vec<u8>, String),
    /// Response.payload.
    payload: Vec<u8>,
}

/// Checks an endorsed `Put value-1` answer and extracts its outcome.
fn endorsed_put(response: &ProposalResponse, runtime: &str) -> Outcome {
    assert_eq!(status(response), 200, "{runtime}: {}", message(response));
    assert!(response.endorsement.is_some(), "{runtime}: not endorsed");
    let prp = ProposalResponsePayload::decode(response.payload.as_slice()).expect("prp");
    let action = ChaincodeAction::decode(prp.extension.as_slice()).expect("action");
    let id = action.chaincode_id.clone().expect("chaincode id");
    assert_eq!((id.name.as_str(), id.version.as_str()), (NAME, "1.0"));

    // The definition's sequence read, the chaincode's read of a@(1,0) and write of b.
    let rwset = TxReadWriteSet::decode(action.results.as_slice()).expect("rwset");
    let namespaces: Vec<&str> = rwset
        .ns_rwset
        .iter()
        .map(|ns| ns.namespace.as_str())
        .collect();
    assert_eq!(namespaces, [LIFECYCLE_NAMESPACE, NAME], "{runtime}");
    let lifecycle = KvrwSet::decode(rwset.ns_rwset[0].rwset.as_slice()).expect("kvrwset");
    assert_eq!(lifecycle.reads.len(), 1, "{runtime}");
    assert_eq!(lifecycle.reads[0].key, field_key(NAME, "Sequence"));
    assert!(lifecycle.writes.is_empty(), "{runtime}");
    let basic = KvrwSet::decode(rwset.ns_rwset[1].rwset.as_slice()).expect("kvrwset");
    assert_eq!(basic.reads.len(), 1, "{runtime}: {basic:?}");
    assert_eq!(basic.reads[0].key, "a");
    let version = basic.reads[0].version.expect("read version");
    assert_eq!((version.block_num, version.tx_num), (1, 0), "{runtime}");
    assert_eq!(basic.writes.len(), 1, "{runtime}: {basic:?}");
    assert_eq!(basic.writes[0].key, "b");
    assert_eq!(basic.writes[0].value, b"value-1");
    assert!(!basic.writes[0].is_delete);

    let event = ChaincodeEvent::decode(action.events.as_slice()).expect("event");
    Outcome {
        rwset: action.results,
        event: (event.event_name, event.payload, event.chaincode_id),
        payload: response.response.clone().expect("response").payload,
    }
}

const PUT: &[&[u8]] = &[b"Put", b"value-1"];

/// The WASM guest's outcome of `Put value-1` on a fresh, identically seeded ledger.
async fn wasm_reference() -> Outcome {
    let net = Net::new(false);
    net.define_basic();
    net.install_and_approve("wasm", &[("chaincode.wasm", &well_behaved_guest())])
        .await;
    let response = net.call(PUT).await;
    assert_eq!(message(&response), "ok");
    endorsed_put(&response, "wasm")
}

/// Starts the Node chaincode in dev mode against `net`'s Register service and waits for
/// it to register as `basic:1.0`.
async fn dev_mode_node(net: &Net) -> (NodeChaincode, tokio::task::JoinHandle<()>) {
    let (addr, server) = net.serve_chaincode_support().await;
    let address = addr.to_string();
    let mut node = NodeChaincode::spawn(
        &[
            "start",
            "--peer.address",
            &address,
            "--chaincode-id-name",
            DEV_CCID,
        ],
        net.dir.path(),
    );
    let support = net.support.clone();
    wait_for(&mut node, "the dev-mode registration", || {
        support.registry().connected() == [DEV_CCID]
    })
    .await;
    // The registry lists the handler as soon as REGISTER is accepted, a moment before
    // the peer queues REGISTERED and READY; the shim logs when READY has arrived.
    let log = node.log.clone();
    wait_for(&mut node, "the chaincode to reach the ready state", || {
        std::fs::read_to_string(&log)
            .is_ok_and(|text| text.contains("State transferred to \"ready\""))
    })
    .await;
    (node, server)
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_mode_node_chaincode_matches_wasm() {
    let started = Instant::now();
    let net = Net::new(true);
    net.define_basic();
    net.approve(None);
    let (mut node, server) = dev_mode_node(&net).await;

    let response = net.call(PUT).await;
    let node_outcome = endorsed_put(&response, "node (dev mode)");
    node.assert_running("the end of the test");
    assert_eq!(net.support.registry().connected(), [DEV_CCID]);

    let wasm = wasm_reference().await;
    assert_eq!(node_outcome.payload, b"alpha");
    assert_eq!(
        node_outcome.event,
        ("evt".to_owned(), b"p".to_vec(), NAME.to_owned())
    );
    assert_eq!(node_outcome, wasm, "Node and WASM chaincode disagree");

    node.kill();
    server.abort();
    eprintln!("dev mode test took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn ccaas_node_chaincode_is_dialed_by_the_peer() {
    let started = Instant::now();
    let net = Net::new(false);
    net.define_basic();
    let address = format!("127.0.0.1:{}", free_port());
    let connection =
        format!(r#"{{"address":"{address}","dial_timeout":"3s","tls_required":false}}"#);
    let ccid = net
        .install_and_approve("ccaas", &[("connection.json", connection.as_bytes())])
        .await;
    assert!(ccid.starts_with("basic_1.0:"), "{ccid}");

    let mut node = NodeChaincode::spawn(
        &[
            "server",
            "--chaincode-address",
            &address,
            "--chaincode-id",
            &ccid,
        ],
        net.dir.path(),
    );
    wait_for(&mut node, "the chaincode server to listen", || {
        TcpStream::connect(&address).is_ok()
    })
    .await;
    assert!(net.support.registry().connected().is_empty());

    // The first proposal makes the peer dial the server; the second reuses the stream.
    let first = endorsed_put(&net.call(PUT).await, "node (ccaas)");
    assert_eq!(net.support.registry().connected(), [ccid.as_str()]);
    let second = endorsed_put(&net.call(PUT).await, "node (ccaas), second call");
    assert_eq!(first, second);
    assert_eq!(net.support.registry().connected(), [ccid.as_str()]);
    let launches =
        format!("chaincode_launch_duration_count{{chaincode=\"{ccid}\",success=\"true\"}} 1");
    let text = net.metrics_text();
    assert!(
        text.lines().any(|l| l == launches),
        "expected one launch ({launches}) in:\n{text}"
    );
    node.assert_running("the kill");
    assert_eq!(
        first,
        wasm_reference().await,
        "Node and WASM chaincode disagree"
    );

    // Without the server the stream ends, the peer forgets the handler, and the next
    // proposal fails to reach the chaincode.
    node.kill();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !net.support.registry().connected().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the peer still lists {:?} after the chaincode server died",
            net.support.registry().connected()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let failed = net.call(PUT).await;
    assert_eq!(status(&failed), 500, "{failed:?}");
    assert!(failed.endorsement.is_none());
    let text = message(&failed);
    eprintln!("after the kill: {text}");
    assert!(
        text.starts_with("error in simulation: ")
            && text.contains(&format!("could not launch chaincode {ccid}"))
            && text.contains(&format!("error connecting to chaincode server {address}")),
        "{text}"
    );
    eprintln!("ccaas test took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn node_contract_errors_are_unendorsed_500s() {
    let started = Instant::now();
    let net = Net::new(true);
    net.define_basic();
    net.approve(None);
    let (mut node, server) = dev_mode_node(&net).await;

    // fabric-shim reports a thrown contract error as COMPLETED{500, message}.
    let failed = net.call(&[b"Fail"]).await;
    assert_eq!(status(&failed), 500, "{failed:?}");
    assert_eq!(message(&failed), "no such asset");
    assert!(failed.endorsement.is_none(), "a 500 must not be endorsed");

    // The chaincode and its stream survive the error.
    endorsed_put(&net.call(PUT).await, "node after a failure");
    node.assert_running("the end of the test");
    node.kill();
    server.abort();
    eprintln!("error test took {:?}", started.elapsed());
}

/// The target directory this test binary was built in (`<target>/debug/deps/<test>`).
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    std::env::current_exe()
        .expect("test executable path")
        .ancestors()
        .nth(3)
        .expect("<target>/<profile>/deps/<exe>")
        .to_path_buf()
}

/// Builds the chaincode runner (`weft-ccrunner`, the process the Docker launcher puts in
/// a container) with cargo and returns its path.
fn build_runner() -> PathBuf {
    let target = target_dir();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(manifest_dir().join(".."))
        .env("CARGO_TARGET_DIR", &target)
        .args(["build", "-p", "weft-chaincode-runner"])
        .status()
        .expect("run cargo");
    assert!(status.success(), "building weft-ccrunner failed");
    target.join("debug/weft-ccrunner")
}

/// The chaincode runner as a separate process, in its own process group.
struct RunnerProcess {
    child: Child,
    log: PathBuf,
}

impl RunnerProcess {
    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn kill(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for RunnerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_wasm_runner_process_matches_the_in_process_wasm_launcher() {
    let runner = build_runner();
    let net = Net::new(true);
    net.define_basic();
    net.approve(None);
    let (addr, server) = net.serve_chaincode_support().await;
    let module = net.dir.path().join("chaincode.wasm");
    std::fs::write(&module, well_behaved_guest()).expect("module");
    let log = net.dir.path().join("runner.log");
    let out = std::fs::File::create(&log).expect("log");
    let child = Command::new(&runner)
        .arg(format!("-peer.address={addr}"))
        .env("CORE_CHAINCODE_ID_NAME", DEV_CCID)
        .env("CORE_PEER_TLS_ENABLED", "false")
        .env("WEFT_CHAINCODE_WASM", &module)
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log"))
        .stderr(out)
        .process_group(0)
        .spawn()
        .expect("start weft-ccrunner");
    let mut process = RunnerProcess { child, log };

    // Registered and ready: the first proposal that reaches it succeeds.
    let deadline = Instant::now() + STARTUP;
    let response = loop {
        if let Some(status) = process.child.try_wait().expect("try_wait") {
            panic!("weft-ccrunner exited ({status}):\n{}", process.output());
        }
        let response = net.call(PUT).await;
        if status(&response) == 200 {
            break response;
        }
        assert!(
            Instant::now() < deadline,
            "the runner never served a proposal: {}\n{}",
            message(&response),
            process.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let outcome = endorsed_put(&response, "weft-ccrunner");
    assert_eq!(net.support.registry().connected(), [DEV_CCID]);
    assert_eq!(
        outcome,
        wasm_reference().await,
        "runner process and in-process WASM disagree"
    );

    // The process gone, the peer forgets it and the next proposal fails cleanly.
    process.kill();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !net.support.registry().connected().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the peer still lists the dead runner"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let failed = net.call(PUT).await;
    assert_eq!(status(&failed), 500, "{failed:?}");
    assert!(failed.endorsement.is_none());
    server.abort();
}
