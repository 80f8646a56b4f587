//! The signed seek request the deliver client opens every stream with.

use prost::Message;
use weft_common::crypto::Signer;
use weft_common::protoutil::{self, ProtoError};
use weft_proto::common::{ChannelHeader, Envelope, Header, HeaderType, Payload, SignatureHeader};
use weft_proto::orderer::{SeekInfo, SeekPosition, SeekSpecified, seek_info, seek_position};

/// The `SeekInfo` of Fabric's peer: from block `start` to `u64::MAX` (for ever),
/// BLOCK_UNTIL_READY, STRICT error response.
pub fn seek_info(start: u64) -> SeekInfo {
    let specified = |number| SeekPosition {
        r#type: Some(seek_position::Type::Specified(SeekSpecified { number })),
    };
    SeekInfo {
        start: Some(specified(start)),
        stop: Some(specified(u64::MAX)),
        behavior: seek_info::SeekBehavior::BlockUntilReady as i32,
        error_response: seek_info::SeekErrorResponse::Strict as i32,
    }
}

/// The DELIVER_SEEK_INFO envelope for [`seek_info()`]`(start)` on `channel_id`, signed by
/// `signer`, as Fabric's `CreateSignedEnvelopeWithTLSBinding` makes it: channel header
/// version 0, epoch 0, the time in whole seconds, no txid, and `tls_cert_hash` (SHA-256
/// of the client TLS certificate) when the client presents one; signature header with
/// the signer's identity and a fresh nonce.
pub fn seek_envelope(
    channel_id: &str,
    signer: &dyn Signer,
    start: u64,
    tls_cert_hash: Option<&[u8]>,
) -> Result<Envelope, ProtoError> {
    let channel_header = ChannelHeader {
        r#type: HeaderType::DeliverSeekInfo as i32,
        version: 0,
        timestamp: Some(protoutil::timestamp_now_seconds()),
        channel_id: channel_id.to_owned(),
        epoch: 0,
        tls_cert_hash: tls_cert_hash.map(<[u8]>::to_vec).unwrap_or_default(),
        ..Default::default()
    };
    let signature_header = SignatureHeader {
        creator: signer.creator().to_vec(),
        nonce: protoutil::create_nonce(),
    };
    let payload = Payload {
        header: Some(Header {
            channel_header: channel_header.encode_to_vec(),
            signature_header: signature_header.encode_to_vec(),
        }),
        data: seek_info(start).encode_to_vec(),
    };
    protoutil::sign_envelope_payload(payload.encode_to_vec(), signer)
}
