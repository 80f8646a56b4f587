//! Endorsement with WASM chaincode, in-process: cold start, instance creation, warm
//! endorsement latency and throughput, against the cost of the peer's ECDSA.
//!
//! One peer (Org1's peer0 of `tools/testdata`'s test network, cryptogen + configtxgen)
//! joins `mychannel` through `cscc`; block 1 (committed without validation, as the tests
//! seed) defines the chaincodes (`OR('Org1MSP.peer')`, sequence 1) and writes `a` in
//! their namespaces. The chaincode is `wasm-host/tests/guests/well_behaved.wat` (prelude
//! spliced in): reads its TxInput, GET_STATE `a`, PUT_STATE `b` = args[1], one log line,
//! completes with `a`'s value and an event. The WASM engine, fuel and timeouts are the
//! peer's defaults (`EngineConfig::default()`: pooling, 256 instances, 64 MiB;
//! `TxLimits::default()`; execute timeout 30 s). Everything runs on a tokio multi-thread
//! runtime with 2 workers.
//!
//! 1. Cold start, R chaincodes `cold0..`: `ChaincodeSupport::install(package)` (saves it,
//!    compiles the module, writes the artifact cache) + approve, then the first
//!    `Endorser::process_proposal` (launch: shim task, REGISTER/READY; instantiate,
//!    simulate, endorse). Then "restart": a fresh engine, `WasmLauncher` and
//!    `ChaincodeSupport` over the same package store and cache directory (the artifact is
//!    loaded from disk, not compiled) and a fresh endorser → first endorsement of each.
//! 2. Instance creation: `WasmChaincode::run` with a no-op `ShimLink` (every request
//!    answered RESPONSE, empty), N times in a row, pooling allocator on and off: a
//!    trivial guest (calls `complete` at once) and `well_behaved`.
//! 3. Warm endorsement: proposals by Org1's User1, created and signed before timing,
//!    through `Endorser::process_proposal`, C tasks each sending its share one after the
//!    other (C = 1, 16, 64); p50/p99 latency, proposals/s, this process's CPU time per
//!    endorsement and the CPU seconds other processes used meanwhile.
//! 4. ECDSA P-256 with `weft_common::crypto` (default backend): one sign over the message
//!    an endorsement signs (a real `prp ‖ endorser`) and one verify of a real client
//!    proposal signature. Each endorsement costs the peer 1 verify + 1 sign:
//!    crypto limit = 1 / (sign + verify) per core.
//!
//! Run by hand in release:
//! `CARGO_TARGET_DIR=$HOME/.cache/weft-target-bench cargo bench -p weft-peer --bench endorse`.
//! `WEFT_BENCH_N` (3000) proposals per concurrency level, `WEFT_BENCH_RUNS` (20000)
//! instance-creation runs, `WEFT_BENCH_COLD` (5) cold starts; `WEFT_BENCH_QUICK=1` is a
//! small smoke test.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use weft_common::crypto::Signer;
use weft_common::msp::{MspDir, SigningIdentity};
use weft_common::policy::dsl;
use weft_common::protoutil::{self, build_block, set_transactions_filter};
use weft_peer::chaincode::package::{ChaincodePackage, PackageStore, WASM_TYPE};
use weft_peer::chaincode::{Approval, ChaincodeSupport, Launcher, SupportConfig, WasmLauncher};
use weft_peer::channels::Channels;
use weft_peer::endorser::Endorser;
use weft_peer::ledger::{KeyWrite, NsUpdates};
use weft_peer::validation::definitions::{
    ChaincodeDefinition, definitions_tx_updates, signature_policy,
};
use weft_proto::common::Block;
use weft_proto::protos::chaincode_message::Type;
use weft_proto::protos::{
    ChaincodeInput, ChaincodeMessage, ProposalResponse, SignedProposal, TxValidationCode,
};
use weft_tools::configtxgen;
use weft_tools::cryptogen::{self, CryptoConfig};
use weft_wasm_host::{BoxFuture, EngineConfig, ShimLink, TxLimits, WasmChaincode, WasmEngine};

const CHANNEL: &str = "mychannel";

/// A guest that completes at once with `Response{status: 200}` (no peer requests).
const TRIVIAL_GUEST: &str = r#"(module
  (import "fabric" "complete" (func $complete (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\08\c8\01")
  (func (export "fabric_abi_v1"))
  (func (export "fabric_run") (result i32)
    (drop (call $complete (i32.const 0) (i32.const 3) (i32.const 0) (i32.const 0)))
    (i32.const 0)))"#;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `wasm-host/tests/guests/<name>.wat` with the prelude spliced in.
fn guest(name: &str) -> Vec<u8> {
    let dir = manifest_dir().join("../wasm-host/tests/guests");
    let prelude = std::fs::read_to_string(dir.join("prelude.wat")).unwrap();
    let text = std::fs::read_to_string(dir.join(format!("{name}.wat"))).unwrap();
    wat::parse_str(text.replace(";; @prelude", &prelude)).unwrap()
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The peer, its channel, and the identities.
struct Peer {
    dir: tempfile::TempDir,
    channels: Arc<Channels>,
    base: Endorser,
    genesis: Block,
    admin1: SigningIdentity,
    user1: SigningIdentity,
    peer_identity: SigningIdentity,
}

impl Peer {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let tools = manifest_dir().join("../tools/testdata");
        let orgs = dir.path().join("organizations");
        let crypto = CryptoConfig::load(&tools.join("crypto-config.yaml")).unwrap();
        cryptogen::generate(&crypto, &orgs).unwrap();
        std::fs::copy(
            tools.join("configtx.yaml"),
            dir.path().join("configtx.yaml"),
        )
        .unwrap();
        let top = configtxgen::TopLevel::load(dir.path()).unwrap();
        let profile = top.profile("TwoOrgsApplicationGenesis").unwrap();
        let genesis = configtxgen::genesis_block(&profile, CHANNEL).unwrap();
        let org = |n: u32| orgs.join(format!("peerOrganizations/org{n}.example.com"));
        let load = |path: PathBuf| MspDir::load(&path, "Org1MSP").unwrap();
        let peer_msp = load(org(1).join("peers/peer0.org1.example.com/msp"));
        let signer = |path: PathBuf| load(path).signing_identity.unwrap();
        let peer_identity = peer_msp.signing_identity.clone().unwrap();
        let channels = Arc::new(Channels::open(&dir.path().join("peer")).unwrap());
        let base = Endorser::new(
            channels.clone(),
            Arc::new(peer_msp.msp().unwrap()),
            Arc::new(peer_identity.clone()),
        );
        Peer {
            channels,
            base,
            genesis,
            admin1: signer(org(1).join("users/Admin@org1.example.com/msp")),
            user1: signer(org(1).join("users/User1@org1.example.com/msp")),
            peer_identity,
            dir,
        }
    }

    fn proposal(
        &self,
        channel: &str,
        chaincode: &str,
        args: &[&[u8]],
        signer: &SigningIdentity,
    ) -> SignedProposal {
        let args = args.iter().map(|a| a.to_vec()).collect();
        let (proposal, _) = protoutil::create_chaincode_proposal(
            channel,
            chaincode,
            args,
            HashMap::new(),
            signer.serialized(),
            None,
        );
        protoutil::sign_proposal(&proposal, signer).unwrap()
    }

    async fn join(&self) {
        let block = self.genesis.encode_to_vec();
        let signed = self.proposal("", "cscc", &[b"JoinChain", &block], &self.admin1);
        let response = self.base.process_proposal(signed).await.unwrap();
        assert_eq!(status(&response), 200, "{}", message(&response));
    }

    /// Commits block 1 defining `names` (endorsed by Org1's peers), each namespace
    /// holding `a` = "alpha", without validation (test seeding).
    fn define(&self, names: &[&str]) {
        let policy = signature_policy(dsl::parse("OR('Org1MSP.peer')").unwrap());
        let definition = ChaincodeDefinition::new(1, "1.0", &policy);
        let defs: Vec<(&str, &ChaincodeDefinition)> =
            names.iter().map(|n| (*n, &definition)).collect();
        let mut updates = definitions_tx_updates(0, "define-1", &defs);
        for name in names {
            updates.namespaces.push(NsUpdates {
                namespace: (*name).to_owned(),
                writes: vec![KeyWrite {
                    key: "a".to_owned(),
                    value: Some(b"alpha".to_vec()),
                }],
                metadata_writes: Vec::new(),
            });
        }
        let channel = self.channels.get(CHANNEL).unwrap();
        let ledger = channel.ledger();
        let previous = ledger.block_store().last_header_hash();
        let mut block = build_block(1, previous, vec![b"seed".to_vec()]);
        set_transactions_filter(&mut block, vec![TxValidationCode::Valid as u8]);
        ledger.commit(&block, &[updates]).unwrap();
    }

    /// Chaincode support over `store_root` (packages) and `cache` (WASM artifacts) with
    /// a fresh engine, and an endorser using it.
    fn support(&self, store_root: &Path, cache: &Path) -> (Arc<ChaincodeSupport>, Endorser) {
        let engine = WasmEngine::new(EngineConfig::default()).unwrap();
        assert!(engine.is_pooled(), "the pooling allocator is unavailable");
        let wasm: Arc<dyn Launcher> = Arc::new(WasmLauncher::new(
            engine,
            cache.to_owned(),
            TxLimits::default(),
        ));
        let support = ChaincodeSupport::new(
            SupportConfig {
                execute_timeout: Duration::from_secs(30),
                ..SupportConfig::default()
            },
            self.channels.clone(),
            self.base.acl().clone(),
            PackageStore::under(store_root).unwrap(),
            HashMap::from([(WASM_TYPE.to_owned(), wasm)]),
        );
        let endorser = self.base.clone().with_chaincode_support(support.clone());
        (support, endorser)
    }
}

fn status(r: &ProposalResponse) -> i32 {
    r.response.as_ref().map_or(0, |r| r.status)
}

fn message(r: &ProposalResponse) -> String {
    r.response
        .as_ref()
        .map_or(String::new(), |r| r.message.clone())
}

fn approve(support: &ChaincodeSupport, name: &str, ccid: &str) {
    support.approve(
        CHANNEL,
        name,
        Approval {
            sequence: 1,
            package_id: Some(ccid.to_owned()),
        },
    );
}

async fn endorse_ok(endorser: &Endorser, signed: SignedProposal) -> ProposalResponse {
    let response = endorser.process_proposal(signed).await.unwrap();
    assert_eq!(status(&response), 200, "{}", message(&response));
    assert!(response.endorsement.is_some());
    response
}

/// Busy jiffies of the whole machine (`/proc/stat`) and of this process (`/proc/self/stat`).
fn cpu_jiffies() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let machine = stat
        .lines()
        .next()
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .enumerate()
                // user nice system (idle) (iowait) irq softirq steal
                .filter(|(i, _)| ![3, 4].contains(i) && *i < 8)
                .map(|(_, v)| v.parse::<u64>().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0);
    let own = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let own = own
        .rsplit(')')
        .next()
        .map(|rest| {
            let f: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15; `rest` starts at field 3.
            f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
                + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        })
        .unwrap_or(0);
    (machine, own)
}

/// CPU seconds (own, others) since `start` (jiffies are 1/100 s here).
fn cpu_since(start: (u64, u64)) -> (f64, f64) {
    let (machine, own) = cpu_jiffies();
    let own_s = own.saturating_sub(start.1) as f64 / 100.0;
    let all_s = machine.saturating_sub(start.0) as f64 / 100.0;
    (own_s, (all_s - own_s).max(0.0))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

// ---------------------------------------------------------------------------------------
// 1. Cold start

struct ColdStart {
    install: Vec<Duration>,
    first: Vec<Duration>,
    restart_first: Vec<Duration>,
    engine_new: Duration,
}

async fn cold_start(peer: &Peer, names: &[String]) -> ColdStart {
    let store_root = peer.dir.path().join("cold-store");
    let cache = store_root.join("chaincodes/wasm");
    let wasm = guest("well_behaved");
    let (support, endorser) = peer.support(&store_root, &cache);
    let mut install = Vec::new();
    let mut first = Vec::new();
    let mut ccids = Vec::new();
    for name in names {
        let package = ChaincodePackage::build(
            WASM_TYPE,
            &format!("{name}_1.0"),
            "",
            &[("chaincode.wasm", &wasm)],
        )
        .unwrap();
        let signed = peer.proposal(CHANNEL, name, &[b"put", b"v"], &peer.user1);
        let t = Instant::now();
        let ccid = support.install(&package).await.unwrap();
        approve(&support, name, &ccid);
        install.push(t.elapsed());
        let t = Instant::now();
        endorse_ok(&endorser, signed).await;
        first.push(t.elapsed());
        ccids.push(ccid);
    }
    drop((support, endorser));

    // "Restart": new engine, launcher, support and endorser over the same directories.
    let t = Instant::now();
    let (support, endorser) = peer.support(&store_root, &cache);
    let engine_new = t.elapsed();
    let mut restart_first = Vec::new();
    for (name, ccid) in names.iter().zip(&ccids) {
        approve(&support, name, ccid);
        let signed = peer.proposal(CHANNEL, name, &[b"put", b"v"], &peer.user1);
        let t = Instant::now();
        endorse_ok(&endorser, signed).await;
        restart_first.push(t.elapsed());
    }
    ColdStart {
        install,
        first,
        restart_first,
        engine_new,
    }
}

// ---------------------------------------------------------------------------------------
// 2. Instance creation

/// Answers every request RESPONSE with an empty payload.
struct NoopLink;

impl ShimLink for NoopLink {
    fn request(&mut self, msg: ChaincodeMessage) -> BoxFuture<'_, ChaincodeMessage> {
        Box::pin(async move {
            ChaincodeMessage {
                r#type: Type::Response as i32,
                txid: msg.txid,
                channel_id: msg.channel_id,
                ..ChaincodeMessage::default()
            }
        })
    }
}

/// Mean time per `WasmChaincode::run` over `runs` sequential runs (after 200 untimed).
async fn instance_runs(chaincode: &WasmChaincode, runs: usize) -> Duration {
    let tx = ChaincodeMessage {
        r#type: Type::Transaction as i32,
        payload: ChaincodeInput {
            args: vec![b"put".to_vec(), b"value".to_vec()],
            ..ChaincodeInput::default()
        }
        .encode_to_vec(),
        txid: "tx".to_owned(),
        channel_id: CHANNEL.to_owned(),
        ..ChaincodeMessage::default()
    };
    let limits = TxLimits::default();
    let mut link = NoopLink;
    let mut elapsed = Duration::ZERO;
    for i in 0..runs + 200 {
        let t = Instant::now();
        let answer = chaincode.run("bench", &tx, &limits, &mut link).await;
        if i >= 200 {
            elapsed += t.elapsed();
        }
        assert_eq!(
            answer.r#type,
            Type::Completed as i32,
            "{}",
            String::from_utf8_lossy(&answer.payload)
        );
    }
    elapsed / runs as u32
}

// ---------------------------------------------------------------------------------------
// 3. Warm endorsement

struct Level {
    concurrency: usize,
    n: usize,
    wall: Duration,
    p50: Duration,
    p99: Duration,
    own_cpu: f64,
    other_cpu: f64,
}

/// Sends `proposals` through `endorser` from `concurrency` tasks, each its share in turn.
async fn endorse_level(
    endorser: &Arc<Endorser>,
    proposals: Vec<SignedProposal>,
    concurrency: usize,
) -> Level {
    let n = proposals.len();
    let mut shares: Vec<Vec<SignedProposal>> = (0..concurrency).map(|_| Vec::new()).collect();
    for (i, p) in proposals.into_iter().enumerate() {
        shares[i % concurrency].push(p);
    }
    let cpu = cpu_jiffies();
    let start = Instant::now();
    let tasks: Vec<_> = shares
        .into_iter()
        .map(|share| {
            let endorser = endorser.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(share.len());
                for signed in share {
                    let t = Instant::now();
                    let response = endorser.process_proposal(signed).await.unwrap();
                    latencies.push(t.elapsed());
                    assert_eq!(status(&response), 200, "{}", message(&response));
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(n);
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let wall = start.elapsed();
    let (own_cpu, other_cpu) = cpu_since(cpu);
    latencies.sort();
    Level {
        concurrency,
        n,
        wall,
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        own_cpu,
        other_cpu,
    }
}

// ---------------------------------------------------------------------------------------
// 4. Crypto

/// Median over 5 passes of the mean time of `iters` calls of `f`.
fn time_op(iters: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..iters / 10 {
        f();
    }
    let passes = (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed() / iters as u32
        })
        .collect();
    median(passes)
}

// ---------------------------------------------------------------------------------------

async fn bench() {
    let quick = std::env::var_os("WEFT_BENCH_QUICK").is_some();
    let n = env_usize("WEFT_BENCH_N", if quick { 200 } else { 3000 });
    let runs = env_usize("WEFT_BENCH_RUNS", if quick { 500 } else { 20_000 });
    let colds = env_usize("WEFT_BENCH_COLD", if quick { 2 } else { 5 });
    let levels = [1usize, 16, 64];

    let peer = Peer::new();
    peer.join().await;
    let cold_names: Vec<String> = (0..colds).map(|i| format!("cold{i}")).collect();
    let mut names: Vec<&str> = cold_names.iter().map(String::as_str).collect();
    names.push("basic");
    peer.define(&names);
    // Warm the endorser's MSP caches (User1's identity) on a system chaincode.
    for _ in 0..3 {
        let signed = peer.proposal(
            CHANNEL,
            "qscc",
            &[b"GetChainInfo", CHANNEL.as_bytes()],
            &peer.user1,
        );
        endorse_ok(&peer.base, signed).await;
    }

    // 1. Cold start.
    let cold = cold_start(&peer, &cold_names).await;

    // 2. Instance creation.
    let trivial = wat::parse_str(TRIVIAL_GUEST).unwrap();
    let well_behaved = guest("well_behaved");
    let mut instances = Vec::new();
    for pooling in [true, false] {
        let engine = WasmEngine::new(EngineConfig {
            pooling,
            ..EngineConfig::default()
        })
        .unwrap();
        assert_eq!(engine.is_pooled(), pooling);
        for (label, wasm) in [("trivial", &trivial), ("well_behaved", &well_behaved)] {
            let chaincode = engine.load(wasm).unwrap();
            let per_run = instance_runs(&chaincode, runs).await;
            instances.push((label, pooling, per_run));
        }
    }

    // 3. Warm endorsement.
    let store_root = peer.dir.path().join("warm-store");
    let (support, endorser) = peer.support(&store_root, &store_root.join("chaincodes/wasm"));
    let package = ChaincodePackage::build(
        WASM_TYPE,
        "basic_1.0",
        "",
        &[("chaincode.wasm", &well_behaved)],
    )
    .unwrap();
    let ccid = support.install(&package).await.unwrap();
    approve(&support, "basic", &ccid);
    let endorser = Arc::new(endorser);
    let make = |count: usize| -> Vec<SignedProposal> {
        (0..count)
            .map(|i| {
                let value = format!("value-{i:08}");
                peer.proposal(CHANNEL, "basic", &[b"put", value.as_bytes()], &peer.user1)
            })
            .collect()
    };
    let sample = endorse_ok(&endorser, make(1).pop().unwrap()).await;
    let warmup = if quick { 100 } else { 1000 };
    endorse_level(&endorser, make(warmup), 16).await;
    let mut results = Vec::new();
    for &c in &levels {
        let proposals = make(n);
        results.push(endorse_level(&endorser, proposals, c).await);
    }

    // 4. Crypto, on the messages of a real endorsement.
    let signed = make(1).pop().unwrap();
    let endorsement = sample.endorsement.clone().unwrap();
    let endorsed_message = protoutil::endorsement_signed_data(&sample.payload, &endorsement)
        .data
        .into_owned();
    let client = peer.user1.identity().clone();
    let iters = if quick { 200 } else { 3000 };
    let sign = time_op(iters, || {
        std::hint::black_box(peer.peer_identity.sign(&endorsed_message).unwrap());
    });
    let verify = time_op(iters, || {
        client
            .verify(&signed.proposal_bytes, &signed.signature)
            .unwrap();
    });

    // Report.
    let uname = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("# Weft endorsement bench — {cores} CPUs ({uname}), tokio 2 workers");
    println!();
    println!(
        "## 1. Cold start (well_behaved, {} B wasm; {} chaincodes; ms)",
        well_behaved.len(),
        colds
    );
    println!();
    println!(
        "| chaincode | install (save + compile + cache) | first endorsement | install + first | restart: first endorsement (artifact from disk) |"
    );
    println!("|---|---|---|---|---|");
    for (i, name) in cold_names.iter().enumerate().take(colds) {
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} |",
            name,
            ms(cold.install[i]),
            ms(cold.first[i]),
            ms(cold.install[i] + cold.first[i]),
            ms(cold.restart_first[i]),
        );
    }
    let sums: Vec<Duration> = (0..colds)
        .map(|i| cold.install[i] + cold.first[i])
        .collect();
    println!(
        "| median | {:.2} | {:.2} | {:.2} | {:.2} |",
        ms(median(cold.install.clone())),
        ms(median(cold.first.clone())),
        ms(median(sums)),
        ms(median(cold.restart_first.clone())),
    );
    println!();
    println!(
        "(restart: engine + launcher + support creation, untimed in the column: {:.2} ms)",
        ms(cold.engine_new)
    );
    println!();
    println!("## 2. Instance creation: WasmChaincode::run, no-op ShimLink, {runs} sequential runs");
    println!();
    println!("| guest | pooling | µs per instantiate + run |");
    println!("|---|---|---|");
    for (label, pooling, per_run) in &instances {
        println!(
            "| {label} | {} | {:.2} |",
            if *pooling { "on" } else { "off" },
            us(*per_run)
        );
    }
    for label in ["trivial", "well_behaved"] {
        let get = |p: bool| {
            instances
                .iter()
                .find(|(l, pooled, _)| *l == label && *pooled == p)
                .map(|(_, _, d)| us(*d))
                .unwrap_or(f64::NAN)
        };
        println!("{label}: pooling off / on = {:.2}×", get(false) / get(true));
    }
    println!();
    let crypto_limit = 1.0 / (sign + verify).as_secs_f64();
    println!(
        "## 3. Warm endorsement (well_behaved; {n} proposals per level after {warmup} warm-up)"
    );
    println!();
    println!(
        "| concurrency | proposals/s | p50 ms | p99 ms | CPU µs / endorsement (this process) | CPU s other processes | / crypto limit 1 core | / crypto limit 2 cores |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for l in &results {
        let rate = l.n as f64 / l.wall.as_secs_f64();
        println!(
            "| {} | {:.0} | {:.3} | {:.3} | {:.0} | {:.2} | {:.2} | {:.2} |",
            l.concurrency,
            rate,
            ms(l.p50),
            ms(l.p99),
            l.own_cpu * 1e6 / l.n as f64,
            l.other_cpu,
            rate / crypto_limit,
            rate / (2.0 * crypto_limit),
        );
    }
    println!();
    println!("## 4. ECDSA P-256 (weft_common::crypto, default backend)");
    println!();
    println!(
        "sign ({} B endorsement message) = {:.1} µs, verify ({} B proposal) = {:.1} µs",
        endorsed_message.len(),
        us(sign),
        signed.proposal_bytes.len(),
        us(verify)
    );
    println!(
        "crypto limit = 1 / (sign + verify) = {:.0} endorsements/s per core, {:.0} on 2 cores",
        crypto_limit,
        2.0 * crypto_limit
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench());
}
