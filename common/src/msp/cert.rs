//! X.509 plumbing for identities and MSPs: PEM, certificate facts, low-S sanitizing, chain
//! building with Go's `x509.Verify` rules that Fabric relies on, and CRLs.

use base64::Engine as _;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::num_bigint::BigUint;
use x509_parser::oid_registry::{
    OID_KEY_TYPE_EC_PUBLIC_KEY, OID_SIG_ECDSA_WITH_SHA256, OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER,
    OID_X509_EXT_SUBJECT_KEY_IDENTIFIER,
};
use x509_parser::prelude::FromDer;

use super::MspError;
use crate::crypto::{self, PublicKey};

/// Longest chain (leaf included) the chain builder explores.
const MAX_CHAIN_LEN: usize = 10;

/// Dotted OIDs of ECDSA signature algorithms (with SHA-1, SHA-256, SHA-384, SHA-512): the
/// certificates Fabric sanitizes to low-S.
const ECDSA_SIGNATURE_OIDS: [&str; 4] = [
    "1.2.840.10045.4.1",
    "1.2.840.10045.4.3.2",
    "1.2.840.10045.4.3.3",
    "1.2.840.10045.4.3.4",
];

/// Extended key usages Go accepts in place of serverAuth (Microsoft and Netscape
/// server-gated crypto).
const SERVER_GATED_CRYPTO_OIDS: [&str; 2] = ["1.3.6.1.4.1.311.10.3.3", "2.16.840.1.113730.4.1"];

/// The first PEM block in `input` whose body decodes: its label and DER bytes. Leading text
/// is skipped, as Go's `pem.Decode` does.
pub(crate) fn pem_decode(input: &[u8]) -> Option<(String, Vec<u8>)> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    let mut rest = input;
    while let Some(start) = find(rest, BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let label_end = find(after, b"-----")?;
        let label = String::from_utf8_lossy(&after[..label_end]).into_owned();
        let body_start = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let body_end = find(body_start, end_marker.as_bytes())?;
        let body: Vec<u8> = body_start[..body_end]
            .split(|b| *b == b'\n')
            .filter(|line| !line.contains(&b':'))
            .flat_map(|line| line.iter().copied())
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(&body) {
            return Some((label, der));
        }
        rest = &body_start[body_end..];
    }
    None
}

/// PEM with 64-column base64 lines and a trailing newline, as Go's `pem.EncodeToMemory` writes.
pub(crate) fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The facts about one certificate that identities and MSPs use. `der` is the certificate
/// after sanitizing: an ECDSA CA signature with high S is rewritten to low S, as Fabric does
/// before comparing or hashing certificates.
#[derive(Debug, Clone)]
pub(crate) struct Cert {
    pub(crate) der: Vec<u8>,
    tbs: Vec<u8>,
    signature: Vec<u8>,
    signed_with_ecdsa_sha256: bool,
    issuer: Vec<u8>,
    subject: Vec<u8>,
    pub(crate) subject_text: String,
    pub(crate) serial: BigUint,
    pub(crate) not_before: OffsetDateTime,
    pub(crate) not_after: OffsetDateTime,
    pub(crate) is_ca: bool,
    can_sign_certs: bool,
    pub(crate) ski: Option<Vec<u8>>,
    eku_excludes_server_auth: bool,
    pub(crate) ous: Vec<String>,
    pub(crate) public_key: PublicKey,
}

impl Cert {
    /// Parses (and sanitizes) a DER certificate. Only ECDSA P-256 subject keys are accepted.
    pub(crate) fn from_der(der: &[u8]) -> Result<Cert, MspError> {
        let der = sanitize(der)?;
        let x509 = parse_exact(&der)?;
        let tbs = &x509.tbs_certificate;

        let spki = tbs.subject_pki.clone();
        if spki.algorithm.algorithm != OID_KEY_TYPE_EC_PUBLIC_KEY {
            return Err(MspError::UnsupportedKey(format!(
                "key algorithm {} is not ECDSA",
                spki.algorithm.algorithm
            )));
        }
        let public_key = PublicKey::from_spki_der(spki.raw)
            .map_err(|e| MspError::UnsupportedKey(format!("not an ECDSA P-256 key: {e}")))?;

        let bad_ext = |e| MspError::MalformedIdentity(format!("bad certificate extension: {e}"));
        let is_ca = x509
            .basic_constraints()
            .map_err(bad_ext)?
            .is_some_and(|bc| bc.value.ca);
        let key_usage = x509.key_usage().map_err(bad_ext)?;
        let can_sign_certs = is_ca && key_usage.is_none_or(|ku| ku.value.key_cert_sign());
        let eku_excludes_server_auth = match x509.extended_key_usage().map_err(bad_ext)? {
            None => false,
            Some(eku) => {
                let eku = eku.value;
                let has_any_usage = eku.any
                    || eku.server_auth
                    || eku.client_auth
                    || eku.code_signing
                    || eku.email_protection
                    || eku.time_stamping
                    || eku.ocsp_signing
                    || !eku.other.is_empty();
                let gated = eku
                    .other
                    .iter()
                    .any(|oid| SERVER_GATED_CRYPTO_OIDS.contains(&oid.to_id_string().as_str()));
                has_any_usage && !eku.any && !eku.server_auth && !gated
            }
        };
        let ski = x509
            .get_extension_unique(&OID_X509_EXT_SUBJECT_KEY_IDENTIFIER)
            .map_err(bad_ext)?
            .and_then(|ext| match ext.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
                _ => None,
            });
        let ous = tbs
            .subject
            .iter_organizational_unit()
            .filter_map(|attr| attr.as_str().ok().map(str::to_owned))
            .collect();

        Ok(Cert {
            tbs: tbs.as_ref().to_vec(),
            signature: x509.signature_value.data.to_vec(),
            signed_with_ecdsa_sha256: x509.signature_algorithm.algorithm
                == OID_SIG_ECDSA_WITH_SHA256,
            issuer: tbs.issuer.as_raw().to_vec(),
            subject: tbs.subject.as_raw().to_vec(),
            subject_text: tbs.subject.to_string(),
            serial: tbs.serial.clone(),
            not_before: tbs.validity.not_before.to_datetime(),
            not_after: tbs.validity.not_after.to_datetime(),
            is_ca,
            can_sign_certs,
            ski,
            eku_excludes_server_auth,
            ous,
            public_key,
            der,
        })
    }

    /// Parses the first PEM block of `pem` as a certificate.
    pub(crate) fn from_pem(pem: &[u8]) -> Result<Cert, MspError> {
        let (_, der) = pem_decode(pem)
            .ok_or_else(|| MspError::MalformedIdentity("no PEM block found".into()))?;
        Cert::from_der(&der)
    }

    /// Fabric's identity identifier: hex SHA-256 of the (sanitized) DER.
    pub(crate) fn id(&self) -> String {
        hex::encode(crypto::sha256(&self.der))
    }

    /// The time Fabric verifies chains at: NotBefore + 1 s (expiry is checked elsewhere).
    pub(crate) fn verification_time(&self) -> OffsetDateTime {
        self.not_before + time::Duration::seconds(1)
    }

    fn valid_at(&self, at: OffsetDateTime) -> bool {
        self.not_before <= at && at <= self.not_after
    }

    /// Whether `issuer` issued this certificate: names match, the issuer may sign
    /// certificates, and its key verifies our ECDSA-SHA256 signature.
    fn issued_by(&self, issuer: &Cert) -> bool {
        self.issuer == issuer.subject
            && issuer.can_sign_certs
            && self.verifies_with(&issuer.public_key)
    }

    fn verifies_with(&self, key: &PublicKey) -> bool {
        self.signed_with_ecdsa_sha256
            && key
                .verify_x509_signature(&self.tbs, &self.signature)
                .is_ok()
    }

    /// A self-signed CA certificate (Fabric lets those deserialize without a configured root).
    pub(crate) fn is_self_signed_ca(&self) -> bool {
        self.is_ca && self.issuer == self.subject && self.verifies_with(&self.public_key)
    }
}

fn parse_exact(der: &[u8]) -> Result<X509Certificate<'_>, MspError> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok(_) => Err(MspError::MalformedIdentity(
            "trailing bytes after the certificate".into(),
        )),
        Err(e) => Err(MspError::MalformedIdentity(format!(
            "not an X.509 certificate: {e}"
        ))),
    }
}

/// Rewrites an ECDSA certificate signature with high S into its low-S twin (same
/// TBSCertificate and algorithm); other certificates come back unchanged.
fn sanitize(der: &[u8]) -> Result<Vec<u8>, MspError> {
    let x509 = parse_exact(der)?;
    let oid = x509.signature_algorithm.algorithm.to_id_string();
    if !ECDSA_SIGNATURE_OIDS.contains(&oid.as_str()) {
        return Ok(der.to_vec());
    }
    let signature = &x509.signature_value.data;
    // A signature that is not a P-256 (r, s) pair is left alone: chains through such a CA
    // cannot be verified here anyway.
    let Ok(low) = crypto::normalize_low_s(signature) else {
        return Ok(der.to_vec());
    };
    if low == signature.as_ref() {
        return Ok(der.to_vec());
    }
    replace_signature(der, &low)
        .ok_or_else(|| MspError::MalformedIdentity("cannot re-encode the certificate".into()))
}

/// `SEQUENCE { tbs, algorithm, BIT STRING signature }` with the signature replaced.
pub(crate) fn replace_signature(der: &[u8], signature: &[u8]) -> Option<Vec<u8>> {
    let (header, len) = der_header(der)?;
    let body = der.get(header..header + len)?;
    let (tbs_header, tbs_len) = der_header(body)?;
    let tbs_end = tbs_header + tbs_len;
    let (alg_header, alg_len) = der_header(body.get(tbs_end..)?)?;
    let alg_end = tbs_end + alg_header + alg_len;

    let mut bits = Vec::with_capacity(signature.len() + 1);
    bits.push(0); // no unused bits
    bits.extend_from_slice(signature);
    let mut new_body = body.get(..alg_end)?.to_vec();
    push_tlv(&mut new_body, 0x03, &bits);
    let mut out = Vec::with_capacity(new_body.len() + 4);
    push_tlv(&mut out, 0x30, &new_body);
    Some(out)
}

/// Header length and content length of the DER element at the start of `bytes`.
fn der_header(bytes: &[u8]) -> Option<(usize, usize)> {
    let first = *bytes.get(1)?;
    if first < 0x80 {
        return Some((2, first as usize));
    }
    let n = (first & 0x7f) as usize;
    if n == 0 || n > 4 {
        return None;
    }
    let len = bytes
        .get(2..2 + n)?
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | *b as usize);
    Some((2 + n, len))
}

fn push_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
}

/// The unique chain `[leaf, issuer, …, root]` from `leaf` to one of `roots`, through
/// `intermediates`, with every certificate valid at the leaf's NotBefore + 1 s. Mirrors the
/// Go `x509.Verify` behaviour Fabric relies on: a leaf that is itself a root is a chain of
/// one, issuers are found by name and signature, every certificate carrying an extended key
/// usage must allow serverAuth (Go's default), and more than one chain is an error.
pub(crate) fn unique_chain<'a>(
    leaf: &'a Cert,
    roots: &'a [Cert],
    intermediates: &'a [Cert],
) -> Result<Vec<&'a Cert>, String> {
    let at = leaf.verification_time();
    if !leaf.valid_at(at) {
        return Err("certificate validity period is shorter than one second".into());
    }
    let mut chains = Vec::new();
    if roots.iter().any(|r| r.der == leaf.der) {
        chains.push(vec![leaf]);
    } else {
        let mut current = vec![leaf];
        extend_chains(&mut current, &mut chains, roots, intermediates, at);
    }
    if chains.is_empty() {
        return Err("certificate signed by unknown authority".into());
    }
    let found = chains.len();
    chains.retain(|chain| chain.iter().all(|c| !c.eku_excludes_server_auth));
    if chains.len() > 1 {
        return Err(format!(
            "only a single validation chain is supported, got {}",
            chains.len()
        ));
    }
    chains.pop().ok_or_else(|| {
        format!("certificate specifies an incompatible key usage ({found} chain(s) rejected)")
    })
}

fn extend_chains<'a>(
    current: &mut Vec<&'a Cert>,
    out: &mut Vec<Vec<&'a Cert>>,
    roots: &'a [Cert],
    intermediates: &'a [Cert],
    at: OffsetDateTime,
) {
    let Some(child) = current.last().copied() else {
        return;
    };
    let candidates = roots
        .iter()
        .map(|c| (c, true))
        .chain(intermediates.iter().map(|c| (c, false)));
    for (candidate, is_root) in candidates {
        if current.iter().any(|c| c.der == candidate.der)
            || !candidate.valid_at(at)
            || !child.issued_by(candidate)
        {
            continue;
        }
        current.push(candidate);
        if is_root {
            out.push(current.clone());
        } else if current.len() < MAX_CHAIN_LEN {
            extend_chains(current, out, roots, intermediates, at);
        }
        current.pop();
    }
}

/// A certificate revocation list from an MSP's `revocation_list`.
#[derive(Debug, Clone)]
pub(crate) struct Crl {
    pub(crate) authority_key_id: Option<Vec<u8>>,
    tbs: Vec<u8>,
    signature: Vec<u8>,
    signed_with_ecdsa_sha256: bool,
    revoked: Vec<BigUint>,
}

impl Crl {
    /// Parses a PEM (`X509 CRL`) or DER CRL.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Crl, String> {
        let der = match pem_decode(bytes) {
            Some((label, der)) if label == "X509 CRL" => der,
            Some((label, _)) => return Err(format!("PEM block is {label:?}, not \"X509 CRL\"")),
            None => bytes.to_vec(),
        };
        let crl = match x509_parser::parse_x509_crl(&der) {
            Ok((_, crl)) => crl,
            Err(e) => return Err(format!("not a CRL: {e}")),
        };
        let authority_key_id = crl
            .tbs_cert_list
            .find_extension(&OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER)
            .and_then(|ext| match ext.parsed_extension() {
                ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    aki.key_identifier.as_ref().map(|k| k.0.to_vec())
                }
                _ => None,
            });
        Ok(Crl {
            authority_key_id,
            tbs: crl.tbs_cert_list.as_ref().to_vec(),
            signature: crl.signature_value.data.to_vec(),
            signed_with_ecdsa_sha256: crl.signature_algorithm.algorithm
                == OID_SIG_ECDSA_WITH_SHA256,
            revoked: crl
                .iter_revoked_certificates()
                .map(|r| r.user_certificate.clone())
                .collect(),
        })
    }

    /// Whether `serial` is listed.
    pub(crate) fn lists(&self, serial: &BigUint) -> bool {
        self.revoked.iter().any(|s| s == serial)
    }

    /// Whether `issuer`'s key signed this CRL.
    pub(crate) fn signed_by(&self, issuer: &Cert) -> bool {
        self.signed_with_ecdsa_sha256
            && issuer
                .public_key
                .verify_x509_signature(&self.tbs, &self.signature)
                .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msp::test_certs::{TestCa, with_high_s_signature};

    #[test]
    fn pem_round_trip_and_leading_text() {
        let der = vec![1u8, 2, 3, 4, 5];
        let pem = pem_encode("CERTIFICATE", &der);
        assert!(pem.ends_with("-----END CERTIFICATE-----\n"));
        let with_junk = format!("junk before\n{pem}");
        assert_eq!(
            pem_decode(with_junk.as_bytes()),
            Some(("CERTIFICATE".to_string(), der))
        );
        assert_eq!(pem_decode(b"no pem here"), None);
        assert_eq!(pem_decode(b"-----BEGIN CERTIFICATE-----\n@@@\n"), None);
    }

    #[test]
    fn long_pem_lines_are_64_columns() {
        let pem = pem_encode("CERTIFICATE", &[7u8; 100]);
        for line in pem.lines().filter(|l| !l.starts_with("-----")) {
            assert!(line.len() <= 64);
        }
    }

    #[test]
    fn high_s_certificate_is_sanitized_to_the_low_s_encoding() {
        let ca = TestCa::root("ca.sanitize");
        let leaf = ca.leaf("user", &["client"]);
        let high = with_high_s_signature(&leaf.der);
        assert_ne!(high, leaf.der);
        let cert = Cert::from_der(&high).unwrap();
        assert_eq!(cert.der, leaf.der);
        assert_eq!(cert.id(), Cert::from_der(&leaf.der).unwrap().id());
    }

    #[test]
    fn garbage_is_a_typed_error() {
        assert!(matches!(
            Cert::from_der(b"garbage"),
            Err(MspError::MalformedIdentity(_))
        ));
        let ca = TestCa::root("ca.trunc");
        let leaf = ca.leaf("user", &[]);
        let mut trailing = leaf.der.clone();
        trailing.push(0);
        assert!(matches!(
            Cert::from_der(&trailing),
            Err(MspError::MalformedIdentity(_))
        ));
        assert!(matches!(
            Cert::from_der(&leaf.der[..leaf.der.len() - 10]),
            Err(MspError::MalformedIdentity(_))
        ));
    }

    #[test]
    fn der_header_handles_long_forms() {
        assert_eq!(der_header(&[0x30, 0x05]), Some((2, 5)));
        assert_eq!(der_header(&[0x30, 0x81, 0x80]), Some((3, 128)));
        assert_eq!(der_header(&[0x30, 0x82, 0x01, 0x00]), Some((4, 256)));
        assert_eq!(der_header(&[0x30, 0x80]), None);
        assert_eq!(der_header(&[0x30]), None);
        let mut out = Vec::new();
        push_tlv(&mut out, 0x04, &[0u8; 300]);
        assert_eq!(&out[..4], &[0x04, 0x82, 0x01, 0x2c]);
    }
}
