//! Endorser transactions: assembling one from a proposal and its endorsements (gateway and
//! SDK side) and taking one apart for commit-time validation (peer side).

use std::collections::HashSet;

use prost::Message;
use weft_proto::common::{Envelope, Header, HeaderType, Payload, SignatureHeader};
use weft_proto::protos::{
    ChaincodeAction, ChaincodeActionPayload, ChaincodeEndorsedAction, ChaincodeHeaderExtension,
    ChaincodeProposalPayload, Endorsement, ProposalResponse, ProposalResponsePayload, Transaction,
    TransactionAction,
};

use crate::policy::SignedData;

use super::envelope::UnpackedEnvelope;
use super::header::check_signature_header;
use super::proposal::{UnpackedProposal, commit_proposal_hash, proposal_payload_for_tx};
use super::response::endorsement_signed_data;
use super::txid::check_txid;
use super::{Part, ProtoError, decode};

/// Builds the unsigned transaction envelope for a proposal from its proposal responses.
///
/// Every response must be successful (status in `[200, 400)`) and carry byte-identical
/// payloads; endorsements are kept in order, de-duplicated by endorser bytes, and at least
/// one is required. The transaction reuses the proposal's `Header` bytes verbatim and the
/// transient-free proposal payload (see [`transaction_envelope`]). The client signs the
/// result's `payload` ([`super::sign_envelope_payload`]).
pub fn assemble_transaction(
    proposal: &UnpackedProposal,
    responses: &[ProposalResponse],
) -> Result<Envelope, ProtoError> {
    let first = responses.first().ok_or(ProtoError::NoResponses)?;
    for (index, response) in responses.iter().enumerate() {
        let (status, message) = response
            .response
            .as_ref()
            .map_or((0, ""), |r| (r.status, r.message.as_str()));
        if !(200..400).contains(&status) {
            return Err(ProtoError::UnsuccessfulResponse {
                index,
                status,
                message: message.to_owned(),
            });
        }
        if response.payload != first.payload {
            return Err(ProtoError::ResponsePayloadMismatch { index });
        }
    }

    let endorsements = unique_endorsements(responses.iter().filter_map(|r| r.endorsement.as_ref()));
    if endorsements.is_empty() {
        return Err(ProtoError::NoEndorsements);
    }
    let action = ChaincodeEndorsedAction {
        proposal_response_payload: first.payload.clone(),
        endorsements,
    };
    Ok(transaction_envelope(
        &proposal.header,
        &proposal.chaincode_proposal_payload,
        action,
    ))
}

/// Endorsements in their first-seen order, dropping any whose endorser bytes were seen
/// before.
pub fn unique_endorsements<'a>(
    endorsements: impl IntoIterator<Item = &'a Endorsement>,
) -> Vec<Endorsement> {
    let mut seen = HashSet::new();
    endorsements
        .into_iter()
        .filter(|e| seen.insert(e.endorser.as_slice()))
        .cloned()
        .collect()
}

/// The unsigned envelope of an endorser transaction:
/// `Payload{header, data: Transaction{[TransactionAction{header: header.signature_header,
/// payload: ChaincodeActionPayload{proposal_payload_for_tx(payload), action}}]}}`.
///
/// `header` must be the proposal's header with both byte fields as received.
pub fn transaction_envelope(
    header: &Header,
    payload: &ChaincodeProposalPayload,
    action: ChaincodeEndorsedAction,
) -> Envelope {
    let action_payload = ChaincodeActionPayload {
        chaincode_proposal_payload: proposal_payload_for_tx(payload),
        action: Some(action),
    };
    let transaction = Transaction {
        actions: vec![TransactionAction {
            header: header.signature_header.clone(),
            payload: action_payload.encode_to_vec(),
        }],
    };
    let payload = Payload {
        header: Some(header.clone()),
        data: transaction.encode_to_vec(),
    };
    Envelope {
        payload: payload.encode_to_vec(),
        signature: Vec::new(),
    }
}

/// An endorser transaction taken apart for validation, every signed or hashed part kept
/// as received.
#[derive(Debug, Clone, PartialEq)]
pub struct UnpackedTransaction {
    /// The envelope and its headers.
    pub envelope: UnpackedEnvelope,
    /// The transaction's single action: raw `header` (a `SignatureHeader`) and `payload`.
    pub action: TransactionAction,
    /// `action.header` decoded.
    pub action_header: SignatureHeader,
    /// `ChaincodeActionPayload.chaincode_proposal_payload`, raw (hashed by proposal hash 2).
    pub chaincode_proposal_payload: Vec<u8>,
    /// `ChaincodeActionPayload.action`: raw `proposal_response_payload` and endorsements.
    pub endorsed_action: ChaincodeEndorsedAction,
    /// `endorsed_action.proposal_response_payload` decoded.
    pub proposal_response_payload: ProposalResponsePayload,
    /// `proposal_response_payload.extension` decoded: results, events, response, chaincode id.
    pub chaincode_action: ChaincodeAction,
    /// The channel header's `ChaincodeHeaderExtension` (the invoked chaincode's name).
    pub header_extension: ChaincodeHeaderExtension,
}

/// Unpacks an envelope that passed [`UnpackedEnvelope::check_common_header`] and the
/// creator signature check, in the order of Fabric's commit-time validation:
///
/// 1. type must be ENDORSER_TRANSACTION (else UNSUPPORTED_TX_PAYLOAD);
/// 2. txid must match nonce and creator (BAD_PROPOSAL_TXID);
/// 3. `Transaction` with exactly one action, whose header is a `SignatureHeader` with
///    nonce and creator, whose payload is a `ChaincodeActionPayload` with an action whose
///    `ProposalResponsePayload` decodes and whose `proposal_hash` equals proposal hash 2
///    (INVALID_ENDORSER_TRANSACTION);
/// 4. `ChaincodeHeaderExtension` decodes (BAD_HEADER_EXTENSION);
/// 5. the `ChaincodeAction` decodes (BAD_RESPONSE_PAYLOAD).
///
/// [`ProtoError::tx_validation_code`] gives the code for each failure.
pub fn unpack_endorser_transaction(
    envelope: UnpackedEnvelope,
) -> Result<UnpackedTransaction, ProtoError> {
    envelope.require_type(HeaderType::EndorserTransaction)?;
    check_txid(
        envelope.tx_id(),
        &envelope.signature_header.nonce,
        envelope.creator(),
    )?;

    let transaction: Transaction = decode(Part::Transaction, &envelope.data)?;
    let action = match <[TransactionAction; 1]>::try_from(transaction.actions) {
        Ok([action]) => action,
        Err(actions) => return Err(ProtoError::ActionCount(actions.len())),
    };
    let action_header: SignatureHeader = decode(Part::ActionHeader, &action.header)?;
    check_signature_header(&action_header, Part::ActionHeader)?;

    let action_payload: ChaincodeActionPayload =
        decode(Part::ChaincodeActionPayload, &action.payload)?;
    let endorsed_action = action_payload
        .action
        .ok_or(ProtoError::Missing(Part::ChaincodeEndorsedAction))?;
    let proposal_response_payload: ProposalResponsePayload = decode(
        Part::ProposalResponsePayload,
        &endorsed_action.proposal_response_payload,
    )?;
    let hash = commit_proposal_hash(
        &envelope.header.channel_header,
        &action.header,
        &action_payload.chaincode_proposal_payload,
    );
    if proposal_response_payload.proposal_hash != hash {
        return Err(ProtoError::ProposalHashMismatch);
    }

    let header_extension: ChaincodeHeaderExtension = decode(
        Part::ChaincodeHeaderExtension,
        &envelope.channel_header.extension,
    )?;
    if proposal_response_payload.extension.is_empty() {
        return Err(ProtoError::Missing(Part::ChaincodeAction));
    }
    let chaincode_action: ChaincodeAction =
        decode(Part::ChaincodeAction, &proposal_response_payload.extension)?;

    Ok(UnpackedTransaction {
        envelope,
        action,
        action_header,
        chaincode_proposal_payload: action_payload.chaincode_proposal_payload,
        endorsed_action,
        proposal_response_payload,
        chaincode_action,
        header_extension,
    })
}

impl UnpackedTransaction {
    /// The invoked chaincode's name from the header extension ("" if absent).
    pub fn chaincode_name(&self) -> &str {
        self.header_extension
            .chaincode_id
            .as_ref()
            .map_or("", |id| id.name.as_str())
    }

    /// One signed item per endorsement: data = prp ‖ endorser, identity = endorser.
    pub fn endorsements_signed_data(&self) -> Vec<SignedData<'_>> {
        let prp = &self.endorsed_action.proposal_response_payload;
        self.endorsed_action
            .endorsements
            .iter()
            .map(|e| endorsement_signed_data(prp, e))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::protoutil::envelope::{
        sign_envelope_payload, unpack_envelope, unpack_envelope_bytes,
    };
    use crate::protoutil::proposal::{
        create_chaincode_proposal, sign_proposal, tests::sample_signed_proposal, unpack_proposal,
    };
    use crate::protoutil::response::{create_proposal_response, create_proposal_response_payload};
    use crate::protoutil::test_support::TestSigner;
    use weft_proto::protos::{ChaincodeId, Response, TxValidationCode as Code};

    struct Fixture {
        client: TestSigner,
        peers: Vec<TestSigner>,
        proposal: UnpackedProposal,
    }

    fn fixture() -> Fixture {
        let client = TestSigner::new("Org1MSP");
        let proposal = unpack_proposal(&sample_signed_proposal(&client)).expect("unpack");
        Fixture {
            client,
            peers: vec![TestSigner::new("Org1MSP"), TestSigner::new("Org2MSP")],
            proposal,
        }
    }

    fn action(result: &[u8]) -> ChaincodeAction {
        ChaincodeAction {
            results: b"rwset".to_vec(),
            events: Vec::new(),
            response: Some(Response {
                status: 200,
                message: String::new(),
                payload: result.to_vec(),
            }),
            chaincode_id: Some(ChaincodeId {
                name: "basic".into(),
                version: "1.0".into(),
                ..Default::default()
            }),
        }
    }

    fn respond(f: &Fixture, peer: &TestSigner, result: &[u8]) -> ProposalResponse {
        let prp = create_proposal_response_payload(&f.proposal.proposal_hash, &action(result));
        create_proposal_response(
            Response {
                status: 200,
                ..Default::default()
            },
            prp,
            peer,
        )
        .expect("endorse")
    }

    fn signed_tx(f: &Fixture) -> Envelope {
        let responses = [
            respond(f, &f.peers[0], b"ok"),
            respond(f, &f.peers[1], b"ok"),
        ];
        let unsigned = assemble_transaction(&f.proposal, &responses).expect("assemble");
        assert!(unsigned.signature.is_empty());
        sign_envelope_payload(unsigned.payload, &f.client).expect("sign")
    }

    fn unpack(env: &Envelope) -> Result<UnpackedTransaction, ProtoError> {
        let up = unpack_envelope(env)?;
        up.check_common_header()?;
        unpack_endorser_transaction(up)
    }

    #[test]
    fn assembled_transaction_validates() {
        let f = fixture();
        let env = signed_tx(&f);
        let tx = unpack(&env).expect("valid");

        // Original header bytes are reused verbatim, transient data is gone.
        assert_eq!(tx.envelope.header, f.proposal.header);
        assert_eq!(tx.action.header, f.proposal.header.signature_header);
        let cpp = ChaincodeProposalPayload::decode(tx.chaincode_proposal_payload.as_slice())
            .expect("cpp");
        assert!(cpp.transient_map.is_empty());
        assert_eq!(cpp.input, f.proposal.chaincode_proposal_payload.input);

        assert_eq!(tx.chaincode_name(), "basic");
        assert_eq!(
            tx.chaincode_action
                .response
                .as_ref()
                .map(|r| r.payload.as_slice()),
            Some(&b"ok"[..])
        );
        assert_eq!(
            tx.proposal_response_payload.proposal_hash,
            f.proposal.proposal_hash
        );

        let sds = tx.endorsements_signed_data();
        assert_eq!(sds.len(), 2);
        for (sd, peer) in sds.iter().zip(&f.peers) {
            assert_eq!(&*sd.identity, peer.creator_bytes());
            peer.public_key()
                .verify(&sd.data, &sd.signature)
                .expect("endorsement verifies");
        }
        let creator_sd = tx.envelope.signed_data();
        f.client
            .public_key()
            .verify(&creator_sd.data, &creator_sd.signature)
            .expect("creator sig");
    }

    #[test]
    fn endorsements_are_deduplicated_by_endorser() {
        let f = fixture();
        let a = respond(&f, &f.peers[0], b"ok");
        let again = respond(&f, &f.peers[0], b"ok"); // same endorser, new signature
        let b = respond(&f, &f.peers[1], b"ok");
        let env =
            assemble_transaction(&f.proposal, &[a.clone(), again, b.clone()]).expect("assemble");
        let tx = unpack_endorser_transaction(unpack_envelope(&env).expect("env")).expect("tx");
        let expected: Vec<Endorsement> = [a, b].into_iter().filter_map(|r| r.endorsement).collect();
        assert_eq!(tx.endorsed_action.endorsements, expected);
    }

    #[test]
    fn assembly_rejects_bad_response_sets() {
        let f = fixture();
        assert_eq!(
            assemble_transaction(&f.proposal, &[]),
            Err(ProtoError::NoResponses)
        );

        let a = respond(&f, &f.peers[0], b"ok");
        let b = respond(&f, &f.peers[1], b"different");
        assert_eq!(
            assemble_transaction(&f.proposal, &[a.clone(), b]),
            Err(ProtoError::ResponsePayloadMismatch { index: 1 })
        );

        let mut failed = a.clone();
        failed.response = Some(Response {
            status: 500,
            message: "boom".into(),
            payload: vec![],
        });
        assert_eq!(
            assemble_transaction(&f.proposal, &[a.clone(), failed]),
            Err(ProtoError::UnsuccessfulResponse {
                index: 1,
                status: 500,
                message: "boom".into()
            })
        );

        let mut unendorsed = a;
        unendorsed.endorsement = None;
        assert_eq!(
            assemble_transaction(&f.proposal, &[unendorsed]),
            Err(ProtoError::NoEndorsements)
        );
    }

    /// Rebuilds the envelope of `env` after `edit` changed its decoded transaction.
    fn with_tx(env: &Envelope, edit: impl FnOnce(&mut Transaction)) -> Envelope {
        let mut payload = Payload::decode(env.payload.as_slice()).expect("payload");
        let mut tx = Transaction::decode(payload.data.as_slice()).expect("tx");
        edit(&mut tx);
        payload.data = tx.encode_to_vec();
        Envelope {
            payload: payload.encode_to_vec(),
            signature: env.signature.clone(),
        }
    }

    fn code(env: &Envelope) -> Option<Code> {
        unpack(env)
            .expect_err("must be invalid")
            .tx_validation_code()
    }

    #[test]
    fn broken_transactions_map_to_validation_codes() {
        let f = fixture();
        let env = signed_tx(&f);

        let no_actions = with_tx(&env, |tx| tx.actions.clear());
        assert_eq!(unpack(&no_actions).err(), Some(ProtoError::ActionCount(0)));
        assert_eq!(code(&no_actions), Some(Code::InvalidEndorserTransaction));

        let two = with_tx(&env, |tx| tx.actions.push(tx.actions[0].clone()));
        assert_eq!(unpack(&two).err(), Some(ProtoError::ActionCount(2)));

        let bad_action_header = with_tx(&env, |tx| tx.actions[0].header = vec![0x0a, 0x44]);
        assert!(matches!(
            unpack(&bad_action_header),
            Err(ProtoError::Decode {
                part: Part::ActionHeader,
                ..
            })
        ));
        assert_eq!(
            code(&bad_action_header),
            Some(Code::InvalidEndorserTransaction)
        );

        let truncated_payload = with_tx(&env, |tx| {
            let p = &mut tx.actions[0].payload;
            p.truncate(p.len() - 3);
        });
        assert_eq!(
            code(&truncated_payload),
            Some(Code::InvalidEndorserTransaction)
        );

        // Transient data put back into the proposal payload breaks proposal hash 2.
        let with_transient = with_tx(&env, |tx| {
            let mut cap =
                ChaincodeActionPayload::decode(tx.actions[0].payload.as_slice()).expect("cap");
            let mut cpp =
                ChaincodeProposalPayload::decode(cap.chaincode_proposal_payload.as_slice())
                    .expect("cpp");
            cpp.transient_map = HashMap::from([("k".to_owned(), b"v".to_vec())]);
            cap.chaincode_proposal_payload = cpp.encode_to_vec();
            tx.actions[0].payload = cap.encode_to_vec();
        });
        assert_eq!(
            unpack(&with_transient).err(),
            Some(ProtoError::ProposalHashMismatch)
        );

        let no_action = with_tx(&env, |tx| {
            let mut cap =
                ChaincodeActionPayload::decode(tx.actions[0].payload.as_slice()).expect("cap");
            cap.action = None;
            tx.actions[0].payload = cap.encode_to_vec();
        });
        assert_eq!(
            unpack(&no_action).err(),
            Some(ProtoError::Missing(Part::ChaincodeEndorsedAction))
        );

        let garbage_tx = {
            let mut payload = Payload::decode(env.payload.as_slice()).expect("payload");
            payload.data = vec![0x0a, 0x50, 0x01];
            Envelope {
                payload: payload.encode_to_vec(),
                signature: vec![],
            }
        };
        assert_eq!(code(&garbage_tx), Some(Code::InvalidEndorserTransaction));
    }

    #[test]
    fn bad_response_payload_and_header_extension() {
        let f = fixture();
        // A proposal response payload whose extension is not a ChaincodeAction, with a
        // correct proposal hash.
        let prp = ProposalResponsePayload {
            proposal_hash: f.proposal.proposal_hash.to_vec(),
            extension: vec![0x22, 0x09, 0x01],
        }
        .encode_to_vec();
        let resp = create_proposal_response(
            Response {
                status: 200,
                ..Default::default()
            },
            prp,
            &f.peers[0],
        )
        .expect("endorse");
        let env = assemble_transaction(&f.proposal, &[resp]).expect("assemble");
        assert_eq!(code(&env), Some(Code::BadResponsePayload));

        // A proposal whose header extension is garbage (built by hand: unpack_proposal
        // would refuse it, but a committer must still classify it).
        let mut ch = f.proposal.channel_header.clone();
        ch.extension = vec![0x0a, 0x33];
        let header = Header {
            channel_header: ch.encode_to_vec(),
            signature_header: f.proposal.header.signature_header.clone(),
        };
        let cpp = &f.proposal.chaincode_proposal_payload;
        let hash = commit_proposal_hash(
            &header.channel_header,
            &header.signature_header,
            &proposal_payload_for_tx(cpp),
        );
        let prp = create_proposal_response_payload(&hash, &action(b"ok"));
        let endorsed = ChaincodeEndorsedAction {
            proposal_response_payload: prp,
            endorsements: vec![Endorsement {
                endorser: b"p".to_vec(),
                signature: b"s".to_vec(),
            }],
        };
        let env = transaction_envelope(&header, cpp, endorsed);
        assert_eq!(code(&env), Some(Code::BadHeaderExtension));
    }

    #[test]
    fn txid_and_type_are_checked_first() {
        let client = TestSigner::new("Org1MSP");
        let (mut proposal, _) = create_chaincode_proposal(
            "ch",
            "cc",
            vec![b"f".to_vec()],
            HashMap::new(),
            client.creator_bytes(),
            None,
        );
        let mut header = Header::decode(proposal.header.as_slice()).expect("header");
        let mut ch = weft_proto::common::ChannelHeader::decode(header.channel_header.as_slice())
            .expect("ch");
        ch.tx_id = "0".repeat(64);
        header.channel_header = ch.encode_to_vec();
        proposal.header = header.encode_to_vec();
        let up =
            unpack_proposal(&sign_proposal(&proposal, &client).expect("sign")).expect("unpack");
        let env = transaction_envelope(
            &up.header,
            &up.chaincode_proposal_payload,
            ChaincodeEndorsedAction::default(),
        );
        assert_eq!(code(&env), Some(Code::BadProposalTxid));

        let config = crate::protoutil::envelope::create_signed_envelope(
            HeaderType::Config,
            "ch",
            &client,
            b"",
            0,
        )
        .expect("config env");
        let err = unpack_endorser_transaction(
            unpack_envelope_bytes(&config.encode_to_vec()).expect("env"),
        )
        .expect_err("wrong type");
        assert_eq!(err.tx_validation_code(), Some(Code::UnsupportedTxPayload));
    }
}
