//! Fabric policies: signature policies, implicit-meta policies, the policy-string parser.
//!
//! - [`dsl::parse`]: `OR('Org1MSP.member', AND(...))` → `SignaturePolicyEnvelope`, byte-identical
//!   to Fabric's `policydsl.FromString`.
//! - [`SignaturePolicy`]: a compiled envelope, evaluated with Fabric's greedy algorithm.
//! - [`ImplicitMetaPolicy`]: ANY/ALL/MAJORITY over the same-named policies of child groups.
//! - [`PolicyManager`]: every policy of a channel config tree, by path (`/Channel/Application/Writers`).
//!
//! Evaluating a signature set first turns it into valid signers ([`valid_identities`]):
//! each identity is deserialized, duplicates (same MSP id and identity id) are dropped and
//! each signature is verified once; then the policy works on identities only.

pub mod dsl;
mod implicit_meta;
mod manager;
mod signature;
mod signed_data;

use std::collections::HashSet;
use std::sync::Arc;

pub use implicit_meta::{ImplicitMetaPolicy, ImplicitMetaRule};
pub use manager::PolicyManager;
pub use signature::SignaturePolicy;
pub use signed_data::SignedData;

use crate::msp::{Identity, MspManager};

/// Why a policy could not be built or was not satisfied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The signature set does not satisfy the policy.
    #[error("policy {policy} not satisfied: {detail}")]
    NotSatisfied {
        /// The policy's path (or a description for standalone policies).
        policy: String,
        /// What was missing.
        detail: String,
    },
    /// No policy exists at this path.
    #[error("no such policy: {path:?}")]
    UnknownPolicy {
        /// The path asked for.
        path: String,
    },
    /// The policy definition is invalid (undecodable, unknown type, version, index out of
    /// range, empty rule…).
    #[error("invalid policy {policy}: {reason}")]
    Invalid {
        /// The policy's path (or a description).
        policy: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A compiled policy.
#[derive(Debug)]
pub enum Policy {
    /// A signature policy (`Policy.type` SIGNATURE).
    Signature(SignaturePolicy),
    /// An implicit-meta policy (`Policy.type` IMPLICIT_META).
    ImplicitMeta(ImplicitMetaPolicy),
}

impl Policy {
    /// The policy's path (or description).
    pub fn name(&self) -> &str {
        match self {
            Policy::Signature(p) => p.name(),
            Policy::ImplicitMeta(p) => p.name(),
        }
    }

    /// Evaluates a signature set: signers are deserialized, de-duplicated and their
    /// signatures verified once, then the rule is applied.
    pub fn evaluate(&self, signed: &[SignedData<'_>]) -> Result<(), PolicyError> {
        match self {
            Policy::Signature(p) => p.evaluate(signed),
            Policy::ImplicitMeta(p) => p.evaluate(signed),
        }
    }

    /// Evaluates already-verified signers (see [`valid_identities`]).
    pub fn evaluate_identities(&self, identities: &[Arc<Identity>]) -> Result<(), PolicyError> {
        match self {
            Policy::Signature(p) => p.evaluate_identities(identities),
            Policy::ImplicitMeta(p) => p.evaluate_identities(identities),
        }
    }
}

/// The valid signers of a signature set, in order (Fabric's `SignatureSetToValidIdentities`):
/// an identity that does not deserialize is skipped; a signer already accepted (same MSP id
/// and identity id) is skipped; a signature that does not verify over `data` is skipped.
pub fn valid_identities(signed: &[SignedData<'_>], msps: &MspManager) -> Vec<Arc<Identity>> {
    let mut seen = HashSet::new();
    let mut identities = Vec::with_capacity(signed.len());
    for item in signed {
        let Ok(identity) = msps.deserialize_identity(&item.identity) else {
            continue;
        };
        let key = format!("{}{}", identity.mspid(), identity.id());
        if seen.contains(&key) {
            continue;
        }
        if identity.verify(&item.data, &item.signature).is_err() {
            continue;
        }
        seen.insert(key);
        identities.push(identity);
    }
    identities
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Signature sets for policy tests.

    use std::borrow::Cow;

    use super::SignedData;
    use crate::msp::test_certs::TestCert;

    /// `cert` (claimed by `mspid`) signing `data`.
    pub(crate) fn signed(cert: &TestCert, mspid: &str, data: &[u8]) -> SignedData<'static> {
        SignedData {
            data: Cow::Owned(data.to_vec()),
            identity: Cow::Owned(cert.serialized(mspid)),
            signature: Cow::Owned(cert.sign(data)),
        }
    }

    /// `cert` with a signature over other bytes than `data`.
    pub(crate) fn badly_signed(cert: &TestCert, mspid: &str, data: &[u8]) -> SignedData<'static> {
        SignedData {
            data: Cow::Owned(data.to_vec()),
            identity: Cow::Owned(cert.serialized(mspid)),
            signature: Cow::Owned(cert.sign(b"something else")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{badly_signed, signed};
    use super::*;
    use crate::msp::test_certs::TestOrg;

    #[test]
    fn valid_identities_skips_bad_duplicate_and_unknown_signers() {
        let org1 = TestOrg::new("Org1MSP");
        let stranger = TestOrg::new("Org9MSP");
        let msps = MspManager::new(vec![org1.msp()]);
        let a = org1.member("peer");
        let b = org1.member("client");
        let data = b"tx";
        let set = vec![
            badly_signed(&a, "Org1MSP", data), // bad signature: skipped, not remembered
            signed(&a, "Org1MSP", data),       // accepted
            signed(&a, "Org1MSP", data),       // duplicate
            signed(&stranger.member("peer"), "Org9MSP", data), // unknown MSP
            signed(&stranger.member("peer"), "Org1MSP", data), // untrusted chain
            SignedData::borrowed(data, b"garbage", b"sig"),
            signed(&b, "Org1MSP", data),
        ];
        let ids = valid_identities(&set, &msps);
        let subjects: Vec<&str> = ids.iter().map(|i| i.subject()).collect();
        assert_eq!(ids.len(), 2, "{subjects:?}");
        assert!(subjects[0].contains("peer."));
        assert!(subjects[1].contains("client."));
    }
}
