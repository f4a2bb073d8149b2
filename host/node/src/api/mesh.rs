//! The mesh: status, blocking peers; Deeploy's node adverts and app requests.

use super::*;

pub(super) async fn mesh_status(node: NodeData) -> Result<HttpResponse, ApiError> {
    let status = node
        .mesh()
        .status()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok().json(json!({
        "mesh": status,
        "replication": &node.replicator().stats,
        "actors": {
            "nodes": node.runtime().nodes(),
            "counters": &node.remote().stats,
        },
    })))
}

pub(super) async fn mesh_block(
    node: NodeData,
    peer: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let peer: r1_mesh::NodePeerId = peer
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("bad peer id {peer:?}")))?;
    let block = req.method() == actix_web::http::Method::PUT;
    node.mesh()
        .block(peer, block)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::NoContent().finish())
}

/// Every node's latest heartbeat as this node sees it, with its age.
pub(super) async fn deeploy_nodes(node: NodeData) -> HttpResponse {
    let beats: Vec<serde_json::Value> = crate::deeploy::store::read_all(node.store())
        .into_iter()
        .map(|(beat, age_ms)| {
            json!({
                "advert": beat.advert,
                "at_ms": beat.at_ms,
                "age_ms": age_ms,
            })
        })
        .collect();
    HttpResponse::Ok().json(beats)
}

/// A signed Deeploy request (deploy, remove).
pub(super) async fn deeploy_submit(
    node: NodeData,
    body: web::Json<r1_deeploy::signed::SignedRequest>,
) -> Result<HttpResponse, ApiError> {
    use crate::deeploy::SubmitError;
    use r1_deeploy::DeeployError;
    let node = node.into_inner();
    let request = body.into_inner();
    let n = node.clone();
    let accepted = web::block(move || crate::deeploy::accept(&n, &request))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let result = match accepted {
        Ok(accepted) => match crate::deeploy::keep_components(&node, &accepted).await {
            Ok(()) => web::block(move || crate::deeploy::record(&node, accepted))
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match result {
        Ok(desired) => Ok(HttpResponse::Ok().json(desired)),
        Err(SubmitError::Refused(DeeployError::Replayed)) => {
            Err(ApiError::Conflict(DeeployError::Replayed.to_string()))
        }
        Err(e) => Err(submit_error(e)),
    }
}

/// Every app's desired state this node holds.
pub(super) async fn deeploy_apps(node: NodeData) -> HttpResponse {
    HttpResponse::Ok().json(crate::deeploy::apps(&node))
}

/// The placement rule applied to the fresh adverts and the desired state, now.
pub(super) async fn deeploy_plan(node: NodeData) -> HttpResponse {
    let plan = crate::deeploy::plan(&node);
    HttpResponse::Ok().json(json!({
        "placements": plan.placements,
        "short": plan.short,
    }))
}

fn submit_error(e: crate::deeploy::SubmitError) -> ApiError {
    use crate::deeploy::SubmitError;
    match e {
        SubmitError::Refused(r1_deeploy::DeeployError::Invalid(why)) => ApiError::BadRequest(why),
        SubmitError::Refused(other) => ApiError::Forbidden(other.to_string()),
        e @ SubmitError::NotFound(_) => ApiError::NotFound(e.to_string()),
        e @ SubmitError::Conflict(_) => ApiError::Conflict(e.to_string()),
        e @ SubmitError::Store(_) => ApiError::Unavailable(e.to_string()),
    }
}

/// The `name` parameter resolved to an app id, and the other parameters.
fn app_and_params(
    node: &crate::node::Node,
    req: &actix_web::HttpRequest,
) -> Result<(String, Vec<(String, String)>), ApiError> {
    let mut name = None;
    let mut rest = Vec::new();
    for (key, value) in super::query_pairs(req)? {
        if key == "name" {
            name = Some(value);
        } else {
            rest.push((key, value));
        }
    }
    let name = name.ok_or_else(|| ApiError::BadRequest("give ?name=APP".into()))?;
    let app = crate::deeploy::resolve(node, &name).map_err(submit_error)?;
    Ok((app, rest))
}

/// The `name` parameter resolved to an app id, no other parameter allowed.
fn app_only(node: &crate::node::Node, req: &actix_web::HttpRequest) -> Result<String, ApiError> {
    let (app, rest) = app_and_params(node, req)?;
    match rest.first() {
        Some((key, _)) => Err(ApiError::BadRequest(format!("unknown parameter {key:?}"))),
        None => Ok(app),
    }
}

/// One app: desired state, placement (with events), and every fresh node's report.
pub(super) async fn deeploy_show(
    node: NodeData,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let app = app_only(&node, &req)?;
    let view = crate::deeploy::show(&node, &app)
        .ok_or_else(|| ApiError::NotFound(format!("no app {app:?}")))?;
    Ok(HttpResponse::Ok().json(view))
}

/// A request to an app by name, answered by a healthy replica on any node.
pub(super) async fn deeploy_request(
    node: NodeData,
    req: actix_web::HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    use crate::deeploy::reach::{ReachError, request};
    let (app, rest) = app_and_params(&node, &req)?;
    let mut component = None;
    let mut timeout = std::time::Duration::from_secs(30);
    for (key, value) in rest {
        match key.as_str() {
            "component" => component = Some(value),
            "timeout_ms" => {
                let ms: u64 = value
                    .parse()
                    .map_err(|_| ApiError::BadRequest(format!("bad timeout_ms {value:?}")))?;
                timeout = std::time::Duration::from_millis(ms);
            }
            other => return Err(ApiError::BadRequest(format!("unknown parameter {other:?}"))),
        }
    }
    let payload = super::payload(body)?;
    match request(&node, &app, component.as_deref(), payload, timeout).await {
        Ok(reply) => Ok(HttpResponse::Ok()
            .content_type("application/octet-stream")
            .body(reply)),
        Err(ReachError::App(e)) => Err(submit_error(e)),
        Err(e @ ReachError::NoReplica { .. }) => Err(ApiError::Unavailable(e.to_string())),
        Err(ReachError::Delivery(e)) => Err(ApiError::Delivery(e)),
    }
}

/// An app's recent log lines from every replica, tagged with node and instance.
pub(super) async fn deeploy_logs(
    node: NodeData,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let app = app_only(&node, &req)?;
    let logs = crate::deeploy::logs::gather(
        node.mesh(),
        node.store(),
        node.config().deeploy.fresh_ms(),
        node.log_service(),
        &app,
    )
    .await;
    Ok(HttpResponse::Ok().json(logs))
}
