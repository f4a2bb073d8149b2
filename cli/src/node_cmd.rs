//! `r1 node`: the configuration file and flags made into a `NodeConfig`, then the node served
//! (`r1_node::server::serve`).

use anyhow::{Context, Result};
use r1_node::config::{self, NodeConfig};

use crate::NodeArgs;

/// Builds the node's configuration from `args` and serves it until SIGINT/SIGTERM.
pub fn run_node(args: NodeArgs) -> Result<()> {
    let mut config = NodeConfig::load(args.config.as_deref())?;
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    if let Some(api) = args.api {
        config.api = api;
    }
    if let Some(path) = args.api_token_file {
        config.api_token_file = Some(path);
    }
    config.api_hosts.extend(args.api_hosts);
    config.api_cors_origins.extend(args.api_cors_origins);
    if let (Some(cert), Some(key)) = (args.api_tls_cert, args.api_tls_key) {
        config.api_tls = Some(config::ApiTls { cert, key });
    }
    if !args.join.is_empty() {
        config.mesh.bootstrap.extend(args.join);
    }
    if !args.mesh_listen.is_empty() {
        config.mesh.listen = args.mesh_listen;
    }
    if !args.allow.is_empty() {
        config.mesh.allowlist.extend(args.allow);
    }
    config.mesh.mdns |= args.mdns;
    if let Some(device) = args.device {
        config.infer.device = device;
    }
    match args.resp.as_deref() {
        None => {}
        Some("off") => config.mesh.resp = None,
        Some(addr) => {
            config.mesh.resp = Some(
                addr.parse()
                    .with_context(|| format!("--resp {addr:?} is not HOST:PORT or off"))?,
            )
        }
    }
    if let Some(mode) = &args.cstore_durability {
        // Checked where it is used (the node says which setting is wrong).
        config.mesh.cstore_durability = mode.clone();
    }
    if let Some(ms) = args.heartbeat_ms {
        config.deeploy.heartbeat_ms = ms.max(50);
    }
    if let Some(path) = &args.scheduler {
        anyhow::ensure!(
            path.is_file(),
            "--scheduler {}: no such file (build it with `make guests`)",
            path.display()
        );
        config.deeploy.scheduler = Some(path.clone());
    }
    for tag in &args.tags {
        let (key, value) = tag
            .split_once('=')
            .with_context(|| format!("--tag {tag:?} is not KEY=VALUE"))?;
        config.deeploy.tags.insert(key.to_owned(), value.to_owned());
    }
    if let Some(mb) = args.memory_mb {
        config.deeploy.memory_mb = Some(mb);
    }
    match args.http.as_deref() {
        None => {}
        Some("off") => config.http = None,
        Some(addr) => {
            config.http = Some(
                addr.parse()
                    .with_context(|| format!("--http {addr:?} is not HOST:PORT or off"))?,
            )
        }
    }
    r1_node::server::serve(config)
}
