//! X.509 identities and signing identities.

use std::fmt;
use std::sync::Arc;

use prost::Message as _;
use time::OffsetDateTime;
use weft_proto::msp::SerializedIdentity;

use super::MspError;
use super::cert::{Cert, pem_encode};
use crate::crypto::{CryptoError, PrivateKey, PublicKey, Signer};

/// A certificate-backed identity, as carried in a marshaled `msp.SerializedIdentity`.
///
/// The certificate is kept in its sanitized form (an ECDSA CA signature with high S is
/// rewritten to low S, as Fabric does), and [`Identity::id`] hashes that form. The bytes the
/// identity was decoded from are kept untouched in [`Identity::serialized`].
#[derive(Clone)]
pub struct Identity {
    mspid: String,
    serialized: Vec<u8>,
    cert: Arc<Cert>,
    id: String,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("mspid", &self.mspid)
            .field("id", &self.id)
            .field("subject", &self.cert.subject_text)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Decodes a marshaled `SerializedIdentity{mspid, id_bytes}` whose `id_bytes` is a PEM
    /// certificate. No MSP is consulted: see [`crate::msp::Msp::deserialize_identity`] for that.
    pub fn from_serialized(serialized: &[u8]) -> Result<Identity, MspError> {
        let sid = SerializedIdentity::decode(serialized)
            .map_err(|e| MspError::MalformedIdentity(format!("not a SerializedIdentity: {e}")))?;
        let cert = Cert::from_pem(&sid.id_bytes)?;
        Ok(Self::from_parts(sid.mspid, serialized.to_vec(), cert))
    }

    /// An identity for `mspid` from a PEM certificate; the serialized form embeds `cert_pem`
    /// as given.
    pub fn from_pem(mspid: &str, cert_pem: &[u8]) -> Result<Identity, MspError> {
        let cert = Cert::from_pem(cert_pem)?;
        let serialized = SerializedIdentity {
            mspid: mspid.to_owned(),
            id_bytes: cert_pem.to_vec(),
        }
        .encode_to_vec();
        Ok(Self::from_parts(mspid.to_owned(), serialized, cert))
    }

    pub(crate) fn from_parts(mspid: String, serialized: Vec<u8>, cert: Cert) -> Identity {
        let id = cert.id();
        Identity {
            mspid,
            serialized,
            cert: Arc::new(cert),
            id,
        }
    }

    pub(crate) fn cert(&self) -> &Cert {
        &self.cert
    }

    /// The MSP id the identity claims.
    pub fn mspid(&self) -> &str {
        &self.mspid
    }

    /// The exact marshaled `SerializedIdentity` this identity was decoded from.
    pub fn serialized(&self) -> &[u8] {
        &self.serialized
    }

    /// The certificate, DER (sanitized to a low-S CA signature).
    pub fn certificate_der(&self) -> &[u8] {
        &self.cert.der
    }

    /// The certificate as PEM, re-encoded from [`Identity::certificate_der`] the way Fabric
    /// serializes identities (64-column base64, trailing newline).
    pub fn certificate_pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.cert.der)
    }

    /// Fabric's identity id: hex SHA-256 of the certificate DER. Signers are de-duplicated by
    /// (mspid, id).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The certificate's subject, for messages and logs.
    pub fn subject(&self) -> &str {
        &self.cert.subject_text
    }

    /// The certificate's public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.cert.public_key
    }

    /// The OU values of the certificate subject, in order.
    pub fn organizational_units(&self) -> &[String] {
        &self.cert.ous
    }

    /// Whether the certificate has basic constraints CA=true (such certificates are never
    /// valid identities).
    pub fn is_ca(&self) -> bool {
        self.cert.is_ca
    }

    /// Start of the certificate's validity period.
    pub fn not_before(&self) -> OffsetDateTime {
        self.cert.not_before
    }

    /// End of the certificate's validity period.
    pub fn not_after(&self) -> OffsetDateTime {
        self.cert.not_after
    }

    /// Whether the certificate has expired at `now` (MSP validation does not check this).
    pub fn is_expired_at(&self, now: OffsetDateTime) -> bool {
        now > self.cert.not_after
    }

    /// Verifies a Fabric signature (DER ECDSA over SHA-256, low-S) over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), MspError> {
        self.cert
            .public_key
            .verify(message, signature)
            .map_err(MspError::BadSignature)
    }
}

/// An identity with its private key: what a peer, orderer or client signs with.
///
/// Its serialized form re-encodes the certificate as Fabric does
/// (`SerializedIdentity{mspid, PEM(cert DER)}`), so the creator bytes match a Go node's.
#[derive(Debug, Clone)]
pub struct SigningIdentity {
    identity: Identity,
    key: PrivateKey,
}

impl SigningIdentity {
    /// Pairs a PEM certificate with its private key; refuses a key that is not the
    /// certificate's ([`MspError::KeyMismatch`]).
    pub fn new(mspid: &str, cert_pem: &[u8], key: PrivateKey) -> Result<Self, MspError> {
        let cert = Cert::from_pem(cert_pem)?;
        if cert.public_key != key.public_key() {
            return Err(MspError::KeyMismatch);
        }
        let serialized = SerializedIdentity {
            mspid: mspid.to_owned(),
            id_bytes: pem_encode("CERTIFICATE", &cert.der).into_bytes(),
        }
        .encode_to_vec();
        Ok(Self {
            identity: Identity::from_parts(mspid.to_owned(), serialized, cert),
            key,
        })
    }

    /// The public identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The marshaled `SerializedIdentity` (the `creator` of headers and endorsements).
    pub fn serialized(&self) -> &[u8] {
        self.identity.serialized()
    }

    /// The private key.
    pub fn private_key(&self) -> &PrivateKey {
        &self.key
    }
}

impl Signer for SigningIdentity {
    fn creator(&self) -> &[u8] {
        self.identity.serialized()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.key.sign(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msp::test_certs::{TestCa, high_s};
    use time::Duration;

    #[test]
    fn decodes_a_serialized_identity() {
        let ca = TestCa::root("ca.org1");
        let leaf = ca.leaf("peer0", &["peer", "extra"]);
        let bytes = leaf.serialized("Org1MSP");
        let id = Identity::from_serialized(&bytes).unwrap();
        assert_eq!(id.mspid(), "Org1MSP");
        assert_eq!(id.serialized(), &bytes[..]);
        assert_eq!(id.certificate_der(), &leaf.der[..]);
        assert_eq!(id.id(), hex::encode(crate::crypto::sha256(&leaf.der)));
        assert_eq!(id.organizational_units(), ["peer", "extra"]);
        assert_eq!(id.public_key(), &leaf.key.public_key());
        assert!(!id.is_ca());
        assert!(id.subject().contains("peer0"));
        assert_eq!(
            Identity::from_pem("Org1MSP", leaf.pem.as_bytes())
                .unwrap()
                .id(),
            id.id()
        );
    }

    #[test]
    fn verify_accepts_good_and_rejects_high_s_and_wrong_signatures() {
        let ca = TestCa::root("ca.org1");
        let leaf = ca.leaf("user", &[]);
        let id = Identity::from_serialized(&leaf.serialized("Org1MSP")).unwrap();
        let sig = leaf.sign(b"msg");
        id.verify(b"msg", &sig).unwrap();
        assert_eq!(
            id.verify(b"msg", &high_s(&sig)),
            Err(MspError::BadSignature(CryptoError::HighS))
        );
        assert_eq!(
            id.verify(b"other", &sig),
            Err(MspError::BadSignature(CryptoError::BadSignature))
        );
        assert_eq!(
            id.verify(b"msg", b"junk"),
            Err(MspError::BadSignature(CryptoError::MalformedSignature))
        );
    }

    #[test]
    fn expiry_is_reported() {
        let ca = TestCa::root("ca.org1");
        let now = OffsetDateTime::now_utc();
        let leaf = ca.leaf_with("old", &[], |p| {
            p.not_before = now - Duration::days(30);
            p.not_after = now - Duration::days(1);
        });
        let id = Identity::from_serialized(&leaf.serialized("Org1MSP")).unwrap();
        assert!(id.is_expired_at(now));
        assert!(!id.is_expired_at(now - Duration::days(2)));
        assert!(id.not_before() < id.not_after());
    }

    #[test]
    fn malformed_inputs_are_typed_errors() {
        assert!(matches!(
            Identity::from_serialized(b"\xff\xff\xff"),
            Err(MspError::MalformedIdentity(_))
        ));
        let garbage_pem = SerializedIdentity {
            mspid: "Org1MSP".into(),
            id_bytes: b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"
                .to_vec(),
        }
        .encode_to_vec();
        assert!(matches!(
            Identity::from_serialized(&garbage_pem),
            Err(MspError::MalformedIdentity(_))
        ));
        let ca = TestCa::root("ca.org1");
        let leaf = ca.leaf("user", &[]);
        let truncated = SerializedIdentity {
            mspid: "Org1MSP".into(),
            id_bytes: pem_encode("CERTIFICATE", &leaf.der[..leaf.der.len() / 2]).into_bytes(),
        }
        .encode_to_vec();
        assert!(matches!(
            Identity::from_serialized(&truncated),
            Err(MspError::MalformedIdentity(_))
        ));
        let empty = SerializedIdentity::default().encode_to_vec();
        assert!(matches!(
            Identity::from_serialized(&empty),
            Err(MspError::MalformedIdentity(_))
        ));
    }

    #[test]
    fn non_p256_keys_are_unsupported() {
        let ca = TestCa::root("ca.org1");
        let leaf = ca.leaf_p384("p384");
        assert!(matches!(
            Identity::from_pem("Org1MSP", leaf.as_bytes()),
            Err(MspError::UnsupportedKey(_))
        ));
    }

    #[test]
    fn signing_identity_signs_and_refuses_foreign_keys() {
        let ca = TestCa::root("ca.org1");
        let leaf = ca.leaf("peer0", &["peer"]);
        let signer =
            SigningIdentity::new("Org1MSP", leaf.pem.as_bytes(), leaf.key.clone()).unwrap();
        let sig = Signer::sign(&signer, b"hello").unwrap();
        let id = Identity::from_serialized(signer.creator()).unwrap();
        id.verify(b"hello", &sig).unwrap();
        assert_eq!(signer.identity().id(), id.id());
        assert_eq!(signer.serialized(), signer.creator());
        let sid = SerializedIdentity::decode(signer.creator()).unwrap();
        assert_eq!(
            sid.id_bytes,
            pem_encode("CERTIFICATE", &leaf.der).into_bytes()
        );
        assert_eq!(
            SigningIdentity::new("Org1MSP", leaf.pem.as_bytes(), PrivateKey::generate()).err(),
            Some(MspError::KeyMismatch)
        );
    }
}
