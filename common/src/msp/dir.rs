//! Loading an MSP directory in Fabric's layout (what cryptogen and fabric-ca-client write).
//!
//! ```text
//! msp/
//!   cacerts/  intermediatecerts/  admincerts/  crls/  tlscacerts/  tlsintermediatecerts/
//!   signcerts/  keystore/        (local MSPs only)
//!   config.yaml                  (NodeOUs, OrganizationalUnitIdentifiers)
//! ```
//!
//! Each certificate directory contributes every regular file that holds a PEM block, whole
//! and in file-name order; other files are skipped. Missing directories are fine except
//! `cacerts/`.

use std::fs;
use std::path::{Path, PathBuf};

use prost::Message as _;
use serde::Deserialize;
use weft_proto::msp::{
    FabricCryptoConfig, FabricMspConfig, FabricNodeOUs, FabricOuIdentifier, MspConfig,
};

use super::cert::pem_decode;
use super::{Msp, MspError, SigningIdentity};
use crate::crypto::PrivateKey;

/// An MSP directory: the verifying MSP config it describes (what configtxgen puts in a
/// channel config) and, for a local MSP, the signing identity from `signcerts/` + `keystore/`.
#[derive(Debug, Clone)]
pub struct MspDir {
    /// The verifying `FabricMSPConfig` (certificates as PEM file contents, NodeOU
    /// certificates embedded, crypto config SHA2/SHA256, no signing identity).
    pub config: FabricMspConfig,
    /// The node's signing identity, when `signcerts/` holds a certificate and `keystore/`
    /// exists.
    pub signing_identity: Option<SigningIdentity>,
}

/// `config.yaml`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ConfigYaml {
    #[serde(rename = "OrganizationalUnitIdentifiers")]
    organizational_unit_identifiers: Vec<OuYaml>,
    #[serde(rename = "NodeOUs")]
    node_ous: Option<NodeOusYaml>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OuYaml {
    #[serde(rename = "Certificate")]
    certificate: String,
    #[serde(rename = "OrganizationalUnitIdentifier")]
    organizational_unit_identifier: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NodeOusYaml {
    #[serde(rename = "Enable")]
    enable: bool,
    #[serde(rename = "ClientOUIdentifier")]
    client: Option<OuYaml>,
    #[serde(rename = "PeerOUIdentifier")]
    peer: Option<OuYaml>,
    #[serde(rename = "AdminOUIdentifier")]
    admin: Option<OuYaml>,
    #[serde(rename = "OrdererOUIdentifier")]
    orderer: Option<OuYaml>,
}

/// A file's path and contents.
type PemFile = (PathBuf, Vec<u8>);

/// Files of `dir` that hold a PEM block, in name order; `Ok(None)` when `dir` is missing.
fn pem_files(dir: &Path) -> Result<Option<Vec<PemFile>>, MspError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(MspError::io(dir, &e)),
    };
    let mut paths: Vec<PathBuf> = entries
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| MspError::io(dir, &e))?;
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        if !path.is_file() {
            continue;
        }
        match fs::read(&path) {
            Ok(bytes) if pem_decode(&bytes).is_some() => files.push((path, bytes)),
            // Like Fabric: unreadable or non-PEM files are skipped.
            _ => continue,
        }
    }
    Ok(Some(files))
}

fn pem_contents(dir: &Path) -> Result<Vec<Vec<u8>>, MspError> {
    Ok(pem_files(dir)?
        .unwrap_or_default()
        .into_iter()
        .map(|(_, bytes)| bytes)
        .collect())
}

/// `dir` joined with a path from `config.yaml` (relative to the MSP directory, as in Go's
/// `filepath.Join`, even when it starts with `/`).
fn join(dir: &Path, relative: &str) -> PathBuf {
    dir.join(relative.trim_start_matches('/'))
}

impl MspDir {
    /// Reads the MSP directory `dir` for MSP id `mspid`.
    pub fn load(dir: &Path, mspid: &str) -> Result<MspDir, MspError> {
        let cacerts_dir = dir.join("cacerts");
        let cacerts = match pem_files(&cacerts_dir)? {
            Some(files) => files.into_iter().map(|(_, b)| b).collect::<Vec<_>>(),
            None => {
                return Err(MspError::Io {
                    path: cacerts_dir,
                    kind: std::io::ErrorKind::NotFound,
                    message: "the cacerts directory is missing".into(),
                });
            }
        };
        if cacerts.is_empty() {
            return Err(MspError::Config(format!(
                "no CA certificate in {}",
                cacerts_dir.display()
            )));
        }
        let tls_root_certs = pem_contents(&dir.join("tlscacerts"))?;
        let tls_intermediate_certs = if tls_root_certs.is_empty() {
            Vec::new()
        } else {
            pem_contents(&dir.join("tlsintermediatecerts"))?
        };
        let (organizational_unit_identifiers, fabric_node_ous) = read_config_yaml(dir)?;
        let config = FabricMspConfig {
            name: mspid.to_owned(),
            root_certs: cacerts,
            intermediate_certs: pem_contents(&dir.join("intermediatecerts"))?,
            admins: pem_contents(&dir.join("admincerts"))?,
            revocation_list: pem_contents(&dir.join("crls"))?,
            signing_identity: None,
            organizational_unit_identifiers,
            crypto_config: Some(FabricCryptoConfig {
                signature_hash_family: "SHA2".into(),
                identity_identifier_hash_function: "SHA256".into(),
            }),
            tls_root_certs,
            tls_intermediate_certs,
            fabric_node_ous,
        };
        let signing_identity = load_signing_identity(dir, mspid)?;
        Ok(MspDir {
            config,
            signing_identity,
        })
    }

    /// The `MSPConfig` (type 0, FABRIC) wrapping [`MspDir::config`], as a channel config holds it.
    pub fn msp_config(&self) -> MspConfig {
        MspConfig {
            r#type: 0,
            config: self.config.encode_to_vec(),
        }
    }

    /// The verifying MSP for [`MspDir::config`].
    pub fn msp(&self) -> Result<Msp, MspError> {
        Msp::new(&self.config)
    }
}

fn read_config_yaml(
    dir: &Path,
) -> Result<(Vec<FabricOuIdentifier>, Option<FabricNodeOUs>), MspError> {
    let path = dir.join("config.yaml");
    let raw = match fs::read_to_string(&path) {
        Ok(raw) => raw,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), None)),
        Err(e) => return Err(MspError::io(&path, &e)),
    };
    let config: ConfigYaml = if raw.trim().is_empty() {
        ConfigYaml::default()
    } else {
        serde_yaml::from_str(&raw)
            .map_err(|e| MspError::Config(format!("cannot parse {}: {e}", path.display())))?
    };

    let mut ous = Vec::new();
    for ou in &config.organizational_unit_identifiers {
        let cert_path = join(dir, &ou.certificate);
        let certificate = fs::read(&cert_path).map_err(|e| MspError::io(&cert_path, &e))?;
        ous.push(FabricOuIdentifier {
            certificate,
            organizational_unit_identifier: ou.organizational_unit_identifier.clone(),
        });
    }

    let node_ous = match config.node_ous {
        Some(node) if node.enable => {
            // Like Fabric: an OU certificate that cannot be read is left out (the OU then
            // accepts any of the MSP's CAs).
            let convert = |ou: Option<OuYaml>| {
                ou.filter(|o| !o.organizational_unit_identifier.is_empty())
                    .map(|o| FabricOuIdentifier {
                        certificate: if o.certificate.is_empty() {
                            Vec::new()
                        } else {
                            fs::read(join(dir, &o.certificate)).unwrap_or_default()
                        },
                        organizational_unit_identifier: o.organizational_unit_identifier,
                    })
            };
            Some(FabricNodeOUs {
                enable: true,
                client_ou_identifier: convert(node.client),
                peer_ou_identifier: convert(node.peer),
                admin_ou_identifier: convert(node.admin),
                orderer_ou_identifier: convert(node.orderer),
            })
        }
        _ => None,
    };
    Ok((ous, node_ous))
}

/// The first certificate of `signcerts/` with the `keystore/` key whose public key matches.
fn load_signing_identity(dir: &Path, mspid: &str) -> Result<Option<SigningIdentity>, MspError> {
    let signcerts_dir = dir.join("signcerts");
    let keystore_dir = dir.join("keystore");
    let Some((cert_path, cert_pem)) = pem_files(&signcerts_dir)?
        .unwrap_or_default()
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let Some(keys) = pem_files(&keystore_dir)? else {
        return Ok(None);
    };
    let cert = super::Identity::from_pem(mspid, &cert_pem)
        .map_err(|e| MspError::Config(format!("{}: {e}", cert_path.display())))?;
    for (_, key_pem) in keys {
        let Ok(text) = std::str::from_utf8(&key_pem) else {
            continue;
        };
        let Ok(key) = PrivateKey::from_pem(text) else {
            continue;
        };
        if &key.public_key() == cert.public_key() {
            return SigningIdentity::new(mspid, &cert_pem, key).map(Some);
        }
    }
    Err(MspError::Config(format!(
        "no private key in {} matches the certificate {}",
        keystore_dir.display(),
        cert_path.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Signer;
    use crate::msp::test_certs::TestCa;
    use crate::msp::{MspManager, Principal, Role};

    fn write(path: &Path, contents: &[u8]) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, contents).unwrap();
    }

    const CONFIG_YAML: &str = "\
NodeOUs:
  Enable: true
  ClientOUIdentifier:
    Certificate: cacerts/ca.org1.example.com-cert.pem
    OrganizationalUnitIdentifier: client
  PeerOUIdentifier:
    Certificate: cacerts/ca.org1.example.com-cert.pem
    OrganizationalUnitIdentifier: peer
  AdminOUIdentifier:
    Certificate: cacerts/ca.org1.example.com-cert.pem
    OrganizationalUnitIdentifier: admin
  OrdererOUIdentifier:
    Certificate: cacerts/ca.org1.example.com-cert.pem
    OrganizationalUnitIdentifier: orderer
";

    #[test]
    fn loads_a_cryptogen_style_local_msp() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let ca = TestCa::root("ca.org1.example.com");
        let peer = ca.leaf("peer0.org1.example.com", &["peer"]);
        write(
            &dir.join("cacerts/ca.org1.example.com-cert.pem"),
            ca.pem.as_bytes(),
        );
        write(&dir.join("cacerts/README"), b"not a certificate");
        write(&dir.join("tlscacerts/tlsca.pem"), ca.pem.as_bytes());
        write(
            &dir.join("signcerts/peer0.org1.example.com-cert.pem"),
            peer.pem.as_bytes(),
        );
        write(
            &dir.join("keystore/other_sk"),
            PrivateKey::generate().to_pkcs8_pem().as_bytes(),
        );
        write(
            &dir.join("keystore/priv_sk"),
            peer.key.to_pkcs8_pem().as_bytes(),
        );
        write(&dir.join("config.yaml"), CONFIG_YAML.as_bytes());

        let loaded = MspDir::load(dir, "Org1MSP").unwrap();
        let config = &loaded.config;
        assert_eq!(config.name, "Org1MSP");
        assert_eq!(config.root_certs, vec![ca.pem.clone().into_bytes()]);
        assert_eq!(config.tls_root_certs, vec![ca.pem.clone().into_bytes()]);
        assert!(config.admins.is_empty() && config.intermediate_certs.is_empty());
        assert!(config.signing_identity.is_none());
        let crypto = config.crypto_config.as_ref().unwrap();
        assert_eq!(
            (
                crypto.signature_hash_family.as_str(),
                crypto.identity_identifier_hash_function.as_str()
            ),
            ("SHA2", "SHA256")
        );
        let node_ous = config.fabric_node_ous.as_ref().unwrap();
        assert!(node_ous.enable);
        let peer_ou = node_ous.peer_ou_identifier.as_ref().unwrap();
        assert_eq!(peer_ou.organizational_unit_identifier, "peer");
        assert_eq!(peer_ou.certificate, ca.pem.clone().into_bytes());
        assert_eq!(loaded.msp_config().r#type, 0);
        assert_eq!(
            FabricMspConfig::decode(loaded.msp_config().config.as_slice()).unwrap(),
            *config
        );

        let signer = loaded.signing_identity.as_ref().expect("signing identity");
        assert_eq!(signer.identity().certificate_der(), &peer.der[..]);
        let msp = loaded.msp().unwrap();
        assert!(msp.node_ous_enabled());
        let manager = MspManager::new(vec![msp]);
        let id = manager.deserialize_identity(signer.creator()).unwrap();
        assert_eq!(
            manager.satisfies(&id, &Principal::role("Org1MSP", Role::Peer)),
            Ok(())
        );
        id.verify(b"m", &signer.sign(b"m").unwrap()).unwrap();
    }

    #[test]
    fn verifying_msp_dir_without_signcerts() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let root = TestCa::root("ca.org2");
        let inter = root.intermediate("ica.org2");
        let admin = inter.leaf("Admin@org2", &[]);
        let revoked = inter.leaf("gone", &[]);
        write(&dir.join("cacerts/ca.pem"), root.pem.as_bytes());
        write(&dir.join("intermediatecerts/ica.pem"), inter.pem.as_bytes());
        write(&dir.join("admincerts/admin.pem"), admin.pem.as_bytes());
        write(&dir.join("crls/crl.pem"), inter.crl(&[&revoked]).as_bytes());
        write(
            &dir.join("config.yaml"),
            b"OrganizationalUnitIdentifiers:\n  - Certificate: intermediatecerts/ica.pem\n    OrganizationalUnitIdentifier: COP\nNodeOUs:\n  Enable: false\n",
        );
        let loaded = MspDir::load(dir, "Org2MSP").unwrap();
        assert!(loaded.signing_identity.is_none());
        assert!(loaded.config.fabric_node_ous.is_none());
        assert_eq!(loaded.config.organizational_unit_identifiers.len(), 1);
        assert_eq!(loaded.config.revocation_list.len(), 1);
        // The admin has no COP OU, so the legacy OU rule refuses it at setup.
        assert!(matches!(loaded.msp(), Err(MspError::Config(_))));
    }

    #[test]
    fn missing_or_bad_parts_are_typed_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        assert!(matches!(
            MspDir::load(dir, "Org1MSP"),
            Err(MspError::Io {
                kind: std::io::ErrorKind::NotFound,
                ..
            })
        ));
        fs::create_dir_all(dir.join("cacerts")).unwrap();
        assert!(matches!(
            MspDir::load(dir, "Org1MSP"),
            Err(MspError::Config(_))
        ));

        let ca = TestCa::root("ca.org1");
        write(&dir.join("cacerts/ca.pem"), ca.pem.as_bytes());
        write(&dir.join("config.yaml"), b"NodeOUs: [not, a, map]\n");
        assert!(matches!(
            MspDir::load(dir, "Org1MSP"),
            Err(MspError::Config(_))
        ));

        write(
            &dir.join("config.yaml"),
            b"OrganizationalUnitIdentifiers:\n  - Certificate: cacerts/missing.pem\n    OrganizationalUnitIdentifier: x\n",
        );
        assert!(matches!(
            MspDir::load(dir, "Org1MSP"),
            Err(MspError::Io { .. })
        ));

        write(&dir.join("config.yaml"), b"");
        let peer = ca.leaf("peer0", &["peer"]);
        write(&dir.join("signcerts/cert.pem"), peer.pem.as_bytes());
        fs::create_dir_all(dir.join("keystore")).unwrap();
        write(
            &dir.join("keystore/priv_sk"),
            PrivateKey::generate().to_pkcs8_pem().as_bytes(),
        );
        assert!(matches!(
            MspDir::load(dir, "Org1MSP"),
            Err(MspError::Config(_))
        ));
    }
}
