//! End to end: the `r1` binary, a node on loopback, the examples driven through the CLI.

use std::time::Duration;

use r1_test_support::{NodeProcess, guest_path, r1, r1_ok};

fn p(name: &str) -> String {
    guest_path(name).display().to_string()
}

#[test]
fn hello_counter_and_pipeline_through_a_node_and_counter_survives_restarts() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("node");
    let node = NodeProcess::start(&data);
    let api = Some(node.api.as_str());

    // hello
    let started = r1_ok(&["actor", "start", &p("hello")], api);
    assert!(started.contains("\"name\": \"hello\""), "{started}");
    assert_eq!(r1_ok(&["send", "hello", "Ada"], api), "hello, Ada!");

    // counter, refused without its grant, then counting with it
    let refused = r1(&["actor", "start", &p("counter")], api);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("r1:cstore/store@0.1.0"), "{stderr}");
    r1_ok(
        &["actor", "start", &p("counter"), "--grant", "cstore:counter"],
        api,
    );
    for expected in ["1", "2", "3"] {
        assert_eq!(r1_ok(&["send", "counter", "tick"], api), expected);
    }

    // pipeline: source -> transform -> sink
    r1_ok(
        &[
            "actor",
            "start",
            &p("pipeline_sink"),
            "--name",
            "sink",
            "--grant",
            "cstore:pipeline",
        ],
        api,
    );
    r1_ok(
        &[
            "actor",
            "start",
            &p("pipeline_transform"),
            "--name",
            "transform",
        ],
        api,
    );
    r1_ok(
        &["actor", "start", &p("pipeline_source"), "--name", "source"],
        api,
    );
    assert_eq!(
        r1_ok(&["send", "source", "one small step\nfor an actor"], api),
        "published 2 line(s) on pipeline.raw"
    );
    let expected = "ONE SMALL STEP (3 words)\nFOR AN ACTOR (3 words)";
    let mut dump = String::new();
    for _ in 0..100 {
        dump = r1_ok(&["send", "sink", "dump"], api);
        if dump == expected {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(dump, expected);
    assert!(node.log().contains("sink got #1: ONE SMALL STEP (3 words)"));

    let listed = r1_ok(&["actor", "list"], api);
    for name in ["hello", "counter", "sink", "transform", "source"] {
        assert!(listed.contains(name), "{listed}");
    }

    // SIGKILL right after an acknowledged write: the count and the deployments survive.
    let spec = node.kill();
    let node = spec.start();
    let api = Some(node.api.as_str());
    assert_eq!(r1_ok(&["send", "counter", "tick"], api), "4");
    assert_eq!(r1_ok(&["cstore", "get", "counter", "count"], api), "4");
    assert_eq!(r1_ok(&["send", "hello", "again"], api), "hello, again!");

    // A clean restart as well.
    let spec = node.terminate();
    let node = spec.start();
    let api = Some(node.api.as_str());
    assert_eq!(r1_ok(&["send", "counter", "tick"], api), "5");

    // Stopping forgets the deployment.
    r1_ok(&["actor", "stop", "hello"], api);
    let gone = r1(&["send", "hello", "x"], api);
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("no actor named \"hello\""));
}

#[test]
fn run_inspect_and_bad_input_from_the_cli() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().display().to_string();

    let out = r1_ok(
        &[
            "run",
            &p("hello"),
            "--data-dir",
            &data,
            "--send",
            "Ada",
            "--send",
            "Bob",
        ],
        None,
    );
    assert_eq!(out, "hello, Ada!\nhello, Bob!");

    let inspect = r1_ok(&["inspect", &p("counter")], None);
    assert!(inspect.contains("r1:cstore/store@0.1.0"), "{inspect}");
    assert!(
        inspect.contains("needs grants: cstore:<namespace>"),
        "{inspect}"
    );

    let garbage = root.path().join("garbage.wasm");
    std::fs::write(&garbage, b"\0asm\x0d\x00\x01\x00\x07\xff\xff\xff").unwrap();
    for args in [
        vec![
            "run",
            garbage.to_str().unwrap(),
            "--data-dir",
            &data,
            "--send",
            "x",
        ],
        vec!["inspect", garbage.to_str().unwrap()],
        vec!["run", "/no/such/file.wasm", "--send", "x"],
        vec!["run", &p("hello"), "--grant", "bogus", "--send", "x"],
    ] {
        let out = r1(&args, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn api_errors_are_clear() {
    let root = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&root.path().join("node"));
    let base = format!("http://{}", node.api);
    let http = node.http();

    let resp = http
        .put(format!("{base}/v1/actors/junk"))
        .body(b"not wasm at all".to_vec())
        .send()
        .unwrap();
    assert_eq!(resp.status(), 422);
    let body: serde_json::Value = resp.json().unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("not a WebAssembly file")
    );

    let resp = http
        .put(format!("{base}/v1/actors/bad%20name"))
        .body(std::fs::read(guest_path("hello")).unwrap())
        .send()
        .unwrap();
    assert_eq!(
        resp.status(),
        400,
        "a name outside the one rule is a bad request"
    );

    let resp = http
        .post(format!("{base}/v1/actors/ghost/request"))
        .body("x")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 404);

    let resp = http
        .get(format!("{base}/v1/cstore/nothing/here"))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[test]
fn pooling_falls_back_to_on_demand_when_address_space_is_short() {
    // 32 GiB of address space: far less than the pool reserves (hundreds of 4 GiB memory
    // slots), plenty for on-demand allocation. Small ARM boards hit the same wall.
    let root = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg("ulimit -v 33554432 && exec \"$0\" \"$@\"")
        .arg(r1_test_support::r1_bin())
        .args(["run", &p("hello"), "--send", "small board", "--data-dir"])
        .arg(root.path())
        .env("R1_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "hello, small board!"
    );
    assert!(
        stderr.contains("pooling allocator unavailable"),
        "expected the fallback warning: {stderr}"
    );
}

#[test]
fn r1fs_cli_round_trips_and_refuses_corrupt_blocks() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let data_s = data.to_str().unwrap().to_owned();
    let input = root.path().join("in.bin");
    let bytes: Vec<u8> = (0..(3 << 20) + 17)
        .map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&input, &bytes).unwrap();
    let cid = r1_ok(
        &["fs", "add", input.to_str().unwrap(), "--data-dir", &data_s],
        None,
    );
    assert!(cid.starts_with("bafk"), "{cid}");
    let out = root.path().join("out.bin");
    r1_ok(
        &[
            "fs",
            "get",
            &cid,
            "-o",
            out.to_str().unwrap(),
            "--data-dir",
            &data_s,
        ],
        None,
    );
    assert!(std::fs::read(&out).unwrap() == bytes);
    let stat = r1_ok(&["fs", "stat", &cid, "--data-dir", &data_s], None);
    assert!(stat.contains("chunks      4 (4 here)"), "{stat}");

    // Damage one stored chunk: get fails, names the corruption, leaves no output file.
    let blocks = data.join("fs/blocks");
    let mut damaged = false;
    for shard in std::fs::read_dir(&blocks).unwrap() {
        for block in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            let path = block.unwrap().path();
            let mut content = std::fs::read(&path).unwrap();
            if !damaged && content.len() == 1 << 20 {
                content[7] ^= 0x40;
                std::fs::write(&path, content).unwrap();
                damaged = true;
            }
        }
    }
    assert!(damaged);
    let bad_out = root.path().join("bad.bin");
    let res = r1(
        &[
            "fs",
            "get",
            &cid,
            "-o",
            bad_out.to_str().unwrap(),
            "--data-dir",
            &data_s,
        ],
        None,
    );
    assert!(!res.status.success());
    assert!(String::from_utf8_lossy(&res.stderr).contains("corrupted"));
    assert!(!bad_out.exists());
    assert!(!root.path().join("bad.r1fs-partial").exists());

    // Unpinned data is collected; pinned data is not.
    r1_ok(&["fs", "unpin", &cid, "--data-dir", &data_s], None);
    let gc = r1_ok(&["fs", "gc", "--data-dir", &data_s], None);
    assert!(
        gc.starts_with("removed ") && !gc.starts_with("removed 0"),
        "{gc}"
    );
    let gone = r1(&["fs", "stat", &cid, "--data-dir", &data_s], None);
    assert!(String::from_utf8_lossy(&gone.stderr).contains("not stored on this node"));
}
