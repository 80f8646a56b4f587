//! Signature policies (`SignaturePolicyEnvelope`), evaluated as Fabric's `cauthdsl` does.

use std::sync::Arc;

use prost::Message as _;
use weft_proto::common::signature_policy::Type;
use weft_proto::common::{SignaturePolicy as RuleProto, SignaturePolicyEnvelope};

use super::{PolicyError, SignedData, valid_identities};
use crate::msp::{Identity, MspError, MspManager, Principal};

/// A compiled rule: indices into the envelope's identities.
#[derive(Debug, Clone)]
enum Rule {
    SignedBy(usize),
    NOutOf { n: i32, rules: Vec<Rule> },
}

/// A signature policy compiled against a channel's MSPs.
///
/// Evaluation is Fabric's greedy algorithm: `signed_by(i)` takes the first signer not yet
/// used that satisfies principal `i`; `n_out_of` evaluates each sub-rule on a copy of the
/// "used" flags, keeps the flags of those that succeed, and succeeds with at least `n`.
/// There is no backtracking, so the order of signers can matter, exactly as in Fabric.
#[derive(Debug)]
pub struct SignaturePolicy {
    name: String,
    envelope: SignaturePolicyEnvelope,
    rule: Rule,
    /// The envelope's identities, decoded once; a principal that does not decode is never
    /// satisfied (Fabric fails it at evaluation time).
    principals: Vec<Result<Principal, MspError>>,
    msps: Arc<MspManager>,
}

impl SignaturePolicy {
    /// Compiles `envelope`. `name` (a path or a description) appears in errors. Refuses a
    /// version other than 0, a missing rule and identity indices out of range.
    pub fn new(
        name: impl Into<String>,
        envelope: SignaturePolicyEnvelope,
        msps: Arc<MspManager>,
    ) -> Result<SignaturePolicy, PolicyError> {
        let name = name.into();
        let invalid = |reason: String| PolicyError::Invalid {
            policy: name.clone(),
            reason,
        };
        if envelope.version != 0 {
            return Err(invalid(format!(
                "only version 0 signature policies are understood, got version {}",
                envelope.version
            )));
        }
        let rule = compile(envelope.rule.as_ref(), envelope.identities.len()).map_err(invalid)?;
        let principals = envelope.identities.iter().map(Principal::decode).collect();
        Ok(SignaturePolicy {
            name,
            envelope,
            rule,
            principals,
            msps,
        })
    }

    /// Decodes a marshaled `SignaturePolicyEnvelope` and compiles it.
    pub fn from_bytes(
        name: impl Into<String>,
        bytes: &[u8],
        msps: Arc<MspManager>,
    ) -> Result<SignaturePolicy, PolicyError> {
        let name = name.into();
        let envelope =
            SignaturePolicyEnvelope::decode(bytes).map_err(|e| PolicyError::Invalid {
                policy: name.clone(),
                reason: format!("cannot decode SignaturePolicyEnvelope: {e}"),
            })?;
        SignaturePolicy::new(name, envelope, msps)
    }

    /// The policy's path or description.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The envelope the policy was compiled from.
    pub fn envelope(&self) -> &SignaturePolicyEnvelope {
        &self.envelope
    }

    /// Evaluates a signature set (each signature verified once, see
    /// [`valid_identities`](super::valid_identities)).
    pub fn evaluate(&self, signed: &[SignedData<'_>]) -> Result<(), PolicyError> {
        self.evaluate_identities(&valid_identities(signed, &self.msps))
    }

    /// Evaluates already-verified, de-duplicated signers.
    pub fn evaluate_identities(&self, identities: &[Arc<Identity>]) -> Result<(), PolicyError> {
        let mut used = vec![false; identities.len()];
        if self.eval(&self.rule, identities, &mut used) {
            Ok(())
        } else {
            Err(PolicyError::NotSatisfied {
                policy: self.name.clone(),
                // Fabric's wording (common/cauthdsl/policy.go); the signer count is logged.
                detail: {
                    tracing::debug!(signers = identities.len(), "signature policy not satisfied");
                    "signature set did not satisfy policy".to_owned()
                },
            })
        }
    }

    fn eval(&self, rule: &Rule, identities: &[Arc<Identity>], used: &mut [bool]) -> bool {
        match rule {
            Rule::SignedBy(index) => {
                let Some(Ok(principal)) = self.principals.get(*index) else {
                    return false;
                };
                for (i, identity) in identities.iter().enumerate() {
                    if !used[i] && self.msps.satisfies(identity, principal).is_ok() {
                        used[i] = true;
                        return true;
                    }
                }
                false
            }
            Rule::NOutOf { n, rules } => {
                let mut verified: i32 = 0;
                let mut scratch = used.to_vec();
                for sub in rules {
                    scratch.copy_from_slice(used);
                    if self.eval(sub, identities, &mut scratch) {
                        verified = verified.saturating_add(1);
                        used.copy_from_slice(&scratch);
                    }
                }
                verified >= *n
            }
        }
    }
}

fn compile(rule: Option<&RuleProto>, identities: usize) -> Result<Rule, String> {
    let Some(rule) = rule else {
        return Err("empty policy element".into());
    };
    match &rule.r#type {
        Some(Type::SignedBy(index)) => usize::try_from(*index)
            .ok()
            .filter(|i| *i < identities)
            .map(Rule::SignedBy)
            .ok_or_else(|| {
                format!("identity index out of range, requested {index}, but identities length is {identities}")
            }),
        Some(Type::NOutOf(n_out_of)) => Ok(Rule::NOutOf {
            n: n_out_of.n,
            rules: n_out_of
                .rules
                .iter()
                .map(|r| compile(Some(r), identities))
                .collect::<Result<_, _>>()?,
        }),
        None => Err("rule has neither signed_by nor n_out_of".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msp::test_certs::{TestCert, TestOrg};
    use crate::policy::dsl;
    use crate::policy::test_support::{badly_signed, signed};
    use weft_proto::common::signature_policy::NOutOf;

    const DATA: &[u8] = b"proposal response payload";

    struct Fixture {
        org1: TestOrg,
        org2: TestOrg,
        msps: Arc<MspManager>,
    }

    fn fixture() -> Fixture {
        let org1 = TestOrg::new("Org1MSP");
        let org2 = TestOrg::new("Org2MSP");
        let msps = Arc::new(MspManager::new(vec![org1.msp(), org2.msp()]));
        Fixture { org1, org2, msps }
    }

    impl Fixture {
        fn policy(&self, text: &str) -> SignaturePolicy {
            SignaturePolicy::new(text, dsl::parse(text).unwrap(), self.msps.clone()).unwrap()
        }
    }

    fn set(signers: &[(&TestCert, &str)]) -> Vec<SignedData<'static>> {
        signers.iter().map(|(c, m)| signed(c, m, DATA)).collect()
    }

    #[test]
    fn or_and_out_of() {
        let f = fixture();
        let p1 = f.org1.member("peer");
        let p2 = f.org2.member("peer");
        let c1 = f.org1.member("client");

        let or = f.policy("OR('Org1MSP.peer', 'Org2MSP.peer')");
        assert_eq!(or.evaluate(&set(&[(&p1, "Org1MSP")])), Ok(()));
        assert_eq!(or.evaluate(&set(&[(&p2, "Org2MSP")])), Ok(()));
        assert!(matches!(
            or.evaluate(&set(&[(&c1, "Org1MSP")])),
            Err(PolicyError::NotSatisfied { .. })
        ));
        assert!(or.evaluate(&[]).is_err());

        let and = f.policy("AND('Org1MSP.peer', 'Org2MSP.peer')");
        assert!(and.evaluate(&set(&[(&p1, "Org1MSP")])).is_err());
        assert_eq!(
            and.evaluate(&set(&[(&p2, "Org2MSP"), (&p1, "Org1MSP")])),
            Ok(())
        );

        let two_of_three = f.policy("OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org1MSP.client')");
        assert_eq!(
            two_of_three.evaluate(&set(&[(&c1, "Org1MSP"), (&p2, "Org2MSP")])),
            Ok(())
        );
        assert!(two_of_three.evaluate(&set(&[(&c1, "Org1MSP")])).is_err());

        let zero = f.policy("OutOf(0, 'Org1MSP.peer')");
        assert_eq!(zero.evaluate(&[]), Ok(()));
        let impossible = f.policy("OutOf(2, 'Org1MSP.member')");
        assert!(
            impossible
                .evaluate(&set(&[(&p1, "Org1MSP"), (&c1, "Org1MSP")]))
                .is_err()
        );
    }

    #[test]
    fn greedy_evaluation_depends_on_signer_order() {
        let f = fixture();
        let peer = f.org1.member("peer"); // satisfies member and peer
        let client = f.org1.member("client"); // satisfies member only
        let policy = f.policy("AND('Org1MSP.member', 'Org1MSP.peer')");
        // 'member' takes the first matching signer, the peer; 'peer' then finds none left.
        assert!(matches!(
            policy.evaluate(&set(&[(&peer, "Org1MSP"), (&client, "Org1MSP")])),
            Err(PolicyError::NotSatisfied { .. })
        ));
        // With the client first, 'member' takes it and 'peer' gets the peer.
        assert_eq!(
            policy.evaluate(&set(&[(&client, "Org1MSP"), (&peer, "Org1MSP")])),
            Ok(())
        );
    }

    #[test]
    fn failed_sub_rule_does_not_consume_signers() {
        let f = fixture();
        let peer = f.org1.member("peer");
        // AND('peer','Org2') fails as a whole; its tentative use of the peer is rolled back,
        // so the second branch can still use it.
        let policy = f.policy("OutOf(1, AND('Org1MSP.peer', 'Org2MSP.peer'), 'Org1MSP.peer')");
        assert_eq!(policy.evaluate(&set(&[(&peer, "Org1MSP")])), Ok(()));
    }

    #[test]
    fn duplicate_signer_counts_once() {
        let f = fixture();
        let a = f.org1.member("peer");
        let b = f.org1.member("peer");
        let policy = f.policy("AND('Org1MSP.member', 'Org1MSP.member')");
        assert!(
            policy
                .evaluate(&set(&[(&a, "Org1MSP"), (&a, "Org1MSP")]))
                .is_err()
        );
        assert_eq!(
            policy.evaluate(&set(&[(&a, "Org1MSP"), (&b, "Org1MSP")])),
            Ok(())
        );
    }

    #[test]
    fn invalid_signature_is_skipped() {
        let f = fixture();
        let a = f.org1.member("peer");
        let b = f.org2.member("peer");
        let policy = f.policy("AND('Org1MSP.peer', 'Org2MSP.peer')");
        let bad = vec![
            signed(&a, "Org1MSP", DATA),
            badly_signed(&b, "Org2MSP", DATA),
        ];
        assert!(policy.evaluate(&bad).is_err());
        // A valid signature by the same signer later in the set still counts.
        let mut retry = bad.clone();
        retry.push(signed(&b, "Org2MSP", DATA));
        assert_eq!(policy.evaluate(&retry), Ok(()));
    }

    #[test]
    fn admin_and_orderer_roles() {
        let f = fixture();
        let admin = f.org1.member("admin");
        let orderer = f.org2.member("orderer");
        let policy = f.policy("AND('Org1MSP.admin', 'Org2MSP.orderer')");
        assert_eq!(
            policy.evaluate(&set(&[(&orderer, "Org2MSP"), (&admin, "Org1MSP")])),
            Ok(())
        );
        let member = f.policy("OR('Org1MSP.member')");
        assert_eq!(member.evaluate(&set(&[(&admin, "Org1MSP")])), Ok(()));
    }

    #[test]
    fn undecodable_principal_is_never_satisfied() {
        let f = fixture();
        let peer = f.org1.member("peer");
        let mut envelope = dsl::parse("OR('Org1MSP.peer')").unwrap();
        envelope.identities[0].principal = vec![0xff];
        let policy = SignaturePolicy::new("broken", envelope, f.msps.clone()).unwrap();
        assert!(policy.evaluate(&set(&[(&peer, "Org1MSP")])).is_err());
    }

    #[test]
    fn compile_errors() {
        let f = fixture();
        let envelope =
            |rule: Option<RuleProto>, identities: usize, version: i32| SignaturePolicyEnvelope {
                version,
                rule,
                identities: dsl::parse("OR('Org1MSP.peer', 'Org1MSP.peer')")
                    .unwrap()
                    .identities[..identities]
                    .to_vec(),
            };
        let signed_by = |i| {
            Some(RuleProto {
                r#type: Some(Type::SignedBy(i)),
            })
        };
        let bad = [
            envelope(signed_by(1), 1, 0),
            envelope(signed_by(-1), 1, 0),
            envelope(None, 1, 0),
            envelope(Some(RuleProto { r#type: None }), 1, 0),
            envelope(
                Some(RuleProto {
                    r#type: Some(Type::NOutOf(NOutOf {
                        n: 1,
                        rules: vec![RuleProto {
                            r#type: Some(Type::SignedBy(5)),
                        }],
                    })),
                }),
                2,
                0,
            ),
            envelope(signed_by(0), 1, 1),
        ];
        for e in bad {
            assert!(
                matches!(
                    SignaturePolicy::new("p", e.clone(), f.msps.clone()),
                    Err(PolicyError::Invalid { .. })
                ),
                "{e:?}"
            );
        }
        assert!(matches!(
            SignaturePolicy::from_bytes("p", b"\xff\xff", f.msps.clone()),
            Err(PolicyError::Invalid { .. })
        ));
        let ok = envelope(signed_by(0), 1, 0);
        let policy = SignaturePolicy::from_bytes("p", &ok.encode_to_vec(), f.msps.clone()).unwrap();
        assert_eq!(policy.envelope(), &ok);
        assert_eq!(policy.name(), "p");
    }
}
