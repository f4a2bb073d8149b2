//! The node's HTTP API (actix-web), bound to loopback by default.
//!
//! | method | path | body | answer |
//! |---|---|---|---|
//! | GET | /v1/health | | `{"ok": true}`; the only route served without the token |
//! | GET | /v1/status | | node facts (JSON) |
//! | GET | /v1/actors | | every actor (JSON) |
//! | GET | /v1/actors/{name} | | one actor (JSON) |
//! | PUT | /v1/actors/{name}?grant=G&config=K=V | component bytes | started actor (JSON, 201) |
//! | DELETE | /v1/actors/{name} | | 204 |
//! | POST | /v1/actors/{name}/request?timeout_ms=N | payload | the reply bytes |
//! | POST | /v1/actors/{name}/send | payload | 202 |
//! | POST | /v1/topics/{topic} | payload | `{"delivered": n}` |
//! | GET | /v1/cstore/{namespace}/{key} | | the value bytes, 404 if absent |
//! | PUT | /v1/cstore/{namespace}/{key}?min_acks=N | value | `{"version": v}` once durable (and on N peers) |
//! | DELETE | /v1/cstore/{namespace}/{key} | | `{"existed": bool}` |
//! | GET | /v1/cstore/{namespace}?prefix=P&cursor=C&limit=N | | `{"keys": [...], "cursor": ...}` |
//! | GET | /v1/cstore-hash/{namespace}/{key} | | `{field: value}` (values as UTF-8, lossy) |
//! | GET, PUT, DELETE | /v1/cstore-hash/{namespace}/{key}/{field} | value (PUT) | bytes / `{"new": bool}` / `{"existed": bool}` |
//! | PUT | /v1/fs?name=N&media_type=T | file (streamed) | `{"cid": …, "size": n}`, pinned and announced |
//! | GET | /v1/fs/{cid} | | the file, streamed (fetched from peers first if needed) |
//! | GET | /v1/fs/{cid}/stat | | size, chunks, name, pins |
//! | PUT, DELETE | /v1/fs/{cid}/pin?replicas=K | | pin (fetching it; keep K copies in the mesh) / unpin |
//! | GET | /v1/fs | | pinned files |
//! | POST | /v1/fs/gc | | remove unpinned blocks |
//! | GET | /v1/infer/models | | device, servable models (loaded or not, users), loads |
//! | POST | /v1/infer/embed | `{"model": m, "texts": [...]}` | `{"model", "dimension", "vectors": [[...]]}` |
//! | PUT | /v1/edil/jobs/{job} | `{"participants": [hex node keys], "int_bits", "frac_bits", "max_clients"}` | the job (this node owns its key) |
//! | GET | /v1/edil/jobs/{job} | | public key id, participants, owner, whether the key is here |
//! | POST | /v1/edil/jobs/{job}/decrypt?aggregate=CID | | `{"values": [...]}`; 403 where the job's key is not |
//! | GET | /v1/mesh | | peer id, addresses, peers, drop counters, replication counters |
//! | PUT, DELETE | /v1/mesh/blocked/{peer} | | block / unblock a peer |
//!
//! Errors are JSON `{"error": "..."}` with a status that says whose fault it is. Every request
//! first passes [`crate::access`]: its Host and Origin are checked (403), and every route but
//! `/v1/health` needs the bearer token (401). Names in paths (actors, namespaces, topics,
//! jobs) follow the one rule of [`r1_core::name`] (400 otherwise).

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use r1_core::{NameKind, ServiceError};
use r1_runtime::signing::SignatureError;
use r1_runtime::{DeliveryError, GrantError, Grants, LoadError, SpawnError};
use serde_json::json;

use crate::node::{DeployError, Node};

/// Largest component accepted by upload.
const MAX_COMPONENT_BYTES: usize = 64 << 20;
/// Largest message payload accepted.
const MAX_PAYLOAD_BYTES: usize = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Deploy(#[from] DeployError),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("payload of {0} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte message limit")]
    TooLarge(usize),
    #[error("{0}")]
    Internal(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Forbidden(String),
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Deploy(DeployError::Persist(_)) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Deploy(DeployError::Delivery(e)) | ApiError::Delivery(e) => {
                delivery_status(e)
            }
            ApiError::Deploy(DeployError::Spawn(e)) => match e {
                SpawnError::NameTaken(_) => StatusCode::CONFLICT,
                SpawnError::Grant(GrantError::NotGranted { .. })
                | SpawnError::Grant(GrantError::Unsupported { .. }) => StatusCode::FORBIDDEN,
                SpawnError::Signature(
                    SignatureError::MalformedWasm(_)
                    | SignatureError::MalformedSection(_)
                    | SignatureError::DuplicateSection
                    | SignatureError::BadClaims(_),
                ) => StatusCode::UNPROCESSABLE_ENTITY,
                SpawnError::Signature(_) => StatusCode::FORBIDDEN,
                SpawnError::Load(LoadError::Cache { .. }) => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            },
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(json!({ "error": self.to_string() }))
    }
}

fn delivery_status(e: &DeliveryError) -> StatusCode {
    match e {
        DeliveryError::UnknownActor(_) => StatusCode::NOT_FOUND,
        DeliveryError::MailboxFull(_) | DeliveryError::Restarting { .. } => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        DeliveryError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        DeliveryError::Stopped(_) | DeliveryError::Denied(_) => StatusCode::CONFLICT,
        DeliveryError::Handler { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        DeliveryError::Crashed { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        DeliveryError::Unreachable { .. } => StatusCode::BAD_GATEWAY,
    }
}

type NodeData = web::Data<Arc<Node>>;

/// Every name in a path (actor, namespace, topic, job) passes the one rule, or is a 400.
fn checked(kind: NameKind, name: &str) -> Result<(), ApiError> {
    r1_core::check_name(kind, name).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// `GET /v1/health`: served without a token, so it says nothing but that the API is up.
async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "ok": true }))
}

/// Messages are bounded well below the component upload limit.
fn payload(body: web::Bytes) -> Result<Vec<u8>, ApiError> {
    if body.len() > MAX_PAYLOAD_BYTES {
        return Err(ApiError::TooLarge(body.len()));
    }
    Ok(body.to_vec())
}

fn query_pairs(req: &HttpRequest) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_str(req.query_string())
        .map_err(|e| ApiError::BadRequest(format!("bad query string: {e}")))
}

async fn status(node: NodeData) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "data_dir": node.config.data_dir,
        "api": node.config.api.to_string(),
        "dev": node.config.dev,
        "node_id": node.identity.to_hex(),
        "node_fingerprint": node.identity.fingerprint(),
        "peer_id": node.mesh.peer_id().to_string(),
        "resp": node.resp.map(|a| a.to_string()),
        "allocator": node.runtime.allocator(),
        "actors": node.runtime.list().len(),
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

async fn list_actors(node: NodeData) -> HttpResponse {
    HttpResponse::Ok().json(node.runtime.list())
}

async fn get_actor(node: NodeData, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    checked(NameKind::Actor, &name)?;
    node.runtime
        .info(&name)
        .map(|info| HttpResponse::Ok().json(info))
        .ok_or_else(|| ApiError::NotFound(format!("no actor named {name:?}")))
}

async fn start_actor(
    node: NodeData,
    name: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    checked(NameKind::Actor, &name)?;
    let mut grants = Grants::default();
    let mut config = Vec::new();
    for (key, value) in query_pairs(&req)? {
        match key.as_str() {
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
        .deploy(name.into_inner(), body.to_vec(), grants, config)
        .await?;
    Ok(HttpResponse::Created().json(info))
}

async fn stop_actor(node: NodeData, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    checked(NameKind::Actor, &name)?;
    node.undeploy(&name).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn request_actor(
    node: NodeData,
    name: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    checked(NameKind::Actor, &name)?;
    let mut timeout = Duration::from_secs(30);
    for (key, value) in query_pairs(&req)? {
        match key.as_str() {
            "timeout_ms" => {
                let ms: u64 = value
                    .parse()
                    .map_err(|_| ApiError::BadRequest(format!("bad timeout_ms {value:?}")))?;
                timeout = Duration::from_millis(ms);
            }
            other => return Err(ApiError::BadRequest(format!("unknown parameter {other:?}"))),
        }
    }
    let reply = node.runtime.request(&name, payload(body)?, timeout).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .body(reply.unwrap_or_default()))
}

async fn send_actor(
    node: NodeData,
    name: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    checked(NameKind::Actor, &name)?;
    node.runtime.send(&name, payload(body)?)?;
    Ok(HttpResponse::Accepted().finish())
}

async fn publish(
    node: NodeData,
    topic: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    checked(NameKind::Topic, &topic)?;
    let delivered = node.runtime.publish(&topic, payload(body)?);
    Ok(HttpResponse::Ok().json(json!({ "delivered": delivered })))
}

fn cstore_error(e: r1_cstore::CstoreError) -> ApiError {
    match e {
        r1_cstore::CstoreError::Invalid { .. } | r1_cstore::CstoreError::TooLarge { .. } => {
            ApiError::BadRequest(e.to_string())
        }
        other => ApiError::Internal(other.to_string()),
    }
}

/// Runs a blocking store call (fjall + fsync) off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    web::block(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
}

async fn cstore_set(
    node: NodeData,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (ns, key) = path.into_inner();
    checked(NameKind::Namespace, &ns)?;
    let mut min_acks = 0usize;
    for (k, v) in query_pairs(&req)? {
        match k.as_str() {
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
    let version = if min_acks > 0 {
        node.replicator
            .set_acked(&ns, &key, &body, min_acks)
            .await
            .map_err(|e| match e {
                r1_cstore::replication::ReplicationError::Store(e) => cstore_error(e),
                other => ApiError::Unavailable(other.to_string()),
            })?
    } else {
        let store = node.cstore.clone();
        blocking(move || store.set(&ns, &key, &body).map_err(cstore_error)).await?
    };
    Ok(HttpResponse::Ok().json(json!({ "version": version })))
}

async fn cstore_delete(
    node: NodeData,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (ns, key) = path.into_inner();
    checked(NameKind::Namespace, &ns)?;
    let store = node.cstore.clone();
    let existed = blocking(move || store.delete(&ns, &key).map_err(cstore_error)).await?;
    Ok(HttpResponse::Ok().json(json!({ "existed": existed })))
}

async fn cstore_keys(
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
        .cstore
        .list_keys(&ns, &prefix, cursor.as_deref(), limit)
        .map_err(cstore_error)?;
    Ok(HttpResponse::Ok().json(json!({ "keys": page.keys, "cursor": page.cursor })))
}

async fn hash_getall(
    node: NodeData,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (ns, key) = path.into_inner();
    checked(NameKind::Namespace, &ns)?;
    let fields = node.cstore.hgetall(&ns, &key).map_err(cstore_error)?;
    let map: serde_json::Map<String, serde_json::Value> = fields
        .into_iter()
        .map(|(f, v)| (f, String::from_utf8_lossy(&v).into_owned().into()))
        .collect();
    Ok(HttpResponse::Ok().json(map))
}

async fn hash_get(
    node: NodeData,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (ns, key, field) = path.into_inner();
    checked(NameKind::Namespace, &ns)?;
    match node.cstore.hget(&ns, &key, &field).map_err(cstore_error)? {
        Some(v) => Ok(HttpResponse::Ok()
            .content_type("application/octet-stream")
            .body(v)),
        None => Err(ApiError::NotFound(format!(
            "no field {field:?} in hash {key:?} of namespace {ns:?}"
        ))),
    }
}

async fn hash_set(
    node: NodeData,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (ns, key, field) = path.into_inner();
    checked(NameKind::Namespace, &ns)?;
    let store = node.cstore.clone();
    let new = blocking(move || store.hset(&ns, &key, &field, &body).map_err(cstore_error)).await?;
    Ok(HttpResponse::Ok().json(json!({ "new": new })))
}

async fn hash_del(
    node: NodeData,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (ns, key, field) = path.into_inner();
    checked(NameKind::Namespace, &ns)?;
    let store = node.cstore.clone();
    let existed = blocking(move || store.hdel(&ns, &key, &field).map_err(cstore_error)).await?;
    Ok(HttpResponse::Ok().json(json!({ "existed": existed })))
}

async fn mesh_status(node: NodeData) -> Result<HttpResponse, ApiError> {
    let status = node
        .mesh
        .status()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok().json(json!({
        "mesh": status,
        "replication": &node.replicator.stats,
    })))
}

async fn mesh_block(
    node: NodeData,
    peer: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let peer: r1_mesh::NodePeerId = peer
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("bad peer id {peer:?}")))?;
    let block = req.method() == actix_web::http::Method::PUT;
    node.mesh
        .block(peer, block)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::NoContent().finish())
}

fn fs_error(e: r1_fs::FsError) -> ApiError {
    match e {
        r1_fs::FsError::NotFound(_) => ApiError::NotFound(e.to_string()),
        r1_fs::FsError::Encrypted(_) | r1_fs::FsError::WrongKey(_) => ApiError::Forbidden(format!(
            "{e}; encrypted files are read by actors holding the key"
        )),
        r1_fs::FsError::BadId(..) | r1_fs::FsError::BadRange { .. } => {
            ApiError::BadRequest(e.to_string())
        }
        other => ApiError::Internal(other.to_string()),
    }
}

fn fetch_error(e: r1_fs::service::FetchError) -> ApiError {
    match e {
        r1_fs::service::FetchError::Fs(e) => fs_error(e),
        r1_fs::service::FetchError::NoProviders(_) => ApiError::NotFound(e.to_string()),
        other => ApiError::Unavailable(other.to_string()),
    }
}

fn parse_cid(text: &str) -> Result<r1_fs::ContentId, ApiError> {
    text.parse().map_err(fs_error)
}

async fn fs_add(
    node: NodeData,
    req: HttpRequest,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    use futures::StreamExt;
    let mut options = r1_fs::AddOptions {
        pin: true,
        ..Default::default()
    };
    for (k, v) in query_pairs(&req)? {
        match k.as_str() {
            "name" => options.name = Some(v),
            "media_type" => options.media_type = Some(v),
            other => return Err(ApiError::BadRequest(format!("unknown parameter {other:?}"))),
        }
    }
    // Stored while it arrives: the body streams through a bounded channel into the add.
    let (chunks, body) = crate::upload::channel();
    let fs = node.fs.clone();
    let adding = blocking(move || {
        let cid = fs.store.add(body, &options, |_| {}).map_err(|e| match e {
            r1_fs::FsError::Input(e) => ApiError::BadRequest(format!("upload failed: {e}")),
            // Adding, only the given name or media type can make a bad manifest.
            e @ r1_fs::FsError::BadManifest(_) => ApiError::BadRequest(e.to_string()),
            other => fs_error(other),
        })?;
        fs.announce(&cid).map_err(fetch_error)?;
        let size = fs.store.stat(&cid).map_err(fs_error)?.size;
        Ok((cid, size))
    });
    let feeding = async move {
        let mut adding = true;
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| std::io::Error::other(e.to_string()));
            let failed = chunk.is_err();
            // A closed channel means the add stopped (its result says why): the rest of the
            // body is still read, and dropped, so the client gets the answer instead of a
            // connection closed under its upload.
            if adding && chunks.send(chunk).await.is_err() {
                adding = false;
            }
            if failed {
                break;
            }
        }
    };
    let ((), added) = futures::join!(feeding, adding);
    let (cid, size) = added?;
    Ok(HttpResponse::Ok().json(json!({ "cid": cid.to_string(), "size": size })))
}

async fn fs_get(node: NodeData, cid: web::Path<String>) -> Result<HttpResponse, ApiError> {
    use futures::StreamExt;
    let cid = parse_cid(&cid)?;
    let manifest = node.fs.ensure_local(&cid).await.map_err(fetch_error)?;
    if manifest.encrypted {
        return Err(fs_error(r1_fs::FsError::Encrypted(cid.to_string())));
    }
    let store = node.fs.store.clone();
    let size = manifest.size;
    let body = futures::stream::iter(manifest.chunks).then(move |hash| {
        let store = store.clone();
        async move {
            web::block(move || store.get_block(&hash))
                .await
                .map_err(actix_web::error::ErrorInternalServerError)?
                .map(web::Bytes::from)
                .map_err(actix_web::error::ErrorInternalServerError)
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .no_chunking(size)
        .streaming(body))
}

async fn fs_stat(node: NodeData, cid: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let cid = parse_cid(&cid)?;
    let s = node.fs.store.stat(&cid).map_err(fs_error)?;
    let providers = node.fs.providers(&cid).map_err(fetch_error)?;
    Ok(HttpResponse::Ok().json(json!({
        "cid": s.id.to_string(),
        "size": s.size,
        "chunks": s.chunks,
        "local_chunks": s.local_chunks,
        "name": s.name,
        "media_type": s.media_type,
        "pins": s.pins,
        "other_providers": providers.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
    })))
}

async fn fs_pin(
    node: NodeData,
    cid: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let cid = parse_cid(&cid)?;
    let fs = node.fs.clone();
    let mut replicas: Option<u32> = None;
    for (k, v) in query_pairs(&req)? {
        match k.as_str() {
            "replicas" => {
                replicas = Some(
                    v.parse()
                        .map_err(|_| ApiError::BadRequest(format!("bad replicas {v:?}")))?,
                )
            }
            other => return Err(ApiError::BadRequest(format!("unknown parameter {other:?}"))),
        }
    }
    if req.method() == actix_web::http::Method::PUT {
        fs.ensure_local(&cid).await.map_err(fetch_error)?;
        let pins = blocking(move || {
            let pins = fs.store.pin(&cid).map_err(fs_error)?;
            fs.announce(&cid).map_err(fetch_error)?;
            if let Some(k) = replicas {
                fs.set_replicas(&cid, k).map_err(fetch_error)?;
            }
            Ok(pins)
        })
        .await?;
        return Ok(HttpResponse::Ok().json(json!({ "pins": pins })));
    }
    let pins = blocking(move || {
        let pins = fs.store.unpin(&cid).map_err(fs_error)?;
        if pins == 0 {
            fs.withdraw(&cid).map_err(fetch_error)?;
            // The last pin here releases the mesh-wide replication target too.
            fs.set_replicas(&cid, 0).map_err(fetch_error)?;
        }
        Ok(pins)
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "pins": pins })))
}

async fn fs_list(node: NodeData) -> Result<HttpResponse, ApiError> {
    let pinned = node.fs.store.pinned().map_err(fs_error)?;
    let list: Vec<serde_json::Value> = pinned
        .into_iter()
        .map(|(cid, pins)| {
            let stat = node.fs.store.stat(&cid).ok();
            json!({
                "cid": cid.to_string(),
                "pins": pins,
                "size": stat.as_ref().map(|s| s.size),
                "name": stat.and_then(|s| s.name),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

async fn fs_gc(node: NodeData) -> Result<HttpResponse, ApiError> {
    let fs = node.fs.clone();
    let report = blocking(move || fs.store.gc().map_err(fs_error)).await?;
    Ok(HttpResponse::Ok().json(json!({
        "removed_blocks": report.removed_blocks,
        "freed_bytes": report.freed_bytes,
    })))
}

async fn cstore_get(
    node: NodeData,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (ns, key) = path.into_inner();
    checked(NameKind::Namespace, &ns)?;
    match node.cstore.get(&ns, &key) {
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

/// A service's error as the API's: its kind decides the status.
impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Denied(m) => ApiError::Forbidden(m),
            ServiceError::NotFound(m) => ApiError::NotFound(m),
            ServiceError::Invalid(m) | ServiceError::Refused(m) => ApiError::BadRequest(m),
            ServiceError::TooLarge(m) => ApiError::BadRequest(m),
            ServiceError::Unavailable(m) => ApiError::Unavailable(m),
            ServiceError::Other(m) => ApiError::Internal(m),
        }
    }
}

/// Inference's errors, saying which model was not found.
fn infer_error(e: ServiceError) -> ApiError {
    match e {
        ServiceError::NotFound(m) => ApiError::NotFound(format!("no such model: {m}")),
        other => other.into(),
    }
}

async fn infer_models(node: NodeData) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(json!({
        "device": node.infer.device_name(),
        "models": node.infer.models(),
        "loads": node.infer.loads(),
    })))
}

#[derive(serde::Deserialize)]
struct EmbedRequest {
    #[serde(default)]
    model: Option<String>,
    texts: Vec<String>,
}

async fn infer_embed(
    node: NodeData,
    body: web::Json<EmbedRequest>,
) -> Result<HttpResponse, ApiError> {
    let EmbedRequest { model, texts } = body.into_inner();
    let name = model.unwrap_or_else(|| crate::node::BUILTIN_EMBEDDER.to_owned());
    let model = node.infer.load(&name).await.map_err(infer_error)?;
    let vectors = model.embed(&texts).await.map_err(infer_error)?;
    Ok(HttpResponse::Ok().json(json!({
        "model": name,
        "dimension": model.info().dimension,
        "device": model.info().device,
        "vectors": vectors,
    })))
}

#[derive(serde::Deserialize)]
struct CreateJob {
    participants: Vec<String>,
    #[serde(default)]
    int_bits: Option<u32>,
    #[serde(default)]
    frac_bits: Option<u32>,
    #[serde(default)]
    max_clients: Option<u32>,
}

async fn edil_create(
    node: NodeData,
    job: web::Path<String>,
    body: web::Json<CreateJob>,
) -> Result<HttpResponse, ApiError> {
    checked(NameKind::Job, &job)?;
    let body = body.into_inner();
    let defaults = r1_edil::Params::default();
    let params = r1_edil::Params {
        int_bits: body.int_bits.unwrap_or(defaults.int_bits),
        frac_bits: body.frac_bits.unwrap_or(defaults.frac_bits),
        max_clients: body.max_clients.unwrap_or(defaults.max_clients),
        ..defaults
    };
    let edil = node.edil.clone();
    let job = job.into_inner();
    let info = blocking(move || {
        edil.create_job(&job, &body.participants, params)
            .map_err(ApiError::from)
    })
    .await?;
    Ok(HttpResponse::Created().json(info))
}

async fn edil_job(node: NodeData, job: web::Path<String>) -> Result<HttpResponse, ApiError> {
    checked(NameKind::Job, &job)?;
    Ok(HttpResponse::Ok().json(node.edil.job(&job)?))
}

async fn edil_decrypt(
    node: NodeData,
    job: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    checked(NameKind::Job, &job)?;
    let aggregate = query_pairs(&req)?
        .into_iter()
        .find(|(k, _)| k == "aggregate")
        .map(|(_, v)| v)
        .ok_or_else(|| ApiError::BadRequest("missing ?aggregate=CID".into()))?;
    let values = node.edil.decrypt_aggregate(&job, &aggregate).await?;
    Ok(HttpResponse::Ok().json(json!({ "values": values })))
}

/// Routes of the API, for the server and for tests.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(MAX_COMPONENT_BYTES))
        .route(crate::access::HEALTH_PATH, web::get().to(health))
        .route("/v1/status", web::get().to(status))
        .route("/v1/actors", web::get().to(list_actors))
        .route("/v1/actors/{name}", web::get().to(get_actor))
        .route("/v1/actors/{name}", web::put().to(start_actor))
        .route("/v1/actors/{name}", web::delete().to(stop_actor))
        .route("/v1/actors/{name}/request", web::post().to(request_actor))
        .route("/v1/actors/{name}/send", web::post().to(send_actor))
        .route("/v1/topics/{topic}", web::post().to(publish))
        .route("/v1/cstore/{namespace}", web::get().to(cstore_keys))
        .route("/v1/cstore/{namespace}/{key:.*}", web::get().to(cstore_get))
        .route("/v1/cstore/{namespace}/{key:.*}", web::put().to(cstore_set))
        .route(
            "/v1/cstore/{namespace}/{key:.*}",
            web::delete().to(cstore_delete),
        )
        .route(
            "/v1/cstore-hash/{namespace}/{key}",
            web::get().to(hash_getall),
        )
        .route(
            "/v1/cstore-hash/{namespace}/{key}/{field}",
            web::get().to(hash_get),
        )
        .route(
            "/v1/cstore-hash/{namespace}/{key}/{field}",
            web::put().to(hash_set),
        )
        .route(
            "/v1/cstore-hash/{namespace}/{key}/{field}",
            web::delete().to(hash_del),
        )
        .route("/v1/fs", web::put().to(fs_add))
        .route("/v1/fs", web::get().to(fs_list))
        .route("/v1/fs/gc", web::post().to(fs_gc))
        .route("/v1/fs/{cid}", web::get().to(fs_get))
        .route("/v1/fs/{cid}/stat", web::get().to(fs_stat))
        .route("/v1/fs/{cid}/pin", web::put().to(fs_pin))
        .route("/v1/fs/{cid}/pin", web::delete().to(fs_pin))
        .route("/v1/infer/models", web::get().to(infer_models))
        .route("/v1/infer/embed", web::post().to(infer_embed))
        .route("/v1/edil/jobs/{job}", web::put().to(edil_create))
        .route("/v1/edil/jobs/{job}", web::get().to(edil_job))
        .route("/v1/edil/jobs/{job}/decrypt", web::post().to(edil_decrypt))
        .route("/v1/mesh", web::get().to(mesh_status))
        .route("/v1/mesh/blocked/{peer}", web::put().to(mesh_block))
        .route("/v1/mesh/blocked/{peer}", web::delete().to(mesh_block));
}
