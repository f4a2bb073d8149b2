//! EDIL: jobs and decryption where the key is.

use super::*;

#[derive(serde::Deserialize)]
pub(super) struct CreateJob {
    participants: Vec<String>,
    #[serde(default)]
    int_bits: Option<u32>,
    #[serde(default)]
    frac_bits: Option<u32>,
    #[serde(default)]
    max_clients: Option<u32>,
}

pub(super) async fn edil_create(
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
    let edil = node.edil().clone();
    let job = job.into_inner();
    let info = blocking(move || {
        edil.create_job(&job, &body.participants, params)
            .map_err(ApiError::from)
    })
    .await?;
    Ok(HttpResponse::Created().json(info))
}

pub(super) async fn edil_job(
    node: NodeData,
    job: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    checked(NameKind::Job, &job)?;
    Ok(HttpResponse::Ok().json(node.edil().job(&job)?))
}

pub(super) async fn edil_decrypt(
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
    let values = node.edil().decrypt_aggregate(&job, &aggregate).await?;
    Ok(HttpResponse::Ok().json(json!({ "values": values })))
}
