//! Orderer Broadcast → block throughput and latency, on real `orderer` processes.
//!
//! Starts a 1-node and then a 3-node Raft cluster through the `cluster_net` puppeteer of
//! the process tests (TLS, channel joined with `osnadmin`), with Fabric's default batch
//! settings (BatchTimeout 2 s, MaxMessageCount 500, AbsoluteMaxBytes 10 MB,
//! PreferredMaxBytes 2 MB; Raft TickInterval 500 ms, ElectionTick 10). Each run, to one
//! target node (the 1-node leader; the 3-node leader or a 3-node follower):
//!
//! 1. pre-signs `N` endorser-transaction envelopes (1 KiB payload each, tagged with a run
//!    id and an index) before any timing;
//! 2. opens a Deliver stream on the target node (from the newest block on) and `S`
//!    Broadcast streams, each on its own TLS connection;
//! 3. sends the envelopes over the `S` streams, each keeping at most `W` unanswered
//!    envelopes in flight (a closed loop, so latency is not pure client-side queueing);
//! 4. stops the clock when the Deliver stream has received the block holding the last
//!    envelope.
//!
//! `N` is a multiple of MaxMessageCount and the pending batch is empty before each run, so
//! the last block is cut by count, never by the 2 s timeout. After an untimed warm-up,
//! each target gets `R` runs (the 3-node targets alternate).
//!
//! Reported per target: median envelopes/s (and range), blocks cut, send → SUCCESS latency
//! (Weft answers SUCCESS once the envelope is committed in the Raft log) and send → in a
//! delivered block, p50/p99 over every envelope of every run; CPU seconds of the orderers,
//! of this client and of everything else on the machine (other people's builds make runs
//! noisy: that column says how much), from `/proc`.
//!
//! Run by hand in release: `cargo bench -p weft-orderer --bench broadcast_throughput`.
//! `WEFT_BENCH_ENVELOPES`, `WEFT_BENCH_STREAMS`, `WEFT_BENCH_WINDOW` and
//! `WEFT_BENCH_REPEATS` override N (20 000), S (8), W (128) and R (3);
//! `WEFT_BENCH_METRICS=1` prints the nodes' Raft and Broadcast metric totals after each
//! run. Results go to BENCHMARKS.md.

#[path = "../tests/cluster_net/mod.rs"]
mod cluster_net;

use std::time::{Duration, Instant};

use cluster_net::{
    ChannelSettings, Network, blocks_holding, seek_envelope, specified, wait_until_ordering,
};
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use weft_proto::common::{Envelope, Payload, Status};
use weft_proto::orderer::{SeekNewest, SeekPosition, deliver_response, seek_info, seek_position};

/// Fabric's default `BatchSize.MaxMessageCount`; runs are whole multiples of it.
const MAX_MESSAGE_COUNT: u32 = 500;
/// Size of each envelope's `Payload.data`.
const PAYLOAD_BYTES: usize = 1024;
/// Envelopes ordered (untimed) on each network before measuring.
const WARMUP: usize = 2 * MAX_MESSAGE_COUNT as usize;

/// Fabric's defaults (sampleconfig `configtx.yaml`).
fn fabric_defaults() -> ChannelSettings {
    ChannelSettings {
        batch_timeout: "2s",
        max_message_count: MAX_MESSAGE_COUNT,
        absolute_max_bytes: "10 MB",
        preferred_max_bytes: "2 MB",
        tick_interval: "500ms",
        election_tick: 10,
        snapshot_interval_size: "16 MB",
    }
}

/// Load shape of one run.
#[derive(Debug, Clone, Copy)]
struct Load {
    envelopes: usize,
    repeats: usize,
    streams: usize,
    window: usize,
}

impl Load {
    fn from_env() -> Self {
        let var = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let per_block = MAX_MESSAGE_COUNT as usize;
        let envelopes = var("WEFT_BENCH_ENVELOPES", 20_000).div_ceil(per_block) * per_block;
        Self {
            envelopes,
            repeats: var("WEFT_BENCH_REPEATS", 3).max(1),
            streams: var("WEFT_BENCH_STREAMS", 8).max(1),
            window: var("WEFT_BENCH_WINDOW", 128).max(1),
        }
    }
}

/// What one run measured.
#[derive(Debug)]
struct RunResult {
    envelopes: usize,
    failed: usize,
    blocks: usize,
    elapsed: Duration,
    /// Send → SUCCESS, one per acknowledged envelope.
    acked: Vec<Duration>,
    /// Send → its block received on the Deliver stream, one per delivered envelope.
    in_block: Vec<Duration>,
    /// Resources used from the first send to the last block.
    used: Counters,
}

impl RunResult {
    fn per_second(&self) -> f64 {
        (self.envelopes - self.failed) as f64 / self.elapsed.as_secs_f64()
    }
}

/// The repeated runs of one cluster size and target.
#[derive(Debug)]
struct Variant {
    label: &'static str,
    runs: Vec<RunResult>,
}

impl Variant {
    fn new(label: &'static str) -> Self {
        Self {
            label,
            runs: Vec::new(),
        }
    }

    fn median_per_second(&self) -> f64 {
        let mut rates: Vec<f64> = self.runs.iter().map(RunResult::per_second).collect();
        rates.sort_by(f64::total_cmp);
        rates.get(rates.len() / 2).copied().unwrap_or(0.0)
    }
}

fn main() {
    let load = Load::from_env();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let variants = runtime.block_on(run_all(load));
    print_table(load, &variants);
}

async fn run_all(load: Load) -> Vec<Variant> {
    let mut run_id = 0u32;
    let mut next_run = || {
        run_id += 1;
        run_id
    };

    eprintln!("1 node: starting");
    let mut one = Variant::new("1 node, to the leader");
    {
        let net = start_network(1);
        let leader = wait_for_leader(&net).await;
        settle(&net, &[leader]).await;
        measure(&net, leader, next_run(), WARMUP, load, "warm-up").await;
        for _ in 0..load.repeats {
            let run = measure(&net, leader, next_run(), load.envelopes, load, one.label).await;
            one.runs.push(run);
        }
    }

    eprintln!("3 nodes: starting");
    let mut to_leader = Variant::new("3 nodes, to the leader");
    let mut to_follower = Variant::new("3 nodes, to a follower");
    {
        let net = start_network(3);
        let leader = wait_for_leader(&net).await;
        let follower = (leader + 1) % 3;
        settle(&net, &[leader, follower]).await;
        measure(&net, leader, next_run(), WARMUP, load, "warm-up").await;
        // Alternate the targets so that background load hits both alike.
        for _ in 0..load.repeats {
            for (variant, target) in [(&mut to_leader, leader), (&mut to_follower, follower)] {
                let run = measure(
                    &net,
                    target,
                    next_run(),
                    load.envelopes,
                    load,
                    variant.label,
                )
                .await;
                variant.runs.push(run);
            }
        }
        let after = wait_for_leader(&net).await;
        if after != leader {
            eprintln!(
                "warning: leadership moved from orderer{leader} to orderer{after} during the runs"
            );
        }
    }
    vec![one, to_leader, to_follower]
}

fn start_network(nodes: usize) -> Network {
    let mut net = Network::new(nodes, fabric_defaults());
    net.start_all();
    for i in 0..nodes {
        net.join(i);
    }
    net
}

/// Orders a probe through each of `targets`, then waits until the probes are in blocks
/// (cut by the batch timeout), so that the next run starts with an empty pending batch.
async fn settle(net: &Network, targets: &[usize]) {
    let mut probes = 0;
    for &i in targets {
        probes += wait_until_ordering(net, i).await;
    }
    let mut client = net.broadcast_client(targets[0]);
    blocks_holding(&mut client, &net.client(), probes).await;
}

/// The Raft leader, from the nodes' `consensus_etcdraft_is_leader` metric (60 s at most).
async fn wait_for_leader(net: &Network) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        for (i, node) in net.nodes.iter().enumerate() {
            let addr = format!("127.0.0.1:{}", node.ports.operations);
            let body = tokio::task::spawn_blocking(move || metrics_of(&addr))
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            if body
                .lines()
                .any(|l| l.starts_with("consensus_etcdraft_is_leader{channel=\"mychannel\"} 1"))
            {
                return i;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no Raft leader in 60 s");
}

/// `GET /metrics` on an operations endpoint (plain HTTP/1.1).
fn metrics_of(addr: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut body = String::new();
    stream.read_to_string(&mut body).ok()?;
    Some(body)
}

/// `Payload.data` of envelope `index` of run `run_id`: both tags, then filler.
fn tagged_payload(run_id: u32, index: u32) -> Vec<u8> {
    let mut data = Vec::with_capacity(PAYLOAD_BYTES);
    data.extend_from_slice(&run_id.to_le_bytes());
    data.extend_from_slice(&index.to_le_bytes());
    data.resize(PAYLOAD_BYTES, 0x5a);
    data
}

/// The (run id, index) tags of a block entry, if it is one of ours.
fn tags_of(entry: &[u8]) -> Option<(u32, u32)> {
    let envelope = Envelope::decode(entry).ok()?;
    let payload = Payload::decode(envelope.payload.as_slice()).ok()?;
    let run = u32::from_le_bytes(payload.data.get(0..4)?.try_into().ok()?);
    let index = u32::from_le_bytes(payload.data.get(4..8)?.try_into().ok()?);
    Some((run, index))
}

/// One delivered block: when it arrived and which envelopes of the run it holds.
struct Delivered {
    at: Instant,
    indices: Vec<u32>,
}

/// Broadcasts `count` envelopes to node `target` and follows them into blocks there.
async fn measure(
    net: &Network,
    target: usize,
    run_id: u32,
    count: usize,
    load: Load,
    label: &str,
) -> RunResult {
    let signer = net.client();
    let envelopes: Vec<Envelope> = (0..count)
        .map(|i| cluster_net::envelope(&signer, &tagged_payload(run_id, i as u32)))
        .collect();

    // The Deliver stream, from the newest block on, live before the clock starts.
    let newest = SeekPosition {
        r#type: Some(seek_position::Type::Newest(SeekNewest {})),
    };
    let seek = seek_envelope(
        &signer,
        newest,
        specified(u64::MAX),
        seek_info::SeekBehavior::BlockUntilReady,
    );
    let mut deliver = net
        .broadcast_client(target)
        .deliver(tokio_stream::iter(vec![seek]))
        .await
        .expect("deliver")
        .into_inner();
    let first = deliver.next().await;
    assert!(
        matches!(
            first,
            Some(Ok(ref r)) if matches!(r.r#type, Some(deliver_response::Type::Block(_)))
        ),
        "deliver did not start with the newest block: {first:?}"
    );
    let (blocks_tx, mut blocks_rx) = mpsc::unbounded_channel::<Delivered>();
    let deliver_task = tokio::spawn(async move {
        while let Some(Ok(response)) = deliver.next().await {
            let at = Instant::now();
            if let Some(deliver_response::Type::Block(block)) = response.r#type {
                let indices = block
                    .data
                    .iter()
                    .flat_map(|d| d.data.iter())
                    .filter_map(|entry| tags_of(entry))
                    .filter(|&(run, _)| run == run_id)
                    .map(|(_, index)| index)
                    .collect();
                if blocks_tx.send(Delivered { at, indices }).is_err() {
                    return;
                }
            }
        }
    });

    // The Broadcast streams, opened before the clock starts.
    let per_stream = count.div_ceil(load.streams);
    let mut chunks = Vec::new();
    let mut rest = envelopes.into_iter();
    for s in 0..load.streams {
        let chunk: Vec<Envelope> = rest.by_ref().take(per_stream).collect();
        if chunk.is_empty() {
            break;
        }
        let (tx, rx) = mpsc::channel::<Envelope>(load.window);
        let responses = net
            .broadcast_client(target)
            .broadcast(ReceiverStream::new(rx))
            .await
            .expect("broadcast")
            .into_inner();
        chunks.push((s * per_stream, chunk, tx, responses));
    }

    let before = Counters::now();
    let started = Instant::now();
    let mut senders = Vec::new();
    for (offset, chunk, tx, mut responses) in chunks {
        let window = load.window;
        senders.push(tokio::spawn(async move {
            let len = chunk.len();
            let mut sent_at = Vec::with_capacity(len);
            let mut answers: Vec<(Instant, i32)> = Vec::with_capacity(len);
            let mut pending = chunk.into_iter();
            while answers.len() < len {
                while sent_at.len() < len && sent_at.len() - answers.len() < window {
                    let envelope = pending.next().expect("an envelope left to send");
                    sent_at.push(Instant::now());
                    tx.try_send(envelope).expect("room in the window");
                }
                match tokio::time::timeout(Duration::from_secs(60), responses.next()).await {
                    Ok(Some(Ok(response))) => answers.push((Instant::now(), response.status)),
                    other => {
                        eprintln!("broadcast stream ended early: {other:?}");
                        break;
                    }
                }
            }
            (offset, sent_at, answers)
        }));
    }

    let mut sent_at = vec![None; count];
    let mut acked = vec![None; count];
    let mut failed = 0;
    for sender in senders {
        let (offset, sends, answers) = sender.await.expect("broadcast task");
        for (k, at) in sends.into_iter().enumerate() {
            sent_at[offset + k] = Some(at);
        }
        failed += not_successful(&answers, per_stream.min(count - offset));
        for (k, (at, status)) in answers.into_iter().enumerate() {
            if status == Status::Success as i32 {
                acked[offset + k] = Some(at);
            }
        }
    }
    let successes = count - failed;

    let mut delivered_at = vec![None; count];
    let mut delivered = 0;
    let mut blocks = 0;
    while delivered < successes {
        match tokio::time::timeout(Duration::from_secs(30), blocks_rx.recv()).await {
            Ok(Some(block)) => {
                if !block.indices.is_empty() {
                    blocks += 1;
                }
                for index in block.indices {
                    let slot = &mut delivered_at[index as usize];
                    if slot.is_none() {
                        *slot = Some(block.at);
                        delivered += 1;
                    }
                }
            }
            _ => {
                eprintln!("only {delivered} of {successes} acknowledged envelopes delivered");
                break;
            }
        }
    }
    let finished = delivered_at
        .iter()
        .flatten()
        .max()
        .copied()
        .unwrap_or_else(Instant::now);
    let used = Counters::now().since(&before);
    deliver_task.abort();

    let result = RunResult {
        envelopes: count,
        failed,
        blocks,
        elapsed: finished - started,
        acked: latencies(&sent_at, &acked),
        in_block: latencies(&sent_at, &delivered_at),
        used,
    };
    eprintln!(
        "{label}: {count} envelopes in {:.2?} ({:.0}/s), {blocks} blocks, {failed} failed, \
         in block p50 {:.0?}, CPU s {:.1} orderers / {:.1} client / {:.1} other processes, \
         iowait {:.1} s, {:.0} MB written to disk",
        result.elapsed,
        result.per_second(),
        percentile(&sorted(result.in_block.clone()), 0.5),
        result.used.orderers,
        result.used.client,
        result.used.others(),
        result.used.iowait,
        result.used.disk_bytes / 1e6,
    );
    if std::env::var_os("WEFT_BENCH_METRICS").is_some() {
        for (i, node) in net.nodes.iter().enumerate() {
            let addr = format!("127.0.0.1:{}", node.ports.operations);
            let body = metrics_of(&addr).unwrap_or_default();
            for line in body.lines().filter(|l| is_diagnostic_metric(l)) {
                eprintln!("  orderer{i}: {line}");
            }
        }
    }
    result
}

/// Totals worth a look when a run is slow: time persisting Raft data, validating and
/// enqueueing envelopes, filling blocks, and blocks cut by reason.
fn is_diagnostic_metric(line: &str) -> bool {
    let histograms = [
        "consensus_etcdraft_data_persist_duration",
        "broadcast_validate_duration",
        "broadcast_enqueue_duration",
        "blockcutter_block_fill_duration",
    ];
    let name = line.split(['{', ' ']).next().unwrap_or_default();
    histograms
        .iter()
        .any(|h| name == format!("{h}_sum") || name == format!("{h}_count"))
        || name == "weft_blockcutter_blocks_cut"
}

/// CPU and disk counters of the orderers, this client and the whole machine.
#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    /// CPU seconds of the orderer processes.
    orderers: f64,
    /// CPU seconds of this process.
    client: f64,
    /// Busy CPU seconds of the whole machine (every process, kernel included).
    machine: f64,
    /// Seconds the CPUs idled waiting for I/O.
    iowait: f64,
    /// Bytes written to the block devices (the whole machine).
    disk_bytes: f64,
}

impl Counters {
    fn now() -> Self {
        let (machine, iowait) = machine_cpu_seconds();
        Self {
            orderers: orderer_cpu_seconds(),
            client: own_cpu_seconds(),
            machine,
            iowait,
            disk_bytes: disk_bytes_written() as f64,
        }
    }

    fn since(&self, earlier: &Self) -> Self {
        Self {
            orderers: self.orderers - earlier.orderers,
            client: self.client - earlier.client,
            machine: self.machine - earlier.machine,
            iowait: self.iowait - earlier.iowait,
            disk_bytes: self.disk_bytes - earlier.disk_bytes,
        }
    }

    /// CPU seconds of everything else on the machine (other builds, the kernel).
    fn others(&self) -> f64 {
        (self.machine - self.orderers - self.client).max(0.0)
    }
}

/// Busy and iowait CPU seconds of the machine since boot, from `/proc/stat`.
fn machine_cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let busy = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&i| ticks.get(i))
        .sum::<f64>();
    (busy / 100.0, ticks.get(4).copied().unwrap_or(0.0) / 100.0)
}

/// Bytes written to whole block devices since boot, from `/proc/diskstats`.
fn disk_bytes_written() -> u64 {
    let stats = std::fs::read_to_string("/proc/diskstats").unwrap_or_default();
    stats
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let name = fields.get(2)?;
            // Whole disks only (vda, sda, nvme0n1), not partitions or loop devices.
            let whole = std::path::Path::new("/sys/block")
                .join(name)
                .join("device")
                .exists();
            let sectors: u64 = fields.get(9)?.parse().ok()?;
            whole.then_some(sectors * 512)
        })
        .sum()
}

/// How many envelopes of a stream of `len` got no SUCCESS answer.
fn not_successful(answers: &[(Instant, i32)], len: usize) -> usize {
    len - answers
        .iter()
        .filter(|(_, status)| *status == Status::Success as i32)
        .count()
}

/// `end - start` for every envelope that has both.
fn latencies(start: &[Option<Instant>], end: &[Option<Instant>]) -> Vec<Duration> {
    start
        .iter()
        .zip(end)
        .filter_map(|(s, e)| Some(e.as_ref()?.saturating_duration_since(*s.as_ref()?)))
        .collect()
}

fn sorted(mut durations: Vec<Duration>) -> Vec<Duration> {
    durations.sort_unstable();
    durations
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// User + system CPU seconds of a process, from `/proc/<pid>/stat` (Linux; 100 ticks/s).
fn cpu_seconds_of(pid: &str) -> Option<(u32, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name: state, ppid, …, utime (12th), stime.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((ppid, (utime + stime) / 100.0))
}

fn own_cpu_seconds() -> f64 {
    cpu_seconds_of("self").map_or(0.0, |(_, s)| s)
}

/// CPU seconds of this process's children: the running orderer nodes.
fn orderer_cpu_seconds() -> f64 {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|pid| cpu_seconds_of(&pid))
        .filter(|&(ppid, _)| ppid == me)
        .map(|(_, seconds)| seconds)
        .sum()
}

fn millis(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn print_table(load: Load, variants: &[Variant]) {
    println!(
        "\n{} × {} envelopes ({PAYLOAD_BYTES} B payload) per row, {} Broadcast streams × {} in \
         flight; BatchTimeout 2s, MaxMessageCount {MAX_MESSAGE_COUNT}, AbsoluteMaxBytes 10 MB, \
         PreferredMaxBytes 2 MB\n",
        load.repeats, load.envelopes, load.streams, load.window
    );
    println!(
        "| cluster, Broadcast to | envelopes/s median (min–max) | blocks per run | \
         send → SUCCESS p50 / p99 | send → in delivered block p50 / p99 | \
         CPU s per run: orderers + client (other processes) | disk MB written per run |"
    );
    println!("|---|---|---|---|---|---|---|");
    for v in variants {
        let rates: Vec<f64> = v.runs.iter().map(RunResult::per_second).collect();
        let min = rates.iter().copied().fold(f64::INFINITY, f64::min);
        let max = rates.iter().copied().fold(0.0, f64::max);
        let runs = v.runs.len().max(1) as f64;
        let mean = |f: fn(&RunResult) -> f64| v.runs.iter().map(f).sum::<f64>() / runs;
        let acked = sorted(
            v.runs
                .iter()
                .flat_map(|r| r.acked.iter().copied())
                .collect(),
        );
        let in_block = sorted(
            v.runs
                .iter()
                .flat_map(|r| r.in_block.iter().copied())
                .collect(),
        );
        let blocks: Vec<String> = v.runs.iter().map(|r| r.blocks.to_string()).collect();
        let failed: usize = v.runs.iter().map(|r| r.failed).sum();
        println!(
            "| {} | {:.0} ({:.0}–{:.0}) | {} | {} / {} | {} / {} | {:.1} + {:.1} ({:.1}) | {:.0} |{}",
            v.label,
            v.median_per_second(),
            min,
            max,
            blocks.join(", "),
            millis(percentile(&acked, 0.50)),
            millis(percentile(&acked, 0.99)),
            millis(percentile(&in_block, 0.50)),
            millis(percentile(&in_block, 0.99)),
            mean(|r| r.used.orderers),
            mean(|r| r.used.client),
            mean(|r| r.used.others()),
            mean(|r| r.used.disk_bytes) / 1e6,
            if failed > 0 {
                format!(" {failed} not SUCCESS")
            } else {
                String::new()
            }
        );
    }
    if let [one, three, ..] = variants {
        println!(
            "\n3 nodes / 1 node, to the leader (medians): {:.2}× throughput",
            three.median_per_second() / one.median_per_second()
        );
    }
}
