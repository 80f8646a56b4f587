//! Chaincode packages in Fabric's format, type `wasm` (`metadata.json` + `code.tar.gz`
//! holding one `.wasm` module; package id `label:hex(SHA-256(package))`), and building a
//! contract crate for `wasm32-unknown-unknown` with the workspace's `wasm-release`
//! profile.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use flate2::Compression;
use flate2::write::GzEncoder;
use weft_common::crypto::sha256;

use crate::error::NetworkError;

/// The package type of a WASM chaincode.
pub const WASM_TYPE: &str = "wasm";

/// A gzipped tar of `files` (mode 0644, time 0, in order): deterministic bytes, so the
/// same module always gives the same package id.
fn tar_gz(files: &[(&str, &[u8])]) -> Result<Vec<u8>, NetworkError> {
    let io = |e: std::io::Error| NetworkError::Chaincode(format!("building the package: {e}"));
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    for (name, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, name, *data).map_err(io)?;
    }
    let mut bytes = builder.into_inner().map_err(io)?.finish().map_err(io)?;
    bytes.flush().map_err(io)?;
    Ok(bytes)
}

/// A `wasm` package labelled `label` holding `module` as `<name>.wasm`.
pub fn wasm_package(label: &str, name: &str, module: &[u8]) -> Result<Vec<u8>, NetworkError> {
    let valid = label
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".+-_".contains(c));
    if !valid {
        return Err(NetworkError::Chaincode(format!(
            "invalid label '{label}'. Label must be non-empty, can only consist of alphanumerics, symbols from '.+-_', and can only begin with alphanumerics"
        )));
    }
    if !module.starts_with(b"\0asm") {
        return Err(NetworkError::Chaincode(format!(
            "the module for '{name}' is not WebAssembly (no \\0asm header)"
        )));
    }
    let metadata = serde_json::json!({ "path": "", "type": WASM_TYPE, "label": label }).to_string();
    let code = tar_gz(&[(&format!("{name}.wasm"), module)])?;
    tar_gz(&[
        ("metadata.json", metadata.as_bytes()),
        ("code.tar.gz", &code),
    ])
}

/// `label:hex(SHA-256(package))`.
pub fn package_id(label: &str, package: &[u8]) -> String {
    format!("{label}:{}", hex::encode(sha256(package)))
}

/// The workspace this binary was built from, when it is still there (running from the
/// repository).
pub fn source_workspace() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()?
        .to_path_buf();
    dir.join("Cargo.toml").is_file().then_some(dir)
}

/// Builds the contract crate at `crate_dir` (or package `package` of a workspace when
/// `crate_dir` is a workspace root) for `wasm32-unknown-unknown` with
/// `--profile wasm-release`, and returns the `.wasm` artifact's path (from cargo's JSON
/// messages).
pub fn build_wasm(crate_dir: &Path, package: Option<&str>) -> Result<PathBuf, NetworkError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(crate_dir).args([
        "build",
        "--target",
        "wasm32-unknown-unknown",
        "--profile",
        "wasm-release",
        "--message-format=json-render-diagnostics",
    ]);
    if let Some(package) = package {
        cmd.args(["-p", package]);
    } else {
        cmd.args(["--manifest-path", "Cargo.toml"]);
    }
    let output = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| {
            NetworkError::Chaincode(format!(
                "could not run cargo in {}: {e}",
                crate_dir.display()
            ))
        })?;
    if !output.status.success() {
        return Err(NetworkError::Chaincode(format!(
            "`cargo build --target wasm32-unknown-unknown --profile wasm-release` failed in {} ({}); is the target installed (`rustup target add wasm32-unknown-unknown`)?",
            crate_dir.display(),
            output.status
        )));
    }
    let mut found = None;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let matches = package.is_none_or(|p| {
            message["target"]["name"]
                .as_str()
                .map(|n| n.replace('-', "_"))
                == Some(p.replace('-', "_"))
        });
        if !matches {
            continue;
        }
        if let Some(files) = message["filenames"].as_array() {
            for file in files.iter().filter_map(|f| f.as_str()) {
                if file.ends_with(".wasm") {
                    found = Some(PathBuf::from(file));
                }
            }
        }
    }
    found.ok_or_else(|| {
        NetworkError::Chaincode(format!(
            "cargo built no .wasm module in {} (is the crate a `cdylib`?)",
            crate_dir.display()
        ))
    })
}
