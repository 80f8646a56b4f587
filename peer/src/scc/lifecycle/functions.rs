//! The `_lifecycle` functions (Fabric's `scc.go` `Invocation` methods and `lifecycle.go`
//! `ExternalFunctions`), each taking its protobuf arguments and returning its protobuf
//! result. Sequence rules, defaults, input validation and error texts are Fabric v2.5's.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use prost::Message;
use weft_common::channelconfig::{ApplicationConfig, ChannelConfig};
use weft_common::policy::SignaturePolicy as CompiledSignaturePolicy;
use weft_proto::common::msp_principal::Classification;
use weft_proto::common::signature_policy::Type as RuleType;
use weft_proto::common::{MspRole, OrganizationUnit, SignaturePolicy};
use weft_proto::lifecycle::chaincode_source::{Local, Type as SourceType, Unavailable};
use weft_proto::lifecycle::{
    ApproveChaincodeDefinitionForMyOrgArgs, ApproveChaincodeDefinitionForMyOrgResult,
    ChaincodeEndorsementInfo, ChaincodeSource, ChaincodeValidationInfo, CheckCommitReadinessArgs,
    CheckCommitReadinessResult, CommitChaincodeDefinitionArgs, CommitChaincodeDefinitionResult,
    GetInstalledChaincodePackageArgs, GetInstalledChaincodePackageResult, InstallChaincodeArgs,
    InstallChaincodeResult, QueryApprovedChaincodeDefinitionArgs,
    QueryApprovedChaincodeDefinitionResult, QueryChaincodeDefinitionArgs,
    QueryChaincodeDefinitionResult, QueryChaincodeDefinitionsResult, QueryInstalledChaincodeArgs,
    QueryInstalledChaincodeResult, QueryInstalledChaincodesResult,
    query_chaincode_definitions_result, query_installed_chaincode_result,
    query_installed_chaincodes_result,
};
use weft_proto::protos::collection_config::Payload as CollectionPayload;
use weft_proto::protos::collection_policy_config::Payload as PolicyPayload;
use weft_proto::protos::{CollectionConfigPackage, StaticCollectionConfig};

use super::serializer::{
    self, CHAINCODE_SOURCES_PREFIX, ChaincodeLocalPackage, ChaincodeParameters, private_name,
};
use super::state::{PrivateState, PublicState};
use super::{LifecycleContext, LifecycleError, installed_references};
use crate::chaincode::package::{ChaincodePackage, package_id};
use crate::ledger::TxSimulator;
use crate::ledger::private::implicit_collection;
use crate::validation::definitions::{
    CHAINCODE_DEFINITION_TYPE, ChaincodeDefinition, DEFAULT_ENDORSEMENT_PLUGIN,
    DEFAULT_ENDORSEMENT_POLICY_REF, DEFAULT_VALIDATION_PLUGIN, NAMESPACES_PREFIX,
    channel_policy_reference,
};

/// Chaincode names that belong to system chaincodes (Fabric's `systemChaincodeNames`).
const SYSTEM_CHAINCODE_NAMES: [&str; 5] = ["cscc", "escc", "lscc", "qscc", "vscc"];
/// The legacy lifecycle's namespace, read (and found empty) when a definition is new, as
/// Fabric's deployed-chaincode info provider does.
const LSCC_NAMESPACE: &str = "lscc";

/// One `_lifecycle` invocation: the peer's context, the channel (if any) and the
/// transaction's simulator (on a channel).
pub(super) struct Invocation<'a> {
    pub(super) ctx: &'a LifecycleContext,
    pub(super) channel_id: String,
    pub(super) config: Option<Arc<ChannelConfig>>,
    pub(super) simulator: Option<&'a mut TxSimulator>,
}

type Outcome = Result<Vec<u8>, LifecycleError>;

fn decode<M: Message + Default>(input: &[u8]) -> Result<M, LifecycleError> {
    M::decode(input).map_err(|e| {
        LifecycleError::Invalid(format!(
            "could not decode input arg for *lifecycle.Invocation: {e}"
        ))
    })
}

/// Fabric's chaincode name rule `^[a-zA-Z0-9]+([-_][a-zA-Z0-9]+)*$`.
pub(super) fn valid_chaincode_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .split(['-', '_'])
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Fabric's chaincode version rule `^[A-Za-z0-9_.+-]+$`.
pub(super) fn valid_chaincode_version(version: &str) -> bool {
    !version.is_empty()
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.+-".contains(&b))
}

/// Fabric's collection name rule `^[A-Za-z0-9-]+([A-Za-z0-9_-]+)*$`.
fn valid_collection_name(name: &str) -> bool {
    name.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Invocation<'_> {
    /// Dispatches `function` with its marshaled arguments.
    pub(super) async fn dispatch(&mut self, function: &str, input: &[u8]) -> Outcome {
        match function {
            "InstallChaincode" => self.install(decode(input)?).await,
            "QueryInstalledChaincode" => self.query_installed(decode(input)?),
            "QueryInstalledChaincodes" => self.query_installed_all(),
            "GetInstalledChaincodePackage" => self.installed_package(decode(input)?),
            "ApproveChaincodeDefinitionForMyOrg" => self.approve(decode(input)?),
            "QueryApprovedChaincodeDefinition" => self.query_approved(decode(input)?),
            "CheckCommitReadiness" => self.check_commit_readiness(decode(input)?),
            "CommitChaincodeDefinition" => self.commit(decode(input)?),
            "QueryChaincodeDefinition" => self.query_definition(decode(input)?),
            "QueryChaincodeDefinitions" => self.query_definitions(),
            other => Err(LifecycleError::Invalid(format!(
                "receiver *lifecycle.Invocation.{other} does not exist"
            ))),
        }
    }

    fn config(&self) -> Result<Arc<ChannelConfig>, LifecycleError> {
        self.config.clone().ok_or_else(|| {
            LifecycleError::Invalid(format!(
                "could not get channelconfig for channel '{}'",
                self.channel_id
            ))
        })
    }

    fn simulator(&mut self) -> Result<&mut TxSimulator, LifecycleError> {
        let channel_id = &self.channel_id;
        self.simulator.as_deref_mut().ok_or_else(|| {
            LifecycleError::Invalid(format!(
                "could not get channelconfig for channel '{channel_id}'"
            ))
        })
    }

    /// The application orgs' MSP ids (Fabric's `createOpaqueStates` precondition).
    fn org_msp_ids(&self) -> Result<Vec<String>, LifecycleError> {
        let no_app = || {
            LifecycleError::Invalid(format!(
                "no application config for channel '{}'",
                self.channel_id
            ))
        };
        let config = self.config.as_ref().ok_or_else(no_app)?;
        let app = config.application().ok_or_else(no_app)?;
        Ok(app
            .organizations
            .values()
            .map(|org| org.msp_id.clone())
            .collect())
    }

    // ---- channel-less: the peer's installed packages --------------------------------

    async fn install(&mut self, args: InstallChaincodeArgs) -> Outcome {
        let support = self.ctx.support()?;
        let bytes = args.chaincode_install_package;
        let package = ChaincodePackage::parse(&bytes).map_err(|e| {
            LifecycleError::Invalid(format!(
                "could not parse as a chaincode install package: {e}"
            ))
        })?;
        let id = package_id(&package.metadata.label, &bytes);
        if support.packages().contains(&id) {
            return Err(LifecycleError::Invalid(format!(
                "chaincode already successfully installed (package ID '{id}')"
            )));
        }
        let installed = support
            .install(&bytes)
            .await
            .map_err(|e| LifecycleError::Invalid(e.0))?;
        tracing::info!(package_id = %installed, "successfully installed chaincode");
        Ok(InstallChaincodeResult {
            package_id: installed,
            label: package.metadata.label,
        }
        .encode_to_vec())
    }

    fn query_installed(&mut self, args: QueryInstalledChaincodeArgs) -> Outcome {
        let support = self.ctx.support()?;
        let installed = support
            .packages()
            .list()
            .map_err(|e| LifecycleError::Invalid(e.to_string()))?
            .into_iter()
            .find(|p| p.package_id == args.package_id)
            .ok_or_else(|| {
                LifecycleError::Invalid(format!(
                    "could not find chaincode with package id '{}'",
                    args.package_id
                ))
            })?;
        let mut references = installed_references(self.ctx)?;
        let references = references
            .remove(&installed.package_id)
            .unwrap_or_default()
            .into_iter()
            .map(|(channel, chaincodes)| {
                let chaincodes = chaincodes
                    .into_iter()
                    .map(
                        |(name, version)| query_installed_chaincode_result::Chaincode {
                            name,
                            version,
                        },
                    )
                    .collect();
                (
                    channel,
                    query_installed_chaincode_result::References { chaincodes },
                )
            })
            .collect();
        Ok(QueryInstalledChaincodeResult {
            package_id: installed.package_id,
            label: installed.label,
            references,
        }
        .encode_to_vec())
    }

    fn query_installed_all(&mut self) -> Outcome {
        let support = self.ctx.support()?;
        let installed = support
            .packages()
            .list()
            .map_err(|e| LifecycleError::Invalid(e.to_string()))?;
        let mut references = installed_references(self.ctx)?;
        let installed_chaincodes = installed
            .into_iter()
            .map(|package| {
                let references = references
                    .remove(&package.package_id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(channel, chaincodes)| {
                        let chaincodes =
                            chaincodes
                                .into_iter()
                                .map(|(name, version)| {
                                    query_installed_chaincodes_result::Chaincode { name, version }
                                })
                                .collect();
                        (
                            channel,
                            query_installed_chaincodes_result::References { chaincodes },
                        )
                    })
                    .collect();
                query_installed_chaincodes_result::InstalledChaincode {
                    package_id: package.package_id,
                    label: package.label,
                    references,
                }
            })
            .collect();
        Ok(QueryInstalledChaincodesResult {
            installed_chaincodes,
        }
        .encode_to_vec())
    }

    fn installed_package(&mut self, args: GetInstalledChaincodePackageArgs) -> Outcome {
        let support = self.ctx.support()?;
        let bytes = support.packages().load(&args.package_id).map_err(|e| {
            LifecycleError::Invalid(format!("could not load cc install package: {e}"))
        })?;
        Ok(GetInstalledChaincodePackageResult {
            chaincode_install_package: bytes,
        }
        .encode_to_vec())
    }

    // ---- on a channel: definitions ----------------------------------------------------

    fn approve(&mut self, args: ApproveChaincodeDefinitionForMyOrgArgs) -> Outcome {
        self.validate_input(&args.name, &args.version, args.collections.as_ref())
            .map_err(|e| e.wrap("error validating chaincode definition"))?;
        let collection = implicit_collection(&self.ctx.msp_id);
        let package_id = match args.source.and_then(|s| s.r#type) {
            Some(SourceType::LocalPackage(local)) => local.package_id,
            _ => String::new(),
        };
        let mut cd = definition_of(
            args.sequence,
            args.version,
            args.endorsement_plugin,
            args.init_required,
            args.validation_plugin,
            args.validation_parameter,
            Some(args.collections.unwrap_or_default()),
        );
        let config = self.config()?;
        let channel_id = self.channel_id.clone();
        let name = args.name;
        let sim = self.simulator()?;
        approve_for_org(
            &config,
            &channel_id,
            &name,
            &mut cd,
            &package_id,
            sim,
            &collection,
        )?;
        tracing::info!(
            chaincode = %name, %package_id, channel = %channel_id, sequence = cd.sequence,
            "successfully endorsed chaincode approval"
        );
        Ok(ApproveChaincodeDefinitionForMyOrgResult {}.encode_to_vec())
    }

    fn query_approved(&mut self, args: QueryApprovedChaincodeDefinitionArgs) -> Outcome {
        let collection = implicit_collection(&self.ctx.msp_id);
        let channel_id = self.channel_id.clone();
        let sim = self.simulator()?;
        let name = &args.name;
        let mut requested = args.sequence;
        if requested == 0 {
            let current = serializer::deserialize_int64(
                NAMESPACES_PREFIX,
                name,
                "Sequence",
                &mut PublicState::new(sim),
            )
            .map_err(|e| e.wrap("could not get current sequence"))?;
            requested = current;
            let next = current + 1;
            let next_name = private_name(name, next);
            let found = serializer::deserialize_metadata(
                NAMESPACES_PREFIX,
                &next_name,
                &mut PrivateState::new(sim, collection.as_str()),
            )
            .map_err(|e| {
                e.wrap(format!(
                    "could not deserialize namespace metadata for next sequence {next}"
                ))
            })?;
            if found.is_some() {
                requested = next;
            }
        }
        let not_found = || {
            LifecycleError::Invalid(format!(
                "could not fetch approved chaincode definition (name: '{name}', sequence: '{}') on channel '{channel_id}'",
                args.sequence
            ))
        };
        let private = private_name(name, requested);
        let mut org = PrivateState::new(sim, collection.as_str());
        let metadata = serializer::deserialize_metadata(NAMESPACES_PREFIX, &private, &mut org)
            .map_err(|e| {
                e.wrap(format!(
                    "could not deserialize namespace metadata for {private}"
                ))
            })?
            .ok_or_else(not_found)?;
        if metadata.datatype != serializer::CHAINCODE_PARAMETERS_TYPE {
            return Err(LifecycleError::Invalid(format!(
                "not a chaincode parameters type: {}",
                metadata.datatype
            )));
        }
        let parameters: ChaincodeParameters =
            serializer::deserialize(NAMESPACES_PREFIX, &private, &metadata, &mut org).map_err(
                |e| {
                    e.wrap(format!(
                        "could not deserialize chaincode parameters for {private}"
                    ))
                },
            )?;
        let metadata =
            serializer::deserialize_metadata(CHAINCODE_SOURCES_PREFIX, &private, &mut org)
                .map_err(|e| {
                    e.wrap(format!(
                        "could not deserialize chaincode-source metadata for {private}"
                    ))
                })?
                .ok_or_else(not_found)?;
        if metadata.datatype != serializer::CHAINCODE_LOCAL_PACKAGE_TYPE {
            return Err(LifecycleError::Invalid(format!(
                "not a chaincode local package type: {}",
                metadata.datatype
            )));
        }
        let local: ChaincodeLocalPackage =
            serializer::deserialize(CHAINCODE_SOURCES_PREFIX, &private, &metadata, &mut org)
                .map_err(|e| {
                    e.wrap(format!(
                        "could not deserialize chaincode package for {private}"
                    ))
                })?;
        let source = if local.package_id.is_empty() {
            SourceType::Unavailable(Unavailable {})
        } else {
            SourceType::LocalPackage(Local {
                package_id: local.package_id,
            })
        };
        Ok(QueryApprovedChaincodeDefinitionResult {
            sequence: requested,
            version: parameters.endorsement_info.version,
            endorsement_plugin: parameters.endorsement_info.endorsement_plugin,
            validation_plugin: parameters.validation_info.validation_plugin,
            validation_parameter: parameters.validation_info.validation_parameter,
            collections: Some(parameters.collections),
            init_required: parameters.endorsement_info.init_required,
            source: Some(ChaincodeSource {
                r#type: Some(source),
            }),
        }
        .encode_to_vec())
    }

    fn check_commit_readiness(&mut self, args: CheckCommitReadinessArgs) -> Outcome {
        let orgs = self.org_msp_ids()?;
        let mut cd = definition_of(
            args.sequence,
            args.version,
            args.endorsement_plugin,
            args.init_required,
            args.validation_plugin,
            args.validation_parameter,
            args.collections,
        );
        let config = self.config()?;
        let channel_id = self.channel_id.clone();
        let sim = self.simulator()?;
        let approvals =
            check_commit_readiness(&config, &channel_id, &args.name, &mut cd, sim, &orgs)?;
        Ok(CheckCommitReadinessResult {
            approvals: approvals.into_iter().collect(),
        }
        .encode_to_vec())
    }

    fn commit(&mut self, args: CommitChaincodeDefinitionArgs) -> Outcome {
        self.validate_input(&args.name, &args.version, args.collections.as_ref())
            .map_err(|e| e.wrap("error validating chaincode definition"))?;
        let orgs = self.org_msp_ids()?;
        let my_org = self.ctx.msp_id.clone();
        if !orgs.contains(&my_org) {
            return Err(LifecycleError::Invalid(
                "impossibly, this peer's org is processing requests for a channel it is not a member of"
                    .into(),
            ));
        }
        let mut cd = definition_of(
            args.sequence,
            args.version,
            args.endorsement_plugin,
            args.init_required,
            args.validation_plugin,
            args.validation_parameter,
            args.collections,
        );
        let config = self.config()?;
        let channel_id = self.channel_id.clone();
        let sim = self.simulator()?;
        let approvals =
            check_commit_readiness(&config, &channel_id, &args.name, &mut cd, sim, &orgs)?;
        serializer::serialize(
            NAMESPACES_PREFIX,
            &args.name,
            &cd,
            &mut PublicState::new(sim),
        )
        .map_err(|e| e.wrap("could not serialize chaincode definition"))?;
        if approvals.get(&my_org) != Some(&true) {
            return Err(LifecycleError::Invalid(format!(
                "chaincode definition not agreed to by this org ({my_org})"
            )));
        }
        tracing::info!(
            chaincode = %args.name, channel = %channel_id, sequence = cd.sequence,
            "successfully endorsed commit of chaincode definition"
        );
        Ok(CommitChaincodeDefinitionResult {}.encode_to_vec())
    }

    fn query_definition(&mut self, args: QueryChaincodeDefinitionArgs) -> Outcome {
        let sim = self.simulator()?;
        let definition = query_chaincode_definition(&args.name, sim)?;
        let orgs = self.org_msp_ids()?;
        let sim = self.simulator()?;
        let approvals = query_org_approvals(&args.name, &definition, sim, &orgs)?;
        Ok(QueryChaincodeDefinitionResult {
            sequence: definition.sequence,
            version: definition.endorsement_info.version,
            endorsement_plugin: definition.endorsement_info.endorsement_plugin,
            validation_plugin: definition.validation_info.validation_plugin,
            validation_parameter: definition.validation_info.validation_parameter,
            collections: Some(definition.collections),
            init_required: definition.endorsement_info.init_required,
            approvals: approvals.into_iter().collect(),
        }
        .encode_to_vec())
    }

    fn query_definitions(&mut self) -> Outcome {
        let sim = self.simulator()?;
        let all =
            serializer::deserialize_all_metadata(NAMESPACES_PREFIX, &mut PublicState::new(sim))
                .map_err(|e| e.wrap("could not query namespace metadata"))?;
        let mut chaincode_definitions = Vec::new();
        for (name, metadata) in all {
            if metadata.datatype != CHAINCODE_DEFINITION_TYPE {
                continue;
            }
            let definition = query_chaincode_definition(&name, sim)?;
            chaincode_definitions.push(query_chaincode_definitions_result::ChaincodeDefinition {
                name,
                sequence: definition.sequence,
                version: definition.endorsement_info.version,
                endorsement_plugin: definition.endorsement_info.endorsement_plugin,
                validation_plugin: definition.validation_info.validation_plugin,
                validation_parameter: definition.validation_info.validation_parameter,
                collections: Some(definition.collections),
                init_required: definition.endorsement_info.init_required,
            });
        }
        Ok(QueryChaincodeDefinitionsResult {
            chaincode_definitions,
        }
        .encode_to_vec())
    }

    /// Fabric's `validateInput`: name, version, collections against the channel's MSPs and
    /// against the committed definition's collections.
    fn validate_input(
        &mut self,
        name: &str,
        version: &str,
        collections: Option<&CollectionConfigPackage>,
    ) -> Result<(), LifecycleError> {
        if !valid_chaincode_name(name) {
            return Err(LifecycleError::Invalid(format!(
                "invalid chaincode name '{name}'. Names can only consist of alphanumerics, '_', and '-' and can only begin with alphanumerics"
            )));
        }
        if SYSTEM_CHAINCODE_NAMES.contains(&name) {
            return Err(LifecycleError::Invalid(format!(
                "chaincode name '{name}' is the name of a system chaincode"
            )));
        }
        if !valid_chaincode_version(version) {
            return Err(LifecycleError::Invalid(format!(
                "invalid chaincode version '{version}'. Versions can only consist of alphanumerics, '_', '-', '+', and '.'"
            )));
        }
        let proposed = static_collections(collections)?;
        let config = self.config()?;
        validate_collection_configs(&proposed, &config)?;
        let sim = self.simulator()?;
        let committed = committed_collections(name, sim).map_err(|e| {
            e.wrap(format!(
                "could not retrieve committed definition for chaincode '{name}'"
            ))
        })?;
        if let Some(committed) = committed {
            validate_against_committed(&proposed, &committed)?;
        }
        Ok(())
    }
}

/// A definition from the arguments every definition function takes.
fn definition_of(
    sequence: i64,
    version: String,
    endorsement_plugin: String,
    init_required: bool,
    validation_plugin: String,
    validation_parameter: Vec<u8>,
    collections: Option<CollectionConfigPackage>,
) -> ChaincodeDefinition {
    ChaincodeDefinition {
        sequence,
        endorsement_info: ChaincodeEndorsementInfo {
            version,
            init_required,
            endorsement_plugin,
        },
        validation_info: ChaincodeValidationInfo {
            validation_plugin,
            validation_parameter,
        },
        collections: collections.unwrap_or_default(),
    }
}

/// Fabric's `SetChaincodeDefinitionDefaults`: "escc", "vscc", and the channel's
/// `/Channel/Application/Endorsement` policy when no validation parameter is given.
pub(super) fn set_defaults(
    config: &ChannelConfig,
    channel_id: &str,
    cd: &mut ChaincodeDefinition,
) -> Result<(), LifecycleError> {
    if cd.endorsement_info.endorsement_plugin.is_empty() {
        DEFAULT_ENDORSEMENT_PLUGIN.clone_into(&mut cd.endorsement_info.endorsement_plugin);
    }
    if cd.validation_info.validation_plugin.is_empty() {
        DEFAULT_VALIDATION_PLUGIN.clone_into(&mut cd.validation_info.validation_plugin);
    }
    if cd.validation_info.validation_parameter.is_empty() {
        if config
            .policy_manager()
            .get(DEFAULT_ENDORSEMENT_POLICY_REF)
            .is_none()
        {
            return Err(LifecycleError::Invalid(format!(
                "policy '{DEFAULT_ENDORSEMENT_POLICY_REF}' must be defined for channel '{channel_id}' before chaincode operations can be attempted"
            )));
        }
        cd.validation_info.validation_parameter =
            channel_policy_reference(DEFAULT_ENDORSEMENT_POLICY_REF).encode_to_vec();
    }
    Ok(())
}

/// Fabric's `ApproveChaincodeDefinitionForOrg` (v2.5): the sequence rules, then this
/// org's parameters and package under `<name>#<sequence>` in its implicit collection.
pub(super) fn approve_for_org(
    config: &ChannelConfig,
    channel_id: &str,
    name: &str,
    cd: &mut ChaincodeDefinition,
    package_id: &str,
    sim: &mut TxSimulator,
    collection: &str,
) -> Result<(), LifecycleError> {
    let current = serializer::deserialize_int64(
        NAMESPACES_PREFIX,
        name,
        "Sequence",
        &mut PublicState::new(sim),
    )
    .map_err(|e| e.wrap("could not get current sequence"))?;
    let requested = cd.sequence;
    if current == requested && requested == 0 {
        return Err(LifecycleError::Invalid(
            "requested sequence is 0, but first definable sequence number is 1".into(),
        ));
    }
    if requested < current {
        return Err(LifecycleError::Invalid(format!(
            "currently defined sequence {current} is larger than requested sequence {requested}"
        )));
    }
    if requested > current + 1 {
        return Err(LifecycleError::Invalid(format!(
            "requested sequence {requested} is larger than the next available sequence number {}",
            current + 1
        )));
    }
    set_defaults(config, channel_id, cd).map_err(|e| {
        e.wrap(format!(
            "could not set defaults for chaincode definition in channel {channel_id}"
        ))
    })?;
    let parameters = ChaincodeParameters::of(cd);
    if requested == current {
        let mut public = PublicState::new(sim);
        let metadata = serializer::deserialize_metadata(NAMESPACES_PREFIX, name, &mut public)
            .map_err(|e| e.wrap("could not fetch metadata for current definition"))?
            .ok_or_else(|| {
                LifecycleError::Invalid(format!(
                    "missing metadata for currently committed sequence number ({current})"
                ))
            })?;
        let defined: ChaincodeDefinition =
            serializer::deserialize(NAMESPACES_PREFIX, name, &metadata, &mut public).map_err(
                |e| {
                    e.wrap(format!(
                        "could not deserialize namespace {name} as chaincode"
                    ))
                },
            )?;
        if let Some(mismatch) = ChaincodeParameters::of(&defined).mismatch(&parameters) {
            return Err(LifecycleError::Invalid(format!(
                "attempted to redefine the current committed sequence ({current}) for namespace {name} with different parameters: {mismatch}"
            )));
        }
    }
    let private = private_name(name, requested);
    let mut org = PrivateState::new(sim, collection);
    if requested == current + 1 {
        let uncommitted = serializer::deserialize_metadata(NAMESPACES_PREFIX, &private, &mut org)
            .map_err(|e| e.wrap("could not fetch uncommitted definition"))?;
        if let Some(metadata) = uncommitted {
            let stored: ChaincodeParameters =
                serializer::deserialize(NAMESPACES_PREFIX, &private, &metadata, &mut org).map_err(
                    |e| {
                        e.wrap(format!(
                            "could not deserialize namespace {private} as chaincode"
                        ))
                    },
                )?;
            if stored.mismatch(&parameters).is_none() {
                let source =
                    serializer::deserialize_metadata(CHAINCODE_SOURCES_PREFIX, &private, &mut org)
                        .map_err(|e| {
                            e.wrap(format!(
                                "could not deserialize chaincode-source metadata for {private}"
                            ))
                        })?;
                if let Some(metadata) = source {
                    let local: ChaincodeLocalPackage = serializer::deserialize(
                        CHAINCODE_SOURCES_PREFIX,
                        &private,
                        &metadata,
                        &mut org,
                    )
                    .map_err(|e| {
                        e.wrap(format!(
                            "could not deserialize chaincode package for {private}"
                        ))
                    })?;
                    if local.package_id == package_id {
                        return Err(LifecycleError::Invalid(format!(
                            "attempted to redefine uncommitted sequence ({requested}) for namespace {name} with unchanged content"
                        )));
                    }
                }
            }
        }
    }
    serializer::serialize(NAMESPACES_PREFIX, &private, &parameters, &mut org)
        .map_err(|e| e.wrap("could not serialize chaincode parameters to state"))?;
    let local = ChaincodeLocalPackage {
        package_id: package_id.to_owned(),
    };
    serializer::serialize(CHAINCODE_SOURCES_PREFIX, &private, &local, &mut org)
        .map_err(|e| e.wrap("could not serialize chaincode package info to state"))?;
    Ok(())
}

/// Fabric's `CheckCommitReadiness`: the sequence must be the next one; then which orgs'
/// implicit collections hold the hashes of exactly these parameters.
pub(super) fn check_commit_readiness(
    config: &ChannelConfig,
    channel_id: &str,
    name: &str,
    cd: &mut ChaincodeDefinition,
    sim: &mut TxSimulator,
    orgs: &[String],
) -> Result<BTreeMap<String, bool>, LifecycleError> {
    let current = serializer::deserialize_int64(
        NAMESPACES_PREFIX,
        name,
        "Sequence",
        &mut PublicState::new(sim),
    )
    .map_err(|e| e.wrap("could not get current sequence"))?;
    if cd.sequence != current + 1 {
        return Err(LifecycleError::Invalid(format!(
            "requested sequence is {}, but new definition must be sequence {}",
            cd.sequence,
            current + 1
        )));
    }
    set_defaults(config, channel_id, cd).map_err(|e| {
        e.wrap(format!(
            "could not set defaults for chaincode definition in channel {channel_id}"
        ))
    })?;
    query_org_approvals(name, cd, sim, orgs)
}

/// Fabric's `QueryOrgApprovals`: for each org, whether its implicit collection holds the
/// hashes of `cd`'s parameters under `<name>#<sequence>`.
pub(super) fn query_org_approvals(
    name: &str,
    cd: &ChaincodeDefinition,
    sim: &mut TxSimulator,
    orgs: &[String],
) -> Result<BTreeMap<String, bool>, LifecycleError> {
    let private = private_name(name, cd.sequence);
    let parameters = ChaincodeParameters::of(cd);
    let mut approvals = BTreeMap::new();
    for msp_id in orgs {
        let mut org = PrivateState::new(sim, implicit_collection(msp_id));
        let approved =
            serializer::is_serialized(NAMESPACES_PREFIX, &private, &parameters, &mut org)
                .map_err(|e| e.wrap(format!("serialization check failed for key {private}")))?;
        approvals.insert(msp_id.clone(), approved);
    }
    Ok(approvals)
}

/// Fabric's `QueryChaincodeDefinition`: the committed definition of `name`; an undefined
/// name is [`LifecycleError::NamespaceNotDefined`] (a 404).
pub(super) fn query_chaincode_definition(
    name: &str,
    sim: &mut TxSimulator,
) -> Result<ChaincodeDefinition, LifecycleError> {
    let mut public = PublicState::new(sim);
    let metadata = serializer::deserialize_metadata(NAMESPACES_PREFIX, name, &mut public)
        .map_err(|e| e.wrap(format!("could not fetch metadata for namespace {name}")))?
        .ok_or_else(|| LifecycleError::NamespaceNotDefined(name.to_owned()))?;
    serializer::deserialize(NAMESPACES_PREFIX, name, &metadata, &mut public).map_err(|e| {
        e.wrap(format!(
            "could not deserialize namespace {name} as chaincode"
        ))
    })
}

/// The collections of the committed definition of `name` read through the simulator as
/// Fabric's deployed-chaincode info provider reads them (`None`: not defined, after the
/// legacy `lscc` lookup Fabric also records).
fn committed_collections(
    name: &str,
    sim: &mut TxSimulator,
) -> Result<Option<CollectionConfigPackage>, LifecycleError> {
    let mut public = PublicState::new(sim);
    let metadata =
        serializer::deserialize_metadata(NAMESPACES_PREFIX, name, &mut public).map_err(|e| {
            e.wrap(format!(
                "could not deserialize metadata for chaincode {name}"
            ))
            .wrap("could not get info about chaincode")
        })?;
    let Some(metadata) = metadata else {
        sim.get_state(LSCC_NAMESPACE, name)
            .map_err(|e| LifecycleError::Invalid(e.to_string()))?;
        return Ok(None);
    };
    if metadata.datatype != CHAINCODE_DEFINITION_TYPE {
        return Err(LifecycleError::Invalid(format!(
            "not a chaincode type: {}",
            metadata.datatype
        ))
        .wrap("could not get info about chaincode"));
    }
    let defined: ChaincodeDefinition =
        serializer::deserialize(NAMESPACES_PREFIX, name, &metadata, &mut public).map_err(|e| {
            e.wrap(format!(
                "could not deserialize chaincode definition for chaincode {name}"
            ))
            .wrap("could not get info about chaincode")
        })?;
    Ok(Some(defined.collections))
}

/// Fabric's `extractStaticCollectionConfigs`.
fn static_collections(
    package: Option<&CollectionConfigPackage>,
) -> Result<Vec<StaticCollectionConfig>, LifecycleError> {
    let Some(package) = package else {
        return Ok(Vec::new());
    };
    package
        .config
        .iter()
        .map(|c| match &c.payload {
            Some(CollectionPayload::StaticCollectionConfig(s)) => Ok(s.clone()),
            None => Err(LifecycleError::Invalid(
                "collection config contains unexpected payload type: <nil>".into(),
            )),
        })
        .collect()
}

/// Fabric's `validateCollectionConfigs` against the channel's MSPs.
fn validate_collection_configs(
    configs: &[StaticCollectionConfig],
    channel: &ChannelConfig,
) -> Result<(), LifecycleError> {
    let invalid = |m: String| Err(LifecycleError::Invalid(m));
    let mut names = std::collections::HashSet::new();
    for c in configs {
        let name = &c.name;
        if !valid_collection_name(name) {
            return invalid(format!(
                "invalid collection name '{name}'. Names can only consist of alphanumerics, '_', and '-' and cannot begin with '_'"
            ));
        }
        if !names.insert(name.clone()) {
            return invalid(format!(
                "collection-name: {name} -- found duplicate in collection configuration"
            ));
        }
        if c.maximum_peer_count < c.required_peer_count {
            return invalid(format!(
                "collection-name: {name} -- maximum peer count ({}) cannot be less than the required peer count ({})",
                c.maximum_peer_count, c.required_peer_count
            ));
        }
        if c.required_peer_count < 0 {
            return invalid(format!(
                "collection-name: {name} -- requiredPeerCount ({}) cannot be less than zero",
                c.required_peer_count
            ));
        }
        validate_member_orgs_policy(c, channel)?;
    }
    Ok(())
}

/// Fabric's `validateCollectionConfigMemberOrgsPolicy`.
fn validate_member_orgs_policy(
    c: &StaticCollectionConfig,
    channel: &ChannelConfig,
) -> Result<(), LifecycleError> {
    let name = &c.name;
    let Some(policy) = &c.member_orgs_policy else {
        return Err(LifecycleError::Invalid(format!(
            "collection member policy is not set for collection '{name}'"
        )));
    };
    let Some(PolicyPayload::SignaturePolicy(envelope)) = &policy.payload else {
        return Err(LifecycleError::Invalid(format!(
            "collection member org policy is empty for collection '{name}'"
        )));
    };
    let msps = channel.msp_manager().clone();
    CompiledSignaturePolicy::new(name.clone(), envelope.clone(), msps.clone()).map_err(|e| {
        LifecycleError::Invalid(format!(
            "invalid member org policy for collection '{name}': {e}"
        ))
    })?;
    if let Some(rule) = &envelope.rule {
        or_concatenation(rule).map_err(|e| {
            LifecycleError::Invalid(format!(
                "collection-name: {name} -- error in member org policy: {e}"
            ))
        })?;
    }
    for principal in &envelope.identities {
        let not_member = |org: &str| {
            LifecycleError::Invalid(format!(
                "collection-name: {name} -- collection member '{org}' is not part of the channel"
            ))
        };
        match Classification::try_from(principal.principal_classification) {
            Ok(Classification::Role) => {
                let role = MspRole::decode(principal.principal.as_slice()).map_err(|e| {
                    LifecycleError::Invalid(format!(
                        "collection-name: {name} -- cannot unmarshal identity bytes into MSPRole: {e}"
                    ))
                })?;
                if msps.get(&role.msp_identifier).is_none() {
                    return Err(not_member(&role.msp_identifier));
                }
            }
            Ok(Classification::OrganizationUnit) => {
                let ou =
                    OrganizationUnit::decode(principal.principal.as_slice()).map_err(|e| {
                        LifecycleError::Invalid(format!(
                            "collection-name: {name} -- cannot unmarshal identity bytes into OrganizationUnit: {e}"
                        ))
                    })?;
                if msps.get(&ou.msp_identifier).is_none() {
                    return Err(not_member(&ou.msp_identifier));
                }
            }
            Ok(Classification::Identity) => {
                if msps.deserialize_identity(&principal.principal).is_err() {
                    return Err(LifecycleError::Invalid(format!(
                        "collection-name: {name} -- contains an identity that is not part of the channel"
                    )));
                }
            }
            _ => {
                return Err(LifecycleError::Invalid(format!(
                    "collection-name: {name} -- principal type {} is not supported",
                    Classification::try_from(principal.principal_classification).map_or_else(
                        |_| principal.principal_classification.to_string(),
                        |c| c.as_str_name().to_owned()
                    )
                )));
            }
        }
    }
    Ok(())
}

/// Fabric's `validateSpOrConcat`: the rule is an OR of identities (every `NOutOf` has
/// `n == 1`).
fn or_concatenation(rule: &SignaturePolicy) -> Result<(), String> {
    match &rule.r#type {
        Some(RuleType::NOutOf(n_out_of)) => {
            if n_out_of.n != 1 {
                return Err(format!(
                    "signature policy is not an OR concatenation, NOutOf {}",
                    n_out_of.n
                ));
            }
            n_out_of.rules.iter().try_for_each(or_concatenation)
        }
        _ => Ok(()),
    }
}

/// Fabric's `validateCollConfigsAgainstCommittedDef`: every committed collection stays,
/// with its `BlockToLive`.
fn validate_against_committed(
    proposed: &[StaticCollectionConfig],
    committed: &CollectionConfigPackage,
) -> Result<(), LifecycleError> {
    if committed.config.is_empty() {
        return Ok(());
    }
    if proposed.is_empty() {
        return Err(LifecycleError::Invalid(
            "the proposed collection config does not contain previously defined collections".into(),
        ));
    }
    let by_name: HashMap<&str, &StaticCollectionConfig> =
        proposed.iter().map(|c| (c.name.as_str(), c)).collect();
    for config in &committed.config {
        let Some(CollectionPayload::StaticCollectionConfig(old)) = &config.payload else {
            return Err(LifecycleError::Invalid(
                "unknown collection configuration type".into(),
            ));
        };
        let Some(new) = by_name.get(old.name.as_str()) else {
            return Err(LifecycleError::Invalid(format!(
                "existing collection [{}] missing in the proposed collection configuration",
                old.name
            )));
        };
        if new.block_to_live != old.block_to_live {
            return Err(LifecycleError::Invalid(format!(
                "the BlockToLive in an existing collection [{}] modified. Existing value [{}]",
                old.name, old.block_to_live
            )));
        }
    }
    Ok(())
}

/// Whether the channel's application config allows the new lifecycle (Fabric's
/// `LifecycleV20` capability: V2_0 or later).
pub(super) fn lifecycle_v20(app: &ApplicationConfig) -> bool {
    app.capabilities.contains("V2_0") || app.capabilities.contains("V2_5")
}
