//! OracleSync on a running mesh: 7 nodes, 4 of them oracles (f = 1), epochs of 4 s with beats
//! every 200 ms. One oracle runs a lying guest (every node at 255). In turn:
//!
//! 1. a node stopped (SIGSTOP) for a measured share of an epoch gets that share within one
//!    beat in the certificate — the liar's 255 outvoted by the median;
//! 2. the liar killed, the next epoch still certifies (3 of 4 oracles = 2f + 1);
//! 3. one of the three isolated: no side has 2f + 1 oracles, the epoch certifies nothing
//!    (listed faulty); after the heal the next epoch certifies;
//! 4. a certificate fetched with `r1 epoch get` verifies offline, and fails with a forged or a
//!    missing signature.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use r1_oraclesync::certificate::Certificate;
use r1_test_support::{NodeProcess, NodeSpec, eventually, guest_path, keyed_node, r1, r1_ok};

const EPOCH_MS: u64 = 4_000;
const BEAT_MS: u64 = 200;
const SETTLE_MS: u64 = 300;
const EXCHANGE_MS: u64 = 1_500;
const SIGN_MS: u64 = 1_500;
const WAIT: Duration = Duration::from_secs(40);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn epoch_at(ms: u64) -> u64 {
    ms / EPOCH_MS
}

fn start_of(epoch: u64) -> u64 {
    epoch * EPOCH_MS
}

fn sleep_until(ms: u64) {
    let now = now_ms();
    if ms > now {
        std::thread::sleep(Duration::from_millis(ms - now));
    }
}

fn config(dir: &std::path::Path, oracles: &[String], oracle_wasm: Option<&str>) -> String {
    let keys: Vec<String> = oracles.iter().map(|k| format!("{k:?}")).collect();
    let oracle = oracle_wasm
        .map(|w| format!("oracle = {:?}\n", guest_path(w).to_str().unwrap()))
        .unwrap_or_default();
    let text = format!(
        "[deeploy]\nheartbeat_ms = {BEAT_MS}\n\n[oraclesync]\noracles = [{}]\nepoch_ms = {EPOCH_MS}\ngrace_ms = 400\nsettle_ms = {SETTLE_MS}\nexchange_ms = {EXCHANGE_MS}\nsign_ms = {SIGN_MS}\ntick_ms = 100\n{oracle}",
        keys.join(", ")
    );
    let path = dir.join("node.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn certificate(node: &NodeProcess, epoch: u64) -> Option<Certificate> {
    let bytes = node.client().epoch_certificate(epoch).ok()?;
    Certificate::from_bytes(&bytes).ok()
}

fn status_of(node: &NodeProcess, epoch: u64) -> Option<String> {
    let listing = node.client().epochs(50).ok()?;
    listing["epochs"]
        .as_array()?
        .iter()
        .find(|e| e["epoch"] == epoch)
        .and_then(|e| e["status"].as_str().map(str::to_owned))
}

fn signal(node: &NodeProcess, sig: &str) {
    let pid = node.pid().expect("a running node").to_string();
    let status = std::process::Command::new("kill")
        .args([sig, &pid])
        .status()
        .unwrap();
    assert!(status.success(), "kill {sig} {pid}");
}

#[test]
fn seven_nodes_four_oracles_certify_through_a_liar_a_crash_and_a_partition() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let specs: Vec<(NodeSpec, String)> =
        (0..7).map(|i| keyed_node(root, &format!("n{i}"))).collect();
    let oracles: Vec<String> = specs[..4].iter().map(|(_, k)| k.clone()).collect();
    let mut nodes: Vec<NodeProcess> = Vec::new();
    for (i, (spec, _)) in specs.iter().enumerate() {
        let wasm = match i {
            0 => Some("lying_oracle"),
            1..=3 => Some("oraclesync_oracle"),
            _ => None,
        };
        let mut spec = spec
            .clone()
            .arg("--config")
            .arg(&config(&spec.data_dir, &oracles, wasm));
        if let Some(first) = nodes.first() {
            spec = spec.join(&first.spec);
        }
        if let Some(second) = nodes.get(1) {
            spec = spec.join(&second.spec);
        }
        nodes.push(spec.start());
    }
    let key_of = |i: usize| specs[i].1.clone();
    let oracle_file = root.join("oracles.txt");
    std::fs::write(&oracle_file, oracles.join("\n")).unwrap();
    eventually("every node sees the six others", WAIT, || {
        nodes
            .iter()
            .all(|n| {
                n.get_json("/v1/mesh")["mesh"]["connected"]
                    .as_array()
                    .is_some_and(|p| p.len() >= 6)
            })
            .then_some(())
    });

    // 1. n4 stopped for 1.5 s of epoch e1; the liar says 255 for it.
    let e1 = epoch_at(now_ms()) + 1;
    sleep_until(start_of(e1) + 1_000);
    let stopped_at = now_ms();
    signal(&nodes[4], "-STOP");
    sleep_until(start_of(e1) + 2_500);
    signal(&nodes[4], "-CONT");
    let resumed_at = now_ms();
    let expected = (EPOCH_MS - (resumed_at - stopped_at)) as f64 / EPOCH_MS as f64 * 255.0;
    let one_beat = BEAT_MS as f64 / EPOCH_MS as f64 * 255.0;
    let cert = eventually("epoch e1 certified", WAIT, || certificate(&nodes[1], e1));
    let got = cert.table.figures[&key_of(4)] as f64;
    eprintln!(
        "n4 stopped {} ms of {EPOCH_MS}: certified {got}, expected {expected:.1} (one beat {one_beat:.1})",
        resumed_at - stopped_at
    );
    assert!(
        (got - expected).abs() <= one_beat + 1.0,
        "n4 stopped {} ms of {EPOCH_MS}: {got} certified, {expected:.1} expected (one beat = {one_beat:.1})",
        resumed_at - stopped_at
    );
    for i in [1, 2, 3, 5, 6] {
        assert!(
            cert.table.figures[&key_of(i)] >= 250,
            "n{i} was up all along: {cert:?}"
        );
    }
    // The liar did lie: its own table gives n4 255.
    let liar_table = nodes[1]
        .client()
        .cstore_get("r1-oraclesync", &format!("table/{e1:020}/{}", key_of(0)))
        .unwrap();
    let (_, table) = r1_oraclesync::exchange::open_table(&liar_table).unwrap();
    assert_eq!(table.figures[&key_of(4)], 255, "the liar's table");

    // 2. The liar killed: the next whole epoch still certifies, by the three others.
    let liar = nodes.remove(0);
    drop(liar.kill());
    let e2 = epoch_at(now_ms()) + 1;
    let cert = eventually("epoch e2 certified without the liar", WAIT, || {
        certificate(&nodes[0], e2)
    });
    assert_eq!(cert.signatures.len(), 3);
    let liar_key = r1_runtime::signing::keys::PublicKey::from_hex(&key_of(0)).unwrap();
    assert!(!cert.signatures.contains_key(&liar_key.0));
    // nodes: [n1, n2, n3, n4, n5, n6]

    // 4 (now, while e2's certificate is at hand). Offline verification.
    let file = root.join("e2.cert");
    r1_ok(
        &[
            "epoch",
            "get",
            &e2.to_string(),
            "-o",
            file.to_str().unwrap(),
        ],
        Some(&nodes[0].api),
    );
    let verify = |path: &std::path::Path| {
        r1(
            &[
                "epoch",
                "verify",
                path.to_str().unwrap(),
                "--oracles",
                oracle_file.to_str().unwrap(),
            ],
            None,
        )
    };
    assert!(verify(&file).status.success());
    let shown = r1_ok(
        &["epoch", "show", &e2.to_string(), "--node", &key_of(5)],
        Some(&nodes[2].api),
    );
    assert!(shown.contains("availability"), "{shown}");
    let bytes = std::fs::read(&file).unwrap();
    let mut forged = bytes.clone();
    *forged.last_mut().unwrap() ^= 1;
    let forged_file = root.join("forged.cert");
    std::fs::write(&forged_file, forged).unwrap();
    let out = verify(&forged_file);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not verify"));
    let mut short = Certificate::from_bytes(&bytes).unwrap();
    let first = *short.signatures.keys().next().unwrap();
    short.signatures.remove(&first);
    let short_file = root.join("short.cert");
    std::fs::write(&short_file, short.to_bytes()).unwrap();
    let out = verify(&short_file);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("2f + 1"));

    // 3. n3 isolated from before e3 ends until after its exchange deadline: {n1, n2} and {n3}
    // each hold fewer than 2f + 1 = 3 oracles.
    let e3 = epoch_at(now_ms()) + 1;
    sleep_until(start_of(e3) + EPOCH_MS / 2);
    let ids: Vec<String> = nodes.iter().map(NodeProcess::peer_id).collect();
    let cut = 2; // n3
    let block = |blocked: bool| {
        for (i, node) in nodes.iter().enumerate() {
            if i == cut {
                for (j, id) in ids.iter().enumerate() {
                    if j != cut {
                        node.client().block_peer(id, blocked).unwrap();
                    }
                }
            } else {
                node.client().block_peer(&ids[cut], blocked).unwrap();
            }
        }
    };
    block(true);
    sleep_until(start_of(e3 + 1) + SETTLE_MS + EXCHANGE_MS + 700);
    block(false);
    sleep_until(start_of(e3 + 1) + SETTLE_MS + EXCHANGE_MS + SIGN_MS + 500);
    for node in &nodes {
        assert!(
            certificate(node, e3).is_none(),
            "e3 certified across a partition"
        );
    }
    eventually("e3 listed as faulty", WAIT, || {
        (status_of(&nodes[0], e3).as_deref() == Some("faulty")).then_some(())
    });
    // After the heal, the next whole epoch certifies.
    let e4 = epoch_at(now_ms()) + 1;
    let cert = eventually("the epoch after the heal certified", WAIT, || {
        certificate(&nodes[3], e4)
    });
    assert_eq!(cert.signatures.len(), 3);
    let listing = r1_ok(&["epochs"], Some(&nodes[0].api));
    assert!(
        listing.contains("faulty") && listing.contains("certified"),
        "{listing}"
    );
}
