//! CONFIG transactions: the config they carry must be exactly what their `last_update`
//! produces from the current config (Fabric's `configtx.ValidatorImpl.Validate`, run by
//! the peer when it applies the config).

use prost::Message;
use weft_common::channelconfig::ChannelConfig;
use weft_common::configtx::{config_update_envelope_from, propose_update};
use weft_proto::common::ConfigEnvelope;

pub use crate::ledger::{CHANNEL_CONFIG_KEY, PEER_NAMESPACE, config_tx_updates};

/// Checks the `ConfigEnvelope` bytes of a CONFIG transaction against `current` and
/// returns the channel config it establishes; the error is the reason for
/// INVALID_CONFIG_TRANSACTION.
///
/// The envelope must decode and carry a config at sequence `current + 1` and a
/// `last_update` (a CONFIG_UPDATE envelope) which, proposed against the current config
/// and its policies, yields a channel group equal (structurally) to the one carried.
pub(crate) fn next_config(current: &ChannelConfig, data: &[u8]) -> Result<ChannelConfig, String> {
    let envelope =
        ConfigEnvelope::decode(data).map_err(|e| format!("cannot decode ConfigEnvelope: {e}"))?;
    let config = envelope
        .config
        .as_ref()
        .ok_or("config envelope has nil config")?;
    if current.sequence().checked_add(1) != Some(config.sequence) {
        return Err(format!(
            "config currently at sequence {}, cannot validate config at sequence {}",
            current.sequence(),
            config.sequence
        ));
    }
    let last_update = envelope
        .last_update
        .as_ref()
        .ok_or("config envelope has no last_update")?;
    let update = config_update_envelope_from(last_update).map_err(|e| e.to_string())?;
    let computed = propose_update(
        current.config(),
        current.channel_id(),
        &update,
        current.policy_manager(),
    )
    .map_err(|e| e.to_string())?;
    if computed.channel_group != config.channel_group {
        return Err("ConfigEnvelope LastUpdate did not produce the supplied config result".into());
    }
    ChannelConfig::from_config_envelope_bytes(current.channel_id(), data.to_vec())
        .map_err(|e| format!("the new config is invalid: {e}"))
}
