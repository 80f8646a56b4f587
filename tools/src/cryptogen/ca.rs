//! A certificate authority as cryptogen uses it: an ECDSA P-256 key and a self-signed
//! certificate on disk (`<dir>/<name>-cert.pem`, `<dir>/priv_sk`), and the ability to
//! issue leaf certificates the way Fabric's cryptogen shapes them.

use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyUsagePurpose, PublicKeyData, SanType,
    SerialNumber, SignatureAlgorithm, SigningKey,
};
use time::{Duration, OffsetDateTime};
use weft_common::crypto::PrivateKey;

use super::{CryptogenError, write_file};
use crate::pem;

/// Name of the private key file cryptogen writes next to a CA certificate and in keystores.
pub const PRIVATE_KEY_FILE: &str = "priv_sk";

/// Validity of every certificate cryptogen issues (about ten years, as Fabric's).
const VALIDITY_DAYS: i64 = 3650;

/// Subject fields an organization's CA spec contributes to every certificate it issues.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectFields {
    /// `C`; "US" when empty.
    pub country: String,
    /// `ST`; "California" when empty.
    pub province: String,
    /// `L`; "San Francisco" when empty.
    pub locality: String,
    /// `OU` carried by every certificate of the org (optional).
    pub organizational_unit: String,
    /// `street` (optional).
    pub street_address: String,
    /// `postalCode` (optional).
    pub postal_code: String,
}

/// What a leaf certificate is for; picks its key usages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertKind {
    /// An MSP signing certificate: digitalSignature only, no extended key usage.
    Signing,
    /// A TLS certificate: digitalSignature + keyEncipherment, serverAuth + clientAuth.
    Tls,
}

/// A CA that can issue certificates.
#[derive(Debug)]
pub struct Ca {
    /// The CA's common name, also the stem of its certificate file name.
    pub name: String,
    /// Subject fields copied into issued certificates.
    pub subject: SubjectFields,
    key: PrivateKey,
    cert_der: Vec<u8>,
}

/// Our P-256 key in the shape rcgen signs with. Signing goes through
/// [`PrivateKey::sign`], so certificate signatures are low-S like Fabric's.
struct FabricKey<'a> {
    key: &'a PrivateKey,
    point: Vec<u8>,
}

impl<'a> FabricKey<'a> {
    fn new(key: &'a PrivateKey) -> Self {
        Self {
            key,
            point: key.public_key().to_sec1_uncompressed(),
        }
    }
}

impl PublicKeyData for FabricKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.point
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

impl SigningKey for FabricKey<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.key
            .sign(msg)
            .map_err(|_| rcgen::Error::RingUnspecified)
    }
}

impl Ca {
    /// Creates a CA in `dir`: a fresh key in `dir/priv_sk` and a self-signed certificate
    /// in `dir/<name>-cert.pem` with subject `C, ST, L, [street, postalCode], O=org,
    /// [OU], CN=name`.
    pub fn create(
        dir: &Path,
        org: &str,
        name: &str,
        subject: SubjectFields,
    ) -> Result<Self, CryptogenError> {
        let key = generate_key(dir)?;
        let signer = FabricKey::new(&key);
        let ski = key.public_key().ski().to_vec();

        let mut params = base_params();
        params.distinguished_name = distinguished_name(&subject, Some(org), &[], name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ClientAuth,
            ExtendedKeyUsagePurpose::ServerAuth,
        ];
        params.key_identifier_method = KeyIdMethod::PreSpecified(ski);
        let cert = params.self_signed(&signer).map_err(cert_error(name))?;
        let cert_der = cert.der().to_vec();
        write_file(
            &dir.join(cert_file_name(name)),
            pem::encode("CERTIFICATE", &cert_der).as_bytes(),
        )?;
        Ok(Self {
            name: name.to_string(),
            subject,
            key,
            cert_der,
        })
    }

    /// Loads an existing CA from `dir` (its `*-cert.pem` and `*_sk` files), as
    /// `cryptogen extend` does.
    pub fn load(dir: &Path, name: &str, subject: SubjectFields) -> Result<Self, CryptogenError> {
        let mut cert_der = None;
        let mut key = None;
        let entries = std::fs::read_dir(dir).map_err(|e| CryptogenError::io(dir, e))?;
        for entry in entries {
            let path = entry.map_err(|e| CryptogenError::io(dir, e))?.path();
            let file = path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            if file.ends_with(".pem") {
                let text = read_text(&path)?;
                cert_der = pem::decode_all("CERTIFICATE", &text).into_iter().next();
            } else if file.ends_with("_sk") {
                let text = read_text(&path)?;
                key = Some(
                    PrivateKey::from_pem(&text).map_err(|e| CryptogenError::Key {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?,
                );
            }
        }
        match (cert_der, key) {
            (Some(cert_der), Some(key)) => Ok(Self {
                name: name.to_string(),
                subject,
                key,
                cert_der,
            }),
            _ => Err(CryptogenError::MissingCa(dir.to_path_buf())),
        }
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> String {
        pem::encode("CERTIFICATE", &self.cert_der)
    }

    /// Issues a certificate for `public_key` with subject `C, ST, L, [street,
    /// postalCode], OU=<org OU>, OU=<each of ous>, CN=common_name`, the given SANs
    /// (IP literals become IP SANs, anything else a DNS name) and an authority key
    /// identifier pointing at this CA. Returns the DER certificate.
    pub fn issue(
        &self,
        common_name: &str,
        ous: &[&str],
        sans: &[String],
        public_key: &PrivateKey,
        kind: CertKind,
    ) -> Result<Vec<u8>, CryptogenError> {
        let ca_key = FabricKey::new(&self.key);
        let issuer = Issuer::from_ca_cert_der(&self.cert_der.as_slice().into(), &ca_key)
            .map_err(cert_error(&self.name))?;

        let mut params = base_params();
        params.distinguished_name = distinguished_name(&self.subject, None, ous, common_name);
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        params.key_identifier_method =
            KeyIdMethod::PreSpecified(public_key.public_key().ski().to_vec());
        match kind {
            CertKind::Signing => {
                params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            }
            CertKind::Tls => {
                params.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::KeyEncipherment,
                ];
                params.extended_key_usages = vec![
                    ExtendedKeyUsagePurpose::ServerAuth,
                    ExtendedKeyUsagePurpose::ClientAuth,
                ];
            }
        }
        for san in sans {
            let entry = match IpAddr::from_str(san) {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName(san.clone().try_into().map_err(|_| {
                    CryptogenError::InvalidSpec(format!(
                        "subject alternative name '{san}' is not a valid DNS name"
                    ))
                })?),
            };
            params.subject_alt_names.push(entry);
        }
        let subject_key = FabricKey::new(public_key);
        let cert = params
            .signed_by(&subject_key, &issuer)
            .map_err(cert_error(common_name))?;
        Ok(cert.der().to_vec())
    }
}

/// `<name>-cert.pem`, the file name cryptogen gives a certificate.
pub fn cert_file_name(name: &str) -> String {
    format!("{name}-cert.pem")
}

/// Generates a P-256 key and writes it, PKCS#8 PEM, to `dir/priv_sk` (mode 0600).
pub fn generate_key(dir: &Path) -> Result<PrivateKey, CryptogenError> {
    let key = PrivateKey::generate();
    write_private(&dir.join(PRIVATE_KEY_FILE), key.to_pkcs8_pem().as_bytes())?;
    Ok(key)
}

/// Writes a private key file readable by its owner only.
pub(crate) fn write_private(path: &Path, data: &[u8]) -> Result<(), CryptogenError> {
    write_file(path, data)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| CryptogenError::io(path, e))?;
    }
    Ok(())
}

fn read_text(path: &Path) -> Result<String, CryptogenError> {
    std::fs::read_to_string(path).map_err(|e| CryptogenError::io(path, e))
}

fn cert_error(name: &str) -> impl Fn(rcgen::Error) -> CryptogenError + '_ {
    move |e| CryptogenError::Certificate {
        name: name.to_string(),
        reason: e.to_string(),
    }
}

/// Serial (random, 128 bits) and validity (now rounded to the minute, minus five
/// minutes, for ten years) shared by every certificate.
fn base_params() -> CertificateParams {
    let mut serial = [0u8; 16];
    rand::fill(&mut serial);
    let now = OffsetDateTime::now_utc();
    let seconds = now.unix_timestamp();
    let rounded = (seconds + 30).div_euclid(60) * 60;
    let not_before = OffsetDateTime::from_unix_timestamp(rounded)
        .unwrap_or(now)
        .saturating_sub(Duration::minutes(5));
    let mut params = CertificateParams::default();
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    params.not_before = not_before;
    params.not_after = not_before.saturating_add(Duration::days(VALIDITY_DAYS));
    params
}

/// The OID of `organizationalUnitName`, for extra OU attributes: rcgen keeps one value
/// per attribute type, so the second OU goes in under its raw OID.
const OU_OID: [u64; 4] = [2, 5, 4, 11];
const STREET_OID: [u64; 4] = [2, 5, 4, 9];
const POSTAL_CODE_OID: [u64; 4] = [2, 5, 4, 17];

/// Builds a subject in Go's `pkix.Name` order: C, ST, L, street, postalCode, O, OU, CN.
fn distinguished_name(
    subject: &SubjectFields,
    organization: Option<&str>,
    extra_ous: &[&str],
    common_name: &str,
) -> DistinguishedName {
    let or = |value: &str, default: &str| {
        if value.is_empty() {
            default.to_string()
        } else {
            value.to_string()
        }
    };
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CountryName,
        string_value(&or(&subject.country, "US")),
    );
    dn.push(
        DnType::StateOrProvinceName,
        string_value(&or(&subject.province, "California")),
    );
    dn.push(
        DnType::LocalityName,
        string_value(&or(&subject.locality, "San Francisco")),
    );
    if !subject.street_address.is_empty() {
        dn.push(
            DnType::CustomDnType(STREET_OID.to_vec()),
            string_value(&subject.street_address),
        );
    }
    if !subject.postal_code.is_empty() {
        dn.push(
            DnType::CustomDnType(POSTAL_CODE_OID.to_vec()),
            string_value(&subject.postal_code),
        );
    }
    if let Some(org) = organization {
        dn.push(DnType::OrganizationName, string_value(org));
    }
    let mut ous: Vec<&str> = Vec::new();
    if !subject.organizational_unit.is_empty() {
        ous.push(&subject.organizational_unit);
    }
    ous.extend_from_slice(extra_ous);
    // cryptogen never puts more than two OUs in a subject (the org's and the node's).
    for (i, ou) in ous.iter().enumerate() {
        let ty = if i == 0 {
            DnType::OrganizationalUnitName
        } else {
            DnType::CustomDnType(OU_OID.to_vec())
        };
        dn.push(ty, string_value(ou));
    }
    dn.push(DnType::CommonName, string_value(common_name));
    dn
}

/// PrintableString when every character allows it, else UTF8String (Go's choice).
fn string_value(s: &str) -> DnValue {
    match rcgen::string::PrintableString::try_from(s) {
        Ok(p) => DnValue::PrintableString(p),
        Err(_) => DnValue::Utf8String(s.to_string()),
    }
}
