//! Three real `orderer` processes in one Raft cluster: while a client broadcasts a
//! steady stream, the leader is killed with SIGKILL. A new leader takes over, every
//! envelope that got SUCCESS is in exactly one block on every surviving node, the
//! restarted node catches up, and all chains are identical.

mod cluster_net;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use cluster_net::{
    ChannelSettings, Network, blocks_until_contains, broadcast, envelope, envelopes_of,
    header_hashes, leader, wait_for_leader, wait_until_ordering,
};
use prost::Message;
use weft_proto::common::Status;

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

/// Broadcasts `count` envelopes of about `size` bytes to node `target` in batches of 20
/// and returns the acknowledged ones (encoded), panicking on any other status.
async fn broadcast_acknowledged(
    net: &Network,
    target: usize,
    label: &str,
    count: usize,
    size: usize,
) -> Vec<Vec<u8>> {
    let signer = net.client();
    let mut client = net.broadcast_client(target);
    let mut acknowledged = Vec::new();
    for start in (0..count).step_by(20) {
        let batch: Vec<_> = (start..(start + 20).min(count))
            .map(|k| {
                let mut data = format!("{label} {k} ").into_bytes();
                data.resize(size.max(data.len()), b'.');
                envelope(&signer, &data)
            })
            .collect();
        let responses = broadcast(&mut client, batch.clone())
            .await
            .expect("broadcast");
        for (response, env) in responses.iter().zip(&batch) {
            assert_eq!(response.status, Status::Success as i32, "{response:?}");
            acknowledged.push(env.encode_to_vec());
        }
    }
    acknowledged
}

/// Every node in `nodes` delivers a chain holding all of `wanted`; returns the chains
/// are identical over their common length and hold every wanted envelope exactly once.
async fn assert_identical_chains(net: &Network, nodes: &[usize], wanted: &[Vec<u8>]) {
    let signer = net.client();
    let mut chains = Vec::new();
    for &i in nodes {
        let mut client = net.broadcast_client(i);
        chains.push((i, blocks_until_contains(&mut client, &signer, wanted).await));
    }
    let shortest = chains.iter().map(|(_, c)| c.len()).min().expect("chains");
    let reference = header_hashes(&chains[0].1[..shortest]);
    for (node, blocks) in &chains {
        assert_eq!(
            header_hashes(&blocks[..shortest]),
            reference,
            "node {node} has a different chain"
        );
        let all = envelopes_of(blocks);
        for env in wanted {
            assert_eq!(
                all.iter().filter(|e| *e == env).count(),
                1,
                "node {node}: an acknowledged envelope is not in exactly one block"
            );
        }
    }
}

/// Five consenters keep ordering with two of them down (the leader among them), and
/// both catch up when they come back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_tolerate_two_failures() {
    let mut net = Network::new(5, ChannelSettings::default());
    net.start_all();
    for i in 0..5 {
        net.join(i);
    }
    let first_leader = wait_for_leader(&mut net, None);
    let other = (first_leader + 1) % 5;
    let survivor = (first_leader + 2) % 5;
    wait_until_ordering(&net, survivor).await;
    let mut acknowledged = broadcast_acknowledged(&net, survivor, "before", 100, 200).await;

    net.kill(first_leader);
    net.kill(other);
    let new_leader = wait_for_leader(&mut net, Some(first_leader));
    assert!(new_leader != first_leader && new_leader != other);
    wait_until_ordering(&net, survivor).await;
    acknowledged.extend(broadcast_acknowledged(&net, survivor, "during", 100, 200).await);
    let running: Vec<usize> = (0..5)
        .filter(|&i| i != first_leader && i != other)
        .collect();
    assert_identical_chains(&net, &running, &acknowledged).await;

    net.start(first_leader);
    net.start(other);
    acknowledged.extend(broadcast_acknowledged(&net, survivor, "after", 40, 200).await);
    assert_identical_chains(&net, &[0, 1, 2, 3, 4], &acknowledged).await;
}

/// A node that was down while the others compacted their Raft log past its position gets
/// a snapshot, pulls the blocks it covers from another consenter, and then follows the
/// log again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_node_catches_up_from_a_snapshot() {
    let mut net = Network::new(
        3,
        ChannelSettings {
            snapshot_interval_size: "32 KB",
            ..Default::default()
        },
    );
    net.start_all();
    for i in 0..3 {
        net.join(i);
    }
    let leader_node = wait_for_leader(&mut net, None);
    let lagging = (leader_node + 1) % 3;
    wait_until_ordering(&net, leader_node).await;
    net.kill(lagging);

    // About 300 KB through the log: several snapshots, the log compacted each time.
    let mut acknowledged = broadcast_acknowledged(&net, leader_node, "while down", 300, 1000).await;
    let running: Vec<usize> = (0..3).filter(|&i| i != lagging).collect();
    assert_identical_chains(&net, &running, &acknowledged).await;

    net.start(lagging);
    assert_identical_chains(&net, &[0, 1, 2], &acknowledged).await;
    assert!(
        net.log(lagging).contains("pulling blocks after a snapshot"),
        "the lagging node caught up without a snapshot; log:\n{}",
        net.log(lagging)
    );

    // Back in the log: new envelopes reach it through Raft as usual.
    acknowledged.extend(broadcast_acknowledged(&net, lagging, "after", 40, 100).await);
    assert_identical_chains(&net, &[0, 1, 2], &acknowledged).await;
}
