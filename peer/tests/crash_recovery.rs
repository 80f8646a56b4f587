//! Crash recovery with real processes: a peer committing a stream of valid, state-writing
//! transactions is SIGKILLed repeatedly at random moments and restarted. After each
//! restart its height never falls below a height it reported before the kill, and it
//! commits again; at the end its height, state hash, history hash and every block's
//! TRANSACTIONS_FILTER agree with a peer that never crashed, and the state is the one the
//! transactions' writes produce.
//!
//! The transactions need no chaincode: they write to namespace `_lifecycle`, which the
//! validator checks against `/Channel/Application/LifecycleEndorsement` (a majority of
//! the application orgs: peer0.org1 and peer0.org2 both endorse). Their write sets have no
//! reads, so none can fail MVCC. Set `WEFT_CRASH_SEED` to replay a run's kill timings,
//! `WEFT_CRASH_CYCLES` for more kills.

#[path = "../../orderer/tests/cluster_net/mod.rs"]
mod cluster_net;
mod peer_net;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use cluster_net::{
    CHANNEL, ChannelSettings, Network, blocks_holding, broadcast, wait_until_ordering,
};
use peer_net::PeerNode;
use prost::Message;
use weft_common::msp::SigningIdentity;
use weft_common::protoutil;
use weft_peer::ledger::{Ledger, StateView};
use weft_proto::common::{Block, Envelope, Header, Status};
use weft_proto::kvrwset::{KvWrite, KvrwSet};
use weft_proto::protos::{
    ChaincodeAction, ChaincodeEndorsedAction, ChaincodeId, ChaincodeProposalPayload, Response,
    TxValidationCode,
};
use weft_proto::rwset::{NsReadWriteSet, TxReadWriteSet, tx_read_write_set};

const NAMESPACE: &str = "_lifecycle";
const KEYS: u64 = 50;
/// Kill cycles (`WEFT_CRASH_CYCLES` overrides, for longer local runs).
const KILL_CYCLES: usize = 4;
const BATCH: usize = 10;

/// The writes of transaction `n`: puts of two keys and, every fifth transaction, the
/// delete of a third (all distinct). `None` is a delete.
fn writes_of(n: u64) -> Vec<(String, Option<Vec<u8>>)> {
    let key = |i: u64| format!("crash/k{}", i % KEYS);
    let mut writes = vec![
        (key(n), Some(format!("v{n}a").into_bytes())),
        (key(n * 7 + 3), Some(format!("v{n}b").into_bytes())),
    ];
    if n % 5 == 4 {
        let deleted = key(n * 3 + 1);
        if writes.iter().all(|(k, _)| *k != deleted) {
            writes.push((deleted, None));
        }
    }
    writes
}

/// The endorsing identities and the client.
struct Signers {
    client: Arc<SigningIdentity>,
    endorsers: Vec<Arc<SigningIdentity>>,
}

impl Signers {
    fn new(net: &Network) -> Self {
        let peer = |org: usize| {
            net.user(
                &format!(
                    "peerOrganizations/org{org}.example.com/peers/peer0.org{org}.example.com/msp"
                ),
                &format!("Org{org}MSP"),
            )
        };
        Self {
            client: net.client(),
            endorsers: vec![peer(1), peer(2)],
        }
    }

    /// A valid endorser transaction writing `writes_of(n)` to `_lifecycle`, proposed and
    /// signed by User1@org1, endorsed by peer0.org1 and peer0.org2.
    fn transaction(&self, n: u64) -> Envelope {
        use weft_common::crypto::Signer;

        let (proposal, _txid) = protoutil::create_chaincode_proposal(
            CHANNEL,
            NAMESPACE,
            vec![b"crash".to_vec(), n.to_string().into_bytes()],
            HashMap::new(),
            self.client.creator(),
            None,
        );
        let header = Header::decode(proposal.header.as_slice()).expect("header");
        let payload =
            ChaincodeProposalPayload::decode(proposal.payload.as_slice()).expect("payload");
        let proposal_hash = protoutil::endorsement_proposal_hash(
            &header.channel_header,
            &header.signature_header,
            &proposal.payload,
        )
        .expect("proposal hash");
        let kv = KvrwSet {
            writes: writes_of(n)
                .into_iter()
                .map(|(key, value)| KvWrite {
                    key,
                    is_delete: value.is_none(),
                    value: value.unwrap_or_default(),
                })
                .collect(),
            ..Default::default()
        };
        let results = TxReadWriteSet {
            data_model: tx_read_write_set::DataModel::Kv as i32,
            ns_rwset: vec![NsReadWriteSet {
                namespace: NAMESPACE.into(),
                rwset: kv.encode_to_vec(),
                collection_hashed_rwset: Vec::new(),
            }],
        };
        let action = ChaincodeAction {
            results: results.encode_to_vec(),
            events: Vec::new(),
            response: Some(Response {
                status: 200,
                message: String::new(),
                payload: Vec::new(),
            }),
            chaincode_id: Some(ChaincodeId {
                name: NAMESPACE.into(),
                version: "1".into(),
                ..Default::default()
            }),
        };
        let prp = protoutil::create_proposal_response_payload(&proposal_hash, &action);
        let endorsements = self
            .endorsers
            .iter()
            .map(|e| protoutil::endorse(&prp, e.as_ref()).expect("endorse"))
            .collect();
        let unsigned = protoutil::transaction_envelope(
            &header,
            &payload,
            ChaincodeEndorsedAction {
                proposal_response_payload: prp,
                endorsements,
            },
        );
        protoutil::sign_envelope_payload(unsigned.payload, self.client.as_ref())
            .expect("sign envelope")
    }
}

/// Broadcasts transactions `first..first + count` on one stream; all must be accepted.
async fn broadcast_txs(net: &Network, signers: &Signers, first: u64, count: usize) {
    let mut client = net.broadcast_client(0);
    let batch: Vec<_> = (first..first + count as u64)
        .map(|n| signers.transaction(n))
        .collect();
    let responses = broadcast(&mut client, batch).await.expect("broadcast");
    assert_eq!(responses.len(), count);
    assert!(
        responses.iter().all(|r| r.status == Status::Success as i32),
        "{responses:?}"
    );
}

/// `peer channel getinfo`: (height, current block hash), or `None` if the CLI fails (the
/// peer is still starting).
fn try_chain_info(peer: &PeerNode) -> Option<(u64, Vec<u8>)> {
    let out = peer.cli(&["channel", "getinfo", "-c", CHANNEL]);
    if !out.status.success() {
        return None;
    }
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let json = text.split("Blockchain info: ").nth(1)?;
    let info: serde_json::Value =
        serde_json::from_str(json.lines().next().unwrap_or_default()).ok()?;
    let height = info["height"].as_u64()?;
    let hash = base64::engine::general_purpose::STANDARD
        .decode(info["currentBlockHash"].as_str().unwrap_or_default())
        .ok()?;
    Some((height, hash))
}

/// Polls the peer's chain info until `done(height)`, for at most `secs` seconds.
fn wait_for(peer: &PeerNode, secs: u64, what: &str, done: impl Fn(u64) -> bool) -> (u64, Vec<u8>) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut last = None;
    loop {
        if let Some(info) = try_chain_info(peer) {
            if done(info.0) {
                return info;
            }
            last = Some(info.0);
        }
        assert!(
            Instant::now() < deadline,
            "peer0.{} never reached {what} (last height {last:?}):\n{}",
            peer.org,
            peer.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A xorshift64* generator: kill timings reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.next() % (high - low))
    }
}

fn ledger_dir(peer: &PeerNode) -> std::path::PathBuf {
    peer.data_dir
        .join("ledgersData")
        .join("chains")
        .join(CHANNEL)
}

/// Every block's filter after the genesis block and the probe's (block 1), checked to be
/// all VALID; returns the number of transactions in those blocks.
fn all_valid(ledger: &Ledger, who: &str) -> usize {
    let mut txs = 0;
    for number in 2..ledger.height() {
        let block = ledger
            .block_store()
            .block(number)
            .expect("read block")
            .unwrap_or_else(|| panic!("{who}: block {number} missing"));
        let filter = protoutil::transactions_filter(&block);
        let count = block.data.as_ref().map_or(0, |d| d.data.len());
        assert_eq!(filter.len(), count, "{who}: block {number} filter length");
        assert!(
            filter.iter().all(|&c| c == TxValidationCode::Valid as u8),
            "{who}: block {number} has invalid transactions: {filter:?}"
        );
        txs += count;
    }
    txs
}

#[test]
fn killed_peer_recovers_the_same_height_state_and_history() {
    let started = Instant::now();
    let seed = std::env::var("WEFT_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash_recovery: WEFT_CRASH_SEED={seed}");
    let mut rng = Rng(seed);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    let mut net = Network::new(
        1,
        ChannelSettings {
            max_message_count: 10,
            batch_timeout: "200ms",
            ..Default::default()
        },
    );
    net.start(0);
    net.join(0);
    // The readiness probe (not a valid transaction) is alone in block 1.
    rt.block_on(async {
        wait_until_ordering(&net, 0).await;
        let mut client = net.broadcast_client(0);
        let chain = blocks_holding(&mut client, &net.client(), 1).await;
        assert_eq!(chain.len(), 2, "the probe's block");
    });

    // Declared before the peers, dropped after them: their logs outlive them.
    let net = Arc::new(net);
    let mut crashy = PeerNode::new(&net, 1);
    let mut steady = PeerNode::new(&net, 2);
    let genesis = net.genesis_path.display().to_string();
    for peer in [&mut crashy, &mut steady] {
        peer.start();
        let out = peer.cli_ok(&["channel", "join", "-b", &genesis]);
        assert!(
            out.contains("Successfully submitted proposal to join channel"),
            "{out}"
        );
    }

    // One transaction first: the builder makes VALID transactions.
    let signers = Arc::new(Signers::new(&net));
    rt.block_on(broadcast_txs(&net, &signers, 0, 1));
    wait_for(&steady, 30, "height 3", |h| h == 3);
    let fetched = net.dir.path().join("first.block");
    steady.cli_ok(&[
        "channel",
        "fetch",
        "newest",
        &fetched.display().to_string(),
        "-c",
        CHANNEL,
    ]);
    let block = Block::decode(std::fs::read(&fetched).expect("fetched").as_slice()).expect("block");
    assert_eq!(block.header.as_ref().map(|h| h.number), Some(2));
    assert_eq!(
        protoutil::transactions_filter(&block),
        [TxValidationCode::Valid as u8],
        "the first transaction is not VALID; steady peer log:\n{}",
        steady.log()
    );

    // A client broadcasts batches until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let broadcaster = {
        let (net, signers, stop) = (net.clone(), signers.clone(), stop.clone());
        rt.spawn(async move {
            let mut next = 1;
            while !stop.load(Ordering::Relaxed) {
                broadcast_txs(&net, &signers, next, BATCH).await;
                next += BATCH as u64;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            next
        })
    };

    // Kill the crashy peer at random moments; each time it comes back at least as high as
    // it reported before the kill, and commits again.
    let mut kill_heights = Vec::new();
    let cycles = std::env::var("WEFT_CRASH_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(KILL_CYCLES);
    for cycle in 0..cycles {
        std::thread::sleep(rng.millis(100, 700));
        let (before, _) = wait_for(&crashy, 30, "a height", |_| true);
        std::thread::sleep(rng.millis(0, 100));
        crashy.kill();
        // Down for a while: the orderer goes on, so the restarted peer has a backlog.
        std::thread::sleep(rng.millis(0, 600));
        crashy.start();
        if rng.next().is_multiple_of(2) {
            // Killed again while catching up (or still starting).
            std::thread::sleep(rng.millis(0, 150));
            crashy.kill();
            crashy.start();
        }
        let (after, _) = wait_for(&crashy, 30, "a height after restart", |_| true);
        assert!(
            after >= before,
            "cycle {cycle}: after the restart the peer is at height {after}, below the height \
             {before} it reported before the kill"
        );
        wait_for(&crashy, 30, "progress after restart", |h| h > after);
        kill_heights.push((before, after));
    }
    stop.store(true, Ordering::Relaxed);
    let sent = rt.block_on(broadcaster).expect("broadcaster");
    eprintln!(
        "crash_recovery: {sent} transactions; (reported before kill, after restart) {kill_heights:?}"
    );

    // Both peers reach the orderer's height, with the orderer's last block.
    let chain = rt.block_on(async {
        let mut client = net.broadcast_client(0);
        blocks_holding(&mut client, &net.client(), 1 + sent as usize).await
    });
    let height = chain.len() as u64;
    let last_hash = protoutil::block_header_hash(chain.last().unwrap().header.as_ref().unwrap());
    for peer in [&crashy, &steady] {
        let (_, hash) = wait_for(peer, 60, "the orderer's height", |h| {
            assert!(
                h <= height,
                "peer0.{} went past the orderer: {h} > {height}",
                peer.org
            );
            h == height
        });
        assert_eq!(hash, last_hash.to_vec(), "peer0.{}'s last block", peer.org);
    }
    crashy.kill();
    steady.kill();
    for peer in [&crashy, &steady] {
        let log = peer.log();
        let noteworthy: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR") || l.contains("panicked"))
            .collect();
        eprintln!(
            "crash_recovery: peer0.{}: {} warnings/errors{}",
            peer.org,
            noteworthy.len(),
            noteworthy
                .iter()
                .take(20)
                .map(|l| format!("\n  {l}"))
                .collect::<String>()
        );
        assert!(
            !log.contains("panicked"),
            "peer0.{} panicked:\n{log}",
            peer.org
        );
    }

    // The ledgers agree, hold only VALID transactions, and hold the state the writes make.
    let crashed = Ledger::open(&ledger_dir(&crashy)).expect("open crashy ledger");
    let reference = Ledger::open(&ledger_dir(&steady)).expect("open steady ledger");
    assert_eq!(crashed.height(), height);
    assert_eq!(reference.height(), height);
    for number in 0..height {
        let a = crashed.block_store().block(number).expect("block");
        let b = reference.block_store().block(number).expect("block");
        assert_eq!(a, b, "block {number} differs (blocks, filters included)");
    }
    assert_eq!(all_valid(&reference, "steady"), sent as usize);
    assert_eq!(all_valid(&crashed, "crashy"), sent as usize);
    assert_eq!(
        crashed.state_hash().expect("state hash"),
        reference.state_hash().expect("state hash"),
        "state differs"
    );
    assert_eq!(
        crashed.history_hash().expect("history hash"),
        reference.history_hash().expect("history hash"),
        "history differs"
    );

    let mut expected: BTreeMap<String, Option<Vec<u8>>> = BTreeMap::new();
    for n in 0..sent {
        expected.extend(writes_of(n));
    }
    assert_eq!(expected.len(), KEYS as usize);
    let mut live = 0;
    for (key, value) in &expected {
        for (who, ledger) in [("steady", &reference), ("crashy", &crashed)] {
            let got = ledger.get_state(NAMESPACE, key).expect("get_state");
            assert_eq!(
                got.as_ref().map(|v| &v.value),
                value.as_ref(),
                "{who}: {NAMESPACE}/{key}"
            );
        }
        live += usize::from(value.is_some());
    }
    assert!(live > KEYS as usize / 2, "only {live} live keys");
    eprintln!(
        "crash_recovery: height {height}, {sent} VALID transactions, {live} live keys, {:?}",
        started.elapsed()
    );
}
