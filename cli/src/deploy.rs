//! `r1 deploy APP.toml`, `r1 apps`, `r1 app rm NAME`: Deeploy requests, signed with the
//! publisher key (`r1 key new`), sent to a node. Components given as `file = "…"` are added to
//! R1FS first and the spec sent names them by content id (the signature covers that text).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use r1_client::Client;
use r1_deeploy::signed::{Action, SignedRequest};
use r1_deeploy::spec::AppSpec;
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
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let size = bytes.len() as u64;
        let added = client.fs_add(
            path.file_name().map(|n| n.to_string_lossy().into_owned()),
            Some("application/wasm".into()),
            std::io::Cursor::new(bytes),
            Some(size),
            |_| {},
        )?;
        let cid = added["cid"]
            .as_str()
            .context("the node answered no cid")?
            .to_owned();
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

/// `r1 deploy`: validates, adds files, signs and submits the spec.
pub fn deploy(api: &str, file: &Path, key: Option<&Path>, valid: Duration) -> Result<()> {
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
    println!(
        "accepted {} version {}",
        desired["app_id"].as_str().unwrap_or("?"),
        desired["version"].as_str().unwrap_or("?")
    );
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
