//! `r1 deploy APP.toml`, `r1 apps`, `r1 app rm NAME`: Deeploy requests, signed with the
//! publisher key (`r1 key new`), sent to a node. Components given as `file = "…"` are added to
//! R1FS first and the spec sent names them by content id (the signature covers that text).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use r1_client::Client;
use r1_deeploy::signed::{Action, SignedRequest};
use r1_deeploy::spec::AppSpec;
use r1_deeploy::state::AppView;
use r1_runtime::signing::keys;

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn signing_key(key: Option<&Path>) -> Result<ed25519_dalek::SigningKey> {
    let path = key.map_or_else(r1_node::config::default_key_path, Path::to_path_buf);
    keys::read_secret(&path).with_context(|| {
        format!(
            "cannot read the publisher key {} (make one with `r1 key new`)",
            path.display()
        )
    })
}

/// Adds every `file = "…"` component to R1FS and returns the spec text naming it by `cid`.
fn with_cids(client: &Client, text: &str, base: &Path) -> Result<String> {
    let mut doc: toml::Table = toml::from_str(text).context("the app spec is not TOML")?;
    let Some(components) = doc.get_mut("components").and_then(|c| c.as_array_mut()) else {
        return Ok(text.to_owned());
    };
    let mut changed = false;
    for component in components {
        let Some(table) = component.as_table_mut() else {
            continue;
        };
        let Some(file) = table
            .get("file")
            .and_then(|f| f.as_str())
            .map(str::to_owned)
        else {
            continue;
        };
        let path = base.join(&file);
        if table.get("kind").and_then(|k| k.as_str()) == Some("oci") {
            // An image layout (or a tar of one): imported on the node, named by cid and digest.
            let (digest, cid, _) = crate::oci::import(client, &path)?;
            eprintln!("added image {file} to R1FS as {cid} ({digest})");
            table.remove("file");
            table.insert("cid".into(), toml::Value::String(cid));
            table.insert("image".into(), toml::Value::String(digest));
            changed = true;
            continue;
        }
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let cid = crate::fs_cli::add_to_r1fs(client, &path, "application/wasm", bytes)?;
        eprintln!("added {file} to R1FS as {cid}");
        table.remove("file");
        table.insert("cid".into(), toml::Value::String(cid));
        changed = true;
    }
    Ok(if changed {
        toml::to_string(&doc)?
    } else {
        text.to_owned()
    })
}

/// `r1 deploy`: validates, adds files, signs and submits the spec; returns the app id.
pub fn deploy(api: &str, file: &Path, key: Option<&Path>, valid: Duration) -> Result<String> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    AppSpec::parse(&text)?; // refuse a bad spec before touching the node
    let client = Client::connect(api)?;
    let base = file.parent().unwrap_or(Path::new("."));
    let text = with_cids(&client, &text, base)?;
    let spec = AppSpec::parse(&text)?;
    let request = SignedRequest::sign(
        &signing_key(key)?,
        Action::Deploy,
        &spec.name,
        &text,
        now_s(),
        valid.as_secs(),
    )?;
    let desired = client.deeploy_submit(&request)?;
    let app = desired["app_id"].as_str().unwrap_or("?").to_owned();
    println!(
        "accepted {app} version {}",
        desired["version"].as_str().unwrap_or("?")
    );
    Ok(app)
}

/// `r1 app rollback NAME`: a signed rollback; returns the app id.
pub fn rollback(api: &str, name: &str, key: Option<&Path>) -> Result<String> {
    let request =
        SignedRequest::sign(&signing_key(key)?, Action::Rollback, name, "", now_s(), 120)?;
    let desired = Client::connect(api)?.deeploy_submit(&request)?;
    let app = desired["app_id"].as_str().unwrap_or(name).to_owned();
    println!(
        "rolling {app} back to version {}",
        desired["version"].as_str().unwrap_or("?")
    );
    Ok(app)
}

fn app_view(client: &Client, name: &str) -> Result<AppView> {
    serde_json::from_value(client.deeploy_app(name)?).context("the node's app view")
}

/// Shows an app converging on its desired version until it has, or `wait` runs out (0: not
/// at all). Progress is a bar on a terminal, a line per change otherwise.
pub fn watch(api: &str, app: &str, wait: Duration) -> Result<()> {
    if wait.is_zero() {
        return Ok(());
    }
    let client = Client::connect(api)?;
    let scheduled = client.deeploy_nodes()?.iter().any(|n| {
        n["advert"]["scheduler"] == true && n["age_ms"].as_u64().is_some_and(|age| age < 30_000)
    });
    if !scheduled {
        println!(
            "no node on this mesh runs a Deeploy scheduler (r1 node --scheduler): {app} waits in the desired state until one does"
        );
        return Ok(());
    }
    let started = std::time::Instant::now();
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos}/{len} replicas healthy {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut last = None;
    loop {
        let view = app_view(&client, app)?;
        let progress = view.progress();
        let version = view
            .desired
            .as_ref()
            .map_or("?".to_owned(), |d| d.version.clone());
        let mut note = format!("(version {version}");
        if progress.others > 0 {
            note += &format!(", {} old replica(s) still placed", progress.others);
        }
        if progress.short > 0 {
            note += &format!(
                ", {} replica(s) short: too few nodes qualify",
                progress.short
            );
        }
        note += ")";
        if let Some(why) = view.desired.as_ref().and_then(|d| d.reverted.clone()) {
            bar.finish_and_clear();
            bail!("{app} was reverted: {why}");
        }
        if bar.is_hidden() {
            if last != Some(progress) {
                println!(
                    "{}/{} replicas healthy {note}",
                    progress.healthy, progress.placed
                );
            }
        } else {
            bar.set_length(progress.placed as u64);
            bar.set_position(progress.healthy as u64);
            bar.set_message(note);
            bar.tick();
        }
        last = Some(progress);
        if progress.converged() {
            bar.finish_and_clear();
            println!(
                "{app} {version}: {} replica(s) healthy in {:.1} s",
                progress.healthy,
                started.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        if started.elapsed() >= wait {
            bar.finish_and_clear();
            bail!(
                "{app} has not converged after {} s ({}/{} healthy); see `r1 app show {app}`",
                wait.as_secs(),
                progress.healthy,
                progress.placed
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `r1 app show NAME`.
pub fn show(api: &str, name: &str, json: bool) -> Result<()> {
    let client = Client::connect(api)?;
    if json {
        println!("{:#}", client.deeploy_app(name)?);
        return Ok(());
    }
    let view = app_view(&client, name)?;
    match &view.desired {
        Some(d) => {
            println!("{}  version {}", d.app_id, d.version);
            if let Some(p) = &d.previous {
                println!(
                    "  previous version {} (r1 app rollback goes back to it)",
                    p.version
                );
            }
            if let Some(why) = &d.reverted {
                println!("  reverted: {why}");
            }
        }
        None => println!("{name}: removed (its replicas are being stopped)"),
    }
    let progress = view.progress();
    println!(
        "  {}/{} replicas of the desired version healthy{}",
        progress.healthy,
        progress.placed,
        if progress.others > 0 {
            format!(", {} of other versions", progress.others)
        } else {
            String::new()
        }
    );
    let Some(placement) = &view.placement else {
        println!("  not placed yet (is a scheduler running on the mesh?)");
        return Ok(());
    };
    println!(
        "  {:<16} {:<12} {:<10} {:<10} health",
        "component", "node", "version", "state"
    );
    for slot in &placement.slots {
        let replica = view
            .status
            .iter()
            .filter(|n| n.node == slot.node)
            .flat_map(|n| n.replicas.iter())
            .find(|r| r.component == slot.component && r.version == slot.version);
        let (state, health) = match replica {
            Some(r) if r.healthy => (r.state.clone(), "healthy".to_owned()),
            Some(r) => (
                r.state.clone(),
                r.detail.clone().unwrap_or_else(|| "not healthy yet".into()),
            ),
            None => ("-".into(), "no report yet".into()),
        };
        println!(
            "  {:<16} …{:<11} {:<10} {:<10} {health}",
            slot.component,
            r1_deeploy::scheduler::short_node(&slot.node),
            slot.version,
            state
        );
    }
    for (component, missing) in &placement.short {
        println!("  {component}: {missing} replica(s) short (too few nodes qualify)");
    }
    let mut components: Vec<&str> = placement
        .slots
        .iter()
        .map(|s| s.component.as_str())
        .collect();
    components.dedup();
    if !components.is_empty() {
        println!("  reach it by name from any node or actor (mesh grant):");
        for c in components {
            println!(
                "    {c}: {}",
                r1_deeploy::state::app_address(&placement.app, c)
            );
        }
    }
    if !placement.events.is_empty() {
        println!("  events:");
        for e in placement.events.iter().rev().take(12).rev() {
            println!("    {}  {}", clock(e.at_ms), e.text);
        }
    }
    Ok(())
}

/// `r1 app logs NAME`: `TIME …NODE INSTANCE LEVEL TEXT`, by time.
pub fn logs(api: &str, name: &str) -> Result<()> {
    let answer = Client::connect(api)?.app_logs(name)?;
    let lines = answer["lines"].as_array().cloned().unwrap_or_default();
    if lines.is_empty() {
        println!("no lines logged by {name}'s replicas yet");
    }
    for l in lines {
        let node = l["node"].as_str().unwrap_or("?");
        println!(
            "{}  …{}  {}  {:<5} {}",
            clock(l["at_ms"].as_u64().unwrap_or(0)),
            r1_deeploy::scheduler::short_node(node),
            l["instance"].as_str().unwrap_or("?"),
            l["level"].as_str().unwrap_or("?"),
            l["text"].as_str().unwrap_or("")
        );
    }
    for m in answer["missing"].as_array().cloned().unwrap_or_default() {
        eprintln!(
            "(lines of node {} missing: {})",
            m[0].as_str().unwrap_or("?"),
            m[1].as_str().unwrap_or("?")
        );
    }
    Ok(())
}

/// `HH:MM:SS.mmm` UTC of a unix-millisecond time.
pub fn clock(ms: u64) -> String {
    let s = ms / 1000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60,
        ms % 1000
    )
}

/// `r1 app call NAME MESSAGE`.
pub fn call(
    api: &str,
    name: &str,
    component: Option<&str>,
    message: &str,
    timeout: Duration,
) -> Result<()> {
    let reply =
        Client::connect(api)?.app_request(name, component, message.as_bytes().to_vec(), timeout)?;
    println!("{}", String::from_utf8_lossy(&reply));
    Ok(())
}

/// `r1 app rm NAME`: a signed remove.
pub fn remove(api: &str, name: &str, key: Option<&Path>) -> Result<()> {
    let request = SignedRequest::sign(&signing_key(key)?, Action::Remove, name, "", now_s(), 120)?;
    let removed = Client::connect(api)?.deeploy_submit(&request)?;
    println!("removed {}", removed["app_id"].as_str().unwrap_or(name));
    Ok(())
}

/// `r1 apps`: every app's desired state.
pub fn list(api: &str) -> Result<()> {
    let apps = Client::connect(api)?.deeploy_apps()?;
    if apps.is_empty() {
        println!("no apps");
    }
    for app in apps {
        println!(
            "{:<40} version {}",
            app["app_id"].as_str().unwrap_or("?"),
            app["version"].as_str().unwrap_or("?")
        );
    }
    Ok(())
}

/// `r1 app plan`: the placement rule applied now.
pub fn plan(api: &str) -> Result<()> {
    let plan = Client::connect(api)?.deeploy_plan()?;
    let placements = plan["placements"].as_array().cloned().unwrap_or_default();
    if placements.is_empty() {
        println!("nothing to place");
    }
    for p in placements {
        println!(
            "{:<40} {:<20} → {}",
            p["app"].as_str().unwrap_or("?"),
            p["component"].as_str().unwrap_or("?"),
            p["node"].as_str().unwrap_or("?")
        );
    }
    for short in plan["short"].as_array().cloned().unwrap_or_default() {
        println!(
            "{} {}: {} replica(s) have no node that fits",
            short[0].as_str().unwrap_or("?"),
            short[1].as_str().unwrap_or("?"),
            short[2]
        );
    }
    Ok(())
}

/// Refuses a validity window Deeploy would refuse anyway, with the reason.
pub fn check_window(valid: Duration) -> Result<()> {
    if valid.as_secs() == 0 || valid.as_secs() > r1_deeploy::signed::MAX_WINDOW_S {
        bail!(
            "--valid-s must be 1 to {} seconds",
            r1_deeploy::signed::MAX_WINDOW_S
        );
    }
    Ok(())
}
