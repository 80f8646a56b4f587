//! Cross-checks our `.proto` transcription against the official Fabric definitions that
//! ship in the npm package `fabric-protos` (installed by `npm ci` in `tests/interop`).
//!
//! Both sets are compiled with protox and compared element by element: protobuf
//! packages, messages (nested included), every field's number, name, type, label and
//! type name, oneof membership, enum values, and gRPC methods with their streaming
//! flags. Any difference fails the test, except the few listed in [`ALLOWED_EXTRAS`],
//! each with its reason (the npm copy is Fabric 2.2's; we transcribe v0.2.0, Fabric 2.5).
//! Files the npm package lacks (gateway, snapshot, …) are reported
//! and skipped: they are checked by the interop tests that decode our bytes in Node.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorSet};

/// Elements present in our files and absent from the npm copy (which is Fabric 2.2's),
/// with why. A `message X` or `enum X` entry covers everything inside X.
const ALLOWED_EXTRAS: &[(&str, &str)] = &[
    // Added to fabric-protos between Fabric 2.2 and v0.2.0 (Fabric 2.5): our target.
    (
        "message common.BootstrappingSnapshotInfo",
        "2.3: ledger snapshots",
    ),
    ("field common.BlockchainInfo.4", "2.3: ledger snapshots"),
    (
        "message protos.JoinBySnapshotStatus",
        "2.3: join by snapshot",
    ),
    (
        "field gossip.ConnEstablish.4",
        "2.4: gossip connection probe",
    ),
    ("field kvrwset.KVWriteHash.4", "2.5: private data purge"),
    (
        "message protos.PurgePrivateState",
        "2.5: private data purge",
    ),
    (
        "enum protos.ChaincodeMessage.Type value PURGE_PRIVATE_DATA",
        "2.5: private data purge",
    ),
    (
        "message lifecycle.QueryApprovedChaincodeDefinitionArgs",
        "2.3: queryapproved",
    ),
    (
        "message lifecycle.QueryApprovedChaincodeDefinitionResult",
        "2.3: queryapproved",
    ),
    (
        "message orderer.SeekNextCommit",
        "2.4: SeekInfo NextCommit (gateway block events)",
    ),
    ("field orderer.SeekPosition.4", "2.4: SeekInfo NextCommit"),
    (
        "message protos.ChaincodeInterest",
        "2.4: gateway endorsement planning",
    ),
    (
        "message protos.ChaincodeCall",
        "2.4: gateway endorsement planning",
    ),
    (
        "field protos.ProposalResponse.7",
        "2.4: gateway endorsement planning",
    ),
    // fabric-protos v0.3 shim additions: a compatible superset our own WASM guest may use;
    // a peer only offers them to shims when it advertises them (design.md §8).
    (
        "enum protos.ChaincodeMessage.Type value WRITE_BATCH_STATE",
        "v0.3 shim addition",
    ),
    (
        "enum protos.ChaincodeMessage.Type value GET_STATE_MULTIPLE",
        "v0.3 shim addition",
    ),
    ("message protos.GetStateMultiple", "v0.3 shim addition"),
    (
        "message protos.GetStateMultipleResult",
        "v0.3 shim addition",
    ),
    ("message protos.WriteBatchState", "v0.3 shim addition"),
    ("message protos.WriteRecord", "v0.3 shim addition"),
    (
        "message protos.ChaincodeAdditionalParams",
        "v0.3 shim addition (READY payload)",
    ),
];

/// Official (Fabric 2.2) elements that v0.2.0 changed, with why. Same covering rules.
const ALLOWED_CHANGES: &[(&str, &str)] = &[
    (
        "enum common.HeaderType value PEER_ADMIN_OPERATION",
        "retired in v0.2.0; number 8 is reserved",
    ),
    // Moved into package `protos` in 2.4 (the gateway uses them too); the wire format is
    // unchanged, which `moved_messages_keep_their_fields` checks.
    (
        "message discovery.ChaincodeInterest",
        "moved to protos.ChaincodeInterest",
    ),
    (
        "message discovery.ChaincodeCall",
        "moved to protos.ChaincodeCall",
    ),
    (
        "field discovery.ChaincodeQuery.1",
        "its type moved to protos.ChaincodeInterest",
    ),
    (
        "field discovery.PeerMembershipQuery.1",
        "its type moved to protos.ChaincodeInterest",
    ),
];

/// Whether `element` is covered by an [`ALLOWED_EXTRAS`] entry.
/// This package's directory, read at run time: the compile-time `CARGO_MANIFEST_DIR` can
/// name another checkout when several share one target directory (as CI does).
fn package_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

fn allowed_extra(element: &str) -> bool {
    covered(ALLOWED_EXTRAS, element)
}

fn covered(list: &[(&str, &str)], element: &str) -> bool {
    list.iter().any(|(entry, _)| {
        if element == *entry {
            return true;
        }
        // "message X" / "enum X" cover X's fields, nested types and values.
        let scope = entry
            .strip_prefix("message ")
            .or_else(|| entry.strip_prefix("enum "));
        scope.is_some_and(|scope| {
            ["field ", "message ", "enum "].iter().any(|kind| {
                element.strip_prefix(kind).is_some_and(|rest| {
                    rest.starts_with(&format!("{scope}.")) || rest.starts_with(&format!("{scope} "))
                })
            })
        })
    })
}

fn official_root() -> PathBuf {
    package_dir().join("../tests/interop/node_modules/fabric-protos")
}

fn collect(dir: &Path, root: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("readable proto dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            collect(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(
                path.strip_prefix(root)
                    .expect("under root")
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
}

fn compile(root: &Path, files: &[String]) -> FileDescriptorSet {
    protox::compile(files, [root])
        .unwrap_or_else(|e| panic!("compiling protos under {}: {e}", root.display()))
}

/// Flattens a descriptor set into "element → description" lines that must match.
fn flatten(set: &FileDescriptorSet, only_files: Option<&[String]>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for file in &set.file {
        let name = file.name();
        if only_files.is_some_and(|files| !files.iter().any(|f| f == name)) {
            continue;
        }
        let package = file.package();
        for message in &file.message_type {
            flatten_message(package, message, &mut out);
        }
        for e in &file.enum_type {
            flatten_enum(package, e, &mut out);
        }
        for service in &file.service {
            let sname = format!("{package}.{}", service.name());
            out.insert(format!("service {sname}"), String::new());
            for m in &service.method {
                out.insert(
                    format!("rpc /{sname}/{}", m.name()),
                    format!(
                        "{} {}{} -> {}{}",
                        name,
                        if m.client_streaming() { "stream " } else { "" },
                        m.input_type(),
                        if m.server_streaming() { "stream " } else { "" },
                        m.output_type()
                    ),
                );
            }
        }
    }
    out
}

fn flatten_message(scope: &str, message: &DescriptorProto, out: &mut BTreeMap<String, String>) {
    let full = format!("{scope}.{}", message.name());
    out.insert(format!("message {full}"), String::new());
    for f in &message.field {
        let oneof = f
            .oneof_index
            .and_then(|i| message.oneof_decl.get(i as usize))
            .map(|o| o.name().to_string());
        out.insert(
            format!("field {full}.{}", f.number()),
            format!(
                "{} {:?} {:?} {} oneof={:?}",
                f.name(),
                f.label(),
                f.r#type(),
                f.type_name(),
                oneof
            ),
        );
    }
    for nested in &message.nested_type {
        flatten_message(&full, nested, out);
    }
    for e in &message.enum_type {
        flatten_enum(&full, e, out);
    }
}

fn flatten_enum(scope: &str, e: &EnumDescriptorProto, out: &mut BTreeMap<String, String>) {
    let full = format!("{scope}.{}", e.name());
    out.insert(format!("enum {full}"), String::new());
    for v in &e.value {
        out.insert(
            format!("enum {full} value {}", v.name()),
            v.number().to_string(),
        );
    }
}

#[test]
fn our_protos_match_the_official_fabric_protos() {
    let official = official_root();
    assert!(
        official.join("protos").is_dir(),
        "official protos not found at {}: run `npm ci` in tests/interop (.ci/run does it)",
        official.display()
    );
    let official_protos = official.join("protos");
    let mut official_files = Vec::new();
    collect(&official_protos, &official_protos, &mut official_files);
    official_files.sort();
    assert!(
        official_files.len() > 30,
        "too few official files: {official_files:?}"
    );

    let ours_root = package_dir().join("protos");
    let mut our_files = Vec::new();
    collect(&ours_root, &ours_root, &mut our_files);

    // The official copy resolves google/protobuf imports from its own folder.
    let google = official.join("google-protos");
    let official_set = protox::Compiler::new([official_protos.as_path(), google.as_path()])
        .and_then(|mut c| {
            c.include_imports(true);
            c.open_files(&official_files)?;
            Ok(c.file_descriptor_set())
        })
        .unwrap_or_else(|e| panic!("compiling official protos: {e}"));
    let our_set = compile(&ours_root, &our_files);

    let missing_here: Vec<_> = official_files
        .iter()
        .filter(|f| !our_files.contains(f))
        .collect();
    assert!(
        missing_here.is_empty(),
        "official files we do not define: {missing_here:?}"
    );
    let only_ours: Vec<_> = our_files
        .iter()
        .filter(|f| !official_files.contains(f))
        .collect();
    println!(
        "files not in the npm copy (checked by the Node interop tests instead): {only_ours:?}"
    );

    let theirs = flatten(&official_set, Some(&official_files));
    let ours = flatten(&our_set, Some(&official_files));

    let mut problems = Vec::new();
    for (element, description) in &theirs {
        match ours.get(element) {
            _ if covered(ALLOWED_CHANGES, element) => {}
            None => problems.push(format!("missing in ours: {element} ({description})")),
            Some(mine) if mine != description => problems.push(format!(
                "differs: {element}\n    official: {description}\n    ours:     {mine}"
            )),
            Some(_) => {}
        }
    }
    for element in ours.keys().filter(|e| !theirs.contains_key(*e)) {
        if !allowed_extra(element) {
            problems.push(format!("extra in ours: {element} ({})", ours[element]));
        }
    }
    assert!(
        problems.is_empty(),
        "{} differences from the official protos:\n{}",
        problems.len(),
        problems.join("\n")
    );
    moved_messages_keep_their_fields(&theirs, &ours);
    assert!(
        theirs.len() > 500,
        "suspiciously few elements compared: {}",
        theirs.len()
    );
}

/// The messages Fabric moved between packages must keep every official field (number,
/// name, label, type) under their new name; type names may only change package.
fn moved_messages_keep_their_fields(
    theirs: &BTreeMap<String, String>,
    ours: &BTreeMap<String, String>,
) {
    let all_ours: BTreeMap<String, String> = ours.clone();
    for (old, new) in [
        ("discovery.ChaincodeInterest", "protos.ChaincodeInterest"),
        ("discovery.ChaincodeCall", "protos.ChaincodeCall"),
    ] {
        let prefix = format!("field {old}.");
        let fields: Vec<_> = theirs
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .collect();
        assert!(!fields.is_empty(), "official {old} has no fields");
        for (key, official) in fields {
            let moved_key = key.replacen(old, new, 1);
            let mine = all_ours
                .get(&moved_key)
                .unwrap_or_else(|| panic!("{moved_key} missing (moved from {key})"));
            assert_eq!(
                official.replace(".discovery.", ".protos."),
                *mine,
                "{key} vs {moved_key}"
            );
        }
    }
}
