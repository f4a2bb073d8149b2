//! Components built for the standard worlds, unchanged: a `wasi:cli/command` (stock
//! `fn main` + plain wit-bindgen, no R1 SDK) run by `r1 run` with the terminal's streams and
//! its exit status, and on a node as a job; `wasi:keyvalue` through a `cstore:` grant,
//! `wasi:config` and `wasi:logging` observed; nothing ambient.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use r1_client::Start;
use r1_test_support::{NodeProcess, eventually, guest, guest_path, r1_bin};

const COMMAND: &str = "guest-std-command";

/// `r1 run` of the test command with `flags` before the component and `args` after it,
/// `stdin` piped in; R1_LOG=info so guest log events show on stderr.
fn run(data_dir: &Path, flags: &[&str], args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(r1_bin())
        .arg("run")
        .arg("--data-dir")
        .arg(data_dir)
        .args(flags)
        .arg(guest_path(COMMAND))
        .args(args)
        .env("R1_LOG", "info")
        .env("HOME", "/home/ambient")
        .env("SECRET", "ambient")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn r1 run");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("r1 run")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_command_reads_and_writes_keyvalue_through_a_cstore_grant_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let grant = ["--grant", "cstore:jobs"];
    let set = run(dir.path(), &grant, &["set", "greeting", "hello"], "");
    assert_eq!(set.status.code(), Some(0), "{}", stderr(&set));
    assert_eq!(stdout(&set), "stored\n");
    let get = run(dir.path(), &grant, &["get", "greeting"], "");
    assert_eq!(get.status.code(), Some(0), "{}", stderr(&get));
    assert_eq!(stdout(&get), "greeting=hello\n");
    // Another namespace sees nothing: the grant scopes the bucket.
    let other = run(
        dir.path(),
        &["--grant", "cstore:other"],
        &["get", "greeting"],
        "",
    );
    assert_eq!(stdout(&other), "greeting absent\n");
    // The terminal's stdin reaches it.
    let echo = run(dir.path(), &grant, &["echo"], "line one\nline two\n");
    assert_eq!(stdout(&echo), "line one\nline two\n");
}

#[test]
fn a_failing_or_trapping_commands_exit_status_reaches_r1_run() {
    let dir = tempfile::tempdir().unwrap();
    let grant = ["--grant", "cstore:jobs"];
    let fail = run(dir.path(), &grant, &["fail"], "");
    assert_eq!(fail.status.code(), Some(1));
    assert!(
        stderr(&fail).contains("failing on purpose"),
        "{}",
        stderr(&fail)
    );
    // WASI 0.2's `exit` carries only success or failure (`exit-with-code` is not stable), so
    // the guest's exit(2) arrives as a failure, 1 — as under `wasmtime run`.
    let unknown = run(dir.path(), &grant, &["nonsense"], "");
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains("unknown verb"),
        "{}",
        stderr(&unknown)
    );
    let trap = run(dir.path(), &grant, &["trap"], "");
    assert_eq!(trap.status.code(), Some(134), "a crash exits like an abort");
    assert!(stderr(&trap).contains("crashed: trap"), "{}", stderr(&trap));
}

#[test]
fn a_command_without_the_grant_is_refused_before_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &[], &["set", "k", "v"], "");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(
            "imports `wasi:keyvalue/store@0.2.0-draft2`, which needs grant `cstore:<namespace>`"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), "", "nothing ran");
}

#[test]
fn config_logging_args_and_env_are_what_was_given_and_nothing_ambient() {
    let dir = tempfile::tempdir().unwrap();
    let flags = [
        "--grant",
        "cstore:jobs",
        "--config",
        "mode=fast",
        "--env",
        "GIVEN=yes",
    ];
    assert_eq!(
        stdout(&run(dir.path(), &flags, &["config", "mode"], "")),
        "fast\n"
    );
    assert_eq!(
        stdout(&run(dir.path(), &flags, &["config", "other"], "")),
        "absent\n"
    );
    assert_eq!(
        stdout(&run(dir.path(), &flags, &["env", "GIVEN"], "")),
        "yes\n"
    );
    for ambient in ["HOME", "SECRET"] {
        assert_eq!(
            stdout(&run(dir.path(), &flags, &["env", ambient], "")),
            "absent\n",
            "{ambient} leaked from the host"
        );
    }
    assert_eq!(
        stdout(&run(dir.path(), &flags, &["args", "-x", "two words"], "")),
        format!("{COMMAND}|args|-x|two words\n")
    );
    let logged = run(dir.path(), &flags, &["log", "a-line-for-the-log"], "");
    assert_eq!(stdout(&logged), "logged\n");
    let log_line = stderr(&logged)
        .lines()
        .find(|l| l.contains("a-line-for-the-log"))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no log event:\n{}", stderr(&logged)));
    assert!(
        log_line.contains("r1::guest") && log_line.contains("std-command"),
        "{log_line}"
    );
}

#[test]
fn on_a_node_a_command_runs_once_as_a_job_with_its_exit_status_recorded() {
    let root = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&root.path().join("n"));
    let client = node.client();
    let grants = vec!["cstore:jobs".to_string()];
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let start = |name: &str, grants: &[String], a: &[&str]| {
        client.start_with(
            name,
            guest(COMMAND),
            &Start {
                grants,
                args: &args(a),
                ..Start::default()
            },
        )
    };
    let started = start("writer", &grants, &["set", "from-job", "42"]).unwrap();
    assert_eq!(started["kind"], "command");
    let status = eventually("the job exits", Duration::from_secs(30), || {
        let info = client.actor("writer").ok()?;
        (info["status"]["state"] == "exited").then_some(info)
    });
    assert_eq!(status["status"]["code"], 0);
    assert_eq!(client.cstore_get("jobs", "from-job").unwrap(), b"42");
    start("failer", &grants, &["fail"]).unwrap();
    eventually("the failing job's status", Duration::from_secs(30), || {
        let info = client.actor("failer").ok()?;
        (info["status"]["code"] == 1).then_some(())
    });
    // Its output went to the node log, attributed to it.
    eventually(
        "the job's stderr is in the node log",
        Duration::from_secs(10),
        || {
            node.log()
                .lines()
                .any(|l| l.contains("failing on purpose") && l.contains("failer"))
                .then_some(())
        },
    );
    // Without the grant, refused before it runs.
    let refused = start("nogrant", &[], &["fail"]).unwrap_err().to_string();
    assert!(
        refused.contains("needs grant `cstore:<namespace>`"),
        "{refused}"
    );
    // A finished job is removed like an actor.
    client.stop_actor("writer").unwrap();
    assert!(client.actor("writer").is_err());
}

/// A node with its HTTP listener on a free port; returns it and `http://127.0.0.1:PORT`.
fn http_node(root: &Path) -> (NodeProcess, String) {
    let port = r1_test_support::free_port();
    let node = r1_test_support::NodeSpec::new(&root.join("n"))
        .arg("--http")
        .arg(&format!("127.0.0.1:{port}"))
        .start();
    (node, format!("http://127.0.0.1:{port}"))
}

fn get(url: &str) -> (u16, String) {
    let response = r1_test_support::anonymous_http()
        .get(url)
        .timeout(Duration::from_secs(30))
        .send()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    (status, response.text().unwrap_or_default())
}

#[test]
fn an_http_component_answers_on_its_route_and_a_trapping_request_does_not_stop_it() {
    let root = tempfile::tempdir().unwrap();
    let (node, base) = http_node(root.path());
    let client = node.client();
    let started = client
        .start_with(
            "hello",
            guest("http_hello"),
            &Start {
                route: Some("/hello"),
                ..Start::default()
            },
        )
        .unwrap();
    assert_eq!(started["kind"], "http");
    assert_eq!(
        get(&format!("{base}/hello/there")),
        (200, "hello from wasm (/hello/there)\n".into())
    );
    // Not under any route (a whole-segment prefix): 404, and no API token involved.
    assert_eq!(get(&format!("{base}/hellox")).0, 404);
    // The probe (granted outgoing HTTP to this listener only) traps on /trap: 500, and the
    // next request is served by a fresh instance.
    let authority = base.trim_start_matches("http://").to_owned();
    let grants = vec![format!("http:{authority}")];
    client
        .start_with(
            "probe",
            guest("guest_http_probe"),
            &Start {
                grants: &grants,
                route: Some("/probe"),
                ..Start::default()
            },
        )
        .unwrap();
    let (status, body) = get(&format!("{base}/probe/trap"));
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("trap"), "{body}");
    assert_eq!(
        get(&format!("{base}/probe/x")),
        (200, "hello from wasm".into())
    );
    // Outgoing HTTP to the granted host works (here: back to the hello component)...
    assert_eq!(
        get(&format!("{base}/probe/fetch/{authority}/hello/via")),
        (200, "fetched 200: hello from wasm (/hello/via)\n".into())
    );
    // ...and to any other host is refused at send time.
    let (status, body) = get(&format!("{base}/probe/fetch/127.0.0.1:9/x"));
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("HttpRequestDenied"), "{body}");
    // Importing outgoing-handler without any http: grant is refused before instantiation.
    let refused = client
        .start_with(
            "ungranted",
            guest("guest_http_probe"),
            &Start {
                route: Some("/ungranted"),
                ..Start::default()
            },
        )
        .unwrap_err()
        .to_string();
    assert!(refused.contains("needs grant `http:<host>`"), "{refused}");
    // A route belongs to one component; a route is only for HTTP components.
    let taken = client
        .start_with(
            "again",
            guest("http_hello"),
            &Start {
                route: Some("/hello"),
                ..Start::default()
            },
        )
        .unwrap_err()
        .to_string();
    assert!(
        taken.contains("route /hello is served by \"hello\""),
        "{taken}"
    );
    // Stopped: its route is gone.
    client.stop_actor("hello").unwrap();
    assert_eq!(get(&format!("{base}/hello/there")).0, 404);
}
