//! The `peer` command line, with Fabric's command and flag names:
//!
//! ```text
//! peer node start [--peer-chaincodedev]
//! peer channel join    -b <genesis block file>
//! peer channel list
//! peer channel getinfo -c <channel>
//! peer channel fetch   <newest|oldest|config|N> [outputfile] -c <channel> [--bestEffort]
//! peer lifecycle chaincode package OUT.tar.gz --lang wasm|ccaas|external --path P --label L
//! peer lifecycle chaincode calculatepackageid|install PKG
//! peer lifecycle chaincode queryinstalled|getinstalledpackage|approveformyorg|
//!   checkcommitreadiness|commit|querycommitted|queryapproved  (Fabric's flags: -C -n -v
//!   --sequence --package-id --signature-policy --peerAddresses --tlsRootCertFiles ...)
//! peer chaincode invoke|query -C ch -n cc -c '{"Args":[...]}' [--waitForEvent]
//! peer version
//! orderer flags of `peer channel`: -o host:port --tls --cafile F --clientauth --certfile F
//!   --keyfile F --ordererTLSHostnameOverride H --connTimeout 3s --tlsHandshakeTimeShift 0s
//! ```
//!
//! Configuration (`core.yaml` through `FABRIC_CFG_PATH`, `CORE_*` overrides) is read by
//! [`crate::config::PeerConfig`]; the client commands dial `peer.address`
//! (`CORE_PEER_ADDRESS`) and sign with the MSP at `peer.mspConfigPath`
//! (`CORE_PEER_MSPCONFIGPATH`) as `peer.localMspId` (`CORE_PEER_LOCALMSPID`).
//!
//! As Fabric's cobra CLI: results go to stdout, informational log lines (Fabric's format,
//! silenced when `FABRIC_LOGGING_SPEC` asks for warnings or worse) to stderr, and a
//! failure prints `Error: <message>` on stderr and exits 1.

pub mod args;
pub mod chaincode;
pub mod channel;
pub mod client;
pub mod lifecycle;
pub mod log;
pub mod node;
pub mod tx;

#[cfg(test)]
mod chaincode_mock_tests;
#[cfg(test)]
mod mock_tests;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use crate::config::{ConfigError, PeerConfig};
use args::{
    ChannelCommand, Cli, Command, LifecycleChaincodeCommand, LifecycleCommand, NodeCommand,
};

/// Why a command failed. Displayed after `Error: `, with Fabric's wording where Fabric
/// has one.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line is incomplete or inconsistent (checked before connecting).
    #[error("{0}")]
    Usage(String),
    /// `core.yaml` or the `CORE_*` variables are unusable.
    #[error("Fatal error when initializing core config : {0}")]
    Config(#[from] ConfigError),
    /// The local MSP (the signing identity) could not be loaded.
    #[error("Cannot run peer because {0}")]
    Crypto(String),
    /// A connection could not be set up or an exchange failed; the message carries
    /// Fabric's context chain (`error getting endorser client for channel: ...`).
    #[error("{0}")]
    Client(String),
    /// The peer or orderer answered, but not with what was asked for.
    #[error("{0}")]
    Response(String),
    /// A file could not be read or written.
    #[error("{0}")]
    Io(String),
    /// The node stopped with an error.
    #[error("{0}")]
    Node(String),
}

/// Parses `args` (the program name first) and runs the command; what `main` does.
pub fn main_with<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => return report_parse_error(&e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a clap outcome the way cobra does: help and version on stdout (exit 0), usage
/// errors as `Error: ...` on stderr (exit 1).
fn report_parse_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            print!("{}", e.render());
            ExitCode::SUCCESS
        }
        _ => {
            let text = e.render().to_string();
            let text = text.strip_prefix("error: ").unwrap_or(&text);
            eprint!("Error: {text}");
            if !text.ends_with('\n') {
                eprintln!();
            }
            ExitCode::FAILURE
        }
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Version => {
            print!("{}", version_text());
            Ok(())
        }
        Command::Node(NodeCommand::Start(start)) => {
            let mut config = PeerConfig::load()?;
            node::apply_start_flags(&mut config, &start);
            let logspec = node::init_logging();
            node::start(config, logspec).await
        }
        Command::Channel(channel) => {
            let config = PeerConfig::load()?;
            let log = log::Logger::from_env();
            match channel.command {
                ChannelCommand::Join(a) => channel::join(&config, &log, &a).await,
                ChannelCommand::List(a) => channel::list(&config, &log, &a).await,
                ChannelCommand::Getinfo(a) => channel::getinfo(&config, &log, &a).await,
                ChannelCommand::Fetch(a) => {
                    channel::fetch(&config, &log, &channel.orderer, &a).await
                }
            }
        }
        Command::Lifecycle(LifecycleCommand::Chaincode(cc)) => {
            let log = log::Logger::from_env();
            // Packaging needs neither the configuration nor the local MSP (as in Fabric).
            if let LifecycleChaincodeCommand::Package(a) = &cc.command {
                return lifecycle::package::package(a);
            }
            if let LifecycleChaincodeCommand::Calculatepackageid(a) = &cc.command {
                print!("{}", lifecycle::package::calculate_package_id(a)?);
                return Ok(());
            }
            let config = PeerConfig::load()?;
            lifecycle::run(&config, &log, &cc.orderer, &cc.command).await
        }
        Command::Chaincode(cc) => {
            let config = PeerConfig::load()?;
            let log = log::Logger::from_env();
            chaincode::run(&config, &log, &cc).await
        }
    }
}

/// What `peer version` prints (Fabric's layout).
pub fn version_text() -> String {
    format!(
        "peer:\n Version: {}\n Commit SHA: n/a\n Go version: n/a (Weft, Rust)\n OS/Arch: {}/{}\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        go_arch(std::env::consts::ARCH)
    )
}

/// Go's name of a CPU architecture (`GOARCH`), as Fabric prints it.
fn go_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names_the_binary_and_platform() {
        let text = version_text();
        assert!(text.starts_with("peer:\n Version: "), "{text}");
        assert!(text.contains(" OS/Arch: "), "{text}");
        assert_eq!(go_arch("x86_64"), "amd64");
        assert_eq!(go_arch("riscv64"), "riscv64");
    }
}
