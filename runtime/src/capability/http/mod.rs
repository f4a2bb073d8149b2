//! HTTP: `wasi:http@0.2.x`. Receiving requests is what an HTTP component is (its
//! `wasi:http/types` and `incoming-handler` need no grant; the node serves it on its route).
//! Sending requests (`wasi:http/outgoing-handler`) needs grant `http:HOST` (repeatable, a
//! host name or `HOST:PORT`), and every request is checked against those hosts when it is
//! sent ([`crate::host::outgoing_http::HttpHooks`]): any other is refused with `HTTP-request-denied`.

use super::Unit;
use crate::grants::{Capability, Grants};

/// The outgoing-HTTP capability.
pub static UNIT: Unit = Unit {
    cap: Capability::Http,
    hint: "http:<host>",
    kinds: &["http"],
    parse: |grant, grants: &mut Grants| {
        let host = grant.strip_prefix("http:")?;
        Some(if valid_host(host) {
            grants.http_hosts.insert(host.to_ascii_lowercase());
            Ok(())
        } else {
            Err("expected http:HOST or http:HOST:PORT, e.g. http:api.example.com".into())
        })
    },
    print: |grants, out| out.extend(grants.http_hosts.iter().map(|h| format!("http:{h}"))),
    granted: |grants| !grants.http_hosts.is_empty(),
    owns_claim: |claim| claim == "http" || claim.starts_with("http:"),
    satisfies: |claim, grants| match claim.strip_prefix("http:") {
        Some(host) => grants.http_hosts.contains(&host.to_ascii_lowercase()),
        None => !grants.http_hosts.is_empty(),
    },
    provides: |package, version| {
        (package == "wasi:http").then(|| match version {
            Some(v) if v.starts_with("0.2.") => Ok(()),
            other => Err(format!(
                "this node provides wasi:http@0.2.x, not version {}",
                other.unwrap_or("(none)")
            )),
        })
    },
    // Linked for every component (incoming requests need the types); the grant check before
    // instantiation and the hooks at send time are what this unit adds.
    link: |_| Ok(()),
    attach: |grants, _services, state| {
        state.http_hooks.allowed = grants.http_hosts.clone();
        Ok(())
    },
};

/// A host name (letters, digits, `-`, `.`) with an optional `:PORT`.
fn valid_host(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0))
}

/// Whether `interface` of `wasi:http` is the outgoing side (the one that needs the grant).
pub fn is_outgoing(interface: &str) -> bool {
    interface == "outgoing-handler"
}
