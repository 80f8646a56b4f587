//! Blocks and config groups as JSON, in the shape Fabric's `protolator` prints them
//! (`configtxgen -inspectBlock`, `-printOrg`): proto field names, 64-bit integers as
//! strings, bytes as base64 (`null` when empty), enums by name, and the opaque bytes of
//! config values, policies, headers and envelopes decoded into their messages.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use prost::Message;
use serde_json::{Map, Value, json};
use weft_common::channelconfig::keys;
use weft_proto::common::{
    Block, BlockDataHashingStructure, Capabilities, ChannelHeader, Config, ConfigEnvelope,
    ConfigGroup, ConfigSignature, ConfigUpdate, ConfigUpdateEnvelope, Consortium, Envelope,
    HashingAlgorithm, HeaderType, ImplicitMetaPolicy, LastConfig, Metadata, MspPrincipal, MspRole,
    OrdererAddresses, OrdererBlockMetadata, OrganizationUnit, Payload, Policy, SignatureHeader,
    SignaturePolicy, SignaturePolicyEnvelope, implicit_meta_policy, msp_principal, msp_role,
    policy::PolicyType, signature_policy,
};
use weft_proto::etcdraft;
use weft_proto::msp::{
    FabricMspConfig, FabricNodeOUs, FabricOuIdentifier, MspConfig, SerializedIdentity,
};
use weft_proto::orderer::{
    BatchSize, BatchTimeout, ChannelRestrictions, ConsensusType, KafkaBrokers,
};
use weft_proto::protos::{AcLs, AnchorPeers};

use super::ConfigtxError;

fn bytes(b: &[u8]) -> Value {
    if b.is_empty() {
        Value::Null
    } else {
        Value::String(STANDARD.encode(b))
    }
}

fn bytes_list(list: &[Vec<u8>]) -> Value {
    Value::Array(list.iter().map(|b| bytes(b)).collect())
}

fn u64_text(n: u64) -> Value {
    Value::String(n.to_string())
}

/// Decodes `raw` as `M` and renders it, or falls back to base64 when it does not decode.
fn decoded<M: Message + Default>(raw: &[u8], render: impl Fn(&M) -> Value) -> Value {
    match M::decode(raw) {
        Ok(msg) => render(&msg),
        Err(_) => bytes(raw),
    }
}

/// A block, with config envelopes decoded all the way down.
pub fn block_json(block: &Block) -> Value {
    let header = block.header.clone().unwrap_or_default();
    let data = block.data.clone().unwrap_or_default();
    let metadata = block.metadata.clone().unwrap_or_default();
    let metadata: Vec<Value> = metadata
        .metadata
        .iter()
        .enumerate()
        .map(|(i, raw)| match i {
            0 => decoded(raw, |m: &Metadata| {
                metadata_json(m, |v| decoded(v, orderer_block_metadata_json))
            }),
            1 => decoded(raw, |m: &Metadata| {
                metadata_json(m, |v| decoded(v, last_config_json))
            }),
            _ => bytes(raw),
        })
        .collect();
    json!({
        "header": {
            "number": u64_text(header.number),
            "previous_hash": bytes(&header.previous_hash),
            "data_hash": bytes(&header.data_hash),
        },
        "data": {
            "data": data.data.iter().map(|e| decoded(e, envelope_json)).collect::<Vec<_>>(),
        },
        "metadata": { "metadata": metadata },
    })
}

/// Reads a marshaled block and renders it.
pub fn inspect_block(raw: &[u8]) -> Result<Value, ConfigtxError> {
    let block = Block::decode(raw).map_err(|e| ConfigtxError::MalformedBlock(e.to_string()))?;
    Ok(block_json(&block))
}

fn metadata_json(m: &Metadata, value: impl Fn(&[u8]) -> Value) -> Value {
    json!({
        "value": value(&m.value),
        "signatures": m.signatures.iter().map(|s| json!({
            "signature_header": decoded(&s.signature_header, signature_header_json),
            "signature": bytes(&s.signature),
        })).collect::<Vec<_>>(),
    })
}

fn last_config_json(m: &LastConfig) -> Value {
    json!({ "index": u64_text(m.index) })
}

fn orderer_block_metadata_json(m: &OrdererBlockMetadata) -> Value {
    json!({
        "last_config": m.last_config.as_ref().map(last_config_json),
        "consenter_metadata": bytes(&m.consenter_metadata),
    })
}

/// An envelope: payload header decoded, data decoded by header type.
pub fn envelope_json(env: &Envelope) -> Value {
    json!({
        "payload": decoded(&env.payload, payload_json),
        "signature": bytes(&env.signature),
    })
}

fn payload_json(p: &Payload) -> Value {
    let header = p.header.clone().unwrap_or_default();
    let channel_header = ChannelHeader::decode(header.channel_header.as_slice()).ok();
    let kind = channel_header.as_ref().map(|h| h.r#type);
    let data = match kind {
        Some(t) if t == HeaderType::Config as i32 => decoded(&p.data, config_envelope_json),
        Some(t) if t == HeaderType::ConfigUpdate as i32 => {
            decoded(&p.data, config_update_envelope_json)
        }
        _ => bytes(&p.data),
    };
    json!({
        "header": {
            "channel_header": decoded(&header.channel_header, channel_header_json),
            "signature_header": decoded(&header.signature_header, signature_header_json),
        },
        "data": data,
    })
}

fn channel_header_json(h: &ChannelHeader) -> Value {
    let timestamp = h.timestamp.as_ref().map(|t| {
        time::OffsetDateTime::from_unix_timestamp(t.seconds)
            .ok()
            .and_then(|d| d.replace_nanosecond(t.nanos.max(0) as u32).ok())
            .and_then(|d| {
                d.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default()
    });
    json!({
        "type": h.r#type,
        "version": h.version,
        "timestamp": timestamp,
        "channel_id": h.channel_id,
        "tx_id": h.tx_id,
        "epoch": u64_text(h.epoch),
        "extension": bytes(&h.extension),
        "tls_cert_hash": bytes(&h.tls_cert_hash),
    })
}

fn signature_header_json(h: &SignatureHeader) -> Value {
    let creator = if h.creator.is_empty() {
        Value::Null
    } else {
        decoded(&h.creator, serialized_identity_json)
    };
    json!({ "creator": creator, "nonce": bytes(&h.nonce) })
}

fn serialized_identity_json(id: &SerializedIdentity) -> Value {
    json!({ "mspid": id.mspid, "id_bytes": bytes(&id.id_bytes) })
}

fn config_envelope_json(env: &ConfigEnvelope) -> Value {
    json!({
        "config": env.config.as_ref().map(config_json),
        "last_update": env.last_update.as_ref().map(envelope_json),
    })
}

fn config_update_envelope_json(env: &ConfigUpdateEnvelope) -> Value {
    json!({
        "config_update": decoded(&env.config_update, config_update_json),
        "signatures": env.signatures.iter().map(config_signature_json).collect::<Vec<_>>(),
    })
}

fn config_signature_json(s: &ConfigSignature) -> Value {
    json!({
        "signature_header": decoded(&s.signature_header, signature_header_json),
        "signature": bytes(&s.signature),
    })
}

fn config_update_json(u: &ConfigUpdate) -> Value {
    let isolated: Map<String, Value> = u
        .isolated_data
        .iter()
        .map(|(k, v)| (k.clone(), bytes(v)))
        .collect();
    json!({
        "channel_id": u.channel_id,
        "read_set": u.read_set.as_ref().map(group_json),
        "write_set": u.write_set.as_ref().map(group_json),
        "isolated_data": isolated,
    })
}

/// A `Config`: sequence and the root group.
pub fn config_json(c: &Config) -> Value {
    json!({
        "sequence": u64_text(c.sequence),
        "channel_group": c.channel_group.as_ref().map(group_json),
    })
}

/// A config group with its subgroups, values (decoded by key) and policies.
pub fn group_json(group: &ConfigGroup) -> Value {
    let groups: Map<String, Value> = group
        .groups
        .iter()
        .map(|(name, g)| (name.clone(), group_json(g)))
        .collect();
    let values: Map<String, Value> = group
        .values
        .iter()
        .map(|(name, v)| {
            (
                name.clone(),
                json!({
                    "version": u64_text(v.version),
                    "mod_policy": v.mod_policy,
                    "value": value_json(name, &v.value),
                }),
            )
        })
        .collect();
    let policies: Map<String, Value> = group
        .policies
        .iter()
        .map(|(name, p)| {
            (
                name.clone(),
                json!({
                    "version": u64_text(p.version),
                    "mod_policy": p.mod_policy,
                    "policy": p.policy.as_ref().map(policy_json),
                }),
            )
        })
        .collect();
    json!({
        "version": u64_text(group.version),
        "mod_policy": group.mod_policy,
        "groups": groups,
        "values": values,
        "policies": policies,
    })
}

fn value_json(key: &str, raw: &[u8]) -> Value {
    match key {
        keys::HASHING_ALGORITHM => decoded(raw, |m: &HashingAlgorithm| json!({ "name": m.name })),
        keys::BLOCK_DATA_HASHING_STRUCTURE => decoded(
            raw,
            |m: &BlockDataHashingStructure| json!({ "width": m.width }),
        ),
        keys::ORDERER_ADDRESSES | keys::ENDPOINTS => decoded(
            raw,
            |m: &OrdererAddresses| json!({ "addresses": m.addresses }),
        ),
        keys::CONSORTIUM => decoded(raw, |m: &Consortium| json!({ "name": m.name })),
        keys::CAPABILITIES => decoded(raw, |m: &Capabilities| {
            let caps: Map<String, Value> = m
                .capabilities
                .keys()
                .map(|k| (k.clone(), json!({})))
                .collect();
            json!({ "capabilities": caps })
        }),
        keys::CONSENSUS_TYPE => decoded(raw, consensus_type_json),
        keys::BATCH_SIZE => decoded(raw, |m: &BatchSize| {
            json!({
                "max_message_count": m.max_message_count,
                "absolute_max_bytes": m.absolute_max_bytes,
                "preferred_max_bytes": m.preferred_max_bytes,
            })
        }),
        keys::BATCH_TIMEOUT => decoded(raw, |m: &BatchTimeout| json!({ "timeout": m.timeout })),
        keys::CHANNEL_RESTRICTIONS => decoded(
            raw,
            |m: &ChannelRestrictions| json!({ "max_count": u64_text(m.max_count) }),
        ),
        keys::KAFKA_BROKERS => decoded(raw, |m: &KafkaBrokers| json!({ "brokers": m.brokers })),
        keys::MSP => decoded(raw, msp_config_json),
        keys::ANCHOR_PEERS => decoded(raw, |m: &AnchorPeers| {
            json!({
                "anchor_peers": m.anchor_peers.iter()
                    .map(|p| json!({ "host": p.host, "port": p.port }))
                    .collect::<Vec<_>>(),
            })
        }),
        keys::ACLS => decoded(raw, |m: &AcLs| {
            let acls: Map<String, Value> = m
                .acls
                .iter()
                .map(|(k, v)| (k.clone(), json!({ "policy_ref": v.policy_ref })))
                .collect();
            json!({ "acls": acls })
        }),
        _ => bytes(raw),
    }
}

fn consensus_type_json(m: &ConsensusType) -> Value {
    let metadata = if m.r#type == "etcdraft" {
        decoded(&m.metadata, etcdraft_metadata_json)
    } else {
        bytes(&m.metadata)
    };
    let state = match m.state {
        0 => "STATE_NORMAL".into(),
        1 => "STATE_MAINTENANCE".into(),
        n => Value::from(n),
    };
    json!({ "type": m.r#type, "metadata": metadata, "state": state })
}

fn etcdraft_metadata_json(m: &etcdraft::ConfigMetadata) -> Value {
    json!({
        "consenters": m.consenters.iter().map(|c| json!({
            "host": c.host,
            "port": c.port,
            "client_tls_cert": bytes(&c.client_tls_cert),
            "server_tls_cert": bytes(&c.server_tls_cert),
        })).collect::<Vec<_>>(),
        "options": m.options.as_ref().map(|o| json!({
            "tick_interval": o.tick_interval,
            "election_tick": o.election_tick,
            "heartbeat_tick": o.heartbeat_tick,
            "max_inflight_blocks": o.max_inflight_blocks,
            "snapshot_interval_size": o.snapshot_interval_size,
        })),
    })
}

fn msp_config_json(m: &MspConfig) -> Value {
    let config = if m.r#type == 0 {
        decoded(&m.config, fabric_msp_config_json)
    } else {
        bytes(&m.config)
    };
    json!({ "type": m.r#type, "config": config })
}

fn ou_identifier_json(o: &FabricOuIdentifier) -> Value {
    json!({
        "certificate": bytes(&o.certificate),
        "organizational_unit_identifier": o.organizational_unit_identifier,
    })
}

fn node_ous_json(n: &FabricNodeOUs) -> Value {
    json!({
        "enable": n.enable,
        "client_ou_identifier": n.client_ou_identifier.as_ref().map(ou_identifier_json),
        "peer_ou_identifier": n.peer_ou_identifier.as_ref().map(ou_identifier_json),
        "admin_ou_identifier": n.admin_ou_identifier.as_ref().map(ou_identifier_json),
        "orderer_ou_identifier": n.orderer_ou_identifier.as_ref().map(ou_identifier_json),
    })
}

fn fabric_msp_config_json(m: &FabricMspConfig) -> Value {
    json!({
        "name": m.name,
        "root_certs": bytes_list(&m.root_certs),
        "intermediate_certs": bytes_list(&m.intermediate_certs),
        "admins": bytes_list(&m.admins),
        "revocation_list": bytes_list(&m.revocation_list),
        "signing_identity": m.signing_identity.as_ref().map(|s| json!({
            "public_signer": bytes(&s.public_signer),
            "private_signer": s.private_signer.as_ref().map(|k| json!({
                "key_identifier": k.key_identifier,
                "key_material": bytes(&k.key_material),
            })),
        })),
        "organizational_unit_identifiers": m.organizational_unit_identifiers.iter()
            .map(ou_identifier_json).collect::<Vec<_>>(),
        "crypto_config": m.crypto_config.as_ref().map(|c| json!({
            "signature_hash_family": c.signature_hash_family,
            "identity_identifier_hash_function": c.identity_identifier_hash_function,
        })),
        "tls_root_certs": bytes_list(&m.tls_root_certs),
        "tls_intermediate_certs": bytes_list(&m.tls_intermediate_certs),
        "fabric_node_ous": m.fabric_node_ous.as_ref().map(node_ous_json),
    })
}

/// A `Policy`, its value decoded by type.
pub fn policy_json(p: &Policy) -> Value {
    let value = match PolicyType::try_from(p.r#type) {
        Ok(PolicyType::Signature) => decoded(&p.value, signature_policy_envelope_json),
        Ok(PolicyType::ImplicitMeta) => decoded(&p.value, |m: &ImplicitMetaPolicy| {
            let rule = implicit_meta_policy::Rule::try_from(m.rule)
                .map(|r| Value::from(r.as_str_name()))
                .unwrap_or_else(|_| Value::from(m.rule));
            json!({ "sub_policy": m.sub_policy, "rule": rule })
        }),
        _ => bytes(&p.value),
    };
    json!({ "type": p.r#type, "value": value })
}

fn signature_policy_envelope_json(e: &SignaturePolicyEnvelope) -> Value {
    json!({
        "version": e.version,
        "rule": e.rule.as_ref().map(signature_policy_json),
        "identities": e.identities.iter().map(principal_json).collect::<Vec<_>>(),
    })
}

fn signature_policy_json(p: &SignaturePolicy) -> Value {
    match &p.r#type {
        Some(signature_policy::Type::SignedBy(i)) => json!({ "signed_by": i }),
        Some(signature_policy::Type::NOutOf(n)) => json!({
            "n_out_of": {
                "n": n.n,
                "rules": n.rules.iter().map(signature_policy_json).collect::<Vec<_>>(),
            }
        }),
        None => json!({}),
    }
}

fn principal_json(p: &MspPrincipal) -> Value {
    use msp_principal::Classification;
    let classification = Classification::try_from(p.principal_classification);
    let principal = match classification {
        Ok(Classification::Role) => decoded(&p.principal, |r: &MspRole| {
            let role = msp_role::MspRoleType::try_from(r.role)
                .map(|t| Value::from(t.as_str_name()))
                .unwrap_or_else(|_| Value::from(r.role));
            json!({ "msp_identifier": r.msp_identifier, "role": role })
        }),
        Ok(Classification::OrganizationUnit) => decoded(&p.principal, |o: &OrganizationUnit| {
            json!({
                "msp_identifier": o.msp_identifier,
                "organizational_unit_identifier": o.organizational_unit_identifier,
                "certifiers_identifier": bytes(&o.certifiers_identifier),
            })
        }),
        Ok(Classification::Identity) => decoded(&p.principal, serialized_identity_json),
        _ => bytes(&p.principal),
    };
    let name = classification
        .map(|c| Value::from(c.as_str_name()))
        .unwrap_or_else(|_| Value::from(p.principal_classification));
    json!({ "principal_classification": name, "principal": principal })
}
