//! Turns a completed [`Profile`] into the channel's root `ConfigGroup`, with the keys,
//! values, policies and mod policies Fabric's configtxgen writes (every version 0, every
//! mod policy `Admins` except the legacy `OrdererAddresses`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use prost::Message;
use weft_common::channelconfig::{format_go_duration, keys, parse_go_duration};
use weft_proto::common::{
    BlockDataHashingStructure, Capabilities, Capability, ConfigGroup, ConfigPolicy, ConfigValue,
    Consortium, HashingAlgorithm, ImplicitMetaPolicy, OrdererAddresses, Policy,
    implicit_meta_policy, policy::PolicyType,
};
use weft_proto::etcdraft;
use weft_proto::msp::{FabricMspConfig, MspConfig};
use weft_proto::orderer::{
    BatchSize, BatchTimeout, ChannelRestrictions, ConsensusType, KafkaBrokers,
};
use weft_proto::protos::{AcLs, AnchorPeer, AnchorPeers, ApiResource};

use super::ConfigtxError;
use super::config::{Application, Orderer, Organization, Profile};

/// Fabric's configtx `Type` for policy-language rules.
pub const SIGNATURE_POLICY_TYPE: &str = "Signature";
/// Fabric's configtx `Type` for implicit-meta rules.
pub const IMPLICIT_META_POLICY_TYPE: &str = "ImplicitMeta";

const ADMINS: &str = "Admins";
const ORDERER_ADMINS_PATH: &str = "/Channel/Orderer/Admins";

fn new_group() -> ConfigGroup {
    ConfigGroup {
        mod_policy: ADMINS.to_string(),
        ..ConfigGroup::default()
    }
}

fn add_value(group: &mut ConfigGroup, key: &str, value: &impl Message, mod_policy: &str) {
    group.values.insert(
        key.to_string(),
        ConfigValue {
            version: 0,
            value: value.encode_to_vec(),
            mod_policy: mod_policy.to_string(),
        },
    );
}

fn capabilities(map: &BTreeMap<String, bool>) -> Capabilities {
    Capabilities {
        capabilities: map
            .iter()
            .filter(|(_, on)| **on)
            .map(|(name, _)| (name.clone(), Capability {}))
            .collect::<HashMap<_, _>>(),
    }
}

/// Parses an implicit-meta rule: exactly `<ANY|ALL|MAJORITY> <SubPolicy>`.
pub fn implicit_meta_from_str(rule: &str) -> Result<ImplicitMetaPolicy, String> {
    let parts: Vec<&str> = rule.split(' ').collect();
    let [kind, sub_policy] = parts.as_slice() else {
        return Err(format!(
            "expected two space separated tokens, but got {}",
            parts.len()
        ));
    };
    let rule = match *kind {
        "ANY" => implicit_meta_policy::Rule::Any,
        "ALL" => implicit_meta_policy::Rule::All,
        "MAJORITY" => implicit_meta_policy::Rule::Majority,
        other => {
            return Err(format!(
                "unknown rule type '{other}', expected ALL, ANY, or MAJORITY"
            ));
        }
    };
    Ok(ImplicitMetaPolicy {
        sub_policy: (*sub_policy).to_string(),
        rule: rule as i32,
    })
}

/// Encodes one configtx policy into a `Policy` message.
pub fn encode_policy(
    group: &str,
    name: &str,
    policy: &super::config::Policy,
) -> Result<Policy, ConfigtxError> {
    let bad_rule = |reason: String| ConfigtxError::BadPolicyRule {
        group: group.to_string(),
        policy: name.to_string(),
        rule: policy.rule.clone(),
        reason,
    };
    match policy.kind.as_str() {
        IMPLICIT_META_POLICY_TYPE => {
            let imp = implicit_meta_from_str(&policy.rule).map_err(bad_rule)?;
            Ok(Policy {
                r#type: PolicyType::ImplicitMeta as i32,
                value: imp.encode_to_vec(),
            })
        }
        SIGNATURE_POLICY_TYPE => {
            let envelope = weft_common::policy::dsl::parse(&policy.rule)
                .map_err(|e| bad_rule(e.to_string()))?;
            Ok(Policy {
                r#type: PolicyType::Signature as i32,
                value: envelope.encode_to_vec(),
            })
        }
        other => Err(ConfigtxError::UnknownPolicyType {
            group: group.to_string(),
            policy: name.to_string(),
            kind: other.to_string(),
        }),
    }
}

/// Adds `policies` to `group`; Readers, Writers and Admins (and any of `extra_required`)
/// must be present.
fn add_policies(
    group: &mut ConfigGroup,
    group_name: &str,
    policies: Option<&BTreeMap<String, super::config::Policy>>,
    extra_required: &[&str],
) -> Result<(), ConfigtxError> {
    let missing = |policy: &str| ConfigtxError::MissingPolicy {
        group: group_name.to_string(),
        policy: policy.to_string(),
    };
    let policies = policies.ok_or_else(|| missing("any"))?;
    for required in ["Admins", "Readers", "Writers"]
        .iter()
        .chain(extra_required)
    {
        if !policies.contains_key(*required) {
            return Err(missing(required));
        }
    }
    for (name, policy) in policies {
        let policy = encode_policy(group_name, name, policy)?;
        group.policies.insert(
            name.clone(),
            ConfigPolicy {
                version: 0,
                policy: Some(policy),
                mod_policy: ADMINS.to_string(),
            },
        );
    }
    Ok(())
}

/// The root `Channel` group of a profile.
pub fn channel_group(profile: &Profile) -> Result<ConfigGroup, ConfigtxError> {
    if profile.consortiums.is_some() {
        return Err(ConfigtxError::Unsupported(
            "Consortiums (system channel profiles); Weft creates channels with the \
             channel participation API only"
                .to_string(),
        ));
    }
    let mut group = new_group();
    add_policies(&mut group, "Channel", profile.policies.as_ref(), &[])?;
    add_value(
        &mut group,
        keys::HASHING_ALGORITHM,
        &HashingAlgorithm {
            name: "SHA256".to_string(),
        },
        ADMINS,
    );
    add_value(
        &mut group,
        keys::BLOCK_DATA_HASHING_STRUCTURE,
        &BlockDataHashingStructure { width: u32::MAX },
        ADMINS,
    );
    if let Some(orderer) = &profile.orderer
        && !orderer.addresses.is_empty()
    {
        add_value(
            &mut group,
            keys::ORDERER_ADDRESSES,
            &OrdererAddresses {
                addresses: orderer.addresses.clone(),
            },
            ORDERER_ADMINS_PATH,
        );
    }
    if !profile.consortium.is_empty() {
        add_value(
            &mut group,
            keys::CONSORTIUM,
            &Consortium {
                name: profile.consortium.clone(),
            },
            ADMINS,
        );
    }
    if !profile.capabilities.is_empty() {
        add_value(
            &mut group,
            keys::CAPABILITIES,
            &capabilities(&profile.capabilities),
            ADMINS,
        );
    }
    if let Some(orderer) = &profile.orderer {
        group
            .groups
            .insert(keys::ORDERER_GROUP.to_string(), orderer_group(orderer)?);
    }
    if let Some(application) = &profile.application {
        group.groups.insert(
            keys::APPLICATION_GROUP.to_string(),
            application_group(application)?,
        );
    }
    Ok(group)
}

/// The `Orderer` group.
pub fn orderer_group(orderer: &Orderer) -> Result<ConfigGroup, ConfigtxError> {
    let mut group = new_group();
    add_policies(
        &mut group,
        "Orderer",
        orderer.policies.as_ref(),
        &["BlockValidation"],
    )?;
    add_value(
        &mut group,
        keys::BATCH_SIZE,
        &BatchSize {
            max_message_count: orderer.batch_size.max_message_count,
            absolute_max_bytes: orderer.batch_size.absolute_max_bytes,
            preferred_max_bytes: orderer.batch_size.preferred_max_bytes,
        },
        ADMINS,
    );
    let timeout =
        parse_go_duration(&orderer.batch_timeout).map_err(|e| ConfigtxError::Invalid {
            what: "Orderer.BatchTimeout".to_string(),
            reason: e.to_string(),
        })?;
    add_value(
        &mut group,
        keys::BATCH_TIMEOUT,
        &BatchTimeout {
            timeout: format_go_duration(timeout),
        },
        ADMINS,
    );
    add_value(
        &mut group,
        keys::CHANNEL_RESTRICTIONS,
        &ChannelRestrictions {
            max_count: orderer.max_channels,
        },
        ADMINS,
    );
    if !orderer.capabilities.is_empty() {
        add_value(
            &mut group,
            keys::CAPABILITIES,
            &capabilities(&orderer.capabilities),
            ADMINS,
        );
    }
    let metadata = match orderer.orderer_type.as_str() {
        "solo" => Vec::new(),
        "kafka" => {
            add_value(
                &mut group,
                keys::KAFKA_BROKERS,
                &KafkaBrokers {
                    brokers: orderer.kafka.brokers.clone(),
                },
                ADMINS,
            );
            Vec::new()
        }
        "etcdraft" => etcdraft_metadata(orderer)?.encode_to_vec(),
        other => return Err(ConfigtxError::UnknownOrdererType(other.to_string())),
    };
    add_value(
        &mut group,
        keys::CONSENSUS_TYPE,
        &ConsensusType {
            r#type: orderer.orderer_type.clone(),
            metadata,
            state: 0,
        },
        ADMINS,
    );
    for org in &orderer.organizations {
        group
            .groups
            .insert(org.name.clone(), orderer_org_group(org)?);
    }
    Ok(group)
}

/// etcdraft `ConfigMetadata` with the consenters' certificate files read in.
fn etcdraft_metadata(orderer: &Orderer) -> Result<etcdraft::ConfigMetadata, ConfigtxError> {
    let raft = orderer
        .etcd_raft
        .as_ref()
        .ok_or_else(|| ConfigtxError::Invalid {
            what: "Orderer.EtcdRaft".to_string(),
            reason: "etcdraft configuration missing".to_string(),
        })?;
    let read = |host: &str, port: u32, path: &str, which: &str| {
        std::fs::read(path).map_err(|e| ConfigtxError::ConsenterCert {
            consenter: format!("{host}:{port}"),
            which: which.to_string(),
            path: path.into(),
            reason: e.to_string(),
        })
    };
    let mut consenters = Vec::new();
    for c in &raft.consenters {
        consenters.push(etcdraft::Consenter {
            host: c.host.clone(),
            port: c.port,
            client_tls_cert: read(&c.host, c.port, &c.client_tls_cert, "client")?,
            server_tls_cert: read(&c.host, c.port, &c.server_tls_cert, "server")?,
        });
    }
    let options = raft.options.clone().unwrap_or_default();
    Ok(etcdraft::ConfigMetadata {
        consenters,
        options: Some(etcdraft::Options {
            tick_interval: options.tick_interval,
            election_tick: options.election_tick,
            heartbeat_tick: options.heartbeat_tick,
            max_inflight_blocks: options.max_inflight_blocks,
            snapshot_interval_size: options.snapshot_interval_size,
        }),
    })
}

/// The `Application` group.
pub fn application_group(application: &Application) -> Result<ConfigGroup, ConfigtxError> {
    let mut group = new_group();
    add_policies(
        &mut group,
        "Application",
        application.policies.as_ref(),
        &[],
    )?;
    if !application.acls.is_empty() {
        let acls = AcLs {
            acls: application
                .acls
                .iter()
                .map(|(resource, policy_ref)| {
                    (
                        resource.clone(),
                        ApiResource {
                            policy_ref: policy_ref.clone(),
                        },
                    )
                })
                .collect(),
        };
        add_value(&mut group, keys::ACLS, &acls, ADMINS);
    }
    if !application.capabilities.is_empty() {
        add_value(
            &mut group,
            keys::CAPABILITIES,
            &capabilities(&application.capabilities),
            ADMINS,
        );
    }
    for org in &application.organizations {
        group
            .groups
            .insert(org.name.clone(), application_org_group(org)?);
    }
    Ok(group)
}

/// An orderer org's group: MSP, policies, `Endpoints` when it lists any.
pub fn orderer_org_group(org: &Organization) -> Result<ConfigGroup, ConfigtxError> {
    let mut group = org_group(org)?;
    if !org.orderer_endpoints.is_empty() {
        add_value(
            &mut group,
            keys::ENDPOINTS,
            &OrdererAddresses {
                addresses: org.orderer_endpoints.clone(),
            },
            ADMINS,
        );
    }
    Ok(group)
}

/// An application org's group: MSP, policies, `AnchorPeers` when it lists any.
pub fn application_org_group(org: &Organization) -> Result<ConfigGroup, ConfigtxError> {
    let mut group = org_group(org)?;
    if !org.anchor_peers.is_empty() {
        let anchor_peers = AnchorPeers {
            anchor_peers: org
                .anchor_peers
                .iter()
                .map(|p| AnchorPeer {
                    host: p.host.clone(),
                    port: p.port,
                })
                .collect(),
        };
        add_value(&mut group, keys::ANCHOR_PEERS, &anchor_peers, ADMINS);
    }
    Ok(group)
}

fn org_group(org: &Organization) -> Result<ConfigGroup, ConfigtxError> {
    if org.skip_as_foreign {
        return Err(ConfigtxError::Unsupported(format!(
            "organization '{}' is marked SkipAsForeign; all org definitions must be local",
            org.name
        )));
    }
    if org.name.is_empty() {
        return Err(ConfigtxError::Invalid {
            what: "Organizations".to_string(),
            reason: format!("organization with ID '{}' has no Name", org.id),
        });
    }
    let mut group = new_group();
    let msp = msp_config(org)?;
    add_policies(&mut group, &org.name, org.policies.as_ref(), &[])?;
    add_value(&mut group, keys::MSP, &msp, ADMINS);
    Ok(group)
}

/// The org's verifying MSP config, read from its `MSPDir`.
pub fn msp_config(org: &Organization) -> Result<MspConfig, ConfigtxError> {
    let msp_error = |reason: String| ConfigtxError::Msp {
        org: org.name.clone(),
        dir: org.msp_dir.clone().into(),
        reason,
    };
    if org.msp_type != "bccsp" {
        return Err(msp_error(format!(
            "MSP type '{}' is not supported (only bccsp)",
            org.msp_type
        )));
    }
    if org.id.is_empty() {
        return Err(msp_error("organization has no ID (MSP ID)".to_string()));
    }
    let dir = Path::new(&org.msp_dir);
    if !dir.is_dir() {
        return Err(msp_error("MSP directory not found".to_string()));
    }
    let config = load_verifying_msp(dir, &org.id).map_err(msp_error)?;
    Ok(MspConfig {
        r#type: 0,
        config: config.encode_to_vec(),
    })
}

/// Reads an MSP directory as a verifying MSP (no signing identity).
fn load_verifying_msp(dir: &Path, mspid: &str) -> Result<FabricMspConfig, String> {
    let loaded = weft_common::msp::MspDir::load(dir, mspid).map_err(|e| e.to_string())?;
    let mut config = loaded.config;
    config.signing_identity = None;
    Ok(config)
}
