//! Deploying a chaincode as `network.sh deployCC` does, through direct proposals to the
//! `_lifecycle` system chaincode with Fabric's protobuf messages: package →
//! InstallChaincode on both peers → ApproveChaincodeDefinitionForMyOrg by each org
//! (endorsed by its own peer, ordered, committed on both peers) →
//! CommitChaincodeDefinition (endorsed by both peers, as the channel's
//! `LifecycleEndorsement` MAJORITY requires).

use std::collections::HashMap;
use std::time::Instant;

use prost::Message;
use weft_proto::lifecycle::{
    ApproveChaincodeDefinitionForMyOrgArgs, ChaincodeSource, CommitChaincodeDefinitionArgs,
    InstallChaincodeArgs, InstallChaincodeResult, QueryChaincodeDefinitionArgs,
    QueryChaincodeDefinitionResult, chaincode_source,
};

use crate::client::{Clients, Invocation, submit};
use crate::error::NetworkError;
use crate::layout::CHANNEL;
use crate::package::{package_id, wasm_package};

/// The `_lifecycle` system chaincode's name.
pub const LIFECYCLE: &str = "_lifecycle";
/// The status `_lifecycle` answers for an undefined chaincode.
pub const NOT_FOUND: i32 = 404;

/// What to deploy.
#[derive(Debug, Clone)]
pub struct ChaincodeSpec {
    /// The chaincode name (`basic`).
    pub name: String,
    /// Its version (`1.0`).
    pub version: String,
    /// The definition's sequence; `None`: the committed one + 1, or 1.
    pub sequence: Option<i64>,
    /// A signature policy (`OR('Org1MSP.peer','Org2MSP.peer')`); `None`: the channel's
    /// default endorsement policy (`/Channel/Application/Endorsement`).
    pub signature_policy: Option<String>,
    /// The WASM module.
    pub module: Vec<u8>,
}

/// The committed definition of `name` on `mychannel`, if any.
pub async fn committed_definition(
    clients: &Clients,
    name: &str,
) -> Result<Option<QueryChaincodeDefinitionResult>, NetworkError> {
    let peer = &clients.peers[0];
    let args = QueryChaincodeDefinitionArgs {
        name: name.to_owned(),
    };
    let answer = peer
        .query(
            LIFECYCLE,
            CHANNEL,
            vec![b"QueryChaincodeDefinition".to_vec(), args.encode_to_vec()],
            clients.admins[0].as_ref(),
        )
        .await
        .map_err(|reason| NetworkError::Step {
            step: format!("query the definition of {name}"),
            reason,
            log: Some(peer.log.clone()),
        })?;
    match answer {
        Ok(payload) => QueryChaincodeDefinitionResult::decode(payload.as_slice())
            .map(Some)
            .map_err(|e| NetworkError::Step {
                step: format!("query the definition of {name}"),
                reason: e.to_string(),
                log: None,
            }),
        Err((NOT_FOUND, _)) => Ok(None),
        Err((status, message)) => Err(NetworkError::Step {
            step: format!("query the definition of {name}"),
            reason: format!("{status}: {message}"),
            log: Some(peer.log.clone()),
        }),
    }
}

/// The `validation_parameter` for `policy`: an `ApplicationPolicy` holding the parsed
/// signature policy, or empty (the lifecycle's default) when there is none.
fn validation_parameter(policy: Option<&str>) -> Result<Vec<u8>, NetworkError> {
    let Some(policy) = policy else {
        return Ok(Vec::new());
    };
    let envelope = weft_common::policy::dsl::parse(policy)
        .map_err(|e| NetworkError::Usage(format!("--signature-policy {policy:?}: {e}")))?;
    Ok(weft_proto::protos::ApplicationPolicy {
        r#type: Some(weft_proto::protos::application_policy::Type::SignaturePolicy(envelope)),
    }
    .encode_to_vec())
}

/// Deploys `spec` on `mychannel`, printing each step through `progress`; returns the
/// package id and the committed sequence.
pub async fn deploy(
    clients: &Clients,
    spec: &ChaincodeSpec,
    progress: &mut dyn FnMut(&str),
) -> Result<(String, i64), NetworkError> {
    let label = format!("{}_{}", spec.name, spec.version);
    let package = wasm_package(&label, &spec.name, &spec.module)?;
    let id = package_id(&label, &package);
    let sequence = match spec.sequence {
        Some(sequence) => sequence,
        None => committed_definition(clients, &spec.name)
            .await?
            .map_or(1, |d| d.sequence + 1),
    };
    let validation_parameter = validation_parameter(spec.signature_policy.as_deref())?;

    // Install on both peers at once.
    let started = Instant::now();
    let installs = futures::future::join_all(clients.peers.iter().zip(&clients.admins).map(
        |(peer, admin)| {
            let args = InstallChaincodeArgs {
                chaincode_install_package: package.clone(),
            };
            async move {
                let answer = peer
                    .query(
                        LIFECYCLE,
                        "",
                        vec![b"InstallChaincode".to_vec(), args.encode_to_vec()],
                        admin.as_ref(),
                    )
                    .await;
                (peer, answer)
            }
        },
    ))
    .await;
    for (peer, answer) in installs {
        let step = || format!("install {id} on {}", peer.spec.name());
        match answer {
            Ok(Ok(payload)) => {
                let result = InstallChaincodeResult::decode(payload.as_slice()).map_err(|e| {
                    NetworkError::Step {
                        step: step(),
                        reason: e.to_string(),
                        log: None,
                    }
                })?;
                if result.package_id != id {
                    return Err(NetworkError::Step {
                        step: step(),
                        reason: format!("the peer computed package id {}", result.package_id),
                        log: Some(peer.log.clone()),
                    });
                }
            }
            Ok(Err((_, message))) if message.contains("already successfully installed") => {}
            Ok(Err((status, message))) => {
                return Err(NetworkError::Step {
                    step: step(),
                    reason: format!("{status}: {message}"),
                    log: Some(peer.log.clone()),
                });
            }
            Err(reason) => {
                return Err(NetworkError::Step {
                    step: step(),
                    reason,
                    log: Some(peer.log.clone()),
                });
            }
        }
    }
    progress(&format!(
        "installed {id} on {} peers ({:.1}s)",
        clients.peers.len(),
        started.elapsed().as_secs_f64()
    ));

    // Each org approves, endorsed by its own peer; both peers must commit both approvals
    // before the commit is endorsed.
    let started = Instant::now();
    let all: Vec<_> = clients.peers.iter().collect();
    let approvals = futures::future::join_all(clients.peers.iter().zip(&clients.admins).map(
        |(peer, admin)| {
            let args = ApproveChaincodeDefinitionForMyOrgArgs {
                sequence,
                name: spec.name.clone(),
                version: spec.version.clone(),
                validation_parameter: validation_parameter.clone(),
                source: Some(ChaincodeSource {
                    r#type: Some(chaincode_source::Type::LocalPackage(
                        chaincode_source::Local {
                            package_id: id.clone(),
                        },
                    )),
                }),
                ..Default::default()
            };
            let all = &all;
            async move {
                let step = format!(
                    "approve {} (sequence {sequence}) for {}",
                    spec.name,
                    peer.spec.mspid()
                );
                let result = submit(
                    &clients.orderer,
                    &[peer],
                    all,
                    Invocation {
                        chaincode: LIFECYCLE,
                        args: vec![
                            b"ApproveChaincodeDefinitionForMyOrg".to_vec(),
                            args.encode_to_vec(),
                        ],
                        transient: HashMap::new(),
                        signer: admin,
                    },
                    &step,
                )
                .await;
                match result {
                    Err(NetworkError::Step { reason, .. })
                        if reason.contains("with unchanged content") =>
                    {
                        Ok(())
                    }
                    other => other.map(|_| ()),
                }
            }
        },
    ))
    .await;
    for approval in approvals {
        approval?;
    }
    progress(&format!(
        "approved {} sequence {sequence} for {} orgs ({:.1}s)",
        spec.name,
        clients.peers.len(),
        started.elapsed().as_secs_f64()
    ));

    let started = Instant::now();
    let args = CommitChaincodeDefinitionArgs {
        sequence,
        name: spec.name.clone(),
        version: spec.version.clone(),
        validation_parameter,
        ..Default::default()
    };
    submit(
        &clients.orderer,
        &all,
        &all,
        Invocation {
            chaincode: LIFECYCLE,
            args: vec![b"CommitChaincodeDefinition".to_vec(), args.encode_to_vec()],
            transient: HashMap::new(),
            signer: &clients.admins[0],
        },
        &format!("commit {} sequence {sequence}", spec.name),
    )
    .await?;
    progress(&format!(
        "committed {} sequence {sequence} on {CHANNEL} ({:.1}s)",
        spec.name,
        started.elapsed().as_secs_f64()
    ));
    Ok((id, sequence))
}
