//! `r1`: run wasm component actors, start a node, build and inspect components.

mod build;
mod client;
mod deploy;
mod epoch;
mod fl_demo;
mod fs_cli;
mod inspect;
mod node_cmd;
mod oci;
mod publish;
mod run;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use r1_node::config::{self, DEFAULT_API};
use r1_node::{node, token};

#[derive(Parser)]
#[command(
    name = "r1",
    version,
    about = "R1: a runtime where every workload is a capability-scoped WASI component actor",
    long_about = "R1 runs WebAssembly components as actors under wasmtime. An actor gets only \
                  what it is granted (--grant cstore:NS, --grant fs:DIR); everything else in \
                  WASI is there with nothing ambient.\n\nQuick tour:\n  r1 build examples/hello\n  \
                  r1 run hello.wasm --send Ada\n  r1 node            # a local node, API on 127.0.0.1:7411\n  \
                  r1 actor start hello.wasm\n  r1 send hello Ada"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one component in this process: an actor is sent messages and its replies printed;
    /// a command (wasi:cli/run) runs once with ARGS and the terminal, and its exit status is
    /// r1's.
    Run(RunArgs),
    /// Start a node on the embedded default (or --config FILE) and serve its HTTP API.
    Node(Box<NodeArgs>),
    /// Print a component's imports, exports and the grants it needs.
    Inspect {
        component: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Build actor crates into wasm32-wasip2 components (and sign them with --sign).
    Build {
        /// Actor crate directories (default: the current directory).
        paths: Vec<PathBuf>,
        /// Copy the components here.
        #[arg(long)]
        out_dir: Option<PathBuf>,
        /// Sign each component after building (name and version from its Cargo.toml).
        #[arg(long)]
        sign: bool,
        #[command(flatten)]
        signing: SignArgs,
    },
    /// Manage publisher keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// The node API's bearer token: where it is, print it, rotate it.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Sign a component (in place, or into --out) with a publisher key.
    Sign {
        component: PathBuf,
        #[command(flatten)]
        signing: SignArgs,
        /// Add a countersignature to an already signed component (claims unchanged).
        #[arg(long)]
        countersign: bool,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show a component's claims and check every signature.
    Verify {
        component: PathBuf,
        /// Also require the publisher to be in this trust file.
        #[arg(long)]
        trust: Option<PathBuf>,
    },
    /// Manage actors on a running node.
    #[command(subcommand)]
    Actor(ActorCommand),
    /// OracleSync epoch certificates: fetched from a node, checked offline with only the
    /// oracles' public keys.
    #[command(subcommand)]
    Epoch(EpochCommand),
    /// The epochs a node knows, newest first: certified (root, signatures, nodes), faulty (no
    /// certificate by the deadline) or open, with the oracle set.
    Epochs {
        /// How many epochs to list.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Send a message to an actor and print its reply: NAME (on whichever node runs it, this
    /// one first) or NODE/NAME (the actor on that node; `r1 actor where NAME` finds nodes).
    Send {
        actor: String,
        message: String,
        /// Queue the message and return without waiting for a reply.
        #[arg(long)]
        no_wait: bool,
        #[arg(long, default_value_t = 30_000)]
        timeout_ms: u64,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Deploy an app (a Deeploy spec, TOML; see docs/deeploy.md): validated, its `file`
    /// components added to R1FS, signed with your publisher key and submitted; then shows
    /// progress until every replica of the new version is placed and healthy (a rolling
    /// update: until the old version is gone), or --wait-s runs out.
    Deploy {
        /// The app spec.
        spec: PathBuf,
        /// Publisher key (default: $R1_KEY or ~/.config/r1/publisher.key).
        #[arg(long, env = "R1_KEY")]
        key: Option<PathBuf>,
        /// How long the signed request stays valid, in seconds (at most 600).
        #[arg(long, default_value_t = 300)]
        valid_s: u64,
        /// Seconds to wait for the app to converge (0: submit only).
        #[arg(long, default_value_t = 120)]
        wait_s: u64,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// The apps (desired state) a node holds.
    Apps {
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Manage one app.
    #[command(subcommand)]
    App(AppCommand),
    /// Publish a message on a topic of a running node.
    Publish {
        topic: String,
        message: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Read and write CSTORE on a running node.
    #[command(subcommand)]
    Cstore(CstoreCommand),
    /// OCI images and containers: the fallback for workloads that cannot be wasm components
    /// (see docs/oci.md). Sign an image layout with `r1 sign LAYOUT_DIR`.
    #[command(subcommand)]
    Oci(OciCommand),
    /// The node's mesh: status, blocking peers.
    #[command(subcommand)]
    Mesh(MeshCommand),
    /// Inference on a running node's models (one shared copy, batched, CPU or GPU).
    #[command(subcommand)]
    Infer(InferCommand),
    /// Federated learning with encrypted aggregation (EDIL): jobs and decryption.
    #[command(subcommand)]
    Fl(FlCommand),
    /// R1FS: content-addressed files on a running node (fetched from peers when missing), or
    /// offline on a data dir with --data-dir.
    Fs {
        #[command(subcommand)]
        command: FsCommand,
        /// Work on this data dir directly instead of through a running node.
        #[arg(long, global = true)]
        data_dir: Option<PathBuf>,
        /// The node's API address.
        #[arg(long, env = "R1_API", default_value = DEFAULT_API, global = true)]
        api: String,
    },
}

#[derive(Subcommand)]
enum EpochCommand {
    /// Check a certificate file: every signature from a listed oracle and valid, at least
    /// 2f + 1 of them, the figures hashing to the signed root. Exits non-zero otherwise.
    Verify {
        file: PathBuf,
        /// The oracles' public keys, one hex key per line (`#` comments).
        #[arg(long)]
        oracles: PathBuf,
        /// Faulty oracles tolerated (default ⌊(n − 1) / 3⌋ of the n listed).
        #[arg(long)]
        f: Option<usize>,
    },
    /// Print a certificate's figures, or one node's (`--node KEY`) with its Merkle proof
    /// checked. TARGET is a certificate file, or an epoch number fetched from the node and
    /// verified against the node's oracle set first.
    Show {
        target: String,
        #[arg(long)]
        node: Option<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Save epoch N's certificate from the node to a file (default `epoch-N.cert`), for
    /// `r1 epoch verify` anywhere.
    Get {
        epoch: u64,
        #[arg(short, long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Subcommand)]
enum OciCommand {
    /// Import an OCI image layout (a directory, or a tar of one): added to R1FS, every digest
    /// checked by the node; prints its digest (what app specs name) and R1FS cid.
    Import {
        layout: PathBuf,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// The images the node holds.
    Images {
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Start an imported image as container actor NAME (messages: `r1 send`; stop: `r1 actor
    /// stop`). Grants: fs:HOST_DIR[=GUEST_DIR], fs-ro:…, net.
    Run {
        name: String,
        /// The image's digest (sha256:…).
        image: String,
        #[arg(long = "grant")]
        grants: Vec<String>,
        /// Replaces the image's command (repeat for each argument).
        #[arg(long = "arg")]
        args: Vec<String>,
        /// Memory limit in MiB (default: the node's actor memory limit).
        #[arg(long)]
        memory_mb: Option<u64>,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Subcommand)]
enum FsCommand {
    /// Add a file (pinned unless --no-pin); prints its content id.
    Add {
        file: PathBuf,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        media_type: Option<String>,
        #[arg(long)]
        no_pin: bool,
    },
    /// Write a file to OUTPUT, verifying every chunk; nothing is left behind on failure.
    Get {
        cid: String,
        #[arg(long, short = 'o')]
        output: PathBuf,
    },
    /// Write a file to stdout.
    Cat { cid: String },
    /// Size, chunks, name, pins.
    Stat { cid: String },
    /// Add a pin (pinned files survive gc); --replicas K keeps K copies across the mesh.
    Pin {
        cid: String,
        #[arg(long)]
        replicas: Option<u32>,
    },
    /// Remove a pin.
    Unpin { cid: String },
    /// Pinned files.
    Ls,
    /// Remove every block no pinned file needs.
    Gc,
}

#[derive(Args, Clone)]
struct SignArgs {
    /// Secret key file (default: $R1_KEY or ~/.config/r1/publisher.key).
    #[arg(long)]
    key: Option<PathBuf>,
    /// TOML claims file: name, version, capabilities, expires_at / expires_in_days.
    #[arg(long)]
    claims: Option<PathBuf>,
    /// Component name in the claims (default: the file or crate name).
    #[arg(long = "claim-name")]
    name: Option<String>,
    /// Component version in the claims (default: the crate's, or 0.0.0).
    #[arg(long = "claim-version")]
    version: Option<String>,
    /// A capability the component requests: cstore, cstore:NS, fs:GUEST_DIR, fs-ro:GUEST_DIR.
    #[arg(long = "capability")]
    capabilities: Vec<String>,
    /// The claims expire this many days from now.
    #[arg(long)]
    expires_in_days: Option<u64>,
}

impl SignArgs {
    fn options(&self) -> publish::SignOptions {
        publish::SignOptions {
            key: self.key.clone(),
            claims: self.claims.clone(),
            name: self.name.clone(),
            version: self.version.clone(),
            capabilities: self.capabilities.clone(),
            expires_in_days: self.expires_in_days,
        }
    }
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create a publisher key pair (secret file mode 0600, public key next to it as .pub).
    New {
        /// Where to write the secret key (default: $R1_KEY or ~/.config/r1/publisher.key).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace an existing key file.
        #[arg(long)]
        force: bool,
    },
    /// Print a key's public half and fingerprint (secret or public key file).
    Show {
        #[arg(long)]
        key: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print the path of the token file.
    Path(TokenFileArgs),
    /// Print the token (hand it to another account as R1_API_TOKEN).
    Show(TokenFileArgs),
    /// Write a new token (0600; made if absent): a running node refuses the old one from its
    /// next request on.
    Rotate(TokenFileArgs),
}

#[derive(Args)]
struct TokenFileArgs {
    /// The node's data dir (default: $R1_DATA_DIR, else ~/.local/share/r1).
    #[arg(long, env = "R1_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The token file itself (overrides --data-dir; the node's --api-token-file).
    #[arg(long, env = "R1_API_TOKEN_FILE")]
    token_file: Option<PathBuf>,
}

impl TokenFileArgs {
    fn path(&self) -> PathBuf {
        self.token_file.clone().unwrap_or_else(|| {
            token::default_path(
                &self
                    .data_dir
                    .clone()
                    .unwrap_or_else(config::default_data_dir),
            )
        })
    }
}

#[derive(Args)]
struct ApiArgs {
    /// The node's API address (HOST:PORT, or https://HOST:PORT with R1_API_CA naming the PEM
    /// file of its certificate or CA). The bearer token is read from R1_API_TOKEN, else the
    /// file R1_API_TOKEN_FILE, else $R1_DATA_DIR/api.token (see `r1 token`).
    #[arg(long, env = "R1_API", default_value = DEFAULT_API)]
    api: String,
}

#[derive(Args)]
struct GrantArgs {
    /// Grant a capability (repeatable): cstore:NAMESPACE, fs:HOST_DIR[=GUEST_DIR],
    /// fs-ro:HOST_DIR[=GUEST_DIR], r1fs, r1fs-ro, infer[:MODEL], edil:JOB, edil-owner:JOB,
    /// mesh, http:HOST.
    #[arg(long = "grant", short = 'g')]
    grants: Vec<String>,
    /// Configuration, KEY=VALUE (repeatable): an actor's init gets it, and every component
    /// reads it through wasi:config/store.
    #[arg(long = "config", short = 'c')]
    config: Vec<String>,
}

impl GrantArgs {
    fn config_pairs(&self) -> Result<Vec<(String, String)>> {
        key_values("--config", &self.config)
    }
}

/// `KEY=VALUE` arguments of `flag` as pairs.
fn key_values(flag: &str, items: &[String]) -> Result<Vec<(String, String)>> {
    items
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .with_context(|| format!("{flag} {kv:?} is not KEY=VALUE"))
        })
        .collect()
}

#[derive(Args)]
struct RunArgs {
    /// An actor (exports r1:actor/handler: messages from --send or stdin, replies printed) or
    /// a command (exports wasi:cli/run: runs once with ARGS, the terminal's stdin, stdout and
    /// stderr, and `r1 run` exits with its exit status).
    component: PathBuf,
    /// Arguments for a command, after the component (argv[0] is its name).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
    /// An environment variable for a command, KEY=VALUE (repeatable; nothing else is passed).
    #[arg(long = "env", short = 'e')]
    env: Vec<String>,
    /// The actor's name (default: the file name).
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    grants: GrantArgs,
    /// A message to send (repeatable); without any, each line of stdin is a message.
    #[arg(long = "send", short = 's')]
    send: Vec<String>,
    /// Data directory (CSTORE, compiled-component cache).
    #[arg(long, env = "R1_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Memory limit of the actor in MiB.
    #[arg(long, default_value_t = 64)]
    memory_mb: usize,
    /// Deadline in milliseconds: of one message for an actor, of the whole run for a command.
    #[arg(long, default_value_t = 5_000)]
    deadline_ms: u64,
    /// Trust file of publisher keys (one per line).
    #[arg(long)]
    trust: Option<PathBuf>,
    /// Refuse unsigned or untrusted components (default: dev policy, which allows unsigned
    /// components and trusts your local publisher key).
    #[arg(long)]
    strict: bool,
}

#[derive(Args)]
struct NodeArgs {
    /// TOML configuration file (see README); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    #[arg(long, env = "R1_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Address of the HTTP API (default 127.0.0.1:7411; beyond loopback only with TLS).
    #[arg(long)]
    api: Option<std::net::SocketAddr>,
    /// The API's bearer token file (default DATA_DIR/api.token, made 0600 at first start).
    #[arg(long)]
    api_token_file: Option<PathBuf>,
    /// Another host name clients reach the API by (repeatable); requests naming any other
    /// Host than the API's own address or localhost are refused.
    #[arg(long = "api-host")]
    api_hosts: Vec<String>,
    /// Allow browser requests from this origin, e.g. https://dash.example (repeatable; CORS).
    #[arg(long = "api-cors-origin")]
    api_cors_origins: Vec<String>,
    /// Serve the API over TLS with this PEM certificate chain (with --api-tls-key).
    #[arg(long, requires = "api_tls_key")]
    api_tls_cert: Option<PathBuf>,
    /// The PEM private key of --api-tls-cert.
    #[arg(long, requires = "api_tls_cert")]
    api_tls_key: Option<PathBuf>,
    /// Join a mesh through this peer (HOST:PORT or multiaddr; repeatable).
    #[arg(long = "join")]
    join: Vec<String>,
    /// Where the mesh listens (HOST:PORT or multiaddr; repeatable; default 127.0.0.1:7400).
    #[arg(long = "mesh-listen")]
    mesh_listen: Vec<String>,
    /// RESP (Redis protocol) listener for CSTORE, or `off` (default 127.0.0.1:6380).
    #[arg(long)]
    resp: Option<String>,
    /// Where HTTP components are served (HOST:PORT), or `off` (default 127.0.0.1:7480).
    #[arg(long)]
    http: Option<String>,
    /// Admit this node key (hex) to the mesh (repeatable; sets the genesis allowlist).
    #[arg(long = "allow")]
    allow: Vec<String>,
    /// Discover peers on the LAN with mDNS.
    #[arg(long)]
    mdns: bool,
    /// Where models run: cpu, cuda, cuda:N or auto (default: the config's, else cpu).
    #[arg(long)]
    device: Option<String>,
    /// When CSTORE acknowledges a write: sync (on disk, the default), relaxed (written to the
    /// journal, synced within 1 s: a power loss may lose that second) or relaxed:MS.
    #[arg(long)]
    cstore_durability: Option<String>,
    /// Milliseconds between Deeploy heartbeats (default: the config's, else 1000); a node
    /// silent for three is failed over.
    #[arg(long)]
    heartbeat_ms: Option<u64>,
    /// Run Deeploy's scheduler system actor from this component
    /// (target/wasm/deeploy_scheduler.wasm after `make guests`).
    #[arg(long)]
    scheduler: Option<PathBuf>,
    /// A Deeploy tag this node advertises, KEY=VALUE (repeatable; for constraints and spread).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Memory offered to Deeploy replicas, MiB (default: what is available at start).
    #[arg(long)]
    memory_mb: Option<u64>,
}

#[derive(Subcommand)]
enum ActorCommand {
    /// Upload a component to the node and start it: an actor keeps taking messages; a
    /// command (wasi:cli/run) runs once as a job, its output in the node log and its exit
    /// status in `r1 actor status NAME`; an HTTP component (wasi:http/incoming-handler) is
    /// served on --route by the node's HTTP listener.
    Start {
        /// The component (.wasm).
        component: PathBuf,
        /// Its name on the node (default: the file name).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        grants: GrantArgs,
        /// A WASI argument after the program name (repeatable, in order).
        #[arg(long = "arg")]
        args: Vec<String>,
        /// A WASI environment variable, KEY=VALUE (repeatable; nothing else is passed).
        #[arg(long = "env", short = 'e')]
        env: Vec<String>,
        /// For an HTTP component (wasi:http/incoming-handler): the path prefix the node
        /// serves it on, on its HTTP listener (default /NAME).
        #[arg(long)]
        route: Option<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Stop an actor and forget its deployment.
    Stop {
        name: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// List the node's actors.
    List {
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Show one actor's status, restarts and last crash.
    Status {
        name: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Say which nodes of the mesh run an actor called NAME (this node first, then the
    /// others, one node id per line; exit status 1 when none does).
    Where {
        name: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// What the actor logged lately (stdout, stderr, its log events; the newest 500 lines).
    Logs {
        name: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Subcommand)]
enum AppCommand {
    /// Where the placement rule puts every app now (from fresh node adverts and the desired
    /// state): what the scheduler will place, and any shortfall.
    Plan {
        #[command(flatten)]
        api: ApiArgs,
    },
    /// One app: desired version, where each replica runs and its health, recent events.
    Show {
        /// The app's name (or OWNER/NAME when two owners use it).
        name: String,
        /// Print the JSON instead.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// The app's recent log lines from every replica, each tagged with its node and replica.
    Logs {
        /// The app's name (or OWNER/NAME).
        name: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Send a message to an app by name; a healthy replica on any node answers.
    Call {
        /// The app's name (or OWNER/NAME).
        name: String,
        /// The message (text).
        message: String,
        /// Which component (needed when the app has several).
        #[arg(long)]
        component: Option<String>,
        /// How long to wait for the reply, in milliseconds.
        #[arg(long, default_value_t = 30_000)]
        timeout_ms: u64,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Go back to the app's previous version (a signed request), and show it converge.
    Rollback {
        /// The app's name.
        name: String,
        /// Publisher key (default: $R1_KEY or ~/.config/r1/publisher.key).
        #[arg(long, env = "R1_KEY")]
        key: Option<PathBuf>,
        /// Seconds to wait for the app to converge (0: submit only).
        #[arg(long, default_value_t = 120)]
        wait_s: u64,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Remove an app you own (a signed request).
    Rm {
        /// The app's name.
        name: String,
        /// Publisher key (default: $R1_KEY or ~/.config/r1/publisher.key).
        #[arg(long, env = "R1_KEY")]
        key: Option<PathBuf>,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Subcommand)]
enum CstoreCommand {
    /// Print the value of KEY in NAMESPACE.
    Get {
        namespace: String,
        key: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Set KEY in NAMESPACE (durable when it returns; --min-acks waits for peers too).
    Set {
        namespace: String,
        key: String,
        value: String,
        /// Wait until this many peers hold it.
        #[arg(long, default_value_t = 0)]
        min_acks: usize,
        /// Sync it to disk before answering, even on a node whose CSTORE is `relaxed`.
        #[arg(long)]
        sync: bool,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Delete KEY in NAMESPACE.
    Del {
        namespace: String,
        key: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Set FIELD of hash KEY.
    Hset {
        namespace: String,
        key: String,
        field: String,
        value: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Print FIELD of hash KEY.
    Hget {
        namespace: String,
        key: String,
        field: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Print every field of hash KEY.
    Hgetall {
        namespace: String,
        key: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// List keys of NAMESPACE (optionally with a prefix).
    Keys {
        namespace: String,
        #[arg(default_value = "")]
        prefix: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Subcommand)]
enum FlCommand {
    /// Create a job owned by this node: a key pair (the secret stays here), the public key in
    /// R1FS, the job record in CSTORE.
    Create {
        job: String,
        /// A participant's node key (hex, `node_id` in `GET /v1/status`); repeatable.
        #[arg(long = "participant", required = true)]
        participants: Vec<String>,
        /// Values must lie in (-2^int_bits, 2^int_bits).
        #[arg(long)]
        int_bits: Option<u32>,
        /// Precision 2^-frac_bits.
        #[arg(long)]
        frac_bits: Option<u32>,
        /// Most updates one aggregate may sum.
        #[arg(long)]
        max_clients: Option<u32>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Show a job's record (from any node).
    Show {
        job: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Federated learning on the digits data across a local multi-node mesh: encrypted
    /// aggregation (EDIL) next to plaintext FedAvg, accuracy per round.
    Demo {
        /// Client nodes (one client actor each; at least 3).
        #[arg(long, default_value_t = 3)]
        clients: usize,
        #[arg(long, default_value_t = 10)]
        rounds: usize,
        /// Local epochs per round.
        #[arg(long, default_value_t = 20)]
        epochs: usize,
        /// The federated example component (default: $R1_GUEST_WASM_DIR or target/wasm).
        #[arg(long)]
        component: Option<PathBuf>,
        /// Directory holding digits.csv (default: $R1_DATASETS_DIR or ~/.cache/r1/datasets;
        /// `scripts/fetch-digits.sh` puts it there).
        #[arg(long)]
        datasets: Option<PathBuf>,
        /// Keep the nodes' data dirs and logs.
        #[arg(long)]
        keep: bool,
    },
    /// Decrypt an aggregate (only on the node holding the job's key); prints the values.
    Decrypt {
        job: String,
        aggregate: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Subcommand)]
enum InferCommand {
    /// Embed texts with a sentence-embedding model: one JSON array per text, in order.
    Embed {
        /// The texts (each argument is one text).
        #[arg(required = true)]
        texts: Vec<String>,
        #[arg(long, default_value = node::BUILTIN_EMBEDDER)]
        model: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// The models the node serves, whether each is loaded, and the device.
    Models {
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Subcommand)]
enum MeshCommand {
    /// This node's peer id, addresses, peers and drop counters.
    Status {
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Disconnect and refuse a peer until unblocked.
    Block {
        peer: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    Unblock {
        peer: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Every node's latest Deeploy advert (arch, cores, free memory, load) and how long ago it
    /// beat; a node whose age keeps growing has stopped.
    Nodes {
        #[command(flatten)]
        api: ApiArgs,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let default_filter = match cli.command {
        Command::Node(_) => "info",
        _ => "warn,r1::guest=info",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("R1_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        .init();
    match dispatch(cli.command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn dispatch(command: Command) -> Result<()> {
    match command {
        Command::Run(args) => {
            let code = run::run(args)?;
            if code != 0 {
                std::process::exit(code);
            }
            Ok(())
        }
        Command::Node(args) => node_cmd::run_node(*args),
        Command::Inspect { component, json } => inspect::inspect(&component, json),
        Command::Build {
            paths,
            out_dir,
            sign,
            signing,
        } => {
            let paths = if paths.is_empty() {
                vec![PathBuf::from(".")]
            } else {
                paths
            };
            for path in paths {
                let wasm = build::build(&path, out_dir.as_deref())?;
                if sign {
                    let (name, version) = publish::crate_identity(&path)?;
                    let mut opts = signing.options();
                    opts.name = opts.name.or(Some(name));
                    publish::sign(&wasm, &opts, false, None, &version)?;
                }
                println!("{}", wasm.display());
            }
            Ok(())
        }
        Command::Key(KeyCommand::New { out, force }) => publish::key_new(out, force),
        Command::Key(KeyCommand::Show { key }) => publish::key_show(key),
        Command::Token(TokenCommand::Path(args)) => {
            println!("{}", args.path().display());
            Ok(())
        }
        Command::Token(TokenCommand::Show(args)) => {
            println!("{}", token::read(&args.path())?);
            Ok(())
        }
        Command::Token(TokenCommand::Rotate(args)) => {
            let path = args.path();
            token::rotate(&path)?;
            println!("new API token in {}", path.display());
            Ok(())
        }
        Command::Sign {
            component,
            signing,
            countersign,
            out,
        } => {
            let dest = publish::sign(
                &component,
                &signing.options(),
                countersign,
                out.as_deref(),
                "0.0.0",
            )?;
            println!("signed {}", dest.display());
            Ok(())
        }
        Command::Verify { component, trust } => publish::verify(&component, trust.as_deref()),
        Command::Actor(cmd) => client::actor(cmd),
        Command::Epoch(EpochCommand::Verify { file, oracles, f }) => {
            epoch::verify(&file, &oracles, f)
        }
        Command::Epoch(EpochCommand::Show { target, node, api }) => {
            epoch::show(&target, node.as_deref(), &api.api)
        }
        Command::Epoch(EpochCommand::Get { epoch, out, api }) => {
            epoch::get(epoch, out.as_deref(), &api.api)
        }
        Command::Epochs { limit, api } => epoch::list(limit, &api.api),
        Command::Send {
            actor,
            message,
            no_wait,
            timeout_ms,
            api,
        } => client::send(&api.api, &actor, &message, no_wait, timeout_ms),
        Command::Publish {
            topic,
            message,
            api,
        } => client::publish(&api.api, &topic, &message),
        Command::Deploy {
            spec,
            key,
            valid_s,
            wait_s,
            api,
        } => {
            let valid = std::time::Duration::from_secs(valid_s);
            deploy::check_window(valid)?;
            let app = deploy::deploy(&api.api, &spec, key.as_deref(), valid)?;
            deploy::watch(&api.api, &app, std::time::Duration::from_secs(wait_s))
        }
        Command::Apps { api } => deploy::list(&api.api),
        Command::App(AppCommand::Plan { api }) => deploy::plan(&api.api),
        Command::App(AppCommand::Show { name, json, api }) => deploy::show(&api.api, &name, json),
        Command::App(AppCommand::Logs { name, api }) => deploy::logs(&api.api, &name),
        Command::App(AppCommand::Call {
            name,
            message,
            component,
            timeout_ms,
            api,
        }) => deploy::call(
            &api.api,
            &name,
            component.as_deref(),
            &message,
            std::time::Duration::from_millis(timeout_ms),
        ),
        Command::App(AppCommand::Rollback {
            name,
            key,
            wait_s,
            api,
        }) => {
            let app = deploy::rollback(&api.api, &name, key.as_deref())?;
            deploy::watch(&api.api, &app, std::time::Duration::from_secs(wait_s))
        }
        Command::App(AppCommand::Rm { name, key, api }) => {
            deploy::remove(&api.api, &name, key.as_deref())
        }
        Command::Cstore(cmd) => client::cstore(cmd),
        Command::Oci(cmd) => oci_command(cmd),
        Command::Mesh(cmd) => client::mesh(cmd),
        Command::Infer(cmd) => client::infer(cmd),
        Command::Fl(FlCommand::Demo {
            clients,
            rounds,
            epochs,
            component,
            datasets,
            keep,
        }) => {
            let options = fl_demo::DemoOptions {
                clients,
                rounds,
                epochs,
                component: component.unwrap_or_else(fl_demo::default_component),
                datasets: datasets.unwrap_or_else(fl_demo::default_datasets),
                keep,
            };
            fl_demo::run(&options).map(|_| ())
        }
        Command::Fl(cmd) => client::fl(cmd),
        Command::Fs {
            command,
            data_dir,
            api,
        } => match data_dir {
            Some(dir) => fs_cli::run(command, dir),
            None => fs_cli::remote(command, &api),
        },
    }
}

fn oci_command(cmd: OciCommand) -> Result<()> {
    match cmd {
        OciCommand::Import { layout, api } => {
            let client = r1_client::Client::connect(&api.api)?;
            let (digest, cid, signed) = oci::import(&client, &layout)?;
            println!("{digest}");
            eprintln!(
                "imported {} (R1FS {cid}){}",
                layout.display(),
                if signed { ", signed" } else { ", unsigned" }
            );
            Ok(())
        }
        OciCommand::Images { api } => {
            for image in r1_client::Client::connect(&api.api)?.oci_images()? {
                println!(
                    "{} {}",
                    image["digest"].as_str().unwrap_or("?"),
                    if image["signed"].as_bool() == Some(true) {
                        "signed"
                    } else {
                        "unsigned"
                    }
                );
            }
            Ok(())
        }
        OciCommand::Run {
            name,
            image,
            grants,
            args,
            memory_mb,
            api,
        } => {
            let info = r1_client::Client::connect(&api.api)?
                .oci_start(&name, &image, &grants, &args, memory_mb)?;
            println!("{}", serde_json::to_string_pretty(&info)?);
            Ok(())
        }
    }
}

/// The default actor name for a component file: its stem, made into a valid name.
fn name_from_path(path: &std::path::Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if name.is_empty() {
        "actor".into()
    } else {
        name
    }
}

fn read_component(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read component {}", path.display()))
}
