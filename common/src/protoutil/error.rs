//! The typed error of every protoutil function, and its mapping onto `TxValidationCode`.

use std::fmt;

use weft_proto::protos::TxValidationCode;

use crate::crypto::CryptoError;

/// A named part of a Fabric message, used to say *where* decoding or a check failed.
///
/// The names are the protobuf message names (or the field that holds them), so an error
/// reads like Fabric's own ("failed to decode ChannelHeader: …").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// `common.Envelope`.
    Envelope,
    /// `common.Payload` (`Envelope.payload`).
    Payload,
    /// `common.Header` (`Payload.header` or `Proposal.header`).
    Header,
    /// `common.ChannelHeader` (`Header.channel_header`).
    ChannelHeader,
    /// `common.SignatureHeader` (`Header.signature_header`).
    SignatureHeader,
    /// `protos.SignedProposal`.
    SignedProposal,
    /// `protos.Proposal` (`SignedProposal.proposal_bytes`).
    Proposal,
    /// `protos.ChaincodeHeaderExtension` (`ChannelHeader.extension`).
    ChaincodeHeaderExtension,
    /// `protos.ChaincodeProposalPayload` (`Proposal.payload`).
    ChaincodeProposalPayload,
    /// `protos.ChaincodeInvocationSpec` (`ChaincodeProposalPayload.input`).
    ChaincodeInvocationSpec,
    /// `protos.ChaincodeSpec` inside the invocation spec.
    ChaincodeSpec,
    /// `protos.ChaincodeInput` inside the chaincode spec.
    ChaincodeInput,
    /// `protos.Transaction` (`Payload.data` of an endorser transaction).
    Transaction,
    /// The `SignatureHeader` in `TransactionAction.header`.
    ActionHeader,
    /// `protos.ChaincodeActionPayload` (`TransactionAction.payload`).
    ChaincodeActionPayload,
    /// `protos.ChaincodeEndorsedAction` (`ChaincodeActionPayload.action`).
    ChaincodeEndorsedAction,
    /// `protos.ProposalResponsePayload`.
    ProposalResponsePayload,
    /// `protos.ChaincodeAction` (`ProposalResponsePayload.extension`).
    ChaincodeAction,
    /// `common.BlockHeader`.
    BlockHeader,
    /// `common.Metadata` (an entry of `BlockMetadata.metadata`).
    Metadata,
    /// `common.OrdererBlockMetadata` (`Metadata.value` at index SIGNATURES).
    OrdererBlockMetadata,
    /// `common.LastConfig`.
    LastConfig,
    /// `common.ConfigEnvelope` (`Payload.data` of a CONFIG transaction).
    ConfigEnvelope,
}

impl Part {
    /// The protobuf name of the part.
    pub fn name(self) -> &'static str {
        match self {
            Part::Envelope => "Envelope",
            Part::Payload => "Payload",
            Part::Header => "Header",
            Part::ChannelHeader => "ChannelHeader",
            Part::SignatureHeader => "SignatureHeader",
            Part::SignedProposal => "SignedProposal",
            Part::Proposal => "Proposal",
            Part::ChaincodeHeaderExtension => "ChaincodeHeaderExtension",
            Part::ChaincodeProposalPayload => "ChaincodeProposalPayload",
            Part::ChaincodeInvocationSpec => "ChaincodeInvocationSpec",
            Part::ChaincodeSpec => "ChaincodeSpec",
            Part::ChaincodeInput => "ChaincodeInput",
            Part::Transaction => "Transaction",
            Part::ActionHeader => "TransactionAction.header (SignatureHeader)",
            Part::ChaincodeActionPayload => "ChaincodeActionPayload",
            Part::ChaincodeEndorsedAction => "ChaincodeEndorsedAction",
            Part::ProposalResponsePayload => "ProposalResponsePayload",
            Part::ChaincodeAction => "ChaincodeAction",
            Part::BlockHeader => "BlockHeader",
            Part::Metadata => "Metadata",
            Part::OrdererBlockMetadata => "OrdererBlockMetadata",
            Part::LastConfig => "LastConfig",
            Part::ConfigEnvelope => "ConfigEnvelope",
        }
    }

    /// The validation code a committing peer records when this part of a transaction
    /// envelope is broken, following the order of Fabric's commit-time checks.
    fn tx_validation_code(self) -> Option<TxValidationCode> {
        Some(match self {
            Part::Envelope => TxValidationCode::InvalidOtherReason,
            Part::Payload => TxValidationCode::BadPayload,
            Part::Header | Part::ChannelHeader | Part::SignatureHeader => {
                TxValidationCode::BadCommonHeader
            }
            Part::Transaction
            | Part::ActionHeader
            | Part::ChaincodeActionPayload
            | Part::ChaincodeEndorsedAction
            | Part::ProposalResponsePayload => TxValidationCode::InvalidEndorserTransaction,
            Part::ChaincodeHeaderExtension => TxValidationCode::BadHeaderExtension,
            Part::ChaincodeAction => TxValidationCode::BadResponsePayload,
            _ => return None,
        })
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything that can go wrong while building, unpacking or checking Fabric messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// Bytes that should hold `part` are not a valid protobuf encoding of it.
    #[error("failed to decode {part}: {source}")]
    Decode {
        /// What was being decoded.
        part: Part,
        /// The protobuf decoder's complaint.
        source: prost::DecodeError,
    },
    /// A required message is absent (`None` or not present on the wire).
    #[error("{0} is missing")]
    Missing(Part),
    /// A required field is empty.
    #[error("{part}.{field} is empty")]
    Empty {
        /// The message holding the field.
        part: Part,
        /// The field name.
        field: &'static str,
    },
    /// The channel header's type is not one this context accepts.
    #[error("invalid header type {header_type}")]
    HeaderTypeNotAllowed {
        /// The `ChannelHeader.type` found.
        header_type: i32,
    },
    /// The channel header's type is a valid one, but not the one this function handles.
    #[error("unexpected header type {found}, expected {expected}")]
    WrongHeaderType {
        /// The type this function handles.
        expected: i32,
        /// The `ChannelHeader.type` found.
        found: i32,
    },
    /// `ChannelHeader.epoch` is not zero (Fabric requires 0).
    #[error("invalid epoch {0} in ChannelHeader, expected 0")]
    NonZeroEpoch(u64),
    /// `ChannelHeader.tx_id` is not `hex(SHA-256(nonce ‖ creator))`.
    #[error("incorrectly computed txid '{found}', expected '{expected}'")]
    TxIdMismatch {
        /// The txid computed from nonce and creator.
        expected: String,
        /// The txid carried in the header.
        found: String,
    },
    /// An endorser transaction must carry exactly one action.
    #[error("only one action per transaction is supported, transaction contains {0}")]
    ActionCount(usize),
    /// The proposal hash recomputed at commit does not equal `ProposalResponsePayload.proposal_hash`.
    #[error("proposal hash does not match")]
    ProposalHashMismatch,
    /// No proposal responses were given to assemble a transaction from.
    #[error("at least one proposal response is required")]
    NoResponses,
    /// A proposal response carries a status outside `[200, 400)`.
    #[error("proposal response {index} was not successful: status {status}, message '{message}'")]
    UnsuccessfulResponse {
        /// Position of the response in the input.
        index: usize,
        /// `Response.status`.
        status: i32,
        /// `Response.message`.
        message: String,
    },
    /// A proposal response's payload differs from the first response's payload.
    #[error("proposal response payloads do not match (response {index} differs from response 0)")]
    ResponsePayloadMismatch {
        /// Position of the mismatching response.
        index: usize,
    },
    /// None of the proposal responses carries an endorsement.
    #[error("no endorsements in the proposal responses")]
    NoEndorsements,
    /// The signer failed to sign.
    #[error("signing failed: {0}")]
    Signing(#[from] CryptoError),
    /// A block's header number is not the expected one.
    #[error("block number {found}, expected {expected}")]
    BlockNumberMismatch {
        /// The number the caller expected.
        expected: u64,
        /// `BlockHeader.number`.
        found: u64,
    },
    /// A block's `previous_hash` is not the hash of the preceding header.
    #[error("previous hash of block {number} does not match the hash of block {}", number.wrapping_sub(1))]
    PreviousHashMismatch {
        /// The block's number.
        number: u64,
    },
    /// A block's `data_hash` is not SHA-256 of its data.
    #[error("data hash of block {number} does not match its data")]
    DataHashMismatch {
        /// The block's number.
        number: u64,
    },
    /// A block has no transactions.
    #[error("block {number} carries no transactions")]
    EmptyBlock {
        /// The block's number.
        number: u64,
    },
    /// A transaction in a block is not well formed (no payload, no signature, or its
    /// bytes are not the canonical encoding of the envelope they decode to).
    #[error("transaction {index} of the block is malformed: {reason}")]
    MalformedBlockTransaction {
        /// Position of the transaction in `BlockData.data`.
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The block has no metadata entry at this index.
    #[error("no block metadata at index {0}")]
    MissingMetadata(usize),
    /// The envelope index is beyond the block's data.
    #[error("envelope index {index} out of bounds (block has {len})")]
    EnvelopeIndex {
        /// The requested index.
        index: usize,
        /// The number of envelopes in the block.
        len: usize,
    },
    /// The block is not a config block.
    #[error("block is not a config block")]
    NotAConfigBlock,
}

impl ProtoError {
    /// Shorthand for a decode failure of `part`.
    pub fn decode(part: Part) -> impl FnOnce(prost::DecodeError) -> ProtoError {
        move |source| ProtoError::Decode { part, source }
    }

    /// The `TxValidationCode` a committing peer records for a transaction that fails
    /// with this error, or `None` when the error does not arise while validating a
    /// transaction envelope (building, signing, block-level checks).
    ///
    /// Decode/missing/empty errors map by the part they concern (Payload → BAD_PAYLOAD,
    /// headers → BAD_COMMON_HEADER, Transaction … ProposalResponsePayload →
    /// INVALID_ENDORSER_TRANSACTION, ChaincodeHeaderExtension → BAD_HEADER_EXTENSION,
    /// ChaincodeAction → BAD_RESPONSE_PAYLOAD, Envelope → INVALID_OTHER_REASON).
    /// As in Fabric 2.5, NIL_ENVELOPE is never produced: empty envelope bytes decode to an
    /// envelope without a header and fail as BAD_COMMON_HEADER.
    pub fn tx_validation_code(&self) -> Option<TxValidationCode> {
        match self {
            ProtoError::Decode { part, .. } | ProtoError::Missing(part) => {
                part.tx_validation_code()
            }
            ProtoError::Empty { part, .. } => part.tx_validation_code(),
            ProtoError::HeaderTypeNotAllowed { .. } | ProtoError::NonZeroEpoch(_) => {
                Some(TxValidationCode::BadCommonHeader)
            }
            ProtoError::WrongHeaderType { .. } => Some(TxValidationCode::UnsupportedTxPayload),
            ProtoError::TxIdMismatch { .. } => Some(TxValidationCode::BadProposalTxid),
            ProtoError::ActionCount(_) | ProtoError::ProposalHashMismatch => {
                Some(TxValidationCode::InvalidEndorserTransaction)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn bad_decode() -> prost::DecodeError {
        weft_proto::common::Envelope::decode(&[0x0a, 0x05, 0x01][..])
            .expect_err("truncated bytes must not decode")
    }

    #[test]
    fn codes_follow_the_part() {
        let e = ProtoError::Decode {
            part: Part::Payload,
            source: bad_decode(),
        };
        assert_eq!(e.tx_validation_code(), Some(TxValidationCode::BadPayload));
        assert_eq!(
            ProtoError::Missing(Part::Header).tx_validation_code(),
            Some(TxValidationCode::BadCommonHeader)
        );
        assert_eq!(
            ProtoError::Empty {
                part: Part::ActionHeader,
                field: "nonce"
            }
            .tx_validation_code(),
            Some(TxValidationCode::InvalidEndorserTransaction)
        );
        assert_eq!(
            ProtoError::Missing(Part::ChaincodeAction).tx_validation_code(),
            Some(TxValidationCode::BadResponsePayload)
        );
        assert_eq!(ProtoError::NoResponses.tx_validation_code(), None);
        assert_eq!(
            ProtoError::Missing(Part::BlockHeader).tx_validation_code(),
            None
        );
    }

    #[test]
    fn messages_name_the_part() {
        let e = ProtoError::Decode {
            part: Part::ChannelHeader,
            source: bad_decode(),
        };
        assert!(e.to_string().starts_with("failed to decode ChannelHeader"));
        let e = ProtoError::Empty {
            part: Part::SignatureHeader,
            field: "nonce",
        };
        assert_eq!(e.to_string(), "SignatureHeader.nonce is empty");
    }
}
