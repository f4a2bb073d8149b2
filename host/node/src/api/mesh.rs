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
    let beats: Vec<serde_json::Value> = crate::heartbeat::read_all(&node)
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
    let result = web::block(move || crate::deeploy::submit(&node, &request))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    match result {
        Ok(desired) => Ok(HttpResponse::Ok().json(desired)),
        Err(SubmitError::Refused(DeeployError::Invalid(why))) => Err(ApiError::BadRequest(why)),
        Err(SubmitError::Refused(DeeployError::Replayed)) => {
            Ok(HttpResponse::Conflict()
                .json(json!({ "error": DeeployError::Replayed.to_string() })))
        }
        Err(SubmitError::Refused(other)) => Err(ApiError::Forbidden(other.to_string())),
        Err(e @ SubmitError::NotFound(_)) => Err(ApiError::NotFound(e.to_string())),
        Err(e @ SubmitError::Unsupported(_)) => Err(ApiError::BadRequest(e.to_string())),
        Err(e @ SubmitError::Store(_)) => Err(ApiError::Unavailable(e.to_string())),
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
