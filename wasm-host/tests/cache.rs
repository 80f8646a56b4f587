//! The on-disk cache of compiled modules.

mod common;

use common::*;
use prost::Message;
use weft_proto::protos::Response;
use weft_proto::protos::chaincode_message::Type;
use weft_wasm_host::LoadKind;

const PACKAGE_ID: &str = "basic_1.0:4e1a2b3c";

fn cwasm_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn second_load_comes_from_the_cache_and_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wasm = guest_wasm("hostile");
    let engine = test_engine();
    let (_, kind) = engine
        .load_cached(dir.path(), PACKAGE_ID, &wasm)
        .expect("load");
    assert_eq!(kind, LoadKind::Compiled);
    let files = cwasm_files(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0]
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("basic_1.0.4e1a2b3c-")
            && name.len() == "basic_1.0.4e1a2b3c-".len() + 16 + 6,
        "{name}"
    );
    assert!(files[0].with_extension("cwasm.sha256").exists());

    // A fresh engine with the same configuration (a restart) finds the file.
    let engine = test_engine();
    let (cc, kind) = engine
        .load_cached(dir.path(), PACKAGE_ID, &wasm)
        .expect("load");
    assert_eq!(kind, LoadKind::FromCache);
    let mut peer = FakePeer::start(&cc, small_limits()).await;
    let answer = peer.transact(tx("t1", &[b"O"])).await;
    assert_eq!(answer.r#type, Type::Completed as i32, "{answer:?}");
    let response = Response::decode(answer.payload.as_slice()).expect("Response");
    assert_eq!(response.payload, b"fine");
    peer.close().await;
}

#[tokio::test]
async fn a_corrupt_cache_file_is_recompiled_not_loaded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wasm = guest_wasm("hostile");
    let engine = test_engine();
    assert_eq!(
        engine
            .load_cached(dir.path(), PACKAGE_ID, &wasm)
            .expect("load")
            .1,
        LoadKind::Compiled
    );
    let file = cwasm_files(dir.path()).remove(0);
    let mut bytes = std::fs::read(&file).expect("read");
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b ^= 0x5a;
    }
    std::fs::write(&file, &bytes).expect("corrupt");

    let (cc, kind) = engine
        .load_cached(dir.path(), PACKAGE_ID, &wasm)
        .expect("load");
    assert_eq!(kind, LoadKind::Compiled);
    let mut peer = FakePeer::start(&cc, small_limits()).await;
    let answer = peer.transact(tx("t1", &[b"O"])).await;
    assert_eq!(answer.r#type, Type::Completed as i32, "{answer:?}");
    peer.close().await;
    // The rewritten file loads again.
    assert_eq!(
        engine
            .load_cached(dir.path(), PACKAGE_ID, &wasm)
            .expect("load")
            .1,
        LoadKind::FromCache
    );

    // A truncated file too.
    std::fs::write(&file, b"short").expect("truncate");
    assert_eq!(
        engine
            .load_cached(dir.path(), PACKAGE_ID, &wasm)
            .expect("load")
            .1,
        LoadKind::Compiled
    );

    // Another .wasm under the same package id is compiled, not served from the old file.
    let other = guest_wasm("well_behaved");
    assert_eq!(
        engine
            .load_cached(dir.path(), PACKAGE_ID, &other)
            .expect("load")
            .1,
        LoadKind::Compiled
    );
    assert_eq!(
        engine
            .load_cached(dir.path(), PACKAGE_ID, &other)
            .expect("load")
            .1,
        LoadKind::FromCache
    );
}

#[test]
fn invalid_modules_are_not_cached() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wasm = wat::parse_str(r#"(module (memory (export "memory") 1))"#).expect("wat");
    let err = test_engine()
        .load_cached(dir.path(), PACKAGE_ID, &wasm)
        .expect_err("invalid");
    assert!(err.to_string().contains("missing export"), "{err}");
    assert!(cwasm_files(dir.path()).is_empty());
}
