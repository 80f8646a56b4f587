//! Envelopes: creating signed ones (config updates, seek requests, …) and taking received
//! ones apart while keeping the signed bytes.

use std::borrow::Cow;

use prost::Message;
use weft_proto::common::{ChannelHeader, Envelope, Header, HeaderType, Payload, SignatureHeader};

use crate::crypto::Signer;
use crate::policy::SignedData;

use super::header::{
    check_channel_header, check_signature_header, decode_channel_header, decode_signature_header,
    timestamp_now_seconds,
};
use super::txid::{compute_txid, create_nonce};
use super::{Part, ProtoError, decode};

/// Signs `payload` (marshaled `common.Payload`) with `signer` and wraps both into an
/// envelope. This is also how a client signs the unsigned transaction envelope the
/// gateway returns: pass it its `payload`.
pub fn sign_envelope_payload(
    payload: Vec<u8>,
    signer: &dyn Signer,
) -> Result<Envelope, ProtoError> {
    let signature = signer.sign(&payload)?;
    Ok(Envelope { payload, signature })
}

/// A signed envelope of type `header_type` on `channel_id` carrying `data` (a marshaled
/// message, e.g. `ConfigUpdateEnvelope` or `SeekInfo`).
///
/// The channel header has version 0, `epoch`, the current time in whole seconds (as
/// Fabric's own envelopes) and the txid of the fresh nonce and the signer's identity; the
/// signature header has the signer's identity and a 24-byte nonce.
pub fn create_signed_envelope(
    header_type: HeaderType,
    channel_id: &str,
    signer: &dyn Signer,
    data: &[u8],
    epoch: u64,
) -> Result<Envelope, ProtoError> {
    let signature_header = SignatureHeader {
        creator: signer.creator().to_vec(),
        nonce: create_nonce(),
    };
    let channel_header = ChannelHeader {
        r#type: header_type as i32,
        version: 0,
        timestamp: Some(timestamp_now_seconds()),
        channel_id: channel_id.to_owned(),
        tx_id: compute_txid(&signature_header.nonce, &signature_header.creator),
        epoch,
        ..Default::default()
    };
    let payload = Payload {
        header: Some(Header {
            channel_header: channel_header.encode_to_vec(),
            signature_header: signature_header.encode_to_vec(),
        }),
        data: data.to_vec(),
    };
    sign_envelope_payload(payload.encode_to_vec(), signer)
}

/// A received envelope taken apart down to its headers, keeping every raw part.
#[derive(Debug, Clone, PartialEq)]
pub struct UnpackedEnvelope {
    /// The envelope as received (`payload` are the signed bytes).
    pub envelope: Envelope,
    /// `Payload.header`; its two fields are the raw header bytes.
    pub header: Header,
    /// `header.channel_header` decoded.
    pub channel_header: ChannelHeader,
    /// `header.signature_header` decoded.
    pub signature_header: SignatureHeader,
    /// `Payload.data`, raw (a `Transaction`, `ConfigEnvelope`, … depending on the type).
    pub data: Vec<u8>,
}

/// Decodes envelope bytes (e.g. an entry of `BlockData.data`) and unpacks them.
pub fn unpack_envelope_bytes(bytes: &[u8]) -> Result<UnpackedEnvelope, ProtoError> {
    let envelope: Envelope = decode(Part::Envelope, bytes)?;
    unpack_envelope_owned(envelope)
}

/// Envelope → Payload → Header → ChannelHeader, SignatureHeader. Structural only; see
/// [`UnpackedEnvelope::check_common_header`].
pub fn unpack_envelope(envelope: &Envelope) -> Result<UnpackedEnvelope, ProtoError> {
    unpack_envelope_owned(envelope.clone())
}

fn unpack_envelope_owned(envelope: Envelope) -> Result<UnpackedEnvelope, ProtoError> {
    let payload: Payload = decode(Part::Payload, &envelope.payload)?;
    let header = payload.header.ok_or(ProtoError::Missing(Part::Header))?;
    let channel_header = decode_channel_header(&header.channel_header)?;
    let signature_header = decode_signature_header(&header.signature_header)?;
    Ok(UnpackedEnvelope {
        envelope,
        header,
        channel_header,
        signature_header,
        data: payload.data,
    })
}

impl UnpackedEnvelope {
    /// `ChannelHeader.channel_id`.
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

    /// `SignatureHeader.creator`.
    pub fn creator(&self) -> &[u8] {
        &self.signature_header.creator
    }

    /// Fails with [`ProtoError::WrongHeaderType`] unless the envelope has type `expected`.
    pub fn require_type(&self, expected: HeaderType) -> Result<(), ProtoError> {
        if self.header_type() == expected as i32 {
            Ok(())
        } else {
            Err(ProtoError::WrongHeaderType {
                expected: expected as i32,
                found: self.header_type(),
            })
        }
    }

    /// The committing peer's common-header checks: type is ENDORSER_TRANSACTION,
    /// CONFIG_UPDATE or CONFIG; epoch is 0; nonce and creator are non-empty. Failures
    /// map to BAD_COMMON_HEADER. Next comes the creator signature check
    /// ([`Self::signed_data`], by the MSP), then type-specific unpacking.
    pub fn check_common_header(&self) -> Result<(), ProtoError> {
        check_channel_header(
            &self.channel_header,
            &[
                HeaderType::EndorserTransaction,
                HeaderType::ConfigUpdate,
                HeaderType::Config,
            ],
        )?;
        check_signature_header(&self.signature_header, Part::SignatureHeader)
    }

    /// The creator's signature over the payload bytes.
    pub fn signed_data(&self) -> SignedData<'_> {
        SignedData::borrowed(
            &self.envelope.payload,
            &self.signature_header.creator,
            &self.envelope.signature,
        )
    }
}

/// The signature on an envelope: data = `payload` bytes, identity =
/// `SignatureHeader.creator`, signature. Fails if the payload, its header or the
/// signature header do not decode.
pub fn envelope_signed_data(envelope: &Envelope) -> Result<SignedData<'_>, ProtoError> {
    let payload: Payload = decode(Part::Payload, &envelope.payload)?;
    let header = payload.header.ok_or(ProtoError::Missing(Part::Header))?;
    let signature_header = decode_signature_header(&header.signature_header)?;
    Ok(SignedData {
        data: Cow::Borrowed(&envelope.payload),
        identity: Cow::Owned(signature_header.creator),
        signature: Cow::Borrowed(&envelope.signature),
    })
}

/// The decoded channel header of an envelope.
pub fn channel_header_of(envelope: &Envelope) -> Result<ChannelHeader, ProtoError> {
    let payload: Payload = decode(Part::Payload, &envelope.payload)?;
    let header = payload.header.ok_or(ProtoError::Missing(Part::Header))?;
    decode_channel_header(&header.channel_header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protoutil::test_support::{FailingSigner, TestSigner};
    use crate::protoutil::txid::check_txid;

    #[test]
    fn signed_envelope_unpacks_and_verifies() {
        let signer = TestSigner::new("OrdererMSP");
        let env = create_signed_envelope(HeaderType::ConfigUpdate, "ch1", &signer, b"data", 0)
            .expect("create");
        let up = unpack_envelope(&env).expect("unpack");
        assert_eq!(up.channel_id(), "ch1");
        assert_eq!(up.header_type(), HeaderType::ConfigUpdate as i32);
        assert_eq!(up.data, b"data");
        assert_eq!(up.creator(), signer.creator_bytes());
        assert_eq!(up.signature_header.nonce.len(), 24);
        assert_eq!(
            up.channel_header.timestamp.as_ref().map(|t| t.nanos),
            Some(0)
        );
        check_txid(up.tx_id(), &up.signature_header.nonce, up.creator()).expect("txid");
        assert_eq!(up.check_common_header(), Ok(()));
        assert_eq!(up.require_type(HeaderType::ConfigUpdate), Ok(()));
        assert_eq!(
            up.require_type(HeaderType::Config),
            Err(ProtoError::WrongHeaderType {
                expected: 1,
                found: 2
            })
        );

        let sd = envelope_signed_data(&env).expect("signed data");
        assert_eq!(sd, up.signed_data());
        assert_eq!(&*sd.data, env.payload.as_slice());
        signer
            .public_key()
            .verify(&sd.data, &sd.signature)
            .expect("verifies");

        assert_eq!(channel_header_of(&env).expect("ch"), up.channel_header);
        assert_eq!(
            unpack_envelope_bytes(&env.encode_to_vec()).expect("bytes"),
            up
        );
    }

    #[test]
    fn bad_envelopes_fail_with_the_right_code() {
        use weft_proto::protos::TxValidationCode as Code;
        let code = |r: Result<UnpackedEnvelope, ProtoError>| {
            r.expect_err("must fail").tx_validation_code()
        };
        // Truncated envelope bytes.
        assert_eq!(
            code(unpack_envelope_bytes(&[0x0a, 0x30, 0x00])),
            Some(Code::InvalidOtherReason)
        );
        // Garbage payload.
        let env = Envelope {
            payload: vec![0x0a, 0x30],
            signature: vec![],
        };
        assert_eq!(code(unpack_envelope(&env)), Some(Code::BadPayload));
        // Empty envelope: no header.
        assert_eq!(
            code(unpack_envelope_bytes(&[])),
            Some(Code::BadCommonHeader)
        );
        // Garbage channel header.
        let payload = Payload {
            header: Some(Header {
                channel_header: vec![0x1a, 0x05],
                signature_header: vec![],
            }),
            data: vec![],
        };
        let env = Envelope {
            payload: payload.encode_to_vec(),
            signature: vec![],
        };
        assert_eq!(code(unpack_envelope(&env)), Some(Code::BadCommonHeader));
        assert!(matches!(
            channel_header_of(&env),
            Err(ProtoError::Decode {
                part: Part::ChannelHeader,
                ..
            })
        ));
    }

    #[test]
    fn common_header_checks() {
        let signer = TestSigner::new("Org1MSP");
        let env = create_signed_envelope(HeaderType::DeliverSeekInfo, "ch", &signer, b"", 0)
            .expect("create");
        let up = unpack_envelope(&env).expect("unpack");
        assert_eq!(
            up.check_common_header(),
            Err(ProtoError::HeaderTypeNotAllowed { header_type: 5 })
        );

        let env = create_signed_envelope(HeaderType::EndorserTransaction, "ch", &signer, b"", 2)
            .expect("create");
        let up = unpack_envelope(&env).expect("unpack");
        let err = up.check_common_header().expect_err("epoch");
        assert_eq!(err, ProtoError::NonZeroEpoch(2));
        assert_eq!(
            err.tx_validation_code(),
            Some(weft_proto::protos::TxValidationCode::BadCommonHeader)
        );
    }

    #[test]
    fn envelope_signed_data_needs_a_header() {
        let env = Envelope {
            payload: Payload::default().encode_to_vec(),
            signature: vec![1],
        };
        assert_eq!(
            envelope_signed_data(&env),
            Err(ProtoError::Missing(Part::Header))
        );
    }

    #[test]
    fn signing_failure_is_typed() {
        assert!(matches!(
            create_signed_envelope(HeaderType::Config, "c", &FailingSigner, b"", 0),
            Err(ProtoError::Signing(_))
        ));
    }
}
