//! Filtered blocks for the peer's `DeliverFiltered`, as Fabric's `toFilteredBlock`.

use prost::Message;
use weft_proto::common::{Block, Envelope, HeaderType, Payload};
use weft_proto::protos::{
    ChaincodeActionPayload, ChaincodeEvent, FilteredBlock, FilteredChaincodeAction,
    FilteredTransaction, FilteredTransactionActions, Transaction, TxValidationCode,
    filtered_transaction,
};

use crate::protoutil::{
    Part, ProtoError, decode_channel_header, transactions_filter, unpack_proposal_response_payload,
};

/// Why a filtered block could not be built (Fabric then answers BAD_REQUEST).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FilteredBlockError {
    /// The block has no header.
    #[error("block has no header")]
    MissingHeader,
    /// A part of transaction `tx_index` does not decode.
    #[error("transaction {tx_index}: {source}")]
    Proto {
        /// The transaction's index in the block.
        tx_index: usize,
        /// What failed.
        source: ProtoError,
    },
    /// A chaincode event of transaction `tx_index` does not decode.
    #[error("transaction {tx_index}: failed to decode ChaincodeEvent: {source}")]
    ChaincodeEvent {
        /// The transaction's index in the block.
        tx_index: usize,
        /// The decoding error.
        source: prost::DecodeError,
    },
}

/// The filtered view of a block: per transaction its txid, header type and validation code
/// (from TRANSACTIONS_FILTER; NOT_VALIDATED when absent) and, for endorser transactions,
/// the chaincode events of its actions without their payload. `channel_id` is taken from
/// the transactions.
///
/// As in Fabric, entries that are empty, not envelopes or without a payload header are
/// skipped, and an action without an endorsed action or an event without a chaincode id is
/// left out; other undecodable parts fail the whole block.
pub fn filtered_block(block: &Block) -> Result<FilteredBlock, FilteredBlockError> {
    let header = block
        .header
        .as_ref()
        .ok_or(FilteredBlockError::MissingHeader)?;
    let filter = transactions_filter(block);
    let entries = block.data.as_ref().map_or(&[][..], |d| d.data.as_slice());
    let mut filtered = FilteredBlock {
        channel_id: String::new(),
        number: header.number,
        filtered_transactions: Vec::new(),
    };
    for (tx_index, entry) in entries.iter().enumerate() {
        let proto = |source| FilteredBlockError::Proto { tx_index, source };
        if entry.is_empty() {
            continue;
        }
        let Ok(envelope) = Envelope::decode(entry.as_slice()) else {
            continue;
        };
        let payload = Payload::decode(envelope.payload.as_slice())
            .map_err(ProtoError::decode(Part::Payload))
            .map_err(proto)?;
        let Some(payload_header) = payload.header else {
            continue;
        };
        let channel_header =
            decode_channel_header(&payload_header.channel_header).map_err(proto)?;
        filtered.channel_id = channel_header.channel_id;

        let validation_code = filter
            .get(tx_index)
            .map_or(TxValidationCode::NotValidated as i32, |code| {
                i32::from(*code)
            });
        let data = if channel_header.r#type == HeaderType::EndorserTransaction as i32 {
            Some(filtered_transaction::Data::TransactionActions(
                filtered_actions(&payload.data).map_err(|e| e.at(tx_index))?,
            ))
        } else {
            None
        };
        filtered.filtered_transactions.push(FilteredTransaction {
            txid: channel_header.tx_id,
            r#type: channel_header.r#type,
            tx_validation_code: validation_code,
            data,
        });
    }
    Ok(filtered)
}

/// A failure inside one transaction, before its index is known.
enum ActionError {
    Proto(ProtoError),
    Event(prost::DecodeError),
}

impl ActionError {
    fn at(self, tx_index: usize) -> FilteredBlockError {
        match self {
            ActionError::Proto(source) => FilteredBlockError::Proto { tx_index, source },
            ActionError::Event(source) => FilteredBlockError::ChaincodeEvent { tx_index, source },
        }
    }
}

/// The chaincode events (payload removed) of an endorser transaction's actions.
fn filtered_actions(transaction: &[u8]) -> Result<FilteredTransactionActions, ActionError> {
    let transaction = Transaction::decode(transaction)
        .map_err(ProtoError::decode(Part::Transaction))
        .map_err(ActionError::Proto)?;
    let mut actions = FilteredTransactionActions::default();
    for action in &transaction.actions {
        let action_payload = ChaincodeActionPayload::decode(action.payload.as_slice())
            .map_err(ProtoError::decode(Part::ChaincodeActionPayload))
            .map_err(ActionError::Proto)?;
        let Some(endorsed) = action_payload.action else {
            continue;
        };
        let (_, chaincode_action) =
            unpack_proposal_response_payload(&endorsed.proposal_response_payload)
                .map_err(ActionError::Proto)?;
        let event = ChaincodeEvent::decode(chaincode_action.events.as_slice())
            .map_err(ActionError::Event)?;
        if !event.chaincode_id.is_empty() {
            actions.chaincode_actions.push(FilteredChaincodeAction {
                chaincode_event: Some(ChaincodeEvent {
                    chaincode_id: event.chaincode_id,
                    tx_id: event.tx_id,
                    event_name: event.event_name,
                    payload: Vec::new(),
                }),
            });
        }
    }
    Ok(actions)
}
