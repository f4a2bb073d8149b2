//! The operator's cap on what remote specs may ask of this node: host directories only when
//! allowed, a replica ceiling, grant kinds denied outright. Checked after the signature, the
//! window and the nonce, before anything is placed.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::DeeployError;
use crate::spec::AppSpec;

/// What remote specs may be granted here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OperatorPolicy {
    /// Whether `fs:` / `fs-ro:` (host directories) may be granted. Default: no.
    pub allow_host_fs: bool,
    /// Grant kinds (`http`, `edil-owner`, …) refused outright.
    pub deny_kinds: BTreeSet<String>,
    /// The most replicas one app may ask for.
    pub max_replicas: u32,
}

impl Default for OperatorPolicy {
    fn default() -> Self {
        Self {
            allow_host_fs: false,
            deny_kinds: BTreeSet::new(),
            max_replicas: crate::spec::MAX_REPLICAS,
        }
    }
}

/// The control grants of the system actors (Deeploy's scheduler, OracleSync's oracle): never
/// granted to a remote spec.
pub const SYSTEM_GRANTS: [&str; 2] = ["deeploy", "oraclesync"];

/// A grant string's kind: what comes before the first `:` (`cstore:app` → `cstore`).
pub fn grant_kind(grant: &str) -> &str {
    grant.split_once(':').map_or(grant, |(kind, _)| kind)
}

impl OperatorPolicy {
    /// Refuses `spec` if any component asks for more than this node allows, naming it.
    pub fn check(&self, spec: &AppSpec) -> Result<(), DeeployError> {
        if let Some(n) = spec.replicas
            && n > self.max_replicas
        {
            return Err(DeeployError::Policy(format!(
                "{n} replicas asked, this node allows at most {}",
                self.max_replicas
            )));
        }
        for component in &spec.components {
            for grant in &component.grants {
                let kind = grant_kind(grant);
                if SYSTEM_GRANTS.contains(&kind) {
                    return Err(DeeployError::Policy(format!(
                        "component {:?} asks for {grant:?}, which only a node grants to its own system actors",
                        component.name
                    )));
                }
                if (kind == "fs" || kind == "fs-ro") && !self.allow_host_fs {
                    return Err(DeeployError::Policy(format!(
                        "component {:?} asks for host directory grant {grant:?}; this node does not grant host directories to remote specs",
                        component.name
                    )));
                }
                if self.deny_kinds.contains(kind) {
                    return Err(DeeployError::Policy(format!(
                        "component {:?} asks for {grant:?}; this node denies {kind} grants to remote specs",
                        component.name
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(grants: &str, replicas: u32) -> AppSpec {
        AppSpec::parse(&format!(
            "name = \"web\"\nversion = \"1\"\nreplicas = {replicas}\n\n[[components]]\nname = \"api\"\ncid = \"bafkr4x\"\ngrants = [{grants}]\n"
        ))
        .unwrap()
    }

    #[test]
    fn host_directories_and_denied_kinds_are_refused_by_default_or_by_choice() {
        let policy = OperatorPolicy::default();
        policy.check(&spec("\"cstore:web\", \"mesh\"", 3)).unwrap();
        let err = policy
            .check(&spec("\"fs:/etc\"", 1))
            .unwrap_err()
            .to_string();
        assert!(err.contains("host directory"), "{err}");
        assert!(policy.check(&spec("\"fs-ro:/srv=/data\"", 1)).is_err());
        let open = OperatorPolicy {
            allow_host_fs: true,
            ..OperatorPolicy::default()
        };
        open.check(&spec("\"fs-ro:/srv=/data\"", 1)).unwrap();
        for system in SYSTEM_GRANTS {
            assert!(
                open.check(&spec(&format!("{system:?}"), 1))
                    .unwrap_err()
                    .to_string()
                    .contains("system actors")
            );
        }
        let strict = OperatorPolicy {
            deny_kinds: ["http".to_string()].into(),
            max_replicas: 5,
            ..OperatorPolicy::default()
        };
        assert!(strict.check(&spec("\"http:api.example.com\"", 1)).is_err());
        assert!(
            strict
                .check(&spec("\"mesh\"", 6))
                .unwrap_err()
                .to_string()
                .contains("at most 5")
        );
    }
}
