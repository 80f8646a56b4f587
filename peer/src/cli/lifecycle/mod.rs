//! `peer lifecycle chaincode ...`, as Fabric's `internal/peer/lifecycle/chaincode`:
//! proposals to the `_lifecycle` system chaincode with Fabric's function names and
//! protobuf arguments (`weft_proto::lifecycle`), outputs and errors worded as Fabric's.
//!
//! - `package`, `calculatepackageid`: [`package`], local only.
//! - `install PKG`, `queryinstalled`, `getinstalledpackage`: channel-less proposals to
//!   one peer (`--peerAddresses` or `peer.address`).
//! - `approveformyorg`, `commit`: a proposal on `-C` endorsed by every `--peerAddresses`
//!   (sequentially, as Fabric), assembled into a transaction, broadcast to `-o`, and with
//!   `--waitForEvent` (default true) awaited on each peer's DeliverFiltered.
//! - `checkcommitreadiness`, `queryapproved`, `querycommitted`: queries on `-C`, text or
//!   `--output json`.
//!
//! Every `_lifecycle` proposal's ChaincodeSpec has no type (UNDEFINED), as Fabric's CLI
//! sends it. `--connectionProfile` is refused (Weft's CLI has no connection profiles).

pub mod json;
pub mod package;

use std::collections::HashMap;
use std::path::Path;

use prost::Message;
use weft_common::channelconfig::ChannelConfig;
use weft_common::crypto::Signer;
use weft_common::msp::SigningIdentity;
use weft_common::policy::dsl;
use weft_common::protoutil;
use weft_proto::common::{Config, HeaderType};
use weft_proto::lifecycle::{
    ApproveChaincodeDefinitionForMyOrgArgs, ChaincodeSource, CheckCommitReadinessArgs,
    CheckCommitReadinessResult, CommitChaincodeDefinitionArgs, GetInstalledChaincodePackageArgs,
    GetInstalledChaincodePackageResult, InstallChaincodeArgs, InstallChaincodeResult,
    QueryApprovedChaincodeDefinitionArgs, QueryApprovedChaincodeDefinitionResult,
    QueryChaincodeDefinitionArgs, QueryChaincodeDefinitionResult, QueryChaincodeDefinitionsArgs,
    QueryChaincodeDefinitionsResult, QueryInstalledChaincodesArgs, QueryInstalledChaincodesResult,
    chaincode_source,
};
use weft_proto::protos::{
    ApplicationPolicy, ChaincodeInput, CollectionConfig, CollectionConfigPackage,
    CollectionPolicyConfig, Proposal, ProposalResponse, StaticCollectionConfig, application_policy,
    chaincode_spec, collection_config, collection_policy_config,
};

use super::CliError;
use super::args::{
    DefinitionArgs, GetInstalledPackageArgs, InstallArgs, LifecycleChaincodeCommand, OrdererArgs,
    PeerTargetArgs, QueryApprovedArgs, QueryCommittedArgs, QueryInstalledArgs,
};
use super::channel::{CSCC, rpc_error};
use super::client::{go_io_error, load_signer};
use super::log::{LIFECYCLE_CMD, Logger};
use super::tx::{
    Broadcaster, DeliverGroup, PeerConn, Wording, connect_peers, create_signed_tx, peer_targets,
    proposal, response_text, sign,
};
use crate::config::PeerConfig;

/// The lifecycle system chaincode.
pub const LIFECYCLE: &str = "_lifecycle";
/// `_lifecycle` function installing a package.
pub const INSTALL_FUNC: &str = "InstallChaincode";
/// `_lifecycle` function listing installed packages.
pub const QUERY_INSTALLED_FUNC: &str = "QueryInstalledChaincodes";
/// `_lifecycle` function returning an installed package.
pub const GET_INSTALLED_PACKAGE_FUNC: &str = "GetInstalledChaincodePackage";
/// `_lifecycle` function approving a definition for the caller's org.
pub const APPROVE_FUNC: &str = "ApproveChaincodeDefinitionForMyOrg";
/// `_lifecycle` function telling which orgs approved a definition.
pub const CHECK_COMMIT_READINESS_FUNC: &str = "CheckCommitReadiness";
/// `_lifecycle` function committing a definition.
pub const COMMIT_FUNC: &str = "CommitChaincodeDefinition";
/// `_lifecycle` function returning this org's approved definition.
pub const QUERY_APPROVED_FUNC: &str = "QueryApprovedChaincodeDefinition";
/// `_lifecycle` function returning one committed definition.
pub const QUERY_DEFINITION_FUNC: &str = "QueryChaincodeDefinition";
/// `_lifecycle` function returning every committed definition.
pub const QUERY_DEFINITIONS_FUNC: &str = "QueryChaincodeDefinitions";

/// Runs `peer lifecycle chaincode <command>`.
pub async fn run(
    config: &PeerConfig,
    log: &Logger,
    orderer: &OrdererArgs,
    command: &LifecycleChaincodeCommand,
) -> Result<(), CliError> {
    match command {
        LifecycleChaincodeCommand::Package(a) => package::package(a),
        LifecycleChaincodeCommand::Calculatepackageid(a) => {
            print!("{}", package::calculate_package_id(a)?);
            Ok(())
        }
        LifecycleChaincodeCommand::Install(a) => install(config, log, a).await,
        LifecycleChaincodeCommand::Queryinstalled(a) => {
            print!("{}", query_installed(config, a).await?);
            Ok(())
        }
        LifecycleChaincodeCommand::Getinstalledpackage(a) => get_installed_package(config, a).await,
        LifecycleChaincodeCommand::Approveformyorg(a) => {
            submit_definition(config, log, orderer, a, Submit::Approve).await
        }
        LifecycleChaincodeCommand::Commit(a) => {
            submit_definition(config, log, orderer, a, Submit::Commit).await
        }
        LifecycleChaincodeCommand::Checkcommitreadiness(a) => {
            print!("{}", check_commit_readiness(config, a).await?);
            Ok(())
        }
        LifecycleChaincodeCommand::Queryapproved(a) => {
            print!("{}", query_approved(config, a).await?);
            Ok(())
        }
        LifecycleChaincodeCommand::Querycommitted(a) => {
            print!("{}", query_committed(config, a).await?);
            Ok(())
        }
    }
}

/// The `_lifecycle` proposal for `function` with marshaled `args` on `channel_id` (empty
/// for the channel-less functions).
pub fn lifecycle_proposal(
    channel_id: &str,
    function: &str,
    args: Vec<u8>,
    creator: &[u8],
) -> (Proposal, String) {
    let input = ChaincodeInput {
        args: vec![function.as_bytes().to_vec(), args],
        ..ChaincodeInput::default()
    };
    proposal(
        channel_id,
        LIFECYCLE,
        chaincode_spec::Type::Undefined,
        input,
        HashMap::new(),
        creator,
    )
}

/// The signer and the connected peers of a lifecycle command.
async fn connect(
    config: &PeerConfig,
    peers: &PeerTargetArgs,
    command: &str,
    multiple: bool,
) -> Result<(SigningIdentity, Vec<PeerConn>), CliError> {
    let signer = load_signer(config)?;
    let targets = peer_targets(config, peers, command, multiple, Wording::Lifecycle)?;
    let conns = connect_peers(config, &targets, command, Wording::Lifecycle).await?;
    Ok((signer, conns))
}

/// How a failed answer is worded by the command.
#[derive(Debug, Clone, Copy)]
enum Failure {
    /// `query failed with status: ...`
    Query,
    /// `proposal failed with status: ...`
    Proposal,
}

/// Sends one proposal to the first peer and returns the successful response's payload.
async fn query_one(
    peer: &PeerConn,
    signer: &SigningIdentity,
    proposal: &Proposal,
    failure: Failure,
) -> Result<Vec<u8>, CliError> {
    let signed = sign(proposal, signer)
        .map_err(|e| CliError::Client(format!("failed to create signed proposal: {e}")))?;
    let response = peer
        .endorser
        .clone()
        .process_proposal(signed)
        .await
        .map_err(|s| CliError::Client(format!("failed to endorse proposal: {}", rpc_error(&s))))?
        .into_inner();
    let r = response
        .response
        .ok_or_else(|| CliError::Response("received proposal response with nil response".into()))?;
    if r.status != 200 {
        let what = match failure {
            Failure::Query => "query failed",
            Failure::Proposal => "proposal failed",
        };
        return Err(CliError::Response(format!(
            "{what} with status: {} - {}",
            r.status, r.message
        )));
    }
    Ok(r.payload)
}

fn decode<M: Message + Default>(payload: &[u8]) -> Result<M, CliError> {
    M::decode(payload).map_err(|e| {
        CliError::Response(format!(
            "failed to unmarshal proposal response's response payload: {e}"
        ))
    })
}

fn wants_json(output: &str) -> bool {
    output.eq_ignore_ascii_case("json")
}

// ---------------------------------------------------------------------------------------
// install, queryinstalled, getinstalledpackage

/// `peer lifecycle chaincode install PKG`: logs `Installed remotely: ...` and
/// `Chaincode code package identifier: <id>`.
pub async fn install(
    config: &PeerConfig,
    log: &Logger,
    args: &InstallArgs,
) -> Result<(), CliError> {
    let (signer, peers) = connect(config, &args.peers, "install", false).await?;
    let file = args.args.first().map(String::as_str).unwrap_or_default();
    if file.is_empty() {
        return Err(CliError::Usage(
            "chaincode install package must be provided".into(),
        ));
    }
    let package = std::fs::read(file).map_err(|e| {
        CliError::Io(format!(
            "failed to read chaincode package at '{file}': {}",
            go_io_error("open", Path::new(file), &e)
        ))
    })?;
    let install_args = InstallChaincodeArgs {
        chaincode_install_package: package,
    };
    let (proposal, _) = lifecycle_proposal(
        "",
        INSTALL_FUNC,
        install_args.encode_to_vec(),
        signer.creator(),
    );
    let signed = sign(&proposal, &signer).map_err(|e| {
        CliError::Client(format!(
            "failed to create signed proposal for chaincode install: {e}"
        ))
    })?;
    let response = peers[0]
        .endorser
        .clone()
        .process_proposal(signed)
        .await
        .map_err(|s| {
            CliError::Client(format!(
                "failed to endorse chaincode install: {}",
                rpc_error(&s)
            ))
        })?
        .into_inner();
    let result = install_result(&response)?;
    if let Some(r) = &response.response {
        log.info(
            LIFECYCLE_CMD,
            "submitInstallProposal",
            &format!("Installed remotely: response:{{{}}}", response_text(r)),
        );
    }
    log.info(
        LIFECYCLE_CMD,
        "submitInstallProposal",
        &format!("Chaincode code package identifier: {}", result.package_id),
    );
    Ok(())
}

/// The `InstallChaincodeResult` of an install answer, or Fabric's error.
pub fn install_result(response: &ProposalResponse) -> Result<InstallChaincodeResult, CliError> {
    let r = response.response.as_ref().ok_or_else(|| {
        CliError::Response(
            "chaincode install failed: received proposal response with nil response".into(),
        )
    })?;
    if r.status != 200 {
        return Err(CliError::Response(format!(
            "chaincode install failed with status: {} - {}",
            r.status, r.message
        )));
    }
    InstallChaincodeResult::decode(r.payload.as_slice()).map_err(|e| {
        CliError::Response(format!(
            "failed to unmarshal proposal response's response payload: {e}"
        ))
    })
}

/// `peer lifecycle chaincode queryinstalled`: what it prints.
pub async fn query_installed(
    config: &PeerConfig,
    args: &QueryInstalledArgs,
) -> Result<String, CliError> {
    let (signer, peers) = connect(config, &args.peers, "queryinstalled", false).await?;
    let (proposal, _) = lifecycle_proposal(
        "",
        QUERY_INSTALLED_FUNC,
        QueryInstalledChaincodesArgs {}.encode_to_vec(),
        signer.creator(),
    );
    let payload = query_one(&peers[0], &signer, &proposal, Failure::Query).await?;
    let result: QueryInstalledChaincodesResult = decode(&payload)?;
    Ok(format_installed(&result, wants_json(&args.output)))
}

/// The `queryinstalled` output (text or JSON).
pub fn format_installed(result: &QueryInstalledChaincodesResult, as_json: bool) -> String {
    if as_json {
        return format!("{}\n", json::installed_chaincodes(result).indented());
    }
    let mut out = String::from("Installed chaincodes on peer:\n");
    for c in &result.installed_chaincodes {
        out.push_str(&format!(
            "Package ID: {}, Label: {}\n",
            c.package_id, c.label
        ));
    }
    out
}

/// `peer lifecycle chaincode getinstalledpackage --package-id ID [--output-directory D]`:
/// writes `<D>/<ID>.tar.gz`.
pub async fn get_installed_package(
    config: &PeerConfig,
    args: &GetInstalledPackageArgs,
) -> Result<(), CliError> {
    let (signer, peers) = connect(config, &args.peers, "getinstalledpackage", false).await?;
    if args.package_id.is_empty() {
        return Err(CliError::Usage(
            "The required parameter 'package-id' is empty. Rerun the command with --package-id \
             flag"
                .into(),
        ));
    }
    let (proposal, _) = lifecycle_proposal(
        "",
        GET_INSTALLED_PACKAGE_FUNC,
        GetInstalledChaincodePackageArgs {
            package_id: args.package_id.clone(),
        }
        .encode_to_vec(),
        signer.creator(),
    );
    let payload = query_one(&peers[0], &signer, &proposal, Failure::Proposal).await?;
    let result: GetInstalledChaincodePackageResult = decode(&payload)?;
    let file = Path::new(&args.output_directory).join(format!("{}.tar.gz", args.package_id));
    std::fs::write(&file, result.chaincode_install_package).map_err(|e| {
        CliError::Io(format!(
            "failed to write chaincode package to {}: {}",
            file.display(),
            go_io_error("open", &file, &e)
        ))
    })
}

// ---------------------------------------------------------------------------------------
// Definitions: approveformyorg, checkcommitreadiness, commit

/// A chaincode definition from the flags, as `createInput` builds it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Definition {
    /// `ApplicationPolicy` bytes (`--signature-policy` or `--channel-config-policy`).
    pub validation_parameter: Vec<u8>,
    /// `--collections-config`, parsed.
    pub collections: Option<CollectionConfigPackage>,
}

/// Fabric's `createPolicyBytes`: no policy, a signature policy, or a channel config
/// policy reference, marshaled as an `ApplicationPolicy`.
pub fn policy_bytes(
    signature_policy: &str,
    channel_config_policy: &str,
) -> Result<Vec<u8>, CliError> {
    Ok(application_policy(signature_policy, channel_config_policy)?
        .map(|p| p.encode_to_vec())
        .unwrap_or_default())
}

fn application_policy(
    signature_policy: &str,
    channel_config_policy: &str,
) -> Result<Option<ApplicationPolicy>, CliError> {
    match (
        signature_policy.is_empty(),
        channel_config_policy.is_empty(),
    ) {
        (true, true) => Ok(None),
        (false, false) => Err(CliError::Usage(
            "cannot specify both \"--signature-policy\" and \"--channel-config-policy\"".into(),
        )),
        (false, true) => {
            let envelope = dsl::parse(signature_policy).map_err(|_| {
                CliError::Usage(format!("invalid signature policy: {signature_policy}"))
            })?;
            Ok(Some(ApplicationPolicy {
                r#type: Some(application_policy::Type::SignaturePolicy(envelope)),
            }))
        }
        (true, false) => Ok(Some(ApplicationPolicy {
            r#type: Some(application_policy::Type::ChannelConfigPolicyReference(
                channel_config_policy.to_owned(),
            )),
        })),
    }
}

/// One entry of Fabric's collections config JSON (`collectionConfigJson`).
#[derive(Debug, serde::Deserialize)]
struct CollectionJson {
    #[serde(default)]
    name: String,
    #[serde(default)]
    policy: String,
    #[serde(default, rename = "requiredPeerCount")]
    required_peer_count: Option<i32>,
    #[serde(default, rename = "maxPeerCount")]
    max_peer_count: Option<i32>,
    #[serde(default, rename = "blockToLive")]
    block_to_live: u64,
    #[serde(default, rename = "memberOnlyRead")]
    member_only_read: bool,
    #[serde(default, rename = "memberOnlyWrite")]
    member_only_write: bool,
    #[serde(default, rename = "endorsementPolicy")]
    endorsement_policy: Option<EndorsementPolicyJson>,
}

#[derive(Debug, serde::Deserialize)]
struct EndorsementPolicyJson {
    #[serde(default, rename = "channelConfigPolicy")]
    channel_config_policy: String,
    #[serde(default, rename = "signaturePolicy")]
    signature_policy: String,
}

/// Fabric's `getCollectionConfigFromBytes`: a JSON array of collection definitions as a
/// `CollectionConfigPackage` (requiredPeerCount defaults to 0, maxPeerCount to 1).
pub fn collection_config_from_json(bytes: &[u8]) -> Result<CollectionConfigPackage, String> {
    let items: Vec<CollectionJson> = serde_json::from_slice(bytes)
        .map_err(|e| format!("could not parse the collection configuration: {e}"))?;
    let mut config = Vec::with_capacity(items.len());
    for item in items {
        let member =
            dsl::parse(&item.policy).map_err(|e| format!("invalid policy {}: {e}", item.policy))?;
        let endorsement_policy = match &item.endorsement_policy {
            None => None,
            Some(ep) => application_policy(&ep.signature_policy, &ep.channel_config_policy)
                .map_err(|e| {
                    format!(
                        "invalid endorsement policy [signaturePolicy: {:?}, channelConfigPolicy: \
                         {:?}]: {e}",
                        ep.signature_policy, ep.channel_config_policy
                    )
                })?,
        };
        config.push(CollectionConfig {
            payload: Some(collection_config::Payload::StaticCollectionConfig(
                StaticCollectionConfig {
                    name: item.name,
                    member_orgs_policy: Some(CollectionPolicyConfig {
                        payload: Some(collection_policy_config::Payload::SignaturePolicy(member)),
                    }),
                    required_peer_count: item.required_peer_count.unwrap_or(0),
                    maximum_peer_count: item.max_peer_count.unwrap_or(1),
                    block_to_live: item.block_to_live,
                    member_only_read: item.member_only_read,
                    member_only_write: item.member_only_write,
                    endorsement_policy,
                },
            )),
        });
    }
    Ok(CollectionConfigPackage { config })
}

/// Fabric's `createCollectionConfigPackage` for `--collections-config FILE`.
pub fn collections_from_file(file: &str) -> Result<Option<CollectionConfigPackage>, CliError> {
    if file.is_empty() {
        return Ok(None);
    }
    let invalid = |e: String| {
        CliError::Usage(format!(
            "invalid collection configuration in file {file}: {e}"
        ))
    };
    let bytes = std::fs::read(file).map_err(|e| {
        invalid(format!(
            "could not read file '{file}': {}",
            go_io_error("open", Path::new(file), &e)
        ))
    })?;
    collection_config_from_json(&bytes)
        .map(Some)
        .map_err(invalid)
}

impl Definition {
    /// The policy and collections of the flags.
    pub fn from_args(args: &DefinitionArgs) -> Result<Self, CliError> {
        Ok(Self {
            validation_parameter: policy_bytes(
                &args.signature_policy,
                &args.channel_config_policy,
            )?,
            collections: collections_from_file(&args.collections_config)?,
        })
    }
}

/// Fabric's checks of the definition flags (`Validate`).
pub fn validate_definition(args: &DefinitionArgs) -> Result<(), CliError> {
    if args.channel_id.is_empty() {
        return Err(CliError::Usage(
            "The required parameter 'channelID' is empty. Rerun the command with -C flag".into(),
        ));
    }
    if args.name.is_empty() {
        return Err(CliError::Usage(
            "The required parameter 'name' is empty. Rerun the command with -n flag".into(),
        ));
    }
    if args.version.is_empty() {
        return Err(CliError::Usage(
            "The required parameter 'version' is empty. Rerun the command with -v flag".into(),
        ));
    }
    if args.sequence == 0 {
        return Err(CliError::Usage(
            "The required parameter 'sequence' is empty. Rerun the command with --sequence flag"
                .into(),
        ));
    }
    Ok(())
}

/// `ApproveChaincodeDefinitionForMyOrgArgs` from the flags: the package id as a local
/// source, or `Unavailable` when none was given.
pub fn approve_args(
    args: &DefinitionArgs,
    def: &Definition,
) -> ApproveChaincodeDefinitionForMyOrgArgs {
    let source = if args.package_id.is_empty() {
        chaincode_source::Type::Unavailable(chaincode_source::Unavailable {})
    } else {
        chaincode_source::Type::LocalPackage(chaincode_source::Local {
            package_id: args.package_id.clone(),
        })
    };
    ApproveChaincodeDefinitionForMyOrgArgs {
        sequence: args.sequence,
        name: args.name.clone(),
        version: args.version.clone(),
        endorsement_plugin: args.endorsement_plugin.clone(),
        validation_plugin: args.validation_plugin.clone(),
        validation_parameter: def.validation_parameter.clone(),
        collections: def.collections.clone(),
        init_required: args.init_required,
        source: Some(ChaincodeSource {
            r#type: Some(source),
        }),
    }
}

/// `CommitChaincodeDefinitionArgs` from the flags.
pub fn commit_args(args: &DefinitionArgs, def: &Definition) -> CommitChaincodeDefinitionArgs {
    CommitChaincodeDefinitionArgs {
        sequence: args.sequence,
        name: args.name.clone(),
        version: args.version.clone(),
        endorsement_plugin: args.endorsement_plugin.clone(),
        validation_plugin: args.validation_plugin.clone(),
        validation_parameter: def.validation_parameter.clone(),
        collections: def.collections.clone(),
        init_required: args.init_required,
    }
}

/// `CheckCommitReadinessArgs` from the flags.
pub fn readiness_args(args: &DefinitionArgs, def: &Definition) -> CheckCommitReadinessArgs {
    CheckCommitReadinessArgs {
        sequence: args.sequence,
        name: args.name.clone(),
        version: args.version.clone(),
        endorsement_plugin: args.endorsement_plugin.clone(),
        validation_plugin: args.validation_plugin.clone(),
        validation_parameter: def.validation_parameter.clone(),
        collections: def.collections.clone(),
        init_required: args.init_required,
    }
}

/// Which transaction a definition command submits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submit {
    /// `approveformyorg`.
    Approve,
    /// `commit`.
    Commit,
}

/// `approveformyorg` / `commit`: endorse on every peer, assemble, broadcast, and wait for
/// the validation code on every peer unless `--waitForEvent=false`.
pub async fn submit_definition(
    config: &PeerConfig,
    log: &Logger,
    orderer: &OrdererArgs,
    args: &DefinitionArgs,
    kind: Submit,
) -> Result<(), CliError> {
    let command = match kind {
        Submit::Approve => "approveformyorg",
        Submit::Commit => "commit",
    };
    let def = Definition::from_args(args)?;
    let (signer, peers) = connect(config, &args.peers, command, true).await?;
    let mut broadcaster = connect_orderer(&signer, &peers[0], orderer, &args.channel_id, log)
        .await
        .map_err(|e| CliError::Client(format!("failed to retrieve broadcast client: {e}")))?;
    validate_definition(args)?;

    let (function, arg_bytes) = match kind {
        Submit::Approve => (APPROVE_FUNC, approve_args(args, &def).encode_to_vec()),
        Submit::Commit => (COMMIT_FUNC, commit_args(args, &def).encode_to_vec()),
    };
    let (proposal, tx_id) =
        lifecycle_proposal(&args.channel_id, function, arg_bytes, signer.creator());
    let signed = sign(&proposal, &signer)
        .map_err(|e| CliError::Client(format!("failed to create signed proposal: {e}")))?;
    let mut responses = Vec::with_capacity(peers.len());
    for peer in &peers {
        let response = peer
            .endorser
            .clone()
            .process_proposal(signed.clone())
            .await
            .map_err(|s| {
                CliError::Client(format!("failed to endorse proposal: {}", rpc_error(&s)))
            })?
            .into_inner();
        responses.push(response);
    }
    let first = responses[0]
        .response
        .as_ref()
        .ok_or_else(|| CliError::Response("received proposal response with nil response".into()))?;
    if first.status != 200 {
        return Err(CliError::Response(format!(
            "proposal failed with status: {} - {}",
            first.status, first.message
        )));
    }
    let envelope = create_signed_tx(&proposal, &signer, &responses)
        .map_err(|e| CliError::Response(format!("failed to create signed transaction: {e}")))?;
    let group = if args.wait_for_event {
        Some(
            DeliverGroup::connect(
                &peers,
                &args.channel_id,
                &tx_id,
                &signer,
                args.wait_for_event_timeout,
            )
            .await?,
        )
    } else {
        None
    };
    broadcaster
        .send(envelope)
        .await
        .map_err(|e| CliError::Response(format!("failed to send transaction: {e}")))?;
    if let Some(group) = group {
        group.wait(log).await?;
    }
    Ok(())
}

/// The Broadcast stream to `-o`, or, without `-o`, to the first orderer endpoint of the
/// channel's configuration (read from the peer's `cscc` `GetChannelConfig`, as Fabric's
/// `GetOrdererEndpointOfChain`). The error is the reason only.
pub async fn connect_orderer(
    signer: &SigningIdentity,
    peer: &PeerConn,
    orderer: &OrdererArgs,
    channel_id: &str,
    log: &Logger,
) -> Result<Broadcaster, String> {
    if !orderer.orderer.is_empty() {
        return Broadcaster::connect(orderer).await;
    }
    let endpoints = orderer_endpoints(signer, peer, channel_id)
        .await
        .map_err(|e| format!("error getting channel ({channel_id}) orderer endpoint: {e}"))?;
    let Some(first) = endpoints.first() else {
        return Err(format!(
            "no orderer endpoints retrieved for channel {channel_id}, pass orderer endpoint \
             with -o flag instead"
        ));
    };
    log.info(
        LIFECYCLE_CMD,
        "setOrdererClient",
        &format!("Retrieved channel ({channel_id}) orderer endpoint: {first}"),
    );
    let with_address = OrdererArgs {
        orderer: first.clone(),
        ..orderer.clone()
    };
    Broadcaster::connect(&with_address).await
}

/// The orderer endpoints of `channel_id`'s configuration: the orderer orgs' `Endpoints`,
/// else the legacy global `OrdererAddresses`.
pub async fn orderer_endpoints(
    signer: &SigningIdentity,
    peer: &PeerConn,
    channel_id: &str,
) -> Result<Vec<String>, String> {
    let (proposal, _) = super::channel::cli_proposal(
        HeaderType::Config,
        "",
        CSCC,
        vec![b"GetChannelConfig".to_vec(), channel_id.as_bytes().to_vec()],
        signer.creator(),
    );
    let signed = protoutil::sign_proposal(&proposal, signer)
        .map_err(|e| format!("error creating signed GetChannelConfig proposal: {e}"))?;
    let response = peer
        .endorser
        .clone()
        .process_proposal(signed)
        .await
        .map_err(|s| format!("error endorsing GetChannelConfig: {}", rpc_error(&s)))?
        .into_inner();
    let r = response.response.unwrap_or_default();
    if r.status != 0 && r.status != 200 {
        return Err(format!(
            "error bad proposal response {}: {}",
            r.status, r.message
        ));
    }
    let config = Config::decode(r.payload.as_slice())
        .map_err(|e| format!("error unmarshalling channel config: {e}"))?;
    let bundle = ChannelConfig::from_config(channel_id, &config)
        .map_err(|e| format!("error loading channel config: {e}"))?;
    let orderer = bundle
        .orderer()
        .ok_or("missing OrdererConfig in channel config")?;
    let org_endpoints: Vec<String> = orderer
        .organizations
        .values()
        .flat_map(|o| o.endpoints.iter().cloned())
        .collect();
    if org_endpoints.is_empty() {
        Ok(bundle.orderer_addresses().to_vec())
    } else {
        Ok(org_endpoints)
    }
}

/// `peer lifecycle chaincode checkcommitreadiness`: what it prints.
pub async fn check_commit_readiness(
    config: &PeerConfig,
    args: &DefinitionArgs,
) -> Result<String, CliError> {
    let def = Definition::from_args(args)?;
    let (signer, peers) = connect(config, &args.peers, "checkcommitreadiness", false).await?;
    validate_definition(args)?;
    let (proposal, _) = lifecycle_proposal(
        &args.channel_id,
        CHECK_COMMIT_READINESS_FUNC,
        readiness_args(args, &def).encode_to_vec(),
        signer.creator(),
    );
    let payload = query_one(&peers[0], &signer, &proposal, Failure::Query).await?;
    let result: CheckCommitReadinessResult = decode(&payload)?;
    Ok(format_readiness(args, &result))
}

/// The `checkcommitreadiness` output (text or JSON).
pub fn format_readiness(args: &DefinitionArgs, result: &CheckCommitReadinessResult) -> String {
    if wants_json(&args.output) {
        return format!("{}\n", json::commit_readiness(result).indented());
    }
    let mut out = format!(
        "Chaincode definition for chaincode '{}', version '{}', sequence '{}' on channel '{}' \
         approval status by org:\n",
        args.name, args.version, args.sequence, args.channel_id
    );
    let mut orgs: Vec<&String> = result.approvals.keys().collect();
    orgs.sort();
    for org in orgs {
        out.push_str(&format!("{org}: {}\n", result.approvals[org]));
    }
    out
}

// ---------------------------------------------------------------------------------------
// queryapproved, querycommitted

/// `peer lifecycle chaincode queryapproved -C ch -n name [--sequence N]`.
pub async fn query_approved(
    config: &PeerConfig,
    args: &QueryApprovedArgs,
) -> Result<String, CliError> {
    let (signer, peers) = connect(config, &args.peers, "queryapproved", false).await?;
    if args.channel_id.is_empty() {
        return Err(CliError::Usage(
            "The required parameter 'channelID' is empty. Rerun the command with -C flag".into(),
        ));
    }
    if args.name.is_empty() {
        return Err(CliError::Usage(
            "The required parameter 'name' is empty. Rerun the command with -n flag".into(),
        ));
    }
    let (proposal, _) = lifecycle_proposal(
        &args.channel_id,
        QUERY_APPROVED_FUNC,
        QueryApprovedChaincodeDefinitionArgs {
            name: args.name.clone(),
            sequence: args.sequence,
        }
        .encode_to_vec(),
        signer.creator(),
    );
    let payload = query_one(&peers[0], &signer, &proposal, Failure::Query).await?;
    let result: QueryApprovedChaincodeDefinitionResult = decode(&payload)?;
    Ok(format_approved(args, &result))
}

/// The `queryapproved` output (text or JSON).
pub fn format_approved(
    args: &QueryApprovedArgs,
    result: &QueryApprovedChaincodeDefinitionResult,
) -> String {
    if wants_json(&args.output) {
        return format!("{}\n", json::approved_definition(result).indented());
    }
    let package_id = match result.source.as_ref().and_then(|s| s.r#type.as_ref()) {
        Some(chaincode_source::Type::LocalPackage(local)) => local.package_id.as_str(),
        _ => "",
    };
    format!(
        "Approved chaincode definition for chaincode '{}' on channel '{}':\nsequence: {}, \
         version: {}, init-required: {}, package-id: {package_id}, endorsement plugin: {}, \
         validation plugin: {}\n",
        args.name,
        args.channel_id,
        result.sequence,
        result.version,
        result.init_required,
        result.endorsement_plugin,
        result.validation_plugin
    )
}

/// `peer lifecycle chaincode querycommitted -C ch [-n name]`.
pub async fn query_committed(
    config: &PeerConfig,
    args: &QueryCommittedArgs,
) -> Result<String, CliError> {
    let (signer, peers) = connect(config, &args.peers, "querycommitted", false).await?;
    if args.channel_id.is_empty() {
        return Err(CliError::Usage("channel name must be specified".into()));
    }
    let (function, arg_bytes) = if args.name.is_empty() {
        (
            QUERY_DEFINITIONS_FUNC,
            QueryChaincodeDefinitionsArgs {}.encode_to_vec(),
        )
    } else {
        (
            QUERY_DEFINITION_FUNC,
            QueryChaincodeDefinitionArgs {
                name: args.name.clone(),
            }
            .encode_to_vec(),
        )
    };
    let (proposal, _) = lifecycle_proposal(&args.channel_id, function, arg_bytes, signer.creator());
    let payload = query_one(&peers[0], &signer, &proposal, Failure::Query).await?;
    if args.name.is_empty() {
        let result: QueryChaincodeDefinitionsResult = decode(&payload)?;
        Ok(format_committed_all(args, &result))
    } else {
        let result: QueryChaincodeDefinitionResult = decode(&payload)?;
        Ok(format_committed_one(args, &result))
    }
}

/// The `querycommitted -n name` output (text or JSON).
pub fn format_committed_one(
    args: &QueryCommittedArgs,
    result: &QueryChaincodeDefinitionResult,
) -> String {
    if wants_json(&args.output) {
        return format!("{}\n", json::committed_definition(result).indented());
    }
    let mut orgs: Vec<&String> = result.approvals.keys().collect();
    orgs.sort();
    let approvals: Vec<String> = orgs
        .into_iter()
        .map(|o| format!("{o}: {}", result.approvals[o]))
        .collect();
    format!(
        "Committed chaincode definition for chaincode '{}' on channel '{}':\nVersion: {}, \
         Sequence: {}, Endorsement Plugin: {}, Validation Plugin: {}, Approvals: [{}]\n",
        args.name,
        args.channel_id,
        result.version,
        result.sequence,
        result.endorsement_plugin,
        result.validation_plugin,
        approvals.join(", ")
    )
}

/// The `querycommitted` output without a name (text or JSON).
pub fn format_committed_all(
    args: &QueryCommittedArgs,
    result: &QueryChaincodeDefinitionsResult,
) -> String {
    if wants_json(&args.output) {
        return format!("{}\n", json::committed_definitions(result).indented());
    }
    let mut out = format!(
        "Committed chaincode definitions on channel '{}':\n",
        args.channel_id
    );
    for d in &result.chaincode_definitions {
        out.push_str(&format!(
            "Name: {}, Version: {}, Sequence: {}, Endorsement Plugin: {}, Validation Plugin: {}\n",
            d.name, d.version, d.sequence, d.endorsement_plugin, d.validation_plugin
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_as_fabric_marshals_them() {
        assert!(policy_bytes("", "").expect("none").is_empty());
        let bytes = policy_bytes("OR('Org1MSP.peer','Org2MSP.peer')", "").expect("sig");
        let policy = ApplicationPolicy::decode(bytes.as_slice()).expect("decodes");
        assert!(matches!(
            policy.r#type,
            Some(application_policy::Type::SignaturePolicy(_))
        ));
        let bytes = policy_bytes("", "/Channel/Application/Endorsement").expect("ref");
        assert_eq!(
            ApplicationPolicy::decode(bytes.as_slice())
                .expect("decodes")
                .r#type,
            Some(application_policy::Type::ChannelConfigPolicyReference(
                "/Channel/Application/Endorsement".into()
            ))
        );
        assert_eq!(
            policy_bytes("a", "b").expect_err("both").to_string(),
            "cannot specify both \"--signature-policy\" and \"--channel-config-policy\""
        );
        assert_eq!(
            policy_bytes("OR(", "").expect_err("bad").to_string(),
            "invalid signature policy: OR("
        );
    }

    #[test]
    fn collections_config_json_like_fabric() {
        let json = br#"[
          {"name":"assetCollection","policy":"OR('Org1MSP.member', 'Org2MSP.member')",
           "requiredPeerCount":1,"maxPeerCount":3,"blockToLive":1000000,
           "memberOnlyRead":true,"memberOnlyWrite":true},
          {"name":"Org1MSPPrivateCollection","policy":"OR('Org1MSP.member')",
           "endorsementPolicy":{"signaturePolicy":"OR('Org1MSP.member')"}}
        ]"#;
        let package = collection_config_from_json(json).expect("parses");
        assert_eq!(package.config.len(), 2);
        let statics: Vec<&StaticCollectionConfig> = package
            .config
            .iter()
            .filter_map(|c| {
                c.payload
                    .as_ref()
                    .map(|collection_config::Payload::StaticCollectionConfig(s)| s)
            })
            .collect();
        assert_eq!(statics[0].name, "assetCollection");
        assert_eq!(statics[0].required_peer_count, 1);
        assert_eq!(statics[0].maximum_peer_count, 3);
        assert_eq!(statics[0].block_to_live, 1_000_000);
        assert!(statics[0].member_only_read && statics[0].member_only_write);
        assert!(statics[0].endorsement_policy.is_none());
        // Fabric's defaults: requiredPeerCount 0, maxPeerCount 1.
        assert_eq!(statics[1].required_peer_count, 0);
        assert_eq!(statics[1].maximum_peer_count, 1);
        assert!(statics[1].endorsement_policy.is_some());

        let err = collection_config_from_json(b"{").expect_err("bad json");
        assert!(
            err.starts_with("could not parse the collection configuration: "),
            "{err}"
        );
        let err = collection_config_from_json(br#"[{"name":"c","policy":"OR("}]"#)
            .expect_err("bad policy");
        assert!(err.starts_with("invalid policy OR("), "{err}");
    }

    #[test]
    fn definition_validation_messages() {
        let mut args = DefinitionArgs::default();
        let err = |a: &DefinitionArgs| validate_definition(a).expect_err("refused").to_string();
        assert_eq!(
            err(&args),
            "The required parameter 'channelID' is empty. Rerun the command with -C flag"
        );
        args.channel_id = "mychannel".into();
        assert_eq!(
            err(&args),
            "The required parameter 'name' is empty. Rerun the command with -n flag"
        );
        args.name = "basic".into();
        assert_eq!(
            err(&args),
            "The required parameter 'version' is empty. Rerun the command with -v flag"
        );
        args.version = "1.0".into();
        assert_eq!(
            err(&args),
            "The required parameter 'sequence' is empty. Rerun the command with --sequence flag"
        );
        args.sequence = 1;
        validate_definition(&args).expect("complete");
    }

    #[test]
    fn approve_source_is_local_or_unavailable() {
        let mut args = DefinitionArgs {
            channel_id: "mychannel".into(),
            name: "basic".into(),
            version: "1.0".into(),
            sequence: 2,
            init_required: true,
            ..DefinitionArgs::default()
        };
        let a = approve_args(&args, &Definition::default());
        assert_eq!(
            a.source.and_then(|s| s.r#type),
            Some(chaincode_source::Type::Unavailable(
                chaincode_source::Unavailable {}
            ))
        );
        assert!(a.init_required);
        args.package_id = "basic_1.0:abcd".into();
        let a = approve_args(&args, &Definition::default());
        assert_eq!(
            a.source.and_then(|s| s.r#type),
            Some(chaincode_source::Type::LocalPackage(
                chaincode_source::Local {
                    package_id: "basic_1.0:abcd".into()
                }
            ))
        );
        assert_eq!(a.sequence, 2);
        assert_eq!(a.name, "basic");
    }

    #[test]
    fn text_outputs_are_fabrics() {
        let args = DefinitionArgs {
            channel_id: "mychannel".into(),
            name: "basic".into(),
            version: "1.0".into(),
            sequence: 1,
            ..DefinitionArgs::default()
        };
        let result = CheckCommitReadinessResult {
            approvals: HashMap::from([("Org2MSP".into(), false), ("Org1MSP".into(), true)]),
        };
        assert_eq!(
            format_readiness(&args, &result),
            "Chaincode definition for chaincode 'basic', version '1.0', sequence '1' on channel \
             'mychannel' approval status by org:\nOrg1MSP: true\nOrg2MSP: false\n"
        );
        let q = QueryCommittedArgs {
            channel_id: "mychannel".into(),
            name: "basic".into(),
            ..QueryCommittedArgs::default()
        };
        let committed = QueryChaincodeDefinitionResult {
            sequence: 1,
            version: "1.0".into(),
            endorsement_plugin: "escc".into(),
            validation_plugin: "vscc".into(),
            approvals: HashMap::from([("Org2MSP".into(), true), ("Org1MSP".into(), true)]),
            ..QueryChaincodeDefinitionResult::default()
        };
        assert_eq!(
            format_committed_one(&q, &committed),
            "Committed chaincode definition for chaincode 'basic' on channel 'mychannel':\n\
             Version: 1.0, Sequence: 1, Endorsement Plugin: escc, Validation Plugin: vscc, \
             Approvals: [Org1MSP: true, Org2MSP: true]\n"
        );
        let qa = QueryApprovedArgs {
            channel_id: "mychannel".into(),
            name: "basic".into(),
            ..QueryApprovedArgs::default()
        };
        let approved = QueryApprovedChaincodeDefinitionResult {
            sequence: 1,
            version: "1.0".into(),
            endorsement_plugin: "escc".into(),
            validation_plugin: "vscc".into(),
            source: Some(ChaincodeSource {
                r#type: Some(chaincode_source::Type::LocalPackage(
                    chaincode_source::Local {
                        package_id: "basic_1.0:ab".into(),
                    },
                )),
            }),
            ..QueryApprovedChaincodeDefinitionResult::default()
        };
        assert_eq!(
            format_approved(&qa, &approved),
            "Approved chaincode definition for chaincode 'basic' on channel 'mychannel':\n\
             sequence: 1, version: 1.0, init-required: false, package-id: basic_1.0:ab, \
             endorsement plugin: escc, validation plugin: vscc\n"
        );
        let installed = QueryInstalledChaincodesResult {
            installed_chaincodes: vec![
                weft_proto::lifecycle::query_installed_chaincodes_result::InstalledChaincode {
                    package_id: "basic_1.0:ab".into(),
                    label: "basic_1.0".into(),
                    references: HashMap::new(),
                },
            ],
        };
        assert_eq!(
            format_installed(&installed, false),
            "Installed chaincodes on peer:\nPackage ID: basic_1.0:ab, Label: basic_1.0\n"
        );
    }
}
