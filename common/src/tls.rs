//! rustls configurations for every gRPC server and client in Weft, built from PEM.
//!
//! Fabric's TLS rules, as they apply here: TLS 1.2 or 1.3, ALPN `h2` (gRPC), ECDSA or RSA
//! certificates; a server with client authentication *requires* a client certificate
//! that chains to one of the configured client root CAs. Configs always use the aws-lc-rs
//! crypto provider explicitly, so no process-wide provider needs installing.
//!
//! Fabric binds some messages to the client's TLS certificate through
//! `ChannelHeader.tls_cert_hash` = [`cert_hash`] of the client certificate DER.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::crypto::{SHA256_LEN, sha256};

/// The ALPN protocol gRPC speaks.
pub const ALPN_H2: &[u8] = b"h2";

/// Where a PEM input came from, for error messages of in-memory inputs.
const IN_MEMORY: &str = "<in-memory PEM>";

/// What went wrong while building a TLS configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A PEM input is syntactically broken (bad section markers or base64).
    #[error("malformed PEM in {origin}: {reason}")]
    Pem {
        /// The file path, or `<in-memory PEM>`.
        origin: String,
        /// The parser's complaint.
        reason: String,
    },
    /// A PEM input that should hold certificates holds none.
    #[error("no certificates found in {origin}")]
    NoCertificates {
        /// The file path, or `<in-memory PEM>`.
        origin: String,
    },
    /// A certificate is not valid DER X.509 (or cannot serve as a trust anchor).
    #[error("bad certificate in {origin}: {reason}")]
    BadCertificate {
        /// The file path, or `<in-memory PEM>`.
        origin: String,
        /// Why it was refused.
        reason: String,
    },
    /// A PEM input that should hold a private key holds none.
    #[error("no private key found in {origin}")]
    NoKey {
        /// The file path, or `<in-memory PEM>`.
        origin: String,
    },
    /// The private key is not usable (unsupported algorithm or malformed).
    #[error("bad private key in {origin}: {reason}")]
    BadKey {
        /// The file path, or `<in-memory PEM>`.
        origin: String,
        /// Why it was refused.
        reason: String,
    },
    /// The client certificate verifier could not be built (e.g. no usable roots).
    #[error("cannot build the client certificate verifier: {0}")]
    Verifier(String),
    /// rustls refused the configuration (e.g. the key does not match the certificate).
    #[error("TLS configuration error: {0}")]
    Rustls(#[from] rustls::Error),
}

/// SHA-256 of a certificate's DER: Fabric's `tls_cert_hash` of a client certificate.
pub fn cert_hash(cert_der: &[u8]) -> [u8; SHA256_LEN] {
    sha256(cert_der)
}

/// A server config from a certificate chain file (leaf first) and its key file.
///
/// With `client_auth` (files of client root CA certificates) the server requires every
/// client to present a certificate chaining to one of them (mutual TLS); without it the
/// server asks for no client certificate. ALPN is `h2`.
pub fn server_config(
    cert_pem: &Path,
    key_pem: &Path,
    client_auth: Option<&[PathBuf]>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = certificates_from_pem(&read(cert_pem)?, &origin(cert_pem))?;
    let key = private_key_from_pem(&read(key_pem)?, &origin(key_pem))?;
    let roots = client_auth.map(root_store_from_files).transpose()?;
    build_server_config(certs, key, roots, &origin(key_pem))
}

/// A server config that *asks* clients for a certificate chaining to `client_roots`
/// but also accepts clients without one. Handlers then decide per request (the orderer's
/// general listener serves both clients and, authenticated by certificate, other
/// consenters, as Fabric's does when cluster traffic shares it).
pub fn server_config_optional_client_auth(
    cert_pem: &Path,
    key_pem: &Path,
    client_roots: &[PathBuf],
) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = certificates_from_pem(&read(cert_pem)?, &origin(cert_pem))?;
    let key = private_key_from_pem(&read(key_pem)?, &origin(key_pem))?;
    let roots = root_store_from_files(client_roots)?;
    build_server_config_with(certs, key, ClientAuth::Optional(roots), &origin(key_pem))
}

/// [`server_config`] from PEM bytes: the certificate chain, the key, and optionally a
/// bundle of client root CA certificates (concatenated PEM) for mutual TLS.
pub fn server_config_from_pem(
    cert_pem: &[u8],
    key_pem: &[u8],
    client_roots_pem: Option<&[u8]>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = certificates_from_pem(cert_pem, IN_MEMORY)?;
    let key = private_key_from_pem(key_pem, IN_MEMORY)?;
    let roots = client_roots_pem
        .map(|pem| root_store_from_pem(pem, IN_MEMORY))
        .transpose()?;
    build_server_config(certs, key, roots, IN_MEMORY)
}

/// A client config trusting the CA certificates in `root_cas` files, optionally
/// presenting a client certificate chain and key (for servers requiring mutual TLS).
/// ALPN is `h2`; the server name is verified against the certificate's SANs.
pub fn client_config(
    root_cas: &[PathBuf],
    client_identity: Option<(&Path, &Path)>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let roots = root_store_from_files(root_cas)?;
    let identity = match client_identity {
        Some((cert, key)) => Some((
            certificates_from_pem(&read(cert)?, &origin(cert))?,
            private_key_from_pem(&read(key)?, &origin(key))?,
            origin(key),
        )),
        None => None,
    };
    build_client_config(roots, identity)
}

/// [`client_config`] from PEM bytes: a bundle of root CA certificates and optionally a
/// client certificate chain and key.
pub fn client_config_from_pem(
    root_cas_pem: &[u8],
    client_identity: Option<(&[u8], &[u8])>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let roots = root_store_from_pem(root_cas_pem, IN_MEMORY)?;
    let identity = match client_identity {
        Some((cert, key)) => Some((
            certificates_from_pem(cert, IN_MEMORY)?,
            private_key_from_pem(key, IN_MEMORY)?,
            IN_MEMORY.to_owned(),
        )),
        None => None,
    };
    build_client_config(roots, identity)
}

/// Every `CERTIFICATE` section of `pem`, in order (other sections are skipped). Fails if
/// there is none. `origin` names the input in errors.
pub fn certificates_from_pem(
    pem: &[u8],
    origin: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            origin: origin.to_owned(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificates {
            origin: origin.to_owned(),
        });
    }
    Ok(certs)
}

/// The first private key (PKCS#8, SEC1 or PKCS#1) in `pem`. `origin` names the input in
/// errors.
pub fn private_key_from_pem(pem: &[u8], origin: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => TlsError::NoKey {
            origin: origin.to_owned(),
        },
        other => TlsError::Pem {
            origin: origin.to_owned(),
            reason: other.to_string(),
        },
    })
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Io {
        path: path.to_owned(),
        source,
    })
}

fn origin(path: &Path) -> String {
    path.display().to_string()
}

fn root_store_from_files(files: &[PathBuf]) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    for file in files {
        add_roots(&mut store, &read(file)?, &origin(file))?;
    }
    if store.is_empty() {
        return Err(TlsError::NoCertificates {
            origin: "the root CA list".to_owned(),
        });
    }
    Ok(store)
}

fn root_store_from_pem(pem: &[u8], origin: &str) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    add_roots(&mut store, pem, origin)?;
    Ok(store)
}

fn add_roots(store: &mut RootCertStore, pem: &[u8], origin: &str) -> Result<(), TlsError> {
    for cert in certificates_from_pem(pem, origin)? {
        store.add(cert).map_err(|e| TlsError::BadCertificate {
            origin: origin.to_owned(),
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

fn check_key(
    provider: &CryptoProvider,
    key: &PrivateKeyDer<'static>,
    origin: &str,
) -> Result<(), TlsError> {
    provider
        .key_provider
        .load_private_key(key.clone_key())
        .map(|_| ())
        .map_err(|e| TlsError::BadKey {
            origin: origin.to_owned(),
            reason: e.to_string(),
        })
}

/// How a server treats client certificates.
enum ClientAuth {
    /// None asked for.
    None,
    /// Required, chaining to these roots.
    Required(RootCertStore),
    /// Asked for and verified against these roots when given, but optional.
    Optional(RootCertStore),
}

fn build_server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_roots: Option<RootCertStore>,
    key_origin: &str,
) -> Result<Arc<ServerConfig>, TlsError> {
    let client_auth = client_roots.map_or(ClientAuth::None, ClientAuth::Required);
    build_server_config_with(certs, key, client_auth, key_origin)
}

fn build_server_config_with(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_auth: ClientAuth,
    key_origin: &str,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    check_key(&provider, &key, key_origin)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Required(roots) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::Verifier(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        ClientAuth::Optional(roots) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::Verifier(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(certs, key)?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(Arc::new(config))
}

fn build_client_config(
    roots: RootCertStore,
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, String)>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let mut config = match identity {
        Some((certs, key, key_origin)) => {
            check_key(&provider, &key, &key_origin)?;
            builder.with_client_auth_cert(certs, key)?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::thread;
    use std::time::Duration;

    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    use rustls::pki_types::ServerName;
    use rustls::{ClientConnection, ServerConnection, StreamOwned};

    use super::*;

    /// Bounds every read so a broken handshake fails instead of hanging the test.
    const TIMEOUT: Duration = Duration::from_secs(10);

    /// A test CA: its certificate as PEM and what it needs to issue leaves.
    struct Pki {
        ca_pem: String,
        issuer: Issuer<'static, KeyPair>,
    }

    /// A leaf certificate and its key, as PEM.
    struct Leaf {
        cert_pem: String,
        key_pem: String,
    }

    impl Pki {
        fn new(name: &str) -> Self {
            let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, name);
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            let key = KeyPair::generate().expect("key");
            let cert = params.self_signed(&key).expect("self-signed");
            Self {
                ca_pem: cert.pem(),
                issuer: Issuer::new(params, key),
            }
        }

        fn leaf(&self, sans: &[&str]) -> Leaf {
            let names: Vec<String> = sans.iter().map(|s| (*s).to_owned()).collect();
            let params = CertificateParams::new(names).expect("params");
            let key = KeyPair::generate().expect("key");
            let cert = params.signed_by(&key, &self.issuer).expect("signed");
            Leaf {
                cert_pem: cert.pem(),
                key_pem: key.serialize_pem(),
            }
        }
    }

    /// Writes a file into `dir` and returns its path.
    fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, contents).expect("write");
        path
    }

    /// Runs one exchange: the client sends "ping", the server answers "pong".
    /// Returns (server result, client result).
    fn exchange(
        server: Arc<ServerConfig>,
        client: Arc<ClientConfig>,
        server_name: &str,
    ) -> (Result<(), String>, Result<(), String>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server_thread = thread::spawn(move || -> Result<(), String> {
            let (tcp, _) = listener.accept().map_err(|e| e.to_string())?;
            tcp.set_read_timeout(Some(TIMEOUT))
                .map_err(|e| e.to_string())?;
            let conn = ServerConnection::new(server).map_err(|e| e.to_string())?;
            let mut tls = StreamOwned::new(conn, tcp);
            let mut buf = [0u8; 4];
            tls.read_exact(&mut buf).map_err(|e| e.to_string())?;
            if &buf != b"ping" {
                return Err("wrong request".into());
            }
            if tls.conn.alpn_protocol() != Some(ALPN_H2) {
                return Err("no h2 ALPN".into());
            }
            tls.write_all(b"pong").map_err(|e| e.to_string())?;
            tls.flush().map_err(|e| e.to_string())?;
            Ok(())
        });

        let client_result = (|| -> Result<(), String> {
            let name = ServerName::try_from(server_name.to_owned()).map_err(|e| e.to_string())?;
            let conn = ClientConnection::new(client, name).map_err(|e| e.to_string())?;
            let tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
            tcp.set_read_timeout(Some(TIMEOUT))
                .map_err(|e| e.to_string())?;
            let mut tls = StreamOwned::new(conn, tcp);
            tls.write_all(b"ping").map_err(|e| e.to_string())?;
            let mut buf = [0u8; 4];
            tls.read_exact(&mut buf).map_err(|e| e.to_string())?;
            if &buf != b"pong" {
                return Err("wrong answer".into());
            }
            Ok(())
        })();
        let server_result = server_thread.join().expect("server thread");
        (server_result, client_result)
    }

    #[test]
    fn server_only_tls_handshake_over_loopback() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = Pki::new("tls-ca");
        let leaf = pki.leaf(&["localhost", "127.0.0.1"]);
        let cert = write(dir.path(), "server.crt", &leaf.cert_pem);
        let key = write(dir.path(), "server.key", &leaf.key_pem);
        let ca = write(dir.path(), "ca.crt", &pki.ca_pem);

        let server = server_config(&cert, &key, None).expect("server config");
        let client = client_config(&[ca], None).expect("client config");
        assert_eq!(
            exchange(server.clone(), client.clone(), "localhost"),
            (Ok(()), Ok(()))
        );
        assert_eq!(exchange(server, client, "127.0.0.1"), (Ok(()), Ok(())));
    }

    #[test]
    fn client_rejects_server_of_unknown_ca_or_wrong_name() {
        let pki = Pki::new("tls-ca");
        let other = Pki::new("other-ca");
        let leaf = pki.leaf(&["localhost"]);
        let server =
            server_config_from_pem(leaf.cert_pem.as_bytes(), leaf.key_pem.as_bytes(), None)
                .expect("server");
        let wrong_ca = client_config_from_pem(other.ca_pem.as_bytes(), None).expect("client");
        let (_, client) = exchange(server.clone(), wrong_ca, "localhost");
        assert!(client.is_err());
        let right_ca = client_config_from_pem(pki.ca_pem.as_bytes(), None).expect("client");
        let (_, client) = exchange(server, right_ca, "peer0.org1.example.com");
        assert!(client.is_err());
    }

    #[test]
    fn mutual_tls_accepts_a_client_of_the_trusted_ca() {
        let dir = tempfile::tempdir().expect("tempdir");
        let server_pki = Pki::new("server-ca");
        let client_pki = Pki::new("client-ca");
        let server_leaf = server_pki.leaf(&["localhost", "127.0.0.1"]);
        let client_leaf = client_pki.leaf(&["client"]);
        let files = [
            write(dir.path(), "server.crt", &server_leaf.cert_pem),
            write(dir.path(), "server.key", &server_leaf.key_pem),
            write(dir.path(), "server-ca.crt", &server_pki.ca_pem),
            write(dir.path(), "client.crt", &client_leaf.cert_pem),
            write(dir.path(), "client.key", &client_leaf.key_pem),
            write(dir.path(), "client-ca.crt", &client_pki.ca_pem),
        ];
        let server =
            server_config(&files[0], &files[1], Some(&[files[5].clone()])).expect("server");
        let client =
            client_config(&[files[2].clone()], Some((&files[3], &files[4]))).expect("client");
        assert_eq!(exchange(server, client, "localhost"), (Ok(()), Ok(())));
    }

    #[test]
    fn mutual_tls_rejects_missing_or_foreign_client_certs() {
        let server_pki = Pki::new("server-ca");
        let client_pki = Pki::new("client-ca");
        let rogue_pki = Pki::new("rogue-ca");
        let server_leaf = server_pki.leaf(&["localhost"]);
        let server = server_config_from_pem(
            server_leaf.cert_pem.as_bytes(),
            server_leaf.key_pem.as_bytes(),
            Some(client_pki.ca_pem.as_bytes()),
        )
        .expect("server");

        let anonymous = client_config_from_pem(server_pki.ca_pem.as_bytes(), None).expect("client");
        let (server_result, client_result) = exchange(server.clone(), anonymous, "localhost");
        assert!(
            server_result.is_err(),
            "server must refuse a client without certificate"
        );
        assert!(client_result.is_err());

        let rogue_leaf = rogue_pki.leaf(&["client"]);
        let rogue = client_config_from_pem(
            server_pki.ca_pem.as_bytes(),
            Some((
                rogue_leaf.cert_pem.as_bytes(),
                rogue_leaf.key_pem.as_bytes(),
            )),
        )
        .expect("client");
        let (server_result, client_result) = exchange(server, rogue, "localhost");
        assert!(
            server_result.is_err(),
            "server must refuse a client of another CA"
        );
        assert!(client_result.is_err());
    }

    #[test]
    fn garbage_pem_and_missing_files_are_typed_errors() {
        let pki = Pki::new("ca");
        let leaf = pki.leaf(&["localhost"]);
        let key = leaf.key_pem.as_bytes();
        let cert = leaf.cert_pem.as_bytes();

        assert!(matches!(
            server_config_from_pem(b"not a pem at all", key, None),
            Err(TlsError::NoCertificates { .. })
        ));
        assert!(matches!(
            server_config_from_pem(
                b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
                key,
                None
            ),
            Err(TlsError::Pem { .. })
        ));
        assert!(matches!(
            server_config_from_pem(cert, b"garbage", None),
            Err(TlsError::NoKey { .. })
        ));
        assert!(matches!(
            server_config_from_pem(cert, cert, None),
            Err(TlsError::NoKey { .. })
        ));
        let bogus_key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(matches!(
            server_config_from_pem(cert, bogus_key.as_bytes(), None),
            Err(TlsError::BadKey { .. })
        ));
        // A key that does not belong to the certificate.
        let other = pki.leaf(&["localhost"]);
        assert!(matches!(
            server_config_from_pem(cert, other.key_pem.as_bytes(), None),
            Err(TlsError::Rustls(_))
        ));
        // A root that is not a certificate.
        let bogus_cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            client_config_from_pem(bogus_cert.as_bytes(), None),
            Err(TlsError::BadCertificate { .. })
        ));
        assert!(matches!(
            client_config_from_pem(b"", None),
            Err(TlsError::NoCertificates { .. })
        ));
        assert!(matches!(
            client_config(&[], None),
            Err(TlsError::NoCertificates { .. })
        ));

        let missing = PathBuf::from("/nonexistent/weft/tls.crt");
        match server_config(&missing, &missing, None) {
            Err(TlsError::Io { path, .. }) => assert_eq!(path, missing),
            other => panic!("expected Io error, got {other:?}"),
        }
    }

    #[test]
    fn cert_hash_is_sha256_of_der() {
        let pki = Pki::new("ca");
        let leaf = pki.leaf(&["localhost"]);
        let der = certificates_from_pem(leaf.cert_pem.as_bytes(), "test").expect("certs");
        assert_eq!(cert_hash(&der[0]), sha256(&der[0]));
        assert_ne!(cert_hash(&der[0]), cert_hash(b""));
    }

    #[test]
    fn configs_advertise_h2() {
        let pki = Pki::new("ca");
        let leaf = pki.leaf(&["localhost"]);
        let server =
            server_config_from_pem(leaf.cert_pem.as_bytes(), leaf.key_pem.as_bytes(), None)
                .expect("server");
        let client = client_config_from_pem(pki.ca_pem.as_bytes(), None).expect("client");
        assert_eq!(server.alpn_protocols, vec![b"h2".to_vec()]);
        assert_eq!(client.alpn_protocols, vec![b"h2".to_vec()]);
    }
}
