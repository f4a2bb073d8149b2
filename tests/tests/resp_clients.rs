//! Real Redis clients, on their defaults, against a node's RESP listener: redis-py 8 (PyPI;
//! negotiates RESP3 with `HELLO 3`, pipelines through MULTI/EXEC, scans with integer
//! cursors) and node-redis 5 (npm). `make clients` (part of `make test`) installs them under
//! `$R1_CLIENTS_DIR` (default `~/.cache/r1/clients`); the scripts are in `tests/clients/`.

use std::path::PathBuf;
use std::process::Command;

use r1_test_support::NodeSpec;

fn clients_dir() -> PathBuf {
    std::env::var_os("R1_CLIENTS_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/r1/clients")))
        .expect("R1_CLIENTS_DIR or HOME")
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("clients")
        .join(name)
}

/// Runs a client script against `port`; asserts it printed `ok`.
fn drive(mut command: Command, what: &str) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e} (run `make clients`)"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("ok"),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn redis_py_and_node_redis_work_on_their_defaults() {
    let dir = clients_dir();
    let python = dir.join("venv/bin/python");
    let npm = dir.join("npm");
    assert!(
        python.exists() && npm.join("node_modules/redis").exists(),
        "the Redis clients are missing under {}: run `make clients` (make test does)",
        dir.display()
    );
    let root = tempfile::tempdir().unwrap();
    let spec = NodeSpec::new(&root.path().join("a"));
    let port = spec.resp_port.to_string();
    let _node = spec.start();
    let mut py = Command::new(&python);
    py.arg(script("redis_py.py")).arg(&port);
    drive(py, "redis-py");
    let mut js = Command::new("node");
    js.arg(script("node_redis.mjs"))
        .arg(&port)
        .env("R1_NPM_CLIENTS", &npm);
    drive(js, "node-redis");
}
