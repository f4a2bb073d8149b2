//! Multi-process CSTORE replication on 127.0.0.1: convergence, partitions, crashes, late
//! joiners, admission, size limits, and the RESP face. The fault tests run in both durability
//! modes (`sync`, `relaxed`): `both_modes::NAME::{sync, relaxed}`.

use std::path::Path;
use std::time::Duration;

use r1_test_support::{NodeProcess, NodeSpec, eventually, r1_ok};

const WAIT: Duration = Duration::from_secs(30);

fn put(node: &NodeProcess, ns: &str, key: &str, value: &[u8]) -> reqwest::blocking::Response {
    node.http()
        .put(node.url(&format!("/v1/cstore/{ns}/{key}")))
        .body(value.to_vec())
        .send()
        .unwrap()
}

fn get(node: &NodeProcess, ns: &str, key: &str) -> Option<String> {
    let resp = node
        .http()
        .get(node.url(&format!("/v1/cstore/{ns}/{key}")))
        .send()
        .ok()?;
    resp.status()
        .is_success()
        .then(|| resp.text().unwrap_or_default())
}

fn connected(node: &NodeProcess) -> usize {
    node.get_json("/v1/mesh")["mesh"]["connected"]
        .as_array()
        .map_or(0, Vec::len)
}

fn wait_connected(node: &NodeProcess, n: usize) {
    eventually("peers connected", WAIT, || {
        (connected(node) >= n).then_some(())
    });
}

/// All nodes hold the same value for `key`, which is returned.
fn converged(nodes: &[&NodeProcess], ns: &str, key: &str) -> String {
    eventually(&format!("{ns}/{key} converges"), WAIT, || {
        let values: Vec<Option<String>> = nodes.iter().map(|n| get(n, ns, key)).collect();
        (values[0].is_some() && values.iter().all(|v| *v == values[0])).then(|| values[0].clone())
    })
    .unwrap_or_default()
}

/// A node under `root/name` whose CSTORE acknowledges writes in `mode`.
fn spec(root: &Path, name: &str, mode: &str) -> NodeSpec {
    NodeSpec::new(&root.join(name))
        .arg("--cstore-durability")
        .arg(mode)
}

/// Three connected nodes in `mode`: A, B joining A, C joining both.
fn cluster(root: &Path, mode: &str) -> (NodeProcess, NodeProcess, NodeProcess) {
    let a = spec(root, "a", mode).start();
    let b = spec(root, "b", mode).join(&a.spec).start();
    let c = spec(root, "c", mode).join(&a.spec).join(&b.spec).start();
    for node in [&a, &b, &c] {
        wait_connected(node, 2);
    }
    (a, b, c)
}

/// Each fault test once per durability mode.
macro_rules! both_modes {
    ($($name:ident),* $(,)?) => {
        mod both_modes {
            $(
                mod $name {
                    #[test]
                    fn sync() {
                        super::super::$name("sync")
                    }
                    #[test]
                    fn relaxed() {
                        super::super::$name("relaxed")
                    }
                }
            )*
        }
    };
}

both_modes!(
    three_nodes_converge_after_concurrent_conflicting_writes,
    partition_then_heal_converges,
    sigkill_right_after_an_acknowledged_write_loses_nothing,
    late_joiner_catches_up_by_anti_entropy,
    min_acks_waits_for_peers,
);

fn three_nodes_converge_after_concurrent_conflicting_writes(mode: &str) {
    let root = tempfile::tempdir().unwrap();
    let (a, b, c) = cluster(root.path(), mode);
    std::thread::scope(|s| {
        for (i, node) in [&a, &b, &c].into_iter().enumerate() {
            s.spawn(move || {
                for round in 0..20 {
                    let value = format!("node{i}-round{round}");
                    assert!(
                        put(node, "app", "contended", value.as_bytes())
                            .status()
                            .is_success()
                    );
                    assert!(
                        put(node, "app", &format!("own-{i}-{round}"), b"x")
                            .status()
                            .is_success()
                    );
                }
            });
        }
    });
    let winner = converged(&[&a, &b, &c], "app", "contended");
    assert!(winner.ends_with("round19"), "{winner}");
    for i in 0..3 {
        converged(&[&a, &b, &c], "app", &format!("own-{i}-19"));
    }
    // Hash fields converge too.
    r1_ok(&["cstore", "hset", "app", "h", "f", "from-a"], Some(&a.api));
    r1_ok(&["cstore", "hset", "app", "h", "f", "from-c"], Some(&c.api));
    let fields = eventually("hash converges", WAIT, || {
        let all: Vec<String> = [&a, &b, &c]
            .iter()
            .map(|n| r1_ok(&["cstore", "hgetall", "app", "h"], Some(&n.api)))
            .collect();
        (all.iter().all(|v| *v == all[0]) && !all[0].is_empty()).then(|| all[0].clone())
    });
    assert!(fields == "f\tfrom-a" || fields == "f\tfrom-c", "{fields}");
}

fn partition_then_heal_converges(mode: &str) {
    let root = tempfile::tempdir().unwrap();
    let (a, b, c) = cluster(root.path(), mode);
    let peer = |n: &NodeProcess| {
        n.get_json("/v1/status")["peer_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (pa, pb) = (peer(&a), peer(&b));
    // Cut C off: it drops A and B and refuses them.
    r1_ok(&["mesh", "block", &pa], Some(&c.api));
    r1_ok(&["mesh", "block", &pb], Some(&c.api));
    eventually("C isolated", WAIT, || (connected(&c) == 0).then_some(()));

    assert!(
        put(&a, "p", "shared", b"majority side")
            .status()
            .is_success()
    );
    assert!(put(&a, "p", "only-a", b"1").status().is_success());
    std::thread::sleep(Duration::from_millis(20));
    assert!(
        put(&c, "p", "shared", b"minority side, later")
            .status()
            .is_success()
    );
    assert!(put(&c, "p", "only-c", b"1").status().is_success());
    converged(&[&a, &b], "p", "only-a");
    assert_eq!(get(&c, "p", "only-a"), None, "C is cut off");

    r1_ok(&["mesh", "unblock", &pa], Some(&c.api));
    r1_ok(&["mesh", "unblock", &pb], Some(&c.api));
    converged(&[&a, &b, &c], "p", "only-a");
    converged(&[&a, &b, &c], "p", "only-c");
    // The later write (made on C during the partition) wins everywhere.
    assert_eq!(
        converged(&[&a, &b, &c], "p", "shared"),
        "minority side, later"
    );
}

/// In `relaxed` too: a relaxed write is in the journal file (the OS holds it) before its ack,
/// so killing the process loses nothing; only a machine crash could lose the last flush.
fn sigkill_right_after_an_acknowledged_write_loses_nothing(mode: &str) {
    let root = tempfile::tempdir().unwrap();
    let a = spec(root.path(), "a", mode).start();
    for i in 0..20 {
        assert!(
            put(&a, "k", &format!("key{i}"), format!("v{i}").as_bytes())
                .status()
                .is_success()
        );
    }
    let spec = a.kill();
    let a = spec.start();
    for i in 0..20 {
        assert_eq!(get(&a, "k", &format!("key{i}")), Some(format!("v{i}")));
    }
}

fn late_joiner_catches_up_by_anti_entropy(mode: &str) {
    let root = tempfile::tempdir().unwrap();
    let a = spec(root.path(), "a", mode).start();
    let b = spec(root.path(), "b", mode).join(&a.spec).start();
    wait_connected(&a, 1);
    for i in 0..200 {
        assert!(
            put(&a, "late", &format!("key{i:03}"), b"v")
                .status()
                .is_success()
        );
    }
    assert!(put(&b, "late", "deleted", b"v").status().is_success());
    b.http()
        .delete(b.url("/v1/cstore/late/deleted"))
        .send()
        .unwrap();
    // C was not there for any of it.
    let c = spec(root.path(), "c", mode).join(&a.spec).start();
    eventually("C holds all 200 keys", WAIT, || {
        let page = c.get_json("/v1/cstore/late?limit=1000");
        (page["keys"].as_array().map_or(0, Vec::len) == 200).then_some(())
    });
    assert_eq!(get(&c, "late", "deleted"), None);
    drop(b);
}

/// More than one anti-entropy page (8 MiB) behind: pages resume where the last one stopped.
/// (Before they did, every round resent the first 8 MiB and a joiner this far behind never
/// caught up.)
#[test]
fn a_joiner_more_than_a_page_behind_catches_up() {
    let root = tempfile::tempdir().unwrap();
    let a = NodeSpec::new(&root.path().join("a")).start();
    let value = vec![b'z'; 60 * 1024];
    for i in 0..200 {
        assert!(
            put(&a, "bulk", &format!("key{i:03}"), &value)
                .status()
                .is_success()
        );
    }
    let b = NodeSpec::new(&root.path().join("b")).join(&a.spec).start();
    eventually("B holds all 200 keys (about 12 MiB)", WAIT, || {
        let page = b.get_json("/v1/cstore/bulk?limit=1000");
        (page["keys"].as_array().map_or(0, Vec::len) == 200).then_some(())
    });
    assert_eq!(
        get(&b, "bulk", "key199").map(|v| v.len()),
        Some(value.len())
    );
}

#[test]
fn peers_outside_the_allowlist_change_nothing() {
    let root = tempfile::tempdir().unwrap();
    // D is not on the allowlist (and admits everyone itself).
    let (a, b, d) = r1_test_support::allowlisted_trio(root.path());
    wait_connected(&b, 1);
    wait_connected(&d, 1);
    assert!(put(&d, "x", "intruder", b"evil").status().is_success());
    eventually("A drops D's traffic", WAIT, || {
        let m = a.get_json("/v1/mesh")["mesh"].clone();
        let dropped =
            m["dropped_gossip"].as_u64().unwrap_or(0) + m["dropped_requests"].as_u64().unwrap_or(0);
        (dropped > 0).then_some(())
    });
    assert!(put(&b, "x", "marker", b"ok").status().is_success());
    converged(&[&a, &b], "x", "marker");
    assert_eq!(get(&a, "x", "intruder"), None);
    assert_eq!(get(&b, "x", "intruder"), None);
}

#[test]
fn oversize_values_are_refused_and_large_ones_replicate() {
    let root = tempfile::tempdir().unwrap();
    let a = NodeSpec::new(&root.path().join("a")).start();
    let b = NodeSpec::new(&root.path().join("b")).join(&a.spec).start();
    wait_connected(&a, 1);
    let resp = put(&a, "big", "too-big", &vec![b'x'; 2 * 1024 * 1024]);
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("exceeds the 1048576-byte limit")
    );
    // Above the 64 KiB gossip limit: replicated by request-response instead.
    let large = "y".repeat(200 * 1024);
    assert!(
        put(&a, "big", "large", large.as_bytes())
            .status()
            .is_success()
    );
    assert_eq!(converged(&[&a, &b], "big", "large").len(), large.len());
}

fn min_acks_waits_for_peers(mode: &str) {
    let root = tempfile::tempdir().unwrap();
    let a = spec(root.path(), "a", mode).start();
    let b = spec(root.path(), "b", mode).join(&a.spec).start();
    wait_connected(&a, 1);
    let out = r1_ok(
        &["cstore", "set", "acks", "k", "v", "--min-acks", "1"],
        Some(&a.api),
    );
    assert!(out.starts_with("OK"), "{out}");
    // Acknowledged by B: B holds it now, no waiting needed.
    assert_eq!(get(&b, "acks", "k").as_deref(), Some("v"));
    let out = r1_test_support::r1(
        &["cstore", "set", "acks", "k", "v", "--min-acks", "5"],
        Some(&a.api),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("only 1 of the 5 required peers"));
    // A write may ask to be synced before its answer, whatever the node's mode.
    let out = r1_ok(
        &[
            "cstore",
            "set",
            "acks",
            "synced",
            "v",
            "--sync",
            "--min-acks",
            "1",
        ],
        Some(&a.api),
    );
    assert!(out.starts_with("OK"), "{out}");
    assert_eq!(get(&b, "acks", "synced").as_deref(), Some("v"));
    let bad = a
        .http()
        .put(a.url("/v1/cstore/acks/k?sync=maybe"))
        .body("v")
        .send()
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[test]
fn redis_cli_talks_to_the_resp_listener() {
    let root = tempfile::tempdir().unwrap();
    let a = NodeSpec::new(&root.path().join("a")).start();
    let port = a.spec.resp_port.to_string();
    let cli = |args: &[&str]| -> String {
        let out = std::process::Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port])
            .args(args)
            .output()
            .expect("redis-cli (Debian's redis-tools; `make setup` installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(cli(&["PING"]), "PONG");
    assert_eq!(cli(&["SET", "user:1", "ada"]), "OK");
    assert_eq!(cli(&["SET", "user:2", "bob"]), "OK");
    assert_eq!(cli(&["GET", "user:1"]), "ada");
    assert_eq!(cli(&["GET", "missing"]), "");
    assert_eq!(cli(&["EXISTS", "user:1", "user:3"]), "1");
    assert_eq!(cli(&["KEYS", "user:*"]), "user:1\nuser:2");
    assert_eq!(cli(&["INCR", "hits"]), "1");
    assert_eq!(cli(&["INCR", "hits"]), "2");
    assert!(cli(&["INCR", "user:1"]).contains("not an integer"));
    assert_eq!(cli(&["HSET", "h", "a", "1", "b", "2"]), "2");
    assert_eq!(cli(&["HGET", "h", "b"]), "2");
    assert_eq!(cli(&["HGETALL", "h"]), "a\n1\nb\n2");
    assert_eq!(cli(&["HDEL", "h", "a", "zz"]), "1");
    assert_eq!(cli(&["DEL", "user:2", "nothing"]), "1");
    let mut scanned: Vec<String> = cli(&["--scan"]).lines().map(str::to_owned).collect();
    scanned.sort();
    assert_eq!(scanned, vec!["h", "hits", "user:1"], "hash keys are keys");
    assert_eq!(cli(&["TYPE", "h"]), "hash");
    assert!(cli(&["FLUSHALL"]).contains("every node"));
    // RESP writes are CSTORE writes: visible through the API, in namespace "resp".
    assert_eq!(get(&a, "resp", "user:1").as_deref(), Some("ada"));
}
