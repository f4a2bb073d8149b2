//! `r1 run`: one actor in this process, messages sent to it, replies printed.

use std::io::BufRead;
use std::time::Duration;

use anyhow::{Context, Result};
use r1_node::config;
use r1_node::node;
use r1_runtime::{ActorLimits, ActorSpec, Grants, Runtime};

use crate::{RunArgs, name_from_path, read_component};

/// Runs the actor of `args` and prints its replies to the messages given (or stdin's lines).
pub fn run(args: RunArgs) -> Result<()> {
    let wasm = read_component(&args.component)?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| name_from_path(&args.component));
    let grants = Grants::parse(&args.grants.grants)?;
    let config = args.grants.config_pairs()?;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(config::default_data_dir);
    let policy = node::trust_policy(!args.strict, args.trust.as_deref(), &[])?;
    let limits = ActorLimits {
        max_memory_bytes: args.memory_mb << 20,
        deadline: Duration::from_millis(args.deadline_ms),
        ..ActorLimits::default()
    };
    let messages: Vec<String> = if args.send.is_empty() {
        std::io::stdin()
            .lock()
            .lines()
            .collect::<Result<_, _>>()
            .context("cannot read stdin")?
    } else {
        args.send.clone()
    };
    actix::System::new().block_on(async move {
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("cannot create {}", data_dir.display()))?;
        let cstore = if grants.cstore.is_some() {
            Some(node::open_cstore(&data_dir, node::node_key(&data_dir)?)?)
        } else {
            None
        };
        let mut rt_config = r1_runtime::RuntimeConfig {
            workers: 1,
            ..Default::default()
        };
        rt_config.default_limits = limits;
        let mut builder = Runtime::builder(rt_config, policy).cache_dir(data_dir.join("cache"));
        if let Some(store) = cstore {
            builder = builder.key_value(std::sync::Arc::new(store));
        }
        let runtime = builder.build()?;
        let result = async {
            runtime
                .spawn(ActorSpec {
                    name: name.clone(),
                    wasm,
                    grants,
                    config,
                    limits: Some(limits),
                })
                .await?;
            for message in messages {
                let reply = runtime
                    .request(&name, message.into_bytes(), limits.deadline * 2)
                    .await?;
                if let Some(reply) = reply {
                    println!("{}", String::from_utf8_lossy(&reply));
                }
            }
            anyhow::Ok(())
        }
        .await;
        runtime.shutdown().await;
        result
    })
}
