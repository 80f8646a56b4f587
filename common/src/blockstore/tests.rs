use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use prost::Message;
use rocksdb::WriteBatch;
use weft_proto::common::{ChannelHeader, Envelope, Header, HeaderType, Payload, SignatureHeader};

use super::test_support::{TestChain, txid_of};
use super::*;
use crate::protoutil::{build_block, compute_txid};

fn temp_store(extra_cfs: &[&str]) -> (tempfile::TempDir, BlockStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = BlockStore::open(dir.path(), extra_cfs).expect("open");
    (dir, store)
}

fn append_all(store: &BlockStore, chain: &TestChain) {
    for block in &chain.blocks[store.height() as usize..] {
        store.append(block, WriteBatch::default()).expect("append");
    }
}

fn header_hash(block: &Block) -> Vec<u8> {
    block_header_hash(block.header.as_ref().expect("header")).to_vec()
}

#[test]
fn empty_store() {
    let (_dir, store) = temp_store(&[]);
    assert_eq!(store.height(), 0);
    assert!(store.last_header_hash().is_empty());
    assert_eq!(store.block(0), Ok(None));
    assert_eq!(store.last_block(), Ok(None));
    assert_eq!(store.tx_location("nope"), Ok(None));
    assert_eq!(*store.subscribe().borrow(), 0);
}

#[test]
fn blocks_round_trip() {
    let (_dir, store) = temp_store(&[]);
    let mut chain = TestChain::new();
    chain.push(2);
    chain.push(3);
    append_all(&store, &chain);

    assert_eq!(store.height(), 3);
    for (n, block) in chain.blocks.iter().enumerate() {
        let n = n as u64;
        assert_eq!(store.block(n).expect("read").as_ref(), Some(block));
        assert_eq!(store.block_bytes(n), Ok(Some(block.encode_to_vec())));
    }
    assert_eq!(store.block(3), Ok(None));
    assert_eq!(store.last_block(), Ok(chain.blocks.last().cloned()));
    assert_eq!(store.last_header_hash(), header_hash(&chain.blocks[2]));
    // The stored chain verifies with protoutil's own checks.
    for n in 1..3 {
        crate::protoutil::verify_block_structure(
            &chain.blocks[n],
            n as u64,
            &header_hash(&chain.blocks[n - 1]),
        )
        .expect("valid chain");
    }
}

#[test]
fn blocks_are_found_by_header_hash() {
    let (_dir, store) = temp_store(&[]);
    let mut chain = TestChain::new();
    chain.push(1);
    chain.push(2);
    append_all(&store, &chain);
    for (n, block) in chain.blocks.iter().enumerate() {
        let hash = header_hash(block);
        assert_eq!(store.block_number_by_hash(&hash), Ok(Some(n as u64)));
        assert_eq!(
            store.block_by_hash(&hash).expect("read").as_ref(),
            Some(block)
        );
    }
    assert_eq!(store.block_by_hash(&[7; 32]), Ok(None));
    assert_eq!(
        BlockStore::open(_dir.path().join("other"), &[CF_HASHES]).err(),
        Some(BlockStoreError::ReservedColumnFamily(CF_HASHES.into()))
    );
}

#[test]
fn txids_are_indexed_first_occurrence_wins() {
    let (_dir, store) = temp_store(&[]);
    let mut chain = TestChain::new();
    let b1 = chain.push(2);
    let repeated = b1.data.as_ref().expect("data").data[1].clone();
    let fresh = chain.tx();
    // Block 2: a replay of block 1's second tx, a new tx, and the new tx again.
    let b2 = chain.next_block_with(vec![repeated.clone(), fresh.clone(), fresh.clone()]);
    chain.blocks.push(b2);
    append_all(&store, &chain);

    let genesis_tx = &chain.blocks[0].data.as_ref().expect("data").data[0];
    let location = |block_number, tx_index| {
        Ok(Some(TxLocation {
            block_number,
            tx_index,
        }))
    };
    assert_eq!(store.tx_location(&txid_of(genesis_tx)), location(0, 0));
    let first = &b1.data.as_ref().expect("data").data[0];
    assert_eq!(store.tx_location(&txid_of(first)), location(1, 0));
    assert_eq!(store.tx_location(&txid_of(&repeated)), location(1, 1));
    assert_eq!(store.tx_location(&txid_of(&fresh)), location(2, 1));
    assert_eq!(store.contains_txid(&txid_of(&fresh)), Ok(true));
    assert_eq!(store.contains_txid("unknown"), Ok(false));
}

#[test]
fn empty_txids_are_computed_and_garbage_is_skipped() {
    let (_dir, store) = temp_store(&[]);
    let mut chain = TestChain::new();
    let signature_header = SignatureHeader {
        creator: b"creator".to_vec(),
        nonce: vec![7; 24],
    };
    let payload = Payload {
        header: Some(Header {
            channel_header: ChannelHeader {
                r#type: HeaderType::EndorserTransaction as i32,
                channel_id: "mychannel".into(),
                ..Default::default()
            }
            .encode_to_vec(),
            signature_header: signature_header.encode_to_vec(),
        }),
        data: Vec::new(),
    };
    let no_txid = Envelope {
        payload: payload.encode_to_vec(),
        signature: b"sig".to_vec(),
    }
    .encode_to_vec();
    let garbage = vec![0xff, 0xff, 0xff];
    let block = chain.next_block_with(vec![garbage, no_txid]);
    chain.blocks.push(block);
    append_all(&store, &chain);

    assert_eq!(store.height(), 2);
    let computed = compute_txid(&signature_header.nonce, &signature_header.creator);
    assert_eq!(
        store.tx_location(&computed),
        Ok(Some(TxLocation {
            block_number: 1,
            tx_index: 1
        }))
    );
    assert_eq!(store.tx_location(""), Ok(None));
}

#[test]
fn bad_appends_are_rejected_and_write_nothing() {
    let (_dir, store) = temp_store(&["extra"]);
    let mut chain = TestChain::new();
    let b1 = chain.push(1);
    let marked = || {
        let mut batch = WriteBatch::default();
        batch.put_cf(store.cf("extra").expect("cf"), b"k", b"v");
        batch
    };
    let check_untouched = |height| {
        assert_eq!(store.height(), height);
        let extra = store.cf("extra").expect("cf");
        assert_eq!(store.db().get_cf(extra, b"k"), Ok(None));
    };

    // Genesis must have an empty previous hash.
    let mut bad_genesis = chain.blocks[0].clone();
    if let Some(h) = bad_genesis.header.as_mut() {
        h.previous_hash = vec![1; 32];
    }
    assert!(matches!(
        store.append(&bad_genesis, marked()),
        Err(BlockStoreError::WrongPreviousHash { number: 0, .. })
    ));
    check_untouched(0);

    // Block 1 before block 0.
    assert_eq!(
        store.append(&b1, marked()),
        Err(BlockStoreError::WrongNumber {
            expected: 0,
            got: 1
        })
    );
    check_untouched(0);

    store
        .append(&chain.blocks[0], WriteBatch::default())
        .expect("genesis");

    // Block 0 again.
    assert_eq!(
        store.append(&chain.blocks[0], marked()),
        Err(BlockStoreError::WrongNumber {
            expected: 1,
            got: 0
        })
    );
    // No header.
    let mut headless = b1.clone();
    headless.header = None;
    assert_eq!(
        store.append(&headless, marked()),
        Err(BlockStoreError::MissingHeader)
    );
    // Wrong previous hash.
    let wrong_prev = build_block(1, vec![9; 32], b1.data.clone().expect("data").data);
    assert_eq!(
        store.append(&wrong_prev, marked()),
        Err(BlockStoreError::WrongPreviousHash {
            number: 1,
            expected: hex::encode(header_hash(&chain.blocks[0])),
            got: hex::encode([9; 32]),
        })
    );
    // Data that does not match the data hash.
    let mut tampered = b1.clone();
    if let Some(d) = tampered.data.as_mut() {
        d.data.push(chain.tx());
    }
    assert_eq!(
        store.append(&tampered, marked()),
        Err(BlockStoreError::WrongDataHash { number: 1 })
    );
    let tampered_tx = txid_of(&tampered.data.as_ref().expect("data").data[1]);
    assert_eq!(store.contains_txid(&tampered_tx), Ok(false));
    check_untouched(1);

    // The good block still goes in.
    store.append(&b1, marked()).expect("append");
    assert_eq!(store.height(), 2);
}

#[test]
fn extra_writes_land_with_the_block() {
    let (dir, store) = temp_store(&["raft", "state"]);
    let mut chain = TestChain::new();
    chain.push(1);

    let mut batch = WriteBatch::default();
    batch.put_cf(
        store.cf("raft").expect("cf"),
        b"applied",
        0u64.to_be_bytes(),
    );
    store.append(&chain.blocks[0], batch).expect("append 0");
    let mut batch = WriteBatch::default();
    batch.put_cf(
        store.cf("raft").expect("cf"),
        b"applied",
        1u64.to_be_bytes(),
    );
    batch.put_cf(store.cf("state").expect("cf"), b"key", b"value");
    store.append(&chain.blocks[1], batch).expect("append 1");

    let read = |store: &BlockStore, cf: &str, key: &[u8]| {
        store
            .db()
            .get_cf(store.cf(cf).expect("cf"), key)
            .expect("get")
    };
    assert_eq!(
        read(&store, "raft", b"applied"),
        Some(1u64.to_be_bytes().to_vec())
    );
    assert_eq!(read(&store, "state", b"key"), Some(b"value".to_vec()));
    drop(store);

    // Reopening without naming the extra column families still finds them.
    let store = BlockStore::open(dir.path(), &[]).expect("reopen");
    assert_eq!(store.height(), 2);
    assert_eq!(read(&store, "state", b"key"), Some(b"value".to_vec()));
}

#[test]
fn column_family_names_are_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    for reserved in ["blocks", "txids", "meta", "default"] {
        assert_eq!(
            BlockStore::open(dir.path(), &[reserved]).err(),
            Some(BlockStoreError::ReservedColumnFamily(reserved.into()))
        );
    }
    let store = BlockStore::open(dir.path(), &["mine"]).expect("open");
    assert!(store.cf("mine").is_ok());
    assert!(store.cf(CF_BLOCKS).is_ok());
    assert_eq!(
        store.cf("other").err(),
        Some(BlockStoreError::UnknownColumnFamily("other".into()))
    );
}

#[test]
fn reopen_keeps_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut chain = TestChain::new();
    chain.push(2);
    {
        let store = BlockStore::open(dir.path(), &[]).expect("open");
        append_all(&store, &chain);
    }
    let store = BlockStore::open(dir.path(), &[]).expect("reopen");
    assert_eq!(store.height(), 2);
    assert_eq!(*store.subscribe().borrow(), 2);
    assert_eq!(store.last_header_hash(), header_hash(&chain.blocks[1]));
    assert_eq!(store.block(1), Ok(Some(chain.blocks[1].clone())));
    let tx = &chain.blocks[1].data.as_ref().expect("data").data[1];
    assert_eq!(
        store.tx_location(&txid_of(tx)),
        Ok(Some(TxLocation {
            block_number: 1,
            tx_index: 1
        }))
    );
    // The chain continues where it stopped.
    chain.push(1);
    append_all(&store, &chain);
    assert_eq!(store.height(), 3);
    // A second handle on the same directory is refused while the first is open.
    assert!(matches!(
        BlockStore::open(dir.path(), &[]),
        Err(BlockStoreError::Rocks(_))
    ));
}

#[test]
fn inconsistent_meta_is_detected_on_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut chain = TestChain::new();
    chain.push(1);
    {
        let store = BlockStore::open(dir.path(), &[]).expect("open");
        append_all(&store, &chain);
        // Simulate a height record that ran ahead of the blocks.
        let meta = store.cf(CF_META).expect("meta");
        store
            .db()
            .put_cf(meta, META_HEIGHT, 5u64.to_be_bytes())
            .expect("put");
    }
    assert!(matches!(
        BlockStore::open(dir.path(), &[]),
        Err(BlockStoreError::Corrupt(_))
    ));
}

#[test]
fn unsynced_store_works_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store =
        BlockStore::open_with(dir.path(), &[], BlockStoreOptions { sync: false }).expect("open");
    let mut chain = TestChain::new();
    chain.push(1);
    append_all(&store, &chain);
    assert_eq!(store.height(), 2);
}

#[test]
fn readers_see_whole_blocks_while_appending() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(
        BlockStore::open_with(dir.path(), &[], BlockStoreOptions { sync: false }).expect("open"),
    );
    let mut chain = TestChain::new();
    for _ in 0..30 {
        chain.push(1);
    }
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let store = Arc::clone(&store);
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let mut checks = 0u64;
                while !done.load(Ordering::Acquire) || checks == 0 {
                    let height = store.height();
                    if let Some(last) = height.checked_sub(1) {
                        let block = store
                            .block(last)
                            .expect("read")
                            .expect("block below height");
                        assert_eq!(block.header.as_ref().expect("header").number, last);
                        for tx in &block.data.as_ref().expect("data").data {
                            assert!(store.contains_txid(&txid_of(tx)).expect("index"));
                        }
                    }
                    checks += 1;
                }
                checks
            })
        })
        .collect();
    append_all(&store, &chain);
    done.store(true, Ordering::Release);
    for reader in readers {
        assert!(reader.join().expect("reader") > 0);
    }
    assert_eq!(store.height(), 31);
}

#[tokio::test]
async fn subscribers_are_notified_of_each_append() {
    let (_dir, store) = temp_store(&[]);
    let store = Arc::new(store);
    let mut chain = TestChain::new();
    chain.push(1);
    let mut heights = store.subscribe();
    assert_eq!(*heights.borrow_and_update(), 0);

    let writer = {
        let store = Arc::clone(&store);
        let blocks = chain.blocks.clone();
        tokio::task::spawn_blocking(move || {
            for block in &blocks {
                store.append(block, WriteBatch::default()).expect("append");
            }
        })
    };
    let reached = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        heights.wait_for(|h| *h == 2),
    )
    .await
    .expect("notified in time")
    .map(|h| *h);
    assert_eq!(reached.ok(), Some(2));
    writer.await.expect("writer");
    // A failed append does not notify.
    assert!(
        store
            .append(&chain.blocks[0], WriteBatch::default())
            .is_err()
    );
    assert!(!heights.has_changed().expect("sender alive"));
}
