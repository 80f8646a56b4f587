//! The Weft peer: ledger, validation and commit, deliver client and services, endorser,
//! chaincode launch. See ARCHITECTURE.md for the map.

pub mod deliverclient;
pub mod ledger;
