//! Block validation on the committing peer: one `TxValidationCode` per transaction, as a
//! Fabric v2.5 peer computes it (txvalidator v20, builtin validation plugin v20 with
//! key-level endorsement, ledger MVCC validation), and the state updates of the valid
//! transactions.
//!
//! [`BlockValidator::validate`] runs in four steps over a block, the channel config it
//! was ordered under, and committed state (a [`StateView`] of the ledger before the
//! block):
//!
//! **Phase A, per transaction, in parallel** (`std::thread::scope`, contiguous chunks,
//! one per available core; results are a pure function of the inputs):
//!
//! | check (in order) | code |
//! |---|---|
//! | block entry is not an `Envelope` | INVALID_OTHER_REASON |
//! | payload does not decode | BAD_PAYLOAD |
//! | headers do not decode; type not ENDORSER_TRANSACTION, CONFIG_UPDATE or CONFIG; epoch ≠ 0; nonce or creator empty | BAD_COMMON_HEADER |
//! | creator does not deserialize with the channel's MSPs, is not valid, or did not sign the payload | BAD_CREATOR_SIGNATURE |
//! | type is CONFIG_UPDATE | UNSUPPORTED_TX_PAYLOAD |
//! | endorser tx: txid ≠ hex(SHA-256(nonce ‖ creator)) | BAD_PROPOSAL_TXID |
//! | endorser tx: not exactly one action, bad action header, no endorsed action, proposal hash mismatch | INVALID_ENDORSER_TRANSACTION |
//! | CONFIG with empty data | INVALID_CONFIG_TRANSACTION |
//! | channel id ≠ this channel's | TARGET_CHAIN_NOT_FOUND |
//! | endorser tx: txid already in the ledger | DUPLICATE_TXID |
//! | `ChaincodeHeaderExtension` does not decode | BAD_HEADER_EXTENSION |
//! | `ChaincodeAction` missing or undecodable | BAD_RESPONSE_PAYLOAD |
//! | read-write set (or a nested set) does not decode | BAD_RWSET |
//! | no chaincode id in the header extension or the action; event undecodable or of another chaincode | INVALID_OTHER_REASON |
//! | chaincode name empty or ≠ the action's; action version empty | INVALID_CHAINCODE |
//! | a namespace appears twice in the rwset | ILLEGAL_WRITESET |
//! | a namespace to validate (the invoked chaincode and each namespace written) has no committed definition, or one without plugin or policy | INVALID_CHAINCODE |
//! | the endorsements do not satisfy the policies ([`endorsement`]) | ENDORSEMENT_POLICY_FAILURE |
//!
//! Namespaces are validated in name order and the first failure decides (Fabric iterates
//! a Go map, so its choice between two failing namespaces is random). Definitions come
//! from `_lifecycle`'s public state ([`definitions`]); `_lifecycle` itself validates
//! against `/Channel/Application/LifecycleEndorsement` (or, if the channel lacks it, a
//! majority of the application orgs' members). A definition whose validation plugin is
//! neither empty nor "vscc" stops the whole block, as in Fabric (whose peer cannot
//! run a plugin it does not have).
//!
//! **In block order, after phase A:**
//!
//! 1. *Key-level policy changes within the block.* A transaction writing a key (public
//!    or hashed) whose metadata an earlier transaction of the block writes fails with
//!    ENDORSEMENT_POLICY_FAILURE if the validation plugin accepted that earlier
//!    transaction for the key's namespace — whatever the earlier transaction's final
//!    code (Fabric's `KeyLevelValidationParameterManager`). Fabric waits for earlier
//!    transactions that never reach the plugin for that namespace and so can hang; here
//!    they do not count.
//! 2. *Duplicates within the block*: a transaction still VALID whose txid a previous
//!    VALID endorser transaction of the block carries → DUPLICATE_TXID.
//! 3. *CONFIG transactions* ([`config`]): the `ConfigEnvelope` must decode and carry
//!    sequence current + 1, and its `last_update` proposed against the current config
//!    must produce the carried channel group; else INVALID_CONFIG_TRANSACTION. (Fabric
//!    stops the channel on such a block; the orderer never produces one.) A valid one
//!    yields [`ValidatedBlock::config`]; a later CONFIG transaction of the same block is
//!    checked against it.
//!
//! **Phase B, MVCC, in block order, for transactions still VALID** (module `mvcc`): read
//! conflicts (MVCC_READ_CONFLICT) and phantom reads (PHANTOM_READ_CONFLICT) against
//! committed state overlaid with the updates of the earlier valid transactions; a valid
//! transaction's updates then become visible to the next ones.
//!
//! The result carries the codes, the TRANSACTIONS_FILTER bytes, each transaction's txid,
//! and the [`TxUpdates`] of every valid transaction in block order:
//!
//! - an endorser transaction's public writes, by Fabric's rules: a write with an empty
//!   value is a delete (`rwsetutil.IsKVWriteDelete`); a key written several times in a
//!   namespace is deleted if any of those writes is a delete, else gets the last value;
//!   metadata entries are kept by name, an empty entry list clearing the metadata;
//!   namespaces without public writes or metadata writes are left out; each
//!   collection's hashed writes follow, under its hashed namespace
//!   ([`crate::ledger::private`]), with the hash of its private read-write set (the
//!   private writes themselves are added by the channel from the transient store);
//! - a CONFIG transaction's `ConfigEnvelope` bytes under [`config::CHANNEL_CONFIG_KEY`]
//!   in namespace "", as Fabric's peer stores them.
//!
//! [`ValidationError`] is only for what stops the whole block (a block without header or
//! data, a state read failure, a corrupt definition, an unsupported validation plugin);
//! a bad transaction is only ever a code.
//!
//! Never produced: NIL_ENVELOPE (an empty entry decodes to an envelope without header:
//! BAD_COMMON_HEADER, as in Fabric 2.5), UNKNOWN_TX_TYPE, MARSHAL_TX_ERROR,
//! BAD_CHANNEL_HEADER, NIL_TXACTION, INVALID_WRITESET (no key/value constraints, as
//! with Fabric's LevelDB), EXPIRED_CHAINCODE, CHAINCODE_VERSION_CONFLICT.
//!
//! Each invalid transaction is logged at debug level with its txid, code and reason.
//!
//! **Where Weft differs from Fabric** (all in cases a Fabric peer cannot get past):
//! a CONFIG transaction that does not apply, an undecodable key-level
//! `VALIDATION_PARAMETER` and a range-query Merkle summary with a max degree below 2 make
//! Fabric's validator fail the whole block (the channel stops); here they are
//! INVALID_CONFIG_TRANSACTION, ENDORSEMENT_POLICY_FAILURE and PHANTOM_READ_CONFLICT.
//! Namespaces are validated in name order where Fabric's order is random. Private data:
//! a hashed key's key-level policy is its hashed-state metadata, as in Fabric.

pub mod config;
pub mod definitions;
pub mod endorsement;
mod mvcc;
pub mod range_merkle;
mod rwset;
mod tx;

#[cfg(test)]
pub(crate) mod tests;

use std::collections::HashSet;

use weft_common::channelconfig::ChannelConfig;
use weft_common::protoutil::set_transactions_filter;
use weft_proto::common::{Block, ConfigEnvelope};
use weft_proto::protos::TxValidationCode;

use crate::ledger::{LedgerError, StateView, TxUpdates, VersionedValue};
use definitions::DefinitionError;
use mvcc::BlockUpdates;
use rwset::{ParsedRwSet, WrittenKey};
use tx::{Checked, TxCheck, TxContext, check_tx};

/// Why a whole block could not be validated. A bad transaction is never an error: it
/// gets a validation code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// The block has no header.
    #[error("block has no header")]
    MissingHeader,
    /// The block has no data.
    #[error("block {0} has no data")]
    MissingData(u64),
    /// Committed state could not be read.
    #[error("reading state: {0}")]
    State(#[from] LedgerError),
    /// A chaincode definition in `_lifecycle` state is corrupt.
    #[error("definition of chaincode {chaincode:?}: {source}")]
    Definition {
        /// The chaincode.
        chaincode: String,
        /// What is wrong with its definition.
        source: DefinitionError,
    },
    /// A chaincode's definition names a validation plugin this peer does not have
    /// (Fabric: "plugin with name … wasn't found", which stops the channel).
    #[error(
        "chaincode {chaincode:?} requires validation plugin {plugin:?}, which this peer does not have"
    )]
    UnsupportedValidationPlugin {
        /// The chaincode.
        chaincode: String,
        /// The plugin its definition names.
        plugin: String,
    },
}

/// A validated block: what the ledger commits and the channel applies.
#[derive(Debug, Clone)]
pub struct ValidatedBlock {
    /// The block number.
    pub number: u64,
    /// One code per transaction, in block order.
    pub codes: Vec<TxValidationCode>,
    /// Each transaction's `ChannelHeader.tx_id` ("" where the envelope did not decode
    /// that far).
    pub txids: Vec<String>,
    /// The TRANSACTIONS_FILTER metadata bytes (`codes` as bytes).
    pub filter: Vec<u8>,
    /// The state updates of the valid transactions, in block order.
    pub updates: Vec<TxUpdates>,
    /// The config established by a valid CONFIG transaction of the block.
    pub config: Option<NewConfig>,
}

impl ValidatedBlock {
    /// Writes the TRANSACTIONS_FILTER into `block`'s metadata.
    pub fn write_filter(&self, block: &mut Block) {
        set_transactions_filter(block, self.filter.clone());
    }

    /// The code of transaction `index`.
    pub fn code(&self, index: usize) -> Option<TxValidationCode> {
        self.codes.get(index).copied()
    }
}

/// The channel config a valid CONFIG transaction establishes once its block is committed.
#[derive(Debug, Clone)]
pub struct NewConfig {
    /// The CONFIG transaction's index in the block.
    pub tx_index: usize,
    /// The `ConfigEnvelope` it carries (config and `last_update`).
    pub envelope: ConfigEnvelope,
    /// The new channel config (its `raw_config_envelope` holds the received bytes).
    pub config: ChannelConfig,
}

/// Validates blocks of a channel; see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct BlockValidator {
    parallelism: usize,
}

impl Default for BlockValidator {
    fn default() -> Self {
        Self::new()
    }
}

impl BlockValidator {
    /// A validator using one thread per available core.
    pub fn new() -> Self {
        Self::with_parallelism(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// A validator using at most `threads` threads for phase A (at least 1).
    pub fn with_parallelism(threads: usize) -> Self {
        Self {
            parallelism: threads.max(1),
        }
    }

    /// Validates `block` against the `channel` config it was ordered under and the
    /// committed `state` before it.
    pub fn validate(
        &self,
        block: &Block,
        channel: &ChannelConfig,
        state: &dyn StateView,
    ) -> Result<ValidatedBlock, ValidationError> {
        let number = block
            .header
            .as_ref()
            .ok_or(ValidationError::MissingHeader)?
            .number;
        let entries = &block
            .data
            .as_ref()
            .ok_or(ValidationError::MissingData(number))?
            .data;
        let ctx = TxContext {
            channel,
            state,
            policies: endorsement::Policies::new(channel, state),
        };
        let checks = self.phase_a(&ctx, entries)?;

        let mut txs: Vec<TxState> = resolve_key_level_dependencies(checks);
        mark_duplicates_in_block(&mut txs);
        let config = apply_config_txs(&mut txs, channel);
        let updates = phase_b(&mut txs, state, number)?;

        for (index, tx) in txs.iter().enumerate() {
            if tx.code != TxValidationCode::Valid {
                tracing::debug!(
                    block = number,
                    tx = index,
                    txid = %tx.txid,
                    code = ?tx.code,
                    reason = %tx.reason,
                    "invalid transaction"
                );
            }
        }
        let codes: Vec<TxValidationCode> = txs.iter().map(|t| t.code).collect();
        Ok(ValidatedBlock {
            number,
            filter: codes.iter().map(|c| *c as u8).collect(),
            codes,
            txids: txs.into_iter().map(|t| t.txid).collect(),
            updates,
            config,
        })
    }

    /// Phase A over every entry, in parallel; the first error in block order wins.
    fn phase_a(
        &self,
        ctx: &TxContext<'_>,
        entries: &[Vec<u8>],
    ) -> Result<Vec<TxCheck>, ValidationError> {
        let threads = self.parallelism.min(entries.len());
        if threads <= 1 {
            return entries.iter().map(|e| check_tx(ctx, e)).collect();
        }
        let chunk = entries.len().div_ceil(threads);
        let results: Vec<Vec<Result<TxCheck, ValidationError>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = entries
                .chunks(chunk)
                .map(|part| scope.spawn(move || part.iter().map(|e| check_tx(ctx, e)).collect()))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        results.into_iter().flatten().collect()
    }
}

/// A transaction's final code, the reason if invalid, and what is needed to commit it.
#[derive(Debug)]
struct TxState {
    txid: String,
    code: TxValidationCode,
    reason: String,
    kind: TxKind,
}

#[derive(Debug)]
enum TxKind {
    /// Nothing to commit.
    None,
    /// An endorser transaction's read-write set.
    Endorser(ParsedRwSet),
    /// A CONFIG transaction's `ConfigEnvelope` bytes.
    Config(Vec<u8>),
}

/// A failed check: the code and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid {
    /// The validation code.
    pub code: TxValidationCode,
    /// A human-readable reason (logged).
    pub reason: String,
}

impl Invalid {
    /// A failure with `code` for `reason`.
    pub fn new(code: TxValidationCode, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

/// Step 1 after phase A: the final plugin outcome of each endorser transaction, given
/// the key-level policy changes of the block's earlier transactions.
fn resolve_key_level_dependencies(checks: Vec<TxCheck>) -> Vec<TxState> {
    // (namespace, key) whose metadata an earlier transaction wrote and whose namespace
    // the plugin accepted for it.
    let mut changed: HashSet<(String, WrittenKey)> = HashSet::new();
    let mut out = Vec::with_capacity(checks.len());
    for TxCheck { txid, outcome } in checks {
        let state = match outcome {
            Checked::Invalid(Invalid { code, reason }) => TxState {
                txid,
                code,
                reason,
                kind: TxKind::None,
            },
            Checked::Config(data) => TxState {
                txid,
                code: TxValidationCode::Valid,
                reason: String::new(),
                kind: TxKind::Config(data),
            },
            Checked::Endorser(tx) => {
                let mut failure = None;
                let mut accepted = Vec::new();
                for ns in &tx.namespaces {
                    if let Some(f) = &ns.failure {
                        failure = Some(f.clone());
                        break;
                    }
                    let ns_set = tx.rwset.namespace(&ns.namespace);
                    let hit = ns_set
                        .into_iter()
                        .flat_map(|s| s.written_keys())
                        .find(|k| changed.contains(&(ns.namespace.clone(), k.clone())));
                    if let Some(key) = hit {
                        failure = Some(Invalid::new(
                            TxValidationCode::EndorsementPolicyFailure,
                            format!(
                                "validation parameter of key {:?} (collection {:?}) of \
                                 namespace {} was updated by an earlier transaction of the block",
                                String::from_utf8_lossy(&key.key),
                                key.collection,
                                ns.namespace
                            ),
                        ));
                        break;
                    }
                    accepted.push(ns.namespace.as_str());
                }
                for ns in accepted {
                    for key in tx
                        .rwset
                        .namespace(ns)
                        .map(|s| s.metadata_written_keys())
                        .unwrap_or_default()
                    {
                        changed.insert((ns.to_owned(), key));
                    }
                }
                match failure {
                    Some(Invalid { code, reason }) => TxState {
                        txid,
                        code,
                        reason,
                        kind: TxKind::None,
                    },
                    None => TxState {
                        txid,
                        code: TxValidationCode::Valid,
                        reason: String::new(),
                        kind: TxKind::Endorser(tx.rwset),
                    },
                }
            }
        };
        out.push(state);
    }
    out
}

/// Step 2: a later valid endorser transaction repeating a valid one's txid.
fn mark_duplicates_in_block(txs: &mut [TxState]) {
    let mut seen = HashSet::new();
    for tx in txs.iter_mut() {
        if tx.code != TxValidationCode::Valid || !matches!(tx.kind, TxKind::Endorser(_)) {
            continue;
        }
        if !seen.insert(tx.txid.clone()) {
            tx.code = TxValidationCode::DuplicateTxid;
            tx.reason = "transaction id repeated in the block".into();
            tx.kind = TxKind::None;
        }
    }
}

/// Step 3: CONFIG transactions in block order, each against the config the previous
/// valid one established (initially `channel`).
fn apply_config_txs(txs: &mut [TxState], channel: &ChannelConfig) -> Option<NewConfig> {
    let mut latest: Option<NewConfig> = None;
    for (index, tx) in txs.iter_mut().enumerate() {
        let TxKind::Config(data) = &tx.kind else {
            continue;
        };
        let current = latest.as_ref().map_or(channel, |c| &c.config);
        match config::next_config(current, data) {
            Ok(next) => {
                latest = Some(NewConfig {
                    tx_index: index,
                    envelope: next.config_envelope().clone(),
                    config: next,
                });
            }
            Err(reason) => {
                tx.code = TxValidationCode::InvalidConfigTransaction;
                tx.reason = reason;
                tx.kind = TxKind::None;
            }
        }
    }
    latest
}

/// Phase B: MVCC in block order; the updates of the transactions that stay valid.
fn phase_b(
    txs: &mut [TxState],
    state: &dyn StateView,
    number: u64,
) -> Result<Vec<TxUpdates>, ValidationError> {
    let mut block = BlockUpdates::new(state, number);
    let mut out = Vec::new();
    for (index, tx) in txs.iter_mut().enumerate() {
        if tx.code != TxValidationCode::Valid {
            continue;
        }
        let tx_num = index as u64;
        let updates = match &tx.kind {
            TxKind::None => continue,
            TxKind::Config(data) => config::config_tx_updates(tx_num, &tx.txid, data),
            TxKind::Endorser(rwset) => {
                if let Some(Invalid { code, reason }) = block.check(rwset)? {
                    tx.code = code;
                    tx.reason = reason;
                    continue;
                }
                block.note_hashed_writes(rwset);
                rwset.to_tx_updates(tx_num, &tx.txid)
            }
        };
        block.apply(&updates)?;
        out.push(updates);
    }
    Ok(out)
}

/// `state.get_state`, where a namespace the ledger cannot hold reads as empty.
pub(crate) fn read_state(
    state: &dyn StateView,
    namespace: &str,
    key: &str,
) -> Result<Option<VersionedValue>, LedgerError> {
    match state.get_state(namespace, key) {
        Err(LedgerError::InvalidNamespace(_)) => Ok(None),
        other => other,
    }
}
