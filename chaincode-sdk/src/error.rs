//! Errors: [`StubError`] for ledger and transaction-context operations, [`ContractError`]
//! for what a transaction returns (sent as `Response{500, message}`, as Fabric's
//! contract API does).

use std::fmt;

use crate::host::HostError;

/// A failed stub operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StubError {
    /// The peer answered ERROR (its text, verbatim, as the Go shim reports it).
    Peer(String),
    /// The host refused the request.
    Rejected(String),
    /// An answer that does not decode.
    Decode(String),
    /// An argument the shim refuses before asking the peer (Fabric's text).
    Invalid(String),
}

impl fmt::Display for StubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Peer(text) | Self::Rejected(text) | Self::Invalid(text) => f.write_str(text),
            Self::Decode(text) => write!(f, "error unmarshaling result from bytes: {text}"),
        }
    }
}

impl std::error::Error for StubError {}

impl From<HostError> for StubError {
    fn from(e: HostError) -> Self {
        match e {
            HostError::Peer(text) => Self::Peer(text),
            HostError::Rejected(text) => Self::Rejected(text),
        }
    }
}

impl From<prost::DecodeError> for StubError {
    fn from(e: prost::DecodeError) -> Self {
        Self::Decode(e.to_string())
    }
}

/// The error of a transaction: its message becomes `Response.message` with status 500.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractError {
    message: String,
}

impl ContractError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ContractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ContractError {}

impl From<StubError> for ContractError {
    fn from(e: StubError) -> Self {
        Self::new(e.to_string())
    }
}

impl From<serde_json::Error> for ContractError {
    fn from(e: serde_json::Error) -> Self {
        Self::new(e.to_string())
    }
}

impl From<crate::identity::IdentityError> for ContractError {
    fn from(e: crate::identity::IdentityError) -> Self {
        Self::new(e.to_string())
    }
}

impl From<String> for ContractError {
    fn from(message: String) -> Self {
        Self::new(message)
    }
}

impl From<&str> for ContractError {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
}
