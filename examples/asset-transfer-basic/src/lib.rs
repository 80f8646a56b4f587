//! asset-transfer-basic for Weft. The contract is written once the SDK lands (issue 6).
