//! The Weft chaincode SDK (guest side). The contract API, the shim over the host ABI and
//! the mock ledger land with issue 6; this crate exists so the workspace layout is whole.
