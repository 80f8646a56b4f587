//! Endorsement policy checks: Fabric's builtin validation plugin ("vscc", v20 logic with
//! key-level endorsement) and the lookup of each namespace's validation info.
//!
//! For one namespace of one transaction (`statebased.baseEvaluator` +
//! `policyCheckerV20`): every written key (public writes, public metadata writes, then
//! each collection's hashed writes, then each collection's hashed metadata writes) is
//! checked against its key-level policy (the committed `VALIDATION_PARAMETER` metadata
//! of a public key, a marshaled `SignaturePolicyEnvelope`) if it has one, else against
//! the collection's endorsement policy (hashed keys of a collection that has one) or the
//! chaincode's policy, each of those at most once per transaction; if no policy was
//! checked at all, the chaincode policy is. Signers are the endorsements, each a
//! `SignedData` over `proposal_response_payload ‖ endorser`; they are deserialized,
//! de-duplicated by identity and verified once per transaction.
//!
//! Whether an earlier transaction of the same block changed a key's metadata is not
//! decided here but in block order by the [validation module](super).

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use prost::Message;
use weft_common::channelconfig::ChannelConfig;
use weft_common::msp::{Identity, Principal, Role};
use weft_common::policy::{Policy, SignaturePolicy, SignedData, valid_identities};
use weft_proto::common::signature_policy::{NOutOf, Type as RuleType};
use weft_proto::common::{SignaturePolicy as Rule, SignaturePolicyEnvelope};
use weft_proto::protos::collection_config::Payload as CollectionPayload;
use weft_proto::protos::{ApplicationPolicy, CollectionConfigPackage, application_policy};

use super::definitions::{
    DEFAULT_VALIDATION_PLUGIN, DefinitionError, LIFECYCLE_NAMESPACE, chaincode_definition,
    channel_policy_reference, signature_policy,
};
use super::rwset::NsRwSet;
use super::{ValidationError, read_state};
use crate::ledger::private::{IMPLICIT_COLLECTION_PREFIX, hashed_namespace, hashed_state_key};
use crate::ledger::{StateView, VALIDATION_PARAMETER};

/// The channel policy `_lifecycle` writes must satisfy.
pub const LIFECYCLE_ENDORSEMENT_POLICY: &str = "/Channel/Application/LifecycleEndorsement";

/// How a namespace is validated, as resolved from the committed definitions.
#[derive(Debug)]
pub(crate) enum NsValidation {
    /// No usable definition: the transaction is INVALID_CHAINCODE for this reason.
    Undefined(String),
    /// The builtin plugin with these policies.
    Vscc(VsccInfo),
}

/// What the builtin plugin needs about a chaincode.
#[derive(Debug)]
pub(crate) struct VsccInfo {
    /// The chaincode endorsement policy.
    policy: CompiledPolicy,
    /// The definition's validation parameter (the policy of collections without one).
    parameter: Vec<u8>,
    /// The definition's collections (`None` for `_lifecycle`).
    collections: Option<CollectionConfigPackage>,
}

/// A policy compiled once; evaluation errors (undecodable, unknown path…) surface only
/// when it is evaluated, as in Fabric.
#[derive(Debug)]
enum CompiledPolicy {
    Signature(SignaturePolicy),
    Channel(Arc<Policy>),
    Invalid(String),
}

impl CompiledPolicy {
    /// Compiles a marshaled `ApplicationPolicy` against the channel.
    fn from_application_policy(bytes: &[u8], channel: &ChannelConfig) -> Self {
        let policy = match ApplicationPolicy::decode(bytes) {
            Ok(p) => p,
            Err(e) => {
                return CompiledPolicy::Invalid(format!(
                    "failed to unmarshal ApplicationPolicy bytes: {e}"
                ));
            }
        };
        match policy.r#type {
            Some(application_policy::Type::SignaturePolicy(envelope)) => {
                Self::from_envelope("signature policy", envelope, channel)
            }
            Some(application_policy::Type::ChannelConfigPolicyReference(path)) => {
                match channel.policy_manager().get(&path) {
                    Some(p) => CompiledPolicy::Channel(p.clone()),
                    None => {
                        CompiledPolicy::Invalid(format!("channel policy {path:?} does not exist"))
                    }
                }
            }
            None => CompiledPolicy::Invalid("unsupported policy type <nil>".into()),
        }
    }

    fn from_envelope(
        name: &str,
        envelope: SignaturePolicyEnvelope,
        channel: &ChannelConfig,
    ) -> Self {
        match SignaturePolicy::new(name, envelope, channel.msp_manager().clone()) {
            Ok(p) => CompiledPolicy::Signature(p),
            Err(e) => CompiledPolicy::Invalid(e.to_string()),
        }
    }

    fn evaluate(&self, signers: &Signers<'_>) -> Result<(), String> {
        match self {
            CompiledPolicy::Signature(p) => p
                .evaluate_identities(signers.identities())
                .map_err(|e| e.to_string()),
            CompiledPolicy::Channel(p) => p
                .evaluate_identities(signers.identities())
                .map_err(|e| e.to_string()),
            CompiledPolicy::Invalid(reason) => Err(reason.clone()),
        }
    }
}

/// The endorsements of one transaction as policy input, verified on first use.
pub(crate) struct Signers<'t> {
    signed: Vec<SignedData<'t>>,
    channel: &'t ChannelConfig,
    identities: OnceCell<Vec<Arc<Identity>>>,
}

impl<'t> Signers<'t> {
    /// The endorsements' signed data, checked with the channel's MSPs.
    pub fn new(signed: Vec<SignedData<'t>>, channel: &'t ChannelConfig) -> Self {
        Self {
            signed,
            channel,
            identities: OnceCell::new(),
        }
    }

    /// The valid, de-duplicated signers (Fabric's `SignatureSetToValidIdentities`).
    fn identities(&self) -> &[Arc<Identity>] {
        self.identities
            .get_or_init(|| valid_identities(&self.signed, self.channel.msp_manager()))
    }
}

/// The validation info of the namespaces of one block, resolved from committed state on
/// first use and shared by the validating threads.
pub(crate) struct Policies<'a> {
    channel: &'a ChannelConfig,
    state: &'a dyn StateView,
    cache: Mutex<HashMap<String, Arc<NsValidation>>>,
}

impl<'a> Policies<'a> {
    /// Resolves against `channel` and the committed `state`.
    pub fn new(channel: &'a ChannelConfig, state: &'a dyn StateView) -> Self {
        Self {
            channel,
            state,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// How namespace `ns` is validated (Fabric's `ValidationInfo` + `getCDataForCC`).
    pub fn namespace(&self, ns: &str) -> Result<Arc<NsValidation>, ValidationError> {
        if let Some(found) = self.lock().get(ns) {
            return Ok(found.clone());
        }
        let resolved = Arc::new(self.resolve(ns)?);
        self.lock().insert(ns.to_owned(), resolved.clone());
        Ok(resolved)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<NsValidation>>> {
        // The cache only ever holds complete entries: a poisoned lock is still usable.
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn resolve(&self, ns: &str) -> Result<NsValidation, ValidationError> {
        if ns == LIFECYCLE_NAMESPACE {
            return Ok(NsValidation::Vscc(VsccInfo {
                policy: CompiledPolicy::from_application_policy(
                    &self.lifecycle_policy(),
                    self.channel,
                ),
                parameter: Vec::new(),
                collections: None,
            }));
        }
        let definition = match chaincode_definition(self.state, ns) {
            Ok(Some(d)) => d,
            Ok(None) => {
                return Ok(NsValidation::Undefined(format!(
                    "chaincode {ns} is not defined"
                )));
            }
            Err(DefinitionError::State(e)) => return Err(ValidationError::State(e)),
            Err(source) => {
                return Err(ValidationError::Definition {
                    chaincode: ns.to_owned(),
                    source,
                });
            }
        };
        let info = definition.validation_info;
        if info.validation_plugin.is_empty() {
            return Ok(NsValidation::Undefined(format!(
                "chaincode definition for [{ns}] is invalid, plugin field must be set"
            )));
        }
        if info.validation_parameter.is_empty() {
            return Ok(NsValidation::Undefined(format!(
                "chaincode definition for [{ns}] is invalid, policy field must be set"
            )));
        }
        if info.validation_plugin != DEFAULT_VALIDATION_PLUGIN {
            return Err(ValidationError::UnsupportedValidationPlugin {
                chaincode: ns.to_owned(),
                plugin: info.validation_plugin,
            });
        }
        Ok(NsValidation::Vscc(VsccInfo {
            policy: CompiledPolicy::from_application_policy(
                &info.validation_parameter,
                self.channel,
            ),
            parameter: info.validation_parameter,
            collections: Some(definition.collections),
        }))
    }

    /// `_lifecycle`'s policy: a reference to `/Channel/Application/LifecycleEndorsement`
    /// if the channel has it, else a majority of the application orgs' members (Fabric's
    /// fallback for channels without that policy).
    fn lifecycle_policy(&self) -> Vec<u8> {
        if self
            .channel
            .policy_manager()
            .get(LIFECYCLE_ENDORSEMENT_POLICY)
            .is_some()
        {
            return channel_policy_reference(LIFECYCLE_ENDORSEMENT_POLICY).encode_to_vec();
        }
        let mspids: Vec<&str> = self
            .channel
            .application()
            .map(|a| {
                a.organizations
                    .values()
                    .map(|o| o.msp_id.as_str())
                    .collect()
            })
            .unwrap_or_default();
        let n = i32::try_from(mspids.len() / 2 + 1).unwrap_or(i32::MAX);
        signature_policy(members_n_out_of(n, &mspids)).encode_to_vec()
    }

    /// Runs the builtin plugin for namespace `ns` of a transaction whose rwset holds
    /// `rwset` for it. `Ok(Err(reason))` is an ENDORSEMENT_POLICY_FAILURE.
    pub fn check_namespace(
        &self,
        ns: &str,
        info: &VsccInfo,
        rwset: Option<&NsRwSet>,
        signers: &Signers<'_>,
    ) -> Result<Result<(), String>, ValidationError> {
        let mut checker = Checker {
            info,
            policies: self,
            some_checked: false,
            checked: HashSet::new(),
        };
        for written in rwset.map(NsRwSet::written_keys).unwrap_or_default() {
            let key_policy = self.key_level_policy(ns, &written.collection, &written.key)?;
            let result = match key_policy {
                Some(envelope_bytes) => {
                    let result = evaluate_key_policy(&envelope_bytes, self.channel, signers)
                        .map_err(|e| {
                            format!(
                                "validation of key {:?} (collection {:?}) failed: {e}",
                                String::from_utf8_lossy(&written.key),
                                written.collection
                            )
                        });
                    checker.some_checked |= result.is_ok();
                    result
                }
                None => checker.check_if_not_checked(ns, &written.collection, signers),
            };
            if result.is_err() {
                return Ok(result);
            }
        }
        if !checker.some_checked {
            return Ok(info.policy.evaluate(signers).map_err(|e| {
                format!("validation of endorsement policy for chaincode {ns} failed: {e}")
            }));
        }
        Ok(Ok(()))
    }

    /// The committed `VALIDATION_PARAMETER` of a public key, if non-empty.
    fn key_level_policy(
        &self,
        ns: &str,
        collection: &str,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, ValidationError> {
        let committed = if collection.is_empty() {
            let Ok(key) = std::str::from_utf8(key) else {
                return Ok(None);
            };
            read_state(self.state, ns, key)?
        } else {
            read_state(
                self.state,
                &hashed_namespace(ns, collection),
                &hashed_state_key(key),
            )?
        };
        Ok(committed
            .and_then(|v| v.metadata.get(VALIDATION_PARAMETER).cloned())
            .filter(|p| !p.is_empty()))
    }

    /// The endorsement policy of collection `collection` of a chaincode (Fabric's
    /// `CollectionValidationInfo`): an implicit org collection uses the org's
    /// `Endorsement` policy (or any member of the org if the channel has none); a static
    /// collection its own policy, or the chaincode's validation parameter. An empty
    /// result means "use the chaincode policy".
    fn collection_policy(&self, info: &VsccInfo, collection: &str) -> Result<Vec<u8>, String> {
        if let Some(mspid) = collection.strip_prefix(IMPLICIT_COLLECTION_PREFIX) {
            let org = self
                .channel
                .application()
                .and_then(|a| a.org_by_msp_id(mspid))
                .ok_or_else(|| format!("no org found in channel with MSPID '{mspid}'"))?;
            let path = format!("/Channel/Application/{}/Endorsement", org.name);
            if self.channel.policy_manager().get(&path).is_some() {
                return Ok(channel_policy_reference(&path).encode_to_vec());
            }
            return Ok(signature_policy(members_n_out_of(1, &[mspid])).encode_to_vec());
        }
        let found = info
            .collections
            .iter()
            .flat_map(|p| &p.config)
            .filter_map(|c| {
                c.payload
                    .as_ref()
                    .map(|CollectionPayload::StaticCollectionConfig(s)| s)
            })
            .find(|s| s.name == collection)
            .ok_or_else(|| format!("no such collection '{collection}'"))?;
        Ok(match &found.endorsement_policy {
            Some(policy) => policy.encode_to_vec(),
            None => info.parameter.clone(),
        })
    }
}

/// Fabric's `policyCheckerV20` for one namespace of one transaction.
struct Checker<'c, 'a> {
    info: &'c VsccInfo,
    policies: &'c Policies<'a>,
    /// Whether any policy (key-level, collection or chaincode) was satisfied.
    some_checked: bool,
    /// Collections whose policy was satisfied ("" for the chaincode policy).
    checked: HashSet<String>,
}

impl Checker<'_, '_> {
    fn check_if_not_checked(
        &mut self,
        ns: &str,
        collection: &str,
        signers: &Signers<'_>,
    ) -> Result<(), String> {
        if !collection.is_empty() {
            if self.checked.contains(collection) {
                return Ok(());
            }
            let policy = self.policies.collection_policy(self.info, collection)?;
            if !policy.is_empty() {
                CompiledPolicy::from_application_policy(&policy, self.policies.channel)
                    .evaluate(signers)
                    .map_err(|e| {
                        format!(
                            "validation of endorsement policy for collection {collection} \
                             chaincode {ns} failed: {e}"
                        )
                    })?;
                self.checked.insert(collection.to_owned());
                self.some_checked = true;
                return Ok(());
            }
        }
        if self.checked.contains("") {
            return Ok(());
        }
        self.info.policy.evaluate(signers).map_err(|e| {
            format!("validation of endorsement policy for chaincode {ns} failed: {e}")
        })?;
        self.checked.insert(String::new());
        self.some_checked = true;
        Ok(())
    }
}

/// Evaluates a key-level policy (a marshaled `SignaturePolicyEnvelope`).
fn evaluate_key_policy(
    bytes: &[u8],
    channel: &ChannelConfig,
    signers: &Signers<'_>,
) -> Result<(), String> {
    let envelope = SignaturePolicyEnvelope::decode(bytes)
        .map_err(|e| format!("could not unmarshal signature policy envelope: {e}"))?;
    CompiledPolicy::from_envelope("key-level validation parameter", envelope, channel)
        .evaluate(signers)
}

/// `n` out of the members of `mspids` (Fabric's `policydsl.SignedByNOutOfGivenRole`
/// with role MEMBER).
fn members_n_out_of(n: i32, mspids: &[&str]) -> SignaturePolicyEnvelope {
    let identities = mspids
        .iter()
        .map(|id| Principal::encode_role(id, Role::Member))
        .collect();
    let rules = (0..mspids.len())
        .map(|i| Rule {
            r#type: Some(RuleType::SignedBy(i32::try_from(i).unwrap_or(i32::MAX))),
        })
        .collect();
    SignaturePolicyEnvelope {
        version: 0,
        rule: Some(Rule {
            r#type: Some(RuleType::NOutOf(NOutOf { n, rules })),
        }),
        identities,
    }
}
