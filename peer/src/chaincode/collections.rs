//! Private data collections as chaincode execution sees them: which collection names a
//! chaincode may use (Fabric's `collNameValidator` over `AllCollectionsConfigPkg`),
//! whether the proposal's creator may read or write one (`RetrieveReadWritePermission`),
//! and whether this peer's org is a member that keeps the collection's private data.
//!
//! A chaincode's collections are its definition's static collections plus one implicit
//! collection per application org of the channel (`_implicit_org_<MSPID>`); `_lifecycle`
//! has only the implicit ones.

use std::sync::Arc;

use weft_common::channelconfig::ChannelConfig;
use weft_common::policy::SignaturePolicy;
use weft_proto::protos::StaticCollectionConfig;
use weft_proto::protos::collection_config::Payload as CollectionPayload;
use weft_proto::protos::collection_policy_config::Payload as PolicyPayload;
use weft_proto::rwset::TxPvtReadWriteSet;

use crate::ledger::private::implicit_collection_msp;
use crate::ledger::{CollectionCheck, LedgerSnapshot};
use crate::validation::definitions::{LIFECYCLE_NAMESPACE, chaincode_definition};

/// What a collection name resolves to for a chaincode.
#[derive(Debug, Clone, PartialEq)]
pub enum Collection {
    /// The implicit collection of the org with this MSP id.
    Implicit(String),
    /// A static collection of the chaincode's definition.
    Static(StaticCollectionConfig),
}

/// Why a collection name does not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CollectionError {
    /// The chaincode has no committed definition.
    #[error(
        "collection config not defined for chaincode [{namespace}], pass the collection \
         configuration upon chaincode definition/instantiation"
    )]
    NoDefinition {
        /// The chaincode.
        namespace: String,
    },
    /// The definition has no such collection (nor is it a channel org's implicit one).
    #[error(
        "collection [{collection}] not defined in the collection config for chaincode [{namespace}]"
    )]
    Undefined {
        /// The chaincode.
        namespace: String,
        /// The collection.
        collection: String,
    },
    /// The definition could not be read.
    #[error("could not get info about chaincode: {0}")]
    Definition(String),
}

/// Resolves `collection` of chaincode `namespace` against the definition committed in
/// `snapshot` and the channel's orgs.
pub fn resolve(
    snapshot: &LedgerSnapshot<'_>,
    channel: &ChannelConfig,
    namespace: &str,
    collection: &str,
) -> Result<Collection, CollectionError> {
    let statics = if namespace == LIFECYCLE_NAMESPACE {
        Vec::new()
    } else {
        let definition = chaincode_definition(snapshot, namespace)
            .map_err(|e| CollectionError::Definition(e.to_string()))?
            .ok_or_else(|| CollectionError::NoDefinition {
                namespace: namespace.to_owned(),
            })?;
        definition
            .collections
            .config
            .into_iter()
            .filter_map(|c| {
                c.payload
                    .map(|CollectionPayload::StaticCollectionConfig(s)| s)
            })
            .collect()
    };
    if let Some(msp) = implicit_collection_msp(collection)
        && channel_msp_ids(channel).iter().any(|m| m == msp)
    {
        return Ok(Collection::Implicit(msp.to_owned()));
    }
    statics
        .into_iter()
        .find(|s| s.name == collection)
        .map(Collection::Static)
        .ok_or_else(|| CollectionError::Undefined {
            namespace: namespace.to_owned(),
            collection: collection.to_owned(),
        })
}

/// The MSP ids of the channel's application orgs.
fn channel_msp_ids(channel: &ChannelConfig) -> Vec<String> {
    channel
        .application()
        .map(|app| {
            app.organizations
                .values()
                .map(|o| o.msp_id.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// The simulator's collection name check for a channel with config `channel`.
pub fn collection_check(channel: Arc<ChannelConfig>) -> CollectionCheck {
    Arc::new(move |snapshot, namespace, collection| {
        resolve(snapshot, &channel, namespace, collection)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
}

/// Whether an identity (serialized) is a member of a static collection: it satisfies the
/// collection's member orgs policy. An undecodable or non-signature policy admits nobody.
fn is_member(channel: &ChannelConfig, config: &StaticCollectionConfig, identity: &[u8]) -> bool {
    let Some(PolicyPayload::SignaturePolicy(envelope)) = config
        .member_orgs_policy
        .as_ref()
        .and_then(|p| p.payload.clone())
    else {
        return false;
    };
    let Ok(policy) = SignaturePolicy::new(
        "collection member orgs",
        envelope,
        channel.msp_manager().clone(),
    ) else {
        return false;
    };
    let Ok(identity) = channel.msp_manager().deserialize_identity(identity) else {
        return false;
    };
    policy.evaluate_identities(&[identity]).is_ok()
}

/// Read and write permissions of the proposal creator on a collection (Fabric's
/// `RetrieveReadWritePermission`): members may do both; others may read unless the
/// collection is member-only-read and write unless it is member-only-write. Implicit
/// collections are open to all.
pub fn permissions(
    channel: &ChannelConfig,
    collection: &Collection,
    creator: &[u8],
) -> (bool, bool) {
    match collection {
        Collection::Implicit(_) => (true, true),
        Collection::Static(config) => {
            if !config.member_only_read && !config.member_only_write {
                return (true, true);
            }
            if is_member(channel, config, creator) {
                return (true, true);
            }
            (!config.member_only_read, !config.member_only_write)
        }
    }
}

/// Whether this peer's org (`local_msp_id`) is a member of `collection`: the peer keeps
/// its private data. For a static collection, the member orgs policy names the org.
pub fn org_is_member(collection: &Collection, local_msp_id: &str) -> bool {
    match collection {
        Collection::Implicit(msp) => msp == local_msp_id,
        Collection::Static(config) => match config
            .member_orgs_policy
            .as_ref()
            .and_then(|p| p.payload.as_ref())
        {
            Some(PolicyPayload::SignaturePolicy(envelope)) => envelope
                .identities
                .iter()
                .any(|principal| principal_msp_id(&principal.principal) == Some(local_msp_id)),
            None => false,
        },
    }
}

/// The MSP id a marshaled `MSPRole` (or `OrganizationUnit`) principal names.
fn principal_msp_id(principal: &[u8]) -> Option<&str> {
    // Both `MSPRole` and `OrganizationUnit` carry the MSP identifier in field 1.
    let (tag, rest) = principal.split_first()?;
    if *tag != 0x0a {
        return None;
    }
    let (len, rest) = read_varint(rest)?;
    let len = usize::try_from(len).ok()?;
    std::str::from_utf8(rest.get(..len)?).ok()
}

fn read_varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, &bytes[i + 1..]));
        }
    }
    None
}

/// Keeps, of a private read-write set, only the collections this peer's org is a member
/// of (what the peer may keep in its transient store and commit); `None` if nothing is
/// left. Collections that no longer resolve are dropped.
pub fn eligible_private_data(
    pvt: TxPvtReadWriteSet,
    snapshot: &LedgerSnapshot<'_>,
    channel: &ChannelConfig,
    local_msp_id: &str,
) -> Option<TxPvtReadWriteSet> {
    let mut pvt = pvt;
    for ns in &mut pvt.ns_pvt_rwset {
        let namespace = ns.namespace.clone();
        ns.collection_pvt_rwset.retain(|coll| {
            resolve(snapshot, channel, &namespace, &coll.collection_name)
                .is_ok_and(|c| org_is_member(&c, local_msp_id))
        });
    }
    pvt.ns_pvt_rwset
        .retain(|ns| !ns.collection_pvt_rwset.is_empty());
    (!pvt.ns_pvt_rwset.is_empty()).then_some(pvt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use weft_proto::common::{MspPrincipal, MspRole, SignaturePolicyEnvelope};
    use weft_proto::protos::CollectionPolicyConfig;

    fn member_policy(msp: &str) -> CollectionPolicyConfig {
        CollectionPolicyConfig {
            payload: Some(PolicyPayload::SignaturePolicy(SignaturePolicyEnvelope {
                version: 0,
                rule: None,
                identities: vec![MspPrincipal {
                    principal_classification: 0,
                    principal: MspRole {
                        msp_identifier: msp.into(),
                        role: 0,
                    }
                    .encode_to_vec(),
                }],
            })),
        }
    }

    #[test]
    fn membership_of_the_local_org() {
        assert!(org_is_member(
            &Collection::Implicit("Org1MSP".into()),
            "Org1MSP"
        ));
        assert!(!org_is_member(
            &Collection::Implicit("Org2MSP".into()),
            "Org1MSP"
        ));
        let config = StaticCollectionConfig {
            name: "c".into(),
            member_orgs_policy: Some(member_policy("Org2MSP")),
            ..Default::default()
        };
        assert!(org_is_member(
            &Collection::Static(config.clone()),
            "Org2MSP"
        ));
        assert!(!org_is_member(&Collection::Static(config), "Org1MSP"));
    }
}
