//! Transaction ids and nonces.
//!
//! A Fabric txid is `lowercase_hex(SHA-256(nonce ‖ creator))`, where `creator` is the raw
//! `SignatureHeader.creator` bytes (a marshaled `SerializedIdentity`). Binding the id to
//! the nonce and the creator is what lets the ledger catch replays by txid alone.

use crate::crypto::sha256_concat;

use super::ProtoError;

/// Length in bytes of the nonces Weft creates (what Fabric and its SDKs use).
pub const NONCE_LEN: usize = 24;

/// A fresh random nonce of [`NONCE_LEN`] bytes.
pub fn create_nonce() -> Vec<u8> {
    let mut nonce = vec![0u8; NONCE_LEN];
    rand::fill(nonce.as_mut_slice());
    nonce
}

/// The txid for `nonce` and `creator`: lowercase hex of SHA-256(`nonce` ‖ `creator`).
pub fn compute_txid(nonce: &[u8], creator: &[u8]) -> String {
    hex::encode(sha256_concat(&[nonce, creator]))
}

/// Checks that `txid` is the txid of `nonce` and `creator` (exact, case-sensitive match).
pub fn check_txid(txid: &str, nonce: &[u8], creator: &[u8]) -> Result<(), ProtoError> {
    let expected = compute_txid(nonce, creator);
    if txid == expected {
        Ok(())
    } else {
        Err(ProtoError::TxIdMismatch {
            expected,
            found: txid.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::sha256;

    #[test]
    fn txid_is_hex_sha256_of_nonce_then_creator() {
        let txid = compute_txid(b"nonce", b"creator");
        assert_eq!(txid, hex::encode(sha256(b"noncecreator")));
        assert_eq!(txid.len(), 64);
        assert!(
            txid.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        );
        // SHA-256("") is a well-known constant.
        assert_eq!(
            compute_txid(b"", b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn check_txid_accepts_the_right_id_only() {
        let txid = compute_txid(b"n", b"c");
        assert_eq!(check_txid(&txid, b"n", b"c"), Ok(()));
        assert!(matches!(
            check_txid(&txid, b"n", b"other"),
            Err(ProtoError::TxIdMismatch { .. })
        ));
        // Upper-case hex is a different id for Fabric.
        assert!(check_txid(&txid.to_uppercase(), b"n", b"c").is_err());
        assert!(check_txid("", b"n", b"c").is_err());
    }

    #[test]
    fn nonces_are_24_random_bytes() {
        let (a, b) = (create_nonce(), create_nonce());
        assert_eq!(a.len(), NONCE_LEN);
        assert_ne!(a, b);
    }
}
