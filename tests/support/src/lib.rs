//! What every test and benchmark shares: guest components (`make guests` builds them), free
//! loopback ports, the model and dataset dirs (`make models datasets` fill them), and real
//! `r1` binaries and `r1 node` processes to talk to through the CLI and the HTTP API, the way
//! a user does.
//!
//! The node API needs its bearer token: [`NodeProcess::http`] sends it, and [`r1`] hands the
//! CLI the token file of the node whose API it is given (`R1_API_TOKEN_FILE`).

#![warn(missing_docs)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Token files of the nodes started by this test process, by API address.
fn token_files() -> &'static Mutex<HashMap<String, PathBuf>> {
    static FILES: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    FILES.get_or_init(Default::default)
}

/// The token file of the node serving `api`, if this process started it.
pub fn token_file_of(api: &str) -> Option<PathBuf> {
    token_files()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(api)
        .cloned()
}

/// A blocking HTTP client builder with TLS ready (the aws-lc-rs provider the node uses).
pub fn http_builder() -> reqwest::blocking::ClientBuilder {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::blocking::Client::builder()
}

/// A client that sends no token: what a stranger's request looks like.
pub fn anonymous_http() -> reqwest::blocking::Client {
    http_builder().build().expect("http client")
}

/// The `r1` binary next to this test's own build output (`cargo build -p r1-cli` first;
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
        "{} is missing: build it first with `cargo build -p r1-cli` (make test does)",
        bin.display()
    );
    bin
}

/// Where the guest components are: `$R1_GUEST_WASM_DIR`, else the workspace's `target/wasm`.
pub fn guest_dir() -> PathBuf {
    std::env::var_os("R1_GUEST_WASM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/wasm"))
}

/// A guest component built by `scripts/build-guests.sh` (e.g. `hello`, `guest_looper`).
pub fn guest_path(name: &str) -> PathBuf {
    let path = guest_dir().join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: run `make guests` (make test does)",
        path.display()
    );
    path
}

/// The bytes of guest component `name`.
pub fn guest(name: &str) -> Vec<u8> {
    let path = guest_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A cache dir under `$VAR`, else `~/.cache/r1/SUB` (the convention the fetch scripts and
/// the node's defaults follow).
fn cache_dir(var: &str, sub: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/r1").join(sub)))
        .unwrap_or_else(|| panic!("set {var} or HOME"))
}

/// The models `scripts/fetch-models.sh` fetched (`$R1_MODELS_DIR`).
pub fn models_dir() -> PathBuf {
    cache_dir("R1_MODELS_DIR", "models")
}

/// The all-MiniLM-L6-v2 model directory, which must be there (`make models`).
pub fn minilm_dir() -> PathBuf {
    let dir = models_dir().join("all-minilm-l6-v2");
    assert!(
        dir.join("model.safetensors").is_file(),
        "{} has no model: run `make models` (make test does)",
        dir.display()
    );
    dir
}

/// The data sets `scripts/fetch-digits.sh` fetched (`$R1_DATASETS_DIR`).
pub fn datasets_dir() -> PathBuf {
    let dir = cache_dir("R1_DATASETS_DIR", "datasets");
    assert!(
        dir.is_dir(),
        "{} is missing: run `make datasets` (make test does)",
        dir.display()
    );
    dir
}

/// Runs `r1 ARGS...` to completion.
pub fn r1(args: &[&str], api: Option<&str>) -> Output {
    let mut cmd = Command::new(r1_bin());
    cmd.args(args)
        .env("R1_LOG", "warn")
        .env_remove("R1_API_TOKEN")
        .env_remove("R1_API_TOKEN_FILE");
    if let Some(api) = api {
        cmd.env("R1_API", api);
        if let Some(file) = token_file_of(api) {
            cmd.env("R1_API_TOKEN_FILE", file);
        }
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

/// A loopback TCP port that was free a moment ago (nothing holds it for the caller).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// How to (re)start one node: its data dir, its ports and extra flags.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// The node's data dir (`--data-dir`).
    pub data_dir: PathBuf,
    /// The HTTP API's loopback port (`--api`).
    pub api_port: u16,
    /// The mesh's loopback port (`--mesh-listen`).
    pub mesh_port: u16,
    /// The RESP listener's loopback port (`--resp`).
    pub resp_port: u16,
    /// More arguments for `r1 node`, after those above.
    pub args: Vec<String>,
}

impl NodeSpec {
    /// A node under `data_dir` on three free loopback ports, with no extra arguments.
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

    /// Adds one argument to `r1 node`'s command line.
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.into());
        self
    }

    /// The mesh's `127.0.0.1:PORT`, for other nodes to join.
    pub fn mesh_addr(&self) -> String {
        format!("127.0.0.1:{}", self.mesh_port)
    }

    /// The node's API token file: `--api-token-file` if given, else the data dir's.
    pub fn token_file(&self) -> PathBuf {
        self.args
            .iter()
            .position(|a| a == "--api-token-file")
            .and_then(|i| self.args.get(i + 1))
            .map(PathBuf::from)
            .unwrap_or_else(|| self.data_dir.join("api.token"))
    }

    /// Starts `r1 node` with this spec and waits until its API is up (at most 60 s).
    pub fn start(&self) -> NodeProcess {
        NodeProcess::launch(self.clone())
    }
}

/// A `r1 node` child process on loopback ports with its own data dir.
pub struct NodeProcess {
    /// The API address, `127.0.0.1:PORT`.
    pub api: String,
    /// The node's data dir.
    pub data_dir: PathBuf,
    /// The API token (read from the node's token file once it is up).
    pub token: String,
    /// How it was started; start it again with [`NodeSpec::start`].
    pub spec: NodeSpec,
    child: Option<Child>,
    log: PathBuf,
}

impl NodeProcess {
    /// Starts a node under `data_dir` on fresh ports ([`NodeSpec::new`], then start).
    pub fn start(data_dir: &Path) -> Self {
        NodeSpec::new(data_dir).start()
    }

    /// Starts the node; when a port picked free was taken by someone else before the node
    /// bound it (another test's node, an outgoing connection), it starts again on fresh ports
    /// (at most three times): the spec returned carries the ports it really uses.
    fn launch(mut spec: NodeSpec) -> Self {
        for _ in 0..3 {
            let mut node = Self::spawn(spec.clone());
            if node.wait_ready() {
                return node.ready();
            }
            if !node.log().contains("Address already in use") {
                panic!("node exited before it was ready; log:\n{}", node.log());
            }
            eprintln!("a port was taken before the node bound it; starting it on fresh ports");
            spec.api_port = free_port();
            spec.mesh_port = free_port();
            spec.resp_port = free_port();
        }
        panic!("node never found free ports");
    }

    fn spawn(spec: NodeSpec) -> Self {
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
            .args(http_off(&spec.args))
            .args(&spec.args)
            .env("R1_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawn r1 node");
        Self {
            api,
            data_dir: spec.data_dir.clone(),
            token: String::new(),
            spec,
            child: Some(child),
            log,
        }
    }

    /// A node whose API answers: its token read and recorded.
    fn ready(mut self) -> Self {
        let node = &mut self;
        let file = node.spec.token_file();
        node.token = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("no API token at {}: {e}", file.display()))
            .trim()
            .to_owned();
        token_files()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(node.api.clone(), file);
        self
    }

    /// Waits until the API answers (true) or the process exits first (false); panics after
    /// 60 s of neither.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = r1_client::Client::with_token(&self.api, None).expect("client");
        while Instant::now() < deadline {
            if client.healthy() {
                return true;
            }
            if let Some(child) = self.child.as_mut()
                && matches!(child.try_wait(), Ok(Some(_)))
            {
                self.child = None;
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("node never became ready; log:\n{}", self.log());
    }

    /// The typed client for this node, with its token.
    pub fn client(&self) -> r1_client::Client {
        r1_client::Client::with_token(&self.api, Some(self.token.clone())).expect("client")
    }

    /// A raw HTTP client that sends this node's API token (for tests of the HTTP layer).
    pub fn http(&self) -> reqwest::blocking::Client {
        self.http_builder().build().expect("http client")
    }

    /// A client builder that sends this node's API token (for timeouts and the like).
    pub fn http_builder(&self) -> reqwest::blocking::ClientBuilder {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {}", self.token)
                .parse()
                .expect("token header"),
        );
        http_builder().default_headers(headers)
    }

    /// `http://API` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.api)
    }

    /// The node's process id (for /proc measurements).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The node's log so far (its stderr); empty if it cannot be read.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET a JSON document from the node's API.
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        self.http()
            .get(self.url(path))
            .send()
            .and_then(|r| r.json())
            .unwrap_or(serde_json::Value::Null)
    }

    /// The node's mesh peer id (from `/v1/status`).
    pub fn peer_id(&self) -> String {
        self.get_json("/v1/status")["peer_id"]
            .as_str()
            .expect("a peer id in /v1/status")
            .to_owned()
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

/// A node spec under `root/name` whose identity key is made first, and that key in hex (for
/// `--allow`, the genesis allowlist).
pub fn keyed_node(root: &Path, name: &str) -> (NodeSpec, String) {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("node dir");
    let key = dir.join("node.key");
    r1_ok(&["key", "new", "--out", &key.to_string_lossy()], None);
    let public = std::fs::read_to_string(dir.join("node.key.pub")).expect("node.key.pub");
    let hex = public
        .split_whitespace()
        .last()
        .expect("a key in node.key.pub")
        .to_owned();
    (NodeSpec::new(&dir), hex)
}

/// Three nodes for admission tests: A and B admit only each other (`--allow`, B joins A), D is
/// on no allowlist (it admits everyone) and joins A.
pub fn allowlisted_trio(root: &Path) -> (NodeProcess, NodeProcess, NodeProcess) {
    let (spec_a, key_a) = keyed_node(root, "a");
    let (spec_b, key_b) = keyed_node(root, "b");
    let (spec_d, _) = keyed_node(root, "d");
    let allow = |spec: NodeSpec| spec.arg("--allow").arg(&key_a).arg("--allow").arg(&key_b);
    let a = allow(spec_a).start();
    let b = allow(spec_b).join(&a.spec).start();
    let d = spec_d.join(&a.spec).start();
    (a, b, d)
}

/// `--http off` unless the spec sets `--http` itself (the default port would be shared by
/// every node the tests start).
fn http_off(args: &[String]) -> &'static [&'static str] {
    if args.iter().any(|a| a == "--http") {
        &[]
    } else {
        &["--http", "off"]
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

/// The `q` quantile (0..=1) of `samples` (sorted here), nearest rank: what the benchmark
/// drivers report.
pub fn quantile(samples: &mut [f64], q: f64) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    if samples.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
    samples[rank - 1]
}
