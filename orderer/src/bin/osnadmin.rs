//! `osnadmin`: Fabric's Ordering Service Node administration CLI for the channel
//! participation API.
//!
//! ```text
//! osnadmin channel join   --channelID C --config-block F -o host:port [TLS flags] [--no-status]
//! osnadmin channel list   [--channelID C]                 -o host:port [TLS flags] [--no-status]
//! osnadmin channel remove --channelID C                   -o host:port [TLS flags] [--no-status]
//! TLS flags: --ca-file F [--client-cert F --client-key F]
//! ```
//!
//! As Fabric's: with `--ca-file` the endpoint is `https://` (mutual TLS with the client
//! certificate), without it plain `http://`; the output is `Status: <code>` followed by
//! the response body indented with tabs, on stdout, and the exit code is 0 whenever the
//! orderer answered (whatever the status). Failures before or instead of an answer print
//! `Error: <reason>` and exit 1.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::{Parser, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use weft_proto::Message;
use weft_proto::common::Block;

/// How long connecting (TCP and TLS) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the whole exchange may take once connected.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// The channels collection of the participation API.
const CHANNELS_PATH: &str = "/participation/v1/channels";

/// Orderer Service Node (OSN) administration.
#[derive(Debug, Parser)]
#[command(
    name = "osnadmin",
    version,
    about = "Orderer Service Node (OSN) administration"
)]
struct Cli {
    /// Admin endpoint of the OSN (host:port).
    #[arg(short = 'o', long = "orderer-address", global = true)]
    orderer_address: Option<String>,
    /// Path to file containing PEM-encoded TLS CA certificate(s) for the OSN.
    #[arg(long = "ca-file", global = true)]
    ca_file: Option<PathBuf>,
    /// Path to file containing PEM-encoded X509 public key to use for mutual TLS
    /// communication with the OSN.
    #[arg(long = "client-cert", global = true)]
    client_cert: Option<PathBuf>,
    /// Path to file containing PEM-encoded private key to use for mutual TLS
    /// communication with the OSN.
    #[arg(long = "client-key", global = true)]
    client_key: Option<PathBuf>,
    /// Remove the HTTP status message from the command output.
    #[arg(long = "no-status", global = true)]
    no_status: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Channel actions.
    #[command(subcommand)]
    Channel(ChannelCommand),
}

#[derive(Debug, Subcommand)]
enum ChannelCommand {
    /// Join an Ordering Service Node (OSN) to a channel. If the channel does not yet
    /// exist, it will be created.
    Join {
        /// Channel ID.
        #[arg(short = 'c', long = "channelID")]
        channel_id: String,
        /// Path to the file containing an up-to-date config block for the channel.
        #[arg(short = 'b', long = "config-block")]
        config_block: PathBuf,
    },
    /// List channel information for an Ordering Service Node (OSN). If the channelID
    /// flag is set, more detailed information will be provided for that channel.
    List {
        /// Channel ID.
        #[arg(short = 'c', long = "channelID")]
        channel_id: Option<String>,
    },
    /// Remove a channel from an Ordering Service Node (OSN).
    Remove {
        /// Channel ID.
        #[arg(short = 'c', long = "channelID")]
        channel_id: String,
    },
}

/// Where and how to reach the admin endpoint.
struct Endpoint {
    /// `host:port` as given.
    address: String,
    /// The TLS client config, or `None` for plain HTTP.
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Endpoint {
    fn url(&self, path: &str) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.address)
    }
}

/// One HTTP request to send.
struct Call {
    method: Method,
    path: String,
    content_type: Option<String>,
    body: Vec<u8>,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let Some(address) = cli.orderer_address.clone() else {
        eprintln!(
            "osnadmin: error: parsing arguments: required flag --orderer-address not provided. \
             Try --help"
        );
        return ExitCode::FAILURE;
    };
    match run(&cli, address) {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            println!("Error: {message}\n");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli, address: String) -> Result<String, String> {
    let tls = match &cli.ca_file {
        None => None,
        Some(ca_file) => Some(tls_config(
            ca_file,
            cli.client_cert.as_deref(),
            cli.client_key.as_deref(),
        )?),
    };
    let endpoint = Endpoint { address, tls };
    let Command::Channel(command) = &cli.command;
    let call = match command {
        ChannelCommand::Join {
            channel_id,
            config_block,
        } => {
            let block =
                std::fs::read(config_block).map_err(|e| format!("reading config block: {e}"))?;
            validate_block_channel_id(&block, channel_id)?;
            join_call(block)
        }
        ChannelCommand::List { channel_id: None } => Call {
            method: Method::GET,
            path: CHANNELS_PATH.to_owned(),
            content_type: None,
            body: Vec::new(),
        },
        ChannelCommand::List {
            channel_id: Some(channel_id),
        } => Call {
            method: Method::GET,
            path: format!("{CHANNELS_PATH}/{channel_id}"),
            content_type: None,
            body: Vec::new(),
        },
        ChannelCommand::Remove { channel_id } => Call {
            method: Method::DELETE,
            path: format!("{CHANNELS_PATH}/{channel_id}"),
            content_type: None,
            body: Vec::new(),
        },
    };

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the I/O runtime: {e}"))?;
    let url = endpoint.url(&call.path);
    let op = go_url_error_op(&call.method);
    let (status, body) = runtime
        .block_on(send(&endpoint, call))
        .map_err(|e| format!("{op} \"{url}\": {e}"))?;
    response_output(!cli.no_status, status, &body)
}

/// The client TLS config: the CA file(s) as roots, and the client certificate and key
/// when given (both or neither).
fn tls_config(
    ca_file: &Path,
    client_cert: Option<&Path>,
    client_key: Option<&Path>,
) -> Result<Arc<rustls::ClientConfig>, String> {
    // Check the CA file first, for Fabric's message.
    std::fs::read(ca_file).map_err(|e| format!("reading orderer CA certificate: {e}"))?;
    let identity = match (client_cert, client_key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        _ => {
            return Err(
                "loading client cert/key pair: --client-cert and --client-key must be given \
                 together"
                    .to_owned(),
            );
        }
    };
    weft_common::tls::client_config(&[ca_file.to_owned()], identity).map_err(|e| match e {
        weft_common::tls::TlsError::NoKey { .. } | weft_common::tls::TlsError::BadKey { .. } => {
            format!("loading client cert/key pair: {e}")
        }
        other => format!("building the TLS client configuration: {other}"),
    })
}

/// Fabric's sanity check: the block's channel is the one named on the command line.
fn validate_block_channel_id(block: &[u8], channel_id: &str) -> Result<(), String> {
    let block = Block::decode(block).map_err(|e| format!("unmarshalling block: {e}"))?;
    let block_channel_id =
        weft_common::protoutil::block_channel_id(&block).map_err(|e| e.to_string())?;
    if block_channel_id != channel_id {
        return Err(format!(
            "specified --channelID {channel_id} does not match channel ID {block_channel_id} in \
             config block"
        ));
    }
    Ok(())
}

/// The join request: `multipart/form-data` with one file part `config-block`, as Go's
/// `multipart.Writer.CreateFormFile` writes it.
fn join_call(block: Vec<u8>) -> Call {
    let boundary = hex::encode(rand::random::<[u8; 30]>());
    let mut body = Vec::with_capacity(block.len() + 256);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"config-block\"; \
             filename=\"config.block\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&block);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Call {
        method: Method::POST,
        path: CHANNELS_PATH.to_owned(),
        content_type: Some(format!("multipart/form-data; boundary={boundary}")),
        body,
    }
}

/// Go's `url.Error` operation name: `Get`, `Post`, `Delete`.
fn go_url_error_op(method: &Method) -> String {
    let name = method.as_str();
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

/// The host part of `host:port` (brackets of IPv6 literals removed).
fn host_of(address: &str) -> &str {
    if let Some(rest) = address.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match address.rsplit_once(':') {
        Some((host, _)) => host,
        None => address,
    }
}

/// `address` with the scheme's default port when it has none.
fn with_port(address: &str, tls: bool) -> String {
    let has_port = if address.starts_with('[') {
        address.contains("]:")
    } else {
        address.contains(':')
    };
    if has_port {
        address.to_owned()
    } else {
        format!("{address}:{}", if tls { 443 } else { 80 })
    }
}

async fn send(endpoint: &Endpoint, call: Call) -> Result<(StatusCode, Bytes), String> {
    let socket = with_port(&endpoint.address, endpoint.tls.is_some());
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&socket))
        .await
        .map_err(|_| format!("dial tcp {socket}: i/o timeout"))?
        .map_err(|e| format!("dial tcp {socket}: {e}"))?;
    match &endpoint.tls {
        None => exchange(tcp, false, endpoint, call).await,
        Some(config) => {
            let host = host_of(&endpoint.address).to_owned();
            let server_name = ServerName::try_from(host.clone())
                .map_err(|e| format!("invalid server name {host:?}: {e}"))?;
            let connector = tokio_rustls::TlsConnector::from(Arc::clone(config));
            let stream = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(server_name, tcp))
                .await
                .map_err(|_| "tls: handshake timed out".to_owned())?
                .map_err(|e| format!("tls: {e}"))?;
            let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
            exchange(stream, h2, endpoint, call).await
        }
    }
}

async fn exchange<I>(
    io: I,
    h2: bool,
    endpoint: &Endpoint,
    call: Call,
) -> Result<(StatusCode, Bytes), String>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // HTTP/2 needs the absolute URI (:scheme, :authority); HTTP/1.1 the path and Host.
    let uri = if h2 {
        endpoint.url(&call.path)
    } else {
        call.path.clone()
    };
    let mut builder = Request::builder().method(call.method).uri(uri);
    if !h2 {
        builder = builder.header(HOST, &endpoint.address);
    }
    if let Some(content_type) = call.content_type {
        builder = builder.header(CONTENT_TYPE, content_type);
    }
    let request = builder
        .body(Full::new(Bytes::from(call.body)))
        .map_err(|e| format!("building the request: {e}"))?;
    let io = TokioIo::new(io);

    let response = async {
        if h2 {
            let (mut sender, connection) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                    .await
                    .map_err(|e| e.to_string())?;
            tokio::spawn(connection);
            sender
                .send_request(request)
                .await
                .map_err(|e| e.to_string())
        } else {
            let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(connection);
            sender
                .send_request(request)
                .await
                .map_err(|e| e.to_string())
        }
    };
    let exchange = async {
        let response = response.await?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading http response body: {e}"))?
            .to_bytes();
        Ok((status, body))
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| "timeout awaiting response".to_owned())?
}

/// `Status: <code>` (unless suppressed) and the body indented like Go's `json.Indent`
/// with a tab.
fn response_output(show_status: bool, status: StatusCode, body: &[u8]) -> Result<String, String> {
    let mut out = String::new();
    if show_status {
        out.push_str(&format!("Status: {}\n", status.as_u16()));
    }
    if !body.is_empty() {
        serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(|e| e.to_string())?;
        let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
        out.push_str(&indent_json(text, "\t"));
    }
    Ok(out)
}

/// Go's `json.Indent(dst, src, "", indent)` for valid JSON: one element per line,
/// `": "` after keys, empty objects and arrays kept as `{}` / `[]`, leading whitespace
/// dropped, trailing whitespace kept.
fn indent_json(src: &str, indent: &str) -> String {
    let trimmed_start = src.trim_start();
    let content = trimmed_start.trim_end();
    let trailing = &trimmed_start[content.len()..];
    let mut out = String::with_capacity(src.len() * 2);
    let mut depth = 0usize;
    let mut need_indent = false;
    let mut in_string = false;
    let mut escaped = false;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(indent);
        }
    };
    for c in content.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        if c.is_ascii_whitespace() {
            continue;
        }
        if need_indent && c != ']' && c != '}' {
            need_indent = false;
            depth += 1;
            newline(&mut out, depth);
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                need_indent = true;
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => {
                out.push(c);
                out.push(' ');
            }
            '}' | ']' => {
                if need_indent {
                    need_indent = false;
                } else {
                    depth = depth.saturating_sub(1);
                    newline(&mut out, depth);
                }
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out.push_str(trailing);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indent_matches_go() {
        let body = "{\"name\":\"mychannel\",\"url\":\"/participation/v1/channels/mychannel\",\
                    \"consensusRelation\":\"consenter\",\"status\":\"active\",\"height\":1}\n";
        assert_eq!(
            indent_json(body, "\t"),
            "{\n\t\"name\": \"mychannel\",\n\t\"url\": \"/participation/v1/channels/mychannel\",\
             \n\t\"consensusRelation\": \"consenter\",\n\t\"status\": \"active\",\n\t\"height\": 1\n}\n"
        );
        assert_eq!(
            indent_json(
                "{\"systemChannel\":null,\"channels\":[{\"name\":\"a\",\"url\":\"u\"}]}",
                "\t"
            ),
            "{\n\t\"systemChannel\": null,\n\t\"channels\": [\n\t\t{\n\t\t\t\"name\": \"a\",\n\t\t\t\"url\": \"u\"\n\t\t}\n\t]\n}"
        );
        assert_eq!(
            indent_json(" {\"a\":[],\"b\":{}}", "\t"),
            "{\n\t\"a\": [],\n\t\"b\": {}\n}"
        );
        assert_eq!(
            indent_json("{\"error\":\"a \\\"quoted\\\", {x}: y\"}", "\t"),
            "{\n\t\"error\": \"a \\\"quoted\\\", {x}: y\"\n}"
        );
    }

    #[test]
    fn output_format() {
        assert_eq!(
            response_output(true, StatusCode::NO_CONTENT, b"").expect("output"),
            "Status: 204\n"
        );
        assert_eq!(
            response_output(false, StatusCode::OK, b"{\"a\":1}\n").expect("output"),
            "{\n\t\"a\": 1\n}\n"
        );
        assert!(response_output(true, StatusCode::NOT_FOUND, b"404 page not found\n").is_err());
    }

    #[test]
    fn addresses() {
        assert_eq!(host_of("orderer.example.com:7053"), "orderer.example.com");
        assert_eq!(host_of("[::1]:7053"), "::1");
        assert_eq!(host_of("localhost"), "localhost");
        assert_eq!(with_port("localhost", true), "localhost:443");
        assert_eq!(with_port("[::1]", false), "[::1]:80");
        assert_eq!(with_port("127.0.0.1:7053", true), "127.0.0.1:7053");
        assert_eq!(go_url_error_op(&Method::DELETE), "Delete");
    }

    #[test]
    fn cli_shape() {
        let cli = Cli::try_parse_from([
            "osnadmin",
            "channel",
            "join",
            "--channelID",
            "mychannel",
            "--config-block",
            "b.block",
            "-o",
            "localhost:7053",
            "--ca-file",
            "ca.pem",
            "--client-cert",
            "c.pem",
            "--client-key",
            "k.pem",
        ])
        .expect("parse");
        assert_eq!(cli.orderer_address.as_deref(), Some("localhost:7053"));
        assert!(matches!(
            cli.command,
            Command::Channel(ChannelCommand::Join { ref channel_id, .. }) if channel_id == "mychannel"
        ));
        let cli = Cli::try_parse_from(["osnadmin", "-o", "x:1", "channel", "list", "-c", "ch"])
            .expect("parse");
        assert!(matches!(
            cli.command,
            Command::Channel(ChannelCommand::List {
                channel_id: Some(_)
            })
        ));
        assert!(Cli::try_parse_from(["osnadmin", "channel", "remove"]).is_err());
    }
}
