//! The send-time check of outgoing HTTP: a request goes out only to a host the component was
//! granted (`http:HOST`, matched on the request's authority, port included when granted so).
//! The grant itself is the `http` capability unit's (`crate::capability::http`); this guard
//! lives with the host side every instance carries.

use std::collections::BTreeSet;

use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// Outgoing HTTP limited to `allowed` hosts (empty: nothing goes out).
#[derive(Debug, Default, Clone)]
pub struct HttpHooks {
    /// `host` or `host:port`, lower-case.
    pub allowed: BTreeSet<String>,
}

impl HttpHooks {
    /// Whether a request to `authority` (`host[:port]`) may go out.
    pub fn allows(&self, authority: &str) -> bool {
        let authority = authority.to_ascii_lowercase();
        let host = authority
            .rsplit_once(':')
            .map_or(authority.as_str(), |(h, _)| h);
        self.allowed.contains(&authority) || self.allowed.contains(host)
    }
}

type SendFuture = Box<
    dyn std::future::Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<WasiBody>,
                Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for HttpHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> SendFuture {
        _ = fut;
        let authority = request
            .uri()
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default();
        if !self.allows(&authority) {
            tracing::warn!(%authority, "outgoing HTTP refused: host not granted");
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (res, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                res.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn std::future::Future<Output = _> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_granted_hosts_pass() {
        let hooks = HttpHooks {
            allowed: ["api.example.com".to_string(), "127.0.0.1:8080".to_string()].into(),
        };
        assert!(hooks.allows("api.example.com"));
        assert!(
            hooks.allows("API.example.com:443"),
            "a host grant covers its ports"
        );
        assert!(hooks.allows("127.0.0.1:8080"));
        assert!(
            !hooks.allows("127.0.0.1:8081"),
            "a host:port grant is that port only"
        );
        assert!(!hooks.allows("evil.example.com"));
        assert!(!HttpHooks::default().allows("api.example.com"));
    }
}
