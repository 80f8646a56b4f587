//! `_lifecycle`, the system chaincode that installs packages and defines chaincodes on
//! channels, as Fabric v2.5 implements it (`core/chaincode/lifecycle`).
//!
//! Every function takes two arguments, its name and its marshaled
//! `lifecycle.<Function>Args`, and answers with a marshaled `<Function>Result`
//! (`InstallChaincode`, `QueryInstalledChaincode(s)`, `GetInstalledChaincodePackage`,
//! `ApproveChaincodeDefinitionForMyOrg`, `QueryApprovedChaincodeDefinition`,
//! `CheckCommitReadiness`, `CommitChaincodeDefinition`, `QueryChaincodeDefinition(s)`).
//! On a channel it runs in the proposal's transaction simulator: its writes become the
//! proposal's read-write set, endorsed like an application chaincode's. The install
//! functions are channel-less and answer directly.
//!
//! State (Fabric's layout, [`serializer`]): the committed definition in public state under
//! `namespaces/…/<name>`; each org's approval in its implicit collection
//! `_implicit_org_<MSPID>`: `ChaincodeParameters` under `namespaces/…/<name>#<seq>` and
//! `ChaincodeLocalPackage{PackageID}` under `chaincode-sources/…/<name>#<seq>`. Orgs see
//! each other's approvals only through the hashes every peer holds, so an approval cannot
//! be forged by another org (the validator requires an implicit collection's writes to be
//! endorsed by its org).
//!
//! The chaincode support learns which package this org approved for a committed
//! definition with [`local_approval`] (Fabric's lifecycle cache), from the committed hashes.

mod functions;
pub mod serializer;
pub mod state;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use weft_common::protoutil::UnpackedProposal;
use weft_proto::lifecycle::StateData;
use weft_proto::lifecycle::state_data::Type as StateDataType;
use weft_proto::protos::Response;

use self::functions::{Invocation, lifecycle_v20};
use self::serializer::{
    CHAINCODE_SOURCES_PREFIX, ChaincodeLocalPackage, ChaincodeParameters, FieldValue, OpaqueState,
    PACKAGE_ID_FIELD, StateError, encode_field, field_key, private_name,
};
use self::state::{SnapshotOpaque, SnapshotPublic};
use super::{error, success};
use crate::acl::AclProvider;
use crate::chaincode::ChaincodeSupport;
use crate::channel::Channel;
use crate::channels::Channels;
use crate::ledger::private::{hash, implicit_collection};
use crate::ledger::{LedgerSnapshot, TxSimulator};
use crate::validation::definitions::{
    CHAINCODE_DEFINITION_TYPE, ChaincodeDefinition, NAMESPACES_PREFIX, chaincode_definition,
};

pub use crate::validation::definitions::LIFECYCLE_NAMESPACE;

/// The status of Fabric's "not found" answers (an undefined namespace).
pub const NOT_FOUND: i32 = 404;

/// What `_lifecycle` needs from the peer.
#[derive(Debug, Clone)]
pub struct LifecycleContext {
    /// The joined channels (for the references of installed packages).
    pub channels: Arc<Channels>,
    /// The peer's ACLs (`_lifecycle/<Function>` resources).
    pub acl: AclProvider,
    /// This peer's org.
    pub msp_id: String,
    /// The chaincode support: the installed packages and their builds. `None` on a peer
    /// that runs no chaincode (install functions then fail).
    pub support: Option<Arc<ChaincodeSupport>>,
}

impl LifecycleContext {
    fn support(&self) -> Result<&Arc<ChaincodeSupport>, LifecycleError> {
        self.support.as_ref().ok_or_else(|| {
            LifecycleError::Invalid("chaincode support is not available on this peer".into())
        })
    }
}

/// Why a `_lifecycle` function failed, in Fabric's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    /// The chaincode has no committed definition (Fabric's `ErrNamespaceNotDefined`,
    /// answered with status 404 when it is not wrapped).
    #[error("namespace {0} is not defined")]
    NamespaceNotDefined(String),
    /// A state access failed; `context` is Fabric's message chain above it.
    #[error("{context}: {source}")]
    State {
        /// What was being done.
        context: String,
        /// The failure.
        source: StateError,
    },
    /// Any other failure.
    #[error("{0}")]
    Invalid(String),
}

impl LifecycleError {
    /// The error under `message` (Go's `errors.WithMessage`): `message: self`.
    pub fn wrap(self, message: impl std::fmt::Display) -> Self {
        match self {
            LifecycleError::State { context, source } => LifecycleError::State {
                context: format!("{message}: {context}"),
                source,
            },
            other => LifecycleError::Invalid(format!("{message}: {other}")),
        }
    }
}

/// Invokes `_lifecycle` for `proposal`: on `channel` (through `simulator`, whose
/// results the caller endorses) or channel-less. The answer is a chaincode `Response`:
/// 200 with the marshaled result, 404 for an undefined chaincode, else 500 with Fabric's
/// message.
pub async fn invoke(
    ctx: &LifecycleContext,
    channel: Option<&Channel>,
    simulator: Option<&mut TxSimulator>,
    proposal: &UnpackedProposal,
) -> Response {
    let args = &proposal.input.args;
    if args.is_empty() {
        return error("lifecycle scc must be invoked with arguments");
    }
    if args.len() != 2 {
        return error(format!(
            "lifecycle scc operations require exactly two arguments but received {}",
            args.len()
        ));
    }
    let channel_id = proposal.channel_id().to_owned();
    let config = match (channel_id.is_empty(), channel) {
        (true, _) => None,
        (false, None) => {
            return error(format!(
                "could not get channelconfig for channel '{channel_id}'"
            ));
        }
        (false, Some(channel)) => {
            let config = channel.config();
            match config.application() {
                None => {
                    return error(format!(
                        "could not get application config for channel '{channel_id}'"
                    ));
                }
                Some(app) if !lifecycle_v20(app) => {
                    return error(format!(
                        "cannot use new lifecycle for channel '{channel_id}' as it does not have the required capabilities enabled"
                    ));
                }
                Some(_) => {}
            }
            Some(config)
        }
    };
    let function = String::from_utf8_lossy(&args[0]).into_owned();
    let resource = format!("{LIFECYCLE_NAMESPACE}/{function}");
    if ctx.acl.policy(&resource, config.as_deref()).is_none() {
        return error(format!(
            "Failed to authorize invocation due to failed ACL check: Unmapped policy for {resource}"
        ));
    }
    if let Err(e) = ctx
        .acl
        .check(&resource, config.as_deref(), &proposal.signed_data())
    {
        return error(format!(
            "Failed to authorize invocation due to failed ACL check: {e}"
        ));
    }
    let mut invocation = Invocation {
        ctx,
        channel_id,
        config,
        simulator,
    };
    match invocation.dispatch(&function, &args[1]).await {
        Ok(result) => success(result),
        Err(LifecycleError::NamespaceNotDefined(name)) => Response {
            status: NOT_FOUND,
            message: LifecycleError::NamespaceNotDefined(name).to_string(),
            payload: Vec::new(),
        },
        Err(e) => error(format!(
            "failed to invoke backing implementation of '{function}': {e}"
        )),
    }
}

/// What this org approved for a committed chaincode definition (Fabric's lifecycle cache
/// entry: `Approved` and `InstallInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalApproval {
    /// This org's implicit collection does not hold the definition's parameters at its
    /// sequence.
    NotApproved,
    /// Approved, with the package this org named for it: `None` when it named none (or
    /// an empty one), or when the named package is neither held in clear by this peer nor
    /// installed.
    Approved(Option<String>),
}

/// This org's approval of `definition` of chaincode `name`, read from the committed
/// hashes of its implicit collection in `snapshot` (every peer of the org holds them).
/// The package id comes from the private value when this peer holds it, else from the
/// installed package (`installed`) whose id hashes to the committed hash, as Fabric's
/// cache matches them.
pub fn local_approval(
    snapshot: &LedgerSnapshot<'_>,
    msp_id: &str,
    name: &str,
    definition: &ChaincodeDefinition,
    installed: impl FnOnce() -> Vec<String>,
) -> Result<LocalApproval, LifecycleError> {
    let private = private_name(name, definition.sequence);
    let mut org = SnapshotOpaque::new(snapshot, implicit_collection(msp_id));
    let parameters = ChaincodeParameters::of(definition);
    if !serializer::is_serialized(NAMESPACES_PREFIX, &private, &parameters, &mut org)? {
        return Ok(LocalApproval::NotApproved);
    }
    if !serializer::is_metadata_serialized::<ChaincodeLocalPackage>(
        CHAINCODE_SOURCES_PREFIX,
        &private,
        &mut org,
    )? {
        return Ok(LocalApproval::Approved(None));
    }
    let key = field_key(CHAINCODE_SOURCES_PREFIX, &private, PACKAGE_ID_FIELD);
    let state_error = |source| LifecycleError::State {
        context: format!("could not check opaque org state for chaincode source hash for '{name}'"),
        source,
    };
    let Some(stored) = org.get_state_hash(&key).map_err(state_error)? else {
        return Ok(LocalApproval::Approved(None));
    };
    let hash_of = |id: &str| hash(&encode_field(&FieldValue::String(id.to_owned())));
    let in_clear = org
        .get_private(&key)
        .map_err(state_error)?
        .and_then(|bytes| match prost::Message::decode(bytes.as_slice()) {
            Ok(StateData {
                r#type: Some(StateDataType::String(id)),
            }) => Some(id),
            _ => None,
        });
    let package = match in_clear {
        Some(id) if hash_of(&id) == stored => Some(id),
        _ => installed().into_iter().find(|id| hash_of(id) == stored),
    };
    Ok(LocalApproval::Approved(package.filter(|id| !id.is_empty())))
}

/// Package id → channel → the `(chaincode, version)` definitions using the package.
pub(crate) type References = HashMap<String, BTreeMap<String, Vec<(String, String)>>>;

/// For each package this org approved for a committed definition on a joined channel:
/// channel → `(chaincode, version)` (Fabric's installed-chaincode references).
pub(crate) fn installed_references(ctx: &LifecycleContext) -> Result<References, LifecycleError> {
    let installed: Vec<String> = match &ctx.support {
        Some(support) => support
            .packages()
            .list()
            .map_err(|e| LifecycleError::Invalid(e.to_string()))?
            .into_iter()
            .map(|p| p.package_id)
            .collect(),
        None => Vec::new(),
    };
    let mut references: HashMap<String, BTreeMap<String, Vec<(String, String)>>> = HashMap::new();
    for channel in ctx.channels.all() {
        let snapshot = channel
            .ledger()
            .snapshot()
            .map_err(|e| LifecycleError::State {
                context: format!("could not read channel '{}'", channel.id()),
                source: e.into(),
            })?;
        let all = serializer::deserialize_all_metadata(
            NAMESPACES_PREFIX,
            &mut SnapshotPublic::new(&snapshot),
        )?;
        for (name, metadata) in all {
            if metadata.datatype != CHAINCODE_DEFINITION_TYPE {
                continue;
            }
            let Some(definition) = chaincode_definition(&snapshot, &name)
                .map_err(|e| LifecycleError::Invalid(e.to_string()))?
            else {
                continue;
            };
            let approval = local_approval(&snapshot, &ctx.msp_id, &name, &definition, || {
                installed.clone()
            })?;
            if let LocalApproval::Approved(Some(package_id)) = approval {
                references
                    .entry(package_id)
                    .or_default()
                    .entry(channel.id().to_owned())
                    .or_default()
                    .push((name, definition.endorsement_info.version.clone()));
            }
        }
    }
    Ok(references)
}
