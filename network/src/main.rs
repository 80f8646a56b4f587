//! `weft`: the Weft developer tool. `weft network up|down|deploy` runs the one-command
//! development network (see the `weft_network` library).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use weft_network::layout::DEFAULT_DIR;
use weft_network::up::{self, BasicWasm, DeployOptions, ModuleSource, UpOptions};

/// The Weft developer tool.
#[derive(Debug, Parser)]
#[command(name = "weft", version, about = "The Weft developer tool")]
struct Cli {
    #[command(subcommand)]
    command: Top,
}

#[derive(Debug, Subcommand)]
enum Top {
    /// The development network: one orderer, peer0.org1 and peer0.org2, channel mychannel.
    Network {
        #[command(subcommand)]
        command: NetworkCommand,
    },
}

#[derive(Debug, Subcommand)]
enum NetworkCommand {
    /// Generate (or resume) and start the network, deploy `basic`, print a `ready` line
    /// and stay in the foreground until Ctrl-C / SIGTERM.
    Up {
        /// The network directory (crypto material, ledgers, logs).
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: PathBuf,
        /// Remove the directory first (start from scratch).
        #[arg(long)]
        fresh: bool,
        /// Where the `orderer` and `peer` binaries are (default: beside `weft`).
        #[arg(long, env = "WEFT_BIN_DIR")]
        bin_dir: Option<PathBuf>,
        /// The asset-transfer-basic `.wasm` (default: build examples/asset-transfer-basic
        /// when run from the Weft repository).
        #[arg(long, env = "WEFT_BASIC_WASM")]
        basic_wasm: Option<PathBuf>,
    },
    /// Remove the network directory.
    Down {
        /// The network directory.
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: PathBuf,
    },
    /// Deploy a chaincode on the running network (like test-network's `network.sh deployCC`).
    Deploy {
        /// The chaincode name.
        #[arg(long)]
        name: String,
        /// A prebuilt `.wasm` module.
        #[arg(long, conflicts_with = "path", required_unless_present = "path")]
        wasm: Option<PathBuf>,
        /// A contract crate, built for wasm32-unknown-unknown with `--profile wasm-release`.
        #[arg(long)]
        path: Option<PathBuf>,
        /// The network directory.
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: PathBuf,
        /// The chaincode version.
        #[arg(long, default_value = "1.0")]
        version: String,
        /// The definition sequence (default: the committed one + 1, or 1).
        #[arg(long)]
        sequence: Option<i64>,
        /// An endorsement signature policy, e.g. "OR('Org1MSP.peer','Org2MSP.peer')"
        /// (default: the channel's Endorsement policy, MAJORITY).
        #[arg(long)]
        signature_policy: Option<String>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let Top::Network { command } = cli.command;
    let result = match command {
        NetworkCommand::Up {
            dir,
            fresh,
            bin_dir,
            basic_wasm,
        } => {
            up::up(UpOptions {
                dir,
                fresh,
                bin_dir,
                basic_wasm: basic_wasm.map_or(BasicWasm::BuildFromSource, BasicWasm::File),
            })
            .await
        }
        NetworkCommand::Down { dir } => up::down(&dir).map(|removed| {
            if removed {
                println!("removed {}", dir.display());
            } else {
                println!("nothing to remove: {} does not exist", dir.display());
            }
        }),
        NetworkCommand::Deploy {
            name,
            wasm,
            path,
            dir,
            version,
            sequence,
            signature_policy,
        } => {
            let source = match (wasm, path) {
                (Some(wasm), _) => ModuleSource::Wasm(wasm),
                (None, Some(path)) => ModuleSource::Crate(path),
                (None, None) => unreachable!("clap requires --wasm or --path"),
            };
            up::deploy_command(DeployOptions {
                dir,
                name,
                source,
                version,
                sequence,
                signature_policy,
            })
            .await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {error}");
            ExitCode::FAILURE
        }
    }
}
