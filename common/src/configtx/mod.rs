//! Channel config updates: what an orderer does with a CONFIG_UPDATE envelope, and how
//! tools build one. Pure logic, no I/O.
//!
//! A `ConfigUpdate` carries a *read set* (elements the update depends on, at the versions
//! read) and a *write set* (the elements it sets). [`propose_update`] checks it against
//! the current config the way Fabric's `configtx` validator does:
//!
//! - every read-set element exists at the version read;
//! - the *delta* is every write-set element whose version differs from the read set's;
//!   a changed element must go to exactly its current version + 1, a new one to 0;
//! - each changed element's **current** mod_policy must be satisfied by the update's
//!   signatures (each signs `signature_header ‖ config_update`, the raw bytes received).
//!   A relative mod_policy (`Admins`) resolves in the element's group (for a group:
//!   the group itself; `/Channel/Orderer/BatchSize` → `/Channel/Orderer/Admins`), an
//!   absolute one (`/Channel/Orderer/Admins`) as is. New elements need no signatures of
//!   their own: adding one means bumping its parent group, whose policy then applies;
//! - the next config is the current one with the delta applied, sequence + 1. A group
//!   entry of the delta also fixes the group's membership, so a bumped group that lists
//!   fewer members removes the others. (As in Fabric, a new element whose parent group
//!   is not bumped is accepted but does not appear in the result.)
//!
//! The result must then parse as a [`ChannelConfig`] and respect the transition rules
//! (orgs keep their MSP IDs, sections are not dropped, consensus type and maintenance
//! mode change only as Fabric's maintenance filter allows).
//!
//! [`compute_update`] builds minimal read/write sets from two configs (configtxlator's
//! `compute_update`), [`sign_config_update`] signs one, [`config_update_tx`] wraps it for
//! broadcast, [`config_update_envelope_from`] unwraps it on the orderer and
//! [`wrap_config`] produces the orderer-signed CONFIG envelope.
//!
//! Every failure is a typed [`ConfigTxError`]; [`ConfigTxError::status`] gives the
//! broadcast status Fabric answers with.

mod compute;
mod configmap;
mod transition;
mod update;

use std::borrow::Cow;

use prost::Message;
use weft_proto::common::{
    Config, ConfigEnvelope, ConfigSignature, ConfigUpdate, ConfigUpdateEnvelope, Envelope,
    HeaderType, SignatureHeader, Status,
};

use crate::channelconfig::{ChannelConfig, ConfigError};
use crate::crypto::{CryptoError, Signer};
use crate::policy::{PolicyManager, SignedData};
use crate::protoutil::{ProtoError, create_nonce, create_signed_envelope, unpack_envelope};

pub use compute::compute_update;

/// Why a config update was refused or could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigTxError {
    /// Bytes that do not decode, or a required part that is absent.
    #[error("malformed config update: {0}")]
    Malformed(String),
    /// The envelope around the update could not be taken apart or built.
    #[error("config update envelope: {0}")]
    Envelope(#[from] ProtoError),
    /// The `ConfigUpdate` names another channel.
    #[error("config update for channel {found:?}, but this is channel {expected:?}")]
    ChannelMismatch {
        /// The channel being updated.
        expected: String,
        /// The channel the update names.
        found: String,
    },
    /// A group, value or policy name that is not a legal config ID.
    #[error("illegal key {path}: {reason}")]
    InvalidKey {
        /// The element, e.g. `[Value] /Channel/Bad Key`.
        path: String,
        /// What is wrong with the name.
        reason: String,
    },
    /// A changed element's new mod_policy is empty or not a well-formed policy path.
    #[error("invalid mod_policy for {path}: {reason}")]
    InvalidModPolicy {
        /// The element.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A read-set element is absent from the current config or at another version.
    #[error(
        "read set requires {path} at version {expected}, but it is {}",
        describe_version(*current)
    )]
    ReadSetMismatch {
        /// The element, e.g. `[Value] /Channel/Orderer/BatchSize`.
        path: String,
        /// The version in the read set.
        expected: u64,
        /// The current version (`None`: no such element).
        current: Option<u64>,
    },
    /// A write-set element at a version other than current + 1 (or 0 for a new one).
    #[error(
        "attempted to set {path} to version {proposed}, but it is {}",
        describe_version(*current)
    )]
    VersionSkip {
        /// The element.
        path: String,
        /// The version in the write set.
        proposed: u64,
        /// The current version (`None`: a new element, which must be at 0).
        current: Option<u64>,
    },
    /// The signatures do not satisfy the mod_policy of a changed element.
    #[error("policy {policy} for {path} not satisfied: {reason}")]
    PolicyNotSatisfied {
        /// The element.
        path: String,
        /// The absolute path of the policy evaluated (empty if the element has none).
        policy: String,
        /// Why it failed.
        reason: String,
    },
    /// The write set changes nothing.
    #[error("update has no changes")]
    NoChanges,
    /// The current config cannot be read as a channel config.
    #[error("the current config is invalid: {0}")]
    InvalidCurrent(ConfigError),
    /// The config the update produces is not a valid channel config.
    #[error("the updated config is invalid: {0}")]
    InvalidResult(ConfigError),
    /// A valid config, but a change Fabric does not allow (MSP ID change, section
    /// removal, consensus type or maintenance mode rules).
    #[error("change not allowed: {0}")]
    ForbiddenChange(String),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signing(#[from] CryptoError),
}

fn describe_version(version: Option<u64>) -> String {
    match version {
        Some(v) => format!("at version {v}"),
        None => "absent".to_owned(),
    }
}

impl ConfigTxError {
    /// The broadcast status Fabric answers a refused update with: always BAD_REQUEST.
    /// (Fabric's orderer answers FORBIDDEN only when the envelope fails the channel's
    /// Writers check, which happens before the update is proposed; an unsatisfied
    /// mod_policy is a BAD_REQUEST there.)
    pub fn status(&self) -> Status {
        Status::BadRequest
    }

    /// Whether the update was refused for lack of signatures
    /// ([`ConfigTxError::PolicyNotSatisfied`]).
    pub fn is_policy_failure(&self) -> bool {
        matches!(self, ConfigTxError::PolicyNotSatisfied { .. })
    }
}

/// Checks a config update against the `current` config of channel `channel_id` and
/// returns the next config (sequence + 1). `policies` are the current config's policies.
///
/// See the [module documentation](self) for the rules. On top of Fabric's configtx
/// validator, this also runs what Fabric's orderer runs next: the result must parse
/// ([`ConfigTxError::InvalidResult`]) and respect the transition rules
/// ([`ConfigTxError::ForbiddenChange`]).
pub fn propose_update(
    current: &Config,
    channel_id: &str,
    update_env: &ConfigUpdateEnvelope,
    policies: &PolicyManager,
) -> Result<Config, ConfigTxError> {
    let (next, update) = update::apply_update(current, channel_id, update_env, policies)?;
    let next_channel =
        ChannelConfig::from_config(channel_id, &next).map_err(ConfigTxError::InvalidResult)?;
    let current_channel =
        ChannelConfig::from_config(channel_id, current).map_err(ConfigTxError::InvalidCurrent)?;
    transition::check_transition(&current_channel, &next_channel, &update)?;
    Ok(next)
}

/// The signatures of a config update as policy input: for each `ConfigSignature`,
/// data = `signature_header ‖ config_update` (the raw bytes), identity = the signature
/// header's creator. Fails if a signature header does not decode.
pub fn signed_data(
    update_env: &ConfigUpdateEnvelope,
) -> Result<Vec<SignedData<'_>>, ConfigTxError> {
    update_env
        .signatures
        .iter()
        .map(|signature| {
            let header =
                SignatureHeader::decode(signature.signature_header.as_slice()).map_err(|e| {
                    ConfigTxError::Malformed(format!("cannot decode a signature header: {e}"))
                })?;
            let data = [
                signature.signature_header.as_slice(),
                update_env.config_update.as_slice(),
            ]
            .concat();
            Ok(SignedData {
                data: Cow::Owned(data),
                identity: Cow::Owned(header.creator),
                signature: Cow::Borrowed(signature.signature.as_slice()),
            })
        })
        .collect()
}

/// The `ConfigUpdateEnvelope` inside a CONFIG_UPDATE envelope (as broadcast by a client).
/// Fails if the envelope does not unpack, is of another type, or its data does not decode.
pub fn config_update_envelope_from(
    envelope: &Envelope,
) -> Result<ConfigUpdateEnvelope, ConfigTxError> {
    let unpacked = unpack_envelope(envelope)?;
    unpacked.require_type(HeaderType::ConfigUpdate)?;
    ConfigUpdateEnvelope::decode(unpacked.data.as_slice())
        .map_err(|e| ConfigTxError::Malformed(format!("cannot decode ConfigUpdateEnvelope: {e}")))
}

/// The orderer-signed CONFIG envelope carrying `ConfigEnvelope{new_config, last_update}`
/// on `channel_id` (epoch 0, as Fabric's orderer creates it). `last_update` is the
/// CONFIG_UPDATE envelope as received.
pub fn wrap_config(
    new_config: Config,
    last_update: Envelope,
    channel_id: &str,
    signer: &dyn Signer,
) -> Result<Envelope, ConfigTxError> {
    let config_envelope = ConfigEnvelope {
        config: Some(new_config),
        last_update: Some(last_update),
    };
    Ok(create_signed_envelope(
        HeaderType::Config,
        channel_id,
        signer,
        &config_envelope.encode_to_vec(),
        0,
    )?)
}

/// A signature over a marshaled `ConfigUpdate`: a fresh signature header (the signer's
/// identity, a random nonce) and the signature over `signature_header ‖ update_bytes`.
pub fn sign_config_update(
    update_bytes: &[u8],
    signer: &dyn Signer,
) -> Result<ConfigSignature, ConfigTxError> {
    let signature_header = SignatureHeader {
        creator: signer.creator().to_vec(),
        nonce: create_nonce(),
    }
    .encode_to_vec();
    let signature = signer.sign(&[signature_header.as_slice(), update_bytes].concat())?;
    Ok(ConfigSignature {
        signature_header,
        signature,
    })
}

/// A `ConfigUpdateEnvelope` for `update`, signed by each of `signers` in order.
pub fn signed_config_update(
    update: &ConfigUpdate,
    signers: &[&dyn Signer],
) -> Result<ConfigUpdateEnvelope, ConfigTxError> {
    let config_update = update.encode_to_vec();
    let signatures = signers
        .iter()
        .map(|signer| sign_config_update(&config_update, *signer))
        .collect::<Result<_, _>>()?;
    Ok(ConfigUpdateEnvelope {
        config_update,
        signatures,
    })
}

/// The CONFIG_UPDATE envelope a client broadcasts: `update_env` on `channel_id`, signed
/// by `submitter`.
pub fn config_update_tx(
    channel_id: &str,
    update_env: &ConfigUpdateEnvelope,
    submitter: &dyn Signer,
) -> Result<Envelope, ConfigTxError> {
    Ok(create_signed_envelope(
        HeaderType::ConfigUpdate,
        channel_id,
        submitter,
        &update_env.encode_to_vec(),
        0,
    )?)
}

#[cfg(test)]
mod tests;
