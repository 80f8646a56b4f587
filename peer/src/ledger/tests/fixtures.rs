//! Building signed endorser transactions with given read-write sets, and a chain of
//! blocks committed to a ledger in a temporary directory.

use std::collections::HashMap;
use std::path::Path;

use prost::Message;
use weft_common::blockstore::BlockStoreOptions;
use weft_common::crypto::{CryptoError, PrivateKey, Signer};
use weft_common::protoutil::{
    assemble_transaction, block_header_hash, build_block, create_chaincode_proposal,
    create_proposal_response, create_proposal_response_payload, create_signed_envelope,
    set_transactions_filter, sign_envelope_payload, sign_proposal, unpack_envelope_bytes,
    unpack_proposal,
};
use weft_proto::common::{Block, HeaderType};
use weft_proto::kvrwset::{KvMetadataEntry, KvMetadataWrite, KvWrite, KvrwSet};
use weft_proto::msp::SerializedIdentity;
use weft_proto::protos::{ChaincodeAction, ChaincodeId, Response, TxValidationCode};
use weft_proto::rwset::{NsReadWriteSet, TxReadWriteSet};

use crate::ledger::{Ledger, TxUpdates, tx_updates_from_rwset, updates_of_committed_block};

pub(super) const CHANNEL: &str = "mychannel";

/// A signer with a fresh key and a stand-in identity (the ledger never checks it).
#[derive(Debug)]
pub(super) struct TestSigner {
    key: PrivateKey,
    creator: Vec<u8>,
}

impl TestSigner {
    pub(super) fn new(mspid: &str) -> Self {
        let key = PrivateKey::generate();
        let creator = SerializedIdentity {
            mspid: mspid.to_owned(),
            id_bytes: hex::encode(key.public_key().to_sec1_uncompressed()).into_bytes(),
        }
        .encode_to_vec();
        Self { key, creator }
    }
}

impl Signer for TestSigner {
    fn creator(&self) -> &[u8] {
        &self.creator
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.key.sign(message)
    }
}

/// A read-write set under construction, one namespace at a time.
#[derive(Debug, Default, Clone)]
pub(crate) struct Rw {
    namespaces: Vec<(String, KvrwSet)>,
}

impl Rw {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Starts namespace `ns`; following writes go there.
    pub(crate) fn ns(mut self, ns: &str) -> Self {
        self.namespaces.push((ns.to_owned(), KvrwSet::default()));
        self
    }

    fn current(&mut self) -> &mut KvrwSet {
        if self.namespaces.is_empty() {
            self.namespaces.push(("cc".to_owned(), KvrwSet::default()));
        }
        let last = self.namespaces.len() - 1;
        &mut self.namespaces[last].1
    }

    pub(crate) fn put(mut self, key: &str, value: &[u8]) -> Self {
        self.current().writes.push(KvWrite {
            key: key.to_owned(),
            is_delete: false,
            value: value.to_vec(),
        });
        self
    }

    pub(crate) fn del(mut self, key: &str) -> Self {
        self.current().writes.push(KvWrite {
            key: key.to_owned(),
            is_delete: true,
            value: Vec::new(),
        });
        self
    }

    pub(crate) fn meta(mut self, key: &str, entries: &[(&str, &[u8])]) -> Self {
        self.current().metadata_writes.push(KvMetadataWrite {
            key: key.to_owned(),
            entries: entries
                .iter()
                .map(|(name, value)| KvMetadataEntry {
                    name: (*name).to_owned(),
                    value: value.to_vec(),
                })
                .collect(),
        });
        self
    }

    pub(super) fn build(&self) -> TxReadWriteSet {
        TxReadWriteSet {
            data_model: 0,
            ns_rwset: self
                .namespaces
                .iter()
                .map(|(ns, kv)| NsReadWriteSet {
                    namespace: ns.clone(),
                    rwset: kv.encode_to_vec(),
                    collection_hashed_rwset: Vec::new(),
                })
                .collect(),
        }
    }
}

/// One transaction to put in a block, with the code the validator gave it.
#[derive(Debug, Clone)]
pub(crate) struct Tx {
    pub(super) envelope: Vec<u8>,
    pub(super) txid: String,
    pub(super) code: TxValidationCode,
    /// The rwset, for endorser transactions.
    pub(super) rwset: Option<TxReadWriteSet>,
}

impl Tx {
    /// This transaction with another validation code.
    pub(super) fn with_code(mut self, code: TxValidationCode) -> Self {
        self.code = code;
        self
    }
}

/// Clients and peers signing the fixtures' transactions.
#[derive(Debug)]
pub(crate) struct Signers {
    client: TestSigner,
    peer: TestSigner,
}

impl Signers {
    pub(crate) fn new() -> Self {
        Self {
            client: TestSigner::new("Org1MSP"),
            peer: TestSigner::new("Org2MSP"),
        }
    }

    /// A VALID endorser transaction invoking `cc` whose chaincode action carries `rw`.
    pub(crate) fn endorser_tx(&self, rw: &Rw) -> Tx {
        self.endorser_tx_with(rw.build())
    }

    /// A VALID endorser transaction invoking `cc` whose chaincode action carries `rwset`.
    pub(crate) fn endorser_tx_with(&self, rwset: TxReadWriteSet) -> Tx {
        let (proposal, txid) = create_chaincode_proposal(
            CHANNEL,
            "cc",
            vec![b"invoke".to_vec()],
            HashMap::new(),
            self.client.creator(),
            None,
        );
        let signed = sign_proposal(&proposal, &self.client).expect("sign proposal");
        let unpacked = unpack_proposal(&signed).expect("unpack proposal");
        let action = ChaincodeAction {
            results: rwset.encode_to_vec(),
            events: Vec::new(),
            response: Some(Response {
                status: 200,
                message: String::new(),
                payload: b"ok".to_vec(),
            }),
            chaincode_id: Some(ChaincodeId {
                name: "cc".into(),
                version: "1.0".into(),
                ..Default::default()
            }),
        };
        let prp = create_proposal_response_payload(&unpacked.proposal_hash, &action);
        let response = create_proposal_response(
            Response {
                status: 200,
                ..Default::default()
            },
            prp,
            &self.peer,
        )
        .expect("endorse");
        let unsigned = assemble_transaction(&unpacked, &[response]).expect("assemble");
        let envelope =
            sign_envelope_payload(unsigned.payload, &self.client).expect("sign envelope");
        Tx {
            envelope: envelope.encode_to_vec(),
            txid,
            code: TxValidationCode::Valid,
            rwset: Some(rwset),
        }
    }

    /// A VALID config-typed envelope (writes no state).
    pub(super) fn config_tx(&self) -> Tx {
        let envelope = create_signed_envelope(HeaderType::Config, CHANNEL, &self.client, b"", 0)
            .expect("config envelope");
        let bytes = envelope.encode_to_vec();
        let txid = unpack_envelope_bytes(&bytes)
            .expect("unpack")
            .tx_id()
            .to_owned();
        Tx {
            envelope: bytes,
            txid,
            code: TxValidationCode::Valid,
            rwset: None,
        }
    }
}

/// The updates a validator would hand over for `txs`: the rwsets of the VALID endorser
/// transactions, the ConfigEnvelope bytes of the VALID config ones.
pub(crate) fn updates_of(txs: &[Tx]) -> Vec<TxUpdates> {
    txs.iter()
        .enumerate()
        .filter(|(_, tx)| tx.code == TxValidationCode::Valid)
        .map(|(index, tx)| match tx.rwset.as_ref() {
            Some(rwset) => tx_updates_from_rwset(index as u64, &tx.txid, rwset).expect("updates"),
            None => {
                let data = unpack_envelope_bytes(&tx.envelope).expect("unpack").data;
                crate::ledger::config_tx_updates(index as u64, &tx.txid, &data)
            }
        })
        .collect()
}

/// The next block of `ledger` holding `txs`, with its TRANSACTIONS_FILTER set.
pub(crate) fn next_block(ledger: &Ledger, txs: &[Tx]) -> Block {
    let store = ledger.block_store();
    let previous = store
        .last_block()
        .expect("last block")
        .and_then(|b| b.header)
        .map(|h| block_header_hash(&h).to_vec())
        .unwrap_or_default();
    let mut block = build_block(
        store.height(),
        previous,
        txs.iter().map(|tx| tx.envelope.clone()).collect(),
    );
    set_transactions_filter(&mut block, txs.iter().map(|tx| tx.code as u8).collect());
    block
}

/// Commits a block of `txs` with the validator's updates, checking on the way that the
/// committed block's updates read back the same. Returns the block.
pub(crate) fn commit(ledger: &Ledger, txs: &[Tx]) -> Block {
    let block = next_block(ledger, txs);
    let updates = updates_of(txs);
    assert_eq!(
        updates_of_committed_block(&block).expect("updates of block"),
        updates
    );
    ledger.commit(&block, &updates).expect("commit");
    block
}

/// Opens a ledger without fsync (tests only).
pub(crate) fn open(dir: &Path) -> Ledger {
    Ledger::open_with(dir, BlockStoreOptions { sync: false }).expect("open ledger")
}
