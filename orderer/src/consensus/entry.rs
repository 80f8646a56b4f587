//! What the orderer writes into the Raft log.
//!
//! Fabric's etcdraft replicates whole blocks cut by the leader. Weft replicates the
//! ordered *envelopes* instead, and every node cuts blocks from the committed log with the
//! same deterministic rules; so Broadcast can acknowledge an envelope as soon as its entry
//! is committed (no loss on leader failure), and all nodes produce identical block
//! headers. Time, which is not deterministic, enters the log explicitly as a
//! [`LogEntry::TimeToCut`] proposed by the leader when the batch timeout expires.

use prost::Message;
use weft_proto::common::BlockData;

const TAG_ENVELOPES: u8 = 1;
const TAG_TIME_TO_CUT: u8 = 2;
const TAG_CONFIG: u8 = 3;

/// One Raft log entry's meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEntry {
    /// Envelopes in their order, each the canonical encoding of a `common.Envelope`.
    Envelopes(Vec<Vec<u8>>),
    /// Cut the pending batch into block `block_number`, if that is still the next block
    /// and something is pending (the batch timeout expired on the leader).
    TimeToCut {
        /// The block the leader meant to cut.
        block_number: u64,
    },
    /// A CONFIG envelope, validated against config `sequence`; applied only if the
    /// channel is still at that sequence.
    Config {
        /// The config sequence the update was validated against.
        sequence: u64,
        /// The orderer-signed CONFIG envelope.
        envelope: Vec<u8>,
    },
}

/// A log entry that does not decode: a bug or a corrupt log, never client input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("undecodable raft log entry: {0}")]
pub struct EntryError(pub String);

impl LogEntry {
    /// Encodes the entry for `RawNode::propose`.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            LogEntry::Envelopes(envelopes) => {
                let data = BlockData {
                    data: envelopes.clone(),
                };
                let mut out = Vec::with_capacity(1 + data.encoded_len());
                out.push(TAG_ENVELOPES);
                data.encode(&mut out).expect("a Vec grows as needed");
                out
            }
            LogEntry::TimeToCut { block_number } => {
                let mut out = vec![TAG_TIME_TO_CUT];
                out.extend_from_slice(&block_number.to_be_bytes());
                out
            }
            LogEntry::Config { sequence, envelope } => {
                let mut out = Vec::with_capacity(9 + envelope.len());
                out.push(TAG_CONFIG);
                out.extend_from_slice(&sequence.to_be_bytes());
                out.extend_from_slice(envelope);
                out
            }
        }
    }

    /// Decodes an entry's data; `Ok(None)` for the empty entries Raft itself appends.
    pub fn decode(data: &[u8]) -> Result<Option<Self>, EntryError> {
        let Some((&tag, rest)) = data.split_first() else {
            return Ok(None);
        };
        let u64_prefix = |rest: &[u8]| -> Result<u64, EntryError> {
            let bytes: [u8; 8] = rest
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| EntryError("truncated number".into()))?;
            Ok(u64::from_be_bytes(bytes))
        };
        match tag {
            TAG_ENVELOPES => {
                let data = BlockData::decode(rest).map_err(|e| EntryError(e.to_string()))?;
                Ok(Some(LogEntry::Envelopes(data.data)))
            }
            TAG_TIME_TO_CUT if rest.len() == 8 => Ok(Some(LogEntry::TimeToCut {
                block_number: u64_prefix(rest)?,
            })),
            TAG_CONFIG => Ok(Some(LogEntry::Config {
                sequence: u64_prefix(rest)?,
                envelope: rest[8..].to_vec(),
            })),
            _ => Err(EntryError(format!(
                "unknown tag {tag} or bad length {}",
                data.len()
            ))),
        }
    }

    /// How many items the entry holds (envelopes, or 1): the unit of the chain's resume
    /// position within an entry.
    pub fn item_count(&self) -> u32 {
        match self {
            LogEntry::Envelopes(envelopes) => envelopes.len() as u32,
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        for entry in [
            LogEntry::Envelopes(vec![b"one".to_vec(), Vec::new(), b"three".to_vec()]),
            LogEntry::Envelopes(Vec::new()),
            LogEntry::TimeToCut { block_number: 42 },
            LogEntry::Config {
                sequence: 7,
                envelope: b"cfg".to_vec(),
            },
        ] {
            assert_eq!(LogEntry::decode(&entry.encode()).unwrap(), Some(entry));
        }
    }

    #[test]
    fn empty_data_is_a_raft_no_op() {
        assert_eq!(LogEntry::decode(&[]).unwrap(), None);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(LogEntry::decode(&[9, 1, 2]).is_err());
        assert!(LogEntry::decode(&[TAG_TIME_TO_CUT, 1]).is_err());
        assert!(LogEntry::decode(&[TAG_CONFIG, 1, 2]).is_err());
        assert!(LogEntry::decode(&[TAG_ENVELOPES, 0xff]).is_err());
    }
}
