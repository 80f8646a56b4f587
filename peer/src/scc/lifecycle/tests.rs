//! Tests of `_lifecycle`: the serializer's bytes and rules against an in-memory state, and
//! the whole operator path in-process on two orgs' peers (install, approve, check,
//! commit, query, invoke, upgrade), every transaction validated and committed by both.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use weft_common::msp::{MspDir, SigningIdentity};
use weft_common::policy::dsl;
use weft_common::protoutil::{self, build_block};
use weft_proto::kvrwset::{HashedRwSet, KvrwSet};
use weft_proto::lifecycle::chaincode_source::{Local, Type as SourceType};
use weft_proto::lifecycle::state_data::Type as StateDataType;
use weft_proto::lifecycle::{
    ApproveChaincodeDefinitionForMyOrgArgs, ChaincodeSource, CheckCommitReadinessArgs,
    CheckCommitReadinessResult, CommitChaincodeDefinitionArgs, GetInstalledChaincodePackageArgs,
    GetInstalledChaincodePackageResult, InstallChaincodeArgs, InstallChaincodeResult,
    QueryApprovedChaincodeDefinitionArgs, QueryApprovedChaincodeDefinitionResult,
    QueryChaincodeDefinitionArgs, QueryChaincodeDefinitionResult, QueryChaincodeDefinitionsArgs,
    QueryChaincodeDefinitionsResult, QueryInstalledChaincodeArgs, QueryInstalledChaincodeResult,
    QueryInstalledChaincodesArgs, QueryInstalledChaincodesResult, StateData, StateMetadata,
};
use weft_proto::protos::collection_config::Payload as CollectionPayload;
use weft_proto::protos::collection_policy_config::Payload as PolicyPayload;
use weft_proto::protos::{
    ChaincodeAction, CollectionConfig, CollectionConfigPackage, CollectionPolicyConfig,
    ProposalResponse, ProposalResponsePayload, SignedProposal, StaticCollectionConfig,
    TxValidationCode,
};
use weft_proto::rwset::TxReadWriteSet;
use weft_tools::configtxgen;
use weft_tools::cryptogen::{self, CryptoConfig};
use weft_wasm_host::{EngineConfig, TxLimits, WasmEngine};

use super::serializer::{
    self, CHAINCODE_SOURCES_PREFIX, ChaincodeLocalPackage, ChaincodeParameters, OpaqueState,
    RangeableState, ReadWritableState, ReadableState, StateError,
};
use super::{LIFECYCLE_NAMESPACE, LifecycleError};
use crate::chaincode::package::{ChaincodePackage, PackageStore, WASM_TYPE, package_id};
use crate::chaincode::{ChaincodeSupport, Launcher, SupportConfig, WasmLauncher};
use crate::channels::Channels;
use crate::endorser::Endorser;
use crate::ledger::private::hash;
use crate::validation::definitions::{
    self, ChaincodeDefinition, DEFAULT_ENDORSEMENT_POLICY_REF, NAMESPACES_PREFIX,
    channel_policy_reference,
};

// ---- the serializer against an in-memory state -----------------------------------------

/// A state whose writes are pending until `commit` (a simulation never sees its own
/// writes), recording what was written.
#[derive(Default)]
struct Mem {
    committed: BTreeMap<String, Vec<u8>>,
    writes: BTreeMap<String, Option<Vec<u8>>>,
    hash_reads: Vec<String>,
}

impl Mem {
    fn commit(&mut self) {
        for (key, value) in std::mem::take(&mut self.writes) {
            match value {
                Some(v) => self.committed.insert(key, v),
                None => self.committed.remove(&key),
            };
        }
    }
}

impl ReadableState for Mem {
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.committed.get(key).cloned())
    }
}

impl ReadWritableState for Mem {
    fn put_state(&mut self, key: &str, value: Vec<u8>) -> Result<(), StateError> {
        self.writes.insert(key.to_owned(), Some(value));
        Ok(())
    }

    fn del_state(&mut self, key: &str) -> Result<(), StateError> {
        self.writes.insert(key.to_owned(), None);
        Ok(())
    }
}

impl OpaqueState for Mem {
    fn get_state_hash(&mut self, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        self.hash_reads.push(key.to_owned());
        Ok(self.committed.get(key).map(|v| hash(v)))
    }

    fn collection_name(&self) -> &str {
        "_implicit_org_Org1MSP"
    }
}

impl RangeableState for Mem {
    fn get_state_range(&mut self, prefix: &str) -> Result<BTreeMap<String, Vec<u8>>, StateError> {
        Ok(self
            .committed
            .range(prefix.to_owned()..format!("{prefix}\u{7f}"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

fn sample_definition(sequence: i64, version: &str) -> ChaincodeDefinition {
    ChaincodeDefinition::new(
        sequence,
        version,
        &channel_policy_reference(DEFAULT_ENDORSEMENT_POLICY_REF),
    )
}

/// `StateMetadata{datatype, fields}` encoded by hand.
fn metadata_bytes(datatype: &str, fields: &[&str]) -> Vec<u8> {
    let mut bytes = vec![0x0a, u8::try_from(datatype.len()).unwrap()];
    bytes.extend_from_slice(datatype.as_bytes());
    for field in fields {
        bytes.push(0x12);
        bytes.push(u8::try_from(field.len()).unwrap());
        bytes.extend_from_slice(field.as_bytes());
    }
    bytes
}

#[test]
fn lifecycle_serializer_writes_fabrics_keys_and_bytes() {
    let mut org = Mem::default();
    let params = ChaincodeParameters::of(&sample_definition(1, "1.0"));
    serializer::serialize(NAMESPACES_PREFIX, "basic#1", &params, &mut org).unwrap();
    let local = ChaincodeLocalPackage {
        package_id: "basic_1.0:abcd".into(),
    };
    serializer::serialize(CHAINCODE_SOURCES_PREFIX, "basic#1", &local, &mut org).unwrap();
    let keys: Vec<&str> = org.writes.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "chaincode-sources/fields/basic#1/PackageID",
            "chaincode-sources/metadata/basic#1",
            "namespaces/fields/basic#1/Collections",
            "namespaces/fields/basic#1/EndorsementInfo",
            "namespaces/fields/basic#1/ValidationInfo",
            "namespaces/metadata/basic#1",
        ]
    );
    let value = |key: &str| org.writes[key].clone().unwrap();
    assert_eq!(
        value("namespaces/metadata/basic#1"),
        metadata_bytes(
            "ChaincodeParameters",
            &["EndorsementInfo", "ValidationInfo", "Collections"]
        )
    );
    assert_eq!(
        value("chaincode-sources/metadata/basic#1"),
        metadata_bytes("ChaincodeLocalPackage", &["PackageID"])
    );
    // StateData{String: id} is field 3.
    let mut id = vec![0x1a, 14];
    id.extend_from_slice(b"basic_1.0:abcd");
    assert_eq!(value("chaincode-sources/fields/basic#1/PackageID"), id);
    // An empty collections package keeps its oneof tag: StateData{Bytes: []}.
    assert_eq!(value("namespaces/fields/basic#1/Collections"), [0x12, 0x00]);
    // ChaincodeEndorsementInfo{version "1.0", plugin "escc"} wrapped in StateData.Bytes.
    let mut info = vec![0x0a, 3];
    info.extend_from_slice(b"1.0");
    info.extend_from_slice(&[0x1a, 4]);
    info.extend_from_slice(b"escc");
    let mut wrapped = vec![0x12, u8::try_from(info.len()).unwrap()];
    wrapped.extend_from_slice(&info);
    assert_eq!(value("namespaces/fields/basic#1/EndorsementInfo"), wrapped);
}

#[test]
fn lifecycle_serializer_matches_the_validators_definition_layout() {
    let definition = sample_definition(3, "2.1");
    let mut public = Mem::default();
    serializer::serialize(NAMESPACES_PREFIX, "basic", &definition, &mut public).unwrap();
    let written: Vec<(String, Vec<u8>)> = public
        .writes
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().unwrap()))
        .collect();
    let mut expected = definitions::state_entries("basic", &definition);
    expected.sort();
    assert_eq!(written, expected);

    // Deserializing gives the definition back; the validator reads it too.
    public.commit();
    let metadata = serializer::deserialize_metadata(NAMESPACES_PREFIX, "basic", &mut public)
        .unwrap()
        .unwrap();
    let back: ChaincodeDefinition =
        serializer::deserialize(NAMESPACES_PREFIX, "basic", &metadata, &mut public).unwrap();
    assert_eq!(back, definition);
    assert_eq!(
        serializer::deserialize_int64(NAMESPACES_PREFIX, "basic", "Sequence", &mut public).unwrap(),
        3
    );
    assert_eq!(
        serializer::deserialize_int64(NAMESPACES_PREFIX, "other", "Sequence", &mut public).unwrap(),
        0
    );
    let all = serializer::deserialize_all_metadata(NAMESPACES_PREFIX, &mut public).unwrap();
    assert_eq!(all.keys().collect::<Vec<_>>(), ["basic"]);
    assert_eq!(all["basic"].datatype, "ChaincodeDefinition");
}

#[test]
fn lifecycle_serializer_writes_only_what_changes() {
    let mut state = Mem::default();
    let definition = sample_definition(1, "1.0");
    serializer::serialize(NAMESPACES_PREFIX, "basic", &definition, &mut state).unwrap();
    state.commit();
    // The same structure again writes nothing.
    serializer::serialize(NAMESPACES_PREFIX, "basic", &definition, &mut state).unwrap();
    assert!(state.writes.is_empty());
    // A new sequence rewrites the sequence only.
    let next = sample_definition(2, "1.0");
    serializer::serialize(NAMESPACES_PREFIX, "basic", &next, &mut state).unwrap();
    assert_eq!(
        state.writes.keys().collect::<Vec<_>>(),
        ["namespaces/fields/basic/Sequence"]
    );
    assert_eq!(
        state.writes["namespaces/fields/basic/Sequence"],
        Some(vec![0x08, 0x02])
    );
    // A field the metadata lists but the type does not have is deleted, and the
    // metadata rewritten.
    state.commit();
    let mut stale =
        StateMetadata::decode(state.committed["namespaces/metadata/basic"].as_slice()).unwrap();
    stale.fields.push("Obsolete".into());
    state
        .committed
        .insert("namespaces/metadata/basic".into(), stale.encode_to_vec());
    serializer::serialize(NAMESPACES_PREFIX, "basic", &next, &mut state).unwrap();
    assert_eq!(state.writes["namespaces/fields/basic/Obsolete"], None);
    assert_eq!(
        state.writes["namespaces/metadata/basic"],
        Some(metadata_bytes(
            "ChaincodeDefinition",
            &[
                "Sequence",
                "EndorsementInfo",
                "ValidationInfo",
                "Collections"
            ]
        ))
    );
}

#[test]
fn lifecycle_serializer_compares_through_hashes() {
    let mut org = Mem::default();
    let params = ChaincodeParameters::of(&sample_definition(1, "1.0"));
    assert!(!serializer::is_serialized(NAMESPACES_PREFIX, "basic#1", &params, &mut org).unwrap());
    // Every key's hash is read, even when the metadata already differs.
    assert_eq!(org.hash_reads.len(), 4);
    serializer::serialize(NAMESPACES_PREFIX, "basic#1", &params, &mut org).unwrap();
    org.commit();
    assert!(serializer::is_serialized(NAMESPACES_PREFIX, "basic#1", &params, &mut org).unwrap());
    let mut other = params.clone();
    other.endorsement_info.version = "1.1".into();
    assert!(!serializer::is_serialized(NAMESPACES_PREFIX, "basic#1", &other, &mut org).unwrap());
    assert!(
        serializer::is_metadata_serialized::<ChaincodeParameters>(
            NAMESPACES_PREFIX,
            "basic#1",
            &mut org
        )
        .unwrap()
    );
    assert!(
        !serializer::is_metadata_serialized::<ChaincodeLocalPackage>(
            NAMESPACES_PREFIX,
            "basic#1",
            &mut org
        )
        .unwrap()
    );
    assert_eq!(
        params.mismatch(&other).as_deref(),
        Some("expected Version '1.0' does not match passed Version '1.1'")
    );
    assert_eq!(params.mismatch(&params), None);
}

#[test]
fn lifecycle_serializer_refuses_wrong_types_in_fabrics_words() {
    let mut state = Mem::default();
    state.committed.insert(
        "namespaces/fields/cc/Sequence".into(),
        StateData {
            r#type: Some(StateDataType::String("x".into())),
        }
        .encode_to_vec(),
    );
    assert_eq!(
        serializer::deserialize_int64(NAMESPACES_PREFIX, "cc", "Sequence", &mut state),
        Err(LifecycleError::Invalid(
            "expected key namespaces/fields/cc/Sequence to encode a value of type Int64, but was *lifecycle.StateData_String_".into()
        ))
    );
    let metadata = StateMetadata {
        datatype: "ChaincodeParameters".into(),
        fields: vec![],
    };
    let wrong: Result<ChaincodeDefinition, _> =
        serializer::deserialize(NAMESPACES_PREFIX, "cc", &metadata, &mut state);
    assert_eq!(
        wrong,
        Err(LifecycleError::Invalid(
            "type name mismatch 'ChaincodeDefinition' != 'ChaincodeParameters'".into()
        ))
    );
}

#[test]
fn lifecycle_name_and_version_rules_are_fabrics() {
    use super::functions::{valid_chaincode_name, valid_chaincode_version};
    for good in ["basic", "my-cc_2", "a1"] {
        assert!(valid_chaincode_name(good), "{good}");
    }
    for bad in ["", "-a", "a-", "a--b", "a_-b", "a.b", "_lifecycle"] {
        assert!(!valid_chaincode_name(bad), "{bad}");
    }
    assert!(valid_chaincode_version("1.0+build_3-rc"));
    assert!(!valid_chaincode_version(""));
    assert!(!valid_chaincode_version("1 0"));
}

// ---- two orgs' peers in-process ---------------------------------------------------------

const CHANNEL: &str = "mychannel";

fn package_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A test guest from wasm-host/tests/guests, with the shared prelude spliced in.
fn guest(name: &str) -> Vec<u8> {
    let dir = package_dir().join("../wasm-host/tests/guests");
    let prelude = std::fs::read_to_string(dir.join("prelude.wat")).expect("prelude");
    let text = std::fs::read_to_string(dir.join(format!("{name}.wat"))).expect("guest");
    wat::parse_str(text.replace(";; @prelude", &prelude)).expect("valid wat")
}

struct Peer {
    endorser: Endorser,
    channels: Arc<Channels>,
    support: Arc<ChaincodeSupport>,
    admin: SigningIdentity,
}

struct Net {
    _dir: tempfile::TempDir,
    peers: Vec<Peer>,
    user1: SigningIdentity,
}

fn wasm_support(
    channels: &Arc<Channels>,
    endorser: &Endorser,
    dir: &std::path::Path,
) -> Arc<ChaincodeSupport> {
    let engine = WasmEngine::new(EngineConfig {
        max_instances: 8,
        ..EngineConfig::default()
    })
    .expect("engine");
    let limits = TxLimits {
        fuel: 50_000_000,
        timeout: Duration::from_secs(5),
    };
    let wasm: Arc<dyn Launcher> =
        Arc::new(WasmLauncher::new(engine, dir.join("wasm-cache"), limits));
    ChaincodeSupport::new(
        SupportConfig {
            execute_timeout: Duration::from_secs(10),
            startup_timeout: Duration::from_secs(10),
            ..SupportConfig::default()
        },
        channels.clone(),
        endorser.acl().clone(),
        PackageStore::under(dir).expect("store"),
        HashMap::from([(WASM_TYPE.to_owned(), wasm)]),
    )
}

impl Net {
    /// Org1's and Org2's peer0, each with its chaincode support, joined to the test
    /// network's channel.
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let tools = package_dir().join("../tools/testdata");
        let orgs = dir.path().join("organizations");
        let crypto = CryptoConfig::load(&tools.join("crypto-config.yaml")).expect("crypto");
        cryptogen::generate(&crypto, &orgs).expect("cryptogen");
        std::fs::copy(
            tools.join("configtx.yaml"),
            dir.path().join("configtx.yaml"),
        )
        .expect("configtx");
        let top = configtxgen::TopLevel::load(dir.path()).expect("configtx.yaml");
        let profile = top.profile("TwoOrgsApplicationGenesis").expect("profile");
        let genesis = configtxgen::genesis_block(&profile, CHANNEL).expect("genesis");
        let org = |n: u32| orgs.join(format!("peerOrganizations/org{n}.example.com"));
        let load = |path: PathBuf, mspid: &str| MspDir::load(&path, mspid).expect("msp");
        let signer = |path: PathBuf, mspid: &str| {
            load(path, mspid)
                .signing_identity
                .expect("signing identity")
        };
        let mut peers = Vec::new();
        for n in [1, 2] {
            let mspid = format!("Org{n}MSP");
            let peer_msp = load(
                org(n).join(format!("peers/peer0.org{n}.example.com/msp")),
                &mspid,
            );
            let root = dir.path().join(format!("peer{n}"));
            let channels = Arc::new(Channels::open(&root).expect("channels"));
            let endorser = Endorser::new(
                channels.clone(),
                Arc::new(peer_msp.msp().expect("local msp")),
                Arc::new(peer_msp.signing_identity.clone().expect("peer identity")),
            );
            let support = wasm_support(&channels, &endorser, &root);
            let endorser = endorser.with_chaincode_support(support.clone());
            let admin = signer(
                org(n).join(format!("users/Admin@org{n}.example.com/msp")),
                &mspid,
            );
            let peer = Peer {
                endorser,
                channels,
                support,
                admin,
            };
            let joined = peer
                .call(
                    "",
                    "cscc",
                    &[b"JoinChain", &genesis.encode_to_vec()],
                    &peer.admin,
                )
                .await;
            assert_eq!(status(&joined), 200, "{}", message(&joined));
            peers.push(peer);
        }
        let user1 = signer(org(1).join("users/User1@org1.example.com/msp"), "Org1MSP");
        Net {
            _dir: dir,
            peers,
            user1,
        }
    }

    fn peer(&self, org: usize) -> &Peer {
        &self.peers[org - 1]
    }

    /// Orders `responses` to `signed` (signed by `signer`) into the next block and commits
    /// it on every peer; the validation code both agree on.
    fn submit(
        &self,
        signed: &SignedProposal,
        responses: &[ProposalResponse],
        signer: &SigningIdentity,
    ) -> TxValidationCode {
        let unpacked = protoutil::unpack_proposal(signed).expect("unpack");
        let envelope = protoutil::assemble_transaction(&unpacked, responses).expect("assemble");
        let envelope = protoutil::sign_envelope_payload(envelope.payload, signer).expect("sign");
        let mut codes = Vec::new();
        for peer in &self.peers {
            let channel = peer.channels.get(CHANNEL).expect("channel");
            let ledger = channel.ledger();
            let block = build_block(
                ledger.height(),
                ledger.block_store().last_header_hash(),
                vec![envelope.encode_to_vec()],
            );
            let notice = channel
                .commit_block(block)
                .expect("commit")
                .expect("notice");
            codes.push(notice.transactions[0].code);
        }
        assert!(codes.windows(2).all(|w| w[0] == w[1]), "{codes:?}");
        codes[0]
    }

    /// Approves `args` on org `org`'s peer (by its admin) and commits the approval; the
    /// number of hashed writes it made.
    async fn approve(&self, org: usize, args: &ApproveChaincodeDefinitionForMyOrgArgs) -> usize {
        let peer = self.peer(org);
        let signed = peer.lifecycle_proposal(
            CHANNEL,
            "ApproveChaincodeDefinitionForMyOrg",
            args,
            &peer.admin,
        );
        let response = peer
            .endorser
            .process_proposal(signed.clone())
            .await
            .expect("answered");
        assert_eq!(status(&response), 200, "{}", message(&response));
        assert!(response.endorsement.is_some());
        // The approval writes only this org's implicit collection, as hashes in the
        // public rwset: the metadata and fields of the parameters and of the package.
        let rwset = TxReadWriteSet::decode(action_of(&response).results.as_slice()).expect("rwset");
        let ns = rwset
            .ns_rwset
            .iter()
            .find(|ns| ns.namespace == LIFECYCLE_NAMESPACE)
            .expect("_lifecycle");
        assert!(
            KvrwSet::decode(ns.rwset.as_slice())
                .expect("kv")
                .writes
                .is_empty()
        );
        let written: Vec<(String, usize)> = ns
            .collection_hashed_rwset
            .iter()
            .map(|c| {
                let hashed = HashedRwSet::decode(c.hashed_rwset.as_slice()).expect("hashed");
                (c.collection_name.clone(), hashed.hashed_writes.len())
            })
            .filter(|(_, writes)| *writes > 0)
            .collect();
        assert_eq!(written.len(), 1, "{written:?}");
        assert_eq!(written[0].0, format!("_implicit_org_Org{org}MSP"));
        assert_eq!(
            self.submit(&signed, &[response], &peer.admin),
            TxValidationCode::Valid
        );
        written[0].1
    }

    /// Commits `args` endorsed by every peer; the validation code.
    async fn commit(&self, args: &CommitChaincodeDefinitionArgs) -> TxValidationCode {
        let admin = &self.peer(1).admin;
        let signed =
            self.peer(1)
                .lifecycle_proposal(CHANNEL, "CommitChaincodeDefinition", args, admin);
        let mut responses = Vec::new();
        for peer in &self.peers {
            let response = peer
                .endorser
                .process_proposal(signed.clone())
                .await
                .expect("answered");
            assert_eq!(status(&response), 200, "{}", message(&response));
            responses.push(response);
        }
        self.submit(&signed, &responses, admin)
    }

    /// Installs `package` on every peer; its package id.
    async fn install(&self, package: &[u8]) -> String {
        let mut ids = Vec::new();
        for peer in &self.peers {
            let response = peer
                .lifecycle(
                    "",
                    "InstallChaincode",
                    &InstallChaincodeArgs {
                        chaincode_install_package: package.to_vec(),
                    },
                    &peer.admin,
                )
                .await;
            assert_eq!(status(&response), 200, "{}", message(&response));
            assert!(
                response.endorsement.is_none(),
                "channel-less answers are not endorsed"
            );
            let result = InstallChaincodeResult::decode(payload(&response)).expect("result");
            ids.push(result.package_id);
        }
        assert!(ids.windows(2).all(|w| w[0] == w[1]));
        ids.remove(0)
    }

    async fn invoke(&self, org: usize, chaincode: &str, args: &[&[u8]]) -> ProposalResponse {
        self.peer(org)
            .call(CHANNEL, chaincode, args, &self.user1)
            .await
    }
}

impl Peer {
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
        protoutil::sign_proposal(&proposal, signer).expect("sign")
    }

    async fn call(
        &self,
        channel: &str,
        chaincode: &str,
        args: &[&[u8]],
        signer: &SigningIdentity,
    ) -> ProposalResponse {
        let signed = self.proposal(channel, chaincode, args, signer);
        self.endorser
            .process_proposal(signed)
            .await
            .expect("not refused")
    }

    fn lifecycle_proposal(
        &self,
        channel: &str,
        function: &str,
        args: &impl Message,
        signer: &SigningIdentity,
    ) -> SignedProposal {
        self.proposal(
            channel,
            LIFECYCLE_NAMESPACE,
            &[function.as_bytes(), &args.encode_to_vec()],
            signer,
        )
    }

    async fn lifecycle(
        &self,
        channel: &str,
        function: &str,
        args: &impl Message,
        signer: &SigningIdentity,
    ) -> ProposalResponse {
        let signed = self.lifecycle_proposal(channel, function, args, signer);
        self.endorser
            .process_proposal(signed)
            .await
            .expect("not refused")
    }

    async fn readiness(
        &self,
        args: &CheckCommitReadinessArgs,
    ) -> Result<BTreeMap<String, bool>, String> {
        let response = self
            .lifecycle(CHANNEL, "CheckCommitReadiness", args, &self.admin)
            .await;
        if status(&response) != 200 {
            return Err(message(&response));
        }
        let result = CheckCommitReadinessResult::decode(payload(&response)).expect("result");
        Ok(result.approvals.into_iter().collect())
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

fn payload(r: &ProposalResponse) -> &[u8] {
    r.response.as_ref().map_or(&[], |r| r.payload.as_slice())
}

fn action_of(r: &ProposalResponse) -> ChaincodeAction {
    let prp = ProposalResponsePayload::decode(r.payload.as_slice()).expect("prp");
    ChaincodeAction::decode(prp.extension.as_slice()).expect("action")
}

fn approve_args(
    name: &str,
    sequence: i64,
    version: &str,
    package_id: &str,
) -> ApproveChaincodeDefinitionForMyOrgArgs {
    ApproveChaincodeDefinitionForMyOrgArgs {
        sequence,
        name: name.into(),
        version: version.into(),
        source: Some(ChaincodeSource {
            r#type: Some(SourceType::LocalPackage(Local {
                package_id: package_id.into(),
            })),
        }),
        ..Default::default()
    }
}

fn readiness_args(name: &str, sequence: i64, version: &str) -> CheckCommitReadinessArgs {
    CheckCommitReadinessArgs {
        sequence,
        name: name.into(),
        version: version.into(),
        ..Default::default()
    }
}

fn commit_args(name: &str, sequence: i64, version: &str) -> CommitChaincodeDefinitionArgs {
    CommitChaincodeDefinitionArgs {
        sequence,
        name: name.into(),
        version: version.into(),
        ..Default::default()
    }
}

fn approvals(entries: &[(&str, bool)]) -> BTreeMap<String, bool> {
    entries.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

#[tokio::test]
async fn lifecycle_two_orgs_install_approve_commit_invoke_and_upgrade() {
    let net = Net::new().await;
    let wasm = guest("well_behaved");
    let package = ChaincodePackage::build(WASM_TYPE, "basic_1.0", "", &[("chaincode.wasm", &wasm)])
        .expect("package");
    let id = net.install(&package).await;
    assert_eq!(id, package_id("basic_1.0", &package));

    // Installing again, or as a non-admin, is refused.
    let org1 = net.peer(1);
    let again = org1
        .lifecycle(
            "",
            "InstallChaincode",
            &InstallChaincodeArgs {
                chaincode_install_package: package.clone(),
            },
            &org1.admin,
        )
        .await;
    assert_eq!(
        message(&again),
        format!(
            "failed to invoke backing implementation of 'InstallChaincode': chaincode already successfully installed (package ID '{id}')"
        )
    );
    let by_user = org1
        .lifecycle(
            "",
            "InstallChaincode",
            &InstallChaincodeArgs {
                chaincode_install_package: package.clone(),
            },
            &net.user1,
        )
        .await;
    assert_eq!(status(&by_user), 500);
    assert!(
        message(&by_user).starts_with("Failed to authorize invocation due to failed ACL check: Failed verifying that proposal's creator satisfies local MSP principal during channelless check policy with policy [Admins]"),
        "{}",
        message(&by_user)
    );
    let fetched = org1
        .lifecycle(
            "",
            "GetInstalledChaincodePackage",
            &GetInstalledChaincodePackageArgs {
                package_id: id.clone(),
            },
            &org1.admin,
        )
        .await;
    assert_eq!(
        GetInstalledChaincodePackageResult::decode(payload(&fetched))
            .expect("result")
            .chaincode_install_package,
        package
    );

    // Malformed invocations.
    let unknown = org1
        .lifecycle("", "Nothing", &InstallChaincodeArgs::default(), &org1.admin)
        .await;
    assert_eq!(
        message(&unknown),
        "Failed to authorize invocation due to failed ACL check: Unmapped policy for _lifecycle/Nothing"
    );
    let one_arg = org1
        .call("", LIFECYCLE_NAMESPACE, &[b"InstallChaincode"], &org1.admin)
        .await;
    assert_eq!(
        message(&one_arg),
        "lifecycle scc operations require exactly two arguments but received 1"
    );

    // Sequence rules on approval.
    for (sequence, expected) in [
        (
            0,
            "requested sequence is 0, but first definable sequence number is 1",
        ),
        (
            3,
            "requested sequence 3 is larger than the next available sequence number 1",
        ),
    ] {
        let refused = org1
            .lifecycle(
                CHANNEL,
                "ApproveChaincodeDefinitionForMyOrg",
                &approve_args("basic", sequence, "1.0", &id),
                &org1.admin,
            )
            .await;
        assert_eq!(
            message(&refused),
            format!(
                "failed to invoke backing implementation of 'ApproveChaincodeDefinitionForMyOrg': {expected}"
            )
        );
        assert!(refused.endorsement.is_none());
    }

    // Org1 approves: its approval is a private write, its hashes public.
    assert_eq!(
        net.approve(1, &approve_args("basic", 1, "1.0", &id)).await,
        6
    );
    let unchanged = org1
        .lifecycle(
            CHANNEL,
            "ApproveChaincodeDefinitionForMyOrg",
            &approve_args("basic", 1, "1.0", &id),
            &org1.admin,
        )
        .await;
    assert_eq!(
        message(&unchanged),
        "failed to invoke backing implementation of 'ApproveChaincodeDefinitionForMyOrg': attempted to redefine uncommitted sequence (1) for namespace basic with unchanged content"
    );
    let ready = readiness_args("basic", 1, "1.0");
    for peer in &net.peers {
        assert_eq!(
            peer.readiness(&ready).await,
            Ok(approvals(&[("Org1MSP", true), ("Org2MSP", false)]))
        );
    }
    // CheckCommitReadiness is for the channel's Writers; approving, for the org's admins.
    let by_member = org1
        .lifecycle(CHANNEL, "CheckCommitReadiness", &ready, &net.user1)
        .await;
    assert_eq!(status(&by_member), 200, "{}", message(&by_member));
    let approve_by_member = org1
        .lifecycle(
            CHANNEL,
            "ApproveChaincodeDefinitionForMyOrg",
            &approve_args("basic", 1, "1.0", &id),
            &net.user1,
        )
        .await;
    assert!(
        message(&approve_by_member)
            .starts_with("Failed to authorize invocation due to failed ACL check: "),
        "{}",
        message(&approve_by_member)
    );
    assert_eq!(
        org1.readiness(&readiness_args("basic", 2, "1.0")).await,
        Err("failed to invoke backing implementation of 'CheckCommitReadiness': requested sequence is 2, but new definition must be sequence 1".into())
    );
    assert_eq!(
        org1.readiness(&readiness_args("basic", 1, "1.1")).await,
        Ok(approvals(&[("Org1MSP", false), ("Org2MSP", false)]))
    );

    // Org2's peer will not endorse a commit its org has not approved; the commit endorsed
    // by Org1 alone fails the LifecycleEndorsement (majority) policy.
    let commit = commit_args("basic", 1, "1.0");
    let signed =
        org1.lifecycle_proposal(CHANNEL, "CommitChaincodeDefinition", &commit, &org1.admin);
    let refused = net
        .peer(2)
        .endorser
        .process_proposal(signed.clone())
        .await
        .expect("answered");
    assert_eq!(
        message(&refused),
        "failed to invoke backing implementation of 'CommitChaincodeDefinition': chaincode definition not agreed to by this org (Org2MSP)"
    );
    let alone = org1
        .endorser
        .process_proposal(signed.clone())
        .await
        .expect("answered");
    assert_eq!(status(&alone), 200, "{}", message(&alone));
    assert_eq!(
        net.submit(&signed, &[alone], &org1.admin),
        TxValidationCode::EndorsementPolicyFailure
    );
    let undefined = net.invoke(1, "basic", &[b"put", b"v"]).await;
    assert!(
        message(&undefined).ends_with("chaincode basic not found"),
        "{}",
        message(&undefined)
    );

    // Org2 approves; both endorse the commit; it commits.
    assert_eq!(
        net.approve(2, &approve_args("basic", 1, "1.0", &id)).await,
        6
    );
    assert_eq!(
        org1.readiness(&ready).await,
        Ok(approvals(&[("Org1MSP", true), ("Org2MSP", true)]))
    );
    assert_eq!(net.commit(&commit).await, TxValidationCode::Valid);

    // Queries.
    let defined = org1
        .lifecycle(
            CHANNEL,
            "QueryChaincodeDefinition",
            &QueryChaincodeDefinitionArgs {
                name: "basic".into(),
            },
            &org1.admin,
        )
        .await;
    assert_eq!(status(&defined), 200, "{}", message(&defined));
    let defined = QueryChaincodeDefinitionResult::decode(payload(&defined)).expect("result");
    assert_eq!(defined.sequence, 1);
    assert_eq!(defined.version, "1.0");
    assert_eq!(defined.endorsement_plugin, "escc");
    assert_eq!(defined.validation_plugin, "vscc");
    assert_eq!(
        defined.validation_parameter,
        channel_policy_reference(DEFAULT_ENDORSEMENT_POLICY_REF).encode_to_vec()
    );
    assert_eq!(
        defined.approvals.into_iter().collect::<BTreeMap<_, _>>(),
        approvals(&[("Org1MSP", true), ("Org2MSP", true)])
    );
    let missing = org1
        .lifecycle(
            CHANNEL,
            "QueryChaincodeDefinition",
            &QueryChaincodeDefinitionArgs {
                name: "nothing".into(),
            },
            &org1.admin,
        )
        .await;
    assert_eq!(
        (status(&missing), message(&missing)),
        (404, "namespace nothing is not defined".into())
    );
    let all = org1
        .lifecycle(
            CHANNEL,
            "QueryChaincodeDefinitions",
            &QueryChaincodeDefinitionsArgs {},
            &org1.admin,
        )
        .await;
    let all = QueryChaincodeDefinitionsResult::decode(payload(&all)).expect("result");
    assert_eq!(all.chaincode_definitions.len(), 1);
    assert_eq!(all.chaincode_definitions[0].name, "basic");
    let approved = org1
        .lifecycle(
            CHANNEL,
            "QueryApprovedChaincodeDefinition",
            &QueryApprovedChaincodeDefinitionArgs {
                name: "basic".into(),
                sequence: 0,
            },
            &org1.admin,
        )
        .await;
    assert_eq!(status(&approved), 200, "{}", message(&approved));
    let approved =
        QueryApprovedChaincodeDefinitionResult::decode(payload(&approved)).expect("result");
    assert_eq!((approved.sequence, approved.version.as_str()), (1, "1.0"));
    assert_eq!(
        approved.source.and_then(|s| s.r#type),
        Some(SourceType::LocalPackage(Local {
            package_id: id.clone()
        }))
    );
    let installed = org1
        .lifecycle(
            "",
            "QueryInstalledChaincodes",
            &QueryInstalledChaincodesArgs {},
            &org1.admin,
        )
        .await;
    let installed = QueryInstalledChaincodesResult::decode(payload(&installed)).expect("result");
    assert_eq!(installed.installed_chaincodes.len(), 1);
    let refs = &installed.installed_chaincodes[0].references[CHANNEL].chaincodes;
    assert_eq!(
        (refs[0].name.as_str(), refs[0].version.as_str()),
        ("basic", "1.0")
    );
    let one = org1
        .lifecycle(
            "",
            "QueryInstalledChaincode",
            &QueryInstalledChaincodeArgs {
                package_id: id.clone(),
            },
            &org1.admin,
        )
        .await;
    let one = QueryInstalledChaincodeResult::decode(payload(&one)).expect("result");
    assert_eq!(
        (one.package_id.as_str(), one.label.as_str()),
        (id.as_str(), "basic_1.0")
    );
    assert_eq!(one.references[CHANNEL].chaincodes[0].name, "basic");

    // Org1's peer sees Org2's approval through hashes only: the package is found among
    // the installed ones by the hash of its id.
    let channel = org1.channels.get(CHANNEL).expect("channel");
    let snapshot = channel.ledger().snapshot().expect("snapshot");
    let definition = definitions::chaincode_definition(&snapshot, "basic")
        .expect("read")
        .expect("defined");
    assert_eq!(
        super::local_approval(&snapshot, "Org2MSP", "basic", &definition, || vec![
            "other:11".into(),
            id.clone()
        ]),
        Ok(super::LocalApproval::Approved(Some(id.clone())))
    );
    assert_eq!(
        super::local_approval(&snapshot, "Org2MSP", "basic", &definition, Vec::new),
        Ok(super::LocalApproval::Approved(None))
    );
    let mut changed = definition.clone();
    changed.endorsement_info.version = "9".into();
    assert_eq!(
        super::local_approval(&snapshot, "Org1MSP", "basic", &changed, Vec::new),
        Ok(super::LocalApproval::NotApproved)
    );
    drop(snapshot);

    // Invocable at once, on both orgs' peers.
    for org in [1, 2] {
        let invoked = net.invoke(org, "basic", &[b"put", b"v1"]).await;
        assert_eq!(status(&invoked), 200, "org{org}: {}", message(&invoked));
        assert_eq!(action_of(&invoked).chaincode_id.expect("id").version, "1.0");
    }

    // Upgrade to sequence 2 with a new package.
    let package2 =
        ChaincodePackage::build(WASM_TYPE, "basic_2.0", "", &[("chaincode.wasm", &wasm)])
            .expect("package");
    let id2 = net.install(&package2).await;
    assert_eq!(
        net.approve(1, &approve_args("basic", 2, "2.0", &id2)).await,
        6
    );
    assert_eq!(
        net.approve(2, &approve_args("basic", 2, "2.0", &id2)).await,
        6
    );
    assert_eq!(
        net.commit(&commit_args("basic", 2, "2.0")).await,
        TxValidationCode::Valid
    );
    let invoked = net.invoke(1, "basic", &[b"put", b"v2"]).await;
    assert_eq!(status(&invoked), 200, "{}", message(&invoked));
    assert_eq!(action_of(&invoked).chaincode_id.expect("id").version, "2.0");
    assert!(org1.support.registry().connected().contains(&id2));

    // The committed sequence can no longer be redefined, nor older ones approved.
    let older = org1
        .lifecycle(
            CHANNEL,
            "ApproveChaincodeDefinitionForMyOrg",
            &approve_args("basic", 1, "1.0", &id),
            &org1.admin,
        )
        .await;
    assert!(
        message(&older)
            .ends_with("currently defined sequence 2 is larger than requested sequence 1"),
        "{}",
        message(&older)
    );
    let redefine = org1
        .lifecycle(
            CHANNEL,
            "ApproveChaincodeDefinitionForMyOrg",
            &approve_args("basic", 2, "3.0", &id2),
            &org1.admin,
        )
        .await;
    assert!(
        message(&redefine).ends_with("attempted to redefine the current committed sequence (2) for namespace basic with different parameters: expected Version '2.0' does not match passed Version '3.0'"),
        "{}",
        message(&redefine)
    );

    // Re-approving the committed sequence with another package (Fabric's way to switch
    // or withdraw an org's package) rewrites only the package id, and the next
    // invocation on this org's peers uses it.
    assert_eq!(
        net.approve(1, &approve_args("basic", 2, "2.0", "gone_1.0:00"))
            .await,
        1
    );
    let withdrawn = net.invoke(1, "basic", &[b"put", b"v3"]).await;
    assert!(
        message(&withdrawn)
            .ends_with("chaincode definition for 'basic' exists, but chaincode is not installed"),
        "{}",
        message(&withdrawn)
    );
    let still = net.invoke(2, "basic", &[b"put", b"v3"]).await;
    assert_eq!(status(&still), 200, "{}", message(&still));
    assert_eq!(
        net.approve(1, &approve_args("basic", 2, "2.0", &id2)).await,
        1
    );
    let back = net.invoke(1, "basic", &[b"put", b"v4"]).await;
    assert_eq!(status(&back), 200, "{}", message(&back));
}

#[tokio::test]
async fn lifecycle_a_wrong_package_id_leaves_the_chaincode_uninvocable() {
    let net = Net::new().await;
    net.approve(1, &approve_args("other", 1, "1.0", "missing_1.0:00"))
        .await;
    net.approve(2, &approve_args("other", 1, "1.0", "missing_1.0:00"))
        .await;
    assert_eq!(
        net.commit(&commit_args("other", 1, "1.0")).await,
        TxValidationCode::Valid
    );
    let invoked = net.invoke(1, "other", &[b"f"]).await;
    assert_eq!(status(&invoked), 500);
    assert_eq!(
        message(&invoked),
        "make sure the chaincode other has been successfully defined on channel mychannel and try again: chaincode definition for 'other' exists, but chaincode is not installed"
    );
    // Definitions are checked before anything is written.
    let org3_only = CollectionConfigPackage {
        config: vec![CollectionConfig {
            payload: Some(CollectionPayload::StaticCollectionConfig(
                StaticCollectionConfig {
                    name: "c".into(),
                    member_orgs_policy: Some(CollectionPolicyConfig {
                        payload: Some(PolicyPayload::SignaturePolicy(
                            dsl::parse("OR('Org3MSP.member')").expect("policy"),
                        )),
                    }),
                    maximum_peer_count: 1,
                    ..Default::default()
                },
            )),
        }],
    };
    let org1 = net.peer(1);
    for (args, expected) in [
        (
            approve_args("bad name", 1, "1.0", ""),
            "invalid chaincode name 'bad name'. Names can only consist of alphanumerics, '_', and '-' and can only begin with alphanumerics",
        ),
        (
            approve_args("qscc", 1, "1.0", ""),
            "chaincode name 'qscc' is the name of a system chaincode",
        ),
        (
            approve_args("cc", 1, "1 0", ""),
            "invalid chaincode version '1 0'. Versions can only consist of alphanumerics, '_', '-', '+', and '.'",
        ),
        (
            ApproveChaincodeDefinitionForMyOrgArgs {
                collections: Some(org3_only),
                ..approve_args("cc", 1, "1.0", "")
            },
            "collection-name: c -- collection member 'Org3MSP' is not part of the channel",
        ),
    ] {
        let refused = org1
            .lifecycle(
                CHANNEL,
                "ApproveChaincodeDefinitionForMyOrg",
                &args,
                &org1.admin,
            )
            .await;
        assert_eq!(
            message(&refused),
            format!(
                "failed to invoke backing implementation of 'ApproveChaincodeDefinitionForMyOrg': error validating chaincode definition: {expected}"
            )
        );
    }

    // A package that does not build is not kept.
    let broken = ChaincodePackage::build(
        WASM_TYPE,
        "broken_1.0",
        "",
        &[("chaincode.wasm", b"not wasm".as_slice())],
    )
    .expect("package");
    let broken_id = package_id("broken_1.0", &broken);
    let failed = org1
        .lifecycle(
            "",
            "InstallChaincode",
            &InstallChaincodeArgs {
                chaincode_install_package: broken,
            },
            &org1.admin,
        )
        .await;
    assert_eq!(status(&failed), 500);
    assert!(
        message(&failed).starts_with(&format!(
            "failed to invoke backing implementation of 'InstallChaincode': could not build chaincode {broken_id}: "
        )),
        "{}",
        message(&failed)
    );
    assert!(!org1.support.packages().contains(&broken_id));

    // No package is installed under the approved id.
    let query = org1
        .lifecycle(
            "",
            "QueryInstalledChaincode",
            &QueryInstalledChaincodeArgs {
                package_id: "missing_1.0:00".into(),
            },
            &org1.admin,
        )
        .await;
    assert_eq!(
        message(&query),
        "failed to invoke backing implementation of 'QueryInstalledChaincode': could not find chaincode with package id 'missing_1.0:00'"
    );
}
