//! The OCI fallback: import an image layout stored in R1FS, list images, start a container.

use super::*;
use crate::containers::ImageError;

fn image_error(e: ImageError) -> ApiError {
    match e {
        ImageError::Unavailable(_) => ApiError::Unavailable(e.to_string()),
        ImageError::Fetch { .. } => ApiError::NotFound(e.to_string()),
        ImageError::Refused(r1_oci::OciError::Image(_) | r1_oci::OciError::Config(_)) => {
            ApiError::BadRequest(e.to_string())
        }
        ImageError::Refused(_) => ApiError::Internal(e.to_string()),
    }
}

/// `POST /v1/oci/images/{cid}`: imports the layout tar R1FS holds as `cid`.
pub(super) async fn oci_import(
    node: NodeData,
    cid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let image = node.import_image(&cid).await.map_err(image_error)?;
    Ok(HttpResponse::Ok().json(image))
}

/// `GET /v1/oci/images`.
pub(super) async fn oci_images(node: NodeData) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(node.images().map_err(image_error)?))
}

/// `PUT /v1/oci/containers/{name}?image=sha256:…[&grant=…][&arg=…][&memory_mb=N]`: starts
/// an imported image as a container actor (messages and stop through `/v1/actors/{name}`).
pub(super) async fn oci_start(
    node: NodeData,
    name: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    checked(NameKind::Actor, &name)?;
    let mut image = None;
    let mut grants = Grants::default();
    let mut args: Vec<String> = Vec::new();
    let mut limits = node.config().runtime.default_limits;
    for (key, value) in query_pairs(&req)? {
        match key.as_str() {
            "image" => image = Some(value),
            "grant" => grants
                .add(&value)
                .map_err(|e| ApiError::BadRequest(e.to_string()))?,
            "arg" => args.push(value),
            "memory_mb" => {
                let mb: usize = value
                    .parse()
                    .ok()
                    .filter(|mb| *mb > 0)
                    .ok_or_else(|| ApiError::BadRequest(format!("memory_mb {value:?}")))?;
                limits.max_memory_bytes = mb << 20;
            }
            other => return Err(ApiError::BadRequest(format!("unknown parameter {other:?}"))),
        }
    }
    let image = image.ok_or_else(|| ApiError::BadRequest("image=sha256:… is required".into()))?;
    node.containers().map_err(image_error)?;
    let info = node
        .start_container(
            r1_runtime::ContainerLaunch {
                name: name.into_inner(),
                image,
                signature: None,
                args: (!args.is_empty()).then_some(args),
                grants,
                limits: Some(limits),
            },
            None,
        )
        .await?;
    Ok(HttpResponse::Created().json(info))
}
