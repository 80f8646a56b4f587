//! The MSPs of a channel, with a cache of deserialized identities.

use std::collections::HashMap;
use std::sync::Arc;

use prost::Message as _;
use weft_proto::common::MspPrincipal;
use weft_proto::msp::SerializedIdentity;

use super::cache::BoundedCache;
use super::{Identity, Msp, MspError, Principal};

/// How many deserialized identities the manager remembers before starting over.
const IDENTITY_CACHE_SIZE: usize = 10_000;

/// The MSPs of a channel (or the local MSPs of a node), keyed by MSP id.
///
/// Deserialized identities are cached by their serialized bytes and validation results by
/// identity (inside each [`Msp`]): signers repeat across transactions, and Fabric gets a
/// large speed-up from the same caching. `Send + Sync`; share it as `Arc<MspManager>`.
#[derive(Debug)]
pub struct MspManager {
    msps: HashMap<String, Arc<Msp>>,
    identities: BoundedCache<Vec<u8>, Arc<Identity>>,
}

impl MspManager {
    /// A manager over `msps`; a later MSP with the same id replaces an earlier one.
    pub fn new(msps: Vec<Msp>) -> MspManager {
        MspManager {
            msps: msps
                .into_iter()
                .map(|m| (m.id().to_owned(), Arc::new(m)))
                .collect(),
            identities: BoundedCache::new(IDENTITY_CACHE_SIZE),
        }
    }

    /// The MSP with this id.
    pub fn get(&self, mspid: &str) -> Option<&Msp> {
        self.msps.get(mspid).map(Arc::as_ref)
    }

    /// The MSP ids, in no particular order.
    pub fn msp_ids(&self) -> impl Iterator<Item = &str> {
        self.msps.keys().map(String::as_str)
    }

    fn msp_for(&self, mspid: &str) -> Result<&Msp, MspError> {
        self.get(mspid).ok_or_else(|| MspError::UnknownMsp {
            mspid: mspid.to_owned(),
        })
    }

    /// Decodes a marshaled `SerializedIdentity` with the MSP it names (see
    /// [`Msp::deserialize_identity`]); successes are cached by the exact bytes.
    pub fn deserialize_identity(&self, serialized: &[u8]) -> Result<Arc<Identity>, MspError> {
        if let Some(identity) = self.identities.get(serialized) {
            return Ok(identity);
        }
        let sid = SerializedIdentity::decode(serialized)
            .map_err(|e| MspError::MalformedIdentity(format!("not a SerializedIdentity: {e}")))?;
        let identity = Arc::new(self.msp_for(&sid.mspid)?.deserialize_identity(serialized)?);
        self.identities
            .insert(serialized.to_vec(), identity.clone());
        Ok(identity)
    }

    /// Validates an identity with its own MSP (cached; see [`Msp::validate`]).
    pub fn validate(&self, identity: &Identity) -> Result<(), MspError> {
        self.msp_for(identity.mspid())?.validate(identity)
    }

    /// Checks a decoded principal against an identity, with the identity's own MSP (see
    /// [`Msp::satisfies`]).
    pub fn satisfies(&self, identity: &Identity, principal: &Principal) -> Result<(), MspError> {
        self.msp_for(identity.mspid())?
            .satisfies(identity, principal)
    }

    /// Decodes `principal` and checks it with [`MspManager::satisfies`].
    pub fn satisfies_principal(
        &self,
        identity: &Identity,
        principal: &MspPrincipal,
    ) -> Result<(), MspError> {
        self.satisfies(identity, &Principal::decode(principal)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msp::Role;
    use crate::msp::test_certs::TestOrg;

    #[test]
    fn routes_by_mspid_and_caches() {
        let org1 = TestOrg::new("Org1MSP");
        let org2 = TestOrg::new("Org2MSP");
        let manager = MspManager::new(vec![org1.msp(), org2.msp()]);
        let mut ids: Vec<&str> = manager.msp_ids().collect();
        ids.sort_unstable();
        assert_eq!(ids, ["Org1MSP", "Org2MSP"]);

        let peer = org1.member("peer");
        let bytes = peer.serialized("Org1MSP");
        let a = manager.deserialize_identity(&bytes).unwrap();
        let b = manager.deserialize_identity(&bytes).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(manager.validate(&a), Ok(()));
        assert_eq!(
            manager.satisfies(&a, &Principal::role("Org1MSP", Role::Peer)),
            Ok(())
        );
        assert_eq!(
            manager.satisfies_principal(&a, &Principal::encode_role("Org1MSP", Role::Peer)),
            Ok(())
        );
        assert!(matches!(
            manager.satisfies(&a, &Principal::role("Org2MSP", Role::Peer)),
            Err(MspError::MspMismatch { .. })
        ));

        // Org1's certificate claimed by Org2: Org2's CA did not issue it.
        assert!(matches!(
            manager.deserialize_identity(&peer.serialized("Org2MSP")),
            Err(MspError::UntrustedChain { .. })
        ));
        assert_eq!(
            manager
                .deserialize_identity(&peer.serialized("Org3MSP"))
                .err(),
            Some(MspError::UnknownMsp {
                mspid: "Org3MSP".into()
            })
        );
        assert!(matches!(
            manager.deserialize_identity(b"\xff"),
            Err(MspError::MalformedIdentity(_))
        ));
    }

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<MspManager>();
        check::<Msp>();
        check::<Identity>();
    }
}
