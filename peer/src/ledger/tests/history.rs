//! History: newest first, values and timestamps read back from the blocks, only valid
//! writes, keys that extend one another kept apart.

use std::time::SystemTime;

use weft_common::protoutil::unpack_envelope_bytes;
use weft_proto::protos::TxValidationCode;

use super::fixtures::{Rw, Signers, Tx, commit, open};
use crate::ledger::{HistoryEntry, LedgerError, Version};

fn timestamp_of(tx: &Tx) -> Option<SystemTime> {
    let envelope = unpack_envelope_bytes(&tx.envelope).expect("unpack");
    let ts = envelope.channel_header.timestamp.expect("timestamp");
    Some(SystemTime::try_from(ts).expect("in range"))
}

fn entry(tx: &Tx, block: u64, tx_num: u64, value: Option<&[u8]>) -> HistoryEntry {
    HistoryEntry {
        txid: tx.txid.clone(),
        version: Version::new(block, tx_num),
        timestamp: timestamp_of(tx),
        is_delete: value.is_none(),
        value: value.map(<[u8]>::to_vec),
    }
}

#[test]
fn history_is_newest_first_and_read_back_from_blocks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = open(dir.path());
    let s = Signers::new();

    let b0 = [
        s.endorser_tx(&Rw::new().put("k", b"v0").put("k\u{0}", b"longer")),
        s.endorser_tx(&Rw::new().put("other", b"o")),
    ];
    commit(&ledger, &b0);
    let b1 = [
        s.endorser_tx(&Rw::new().put("other", b"o1")),
        s.endorser_tx(&Rw::new().put("k", b"v1")),
        s.endorser_tx(&Rw::new().put("k", b"bad"))
            .with_code(TxValidationCode::MvccReadConflict),
        // Same key in another namespace.
        s.endorser_tx(&Rw::new().ns("cc2").put("k", b"elsewhere")),
    ];
    commit(&ledger, &b1);
    let b2 = [
        s.endorser_tx(&Rw::new().del("k").put("k\u{0}x\u{0}", b"composite")),
        // Metadata-only writes are not history (Fabric records KVWrites only).
        s.endorser_tx(&Rw::new().meta("k\u{0}", &[("P", b"p")])),
    ];
    commit(&ledger, &b2);
    let b3 = [s.endorser_tx(&Rw::new().put("k", b"v3"))];
    commit(&ledger, &b3);
    // A delete of a key that is absent is still a recorded write.
    let b4 = [s.endorser_tx(&Rw::new().del("never"))];
    commit(&ledger, &b4);

    let history = ledger.history("cc", "k").expect("history");
    assert_eq!(
        history,
        vec![
            entry(&b3[0], 3, 0, Some(b"v3")),
            entry(&b2[0], 2, 0, None),
            entry(&b1[1], 1, 1, Some(b"v1")),
            entry(&b0[0], 0, 0, Some(b"v0")),
        ]
    );
    let km = history[1].to_key_modification();
    assert!(km.is_delete && km.value.is_empty() && km.tx_id == b2[0].txid);
    assert!(km.timestamp.is_some());
    let km = history[0].to_key_modification();
    assert_eq!((km.value.as_slice(), km.is_delete), (&b"v3"[..], false));

    assert_eq!(
        ledger.history("cc", "k\u{0}").expect("history"),
        vec![entry(&b0[0], 0, 0, Some(b"longer"))]
    );
    assert_eq!(
        ledger.history("cc", "k\u{0}x\u{0}").expect("history"),
        vec![entry(&b2[0], 2, 0, Some(b"composite"))]
    );
    assert_eq!(
        ledger.history("cc2", "k").expect("history"),
        vec![entry(&b1[3], 1, 3, Some(b"elsewhere"))]
    );
    assert_eq!(
        ledger.history("cc", "never").expect("history"),
        vec![entry(&b4[0], 4, 0, None)]
    );
    assert!(ledger.history("cc", "missing").expect("history").is_empty());
    assert!(ledger.history("c", "c\u{0}k").expect("history").is_empty());
    assert!(matches!(
        ledger.history("c\u{0}c", "k"),
        Err(LedgerError::InvalidNamespace(_))
    ));
}
