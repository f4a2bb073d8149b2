//! `r1 fl demo`: federated learning with encrypted aggregation on a local multi-node mesh,
//! next to plaintext FedAvg on the same shards, rounds and seeds.
//!
//! Layout: node 0 owns the job (its secret key stays there) and runs the `owner` actor; nodes
//! 1..=K each run one `client` actor on their own shard; node 1 also runs the `aggregator`,
//! which sums the encrypted updates without any key. All nodes are `r1 node` processes of this
//! binary on 127.0.0.1, joined into one mesh; they are stopped when the demo ends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use r1_client::{Client, NewJob};

pub struct DemoOptions {
    pub clients: usize,
    pub rounds: usize,
    pub component: PathBuf,
    pub datasets: PathBuf,
    pub epochs: usize,
    pub keep: bool,
}

/// One round's test accuracies.
pub struct Round {
    pub encrypted: f32,
    pub plaintext: f32,
}

struct Nodes {
    children: Vec<Child>,
    apis: Vec<String>,
    /// The API token every node of the demo shares (`--api-token-file ROOT/api.token`).
    token: String,
    root: tempfile::TempDir,
    keep: bool,
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        if self.keep {
            let path = std::mem::replace(&mut self.root, tempfile::TempDir::new().expect("tmp"));
            eprintln!("node data and logs kept in {}", path.keep().display());
        }
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn start_nodes(count: usize, keep: bool) -> Result<Nodes> {
    let exe = std::env::current_exe().context("cannot find the r1 binary")?;
    let root = tempfile::Builder::new().prefix("r1-fl-demo.").tempdir()?;
    let token_file = root.path().join("api.token");
    let token = r1_node::token::ensure(&token_file)?;
    let mut nodes = Nodes {
        children: Vec::new(),
        apis: Vec::new(),
        token,
        root,
        keep,
    };
    // Every node dials every earlier one: R1FS fetches go straight to the node holding a file.
    let mut meshes: Vec<u16> = Vec::new();
    for i in 0..count {
        let (api, mesh) = (free_port()?, free_port()?);
        let dir = nodes.root.path().join(format!("node{i}"));
        let log = std::fs::File::create(nodes.root.path().join(format!("node{i}.log")))?;
        let mut cmd = Command::new(&exe);
        cmd.args([
            "node",
            "--api",
            &format!("127.0.0.1:{api}"),
            "--resp",
            "off",
            "--http",
            "off",
        ])
        .arg("--data-dir")
        .arg(&dir)
        .arg("--api-token-file")
        .arg(&token_file)
        .args(["--mesh-listen", &format!("127.0.0.1:{mesh}")])
        .stdout(Stdio::null())
        .stderr(log);
        for earlier in &meshes {
            cmd.args(["--join", &format!("127.0.0.1:{earlier}")]);
        }
        meshes.push(mesh);
        nodes
            .children
            .push(cmd.spawn().context("cannot start a node")?);
        nodes.apis.push(format!("127.0.0.1:{api}"));
    }
    for api in &nodes.apis {
        let client = Client::with_token(api, Some(nodes.token.clone()))?;
        wait_for(
            &format!("node {api} to start"),
            Duration::from_secs(60),
            || Ok(client.status().is_ok()),
        )?;
    }
    Ok(nodes)
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> Result<bool>) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        if matches!(ok(), Ok(true)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The demo's nodes, one client each.
struct Mesh {
    clients: Vec<Client>,
}

impl Mesh {
    fn deploy(
        &self,
        node: usize,
        name: &str,
        wasm: &[u8],
        grants: &[String],
        config: &[String],
    ) -> Result<()> {
        let config: Vec<(String, String)> = config
            .iter()
            .filter_map(|c| c.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        self.clients[node]
            .start_actor(name, wasm.to_vec(), grants, &config)
            .with_context(|| format!("cannot start {name} on node {node}"))?;
        Ok(())
    }

    /// Asks an actor; retried for a while, since files and job records reach other nodes
    /// asynchronously.
    fn ask(&self, node: usize, actor: &str, message: &str) -> Result<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let reply = self.clients[node].request(
                actor,
                message.as_bytes().to_vec(),
                Duration::from_secs(120),
            );
            match reply {
                Ok(r) => return Ok(String::from_utf8_lossy(&r).trim().to_owned()),
                Err(e) if Instant::now() < deadline => {
                    tracing::debug!(actor, "retrying: {e:#}");
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => {
                    return Err(
                        anyhow::Error::new(e).context(format!("{actor} on node {node}: {message}"))
                    );
                }
            }
        }
    }
}

fn split2(reply: &str) -> Result<(String, String)> {
    let mut parts = reply.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(a), Some(b)) => Ok((a.to_owned(), b.to_owned())),
        _ => bail!("unexpected reply {reply:?}"),
    }
}

/// Runs the demo and returns the per-round accuracies (also printed). On failure the nodes'
/// data dirs and logs are kept, and the error says where.
pub fn run(options: &DemoOptions) -> Result<Vec<Round>> {
    let mut nodes = None;
    let result = run_on(options, &mut nodes);
    if let (Err(_), Some(nodes)) = (&result, nodes.as_mut()) {
        nodes.keep = true;
    }
    result
}

fn run_on(options: &DemoOptions, started: &mut Option<Nodes>) -> Result<Vec<Round>> {
    if options.clients < 3 {
        bail!(
            "the demo needs at least 3 clients (got {})",
            options.clients
        );
    }
    let wasm = std::fs::read(&options.component).with_context(|| {
        format!(
            "cannot read {} (build it: r1 build examples/federated --out-dir target/wasm)",
            options.component.display()
        )
    })?;
    let data = options.datasets.join("digits.csv");
    if !data.is_file() {
        bail!(
            "no {} (fetch it: bash scripts/fetch-digits.sh)",
            data.display()
        );
    }
    let data_dir = std::path::absolute(&options.datasets)?;
    let k = options.clients;
    eprintln!("starting {} nodes…", k + 1);
    let nodes = started.insert(start_nodes(k + 1, options.keep)?);
    let mesh = Mesh {
        clients: nodes
            .apis
            .iter()
            .map(|api| Client::with_token(api, Some(nodes.token.clone())))
            .collect::<Result<_, _>>()?,
    };
    let mut participants = Vec::new();
    for client in &mesh.clients[1..] {
        let status = client.status()?;
        participants.push(status["node_id"].as_str().context("node_id")?.to_owned());
    }
    let job = "digits";
    let spec = NewJob {
        participants,
        int_bits: Some(3),
        frac_bits: Some(24),
        max_clients: Some(8),
    };
    mesh.clients[0]
        .create_job(job, &spec)
        .context("cannot create the job")?;
    for client in &mesh.clients[1..] {
        wait_for(
            "the job record to replicate",
            Duration::from_secs(30),
            || Ok(client.job(job).is_ok()),
        )?;
    }

    let data_grant = format!("fs-ro:{}=/data", data_dir.display());
    let common = |role: &str| {
        vec![
            format!("role={role}"),
            format!("job={job}"),
            format!("epochs={}", options.epochs),
        ]
    };
    mesh.deploy(
        0,
        "owner",
        &wasm,
        &[
            format!("edil-owner:{job}"),
            "r1fs".into(),
            data_grant.clone(),
        ],
        &common("owner"),
    )?;
    for c in 0..k {
        let mut config = common("client");
        config.extend([format!("shard={c}"), format!("shards={k}")]);
        mesh.deploy(
            c + 1,
            "client",
            &wasm,
            &[format!("edil:{job}"), "r1fs".into(), data_grant.clone()],
            &config,
        )?;
    }
    // The component imports r1:fs for its other roles; the aggregator may only read.
    mesh.deploy(
        1,
        "aggregator",
        &wasm,
        &[format!("edil:{job}"), "r1fs-ro".into()],
        &common("aggregator"),
    )?;

    println!("round  encrypted (EDIL)  plaintext FedAvg  difference");
    let (mut global, mut global_plain) = ("init".to_owned(), "init".to_owned());
    let mut rounds = Vec::new();
    for round in 1..=options.rounds {
        let updates = (0..k)
            .map(|c| mesh.ask(c + 1, "client", &format!("train {round} {global}")))
            .collect::<Result<Vec<_>>>()?;
        let (aggregate, clients) = split2(&mesh.ask(
            1,
            "aggregator",
            &format!("aggregate {round} {}", updates.join(" ")),
        )?)?;
        let (next, accuracy) =
            split2(&mesh.ask(0, "owner", &format!("apply {global} {aggregate} {clients}"))?)?;
        global = next;

        let changes = (0..k)
            .map(|c| {
                mesh.ask(
                    c + 1,
                    "client",
                    &format!("train-plain {round} {global_plain}"),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let (next, accuracy_plain) = split2(&mesh.ask(
            0,
            "owner",
            &format!("apply-plain {global_plain} {}", changes.join(" ")),
        )?)?;
        global_plain = next;

        let r = Round {
            encrypted: accuracy.parse()?,
            plaintext: accuracy_plain.parse()?,
        };
        println!(
            "{round:>5}  {:>15.2}%  {:>15.2}%  {:>+9.2} pp",
            r.encrypted * 100.0,
            r.plaintext * 100.0,
            (r.encrypted - r.plaintext) * 100.0
        );
        rounds.push(r);
    }
    println!(
        "{k} clients on {k} nodes, aggregator without a key on node 1, owner on node 0; job key: \
         LWE n=2048 compact public key, updates at 2^-24 precision."
    );
    Ok(rounds)
}

/// Where `r1 build` put the example by default.
pub fn default_component() -> PathBuf {
    std::env::var_os("R1_GUEST_WASM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/wasm"))
        .join("federated.wasm")
}

pub fn default_datasets() -> PathBuf {
    std::env::var_os("R1_DATASETS_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/r1/datasets")))
        .unwrap_or_else(|| PathBuf::from("datasets"))
}
