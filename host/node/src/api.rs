//! The node's HTTP API (actix-web), bound to loopback by default.
//!
//! | method | path | body | answer |
//! |---|---|---|---|
//! | GET | /v1/status | | node facts (JSON) |
//! | GET | /v1/actors | | every actor (JSON) |
//! | GET | /v1/actors/{name} | | one actor (JSON) |
//! | PUT | /v1/actors/{name}?grant=G&config=K=V | component bytes | started actor (JSON, 201) |
//! | DELETE | /v1/actors/{name} | | 204 |
//! | POST | /v1/actors/{name}/request?timeout_ms=N | payload | the reply bytes |
//! | POST | /v1/actors/{name}/send | payload | 202 |
//! | POST | /v1/topics/{topic} | payload | `{"delivered": n}` |
//! | GET | /v1/cstore/{namespace}/{key} | | the value bytes, 404 if absent |
//!
//! Errors are JSON `{"error": "..."}` with a status that says whose fault it is.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
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
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
    }
}

type NodeData = web::Data<Arc<Node>>;

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
        "allocator": node.runtime.allocator(),
        "actors": node.runtime.list().len(),
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

async fn list_actors(node: NodeData) -> HttpResponse {
    HttpResponse::Ok().json(node.runtime.list())
}

async fn get_actor(node: NodeData, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
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
    node.undeploy(&name).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn request_actor(
    node: NodeData,
    name: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
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
    node.runtime.send(&name, payload(body)?)?;
    Ok(HttpResponse::Accepted().finish())
}

async fn publish(
    node: NodeData,
    topic: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let delivered = node.runtime.publish(&topic, payload(body)?);
    Ok(HttpResponse::Ok().json(json!({ "delivered": delivered })))
}

async fn cstore_get(
    node: NodeData,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (ns, key) = path.into_inner();
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

/// Routes of the API, for the server and for tests.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(MAX_COMPONENT_BYTES))
        .route("/v1/status", web::get().to(status))
        .route("/v1/actors", web::get().to(list_actors))
        .route("/v1/actors/{name}", web::get().to(get_actor))
        .route("/v1/actors/{name}", web::put().to(start_actor))
        .route("/v1/actors/{name}", web::delete().to(stop_actor))
        .route("/v1/actors/{name}/request", web::post().to(request_actor))
        .route("/v1/actors/{name}/send", web::post().to(send_actor))
        .route("/v1/topics/{topic}", web::post().to(publish))
        .route("/v1/cstore/{namespace}/{key:.*}", web::get().to(cstore_get));
}
