//! Actors using inference through `r1:infer`: the semantic-search example on the real
//! all-MiniLM-L6-v2, grants enforced, one shared copy for every actor.

use std::sync::Arc;
use std::time::Duration;

use r1_infer::{BatchConfig, DeviceChoice, ModelSpec, Registry, SpecKind};
use r1_runtime::{ActorSpec, GrantError, Grants, Runtime, RuntimeConfig, SpawnError, TrustPolicy};

fn spec(name: &str, grants: &[&str], config: &[(&str, &str)]) -> ActorSpec {
    ActorSpec {
        name: name.into(),
        wasm: r1_test_support::guest("semantic_search"),
        grants: Grants::parse(grants).expect("grants"),
        config: config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        limits: None,
    }
}

struct Setup {
    runtime: Runtime,
    registry: Arc<Registry>,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("dir");
    let store = r1_cstore::Cstore::open(dir.path()).expect("cstore");
    let registry = Arc::new(Registry::new(DeviceChoice::Cpu, BatchConfig::default()).expect("cpu"));
    registry
        .register(
            "all-minilm-l6-v2",
            ModelSpec::from_dir(SpecKind::SentenceEmbedding, r1_test_support::minilm_dir()),
        )
        .expect("register");
    let runtime = Runtime::builder(RuntimeConfig::default(), TrustPolicy::dev())
        .key_value(Arc::new(store))
        .inference(registry.clone())
        .build()
        .expect("runtime");
    Setup {
        runtime,
        registry,
        _dir: dir,
    }
}

async fn ask(rt: &Runtime, actor: &str, message: &str) -> String {
    let reply = rt
        .request(actor, message.as_bytes().to_vec(), Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{actor} <- {message:?}: {e}"));
    String::from_utf8(reply.unwrap_or_default()).expect("utf-8")
}

#[actix_rt::test]
async fn semantic_search_finds_the_nearest_documents() {
    let s = setup();
    s.runtime
        .spawn(spec(
            "search",
            &["infer:all-minilm-l6-v2", "cstore:search"],
            &[],
        ))
        .await
        .expect("spawn");
    let info = ask(&s.runtime, "search", "info").await;
    assert!(
        info.starts_with("all-minilm-l6-v2 dimension=384 max_tokens=256 device=cpu"),
        "{info}"
    );
    for (id, text) in [
        ("cats", "A cat sleeps on the warm windowsill."),
        (
            "pasta",
            "Boil the spaghetti for nine minutes, then add the tomato sauce.",
        ),
        (
            "gpu",
            "The graphics card accelerates matrix multiplication for neural networks.",
        ),
        (
            "rain",
            "Heavy rain is expected across the north this weekend.",
        ),
    ] {
        assert_eq!(
            ask(&s.runtime, "search", &format!("add {id} {text}")).await,
            format!("added {id}")
        );
    }
    let best = |reply: &str| {
        reply
            .lines()
            .next()
            .and_then(|l| l.split('\t').nth(1))
            .map(str::to_owned)
    };
    let reply = ask(&s.runtime, "search", "query 2 my kitten is napping").await;
    assert_eq!(best(&reply).as_deref(), Some("cats"), "{reply}");
    assert_eq!(reply.lines().count(), 2);
    let reply = ask(
        &s.runtime,
        "search",
        "query 1 what should I cook for dinner with noodles",
    )
    .await;
    assert_eq!(best(&reply).as_deref(), Some("pasta"), "{reply}");
    let reply = ask(&s.runtime, "search", "query 1 deep learning hardware").await;
    assert_eq!(best(&reply).as_deref(), Some("gpu"), "{reply}");
}

#[actix_rt::test]
async fn inference_needs_a_grant_for_the_model() {
    let s = setup();
    // No inference grant at all: refused before instantiation, naming the grant.
    match s.runtime.spawn(spec("nogrant", &["cstore:x"], &[])).await {
        Err(SpawnError::Grant(GrantError::NotGranted {
            interface, grant, ..
        })) => {
            assert!(interface.starts_with("r1:infer/"), "{interface}");
            assert!(grant.starts_with("infer"), "{grant}");
        }
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("an actor without an inference grant started"),
    }
    // Granted another model: loading this one is an error value (denied), so init fails.
    let err = s
        .runtime
        .spawn(spec("other", &["infer:some-other-model", "cstore:x"], &[]))
        .await
        .expect_err("denied");
    let text = err.to_string();
    assert!(
        text.contains("Denied") && text.contains("all-minilm-l6-v2"),
        "{text}"
    );
    // A model the node does not serve.
    let err = s
        .runtime
        .spawn(spec(
            "unknown",
            &["infer", "cstore:x"],
            &[("model", "nope")],
        ))
        .await
        .expect_err("unknown model");
    assert!(err.to_string().contains("NotFound"), "{err}");
    assert_eq!(
        s.registry.loads(),
        0,
        "nothing was loaded for refused actors"
    );
}

#[actix_rt::test]
async fn two_actors_share_one_loaded_copy() {
    let s = setup();
    for name in ["first", "second"] {
        s.runtime
            .spawn(spec(name, &["infer", &format!("cstore:{name}")], &[]))
            .await
            .expect("spawn");
    }
    ask(&s.runtime, "first", "add a hello world").await;
    ask(&s.runtime, "second", "add b hello world").await;
    assert_eq!(s.registry.loads(), 1, "the model was read twice");
    let listing = s.registry.models();
    assert_eq!(listing[0].users, 2, "{listing:?}");
    s.runtime.stop("first").await.expect("stop");
    s.runtime.stop("second").await.expect("stop");
}
