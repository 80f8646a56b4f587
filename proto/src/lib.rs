//! Hyperledger Fabric v2.5 wire types for Weft.
//!
//! Generated at build time from `proto/protos` (our transcription of fabric-protos
//! v0.2.0: the same protobuf packages, message names, field numbers and gRPC paths).
//! Module paths mirror the protobuf packages so code greps line up with Fabric:
//!
//! - [`common`]: envelopes, headers, blocks, channel config, policies, MSP principals
//! - [`msp`]: serialized identities and MSP configuration
//! - [`protos`]: the peer package (proposals, responses, transactions, chaincode shim,
//!   events, Endorser/Deliver/ChaincodeSupport services)
//! - [`lifecycle`]: `_lifecycle` arguments and results
//! - [`rwset`], [`kvrwset`], [`queryresult`]: read/write sets and query results
//! - [`orderer`], [`etcdraft`]: AtomicBroadcast, orderer config, Raft metadata
//! - [`gateway`], [`gossip`], [`discovery`], [`transientstore`]
//! - [`google_rpc`]: `google.rpc.Status`, carried in gRPC error details
//!
//! This crate holds types only, never logic.

#![allow(missing_docs, missing_debug_implementations, unused_qualifications)]
#![allow(clippy::all, clippy::pedantic)]

macro_rules! include_package {
    ($name:ident, $package:literal) => {
        #[doc = concat!("Protobuf package `", $package, "`.")]
        pub mod $name {
            include!(concat!(env!("OUT_DIR"), "/", $package, ".rs"));
        }
    };
}

include_package!(common, "common");
include_package!(msp, "msp");
include_package!(protos, "protos");
include_package!(lifecycle, "lifecycle");
include_package!(rwset, "rwset");
include_package!(kvrwset, "kvrwset");
include_package!(queryresult, "queryresult");
include_package!(orderer, "orderer");
include_package!(etcdraft, "etcdraft");
include_package!(gateway, "gateway");
include_package!(gossip, "gossip");
include_package!(discovery, "discovery");
include_package!(transientstore, "transientstore");
include_package!(google_rpc, "google.rpc");

pub use prost::Message;
