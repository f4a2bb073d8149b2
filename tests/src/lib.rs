//! Helpers for the end-to-end tests: run the real `r1` binary, start nodes on loopback and
//! talk to them through the CLI and the HTTP API, the way a user does.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `r1` binary next to this test's own build output (`cargo build -p r1-node` first;
/// `make test` does).
pub fn r1_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("R1_BIN") {
        return bin.into();
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/r1
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("r1"))
        .expect("target dir");
    assert!(
        bin.exists(),
        "{} is missing: build it first with `cargo build -p r1-node` (make test does)",
        bin.display()
    );
    bin
}

/// A guest component built by `scripts/build-guests.sh`.
pub fn guest_path(name: &str) -> PathBuf {
    let dir = std::env::var_os("R1_GUEST_WASM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wasm"));
    let path = dir.join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: run `make guests` (make test does)",
        path.display()
    );
    path
}

/// Runs `r1 ARGS...` to completion.
pub fn r1(args: &[&str], api: Option<&str>) -> Output {
    let mut cmd = Command::new(r1_bin());
    cmd.args(args).env("R1_LOG", "warn");
    if let Some(api) = api {
        cmd.env("R1_API", api);
    }
    cmd.output().expect("run r1")
}

/// Runs `r1 ARGS...`, asserts success and returns trimmed stdout.
pub fn r1_ok(args: &[&str], api: Option<&str>) -> String {
    let out = r1(args, api);
    assert!(
        out.status.success(),
        "r1 {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// How to (re)start one node: its data dir, its ports and extra flags.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    pub data_dir: PathBuf,
    pub api_port: u16,
    pub mesh_port: u16,
    pub resp_port: u16,
    pub args: Vec<String>,
}

impl NodeSpec {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_owned(),
            api_port: free_port(),
            mesh_port: free_port(),
            resp_port: free_port(),
            args: Vec::new(),
        }
    }

    /// Adds `--join` this other node's mesh address.
    pub fn join(mut self, other: &NodeSpec) -> Self {
        self.args.push("--join".into());
        self.args.push(other.mesh_addr());
        self
    }

    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn mesh_addr(&self) -> String {
        format!("127.0.0.1:{}", self.mesh_port)
    }

    pub fn start(&self) -> NodeProcess {
        NodeProcess::launch(self.clone())
    }
}

/// A `r1 node` child process on loopback ports with its own data dir.
pub struct NodeProcess {
    pub api: String,
    pub data_dir: PathBuf,
    pub spec: NodeSpec,
    child: Option<Child>,
    log: PathBuf,
}

impl NodeProcess {
    pub fn start(data_dir: &Path) -> Self {
        NodeSpec::new(data_dir).start()
    }

    fn launch(spec: NodeSpec) -> Self {
        let api = format!("127.0.0.1:{}", spec.api_port);
        let log = spec
            .data_dir
            .with_extension(format!("{}.log", spec.api_port));
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("node log");
        let child = Command::new(r1_bin())
            .args(["node", "--api", &api, "--data-dir"])
            .arg(&spec.data_dir)
            .args(["--mesh-listen", &spec.mesh_addr()])
            .args(["--resp", &format!("127.0.0.1:{}", spec.resp_port)])
            .args(&spec.args)
            .env("R1_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawn r1 node");
        let node = Self {
            api,
            data_dir: spec.data_dir.clone(),
            spec,
            child: Some(child),
            log,
        };
        node.wait_ready();
        node
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = format!("http://{}/v1/status", self.api);
        while Instant::now() < deadline {
            if reqwest::blocking::get(&url).is_ok_and(|r| r.status().is_success()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("node never became ready; log:\n{}", self.log());
    }

    /// The node's process id (for /proc measurements).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET a JSON document from the node's API.
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        reqwest::blocking::get(format!("http://{}{path}", self.api))
            .and_then(|r| r.json())
            .unwrap_or(serde_json::Value::Null)
    }

    /// SIGKILL: no chance to flush or shut down.
    pub fn kill(mut self) -> NodeSpec {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.spec.clone()
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(mut self) -> NodeSpec {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(status)) = child.try_wait() {
                    assert!(status.success(), "node exited with {status}");
                    return self.spec.clone();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            panic!("node did not stop on SIGTERM");
        }
        self.spec.clone()
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Three nodes on loopback: A, B joining A, C joining both (data dirs `root/{a,b,c}`).
pub fn three_nodes(root: &Path) -> (NodeProcess, NodeProcess, NodeProcess) {
    let a = NodeSpec::new(&root.join("a")).start();
    let b = NodeSpec::new(&root.join("b")).join(&a.spec).start();
    let c = NodeSpec::new(&root.join("c"))
        .join(&a.spec)
        .join(&b.spec)
        .start();
    (a, b, c)
}

/// Polls `probe` until it returns `Some`, for at most `limit`; panics with `what` otherwise.
/// (A bound on waiting, not a speed assertion.)
pub fn eventually<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
