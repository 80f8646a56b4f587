//! What the handler knows about one transaction while a chaincode executes it: the
//! simulator its state requests go to, the proposal (for ACLs and cc2cc), and the open
//! query iterators (Fabric's `TransactionContext`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;
use weft_common::policy::SignedData;
use weft_proto::protos::{ChaincodeMessage, SignedProposal};

use crate::channel::Channel;
use crate::ledger::TxSimulator;

/// A transaction simulator shared by the chaincodes one transaction invokes
/// (chaincode-to-chaincode calls on a channel write into the caller's simulator).
/// `None` once the endorser has taken the results.
pub type SharedSimulator = Arc<Mutex<Option<TxSimulator>>>;

/// Wraps a simulator for sharing.
pub fn share(simulator: TxSimulator) -> SharedSimulator {
    Arc::new(Mutex::new(Some(simulator)))
}

/// Runs `f` on the shared simulator; an error (also when the simulation has already
/// finished) becomes its text.
pub(crate) fn with_simulator<T, E: std::fmt::Display>(
    simulator: &SharedSimulator,
    f: impl FnOnce(&mut TxSimulator) -> Result<T, E>,
) -> Result<T, String> {
    let mut guard = simulator.lock().unwrap_or_else(|e| e.into_inner());
    let simulator = guard
        .as_mut()
        .ok_or("the transaction's simulation has already finished")?;
    f(simulator).map_err(|e| e.to_string())
}

/// The parameters of one chaincode execution (Fabric's `TransactionParams`).
#[derive(Debug, Clone)]
pub struct TxParams {
    /// The channel the transaction runs on.
    pub channel: Arc<Channel>,
    /// The transaction id.
    pub txid: String,
    /// The client's signed proposal (sent to the chaincode with TRANSACTION / INIT).
    pub signed_proposal: SignedProposal,
    /// The proposal creator's serialized identity (for ACL checks).
    pub creator: Vec<u8>,
    /// The simulator state requests go to.
    pub simulator: SharedSimulator,
}

impl TxParams {
    /// The channel id.
    pub fn channel_id(&self) -> &str {
        self.channel.id()
    }

    /// The proposal as signed data, for ACL checks.
    pub fn signed_data(&self) -> SignedData<'_> {
        SignedData {
            data: self.signed_proposal.proposal_bytes.as_slice().into(),
            identity: self.creator.as_slice().into(),
            signature: self.signed_proposal.signature.as_slice().into(),
        }
    }
}

/// The handler's state for one executing transaction.
#[derive(Debug)]
pub(crate) struct TxContext {
    pub(crate) params: TxParams,
    /// The namespace state requests read and write (the executing chaincode's name).
    pub(crate) namespace: String,
    /// Whether this is an INIT.
    pub(crate) is_init: bool,
    /// Open history queries: the encoded `KeyModification`s not sent yet, by query id.
    /// (Range queries live in the simulator, which records them.)
    histories: Mutex<HashMap<String, VecDeque<Vec<u8>>>>,
    notifier: Mutex<Option<oneshot::Sender<ChaincodeMessage>>>,
}

impl TxContext {
    pub(crate) fn new(
        params: TxParams,
        namespace: String,
        is_init: bool,
        notifier: oneshot::Sender<ChaincodeMessage>,
    ) -> Self {
        Self {
            params,
            namespace,
            is_init,
            histories: Mutex::default(),
            notifier: Mutex::new(Some(notifier)),
        }
    }

    pub(crate) fn histories(&self) -> MutexGuard<'_, HashMap<String, VecDeque<Vec<u8>>>> {
        self.histories.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Delivers the chaincode's final message (COMPLETED or ERROR) to the waiting
    /// execution; later ones are ignored.
    pub(crate) fn notify(&self, msg: ChaincodeMessage) {
        let sender = self
            .notifier
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(sender) = sender {
            let _ = sender.send(msg);
        }
    }
}
