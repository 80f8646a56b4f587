//! Range scans (order, bounds, namespaces) and snapshot isolation.

use weft_proto::protos::TxValidationCode;

use super::fixtures::{Rw, Signers, commit, open};
use crate::ledger::{LedgerError, StateView, Version};

/// Keys of `ns` in `[start, end)` through `view`.
fn keys(view: &impl StateView, ns: &str, start: &str, end: &str) -> Vec<String> {
    view.range(ns, start, end)
        .expect("range")
        .map(|item| item.expect("item").0)
        .collect()
}

/// Composite keys (0x00-led), high code points (U+00FF is C3 BF, U+10FFFF is F4 8F BF
/// BF), keys that extend one another, in a namespace with neighbours on both sides.
const KEYS: [&str; 12] = [
    "\u{0}asset\u{0}1\u{0}",
    "\u{0}asset\u{0}2\u{0}",
    "\u{0}owner\u{0}alice\u{0}",
    "\u{1}",
    "a",
    "a\u{0}",
    "a\u{0}b",
    "ab",
    "b",
    "\u{ff}",
    "\u{ffff}",
    "\u{10ffff}",
];

#[test]
fn ranges_follow_byte_order_within_the_namespace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = open(dir.path());
    let s = Signers::new();
    let mut rw = Rw::new().ns("cc");
    // Written in reverse order: the ledger must sort.
    for key in KEYS.iter().rev() {
        rw = rw.put(key, key.as_bytes());
    }
    // Neighbouring namespaces: a prefix of "cc", "cc" followed by the smallest non-NUL
    // byte, and one sorting after.
    let rw = rw
        .ns("c")
        .put("zz", b"c")
        .ns("cc\u{1}")
        .put("", b"x")
        .put("a", b"x")
        .ns("cca")
        .put("a", b"x")
        .ns("cd")
        .put("\u{0}", b"x");
    commit(&ledger, &[s.endorser_tx(&rw)]);

    let mut sorted: Vec<String> = KEYS.iter().map(|k| (*k).to_owned()).collect();
    sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(
        keys(&ledger, "cc", "", ""),
        sorted,
        "whole namespace, byte order"
    );

    // Values and versions come along.
    let (key, value) = ledger
        .range("cc", "ab", "")
        .expect("range")
        .next()
        .expect("one")
        .expect("ok");
    assert_eq!(key, "ab");
    assert_eq!(value.value, b"ab");
    assert_eq!(value.version, Version::new(0, 0));

    // [start, end): start included, end excluded.
    assert_eq!(
        keys(&ledger, "cc", "a", "b"),
        ["a", "a\u{0}", "a\u{0}b", "ab"]
    );
    assert_eq!(keys(&ledger, "cc", "a\u{0}", "ab"), ["a\u{0}", "a\u{0}b"]);
    assert_eq!(
        keys(&ledger, "cc", "b", ""),
        ["b", "\u{ff}", "\u{ffff}", "\u{10ffff}"]
    );
    // What the Node shim sends for an empty start key skips composite keys.
    assert_eq!(keys(&ledger, "cc", "\u{1}", "a"), ["\u{1}"]);
    // A partial composite key range (prefix .. prefix + U+10FFFF).
    assert_eq!(
        keys(
            &ledger,
            "cc",
            "\u{0}asset\u{0}",
            "\u{0}asset\u{0}\u{10ffff}"
        ),
        ["\u{0}asset\u{0}1\u{0}", "\u{0}asset\u{0}2\u{0}"]
    );
    // Empty and inverted ranges.
    assert!(keys(&ledger, "cc", "b", "b").is_empty());
    assert!(keys(&ledger, "cc", "b", "a").is_empty());
    assert!(keys(&ledger, "cc", "\u{10ffff}\u{0}", "").is_empty());

    // Neighbouring namespaces stay apart, both ways.
    assert_eq!(keys(&ledger, "c", "", ""), ["zz"]);
    assert_eq!(keys(&ledger, "cc\u{1}", "", ""), ["", "a"]);
    assert_eq!(keys(&ledger, "cca", "", ""), ["a"]);
    assert_eq!(keys(&ledger, "cd", "", ""), ["\u{0}"]);
    assert!(keys(&ledger, "nothing", "", "").is_empty());

    // Namespaces with NUL are refused rather than misread.
    assert!(matches!(
        ledger.range("c\u{0}c", "", ""),
        Err(LedgerError::InvalidNamespace(_))
    ));
    assert!(matches!(
        ledger.get_state("c\u{0}c", "zz"),
        Err(LedgerError::InvalidNamespace(_))
    ));
}

#[test]
fn snapshots_do_not_see_later_commits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = open(dir.path());
    let s = Signers::new();
    commit(
        &ledger,
        &[s.endorser_tx(&Rw::new().put("a", b"a0").put("b", b"b0").put("c", b"c0"))],
    );

    let before = ledger.snapshot().expect("snapshot");
    assert_eq!(before.height(), 1);
    // An iterator open across the commit, too.
    let mut open_iter = before.range("cc", "", "").expect("range");
    assert_eq!(open_iter.next().expect("first").expect("ok").0, "a");

    let changes = [
        s.endorser_tx(&Rw::new().put("a", b"a1").del("b").put("bb", b"new")),
        s.endorser_tx(&Rw::new().put("zz", b"x"))
            .with_code(TxValidationCode::MvccReadConflict),
    ];
    // Committing with a snapshot and an iterator alive must not block.
    commit(&ledger, &changes);

    let a = before.get_state("cc", "a").expect("get").expect("present");
    assert_eq!(
        (a.value.as_slice(), a.version),
        (&b"a0"[..], Version::new(0, 0))
    );
    assert!(before.get_state("cc", "b").expect("get").is_some());
    assert!(before.get_state("cc", "bb").expect("get").is_none());
    assert_eq!(keys(&before, "cc", "", ""), ["a", "b", "c"]);
    let rest: Vec<String> = open_iter.map(|i| i.expect("ok").0).collect();
    assert_eq!(rest, ["b", "c"]);
    for tx in &changes {
        assert!(!before.contains_txid(&tx.txid).expect("contains"));
        assert!(ledger.contains_txid(&tx.txid).expect("contains"));
    }
    assert_eq!(before.height(), 1);

    let after = ledger.snapshot().expect("snapshot");
    assert_eq!(after.height(), 2);
    assert_eq!(keys(&after, "cc", "", ""), ["a", "bb", "c"]);
    assert_eq!(
        after.get_state("cc", "a").expect("get").map(|v| v.version),
        Some(Version::new(1, 0))
    );
    assert_eq!(keys(&ledger, "cc", "", ""), ["a", "bb", "c"]);
}

#[test]
fn snapshot_is_usable_from_other_threads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = open(dir.path());
    let s = Signers::new();
    commit(&ledger, &[s.endorser_tx(&Rw::new().put("a", b"0"))]);
    let snapshot = ledger.snapshot().expect("snapshot");
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            (0..50)
                .map(|_| snapshot.get_state("cc", "a").expect("get").map(|v| v.value))
                .collect::<Vec<_>>()
        });
        for i in 1..6u8 {
            commit(&ledger, &[s.endorser_tx(&Rw::new().put("a", &[i]))]);
        }
        let seen = reader.join().expect("reader");
        assert!(seen.iter().all(|v| v.as_deref() == Some(&b"0"[..])));
    });
    assert_eq!(
        ledger.get_state("cc", "a").expect("get").map(|v| v.value),
        Some(vec![5])
    );
}
