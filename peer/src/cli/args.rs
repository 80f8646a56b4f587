//! The command line's shape (clap), with Fabric's command and flag names. Boolean flags
//! accept Go's forms (`--tls`, `--tls=true`, `--tls=false`) and durations Go's syntax
//! (`--connTimeout 10s`), as cobra/pflag do.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};
use weft_common::channelconfig::parse_go_duration;
use weft_common::localconfig::parse_go_bool;

/// Fabric's default `--connTimeout`.
pub const DEFAULT_CONN_TIMEOUT: Duration = Duration::from_secs(3);

/// `peer`: the Weft peer and its administration commands.
#[derive(Debug, Parser)]
#[command(
    name = "peer",
    about = "Weft peer (Hyperledger Fabric v2.5 compatible)",
    disable_version_flag = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Legacy logging level flag (ignored; use FABRIC_LOGGING_SPEC).
    #[arg(long = "logging-level", global = true, hide = true)]
    pub logging_level: Option<String>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// `peer <command>`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Operate a peer node: start.
    #[command(subcommand, arg_required_else_help = true)]
    Node(NodeCommand),
    /// Operate a channel: fetch|join|list|getinfo.
    #[command(arg_required_else_help = true)]
    Channel(Box<ChannelArgs>),
    /// Print the version.
    Version,
}

/// `peer node <command>`.
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Starts the node.
    Start(StartArgs),
}

/// `peer node start` flags.
#[derive(Debug, Clone, Default, Args)]
pub struct StartArgs {
    /// Start peer in chaincode development mode.
    #[arg(
        long = "peer-chaincodedev",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub peer_chaincodedev: bool,
}

/// `peer channel` with its persistent (orderer) flags.
#[derive(Debug, Args)]
pub struct ChannelArgs {
    /// The orderer flags, shared by every channel subcommand.
    #[command(flatten)]
    pub orderer: OrdererArgs,
    /// The subcommand.
    #[command(subcommand)]
    pub command: ChannelCommand,
}

/// `peer channel <command>`.
#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    /// Joins the peer to a channel.
    Join(JoinArgs),
    /// List of channels peer has joined.
    List(ListArgs),
    /// get blockchain information of a specified channel. Requires '-c'.
    Getinfo(GetinfoArgs),
    /// Fetch a specified block, writing it to a file.
    #[command(
        override_usage = "peer channel fetch <newest|oldest|config|(number)> [outputfile] [flags]"
    )]
    Fetch(FetchArgs),
}

/// Fabric's `common.AddOrdererFlags`: persistent flags of `peer channel`.
#[derive(Debug, Clone, Args)]
pub struct OrdererArgs {
    /// Ordering service endpoint.
    #[arg(short = 'o', long = "orderer", global = true, default_value = "")]
    pub orderer: String,
    /// Use TLS when communicating with the orderer endpoint.
    #[arg(
        long = "tls",
        global = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub tls: bool,
    /// Use mutual TLS when communicating with the orderer endpoint.
    #[arg(
        long = "clientauth",
        global = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub clientauth: bool,
    /// Path to file containing PEM-encoded trusted certificate(s) for the ordering
    /// endpoint.
    #[arg(long = "cafile", global = true)]
    pub cafile: Option<PathBuf>,
    /// Path to file containing PEM-encoded private key to use for mutual TLS
    /// communication with the orderer endpoint.
    #[arg(long = "keyfile", global = true)]
    pub keyfile: Option<PathBuf>,
    /// Path to file containing PEM-encoded X509 public key to use for mutual TLS
    /// communication with the orderer endpoint.
    #[arg(long = "certfile", global = true)]
    pub certfile: Option<PathBuf>,
    /// The hostname override to use when validating the TLS connection to the orderer.
    #[arg(long = "ordererTLSHostnameOverride", global = true)]
    pub orderer_tls_hostname_override: Option<String>,
    /// Timeout for client to connect.
    #[arg(long = "connTimeout", global = true, default_value = "3s", value_parser = go_duration)]
    pub conn_timeout: Duration,
    /// The amount of time to shift backwards for certificate expiration checks during TLS
    /// handshakes with the orderer endpoint (accepted; Weft does not shift).
    #[arg(long = "tlsHandshakeTimeShift", global = true, default_value = "0s", value_parser = go_duration)]
    pub tls_handshake_time_shift: Duration,
}

impl Default for OrdererArgs {
    fn default() -> Self {
        Self {
            orderer: String::new(),
            tls: false,
            clientauth: false,
            cafile: None,
            keyfile: None,
            certfile: None,
            orderer_tls_hostname_override: None,
            conn_timeout: DEFAULT_CONN_TIMEOUT,
            tls_handshake_time_shift: Duration::ZERO,
        }
    }
}

/// `peer channel join` flags.
#[derive(Debug, Clone, Default, Args)]
pub struct JoinArgs {
    /// Path to file containing genesis block.
    #[arg(short = 'b', long = "blockpath")]
    pub blockpath: Option<PathBuf>,
    /// Extra arguments (ignored, as cobra does).
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

/// `peer channel list` arguments.
#[derive(Debug, Clone, Default, Args)]
pub struct ListArgs {
    /// Extra arguments (refused with Fabric's "trailing args detected").
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

/// `peer channel getinfo` flags.
#[derive(Debug, Clone, Default, Args)]
pub struct GetinfoArgs {
    /// The channel ID.
    #[arg(short = 'c', long = "channelID")]
    pub channel_id: Option<String>,
    /// Extra arguments (ignored, as cobra does).
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

/// `peer channel fetch` arguments and flags.
#[derive(Debug, Clone, Default, Args)]
pub struct FetchArgs {
    /// `newest`, `oldest`, `config` or a block number, then optionally the output file.
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
    /// The channel ID.
    #[arg(short = 'c', long = "channelID")]
    pub channel_id: Option<String>,
    /// Whether fetch requests should ignore errors and return blocks on a best effort
    /// basis.
    #[arg(
        long = "bestEffort",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub best_effort: bool,
}

/// Go's `strconv.ParseBool` as a clap value parser.
fn go_bool(text: &str) -> Result<bool, String> {
    parse_go_bool(text)
        .ok_or_else(|| format!("strconv.ParseBool: parsing {text:?}: invalid syntax"))
}

/// Go's `time.ParseDuration` as a clap value parser.
fn go_duration(text: &str) -> Result<Duration, String> {
    parse_go_duration(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("peer").chain(args.iter().copied()))
    }

    fn channel(args: &[&str]) -> ChannelArgs {
        match parse(args).expect("parses").command {
            Command::Channel(c) => *c,
            other => panic!("not a channel command: {other:?}"),
        }
    }

    #[test]
    fn command_tree_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn join_takes_the_block_path() {
        for args in [
            &[
                "channel",
                "join",
                "-b",
                "./channel-artifacts/mychannel.block",
            ][..],
            &[
                "channel",
                "join",
                "--blockpath",
                "./channel-artifacts/mychannel.block",
            ],
            &[
                "channel",
                "join",
                "--blockpath=./channel-artifacts/mychannel.block",
            ],
            &["channel", "join", "-b./channel-artifacts/mychannel.block"],
        ] {
            let c = channel(args);
            let ChannelCommand::Join(join) = c.command else {
                panic!("not join")
            };
            assert_eq!(
                join.blockpath,
                Some(PathBuf::from("./channel-artifacts/mychannel.block")),
                "{args:?}"
            );
        }
    }

    #[test]
    fn fetch_takes_target_file_and_orderer_flags_anywhere() {
        let c = channel(&[
            "channel",
            "fetch",
            "config",
            "channel-artifacts/config_block.pb",
            "-o",
            "localhost:7050",
            "--ordererTLSHostnameOverride",
            "orderer.example.com",
            "-c",
            "mychannel",
            "--tls",
            "--cafile",
            "/ca.pem",
        ]);
        let ChannelCommand::Fetch(fetch) = &c.command else {
            panic!("not fetch")
        };
        assert_eq!(
            fetch.args,
            vec!["config", "channel-artifacts/config_block.pb"]
        );
        assert_eq!(fetch.channel_id.as_deref(), Some("mychannel"));
        assert!(!fetch.best_effort);
        assert_eq!(c.orderer.orderer, "localhost:7050");
        assert!(c.orderer.tls);
        assert!(!c.orderer.clientauth);
        assert_eq!(c.orderer.cafile, Some(PathBuf::from("/ca.pem")));
        assert_eq!(
            c.orderer.orderer_tls_hostname_override.as_deref(),
            Some("orderer.example.com")
        );
        assert_eq!(c.orderer.conn_timeout, DEFAULT_CONN_TIMEOUT);

        // Orderer flags before the subcommand, Go booleans and durations.
        let c = channel(&[
            "channel",
            "--tls=false",
            "--connTimeout",
            "1m30s",
            "fetch",
            "5",
            "--bestEffort",
            "-c=ch",
        ]);
        assert!(!c.orderer.tls);
        assert_eq!(c.orderer.conn_timeout, Duration::from_secs(90));
        let ChannelCommand::Fetch(fetch) = &c.command else {
            panic!("not fetch")
        };
        assert_eq!(fetch.args, vec!["5"]);
        assert!(fetch.best_effort);
        assert_eq!(fetch.channel_id.as_deref(), Some("ch"));
    }

    #[test]
    fn getinfo_and_list() {
        let c = channel(&["channel", "getinfo", "-c", "mychannel"]);
        let ChannelCommand::Getinfo(g) = c.command else {
            panic!("not getinfo")
        };
        assert_eq!(g.channel_id.as_deref(), Some("mychannel"));
        let c = channel(&["channel", "list"]);
        assert!(
            matches!(c.command, ChannelCommand::List(ListArgs { ref extra }) if extra.is_empty())
        );
    }

    #[test]
    fn node_start_and_version() {
        let cli = parse(&["node", "start"]).expect("node start");
        assert!(matches!(
            cli.command,
            Command::Node(NodeCommand::Start(StartArgs {
                peer_chaincodedev: false
            }))
        ));
        let cli = parse(&["node", "start", "--peer-chaincodedev"]).expect("dev mode");
        assert!(matches!(
            cli.command,
            Command::Node(NodeCommand::Start(StartArgs {
                peer_chaincodedev: true
            }))
        ));
        assert!(matches!(
            parse(&["version"]).expect("version").command,
            Command::Version
        ));
    }

    #[test]
    fn bad_command_lines_are_refused() {
        for args in [
            &["channel", "join", "--nosuchflag"][..],
            &["channel", "list", "-c", "ch"],
            &["channel", "fetch", "newest", "--connTimeout", "3 seconds"],
            &["channel", "--tls=maybe", "list"],
            &["node", "start", "extra"],
            &["nosuchcommand"],
        ] {
            assert!(parse(args).is_err(), "{args:?} should be refused");
        }
    }
}
