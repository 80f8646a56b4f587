//! MSP directories as cryptogen writes them: the org's verifying MSP (`msp/`) and each
//! node's or user's local MSP plus TLS material (`msp/`, `tls/`).

use std::path::Path;

use super::ca::{self, Ca, CertKind};
use super::{CryptogenError, create_dir, write_file};
use crate::pem;

/// What kind of identity a local MSP is for; picks the NodeOU and the TLS file names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeType {
    /// A client (user); TLS files are `client.crt` / `client.key`.
    Client,
    /// An orderer node; TLS files are `server.crt` / `server.key`.
    Orderer,
    /// A peer node; TLS files are `server.crt` / `server.key`.
    Peer,
    /// An org admin (only distinct from `Client` when NodeOUs are on).
    Admin,
}

impl NodeType {
    /// The NodeOU identifier Fabric's MSP config names this role with.
    pub fn ou(self) -> &'static str {
        match self {
            NodeType::Client => "client",
            NodeType::Orderer => "orderer",
            NodeType::Peer => "peer",
            NodeType::Admin => "admin",
        }
    }

    fn tls_prefix(self) -> &'static str {
        match self {
            NodeType::Client | NodeType::Admin => "client",
            NodeType::Orderer | NodeType::Peer => "server",
        }
    }
}

/// Writes a node's or user's material under `base_dir`:
/// `msp/{admincerts,cacerts,keystore/priv_sk,signcerts/<name>-cert.pem,tlscacerts,config.yaml}`
/// and `tls/{ca.crt,<server|client>.crt,<server|client>.key}`.
pub fn generate_local_msp(
    base_dir: &Path,
    name: &str,
    sans: &[String],
    sign_ca: &Ca,
    tls_ca: &Ca,
    node_type: NodeType,
    node_ous: bool,
) -> Result<(), CryptogenError> {
    let msp_dir = base_dir.join("msp");
    let tls_dir = base_dir.join("tls");
    create_msp_folders(&msp_dir, true)?;
    create_dir(&tls_dir)?;

    // The signing identity.
    let key = ca::generate_key(&msp_dir.join("keystore"))?;
    let ous: Vec<&str> = if node_ous {
        vec![node_type.ou()]
    } else {
        Vec::new()
    };
    let cert = sign_ca.issue(name, &ous, &[], &key, CertKind::Signing)?;
    let cert_pem = pem::encode("CERTIFICATE", &cert);
    write_file(
        &msp_dir.join("signcerts").join(ca::cert_file_name(name)),
        cert_pem.as_bytes(),
    )?;
    write_ca_certs(&msp_dir, sign_ca, tls_ca)?;
    if node_ous {
        write_node_ou_config(&msp_dir, &sign_ca.name)?;
    } else {
        // Without NodeOUs the identity is listed as its own admin; for peers and
        // orderers the org admin's certificate replaces it afterwards.
        write_file(
            &msp_dir.join("admincerts").join(ca::cert_file_name(name)),
            cert_pem.as_bytes(),
        )?;
    }

    // TLS.
    let tls_key = PrivateKeyFiles::new(&tls_dir, node_type.tls_prefix());
    let key = ca::generate_key(&tls_dir)?;
    let tls_cert = tls_ca.issue(name, &[], sans, &key, CertKind::Tls)?;
    write_file(&tls_dir.join("ca.crt"), tls_ca.cert_pem().as_bytes())?;
    write_file(
        &tls_key.cert,
        pem::encode("CERTIFICATE", &tls_cert).as_bytes(),
    )?;
    std::fs::rename(tls_dir.join(ca::PRIVATE_KEY_FILE), &tls_key.key)
        .map_err(|e| CryptogenError::io(&tls_key.key, e))?;
    Ok(())
}

/// Writes an organization's verifying MSP in `msp_dir`:
/// `{admincerts,cacerts/<ca>-cert.pem,tlscacerts/<tlsca>-cert.pem,config.yaml}`.
/// Without NodeOUs a placeholder admin certificate goes into `admincerts/`; the org
/// admin's certificate replaces it once the users exist.
pub fn generate_verifying_msp(
    msp_dir: &Path,
    sign_ca: &Ca,
    tls_ca: &Ca,
    node_ous: bool,
) -> Result<(), CryptogenError> {
    create_msp_folders(msp_dir, false)?;
    write_ca_certs(msp_dir, sign_ca, tls_ca)?;
    if node_ous {
        return write_node_ou_config(msp_dir, &sign_ca.name);
    }
    let key = weft_common::crypto::PrivateKey::generate();
    let cert = sign_ca.issue(&sign_ca.name, &[], &[], &key, CertKind::Signing)?;
    write_file(
        &msp_dir
            .join("admincerts")
            .join(ca::cert_file_name(&sign_ca.name)),
        pem::encode("CERTIFICATE", &cert).as_bytes(),
    )
}

/// The NodeOUs `config.yaml` cryptogen writes: every node OU certified by the org's
/// signing CA, whose certificate sits in `cacerts/`.
pub fn node_ou_config(ca_name: &str) -> String {
    let cert = format!("cacerts/{}", ca::cert_file_name(ca_name));
    let mut out = String::from("NodeOUs:\n  Enable: true\n");
    for (key, ou) in [
        ("ClientOUIdentifier", "client"),
        ("PeerOUIdentifier", "peer"),
        ("AdminOUIdentifier", "admin"),
        ("OrdererOUIdentifier", "orderer"),
    ] {
        out.push_str(&format!(
            "  {key}:\n    Certificate: {cert}\n    OrganizationalUnitIdentifier: {ou}\n"
        ));
    }
    out
}

fn write_node_ou_config(msp_dir: &Path, ca_name: &str) -> Result<(), CryptogenError> {
    write_file(
        &msp_dir.join("config.yaml"),
        node_ou_config(ca_name).as_bytes(),
    )
}

fn write_ca_certs(msp_dir: &Path, sign_ca: &Ca, tls_ca: &Ca) -> Result<(), CryptogenError> {
    write_file(
        &msp_dir
            .join("cacerts")
            .join(ca::cert_file_name(&sign_ca.name)),
        sign_ca.cert_pem().as_bytes(),
    )?;
    write_file(
        &msp_dir
            .join("tlscacerts")
            .join(ca::cert_file_name(&tls_ca.name)),
        tls_ca.cert_pem().as_bytes(),
    )
}

fn create_msp_folders(msp_dir: &Path, local: bool) -> Result<(), CryptogenError> {
    let mut folders = vec!["admincerts", "cacerts", "tlscacerts"];
    if local {
        folders.extend(["keystore", "signcerts"]);
    }
    for folder in folders {
        create_dir(&msp_dir.join(folder))?;
    }
    Ok(())
}

/// `tls/<prefix>.crt` and `tls/<prefix>.key`.
struct PrivateKeyFiles {
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
}

impl PrivateKeyFiles {
    fn new(tls_dir: &Path, prefix: &str) -> Self {
        Self {
            cert: tls_dir.join(format!("{prefix}.crt")),
            key: tls_dir.join(format!("{prefix}.key")),
        }
    }
}
