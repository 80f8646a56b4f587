use super::*;
use std::collections::BTreeSet;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

const CONFIG: &str = r#"
OrdererOrgs:
  - Name: Orderer
    Domain: example.com
    EnableNodeOUs: true
    Specs:
      - Hostname: orderer
        SANS:
          - localhost
          - 127.0.0.1
PeerOrgs:
  - Name: Org1
    Domain: org1.example.com
    EnableNodeOUs: true
    Template:
      Count: 2
      SANS:
        - localhost
    Users:
      Count: 1
  - Name: Org2
    Domain: org2.example.com
    EnableNodeOUs: false
    CA:
      Country: DE
      OrganizationalUnit: Blockchain
    Specs:
      - Hostname: foo
        CommonName: foo27.{{.Domain}}
        SANS:
          - "alt.{{.Hostname}}.{{.Domain}}"
    Users:
      Count: 0
"#;

fn files_under(root: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                out.insert(format!("{rel}/"));
                walk(root, &path, out);
            } else {
                out.insert(rel);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(root, root, &mut out);
    out
}

fn cert_der(path: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap();
    crate::pem::decode_all("CERTIFICATE", &text).remove(0)
}

fn subject_parts(cert: &X509Certificate<'_>) -> Vec<(String, String)> {
    cert.subject()
        .iter_attributes()
        .map(|a| {
            (
                a.attr_type().to_id_string(),
                a.as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn ous(cert: &X509Certificate<'_>) -> Vec<String> {
    subject_parts(cert)
        .into_iter()
        .filter(|(oid, _)| oid == "2.5.4.11")
        .map(|(_, v)| v)
        .collect()
}

fn sans(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    ext.value
        .general_names
        .iter()
        .map(|n| match n {
            GeneralName::DNSName(d) => d.to_string(),
            GeneralName::IPAddress(ip) => match ip.len() {
                4 => std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]).to_string(),
                _ => format!("{ip:?}"),
            },
            other => format!("{other:?}"),
        })
        .collect()
}

fn ski(cert: &X509Certificate<'_>) -> Option<Vec<u8>> {
    cert.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        })
}

fn aki(cert: &X509Certificate<'_>) -> Option<Vec<u8>> {
    cert.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(k) => {
                k.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        })
}

/// Checks `cert` was signed by the key of `ca` with a low-S ECDSA signature.
fn assert_signed_by(cert: &X509Certificate<'_>, ca: &X509Certificate<'_>) {
    let ca_key = weft_common::crypto::PublicKey::from_spki_der(ca.public_key().raw).unwrap();
    // `verify` (not the X.509 variant) also insists on low-S, as cryptogen signs.
    ca_key
        .verify(cert.tbs_certificate.as_ref(), &cert.signature_value.data)
        .unwrap();
    assert_eq!(cert.issuer(), ca.subject());
    if cert.tbs_certificate.as_ref() != ca.tbs_certificate.as_ref() {
        assert_eq!(aki(cert), ski(ca));
    }
}

#[test]
fn templates_expand_fields_and_reject_unknown_ones() {
    let vars = [("Hostname", "peer0"), ("Domain", "org1.example.com")];
    assert_eq!(
        expand("{{.Hostname}}.{{ .Domain }}", &vars).unwrap(),
        "peer0.org1.example.com"
    );
    assert_eq!(expand("plain", &vars).unwrap(), "plain");
    assert!(matches!(
        expand("{{.Nope}}", &vars),
        Err(CryptogenError::Template { .. })
    ));
    assert!(matches!(
        expand("{{.Hostname", &vars),
        Err(CryptogenError::Template { .. })
    ));
    assert!(matches!(
        expand("{{ range }}", &vars),
        Err(CryptogenError::Template { .. })
    ));
}

#[test]
fn render_fills_common_names_and_sans_like_fabric() {
    let config = CryptoConfig::from_yaml(CONFIG).unwrap();
    let org1 = render_org(&config.peer_orgs[0], "peer").unwrap();
    let names: Vec<_> = org1.specs.iter().map(|s| s.common_name.as_str()).collect();
    assert_eq!(names, ["peer0.org1.example.com", "peer1.org1.example.com"]);
    assert_eq!(
        org1.specs[1].sans,
        ["peer1.org1.example.com", "peer1", "localhost"]
    );
    assert_eq!(org1.ca.common_name, "ca.org1.example.com");

    let org2 = render_org(&config.peer_orgs[1], "peer").unwrap();
    assert_eq!(org2.specs[0].common_name, "foo27.org2.example.com");
    assert_eq!(
        org2.specs[0].sans,
        ["foo27.org2.example.com", "foo", "alt.foo.org2.example.com"]
    );

    let nameless = OrgSpec {
        name: "X".into(),
        ..OrgSpec::default()
    };
    assert!(matches!(
        render_org(&nameless, "peer"),
        Err(CryptogenError::InvalidSpec(_))
    ));
}

#[test]
fn empty_sections_and_malformed_yaml() {
    let config = CryptoConfig::from_yaml("PeerOrgs:\nOrdererOrgs:\n").unwrap();
    assert_eq!(config, CryptoConfig::default());
    assert!(matches!(
        CryptoConfig::from_yaml("PeerOrgs: [ {Name: x"),
        Err(CryptogenError::Yaml(_))
    ));
    assert!(matches!(
        CryptoConfig::from_yaml("PeerOrgs:\n  - Template:\n      Count: many\n"),
        Err(CryptogenError::Yaml(_))
    ));
    let default = CryptoConfig::from_yaml(DEFAULT_TEMPLATE).unwrap();
    assert_eq!(default.peer_orgs.len(), 2);
    assert_eq!(default.orderer_orgs[0].specs[0].hostname, "orderer");
}

#[test]
fn generate_writes_fabrics_tree_and_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let config = CryptoConfig::from_yaml(CONFIG).unwrap();
    let report = generate(&config, out).unwrap();
    let domains: Vec<_> = report.iter().map(|r| r.domain.as_str()).collect();
    assert_eq!(
        domains,
        ["org1.example.com", "org2.example.com", "example.com"]
    );

    let files = files_under(out);
    let org1 = "peerOrganizations/org1.example.com";
    let local_msp = |base: &str, name: &str, tls: &str| {
        vec![
            format!("{base}/msp/admincerts/"),
            format!("{base}/msp/cacerts/ca.{}-cert.pem", domain_of(name)),
            format!("{base}/msp/config.yaml"),
            format!("{base}/msp/keystore/priv_sk"),
            format!("{base}/msp/signcerts/{name}-cert.pem"),
            format!("{base}/msp/tlscacerts/tlsca.{}-cert.pem", domain_of(name)),
            format!("{base}/tls/ca.crt"),
            format!("{base}/tls/{tls}.crt"),
            format!("{base}/tls/{tls}.key"),
        ]
    };
    let mut expected = vec![
        format!("{org1}/ca/ca.org1.example.com-cert.pem"),
        format!("{org1}/ca/priv_sk"),
        format!("{org1}/tlsca/tlsca.org1.example.com-cert.pem"),
        format!("{org1}/tlsca/priv_sk"),
        format!("{org1}/msp/admincerts/"),
        format!("{org1}/msp/cacerts/ca.org1.example.com-cert.pem"),
        format!("{org1}/msp/tlscacerts/tlsca.org1.example.com-cert.pem"),
        format!("{org1}/msp/config.yaml"),
    ];
    for peer in ["peer0.org1.example.com", "peer1.org1.example.com"] {
        expected.extend(local_msp(&format!("{org1}/peers/{peer}"), peer, "server"));
    }
    for user in ["Admin@org1.example.com", "User1@org1.example.com"] {
        expected.extend(local_msp(&format!("{org1}/users/{user}"), user, "client"));
    }
    let orderer = "ordererOrganizations/example.com";
    expected.extend(local_msp(
        &format!("{orderer}/orderers/orderer.example.com"),
        "orderer.example.com",
        "server",
    ));
    expected.extend(local_msp(
        &format!("{orderer}/users/Admin@example.com"),
        "Admin@example.com",
        "client",
    ));
    for path in &expected {
        assert!(files.contains(path), "missing {path}");
    }
    // Orderer orgs get no regular users; org2 asked for none.
    assert!(!files.contains(&format!("{orderer}/users/User1@example.com/")));
    assert!(!files.contains("peerOrganizations/org2.example.com/users/User1@org2.example.com/"));

    // NodeOUs config as Fabric writes it.
    let config_yaml = std::fs::read_to_string(out.join(org1).join("msp/config.yaml")).unwrap();
    assert_eq!(config_yaml, msp::node_ou_config("ca.org1.example.com"));
    assert!(config_yaml.contains(
        "  PeerOUIdentifier:\n    Certificate: cacerts/ca.org1.example.com-cert.pem\n    OrganizationalUnitIdentifier: peer\n"
    ));

    // CA certificate.
    let ca_der = cert_der(&out.join(org1).join("ca/ca.org1.example.com-cert.pem"));
    let (_, ca) = X509Certificate::from_der(&ca_der).unwrap();
    assert_eq!(
        subject_parts(&ca),
        [
            ("2.5.4.6".into(), "US".into()),
            ("2.5.4.8".into(), "California".into()),
            ("2.5.4.7".into(), "San Francisco".into()),
            ("2.5.4.10".into(), "org1.example.com".into()),
            ("2.5.4.3".into(), "ca.org1.example.com".into()),
        ]
    );
    assert!(ca.is_ca());
    let ku = ca.key_usage().unwrap().unwrap();
    assert!(ku.critical);
    assert!(ku.value.digital_signature() && ku.value.key_cert_sign() && ku.value.crl_sign());
    assert!(ku.value.key_encipherment());
    let eku = ca.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && eku.server_auth);
    let ca_key = weft_common::crypto::PublicKey::from_spki_der(ca.public_key().raw).unwrap();
    assert_eq!(ski(&ca), Some(ca_key.ski().to_vec()));
    assert_eq!(aki(&ca), None);
    assert_signed_by(&ca, &ca);
    let validity = ca.validity();
    let days = (validity.not_after.timestamp() - validity.not_before.timestamp()) / 86_400;
    assert_eq!(days, 3650);

    // The CA's key file matches its certificate.
    let ca_key_pem = std::fs::read_to_string(out.join(org1).join("ca/priv_sk")).unwrap();
    assert!(ca_key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let key = weft_common::crypto::PrivateKey::from_pem(&ca_key_pem).unwrap();
    assert_eq!(key.public_key(), ca_key);

    // Peer signing certificate: OU=peer, no SANs, chains to the CA, key matches.
    let peer_dir = out.join(org1).join("peers/peer0.org1.example.com");
    let peer_der = cert_der(&peer_dir.join("msp/signcerts/peer0.org1.example.com-cert.pem"));
    let (_, peer) = X509Certificate::from_der(&peer_der).unwrap();
    assert_eq!(ous(&peer), ["peer"]);
    assert!(sans(&peer).is_empty());
    assert!(!peer.is_ca());
    let ku = peer.key_usage().unwrap().unwrap().value;
    assert!(ku.digital_signature() && !ku.key_encipherment() && !ku.key_cert_sign());
    assert!(peer.extended_key_usage().unwrap().is_none());
    assert_signed_by(&peer, &ca);
    let peer_key = std::fs::read_to_string(peer_dir.join("msp/keystore/priv_sk")).unwrap();
    assert_eq!(
        weft_common::crypto::PrivateKey::from_pem(&peer_key)
            .unwrap()
            .public_key(),
        weft_common::crypto::PublicKey::from_spki_der(peer.public_key().raw).unwrap()
    );

    // Peer TLS certificate: SANs, both EKUs, signed by the TLS CA.
    let tls_ca_der = cert_der(&peer_dir.join("tls/ca.crt"));
    let (_, tls_ca) = X509Certificate::from_der(&tls_ca_der).unwrap();
    assert_eq!(
        tls_ca
            .subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap(),
        "tlsca.org1.example.com"
    );
    let tls_der = cert_der(&peer_dir.join("tls/server.crt"));
    let (_, tls) = X509Certificate::from_der(&tls_der).unwrap();
    assert_eq!(sans(&tls), ["peer0.org1.example.com", "peer0", "localhost"]);
    assert!(ous(&tls).is_empty());
    let eku = tls.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && eku.client_auth);
    let ku = tls.key_usage().unwrap().unwrap().value;
    assert!(ku.digital_signature() && ku.key_encipherment());
    assert_signed_by(&tls, &tls_ca);
    let tls_key = std::fs::read_to_string(peer_dir.join("tls/server.key")).unwrap();
    weft_common::crypto::PrivateKey::from_pem(&tls_key).unwrap();

    // Users: admin and client OUs; orderer: orderer OU and IP SAN.
    let admin = cert_der(
        &out.join(org1)
            .join("users/Admin@org1.example.com/msp/signcerts/Admin@org1.example.com-cert.pem"),
    );
    assert_eq!(
        ous(&X509Certificate::from_der(&admin).unwrap().1),
        ["admin"]
    );
    let user = cert_der(
        &out.join(org1)
            .join("users/User1@org1.example.com/msp/signcerts/User1@org1.example.com-cert.pem"),
    );
    let (_, user) = X509Certificate::from_der(&user).unwrap();
    assert_eq!(ous(&user), ["client"]);
    assert_eq!(
        user.subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap(),
        "User1@org1.example.com"
    );
    let orderer_dir = out.join(orderer).join("orderers/orderer.example.com");
    let orderer_tls = cert_der(&orderer_dir.join("tls/server.crt"));
    assert_eq!(
        sans(&X509Certificate::from_der(&orderer_tls).unwrap().1),
        ["orderer.example.com", "orderer", "localhost", "127.0.0.1"]
    );
    let orderer_sign = cert_der(&orderer_dir.join("msp/signcerts/orderer.example.com-cert.pem"));
    assert_eq!(
        ous(&X509Certificate::from_der(&orderer_sign).unwrap().1),
        ["orderer"]
    );

    // Key files are private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(peer_dir.join("msp/keystore/priv_sk"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

fn domain_of(name: &str) -> &str {
    match name.split_once('@') {
        Some((_, domain)) => domain,
        None => name.split_once('.').map(|(_, d)| d).unwrap_or(name),
    }
}

#[test]
fn without_node_ous_admin_certs_are_copied_and_subject_uses_ca_fields() {
    let dir = tempfile::tempdir().unwrap();
    let config = CryptoConfig::from_yaml(CONFIG).unwrap();
    generate(&config, dir.path()).unwrap();
    let org2 = dir.path().join("peerOrganizations/org2.example.com");
    assert!(!org2.join("msp/config.yaml").exists());
    let admin_cert = std::fs::read(
        org2.join("users/Admin@org2.example.com/msp/signcerts/Admin@org2.example.com-cert.pem"),
    )
    .unwrap();
    for admincerts in [
        org2.join("msp/admincerts"),
        org2.join("peers/foo27.org2.example.com/msp/admincerts"),
    ] {
        let entries: Vec<_> = std::fs::read_dir(&admincerts)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(entries, ["Admin@org2.example.com-cert.pem"]);
        assert_eq!(
            std::fs::read(admincerts.join("Admin@org2.example.com-cert.pem")).unwrap(),
            admin_cert
        );
    }
    let admin_der =
        crate::pem::decode_all("CERTIFICATE", std::str::from_utf8(&admin_cert).unwrap()).remove(0);
    let (_, admin) = X509Certificate::from_der(&admin_der).unwrap();
    assert_eq!(ous(&admin), ["Blockchain"]);
    let parts = subject_parts(&admin);
    assert_eq!(parts[0], ("2.5.4.6".into(), "DE".into()));
    // The admin's TLS certificate is a client one, without SANs.
    let tls = org2.join("users/Admin@org2.example.com/tls");
    assert!(tls.join("client.crt").exists() && tls.join("client.key").exists());
    let tls_der = cert_der(&tls.join("client.crt"));
    let (_, tls_cert) = X509Certificate::from_der(&tls_der).unwrap();
    assert!(sans(&tls_cert).is_empty());
}

#[test]
fn extend_adds_new_nodes_with_the_existing_ca() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = CryptoConfig::from_yaml(CONFIG).unwrap();
    generate(&config, dir.path()).unwrap();
    let org1 = dir.path().join("peerOrganizations/org1.example.com");
    let ca_before = std::fs::read(org1.join("ca/ca.org1.example.com-cert.pem")).unwrap();
    let peer0_before =
        std::fs::read(org1.join("peers/peer0.org1.example.com/msp/keystore/priv_sk")).unwrap();

    config.peer_orgs[0].template.count = 3;
    config.peer_orgs[0].users.count = 2;
    extend(&config, dir.path()).unwrap();

    assert_eq!(
        std::fs::read(org1.join("ca/ca.org1.example.com-cert.pem")).unwrap(),
        ca_before
    );
    assert_eq!(
        std::fs::read(org1.join("peers/peer0.org1.example.com/msp/keystore/priv_sk")).unwrap(),
        peer0_before
    );
    let ca_der =
        crate::pem::decode_all("CERTIFICATE", std::str::from_utf8(&ca_before).unwrap()).remove(0);
    let (_, ca) = X509Certificate::from_der(&ca_der).unwrap();
    let peer2 = cert_der(
        &org1.join("peers/peer2.org1.example.com/msp/signcerts/peer2.org1.example.com-cert.pem"),
    );
    assert_signed_by(&X509Certificate::from_der(&peer2).unwrap().1, &ca);
    assert!(org1.join("users/User2@org1.example.com/msp").exists());

    // Extending into an empty directory generates whole orgs.
    let fresh = tempfile::tempdir().unwrap();
    extend(&config, fresh.path()).unwrap();
    assert!(
        fresh
            .path()
            .join("ordererOrganizations/example.com/orderers/orderer.example.com/tls/server.crt")
            .exists()
    );

    // A broken CA directory is a typed error.
    std::fs::remove_file(org1.join("ca/priv_sk")).unwrap();
    assert!(matches!(
        extend(&config, dir.path()),
        Err(CryptogenError::MissingCa(_))
    ));
}

#[test]
fn unwritable_output_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let config = CryptoConfig::from_yaml(CONFIG).unwrap();
    assert!(matches!(
        generate(&config, &blocker),
        Err(CryptogenError::Io { .. })
    ));
}
