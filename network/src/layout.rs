//! Where everything lives under the network directory, and the nodes with their ports
//! (Fabric test-network's defaults).
//!
//! ```text
//! DIR/
//!   crypto-config.yaml, configtx.yaml       the inputs of the generated material
//!   organizations/                          cryptogen's output (test-network's layout)
//!     peerOrganizations/org1.example.com/connection-org1.{json,yaml}
//!   channel-artifacts/mychannel.block       the channel genesis block
//!   config/<node>/{orderer,core}.yaml       each node's FABRIC_CFG_PATH
//!   data/<node>/                            ledgers
//!   logs/<node>.log                         each process's output
//!   chaincode/                              packages built by deploy
//! ```

use std::path::{Path, PathBuf};

/// The channel the network creates.
pub const CHANNEL: &str = "mychannel";
/// The default network directory (relative to the working directory).
pub const DEFAULT_DIR: &str = "weft-network";
/// The loopback address every endpoint binds.
pub const HOST: &str = "127.0.0.1";

/// The orderer's name.
pub const ORDERER: &str = "orderer.example.com";
/// The orderer's client port (Broadcast, Deliver, cluster).
pub const ORDERER_PORT: u16 = 7050;
/// The orderer's admin (channel participation) port.
pub const ORDERER_ADMIN_PORT: u16 = 7053;
/// The orderer's operations port.
pub const ORDERER_OPERATIONS_PORT: u16 = 9443;

/// One of the two peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerSpec {
    /// The org number (1 or 2).
    pub org: u8,
    /// The gRPC port (Endorser, Deliver, Gateway).
    pub port: u16,
    /// The chaincode listener port.
    pub chaincode_port: u16,
    /// The operations port.
    pub operations_port: u16,
}

/// `peer0.org1.example.com` and `peer0.org2.example.com`.
pub const PEERS: [PeerSpec; 2] = [
    PeerSpec {
        org: 1,
        port: 7051,
        chaincode_port: 7052,
        operations_port: 9444,
    },
    PeerSpec {
        org: 2,
        port: 9051,
        chaincode_port: 9052,
        operations_port: 9445,
    },
];

impl PeerSpec {
    /// `peer0.org1.example.com`.
    pub fn name(&self) -> String {
        format!("peer0.org{}.example.com", self.org)
    }

    /// `org1.example.com`.
    pub fn domain(&self) -> String {
        format!("org{}.example.com", self.org)
    }

    /// `Org1MSP`.
    pub fn mspid(&self) -> String {
        format!("Org{}MSP", self.org)
    }

    /// `127.0.0.1:7051`.
    pub fn address(&self) -> String {
        format!("{HOST}:{}", self.port)
    }
}

/// Every port the network binds, with what it is for (checked before anything starts).
pub fn all_ports() -> Vec<(u16, String)> {
    let mut ports = vec![
        (ORDERER_PORT, format!("{ORDERER} gRPC")),
        (ORDERER_ADMIN_PORT, format!("{ORDERER} admin")),
        (ORDERER_OPERATIONS_PORT, format!("{ORDERER} operations")),
    ];
    for peer in PEERS {
        ports.push((peer.port, format!("{} gRPC", peer.name())));
        ports.push((peer.chaincode_port, format!("{} chaincode", peer.name())));
        ports.push((peer.operations_port, format!("{} operations", peer.name())));
    }
    ports
}

/// The paths of one network directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    dir: PathBuf,
}

impl Layout {
    /// The layout under `dir` (made absolute against the working directory).
    pub fn new(dir: &Path) -> Self {
        let dir = if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            std::env::current_dir()
                .map(|cwd| cwd.join(dir))
                .unwrap_or_else(|_| dir.to_path_buf())
        };
        Self { dir }
    }

    /// The network directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `organizations/`.
    pub fn organizations(&self) -> PathBuf {
        self.dir.join("organizations")
    }

    /// `organizations/ordererOrganizations/example.com`.
    pub fn orderer_org(&self) -> PathBuf {
        self.organizations()
            .join("ordererOrganizations")
            .join("example.com")
    }

    /// The orderer node's directory (`msp/`, `tls/`).
    pub fn orderer_node(&self) -> PathBuf {
        self.orderer_org().join("orderers").join(ORDERER)
    }

    /// The orderer org's TLS CA certificate.
    pub fn orderer_tls_ca(&self) -> PathBuf {
        self.orderer_org()
            .join("tlsca")
            .join("tlsca.example.com-cert.pem")
    }

    /// The orderer admin's TLS directory (`client.crt`, `client.key`), for the admin API.
    pub fn orderer_admin_tls(&self) -> PathBuf {
        self.orderer_org()
            .join("users")
            .join("Admin@example.com")
            .join("tls")
    }

    /// `organizations/peerOrganizations/org1.example.com`.
    pub fn peer_org(&self, peer: &PeerSpec) -> PathBuf {
        self.organizations()
            .join("peerOrganizations")
            .join(peer.domain())
    }

    /// The peer node's directory (`msp/`, `tls/`).
    pub fn peer_node(&self, peer: &PeerSpec) -> PathBuf {
        self.peer_org(peer).join("peers").join(peer.name())
    }

    /// The peer's TLS CA certificate (`…/peers/peer0.org1.example.com/tls/ca.crt`).
    pub fn peer_tls_ca(&self, peer: &PeerSpec) -> PathBuf {
        self.peer_node(peer).join("tls").join("ca.crt")
    }

    /// The org admin's MSP directory (`users/Admin@org1.example.com/msp`).
    pub fn admin_msp(&self, peer: &PeerSpec) -> PathBuf {
        self.peer_org(peer)
            .join("users")
            .join(format!("Admin@{}", peer.domain()))
            .join("msp")
    }

    /// The org's client user's MSP directory (`users/User1@org1.example.com/msp`).
    pub fn user_msp(&self, peer: &PeerSpec) -> PathBuf {
        self.peer_org(peer)
            .join("users")
            .join(format!("User1@{}", peer.domain()))
            .join("msp")
    }

    /// `channel-artifacts/mychannel.block`.
    pub fn genesis_block(&self) -> PathBuf {
        self.dir
            .join("channel-artifacts")
            .join(format!("{CHANNEL}.block"))
    }

    /// A node's configuration directory (its `FABRIC_CFG_PATH`).
    pub fn config_dir(&self, node: &str) -> PathBuf {
        self.dir.join("config").join(node)
    }

    /// A node's data directory.
    pub fn data_dir(&self, node: &str) -> PathBuf {
        self.dir.join("data").join(node)
    }

    /// `logs/`.
    pub fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }

    /// A node's log file, `logs/<node>.log`.
    pub fn log(&self, node: &str) -> PathBuf {
        self.logs().join(format!("{node}.log"))
    }

    /// `chaincode/`: packages built by deploy.
    pub fn chaincode(&self) -> PathBuf {
        self.dir.join("chaincode")
    }

    /// Whether the crypto material and genesis block were generated already.
    pub fn is_generated(&self) -> bool {
        self.genesis_block().is_file() && self.orderer_tls_ca().is_file()
    }
}
