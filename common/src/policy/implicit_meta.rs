//! Implicit-meta policies: ANY / ALL / MAJORITY of the same-named policies of child groups.

use std::fmt;
use std::sync::Arc;

use weft_proto::common::ImplicitMetaPolicy as ImplicitMetaProto;
use weft_proto::common::implicit_meta_policy::Rule as RuleProto;

use super::{Policy, PolicyError, SignedData, valid_identities};
use crate::msp::{Identity, MspManager};

/// How many sub-policies an implicit-meta policy needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImplicitMetaRule {
    /// At least one.
    Any,
    /// All of them.
    All,
    /// More than half (floor(n / 2) + 1).
    Majority,
}

impl fmt::Display for ImplicitMetaRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ImplicitMetaRule::Any => "ANY",
            ImplicitMetaRule::All => "ALL",
            ImplicitMetaRule::Majority => "MAJORITY",
        })
    }
}

/// `<RULE> <sub_policy>` over the direct child groups of the group holding the policy.
///
/// A child group without a policy of that name still counts towards the number of children
/// but can never be satisfied. With no child groups the threshold is 0: always satisfied.
#[derive(Debug)]
pub struct ImplicitMetaPolicy {
    name: String,
    sub_policy: String,
    rule: ImplicitMetaRule,
    threshold: usize,
    /// One entry per child group: the child's path and its policy named `sub_policy`.
    sub_policies: Vec<(String, Option<Arc<Policy>>)>,
    msps: Arc<MspManager>,
}

impl ImplicitMetaPolicy {
    /// Builds the policy from its definition and the children's sub-policies (one entry per
    /// direct child group: its path and the policy it has under `definition.sub_policy`).
    pub fn new(
        name: impl Into<String>,
        definition: &ImplicitMetaProto,
        sub_policies: Vec<(String, Option<Arc<Policy>>)>,
        msps: Arc<MspManager>,
    ) -> Result<ImplicitMetaPolicy, PolicyError> {
        let name = name.into();
        let rule = match RuleProto::try_from(definition.rule) {
            Ok(RuleProto::Any) => ImplicitMetaRule::Any,
            Ok(RuleProto::All) => ImplicitMetaRule::All,
            Ok(RuleProto::Majority) => ImplicitMetaRule::Majority,
            Err(_) => {
                return Err(PolicyError::Invalid {
                    policy: name,
                    reason: format!("unknown implicit-meta rule {}", definition.rule),
                });
            }
        };
        let n = sub_policies.len();
        let threshold = match (n, rule) {
            (0, _) => 0,
            (_, ImplicitMetaRule::Any) => 1,
            (_, ImplicitMetaRule::All) => n,
            (_, ImplicitMetaRule::Majority) => n / 2 + 1,
        };
        Ok(ImplicitMetaPolicy {
            name,
            sub_policy: definition.sub_policy.clone(),
            rule,
            threshold,
            sub_policies,
            msps,
        })
    }

    /// The policy's path.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The rule (ANY, ALL, MAJORITY).
    pub fn rule(&self) -> ImplicitMetaRule {
        self.rule
    }

    /// The name of the children's policies it combines.
    pub fn sub_policy(&self) -> &str {
        &self.sub_policy
    }

    /// How many sub-policies must be satisfied.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// Evaluates a signature set; signatures are verified once for all sub-policies.
    pub fn evaluate(&self, signed: &[SignedData<'_>]) -> Result<(), PolicyError> {
        if self.threshold == 0 {
            return Ok(());
        }
        self.evaluate_identities(&valid_identities(signed, &self.msps))
    }

    /// Evaluates already-verified signers against each sub-policy, stopping at the threshold.
    pub fn evaluate_identities(&self, identities: &[Arc<Identity>]) -> Result<(), PolicyError> {
        let mut satisfied = 0;
        if satisfied >= self.threshold {
            return Ok(());
        }
        for (_, policy) in &self.sub_policies {
            if policy
                .as_ref()
                .is_some_and(|p| p.evaluate_identities(identities).is_ok())
            {
                satisfied += 1;
                if satisfied >= self.threshold {
                    return Ok(());
                }
            }
        }
        Err(PolicyError::NotSatisfied {
            policy: self.name.clone(),
            // Fabric's wording (common/policies/implicitmeta.go).
            detail: format!(
                "implicit policy evaluation failed - {satisfied} sub-policies were satisfied, but this policy requires {} of the '{}' sub-policies to be satisfied",
                self.threshold, self.sub_policy
            ),
        })
    }
}
