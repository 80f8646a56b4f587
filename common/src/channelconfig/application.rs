//! The `/Channel/Application` group: application orgs, anchor peers, ACLs.

use std::collections::BTreeMap;

use weft_proto::protos::{AcLs, AnchorPeers};

use super::{Capabilities, ConfigError, Group, MspCollector, keys};

/// The application section of a channel config.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationConfig {
    /// Application capabilities (V2_0, V2_5…).
    pub capabilities: Capabilities,
    /// ACL overrides: resource (e.g. `peer/Propose`) → absolute policy path. Relative
    /// references are made absolute under `/Channel/Application/`, empty ones dropped,
    /// as Fabric does.
    pub acls: BTreeMap<String, String>,
    /// Application orgs by group name.
    pub organizations: BTreeMap<String, ApplicationOrg>,
}

/// An application (peer) organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationOrg {
    /// The org's group name (may differ from the MSP ID).
    pub name: String,
    /// Its MSP ID.
    pub msp_id: String,
    /// Its anchor peers.
    pub anchor_peers: Vec<AnchorPeer>,
}

/// An anchor peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorPeer {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: i32,
}

/// Application capabilities that allow an `ACLs` value.
const ACL_CAPABILITIES: &[&str] = &["V1_2", "V1_3", "V1_4_2", "V2_0", "V2_5"];

impl ApplicationConfig {
    pub(crate) fn parse(group: &Group<'_>, msps: &mut MspCollector) -> Result<Self, ConfigError> {
        group.allow_values(&[keys::CAPABILITIES, keys::ACLS])?;
        let capabilities = group.capabilities()?;
        if group.has_value(keys::ACLS) && !capabilities.any_of(ACL_CAPABILITIES) {
            return Err(ConfigError::AclsWithoutCapability);
        }
        let acls = group
            .optional::<AcLs>(keys::ACLS)?
            .map(|a| a.acls)
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, resource)| !resource.policy_ref.is_empty())
            .map(|(name, resource)| {
                let reference = if resource.policy_ref.starts_with('/') {
                    resource.policy_ref
                } else {
                    format!(
                        "/{}/{}/{}",
                        keys::CHANNEL_GROUP,
                        keys::APPLICATION_GROUP,
                        resource.policy_ref
                    )
                };
                (name, reference)
            })
            .collect();

        let mut organizations = BTreeMap::new();
        for (name, org) in group.children() {
            org.forbid_groups()?;
            org.allow_values(&[keys::MSP, keys::ANCHOR_PEERS])?;
            let msp_id = msps.add(&org, &name)?;
            let anchor_peers = org
                .optional::<AnchorPeers>(keys::ANCHOR_PEERS)?
                .map(|a| a.anchor_peers)
                .unwrap_or_default()
                .into_iter()
                .map(|p| AnchorPeer {
                    host: p.host,
                    port: p.port,
                })
                .collect();
            organizations.insert(
                name.clone(),
                ApplicationOrg {
                    name,
                    msp_id,
                    anchor_peers,
                },
            );
        }
        Ok(Self {
            capabilities,
            acls,
            organizations,
        })
    }

    /// The org whose MSP ID is `msp_id`.
    pub fn org_by_msp_id(&self, msp_id: &str) -> Option<&ApplicationOrg> {
        self.organizations.values().find(|o| o.msp_id == msp_id)
    }
}
