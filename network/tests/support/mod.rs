//! Running the real `weft` binary: `weft network up` as a child whose stdout lines are
//! collected, stopped by its pid (SIGTERM, which makes it stop its own nodes).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// The `weft` binary under test.
pub fn weft() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_weft"))
}

/// The directory holding `weft`, where the `orderer` and `peer` binaries must be too.
pub fn bin_dir() -> PathBuf {
    let dir = weft().parent().expect("target dir").to_path_buf();
    for name in ["orderer", "peer"] {
        assert!(
            dir.join(name).is_file(),
            "{} is missing: build it first (`cargo build -p weft-peer -p weft-orderer --bins`)",
            dir.join(name).display()
        );
    }
    dir
}

/// asset-transfer-basic built for wasm32 (the workspace's `wasm-release` profile).
pub fn basic_wasm() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace");
    weft_network::package::build_wasm(workspace, Some("asset-transfer-basic"))
        .expect("build asset-transfer-basic for wasm32")
}

/// A running `weft network up`.
#[derive(Debug)]
pub struct Up {
    /// The network directory.
    pub dir: PathBuf,
    child: Option<Child>,
    lines: Receiver<String>,
    /// Every stdout line so far.
    pub output: Vec<String>,
    started: Instant,
}

impl Up {
    /// Starts `weft network up --dir dir` with the prebuilt basic module.
    pub fn start(dir: &Path, wasm: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(weft())
            .args(["network", "up", "--dir"])
            .arg(dir)
            .arg("--basic-wasm")
            .arg(wasm)
            .args(extra)
            .env("WEFT_BIN_DIR", bin_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn weft network up");
        let (tx, rx) = channel();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let tx_err = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                eprintln!("weft| {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("weft!| {line}");
                if tx_err.send(format!("stderr: {line}")).is_err() {
                    break;
                }
            }
        });
        Self {
            dir: dir.to_path_buf(),
            child: Some(child),
            lines: rx,
            output: Vec::new(),
            started: Instant::now(),
        }
    }

    /// Waits for the line containing `ready`; returns the time since the start.
    pub fn wait_ready(&mut self, timeout: Duration) -> Duration {
        let deadline = self.started + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let ready = line.contains("ready");
                    assert!(
                        !line.contains("already"),
                        "a progress line must not contain `ready` before the network is: {line}"
                    );
                    self.output.push(line);
                    if ready {
                        return self.started.elapsed();
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no ready line within {timeout:?}:\n{}\n{}",
                        self.output.join("\n"),
                        self.logs_tail()
                    );
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.as_mut().and_then(|c| c.wait().ok());
                    panic!(
                        "weft network up exited ({status:?}) before ready:\n{}\n{}",
                        self.output.join("\n"),
                        self.logs_tail()
                    );
                }
            }
        }
    }

    /// The last lines of every node log.
    pub fn logs_tail(&self) -> String {
        let mut out = String::new();
        if let Ok(entries) = std::fs::read_dir(self.dir.join("logs")) {
            for entry in entries.flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                out.push_str(&format!("--- {} ---\n", entry.path().display()));
                for line in &lines[lines.len().saturating_sub(40)..] {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out
    }

    /// Sends SIGTERM (by pid) and waits for the exit; returns the status and the lines
    /// printed meanwhile.
    pub fn terminate(&mut self) -> (ExitStatus, Vec<String>) {
        let mut child = self.child.take().expect("running");
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "weft did not exit within 60 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut lines = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            lines.push(line);
        }
        (status, lines)
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
