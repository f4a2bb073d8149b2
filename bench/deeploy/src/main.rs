//! `make bench-deeploy`: Deeploy measured in one run.
//!
//! 1. **Placement throughput**: `r1_deeploy::placement::place` over 10,000 simulated node
//!    adverts (three zones, a tag on a third of them) and 1,000 apps of 3 replicas, spread
//!    over the zone: placements per second (median of 5 runs).
//! 2. **Deploy to serving** on 3 local nodes (release `r1`, each running a scheduler): from
//!    the signed request until the app answers a request by name, and until every replica is
//!    healthy; with the component already on every node ("cached") and with a component never
//!    seen before ("cold": new bytes, added to R1FS on one node, fetched by the others, compiled).
//! 3. **Failover** on 3 nodes with the default heartbeat (1 s; a node silent for 3 s is
//!    failed over): SIGKILL the node running a 1-replica app; time until the placement moves
//!    (detection) and until the app answers again (serving).
//! 4. **Memory per node**: 30 node processes joined into one mesh, beating, one running the
//!    scheduler; resident memory of each after they settle.
//!
//! Environment: `R1_BIN` (the release r1), `R1_GUEST_WASM_DIR`; `BENCH_DEPLOYS` (default 20),
//! `BENCH_FAILOVERS` (5), `BENCH_NODES` (30); `BENCH_PHASES` (default
//! `placement,deploy,failover,memory`) to run only some.

use std::time::{Duration, Instant};

use r1_deeploy::placement::{NodeAdvert, Sticky, place};
use r1_deeploy::signed::{Action, SignedRequest};
use r1_deeploy::spec::AppSpec;
use r1_deeploy::state::AppView;
use r1_test_support::{NodeProcess, NodeSpec, guest, guest_path, quantile};

const WAIT: Duration = Duration::from_secs(60);

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn placement_throughput() -> f64 {
    let zones = ["a", "b", "c"];
    let adverts: Vec<NodeAdvert> = (0..10_000)
        .map(|i| {
            let mut tags = std::collections::BTreeMap::new();
            tags.insert("zone".to_string(), zones[i % 3].to_string());
            if i % 3 == 0 {
                tags.insert("tier".to_string(), "edge".to_string());
            }
            NodeAdvert {
                node: format!("12D3KooWsim{i:05}"),
                arch: if i % 4 == 0 { "aarch64" } else { "x86_64" }.into(),
                cores: 4,
                free_memory_mb: 8192,
                gpu: i % 10 == 0,
                models: Vec::new(),
                tags,
                load: 0,
                scheduler: false,
                oci: false,
            }
        })
        .collect();
    let apps: Vec<(String, AppSpec)> = (0..1_000)
        .map(|i| {
            let text = format!(
                "name = \"app{i}\"\nversion = \"1\"\nreplicas = 3\nspread = \"zone\"\n\n[[components]]\nname = \"api\"\ncid = \"bafkr4sim\"\n"
            );
            (format!("owner/app{i}"), AppSpec::parse(&text).expect("spec"))
        })
        .collect();
    let mut rates = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let plan = place(&adverts, &apps, &Sticky::new());
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(plan.placements.len(), 3_000);
        rates.push(plan.placements.len() as f64 / secs);
    }
    quantile(&mut rates, 0.5)
}

fn fabric_node(root: &std::path::Path, name: &str, scheduler: bool) -> NodeSpec {
    let spec = NodeSpec::new(&root.join(name));
    if scheduler {
        spec.arg("--scheduler")
            .arg(guest_path("deeploy_scheduler").to_str().expect("path"))
    } else {
        spec
    }
}

fn peer_id(node: &NodeProcess) -> String {
    node.get_json("/v1/status")["peer_id"]
        .as_str()
        .expect("peer id")
        .to_owned()
}

fn fresh_nodes(node: &NodeProcess) -> usize {
    node.client()
        .deeploy_nodes()
        .unwrap_or_default()
        .iter()
        .filter(|n| n["age_ms"].as_u64().is_some_and(|a| a < 3_000))
        .count()
}

/// The replica component with a custom section holding `salt`: new bytes, a new content id.
fn salted_replica(salt: &str) -> Vec<u8> {
    let mut wasm = guest("guest_replica");
    let name = b"r1-bench-salt";
    let mut body = vec![name.len() as u8];
    body.extend_from_slice(name);
    body.extend_from_slice(salt.as_bytes());
    wasm.push(0); // custom section
    let mut size = body.len();
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        if size == 0 {
            wasm.push(byte);
            break;
        }
        wasm.push(byte | 0x80);
    }
    wasm.extend_from_slice(&body);
    wasm
}

fn add(node: &NodeProcess, wasm: Vec<u8>) -> String {
    let size = wasm.len() as u64;
    let added = node
        .client()
        .fs_add(None, None, std::io::Cursor::new(wasm), Some(size), |_| {})
        .expect("fs add");
    added["cid"].as_str().expect("cid").to_owned()
}

fn spec(name: &str, cid: &str, replicas: u32) -> String {
    format!(
        "name = \"{name}\"\nversion = \"1\"\nreplicas = {replicas}\n\n[[components]]\nname = \"api\"\ncid = \"{cid}\"\nconfig = {{ version = \"1\" }}\n\n[health]\ninterval_ms = 100\ntimeout_ms = 100\n"
    )
}

fn submit(
    node: &NodeProcess,
    key: &ed25519_dalek::SigningKey,
    action: Action,
    name: &str,
    text: &str,
) {
    let request = SignedRequest::sign(key, action, name, text, now_s(), 120).expect("sign");
    node.client().deeploy_submit(&request).expect("submit");
}

fn view(node: &NodeProcess, app: &str) -> Option<AppView> {
    serde_json::from_value(node.client().deeploy_app(app).ok()?).ok()
}

fn answers(node: &NodeProcess, app: &str) -> bool {
    node.client()
        .app_request(app, None, b"who".to_vec(), Duration::from_secs(2))
        .is_ok()
}

/// (to first answer, to every replica healthy), seconds, for `deploys` apps.
fn deploy_to_serving(
    nodes: &[NodeProcess],
    key: &ed25519_dalek::SigningKey,
    deploys: usize,
    cold: bool,
) -> (Vec<f64>, Vec<f64>) {
    let a = &nodes[0];
    let warm_cid = add(a, guest("guest_replica"));
    let (mut serving, mut all) = (Vec::new(), Vec::new());
    for i in 0..deploys {
        let name = format!("{}{i}", if cold { "cold" } else { "warm" });
        let started = Instant::now();
        let cid = if cold {
            add(a, salted_replica(&format!("{name}-{}", now_s())))
        } else {
            warm_cid.clone()
        };
        submit(a, key, Action::Deploy, &name, &spec(&name, &cid, 3));
        wait_for("the app answers", || answers(a, &name).then_some(()));
        serving.push(started.elapsed().as_secs_f64());
        wait_for("every replica is healthy", || {
            let v = view(a, &name)?;
            (v.progress().converged() && v.progress().healthy == 3).then_some(())
        });
        all.push(started.elapsed().as_secs_f64());
        submit(a, key, Action::Remove, &name, "");
        wait_for("the app is gone", || {
            view(a, &name)
                .is_none_or(|v| v.placement.is_none())
                .then_some(())
        });
    }
    (serving, all)
}

fn failover(root: &std::path::Path, runs: usize) -> (Vec<f64>, Vec<f64>) {
    let mut nodes: Vec<Option<NodeProcess>> = Vec::new();
    let first = fabric_node(root, "f0", true).start();
    let join = first.spec.clone();
    nodes.push(Some(first));
    for i in 1..3 {
        nodes.push(Some(
            fabric_node(root, &format!("f{i}"), true)
                .join(&join)
                .start(),
        ));
    }
    let ids: Vec<String> = nodes
        .iter()
        .map(|n| peer_id(n.as_ref().expect("node")))
        .collect();
    wait_for("three fresh nodes", || {
        (fresh_nodes(nodes[0].as_ref().expect("node")) == 3).then_some(())
    });
    let key = ed25519_dalek::SigningKey::from_bytes(&[31; 32]);
    let a = nodes[0].as_ref().expect("node");
    let cid = add(a, guest("guest_replica"));
    submit(a, &key, Action::Deploy, "solo", &spec("solo", &cid, 1));
    let (mut detect, mut serve) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        // Where it runs now (wait until it is healthy and answering).
        let host = wait_for("solo serves", || {
            let survivor = nodes.iter().flatten().next()?;
            let v = view(survivor, "solo")?;
            if !v.progress().converged() || !answers(survivor, "solo") {
                return None;
            }
            v.placement?.slots.first().map(|s| s.node.clone())
        });
        let victim = ids.iter().position(|id| *id == host).expect("a known node");
        let watcher = (0..3).find(|&i| i != victim).expect("a survivor");
        let spec = nodes[victim].take().expect("victim alive").kill();
        let killed = Instant::now();
        let w = nodes[watcher].as_ref().expect("watcher");
        wait_for("the replica is placed elsewhere", || {
            let v = view(w, "solo")?;
            v.placement?
                .slots
                .iter()
                .any(|s| s.node != host)
                .then_some(())
        });
        detect.push(killed.elapsed().as_secs_f64());
        wait_for("the app answers again", || answers(w, "solo").then_some(()));
        serve.push(killed.elapsed().as_secs_f64());
        nodes[victim] = Some(spec.start());
        let w = nodes[watcher].as_ref().expect("watcher");
        wait_for("the node is back", || (fresh_nodes(w) == 3).then_some(()));
    }
    (detect, serve)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

fn memory(root: &std::path::Path, count: usize) -> (f64, f64) {
    let first = fabric_node(root, "m0", true).start();
    let join = first.spec.clone();
    let mut nodes = vec![first];
    for i in 1..count {
        nodes.push(
            fabric_node(root, &format!("m{i}"), false)
                .join(&join)
                .start(),
        );
    }
    wait_for("every advert fresh", || {
        (fresh_nodes(&nodes[0]) == count).then_some(())
    });
    std::thread::sleep(Duration::from_secs(10));
    let rss: Vec<f64> = nodes
        .iter()
        .filter_map(|n| rss_kib(n.pid()?))
        .map(|k| k as f64 / 1024.0)
        .collect();
    let mean = rss.iter().sum::<f64>() / rss.len() as f64;
    let max = rss.iter().copied().fold(0.0, f64::max);
    (mean, max)
}

fn main() {
    let deploys = env_usize("BENCH_DEPLOYS", 20);
    let runs = env_usize("BENCH_FAILOVERS", 5);
    let count = env_usize("BENCH_NODES", 30);
    let phases =
        std::env::var("BENCH_PHASES").unwrap_or_else(|_| "placement,deploy,failover,memory".into());
    let run = |phase: &str| phases.split(',').any(|p| p.trim() == phase);
    let root = tempfile::tempdir().expect("temp dir");

    if run("placement") {
        eprintln!("[bench-deeploy] placement: 10,000 adverts, 1,000 apps x 3 replicas...");
        let rate = placement_throughput();
        println!("deeploy_placements_per_s={rate:.0}  (target >= 5000; Nomad's C1M run ~3750)");
    }
    if run("deploy") {
        deploy_phase(root.path(), deploys);
    }
    if run("failover") {
        eprintln!("[bench-deeploy] failover: 3 nodes, default 1 s heartbeat, {runs} SIGKILLs...");
        let (mut detect, mut serve) = failover(root.path(), runs);
        println!(
            "deeploy_failover: detected p50 {:.1} s p99 {:.1} s; serving again p50 {:.1} s p99 {:.1} s  (target <= 10 s; Nomad >= 20 s, wadm 70 s, Kubernetes ~5.7 min by default)",
            quantile(&mut detect, 0.5),
            quantile(&mut detect, 0.99),
            quantile(&mut serve, 0.5),
            quantile(&mut serve, 0.99),
        );
    }
    if run("memory") {
        eprintln!("[bench-deeploy] memory: {count} node processes in one mesh...");
        let (mean, max) = memory(root.path(), count);
        println!("deeploy_memory_per_node: {count} nodes, RSS mean {mean:.0} MiB max {max:.0} MiB");
    }
}

fn deploy_phase(root: &std::path::Path, deploys: usize) {
    eprintln!("[bench-deeploy] deploy to serving: 3 nodes, {deploys} deploys cached and cold...");
    let nodes: Vec<NodeProcess> = {
        let first = fabric_node(root, "d0", true).start();
        let join = first.spec.clone();
        let mut v = vec![first];
        for i in 1..3 {
            v.push(
                fabric_node(root, &format!("d{i}"), true)
                    .join(&join)
                    .start(),
            );
        }
        v
    };
    wait_for("three fresh nodes", || {
        (fresh_nodes(&nodes[0]) == 3).then_some(())
    });
    let key = ed25519_dalek::SigningKey::from_bytes(&[30; 32]);
    let ms = |s: f64| s * 1000.0;
    for cold in [false, true] {
        let label = if cold { "cold" } else { "cached" };
        let (mut serving, mut all) = deploy_to_serving(&nodes, &key, deploys, cold);
        println!(
            "deeploy_deploy_to_serving_{label}: first answer p50 {:.0} ms p99 {:.0} ms; every replica healthy p50 {:.0} ms p99 {:.0} ms",
            ms(quantile(&mut serving, 0.5)),
            ms(quantile(&mut serving, 0.99)),
            ms(quantile(&mut all, 0.5)),
            ms(quantile(&mut all, 0.99)),
        );
    }
}
