//! `peer lifecycle chaincode package` and `calculatepackageid`, as Fabric's
//! `package.go` and `calculatepackageid.go`, over [`crate::chaincode::package`].
//!
//! Weft's package types: `wasm` (`--path` a `.wasm` module, or a crate directory built
//! first with `cargo build --target wasm32-unknown-unknown --profile wasm-release`) and
//! `ccaas`/`external` (`--path` a directory holding `connection.json`, packaged with every
//! file under it, as Fabric's external builders expect). Fabric's `golang`, `node`, `java`
//! and `car` are refused: Weft runs no chaincode containers.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::chaincode::package::{ChaincodePackage, package_id, validate_label};
use crate::cli::CliError;
use crate::cli::args::{CalculatePackageIdArgs, PackageArgs};
use crate::cli::client::go_io_error;

/// The target WASM contracts are built for.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The cargo profile WASM contracts are built with (small modules).
pub const WASM_PROFILE: &str = "wasm-release";

/// `peer lifecycle chaincode package OUT --path P --lang L --label LABEL`.
pub fn package(args: &PackageArgs) -> Result<(), CliError> {
    let [output] = args.args.as_slice() else {
        return Err(CliError::Usage(
            "invalid number of args. expected only the output file".into(),
        ));
    };
    if args.path.is_empty() {
        return Err(CliError::Usage("chaincode path must be specified".into()));
    }
    if args.lang.is_empty() {
        return Err(CliError::Usage(
            "chaincode language must be specified".into(),
        ));
    }
    if output.is_empty() {
        return Err(CliError::Usage("output file must be specified".into()));
    }
    if args.label.is_empty() {
        return Err(CliError::Usage("package label must be specified".into()));
    }
    validate_label(&args.label).map_err(|e| CliError::Usage(e.to_string()))?;
    let bytes = package_bytes(&args.lang, &args.path, &args.label)?;
    std::fs::write(output, bytes).map_err(|e| {
        CliError::Io(format!(
            "error writing chaincode package to {output}: {}",
            go_io_error("open", Path::new(output), &e)
        ))
    })
}

/// The package bytes for `lang` at `path` labelled `label`.
pub fn package_bytes(lang: &str, path: &str, label: &str) -> Result<Vec<u8>, CliError> {
    let code_error = |e: String| CliError::Io(format!("error getting chaincode bytes: {e}"));
    let files: Vec<(String, Vec<u8>)> = match lang.to_ascii_uppercase().as_str() {
        "WASM" => {
            let module = wasm_module_path(Path::new(path)).map_err(code_error)?;
            let wasm =
                std::fs::read(&module).map_err(|e| code_error(go_io_error("open", &module, &e)))?;
            if !wasm.starts_with(b"\0asm") {
                return Err(code_error(format!(
                    "{} is not a WebAssembly module",
                    module.display()
                )));
            }
            let name = module.file_name().map_or_else(
                || "chaincode.wasm".into(),
                |n| n.to_string_lossy().into_owned(),
            );
            vec![(name, wasm)]
        }
        "CCAAS" | "EXTERNAL" => {
            let dir = Path::new(path);
            if !dir.join("connection.json").is_file() {
                return Err(code_error(format!(
                    "{} holds no connection.json",
                    dir.display()
                )));
            }
            directory_files(dir).map_err(code_error)?
        }
        other => {
            return Err(CliError::Usage(format!(
                "failed to normalize chaincode path: unknown chaincodeType: {other} (Weft \
                 packages wasm, ccaas and external chaincode)"
            )));
        }
    };
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    ChaincodePackage::build(lang, label, path, &refs)
        .map_err(|e| CliError::Io(format!("failed to create tar for chaincode: {e}")))
}

/// The module to package: `path` itself when it is a file, else the `.wasm` built from
/// the crate in directory `path`.
fn wasm_module_path(path: &Path) -> Result<PathBuf, String> {
    let meta = std::fs::metadata(path).map_err(|e| go_io_error("stat", path, &e))?;
    if meta.is_file() {
        return Ok(path.to_path_buf());
    }
    build_crate(path)
}

/// Builds the crate in `dir` for wasm32 (honouring `CARGO_TARGET_DIR`) and returns the
/// path of its module.
pub fn build_crate(dir: &Path) -> Result<PathBuf, String> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(format!(
            "{} is neither a .wasm module nor a crate directory (no Cargo.toml)",
            dir.display()
        ));
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let metadata = Command::new(&cargo)
        .current_dir(dir)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if !metadata.status.success() {
        return Err(format!("cargo metadata failed in {}", dir.display()));
    }
    let metadata: serde_json::Value = serde_json::from_slice(&metadata.stdout)
        .map_err(|e| format!("could not read cargo metadata: {e}"))?;
    let target_dir = metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .ok_or("cargo metadata names no target directory")?;
    let canonical = std::fs::canonicalize(&manifest).unwrap_or(manifest.clone());
    let lib_name = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| {
            p["manifest_path"]
                .as_str()
                .is_some_and(|m| std::fs::canonicalize(m).unwrap_or_else(|_| m.into()) == canonical)
        })
        .and_then(|p| {
            p["targets"].as_array().into_iter().flatten().find(|t| {
                t["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "cdylib"))
            })
        })
        .and_then(|t| t["name"].as_str())
        .map(|n| n.replace('-', "_"))
        .ok_or_else(|| format!("the crate in {} has no cdylib target", dir.display()))?;
    let status = Command::new(&cargo)
        .current_dir(dir)
        .args(["build", "--target", WASM_TARGET, "--profile", WASM_PROFILE])
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "cargo build --target {WASM_TARGET} --profile {WASM_PROFILE} failed in {}",
            dir.display()
        ));
    }
    Ok(target_dir
        .join(WASM_TARGET)
        .join(WASM_PROFILE)
        .join(format!("{lib_name}.wasm")))
}

/// Every regular file under `dir`, by path relative to it, sorted.
fn directory_files(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current).map_err(|e| go_io_error("open", &current, &e))?;
        for entry in entries {
            let entry = entry.map_err(|e| e.to_string())?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| e.to_string())?;
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() {
                let data = std::fs::read(&path).map_err(|e| go_io_error("open", &path, &e))?;
                let name = path
                    .strip_prefix(dir)
                    .map_err(|e| e.to_string())?
                    .to_string_lossy()
                    .into_owned();
                files.push((name, data));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// `peer lifecycle chaincode calculatepackageid FILE [--output json]`: prints the
/// package id (`label:sha256`).
pub fn calculate_package_id(args: &CalculatePackageIdArgs) -> Result<String, CliError> {
    let [file] = args.args.as_slice() else {
        return Err(CliError::Usage(
            "invalid number of args. expected only the packaged chaincode file".into(),
        ));
    };
    if file.is_empty() {
        return Err(CliError::Usage(
            "chaincode install package must be provided".into(),
        ));
    }
    let bytes = std::fs::read(file).map_err(|e| {
        CliError::Io(format!(
            "failed to read chaincode package at '{file}': {}",
            go_io_error("open", Path::new(file), &e)
        ))
    })?;
    let parsed = ChaincodePackage::parse(&bytes).map_err(|e| {
        CliError::Response(format!(
            "could not parse as a chaincode install package: {e}"
        ))
    })?;
    let id = package_id(&parsed.metadata.label, &bytes);
    if args.output.eq_ignore_ascii_case("json") {
        Ok(format!(
            "{{\n\t\"package_id\": {}\n}}\n",
            serde_json::Value::String(id)
        ))
    } else {
        Ok(format!("{id}\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(out: &str, lang: &str, path: &str, label: &str) -> PackageArgs {
        PackageArgs {
            args: vec![out.into()],
            lang: lang.into(),
            path: path.into(),
            label: label.into(),
            ..PackageArgs::default()
        }
    }

    #[test]
    fn wasm_module_is_packaged_in_fabrics_format() {
        let dir = tempfile::tempdir().expect("tempdir");
        let module = dir.path().join("basic.wasm");
        std::fs::write(&module, b"\0asm\x01\0\0\0").expect("module");
        let out = dir.path().join("basic.tar.gz");
        let out_s = out.display().to_string();
        package(&args(
            &out_s,
            "wasm",
            &module.display().to_string(),
            "basic_1.0",
        ))
        .expect("package");
        let bytes = std::fs::read(&out).expect("package file");
        let parsed = ChaincodePackage::parse(&bytes).expect("parses");
        assert_eq!(parsed.metadata.kind, "wasm");
        assert_eq!(parsed.metadata.label, "basic_1.0");
        assert_eq!(parsed.wasm_module().expect("module"), b"\0asm\x01\0\0\0");
        let id = calculate_package_id(&CalculatePackageIdArgs {
            args: vec![out_s.clone()],
            ..CalculatePackageIdArgs::default()
        })
        .expect("id");
        assert_eq!(id, format!("{}\n", package_id("basic_1.0", &bytes)));
        let json = calculate_package_id(&CalculatePackageIdArgs {
            args: vec![out_s],
            output: "JSON".into(),
            ..CalculatePackageIdArgs::default()
        })
        .expect("json");
        assert_eq!(
            json,
            format!(
                "{{\n\t\"package_id\": \"{}\"\n}}\n",
                package_id("basic_1.0", &bytes)
            )
        );
        // Packaging is deterministic: the same inputs give the same id.
        let again =
            package_bytes("wasm", &module.display().to_string(), "basic_1.0").expect("again");
        assert_eq!(again, bytes);
    }

    #[test]
    fn ccaas_directory_is_packaged_with_connection_json() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("connection.json"),
            br#"{"address":"cc:9999","dial_timeout":"10s","tls_required":false}"#,
        )
        .expect("connection.json");
        let bytes = package_bytes("ccaas", &dir.path().display().to_string(), "basic_ccaas")
            .expect("package");
        let parsed = ChaincodePackage::parse(&bytes).expect("parses");
        assert_eq!(parsed.metadata.kind, "ccaas");
        let files = parsed.code_files().expect("code");
        assert!(files.contains_key("connection.json"), "{:?}", files.keys());

        let empty = tempfile::tempdir().expect("tempdir");
        let err = package_bytes("external", &empty.path().display().to_string(), "x")
            .expect_err("no connection.json");
        assert!(
            err.to_string()
                .starts_with("error getting chaincode bytes: "),
            "{err}"
        );
    }

    #[test]
    fn package_errors_are_fabrics() {
        let err = |a: PackageArgs| package(&a).expect_err("refused").to_string();
        assert_eq!(
            err(PackageArgs::default()),
            "invalid number of args. expected only the output file"
        );
        assert_eq!(
            err(args("o.tgz", "wasm", "", "l")),
            "chaincode path must be specified"
        );
        assert_eq!(
            err(args("o.tgz", "wasm", "p", "")),
            "package label must be specified"
        );
        assert_eq!(
            err(args("o.tgz", "wasm", "p", "-bad")),
            "invalid label '-bad'. Label must be non-empty, can only consist of alphanumerics, \
             symbols from '.+-_', and can only begin with alphanumerics"
        );
        assert!(err(args("o.tgz", "golang", "p", "l")).contains("unknown chaincodeType: GOLANG"));
        let missing = calculate_package_id(&CalculatePackageIdArgs {
            args: vec!["/nonexistent/p.tar.gz".into()],
            ..CalculatePackageIdArgs::default()
        })
        .expect_err("missing");
        assert_eq!(
            missing.to_string(),
            "failed to read chaincode package at '/nonexistent/p.tar.gz': open \
             /nonexistent/p.tar.gz: no such file or directory"
        );
    }
}
