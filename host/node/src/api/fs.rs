//! R1FS: add (streamed), get (streamed), stat, pin, list, gc.

use super::*;

pub(super) fn fs_error(e: r1_fs::FsError) -> ApiError {
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

pub(super) fn fetch_error(e: r1_fs::service::FetchError) -> ApiError {
    match e {
        r1_fs::service::FetchError::Fs(e) => fs_error(e),
        r1_fs::service::FetchError::NoProviders(_) => ApiError::NotFound(e.to_string()),
        other => ApiError::Unavailable(other.to_string()),
    }
}

pub(super) fn parse_cid(text: &str) -> Result<r1_fs::ContentId, ApiError> {
    text.parse().map_err(fs_error)
}

pub(super) async fn fs_add(
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
    let fs = node.files().clone();
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

pub(super) async fn fs_get(
    node: NodeData,
    cid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    use futures::StreamExt;
    let cid = parse_cid(&cid)?;
    let manifest = node.files().ensure_local(&cid).await.map_err(fetch_error)?;
    if manifest.encrypted {
        return Err(fs_error(r1_fs::FsError::Encrypted(cid.to_string())));
    }
    let store = node.files().store.clone();
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

pub(super) async fn fs_stat(
    node: NodeData,
    cid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let cid = parse_cid(&cid)?;
    let s = node.files().store.stat(&cid).map_err(fs_error)?;
    let providers = node.files().providers(&cid).map_err(fetch_error)?;
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

pub(super) async fn fs_pin(
    node: NodeData,
    cid: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let cid = parse_cid(&cid)?;
    let fs = node.files().clone();
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

pub(super) async fn fs_list(node: NodeData) -> Result<HttpResponse, ApiError> {
    let pinned = node.files().store.pinned().map_err(fs_error)?;
    let list: Vec<serde_json::Value> = pinned
        .into_iter()
        .map(|(cid, pins)| {
            let stat = node.files().store.stat(&cid).ok();
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

pub(super) async fn fs_gc(node: NodeData) -> Result<HttpResponse, ApiError> {
    let fs = node.files().clone();
    let report = blocking(move || fs.store.gc().map_err(fs_error)).await?;
    Ok(HttpResponse::Ok().json(json!({
        "removed_blocks": report.removed_blocks,
        "freed_bytes": report.freed_bytes,
    })))
}
