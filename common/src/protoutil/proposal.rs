//! Chaincode proposals: building and signing them (client side), unpacking and pre-checking
//! them (endorser and gateway side), and the proposal hashes that bind a transaction to
//! the proposal it came from.

use std::collections::HashMap;

use prost::Message;
use weft_proto::common::{ChannelHeader, Header, HeaderType, SignatureHeader};
use weft_proto::protos::{
    ChaincodeHeaderExtension, ChaincodeId, ChaincodeInput, ChaincodeInvocationSpec,
    ChaincodeProposalPayload, ChaincodeSpec, Proposal, SignedProposal, chaincode_spec,
};

use crate::crypto::{SHA256_LEN, Signer, sha256_concat};
use crate::policy::SignedData;

use super::header::{
    check_channel_header, check_signature_header, decode_channel_header, decode_signature_header,
    timestamp_now,
};
use super::txid::{check_txid, compute_txid, create_nonce};
use super::{Part, ProtoError, decode};

/// Builds a chaincode invocation proposal the way `fabric-gateway` does, and returns it
/// with its txid.
///
/// The channel header has type ENDORSER_TRANSACTION, version 0, epoch 0, the current time,
/// the txid, and as extension a `ChaincodeHeaderExtension` naming the chaincode. The
/// signature header holds `creator` and the nonce (24 fresh random bytes unless given).
/// The payload is a `ChaincodeProposalPayload` whose input is a `ChaincodeInvocationSpec`
/// with `ChaincodeSpec{type: NODE, chaincode_id{name}, input{args}}`; NODE is the type
/// fabric-gateway and the Node/Java SDKs set whatever the chaincode's language (peers
/// ignore it). By convention `args[0]` is the function name.
pub fn create_chaincode_proposal(
    channel_id: &str,
    chaincode_name: &str,
    args: Vec<Vec<u8>>,
    transient_map: HashMap<String, Vec<u8>>,
    creator: &[u8],
    nonce: Option<Vec<u8>>,
) -> (Proposal, String) {
    let nonce = nonce.unwrap_or_else(create_nonce);
    let tx_id = compute_txid(&nonce, creator);
    let chaincode_id = ChaincodeId {
        name: chaincode_name.to_owned(),
        ..Default::default()
    };

    let extension = ChaincodeHeaderExtension {
        chaincode_id: Some(chaincode_id.clone()),
    };
    let channel_header = ChannelHeader {
        r#type: HeaderType::EndorserTransaction as i32,
        version: 0,
        timestamp: Some(timestamp_now()),
        channel_id: channel_id.to_owned(),
        tx_id: tx_id.clone(),
        epoch: 0,
        extension: extension.encode_to_vec(),
        tls_cert_hash: Vec::new(),
    };
    let signature_header = SignatureHeader {
        creator: creator.to_vec(),
        nonce,
    };
    let header = Header {
        channel_header: channel_header.encode_to_vec(),
        signature_header: signature_header.encode_to_vec(),
    };

    let invocation = ChaincodeInvocationSpec {
        chaincode_spec: Some(ChaincodeSpec {
            r#type: chaincode_spec::Type::Node as i32,
            chaincode_id: Some(chaincode_id),
            input: Some(ChaincodeInput {
                args,
                ..Default::default()
            }),
            timeout: 0,
        }),
    };
    let payload = ChaincodeProposalPayload {
        input: invocation.encode_to_vec(),
        transient_map,
    };

    let proposal = Proposal {
        header: header.encode_to_vec(),
        payload: payload.encode_to_vec(),
        extension: Vec::new(),
    };
    (proposal, tx_id)
}

/// Marshals `proposal` and signs the bytes: the `SignedProposal` a client sends.
pub fn sign_proposal(
    proposal: &Proposal,
    signer: &dyn Signer,
) -> Result<SignedProposal, ProtoError> {
    let proposal_bytes = proposal.encode_to_vec();
    let signature = signer.sign(&proposal_bytes)?;
    Ok(SignedProposal {
        proposal_bytes,
        signature,
    })
}

/// The part of a `ChaincodeProposalPayload` that goes into the transaction: the same
/// message re-encoded with its `input` only (the transient map stripped). Empty input
/// gives empty bytes.
pub fn proposal_payload_for_tx(payload: &ChaincodeProposalPayload) -> Vec<u8> {
    ChaincodeProposalPayload {
        input: payload.input.clone(),
        transient_map: HashMap::new(),
    }
    .encode_to_vec()
}

/// Fabric's "proposal hash 1", computed by the endorser:
/// SHA-256(`channel_header` ‖ `signature_header` ‖ payload-for-tx), where the two headers
/// are the raw bytes from the proposal's `Header` and payload-for-tx is
/// [`proposal_payload_for_tx`] of the decoded `Proposal.payload`.
pub fn endorsement_proposal_hash(
    channel_header: &[u8],
    signature_header: &[u8],
    chaincode_proposal_payload: &[u8],
) -> Result<[u8; SHA256_LEN], ProtoError> {
    let payload: ChaincodeProposalPayload =
        decode(Part::ChaincodeProposalPayload, chaincode_proposal_payload)?;
    let for_tx = proposal_payload_for_tx(&payload);
    Ok(sha256_concat(&[channel_header, signature_header, &for_tx]))
}

/// Fabric's "proposal hash 2", recomputed by committing peers:
/// SHA-256(`channel_header` ‖ `action_header` ‖ `chaincode_proposal_payload`), all three
/// exactly as they appear in the transaction (the payload's channel header, the
/// `TransactionAction.header`, `ChaincodeActionPayload.chaincode_proposal_payload`).
pub fn commit_proposal_hash(
    channel_header: &[u8],
    action_header: &[u8],
    chaincode_proposal_payload: &[u8],
) -> [u8; SHA256_LEN] {
    sha256_concat(&[channel_header, action_header, chaincode_proposal_payload])
}

/// A signed proposal taken apart, with every signed or hashed part kept as received.
///
/// Built by [`unpack_proposal`]; the decoded fields are for reading, the byte fields
/// (`signed_proposal.proposal_bytes`, `proposal.header`, `proposal.payload`,
/// `header.channel_header`, `header.signature_header`) are what signatures and hashes
/// are computed over.
#[derive(Debug, Clone, PartialEq)]
pub struct UnpackedProposal {
    /// The proposal as received: `proposal_bytes` (what the client signed) and `signature`.
    pub signed_proposal: SignedProposal,
    /// `proposal_bytes` decoded; `header` and `payload` are still raw bytes.
    pub proposal: Proposal,
    /// `proposal.header` decoded; the channel and signature headers are still raw bytes.
    pub header: Header,
    /// `header.channel_header` decoded.
    pub channel_header: ChannelHeader,
    /// `header.signature_header` decoded.
    pub signature_header: SignatureHeader,
    /// The chaincode to invoke: the name in the channel header's `ChaincodeHeaderExtension`.
    pub chaincode_name: String,
    /// `proposal.payload` decoded: the raw invocation spec bytes and the transient map.
    pub chaincode_proposal_payload: ChaincodeProposalPayload,
    /// The invocation's `ChaincodeSpec` (its `input` moved out into [`Self::input`]).
    pub chaincode_spec: ChaincodeSpec,
    /// The arguments to pass to the chaincode (`chaincode_spec.input`).
    pub input: ChaincodeInput,
    /// Proposal hash 1 ([`endorsement_proposal_hash`]), for the response payload.
    pub proposal_hash: [u8; SHA256_LEN],
}

/// Takes a signed proposal apart: `SignedProposal` → `Proposal` → `Header` →
/// `ChannelHeader`, `SignatureHeader` → `ChaincodeHeaderExtension` (chaincode name must be
/// non-empty) → `ChaincodeProposalPayload` → `ChaincodeInvocationSpec` (spec and input
/// must be present), and computes proposal hash 1.
///
/// Structural only: call [`UnpackedProposal::check_header`] for the endorser's header
/// checks, then have the MSP verify [`UnpackedProposal::signed_data`].
pub fn unpack_proposal(signed: &SignedProposal) -> Result<UnpackedProposal, ProtoError> {
    let proposal: Proposal = decode(Part::Proposal, &signed.proposal_bytes)?;
    let header: Header = decode(Part::Header, &proposal.header)?;
    let channel_header = decode_channel_header(&header.channel_header)?;
    let signature_header = decode_signature_header(&header.signature_header)?;

    let extension: ChaincodeHeaderExtension =
        decode(Part::ChaincodeHeaderExtension, &channel_header.extension)?;
    let chaincode_name = extension
        .chaincode_id
        .ok_or(ProtoError::Missing(Part::ChaincodeHeaderExtension))?
        .name;
    if chaincode_name.is_empty() {
        return Err(ProtoError::Empty {
            part: Part::ChaincodeHeaderExtension,
            field: "chaincode_id.name",
        });
    }

    let chaincode_proposal_payload: ChaincodeProposalPayload =
        decode(Part::ChaincodeProposalPayload, &proposal.payload)?;
    let invocation: ChaincodeInvocationSpec = decode(
        Part::ChaincodeInvocationSpec,
        &chaincode_proposal_payload.input,
    )?;
    let mut chaincode_spec = invocation
        .chaincode_spec
        .ok_or(ProtoError::Missing(Part::ChaincodeSpec))?;
    let input = chaincode_spec
        .input
        .take()
        .ok_or(ProtoError::Missing(Part::ChaincodeInput))?;

    let proposal_hash = sha256_concat(&[
        &header.channel_header,
        &header.signature_header,
        &proposal_payload_for_tx(&chaincode_proposal_payload),
    ]);

    Ok(UnpackedProposal {
        signed_proposal: signed.clone(),
        proposal,
        header,
        channel_header,
        signature_header,
        chaincode_name,
        chaincode_proposal_payload,
        chaincode_spec,
        input,
        proposal_hash,
    })
}

impl UnpackedProposal {
    /// `ChannelHeader.channel_id` (empty for channel-less system chaincode calls).
    pub fn channel_id(&self) -> &str {
        &self.channel_header.channel_id
    }

    /// `ChannelHeader.tx_id`.
    pub fn tx_id(&self) -> &str {
        &self.channel_header.tx_id
    }

    /// The raw `ChannelHeader.type`.
    pub fn header_type(&self) -> i32 {
        self.channel_header.r#type
    }

    /// `SignatureHeader.creator`: the marshaled `SerializedIdentity` of the client.
    pub fn creator(&self) -> &[u8] {
        &self.signature_header.creator
    }

    /// `SignatureHeader.nonce`.
    pub fn nonce(&self) -> &[u8] {
        &self.signature_header.nonce
    }

    /// The transient map (private inputs that never reach the transaction).
    pub fn transient_map(&self) -> &HashMap<String, Vec<u8>> {
        &self.chaincode_proposal_payload.transient_map
    }

    /// The endorser's checks that need no MSP, in Fabric's order: header type is
    /// ENDORSER_TRANSACTION or CONFIG, epoch is 0, nonce and creator are non-empty, the
    /// txid matches, proposal bytes and signature are non-empty.
    pub fn check_header(&self) -> Result<(), ProtoError> {
        check_channel_header(
            &self.channel_header,
            &[HeaderType::EndorserTransaction, HeaderType::Config],
        )?;
        check_signature_header(&self.signature_header, Part::SignatureHeader)?;
        check_txid(self.tx_id(), self.nonce(), self.creator())?;
        if self.signed_proposal.proposal_bytes.is_empty() {
            return Err(ProtoError::Empty {
                part: Part::SignedProposal,
                field: "proposal_bytes",
            });
        }
        if self.signed_proposal.signature.is_empty() {
            return Err(ProtoError::Empty {
                part: Part::SignedProposal,
                field: "signature",
            });
        }
        Ok(())
    }

    /// What the MSP must verify and the ACL evaluate: `proposal_bytes` signed by `creator`.
    pub fn signed_data(&self) -> SignedData<'_> {
        SignedData::borrowed(
            &self.signed_proposal.proposal_bytes,
            &self.signature_header.creator,
            &self.signed_proposal.signature,
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::protoutil::test_support::TestSigner;

    pub(crate) fn sample_signed_proposal(signer: &TestSigner) -> SignedProposal {
        let mut transient = HashMap::new();
        transient.insert("secret".to_owned(), b"hidden".to_vec());
        let (proposal, _) = create_chaincode_proposal(
            "mychannel",
            "basic",
            vec![b"CreateAsset".to_vec(), b"a1".to_vec()],
            transient,
            signer.creator_bytes(),
            None,
        );
        sign_proposal(&proposal, signer).expect("sign")
    }

    /// Re-encodes a proposal after `edit` changed its decoded headers, and re-signs it.
    fn edited(
        signer: &TestSigner,
        edit: impl FnOnce(&mut ChannelHeader, &mut SignatureHeader),
    ) -> SignedProposal {
        let up = unpack_proposal(&sample_signed_proposal(signer)).expect("unpack");
        let (mut ch, mut sh) = (up.channel_header, up.signature_header);
        edit(&mut ch, &mut sh);
        let header = Header {
            channel_header: ch.encode_to_vec(),
            signature_header: sh.encode_to_vec(),
        };
        let proposal = Proposal {
            header: header.encode_to_vec(),
            ..up.proposal
        };
        sign_proposal(&proposal, signer).expect("sign")
    }

    #[test]
    fn built_proposal_unpacks_and_passes_checks() {
        let signer = TestSigner::new("Org1MSP");
        let signed = sample_signed_proposal(&signer);
        let up = unpack_proposal(&signed).expect("unpack");
        assert_eq!(up.chaincode_name, "basic");
        assert_eq!(up.channel_id(), "mychannel");
        assert_eq!(up.input.args, vec![b"CreateAsset".to_vec(), b"a1".to_vec()]);
        assert_eq!(up.chaincode_spec.r#type, chaincode_spec::Type::Node as i32);
        assert_eq!(up.header_type(), HeaderType::EndorserTransaction as i32);
        assert_eq!(up.channel_header.epoch, 0);
        assert_eq!(up.nonce().len(), 24);
        assert_eq!(up.tx_id(), compute_txid(up.nonce(), up.creator()));
        assert_eq!(up.transient_map().get("secret"), Some(&b"hidden".to_vec()));
        assert_eq!(up.check_header(), Ok(()));

        let sd = up.signed_data();
        assert_eq!(&*sd.data, signed.proposal_bytes.as_slice());
        assert_eq!(&*sd.identity, signer.creator_bytes());
        signer
            .public_key()
            .verify(&sd.data, &sd.signature)
            .expect("signature verifies");
    }

    #[test]
    fn given_nonce_is_used() {
        let nonce = vec![7u8; 24];
        let (p, txid) = create_chaincode_proposal(
            "c",
            "cc",
            vec![],
            HashMap::new(),
            b"me",
            Some(nonce.clone()),
        );
        assert_eq!(txid, compute_txid(&nonce, b"me"));
        let header = Header::decode(p.header.as_slice()).expect("header");
        let sh = SignatureHeader::decode(header.signature_header.as_slice()).expect("sh");
        assert_eq!(sh.nonce, nonce);
    }

    #[test]
    fn proposal_hash_ignores_the_transient_map() {
        let signer = TestSigner::new("Org1MSP");
        let up = unpack_proposal(&sample_signed_proposal(&signer)).expect("unpack");
        // Payload-for-tx is field 1 alone: 0x0a, varint length, input.
        let for_tx = proposal_payload_for_tx(&up.chaincode_proposal_payload);
        let input = &up.chaincode_proposal_payload.input;
        assert_eq!(for_tx[0], 0x0a);
        assert_eq!(for_tx[1] as usize, input.len());
        assert_eq!(&for_tx[2..], input.as_slice());

        let h1 = endorsement_proposal_hash(
            &up.header.channel_header,
            &up.header.signature_header,
            &up.proposal.payload,
        )
        .expect("hash 1");
        assert_eq!(h1, up.proposal_hash);
        // Hash 2 over the transaction's parts gives the same value.
        let h2 = commit_proposal_hash(
            &up.header.channel_header,
            &up.header.signature_header,
            &for_tx,
        );
        assert_eq!(h1, h2);
        // The raw payload (with transient data) hashes differently.
        let raw = commit_proposal_hash(
            &up.header.channel_header,
            &up.header.signature_header,
            &up.proposal.payload,
        );
        assert_ne!(h1, raw);
    }

    #[test]
    fn empty_input_gives_empty_payload_for_tx() {
        assert!(proposal_payload_for_tx(&ChaincodeProposalPayload::default()).is_empty());
        let h = endorsement_proposal_hash(b"ch", b"sh", &[]).expect("hash");
        assert_eq!(h, sha256_concat(&[b"ch", b"sh"]));
        assert!(matches!(
            endorsement_proposal_hash(b"ch", b"sh", &[0x0a, 0x09]),
            Err(ProtoError::Decode {
                part: Part::ChaincodeProposalPayload,
                ..
            })
        ));
    }

    #[test]
    fn truncated_proposal_bytes_fail_with_typed_errors() {
        let signer = TestSigner::new("Org1MSP");
        let signed = sample_signed_proposal(&signer);
        let mut cut = signed.clone();
        cut.proposal_bytes.truncate(cut.proposal_bytes.len() / 2);
        assert!(matches!(
            unpack_proposal(&cut),
            Err(ProtoError::Decode {
                part: Part::Proposal,
                ..
            })
        ));
        // A proposal whose header is garbage.
        let bad = SignedProposal {
            proposal_bytes: Proposal {
                header: vec![0x0a, 0x7f, 1],
                ..Default::default()
            }
            .encode_to_vec(),
            signature: vec![1],
        };
        assert!(matches!(
            unpack_proposal(&bad),
            Err(ProtoError::Decode {
                part: Part::Header,
                ..
            })
        ));
        // An empty SignedProposal has no chaincode id.
        assert_eq!(
            unpack_proposal(&SignedProposal::default()),
            Err(ProtoError::Missing(Part::ChaincodeHeaderExtension))
        );
    }

    #[test]
    fn unpack_requires_chaincode_name_spec_and_input() {
        let signer = TestSigner::new("Org1MSP");
        let no_name = edited(&signer, |ch, _| {
            ch.extension = ChaincodeHeaderExtension {
                chaincode_id: Some(ChaincodeId::default()),
            }
            .encode_to_vec();
        });
        assert_eq!(
            unpack_proposal(&no_name),
            Err(ProtoError::Empty {
                part: Part::ChaincodeHeaderExtension,
                field: "chaincode_id.name"
            })
        );

        let up = unpack_proposal(&sample_signed_proposal(&signer)).expect("unpack");
        let with_payload = |input: Vec<u8>| {
            let payload = ChaincodeProposalPayload {
                input,
                ..Default::default()
            }
            .encode_to_vec();
            let proposal = Proposal {
                payload,
                ..up.proposal.clone()
            };
            sign_proposal(&proposal, &signer).expect("sign")
        };
        let no_spec = with_payload(ChaincodeInvocationSpec::default().encode_to_vec());
        assert_eq!(
            unpack_proposal(&no_spec),
            Err(ProtoError::Missing(Part::ChaincodeSpec))
        );
        let no_input = with_payload(
            ChaincodeInvocationSpec {
                chaincode_spec: Some(ChaincodeSpec::default()),
            }
            .encode_to_vec(),
        );
        assert_eq!(
            unpack_proposal(&no_input),
            Err(ProtoError::Missing(Part::ChaincodeInput))
        );
        let garbage = with_payload(vec![0x0a, 0x20, 0x01]);
        assert!(matches!(
            unpack_proposal(&garbage),
            Err(ProtoError::Decode {
                part: Part::ChaincodeInvocationSpec,
                ..
            })
        ));
    }

    #[test]
    fn header_checks_reject_bad_proposals() {
        let signer = TestSigner::new("Org1MSP");
        let check = |sp: &SignedProposal| unpack_proposal(sp).expect("unpack").check_header();

        let wrong_type = edited(&signer, |ch, _| ch.r#type = HeaderType::ConfigUpdate as i32);
        assert_eq!(
            check(&wrong_type),
            Err(ProtoError::HeaderTypeNotAllowed { header_type: 2 })
        );

        let config_type = edited(&signer, |ch, _| ch.r#type = HeaderType::Config as i32);
        assert_eq!(check(&config_type), Ok(()));

        let epoch = edited(&signer, |ch, _| ch.epoch = 1);
        assert_eq!(check(&epoch), Err(ProtoError::NonZeroEpoch(1)));

        let no_nonce = edited(&signer, |_, sh| sh.nonce.clear());
        assert_eq!(
            check(&no_nonce),
            Err(ProtoError::Empty {
                part: Part::SignatureHeader,
                field: "nonce"
            })
        );

        let no_creator = edited(&signer, |_, sh| sh.creator.clear());
        assert_eq!(
            check(&no_creator),
            Err(ProtoError::Empty {
                part: Part::SignatureHeader,
                field: "creator"
            })
        );

        let wrong_txid = edited(&signer, |ch, _| ch.tx_id = "abc".into());
        assert!(matches!(
            check(&wrong_txid),
            Err(ProtoError::TxIdMismatch { .. })
        ));

        // Swapping the nonce without fixing the txid is also a mismatch.
        let new_nonce = edited(&signer, |_, sh| sh.nonce = vec![9; 24]);
        assert!(matches!(
            check(&new_nonce),
            Err(ProtoError::TxIdMismatch { .. })
        ));

        let mut unsigned = sample_signed_proposal(&signer);
        unsigned.signature.clear();
        assert_eq!(
            check(&unsigned),
            Err(ProtoError::Empty {
                part: Part::SignedProposal,
                field: "signature"
            })
        );
    }
}
