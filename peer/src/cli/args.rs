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
    /// Perform _lifecycle operations
    #[command(subcommand, arg_required_else_help = true)]
    Lifecycle(LifecycleCommand),
    /// Query or invoke a chaincode: invoke|query.
    #[command(arg_required_else_help = true)]
    Chaincode(Box<ChaincodeArgs>),
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

/// `peer lifecycle <command>`.
#[derive(Debug, Subcommand)]
pub enum LifecycleCommand {
    /// Perform chaincode operations: package|install|queryinstalled|getinstalledpackage|calculatepackageid|approveformyorg|queryapproved|checkcommitreadiness|commit|querycommitted
    #[command(arg_required_else_help = true)]
    Chaincode(Box<LifecycleChaincodeArgs>),
}

/// `peer lifecycle chaincode` with its persistent (orderer) flags.
#[derive(Debug, Args)]
pub struct LifecycleChaincodeArgs {
    /// The orderer flags, shared by every subcommand.
    #[command(flatten)]
    pub orderer: OrdererArgs,
    /// The subcommand.
    #[command(subcommand)]
    pub command: LifecycleChaincodeCommand,
}

/// `peer lifecycle chaincode <command>`.
#[derive(Debug, Subcommand)]
pub enum LifecycleChaincodeCommand {
    /// Package a chaincode and write the package to a file.
    #[command(override_usage = "peer lifecycle chaincode package [outputfile] [flags]")]
    Package(PackageArgs),
    /// Calculate the package ID for a packaged chaincode.
    #[command(override_usage = "peer lifecycle chaincode calculatepackageid [packageFile] [flags]")]
    Calculatepackageid(CalculatePackageIdArgs),
    /// Install a chaincode on a peer.
    #[command(override_usage = "peer lifecycle chaincode install [packageFile] [flags]")]
    Install(InstallArgs),
    /// Query the installed chaincodes on a peer.
    Queryinstalled(QueryInstalledArgs),
    /// Get an installed chaincode package from a peer.
    Getinstalledpackage(GetInstalledPackageArgs),
    /// Approve the chaincode definition for my organization.
    Approveformyorg(DefinitionArgs),
    /// Query an organization's approved chaincode definition from its peer.
    Queryapproved(QueryApprovedArgs),
    /// Check whether a chaincode definition is ready to be committed on a channel.
    Checkcommitreadiness(DefinitionArgs),
    /// Commit the chaincode definition on the channel.
    Commit(DefinitionArgs),
    /// Query the committed chaincode definitions by channel on a peer. Optional: provide a
    /// chaincode name to query a specific definition.
    Querycommitted(QueryCommittedArgs),
}

/// Fabric's `--peerAddresses`, `--tlsRootCertFiles`, `--connectionProfile`,
/// `--targetPeer`: which peers a command talks to.
#[derive(Debug, Clone, Default, Args)]
pub struct PeerTargetArgs {
    /// The addresses of the peers to connect to.
    #[arg(long = "peerAddresses", action = ArgAction::Append)]
    pub peer_addresses: Vec<String>,
    /// If TLS is enabled, the paths to the TLS root cert files of the peers to connect
    /// to. The order and number of certs specified should match the --peerAddresses flag.
    #[arg(long = "tlsRootCertFiles", action = ArgAction::Append)]
    pub tls_root_cert_files: Vec<String>,
    /// The fully qualified path to the connection profile that provides the necessary
    /// connection information for the network (not supported by Weft: refused).
    #[arg(long = "connectionProfile")]
    pub connection_profile: Option<String>,
    /// When using a connection profile, the name of the peer to target for this action.
    #[arg(long = "targetPeer", hide = true)]
    pub target_peer: Option<String>,
}

impl PeerTargetArgs {
    /// The addresses as Fabric's string-array flag holds them: `[""]` when none was given
    /// (the empty address stands for `peer.address`).
    pub fn addresses(&self) -> Vec<String> {
        if self.peer_addresses.is_empty() {
            vec![String::new()]
        } else {
            self.peer_addresses.clone()
        }
    }

    /// The TLS root certificate files, `[""]` when none was given.
    pub fn root_cert_files(&self) -> Vec<String> {
        if self.tls_root_cert_files.is_empty() {
            vec![String::new()]
        } else {
            self.tls_root_cert_files.clone()
        }
    }
}

/// `peer lifecycle chaincode package` arguments and flags.
#[derive(Debug, Clone, Default, Args)]
pub struct PackageArgs {
    /// The output file.
    #[arg(value_name = "outputfile")]
    pub args: Vec<String>,
    /// The package label contains a human-readable description of the package.
    #[arg(long = "label", default_value = "")]
    pub label: String,
    /// Language the chaincode is written in (`wasm`, `ccaas`/`external`, `golang`, ...).
    #[arg(short = 'l', long = "lang", default_value = "golang")]
    pub lang: String,
    /// Path to the chaincode.
    #[arg(short = 'p', long = "path", default_value = "")]
    pub path: String,
    /// Peer flags (accepted, unused, as in Fabric).
    #[command(flatten)]
    pub peers: PeerTargetArgs,
}

/// `peer lifecycle chaincode calculatepackageid` arguments and flags.
#[derive(Debug, Clone, Default, Args)]
pub struct CalculatePackageIdArgs {
    /// The package file.
    #[arg(value_name = "packageFile")]
    pub args: Vec<String>,
    /// The output format for query results. Default is human-readable plain-text. json is
    /// currently the only supported format.
    #[arg(short = 'O', long = "output", default_value = "")]
    pub output: String,
    /// Peer flags (accepted, unused, as in Fabric).
    #[command(flatten)]
    pub peers: PeerTargetArgs,
}

/// `peer lifecycle chaincode install` arguments and flags.
#[derive(Debug, Clone, Default, Args)]
pub struct InstallArgs {
    /// The package file.
    #[arg(value_name = "packageFile")]
    pub args: Vec<String>,
    /// The peer to install on.
    #[command(flatten)]
    pub peers: PeerTargetArgs,
}

/// `peer lifecycle chaincode queryinstalled` flags.
#[derive(Debug, Clone, Default, Args)]
pub struct QueryInstalledArgs {
    /// The output format for query results. Default is human-readable plain-text. json is
    /// currently the only supported format.
    #[arg(short = 'O', long = "output", default_value = "")]
    pub output: String,
    /// The peer to query.
    #[command(flatten)]
    pub peers: PeerTargetArgs,
}

/// `peer lifecycle chaincode getinstalledpackage` flags.
#[derive(Debug, Clone, Default, Args)]
pub struct GetInstalledPackageArgs {
    /// Ignored positional arguments (Fabric's usage line names an output file it never
    /// uses).
    #[arg(hide = true)]
    pub args: Vec<String>,
    /// The identifier of the chaincode install package.
    #[arg(long = "package-id", default_value = "")]
    pub package_id: String,
    /// The output directory to use when writing a chaincode install package to disk.
    /// Default is the current working directory.
    #[arg(long = "output-directory", default_value = "")]
    pub output_directory: String,
    /// The peer to query.
    #[command(flatten)]
    pub peers: PeerTargetArgs,
}

/// The chaincode definition flags of `approveformyorg`, `checkcommitreadiness` and
/// `commit`.
#[derive(Debug, Clone, Args)]
pub struct DefinitionArgs {
    /// The channel on which this command should be executed.
    #[arg(short = 'C', long = "channelID", default_value = "")]
    pub channel_id: String,
    /// Name of the chaincode.
    #[arg(short = 'n', long = "name", default_value = "")]
    pub name: String,
    /// Version of the chaincode.
    #[arg(short = 'v', long = "version", default_value = "")]
    pub version: String,
    /// The identifier of the chaincode install package (approveformyorg).
    #[arg(long = "package-id", default_value = "")]
    pub package_id: String,
    /// The sequence number of the chaincode definition for the channel.
    #[arg(long = "sequence", default_value = "0", allow_negative_numbers = true)]
    pub sequence: i64,
    /// The name of the endorsement plugin to be used for this chaincode.
    #[arg(short = 'E', long = "endorsement-plugin", default_value = "")]
    pub endorsement_plugin: String,
    /// The name of the validation plugin to be used for this chaincode.
    #[arg(short = 'V', long = "validation-plugin", default_value = "")]
    pub validation_plugin: String,
    /// The endorsement policy associated to this chaincode specified as a signature
    /// policy.
    #[arg(long = "signature-policy", default_value = "")]
    pub signature_policy: String,
    /// The endorsement policy associated to this chaincode specified as a channel config
    /// policy reference.
    #[arg(long = "channel-config-policy", default_value = "")]
    pub channel_config_policy: String,
    /// Whether the chaincode requires invoking 'init'.
    #[arg(
        long = "init-required",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub init_required: bool,
    /// The fully qualified path to the collection JSON file including the file name.
    #[arg(long = "collections-config", default_value = "")]
    pub collections_config: String,
    /// Whether to wait for the event from each peer's deliver filtered service signifying
    /// that the transaction has been committed successfully.
    #[arg(
        long = "waitForEvent",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "true",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub wait_for_event: bool,
    /// Time to wait for the event from each peer's deliver filtered service signifying
    /// that the transaction has been committed successfully.
    #[arg(long = "waitForEventTimeout", default_value = "30s", value_parser = go_duration)]
    pub wait_for_event_timeout: Duration,
    /// The output format for query results (checkcommitreadiness). Default is
    /// human-readable plain-text. json is currently the only supported format.
    #[arg(short = 'O', long = "output", default_value = "")]
    pub output: String,
    /// The peers to endorse on.
    #[command(flatten)]
    pub peers: PeerTargetArgs,
}

impl Default for DefinitionArgs {
    fn default() -> Self {
        Self {
            channel_id: String::new(),
            name: String::new(),
            version: String::new(),
            package_id: String::new(),
            sequence: 0,
            endorsement_plugin: String::new(),
            validation_plugin: String::new(),
            signature_policy: String::new(),
            channel_config_policy: String::new(),
            init_required: false,
            collections_config: String::new(),
            wait_for_event: true,
            wait_for_event_timeout: DEFAULT_WAIT_FOR_EVENT_TIMEOUT,
            output: String::new(),
            peers: PeerTargetArgs::default(),
        }
    }
}

/// Fabric's default `--waitForEventTimeout`.
pub const DEFAULT_WAIT_FOR_EVENT_TIMEOUT: Duration = Duration::from_secs(30);

/// `peer lifecycle chaincode queryapproved` flags.
#[derive(Debug, Clone, Default, Args)]
pub struct QueryApprovedArgs {
    /// The channel on which this command should be executed.
    #[arg(short = 'C', long = "channelID", default_value = "")]
    pub channel_id: String,
    /// Name of the chaincode.
    #[arg(short = 'n', long = "name", default_value = "")]
    pub name: String,
    /// The sequence number of the chaincode definition for the channel.
    #[arg(long = "sequence", default_value = "0", allow_negative_numbers = true)]
    pub sequence: i64,
    /// The output format for query results. Default is human-readable plain-text. json is
    /// currently the only supported format.
    #[arg(short = 'O', long = "output", default_value = "")]
    pub output: String,
    /// The peer to query.
    #[command(flatten)]
    pub peers: PeerTargetArgs,
}

/// `peer lifecycle chaincode querycommitted` flags.
#[derive(Debug, Clone, Default, Args)]
pub struct QueryCommittedArgs {
    /// The channel on which this command should be executed.
    #[arg(short = 'C', long = "channelID", default_value = "")]
    pub channel_id: String,
    /// Name of the chaincode.
    #[arg(short = 'n', long = "name", default_value = "")]
    pub name: String,
    /// The output format for query results. Default is human-readable plain-text. json is
    /// currently the only supported format.
    #[arg(short = 'O', long = "output", default_value = "")]
    pub output: String,
    /// The peer to query.
    #[command(flatten)]
    pub peers: PeerTargetArgs,
}

/// `peer chaincode` with its persistent flags (orderer flags, `--transient`).
#[derive(Debug, Args)]
pub struct ChaincodeArgs {
    /// The orderer flags, shared by every subcommand.
    #[command(flatten)]
    pub orderer: OrdererArgs,
    /// Transient map of arguments in JSON encoding.
    #[arg(long = "transient", global = true, default_value = "")]
    pub transient: String,
    /// The subcommand.
    #[command(subcommand)]
    pub command: ChaincodeCommand,
}

/// `peer chaincode <command>`.
#[derive(Debug, Subcommand)]
pub enum ChaincodeCommand {
    /// Invoke the specified chaincode. It will try to commit the endorsed transaction to
    /// the network.
    Invoke(InvokeArgs),
    /// Get endorsed result of chaincode function call and print it. It won't generate
    /// transaction.
    Query(QueryArgs),
}

/// `peer chaincode invoke` flags.
#[derive(Debug, Clone, Args)]
pub struct InvokeArgs {
    /// Name of the chaincode.
    #[arg(short = 'n', long = "name", default_value = "")]
    pub name: String,
    /// Constructor message for the chaincode in JSON format.
    #[arg(short = 'c', long = "ctor", default_value = "{}")]
    pub ctor: String,
    /// Is this invocation for init (useful for supporting legacy chaincodes in the new
    /// lifecycle).
    #[arg(
        short = 'I',
        long = "isInit",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub is_init: bool,
    /// The channel on which this command should be executed.
    #[arg(short = 'C', long = "channelID", default_value = "")]
    pub channel_id: String,
    /// Whether to wait for the event from each peer's deliver filtered service signifying
    /// that the 'invoke' transaction has been committed successfully.
    #[arg(
        long = "waitForEvent",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub wait_for_event: bool,
    /// Time to wait for the event from each peer's deliver filtered service signifying
    /// that the 'invoke' transaction has been committed successfully.
    #[arg(long = "waitForEventTimeout", default_value = "30s", value_parser = go_duration)]
    pub wait_for_event_timeout: Duration,
    /// The peers to endorse on.
    #[command(flatten)]
    pub peers: PeerTargetArgs,
}

impl Default for InvokeArgs {
    fn default() -> Self {
        Self {
            name: String::new(),
            ctor: "{}".into(),
            is_init: false,
            channel_id: String::new(),
            wait_for_event: false,
            wait_for_event_timeout: DEFAULT_WAIT_FOR_EVENT_TIMEOUT,
            peers: PeerTargetArgs::default(),
        }
    }
}

/// `peer chaincode query` flags.
#[derive(Debug, Clone, Args)]
pub struct QueryArgs {
    /// Constructor message for the chaincode in JSON format.
    #[arg(short = 'c', long = "ctor", default_value = "{}")]
    pub ctor: String,
    /// Name of the chaincode.
    #[arg(short = 'n', long = "name", default_value = "")]
    pub name: String,
    /// The channel on which this command should be executed.
    #[arg(short = 'C', long = "channelID", default_value = "")]
    pub channel_id: String,
    /// If true, output the query value as raw bytes, otherwise format as a printable
    /// string.
    #[arg(
        short = 'r',
        long = "raw",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub raw: bool,
    /// If true, output the query value byte array in hexadecimal. Incompatible with --raw.
    #[arg(
        short = 'x',
        long = "hex",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub hex: bool,
    /// The peer to query.
    #[command(flatten)]
    pub peers: PeerTargetArgs,
}

impl Default for QueryArgs {
    fn default() -> Self {
        Self {
            ctor: "{}".into(),
            name: String::new(),
            channel_id: String::new(),
            raw: false,
            hex: false,
            peers: PeerTargetArgs::default(),
        }
    }
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
    fn lifecycle_and_chaincode_flags_as_fabric_spells_them() {
        let cli = parse(&[
            "lifecycle",
            "chaincode",
            "approveformyorg",
            "-o",
            "localhost:7050",
            "--ordererTLSHostnameOverride",
            "orderer.example.com",
            "--tls",
            "--cafile",
            "/ca.pem",
            "--channelID",
            "mychannel",
            "--name",
            "basic",
            "--version",
            "1.0",
            "--package-id",
            "basic_1.0:ab",
            "--sequence",
            "2",
            "--init-required",
            "--signature-policy",
            "OR('Org1MSP.peer')",
            "--peerAddresses",
            "localhost:7051",
            "--tlsRootCertFiles",
            "/org1.pem",
            "--peerAddresses",
            "localhost:9051",
            "--tlsRootCertFiles",
            "/org2.pem",
            "--waitForEvent=false",
            "--waitForEventTimeout",
            "1m",
        ])
        .expect("approveformyorg");
        let Command::Lifecycle(LifecycleCommand::Chaincode(cc)) = cli.command else {
            panic!("not lifecycle chaincode")
        };
        assert_eq!(cc.orderer.orderer, "localhost:7050");
        assert!(cc.orderer.tls);
        let LifecycleChaincodeCommand::Approveformyorg(a) = &cc.command else {
            panic!("not approveformyorg")
        };
        assert_eq!(
            (a.channel_id.as_str(), a.name.as_str(), a.version.as_str()),
            ("mychannel", "basic", "1.0")
        );
        assert_eq!(a.sequence, 2);
        assert!(a.init_required);
        assert!(!a.wait_for_event);
        assert_eq!(a.wait_for_event_timeout, Duration::from_secs(60));
        assert_eq!(
            a.peers.addresses(),
            vec!["localhost:7051", "localhost:9051"]
        );
        assert_eq!(a.peers.root_cert_files(), vec!["/org1.pem", "/org2.pem"]);

        // Defaults: wait for the event, Fabric's [""] peer list.
        let cli = parse(&["lifecycle", "chaincode", "commit", "-C", "ch"]).expect("commit");
        let Command::Lifecycle(LifecycleCommand::Chaincode(cc)) = cli.command else {
            panic!("not lifecycle chaincode")
        };
        let LifecycleChaincodeCommand::Commit(c) = &cc.command else {
            panic!("not commit")
        };
        assert!(c.wait_for_event);
        assert_eq!(c.wait_for_event_timeout, DEFAULT_WAIT_FOR_EVENT_TIMEOUT);
        assert_eq!(c.peers.addresses(), vec![String::new()]);

        let cli = parse(&[
            "chaincode",
            "invoke",
            "-o",
            "localhost:7050",
            "-C",
            "mychannel",
            "-n",
            "basic",
            "-c",
            r#"{"Args":["InitLedger"]}"#,
            "--isInit",
            "--transient",
            "{}",
            "--waitForEvent",
        ])
        .expect("invoke");
        let Command::Chaincode(cc) = cli.command else {
            panic!("not chaincode")
        };
        assert_eq!(cc.transient, "{}");
        let ChaincodeCommand::Invoke(i) = &cc.command else {
            panic!("not invoke")
        };
        assert!(i.is_init && i.wait_for_event);
        assert_eq!(i.ctor, r#"{"Args":["InitLedger"]}"#);
        let cli = parse(&["chaincode", "query", "-C", "ch", "-n", "cc", "-x"]).expect("query");
        let Command::Chaincode(cc) = cli.command else {
            panic!("not chaincode")
        };
        assert!(matches!(&cc.command, ChaincodeCommand::Query(q) if q.hex && q.ctor == "{}"));
        let cli = parse(&[
            "lifecycle",
            "chaincode",
            "package",
            "basic.tar.gz",
            "-p",
            "m.wasm",
            "-l",
            "wasm",
            "--label",
            "basic_1.0",
        ])
        .expect("package");
        let Command::Lifecycle(LifecycleCommand::Chaincode(cc)) = cli.command else {
            panic!("not lifecycle chaincode")
        };
        assert!(matches!(&cc.command, LifecycleChaincodeCommand::Package(p)
            if p.args == ["basic.tar.gz"] && p.lang == "wasm" && p.path == "m.wasm"));
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
