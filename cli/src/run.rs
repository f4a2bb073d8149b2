//! `r1 run`: one component in this process. An actor is sent messages and its replies are
//! printed; a command runs once with the terminal's streams and its exit status is returned.

use std::io::BufRead;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use r1_node::config;
use r1_node::node;
use r1_runtime::{ActorLimits, ActorSpec, Grants, Io, JobExit, Runtime};

use crate::{RunArgs, name_from_path, read_component};

/// Runs the component of `args`: an actor gets the messages given (or stdin's lines) and its
/// replies are printed; a command runs once. Returns the exit status for the process.
pub fn run(args: RunArgs) -> Result<i32> {
    let wasm = read_component(&args.component)?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| name_from_path(&args.component));
    let grants = Grants::parse(&args.grants.grants)?;
    let config = args.grants.config_pairs()?;
    let env = crate::key_values("--env", &args.env)?;
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
        let spec = ActorSpec {
            name: name.clone(),
            wasm,
            grants,
            config,
            limits: Some(limits),
        };
        let result = async {
            let report = runtime.inspect(spec.wasm.clone()).await?;
            if report.is_command && !report.is_actor {
                if !args.send.is_empty() {
                    bail!("{name} is a command (wasi:cli/run): give it arguments, not --send");
                }
                let io = Io {
                    inherit_stdio: true,
                    args: args.args.clone(),
                    env,
                };
                let exit = runtime.run_job(spec, io).await?;
                if let JobExit::Crashed(reason) = &exit {
                    eprintln!("error: {name} crashed: {reason}");
                }
                return Ok(exit.code());
            }
            if !args.args.is_empty() || !env.is_empty() {
                bail!("{name} is an actor: send it messages with --send (arguments and --env are for commands)");
            }
            runtime.spawn(spec).await?;
            let messages: Vec<String> = if args.send.is_empty() {
                std::io::stdin()
                    .lock()
                    .lines()
                    .collect::<Result<_, _>>()
                    .context("cannot read stdin")?
            } else {
                args.send.clone()
            };
            for message in messages {
                let reply = runtime
                    .request(&name, message.into_bytes(), limits.deadline * 2)
                    .await?;
                if let Some(reply) = reply {
                    println!("{}", String::from_utf8_lossy(&reply));
                }
            }
            Ok(0)
        }
        .await;
        runtime.shutdown().await;
        result
    })
}
