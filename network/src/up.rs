//! `weft network up`: generate (or resume), start the nodes, join the channel, deploy
//! `basic`, print the `ready` line, stay in the foreground until SIGINT/SIGTERM, then
//! stop every node by pid. Also `down` and `deploy` on a running network.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::channel::{Joined, join_orderer, join_peer};
use crate::client::Clients;
use crate::deploy::{ChaincodeSpec, committed_definition, deploy};
use crate::error::NetworkError;
use crate::layout::{
    CHANNEL, HOST, Layout, ORDERER, ORDERER_ADMIN_PORT, ORDERER_OPERATIONS_PORT, ORDERER_PORT,
    PEERS, all_ports,
};
use crate::process::{self, NodeCommand, RunningNode, STOP_GRACE};
use crate::{config, crypto, package};

/// The chaincode `up` deploys.
pub const BASIC: &str = "basic";
/// How long a node may take to listen after it is started.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Progress lines: `[  1.2s] what happened`, flushed at once.
#[derive(Debug)]
pub struct Progress {
    start: Instant,
}

impl Progress {
    /// A clock starting now.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
        }
    }

    /// Prints one line stamped with the time since the command started.
    pub fn line(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "[{:6.1}s] {text}", self.start.elapsed().as_secs_f64());
        let _ = out.flush();
    }

    /// Time since the command started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

/// Where `up` gets the asset-transfer-basic module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BasicWasm {
    /// A prebuilt `.wasm` file.
    File(PathBuf),
    /// Build `examples/asset-transfer-basic` in the Weft workspace this binary came from.
    BuildFromSource,
}

/// The options of `weft network up`.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// The network directory.
    pub dir: PathBuf,
    /// Remove the directory first.
    pub fresh: bool,
    /// Where the `orderer` and `peer` binaries are (see [`process::bin_dir`]).
    pub bin_dir: Option<PathBuf>,
    /// Where the asset-transfer-basic module comes from.
    pub basic_wasm: BasicWasm,
}

/// `DIR/weft.pid`: the pid of the `weft network up` running on DIR.
fn pid_file(layout: &Layout) -> PathBuf {
    layout.dir().join("weft.pid")
}

/// The pid of a live `weft network up` on `layout`, if any.
pub fn running_pid(layout: &Layout) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(pid_file(layout))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let alive = std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (alive && pid != std::process::id()).then_some(pid)
}

/// `weft network down`: removes the network directory (refused while an `up` runs on it).
pub fn down(dir: &Path) -> Result<bool, NetworkError> {
    let layout = Layout::new(dir);
    if let Some(pid) = running_pid(&layout) {
        return Err(NetworkError::Usage(format!(
            "a `weft network up` (pid {pid}) is running on {}: stop it (Ctrl-C or `kill {pid}`) first",
            layout.dir().display()
        )));
    }
    match std::fs::remove_dir_all(layout.dir()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(NetworkError::io(layout.dir())(e)),
    }
}

/// Reads the asset-transfer-basic module as `source` says.
pub fn basic_module(source: &BasicWasm) -> Result<Vec<u8>, NetworkError> {
    let path = match source {
        BasicWasm::File(path) => path.clone(),
        BasicWasm::BuildFromSource => {
            let workspace = package::source_workspace()
                .filter(|ws| ws.join("examples/asset-transfer-basic/Cargo.toml").is_file())
                .ok_or_else(|| {
                    NetworkError::Chaincode(
                        "asset-transfer-basic's .wasm is needed: pass --basic-wasm FILE (or set WEFT_BASIC_WASM); build it in the Weft repository with `cargo build -p asset-transfer-basic --target wasm32-unknown-unknown --profile wasm-release`".into(),
                    )
                })?;
            package::build_wasm(&workspace, Some("asset-transfer-basic"))?
        }
    };
    std::fs::read(&path).map_err(|e| {
        NetworkError::Chaincode(format!("cannot read the module {}: {e}", path.display()))
    })
}

/// The nodes' commands.
fn node_commands(
    layout: &Layout,
    bin_dir: &Path,
) -> Result<Vec<(NodeCommand, Vec<u16>)>, NetworkError> {
    let orderer = process::binary(bin_dir, "orderer")?;
    let peer = process::binary(bin_dir, "peer")?;
    let mut commands = vec![(
        NodeCommand {
            name: ORDERER.to_owned(),
            program: orderer,
            args: Vec::new(),
            config_dir: layout.config_dir(ORDERER),
            log: layout.log(ORDERER),
        },
        vec![ORDERER_PORT, ORDERER_ADMIN_PORT, ORDERER_OPERATIONS_PORT],
    )];
    for spec in PEERS {
        commands.push((
            NodeCommand {
                name: spec.name(),
                program: peer.clone(),
                args: vec!["node".into(), "start".into()],
                config_dir: layout.config_dir(&spec.name()),
                log: layout.log(&spec.name()),
            },
            vec![spec.port, spec.chaincode_port, spec.operations_port],
        ));
    }
    Ok(commands)
}

/// The endpoints, for the `ready` line.
pub fn endpoints() -> String {
    let peers: Vec<String> = PEERS
        .iter()
        .map(|p| format!("{} {}", p.name(), p.address()))
        .collect();
    format!(
        "orderer {HOST}:{ORDERER_PORT} (admin {HOST}:{ORDERER_ADMIN_PORT}), {}, channel {CHANNEL}",
        peers.join(", ")
    )
}

/// Stops the nodes, peers first, by pid.
async fn stop_all(nodes: &mut Vec<RunningNode>, progress: &Progress) {
    while let Some(mut node) = nodes.pop() {
        let status = node.stop(STOP_GRACE).await;
        progress.line(&format!(
            "stopped {} ({})",
            node.name,
            status.unwrap_or_else(|| "not running".into())
        ));
    }
}

/// If a node has exited, the error naming it and its log.
fn exited_node(nodes: &mut [RunningNode]) -> Option<NetworkError> {
    nodes.iter_mut().find_map(|node| {
        node.exited()
            .map(|status| node.error(format!("exited unexpectedly ({status})")))
    })
}

/// `weft network up`. Returns once the network was stopped by a signal (Ok) or failed.
pub async fn up(options: UpOptions) -> Result<(), NetworkError> {
    let progress = Progress::new();
    let layout = Layout::new(&options.dir);
    let mut signals = Signals::new()?;
    if let Some(pid) = running_pid(&layout) {
        return Err(NetworkError::Usage(format!(
            "a `weft network up` (pid {pid}) is already running on {}",
            layout.dir().display()
        )));
    }
    if options.fresh && layout.dir().exists() {
        std::fs::remove_dir_all(layout.dir()).map_err(NetworkError::io(layout.dir()))?;
        progress.line(&format!("removed {} (--fresh)", layout.dir().display()));
    }
    let bin_dir = process::bin_dir(options.bin_dir.as_deref())?;
    let commands = node_commands(&layout, &bin_dir)?;
    process::check_ports_free(&all_ports())?;

    if layout.is_generated() {
        progress.line(&format!(
            "resuming the network in {}",
            layout.dir().display()
        ));
    } else {
        progress.line(&format!(
            "generating crypto material and the {CHANNEL} genesis block in {}",
            layout.dir().display()
        ));
        crypto::generate(&layout)?;
        progress.line(&format!(
            "generated {} and {}",
            layout.organizations().display(),
            layout.genesis_block().display()
        ));
    }
    config::write_node_configs(&layout)?;
    config::write_connection_profiles(&layout)?;
    std::fs::write(pid_file(&layout), std::process::id().to_string())
        .map_err(NetworkError::io(pid_file(&layout)))?;

    let mut nodes = Vec::new();
    let outcome = tokio::select! {
        outcome = start_and_prepare(&layout, &options, &commands, &mut nodes, &progress) => Some(outcome),
        signal = signals.recv() => {
            progress.line(&format!("{signal} received while starting; stopping"));
            None
        }
    };
    let result = match outcome {
        None => Ok(()),
        Some(Err(error)) => {
            // A node that died explains a failing step better than the step's own error.
            let error = exited_node(&mut nodes).unwrap_or(error);
            Err(error)
        }
        Some(Ok(())) => {
            progress.line(&format!(
                "weft network ready in {:.1}s: {}, chaincode {BASIC}; crypto material in {} (Ctrl-C stops it)",
                progress.elapsed().as_secs_f64(),
                endpoints(),
                layout.organizations().display()
            ));
            loop {
                tokio::select! {
                    signal = signals.recv() => {
                        progress.line(&format!("{signal} received; stopping"));
                        break Ok(());
                    }
                    () = tokio::time::sleep(Duration::from_millis(250)) => {
                        if let Some(error) = exited_node(&mut nodes) {
                            break Err(error);
                        }
                    }
                }
            }
        }
    };
    stop_all(&mut nodes, &progress).await;
    let _ = std::fs::remove_file(pid_file(&layout));
    result
}

/// Starts the nodes and brings the channel and `basic` up (skipping what is done).
async fn start_and_prepare(
    layout: &Layout,
    options: &UpOptions,
    commands: &[(NodeCommand, Vec<u16>)],
    nodes: &mut Vec<RunningNode>,
    progress: &Progress,
) -> Result<(), NetworkError> {
    for (command, _) in commands {
        nodes.push(process::spawn(command)?);
    }
    let waits = nodes
        .iter_mut()
        .zip(commands)
        .map(|(node, (_, ports))| node.wait_listening(ports, START_TIMEOUT));
    for result in futures::future::join_all(waits).await {
        result?;
    }
    let pids: Vec<String> = nodes
        .iter()
        .map(|n| format!("{} (pid {})", n.name, n.pid().unwrap_or_default()))
        .collect();
    progress.line(&format!(
        "started {}; logs in {}",
        pids.join(", "),
        layout.logs().display()
    ));

    let clients = Clients::new(layout)?;
    match join_orderer(layout, &clients.orderer).await? {
        Joined::Now => progress.line(&format!("orderer joined {CHANNEL}")),
        Joined::Already => progress.line(&format!("orderer in {CHANNEL} since an earlier run")),
    }
    for (peer, admin) in clients.peers.iter().zip(&clients.admins) {
        match join_peer(layout, peer, admin).await? {
            Joined::Now => progress.line(&format!("{} joined {CHANNEL}", peer.spec.name())),
            Joined::Already => {
                progress.line(&format!(
                    "{} in {CHANNEL} since an earlier run",
                    peer.spec.name()
                ));
            }
        }
    }

    wait_for_raft_leader(&clients).await?;

    if let Some(definition) = committed_definition(&clients, BASIC).await? {
        progress.line(&format!(
            "chaincode {BASIC} deployed by an earlier run (version {}, sequence {})",
            definition.version, definition.sequence
        ));
        return Ok(());
    }
    progress.line(&format!(
        "deploying chaincode {BASIC} (asset-transfer-basic)"
    ));
    let module = basic_module(&options.basic_wasm)?;
    let spec = ChaincodeSpec {
        name: BASIC.to_owned(),
        version: "1.0".to_owned(),
        sequence: Some(1),
        signature_policy: None,
        module,
    };
    deploy(&clients, &spec, &mut |line| progress.line(line)).await?;
    Ok(())
}

/// Waits (up to 30 s) until the orderer leads `mychannel`'s Raft group, from its
/// operations endpoint's `consensus_etcdraft_is_leader` metric: before that, Broadcast
/// answers SERVICE_UNAVAILABLE, and `ready` promises that a client can submit.
async fn wait_for_raft_leader(clients: &Clients) -> Result<(), NetworkError> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], ORDERER_OPERATIONS_PORT));
    let wanted = format!("consensus_etcdraft_is_leader{{channel=\"{CHANNEL}\"}} 1");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let last = match weft_common::operations::client::request(
            addr,
            None,
            "GET".parse().unwrap_or_default(),
            "/metrics",
            Vec::new(),
        )
        .await
        {
            Ok(reply) if reply.text().lines().any(|l| l.trim() == wanted) => return Ok(()),
            Ok(reply) => format!("no `{wanted}` in /metrics ({})", reply.status),
            Err(e) => e,
        };
        if Instant::now() > deadline {
            return Err(NetworkError::Step {
                step: format!("wait for the orderer to lead {CHANNEL}"),
                reason: last,
                log: Some(clients.orderer.log.clone()),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The options of `weft network deploy`.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// The network directory.
    pub dir: PathBuf,
    /// The chaincode name.
    pub name: String,
    /// A prebuilt module, or a crate to build.
    pub source: ModuleSource,
    /// The version.
    pub version: String,
    /// The sequence (`None`: next).
    pub sequence: Option<i64>,
    /// A signature policy for endorsement.
    pub signature_policy: Option<String>,
}

/// Where `deploy` gets the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleSource {
    /// A `.wasm` file.
    Wasm(PathBuf),
    /// A crate directory built with `cargo build --target wasm32-unknown-unknown
    /// --profile wasm-release`.
    Crate(PathBuf),
}

/// `weft network deploy`: deploys a chaincode on the running network under `dir`.
pub async fn deploy_command(options: DeployOptions) -> Result<(), NetworkError> {
    let progress = Progress::new();
    let layout = Layout::new(&options.dir);
    if !layout.is_generated() {
        return Err(NetworkError::Usage(format!(
            "no network in {}: start one with `weft network up --dir {}`",
            layout.dir().display(),
            options.dir.display()
        )));
    }
    if std::net::TcpStream::connect((HOST, ORDERER_PORT)).is_err() {
        return Err(NetworkError::Usage(format!(
            "the network in {} is not running (nothing listens on {HOST}:{ORDERER_PORT}): start it with `weft network up --dir {}`",
            layout.dir().display(),
            options.dir.display()
        )));
    }
    let path = match &options.source {
        ModuleSource::Wasm(path) => path.clone(),
        ModuleSource::Crate(dir) => {
            progress.line(&format!(
                "building {} for wasm32-unknown-unknown",
                dir.display()
            ));
            package::build_wasm(dir, None)?
        }
    };
    let module = std::fs::read(&path)
        .map_err(|e| NetworkError::Chaincode(format!("cannot read {}: {e}", path.display())))?;
    progress.line(&format!(
        "deploying {} from {} ({} bytes)",
        options.name,
        path.display(),
        module.len()
    ));
    let clients = Clients::new(&layout)?;
    let spec = ChaincodeSpec {
        name: options.name.clone(),
        version: options.version.clone(),
        sequence: options.sequence,
        signature_policy: options.signature_policy.clone(),
        module,
    };
    let (id, sequence) = deploy(&clients, &spec, &mut |line| progress.line(line)).await?;
    progress.line(&format!(
        "chaincode {} deployed on {CHANNEL}: package {id}, sequence {sequence} ({:.1}s)",
        options.name,
        progress.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// SIGINT and SIGTERM.
#[derive(Debug)]
struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    fn new() -> Result<Self, NetworkError> {
        let install = |kind| signal(kind).map_err(NetworkError::io("signal handler"));
        Ok(Self {
            interrupt: install(SignalKind::interrupt())?,
            terminate: install(SignalKind::terminate())?,
        })
    }

    /// The next signal's name.
    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}
