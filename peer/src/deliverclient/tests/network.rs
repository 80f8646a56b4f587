//! A channel for the tests: cryptogen material for two orderer orgs and one peer org,
//! configtxgen genesis blocks, and signed blocks extending them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use prost::Message;
use weft_common::channelconfig::ChannelConfig;
use weft_common::crypto::Signer;
use weft_common::msp::{MspDir, SigningIdentity};
use weft_common::protoutil;
use weft_proto::common::{Block, Config, ConfigEnvelope, HeaderType};
use weft_tools::configtxgen;
use weft_tools::cryptogen::{self, CryptoConfig};

/// The channel every test pulls.
pub const CHANNEL: &str = "mychannel";

const CRYPTO_CONFIG: &str = r#"
OrdererOrgs:
  - Name: Orderer
    Domain: example.com
    EnableNodeOUs: true
    Specs:
      - Hostname: orderer
        SANS: [localhost, 127.0.0.1]
  - Name: Orderer2
    Domain: example.org
    EnableNodeOUs: true
    Specs:
      - Hostname: orderer
        SANS: [localhost, 127.0.0.1]
PeerOrgs:
  - Name: Org1
    Domain: org1.example.com
    EnableNodeOUs: true
    Template:
      Count: 1
      SANS: [localhost, 127.0.0.1]
"#;

const CONFIGTX: &str = r#"
Organizations:
  - &OrdererOrg
    Name: OrdererOrg
    ID: OrdererMSP
    MSPDir: organizations/ordererOrganizations/example.com/msp
    Policies: &OrdererOrgPolicies
      Readers: {Type: Signature, Rule: "OR('OrdererMSP.member')"}
      Writers: {Type: Signature, Rule: "OR('OrdererMSP.member')"}
      Admins: {Type: Signature, Rule: "OR('OrdererMSP.admin')"}
    OrdererEndpoints:
      - orderer.example.com:7050
  - &OrdererOrgGlobal
    Name: OrdererOrgGlobal
    ID: OrdererMSP
    MSPDir: organizations/ordererOrganizations/example.com/msp
    Policies: *OrdererOrgPolicies
  - &OrdererOrg2
    Name: OrdererOrg2
    ID: OrdererMSP2
    MSPDir: organizations/ordererOrganizations/example.org/msp
    Policies: &OrdererOrg2Policies
      Readers: {Type: Signature, Rule: "OR('OrdererMSP2.member')"}
      Writers: {Type: Signature, Rule: "OR('OrdererMSP2.member')"}
      Admins: {Type: Signature, Rule: "OR('OrdererMSP2.admin')"}
    OrdererEndpoints:
      - orderer.example.org:7050
  - &OrdererOrg2Global
    Name: OrdererOrg2Global
    ID: OrdererMSP2
    MSPDir: organizations/ordererOrganizations/example.org/msp
    Policies: *OrdererOrg2Policies
  - &Org1
    Name: Org1MSP
    ID: Org1MSP
    MSPDir: organizations/peerOrganizations/org1.example.com/msp
    Policies:
      Readers: {Type: Signature, Rule: "OR('Org1MSP.admin', 'Org1MSP.peer', 'Org1MSP.client')"}
      Writers: {Type: Signature, Rule: "OR('Org1MSP.admin', 'Org1MSP.client')"}
      Admins: {Type: Signature, Rule: "OR('Org1MSP.admin')"}
      Endorsement: {Type: Signature, Rule: "OR('Org1MSP.peer')"}

Capabilities:
  Channel: &ChannelCapabilities
    V2_0: true
  Orderer: &OrdererCapabilities
    V2_0: true
  Application: &ApplicationCapabilities
    V2_5: true

Application: &ApplicationDefaults
  Organizations:
  Policies:
    Readers: {Type: ImplicitMeta, Rule: "ANY Readers"}
    Writers: {Type: ImplicitMeta, Rule: "ANY Writers"}
    Admins: {Type: ImplicitMeta, Rule: "MAJORITY Admins"}
    LifecycleEndorsement: {Type: ImplicitMeta, Rule: "MAJORITY Endorsement"}
    Endorsement: {Type: ImplicitMeta, Rule: "MAJORITY Endorsement"}
  Capabilities:
    <<: *ApplicationCapabilities

Orderer: &OrdererDefaults
  OrdererType: etcdraft
  BatchTimeout: 2s
  BatchSize:
    MaxMessageCount: 10
    AbsoluteMaxBytes: 99 MB
    PreferredMaxBytes: 512 KB
  Organizations:
  Policies:
    Readers: {Type: ImplicitMeta, Rule: "ANY Readers"}
    Writers: {Type: ImplicitMeta, Rule: "ANY Writers"}
    Admins: {Type: ImplicitMeta, Rule: "MAJORITY Admins"}
    BlockValidation: {Type: ImplicitMeta, Rule: "ANY Writers"}
  Capabilities: *OrdererCapabilities

Channel: &ChannelDefaults
  Policies:
    Readers: {Type: ImplicitMeta, Rule: "ANY Readers"}
    Writers: {Type: ImplicitMeta, Rule: "ANY Writers"}
    Admins: {Type: ImplicitMeta, Rule: "MAJORITY Admins"}
  Capabilities:
    <<: *ChannelCapabilities

Profiles:
  Genesis:
    <<: *ChannelDefaults
    Orderer:
      <<: *OrdererDefaults
      EtcdRaft:
        Consenters:
          - Host: orderer.example.com
            Port: 7050
            ClientTLSCert: organizations/ordererOrganizations/example.com/orderers/orderer.example.com/tls/server.crt
            ServerTLSCert: organizations/ordererOrganizations/example.com/orderers/orderer.example.com/tls/server.crt
      Organizations:
        - *OrdererOrg
    Application:
      <<: *ApplicationDefaults
      Organizations:
        - *Org1
  Rotated:
    <<: *ChannelDefaults
    Orderer:
      <<: *OrdererDefaults
      EtcdRaft:
        Consenters:
          - Host: orderer.example.org
            Port: 7050
            ClientTLSCert: organizations/ordererOrganizations/example.org/orderers/orderer.example.org/tls/server.crt
            ServerTLSCert: organizations/ordererOrganizations/example.org/orderers/orderer.example.org/tls/server.crt
      Organizations:
        - *OrdererOrg2
    Application:
      <<: *ApplicationDefaults
      Organizations:
        - *Org1
  Global:
    <<: *ChannelDefaults
    Orderer:
      <<: *OrdererDefaults
      Addresses:
        - a.example.com:7050
        - b.example.org:7050
      EtcdRaft:
        Consenters:
          - Host: orderer.example.com
            Port: 7050
            ClientTLSCert: organizations/ordererOrganizations/example.com/orderers/orderer.example.com/tls/server.crt
            ServerTLSCert: organizations/ordererOrganizations/example.com/orderers/orderer.example.com/tls/server.crt
      Organizations:
        - *OrdererOrgGlobal
        - *OrdererOrg2Global
    Application:
      <<: *ApplicationDefaults
      Organizations:
        - *Org1
"#;

/// A TLS certificate and key, PEM.
#[derive(Debug, Clone)]
pub struct TlsPair {
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
}

/// The generated material and the channel's genesis.
pub struct TestNetwork {
    dir: tempfile::TempDir,
    /// Block 0 of [`CHANNEL`] (profile `Genesis`: orderer org `OrdererMSP`).
    pub genesis: Block,
    /// The genesis config.
    pub config: Arc<ChannelConfig>,
    /// The orderer of `OrdererMSP` (signs blocks).
    pub orderer: Arc<SigningIdentity>,
    /// The orderer of `OrdererMSP2` (not in the genesis config).
    pub orderer2: Arc<SigningIdentity>,
    /// The peer of `Org1MSP` (signs seek requests; not an orderer).
    pub peer: Arc<SigningIdentity>,
}

impl TestNetwork {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let crypto = CryptoConfig::from_yaml(CRYPTO_CONFIG).expect("crypto-config");
        cryptogen::generate(&crypto, &dir.path().join("organizations")).expect("cryptogen");
        std::fs::write(dir.path().join("configtx.yaml"), CONFIGTX).expect("configtx.yaml");

        let signer = |rel: &str, mspid: &str| {
            let msp = MspDir::load(&dir.path().join(rel), mspid).expect("msp dir");
            Arc::new(msp.signing_identity.expect("signing identity"))
        };
        let orderer = signer(
            "organizations/ordererOrganizations/example.com/orderers/orderer.example.com/msp",
            "OrdererMSP",
        );
        let orderer2 = signer(
            "organizations/ordererOrganizations/example.org/orderers/orderer.example.org/msp",
            "OrdererMSP2",
        );
        let peer = signer(
            "organizations/peerOrganizations/org1.example.com/peers/peer0.org1.example.com/msp",
            "Org1MSP",
        );
        let genesis = profile_genesis(dir.path(), "Genesis");
        let config = Arc::new(ChannelConfig::from_block(&genesis).expect("genesis config"));
        Self {
            dir,
            genesis,
            config,
            orderer,
            orderer2,
            peer,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The genesis block configtxgen makes of `profile`.
    pub fn profile_genesis(&self, profile: &str) -> Block {
        profile_genesis(self.dir.path(), profile)
    }

    /// The config of `profile`, with `sequence`.
    pub fn profile_config(&self, profile: &str, sequence: u64) -> Config {
        let block = self.profile_genesis(profile);
        let mut config = protoutil::config_envelope_from_block(&block)
            .expect("config envelope")
            .config
            .expect("config");
        config.sequence = sequence;
        config
    }

    /// The TLS server pair of `orderer.example.com`.
    pub fn orderer_tls(&self) -> TlsPair {
        self.tls_pair(
            "organizations/ordererOrganizations/example.com/orderers/orderer.example.com/tls",
        )
    }

    /// The TLS pair of `peer0.org1.example.com` (also its client certificate).
    pub fn peer_tls(&self) -> TlsPair {
        self.tls_pair(
            "organizations/peerOrganizations/org1.example.com/peers/peer0.org1.example.com/tls",
        )
    }

    /// The TLS CA of Org1 (to accept the peer's client certificate).
    pub fn org1_tls_ca(&self) -> Vec<u8> {
        std::fs::read(self.path(
            "organizations/peerOrganizations/org1.example.com/tlsca/tlsca.org1.example.com-cert.pem",
        ))
        .expect("org1 tls ca")
    }

    fn tls_pair(&self, rel: &str) -> TlsPair {
        let dir = self.path(rel);
        TlsPair {
            cert: std::fs::read(dir.join("server.crt")).expect("tls cert"),
            key: std::fs::read(dir.join("server.key")).expect("tls key"),
        }
    }

    /// A transaction envelope of the channel (well formed, canonical).
    fn transaction(&self, tag: &str) -> Vec<u8> {
        protoutil::create_signed_envelope(
            HeaderType::EndorserTransaction,
            CHANNEL,
            self.peer.as_ref(),
            tag.as_bytes(),
            0,
        )
        .expect("envelope")
        .encode_to_vec()
    }

    /// A block of one transaction following `previous`, signed by `signer`.
    pub fn block_after(&self, previous: &Block, signer: &dyn Signer, last_config: u64) -> Block {
        let header = previous.header.as_ref().expect("header");
        let number = header.number + 1;
        let mut block = protoutil::build_block(
            number,
            protoutil::block_header_hash(header).to_vec(),
            vec![self.transaction(&format!("tx of block {number}"))],
        );
        protoutil::sign_block(&mut block, signer, last_config, &[]).expect("sign");
        block
    }

    /// A config block carrying `config` following `previous`, signed by `signer`.
    pub fn config_block_after(
        &self,
        previous: &Block,
        config: Config,
        signer: &dyn Signer,
    ) -> Block {
        let header = previous.header.as_ref().expect("header");
        let number = header.number + 1;
        let envelope = ConfigEnvelope {
            config: Some(config),
            last_update: None,
        };
        let tx = protoutil::create_signed_envelope(
            HeaderType::Config,
            CHANNEL,
            self.orderer.as_ref(),
            &envelope.encode_to_vec(),
            0,
        )
        .expect("config envelope")
        .encode_to_vec();
        let mut block = protoutil::build_block(
            number,
            protoutil::block_header_hash(header).to_vec(),
            vec![tx],
        );
        protoutil::sign_block(&mut block, signer, number, &[]).expect("sign");
        block
    }

    /// Genesis plus `len − 1` blocks signed by the `OrdererMSP` orderer.
    pub fn chain(&self, len: usize) -> Vec<Block> {
        let mut blocks = vec![self.genesis.clone()];
        while blocks.len() < len {
            let next = self.block_after(blocks.last().expect("genesis"), self.orderer.as_ref(), 0);
            blocks.push(next);
        }
        blocks
    }
}

/// The genesis block configtxgen makes of `profile` from the `configtx.yaml` in `dir`.
fn profile_genesis(dir: &Path, profile: &str) -> Block {
    let top = configtxgen::TopLevel::load(dir).expect("configtx");
    let profile = top.profile(profile).expect("profile");
    configtxgen::genesis_block(&profile, CHANNEL).expect("genesis")
}
