//! The app spec: one TOML document describing an app (see `docs/deeploy.md`).
//!
//! ```toml
//! name = "pipeline"
//! version = "1.2.0"
//! replicas = 3                  # or: per_node = true (one on every matching node)
//! spread = "zone"               # spread replicas over this node tag
//!
//! [constraints]
//! arch = "x86_64"
//! min_memory_mb = 512
//! gpu = false
//! models = ["all-minilm-l6-v2"]
//! tags = { tier = "edge" }
//!
//! [[components]]
//! name = "sink"
//! cid = "bafkr4…"               # or: file = "target/wasm/pipeline_sink.wasm" (r1 deploy adds it)
//! grants = ["cstore:pipeline", "mesh"]
//! config = { in = "pipeline.clean" }
//!
//! [health]
//! interval_ms = 2000
//! timeout_ms = 500
//! message = "health"
//!
//! [update]
//! max_unavailable = 1
//! max_surge = 1
//! min_healthy_ms = 3000
//! canaries = 0
//! auto_revert = true
//!
//! [restart]
//! max_restarts = 5
//! window_ms = 30000
//! backoff_ms = 10
//! max_backoff_ms = 2000
//! ```

use std::collections::{BTreeMap, BTreeSet};

use r1_core::name::{NameKind, check_name};
use serde::{Deserialize, Serialize};

use crate::DeeployError;

/// Largest replica count a spec may ask for.
pub const MAX_REPLICAS: u32 = 1000;

/// An app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    /// The app's name (the naming rule); its identity is `OWNER/NAME`.
    pub name: String,
    /// The version being deployed (free text, e.g. semver).
    pub version: String,
    /// How many replicas of each component; exclusive with `per_node`.
    #[serde(default)]
    pub replicas: Option<u32>,
    /// One replica on every node that matches the constraints.
    #[serde(default)]
    pub per_node: bool,
    /// Spread replicas evenly over the values of this node tag.
    #[serde(default)]
    pub spread: Option<String>,
    /// Where replicas may go.
    #[serde(default)]
    pub constraints: Constraints,
    /// The components, each placed with the same replica rule.
    pub components: Vec<ComponentSpec>,
    /// How liveness is checked; none: running is healthy.
    #[serde(default)]
    pub health: Option<Health>,
    /// How a new version replaces the old.
    #[serde(default)]
    pub update: UpdateStrategy,
    /// How a crashed replica is restarted on its node (default: the node's policy).
    #[serde(default)]
    pub restart: Option<Restart>,
}

/// A replica's restart policy: crashes are restarted after a backoff that doubles from
/// `backoff_ms` up to `max_backoff_ms`; more than `max_restarts` within `window_ms` marks the
/// replica failed (during an update, that fails the new version: it reverts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Restart {
    /// Crashes allowed inside the window.
    pub max_restarts: u32,
    /// The window, in milliseconds.
    pub window_ms: u64,
    /// The first backoff, in milliseconds.
    pub backoff_ms: u64,
    /// The longest backoff, in milliseconds.
    pub max_backoff_ms: u64,
}

impl Default for Restart {
    fn default() -> Self {
        Self {
            max_restarts: 5,
            window_ms: 30_000,
            backoff_ms: 10,
            max_backoff_ms: 2_000,
        }
    }
}

/// Node requirements.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraints {
    /// CPU architecture (`x86_64`, `aarch64`).
    #[serde(default)]
    pub arch: Option<String>,
    /// Memory the node must have, in MiB.
    #[serde(default)]
    pub min_memory_mb: Option<u64>,
    /// The node must have a GPU.
    #[serde(default)]
    pub gpu: bool,
    /// Models the node must serve.
    #[serde(default)]
    pub models: Vec<String>,
    /// Tags the node must carry with these values.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// One component of an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentSpec {
    /// Its name within the app (the naming rule); instances are named after it.
    pub name: String,
    /// `wasm` (default), or `oci`: an OCI container (the fallback), placed only on nodes
    /// that run containers.
    #[serde(default = "wasm_kind")]
    pub kind: String,
    /// The component by R1FS content id (for `oci`: a tar of its image layout).
    #[serde(default)]
    pub cid: Option<String>,
    /// For `oci`: the image's manifest digest (`sha256:…`); the layout in `cid` must hold
    /// exactly this image (`r1 deploy` fills it in for a `file` layout).
    #[serde(default)]
    pub image: Option<String>,
    /// A local file that `r1 deploy` adds to R1FS first (replaced by its `cid`).
    #[serde(default)]
    pub file: Option<String>,
    /// Grant strings, as for `r1 actor start --grant`.
    #[serde(default)]
    pub grants: Vec<String>,
    /// Configuration pairs.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

/// `sha256:` and 64 lower-case hex digits.
fn is_sha256_digest(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn wasm_kind() -> String {
    "wasm".into()
}

/// A health check: the message the component answers, how often, how long to wait.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// Between checks, in milliseconds.
    pub interval_ms: u64,
    /// How long an answer may take, in milliseconds.
    pub timeout_ms: u64,
    /// The message sent; any non-error reply is healthy.
    #[serde(default = "health_message")]
    pub message: String,
}

fn health_message() -> String {
    "health".into()
}

/// A rolling update's rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpdateStrategy {
    /// Replicas that may be down at once during an update.
    pub max_unavailable: u32,
    /// Replicas that may run beyond the count during an update.
    pub max_surge: u32,
    /// How long a new replica must stay healthy before the next batch, in milliseconds.
    pub min_healthy_ms: u64,
    /// New replicas started first and watched before the rest.
    pub canaries: u32,
    /// Go back to the previous version when the new one fails its health checks.
    pub auto_revert: bool,
    /// How long a new replica may take to become healthy before it counts as failing, in
    /// milliseconds.
    pub progress_deadline_ms: u64,
}

impl Default for UpdateStrategy {
    fn default() -> Self {
        Self {
            max_unavailable: 1,
            max_surge: 1,
            min_healthy_ms: 2000,
            canaries: 0,
            auto_revert: true,
            progress_deadline_ms: 30_000,
        }
    }
}

fn invalid(why: impl Into<String>) -> DeeployError {
    DeeployError::Invalid(why.into())
}

impl AppSpec {
    /// Parses and validates a spec.
    pub fn parse(text: &str) -> Result<Self, DeeployError> {
        let spec: AppSpec = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        spec.validate()?;
        Ok(spec)
    }

    /// Checks everything a spec's fields must satisfy together.
    pub fn validate(&self) -> Result<(), DeeployError> {
        check_name(NameKind::Actor, &self.name).map_err(|e| invalid(format!("name: {e}")))?;
        if self.version.trim().is_empty() {
            return Err(invalid("version must not be empty"));
        }
        match (self.replicas, self.per_node) {
            (Some(_), true) => return Err(invalid("give replicas or per_node, not both")),
            (None, false) => return Err(invalid("give replicas = N or per_node = true")),
            (Some(n), false) if n == 0 || n > MAX_REPLICAS => {
                return Err(invalid(format!("replicas must be 1 to {MAX_REPLICAS}")));
            }
            _ => {}
        }
        if self.components.is_empty() {
            return Err(invalid("an app needs at least one [[components]]"));
        }
        let mut seen = BTreeSet::new();
        for c in &self.components {
            check_name(NameKind::Actor, &c.name)
                .map_err(|e| invalid(format!("component name: {e}")))?;
            if !seen.insert(&c.name) {
                return Err(invalid(format!("component {:?} appears twice", c.name)));
            }
            match (c.kind.as_str(), &c.image) {
                ("wasm", None) => {}
                ("wasm", Some(_)) => {
                    return Err(invalid(format!(
                        "component {:?}: image is for kind = \"oci\" components",
                        c.name
                    )));
                }
                ("oci", Some(image)) if is_sha256_digest(image) => {}
                // `r1 deploy` imports the layout named by `file` and fills in its digest.
                ("oci", None) if c.file.is_some() => {}
                ("oci", _) => {
                    return Err(invalid(format!(
                        "component {:?}: kind = \"oci\" needs image = \"sha256:<64 hex>\" (its manifest digest)",
                        c.name
                    )));
                }
                (other, _) => {
                    return Err(invalid(format!(
                        "component {:?}: unknown kind {other:?} (wasm or oci)",
                        c.name
                    )));
                }
            }
            if c.cid.is_some() == c.file.is_some() {
                return Err(invalid(format!(
                    "component {:?}: give exactly one of cid or file",
                    c.name
                )));
            }
            for grant in &c.grants {
                if grant.trim().is_empty() {
                    return Err(invalid(format!("component {:?}: an empty grant", c.name)));
                }
            }
        }
        if let Some(h) = &self.health
            && (h.interval_ms == 0 || h.timeout_ms == 0 || h.timeout_ms > h.interval_ms)
        {
            return Err(invalid(
                "health: interval_ms and timeout_ms must be > 0, timeout_ms ≤ interval_ms",
            ));
        }
        if let Some(r) = &self.restart
            && (r.window_ms == 0 || r.backoff_ms > r.max_backoff_ms)
        {
            return Err(invalid(
                "restart: window_ms must be > 0 and backoff_ms ≤ max_backoff_ms",
            ));
        }
        if self.update.max_unavailable == 0 && self.update.max_surge == 0 {
            return Err(invalid(
                "update: max_unavailable and max_surge cannot both be 0 (nothing could move)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const EXAMPLE: &str = r#"
name = "pipeline"
version = "1.0.0"
replicas = 3
spread = "zone"

[constraints]
arch = "x86_64"
tags = { tier = "edge" }

[[components]]
name = "sink"
cid = "bafkr4example"
grants = ["cstore:pipeline", "mesh"]
config = { in = "pipeline.clean" }

[[components]]
name = "source"
file = "target/wasm/pipeline_source.wasm"
grants = ["mesh"]

[health]
interval_ms = 1000
timeout_ms = 200

[restart]
max_restarts = 3
window_ms = 10000
"#;

    #[test]
    fn a_full_spec_parses_with_defaults_filled() {
        let spec = AppSpec::parse(EXAMPLE).unwrap();
        assert_eq!(spec.replicas, Some(3));
        assert_eq!(spec.components.len(), 2);
        assert_eq!(spec.components[0].kind, "wasm");
        assert_eq!(spec.health.as_ref().unwrap().message, "health");
        assert_eq!(spec.update, UpdateStrategy::default());
        assert_eq!(spec.constraints.tags["tier"], "edge");
        let restart = spec.restart.as_ref().unwrap();
        assert_eq!((restart.max_restarts, restart.backoff_ms), (3, 10));
    }

    #[test]
    fn wrong_specs_are_refused_with_the_reason() {
        let cases = [
            ("replicas = 3", "per_node = true\nreplicas = 3", "not both"),
            ("replicas = 3", "", "replicas = N or per_node"),
            ("replicas = 3", "replicas = 0", "replicas must be 1"),
            ("name = \"pipeline\"", "name = \"a/b\"", "name"),
            (
                "cid = \"bafkr4example\"",
                "cid = \"x\"\nfile = \"y\"",
                "exactly one of cid or file",
            ),
            (
                "cid = \"bafkr4example\"",
                "cid = \"x\"\nkind = \"oci\"",
                "needs image",
            ),
            (
                "cid = \"bafkr4example\"",
                "cid = \"x\"\nkind = \"oci\"\nimage = \"sha256:abc\"",
                "needs image",
            ),
            (
                "cid = \"bafkr4example\"",
                "cid = \"x\"\nimage = \"sha256:abc\"",
                "image is for kind",
            ),
            (
                "cid = \"bafkr4example\"",
                "cid = \"x\"\nkind = \"vm\"",
                "unknown kind",
            ),
            (
                "timeout_ms = 200",
                "timeout_ms = 5000",
                "timeout_ms ≤ interval_ms",
            ),
            (
                "spread = \"zone\"",
                "spread = \"zone\"\nsurprise = 1",
                "unknown field",
            ),
            ("window_ms = 10000", "window_ms = 0", "restart: window_ms"),
        ];
        for (from, to, expect) in cases {
            let text = EXAMPLE.replacen(from, to, 1);
            let err = AppSpec::parse(&text).unwrap_err().to_string();
            assert!(err.contains(expect), "{from} → {to}: {err}");
        }
        let oci = EXAMPLE.replacen(
            "cid = \"bafkr4example\"",
            &format!(
                "cid = \"x\"\nkind = \"oci\"\nimage = \"sha256:{}\"",
                "a1".repeat(32)
            ),
            1,
        );
        assert_eq!(AppSpec::parse(&oci).unwrap().components[0].kind, "oci");
        let dup = EXAMPLE.replace("name = \"source\"", "name = \"sink\"");
        assert!(
            AppSpec::parse(&dup)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
    }
}
