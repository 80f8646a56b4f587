//! End to end: cryptogen writes a test-network-like tree, configtxgen turns
//! `testdata/configtx.yaml` into a genesis block, `ChannelConfig` reads it back, and the
//! channel's policies accept or refuse signatures made with the generated identities.
//! The binaries are exercised too, including their failures.

// Test helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use prost::Message;
use weft_common::channelconfig::{AnchorPeer, ChannelConfig};
use weft_common::crypto::Signer;
use weft_common::msp::{Msp, MspDir, Principal, Role, SigningIdentity};
use weft_common::policy::SignedData;
use weft_common::protoutil;
use weft_proto::common::Block;
use weft_tools::configtxgen;
use weft_tools::cryptogen::{self, CryptoConfig};

/// This package's directory, read at run time: the compile-time `CARGO_MANIFEST_DIR` can
/// name another checkout when several share one target directory (as CI does).
fn package_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

fn testdata(name: &str) -> PathBuf {
    package_dir().join("testdata").join(name)
}

/// A scratch directory with `organizations/` (cryptogen output of
/// `testdata/crypto-config.yaml`) and a copy of `testdata/configtx.yaml`.
struct Network {
    dir: tempfile::TempDir,
}

impl Network {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = CryptoConfig::load(&testdata("crypto-config.yaml")).unwrap();
        cryptogen::generate(&config, &dir.path().join("organizations")).unwrap();
        std::fs::copy(testdata("configtx.yaml"), dir.path().join("configtx.yaml")).unwrap();
        Self { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn peer_org(&self, domain: &str) -> PathBuf {
        self.path(&format!("organizations/peerOrganizations/{domain}"))
    }

    fn orderer_org(&self) -> PathBuf {
        self.path("organizations/ordererOrganizations/example.com")
    }

    fn signer(&self, msp_dir: &Path, mspid: &str) -> SigningIdentity {
        MspDir::load(msp_dir, mspid)
            .unwrap()
            .signing_identity
            .expect("a local MSP has a signing identity")
    }

    fn user(&self, domain: &str, mspid: &str, user: &str) -> SigningIdentity {
        let dir = self
            .peer_org(domain)
            .join(format!("users/{user}@{domain}/msp"));
        self.signer(&dir, mspid)
    }

    fn genesis(&self) -> Block {
        let top = configtxgen::TopLevel::load(self.dir.path()).unwrap();
        let profile = top.profile("TwoOrgsApplicationGenesis").unwrap();
        configtxgen::genesis_block(&profile, "mychannel").unwrap()
    }
}

fn sign(signer: &SigningIdentity, data: &[u8]) -> SignedData<'static> {
    SignedData {
        data: data.to_vec().into(),
        identity: signer.creator().to_vec().into(),
        signature: signer.sign(data).unwrap().into(),
    }
}

fn tree(root: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            if path.is_dir() {
                out.insert(format!("{rel}/"));
                walk(root, &path, out);
            } else {
                out.insert(rel);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(root, root, &mut out);
    out
}

/// The files Fabric's cryptogen writes for this config, NodeOUs on.
fn fabric_tree() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |p: String| {
        // Every ancestor directory is listed too.
        let mut prefix = String::new();
        let parts: Vec<&str> = p.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            prefix.push_str(part);
            prefix.push('/');
            out.insert(prefix.clone());
        }
        out.insert(p);
    };
    let local = |base: &str, name: &str, domain: &str, tls: &str| {
        vec![
            format!("{base}/msp/admincerts/"),
            format!("{base}/msp/cacerts/ca.{domain}-cert.pem"),
            format!("{base}/msp/config.yaml"),
            format!("{base}/msp/keystore/priv_sk"),
            format!("{base}/msp/signcerts/{name}-cert.pem"),
            format!("{base}/msp/tlscacerts/tlsca.{domain}-cert.pem"),
            format!("{base}/tls/ca.crt"),
            format!("{base}/tls/{tls}.crt"),
            format!("{base}/tls/{tls}.key"),
        ]
    };
    let org = |kind: &str, domain: &str| {
        let base = format!("{kind}/{domain}");
        vec![
            format!("{base}/ca/ca.{domain}-cert.pem"),
            format!("{base}/ca/priv_sk"),
            format!("{base}/tlsca/tlsca.{domain}-cert.pem"),
            format!("{base}/tlsca/priv_sk"),
            format!("{base}/msp/admincerts/"),
            format!("{base}/msp/cacerts/ca.{domain}-cert.pem"),
            format!("{base}/msp/tlscacerts/tlsca.{domain}-cert.pem"),
            format!("{base}/msp/config.yaml"),
        ]
    };
    for domain in ["org1.example.com", "org2.example.com"] {
        let base = format!("peerOrganizations/{domain}");
        for p in org("peerOrganizations", domain) {
            add(p);
        }
        let peer = format!("peer0.{domain}");
        for p in local(&format!("{base}/peers/{peer}"), &peer, domain, "server") {
            add(p);
        }
        for user in ["Admin", "User1"] {
            let name = format!("{user}@{domain}");
            for p in local(&format!("{base}/users/{name}"), &name, domain, "client") {
                add(p);
            }
        }
    }
    let base = "ordererOrganizations/example.com";
    for p in org("ordererOrganizations", "example.com") {
        add(p);
    }
    for p in local(
        &format!("{base}/orderers/orderer.example.com"),
        "orderer.example.com",
        "example.com",
        "server",
    ) {
        add(p);
    }
    for p in local(
        &format!("{base}/users/Admin@example.com"),
        "Admin@example.com",
        "example.com",
        "client",
    ) {
        add(p);
    }
    out
}

#[test]
fn cryptogen_output_is_fabrics_layout_and_validates_in_an_msp() {
    let net = Network::new();
    assert_eq!(tree(&net.path("organizations")), fabric_tree());

    for (domain, mspid) in [
        ("org1.example.com", "Org1MSP"),
        ("org2.example.com", "Org2MSP"),
    ] {
        let org = net.peer_org(domain);
        let msp: Msp = MspDir::load(&org.join("msp"), mspid)
            .unwrap()
            .msp()
            .unwrap();
        assert!(msp.node_ous_enabled());

        let peer = net.signer(&org.join(format!("peers/peer0.{domain}/msp")), mspid);
        let admin = net.user(domain, mspid, "Admin");
        let user = net.user(domain, mspid, "User1");
        for (who, id, role, not_role) in [
            ("peer", &peer, Role::Peer, Role::Client),
            ("admin", &admin, Role::Admin, Role::Peer),
            ("user", &user, Role::Client, Role::Admin),
        ] {
            let identity = id.identity();
            msp.validate(identity)
                .unwrap_or_else(|e| panic!("{who} of {mspid}: {e}"));
            msp.satisfies(identity, &Principal::role(mspid, role))
                .unwrap_or_else(|e| panic!("{who} of {mspid} as {role:?}: {e}"));
            msp.satisfies(identity, &Principal::role(mspid, Role::Member))
                .unwrap();
            assert!(
                msp.satisfies(identity, &Principal::role(mspid, not_role))
                    .is_err(),
                "{who} must not be {not_role:?}"
            );
        }
        // Identities of the other org's CA are not trusted here.
        let other = if mspid == "Org1MSP" {
            ("org2.example.com", "Org2MSP")
        } else {
            ("org1.example.com", "Org1MSP")
        };
        let stranger = net.user(other.0, other.1, "User1");
        assert!(msp.validate(stranger.identity()).is_err());
    }

    let orderer_msp = MspDir::load(&net.orderer_org().join("msp"), "OrdererMSP")
        .unwrap()
        .msp()
        .unwrap();
    let orderer = net.signer(
        &net.orderer_org().join("orderers/orderer.example.com/msp"),
        "OrdererMSP",
    );
    orderer_msp
        .satisfies(
            orderer.identity(),
            &Principal::role("OrdererMSP", Role::Orderer),
        )
        .unwrap();
}

#[test]
fn genesis_block_reads_back_and_its_policies_work() {
    let net = Network::new();
    let block = net.genesis();

    // Header: block 0, no previous hash, data hash over the one envelope.
    let header = block.header.as_ref().unwrap();
    assert_eq!(header.number, 0);
    assert!(header.previous_hash.is_empty());
    let data = block.data.as_ref().unwrap();
    assert_eq!(data.data.len(), 1);
    assert_eq!(header.data_hash, protoutil::block_data_hash(data).to_vec());
    protoutil::verify_block_structure(&block, 0, &[]).unwrap();
    assert_eq!(block.metadata.as_ref().unwrap().metadata.len(), 5);

    // It survives the wire.
    let block = Block::decode(block.encode_to_vec().as_slice()).unwrap();
    let cc = ChannelConfig::from_block(&block).unwrap();
    assert_eq!(cc.channel_id(), "mychannel");
    assert_eq!(cc.sequence(), 0);
    assert!(cc.capabilities().contains("V2_0"));
    cc.check_capabilities_supported().unwrap();

    let orderer = cc.orderer().unwrap();
    assert_eq!(orderer.batch_size.max_message_count, 10);
    assert_eq!(orderer.batch_size.absolute_max_bytes, 99 * 1024 * 1024);
    assert_eq!(orderer.batch_size.preferred_max_bytes, 512 * 1024);
    assert_eq!(orderer.batch_timeout, Duration::from_secs(2));
    assert!(orderer.capabilities.contains("V2_0"));
    let raft = orderer.etcdraft().unwrap();
    assert_eq!(raft.consenters.len(), 1);
    let consenter = &raft.consenters[0];
    assert_eq!(
        (consenter.host.as_str(), consenter.port),
        ("orderer.example.com", 7050)
    );
    let server_crt = std::fs::read(
        net.orderer_org()
            .join("orderers/orderer.example.com/tls/server.crt"),
    )
    .unwrap();
    assert_eq!(consenter.server_tls_cert, server_crt);
    assert_eq!(consenter.client_tls_cert, server_crt);
    assert_eq!(raft.options.tick_interval, Duration::from_millis(500));
    let orderer_org = &orderer.organizations["OrdererOrg"];
    assert_eq!(orderer_org.msp_id, "OrdererMSP");
    assert_eq!(orderer_org.endpoints, ["orderer.example.com:7050"]);

    let app = cc.application().unwrap();
    assert!(app.capabilities.contains("V2_5"));
    let org1 = &app.organizations["Org1MSP"];
    assert_eq!(org1.msp_id, "Org1MSP");
    assert_eq!(
        org1.anchor_peers,
        [AnchorPeer {
            host: "peer0.org1.example.com".into(),
            port: 7051
        }]
    );
    assert_eq!(app.organizations["Org2MSP"].anchor_peers[0].port, 9051);

    // Policies, with signatures from the generated identities.
    let policies = cc.policy_manager();
    let data = b"some transaction bytes";
    let user1 = net.user("org1.example.com", "Org1MSP", "User1");
    let admin1 = net.user("org1.example.com", "Org1MSP", "Admin");
    let admin2 = net.user("org2.example.com", "Org2MSP", "Admin");
    let peer1 = net.signer(
        &net.peer_org("org1.example.com")
            .join("peers/peer0.org1.example.com/msp"),
        "Org1MSP",
    );
    let orderer_id = net.signer(
        &net.orderer_org().join("orderers/orderer.example.com/msp"),
        "OrdererMSP",
    );

    let ok = |path: &str, set: &[SignedData<'_>]| {
        policies
            .evaluate(path, set)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
    };
    let refused = |path: &str, set: &[SignedData<'_>]| {
        assert!(policies.evaluate(path, set).is_err(), "{path} must refuse");
    };
    ok("/Channel/Application/Writers", &[sign(&user1, data)]);
    ok("/Channel/Application/Readers", &[sign(&peer1, data)]);
    refused("/Channel/Application/Writers", &[sign(&peer1, data)]);
    refused("/Channel/Application/Admins", &[sign(&admin1, data)]);
    ok(
        "/Channel/Application/Admins",
        &[sign(&admin1, data), sign(&admin2, data)],
    );
    refused(
        "/Channel/Application/Admins",
        &[sign(&admin1, data), sign(&admin1, data)],
    );
    // MAJORITY of two orgs' Endorsement (OR(peer)) needs a peer of each.
    refused("/Channel/Application/Endorsement", &[sign(&peer1, data)]);
    let peer2 = net.signer(
        &net.peer_org("org2.example.com")
            .join("peers/peer0.org2.example.com/msp"),
        "Org2MSP",
    );
    ok(
        "/Channel/Application/Endorsement",
        &[sign(&peer1, data), sign(&peer2, data)],
    );
    ok(
        "/Channel/Orderer/BlockValidation",
        &[sign(&orderer_id, data)],
    );
    refused("/Channel/Orderer/BlockValidation", &[sign(&user1, data)]);
    // A signature over other bytes does not count.
    let mut forged = sign(&orderer_id, data);
    forged.data = b"other bytes".to_vec().into();
    refused("/Channel/Orderer/BlockValidation", &[forged]);
    // /Channel/Writers: ANY of Application and Orderer Writers.
    ok("/Channel/Writers", &[sign(&user1, data)]);
    ok("/Channel/Writers", &[sign(&orderer_id, data)]);
}

fn run(bin: &str, args: &[&str], cwd: &Path) -> Output {
    let exe = match bin {
        "configtxgen" => env!("CARGO_BIN_EXE_configtxgen"),
        _ => env!("CARGO_BIN_EXE_cryptogen"),
    };
    Command::new(exe)
        .args(args)
        .current_dir(cwd)
        .env_remove("FABRIC_CFG_PATH")
        .output()
        .unwrap()
}

fn assert_fails(output: &Output, message: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "expected failure, stderr: {stderr}"
    );
    assert!(
        stderr.contains(message),
        "stderr {stderr:?} lacks {message:?}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn binaries_work_like_fabrics() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    std::fs::copy(
        testdata("crypto-config.yaml"),
        cwd.join("crypto-config.yaml"),
    )
    .unwrap();
    std::fs::copy(testdata("configtx.yaml"), cwd.join("configtx.yaml")).unwrap();

    let out = run(
        "cryptogen",
        &[
            "generate",
            "--config=crypto-config.yaml",
            "--output",
            "organizations",
        ],
        cwd,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "org1.example.com\norg2.example.com\nexample.com\n"
    );
    let template = run("cryptogen", &["showtemplate"], cwd);
    assert!(String::from_utf8_lossy(&template.stdout).contains("PeerOrgs:"));

    let out = run(
        "configtxgen",
        &[
            "-profile",
            "TwoOrgsApplicationGenesis",
            "-outputBlock",
            "./channel-artifacts/mychannel.block",
            "-channelID",
            "mychannel",
            "-configPath",
            ".",
        ],
        cwd,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let raw = std::fs::read(cwd.join("channel-artifacts/mychannel.block")).unwrap();
    let block = Block::decode(raw.as_slice()).unwrap();
    assert_eq!(
        ChannelConfig::from_block(&block).unwrap().channel_id(),
        "mychannel"
    );

    // FABRIC_CFG_PATH stands in for -configPath.
    let out = Command::new(env!("CARGO_BIN_EXE_configtxgen"))
        .args([
            "-profile=TwoOrgsApplicationGenesis",
            "-outputBlock=b2.block",
            "-channelID=other",
        ])
        .current_dir(cwd.join("channel-artifacts"))
        .env("FABRIC_CFG_PATH", cwd)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = run(
        "configtxgen",
        &["-inspectBlock", "channel-artifacts/mychannel.block"],
        cwd,
    );
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["data"]["data"][0]["payload"]["header"]["channel_header"]["channel_id"],
        "mychannel"
    );
    assert_eq!(
        json["data"]["data"][0]["payload"]["data"]["config"]["channel_group"]["groups"]["Orderer"]
            ["values"]["BatchTimeout"]["value"]["timeout"],
        "2s"
    );

    let out = run(
        "configtxgen",
        &["-printOrg", "Org1MSP", "-configPath", "."],
        cwd,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let org: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(org["values"]["MSP"]["value"]["config"]["name"], "Org1MSP");

    // Failures: a message and a non-zero exit status, never a panic.
    let configtxgen_cmd = |args: &[&str]| run("configtxgen", args, cwd);
    let gen_block = |profile: &str| {
        configtxgen_cmd(&[
            "-profile",
            profile,
            "-outputBlock",
            "x.block",
            "-channelID",
            "mychannel",
        ])
    };
    assert_fails(
        &gen_block("NoSuchProfile"),
        "could not find profile: NoSuchProfile",
    );
    assert_fails(
        &configtxgen_cmd(&[
            "-profile",
            "TwoOrgsApplicationGenesis",
            "-outputBlock",
            "x.block",
        ]),
        "missing channelID",
    );
    assert_fails(
        &configtxgen_cmd(&["-outputBlock", "x.block", "-channelID", "c"]),
        "'-profile' is required",
    );
    assert_fails(
        &configtxgen_cmd(&["-inspectBlock", "configtx.yaml"]),
        "error unmarshalling to block",
    );
    assert_fails(
        &configtxgen_cmd(&["-inspectBlock", "nope.block"]),
        "nope.block",
    );
    assert_fails(
        &configtxgen_cmd(&["-printOrg", "Nobody"]),
        "organization Nobody not found",
    );

    let original = std::fs::read_to_string(cwd.join("configtx.yaml")).unwrap();
    let with = |from: &str, to: &str| {
        assert!(original.contains(from), "{from}");
        std::fs::write(cwd.join("configtx.yaml"), original.replacen(from, to, 1)).unwrap();
        gen_block("TwoOrgsApplicationGenesis")
    };
    assert_fails(
        &with("Profiles:", "Profiles: [\n"),
        "error reading configuration",
    );
    assert_fails(
        &with(
            "organizations/peerOrganizations/org1.example.com/msp",
            "missing/msp",
        ),
        "error loading MSP configuration for org Org1MSP",
    );
    assert_fails(
        &with("OR('Org1MSP.admin')\"", "OR('Org1MSP.admin'\""),
        "invalid rule",
    );
    assert_fails(&with("99 MB", "99 TB"), "invalid byte size '99 TB'");
    assert_fails(
        &with("BatchTimeout: 2s", "BatchTimeout: 2 s"),
        "BatchTimeout",
    );
    assert_fails(
        &with("OrdererType: etcdraft", "OrdererType: pbft"),
        "unknown orderer type: pbft",
    );
    std::fs::write(cwd.join("configtx.yaml"), &original).unwrap();
    std::fs::remove_file(cwd.join("configtx.yaml")).unwrap();
    assert_fails(
        &gen_block("TwoOrgsApplicationGenesis"),
        "could not find configtx.yaml",
    );

    assert_fails(
        &run("cryptogen", &["generate", "--config", "missing.yaml"], cwd),
        "missing.yaml",
    );
    std::fs::write(cwd.join("bad.yaml"), "PeerOrgs: [ {Name: x").unwrap();
    assert_fails(
        &run("cryptogen", &["generate", "--config", "bad.yaml"], cwd),
        "error parsing crypto config",
    );
}
