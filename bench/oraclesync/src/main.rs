//! `make bench-oraclesync`: OracleSync's rules at production scale, in one run (release).
//!
//! 1. **Availability**: 10,000 nodes × 8,640 heartbeats (one day at 10 s; each node down for
//!    a different stretch), the availability of every node in the day's epoch.
//! 2. **Median merge**: 7 oracle tables of 10,000 nodes (figures jittered per oracle) merged.
//! 3. **Certificate**: the merged table's Merkle root, 7 oracle signatures added (each
//!    checked), the certificate verified offline and serialized.
//!
//! Prints each step's time (median of `BENCH_RUNS`, default 5). The certificate latency on a
//! running mesh (epoch end to certificate, 7 oracle actors) needs the oracle actors, which are
//! not built yet; this driver measures the work they will do.

use std::collections::BTreeMap;
use std::time::Instant;

use ed25519_dalek::SigningKey;
use r1_oraclesync::availability::{Epoch, Rule, availability};
use r1_oraclesync::certificate::{Certificate, sign};
use r1_oraclesync::table::{Table, median_merge};

const NODES: usize = 10_000;
const BEATS: u64 = 8_640;
const PERIOD_MS: u64 = 10_000;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let epoch = Epoch::nth(0, BEATS * PERIOD_MS, 0);
    let rule = Rule::default();
    // Node i misses beats in a stretch of i % 1000 beats starting at a node-specific offset.
    let beats: Vec<Vec<u64>> = (0..NODES)
        .map(|i| {
            let down_from = (i as u64 * 7919) % BEATS;
            let down_len = (i as u64) % 1000;
            (0..BEATS)
                .filter(|b| !(down_from..down_from + down_len).contains(b))
                .map(|b| b * PERIOD_MS + (i as u64 % 500))
                .collect()
        })
        .collect();
    let mut table = Table {
        epoch: 0,
        figures: BTreeMap::new(),
    };
    let mut took = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let figures: BTreeMap<String, u8> = beats
            .iter()
            .enumerate()
            .map(|(i, b)| (format!("node-{i:05}"), availability(b, &epoch, &rule)))
            .collect();
        took.push(started.elapsed().as_secs_f64());
        table.figures = figures;
    }
    let availability_s = median(took);

    let tables: Vec<Table> = (0..7u8)
        .map(|o| Table {
            epoch: 0,
            figures: table
                .figures
                .iter()
                .map(|(n, v)| (n.clone(), v.saturating_add(o % 3)))
                .collect(),
        })
        .collect();
    let refs: Vec<&Table> = tables.iter().collect();
    let mut took = Vec::new();
    let mut merged = table.clone();
    for _ in 0..runs {
        let started = Instant::now();
        merged = median_merge(0, &refs);
        took.push(started.elapsed().as_secs_f64());
    }
    let merge_s = median(took);

    let keys: Vec<SigningKey> = (1..=7u8)
        .map(|i| SigningKey::from_bytes(&[i; 32]))
        .collect();
    let oracles: Vec<[u8; 32]> = keys.iter().map(|k| k.verifying_key().to_bytes()).collect();
    let mut took = Vec::new();
    let mut size = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let mut cert = Certificate::new(merged.clone());
        for k in &keys {
            cert.add_signature(k.verifying_key().to_bytes(), sign(&merged, k));
        }
        cert.verify(&oracles, 2).expect("certificate holds");
        size = cert.to_bytes().len();
        took.push(started.elapsed().as_secs_f64());
    }
    let cert_s = median(took);

    println!(
        "nodes {NODES}, heartbeats per node {BEATS} (one day at 10 s), 7 oracles, median of {runs} runs"
    );
    println!("oracle_availability_10k_nodes_s {availability_s:.3}  (target <= 2)");
    println!("oracle_median_merge_7_tables_s {merge_s:.3}");
    println!(
        "oracle_certificate_assembly_s {cert_s:.3}  (root, 7 signatures made and checked, offline verify; {size} bytes)"
    );
    let (latency, settle) = certificate_latency();
    println!(
        "oracle_certificate_latency_s {latency:.2}  (target <= 10; epoch end to a stored certificate, 7 oracle nodes on loopback, production timing: beats 1 s, grace = settle {settle:.1} s, passes 1 s; median of {LATENCY_EPOCHS} epochs)"
    );
}

/// Epochs whose certificate latency is measured.
const LATENCY_EPOCHS: u64 = 3;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Seven `r1 node` processes, all oracles, on the production defaults but for 10 s epochs:
/// the median time from an epoch's end until one node serves its certificate, and the
/// settle wait included in it.
fn certificate_latency() -> (f64, f64) {
    use r1_test_support::{NodeProcess, guest_path, keyed_node};
    const EPOCH_MS: u64 = 10_000;
    // The node's defaults (docs/oraclesync.md), written out so the run says what it measured.
    let (beat_ms, grace_ms, tick_ms) = (1_000, 5_000, 1_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let specs: Vec<_> = (0..7)
        .map(|i| keyed_node(dir.path(), &format!("o{i}")))
        .collect();
    let keys: Vec<String> = specs.iter().map(|(_, k)| format!("{k:?}")).collect();
    let oracle = guest_path("oraclesync_oracle");
    let mut nodes: Vec<NodeProcess> = Vec::new();
    for (spec, _) in &specs {
        let config = spec.data_dir.join("node.toml");
        std::fs::write(
            &config,
            format!(
                "[deeploy]\nheartbeat_ms = {beat_ms}\n\n[oraclesync]\noracles = [{}]\nepoch_ms = {EPOCH_MS}\ngrace_ms = {grace_ms}\ntick_ms = {tick_ms}\noracle = {:?}\n",
                keys.join(", "),
                oracle.to_str().expect("a UTF-8 path")
            ),
        )
        .expect("config");
        let mut spec = spec
            .clone()
            .arg("--config")
            .arg(config.to_str().expect("utf-8"));
        if let Some(first) = nodes.first() {
            spec = spec.join(&first.spec);
        }
        nodes.push(spec.start());
    }
    let first = now_ms() / EPOCH_MS + 1;
    let mut took = Vec::new();
    for epoch in first..first + LATENCY_EPOCHS {
        let end = (epoch + 1) * EPOCH_MS;
        let deadline = end + 60_000;
        loop {
            if nodes[0].client().epoch_certificate(epoch).is_ok() {
                took.push(now_ms().saturating_sub(end) as f64 / 1000.0);
                break;
            }
            assert!(
                now_ms() < deadline,
                "epoch {epoch}: no certificate a minute after its end"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    (median(took), grace_ms as f64 / 1000.0)
}
