//! Channel and signature headers: timestamps, decoding, and the checks every message
//! carrying a `common.Header` goes through.

use std::time::SystemTime;

use prost_types::Timestamp;
use weft_proto::common::{ChannelHeader, HeaderType, SignatureHeader};

use super::{Part, ProtoError, decode};

/// The current time with full precision (what SDKs put into proposal headers).
pub fn timestamp_now() -> Timestamp {
    Timestamp::from(SystemTime::now())
}

/// The current time truncated to whole seconds (what Fabric puts into the channel
/// headers of envelopes it creates itself, e.g. config and seek envelopes).
pub fn timestamp_now_seconds() -> Timestamp {
    Timestamp {
        seconds: timestamp_now().seconds,
        nanos: 0,
    }
}

/// Decodes `Header.channel_header`.
pub fn decode_channel_header(bytes: &[u8]) -> Result<ChannelHeader, ProtoError> {
    decode(Part::ChannelHeader, bytes)
}

/// Decodes `Header.signature_header`.
pub fn decode_signature_header(bytes: &[u8]) -> Result<SignatureHeader, ProtoError> {
    decode(Part::SignatureHeader, bytes)
}

/// Checks that the header's type is one of `allowed` and that its epoch is 0.
pub fn check_channel_header(
    channel_header: &ChannelHeader,
    allowed: &[HeaderType],
) -> Result<(), ProtoError> {
    if !allowed.iter().any(|t| *t as i32 == channel_header.r#type) {
        return Err(ProtoError::HeaderTypeNotAllowed {
            header_type: channel_header.r#type,
        });
    }
    if channel_header.epoch != 0 {
        return Err(ProtoError::NonZeroEpoch(channel_header.epoch));
    }
    Ok(())
}

/// Checks that a signature header has a nonce and a creator. `part` says which header
/// this is (the payload's [`Part::SignatureHeader`] or an action's [`Part::ActionHeader`]),
/// which decides the validation code of the error.
pub fn check_signature_header(header: &SignatureHeader, part: Part) -> Result<(), ProtoError> {
    if header.nonce.is_empty() {
        return Err(ProtoError::Empty {
            part,
            field: "nonce",
        });
    }
    if header.creator.is_empty() {
        return Err(ProtoError::Empty {
            part,
            field: "creator",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_header_checks_type_then_epoch() {
        let allowed = [HeaderType::EndorserTransaction, HeaderType::Config];
        let mut ch = ChannelHeader {
            r#type: HeaderType::Config as i32,
            ..Default::default()
        };
        assert_eq!(check_channel_header(&ch, &allowed), Ok(()));
        ch.epoch = 3;
        assert_eq!(
            check_channel_header(&ch, &allowed),
            Err(ProtoError::NonZeroEpoch(3))
        );
        ch.r#type = HeaderType::DeliverSeekInfo as i32;
        assert_eq!(
            check_channel_header(&ch, &allowed),
            Err(ProtoError::HeaderTypeNotAllowed { header_type: 5 })
        );
    }

    #[test]
    fn signature_header_needs_nonce_and_creator() {
        let mut sh = SignatureHeader::default();
        assert_eq!(
            check_signature_header(&sh, Part::SignatureHeader),
            Err(ProtoError::Empty {
                part: Part::SignatureHeader,
                field: "nonce"
            })
        );
        sh.nonce = vec![1];
        assert_eq!(
            check_signature_header(&sh, Part::ActionHeader),
            Err(ProtoError::Empty {
                part: Part::ActionHeader,
                field: "creator"
            })
        );
        sh.creator = vec![2];
        assert_eq!(check_signature_header(&sh, Part::SignatureHeader), Ok(()));
    }

    #[test]
    fn truncated_headers_are_decode_errors() {
        assert!(matches!(
            decode_channel_header(&[0x12, 0x10, b'a']),
            Err(ProtoError::Decode {
                part: Part::ChannelHeader,
                ..
            })
        ));
        assert!(matches!(
            decode_signature_header(&[0x0a]),
            Err(ProtoError::Decode {
                part: Part::SignatureHeader,
                ..
            })
        ));
    }

    #[test]
    fn second_timestamps_have_no_nanos() {
        let t = timestamp_now_seconds();
        assert_eq!(t.nanos, 0);
        assert!(t.seconds > 1_600_000_000);
    }
}
