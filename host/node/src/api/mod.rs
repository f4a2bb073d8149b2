//! The node's HTTP API (actix-web), bound to loopback by default.
//!
//! | method | path | body | answer |
//! |---|---|---|---|
//! | GET | /v1/health | | `{"ok": true}`; the only route served without the token |
//! | GET | /v1/status | | node facts (JSON) |
//! | GET | /v1/actors | | every actor (JSON) |
//! | GET | /v1/actors/{name} | | one actor (JSON) |
//! | PUT | /v1/actors/{name}?grant=G&config=K=V&arg=A&env=K=V&route=/P | component bytes | started actor, job or HTTP component (JSON, 201; a command runs once, its exit status in its `status`; an HTTP component is served on `route`, default `/NAME`) |
//! | DELETE | /v1/actors/{name} | | 204 |
//! | POST | /v1/actors/{name}/request?timeout_ms=N&node=NODE | payload | the reply bytes (`node`: the actor on that node) |
//! | POST | /v1/actors/{name}/send?node=NODE | payload | 202 |
//! | GET | /v1/actors/{name}/where | | `{"name", "nodes": [node ids], "here": bool}` |
//! | GET | /v1/actors/{name}/logs | | its recent log lines `[{at_ms, level, text}]` (stdout, stderr, log events; the newest 500) |
//! | POST | /v1/topics/{topic} | payload | `{"delivered": n}`, subscribers on every node |
//! | GET | /v1/cstore/{namespace}/{key} | | the value bytes, 404 if absent |
//! | PUT | /v1/cstore/{namespace}/{key}?min_acks=N&sync=true | value | `{"version": v}` once durable as the node's mode says (`sync=true`: synced to disk, even on a relaxed node) and on N peers |
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
//! | GET | /v1/mesh | | peer id, addresses, peers, drop counters, replication and actor-messaging counters |
//! | GET | /v1/deeploy/nodes | | every node's latest advert (`advert`, `at_ms`, `age_ms`), by node id |
//! | POST | /v1/deeploy/apps | a signed request (JSON) | the app's desired state; 403 forged/expired/policy, 409 replayed, 400 invalid |
//! | GET | /v1/deeploy/apps | | every app's desired state |
//! | GET | /v1/deeploy/plan | | the placement rule applied now: `{"placements": [{app, component, node}], "short": [[app, component, missing]]}` |
//! | GET | /v1/deeploy/app?name=NAME | | one app: `{desired, placement, status}` (NAME or OWNER/NAME); 404, 409 ambiguous |
//! | POST | /v1/deeploy/app/request?name=NAME[&component=C][&timeout_ms=N] | payload | a healthy replica's reply; 503 none healthy |
//! | GET | /v1/deeploy/app/logs?name=NAME | | `{"lines": [{node, instance, at_ms, level, text}], "missing": [[node, why]]}` from every replica |
//! | PUT, DELETE | /v1/mesh/blocked/{peer} | | block / unblock a peer |
//! | GET | /v1/epochs?limit=N | | OracleSync: `{oracles, f, epoch_ms, genesis_ms, current, epochs: [{epoch, status, root, signatures, nodes, tables}]}`, newest first; 404 when off |
//! | GET | /v1/epochs/{n} | | epoch n's certificate (canonical bytes, verify offline); 404 none (faulty or not yet) |
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

mod actors;
mod cstore;
mod edil;
mod epochs;
mod fs;
mod infer;
mod mesh;
mod oci;

/// Largest component accepted by upload.
const MAX_COMPONENT_BYTES: usize = 64 << 20;
/// Largest message payload accepted.
const MAX_PAYLOAD_BYTES: usize = 4 << 20;

/// An API call's failure; each variant maps to an HTTP status, sent as `{"error": …}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Starting or stopping an actor failed; the status depends on the cause.
    #[error(transparent)]
    Deploy(#[from] DeployError),
    /// A message to an actor was not delivered or answered; the status depends on the cause.
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    /// The request is malformed or refused as invalid (400).
    #[error("{0}")]
    BadRequest(String),
    /// The thing named does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// A message payload is over the limit; holds its size in bytes (413).
    #[error("payload of {0} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte message limit")]
    TooLarge(usize),
    /// The node failed to serve the request (500).
    #[error("{0}")]
    Internal(String),
    /// A service cannot answer now; trying later may work (503).
    #[error("{0}")]
    Unavailable(String),
    /// The caller may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// The request conflicts with the current state (409).
    #[error("{0}")]
    Conflict(String),
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
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Deploy(DeployError::Persist(_)) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Deploy(DeployError::Route(_)) => StatusCode::BAD_REQUEST,
            ApiError::Deploy(DeployError::Denied(_)) => StatusCode::FORBIDDEN,
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

pub(super) fn delivery_status(e: &DeliveryError) -> StatusCode {
    match e {
        DeliveryError::UnknownActor(_) => StatusCode::NOT_FOUND,
        DeliveryError::MailboxFull(_) | DeliveryError::Restarting { .. } => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        DeliveryError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        DeliveryError::Stopped(_) | DeliveryError::Denied(_) => StatusCode::CONFLICT,
        DeliveryError::Handler { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        DeliveryError::Crashed { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        DeliveryError::Unreachable { .. } | DeliveryError::RemoteFailed { .. } => {
            StatusCode::BAD_GATEWAY
        }
        DeliveryError::UnknownNode(_) => StatusCode::NOT_FOUND,
    }
}

pub(super) type NodeData = web::Data<Arc<Node>>;

/// Every name in a path (actor, namespace, topic, job) passes the one rule, or is a 400.
pub(super) fn checked(kind: NameKind, name: &str) -> Result<(), ApiError> {
    r1_core::check_name(kind, name).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// `GET /v1/health`: served without a token, so it says nothing but that the API is up.
async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "ok": true }))
}

/// Messages are bounded well below the component upload limit.
pub(super) fn payload(body: web::Bytes) -> Result<Vec<u8>, ApiError> {
    if body.len() > MAX_PAYLOAD_BYTES {
        return Err(ApiError::TooLarge(body.len()));
    }
    Ok(body.to_vec())
}

pub(super) fn query_pairs(req: &HttpRequest) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_str(req.query_string())
        .map_err(|e| ApiError::BadRequest(format!("bad query string: {e}")))
}

/// Runs a blocking store call (fjall + fsync) off the async workers.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    web::block(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
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
pub(super) fn infer_error(e: ServiceError) -> ApiError {
    match e {
        ServiceError::NotFound(m) => ApiError::NotFound(format!("no such model: {m}")),
        other => other.into(),
    }
}

/// Routes of the API, for the server and for tests.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(MAX_COMPONENT_BYTES))
        .route(crate::access::HEALTH_PATH, web::get().to(health))
        .route("/v1/status", web::get().to(actors::status))
        .route("/v1/actors", web::get().to(actors::list_actors))
        .route("/v1/actors/{name}", web::get().to(actors::get_actor))
        .route("/v1/actors/{name}", web::put().to(actors::start_actor))
        .route("/v1/actors/{name}", web::delete().to(actors::stop_actor))
        .route(
            "/v1/actors/{name}/request",
            web::post().to(actors::request_actor),
        )
        .route("/v1/actors/{name}/send", web::post().to(actors::send_actor))
        .route(
            "/v1/actors/{name}/where",
            web::get().to(actors::where_actor),
        )
        .route("/v1/topics/{topic}", web::post().to(actors::publish))
        .route("/v1/cstore/{namespace}", web::get().to(cstore::cstore_keys))
        .route(
            "/v1/cstore/{namespace}/{key:.*}",
            web::get().to(cstore::cstore_get),
        )
        .route(
            "/v1/cstore/{namespace}/{key:.*}",
            web::put().to(cstore::cstore_set),
        )
        .route(
            "/v1/cstore/{namespace}/{key:.*}",
            web::delete().to(cstore::cstore_delete),
        )
        .route(
            "/v1/cstore-hash/{namespace}/{key}",
            web::get().to(cstore::hash_getall),
        )
        .route(
            "/v1/cstore-hash/{namespace}/{key}/{field}",
            web::get().to(cstore::hash_get),
        )
        .route(
            "/v1/cstore-hash/{namespace}/{key}/{field}",
            web::put().to(cstore::hash_set),
        )
        .route(
            "/v1/cstore-hash/{namespace}/{key}/{field}",
            web::delete().to(cstore::hash_del),
        )
        .route("/v1/fs", web::put().to(fs::fs_add))
        .route("/v1/fs", web::get().to(fs::fs_list))
        .route("/v1/fs/gc", web::post().to(fs::fs_gc))
        .route("/v1/fs/{cid}", web::get().to(fs::fs_get))
        .route("/v1/fs/{cid}/stat", web::get().to(fs::fs_stat))
        .route("/v1/fs/{cid}/pin", web::put().to(fs::fs_pin))
        .route("/v1/fs/{cid}/pin", web::delete().to(fs::fs_pin))
        .route("/v1/infer/models", web::get().to(infer::infer_models))
        .route("/v1/infer/embed", web::post().to(infer::infer_embed))
        .route("/v1/edil/jobs/{job}", web::put().to(edil::edil_create))
        .route("/v1/edil/jobs/{job}", web::get().to(edil::edil_job))
        .route(
            "/v1/edil/jobs/{job}/decrypt",
            web::post().to(edil::edil_decrypt),
        )
        .route("/v1/oci/images", web::get().to(oci::oci_images))
        .route("/v1/oci/images/{cid}", web::post().to(oci::oci_import))
        .route("/v1/oci/containers/{name}", web::put().to(oci::oci_start))
        .route("/v1/mesh", web::get().to(mesh::mesh_status))
        .route("/v1/epochs", web::get().to(epochs::epochs))
        .route(
            "/v1/epochs/{epoch}",
            web::get().to(epochs::epoch_certificate),
        )
        .route("/v1/deeploy/nodes", web::get().to(mesh::deeploy_nodes))
        .route("/v1/deeploy/apps", web::post().to(mesh::deeploy_submit))
        .route("/v1/deeploy/apps", web::get().to(mesh::deeploy_apps))
        .route("/v1/deeploy/plan", web::get().to(mesh::deeploy_plan))
        .route("/v1/deeploy/app", web::get().to(mesh::deeploy_show))
        .route(
            "/v1/deeploy/app/request",
            web::post().to(mesh::deeploy_request),
        )
        .route("/v1/deeploy/app/logs", web::get().to(mesh::deeploy_logs))
        .route("/v1/actors/{name}/logs", web::get().to(actors::actor_logs))
        .route("/v1/mesh/blocked/{peer}", web::put().to(mesh::mesh_block))
        .route(
            "/v1/mesh/blocked/{peer}",
            web::delete().to(mesh::mesh_block),
        );
}
