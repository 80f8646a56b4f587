//! Envelope, header, creator, txid and transaction-structure codes; duplicates; what
//! stops a whole block; parallel and serial validation agree.

use prost::Message;
use weft_common::crypto::Signer;
use weft_common::protoutil::{compute_txid, create_signed_envelope, sign_envelope_payload};
use weft_proto::common::{ChannelHeader, Envelope, Header, HeaderType, Payload, SignatureHeader};
use weft_proto::protos::{
    ChaincodeEvent, ChaincodeHeaderExtension, ChaincodeId, ProposalResponsePayload, Transaction,
};

use super::*;
use crate::validation::definitions::{LIFECYCLE_NAMESPACE, field_key};

/// State with chaincode `basic` endorsable by any peer.
fn state() -> MemState {
    let mut state = MemState::default();
    define(
        &mut state,
        &[("basic", sig("OR('Org1MSP.peer','Org2MSP.peer')"))],
    );
    state
}

fn write(key: &str, value: &[u8]) -> TxReadWriteSet {
    Rw::new().ns("basic").write(key, value).build()
}

/// A valid transaction writing `key`.
fn ok_tx(net: &Net, key: &str) -> Tx {
    net.tx("basic", write(key, b"v"), &[&net.peer1a])
}

/// A signed envelope with this channel header and `data`, created by `signer`.
fn envelope_with(
    signer: &dyn Signer,
    mut ch: ChannelHeader,
    nonce: Vec<u8>,
    data: &[u8],
) -> Vec<u8> {
    let sh = SignatureHeader {
        creator: signer.creator().to_vec(),
        nonce,
    };
    if ch.tx_id.is_empty() {
        ch.tx_id = compute_txid(&sh.nonce, &sh.creator);
    }
    let payload = Payload {
        header: Some(Header {
            channel_header: ch.encode_to_vec(),
            signature_header: sh.encode_to_vec(),
        }),
        data: data.to_vec(),
    };
    sign_envelope_payload(payload.encode_to_vec(), signer)
        .unwrap()
        .encode_to_vec()
}

/// Re-signs a transaction whose payload was edited.
fn resign(net: &Net, tx: &Tx, edit: impl FnOnce(&mut Payload)) -> Vec<u8> {
    let mut payload = Payload::decode(tx.envelope.payload.as_slice()).unwrap();
    edit(&mut payload);
    sign_envelope_payload(payload.encode_to_vec(), &net.user1)
        .unwrap()
        .encode_to_vec()
}

#[test]
fn malformed_envelopes_get_fabrics_codes() {
    let net = Net::new();
    let state = state();
    let channel_header = |t: i32| ChannelHeader {
        r#type: t,
        channel_id: CHANNEL.into(),
        ..Default::default()
    };
    let garbage: &[u8] = b"\xff\xff\xff";
    let empty: &[u8] = b"";
    let bad_payload = Envelope {
        payload: vec![0xff],
        signature: b"sig".to_vec(),
    }
    .encode_to_vec();
    let epoch =
        create_signed_envelope(HeaderType::EndorserTransaction, CHANNEL, &net.user1, b"", 1)
            .unwrap()
            .encode_to_vec();
    let unknown_type = envelope_with(&net.user1, channel_header(42), vec![1; 24], b"");
    let no_nonce = envelope_with(
        &net.user1,
        channel_header(HeaderType::EndorserTransaction as i32),
        Vec::new(),
        b"",
    );
    let config_update =
        create_signed_envelope(HeaderType::ConfigUpdate, CHANNEL, &net.user1, b"x", 0)
            .unwrap()
            .encode_to_vec();
    let valid = ok_tx(&net, "k");

    let validated = validate(
        &net,
        &state,
        &[
            garbage,
            empty,
            &bad_payload,
            &epoch,
            &unknown_type,
            &no_nonce,
            &config_update,
            &valid.bytes,
        ],
    );
    assert_codes(
        &validated,
        &[
            Code::InvalidOtherReason,
            Code::BadCommonHeader,
            Code::BadPayload,
            Code::BadCommonHeader,
            Code::BadCommonHeader,
            Code::BadCommonHeader,
            Code::UnsupportedTxPayload,
            Code::Valid,
        ],
    );
    assert_eq!(validated.txids[0], "");
    assert_eq!(validated.txids[7], valid.txid);
    // Only the valid transaction's writes are committed.
    assert_eq!(validated.updates.len(), 1);
    assert_eq!(validated.updates[0].tx_num, 7);
    let mut state = state;
    state.apply(2, &validated.updates);
    assert_eq!(state.value("basic", "k"), Some(&b"v"[..]));
    assert_eq!(state.version("basic", "k"), Some(Version::new(2, 7)));

    // The filter goes into the block's metadata.
    let mut b = block(2, &[garbage]);
    let validated = BlockValidator::new()
        .validate(&b, &net.channel, &state)
        .unwrap();
    validated.write_filter(&mut b);
    assert_eq!(
        weft_common::protoutil::transactions_filter(&b),
        [Code::InvalidOtherReason as u8]
    );
    assert_eq!(validated.code(0), Some(Code::InvalidOtherReason));
}

#[test]
fn the_creator_must_be_a_channel_member_and_sign_the_payload() {
    let net = Net::new();
    let state = state();
    let mut forged = ok_tx(&net, "k").envelope;
    let last = forged.signature.len() - 1;
    forged.signature[last] ^= 0x01;
    let forged = forged.encode_to_vec();

    let mut other_signer = net.spec("basic", write("k", b"v"), &[&net.peer1a]);
    other_signer.envelope_signer = Some(&net.user2);
    let other_signer = other_signer.build();

    let mut stranger = net.spec("basic", write("k", b"v"), &[&net.peer1a]);
    stranger.creator = &net.stranger;
    let stranger = stranger.build();

    let mut unsigned = ok_tx(&net, "k").envelope;
    unsigned.signature.clear();
    let unsigned = unsigned.encode_to_vec();

    let validated = validate(
        &net,
        &state,
        &[&forged, &other_signer.bytes, &stranger.bytes, &unsigned],
    );
    assert_codes(&validated, &[Code::BadCreatorSignature; 4]);
    assert!(validated.updates.is_empty());
}

#[test]
fn txid_action_count_proposal_hash_and_channel() {
    let net = Net::new();
    let mut state = state();

    let mut wrong_txid = net.spec("basic", write("k", b"v"), &[&net.peer1a]);
    wrong_txid.edit_channel_header = Some(Box::new(|ch| ch.tx_id = "0".repeat(64)));
    let wrong_txid = wrong_txid.build();

    // Wrong txid and wrong channel: the txid is checked first.
    let mut both = net.spec("basic", write("k", b"v"), &[&net.peer1a]);
    both.edit_channel_header = Some(Box::new(|ch| {
        ch.tx_id = "1".repeat(64);
        ch.channel_id = "otherchannel".into();
    }));
    let both = both.build();

    let mut wrong_hash = net.spec("basic", write("k", b"v"), &[&net.peer1a]);
    wrong_hash.edit_prp = Some(Box::new(|prp, _| {
        let mut prp = ProposalResponsePayload::decode(prp.as_slice()).unwrap();
        prp.proposal_hash = vec![0; 32];
        prp.encode_to_vec()
    }));
    let wrong_hash = wrong_hash.build();

    let base = ok_tx(&net, "k");
    let two_actions = resign(&net, &base, |payload| {
        let mut tx = Transaction::decode(payload.data.as_slice()).unwrap();
        tx.actions.push(tx.actions[0].clone());
        payload.data = tx.encode_to_vec();
    });
    let not_a_transaction = resign(&net, &base, |payload| payload.data = vec![0xff]);

    let mut other_channel = net.spec("basic", write("k", b"v"), &[&net.peer1a]);
    other_channel.channel = "otherchannel".into();
    let other_channel = other_channel.build();

    // In the ledger already, and also malformed further down: the duplicate wins.
    let mut dup_and_bad_extension = net.spec("basic", write("k", b"v"), &[&net.peer1a]);
    dup_and_bad_extension.edit_channel_header = Some(Box::new(|ch| ch.extension = vec![0xff]));
    let dup_and_bad_extension = dup_and_bad_extension.build();
    state.add_txid(&dup_and_bad_extension.txid);

    let validated = validate(
        &net,
        &state,
        &[
            &wrong_txid.bytes,
            &both.bytes,
            &wrong_hash.bytes,
            &two_actions,
            &not_a_transaction,
            &other_channel.bytes,
            &dup_and_bad_extension.bytes,
        ],
    );
    assert_codes(
        &validated,
        &[
            Code::BadProposalTxid,
            Code::BadProposalTxid,
            Code::InvalidEndorserTransaction,
            Code::InvalidEndorserTransaction,
            Code::InvalidEndorserTransaction,
            Code::TargetChainNotFound,
            Code::DuplicateTxid,
        ],
    );
}

#[test]
fn header_extension_action_rwset_and_chaincode_identity() {
    let net = Net::new();
    let state = state();
    let spec = || net.spec("basic", write("k", b"v"), &[&net.peer1a]);

    let mut bad_extension = spec();
    bad_extension.edit_channel_header = Some(Box::new(|ch| ch.extension = vec![0xff]));
    let mut no_chaincode_id = spec();
    no_chaincode_id.edit_channel_header = Some(Box::new(|ch| {
        ch.extension = ChaincodeHeaderExtension { chaincode_id: None }.encode_to_vec();
    }));
    let mut bad_action = spec();
    bad_action.edit_prp = Some(Box::new(|_, hash| {
        ProposalResponsePayload {
            proposal_hash: hash.to_vec(),
            extension: vec![0xff],
        }
        .encode_to_vec()
    }));
    let mut no_action = spec();
    no_action.edit_prp = Some(Box::new(|_, hash| {
        ProposalResponsePayload {
            proposal_hash: hash.to_vec(),
            extension: Vec::new(),
        }
        .encode_to_vec()
    }));
    let mut bad_rwset = spec();
    bad_rwset.results = vec![0xff];
    let mut bad_nested_rwset = spec();
    bad_nested_rwset.results = TxReadWriteSet {
        data_model: 0,
        ns_rwset: vec![NsReadWriteSet {
            namespace: "basic".into(),
            rwset: vec![0x1a, 0x09],
            collection_hashed_rwset: vec![],
        }],
    }
    .encode_to_vec();
    let mut no_action_id = spec();
    no_action_id.action_chaincode = None;
    let mut other_name = spec();
    other_name.action_chaincode = Some(ChaincodeId {
        name: "other".into(),
        version: "1.0".into(),
        ..Default::default()
    });
    let mut no_version = spec();
    no_version.action_chaincode = Some(ChaincodeId {
        name: "basic".into(),
        ..Default::default()
    });
    let event = |chaincode: &str| {
        ChaincodeEvent {
            chaincode_id: chaincode.into(),
            tx_id: String::new(),
            event_name: "e".into(),
            payload: vec![],
        }
        .encode_to_vec()
    };
    let mut foreign_event = spec();
    foreign_event.events = event("other");
    let mut bad_event = spec();
    bad_event.events = vec![0xff];
    let mut good_event = spec();
    good_event.events = event("basic");
    let mut duplicate_ns = spec();
    duplicate_ns.results = Rw::new()
        .ns("basic")
        .write("a", b"1")
        .ns("basic")
        .write("b", b"2")
        .build()
        .encode_to_vec();
    let undefined = net.tx(
        "ghost",
        Rw::new().ns("ghost").write("a", b"1").build(),
        &[&net.peer1a],
    );
    let writes_undefined = net.tx(
        "basic",
        Rw::new()
            .ns("basic")
            .write("a", b"1")
            .ns("ghost")
            .write("a", b"1")
            .build(),
        &[&net.peer1a],
    );
    let reads_undefined = net.tx(
        "basic",
        Rw::new()
            .ns("basic")
            .write("r", b"1")
            .ns("ghost")
            .read("a", None)
            .build(),
        &[&net.peer1a],
    );

    let txs: Vec<Tx> = [
        bad_extension,
        no_chaincode_id,
        bad_action,
        no_action,
        bad_rwset,
        bad_nested_rwset,
        no_action_id,
        other_name,
        no_version,
        foreign_event,
        bad_event,
        good_event,
        duplicate_ns,
    ]
    .into_iter()
    .map(TxSpec::build)
    .chain([undefined, writes_undefined, reads_undefined])
    .collect();
    let entries: Vec<&[u8]> = txs.iter().map(|t| t.bytes.as_slice()).collect();
    let validated = validate(&net, &state, &entries);
    assert_codes(
        &validated,
        &[
            Code::BadHeaderExtension,
            Code::InvalidOtherReason,
            Code::BadResponsePayload,
            Code::BadResponsePayload,
            Code::BadRwset,
            Code::BadRwset,
            Code::InvalidOtherReason,
            Code::InvalidChaincode,
            Code::InvalidChaincode,
            Code::InvalidOtherReason,
            Code::InvalidOtherReason,
            Code::Valid,
            Code::IllegalWriteset,
            Code::InvalidChaincode,
            Code::InvalidChaincode,
            Code::Valid,
        ],
    );
    // The valid ones wrote their keys (the read-only "ghost" namespace has no updates).
    let namespaces: Vec<&str> = validated.updates[1]
        .namespaces
        .iter()
        .map(|n| n.namespace.as_str())
        .collect();
    assert_eq!(namespaces, ["basic"]);
    let mut state = state;
    state.apply(2, &validated.updates);
    assert_eq!(state.value("basic", "k"), Some(&b"v"[..]));
    assert_eq!(state.value("basic", "r"), Some(&b"1"[..]));
    assert_eq!(state.value("basic", "a"), None);
}

#[test]
fn duplicate_txids_in_the_ledger_and_in_the_block() {
    let net = Net::new();
    let mut state = state();
    state.put("basic", "k", b"old".to_vec());

    let with_nonce = |nonce: u8, rwset: TxReadWriteSet, endorsers: &[&SigningIdentity]| {
        let mut spec = net.spec("basic", rwset, endorsers);
        spec.nonce = Some(vec![nonce; 24]);
        spec.build()
    };
    let committed = with_nonce(1, write("a", b"1"), &[&net.peer1a]);
    state.add_txid(&committed.txid);
    let again = with_nonce(1, write("a", b"2"), &[&net.peer2]);

    // Same txid twice in the block: the first valid one wins.
    let first = with_nonce(2, write("b", b"first"), &[&net.peer1a]);
    let second = with_nonce(2, write("b", b"second"), &[&net.peer2]);
    assert_eq!(first.txid, second.txid);

    // The first copy fails its endorsement policy: the second is valid.
    let unendorsed = with_nonce(3, write("c", b"first"), &[]);
    let endorsed = with_nonce(3, write("c", b"second"), &[&net.peer2]);

    // The first copy passes phase A but conflicts in phase B: the second is still a
    // duplicate (Fabric marks duplicates before MVCC).
    let stale = with_nonce(
        4,
        Rw::new()
            .ns("basic")
            .read("k", Some((0, 9)))
            .write("d", b"first")
            .build(),
        &[&net.peer1a],
    );
    let fresh = with_nonce(4, write("d", b"second"), &[&net.peer1a]);

    let validated = validate(
        &net,
        &state,
        &[
            &again.bytes,
            &first.bytes,
            &second.bytes,
            &unendorsed.bytes,
            &endorsed.bytes,
            &stale.bytes,
            &fresh.bytes,
        ],
    );
    assert_codes(
        &validated,
        &[
            Code::DuplicateTxid,
            Code::Valid,
            Code::DuplicateTxid,
            Code::EndorsementPolicyFailure,
            Code::Valid,
            Code::MvccReadConflict,
            Code::DuplicateTxid,
        ],
    );
    state.apply(2, &validated.updates);
    assert_eq!(state.value("basic", "a"), None);
    assert_eq!(state.value("basic", "b"), Some(&b"first"[..]));
    assert_eq!(state.value("basic", "c"), Some(&b"second"[..]));
    assert_eq!(state.value("basic", "d"), None);
}

#[test]
fn what_stops_a_whole_block() {
    let net = Net::new();
    let state = state();
    let tx = ok_tx(&net, "k");
    let validator = BlockValidator::with_parallelism(2);

    let mut no_header = block(2, &[&tx.bytes]);
    no_header.header = None;
    assert_eq!(
        validator.validate(&no_header, &net.channel, &state).err(),
        Some(ValidationError::MissingHeader)
    );
    let mut no_data = block(2, &[&tx.bytes]);
    no_data.data = None;
    assert_eq!(
        validator.validate(&no_data, &net.channel, &state).err(),
        Some(ValidationError::MissingData(2))
    );
    assert!(matches!(
        validator.validate(&block(2, &[&tx.bytes]), &net.channel, &BrokenState),
        Err(ValidationError::State(_))
    ));

    // A definition naming a plugin this peer does not have (Fabric cannot run it either).
    let mut custom = state.clone();
    let mut def = ChaincodeDefinition::new(1, "1.0", &sig("OR('Org1MSP.peer')"));
    def.validation_info.validation_plugin = "custom".into();
    custom.apply(1, &[definitions_tx_updates(0, "d", &[("custom", &def)])]);
    let uses_custom = net.tx(
        "custom",
        Rw::new().ns("custom").write("a", b"1").build(),
        &[&net.peer1a],
    );
    assert_eq!(
        try_validate(&net, &custom, &[&tx.bytes, &uses_custom.bytes]).err(),
        Some(ValidationError::UnsupportedValidationPlugin {
            chaincode: "custom".into(),
            plugin: "custom".into()
        })
    );

    // A corrupt definition.
    let mut corrupt = state.clone();
    corrupt.put(
        LIFECYCLE_NAMESPACE,
        &field_key("basic", "Sequence"),
        vec![0xff],
    );
    assert!(matches!(
        try_validate(&net, &corrupt, &[&tx.bytes]),
        Err(ValidationError::Definition { .. })
    ));

    // A definition without plugin, or without policy, only invalidates the transaction.
    let mut incomplete = state.clone();
    let mut no_plugin = ChaincodeDefinition::new(1, "1.0", &sig("OR('Org1MSP.peer')"));
    no_plugin.validation_info.validation_plugin.clear();
    let mut no_policy = ChaincodeDefinition::new(1, "1.0", &sig("OR('Org1MSP.peer')"));
    no_policy.validation_info.validation_parameter.clear();
    incomplete.apply(
        1,
        &[definitions_tx_updates(
            1,
            "d",
            &[("noplugin", &no_plugin), ("nopolicy", &no_policy)],
        )],
    );
    let a = net.tx(
        "noplugin",
        Rw::new().ns("noplugin").write("a", b"1").build(),
        &[&net.peer1a],
    );
    let b = net.tx(
        "nopolicy",
        Rw::new().ns("nopolicy").write("a", b"1").build(),
        &[&net.peer1a],
    );
    let validated = validate(&net, &incomplete, &[&a.bytes, &b.bytes]);
    assert_codes(
        &validated,
        &[Code::InvalidChaincode, Code::InvalidChaincode],
    );

    // An empty block is fine.
    let validated = validate(&net, &state, &[]);
    assert_codes(&validated, &[]);
    assert!(validated.updates.is_empty() && validated.config.is_none());
}

#[test]
fn parallel_and_serial_validation_agree() {
    let net = Net::new();
    let mut state = state();
    state.put("basic", "shared", b"0".to_vec());
    let mut txs = Vec::new();
    for i in 0..24u8 {
        let rwset = match i % 4 {
            0 => Rw::new()
                .ns("basic")
                .read("shared", Some((1, 0)))
                .write("shared", &[i])
                .build(),
            1 => Rw::new().ns("basic").write(&format!("k{i}"), &[i]).build(),
            2 => Rw::new().ns("ghost").write("x", &[i]).build(),
            _ => Rw::new()
                .ns("basic")
                .range("k", "l", true, vec![])
                .write("z", &[i])
                .build(),
        };
        let endorsers: &[&SigningIdentity] = if i % 5 == 0 { &[] } else { &[&net.peer2] };
        txs.push(net.tx("basic", rwset, endorsers));
    }
    let entries: Vec<&[u8]> = txs.iter().map(|t| t.bytes.as_slice()).collect();
    let b = block(2, &entries);
    let serial = BlockValidator::with_parallelism(1)
        .validate(&b, &net.channel, &state)
        .unwrap();
    for threads in [2, 5, 64] {
        let parallel = BlockValidator::with_parallelism(threads)
            .validate(&b, &net.channel, &state)
            .unwrap();
        assert_eq!(parallel.codes, serial.codes, "{threads} threads");
        assert_eq!(parallel.updates, serial.updates, "{threads} threads");
    }
    assert!(serial.codes.contains(&Code::Valid));
    assert!(serial.codes.contains(&Code::MvccReadConflict));
    assert!(serial.codes.contains(&Code::PhantomReadConflict));
    assert!(serial.codes.contains(&Code::InvalidChaincode));
    assert!(serial.codes.contains(&Code::EndorsementPolicyFailure));
}
