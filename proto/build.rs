//! Compiles `protos/**/*.proto` with the pure-Rust `protox` compiler (no system `protoc`)
//! and generates prost messages plus tonic clients and servers for every service.

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new("protos");
    let mut files = Vec::new();
    collect_protos(root, &mut files)?;
    files.sort();
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    let descriptors = protox::compile(&files, [root])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // No `XClient::connect(addr)` constructors: `protos.Chaincode/Connect` would clash
        // with them. Clients are built with `XClient::new(channel)` over our TLS setup.
        .build_transport(false)
        // Bytes fields stay `Vec<u8>`: signed structures are kept as received.
        .compile_fds(descriptors)?;
    Ok(())
}

fn collect_protos(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}
