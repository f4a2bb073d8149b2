//! The real all-MiniLM-L6-v2 (from PyPI, `scripts/fetch-models.sh`) against reference vectors
//! made by sentence-transformers on PyTorch (`scripts/make_embedding_fixture.py`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use r1_core::ServiceError;
use r1_infer::{BatchConfig, DeviceChoice, ModelSpec, Registry, SpecKind, TensorData};

fn registry() -> Registry {
    let registry = Registry::new(DeviceChoice::Cpu, BatchConfig::default()).expect("cpu");
    registry
        .register(
            "minilm",
            ModelSpec::from_dir(SpecKind::SentenceEmbedding, r1_test_support::minilm_dir()),
        )
        .expect("register");
    registry
}

struct Reference {
    sentences: Vec<String>,
    vectors: Vec<Vec<f32>>,
}

fn reference() -> Reference {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minilm_reference.json");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("json");
    let sentences = json["sentences"]
        .as_array()
        .expect("sentences")
        .iter()
        .map(|s| s.as_str().expect("text").to_owned())
        .collect();
    let vectors = json["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .map(|v| {
            v.as_array()
                .expect("vector")
                .iter()
                .map(|x| x.as_f64().expect("number") as f32)
                .collect()
        })
        .collect();
    Reference { sentences, vectors }
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

#[tokio::test]
async fn embeddings_match_sentence_transformers() {
    let registry = registry();
    let model = registry.load("minilm").await.expect("load");
    assert_eq!(model.info().dimension, 384);
    assert_eq!(
        model.info().max_input,
        256,
        "from sentence_bert_config.json"
    );
    let reference = reference();
    assert_eq!(reference.sentences.len(), 16);
    let vectors = model.embed(&reference.sentences).await.expect("embed");
    for (i, (ours, theirs)) in vectors.iter().zip(&reference.vectors).enumerate() {
        assert_eq!(ours.len(), theirs.len());
        let cos = cosine(ours, theirs);
        assert!(
            cos >= 0.999,
            "sentence {i} ({:?}): cosine {cos} with sentence-transformers",
            reference.sentences[i]
        );
        let norm: f32 = ours.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "not normalised: {norm}");
    }
    // The model tells similar sentences from unrelated ones.
    let cat = cosine(&vectors[0], &vectors[4]);
    let pasta = cosine(&vectors[0], &vectors[2]);
    assert!(cat > pasta + 0.2, "cat/cat {cat} vs cat/pasta {pasta}");
}

#[tokio::test]
async fn a_batch_gives_the_same_vectors_as_one_by_one() {
    let registry = registry();
    let model = registry.load("minilm").await.expect("load");
    let sentences = reference().sentences;
    let batched = model.embed(&sentences).await.expect("batch");
    for (i, sentence) in sentences.iter().enumerate() {
        let alone = model
            .embed(std::slice::from_ref(sentence))
            .await
            .expect("alone");
        let worst = alone[0]
            .iter()
            .zip(&batched[i])
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        // Padding changes the shapes the matrix kernels see, so sums may round differently;
        // nothing beyond float rounding is allowed.
        assert!(
            worst <= 1e-5,
            "sentence {i}: batch and alone differ by {worst}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_are_batched_and_get_their_own_answers() {
    let registry = Arc::new(registry());
    let sentences = reference().sentences;
    let model = registry.load("minilm").await.expect("load");
    let alone = model.embed(&sentences).await.expect("reference run");
    let tasks: Vec<_> = sentences
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, s)| {
            let registry = registry.clone();
            tokio::spawn(async move {
                let model = registry.load("minilm").await.expect("load");
                (i, model.embed(&[s]).await.expect("embed"))
            })
        })
        .collect();
    for task in tasks {
        let (i, got) = task.await.expect("task");
        assert!(
            cosine(&got[0], &alone[i]) > 0.99999,
            "sentence {i} got another's vector"
        );
    }
    let stats = model.batch_stats();
    assert!(
        stats
            .max_requests_per_pass
            .load(std::sync::atomic::Ordering::Relaxed)
            > 1,
        "16 concurrent callers never shared a forward pass"
    );
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let registry = registry();
    match registry.load("no-such-model").await {
        Err(ServiceError::NotFound(m)) => assert!(m.contains("minilm"), "{m}"),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("an unknown model loaded"),
    }
    let model = registry.load("minilm").await.expect("load");
    let err = model.embed(&[]).await.expect_err("empty");
    assert_eq!(
        err,
        ServiceError::Invalid("the list of texts is empty".into())
    );
    let long = "word ".repeat(300);
    let err = model
        .embed(&["fine".into(), long])
        .await
        .expect_err("too long");
    match &err {
        ServiceError::Invalid(m) => {
            assert!(m.starts_with("text 1 is"), "{m}");
            assert!(m.contains("at most 256"), "{m}");
        }
        other => panic!("unexpected {other}"),
    }
    let err = model
        .run(TensorData {
            shape: vec![1, 384],
            data: vec![0.0; 384],
        })
        .await
        .expect_err("text model");
    assert!(err.to_string().contains("use embed"), "{err}");
    // A bad request does not disturb the next good one.
    assert_eq!(model.embed(&["ok".into()]).await.expect("ok")[0].len(), 384);
}

#[tokio::test]
async fn every_caller_shares_one_copy_until_it_is_idle() {
    let registry = registry();
    let (a, b) = tokio::join!(registry.load("minilm"), registry.load("minilm"));
    let (a, b) = (a.expect("a"), b.expect("b"));
    assert!(Arc::ptr_eq(&a, &b), "two copies of one model");
    assert_eq!(registry.loads(), 1);
    let listing = registry.models();
    assert_eq!(listing[0].users, 2);
    assert!(listing[0].loaded);
    // Held models are never unloaded.
    assert!(registry.unload_idle(Duration::ZERO).is_empty());
    drop((a, b));
    assert_eq!(
        registry.unload_idle(Duration::ZERO),
        vec!["minilm".to_string()]
    );
    assert!(!registry.models()[0].loaded);
    registry.load("minilm").await.expect("reload");
    assert_eq!(registry.loads(), 2);
}
