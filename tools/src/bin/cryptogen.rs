//! `cryptogen`: writes development key material in Fabric's directory layout.
//!
//! ```text
//! cryptogen generate [--config crypto-config.yaml] [--output crypto-config]
//! cryptogen extend   [--config crypto-config.yaml] [--input crypto-config]
//! cryptogen showtemplate
//! cryptogen version
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use weft_tools::cryptogen::{self, CryptoConfig, CryptogenError};

#[derive(Debug, Parser)]
#[command(
    name = "cryptogen",
    about = "Utility for generating Hyperledger Fabric key material"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate key material.
    Generate {
        /// The output directory in which to place artifacts.
        #[arg(long, default_value = "crypto-config")]
        output: PathBuf,
        /// The configuration template to use (the built-in template when absent).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Extend an existing network: add orgs, nodes and users that are missing.
    Extend {
        /// The directory holding the existing network's material.
        #[arg(long, default_value = "crypto-config")]
        input: PathBuf,
        /// The configuration template to use (the built-in template when absent).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Show the default configuration template.
    Showtemplate,
    /// Show version information.
    Version,
}

fn load(config: Option<&PathBuf>) -> Result<CryptoConfig, CryptogenError> {
    match config {
        Some(path) => CryptoConfig::load(path),
        None => CryptoConfig::from_yaml(cryptogen::DEFAULT_TEMPLATE),
    }
}

fn run(cli: Cli) -> Result<(), CryptogenError> {
    match cli.command {
        Command::Generate { output, config } => {
            let config = load(config.as_ref())?;
            for org in cryptogen::generate(&config, &output)? {
                println!("{}", org.domain);
            }
        }
        Command::Extend { input, config } => {
            let config = load(config.as_ref())?;
            for org in cryptogen::extend(&config, &input)? {
                println!("{}", org.domain);
            }
        }
        Command::Showtemplate => print!("{}", cryptogen::DEFAULT_TEMPLATE),
        Command::Version => println!(
            "cryptogen:\n Version: {} (weft)\n Fabric compatibility: v2.5",
            env!("CARGO_PKG_VERSION")
        ),
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {err}");
            ExitCode::FAILURE
        }
    }
}
