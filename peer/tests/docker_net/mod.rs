//! A peer's chaincode support on a seeded `mychannel` ledger, with the `wasm` or the
//! `docker` launcher running `wasm` packages: shared by `tests/docker_launcher.rs` and
//! `benches/docker_vs_wasm.rs` (included with `#[path]`). Builds the example for wasm32
//! and the static chaincode runner with cargo subprocesses.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

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

pub const CHANNEL: &str = "mychannel";
pub const NAME: &str = "basic";
pub const LABEL: &str = "basic_1.0";

pub fn workspace() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

pub fn target_dir() -> PathBuf {
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

pub fn cargo(args: &[&str], rustflags: Option<&str>) {
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
pub fn basic_wasm() -> Vec<u8> {
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

/// The static chaincode runner for images, built with the profile `RUNNER_PROFILE`
/// (default `runner`: quick to build, unoptimized; benches use `release`).
pub fn static_runner() -> PathBuf {
    let profile = std::env::var("RUNNER_PROFILE").unwrap_or_else(|_| "runner".to_owned());
    cargo(
        &[
            "build",
            "-p",
            "weft-chaincode-runner",
            "--target",
            "x86_64-unknown-linux-gnu",
            "--profile",
            &profile,
        ],
        Some("-C target-feature=+crt-static"),
    );
    target_dir().join(format!("x86_64-unknown-linux-gnu/{profile}/weft-ccrunner"))
}

/// Org1's peer0 on a fresh `mychannel` ledger with `basic` defined and approved, running
/// `wasm` packages with `launcher` ("wasm" or "docker").
pub struct Net {
    pub support: Arc<ChaincodeSupport>,
    pub endorser: Endorser,
    pub user1: SigningIdentity,
    pub docker: Option<Arc<DockerLauncher>>,
    pub ccid: String,
    /// How long the install took (for `docker`: the image build).
    pub install: Duration,
    _server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Net {
    pub async fn new(
        launcher: &str,
        wasm: &[u8],
        runner: &std::path::Path,
        network_id: &str,
    ) -> Self {
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
        let installing = std::time::Instant::now();
        let ccid = support.install(&package).await.expect("install");
        let install = installing.elapsed();
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
            install,
            _server: server,
            _dir: dir,
        }
    }

    pub fn proposal(&self, args: &[&str]) -> SignedProposal {
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

    pub async fn call(&self, args: &[&str]) -> ProposalResponse {
        self.endorser
            .process_proposal(self.proposal(args))
            .await
            .expect("not refused")
    }
}

/// Status, message, payload and rwset bytes of an answer.
pub fn outcome(r: &ProposalResponse) -> (i32, String, Vec<u8>, Vec<u8>) {
    let response = r.response.clone().unwrap_or_default();
    let rwset = ProposalResponsePayload::decode(r.payload.as_slice())
        .ok()
        .and_then(|prp| ChaincodeAction::decode(prp.extension.as_slice()).ok())
        .map(|a| a.results)
        .unwrap_or_default();
    (response.status, response.message, response.payload, rwset)
}
