//! `cryptogen`: test-network key material from a `crypto-config.yaml`.
//!
//! The input format and the output tree are Fabric's:
//!
//! ```text
//! <out>/peerOrganizations/<domain>/
//!     ca/{ca.<domain>-cert.pem, priv_sk}
//!     tlsca/{tlsca.<domain>-cert.pem, priv_sk}
//!     msp/{admincerts/, cacerts/, tlscacerts/, config.yaml}
//!     peers/<host>.<domain>/{msp/…, tls/{ca.crt, server.crt, server.key}}
//!     users/{Admin,User1}@<domain>/{msp/…, tls/{ca.crt, client.crt, client.key}}
//! <out>/ordererOrganizations/<domain>/… (orderers/ instead of peers/, Admin user only)
//! ```
//!
//! Keys are ECDSA P-256 in PKCS#8 PEM; certificates carry the subjects, OUs, SANs, key
//! usages and key identifiers Fabric's cryptogen gives them. It is for development
//! and tests only, never for production identities.

pub mod ca;
pub mod msp;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

use ca::{Ca, SubjectFields};
use msp::NodeType;

/// Everything that can go wrong while generating crypto material.
#[derive(Debug, thiserror::Error)]
pub enum CryptogenError {
    /// Reading or writing a file or directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The configuration is not valid YAML or does not have the expected shape.
    #[error("error parsing crypto config: {0}")]
    Yaml(#[from] serde_yaml::Error),
    /// A `{{.Field}}` template in a hostname, common name or SAN could not be expanded.
    #[error("error in template '{template}': {reason}")]
    Template {
        /// The template text.
        template: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The configuration asks for something that cannot be produced.
    #[error("invalid crypto config: {0}")]
    InvalidSpec(String),
    /// A certificate could not be built or signed.
    #[error("error creating certificate for {name}: {reason}")]
    Certificate {
        /// The certificate's common name.
        name: String,
        /// What went wrong.
        reason: String,
    },
    /// A private key on disk could not be read.
    #[error("{path}: bad private key: {reason}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// `extend` found an organization directory without its CA certificate or key.
    #[error("no CA certificate and key found in {0}")]
    MissingCa(PathBuf),
}

impl CryptogenError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The top of a `crypto-config.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct CryptoConfig {
    /// Organizations that run orderers.
    #[serde(rename = "OrdererOrgs", deserialize_with = "null_default")]
    pub orderer_orgs: Vec<OrgSpec>,
    /// Organizations that run peers.
    #[serde(rename = "PeerOrgs", deserialize_with = "null_default")]
    pub peer_orgs: Vec<OrgSpec>,
}

/// One organization.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct OrgSpec {
    /// Display name (unused in the output tree).
    #[serde(rename = "Name")]
    pub name: String,
    /// The org's domain, e.g. `org1.example.com`; names its directory.
    #[serde(rename = "Domain")]
    pub domain: String,
    /// Give certificates a node OU (client/peer/admin/orderer) and write `config.yaml`.
    #[serde(rename = "EnableNodeOUs")]
    pub enable_node_ous: bool,
    /// The CA's subject; `Hostname` defaults to `ca`.
    #[serde(rename = "CA", deserialize_with = "null_default")]
    pub ca: NodeSpec,
    /// Nodes generated from a numbered template.
    #[serde(rename = "Template", deserialize_with = "null_default")]
    pub template: NodeTemplate,
    /// Nodes listed one by one.
    #[serde(rename = "Specs", deserialize_with = "null_default")]
    pub specs: Vec<NodeSpec>,
    /// Number of users besides `Admin` (peer orgs only).
    #[serde(rename = "Users", deserialize_with = "null_default")]
    pub users: UsersSpec,
}

/// One node (or the CA).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct NodeSpec {
    /// Host name without the domain, e.g. `peer0`.
    #[serde(rename = "Hostname")]
    pub hostname: String,
    /// Common name; a template, `{{.Hostname}}.{{.Domain}}` by default.
    #[serde(rename = "CommonName")]
    pub common_name: String,
    /// `C` of the subject (CA spec only).
    #[serde(rename = "Country")]
    pub country: String,
    /// `ST` of the subject (CA spec only).
    #[serde(rename = "Province")]
    pub province: String,
    /// `L` of the subject (CA spec only).
    #[serde(rename = "Locality")]
    pub locality: String,
    /// Extra `OU` for every certificate of the org (CA spec only).
    #[serde(rename = "OrganizationalUnit")]
    pub organizational_unit: String,
    /// `street` of the subject (CA spec only).
    #[serde(rename = "StreetAddress")]
    pub street_address: String,
    /// `postalCode` of the subject (CA spec only).
    #[serde(rename = "PostalCode")]
    pub postal_code: String,
    /// Extra subject alternative names (templates allowed) for the TLS certificate.
    #[serde(rename = "SANS", deserialize_with = "null_default")]
    pub sans: Vec<String>,
}

/// A run of numbered nodes: `Hostname` (default `{{.Prefix}}{{.Index}}`) for indexes
/// `Start..Start+Count`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct NodeTemplate {
    /// How many nodes.
    #[serde(rename = "Count")]
    pub count: u32,
    /// First index.
    #[serde(rename = "Start")]
    pub start: u32,
    /// Host name template.
    #[serde(rename = "Hostname")]
    pub hostname: String,
    /// Extra SANs for every node of the template.
    #[serde(rename = "SANS", deserialize_with = "null_default")]
    pub sans: Vec<String>,
}

/// How many regular users to create.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct UsersSpec {
    /// Users `User1..=UserN` besides `Admin`.
    #[serde(rename = "Count")]
    pub count: u32,
}

/// A YAML key present with no value (`Specs:`) means the default, as in Go.
fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

impl CryptoConfig {
    /// Parses a `crypto-config.yaml` document.
    pub fn from_yaml(text: &str) -> Result<Self, CryptogenError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        Ok(serde_yaml::from_str(text)?)
    }

    /// Reads and parses a `crypto-config.yaml` file.
    pub fn load(path: &Path) -> Result<Self, CryptogenError> {
        let text = std::fs::read_to_string(path).map_err(|e| CryptogenError::io(path, e))?;
        Self::from_yaml(&text)
    }
}

/// The configuration `cryptogen showtemplate` prints and `generate` uses without
/// `--config`: one orderer org, two peer orgs with one peer and one user each.
pub const DEFAULT_TEMPLATE: &str = r#"
# ---------------------------------------------------------------------------
# OrdererOrgs: organizations that run ordering nodes
# ---------------------------------------------------------------------------
OrdererOrgs:
  - Name: Orderer
    Domain: example.com
    EnableNodeOUs: false

    # Specs: one entry per node; see PeerOrgs below for the fields.
    Specs:
      - Hostname: orderer

# ---------------------------------------------------------------------------
# PeerOrgs: organizations that run peers
# ---------------------------------------------------------------------------
PeerOrgs:
  - Name: Org1
    Domain: org1.example.com
    # EnableNodeOUs: put a client/peer/admin/orderer OU in every certificate and
    # write msp/config.yaml so the MSP tells the roles apart.
    EnableNodeOUs: false

    # CA: optional subject for the org's CAs (CN is ca.<Domain>, tlsca.<Domain>).
    # CA:
    #    Hostname: ca
    #    Country: US
    #    Province: California
    #    Locality: San Francisco
    #    OrganizationalUnit: Hyperledger Fabric
    #    StreetAddress: address for org
    #    PostalCode: postalCode for org

    # Specs: nodes listed one by one.
    #   Hostname:   required, without the domain
    #   CommonName: optional template, default "{{.Hostname}}.{{.Domain}}"
    #   SANS:       optional extra subject alternative names for the TLS
    #               certificate; templates may use {{.Hostname}}, {{.Domain}}
    #               and {{.CommonName}}; IP addresses become IP SANs. The
    #               common name and the hostname are always included.
    # Specs:
    #   - Hostname: foo
    #     CommonName: foo27.org5.example.com
    #     SANS:
    #       - "bar.{{.Domain}}"
    #       - "altfoo.{{.Domain}}"
    #       - "{{.Hostname}}.org6.net"
    #       - 172.16.10.31
    #   - Hostname: bar

    # Template: Count nodes named "peer<N>" for N from Start (default 0).
    # Hostname overrides the name template ("{{.Prefix}}{{.Index}}").
    # Specs and Template add up; avoid name clashes between them.
    Template:
      Count: 1
      # Start: 5
      # Hostname: {{.Prefix}}{{.Index}}
      # SANS:
      #   - "{{.Hostname}}.alt.{{.Domain}}"

    # Users: how many users besides Admin.
    Users:
      Count: 1

  - Name: Org2
    Domain: org2.example.com
    EnableNodeOUs: false
    Template:
      Count: 1
    Users:
      Count: 1
"#;

/// What `generate` and `extend` did for one organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgReport {
    /// The org's domain.
    pub domain: String,
    /// The org's directory.
    pub dir: PathBuf,
}

/// Generates every organization of `config` under `output` (peer orgs first, as Fabric).
/// Existing node directories are left alone, but org CAs are always regenerated.
pub fn generate(config: &CryptoConfig, output: &Path) -> Result<Vec<OrgReport>, CryptogenError> {
    let mut done = Vec::new();
    for org in &config.peer_orgs {
        let org = render_org(org, "peer")?;
        done.push(generate_org(output, &org, OrgKind::Peer)?);
    }
    for org in &config.orderer_orgs {
        let org = render_org(org, "orderer")?;
        done.push(generate_org(output, &org, OrgKind::Orderer)?);
    }
    Ok(done)
}

/// Adds what is missing under `input`: whole organizations that do not exist yet, and
/// nodes and users of existing organizations (signed by their existing CAs).
pub fn extend(config: &CryptoConfig, input: &Path) -> Result<Vec<OrgReport>, CryptogenError> {
    let mut done = Vec::new();
    for (orgs, kind, prefix) in [
        (&config.peer_orgs, OrgKind::Peer, "peer"),
        (&config.orderer_orgs, OrgKind::Orderer, "orderer"),
    ] {
        for org in orgs {
            let org = render_org(org, prefix)?;
            let org_dir = input.join(kind.dir_name()).join(&org.domain);
            if org_dir.exists() {
                extend_org(&org_dir, &org, kind)?;
                done.push(OrgReport {
                    domain: org.domain.clone(),
                    dir: org_dir,
                });
            } else {
                done.push(generate_org(input, &org, kind)?);
            }
        }
    }
    Ok(done)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OrgKind {
    Peer,
    Orderer,
}

impl OrgKind {
    fn dir_name(self) -> &'static str {
        match self {
            OrgKind::Peer => "peerOrganizations",
            OrgKind::Orderer => "ordererOrganizations",
        }
    }

    fn nodes_dir(self) -> &'static str {
        match self {
            OrgKind::Peer => "peers",
            OrgKind::Orderer => "orderers",
        }
    }

    fn node_type(self) -> NodeType {
        match self {
            OrgKind::Peer => NodeType::Peer,
            OrgKind::Orderer => NodeType::Orderer,
        }
    }
}

fn subject_of(org: &OrgSpec) -> SubjectFields {
    SubjectFields {
        country: org.ca.country.clone(),
        province: org.ca.province.clone(),
        locality: org.ca.locality.clone(),
        organizational_unit: org.ca.organizational_unit.clone(),
        street_address: org.ca.street_address.clone(),
        postal_code: org.ca.postal_code.clone(),
    }
}

fn admin_name(org: &OrgSpec) -> String {
    format!("Admin@{}", org.domain)
}

fn user_names(org: &OrgSpec, kind: OrgKind) -> Vec<String> {
    if kind == OrgKind::Orderer {
        return Vec::new();
    }
    (1..=org.users.count)
        .map(|i| format!("User{i}@{}", org.domain))
        .collect()
}

fn generate_org(base: &Path, org: &OrgSpec, kind: OrgKind) -> Result<OrgReport, CryptogenError> {
    let org_dir = base.join(kind.dir_name()).join(&org.domain);
    let ca_name = &org.ca.common_name;
    let sign_ca = Ca::create(
        &create_dir(&org_dir.join("ca"))?,
        &org.domain,
        ca_name,
        subject_of(org),
    )?;
    let tls_ca = Ca::create(
        &create_dir(&org_dir.join("tlsca"))?,
        &org.domain,
        &format!("tls{ca_name}"),
        subject_of(org),
    )?;
    msp::generate_verifying_msp(&org_dir.join("msp"), &sign_ca, &tls_ca, org.enable_node_ous)?;
    populate_org(&org_dir, org, kind, &sign_ca, &tls_ca, true)?;
    Ok(OrgReport {
        domain: org.domain.clone(),
        dir: org_dir,
    })
}

fn extend_org(org_dir: &Path, org: &OrgSpec, kind: OrgKind) -> Result<(), CryptogenError> {
    let ca_name = &org.ca.common_name;
    let sign_ca = Ca::load(&org_dir.join("ca"), ca_name, subject_of(org))?;
    let tls_ca = Ca::load(
        &org_dir.join("tlsca"),
        &format!("tls{ca_name}"),
        subject_of(org),
    )?;
    // As Fabric: extending an orderer org adds orderers only, never users.
    populate_org(org_dir, org, kind, &sign_ca, &tls_ca, kind == OrgKind::Peer)
}

/// Nodes, users and admin certificates of one org; node directories that already
/// exist are skipped.
fn populate_org(
    org_dir: &Path,
    org: &OrgSpec,
    kind: OrgKind,
    sign_ca: &Ca,
    tls_ca: &Ca,
    with_users: bool,
) -> Result<(), CryptogenError> {
    let nodes_dir = org_dir.join(kind.nodes_dir());
    let users_dir = org_dir.join("users");
    let node_ous = org.enable_node_ous;
    for spec in &org.specs {
        generate_node(
            &nodes_dir,
            &spec.common_name,
            &spec.sans,
            sign_ca,
            tls_ca,
            kind.node_type(),
            node_ous,
        )?;
    }
    if with_users {
        for user in user_names(org, kind) {
            generate_node(
                &users_dir,
                &user,
                &[],
                sign_ca,
                tls_ca,
                NodeType::Client,
                node_ous,
            )?;
        }
        let admin_type = if node_ous {
            NodeType::Admin
        } else {
            NodeType::Client
        };
        generate_node(
            &users_dir,
            &admin_name(org),
            &[],
            sign_ca,
            tls_ca,
            admin_type,
            node_ous,
        )?;
    }
    if node_ous {
        return Ok(());
    }
    // Without NodeOUs, admin rights come from admincerts/: the org MSP and every node
    // list the org admin.
    let admin = admin_name(org);
    copy_admin_cert(&users_dir, &org_dir.join("msp").join("admincerts"), &admin)?;
    for spec in &org.specs {
        let admincerts = nodes_dir
            .join(&spec.common_name)
            .join("msp")
            .join("admincerts");
        copy_admin_cert(&users_dir, &admincerts, &admin)?;
    }
    Ok(())
}

fn generate_node(
    base: &Path,
    name: &str,
    sans: &[String],
    sign_ca: &Ca,
    tls_ca: &Ca,
    node_type: NodeType,
    node_ous: bool,
) -> Result<(), CryptogenError> {
    let node_dir = base.join(name);
    if node_dir.exists() {
        return Ok(());
    }
    msp::generate_local_msp(&node_dir, name, sans, sign_ca, tls_ca, node_type, node_ous)
}

/// Replaces the contents of `admincerts` with the admin user's signing certificate,
/// unless it is already there.
fn copy_admin_cert(users_dir: &Path, admincerts: &Path, admin: &str) -> Result<(), CryptogenError> {
    let file = ca::cert_file_name(admin);
    let target = admincerts.join(&file);
    if target.exists() {
        return Ok(());
    }
    let source = users_dir
        .join(admin)
        .join("msp")
        .join("signcerts")
        .join(&file);
    if admincerts.exists() {
        std::fs::remove_dir_all(admincerts).map_err(|e| CryptogenError::io(admincerts, e))?;
    }
    create_dir(admincerts)?;
    std::fs::copy(&source, &target).map_err(|e| CryptogenError::io(&source, e))?;
    Ok(())
}

/// Expands the org's templates: template nodes become specs, every spec gets its
/// common name and SANs (CN and hostname first), the CA spec gets `ca.<domain>`.
pub fn render_org(org: &OrgSpec, prefix: &str) -> Result<OrgSpec, CryptogenError> {
    if org.domain.is_empty() {
        return Err(CryptogenError::InvalidSpec(format!(
            "organization '{}' has no Domain",
            org.name
        )));
    }
    let mut out = org.clone();
    for i in 0..org.template.count {
        let index = (i + org.template.start).to_string();
        let template = if org.template.hostname.is_empty() {
            "{{.Prefix}}{{.Index}}"
        } else {
            &org.template.hostname
        };
        let hostname = expand(
            template,
            &[
                ("Prefix", prefix),
                ("Index", &index),
                ("Domain", &org.domain),
            ],
        )?;
        out.specs.push(NodeSpec {
            hostname,
            sans: org.template.sans.clone(),
            ..NodeSpec::default()
        });
    }
    for spec in &mut out.specs {
        render_node(&org.domain, spec)?;
    }
    if out.ca.hostname.is_empty() {
        out.ca.hostname = "ca".to_string();
    }
    render_node(&org.domain, &mut out.ca)?;
    for spec in &out.specs {
        if spec.hostname.is_empty() {
            return Err(CryptogenError::InvalidSpec(format!(
                "a node of organization '{}' has no Hostname",
                org.name
            )));
        }
    }
    Ok(out)
}

fn render_node(domain: &str, spec: &mut NodeSpec) -> Result<(), CryptogenError> {
    let template = if spec.common_name.is_empty() {
        "{{.Hostname}}.{{.Domain}}"
    } else {
        &spec.common_name
    };
    let cn = expand(
        template,
        &[("Hostname", &spec.hostname), ("Domain", domain)],
    )?;
    let vars = [
        ("Hostname", spec.hostname.as_str()),
        ("Domain", domain),
        ("CommonName", cn.as_str()),
    ];
    let mut sans = vec![cn.clone(), spec.hostname.clone()];
    for san in &spec.sans {
        sans.push(expand(san, &vars)?);
    }
    spec.sans = sans;
    spec.common_name = cn;
    Ok(())
}

/// Expands `{{.Name}}` placeholders (Go template syntax, fields only) from `vars`.
pub fn expand(template: &str, vars: &[(&str, &str)]) -> Result<String, CryptogenError> {
    let error = |reason: String| CryptogenError::Template {
        template: template.to_string(),
        reason,
    };
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| error("unclosed '{{'".to_string()))?;
        let field = after[..end].trim();
        let name = field
            .strip_prefix('.')
            .ok_or_else(|| error(format!("unsupported action '{field}'")))?;
        let value = vars
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
            .ok_or_else(|| error(format!("unknown field '{name}'")))?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Creates `dir` and its parents; returns it.
pub(crate) fn create_dir(dir: &Path) -> Result<PathBuf, CryptogenError> {
    std::fs::create_dir_all(dir).map_err(|e| CryptogenError::io(dir, e))?;
    Ok(dir.to_path_buf())
}

/// Writes `data` to `path`, creating parent directories.
pub(crate) fn write_file(path: &Path, data: &[u8]) -> Result<(), CryptogenError> {
    if let Some(parent) = path.parent() {
        create_dir(parent)?;
    }
    std::fs::write(path, data).map_err(|e| CryptogenError::io(path, e))
}

#[cfg(test)]
mod tests;
