//! Inference: the models, embeddings.

use super::*;

pub(super) async fn infer_models(node: NodeData) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(json!({
        "device": node.models().device_name(),
        "models": node.models().models(),
        "loads": node.models().loads(),
    })))
}

#[derive(serde::Deserialize)]
pub(super) struct EmbedRequest {
    #[serde(default)]
    model: Option<String>,
    texts: Vec<String>,
}

pub(super) async fn infer_embed(
    node: NodeData,
    body: web::Json<EmbedRequest>,
) -> Result<HttpResponse, ApiError> {
    let EmbedRequest { model, texts } = body.into_inner();
    let name = model.unwrap_or_else(|| crate::node::BUILTIN_EMBEDDER.to_owned());
    let model = node.models().load(&name).await.map_err(infer_error)?;
    let vectors = model.embed(&texts).await.map_err(infer_error)?;
    Ok(HttpResponse::Ok().json(json!({
        "model": name,
        "dimension": model.info().dimension,
        "device": model.info().device,
        "vectors": vectors,
    })))
}
