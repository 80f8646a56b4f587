//! The `docker` launcher: a chaincode in its own container, as Fabric runs chaincode,
//! behind the same handler as every other launcher.
//!
//! For a `wasm` package it builds (once, at install or first launch) an image `FROM
//! scratch` holding the static chaincode runner (`weft-ccrunner`, crate
//! `weft-chaincode-runner`) as `/chaincode` and the module as `/chaincode.wasm`, and at
//! launch starts a container from it whose runner dials the peer's chaincode listener and
//! registers over `/protos.ChaincodeSupport/Register` — so a container chaincode runs the
//! same WASM runtime as the in-process launcher. Names follow Fabric's
//! `dockercontroller`: the container is `<networkId>-<peerId>-<package id>` with characters
//! outside `[a-zA-Z0-9-_.]` replaced by `-`, the image that name (with `:` → `-`)
//! lowercased plus `-<SHA-256 hex of it>`. Environment as Fabric gives a chaincode
//! container (`CORE_CHAINCODE_ID_NAME`, `CORE_PEER_TLS_ENABLED`,
//! `CORE_PEER_TLS_ROOTCERT_FILE` uploaded to `/etc/hyperledger/fabric/peer.crt` before the
//! start, `CORE_PEER_LOCALMSPID`), the command `-peer.address=<listener>`, and Weft's
//! sandbox limits (`WEFT_CHAINCODE_*`).
//!
//! Each launch first removes a container of the same name (a dead one is thus replaced:
//! the next proposal after a crash starts it again), as Fabric's `Start` does;
//! [`DockerLauncher::shutdown`] removes every container this launcher started. The network
//! mode is `host` by default (the container reaches the peer on loopback).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use futures::StreamExt;
use futures::future::BoxFuture;
use sha2::{Digest, Sha256};
use weft_wasm_host::TxLimits;

use super::launcher::Launcher;
use super::package::{ChaincodePackage, WASM_TYPE};
use super::support::ChaincodeSupport;

/// Where Fabric puts the peer's TLS root certificate in a chaincode container.
pub const TLS_ROOT_CERT_PATH: &str = "/etc/hyperledger/fabric/peer.crt";

/// Label carrying the package id on images and containers this launcher creates.
pub const PACKAGE_ID_LABEL: &str = "org.weft.chaincode.package-id";
/// Label carrying the peer id on containers this launcher creates.
pub const PEER_ID_LABEL: &str = "org.weft.peer.id";

/// How the `docker` launcher builds and starts containers (`chaincode.docker.*` and
/// `vm.docker.*` in `core.yaml`).
#[derive(Debug, Clone)]
pub struct DockerSettings {
    /// The static `weft-ccrunner` binary put into images.
    pub runner: PathBuf,
    /// The chaincode listener's address as the container reaches it.
    pub peer_address: String,
    /// `peer.networkId`: the first part of container and image names.
    pub network_id: String,
    /// `peer.id`: the second part of container and image names.
    pub peer_id: String,
    /// This peer's MSP id (`CORE_PEER_LOCALMSPID` in the container).
    pub msp_id: String,
    /// `vm.docker.hostConfig.NetworkMode` (default `host`).
    pub network_mode: String,
    /// PEM of the CA the chaincode listener's TLS certificate chains to; `None`: plain.
    pub tls_root_cert: Option<Vec<u8>>,
    /// The sandbox limits the runner applies per transaction.
    pub limits: TxLimits,
    /// Linear memory cap per instance, bytes.
    pub memory_limit: usize,
}

/// The `docker` launcher.
pub struct DockerLauncher {
    docker: Docker,
    settings: DockerSettings,
    /// Names of the containers this launcher created and has not removed.
    started: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for DockerLauncher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerLauncher")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Fabric's `vmRegExp` replacement: characters outside `[a-zA-Z0-9-_.]` become `-`.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

impl DockerLauncher {
    /// A launcher talking to the local Docker daemon (`DOCKER_HOST` or the Unix socket),
    /// at the API version the daemon supports.
    pub async fn connect(settings: DockerSettings) -> Result<Self, String> {
        let docker = Docker::connect_with_local_defaults()
            .map_err(|e| format!("cannot reach the Docker daemon: {e}"))?
            .negotiate_version()
            .await
            .map_err(|e| format!("cannot reach the Docker daemon: {e}"))?;
        Ok(Self {
            docker,
            settings,
            started: Mutex::new(HashSet::new()),
        })
    }

    /// Fabric's `preFormatImageName`.
    fn qualified(&self, ccid: &str) -> String {
        let s = &self.settings;
        match (s.network_id.is_empty(), s.peer_id.is_empty()) {
            (false, false) => format!("{}-{}-{ccid}", s.network_id, s.peer_id),
            (false, true) => format!("{}-{ccid}", s.network_id),
            (true, false) => format!("{}-{ccid}", s.peer_id),
            (true, true) => ccid.to_owned(),
        }
    }

    /// The container name for `ccid` (Fabric's `GetVMName`).
    pub fn container_name(&self, ccid: &str) -> String {
        sanitize(&self.qualified(ccid))
    }

    /// The image name for `ccid` (Fabric's `GetVMNameForDocker`).
    pub fn image_name(&self, ccid: &str) -> String {
        let name = self.qualified(ccid).replace(':', "-");
        let hash = hex::encode(Sha256::digest(name.as_bytes()));
        format!("{}-{hash}", sanitize(&name)).to_lowercase()
    }

    /// Builds the image of `ccid` unless it exists.
    async fn ensure_image(&self, ccid: &str, package: &ChaincodePackage) -> Result<(), String> {
        let image = self.image_name(ccid);
        if self.docker.inspect_image(&image).await.is_ok() {
            return Ok(());
        }
        if package.metadata.kind != WASM_TYPE {
            return Err(format!(
                "the docker launcher builds images for '{WASM_TYPE}' packages only, not '{}'",
                package.metadata.kind
            ));
        }
        let module = wasm_module(package)?;
        let runner = std::fs::read(&self.settings.runner).map_err(|e| {
            format!(
                "cannot read the chaincode runner {}: {e}",
                self.settings.runner.display()
            )
        })?;
        let dockerfile = format!(
            "FROM scratch\nCOPY chaincode /chaincode\nCOPY chaincode.wasm /chaincode.wasm\n\
             LABEL {PACKAGE_ID_LABEL}=\"{ccid}\"\nENTRYPOINT [\"/chaincode\"]\n"
        );
        let context = tar_of(&[
            ("Dockerfile", dockerfile.as_bytes(), 0o644),
            ("chaincode", &runner, 0o755),
            ("chaincode.wasm", &module, 0o644),
        ])?;
        let options = BuildImageOptionsBuilder::new()
            .dockerfile("Dockerfile")
            .t(&image)
            .rm(true)
            .forcerm(true)
            .build();
        let mut build =
            self.docker
                .build_image(options, None, Some(bollard::body_full(context.into())));
        while let Some(step) = build.next().await {
            let info = step.map_err(|e| format!("building image {image}: {e}"))?;
            if let Some(detail) = info.error_detail {
                return Err(format!(
                    "building image {image}: {}",
                    detail.message.unwrap_or_default()
                ));
            }
        }
        tracing::info!(chaincode = %ccid, %image, "chaincode image built");
        Ok(())
    }

    /// Stops and removes the container of `ccid`, if any (Fabric's `stopInternal`).
    pub async fn stop(&self, ccid: &str) {
        self.remove_container(&self.container_name(ccid)).await;
    }

    async fn remove_container(&self, name: &str) {
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        if let Err(e) = self.docker.remove_container(name, Some(options)).await
            && !matches!(
                e,
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 404,
                    ..
                }
            )
        {
            tracing::warn!(container = %name, error = %e, "could not remove chaincode container");
        }
        self.started
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
    }

    /// Removes every container this launcher started (peer shutdown).
    pub async fn shutdown(&self) {
        let names: Vec<String> = self
            .started
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect();
        for name in names {
            self.remove_container(&name).await;
        }
    }

    /// The container's environment, as Fabric's `GetEnv` builds it.
    fn env(&self, ccid: &str) -> Vec<String> {
        let s = &self.settings;
        let mut env = vec![format!("CORE_CHAINCODE_ID_NAME={ccid}")];
        match &s.tls_root_cert {
            Some(_) => {
                env.push("CORE_PEER_TLS_ENABLED=true".into());
                env.push(format!("CORE_PEER_TLS_ROOTCERT_FILE={TLS_ROOT_CERT_PATH}"));
            }
            None => env.push("CORE_PEER_TLS_ENABLED=false".into()),
        }
        env.push(format!("CORE_PEER_LOCALMSPID={}", s.msp_id));
        env.push(format!("WEFT_CHAINCODE_FUEL={}", s.limits.fuel));
        env.push(format!("WEFT_CHAINCODE_MEMORY_LIMIT={}", s.memory_limit));
        env.push(format!(
            "WEFT_CHAINCODE_EXECUTE_TIMEOUT_SECS={}",
            s.limits.timeout.as_secs().max(1)
        ));
        env
    }

    /// Creates and starts the container of `ccid` (replacing one of the same name).
    async fn start_container(&self, ccid: &str) -> Result<(), String> {
        let name = self.container_name(ccid);
        self.remove_container(&name).await;
        let labels = HashMap::from([
            (PACKAGE_ID_LABEL.to_owned(), ccid.to_owned()),
            (PEER_ID_LABEL.to_owned(), self.settings.peer_id.clone()),
        ]);
        let body = ContainerCreateBody {
            image: Some(self.image_name(ccid)),
            cmd: Some(vec![format!(
                "-peer.address={}",
                self.settings.peer_address
            )]),
            env: Some(self.env(ccid)),
            labels: Some(labels),
            host_config: Some(HostConfig {
                network_mode: Some(self.settings.network_mode.clone()),
                ..HostConfig::default()
            }),
            ..ContainerCreateBody::default()
        };
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        self.docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| format!("creating container {name}: {e}"))?;
        self.started
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.clone());
        if let Some(root) = &self.settings.tls_root_cert {
            let files = tar_of(&[(TLS_ROOT_CERT_PATH.trim_start_matches('/'), root, 0o644)])?;
            let options = UploadToContainerOptionsBuilder::new().path("/").build();
            self.docker
                .upload_to_container(&name, Some(options), bollard::body_full(files.into()))
                .await
                .map_err(|e| format!("uploading TLS files to container {name}: {e}"))?;
        }
        self.docker
            .start_container(&name, None)
            .await
            .map_err(|e| format!("starting container {name}: {e}"))?;
        tracing::info!(chaincode = %ccid, container = %name, "chaincode container started");
        Ok(())
    }
}

impl Launcher for DockerLauncher {
    fn prepare<'a>(
        &'a self,
        ccid: &'a str,
        package: &'a ChaincodePackage,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(self.ensure_image(ccid, package))
    }

    fn start<'a>(
        &'a self,
        _support: &'a Arc<ChaincodeSupport>,
        ccid: &'a str,
        package: &'a ChaincodePackage,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.ensure_image(ccid, package).await?;
            self.start_container(ccid).await
        })
    }
}

/// The module of a `wasm` package (its one `.wasm` file).
fn wasm_module(package: &ChaincodePackage) -> Result<Vec<u8>, String> {
    let files = package.code_files().map_err(|e| e.to_string())?;
    let mut modules = files.iter().filter(|(name, _)| name.ends_with(".wasm"));
    match (modules.next(), modules.next()) {
        (Some((_, bytes)), None) => Ok(bytes.clone()),
        (None, _) => Err("the package's code.tar.gz holds no .wasm module".into()),
        (Some(_), Some(_)) => Err("the package's code.tar.gz holds several .wasm modules".into()),
    }
}

/// A tar archive of `(path, bytes, mode)` entries.
fn tar_of(entries: &[(&str, &[u8], u32)]) -> Result<Vec<u8>, String> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, bytes, mode) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(*mode);
        header.set_cksum();
        builder
            .append_data(&mut header, path, *bytes)
            .map_err(|e| format!("building a tar archive: {e}"))?;
    }
    builder
        .into_inner()
        .map_err(|e| format!("building a tar archive: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_fabrics_dockercontroller() {
        assert_eq!(
            sanitize("dev-peer0.org1.example.com-basic_1.0:ab"),
            "dev-peer0.org1.example.com-basic_1.0-ab"
        );
        let qualified = "dev-peer0.org1.example.com-basic_1.0-ab";
        let hash = hex::encode(Sha256::digest(qualified.as_bytes()));
        assert_eq!(
            format!("{}-{hash}", sanitize(qualified)).to_lowercase(),
            format!("dev-peer0.org1.example.com-basic_1.0-ab-{hash}")
        );
    }

    #[test]
    fn tar_entries_keep_modes() {
        let bytes = tar_of(&[("a", b"x", 0o755)]).expect("tar");
        let mut archive = tar::Archive::new(bytes.as_slice());
        let entry = archive
            .entries()
            .expect("entries")
            .next()
            .expect("one")
            .expect("ok");
        assert_eq!(entry.header().mode().expect("mode"), 0o755);
    }
}
