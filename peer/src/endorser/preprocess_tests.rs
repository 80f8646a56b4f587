//! Every refusal of the endorser's pre-processing, each with the gRPC error (or the
//! response) a Fabric 2.5 peer gives for the same proposal.
//!
//! The contract is Fabric v2.5.9's `core/endorser`: `UnpackProposal` (msgvalidation.go)
//! returns its error unwrapped, `UnpackedProposal.Validate` is wrapped as
//! `error validating proposal: …`, the txid uniqueness and `peer/Propose` ACL errors of
//! `preProcess` (endorser.go) come through as they are. Weft is stricter on one point only:
//! a creator whose certificate has expired is refused (Fabric's MSP ignores expiry here).
//!
//! Decoding errors end with the protobuf library's own complaint, which differs between
//! Go and prost: those cases compare the prefix Fabric puts before it. Each test checks
//! all its cases and then reports every one that differs, with what Fabric would say.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use prost::Message;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SerialNumber,
};
use time::{Duration, OffsetDateTime};
use weft_common::crypto::PrivateKey;
use weft_common::msp::{MspDir, SigningIdentity};
use weft_common::protoutil;
use weft_proto::common::{BlockchainInfo, ChannelHeader, Header, HeaderType, SignatureHeader};
use weft_proto::msp::SerializedIdentity;
use weft_proto::protos::{
    ChaincodeHeaderExtension, ChaincodeId, ChaincodeInvocationSpec, ChaincodeProposalPayload,
    ChannelQueryResponse, Proposal, ProposalResponse, SignedProposal,
};
use weft_tools::cryptogen::{self, CryptoConfig};

use super::ProposalRejected;
use super::tests::{CHANNEL, Fixture, message, status};

/// A length-delimited field 1 announcing 5 bytes and carrying 1: no protobuf decoder
/// (Go's or prost) accepts it, whatever the message.
const GARBAGE: &[u8] = &[0x0a, 0x05, 0x01];

/// Fabric's answer to a creator whose signature or certificate does not check out on
/// `mychannel` (msgvalidation.go `genericAuthError`).
const DENIED_ORG1: &str =
    "error validating proposal: access denied: channel [mychannel] creator org [Org1MSP]";

/// Fabric's answer to a proposal to an application chaincode by a creator outside the
/// channel's Writers (`peer/Propose`) when the channel config has no `ACLs` entry for it:
/// the default ACL provider's policy checker (core/policy/policy.go
/// `CheckPolicyBySignedData`) around the implicit-meta policy's error. (With an `ACLs`
/// entry Fabric's resource provider words it "failed evaluating policy on signed data
/// during check policy [<path>]: [<error>]".)
const WRITERS_DENIED: &str = "Failed evaluating policy on signed data during check policy on channel [mychannel] with policy [/Channel/Application/Writers]: [implicit policy evaluation failed - 0 sub-policies were satisfied, but this policy requires 1 of the 'Writers' sub-policies to be satisfied]";

/// Fabric's answer to a creator no MSP of the channel deserializes.
const DENIED_UNKNOWN: &str = "error validating proposal: access denied: channel [mychannel] creator org unknown, creator is malformed";

/// What the endorser made of a proposal.
type Outcome = Result<ProposalResponse, ProposalRejected>;

/// The outcome in one comparable line.
fn describe(outcome: &Outcome) -> String {
    match outcome {
        Err(ProposalRejected(message)) => format!("gRPC error {message:?}"),
        Ok(response) => format!(
            "response {} {:?} ({})",
            status(response),
            message(response),
            if response.endorsement.is_some() {
                "endorsed"
            } else {
                "not endorsed"
            }
        ),
    }
}

/// Collects every case that differs from Fabric, so that one run reports them all.
#[derive(Default)]
struct Checks(Vec<String>);

impl Checks {
    fn differs(&mut self, case: &str, expected: String, outcome: &Outcome) {
        self.0.push(format!(
            "{case}:\n    expected {expected}\n    got      {}",
            describe(outcome)
        ));
    }

    /// Refused before invocation with exactly `text`.
    fn refused(&mut self, case: &str, outcome: &Outcome, text: &str) {
        if !matches!(outcome, Err(ProposalRejected(m)) if m == text) {
            self.differs(case, format!("gRPC error {text:?}"), outcome);
        }
    }

    /// Refused before invocation with a message starting with `prefix`.
    fn refused_with_prefix(&mut self, case: &str, outcome: &Outcome, prefix: &str) {
        if !matches!(outcome, Err(ProposalRejected(m)) if m.starts_with(prefix)) {
            self.differs(case, format!("gRPC error starting {prefix:?}"), outcome);
        }
    }

    /// Answered with `code` and `text`, endorsed or not.
    fn answered(&mut self, case: &str, outcome: &Outcome, code: i32, text: &str, endorsed: bool) {
        let ok = matches!(outcome, Ok(r) if status(r) == code
            && message(r) == text
            && r.endorsement.is_some() == endorsed);
        if !ok {
            let how = if endorsed { "endorsed" } else { "not endorsed" };
            self.differs(case, format!("response {code} {text:?} ({how})"), outcome);
        }
    }

    /// An endorsed 200 answer carrying a `BlockchainInfo` (qscc GetChainInfo).
    fn endorsed_chain_info(&mut self, case: &str, outcome: &Outcome) {
        let ok = matches!(outcome, Ok(r) if status(r) == 200
            && r.endorsement.is_some()
            && r.response.as_ref().is_some_and(|r| BlockchainInfo::decode(r.payload.as_slice()).is_ok()));
        if !ok {
            self.differs(case, "an endorsed 200 with the chain info".into(), outcome);
        }
    }

    /// Panics with every difference found.
    fn finish(self) {
        assert!(
            self.0.is_empty(),
            "{} case(s) differ from Fabric 2.5:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

/// The arguments of `qscc GetChainInfo mychannel`.
fn chain_info_args() -> Vec<Vec<u8>> {
    vec![b"GetChainInfo".to_vec(), CHANNEL.as_bytes().to_vec()]
}

/// A proposal taken apart into its decoded layers, to be edited and put back together.
#[derive(Clone)]
struct Parts {
    channel_header: ChannelHeader,
    signature_header: SignatureHeader,
    payload: ChaincodeProposalPayload,
}

impl Parts {
    /// The proposal a client of `creator` would build, decoded.
    fn new(channel: &str, chaincode: &str, args: Vec<Vec<u8>>, creator: &[u8]) -> Self {
        let (proposal, _) = protoutil::create_chaincode_proposal(
            channel,
            chaincode,
            args,
            HashMap::new(),
            creator,
            None,
        );
        let header = Header::decode(proposal.header.as_slice()).expect("header");
        Parts {
            channel_header: ChannelHeader::decode(header.channel_header.as_slice())
                .expect("channel header"),
            signature_header: SignatureHeader::decode(header.signature_header.as_slice())
                .expect("signature header"),
            payload: ChaincodeProposalPayload::decode(proposal.payload.as_slice())
                .expect("payload"),
        }
    }

    /// `qscc GetChainInfo mychannel` by `creator`.
    fn chain_info(creator: &[u8]) -> Self {
        Parts::new(CHANNEL, "qscc", chain_info_args(), creator)
    }

    /// Sets the creator and recomputes the txid for it.
    fn with_creator(mut self, creator: Vec<u8>) -> Self {
        self.signature_header.creator = creator;
        self.fix_txid();
        self
    }

    /// Sets the channel header's txid to hex(SHA-256(nonce ‖ creator)).
    fn fix_txid(&mut self) {
        self.channel_header.tx_id =
            protoutil::compute_txid(&self.signature_header.nonce, &self.signature_header.creator);
    }

    /// The invocation spec inside the payload.
    fn invocation(&self) -> ChaincodeInvocationSpec {
        ChaincodeInvocationSpec::decode(self.payload.input.as_slice()).expect("invocation")
    }

    fn set_invocation(&mut self, invocation: &ChaincodeInvocationSpec) {
        self.payload.input = invocation.encode_to_vec();
    }

    /// The header, re-encoded.
    fn header(&self) -> Vec<u8> {
        Header {
            channel_header: self.channel_header.encode_to_vec(),
            signature_header: self.signature_header.encode_to_vec(),
        }
        .encode_to_vec()
    }

    /// The proposal, re-encoded.
    fn proposal(&self) -> Proposal {
        Proposal {
            header: self.header(),
            payload: self.payload.encode_to_vec(),
            extension: Vec::new(),
        }
    }

    /// The proposal signed with `signer`'s key (whatever the creator says).
    fn signed(&self, signer: &SigningIdentity) -> SignedProposal {
        protoutil::sign_proposal(&self.proposal(), signer).expect("sign")
    }
}

/// The crypto material of the fixture: `organizations/`.
fn organizations(f: &Fixture) -> PathBuf {
    f._dir.path().join("organizations")
}

/// Org1's peer0: role peer, a Reader of the channel but not a Writer.
fn org1_peer(f: &Fixture) -> SigningIdentity {
    let msp = organizations(f)
        .join("peerOrganizations/org1.example.com/peers/peer0.org1.example.com/msp");
    MspDir::load(&msp, "Org1MSP")
        .expect("peer msp")
        .signing_identity
        .expect("peer identity")
}

/// The orderer org's admin (OrdererMSP is in the channel config, not in Application).
fn orderer_admin(f: &Fixture) -> SigningIdentity {
    let msp = organizations(f).join("ordererOrganizations/example.com/users/Admin@example.com/msp");
    MspDir::load(&msp, "OrdererMSP")
        .expect("orderer admin msp")
        .signing_identity
        .expect("orderer admin")
}

/// User1 of a third organization, Org3MSP, generated by cryptogen in `dir` (its CA is
/// unknown to the channel).
fn org3_user(dir: &Path) -> SigningIdentity {
    let config = CryptoConfig::from_yaml(
        "PeerOrgs:\n  - Name: Org3\n    Domain: org3.example.com\n    EnableNodeOUs: true\n    Template:\n      Count: 1\n    Users:\n      Count: 1\n",
    )
    .expect("crypto config");
    cryptogen::generate(&config, dir).expect("cryptogen");
    let msp = dir.join("peerOrganizations/org3.example.com/users/User1@org3.example.com/msp");
    MspDir::load(&msp, "Org3MSP")
        .expect("org3 msp")
        .signing_identity
        .expect("org3 user")
}

/// `identity`'s certificate and key under another MSP id.
fn relabeled(identity: &SigningIdentity, mspid: &str) -> SigningIdentity {
    SigningIdentity::new(
        mspid,
        identity.identity().certificate_pem().as_bytes(),
        identity.private_key().clone(),
    )
    .expect("relabeled identity")
}

/// A client certificate issued by Org1's CA (the key cryptogen left in `ca/priv_sk`)
/// valid from `not_before` to `not_after`, as an Org1MSP signing identity.
///
/// The MSP verifies the chain as of `not_before` + 1 s (Fabric's rule), when the CA must
/// already be valid: cryptogen's CAs start about five minutes before their creation.
fn org1_client_valid(
    f: &Fixture,
    cn: &str,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> SigningIdentity {
    let ca_dir = organizations(f).join("peerOrganizations/org1.example.com/ca");
    let ca_key = PrivateKey::from_pem(
        &std::fs::read_to_string(ca_dir.join("priv_sk")).expect("CA key file"),
    )
    .expect("CA key");
    let ca_key = KeyPair::from_pem(&ca_key.to_pkcs8_pem()).expect("rcgen CA key");
    let ca_pem =
        std::fs::read_to_string(ca_dir.join("ca.org1.example.com-cert.pem")).expect("CA cert");
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, &ca_key).expect("issuer");

    let key = PrivateKey::generate();
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CountryName, "US");
    name.push(DnType::StateOrProvinceName, "California");
    name.push(DnType::LocalityName, "San Francisco");
    name.push(DnType::OrganizationalUnitName, "client");
    name.push(DnType::CommonName, cn);
    params.distinguished_name = name;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    params.not_before = not_before;
    params.not_after = not_after;
    // A positive 128-bit serial.
    let mut serial = PrivateKey::generate().public_key().ski()[..16].to_vec();
    serial[0] = 0x01;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    let cert = params
        .signed_by(
            &KeyPair::from_pem(&key.to_pkcs8_pem()).expect("rcgen key"),
            &issuer,
        )
        .expect("issue");
    SigningIdentity::new("Org1MSP", cert.pem().as_bytes(), key).expect("identity")
}

#[tokio::test]
async fn bad_signatures_are_access_denied() {
    let f = Fixture::new();
    f.join().await;
    let mut c = Checks::default();
    let chain_info = || {
        f.proposal(
            CHANNEL,
            "qscc",
            &[b"GetChainInfo", CHANNEL.as_bytes()],
            &f.user1,
        )
    };

    let mut swapped = chain_info();
    swapped.signature = f.proposal(CHANNEL, "qscc", &[b"x"], &f.user1).signature;
    c.refused(
        "the creator's signature over another proposal",
        &f.endorser.process_proposal(swapped).await,
        DENIED_ORG1,
    );

    let mut not_der = chain_info();
    not_der.signature = b"\x01\x02 not a DER signature".to_vec();
    c.refused(
        "a signature that is not DER",
        &f.endorser.process_proposal(not_der).await,
        DENIED_ORG1,
    );

    let other_key = Parts::chain_info(f.user1.serialized()).signed(&f.admin1);
    c.refused(
        "signed by another member's key",
        &f.endorser.process_proposal(other_key).await,
        DENIED_ORG1,
    );

    // msgvalidation.go checks the signature bytes after the txid, before the creator.
    let mut unsigned = chain_info();
    unsigned.signature.clear();
    c.refused(
        "no signature",
        &f.endorser.process_proposal(unsigned).await,
        "error validating proposal: empty signature bytes",
    );
    c.finish();
}

#[tokio::test]
async fn creators_the_channel_msps_do_not_know_are_refused() {
    let f = Fixture::new();
    f.join().await;
    let mut c = Checks::default();
    let org3_dir = tempfile::tempdir().expect("tempdir");
    let org3_user = org3_user(org3_dir.path());
    let chain_info = |signer: &SigningIdentity| {
        f.endorser.process_proposal(f.proposal(
            CHANNEL,
            "qscc",
            &[b"GetChainInfo", CHANNEL.as_bytes()],
            signer,
        ))
    };

    // An MSP id the channel does not define: the channel's MSP manager cannot deserialize
    // the creator ("MSP Org3MSP is not defined on channel"), so Fabric names no org.
    c.refused(
        "Org3MSP, a cryptogen'd third org",
        &chain_info(&org3_user).await,
        DENIED_UNKNOWN,
    );
    c.refused(
        "Org3MSP with User1@org1's certificate",
        &chain_info(&relabeled(&f.user1, "Org3MSP")).await,
        DENIED_UNKNOWN,
    );

    // A channel org's MSP id with a certificate from a CA that org does not trust: Fabric
    // deserializes it (only the PEM is parsed), Validate fails, and the org is named.
    c.refused(
        "Org1MSP with a certificate of Org3's CA",
        &chain_info(&relabeled(&org3_user, "Org1MSP")).await,
        DENIED_ORG1,
    );
    c.refused(
        "Org1MSP with a certificate of Org2's CA",
        &chain_info(&relabeled(&f.admin2, "Org1MSP")).await,
        DENIED_ORG1,
    );

    // A creator that is no SerializedIdentity, and one whose id_bytes are no PEM ("could
    // not decode the PEM structure"): both undeserializable.
    let not_an_identity = Parts::chain_info(f.user1.serialized()).with_creator(GARBAGE.to_vec());
    c.refused(
        "a creator that is not a SerializedIdentity",
        &f.endorser
            .process_proposal(not_an_identity.signed(&f.user1))
            .await,
        DENIED_UNKNOWN,
    );
    let not_pem = SerializedIdentity {
        mspid: "Org1MSP".into(),
        id_bytes: b"not a PEM certificate".to_vec(),
    }
    .encode_to_vec();
    let not_pem = Parts::chain_info(f.user1.serialized()).with_creator(not_pem);
    c.refused(
        "Org1MSP with id_bytes that are not PEM",
        &f.endorser.process_proposal(not_pem.signed(&f.user1)).await,
        DENIED_UNKNOWN,
    );
    c.finish();
}

#[tokio::test]
async fn expired_creator_certificates_are_refused() {
    let f = Fixture::new();
    f.join().await;
    let mut c = Checks::default();
    let now = OffsetDateTime::now_utc();

    // Control: a certificate made the same way, still valid, is served.
    let fresh = org1_client_valid(
        &f,
        "fresh",
        now - Duration::minutes(2),
        now + Duration::days(1),
    );
    c.endorsed_chain_info(
        "a valid certificate issued by Org1's CA (control)",
        &f.call(
            CHANNEL,
            "qscc",
            &[b"GetChainInfo", CHANNEL.as_bytes()],
            &fresh,
        )
        .await,
    );

    // Expired a minute ago, correctly signed. Fabric 2.5 would serve it (its MSP validates
    // the chain as of the certificate's NotBefore); Weft refuses it at pre-processing with
    // Fabric's generic denial followed by the reason, worded as Fabric words expiry at
    // broadcast ("broadcast client identity expired") and deliver ("deliver client
    // identity expired …").
    let expired = org1_client_valid(
        &f,
        "expired",
        now - Duration::minutes(2),
        now - Duration::minutes(1),
    );
    let expected = format!("{DENIED_ORG1}: creator identity expired at ");
    c.refused_with_prefix(
        "an expired certificate, qscc on the channel",
        &f.call(
            CHANNEL,
            "qscc",
            &[b"GetChainInfo", CHANNEL.as_bytes()],
            &expired,
        )
        .await,
        &expected,
    );
    c.refused_with_prefix(
        "an expired certificate, an application chaincode",
        &f.call(CHANNEL, "basic", &[b"ReadAsset", b"asset1"], &expired)
            .await,
        &expected,
    );
    // Channel-less calls check the local MSP the same way.
    c.refused_with_prefix(
        "an expired certificate, channel-less cscc GetChannels",
        &f.call("", "cscc", &[b"GetChannels"], &expired).await,
        "error validating proposal: access denied: channel [] creator org [Org1MSP]: creator identity expired at ",
    );
    c.finish();
}

#[tokio::test]
async fn txid_nonce_and_creator_are_checked_before_the_signature() {
    let f = Fixture::new();
    f.join().await;
    let mut c = Checks::default();
    let base = Parts::chain_info(f.user1.serialized());
    let expected = base.channel_header.tx_id.clone();
    let send = |parts: &Parts| f.endorser.process_proposal(parts.signed(&f.user1));
    let mismatch = |found: &str| {
        format!(
            "error validating proposal: incorrectly computed txid '{found}' -- expected '{expected}'"
        )
    };

    let mut wrong = base.clone();
    wrong.channel_header.tx_id = protoutil::compute_txid(b"another nonce", f.user1.serialized());
    c.refused(
        "a txid of another nonce",
        &send(&wrong).await,
        &mismatch(&wrong.channel_header.tx_id),
    );
    // Compared as a string: the same hash in upper case is another txid.
    let mut upper = base.clone();
    upper.channel_header.tx_id = expected.to_uppercase();
    c.refused(
        "the txid in upper case",
        &send(&upper).await,
        &mismatch(&upper.channel_header.tx_id),
    );
    let mut empty = base.clone();
    empty.channel_header.tx_id.clear();
    c.refused("an empty txid", &send(&empty).await, &mismatch(""));

    // No nonce (the txid recomputed without one): refused before the txid is compared.
    let mut no_nonce = base.clone();
    no_nonce.signature_header.nonce.clear();
    no_nonce.fix_txid();
    c.refused(
        "no nonce",
        &send(&no_nonce).await,
        "error validating proposal: nonce is empty",
    );
    c.refused(
        "no creator",
        &send(&base.clone().with_creator(Vec::new())).await,
        "error validating proposal: creator is empty",
    );

    // The untouched rebuild is served: each edit above is the only reason for its refusal.
    c.endorsed_chain_info("the well-formed rebuild (control)", &send(&base).await);
    c.finish();
}

#[tokio::test]
async fn the_same_proposal_twice_without_commit_is_endorsed_twice() {
    let f = Fixture::new();
    f.join().await;
    let mut c = Checks::default();
    // Fabric's uniqueness check asks the ledger only (GetTransactionByID): until its
    // transaction commits, a resent proposal is endorsed again.
    let signed = f.proposal(
        CHANNEL,
        "qscc",
        &[b"GetChainInfo", CHANNEL.as_bytes()],
        &f.user1,
    );
    let first = f.endorser.process_proposal(signed.clone()).await;
    let second = f.endorser.process_proposal(signed).await;
    c.endorsed_chain_info("first", &first);
    c.endorsed_chain_info("second, same txid", &second);
    c.finish();
    assert_eq!(
        first.expect("first").payload,
        second.expect("second").payload
    );
}

#[tokio::test]
async fn peers_may_query_but_not_propose() {
    let f = Fixture::new();
    f.join().await;
    let mut c = Checks::default();
    let peer = org1_peer(&f);

    // peer/Propose is /Channel/Application/Writers (no ACLs in the channel config:
    // aclmgmt's default provider → core/policy/policy.go CheckPolicyBySignedData around
    // common/policies/implicitmeta.go's error). Org1's Writers are admin and client.
    c.refused(
        "Org1's peer to an application chaincode",
        &f.call(CHANNEL, "basic", &[b"ReadAsset", b"asset1"], &peer)
            .await,
        WRITERS_DENIED,
    );

    // qscc checks its own ACL, qscc/GetChainInfo = /Channel/Application/Readers, which
    // Org1's peers satisfy.
    c.endorsed_chain_info(
        "Org1's peer to qscc GetChainInfo",
        &f.call(
            CHANNEL,
            "qscc",
            &[b"GetChainInfo", CHANNEL.as_bytes()],
            &peer,
        )
        .await,
    );

    // The orderer org's admin deserializes on the channel (its MSP is in the channel
    // config) but is neither a Reader nor a Writer of the application: qscc's own ACL
    // refuses it with a 500, peer/Propose with a gRPC error.
    let orderer = orderer_admin(&f);
    c.answered(
        "the orderer org's admin to qscc GetChainInfo",
        &f.call(
            CHANNEL,
            "qscc",
            &[b"GetChainInfo", CHANNEL.as_bytes()],
            &orderer,
        )
        .await,
        500,
        "access denied for [GetChainInfo][mychannel]: [Failed evaluating policy on signed data during check policy on channel [mychannel] with policy [/Channel/Application/Readers]: [implicit policy evaluation failed - 0 sub-policies were satisfied, but this policy requires 1 of the 'Readers' sub-policies to be satisfied]]",
        false,
    );
    c.refused(
        "the orderer org's admin to an application chaincode",
        &f.call(CHANNEL, "basic", &[b"ReadAsset", b"asset1"], &orderer)
            .await,
        WRITERS_DENIED,
    );

    // A Writer of the other org passes peer/Propose and reaches the (undefined) chaincode.
    c.answered(
        "Org2's admin to an application chaincode",
        &f.call(CHANNEL, "basic", &[b"ReadAsset", b"asset1"], &f.admin2)
            .await,
        500,
        "make sure the chaincode basic has been successfully defined on channel mychannel and try again: chaincode basic not found",
        false,
    );
    c.finish();
}

#[tokio::test]
async fn vscc_escc_and_lscc_are_application_chaincodes_here() {
    let f = Fixture::new();
    f.join().await;
    let mut c = Checks::default();
    let peer = org1_peer(&f);

    // Fabric 2.5's built-in system chaincodes are lscc, qscc, cscc and _lifecycle
    // (internal/peer/node/start.go builtinSCCs); vscc and escc are only plugin names. A
    // proposal to them is an application proposal: peer/Propose, then no definition.
    for name in ["vscc", "escc"] {
        c.answered(
            &format!("a client to {name}"),
            &f.call(CHANNEL, name, &[b"anything"], &f.user1).await,
            500,
            &format!(
                "make sure the chaincode {name} has been successfully defined on channel mychannel and try again: chaincode {name} not found"
            ),
            false,
        );
        c.refused(
            &format!("Org1's peer to {name} (peer/Propose applies)"),
            &f.call(CHANNEL, name, &[b"anything"], &peer).await,
            WRITERS_DENIED,
        );
    }

    // Weft has no legacy lifecycle, so lscc is an undefined application chaincode. (A
    // Fabric 2.5 peer always carries lscc; on a channel with V2_0+ application
    // capabilities it is read-only: `getchaincodes` answers 200 with an empty list,
    // `deploy` 500 "Channel 'mychannel' has been migrated to the new lifecycle, LSCC is
    // now read-only". A deliberate difference.)
    c.answered(
        "a client to lscc",
        &f.call(CHANNEL, "lscc", &[b"getchaincodes"], &f.user1)
            .await,
        500,
        "make sure the chaincode lscc has been successfully defined on channel mychannel and try again: chaincode lscc not found",
        false,
    );
    c.finish();
}

#[tokio::test]
async fn malformed_layers_are_named_as_fabric_names_them() {
    let f = Fixture::new();
    f.join().await;
    let mut c = Checks::default();
    let base = Parts::chain_info(f.user1.serialized());
    let send = |signed: SignedProposal| f.endorser.process_proposal(signed);
    let raw = |proposal: Proposal| protoutil::sign_proposal(&proposal, &f.user1).expect("sign");

    // SignedProposal.proposal_bytes: garbage, and empty (an empty Proposal, whose every
    // layer decodes empty, down to a header extension without a chaincode id).
    let garbage = SignedProposal {
        proposal_bytes: GARBAGE.to_vec(),
        signature: b"sig".to_vec(),
    };
    c.refused_with_prefix(
        "proposal_bytes garbage",
        &send(garbage).await,
        "error unmarshalling Proposal: ",
    );
    let empty = SignedProposal {
        proposal_bytes: Vec::new(),
        signature: b"sig".to_vec(),
    };
    c.refused(
        "proposal_bytes empty",
        &send(empty).await,
        "ChaincodeHeaderExtension.ChaincodeId is nil",
    );

    // Proposal.header, Header.channel_header, Header.signature_header.
    let mut proposal = base.proposal();
    proposal.header = GARBAGE.to_vec();
    c.refused_with_prefix(
        "Proposal.header garbage",
        &send(raw(proposal)).await,
        "error unmarshalling Header: ",
    );
    let mut proposal = base.proposal();
    proposal.header = Header {
        channel_header: GARBAGE.to_vec(),
        signature_header: base.signature_header.encode_to_vec(),
    }
    .encode_to_vec();
    c.refused_with_prefix(
        "Header.channel_header garbage",
        &send(raw(proposal)).await,
        "error unmarshalling ChannelHeader: ",
    );
    let mut proposal = base.proposal();
    proposal.header = Header {
        channel_header: base.channel_header.encode_to_vec(),
        signature_header: GARBAGE.to_vec(),
    }
    .encode_to_vec();
    c.refused_with_prefix(
        "Header.signature_header garbage",
        &send(raw(proposal)).await,
        "error unmarshalling SignatureHeader: ",
    );

    // ChannelHeader.extension: garbage, no chaincode id, an empty name.
    let mut parts = base.clone();
    parts.channel_header.extension = GARBAGE.to_vec();
    c.refused_with_prefix(
        "ChannelHeader.extension garbage",
        &send(parts.signed(&f.user1)).await,
        "error unmarshalling ChaincodeHeaderExtension: ",
    );
    let mut parts = base.clone();
    parts.channel_header.extension =
        ChaincodeHeaderExtension { chaincode_id: None }.encode_to_vec();
    c.refused(
        "ChaincodeHeaderExtension without chaincode id",
        &send(parts.signed(&f.user1)).await,
        "ChaincodeHeaderExtension.ChaincodeId is nil",
    );
    let mut parts = base.clone();
    parts.channel_header.extension = ChaincodeHeaderExtension {
        chaincode_id: Some(ChaincodeId::default()),
    }
    .encode_to_vec();
    c.refused(
        "ChaincodeHeaderExtension with an empty chaincode name",
        &send(parts.signed(&f.user1)).await,
        "ChaincodeHeaderExtension.ChaincodeId.Name is empty",
    );

    // Proposal.payload, ChaincodeProposalPayload.input, the spec and its input.
    let mut proposal = base.proposal();
    proposal.payload = GARBAGE.to_vec();
    c.refused_with_prefix(
        "Proposal.payload garbage",
        &send(raw(proposal)).await,
        "error unmarshalling ChaincodeProposalPayload: ",
    );
    let mut parts = base.clone();
    parts.payload.input = GARBAGE.to_vec();
    c.refused_with_prefix(
        "ChaincodeProposalPayload.input garbage",
        &send(parts.signed(&f.user1)).await,
        "error unmarshalling ChaincodeInvocationSpec: ",
    );
    let mut parts = base.clone();
    parts.set_invocation(&ChaincodeInvocationSpec {
        chaincode_spec: None,
    });
    c.refused(
        "ChaincodeInvocationSpec without spec",
        &send(parts.signed(&f.user1)).await,
        "chaincode invocation spec did not contain chaincode spec",
    );
    let mut parts = base.clone();
    let mut invocation = parts.invocation();
    invocation.chaincode_spec.as_mut().expect("spec").input = None;
    parts.set_invocation(&invocation);
    c.refused(
        "ChaincodeSpec without input",
        &send(parts.signed(&f.user1)).await,
        "chaincode input did not contain any input",
    );

    // The spec's own chaincode id is not looked at (the name comes from the header
    // extension): a spec without one is served.
    let mut parts = base.clone();
    let mut invocation = parts.invocation();
    invocation
        .chaincode_spec
        .as_mut()
        .expect("spec")
        .chaincode_id = None;
    parts.set_invocation(&invocation);
    c.endorsed_chain_info(
        "ChaincodeSpec without chaincode id",
        &send(parts.signed(&f.user1)).await,
    );
    c.finish();
}

#[tokio::test]
async fn channel_header_type_and_epoch_are_checked_but_not_the_timestamp() {
    let f = Fixture::new();
    f.join().await;
    let mut c = Checks::default();
    let base = Parts::chain_info(f.user1.serialized());
    let send = |parts: &Parts| f.endorser.process_proposal(parts.signed(&f.user1));
    let with_type = |header_type: i32| {
        let mut parts = base.clone();
        parts.channel_header.r#type = header_type;
        parts
    };

    // Only ENDORSER_TRANSACTION and CONFIG pass (msgvalidation.go); Go prints the enum
    // name, or the number when there is none.
    c.refused(
        "type DELIVER_SEEK_INFO",
        &send(&with_type(HeaderType::DeliverSeekInfo as i32)).await,
        "error validating proposal: invalid header type DELIVER_SEEK_INFO",
    );
    c.refused(
        "type MESSAGE",
        &send(&with_type(HeaderType::Message as i32)).await,
        "error validating proposal: invalid header type MESSAGE",
    );
    c.refused(
        "type 42",
        &send(&with_type(42)).await,
        "error validating proposal: invalid header type 42",
    );
    // CONFIG "has no business coming to the propose API", but Fabric lets it through.
    c.endorsed_chain_info(
        "type CONFIG",
        &send(&with_type(HeaderType::Config as i32)).await,
    );

    let mut epoch = base.clone();
    epoch.channel_header.epoch = 1;
    c.refused(
        "epoch 1",
        &send(&epoch).await,
        "error validating proposal: epoch is non-zero",
    );

    // Fabric's endorser does not look at the timestamp.
    let mut no_time = base.clone();
    no_time.channel_header.timestamp = None;
    c.endorsed_chain_info("no timestamp", &send(&no_time).await);
    c.finish();
}

#[tokio::test]
async fn an_empty_channel_id_is_for_channel_less_calls_by_local_identities() {
    let f = Fixture::new();
    f.join().await;
    let mut c = Checks::default();

    // cscc GetChannels: the local MSP validates the creator, cscc checks local members;
    // channel-less answers are not endorsed.
    let listed = f.call("", "cscc", &[b"GetChannels"], &f.user1).await;
    c.answered(
        "cscc GetChannels by a local client",
        &listed,
        200,
        "",
        false,
    );
    if let Ok(listed) = &listed {
        let payload = &listed.response.as_ref().expect("response").payload;
        let channels = ChannelQueryResponse::decode(payload.as_slice()).expect("channels");
        assert_eq!(channels.channels.len(), 1);
    }

    // A creator of another org: the local MSP cannot deserialize it ("expected MSP ID
    // Org1MSP, received Org2MSP"), so no org is named.
    c.refused(
        "cscc GetChannels by Org2's admin",
        &f.call("", "cscc", &[b"GetChannels"], &f.admin2).await,
        "error validating proposal: access denied: channel [] creator org unknown, creator is malformed",
    );
    // A local identity with a bad signature: the org is known.
    let mut forged = f.proposal("", "cscc", &[b"GetChannels"], &f.user1);
    forged.signature = f.proposal("", "cscc", &[b"x"], &f.user1).signature;
    c.refused(
        "cscc GetChannels with a forged signature",
        &f.endorser.process_proposal(forged).await,
        "error validating proposal: access denied: channel [] creator org [Org1MSP]",
    );

    // qscc takes its channel from its arguments and checks that channel's Readers: a
    // channel-less GetChainInfo is answered, without endorsement.
    let info = f
        .call("", "qscc", &[b"GetChainInfo", CHANNEL.as_bytes()], &f.user1)
        .await;
    c.answered("channel-less qscc GetChainInfo", &info, 200, "", false);

    // An application chaincode without a channel: no ACL, no txid check; the lifecycle
    // finds no channel config for '' (core/chaincode/lifecycle/endorsement_info.go).
    c.answered(
        "an application chaincode without a channel",
        &f.call("", "basic", &[b"ReadAsset", b"asset1"], &f.user1)
            .await,
        500,
        "make sure the chaincode basic has been successfully defined on channel  and try again: could not get channel config for channel ''",
        false,
    );
    c.finish();
}
