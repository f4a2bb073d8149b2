//! The mesh: status, blocking peers, and the nodes' Deeploy adverts.

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
