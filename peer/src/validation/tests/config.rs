//! CONFIG transactions: applied when the carried config is what the last update yields.

use weft_common::configtx::{
    compute_update, config_update_tx, propose_update, signed_config_update, wrap_config,
};
use weft_common::crypto::Signer;
use weft_common::protoutil::create_signed_envelope;
use weft_proto::common::{Config, ConfigEnvelope, HeaderType, Payload};
use weft_proto::orderer::BatchSize;

use super::*;
use crate::validation::config::{CHANNEL_CONFIG_KEY, PEER_NAMESPACE};

/// `current` with the orderer's max message count set to `max`.
fn with_batch_size(current: &Config, max: u32) -> Config {
    let mut next = current.clone();
    let value = next
        .channel_group
        .as_mut()
        .unwrap()
        .groups
        .get_mut("Orderer")
        .unwrap()
        .values
        .get_mut("BatchSize")
        .unwrap();
    let mut batch = BatchSize::decode(value.value.as_slice()).unwrap();
    batch.max_message_count = max;
    value.value = batch.encode_to_vec();
    next
}

fn batch_size(config: &ChannelConfig) -> u32 {
    config.orderer().unwrap().batch_size.max_message_count
}

/// A batch size change of `current`, signed by `signers`: the CONFIG_UPDATE envelope
/// and the config it yields (proposed with the orderer admin's signature).
fn update(
    net: &Net,
    current: &ChannelConfig,
    max: u32,
    signers: &[&SigningIdentity],
) -> (Envelope, Config) {
    let change = compute_update(
        current.config(),
        &with_batch_size(current.config(), max),
        CHANNEL,
    )
    .unwrap();
    let signers: Vec<&dyn Signer> = signers.iter().map(|s| *s as &dyn Signer).collect();
    let envelope = signed_config_update(&change, &signers).unwrap();
    let admin = signed_config_update(&change, &[&net.orderer_admin]).unwrap();
    let next = propose_update(current.config(), CHANNEL, &admin, current.policy_manager()).unwrap();
    (
        config_update_tx(CHANNEL, &envelope, &net.orderer_admin).unwrap(),
        next,
    )
}

/// The orderer's CONFIG transaction.
fn config_tx(net: &Net, config: Config, last_update: Envelope) -> Vec<u8> {
    wrap_config(config, last_update, CHANNEL, &net.orderer)
        .unwrap()
        .encode_to_vec()
}

#[test]
fn a_valid_config_transaction_yields_the_next_config() {
    let net = Net::new();
    let state = MemState::default();
    let (last_update, next) = update(&net, &net.channel, 500, &[&net.orderer_admin]);
    let tx = config_tx(&net, next.clone(), last_update.clone());

    let validated = validate(&net, &state, &[&tx]);
    assert_codes(&validated, &[Code::Valid]);
    let new = validated.config.as_ref().expect("a new config");
    assert_eq!(new.tx_index, 0);
    assert_eq!(new.config.sequence(), 1);
    assert_eq!(batch_size(&new.config), 500);
    assert_eq!(new.envelope.config.as_ref(), Some(&next));
    assert_eq!(new.envelope.last_update.as_ref(), Some(&last_update));

    // The ConfigEnvelope bytes go into the peer's namespace, as Fabric stores them.
    let data = Payload::decode(Envelope::decode(tx.as_slice()).unwrap().payload.as_slice())
        .unwrap()
        .data;
    assert_eq!(new.config.raw_config_envelope(), Some(data.as_slice()));
    assert_eq!(validated.updates.len(), 1);
    let mut state = state;
    state.apply(2, &validated.updates);
    assert_eq!(
        state.value(PEER_NAMESPACE, CHANNEL_CONFIG_KEY),
        Some(data.as_slice())
    );
    assert_eq!(
        ConfigEnvelope::decode(data.as_slice()).unwrap().config,
        Some(next)
    );
}

#[test]
fn config_transactions_that_do_not_follow_are_invalid() {
    let net = Net::new();
    let state = MemState::default();
    let (last_update, next) = update(&net, &net.channel, 500, &[&net.orderer_admin]);

    let mut skipped = next.clone();
    skipped.sequence = 5;
    let mut stale = next.clone();
    stale.sequence = 0;
    let (unsigned_update, _) = update(&net, &net.channel, 500, &[&net.user1]);
    let other_config = with_batch_size(&next, 600);
    let no_last_update = create_signed_envelope(
        HeaderType::Config,
        CHANNEL,
        &net.orderer,
        &ConfigEnvelope {
            config: Some(next.clone()),
            last_update: None,
        }
        .encode_to_vec(),
        0,
    )
    .unwrap()
    .encode_to_vec();
    let signed = |data: &[u8], signer: &SigningIdentity| {
        create_signed_envelope(HeaderType::Config, CHANNEL, signer, data, 0)
            .unwrap()
            .encode_to_vec()
    };
    let other_channel = wrap_config(
        next.clone(),
        last_update.clone(),
        "otherchannel",
        &net.orderer,
    )
    .unwrap()
    .encode_to_vec();
    let stranger = wrap_config(next.clone(), last_update.clone(), CHANNEL, &net.stranger)
        .unwrap()
        .encode_to_vec();

    for (tx, expected) in [
        (
            config_tx(&net, skipped, last_update.clone()),
            Code::InvalidConfigTransaction,
        ),
        (
            config_tx(&net, stale, last_update.clone()),
            Code::InvalidConfigTransaction,
        ),
        (
            config_tx(&net, next.clone(), unsigned_update),
            Code::InvalidConfigTransaction,
        ),
        (
            config_tx(&net, other_config, last_update.clone()),
            Code::InvalidConfigTransaction,
        ),
        (no_last_update, Code::InvalidConfigTransaction),
        (
            signed(b"\xff\xff", &net.orderer),
            Code::InvalidConfigTransaction,
        ),
        (signed(b"", &net.orderer), Code::InvalidConfigTransaction),
        (other_channel, Code::TargetChainNotFound),
        (stranger, Code::BadCreatorSignature),
    ] {
        let validated = validate(&net, &state, &[&tx]);
        assert_codes(&validated, &[expected]);
        assert!(validated.config.is_none());
        assert!(validated.updates.is_empty());
    }
}

#[test]
fn config_transactions_of_one_block_apply_in_order() {
    let net = Net::new();
    let state = MemState::default();
    let (first_update, first) = update(&net, &net.channel, 500, &[&net.orderer_admin]);
    let first_tx = config_tx(&net, first.clone(), first_update.clone());
    let after_first = ChannelConfig::from_config(CHANNEL, &first).unwrap();
    let (second_update, second) = update(&net, &after_first, 700, &[&net.orderer_admin]);
    let second_tx = config_tx(&net, second, second_update);

    let validated = validate(&net, &state, &[&first_tx, &second_tx]);
    assert_codes(&validated, &[Code::Valid, Code::Valid]);
    let new = validated.config.unwrap();
    assert_eq!((new.tx_index, new.config.sequence()), (1, 2));
    assert_eq!(batch_size(&new.config), 700);

    // The same update twice: the second is stale once the first is applied.
    let again = config_tx(&net, first, first_update);
    let validated = validate(&net, &state, &[&first_tx, &again]);
    assert_codes(&validated, &[Code::Valid, Code::InvalidConfigTransaction]);
    assert_eq!(validated.config.unwrap().tx_index, 0);
}
