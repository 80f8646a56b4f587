//! Block-level tests of the validator: a two-org channel made with `cryptogen` and
//! `configtxgen` (as `tools/tests/network.rs` does), real signed proposals, endorsements
//! and transactions, seeded chaincode definitions and an in-memory state; blocks crafted
//! to hit every code the validator produces, checked by their filter bytes and the
//! state after applying their updates.

// Test helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod config;
mod endorsement;
mod mvcc;
mod structure;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use prost::Message;
use weft_common::channelconfig::ChannelConfig;
use weft_common::crypto::Signer;
use weft_common::msp::{MspDir, SigningIdentity};
use weft_common::policy::dsl;
use weft_common::protoutil::{
    build_block, create_chaincode_proposal, create_proposal_response_payload, endorse,
    endorsement_proposal_hash, sign_envelope_payload, transaction_envelope,
};
use weft_proto::common::{Block, ChannelHeader, Envelope, Header};
use weft_proto::kvrwset::range_query_info::ReadsInfo;
use weft_proto::kvrwset::{
    HashedRwSet, KvMetadataEntry, KvMetadataWrite, KvRead, KvReadHash, KvWrite, KvWriteHash,
    KvrwSet, QueryReads, QueryReadsMerkleSummary, RangeQueryInfo, Version as ReadVersion,
};
use weft_proto::protos::{
    ApplicationPolicy, ChaincodeAction, ChaincodeEndorsedAction, ChaincodeId,
    ChaincodeProposalPayload, Endorsement, Response,
};
use weft_proto::rwset::{CollectionHashedReadWriteSet, NsReadWriteSet, TxReadWriteSet};
use weft_tools::configtxgen;
use weft_tools::cryptogen::{self, CryptoConfig};

use super::definitions::{ChaincodeDefinition, definitions_tx_updates, signature_policy};
use super::{BlockValidator, ValidatedBlock, ValidationError};
use crate::ledger::{
    KeyMetadata, LedgerError, StateIter, StateView, TxUpdates, Version, VersionedValue,
};

pub(crate) use weft_proto::protos::TxValidationCode as Code;

/// The channel every test uses.
pub(crate) const CHANNEL: &str = "mychannel";

// ---------------------------------------------------------------------------------------
// In-memory state

/// Committed state for tests: values by (namespace, key), and the txids in the ledger.
/// Applies [`TxUpdates`] by the ledger's documented rules, independently of the
/// validator's own overlay.
#[derive(Debug, Default, Clone)]
pub(crate) struct MemState {
    values: BTreeMap<(String, String), VersionedValue>,
    txids: HashSet<String>,
}

impl MemState {
    /// Sets a value at version (1, 0), keeping the key's metadata.
    pub fn put(&mut self, ns: &str, key: &str, value: Vec<u8>) {
        self.put_at(ns, key, value, Version::new(1, 0));
    }

    /// Sets a value at `version`, keeping the key's metadata.
    pub fn put_at(&mut self, ns: &str, key: &str, value: Vec<u8>, version: Version) {
        let id = (ns.to_owned(), key.to_owned());
        let metadata = self
            .values
            .get(&id)
            .map(|v| v.metadata.clone())
            .unwrap_or_default();
        self.values.insert(
            id,
            VersionedValue {
                value,
                metadata,
                version,
            },
        );
    }

    /// Sets a key's metadata (the key must exist).
    pub fn set_metadata(&mut self, ns: &str, key: &str, metadata: KeyMetadata) {
        self.values
            .get_mut(&(ns.to_owned(), key.to_owned()))
            .expect("set_metadata on an existing key")
            .metadata = metadata;
    }

    /// Records a txid as committed.
    pub fn add_txid(&mut self, txid: &str) {
        self.txids.insert(txid.to_owned());
    }

    /// Commits a block's updates: writes then metadata writes of each transaction, at
    /// version (block, tx_num). A value write keeps the metadata; a delete drops both; a
    /// metadata write on an absent key is ignored.
    pub fn apply(&mut self, block: u64, updates: &[TxUpdates]) {
        for tx in updates {
            let version = Version::new(block, tx.tx_num);
            self.txids.insert(tx.txid.clone());
            for ns in &tx.namespaces {
                for w in &ns.writes {
                    match &w.value {
                        Some(v) => self.put_at(&ns.namespace, &w.key, v.clone(), version),
                        None => {
                            self.values.remove(&(ns.namespace.clone(), w.key.clone()));
                        }
                    }
                }
                for m in &ns.metadata_writes {
                    if let Some(v) = self.values.get_mut(&(ns.namespace.clone(), m.key.clone())) {
                        v.metadata = m.entries.clone();
                        v.version = version;
                    }
                }
            }
        }
    }

    /// A committed value.
    pub fn value(&self, ns: &str, key: &str) -> Option<&[u8]> {
        self.values
            .get(&(ns.to_owned(), key.to_owned()))
            .map(|v| v.value.as_slice())
    }

    /// A committed version.
    pub fn version(&self, ns: &str, key: &str) -> Option<Version> {
        self.values
            .get(&(ns.to_owned(), key.to_owned()))
            .map(|v| v.version)
    }
}

/// Like the ledger, refuses namespaces with a NUL byte.
fn check_namespace(namespace: &str) -> Result<(), LedgerError> {
    if namespace.contains('\0') {
        return Err(LedgerError::InvalidNamespace(namespace.to_owned()));
    }
    Ok(())
}

impl StateView for MemState {
    fn get_state(&self, namespace: &str, key: &str) -> Result<Option<VersionedValue>, LedgerError> {
        check_namespace(namespace)?;
        Ok(self
            .values
            .get(&(namespace.to_owned(), key.to_owned()))
            .cloned())
    }

    fn range<'a>(
        &'a self,
        namespace: &str,
        start: &str,
        end: &str,
    ) -> Result<StateIter<'a>, LedgerError> {
        check_namespace(namespace)?;
        let ns = namespace.to_owned();
        let (start, end) = (start.to_owned(), end.to_owned());
        Ok(Box::new(
            self.values
                .iter()
                .filter(move |((n, k), _)| {
                    *n == ns && k.as_str() >= start.as_str() && (end.is_empty() || *k < end)
                })
                .map(|((_, k), v)| Ok((k.clone(), v.clone()))),
        ))
    }

    fn contains_txid(&self, txid: &str) -> Result<bool, LedgerError> {
        Ok(self.txids.contains(txid))
    }
}

/// A state whose reads fail.
#[derive(Debug)]
pub(crate) struct BrokenState;

impl StateView for BrokenState {
    fn get_state(&self, _: &str, _: &str) -> Result<Option<VersionedValue>, LedgerError> {
        Err(LedgerError::Rocks("disk on fire".into()))
    }

    fn range<'a>(&'a self, _: &str, _: &str, _: &str) -> Result<StateIter<'a>, LedgerError> {
        Err(LedgerError::Rocks("disk on fire".into()))
    }

    fn contains_txid(&self, _: &str) -> Result<bool, LedgerError> {
        Err(LedgerError::Rocks("disk on fire".into()))
    }
}

// ---------------------------------------------------------------------------------------
// The network

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
      Count: 2
    Users:
      Count: 1
  - Name: Org2
    Domain: org2.example.com
    EnableNodeOUs: true
    Template:
      Count: 1
    Users:
      Count: 1
";

/// Identities of an org outside the channel.
const STRANGER_CONFIG: &str = r"
PeerOrgs:
  - Name: Org3
    Domain: org3.example.com
    EnableNodeOUs: true
    Template:
      Count: 1
    Users:
      Count: 1
";

/// This package's directory, read at run time (several checkouts may share a target
/// directory).
fn package_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// Two application orgs (Org1 with two peers, Org2 with one), an orderer org, channel
/// `mychannel` from the test network's `configtx.yaml`, and the identities to sign with.
pub(crate) struct Net {
    _dir: tempfile::TempDir,
    /// The channel config of the genesis block.
    pub channel: ChannelConfig,
    /// Org1's client.
    pub user1: SigningIdentity,
    /// Org2's client.
    pub user2: SigningIdentity,
    /// Org1's first peer.
    pub peer1a: SigningIdentity,
    /// Org1's second peer.
    pub peer1b: SigningIdentity,
    /// Org2's peer.
    pub peer2: SigningIdentity,
    /// The orderer node.
    pub orderer: SigningIdentity,
    /// The orderer org's admin.
    pub orderer_admin: SigningIdentity,
    /// A client of Org3, which is not in the channel.
    pub stranger: SigningIdentity,
}

impl Net {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let orgs = dir.path().join("organizations");
        cryptogen::generate(&CryptoConfig::from_yaml(CRYPTO_CONFIG).unwrap(), &orgs).unwrap();
        cryptogen::generate(&CryptoConfig::from_yaml(STRANGER_CONFIG).unwrap(), &orgs).unwrap();
        std::fs::copy(
            package_dir().join("../tools/testdata/configtx.yaml"),
            dir.path().join("configtx.yaml"),
        )
        .unwrap();
        let top = configtxgen::TopLevel::load(dir.path()).unwrap();
        let profile = top.profile("TwoOrgsApplicationGenesis").unwrap();
        let genesis = configtxgen::genesis_block(&profile, CHANNEL).unwrap();
        let channel = ChannelConfig::from_block(&genesis).unwrap();

        let load = |rel: &str, mspid: &str| {
            MspDir::load(&orgs.join(rel).join("msp"), mspid)
                .unwrap()
                .signing_identity
                .unwrap()
        };
        let peer_org = |n: u32| format!("peerOrganizations/org{n}.example.com");
        Net {
            channel,
            user1: load(
                &format!("{}/users/User1@org1.example.com", peer_org(1)),
                "Org1MSP",
            ),
            user2: load(
                &format!("{}/users/User1@org2.example.com", peer_org(2)),
                "Org2MSP",
            ),
            peer1a: load(
                &format!("{}/peers/peer0.org1.example.com", peer_org(1)),
                "Org1MSP",
            ),
            peer1b: load(
                &format!("{}/peers/peer1.org1.example.com", peer_org(1)),
                "Org1MSP",
            ),
            peer2: load(
                &format!("{}/peers/peer0.org2.example.com", peer_org(2)),
                "Org2MSP",
            ),
            orderer: load(
                "ordererOrganizations/example.com/orderers/orderer.example.com",
                "OrdererMSP",
            ),
            orderer_admin: load(
                "ordererOrganizations/example.com/users/Admin@example.com",
                "OrdererMSP",
            ),
            stranger: load(
                &format!("{}/users/User1@org3.example.com", peer_org(3)),
                "Org3MSP",
            ),
            _dir: dir,
        }
    }

    /// An endorser transaction invoking `chaincode` with `rwset`, created and signed by
    /// User1 of Org1, endorsed by each of `endorsers`.
    pub fn tx(&self, chaincode: &str, rwset: TxReadWriteSet, endorsers: &[&SigningIdentity]) -> Tx {
        self.spec(chaincode, rwset, endorsers).build()
    }

    /// The specification of [`Net::tx`], to adjust before building.
    pub fn spec<'a>(
        &'a self,
        chaincode: &str,
        rwset: TxReadWriteSet,
        endorsers: &[&'a SigningIdentity],
    ) -> TxSpec<'a> {
        TxSpec {
            creator: &self.user1,
            envelope_signer: None,
            channel: CHANNEL.to_owned(),
            chaincode: chaincode.to_owned(),
            action_chaincode: Some(ChaincodeId {
                name: chaincode.to_owned(),
                version: "1.0".to_owned(),
                ..Default::default()
            }),
            results: rwset.encode_to_vec(),
            events: Vec::new(),
            endorsers: endorsers.to_vec(),
            nonce: None,
            edit_channel_header: None,
            edit_prp: None,
            edit_endorsements: None,
        }
    }
}

/// A transaction ready to go into a block.
#[derive(Debug, Clone)]
pub(crate) struct Tx {
    /// The marshaled envelope.
    pub bytes: Vec<u8>,
    /// The envelope.
    pub envelope: Envelope,
    /// Its txid.
    pub txid: String,
}

type ChannelHeaderEdit = Box<dyn Fn(&mut ChannelHeader)>;
type PrpEdit = Box<dyn Fn(Vec<u8>, &[u8]) -> Vec<u8>>;
type EndorsementsEdit = Box<dyn Fn(&mut Vec<Endorsement>)>;

/// How to build an endorser transaction; every field can be adjusted to break it.
pub(crate) struct TxSpec<'a> {
    /// Creator of the proposal and, unless `envelope_signer` is set, signer of the envelope.
    pub creator: &'a SigningIdentity,
    /// Signs the envelope instead of the creator.
    pub envelope_signer: Option<&'a SigningIdentity>,
    /// Channel id of the proposal.
    pub channel: String,
    /// Chaincode named in the header extension.
    pub chaincode: String,
    /// `ChaincodeAction.chaincode_id`.
    pub action_chaincode: Option<ChaincodeId>,
    /// `ChaincodeAction.results`.
    pub results: Vec<u8>,
    /// `ChaincodeAction.events`.
    pub events: Vec<u8>,
    /// Endorsers, in order (repeats allowed).
    pub endorsers: Vec<&'a SigningIdentity>,
    /// The proposal nonce (random if `None`).
    pub nonce: Option<Vec<u8>>,
    /// Applied to the channel header before anything is hashed or signed.
    pub edit_channel_header: Option<ChannelHeaderEdit>,
    /// Replaces the proposal response payload bytes (given them and the proposal hash).
    pub edit_prp: Option<PrpEdit>,
    /// Applied to the endorsements once made.
    pub edit_endorsements: Option<EndorsementsEdit>,
}

impl TxSpec<'_> {
    /// Builds and signs the transaction.
    pub fn build(self) -> Tx {
        let (proposal, _) = create_chaincode_proposal(
            &self.channel,
            &self.chaincode,
            vec![b"invoke".to_vec()],
            HashMap::new(),
            self.creator.creator(),
            self.nonce.clone(),
        );
        let mut header = Header::decode(proposal.header.as_slice()).unwrap();
        let mut channel_header = ChannelHeader::decode(header.channel_header.as_slice()).unwrap();
        if let Some(edit) = &self.edit_channel_header {
            edit(&mut channel_header);
        }
        header.channel_header = channel_header.encode_to_vec();
        let payload = ChaincodeProposalPayload::decode(proposal.payload.as_slice()).unwrap();
        let proposal_hash = endorsement_proposal_hash(
            &header.channel_header,
            &header.signature_header,
            &proposal.payload,
        )
        .unwrap();
        let action = ChaincodeAction {
            results: self.results.clone(),
            events: self.events.clone(),
            response: Some(Response {
                status: 200,
                message: String::new(),
                payload: b"ok".to_vec(),
            }),
            chaincode_id: self.action_chaincode.clone(),
        };
        let mut prp = create_proposal_response_payload(&proposal_hash, &action);
        if let Some(edit) = &self.edit_prp {
            prp = edit(prp, &proposal_hash);
        }
        let mut endorsements: Vec<Endorsement> = self
            .endorsers
            .iter()
            .map(|e| endorse(&prp, *e).unwrap())
            .collect();
        if let Some(edit) = &self.edit_endorsements {
            edit(&mut endorsements);
        }
        let unsigned = transaction_envelope(
            &header,
            &payload,
            ChaincodeEndorsedAction {
                proposal_response_payload: prp,
                endorsements,
            },
        );
        let signer = self.envelope_signer.unwrap_or(self.creator);
        let envelope = sign_envelope_payload(unsigned.payload, signer).unwrap();
        Tx {
            bytes: envelope.encode_to_vec(),
            envelope,
            txid: channel_header.tx_id,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Read-write sets

/// Builds a `TxReadWriteSet`; reads, writes… go to the last namespace started.
#[derive(Debug, Default, Clone)]
pub(crate) struct Rw {
    namespaces: Vec<NsSets>,
}

/// A namespace's name, public sets and collections' hashed sets.
type NsSets = (String, KvrwSet, Vec<(String, HashedRwSet)>);

fn version(v: (u64, u64)) -> ReadVersion {
    ReadVersion {
        block_num: v.0,
        tx_num: v.1,
    }
}

/// A range query result: key and version.
pub(crate) fn kv_read(key: &str, v: (u64, u64)) -> KvRead {
    KvRead {
        key: key.to_owned(),
        version: Some(version(v)),
    }
}

impl Rw {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts namespace `name`.
    pub fn ns(mut self, name: &str) -> Self {
        self.namespaces
            .push((name.to_owned(), KvrwSet::default(), Vec::new()));
        self
    }

    fn kv(&mut self) -> &mut KvrwSet {
        &mut self.namespaces.last_mut().expect("call ns() first").1
    }

    fn coll(&mut self, name: &str) -> &mut HashedRwSet {
        let colls = &mut self.namespaces.last_mut().expect("call ns() first").2;
        if !colls.iter().any(|(n, _)| n == name) {
            colls.push((name.to_owned(), HashedRwSet::default()));
        }
        &mut colls.iter_mut().find(|(n, _)| n == name).unwrap().1
    }

    /// A read of `key` at `v` (`None`: read as absent).
    pub fn read(mut self, key: &str, v: Option<(u64, u64)>) -> Self {
        self.kv().reads.push(KvRead {
            key: key.to_owned(),
            version: v.map(version),
        });
        self
    }

    /// A write of `value` to `key`.
    pub fn write(mut self, key: &str, value: &[u8]) -> Self {
        self.kv().writes.push(KvWrite {
            key: key.to_owned(),
            is_delete: false,
            value: value.to_vec(),
        });
        self
    }

    /// A delete of `key`.
    pub fn delete(mut self, key: &str) -> Self {
        self.kv().writes.push(KvWrite {
            key: key.to_owned(),
            is_delete: true,
            value: Vec::new(),
        });
        self
    }

    /// A metadata write of `key`.
    pub fn metadata(mut self, key: &str, entries: &[(&str, Vec<u8>)]) -> Self {
        self.kv().metadata_writes.push(KvMetadataWrite {
            key: key.to_owned(),
            entries: entries
                .iter()
                .map(|(name, value)| KvMetadataEntry {
                    name: (*name).to_owned(),
                    value: value.clone(),
                })
                .collect(),
        });
        self
    }

    /// A range query with its raw results.
    pub fn range(mut self, start: &str, end: &str, exhausted: bool, reads: Vec<KvRead>) -> Self {
        self.kv().range_queries_info.push(RangeQueryInfo {
            start_key: start.to_owned(),
            end_key: end.to_owned(),
            itr_exhausted: exhausted,
            reads_info: Some(ReadsInfo::RawReads(QueryReads { kv_reads: reads })),
        });
        self
    }

    /// A range query summarized by a Merkle summary.
    pub fn range_merkle(
        mut self,
        start: &str,
        end: &str,
        exhausted: bool,
        summary: QueryReadsMerkleSummary,
    ) -> Self {
        self.kv().range_queries_info.push(RangeQueryInfo {
            start_key: start.to_owned(),
            end_key: end.to_owned(),
            itr_exhausted: exhausted,
            reads_info: Some(ReadsInfo::ReadsMerkleHashes(summary)),
        });
        self
    }

    /// A hashed write of `key` in collection `coll`.
    pub fn hashed_write(mut self, coll: &str, key: &str, value: &[u8]) -> Self {
        self.coll(coll).hashed_writes.push(KvWriteHash {
            key_hash: weft_common::crypto::sha256(key.as_bytes()).to_vec(),
            is_delete: false,
            value_hash: weft_common::crypto::sha256(value).to_vec(),
            is_purge: false,
        });
        self
    }

    /// A hashed read of `key` in collection `coll`.
    pub fn hashed_read(mut self, coll: &str, key: &str, v: Option<(u64, u64)>) -> Self {
        self.coll(coll).hashed_reads.push(KvReadHash {
            key_hash: weft_common::crypto::sha256(key.as_bytes()).to_vec(),
            version: v.map(version),
        });
        self
    }

    pub fn build(self) -> TxReadWriteSet {
        TxReadWriteSet {
            data_model: 0,
            ns_rwset: self
                .namespaces
                .into_iter()
                .map(|(namespace, kv, colls)| NsReadWriteSet {
                    namespace,
                    rwset: kv.encode_to_vec(),
                    collection_hashed_rwset: colls
                        .into_iter()
                        .map(|(name, hashed)| CollectionHashedReadWriteSet {
                            collection_name: name,
                            hashed_rwset: hashed.encode_to_vec(),
                            pvt_rwset_hash: Vec::new(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Definitions, blocks, assertions

/// `ApplicationPolicy{signature_policy: parse(rule)}`.
pub(crate) fn sig(rule: &str) -> ApplicationPolicy {
    signature_policy(dsl::parse(rule).unwrap())
}

/// Marshaled `SignaturePolicyEnvelope` of `rule`, as a key-level validation parameter.
pub(crate) fn key_policy(rule: &str) -> Vec<u8> {
    dsl::parse(rule).unwrap().encode_to_vec()
}

/// Commits definitions for `(name, policy)` in block 1.
pub(crate) fn define(state: &mut MemState, chaincodes: &[(&str, ApplicationPolicy)]) {
    let definitions: Vec<(String, ChaincodeDefinition)> = chaincodes
        .iter()
        .map(|(name, policy)| {
            (
                (*name).to_owned(),
                ChaincodeDefinition::new(1, "1.0", policy),
            )
        })
        .collect();
    let refs: Vec<(&str, &ChaincodeDefinition)> =
        definitions.iter().map(|(n, d)| (n.as_str(), d)).collect();
    state.apply(1, &[definitions_tx_updates(0, "define", &refs)]);
}

/// Block `number` carrying `entries`.
pub(crate) fn block(number: u64, entries: &[&[u8]]) -> Block {
    build_block(
        number,
        vec![0x11; 32],
        entries.iter().map(|e| e.to_vec()).collect(),
    )
}

/// Validates `entries` as block 2 with three threads.
pub(crate) fn validate(net: &Net, state: &MemState, entries: &[&[u8]]) -> ValidatedBlock {
    try_validate(net, state, entries).unwrap()
}

/// [`validate`] without unwrapping.
pub(crate) fn try_validate(
    net: &Net,
    state: &MemState,
    entries: &[&[u8]],
) -> Result<ValidatedBlock, ValidationError> {
    BlockValidator::with_parallelism(3).validate(&block(2, entries), &net.channel, state)
}

/// Asserts the block's codes and filter bytes.
#[track_caller]
pub(crate) fn assert_codes(validated: &ValidatedBlock, expected: &[Code]) {
    assert_eq!(validated.codes, expected);
    let bytes: Vec<u8> = expected.iter().map(|c| *c as u8).collect();
    assert_eq!(validated.filter, bytes);
}
