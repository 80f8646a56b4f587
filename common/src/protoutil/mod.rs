//! Fabric message utilities: txids, proposals, proposal responses, transactions,
//! envelopes and blocks, byte-compatible with Fabric v2.5.
//!
//! One rule runs through this module: **signatures and hashes are computed over the bytes
//! received, never over a re-encoding**. Unpacking functions therefore return structs that
//! hold both the decoded messages and the raw bytes they came from
//! ([`UnpackedProposal`], [`UnpackedEnvelope`], [`UnpackedTransaction`]), and signed items
//! are exposed as [`SignedData`](crate::policy::SignedData) for the MSP and policies to
//! check. The only re-encodings are the ones Fabric itself performs (the transient-free
//! proposal payload, the header DER, fresh messages we create).
//!
//! Every failure is a typed [`ProtoError`]; for transaction envelopes
//! [`ProtoError::tx_validation_code`] gives the code a committing peer records.
//!
//! Layout: [`txid`] (ids, nonces), [`header`] (channel/signature headers),
//! [`proposal`] (build, sign, unpack, proposal hashes), [`response`] (endorsements),
//! [`transaction`] (assemble, unpack for validation), [`envelope`] (signed envelopes),
//! [`block`] (hash chain, signatures, verification, genesis, transactions filter).

mod error;

pub mod block;
pub mod envelope;
pub mod header;
pub mod proposal;
pub mod response;
pub mod transaction;
pub mod txid;

#[cfg(test)]
mod test_support;

pub use block::{
    METADATA_COMMIT_HASH, METADATA_LAST_CONFIG, METADATA_LEN, METADATA_ORDERER,
    METADATA_SIGNATURES, METADATA_TRANSACTIONS_FILTER, block_channel_id, block_data_hash,
    block_header_der, block_header_hash, block_metadata, block_signature_bytes, block_signatures,
    build_block, config_envelope_from_block, extract_envelope, genesis_block,
    genesis_block_from_config_envelope, is_config_block, last_config_index, new_block,
    new_transactions_filter, set_transactions_filter, sign_block, transactions_filter,
    tx_validation_code_at, verify_block_structure, verify_transactions_well_formed,
};
pub use envelope::{
    UnpackedEnvelope, channel_header_of, create_signed_envelope, envelope_signed_data,
    sign_envelope_payload, unpack_envelope, unpack_envelope_bytes,
};
pub use error::{Part, ProtoError};
pub use header::{
    check_channel_header, check_signature_header, decode_channel_header, decode_signature_header,
    timestamp_now, timestamp_now_seconds,
};
pub use proposal::{
    UnpackedProposal, commit_proposal_hash, create_chaincode_proposal, endorsement_proposal_hash,
    proposal_payload_for_tx, sign_proposal, unpack_proposal,
};
pub use response::{
    PROPOSAL_RESPONSE_VERSION, create_proposal_response, create_proposal_response_payload, endorse,
    endorsement_message, endorsement_signed_data, unendorsed_proposal_response,
    unpack_proposal_response_payload,
};
pub use transaction::{
    UnpackedTransaction, assemble_transaction, transaction_envelope, unique_endorsements,
    unpack_endorser_transaction,
};
pub use txid::{NONCE_LEN, check_txid, compute_txid, create_nonce};

/// Decodes `bytes` as `M`, naming `part` in the error.
pub(crate) fn decode<M: prost::Message + Default>(
    part: Part,
    bytes: &[u8],
) -> Result<M, ProtoError> {
    M::decode(bytes).map_err(ProtoError::decode(part))
}
