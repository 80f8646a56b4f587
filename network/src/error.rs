//! The errors `weft network` reports: each names what failed and, when a process is
//! involved, the log file to read.

use std::path::PathBuf;

/// Why a `weft network` command failed.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// A port the network needs is taken.
    #[error(
        "port {port} ({what}) is already in use on 127.0.0.1: stop what listens there (another `weft network up`? `weft network down` only removes data) and try again"
    )]
    PortInUse {
        /// The port.
        port: u16,
        /// Which endpoint needs it.
        what: String,
    },
    /// A file or directory operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A sibling binary is missing.
    #[error(
        "the `{name}` binary was not found at {path}: build it (`cargo build -p weft-peer -p weft-orderer --bins`) or pass --bin-dir / set WEFT_BIN_DIR to the directory holding it"
    )]
    MissingBinary {
        /// The binary's name.
        name: String,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// Generating crypto material or the genesis block failed.
    #[error("generating {what}: {reason}")]
    Generate {
        /// What was being generated.
        what: &'static str,
        /// The cause.
        reason: String,
    },
    /// A node process exited or never became ready.
    #[error("{node}: {reason}; see its log {}", log.display())]
    Node {
        /// The node (`orderer.example.com`, `peer0.org1.example.com`).
        node: String,
        /// What happened.
        reason: String,
        /// The node's log file.
        log: PathBuf,
    },
    /// A step talking to a node failed.
    #[error("{step} failed: {reason}{}", log.as_ref().map(|l| format!("; see the log {}", l.display())).unwrap_or_default())]
    Step {
        /// The step (`join peer0.org1.example.com to mychannel`).
        step: String,
        /// The cause.
        reason: String,
        /// The log file of the process that failed, when one did.
        log: Option<PathBuf>,
    },
    /// Building a contract or reading a module failed.
    #[error("chaincode: {0}")]
    Chaincode(String),
    /// The command line or the directory state does not allow the command.
    #[error("{0}")]
    Usage(String),
}

impl NetworkError {
    /// An [`NetworkError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }

    /// The same error, naming `log` when it is a step failure without one.
    pub fn with_log(self, log: &std::path::Path) -> Self {
        match self {
            Self::Step {
                step,
                reason,
                log: None,
            } => Self::Step {
                step,
                reason,
                log: Some(log.to_path_buf()),
            },
            other => other,
        }
    }
}
