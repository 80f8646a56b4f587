//! Access control for the peer's resources, as Fabric's ACL provider decides it.
//!
//! A resource (`peer/Propose`, `event/Block`, `qscc/GetChainInfo`, `cscc/JoinChain`…)
//! maps to a policy: a channel policy path, overridable per channel by the `ACLs` value
//! of the channel config, or, for channel-less operations, the local MSP's admins or
//! members. The defaults are Fabric's.

use std::sync::Arc;

use weft_common::channelconfig::ChannelConfig;
use weft_common::msp::{Identity, Msp, Principal, Role};
use weft_common::policy::{PolicyError, SignedData};

/// Channel Readers.
pub const CHANNEL_READERS: &str = "/Channel/Application/Readers";
/// Channel Writers.
pub const CHANNEL_WRITERS: &str = "/Channel/Application/Writers";

/// Resource names of the peer's ACLs.
pub mod resources {
    /// Sending a proposal to a chaincode.
    pub const PEER_PROPOSE: &str = "peer/Propose";
    /// Chaincode-to-chaincode invocation.
    pub const PEER_CHAINCODE_TO_CHAINCODE: &str = "peer/ChaincodeToChaincode";
    /// Deliver (full blocks, and blocks with private data).
    pub const EVENT_BLOCK: &str = "event/Block";
    /// DeliverFiltered.
    pub const EVENT_FILTERED_BLOCK: &str = "event/FilteredBlock";
    /// Gateway CommitStatus.
    pub const GATEWAY_COMMIT_STATUS: &str = "gateway/CommitStatus";
    /// Gateway ChaincodeEvents.
    pub const GATEWAY_CHAINCODE_EVENTS: &str = "gateway/ChaincodeEvents";
    /// Joining a channel.
    pub const CSCC_JOIN_CHAIN: &str = "cscc/JoinChain";
    /// Listing the channels the peer joined.
    pub const CSCC_GET_CHANNELS: &str = "cscc/GetChannels";
}

/// What a resource's access is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclPolicy {
    /// A policy of the channel config, by absolute path.
    Channel(String),
    /// An admin of the peer's own MSP.
    LocalAdmins,
    /// A member of the peer's own MSP.
    LocalMembers,
}

/// Fabric's default policy of `resource`, if it is a known resource.
pub fn default_policy(resource: &str) -> Option<AclPolicy> {
    let channel = |path: &str| Some(AclPolicy::Channel(path.to_owned()));
    match resource {
        "peer/Propose" | "peer/ChaincodeToChaincode" => channel(CHANNEL_WRITERS),
        "event/Block"
        | "event/FilteredBlock"
        | "gateway/CommitStatus"
        | "gateway/ChaincodeEvents"
        | "cscc/GetConfigBlock"
        | "cscc/GetChannelConfig" => channel(CHANNEL_READERS),
        r if r.starts_with("qscc/") => channel(CHANNEL_READERS),
        "_lifecycle/CommitChaincodeDefinition"
        | "_lifecycle/QueryChaincodeDefinition"
        | "_lifecycle/QueryChaincodeDefinitions"
        | "_lifecycle/CheckCommitReadiness" => channel(CHANNEL_WRITERS),
        "_lifecycle/InstallChaincode"
        | "_lifecycle/QueryInstalledChaincode"
        | "_lifecycle/QueryInstalledChaincodes"
        | "_lifecycle/GetInstalledChaincodePackage"
        | "_lifecycle/ApproveChaincodeDefinitionForMyOrg"
        | "_lifecycle/QueryApprovedChaincodeDefinition"
        | "cscc/JoinChain"
        | "cscc/JoinChainBySnapshot"
        | "cscc/JoinBySnapshotStatus" => Some(AclPolicy::LocalAdmins),
        "cscc/GetChannels" => Some(AclPolicy::LocalMembers),
        _ => None,
    }
}

/// Why access was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AclError {
    /// The resource has no policy (neither a default nor a channel override).
    #[error("unknown resource {0:?}")]
    UnknownResource(String),
    /// A channel-scoped resource was checked without a channel.
    #[error("resource {0:?} needs a channel")]
    NeedsChannel(String),
    /// The signed request does not satisfy the policy; `reason` is Fabric's message.
    #[error("{reason}")]
    Denied {
        /// The resource.
        resource: String,
        /// Why, in Fabric's words (`core/policy`, `core/aclmgmt`).
        reason: String,
    },
}

/// Decides access to the peer's resources.
#[derive(Debug, Clone)]
pub struct AclProvider {
    local_msp: Arc<Msp>,
}

impl AclProvider {
    /// A provider whose local checks use `local_msp` (the peer's own MSP).
    pub fn new(local_msp: Arc<Msp>) -> Self {
        Self { local_msp }
    }

    /// The MSP id of the peer's own org.
    pub fn local_msp_id(&self) -> &str {
        self.local_msp.id()
    }

    /// The policy of `resource` on `channel` (its `ACLs` override, else the default).
    pub fn policy(&self, resource: &str, channel: Option<&ChannelConfig>) -> Option<AclPolicy> {
        channel
            .and_then(ChannelConfig::application)
            .and_then(|app| app.acls.get(resource))
            .map(|path| AclPolicy::Channel(path.clone()))
            .or_else(|| default_policy(resource))
    }

    /// Checks that `signed` may use `resource`, on `channel` if the resource is
    /// channel-scoped.
    pub fn check(
        &self,
        resource: &str,
        channel: Option<&ChannelConfig>,
        signed: &SignedData<'_>,
    ) -> Result<(), AclError> {
        self.check_signer(resource, channel, signed, None)
    }

    /// [`Self::check`] for a signer whose signature over `signed` the caller has already
    /// verified, as `identity` deserialized by the channel's MSPs (the endorser's creator
    /// check): channel policies are evaluated over the identity without verifying the
    /// signature a second time.
    pub fn check_verified(
        &self,
        resource: &str,
        channel: &ChannelConfig,
        signed: &SignedData<'_>,
        identity: &Arc<Identity>,
    ) -> Result<(), AclError> {
        self.check_signer(resource, Some(channel), signed, Some(identity))
    }

    fn check_signer(
        &self,
        resource: &str,
        channel: Option<&ChannelConfig>,
        signed: &SignedData<'_>,
        verified: Option<&Arc<Identity>>,
    ) -> Result<(), AclError> {
        let denied = |reason: String| AclError::Denied {
            resource: resource.to_owned(),
            reason,
        };
        let overridden = channel
            .and_then(ChannelConfig::application)
            .is_some_and(|app| app.acls.contains_key(resource));
        let local = |role: Role, name: &str| {
            self.check_local(signed, role).map_err(|e| {
                denied(format!(
                    "Failed verifying that proposal's creator satisfies local MSP principal during channelless check policy with policy [{name}]: [{e}]"
                ))
            })
        };
        match self
            .policy(resource, channel)
            .ok_or_else(|| AclError::UnknownResource(resource.to_owned()))?
        {
            AclPolicy::Channel(path) => {
                let channel = channel.ok_or_else(|| AclError::NeedsChannel(resource.to_owned()))?;
                let manager = channel.policy_manager();
                let evaluated = match verified {
                    Some(identity) => manager
                        .get(&path)
                        .ok_or_else(|| PolicyError::UnknownPolicy { path: path.clone() })
                        .and_then(|policy| {
                            policy.evaluate_identities(std::slice::from_ref(identity))
                        }),
                    None => manager.evaluate(&path, std::slice::from_ref(signed)),
                };
                evaluated.map_err(|e| {
                        let detail = match e {
                            PolicyError::NotSatisfied { detail, .. } => detail,
                            other => other.to_string(),
                        };
                        denied(if overridden {
                            format!(
                                "failed evaluating policy on signed data during check policy [{path}]: [{detail}]"
                            )
                        } else {
                            format!(
                                "Failed evaluating policy on signed data during check policy on channel [{}] with policy [{path}]: [{detail}]",
                                channel.channel_id()
                            )
                        })
                    })
            }
            AclPolicy::LocalAdmins => local(Role::Admin, "Admins"),
            AclPolicy::LocalMembers => local(Role::Member, "Members"),
        }
    }

    /// The signer is a valid identity of the local MSP with `role`, and the signature
    /// verifies.
    fn check_local(&self, signed: &SignedData<'_>, role: Role) -> Result<(), String> {
        let identity = self
            .local_msp
            .deserialize_identity(&signed.identity)
            .map_err(|e| format!("the signer is not of the local MSP: {e}"))?;
        self.local_msp
            .validate(&identity)
            .map_err(|e| format!("invalid identity: {e}"))?;
        self.local_msp
            .satisfies(&identity, &Principal::role(self.local_msp.id(), role))
            .map_err(|e| format!("the signer is not a local {role:?}: {e}"))?;
        identity
            .verify(&signed.data, &signed.signature)
            .map_err(|e| format!("bad signature: {e}"))
    }
}
