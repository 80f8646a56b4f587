//! The operator's path through a chaincode's life with our CLIs only, over real
//! `orderer` and `peer` processes with TLS on every endpoint: two orgs' peers join
//! `mychannel`; `examples/asset-transfer-basic`, built for wasm32 by cargo, is packaged
//! with `peer lifecycle chaincode package`, installed on both peers, approved by both
//! orgs, checked (`checkcommitreadiness`), committed, invoked with `peer chaincode invoke
//! --waitForEvent` across both orgs, queried, then upgraded to sequence 2 (a package built
//! from the crate directory by the CLI) and invoked again. On the way, the bad inputs
//! give Fabric's errors: invoking an uncommitted chaincode, committing without enough
//! approvals, approving with a wrong package id (the approval is accepted, as Fabric's;
//! the org's peer then refuses to run the chaincode), bad `-c` JSON, no peer reachable.

#[path = "../../orderer/tests/cluster_net/mod.rs"]
mod cluster_net;
mod peer_net;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cluster_net::{CHANNEL, ChannelSettings, Network, wait_for_leader};
use peer_net::PeerNode;
use weft_common::crypto::sha256;

/// The workspace root, found at run time.
fn workspace() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo test");
    PathBuf::from(manifest)
        .parent()
        .expect("the peer crate is in the workspace")
        .to_path_buf()
}

/// The target directory this test binary was built in (`<target>/debug/deps/<test>`).
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("test executable path");
    exe.ancestors()
        .nth(3)
        .expect("<target>/<profile>/deps/<exe>")
        .to_path_buf()
}

/// Builds the example for wasm32 with the size profile and returns the module's path.
fn build_wasm() -> PathBuf {
    let target = target_dir();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace())
        .env("CARGO_TARGET_DIR", &target)
        .args([
            "build",
            "-p",
            "asset-transfer-basic",
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            "wasm-release",
        ])
        .status()
        .expect("run cargo");
    assert!(status.success(), "building the wasm contract failed");
    target.join("wasm32-unknown-unknown/wasm-release/asset_transfer_basic.wasm")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the CLI expecting failure; returns its stderr.
fn cli_err(peer: &PeerNode, args: &[&str]) -> String {
    let out = peer.cli(args);
    let (stdout, stderr) = text(&out);
    assert!(
        !out.status.success(),
        "peer {args:?} should fail: {stdout}{stderr}"
    );
    assert_eq!(out.status.code(), Some(1));
    stderr
}

/// The whole test network and the flags every transaction command needs.
struct Net {
    net: Network,
    org1: PeerNode,
    org2: PeerNode,
    orderer: String,
    orderer_ca: String,
}

impl Net {
    /// `-o ... --tls --cafile ...` plus `--peerAddresses`/`--tlsRootCertFiles` of both
    /// peers, Org1 first.
    fn both_peers(&self) -> Vec<String> {
        let mut flags = vec![
            "-o".to_owned(),
            self.orderer.clone(),
            "--tls".into(),
            "--cafile".into(),
            self.orderer_ca.clone(),
        ];
        for peer in [&self.org1, &self.org2] {
            flags.extend([
                "--peerAddresses".to_owned(),
                format!("127.0.0.1:{}", peer.port),
                "--tlsRootCertFiles".into(),
                peer.tls_ca().display().to_string(),
            ]);
        }
        flags
    }

    fn orderer_flags(&self) -> Vec<String> {
        vec![
            "-o".to_owned(),
            self.orderer.clone(),
            "--tls".into(),
            "--cafile".into(),
            self.orderer_ca.clone(),
        ]
    }
}

fn with(base: &[&str], extra: &[String]) -> Vec<String> {
    base.iter()
        .map(|s| (*s).to_owned())
        .chain(extra.iter().cloned())
        .collect()
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn approve(n: &Net, peer: &PeerNode, version: &str, sequence: &str, package_id: &str) -> String {
    let args = with(
        &[
            "lifecycle",
            "chaincode",
            "approveformyorg",
            "-C",
            CHANNEL,
            "-n",
            "basic",
            "-v",
            version,
            "--sequence",
            sequence,
            "--package-id",
            package_id,
        ],
        &n.orderer_flags(),
    );
    peer.cli_ok(&refs(&args))
}

fn commit_args(n: &Net, version: &str, sequence: &str) -> Vec<String> {
    with(
        &[
            "lifecycle",
            "chaincode",
            "commit",
            "-C",
            CHANNEL,
            "-n",
            "basic",
            "-v",
            version,
            "--sequence",
            sequence,
        ],
        &n.both_peers(),
    )
}

fn invoke_args(n: &Net, ctor: &str) -> Vec<String> {
    with(
        &[
            "chaincode",
            "invoke",
            "-C",
            CHANNEL,
            "-n",
            "basic",
            "-c",
            ctor,
            "--waitForEvent",
        ],
        &n.both_peers(),
    )
}

fn query(peer: &PeerNode, ctor: &str) -> String {
    let out = peer.cli(&[
        "chaincode",
        "query",
        "-C",
        CHANNEL,
        "-n",
        "basic",
        "-c",
        ctor,
    ]);
    let (stdout, stderr) = text(&out);
    assert!(
        out.status.success(),
        "query {ctor} failed: {stdout}{stderr}"
    );
    stdout
}

/// `package_id` of the package file, as Fabric computes it.
fn expected_id(label: &str, file: &Path) -> String {
    let bytes = std::fs::read(file).expect("package file");
    format!("{label}:{}", hex::encode(sha256(&bytes)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaincode_lifecycle_with_fabrics_cli() {
    let wasm = build_wasm();

    let mut net = Network::new(1, ChannelSettings::default());
    net.start(0);
    net.join(0);
    wait_for_leader(&mut net, None);
    let mut org1 = PeerNode::new(&net, 1);
    let mut org2 = PeerNode::new(&net, 2);
    org1.start();
    org2.start();
    let genesis = net.genesis_path.display().to_string();
    for peer in [&org1, &org2] {
        let out = peer.cli_ok(&["channel", "join", "-b", &genesis]);
        assert!(
            out.contains("Successfully submitted proposal to join channel"),
            "{out}"
        );
    }
    let n = Net {
        orderer: format!("127.0.0.1:{}", net.nodes[0].ports.general),
        orderer_ca: net.orderer_tls_ca().display().to_string(),
        net,
        org1,
        org2,
    };
    let dir = n.net.dir.path();

    // Package the module and compute its id.
    let package = dir.join("basic.tar.gz");
    let package_s = package.display().to_string();
    n.org1.cli_ok(&[
        "lifecycle",
        "chaincode",
        "package",
        &package_s,
        "--path",
        &wasm.display().to_string(),
        "--lang",
        "wasm",
        "--label",
        "basic_1.0",
    ]);
    let package_id = expected_id("basic_1.0", &package);
    let calculated = n
        .org1
        .cli_ok(&["lifecycle", "chaincode", "calculatepackageid", &package_s]);
    assert_eq!(calculated.trim(), package_id);

    // Install on both peers.
    for peer in [&n.org1, &n.org2] {
        let out = peer.cli_ok(&["lifecycle", "chaincode", "install", &package_s]);
        assert!(
            out.contains(&format!("Chaincode code package identifier: {package_id}")),
            "{out}"
        );
        let listed = peer.cli_ok(&["lifecycle", "chaincode", "queryinstalled"]);
        assert!(
            listed.contains(&format!(
                "Installed chaincodes on peer:\nPackage ID: {package_id}, Label: basic_1.0\n"
            )),
            "{listed}"
        );
    }
    let json = n.org1.cli(&[
        "lifecycle",
        "chaincode",
        "queryinstalled",
        "--output",
        "json",
    ]);
    let listed: serde_json::Value =
        serde_json::from_slice(&json.stdout).expect("queryinstalled JSON");
    assert_eq!(
        listed["installed_chaincodes"][0]["package_id"],
        package_id.as_str()
    );
    let fetched_dir = dir.join("fetched");
    std::fs::create_dir_all(&fetched_dir).expect("dir");
    n.org1.cli_ok(&[
        "lifecycle",
        "chaincode",
        "getinstalledpackage",
        "--package-id",
        &package_id,
        "--output-directory",
        &fetched_dir.display().to_string(),
    ]);
    assert_eq!(
        std::fs::read(fetched_dir.join(format!("{package_id}.tar.gz"))).expect("fetched"),
        std::fs::read(&package).expect("package")
    );

    // Bad input: invoking a chaincode that is not defined.
    let err = cli_err(
        &n.org1,
        &refs(&invoke_args(&n, r#"{"Args":["InitLedger"]}"#)),
    );
    assert!(
        err.contains(
            "Error: endorsement failure during invoke. response: status:500 message:\"make \
             sure the chaincode basic has been successfully defined on channel mychannel and \
             try again: chaincode basic not found\""
        ),
        "{err}"
    );

    // Org1 approves with a wrong package id: accepted (Fabric does not check it).
    let wrong_id = format!("basic_1.0:{}", "0".repeat(64));
    approve(&n, &n.org1, "1.0", "1", &wrong_id);
    let approved = n.org1.cli_ok(&[
        "lifecycle",
        "chaincode",
        "queryapproved",
        "-C",
        CHANNEL,
        "-n",
        "basic",
    ]);
    assert!(
        approved.contains(&format!(
            "Approved chaincode definition for chaincode 'basic' on channel 'mychannel':\n\
             sequence: 1, version: 1.0, init-required: false, package-id: {wrong_id}, \
             endorsement plugin: escc, validation plugin: vscc\n"
        )),
        "{approved}"
    );

    // Bad input: committing before Org2 approved.
    let readiness = |peer: &PeerNode| {
        peer.cli_ok(&[
            "lifecycle",
            "chaincode",
            "checkcommitreadiness",
            "-C",
            CHANNEL,
            "-n",
            "basic",
            "-v",
            "1.0",
            "--sequence",
            "1",
        ])
    };
    assert!(readiness(&n.org2).contains(
        "Chaincode definition for chaincode 'basic', version '1.0', sequence '1' on channel \
             'mychannel' approval status by org:\nOrg1MSP: true\nOrg2MSP: false\n"
    ));
    let err = cli_err(&n.org1, &refs(&commit_args(&n, "1.0", "1")));
    assert!(
        err.contains(
            "Error: failed to create signed transaction: proposal response was not successful, \
             error code 500, msg failed to invoke backing implementation of \
             'CommitChaincodeDefinition': chaincode definition not agreed to by this org \
             (Org2MSP)"
        ),
        "{err}"
    );
    // Endorsed by Org1's peer alone, the commit is ordered and then invalidated: the
    // LifecycleEndorsement policy (MAJORITY) needs both orgs.
    let org1_only = with(
        &[
            "lifecycle",
            "chaincode",
            "commit",
            "-C",
            CHANNEL,
            "-n",
            "basic",
            "-v",
            "1.0",
            "--sequence",
            "1",
        ],
        &n.orderer_flags(),
    );
    let err = cli_err(&n.org1, &refs(&org1_only));
    assert!(
        err.contains("Error: transaction invalidated with status (ENDORSEMENT_POLICY_FAILURE)"),
        "{err}"
    );

    // Org2 approves; both are ready; commit.
    approve(&n, &n.org2, "1.0", "1", &package_id);
    let ready = readiness(&n.org1);
    assert!(ready.contains("Org1MSP: true\nOrg2MSP: true\n"), "{ready}");
    let json = n.org1.cli(&[
        "lifecycle",
        "chaincode",
        "checkcommitreadiness",
        "-C",
        CHANNEL,
        "-n",
        "basic",
        "-v",
        "1.0",
        "--sequence",
        "1",
        "-O",
        "json",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&json.stdout),
        "{\n\t\"approvals\": {\n\t\t\"Org1MSP\": true,\n\t\t\"Org2MSP\": true\n\t}\n}\n"
    );
    let out = n.org1.cli_ok(&refs(&commit_args(&n, "1.0", "1")));
    assert!(out.contains("committed with status (VALID)"), "{out}");
    let committed = n.org2.cli_ok(&[
        "lifecycle",
        "chaincode",
        "querycommitted",
        "-C",
        CHANNEL,
        "-n",
        "basic",
    ]);
    assert!(
        committed.contains(
            "Committed chaincode definition for chaincode 'basic' on channel 'mychannel':\n\
             Version: 1.0, Sequence: 1, Endorsement Plugin: escc, Validation Plugin: vscc, \
             Approvals: [Org1MSP: true, Org2MSP: true]\n"
        ),
        "{committed}"
    );

    // The wrong package id: Org1's peer refuses to run the chaincode.
    let err = cli_err(
        &n.org1,
        &refs(&invoke_args(&n, r#"{"Args":["InitLedger"]}"#)),
    );
    assert!(
        err.contains(
            "Error: endorsement failure during invoke. response: status:500 message:\"make \
             sure the chaincode basic has been successfully defined on channel mychannel and \
             try again: chaincode definition for 'basic' exists, but chaincode is not \
             installed\""
        ),
        "{err}"
    );
    // Org1 approves the committed sequence again with the right package.
    approve(&n, &n.org1, "1.0", "1", &package_id);

    // Invoke across both orgs, waiting for the commit on both peers; query.
    let out = n
        .org1
        .cli_ok(&refs(&invoke_args(&n, r#"{"Args":["InitLedger"]}"#)));
    assert!(
        out.contains("Chaincode invoke successful. result: status:200"),
        "{out}"
    );
    assert_eq!(
        out.matches("committed with status (VALID) at 127.0.0.1:")
            .count(),
        2,
        "{out}"
    );
    let asset1 = query(&n.org2, r#"{"Args":["ReadAsset","asset1"]}"#);
    let asset1: serde_json::Value = serde_json::from_str(asset1.trim()).expect("asset JSON");
    assert_eq!(asset1["ID"], "asset1");
    let out = n.org2.cli_ok(&refs(&invoke_args(
        &n,
        r#"{"function":"CreateAsset","Args":["asset7","purple","7","Ana","700"]}"#,
    )));
    assert!(
        out.contains("Chaincode invoke successful. result: status:200"),
        "{out}"
    );
    let asset7 = query(&n.org1, r#"{"Args":["ReadAsset","asset7"]}"#);
    assert!(asset7.contains("\"Owner\":\"Ana\""), "{asset7}");

    // Bad input on the command line, and an endorsement refused by the chaincode.
    let err = cli_err(
        &n.org1,
        &[
            "chaincode",
            "query",
            "-C",
            CHANNEL,
            "-n",
            "basic",
            "-c",
            "{\"Args\":",
        ],
    );
    assert!(
        err.contains("Error: chaincode argument error: unexpected end of JSON input"),
        "{err}"
    );
    let err = cli_err(
        &n.org1,
        &[
            "chaincode",
            "query",
            "-C",
            CHANNEL,
            "-n",
            "basic",
            "-c",
            r#"{"Args":["ReadAsset","nope"]}"#,
        ],
    );
    assert!(
        err.contains(
            "Error: endorsement failure during query. response: status:500 message:\"the asset \
             nope does not exist\""
        ),
        "{err}"
    );
    let err = cli_err(
        &n.org1,
        &[
            "chaincode",
            "query",
            "-C",
            CHANNEL,
            "-n",
            "basic",
            "-c",
            r#"{"Args":["ReadAsset","asset1"]}"#,
            "--peerAddresses",
            "127.0.0.1:1",
            "--tlsRootCertFiles",
            &n.org1.tls_ca().display().to_string(),
        ],
    );
    assert!(
        err.contains(
            "Error: error getting endorser client for query: endorser client failed to connect \
             to 127.0.0.1:1: failed to create new connection: "
        ),
        "{err}"
    );

    // Upgrade: a package built from the crate directory by the CLI (label basic_2.0),
    // installed on both, approved at sequence 2 by both, committed, invoked.
    let package2 = dir.join("basic2.tar.gz");
    let crate_dir = workspace().join("examples/asset-transfer-basic");
    let out = Command::new(peer_net::peer_binary())
        .args([
            "lifecycle",
            "chaincode",
            "package",
            &package2.display().to_string(),
            "--path",
            &crate_dir.display().to_string(),
            "--lang",
            "wasm",
            "--label",
            "basic_2.0",
        ])
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .expect("run peer CLI");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "package from crate: {stdout}{stderr}");
    let package2_id = expected_id("basic_2.0", &package2);
    for peer in [&n.org1, &n.org2] {
        let out = peer.cli_ok(&[
            "lifecycle",
            "chaincode",
            "install",
            &package2.display().to_string(),
        ]);
        assert!(out.contains(&package2_id), "{out}");
        approve(&n, peer, "2.0", "2", &package2_id);
    }
    let out = n.org2.cli_ok(&refs(&commit_args(&n, "2.0", "2")));
    assert!(out.contains("committed with status (VALID)"), "{out}");
    let committed = n
        .org1
        .cli_ok(&["lifecycle", "chaincode", "querycommitted", "-C", CHANNEL]);
    assert!(
        committed.contains(
            "Committed chaincode definitions on channel 'mychannel':\nName: basic, Version: 2.0, \
             Sequence: 2, Endorsement Plugin: escc, Validation Plugin: vscc\n"
        ),
        "{committed}"
    );
    let out = n.org1.cli_ok(&refs(&invoke_args(
        &n,
        r#"{"Args":["TransferAsset","asset7","Bo"]}"#,
    )));
    assert!(
        out.contains("Chaincode invoke successful. result: status:200 payload:\"Ana\""),
        "{out}"
    );
    let asset7 = query(&n.org2, r#"{"Args":["ReadAsset","asset7"]}"#);
    assert!(asset7.contains("\"Owner\":\"Bo\""), "{asset7}");
    let installed = n.org1.cli_ok(&["lifecycle", "chaincode", "queryinstalled"]);
    assert!(installed.contains(&package2_id), "{installed}");
}
