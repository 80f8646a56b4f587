//! The summary of a range query's results recorded in a read-write set: the raw reads, or
//! a Merkle summary once there are more than `max_degree` of them (Fabric's
//! `rwsetutil.RangeQueryResultsHelper`, always used with hashing on and max degree 50).
//!
//! The endorser's simulator feeds each result of a range scan to
//! [`RangeQueryResultsHelper::add_result`] and records [`RangeQueryResultsHelper::done`]
//! in the `RangeQueryInfo`; the validator recomputes the same summary over a fresh scan.
//!
//! The algorithm, which must match Fabric's bit for bit:
//!
//! - results accumulate as pending reads; when more than `max_degree` are pending, the
//!   pending reads become one leaf: SHA-256 of `Marshal(QueryReads{kv_reads})`, added to
//!   level 1;
//! - whenever a level holds more than `max_degree` hashes, they are replaced by one hash at
//!   the next level: SHA-256 of their concatenation (the tree's top level grows with it);
//! - at the end, if no leaf was ever made the raw reads are the result (no summary);
//!   otherwise the remaining pending reads form a last leaf, then every level below the
//!   top is folded into one hash (a single hash moves up as is) appended to the level
//!   above, and a top level with more than `max_degree` hashes is folded once more into a
//!   new top level. The summary is `{max_degree, max_level, max_level_hashes}`.

use std::collections::BTreeMap;

use prost::Message;
use weft_common::crypto::sha256;
use weft_proto::kvrwset::range_query_info::ReadsInfo;
use weft_proto::kvrwset::{KvRead, QueryReads, QueryReadsMerkleSummary};

/// The max degree Fabric peers always use (`ledger.state.rangeQueryMaxDegree` is fixed).
pub const DEFAULT_MAX_DEGREE: u32 = 50;

/// Why a summary cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeMerkleError {
    /// A Merkle tree needs a max degree of at least 2.
    #[error("maxDegree [{0}] should not be less than 2 in the merkle tree")]
    MaxDegreeTooSmall(u32),
}

/// Accumulates a range query's results into raw reads or a Merkle summary.
#[derive(Debug, Clone)]
pub struct RangeQueryResultsHelper {
    pending: Vec<KvRead>,
    tree: Option<MerkleTree>,
    max_degree: u32,
}

impl RangeQueryResultsHelper {
    /// A helper that builds a Merkle summary (`hashing`) with `max_degree` children per
    /// node, or that only collects raw reads. With hashing, `max_degree` must be ≥ 2.
    pub fn new(hashing: bool, max_degree: u32) -> Result<Self, RangeMerkleError> {
        let tree = if hashing {
            Some(MerkleTree::new(max_degree)?)
        } else {
            None
        };
        Ok(Self {
            pending: Vec::new(),
            tree,
            max_degree,
        })
    }

    /// The helper Fabric's simulator uses: hashing on, max degree 50.
    pub fn fabric_default() -> Self {
        Self {
            pending: Vec::new(),
            tree: Some(MerkleTree {
                levels: BTreeMap::new(),
                max_level: 1,
                max_degree: DEFAULT_MAX_DEGREE,
            }),
            max_degree: DEFAULT_MAX_DEGREE,
        }
    }

    /// Adds the next result of the scan (key and committed version).
    pub fn add_result(&mut self, read: KvRead) {
        self.pending.push(read);
        if let Some(tree) = self.tree.as_mut()
            && self.pending.len() as u64 > u64::from(self.max_degree)
        {
            tree.update(leaf_hash(&std::mem::take(&mut self.pending)));
        }
    }

    /// The summary of what has been added so far (`None` without hashing); it changes
    /// only when a leaf is made.
    pub fn merkle_summary(&self) -> Option<QueryReadsMerkleSummary> {
        self.tree.as_ref().map(MerkleTree::summary)
    }

    /// Finishes: the raw reads and no summary if no leaf was ever made (or without
    /// hashing), else no raw reads and the final summary.
    pub fn done(self) -> (Vec<KvRead>, Option<QueryReadsMerkleSummary>) {
        let Some(mut tree) = self.tree else {
            return (self.pending, None);
        };
        if tree.is_empty() {
            return (self.pending, None);
        }
        if !self.pending.is_empty() {
            tree.update(leaf_hash(&self.pending));
        }
        tree.done();
        (Vec::new(), Some(tree.summary()))
    }

    /// [`Self::done`] as the `RangeQueryInfo.reads_info` to record.
    pub fn into_reads_info(self) -> ReadsInfo {
        match self.done() {
            (_, Some(summary)) => ReadsInfo::ReadsMerkleHashes(summary),
            (kv_reads, None) => ReadsInfo::RawReads(QueryReads { kv_reads }),
        }
    }
}

/// SHA-256 of `Marshal(QueryReads{kv_reads})`.
fn leaf_hash(reads: &[KvRead]) -> Vec<u8> {
    let message = QueryReads {
        kv_reads: reads.to_vec(),
    };
    sha256(&message.encode_to_vec()).to_vec()
}

/// SHA-256 of the concatenated hashes.
fn combined_hash(hashes: &[Vec<u8>]) -> Vec<u8> {
    sha256(&hashes.concat()).to_vec()
}

/// Fabric's `merkleTree`: hashes per level (1 = leaves), folded when a level overflows.
#[derive(Debug, Clone)]
struct MerkleTree {
    levels: BTreeMap<u32, Vec<Vec<u8>>>,
    max_level: u32,
    max_degree: u32,
}

impl MerkleTree {
    fn new(max_degree: u32) -> Result<Self, RangeMerkleError> {
        if max_degree < 2 {
            return Err(RangeMerkleError::MaxDegreeTooSmall(max_degree));
        }
        Ok(Self {
            levels: BTreeMap::new(),
            max_level: 1,
            max_degree,
        })
    }

    fn is_empty(&self) -> bool {
        self.max_level == 1 && self.levels.get(&1).is_none_or(Vec::is_empty)
    }

    fn overflows(&self, count: usize) -> bool {
        count as u64 > u64::from(self.max_degree)
    }

    fn update(&mut self, leaf: Vec<u8>) {
        self.levels.entry(1).or_default().push(leaf);
        let mut level = 1;
        loop {
            let count = self.levels.get(&level).map_or(0, Vec::len);
            if !self.overflows(count) {
                return;
            }
            let hashes = self.levels.remove(&level).unwrap_or_default();
            let next = level + 1;
            self.levels
                .entry(next)
                .or_default()
                .push(combined_hash(&hashes));
            self.max_level = self.max_level.max(next);
            level = next;
        }
    }

    fn done(&mut self) {
        let mut level = 1;
        while level < self.max_level {
            let hashes = self.levels.get(&level).cloned().unwrap_or_default();
            let hash = match hashes.as_slice() {
                [] => {
                    level += 1;
                    continue;
                }
                [only] => only.clone(),
                _ => combined_hash(&hashes),
            };
            self.levels.remove(&level);
            level += 1;
            self.levels.entry(level).or_default().push(hash);
        }
        let top = self.levels.get(&self.max_level).map_or(0, Vec::len);
        if self.overflows(top) {
            let hashes = self.levels.remove(&self.max_level).unwrap_or_default();
            self.max_level += 1;
            self.levels
                .insert(self.max_level, vec![combined_hash(&hashes)]);
        }
    }

    fn summary(&self) -> QueryReadsMerkleSummary {
        QueryReadsMerkleSummary {
            max_degree: self.max_degree,
            max_level: self.max_level,
            max_level_hashes: self
                .levels
                .get(&self.max_level)
                .cloned()
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_proto::kvrwset::Version;

    fn read(i: u64) -> KvRead {
        KvRead {
            key: format!("key{i:05}"),
            version: Some(Version {
                block_num: i,
                tx_num: 0,
            }),
        }
    }

    fn summarize(n: u64, max_degree: u32) -> (Vec<KvRead>, Option<QueryReadsMerkleSummary>) {
        let mut helper = RangeQueryResultsHelper::new(true, max_degree).unwrap();
        for i in 0..n {
            helper.add_result(read(i));
        }
        helper.done()
    }

    fn leaf(range: std::ops::Range<u64>) -> Vec<u8> {
        let reads: Vec<KvRead> = range.map(read).collect();
        leaf_hash(&reads)
    }

    #[test]
    fn up_to_max_degree_results_stay_raw() {
        for n in [0, 1, 50] {
            let (reads, summary) = summarize(n, 50);
            assert_eq!(reads.len() as u64, n);
            assert!(summary.is_none());
        }
        let mut helper = RangeQueryResultsHelper::fabric_default();
        helper.add_result(read(1));
        assert_eq!(
            helper.into_reads_info(),
            ReadsInfo::RawReads(QueryReads {
                kv_reads: vec![read(1)]
            })
        );
    }

    #[test]
    fn leaves_hold_max_degree_plus_one_reads() {
        // 51 reads: one full leaf, nothing pending.
        let (reads, summary) = summarize(51, 50);
        assert!(reads.is_empty());
        assert_eq!(
            summary.unwrap(),
            QueryReadsMerkleSummary {
                max_degree: 50,
                max_level: 1,
                max_level_hashes: vec![leaf(0..51)],
            }
        );
        // 60 reads: a full leaf and a last leaf of 9.
        let (_, summary) = summarize(60, 50);
        assert_eq!(
            summary.unwrap().max_level_hashes,
            [leaf(0..51), leaf(51..60)]
        );
        // The leaf is SHA-256 of the marshaled QueryReads.
        let one = QueryReads {
            kv_reads: vec![read(0)],
        };
        assert_eq!(
            leaf(0..1),
            sha256(&one.encode_to_vec()).to_vec(),
            "leaf hash"
        );
    }

    #[test]
    fn overflowing_levels_fold_up() {
        // max degree 2: leaves of 3 reads; a level folds when it holds 3 hashes.
        let degree = 2;
        // 9 reads → 3 leaves → folded into one level-2 hash while adding.
        let (_, summary) = summarize(9, degree);
        let l = [leaf(0..3), leaf(3..6), leaf(6..9)];
        assert_eq!(
            summary.unwrap(),
            QueryReadsMerkleSummary {
                max_degree: 2,
                max_level: 2,
                max_level_hashes: vec![combined_hash(&l)],
            }
        );
        // 10 reads → the same, plus a last leaf of 1 that moves up to level 2 at the end.
        let (_, summary) = summarize(10, degree);
        assert_eq!(
            summary.unwrap().max_level_hashes,
            [combined_hash(&l), leaf(9..10)]
        );
        // 14 reads → level 2 [H(l0..l2)], level 1 [l3, l4(2 reads)] folded into one hash.
        let (_, summary) = summarize(14, degree);
        let s = summary.unwrap();
        assert_eq!(s.max_level, 2);
        assert_eq!(
            s.max_level_hashes,
            [
                combined_hash(&l),
                combined_hash(&[leaf(9..12), leaf(12..14)])
            ]
        );
    }

    #[test]
    fn a_full_top_level_is_folded_at_the_end() {
        // max degree 2, leaves of 3 reads: 27 reads → 9 leaves → 3 level-2 hashes,
        // folded into one level-3 hash while adding.
        let degree = 2;
        let group = |g: u64| {
            let leaves: Vec<Vec<u8>> = (0..3)
                .map(|i| leaf(g * 9 + i * 3..g * 9 + i * 3 + 3))
                .collect();
            combined_hash(&leaves)
        };
        let top = |t: u64| combined_hash(&[group(3 * t), group(3 * t + 1), group(3 * t + 2)]);
        let (_, summary) = summarize(27, degree);
        assert_eq!(
            summary.unwrap(),
            QueryReadsMerkleSummary {
                max_degree: 2,
                max_level: 3,
                max_level_hashes: vec![top(0)],
            }
        );
        // One more read: a last leaf that moves up, level by level, to the top.
        let (_, summary) = summarize(28, degree);
        let s = summary.unwrap();
        assert_eq!(s.max_level, 3);
        assert_eq!(s.max_level_hashes, [top(0), leaf(27..28)]);
        // 54 reads leave two top hashes; a 55th moves up as a third, overflowing the
        // top, which is folded into a new level.
        let (_, summary) = summarize(54, degree);
        assert_eq!(summary.unwrap().max_level_hashes, [top(0), top(1)]);
        let (_, summary) = summarize(55, degree);
        assert_eq!(
            summary.unwrap(),
            QueryReadsMerkleSummary {
                max_degree: 2,
                max_level: 4,
                max_level_hashes: vec![combined_hash(&[top(0), top(1), leaf(54..55)])],
            }
        );
    }

    #[test]
    fn max_degree_below_two_is_refused_and_raw_mode_never_hashes() {
        assert_eq!(
            RangeQueryResultsHelper::new(true, 1).err(),
            Some(RangeMerkleError::MaxDegreeTooSmall(1))
        );
        let mut helper = RangeQueryResultsHelper::new(false, 0).unwrap();
        for i in 0..200 {
            helper.add_result(read(i));
        }
        assert!(helper.merkle_summary().is_none());
        let (reads, summary) = helper.done();
        assert_eq!((reads.len(), summary), (200, None));
    }
}
