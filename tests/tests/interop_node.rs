//! Interop vectors against code no one here wrote: the official `@hyperledger/fabric-gateway`
//! 1.12.1 client and `@hyperledger/fabric-protos` messages, driven through the Node scripts
//! in `tests/interop/` (see `weft_tests`).
//!
//! - Node → Rust: fabric-gateway builds and signs a proposal and a block-events (deliver)
//!   request with an identity from our `cryptogen`; Rust unpacks them, recomputes the txid,
//!   verifies the signatures and validates the creator against the org's MSP directory.
//! - Rust → Node: a signed proposal, an endorsed and signed transaction envelope, a seek
//!   envelope, our `configtxgen` genesis block and signed blocks built by Rust are decoded
//!   by fabric-protos with the same field values; Node re-verifies every signature with its
//!   own `crypto.verify`, and recomputes txids, the proposal hash, data hashes and header
//!   hashes independently.
//!
//! Both tests fail (never skip) when `tests/interop/node_modules` is missing: run `npm ci`
//! in `tests/interop` (`.ci/run` does it).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use prost::Message;
use serde_json::{Value, json};
use tempfile::TempDir;
use weft_common::crypto::Signer;
use weft_common::msp::{Identity, Msp, MspDir, SigningIdentity};
use weft_common::protoutil;
use weft_proto::common::{
    Block, ChannelHeader, ConfigGroup, Envelope, HeaderType, Metadata, Policy, SignaturePolicy,
    policy::PolicyType, signature_policy,
};
use weft_proto::gateway::ProposedTransaction;
use weft_proto::msp::{FabricOuIdentifier, SerializedIdentity};
use weft_proto::orderer::{SeekInfo, SeekPosition, SeekSpecified, seek_info, seek_position};
use weft_proto::protos::{
    ChaincodeAction, ChaincodeEvent, ChaincodeId, Response, SignedProposal, chaincode_spec,
};
use weft_proto::{kvrwset, rwset};
use weft_tests::run_node_script;
use weft_tools::configtxgen;
use weft_tools::cryptogen::{self, CryptoConfig};

const CHANNEL: &str = "mychannel";
const CHAINCODE: &str = "basic";
/// fabric-gateway's "latest block" stop position (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The Fabric test network's organizations, NodeOUs on.
const CRYPTO_CONFIG: &str = r#"
OrdererOrgs:
  - Name: Orderer
    Domain: example.com
    EnableNodeOUs: true
    Specs:
      - Hostname: orderer
        SANS:
          - localhost
PeerOrgs:
  - Name: Org1
    Domain: org1.example.com
    EnableNodeOUs: true
    Template:
      Count: 1
      SANS:
        - localhost
    Users:
      Count: 1
  - Name: Org2
    Domain: org2.example.com
    EnableNodeOUs: true
    Template:
      Count: 1
      SANS:
        - localhost
    Users:
      Count: 1
"#;

/// The Fabric test network's `configtx.yaml` (profile `ChannelUsingRaft`), with paths into
/// [`CRYPTO_CONFIG`]'s output, plus anchor peers and ACLs so every value type appears.
const CONFIGTX: &str = r#"
Organizations:
  - &OrdererOrg
    Name: OrdererOrg
    ID: OrdererMSP
    MSPDir: crypto/ordererOrganizations/example.com/msp
    Policies:
      Readers: {Type: Signature, Rule: "OR('OrdererMSP.member')"}
      Writers: {Type: Signature, Rule: "OR('OrdererMSP.member')"}
      Admins: {Type: Signature, Rule: "OR('OrdererMSP.admin')"}
    OrdererEndpoints:
      - orderer.example.com:7050
  - &Org1
    Name: Org1MSP
    ID: Org1MSP
    MSPDir: crypto/peerOrganizations/org1.example.com/msp
    Policies:
      Readers: {Type: Signature, Rule: "OR('Org1MSP.admin', 'Org1MSP.peer', 'Org1MSP.client')"}
      Writers: {Type: Signature, Rule: "OR('Org1MSP.admin', 'Org1MSP.client')"}
      Admins: {Type: Signature, Rule: "OR('Org1MSP.admin')"}
      Endorsement: {Type: Signature, Rule: "OR('Org1MSP.peer')"}
    AnchorPeers:
      - {Host: peer0.org1.example.com, Port: 7051}
  - &Org2
    Name: Org2MSP
    ID: Org2MSP
    MSPDir: crypto/peerOrganizations/org2.example.com/msp
    Policies:
      Readers: {Type: Signature, Rule: "OR('Org2MSP.admin', 'Org2MSP.peer', 'Org2MSP.client')"}
      Writers: {Type: Signature, Rule: "OR('Org2MSP.admin', 'Org2MSP.client')"}
      Admins: {Type: Signature, Rule: "OR('Org2MSP.admin')"}
      Endorsement: {Type: Signature, Rule: "AND('Org2MSP.peer', OutOf(1, 'Org1MSP.member', 'Org2MSP.member'))"}
Capabilities:
  Channel: &ChannelCapabilities
    V2_0: true
  Orderer: &OrdererCapabilities
    V2_0: true
  Application: &ApplicationCapabilities
    V2_5: true
Application: &ApplicationDefaults
  Organizations:
  Policies:
    Readers: {Type: ImplicitMeta, Rule: "ANY Readers"}
    Writers: {Type: ImplicitMeta, Rule: "ANY Writers"}
    Admins: {Type: ImplicitMeta, Rule: "MAJORITY Admins"}
    LifecycleEndorsement: {Type: ImplicitMeta, Rule: "MAJORITY Endorsement"}
    Endorsement: {Type: ImplicitMeta, Rule: "MAJORITY Endorsement"}
  ACLs:
    _lifecycle/CommitChaincodeDefinition: /Channel/Application/Writers
    peer/Propose: /Channel/Application/Writers
    event/Block: /Channel/Application/Readers
  Capabilities:
    <<: *ApplicationCapabilities
Orderer: &OrdererDefaults
  Addresses:
    - orderer.example.com:7050
  BatchTimeout: 2s
  BatchSize:
    MaxMessageCount: 10
    AbsoluteMaxBytes: 99 MB
    PreferredMaxBytes: 512 KB
  Organizations:
  Policies:
    Readers: {Type: ImplicitMeta, Rule: "ANY Readers"}
    Writers: {Type: ImplicitMeta, Rule: "ANY Writers"}
    Admins: {Type: ImplicitMeta, Rule: "MAJORITY Admins"}
    BlockValidation: {Type: ImplicitMeta, Rule: "ANY Writers"}
Channel: &ChannelDefaults
  Policies:
    Readers: {Type: ImplicitMeta, Rule: "ANY Readers"}
    Writers: {Type: ImplicitMeta, Rule: "ANY Writers"}
    Admins: {Type: ImplicitMeta, Rule: "MAJORITY Admins"}
  Capabilities:
    <<: *ChannelCapabilities
Profiles:
  ChannelUsingRaft:
    <<: *ChannelDefaults
    Orderer:
      <<: *OrdererDefaults
      OrdererType: etcdraft
      EtcdRaft:
        Consenters:
          - Host: orderer.example.com
            Port: 7050
            ClientTLSCert: crypto/ordererOrganizations/example.com/orderers/orderer.example.com/tls/server.crt
            ServerTLSCert: crypto/ordererOrganizations/example.com/orderers/orderer.example.com/tls/server.crt
      Organizations:
        - *OrdererOrg
      Capabilities: *OrdererCapabilities
    Application:
      <<: *ApplicationDefaults
      Organizations:
        - *Org1
        - *Org2
      Capabilities: *ApplicationCapabilities
"#;

/// Crypto material generated by our cryptogen into a temporary directory.
struct Material {
    dir: TempDir,
}

impl Material {
    fn generate() -> Self {
        let dir = TempDir::new().expect("tempdir");
        let config = CryptoConfig::from_yaml(CRYPTO_CONFIG).expect("crypto config parses");
        cryptogen::generate(&config, &dir.path().join("crypto")).expect("cryptogen generate");
        Material { dir }
    }

    fn tmp(&self) -> &Path {
        self.dir.path()
    }

    fn org_dir(&self, domain: &str) -> PathBuf {
        let kind = if domain == "example.com" {
            "ordererOrganizations"
        } else {
            "peerOrganizations"
        };
        self.dir.path().join("crypto").join(kind).join(domain)
    }

    /// The org's verifying MSP directory.
    fn org_msp(&self, domain: &str) -> PathBuf {
        self.org_dir(domain).join("msp")
    }

    /// A user's local MSP directory.
    fn user_msp(&self, domain: &str, user: &str) -> PathBuf {
        self.org_dir(domain)
            .join("users")
            .join(format!("{user}@{domain}"))
            .join("msp")
    }

    /// A peer's or orderer's local MSP directory.
    fn node_msp(&self, domain: &str, host: &str) -> PathBuf {
        let kind = if domain == "example.com" {
            "orderers"
        } else {
            "peers"
        };
        self.org_dir(domain)
            .join(kind)
            .join(format!("{host}.{domain}"))
            .join("msp")
    }
}

/// The single file in `dir` (cryptogen writes exactly one cert / key per local MSP folder).
fn only_file(dir: &Path) -> PathBuf {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    assert_eq!(
        files.len(),
        1,
        "expected one file in {}: {files:?}",
        dir.display()
    );
    files.remove(0)
}

fn signing_identity(msp_dir: &Path, mspid: &str) -> SigningIdentity {
    MspDir::load(msp_dir, mspid)
        .unwrap_or_else(|e| panic!("load MSP dir {}: {e}", msp_dir.display()))
        .signing_identity
        .unwrap_or_else(|| panic!("{} has no signing identity", msp_dir.display()))
}

fn verifying_msp(msp_dir: &Path, mspid: &str) -> Msp {
    MspDir::load(msp_dir, mspid)
        .unwrap_or_else(|e| panic!("load MSP dir {}: {e}", msp_dir.display()))
        .msp()
        .unwrap_or_else(|e| panic!("MSP {mspid}: {e}"))
}

/// Writes `input` to a file in `dir` and runs the Node script on it.
fn run_node_json(dir: &Path, script: &str, input: &Value) -> Value {
    let path = dir.join(format!("{script}.input.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(input).expect("json")).expect("write input");
    let stdout = run_node_script(script, &path);
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{script} printed invalid JSON ({e}):\n{stdout}"))
}

fn hex_field(value: &Value, what: &str) -> Vec<u8> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{what}: not a string: {value}"));
    hex::decode(text).unwrap_or_else(|e| panic!("{what}: bad hex: {e}"))
}

// ---------------------------------------------------------------------------------------
// Node → Rust

#[test]
fn fabric_gateway_proposal_verifies_in_rust() {
    let material = Material::generate();
    let user_msp = material.user_msp("org1.example.com", "User1");
    let cert_path = only_file(&user_msp.join("signcerts"));
    let key_path = only_file(&user_msp.join("keystore"));
    let cert_pem = std::fs::read(&cert_path).expect("read cert");

    let arguments = ["asset1", "blue", "5", "Tomoko", "1300", "héllo ✓", ""];
    let transient = [
        ("asset_properties", r#"{"color":"blue","size":5}"#),
        ("empty", ""),
    ];
    let start_block = 7u64;
    let out = run_node_json(
        material.tmp(),
        "make-proposal.mjs",
        &json!({
            "mspId": "Org1MSP",
            "certPath": cert_path,
            "keyPath": key_path,
            "channel": CHANNEL,
            "chaincode": CHAINCODE,
            "transaction": "CreateAsset",
            "arguments": arguments,
            "transient": transient.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "startBlock": start_block,
        }),
    );
    let node_txid = out["transactionId"]
        .as_str()
        .expect("transactionId")
        .to_owned();

    // gateway.ProposedTransaction → SignedProposal → everything inside.
    let proposed = ProposedTransaction::decode(
        hex_field(&out["proposedTransaction"], "proposedTransaction").as_slice(),
    )
    .expect("ProposedTransaction decodes");
    assert_eq!(
        proposed.transaction_id, node_txid,
        "ProposedTransaction.transaction_id"
    );
    assert!(proposed.endorsing_organizations.is_empty());
    let signed: SignedProposal = proposed.proposal.expect("ProposedTransaction.proposal");
    let unpacked = protoutil::unpack_proposal(&signed).expect("unpack fabric-gateway proposal");
    unpacked.check_header().expect("endorser header checks");

    // Header fields and the txid, recomputed here.
    assert_eq!(
        unpacked.header_type(),
        HeaderType::EndorserTransaction as i32
    );
    assert_eq!(unpacked.channel_id(), CHANNEL);
    assert_eq!(unpacked.channel_header.epoch, 0);
    assert_eq!(unpacked.tx_id(), node_txid);
    assert_eq!(
        protoutil::compute_txid(unpacked.nonce(), unpacked.creator()),
        node_txid
    );
    assert_eq!(unpacked.nonce().len(), protoutil::NONCE_LEN);
    let ts = unpacked
        .channel_header
        .timestamp
        .expect("proposal timestamp");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    assert!(
        (ts.seconds - now).abs() < 300,
        "timestamp {ts:?} is not now ({now})"
    );

    // Creator: our cert under Org1MSP.
    let creator = SerializedIdentity::decode(unpacked.creator()).expect("creator decodes");
    assert_eq!(creator.mspid, "Org1MSP");
    assert_eq!(creator.id_bytes, cert_pem);

    // Chaincode, function, arguments and transient data.
    assert_eq!(unpacked.chaincode_name, CHAINCODE);
    let spec_id = unpacked
        .chaincode_spec
        .chaincode_id
        .as_ref()
        .expect("spec chaincode id");
    assert_eq!(spec_id.name, CHAINCODE);
    assert_eq!(
        unpacked.chaincode_spec.r#type,
        chaincode_spec::Type::Node as i32
    );
    let mut expected_args: Vec<Vec<u8>> = vec![b"CreateAsset".to_vec()];
    expected_args.extend(arguments.iter().map(|a| a.as_bytes().to_vec()));
    assert_eq!(unpacked.input.args, expected_args);
    let expected_transient: HashMap<String, Vec<u8>> = transient
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect();
    assert_eq!(unpacked.transient_map(), &expected_transient);

    // Signature and creator, checked by the org's MSP loaded from cryptogen's org MSP dir.
    let org1 = verifying_msp(&material.org_msp("org1.example.com"), "Org1MSP");
    let identity = Identity::from_serialized(unpacked.creator()).expect("creator identity");
    org1.validate(&identity)
        .expect("Org1 MSP validates the fabric-gateway creator");
    let signed_data = unpacked.signed_data();
    assert_eq!(signed_data.data.as_ref(), signed.proposal_bytes.as_slice());
    identity
        .verify(&signed_data.data, &signed_data.signature)
        .expect("fabric-gateway's proposal signature verifies in Rust");
    // Non-vacuous: a changed byte or another org's MSP must be refused.
    let mut tampered = signed.proposal_bytes.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(
        identity.verify(&tampered, &signed.signature).is_err(),
        "tampered proposal verified"
    );
    let org2 = verifying_msp(&material.org_msp("org2.example.com"), "Org2MSP");
    assert!(
        org2.validate(&identity).is_err(),
        "Org2 MSP accepted an Org1 identity"
    );

    // The block-events (deliver) request: a signed DELIVER_SEEK_INFO envelope.
    let events =
        Envelope::decode(hex_field(&out["blockEventsRequest"], "blockEventsRequest").as_slice())
            .expect("deliver envelope decodes");
    let unpacked_env = protoutil::unpack_envelope(&events).expect("unpack deliver envelope");
    assert_eq!(
        unpacked_env.header_type(),
        HeaderType::DeliverSeekInfo as i32
    );
    assert_eq!(unpacked_env.channel_id(), CHANNEL);
    assert_eq!(unpacked_env.creator(), unpacked.creator());
    // fabric-gateway 1.12.1 leaves both empty on seek envelopes: Deliver must not require them.
    assert_eq!(unpacked_env.tx_id(), "");
    assert!(unpacked_env.signature_header.nonce.is_empty());
    let seek = SeekInfo::decode(unpacked_env.data.as_slice()).expect("SeekInfo decodes");
    assert_eq!(seek.start, Some(specified(start_block)));
    assert_eq!(seek.stop, Some(specified(MAX_SAFE_INTEGER)));
    assert_eq!(
        seek.behavior,
        seek_info::SeekBehavior::BlockUntilReady as i32
    );
    let env_data = unpacked_env.signed_data();
    identity
        .verify(&env_data.data, &env_data.signature)
        .expect("fabric-gateway's deliver envelope signature verifies in Rust");
}

fn specified(number: u64) -> SeekPosition {
    SeekPosition {
        r#type: Some(seek_position::Type::Specified(SeekSpecified { number })),
    }
}

// ---------------------------------------------------------------------------------------
// Rust → Node

#[test]
fn rust_built_messages_decode_in_fabric_protos() {
    let material = Material::generate();
    let client = signing_identity(&material.user_msp("org1.example.com", "User1"), "Org1MSP");
    let peer = signing_identity(&material.node_msp("org1.example.com", "peer0"), "Org1MSP");
    let orderer = signing_identity(&material.node_msp("example.com", "orderer"), "OrdererMSP");

    // A signed proposal.
    let args: Vec<Vec<u8>> = vec![
        b"CreateAsset".to_vec(),
        b"asset7".to_vec(),
        "grün".as_bytes().to_vec(),
        vec![0, 1, 2, 0xff],
        Vec::new(),
    ];
    let transient: HashMap<String, Vec<u8>> = [
        ("secret".to_owned(), b"s3cr3t".to_vec()),
        ("bin".to_owned(), vec![0, 0xfe]),
    ]
    .into();
    let (proposal, txid) = protoutil::create_chaincode_proposal(
        CHANNEL,
        CHAINCODE,
        args.clone(),
        transient.clone(),
        client.creator(),
        None,
    );
    let signed = protoutil::sign_proposal(&proposal, &client).expect("sign proposal");
    let unpacked = protoutil::unpack_proposal(&signed).expect("unpack our proposal");

    // An endorsement by peer0.org1 and the client-signed transaction envelope.
    let rwset = rwset::TxReadWriteSet {
        data_model: rwset::tx_read_write_set::DataModel::Kv as i32,
        ns_rwset: vec![rwset::NsReadWriteSet {
            namespace: CHAINCODE.to_owned(),
            rwset: kvrwset::KvrwSet {
                reads: vec![kvrwset::KvRead {
                    key: "asset6".to_owned(),
                    version: Some(kvrwset::Version {
                        block_num: 3,
                        tx_num: 1,
                    }),
                }],
                writes: vec![kvrwset::KvWrite {
                    key: "asset7".to_owned(),
                    is_delete: false,
                    value: br#"{"ID":"asset7","Color":"green"}"#.to_vec(),
                }],
                ..Default::default()
            }
            .encode_to_vec(),
            collection_hashed_rwset: Vec::new(),
        }],
    };
    let event = ChaincodeEvent {
        chaincode_id: CHAINCODE.to_owned(),
        tx_id: txid.clone(),
        event_name: "AssetCreated".to_owned(),
        payload: b"asset7".to_vec(),
    };
    let action = ChaincodeAction {
        results: rwset.encode_to_vec(),
        events: event.encode_to_vec(),
        response: Some(Response {
            status: 200,
            message: "OK".to_owned(),
            payload: b"created".to_vec(),
        }),
        chaincode_id: Some(ChaincodeId {
            name: CHAINCODE.to_owned(),
            version: "1.0".to_owned(),
            ..Default::default()
        }),
    };
    let prp = protoutil::create_proposal_response_payload(&unpacked.proposal_hash, &action);
    let response =
        protoutil::create_proposal_response(action.response.clone().expect("response"), prp, &peer)
            .expect("endorse");
    let unsigned_tx = protoutil::assemble_transaction(&unpacked, &[response]).expect("assemble");
    let tx = protoutil::sign_envelope_payload(unsigned_tx.payload, &client).expect("sign tx");

    // A seek (deliver) envelope.
    let seek_info = SeekInfo {
        start: Some(specified(7)),
        stop: Some(specified(MAX_SAFE_INTEGER)),
        behavior: seek_info::SeekBehavior::FailIfNotReady as i32,
        error_response: seek_info::SeekErrorResponse::BestEffort as i32,
    };
    let seek = protoutil::create_signed_envelope(
        HeaderType::DeliverSeekInfo,
        CHANNEL,
        &client,
        &seek_info.encode_to_vec(),
        0,
    )
    .expect("seek envelope");
    let seek_header = protoutil::unpack_envelope(&seek).expect("unpack seek");

    // Blocks: configtxgen's genesis block, block 1 chained to it, and block 128 (a block
    // number whose DER INTEGER needs a leading zero byte) with two transactions.
    let genesis = genesis_block(&material);
    let genesis_hash = protoutil::block_header_hash(genesis.header.as_ref().expect("header"));
    let block1 = signed_block(
        1,
        genesis_hash.to_vec(),
        vec![tx.encode_to_vec()],
        &orderer,
        vec![0],
    );
    let block1_hash = protoutil::block_header_hash(block1.header.as_ref().expect("header"));
    let block128 = signed_block(
        128,
        block1_hash.to_vec(),
        vec![tx.encode_to_vec(), seek.encode_to_vec()],
        &orderer,
        vec![0, 13],
    );

    let out = run_node_json(
        material.tmp(),
        "decode-rust.mjs",
        &json!({ "items": [
            { "name": "proposal", "kind": "signedProposal", "hex": hex::encode(signed.encode_to_vec()) },
            { "name": "transaction", "kind": "envelope", "hex": hex::encode(tx.encode_to_vec()) },
            { "name": "seek", "kind": "envelope", "hex": hex::encode(seek.encode_to_vec()) },
            { "name": "genesis", "kind": "block", "hex": hex::encode(genesis.encode_to_vec()) },
            { "name": "block1", "kind": "block", "hex": hex::encode(block1.encode_to_vec()) },
            { "name": "block128", "kind": "block", "hex": hex::encode(block128.encode_to_vec()) },
        ]}),
    );

    let client_creator = creator_json(client.creator());
    let peer_creator = creator_json(peer.creator());
    let orderer_creator = creator_json(orderer.creator());
    let args_hex: Vec<String> = args.iter().map(hex::encode).collect();
    let transient_hex: serde_json::Map<String, Value> = transient
        .iter()
        .map(|(k, v)| (k.clone(), json!(hex::encode(v))))
        .collect();
    let verified = json!({ "verified": true, "lowS": true });

    // The signed proposal.
    let p = &out["proposal"];
    // The transient map has two entries: prost writes map entries in HashMap order, jspb
    // in sorted key order (Go in random order), so only that message may re-encode differently.
    assert_canonical(
        &p["nonCanonical"],
        &["proposal.proposal.payload"],
        "proposal",
    );
    assert_subset(&p["signature"], &verified, "proposal signature");
    let ch = &p["proposal"]["header"]["channelHeader"];
    assert_channel_header(ch, &unpacked.channel_header);
    assert_eq!(ch["txId"], json!(txid));
    assert_eq!(ch["extension"]["chaincodeId"]["name"], json!(CHAINCODE));
    let sh = &p["proposal"]["header"]["signatureHeader"];
    assert_eq!(sh["creator"], client_creator);
    assert_eq!(sh["nonce"], json!(hex::encode(unpacked.nonce())));
    let spec = &p["proposal"]["payload"]["input"]["chaincodeSpec"];
    assert_eq!(spec["type"], json!(chaincode_spec::Type::Node as i32));
    assert_eq!(spec["chaincodeId"]["name"], json!(CHAINCODE));
    assert_eq!(spec["input"]["args"], json!(args_hex));
    assert_eq!(
        p["proposal"]["payload"]["transientMap"],
        Value::Object(transient_hex)
    );

    // The transaction envelope: same header, transient data stripped, endorsement by peer0.
    let t = &out["transaction"];
    assert_canonical(&t["nonCanonical"], &[], "transaction");
    assert_subset(&t["signature"], &verified, "transaction signature");
    assert_eq!(
        t["payload"]["header"], p["proposal"]["header"],
        "transaction header = proposal header"
    );
    let actions = t["payload"]["data"]["actions"].as_array().expect("actions");
    assert_eq!(actions.len(), 1);
    let a = &actions[0];
    assert_eq!(
        a["header"], *sh,
        "action header = proposal signature header"
    );
    assert_eq!(
        a["chaincodeProposalPayload"]["input"]["chaincodeSpec"]["input"]["args"],
        json!(args_hex)
    );
    assert_eq!(
        a["chaincodeProposalPayload"]["transientMap"],
        json!({}),
        "transient data reached the transaction"
    );
    let prp = &a["proposalResponsePayload"];
    assert_eq!(
        prp["proposalHash"],
        json!(hex::encode(unpacked.proposal_hash))
    );
    let ext = &prp["extension"];
    assert_eq!(
        ext["chaincodeId"],
        json!({ "path": "", "name": CHAINCODE, "version": "1.0" })
    );
    assert_eq!(
        ext["response"],
        json!({ "status": 200, "message": "OK", "payload": hex::encode(b"created") })
    );
    assert_eq!(
        ext["events"],
        json!({ "chaincodeId": CHAINCODE, "txId": txid, "eventName": "AssetCreated", "payload": hex::encode(b"asset7") })
    );
    assert_eq!(ext["results"]["dataModel"], json!(0));
    let ns = &ext["results"]["nsRwset"][0];
    assert_eq!(ns["namespace"], json!(CHAINCODE));
    assert_eq!(
        ns["reads"],
        json!([{ "key": "asset6", "version": { "blockNum": 3, "txNum": 1 } }])
    );
    assert_eq!(
        ns["writes"],
        json!([{ "key": "asset7", "isDelete": false, "value": hex::encode(br#"{"ID":"asset7","Color":"green"}"#) }])
    );
    let endorsements = a["endorsements"].as_array().expect("endorsements");
    assert_eq!(endorsements.len(), 1);
    assert_eq!(endorsements[0]["endorser"], peer_creator);
    assert_subset(
        &endorsements[0]["signature"],
        &verified,
        "endorsement signature",
    );

    // The seek envelope.
    let s = &out["seek"];
    assert_canonical(&s["nonCanonical"], &[], "seek envelope");
    assert_subset(&s["signature"], &verified, "seek signature");
    assert_channel_header(
        &s["payload"]["header"]["channelHeader"],
        &seek_header.channel_header,
    );
    assert_eq!(
        s["payload"]["header"]["signatureHeader"]["creator"],
        client_creator
    );
    assert_eq!(
        s["payload"]["header"]["signatureHeader"]["nonce"],
        json!(hex::encode(&seek_header.signature_header.nonce))
    );
    let sd = &s["payload"]["data"];
    assert_eq!(sd["start"], json!({ "specified": { "number": 7 } }));
    assert_eq!(
        sd["stop"],
        json!({ "specified": { "number": MAX_SAFE_INTEGER } })
    );
    assert_eq!(
        sd["behavior"],
        json!(seek_info::SeekBehavior::FailIfNotReady as i32)
    );
    assert_eq!(
        sd["errorResponse"],
        json!(seek_info::SeekErrorResponse::BestEffort as i32)
    );

    // The genesis block: header, hash, config tree, metadata.
    let g = &out["genesis"];
    assert_block_header(g, &genesis);
    assert_eq!(g["header"]["previousHash"], json!(""));
    // Config maps: prost writes ConfigGroup map entries in HashMap order (jspb sorts, Go
    // randomizes) and leaves out empty message values in map entries (`Capabilities`' empty
    // `Capability{}`), which jspb and Go write as `12 00`. Same decoded values either way.
    let config_maps = [
        "genesis.data[0].payload.data",
        "Channel:Capabilities",
        "Channel/Orderer:Capabilities",
        "Channel/Application:Capabilities",
        "Channel/Application:ACLs",
    ];
    assert_canonical(&g["nonCanonical"], &config_maps, "genesis block");
    let g_data = g["data"].as_array().expect("genesis data");
    assert_eq!(g_data.len(), 1);
    assert_eq!(
        g_data[0]["signature"],
        Value::Null,
        "genesis envelope is unsigned"
    );
    let g_env = protoutil::extract_envelope(&genesis, 0).expect("genesis envelope");
    let g_unpacked = protoutil::unpack_envelope(&g_env).expect("unpack genesis envelope");
    assert_channel_header(
        &g_data[0]["payload"]["header"]["channelHeader"],
        &g_unpacked.channel_header,
    );
    assert_eq!(
        g_data[0]["payload"]["header"]["channelHeader"]["type"],
        json!(HeaderType::Config as i32)
    );
    assert_eq!(
        g_data[0]["payload"]["header"]["channelHeader"]["channelId"],
        json!(CHANNEL)
    );
    assert_eq!(
        g_data[0]["payload"]["header"]["signatureHeader"]["creator"],
        Value::Null
    );
    let config_envelope = protoutil::config_envelope_from_block(&genesis).expect("config envelope");
    let config = config_envelope.config.expect("config");
    let g_config = &g_data[0]["payload"]["data"]["config"];
    assert_eq!(g_config["sequence"], json!(config.sequence));
    let expected_tree = config_group_json(config.channel_group.as_ref().expect("channel group"));
    assert_eq!(
        g_config["channelGroup"], expected_tree,
        "config tree as decoded by fabric-protos"
    );
    assert_eq!(g["metadata"]["count"], json!(protoutil::METADATA_LEN));
    assert_eq!(
        g["metadata"]["lastConfig"],
        json!({ "index": 0, "signatures": 0 })
    );
    assert_eq!(
        g["metadata"]["signatures"]["value"]["lastConfig"],
        json!({ "index": 0 })
    );
    assert_eq!(g["metadata"]["signatures"]["signatures"], json!([]));

    // Block 1: chained to the genesis hash as Node computes it; signed by the orderer.
    let b1 = &out["block1"];
    assert_canonical(&b1["nonCanonical"], &[], "block 1");
    assert_block_header(b1, &block1);
    assert_eq!(
        b1["header"]["previousHash"], g["headerHash"],
        "block 1 previous_hash = Node's hash of block 0"
    );
    assert_eq!(b1["data"][0]["payload"], t["payload"]);
    assert_signed_metadata(b1, &orderer_creator, &[0]);

    let b128 = &out["block128"];
    assert_canonical(&b128["nonCanonical"], &[], "block 128");
    assert_block_header(b128, &block128);
    assert_eq!(b128["header"]["previousHash"], b1["headerHash"]);
    assert_eq!(b128["data"][0]["payload"], t["payload"]);
    assert_eq!(b128["data"][1]["payload"], s["payload"]);
    assert_signed_metadata(b128, &orderer_creator, &[0, 13]);
}

/// configtxgen's genesis block for the test network's application channel.
fn genesis_block(material: &Material) -> Block {
    std::fs::write(material.tmp().join("configtx.yaml"), CONFIGTX).expect("write configtx.yaml");
    let top = configtxgen::TopLevel::load(material.tmp()).expect("configtx.yaml loads");
    let profile = top.profile("ChannelUsingRaft").expect("profile");
    configtxgen::genesis_block(&profile, CHANNEL).expect("configtxgen genesis block")
}

/// A block signed by `orderer` (last config 0, consenter metadata set) with a filter.
fn signed_block(
    number: u64,
    previous_hash: Vec<u8>,
    envelopes: Vec<Vec<u8>>,
    orderer: &dyn Signer,
    filter: Vec<u8>,
) -> Block {
    let mut block = protoutil::build_block(number, previous_hash, envelopes);
    protoutil::sign_block(&mut block, orderer, 0, b"raft:term=2,index=9").expect("sign block");
    protoutil::set_transactions_filter(&mut block, filter);
    block
}

fn creator_json(creator: &[u8]) -> Value {
    let id = SerializedIdentity::decode(creator).expect("creator decodes");
    json!({ "mspid": id.mspid, "idBytes": hex::encode(&id.id_bytes) })
}

/// Every message Node re-encoded differently from our bytes is one of `map_messages`
/// (messages with a map field of several entries, whose order protobuf leaves open).
fn assert_canonical(non_canonical: &Value, map_messages: &[&str], what: &str) {
    let paths = non_canonical
        .as_array()
        .unwrap_or_else(|| panic!("{what}: nonCanonical missing"));
    for path in paths {
        let path = path.as_str().expect("path");
        assert!(
            map_messages.contains(&path),
            "{what}: fabric-protos re-encodes {path} differently from our bytes (non-canonical encoding)"
        );
    }
}

/// Every key of `expected` is in `actual` with the same value.
fn assert_subset(actual: &Value, expected: &Value, what: &str) {
    let expected = expected.as_object().expect("expected object");
    for (k, v) in expected {
        assert_eq!(&actual[k], v, "{what}: field {k} in {actual}");
    }
}

fn assert_channel_header(actual: &Value, expected: &ChannelHeader) {
    let ts = expected.timestamp.expect("timestamp");
    assert_eq!(actual["type"], json!(expected.r#type));
    assert_eq!(actual["version"], json!(expected.version));
    assert_eq!(
        actual["timestamp"],
        json!({ "seconds": ts.seconds, "nanos": ts.nanos })
    );
    assert_eq!(actual["channelId"], json!(expected.channel_id));
    assert_eq!(actual["txId"], json!(expected.tx_id));
    assert_eq!(actual["epoch"], json!(expected.epoch));
    assert_eq!(
        actual["tlsCertHash"],
        json!(hex::encode(&expected.tls_cert_hash))
    );
}

fn assert_block_header(actual: &Value, block: &Block) {
    let header = block.header.as_ref().expect("header");
    assert_eq!(actual["header"]["number"], json!(header.number));
    assert_eq!(
        actual["header"]["previousHash"],
        json!(hex::encode(&header.previous_hash))
    );
    assert_eq!(
        actual["header"]["dataHash"],
        json!(hex::encode(&header.data_hash))
    );
    assert_eq!(
        actual["headerHash"],
        json!(hex::encode(protoutil::block_header_hash(header))),
        "Node's SHA-256(DER(header)) = block_header_hash"
    );
    let count = block.data.as_ref().map_or(0, |d| d.data.len());
    assert_eq!(actual["data"].as_array().map(Vec::len), Some(count));
}

fn assert_signed_metadata(actual: &Value, orderer_creator: &Value, filter: &[u8]) {
    let md = &actual["metadata"];
    assert_eq!(md["count"], json!(protoutil::METADATA_LEN));
    assert_eq!(
        md["signatures"]["value"]["lastConfig"],
        json!({ "index": 0 })
    );
    let consenter = Metadata {
        value: b"raft:term=2,index=9".to_vec(),
        signatures: Vec::new(),
    };
    assert_eq!(
        md["signatures"]["value"]["consenterMetadata"],
        json!(hex::encode(consenter.encode_to_vec()))
    );
    let sigs = md["signatures"]["signatures"]
        .as_array()
        .expect("signatures");
    assert_eq!(sigs.len(), 1);
    assert_eq!(sigs[0]["signatureHeader"]["creator"], *orderer_creator);
    assert_eq!(
        sigs[0]["signatureHeader"]["nonce"].as_str().map(str::len),
        Some(2 * protoutil::NONCE_LEN)
    );
    assert_subset(
        &sigs[0]["signature"],
        &json!({ "verified": true, "lowS": true }),
        "block signature",
    );
    assert_eq!(md["lastConfig"], json!({ "index": 0, "signatures": 0 }));
    assert_eq!(md["transactionsFilter"], json!(filter));
}

// ---------------------------------------------------------------------------------------
// The config tree, rendered the way decode-rust.mjs renders it from fabric-protos.

fn config_group_json(group: &ConfigGroup) -> Value {
    let mut groups = serde_json::Map::new();
    for (k, g) in sorted(&group.groups) {
        groups.insert(k.clone(), config_group_json(g));
    }
    let mut values = serde_json::Map::new();
    for (k, v) in sorted(&group.values) {
        values.insert(
            k.clone(),
            json!({ "version": v.version, "modPolicy": v.mod_policy, "value": config_value_json(k, &v.value) }),
        );
    }
    let mut policies = serde_json::Map::new();
    for (k, p) in sorted(&group.policies) {
        policies.insert(
            k.clone(),
            json!({ "version": p.version, "modPolicy": p.mod_policy, "policy": p.policy.as_ref().map(policy_json) }),
        );
    }
    json!({
        "version": group.version,
        "modPolicy": group.mod_policy,
        "groups": groups,
        "values": values,
        "policies": policies,
    })
}

fn sorted<V>(map: &HashMap<String, V>) -> Vec<(&String, &V)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

fn decode<M: Message + Default>(bytes: &[u8], what: &str) -> M {
    M::decode(bytes).unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn fabric_ou_json(ou: Option<&FabricOuIdentifier>) -> Value {
    ou.map_or(Value::Null, |ou| {
        json!({ "certificate": hex::encode(&ou.certificate), "organizationalUnitIdentifier": ou.organizational_unit_identifier })
    })
}

fn hex_list(items: &[Vec<u8>]) -> Value {
    json!(items.iter().map(hex::encode).collect::<Vec<_>>())
}

fn config_value_json(key: &str, bytes: &[u8]) -> Value {
    use weft_proto::{common, etcdraft, msp, orderer, protos};
    match key {
        "HashingAlgorithm" => {
            json!({ "name": decode::<common::HashingAlgorithm>(bytes, key).name })
        }
        "BlockDataHashingStructure" => {
            json!({ "width": decode::<common::BlockDataHashingStructure>(bytes, key).width })
        }
        "OrdererAddresses" | "Endpoints" => {
            json!({ "addresses": decode::<common::OrdererAddresses>(bytes, key).addresses })
        }
        "Consortium" => json!({ "name": decode::<common::Consortium>(bytes, key).name }),
        "Capabilities" => {
            let mut names: Vec<String> = decode::<common::Capabilities>(bytes, key)
                .capabilities
                .into_keys()
                .collect();
            names.sort();
            json!({ "capabilities": names })
        }
        "MSP" => {
            let mc: msp::MspConfig = decode(bytes, key);
            if mc.r#type != 0 {
                return json!({ "type": mc.r#type, "config": hex::encode(&mc.config) });
            }
            let f: msp::FabricMspConfig = decode(&mc.config, "FabricMSPConfig");
            json!({
                "type": 0,
                "config": {
                    "name": f.name,
                    "rootCerts": hex_list(&f.root_certs),
                    "intermediateCerts": hex_list(&f.intermediate_certs),
                    "admins": hex_list(&f.admins),
                    "revocationList": hex_list(&f.revocation_list),
                    "signingIdentity": f.signing_identity.as_ref().map(|_| true),
                    "organizationalUnitIdentifiers":
                        f.organizational_unit_identifiers.iter().map(|ou| fabric_ou_json(Some(ou))).collect::<Vec<_>>(),
                    "cryptoConfig": f.crypto_config.as_ref().map(|c| json!({
                        "signatureHashFamily": c.signature_hash_family,
                        "identityIdentifierHashFunction": c.identity_identifier_hash_function,
                    })),
                    "tlsRootCerts": hex_list(&f.tls_root_certs),
                    "tlsIntermediateCerts": hex_list(&f.tls_intermediate_certs),
                    "fabricNodeOus": f.fabric_node_ous.as_ref().map(|n| json!({
                        "enable": n.enable,
                        "clientOuIdentifier": fabric_ou_json(n.client_ou_identifier.as_ref()),
                        "peerOuIdentifier": fabric_ou_json(n.peer_ou_identifier.as_ref()),
                        "adminOuIdentifier": fabric_ou_json(n.admin_ou_identifier.as_ref()),
                        "ordererOuIdentifier": fabric_ou_json(n.orderer_ou_identifier.as_ref()),
                    })),
                },
            })
        }
        "ConsensusType" => {
            let ct: orderer::ConsensusType = decode(bytes, key);
            let metadata = if ct.r#type == "etcdraft" {
                let md: etcdraft::ConfigMetadata = decode(&ct.metadata, "etcdraft.ConfigMetadata");
                json!({
                    "consenters": md.consenters.iter().map(|c| json!({
                        "host": c.host,
                        "port": c.port,
                        "clientTlsCert": hex::encode(&c.client_tls_cert),
                        "serverTlsCert": hex::encode(&c.server_tls_cert),
                    })).collect::<Vec<_>>(),
                    "options": md.options.as_ref().map(|o| json!({
                        "tickInterval": o.tick_interval,
                        "electionTick": o.election_tick,
                        "heartbeatTick": o.heartbeat_tick,
                        "maxInflightBlocks": o.max_inflight_blocks,
                        "snapshotIntervalSize": o.snapshot_interval_size,
                    })),
                })
            } else {
                json!(hex::encode(&ct.metadata))
            };
            json!({ "type": ct.r#type, "metadata": metadata, "state": ct.state })
        }
        "BatchSize" => {
            let bs: orderer::BatchSize = decode(bytes, key);
            json!({
                "maxMessageCount": bs.max_message_count,
                "absoluteMaxBytes": bs.absolute_max_bytes,
                "preferredMaxBytes": bs.preferred_max_bytes,
            })
        }
        "BatchTimeout" => json!({ "timeout": decode::<orderer::BatchTimeout>(bytes, key).timeout }),
        "ChannelRestrictions" => {
            json!({ "maxCount": decode::<orderer::ChannelRestrictions>(bytes, key).max_count })
        }
        "AnchorPeers" => {
            let ap: protos::AnchorPeers = decode(bytes, key);
            json!({ "anchorPeers": ap.anchor_peers.iter().map(|a| json!({ "host": a.host, "port": a.port })).collect::<Vec<_>>() })
        }
        "ACLs" => {
            let acls: protos::AcLs = decode(bytes, key);
            let map: serde_json::Map<String, Value> = acls
                .acls
                .into_iter()
                .map(|(k, v)| (k, json!(v.policy_ref)))
                .collect();
            json!({ "acls": map })
        }
        _ => json!({ "raw": hex::encode(bytes) }),
    }
}

fn signature_policy_json(rule: Option<&SignaturePolicy>) -> Value {
    match rule.and_then(|r| r.r#type.as_ref()) {
        None if rule.is_none() => Value::Null,
        None => json!({}),
        Some(signature_policy::Type::SignedBy(n)) => json!({ "signedBy": n }),
        Some(signature_policy::Type::NOutOf(n)) => json!({
            "nOutOf": {
                "n": n.n,
                "rules": n.rules.iter().map(|r| signature_policy_json(Some(r))).collect::<Vec<_>>(),
            }
        }),
    }
}

fn policy_json(policy: &Policy) -> Value {
    use weft_proto::common::{ImplicitMetaPolicy, MspRole, SignaturePolicyEnvelope, msp_principal};
    match PolicyType::try_from(policy.r#type) {
        Ok(PolicyType::Signature) => {
            let env: SignaturePolicyEnvelope = decode(&policy.value, "SignaturePolicyEnvelope");
            let identities: Vec<Value> = env
                .identities
                .iter()
                .map(|p| {
                    if p.principal_classification == msp_principal::Classification::Role as i32 {
                        let role: MspRole = decode(&p.principal, "MSPRole");
                        json!({
                            "principalClassification": 0,
                            "principal": { "mspIdentifier": role.msp_identifier, "role": role.role },
                        })
                    } else {
                        json!({
                            "principalClassification": p.principal_classification,
                            "principal": hex::encode(&p.principal),
                        })
                    }
                })
                .collect();
            json!({
                "type": policy.r#type,
                "value": {
                    "version": env.version,
                    "rule": signature_policy_json(env.rule.as_ref()),
                    "identities": identities,
                },
            })
        }
        Ok(PolicyType::ImplicitMeta) => {
            let imp: ImplicitMetaPolicy = decode(&policy.value, "ImplicitMetaPolicy");
            json!({ "type": policy.r#type, "value": { "subPolicy": imp.sub_policy, "rule": imp.rule } })
        }
        _ => json!({ "type": policy.r#type, "value": hex::encode(&policy.value) }),
    }
}
