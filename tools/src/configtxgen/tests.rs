use std::collections::BTreeMap;

use prost::Message;
use weft_proto::common::{ImplicitMetaPolicy, SignaturePolicyEnvelope, implicit_meta_policy};

use super::config::Policy;
use super::encoder::{encode_policy, implicit_meta_from_str};
use super::*;
use crate::cryptogen::{self, CryptoConfig};

const CRYPTO: &str = r#"
OrdererOrgs:
  - Name: Orderer
    Domain: example.com
    EnableNodeOUs: true
    Specs:
      - Hostname: orderer
PeerOrgs:
  - Name: Org1
    Domain: org1.example.com
    EnableNodeOUs: true
    Template:
      Count: 1
    Users:
      Count: 1
"#;

/// A minimal configtx.yaml over the CRYPTO material; `{extra}` is appended to the
/// orderer section of profile P.
fn configtx(orderer_extra: &str, org_rule: &str) -> String {
    format!(
        r#"
Organizations:
  - &OrdererOrg
    Name: OrdererOrg
    ID: OrdererMSP
    MSPDir: crypto/ordererOrganizations/example.com/msp
    Policies: &OrdererOrgPolicies
      Readers: {{Type: Signature, Rule: "OR('OrdererMSP.member')"}}
      Writers: {{Type: Signature, Rule: "OR('OrdererMSP.member')"}}
      Admins: {{Type: Signature, Rule: "OR('OrdererMSP.admin')"}}
    OrdererEndpoints: [orderer.example.com:7050]
  - &Org1
    Name: Org1
    ID: Org1MSP
    MSPDir: crypto/peerOrganizations/org1.example.com/msp
    Policies:
      Readers: {{Type: Signature, Rule: "OR('Org1MSP.member')"}}
      Writers: {{Type: Signature, Rule: "{org_rule}"}}
      Admins: {{Type: Signature, Rule: "OR('Org1MSP.admin')"}}
    AnchorPeers:
      - {{Host: peer0.org1.example.com, Port: 7051}}
Channel: &Channel
  Policies: &Meta
    Readers: {{Type: ImplicitMeta, Rule: "ANY Readers"}}
    Writers: {{Type: ImplicitMeta, Rule: "ANY Writers"}}
    Admins: {{Type: ImplicitMeta, Rule: "MAJORITY Admins"}}
  Capabilities: {{V2_0: true, V1_4_3: false}}
Profiles:
  P:
    <<: *Channel
    Orderer:
      OrdererType: etcdraft
      BatchTimeout: 1m30s
      EtcdRaft:
        Consenters:
          - Host: orderer.example.com
            Port: 7050
            ClientTLSCert: crypto/ordererOrganizations/example.com/orderers/orderer.example.com/tls/server.crt
            ServerTLSCert: crypto/ordererOrganizations/example.com/orderers/orderer.example.com/tls/server.crt
      Organizations: [*OrdererOrg]
      Policies:
        <<: *Meta
        BlockValidation: {{Type: ImplicitMeta, Rule: "ANY Writers"}}
{orderer_extra}
    Application:
      Organizations: [*Org1]
      Policies: *Meta
      Capabilities: {{V2_5: true}}
      ACLs:
        peer/Propose: /Channel/Application/Writers
  NoApp:
    <<: *Channel
    Orderer:
      OrdererType: solo
      Organizations: [*OrdererOrg]
      Policies:
        <<: *Meta
        BlockValidation: {{Type: ImplicitMeta, Rule: "ANY Writers"}}
"#
    )
}

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let crypto = CryptoConfig::from_yaml(CRYPTO).unwrap();
        cryptogen::generate(&crypto, &dir.path().join("crypto")).unwrap();
        Self { dir }
    }

    fn load(&self, text: &str) -> Result<TopLevel, ConfigtxError> {
        std::fs::write(self.dir.path().join("configtx.yaml"), text).unwrap();
        TopLevel::load(self.dir.path())
    }

    fn block(&self, text: &str, profile: &str) -> Result<Block, ConfigtxError> {
        let profile = self.load(text)?.profile(profile)?;
        genesis_block(&profile, "mychannel")
    }
}

fn policy(kind: &str, rule: &str) -> Policy {
    Policy {
        kind: kind.into(),
        rule: rule.into(),
    }
}

#[test]
fn implicit_meta_rules() {
    let imp = implicit_meta_from_str("MAJORITY Admins").unwrap();
    assert_eq!(
        imp,
        ImplicitMetaPolicy {
            sub_policy: "Admins".into(),
            rule: implicit_meta_policy::Rule::Majority as i32
        }
    );
    assert!(implicit_meta_from_str("ANY").is_err());
    assert!(implicit_meta_from_str("ANY  Readers").is_err());
    assert!(
        implicit_meta_from_str("any Readers")
            .unwrap_err()
            .contains("unknown rule type")
    );
}

#[test]
fn policies_encode_or_fail_with_their_location() {
    let p = encode_policy(
        "Org1",
        "Admins",
        &policy("Signature", "OR('Org1MSP.admin')"),
    )
    .unwrap();
    assert_eq!(p.r#type, 1);
    let envelope = SignaturePolicyEnvelope::decode(p.value.as_slice()).unwrap();
    assert_eq!(envelope.identities.len(), 1);
    let p = encode_policy("Channel", "Readers", &policy("ImplicitMeta", "ANY Readers")).unwrap();
    assert_eq!(p.r#type, 3);

    let err =
        encode_policy("Org1", "Admins", &policy("Signature", "OR('Org1MSP.admin'")).unwrap_err();
    assert!(
        matches!(&err, ConfigtxError::BadPolicyRule { group, policy, .. } if group == "Org1" && policy == "Admins"),
        "{err}"
    );
    assert!(matches!(
        encode_policy("C", "Readers", &policy("ImplicitMeta", "SOME Readers")),
        Err(ConfigtxError::BadPolicyRule { .. })
    ));
    assert!(matches!(
        encode_policy("C", "Readers", &policy("Magic", "x")),
        Err(ConfigtxError::UnknownPolicyType { kind, .. }) if kind == "Magic"
    ));
}

#[test]
fn builds_the_channel_group_fabric_writes() {
    let setup = Setup::new();
    let top = setup.load(&configtx("", "OR('Org1MSP.client')")).unwrap();
    let group = channel_group(&top.profile("P").unwrap()).unwrap();
    assert_eq!(group.mod_policy, "Admins");
    let mut values: Vec<&str> = group.values.keys().map(String::as_str).collect();
    values.sort();
    assert_eq!(
        values,
        [
            "BlockDataHashingStructure",
            "Capabilities",
            "HashingAlgorithm"
        ]
    );
    let caps =
        weft_proto::common::Capabilities::decode(group.values["Capabilities"].value.as_slice())
            .unwrap();
    // Capabilities set to false are left out.
    assert_eq!(caps.capabilities.keys().collect::<Vec<_>>(), ["V2_0"]);
    let orderer = &group.groups["Orderer"];
    let mut orderer_values: Vec<&str> = orderer.values.keys().map(String::as_str).collect();
    orderer_values.sort();
    assert_eq!(
        orderer_values,
        [
            "BatchSize",
            "BatchTimeout",
            "ChannelRestrictions",
            "ConsensusType"
        ]
    );
    let timeout =
        weft_proto::orderer::BatchTimeout::decode(orderer.values["BatchTimeout"].value.as_slice())
            .unwrap();
    assert_eq!(timeout.timeout, "1m30s");
    assert!(orderer.policies.contains_key("BlockValidation"));
    let orderer_org = &orderer.groups["OrdererOrg"];
    assert!(orderer_org.values.contains_key("Endpoints"));
    assert!(orderer_org.values.contains_key("MSP"));
    let app = &group.groups["Application"];
    assert!(app.values.contains_key("ACLs"));
    let org1 = &app.groups["Org1"];
    assert!(org1.values.contains_key("AnchorPeers"));
    for g in [&group, orderer, orderer_org, app, org1] {
        assert_eq!(g.version, 0);
        assert_eq!(g.mod_policy, "Admins");
        assert!(
            g.values
                .values()
                .all(|v| v.mod_policy == "Admins" && v.version == 0)
        );
        assert!(
            g.policies
                .values()
                .all(|p| p.mod_policy == "Admins" && p.version == 0)
        );
    }

    // The MSP value is the verifying MSP: no signing identity.
    let msp = weft_proto::msp::MspConfig::decode(org1.values["MSP"].value.as_slice()).unwrap();
    let fabric = weft_proto::msp::FabricMspConfig::decode(msp.config.as_slice()).unwrap();
    assert_eq!(fabric.name, "Org1MSP");
    assert!(fabric.signing_identity.is_none());
    assert!(fabric.fabric_node_ous.is_some_and(|n| n.enable));
}

#[test]
fn legacy_orderer_addresses_get_the_orderer_admins_mod_policy() {
    let setup = Setup::new();
    let text = configtx(
        "      Addresses: [orderer.example.com:7050]",
        "OR('Org1MSP.client')",
    );
    let group = channel_group(&setup.load(&text).unwrap().profile("P").unwrap()).unwrap();
    assert_eq!(
        group.values["OrdererAddresses"].mod_policy,
        "/Channel/Orderer/Admins"
    );
}

#[test]
fn profile_problems_are_typed_errors() {
    let setup = Setup::new();
    let good = configtx("", "OR('Org1MSP.client')");
    assert!(matches!(
        setup.block(&good, "Missing"),
        Err(ConfigtxError::UnknownProfile(p)) if p == "Missing"
    ));
    assert!(matches!(
        setup.block(&good, "NoApp"),
        Err(ConfigtxError::IncompleteProfile(_))
    ));
    assert!(matches!(
        setup.block(&configtx("", "OR('Org1MSP.client'"), "P"),
        Err(ConfigtxError::BadPolicyRule { .. })
    ));
    assert!(matches!(
        setup.block(&configtx("", "NOT('Org1MSP.client')"), "P"),
        Err(ConfigtxError::BadPolicyRule { .. })
    ));
    let no_block_validation = good.replace(
        "        BlockValidation: {Type: ImplicitMeta, Rule: \"ANY Writers\"}\n\n",
        "\n",
    );
    assert!(matches!(
        setup.block(&no_block_validation, "P"),
        Err(ConfigtxError::MissingPolicy { group, policy }) if group == "Orderer" && policy == "BlockValidation"
    ));
    let missing_msp = good.replace("peerOrganizations/org1", "peerOrganizations/nope");
    let err = setup.block(&missing_msp, "P").unwrap_err();
    assert!(
        matches!(&err, ConfigtxError::Msp { org, .. } if org == "Org1"),
        "{err}"
    );
    let bad_units = configtx(
        "      BatchSize:\n        AbsoluteMaxBytes: 10 TB\n",
        "OR('Org1MSP.client')",
    );
    let err = setup.block(&bad_units, "P").unwrap_err();
    assert!(matches!(err, ConfigtxError::Yaml { .. }));
    assert!(
        err.to_string().contains("invalid byte size '10 TB'"),
        "{err}"
    );
    let missing_cert = good.replace("tls/server.crt", "tls/nope.crt");
    assert!(matches!(
        setup.block(&missing_cert, "P"),
        Err(ConfigtxError::ConsenterCert { .. })
    ));
    let profile = setup.load(&good).unwrap().profile("P").unwrap();
    assert!(matches!(
        genesis_block(&profile, "MyChannel"),
        Err(ConfigtxError::BadChannelId(_))
    ));
}

#[test]
fn channel_ids() {
    for ok in ["mychannel", "a", "ch-1.test", &"a".repeat(249)] {
        validate_channel_id(ok).unwrap();
    }
    for bad in [
        "",
        "1ch",
        "MyChannel",
        "my_channel",
        "ch/1",
        &"a".repeat(250),
    ] {
        assert!(validate_channel_id(bad).is_err(), "{bad}");
    }
}

#[test]
fn config_lookup() {
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        find_config(&[empty.path().to_path_buf()]),
        Err(ConfigtxError::ConfigNotFound(_))
    ));
    let setup = Setup::new();
    setup.load("Profiles: {}\n").unwrap();
    let top = find_config(&[empty.path().to_path_buf(), setup.dir.path().to_path_buf()]).unwrap();
    assert_eq!(top.config_dir, setup.dir.path());
    assert_eq!(top.profiles, BTreeMap::new());
    assert_eq!(
        config_search_paths(Some(Path::new("/x"))),
        [PathBuf::from("/x")]
    );
}

#[test]
fn inspect_and_print_org() {
    let setup = Setup::new();
    let text = configtx("", "OR('Org1MSP.client')");
    let block = setup.block(&text, "P").unwrap();
    let json = inspect::block_json(&block);
    let config = &json["data"]["data"][0]["payload"]["data"]["config"];
    assert_eq!(config["sequence"], "0");
    let group = &config["channel_group"];
    assert_eq!(
        group["groups"]["Orderer"]["values"]["BatchSize"]["value"]["max_message_count"],
        500
    );
    assert_eq!(
        group["groups"]["Orderer"]["values"]["ConsensusType"]["value"]["metadata"]["consenters"][0]
            ["port"],
        7050
    );
    let org1 = &group["groups"]["Application"]["groups"]["Org1"];
    assert_eq!(org1["values"]["MSP"]["value"]["config"]["name"], "Org1MSP");
    assert_eq!(
        org1["values"]["AnchorPeers"]["value"]["anchor_peers"][0]["port"],
        7051
    );
    let principal = &org1["policies"]["Admins"]["policy"]["value"]["identities"][0];
    assert_eq!(principal["principal_classification"], "ROLE");
    assert_eq!(principal["principal"]["role"], "ADMIN");
    assert_eq!(
        group["policies"]["Admins"]["policy"]["value"],
        serde_json::json!({"rule": "MAJORITY", "sub_policy": "Admins"})
    );
    let header = &json["data"]["data"][0]["payload"]["header"];
    assert_eq!(header["channel_header"]["channel_id"], "mychannel");
    assert_eq!(header["channel_header"]["type"], 1);
    assert_eq!(
        header["signature_header"]["creator"],
        serde_json::Value::Null
    );
    assert_eq!(json["header"]["number"], "0");
    assert_eq!(json["header"]["previous_hash"], serde_json::Value::Null);
    assert_eq!(
        json["metadata"]["metadata"][0]["value"]["last_config"]["index"],
        "0"
    );

    let round_trip = inspect::inspect_block(&block.encode_to_vec()).unwrap();
    assert_eq!(round_trip, json);
    assert!(matches!(
        inspect::inspect_block(b"\xff\xff not a block"),
        Err(ConfigtxError::MalformedBlock(_))
    ));

    let top = setup.load(&text).unwrap();
    let org = print_org(&top, "OrdererOrg").unwrap();
    assert_eq!(
        org["values"]["Endpoints"]["value"]["addresses"][0],
        "orderer.example.com:7050"
    );
    assert!(matches!(
        print_org(&top, "Nobody"),
        Err(ConfigtxError::UnknownOrganization(_))
    ));
}
