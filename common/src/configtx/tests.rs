//! Config updates on a test-network-like channel: an orderer org and two application
//! orgs with NodeOU MSPs, standard policies, etcdraft.

use std::sync::Arc;

use prost::Message;
use weft_proto::common::implicit_meta_policy::Rule;
use weft_proto::common::policy::PolicyType;
use weft_proto::common::{
    BlockDataHashingStructure, Capabilities, Capability, Config, ConfigGroup, ConfigPolicy,
    ConfigUpdate, ConfigUpdateEnvelope, ConfigValue, Envelope, HashingAlgorithm, HeaderType,
    ImplicitMetaPolicy, OrdererAddresses, Policy, SignatureHeader,
};
use weft_proto::etcdraft;
use weft_proto::msp::MspConfig;
use weft_proto::orderer::{BatchSize, BatchTimeout, ConsensusType};

use super::*;
use crate::channelconfig::{ConsensusState, keys};
use crate::crypto::CryptoError;
use crate::msp::test_certs::{TestCert, TestOrg};
use crate::policy::dsl;
use crate::protoutil::{ProtoError, unpack_envelope};

const CHANNEL: &str = "mychannel";

fn value(msg: &impl Message) -> ConfigValue {
    ConfigValue {
        version: 0,
        value: msg.encode_to_vec(),
        mod_policy: "Admins".into(),
    }
}

fn signature_policy(rule: &str) -> ConfigPolicy {
    ConfigPolicy {
        version: 0,
        policy: Some(Policy {
            r#type: PolicyType::Signature as i32,
            value: dsl::parse(rule).expect("policy").encode_to_vec(),
        }),
        mod_policy: "Admins".into(),
    }
}

fn implicit(rule: Rule, sub_policy: &str) -> ConfigPolicy {
    ConfigPolicy {
        version: 0,
        policy: Some(Policy {
            r#type: PolicyType::ImplicitMeta as i32,
            value: ImplicitMetaPolicy {
                sub_policy: sub_policy.into(),
                rule: rule as i32,
            }
            .encode_to_vec(),
        }),
        mod_policy: "Admins".into(),
    }
}

fn capabilities(name: &str) -> ConfigValue {
    value(&Capabilities {
        capabilities: [(name.to_owned(), Capability {})].into(),
    })
}

fn group(mod_policy: &str) -> ConfigGroup {
    ConfigGroup {
        mod_policy: mod_policy.into(),
        ..Default::default()
    }
}

fn standard_policies(group: &mut ConfigGroup) {
    group
        .policies
        .insert("Readers".into(), implicit(Rule::Any, "Readers"));
    group
        .policies
        .insert("Writers".into(), implicit(Rule::Any, "Writers"));
    group
        .policies
        .insert("Admins".into(), implicit(Rule::Majority, "Admins"));
}

/// An application org group as configtxgen writes it.
fn application_org(org: &TestOrg) -> ConfigGroup {
    let id = &org.name;
    let mut group = group("Admins");
    group.values.insert(
        keys::MSP.into(),
        value(&MspConfig {
            r#type: 0,
            config: org.config().encode_to_vec(),
        }),
    );
    for (name, rule) in [
        (
            "Readers",
            format!("OR('{id}.admin', '{id}.peer', '{id}.client')"),
        ),
        ("Writers", format!("OR('{id}.admin', '{id}.client')")),
        ("Admins", format!("OR('{id}.admin')")),
        ("Endorsement", format!("OR('{id}.peer')")),
    ] {
        group.policies.insert(name.into(), signature_policy(&rule));
    }
    group
}

fn raft_metadata() -> etcdraft::ConfigMetadata {
    etcdraft::ConfigMetadata {
        consenters: vec![etcdraft::Consenter {
            host: "orderer.example.com".into(),
            port: 7050,
            client_tls_cert: b"client-pem".to_vec(),
            server_tls_cert: b"server-pem".to_vec(),
        }],
        options: Some(etcdraft::Options {
            tick_interval: "500ms".into(),
            election_tick: 10,
            heartbeat_tick: 1,
            max_inflight_blocks: 5,
            snapshot_interval_size: 16 << 20,
        }),
    }
}

fn consensus_type(state: ConsensusState) -> ConsensusType {
    ConsensusType {
        r#type: "etcdraft".into(),
        metadata: raft_metadata().encode_to_vec(),
        state: match state {
            ConsensusState::Normal => 0,
            ConsensusState::Maintenance => 1,
        },
    }
}

fn batch_size(max_message_count: u32) -> BatchSize {
    BatchSize {
        max_message_count,
        absolute_max_bytes: 10 << 20,
        preferred_max_bytes: 2 << 20,
    }
}

/// An admin of an org, as a `Signer`.
struct Admin {
    cert: TestCert,
    creator: Vec<u8>,
}

impl Signer for Admin {
    fn creator(&self) -> &[u8] {
        &self.creator
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.cert.key.sign(message)
    }
}

fn admin(org: &TestOrg) -> Admin {
    let cert = org.member("admin");
    Admin {
        creator: cert.serialized(&org.name),
        cert,
    }
}

struct Network {
    orderer_org: TestOrg,
    org1: TestOrg,
    org2: TestOrg,
    org3: TestOrg,
    config: Config,
}

impl Network {
    fn new() -> Self {
        let orderer_org = TestOrg::new("OrdererMSP");
        let org1 = TestOrg::new("Org1MSP");
        let org2 = TestOrg::new("Org2MSP");
        let org3 = TestOrg::new("Org3MSP");

        let mut orderer_org_group = group("Admins");
        orderer_org_group.values.insert(
            keys::MSP.into(),
            value(&MspConfig {
                r#type: 0,
                config: orderer_org.config().encode_to_vec(),
            }),
        );
        orderer_org_group.values.insert(
            keys::ENDPOINTS.into(),
            value(&OrdererAddresses {
                addresses: vec!["orderer.example.com:7050".into()],
            }),
        );
        for (name, rule) in [
            ("Readers", "OR('OrdererMSP.member')"),
            ("Writers", "OR('OrdererMSP.member')"),
            ("Admins", "OR('OrdererMSP.admin')"),
        ] {
            orderer_org_group
                .policies
                .insert(name.into(), signature_policy(rule));
        }

        let mut orderer = group("Admins");
        standard_policies(&mut orderer);
        orderer.policies.insert(
            keys::BLOCK_VALIDATION.into(),
            implicit(Rule::Any, "Writers"),
        );
        orderer.values.insert(
            keys::CONSENSUS_TYPE.into(),
            value(&consensus_type(ConsensusState::Normal)),
        );
        orderer
            .values
            .insert(keys::BATCH_SIZE.into(), value(&batch_size(10)));
        orderer.values.insert(
            keys::BATCH_TIMEOUT.into(),
            value(&BatchTimeout {
                timeout: "2s".into(),
            }),
        );
        orderer
            .values
            .insert(keys::CAPABILITIES.into(), capabilities("V2_0"));
        orderer
            .groups
            .insert("OrdererOrg".into(), orderer_org_group);

        let mut application = group("Admins");
        standard_policies(&mut application);
        application.policies.insert(
            keys::ENDORSEMENT.into(),
            implicit(Rule::Majority, "Endorsement"),
        );
        application.policies.insert(
            keys::LIFECYCLE_ENDORSEMENT.into(),
            implicit(Rule::Majority, "Endorsement"),
        );
        application
            .values
            .insert(keys::CAPABILITIES.into(), capabilities("V2_5"));
        application
            .groups
            .insert("Org1MSP".into(), application_org(&org1));
        application
            .groups
            .insert("Org2MSP".into(), application_org(&org2));

        let mut root = group("Admins");
        standard_policies(&mut root);
        root.values.insert(
            keys::HASHING_ALGORITHM.into(),
            value(&HashingAlgorithm {
                name: "SHA256".into(),
            }),
        );
        root.values.insert(
            keys::BLOCK_DATA_HASHING_STRUCTURE.into(),
            value(&BlockDataHashingStructure { width: u32::MAX }),
        );
        root.values
            .insert(keys::CAPABILITIES.into(), capabilities("V2_0"));
        root.groups.insert(keys::ORDERER_GROUP.into(), orderer);
        root.groups
            .insert(keys::APPLICATION_GROUP.into(), application);

        let config = Config {
            sequence: 0,
            channel_group: Some(root),
        };
        Self {
            orderer_org,
            org1,
            org2,
            org3,
            config,
        }
    }

    fn policies(&self) -> Arc<PolicyManager> {
        ChannelConfig::from_config(CHANNEL, &self.config)
            .expect("the fixture is a valid channel config")
            .policy_manager()
            .clone()
    }

    /// The current config with `edit` applied to its root group.
    fn edited(&self, edit: impl FnOnce(&mut ConfigGroup)) -> Config {
        let mut config = self.config.clone();
        edit(config.channel_group.as_mut().expect("root"));
        config
    }

    /// The update from the current config to `edit` of it.
    fn update(&self, edit: impl FnOnce(&mut ConfigGroup)) -> ConfigUpdate {
        compute_update(&self.config, &self.edited(edit), CHANNEL).expect("compute_update")
    }

    /// Proposes `update` signed by an admin of each of `orgs`.
    fn propose(&self, update: &ConfigUpdate, orgs: &[&TestOrg]) -> Result<Config, ConfigTxError> {
        let admins: Vec<Admin> = orgs.iter().map(|org| admin(org)).collect();
        let signers: Vec<&dyn Signer> = admins.iter().map(|a| a as &dyn Signer).collect();
        let envelope = signed_config_update(update, &signers).expect("sign");
        propose_update(&self.config, CHANNEL, &envelope, &self.policies())
    }
}

fn orderer(group: &mut ConfigGroup) -> &mut ConfigGroup {
    group.groups.get_mut(keys::ORDERER_GROUP).expect("orderer")
}

fn application(group: &mut ConfigGroup) -> &mut ConfigGroup {
    group
        .groups
        .get_mut(keys::APPLICATION_GROUP)
        .expect("application")
}

fn set_batch_size(root: &mut ConfigGroup, max_message_count: u32) {
    orderer(root)
        .values
        .get_mut(keys::BATCH_SIZE)
        .expect("batch size")
        .value = batch_size(max_message_count).encode_to_vec();
}

fn group_of<'a>(config: &'a Config, path: &[&str]) -> &'a ConfigGroup {
    let mut group = config.channel_group.as_ref().expect("root");
    for name in path {
        group = &group.groups[*name];
    }
    group
}

fn batch_size_of(config: &Config) -> (BatchSize, u64) {
    let value = &group_of(config, &[keys::ORDERER_GROUP]).values[keys::BATCH_SIZE];
    (
        BatchSize::decode(value.value.as_slice()).expect("batch size"),
        value.version,
    )
}

#[test]
fn batch_size_change_signed_by_the_orderer_admin_is_applied() {
    let net = Network::new();
    let update = net.update(|root| set_batch_size(root, 500));
    let next = net.propose(&update, &[&net.orderer_org]).expect("accepted");

    assert_eq!(next.sequence, 1);
    assert_eq!(batch_size_of(&next), (batch_size(500), 1));
    // Everything else is untouched.
    let mut expected = net.edited(|root| {
        let batch = orderer(root)
            .values
            .get_mut(keys::BATCH_SIZE)
            .expect("batch size");
        batch.value = batch_size(500).encode_to_vec();
        batch.version = 1;
    });
    expected.sequence = 1;
    assert_eq!(next, expected);
    let parsed = ChannelConfig::from_config(CHANNEL, &next).expect("parses");
    assert_eq!(
        parsed
            .orderer()
            .expect("orderer")
            .batch_size
            .max_message_count,
        500
    );
}

#[test]
fn compute_update_writes_minimal_sets() {
    let net = Network::new();
    let update = net.update(|root| set_batch_size(root, 500));
    assert_eq!(update.channel_id, CHANNEL);

    // Only the path to the change is listed, at current versions; no mod_policies.
    let read = update.read_set.as_ref().expect("read set");
    assert_eq!(read.version, 0);
    assert_eq!(read.mod_policy, "");
    assert!(read.values.is_empty() && read.policies.is_empty());
    assert_eq!(read.groups.len(), 1);
    assert_eq!(read.groups[keys::ORDERER_GROUP], ConfigGroup::default());

    let write = update.write_set.as_ref().expect("write set");
    assert_eq!(write.groups.len(), 1);
    let orderer = &write.groups[keys::ORDERER_GROUP];
    assert_eq!(orderer.version, 0);
    assert!(orderer.groups.is_empty() && orderer.policies.is_empty());
    assert_eq!(orderer.values.len(), 1);
    assert_eq!(
        orderer.values[keys::BATCH_SIZE],
        ConfigValue {
            version: 1,
            value: batch_size(500).encode_to_vec(),
            mod_policy: "Admins".into(),
        }
    );

    assert_eq!(
        compute_update(&net.config, &net.config, CHANNEL),
        Err(ConfigTxError::NoChanges)
    );
    assert!(matches!(
        compute_update(&Config::default(), &net.config, CHANNEL),
        Err(ConfigTxError::Malformed(_))
    ));
}

#[test]
fn missing_or_wrong_signatures_do_not_satisfy_the_mod_policy() {
    let net = Network::new();
    let update = net.update(|root| set_batch_size(root, 500));
    let expected = |result: Result<Config, ConfigTxError>| match result {
        Err(ConfigTxError::PolicyNotSatisfied { path, policy, .. }) => {
            assert_eq!(path, "[Value] /Channel/Orderer/BatchSize");
            assert_eq!(policy, "/Channel/Orderer/Admins");
        }
        other => panic!("expected PolicyNotSatisfied, got {other:?}"),
    };
    expected(net.propose(&update, &[]));
    // Application admins are not orderer admins.
    expected(net.propose(&update, &[&net.org1, &net.org2]));
    // An orderer org member that is not an admin.
    let peer = net.orderer_org.member("orderer");
    let envelope = ConfigUpdateEnvelope {
        config_update: update.encode_to_vec(),
        signatures: vec![],
    };
    let mut signed = envelope.clone();
    let header = SignatureHeader {
        creator: peer.serialized("OrdererMSP"),
        nonce: vec![1; 24],
    }
    .encode_to_vec();
    signed.signatures.push(ConfigSignature {
        signature: peer.sign(&[header.as_slice(), &signed.config_update].concat()),
        signature_header: header,
    });
    expected(propose_update(
        &net.config,
        CHANNEL,
        &signed,
        &net.policies(),
    ));

    // The admin's signature over other bytes does not count.
    let admin = admin(&net.orderer_org);
    let mut forged = envelope.clone();
    let signature = sign_config_update(b"another update", &admin).expect("sign");
    forged.signatures.push(signature);
    expected(propose_update(
        &net.config,
        CHANNEL,
        &forged,
        &net.policies(),
    ));
    // Over the right bytes it does.
    let signature = sign_config_update(&envelope.config_update, &admin).expect("sign");
    forged.signatures.push(signature);
    assert!(propose_update(&net.config, CHANNEL, &forged, &net.policies()).is_ok());
    assert!(
        ConfigTxError::PolicyNotSatisfied {
            path: String::new(),
            policy: String::new(),
            reason: String::new()
        }
        .is_policy_failure()
    );
}

#[test]
fn absolute_mod_policies_are_used_as_is() {
    let mut net = Network::new();
    net.config = net.edited(|root| {
        orderer(root)
            .values
            .get_mut(keys::BATCH_SIZE)
            .expect("batch size")
            .mod_policy = "/Channel/Application/Admins".into();
    });
    let update = net.update(|root| set_batch_size(root, 7));
    match net.propose(&update, &[&net.orderer_org]) {
        Err(ConfigTxError::PolicyNotSatisfied { policy, .. }) => {
            assert_eq!(policy, "/Channel/Application/Admins")
        }
        other => panic!("expected PolicyNotSatisfied, got {other:?}"),
    }
    let next = net
        .propose(&update, &[&net.org1, &net.org2])
        .expect("a majority of application admins");
    assert_eq!(batch_size_of(&next).0.max_message_count, 7);
}

#[test]
fn read_set_versions_must_match() {
    let net = Network::new();
    let mut update = net.update(|root| set_batch_size(root, 500));
    orderer(update.read_set.as_mut().expect("read set")).version = 3;
    assert_eq!(
        net.propose(&update, &[&net.orderer_org]),
        Err(ConfigTxError::ReadSetMismatch {
            path: "[Group] /Channel/Orderer".into(),
            expected: 3,
            current: Some(0),
        })
    );

    let mut update = net.update(|root| set_batch_size(root, 500));
    orderer(update.read_set.as_mut().expect("read set"))
        .values
        .insert("Nope".into(), ConfigValue::default());
    let err = net
        .propose(&update, &[&net.orderer_org])
        .expect_err("unknown element");
    assert_eq!(
        err,
        ConfigTxError::ReadSetMismatch {
            path: "[Value] /Channel/Orderer/Nope".into(),
            expected: 0,
            current: None,
        }
    );
    assert_eq!(
        err.to_string(),
        "read set requires [Value] /Channel/Orderer/Nope at version 0, but it is absent"
    );
}

#[test]
fn versions_must_advance_by_exactly_one() {
    let net = Network::new();
    let mut update = net.update(|root| set_batch_size(root, 500));
    let write = update.write_set.as_mut().expect("write set");
    orderer(write)
        .values
        .get_mut(keys::BATCH_SIZE)
        .expect("batch size")
        .version = 2;
    assert_eq!(
        net.propose(&update, &[&net.orderer_org]),
        Err(ConfigTxError::VersionSkip {
            path: "[Value] /Channel/Orderer/BatchSize".into(),
            proposed: 2,
            current: Some(0),
        })
    );

    // A new element must start at 0.
    let mut update = net.update(|root| {
        orderer(root)
            .values
            .insert(keys::CHANNEL_RESTRICTIONS.into(), ConfigValue::default());
    });
    let write = update.write_set.as_mut().expect("write set");
    let restrictions = orderer(write)
        .values
        .get_mut(keys::CHANNEL_RESTRICTIONS)
        .expect("new value");
    restrictions.version = 1;
    restrictions.mod_policy = "Admins".into();
    assert_eq!(
        net.propose(&update, &[&net.orderer_org]),
        Err(ConfigTxError::VersionSkip {
            path: "[Value] /Channel/Orderer/ChannelRestrictions".into(),
            proposed: 1,
            current: None,
        })
    );

    // Writing an unchanged element at its current version without reading it is a skip
    // too (it would be a change to version 0).
    let mut update = net.update(|root| set_batch_size(root, 500));
    orderer(update.write_set.as_mut().expect("write set")).mod_policy = "Admins".into();
    update
        .read_set
        .as_mut()
        .expect("read set")
        .groups
        .remove(keys::ORDERER_GROUP);
    assert!(matches!(
        net.propose(&update, &[&net.orderer_org]),
        Err(ConfigTxError::VersionSkip { path, proposed: 0, current: Some(0) })
            if path == "[Group] /Channel/Orderer"
    ));
}

#[test]
fn updates_for_another_channel_are_refused() {
    let net = Network::new();
    let mut update = net.update(|root| set_batch_size(root, 500));
    update.channel_id = "otherchannel".into();
    let err = net
        .propose(&update, &[&net.orderer_org])
        .expect_err("wrong channel");
    assert_eq!(
        err,
        ConfigTxError::ChannelMismatch {
            expected: CHANNEL.into(),
            found: "otherchannel".into(),
        }
    );
    assert_eq!(err.status(), Status::BadRequest);
}

#[test]
fn updates_without_changes_are_refused() {
    let net = Network::new();
    let mut update = net.update(|root| set_batch_size(root, 500));
    update.write_set = update.read_set.clone();
    assert_eq!(
        net.propose(&update, &[&net.orderer_org]),
        Err(ConfigTxError::NoChanges)
    );
    update.write_set = None;
    assert_eq!(
        net.propose(&update, &[&net.orderer_org]),
        Err(ConfigTxError::NoChanges)
    );
    let empty = ConfigUpdate {
        channel_id: CHANNEL.into(),
        ..Default::default()
    };
    assert_eq!(net.propose(&empty, &[]), Err(ConfigTxError::NoChanges));
}

#[test]
fn adding_an_org_needs_a_majority_of_application_admins() {
    let net = Network::new();
    let org3 = application_org(&net.org3);
    let update = net.update(|root| {
        application(root)
            .groups
            .insert("Org3MSP".into(), org3.clone());
    });

    // The Application group is bumped (its membership changes); Org3 is new at 0.
    let write = update.write_set.as_ref().expect("write set");
    let app_write = &write.groups[keys::APPLICATION_GROUP];
    assert_eq!(app_write.version, 1);
    assert_eq!(app_write.mod_policy, "Admins");
    assert_eq!(app_write.groups["Org3MSP"], org3);
    assert_eq!(app_write.groups["Org1MSP"], ConfigGroup::default());

    match net.propose(&update, &[&net.org1]) {
        Err(ConfigTxError::PolicyNotSatisfied { path, policy, .. }) => {
            assert_eq!(path, "[Group] /Channel/Application");
            assert_eq!(policy, "/Channel/Application/Admins");
        }
        other => panic!("expected PolicyNotSatisfied, got {other:?}"),
    }
    // The new org cannot vote itself in.
    assert!(net.propose(&update, &[&net.org1, &net.org3]).is_err());

    let next = net
        .propose(&update, &[&net.org1, &net.org2])
        .expect("accepted");
    assert_eq!(next.sequence, 1);
    let app = group_of(&next, &[keys::APPLICATION_GROUP]);
    assert_eq!(app.version, 1);
    assert_eq!(app.groups["Org3MSP"], org3);
    assert_eq!(app.groups["Org1MSP"], application_org_of(&net, "Org1MSP"));
    let parsed = ChannelConfig::from_config(CHANNEL, &next).expect("parses");
    let orgs = &parsed.application().expect("application").organizations;
    assert_eq!(
        orgs.keys().collect::<Vec<_>>(),
        ["Org1MSP", "Org2MSP", "Org3MSP"]
    );
    assert_eq!(orgs["Org3MSP"].msp_id, "Org3MSP");
}

fn application_org_of(net: &Network, name: &str) -> ConfigGroup {
    group_of(&net.config, &[keys::APPLICATION_GROUP, name]).clone()
}

#[test]
fn removing_an_org_drops_it_from_the_config() {
    let net = Network::new();
    let update = net.update(|root| {
        application(root).groups.remove("Org2MSP");
    });
    let app_write = &update.write_set.as_ref().expect("write set").groups[keys::APPLICATION_GROUP];
    assert_eq!(app_write.version, 1);
    assert_eq!(
        app_write.groups.keys().collect::<Vec<_>>(),
        ["Org1MSP"],
        "the bumped group lists only the members it keeps"
    );

    assert!(net.propose(&update, &[&net.org1]).is_err());
    let next = net
        .propose(&update, &[&net.org1, &net.org2])
        .expect("accepted");
    let app = group_of(&next, &[keys::APPLICATION_GROUP]);
    assert_eq!(app.groups.keys().collect::<Vec<_>>(), ["Org1MSP"]);
    // Values and policies of the group are kept as they were.
    assert_eq!(
        app.policies,
        group_of(&net.config, &[keys::APPLICATION_GROUP]).policies
    );
    let parsed = ChannelConfig::from_config(CHANNEL, &next).expect("parses");
    assert!(parsed.msp_manager().msp_ids().all(|id| id != "Org2MSP"));
}

#[test]
fn a_new_element_under_an_unbumped_group_is_ignored_as_in_fabric() {
    let net = Network::new();
    let mut update = net.update(|root| set_batch_size(root, 500));
    let app_version = group_of(&net.config, &[keys::APPLICATION_GROUP]).version;
    let read = update.read_set.as_mut().expect("read set");
    read.groups.insert(
        keys::APPLICATION_GROUP.into(),
        ConfigGroup {
            version: app_version,
            ..Default::default()
        },
    );
    let mut app_write = ConfigGroup {
        version: app_version,
        ..Default::default()
    };
    app_write
        .groups
        .insert("Org3MSP".into(), application_org(&net.org3));
    update
        .write_set
        .as_mut()
        .expect("write set")
        .groups
        .insert(keys::APPLICATION_GROUP.into(), app_write);

    let next = net.propose(&update, &[&net.orderer_org]).expect("accepted");
    assert_eq!(batch_size_of(&next).0.max_message_count, 500);
    assert!(
        !group_of(&next, &[keys::APPLICATION_GROUP])
            .groups
            .contains_key("Org3MSP")
    );
}

#[test]
fn garbage_is_malformed() {
    let net = Network::new();
    let policies = net.policies();
    let garbage = ConfigUpdateEnvelope {
        config_update: b"\xff\xffnot a config update".to_vec(),
        signatures: vec![],
    };
    assert!(matches!(
        propose_update(&net.config, CHANNEL, &garbage, &policies),
        Err(ConfigTxError::Malformed(_))
    ));

    let update = net.update(|root| set_batch_size(root, 500));
    let bad_header = ConfigUpdateEnvelope {
        config_update: update.encode_to_vec(),
        signatures: vec![ConfigSignature {
            signature_header: vec![0xff, 0xff],
            signature: vec![],
        }],
    };
    assert!(matches!(
        propose_update(&net.config, CHANNEL, &bad_header, &policies),
        Err(ConfigTxError::Malformed(_))
    ));

    let mut update = net.update(|root| set_batch_size(root, 500));
    orderer(update.write_set.as_mut().expect("write set"))
        .values
        .insert("Bad Key".into(), ConfigValue::default());
    assert!(matches!(
        net.propose(&update, &[&net.orderer_org]),
        Err(ConfigTxError::InvalidKey { path, .. }) if path == "[Value] /Channel/Orderer/Bad Key"
    ));

    let mut update = net.update(|root| set_batch_size(root, 500));
    orderer(update.write_set.as_mut().expect("write set"))
        .values
        .get_mut(keys::BATCH_SIZE)
        .expect("batch size")
        .mod_policy = String::new();
    assert!(matches!(
        net.propose(&update, &[&net.orderer_org]),
        Err(ConfigTxError::InvalidModPolicy { .. })
    ));

    assert!(matches!(
        propose_update(&Config::default(), CHANNEL, &garbage, &policies),
        Err(ConfigTxError::Malformed(_))
    ));
}

#[test]
fn results_that_do_not_parse_are_refused() {
    let net = Network::new();
    let update = net.update(|root| {
        orderer(root)
            .values
            .get_mut(keys::BATCH_SIZE)
            .expect("batch size")
            .value = b"\xff\xff".to_vec();
    });
    assert!(matches!(
        net.propose(&update, &[&net.orderer_org]),
        Err(ConfigTxError::InvalidResult(
            ConfigError::UndecodableValue { .. }
        ))
    ));
    let update = net.update(|root| set_batch_size(root, 0));
    assert!(matches!(
        net.propose(&update, &[&net.orderer_org]),
        Err(ConfigTxError::InvalidResult(_))
    ));
}

#[test]
fn orgs_cannot_change_their_msp_id() {
    let net = Network::new();
    let impostor = TestOrg::new("OtherMSP");
    let update = net.update(|root| {
        let org1 = application(root).groups.get_mut("Org1MSP").expect("org1");
        org1.values.insert(
            keys::MSP.into(),
            value(&MspConfig {
                r#type: 0,
                config: impostor.config().encode_to_vec(),
            }),
        );
    });
    // Org1's own admin may change its MSP value, but not the MSP ID.
    match net.propose(&update, &[&net.org1]) {
        Err(ConfigTxError::ForbiddenChange(reason)) => {
            assert!(reason.contains("Org1MSP to OtherMSP"), "{reason}")
        }
        other => panic!("expected ForbiddenChange, got {other:?}"),
    }
    // Rotating its CA while keeping the ID is fine.
    let rotated = TestOrg::new("Org1MSP");
    let update = net.update(|root| {
        let org1 = application(root).groups.get_mut("Org1MSP").expect("org1");
        org1.values.insert(
            keys::MSP.into(),
            value(&MspConfig {
                r#type: 0,
                config: rotated.config().encode_to_vec(),
            }),
        );
    });
    assert!(net.propose(&update, &[&net.org1]).is_ok());
}

#[test]
fn maintenance_mode_is_entered_alone() {
    let net = Network::new();
    let enter = |root: &mut ConfigGroup| {
        orderer(root).values.insert(
            keys::CONSENSUS_TYPE.into(),
            value(&consensus_type(ConsensusState::Maintenance)),
        );
    };
    let update = net.update(enter);
    let next = net.propose(&update, &[&net.orderer_org]).expect("accepted");
    let parsed = ChannelConfig::from_config(CHANNEL, &next).expect("parses");
    assert_eq!(
        parsed.orderer().expect("orderer").state,
        ConsensusState::Maintenance
    );

    let update = net.update(|root| {
        enter(root);
        set_batch_size(root, 500);
    });
    assert!(matches!(
        net.propose(&update, &[&net.orderer_org]),
        Err(ConfigTxError::ForbiddenChange(_))
    ));
}

#[test]
fn consensus_type_changes_need_maintenance_mode() {
    let net = Network::new();
    let update = net.update(|root| {
        orderer(root).values.insert(
            keys::CONSENSUS_TYPE.into(),
            value(&ConsensusType {
                r#type: "solo".into(),
                metadata: vec![],
                state: 0,
            }),
        );
    });
    match net.propose(&update, &[&net.orderer_org]) {
        Err(ConfigTxError::ForbiddenChange(reason)) => {
            assert!(reason.contains("not in maintenance mode"), "{reason}")
        }
        other => panic!("expected ForbiddenChange, got {other:?}"),
    }
}

#[test]
fn signed_data_covers_header_and_update_bytes() {
    let net = Network::new();
    let update = net.update(|root| set_batch_size(root, 500));
    let admin = admin(&net.orderer_org);
    let envelope = signed_config_update(&update, &[&admin]).expect("sign");
    let signed = signed_data(&envelope).expect("signed data");
    assert_eq!(signed.len(), 1);
    let signature = &envelope.signatures[0];
    assert_eq!(
        &*signed[0].data,
        [
            signature.signature_header.as_slice(),
            &envelope.config_update
        ]
        .concat()
        .as_slice()
    );
    assert_eq!(&*signed[0].identity, admin.creator.as_slice());
    let header = SignatureHeader::decode(signature.signature_header.as_slice()).expect("header");
    assert_eq!(header.nonce.len(), 24);
    admin
        .cert
        .key
        .public_key()
        .verify(&signed[0].data, &signed[0].signature)
        .expect("verifies");
}

#[test]
fn envelopes_round_trip() {
    let net = Network::new();
    let update = net.update(|root| set_batch_size(root, 500));
    let admin = admin(&net.orderer_org);
    let update_env = signed_config_update(&update, &[&admin]).expect("sign");
    let tx = config_update_tx(CHANNEL, &update_env, &admin).expect("tx");
    let received = config_update_envelope_from(&tx).expect("unwrap");
    assert_eq!(received, update_env);

    let next = propose_update(&net.config, CHANNEL, &received, &net.policies()).expect("ok");
    let orderer_signer = admin;
    let config_tx = wrap_config(next.clone(), tx.clone(), CHANNEL, &orderer_signer).expect("wrap");
    let unpacked = unpack_envelope(&config_tx).expect("unpack");
    assert_eq!(unpacked.header_type(), HeaderType::Config as i32);
    assert_eq!(unpacked.channel_id(), CHANNEL);
    assert_eq!(unpacked.channel_header.epoch, 0);
    let config_env = ConfigEnvelope::decode(unpacked.data.as_slice()).expect("decode");
    assert_eq!(config_env.config.as_ref(), Some(&next));
    assert_eq!(config_env.last_update.as_ref(), Some(&tx));
    let channel = ChannelConfig::from_config_envelope(CHANNEL, &config_env).expect("parses");
    assert_eq!(channel.sequence(), 1);

    // A CONFIG envelope is not a CONFIG_UPDATE one; garbage is no envelope.
    assert!(matches!(
        config_update_envelope_from(&config_tx),
        Err(ConfigTxError::Envelope(ProtoError::WrongHeaderType { .. }))
    ));
    let garbage = Envelope {
        payload: b"\xff\xff".to_vec(),
        signature: vec![],
    };
    assert!(matches!(
        config_update_envelope_from(&garbage),
        Err(ConfigTxError::Envelope(_))
    ));
}
