//! `weft network up` as a user runs it: the real binary in a temporary directory, the
//! real `orderer` and `peer` processes on test-network's ports. A taken port and a node
//! failing at start (errors naming the port / the node's log), cold start to the `ready`
//! line, the files and ports a fabric application expects, `basic` invoked (endorsed by
//! both orgs, ordered, committed) and queried, SIGTERM → clean exit, a resumed start
//! (faster, same ledger), `weft network deploy` of a second chaincode, `down`.
//!
//! The network binds fixed ports (7050…9445), so everything is one test.

mod support;

use std::collections::HashMap;
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use support::{Up, basic_wasm, bin_dir, weft};
use weft_network::client::{Clients, Invocation, evaluate, load_identity, submit};
use weft_network::layout::{Layout, PEERS, all_ports};

const READY_TIMEOUT: Duration = Duration::from_secs(300);

fn assert_ports(open: bool) {
    for (port, what) in all_ports() {
        let listening = TcpStream::connect(("127.0.0.1", port)).is_ok();
        assert_eq!(
            listening, open,
            "port {port} ({what}) listening: {listening}"
        );
    }
}

/// CreateAsset endorsed by both peers as User1@org1, committed on both; ReadAsset on
/// each peer as that org's user.
async fn create_and_read(layout: &Layout, chaincode: &str, id: &str) {
    let clients = Clients::new(layout).expect("clients");
    let user1 = load_identity(&layout.user_msp(&PEERS[0]), "Org1MSP").expect("User1");
    let peers: Vec<_> = clients.peers.iter().collect();
    let args: Vec<Vec<u8>> = ["CreateAsset", id, "blue", "5", "Tomoko", "300"]
        .iter()
        .map(|a| a.as_bytes().to_vec())
        .collect();
    submit(
        &clients.orderer,
        &peers,
        &peers,
        Invocation {
            chaincode,
            args,
            transient: HashMap::new(),
            signer: &user1,
        },
        "CreateAsset",
    )
    .await
    .expect("CreateAsset committed as VALID on both peers");
    read(layout, chaincode, id).await;
}

async fn read(layout: &Layout, chaincode: &str, id: &str) {
    let clients = Clients::new(layout).expect("clients");
    for (spec, peer) in PEERS.iter().zip(&clients.peers) {
        let user = load_identity(&layout.user_msp(spec), &spec.mspid()).expect("user");
        let payload = evaluate(
            peer,
            Invocation {
                chaincode,
                args: vec![b"ReadAsset".to_vec(), id.as_bytes().to_vec()],
                transient: HashMap::new(),
                signer: &user,
            },
        )
        .await
        .expect("ReadAsset");
        let asset: serde_json::Value = serde_json::from_slice(&payload).expect("asset JSON");
        assert_eq!(asset["ID"], id, "{asset}");
        assert_eq!(asset["Owner"], "Tomoko", "{asset}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_serves_basic_stops_cleanly_resumes_and_deploys() {
    let wasm = basic_wasm();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("net");
    let layout = Layout::new(&dir);

    // A port already taken: a clear error naming it, before anything starts.
    {
        let _taken = TcpListener::bind(("127.0.0.1", 9445)).expect("bind 9445");
        let out = Command::new(weft())
            .args(["network", "up", "--dir"])
            .arg(&dir)
            .env("WEFT_BIN_DIR", bin_dir())
            .output()
            .expect("run weft");
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("port 9445") && stderr.contains("peer0.org2.example.com operations"),
            "{stderr}"
        );
        assert!(!dir.exists(), "nothing generated when a port is taken");
    }

    // A node failing at start: the error names it and its log; nothing is left running.
    {
        let fake = tmp.path().join("fake-bin");
        std::fs::create_dir_all(&fake).expect("fake bin dir");
        std::os::unix::fs::symlink(bin_dir().join("orderer"), fake.join("orderer"))
            .expect("symlink orderer");
        let peer = fake.join("peer");
        std::fs::write(
            &peer,
            "#!/bin/sh\necho 'cannot start: broken on purpose' >&2\nexit 3\n",
        )
        .expect("fake peer");
        std::fs::set_permissions(&peer, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let broken = tmp.path().join("broken");
        let out = Command::new(weft())
            .args(["network", "up", "--dir"])
            .arg(&broken)
            .arg("--bin-dir")
            .arg(&fake)
            .output()
            .expect("run weft");
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("peer0.org1.example.com")
                && stderr.contains("logs/peer0.org1.example.com.log"),
            "{stderr}"
        );
        let log = std::fs::read_to_string(broken.join("logs/peer0.org1.example.com.log"))
            .expect("peer log");
        assert!(log.contains("broken on purpose"), "{log}");
        assert_ports(false);
    }

    // Cold start.
    let mut up = Up::start(&dir, &wasm, &[]);
    let cold = up.wait_ready(READY_TIMEOUT);
    eprintln!("cold start to ready: {cold:?}");
    let ready = up.output.last().expect("ready line").clone();
    assert_eq!(
        up.output.iter().filter(|l| l.contains("ready")).count(),
        1,
        "exactly one line says ready: {:?}",
        up.output
    );
    for endpoint in [
        "127.0.0.1:7050",
        "127.0.0.1:7053",
        "127.0.0.1:7051",
        "127.0.0.1:9051",
        "mychannel",
        "basic",
    ] {
        assert!(ready.contains(endpoint), "{ready}");
    }
    let orgs = dir.join("organizations");
    for file in [
        "peerOrganizations/org1.example.com/users/User1@org1.example.com/msp/signcerts/User1@org1.example.com-cert.pem",
        "peerOrganizations/org1.example.com/peers/peer0.org1.example.com/tls/ca.crt",
        "peerOrganizations/org2.example.com/peers/peer0.org2.example.com/tls/ca.crt",
        "peerOrganizations/org1.example.com/connection-org1.json",
        "peerOrganizations/org1.example.com/connection-org1.yaml",
        "peerOrganizations/org2.example.com/connection-org2.json",
        "peerOrganizations/org2.example.com/connection-org2.yaml",
        "ordererOrganizations/example.com/tlsca/tlsca.example.com-cert.pem",
        "ordererOrganizations/example.com/users/Admin@example.com/tls/client.crt",
    ] {
        assert!(orgs.join(file).is_file(), "missing {file}");
    }
    for file in [
        "channel-artifacts/mychannel.block",
        "logs/orderer.example.com.log",
        "logs/peer0.org1.example.com.log",
        "logs/peer0.org2.example.com.log",
        "config/orderer.example.com/orderer.yaml",
        "config/peer0.org1.example.com/core.yaml",
    ] {
        assert!(dir.join(file).is_file(), "missing {file}");
    }
    let profile: serde_json::Value = serde_json::from_slice(
        &std::fs::read(orgs.join("peerOrganizations/org1.example.com/connection-org1.json"))
            .expect("profile"),
    )
    .expect("profile JSON");
    assert_eq!(profile["organizations"]["Org1"]["mspid"], "Org1MSP");
    assert_eq!(
        profile["peers"]["peer0.org1.example.com"]["url"],
        "grpcs://127.0.0.1:7051"
    );
    assert!(
        profile["peers"]["peer0.org1.example.com"]["tlsCACerts"]["pem"]
            .as_str()
            .is_some_and(|p| p.starts_with("-----BEGIN CERTIFICATE-----"))
    );
    assert_ports(true);

    // `basic` is deployed: a transaction endorsed by both orgs commits, and reads back.
    create_and_read(&layout, "basic", "asset-cold").await;

    // SIGTERM: every node stopped, exit 0, ports free.
    let (status, lines) = up.terminate();
    assert!(status.success(), "exit status {status}: {lines:?}");
    assert_eq!(
        lines.iter().filter(|l| l.contains("stopped ")).count(),
        3,
        "{lines:?}"
    );
    assert_ports(false);
    drop(up);

    // Resume: no regeneration, joins and deploy skipped, the ledger kept, faster.
    let cert =
        orgs.join("peerOrganizations/org1.example.com/peers/peer0.org1.example.com/tls/server.crt");
    let cert_before = std::fs::read(&cert).expect("cert");
    let mut up = Up::start(&dir, &wasm, &[]);
    let warm = up.wait_ready(READY_TIMEOUT);
    eprintln!("warm start to ready: {warm:?} (cold {cold:?})");
    assert!(
        warm < cold,
        "resume ({warm:?}) should be faster than a cold start ({cold:?})"
    );
    let text = up.output.join("\n");
    assert!(text.contains("resuming the network"), "{text}");
    assert!(
        text.contains("orderer in mychannel since an earlier run"),
        "{text}"
    );
    assert!(
        text.contains("peer0.org1.example.com in mychannel since an earlier run"),
        "{text}"
    );
    assert!(
        text.contains("peer0.org2.example.com in mychannel since an earlier run"),
        "{text}"
    );
    assert!(
        text.contains("chaincode basic deployed by an earlier run"),
        "{text}"
    );
    assert_eq!(
        std::fs::read(&cert).expect("cert"),
        cert_before,
        "crypto material kept"
    );
    read(&layout, "basic", "asset-cold").await;
    create_and_read(&layout, "basic", "asset-warm").await;

    // `weft network deploy`: a second chaincode by name, with a signature policy.
    let out = Command::new(weft())
        .args(["network", "deploy", "--name", "basic2", "--wasm"])
        .arg(&wasm)
        .arg("--dir")
        .arg(&dir)
        .args(["--signature-policy", "OR('Org1MSP.peer','Org2MSP.peer')"])
        .output()
        .expect("run weft network deploy");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("chaincode basic2 deployed on mychannel"),
        "{stdout}"
    );
    create_and_read(&layout, "basic2", "asset-2").await;

    // `down` refuses while the network runs, then removes the directory.
    let out = Command::new(weft())
        .args(["network", "down", "--dir"])
        .arg(&dir)
        .output()
        .expect("run weft network down");
    assert!(!out.status.success(), "down must refuse while up runs");
    let (status, _) = up.terminate();
    assert!(status.success());
    drop(up);
    let out = Command::new(weft())
        .args(["network", "down", "--dir"])
        .arg(&dir)
        .output()
        .expect("run weft network down");
    assert!(out.status.success(), "{out:?}");
    assert!(!dir.exists());
}

/// The official `@hyperledger/fabric-gateway` client submits and evaluates against
/// `basic` on the dev network, as a fabric-samples application does on test-network.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the peer's Gateway service (/gateway.Gateway/*, issue 7), not built yet; run with --run-ignored when it is"]
async fn fabric_gateway_client_submits_and_evaluates_on_basic() {
    let interop = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/interop");
    assert!(
        interop
            .join("node_modules/@hyperledger/fabric-gateway")
            .is_dir(),
        "run `npm ci` in tests/interop (scripts/setup does)"
    );
    let wasm = basic_wasm();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("net");
    let mut up = Up::start(&dir, &wasm, &[]);
    up.wait_ready(READY_TIMEOUT);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gateway-basic.mjs");
    let out = Command::new("node")
        .arg(&script)
        .arg(&dir)
        .arg(&interop)
        .output()
        .expect("run node (Node 20 must be on PATH)");
    assert!(
        out.status.success(),
        "fabric-gateway failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON result");
    assert_eq!(result["read"]["Owner"], "Tom", "{result}");
    assert!(result["count"].as_u64().is_some_and(|n| n >= 1), "{result}");
    let (status, _) = up.terminate();
    assert!(status.success());
}
