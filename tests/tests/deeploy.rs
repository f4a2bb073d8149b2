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

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

const SPEC: &str = "name = \"web\"\nversion = \"1\"\nreplicas = 2\n\n[[components]]\nname = \"api\"\ncid = \"bafkr4example\"\n";

#[test]
fn signed_app_requests_are_accepted_once_replicated_and_refused_when_forged_stale_replayed_or_capped()
 {
    use r1_deeploy::signed::{Action, SignedRequest};
    let root = tempfile::tempdir().unwrap();
    let a = NodeSpec::new(&root.path().join("a")).start();
    let b = NodeSpec::new(&root.path().join("b")).join(&a.spec).start();
    // `r1 deploy` with a local file: added to R1FS, signed with the publisher key, accepted.
    let key_path = root.path().join("publisher.key");
    r1_test_support::r1_ok(&["key", "new", "--out", key_path.to_str().unwrap()], None);
    let app = root.path().join("app.toml");
    std::fs::write(
        &app,
        format!(
            "name = \"web\"\nversion = \"1.0.0\"\nreplicas = 2\n\n[[components]]\nname = \"api\"\nfile = \"{}\"\ngrants = [\"mesh\"]\n",
            r1_test_support::guest_path("hello").display()
        ),
    )
    .unwrap();
    let out = r1_test_support::r1_ok(
        &[
            "deploy",
            app.to_str().unwrap(),
            "--key",
            key_path.to_str().unwrap(),
        ],
        Some(&a.api),
    );
    assert!(
        out.starts_with("accepted ") && out.ends_with("/web version 1.0.0"),
        "{out}"
    );
    let app_id = out.split_whitespace().nth(1).unwrap().to_owned();
    let stored = eventually("B holds the desired state", WAIT, || {
        b.client()
            .deeploy_apps()
            .ok()?
            .into_iter()
            .find(|x| x["app_id"] == app_id.as_str())
    });
    assert!(
        stored["spec"].as_str().unwrap().contains("cid = \"bafkr4"),
        "{stored}"
    );

    // Straight to the API: the same request twice is a replay.
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let client = a.client();
    let request = SignedRequest::sign(&key, Action::Deploy, "web", SPEC, now_s(), 120).unwrap();
    client.deeploy_submit(&request).unwrap();
    let replay = client.deeploy_submit(&request).unwrap_err().to_string();
    assert!(
        replay.contains("used already") && replay.contains("409"),
        "{replay}"
    );
    // Replayed to another node: once what A wrote has reached B (the nonce record is written
    // before the app's), B refuses it too.
    let second_app = format!(
        "{}/web",
        r1_deeploy::signed::owner_fingerprint(&key.verifying_key().to_bytes())
    );
    eventually("B holds the second app", WAIT, || {
        let apps = b.client().deeploy_apps().ok()?;
        apps.iter()
            .any(|x| x["app_id"] == second_app.as_str())
            .then_some(())
    });
    let err = b.client().deeploy_submit(&request).unwrap_err().to_string();
    assert!(err.contains("used already"), "{err}");
    // Forged: the spec changed after signing.
    let mut forged = SignedRequest::sign(&key, Action::Deploy, "web", SPEC, now_s(), 120).unwrap();
    forged.spec = SPEC.replace("replicas = 2", "replicas = 20");
    let err = client.deeploy_submit(&forged).unwrap_err().to_string();
    assert!(err.contains("signature") && err.contains("403"), "{err}");
    // Stale: its window closed.
    let stale =
        SignedRequest::sign(&key, Action::Deploy, "web", SPEC, now_s() - 1_000, 300).unwrap();
    let err = client.deeploy_submit(&stale).unwrap_err().to_string();
    assert!(err.contains("validity window"), "{err}");
    // Capped: a host directory for a remote spec.
    let capped_spec = SPEC.replace(
        "cid = \"bafkr4example\"",
        "cid = \"bafkr4example\"\ngrants = [\"fs:/etc\"]",
    );
    let capped =
        SignedRequest::sign(&key, Action::Deploy, "web", &capped_spec, now_s(), 120).unwrap();
    let err = client.deeploy_submit(&capped).unwrap_err().to_string();
    assert!(
        err.contains("operator policy") && err.contains("host directory"),
        "{err}"
    );
    // Another owner cannot remove the first owner's app: its `web` is another app.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[10; 32]);
    let remove = SignedRequest::sign(&stranger, Action::Remove, "web", "", now_s(), 120).unwrap();
    let err = client.deeploy_submit(&remove).unwrap_err().to_string();
    assert!(err.contains("404"), "{err}");
    assert!(
        client
            .deeploy_apps()
            .unwrap()
            .iter()
            .any(|x| x["app_id"] == app_id.as_str())
    );
    // The owner can.
    r1_test_support::r1_ok(
        &["app", "rm", "web", "--key", key_path.to_str().unwrap()],
        Some(&a.api),
    );
    eventually("the removal reaches B", WAIT, || {
        let apps = b.client().deeploy_apps().ok()?;
        (!apps.iter().any(|x| x["app_id"] == app_id.as_str())).then_some(())
    });
}

#[test]
fn the_plan_places_an_accepted_app_on_distinct_fresh_nodes() {
    use r1_deeploy::signed::{Action, SignedRequest};
    let root = tempfile::tempdir().unwrap();
    let fast = |spec: NodeSpec| spec.arg("--heartbeat-ms").arg("200");
    let a = fast(NodeSpec::new(&root.path().join("a"))).start();
    let b = fast(NodeSpec::new(&root.path().join("b")).join(&a.spec)).start();
    eventually("A sees both nodes beat", WAIT, || {
        (adverts(&a)
            .iter()
            .filter(|n| n["age_ms"].as_u64() < Some(600))
            .count()
            == 2)
            .then_some(())
    });
    let key = ed25519_dalek::SigningKey::from_bytes(&[11; 32]);
    let three = SPEC.replace("replicas = 2", "replicas = 3");
    let request = SignedRequest::sign(&key, Action::Deploy, "web", &three, now_s(), 120).unwrap();
    a.client().deeploy_submit(&request).unwrap();
    let plan = a.client().deeploy_plan().unwrap();
    let nodes: std::collections::BTreeSet<String> = plan["placements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["node"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        nodes,
        [peer_id(&a), peer_id(&b)].into_iter().collect(),
        "two replicas on the two nodes: {plan}"
    );
    // Three asked, two nodes: one short, said so.
    assert_eq!(plan["short"][0][2], 1, "{plan}");
    // Once B stops beating, the plan moves everything to A.
    let _ = b.kill();
    eventually("B drops out of the plan", WAIT, || {
        let plan = a.client().deeploy_plan().ok()?;
        let on: Vec<String> = plan["placements"]
            .as_array()?
            .iter()
            .filter_map(|p| p["node"].as_str().map(str::to_owned))
            .collect();
        (on == vec![peer_id(&a)]).then_some(())
    });
}
