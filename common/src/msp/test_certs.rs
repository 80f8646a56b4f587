//! Test fixtures: rcgen-made CAs, intermediates, leaf certificates with OUs, CRLs, and
//! MSP configs built from them. Shared by the msp and policy tests.

use std::sync::atomic::{AtomicU64, Ordering};

use p256::ecdsa::Signature;
use prost::Message as _;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType, IsCa, Issuer,
    KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams, SerialNumber,
};
use time::{Duration, OffsetDateTime};
use weft_proto::msp::{
    FabricCryptoConfig, FabricMspConfig, FabricNodeOUs, FabricOuIdentifier, SerializedIdentity,
};

use super::Msp;
use crate::crypto::PrivateKey;

static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1000);

fn next_serial() -> Vec<u8> {
    NEXT_SERIAL
        .fetch_add(1, Ordering::Relaxed)
        .to_be_bytes()
        .to_vec()
}

fn serialized(mspid: &str, pem: &str) -> Vec<u8> {
    SerializedIdentity {
        mspid: mspid.to_owned(),
        id_bytes: pem.as_bytes().to_vec(),
    }
    .encode_to_vec()
}

/// A test certificate authority (root or intermediate).
pub(crate) struct TestCa {
    key: KeyPair,
    params: CertificateParams,
    pub(crate) pem: String,
    pub(crate) der: Vec<u8>,
    pub(crate) serial: Vec<u8>,
}

/// A leaf certificate with its private key.
#[derive(Clone)]
pub(crate) struct TestCert {
    pub(crate) pem: String,
    pub(crate) der: Vec<u8>,
    pub(crate) key: PrivateKey,
    pub(crate) serial: Vec<u8>,
}

impl TestCert {
    /// `SerializedIdentity{mspid, pem}`, marshaled.
    pub(crate) fn serialized(&self, mspid: &str) -> Vec<u8> {
        serialized(mspid, &self.pem)
    }

    /// A Fabric signature over `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key.sign(message).expect("signing with a valid key")
    }
}

fn ca_params(cn: &str) -> CertificateParams {
    let now = OffsetDateTime::now_utc();
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Test Org");
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    params.not_before = now - Duration::days(5 * 365);
    params.not_after = now + Duration::days(10 * 365);
    params.serial_number = Some(SerialNumber::from_slice(&next_serial()));
    params
}

/// DER and PEM of an rcgen certificate with its CA signature in low-S form (aws-lc signs
/// with either S, Fabric-style tooling always emits low S), so tests can compare bytes.
fn low_s(cert: &rcgen::Certificate) -> (Vec<u8>, String) {
    use x509_parser::prelude::FromDer;
    let der = cert.der().to_vec();
    let (_, x509) = x509_parser::certificate::X509Certificate::from_der(&der).expect("cert");
    let low = crate::crypto::normalize_low_s(&x509.signature_value.data).expect("ECDSA signature");
    let der = super::cert::replace_signature(&der, &low).expect("re-encode certificate");
    let pem = super::cert::pem_encode("CERTIFICATE", &der);
    (der, pem)
}

fn rcgen_key(key: &PrivateKey) -> KeyPair {
    KeyPair::from_pem(&key.to_pkcs8_pem()).expect("rcgen reads PKCS#8")
}

impl TestCa {
    /// A self-signed root CA.
    pub(crate) fn root(cn: &str) -> TestCa {
        let key = rcgen_key(&PrivateKey::generate());
        let params = ca_params(cn);
        let cert = params.self_signed(&key).expect("self-sign");
        TestCa {
            serial: params
                .serial_number
                .as_ref()
                .map(|s| s.to_bytes())
                .unwrap_or_default(),
            pem: low_s(&cert).1,
            der: low_s(&cert).0,
            key,
            params,
        }
    }

    /// An intermediate CA issued by this CA.
    pub(crate) fn intermediate(&self, cn: &str) -> TestCa {
        let key = rcgen_key(&PrivateKey::generate());
        let mut params = ca_params(cn);
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer()).expect("sign");
        TestCa {
            serial: params
                .serial_number
                .as_ref()
                .map(|s| s.to_bytes())
                .unwrap_or_default(),
            pem: low_s(&cert).1,
            der: low_s(&cert).0,
            key,
            params,
        }
    }

    /// A CA with the same name and key identifier as `real` but another key: what it signs
    /// must not be trusted on `real`'s behalf.
    pub(crate) fn impostor_of(real: &TestCa) -> TestCa {
        let key = rcgen_key(&PrivateKey::generate());
        let mut params = real.params.clone();
        params.key_identifier_method =
            KeyIdMethod::PreSpecified(real.params.key_identifier(&real.key));
        let cert = params.self_signed(&key).expect("self-sign");
        TestCa {
            serial: real.serial.clone(),
            pem: low_s(&cert).1,
            der: low_s(&cert).0,
            key,
            params,
        }
    }

    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }

    /// The CA certificate as a serialized identity.
    pub(crate) fn serialized(&self, mspid: &str) -> Vec<u8> {
        serialized(mspid, &self.pem)
    }

    /// A leaf certificate with subject OUs `ous` (in order).
    pub(crate) fn leaf(&self, cn: &str, ous: &[&str]) -> TestCert {
        self.leaf_with(cn, ous, |_| {})
    }

    /// A leaf certificate whose parameters `adjust` may change (validity, EKU…).
    pub(crate) fn leaf_with(
        &self,
        cn: &str,
        ous: &[&str],
        adjust: impl FnOnce(&mut CertificateParams),
    ) -> TestCert {
        let key = PrivateKey::generate();
        let params = self.leaf_params(cn, ous, adjust);
        let cert = params
            .signed_by(&rcgen_key(&key), &self.issuer())
            .expect("sign");
        TestCert {
            pem: low_s(&cert).1,
            der: low_s(&cert).0,
            key,
            serial: params
                .serial_number
                .as_ref()
                .map(|s| s.to_bytes())
                .unwrap_or_default(),
        }
    }

    /// A leaf certificate with a P-384 key (not supported by Weft), as PEM.
    pub(crate) fn leaf_p384(&self, cn: &str) -> String {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("P-384 key");
        let params = self.leaf_params(cn, &[], |_| {});
        params.signed_by(&key, &self.issuer()).expect("sign").pem()
    }

    fn leaf_params(
        &self,
        cn: &str,
        ous: &[&str],
        adjust: impl FnOnce(&mut CertificateParams),
    ) -> CertificateParams {
        let now = OffsetDateTime::now_utc();
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Test Org");
        // rcgen keeps one value per attribute type, so further OUs use the OU OID as a
        // custom type; both encode as id-at-organizationalUnitName.
        assert!(ous.len() <= 2, "test certificates carry at most two OUs");
        for (i, ou) in ous.iter().enumerate() {
            let ty = if i == 0 {
                DnType::OrganizationalUnitName
            } else {
                DnType::CustomDnType(vec![2, 5, 4, 11])
            };
            params.distinguished_name.push(ty, *ou);
        }
        params.distinguished_name.push(DnType::CommonName, cn);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(365);
        params.serial_number = Some(SerialNumber::from_slice(&next_serial()));
        adjust(&mut params);
        params
    }

    /// A PEM CRL by this CA revoking `certs`.
    pub(crate) fn crl(&self, certs: &[&TestCert]) -> String {
        self.crl_serials(&certs.iter().map(|c| c.serial.clone()).collect::<Vec<_>>())
    }

    /// A PEM CRL by this CA revoking the given serial numbers.
    pub(crate) fn crl_serials(&self, serials: &[Vec<u8>]) -> String {
        let now = OffsetDateTime::now_utc();
        let params = CertificateRevocationListParams {
            this_update: now - Duration::days(1),
            next_update: now + Duration::days(30),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|s| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(s),
                    revocation_time: now - Duration::hours(1),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: self.params.key_identifier_method.clone(),
        };
        params
            .signed_by(&self.issuer())
            .expect("sign CRL")
            .pem()
            .expect("CRL PEM")
    }
}

/// A verifying `FabricMSPConfig` with these CAs, SHA2/SHA256, nothing else.
pub(crate) fn fabric_config(
    name: &str,
    roots: &[&TestCa],
    intermediates: &[&TestCa],
) -> FabricMspConfig {
    FabricMspConfig {
        name: name.to_owned(),
        root_certs: roots.iter().map(|c| c.pem.clone().into_bytes()).collect(),
        intermediate_certs: intermediates
            .iter()
            .map(|c| c.pem.clone().into_bytes())
            .collect(),
        crypto_config: Some(FabricCryptoConfig {
            signature_hash_family: "SHA2".into(),
            identity_identifier_hash_function: "SHA256".into(),
        }),
        ..Default::default()
    }
}

/// Enabled NodeOUs client/peer/admin/orderer, each tied to `ca_pem` when given.
pub(crate) fn node_ous(ca_pem: Option<&str>) -> FabricNodeOUs {
    let ou = |name: &str| {
        Some(FabricOuIdentifier {
            certificate: ca_pem.map(|p| p.as_bytes().to_vec()).unwrap_or_default(),
            organizational_unit_identifier: name.to_owned(),
        })
    };
    FabricNodeOUs {
        enable: true,
        client_ou_identifier: ou("client"),
        peer_ou_identifier: ou("peer"),
        admin_ou_identifier: ou("admin"),
        orderer_ou_identifier: ou("orderer"),
    }
}

/// An organization with a root CA and NodeOUs (the cryptogen default).
pub(crate) struct TestOrg {
    pub(crate) name: String,
    pub(crate) ca: TestCa,
}

impl TestOrg {
    /// A new organization for MSP id `name`.
    pub(crate) fn new(name: &str) -> TestOrg {
        TestOrg {
            name: name.to_owned(),
            ca: TestCa::root(&format!("ca.{}", name.to_lowercase())),
        }
    }

    /// Its `FabricMSPConfig`.
    pub(crate) fn config(&self) -> FabricMspConfig {
        let mut config = fabric_config(&self.name, &[&self.ca], &[]);
        config.fabric_node_ous = Some(node_ous(Some(&self.ca.pem)));
        config
    }

    /// Its verifying MSP.
    pub(crate) fn msp(&self) -> Msp {
        Msp::new(&self.config()).expect("test MSP config is valid")
    }

    /// A member certificate carrying the NodeOU `ou`.
    pub(crate) fn member(&self, ou: &str) -> TestCert {
        self.ca.leaf(&format!("{ou}.{}", self.name), &[ou])
    }
}

/// The group order n of P-256, big-endian.
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// The high-S twin (r, n − s) of a low-S DER signature.
pub(crate) fn high_s(der: &[u8]) -> Vec<u8> {
    let sig = Signature::from_der(der).expect("DER signature");
    let (r, s) = sig.split_bytes();
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = P256_ORDER[i] as i16 - s[i] as i16 - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    Signature::from_scalars(r, p256::FieldBytes::from(out))
        .expect("valid scalars")
        .to_der()
        .as_bytes()
        .to_vec()
}

/// The certificate `der` with its CA signature replaced by the high-S twin.
pub(crate) fn with_high_s_signature(der: &[u8]) -> Vec<u8> {
    use x509_parser::prelude::FromDer;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der).expect("cert");
    let high = high_s(&cert.signature_value.data);
    super::cert::replace_signature(der, &high).expect("re-encode certificate")
}
