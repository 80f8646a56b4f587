//! The SDK on the mock ledger: the contract macros (several contracts, routing, argument
//! conversion), the stub API (composite keys, ranges with pagination, history, key-level
//! endorsement, private data, transient data, events, chaincode-to-chaincode calls) and
//! the client identity.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use weft_chaincode_sdk::mock::{MockIdentity, MockLedger, test_certificate};
use weft_chaincode_sdk::proto::{KvRead, Version};
use weft_chaincode_sdk::{
    Chaincode, ClientIdentity, Context, ContractError, Response, Schema, contract,
};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Schema)]
#[serde(rename_all = "camelCase")]
struct Marble {
    name: String,
    color: String,
    size_cm: u32,
    note: Option<String>,
}

#[derive(Default)]
struct Marbles;

#[contract(name = "marbles", default)]
impl Marbles {
    #[transaction(submit)]
    fn create(&self, ctx: &mut Context, marble: Marble) -> Result<(), ContractError> {
        let key = ctx
            .stub()
            .create_composite_key("color~name", &[&marble.color, &marble.name])?;
        ctx.stub().put_state(&key, serde_json::to_vec(&marble)?)?;
        ctx.stub().set_event("created", marble.name.clone())?;
        ctx.stub().set_event("created-last", marble.name)?;
        Ok(())
    }

    #[transaction(evaluate)]
    fn by_color(&self, ctx: &mut Context, color: String) -> Result<Vec<Marble>, ContractError> {
        let mut out = Vec::new();
        let iter = ctx
            .stub()
            .get_state_by_partial_composite_key("color~name", &[&color])?;
        for kv in iter {
            let kv = kv?;
            let (object_type, attrs) = weft_chaincode_sdk::stub::split_composite_key(&kv.key);
            assert_eq!(object_type, "color~name");
            assert_eq!(attrs.first(), Some(&color));
            out.push(serde_json::from_slice(&kv.value)?);
        }
        Ok(out)
    }

    #[transaction(evaluate)]
    fn page(
        &self,
        ctx: &mut Context,
        size: i32,
        bookmark: String,
    ) -> Result<String, ContractError> {
        let (iter, meta) = ctx
            .stub()
            .get_state_by_range_with_pagination("k", "l", size, &bookmark)?;
        let keys: Vec<String> = iter
            .map(|kv| kv.map(|kv| kv.key))
            .collect::<Result<_, _>>()?;
        Ok(format!(
            "{}|{}|{}",
            keys.join(","),
            meta.fetched_records_count,
            meta.bookmark
        ))
    }

    #[transaction(submit)]
    fn put(&self, ctx: &mut Context, key: String, value: String) -> Result<(), ContractError> {
        Ok(ctx.stub().put_state(&key, value)?)
    }

    #[transaction(submit, name = "Remove")]
    fn delete_key(&self, ctx: &mut Context, key: String) -> Result<(), ContractError> {
        Ok(ctx.stub().del_state(&key)?)
    }

    #[transaction(evaluate)]
    fn history(&self, ctx: &mut Context, key: String) -> Result<Vec<String>, ContractError> {
        let mut out = Vec::new();
        for m in ctx.stub().get_history_for_key(&key)? {
            let m = m?;
            out.push(if m.is_delete {
                format!("{}:deleted", m.tx_id)
            } else {
                format!("{}:{}", m.tx_id, String::from_utf8_lossy(&m.value))
            });
        }
        Ok(out)
    }

    #[transaction(submit)]
    fn endorse(&self, ctx: &mut Context, key: String, policy: String) -> Result<(), ContractError> {
        Ok(ctx
            .stub()
            .set_state_validation_parameter(&key, policy.as_bytes())?)
    }

    #[transaction(evaluate)]
    fn policy(&self, ctx: &mut Context, key: String) -> Result<String, ContractError> {
        let ep = ctx.stub().get_state_validation_parameter(&key)?;
        Ok(String::from_utf8_lossy(&ep.unwrap_or_default()).into_owned())
    }

    #[transaction(submit)]
    fn secret(&self, ctx: &mut Context, key: String) -> Result<String, ContractError> {
        let value = ctx
            .stub()
            .transient()
            .get("secret")
            .cloned()
            .ok_or("no secret in the transient map")?;
        ctx.stub().put_private_data("private", &key, &value)?;
        let before = ctx.stub().get_private_data_hash("private", &key)?;
        Ok(format!("{}", before.is_some()))
    }

    #[transaction(evaluate)]
    fn read_secret(&self, ctx: &mut Context, key: String) -> Result<String, ContractError> {
        let value = ctx
            .stub()
            .get_private_data("private", &key)?
            .unwrap_or_default();
        let hash = ctx
            .stub()
            .get_private_data_hash("private", &key)?
            .unwrap_or_default();
        Ok(format!(
            "{}:{}",
            String::from_utf8_lossy(&value),
            hash.len()
        ))
    }

    #[transaction(evaluate)]
    fn whoami(&self, ctx: &mut Context) -> Result<String, ContractError> {
        let id = ctx.client_identity()?;
        id.assert_attribute_value("role", "auditor")?;
        Ok(format!("{}|{}", id.msp_id(), id.id()))
    }

    #[transaction(submit)]
    fn call_counter(&self, ctx: &mut Context) -> Result<String, ContractError> {
        let response = ctx.stub().invoke_chaincode("counter", &[b"Increment"], "");
        if response.status != 200 {
            return Err(response.message.into());
        }
        Ok(String::from_utf8_lossy(&response.payload).into_owned())
    }

    #[transaction(evaluate)]
    fn sum(
        &self,
        _ctx: &mut Context,
        values: Vec<i64>,
        scale: f64,
        flag: bool,
    ) -> Result<f64, ContractError> {
        let total: i64 = values.iter().sum();
        Ok(if flag { total as f64 * scale } else { 0.0 })
    }
}

/// A second contract of the same chaincode.
#[derive(Default)]
struct Admin;

#[contract]
impl Admin {
    #[transaction(evaluate)]
    fn version() -> Result<String, ContractError> {
        Ok("1.0".into())
    }
}

/// Another chaincode, for chaincode-to-chaincode calls.
#[derive(Default)]
struct Counter;

#[contract(name = "counter")]
impl Counter {
    #[transaction(submit)]
    fn increment(&self, ctx: &mut Context) -> Result<u64, ContractError> {
        let n = ctx
            .stub()
            .get_state("n")?
            .map(|v| String::from_utf8_lossy(&v).parse::<u64>().unwrap_or(0))
            .unwrap_or(0);
        ctx.stub().put_state("n", (n + 1).to_string())?;
        Ok(n + 1)
    }
}

fn chaincode() -> Chaincode {
    Chaincode::new().with(Admin).with(Marbles)
}

fn user() -> MockIdentity {
    MockIdentity::with_attributes("Org1MSP", "user1", &[("role", "auditor")])
}

fn ok(r: &Response) -> String {
    assert_eq!(r.status, 200, "{}", r.message);
    String::from_utf8_lossy(&r.payload).into_owned()
}

fn marble(name: &str, color: &str) -> String {
    format!(r#"{{"name":"{name}","color":"{color}","sizeCm":3,"note":null}}"#)
}

#[test]
fn composite_keys_ranges_and_events() {
    let (mut ledger, cc, id) = (MockLedger::new("marbles"), chaincode(), user());
    for (name, color) in [("m1", "blue"), ("m2", "red"), ("m3", "blue")] {
        ok(&ledger.invoke(&cc, &id, "Create", &[&marble(name, color)]));
    }
    let event = ledger
        .last_tx()
        .and_then(|t| t.event.clone())
        .expect("event");
    assert_eq!(event.event_name, "created-last", "the last event wins");
    assert_eq!(event.payload, b"m3");
    assert!(
        ledger
            .keys()
            .contains(&"\u{0}color~name\u{0}blue\u{0}m1\u{0}".to_owned()),
        "{:?}",
        ledger.keys()
    );
    let blue = ok(&ledger.evaluate(&cc, &id, "ByColor", &["blue"]));
    let blue: Vec<Marble> = serde_json::from_str(&blue).expect("JSON");
    assert_eq!(
        blue.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        ["m1", "m3"]
    );
    let rwset = ledger.last_tx().expect("tx").rwset("marbles");
    let range = &rwset.range_queries_info[0];
    assert_eq!(range.start_key, "\u{0}color~name\u{0}blue\u{0}");
    assert_eq!(range.end_key, "\u{0}color~name\u{0}blue\u{0}\u{10FFFF}");
    assert!(range.itr_exhausted);

    let bad = ledger.invoke(&cc, &id, "Create", &["{not json"]);
    assert_eq!(bad.status, 500);
    assert!(
        bad.message
            .starts_with("error managing parameter marble. conversion error. value {not json was not passed in expected format Marble"),
        "{}",
        bad.message
    );
}

#[test]
fn pagination_history_and_own_writes() {
    let (mut ledger, cc, id) = (MockLedger::new("marbles"), chaincode(), user());
    for key in ["k1", "k2", "k3", "k4", "k5"] {
        ok(&ledger.invoke(&cc, &id, "Put", &[key, "v"]));
    }
    assert_eq!(
        ok(&ledger.evaluate(&cc, &id, "Page", &["2", ""])),
        "k1,k2|2|k3"
    );
    let rwset = ledger.last_tx().expect("tx").rwset("marbles");
    assert!(!rwset.range_queries_info[0].itr_exhausted);
    assert_eq!(rwset.range_queries_info[0].end_key, "k2");
    assert_eq!(
        ok(&ledger.evaluate(&cc, &id, "Page", &["2", "k5"])),
        "k5|1|"
    );

    ok(&ledger.invoke(&cc, &id, "Put", &["k1", "w"]));
    ok(&ledger.invoke(&cc, &id, "Remove", &["k1"]));
    let history = ok(&ledger.evaluate(&cc, &id, "History", &["k1"]));
    assert_eq!(
        history,
        r#"["mock-tx-9:deleted","mock-tx-8:w","mock-tx-1:v"]"#
    );
    let tx = ledger.last_tx().expect("tx");
    assert!(!tx.committed, "evaluate does not commit");
}

#[test]
fn key_level_endorsement_is_a_metadata_write() {
    let (mut ledger, cc, id) = (MockLedger::new("marbles"), chaincode(), user());
    ok(&ledger.invoke(&cc, &id, "Put", &["k", "v"]));
    ok(&ledger.invoke(&cc, &id, "Endorse", &["k", "OR('Org1MSP.peer')"]));
    let rwset = ledger.last_tx().expect("tx").rwset("marbles");
    assert_eq!(
        rwset.metadata_writes[0].entries[0].name,
        "VALIDATION_PARAMETER"
    );
    assert_eq!(
        ok(&ledger.evaluate(&cc, &id, "Policy", &["k"])),
        "OR('Org1MSP.peer')"
    );
    let rwset = ledger.last_tx().expect("tx").rwset("marbles");
    assert_eq!(
        rwset.reads,
        [KvRead {
            key: "k".into(),
            version: Some(Version {
                block_num: 2,
                tx_num: 0
            }),
        }]
    );
}

#[test]
fn private_data_and_transient_map() {
    let (mut ledger, cc, id) = (MockLedger::new("marbles"), chaincode(), user());
    ledger.set_transient(BTreeMap::from([("secret".to_owned(), b"s3cr3t".to_vec())]));
    assert_eq!(ok(&ledger.invoke(&cc, &id, "Secret", &["p"])), "false");
    let tx = ledger.last_tx().expect("tx");
    assert!(
        tx.rwset("marbles").writes.is_empty(),
        "private writes stay private"
    );
    assert_eq!(ledger.private_state("private", "p"), Some(&b"s3cr3t"[..]));
    assert_eq!(
        ok(&ledger.evaluate(&cc, &id, "ReadSecret", &["p"])),
        "s3cr3t:32"
    );
}

#[test]
fn routing_between_contracts_and_argument_conversion() {
    let (mut ledger, cc, id) = (MockLedger::new("marbles"), chaincode(), user());
    assert_eq!(ok(&ledger.evaluate(&cc, &id, "Admin:Version", &[])), "1.0");
    assert_eq!(
        ok(&ledger.evaluate(&cc, &id, "marbles:Sum", &["[1,2,3]", "0.5", "true"])),
        "3"
    );
    assert_eq!(
        ok(&ledger.evaluate(&cc, &id, "Sum", &["[1000000]", "2", "t"])),
        "2e+06"
    );
    let bad = ledger.evaluate(&cc, &id, "Sum", &["[1]", "1", "maybe"]);
    assert_eq!(
        bad.message,
        "error managing parameter flag. conversion error. cannot convert passed value maybe to bool"
    );
    let blank = ledger.evaluate(&cc, &id, "marbles:", &[]);
    assert_eq!(blank.message, "Blank function name passed");
    let none = ledger.evaluate(&cc, &id, "Version", &[]);
    assert_eq!(
        none.message,
        "Function Version not found in contract marbles"
    );

    let metadata = ok(&ledger.evaluate(&cc, &id, "org.hyperledger.fabric:getMetadata", &[]));
    let metadata: serde_json::Value = serde_json::from_str(&metadata).expect("JSON");
    assert_eq!(metadata["contracts"]["marbles"]["default"], true);
    assert_eq!(metadata["contracts"]["Admin"]["default"], false);
    let marble = &metadata["components"]["schemas"]["Marble"];
    assert_eq!(
        marble["required"],
        serde_json::json!(["name", "color", "sizeCm"])
    );
    assert!(marble["properties"]["sizeCm"].is_object());
}

#[test]
fn chaincode_to_chaincode_calls_share_the_transaction() {
    let (mut ledger, cc, id) = (MockLedger::new("marbles"), chaincode(), user());
    ledger.deploy("counter", Chaincode::new().with(Counter));
    assert_eq!(ok(&ledger.invoke(&cc, &id, "CallCounter", &[])), "1");
    assert_eq!(ok(&ledger.invoke(&cc, &id, "CallCounter", &[])), "2");
    let tx = ledger.last_tx().expect("tx");
    assert_eq!(tx.written("counter", "n"), Some(Some(b"2".to_vec())));
    assert_eq!(ledger.state_of("counter", "n"), Some(&b"2"[..]));
}

#[test]
fn client_identity_is_what_go_reports() {
    let (mut ledger, cc, id) = (MockLedger::new("marbles"), chaincode(), user());
    let answer = ok(&ledger.evaluate(&cc, &id, "Whoami", &[]));
    let (msp, encoded) = answer.split_once('|').expect("msp|id");
    assert_eq!(msp, "Org1MSP");
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64");
    assert_eq!(
        String::from_utf8_lossy(&decoded),
        "x509::CN=user1,OU=client,O=Org1MSP::CN=ca.Org1MSP,O=Org1MSP"
    );
    let denied = MockIdentity::with_attributes("Org1MSP", "user2", &[("role", "clerk")]);
    let answer = ledger.evaluate(&cc, &denied, "Whoami", &[]);
    assert_eq!(
        answer.message,
        "attribute 'role' equals 'clerk', not 'auditor'"
    );
    let none = MockIdentity::with_attributes("Org1MSP", "user3", &[]);
    let answer = ledger.evaluate(&cc, &none, "Whoami", &[]);
    assert_eq!(answer.message, "attribute 'role' was not found");
}

/// Go's `pkix.Name.String()` order: SERIALNUMBER, CN, OU, O, POSTALCODE, STREET, L, ST,
/// C (reverse of `ToRDNSequence`), whatever the certificate's order; several values of
/// one type form one multi-valued RDN joined with `+`; other attributes are dropped.
#[test]
fn distinguished_names_follow_go_pkix() {
    let pem = test_certificate(
        &[
            ("CN", "user, one"),
            ("OU", "client"),
            ("OU", "org1"),
            ("C", "US"),
            ("ST", "North Carolina"),
            ("O", "Hyperledger"),
        ],
        &[
            ("C", "US"),
            ("ST", "North Carolina"),
            ("L", "Durham"),
            ("O", "org1.example.com"),
            ("CN", "ca.org1.example.com"),
        ],
        &[("hf.EnrollmentID", "user1")],
    );
    let creator = MockIdentity::new("Org1MSP", &pem).serialized();
    let id = ClientIdentity::from_creator(&creator).expect("identity");
    assert_eq!(
        id.subject(),
        "CN=user\\, one,OU=client+OU=org1,O=Hyperledger,ST=North Carolina,C=US"
    );
    assert_eq!(
        id.issuer(),
        "CN=ca.org1.example.com,O=org1.example.com,L=Durham,ST=North Carolina,C=US"
    );
    assert_eq!(id.attribute_value("hf.EnrollmentID"), Some("user1"));
    assert!(id.has_ou_value("org1"));
    assert!(id.certificate().is_ok());
}

/// A certificate made by a real X.509 library (rcgen, signed) parses the same way.
#[test]
fn real_certificates_parse() {
    let mut params = rcgen::CertificateParams::new(vec!["peer0".into()]).expect("params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CountryName, "US");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "Org1");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationalUnitName, "admin");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Admin@org1");
    params
        .custom_extensions
        .push(rcgen::CustomExtension::from_oid_content(
            &[1, 2, 3, 4, 5, 6, 7, 8, 1],
            br#"{"attrs":{"hf.Type":"admin","role":"auditor"}}"#.to_vec(),
        ));
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("certificate");
    let creator = MockIdentity::new("Org1MSP", &cert.pem()).serialized();
    let id = ClientIdentity::from_creator(&creator).expect("identity");
    assert_eq!(id.subject(), "CN=Admin@org1,OU=admin,O=Org1,C=US");
    assert_eq!(id.issuer(), id.subject());
    assert_eq!(id.attribute_value("hf.Type"), Some("admin"));
    assert!(id.assert_attribute_value("role", "auditor").is_ok());

    let not_pem = weft_chaincode_sdk::proto::SerializedIdentity {
        mspid: "Org1MSP".into(),
        id_bytes: b"idemix".to_vec(),
    };
    let err = ClientIdentity::from_creator(&prost::Message::encode_to_vec(&not_pem))
        .expect_err("not X.509");
    assert_eq!(
        err.to_string(),
        "identity bytes are neither X509 PEM format nor an idemix credential"
    );
}

#[test]
fn composite_key_rules_are_fabrics() {
    use weft_chaincode_sdk::stub::{create_composite_key, split_composite_key};
    let key = create_composite_key("t", &["a", "", "b"]).expect("key");
    assert_eq!(key, "\u{0}t\u{0}a\u{0}\u{0}b\u{0}");
    assert_eq!(
        split_composite_key(&key),
        (
            "t".to_owned(),
            vec!["a".to_owned(), String::new(), "b".to_owned()]
        )
    );
    let err = create_composite_key("t", &["x\u{0}"]).expect_err("NUL refused");
    assert_eq!(
        err.to_string(),
        "input contains unicode U+0000 starting at position [1]. U+0000 and U+10FFFF are not allowed in the input attribute of a composite key"
    );
}

/// A contract with Go's transaction hooks.
#[derive(Default)]
struct Hooked;

#[contract(name = "hooked")]
impl Hooked {
    #[before_transaction]
    fn before(&self, ctx: &mut Context) -> Result<(), ContractError> {
        let (function, _) = ctx.stub().function_and_parameters();
        if function.ends_with("Forbidden") {
            return Err("not before this".into());
        }
        Ok(())
    }

    #[after_transaction]
    fn after(&self, ctx: &mut Context, payload: &[u8]) -> Result<(), ContractError> {
        ctx.stub().set_event("after", payload.to_vec())?;
        Ok(())
    }

    #[unknown_transaction]
    fn unknown(&self, ctx: &mut Context) -> Result<String, ContractError> {
        Ok(format!(
            "unknown {}",
            ctx.stub().function_and_parameters().0
        ))
    }

    #[transaction(evaluate)]
    fn echo(&self, _ctx: &mut Context, text: String) -> Result<String, ContractError> {
        Ok(text)
    }

    #[transaction(evaluate)]
    fn forbidden(&self) -> Result<(), ContractError> {
        Ok(())
    }
}

#[test]
fn transaction_hooks_run_as_in_go() {
    let (mut ledger, id) = (MockLedger::new("hooked"), user());
    let cc = Chaincode::new().with(Hooked);
    assert_eq!(ok(&ledger.evaluate(&cc, &id, "Echo", &["hi"])), "hi");
    let event = ledger
        .last_tx()
        .and_then(|t| t.event.clone())
        .expect("event");
    assert_eq!(
        (event.event_name.as_str(), event.payload.as_slice()),
        ("after", &b"hi"[..])
    );
    assert_eq!(ok(&ledger.evaluate(&cc, &id, "Nope", &[])), "unknown Nope");
    let refused = ledger.evaluate(&cc, &id, "hooked:Forbidden", &[]);
    assert_eq!(
        (refused.status, refused.message.as_str()),
        (500, "not before this")
    );
}
