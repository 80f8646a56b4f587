//! The Fabric protobuf messages a chaincode exchanges with the peer, defined here with
//! the field numbers and types of fabric-protos v0.2.0 (`peer/chaincode_shim.proto`,
//! `peer/chaincode.proto`, `peer/proposal_response.proto`, `peer/chaincode_event.proto`,
//! `msp/identities.proto`, `ledger/queryresult/kv_query_result.proto`,
//! `ledger/rwset/kvrwset/kv_rwset.proto`) plus Weft's `TxInput`.
//!
//! The SDK cannot depend on `weft-proto` (it pulls tonic and tokio, which do not build
//! for `wasm32-unknown-unknown`); a test cross-checks every message here against it.

use std::collections::BTreeMap;

pub use prost_types::Timestamp;

/// `protos.GetState` (also the request of GET_PRIVATE_DATA_HASH).
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct GetState {
    /// The key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// The private data collection ("" for the world state).
    #[prost(string, tag = "2")]
    pub collection: String,
}

/// `protos.GetStateMetadata`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct GetStateMetadata {
    /// The key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// The private data collection ("" for the world state).
    #[prost(string, tag = "2")]
    pub collection: String,
}

/// `protos.PutState`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct PutState {
    /// The key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// The value.
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
    /// The private data collection ("" for the world state).
    #[prost(string, tag = "3")]
    pub collection: String,
}

/// `protos.PutStateMetadata`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct PutStateMetadata {
    /// The key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// The private data collection ("" for the world state).
    #[prost(string, tag = "3")]
    pub collection: String,
    /// The metadata entry to set.
    #[prost(message, optional, tag = "4")]
    pub metadata: Option<StateMetadata>,
}

/// `protos.DelState` (also the request of PURGE_PRIVATE_DATA).
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct DelState {
    /// The key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// The private data collection ("" for the world state).
    #[prost(string, tag = "2")]
    pub collection: String,
}

/// `protos.GetStateByRange`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct GetStateByRange {
    /// First key of the range (inclusive).
    #[prost(string, tag = "1")]
    pub start_key: String,
    /// End of the range (exclusive; "" = to the end of the namespace).
    #[prost(string, tag = "2")]
    pub end_key: String,
    /// The private data collection ("" for the world state).
    #[prost(string, tag = "3")]
    pub collection: String,
    /// An encoded [`QueryMetadata`] for a paginated query, empty otherwise.
    #[prost(bytes = "vec", tag = "4")]
    pub metadata: Vec<u8>,
}

/// `protos.GetQueryResult` (rich queries; the peer's LevelDB-style state answers ERROR).
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct GetQueryResult {
    /// The query text.
    #[prost(string, tag = "1")]
    pub query: String,
    /// The private data collection ("" for the world state).
    #[prost(string, tag = "2")]
    pub collection: String,
    /// An encoded [`QueryMetadata`] for a paginated query, empty otherwise.
    #[prost(bytes = "vec", tag = "3")]
    pub metadata: Vec<u8>,
}

/// `protos.QueryMetadata`: the page of a paginated query.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct QueryMetadata {
    /// Page size.
    #[prost(int32, tag = "1")]
    pub page_size: i32,
    /// Where the page starts ("" = at the start key).
    #[prost(string, tag = "2")]
    pub bookmark: String,
}

/// `protos.GetHistoryForKey`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct GetHistoryForKey {
    /// The key.
    #[prost(string, tag = "1")]
    pub key: String,
}

/// `protos.QueryStateNext`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct QueryStateNext {
    /// The query id.
    #[prost(string, tag = "1")]
    pub id: String,
}

/// `protos.QueryStateClose`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct QueryStateClose {
    /// The query id.
    #[prost(string, tag = "1")]
    pub id: String,
}

/// `protos.QueryResultBytes`: one encoded result of a query.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct QueryResultBytes {
    /// An encoded [`Kv`] or [`KeyModification`].
    #[prost(bytes = "vec", tag = "1")]
    pub result_bytes: Vec<u8>,
}

/// `protos.QueryResponse`: a batch of query results.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct QueryResponse {
    /// The results of this batch.
    #[prost(message, repeated, tag = "1")]
    pub results: Vec<QueryResultBytes>,
    /// Whether QUERY_STATE_NEXT gives more.
    #[prost(bool, tag = "2")]
    pub has_more: bool,
    /// The query id.
    #[prost(string, tag = "3")]
    pub id: String,
    /// An encoded [`QueryResponseMetadata`] (paginated queries).
    #[prost(bytes = "vec", tag = "4")]
    pub metadata: Vec<u8>,
}

/// `protos.QueryResponseMetadata`: how a page ended.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct QueryResponseMetadata {
    /// Number of records in the page.
    #[prost(int32, tag = "1")]
    pub fetched_records_count: i32,
    /// Where the next page starts ("" = no more).
    #[prost(string, tag = "2")]
    pub bookmark: String,
}

/// `protos.StateMetadata`: one metadata entry of a key.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct StateMetadata {
    /// Entry name, e.g. `VALIDATION_PARAMETER`.
    #[prost(string, tag = "1")]
    pub metakey: String,
    /// Entry value.
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `protos.StateMetadataResult`: every metadata entry of a key.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct StateMetadataResult {
    /// The entries.
    #[prost(message, repeated, tag = "1")]
    pub entries: Vec<StateMetadata>,
}

/// `protos.GetStateMultiple`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct GetStateMultiple {
    /// The keys.
    #[prost(string, repeated, tag = "1")]
    pub keys: Vec<String>,
    /// The private data collection ("" for the world state).
    #[prost(string, tag = "2")]
    pub collection: String,
}

/// `protos.GetStateMultipleResult`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct GetStateMultipleResult {
    /// The values, in the order of the keys (empty = absent).
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub values: Vec<Vec<u8>>,
}

/// `queryresult.KV`: a range query result.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Kv {
    /// The namespace (chaincode name).
    #[prost(string, tag = "1")]
    pub namespace: String,
    /// The key.
    #[prost(string, tag = "2")]
    pub key: String,
    /// The value.
    #[prost(bytes = "vec", tag = "3")]
    pub value: Vec<u8>,
}

/// `queryresult.KeyModification`: one entry of a key's history.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct KeyModification {
    /// The transaction that wrote it.
    #[prost(string, tag = "1")]
    pub tx_id: String,
    /// The value written (empty for a delete).
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
    /// The transaction's timestamp.
    #[prost(message, optional, tag = "3")]
    pub timestamp: Option<Timestamp>,
    /// Whether it was a delete.
    #[prost(bool, tag = "4")]
    pub is_delete: bool,
}

/// `protos.ChaincodeID`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ChaincodeId {
    /// Path (unused by invocations).
    #[prost(string, tag = "1")]
    pub path: String,
    /// Name; for INVOKE_CHAINCODE `"cc"` or `"cc/channel"`.
    #[prost(string, tag = "2")]
    pub name: String,
    /// Version (unused by invocations).
    #[prost(string, tag = "3")]
    pub version: String,
}

/// `protos.ChaincodeInput`: a transaction's arguments.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ChaincodeInput {
    /// Function name and arguments.
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub args: Vec<Vec<u8>>,
    /// Decorations added by the peer.
    #[prost(btree_map = "string, bytes", tag = "2")]
    pub decorations: BTreeMap<String, Vec<u8>>,
    /// Whether this is an init invocation.
    #[prost(bool, tag = "3")]
    pub is_init: bool,
}

/// `protos.ChaincodeSpec`: the request of INVOKE_CHAINCODE.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ChaincodeSpec {
    /// `ChaincodeSpec.Type` (0 = UNDEFINED).
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// The chaincode to invoke.
    #[prost(message, optional, tag = "2")]
    pub chaincode_id: Option<ChaincodeId>,
    /// Its input.
    #[prost(message, optional, tag = "3")]
    pub input: Option<ChaincodeInput>,
    /// Unused.
    #[prost(int32, tag = "4")]
    pub timeout: i32,
}

/// `protos.Response`: a chaincode's answer.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Response {
    /// HTTP-like status: 200 OK, ≥ 400 error (Fabric's shim uses 500).
    #[prost(int32, tag = "1")]
    pub status: i32,
    /// Error message.
    #[prost(string, tag = "2")]
    pub message: String,
    /// Result bytes.
    #[prost(bytes = "vec", tag = "3")]
    pub payload: Vec<u8>,
}

/// `protos.ChaincodeEvent`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ChaincodeEvent {
    /// Set by the peer.
    #[prost(string, tag = "1")]
    pub chaincode_id: String,
    /// Set by the peer.
    #[prost(string, tag = "2")]
    pub tx_id: String,
    /// The event name.
    #[prost(string, tag = "3")]
    pub event_name: String,
    /// The event payload.
    #[prost(bytes = "vec", tag = "4")]
    pub payload: Vec<u8>,
}

/// `msp.SerializedIdentity`: a transaction creator.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct SerializedIdentity {
    /// The MSP id.
    #[prost(string, tag = "1")]
    pub mspid: String,
    /// The PEM-encoded X.509 certificate.
    #[prost(bytes = "vec", tag = "2")]
    pub id_bytes: Vec<u8>,
}

/// Weft's `TxInput` (answer to call kind 5): the transaction as the host hands it over.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TxInput {
    /// Transaction id.
    #[prost(string, tag = "1")]
    pub txid: String,
    /// Channel id.
    #[prost(string, tag = "2")]
    pub channel_id: String,
    /// The transaction's arguments.
    #[prost(message, optional, tag = "3")]
    pub input: Option<ChaincodeInput>,
    /// The creator's encoded [`SerializedIdentity`].
    #[prost(bytes = "vec", tag = "4")]
    pub creator: Vec<u8>,
    /// The proposal's transient map.
    #[prost(btree_map = "string, bytes", tag = "5")]
    pub transient: BTreeMap<String, Vec<u8>>,
    /// The channel header's timestamp.
    #[prost(message, optional, tag = "6")]
    pub timestamp: Option<Timestamp>,
    /// SHA-256(nonce ‖ creator ‖ epoch as 8-byte little-endian).
    #[prost(bytes = "vec", tag = "7")]
    pub binding: Vec<u8>,
}

/// `kvrwset.KVRWSet`: a namespace's read/write set (recorded by the mock ledger).
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct KvRwSet {
    /// Reads, sorted by key.
    #[prost(message, repeated, tag = "1")]
    pub reads: Vec<KvRead>,
    /// Range queries, in execution order.
    #[prost(message, repeated, tag = "2")]
    pub range_queries_info: Vec<RangeQueryInfo>,
    /// Writes, sorted by key.
    #[prost(message, repeated, tag = "3")]
    pub writes: Vec<KvWrite>,
    /// Metadata writes, sorted by key.
    #[prost(message, repeated, tag = "4")]
    pub metadata_writes: Vec<KvMetadataWrite>,
}

/// `kvrwset.KVRead`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct KvRead {
    /// The key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// The committed version read (absent for an absent key).
    #[prost(message, optional, tag = "2")]
    pub version: Option<Version>,
}

/// `kvrwset.KVWrite`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct KvWrite {
    /// The key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// Whether it is a delete.
    #[prost(bool, tag = "2")]
    pub is_delete: bool,
    /// The value.
    #[prost(bytes = "vec", tag = "3")]
    pub value: Vec<u8>,
}

/// `kvrwset.KVMetadataWrite`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct KvMetadataWrite {
    /// The key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// The key's whole metadata, sorted by name.
    #[prost(message, repeated, tag = "2")]
    pub entries: Vec<KvMetadataEntry>,
}

/// `kvrwset.KVMetadataEntry`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct KvMetadataEntry {
    /// Entry name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Entry value.
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `kvrwset.Version`: the (block, transaction) that last wrote a key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, prost::Message)]
pub struct Version {
    /// Block number.
    #[prost(uint64, tag = "1")]
    pub block_num: u64,
    /// Transaction number in the block.
    #[prost(uint64, tag = "2")]
    pub tx_num: u64,
}

/// `kvrwset.RangeQueryInfo`. Fabric's `oneof reads_info` is two optional fields here
/// (the same wire format as long as at most one is set).
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct RangeQueryInfo {
    /// The start key queried.
    #[prost(string, tag = "1")]
    pub start_key: String,
    /// The last key read, or the requested end key once exhausted.
    #[prost(string, tag = "2")]
    pub end_key: String,
    /// Whether the iterator reached the end of the range.
    #[prost(bool, tag = "3")]
    pub itr_exhausted: bool,
    /// The keys read (`reads_info.raw_reads`).
    #[prost(message, optional, tag = "4")]
    pub raw_reads: Option<QueryReads>,
    /// The Merkle summary of the keys read (`reads_info.reads_merkle_hashes`), when
    /// there were more than 50.
    #[prost(message, optional, tag = "5")]
    pub reads_merkle_hashes: Option<QueryReadsMerkleSummary>,
}

/// `kvrwset.QueryReadsMerkleSummary`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct QueryReadsMerkleSummary {
    /// Maximum degree of the tree (50 in Fabric).
    #[prost(uint32, tag = "1")]
    pub max_degree: u32,
    /// Level of the hashes given.
    #[prost(uint32, tag = "2")]
    pub max_level: u32,
    /// The hashes at `max_level`.
    #[prost(bytes = "vec", repeated, tag = "3")]
    pub max_level_hashes: Vec<Vec<u8>>,
}

/// `kvrwset.QueryReads`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct QueryReads {
    /// The keys read with their versions.
    #[prost(message, repeated, tag = "1")]
    pub kv_reads: Vec<KvRead>,
}
