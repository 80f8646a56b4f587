//! The `docker` launcher against a real Docker daemon: the asset-transfer-basic package
//! endorsed through a chaincode container gives the same responses and byte-identical
//! read-write sets as through the in-process WASM launcher, and a killed container is
//! replaced at the next launch.
//!
//! Needs a running Docker daemon (`.ci/run` installs `docker.io` and starts `dockerd`
//! without a bridge network: containers use the host network and reach the peer on
//! loopback). Builds the example for wasm32 and the chaincode runner statically
//! (`--profile runner`, `+crt-static`) with cargo subprocesses. Only the containers and
//! images this test created are removed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::query_parameters::{KillContainerOptionsBuilder, RemoveImageOptionsBuilder};
use prost::Message;
use weft_common::msp::{MspDir, SigningIdentity};
use weft_common::policy::dsl;
use weft_common::protoutil::{self, build_block, set_transactions_filter};
use weft_peer::chaincode::package::{ChaincodePackage, PackageStore, WASM_TYPE};
use weft_peer::chaincode::{
    Approval, ChaincodeListener, ChaincodeSupport, DockerLauncher, DockerSettings, Launcher,
    SupportConfig, WasmLauncher,
};
use weft_peer::channels::Channels;
use weft_peer::endorser::Endorser;
use weft_peer::validation::definitions::{
    ChaincodeDefinition, definitions_tx_updates, signature_policy,
};
use weft_proto::protos::chaincode_support_server::ChaincodeSupportServer;
use weft_proto::protos::{
    ChaincodeAction, ProposalResponse, ProposalResponsePayload, SignedProposal, TxValidationCode,
};
use weft_tools::configtxgen;
use weft_tools::cryptogen::{self, CryptoConfig};
use weft_wasm_host::{EngineConfig, TxLimits, WasmEngine};

const CHANNEL: &str = "mychannel";
const NAME: &str = "basic";
const LABEL: &str = "basic_1.0";

fn workspace() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

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

fn cargo(args: &[&str], rustflags: Option<&str>) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace())
        .env("CARGO_TARGET_DIR", target_dir())
        .args(args);
    if let Some(flags) = rustflags {
        command.env("RUSTFLAGS", flags);
    }
    let status = command.status().expect("run cargo");
    assert!(status.success(), "cargo {args:?} failed");
}

/// The asset-transfer-basic module (wasm-release).
fn basic_wasm() -> Vec<u8> {
    cargo(
        &[
            "build",
            "-p",
            "asset-transfer-basic",
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            "wasm-release",
        ],
        None,
    );
    std::fs::read(
        target_dir().join("wasm32-unknown-unknown/wasm-release/asset_transfer_basic.wasm"),
    )
    .expect("the built contract")
}

/// The static chaincode runner for images.
fn static_runner() -> PathBuf {
    cargo(
        &[
            "build",
            "-p",
            "weft-chaincode-runner",
            "--target",
            "x86_64-unknown-linux-gnu",
            "--profile",
            "runner",
        ],
        Some("-C target-feature=+crt-static"),
    );
    target_dir().join("x86_64-unknown-linux-gnu/runner/weft-ccrunner")
}

/// Org1's peer0 on a fresh `mychannel` ledger with `basic` defined and approved, running
/// `wasm` packages with `launcher` ("wasm" or "docker").
struct Net {
    support: Arc<ChaincodeSupport>,
    endorser: Endorser,
    user1: SigningIdentity,
    docker: Option<Arc<DockerLauncher>>,
    ccid: String,
    _server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Net {
    async fn new(launcher: &str, wasm: &[u8], runner: &std::path::Path, network_id: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let tools = workspace().join("tools/testdata");
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
            .expect("user1");
        let channels = Arc::new(Channels::open(&dir.path().join("peer")).expect("channels"));
        let channel = channels.join(&genesis).expect("join");
        let endorser = Endorser::new(
            channels.clone(),
            Arc::new(peer_msp.msp().expect("local msp")),
            Arc::new(peer_msp.signing_identity.clone().expect("peer identity")),
        );

        // The definition of `basic`, endorsed by Org1's peers (seeded, not validated).
        let policy = signature_policy(dsl::parse("OR('Org1MSP.peer')").expect("policy"));
        let definition = ChaincodeDefinition::new(1, "1.0", &policy);
        let updates = definitions_tx_updates(0, "define", &[(NAME, &definition)]);
        let ledger = channel.ledger();
        let mut block = build_block(
            1,
            ledger.block_store().last_header_hash(),
            vec![b"seed".to_vec()],
        );
        set_transactions_filter(&mut block, vec![TxValidationCode::Valid as u8]);
        ledger.commit(&block, &[updates]).expect("seed");

        // The chaincode listener on loopback, plain: containers on the host network dial it.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let limits = TxLimits {
            fuel: 10_000_000_000,
            timeout: Duration::from_secs(10),
        };
        let engine = WasmEngine::new(EngineConfig {
            max_instances: 8,
            ..EngineConfig::default()
        })
        .expect("engine");
        let mut launchers: HashMap<String, Arc<dyn Launcher>> = HashMap::from([(
            WASM_TYPE.to_owned(),
            Arc::new(WasmLauncher::new(
                engine,
                dir.path().join("wasm-cache"),
                limits,
            )) as Arc<dyn Launcher>,
        )]);
        let docker = if launcher == "docker" {
            let docker = Arc::new(
                DockerLauncher::connect(DockerSettings {
                    runner: runner.to_path_buf(),
                    peer_address: addr.to_string(),
                    network_id: network_id.to_owned(),
                    peer_id: "peer0.org1.example.com".into(),
                    msp_id: "Org1MSP".into(),
                    network_mode: "host".into(),
                    tls_root_cert: None,
                    limits,
                    memory_limit: 64 << 20,
                })
                .await
                .expect("a running Docker daemon (dockerd)"),
            );
            launchers.insert("docker".into(), docker.clone());
            Some(docker)
        } else {
            None
        };
        let support = ChaincodeSupport::new(
            SupportConfig {
                execute_timeout: Duration::from_secs(20),
                startup_timeout: Duration::from_secs(60),
                wasm_launcher: launcher.to_owned(),
                ..SupportConfig::default()
            },
            channels.clone(),
            endorser.acl().clone(),
            PackageStore::under(&dir.path().join("peer")).expect("store"),
            launchers,
        );
        let service = ChaincodeSupportServer::new(ChaincodeListener::new(support.clone()));
        let server = tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await;
        });
        let package = ChaincodePackage::build(WASM_TYPE, LABEL, "", &[("chaincode.wasm", wasm)])
            .expect("package");
        let ccid = support.install(&package).await.expect("install");
        support.approve(
            CHANNEL,
            NAME,
            Approval {
                sequence: 1,
                package_id: Some(ccid.clone()),
            },
        );
        let endorser = endorser.with_chaincode_support(support.clone());
        Net {
            support,
            endorser,
            user1,
            docker,
            ccid,
            _server: server,
            _dir: dir,
        }
    }

    fn proposal(&self, args: &[&str]) -> SignedProposal {
        let args = args.iter().map(|a| a.as_bytes().to_vec()).collect();
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

    async fn call(&self, args: &[&str]) -> ProposalResponse {
        self.endorser
            .process_proposal(self.proposal(args))
            .await
            .expect("not refused")
    }
}

/// Status, message, payload and rwset bytes of an answer.
fn outcome(r: &ProposalResponse) -> (i32, String, Vec<u8>, Vec<u8>) {
    let response = r.response.clone().unwrap_or_default();
    let rwset = ProposalResponsePayload::decode(r.payload.as_slice())
        .ok()
        .and_then(|prp| ChaincodeAction::decode(prp.extension.as_slice()).ok())
        .map(|a| a.results)
        .unwrap_or_default();
    (response.status, response.message, response.payload, rwset)
}

const SCRIPT: &[&[&str]] = &[
    &["InitLedger"],
    &["CreateAsset", "asset7", "red", "5", "Tom", "100"],
    &["GetAllAssets"],
    &["AssetExists", "asset1"],
    &["ReadAsset", "asset1"],
];

#[tokio::test(flavor = "multi_thread")]
async fn docker_and_wasm_launchers_give_identical_rwsets_and_dead_containers_restart() {
    let wasm = basic_wasm();
    let runner = static_runner();
    let network_id = format!("weft-test-{}", std::process::id());
    let in_process = Net::new("wasm", &wasm, &runner, &network_id).await;
    let docker_net = Net::new("docker", &wasm, &runner, &network_id).await;
    assert_eq!(in_process.ccid, docker_net.ccid);
    let launcher = docker_net.docker.clone().expect("docker launcher");
    let container = launcher.container_name(&docker_net.ccid);
    let image = launcher.image_name(&docker_net.ccid);
    let daemon = Docker::connect_with_local_defaults()
        .expect("docker")
        .negotiate_version()
        .await
        .expect("docker");
    daemon
        .inspect_image(&image)
        .await
        .expect("image built at install");

    let started = Instant::now();
    // Endorsed without commits: every call sees the seeded state only, so the last one
    // fails the same way in both (the asset is not on the ledger).
    for (i, call) in SCRIPT.iter().enumerate() {
        let expected = outcome(&in_process.call(call).await);
        let got = outcome(&docker_net.call(call).await);
        let status = if i + 1 == SCRIPT.len() { 500 } else { 200 };
        assert_eq!(expected.0, status, "{call:?}: {}", expected.1);
        assert_eq!(
            got, expected,
            "{call:?}: docker and wasm launchers disagree"
        );
    }
    eprintln!("script through docker took {:?}", started.elapsed());
    let first_id = daemon
        .inspect_container(&container, None)
        .await
        .expect("container running")
        .id;

    // Kill the container: a proposal either fails cleanly (unendorsed 500) or finds the
    // chaincode restarted; the one after is served by a new container.
    daemon
        .kill_container(
            &container,
            Some(KillContainerOptionsBuilder::new().signal("KILL").build()),
        )
        .await
        .expect("kill");
    let after_kill = docker_net.call(SCRIPT[1]).await;
    if after_kill.response.as_ref().map_or(0, |r| r.status) != 200 {
        assert_eq!(after_kill.response.as_ref().map_or(0, |r| r.status), 500);
        assert!(
            after_kill.endorsement.is_none(),
            "a failed proposal is not endorsed"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let again = loop {
        let r = docker_net.call(SCRIPT[1]).await;
        if r.response.as_ref().map_or(0, |r| r.status) == 200 || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        outcome(&again),
        outcome(&in_process.call(SCRIPT[1]).await),
        "the restarted container answers as before"
    );
    let second_id = daemon
        .inspect_container(&container, None)
        .await
        .expect("container running again")
        .id;
    assert_ne!(
        first_id, second_id,
        "a new container replaced the killed one"
    );

    // Clean up what this test created.
    launcher.shutdown().await;
    assert!(daemon.inspect_container(&container, None).await.is_err());
    let _ = daemon
        .remove_image(
            &image,
            Some(RemoveImageOptionsBuilder::new().force(true).build()),
            None,
        )
        .await;
    drop(docker_net.support);
}
