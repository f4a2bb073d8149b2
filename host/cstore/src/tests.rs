use super::*;

fn store() -> (tempfile::TempDir, Cstore) {
    let dir = tempfile::tempdir().unwrap();
    let store = Cstore::open(dir.path()).unwrap();
    (dir, store)
}

#[test]
fn set_get_delete_and_versions() {
    let (_dir, s) = store();
    assert_eq!(s.get("a", "k").unwrap(), None);
    assert_eq!(s.set("a", "k", b"one").unwrap(), 1);
    assert_eq!(s.set("a", "k", b"two").unwrap(), 2);
    assert_eq!(
        s.get_versioned("a", "k").unwrap(),
        Some(Versioned {
            value: b"two".to_vec(),
            version: 2
        })
    );
    assert!(s.exists("a", "k").unwrap());
    assert!(s.delete("a", "k").unwrap());
    assert!(!s.delete("a", "k").unwrap());
    assert!(!s.exists("a", "k").unwrap());
    assert_eq!(s.list_keys("a", "", None, 10).unwrap().keys.len(), 0);
}

#[test]
fn namespaces_do_not_alias() {
    let (_dir, s) = store();
    s.set("a", "x", b"in a").unwrap();
    assert_eq!(s.get("b", "x").unwrap(), None);
    assert!(matches!(
        s.set("", "a\0x", b"evil"),
        Err(CstoreError::Invalid { .. })
    ));
    assert!(matches!(
        s.set("a\0", "x", b"evil"),
        Err(CstoreError::Invalid { .. })
    ));
    assert_eq!(s.list_keys("b", "", None, 10).unwrap().keys.len(), 0);
}

#[test]
fn compare_and_swap_checks_version() {
    let (_dir, s) = store();
    assert_eq!(
        s.compare_and_swap("n", "k", 0, b"v1").unwrap(),
        CasOutcome::Swapped(1)
    );
    assert_eq!(
        s.compare_and_swap("n", "k", 0, b"again").unwrap(),
        CasOutcome::Conflict(1)
    );
    assert_eq!(
        s.compare_and_swap("n", "k", 1, b"v2").unwrap(),
        CasOutcome::Swapped(2)
    );
    assert_eq!(s.get("n", "k").unwrap().unwrap(), b"v2");
}

#[test]
fn list_keys_pages_with_cursor() {
    let (_dir, s) = store();
    for i in 0..25 {
        s.set("n", &format!("user/{i:03}"), b"x").unwrap();
    }
    s.set("n", "other", b"x").unwrap();
    s.delete("n", "user/007").unwrap();
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = s.list_keys("n", "user/", cursor.as_deref(), 10).unwrap();
        assert!(page.keys.len() <= 10);
        all.extend(page.keys);
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25)
        .filter(|i| *i != 7)
        .map(|i| format!("user/{i:03}"))
        .collect();
    assert_eq!(all, expected);
}

#[test]
fn hashes() {
    let (_dir, s) = store();
    assert!(s.hset("n", "h", "b", b"2").unwrap());
    assert!(s.hset("n", "h", "a", b"1").unwrap());
    assert!(!s.hset("n", "h", "a", b"1'").unwrap());
    s.hset("n", "h2", "a", b"other hash").unwrap();
    assert_eq!(s.hget("n", "h", "a").unwrap().unwrap(), b"1'");
    assert_eq!(
        s.hgetall("n", "h").unwrap(),
        vec![("a".into(), b"1'".to_vec()), ("b".into(), b"2".to_vec())]
    );
    assert_eq!(s.hkeys("n", "h").unwrap(), vec!["a", "b"]);
    assert!(s.hdel("n", "h", "a").unwrap());
    assert!(!s.hdel("n", "h", "a").unwrap());
    assert_eq!(s.hkeys("n", "h").unwrap(), vec!["b"]);
    // A hash and a plain key of the same name are different cells.
    s.set("n", "h", b"plain").unwrap();
    assert_eq!(s.hkeys("n", "h").unwrap(), vec!["b"]);
}

#[test]
fn oversize_value_refused() {
    let (_dir, s) = store();
    let big = vec![0u8; MAX_VALUE_BYTES + 1];
    let err = s.set("n", "k", &big).unwrap_err();
    assert!(matches!(err, CstoreError::TooLarge { .. }));
    assert!(err.to_string().contains("exceeds the 1048576-byte limit"));
    assert!(matches!(
        s.hset("n", "k", "f", &big),
        Err(CstoreError::TooLarge { .. })
    ));
}

#[test]
fn survives_reopen_with_digests() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_bytes(&[1; 32]);
    let digests = {
        let s = Cstore::open_with_key(dir.path(), key.clone()).unwrap();
        s.set("n", "k", b"durable").unwrap();
        s.hset("n", "h", "f", b"v").unwrap();
        s.digests()
    };
    let s = Cstore::open_with_key(dir.path(), key).unwrap();
    assert_eq!(s.get("n", "k").unwrap().unwrap(), b"durable");
    assert_eq!(s.hget("n", "h", "f").unwrap().unwrap(), b"v");
    assert_eq!(s.digests(), digests);
}

/// Every op a store wrote, captured through its outbox.
fn capture(s: &Cstore) -> mpsc::UnboundedReceiver<Vec<Vec<u8>>> {
    let (tx, rx) = mpsc::unbounded_channel();
    s.set_outbox(Some(tx));
    rx
}

fn drain(rx: &mut mpsc::UnboundedReceiver<Vec<Vec<u8>>>) -> Vec<Vec<u8>> {
    let mut ops = Vec::new();
    while let Ok(round) = rx.try_recv() {
        ops.extend(round);
    }
    ops
}

#[test]
fn replicas_converge_whatever_the_delivery_order() {
    let (_d1, a) = store();
    let (_d2, b) = store();
    let (_d3, c) = store();
    let (mut ra, mut rb) = (capture(&a), capture(&b));
    // Concurrent conflicting writes on a and b.
    a.set("n", "x", b"from a").unwrap();
    b.set("n", "x", b"from b").unwrap();
    a.hset("n", "h", "f", b"a").unwrap();
    b.hset("n", "h", "f", b"b").unwrap();
    b.set("n", "gone", b"soon").unwrap();
    b.delete("n", "gone").unwrap();
    let ops_a = drain(&mut ra);
    let ops_b = drain(&mut rb);
    // a gets b's ops; b gets a's; c gets both in reverse order.
    a.apply_remote(&ops_b).unwrap();
    b.apply_remote(&ops_a).unwrap();
    let mut reversed: Vec<Vec<u8>> = ops_a.iter().chain(&ops_b).cloned().collect();
    reversed.reverse();
    c.apply_remote(&reversed).unwrap();
    for s in [&a, &b, &c] {
        assert_eq!(s.get("n", "x").unwrap(), a.get("n", "x").unwrap());
        assert_eq!(
            s.hget("n", "h", "f").unwrap(),
            a.hget("n", "h", "f").unwrap()
        );
        assert_eq!(s.get("n", "gone").unwrap(), None);
        assert_eq!(s.digests(), a.digests());
    }
    // Re-applying is a no-op.
    let again = a.apply_remote(&ops_b).unwrap();
    assert!(again.iter().all(|r| *r == Ok(Applied::Stale)));
}

/// The leaf buckets where `a` and `b` differ, found as anti-entropy does: tops, then leaves.
fn differing_leaves(a: &Cstore, b: &Cstore) -> Vec<u16> {
    let tops: Vec<u8> = a
        .digests()
        .iter()
        .zip(b.digests())
        .enumerate()
        .filter(|(_, (x, y))| **x != *y)
        .map(|(i, _)| i as u8)
        .collect();
    a.leaf_digests(&tops)
        .iter()
        .zip(b.leaf_digests(&tops))
        .enumerate()
        .filter(|(_, (x, y))| **x != *y)
        .map(|(i, _)| (tops[i / 256] as u16) << 8 | (i % 256) as u16)
        .collect()
}

#[test]
fn an_exchange_moves_about_what_differs_not_the_store() {
    let (_d1, a) = store();
    let (_d2, b) = store();
    let mut ra = capture(&a);
    let queued: Vec<Queued<u64>> = (0..20_000)
        .map(|i| a.set_queued("n", &format!("k{i}"), b"v").unwrap())
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        for q in queued {
            q.wait().await.unwrap();
        }
    });
    b.apply_remote(&drain(&mut ra)).unwrap();
    assert_eq!(a.digests(), b.digests());
    assert!(differing_leaves(&a, &b).is_empty());
    for i in 0..10 {
        a.set("n", &format!("new{i}"), b"v").unwrap();
    }
    let differing = differing_leaves(&a, &b);
    assert!(
        !differing.is_empty() && differing.len() <= 10,
        "{differing:?}"
    );
    let page = a.ops_in_buckets(&differing, usize::MAX, None).unwrap();
    // The 10 new ops and the few old cells sharing their leaves (20,000 / 65,536 per leaf).
    assert!(
        (10..=30).contains(&page.ops.len()),
        "{} ops for 10 differences",
        page.ops.len()
    );
    b.apply_remote(&page.ops).unwrap();
    assert_eq!(a.digests(), b.digests());
}

#[test]
fn anti_entropy_buckets_find_the_difference() {
    let (_d1, a) = store();
    let (_d2, b) = store();
    let mut ra = capture(&a);
    for i in 0..50 {
        a.set("n", &format!("k{i}"), b"v").unwrap();
    }
    drain(&mut ra);
    let differing = differing_leaves(&a, &b);
    assert!(!differing.is_empty());
    let page = a.ops_in_buckets(&differing, usize::MAX, None).unwrap();
    assert!(page.next.is_none());
    assert_eq!(page.ops.len(), 50);
    b.apply_remote(&page.ops).unwrap();
    assert_eq!(a.digests(), b.digests());
    assert_eq!(b.list_keys("n", "", None, 100).unwrap().keys.len(), 50);
}

#[test]
fn anti_entropy_pages_resume_so_a_large_difference_is_crossed() {
    let (_da, a) = store();
    let (_db, b) = store();
    for i in 0..300 {
        a.set("n", &format!("k{i:03}"), &[b'v'; 1000]).unwrap();
    }
    let all: Vec<u16> = (0..=u16::MAX).collect();
    // Pages of about ten ops: each picks up where the last stopped, none twice.
    let mut after: Option<Vec<u8>> = None;
    let mut pages = 0;
    loop {
        let page = a.ops_in_buckets(&all, 10_500, after.as_deref()).unwrap();
        assert!(page.ops.len() <= 11 && !page.ops.is_empty());
        b.apply_remote(&page.ops).unwrap();
        pages += 1;
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert!(pages >= 28, "{pages} pages");
    assert_eq!(a.digests(), b.digests());
    assert_eq!(b.list_keys("n", "", None, 1000).unwrap().keys.len(), 300);
}

#[test]
fn tombstones_are_collected_after_the_horizon() {
    let (_dir, s) = store();
    s.set("n", "k", b"v").unwrap();
    s.delete("n", "k").unwrap();
    s.set("n", "live", b"v").unwrap();
    assert_eq!(s.collect_tombstones(60_000).unwrap(), 0);
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(s.collect_tombstones(1).unwrap(), 1);
    assert_eq!(s.get("n", "live").unwrap().unwrap(), b"v");
    assert_eq!(s.get("n", "k").unwrap(), None);
}

#[test]
fn concurrent_writers_share_fsyncs_and_lose_nothing() {
    let (_dir, s) = store();
    std::thread::scope(|scope| {
        for t in 0..8 {
            let s = s.clone();
            scope.spawn(move || {
                for i in 0..50 {
                    s.set("n", &format!("t{t}-{i}"), b"v").unwrap();
                }
            });
        }
    });
    assert_eq!(s.list_keys("n", "", None, 1000).unwrap().keys.len(), 400);
}

#[test]
fn durability_modes_parse_and_relaxed_writes_survive_a_stop() {
    use crate::Durability;
    use std::time::Duration;
    assert_eq!("sync".parse::<Durability>(), Ok(Durability::Sync));
    assert_eq!(
        "relaxed".parse::<Durability>(),
        Ok(Durability::Relaxed {
            flush: Duration::from_secs(1)
        })
    );
    assert_eq!(
        "relaxed:250".parse::<Durability>(),
        Ok(Durability::Relaxed {
            flush: Duration::from_millis(250)
        })
    );
    for bad in ["relaxed:0", "relaxed:x", "fast", ""] {
        assert!(bad.parse::<Durability>().is_err(), "{bad}");
    }
    let dir = tempfile::tempdir().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    {
        // A long flush period: only the stop's final sync puts these on disk.
        let store = Cstore::open_with(
            dir.path(),
            key.clone(),
            Durability::Relaxed {
                flush: Duration::from_secs(3600),
            },
        )
        .unwrap();
        for i in 0..50 {
            store.set("ns", &format!("k{i}"), b"v").unwrap();
        }
    }
    let store = Cstore::open_with_key(dir.path(), key).unwrap();
    assert_eq!(store.list_keys("ns", "", None, 100).unwrap().keys.len(), 50);
}

#[test]
fn a_write_can_ask_for_a_sync_on_a_relaxed_store() {
    use crate::Durability;
    let dir = tempfile::tempdir().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let relaxed = Cstore::open_with(
        dir.path(),
        key,
        Durability::Relaxed {
            flush: std::time::Duration::from_secs(3600),
        },
    )
    .unwrap();
    for i in 0..10 {
        relaxed.set("ns", &format!("k{i}"), b"v").unwrap();
    }
    assert_eq!(
        relaxed.journal_syncs(),
        0,
        "relaxed writes wait for the flush"
    );
    relaxed.set_synced("ns", "important", b"v").unwrap();
    assert_eq!(
        relaxed.journal_syncs(),
        1,
        "this one (and all before it) is on disk"
    );
    let (_dir, sync) = store();
    sync.set("ns", "a", b"v").unwrap();
    sync.set("ns", "b", b"v").unwrap();
    assert_eq!(sync.journal_syncs(), 2, "a sync store syncs every batch");
}

#[test]
fn the_bucket_index_serves_exactly_the_asked_buckets_and_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let s = Cstore::open_with_key(dir.path(), key.clone()).unwrap();
    for i in 0..200 {
        s.set("n", &format!("k{i}"), b"v").unwrap();
    }
    s.hset("n", "h", "f", b"v").unwrap();
    let all: Vec<u16> = (0..=u16::MAX).collect();
    let every = s.ops_in_buckets(&all, usize::MAX, None).unwrap().ops;
    assert_eq!(every.len(), 201);
    // One bucket: exactly its cells, found without the others.
    let bucket_of_op = |op: &Vec<u8>| {
        let body = crate::op::decode(op).unwrap();
        crate::bucket_of(&crate::op::cell_key(
            body.kind,
            &body.ns,
            &body.key,
            &body.field,
        ))
    };
    let b = bucket_of_op(&every[0]);
    let expected = every.iter().filter(|op| bucket_of_op(op) == b).count();
    let one = s.ops_in_buckets(&[b], usize::MAX, None).unwrap().ops;
    assert_eq!(one.len(), expected);
    assert!(one.iter().all(|op| bucket_of_op(op) == b));
    // Rewrites do not index a cell twice; a reopened store serves the same.
    s.set("n", "k0", b"again").unwrap();
    drop(s);
    let s = Cstore::open_with_key(dir.path(), key).unwrap();
    assert_eq!(
        s.ops_in_buckets(&all, usize::MAX, None).unwrap().ops.len(),
        201
    );
}

/// The signature an op carries (its last 64 bytes).
fn signature(op: &[u8]) -> &[u8] {
    &op[op.len() - 64..]
}

#[test]
fn a_round_of_writes_is_signed_once_and_every_op_verifies_alone() {
    let (_dir, s) = store();
    let mut rx = capture(&s);
    // Queued together, the writes share a committer round; two of them hit one cell.
    let queued: Vec<Queued<u64>> = (0..200)
        .map(|i| s.set_queued("a", &format!("k{}", i % 150), b"v").unwrap())
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let versions: Vec<u64> = rt.block_on(async {
        let mut out = Vec::new();
        for q in queued {
            out.push(q.wait().await.unwrap());
        }
        out
    });
    assert_eq!(versions[0], 1);
    assert_eq!(
        versions[150], 2,
        "a later write in the same round reads the earlier one"
    );
    let shipped = drain(&mut rx);
    assert_eq!(
        shipped.len(),
        200,
        "every write is shipped, the overtaken ones too"
    );
    let mut signatures = std::collections::HashSet::new();
    for op in &shipped {
        let body = op::verify(op).expect("each op verifies alone");
        assert_eq!(body.writer, s.writer());
        signatures.insert(signature(op).to_vec());
    }
    assert!(
        signatures.len() < 200,
        "writes that shared a round share a signature ({} signatures for 200 ops)",
        signatures.len()
    );
    // What is stored is each cell's latest op, signed.
    let stored = s.key_op("a", "k0").unwrap().unwrap();
    assert_eq!(op::verify(&stored).unwrap().version, 2);
    assert_eq!(s.get_versioned("a", "k149").unwrap().unwrap().version, 1);
}

#[test]
fn a_remote_op_that_overtakes_a_pending_local_write_is_what_stays() {
    let (_dir, a) = store();
    let (_dir_b, b) = store();
    let mut rx = capture(&b);
    // b writes with a clock far ahead, so its op is later than anything a stamps now.
    b.shared.clock.observe(u64::MAX / 2);
    b.set("x", "k", b"from b").unwrap();
    let remote = drain(&mut rx).remove(0);
    // In one committer round of a: a local write (pending, unsigned), then b's op.
    let applied = a
        .commit(move |sh| {
            sh.write_local((Kind::Key, "x", "k", ""), (Some(b"from a"), 0), 1, None)?;
            sh.apply_one(&remote)
        })
        .unwrap();
    assert_eq!(applied, Ok(Applied::Updated));
    assert_eq!(a.get("x", "k").unwrap(), Some(b"from b".to_vec()));
    // The same state and digest as a store that only ever saw b's op.
    let c = store().1;
    c.apply_remote(&[b.key_op("x", "k").unwrap().unwrap()])
        .unwrap();
    assert_eq!(a.digests(), c.digests());
    assert_eq!(a.key_op("x", "k").unwrap(), b.key_op("x", "k").unwrap());
}

#[test]
fn expired_values_read_as_absent_everywhere_and_are_collected() {
    let (_dir, s) = store();
    let mut rx = capture(&s);
    s.set_expiring("a", "soon", b"v", Expiry::after_ms(150))
        .unwrap();
    s.set_expiring("a", "later", b"v", Expiry::after_ms(60_000))
        .unwrap();
    s.set("a", "never", b"v").unwrap();
    assert_eq!(s.get("a", "soon").unwrap(), Some(b"v".to_vec()));
    assert_eq!(s.expiry("a", "never").unwrap(), Some(0));
    assert!(s.expiry("a", "later").unwrap().unwrap() > now_ms());
    // A counter-style rewrite keeps the expiry; EXPIRE … Never removes it.
    assert!(matches!(
        s.compare_and_swap("a", "later", 1, b"w").unwrap(),
        CasOutcome::Swapped(2)
    ));
    assert!(s.expiry("a", "later").unwrap().unwrap() > now_ms());
    assert!(s.expire("a", "later", Expiry::Never).unwrap());
    assert_eq!(s.expiry("a", "later").unwrap(), Some(0));
    // A replica holds the expiry too (it travels in the op).
    let replica = store().1;
    replica.apply_remote(&drain(&mut rx)).unwrap();
    assert!(replica.expiry("a", "soon").unwrap().unwrap() > 0);
    std::thread::sleep(std::time::Duration::from_millis(250));
    for st in [&s, &replica] {
        assert_eq!(st.get("a", "soon").unwrap(), None);
        assert_eq!(st.expiry("a", "soon").unwrap(), None);
        let keys = st.list_keys("a", "", None, 10).unwrap().keys;
        assert_eq!(keys, ["later", "never"]);
    }
    assert!(
        !s.expire("a", "soon", Expiry::after_ms(1000)).unwrap(),
        "nothing to expire"
    );
    // A write after expiry starts the key again at version 1.
    assert_eq!(s.set("a", "soon", b"again").unwrap(), 1);
    s.delete("a", "soon").unwrap();
    s.set_expiring("a", "gone", b"v", Expiry::At(1)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5)); // the tombstone is then past
    assert_eq!(
        s.collect_tombstones(0).unwrap(),
        2,
        "the tombstone and the expired value"
    );
    assert!(s.key_op("a", "gone").unwrap().is_none());
}
