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

#[path = "docker_net/mod.rs"]
mod docker_net;

use bollard::Docker;
use bollard::query_parameters::{KillContainerOptionsBuilder, RemoveImageOptionsBuilder};
use docker_net::{Net, basic_wasm, outcome, static_runner};
use std::time::{Duration, Instant};

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
