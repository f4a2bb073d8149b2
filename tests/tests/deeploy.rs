//! Deeploy across `r1 node` processes: heartbeats carry each node's advert to every node
//! (through CSTORE, signed by the node key), and a node that dies stops beating.

use std::time::Duration;

use r1_deeploy::signed::{Action, SignedRequest};
use r1_deeploy::state::AppView;
use r1_test_support::{NodeProcess, NodeSpec, eventually, guest, guest_path};

const WAIT: Duration = Duration::from_secs(30);

fn adverts(node: &NodeProcess) -> Vec<serde_json::Value> {
    node.client().deeploy_nodes().unwrap_or_default()
}

/// Waits until `node` sees `count` adverts beaten within the last 600 ms (fast heartbeats).
fn wait_fresh(node: &NodeProcess, count: usize) {
    eventually(&format!("{count} fresh adverts"), WAIT, || {
        (adverts(node)
            .iter()
            .filter(|n| n["age_ms"].as_u64() < Some(600))
            .count()
            == count)
            .then_some(())
    });
}

#[test]
fn every_node_sees_every_advert_and_a_dead_node_stops_beating() {
    let root = tempfile::tempdir().unwrap();
    let fast = |spec: NodeSpec| spec.arg("--heartbeat-ms").arg("200");
    let a = fast(NodeSpec::new(&root.path().join("a"))).start();
    let b = fast(NodeSpec::new(&root.path().join("b")).join(&a.spec)).start();
    let (id_a, id_b) = (a.peer_id(), b.peer_id());
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

/// A two-replica spec of the component `cid`.
fn web_spec(cid: &str) -> String {
    format!(
        "name = \"web\"\nversion = \"1\"\nreplicas = 2\n\n[[components]]\nname = \"api\"\ncid = \"{cid}\"\n"
    )
}

#[test]
fn signed_app_requests_are_accepted_once_replicated_and_refused_when_forged_stale_replayed_or_capped()
 {
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
            "--wait-s",
            "0",
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
    let spec = web_spec(&replica_cid(&a));
    let request = SignedRequest::sign(&key, Action::Deploy, "web", &spec, now_s(), 120).unwrap();
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
    let mut forged = SignedRequest::sign(&key, Action::Deploy, "web", &spec, now_s(), 120).unwrap();
    forged.spec = spec.replace("replicas = 2", "replicas = 20");
    let err = client.deeploy_submit(&forged).unwrap_err().to_string();
    assert!(err.contains("signature") && err.contains("403"), "{err}");
    // Stale: its window closed.
    let stale =
        SignedRequest::sign(&key, Action::Deploy, "web", &spec, now_s() - 1_000, 300).unwrap();
    let err = client.deeploy_submit(&stale).unwrap_err().to_string();
    assert!(err.contains("validity window"), "{err}");
    // Capped: a host directory for a remote spec.
    let capped_spec = spec.replace("name = \"api\"", "name = \"api\"\ngrants = [\"fs:/etc\"]");
    let capped =
        SignedRequest::sign(&key, Action::Deploy, "web", &capped_spec, now_s(), 120).unwrap();
    let err = client.deeploy_submit(&capped).unwrap_err().to_string();
    assert!(
        err.contains("operator policy") && err.contains("host directory"),
        "{err}"
    );
    // The system actors' grants (the scheduler's, the oracle's) are the node's to give: not
    // through the API, not in a spec.
    for system_grant in ["deeploy", "oraclesync"] {
        let err = client
            .start_actor("sneaky", guest("hello"), &[system_grant.to_string()], &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("403") && err.contains("system actor"), "{err}");
        let system = spec.replace(
            "name = \"api\"",
            &format!("name = \"api\"\ngrants = [\"{system_grant}\"]"),
        );
        let request =
            SignedRequest::sign(&key, Action::Deploy, "web", &system, now_s(), 120).unwrap();
        let err = client.deeploy_submit(&request).unwrap_err().to_string();
        assert!(
            err.contains("403") && err.contains("system actors"),
            "{err}"
        );
    }
    // A component no node holds: refused before anything is recorded, saying why.
    let nowhere = web_spec("bafkr4idv24c57n4wkxvqdlvsidtyfbnns25dbnxbz4ptkmde3h3uc6xzzz");
    let request = SignedRequest::sign(&key, Action::Deploy, "web", &nowhere, now_s(), 120).unwrap();
    let err = client.deeploy_submit(&request).unwrap_err().to_string();
    assert!(
        err.contains("cannot be fetched from R1FS") && err.contains("400"),
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
    let root = tempfile::tempdir().unwrap();
    let fast = |spec: NodeSpec| spec.arg("--heartbeat-ms").arg("200");
    let a = fast(NodeSpec::new(&root.path().join("a"))).start();
    let b = fast(NodeSpec::new(&root.path().join("b")).join(&a.spec)).start();
    wait_fresh(&a, 2);
    let key = ed25519_dalek::SigningKey::from_bytes(&[11; 32]);
    let three = web_spec(&replica_cid(&a)).replace("replicas = 2", "replicas = 3");
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
        [a.peer_id(), b.peer_id()].into_iter().collect(),
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
        (on == vec![a.peer_id()]).then_some(())
    });
}

// ---- The fabric: scheduler, reconciler, failover, rolling updates, partitions ----

/// A node that beats every 200 ms (failed over after 600 ms of silence) and runs a scheduler.
fn fabric(root: &std::path::Path, name: &str, tags: &[&str]) -> NodeSpec {
    let mut spec = NodeSpec::new(&root.join(name))
        .arg("--heartbeat-ms")
        .arg("200")
        .arg("--scheduler")
        .arg(guest_path("deeploy_scheduler").to_str().unwrap());
    for tag in tags {
        spec = spec.arg("--tag").arg(tag);
    }
    spec
}

/// The replica component added to R1FS through `node`; its cid.
fn replica_cid(node: &NodeProcess) -> String {
    let wasm = guest("guest_replica");
    let size = wasm.len() as u64;
    let added = node
        .client()
        .fs_add(None, None, std::io::Cursor::new(wasm), Some(size), |_| {})
        .unwrap();
    added["cid"].as_str().unwrap().to_owned()
}

/// A spec of the replica component: `version`, then any extra top-level lines, with a health
/// check every 200 ms and updates gated on 400 ms of health.
fn replica_spec(name: &str, version: &str, cid: &str, top: &str, healthy: bool) -> String {
    format!(
        "name = \"{name}\"\nversion = \"{version}\"\n{top}\n\n[[components]]\nname = \"api\"\ncid = \"{cid}\"\nconfig = {{ version = \"{version}\", healthy = \"{healthy}\" }}\n\n[health]\ninterval_ms = 200\ntimeout_ms = 150\n\n[update]\nmin_healthy_ms = 400\nprogress_deadline_ms = 10000\n"
    )
}

fn submit(node: &NodeProcess, key: &ed25519_dalek::SigningKey, name: &str, spec: &str) -> String {
    let request = SignedRequest::sign(key, Action::Deploy, name, spec, now_s(), 120).unwrap();
    let desired = node.client().deeploy_submit(&request).unwrap();
    desired["app_id"].as_str().unwrap().to_owned()
}

fn view(node: &NodeProcess, app: &str) -> Option<AppView> {
    serde_json::from_value(node.client().deeploy_app(app).ok()?).ok()
}

/// Waits until `app` runs `version` only, every placed replica healthy; returns the view.
fn converged(node: &NodeProcess, app: &str, version: &str) -> AppView {
    eventually(&format!("{app} converges on {version}"), WAIT, || {
        let v = view(node, app)?;
        (v.desired.as_ref()?.version == version && v.progress().converged()).then_some(v)
    })
}

/// The nodes `view` places replicas of `version` on.
fn nodes_of(view: &AppView) -> std::collections::BTreeSet<String> {
    view.placement
        .iter()
        .flat_map(|p| p.slots.iter().map(|s| s.node.clone()))
        .collect()
}

/// Deeploy replicas (actors named after `app_name`) running on `node`.
/// Node `i` of `fleet`, which must be alive.
fn node(fleet: &[Option<NodeProcess>], i: usize) -> &NodeProcess {
    fleet[i].as_ref().expect("a live node")
}

fn running_replicas(node: &NodeProcess, app_name: &str) -> usize {
    node.client()
        .actors()
        .unwrap_or_default()
        .iter()
        .filter(|a| {
            a["name"]
                .as_str()
                .is_some_and(|n| n.starts_with(&format!("{app_name}-")))
                && a["status"]["state"] == "running"
        })
        .count()
}

/// Sends `who` to `app` through `node` until `stop`; returns (answers, failures, versions seen).
fn client_loop(
    api: String,
    token: String,
    app: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<(u32, Vec<String>, std::collections::BTreeSet<String>)> {
    std::thread::spawn(move || {
        let client = r1_client::Client::with_token(&api, Some(token)).unwrap();
        let (mut ok, mut failures, mut versions) =
            (0, Vec::new(), std::collections::BTreeSet::new());
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            match client.app_request(&app, None, b"who".to_vec(), Duration::from_secs(5)) {
                Ok(reply) => {
                    ok += 1;
                    let text = String::from_utf8_lossy(&reply).into_owned();
                    versions.insert(text.split(' ').next().unwrap_or("").to_owned());
                }
                Err(e) => failures.push(e.to_string()),
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        (ok, failures, versions)
    })
}

#[test]
fn apps_are_placed_with_constraints_fail_over_roll_without_a_failed_request_and_revert() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let first = fabric(r, "n1", &["zone=a"]).start();
    let mut fleet: Vec<Option<NodeProcess>> = vec![Some(first)];
    let join = fleet[0].as_ref().unwrap().spec.clone();
    for (name, tags) in [
        ("n2", &["zone=a"][..]),
        ("n3", &["zone=b"][..]),
        ("n4", &["zone=b", "tier=edge"][..]),
        ("n5", &["zone=c", "tier=edge"][..]),
    ] {
        fleet.push(Some(fabric(r, name, tags).join(&join).start()));
    }

    let ids: Vec<String> = (0..5).map(|i| node(&fleet, i).peer_id()).collect();
    let n1 = fleet[0].as_ref().unwrap();
    wait_fresh(n1, 5);
    let key = ed25519_dalek::SigningKey::from_bytes(&[21; 32]);
    let cid = replica_cid(n1);

    // Five replicas: one on every node, each answering through its own node.
    let five = submit(
        n1,
        &key,
        "five",
        &replica_spec("five", "1", &cid, "replicas = 5", true),
    );
    let v = converged(node(&fleet, 1), &five, "1");
    assert_eq!(nodes_of(&v).len(), 5, "five distinct nodes: {v:?}");
    for i in 0..5 {
        let reply = node(&fleet, i)
            .client()
            .app_request("five", None, b"who".to_vec(), WAIT)
            .unwrap();
        let text = String::from_utf8_lossy(&reply).into_owned();
        assert!(text.starts_with("1 five-api-1-"), "{text}");
    }
    // Its logs, gathered from every replica, each line tagged with its node.
    let logs = node(&fleet, 3).client().app_logs("five").unwrap();
    let from: std::collections::BTreeSet<&str> = logs["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| {
            l["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("replica 1 ready as five-api-1-"))
        })
        .filter_map(|l| l["node"].as_str())
        .collect();
    assert_eq!(from.len(), 5, "a ready line from each node: {logs}");
    // Removed by its owner: every replica stops.
    let remove = SignedRequest::sign(&key, Action::Remove, "five", "", now_s(), 120).unwrap();
    node(&fleet, 2).client().deeploy_submit(&remove).unwrap();
    eventually("every replica of five stops", WAIT, || {
        (0..5)
            .all(|i| running_replicas(node(&fleet, i), "five") == 0)
            .then_some(())
    });

    // Constraints: only tier=edge nodes (n4, n5); three asked, one short, said so.
    let edge = submit(
        n1,
        &key,
        "edge",
        &replica_spec(
            "edge",
            "1",
            &cid,
            "replicas = 3\n[constraints]\ntags = { tier = \"edge\" }",
            true,
        ),
    );
    let v = eventually("edge runs on the edge nodes", WAIT, || {
        let v = view(n1, &edge)?;
        (v.progress().healthy == 2).then_some(v)
    });
    assert_eq!(
        nodes_of(&v),
        [ids[3].clone(), ids[4].clone()].into_iter().collect(),
        "{v:?}"
    );
    assert_eq!(
        v.placement.as_ref().unwrap().short,
        vec![("api".to_string(), 1)]
    );
    // Reached by its address from a node that runs none of it: the mesh's names (the
    // directory) lead to a healthy replica on n4 or n5.
    let address = r1_deeploy::state::app_address(&edge, "api");
    let reply = eventually("n1 reaches edge by its address", WAIT, || {
        n1.client()
            .request(&address, b"who".to_vec(), Duration::from_secs(5))
            .ok()
    });
    assert!(
        String::from_utf8_lossy(&reply).starts_with("1 edge-api-1-"),
        "{}",
        String::from_utf8_lossy(&reply)
    );

    // Spread: three replicas over three zones, one in each.
    let web = submit(
        n1,
        &key,
        "web",
        &replica_spec("web", "1", &cid, "replicas = 3\nspread = \"zone\"", true),
    );
    let v = converged(n1, &web, "1");
    let zone_of = |id: &String| match ids.iter().position(|x| x == id) {
        Some(0 | 1) => "a",
        Some(2 | 3) => "b",
        _ => "c",
    };
    let zones: std::collections::BTreeSet<&str> = nodes_of(&v).iter().map(zone_of).collect();
    assert_eq!(zones.len(), 3, "one replica per zone: {v:?}");

    // SIGKILL a node that runs a web replica (not n1, which the test talks to): the replica
    // serves elsewhere, and never again on the dead node.
    let on = nodes_of(&v);
    let victim = (1..5)
        .find(|&i| on.contains(&ids[i]))
        .expect("a web replica off n1");
    let _ = fleet[victim].take().expect("victim").kill();
    let n1 = fleet[0].as_ref().unwrap();
    let v = eventually(
        "web serves three replicas again without the dead node",
        WAIT,
        || {
            let v = view(n1, &web)?;
            let placed = nodes_of(&v);
            (v.progress().converged() && placed.len() == 3 && !placed.contains(&ids[victim]))
                .then_some(v)
        },
    );
    assert!(
        v.placement
            .as_ref()
            .unwrap()
            .events
            .iter()
            .any(|e| e.text.contains("stopped beating")),
        "{v:?}"
    );

    // A rolling update with a client sending throughout: not one request fails.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let client = client_loop(n1.api.clone(), n1.token.clone(), web.clone(), stop.clone());
    eventually("the client is answered", WAIT, || {
        n1.client()
            .app_request(&web, None, b"who".to_vec(), WAIT)
            .ok()
    });
    submit(
        n1,
        &key,
        "web",
        &replica_spec("web", "2", &cid, "replicas = 3\nspread = \"zone\"", true),
    );
    converged(n1, &web, "2");
    // The owner rolls back: version 1 again (version 2 becomes the way forward).
    let back = SignedRequest::sign(&key, Action::Rollback, "web", "", now_s(), 120).unwrap();
    let desired = n1.client().deeploy_submit(&back).unwrap();
    assert_eq!(desired["version"], "1", "{desired}");
    assert_eq!(desired["previous"]["version"], "2", "{desired}");
    converged(n1, &web, "1");
    // A version that fails its health checks reverts by itself, and nothing fails meanwhile:
    // the old replicas keep serving beside the failing ones until it is reverted.
    submit(
        n1,
        &key,
        "web",
        &replica_spec("web", "3", &cid, "replicas = 3\nspread = \"zone\"", false),
    );
    let v = eventually("version 3 is reverted", WAIT, || {
        let v = view(n1, &web)?;
        let d = v.desired.as_ref()?;
        (d.version == "1" && d.reverted.is_some()).then_some(v)
    });
    let why = v.desired.as_ref().unwrap().reverted.clone().unwrap();
    assert!(
        why.starts_with("3 reverted") && why.contains("health"),
        "{why}"
    );
    let v = converged(n1, &web, "1");
    assert!(v.placement.unwrap().slots.iter().all(|s| s.version == "1"));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (answered, failures, versions) = client.join().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} requests failed: {:?}",
        failures.len(),
        answered as usize + failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(
        answered > 20,
        "the client kept sending ({answered} answers)"
    );
    assert!(
        versions.contains("1") && versions.contains("2"),
        "{versions:?}"
    );
    assert!(
        !versions.contains("3"),
        "an unhealthy replica answered: {versions:?}"
    );
}

#[test]
fn a_partition_heals_to_one_placement_and_a_node_restarted_while_cut_off_runs_its_replicas() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let a = fabric(r, "a", &[]).start();
    let b = fabric(r, "b", &[]).join(&a.spec).start();
    let c = fabric(r, "c", &[]).join(&a.spec).join(&b.spec).start();
    let (id_a, id_b, id_c) = (a.peer_id(), b.peer_id(), c.peer_id());
    wait_fresh(&a, 3);
    let key = ed25519_dalek::SigningKey::from_bytes(&[22; 32]);
    let cid = replica_cid(&a);
    let app = submit(
        &a,
        &key,
        "web",
        &replica_spec("web", "1", &cid, "replicas = 2", true),
    );
    let v = converged(&a, &app, "1");
    // Cut off a node that runs a replica: c when it has one, else b.
    let placed = nodes_of(&v);
    let (mut cut, cut_id, mut other, other_id, keep, keep_id) = if placed.contains(&id_c) {
        (c, id_c, b, id_b, a, id_a)
    } else {
        (b, id_b, c, id_c, a, id_a)
    };
    for (node, peer) in [
        (&keep, &cut_id),
        (&other, &cut_id),
        (&cut, &keep_id),
        (&cut, &other_id),
    ] {
        node.client().block_peer(peer, true).unwrap();
    }
    // Restarted while cut off (the others still refuse it): it runs its replica again, from
    // its own records, and its own scheduler keeps it there.
    let spec = cut.kill();
    cut = spec.start();
    assert_eq!(
        running_replicas(&cut, "web"),
        1,
        "the replica is back as soon as the node is up"
    );
    for peer in [&keep_id, &other_id] {
        cut.client().block_peer(peer, true).unwrap();
    }
    // Meanwhile the other side re-places the cut node's replica: two sides, two schedulers,
    // three replicas in all.
    eventually(
        "the majority side runs two replicas without the cut node",
        WAIT,
        || {
            let v = view(&keep, &app)?;
            let placed = nodes_of(&v);
            (v.progress().converged() && placed.len() == 2 && !placed.contains(&cut_id))
                .then_some(())
        },
    );
    eventually("the cut node still runs its replica", WAIT, || {
        (running_replicas(&cut, "web") == 1).then_some(())
    });
    // Heal: one placement again, two replicas, none doubled.
    for (node, peer) in [
        (&keep, &cut_id),
        (&other, &cut_id),
        (&cut, &keep_id),
        (&cut, &other_id),
    ] {
        node.client().block_peer(peer, false).unwrap();
    }
    let total = |nodes: &[&NodeProcess]| -> usize {
        nodes.iter().map(|n| running_replicas(n, "web")).sum()
    };
    eventually("two replicas in all after the heal", WAIT, || {
        let v = view(&keep, &app)?;
        (v.progress().converged() && nodes_of(&v).len() == 2 && total(&[&keep, &other, &cut]) == 2)
            .then_some(())
    });
    // And every node agrees on that placement.
    let mine = view(&keep, &app).unwrap().placement.unwrap().slots;
    eventually("every node holds the same placement", WAIT, || {
        [&other, &cut]
            .iter()
            .all(|n| view(n, &app).and_then(|v| v.placement).map(|p| p.slots) == Some(mine.clone()))
            .then_some(())
    });
    let _ = &mut other;
}

#[test]
fn a_deployed_component_is_kept_on_several_nodes_so_its_uploader_can_die() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let a = fabric(r, "a", &[]).start();
    let b = fabric(r, "b", &["tier=edge"]).join(&a.spec).start();
    let c = fabric(r, "c", &[]).join(&a.spec).start();
    wait_fresh(&a, 3);
    // The component is uploaded to b only, and its one replica may only run on b.
    let cid = replica_cid(&b);
    assert!(c.client().fs_stat(&cid).is_err(), "c does not hold it yet");
    let key = ed25519_dalek::SigningKey::from_bytes(&[23; 32]);
    let spec = replica_spec(
        "edge",
        "1",
        &cid,
        "replicas = 1\n[constraints]\ntags = { tier = \"edge\" }",
        true,
    );
    let app = submit(&a, &key, "edge", &spec);
    converged(&a, &app, "1");
    // Deploying kept copies on the mesh: c, which runs nothing of it, holds one too.
    eventually("c holds a copy of the component", WAIT, || {
        c.client().fs_stat(&cid).ok()
    });
    let _ = b.kill();
    // b is gone, the component is not: a node can still start it.
    let again = replica_spec("edge", "2", &cid, "replicas = 1", true);
    submit(&a, &key, "edge", &again);
    converged(&a, &app, "2");
}

#[test]
fn a_node_with_a_strict_trust_policy_refuses_an_unsigned_replica_and_says_so() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let dev = fabric(r, "dev", &[]).start();
    // `dev = false`: the strict trust policy (signed by a trusted publisher, or refused).
    let config = r.join("strict.toml");
    std::fs::write(&config, "dev = false\n").unwrap();
    let strict = fabric(r, "strict", &[])
        .arg("--config")
        .arg(config.to_str().unwrap())
        .join(&dev.spec)
        .start();
    wait_fresh(&dev, 2);
    let key = ed25519_dalek::SigningKey::from_bytes(&[24; 32]);
    let cid = replica_cid(&dev);
    // One replica on every node: the dev node runs the unsigned component, the strict one
    // refuses it (its signature check, before anything is compiled) and reports why.
    let spec = replica_spec("everywhere", "1", &cid, "per_node = true", true);
    let app = submit(&dev, &key, "everywhere", &spec);
    let strict_id = strict.peer_id();
    // Its own scheduler (unsigned, like every component here) was refused too, so it does
    // not claim one: were it elected leader, nothing would ever be placed.
    let advert = eventually("the strict node's advert", WAIT, || {
        adverts(&dev)
            .into_iter()
            .find(|n| n["advert"]["node"] == strict_id.as_str())
    });
    assert_eq!(advert["advert"]["scheduler"], false, "{advert}");
    let refused = eventually("the strict node reports the refusal", WAIT, || {
        let v = view(&dev, &app)?;
        let mine = v.status.iter().find(|s| s.node == strict_id)?;
        let r = mine.replicas.first()?;
        (r.state == "refused").then(|| r.detail.clone().unwrap_or_default())
    });
    assert!(
        refused.contains("sign") || refused.contains("trust"),
        "{refused}"
    );
    assert_eq!(running_replicas(&strict, "everywhere"), 0);
    eventually("the dev node runs its replica", WAIT, || {
        (running_replicas(&dev, "everywhere") == 1).then_some(())
    });
}
