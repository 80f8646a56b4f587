//! Phase A for one transaction: everything that depends only on the transaction, the
//! channel config and committed state (Fabric's `txvalidator/v20.validateTx`,
//! `validation.ValidateTransaction` and the plugin dispatcher). Runs in parallel.

use prost::Message;
use weft_common::channelconfig::ChannelConfig;
use weft_common::protoutil::{
    ProtoError, UnpackedEnvelope, UnpackedTransaction, unpack_endorser_transaction,
    unpack_envelope_bytes,
};
use weft_proto::common::HeaderType;
use weft_proto::protos::{ChaincodeEvent, TxValidationCode as Code};

use super::endorsement::{NsValidation, Policies, Signers};
use super::rwset::ParsedRwSet;
use super::{Invalid, ValidationError};
use crate::ledger::StateView;

/// What the parallel phase needs: the channel, committed state, and the namespaces'
/// validation info (resolved once per block).
pub(crate) struct TxContext<'a> {
    /// The channel config the block is validated against.
    pub channel: &'a ChannelConfig,
    /// Committed state (before this block).
    pub state: &'a dyn StateView,
    /// Per-namespace validation info.
    pub policies: Policies<'a>,
}

/// The phase A result of one transaction.
#[derive(Debug)]
pub(crate) struct TxCheck {
    /// `ChannelHeader.tx_id`, "" if the envelope did not get that far.
    pub txid: String,
    /// The outcome.
    pub outcome: Checked,
}

/// A phase A outcome.
#[derive(Debug)]
pub(crate) enum Checked {
    /// Invalid, with its final code.
    Invalid(Invalid),
    /// A well-formed, well-signed CONFIG transaction; its `ConfigEnvelope` bytes are
    /// checked in block order.
    Config(Vec<u8>),
    /// An endorser transaction that passed the structural checks.
    Endorser(Box<EndorserTx>),
}

/// An endorser transaction after phase A.
#[derive(Debug)]
pub(crate) struct EndorserTx {
    /// Its read-write set.
    pub rwset: ParsedRwSet,
    /// The namespaces validated, in name order, up to and including the first failure.
    pub namespaces: Vec<NsCheck>,
}

/// The validation of one namespace of a transaction.
#[derive(Debug)]
pub(crate) struct NsCheck {
    /// The namespace.
    pub namespace: String,
    /// `None` if the validation plugin accepted it.
    pub failure: Option<Invalid>,
}

fn invalid(code: Code, reason: impl Into<String>) -> Checked {
    Checked::Invalid(Invalid::new(code, reason))
}

fn proto_invalid(e: &ProtoError) -> Checked {
    invalid(
        e.tx_validation_code().unwrap_or(Code::InvalidOtherReason),
        e.to_string(),
    )
}

/// Phase A for the envelope bytes of one block entry.
pub(crate) fn check_tx(ctx: &TxContext<'_>, bytes: &[u8]) -> Result<TxCheck, ValidationError> {
    let envelope = match unpack_envelope_bytes(bytes) {
        Ok(e) => e,
        Err(e) => {
            return Ok(TxCheck {
                txid: String::new(),
                outcome: proto_invalid(&e),
            });
        }
    };
    let txid = envelope.tx_id().to_owned();
    let outcome = check_envelope(ctx, envelope)?;
    Ok(TxCheck { txid, outcome })
}

fn check_envelope(
    ctx: &TxContext<'_>,
    envelope: UnpackedEnvelope,
) -> Result<Checked, ValidationError> {
    if let Err(e) = envelope.check_common_header() {
        return Ok(proto_invalid(&e));
    }
    if let Err(reason) = check_creator(ctx.channel, &envelope) {
        return Ok(invalid(Code::BadCreatorSignature, reason));
    }
    let header_type = envelope.header_type();
    if header_type == HeaderType::EndorserTransaction as i32 {
        check_endorser_tx(ctx, envelope)
    } else if header_type == HeaderType::Config as i32 {
        if envelope.data.is_empty() {
            return Ok(invalid(
                Code::InvalidConfigTransaction,
                "config envelope is empty",
            ));
        }
        if envelope.channel_id() != ctx.channel.channel_id() {
            return Ok(wrong_channel(envelope.channel_id(), ctx.channel));
        }
        Ok(Checked::Config(envelope.data))
    } else {
        Ok(invalid(
            Code::UnsupportedTxPayload,
            format!("unsupported transaction type {header_type}"),
        ))
    }
}

/// The creator deserializes with the channel's MSPs, is valid, and signed the payload.
fn check_creator(channel: &ChannelConfig, envelope: &UnpackedEnvelope) -> Result<(), String> {
    let msps = channel.msp_manager();
    let creator = msps
        .deserialize_identity(envelope.creator())
        .map_err(|e| format!("MSP error: {e}"))?;
    msps.validate(&creator)
        .map_err(|e| format!("creator certificate is not valid: {e}"))?;
    creator
        .verify(&envelope.envelope.payload, &envelope.envelope.signature)
        .map_err(|e| format!("creator's signature over the payload is not valid: {e}"))
}

fn wrong_channel(found: &str, channel: &ChannelConfig) -> Checked {
    invalid(
        Code::TargetChainNotFound,
        format!(
            "transaction for channel {found:?} in a block of channel {:?}",
            channel.channel_id()
        ),
    )
}

fn check_endorser_tx(
    ctx: &TxContext<'_>,
    envelope: UnpackedEnvelope,
) -> Result<Checked, ValidationError> {
    let channel_id = envelope.channel_id().to_owned();
    let txid = envelope.tx_id().to_owned();
    // The header extension and chaincode action are decoded by the plugin dispatcher in
    // Fabric, after the channel and duplicate checks: their failures wait for those.
    let unpacked = match unpack_endorser_transaction(envelope) {
        Ok(tx) => Ok(tx),
        Err(e) => match e.tx_validation_code() {
            Some(Code::BadHeaderExtension | Code::BadResponsePayload) => Err(e),
            _ => return Ok(proto_invalid(&e)),
        },
    };
    if channel_id != ctx.channel.channel_id() {
        return Ok(wrong_channel(&channel_id, ctx.channel));
    }
    if ctx.state.contains_txid(&txid)? {
        return Ok(invalid(
            Code::DuplicateTxid,
            "transaction id already in the ledger",
        ));
    }
    match unpacked {
        Ok(tx) => dispatch(ctx, &tx),
        Err(e) => Ok(proto_invalid(&e)),
    }
}

/// The plugin dispatcher: chaincode identity checks, rwset, then the validation plugin
/// for each namespace to validate (the invoked chaincode and every namespace written),
/// in name order, stopping at the first failure.
fn dispatch(ctx: &TxContext<'_>, tx: &UnpackedTransaction) -> Result<Checked, ValidationError> {
    let action = &tx.chaincode_action;
    let rwset = match ParsedRwSet::parse(&action.results) {
        Ok(r) => r,
        Err(reason) => return Ok(invalid(Code::BadRwset, reason)),
    };
    let Some(header_id) = tx.header_extension.chaincode_id.as_ref() else {
        return Ok(invalid(
            Code::InvalidOtherReason,
            "nil ChaincodeId in header extension",
        ));
    };
    let Some(action_id) = action.chaincode_id.as_ref() else {
        return Ok(invalid(
            Code::InvalidOtherReason,
            "nil ChaincodeId in ChaincodeAction",
        ));
    };
    let chaincode = header_id.name.as_str();
    if chaincode.is_empty() {
        return Ok(invalid(Code::InvalidChaincode, "invalid chaincode ID"));
    }
    if chaincode != action_id.name {
        return Ok(invalid(
            Code::InvalidChaincode,
            format!("inconsistent ccid info ({chaincode}/{})", action_id.name),
        ));
    }
    if action_id.version.is_empty() {
        return Ok(invalid(Code::InvalidChaincode, "invalid chaincode version"));
    }
    if !action.events.is_empty() {
        match ChaincodeEvent::decode(action.events.as_slice()) {
            Err(e) => {
                return Ok(invalid(
                    Code::InvalidOtherReason,
                    format!("invalid chaincode event: {e}"),
                ));
            }
            Ok(event) if event.chaincode_id != chaincode => {
                return Ok(invalid(
                    Code::InvalidOtherReason,
                    "chaincode event chaincode id does not match chaincode action chaincode id",
                ));
            }
            Ok(_) => {}
        }
    }
    if let Some(ns) = rwset.duplicate_namespace() {
        return Ok(invalid(
            Code::IllegalWriteset,
            format!("duplicate namespace '{ns}' in txRWSet"),
        ));
    }

    let mut to_validate = std::collections::BTreeSet::from([chaincode]);
    to_validate.extend(
        rwset
            .namespaces
            .iter()
            .filter(|ns| ns.writes())
            .map(|ns| ns.namespace.as_str()),
    );
    let signers = Signers::new(tx.endorsements_signed_data(), ctx.channel);
    let mut namespaces = Vec::new();
    for ns in to_validate {
        let failure = match &*ctx.policies.namespace(ns)? {
            NsValidation::Undefined(reason) => {
                Some(Invalid::new(Code::InvalidChaincode, reason.clone()))
            }
            NsValidation::Vscc(info) => ctx
                .policies
                .check_namespace(ns, info, rwset.namespace(ns), &signers)?
                .err()
                .map(|reason| Invalid::new(Code::EndorsementPolicyFailure, reason)),
        };
        let failed = failure.is_some();
        namespaces.push(NsCheck {
            namespace: ns.to_owned(),
            failure,
        });
        if failed {
            break;
        }
    }
    Ok(Checked::Endorser(Box::new(EndorserTx {
        rwset,
        namespaces,
    })))
}
