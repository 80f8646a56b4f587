//! Checking a block from the ordering service before it is buffered: its place in the
//! hash chain, its structure and the orderers' signatures.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;
use weft_common::channelconfig::{ChannelConfig, ConfigError};
use weft_common::policy::PolicyError;
use weft_common::protoutil::{self, ProtoError};
use weft_proto::common::Block;

/// The policy a block's orderer signatures must satisfy.
pub const BLOCK_VALIDATION_POLICY: &str = "/Channel/Orderer/BlockValidation";

/// Why a block was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VerifyError {
    /// Wrong number, broken hash chain, data hash mismatch, malformed transactions or
    /// undecodable signatures metadata.
    #[error("malformed block: {0}")]
    Structure(#[from] ProtoError),
    /// The block's transactions belong to another channel.
    #[error("block {number} belongs to channel {found:?}, expected {expected:?}")]
    WrongChannel {
        /// The block number.
        number: u64,
        /// The channel the client pulls.
        expected: String,
        /// The channel of the block's first transaction.
        found: String,
    },
    /// The orderer signatures do not satisfy [`BLOCK_VALIDATION_POLICY`].
    #[error("orderer signatures of block {number} are not valid: {source}")]
    Signatures {
        /// The block number.
        number: u64,
        /// The policy's verdict.
        source: PolicyError,
    },
    /// A config block whose config cannot be read (and so cannot verify what follows).
    #[error("config block {number} carries an unreadable config: {source}")]
    Config {
        /// The block number.
        number: u64,
        /// Why the config was refused.
        source: ConfigError,
    },
    /// A refusal by another [`BlockVerifier`] implementation.
    #[error("{0}")]
    Other(String),
}

/// Verifies blocks for one channel before the deliver client buffers them.
pub trait BlockVerifier: Send + Sync {
    /// Checks that `block` is block `number` of the channel, that its `previous_hash` is
    /// `previous_hash` (the header hash of block `number − 1`; empty for block 0), and
    /// that it is well formed and signed by the ordering service.
    ///
    /// Blocks are verified in chain order. A config block that passes changes the config
    /// the following blocks are checked against, even before the committer commits it.
    fn verify_block(
        &self,
        block: &Block,
        number: u64,
        previous_hash: &[u8],
    ) -> Result<(), VerifyError>;
}

/// Where a verifier reads the channel's committed config from.
pub trait ConfigSource: Send + Sync {
    /// The config as of the last committed config block.
    fn channel_config(&self) -> Arc<ChannelConfig>;
}

impl ConfigSource for watch::Receiver<Arc<ChannelConfig>> {
    fn channel_config(&self) -> Arc<ChannelConfig> {
        self.borrow().clone()
    }
}

impl ConfigSource for Arc<ChannelConfig> {
    fn channel_config(&self) -> Arc<ChannelConfig> {
        self.clone()
    }
}

/// The peer's block verifier (Fabric's `mcs.VerifyBlock` plus the hash chain): block
/// number and `previous_hash`, data hash and well-formed transactions
/// ([`protoutil::verify_block_structure`]), the channel of the block's first
/// transaction, and the orderer signatures ([`protoutil::block_signatures`]) against
/// [`BLOCK_VALIDATION_POLICY`] of the channel config.
///
/// The config comes from a [`ConfigSource`] (the committed config). A config block the
/// verifier accepted is also remembered: until the source reports a config at least as
/// recent (by sequence), the blocks after it are checked against that block's config,
/// so the orderer set it introduces is trusted from the next block on, without waiting
/// for the committer.
#[derive(Debug)]
pub struct ChannelConfigVerifier<S> {
    channel_id: String,
    source: S,
    /// The config of the last config block verified (its number, its config).
    pending: Mutex<Option<(u64, Arc<ChannelConfig>)>>,
}

impl<S: ConfigSource> ChannelConfigVerifier<S> {
    /// A verifier for `channel_id` reading the committed config from `source`.
    pub fn new(channel_id: impl Into<String>, source: S) -> Self {
        Self {
            channel_id: channel_id.into(),
            source,
            pending: Mutex::new(None),
        }
    }

    /// The config block `number` must be checked against.
    fn config_for(&self, number: u64) -> Arc<ChannelConfig> {
        let committed = self.source.channel_config();
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        match pending.as_ref() {
            Some((_, config)) if config.sequence() <= committed.sequence() => {
                // The committer caught up.
                *pending = None;
                committed
            }
            Some((at, config)) if number > *at => config.clone(),
            _ => committed,
        }
    }
}

impl<S: ConfigSource> BlockVerifier for ChannelConfigVerifier<S> {
    fn verify_block(
        &self,
        block: &Block,
        number: u64,
        previous_hash: &[u8],
    ) -> Result<(), VerifyError> {
        protoutil::verify_block_structure(block, number, previous_hash)?;
        let found = protoutil::block_channel_id(block)?;
        if found != self.channel_id {
            return Err(VerifyError::WrongChannel {
                number,
                expected: self.channel_id.clone(),
                found,
            });
        }
        let config = self.config_for(number);
        let signatures = protoutil::block_signatures(block)?;
        config
            .policy_manager()
            .evaluate(BLOCK_VALIDATION_POLICY, &signatures)
            .map_err(|source| VerifyError::Signatures { number, source })?;

        if protoutil::is_config_block(block) {
            let next = ChannelConfig::from_block(block)
                .map_err(|source| VerifyError::Config { number, source })?;
            tracing::info!(
                channel = %self.channel_id,
                block = number,
                sequence = next.sequence(),
                "verified a config block; later blocks are checked against its config"
            );
            *self.pending.lock().unwrap_or_else(PoisonError::into_inner) =
                Some((number, Arc::new(next)));
        }
        Ok(())
    }
}
