//! EDIL across nodes: the federated demo against plaintext FedAvg, and decryption refused
//! everywhere but on the job owner's node.

use r1_test_support::{NodeProcess, NodeSpec, guest_path, r1, r1_ok};

#[test]
fn encrypted_federated_learning_matches_plaintext_fedavg() {
    let out = r1(
        &[
            "fl",
            "demo",
            "--clients",
            "3",
            "--rounds",
            "6",
            "--component",
            guest_path("federated").to_str().unwrap(),
            "--datasets",
            r1_test_support::datasets_dir().to_str().unwrap(),
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<(f32, f32)> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()) && l.contains('%'))
        .map(|l| {
            let numbers: Vec<f32> = l
                .split_whitespace()
                .filter_map(|w| w.trim_end_matches('%').parse().ok())
                .collect();
            (numbers[1], numbers[2])
        })
        .collect();
    assert_eq!(rows.len(), 6, "{stdout}");
    let (encrypted, plaintext) = rows[5];
    assert!(
        (encrypted - plaintext).abs() <= 1.0,
        "after 6 rounds: encrypted {encrypted}% vs plaintext {plaintext}%\n{stdout}"
    );
    assert!(encrypted > 80.0, "the model did not learn: {stdout}");
}

#[test]
fn only_the_owner_node_can_decrypt() {
    let root = tempfile::tempdir().unwrap();
    let owner = NodeProcess::start(&root.path().join("owner"));
    let other = NodeSpec::new(&root.path().join("other"))
        .join(&owner.spec)
        .start();
    let other_id = other.get_json("/v1/status")["node_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = r1_ok(
        &["fl", "create", "job1", "--participant", &other_id],
        Some(&owner.api),
    );
    assert!(created.contains("\"key_here\": true"), "{created}");
    // The record replicates; the other node sees the job but holds no key.
    let shown = r1_test_support::eventually(
        "the job reaches the other node",
        std::time::Duration::from_secs(20),
        || {
            let out = r1(&["fl", "show", "job1"], Some(&other.api));
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        },
    );
    assert!(shown.contains("\"key_here\": false"), "{shown}");
    let refused = r1(
        &["fl", "decrypt", "job1", "bafkr4ianything"],
        Some(&other.api),
    );
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("holds no secret key") && err.contains("403"),
        "{err}"
    );
    assert!(!other.data_dir.join("edil/job1.key").exists());
    // Bad participants and duplicate jobs are refused with reasons.
    let bad = r1(
        &["fl", "create", "job2", "--participant", "nope"],
        Some(&owner.api),
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a hex ed25519 node key"));
    let again = r1(
        &["fl", "create", "job1", "--participant", &other_id],
        Some(&owner.api),
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn actors_decrypt_only_with_the_owner_grant() {
    let datasets = r1_test_support::datasets_dir();
    let root = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&root.path().join("n"));
    let me = node.get_json("/v1/status")["node_id"]
        .as_str()
        .unwrap()
        .to_owned();
    r1_ok(
        &["fl", "create", "job1", "--participant", &me],
        Some(&node.api),
    );
    let component = guest_path("federated");
    let data = format!("fs-ro:{}=/data", datasets.display());
    let start = |name: &str, role: &str, grants: &[&str]| {
        let mut args = vec![
            "actor",
            "start",
            component.to_str().unwrap(),
            "--name",
            name,
        ];
        for g in grants {
            args.extend(["--grant", g]);
        }
        let role = format!("role={role}");
        let job = "job=job1".to_string();
        args.extend(["--config", &role, "--config", &job]);
        r1_ok(&args, Some(&node.api));
    };
    start("participant", "aggregator", &["edil:job1", "r1fs-ro"]);
    start("keyholder", "owner", &["edil-owner:job1", "r1fs", &data]);
    let missing = "bafkr4ie5ynehxxaarom5vix5caagrwlpvdozvymaqnzl6dz6mttnchboua";
    // A participant's actor may aggregate but not decrypt, even on the key's own node.
    let denied = r1(
        &["send", "participant", &format!("apply init {missing} 1")],
        Some(&node.api),
    );
    let err = String::from_utf8_lossy(&denied.stderr);
    assert!(
        !denied.status.success() && err.contains("Denied") && err.contains("edil-owner:job1"),
        "{err}"
    );
    // The owner's actor passes the grant check and reaches the file lookup.
    let owner = r1(
        &["send", "keyholder", &format!("apply init {missing} 1")],
        Some(&node.api),
    );
    let err = String::from_utf8_lossy(&owner.stderr);
    assert!(!owner.status.success() && !err.contains("Denied"), "{err}");
    assert!(err.contains("NotFound"), "{err}");
}
