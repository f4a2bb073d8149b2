//! Sentences per second through R1's inference path (registry → tokenizer → batcher → candle),
//! at batch 1 and batch 32, on the fixture sentences repeated to `R1_BENCH_SENTENCES` (256).
//! Prints one line `r1 b1=<sentences/s> b32=<sentences/s> device=<d>`; `scripts/bench-infer.sh`
//! runs it beside PyTorch + sentence-transformers on the same sentences and prints the ratios.

use std::path::PathBuf;
use std::time::Instant;

use r1_infer::{BatchConfig, DeviceChoice, ModelSpec, Registry, SpecKind};

fn sentences() -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sentences.txt");
    let text = std::fs::read_to_string(&path).expect("fixture sentences");
    let base: Vec<String> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    let total: usize = std::env::var("R1_BENCH_SENTENCES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256);
    base.iter().cycle().take(total).cloned().collect()
}

fn main() {
    let device: DeviceChoice = std::env::var("R1_DEVICE")
        .unwrap_or_else(|_| "cpu".into())
        .parse()
        .expect("R1_DEVICE");
    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    let registry = Registry::new(device, BatchConfig::default()).expect("device");
    registry
        .register(
            "minilm",
            ModelSpec::from_dir(SpecKind::SentenceEmbedding, r1_test_support::minilm_dir()),
        )
        .expect("register");
    let sentences = sentences();
    runtime.block_on(async {
        let model = registry
            .load("minilm")
            .await
            .expect("model (run scripts/fetch-models.sh)");
        // Warm-up: first passes allocate and fill caches.
        for chunk in sentences.chunks(32).take(2) {
            model.embed(chunk).await.expect("embed");
        }
        let started = Instant::now();
        for s in &sentences {
            model.embed(std::slice::from_ref(s)).await.expect("embed");
        }
        let b1 = sentences.len() as f64 / started.elapsed().as_secs_f64();
        let started = Instant::now();
        for chunk in sentences.chunks(32) {
            model.embed(chunk).await.expect("embed");
        }
        let b32 = sentences.len() as f64 / started.elapsed().as_secs_f64();
        println!(
            "r1 b1={b1:.1} b32={b32:.1} device={}",
            registry.device_name()
        );
    });
}
