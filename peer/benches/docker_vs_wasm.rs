//! Cold start and warm endorsement latency of the same asset-transfer-basic package run
//! by the in-process `wasm` launcher and by the `docker` launcher, measured in one run on
//! one machine and printed as ratios (BENCHMARKS.md).
//!
//! `CARGO_TARGET_DIR=$HOME/.cache/weft-target-bench cargo bench -p weft-peer --bench
//! docker_vs_wasm` (needs a running Docker daemon; builds the example for wasm32 and the
//! static runner with cargo). `WARM_CALLS` (default 200) sets the warm sample size;
//! `RUNNER_PROFILE=release` builds the runner optimized (as a deployment would; the
//! default `runner` profile is unoptimized).

#[path = "../tests/docker_net/mod.rs"]
mod docker_net;

use std::time::{Duration, Instant};

use docker_net::{Net, basic_wasm, static_runner};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One launcher's numbers.
struct Numbers {
    install: Duration,
    first: Duration,
    restart_first: Option<Duration>,
    warm_p50: Duration,
    warm_p99: Duration,
}

async fn timed_ok(net: &Net, args: &[&str]) -> Duration {
    let started = Instant::now();
    let response = net.call(args).await;
    let elapsed = started.elapsed();
    let status = response.response.as_ref().map_or(0, |r| r.status);
    assert_eq!(status, 200, "{args:?}: {response:?}");
    elapsed
}

async fn measure(launcher: &str, wasm: &[u8], runner: &std::path::Path, warm: usize) -> Numbers {
    let network_id = format!("weft-bench-{}", std::process::id());
    let net = Net::new(launcher, wasm, runner, &network_id).await;
    // Install → first endorsement (the chaincode starts on the first proposal).
    let first = timed_ok(&net, &["InitLedger"]).await;
    // A restart of the chaincode container (image already built). The in-process
    // launcher's restart (module from the artifact cache) is measured by the `endorse`
    // bench, not here.
    let restart_first = match &net.docker {
        Some(docker) => {
            docker.shutdown().await;
            // The peer notices the stream end; wait for the handler to go.
            let deadline = Instant::now() + Duration::from_secs(10);
            while !net.support.registry().connected().is_empty() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Some(timed_ok(&net, &["InitLedger"]).await)
        }
        None => None,
    };
    let mut samples = Vec::with_capacity(warm);
    for _ in 0..warm {
        samples.push(timed_ok(&net, &["AssetExists", "asset1"]).await);
    }
    samples.sort();
    let numbers = Numbers {
        install: net.install,
        first,
        restart_first,
        warm_p50: samples[samples.len() / 2],
        warm_p99: samples[(samples.len() * 99 / 100).min(samples.len() - 1)],
    };
    if let Some(docker) = &net.docker {
        docker.shutdown().await;
    }
    numbers
}

fn main() {
    let warm = std::env::var("WARM_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let wasm = basic_wasm();
    let runner = static_runner();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (w, d) = runtime.block_on(async {
        let w = measure("wasm", &wasm, &runner, warm).await;
        let d = measure("docker", &wasm, &runner, warm).await;
        (w, d)
    });
    println!(
        "asset-transfer-basic ({} bytes), {warm} warm calls each",
        wasm.len()
    );
    println!(
        "{:<34} {:>12} {:>12} {:>10}",
        "", "wasm (ms)", "docker (ms)", "docker/wasm"
    );
    let row = |name: &str, a: Duration, b: Duration| {
        println!(
            "{name:<34} {:>12.2} {:>12.2} {:>9.1}x",
            ms(a),
            ms(b),
            b.as_secs_f64() / a.as_secs_f64()
        );
    };
    row("install (compile | image build)", w.install, d.install);
    row("first endorsement after install", w.first, d.first);
    row(
        "install → first endorsement",
        w.install + w.first,
        d.install + d.first,
    );
    if let Some(restart) = d.restart_first {
        println!(
            "{:<34} {:>12} {:>12.2}   (wasm: see the endorse bench)",
            "first endorsement after restart",
            "-",
            ms(restart)
        );
    }
    row("warm endorsement p50", w.warm_p50, d.warm_p50);
    row("warm endorsement p99", w.warm_p99, d.warm_p99);
}
