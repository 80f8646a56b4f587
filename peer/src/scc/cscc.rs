//! `cscc`: JoinChain, GetChannels, GetConfigBlock, GetChannelConfig.

use prost::Message;
use weft_common::protoutil::{self, UnpackedProposal};
use weft_proto::common::Block;
use weft_proto::protos::{ChannelInfo, ChannelQueryResponse, Response};

use super::{SystemContext, arg_str, error, success};

pub(super) fn invoke(ctx: &SystemContext, proposal: &UnpackedProposal) -> Response {
    let args = &proposal.input.args;
    let Some(function) = arg_str(args, 0) else {
        return error(format!("Incorrect number of arguments, {}", args.len()));
    };
    let signed = proposal.signed_data();
    match function.as_str() {
        "JoinChain" => {
            let Some(block_bytes) = args.get(1).filter(|b| !b.is_empty()) else {
                return error("Cannot join the channel <nil> configuration block provided");
            };
            let block = match Block::decode(block_bytes.as_slice()) {
                Ok(block) => block,
                Err(e) => return error(format!("Failed to reconstruct the genesis block, {e}")),
            };
            let channel_id = match protoutil::block_channel_id(&block) {
                Ok(id) => id,
                Err(e) => {
                    return error(format!(
                        "\"JoinChain\" request failed to extract channel id from the block due to [{e}]"
                    ));
                }
            };
            if let Err(e) = ctx
                .acl
                .check(crate::acl::resources::CSCC_JOIN_CHAIN, None, &signed)
            {
                return error(format!(
                    "access denied for [JoinChain][{channel_id}]: [{e}]"
                ));
            }
            match ctx.channels.join(&block) {
                Ok(_) => success(Vec::new()),
                Err(e) => error(format!(
                    "\"JoinChain\" for channelID = {channel_id} failed because of: {e}"
                )),
            }
        }
        "GetChannels" => {
            if let Err(e) = ctx
                .acl
                .check(crate::acl::resources::CSCC_GET_CHANNELS, None, &signed)
            {
                return error(format!("access denied for [GetChannels]: {e}"));
            }
            let channels = ctx
                .channels
                .ids()
                .into_iter()
                .map(|channel_id| ChannelInfo { channel_id })
                .collect();
            success(ChannelQueryResponse { channels }.encode_to_vec())
        }
        "GetConfigBlock" | "GetChannelConfig" => {
            let Some(channel_id) = arg_str(args, 1).filter(|c| !c.is_empty()) else {
                return error("Incorrect number of arguments, 1");
            };
            let Some(channel) = ctx.channels.get(&channel_id) else {
                return error(format!("Unknown chain ID, {channel_id}"));
            };
            let config = channel.config();
            let resource = format!("cscc/{function}");
            if let Err(e) = ctx.acl.check(&resource, Some(&config), &signed) {
                return error(format!("access denied for [{function}][{channel_id}]: {e}"));
            }
            if function == "GetChannelConfig" {
                return success(config.config().encode_to_vec());
            }
            match config_block(&channel) {
                Ok(block) => success(block.encode_to_vec()),
                Err(e) => error(e),
            }
        }
        other => error(format!("Requested function {other} not found.")),
    }
}

/// The channel's latest config block.
fn config_block(channel: &crate::channel::Channel) -> Result<Block, String> {
    let store = channel.ledger().block_store();
    let last = store
        .last_block()
        .map_err(|e| e.to_string())?
        .ok_or("the ledger is empty")?;
    let number = protoutil::last_config_index(&last).map_err(|e| e.to_string())?;
    store
        .block(number)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("config block {number} is missing"))
}
