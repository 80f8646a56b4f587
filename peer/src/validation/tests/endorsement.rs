//! Endorsement policies: signature policies and channel policy references, every written
//! namespace, `_lifecycle`, collections, key-level policies and their changes within a
//! block.

use weft_proto::protos::collection_config::Payload as CollectionPayload;
use weft_proto::protos::{CollectionConfig, CollectionConfigPackage, StaticCollectionConfig};

use super::*;
use crate::ledger::VALIDATION_PARAMETER;
use crate::validation::definitions::{LIFECYCLE_NAMESPACE, channel_policy_reference, field_key};

fn writes(ns: &str, key: &str) -> TxReadWriteSet {
    Rw::new().ns(ns).write(key, b"v").build()
}

#[test]
fn signature_policies_count_distinct_valid_endorsers_of_the_right_orgs() {
    let net = Net::new();
    let mut state = MemState::default();
    define(
        &mut state,
        &[
            ("and", sig("AND('Org1MSP.peer','Org2MSP.peer')")),
            ("org2", sig("OR('Org2MSP.peer')")),
            ("two1", sig("OutOf(2, 'Org1MSP.peer', 'Org1MSP.peer')")),
            ("member", sig("OR('Org1MSP.member','Org2MSP.member')")),
            (
                "badref",
                channel_policy_reference("/Channel/Application/NoSuchPolicy"),
            ),
        ],
    );
    let (p1a, p1b, p2) = (&net.peer1a, &net.peer1b, &net.peer2);

    let mut forged = net.spec("and", writes("and", "f"), &[p1a, p2]);
    forged.edit_endorsements = Some(Box::new(|e| {
        let last = e[1].signature.len() - 1;
        e[1].signature[last] ^= 1;
    }));
    let mut stolen = net.spec("and", writes("and", "s"), &[p1a, p1a]);
    // Org2's peer named as endorser of a signature made by Org1's peer.
    let org2_peer = net.peer2.creator().to_vec();
    stolen.edit_endorsements = Some(Box::new(move |e| e[1].endorser = org2_peer.clone()));

    let txs = [
        net.tx("and", writes("and", "a"), &[p1a, p2]),
        net.tx("and", writes("and", "b"), &[p1a]),
        net.tx("and", writes("and", "c"), &[p1a, p1b]),
        forged.build(),
        stolen.build(),
        net.tx("org2", writes("org2", "a"), &[p2]),
        net.tx("org2", writes("org2", "b"), &[p1a]),
        net.tx("org2", writes("org2", "c"), &[&net.user2]),
        net.tx("two1", writes("two1", "a"), &[p1a, p1b]),
        net.tx("two1", writes("two1", "b"), &[p1a, p1a]),
        net.tx("member", writes("member", "a"), &[&net.user2]),
        net.tx("member", writes("member", "b"), &[]),
        net.tx("member", writes("member", "c"), &[&net.stranger]),
        net.tx("badref", writes("badref", "a"), &[p1a, p2]),
        // No writes: the chaincode policy is still checked.
        net.tx("and", Rw::new().ns("and").read("x", None).build(), &[p1a]),
        net.tx(
            "and",
            Rw::new().ns("and").read("y", None).build(),
            &[p2, p1a],
        ),
    ];
    let entries: Vec<&[u8]> = txs.iter().map(|t| t.bytes.as_slice()).collect();
    let validated = validate(&net, &state, &entries);
    use Code::{EndorsementPolicyFailure as Epf, Valid};
    assert_codes(
        &validated,
        &[
            Valid, Epf, Epf, Epf, Epf, Valid, Epf, Epf, Valid, Epf, Valid, Epf, Epf, Epf, Epf,
            Valid,
        ],
    );
    state.apply(2, &validated.updates);
    assert_eq!(state.value("and", "a"), Some(&b"v"[..]));
    assert_eq!(state.value("and", "b"), None);
    assert_eq!(state.value("two1", "a"), Some(&b"v"[..]));
    assert_eq!(state.value("two1", "b"), None);
}

#[test]
fn channel_policy_references_use_the_channel_policies() {
    let net = Net::new();
    let mut state = MemState::default();
    // /Channel/Application/Endorsement is MAJORITY Endorsement: both orgs' peers.
    define(
        &mut state,
        &[(
            "basic",
            channel_policy_reference("/Channel/Application/Endorsement"),
        )],
    );
    let txs = [
        net.tx("basic", writes("basic", "a"), &[&net.peer1a, &net.peer2]),
        net.tx("basic", writes("basic", "b"), &[&net.peer2]),
        net.tx("basic", writes("basic", "c"), &[&net.peer1a, &net.peer1b]),
    ];
    let entries: Vec<&[u8]> = txs.iter().map(|t| t.bytes.as_slice()).collect();
    let validated = validate(&net, &state, &entries);
    assert_codes(
        &validated,
        &[
            Code::Valid,
            Code::EndorsementPolicyFailure,
            Code::EndorsementPolicyFailure,
        ],
    );
}

#[test]
fn every_written_namespace_is_validated_in_name_order() {
    let net = Net::new();
    let mut state = MemState::default();
    define(
        &mut state,
        &[
            ("org1", sig("OR('Org1MSP.peer')")),
            ("org2", sig("OR('Org2MSP.peer')")),
        ],
    );
    let both = |rw: Rw| rw.ns("org2").write("k", b"v");
    let txs = [
        // Invokes org1, also writes org2: both policies.
        net.tx(
            "org1",
            both(Rw::new().ns("org1").write("k", b"v")).build(),
            &[&net.peer1a],
        ),
        net.tx(
            "org1",
            both(Rw::new().ns("org1").write("k", b"v")).build(),
            &[&net.peer1a, &net.peer2],
        ),
        // Only reads org2: org2's policy is not checked.
        net.tx(
            "org1",
            Rw::new()
                .ns("org1")
                .write("r", b"v")
                .ns("org2")
                .read("untouched", None)
                .build(),
            &[&net.peer1a],
        ),
        // A metadata write is a write.
        net.tx(
            "org1",
            Rw::new()
                .ns("org1")
                .write("m", b"v")
                .ns("org2")
                .metadata("k", &[])
                .build(),
            &[&net.peer1a],
        ),
        // "ghost" (undefined) sorts before "org1" (failing): INVALID_CHAINCODE.
        net.tx(
            "org1",
            Rw::new()
                .ns("org1")
                .write("k", b"v")
                .ns("ghost")
                .write("k", b"v")
                .build(),
            &[&net.peer2],
        ),
        // "org1" (failing) sorts before "zzz" (undefined): ENDORSEMENT_POLICY_FAILURE.
        net.tx(
            "org1",
            Rw::new()
                .ns("org1")
                .write("k", b"v")
                .ns("zzz")
                .write("k", b"v")
                .build(),
            &[&net.peer2],
        ),
    ];
    let entries: Vec<&[u8]> = txs.iter().map(|t| t.bytes.as_slice()).collect();
    let validated = validate(&net, &state, &entries);
    assert_codes(
        &validated,
        &[
            Code::EndorsementPolicyFailure,
            Code::Valid,
            Code::Valid,
            Code::EndorsementPolicyFailure,
            Code::InvalidChaincode,
            Code::EndorsementPolicyFailure,
        ],
    );
}

#[test]
fn lifecycle_writes_need_the_lifecycle_endorsement_policy() {
    let net = Net::new();
    let state = MemState::default();
    let lifecycle = |rw: TxReadWriteSet, endorsers: &[&SigningIdentity]| {
        let mut spec = net.spec(LIFECYCLE_NAMESPACE, rw, endorsers);
        spec.action_chaincode = Some(ChaincodeId {
            name: LIFECYCLE_NAMESPACE.into(),
            version: "syscc".into(),
            ..Default::default()
        });
        spec.build()
    };
    let commit = || {
        Rw::new()
            .ns(LIFECYCLE_NAMESPACE)
            .write(&field_key("mycc", "Sequence"), b"\x08\x01")
            .build()
    };
    let approve = |org: &str| {
        Rw::new()
            .ns(LIFECYCLE_NAMESPACE)
            .hashed_write(
                &format!("_implicit_org_{org}"),
                "namespaces/fields/mycc#1/Sequence",
                b"1",
            )
            .build()
    };
    let txs = [
        // LifecycleEndorsement = MAJORITY Endorsement: both orgs.
        lifecycle(commit(), &[&net.peer1a, &net.peer2]),
        lifecycle(commit(), &[&net.peer1a]),
        // An approval writes the org's implicit collection: the org's Endorsement policy.
        lifecycle(approve("Org1MSP"), &[&net.peer1a]),
        lifecycle(approve("Org1MSP"), &[&net.peer2]),
        lifecycle(approve("Org2MSP"), &[&net.peer2]),
        lifecycle(approve("Org9MSP"), &[&net.peer1a, &net.peer2]),
        // Without writes, the lifecycle policy.
        lifecycle(Rw::new().ns(LIFECYCLE_NAMESPACE).build(), &[&net.peer2]),
    ];
    let entries: Vec<&[u8]> = txs.iter().map(|t| t.bytes.as_slice()).collect();
    let validated = validate(&net, &state, &entries);
    assert_codes(
        &validated,
        &[
            Code::Valid,
            Code::EndorsementPolicyFailure,
            Code::Valid,
            Code::EndorsementPolicyFailure,
            Code::Valid,
            Code::EndorsementPolicyFailure,
            Code::EndorsementPolicyFailure,
        ],
    );
    let mut state = state;
    state.apply(2, &validated.updates);
    assert_eq!(
        state.value(LIFECYCLE_NAMESPACE, &field_key("mycc", "Sequence")),
        Some(&b"\x08\x01"[..])
    );
}

#[test]
fn collection_writes_use_the_collection_policy() {
    let net = Net::new();
    let mut state = MemState::default();
    let mut def = ChaincodeDefinition::new(1, "1.0", &sig("OR('Org1MSP.peer')"));
    let collection = |name: &str, policy: Option<ApplicationPolicy>| CollectionConfig {
        payload: Some(CollectionPayload::StaticCollectionConfig(
            StaticCollectionConfig {
                name: name.into(),
                endorsement_policy: policy,
                ..Default::default()
            },
        )),
    };
    def.collections = CollectionConfigPackage {
        config: vec![
            collection("org2coll", Some(sig("OR('Org2MSP.peer')"))),
            collection("plain", None),
        ],
    };
    state.apply(1, &[definitions_tx_updates(0, "d", &[("pdc", &def)])]);
    let hashed = |coll: &str| Rw::new().ns("pdc").hashed_write(coll, "k", b"v").build();
    let txs = [
        net.tx("pdc", hashed("org2coll"), &[&net.peer2]),
        net.tx("pdc", hashed("org2coll"), &[&net.peer1a]),
        net.tx("pdc", hashed("plain"), &[&net.peer1a]),
        net.tx("pdc", hashed("plain"), &[&net.peer2]),
        net.tx("pdc", hashed("nosuch"), &[&net.peer1a, &net.peer2]),
        // Public and collection writes: both policies.
        net.tx(
            "pdc",
            Rw::new()
                .ns("pdc")
                .write("p", b"v")
                .hashed_write("org2coll", "k", b"v")
                .build(),
            &[&net.peer2],
        ),
        net.tx(
            "pdc",
            Rw::new()
                .ns("pdc")
                .write("p", b"v")
                .hashed_write("org2coll", "k", b"v")
                .build(),
            &[&net.peer2, &net.peer1a],
        ),
    ];
    let entries: Vec<&[u8]> = txs.iter().map(|t| t.bytes.as_slice()).collect();
    let validated = validate(&net, &state, &entries);
    assert_codes(
        &validated,
        &[
            Code::Valid,
            Code::EndorsementPolicyFailure,
            Code::Valid,
            Code::EndorsementPolicyFailure,
            Code::EndorsementPolicyFailure,
            Code::EndorsementPolicyFailure,
            Code::Valid,
        ],
    );
}

/// Chaincode `kle` (Org1's peer endorses) with committed keys: `org2key` whose key-level
/// policy wants Org2's peer, `plain` without one, `garbage` with an undecodable policy,
/// `emptyvp` with an empty one.
fn key_level_state() -> MemState {
    let mut state = MemState::default();
    define(&mut state, &[("kle", sig("OR('Org1MSP.peer')"))]);
    for key in ["org2key", "plain", "garbage", "emptyvp"] {
        state.put("kle", key, b"v0".to_vec());
    }
    let vp = |bytes: Vec<u8>| KeyMetadata::from([(VALIDATION_PARAMETER.to_owned(), bytes)]);
    state.set_metadata("kle", "org2key", vp(key_policy("OR('Org2MSP.peer')")));
    state.set_metadata("kle", "garbage", vp(vec![0xff, 0xff]));
    state.set_metadata("kle", "emptyvp", vp(Vec::new()));
    state
}

#[test]
fn key_level_policies_replace_the_chaincode_policy_for_their_keys() {
    let net = Net::new();
    let mut state = key_level_state();
    let kle = |rw: Rw, endorsers: &[&SigningIdentity]| net.tx("kle", rw.build(), endorsers);
    let ns = || Rw::new().ns("kle");
    let txs = [
        // Only the key-level policy applies: Org2 alone suffices.
        kle(ns().write("org2key", b"v1"), &[&net.peer2]),
        kle(ns().write("org2key", b"v1"), &[&net.peer1a]),
        // A key without one brings in the chaincode policy.
        kle(
            ns().write("org2key", b"v1").write("plain", b"v1"),
            &[&net.peer2],
        ),
        kle(
            ns().write("org2key", b"v2").write("plain", b"v2"),
            &[&net.peer1a, &net.peer2],
        ),
        // Changing the key-level policy itself needs the current one.
        kle(ns().metadata("org2key", &[]), &[&net.peer1a]),
        // Setting one on a key without: the chaincode policy.
        kle(
            ns().metadata(
                "plain",
                &[(VALIDATION_PARAMETER, key_policy("OR('Org2MSP.peer')"))],
            ),
            &[&net.peer1a],
        ),
        // An undecodable key-level policy is never satisfied.
        kle(ns().write("garbage", b"v1"), &[&net.peer1a, &net.peer2]),
        // An empty one is no policy.
        kle(ns().write("emptyvp", b"v1"), &[&net.peer1a]),
        // Deleting a key needs its key-level policy.
        kle(ns().delete("org2key"), &[&net.peer1a]),
    ];
    let entries: Vec<&[u8]> = txs.iter().map(|t| t.bytes.as_slice()).collect();
    let validated = validate(&net, &state, &entries);
    use Code::{EndorsementPolicyFailure as Epf, Valid};
    assert_codes(
        &validated,
        &[Valid, Epf, Epf, Valid, Epf, Valid, Epf, Valid, Epf],
    );
    // The key-level tests in one block do not read, so the valid ones all commit.
    state.apply(2, &validated.updates);
    assert_eq!(state.value("kle", "org2key"), Some(&b"v2"[..]));
    assert_eq!(state.value("kle", "plain"), Some(&b"v2"[..]));
    let plain = state.get_state("kle", "plain").unwrap().unwrap();
    assert_eq!(
        plain.metadata.get(VALIDATION_PARAMETER),
        Some(&key_policy("OR('Org2MSP.peer')"))
    );
    // The write kept the metadata written in the same block (tx 3 wrote the value, tx 5
    // the metadata).
    assert_eq!(plain.version, Version::new(2, 5));
    let org2key = state.get_state("kle", "org2key").unwrap().unwrap();
    assert_eq!(
        org2key.metadata.get(VALIDATION_PARAMETER),
        Some(&key_policy("OR('Org2MSP.peer')"))
    );
}

#[test]
fn a_key_level_policy_changed_earlier_in_the_block_fails_later_writers() {
    let net = Net::new();
    let state = key_level_state();
    let kle = |rw: Rw, endorsers: &[&SigningIdentity]| net.tx("kle", rw.build(), endorsers);
    let ns = || Rw::new().ns("kle");
    let set_vp = || {
        ns().metadata(
            "plain",
            &[(VALIDATION_PARAMETER, key_policy("OR('Org2MSP.peer')"))],
        )
    };
    let all: &[&SigningIdentity] = &[&net.peer1a, &net.peer2];

    // Accepted metadata change, then a write of the key satisfying every policy: fails.
    let validated = validate(
        &net,
        &state,
        &[
            &kle(set_vp(), &[&net.peer1a]).bytes,
            &kle(ns().write("plain", b"x"), all).bytes,
            &kle(ns().write("other", b"x"), all).bytes,
            &kle(ns().metadata("plain", &[]), all).bytes,
        ],
    );
    use Code::{EndorsementPolicyFailure as Epf, MvccReadConflict as Mvcc, Valid};
    assert_codes(&validated, &[Valid, Epf, Valid, Epf]);

    // The metadata change failed its own policy: later writers are unaffected.
    let validated = validate(
        &net,
        &state,
        &[
            &kle(set_vp(), &[&net.peer2]).bytes,
            &kle(ns().write("plain", b"x"), all).bytes,
        ],
    );
    assert_codes(&validated, &[Epf, Valid]);

    // The metadata change passed the plugin but then conflicts in MVCC: it still counts,
    // as in Fabric.
    let validated = validate(
        &net,
        &state,
        &[
            &kle(set_vp().read("plain", Some((0, 1))), &[&net.peer1a]).bytes,
            &kle(ns().write("plain", b"x"), all).bytes,
        ],
    );
    assert_codes(&validated, &[Mvcc, Epf]);

    // A transaction failed by such a change does not count as a change itself: tx 1
    // fails (it writes "plain"), so its metadata write on "emptyvp" does not fail tx 2.
    let validated = validate(
        &net,
        &state,
        &[
            &kle(set_vp(), &[&net.peer1a]).bytes,
            &kle(
                ns().write("plain", b"y").metadata(
                    "emptyvp",
                    &[(VALIDATION_PARAMETER, key_policy("OR('Org2MSP.peer')"))],
                ),
                all,
            )
            .bytes,
            &kle(ns().write("emptyvp", b"y"), &[&net.peer1a]).bytes,
            &kle(ns().write("org2key", b"y"), &[&net.peer2]).bytes,
        ],
    );
    assert_codes(&validated, &[Valid, Epf, Valid, Valid]);

    // The same key in another namespace is another key.
    let mut state = state;
    define(&mut state, &[("other", sig("OR('Org1MSP.peer')"))]);
    let validated = validate(
        &net,
        &state,
        &[
            &kle(set_vp(), &[&net.peer1a]).bytes,
            &net.tx(
                "other",
                Rw::new().ns("other").write("plain", b"x").build(),
                &[&net.peer1a],
            )
            .bytes,
        ],
    );
    assert_codes(&validated, &[Valid, Valid]);
}
