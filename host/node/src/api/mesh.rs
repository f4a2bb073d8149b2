//! The mesh: status, blocking peers.

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
