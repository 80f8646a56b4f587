//! ProcessProposal through the chaincode support with the WASM launcher: a defined,
//! approved and installed chaincode is simulated, its read-write set and event endorsed,
//! and the transaction commits VALID; failures get Fabric's messages; hostile guests get
//! an error response while the peer keeps serving.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use weft_common::msp::SigningIdentity;
use weft_common::policy::dsl;
use weft_common::protoutil::{self, build_block, set_transactions_filter};
use weft_proto::kvrwset::KvrwSet;
use weft_proto::protos::{
    ChaincodeAction, ChaincodeEvent, ProposalResponse, ProposalResponsePayload, SignedProposal,
    TxValidationCode,
};
use weft_proto::rwset::TxReadWriteSet;
use weft_wasm_host::{EngineConfig, TxLimits, WasmEngine};

use super::Endorser;
use super::tests::{CHANNEL, Fixture, package_dir};
use crate::chaincode::package::{ChaincodePackage, PackageStore, WASM_TYPE};
use crate::chaincode::{Approval, ChaincodeSupport, Launcher, SupportConfig, WasmLauncher};
use crate::ledger::{KeyWrite, NsUpdates, StateView, TxUpdates};
use crate::metrics::PeerMetrics;
use crate::validation::definitions::{
    ChaincodeDefinition, LIFECYCLE_NAMESPACE, definitions_tx_updates, field_key, signature_policy,
};

/// A test guest from wasm-host/tests/guests, with the shared prelude spliced in.
fn guest(name: &str) -> Vec<u8> {
    let dir = package_dir().join("../wasm-host/tests/guests");
    let prelude = std::fs::read_to_string(dir.join("prelude.wat")).expect("prelude");
    let text = std::fs::read_to_string(dir.join(format!("{name}.wat"))).expect("guest");
    wat::parse_str(text.replace(";; @prelude", &prelude)).expect("valid wat")
}

struct Net {
    f: Fixture,
    support: Arc<ChaincodeSupport>,
    endorser: Endorser,
    metrics: Arc<PeerMetrics>,
    _store: tempfile::TempDir,
}

impl Net {
    async fn new() -> Self {
        let f = Fixture::new();
        f.join().await;
        let store = tempfile::tempdir().expect("tempdir");
        let engine = WasmEngine::new(EngineConfig {
            max_instances: 32,
            ..EngineConfig::default()
        })
        .expect("engine");
        let limits = TxLimits {
            fuel: 50_000_000,
            timeout: Duration::from_secs(5),
        };
        let wasm: Arc<dyn Launcher> = Arc::new(WasmLauncher::new(
            engine,
            store.path().join("wasm-cache"),
            limits,
        ));
        let support = ChaincodeSupport::new(
            SupportConfig {
                execute_timeout: Duration::from_secs(10),
                startup_timeout: Duration::from_secs(10),
                ..SupportConfig::default()
            },
            f.channels.clone(),
            f.endorser.acl().clone(),
            PackageStore::under(store.path()).expect("store"),
            HashMap::from([(WASM_TYPE.to_owned(), wasm)]),
        );
        let metrics = Arc::new(PeerMetrics::new().expect("metrics"));
        support.attach_metrics(metrics.clone());
        let endorser = f
            .endorser
            .clone()
            .with_chaincode_support(support.clone())
            .with_metrics(metrics.clone());
        Net {
            f,
            support,
            endorser,
            metrics,
            _store: store,
        }
    }

    /// Commits block `number` defining each chaincode (endorsed by Org1's peers) and
    /// writing `seed` into the `basic` namespace, without validation (test seeding).
    fn define(&self, number: u64, names: &[&str], seed: &[(&str, &[u8])]) {
        let policy = signature_policy(dsl::parse("OR('Org1MSP.peer')").expect("policy"));
        self.define_as(
            number,
            names,
            seed,
            ChaincodeDefinition::new(1, "1.0", &policy),
        );
    }

    /// [`Self::define`] with an explicit definition.
    fn define_as(
        &self,
        number: u64,
        names: &[&str],
        seed: &[(&str, &[u8])],
        definition: ChaincodeDefinition,
    ) {
        let defs: Vec<(&str, &ChaincodeDefinition)> =
            names.iter().map(|n| (*n, &definition)).collect();
        let mut updates = definitions_tx_updates(0, &format!("define-{number}"), &defs);
        updates.namespaces.push(NsUpdates {
            namespace: "basic".to_owned(),
            writes: seed
                .iter()
                .map(|(key, value)| KeyWrite {
                    key: (*key).to_owned(),
                    value: Some(value.to_vec()),
                })
                .collect(),
            metadata_writes: Vec::new(),
        });
        updates.namespaces.retain(|ns| !ns.writes.is_empty());
        let channel = self.f.channels.get(CHANNEL).expect("channel");
        let ledger = channel.ledger();
        let previous = ledger.block_store().last_header_hash();
        let mut block = build_block(number, previous, vec![b"seed".to_vec()]);
        set_transactions_filter(&mut block, vec![TxValidationCode::Valid as u8]);
        ledger
            .commit(&block, &[TxUpdates { ..updates }])
            .expect("seed commit");
    }

    /// Installs `wasm` labelled `label` and approves it for `name` at sequence 1.
    async fn deploy(&self, name: &str, label: &str, wasm: &[u8]) -> String {
        let package = ChaincodePackage::build(WASM_TYPE, label, "", &[("chaincode.wasm", wasm)])
            .expect("package");
        let ccid = self.support.install(&package).await.expect("install");
        self.support.approve(
            CHANNEL,
            name,
            Approval {
                sequence: 1,
                package_id: Some(ccid.clone()),
            },
        );
        ccid
    }

    fn signed(&self, chaincode: &str, args: &[&[u8]], signer: &SigningIdentity) -> SignedProposal {
        self.f.proposal(CHANNEL, chaincode, args, signer)
    }

    async fn call(&self, chaincode: &str, args: &[&[u8]]) -> ProposalResponse {
        let signed = self.signed(chaincode, args, &self.f.user1);
        self.endorser
            .process_proposal(signed)
            .await
            .expect("not refused")
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

fn action_of(r: &ProposalResponse) -> ChaincodeAction {
    let prp = ProposalResponsePayload::decode(r.payload.as_slice()).expect("prp");
    ChaincodeAction::decode(prp.extension.as_slice()).expect("action")
}

#[tokio::test]
async fn a_wasm_chaincode_is_simulated_endorsed_and_commits_valid() {
    let net = Net::new().await;
    net.define(1, &["basic"], &[("a", b"alpha")]);
    net.deploy("basic", "basic_1.0", &guest("well_behaved"))
        .await;

    let signed = net.signed("basic", &[b"put", b"value-1"], &net.f.user1);
    let response = net
        .endorser
        .process_proposal(signed.clone())
        .await
        .expect("answered");
    assert_eq!(status(&response), 200, "{}", message(&response));
    let answer = response.response.clone().expect("response");
    assert_eq!(answer.message, "ok");
    assert_eq!(answer.payload, b"alpha");

    // The endorsement is the peer's signature over prp ‖ endorser.
    let endorsement = response.endorsement.clone().expect("endorsed");
    let data = protoutil::endorsement_signed_data(&response.payload, &endorsement);
    let channel = net.f.channels.get(CHANNEL).expect("channel");
    let config = channel.config();
    let identity = config
        .msp_manager()
        .deserialize_identity(&data.identity)
        .expect("endorser identity");
    identity
        .verify(&data.data, &data.signature)
        .expect("valid endorsement signature");

    // The action: the rwset (the definition's sequence read through the simulator, the
    // chaincode's read and write), the event and the chaincode id with its version.
    let action = action_of(&response);
    let id = action.chaincode_id.clone().expect("chaincode id");
    assert_eq!((id.name.as_str(), id.version.as_str()), ("basic", "1.0"));
    let event = ChaincodeEvent::decode(action.events.as_slice()).expect("event");
    let unpacked = protoutil::unpack_proposal(&signed).expect("unpack");
    assert_eq!(event.chaincode_id, "basic");
    assert_eq!(event.tx_id, unpacked.tx_id());
    assert_eq!(
        (event.event_name.as_str(), event.payload.as_slice()),
        ("evt", b"p".as_slice())
    );
    let rwset = TxReadWriteSet::decode(action.results.as_slice()).expect("rwset");
    let namespaces: Vec<&str> = rwset
        .ns_rwset
        .iter()
        .map(|ns| ns.namespace.as_str())
        .collect();
    assert_eq!(namespaces, [LIFECYCLE_NAMESPACE, "basic"]);
    let lifecycle = KvrwSet::decode(rwset.ns_rwset[0].rwset.as_slice()).expect("kvrwset");
    assert_eq!(lifecycle.reads.len(), 1);
    assert_eq!(lifecycle.reads[0].key, field_key("basic", "Sequence"));
    assert!(lifecycle.writes.is_empty());
    let basic = KvrwSet::decode(rwset.ns_rwset[1].rwset.as_slice()).expect("kvrwset");
    assert_eq!(basic.reads.len(), 1);
    assert_eq!(basic.reads[0].key, "a");
    let version = basic.reads[0].version.expect("version");
    assert_eq!((version.block_num, version.tx_num), (1, 0));
    assert_eq!(basic.writes.len(), 1);
    assert_eq!(basic.writes[0].key, "b");
    assert_eq!(basic.writes[0].value, b"value-1");

    // The endorsed transaction passes our validator and commits.
    let envelope = protoutil::assemble_transaction(&unpacked, std::slice::from_ref(&response))
        .expect("assemble");
    let envelope =
        protoutil::sign_envelope_payload(envelope.payload, &net.f.user1).expect("sign tx");
    let previous = channel.ledger().block_store().last_header_hash();
    let block = build_block(2, previous, vec![envelope.encode_to_vec()]);
    let notice = channel
        .commit_block(block)
        .expect("commit")
        .expect("committed");
    assert_eq!(notice.transactions[0].code, TxValidationCode::Valid);
    let written = channel
        .ledger()
        .snapshot()
        .expect("snapshot")
        .get_state("basic", "b")
        .expect("read")
        .map(|v| v.value);
    assert_eq!(written.as_deref(), Some(b"value-1".as_slice()));

    // The same proposal again is a replay now.
    assert!(net.endorser.process_proposal(signed).await.is_err());
}

#[tokio::test]
async fn definition_approval_and_install_failures_get_fabric_messages() {
    let net = Net::new().await;
    net.define(1, &["basic", "unapproved", "uninstalled"], &[]);
    net.deploy("basic", "basic_1.0", &guest("well_behaved"))
        .await;
    net.support.approve(
        CHANNEL,
        "uninstalled",
        Approval {
            sequence: 1,
            package_id: Some("missing_1.0:00".into()),
        },
    );

    let undefined = net.call("nothing", &[b"f"]).await;
    assert_eq!(status(&undefined), 500);
    assert_eq!(
        message(&undefined),
        "make sure the chaincode nothing has been successfully defined on channel mychannel and try again: chaincode nothing not found"
    );
    let unapproved = net.call("unapproved", &[b"f"]).await;
    assert_eq!(
        message(&unapproved),
        "make sure the chaincode unapproved has been successfully defined on channel mychannel and try again: chaincode definition for 'unapproved' at sequence 1 on channel 'mychannel' has not yet been approved by this org"
    );
    let uninstalled = net.call("uninstalled", &[b"f"]).await;
    assert_eq!(
        message(&uninstalled),
        "make sure the chaincode uninstalled has been successfully defined on channel mychannel and try again: chaincode definition for 'uninstalled' exists, but chaincode is not installed"
    );
    assert!(undefined.endorsement.is_none() && uninstalled.endorsement.is_none());
}

/// A guest whose `fabric_run` never returns.
const LOOPING_GUEST: &str = r#"(module
  (import "fabric" "call" (func $call (param i32 i32 i32 i32 i32) (result i64)))
  (memory (export "memory") 1)
  (func (export "fabric_abi_v1"))
  (func (export "fabric_run") (result i32) (loop $l (br $l)) (i32.const 0)))"#;

/// A guest that traps at once.
const TRAPPING_GUEST: &str = r#"(module
  (import "fabric" "call" (func $call (param i32 i32 i32 i32 i32) (result i64)))
  (memory (export "memory") 1)
  (func (export "fabric_abi_v1"))
  (func (export "fabric_run") (result i32) unreachable))"#;

#[tokio::test]
async fn hostile_guests_get_error_responses_and_the_peer_keeps_serving() {
    let net = Net::new().await;
    net.define(1, &["basic", "looper", "trapper"], &[("a", b"alpha")]);
    net.deploy("basic", "basic_1.0", &guest("well_behaved"))
        .await;
    net.deploy(
        "looper",
        "looper_1.0",
        &wat::parse_str(LOOPING_GUEST).expect("wat"),
    )
    .await;
    net.deploy(
        "trapper",
        "trapper_1.0",
        &wat::parse_str(TRAPPING_GUEST).expect("wat"),
    )
    .await;

    for round in 0..2 {
        let looped = net.call("looper", &[b"f"]).await;
        assert_eq!(status(&looped), 500, "round {round}");
        let text = message(&looped);
        assert!(
            text.starts_with(
                "error in simulation: transaction returned with failure: chaincode looper_1.0:"
            ) && text.ends_with("failed: out of fuel"),
            "{text}"
        );
        assert!(looped.endorsement.is_none());

        let trapped = net.call("trapper", &[b"f"]).await;
        assert_eq!(status(&trapped), 500);
        assert!(
            message(&trapped).contains("unreachable"),
            "{}",
            message(&trapped)
        );

        let fine = net.call("basic", &[b"put", b"still serving"]).await;
        assert_eq!(status(&fine), 200, "{}", message(&fine));
    }
}

#[tokio::test]
async fn many_proposals_in_flight_on_one_chaincode() {
    let net = Arc::new(Net::new().await);
    net.define(1, &["basic"], &[("a", b"alpha")]);
    net.deploy("basic", "basic_1.0", &guest("well_behaved"))
        .await;
    let calls = (0..32).map(|i| {
        let net = net.clone();
        tokio::spawn(async move {
            let value = format!("value-{i}");
            let response = net.call("basic", &[b"put", value.as_bytes()]).await;
            (value, response)
        })
    });
    for call in calls {
        let (value, response) = call.await.expect("task");
        assert_eq!(status(&response), 200, "{}", message(&response));
        let rwset = TxReadWriteSet::decode(action_of(&response).results.as_slice()).expect("rwset");
        let basic = KvrwSet::decode(rwset.ns_rwset[1].rwset.as_slice()).expect("kvrwset");
        assert_eq!(basic.writes[0].value, value.as_bytes());
    }
    assert_eq!(net.support.registry().connected().len(), 1);
}

#[tokio::test]
async fn metrics_count_proposals_launches_and_shim_requests() {
    let net = Net::new().await;
    net.define(1, &["basic", "looper"], &[("a", b"alpha")]);
    let ccid = net
        .deploy("basic", "basic_1.0", &guest("well_behaved"))
        .await;
    net.deploy(
        "looper",
        "looper_1.0",
        &wat::parse_str(LOOPING_GUEST).expect("wat"),
    )
    .await;
    for _ in 0..2 {
        assert_eq!(status(&net.call("basic", &[b"put", b"v"]).await), 200);
    }
    assert_eq!(status(&net.call("looper", &[b"f"]).await), 500);
    let garbage = SignedProposal {
        proposal_bytes: b"garbage".to_vec(),
        signature: Vec::new(),
    };
    assert!(net.endorser.process_proposal(garbage).await.is_err());

    let text = String::from_utf8(net.metrics.encode_text().expect("encode")).expect("utf8");
    let has = |line: &str| {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    };
    has("endorser_proposals_received 4");
    has("endorser_successful_proposals 2");
    has("endorser_proposal_validation_failures 1");
    has("endorser_proposal_simulation_failures{chaincode=\"looper\",channel=\"mychannel\"} 1");
    has(
        "endorser_proposal_duration_count{chaincode=\"basic\",channel=\"mychannel\",success=\"true\"} 2",
    );
    has("weft_endorser_endorsement_duration_count{chaincode=\"basic\",channel=\"mychannel\"} 2");
    has(&format!(
        "chaincode_launch_duration_count{{chaincode=\"{ccid}\",success=\"true\"}} 1"
    ));
    has(&format!(
        "chaincode_shim_requests_completed{{chaincode=\"{ccid}\",channel=\"mychannel\",success=\"true\",type=\"GET_STATE\"}} 2"
    ));
}

/// A static collection whose members are the given orgs (any member).
fn collection(name: &str, orgs: &[&str]) -> weft_proto::protos::CollectionConfig {
    use weft_proto::protos::collection_config::Payload;
    use weft_proto::protos::collection_policy_config::Payload as PolicyPayload;
    let members: Vec<String> = orgs.iter().map(|o| format!("'{o}.member'")).collect();
    let policy = dsl::parse(&format!("OR({})", members.join(","))).expect("policy");
    weft_proto::protos::CollectionConfig {
        payload: Some(Payload::StaticCollectionConfig(
            weft_proto::protos::StaticCollectionConfig {
                name: name.into(),
                member_orgs_policy: Some(weft_proto::protos::CollectionPolicyConfig {
                    payload: Some(PolicyPayload::SignaturePolicy(policy)),
                }),
                ..Default::default()
            },
        )),
    }
}

#[tokio::test]
async fn private_writes_reach_the_private_store_of_member_peers_only() {
    use crate::ledger::private::hash;
    let net = Net::new().await;
    let policy = signature_policy(dsl::parse("OR('Org1MSP.peer')").expect("policy"));
    let mut definition = ChaincodeDefinition::new(1, "1.0", &policy);
    definition.collections.config = vec![
        collection("shared", &["Org1MSP", "Org2MSP"]),
        collection("org2only", &["Org2MSP"]),
    ];
    net.define_as(1, &["priv"], &[], definition);
    net.deploy("priv", "priv_1.0", &guest("private_put")).await;
    let channel = net.f.channels.get(CHANNEL).expect("channel");
    let ledger = channel.ledger().clone();

    let mut number = 2;
    let mut endorse_and_commit = |collection: &str, value: &[u8]| {
        let signed = net.signed("priv", &[collection.as_bytes(), value], &net.f.user1);
        let channel = channel.clone();
        let endorser = net.endorser.clone();
        let user = net.f.user1.clone();
        let this = number;
        number += 1;
        async move {
            let response = endorser
                .process_proposal(signed.clone())
                .await
                .expect("answered");
            assert_eq!(status(&response), 200, "{}", message(&response));
            let unpacked = protoutil::unpack_proposal(&signed).expect("unpack");
            let txid = unpacked.tx_id().to_owned();
            let held = channel
                .ledger()
                .transient_private_data(&txid)
                .expect("transient");
            let envelope =
                protoutil::assemble_transaction(&unpacked, &[response]).expect("assemble");
            let envelope = protoutil::sign_envelope_payload(envelope.payload, &user).expect("sign");
            let previous = channel.ledger().block_store().last_header_hash();
            let block = build_block(this, previous, vec![envelope.encode_to_vec()]);
            let notice = channel
                .commit_block(block)
                .expect("commit")
                .expect("committed");
            assert!(
                channel
                    .ledger()
                    .transient_private_data(&txid)
                    .expect("transient")
                    .is_empty(),
                "the transient store is purged at commit"
            );
            (held.len(), notice.transactions[0].code)
        }
    };

    // Org1 is a member of its implicit collection and of "shared": kept and committed.
    for coll in ["_implicit_org_Org1MSP", "shared"] {
        let outcome = endorse_and_commit(coll, b"mine").await;
        assert_eq!(outcome, (1, TxValidationCode::Valid), "{coll}");
        let stored = ledger.private_data("priv", coll, "k").expect("read");
        assert_eq!(stored.map(|v| v.value).as_deref(), Some(b"mine".as_slice()));
        let hashed = ledger.private_data_hash("priv", coll, "k").expect("read");
        assert_eq!(hashed.map(|v| v.value), Some(hash(b"mine")));
    }
    // Org1's peer may endorse a write to a collection of Org2 only, but keeps no clear
    // value: the hash alone commits.
    let outcome = endorse_and_commit("org2only", b"theirs").await;
    assert_eq!(outcome, (0, TxValidationCode::Valid));
    assert_eq!(
        ledger.private_data("priv", "org2only", "k").expect("read"),
        None
    );
    let hashed = ledger
        .private_data_hash("priv", "org2only", "k")
        .expect("read");
    assert_eq!(hashed.map(|v| v.value), Some(hash(b"theirs")));
    // A write to Org2's implicit collection needs Org2's endorsement (its org's
    // Endorsement policy): Org1 cannot forge it.
    let outcome = endorse_and_commit("_implicit_org_Org2MSP", b"forged").await;
    assert_eq!(outcome, (0, TxValidationCode::EndorsementPolicyFailure));
    let hashed = ledger
        .private_data_hash("priv", "_implicit_org_Org2MSP", "k")
        .expect("read");
    assert_eq!(hashed, None);
    // A write to an undefined collection is refused to the guest (which gives up with
    // its exit code 4; the handler's message is checked in chaincode::tests).
    let response = net.call("priv", &[b"nosuch", b"x"]).await;
    assert_eq!(status(&response), 500);
    assert!(
        message(&response).contains("fabric_run returned 4"),
        "{}",
        message(&response)
    );
}
