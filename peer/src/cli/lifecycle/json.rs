//! `--output json` as Fabric prints it: Go's `json.MarshalIndent(msg, "", "\t")` of the
//! generated protobuf structs, i.e. the `json` struct tags (snake_case names, `omitempty`),
//! fields in declaration order, maps sorted by key, bytes in standard base64, oneofs as
//! `{"<OneofName>": {"<WrapperField>": value}}`, and `<`, `>`, `&` escaped.

use std::collections::HashMap;

use weft_proto::common::{
    MspPrincipal, SignaturePolicy, SignaturePolicyEnvelope, signature_policy,
};
use weft_proto::lifecycle::{
    ChaincodeSource, CheckCommitReadinessResult, QueryApprovedChaincodeDefinitionResult,
    QueryChaincodeDefinitionResult, QueryChaincodeDefinitionsResult,
    QueryInstalledChaincodesResult, chaincode_source, query_installed_chaincodes_result,
};
use weft_proto::protos::{
    ApplicationPolicy, CollectionConfigPackage, application_policy, collection_config,
    collection_policy_config,
};

use crate::cli::channel::base64_std;

/// A JSON value with ordered object fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// An object, fields in order.
    Object(Vec<(String, Json)>),
    /// An array.
    Array(Vec<Json>),
    /// A string.
    String(String),
    /// A number (as written).
    Number(String),
    /// A boolean.
    Bool(bool),
}

/// Builds an object, dropping `omitempty` fields that are empty.
#[derive(Debug, Default)]
struct Obj(Vec<(String, Json)>);

impl Obj {
    fn str(mut self, name: &str, value: &str) -> Self {
        if !value.is_empty() {
            self.0.push((name.into(), Json::String(value.into())));
        }
        self
    }
    fn bytes(mut self, name: &str, value: &[u8]) -> Self {
        if !value.is_empty() {
            self.0.push((name.into(), Json::String(base64_std(value))));
        }
        self
    }
    fn num(mut self, name: &str, value: i64) -> Self {
        if value != 0 {
            self.0.push((name.into(), Json::Number(value.to_string())));
        }
        self
    }
    fn unum(mut self, name: &str, value: u64) -> Self {
        if value != 0 {
            self.0.push((name.into(), Json::Number(value.to_string())));
        }
        self
    }
    fn bool(mut self, name: &str, value: bool) -> Self {
        if value {
            self.0.push((name.into(), Json::Bool(true)));
        }
        self
    }
    fn opt(mut self, name: &str, value: Option<Json>) -> Self {
        if let Some(v) = value {
            self.0.push((name.into(), v));
        }
        self
    }
    fn arr(mut self, name: &str, values: Vec<Json>) -> Self {
        if !values.is_empty() {
            self.0.push((name.into(), Json::Array(values)));
        }
        self
    }
    fn bool_map(mut self, name: &str, map: &HashMap<String, bool>) -> Self {
        if !map.is_empty() {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields = keys
                .into_iter()
                .map(|k| (k.clone(), Json::Bool(map[k])))
                .collect();
            self.0.push((name.into(), Json::Object(fields)));
        }
        self
    }
    fn done(self) -> Json {
        Json::Object(self.0)
    }
}

/// A one-field wrapper object (`{"Type": inner}`), the shape of a Go oneof.
fn oneof(name: &str, wrapper_field: &str, value: Json) -> Json {
    Json::Object(vec![(
        name.into(),
        Json::Object(vec![(wrapper_field.into(), value)]),
    )])
}

/// Go's string escaping in `encoding/json` (HTML-safe).
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Json {
    /// `json.MarshalIndent(v, "", "\t")`.
    pub fn indented(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        let pad = |out: &mut String, depth: usize| {
            out.push('\n');
            for _ in 0..depth {
                out.push('\t');
            }
        };
        match self {
            Self::Object(fields) if fields.is_empty() => out.push_str("{}"),
            Self::Object(fields) => {
                out.push('{');
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    pad(out, depth + 1);
                    out.push_str(&quote(name));
                    out.push_str(": ");
                    value.write(out, depth + 1);
                }
                pad(out, depth);
                out.push('}');
            }
            Self::Array(items) if items.is_empty() => out.push_str("[]"),
            Self::Array(items) => {
                out.push('[');
                for (i, value) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    pad(out, depth + 1);
                    value.write(out, depth + 1);
                }
                pad(out, depth);
                out.push(']');
            }
            Self::String(s) => out.push_str(&quote(s)),
            Self::Number(n) => out.push_str(n),
            Self::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        }
    }
}

/// `lifecycle.QueryInstalledChaincodesResult`.
pub fn installed_chaincodes(result: &QueryInstalledChaincodesResult) -> Json {
    let installed = result
        .installed_chaincodes
        .iter()
        .map(|ic| {
            Obj::default()
                .str("package_id", &ic.package_id)
                .str("label", &ic.label)
                .opt("references", references(&ic.references))
                .done()
        })
        .collect();
    Obj::default().arr("installed_chaincodes", installed).done()
}

fn references(
    refs: &HashMap<String, query_installed_chaincodes_result::References>,
) -> Option<Json> {
    if refs.is_empty() {
        return None;
    }
    let mut channels: Vec<&String> = refs.keys().collect();
    channels.sort();
    Some(Json::Object(
        channels
            .into_iter()
            .map(|channel| {
                let chaincodes = refs[channel]
                    .chaincodes
                    .iter()
                    .map(|c| {
                        Obj::default()
                            .str("name", &c.name)
                            .str("version", &c.version)
                            .done()
                    })
                    .collect();
                (
                    channel.clone(),
                    Obj::default().arr("chaincodes", chaincodes).done(),
                )
            })
            .collect(),
    ))
}

/// `lifecycle.CheckCommitReadinessResult`.
pub fn commit_readiness(result: &CheckCommitReadinessResult) -> Json {
    Obj::default()
        .bool_map("approvals", &result.approvals)
        .done()
}

/// `lifecycle.QueryApprovedChaincodeDefinitionResult`.
pub fn approved_definition(r: &QueryApprovedChaincodeDefinitionResult) -> Json {
    Obj::default()
        .num("sequence", r.sequence)
        .str("version", &r.version)
        .str("endorsement_plugin", &r.endorsement_plugin)
        .str("validation_plugin", &r.validation_plugin)
        .bytes("validation_parameter", &r.validation_parameter)
        .opt("collections", r.collections.as_ref().map(collections))
        .bool("init_required", r.init_required)
        .opt("source", r.source.as_ref().map(source))
        .done()
}

fn source(s: &ChaincodeSource) -> Json {
    match &s.r#type {
        Some(chaincode_source::Type::LocalPackage(local)) => oneof(
            "Type",
            "LocalPackage",
            Obj::default().str("package_id", &local.package_id).done(),
        ),
        Some(chaincode_source::Type::Unavailable(_)) => {
            oneof("Type", "Unavailable", Json::Object(Vec::new()))
        }
        None => Json::Object(Vec::new()),
    }
}

/// `lifecycle.QueryChaincodeDefinitionResult`.
pub fn committed_definition(r: &QueryChaincodeDefinitionResult) -> Json {
    Obj::default()
        .num("sequence", r.sequence)
        .str("version", &r.version)
        .str("endorsement_plugin", &r.endorsement_plugin)
        .str("validation_plugin", &r.validation_plugin)
        .bytes("validation_parameter", &r.validation_parameter)
        .opt("collections", r.collections.as_ref().map(collections))
        .bool("init_required", r.init_required)
        .bool_map("approvals", &r.approvals)
        .done()
}

/// `lifecycle.QueryChaincodeDefinitionsResult`.
pub fn committed_definitions(r: &QueryChaincodeDefinitionsResult) -> Json {
    let defs = r
        .chaincode_definitions
        .iter()
        .map(|d| {
            Obj::default()
                .str("name", &d.name)
                .num("sequence", d.sequence)
                .str("version", &d.version)
                .str("endorsement_plugin", &d.endorsement_plugin)
                .str("validation_plugin", &d.validation_plugin)
                .bytes("validation_parameter", &d.validation_parameter)
                .opt("collections", d.collections.as_ref().map(collections))
                .bool("init_required", d.init_required)
                .done()
        })
        .collect();
    Obj::default().arr("chaincode_definitions", defs).done()
}

/// `peer.CollectionConfigPackage`.
pub fn collections(p: &CollectionConfigPackage) -> Json {
    let configs = p
        .config
        .iter()
        .map(|c| match &c.payload {
            Some(collection_config::Payload::StaticCollectionConfig(s)) => {
                let member = s.member_orgs_policy.as_ref().map(|m| match &m.payload {
                    Some(collection_policy_config::Payload::SignaturePolicy(env)) => {
                        oneof("Payload", "SignaturePolicy", envelope(env))
                    }
                    None => Json::Object(Vec::new()),
                });
                let config = Obj::default()
                    .str("name", &s.name)
                    .opt("member_orgs_policy", member)
                    .num("required_peer_count", i64::from(s.required_peer_count))
                    .num("maximum_peer_count", i64::from(s.maximum_peer_count))
                    .unum("block_to_live", s.block_to_live)
                    .bool("member_only_read", s.member_only_read)
                    .bool("member_only_write", s.member_only_write)
                    .opt(
                        "endorsement_policy",
                        s.endorsement_policy.as_ref().map(application_policy),
                    )
                    .done();
                oneof("Payload", "StaticCollectionConfig", config)
            }
            None => Json::Object(Vec::new()),
        })
        .collect();
    Obj::default().arr("config", configs).done()
}

fn application_policy(p: &ApplicationPolicy) -> Json {
    match &p.r#type {
        Some(application_policy::Type::SignaturePolicy(env)) => {
            oneof("Type", "SignaturePolicy", envelope(env))
        }
        Some(application_policy::Type::ChannelConfigPolicyReference(r)) => oneof(
            "Type",
            "ChannelConfigPolicyReference",
            Json::String(r.clone()),
        ),
        None => Json::Object(Vec::new()),
    }
}

fn envelope(env: &SignaturePolicyEnvelope) -> Json {
    Obj::default()
        .num("version", i64::from(env.version))
        .opt("rule", env.rule.as_ref().map(rule))
        .arr("identities", env.identities.iter().map(principal).collect())
        .done()
}

fn rule(r: &SignaturePolicy) -> Json {
    match &r.r#type {
        Some(signature_policy::Type::SignedBy(n)) => Json::Object(vec![(
            "Type".into(),
            Json::Object(vec![("SignedBy".into(), Json::Number(n.to_string()))]),
        )]),
        Some(signature_policy::Type::NOutOf(n)) => oneof(
            "Type",
            "NOutOf",
            Obj::default()
                .num("n", i64::from(n.n))
                .arr("rules", n.rules.iter().map(rule).collect())
                .done(),
        ),
        None => Json::Object(Vec::new()),
    }
}

fn principal(p: &MspPrincipal) -> Json {
    Obj::default()
        .num(
            "principal_classification",
            i64::from(p.principal_classification),
        )
        .bytes("principal", &p.principal)
        .done()
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_proto::lifecycle::query_installed_chaincodes_result::{
        Chaincode, InstalledChaincode, References,
    };

    #[test]
    fn installed_chaincodes_like_go() {
        assert_eq!(
            installed_chaincodes(&QueryInstalledChaincodesResult::default()).indented(),
            "{}"
        );
        let result = QueryInstalledChaincodesResult {
            installed_chaincodes: vec![InstalledChaincode {
                package_id: "basic_1.0:abc".into(),
                label: "basic_1.0".into(),
                references: HashMap::from([(
                    "mychannel".to_owned(),
                    References {
                        chaincodes: vec![Chaincode {
                            name: "basic".into(),
                            version: "1.0".into(),
                        }],
                    },
                )]),
            }],
        };
        assert_eq!(
            installed_chaincodes(&result).indented(),
            "{\n\t\"installed_chaincodes\": [\n\t\t{\n\t\t\t\"package_id\": \"basic_1.0:abc\",\n\
             \t\t\t\"label\": \"basic_1.0\",\n\t\t\t\"references\": {\n\t\t\t\t\"mychannel\": {\n\
             \t\t\t\t\t\"chaincodes\": [\n\t\t\t\t\t\t{\n\t\t\t\t\t\t\t\"name\": \"basic\",\n\
             \t\t\t\t\t\t\t\"version\": \"1.0\"\n\t\t\t\t\t\t}\n\t\t\t\t\t]\n\t\t\t\t}\n\t\t\t}\n\
             \t\t}\n\t]\n}"
        );
    }

    #[test]
    fn approvals_sorted_and_sources_as_go_oneofs() {
        let result = CheckCommitReadinessResult {
            approvals: HashMap::from([("Org2MSP".to_owned(), false), ("Org1MSP".to_owned(), true)]),
        };
        assert_eq!(
            commit_readiness(&result).indented(),
            "{\n\t\"approvals\": {\n\t\t\"Org1MSP\": true,\n\t\t\"Org2MSP\": false\n\t}\n}"
        );
        let approved = QueryApprovedChaincodeDefinitionResult {
            sequence: 1,
            version: "1.0".into(),
            endorsement_plugin: "escc".into(),
            validation_plugin: "vscc".into(),
            validation_parameter: vec![1, 2, 3],
            source: Some(ChaincodeSource {
                r#type: Some(chaincode_source::Type::LocalPackage(
                    chaincode_source::Local {
                        package_id: "a<b".into(),
                    },
                )),
            }),
            ..QueryApprovedChaincodeDefinitionResult::default()
        };
        assert_eq!(
            approved_definition(&approved).indented(),
            "{\n\t\"sequence\": 1,\n\t\"version\": \"1.0\",\n\t\"endorsement_plugin\": \"escc\",\n\
             \t\"validation_plugin\": \"vscc\",\n\t\"validation_parameter\": \"AQID\",\n\
             \t\"source\": {\n\t\t\"Type\": {\n\t\t\t\"LocalPackage\": {\n\
             \t\t\t\t\"package_id\": \"a\\u003cb\"\n\t\t\t}\n\t\t}\n\t}\n}"
        );
    }
}
