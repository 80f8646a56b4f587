//! Real signed chains for the blockstore and deliver tests.

use prost::Message;
use weft_proto::common::{Block, Config, ConfigGroup, HeaderType};

use crate::msp::SigningIdentity;
use crate::msp::test_certs::{TestCert, TestOrg};
use crate::protoutil::{
    block_header_hash, build_block, create_signed_envelope, genesis_block, sign_block,
    unpack_envelope_bytes,
};

/// The channel every test chain lives on.
pub(crate) const CHANNEL: &str = "mychannel";

/// A signing identity for `cert` in `mspid`.
pub(crate) fn signing_identity(mspid: &str, cert: &TestCert) -> SigningIdentity {
    SigningIdentity::new(mspid, cert.pem.as_bytes(), cert.key.clone()).expect("identity")
}

/// A client and an orderer (real certificates) and a chain under construction.
pub(crate) struct TestChain {
    pub(crate) client: SigningIdentity,
    pub(crate) orderer: SigningIdentity,
    pub(crate) blocks: Vec<Block>,
}

impl TestChain {
    /// A chain holding only the genesis block of [`CHANNEL`].
    pub(crate) fn new() -> TestChain {
        let org = TestOrg::new("Org1MSP");
        let orderer_org = TestOrg::new("OrdererMSP");
        let config = Config {
            sequence: 0,
            channel_group: Some(ConfigGroup {
                mod_policy: "Admins".into(),
                ..Default::default()
            }),
        };
        TestChain {
            client: signing_identity("Org1MSP", &org.member("client")),
            orderer: signing_identity("OrdererMSP", &orderer_org.member("orderer")),
            blocks: vec![genesis_block(CHANNEL, &config)],
        }
    }

    /// A fresh signed endorser-transaction envelope from the client, encoded.
    pub(crate) fn tx(&self) -> Vec<u8> {
        create_signed_envelope(
            HeaderType::EndorserTransaction,
            CHANNEL,
            &self.client,
            b"tx",
            0,
        )
        .expect("envelope")
        .encode_to_vec()
    }

    /// The next block carrying `entries`, signed by the orderer (not added to the chain).
    pub(crate) fn next_block_with(&self, entries: Vec<Vec<u8>>) -> Block {
        let last = self.blocks.last().expect("genesis");
        let header = last.header.as_ref().expect("header");
        let mut block = build_block(
            header.number + 1,
            block_header_hash(header).to_vec(),
            entries,
        );
        sign_block(&mut block, &self.orderer, 0, b"raft").expect("sign");
        block
    }

    /// Adds a block of `tx_count` fresh transactions and returns it.
    pub(crate) fn push(&mut self, tx_count: usize) -> Block {
        let entries = (0..tx_count).map(|_| self.tx()).collect();
        let block = self.next_block_with(entries);
        self.blocks.push(block.clone());
        block
    }
}

/// The channel-header txid of an envelope.
pub(crate) fn txid_of(entry: &[u8]) -> String {
    unpack_envelope_bytes(entry)
        .expect("envelope")
        .tx_id()
        .to_owned()
}
