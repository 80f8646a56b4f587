use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use prost::Message;
use rocksdb::WriteBatch;
use tokio::sync::mpsc;
use tokio::time::timeout;
use weft_proto::common::{ChannelHeader, Header, HeaderType, Payload, SignatureHeader};
use weft_proto::orderer::seek_position::Type;
use weft_proto::orderer::{SeekNewest, SeekNextCommit, SeekOldest, SeekPosition, SeekSpecified};
use weft_proto::protos::{
    ChaincodeAction, ChaincodeActionPayload, ChaincodeEndorsedAction, ChaincodeEvent,
    FilteredChaincodeAction, FilteredTransactionActions, Transaction, TransactionAction,
    filtered_transaction,
};

use super::*;
use crate::blockstore::test_support::{CHANNEL, TestChain, signing_identity};
use crate::crypto::{Signer, sha256};
use crate::msp::SigningIdentity;
use crate::msp::test_certs::TestOrg;
use crate::protoutil::{
    create_proposal_response_payload, set_transactions_filter, sign_envelope_payload, timestamp_now,
};

const RESOURCE: &str = "/Channel/Readers";
const WAIT: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(150);

// ---------------------------------------------------------------------------------------
// Fixtures

/// A channel whose access check verifies the request signature and can be switched off.
struct TestChannel {
    source: Box<dyn BlockSource>,
    sequence: AtomicU64,
    allowed: AtomicBool,
    authorize_calls: AtomicUsize,
    errors: watch::Sender<bool>,
    report_errors: bool,
}

impl TestChannel {
    fn new(source: Box<dyn BlockSource>) -> Self {
        Self {
            source,
            sequence: AtomicU64::new(0),
            allowed: AtomicBool::new(true),
            authorize_calls: AtomicUsize::new(0),
            errors: watch::channel(false).0,
            report_errors: false,
        }
    }
}

impl DeliverChannel for TestChannel {
    fn blocks(&self) -> &dyn BlockSource {
        self.source.as_ref()
    }

    fn config_sequence(&self) -> u64 {
        self.sequence.load(Ordering::SeqCst)
    }

    fn authorize(&self, resource: &str, request: &SignedData<'_>) -> Result<(), AccessDenied> {
        self.authorize_calls.fetch_add(1, Ordering::SeqCst);
        assert_eq!(resource, RESOURCE);
        let identity = Identity::from_serialized(&request.identity)
            .map_err(|e| AccessDenied::new(e.to_string()))?;
        identity
            .verify(&request.data, &request.signature)
            .map_err(|e| AccessDenied::new(e.to_string()))?;
        if self.allowed.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(AccessDenied::new("not a reader"))
        }
    }

    fn consenter_errors(&self) -> Option<watch::Receiver<bool>> {
        self.report_errors.then(|| self.errors.subscribe())
    }
}

struct Lookup(HashMap<String, Arc<TestChannel>>);

impl ChannelLookup for Lookup {
    fn channel(&self, channel_id: &str) -> Option<Arc<dyn DeliverChannel>> {
        self.0
            .get(channel_id)
            .map(|c| Arc::clone(c) as Arc<dyn DeliverChannel>)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Response {
    Block(u64),
    Status(Status),
}

/// A sink writing into a tokio channel; dropping the receiver is the client going away.
struct ChannelSink {
    tx: mpsc::Sender<Response>,
    /// Refuse the block with this number, ending the seek with BAD_REQUEST.
    abort_at: Option<u64>,
}

impl DeliverSink for ChannelSink {
    async fn send_block(
        &mut self,
        block: Block,
        request: &SeekRequest<'_>,
    ) -> Result<(), SendBlockError> {
        assert_eq!(request.channel_id, CHANNEL);
        assert!(request.seek_info.start.is_some());
        let number = block.header.as_ref().map_or(u64::MAX, |h| h.number);
        if self.abort_at == Some(number) {
            return Err(SendBlockError::Abort(Status::BadRequest));
        }
        self.tx
            .send(Response::Block(number))
            .await
            .map_err(|_| SendBlockError::Closed)
    }

    async fn send_status(&mut self, status: Status) -> Result<(), SinkClosed> {
        self.tx
            .send(Response::Status(status))
            .await
            .map_err(|_| SinkClosed)
    }

    async fn closed(&self) {
        self.tx.closed().await
    }
}

struct Fixture {
    chain: TestChain,
    memory: Arc<MemoryBlockSource>,
    channel: Arc<TestChannel>,
    config: DeliverConfig,
}

/// Forwards to a shared in-memory source, so tests can push blocks.
struct SharedMemory(Arc<MemoryBlockSource>);

impl BlockSource for SharedMemory {
    fn height(&self) -> u64 {
        self.0.height()
    }
    fn block(&self, number: u64) -> Result<Option<Block>, BlockStoreError> {
        self.0.block(number)
    }
    fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

impl Fixture {
    /// A channel with `height` blocks in memory.
    fn new(height: usize) -> Fixture {
        Self::with_channel(height, |_| {})
    }

    fn with_channel(height: usize, adjust: impl FnOnce(&mut TestChannel)) -> Fixture {
        let mut chain = TestChain::new();
        while chain.blocks.len() < height {
            chain.push(1);
        }
        let memory = Arc::new(MemoryBlockSource::new(chain.blocks.clone()));
        let mut channel = TestChannel::new(Box::new(SharedMemory(Arc::clone(&memory))));
        adjust(&mut channel);
        Fixture {
            chain,
            memory,
            channel: Arc::new(channel),
            config: DeliverConfig::default(),
        }
    }

    fn deliverer(&self) -> Deliverer {
        let lookup = Lookup(HashMap::from([(
            CHANNEL.to_owned(),
            Arc::clone(&self.channel),
        )]));
        Deliverer::new(Arc::new(lookup), RESOURCE, self.config.clone())
    }

    /// Appends one more block to the in-memory chain.
    fn push_block(&mut self) {
        let block = self.chain.push(1);
        self.memory.push(block);
    }

    /// Runs a whole stream of `envelopes` and collects every response.
    async fn run(&self, envelopes: Vec<Envelope>) -> Vec<Response> {
        self.run_as(envelopes, &ClientInfo::default()).await
    }

    async fn run_as(&self, envelopes: Vec<Envelope>, client: &ClientInfo) -> Vec<Response> {
        let (tx, mut rx) = mpsc::channel(1000);
        let mut sink = ChannelSink { tx, abort_at: None };
        let incoming = futures::stream::iter(envelopes.into_iter().map(Ok::<_, Infallible>));
        let deliverer = self.deliverer();
        timeout(WAIT, deliverer.serve_stream(incoming, client, &mut sink))
            .await
            .expect("stream ends")
            .expect("no incoming error");
        drop(sink);
        let mut out = Vec::new();
        while let Some(r) = rx.recv().await {
            out.push(r);
        }
        out
    }

    fn seek(&self, start: SeekPosition, stop: SeekPosition, behavior: SeekBehavior) -> Envelope {
        seek_envelope(
            &self.chain.client,
            CHANNEL,
            seek_info(start, stop, behavior),
        )
    }
}

/// A live stream: envelopes go in through `tx`, responses come out of `rx`.
struct LiveStream {
    envelopes: futures::channel::mpsc::UnboundedSender<Result<Envelope, Infallible>>,
    responses: mpsc::Receiver<Response>,
    task: tokio::task::JoinHandle<Result<(), Infallible>>,
}

impl LiveStream {
    fn start(deliverer: Deliverer, client: ClientInfo) -> LiveStream {
        let (envelopes, incoming) = futures::channel::mpsc::unbounded();
        let (tx, responses) = mpsc::channel(1000);
        let task = tokio::spawn(async move {
            let mut sink = ChannelSink { tx, abort_at: None };
            deliverer.serve_stream(incoming, &client, &mut sink).await
        });
        LiveStream {
            envelopes,
            responses,
            task,
        }
    }

    fn send(&self, envelope: Envelope) {
        self.envelopes
            .unbounded_send(Ok(envelope))
            .expect("stream open");
    }

    async fn next(&mut self) -> Response {
        timeout(WAIT, self.responses.recv())
            .await
            .expect("a response in time")
            .expect("stream open")
    }

    async fn expect_quiet(&mut self) {
        assert!(
            timeout(QUIET, self.responses.recv()).await.is_err(),
            "no response expected yet"
        );
    }

    async fn finished(self) {
        timeout(WAIT, self.task)
            .await
            .expect("serve_stream ends")
            .expect("no panic")
            .expect("no incoming error");
    }
}

fn oldest() -> SeekPosition {
    SeekPosition {
        r#type: Some(Type::Oldest(SeekOldest {})),
    }
}

fn newest() -> SeekPosition {
    SeekPosition {
        r#type: Some(Type::Newest(SeekNewest {})),
    }
}

fn next_commit() -> SeekPosition {
    SeekPosition {
        r#type: Some(Type::NextCommit(SeekNextCommit {})),
    }
}

fn at(number: u64) -> SeekPosition {
    SeekPosition {
        r#type: Some(Type::Specified(SeekSpecified { number })),
    }
}

fn seek_info(start: SeekPosition, stop: SeekPosition, behavior: SeekBehavior) -> SeekInfo {
    SeekInfo {
        start: Some(start),
        stop: Some(stop),
        behavior: behavior as i32,
        error_response: SeekErrorResponse::Strict as i32,
    }
}

/// A DELIVER_SEEK_INFO envelope signed by `signer`, as `create_signed_envelope` makes it.
fn seek_envelope(signer: &SigningIdentity, channel: &str, seek: SeekInfo) -> Envelope {
    crate::protoutil::create_signed_envelope(
        HeaderType::DeliverSeekInfo,
        channel,
        signer,
        &seek.encode_to_vec(),
        0,
    )
    .expect("envelope")
}

/// A seek envelope with a hand-made channel header (no txid, no nonce, like
/// fabric-gateway's), adjusted by `adjust`.
fn custom_seek_envelope(
    signer: &SigningIdentity,
    seek: SeekInfo,
    adjust: impl FnOnce(&mut ChannelHeader),
) -> Envelope {
    let mut channel_header = ChannelHeader {
        r#type: HeaderType::DeliverSeekInfo as i32,
        channel_id: CHANNEL.into(),
        timestamp: Some(timestamp_now()),
        ..Default::default()
    };
    adjust(&mut channel_header);
    let payload = Payload {
        header: Some(Header {
            channel_header: channel_header.encode_to_vec(),
            signature_header: SignatureHeader {
                creator: signer.creator().to_vec(),
                nonce: Vec::new(),
            }
            .encode_to_vec(),
        }),
        data: seek.encode_to_vec(),
    };
    sign_envelope_payload(payload.encode_to_vec(), signer).expect("sign")
}

fn blocks(numbers: impl IntoIterator<Item = u64>, status: Status) -> Vec<Response> {
    numbers
        .into_iter()
        .map(Response::Block)
        .chain([Response::Status(status)])
        .collect()
}

fn status(status: Status) -> Vec<Response> {
    vec![Response::Status(status)]
}

use SeekBehavior::{BlockUntilReady as Wait, FailIfNotReady as Fail};

// ---------------------------------------------------------------------------------------
// Seek positions

#[tokio::test]
async fn every_seek_position() {
    let f = Fixture::new(5); // blocks 0..=4
    let cases: Vec<(SeekPosition, SeekPosition, SeekBehavior, Vec<Response>)> = vec![
        (oldest(), oldest(), Wait, blocks([0], Status::Success)),
        (oldest(), newest(), Wait, blocks(0..=4, Status::Success)),
        (oldest(), at(2), Wait, blocks(0..=2, Status::Success)),
        (newest(), newest(), Wait, blocks([4], Status::Success)),
        (newest(), at(4), Fail, blocks([4], Status::Success)),
        (at(2), at(3), Wait, blocks(2..=3, Status::Success)),
        (at(1), oldest(), Wait, blocks([1], Status::Success)),
        (at(3), newest(), Fail, blocks(3..=4, Status::Success)),
        (at(4), at(4), Fail, blocks([4], Status::Success)),
        // Start after stop.
        (at(3), at(2), Wait, status(Status::BadRequest)),
        (next_commit(), newest(), Wait, status(Status::BadRequest)),
        // Beyond the height, whatever the behavior.
        (at(6), at(10), Wait, status(Status::NotFound)),
        (at(6), at(10), Fail, status(Status::NotFound)),
        // At the height: only FAIL_IF_NOT_READY answers at once.
        (at(5), at(10), Fail, status(Status::NotFound)),
        (next_commit(), oldest(), Fail, status(Status::NotFound)),
        // Runs out of blocks.
        (at(3), at(10), Fail, blocks(3..=4, Status::NotFound)),
        (
            oldest(),
            at(u64::MAX),
            Fail,
            blocks(0..=4, Status::NotFound),
        ),
        // Positions without a type.
        (
            SeekPosition::default(),
            at(1),
            Wait,
            status(Status::NotFound),
        ),
        (
            at(1),
            SeekPosition::default(),
            Wait,
            status(Status::BadRequest),
        ),
    ];
    for (start, stop, behavior, expected) in cases {
        let what = format!("{start:?} → {stop:?} ({behavior:?})");
        let responses = f.run(vec![f.seek(start, stop, behavior)]).await;
        assert_eq!(responses, expected, "{what}");
    }
}

#[tokio::test]
async fn missing_start_or_stop_is_a_bad_request() {
    let f = Fixture::new(2);
    for (start, stop) in [(None, Some(at(1))), (Some(at(0)), None)] {
        let seek = SeekInfo {
            start,
            stop,
            ..Default::default()
        };
        let envelope = seek_envelope(&f.chain.client, CHANNEL, seek);
        assert_eq!(f.run(vec![envelope]).await, status(Status::BadRequest));
    }
}

#[tokio::test]
async fn blocks_are_the_stored_ones() {
    let f = Fixture::new(3);
    let (tx, mut rx) = mpsc::channel(10);
    struct Capture(mpsc::Sender<Block>);
    impl DeliverSink for Capture {
        async fn send_block(
            &mut self,
            block: Block,
            _: &SeekRequest<'_>,
        ) -> Result<(), SendBlockError> {
            self.0.send(block).await.map_err(|_| SendBlockError::Closed)
        }
        async fn send_status(&mut self, _: Status) -> Result<(), SinkClosed> {
            Ok(())
        }
    }
    let mut sink = Capture(tx);
    let status = f
        .deliverer()
        .serve_seek(
            &f.seek(oldest(), newest(), Wait),
            &ClientInfo::default(),
            &mut sink,
        )
        .await;
    assert_eq!(status, Ok(Status::Success));
    drop(sink);
    let mut received = Vec::new();
    while let Some(block) = rx.recv().await {
        received.push(block);
    }
    assert_eq!(received, f.chain.blocks);
}

// ---------------------------------------------------------------------------------------
// Streams

#[tokio::test]
async fn success_waits_for_the_next_seek_and_failure_ends_the_stream() {
    let f = Fixture::new(3);
    let responses = f
        .run(vec![
            f.seek(oldest(), oldest(), Wait),
            f.seek(newest(), newest(), Wait),
            f.seek(at(9), at(9), Wait), // NOT_FOUND ends the stream
            f.seek(oldest(), oldest(), Wait),
        ])
        .await;
    assert_eq!(
        responses,
        vec![
            Response::Block(0),
            Response::Status(Status::Success),
            Response::Block(2),
            Response::Status(Status::Success),
            Response::Status(Status::NotFound),
        ]
    );
}

#[tokio::test]
async fn incoming_errors_are_returned() {
    let f = Fixture::new(1);
    let (tx, _rx) = mpsc::channel(10);
    let mut sink = ChannelSink { tx, abort_at: None };
    let incoming = futures::stream::iter([
        Ok(f.seek(oldest(), oldest(), Wait)),
        Err("connection reset"),
    ]);
    let result = f
        .deliverer()
        .serve_stream(incoming, &ClientInfo::default(), &mut sink)
        .await;
    assert_eq!(result, Err("connection reset"));
}

#[tokio::test]
async fn block_until_ready_waits_for_appends_to_the_block_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(BlockStore::open(dir.path(), &[]).expect("open"));
    let mut chain = TestChain::new();
    store
        .append(&chain.blocks[0], WriteBatch::default())
        .expect("genesis");

    struct StoreSource(Arc<BlockStore>);
    impl BlockSource for StoreSource {
        fn height(&self) -> u64 {
            self.0.height()
        }
        fn block(&self, number: u64) -> Result<Option<Block>, BlockStoreError> {
            BlockSource::block(self.0.as_ref(), number)
        }
        fn subscribe(&self) -> watch::Receiver<u64> {
            self.0.subscribe()
        }
    }
    let channel = Arc::new(TestChannel::new(Box::new(StoreSource(Arc::clone(&store)))));
    let lookup = Lookup(HashMap::from([(CHANNEL.to_owned(), channel)]));
    let deliverer = Deliverer::new(Arc::new(lookup), RESOURCE, DeliverConfig::default());

    let mut stream = LiveStream::start(deliverer, ClientInfo::default());
    // The peer's block puller: from its height, forever.
    stream.send(seek_envelope(
        &chain.client,
        CHANNEL,
        seek_info(at(1), at(2), Wait),
    ));
    stream.expect_quiet().await;
    store
        .append(&chain.push(1), WriteBatch::default())
        .expect("append 1");
    assert_eq!(stream.next().await, Response::Block(1));
    stream.expect_quiet().await;
    store
        .append(&chain.push(2), WriteBatch::default())
        .expect("append 2");
    assert_eq!(stream.next().await, Response::Block(2));
    assert_eq!(stream.next().await, Response::Status(Status::Success));

    // NextCommit: the next block only.
    stream.send(seek_envelope(
        &chain.client,
        CHANNEL,
        seek_info(next_commit(), oldest(), Wait),
    ));
    stream.expect_quiet().await;
    store
        .append(&chain.push(1), WriteBatch::default())
        .expect("append 3");
    assert_eq!(stream.next().await, Response::Block(3));
    assert_eq!(stream.next().await, Response::Status(Status::Success));
    drop(stream.envelopes);
    timeout(WAIT, stream.task)
        .await
        .expect("ends on EOF")
        .expect("no panic")
        .expect("ok");
}

#[tokio::test]
async fn live_stream_follows_the_chain() {
    let mut f = Fixture::new(2);
    let mut stream = LiveStream::start(f.deliverer(), ClientInfo::default());
    stream.send(f.seek(newest(), at(u64::MAX), Wait));
    assert_eq!(stream.next().await, Response::Block(1));
    for n in 2..5 {
        f.push_block();
        assert_eq!(stream.next().await, Response::Block(n));
    }
    stream.expect_quiet().await;
    drop(stream.responses);
    // The client is gone: the session ends by itself, releasing its watch.
    timeout(WAIT, stream.task)
        .await
        .expect("ends when the client is gone")
        .expect("no panic")
        .expect("ok");
    assert_eq!(f.memory.subscriber_count(), 0);
}

#[tokio::test]
async fn cancelled_client_ends_a_waiting_session() {
    let f = Fixture::new(2);
    let mut stream = LiveStream::start(f.deliverer(), ClientInfo::default());
    stream.send(f.seek(next_commit(), at(u64::MAX), Wait));
    stream.expect_quiet().await;
    assert_eq!(f.memory.subscriber_count(), 1);
    drop(stream.responses);
    timeout(WAIT, stream.task)
        .await
        .expect("ends while waiting")
        .expect("no panic")
        .expect("ok");
    assert_eq!(f.memory.subscriber_count(), 0);
}

#[tokio::test]
async fn dropping_the_future_stops_the_session() {
    let f = Fixture::new(1);
    let (tx, _rx) = mpsc::channel(10);
    let mut sink = ChannelSink { tx, abort_at: None };
    let incoming = futures::stream::iter([Ok::<_, Infallible>(f.seek(
        next_commit(),
        at(u64::MAX),
        Wait,
    ))]);
    let deliverer = f.deliverer();
    let client = ClientInfo::default();
    let serve = deliverer.serve_stream(incoming, &client, &mut sink);
    assert!(timeout(QUIET, serve).await.is_err(), "still waiting");
    assert_eq!(f.memory.subscriber_count(), 0);
}

#[tokio::test]
async fn half_closed_client_still_gets_its_blocks() {
    // Go clients CloseSend right after the seek envelope: that must not end delivery.
    let mut f = Fixture::new(1);
    let mut stream = LiveStream::start(f.deliverer(), ClientInfo::default());
    stream.send(f.seek(at(1), at(1), Wait));
    stream.envelopes.close_channel();
    stream.expect_quiet().await;
    f.push_block();
    assert_eq!(stream.next().await, Response::Block(1));
    assert_eq!(stream.next().await, Response::Status(Status::Success));
    stream.finished().await;
}

#[tokio::test]
async fn sink_abort_ends_with_its_status() {
    let f = Fixture::new(3);
    let (tx, mut rx) = mpsc::channel(10);
    let mut sink = ChannelSink {
        tx,
        abort_at: Some(1),
    };
    let incoming = futures::stream::iter([
        Ok::<_, Infallible>(f.seek(oldest(), newest(), Wait)),
        Ok(f.seek(oldest(), newest(), Wait)),
    ]);
    f.deliverer()
        .serve_stream(incoming, &ClientInfo::default(), &mut sink)
        .await
        .expect("ok");
    drop(sink);
    assert_eq!(rx.recv().await, Some(Response::Block(0)));
    assert_eq!(rx.recv().await, Some(Response::Status(Status::BadRequest)));
    assert_eq!(rx.recv().await, None);
}

// ---------------------------------------------------------------------------------------
// Request checks

#[tokio::test]
async fn unknown_channel_is_not_found() {
    let f = Fixture::new(1);
    let envelope = seek_envelope(
        &f.chain.client,
        "otherchannel",
        seek_info(oldest(), oldest(), Wait),
    );
    assert_eq!(f.run(vec![envelope]).await, status(Status::NotFound));
}

#[tokio::test]
async fn garbage_is_a_bad_request() {
    let f = Fixture::new(1);
    let signer = &f.chain.client;
    let garbage_payload = Envelope {
        payload: vec![0xff, 0xff],
        signature: vec![],
    };
    let no_header = sign_envelope_payload(
        Payload {
            header: None,
            data: vec![],
        }
        .encode_to_vec(),
        signer,
    )
    .expect("sign");
    let bad_channel_header = sign_envelope_payload(
        Payload {
            header: Some(Header {
                channel_header: vec![0xff],
                signature_header: vec![],
            }),
            data: vec![],
        }
        .encode_to_vec(),
        signer,
    )
    .expect("sign");
    let mut bad_seek = seek_envelope(signer, CHANNEL, SeekInfo::default());
    let mut payload = Payload::decode(bad_seek.payload.as_slice()).expect("payload");
    payload.data = vec![0x0a, 0x05]; // truncated field
    bad_seek = sign_envelope_payload(payload.encode_to_vec(), signer).expect("sign");

    for envelope in [garbage_payload, no_header, bad_channel_header, bad_seek] {
        assert_eq!(f.run(vec![envelope]).await, status(Status::BadRequest));
    }
}

#[tokio::test]
async fn timestamps_must_be_recent() {
    let f = Fixture::new(1);
    let seek = seek_info(oldest(), oldest(), Wait);
    let shifted = |seconds: i64| {
        custom_seek_envelope(&f.chain.client, seek, |ch| {
            if let Some(ts) = ch.timestamp.as_mut() {
                ts.seconds += seconds;
            }
        })
    };
    assert_eq!(
        f.run(vec![shifted(-16 * 60)]).await,
        status(Status::BadRequest)
    );
    assert_eq!(
        f.run(vec![shifted(16 * 60)]).await,
        status(Status::BadRequest)
    );
    assert_eq!(
        f.run(vec![shifted(-14 * 60)]).await,
        blocks([0], Status::Success)
    );
    assert_eq!(
        f.run(vec![shifted(14 * 60)]).await,
        blocks([0], Status::Success)
    );
    let no_timestamp = custom_seek_envelope(&f.chain.client, seek, |ch| ch.timestamp = None);
    assert_eq!(f.run(vec![no_timestamp]).await, status(Status::BadRequest));
}

#[tokio::test]
async fn gateway_style_seek_without_txid_or_nonce_is_accepted() {
    let f = Fixture::new(2);
    let envelope =
        custom_seek_envelope(&f.chain.client, seek_info(oldest(), newest(), Wait), |ch| {
            assert!(ch.tx_id.is_empty());
        });
    assert_eq!(f.run(vec![envelope]).await, blocks(0..=1, Status::Success));
}

#[tokio::test]
async fn tls_binding_is_enforced_with_mutual_tls() {
    let mut f = Fixture::new(1);
    let seek = seek_info(oldest(), oldest(), Wait);
    let cert_hash = sha256(b"client certificate").to_vec();
    let claiming =
        |hash: Vec<u8>| custom_seek_envelope(&f.chain.client, seek, |ch| ch.tls_cert_hash = hash);
    let good = claiming(cert_hash.clone());
    let wrong = claiming(sha256(b"another certificate").to_vec());
    let none = claiming(Vec::new());
    let client = ClientInfo {
        tls_cert_hash: Some(cert_hash.clone()),
    };
    let no_cert = ClientInfo::default();

    // Without mutual TLS nothing is checked.
    assert_eq!(
        f.run_as(vec![wrong.clone()], &client).await,
        blocks([0], Status::Success)
    );

    f.config.mutual_tls = true;
    assert_eq!(
        f.run_as(vec![good.clone()], &client).await,
        blocks([0], Status::Success)
    );
    assert_eq!(
        f.run_as(vec![wrong], &client).await,
        status(Status::BadRequest)
    );
    assert_eq!(
        f.run_as(vec![none], &client).await,
        status(Status::BadRequest)
    );
    assert_eq!(
        f.run_as(vec![good], &no_cert).await,
        status(Status::BadRequest)
    );
}

// ---------------------------------------------------------------------------------------
// Access control

#[tokio::test]
async fn unauthorized_requests_are_forbidden() {
    let f = Fixture::new(2);
    f.channel.allowed.store(false, Ordering::SeqCst);
    assert_eq!(
        f.run(vec![f.seek(oldest(), newest(), Wait)]).await,
        status(Status::Forbidden)
    );

    // A signature that does not verify is refused by the channel's check too.
    f.channel.allowed.store(true, Ordering::SeqCst);
    let mut forged = f.seek(oldest(), newest(), Wait);
    forged.signature = f.chain.orderer.sign(&forged.payload).expect("sign");
    assert_eq!(f.run(vec![forged]).await, status(Status::Forbidden));
}

#[tokio::test]
async fn revoked_access_ends_the_session_after_a_config_change() {
    let mut f = Fixture::new(1);
    let mut stream = LiveStream::start(f.deliverer(), ClientInfo::default());
    stream.send(f.seek(oldest(), at(u64::MAX), Wait));
    assert_eq!(stream.next().await, Response::Block(0));
    assert_eq!(f.channel.authorize_calls.load(Ordering::SeqCst), 1);

    // Same config: the decision is cached.
    f.push_block();
    assert_eq!(stream.next().await, Response::Block(1));
    assert_eq!(f.channel.authorize_calls.load(Ordering::SeqCst), 1);

    // A config update that still allows the client: checked again, still served.
    f.channel.sequence.store(1, Ordering::SeqCst);
    f.push_block();
    assert_eq!(stream.next().await, Response::Block(2));
    assert_eq!(f.channel.authorize_calls.load(Ordering::SeqCst), 2);

    // A config update that revokes the client.
    f.channel.allowed.store(false, Ordering::SeqCst);
    f.channel.sequence.store(2, Ordering::SeqCst);
    f.push_block();
    assert_eq!(stream.next().await, Response::Status(Status::Forbidden));
    stream.finished().await;
}

/// Seconds added to the real time by [`shifted_clock`].
static CLOCK_SHIFT: AtomicI64 = AtomicI64::new(0);

fn shifted_clock() -> SystemTime {
    let shift = CLOCK_SHIFT.load(Ordering::SeqCst);
    let now = SystemTime::now();
    if shift >= 0 {
        now + Duration::from_secs(shift.unsigned_abs())
    } else {
        now - Duration::from_secs(shift.unsigned_abs())
    }
}

#[tokio::test]
async fn expired_identities_are_refused_and_cut_off() {
    let org = TestOrg::new("Org2MSP");
    let one_hour = |params: &mut rcgen::CertificateParams| {
        params.not_after = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    };
    let short_lived = signing_identity(
        "Org2MSP",
        &org.ca.leaf_with("client", &["client"], one_hour),
    );
    let expired = signing_identity(
        "Org2MSP",
        &org.ca.leaf_with("old", &["client"], |params| {
            params.not_after = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
        }),
    );

    let mut f = Fixture::new(1);
    f.config.clock = shifted_clock;
    let seek = || seek_info(oldest(), at(u64::MAX), Wait);

    // Expired from the start.
    let responses = f.run(vec![seek_envelope(&expired, CHANNEL, seek())]).await;
    assert_eq!(responses, status(Status::Forbidden));

    // Expires during the session.
    let mut stream = LiveStream::start(f.deliverer(), ClientInfo::default());
    stream.send(seek_envelope(&short_lived, CHANNEL, seek()));
    assert_eq!(stream.next().await, Response::Block(0));
    CLOCK_SHIFT.store(2 * 3600, Ordering::SeqCst);
    f.push_block();
    assert_eq!(stream.next().await, Response::Status(Status::Forbidden));
    stream.finished().await;

    // With expiry checks off, an expired certificate is only subject to the policy.
    CLOCK_SHIFT.store(0, Ordering::SeqCst);
    f.config.check_identity_expiration = false;
    let responses = f
        .run(vec![seek_envelope(
            &expired,
            CHANNEL,
            seek_info(oldest(), oldest(), Wait),
        )])
        .await;
    assert_eq!(responses, blocks([0], Status::Success));
}

// ---------------------------------------------------------------------------------------
// Consenter errors

#[tokio::test]
async fn consenter_errors_make_strict_requests_unavailable() {
    let f = Fixture::with_channel(2, |c| c.report_errors = true);
    f.channel.errors.send_replace(true);
    assert_eq!(
        f.run(vec![f.seek(oldest(), newest(), Wait)]).await,
        status(Status::ServiceUnavailable)
    );
    let mut best_effort = seek_info(oldest(), newest(), Wait);
    best_effort.error_response = SeekErrorResponse::BestEffort as i32;
    let envelope = seek_envelope(&f.chain.client, CHANNEL, best_effort);
    assert_eq!(f.run(vec![envelope]).await, blocks(0..=1, Status::Success));

    // An error while waiting ends the wait.
    f.channel.errors.send_replace(false);
    let mut stream = LiveStream::start(f.deliverer(), ClientInfo::default());
    stream.send(f.seek(next_commit(), at(u64::MAX), Wait));
    stream.expect_quiet().await;
    f.channel.errors.send_replace(true);
    assert_eq!(
        stream.next().await,
        Response::Status(Status::ServiceUnavailable)
    );
    stream.finished().await;
}

// ---------------------------------------------------------------------------------------
// Filtered blocks

/// An endorser transaction whose single action carries `event`.
fn endorser_tx(client: &SigningIdentity, txid: &str, event: Option<&ChaincodeEvent>) -> Vec<u8> {
    let action = ChaincodeAction {
        events: event.map(Message::encode_to_vec).unwrap_or_default(),
        ..Default::default()
    };
    let action_payload = ChaincodeActionPayload {
        chaincode_proposal_payload: vec![],
        action: Some(ChaincodeEndorsedAction {
            proposal_response_payload: create_proposal_response_payload(&[1; 32], &action),
            endorsements: vec![],
        }),
    };
    let transaction = Transaction {
        actions: vec![TransactionAction {
            header: vec![],
            payload: action_payload.encode_to_vec(),
        }],
    };
    let payload = Payload {
        header: Some(Header {
            channel_header: ChannelHeader {
                r#type: HeaderType::EndorserTransaction as i32,
                channel_id: CHANNEL.into(),
                tx_id: txid.into(),
                timestamp: Some(timestamp_now()),
                ..Default::default()
            }
            .encode_to_vec(),
            signature_header: vec![],
        }),
        data: transaction.encode_to_vec(),
    };
    sign_envelope_payload(payload.encode_to_vec(), client)
        .expect("sign")
        .encode_to_vec()
}

#[test]
fn filtered_blocks_keep_txids_codes_and_event_names() {
    let mut chain = TestChain::new();
    let event = ChaincodeEvent {
        chaincode_id: "basic".into(),
        tx_id: "tx1".into(),
        event_name: "Transfer".into(),
        payload: b"secret payload".to_vec(),
    };
    let no_id_event = ChaincodeEvent {
        event_name: "ignored".into(),
        ..Default::default()
    };
    let entries = vec![
        endorser_tx(&chain.client, "tx1", Some(&event)),
        vec![],                 // empty entry: skipped
        vec![0xff, 0xff, 0xff], // not an envelope: skipped
        endorser_tx(&chain.client, "tx2", Some(&no_id_event)),
        endorser_tx(&chain.client, "tx3", None),
    ];
    let mut block = chain.next_block_with(entries.clone());
    set_transactions_filter(&mut block, vec![0, 0, 0, 11, 0]);
    chain.blocks.push(block.clone());

    let filtered = filtered_block(&block).expect("filtered");
    assert_eq!(filtered.number, 1);
    assert_eq!(filtered.channel_id, CHANNEL);
    let summary: Vec<(String, i32, i32)> = filtered
        .filtered_transactions
        .iter()
        .map(|t| (t.txid.clone(), t.r#type, t.tx_validation_code))
        .collect();
    let endorser = HeaderType::EndorserTransaction as i32;
    assert_eq!(
        summary,
        vec![
            ("tx1".to_owned(), endorser, 0),
            ("tx2".to_owned(), endorser, 11),
            ("tx3".to_owned(), endorser, 0),
        ]
    );
    let actions = |i: usize| match &filtered.filtered_transactions[i].data {
        Some(filtered_transaction::Data::TransactionActions(actions)) => actions.clone(),
        None => panic!("transaction {i} has no actions"),
    };
    assert_eq!(
        actions(0),
        FilteredTransactionActions {
            chaincode_actions: vec![FilteredChaincodeAction {
                chaincode_event: Some(ChaincodeEvent {
                    payload: vec![],
                    ..event
                }),
            }],
        }
    );
    assert_eq!(actions(1), FilteredTransactionActions::default());

    // The genesis block: a config transaction, no actions, code NOT_VALIDATED (no filter).
    let genesis = filtered_block(&chain.blocks[0]).expect("filtered genesis");
    assert_eq!(genesis.filtered_transactions.len(), 1);
    let config_tx = &genesis.filtered_transactions[0];
    assert_eq!(config_tx.r#type, HeaderType::Config as i32);
    assert_eq!(config_tx.tx_validation_code, 254);
    assert_eq!(config_tx.data, None);
}

#[test]
fn filtered_block_errors() {
    let chain = TestChain::new();
    let mut headless = chain.blocks[0].clone();
    headless.header = None;
    assert_eq!(
        filtered_block(&headless),
        Err(FilteredBlockError::MissingHeader)
    );

    // A payload that does not decode fails the block.
    let bad_payload = Envelope {
        payload: vec![0x0a, 0x05],
        signature: vec![1],
    }
    .encode_to_vec();
    let good = endorser_tx(&chain.client, "good", None);
    let block = chain.next_block_with(vec![good, bad_payload]);
    assert!(matches!(
        filtered_block(&block),
        Err(FilteredBlockError::Proto { tx_index: 1, .. })
    ));

    // So does an undecodable chaincode event.
    let mut tx = Envelope::decode(endorser_tx(&chain.client, "tx", None).as_slice()).expect("env");
    let mut payload = Payload::decode(tx.payload.as_slice()).expect("payload");
    let mut transaction = Transaction::decode(payload.data.as_slice()).expect("tx");
    let action = ChaincodeAction {
        events: vec![0x0a, 0x09],
        ..Default::default()
    };
    transaction.actions[0].payload = ChaincodeActionPayload {
        chaincode_proposal_payload: vec![],
        action: Some(ChaincodeEndorsedAction {
            proposal_response_payload: create_proposal_response_payload(&[], &action),
            endorsements: vec![],
        }),
    }
    .encode_to_vec();
    payload.data = transaction.encode_to_vec();
    tx.payload = payload.encode_to_vec();
    let block = chain.next_block_with(vec![tx.encode_to_vec()]);
    assert!(matches!(
        filtered_block(&block),
        Err(FilteredBlockError::ChaincodeEvent { tx_index: 0, .. })
    ));
}
