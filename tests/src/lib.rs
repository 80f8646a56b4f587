//! Helpers shared by the integration tests in `tests/tests/`.
//!
//! The interop tests drive the official Fabric Node packages installed in
//! `tests/interop/node_modules` (by `npm ci` there; `.ci/run` does it through
//! `scripts/setup`). The scripts in `tests/interop/*.mjs` take one argument, the path of a
//! JSON input file, and print one JSON document on stdout; they exit non-zero with a
//! message on stderr on any mismatch.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root of the checkout the tests run from.
///
/// Found at run time from the `CARGO_MANIFEST_DIR` that cargo and nextest set for test
/// processes: the compile-time value can name another checkout when several share one
/// target directory (as CI and development sessions do).
pub fn workspace_root() -> PathBuf {
    let package = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    package
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .unwrap_or_else(|| panic!("no Cargo.lock above {}", package.display()))
        .to_path_buf()
}

/// The directory holding the Node interop scripts and their `package.json`.
pub fn interop_dir() -> PathBuf {
    workspace_root().join("tests").join("interop")
}

/// Panics (failing the test, never skipping it) unless the Node packages are installed.
pub fn require_node_modules() {
    let modules = interop_dir().join("node_modules");
    for package in [
        "@hyperledger/fabric-gateway",
        "@hyperledger/fabric-protos",
        "@grpc/grpc-js",
    ] {
        assert!(
            modules.join(package).join("package.json").is_file(),
            "{} is missing: run `npm ci` in tests/interop; .ci/run does it",
            modules.join(package).display()
        );
    }
}

/// A `node` command that runs `tests/interop/<name>` from that directory, after
/// checking that the Node packages are installed.
pub fn node_script(name: &str) -> Command {
    require_node_modules();
    let dir = interop_dir();
    let script = dir.join(name);
    assert!(script.is_file(), "no interop script {}", script.display());
    let mut command = Command::new("node");
    command.arg(script).current_dir(dir);
    command
}

/// Runs `tests/interop/<name>` with the JSON input file `input` and returns its stdout.
///
/// Panics with the script's stderr when it cannot start or exits unsuccessfully.
pub fn run_node_script(name: &str, input: &Path) -> String {
    let output = node_script(name)
        .arg(input)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `node` for {name}: {e} (Node 20 must be on PATH)"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{name} failed ({}):\n{stderr}",
        output.status
    );
    String::from_utf8(output.stdout)
        .unwrap_or_else(|e| panic!("{name} printed non-UTF-8 output: {e}"))
}
