//! The node's listener for HTTP components (`wasi:http/proxy`): each is deployed with a route
//! (a path prefix, `/api`), and a request goes to the component with the longest route that
//! is a whole-segment prefix of its path (`/api` serves `/api` and `/api/x`, not `/apix`).
//! A path no route matches is 404; a component that fails a request (trap, deadline, no
//! response) is 500 with the reason logged, and the next request gets a fresh instance.
//!
//! Separate from the API listener on purpose: an app is public to whoever can reach this
//! address; the API needs the node's token. Requests run on this listener's own threads.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use r1_runtime::Runtime;

type Body = r1_runtime::http::ResponseBody;

/// Routes (path prefixes) to HTTP component names.
#[derive(Default)]
pub struct Routes(RwLock<BTreeMap<String, String>>);

impl Routes {
    /// Serves component `name` on `route`; a route already taken by another is refused.
    pub fn add(&self, route: &str, name: &str) -> Result<(), String> {
        check_route(route)?;
        let mut routes = self.0.write().unwrap_or_else(|p| p.into_inner());
        match routes.get(route) {
            Some(owner) if owner != name => Err(format!("route {route} is served by {owner:?}")),
            _ => {
                routes.insert(route.to_owned(), name.to_owned());
                Ok(())
            }
        }
    }

    /// Stops serving whatever routes lead to `name`.
    pub fn remove_component(&self, name: &str) {
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, owner| owner != name);
    }

    /// The component serving `path`: the longest whole-segment prefix.
    pub fn lookup(&self, path: &str) -> Option<String> {
        let routes = self.0.read().unwrap_or_else(|p| p.into_inner());
        routes
            .iter()
            .filter(|(route, _)| {
                route.as_str() == "/"
                    || path == route.as_str()
                    || path
                        .strip_prefix(route.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            })
            .max_by_key(|(route, _)| route.len())
            .map(|(_, name)| name.clone())
    }
}

/// A route is `/` or `/seg[/seg…]` of URL-safe characters, without a trailing `/`.
pub fn check_route(route: &str) -> Result<(), String> {
    let ok = route == "/"
        || (route.starts_with('/')
            && !route.ends_with('/')
            && route[1..].split('/').all(|seg| {
                !seg.is_empty()
                    && seg != ".."
                    && seg != "."
                    && seg
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
            }));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "route {route:?} must be / or /segment[/segment…] (letters, digits, - . _ ~)"
        ))
    }
}

/// The listener and the threads requests run on.
pub struct HttpFront {
    io: Option<tokio::runtime::Runtime>,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Drop for HttpFront {
    fn drop(&mut self) {
        // Never block inside the node's own runtime on the way out.
        if let Some(io) = self.io.take() {
            io.shutdown_background();
        }
    }
}

fn text(status: u16, message: String) -> hyper::Response<Body> {
    let mut response = hyper::Response::new(
        Full::new(Bytes::from(message))
            .map_err(|never| -> r1_runtime::http::BodyError { match never {} })
            .boxed_unsync(),
    );
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    response
}

/// Listens on `addr` and serves `routes` with `runtime`'s HTTP components.
pub fn start(addr: SocketAddr, runtime: Runtime, routes: Arc<Routes>) -> Result<HttpFront> {
    // Bound first, so a taken port fails the node's start (before any thread exists);
    // accepted on the listener's threads.
    let std_listener = std::net::TcpListener::bind(addr).with_context(|| {
        format!("cannot listen for HTTP components on {addr} (--http ADDR or --http off)")
    })?;
    std_listener.set_nonblocking(true)?;
    let bound = std_listener.local_addr()?;
    let io = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("r1-http")
        .enable_all()
        .build()
        .context("HTTP component threads")?;
    io.spawn(async move {
        let listener = match tokio::net::TcpListener::from_std(std_listener) {
            Ok(listener) => listener,
            Err(e) => {
                tracing::error!("HTTP listener: {e}");
                return;
            }
        };
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!("HTTP accept failed: {e}");
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let (runtime, routes) = (runtime.clone(), routes.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request: hyper::Request<Incoming>| {
                    let (runtime, routes) = (runtime.clone(), routes.clone());
                    async move {
                        let path = request.uri().path().to_owned();
                        let Some(name) = routes.lookup(&path) else {
                            return Ok::<_, std::convert::Infallible>(text(
                                404,
                                format!("no HTTP component serves {path}\n"),
                            ));
                        };
                        Ok(match runtime.handle_http(&name, request).await {
                            Ok(response) => response,
                            Err(err) => {
                                tracing::warn!(component = %name, %path, "{err}");
                                text(500, format!("{err}\n"))
                            }
                        })
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    tracing::info!(%bound, "HTTP components served");
    Ok(HttpFront {
        io: Some(io),
        addr: bound,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_whole_segment_route_wins() {
        let routes = Routes::default();
        routes.add("/api", "api").unwrap();
        routes.add("/api/v2", "v2").unwrap();
        routes.add("/", "site").unwrap();
        assert_eq!(routes.lookup("/api").as_deref(), Some("api"));
        assert_eq!(routes.lookup("/api/users").as_deref(), Some("api"));
        assert_eq!(routes.lookup("/api/v2/users").as_deref(), Some("v2"));
        assert_eq!(routes.lookup("/apix").as_deref(), Some("site"));
        assert!(routes.add("/api", "other").is_err(), "a taken route");
        routes.remove_component("site");
        assert_eq!(routes.lookup("/apix"), None);
        for bad in ["api", "/api/", "/a/../b", "/a b", ""] {
            assert!(check_route(bad).is_err(), "{bad:?} accepted");
        }
    }
}
