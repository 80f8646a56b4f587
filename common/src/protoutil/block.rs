//! Blocks: header hashing (the hash chain), data hashing, metadata, orderer signatures,
//! structural verification, genesis blocks and the transactions filter.

use std::borrow::Cow;

use prost::Message;
use weft_proto::common::{
    Block, BlockData, BlockHeader, BlockMetadata, ChannelHeader, Config, ConfigEnvelope, Envelope,
    Header, HeaderType, LastConfig, Metadata, MetadataSignature, OrdererBlockMetadata, Payload,
    SignatureHeader,
};
use weft_proto::protos::TxValidationCode;

use crate::crypto::{SHA256_LEN, Signer, sha256, sha256_concat};
use crate::policy::SignedData;

use super::envelope::unpack_envelope_bytes;
use super::header::timestamp_now_seconds;
use super::txid::{compute_txid, create_nonce};
use super::{Part, ProtoError, decode};

/// Index of the orderer's signatures (`Metadata` holding `OrdererBlockMetadata`).
pub const METADATA_SIGNATURES: usize = 0;
/// Index of the (deprecated, still written) last config index.
pub const METADATA_LAST_CONFIG: usize = 1;
/// Index of the peer's per-transaction validation codes.
pub const METADATA_TRANSACTIONS_FILTER: usize = 2;
/// Index of the (unused) orderer metadata.
pub const METADATA_ORDERER: usize = 3;
/// Index of the peer's optional commit hash.
pub const METADATA_COMMIT_HASH: usize = 4;
/// Number of metadata entries every block carries.
pub const METADATA_LEN: usize = 5;

/// The channel header version Fabric's genesis block factory (used by configtxgen) writes.
const GENESIS_MESSAGE_VERSION: i32 = 1;

// ---------------------------------------------------------------------------------------
// Hashing

/// The DER encoding of a block header that Fabric hashes and signs:
/// `SEQUENCE { INTEGER number, OCTET STRING previous_hash, OCTET STRING data_hash }`,
/// with the number as a minimal two's-complement (non-negative) INTEGER.
pub fn block_header_der(header: &BlockHeader) -> Vec<u8> {
    let mut content = Vec::with_capacity(16 + header.previous_hash.len() + header.data_hash.len());
    der_tlv(0x02, &der_unsigned_integer(header.number), &mut content);
    der_tlv(0x04, &header.previous_hash, &mut content);
    der_tlv(0x04, &header.data_hash, &mut content);
    let mut out = Vec::with_capacity(content.len() + 4);
    der_tlv(0x30, &content, &mut out);
    out
}

/// SHA-256 of [`block_header_der`]: the block's hash, which the next block carries as
/// `previous_hash`.
pub fn block_header_hash(header: &BlockHeader) -> [u8; SHA256_LEN] {
    sha256(&block_header_der(header))
}

/// SHA-256 of the plain concatenation of the block's data entries.
pub fn block_data_hash(data: &BlockData) -> [u8; SHA256_LEN] {
    let parts: Vec<&[u8]> = data.data.iter().map(Vec::as_slice).collect();
    sha256_concat(&parts)
}

fn der_tlv(tag: u8, content: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
}

fn der_unsigned_integer(n: u64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let skip = bytes
        .iter()
        .take_while(|b| **b == 0)
        .count()
        .min(bytes.len() - 1);
    let mut out = Vec::with_capacity(9);
    if bytes[skip] & 0x80 != 0 {
        out.push(0);
    }
    out.extend_from_slice(&bytes[skip..]);
    out
}

// ---------------------------------------------------------------------------------------
// Building and signing

/// An empty block: header with `number`, `previous_hash` and an empty data hash, no data,
/// and [`METADATA_LEN`] empty metadata entries.
pub fn new_block(number: u64, previous_hash: Vec<u8>) -> Block {
    Block {
        header: Some(BlockHeader {
            number,
            previous_hash,
            data_hash: Vec::new(),
        }),
        data: Some(BlockData { data: Vec::new() }),
        metadata: Some(BlockMetadata {
            metadata: vec![Vec::new(); METADATA_LEN],
        }),
    }
}

/// A block carrying `envelopes` (marshaled envelopes, in order) with its data hash set.
pub fn build_block(number: u64, previous_hash: Vec<u8>, envelopes: Vec<Vec<u8>>) -> Block {
    let data = BlockData { data: envelopes };
    let data_hash = block_data_hash(&data).to_vec();
    Block {
        header: Some(BlockHeader {
            number,
            previous_hash,
            data_hash,
        }),
        data: Some(data),
        metadata: Some(BlockMetadata {
            metadata: vec![Vec::new(); METADATA_LEN],
        }),
    }
}

/// The bytes an orderer signs (and a peer verifies) for a block signature:
/// `value ‖ signature_header ‖ DER(header)`.
pub fn block_signature_bytes(
    value: &[u8],
    signature_header: &[u8],
    header: &BlockHeader,
) -> Vec<u8> {
    [value, signature_header, &block_header_der(header)].concat()
}

/// Signs `block` as an orderer does, writing two metadata entries:
///
/// - SIGNATURES: `Metadata{value: Marshal(OrdererBlockMetadata{last_config{index},
///   consenter_metadata: Marshal(Metadata{value: consenter_metadata})}), signatures:
///   [MetadataSignature{signature_header: Marshal(SignatureHeader{creator, nonce}),
///   signature: Sign(value ‖ signature_header ‖ DER(header))}]}`;
/// - LAST_CONFIG: `Metadata{value: Marshal(LastConfig{index})}`.
///
/// The header (including the data hash) must be final. Missing metadata entries are added.
pub fn sign_block(
    block: &mut Block,
    signer: &dyn Signer,
    last_config_index: u64,
    consenter_metadata: &[u8],
) -> Result<(), ProtoError> {
    let header = block
        .header
        .as_ref()
        .ok_or(ProtoError::Missing(Part::BlockHeader))?;
    let value = OrdererBlockMetadata {
        last_config: Some(LastConfig {
            index: last_config_index,
        }),
        consenter_metadata: Metadata {
            value: consenter_metadata.to_vec(),
            signatures: Vec::new(),
        }
        .encode_to_vec(),
    }
    .encode_to_vec();
    let signature_header = SignatureHeader {
        creator: signer.creator().to_vec(),
        nonce: create_nonce(),
    }
    .encode_to_vec();
    let signature = signer.sign(&block_signature_bytes(&value, &signature_header, header))?;

    let signatures = Metadata {
        value,
        signatures: vec![MetadataSignature {
            signature_header,
            signature,
        }],
    };
    let last_config = Metadata {
        value: LastConfig {
            index: last_config_index,
        }
        .encode_to_vec(),
        signatures: Vec::new(),
    };
    let metadata = metadata_entries_mut(block);
    metadata[METADATA_SIGNATURES] = signatures.encode_to_vec();
    metadata[METADATA_LAST_CONFIG] = last_config.encode_to_vec();
    Ok(())
}

/// The block's metadata entries, created or padded to [`METADATA_LEN`] first.
fn metadata_entries_mut(block: &mut Block) -> &mut Vec<Vec<u8>> {
    let metadata = &mut block
        .metadata
        .get_or_insert_with(BlockMetadata::default)
        .metadata;
    if metadata.len() < METADATA_LEN {
        metadata.resize(METADATA_LEN, Vec::new());
    }
    metadata
}

/// A channel's genesis block as configtxgen makes it, from the channel's config.
/// See [`genesis_block_from_config_envelope`].
pub fn genesis_block(channel_id: &str, config: &Config) -> Block {
    let envelope = ConfigEnvelope {
        config: Some(config.clone()),
        last_update: None,
    };
    genesis_block_from_config_envelope(channel_id, envelope.encode_to_vec())
}

/// A genesis block carrying `config_envelope` (a marshaled `ConfigEnvelope`, kept as given):
///
/// block 0, empty previous hash, one unsigned envelope whose payload has a CONFIG channel
/// header (version 1, epoch 0, time in whole seconds, the txid of the nonce and an empty
/// creator) and a signature header with only a 24-byte nonce; LAST_CONFIG =
/// `Metadata{LastConfig{0}}` and SIGNATURES = `Metadata{OrdererBlockMetadata{last_config{0}}}`
/// without signatures. Fabric's genesis factory writes channel header version 1.
pub fn genesis_block_from_config_envelope(channel_id: &str, config_envelope: Vec<u8>) -> Block {
    let signature_header = SignatureHeader {
        creator: Vec::new(),
        nonce: create_nonce(),
    };
    let channel_header = ChannelHeader {
        r#type: HeaderType::Config as i32,
        version: GENESIS_MESSAGE_VERSION,
        timestamp: Some(timestamp_now_seconds()),
        channel_id: channel_id.to_owned(),
        tx_id: compute_txid(&signature_header.nonce, &signature_header.creator),
        epoch: 0,
        ..Default::default()
    };
    let payload = Payload {
        header: Some(Header {
            channel_header: channel_header.encode_to_vec(),
            signature_header: signature_header.encode_to_vec(),
        }),
        data: config_envelope,
    };
    let envelope = Envelope {
        payload: payload.encode_to_vec(),
        signature: Vec::new(),
    };

    let mut block = build_block(0, Vec::new(), vec![envelope.encode_to_vec()]);
    let metadata = metadata_entries_mut(&mut block);
    metadata[METADATA_LAST_CONFIG] = Metadata {
        value: LastConfig { index: 0 }.encode_to_vec(),
        signatures: Vec::new(),
    }
    .encode_to_vec();
    metadata[METADATA_SIGNATURES] = Metadata {
        value: OrdererBlockMetadata {
            last_config: Some(LastConfig { index: 0 }),
            consenter_metadata: Vec::new(),
        }
        .encode_to_vec(),
        signatures: Vec::new(),
    }
    .encode_to_vec();
    block
}

// ---------------------------------------------------------------------------------------
// Reading

/// The decoded `Metadata` at `index` (an empty entry decodes to an empty `Metadata`).
pub fn block_metadata(block: &Block, index: usize) -> Result<Metadata, ProtoError> {
    let entry = block
        .metadata
        .as_ref()
        .and_then(|m| m.metadata.get(index))
        .ok_or(ProtoError::MissingMetadata(index))?;
    decode(Part::Metadata, entry)
}

/// The orderer signatures on a block as signed items for the BlockValidation policy:
/// for each `MetadataSignature`, identity = its signature header's creator, data =
/// `Metadata.value ‖ signature_header ‖ DER(header)`, signature.
pub fn block_signatures(block: &Block) -> Result<Vec<SignedData<'static>>, ProtoError> {
    let header = block
        .header
        .as_ref()
        .ok_or(ProtoError::Missing(Part::BlockHeader))?;
    let metadata = block_metadata(block, METADATA_SIGNATURES)?;
    let header_der = block_header_der(header);
    metadata
        .signatures
        .into_iter()
        .map(|sig| {
            let creator =
                decode::<SignatureHeader>(Part::SignatureHeader, &sig.signature_header)?.creator;
            Ok(SignedData {
                data: Cow::Owned(
                    [&metadata.value, &sig.signature_header, &header_der[..]].concat(),
                ),
                identity: Cow::Owned(creator),
                signature: Cow::Owned(sig.signature),
            })
        })
        .collect()
}

/// The index of the last config block, from SIGNATURES (`OrdererBlockMetadata.last_config`)
/// or, when that entry's value is empty (blocks of very old orderers), from LAST_CONFIG.
pub fn last_config_index(block: &Block) -> Result<u64, ProtoError> {
    let signatures = block_metadata(block, METADATA_SIGNATURES)?;
    let last_config = if signatures.value.is_empty() {
        let legacy = block_metadata(block, METADATA_LAST_CONFIG)?;
        decode::<LastConfig>(Part::LastConfig, &legacy.value)?
    } else {
        decode::<OrdererBlockMetadata>(Part::OrdererBlockMetadata, &signatures.value)?
            .last_config
            .ok_or(ProtoError::Missing(Part::LastConfig))?
    };
    Ok(last_config.index)
}

/// The envelope at `index` in the block's data.
pub fn extract_envelope(block: &Block, index: usize) -> Result<Envelope, ProtoError> {
    let data = block.data.as_ref().map_or(&[][..], |d| d.data.as_slice());
    let bytes = data.get(index).ok_or(ProtoError::EnvelopeIndex {
        index,
        len: data.len(),
    })?;
    decode(Part::Envelope, bytes)
}

/// The channel id of the block's first envelope.
pub fn block_channel_id(block: &Block) -> Result<String, ProtoError> {
    let first = first_envelope_bytes(block)?;
    Ok(unpack_envelope_bytes(first)?.channel_header.channel_id)
}

fn first_envelope_bytes(block: &Block) -> Result<&[u8], ProtoError> {
    block
        .data
        .as_ref()
        .and_then(|d| d.data.first())
        .map(Vec::as_slice)
        .ok_or(ProtoError::EmptyBlock {
            number: block.header.as_ref().map_or(0, |h| h.number),
        })
}

/// Whether the block is a config block: exactly one envelope, of type CONFIG (or the
/// legacy ORDERER_TRANSACTION).
pub fn is_config_block(block: &Block) -> bool {
    let Some(data) = block.data.as_ref() else {
        return false;
    };
    let [only] = data.data.as_slice() else {
        return false;
    };
    unpack_envelope_bytes(only).is_ok_and(|env| {
        env.header_type() == HeaderType::Config as i32
            || env.header_type() == HeaderType::OrdererTransaction as i32
    })
}

/// The `ConfigEnvelope` of a config block (exactly one envelope, of type CONFIG).
pub fn config_envelope_from_block(block: &Block) -> Result<ConfigEnvelope, ProtoError> {
    let data = block.data.as_ref().map_or(&[][..], |d| d.data.as_slice());
    let [only] = data else {
        return Err(ProtoError::NotAConfigBlock);
    };
    let envelope = unpack_envelope_bytes(only)?;
    if envelope.header_type() != HeaderType::Config as i32 {
        return Err(ProtoError::NotAConfigBlock);
    }
    decode(Part::ConfigEnvelope, &envelope.data)
}

// ---------------------------------------------------------------------------------------
// Verification

/// The checks a peer makes on a block before its signatures and transactions: header
/// present, number equal to `expected_number`, `previous_hash` equal to
/// `expected_previous_hash` (the header hash of the previous block; empty for block 0),
/// data hash matching the data, transactions well formed
/// ([`verify_transactions_well_formed`]) and SIGNATURES metadata decodable.
pub fn verify_block_structure(
    block: &Block,
    expected_number: u64,
    expected_previous_hash: &[u8],
) -> Result<(), ProtoError> {
    let header = block
        .header
        .as_ref()
        .ok_or(ProtoError::Missing(Part::BlockHeader))?;
    let number = header.number;
    if number != expected_number {
        return Err(ProtoError::BlockNumberMismatch {
            expected: expected_number,
            found: number,
        });
    }
    if header.previous_hash != expected_previous_hash {
        return Err(ProtoError::PreviousHashMismatch { number });
    }
    let data = block
        .data
        .as_ref()
        .ok_or(ProtoError::EmptyBlock { number })?;
    if header.data_hash != block_data_hash(data) {
        return Err(ProtoError::DataHashMismatch { number });
    }
    verify_transactions_well_formed(block)?;
    block_metadata(block, METADATA_SIGNATURES)?;
    Ok(())
}

/// Every block carries at least one transaction. A block made of a single config
/// transaction is accepted as is; otherwise every entry must be an envelope with a
/// non-empty payload and signature whose bytes are exactly its canonical encoding (what
/// Fabric's own marshaler produces: known fields in order, then unknown fields as
/// received), so that no two encodings of one transaction can circulate.
pub fn verify_transactions_well_formed(block: &Block) -> Result<(), ProtoError> {
    first_envelope_bytes(block)?;
    if is_config_block(block) {
        return Ok(());
    }
    let data = block.data.as_ref().map_or(&[][..], |d| d.data.as_slice());
    for (index, raw) in data.iter().enumerate() {
        let malformed = |reason| ProtoError::MalformedBlockTransaction { index, reason };
        let envelope =
            Envelope::decode(raw.as_slice()).map_err(|_| malformed("not an Envelope"))?;
        if envelope.payload.is_empty() {
            return Err(malformed("no payload"));
        }
        if envelope.signature.is_empty() {
            return Err(malformed("no signature"));
        }
        if !is_canonical_envelope(&envelope, raw) {
            return Err(malformed(
                "bytes are not the canonical encoding of the envelope",
            ));
        }
    }
    Ok(())
}

/// Whether `raw` equals the re-encoding of `envelope` followed by the unknown fields of
/// `raw` in their original order (Go's protobuf keeps unknown fields; prost drops them).
fn is_canonical_envelope(envelope: &Envelope, raw: &[u8]) -> bool {
    let Some(records) = wire_records(raw) else {
        return false;
    };
    let mut expected = envelope.encode_to_vec();
    for (field, record) in records {
        if field != 1 && field != 2 {
            expected.extend_from_slice(record);
        }
    }
    expected == raw
}

/// Splits protobuf wire bytes into `(field number, whole record)` pairs.
fn wire_records(mut bytes: &[u8]) -> Option<Vec<(u64, &[u8])>> {
    let mut records = Vec::new();
    while !bytes.is_empty() {
        let start = bytes;
        let key = read_varint(&mut bytes)?;
        let value_len = match key & 7 {
            0 => {
                read_varint(&mut bytes)?;
                0
            }
            1 => 8,
            2 => usize::try_from(read_varint(&mut bytes)?).ok()?,
            5 => 4,
            _ => return None, // groups are not used by Fabric
        };
        bytes = bytes.get(value_len..)?;
        records.push((key >> 3, &start[..start.len() - bytes.len()]));
    }
    Some(records)
}

fn read_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *bytes = &bytes[i + 1..];
            return Some(value);
        }
    }
    None
}

// ---------------------------------------------------------------------------------------
// Transactions filter

/// A fresh transactions filter for `tx_count` transactions, all NOT_VALIDATED.
pub fn new_transactions_filter(tx_count: usize) -> Vec<u8> {
    vec![TxValidationCode::NotValidated as u8; tx_count]
}

/// The block's TRANSACTIONS_FILTER entry (one validation code per transaction; empty if
/// the block was not validated yet).
pub fn transactions_filter(block: &Block) -> &[u8] {
    block
        .metadata
        .as_ref()
        .and_then(|m| m.metadata.get(METADATA_TRANSACTIONS_FILTER))
        .map_or(&[], Vec::as_slice)
}

/// Writes the block's TRANSACTIONS_FILTER entry.
pub fn set_transactions_filter(block: &mut Block, filter: Vec<u8>) {
    metadata_entries_mut(block)[METADATA_TRANSACTIONS_FILTER] = filter;
}

/// The validation code of transaction `index` in `filter`, if present and known.
pub fn tx_validation_code_at(filter: &[u8], index: usize) -> Option<TxValidationCode> {
    filter
        .get(index)
        .and_then(|code| TxValidationCode::try_from(i32::from(*code)).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protoutil::envelope::create_signed_envelope;
    use crate::protoutil::test_support::{FailingSigner, TestSigner};
    use weft_proto::common::ConfigGroup;

    fn vector_header(number: u64, previous_hash: Vec<u8>) -> BlockHeader {
        BlockHeader {
            number,
            previous_hash,
            data_hash: vec![0x22; 32],
        }
    }

    #[test]
    fn header_hash_test_vectors() {
        let h0 = vector_header(0, Vec::new());
        let der = block_header_der(&h0);
        assert_eq!(der.len(), 41);
        assert_eq!(
            &der[..9],
            &[0x30, 0x27, 0x02, 0x01, 0x00, 0x04, 0x00, 0x04, 0x20]
        );
        assert_eq!(
            hex::encode(block_header_hash(&h0)),
            "bc6f715bf0b5af641d2359a60c419057757571a331a11111b794455d9dbfa6d3"
        );

        let h1 = vector_header(1, vec![0x11; 32]);
        let der = block_header_der(&h1);
        assert_eq!(der.len(), 73);
        assert_eq!(&der[..7], &[0x30, 0x47, 0x02, 0x01, 0x01, 0x04, 0x20]);
        assert_eq!(
            hex::encode(block_header_hash(&h1)),
            "2a44e23703a89329b8e1050c1fc8855c2b2e1fd990091e145a5cada75d513896"
        );

        let h128 = vector_header(128, vec![0x11; 32]);
        let der = block_header_der(&h128);
        assert_eq!(der.len(), 74);
        assert_eq!(&der[..8], &[0x30, 0x48, 0x02, 0x02, 0x00, 0x80, 0x04, 0x20]);
        assert_eq!(
            hex::encode(block_header_hash(&h128)),
            "21255970fce2d8bd67c1b022cb7528f12d311fec7fc8ba34f5414d3983808260"
        );
    }

    #[test]
    fn der_integers_are_minimal_twos_complement() {
        assert_eq!(der_unsigned_integer(0), vec![0x00]);
        assert_eq!(der_unsigned_integer(127), vec![0x7f]);
        assert_eq!(der_unsigned_integer(128), vec![0x00, 0x80]);
        assert_eq!(der_unsigned_integer(256), vec![0x01, 0x00]);
        assert_eq!(der_unsigned_integer(0x8000), vec![0x00, 0x80, 0x00]);
        let mut max = vec![0x00];
        max.extend([0xff; 8]);
        assert_eq!(der_unsigned_integer(u64::MAX), max);
    }

    #[test]
    fn long_hashes_use_long_form_lengths() {
        let header = BlockHeader {
            number: 5,
            previous_hash: vec![1; 200],
            data_hash: vec![2; 32],
        };
        let der = block_header_der(&header);
        // SEQUENCE content = 3 + (3 + 200) + 34 = 240 bytes → 0x81 0xF0.
        assert_eq!(&der[..3], &[0x30, 0x81, 0xf0]);
        assert_eq!(&der[6..9], &[0x04, 0x81, 0xc8]);
        assert_eq!(der.len(), 243);
    }

    #[test]
    fn data_hash_is_plain_concatenation() {
        let data = BlockData {
            data: vec![b"ab".to_vec(), b"c".to_vec()],
        };
        assert_eq!(block_data_hash(&data), sha256(b"abc"));
        assert_eq!(block_data_hash(&BlockData::default()), sha256(b""));
    }

    #[test]
    fn new_block_has_five_empty_metadata_entries() {
        let b = new_block(7, vec![9; 32]);
        let header = b.header.as_ref().expect("header");
        assert_eq!(
            (
                header.number,
                header.previous_hash.len(),
                header.data_hash.len()
            ),
            (7, 32, 0)
        );
        assert_eq!(
            b.metadata.as_ref().map(|m| m.metadata.clone()),
            Some(vec![Vec::new(); 5])
        );
    }

    fn tx_envelope(signer: &TestSigner) -> Vec<u8> {
        create_signed_envelope(HeaderType::EndorserTransaction, "ch", signer, b"tx", 0)
            .expect("env")
            .encode_to_vec()
    }

    #[test]
    fn signed_block_verifies_and_exposes_signatures() {
        let client = TestSigner::new("Org1MSP");
        let orderer = TestSigner::new("OrdererMSP");
        let prev = new_block(0, Vec::new());
        let prev_hash = block_header_hash(prev.header.as_ref().expect("h")).to_vec();
        let mut block = build_block(
            1,
            prev_hash.clone(),
            vec![tx_envelope(&client), tx_envelope(&client)],
        );
        sign_block(&mut block, &orderer, 0, b"raft").expect("sign");

        assert_eq!(verify_block_structure(&block, 1, &prev_hash), Ok(()));
        assert_eq!(last_config_index(&block), Ok(0));
        assert_eq!(block_channel_id(&block), Ok("ch".to_owned()));
        assert!(!is_config_block(&block));

        let sigs = block_signatures(&block).expect("signatures");
        assert_eq!(sigs.len(), 1);
        assert_eq!(&*sigs[0].identity, orderer.creator_bytes());
        orderer
            .public_key()
            .verify(&sigs[0].data, &sigs[0].signature)
            .expect("verifies");

        // The metadata layout is Fabric's.
        let md = block_metadata(&block, METADATA_SIGNATURES).expect("md");
        let obm = OrdererBlockMetadata::decode(md.value.as_slice()).expect("obm");
        assert_eq!(obm.last_config, Some(LastConfig { index: 0 }));
        let consenter = Metadata::decode(obm.consenter_metadata.as_slice()).expect("consenter");
        assert_eq!(consenter.value, b"raft");
        let sh = SignatureHeader::decode(md.signatures[0].signature_header.as_slice()).expect("sh");
        assert_eq!(sh.nonce.len(), 24);
        let lc = block_metadata(&block, METADATA_LAST_CONFIG).expect("lc");
        assert_eq!(
            LastConfig::decode(lc.value.as_slice()),
            Ok(LastConfig { index: 0 })
        );
        assert!(lc.signatures.is_empty());
        assert_eq!(
            sigs[0].data,
            block_signature_bytes(
                &md.value,
                &md.signatures[0].signature_header,
                block.header.as_ref().expect("h")
            )
        );

        // Metadata is outside the hash chain: changing the filter keeps the block valid.
        set_transactions_filter(&mut block, vec![0, 11]);
        assert_eq!(verify_block_structure(&block, 1, &prev_hash), Ok(()));
        assert_eq!(
            tx_validation_code_at(transactions_filter(&block), 1),
            Some(TxValidationCode::MvccReadConflict)
        );
        assert_eq!(tx_validation_code_at(transactions_filter(&block), 2), None);
    }

    #[test]
    fn verification_rejects_tampered_blocks() {
        let client = TestSigner::new("Org1MSP");
        let good = build_block(3, vec![1; 32], vec![tx_envelope(&client)]);
        assert_eq!(verify_block_structure(&good, 3, &[1; 32]), Ok(()));

        assert_eq!(
            verify_block_structure(&good, 4, &[1; 32]),
            Err(ProtoError::BlockNumberMismatch {
                expected: 4,
                found: 3
            })
        );
        assert_eq!(
            verify_block_structure(&good, 3, &[2; 32]),
            Err(ProtoError::PreviousHashMismatch { number: 3 })
        );

        let mut wrong_data = good.clone();
        if let Some(d) = wrong_data.data.as_mut() {
            d.data.push(tx_envelope(&client));
        }
        assert_eq!(
            verify_block_structure(&wrong_data, 3, &[1; 32]),
            Err(ProtoError::DataHashMismatch { number: 3 })
        );

        let mut no_header = good.clone();
        no_header.header = None;
        assert_eq!(
            verify_block_structure(&no_header, 3, &[1; 32]),
            Err(ProtoError::Missing(Part::BlockHeader))
        );

        let empty = build_block(3, vec![1; 32], vec![]);
        assert_eq!(
            verify_block_structure(&empty, 3, &[1; 32]),
            Err(ProtoError::EmptyBlock { number: 3 })
        );

        let mut bad_md = good.clone();
        if let Some(m) = bad_md.metadata.as_mut() {
            m.metadata[0] = vec![0x0a, 0x20];
        }
        assert!(matches!(
            verify_block_structure(&bad_md, 3, &[1; 32]),
            Err(ProtoError::Decode {
                part: Part::Metadata,
                ..
            })
        ));
    }

    #[test]
    fn malformed_transactions_are_rejected() {
        let client = TestSigner::new("Org1MSP");
        let check = |entries: Vec<Vec<u8>>| {
            verify_transactions_well_formed(&build_block(1, vec![], entries))
        };
        let good = tx_envelope(&client);
        assert_eq!(check(vec![good.clone()]), Ok(()));

        let unsigned = Envelope {
            payload: b"p".to_vec(),
            signature: vec![],
        }
        .encode_to_vec();
        assert!(matches!(
            check(vec![good.clone(), unsigned]),
            Err(ProtoError::MalformedBlockTransaction {
                index: 1,
                reason: "no signature"
            })
        ));
        let no_payload = Envelope {
            payload: vec![],
            signature: vec![1],
        }
        .encode_to_vec();
        assert!(matches!(
            check(vec![no_payload]),
            Err(ProtoError::MalformedBlockTransaction {
                reason: "no payload",
                ..
            })
        ));
        assert!(matches!(
            check(vec![vec![0x0a, 0x10]]),
            Err(ProtoError::MalformedBlockTransaction {
                reason: "not an Envelope",
                ..
            })
        ));

        // Fields out of order: decodes fine but is not canonical.
        let env = Envelope::decode(good.as_slice()).expect("env");
        let reordered = [
            Envelope {
                payload: vec![],
                signature: env.signature.clone(),
            }
            .encode_to_vec(),
            Envelope {
                payload: env.payload.clone(),
                signature: vec![],
            }
            .encode_to_vec(),
        ]
        .concat();
        assert!(matches!(
            check(vec![reordered]),
            Err(ProtoError::MalformedBlockTransaction { .. })
        ));
        // A repeated field: the last value wins in decoding, the bytes are not canonical.
        let repeated = [
            good.clone(),
            Envelope {
                payload: env.payload.clone(),
                signature: vec![],
            }
            .encode_to_vec(),
        ]
        .concat();
        assert!(matches!(
            check(vec![repeated]),
            Err(ProtoError::MalformedBlockTransaction { .. })
        ));
        // Unknown trailing fields are kept by Go's marshaler, so they are canonical.
        let unknown = [good.clone(), vec![0x18, 0x01]].concat();
        assert_eq!(check(vec![unknown]), Ok(()));
    }

    #[test]
    fn genesis_block_is_a_config_block() {
        let config = Config {
            sequence: 0,
            channel_group: Some(ConfigGroup {
                mod_policy: "Admins".into(),
                ..Default::default()
            }),
        };
        let block = genesis_block("mychannel", &config);
        assert_eq!(verify_block_structure(&block, 0, &[]), Ok(()));
        assert!(is_config_block(&block));
        assert_eq!(
            config_envelope_from_block(&block).expect("config").config,
            Some(config)
        );
        assert_eq!(last_config_index(&block), Ok(0));
        assert!(block_signatures(&block).expect("sigs").is_empty());
        assert_eq!(block_channel_id(&block), Ok("mychannel".to_owned()));

        let env = unpack_envelope_bytes(&block.data.as_ref().expect("data").data[0]).expect("env");
        assert_eq!(env.header_type(), HeaderType::Config as i32);
        assert_eq!(env.channel_header.version, 1);
        assert!(env.creator().is_empty());
        assert_eq!(env.tx_id(), compute_txid(&env.signature_header.nonce, b""));
        assert!(env.envelope.signature.is_empty());
        let lc = block_metadata(&block, METADATA_LAST_CONFIG).expect("lc");
        assert_eq!(
            LastConfig::decode(lc.value.as_slice()),
            Ok(LastConfig { index: 0 })
        );
    }

    #[test]
    fn config_helpers_reject_other_blocks() {
        let client = TestSigner::new("Org1MSP");
        let block = build_block(1, vec![], vec![tx_envelope(&client)]);
        assert_eq!(
            config_envelope_from_block(&block),
            Err(ProtoError::NotAConfigBlock)
        );
        assert_eq!(
            config_envelope_from_block(&new_block(0, vec![])),
            Err(ProtoError::NotAConfigBlock)
        );
        assert!(!is_config_block(&new_block(0, vec![])));
        assert_eq!(
            extract_envelope(&block, 1),
            Err(ProtoError::EnvelopeIndex { index: 1, len: 1 })
        );
        assert!(extract_envelope(&block, 0).is_ok());
        assert_eq!(
            block_channel_id(&new_block(4, vec![])),
            Err(ProtoError::EmptyBlock { number: 4 })
        );
        assert_eq!(
            last_config_index(&Block::default()),
            Err(ProtoError::MissingMetadata(0))
        );
    }

    #[test]
    fn legacy_last_config_is_read_when_signatures_value_is_empty() {
        let mut block = new_block(9, vec![]);
        let md = block.metadata.as_mut().expect("md");
        md.metadata[METADATA_LAST_CONFIG] = Metadata {
            value: LastConfig { index: 4 }.encode_to_vec(),
            signatures: vec![],
        }
        .encode_to_vec();
        assert_eq!(last_config_index(&block), Ok(4));
    }

    #[test]
    fn signing_pads_metadata_and_reports_failures() {
        let mut block = new_block(1, vec![]);
        block.metadata = None;
        sign_block(&mut block, &TestSigner::new("O"), 0, &[]).expect("sign");
        assert_eq!(
            block.metadata.as_ref().map(|m| m.metadata.len()),
            Some(METADATA_LEN)
        );
        assert!(matches!(
            sign_block(&mut block, &FailingSigner, 0, &[]),
            Err(ProtoError::Signing(_))
        ));
        let mut headless = Block::default();
        assert_eq!(
            sign_block(&mut headless, &FailingSigner, 0, &[]),
            Err(ProtoError::Missing(Part::BlockHeader))
        );
    }

    #[test]
    fn new_filter_is_not_validated() {
        assert_eq!(new_transactions_filter(2), vec![254, 254]);
        assert_eq!(transactions_filter(&Block::default()), &[] as &[u8]);
    }
}
