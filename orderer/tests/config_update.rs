//! Channel config updates through Broadcast on a real `orderer` process: an update
//! signed by the orderer org's admin is ordered in a config block of its own and takes
//! effect for the next blocks; an update that does not satisfy the mod policy, and a
//! stale update, are refused with BAD_REQUEST while the node keeps serving.

mod cluster_net;

use cluster_net::{
    CHANNEL, ChannelSettings, Network, blocks_holding, broadcast, envelope, wait_until_ordering,
};
use prost::Message;
use weft_common::configtx;
use weft_common::crypto::Signer;
use weft_common::protoutil;
use weft_proto::common::{Block, Config, Envelope, Status};
use weft_proto::orderer::BatchSize;

/// `config` with the orderer BatchSize `max_message_count` set to `count`.
fn with_max_message_count(config: &Config, count: u32) -> Config {
    let mut next = config.clone();
    let batch_size = next
        .channel_group
        .as_mut()
        .and_then(|channel| channel.groups.get_mut("Orderer"))
        .and_then(|orderer| orderer.values.get_mut("BatchSize"))
        .expect("the genesis config has /Channel/Orderer/BatchSize");
    let mut value = BatchSize::decode(batch_size.value.as_slice()).expect("BatchSize");
    value.max_message_count = count;
    batch_size.value = value.encode_to_vec();
    next
}

/// A CONFIG_UPDATE envelope taking `current` to `next`, with the update signed by
/// `signers` and the envelope by the first of them.
fn update_tx(current: &Config, next: &Config, signers: &[&dyn Signer]) -> Envelope {
    let update = configtx::compute_update(current, next, CHANNEL).expect("compute update");
    let signed = configtx::signed_config_update(&update, signers).expect("sign update");
    configtx::config_update_tx(CHANNEL, &signed, signers[0]).expect("update envelope")
}

fn data_count(block: &Block) -> usize {
    block.data.as_ref().map_or(0, |d| d.data.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_updates_are_applied_or_refused_by_their_mod_policy() {
    let mut net = Network::new(
        1,
        ChannelSettings {
            max_message_count: 10,
            batch_timeout: "300ms",
            ..Default::default()
        },
    );
    net.start(0);
    net.join(0);
    wait_until_ordering(&net, 0).await;
    let user = net.client();
    let admin = net.user(
        "ordererOrganizations/example.com/users/Admin@example.com/msp",
        "OrdererMSP",
    );
    let mut client = net.broadcast_client(0);

    let genesis_config = protoutil::config_envelope_from_block(&net.genesis)
        .expect("genesis config envelope")
        .config
        .expect("genesis config");
    let smaller_batches = with_max_message_count(&genesis_config, 2);

    // Signed by an application client only: /Channel/Orderer/Admins is not satisfied.
    let forged = update_tx(&genesis_config, &smaller_batches, &[user.as_ref()]);
    let responses = broadcast(&mut client, vec![forged])
        .await
        .expect("broadcast");
    assert_eq!(
        responses[0].status,
        Status::BadRequest as i32,
        "{:?}",
        responses[0]
    );
    assert!(!responses[0].info.is_empty(), "the refusal says why");

    // Signed by the orderer org admin: applied.
    let update = update_tx(&genesis_config, &smaller_batches, &[admin.as_ref()]);
    let responses = broadcast(&mut client, vec![update.clone()])
        .await
        .expect("broadcast");
    assert_eq!(
        responses[0].status,
        Status::Success as i32,
        "{:?}",
        responses[0]
    );

    // Replaying the same update against the new config: its read set is stale.
    let responses = broadcast(&mut client, vec![update])
        .await
        .expect("broadcast");
    assert_eq!(
        responses[0].status,
        Status::BadRequest as i32,
        "{:?}",
        responses[0]
    );

    // Six normal envelopes after the update: cut by the new count of 2.
    let sent: Vec<_> = (0..6)
        .map(|i| envelope(&user, format!("after {i}").as_bytes()))
        .collect();
    let responses = broadcast(&mut client, sent.clone())
        .await
        .expect("broadcast");
    assert!(
        responses.iter().all(|r| r.status == Status::Success as i32),
        "{responses:?}"
    );

    // Blocks: genesis, the probe, the config block, then 3 blocks of 2.
    let blocks = blocks_holding(&mut client, &user, 1 + 1 + 6).await;
    let config_blocks: Vec<&Block> = blocks[1..]
        .iter()
        .filter(|b| protoutil::is_config_block(b))
        .collect();
    assert_eq!(config_blocks.len(), 1, "exactly one config block ordered");
    let config_block = config_blocks[0];
    let config_number = config_block.header.as_ref().unwrap().number;
    assert_eq!(
        data_count(config_block),
        1,
        "a config tx is in a block of its own"
    );
    assert_eq!(
        protoutil::last_config_index(config_block).expect("last config"),
        config_number,
        "a config block points LAST_CONFIG at itself"
    );
    let ordered = protoutil::config_envelope_from_block(config_block)
        .expect("config envelope")
        .config
        .expect("config");
    assert_eq!(ordered.sequence, genesis_config.sequence + 1);
    let ordered_batch = BatchSize::decode(
        ordered.channel_group.as_ref().unwrap().groups["Orderer"].values["BatchSize"]
            .value
            .as_slice(),
    )
    .unwrap();
    assert_eq!(ordered_batch.max_message_count, 2);

    let after: Vec<&Block> = blocks
        .iter()
        .filter(|b| b.header.as_ref().unwrap().number > config_number)
        .collect();
    assert_eq!(
        after.iter().map(|b| data_count(b)).collect::<Vec<_>>(),
        vec![2, 2, 2],
        "blocks after the update are cut at the new max_message_count"
    );
    for block in &after {
        assert_eq!(
            protoutil::last_config_index(block).expect("last config"),
            config_number
        );
    }
    let delivered: Vec<Vec<u8>> = after
        .iter()
        .flat_map(|b| b.data.as_ref().unwrap().data.clone())
        .collect();
    let expected: Vec<Vec<u8>> = sent.iter().map(Message::encode_to_vec).collect();
    assert_eq!(delivered, expected, "the envelopes, in order");

    // The config survives a restart: the node cuts at 2 from its stored config.
    net.kill(0);
    net.start(0);
    wait_until_ordering(&net, 0).await;
    let mut client = net.broadcast_client(0);
    let more: Vec<_> = (0..3)
        .map(|i| envelope(&user, format!("restart {i}").as_bytes()))
        .collect();
    broadcast(&mut client, more).await.expect("broadcast");
    let blocks = blocks_holding(&mut client, &user, 1 + 1 + 6 + 1 + 3).await;
    assert!(
        blocks
            .iter()
            .skip(1)
            .filter(|b| !protoutil::is_config_block(b))
            .all(|b| data_count(b) <= 2 || b.header.as_ref().unwrap().number < config_number),
        "after restart, blocks are still cut at 2"
    );
}
