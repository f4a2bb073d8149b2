//! Inference through a node: `r1 infer` on the CLI, and a model stored in R1FS on one node
//! served by another. Uses the real all-MiniLM-L6-v2 (`scripts/fetch-models.sh`).

use std::time::Duration;

use r1_test_support::{NodeProcess, NodeSpec, eventually, r1, r1_ok};

fn vectors(output: &str) -> Vec<Vec<f32>> {
    output
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON array per line"))
        .collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn the_cli_embeds_text_and_explains_bad_requests() {
    r1_test_support::minilm_dir();
    let root = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&root.path().join("a"));
    let models = r1_ok(&["infer", "models"], Some(&node.api));
    assert!(models.contains("device: cpu"), "{models}");
    assert!(models.contains("all-minilm-l6-v2"), "{models}");

    let both = vectors(&r1_ok(
        &[
            "infer",
            "embed",
            "A cat sits outside.",
            "Stocks fell sharply.",
        ],
        Some(&node.api),
    ));
    assert_eq!(both.len(), 2);
    assert!(both.iter().all(|v| v.len() == 384));
    let alone = vectors(&r1_ok(
        &["infer", "embed", "A cat sits outside."],
        Some(&node.api),
    ));
    assert!(max_diff(&alone[0], &both[0]) <= 1e-5);
    let loaded = r1_ok(&["infer", "models"], Some(&node.api));
    assert!(loaded.contains("loaded"), "{loaded}");

    let unknown = r1(
        &["infer", "embed", "--model", "nope", "hi"],
        Some(&node.api),
    );
    assert!(!unknown.status.success());
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        err.contains("no such model") && err.contains("HTTP 404"),
        "{err}"
    );

    let long = "word ".repeat(400);
    let too_long = r1(&["infer", "embed", "short", &long], Some(&node.api));
    assert!(!too_long.status.success());
    let err = String::from_utf8_lossy(&too_long.stderr);
    assert!(
        err.contains("text 1 is") && err.contains("at most 256"),
        "{err}"
    );

    let none = r1(&["infer", "embed"], Some(&node.api));
    assert!(!none.status.success(), "embedding nothing must be refused");
}

#[test]
fn a_model_stored_in_r1fs_is_served_by_another_node() {
    let dir = r1_test_support::minilm_dir();
    let root = tempfile::tempdir().unwrap();
    let a = NodeProcess::start(&root.path().join("a"));
    let mut cids = Vec::new();
    for file in ["model.safetensors", "config.json", "tokenizer.json"] {
        let path = dir.join(file);
        cids.push(r1_ok(&["fs", "add", path.to_str().unwrap()], Some(&a.api)));
    }
    let config = root.path().join("b.toml");
    std::fs::write(
        &config,
        format!(
            "[infer.models.minilm-from-r1fs]\nkind = \"sentence-embedding\"\n\
             weights = \"{}\"\nconfig = \"{}\"\ntokenizer = \"{}\"\nmax_tokens = 256\n",
            cids[0], cids[1], cids[2]
        ),
    )
    .unwrap();
    let b = NodeSpec::new(&root.path().join("b"))
        .join(&a.spec)
        .arg("--config")
        .arg(config.to_str().unwrap())
        .start();
    let text = "Peer-to-peer storage verifies every chunk.";
    let local = vectors(&r1_ok(&["infer", "embed", text], Some(&a.api)));
    // B has none of the files: it fetches them from A (once the provider records arrive).
    let remote = eventually(
        "B serves the model from R1FS",
        Duration::from_secs(60),
        || {
            let out = r1(
                &["infer", "embed", "--model", "minilm-from-r1fs", text],
                Some(&b.api),
            );
            out.status
                .success()
                .then(|| vectors(&String::from_utf8_lossy(&out.stdout)))
        },
    );
    assert!(
        max_diff(&local[0], &remote[0]) <= 1e-6,
        "same model, same text, other vector"
    );
    for cid in &cids {
        let stat: serde_json::Value =
            serde_json::from_str(&r1_ok(&["fs", "stat", cid], Some(&b.api))).expect("stat");
        assert!(stat["chunks"].as_u64() > Some(0), "{stat}");
        assert_eq!(
            stat["local_chunks"], stat["chunks"],
            "B lacks chunks of {cid}: {stat}"
        );
    }
}
