//! Byte layouts of the ledger's column families (the block store's own are described in
//! `weft_common::blockstore`).
//!
//! - [`CF_STATE`]: `namespace ‖ 0x00 ‖ key` → [`encode_value`] (format byte 1, version,
//!   metadata entries, value). Keys sort by namespace then key bytes, so a namespace is
//!   the contiguous range `[namespace ‖ 0x00, namespace ‖ 0x01)`.
//! - [`CF_HISTORY`]: `namespace ‖ 0x00 ‖ key ‖ 0x00 ‖ block (u64 BE) ‖ tx (u64 BE)` → empty.
//!   Keys may contain 0x00 (composite keys do), so an entry of key `k` is recognized by
//!   its exact length: an entry of a longer key `k ‖ 0x00 ‖ x` under the same prefix is at
//!   least 17 bytes longer than `prefix ‖ version`.
//! - In both, [`SAVEPOINT_KEY`] (starting with 0xff, a byte no UTF-8 namespace starts
//!   with) holds the number of the last block applied to that column family (u64 BE).
//!   Keeping it inside the column family it describes means wiping a column family also
//!   wipes its savepoint, which recovery then notices.

use super::{KeyMetadata, LedgerError, Version, VersionedValue};

/// Column family of the state database.
pub(crate) const CF_STATE: &str = "state";
/// Column family of the history index.
pub(crate) const CF_HISTORY: &str = "history";
/// The savepoint's key in [`CF_STATE`] and [`CF_HISTORY`].
pub(crate) const SAVEPOINT_KEY: &[u8] = b"\xffsavepoint";
/// Bytes starting the ledger's own records; no namespace (UTF-8) starts with it.
pub(crate) const META_PREFIX: u8 = 0xff;
/// An upper bound above every key of [`CF_STATE`] and [`CF_HISTORY`], savepoint included.
pub(crate) const END_OF_ALL_KEYS: &[u8] = &[0xff, 0xff];

/// Separator between namespace and key, and between key and version in history keys.
const SEP: u8 = 0x00;
/// Version of the state value layout.
const VALUE_FORMAT: u8 = 1;
/// Length of an encoded version (block and tx, both u64 BE).
pub(crate) const VERSION_LEN: usize = 16;

/// Refuses namespaces the key layout cannot represent unambiguously (with a 0x00 byte).
pub(crate) fn check_namespace(namespace: &str) -> Result<(), LedgerError> {
    if namespace.as_bytes().contains(&SEP) {
        return Err(LedgerError::InvalidNamespace(namespace.to_owned()));
    }
    Ok(())
}

/// `namespace ‖ 0x00`: the prefix of every key of a namespace.
pub(crate) fn namespace_prefix(namespace: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(namespace.len() + 1);
    out.extend_from_slice(namespace.as_bytes());
    out.push(SEP);
    out
}

/// `namespace ‖ 0x01`: the first key after every key of a namespace.
pub(crate) fn namespace_end(namespace: &str) -> Vec<u8> {
    let mut out = namespace_prefix(namespace);
    if let Some(last) = out.last_mut() {
        *last = SEP + 1;
    }
    out
}

/// The state database key of `key` in `namespace`.
pub(crate) fn state_key(namespace: &str, key: &str) -> Vec<u8> {
    let mut out = namespace_prefix(namespace);
    out.extend_from_slice(key.as_bytes());
    out
}

/// Splits a state database key into namespace and key.
pub(crate) fn split_state_key(raw: &[u8]) -> Result<(String, String), LedgerError> {
    let sep = raw
        .iter()
        .position(|b| *b == SEP)
        .ok_or_else(|| corrupt_key("state", raw))?;
    let namespace = utf8(&raw[..sep], raw)?;
    let key = utf8(&raw[sep + 1..], raw)?;
    Ok((namespace, key))
}

/// The key part of a state database key whose namespace prefix is `prefix_len` bytes.
pub(crate) fn state_key_suffix(raw: &[u8], prefix_len: usize) -> Result<String, LedgerError> {
    let key = raw
        .get(prefix_len..)
        .ok_or_else(|| corrupt_key("state", raw))?;
    utf8(key, raw)
}

/// Encodes a state value: `1 ‖ block ‖ tx ‖ n (u32) ‖ n × (len ‖ name ‖ len ‖ value) ‖
/// value`, integers big-endian, lengths u32.
pub(crate) fn encode_value(value: &VersionedValue) -> Result<Vec<u8>, LedgerError> {
    let mut out = Vec::with_capacity(1 + VERSION_LEN + 4 + value.value.len());
    out.push(VALUE_FORMAT);
    out.extend_from_slice(&encode_version(value.version));
    put_len(&mut out, value.metadata.len())?;
    for (name, entry) in &value.metadata {
        put_len(&mut out, name.len())?;
        out.extend_from_slice(name.as_bytes());
        put_len(&mut out, entry.len())?;
        out.extend_from_slice(entry);
    }
    out.extend_from_slice(&value.value);
    Ok(out)
}

/// Decodes what [`encode_value`] wrote.
pub(crate) fn decode_value(bytes: &[u8]) -> Result<VersionedValue, LedgerError> {
    let bad = |what: &str| LedgerError::Corrupt(format!("state value: {what}"));
    let mut rest = bytes;
    let format = take(&mut rest, 1).ok_or_else(|| bad("empty"))?;
    if format != [VALUE_FORMAT] {
        return Err(bad(&format!("unknown format {}", format[0])));
    }
    let version = take(&mut rest, VERSION_LEN)
        .and_then(decode_version)
        .ok_or_else(|| bad("truncated version"))?;
    let count = take_len(&mut rest).ok_or_else(|| bad("truncated metadata count"))?;
    let mut metadata = KeyMetadata::new();
    for _ in 0..count {
        let name = take_len(&mut rest)
            .and_then(|len| take(&mut rest, len))
            .ok_or_else(|| bad("truncated metadata name"))?;
        let name = String::from_utf8(name.to_vec()).map_err(|_| bad("metadata name not UTF-8"))?;
        let entry = take_len(&mut rest)
            .and_then(|len| take(&mut rest, len))
            .ok_or_else(|| bad("truncated metadata value"))?;
        metadata.insert(name, entry.to_vec());
    }
    Ok(VersionedValue {
        value: rest.to_vec(),
        metadata,
        version,
    })
}

/// `namespace ‖ 0x00 ‖ key ‖ 0x00`: the prefix of a key's history entries.
pub(crate) fn history_prefix(namespace: &str, key: &str) -> Vec<u8> {
    let mut out = state_key(namespace, key);
    out.push(SEP);
    out
}

/// The history index key of a write of `key` in `namespace` at `version`.
pub(crate) fn history_key(namespace: &str, key: &str, version: Version) -> Vec<u8> {
    let mut out = history_prefix(namespace, key);
    out.extend_from_slice(&encode_version(version));
    out
}

/// The version of a history key found under a prefix of `prefix_len` bytes, if the entry
/// belongs to exactly that key (not to a longer key sharing the prefix).
pub(crate) fn history_entry_version(raw: &[u8], prefix_len: usize) -> Option<Version> {
    if raw.len() != prefix_len + VERSION_LEN {
        return None;
    }
    decode_version(&raw[prefix_len..])
}

/// Splits a history key into namespace, key and version.
pub(crate) fn split_history_key(raw: &[u8]) -> Result<(String, String, Version), LedgerError> {
    let bad = || corrupt_key("history", raw);
    let split = raw.len().checked_sub(VERSION_LEN + 1).ok_or_else(bad)?;
    let (head, tail) = raw.split_at(split);
    if tail[0] != SEP {
        return Err(bad());
    }
    let version = decode_version(&tail[1..]).ok_or_else(bad)?;
    let (namespace, key) = split_state_key(head)?;
    Ok((namespace, key, version))
}

/// Encodes a savepoint (a block number).
pub(crate) fn encode_savepoint(block_num: u64) -> [u8; 8] {
    block_num.to_be_bytes()
}

/// Decodes a savepoint.
pub(crate) fn decode_savepoint(bytes: &[u8]) -> Result<u64, LedgerError> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| LedgerError::Corrupt(format!("bad savepoint {bytes:02x?}")))
}

/// `block ‖ tx`, both u64 big-endian, so versions sort as byte strings.
pub(crate) fn encode_version(version: Version) -> [u8; VERSION_LEN] {
    let mut out = [0; VERSION_LEN];
    out[..8].copy_from_slice(&version.block_num.to_be_bytes());
    out[8..].copy_from_slice(&version.tx_num.to_be_bytes());
    out
}

fn decode_version(bytes: &[u8]) -> Option<Version> {
    let (block, tx) = bytes.split_first_chunk::<8>()?;
    let tx = <[u8; 8]>::try_from(tx).ok()?;
    Some(Version::new(
        u64::from_be_bytes(*block),
        u64::from_be_bytes(tx),
    ))
}

fn put_len(out: &mut Vec<u8>, len: usize) -> Result<(), LedgerError> {
    let len = u32::try_from(len)
        .map_err(|_| LedgerError::InvalidCommit(format!("length {len} exceeds 4 GiB")))?;
    out.extend_from_slice(&len.to_be_bytes());
    Ok(())
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if rest.len() < n {
        return None;
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Some(head)
}

fn take_len(rest: &mut &[u8]) -> Option<usize> {
    let bytes = take(rest, 4)?;
    let len = u32::from_be_bytes(bytes.try_into().ok()?);
    usize::try_from(len).ok()
}

fn utf8(bytes: &[u8], whole: &[u8]) -> Result<String, LedgerError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| corrupt_key("(not UTF-8)", whole))
}

fn corrupt_key(what: &str, raw: &[u8]) -> LedgerError {
    LedgerError::Corrupt(format!("bad {what} key {}", hex::encode(raw)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> VersionedValue {
        VersionedValue {
            value: b"value\x00\xff".to_vec(),
            metadata: KeyMetadata::from([
                ("VALIDATION_PARAMETER".to_owned(), b"policy".to_vec()),
                ("a".to_owned(), Vec::new()),
            ]),
            version: Version::new(7, 3),
        }
    }

    #[test]
    fn values_round_trip() {
        let v = sample();
        let bytes = encode_value(&v).expect("encode");
        assert_eq!(decode_value(&bytes), Ok(v));

        let empty = VersionedValue {
            value: Vec::new(),
            metadata: KeyMetadata::new(),
            version: Version::default(),
        };
        let bytes = encode_value(&empty).expect("encode");
        assert_eq!(bytes.len(), 1 + VERSION_LEN + 4);
        assert_eq!(decode_value(&bytes), Ok(empty));
    }

    #[test]
    fn damaged_values_are_corrupt() {
        let bytes = encode_value(&sample()).expect("encode");
        for cut in [0, 1, 10, 1 + VERSION_LEN + 2, 1 + VERSION_LEN + 4 + 3] {
            assert!(
                matches!(decode_value(&bytes[..cut]), Err(LedgerError::Corrupt(_))),
                "cut at {cut}"
            );
        }
        let mut other_format = bytes;
        other_format[0] = 2;
        assert!(matches!(
            decode_value(&other_format),
            Err(LedgerError::Corrupt(_))
        ));
    }

    #[test]
    fn keys_split_back() {
        let raw = state_key("cc", "\x00obj\x00a\x00");
        assert_eq!(raw, b"cc\x00\x00obj\x00a\x00");
        assert_eq!(
            split_state_key(&raw),
            Ok(("cc".to_owned(), "\x00obj\x00a\x00".to_owned()))
        );
        assert_eq!(namespace_end("cc"), b"cc\x01");

        let h = history_key("cc", "k\x00x", Version::new(1, 2));
        assert_eq!(
            split_history_key(&h),
            Ok(("cc".to_owned(), "k\x00x".to_owned(), Version::new(1, 2)))
        );
        assert!(split_history_key(b"cc\x00k").is_err());
    }

    #[test]
    fn history_entries_of_longer_keys_are_not_taken_for_the_key() {
        let prefix = history_prefix("cc", "k");
        let own = history_key("cc", "k", Version::new(5, 1));
        let longer = history_key("cc", "k\x00", Version::new(5, 1));
        assert!(longer.starts_with(&prefix));
        assert_eq!(
            history_entry_version(&own, prefix.len()),
            Some(Version::new(5, 1))
        );
        assert_eq!(history_entry_version(&longer, prefix.len()), None);
    }

    #[test]
    fn versions_sort_as_bytes() {
        let a = encode_version(Version::new(1, 300));
        let b = encode_version(Version::new(2, 0));
        let c = encode_version(Version::new(256, 0));
        assert!(a < b && b < c);
    }

    #[test]
    fn namespaces_with_nul_are_refused() {
        assert_eq!(check_namespace("basic"), Ok(()));
        assert_eq!(
            check_namespace("a\0b"),
            Err(LedgerError::InvalidNamespace("a\0b".into()))
        );
    }
}
