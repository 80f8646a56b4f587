//! [`ClientIdentity`]: who submitted the transaction, as fabric-chaincode-go's `pkg/cid`
//! (and so fabric-contract-api-go's `GetClientIdentity`) sees it.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use prost::Message;
use x509_parser::certificate::X509Certificate;
use x509_parser::x509::X509Name;

use crate::proto::SerializedIdentity;

/// OID of Fabric CA's attribute extension (`{"attrs":{name: value}}`).
pub const ATTRIBUTES_OID: &str = "1.2.3.4.5.6.7.8.1";

/// Why the client identity is unavailable or an assertion failed (Go's texts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentityError {
    /// The creator bytes are not a `SerializedIdentity`.
    Creator(String),
    /// The identity is not an X.509 PEM certificate (idemix is not supported).
    NotX509,
    /// The certificate does not parse.
    Certificate(String),
    /// The attribute extension is not `{"attrs":{…}}` JSON.
    Attributes(String),
    /// `assert_attribute_value`: the attribute is absent.
    AttributeNotFound(String),
    /// `assert_attribute_value`: the attribute has another value.
    AttributeMismatch {
        /// The attribute.
        name: String,
        /// Its value.
        actual: String,
        /// The value asserted.
        expected: String,
    },
}

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Creator(e) => {
                write!(f, "failed to unmarshal transaction invoker's identity: {e}")
            }
            Self::NotX509 => {
                f.write_str("identity bytes are neither X509 PEM format nor an idemix credential")
            }
            Self::Certificate(e) => write!(f, "failed to parse certificate: {e}"),
            Self::Attributes(e) => write!(
                f,
                "failed to get attributes from the transaction invoker's certificate: failed to unmarshal attributes from certificate: {e}"
            ),
            Self::AttributeNotFound(name) => write!(f, "attribute '{name}' was not found"),
            Self::AttributeMismatch {
                name,
                actual,
                expected,
            } => write!(f, "attribute '{name}' equals '{actual}', not '{expected}'"),
        }
    }
}

impl std::error::Error for IdentityError {}

/// The transaction's creator: MSP id, X.509 certificate and Fabric CA attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientIdentity {
    msp_id: String,
    cert_der: Vec<u8>,
    subject: String,
    issuer: String,
    organizational_units: Vec<String>,
    attributes: BTreeMap<String, String>,
}

#[derive(serde::Deserialize)]
struct Attrs {
    #[serde(default)]
    attrs: BTreeMap<String, String>,
}

impl ClientIdentity {
    /// Parses the creator bytes (an encoded `SerializedIdentity` holding a PEM
    /// certificate).
    pub fn from_creator(creator: &[u8]) -> Result<Self, IdentityError> {
        let sid = SerializedIdentity::decode(creator)
            .map_err(|e| IdentityError::Creator(e.to_string()))?;
        let (_, pem) =
            x509_parser::pem::parse_x509_pem(&sid.id_bytes).map_err(|_| IdentityError::NotX509)?;
        if pem.label != "CERTIFICATE" && !pem.label.is_empty() {
            return Err(IdentityError::NotX509);
        }
        let cert = pem
            .parse_x509()
            .map_err(|e| IdentityError::Certificate(e.to_string()))?;
        let subject = go_name(cert.subject());
        let issuer = go_name(cert.issuer());
        let mut attributes = BTreeMap::new();
        for ext in cert.extensions() {
            if ext.oid.to_id_string() == ATTRIBUTES_OID {
                let parsed: Attrs = serde_json::from_slice(ext.value)
                    .map_err(|e| IdentityError::Attributes(e.to_string()))?;
                attributes = parsed.attrs;
            }
        }
        Ok(Self {
            msp_id: sid.mspid,
            cert_der: pem.contents.clone(),
            subject: subject.dn(),
            issuer: issuer.dn(),
            organizational_units: subject.ou,
            attributes,
        })
    }

    /// The unique id Fabric's Go contract API gives the identity:
    /// base64(`x509::<subject DN>::<issuer DN>`), the DNs in Go's `pkix.Name` format.
    pub fn id(&self) -> String {
        base64::engine::general_purpose::STANDARD
            .encode(format!("x509::{}::{}", self.subject, self.issuer))
    }

    /// The MSP id.
    pub fn msp_id(&self) -> &str {
        &self.msp_id
    }

    /// The subject DN, in Go's `pkix.Name.String()` format.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The issuer DN, in Go's `pkix.Name.String()` format.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The DER bytes of the X.509 certificate.
    pub fn certificate_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The parsed X.509 certificate.
    pub fn certificate(&self) -> Result<X509Certificate<'_>, IdentityError> {
        x509_parser::parse_x509_certificate(&self.cert_der)
            .map(|(_, cert)| cert)
            .map_err(|e| IdentityError::Certificate(e.to_string()))
    }

    /// Every Fabric CA attribute of the certificate.
    pub fn attributes(&self) -> &BTreeMap<String, String> {
        &self.attributes
    }

    /// The value of Fabric CA attribute `name`, if the certificate has it.
    pub fn attribute_value(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }

    /// Checks that attribute `name` has `value` (Go's `AssertAttributeValue`).
    pub fn assert_attribute_value(&self, name: &str, value: &str) -> Result<(), IdentityError> {
        match self.attribute_value(name) {
            None => Err(IdentityError::AttributeNotFound(name.to_owned())),
            Some(actual) if actual != value => Err(IdentityError::AttributeMismatch {
                name: name.to_owned(),
                actual: actual.to_owned(),
                expected: value.to_owned(),
            }),
            Some(_) => Ok(()),
        }
    }

    /// Whether the subject has organizational unit `ou`.
    pub fn has_ou_value(&self, ou: &str) -> bool {
        self.organizational_units.iter().any(|v| v == ou)
    }
}

/// The fields of Go's `pkix.Name` that `FillFromRDNSequence` keeps.
#[derive(Default)]
struct GoName {
    country: Vec<String>,
    province: Vec<String>,
    locality: Vec<String>,
    street: Vec<String>,
    postal_code: Vec<String>,
    organization: Vec<String>,
    ou: Vec<String>,
    common_name: String,
    serial_number: String,
}

fn go_name(name: &X509Name<'_>) -> GoName {
    let mut n = GoName::default();
    for rdn in name.iter() {
        for atv in rdn.iter() {
            // Go keeps only string-valued attributes.
            let Ok(value) = atv.as_str() else { continue };
            let value = value.to_owned();
            match atv.attr_type().to_id_string().as_str() {
                "2.5.4.6" => n.country.push(value),
                "2.5.4.8" => n.province.push(value),
                "2.5.4.7" => n.locality.push(value),
                "2.5.4.9" => n.street.push(value),
                "2.5.4.17" => n.postal_code.push(value),
                "2.5.4.10" => n.organization.push(value),
                "2.5.4.11" => n.ou.push(value),
                "2.5.4.3" => n.common_name = value,
                "2.5.4.5" => n.serial_number = value,
                _ => {}
            }
        }
    }
    n
}

impl GoName {
    /// Go's `ToRDNSequence` (fixed attribute order, one multi-valued RDN per type),
    /// printed as `RDNSequence.String()` does: last RDN first.
    fn dn(&self) -> String {
        let cn = [self.common_name.clone()];
        let sn = [self.serial_number.clone()];
        let rdns: [(&str, &[String]); 9] = [
            ("C", &self.country),
            ("ST", &self.province),
            ("L", &self.locality),
            ("STREET", &self.street),
            ("POSTALCODE", &self.postal_code),
            ("O", &self.organization),
            ("OU", &self.ou),
            (
                "CN",
                if self.common_name.is_empty() {
                    &[]
                } else {
                    &cn
                },
            ),
            (
                "SERIALNUMBER",
                if self.serial_number.is_empty() {
                    &[]
                } else {
                    &sn
                },
            ),
        ];
        rdns.iter()
            .rev()
            .filter(|(_, values)| !values.is_empty())
            .map(|(name, values)| {
                values
                    .iter()
                    .map(|v| format!("{name}={}", escape(v)))
                    .collect::<Vec<_>>()
                    .join("+")
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Go's RFC 2253 escaping in `RDNSequence.String()`.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.len().saturating_sub(1);
    for (index, c) in value.char_indices() {
        let escaped = match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => true,
            ' ' => index == 0 || index == last,
            '#' => index == 0,
            _ => false,
        };
        if escaped {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go() {
        assert_eq!(escape(" a,b "), "\\ a\\,b\\ ");
        assert_eq!(escape("#x#"), "\\#x#");
        assert_eq!(escape("a+b;c<d>\"e\\"), "a\\+b\\;c\\<d\\>\\\"e\\\\");
    }
}
