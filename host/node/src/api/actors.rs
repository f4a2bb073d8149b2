//! Actors and topics: start, stop, list, ask, send, publish; and the node's status.

use super::*;

pub(super) async fn status(node: NodeData) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "data_dir": node.config().data_dir,
        "api": node.config().api.to_string(),
        "dev": node.config().dev,
        "node_id": node.identity().to_hex(),
        "node_fingerprint": node.identity().fingerprint(),
        "peer_id": node.mesh().peer_id().to_string(),
        "resp": node.resp().map(|a| a.to_string()),
        "allocator": node.runtime().allocator(),
        "actors": node.runtime().list().len(),
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

pub(super) async fn list_actors(node: NodeData) -> HttpResponse {
    HttpResponse::Ok().json(node.runtime().list())
}

pub(super) async fn get_actor(
    node: NodeData,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    checked(NameKind::Actor, &name)?;
    node.runtime()
        .info(&name)
        .map(|info| HttpResponse::Ok().json(info))
        .ok_or_else(|| ApiError::NotFound(format!("no actor named {name:?}")))
}

pub(super) async fn start_actor(
    node: NodeData,
    name: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    checked(NameKind::Actor, &name)?;
    let mut grants = Grants::default();
    let mut config = Vec::new();
    let mut io = r1_runtime::Io::default();
    let mut route = None;
    for (key, value) in query_pairs(&req)? {
        match key.as_str() {
            "route" => route = Some(value),
            "arg" => io.args.push(value),
            "env" => {
                let (k, v) = value.split_once('=').ok_or_else(|| {
                    ApiError::BadRequest(format!("env {value:?} is not KEY=VALUE"))
                })?;
                io.env.push((k.to_owned(), v.to_owned()));
            }
            "grant" => grants
                .add(&value)
                .map_err(|e| ApiError::BadRequest(e.to_string()))?,
            "config" => {
                let (k, v) = value.split_once('=').ok_or_else(|| {
                    ApiError::BadRequest(format!("config {value:?} is not KEY=VALUE"))
                })?;
                config.push((k.to_owned(), v.to_owned()));
            }
            other => return Err(ApiError::BadRequest(format!("unknown parameter {other:?}"))),
        }
    }
    let info = node
        .deploy(crate::node::Launch {
            name: name.into_inner(),
            wasm: body.to_vec(),
            grants,
            config,
            io,
            route,
            deeploy: None,
            restart: None,
        })
        .await?;
    Ok(HttpResponse::Created().json(info))
}

pub(super) async fn stop_actor(
    node: NodeData,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    checked(NameKind::Actor, &name)?;
    node.undeploy(&name).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub(super) async fn request_actor(
    node: NodeData,
    name: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    checked(NameKind::Actor, &name)?;
    let mut timeout = Duration::from_secs(30);
    let mut to = name.to_string();
    for (key, value) in query_pairs(&req)? {
        match key.as_str() {
            "timeout_ms" => {
                let ms: u64 = value
                    .parse()
                    .map_err(|_| ApiError::BadRequest(format!("bad timeout_ms {value:?}")))?;
                timeout = Duration::from_millis(ms);
            }
            "node" => to = address(&value, &name)?,
            other => return Err(ApiError::BadRequest(format!("unknown parameter {other:?}"))),
        }
    }
    let reply = node.runtime().request(&to, payload(body)?, timeout).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .body(reply.unwrap_or_default()))
}

pub(super) async fn send_actor(
    node: NodeData,
    name: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    checked(NameKind::Actor, &name)?;
    let mut to = name.to_string();
    for (key, value) in query_pairs(&req)? {
        match key.as_str() {
            "node" => to = address(&value, &name)?,
            other => return Err(ApiError::BadRequest(format!("unknown parameter {other:?}"))),
        }
    }
    node.runtime().send(&to, payload(body)?)?;
    Ok(HttpResponse::Accepted().finish())
}

/// `NODE/NAME` for `?node=NODE`: the actor on that node (a node id has no `/`).
fn address(node: &str, name: &str) -> Result<String, ApiError> {
    if node.is_empty() || node.contains('/') {
        return Err(ApiError::BadRequest(format!("bad node id {node:?}")));
    }
    Ok(format!("{node}/{name}"))
}

pub(super) async fn where_actor(
    node: NodeData,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    checked(NameKind::Actor, &name)?;
    let nodes = node.runtime().locate(&name);
    let here = node.runtime().info(&name).is_some();
    Ok(HttpResponse::Ok().json(json!({
        "name": name.as_str(),
        "nodes": nodes,
        "here": here,
    })))
}

pub(super) async fn publish(
    node: NodeData,
    topic: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    checked(NameKind::Topic, &topic)?;
    let delivered = node.runtime().publish(&topic, payload(body)?);
    Ok(HttpResponse::Ok().json(json!({ "delivered": delivered })))
}

/// What an actor logged lately: `[{at_ms, level, text}]`, oldest first.
pub(super) async fn actor_logs(
    node: NodeData,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    checked(NameKind::Actor, &name)?;
    let lines = node
        .runtime()
        .logs(&name)
        .ok_or_else(|| ApiError::NotFound(format!("no actor named {name:?}")))?;
    Ok(HttpResponse::Ok().json(lines))
}
