//! The CLI's side of the node API, over `r1-client`: `r1 actor …`, `r1 send`, `r1 publish`,
//! `r1 cstore …`, `r1 mesh …`, `r1 infer …`, `r1 fl create|show|decrypt`. This module only
//! turns commands into client calls and answers into text.

use std::time::Duration;

use anyhow::Result;
use r1_client::{Client, NewJob};
use serde_json::Value;

use crate::{
    ActorCommand, CstoreCommand, FlCommand, InferCommand, MeshCommand, name_from_path,
    read_component,
};

fn print_json(value: &Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn print_bytes(bytes: &[u8]) {
    println!("{}", String::from_utf8_lossy(bytes));
}

pub fn actor(cmd: ActorCommand) -> Result<()> {
    match cmd {
        ActorCommand::Start {
            component,
            name,
            grants,
            args,
            env,
            route,
            api,
        } => {
            let wasm = read_component(&component)?;
            let name = name.unwrap_or_else(|| name_from_path(&component));
            let config = grants.config_pairs()?;
            let env = crate::key_values("--env", &env)?;
            let started = Client::connect(&api.api)?.start_with(
                &name,
                wasm,
                &r1_client::Start {
                    grants: &grants.grants,
                    config: &config,
                    args: &args,
                    env: &env,
                    route: route.as_deref(),
                },
            )?;
            print_json(&started)
        }
        ActorCommand::Stop { name, api } => {
            Client::connect(&api.api)?.stop_actor(&name)?;
            println!("stopped {name}");
            Ok(())
        }
        ActorCommand::List { api } => {
            let actors = Client::connect(&api.api)?.actors()?;
            if actors.is_empty() {
                println!("no actors");
            }
            for a in actors {
                let state = match (a["status"]["state"].as_str(), a["status"]["code"].as_i64()) {
                    (Some("exited"), Some(code)) => format!("exited({code})"),
                    (state, _) => state.unwrap_or("?").to_owned(),
                };
                println!(
                    "{:<24} {:<12} restarts={:<3} grants=[{}]",
                    a["name"].as_str().unwrap_or("?"),
                    state,
                    a["restarts"],
                    a["grants"]
                        .as_array()
                        .map(|g| g
                            .iter()
                            .filter_map(|x| x.as_str())
                            .collect::<Vec<_>>()
                            .join(", "))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
        ActorCommand::Status { name, api } => print_json(&Client::connect(&api.api)?.actor(&name)?),
        ActorCommand::Logs { name, api } => {
            for line in Client::connect(&api.api)?.actor_logs(&name)? {
                println!(
                    "{}  {:<5} {}",
                    crate::deploy::clock(line["at_ms"].as_u64().unwrap_or(0)),
                    line["level"].as_str().unwrap_or("?"),
                    line["text"].as_str().unwrap_or("")
                );
            }
            Ok(())
        }
        ActorCommand::Where { name, api } => {
            let found = Client::connect(&api.api)?.locate(&name)?;
            let nodes: Vec<&str> = found["nodes"]
                .as_array()
                .map(|n| n.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if nodes.is_empty() {
                anyhow::bail!("no node of the mesh runs an actor called {name:?}");
            }
            for node in nodes {
                println!("{node}");
            }
            Ok(())
        }
    }
}

pub fn send(api: &str, actor: &str, message: &str, no_wait: bool, timeout_ms: u64) -> Result<()> {
    let client = Client::connect(api)?;
    if no_wait {
        client.send(actor, message.as_bytes().to_vec())?;
        return Ok(());
    }
    let reply = client.request(
        actor,
        message.as_bytes().to_vec(),
        Duration::from_millis(timeout_ms),
    )?;
    print_bytes(&reply);
    Ok(())
}

pub fn publish(api: &str, topic: &str, message: &str) -> Result<()> {
    print_json(&Client::connect(api)?.publish(topic, message.as_bytes().to_vec())?)
}

pub fn cstore(cmd: CstoreCommand) -> Result<()> {
    match cmd {
        CstoreCommand::Get {
            namespace,
            key,
            api,
        } => print_bytes(&Client::connect(&api.api)?.cstore_get(&namespace, &key)?),
        CstoreCommand::Set {
            namespace,
            key,
            value,
            min_acks,
            sync,
            api,
        } => {
            let version = Client::connect(&api.api)?.cstore_set(
                &namespace,
                &key,
                value.into_bytes(),
                min_acks,
                sync,
            )?;
            println!("OK (version {version})");
        }
        CstoreCommand::Del {
            namespace,
            key,
            api,
        } => {
            let existed = Client::connect(&api.api)?.cstore_delete(&namespace, &key)?;
            println!("{}", if existed { "deleted" } else { "absent" });
        }
        CstoreCommand::Hset {
            namespace,
            key,
            field,
            value,
            api,
        } => {
            let new =
                Client::connect(&api.api)?.hset(&namespace, &key, &field, value.into_bytes())?;
            println!("{}", if new { "new field" } else { "updated" });
        }
        CstoreCommand::Hget {
            namespace,
            key,
            field,
            api,
        } => print_bytes(&Client::connect(&api.api)?.hget(&namespace, &key, &field)?),
        CstoreCommand::Hgetall {
            namespace,
            key,
            api,
        } => {
            for (field, value) in Client::connect(&api.api)?.hgetall(&namespace, &key)? {
                println!("{field}\t{}", value.as_str().unwrap_or_default());
            }
        }
        CstoreCommand::Keys {
            namespace,
            prefix,
            api,
        } => {
            let client = Client::connect(&api.api)?;
            let mut cursor: Option<String> = None;
            loop {
                let page = client.cstore_keys(&namespace, &prefix, cursor.as_deref(), 1000)?;
                for key in &page.keys {
                    println!("{key}");
                }
                match page.cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
        }
    }
    Ok(())
}

pub fn mesh(cmd: MeshCommand) -> Result<()> {
    match cmd {
        MeshCommand::Nodes { api } => {
            let nodes = Client::connect(&api.api)?.deeploy_nodes()?;
            println!(
                "{:<54} {:<8} {:>5} {:>9} {:>5} {:>8}",
                "node", "arch", "cores", "free MiB", "load", "age ms"
            );
            for n in nodes {
                let a = &n["advert"];
                let num = |v: &Value| v.as_u64().map_or("?".to_owned(), |n| n.to_string());
                println!(
                    "{:<54} {:<8} {:>5} {:>9} {:>5} {:>8}",
                    a["node"].as_str().unwrap_or("?"),
                    a["arch"].as_str().unwrap_or("?"),
                    num(&a["cores"]),
                    num(&a["free_memory_mb"]),
                    num(&a["load"]),
                    num(&n["age_ms"])
                );
            }
            Ok(())
        }
        MeshCommand::Status { api } => print_json(&Client::connect(&api.api)?.mesh()?),
        MeshCommand::Block { peer, api } => {
            Client::connect(&api.api)?.block_peer(&peer, true)?;
            println!("blocked {peer}");
            Ok(())
        }
        MeshCommand::Unblock { peer, api } => {
            Client::connect(&api.api)?.block_peer(&peer, false)?;
            println!("unblocked {peer}");
            Ok(())
        }
    }
}

pub fn infer(cmd: InferCommand) -> Result<()> {
    match cmd {
        InferCommand::Embed { texts, model, api } => {
            for vector in Client::connect(&api.api)?.embed(&model, &texts)? {
                println!("{}", serde_json::to_string(&vector)?);
            }
            Ok(())
        }
        InferCommand::Models { api } => {
            let answer = Client::connect(&api.api)?.models()?;
            println!("device: {}", answer["device"].as_str().unwrap_or("?"));
            let models = answer["models"].as_array().cloned().unwrap_or_default();
            if models.is_empty() {
                println!(
                    "no models (run scripts/fetch-models.sh, or add [infer.models.NAME] to the config)"
                );
            }
            for m in models {
                println!(
                    "{:<24} {:<20} {:<8} users={:<3} {}",
                    m["name"].as_str().unwrap_or("?"),
                    m["kind"].as_str().unwrap_or("?"),
                    if m["loaded"].as_bool() == Some(true) {
                        "loaded"
                    } else {
                        "-"
                    },
                    m["users"],
                    m["source"].as_str().unwrap_or("")
                );
            }
            Ok(())
        }
    }
}

pub fn fl(cmd: FlCommand) -> Result<()> {
    match cmd {
        FlCommand::Create {
            job,
            participants,
            int_bits,
            frac_bits,
            max_clients,
            api,
        } => {
            let spec = NewJob {
                participants,
                int_bits,
                frac_bits,
                max_clients,
            };
            print_json(&Client::connect(&api.api)?.create_job(&job, &spec)?)
        }
        // The demo drives several nodes of its own (`fl_demo`); main dispatches it.
        FlCommand::Demo { .. } => anyhow::bail!("`r1 fl demo` is run by fl_demo, not the client"),
        FlCommand::Show { job, api } => print_json(&Client::connect(&api.api)?.job(&job)?),
        FlCommand::Decrypt {
            job,
            aggregate,
            api,
        } => {
            let values = Client::connect(&api.api)?.decrypt(&job, &aggregate)?;
            println!("{}", serde_json::to_string(&values)?);
            Ok(())
        }
    }
}
