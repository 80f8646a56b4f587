//! The serializer's state views (Fabric's `ledger_shim.go`): through the transaction
//! simulator, so every read and write lands in the proposal's read-write set, and over a
//! committed snapshot, for lookups outside any transaction (the chaincode support's
//! "which package did my org approve").

use std::collections::BTreeMap;

use super::serializer::{
    OpaqueState, RangeableState, ReadWritableState, ReadableState, StateError,
};
use crate::ledger::{LedgerSnapshot, QUERY_BATCH_SIZE, StateView, TxSimulator};
use crate::validation::definitions::LIFECYCLE_NAMESPACE;

/// The end of a prefix range: Fabric assumes ASCII keys and ends at `prefix + "\x7f"`.
fn range_end(prefix: &str) -> String {
    format!("{prefix}\u{7f}")
}

/// `_lifecycle`'s public state through the simulator (Fabric's stub /
/// `ChaincodePublicLedgerShim`).
#[derive(Debug)]
pub struct PublicState<'a> {
    simulator: &'a mut TxSimulator,
}

impl<'a> PublicState<'a> {
    /// The public `_lifecycle` namespace of `simulator`.
    pub fn new(simulator: &'a mut TxSimulator) -> Self {
        Self { simulator }
    }
}

impl ReadableState for PublicState<'_> {
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.simulator.get_state(LIFECYCLE_NAMESPACE, key)?)
    }
}

impl ReadWritableState for PublicState<'_> {
    fn put_state(&mut self, key: &str, value: Vec<u8>) -> Result<(), StateError> {
        Ok(self.simulator.set_state(LIFECYCLE_NAMESPACE, key, value)?)
    }

    fn del_state(&mut self, key: &str) -> Result<(), StateError> {
        Ok(self.simulator.delete_state(LIFECYCLE_NAMESPACE, key)?)
    }
}

impl RangeableState for PublicState<'_> {
    fn get_state_range(&mut self, prefix: &str) -> Result<BTreeMap<String, Vec<u8>>, StateError> {
        let id =
            self.simulator
                .open_range(LIFECYCLE_NAMESPACE, prefix, &range_end(prefix), None)?;
        let mut all = BTreeMap::new();
        loop {
            let (results, has_more) = self.simulator.next_results(&id, QUERY_BATCH_SIZE)?;
            all.extend(results);
            if !has_more {
                return Ok(all);
            }
        }
    }
}

/// One collection of `_lifecycle` through the simulator (Fabric's
/// `ChaincodePrivateLedgerShim`): values in clear for the org's own collection, hashes
/// for every org's.
#[derive(Debug)]
pub struct PrivateState<'a> {
    simulator: &'a mut TxSimulator,
    collection: String,
}

impl<'a> PrivateState<'a> {
    /// Collection `collection` of `_lifecycle` in `simulator`.
    pub fn new(simulator: &'a mut TxSimulator, collection: impl Into<String>) -> Self {
        Self {
            simulator,
            collection: collection.into(),
        }
    }
}

impl ReadableState for PrivateState<'_> {
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self
            .simulator
            .get_private_data(LIFECYCLE_NAMESPACE, &self.collection, key)?)
    }
}

impl ReadWritableState for PrivateState<'_> {
    fn put_state(&mut self, key: &str, value: Vec<u8>) -> Result<(), StateError> {
        Ok(self
            .simulator
            .set_private_data(LIFECYCLE_NAMESPACE, &self.collection, key, value)?)
    }

    fn del_state(&mut self, key: &str) -> Result<(), StateError> {
        Ok(self
            .simulator
            .delete_private_data(LIFECYCLE_NAMESPACE, &self.collection, key)?)
    }
}

impl OpaqueState for PrivateState<'_> {
    fn get_state_hash(&mut self, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self
            .simulator
            .get_private_data_hash(LIFECYCLE_NAMESPACE, &self.collection, key)?)
    }

    fn collection_name(&self) -> &str {
        &self.collection
    }
}

/// `_lifecycle`'s public state in a committed snapshot (Fabric's
/// `SimpleQueryExecutorShim`); nothing is recorded.
#[derive(Debug)]
pub struct SnapshotPublic<'a, 's> {
    snapshot: &'a LedgerSnapshot<'s>,
}

impl<'a, 's> SnapshotPublic<'a, 's> {
    /// The public `_lifecycle` namespace of `snapshot`.
    pub fn new(snapshot: &'a LedgerSnapshot<'s>) -> Self {
        Self { snapshot }
    }
}

impl ReadableState for SnapshotPublic<'_, '_> {
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self
            .snapshot
            .get_state(LIFECYCLE_NAMESPACE, key)?
            .map(|v| v.value))
    }
}

impl RangeableState for SnapshotPublic<'_, '_> {
    fn get_state_range(&mut self, prefix: &str) -> Result<BTreeMap<String, Vec<u8>>, StateError> {
        let mut all = BTreeMap::new();
        for entry in self
            .snapshot
            .range(LIFECYCLE_NAMESPACE, prefix, &range_end(prefix))?
        {
            let (key, value) = entry?;
            all.insert(key, value.value);
        }
        Ok(all)
    }
}

/// The hashes of one `_lifecycle` collection in a committed snapshot (Fabric's
/// `PrivateQueryExecutorShim`); nothing is recorded.
#[derive(Debug)]
pub struct SnapshotOpaque<'a, 's> {
    snapshot: &'a LedgerSnapshot<'s>,
    collection: String,
}

impl<'a, 's> SnapshotOpaque<'a, 's> {
    /// Collection `collection` of `_lifecycle` in `snapshot`.
    pub fn new(snapshot: &'a LedgerSnapshot<'s>, collection: impl Into<String>) -> Self {
        Self {
            snapshot,
            collection: collection.into(),
        }
    }

    /// The committed value of `key` in clear, if this peer holds it.
    pub fn get_private(&self, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self
            .snapshot
            .get_private(LIFECYCLE_NAMESPACE, &self.collection, key)?
            .map(|v| v.value))
    }
}

impl OpaqueState for SnapshotOpaque<'_, '_> {
    fn get_state_hash(&mut self, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self
            .snapshot
            .get_private_hash(LIFECYCLE_NAMESPACE, &self.collection, key)?
            .map(|v| v.value))
    }

    fn collection_name(&self) -> &str {
        &self.collection
    }
}
