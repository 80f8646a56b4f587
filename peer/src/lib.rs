//! The Weft peer: ledger, validation and commit, deliver client and services, endorser,
//! chaincode launch. See ARCHITECTURE.md for the map.

pub mod acl;
pub mod chaincode;
pub mod channel;
pub mod channels;
pub mod cli;
pub mod committer;
pub mod config;
pub mod deliver;
pub mod deliverclient;
pub mod endorser;
pub mod ledger;
pub mod metrics;
pub mod node;
pub mod scc;
pub mod service;
pub mod validation;
