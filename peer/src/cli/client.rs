//! What the client commands need before they can talk: the admin's signing identity
//! (`peer.mspConfigPath` + `peer.localMspId`) and gRPC connections to the peer
//! (`peer.address`, `peer.tls.*`, `peer.client.connTimeout`) or to an orderer (the `-o`,
//! `--tls`, `--cafile`, `--clientauth`, ... flags), set up the way Fabric's
//! `internal/peer/common` does, with its error wording.

use std::path::{Path, PathBuf};
use std::time::Duration;

use time::OffsetDateTime;
use tonic::transport::Channel;
use weft_common::crypto::SHA256_LEN;
use weft_common::grpc::{self, ClientOptions, ClientTls, GrpcError};
use weft_common::msp::{MspDir, SigningIdentity};
use weft_common::tls;

use super::CliError;
use super::args::OrdererArgs;
use crate::config::{DEFAULT_MAX_MSG_SIZE, PeerConfig};

/// Loads the signing identity the client commands sign with: the MSP directory at
/// `peer.mspConfigPath` for MSP id `peer.localMspId` (usually an admin's, e.g.
/// `users/Admin@org1.example.com/msp`).
pub fn load_signer(config: &PeerConfig) -> Result<SigningIdentity, CliError> {
    let dir = &config.peer.msp_config_path;
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(CliError::Crypto(format!(
                "cannot init crypto, specified path \"{}\" is not a directory",
                dir.display()
            )));
        }
        Err(e) => {
            return Err(CliError::Crypto(format!(
                "cannot init crypto, specified path \"{}\" does not exist or cannot be \
                 accessed: {}",
                dir.display(),
                go_io_error("stat", dir, &e)
            )));
        }
    }
    let setup_error = |reason: String| {
        CliError::Crypto(format!(
            "error when setting up MSP of type bccsp from directory {}: {reason}",
            dir.display()
        ))
    };
    let msp_dir =
        MspDir::load(dir, &config.peer.local_msp_id).map_err(|e| setup_error(e.to_string()))?;
    let signer = msp_dir.signing_identity.ok_or_else(|| {
        setup_error(format!(
            "could not load a valid signer certificate from directory {}",
            dir.join("signcerts").display()
        ))
    })?;
    let not_after = signer.identity().not_after();
    if signer.identity().is_expired_at(OffsetDateTime::now_utc()) {
        return Err(setup_error(format!(
            "the signing certificate expired at {not_after}"
        )));
    }
    Ok(signer)
}

/// Where and how to dial: the peer (from the configuration) or an orderer (from flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `PeerClient` or `OrdererClient`, for error messages.
    pub client: &'static str,
    /// The configuration prefix (`peer` or `orderer`), for error messages.
    pub prefix: &'static str,
    /// `host:port`.
    pub address: String,
    /// TLS, when enabled.
    pub tls: Option<TargetTls>,
    /// Mutual TLS: the client certificate and key files (an empty path stands for an
    /// unset setting and fails to load, as in Fabric).
    pub client_identity: Option<(PathBuf, PathBuf)>,
    /// How long dialing (TCP, TLS, HTTP/2) may take.
    pub conn_timeout: Duration,
    /// The largest message accepted.
    pub max_recv_msg_size: usize,
    /// The largest message sent.
    pub max_send_msg_size: usize,
}

/// Server authentication of a [`Target`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetTls {
    /// The CA file trusted for the server (empty path: unset).
    pub root_cert: PathBuf,
    /// The name checked in the server certificate instead of the address's host.
    pub server_name_override: Option<String>,
}

/// A connected channel and the TLS binding of the client certificate.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The gRPC channel.
    pub channel: Channel,
    /// SHA-256 of the client TLS certificate, when one is presented (Fabric's
    /// `ChannelHeader.tls_cert_hash` for Deliver).
    pub tls_cert_hash: Option<[u8; SHA256_LEN]>,
}

/// Why a connection could not be set up. Displayed with Fabric's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// TLS material could not be loaded.
    #[error("failed to load config for {client}: {reason}")]
    Config {
        /// `PeerClient` or `OrdererClient`.
        client: &'static str,
        /// What failed.
        reason: String,
    },
    /// Dialing failed.
    #[error("{service} client failed to connect to {address}: {reason}")]
    Dial {
        /// `endorser`, `deliver` or `orderer`.
        service: &'static str,
        /// The address dialed.
        address: String,
        /// Why.
        reason: String,
    },
}

impl Target {
    /// The peer as the client commands reach it: `peer.address`, with TLS when
    /// `peer.tls.enabled` (trusting `peer.tls.rootcert.file`, checking
    /// `peer.tls.serverhostoverride` if set) and a client certificate
    /// (`peer.tls.clientCert.file`/`clientKey.file`) when `peer.tls.clientAuthRequired`.
    pub fn peer(config: &PeerConfig) -> Self {
        let tls = &config.peer.tls;
        Self {
            client: "PeerClient",
            prefix: "peer",
            address: config.peer.address.clone(),
            tls: tls.enabled.then(|| TargetTls {
                root_cert: tls.root_cert_file.clone(),
                server_name_override: tls.server_host_override.clone(),
            }),
            client_identity: tls.client_auth_required.then(|| {
                (
                    tls.client_cert_file.clone().unwrap_or_default(),
                    tls.client_key_file.clone().unwrap_or_default(),
                )
            }),
            conn_timeout: config.peer.client_conn_timeout,
            max_recv_msg_size: config.peer.max_recv_msg_size,
            max_send_msg_size: config.peer.max_send_msg_size,
        }
    }

    /// An orderer as the `peer channel` flags describe it.
    pub fn orderer(args: &OrdererArgs) -> Self {
        Self {
            client: "OrdererClient",
            prefix: "orderer",
            address: args.orderer.clone(),
            tls: args.tls.then(|| TargetTls {
                root_cert: args.cafile.clone().unwrap_or_default(),
                server_name_override: args.orderer_tls_hostname_override.clone(),
            }),
            client_identity: args.clientauth.then(|| {
                (
                    args.certfile.clone().unwrap_or_default(),
                    args.keyfile.clone().unwrap_or_default(),
                )
            }),
            conn_timeout: args.conn_timeout,
            max_recv_msg_size: DEFAULT_MAX_MSG_SIZE,
            max_send_msg_size: DEFAULT_MAX_MSG_SIZE,
        }
    }

    /// The TLS settings and the client certificate's hash, reading the files in Fabric's
    /// order (root CA, then client key, then client certificate).
    fn client_tls(&self) -> Result<(Option<ClientTls>, Option<[u8; SHA256_LEN]>), ConnectError> {
        let config_error = |reason: String| ConnectError::Config {
            client: self.client,
            reason,
        };
        let prefix = self.prefix;
        let load = |key: &str, path: &Path| {
            std::fs::read(path).map_err(|e| {
                config_error(format!(
                    "unable to load {prefix}.{key}: {}",
                    go_io_error("open", path, &e)
                ))
            })
        };
        if let Some(tls) = &self.tls {
            load("tls.rootcert.file", &tls.root_cert)?;
        }
        let mut cert_hash = None;
        if let Some((cert, key)) = &self.client_identity {
            load("tls.clientKey.file", key)?;
            let cert_pem = load("tls.clientCert.file", cert)?;
            let certs = tls::certificates_from_pem(&cert_pem, &cert.display().to_string())
                .map_err(|e| config_error(e.to_string()))?;
            cert_hash = certs.first().map(|der| tls::cert_hash(der));
        }
        let Some(target_tls) = &self.tls else {
            return Ok((None, None));
        };
        let identity = self
            .client_identity
            .as_ref()
            .map(|(cert, key)| (cert.as_path(), key.as_path()));
        let config = tls::client_config(std::slice::from_ref(&target_tls.root_cert), identity)
            .map_err(|e| config_error(e.to_string()))?;
        Ok((
            Some(ClientTls {
                config,
                server_name_override: target_tls.server_name_override.clone(),
            }),
            cert_hash,
        ))
    }

    /// Dials the target for `service` (`endorser`, `deliver`, `orderer`, named in
    /// errors), waiting at most the connection timeout.
    pub async fn connect(&self, service: &'static str) -> Result<Connection, ConnectError> {
        let (tls, tls_cert_hash) = self.client_tls()?;
        let options = ClientOptions {
            connect_timeout: self.conn_timeout,
            ..ClientOptions::default()
        };
        let channel = grpc::connect(&self.address, tls, &options)
            .await
            .map_err(|e| ConnectError::Dial {
                service,
                address: self.address.clone(),
                reason: dial_reason(&e),
            })?;
        Ok(Connection {
            channel,
            tls_cert_hash,
        })
    }
}

/// The reason of a dial failure without the repeated endpoint.
fn dial_reason(e: &GrpcError) -> String {
    match e {
        GrpcError::Connect { reason, .. } => format!("failed to create new connection: {reason}"),
        GrpcError::Timeout { after, .. } => format!(
            "failed to create new connection: context deadline exceeded (after {})",
            weft_common::channelconfig::format_go_duration(*after)
        ),
        other => other.to_string(),
    }
}

/// An I/O error worded as Go's `*PathError` (`open x.block: no such file or directory`).
pub fn go_io_error(op: &str, path: &Path, e: &std::io::Error) -> String {
    let reason = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => {
            let text = e.to_string();
            let text = match text.rfind(" (os error ") {
                Some(i) => text[..i].to_owned(),
                None => text,
            };
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => text,
            }
        }
    };
    format!("{op} {}: {reason}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::DEFAULT_CONN_TIMEOUT;

    const NO_ENV: [(&str, &str); 0] = [];

    #[test]
    fn peer_target_from_the_test_network_variables() {
        let env = [
            ("CORE_PEER_ADDRESS", "localhost:7051"),
            ("CORE_PEER_TLS_ENABLED", "true"),
            ("CORE_PEER_TLS_ROOTCERT_FILE", "/org1/tls/ca.crt"),
            ("CORE_PEER_TLS_SERVERHOSTOVERRIDE", "peer0.org1.example.com"),
        ];
        let config = PeerConfig::from_yaml_str("", None, env).expect("config");
        let target = Target::peer(&config);
        assert_eq!(target.address, "localhost:7051");
        assert_eq!(
            target.tls,
            Some(TargetTls {
                root_cert: PathBuf::from("/org1/tls/ca.crt"),
                server_name_override: Some("peer0.org1.example.com".into()),
            })
        );
        assert_eq!(target.client_identity, None);
        assert_eq!(target.conn_timeout, Duration::from_secs(3));

        let config = PeerConfig::from_yaml_str("", None, NO_ENV).expect("config");
        let target = Target::peer(&config);
        assert_eq!(target.address, "0.0.0.0:7051");
        assert_eq!(target.tls, None);
    }

    #[test]
    fn missing_tls_files_are_reported_like_fabric() {
        let env = [
            ("CORE_PEER_TLS_ENABLED", "true"),
            ("CORE_PEER_TLS_ROOTCERT_FILE", "/nonexistent/ca.crt"),
        ];
        let config = PeerConfig::from_yaml_str("", None, env).expect("config");
        let err = Target::peer(&config).client_tls().expect_err("missing CA");
        assert_eq!(
            err.to_string(),
            "failed to load config for PeerClient: unable to load peer.tls.rootcert.file: \
             open /nonexistent/ca.crt: no such file or directory"
        );

        let args = OrdererArgs {
            orderer: "localhost:7050".into(),
            tls: true,
            ..OrdererArgs::default()
        };
        let err = Target::orderer(&args)
            .client_tls()
            .expect_err("no --cafile");
        assert_eq!(
            err.to_string(),
            "failed to load config for OrdererClient: unable to load \
             orderer.tls.rootcert.file: open : no such file or directory"
        );
    }

    #[test]
    fn orderer_target_from_flags() {
        let args = OrdererArgs {
            orderer: "localhost:7050".into(),
            tls: true,
            cafile: Some("/ca.pem".into()),
            clientauth: true,
            certfile: Some("/c.pem".into()),
            keyfile: Some("/k.pem".into()),
            orderer_tls_hostname_override: Some("orderer.example.com".into()),
            ..OrdererArgs::default()
        };
        let target = Target::orderer(&args);
        assert_eq!(target.conn_timeout, DEFAULT_CONN_TIMEOUT);
        assert_eq!(
            target.client_identity,
            Some((PathBuf::from("/c.pem"), PathBuf::from("/k.pem")))
        );
        assert_eq!(
            target.tls.and_then(|t| t.server_name_override).as_deref(),
            Some("orderer.example.com")
        );
    }

    #[test]
    fn unreachable_target_names_the_service() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        // A port nobody listens on: bind, take the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let config = PeerConfig::from_yaml_str(
            "",
            None,
            [("CORE_PEER_ADDRESS", format!("127.0.0.1:{port}"))],
        )
        .expect("config");
        let err = rt
            .block_on(Target::peer(&config).connect("endorser"))
            .expect_err("nothing listens");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "endorser client failed to connect to 127.0.0.1:{port}: failed to create new \
                 connection: "
            )),
            "{text}"
        );
    }

    #[test]
    fn missing_msp_directory_is_reported_like_fabric() {
        let config =
            PeerConfig::from_yaml_str("", None, [("CORE_PEER_MSPCONFIGPATH", "/nonexistent/msp")])
                .expect("config");
        let err = load_signer(&config).expect_err("no msp");
        assert_eq!(
            err.to_string(),
            "Cannot run peer because cannot init crypto, specified path \"/nonexistent/msp\" \
             does not exist or cannot be accessed: stat /nonexistent/msp: no such file or \
             directory"
        );
    }

    #[test]
    fn go_io_errors() {
        let e = std::io::Error::from_raw_os_error(21);
        assert_eq!(
            go_io_error("open", Path::new("/tmp"), &e),
            "open /tmp: is a directory"
        );
    }
}
