//! Three real `orderer` processes in one Raft cluster: while a client broadcasts a
//! steady stream, the leader is killed with SIGKILL. A new leader takes over, every
//! envelope that got SUCCESS is in exactly one block on every surviving node, the
//! restarted node catches up, and all chains are identical.

mod cluster_net;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use cluster_net::{
    ChannelSettings, Network, blocks_holding, broadcast, envelope, wait_until_ordering,
};
use prost::Message;
use weft_common::protoutil;
use weft_proto::common::{Block, Status};

/// The Raft leader among running nodes, from their operations endpoint metrics.
fn leader(net: &mut Network) -> Option<usize> {
    for i in 0..net.nodes.len() {
        if !net.is_running(i) {
            continue;
        }
        let url = format!("127.0.0.1:{}", net.nodes[i].ports.operations);
        let body = http_get(&url, "/metrics").unwrap_or_default();
        if body
            .lines()
            .any(|l| l.starts_with("consensus_etcdraft_is_leader{channel=\"mychannel\"} 1"))
        {
            return Some(i);
        }
    }
    None
}

fn http_get(addr: &str, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    stream.read_to_string(&mut out).ok()?;
    Some(out)
}

fn wait_for_leader(net: &mut Network, not: Option<usize>) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(l) = leader(net)
            && Some(l) != not
        {
            return l;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no leader elected in 30 s");
}

fn envelopes_of(blocks: &[Block]) -> Vec<Vec<u8>> {
    blocks
        .iter()
        .skip(1)
        .flat_map(|b| b.data.as_ref().map(|d| d.data.clone()).unwrap_or_default())
        .collect()
}

fn header_hashes(blocks: &[Block]) -> Vec<[u8; 32]> {
    blocks
        .iter()
        .map(|b| protoutil::block_header_hash(b.header.as_ref().expect("header")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_kill_loses_no_acknowledged_envelope() {
    let mut net = Network::new(3, ChannelSettings::default());
    net.start_all();
    for i in 0..3 {
        net.join(i);
    }
    let first_leader = wait_for_leader(&mut net, None);
    let follower = (first_leader + 1) % 3;
    wait_until_ordering(&net, follower).await;

    let signer = net.client();
    let mut acknowledged: Vec<Vec<u8>> = Vec::new();
    let mut sent = 0usize;
    let mut killed = None;
    let mut clients: Vec<_> = (0..3).map(|i| net.broadcast_client(i)).collect();
    let started = Instant::now();
    // A steady stream in batches of 20 to rotating nodes; kill the leader part-way.
    while started.elapsed() < Duration::from_secs(60)
        && (killed.is_none() || acknowledged.len() < 400)
    {
        if killed.is_none() && sent >= 200 {
            let l = leader(&mut net).unwrap_or(first_leader);
            net.kill(l);
            killed = Some(l);
        }
        let target = (sent / 20) % 3;
        if Some(target) == killed {
            sent += 20;
            continue;
        }
        let batch: Vec<_> = (0..20)
            .map(|k| envelope(&signer, format!("env {}", sent + k).as_bytes()))
            .collect();
        sent += 20;
        if let Ok(responses) = broadcast(&mut clients[target], batch.clone()).await {
            for (response, env) in responses.iter().zip(&batch) {
                if response.status == Status::Success as i32 {
                    acknowledged.push(env.encode_to_vec());
                }
            }
        } else {
            clients[target] = net.broadcast_client(target);
        }
    }
    let killed = killed.expect("the leader was killed");
    assert!(
        acknowledged.len() >= 300,
        "too few acknowledged envelopes: {}",
        acknowledged.len()
    );
    let new_leader = wait_for_leader(&mut net, Some(killed));
    assert_ne!(new_leader, killed);
    eprintln!(
        "sent {sent}, acknowledged {}, killed leader {killed}, new leader {new_leader}",
        acknowledged.len()
    );

    // Every surviving node holds every acknowledged envelope exactly once.
    let survivors: Vec<usize> = (0..3).filter(|&i| i != killed).collect();
    let mut chains = HashMap::new();
    for &i in &survivors {
        let mut client = net.broadcast_client(i);
        // All ordered envelopes are at most `sent` (+ the probe); stop once the acknowledged are in.
        let blocks = blocks_until_contains(&mut client, &signer, &acknowledged).await;
        chains.insert(i, blocks);
    }

    // The killed node restarts and catches up to the same chain.
    net.start(killed);
    let mut client = net.broadcast_client(killed);
    let caught_up = blocks_until_contains(&mut client, &signer, &acknowledged).await;
    chains.insert(killed, caught_up);

    let shortest = chains.values().map(Vec::len).min().expect("chains");
    let reference = header_hashes(&chains[&survivors[0]][..shortest]);
    for (node, blocks) in &chains {
        assert_eq!(
            header_hashes(&blocks[..shortest]),
            reference,
            "node {node} has a different chain"
        );
        let all = envelopes_of(blocks);
        for env in &acknowledged {
            assert_eq!(
                all.iter().filter(|e| *e == env).count(),
                1,
                "node {node}: an acknowledged envelope is not in exactly one block"
            );
        }
    }
}

/// Delivers from block 0 until every envelope of `wanted` is in the chain (30 s at most).
async fn blocks_until_contains(
    client: &mut weft_proto::orderer::atomic_broadcast_client::AtomicBroadcastClient<
        tonic::transport::Channel,
    >,
    signer: &weft_common::msp::SigningIdentity,
    wanted: &[Vec<u8>],
) -> Vec<Block> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut need = wanted.len();
    loop {
        let blocks = tokio::time::timeout(
            Duration::from_secs(30),
            blocks_holding(client, signer, need),
        )
        .await;
        if let Ok(blocks) = blocks {
            let all = envelopes_of(&blocks);
            let missing = wanted.iter().filter(|w| !all.contains(w)).count();
            if missing == 0 {
                return blocks;
            }
            need = all.len() + missing;
        }
        assert!(
            Instant::now() < deadline,
            "acknowledged envelopes never all delivered"
        );
    }
}
