//! Distributed actors across `r1 node` processes on 127.0.0.1: the pipeline on three nodes,
//! requests and replies across nodes with the sender's identity, each error case seen by a
//! test actor, a node SIGKILLed mid-stream, admission, and backpressure under a flood with
//! the receiver's memory measured.

use std::path::Path;
use std::time::Duration;

use r1_test_support::{NodeProcess, NodeSpec, eventually, guest, r1, r1_ok};

const WAIT: Duration = Duration::from_secs(30);

fn start(node: &NodeProcess, wasm: &str, name: &str, grants: &[&str], config: &[(&str, &str)]) {
    let grants: Vec<String> = grants.iter().map(|g| g.to_string()).collect();
    let config: Vec<(String, String)> = config
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    node.client()
        .start_actor(name, guest(wasm), &grants, &config)
        .unwrap_or_else(|e| panic!("start {name}: {e}"));
}

/// Asks actor `name` on `node` (a probe command) and returns its answer as text.
fn ask(node: &NodeProcess, name: &str, text: &str) -> String {
    let reply = node
        .client()
        .request(name, text.as_bytes().to_vec(), Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{name} <- {text:?}: {e}"));
    String::from_utf8_lossy(&reply).into_owned()
}

fn node_id(node: &NodeProcess) -> String {
    node.get_json("/v1/status")["peer_id"]
        .as_str()
        .expect("peer id")
        .to_owned()
}

/// Waits until `node` knows that `name` runs on `on`.
fn located(node: &NodeProcess, name: &str, on: &str) {
    eventually(&format!("{name} is located on {on}"), WAIT, || {
        let found = node.client().locate(name).ok()?;
        found["nodes"]
            .as_array()?
            .iter()
            .any(|n| n == on)
            .then_some(())
    });
}

/// `key=N` out of a probe's counts line.
fn count(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {line:?}"))
}

fn two_nodes(root: &Path) -> (NodeProcess, NodeProcess) {
    let a = NodeSpec::new(&root.join("a")).start();
    let b = NodeSpec::new(&root.join("b")).join(&a.spec).start();
    (a, b)
}

#[test]
fn the_pipeline_across_three_nodes_delivers_every_line_in_order() {
    let root = tempfile::tempdir().unwrap();
    let (a, b, c) = r1_test_support::three_nodes(root.path());
    start(
        &c,
        "pipeline_sink",
        "sink",
        &["cstore:pipeline", "mesh"],
        &[],
    );
    start(&b, "pipeline_transform", "transform", &["mesh"], &[]);
    start(&a, "pipeline_source", "source", &["mesh"], &[]);
    located(&a, "transform", &node_id(&b));
    located(&b, "sink", &node_id(&c));
    let lines: Vec<String> = (0..100).map(|i| format!("line {i} of the input")).collect();
    assert_eq!(
        ask(&a, "source", &lines.join("\n")),
        "published 100 line(s) on pipeline.raw"
    );
    let expected: Vec<String> = lines
        .iter()
        .map(|l| format!("{} (5 words)", l.to_uppercase()))
        .collect();
    let got = eventually("the sink has every line", WAIT, || {
        let dump = ask(&c, "sink", "dump");
        (dump.lines().count() >= expected.len()).then_some(dump)
    });
    assert_eq!(got.lines().collect::<Vec<_>>(), expected, "in order, once");
    // The CLI says where each stage runs, from any node.
    let out = r1_ok(&["actor", "where", "sink"], Some(&a.api));
    assert_eq!(out.trim(), node_id(&c));
    let missing = r1(&["actor", "where", "nowhere"], Some(&a.api));
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no node of the mesh runs"));
}

#[test]
fn requests_and_sends_cross_nodes_with_the_sender_known_and_each_error_named() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes(root.path());
    let (id_a, id_b) = (node_id(&a), node_id(&b));
    start(&a, "guest_mesh_probe", "probe", &["mesh"], &[]);
    start(&a, "guest_mesh_probe", "local", &["mesh"], &[]);
    start(&b, "guest_mesh_probe", "echo", &["mesh"], &[]);
    located(&a, "echo", &id_b);
    assert_eq!(ask(&a, "probe", "self"), id_a);
    assert_eq!(ask(&a, "probe", "locate echo"), id_b);

    // A request by address and by plain name gets its reply.
    let hi = ask(&a, "probe", &format!("request {id_b}/echo 5000 echo:hi"));
    assert_eq!(hi, "ok:hi");
    assert_eq!(
        ask(&a, "probe", "request echo 5000 echo:byname"),
        "ok:byname"
    );
    // The receiver sees who sent it: this node's peer and the actor.
    assert_eq!(ask(&a, "probe", &format!("send {id_b}/echo hello")), "ok");
    eventually("the send arrives", WAIT, || {
        (ask(&b, "echo", "received") == format!("{id_a}/probe|hello")).then_some(())
    });
    // A publish reaches the subscribers on the other node, in the publisher's order.
    assert_eq!(ask(&b, "echo", "subscribe lines"), "ok");
    let reached = eventually("A routes lines to B", WAIT, || {
        let line = ask(&a, "local", "publish lines 1");
        (count(&line, "reached") == 1).then_some(line)
    });
    assert_eq!(reached, "reached=1 errors=0");
    assert_eq!(
        ask(&a, "probe", "publish lines 100"),
        "reached=100 errors=0"
    );
    let want: Vec<String> = (0..100).map(|i| format!("{id_a}/probe|seq:{i}")).collect();
    eventually("every published message arrives in order", WAIT, || {
        let got = ask(&b, "echo", "received");
        let mine: Vec<&str> = got.lines().filter(|l| l.contains("/probe|seq:")).collect();
        (mine == want).then_some(())
    });

    // Each error, as the calling actor sees it.
    let unknown_peer = "12D3KooWFc9NFptm37ouTAYjerkiYRgkCApVYasQjVJKVgjBckSq";
    let err = ask(&a, "probe", &format!("request {unknown_peer}/echo 1000 x"));
    assert!(err.starts_with("err:unknown-node:"), "{err}");
    let err = ask(&a, "probe", "request not-a-node/echo 1000 x");
    assert!(err.starts_with("err:unknown-node:"), "{err}");
    let err = ask(&a, "probe", &format!("request {id_b}/nobody 1000 x"));
    assert_eq!(err, format!("err:unknown-recipient:{id_b}/nobody"));
    let err = ask(&a, "probe", "request nobody 1000 x");
    assert!(err.starts_with("err:unknown-recipient:"), "{err}");
    let err = ask(&a, "probe", &format!("request {id_b}/echo 300 sleep:2000"));
    assert_eq!(err, "err:timeout:");
    let err = ask(&a, "probe", "request probe 1000 x");
    assert!(err.starts_with("err:denied:"), "{err}");

    // Without the grant: importing r1:mesh is refused before instantiation, and the mailbox
    // stays on its own node (denied, naming the grant).
    let refused = a
        .client()
        .start_actor("ungranted", guest("guest_mesh_probe"), &[], &[])
        .unwrap_err()
        .to_string();
    assert!(refused.contains("needs grant `mesh`"), "{refused}");
    start(
        &a,
        "guest_ping",
        "pinger",
        &[],
        &[("peer", &format!("{id_b}/echo"))],
    );
    let denied = a
        .client()
        .request("pinger", b"echo:x".to_vec(), Duration::from_secs(10))
        .unwrap_err()
        .to_string();
    assert!(denied.contains("needs the `mesh` grant"), "{denied}");
    // The node's API reaches other nodes' actors by NODE/NAME.
    let reply = a
        .client()
        .request(
            &format!("{id_b}/echo"),
            b"echo:from-api".to_vec(),
            Duration::from_secs(10),
        )
        .unwrap();
    assert_eq!(reply, b"from-api");
}

#[test]
fn a_node_killed_mid_stream_fails_later_sends_and_nothing_hangs() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes(root.path());
    let id_b = node_id(&b);
    start(&a, "guest_mesh_probe", "probe", &["mesh"], &[]);
    start(&a, "guest_mesh_probe", "local", &["mesh"], &[]);
    start(&b, "guest_mesh_probe", "sink", &["mesh"], &[]);
    located(&a, "sink", &id_b);
    assert_eq!(ask(&b, "sink", "subscribe ticks"), "ok");
    eventually("A routes ticks to B", WAIT, || {
        (count(&ask(&a, "local", "publish ticks 1"), "reached") == 1).then_some(())
    });
    let first = ask(&a, "probe", &format!("stream {id_b}/sink 200"));
    assert_eq!(count(&first, "ok"), 200, "{first}");

    let _ = b.kill();
    // Later sends fail as unreachable (or, already queued when the link broke, are lost:
    // at most once); every call returns.
    let later = eventually("sends to the dead node fail", WAIT, || {
        let line = ask(&a, "probe", &format!("stream {id_b}/sink 50"));
        (count(&line, "unreachable") == 50).then_some(line)
    });
    assert_eq!(count(&later, "ok"), 0, "{later}");
    let err = ask(&a, "probe", &format!("request {id_b}/sink 2000 echo:x"));
    assert!(err.starts_with("err:unreachable:"), "{err}");
    assert_eq!(
        ask(&a, "probe", "publish ticks 10"),
        "reached=0 errors=0",
        "no subscribers left to queue for"
    );
    // The node's other actors keep serving.
    assert_eq!(
        ask(&a, "probe", "request local 5000 echo:still"),
        "ok:still"
    );
    let counters = &a.get_json("/v1/mesh")["actors"]["counters"];
    assert!(
        counters["links_broken"].as_u64().unwrap_or(0) >= 1,
        "{counters}"
    );
}

#[test]
fn across_a_partition_and_heal_a_subscriber_sees_a_gap_never_a_reordering() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes(root.path());
    let (id_a, id_b) = (node_id(&a), node_id(&b));
    start(&a, "guest_mesh_probe", "probe", &["mesh"], &[]);
    start(&b, "guest_mesh_probe", "sink", &["mesh"], &[]);
    located(&a, "sink", &id_b);
    assert_eq!(ask(&b, "sink", "subscribe ticks"), "ok");
    eventually("A routes ticks to B", WAIT, || {
        (count(&ask(&a, "probe", "publish ticks 1"), "reached") == 1).then_some(())
    });
    // That probe message lands before the count starts over.
    eventually("the probe tick arrives", WAIT, || {
        (ask(&b, "sink", "count") != "0").then_some(())
    });
    assert_eq!(ask(&b, "sink", "reset"), "ok");
    assert_eq!(ask(&a, "probe", "publish ticks 50"), "reached=50 errors=0");
    eventually("the first 50 arrive", WAIT, || {
        (ask(&b, "sink", "count") == "50").then_some(())
    });
    // Partition: A cuts B off; sends fail, publishes find no subscriber.
    a.client().block_peer(&id_b, true).unwrap();
    eventually("sends to B fail while partitioned", WAIT, || {
        let line = ask(&a, "probe", &format!("stream {id_b}/sink 1"));
        (count(&line, "unreachable") == 1).then_some(())
    });
    assert_eq!(ask(&a, "probe", "publish ticks 20"), "reached=0 errors=0");
    // Heal: B redials, the nodes exchange directories, delivery resumes.
    a.client().block_peer(&id_b, false).unwrap();
    eventually("A routes ticks to B again", WAIT, || {
        (count(&ask(&a, "probe", "publish ticks 1"), "reached") == 1).then_some(())
    });
    let got = eventually("the messages after the heal arrive", WAIT, || {
        let got = ask(&b, "sink", "received");
        (got.lines().count() >= 51).then_some(got)
    });
    let seqs: Vec<u32> = got
        .lines()
        .map(|l| {
            let (sender, text) = l.split_once('|').unwrap();
            assert_eq!(sender, format!("{id_a}/probe"));
            text.strip_prefix("seq:").unwrap().parse().unwrap()
        })
        .collect();
    // The 50 before the partition, in order; then the first publish after the heal (seq:0 of
    // its own run): a gap (the 20 published while cut off are gone), no reordering, no copy.
    assert_eq!(&seqs[..50], (0..50).collect::<Vec<_>>().as_slice());
    assert_eq!(seqs[50], 0, "{seqs:?}");
}

#[test]
fn a_peer_outside_the_allowlist_cannot_deliver() {
    let root = tempfile::tempdir().unwrap();
    // D is not on the allowlist (and admits everyone itself).
    let (a, b, d) = r1_test_support::allowlisted_trio(root.path());
    let id_a = node_id(&a);
    start(&a, "guest_mesh_probe", "echo", &["mesh"], &[]);
    start(&b, "guest_mesh_probe", "probe", &["mesh"], &[]);
    start(&d, "guest_mesh_probe", "probe", &["mesh"], &[]);
    // An admitted peer delivers.
    located(&b, "echo", &id_a);
    assert_eq!(
        ask(&b, "probe", &format!("send {id_a}/echo admitted")),
        "ok"
    );
    // D connects (the mesh tells it A exists) but A reads nothing from it.
    let deadline = std::time::Instant::now() + WAIT;
    while a.get_json("/v1/mesh")["mesh"]["dropped_streams"]
        .as_u64()
        .unwrap_or(0)
        == 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "A never closed a stream from D.\nA: {}\nD: {}",
            a.get_json("/v1/mesh"),
            d.get_json("/v1/mesh")
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let err = ask(&d, "probe", &format!("send {id_a}/echo intruder"));
    assert!(err.starts_with("err:unreachable:"), "{err}");
    let err = ask(&d, "probe", &format!("request {id_a}/echo 1000 echo:x"));
    assert!(err.starts_with("err:unreachable:"), "{err}");
    assert_eq!(
        ask(&d, "probe", "locate echo"),
        "",
        "D learns nothing of A's actors"
    );
    let got = eventually("the admitted message arrives", WAIT, || {
        let got = ask(&a, "echo", "received");
        (!got.is_empty()).then_some(got)
    });
    assert_eq!(got, format!("{}/probe|admitted", node_id(&b)));
}

/// A process's resident set (`VmRSS`) and its high-water mark (`VmHWM`), in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[test]
fn a_flood_from_one_remote_sender_hits_backpressure_and_the_receiver_stays_bounded() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes(root.path());
    let id_b = node_id(&b);
    start(&a, "guest_mesh_probe", "flooder", &["mesh"], &[]);
    // A receiver that spends 5 ms on each message: its mailbox fills at once.
    start(&b, "guest_mesh_probe", "slow", &["mesh"], &[("slow", "5")]);
    located(&a, "slow", &id_b);
    let pid = b.pid().expect("pid");
    let (rss_before, _) = memory_kib(pid);
    // 20 000 messages of 16 KiB: 312 MiB offered, far more than the receiver may hold.
    // In rounds, each well inside the actor's 5 s deadline.
    let (mut ok, mut full) = (0, 0);
    for _ in 0..10 {
        let result = ask(&a, "flooder", &format!("flood {id_b}/slow 2000 16384"));
        assert_eq!(
            count(&result, "ok") + count(&result, "full"),
            2000,
            "{result}"
        );
        ok += count(&result, "ok");
        full += count(&result, "full");
    }
    assert!(full > 0, "the sender met backpressure: ok={ok} full={full}");
    std::thread::sleep(Duration::from_secs(2));
    let (_, peak) = memory_kib(pid);
    let growth_mib = peak.saturating_sub(rss_before) / 1024;
    eprintln!("flood: ok={ok} full={full}; receiver RSS {rss_before} KiB, peak {peak} KiB");
    // The bound: the link's queue is at the sender; the receiver holds its mailbox (1024
    // messages, 16 MiB) and a stream window. A ceiling, not a speed.
    assert!(
        growth_mib < 96,
        "receiver grew {growth_mib} MiB (before {rss_before} KiB, peak {peak} KiB) for 312 MiB offered"
    );
    let counters = &a.get_json("/v1/mesh")["actors"]["counters"];
    assert!(
        counters["link_full"].as_u64().unwrap_or(0) > 0,
        "{counters}"
    );
    // The receiver is still serving.
    assert!(ask(&b, "slow", "count").parse::<u64>().unwrap() > 0);
}
