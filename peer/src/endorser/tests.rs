//! The endorser in-process, over a real channel ledger: channel-less `cscc` calls against
//! the local MSP, `qscc` queries on a joined channel, and every pre-processing refusal.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use prost::Message;
use weft_common::msp::{MspDir, SigningIdentity};
use weft_common::protoutil;
use weft_proto::common::{
    Block, BlockchainInfo, ChannelHeader, Envelope, Header, HeaderType, Payload, SignatureHeader,
};
use weft_proto::protos::{
    ChannelQueryResponse, ProposalResponse, SignedProposal, TxValidationCode,
};
use weft_tools::configtxgen;
use weft_tools::cryptogen::{self, CryptoConfig};

use super::{Endorser, ProposalRejected};
use crate::channels::Channels;

pub(super) const CHANNEL: &str = "mychannel";

pub(super) fn package_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

pub(super) struct Fixture {
    pub(super) _dir: tempfile::TempDir,
    pub(super) endorser: Endorser,
    pub(super) channels: Arc<Channels>,
    pub(super) genesis: Block,
    pub(super) admin1: SigningIdentity,
    pub(super) user1: SigningIdentity,
    pub(super) admin2: SigningIdentity,
}

impl Fixture {
    /// Org1's peer0 with an empty ledger root, and the test network's channel genesis.
    pub(super) fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let tools = package_dir().join("../tools/testdata");
        let orgs = dir.path().join("organizations");
        let crypto = CryptoConfig::load(&tools.join("crypto-config.yaml")).expect("crypto");
        cryptogen::generate(&crypto, &orgs).expect("cryptogen");
        std::fs::copy(
            tools.join("configtx.yaml"),
            dir.path().join("configtx.yaml"),
        )
        .expect("configtx");
        let top = configtxgen::TopLevel::load(dir.path()).expect("configtx.yaml");
        let profile = top.profile("TwoOrgsApplicationGenesis").expect("profile");
        let genesis = configtxgen::genesis_block(&profile, CHANNEL).expect("genesis");

        let org = |n: u32| orgs.join(format!("peerOrganizations/org{n}.example.com"));
        let load = |path: PathBuf, mspid: &str| MspDir::load(&path, mspid).expect("msp");
        let peer_msp = load(org(1).join("peers/peer0.org1.example.com/msp"), "Org1MSP");
        let signer = |path: PathBuf, mspid: &str| {
            load(path, mspid)
                .signing_identity
                .expect("signing identity")
        };
        let channels = Arc::new(Channels::open(&dir.path().join("peer")).expect("channels"));
        let endorser = Endorser::new(
            channels.clone(),
            Arc::new(peer_msp.msp().expect("local msp")),
            Arc::new(peer_msp.signing_identity.clone().expect("peer identity")),
        );
        Fixture {
            endorser,
            channels,
            genesis,
            admin1: signer(org(1).join("users/Admin@org1.example.com/msp"), "Org1MSP"),
            user1: signer(org(1).join("users/User1@org1.example.com/msp"), "Org1MSP"),
            admin2: signer(org(2).join("users/Admin@org2.example.com/msp"), "Org2MSP"),
            _dir: dir,
        }
    }

    pub(super) fn proposal(
        &self,
        channel: &str,
        chaincode: &str,
        args: &[&[u8]],
        signer: &SigningIdentity,
    ) -> SignedProposal {
        let args = args.iter().map(|a| a.to_vec()).collect();
        let (proposal, _) = protoutil::create_chaincode_proposal(
            channel,
            chaincode,
            args,
            HashMap::new(),
            signer.serialized(),
            None,
        );
        protoutil::sign_proposal(&proposal, signer).expect("sign")
    }

    pub(super) async fn call(
        &self,
        channel: &str,
        chaincode: &str,
        args: &[&[u8]],
        signer: &SigningIdentity,
    ) -> Result<ProposalResponse, ProposalRejected> {
        let signed = self.proposal(channel, chaincode, args, signer);
        self.endorser.process_proposal(signed).await
    }

    pub(super) async fn join(&self) {
        let block = self.genesis.encode_to_vec();
        let response = self
            .call("", "cscc", &[b"JoinChain", &block], &self.admin1)
            .await
            .expect("join");
        assert_eq!(status(&response), 200, "{response:?}");
    }
}

pub(super) fn status(response: &ProposalResponse) -> i32 {
    response.response.as_ref().map_or(0, |r| r.status)
}

pub(super) fn message(response: &ProposalResponse) -> &str {
    response
        .response
        .as_ref()
        .map_or("", |r| r.message.as_str())
}

#[tokio::test]
async fn join_then_list_and_query_the_chain() {
    let f = Fixture::new();
    f.join().await;
    assert_eq!(f.channels.ids(), vec![CHANNEL.to_owned()]);

    let listed = f
        .call("", "cscc", &[b"GetChannels"], &f.user1)
        .await
        .expect("list");
    assert_eq!(status(&listed), 200);
    assert!(
        listed.endorsement.is_none(),
        "channel-less calls are not endorsed"
    );
    let channels = ChannelQueryResponse::decode(listed.response.unwrap().payload.as_slice())
        .expect("ChannelQueryResponse");
    assert_eq!(channels.channels[0].channel_id, CHANNEL);

    let info = f
        .call(
            CHANNEL,
            "qscc",
            &[b"GetChainInfo", CHANNEL.as_bytes()],
            &f.user1,
        )
        .await
        .expect("chain info");
    assert_eq!(status(&info), 200, "{info:?}");
    assert!(info.endorsement.is_some(), "channel calls are endorsed");
    let chain = BlockchainInfo::decode(info.response.unwrap().payload.as_slice()).expect("info");
    assert_eq!(chain.height, 1);
    assert_eq!(
        chain.current_block_hash,
        protoutil::block_header_hash(f.genesis.header.as_ref().unwrap()).to_vec()
    );

    let block = f
        .call(
            CHANNEL,
            "qscc",
            &[b"GetBlockByNumber", CHANNEL.as_bytes(), b"0"],
            &f.user1,
        )
        .await
        .expect("block");
    let block = Block::decode(block.response.unwrap().payload.as_slice()).expect("block");
    assert_eq!(block.header, f.genesis.header);
    let by_hash = f
        .call(
            CHANNEL,
            "qscc",
            &[
                b"GetBlockByHash",
                CHANNEL.as_bytes(),
                &chain.current_block_hash,
            ],
            &f.user1,
        )
        .await
        .expect("block by hash");
    assert_eq!(status(&by_hash), 200, "{by_hash:?}");
    let missing = f
        .call(
            CHANNEL,
            "qscc",
            &[b"GetBlockByNumber", CHANNEL.as_bytes(), b"7"],
            &f.user1,
        )
        .await
        .expect("answered");
    assert_eq!(status(&missing), 500);
}

#[tokio::test]
async fn joining_needs_a_local_admin_and_a_new_channel() {
    let f = Fixture::new();
    let block = f.genesis.encode_to_vec();
    let by_user = f
        .call("", "cscc", &[b"JoinChain", &block], &f.user1)
        .await
        .expect("answered");
    assert_eq!(status(&by_user), 500);
    assert!(message(&by_user).contains("access denied"), "{by_user:?}");
    // An admin of another org is not an admin of this peer's MSP: refused before cscc.
    let foreign = f.call("", "cscc", &[b"JoinChain", &block], &f.admin2).await;
    assert!(
        matches!(&foreign, Err(ProposalRejected(m)) if m.contains("access denied")),
        "{foreign:?}"
    );
    assert!(f.channels.ids().is_empty());

    f.join().await;
    let again = f
        .call("", "cscc", &[b"JoinChain", &block], &f.admin1)
        .await
        .expect("answered");
    assert_eq!(status(&again), 500);
    assert!(message(&again).contains("already exists"), "{again:?}");

    let garbage = f
        .call("", "cscc", &[b"JoinChain", b"\xff\x00garbage"], &f.admin1)
        .await
        .expect("answered");
    assert_eq!(status(&garbage), 500);
}

#[tokio::test]
async fn malformed_forged_and_replayed_proposals_are_refused() {
    let f = Fixture::new();
    f.join().await;

    let garbage = SignedProposal {
        proposal_bytes: b"not a proposal".to_vec(),
        signature: b"sig".to_vec(),
    };
    assert!(f.endorser.process_proposal(garbage).await.is_err());

    let mut forged = f.proposal(
        CHANNEL,
        "qscc",
        &[b"GetChainInfo", CHANNEL.as_bytes()],
        &f.user1,
    );
    forged.signature = f.proposal(CHANNEL, "qscc", &[b"x"], &f.user1).signature;
    let refused = f.endorser.process_proposal(forged).await;
    assert!(
        matches!(&refused, Err(ProposalRejected(m)) if m == "error validating proposal: access denied: channel [mychannel] creator org [Org1MSP]"),
        "{refused:?}"
    );

    let unknown = f
        .call(
            "otherchannel",
            "qscc",
            &[b"GetChainInfo", b"otherchannel"],
            &f.user1,
        )
        .await
        .expect("answered");
    assert_eq!(status(&unknown), 500);
    assert_eq!(message(&unknown), "channel 'otherchannel' not found");

    let undefined = f
        .call(CHANNEL, "basic", &[b"ReadAsset", b"asset1"], &f.user1)
        .await
        .expect("answered");
    assert_eq!(status(&undefined), 500);
    assert!(
        message(&undefined).contains("make sure the chaincode basic has been successfully defined")
    );

    // A txid already on the ledger (here in an invalid transaction: still a replay).
    let nonce = b"fixed nonce for the replay test".to_vec();
    let (proposal, txid) = protoutil::create_chaincode_proposal(
        CHANNEL,
        "qscc",
        vec![b"GetChainInfo".to_vec(), CHANNEL.as_bytes().to_vec()],
        HashMap::new(),
        f.user1.serialized(),
        Some(nonce.clone()),
    );
    let payload = Payload {
        header: Some(Header {
            channel_header: ChannelHeader {
                r#type: HeaderType::EndorserTransaction as i32,
                channel_id: CHANNEL.to_owned(),
                tx_id: txid.clone(),
                ..Default::default()
            }
            .encode_to_vec(),
            signature_header: SignatureHeader {
                creator: f.user1.serialized().to_vec(),
                nonce,
            }
            .encode_to_vec(),
        }),
        data: b"not a transaction".to_vec(),
    };
    let envelope = Envelope {
        payload: payload.encode_to_vec(),
        signature: b"unsigned".to_vec(),
    };
    let channel = f.channels.get(CHANNEL).expect("channel");
    let previous = channel.ledger().block_store().last_header_hash();
    let block = protoutil::build_block(1, previous, vec![envelope.encode_to_vec()]);
    let notice = channel
        .commit_block(block)
        .expect("commit")
        .expect("committed");
    assert_ne!(notice.transactions[0].code, TxValidationCode::Valid);
    let signed = protoutil::sign_proposal(&proposal, &f.user1).expect("sign");
    let replay = f.endorser.process_proposal(signed).await;
    assert!(
        matches!(&replay, Err(ProposalRejected(m)) if m.starts_with(&format!("duplicate transaction found [{txid}]"))),
        "{replay:?}"
    );
}

#[tokio::test]
async fn commits_are_announced_and_channels_reopen_where_they_were() {
    let f = Fixture::new();
    f.join().await;
    let channel = f.channels.get(CHANNEL).expect("channel");
    let mut notices = channel.subscribe_commits();

    let previous = channel.ledger().block_store().last_header_hash();
    let envelope = protoutil::create_signed_envelope(
        HeaderType::EndorserTransaction,
        CHANNEL,
        &f.user1,
        b"not a transaction",
        0,
    )
    .expect("envelope");
    let txid = protoutil::unpack_envelope(&envelope)
        .expect("unpack")
        .tx_id()
        .to_owned();
    let block = protoutil::build_block(1, previous, vec![envelope.encode_to_vec()]);
    let committed = channel.commit_block(block.clone()).expect("commit");
    assert!(committed.is_some());
    // The same block again is already committed: skipped.
    assert!(channel.commit_block(block).expect("skip").is_none());

    let notice = notices.try_recv().expect("a notice per committed block");
    assert_eq!(notice.channel_id, CHANNEL);
    assert_eq!(notice.number(), 1);
    assert_eq!(notice.transactions.len(), 1);
    assert_eq!(notice.transactions[0].txid, txid);
    assert_ne!(notice.transactions[0].code, TxValidationCode::Valid);
    assert!(
        notices.try_recv().is_err(),
        "a skipped block is not announced"
    );
    assert_eq!(
        protoutil::transactions_filter(&notice.block),
        [notice.transactions[0].code as u8],
        "the committed block carries its TRANSACTIONS_FILTER"
    );

    // qscc finds the transaction and its block by txid.
    let found = f
        .call(
            CHANNEL,
            "qscc",
            &[b"GetTransactionByID", CHANNEL.as_bytes(), txid.as_bytes()],
            &f.user1,
        )
        .await
        .expect("answered");
    assert_eq!(status(&found), 200, "{found:?}");
    let processed = weft_proto::protos::ProcessedTransaction::decode(
        found.response.unwrap().payload.as_slice(),
    )
    .expect("ProcessedTransaction");
    assert_eq!(
        processed.validation_code,
        notice.transactions[0].code as i32
    );
    assert_eq!(processed.transaction_envelope, Some(envelope));
    let by_txid = f
        .call(
            CHANNEL,
            "qscc",
            &[b"GetBlockByTxID", CHANNEL.as_bytes(), txid.as_bytes()],
            &f.user1,
        )
        .await
        .expect("answered");
    let block = Block::decode(by_txid.response.unwrap().payload.as_slice()).expect("block");
    assert_eq!(block.header.map(|h| h.number), Some(1));
    let unknown = f
        .call(
            CHANNEL,
            "qscc",
            &[b"GetTransactionByID", CHANNEL.as_bytes(), b"nope"],
            &f.user1,
        )
        .await
        .expect("answered");
    assert_eq!(status(&unknown), 500);

    // Reopened, the peer finds the channel at the same height and config.
    let sequence = channel.config().sequence();
    let root = f._dir.path().join("peer");
    drop(channel);
    drop(f.endorser);
    drop(f.channels);
    let reopened = Channels::open(&root).expect("reopen");
    let channel = reopened.get(CHANNEL).expect("channel after reopen");
    assert_eq!(channel.ledger().height(), 2);
    assert_eq!(channel.config().sequence(), sequence);
}
