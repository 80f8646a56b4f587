//! One organization's verifying MSP (Fabric's X.509 `bccspmsp`, MSP version 1.4.3 rules).

use std::collections::HashSet;
use std::fmt;

use prost::Message as _;
use weft_proto::msp::{FabricMspConfig, FabricOuIdentifier, MspConfig};

use super::cache::BoundedCache;
use super::cert::{Cert, Crl, unique_chain};
use super::{Anonymity, Identity, MspError, NodeOuError, Principal, Role};
use crate::crypto::{self, SHA256_LEN};

/// How many validation results an MSP remembers before starting over.
const VALIDATION_CACHE_SIZE: usize = 10_000;

/// `MSPConfig.type` of an X.509 (FABRIC) MSP.
const FABRIC_MSP_TYPE: i32 = 0;

/// The SHA-256 certifiers identifier of an issuing chain.
type CertifiersId = [u8; SHA256_LEN];

/// A node OU: its value and, when the config names a CA certificate, the certifiers
/// identifier of that CA.
#[derive(Debug, Clone)]
struct NodeOu {
    ou: String,
    certifiers: Option<CertifiersId>,
}

/// The NodeOU classification of an MSP.
#[derive(Debug, Clone, Default)]
struct NodeOus {
    enforced: bool,
    client: Option<NodeOu>,
    peer: Option<NodeOu>,
    admin: Option<NodeOu>,
    orderer: Option<NodeOu>,
}

impl NodeOus {
    fn for_role(&self, role: Role) -> Option<&NodeOu> {
        match role {
            Role::Client => self.client.as_ref(),
            Role::Peer => self.peer.as_ref(),
            Role::Admin => self.admin.as_ref(),
            Role::Orderer => self.orderer.as_ref(),
            Role::Member => None,
        }
    }
}

/// One organization's verifying MSP: trusted CAs, admins, CRLs and OU rules.
///
/// Build it from the `FabricMSPConfig` of a channel config (or an MSP directory), then
/// [`deserialize_identity`](Msp::deserialize_identity), [`validate`](Msp::validate) and check
/// principals with [`satisfies`](Msp::satisfies). Validation results are cached per identity.
pub struct Msp {
    name: String,
    roots: Vec<Cert>,
    intermediates: Vec<Cert>,
    /// DER of every CA that issued one of the intermediates: identities may not be issued
    /// directly by such a CA.
    internal_nodes: HashSet<Vec<u8>>,
    admins: Vec<Vec<u8>>,
    crls: Vec<Crl>,
    ou_identifiers: Vec<(String, CertifiersId)>,
    node_ous: NodeOus,
    tls_root_certs: Vec<Vec<u8>>,
    tls_intermediate_certs: Vec<Vec<u8>>,
    validations: BoundedCache<String, Result<CertifiersId, MspError>>,
}

impl fmt::Debug for Msp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Msp")
            .field("name", &self.name)
            .field("roots", &self.roots.len())
            .field("intermediates", &self.intermediates.len())
            .field("admins", &self.admins.len())
            .field("crls", &self.crls.len())
            .field("node_ous", &self.node_ous.enforced)
            .finish_non_exhaustive()
    }
}

/// A configuration error about `what`, caused by `err` (without repeating the
/// "invalid MSP configuration" prefix of a nested configuration error).
fn config_err(what: impl fmt::Display, err: impl fmt::Display) -> MspError {
    let err = err.to_string();
    let err = err
        .strip_prefix("invalid MSP configuration: ")
        .unwrap_or(&err);
    MspError::Config(format!("{what}: {err}"))
}

/// Parses CA certificates, dropping exact duplicates (as Go's certificate pools do).
fn parse_ca_list(certs: &[Vec<u8>], what: &str) -> Result<Vec<Cert>, MspError> {
    let mut parsed: Vec<Cert> = Vec::with_capacity(certs.len());
    for (i, pem) in certs.iter().enumerate() {
        let cert = Cert::from_pem(pem).map_err(|e| config_err(format_args!("{what} {i}"), e))?;
        if !parsed.iter().any(|c| c.der == cert.der) {
            parsed.push(cert);
        }
    }
    Ok(parsed)
}

impl Msp {
    /// Builds the MSP from a `FabricMSPConfig`, checking it as Fabric's setup does: at least
    /// one root, every CA is a CA with a subject key identifier and chains uniquely to a root,
    /// no intermediate is revoked, OU certificates are CAs of this MSP, and admins exist
    /// (admincerts, or an admin NodeOU).
    pub fn new(config: &FabricMspConfig) -> Result<Msp, MspError> {
        if config.name.is_empty() {
            return Err(MspError::Config("MSP name is empty".into()));
        }
        if let Some(crypto) = &config.crypto_config {
            let family = crypto.signature_hash_family.as_str();
            if !family.is_empty() && family != "SHA2" {
                return Err(MspError::Config(format!(
                    "signature hash family {family:?} is not supported (only SHA2)"
                )));
            }
            let hash = crypto.identity_identifier_hash_function.as_str();
            if !hash.is_empty() && hash != "SHA256" {
                return Err(MspError::Config(format!(
                    "identity identifier hash function {hash:?} is not supported (only SHA256)"
                )));
            }
        }
        if config.root_certs.is_empty() {
            return Err(MspError::Config(format!(
                "MSP {}: expected at least one CA certificate",
                config.name
            )));
        }

        let mut msp = Msp {
            name: config.name.clone(),
            roots: parse_ca_list(&config.root_certs, "root certificate")?,
            intermediates: parse_ca_list(&config.intermediate_certs, "intermediate certificate")?,
            internal_nodes: HashSet::new(),
            admins: Vec::new(),
            crls: config
                .revocation_list
                .iter()
                .enumerate()
                .map(|(i, crl)| {
                    Crl::parse(crl).map_err(|e| config_err(format_args!("revocation list {i}"), e))
                })
                .collect::<Result<_, _>>()?,
            ou_identifiers: Vec::new(),
            node_ous: NodeOus::default(),
            tls_root_certs: config.tls_root_certs.clone(),
            tls_intermediate_certs: config.tls_intermediate_certs.clone(),
            validations: BoundedCache::new(VALIDATION_CACHE_SIZE),
        };
        msp.check_cas()?;
        msp.check_tls_cas()?;
        for ou in &config.organizational_unit_identifiers {
            let certifiers = msp.certifiers_of_ca(&ou.certificate).map_err(|e| {
                config_err(
                    format_args!("OU identifier {:?}", ou.organizational_unit_identifier),
                    e,
                )
            })?;
            let entry = (ou.organizational_unit_identifier.clone(), certifiers);
            if !msp.ou_identifiers.contains(&entry) {
                msp.ou_identifiers.push(entry);
            }
        }
        msp.setup_node_ous(config)?;
        msp.setup_admins(config)?;
        Ok(msp)
    }

    /// Builds the MSP from an `MSPConfig`; only type 0 (FABRIC, X.509) is supported.
    pub fn from_msp_config(config: &MspConfig) -> Result<Msp, MspError> {
        if config.r#type != FABRIC_MSP_TYPE {
            return Err(MspError::Config(format!(
                "MSP type {} is not supported (only 0, FABRIC)",
                config.r#type
            )));
        }
        let fabric = FabricMspConfig::decode(config.config.as_slice())
            .map_err(|e| config_err("cannot decode FabricMSPConfig", e))?;
        Msp::new(&fabric)
    }

    fn check_cas(&mut self) -> Result<(), MspError> {
        for (what, cert) in self
            .roots
            .iter()
            .map(|c| ("root", c))
            .chain(self.intermediates.iter().map(|c| ("intermediate", c)))
        {
            let sn = cert.serial.to_str_radix(16);
            if !cert.is_ca {
                return Err(MspError::Config(format!(
                    "{what} certificate (SN {sn}) is not a CA certificate"
                )));
            }
            if cert.ski.is_none() {
                return Err(MspError::Config(format!(
                    "{what} certificate (SN {sn}) has no subject key identifier"
                )));
            }
            // Fabric cannot sanitize a root that is not self-signed, and refuses it.
            if what == "root" && !cert.is_self_signed_ca() {
                return Err(MspError::Config(format!(
                    "root certificate (SN {sn}) is not self-signed"
                )));
            }
            let chain = unique_chain(cert, &self.roots, &self.intermediates).map_err(|e| {
                MspError::Config(format!("{what} certificate (SN {sn}) is not valid: {e}"))
            })?;
            if chain.len() > 1 {
                self.check_revocation(cert, chain[1]).map_err(|e| {
                    MspError::Config(format!("{what} certificate (SN {sn}) is not valid: {e}"))
                })?;
            }
        }
        let mut internal = HashSet::new();
        for cert in &self.intermediates {
            let chain = unique_chain(cert, &self.roots, &self.intermediates)
                .map_err(|e| config_err("intermediate certificate", e))?;
            internal.extend(chain.iter().skip(1).map(|c| c.der.clone()));
        }
        self.internal_nodes = internal;
        Ok(())
    }

    fn check_tls_cas(&self) -> Result<(), MspError> {
        let roots = parse_ca_list(&self.tls_root_certs, "TLS root certificate")?;
        let intermediates =
            parse_ca_list(&self.tls_intermediate_certs, "TLS intermediate certificate")?;
        for cert in roots.iter().chain(&intermediates) {
            let sn = cert.serial.to_str_radix(16);
            if !cert.is_ca {
                return Err(MspError::Config(format!(
                    "TLS CA certificate (SN {sn}) is not a CA certificate"
                )));
            }
            if cert.ski.is_none() {
                return Err(MspError::Config(format!(
                    "TLS CA certificate (SN {sn}) has no subject key identifier"
                )));
            }
            let chain = unique_chain(cert, &roots, &intermediates).map_err(|e| {
                MspError::Config(format!("TLS CA certificate (SN {sn}) is not valid: {e}"))
            })?;
            if chain.len() > 1 {
                self.check_revocation(cert, chain[1]).map_err(|e| {
                    MspError::Config(format!("TLS CA certificate (SN {sn}) is not valid: {e}"))
                })?;
            }
        }
        Ok(())
    }

    /// The certifiers identifier of a CA certificate of this MSP given as PEM: SHA-256 over
    /// the DER of the chain from that CA up to its root.
    fn certifiers_of_ca(&self, pem: &[u8]) -> Result<CertifiersId, MspError> {
        let cert = Cert::from_pem(pem)?;
        if self.roots.iter().any(|r| r.der == cert.der) {
            return Ok(crypto::sha256(&cert.der));
        }
        if !self.intermediates.iter().any(|r| r.der == cert.der) {
            return Err(MspError::Config(
                "certificate is not among the MSP's root or intermediate certificates".into(),
            ));
        }
        let chain = unique_chain(&cert, &self.roots, &self.intermediates)
            .map_err(|e| config_err("cannot build the certificate's chain", e))?;
        if self.internal_nodes.contains(&cert.der) {
            return Err(MspError::Config(
                "certificate is an internal node of the certification tree".into(),
            ));
        }
        let parts: Vec<&[u8]> = chain.iter().map(|c| c.der.as_slice()).collect();
        Ok(crypto::sha256_concat(&parts))
    }

    fn setup_node_ous(&mut self, config: &FabricMspConfig) -> Result<(), MspError> {
        let Some(node_ous) = &config.fabric_node_ous else {
            return Ok(());
        };
        let convert =
            |id: &Option<FabricOuIdentifier>, what: &str| -> Result<Option<NodeOu>, MspError> {
                let Some(id) = id else { return Ok(None) };
                let certifiers = if id.certificate.is_empty() {
                    None
                } else {
                    Some(
                        self.certifiers_of_ca(&id.certificate)
                            .map_err(|e| config_err(format_args!("{what} OU certificate"), e))?,
                    )
                };
                Ok(Some(NodeOu {
                    ou: id.organizational_unit_identifier.clone(),
                    certifiers,
                }))
            };
        let mut classification = NodeOus {
            enforced: node_ous.enable,
            client: convert(&node_ous.client_ou_identifier, "client")?,
            peer: convert(&node_ous.peer_ou_identifier, "peer")?,
            admin: convert(&node_ous.admin_ou_identifier, "admin")?,
            orderer: convert(&node_ous.orderer_ou_identifier, "orderer")?,
        };
        if classification.client.is_none()
            && classification.peer.is_none()
            && classification.admin.is_none()
            && classification.orderer.is_none()
        {
            classification.enforced = false;
        }
        self.node_ous = classification;
        Ok(())
    }

    fn setup_admins(&mut self, config: &FabricMspConfig) -> Result<(), MspError> {
        let mut admins = Vec::new();
        for (i, pem) in config.admins.iter().enumerate() {
            let cert = Cert::from_pem(pem)
                .map_err(|e| config_err(format_args!("admin certificate {i}"), e))?;
            self.check_trusted(&cert)
                .map_err(|e| config_err(format_args!("admin certificate {i}"), e))?;
            admins.push(cert);
        }
        if admins.is_empty() && (!self.node_ous.enforced || self.node_ous.admin.is_none()) {
            return Err(MspError::Config(format!(
                "MSP {}: administrators must be declared when no admin OU classification is set",
                self.name
            )));
        }
        for (i, admin) in admins.iter().enumerate() {
            if self.node_ous.enforced {
                let client = self.has_node_ou(admin, Role::Client);
                let admin_ou = self.has_node_ou(admin, Role::Admin);
                if let (Err(e1), Err(e2)) = (client, admin_ou) {
                    return Err(MspError::Config(format!(
                        "admin {i} is invalid: {e1}; {e2}"
                    )));
                }
            } else {
                self.validate_cert(admin)
                    .map_err(|e| config_err(format_args!("admin {i} is invalid"), e))?;
            }
        }
        self.admins = admins.into_iter().map(|c| c.der).collect();
        Ok(())
    }

    /// The MSP id.
    pub fn id(&self) -> &str {
        &self.name
    }

    /// Whether NodeOU classification is in force.
    pub fn node_ous_enabled(&self) -> bool {
        self.node_ous.enforced
    }

    /// TLS root CA certificates (PEM, as configured).
    pub fn tls_root_certs(&self) -> &[Vec<u8>] {
        &self.tls_root_certs
    }

    /// TLS intermediate CA certificates (PEM, as configured).
    pub fn tls_intermediate_certs(&self) -> &[Vec<u8>] {
        &self.tls_intermediate_certs
    }

    /// Decodes a marshaled `SerializedIdentity` of this MSP. As in Fabric, the certificate
    /// must chain to this MSP's CAs (checked at NotBefore + 1 s; a self-signed CA certificate
    /// is let through so that [`Msp::validate`] can refuse it); full validation is
    /// [`Msp::validate`].
    pub fn deserialize_identity(&self, serialized: &[u8]) -> Result<Identity, MspError> {
        let identity = Identity::from_serialized(serialized)?;
        if identity.mspid() != self.name {
            return Err(MspError::MspMismatch {
                expected: self.name.clone(),
                actual: identity.mspid().to_owned(),
            });
        }
        self.check_trusted(identity.cert())?;
        Ok(identity)
    }

    fn check_trusted(&self, cert: &Cert) -> Result<(), MspError> {
        if cert.is_self_signed_ca() {
            return Ok(());
        }
        unique_chain(cert, &self.roots, &self.intermediates)
            .map(|_| ())
            .map_err(|reason| self.untrusted(reason))
    }

    fn untrusted(&self, reason: impl Into<String>) -> MspError {
        MspError::UntrustedChain {
            mspid: self.name.clone(),
            reason: reason.into(),
        }
    }

    /// Validates an identity of this MSP: not a CA, a unique chain to a root (signatures
    /// checked at the certificate's NotBefore + 1 s, so expiry is not checked), not issued
    /// directly by a CA that issued an intermediate, not revoked by its issuer's CRL, then the
    /// OU rules (legacy OU identifiers, NodeOUs). Results are cached per identity.
    pub fn validate(&self, identity: &Identity) -> Result<(), MspError> {
        self.validated(identity).map(|_| ())
    }

    /// [`Msp::validate`] returning the certifiers identifier of the identity's chain.
    fn validated(&self, identity: &Identity) -> Result<CertifiersId, MspError> {
        if identity.mspid() != self.name {
            return Err(MspError::MspMismatch {
                expected: self.name.clone(),
                actual: identity.mspid().to_owned(),
            });
        }
        if let Some(result) = self.validations.get(identity.id()) {
            return result;
        }
        let result = self.validate_cert(identity.cert());
        self.validations
            .insert(identity.id().to_owned(), result.clone());
        result
    }

    fn validate_cert(&self, cert: &Cert) -> Result<CertifiersId, MspError> {
        if cert.is_ca {
            return Err(MspError::IsCa);
        }
        let chain = unique_chain(cert, &self.roots, &self.intermediates)
            .map_err(|reason| self.untrusted(reason))?;
        let Some(issuer) = chain.get(1) else {
            return Err(self.untrusted("expected a chain of length at least 2"));
        };
        if self.internal_nodes.contains(&issuer.der) {
            return Err(self.untrusted(
                "issued by a CA that also issued an intermediate CA; only leaf CAs may issue identities",
            ));
        }
        self.check_revocation(cert, issuer)?;
        let parts: Vec<&[u8]> = chain[1..].iter().map(|c| c.der.as_slice()).collect();
        let certifiers = crypto::sha256_concat(&parts);
        self.check_ous(cert, &certifiers)?;
        Ok(certifiers)
    }

    /// Refuses `cert` if a CRL of `issuer` (matched by key identifier, signature checked)
    /// lists its serial number.
    fn check_revocation(&self, cert: &Cert, issuer: &Cert) -> Result<(), MspError> {
        let Some(ski) = &issuer.ski else {
            return Err(self.untrusted("issuer certificate has no subject key identifier"));
        };
        for (i, crl) in self.crls.iter().enumerate() {
            let Some(aki) = &crl.authority_key_id else {
                return Err(MspError::Config(format!(
                    "revocation list {i} has no authority key identifier"
                )));
            };
            if aki == ski && crl.lists(&cert.serial) && crl.signed_by(issuer) {
                return Err(MspError::Revoked {
                    serial: cert.serial.to_str_radix(16),
                });
            }
        }
        Ok(())
    }

    fn check_ous(&self, cert: &Cert, certifiers: &CertifiersId) -> Result<(), MspError> {
        if !self.ou_identifiers.is_empty() {
            let found = cert.ous.iter().any(|ou| {
                self.ou_identifiers
                    .iter()
                    .any(|(o, c)| o == ou && c == certifiers)
            });
            if !found {
                return Err(MspError::OrganizationalUnit(if cert.ous.is_empty() {
                    "the certificate has no organizational unit".into()
                } else {
                    format!(
                        "none of the OUs {:?} is accepted by MSP {}",
                        cert.ous, self.name
                    )
                }));
            }
        }
        if !self.node_ous.enforced {
            return Ok(());
        }
        // Later entries win when two roles share an OU value, as in Fabric's map.
        let node_ous: Vec<&NodeOu> = [
            &self.node_ous.client,
            &self.node_ous.peer,
            &self.node_ous.admin,
            &self.node_ous.orderer,
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut count = 0;
        for ou in &cert.ous {
            let Some(node_ou) = node_ous.iter().rev().find(|n| &n.ou == ou) else {
                continue;
            };
            if node_ou.certifiers.is_some_and(|c| &c != certifiers) {
                return Err(NodeOuError::CertifierMismatch { ou: ou.clone() }.into());
            }
            count += 1;
            if count > 1 {
                break;
            }
        }
        match count {
            0 => Err(NodeOuError::NoNodeOu {
                ous: cert.ous.clone(),
            }
            .into()),
            1 => Ok(()),
            _ => Err(NodeOuError::MultipleNodeOus {
                ous: cert.ous.clone(),
            }
            .into()),
        }
    }

    /// Whether the certificate carries the OU of `role` (by value only, as Fabric checks).
    fn has_node_ou(&self, cert: &Cert, role: Role) -> Result<(), MspError> {
        if !self.node_ous.enforced {
            return Err(NodeOuError::NotEnabled {
                mspid: self.name.clone(),
            }
            .into());
        }
        let Some(node_ou) = self.node_ous.for_role(role) else {
            return Err(NodeOuError::RoleNotDefined {
                mspid: self.name.clone(),
                role,
            }
            .into());
        };
        if cert.ous.iter().any(|ou| ou == &node_ou.ou) {
            Ok(())
        } else {
            Err(NodeOuError::MissingRole {
                mspid: self.name.clone(),
                role,
            }
            .into())
        }
    }

    fn is_in_admins(&self, identity: &Identity) -> bool {
        self.admins.iter().any(|a| a == identity.certificate_der())
    }

    /// Whether the identity is an admin of this MSP: listed in the admin certificates
    /// (compared after low-S sanitizing), or valid and carrying the admin OU with NodeOUs.
    pub fn is_admin(&self, identity: &Identity) -> bool {
        self.satisfies(identity, &Principal::role(&self.name, Role::Admin))
            .is_ok()
    }

    /// Decodes `principal` and checks it with [`Msp::satisfies`].
    pub fn satisfies_principal(
        &self,
        identity: &Identity,
        principal: &weft_proto::common::MspPrincipal,
    ) -> Result<(), MspError> {
        self.satisfies(identity, &Principal::decode(principal)?)
    }

    /// Whether an identity of this MSP satisfies `principal` (Fabric's rules):
    /// - ROLE member: valid; admin: in admincerts, or (NodeOUs) valid with the admin OU;
    ///   client/peer/orderer: valid with that NodeOU (an error without NodeOUs);
    /// - IDENTITY: same certificate and valid; ORGANIZATION_UNIT: valid and carries the OU
    ///   issued by the named chain; ANONYMITY: nominal only; COMBINED: all of them.
    pub fn satisfies(&self, identity: &Identity, principal: &Principal) -> Result<(), MspError> {
        match principal {
            Principal::Combined(principals) => {
                if principals.is_empty() {
                    return Err(MspError::InvalidPrincipal(
                        "combined principal has no principals".into(),
                    ));
                }
                principals
                    .iter()
                    .try_for_each(|p| self.satisfies(identity, p))
            }
            Principal::Anonymity(Anonymity::Nominal) => Ok(()),
            Principal::Anonymity(Anonymity::Anonymous) => Err(MspError::AnonymityNotSupported),
            Principal::Role { mspid, role } => {
                self.check_same_msp(mspid)?;
                match role {
                    Role::Member => self.validate(identity),
                    Role::Admin => {
                        if self.is_in_admins(identity) {
                            return Ok(());
                        }
                        if !self.node_ous.enforced {
                            return Err(MspError::NotAdmin {
                                mspid: self.name.clone(),
                            });
                        }
                        self.validate(identity)?;
                        self.has_node_ou(identity.cert(), Role::Admin)
                    }
                    Role::Client | Role::Peer | Role::Orderer => {
                        self.validate(identity)?;
                        self.has_node_ou(identity.cert(), *role)
                    }
                }
            }
            Principal::Identity {
                mspid,
                certificate_der,
            } => {
                self.check_same_msp(mspid)?;
                if identity.certificate_der() != certificate_der.as_slice() {
                    return Err(MspError::IdentityMismatch);
                }
                self.validate(identity)
            }
            Principal::OrganizationUnit {
                mspid,
                ou,
                certifiers_identifier,
            } => {
                self.check_same_msp(mspid)?;
                let certifiers = self.validated(identity)?;
                if identity.organizational_units().contains(ou)
                    && certifiers.as_slice() == certifiers_identifier.as_slice()
                {
                    Ok(())
                } else {
                    Err(MspError::OuMismatch { ou: ou.clone() })
                }
            }
        }
    }

    fn check_same_msp(&self, mspid: &str) -> Result<(), MspError> {
        if mspid == self.name {
            Ok(())
        } else {
            Err(MspError::MspMismatch {
                expected: self.name.clone(),
                actual: mspid.to_owned(),
            })
        }
    }

    /// The certifiers identifier Fabric computes for identities issued by the given CA
    /// certificate (PEM) of this MSP, for building ORGANIZATION_UNIT principals.
    pub fn certifiers_identifier(&self, ca_pem: &[u8]) -> Result<Vec<u8>, MspError> {
        self.certifiers_of_ca(ca_pem).map(|c| c.to_vec())
    }

    /// Number of cached validation results (for tests and metrics).
    #[cfg(test)]
    pub(crate) fn cached_validations(&self) -> usize {
        self.validations.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msp::NodeOuError;
    use crate::msp::test_certs::{TestCa, fabric_config, node_ous, with_high_s_signature};
    use time::{Duration, OffsetDateTime};
    use weft_proto::common::{MspPrincipal, OrganizationUnit, msp_principal::Classification};

    const MSPID: &str = "Org1MSP";

    fn org() -> (TestCa, Msp) {
        let ca = TestCa::root("ca.org1.example.com");
        let mut config = fabric_config(MSPID, &[&ca], &[]);
        config.fabric_node_ous = Some(node_ous(Some(&ca.pem)));
        let msp = Msp::new(&config).unwrap();
        (ca, msp)
    }

    fn identity(msp: &Msp, cert: &crate::msp::test_certs::TestCert) -> Identity {
        msp.deserialize_identity(&cert.serialized(MSPID)).unwrap()
    }

    #[test]
    fn valid_identity_validates_and_result_is_cached() {
        let (ca, msp) = org();
        let id = identity(&msp, &ca.leaf("peer0", &["peer"]));
        assert_eq!(msp.validate(&id), Ok(()));
        assert_eq!(msp.cached_validations(), 1);
        assert_eq!(msp.validate(&id), Ok(()));
        assert_eq!(msp.cached_validations(), 1);
    }

    #[test]
    fn duplicate_ca_certificates_count_once() {
        let ca = TestCa::root("ca.org1");
        let mut config = fabric_config(MSPID, &[&ca, &ca], &[]);
        config.fabric_node_ous = Some(node_ous(Some(&ca.pem)));
        let msp = Msp::new(&config).unwrap();
        let id = identity(&msp, &ca.leaf("peer0", &["peer"]));
        assert_eq!(msp.validate(&id), Ok(()));
    }

    #[test]
    fn certificate_from_another_ca_is_untrusted() {
        let (_ca, msp) = org();
        let other = TestCa::root("ca.org1.example.com"); // same name, other key
        let cert = other.leaf("peer0", &["peer"]);
        assert!(matches!(
            msp.deserialize_identity(&cert.serialized(MSPID)),
            Err(MspError::UntrustedChain { .. })
        ));
        let standalone = Identity::from_serialized(&cert.serialized(MSPID)).unwrap();
        assert!(matches!(
            msp.validate(&standalone),
            Err(MspError::UntrustedChain { .. })
        ));
    }

    #[test]
    fn mspid_must_match() {
        let (ca, msp) = org();
        let cert = ca.leaf("peer0", &["peer"]);
        assert_eq!(
            msp.deserialize_identity(&cert.serialized("Org2MSP")).err(),
            Some(MspError::MspMismatch {
                expected: MSPID.into(),
                actual: "Org2MSP".into()
            })
        );
        assert!(matches!(
            msp.deserialize_identity(b"\x0a\xff"),
            Err(MspError::MalformedIdentity(_))
        ));
    }

    #[test]
    fn intermediate_issued_cert_validates_through_intermediatecerts() {
        let root = TestCa::root("ca.org1");
        let inter = root.intermediate("ica.org1");
        let leaf = inter.leaf("user1", &["client"]);
        let mut config = fabric_config(MSPID, &[&root], &[&inter]);
        config.fabric_node_ous = Some(node_ous(Some(&inter.pem)));
        let msp = Msp::new(&config).unwrap();
        let id = identity(&msp, &leaf);
        assert_eq!(msp.validate(&id), Ok(()));

        // Without the intermediate, the chain cannot be built.
        let mut config = fabric_config(MSPID, &[&root], &[]);
        config.fabric_node_ous = Some(node_ous(None));
        let msp = Msp::new(&config).unwrap();
        assert!(matches!(
            msp.deserialize_identity(&leaf.serialized(MSPID)),
            Err(MspError::UntrustedChain { .. })
        ));
    }

    #[test]
    fn root_that_issued_an_intermediate_may_not_issue_identities() {
        let root = TestCa::root("ca.org1");
        let inter = root.intermediate("ica.org1");
        let mut config = fabric_config(MSPID, &[&root], &[&inter]);
        config.fabric_node_ous = Some(node_ous(None));
        let msp = Msp::new(&config).unwrap();
        let direct = identity(&msp, &root.leaf("user", &["client"]));
        assert!(matches!(
            msp.validate(&direct),
            Err(MspError::UntrustedChain { .. })
        ));
    }

    #[test]
    fn expired_certificate_validates_but_reports_expiry() {
        let now = OffsetDateTime::now_utc();
        let (ca, msp) = org();
        let leaf = ca.leaf_with("old", &["client"], |p| {
            p.not_before = now - Duration::days(400);
            p.not_after = now - Duration::days(35);
        });
        let id = identity(&msp, &leaf);
        assert_eq!(msp.validate(&id), Ok(()));
        assert!(id.is_expired_at(now));
    }

    #[test]
    fn certificate_issued_outside_the_ca_validity_is_refused() {
        let now = OffsetDateTime::now_utc();
        let (ca, msp) = org();
        // Test CAs start five years ago (see TestCa::root); this leaf claims to be older.
        let leaf = ca.leaf_with("backdated", &["client"], |p| {
            p.not_before = now - Duration::days(10 * 366);
        });
        let id = Identity::from_serialized(&leaf.serialized(MSPID)).unwrap();
        assert!(matches!(
            msp.validate(&id),
            Err(MspError::UntrustedChain { .. })
        ));
    }

    #[test]
    fn ca_certificate_is_not_an_identity() {
        let (ca, msp) = org();
        let id = msp
            .deserialize_identity(&ca.serialized(MSPID))
            .expect("a self-signed CA deserializes");
        assert_eq!(id.certificate_der(), &ca.der[..]);
        assert_eq!(msp.validate(&id), Err(MspError::IsCa));
    }

    #[test]
    fn revoked_certificate_is_refused() {
        let ca = TestCa::root("ca.org1");
        let good = ca.leaf("good", &["client"]);
        let bad = ca.leaf("bad", &["client"]);
        let mut config = fabric_config(MSPID, &[&ca], &[]);
        config.fabric_node_ous = Some(node_ous(None));
        config.revocation_list = vec![ca.crl(&[&bad]).into_bytes()];
        let msp = Msp::new(&config).unwrap();
        assert_eq!(msp.validate(&identity(&msp, &good)), Ok(()));
        assert!(matches!(
            msp.validate(&identity(&msp, &bad)),
            Err(MspError::Revoked { .. })
        ));

        // A CRL with the right key identifier but a forged signature is ignored.
        let impostor = TestCa::impostor_of(&ca);
        let mut config = fabric_config(MSPID, &[&ca], &[]);
        config.fabric_node_ous = Some(node_ous(None));
        config.revocation_list = vec![impostor.crl(&[&good]).into_bytes()];
        let msp = Msp::new(&config).unwrap();
        assert_eq!(msp.validate(&identity(&msp, &good)), Ok(()));
    }

    #[test]
    fn revoked_intermediate_fails_setup() {
        let root = TestCa::root("ca.org1");
        let inter = root.intermediate("ica.org1");
        let mut config = fabric_config(MSPID, &[&root], &[&inter]);
        config.fabric_node_ous = Some(node_ous(None));
        config.revocation_list = vec![
            root.crl_serials(std::slice::from_ref(&inter.serial))
                .into_bytes(),
        ];
        assert!(matches!(Msp::new(&config), Err(MspError::Config(_))));
    }

    #[test]
    fn node_ou_rules() {
        let (ca, msp) = org();
        let zero = identity(&msp, &ca.leaf("none", &[]));
        assert!(matches!(
            msp.validate(&zero),
            Err(MspError::NodeOu(NodeOuError::NoNodeOu { .. }))
        ));
        let other_ou = identity(&msp, &ca.leaf("dept", &["department1"]));
        assert!(matches!(
            msp.validate(&other_ou),
            Err(MspError::NodeOu(NodeOuError::NoNodeOu { .. }))
        ));
        let two = identity(&msp, &ca.leaf("two", &["peer", "client"]));
        assert!(matches!(
            msp.validate(&two),
            Err(MspError::NodeOu(NodeOuError::MultipleNodeOus { .. }))
        ));
        let one = identity(&msp, &ca.leaf("one", &["department1", "client"]));
        assert_eq!(msp.validate(&one), Ok(()));
    }

    #[test]
    fn node_ou_with_wrong_certifier_is_refused() {
        let root = TestCa::root("ca.org1");
        let inter_a = root.intermediate("ica-a.org1");
        let inter_b = root.intermediate("ica-b.org1");
        let mut config = fabric_config(MSPID, &[&root], &[&inter_a, &inter_b]);
        config.fabric_node_ous = Some(node_ous(Some(&inter_a.pem)));
        let msp = Msp::new(&config).unwrap();
        assert_eq!(
            msp.validate(&identity(&msp, &inter_a.leaf("a", &["client"]))),
            Ok(())
        );
        assert_eq!(
            msp.validate(&identity(&msp, &inter_b.leaf("b", &["client"]))),
            Err(MspError::NodeOu(NodeOuError::CertifierMismatch {
                ou: "client".into()
            }))
        );
    }

    #[test]
    fn legacy_ou_identifiers_require_a_match() {
        let ca = TestCa::root("ca.org1");
        let admin = ca.leaf("admin", &["dept"]);
        let mut config = fabric_config(MSPID, &[&ca], &[]);
        config.admins = vec![admin.pem.clone().into_bytes()];
        config.organizational_unit_identifiers = vec![FabricOuIdentifier {
            certificate: ca.pem.clone().into_bytes(),
            organizational_unit_identifier: "dept".into(),
        }];
        let msp = Msp::new(&config).unwrap();
        assert_eq!(
            msp.validate(&identity(&msp, &ca.leaf("u", &["dept"]))),
            Ok(())
        );
        assert!(matches!(
            msp.validate(&identity(&msp, &ca.leaf("v", &["other"]))),
            Err(MspError::OrganizationalUnit(_))
        ));
        assert!(matches!(
            msp.validate(&identity(&msp, &ca.leaf("w", &[]))),
            Err(MspError::OrganizationalUnit(_))
        ));
    }

    #[test]
    fn admins_via_admincerts_including_high_s_encoding() {
        let ca = TestCa::root("ca.org1");
        let admin = ca.leaf("admin", &[]);
        let user = ca.leaf("user", &[]);
        let mut config = fabric_config(MSPID, &[&ca], &[]);
        // The admin cert is configured with a high-S CA signature; the identity presents
        // the low-S encoding. Both are sanitized, so they compare equal.
        let high = with_high_s_signature(&admin.der);
        config.admins = vec![crate::msp::cert::pem_encode("CERTIFICATE", &high).into_bytes()];
        let msp = Msp::new(&config).unwrap();
        assert!(!msp.node_ous_enabled());
        let admin_id = identity(&msp, &admin);
        assert!(msp.is_admin(&admin_id));
        let user_id = identity(&msp, &user);
        assert!(!msp.is_admin(&user_id));
        assert_eq!(
            msp.satisfies(&user_id, &Principal::role(MSPID, Role::Admin)),
            Err(MspError::NotAdmin {
                mspid: MSPID.into()
            })
        );
        assert_eq!(
            msp.satisfies(&user_id, &Principal::role(MSPID, Role::Member)),
            Ok(())
        );
        assert_eq!(
            msp.satisfies(&user_id, &Principal::role(MSPID, Role::Peer)),
            Err(MspError::NodeOu(NodeOuError::NotEnabled {
                mspid: MSPID.into()
            }))
        );
    }

    #[test]
    fn admins_via_admin_ou() {
        let (ca, msp) = org();
        let admin = identity(&msp, &ca.leaf("admin", &["admin"]));
        let client = identity(&msp, &ca.leaf("client", &["client"]));
        assert!(msp.is_admin(&admin));
        assert!(!msp.is_admin(&client));
    }

    #[test]
    fn msp_without_admins_or_admin_ou_is_refused() {
        let ca = TestCa::root("ca.org1");
        let config = fabric_config(MSPID, &[&ca], &[]);
        assert!(matches!(Msp::new(&config), Err(MspError::Config(_))));
    }

    #[test]
    fn each_role_principal() {
        let (ca, msp) = org();
        let ids: Vec<(Role, Identity)> = [
            (Role::Client, "client"),
            (Role::Peer, "peer"),
            (Role::Admin, "admin"),
            (Role::Orderer, "orderer"),
        ]
        .into_iter()
        .map(|(role, ou)| (role, identity(&msp, &ca.leaf(ou, &[ou]))))
        .collect();
        for (role, id) in &ids {
            for asked in [Role::Client, Role::Peer, Role::Admin, Role::Orderer] {
                let result = msp.satisfies(id, &Principal::role(MSPID, asked));
                if asked == *role {
                    assert_eq!(result, Ok(()), "{role} as {asked}");
                } else {
                    assert!(result.is_err(), "{role} as {asked}");
                }
            }
            assert_eq!(
                msp.satisfies(id, &Principal::role(MSPID, Role::Member)),
                Ok(())
            );
            assert!(matches!(
                msp.satisfies(id, &Principal::role("Org2MSP", Role::Member)),
                Err(MspError::MspMismatch { .. })
            ));
        }
        assert_eq!(
            msp.satisfies(&ids[0].1, &Principal::role(MSPID, Role::Peer)),
            Err(MspError::NodeOu(NodeOuError::MissingRole {
                mspid: MSPID.into(),
                role: Role::Peer
            }))
        );
    }

    #[test]
    fn identity_ou_anonymity_and_combined_principals() {
        let (ca, msp) = org();
        let peer_cert = ca.leaf("peer0", &["peer", "dept"]);
        let peer = identity(&msp, &peer_cert);
        let other = identity(&msp, &ca.leaf("peer1", &["peer"]));

        let by_identity = MspPrincipal {
            principal_classification: Classification::Identity as i32,
            principal: peer_cert.serialized(MSPID),
        };
        assert_eq!(msp.satisfies_principal(&peer, &by_identity), Ok(()));
        assert_eq!(
            msp.satisfies_principal(&other, &by_identity),
            Err(MspError::IdentityMismatch)
        );

        let certifiers = msp.certifiers_identifier(ca.pem.as_bytes()).unwrap();
        let ou = |name: &str, certifiers: Vec<u8>| MspPrincipal {
            principal_classification: Classification::OrganizationUnit as i32,
            principal: OrganizationUnit {
                msp_identifier: MSPID.into(),
                organizational_unit_identifier: name.into(),
                certifiers_identifier: certifiers,
            }
            .encode_to_vec(),
        };
        assert_eq!(
            msp.satisfies_principal(&peer, &ou("dept", certifiers.clone())),
            Ok(())
        );
        assert!(matches!(
            msp.satisfies_principal(&other, &ou("dept", certifiers.clone())),
            Err(MspError::OuMismatch { .. })
        ));
        assert!(matches!(
            msp.satisfies_principal(&peer, &ou("dept", vec![0; 32])),
            Err(MspError::OuMismatch { .. })
        ));

        assert_eq!(
            msp.satisfies(&peer, &Principal::Anonymity(Anonymity::Nominal)),
            Ok(())
        );
        assert_eq!(
            msp.satisfies(&peer, &Principal::Anonymity(Anonymity::Anonymous)),
            Err(MspError::AnonymityNotSupported)
        );
        let both = Principal::Combined(vec![
            Principal::role(MSPID, Role::Peer),
            Principal::Anonymity(Anonymity::Nominal),
        ]);
        assert_eq!(msp.satisfies(&peer, &both), Ok(()));
        let impossible = Principal::Combined(vec![
            Principal::role(MSPID, Role::Peer),
            Principal::role(MSPID, Role::Client),
        ]);
        assert!(msp.satisfies(&peer, &impossible).is_err());
    }

    #[test]
    fn client_auth_only_certificate_is_refused_like_go() {
        let (ca, msp) = org();
        let leaf = ca.leaf_with("tls-client", &["client"], |p| {
            p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        });
        assert!(matches!(
            msp.deserialize_identity(&leaf.serialized(MSPID)),
            Err(MspError::UntrustedChain { .. })
        ));
        let both = ca.leaf_with("tls-both", &["client"], |p| {
            p.extended_key_usages = vec![
                rcgen::ExtendedKeyUsagePurpose::ClientAuth,
                rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            ];
        });
        assert_eq!(msp.validate(&identity(&msp, &both)), Ok(()));
    }

    #[test]
    fn bad_configs_are_typed_errors() {
        let ca = TestCa::root("ca.org1");
        let leaf = ca.leaf("user", &["client"]);
        let base = || {
            let mut c = fabric_config(MSPID, &[&ca], &[]);
            c.fabric_node_ous = Some(node_ous(None));
            c
        };
        let mut no_roots = base();
        no_roots.root_certs.clear();
        let mut garbage_root = base();
        garbage_root.root_certs = vec![b"garbage".to_vec()];
        let mut leaf_as_root = base();
        leaf_as_root.root_certs = vec![leaf.pem.clone().into_bytes()];
        let mut bad_crl = base();
        bad_crl.revocation_list = vec![b"junk".to_vec()];
        let mut foreign_node_ou = base();
        foreign_node_ou.fabric_node_ous = Some(node_ous(Some(&TestCa::root("x").pem)));
        let mut sha3 = base();
        sha3.crypto_config = Some(weft_proto::msp::FabricCryptoConfig {
            signature_hash_family: "SHA3".into(),
            identity_identifier_hash_function: "SHA256".into(),
        });
        let mut intermediate_as_root = base();
        intermediate_as_root.root_certs = vec![ca.intermediate("ica").pem.into_bytes()];
        let mut foreign_admin = base();
        foreign_admin.admins = vec![TestCa::root("y").leaf("a", &["admin"]).pem.into_bytes()];
        for config in [
            no_roots,
            intermediate_as_root,
            garbage_root,
            leaf_as_root,
            bad_crl,
            foreign_node_ou,
            sha3,
            foreign_admin,
        ] {
            assert!(
                matches!(Msp::new(&config), Err(MspError::Config(_))),
                "{config:?}"
            );
        }
        let idemix = MspConfig {
            r#type: 1,
            config: Vec::new(),
        };
        assert!(matches!(
            Msp::from_msp_config(&idemix),
            Err(MspError::Config(_))
        ));
        let undecodable = MspConfig {
            r#type: 0,
            config: vec![0xff],
        };
        assert!(matches!(
            Msp::from_msp_config(&undecodable),
            Err(MspError::Config(_))
        ));
        let good = MspConfig {
            r#type: 0,
            config: base().encode_to_vec(),
        };
        assert_eq!(Msp::from_msp_config(&good).unwrap().id(), MSPID);
    }
}
