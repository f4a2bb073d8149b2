//! OracleSync's epochs: the list (certified, faulty, open) and each certificate's bytes.

use super::*;
use crate::deeploy::store::now_ms;
use crate::oraclesync::records;

fn settings(node: &Node) -> Result<r1_oraclesync::round::Settings, ApiError> {
    node.oraclesync()
        .map(|s| s.settings().clone())
        .ok_or_else(|| {
            ApiError::NotFound(
                "OracleSync is off on this node ([oraclesync] oracles lists no oracle)".into(),
            )
        })
}

/// `GET /v1/epochs?limit=N`: the oracle set and the newest epochs, newest first.
pub(super) async fn epochs(node: NodeData, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let settings = settings(&node)?;
    let mut limit = 100usize;
    for (k, v) in query_pairs(&req)? {
        match k.as_str() {
            "limit" => {
                limit = v
                    .parse()
                    .map_err(|_| ApiError::BadRequest(format!("limit={v:?} is not a number")))?
            }
            other => return Err(ApiError::BadRequest(format!("unknown parameter {other:?}"))),
        }
    }
    let store = node.store().clone();
    let now = now_ms();
    let list = {
        let settings = settings.clone();
        blocking(move || Ok(records::epochs(&store, &settings, now, limit))).await?
    };
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "oracles": settings.oracles,
        "f": settings.f,
        "epoch_ms": settings.epoch_ms,
        "genesis_ms": settings.genesis_ms,
        "current": settings.epoch_at(now),
        "epochs": list,
    })))
}

/// `GET /v1/epochs/{n}`: epoch n's certificate (canonical bytes); 404 when none holds.
pub(super) async fn epoch_certificate(
    node: NodeData,
    epoch: web::Path<u64>,
) -> Result<HttpResponse, ApiError> {
    let settings = settings(&node)?;
    let (store, epoch) = (node.store().clone(), epoch.into_inner());
    let cert = {
        let settings = settings.clone();
        blocking(move || Ok(records::certificate(&store, &settings, epoch))).await?
    };
    match cert {
        Some(cert) => Ok(HttpResponse::Ok()
            .content_type("application/octet-stream")
            .body(cert.to_bytes())),
        None => Err(ApiError::NotFound(format!(
            "epoch {epoch} has no certificate ({})",
            if now_ms() >= settings.deadline(epoch) {
                "none formed by its deadline: a faulty epoch"
            } else {
                "not yet"
            }
        ))),
    }
}
