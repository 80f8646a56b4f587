//! Hashing and ECDSA P-256 signatures, as Fabric uses them.
//!
//! Every Fabric signature is ECDSA over SHA-256 of the message, DER-encoded
//! (`SEQUENCE { INTEGER r, INTEGER s }`), with `s` in the lower half of the group order
//! ("low-S"). [`PrivateKey::sign`] always produces low-S; [`PublicKey::verify`] rejects
//! high-S and malformed DER with a typed [`CryptoError`].
//!
//! Keys and encodings (PKCS#8, SEC1, SPKI) go through RustCrypto's `p256`. The
//! arithmetic goes through a [`SignatureBackend`]: [`AwsLcBackend`] (the default, ~5×
//! faster at verification, which is the validator's hot path) or [`RustCryptoBackend`]
//! (portable, no C code), chosen by the `aws-lc` cargo feature. Both are always usable
//! side by side when the feature is on, so benches and tests compare them.

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::elliptic_curve::scalar::IsHigh;
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use sha2::{Digest, Sha256};

/// Length of a SHA-256 digest in bytes.
pub const SHA256_LEN: usize = 32;

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; SHA256_LEN] {
    Sha256::digest(data).into()
}

/// SHA-256 over the concatenation of `parts`, without building the concatenation.
pub fn sha256_concat(parts: &[&[u8]]) -> [u8; SHA256_LEN] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// What went wrong with a key or a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The signature bytes are not a DER `SEQUENCE { INTEGER r, INTEGER s }` with valid scalars.
    #[error("malformed ECDSA signature: not a valid DER encoding of (r, s)")]
    MalformedSignature,
    /// The signature's `s` is in the upper half of the group order; Fabric accepts only low-S.
    #[error("invalid ECDSA signature: S is not in the lower half of the curve order (high-S)")]
    HighS,
    /// The signature is well formed but does not verify for this key and message.
    #[error("ECDSA signature verification failed")]
    BadSignature,
    /// A private key could not be decoded (PEM, PKCS#8 or SEC1).
    #[error("malformed private key: {0}")]
    MalformedPrivateKey(String),
    /// A public key could not be decoded (SEC1 point or SPKI).
    #[error("malformed public key: {0}")]
    MalformedPublicKey(String),
    /// The backend refused to produce a signature.
    #[error("signing failed: {0}")]
    SigningFailed(String),
}

/// A P-256 private key.
#[derive(Clone)]
pub struct PrivateKey {
    key: SigningKey,
    #[cfg(feature = "aws-lc")]
    aws: std::sync::Arc<aws_lc_rs::signature::EcdsaKeyPair>,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// A fresh random key from the operating system's RNG.
    pub fn generate() -> Self {
        let mut bytes = p256::FieldBytes::default();
        loop {
            rand::fill(bytes.as_mut_slice());
            if let Ok(key) = SigningKey::from_bytes(&bytes) {
                return Self::from_signing_key(key)
                    .expect("a valid scalar always encodes as PKCS#8");
            }
        }
    }

    /// Decodes a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) or SEC1 PEM
    /// (`-----BEGIN EC PRIVATE KEY-----`) key.
    pub fn from_pem(pem: &str) -> Result<Self, CryptoError> {
        let key = if pem.contains("BEGIN EC PRIVATE KEY") {
            use p256::elliptic_curve::SecretKey;
            SecretKey::<p256::NistP256>::from_sec1_pem(pem)
                .map(SigningKey::from)
                .map_err(|e| e.to_string())
        } else {
            SigningKey::from_pkcs8_pem(pem).map_err(|e| e.to_string())
        };
        Self::from_signing_key(key.map_err(CryptoError::MalformedPrivateKey)?)
    }

    /// Decodes a PKCS#8 DER key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, CryptoError> {
        let key = SigningKey::from_pkcs8_der(der)
            .map_err(|e| CryptoError::MalformedPrivateKey(e.to_string()))?;
        Self::from_signing_key(key)
    }

    fn from_signing_key(key: SigningKey) -> Result<Self, CryptoError> {
        #[cfg(feature = "aws-lc")]
        let aws = {
            let der = key
                .to_pkcs8_der()
                .map_err(|e| CryptoError::MalformedPrivateKey(e.to_string()))?;
            let pair = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                der.as_bytes(),
            )
            .map_err(|e| CryptoError::MalformedPrivateKey(e.to_string()))?;
            std::sync::Arc::new(pair)
        };
        Ok(Self {
            key,
            #[cfg(feature = "aws-lc")]
            aws,
        })
    }

    /// PKCS#8 PEM, the form Fabric's `keystore/` holds.
    pub fn to_pkcs8_pem(&self) -> String {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .expect("PKCS#8 encoding of a valid key")
            .to_string()
    }

    /// PKCS#8 DER.
    pub fn to_pkcs8_der(&self) -> Vec<u8> {
        self.key
            .to_pkcs8_der()
            .expect("PKCS#8 encoding of a valid key")
            .as_bytes()
            .to_vec()
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_verifying_key(*self.key.verifying_key())
    }

    /// Signs SHA-256(`message`) with the default backend: DER, always low-S.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        default_backend().sign(self, message)
    }
}

/// A P-256 public key.
#[derive(Clone)]
pub struct PublicKey {
    key: VerifyingKey,
    #[cfg(feature = "aws-lc")]
    aws: std::sync::Arc<aws_lc_rs::signature::ParsedPublicKey>,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", hex::encode(self.to_sec1_uncompressed()))
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for PublicKey {}

impl PublicKey {
    fn from_verifying_key(key: VerifyingKey) -> Self {
        #[cfg(feature = "aws-lc")]
        let aws = {
            let point = key.to_sec1_point(false);
            let parsed = aws_lc_rs::signature::ParsedPublicKey::new(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
                point.as_bytes(),
            )
            .expect("a point p256 accepted is a valid P-256 point");
            std::sync::Arc::new(parsed)
        };
        Self {
            key,
            #[cfg(feature = "aws-lc")]
            aws,
        }
    }

    /// Decodes a SEC1 point (uncompressed `04‖x‖y` or compressed).
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, CryptoError> {
        let key = VerifyingKey::from_sec1_bytes(bytes)
            .map_err(|e| CryptoError::MalformedPublicKey(e.to_string()))?;
        Ok(Self::from_verifying_key(key))
    }

    /// Decodes a DER `SubjectPublicKeyInfo` (what an X.509 certificate carries).
    pub fn from_spki_der(der: &[u8]) -> Result<Self, CryptoError> {
        let key = VerifyingKey::from_public_key_der(der)
            .map_err(|e| CryptoError::MalformedPublicKey(e.to_string()))?;
        Ok(Self::from_verifying_key(key))
    }

    /// The uncompressed SEC1 point, `04 ‖ x ‖ y` (65 bytes).
    pub fn to_sec1_uncompressed(&self) -> Vec<u8> {
        self.key.to_sec1_point(false).as_bytes().to_vec()
    }

    /// DER `SubjectPublicKeyInfo`.
    pub fn to_spki_der(&self) -> Vec<u8> {
        self.key
            .to_public_key_der()
            .expect("SPKI encoding of a valid key")
            .into_vec()
    }

    /// Fabric's subject key identifier: SHA-256 of the uncompressed point. Names the
    /// `keystore/<ski>_sk` files and fills certificates' SKI extension.
    pub fn ski(&self) -> [u8; SHA256_LEN] {
        sha256(&self.to_sec1_uncompressed())
    }

    /// Verifies a Fabric signature over `message` with the default backend: rejects
    /// malformed DER ([`CryptoError::MalformedSignature`]), high-S ([`CryptoError::HighS`])
    /// and wrong signatures ([`CryptoError::BadSignature`]).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        default_backend().verify(self, message, signature)
    }

    /// Verifies an X.509 certificate or CRL signature (ECDSA with SHA-256 over `tbs`).
    /// Unlike [`PublicKey::verify`], high-S is accepted: CAs outside Fabric emit it and
    /// Fabric's chain verification accepts it.
    pub fn verify_x509_signature(&self, tbs: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        let sig = parse_der_signature(signature)?.normalize_s();
        let der = sig.to_der();
        default_backend().verify(self, tbs, der.as_bytes())
    }
}

fn parse_der_signature(signature: &[u8]) -> Result<Signature, CryptoError> {
    Signature::from_der(signature).map_err(|_| CryptoError::MalformedSignature)
}

/// Parses a DER signature and refuses high-S: the checks every backend shares.
fn parse_low_s(signature: &[u8]) -> Result<Signature, CryptoError> {
    let sig = parse_der_signature(signature)?;
    if bool::from(sig.s().is_high()) {
        return Err(CryptoError::HighS);
    }
    Ok(sig)
}

/// Rewrites a DER signature into low-S form (identity when already low).
pub fn normalize_low_s(signature: &[u8]) -> Result<Vec<u8>, CryptoError> {
    Ok(parse_der_signature(signature)?
        .normalize_s()
        .to_der()
        .as_bytes()
        .to_vec())
}

/// The arithmetic behind Fabric signatures. Implementations must produce DER low-S
/// signatures over SHA-256 of the message and reject high-S on verification.
pub trait SignatureBackend: Send + Sync + std::fmt::Debug {
    /// A short name for logs and benchmark output.
    fn name(&self) -> &'static str;
    /// Signs SHA-256(`message`); the result is DER with low-S.
    fn sign(&self, key: &PrivateKey, message: &[u8]) -> Result<Vec<u8>, CryptoError>;
    /// Verifies a DER signature over SHA-256(`message`).
    fn verify(&self, key: &PublicKey, message: &[u8], signature: &[u8]) -> Result<(), CryptoError>;
}

/// RustCrypto `p256`: portable, pure Rust.
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCryptoBackend;

impl SignatureBackend for RustCryptoBackend {
    fn name(&self) -> &'static str {
        "p256"
    }

    fn sign(&self, key: &PrivateKey, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        use p256::ecdsa::signature::hazmat::PrehashSigner;
        let sig: Signature = key
            .key
            .sign_prehash(&sha256(message))
            .map_err(|e| CryptoError::SigningFailed(e.to_string()))?;
        Ok(sig.normalize_s().to_der().as_bytes().to_vec())
    }

    fn verify(&self, key: &PublicKey, message: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        let sig = parse_low_s(signature)?;
        key.key
            .verify_prehash(&sha256(message), &sig)
            .map_err(|_| CryptoError::BadSignature)
    }
}

/// aws-lc-rs (the library rustls already brings in): the fast default.
#[cfg(feature = "aws-lc")]
#[derive(Debug, Clone, Copy, Default)]
pub struct AwsLcBackend;

#[cfg(feature = "aws-lc")]
impl SignatureBackend for AwsLcBackend {
    fn name(&self) -> &'static str {
        "aws-lc-rs"
    }

    fn sign(&self, key: &PrivateKey, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let sig = key
            .aws
            .sign(&rng, message)
            .map_err(|e| CryptoError::SigningFailed(e.to_string()))?;
        normalize_low_s(sig.as_ref())
    }

    fn verify(&self, key: &PublicKey, message: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        parse_low_s(signature)?;
        key.aws
            .verify_sig(message, signature)
            .map_err(|_| CryptoError::BadSignature)
    }
}

/// The backend the `aws-lc` feature selects: [`AwsLcBackend`] when on, else [`RustCryptoBackend`].
pub fn default_backend() -> &'static dyn SignatureBackend {
    #[cfg(feature = "aws-lc")]
    {
        &AwsLcBackend
    }
    #[cfg(not(feature = "aws-lc"))]
    {
        &RustCryptoBackend
    }
}

/// Something that signs on behalf of a Fabric identity: a client, a peer, an orderer.
///
/// `creator` is the marshaled `msp.SerializedIdentity` that goes into signature headers
/// and endorsements; `sign` signs SHA-256 of the message (DER, low-S).
pub trait Signer: Send + Sync {
    /// The marshaled `SerializedIdentity` of the signer.
    fn creator(&self) -> &[u8];
    /// Signs SHA-256(`message`).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backends() -> Vec<&'static dyn SignatureBackend> {
        vec![
            &RustCryptoBackend,
            #[cfg(feature = "aws-lc")]
            &AwsLcBackend,
        ]
    }

    /// The group order n of P-256, big-endian.
    const ORDER: [u8; 32] =
        hex_literal("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");

    const fn hex_literal(s: &str) -> [u8; 32] {
        let b = s.as_bytes();
        let mut out = [0u8; 32];
        let mut i = 0;
        while i < 32 {
            let hi = (b[2 * i] as char).to_digit(16).expect("hex") as u8;
            let lo = (b[2 * i + 1] as char).to_digit(16).expect("hex") as u8;
            out[i] = hi << 4 | lo;
            i += 1;
        }
        out
    }

    /// n - s, for building the high-S twin of a signature.
    fn negate_mod_order(s: &[u8; 32]) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let mut d = ORDER[i] as i16 - s[i] as i16 - borrow;
            borrow = if d < 0 { 1 } else { 0 };
            if d < 0 {
                d += 256;
            }
            out[i] = d as u8;
        }
        out
    }

    fn high_s_twin(der: &[u8]) -> Vec<u8> {
        let sig = Signature::from_der(der).unwrap();
        let (r, s) = sig.split_bytes();
        let high = negate_mod_order(&s.into());
        // from_scalars accepts high S; to_der keeps it.
        Signature::from_scalars(r, p256::FieldBytes::from(high))
            .unwrap()
            .to_der()
            .as_bytes()
            .to_vec()
    }

    #[test]
    fn sha256_known_vector() {
        assert_eq!(
            hex::encode(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha256_concat(&[b"a", b"bc"]), sha256(b"abc"));
    }

    #[test]
    fn every_backend_signs_low_s_and_verifies_the_others() {
        let key = PrivateKey::generate();
        let public = key.public_key();
        for signer in backends() {
            for _ in 0..20 {
                let sig = signer.sign(&key, b"message").unwrap();
                let parsed = Signature::from_der(&sig).unwrap();
                assert!(
                    !bool::from(parsed.s().is_high()),
                    "{} produced high-S",
                    signer.name()
                );
                for verifier in backends() {
                    verifier.verify(&public, b"message", &sig).unwrap();
                    assert_eq!(
                        verifier.verify(&public, b"other", &sig),
                        Err(CryptoError::BadSignature)
                    );
                }
            }
        }
    }

    #[test]
    fn high_s_is_rejected_by_every_backend_but_accepted_for_certificates() {
        let key = PrivateKey::generate();
        let sig = key.sign(b"m").unwrap();
        let high = high_s_twin(&sig);
        assert_ne!(high, sig);
        for b in backends() {
            assert_eq!(
                b.verify(&key.public_key(), b"m", &high),
                Err(CryptoError::HighS),
                "{}",
                b.name()
            );
        }
        key.public_key().verify_x509_signature(b"m", &high).unwrap();
        assert_eq!(normalize_low_s(&high).unwrap(), sig);
    }

    #[test]
    fn truncated_and_garbage_der_are_malformed() {
        let key = PrivateKey::generate();
        let sig = key.sign(b"m").unwrap();
        for b in backends() {
            for bad in [
                &sig[..sig.len() - 1],
                &sig[..3],
                &[][..],
                &[0x30, 0x00][..],
                b"not a signature",
            ] {
                assert_eq!(
                    b.verify(&key.public_key(), b"m", bad),
                    Err(CryptoError::MalformedSignature),
                    "{}",
                    b.name()
                );
            }
        }
    }

    #[test]
    fn another_keys_signature_does_not_verify() {
        let a = PrivateKey::generate();
        let b = PrivateKey::generate();
        let sig = a.sign(b"m").unwrap();
        assert_eq!(
            b.public_key().verify(b"m", &sig),
            Err(CryptoError::BadSignature)
        );
    }

    #[test]
    fn key_encodings_round_trip() {
        let key = PrivateKey::generate();
        let pem = key.to_pkcs8_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let back = PrivateKey::from_pem(&pem).unwrap();
        assert_eq!(back.public_key(), key.public_key());
        assert_eq!(
            PrivateKey::from_pkcs8_der(&key.to_pkcs8_der())
                .unwrap()
                .public_key(),
            key.public_key()
        );
        let public = key.public_key();
        assert_eq!(
            PublicKey::from_sec1(&public.to_sec1_uncompressed()).unwrap(),
            public
        );
        assert_eq!(
            PublicKey::from_spki_der(&public.to_spki_der()).unwrap(),
            public
        );
        assert_eq!(public.to_sec1_uncompressed().len(), 65);
        assert_eq!(public.ski(), sha256(&public.to_sec1_uncompressed()));
    }

    #[test]
    fn sec1_pem_keys_load() {
        use p256::elliptic_curve::SecretKey;
        let key = PrivateKey::generate();
        let secret = SecretKey::<p256::NistP256>::from(key.key.clone());
        let sec1 = secret.to_sec1_pem(LineEnding::LF).unwrap();
        assert_eq!(
            PrivateKey::from_pem(&sec1).unwrap().public_key(),
            key.public_key()
        );
    }

    #[test]
    fn malformed_keys_are_typed_errors() {
        assert!(matches!(
            PrivateKey::from_pem("garbage"),
            Err(CryptoError::MalformedPrivateKey(_))
        ));
        assert!(matches!(
            PrivateKey::from_pkcs8_der(&[1, 2, 3]),
            Err(CryptoError::MalformedPrivateKey(_))
        ));
        assert!(matches!(
            PublicKey::from_sec1(&[4, 1, 2]),
            Err(CryptoError::MalformedPublicKey(_))
        ));
        assert!(matches!(
            PublicKey::from_spki_der(b""),
            Err(CryptoError::MalformedPublicKey(_))
        ));
    }
}
