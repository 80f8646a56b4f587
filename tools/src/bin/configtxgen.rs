//! `configtxgen`: channel genesis blocks from `configtx.yaml`, with Fabric's flags.
//!
//! ```text
//! configtxgen -profile TwoOrgsApplicationGenesis -channelID mychannel \
//!     -outputBlock ./channel-artifacts/mychannel.block [-configPath DIR]
//! configtxgen -inspectBlock mychannel.block
//! configtxgen -printOrg Org1MSP [-configPath DIR]
//! ```
//!
//! Flags are written Go-style with one dash (`-profile`); `--profile` and `-flag=value`
//! work too. Without `-configPath`, `configtx.yaml` is looked up in `$FABRIC_CFG_PATH`,
//! then `.`, then `/etc/hyperledger/fabric`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use prost::Message;
use weft_tools::configtxgen::{self, ConfigtxError};

#[derive(Debug, Parser)]
#[command(
    name = "configtxgen",
    about = "Generates channel genesis blocks from configtx.yaml",
    disable_version_flag = true
)]
struct Cli {
    /// The path to write the genesis block to (if set).
    #[arg(long = "outputBlock", value_name = "FILE")]
    output_block: Option<PathBuf>,
    /// The channel ID to use in the configtx.
    #[arg(long = "channelID", value_name = "ID")]
    channel_id: Option<String>,
    /// The profile from configtx.yaml to use for generation.
    #[arg(long = "profile", value_name = "NAME")]
    profile: Option<String>,
    /// The path containing the configuration to use (if set).
    #[arg(long = "configPath", value_name = "DIR")]
    config_path: Option<PathBuf>,
    /// Prints the configuration contained in the block at the specified path.
    #[arg(long = "inspectBlock", value_name = "FILE")]
    inspect_block: Option<PathBuf>,
    /// Prints the transaction at the specified path as JSON.
    #[arg(long = "inspectChannelCreateTx", value_name = "FILE")]
    inspect_channel_create_tx: Option<PathBuf>,
    /// Prints the definition of an organization as JSON.
    #[arg(long = "printOrg", value_name = "NAME")]
    print_org: Option<String>,
    /// Not supported: channels are created with the channel participation API.
    #[arg(long = "outputCreateChannelTx", value_name = "FILE", hide = true)]
    output_create_channel_tx: Option<PathBuf>,
    /// Not supported: update anchor peers with a config update.
    #[arg(long = "outputAnchorPeersUpdate", value_name = "FILE", hide = true)]
    output_anchor_peers_update: Option<PathBuf>,
    /// Not supported (only used with the unsupported channel creation transaction).
    #[arg(long = "channelCreateTxBaseProfile", value_name = "NAME", hide = true)]
    channel_create_tx_base_profile: Option<String>,
    /// Not supported (only used with the unsupported anchor peer update).
    #[arg(long = "asOrg", value_name = "NAME", hide = true)]
    as_org: Option<String>,
    /// Show version information.
    #[arg(long = "version")]
    version: bool,
}

/// Go's flag package takes `-name`; clap wants `--name`. Single-dash words become
/// double-dash; `-h` stays as it is.
fn go_style_args() -> Vec<String> {
    std::env::args()
        .enumerate()
        .map(|(i, arg)| {
            let single_dash_word = arg.starts_with('-') && !arg.starts_with("--") && arg.len() > 2;
            if i > 0 && single_dash_word {
                format!("-{arg}")
            } else {
                arg
            }
        })
        .collect()
}

fn run(cli: Cli) -> Result<(), ConfigtxError> {
    if cli.version {
        println!(
            "configtxgen:\n Version: {} (weft)\n Fabric compatibility: v2.5",
            env!("CARGO_PKG_VERSION")
        );
        return Ok(());
    }
    if cli.output_create_channel_tx.is_some()
        || cli.output_anchor_peers_update.is_some()
        || cli.channel_create_tx_base_profile.is_some()
        || cli.as_org.is_some()
    {
        return Err(ConfigtxError::Unsupported(
            "-outputCreateChannelTx, -outputAnchorPeersUpdate, -channelCreateTxBaseProfile \
             and -asOrg belong to the system-channel workflow; create channels with \
             -outputBlock and the channel participation API"
                .to_string(),
        ));
    }
    let paths = configtxgen::config_search_paths(cli.config_path.as_deref());

    if let Some(output) = &cli.output_block {
        let channel_id = cli
            .channel_id
            .as_deref()
            .ok_or_else(|| ConfigtxError::Invalid {
                what: "arguments".to_string(),
                reason: "missing channelID, please specify it with '-channelID'".to_string(),
            })?;
        let profile_name = cli
            .profile
            .as_deref()
            .ok_or_else(|| ConfigtxError::Invalid {
                what: "arguments".to_string(),
                reason: "the '-profile' is required when '-outputBlock' is specified".to_string(),
            })?;
        eprintln!("Loading configuration");
        let top = configtxgen::find_config(&paths)?;
        let profile = top.profile(profile_name)?;
        eprintln!("Generating genesis block");
        let block = configtxgen::genesis_block(&profile, channel_id)?;
        eprintln!("Writing genesis block");
        configtxgen::write_output(output, &block.encode_to_vec())?;
    }

    if let Some(path) = &cli.inspect_block {
        let raw = std::fs::read(path).map_err(|e| ConfigtxError::Io {
            path: path.clone(),
            source: e,
        })?;
        let json = configtxgen::inspect::inspect_block(&raw)?;
        print_json(&json);
    }

    if let Some(path) = &cli.inspect_channel_create_tx {
        let raw = std::fs::read(path).map_err(|e| ConfigtxError::Io {
            path: path.clone(),
            source: e,
        })?;
        let envelope = weft_proto::common::Envelope::decode(raw.as_slice())
            .map_err(|e| ConfigtxError::MalformedBlock(format!("not an envelope: {e}")))?;
        print_json(&configtxgen::inspect::envelope_json(&envelope));
    }

    if let Some(name) = &cli.print_org {
        let top = configtxgen::find_config(&paths)?;
        print_json(&configtxgen::print_org(&top, name)?);
    }
    Ok(())
}

fn print_json(value: &serde_json::Value) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("Error: cannot render JSON: {e}"),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse_from(go_style_args()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {err}");
            ExitCode::FAILURE
        }
    }
}
