//! Proposal responses and endorsements (endorser side).
//!
//! The endorser wraps the simulation outcome in a `ChaincodeAction`, binds it to the
//! proposal through proposal hash 1 in a `ProposalResponsePayload` ("prp"), and signs
//! `prp ‖ endorser` where `endorser` is its marshaled `SerializedIdentity`.

use std::borrow::Cow;

use prost::Message;
use weft_proto::protos::{
    ChaincodeAction, Endorsement, ProposalResponse, ProposalResponsePayload, Response,
};

use crate::crypto::Signer;
use crate::policy::SignedData;

use super::{Part, ProtoError, decode};

/// The version Fabric endorsers put into endorsed proposal responses.
pub const PROPOSAL_RESPONSE_VERSION: i32 = 1;

/// Marshals `ProposalResponsePayload{proposal_hash, extension: Marshal(action)}`.
///
/// The returned bytes are what endorsers sign and what goes, unchanged, into the
/// transaction; keep them rather than re-encoding.
pub fn create_proposal_response_payload(proposal_hash: &[u8], action: &ChaincodeAction) -> Vec<u8> {
    ProposalResponsePayload {
        proposal_hash: proposal_hash.to_vec(),
        extension: action.encode_to_vec(),
    }
    .encode_to_vec()
}

/// Decodes proposal response payload bytes and the `ChaincodeAction` in their extension.
pub fn unpack_proposal_response_payload(
    prp: &[u8],
) -> Result<(ProposalResponsePayload, ChaincodeAction), ProtoError> {
    let payload: ProposalResponsePayload = decode(Part::ProposalResponsePayload, prp)?;
    let action: ChaincodeAction = decode(Part::ChaincodeAction, &payload.extension)?;
    Ok((payload, action))
}

/// The bytes an endorsement signs: `prp ‖ endorser`.
pub fn endorsement_message(prp: &[u8], endorser: &[u8]) -> Vec<u8> {
    [prp, endorser].concat()
}

/// Endorses `prp` with `signer`: `Endorsement{endorser: signer.creator(), signature:
/// Sign(prp ‖ endorser)}`.
pub fn endorse(prp: &[u8], signer: &dyn Signer) -> Result<Endorsement, ProtoError> {
    let endorser = signer.creator().to_vec();
    let signature = signer.sign(&endorsement_message(prp, &endorser))?;
    Ok(Endorsement {
        endorser,
        signature,
    })
}

/// An endorsed proposal response: `ProposalResponse{version: 1, response, payload: prp,
/// endorsement}`. Set `interest` on the result if the caller has one.
///
/// Use this only for successful simulations (status below 400). For failures Fabric
/// returns [`unendorsed_proposal_response`]s instead.
pub fn create_proposal_response(
    response: Response,
    prp: Vec<u8>,
    signer: &dyn Signer,
) -> Result<ProposalResponse, ProtoError> {
    let endorsement = endorse(&prp, signer)?;
    Ok(ProposalResponse {
        version: PROPOSAL_RESPONSE_VERSION,
        timestamp: None,
        response: Some(response),
        payload: prp,
        endorsement: Some(endorsement),
        interest: None,
    })
}

/// A proposal response without endorsement, as Fabric returns for failed simulations:
/// with `payload` when the chaincode status is ≥ 500, without it for 400–499 or for
/// channel-less invocations. Version is left 0, as Fabric does.
pub fn unendorsed_proposal_response(response: Response, prp: Option<Vec<u8>>) -> ProposalResponse {
    ProposalResponse {
        response: Some(response),
        payload: prp.unwrap_or_default(),
        ..Default::default()
    }
}

/// What a validator checks for one endorsement: `data = prp ‖ endorser`,
/// `identity = endorser`, `signature`.
pub fn endorsement_signed_data<'a>(prp: &[u8], endorsement: &'a Endorsement) -> SignedData<'a> {
    SignedData {
        data: Cow::Owned(endorsement_message(prp, &endorsement.endorser)),
        identity: Cow::Borrowed(&endorsement.endorser),
        signature: Cow::Borrowed(&endorsement.signature),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protoutil::test_support::{FailingSigner, TestSigner};
    use weft_proto::protos::ChaincodeId;

    fn action() -> ChaincodeAction {
        ChaincodeAction {
            results: b"rwset".to_vec(),
            events: Vec::new(),
            response: Some(Response {
                status: 200,
                message: String::new(),
                payload: b"ok".to_vec(),
            }),
            chaincode_id: Some(ChaincodeId {
                name: "basic".into(),
                version: "1.0".into(),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn payload_round_trips() {
        let prp = create_proposal_response_payload(&[3; 32], &action());
        let (payload, decoded) = unpack_proposal_response_payload(&prp).expect("unpack");
        assert_eq!(payload.proposal_hash, vec![3; 32]);
        assert_eq!(decoded, action());
    }

    #[test]
    fn endorsement_signs_prp_then_endorser() {
        let signer = TestSigner::new("Org1MSP");
        let prp = create_proposal_response_payload(&[1; 32], &action());
        let resp = create_proposal_response(
            Response {
                status: 200,
                ..Default::default()
            },
            prp.clone(),
            &signer,
        )
        .expect("endorse");
        assert_eq!(resp.version, 1);
        assert_eq!(resp.payload, prp);
        let e = resp.endorsement.as_ref().expect("endorsement");
        assert_eq!(e.endorser, signer.creator_bytes());

        let sd = endorsement_signed_data(&resp.payload, e);
        assert_eq!(sd.data.len(), prp.len() + e.endorser.len());
        assert!(sd.data.starts_with(&prp) && sd.data.ends_with(&e.endorser));
        signer
            .public_key()
            .verify(&sd.data, &sd.signature)
            .expect("verifies");
        // The signature is not over prp alone.
        assert!(signer.public_key().verify(&prp, &sd.signature).is_err());
    }

    #[test]
    fn signing_failure_is_typed() {
        assert!(matches!(
            endorse(b"prp", &FailingSigner),
            Err(ProtoError::Signing(_))
        ));
    }

    #[test]
    fn unendorsed_responses_carry_no_endorsement() {
        let r = unendorsed_proposal_response(
            Response {
                status: 500,
                ..Default::default()
            },
            Some(vec![1]),
        );
        assert_eq!(
            (r.version, r.payload.as_slice(), r.endorsement.is_none()),
            (0, &[1u8][..], true)
        );
        let r = unendorsed_proposal_response(
            Response {
                status: 404,
                ..Default::default()
            },
            None,
        );
        assert!(r.payload.is_empty());
    }

    #[test]
    fn garbage_payload_is_typed() {
        assert!(matches!(
            unpack_proposal_response_payload(&[0x0a, 0x40]),
            Err(ProtoError::Decode {
                part: Part::ProposalResponsePayload,
                ..
            })
        ));
        let bad_ext = ProposalResponsePayload {
            proposal_hash: vec![],
            extension: vec![0x12, 0x05],
        }
        .encode_to_vec();
        assert!(matches!(
            unpack_proposal_response_payload(&bad_ext),
            Err(ProtoError::Decode {
                part: Part::ChaincodeAction,
                ..
            })
        ));
    }
}
