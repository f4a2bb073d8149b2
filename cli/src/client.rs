//! The CLI's side of the HTTP API: `r1 actor …`, `r1 send`, `r1 publish`, `r1 cstore get`.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use reqwest::blocking::{Client, Response};

use crate::{
    ActorCommand, CstoreCommand, FlCommand, InferCommand, MeshCommand, name_from_path,
    read_component,
};

fn client(timeout: Duration) -> Result<Client> {
    Ok(blocking_builder()?.timeout(timeout).build()?)
}

/// Environment variable naming the PEM file of the certificate (or CA) an `https://` API
/// presents.
pub(crate) const API_CA_ENV: &str = "R1_API_CA";

/// The headers every request to the node carries: its bearer token when one is found
/// (`R1_API_TOKEN`, `R1_API_TOKEN_FILE`, the data dir's `api.token`).
fn auth_headers() -> Result<reqwest::header::HeaderMap> {
    bearer(r1_node::token::client_token()?)
}

/// `Authorization: Bearer TOKEN` (nothing for `None`), marked sensitive.
pub(crate) fn bearer(token: Option<String>) -> Result<reqwest::header::HeaderMap> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .context("the API token is not a valid header value")?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    Ok(headers)
}

/// TLS roots for an `https://` API: the certificates in `R1_API_CA` (none: plain HTTP only).
fn tls_config() -> Result<Option<rustls::ClientConfig>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let Some(path) = std::env::var_os(API_CA_ENV).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let path = std::path::PathBuf::from(path);
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&path)
        .with_context(|| format!("cannot read {API_CA_ENV} file {}", path.display()))?
    {
        roots
            .add(cert.with_context(|| format!("bad certificate in {}", path.display()))?)
            .with_context(|| format!("unusable certificate in {}", path.display()))?;
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(Some(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// A blocking client set up for the node: token header, TLS roots.
pub(crate) fn blocking_builder() -> Result<reqwest::blocking::ClientBuilder> {
    let mut builder = Client::builder().default_headers(auth_headers()?);
    if let Some(tls) = tls_config()? {
        builder = builder.use_preconfigured_tls(tls);
    }
    Ok(builder)
}

/// An async client set up for the node: token header, TLS roots.
pub(crate) fn async_builder() -> Result<reqwest::ClientBuilder> {
    let mut builder = reqwest::Client::builder().default_headers(auth_headers()?);
    if let Some(tls) = tls_config()? {
        builder = builder.use_preconfigured_tls(tls);
    }
    Ok(builder)
}

pub(crate) fn url(api: &str, path: &str) -> String {
    if api.starts_with("http://") || api.starts_with("https://") {
        format!("{}{path}", api.trim_end_matches('/'))
    } else {
        format!("http://{api}{path}")
    }
}

/// Turns a non-2xx answer into an error carrying the node's message.
pub(crate) fn check(api: &str, resp: reqwest::Result<Response>) -> Result<Response> {
    let resp = resp.with_context(|| unreachable(api))?;
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status();
    let body = resp.text().unwrap_or_default();
    bail!("{} (HTTP {status})", error_message(body))
}

/// The error for a request that got no answer.
pub(crate) fn unreachable(api: &str) -> String {
    format!("cannot reach the node API at {api} (is `r1 node` running?)")
}

/// The node's message in an error answer's body (`{"error": …}`), else the body itself.
pub(crate) fn error_message(body: String) -> String {
    serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or(body)
}

fn print_json(resp: Response) -> Result<()> {
    let value: serde_json::Value = resp.json()?;
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}

pub fn actor(cmd: ActorCommand) -> Result<()> {
    match cmd {
        ActorCommand::Start {
            component,
            name,
            grants,
            api,
        } => {
            let wasm = read_component(&component)?;
            let name = name.unwrap_or_else(|| name_from_path(&component));
            let mut query: Vec<(&str, String)> = Vec::new();
            for g in &grants.grants {
                query.push(("grant", g.clone()));
            }
            for (k, v) in grants.config_pairs()? {
                query.push(("config", format!("{k}={v}")));
            }
            let resp = client(Duration::from_secs(300))?
                .put(url(&api.api, &format!("/v1/actors/{name}")))
                .query(&query)
                .header("content-type", "application/wasm")
                .body(wasm)
                .send();
            print_json(check(&api.api, resp)?)
        }
        ActorCommand::Stop { name, api } => {
            let resp = client(Duration::from_secs(30))?
                .delete(url(&api.api, &format!("/v1/actors/{name}")))
                .send();
            check(&api.api, resp)?;
            println!("stopped {name}");
            Ok(())
        }
        ActorCommand::List { api } => {
            let resp = client(Duration::from_secs(30))?
                .get(url(&api.api, "/v1/actors"))
                .send();
            let actors: Vec<serde_json::Value> = check(&api.api, resp)?.json()?;
            if actors.is_empty() {
                println!("no actors");
            }
            for a in actors {
                println!(
                    "{:<24} {:<12} restarts={:<3} grants=[{}]",
                    a["name"].as_str().unwrap_or("?"),
                    a["status"]["state"].as_str().unwrap_or("?"),
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
        ActorCommand::Status { name, api } => {
            let resp = client(Duration::from_secs(30))?
                .get(url(&api.api, &format!("/v1/actors/{name}")))
                .send();
            print_json(check(&api.api, resp)?)
        }
    }
}

pub fn send(api: &str, actor: &str, message: &str, no_wait: bool, timeout_ms: u64) -> Result<()> {
    let http = client(Duration::from_millis(timeout_ms) + Duration::from_secs(5))?;
    if no_wait {
        let resp = http
            .post(url(api, &format!("/v1/actors/{actor}/send")))
            .body(message.to_owned())
            .send();
        check(api, resp)?;
        return Ok(());
    }
    let resp = http
        .post(url(api, &format!("/v1/actors/{actor}/request")))
        .query(&[("timeout_ms", timeout_ms)])
        .body(message.to_owned())
        .send();
    let reply = check(api, resp)?.bytes()?;
    println!("{}", String::from_utf8_lossy(&reply));
    Ok(())
}

pub fn publish(api: &str, topic: &str, message: &str) -> Result<()> {
    let resp = client(Duration::from_secs(30))?
        .post(url(api, &format!("/v1/topics/{topic}")))
        .body(message.to_owned())
        .send();
    print_json(check(api, resp)?)
}

fn print_bytes(resp: Response) -> Result<()> {
    let value = resp.bytes()?;
    println!("{}", String::from_utf8_lossy(&value));
    Ok(())
}

pub fn cstore(cmd: CstoreCommand) -> Result<()> {
    let http = client(Duration::from_secs(60))?;
    match cmd {
        CstoreCommand::Get {
            namespace,
            key,
            api,
        } => {
            let resp = http
                .get(url(&api.api, &format!("/v1/cstore/{namespace}/{key}")))
                .send();
            print_bytes(check(&api.api, resp)?)
        }
        CstoreCommand::Set {
            namespace,
            key,
            value,
            min_acks,
            api,
        } => {
            let resp = http
                .put(url(&api.api, &format!("/v1/cstore/{namespace}/{key}")))
                .query(&[("min_acks", min_acks)])
                .body(value)
                .send();
            let v: serde_json::Value = check(&api.api, resp)?.json()?;
            println!("OK (version {})", v["version"]);
            Ok(())
        }
        CstoreCommand::Del {
            namespace,
            key,
            api,
        } => {
            let resp = http
                .delete(url(&api.api, &format!("/v1/cstore/{namespace}/{key}")))
                .send();
            let v: serde_json::Value = check(&api.api, resp)?.json()?;
            println!(
                "{}",
                if v["existed"] == true {
                    "deleted"
                } else {
                    "absent"
                }
            );
            Ok(())
        }
        CstoreCommand::Hset {
            namespace,
            key,
            field,
            value,
            api,
        } => {
            let resp = http
                .put(url(
                    &api.api,
                    &format!("/v1/cstore-hash/{namespace}/{key}/{field}"),
                ))
                .body(value)
                .send();
            let v: serde_json::Value = check(&api.api, resp)?.json()?;
            println!(
                "{}",
                if v["new"] == true {
                    "new field"
                } else {
                    "updated"
                }
            );
            Ok(())
        }
        CstoreCommand::Hget {
            namespace,
            key,
            field,
            api,
        } => {
            let resp = http
                .get(url(
                    &api.api,
                    &format!("/v1/cstore-hash/{namespace}/{key}/{field}"),
                ))
                .send();
            print_bytes(check(&api.api, resp)?)
        }
        CstoreCommand::Hgetall {
            namespace,
            key,
            api,
        } => {
            let resp = http
                .get(url(&api.api, &format!("/v1/cstore-hash/{namespace}/{key}")))
                .send();
            let map: serde_json::Map<String, serde_json::Value> = check(&api.api, resp)?.json()?;
            for (field, value) in map {
                println!("{field}\t{}", value.as_str().unwrap_or_default());
            }
            Ok(())
        }
        CstoreCommand::Keys {
            namespace,
            prefix,
            api,
        } => {
            let mut cursor: Option<String> = None;
            loop {
                let mut query = vec![("prefix", prefix.clone()), ("limit", "1000".to_owned())];
                if let Some(c) = &cursor {
                    query.push(("cursor", c.clone()));
                }
                let resp = http
                    .get(url(&api.api, &format!("/v1/cstore/{namespace}")))
                    .query(&query)
                    .send();
                let page: serde_json::Value = check(&api.api, resp)?.json()?;
                for key in page["keys"].as_array().into_iter().flatten() {
                    println!("{}", key.as_str().unwrap_or_default());
                }
                match page["cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_owned()),
                    None => return Ok(()),
                }
            }
        }
    }
}

pub fn mesh(cmd: MeshCommand) -> Result<()> {
    let http = client(Duration::from_secs(30))?;
    match cmd {
        MeshCommand::Status { api } => {
            let resp = http.get(url(&api.api, "/v1/mesh")).send();
            print_json(check(&api.api, resp)?)
        }
        MeshCommand::Block { peer, api } => {
            let resp = http
                .put(url(&api.api, &format!("/v1/mesh/blocked/{peer}")))
                .send();
            check(&api.api, resp)?;
            println!("blocked {peer}");
            Ok(())
        }
        MeshCommand::Unblock { peer, api } => {
            let resp = http
                .delete(url(&api.api, &format!("/v1/mesh/blocked/{peer}")))
                .send();
            check(&api.api, resp)?;
            println!("unblocked {peer}");
            Ok(())
        }
    }
}

pub fn infer(cmd: InferCommand) -> Result<()> {
    // The first request may load the model (a few seconds on a small board).
    let http = client(Duration::from_secs(300))?;
    match cmd {
        InferCommand::Embed { texts, model, api } => {
            let resp = http
                .post(url(&api.api, "/v1/infer/embed"))
                .json(&serde_json::json!({ "model": model, "texts": texts }))
                .send();
            let answer: serde_json::Value = check(&api.api, resp)?.json()?;
            let vectors = answer["vectors"]
                .as_array()
                .context("the node's answer has no vectors")?;
            for vector in vectors {
                println!("{}", serde_json::to_string(vector)?);
            }
            Ok(())
        }
        InferCommand::Models { api } => {
            let resp = http.get(url(&api.api, "/v1/infer/models")).send();
            let answer: serde_json::Value = check(&api.api, resp)?.json()?;
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
    let http = client(Duration::from_secs(300))?;
    match cmd {
        FlCommand::Create {
            job,
            participants,
            int_bits,
            frac_bits,
            max_clients,
            api,
        } => {
            let resp = http
                .put(url(&api.api, &format!("/v1/edil/jobs/{job}")))
                .json(&serde_json::json!({
                    "participants": participants,
                    "int_bits": int_bits,
                    "frac_bits": frac_bits,
                    "max_clients": max_clients,
                }))
                .send();
            print_json(check(&api.api, resp)?)
        }
        // The demo drives several nodes of its own (`fl_demo`); main dispatches it.
        FlCommand::Demo { .. } => anyhow::bail!("`r1 fl demo` is run by fl_demo, not the client"),
        FlCommand::Show { job, api } => {
            let resp = http
                .get(url(&api.api, &format!("/v1/edil/jobs/{job}")))
                .send();
            print_json(check(&api.api, resp)?)
        }
        FlCommand::Decrypt {
            job,
            aggregate,
            api,
        } => {
            let resp = http
                .post(url(&api.api, &format!("/v1/edil/jobs/{job}/decrypt")))
                .query(&[("aggregate", aggregate)])
                .send();
            let answer: serde_json::Value = check(&api.api, resp)?.json()?;
            println!("{}", serde_json::to_string(&answer["values"])?);
            Ok(())
        }
    }
}
