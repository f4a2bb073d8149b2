//! Who may drive the node through its HTTP API: the checks every request passes first.
//!
//! In order, before any handler runs:
//! 1. **Host**: the `Host` header must name the API itself — its bound address, a loopback
//!    name (`localhost`, `127.0.0.1`, `[::1]`) or a name in `api_hosts` — with the API's port.
//!    A DNS-rebinding page sends its own name and gets 403.
//! 2. **Origin**: a request carrying `Origin` (every browser request that could change
//!    state does) must come from the API's own origin or one in `api_cors_origins`; any
//!    other gets 403, even with a valid token. CORS headers are sent only for configured
//!    origins.
//! 3. **Token**: every route except `GET /v1/health` needs `Authorization: Bearer TOKEN`
//!    (see [`crate::token`]); without it, or with another, 401. There are no cookies, so a
//!    browser never sends the credential on its own.
//!
//! Listening: [`check_listen`] lets the API bind beyond loopback only with TLS configured.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::config::NodeConfig;
use crate::token::{Refusal, TokenCheck};

/// The only route served without a token: a liveness probe that reveals nothing.
pub const HEALTH_PATH: &str = "/v1/health";

/// The API's access rules, built once from the configuration.
pub struct AccessPolicy {
    port: u16,
    tls: bool,
    /// Lower-case host names and IP literals (IPv6 without brackets) the API answers to.
    hosts: Vec<String>,
    /// Extra browser origins allowed (CORS), normalised without a trailing slash.
    cors_origins: Vec<String>,
    token: Arc<TokenCheck>,
}

impl AccessPolicy {
    /// The rules for `config`'s API, checking tokens with `token`.
    pub fn new(config: &NodeConfig, token: Arc<TokenCheck>) -> Self {
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        if !config.api.ip().is_unspecified() {
            hosts.push(config.api.ip().to_string());
        }
        hosts.extend(
            config
                .api_hosts
                .iter()
                .map(|h| h.trim_matches(['[', ']']).to_ascii_lowercase()),
        );
        Self {
            port: config.api.port(),
            tls: config.api_tls.is_some(),
            hosts,
            cors_origins: config
                .api_cors_origins
                .iter()
                .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
            token,
        }
    }

    /// Whether `value` (a `Host` header, or an origin's authority) names this API.
    fn own_authority(&self, value: &str) -> bool {
        let Some((host, port)) = split_authority(value) else {
            return false;
        };
        let default_port = if self.tls { 443 } else { 80 };
        port.unwrap_or(default_port) == self.port && self.hosts.contains(&host)
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        if self.cors_origins.contains(&origin) {
            return true;
        }
        let scheme = if self.tls { "https://" } else { "http://" };
        origin
            .strip_prefix(scheme)
            .is_some_and(|authority| self.own_authority(authority))
    }

    fn check(&self, req: &ServiceRequest) -> Result<(), (u16, String)> {
        let headers = req.headers();
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .or_else(|| req.uri().authority().map(|a| a.to_string()));
        match host {
            Some(host) if self.own_authority(&host) => {}
            Some(host) => {
                return Err((
                    403,
                    format!(
                        "Host {host:?} is not this node's API (add it with --api-host if clients reach the node by that name)"
                    ),
                ));
            }
            None => return Err((403, "the request names no Host".into())),
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("(not text)");
            if !self.origin_allowed(origin) {
                return Err((
                    403,
                    format!(
                        "cross-origin requests from {origin:?} are refused (allow an origin with --api-cors-origin)"
                    ),
                ));
            }
        }
        if req.path() == HEALTH_PATH && req.method() == actix_web::http::Method::GET {
            return Ok(());
        }
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            });
        self.token.verify(presented).map_err(|refusal| match refusal {
            Refusal::Unreadable(ref e) => {
                tracing::error!(error = %e, "API token file unreadable; refusing every request");
                (500, refusal.to_string())
            }
            other => (401, other.to_string()),
        })
    }
}

/// `host[:port]` or `[v6]:port` → (lower-case host without brackets, port).
fn split_authority(value: &str) -> Option<(String, Option<u16>)> {
    let value = value.trim();
    if value.is_empty() || value.contains(['/', '@', ' ']) {
        return None;
    }
    if let Some(rest) = value.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host.to_ascii_lowercase(), port));
    }
    match value.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            Some((host.to_ascii_lowercase(), Some(port.parse().ok()?)))
        }
        Some(_) => None, // a bare IPv6 address without brackets
        None => Some((value.to_ascii_lowercase(), None)),
    }
}

/// The middleware: refuses what [`AccessPolicy`] refuses, with a JSON `{"error": …}`.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let verdict = match req.app_data::<web::Data<AccessPolicy>>() {
        Some(policy) => policy.check(&req),
        None => Err((500, "the API has no access policy".into())),
    };
    match verdict {
        Ok(()) => Ok(next.call(req).await?.map_into_left_body()),
        Err((status, message)) => {
            tracing::warn!(
                method = %req.method(),
                path = req.path(),
                peer = ?req.peer_addr(),
                status,
                %message,
                "API request refused"
            );
            let mut resp = HttpResponse::build(
                actix_web::http::StatusCode::from_u16(status)
                    .unwrap_or(actix_web::http::StatusCode::FORBIDDEN),
            );
            if status == 401 {
                resp.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            Ok(req
                .into_response(resp.json(json!({ "error": message })))
                .map_into_right_body())
        }
    }
}

/// Refuses an API address beyond loopback unless TLS is configured (the token is always on).
pub fn check_listen(config: &NodeConfig) -> Result<(), String> {
    let ip: IpAddr = config.api.ip();
    if ip.is_loopback() || config.api_tls.is_some() {
        return Ok(());
    }
    Err(format!(
        "refusing to serve the node API on {}: beyond loopback it must use TLS; give --api-tls-cert and --api-tls-key (or [api_tls] in the config), or listen on 127.0.0.1 (the API token is required either way)",
        SocketAddr::new(ip, config.api.port())
    ))
}

/// The TLS server configuration from the PEM files in `config.api_tls`.
pub fn tls_config(
    tls: &crate::config::ApiTls,
) -> Result<rustls::ServerConfig, Box<dyn std::error::Error + Send + Sync>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(&tls.cert)
        .map_err(|e| format!("cannot read certificates from {}: {e}", tls.cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad certificate in {}: {e}", tls.cert.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", tls.cert.display()).into());
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key)
        .map_err(|e| format!("cannot read a private key from {}: {e}", tls.key.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("certificate and key do not make a TLS identity: {e}"))?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(api: &str, hosts: &[&str], tls: bool) -> AccessPolicy {
        let dir = tempfile::tempdir().unwrap();
        let token = Arc::new(TokenCheck::open(&dir.path().join("t")).unwrap());
        let config = NodeConfig {
            api: api.parse().unwrap(),
            api_hosts: hosts.iter().map(|h| h.to_string()).collect(),
            api_cors_origins: vec!["https://dash.example/".into()],
            api_tls: tls.then(|| crate::config::ApiTls {
                cert: "c".into(),
                key: "k".into(),
            }),
            ..NodeConfig::default()
        };
        AccessPolicy::new(&config, token)
    }

    #[test]
    fn host_must_name_the_api_with_its_port() {
        let p = policy("127.0.0.1:7411", &["Node1.Example"], false);
        for ok in [
            "127.0.0.1:7411",
            "localhost:7411",
            "[::1]:7411",
            "node1.example:7411",
            "LOCALHOST:7411",
        ] {
            assert!(p.own_authority(ok), "{ok}");
        }
        for bad in [
            "evil.example:7411",
            "127.0.0.1:7412",
            "127.0.0.1",
            "localhost.evil.example:7411",
            "user@localhost:7411",
            "",
            "::1",
        ] {
            assert!(!p.own_authority(bad), "{bad}");
        }
        // The default port of the scheme when none is written.
        assert!(policy("0.0.0.0:443", &["node"], true).own_authority("node"));
    }

    #[test]
    fn origins_same_or_configured_only() {
        let p = policy("127.0.0.1:7411", &[], false);
        assert!(p.origin_allowed("http://127.0.0.1:7411"));
        assert!(p.origin_allowed("https://dash.example"));
        assert!(!p.origin_allowed("https://127.0.0.1:7411"));
        assert!(!p.origin_allowed("http://evil.example"));
        assert!(!p.origin_allowed("null"));
    }

    #[test]
    fn beyond_loopback_needs_tls() {
        let mut config = NodeConfig {
            api: "0.0.0.0:7411".parse().unwrap(),
            ..NodeConfig::default()
        };
        let err = check_listen(&config).unwrap_err();
        assert!(err.contains("must use TLS"), "{err}");
        config.api_tls = Some(crate::config::ApiTls {
            cert: "c".into(),
            key: "k".into(),
        });
        assert!(check_listen(&config).is_ok());
        config.api = "[::1]:7411".parse().unwrap();
        config.api_tls = None;
        assert!(check_listen(&config).is_ok());
    }
}
