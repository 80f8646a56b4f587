//! Fabric X.509 MSPs: identities, chain validation, NodeOUs, CRLs, principals, MSP directories.
//!
//! - [`Identity`]: a certificate-backed signer identity decoded from a `SerializedIdentity`.
//! - [`SigningIdentity`]: an identity plus its private key; implements [`crate::crypto::Signer`].
//! - [`Msp`]: one organization's verifying MSP built from a `FabricMSPConfig`
//!   (Fabric's MSP version 1.4.3 rules, the ones V2_x channel capabilities select).
//! - [`MspManager`]: the MSPs of a channel, with caches for deserialized identities and
//!   validation results.
//! - [`Principal`]: a decoded `MSPPrincipal`, checked with [`Msp::satisfies`].
//! - [`MspDir`]: loads an MSP directory in Fabric's layout (`cacerts/`, `keystore/`, `config.yaml`…).
//!
//! Validation follows Fabric: the chain is checked at the certificate's NotBefore + 1 s, so an
//! expired certificate still validates; callers that must refuse expired identities (orderer
//! Broadcast/Deliver, the gateway) check [`Identity::is_expired_at`] themselves.

mod cache;
mod cert;
mod dir;
mod identity;
mod manager;
#[allow(clippy::module_inception)]
mod msp;
mod principal;
#[cfg(test)]
pub(crate) mod test_certs;

use std::path::PathBuf;

pub use dir::MspDir;
pub use identity::{Identity, SigningIdentity};
pub use manager::MspManager;
pub use msp::Msp;
pub use principal::{Anonymity, Principal, Role};

use crate::crypto::CryptoError;

/// Why an identity, a principal check or an MSP configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MspError {
    /// The bytes are not a `SerializedIdentity` holding a PEM X.509 certificate.
    #[error("malformed identity: {0}")]
    MalformedIdentity(String),
    /// The certificate's key is not an ECDSA P-256 key (the only kind supported).
    #[error("unsupported public key: {0}")]
    UnsupportedKey(String),
    /// No MSP with this id is configured.
    #[error("MSP {mspid:?} is unknown")]
    UnknownMsp {
        /// The MSP id the identity or principal named.
        mspid: String,
    },
    /// The identity or principal belongs to another MSP than the one asked.
    #[error("identity belongs to MSP {actual:?}, expected MSP {expected:?}")]
    MspMismatch {
        /// The MSP doing the check.
        expected: String,
        /// The MSP named by the identity or principal.
        actual: String,
    },
    /// No unique chain of valid signatures leads from the certificate to a root of the MSP.
    #[error("certificate is not trusted by MSP {mspid:?}: {reason}")]
    UntrustedChain {
        /// The MSP doing the check.
        mspid: String,
        /// What went wrong while building the chain.
        reason: String,
    },
    /// A CA certificate (basic constraints CA=true) cannot be used as an identity.
    #[error("a certificate with basic constraints CA=true cannot be used as an identity")]
    IsCa,
    /// The certificate's serial number is listed in a CRL of its issuer.
    #[error("certificate with serial number {serial} has been revoked")]
    Revoked {
        /// The revoked serial number, hex.
        serial: String,
    },
    /// The NodeOU rules refuse the identity.
    #[error("NodeOU check failed: {0}")]
    NodeOu(#[from] NodeOuError),
    /// The MSP lists `OrganizationalUnitIdentifiers` and the identity carries none of them.
    #[error("organizational unit check failed: {0}")]
    OrganizationalUnit(String),
    /// The identity is neither in the admin certificates nor an admin by NodeOU.
    #[error("identity is not an admin of MSP {mspid:?}")]
    NotAdmin {
        /// The MSP doing the check.
        mspid: String,
    },
    /// An IDENTITY principal names another certificate.
    #[error("identity does not match the principal's certificate")]
    IdentityMismatch,
    /// An ORGANIZATION_UNIT principal's OU (with its certifiers identifier) is not carried.
    #[error("identity does not carry organizational unit {ou:?} from the expected CA")]
    OuMismatch {
        /// The OU the principal asks for.
        ou: String,
    },
    /// An ANONYMITY principal asks for anonymous identities; X.509 identities never are.
    #[error("principal requires an anonymous identity; X.509 identities are not anonymous")]
    AnonymityNotSupported,
    /// The `MSPPrincipal` could not be decoded or is of an unknown kind.
    #[error("invalid principal: {0}")]
    InvalidPrincipal(String),
    /// The signature does not verify (malformed, high-S or wrong).
    #[error("signature verification failed: {0}")]
    BadSignature(CryptoError),
    /// A private key does not belong to the certificate it was paired with.
    #[error("private key does not match the certificate's public key")]
    KeyMismatch,
    /// A file or directory of an MSP directory could not be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The I/O error kind.
        kind: std::io::ErrorKind,
        /// The I/O error message.
        message: String,
    },
    /// The MSP configuration (or `config.yaml`) is invalid.
    #[error("invalid MSP configuration: {0}")]
    Config(String),
}

impl MspError {
    pub(crate) fn io(path: impl Into<PathBuf>, err: &std::io::Error) -> Self {
        MspError::Io {
            path: path.into(),
            kind: err.kind(),
            message: err.to_string(),
        }
    }
}

/// Why the NodeOU rules (MSP `config.yaml` `NodeOUs`) refuse an identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeOuError {
    /// None of the identity's OUs is the client, peer, admin or orderer OU.
    #[error("identity has no OU that resolves to client, peer, admin or orderer (OUs: {ous:?})")]
    NoNodeOu {
        /// The identity's OUs.
        ous: Vec<String>,
    },
    /// The identity carries more than one of the client, peer, admin and orderer OUs.
    #[error(
        "identity must carry exactly one of the client, peer, admin or orderer OUs (OUs: {ous:?})"
    )]
    MultipleNodeOus {
        /// The identity's OUs.
        ous: Vec<String>,
    },
    /// The NodeOU names a CA certificate and the identity was not issued by it.
    #[error("OU {ou:?} is certified by another CA than the one configured for it")]
    CertifierMismatch {
        /// The node OU whose certifier differs.
        ou: String,
    },
    /// A client/peer/orderer role was asked of an MSP without NodeOUs.
    #[error("NodeOUs are not enabled in MSP {mspid:?}; identities cannot be told apart by role")]
    NotEnabled {
        /// The MSP doing the check.
        mspid: String,
    },
    /// The MSP's NodeOUs do not define an OU for this role.
    #[error("MSP {mspid:?} defines no NodeOU for role {role}")]
    RoleNotDefined {
        /// The MSP doing the check.
        mspid: String,
        /// The role asked for.
        role: Role,
    },
    /// The identity does not carry the OU of the role asked for.
    #[error("identity does not carry the {role} OU of MSP {mspid:?}")]
    MissingRole {
        /// The MSP doing the check.
        mspid: String,
        /// The role asked for.
        role: Role,
    },
}
