//! Every policy of a channel config tree, addressable by path.

use std::collections::HashMap;
use std::sync::Arc;

use prost::Message as _;
use weft_proto::common::policy::PolicyType;
use weft_proto::common::{
    ApplicationPolicy, ConfigGroup, ImplicitMetaPolicy as ImplicitMetaProto, application_policy,
};

use super::{ImplicitMetaPolicy, Policy, PolicyError, SignaturePolicy, SignedData};
use crate::msp::MspManager;

/// The path of the root group of a channel config.
const ROOT: &str = "/Channel";

/// The policies of a channel config, keyed by absolute path: `/Channel/Readers`,
/// `/Channel/Application/Writers`, `/Channel/Application/Org1/Endorsement`,
/// `/Channel/Orderer/BlockValidation`…
#[derive(Debug)]
pub struct PolicyManager {
    policies: HashMap<String, Arc<Policy>>,
    msps: Arc<MspManager>,
}

impl PolicyManager {
    /// Compiles every policy of the config tree rooted at `root` (the "Channel" group)
    /// against `msps`. Signature and implicit-meta policies are supported; any other type,
    /// a missing policy or an undecodable one is an error naming its path.
    pub fn from_channel_group(
        root: &ConfigGroup,
        msps: Arc<MspManager>,
    ) -> Result<PolicyManager, PolicyError> {
        let mut policies = HashMap::new();
        build_group(ROOT, root, &msps, &mut policies)?;
        Ok(PolicyManager { policies, msps })
    }

    /// The MSPs the policies were compiled against.
    pub fn msp_manager(&self) -> &Arc<MspManager> {
        &self.msps
    }

    /// Every policy path, in no particular order.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.policies.keys().map(String::as_str)
    }

    /// The policy at `path`: absolute (`/Channel/Application/Writers`) or relative to the
    /// channel group (`Application/Writers`).
    pub fn get(&self, path: &str) -> Option<&Arc<Policy>> {
        if path.starts_with('/') {
            self.policies.get(path)
        } else if path.is_empty() {
            None
        } else {
            self.policies.get(&format!("{ROOT}/{path}"))
        }
    }

    /// Evaluates the policy at `path` against a signature set.
    pub fn evaluate(&self, path: &str, signed: &[SignedData<'_>]) -> Result<(), PolicyError> {
        self.get(path)
            .ok_or_else(|| PolicyError::UnknownPolicy {
                path: path.to_owned(),
            })?
            .evaluate(signed)
    }

    /// Evaluates a chaincode's `ApplicationPolicy`: a signature policy is compiled and
    /// evaluated directly; a channel config policy reference is looked up as a path.
    pub fn evaluate_application_policy(
        &self,
        policy: &ApplicationPolicy,
        signed: &[SignedData<'_>],
    ) -> Result<(), PolicyError> {
        match &policy.r#type {
            Some(application_policy::Type::SignaturePolicy(envelope)) => SignaturePolicy::new(
                "application signature policy",
                envelope.clone(),
                self.msps.clone(),
            )?
            .evaluate(signed),
            Some(application_policy::Type::ChannelConfigPolicyReference(path)) => {
                self.evaluate(path, signed)
            }
            None => Err(PolicyError::Invalid {
                policy: "application policy".into(),
                reason: "neither a signature policy nor a channel config policy reference".into(),
            }),
        }
    }

    /// [`PolicyManager::evaluate_application_policy`] on a marshaled `ApplicationPolicy`.
    pub fn evaluate_application_policy_bytes(
        &self,
        policy: &[u8],
        signed: &[SignedData<'_>],
    ) -> Result<(), PolicyError> {
        let policy = ApplicationPolicy::decode(policy).map_err(|e| PolicyError::Invalid {
            policy: "application policy".into(),
            reason: format!("cannot decode ApplicationPolicy: {e}"),
        })?;
        self.evaluate_application_policy(&policy, signed)
    }
}

/// Compiles the policies of `group` (at `path`) after those of its child groups, so that
/// implicit-meta policies can refer to their children's policies.
fn build_group(
    path: &str,
    group: &ConfigGroup,
    msps: &Arc<MspManager>,
    policies: &mut HashMap<String, Arc<Policy>>,
) -> Result<(), PolicyError> {
    let mut children: Vec<&String> = group.groups.keys().collect();
    children.sort();
    for name in &children {
        build_group(
            &format!("{path}/{name}"),
            &group.groups[*name],
            msps,
            policies,
        )?;
    }

    let mut names: Vec<&String> = group.policies.keys().collect();
    names.sort();
    for name in names {
        let full = format!("{path}/{name}");
        let invalid = |reason: String| PolicyError::Invalid {
            policy: full.clone(),
            reason,
        };
        let Some(policy) = group.policies[name].policy.as_ref() else {
            return Err(invalid("the policy is missing".into()));
        };
        let compiled = match PolicyType::try_from(policy.r#type) {
            Ok(PolicyType::Signature) => Policy::Signature(SignaturePolicy::from_bytes(
                full.clone(),
                &policy.value,
                msps.clone(),
            )?),
            Ok(PolicyType::ImplicitMeta) => {
                let definition = ImplicitMetaProto::decode(policy.value.as_slice())
                    .map_err(|e| invalid(format!("cannot decode ImplicitMetaPolicy: {e}")))?;
                let subs = children
                    .iter()
                    .map(|child| {
                        let child_path = format!("{path}/{child}");
                        let sub = sub_policy(&child_path, &definition.sub_policy, policies);
                        (child_path, sub)
                    })
                    .collect();
                Policy::ImplicitMeta(ImplicitMetaPolicy::new(
                    full.clone(),
                    &definition,
                    subs,
                    msps.clone(),
                )?)
            }
            _ => {
                return Err(invalid(format!(
                    "unsupported policy type {}",
                    policy.r#type
                )));
            }
        };
        policies.insert(full, Arc::new(compiled));
    }
    Ok(())
}

/// The policy a child group has under `name` (relative to the child, or absolute within it).
fn sub_policy(
    child_path: &str,
    name: &str,
    policies: &HashMap<String, Arc<Policy>>,
) -> Option<Arc<Policy>> {
    if name.is_empty() {
        return None;
    }
    let path = if name.starts_with('/') {
        name.strip_prefix(child_path)
            .filter(|rest| rest.starts_with('/'))
            .map(|_| name.to_owned())?
    } else {
        format!("{child_path}/{name}")
    };
    policies.get(&path).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msp::test_certs::{TestCert, TestOrg};
    use crate::policy::dsl;
    use crate::policy::test_support::signed;
    use weft_proto::common::implicit_meta_policy::Rule;
    use weft_proto::common::{ConfigPolicy, Policy as PolicyProto};

    const DATA: &[u8] = b"block";

    fn signature(rule: &str) -> ConfigPolicy {
        ConfigPolicy {
            policy: Some(PolicyProto {
                r#type: PolicyType::Signature as i32,
                value: dsl::parse(rule).unwrap().encode_to_vec(),
            }),
            ..Default::default()
        }
    }

    fn implicit(rule: Rule, sub_policy: &str) -> ConfigPolicy {
        ConfigPolicy {
            policy: Some(PolicyProto {
                r#type: PolicyType::ImplicitMeta as i32,
                value: ImplicitMetaProto {
                    sub_policy: sub_policy.into(),
                    rule: rule as i32,
                }
                .encode_to_vec(),
            }),
            ..Default::default()
        }
    }

    fn group(policies: Vec<(&str, ConfigPolicy)>, groups: Vec<(&str, ConfigGroup)>) -> ConfigGroup {
        ConfigGroup {
            policies: policies
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            groups: groups.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            ..Default::default()
        }
    }

    fn org_group(mspid: &str) -> ConfigGroup {
        group(
            vec![
                (
                    "Readers",
                    signature(&format!(
                        "OR('{mspid}.admin', '{mspid}.peer', '{mspid}.client')"
                    )),
                ),
                (
                    "Writers",
                    signature(&format!("OR('{mspid}.admin', '{mspid}.client')")),
                ),
                ("Admins", signature(&format!("OR('{mspid}.admin')"))),
                ("Endorsement", signature(&format!("OR('{mspid}.peer')"))),
            ],
            vec![],
        )
    }

    struct Channel {
        orgs: Vec<TestOrg>,
        manager: PolicyManager,
    }

    /// A channel with three application orgs and an orderer group without orgs.
    fn channel() -> Channel {
        let orgs: Vec<TestOrg> = ["Org1MSP", "Org2MSP", "Org3MSP"]
            .into_iter()
            .map(TestOrg::new)
            .collect();
        let msps = Arc::new(MspManager::new(orgs.iter().map(TestOrg::msp).collect()));
        let application = group(
            vec![
                ("Readers", implicit(Rule::Any, "Readers")),
                ("Writers", implicit(Rule::Any, "Writers")),
                ("Admins", implicit(Rule::Majority, "Admins")),
                ("Endorsement", implicit(Rule::Majority, "Endorsement")),
                ("AllEndorse", implicit(Rule::All, "Endorsement")),
                ("Missing", implicit(Rule::Any, "NoSuchPolicy")),
            ],
            orgs.iter()
                .enumerate()
                .map(|(i, o)| (["Org1", "Org2", "Org3"][i], org_group(&o.name)))
                .collect(),
        );
        let orderer = group(
            vec![
                ("Writers", implicit(Rule::Any, "Writers")),
                ("Admins", implicit(Rule::Majority, "Admins")),
                ("BlockValidation", implicit(Rule::Any, "Writers")),
            ],
            vec![],
        );
        let root = group(
            vec![
                ("Readers", implicit(Rule::Any, "Readers")),
                ("Admins", implicit(Rule::Majority, "Admins")),
            ],
            vec![("Application", application), ("Orderer", orderer)],
        );
        let manager = PolicyManager::from_channel_group(&root, msps).unwrap();
        Channel { orgs, manager }
    }

    impl Channel {
        fn peers(&self, which: &[usize]) -> Vec<SignedData<'static>> {
            which
                .iter()
                .map(|i| {
                    let org = &self.orgs[*i];
                    signed(&org.member("peer"), &org.name, DATA)
                })
                .collect()
        }
    }

    #[test]
    fn every_policy_is_addressable_by_path() {
        let ch = channel();
        let mut paths: Vec<&str> = ch.manager.paths().collect();
        paths.sort_unstable();
        assert!(paths.contains(&"/Channel/Readers"));
        assert!(paths.contains(&"/Channel/Application/Writers"));
        assert!(paths.contains(&"/Channel/Application/Org1/Endorsement"));
        assert!(paths.contains(&"/Channel/Orderer/BlockValidation"));
        assert_eq!(paths.len(), 2 + 6 + 3 * 4 + 3);
        assert!(ch.manager.get("Application/Org2/Admins").is_some());
        assert_eq!(
            ch.manager
                .get("/Channel/Application/Org2/Admins")
                .unwrap()
                .name(),
            "/Channel/Application/Org2/Admins"
        );
        assert!(ch.manager.get("/Other/Readers").is_none());
        assert!(ch.manager.get("").is_none());
        assert_eq!(
            ch.manager.evaluate("/Channel/Nope", &[]),
            Err(PolicyError::UnknownPolicy {
                path: "/Channel/Nope".into()
            })
        );
    }

    #[test]
    fn implicit_meta_any_all_majority() {
        let ch = channel();
        let m = &ch.manager;
        let one = ch.peers(&[0]);
        let two = ch.peers(&[0, 2]);
        let three = ch.peers(&[2, 1, 0]);

        assert_eq!(m.evaluate("/Channel/Application/Readers", &one), Ok(()));
        assert!(m.evaluate("/Channel/Application/Readers", &[]).is_err());
        // Peers are not writers (OR(admin, client)).
        assert!(m.evaluate("/Channel/Application/Writers", &three).is_err());

        // MAJORITY of 3 is 2.
        assert!(matches!(
            m.evaluate("/Channel/Application/Endorsement", &one),
            Err(PolicyError::NotSatisfied { .. })
        ));
        assert_eq!(m.evaluate("/Channel/Application/Endorsement", &two), Ok(()));

        // ALL needs all three.
        assert!(m.evaluate("/Channel/Application/AllEndorse", &two).is_err());
        assert_eq!(
            m.evaluate("/Channel/Application/AllEndorse", &three),
            Ok(())
        );

        // A missing sub-policy counts but is never satisfied.
        assert!(m.evaluate("/Channel/Application/Missing", &three).is_err());

        // Nested: /Channel/Readers = ANY Readers of Application and Orderer; the orderer
        // group has no orgs, so its Readers policy is missing → only Application counts.
        assert_eq!(m.evaluate("/Channel/Readers", &one), Ok(()));
    }

    #[test]
    fn implicit_meta_with_zero_children_is_satisfied() {
        let ch = channel();
        assert_eq!(
            ch.manager.evaluate("/Channel/Orderer/BlockValidation", &[]),
            Ok(())
        );
        let Some(policy) = ch.manager.get("/Channel/Orderer/Writers") else {
            panic!("missing policy");
        };
        let Policy::ImplicitMeta(imp) = policy.as_ref() else {
            panic!("not implicit meta");
        };
        assert_eq!(imp.threshold(), 0);
        assert_eq!(imp.sub_policy(), "Writers");
    }

    #[test]
    fn implicit_meta_errors_say_how_many() {
        let ch = channel();
        let err = ch
            .manager
            .evaluate("/Channel/Application/Endorsement", &ch.peers(&[1]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "policy /Channel/Application/Endorsement not satisfied: implicit policy evaluation failed - 1 sub-policies were satisfied, but this policy requires 2 of the 'Endorsement' sub-policies to be satisfied"
        );
    }

    #[test]
    fn application_policies() {
        let ch = channel();
        let two = ch.peers(&[0, 1]);
        let by_reference = ApplicationPolicy {
            r#type: Some(application_policy::Type::ChannelConfigPolicyReference(
                "/Channel/Application/Endorsement".into(),
            )),
        };
        assert_eq!(
            ch.manager.evaluate_application_policy(&by_reference, &two),
            Ok(())
        );
        let by_signature = ApplicationPolicy {
            r#type: Some(application_policy::Type::SignaturePolicy(
                dsl::parse("AND('Org1MSP.peer', 'Org3MSP.peer')").unwrap(),
            )),
        };
        assert!(
            ch.manager
                .evaluate_application_policy(&by_signature, &two)
                .is_err()
        );
        assert_eq!(
            ch.manager.evaluate_application_policy_bytes(
                &by_signature.encode_to_vec(),
                &ch.peers(&[2, 0])
            ),
            Ok(())
        );
        assert!(matches!(
            ch.manager
                .evaluate_application_policy(&ApplicationPolicy { r#type: None }, &two),
            Err(PolicyError::Invalid { .. })
        ));
        assert!(matches!(
            ch.manager.evaluate_application_policy_bytes(b"\xff", &two),
            Err(PolicyError::Invalid { .. })
        ));
        let dangling = ApplicationPolicy {
            r#type: Some(application_policy::Type::ChannelConfigPolicyReference(
                "/Channel/Nope".into(),
            )),
        };
        assert!(matches!(
            ch.manager.evaluate_application_policy(&dangling, &two),
            Err(PolicyError::UnknownPolicy { .. })
        ));
    }

    #[test]
    fn bad_trees_are_typed_errors() {
        let msps = Arc::new(MspManager::new(vec![]));
        let unknown_type = group(
            vec![(
                "Readers",
                ConfigPolicy {
                    policy: Some(PolicyProto {
                        r#type: PolicyType::Msp as i32,
                        value: vec![],
                    }),
                    ..Default::default()
                },
            )],
            vec![],
        );
        let missing = group(vec![("Readers", ConfigPolicy::default())], vec![]);
        let bad_meta = group(
            vec![(
                "Readers",
                ConfigPolicy {
                    policy: Some(PolicyProto {
                        r#type: PolicyType::ImplicitMeta as i32,
                        value: vec![0xff],
                    }),
                    ..Default::default()
                },
            )],
            vec![],
        );
        let bad_rule = group(
            vec![(
                "Readers",
                ConfigPolicy {
                    policy: Some(PolicyProto {
                        r#type: PolicyType::ImplicitMeta as i32,
                        value: ImplicitMetaProto {
                            sub_policy: "Readers".into(),
                            rule: 7,
                        }
                        .encode_to_vec(),
                    }),
                    ..Default::default()
                },
            )],
            vec![],
        );
        let nested_bad = group(
            vec![],
            vec![(
                "Application",
                group(vec![], vec![("Org1", missing.clone())]),
            )],
        );
        for (tree, path) in [
            (unknown_type, "/Channel/Readers"),
            (missing, "/Channel/Readers"),
            (bad_meta, "/Channel/Readers"),
            (bad_rule, "/Channel/Readers"),
            (nested_bad, "/Channel/Application/Org1/Readers"),
        ] {
            match PolicyManager::from_channel_group(&tree, msps.clone()) {
                Err(PolicyError::Invalid { policy, .. }) => assert_eq!(policy, path),
                other => panic!("expected an invalid policy at {path}, got {other:?}"),
            }
        }
    }

    #[test]
    fn admins_and_clients_across_orgs() {
        let ch = channel();
        let admins: Vec<SignedData<'static>> = ch.orgs[..2]
            .iter()
            .map(|o| signed(&o.member("admin"), &o.name, DATA))
            .collect();
        assert_eq!(
            ch.manager.evaluate("/Channel/Application/Admins", &admins),
            Ok(())
        );
        // MAJORITY of {Application, Orderer}: the orderer group's Admins has no children,
        // so it is satisfied by anyone.
        assert_eq!(ch.manager.evaluate("/Channel/Admins", &admins), Ok(()));
        assert!(
            ch.manager
                .evaluate("/Channel/Admins", &admins[..1])
                .is_err()
        );
        let client: TestCert = ch.orgs[2].member("client");
        assert_eq!(
            ch.manager
                .evaluate("Application/Writers", &[signed(&client, "Org3MSP", DATA)]),
            Ok(())
        );
    }
}
