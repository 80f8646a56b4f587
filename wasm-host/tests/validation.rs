//! Module validation at load: clear WasmErrors for modules that break the ABI.

mod common;

use common::*;
use weft_wasm_host::{EngineConfig, MAX_MODULE_BYTES, WasmEngine, WasmError};

const IMPORTS: &str = r#"
  (import "fabric" "call" (func (param i32 i32 i32 i32 i32) (result i64)))
  (import "fabric" "take" (func (param i32) (result i32)))
  (import "fabric" "complete" (func (param i32 i32 i32 i32) (result i32)))
  (import "fabric" "log" (func (param i32 i32 i32)))
"#;
const MEMORY: &str = r#"(memory (export "memory") 1)"#;
const MARKER: &str = r#"(func (export "fabric_abi_v1"))"#;
const RUN: &str = r#"(func (export "fabric_run") (result i32) (i32.const 0))"#;

fn load_err(fields: &[&str]) -> String {
    let text = format!("(module {})", fields.join("\n"));
    let wasm = wat::parse_str(&text).expect("valid wat");
    match test_engine().load(&wasm) {
        Ok(_) => panic!("module loaded: {text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_minimal_valid_module_loads() {
    let wasm = wat::parse_str(format!("(module {IMPORTS} {MEMORY} {MARKER} {RUN})")).expect("wat");
    test_engine().load(&wasm).expect("valid module");
    // Imports are optional.
    let wasm = wat::parse_str(format!("(module {MEMORY} {MARKER} {RUN})")).expect("wat");
    test_engine()
        .load(&wasm)
        .expect("valid module without imports");
}

#[test]
fn missing_exports_are_named() {
    assert_eq!(
        load_err(&[MEMORY, MARKER]),
        "invalid chaincode module: missing export fabric_run"
    );
    assert_eq!(
        load_err(&[MARKER, RUN]),
        "invalid chaincode module: missing export memory"
    );
    assert_eq!(
        load_err(&[MEMORY, RUN]),
        "invalid chaincode module: missing export fabric_abi_v1 (the ABI version marker)"
    );
}

#[test]
fn abi_markers_must_be_exactly_v1() {
    assert_eq!(
        load_err(&[MEMORY, RUN, r#"(func (export "fabric_abi_v2"))"#]),
        "invalid chaincode module: exports fabric_abi_v2, but this host implements only fabric_abi_v1"
    );
    assert_eq!(
        load_err(&[MEMORY, RUN, MARKER, r#"(func (export "fabric_abi_v2"))"#]),
        "invalid chaincode module: exports several ABI markers (fabric_abi_v1, fabric_abi_v2); exactly one is allowed"
    );
    assert_eq!(
        load_err(&[
            MEMORY,
            RUN,
            r#"(func (export "fabric_abi_v1") (param i32))"#
        ]),
        "invalid chaincode module: export fabric_abi_v1 must be a function () -> ()"
    );
}

#[test]
fn foreign_imports_are_rejected() {
    assert_eq!(
        load_err(&[
            r#"(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))"#,
            MEMORY,
            MARKER,
            RUN,
        ]),
        "invalid chaincode module: imports wasi_snapshot_preview1.fd_write, which chaincode may not use"
    );
    let err = load_err(&[
        r#"(import "fabric" "clock" (func (result i64)))"#,
        MEMORY,
        MARKER,
        RUN,
    ]);
    assert_eq!(
        err,
        "invalid chaincode module: imports fabric.clock, which chaincode may not use"
    );
    // The error is typed.
    let wasm = wat::parse_str(format!(
        r#"(module (import "env" "random" (func (result i32))) {MEMORY} {MARKER} {RUN})"#
    ))
    .expect("wat");
    assert!(matches!(
        test_engine().load(&wasm),
        Err(WasmError::ForbiddenImport { module, name }) if module == "env" && name == "random"
    ));
}

#[test]
fn wrong_signatures_are_rejected() {
    assert_eq!(
        load_err(&[
            r#"(import "fabric" "call" (func (param i32 i32 i32 i32) (result i64)))"#,
            MEMORY,
            MARKER,
            RUN,
        ]),
        "invalid chaincode module: imports fabric.call with signature (i32, i32, i32, i32) -> (i64), expected (i32, i32, i32, i32, i32) -> (i64)"
    );
    assert_eq!(
        load_err(&[
            MEMORY,
            MARKER,
            r#"(func (export "fabric_run") (result i64) (i64.const 0))"#
        ]),
        "invalid chaincode module: export fabric_run has signature () -> (i64), expected () -> (i32)"
    );
    assert_eq!(
        load_err(&[r#"(import "fabric" "memory" (memory 1))"#, MARKER, RUN]),
        "invalid chaincode module: imports fabric.memory, which chaincode may not use"
    );
}

#[test]
fn limits_are_enforced() {
    // Initial memory above the engine's 4 MiB cap: the pooling allocator refuses it at
    // compile time, the on-demand engine at validation.
    let err = load_err(&[r#"(memory (export "memory") 65)"#, MARKER, RUN]);
    assert!(
        err.starts_with("invalid chaincode module:")
            && err.contains("memory has a minimum byte size of 4259840"),
        "{err}"
    );
    let on_demand = WasmEngine::new(EngineConfig {
        max_memory_bytes: 4 * 1024 * 1024,
        pooling: false,
        ..EngineConfig::default()
    })
    .expect("engine");
    assert!(!on_demand.is_pooled());
    let wasm = wat::parse_str(format!(
        r#"(module (memory (export "memory") 65) {MARKER} {RUN})"#
    ))
    .expect("wat");
    assert_eq!(
        on_demand
            .load(&wasm)
            .expect_err("too much memory")
            .to_string(),
        "invalid chaincode module: declares an initial memory of 4259840 bytes; the limit is 4194304 bytes"
    );
    let err = load_err(&[MEMORY, MARKER, RUN, "(table 20001 funcref)"]);
    assert!(
        err.starts_with("invalid chaincode module:")
            && err.contains("20001")
            && err.contains("20000"),
        "{err}"
    );
    let wasm = wat::parse_str(format!(
        "(module {MEMORY} {MARKER} {RUN} (table 20001 funcref))"
    ))
    .expect("wat");
    assert_eq!(
        on_demand
            .load(&wasm)
            .expect_err("table too large")
            .to_string(),
        "invalid chaincode module: declares a table of 20001 elements; at most 20000 are allowed"
    );
    let huge = vec![0u8; MAX_MODULE_BYTES + 1];
    let err = test_engine().load(&huge).expect_err("too large");
    assert_eq!(
        err.to_string(),
        format!(
            "invalid chaincode module: {} bytes exceeds the limit of {MAX_MODULE_BYTES} bytes",
            MAX_MODULE_BYTES + 1
        )
    );
    // Garbage is a compile error.
    let err = test_engine().load(b"\0asm garbage").expect_err("garbage");
    assert!(matches!(err, WasmError::Compile(_)), "{err}");
}

#[test]
fn an_unreservable_pool_falls_back_to_on_demand_allocation() {
    // 2^31 slots of 4 GiB each cannot be reserved in a 47-bit address space.
    let engine = WasmEngine::new(EngineConfig {
        max_instances: 1 << 31,
        ..EngineConfig::default()
    })
    .expect("engine");
    assert!(!engine.is_pooled());
    engine
        .load(&guest_wasm("hostile"))
        .expect("loads without a pool");
}

#[test]
fn disabled_proposals_do_not_compile() {
    for (fields, want) in [
        (
            format!("{MEMORY} {MARKER} {RUN} (func (result v128) (v128.const i64x2 0 0))"),
            "SIMD support is not enabled",
        ),
        (
            format!(r#"(memory (export "memory") 1 1 shared) {MARKER} {RUN}"#),
            "threads must be enabled",
        ),
        (
            format!(r#"(memory (export "memory") i64 1) {MARKER} {RUN}"#),
            "memory64 must be enabled",
        ),
        (
            format!(r#"{MEMORY} (memory 1) {MARKER} {RUN}"#),
            "multiple memories",
        ),
    ] {
        let wasm = wat::parse_str(format!("(module {fields})")).expect("wat");
        let err = test_engine().load(&wasm).expect_err(want).to_string();
        assert!(
            err.starts_with("failed to compile chaincode module:"),
            "{err}"
        );
        assert!(err.contains(want), "{err}");
    }
}
