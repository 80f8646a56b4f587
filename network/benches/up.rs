//! Wall time from `weft network up` to its `ready` line: cold (no network directory:
//! crypto material, genesis block, node start, channel joins, `basic` installed,
//! approved by both orgs and committed) and warm (resuming the same directory).
//!
//! `cargo bench -p weft-network --bench up` (release). Needs the `orderer` and `peer`
//! binaries of the same profile beside `weft`: `cargo build --release -p weft-peer
//! -p weft-orderer --bins` first. `WEFT_BENCH_RUNS` (default 3) runs of each.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use support::{Up, basic_wasm};
use weft_network::client::{Clients, Invocation, evaluate, load_identity};
use weft_network::layout::{Layout, PEERS};

/// The first `GetAllAssets` evaluation on peer0.org1 after `ready` (it launches the
/// chaincode on that peer).
fn first_evaluate(dir: &std::path::Path) -> Duration {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let layout = Layout::new(dir);
        let clients = Clients::new(&layout).expect("clients");
        let user = load_identity(&layout.user_msp(&PEERS[0]), "Org1MSP").expect("User1");
        let started = Instant::now();
        evaluate(
            &clients.peers[0],
            Invocation {
                chaincode: "basic",
                args: vec![b"GetAllAssets".to_vec()],
                transient: HashMap::new(),
                signer: &user,
            },
        )
        .await
        .expect("GetAllAssets");
        started.elapsed()
    })
}

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let secs: Vec<String> = samples
        .iter()
        .map(|d| format!("{:.3}", d.as_secs_f64()))
        .collect();
    let median = samples[samples.len() / 2];
    println!(
        "{name}: median {:.3} s  min {:.3} s  max {:.3} s  (runs: {})",
        median.as_secs_f64(),
        samples[0].as_secs_f64(),
        samples[samples.len() - 1].as_secs_f64(),
        secs.join(", ")
    );
}

fn main() {
    // `cargo bench` passes `--bench`; anything else (e.g. `cargo test --benches`) only
    // checks that the bench builds.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runs: usize = std::env::var("WEFT_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let wasm = basic_wasm();
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    let mut first_cold = Vec::new();
    let mut first_warm = Vec::new();
    for run in 0..runs {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("net");
        let mut up = Up::start(&dir, &wasm, &[]);
        cold.push(up.wait_ready(Duration::from_secs(600)));
        first_cold.push(first_evaluate(&dir));
        let (status, _) = up.terminate();
        assert!(status.success());
        drop(up);
        let mut up = Up::start(&dir, &wasm, &[]);
        warm.push(up.wait_ready(Duration::from_secs(600)));
        first_warm.push(first_evaluate(&dir));
        let (status, _) = up.terminate();
        assert!(status.success());
        eprintln!("run {run}: cold {:?}, warm {:?}", cold[run], warm[run]);
    }
    summary("cold", cold);
    summary("warm", warm);
    summary("first evaluate after cold ready", first_cold);
    summary("first evaluate after warm ready", first_warm);
}
