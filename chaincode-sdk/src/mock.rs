//! A native mock ledger for unit tests: it runs a [`Chaincode`] through the same code
//! path as the peer (stub → protobuf shim requests → [`Host`]) and serves the requests
//! as the peer's simulator does, recording the read/write set in Fabric's structure.
//!
//! Fabric semantics kept: reads see the committed state only (a transaction never sees
//! its own writes) and record the committed version (absent key: no version); the last
//! write of a key wins; a delete is a write with `is_delete`; metadata writes replace the
//! key's metadata; range queries record every key pulled, `itr_exhausted` and the end
//! key as the peer's simulator does (results in batches of 100, the overflowing result
//! pulled and recorded); paginated queries are refused after a write and writes after
//! one; a successful [`MockLedger::invoke`] commits its writes at the next version
//! (block `n`, tx 0) and appends to the keys' history.
//!
//! Range reads are recorded raw up to 50 results and as Fabric's Merkle summary (maximum
//! degree 50) beyond, as the peer does.
//!
//! Differences from the peer: private data is served from in-memory collections
//! (the Weft peer answers ERROR for now) and is not part of the recorded public rwset;
//! rich queries (GET_QUERY_RESULT) are refused as by the peer's LevelDB-style state.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use prost::Message;
use sha2::{Digest, Sha256};

use crate::contract::Chaincode;
use crate::host::{Host, HostError, LogLevel, kind};
use crate::proto::{
    ChaincodeEvent, ChaincodeInput, ChaincodeSpec, DelState, GetHistoryForKey, GetState,
    GetStateByRange, GetStateMetadata, GetStateMultiple, GetStateMultipleResult, KeyModification,
    Kv, KvMetadataEntry, KvMetadataWrite, KvRead, KvRwSet, KvWrite, PutState, PutStateMetadata,
    QueryMetadata, QueryReads, QueryReadsMerkleSummary, QueryResponse, QueryResponseMetadata,
    QueryResultBytes, QueryStateClose, QueryStateNext, RangeQueryInfo, Response,
    SerializedIdentity, StateMetadata, StateMetadataResult, Timestamp, TxInput, Version,
};

/// Results per QueryResponse of a non-paginated query (Fabric's `maxResultLimit`).
const MAX_RESULT_LIMIT: usize = 100;

/// A transaction submitter: MSP id and PEM certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MockIdentity {
    /// The MSP id.
    pub msp_id: String,
    /// The PEM-encoded X.509 certificate.
    pub cert_pem: String,
}

impl MockIdentity {
    /// An identity from an MSP id and a PEM certificate.
    pub fn new(msp_id: &str, cert_pem: &str) -> Self {
        Self {
            msp_id: msp_id.to_owned(),
            cert_pem: cert_pem.to_owned(),
        }
    }

    /// A test identity of `msp_id` whose certificate has subject `CN=<common_name>,
    /// OU=client, O=<msp_id>` issued by `CN=ca.<msp_id>, O=<msp_id>`, carrying Fabric CA
    /// attributes `attrs`. The certificate is structurally valid but not signed (the SDK
    /// does not verify certificates; the peer's MSP does).
    pub fn with_attributes(msp_id: &str, common_name: &str, attrs: &[(&str, &str)]) -> Self {
        let subject = [("O", msp_id), ("OU", "client"), ("CN", common_name)];
        let ca = format!("ca.{msp_id}");
        let issuer = [("O", msp_id), ("CN", ca.as_str())];
        Self::new(msp_id, &test_certificate(&subject, &issuer, attrs))
    }

    /// The encoded `SerializedIdentity` (the transaction's creator).
    pub fn serialized(&self) -> Vec<u8> {
        SerializedIdentity {
            mspid: self.msp_id.clone(),
            id_bytes: self.cert_pem.clone().into_bytes(),
        }
        .encode_to_vec()
    }
}

// ---- a small DER writer for test certificates ----

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn seq(items: &[Vec<u8>]) -> Vec<u8> {
    der(0x30, &items.concat())
}

fn oid(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted.split('.').filter_map(|a| a.parse().ok()).collect();
    let mut body = Vec::new();
    if arcs.len() >= 2 {
        body.push((arcs[0] * 40 + arcs[1]) as u8);
    }
    for &arc in arcs.iter().skip(2) {
        let mut chunk = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            chunk.push(0x80 | (rest & 0x7f) as u8);
            rest >>= 7;
        }
        chunk.reverse();
        body.extend(chunk);
    }
    der(0x06, &body)
}

fn name(rdns: &[(&str, &str)]) -> Vec<u8> {
    let rdns: Vec<Vec<u8>> = rdns
        .iter()
        .map(|(kind, value)| {
            let id = match *kind {
                "C" => "2.5.4.6",
                "ST" => "2.5.4.8",
                "L" => "2.5.4.7",
                "STREET" => "2.5.4.9",
                "POSTALCODE" => "2.5.4.17",
                "O" => "2.5.4.10",
                "OU" => "2.5.4.11",
                "SERIALNUMBER" => "2.5.4.5",
                _ => "2.5.4.3",
            };
            der(0x31, &seq(&[oid(id), der(0x0c, value.as_bytes())]))
        })
        .collect();
    seq(&rdns)
}

/// A PEM certificate (unsigned: a dummy ECDSA signature) with the given subject and
/// issuer RDNs (in certificate order, e.g. `[("C","US"), ("O","Org1"), ("CN","user1")]`)
/// and Fabric CA attributes (extension `1.2.3.4.5.6.7.8.1`, `{"attrs":{…}}`).
pub fn test_certificate(
    subject: &[(&str, &str)],
    issuer: &[(&str, &str)],
    attrs: &[(&str, &str)],
) -> String {
    let ecdsa_sha256 = seq(&[oid("1.2.840.10045.4.3.2")]);
    let mut point = vec![0x04];
    point.extend((1..=64u8).collect::<Vec<_>>());
    let spki = seq(&[
        seq(&[oid("1.2.840.10045.2.1"), oid("1.2.840.10045.3.1.7")]),
        der(0x03, &[&[0u8][..], &point].concat()),
    ]);
    let mut tbs = vec![
        der(0xa0, &der(0x02, &[2])),
        der(0x02, &[1]),
        ecdsa_sha256.clone(),
        name(issuer),
        seq(&[der(0x17, b"250101000000Z"), der(0x17, b"491231235959Z")]),
        name(subject),
        spki,
    ];
    if !attrs.is_empty() {
        let map: BTreeMap<&str, &str> = attrs.iter().copied().collect();
        let json = serde_json::json!({ "attrs": map }).to_string();
        let ext = seq(&[
            oid(crate::identity::ATTRIBUTES_OID),
            der(0x04, json.as_bytes()),
        ]);
        tbs.push(der(0xa3, &seq(&[ext])));
    }
    let signature = seq(&[der(0x02, &[1]), der(0x02, &[1])]);
    let cert = seq(&[
        seq(&tbs),
        ecdsa_sha256,
        der(0x03, &[&[0u8][..], &signature].concat()),
    ]);
    let b64 = base64::engine::general_purpose::STANDARD.encode(cert);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

// ---- the ledger ----

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    value: Vec<u8>,
    version: Version,
    metadata: BTreeMap<String, Vec<u8>>,
}

/// Private writes by (namespace, collection): key → value (`None` = delete).
pub type PrivateWrites = BTreeMap<(String, String), BTreeMap<String, Option<Vec<u8>>>>;

/// What one transaction did: its answer and its read/write sets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TxRecord {
    /// The transaction id.
    pub txid: String,
    /// The chaincode's response.
    pub response: Response,
    /// The event it set.
    pub event: Option<ChaincodeEvent>,
    /// The public read/write set of each namespace it touched, sorted by namespace.
    pub rwsets: BTreeMap<String, KvRwSet>,
    /// Private writes by (namespace, collection): key → value (`None` = delete).
    pub private_writes: PrivateWrites,
    /// What the chaincode logged.
    pub logs: Vec<String>,
    /// Whether its writes were committed.
    pub committed: bool,
}

impl TxRecord {
    /// The recorded read/write set of `namespace` (empty if untouched).
    pub fn rwset(&self, namespace: &str) -> KvRwSet {
        self.rwsets.get(namespace).cloned().unwrap_or_default()
    }

    /// The value written to `key` in `namespace` (`Some(None)`: deleted; `None`: not
    /// written).
    pub fn written(&self, namespace: &str, key: &str) -> Option<Option<Vec<u8>>> {
        self.rwsets.get(namespace).and_then(|rw| {
            rw.writes
                .iter()
                .find(|w| w.key == key)
                .map(|w| (!w.is_delete).then(|| w.value.clone()))
        })
    }
}

/// An in-memory Fabric ledger running chaincodes natively.
#[derive(Debug)]
pub struct MockLedger {
    channel_id: String,
    namespace: String,
    state: BTreeMap<String, BTreeMap<String, Entry>>,
    history: BTreeMap<(String, String), Vec<KeyModification>>,
    private: BTreeMap<(String, String), BTreeMap<String, Vec<u8>>>,
    chaincodes: BTreeMap<String, Chaincode>,
    next_block: u64,
    tx_count: u64,
    transient: BTreeMap<String, Vec<u8>>,
    timestamp: Timestamp,
    last: Option<TxRecord>,
}

impl Default for MockLedger {
    fn default() -> Self {
        Self::new("mycc")
    }
}

impl MockLedger {
    /// An empty ledger on channel `mychannel` where invoked chaincodes use namespace
    /// `namespace` (their chaincode name). The first commit is block 1.
    pub fn new(namespace: &str) -> Self {
        Self {
            channel_id: "mychannel".into(),
            namespace: namespace.to_owned(),
            state: BTreeMap::new(),
            history: BTreeMap::new(),
            private: BTreeMap::new(),
            chaincodes: BTreeMap::new(),
            next_block: 1,
            tx_count: 0,
            transient: BTreeMap::new(),
            timestamp: Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            },
            last: None,
        }
    }

    /// Sets the channel id.
    pub fn with_channel(mut self, channel_id: &str) -> Self {
        channel_id.clone_into(&mut self.channel_id);
        self
    }

    /// Sets the number of the next block committed (to line versions up with a ledger
    /// that already holds blocks).
    pub fn with_next_block(mut self, block: u64) -> Self {
        self.next_block = block;
        self
    }

    /// Deploys `chaincode` as `name`, for chaincode-to-chaincode invocations.
    pub fn deploy(&mut self, name: &str, chaincode: Chaincode) {
        self.chaincodes.insert(name.to_owned(), chaincode);
    }

    /// Sets the transient map of the next transactions.
    pub fn set_transient(&mut self, transient: BTreeMap<String, Vec<u8>>) {
        self.transient = transient;
    }

    /// Sets the timestamp of the next transactions.
    pub fn set_timestamp(&mut self, timestamp: Timestamp) {
        self.timestamp = timestamp;
    }

    /// Writes `key` straight into the committed state of the default namespace (seeding).
    pub fn seed(&mut self, key: &str, value: &[u8]) {
        let namespace = self.namespace.clone();
        let block = self.next_block;
        self.next_block += 1;
        self.apply(&namespace, key, Some(value.to_vec()), block, "seed");
    }

    /// The committed value of `key` in the default namespace.
    pub fn state(&self, key: &str) -> Option<&[u8]> {
        self.state_of(&self.namespace, key)
    }

    /// The committed value of `key` in `namespace`.
    pub fn state_of(&self, namespace: &str, key: &str) -> Option<&[u8]> {
        self.state
            .get(namespace)
            .and_then(|ns| ns.get(key))
            .map(|e| e.value.as_slice())
    }

    /// The committed version of `key` in the default namespace.
    pub fn version(&self, key: &str) -> Option<Version> {
        self.state
            .get(&self.namespace)
            .and_then(|ns| ns.get(key))
            .map(|e| e.version)
    }

    /// The committed keys of the default namespace, in order.
    pub fn keys(&self) -> Vec<String> {
        self.state
            .get(&self.namespace)
            .map(|ns| ns.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The committed value of `key` in private `collection` of the default namespace.
    pub fn private_state(&self, collection: &str, key: &str) -> Option<&[u8]> {
        self.private
            .get(&(self.namespace.clone(), collection.to_owned()))
            .and_then(|c| c.get(key))
            .map(Vec::as_slice)
    }

    /// The record of the last transaction.
    pub fn last_tx(&self) -> Option<&TxRecord> {
        self.last.as_ref()
    }

    /// The number of the next block committed.
    pub fn next_block(&self) -> u64 {
        self.next_block
    }

    /// Submits a transaction: runs `function(args)` of `chaincode` as `identity`,
    /// records it and, if the response status is below 400, commits its writes.
    pub fn invoke(
        &mut self,
        chaincode: &Chaincode,
        identity: &MockIdentity,
        function: &str,
        args: &[&str],
    ) -> Response {
        let mut all: Vec<&[u8]> = vec![function.as_bytes()];
        all.extend(args.iter().map(|a| a.as_bytes()));
        self.invoke_bytes(chaincode, identity, &all, true)
    }

    /// Evaluates a transaction: like [`Self::invoke`] without committing.
    pub fn evaluate(
        &mut self,
        chaincode: &Chaincode,
        identity: &MockIdentity,
        function: &str,
        args: &[&str],
    ) -> Response {
        let mut all: Vec<&[u8]> = vec![function.as_bytes()];
        all.extend(args.iter().map(|a| a.as_bytes()));
        self.invoke_bytes(chaincode, identity, &all, false)
    }

    /// Runs a transaction with raw arguments (function name first); commits it when
    /// `commit` and the status is below 400.
    pub fn invoke_bytes(
        &mut self,
        chaincode: &Chaincode,
        identity: &MockIdentity,
        args: &[&[u8]],
        commit: bool,
    ) -> Response {
        self.tx_count += 1;
        let txid = format!("mock-tx-{}", self.tx_count);
        let creator = identity.serialized();
        let input = TxInput {
            txid: txid.clone(),
            channel_id: self.channel_id.clone(),
            input: Some(ChaincodeInput {
                args: args.iter().map(|a| a.to_vec()).collect(),
                ..ChaincodeInput::default()
            }),
            binding: Sha256::digest([txid.as_bytes(), &creator].concat()).to_vec(),
            creator,
            transient: self.transient.clone(),
            timestamp: Some(self.timestamp),
        };
        let mut state = TxState {
            txid: txid.clone(),
            ..TxState::default()
        };
        let (response, event) = {
            let mut tx = MockTx {
                ledger: self,
                state: &mut state,
                namespace: self.namespace.clone(),
                input,
                completion: None,
            };
            let outcome = chaincode.run(&mut tx);
            match (outcome, tx.completion.take()) {
                (Ok(()), Some(done)) => done,
                (Err(e), _) => (error_response(e.to_string()), None),
                (Ok(()), None) => (
                    error_response("the chaincode did not complete".into()),
                    None,
                ),
            }
        };
        let mut record = state.finish(response.clone(), event);
        if commit && response.status < 400 {
            let block = self.next_block;
            self.next_block += 1;
            for (namespace, rwset) in &record.rwsets {
                for write in &rwset.writes {
                    let value = (!write.is_delete).then(|| write.value.clone());
                    self.apply(namespace, &write.key, value, block, &txid);
                }
                for write in &rwset.metadata_writes {
                    if let Some(entry) = self
                        .state
                        .get_mut(namespace)
                        .and_then(|ns| ns.get_mut(&write.key))
                    {
                        entry.metadata = write
                            .entries
                            .iter()
                            .map(|e| (e.name.clone(), e.value.clone()))
                            .collect();
                        entry.version = Version {
                            block_num: block,
                            tx_num: 0,
                        };
                    }
                }
            }
            for ((namespace, collection), writes) in &record.private_writes {
                let coll = self
                    .private
                    .entry((namespace.clone(), collection.clone()))
                    .or_default();
                for (key, value) in writes {
                    match value {
                        Some(v) => coll.insert(key.clone(), v.clone()),
                        None => coll.remove(key),
                    };
                }
            }
            record.committed = true;
        }
        self.last = Some(record);
        response
    }

    fn apply(
        &mut self,
        namespace: &str,
        key: &str,
        value: Option<Vec<u8>>,
        block: u64,
        txid: &str,
    ) {
        let version = Version {
            block_num: block,
            tx_num: 0,
        };
        let ns = self.state.entry(namespace.to_owned()).or_default();
        match &value {
            Some(v) => {
                let metadata = ns.get(key).map(|e| e.metadata.clone()).unwrap_or_default();
                ns.insert(
                    key.to_owned(),
                    Entry {
                        value: v.clone(),
                        version,
                        metadata,
                    },
                );
            }
            None => {
                ns.remove(key);
            }
        }
        self.history
            .entry((namespace.to_owned(), key.to_owned()))
            .or_default()
            .push(KeyModification {
                tx_id: txid.to_owned(),
                value: value.clone().unwrap_or_default(),
                timestamp: Some(self.timestamp),
                is_delete: value.is_none(),
            });
    }
}

fn error_response(message: String) -> Response {
    Response {
        status: 500,
        message,
        payload: Vec::new(),
    }
}

/// A range query as recorded: its namespace, its info, the reads it pulled.
#[derive(Debug)]
struct RangeRecord {
    namespace: String,
    info: RangeQueryInfo,
    reads: RangeReads,
}

/// Fabric's maximum degree of the range query Merkle tree.
const MAX_DEGREE: usize = 50;

/// Fabric's `RangeQueryResultsHelper` with hashing on: reads are kept raw until more than
/// [`MAX_DEGREE`] are pending, then hashed (SHA-256 of the encoded `QueryReads`) into a
/// Merkle tree whose levels hold at most [`MAX_DEGREE`] hashes.
#[derive(Debug, Default)]
struct RangeReads {
    pending: Vec<KvRead>,
    levels: BTreeMap<u32, Vec<Vec<u8>>>,
    max_level: u32,
}

fn sha256_of(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

impl RangeReads {
    fn add(&mut self, read: KvRead) {
        self.pending.push(read);
        if self.pending.len() > MAX_DEGREE {
            let reads = std::mem::take(&mut self.pending);
            self.update(sha256_of(&QueryReads { kv_reads: reads }.encode_to_vec()));
        }
    }

    fn update(&mut self, leaf: Vec<u8>) {
        self.max_level = self.max_level.max(1);
        self.levels.entry(1).or_default().push(leaf);
        let mut level = 1;
        while self.levels.get(&level).map_or(0, Vec::len) > MAX_DEGREE {
            let hashes = self.levels.remove(&level).unwrap_or_default();
            level += 1;
            self.levels
                .entry(level)
                .or_default()
                .push(sha256_of(&hashes.concat()));
            self.max_level = self.max_level.max(level);
        }
    }

    /// The raw reads, or the Merkle summary once hashing started.
    fn done(mut self) -> (Vec<KvRead>, Option<QueryReadsMerkleSummary>) {
        if self.levels.is_empty() {
            return (self.pending, None);
        }
        if !self.pending.is_empty() {
            let reads = std::mem::take(&mut self.pending);
            self.update(sha256_of(&QueryReads { kv_reads: reads }.encode_to_vec()));
        }
        let mut level = 1;
        while level < self.max_level {
            let hashes = self.levels.remove(&level).unwrap_or_default();
            level += 1;
            let hash = match hashes.as_slice() {
                [] => continue,
                [only] => only.clone(),
                _ => sha256_of(&hashes.concat()),
            };
            self.levels.entry(level).or_default().push(hash);
        }
        if self.levels.get(&self.max_level).map_or(0, Vec::len) > MAX_DEGREE {
            let hashes = self.levels.remove(&self.max_level).unwrap_or_default();
            self.max_level += 1;
            self.levels
                .insert(self.max_level, vec![sha256_of(&hashes.concat())]);
        }
        let summary = QueryReadsMerkleSummary {
            max_degree: MAX_DEGREE as u32,
            max_level: self.max_level,
            max_level_hashes: self.levels.remove(&self.max_level).unwrap_or_default(),
        };
        (Vec::new(), Some(summary))
    }
}

#[derive(Debug, Default)]
struct NsRecord {
    reads: BTreeMap<String, KvRead>,
    writes: BTreeMap<String, KvWrite>,
    metadata_writes: BTreeMap<String, KvMetadataWrite>,
}

#[derive(Debug)]
struct OpenQuery {
    namespace: String,
    results: Vec<(String, Vec<u8>, Version)>,
    position: usize,
    record: usize,
    end: String,
    limit: usize,
    paginated: bool,
    pending: Option<(String, Vec<u8>)>,
    returned: usize,
    /// History queries: encoded `KeyModification`s, served without recording.
    history: Option<Vec<Vec<u8>>>,
}

/// The state of one transaction (shared by the chaincodes it invokes).
#[derive(Debug, Default)]
struct TxState {
    txid: String,
    namespaces: BTreeMap<String, NsRecord>,
    ranges: Vec<RangeRecord>,
    queries: HashMap<String, OpenQuery>,
    next_query: u64,
    private_writes: PrivateWrites,
    wrote: bool,
    paginated: bool,
    logs: Vec<String>,
}

impl TxState {
    fn finish(self, response: Response, event: Option<ChaincodeEvent>) -> TxRecord {
        let mut rwsets: BTreeMap<String, KvRwSet> = BTreeMap::new();
        for (namespace, ns) in self.namespaces {
            let rw = rwsets.entry(namespace).or_default();
            rw.reads = ns.reads.into_values().collect();
            rw.writes = ns.writes.into_values().collect();
            rw.metadata_writes = ns.metadata_writes.into_values().collect();
        }
        for record in self.ranges {
            let mut info = record.info;
            match record.reads.done() {
                (_, Some(summary)) => info.reads_merkle_hashes = Some(summary),
                (kv_reads, None) if !kv_reads.is_empty() => {
                    info.raw_reads = Some(QueryReads { kv_reads });
                }
                _ => {}
            }
            let rw = rwsets.entry(record.namespace).or_default();
            // Fabric keeps only the first of identical (start, end, exhausted) queries.
            let duplicate = rw.range_queries_info.iter().any(|r| {
                r.start_key == info.start_key
                    && r.end_key == info.end_key
                    && r.itr_exhausted == info.itr_exhausted
            });
            if !duplicate {
                rw.range_queries_info.push(info);
            }
        }
        TxRecord {
            txid: self.txid,
            response,
            event,
            rwsets,
            private_writes: self.private_writes,
            logs: self.logs,
            committed: false,
        }
    }
}

/// The [`Host`] of one chaincode execution in a mock transaction.
struct MockTx<'a> {
    ledger: &'a MockLedger,
    state: &'a mut TxState,
    namespace: String,
    input: TxInput,
    completion: Option<(Response, Option<ChaincodeEvent>)>,
}

fn type_name(kind: i32) -> &'static str {
    match kind {
        kind::GET_STATE => "GET_STATE",
        kind::PUT_STATE => "PUT_STATE",
        kind::DEL_STATE => "DEL_STATE",
        kind::INVOKE_CHAINCODE => "INVOKE_CHAINCODE",
        kind::GET_STATE_BY_RANGE => "GET_STATE_BY_RANGE",
        kind::GET_QUERY_RESULT => "GET_QUERY_RESULT",
        kind::QUERY_STATE_NEXT => "QUERY_STATE_NEXT",
        kind::QUERY_STATE_CLOSE => "QUERY_STATE_CLOSE",
        kind::GET_HISTORY_FOR_KEY => "GET_HISTORY_FOR_KEY",
        kind::GET_STATE_METADATA => "GET_STATE_METADATA",
        kind::PUT_STATE_METADATA => "PUT_STATE_METADATA",
        kind::GET_PRIVATE_DATA_HASH => "GET_PRIVATE_DATA_HASH",
        kind::PURGE_PRIVATE_DATA => "PURGE_PRIVATE_DATA",
        kind::GET_STATE_MULTIPLE => "GET_STATE_MULTIPLE",
        _ => "UNKNOWN",
    }
}

fn decode<M: Message + Default>(bytes: &[u8]) -> Result<M, String> {
    M::decode(bytes).map_err(|e| format!("unmarshal failed: {e}"))
}

impl MockTx<'_> {
    fn committed(&self, key: &str) -> Option<&Entry> {
        self.ledger
            .state
            .get(&self.namespace)
            .and_then(|ns| ns.get(key))
    }

    fn ns(&mut self) -> &mut NsRecord {
        self.state
            .namespaces
            .entry(self.namespace.clone())
            .or_default()
    }

    fn read(&mut self, key: &str) -> Option<Entry> {
        let entry = self.committed(key).cloned();
        let read = KvRead {
            key: key.to_owned(),
            version: entry.as_ref().map(|e| e.version),
        };
        self.ns().reads.insert(key.to_owned(), read);
        entry
    }

    fn check_write(&mut self) -> Result<(), String> {
        if self.state.paginated {
            return Err(format!(
                "txid [{}]: unsuppored transaction. Transaction has already performed a paginated query. Writes are not allowed",
                self.state.txid
            ));
        }
        self.state.wrote = true;
        Ok(())
    }

    fn private(&self, collection: &str) -> Option<&BTreeMap<String, Vec<u8>>> {
        self.ledger
            .private
            .get(&(self.namespace.clone(), collection.to_owned()))
    }

    fn private_write(&mut self, collection: &str, key: &str, value: Option<Vec<u8>>) {
        self.state
            .private_writes
            .entry((self.namespace.clone(), collection.to_owned()))
            .or_default()
            .insert(key.to_owned(), value);
    }

    fn write(&mut self, collection: &str, key: &str, value: Vec<u8>) -> Result<(), String> {
        self.check_write()?;
        if !collection.is_empty() {
            let value = (!value.is_empty()).then_some(value);
            self.private_write(collection, key, value);
            return Ok(());
        }
        let write = KvWrite {
            key: key.to_owned(),
            is_delete: value.is_empty(),
            value,
        };
        self.ns().writes.insert(key.to_owned(), write);
        Ok(())
    }

    fn get(&mut self, collection: &str, key: &str) -> Vec<u8> {
        if collection.is_empty() {
            self.read(key).map(|e| e.value).unwrap_or_default()
        } else {
            self.private(collection)
                .and_then(|c| c.get(key).cloned())
                .unwrap_or_default()
        }
    }

    fn open_range(&mut self, req: GetStateByRange) -> Result<Vec<u8>, String> {
        let page = if req.metadata.is_empty() {
            None
        } else {
            Some(decode::<QueryMetadata>(&req.metadata)?)
        }
        .filter(|p| p.page_size != 0 || !p.bookmark.is_empty());
        let mut start = req.start_key.clone();
        let mut limit = 100_000;
        if let Some(page) = &page {
            if self.state.wrote {
                return Err(format!(
                    "txid [{}]: unsuppored transaction. Paginated queries are supported only in a read-only transaction",
                    self.state.txid
                ));
            }
            self.state.paginated = true;
            if !page.bookmark.is_empty() {
                start.clone_from(&page.bookmark);
            }
            if let Ok(size) = usize::try_from(page.page_size)
                && size > 0
                && size < limit
            {
                limit = size;
            }
        }
        let in_range = |k: &String| *k >= start && (req.end_key.is_empty() || *k < req.end_key);
        let results: Vec<(String, Vec<u8>, Version)> = if req.collection.is_empty() {
            self.ledger
                .state
                .get(&self.namespace)
                .map(|ns| {
                    ns.iter()
                        .filter(|(k, _)| in_range(k))
                        .map(|(k, e)| (k.clone(), e.value.clone(), e.version))
                        .collect()
                })
                .unwrap_or_default()
        } else {
            self.private(&req.collection)
                .map(|c| {
                    c.iter()
                        .filter(|(k, _)| in_range(k))
                        .map(|(k, v)| (k.clone(), v.clone(), Version::default()))
                        .collect()
                })
                .unwrap_or_default()
        };
        let record = if req.collection.is_empty() {
            self.state.ranges.push(RangeRecord {
                namespace: self.namespace.clone(),
                info: RangeQueryInfo {
                    start_key: start.clone(),
                    ..RangeQueryInfo::default()
                },
                reads: RangeReads::default(),
            });
            self.state.ranges.len() - 1
        } else {
            usize::MAX
        };
        self.state.next_query += 1;
        let id = format!("{}-{}", self.state.txid, self.state.next_query);
        self.state.queries.insert(
            id.clone(),
            OpenQuery {
                namespace: self.namespace.clone(),
                results,
                position: 0,
                record,
                end: req.end_key,
                limit,
                paginated: page.is_some(),
                pending: None,
                returned: 0,
                history: None,
            },
        );
        self.next(&id)
    }

    /// The peer simulator's batching, recording each result pulled.
    fn next(&mut self, id: &str) -> Result<Vec<u8>, String> {
        let mut query = self
            .state
            .queries
            .remove(id)
            .ok_or("query iterator not found")?;
        if let Some(history) = &mut query.history {
            let take = history.len().min(MAX_RESULT_LIMIT);
            let results = history
                .drain(..take)
                .map(|result_bytes| QueryResultBytes { result_bytes })
                .collect();
            let has_more = !history.is_empty();
            if has_more {
                self.state.queries.insert(id.to_owned(), query);
            }
            return Ok(QueryResponse {
                results,
                has_more,
                id: id.to_owned(),
                metadata: Vec::new(),
            }
            .encode_to_vec());
        }
        let mut results: Vec<(String, Vec<u8>)> = query.pending.take().into_iter().collect();
        let mut has_more = false;
        loop {
            if query.returned >= query.limit {
                break;
            }
            let Some((key, value, version)) = query.results.get(query.position).cloned() else {
                if let Some(record) = self.state.ranges.get_mut(query.record) {
                    record.info.itr_exhausted = true;
                    record.info.end_key.clone_from(&query.end);
                }
                break;
            };
            query.position += 1;
            if let Some(record) = self.state.ranges.get_mut(query.record) {
                record.reads.add(KvRead {
                    key: key.clone(),
                    version: Some(version),
                });
                record.info.end_key.clone_from(&key);
            }
            query.returned += 1;
            if !query.paginated && results.len() == MAX_RESULT_LIMIT {
                query.pending = Some((key, value));
                has_more = true;
                break;
            }
            results.push((key, value));
        }
        let metadata = if query.paginated {
            let bookmark = query
                .results
                .get(query.position)
                .map(|(k, _, _)| k.clone())
                .unwrap_or_default();
            QueryResponseMetadata {
                fetched_records_count: i32::try_from(query.returned).unwrap_or(i32::MAX),
                bookmark,
            }
            .encode_to_vec()
        } else {
            Vec::new()
        };
        let namespace = query.namespace.clone();
        if has_more {
            self.state.queries.insert(id.to_owned(), query);
        }
        Ok(QueryResponse {
            results: results
                .into_iter()
                .map(|(key, value)| QueryResultBytes {
                    result_bytes: Kv {
                        namespace: namespace.clone(),
                        key,
                        value,
                    }
                    .encode_to_vec(),
                })
                .collect(),
            has_more,
            id: id.to_owned(),
            metadata,
        }
        .encode_to_vec())
    }

    fn invoke_chaincode(&mut self, spec: ChaincodeSpec) -> Result<Vec<u8>, String> {
        let target = spec.chaincode_id.map(|id| id.name).unwrap_or_default();
        let (name, channel) = target.split_once('/').unwrap_or((&target, ""));
        if !channel.is_empty() && channel != self.ledger.channel_id {
            return Err(format!("failed to find ledger for channel: {channel}"));
        }
        let ledger = self.ledger;
        let chaincode = ledger.chaincodes.get(name).ok_or_else(|| {
            format!("execute failed: chaincode {name} is not deployed on the mock ledger")
        })?;
        let input = TxInput {
            input: Some(spec.input.unwrap_or_default()),
            ..self.input.clone()
        };
        let mut callee = MockTx {
            ledger,
            state: &mut *self.state,
            namespace: name.to_owned(),
            input,
            completion: None,
        };
        chaincode
            .run(&mut callee)
            .map_err(|e| format!("execute failed: {e}"))?;
        let (response, _) = callee
            .completion
            .ok_or("execute failed: the chaincode did not complete")?;
        Ok(response.encode_to_vec())
    }

    fn serve(&mut self, kind: i32, request: &[u8]) -> Result<Vec<u8>, String> {
        match kind {
            kind::GET_STATE => {
                let req = decode::<GetState>(request)?;
                Ok(self.get(&req.collection, &req.key))
            }
            kind::GET_STATE_MULTIPLE => {
                let req = decode::<GetStateMultiple>(request)?;
                let values = req
                    .keys
                    .iter()
                    .map(|k| self.get(&req.collection, k))
                    .collect();
                Ok(GetStateMultipleResult { values }.encode_to_vec())
            }
            kind::PUT_STATE => {
                let req = decode::<PutState>(request)?;
                self.write(&req.collection, &req.key, req.value)?;
                Ok(Vec::new())
            }
            kind::DEL_STATE => {
                let req = decode::<DelState>(request)?;
                self.write(&req.collection, &req.key, Vec::new())?;
                Ok(Vec::new())
            }
            kind::GET_STATE_METADATA => {
                let req = decode::<GetStateMetadata>(request)?;
                let metadata = if req.collection.is_empty() {
                    self.read(&req.key).map(|e| e.metadata).unwrap_or_default()
                } else {
                    BTreeMap::new()
                };
                Ok(StateMetadataResult {
                    entries: metadata
                        .into_iter()
                        .map(|(metakey, value)| StateMetadata { metakey, value })
                        .collect(),
                }
                .encode_to_vec())
            }
            kind::PUT_STATE_METADATA => {
                let req = decode::<PutStateMetadata>(request)?;
                if !req.collection.is_empty() {
                    return Err(format!(
                        "private data collection {} metadata is not supported by the mock ledger",
                        req.collection
                    ));
                }
                self.check_write()?;
                let entry = req.metadata.unwrap_or_default();
                let write = KvMetadataWrite {
                    key: req.key.clone(),
                    entries: vec![KvMetadataEntry {
                        name: entry.metakey,
                        value: entry.value,
                    }],
                };
                self.ns().metadata_writes.insert(req.key, write);
                Ok(Vec::new())
            }
            kind::GET_PRIVATE_DATA_HASH => {
                let req = decode::<GetState>(request)?;
                Ok(self
                    .private(&req.collection)
                    .and_then(|c| c.get(&req.key))
                    .map(|v| Sha256::digest(v).to_vec())
                    .unwrap_or_default())
            }
            kind::PURGE_PRIVATE_DATA => {
                let req = decode::<DelState>(request)?;
                if req.collection.is_empty() {
                    return Err("only applicable for private data".into());
                }
                self.check_write()?;
                self.private_write(&req.collection, &req.key, None);
                Ok(Vec::new())
            }
            kind::GET_STATE_BY_RANGE => self.open_range(decode::<GetStateByRange>(request)?),
            kind::QUERY_STATE_NEXT => self.next(&decode::<QueryStateNext>(request)?.id),
            kind::QUERY_STATE_CLOSE => {
                let req = decode::<QueryStateClose>(request)?;
                self.state.queries.remove(&req.id);
                Ok(QueryResponse {
                    id: req.id,
                    ..QueryResponse::default()
                }
                .encode_to_vec())
            }
            kind::GET_QUERY_RESULT => Err("ExecuteQuery not supported for leveldb".into()),
            kind::GET_HISTORY_FOR_KEY => {
                let req = decode::<GetHistoryForKey>(request)?;
                let entries: Vec<Vec<u8>> = self
                    .ledger
                    .history
                    .get(&(self.namespace.clone(), req.key))
                    .map(|h| h.iter().rev().map(Message::encode_to_vec).collect())
                    .unwrap_or_default();
                self.state.next_query += 1;
                let id = format!("history-{}", self.state.next_query);
                self.state.queries.insert(
                    id.clone(),
                    OpenQuery {
                        namespace: self.namespace.clone(),
                        results: Vec::new(),
                        position: 0,
                        record: usize::MAX,
                        end: String::new(),
                        limit: 0,
                        paginated: false,
                        pending: None,
                        returned: 0,
                        history: Some(entries),
                    },
                );
                self.next(&id)
            }
            kind::INVOKE_CHAINCODE => self.invoke_chaincode(decode::<ChaincodeSpec>(request)?),
            other => Err(format!("unexpected message type {other}")),
        }
    }
}

impl Host for MockTx<'_> {
    fn call(&mut self, kind: i32, request: &[u8]) -> Result<Vec<u8>, HostError> {
        match kind {
            kind::TX_INPUT => Ok(self.input.encode_to_vec()),
            kind::SIGNED_PROPOSAL => Ok(Vec::new()),
            _ => self.serve(kind, request).map_err(|e| {
                HostError::Peer(format!(
                    "{} failed: transaction ID: {}: {e}",
                    type_name(kind),
                    self.state.txid
                ))
            }),
        }
    }

    fn complete(&mut self, response: &[u8], event: Option<&[u8]>) {
        let response = Response::decode(response).unwrap_or_default();
        let event = event.and_then(|e| ChaincodeEvent::decode(e).ok());
        self.completion = Some((response, event));
    }

    fn log(&mut self, level: LogLevel, text: &str) {
        self.state.logs.push(format!("{level:?}: {text}"));
    }
}
