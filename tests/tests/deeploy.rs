//! Deeploy across `r1 node` processes: heartbeats carry each node's advert to every node
//! (through CSTORE, signed by the node key), and a node that dies stops beating.

use std::time::Duration;

use r1_test_support::{NodeProcess, NodeSpec, eventually, guest};

const WAIT: Duration = Duration::from_secs(30);

fn adverts(node: &NodeProcess) -> Vec<serde_json::Value> {
    node.client().deeploy_nodes().unwrap_or_default()
}

fn peer_id(node: &NodeProcess) -> String {
    node.get_json("/v1/status")["peer_id"]
        .as_str()
        .expect("peer id")
        .to_owned()
}

#[test]
fn every_node_sees_every_advert_and_a_dead_node_stops_beating() {
    let root = tempfile::tempdir().unwrap();
    let fast = |spec: NodeSpec| spec.arg("--heartbeat-ms").arg("200");
    let a = fast(NodeSpec::new(&root.path().join("a"))).start();
    let b = fast(NodeSpec::new(&root.path().join("b")).join(&a.spec)).start();
    let (id_a, id_b) = (peer_id(&a), peer_id(&b));
    b.client()
        .start_actor("greeter", guest("hello"), &[], &[])
        .unwrap();
    let seen = eventually("A sees both adverts, B's with its actor", WAIT, || {
        let all = adverts(&a);
        let b_advert = all.iter().find(|n| n["advert"]["node"] == id_b.as_str())?;
        let has_a = all.iter().any(|n| n["advert"]["node"] == id_a.as_str());
        (has_a && b_advert["advert"]["load"] == 1).then(|| b_advert.clone())
    });
    assert_eq!(seen["advert"]["arch"], std::env::consts::ARCH);
    assert!(seen["advert"]["cores"].as_u64().unwrap() >= 1);
    assert!(seen["advert"]["free_memory_mb"].as_u64().unwrap() > 0);
    assert!(seen["age_ms"].as_u64().unwrap() < 10_000);
    // Fresh beats keep coming while B lives...
    let at = seen["at_ms"].as_u64().unwrap();
    eventually("B beats again", WAIT, || {
        let all = adverts(&a);
        let b = all.iter().find(|n| n["advert"]["node"] == id_b.as_str())?;
        (b["at_ms"].as_u64()? > at).then_some(())
    });
    // ...and stop when it dies: its age only grows.
    let _ = b.kill();
    eventually("B's advert ages", WAIT, || {
        let all = adverts(&a);
        let b = all.iter().find(|n| n["advert"]["node"] == id_b.as_str())?;
        (b["age_ms"].as_u64()? > 2_000).then_some(())
    });
    let mine = adverts(&a)
        .into_iter()
        .find(|n| n["advert"]["node"] == id_a.as_str())
        .expect("A's own advert");
    assert!(
        mine["age_ms"].as_u64().unwrap() < 2_000,
        "A still beats: {mine}"
    );
}
