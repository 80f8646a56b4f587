//! Test helpers shared by the protoutil tests.

use prost::Message;
use weft_proto::msp::SerializedIdentity;

use crate::crypto::{CryptoError, PrivateKey, PublicKey, Signer};

/// A signer with a fresh key and a stand-in identity (not a real certificate: protoutil
/// never looks inside `creator`).
#[derive(Debug)]
pub(crate) struct TestSigner {
    key: PrivateKey,
    creator: Vec<u8>,
}

impl TestSigner {
    pub(crate) fn new(mspid: &str) -> Self {
        let key = PrivateKey::generate();
        let id_bytes = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            hex::encode(key.public_key().to_sec1_uncompressed())
        );
        let creator = SerializedIdentity {
            mspid: mspid.to_owned(),
            id_bytes: id_bytes.into_bytes(),
        }
        .encode_to_vec();
        Self { key, creator }
    }

    pub(crate) fn creator_bytes(&self) -> &[u8] {
        &self.creator
    }

    pub(crate) fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }
}

impl Signer for TestSigner {
    fn creator(&self) -> &[u8] {
        &self.creator
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.key.sign(message)
    }
}

/// A signer that always fails.
#[derive(Debug)]
pub(crate) struct FailingSigner;

impl Signer for FailingSigner {
    fn creator(&self) -> &[u8] {
        b"nobody"
    }

    fn sign(&self, _message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        Err(CryptoError::SigningFailed("test".into()))
    }
}
