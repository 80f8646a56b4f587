use std::collections::HashMap;
use std::time::Duration;

use prost::Message;
use weft_proto::common::{
    Block, BlockDataHashingStructure, Capabilities as CapabilitiesProto, Capability, Config,
    ConfigGroup, ConfigPolicy, ConfigValue, HashingAlgorithm, ImplicitMetaPolicy, MspPrincipal,
    MspRole, OrdererAddresses, Policy, SignaturePolicy, SignaturePolicyEnvelope,
    implicit_meta_policy, msp_principal, policy::PolicyType, signature_policy,
};
use weft_proto::etcdraft;
use weft_proto::msp::MspConfig;
use weft_proto::orderer::{
    BatchSize as BatchSizeProto, BatchTimeout, ChannelRestrictions, ConsensusType as ConsensusProto,
};
use weft_proto::protos::{AcLs, AnchorPeer as AnchorPeerProto, AnchorPeers, ApiResource};

use super::*;
use crate::msp::test_certs::TestOrg;

fn value(msg: &impl Message) -> ConfigValue {
    ConfigValue {
        version: 0,
        value: msg.encode_to_vec(),
        mod_policy: "Admins".into(),
    }
}

fn caps(names: &[&str]) -> CapabilitiesProto {
    CapabilitiesProto {
        capabilities: names
            .iter()
            .map(|n| (n.to_string(), Capability {}))
            .collect(),
    }
}

fn implicit(rule: implicit_meta_policy::Rule, sub: &str) -> ConfigPolicy {
    ConfigPolicy {
        version: 0,
        policy: Some(Policy {
            r#type: PolicyType::ImplicitMeta as i32,
            value: ImplicitMetaPolicy {
                sub_policy: sub.into(),
                rule: rule as i32,
            }
            .encode_to_vec(),
        }),
        mod_policy: "Admins".into(),
    }
}

/// `OR('<mspid>.member')`.
fn member_of(mspid: &str) -> ConfigPolicy {
    let envelope = SignaturePolicyEnvelope {
        version: 0,
        rule: Some(SignaturePolicy {
            r#type: Some(signature_policy::Type::NOutOf(signature_policy::NOutOf {
                n: 1,
                rules: vec![SignaturePolicy {
                    r#type: Some(signature_policy::Type::SignedBy(0)),
                }],
            })),
        }),
        identities: vec![MspPrincipal {
            principal_classification: msp_principal::Classification::Role as i32,
            principal: MspRole {
                msp_identifier: mspid.into(),
                role: 0,
            }
            .encode_to_vec(),
        }],
    };
    ConfigPolicy {
        version: 0,
        policy: Some(Policy {
            r#type: PolicyType::Signature as i32,
            value: envelope.encode_to_vec(),
        }),
        mod_policy: "Admins".into(),
    }
}

fn standard_policies(group: &mut ConfigGroup) {
    use implicit_meta_policy::Rule;
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

fn org_group(org: &TestOrg) -> ConfigGroup {
    let mut group = ConfigGroup {
        mod_policy: "Admins".into(),
        ..Default::default()
    };
    let msp = MspConfig {
        r#type: 0,
        config: org.config().encode_to_vec(),
    };
    group.values.insert(keys::MSP.into(), value(&msp));
    for name in ["Readers", "Writers", "Admins"] {
        group.policies.insert(name.into(), member_of(&org.name));
    }
    group
}

struct Fixture {
    org1: TestOrg,
    org2: TestOrg,
    orderer_org: TestOrg,
}

impl Fixture {
    fn new() -> Self {
        Self {
            org1: TestOrg::new("Org1MSP"),
            org2: TestOrg::new("Org2MSP"),
            orderer_org: TestOrg::new("OrdererMSP"),
        }
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

    fn config(&self) -> Config {
        let mut orderer = ConfigGroup {
            mod_policy: "Admins".into(),
            ..Default::default()
        };
        standard_policies(&mut orderer);
        orderer.policies.insert(
            "BlockValidation".into(),
            implicit(implicit_meta_policy::Rule::Any, "Writers"),
        );
        orderer.values.insert(
            keys::CONSENSUS_TYPE.into(),
            value(&ConsensusProto {
                r#type: "etcdraft".into(),
                metadata: Self::raft_metadata().encode_to_vec(),
                state: 0,
            }),
        );
        orderer.values.insert(
            keys::BATCH_SIZE.into(),
            value(&BatchSizeProto {
                max_message_count: 10,
                absolute_max_bytes: 99 << 20,
                preferred_max_bytes: 512 << 10,
            }),
        );
        orderer.values.insert(
            keys::BATCH_TIMEOUT.into(),
            value(&BatchTimeout {
                timeout: "2s".into(),
            }),
        );
        orderer.values.insert(
            keys::CHANNEL_RESTRICTIONS.into(),
            value(&ChannelRestrictions { max_count: 0 }),
        );
        orderer
            .values
            .insert(keys::CAPABILITIES.into(), value(&caps(&["V2_0"])));
        let mut orderer_org = org_group(&self.orderer_org);
        orderer_org.values.insert(
            keys::ENDPOINTS.into(),
            value(&OrdererAddresses {
                addresses: vec!["orderer.example.com:7050".into()],
            }),
        );
        orderer.groups.insert("OrdererOrg".into(), orderer_org);

        let mut application = ConfigGroup {
            mod_policy: "Admins".into(),
            ..Default::default()
        };
        standard_policies(&mut application);
        application
            .values
            .insert(keys::CAPABILITIES.into(), value(&caps(&["V2_5"])));
        let acls = AcLs {
            acls: HashMap::from([
                (
                    "peer/Propose".to_string(),
                    ApiResource {
                        policy_ref: "Writers".into(),
                    },
                ),
                (
                    "event/Block".to_string(),
                    ApiResource {
                        policy_ref: "/Channel/Application/Readers".into(),
                    },
                ),
                (
                    "qscc/GetChainInfo".to_string(),
                    ApiResource {
                        policy_ref: String::new(),
                    },
                ),
            ]),
        };
        application.values.insert(keys::ACLS.into(), value(&acls));
        let mut org1 = org_group(&self.org1);
        org1.values.insert(
            keys::ANCHOR_PEERS.into(),
            value(&AnchorPeers {
                anchor_peers: vec![AnchorPeerProto {
                    host: "peer0.org1.example.com".into(),
                    port: 7051,
                }],
            }),
        );
        application.groups.insert("Org1".into(), org1);
        application
            .groups
            .insert("Org2MSP".into(), org_group(&self.org2));

        let mut root = ConfigGroup {
            mod_policy: "Admins".into(),
            ..Default::default()
        };
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
            .insert(keys::CAPABILITIES.into(), value(&caps(&["V2_0"])));
        root.groups.insert(keys::ORDERER_GROUP.into(), orderer);
        root.groups
            .insert(keys::APPLICATION_GROUP.into(), application);
        Config {
            sequence: 0,
            channel_group: Some(root),
        }
    }
}

fn root_mut(config: &mut Config) -> &mut ConfigGroup {
    config.channel_group.as_mut().unwrap()
}

fn orderer_mut(config: &mut Config) -> &mut ConfigGroup {
    root_mut(config)
        .groups
        .get_mut(keys::ORDERER_GROUP)
        .unwrap()
}

fn application_mut(config: &mut Config) -> &mut ConfigGroup {
    root_mut(config)
        .groups
        .get_mut(keys::APPLICATION_GROUP)
        .unwrap()
}

fn parse(config: &Config) -> Result<ChannelConfig, ConfigError> {
    ChannelConfig::from_config("mychannel", config)
}

#[test]
fn reads_every_section_of_a_genesis_block() {
    let fixture = Fixture::new();
    // Built once: map values (ACLs) encode in a per-instance order, so two builds differ.
    let config = fixture.config();
    let block = crate::protoutil::genesis_block("mychannel", &config);
    let cc = ChannelConfig::from_block(&block).unwrap();

    assert_eq!(cc.channel_id(), "mychannel");
    assert_eq!(cc.sequence(), 0);
    assert_eq!(cc.hashing_algorithm(), "SHA256");
    assert_eq!(cc.block_data_hashing_width(), u32::MAX);
    assert!(cc.orderer_addresses().is_empty());
    assert_eq!(cc.consortium(), None);
    assert!(cc.capabilities().contains("V2_0"));
    cc.check_capabilities_supported().unwrap();

    // The ConfigEnvelope bytes are the ones inside the block, untouched.
    let envelope = unpack_envelope_bytes(&block.data.as_ref().unwrap().data[0]).unwrap();
    assert_eq!(cc.raw_config_envelope(), Some(envelope.data.as_slice()));
    assert_eq!(cc.config(), &config);

    let orderer = cc.orderer().unwrap();
    assert_eq!(
        orderer.batch_size,
        BatchSize {
            max_message_count: 10,
            absolute_max_bytes: 99 << 20,
            preferred_max_bytes: 512 << 10,
        }
    );
    assert_eq!(orderer.batch_timeout, Duration::from_secs(2));
    assert_eq!(orderer.state, ConsensusState::Normal);
    assert_eq!(orderer.max_channels, 0);
    assert!(orderer.capabilities.contains("V2_0"));
    let raft = orderer.etcdraft().unwrap();
    assert_eq!(orderer.consensus.name(), "etcdraft");
    assert_eq!(raft.consenters.len(), 1);
    assert_eq!(raft.consenters[0].host, "orderer.example.com");
    assert_eq!(raft.consenters[0].port, 7050);
    assert_eq!(raft.consenters[0].server_tls_cert, b"server-pem");
    assert_eq!(raft.options.tick_interval, Duration::from_millis(500));
    assert_eq!(raft.options.election_tick, 10);
    let orderer_org = &orderer.organizations["OrdererOrg"];
    assert_eq!(orderer_org.msp_id, "OrdererMSP");
    assert_eq!(orderer_org.endpoints, ["orderer.example.com:7050"]);

    let app = cc.application().unwrap();
    assert!(app.capabilities.contains("V2_5"));
    assert_eq!(app.organizations.len(), 2);
    let org1 = &app.organizations["Org1"];
    assert_eq!(org1.msp_id, "Org1MSP");
    assert_eq!(
        org1.anchor_peers,
        [AnchorPeer {
            host: "peer0.org1.example.com".into(),
            port: 7051
        }]
    );
    assert!(app.organizations["Org2MSP"].anchor_peers.is_empty());
    assert_eq!(app.org_by_msp_id("Org2MSP").unwrap().name, "Org2MSP");
    assert_eq!(app.acls["peer/Propose"], "/Channel/Application/Writers");
    assert_eq!(app.acls["event/Block"], "/Channel/Application/Readers");
    assert!(!app.acls.contains_key("qscc/GetChainInfo"));

    let mut ids: Vec<&str> = cc.msp_manager().msp_ids().collect();
    ids.sort();
    assert_eq!(ids, ["OrdererMSP", "Org1MSP", "Org2MSP"]);

    // Identities of channel orgs deserialize through the channel's MSPs.
    let peer = fixture.org1.member("peer");
    cc.msp_manager()
        .deserialize_identity(&peer.serialized("Org1MSP"))
        .unwrap();
}

#[test]
fn from_config_envelope_bytes_keeps_the_bytes() {
    let config = Fixture::new().config();
    let bytes = ConfigEnvelope {
        config: Some(config.clone()),
        last_update: None,
    }
    .encode_to_vec();
    let cc = ChannelConfig::from_config_envelope_bytes("ch", bytes.clone()).unwrap();
    assert_eq!(cc.raw_config_envelope(), Some(bytes.as_slice()));
    let plain = parse(&config).unwrap();
    assert_eq!(plain.raw_config_envelope(), None);
    assert!(matches!(
        ChannelConfig::from_config_envelope_bytes("ch", vec![0xff, 0xff]),
        Err(ConfigError::UndecodableEnvelope(_))
    ));
    assert!(matches!(
        ChannelConfig::from_config_envelope("ch", &ConfigEnvelope::default()),
        Err(ConfigError::MissingConfig)
    ));
    assert!(matches!(
        parse(&Config::default()),
        Err(ConfigError::MissingChannelGroup)
    ));
}

#[test]
fn non_config_blocks_are_refused() {
    assert!(matches!(
        ChannelConfig::from_block(&Block::default()),
        Err(ConfigError::Block(ProtoError::NotAConfigBlock))
    ));
    let mut block = crate::protoutil::genesis_block("ch", &Fixture::new().config());
    block.data.as_mut().unwrap().data[0] = vec![0xff];
    assert!(matches!(
        ChannelConfig::from_block(&block),
        Err(ConfigError::Block(_))
    ));
}

/// Applies `edit` to a valid config and returns the parse error.
fn error_after(edit: impl FnOnce(&mut Config)) -> ConfigError {
    let mut config = Fixture::new().config();
    edit(&mut config);
    parse(&config).unwrap_err()
}

#[test]
fn missing_and_undecodable_values_name_their_place() {
    let err = error_after(|c| {
        orderer_mut(c).values.remove(keys::BATCH_SIZE);
    });
    assert_eq!(
        err,
        ConfigError::MissingValue {
            path: "/Channel/Orderer".into(),
            key: "BatchSize".into()
        }
    );
    let err = error_after(|c| {
        root_mut(c).values.remove(keys::HASHING_ALGORITHM);
    });
    assert!(matches!(err, ConfigError::MissingValue { key, .. } if key == "HashingAlgorithm"));
    let err = error_after(|c| {
        orderer_mut(c)
            .values
            .get_mut(keys::BATCH_TIMEOUT)
            .unwrap()
            .value = vec![0x0a, 0x05, b'2'];
    });
    assert!(matches!(
        err,
        ConfigError::UndecodableValue { path, key, .. } if path == "/Channel/Orderer" && key == "BatchTimeout"
    ));
    let err = error_after(|c| {
        application_mut(c)
            .groups
            .get_mut("Org1")
            .unwrap()
            .values
            .remove(keys::MSP);
    });
    assert_eq!(
        err,
        ConfigError::MissingValue {
            path: "/Channel/Application/Org1".into(),
            key: "MSP".into()
        }
    );
    let err = error_after(|c| {
        root_mut(c)
            .values
            .insert("Surprise".into(), value(&HashingAlgorithm::default()));
    });
    assert!(matches!(err, ConfigError::UnexpectedValue { key, .. } if key == "Surprise"));
    let err = error_after(|c| {
        root_mut(c)
            .groups
            .insert("Consortiums".into(), ConfigGroup::default());
    });
    assert!(matches!(err, ConfigError::UnexpectedGroup { path } if path == "/Channel/Consortiums"));
    let err = error_after(|c| {
        application_mut(c)
            .groups
            .get_mut("Org1")
            .unwrap()
            .groups
            .insert("Nested".into(), ConfigGroup::default());
    });
    assert!(
        matches!(err, ConfigError::UnexpectedGroup { path } if path == "/Channel/Application/Org1/Nested")
    );
}

#[test]
fn channel_values_are_checked() {
    let err = error_after(|c| {
        root_mut(c).values.insert(
            keys::HASHING_ALGORITHM.into(),
            value(&HashingAlgorithm {
                name: "SHA3_256".into(),
            }),
        );
    });
    assert_eq!(
        err,
        ConfigError::UnsupportedHashingAlgorithm("SHA3_256".into())
    );
    let err = error_after(|c| {
        root_mut(c).values.insert(
            keys::BLOCK_DATA_HASHING_STRUCTURE.into(),
            value(&BlockDataHashingStructure { width: 2 }),
        );
    });
    assert_eq!(err, ConfigError::UnsupportedHashingWidth(2));
    // Without V1_4_2+ the legacy global addresses are required and org endpoints refused.
    let err = error_after(|c| {
        root_mut(c).values.remove(keys::CAPABILITIES);
    });
    assert_eq!(err, ConfigError::NoOrdererAddresses);
    let err = error_after(|c| {
        let root = root_mut(c);
        root.values.remove(keys::CAPABILITIES);
        root.values.insert(
            keys::ORDERER_ADDRESSES.into(),
            value(&OrdererAddresses {
                addresses: vec!["o:7050".into()],
            }),
        );
    });
    assert_eq!(
        err,
        ConfigError::EndpointsWithoutCapability {
            org: "OrdererOrg".into()
        }
    );
}

#[test]
fn orderer_values_are_checked() {
    let set_batch = |max: u32, abs: u32, pref: u32| {
        error_after(move |c| {
            orderer_mut(c).values.insert(
                keys::BATCH_SIZE.into(),
                value(&BatchSizeProto {
                    max_message_count: max,
                    absolute_max_bytes: abs,
                    preferred_max_bytes: pref,
                }),
            );
        })
    };
    for (max, abs, pref) in [(0, 10, 5), (1, 0, 5), (1, 10, 0), (1, 10, 11)] {
        assert!(matches!(
            set_batch(max, abs, pref),
            ConfigError::InvalidBatchSize(_)
        ));
    }
    for timeout in ["2 seconds", "0s", "-1s", ""] {
        let err = error_after(|c| {
            orderer_mut(c).values.insert(
                keys::BATCH_TIMEOUT.into(),
                value(&BatchTimeout {
                    timeout: timeout.into(),
                }),
            );
        });
        assert!(
            matches!(err, ConfigError::InvalidBatchTimeout { .. }),
            "{timeout:?}: {err}"
        );
    }
    let set_consensus = |kind: &str, metadata: Vec<u8>, state: i32| {
        let kind = kind.to_string();
        error_after(move |c| {
            orderer_mut(c).values.insert(
                keys::CONSENSUS_TYPE.into(),
                value(&ConsensusProto {
                    r#type: kind,
                    metadata,
                    state,
                }),
            );
        })
    };
    assert_eq!(
        set_consensus("BFT", vec![], 0),
        ConfigError::UnknownConsensusType("BFT".into())
    );
    let good = Fixture::raft_metadata().encode_to_vec();
    assert_eq!(
        set_consensus("etcdraft", good, 7),
        ConfigError::UnknownConsensusState(7)
    );
    assert!(matches!(
        set_consensus("etcdraft", vec![0xff], 0),
        ConfigError::UndecodableValue { .. }
    ));
    let raft_error = |edit: fn(&mut etcdraft::ConfigMetadata)| {
        let mut metadata = Fixture::raft_metadata();
        edit(&mut metadata);
        set_consensus("etcdraft", metadata.encode_to_vec(), 0)
    };
    for edit in [
        (|m: &mut etcdraft::ConfigMetadata| m.consenters.clear()) as fn(&mut _),
        |m| m.options = None,
        |m| m.options.as_mut().unwrap().tick_interval = "fast".into(),
        |m| m.options.as_mut().unwrap().tick_interval = "0s".into(),
        |m| m.options.as_mut().unwrap().election_tick = 1,
        |m| m.options.as_mut().unwrap().heartbeat_tick = 0,
        |m| {
            let c = m.consenters[0].clone();
            m.consenters.push(c);
        },
    ] {
        assert!(matches!(raft_error(edit), ConfigError::InvalidEtcdRaft(_)));
    }

    // Solo still parses (Fabric keeps it), maintenance mode is reported.
    let mut config = Fixture::new().config();
    orderer_mut(&mut config).values.insert(
        keys::CONSENSUS_TYPE.into(),
        value(&ConsensusProto {
            r#type: "solo".into(),
            metadata: vec![],
            state: 1,
        }),
    );
    let cc = parse(&config).unwrap();
    let orderer = cc.orderer().unwrap();
    assert_eq!(orderer.consensus, ConsensusType::Solo);
    assert_eq!(orderer.state, ConsensusState::Maintenance);
    assert!(orderer.etcdraft().is_none());
}

#[test]
fn application_values_and_msps_are_checked() {
    let err = error_after(|c| {
        application_mut(c).values.remove(keys::CAPABILITIES);
    });
    assert_eq!(err, ConfigError::AclsWithoutCapability);

    let err = error_after(|c| {
        let org1 = application_mut(c).groups.get_mut("Org1").unwrap();
        org1.values.insert(
            keys::MSP.into(),
            value(&MspConfig {
                r#type: 1,
                config: vec![],
            }),
        );
    });
    assert!(matches!(err, ConfigError::Msp { org, .. } if org == "Org1"));

    // The same MSP ID defined twice with different material.
    let fixture = Fixture::new();
    let impostor = TestOrg::new("Org1MSP");
    let mut config = fixture.config();
    application_mut(&mut config)
        .groups
        .insert("Org1Again".into(), org_group(&impostor));
    assert_eq!(
        parse(&config).unwrap_err(),
        ConfigError::ConflictingMsp {
            mspid: "Org1MSP".into()
        }
    );
    // The same definition twice is fine.
    let mut config = fixture.config();
    application_mut(&mut config)
        .groups
        .insert("Org1Again".into(), org_group(&fixture.org1));
    parse(&config).unwrap();
}

#[test]
fn unsupported_capabilities_are_reported() {
    let mut config = Fixture::new().config();
    application_mut(&mut config)
        .values
        .insert(keys::CAPABILITIES.into(), value(&caps(&["V2_5", "V9_9"])));
    let cc = parse(&config).unwrap();
    assert_eq!(
        cc.check_capabilities_supported(),
        Err(ConfigError::UnsupportedCapability {
            level: "Application",
            name: "V9_9".into()
        })
    );
    let caps = &cc.application().unwrap().capabilities;
    assert_eq!(caps.names().collect::<Vec<_>>(), ["V2_5", "V9_9"]);
    assert_eq!(caps.unsupported(known_capabilities::APPLICATION), ["V9_9"]);
}
