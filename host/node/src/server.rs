//! Serving a node: its API checked and bound (token, Host/Origin rules, TLS beyond loopback),
//! the node started, and everything stopped in order on SIGINT/SIGTERM.

use std::sync::Arc;

use anyhow::{Context, Result};

use crate::config::NodeConfig;
use crate::{access, api, node, token};

/// Runs a node on `config` until it is told to stop. Everything about the API is checked
/// before the node opens its data dir; `r1 node` prints where the API token is.
pub fn serve(config: NodeConfig) -> Result<()> {
    // Everything about the API is checked before the node opens its data.
    access::check_listen(&config).map_err(anyhow::Error::msg)?;
    let tls = match &config.api_tls {
        Some(files) => {
            Some(access::tls_config(files).map_err(|e| anyhow::anyhow!("API TLS: {e}"))?)
        }
        None => None,
    };
    let token_path = config
        .api_token_file
        .clone()
        .unwrap_or_else(|| token::default_path(&config.data_dir));
    let token = Arc::new(token::TokenCheck::open(&token_path).context("the node API's token")?);
    let policy = actix_web::web::Data::new(access::AccessPolicy::new(&config, token));
    let cors_origins = config.api_cors_origins.clone();
    actix::System::new().block_on(async move {
        let node = node::Node::start(config).await?;
        crate::deeploy::start(&node).await;
        crate::oraclesync::start(&node).await;
        let data = actix_web::web::Data::new(node.clone());
        let addr = node.config().api;
        let server = actix_web::HttpServer::new(move || {
            let mut cors = actix_cors::Cors::default()
                .allowed_methods(["GET", "PUT", "POST", "DELETE"])
                .allowed_headers([
                    actix_web::http::header::AUTHORIZATION,
                    actix_web::http::header::CONTENT_TYPE,
                ])
                .max_age(600);
            for origin in &cors_origins {
                cors = cors.allowed_origin(origin.trim_end_matches('/'));
            }
            actix_web::App::new()
                .app_data(data.clone())
                .app_data(policy.clone())
                .configure(api::routes)
                .wrap(actix_web::middleware::from_fn(access::guard))
                .wrap(actix_web::middleware::Condition::new(
                    !cors_origins.is_empty(),
                    cors,
                ))
        })
        .workers(2);
        let server = match tls {
            Some(tls) => server.bind_rustls_0_23(addr, tls),
            None => server.bind(addr),
        }
        .with_context(|| format!("cannot listen on {addr}"))?
        .run();
        let scheme = if node.config().api_tls.is_some() { "https" } else { "http" };
        tracing::info!(
            api = %format!("{scheme}://{addr}"),
            data_dir = %node.config().data_dir.display(),
            dev = node.config().dev,
            "r1 node ready"
        );
        tracing::info!(
            token = %token_path.display(),
            "API token: clients read it from this file (R1_API_TOKEN_FILE) or take it as R1_API_TOKEN; `r1 token rotate` replaces it"
        );
        if node.config().dev {
            tracing::warn!("dev trust policy: unsigned components are allowed");
        }
        // actix-web stops on SIGINT/SIGTERM; then the actors are stopped in order.
        server.await.context("HTTP server failed")?;
        node.runtime().shutdown().await;
        tracing::info!("r1 node stopped");
        anyhow::Ok(())
    })
}
