//! Peer validation + commit throughput, on a real RocksDB ledger.
//!
//! A three-org channel (Org1..Org3, one peer and one client each) made with `cryptogen`
//! and `configtxgen` from `tools/testdata/configtx.yaml` (its `TwoOrgsApplicationGenesis`
//! profile with a third org added), and chaincode `bench` defined in block 0 (the genesis
//! block, committed with the definition's `_lifecycle` writes) with the endorsement policy
//! of the configuration:
//!
//! | endorsements | policy |
//! |---|---|
//! | 1 | `OR('Org1MSP.peer','Org2MSP.peer','Org3MSP.peer')`, endorsed by Org1's peer |
//! | 2 | `AND('Org1MSP.peer','Org2MSP.peer')` |
//! | 3 | `AND('Org1MSP.peer','Org2MSP.peer','Org3MSP.peer')` |
//!
//! Block 1 seeds one key per transaction to come. Every transaction (proposal by Org1's
//! client, real endorsements, signed envelope; all built and signed before any timing)
//! reads its own seeded key at its committed version, writes it, and every other one also
//! writes a new key: 1–2 writes, 1 read, all VALID, no MVCC conflict.
//!
//! After an untimed warm-up (10 runs of a small workload), each run opens a fresh ledger
//! in a temporary directory, commits blocks 0 and 1, does one untimed validation of the
//! first timed block (warms the MSP identity caches, as on a running peer), then for each
//! block: `BlockValidator::validate` against the ledger, write the TRANSACTIONS_FILTER,
//! `Ledger::commit` — the path of `Channel::commit_block`.
//! Validation and commit are timed separately. Each (block size, endorsements, threads,
//! sync) run is repeated `R` times, round-robin over the modes; the run with the median
//! total time is reported, with the best run's tx/s and the CPU time other processes used.
//!
//! Signature share: every transaction costs 1 + E ECDSA P-256 verifications (the creator's
//! envelope signature, then each endorsement, de-duplicated and verified once; identity
//! deserialization and MSP validation are cached). The same verifications (same
//! identities, messages and signatures as the first timed block) are timed alone with
//! `weft_common::msp::Identity::verify`, single-threaded, in the same process; the share
//! is `verifications per block × time per verification / time per block`.
//!
//! Run by hand in release: `cargo bench -p weft-peer --bench validate_commit`.
//! `WEFT_BENCH_REPEATS` (5) overrides R; `WEFT_BENCH_QUICK=1` runs one small config.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use prost::Message;
use weft_common::blockstore::BlockStoreOptions;
use weft_common::channelconfig::ChannelConfig;
use weft_common::crypto::Signer;
use weft_common::msp::{Identity, MspDir, SigningIdentity};
use weft_common::policy::dsl;
use weft_common::protoutil::{
    block_header_hash, build_block, create_chaincode_proposal, create_proposal_response_payload,
    endorse, endorsement_proposal_hash, set_transactions_filter, sign_envelope_payload,
    transaction_envelope,
};
use weft_peer::ledger::{KeyWrite, Ledger, NsUpdates, TxUpdates};
use weft_peer::validation::BlockValidator;
use weft_peer::validation::definitions::{
    ChaincodeDefinition, definitions_tx_updates, signature_policy,
};
use weft_proto::common::{Block, ChannelHeader, Header};
use weft_proto::kvrwset::{KvRead, KvWrite, KvrwSet, Version as ReadVersion};
use weft_proto::protos::{
    ChaincodeAction, ChaincodeEndorsedAction, ChaincodeId, ChaincodeProposalPayload, Response,
    TxValidationCode,
};
use weft_proto::rwset::{NsReadWriteSet, TxReadWriteSet};
use weft_tools::configtxgen;
use weft_tools::cryptogen::{self, CryptoConfig};

const CHANNEL: &str = "mychannel";
const CHAINCODE: &str = "bench";
const VALUE_LEN: usize = 100;

const CRYPTO_CONFIG: &str = r"
OrdererOrgs:
  - Name: Orderer
    Domain: example.com
    EnableNodeOUs: true
    Specs:
      - Hostname: orderer
PeerOrgs:
  - Name: Org1
    Domain: org1.example.com
    EnableNodeOUs: true
    Template:
      Count: 1
    Users:
      Count: 1
  - Name: Org2
    Domain: org2.example.com
    EnableNodeOUs: true
    Template:
      Count: 1
    Users:
      Count: 1
  - Name: Org3
    Domain: org3.example.com
    EnableNodeOUs: true
    Template:
      Count: 1
    Users:
      Count: 1
";

/// The channel and the identities that sign.
struct Net {
    _dir: tempfile::TempDir,
    genesis: Block,
    channel: ChannelConfig,
    client: SigningIdentity,
    peers: Vec<SigningIdentity>,
}

/// `tools/testdata/configtx.yaml` with Org3 (a copy of Org2) in the application.
fn three_org_configtx(original: &str) -> String {
    let start = original.find("  - &Org2\n").unwrap();
    let end = original.find("\nCapabilities:").unwrap();
    let org3 = original[start..end]
        .replace("Org2", "Org3")
        .replace("org2", "org3")
        .replace("9051", "11051");
    let mut out = String::new();
    out.push_str(&original[..end]);
    out.push('\n');
    out.push_str(&org3);
    out.push_str(&original[end..]);
    let with_org3 = out.replace(
        "        - *Org1\n        - *Org2\n      Capabilities: *ApplicationCapabilities",
        "        - *Org1\n        - *Org2\n        - *Org3\n      Capabilities: *ApplicationCapabilities",
    );
    assert!(with_org3.contains("- *Org3"), "profile not patched");
    with_org3
}

fn net() -> Net {
    let dir = tempfile::tempdir().unwrap();
    let orgs = dir.path().join("organizations");
    cryptogen::generate(&CryptoConfig::from_yaml(CRYPTO_CONFIG).unwrap(), &orgs).unwrap();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let original =
        std::fs::read_to_string(manifest.join("../tools/testdata/configtx.yaml")).unwrap();
    std::fs::write(
        dir.path().join("configtx.yaml"),
        three_org_configtx(&original),
    )
    .unwrap();
    let top = configtxgen::TopLevel::load(dir.path()).unwrap();
    let profile = top.profile("TwoOrgsApplicationGenesis").unwrap();
    let genesis = configtxgen::genesis_block(&profile, CHANNEL).unwrap();
    let channel = ChannelConfig::from_block(&genesis).unwrap();
    let load = |rel: String, mspid: &str| {
        MspDir::load(&orgs.join(rel).join("msp"), mspid)
            .unwrap()
            .signing_identity
            .unwrap()
    };
    let org = |n: u32| format!("peerOrganizations/org{n}.example.com");
    let client = load(
        format!("{}/users/User1@org1.example.com", org(1)),
        "Org1MSP",
    );
    let peers = (1..=3)
        .map(|n| {
            load(
                format!("{}/peers/peer0.org{n}.example.com", org(n)),
                &format!("Org{n}MSP"),
            )
        })
        .collect();
    Net {
        _dir: dir,
        genesis,
        channel,
        client,
        peers,
    }
}

/// One signature the validator verifies: signer, message, signature.
struct Verification {
    identity: Identity,
    message: Vec<u8>,
    signature: Vec<u8>,
}

/// A signed endorser transaction reading `seeded` at (1, 0) and writing it (and `extra`).
fn transaction(
    net: &Net,
    endorsers: usize,
    seeded: &str,
    extra: Option<&str>,
    out: &mut Vec<Verification>,
) -> Vec<u8> {
    let value = |key: &str| {
        let mut v = key.as_bytes().to_vec();
        v.resize(VALUE_LEN, b'.');
        v
    };
    let mut writes = vec![KvWrite {
        key: seeded.to_owned(),
        is_delete: false,
        value: value(seeded),
    }];
    if let Some(extra) = extra {
        writes.push(KvWrite {
            key: extra.to_owned(),
            is_delete: false,
            value: value(extra),
        });
    }
    let rwset = TxReadWriteSet {
        data_model: 0,
        ns_rwset: vec![NsReadWriteSet {
            namespace: CHAINCODE.to_owned(),
            rwset: KvrwSet {
                reads: vec![KvRead {
                    key: seeded.to_owned(),
                    version: Some(ReadVersion {
                        block_num: 1,
                        tx_num: 0,
                    }),
                }],
                writes,
                ..KvrwSet::default()
            }
            .encode_to_vec(),
            collection_hashed_rwset: Vec::new(),
        }],
    };
    let (proposal, _) = create_chaincode_proposal(
        CHANNEL,
        CHAINCODE,
        vec![b"invoke".to_vec(), seeded.as_bytes().to_vec()],
        HashMap::new(),
        net.client.creator(),
        None,
    );
    let header = Header::decode(proposal.header.as_slice()).unwrap();
    let _ = ChannelHeader::decode(header.channel_header.as_slice()).unwrap();
    let payload = ChaincodeProposalPayload::decode(proposal.payload.as_slice()).unwrap();
    let proposal_hash = endorsement_proposal_hash(
        &header.channel_header,
        &header.signature_header,
        &proposal.payload,
    )
    .unwrap();
    let action = ChaincodeAction {
        results: rwset.encode_to_vec(),
        events: Vec::new(),
        response: Some(Response {
            status: 200,
            message: String::new(),
            payload: b"ok".to_vec(),
        }),
        chaincode_id: Some(ChaincodeId {
            name: CHAINCODE.to_owned(),
            version: "1.0".to_owned(),
            ..Default::default()
        }),
    };
    let prp = create_proposal_response_payload(&proposal_hash, &action);
    let endorsements: Vec<_> = net.peers[..endorsers]
        .iter()
        .map(|peer| {
            let e = endorse(&prp, peer).unwrap();
            out.push(Verification {
                identity: peer.identity().clone(),
                message: [prp.as_slice(), e.endorser.as_slice()].concat(),
                signature: e.signature.clone(),
            });
            e
        })
        .collect();
    let unsigned = transaction_envelope(
        &header,
        &payload,
        ChaincodeEndorsedAction {
            proposal_response_payload: prp,
            endorsements,
        },
    );
    let envelope = sign_envelope_payload(unsigned.payload, &net.client).unwrap();
    out.push(Verification {
        identity: net.client.identity().clone(),
        message: envelope.payload.clone(),
        signature: envelope.signature.clone(),
    });
    envelope.encode_to_vec()
}

/// Everything a run commits: block 0 and 1 with their updates, then the timed blocks.
struct Workload {
    block_size: usize,
    setup: Vec<(Block, Vec<TxUpdates>)>,
    blocks: Vec<Block>,
    /// The signatures of the first timed block.
    verifications: Vec<Verification>,
}

fn policy(endorsements: usize) -> &'static str {
    match endorsements {
        1 => "OR('Org1MSP.peer','Org2MSP.peer','Org3MSP.peer')",
        2 => "AND('Org1MSP.peer','Org2MSP.peer')",
        _ => "AND('Org1MSP.peer','Org2MSP.peer','Org3MSP.peer')",
    }
}

fn workload(net: &Net, block_size: usize, blocks: usize, endorsements: usize) -> Workload {
    let definition = ChaincodeDefinition::new(
        1,
        "1.0",
        &signature_policy(dsl::parse(policy(endorsements)).unwrap()),
    );
    let mut genesis = net.genesis.clone();
    set_transactions_filter(&mut genesis, vec![TxValidationCode::Valid as u8]);
    let define = definitions_tx_updates(0, "define", &[(CHAINCODE, &definition)]);

    let total = block_size * blocks;
    let seeded = |g: usize| format!("key{g:08}");
    let mut seed_block = build_block(
        1,
        block_header_hash(genesis.header.as_ref().unwrap()).to_vec(),
        vec![b"seed".to_vec()],
    );
    set_transactions_filter(&mut seed_block, vec![TxValidationCode::Valid as u8]);
    let seed = TxUpdates {
        tx_num: 0,
        txid: "seed".to_owned(),
        namespaces: vec![NsUpdates {
            namespace: CHAINCODE.to_owned(),
            writes: (0..total)
                .map(|g| KeyWrite {
                    key: seeded(g),
                    value: Some(vec![b's'; VALUE_LEN]),
                })
                .collect(),
            metadata_writes: Vec::new(),
        }],
        ..TxUpdates::default()
    };
    let mut previous = block_header_hash(seed_block.header.as_ref().unwrap()).to_vec();
    let mut verifications = Vec::new();
    let mut scratch = Vec::new();
    let mut out = Vec::with_capacity(blocks);
    for b in 0..blocks {
        let sink = if b == 0 {
            &mut verifications
        } else {
            &mut scratch
        };
        let envelopes = (0..block_size)
            .map(|i| {
                let g = b * block_size + i;
                let extra = g.is_multiple_of(2).then(|| format!("new{g:08}"));
                transaction(net, endorsements, &seeded(g), extra.as_deref(), sink)
            })
            .collect();
        scratch.clear();
        let block = build_block(2 + b as u64, previous, envelopes);
        previous = block_header_hash(block.header.as_ref().unwrap()).to_vec();
        out.push(block);
    }
    Workload {
        block_size,
        setup: vec![(genesis, vec![define]), (seed_block, vec![seed])],
        blocks: out,
        verifications,
    }
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

#[derive(Debug, Clone, Copy)]
struct RunResult {
    validate: Duration,
    commit: Duration,
    /// CPU seconds used by other processes during the run.
    other_cpu: f64,
}

impl RunResult {
    fn total(&self) -> Duration {
        self.validate + self.commit
    }
}

fn run(net: &Net, w: &Workload, threads: usize, sync: bool) -> RunResult {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open_with(dir.path(), BlockStoreOptions { sync }).unwrap();
    for (block, updates) in &w.setup {
        ledger.commit(block, updates).unwrap();
    }
    let validator = BlockValidator::with_parallelism(threads);
    // Untimed: warms the MSP caches (a running peer has them warm) and the code paths.
    let warm = validator
        .validate(&w.blocks[0], &net.channel, &ledger)
        .unwrap();
    assert!(
        warm.codes.iter().all(|c| *c == TxValidationCode::Valid),
        "warm-up block not all VALID: {:?}",
        warm.codes.iter().find(|c| **c != TxValidationCode::Valid)
    );
    let tick = 100.0; // USER_HZ
    let (m0, s0) = cpu_jiffies();
    let mut validate = Duration::ZERO;
    let mut commit = Duration::ZERO;
    for block in &w.blocks {
        let mut block = block.clone();
        let t0 = Instant::now();
        let validated = validator.validate(&block, &net.channel, &ledger).unwrap();
        let t1 = Instant::now();
        validated.write_filter(&mut block);
        ledger.commit(&block, &validated.updates).unwrap();
        let t2 = Instant::now();
        validate += t1 - t0;
        commit += t2 - t1;
        assert_eq!(validated.updates.len(), w.block_size, "not all VALID");
    }
    let (m1, s1) = cpu_jiffies();
    RunResult {
        validate,
        commit,
        other_cpu: (m1.saturating_sub(m0)).saturating_sub(s1.saturating_sub(s0)) as f64 / tick,
    }
}

/// Median time of one `Identity::verify` over the workload's first block's signatures.
fn verify_cost(w: &Workload) -> (Duration, usize) {
    let n = w.verifications.len();
    let mut samples = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        for v in &w.verifications {
            v.identity.verify(&v.message, &v.signature).unwrap();
        }
        samples.push(t.elapsed() / n as u32);
    }
    samples.sort();
    (samples[samples.len() / 2], n)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let repeats: usize = std::env::var("WEFT_BENCH_REPEATS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1);
    let quick = std::env::var_os("WEFT_BENCH_QUICK").is_some();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    let net = net();
    println!(
        "validate_commit: {cores} cores, signature backend {}, {repeats} repeats (median run)",
        weft_common::crypto::default_backend().name()
    );
    println!(
        "| txs/block | endorsements | threads | fsync | blocks | validate ms/block | commit ms/block | total ms/block | tx/s | best-run tx/s | other procs' CPU s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    // Untimed warm-up: the first runs of a fresh process were consistently slower.
    let warm_up = workload(&net, 100, 5, 1);
    for _ in 0..5 {
        run(&net, &warm_up, cores, true);
        run(&net, &warm_up, 1, true);
    }
    let mut shares = Vec::new();
    let configs: &[(usize, usize)] = if quick {
        &[(100, 3)]
    } else {
        &[(100, 20), (500, 6)]
    };
    for &(block_size, blocks) in configs {
        for endorsements in 1..=3 {
            let w = workload(&net, block_size, blocks, endorsements);
            let mut modes = vec![(cores, true), (1, true)];
            if !quick {
                modes.push((cores, false));
            }
            // Repeats go round-robin over the modes, so load from other processes spreads
            // over all of them.
            let mut results: Vec<Vec<RunResult>> = vec![Vec::new(); modes.len()];
            for _ in 0..repeats {
                for (i, &(threads, sync)) in modes.iter().enumerate() {
                    results[i].push(run(&net, &w, threads, sync));
                }
            }
            let mut single = None;
            for (&(threads, sync), mut results) in modes.iter().zip(results) {
                results.sort_by_key(RunResult::total);
                let r = results[results.len() / 2];
                let best = results[0];
                let n = blocks as f64;
                let txs = (block_size * blocks) as f64;
                println!(
                    "| {block_size} | {endorsements} | {threads} | {} | {blocks} | {:.2} | {:.2} | {:.2} | {:.0} | {:.0} | {:.1} |",
                    if sync { "yes" } else { "no" },
                    ms(r.validate) / n,
                    ms(r.commit) / n,
                    ms(r.total()) / n,
                    txs / r.total().as_secs_f64(),
                    txs / best.total().as_secs_f64(),
                    r.other_cpu,
                );
                if threads == 1 && sync {
                    single = Some(r);
                }
            }
            let (per_verify, n) = verify_cost(&w);
            let r = single.unwrap();
            let per_block = ms(r.total()) / blocks as f64;
            let per_block_validate = ms(r.validate) / blocks as f64;
            let verify_block = n as f64 * per_verify.as_secs_f64() * 1e3;
            shares.push(format!(
                "| {block_size} | {endorsements} | {n} | {:.1} | {verify_block:.2} | {per_block_validate:.2} | {per_block:.2} | {:.0} % | {:.0} % |",
                per_verify.as_secs_f64() * 1e6,
                100.0 * verify_block / per_block_validate,
                100.0 * verify_block / per_block,
            ));
        }
    }
    println!();
    println!(
        "Signature verification share (single-threaded, fsync): verifications per block × time per `Identity::verify`"
    );
    println!(
        "| txs/block | endorsements | verifies/block | µs/verify | verify ms/block | validate ms/block | validate+commit ms/block | share of validate | share of validate+commit |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for s in shares {
        println!("{s}");
    }
    println!();
    println!("elapsed {:.1} s", started.elapsed().as_secs_f64());
}
