//! The node processes: finding the sibling binaries, checking ports, spawning each node
//! in its own process group with its output in `logs/<node>.log`, waiting until it
//! listens, and stopping it by pid (SIGTERM, then SIGKILL after a grace period).

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::NetworkError;
use crate::layout::HOST;

/// How long a stopped node gets to exit after SIGTERM before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// Where the `orderer` and `peer` binaries are: `--bin-dir`, else `WEFT_BIN_DIR`, else
/// the directory of the running `weft` executable (cargo's target directory).
pub fn bin_dir(flag: Option<&Path>) -> Result<PathBuf, NetworkError> {
    if let Some(dir) = flag {
        return Ok(dir.to_path_buf());
    }
    if let Some(dir) = std::env::var_os("WEFT_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().map_err(NetworkError::io("current executable"))?;
    Ok(exe
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".")))
}

/// The path of binary `name` in `dir`, checked to exist.
pub fn binary(dir: &Path, name: &str) -> Result<PathBuf, NetworkError> {
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(NetworkError::MissingBinary {
            name: name.to_owned(),
            path,
        })
    }
}

/// Fails with the first port of `ports` that cannot be bound on 127.0.0.1.
pub fn check_ports_free(ports: &[(u16, String)]) -> Result<(), NetworkError> {
    for (port, what) in ports {
        if TcpListener::bind((HOST, *port)).is_err() {
            return Err(NetworkError::PortInUse {
                port: *port,
                what: what.clone(),
            });
        }
    }
    Ok(())
}

/// What to run for one node.
#[derive(Debug, Clone)]
pub struct NodeCommand {
    /// The node's name (`orderer.example.com`).
    pub name: String,
    /// The binary.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Its `FABRIC_CFG_PATH`.
    pub config_dir: PathBuf,
    /// Its log file (appended to).
    pub log: PathBuf,
}

/// A running node process, stopped (SIGTERM by pid) when dropped.
#[derive(Debug)]
pub struct RunningNode {
    /// The node's name.
    pub name: String,
    /// Its log file.
    pub log: PathBuf,
    child: Option<Child>,
}

/// Starts `command` in a new process group (so a terminal's Ctrl-C reaches `weft`, which
/// stops the nodes in order), with `FABRIC_CFG_PATH` set to its config directory and
/// every inherited `CORE_*` / `ORDERER_*` override removed (the files are the truth).
pub fn spawn(command: &NodeCommand) -> Result<RunningNode, NetworkError> {
    if let Some(parent) = command.log.parent() {
        std::fs::create_dir_all(parent).map_err(NetworkError::io(parent))?;
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&command.log)
        .map_err(NetworkError::io(&command.log))?;
    let log_err = log.try_clone().map_err(NetworkError::io(&command.log))?;
    let mut cmd = Command::new(&command.program);
    cmd.args(&command.args);
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if key_text.starts_with("CORE_") || key_text.starts_with("ORDERER_") {
            cmd.env_remove(&key);
        }
    }
    cmd.env("FABRIC_CFG_PATH", &command.config_dir)
        .env(
            "FABRIC_LOGGING_SPEC",
            std::env::var("FABRIC_LOGGING_SPEC").unwrap_or_else(|_| "info".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .process_group(0);
    let child = cmd.spawn().map_err(|e| NetworkError::Node {
        node: command.name.clone(),
        reason: format!("could not start {}: {e}", command.program.display()),
        log: command.log.clone(),
    })?;
    Ok(RunningNode {
        name: command.name.clone(),
        log: command.log.clone(),
        child: Some(child),
    })
}

impl RunningNode {
    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `Some(description)` when the process has exited.
    pub fn exited(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("cannot be waited for: {e}")),
        }
    }

    /// An error about this node, naming its log.
    pub fn error(&self, reason: impl Into<String>) -> NetworkError {
        NetworkError::Node {
            node: self.name.clone(),
            reason: reason.into(),
            log: self.log.clone(),
        }
    }

    /// Waits until the node accepts TCP connections on every port of `ports`, failing if
    /// it exits or `timeout` passes.
    pub async fn wait_listening(
        &mut self,
        ports: &[u16],
        timeout: Duration,
    ) -> Result<(), NetworkError> {
        let deadline = Instant::now() + timeout;
        for port in ports {
            loop {
                if let Some(status) = self.exited() {
                    return Err(self.error(format!("exited ({status}) while starting")));
                }
                if TcpStream::connect((HOST, *port)).is_ok() {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(self.error(format!(
                        "did not listen on {HOST}:{port} within {} s",
                        timeout.as_secs()
                    )));
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
        Ok(())
    }

    /// Stops the process: SIGTERM by pid, then SIGKILL after `grace`; returns how it
    /// exited.
    pub async fn stop(&mut self, grace: Duration) -> Option<String> {
        let mut child = self.child.take()?;
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status.to_string());
        }
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + grace;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Some(status.to_string()),
                Ok(None) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                _ => {
                    let _ = child.kill();
                    return child
                        .wait()
                        .ok()
                        .map(|s| format!("{s} (killed after {} s)", grace.as_secs()));
                }
            }
        }
    }
}

impl Drop for RunningNode {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
