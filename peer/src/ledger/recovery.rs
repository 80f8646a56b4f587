//! Bringing state and history up to the blocks: on open when they lag behind, and on
//! demand ([`Ledger::rebuild_state`], Fabric's `peer node rebuild-dbs`).
//!
//! Each column family's savepoint names the last block applied to it; every replayed
//! block is written with its savepoint in one batch, so an interrupted replay resumes
//! where it stopped. A column family without a savepoint (wiped, or a rebuild was
//! interrupted before its first block) is cleared and replayed from block 0, because
//! applying blocks is not idempotent over leftovers.

use super::LedgerError;
use super::codec::META_PREFIX;
use super::read::Source;
use super::store::{Ledger, Targets};
use super::updates::updates_of_committed_block;

/// Where replay of one column family starts: `None` when it is up to date.
fn replay_start(
    name: &str,
    savepoint: Option<u64>,
    height: u64,
) -> Result<Option<u64>, LedgerError> {
    match savepoint {
        None if height == 0 => Ok(None),
        None => Ok(Some(0)),
        Some(last) if last >= height => Err(LedgerError::Corrupt(format!(
            "{name} savepoint at block {last} but only {height} blocks stored"
        ))),
        Some(last) if last + 1 == height => Ok(None),
        Some(last) => Ok(Some(last + 1)),
    }
}

impl Ledger {
    /// Drops the state and history contents and rebuilds them by replaying every
    /// committed block, as Fabric's `peer node rebuild-dbs` does on the next start.
    /// Commits wait meanwhile; readers see the state being rebuilt.
    pub fn rebuild_state(&self) -> Result<(), LedgerError> {
        let _guard = self.lock();
        tracing::info!(
            height = self.height(),
            "rebuilding state and history databases"
        );
        self.clear(Targets {
            state: true,
            history: true,
        })?;
        self.catch_up()
    }

    /// Replays the committed blocks that state or history have not seen. Call with the
    /// commit lock held.
    pub(crate) fn catch_up(&self) -> Result<(), LedgerError> {
        let height = self.height();
        let source = Source::Latest(self.block_store().db());
        let state_savepoint = source.savepoint(self.state_cf()?)?;
        let history_savepoint = source.savepoint(self.history_cf()?)?;
        let state_from = replay_start("state", state_savepoint, height)?;
        let history_from = replay_start("history", history_savepoint, height)?;
        let Some(from) = state_from.into_iter().chain(history_from).min() else {
            return Ok(());
        };
        tracing::info!(
            from,
            to = height - 1,
            state_savepoint,
            history_savepoint,
            "state/history behind the block store: replaying committed blocks"
        );
        self.clear(Targets {
            state: state_savepoint.is_none() && self.has_data(true)?,
            history: history_savepoint.is_none() && self.has_data(false)?,
        })?;

        let db = self.block_store().db();
        for number in from..height {
            let block = self.block_store().block(number)?.ok_or_else(|| {
                LedgerError::Corrupt(format!("block {number} missing below height {height}"))
            })?;
            let updates = updates_of_committed_block(&block)?;
            let targets = Targets {
                state: state_from.is_some_and(|s| number >= s),
                history: history_from.is_some_and(|h| number >= h),
            };
            let batch = self.block_batch(number, &updates, targets)?;
            db.write(batch)?;
        }
        tracing::info!(height, "state/history caught up");
        Ok(())
    }

    /// Whether the state (`true`) or history (`false`) column family holds any entry
    /// other than its savepoint.
    fn has_data(&self, state: bool) -> Result<bool, LedgerError> {
        let cf = if state {
            self.state_cf()?
        } else {
            self.history_cf()?
        };
        let mut iter = Source::Latest(self.block_store().db()).iter(
            cf,
            Vec::new(),
            vec![META_PREFIX],
            rocksdb::IteratorMode::Start,
        );
        Ok(iter.next().transpose()?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_starts_after_the_savepoint() {
        assert_eq!(replay_start("s", None, 0), Ok(None));
        assert_eq!(replay_start("s", None, 3), Ok(Some(0)));
        assert_eq!(replay_start("s", Some(2), 3), Ok(None));
        assert_eq!(replay_start("s", Some(0), 3), Ok(Some(1)));
        assert!(matches!(
            replay_start("s", Some(3), 3),
            Err(LedgerError::Corrupt(_))
        ));
    }
}
