//! Chaincode packages in Fabric's format, and the store of installed ones.
//!
//! A package is a gzipped tar holding `metadata.json` (`{"path", "type", "label"}`) and
//! `code.tar.gz`. Its id is `label:hex(SHA-256(package bytes))`; installed packages live
//! in `<peer.fileSystemPath>/lifecycle/chaincodes/<label>.<hash>.tar.gz`, as in Fabric.
//! Weft's own type is `wasm`: `code.tar.gz` holds one `.wasm` module. `ccaas` packages hold
//! `connection.json` (the chaincode server the peer dials).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use weft_common::crypto::sha256;

/// The metadata file at the top of a package.
pub const METADATA_FILE: &str = "metadata.json";
/// The code archive at the top of a package.
pub const CODE_PACKAGE_FILE: &str = "code.tar.gz";
/// The package type of a WASM chaincode.
pub const WASM_TYPE: &str = "wasm";
/// The package type of a chaincode server the peer dials.
pub const CCAAS_TYPE: &str = "ccaas";

/// Why a package was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageError {
    /// The bytes are not a package (Fabric's messages).
    #[error("{0}")]
    Malformed(String),
    /// The label breaks Fabric's rule.
    #[error(
        "invalid label '{0}'. Label must be non-empty, can only consist of alphanumerics, symbols from '.+-_', and can only begin with alphanumerics"
    )]
    InvalidLabel(String),
    /// No such installed package.
    #[error("chaincode install package '{0}' not found")]
    NotFound(String),
    /// The file system failed.
    #[error("{0}")]
    Io(String),
}

/// `metadata.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PackageMetadata {
    /// The source path the package was built from (informational).
    #[serde(default)]
    pub path: String,
    /// The chaincode type: `wasm`, `ccaas`, `golang`, `node`, …
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The label, the first half of the package id.
    #[serde(default)]
    pub label: String,
}

/// A parsed package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChaincodePackage {
    /// Its metadata.
    pub metadata: PackageMetadata,
    /// The bytes of `code.tar.gz`.
    pub code: Vec<u8>,
}

/// Fabric's label rule: `^[[:alnum:]][[:alnum:]_.+-]*$`.
pub fn validate_label(label: &str) -> Result<(), PackageError> {
    let mut chars = label.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c));
    if valid {
        Ok(())
    } else {
        Err(PackageError::InvalidLabel(label.to_owned()))
    }
}

/// The package id of `package` under `label`: `label:hex(SHA-256(package))`.
pub fn package_id(label: &str, package: &[u8]) -> String {
    format!("{label}:{}", hex::encode(sha256(package)))
}

/// The regular files of a gzipped tar, by name.
pub fn untar_gz(bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, PackageError> {
    let mut archive = tar::Archive::new(GzDecoder::new(bytes));
    let mut files = BTreeMap::new();
    let entries = archive
        .entries()
        .map_err(|e| PackageError::Malformed(format!("error reading as gzip stream: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| {
            PackageError::Malformed(format!("error inspecting next tar header: {e}"))
        })?;
        let name = entry.path().map_or_else(
            |_| String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
            |p| p.to_string_lossy().into_owned(),
        );
        if !entry.header().entry_type().is_file() {
            if entry.header().entry_type().is_dir() {
                continue;
            }
            return Err(PackageError::Malformed(format!(
                "tar entry {name} is not a regular file, type {:?}",
                entry.header().entry_type()
            )));
        }
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|e| PackageError::Malformed(format!("could not read {name} from tar: {e}")))?;
        files.insert(name, data);
    }
    Ok(files)
}

/// A gzipped tar of `files` (mode 0644, fixed times, in the given order).
pub fn tar_gz(files: &[(&str, &[u8])]) -> Result<Vec<u8>, PackageError> {
    let io = |e: std::io::Error| PackageError::Io(e.to_string());
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    for (name, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, name, *data).map_err(io)?;
    }
    let encoder = builder.into_inner().map_err(io)?;
    let mut bytes = encoder.finish().map_err(io)?;
    bytes.flush().map_err(io)?;
    Ok(bytes)
}

impl ChaincodePackage {
    /// Parses package bytes as Fabric's `ParseChaincodePackage` does.
    pub fn parse(bytes: &[u8]) -> Result<Self, PackageError> {
        let files = untar_gz(bytes)?;
        let metadata = files
            .get(METADATA_FILE)
            .map(|raw| {
                serde_json::from_slice::<PackageMetadata>(raw).map_err(|e| {
                    PackageError::Malformed(format!(
                        "could not unmarshal {METADATA_FILE} as json: {e}"
                    ))
                })
            })
            .transpose()?;
        let code = files.get(CODE_PACKAGE_FILE).cloned().ok_or_else(|| {
            PackageError::Malformed("did not find a code package inside the package".into())
        })?;
        let metadata = metadata.ok_or_else(|| {
            PackageError::Malformed(format!(
                "did not find any package metadata (missing {METADATA_FILE})"
            ))
        })?;
        validate_label(&metadata.label)?;
        Ok(Self { metadata, code })
    }

    /// Builds a package of type `kind` labelled `label` around `code_files`.
    pub fn build(
        kind: &str,
        label: &str,
        path: &str,
        code_files: &[(&str, &[u8])],
    ) -> Result<Vec<u8>, PackageError> {
        validate_label(label)?;
        let metadata = serde_json::to_vec(&PackageMetadata {
            path: path.to_owned(),
            kind: kind.to_owned(),
            label: label.to_owned(),
        })
        .map_err(|e| PackageError::Io(e.to_string()))?;
        let code = tar_gz(code_files)?;
        tar_gz(&[(METADATA_FILE, &metadata), (CODE_PACKAGE_FILE, &code)])
    }

    /// The files of `code.tar.gz`.
    pub fn code_files(&self) -> Result<BTreeMap<String, Vec<u8>>, PackageError> {
        untar_gz(&self.code)
    }

    /// The WASM module of a `wasm` package: its one `*.wasm` file.
    pub fn wasm_module(&self) -> Result<Vec<u8>, PackageError> {
        let mut modules: Vec<(String, Vec<u8>)> = self
            .code_files()?
            .into_iter()
            .filter(|(name, _)| name.ends_with(".wasm"))
            .collect();
        match modules.len() {
            1 => Ok(modules.remove(0).1),
            0 => Err(PackageError::Malformed(
                "the wasm package's code.tar.gz holds no .wasm module".into(),
            )),
            n => Err(PackageError::Malformed(format!(
                "the wasm package's code.tar.gz holds {n} .wasm modules; expected one"
            ))),
        }
    }
}

/// Installed packages on disk, Fabric's layout.
#[derive(Debug, Clone)]
pub struct PackageStore {
    dir: PathBuf,
}

/// One installed package, as listed from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledPackage {
    /// `label:hash`.
    pub package_id: String,
    /// The label.
    pub label: String,
}

impl PackageStore {
    /// The store in `dir` (created when missing).
    pub fn open(dir: &Path) -> Result<Self, PackageError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| PackageError::Io(format!("could not create {}: {e}", dir.display())))?;
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    /// The store under a peer's `fileSystemPath`.
    pub fn under(file_system_path: &Path) -> Result<Self, PackageError> {
        Self::open(&file_system_path.join("lifecycle").join("chaincodes"))
    }

    /// The directory holding the packages.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file_of(&self, package_id: &str) -> PathBuf {
        self.dir
            .join(format!("{}.tar.gz", package_id.replacen(':', ".", 1)))
    }

    /// Parses and saves `bytes`; returns the package id and the parsed package. Saving
    /// an already installed package changes nothing.
    pub fn save(&self, bytes: &[u8]) -> Result<(String, ChaincodePackage), PackageError> {
        let package = ChaincodePackage::parse(bytes)?;
        let id = package_id(&package.metadata.label, bytes);
        let path = self.file_of(&id);
        if !path.exists() {
            let tmp = path.with_extension("partial");
            let io = |e: std::io::Error| {
                PackageError::Io(format!(
                    "error writing chaincode install package to {}: {e}",
                    path.display()
                ))
            };
            std::fs::write(&tmp, bytes).map_err(io)?;
            std::fs::rename(&tmp, &path).map_err(io)?;
        }
        Ok((id, package))
    }

    /// The bytes of installed package `package_id`.
    pub fn load(&self, package_id: &str) -> Result<Vec<u8>, PackageError> {
        let path = self.file_of(package_id);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(PackageError::NotFound(package_id.to_owned()))
            }
            Err(e) => Err(PackageError::Io(format!(
                "error reading chaincode install package at {}: {e}",
                path.display()
            ))),
        }
    }

    /// Removes installed package `package_id` (a package whose build failed, as Fabric's
    /// install does); removing an absent package is not an error.
    pub fn delete(&self, package_id: &str) -> Result<(), PackageError> {
        let path = self.file_of(package_id);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(PackageError::Io(format!(
                "error removing chaincode install package at {}: {e}",
                path.display()
            ))),
        }
    }

    /// Whether `package_id` is installed.
    pub fn contains(&self, package_id: &str) -> bool {
        self.file_of(package_id).exists()
    }

    /// Every installed package, by id.
    pub fn list(&self) -> Result<Vec<InstalledPackage>, PackageError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| {
            PackageError::Io(format!(
                "error reading chaincode directory at {}: {e}",
                self.dir.display()
            ))
        })?;
        let mut installed = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".tar.gz") else {
                continue;
            };
            let Some((label, hash)) = stem.rsplit_once('.') else {
                continue;
            };
            let is_hash = hash.len() == 64
                && hash
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if is_hash && !label.is_empty() {
                installed.push(InstalledPackage {
                    package_id: format!("{label}:{hash}"),
                    label: label.to_owned(),
                });
            }
        }
        installed.sort_by(|a, b| a.package_id.cmp(&b.package_id));
        Ok(installed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_parse_and_store_round_trip() {
        let wasm = b"\0asm\x01\0\0\0".as_slice();
        let bytes = ChaincodePackage::build(WASM_TYPE, "basic_1.0", "", &[("basic.wasm", wasm)])
            .expect("build");
        let package = ChaincodePackage::parse(&bytes).expect("parse");
        assert_eq!(package.metadata.kind, "wasm");
        assert_eq!(package.metadata.label, "basic_1.0");
        assert_eq!(package.wasm_module().expect("module"), wasm);

        let dir = tempfile::tempdir().expect("tempdir");
        let store = PackageStore::under(dir.path()).expect("store");
        let (id, _) = store.save(&bytes).expect("save");
        assert_eq!(id, format!("basic_1.0:{}", hex::encode(sha256(&bytes))));
        assert!(
            dir.path()
                .join("lifecycle/chaincodes")
                .join(format!("{}.tar.gz", id.replacen(':', ".", 1)))
                .exists()
        );
        assert_eq!(store.load(&id).expect("load"), bytes);
        assert_eq!(store.list().expect("list")[0].package_id, id);
        assert_eq!(
            store.load("basic_1.0:00").unwrap_err().to_string(),
            "chaincode install package 'basic_1.0:00' not found"
        );
    }

    #[test]
    fn bad_packages_get_fabric_errors() {
        assert!(matches!(
            ChaincodePackage::parse(b"not gzip"),
            Err(PackageError::Malformed(_))
        ));
        let no_code = tar_gz(&[(METADATA_FILE, br#"{"type":"wasm","label":"x"}"#)]).expect("tar");
        assert_eq!(
            ChaincodePackage::parse(&no_code).unwrap_err().to_string(),
            "did not find a code package inside the package"
        );
        let no_meta = tar_gz(&[(CODE_PACKAGE_FILE, b"")]).expect("tar");
        assert_eq!(
            ChaincodePackage::parse(&no_meta).unwrap_err().to_string(),
            "did not find any package metadata (missing metadata.json)"
        );
        assert!(matches!(
            ChaincodePackage::build(WASM_TYPE, "-bad", "", &[]),
            Err(PackageError::InvalidLabel(_))
        ));
    }
}
