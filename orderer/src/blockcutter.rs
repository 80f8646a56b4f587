//! Block cutting: Fabric's rules for turning a stream of ordered envelopes into batches.
//!
//! For each envelope of size `s` (payload + signature bytes) and `P` =
//! `preferred_max_bytes`:
//! 1. `s > P`: the pending batch (if any) is cut, then the envelope goes out alone;
//! 2. else if pending bytes + `s > P`: the pending batch is cut and a new one starts;
//! 3. the envelope is appended; reaching `max_message_count` cuts.
//!
//! The batch timeout is not handled here: time is not deterministic across orderers, so
//! the chain cuts on timeout only when a committed "time to cut" log entry says so
//! (see `consensus::chain`). This module is pure and the same on every node.

/// The BatchSize values of the channel config that cutting depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutLimits {
    /// Cut once a batch holds this many envelopes.
    pub max_message_count: u32,
    /// Prefer batches no larger than this many bytes.
    pub preferred_max_bytes: u32,
}

/// Why a batch was cut (the `reason` label of `weft_blockcutter_blocks_cut`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutReason {
    /// `max_message_count` reached.
    Count,
    /// The next envelope would overflow `preferred_max_bytes`, or is larger on its own.
    Bytes,
    /// The batch timeout expired (a committed time-to-cut entry).
    Timeout,
    /// A config transaction needs a block of its own.
    Config,
}

impl CutReason {
    /// The metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            CutReason::Count => "count",
            CutReason::Bytes => "bytes",
            CutReason::Timeout => "timeout",
            CutReason::Config => "config",
        }
    }
}

/// A cut batch of envelopes, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch<T> {
    /// The envelopes of the batch.
    pub envelopes: Vec<T>,
    /// Why it was cut.
    pub reason: CutReason,
}

/// Something the cutter can size: an envelope's `len(payload) + len(signature)`.
pub trait MessageSize {
    /// The message size Fabric's rules use.
    fn message_size(&self) -> usize;
}

/// The pending batch and the cutting rules.
#[derive(Debug)]
pub struct BlockCutter<T> {
    limits: CutLimits,
    pending: Vec<T>,
    pending_bytes: usize,
}

impl<T: MessageSize> BlockCutter<T> {
    /// An empty cutter with the given limits.
    pub fn new(limits: CutLimits) -> Self {
        Self {
            limits,
            pending: Vec::new(),
            pending_bytes: 0,
        }
    }

    /// Changes the limits (a config update); the pending batch is kept.
    pub fn set_limits(&mut self, limits: CutLimits) {
        self.limits = limits;
    }

    /// Adds one envelope; returns the batches it caused to be cut (zero, one or two), in order.
    pub fn ordered(&mut self, envelope: T) -> Vec<Batch<T>> {
        let size = envelope.message_size();
        let preferred = self.limits.preferred_max_bytes as usize;
        let mut batches = Vec::new();

        if size > preferred {
            if let Some(batch) = self.cut(CutReason::Bytes) {
                batches.push(batch);
            }
            batches.push(Batch {
                envelopes: vec![envelope],
                reason: CutReason::Bytes,
            });
            return batches;
        }
        if self.pending_bytes + size > preferred
            && let Some(batch) = self.cut(CutReason::Bytes)
        {
            batches.push(batch);
        }
        self.pending.push(envelope);
        self.pending_bytes += size;
        if self.pending.len() as u64 >= u64::from(self.limits.max_message_count.max(1)) {
            batches.extend(self.cut(CutReason::Count));
        }
        batches
    }

    /// Cuts the pending batch, if it has anything.
    pub fn cut(&mut self, reason: CutReason) -> Option<Batch<T>> {
        if self.pending.is_empty() {
            return None;
        }
        self.pending_bytes = 0;
        Some(Batch {
            envelopes: std::mem::take(&mut self.pending),
            reason,
        })
    }

    /// Whether envelopes are waiting for a cut.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// How many envelopes are waiting.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Env(usize, &'static str);
    impl MessageSize for Env {
        fn message_size(&self) -> usize {
            self.0
        }
    }

    fn cutter(count: u32, preferred: u32) -> BlockCutter<Env> {
        BlockCutter::new(CutLimits {
            max_message_count: count,
            preferred_max_bytes: preferred,
        })
    }

    fn names(batch: &Batch<Env>) -> Vec<&'static str> {
        batch.envelopes.iter().map(|e| e.1).collect()
    }

    #[test]
    fn cuts_on_message_count() {
        let mut c = cutter(3, 1000);
        assert!(c.ordered(Env(10, "a")).is_empty());
        assert!(c.ordered(Env(10, "b")).is_empty());
        let out = c.ordered(Env(10, "c"));
        assert_eq!(out.len(), 1);
        assert_eq!(names(&out[0]), ["a", "b", "c"]);
        assert_eq!(out[0].reason, CutReason::Count);
        assert!(!c.has_pending());
    }

    #[test]
    fn overflowing_preferred_bytes_cuts_before_the_envelope() {
        let mut c = cutter(10, 100);
        c.ordered(Env(60, "a"));
        let out = c.ordered(Env(50, "b"));
        assert_eq!(out.len(), 1);
        assert_eq!(names(&out[0]), ["a"]);
        assert_eq!(out[0].reason, CutReason::Bytes);
        assert_eq!(c.pending_len(), 1);
    }

    #[test]
    fn exactly_preferred_bytes_does_not_cut() {
        let mut c = cutter(10, 100);
        c.ordered(Env(50, "a"));
        assert!(c.ordered(Env(50, "b")).is_empty());
        assert_eq!(c.pending_len(), 2);
    }

    #[test]
    fn an_oversized_envelope_goes_alone_after_the_pending_batch() {
        let mut c = cutter(10, 100);
        c.ordered(Env(10, "a"));
        let out = c.ordered(Env(500, "big"));
        assert_eq!(out.len(), 2);
        assert_eq!(names(&out[0]), ["a"]);
        assert_eq!(names(&out[1]), ["big"]);
        assert!(!c.has_pending());
        // With nothing pending it is a single batch.
        let out = c.ordered(Env(500, "big2"));
        assert_eq!(out.len(), 1);
        assert_eq!(names(&out[0]), ["big2"]);
    }

    #[test]
    fn bytes_cut_then_count_cut_in_one_call() {
        let mut c = cutter(1, 100);
        let out = c.ordered(Env(10, "a"));
        assert_eq!(out.len(), 1);
        let mut c = cutter(2, 100);
        c.ordered(Env(95, "a"));
        // "b" overflows (cut [a]) and is alone; count 2 not reached.
        let out = c.ordered(Env(10, "b"));
        assert_eq!(out.iter().map(names).collect::<Vec<_>>(), vec![vec!["a"]]);
        assert_eq!(c.pending_len(), 1);
    }

    #[test]
    fn explicit_cut_of_empty_pending_is_none() {
        let mut c = cutter(10, 100);
        assert!(c.cut(CutReason::Timeout).is_none());
        c.ordered(Env(1, "a"));
        let batch = c.cut(CutReason::Timeout).unwrap();
        assert_eq!(batch.reason, CutReason::Timeout);
        assert_eq!(names(&batch), ["a"]);
    }
}
