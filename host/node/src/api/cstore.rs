//! CSTORE: keys, hashes, prefix listing.

use super::*;

pub(super) fn cstore_error(e: r1_cstore::CstoreError) -> ApiError {
    match e {
        r1_cstore::CstoreError::Invalid { .. } | r1_cstore::CstoreError::TooLarge { .. } => {
            ApiError::BadRequest(e.to_string())
        }
        other => ApiError::Internal(other.to_string()),
    }
}

pub(super) async fn cstore_set(
    node: NodeData,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (ns, key) = path.into_inner();
    checked(NameKind::Namespace, &ns)?;
    let mut min_acks = 0usize;
    let mut synced = false;
    for (k, v) in query_pairs(&req)? {
        match k.as_str() {
            "sync" => {
                synced = match v.as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => {
                        return Err(ApiError::BadRequest(format!(
                            "bad sync {v:?} (true, false)"
                        )));
                    }
                }
            }
            "min_acks" => {
                min_acks = v
                    .parse()
                    .map_err(|_| ApiError::BadRequest(format!("bad min_acks {v:?}")))?
            }
            other => return Err(ApiError::BadRequest(format!("unknown parameter {other:?}"))),
        }
    }
    if body.len() > r1_cstore::MAX_VALUE_BYTES {
        return Err(ApiError::BadRequest(format!(
            "value of {} bytes exceeds the {}-byte limit",
            body.len(),
            r1_cstore::MAX_VALUE_BYTES
        )));
    }
    let version = if min_acks > 0 || synced {
        node.replicator()
            .set_acked(&ns, &key, &body, min_acks, synced)
            .await
            .map_err(|e| match e {
                r1_cstore::replication::ReplicationError::Store(e) => cstore_error(e),
                other => ApiError::Unavailable(other.to_string()),
            })?
    } else {
        let store = node.store().clone();
        blocking(move || store.set(&ns, &key, &body).map_err(cstore_error)).await?
    };
    Ok(HttpResponse::Ok().json(json!({ "version": version })))
}

pub(super) async fn cstore_delete(
    node: NodeData,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (ns, key) = path.into_inner();
    checked(NameKind::Namespace, &ns)?;
    let store = node.store().clone();
    let existed = blocking(move || store.delete(&ns, &key).map_err(cstore_error)).await?;
    Ok(HttpResponse::Ok().json(json!({ "existed": existed })))
}

pub(super) async fn cstore_keys(
    node: NodeData,
    ns: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    checked(NameKind::Namespace, &ns)?;
    let (mut prefix, mut cursor, mut limit) = (String::new(), None, 100usize);
    for (k, v) in query_pairs(&req)? {
        match k.as_str() {
            "prefix" => prefix = v,
            "cursor" => cursor = Some(v),
            "limit" => {
                limit = v
                    .parse()
                    .map_err(|_| ApiError::BadRequest(format!("bad limit {v:?}")))?
            }
            other => return Err(ApiError::BadRequest(format!("unknown parameter {other:?}"))),
        }
    }
    let page = node
        .store()
        .list_keys(&ns, &prefix, cursor.as_deref(), limit)
        .map_err(cstore_error)?;
    Ok(HttpResponse::Ok().json(json!({ "keys": page.keys, "cursor": page.cursor })))
}

pub(super) async fn hash_getall(
    node: NodeData,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (ns, key) = path.into_inner();
    checked(NameKind::Namespace, &ns)?;
    let fields = node.store().hgetall(&ns, &key).map_err(cstore_error)?;
    let map: serde_json::Map<String, serde_json::Value> = fields
        .into_iter()
        .map(|(f, v)| (f, String::from_utf8_lossy(&v).into_owned().into()))
        .collect();
    Ok(HttpResponse::Ok().json(map))
}

pub(super) async fn hash_get(
    node: NodeData,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (ns, key, field) = path.into_inner();
    checked(NameKind::Namespace, &ns)?;
    match node.store().hget(&ns, &key, &field).map_err(cstore_error)? {
        Some(v) => Ok(HttpResponse::Ok()
            .content_type("application/octet-stream")
            .body(v)),
        None => Err(ApiError::NotFound(format!(
            "no field {field:?} in hash {key:?} of namespace {ns:?}"
        ))),
    }
}

pub(super) async fn hash_set(
    node: NodeData,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (ns, key, field) = path.into_inner();
    checked(NameKind::Namespace, &ns)?;
    let store = node.store().clone();
    let new = blocking(move || store.hset(&ns, &key, &field, &body).map_err(cstore_error)).await?;
    Ok(HttpResponse::Ok().json(json!({ "new": new })))
}

pub(super) async fn hash_del(
    node: NodeData,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (ns, key, field) = path.into_inner();
    checked(NameKind::Namespace, &ns)?;
    let store = node.store().clone();
    let existed = blocking(move || store.hdel(&ns, &key, &field).map_err(cstore_error)).await?;
    Ok(HttpResponse::Ok().json(json!({ "existed": existed })))
}

pub(super) async fn cstore_get(
    node: NodeData,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (ns, key) = path.into_inner();
    checked(NameKind::Namespace, &ns)?;
    match node.store().get(&ns, &key) {
        Ok(Some(value)) => Ok(HttpResponse::Ok()
            .content_type("application/octet-stream")
            .body(value)),
        Ok(None) => Err(ApiError::NotFound(format!(
            "no key {key:?} in namespace {ns:?}"
        ))),
        Err(r1_cstore::CstoreError::Invalid { what, reason }) => {
            Err(ApiError::BadRequest(format!("invalid {what}: {reason}")))
        }
        Err(e) => Err(ApiError::Internal(e.to_string())),
    }
}
