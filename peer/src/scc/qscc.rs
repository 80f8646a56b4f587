//! `qscc`: GetChainInfo, GetBlockByNumber, GetBlockByHash, GetTransactionByID,
//! GetBlockByTxID.

use prost::Message;
use weft_common::protoutil::{self, UnpackedProposal};
use weft_proto::common::BlockchainInfo;
use weft_proto::protos::{ProcessedTransaction, Response};

use super::{SystemContext, arg_str, error, success};

pub(super) fn invoke(ctx: &SystemContext, proposal: &UnpackedProposal) -> Response {
    let args = &proposal.input.args;
    if args.len() < 2 {
        return error(format!("Incorrect number of arguments, {}", args.len()));
    }
    let function = arg_str(args, 0).unwrap_or_default();
    let channel_id = arg_str(args, 1).unwrap_or_default();
    let Some(channel) = ctx.channels.get(&channel_id) else {
        return error(format!("Invalid chain ID, {channel_id}"));
    };
    let resource = format!("qscc/{function}");
    let known = matches!(
        function.as_str(),
        "GetChainInfo"
            | "GetBlockByNumber"
            | "GetBlockByHash"
            | "GetTransactionByID"
            | "GetBlockByTxID"
    );
    if !known {
        return error(format!("Requested function {function} not found."));
    }
    if let Err(e) = ctx
        .acl
        .check(&resource, Some(&channel.config()), &proposal.signed_data())
    {
        return error(format!(
            "access denied for [{function}][{channel_id}]: [{e}]"
        ));
    }
    let store = channel.ledger().block_store();
    let result = match function.as_str() {
        "GetChainInfo" => chain_info(store).map(|info| info.encode_to_vec()),
        "GetBlockByNumber" => {
            let Some(number) = arg_str(args, 2) else {
                return error("Block number must not be nil.");
            };
            match number.parse::<u64>() {
                Ok(n) => store
                    .block(n)
                    .map_err(|e| e.to_string())
                    .and_then(|b| b.ok_or_else(|| format!("block number {n} out of range")))
                    .map(|b| b.encode_to_vec())
                    .map_err(|e| format!("Failed to get block number {number}, error {e}")),
                Err(e) => Err(format!("Failed to parse block number with error {e}")),
            }
        }
        "GetBlockByHash" => {
            let Some(hash) = args.get(2).filter(|h| !h.is_empty()) else {
                return error("Block hash must not be nil.");
            };
            store
                .block_by_hash(hash)
                .map_err(|e| e.to_string())
                .and_then(|b| b.ok_or_else(|| "no such block hash".to_owned()))
                .map(|b| b.encode_to_vec())
                .map_err(|e| format!("Failed to get block hash {}, error {e}", hex::encode(hash)))
        }
        "GetTransactionByID" => {
            let Some(txid) = arg_str(args, 2).filter(|t| !t.is_empty()) else {
                return error("Transaction ID must not be nil.");
            };
            processed_transaction(store, &txid)
                .map(|tx| tx.encode_to_vec())
                .map_err(|e| format!("Failed to get transaction with id {txid}, error {e}"))
        }
        _ => {
            let Some(txid) = arg_str(args, 2).filter(|t| !t.is_empty()) else {
                return error("Transaction ID must not be nil.");
            };
            located_block(store, &txid)
                .map(|(block, _)| block.encode_to_vec())
                .map_err(|e| format!("Failed to get block for txID {txid}, error {e}"))
        }
    };
    match result {
        Ok(payload) => success(payload),
        Err(message) => error(message),
    }
}

/// Height and the hashes of the last two blocks.
pub(crate) fn chain_info(
    store: &weft_common::blockstore::BlockStore,
) -> Result<BlockchainInfo, String> {
    let height = store.height();
    let previous = match height.checked_sub(1) {
        Some(last) => store
            .block(last)
            .map_err(|e| e.to_string())?
            .and_then(|b| b.header)
            .map(|h| h.previous_hash)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    Ok(BlockchainInfo {
        height,
        current_block_hash: store.last_header_hash(),
        previous_block_hash: previous,
        bootstrapping_snapshot_info: None,
    })
}

fn located_block(
    store: &weft_common::blockstore::BlockStore,
    txid: &str,
) -> Result<(weft_proto::common::Block, u32), String> {
    let location = store
        .tx_location(txid)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no such transaction ID [{txid}] in index"))?;
    let block = store
        .block(location.block_number)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("block {} is missing", location.block_number))?;
    Ok((block, location.tx_index))
}

/// The transaction `txid` with its validation code.
pub(crate) fn processed_transaction(
    store: &weft_common::blockstore::BlockStore,
    txid: &str,
) -> Result<ProcessedTransaction, String> {
    let (block, index) = located_block(store, txid)?;
    let envelope =
        protoutil::extract_envelope(&block, index as usize).map_err(|e| e.to_string())?;
    let code =
        protoutil::tx_validation_code_at(protoutil::transactions_filter(&block), index as usize)
            .map_or(
                weft_proto::protos::TxValidationCode::InvalidOtherReason as i32,
                |c| c as i32,
            );
    Ok(ProcessedTransaction {
        transaction_envelope: Some(envelope),
        validation_code: code,
    })
}
