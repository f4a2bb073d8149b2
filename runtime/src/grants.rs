//! Grants: what a deployment allows an actor to touch, and how a component's imports map to
//! the grants they need.
//!
//! Grant syntax (CLI `--grant`, API `grants`):
//! - `cstore:NAMESPACE`: CSTORE, with every key scoped to NAMESPACE.
//! - `fs:HOST_DIR` or `fs:HOST_DIR=GUEST_DIR`: a read-write preopened directory (the guest
//!   sees it at GUEST_DIR, default `/data`); `fs-ro:` the same, read-only.
//! - `r1fs`: R1FS files (`r1:fs`), read and write; `r1fs-ro`: reading only.
//! - `infer`: every model the node serves (`r1:infer`); `infer:MODEL`: that model only
//!   (repeatable).
//! - `edil:JOB`: take part in federated job JOB (`r1:edil` encrypt, aggregate);
//!   `edil-owner:JOB`: also decrypt its aggregates (repeatable).
//!
//! Everything else in WASI is linked with nothing ambient: no environment, no host files but
//! the preopens, no sockets.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::GrantError;
use r1_core::name::{NameKind, check_name};

/// One preopened host directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preopen {
    pub host: PathBuf,
    pub guest: String,
    pub read_only: bool,
}

/// Everything granted to one actor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants {
    /// The CSTORE namespace, when CSTORE is granted.
    pub cstore: Option<String>,
    pub preopens: Vec<Preopen>,
    /// R1FS access, when granted: `Some(true)` = read-only.
    pub r1fs: Option<bool>,
    /// Inference, when granted.
    #[serde(default)]
    pub infer: Option<ModelScope>,
    /// EDIL jobs, and whether the actor may decrypt each (owner).
    #[serde(default)]
    pub edil: std::collections::BTreeMap<String, bool>,
}

/// Which models an `infer` grant opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelScope {
    All,
    Only(BTreeSet<String>),
}

impl ModelScope {
    pub fn allows(&self, model: &str) -> bool {
        match self {
            ModelScope::All => true,
            ModelScope::Only(models) => models.contains(model),
        }
    }
}

/// Capabilities whose interfaces are linked only when granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    Cstore,
    R1fs,
    Infer,
    Edil,
}

impl Capability {
    pub fn grant_hint(self) -> &'static str {
        match self {
            Capability::Cstore => "cstore:<namespace>",
            Capability::R1fs => "r1fs",
            Capability::Infer => "infer[:<model>]",
            Capability::Edil => "edil:<job>",
        }
    }
}

/// What one import needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Always provided (actor messaging, logging, WASI with nothing ambient).
    Base,
    Capability(Capability),
}

impl Grants {
    /// Parses grant strings like `cstore:app` or `fs-ro:/srv/models=/models`.
    pub fn parse<S: AsRef<str>>(grants: &[S]) -> Result<Self, GrantError> {
        let mut out = Grants::default();
        for grant in grants {
            out.add(grant.as_ref())?;
        }
        Ok(out)
    }

    pub fn add(&mut self, grant: &str) -> Result<(), GrantError> {
        let malformed = |reason: &str| GrantError::Malformed {
            grant: grant.to_owned(),
            reason: reason.to_owned(),
        };
        match grant {
            // Read-write wins over read-only when both are given.
            "r1fs" => {
                self.r1fs = Some(false);
                return Ok(());
            }
            "r1fs-ro" => {
                self.r1fs = Some(self.r1fs.unwrap_or(true));
                return Ok(());
            }
            "infer" => {
                self.infer = Some(ModelScope::All);
                return Ok(());
            }
            _ => {}
        }
        let (kind, arg) = grant
            .split_once(':')
            .ok_or_else(|| malformed("expected KIND:ARGUMENT, e.g. cstore:myapp or fs:/dir"))?;
        match kind {
            "cstore" => {
                check_name(NameKind::Namespace, arg).map_err(|e| malformed(&e.to_string()))?;
                if let Some(existing) = &self.cstore
                    && existing != arg
                {
                    return Err(malformed("only one CSTORE namespace may be granted"));
                }
                self.cstore = Some(arg.to_owned());
            }
            "fs" | "fs-ro" => {
                let (host, guest) = match arg.split_once('=') {
                    Some((h, g)) => (h, g),
                    None => (arg, "/data"),
                };
                if host.is_empty() {
                    return Err(malformed("missing host directory"));
                }
                if !guest.starts_with('/') {
                    return Err(malformed("guest path must be absolute, e.g. /data"));
                }
                let host = PathBuf::from(host);
                if !host.is_dir() {
                    return Err(malformed("host directory does not exist"));
                }
                self.preopens.push(Preopen {
                    host,
                    guest: guest.to_owned(),
                    read_only: kind == "fs-ro",
                });
            }
            "infer" => {
                check_name(NameKind::Model, arg).map_err(|e| malformed(&e.to_string()))?;
                match &mut self.infer {
                    Some(ModelScope::All) => {}
                    Some(ModelScope::Only(models)) => {
                        models.insert(arg.to_owned());
                    }
                    None => self.infer = Some(ModelScope::Only([arg.to_owned()].into())),
                }
            }
            "edil" | "edil-owner" => {
                check_name(NameKind::Job, arg).map_err(|e| malformed(&e.to_string()))?;
                let owner = self.edil.entry(arg.to_owned()).or_insert(false);
                *owner |= kind == "edil-owner";
            }
            "net" => return Err(malformed("network access cannot be granted to actors yet")),
            _ => {
                return Err(malformed(
                    "unknown grant kind; known: cstore:NS, fs:DIR, fs-ro:DIR, r1fs, r1fs-ro, infer, infer:MODEL, edil:JOB, edil-owner:JOB",
                ));
            }
        }
        Ok(())
    }

    pub fn has(&self, cap: Capability) -> bool {
        match cap {
            Capability::Cstore => self.cstore.is_some(),
            Capability::R1fs => self.r1fs.is_some(),
            Capability::Infer => self.infer.is_some(),
            Capability::Edil => !self.edil.is_empty(),
        }
    }

    /// The capability set that decides which interfaces a linker carries.
    pub fn capabilities(&self) -> Vec<Capability> {
        [
            Capability::Cstore,
            Capability::R1fs,
            Capability::Infer,
            Capability::Edil,
        ]
        .into_iter()
        .filter(|c| self.has(*c))
        .collect()
    }

    /// The grants in their string form.
    pub fn to_strings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(ns) = &self.cstore {
            out.push(format!("cstore:{ns}"));
        }
        for p in &self.preopens {
            let kind = if p.read_only { "fs-ro" } else { "fs" };
            out.push(format!("{kind}:{}={}", p.host.display(), p.guest));
        }
        match self.r1fs {
            Some(true) => out.push("r1fs-ro".into()),
            Some(false) => out.push("r1fs".into()),
            None => {}
        }
        match &self.infer {
            Some(ModelScope::All) => out.push("infer".into()),
            Some(ModelScope::Only(models)) => {
                out.extend(models.iter().map(|m| format!("infer:{m}")));
            }
            None => {}
        }
        for (job, owner) in &self.edil {
            let kind = if *owner { "edil-owner" } else { "edil" };
            out.push(format!("{kind}:{job}"));
        }
        out
    }
}

/// Names of actors, namespaces, jobs and models: the one rule of [`r1_core::name`].
pub use r1_core::name::is_valid_name as valid_name;

/// What importing `interface` (e.g. `r1:cstore/store@0.1.0`) requires, or why it cannot be
/// provided at all.
pub fn requirement(interface: &str) -> Result<Requirement, String> {
    let (package_path, version) = match interface.split_once('@') {
        Some((p, v)) => (p, Some(v)),
        None => (interface, None),
    };
    let (package, _iface) = package_path.split_once('/').unwrap_or((package_path, ""));
    let r1_compatible = || version.is_some_and(|v| v.starts_with("0.1."));
    match package {
        "r1:actor" if r1_compatible() => Ok(Requirement::Base),
        "r1:cstore" if r1_compatible() => Ok(Requirement::Capability(Capability::Cstore)),
        "r1:fs" if r1_compatible() => Ok(Requirement::Capability(Capability::R1fs)),
        "r1:infer" if r1_compatible() => Ok(Requirement::Capability(Capability::Infer)),
        "r1:edil" if r1_compatible() => Ok(Requirement::Capability(Capability::Edil)),
        "wasi:keyvalue" if version == Some("0.2.0-draft2") => {
            Ok(Requirement::Capability(Capability::Cstore))
        }
        "wasi:keyvalue" => Err(format!(
            "this node provides wasi:keyvalue@0.2.0-draft2, not {}",
            version.unwrap_or("(unversioned)")
        )),
        "r1:actor" | "r1:cstore" | "r1:fs" | "r1:infer" | "r1:edil" => Err(format!(
            "this node provides {package}@0.1.x, not version {}",
            version.unwrap_or("(none)")
        )),
        "wasi:io" | "wasi:clocks" | "wasi:random" | "wasi:cli" | "wasi:filesystem" => {
            Ok(Requirement::Base)
        }
        "wasi:sockets" => Err("network access cannot be granted to actors yet".into()),
        _ => Err("no host service on this node provides it".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_grants() {
        let dir = std::env::temp_dir();
        let g = Grants::parse(&[
            "cstore:app".to_string(),
            format!("fs-ro:{}=/in", dir.display()),
            "r1fs-ro".to_string(),
        ])
        .unwrap();
        assert_eq!(g.cstore.as_deref(), Some("app"));
        assert_eq!(g.preopens.len(), 1);
        assert!(g.preopens[0].read_only);
        assert_eq!(g.preopens[0].guest, "/in");
        assert_eq!(g.r1fs, Some(true));
        assert_eq!(
            Grants::parse(&["r1fs-ro", "r1fs"]).unwrap().r1fs,
            Some(false)
        );
        assert_eq!(Grants::parse(&g.to_strings()).unwrap(), g);
    }

    #[test]
    fn model_and_job_grants_accumulate_and_round_trip() {
        let g = Grants::parse(&[
            "infer:a",
            "infer:b",
            "edil:job1",
            "edil-owner:job2",
            "edil:job2",
        ])
        .unwrap();
        assert!(
            g.infer
                .as_ref()
                .is_some_and(|s| s.allows("a") && s.allows("b"))
        );
        assert!(!g.infer.as_ref().unwrap().allows("c"));
        assert_eq!(g.edil.get("job1"), Some(&false));
        assert_eq!(
            g.edil.get("job2"),
            Some(&true),
            "owner is kept when edil: follows"
        );
        assert_eq!(Grants::parse(&g.to_strings()).unwrap(), g);
        let all = Grants::parse(&["infer:a", "infer"]).unwrap();
        assert_eq!(all.infer, Some(ModelScope::All));
        assert!(Grants::parse(&["infer:"]).is_err());
        assert!(Grants::parse(&["edil:a/b"]).is_err());
    }

    #[test]
    fn refuses_bad_grants() {
        for bad in [
            "cstore",
            "cstore:",
            "cstore:a/b",
            "fs:/definitely/not/here",
            "fs:/tmp=rel",
            "net:any",
            "gpu:0",
        ] {
            assert!(Grants::parse(&[bad]).is_err(), "{bad} accepted");
        }
        assert!(Grants::parse(&["cstore:a", "cstore:b"]).is_err());
    }

    #[test]
    fn maps_imports_to_requirements() {
        assert_eq!(requirement("r1:actor/mailbox@0.1.0"), Ok(Requirement::Base));
        assert_eq!(
            requirement("r1:cstore/store@0.1.0"),
            Ok(Requirement::Capability(Capability::Cstore))
        );
        assert_eq!(requirement("wasi:cli/stdout@0.2.6"), Ok(Requirement::Base));
        assert!(requirement("wasi:sockets/tcp@0.2.0").is_err());
        assert_eq!(
            requirement("wasi:keyvalue/store@0.2.0-draft2"),
            Ok(Requirement::Capability(Capability::Cstore))
        );
        assert!(requirement("wasi:keyvalue/store@0.2.0-draft").is_err());
        assert!(requirement("r1:cstore/store@0.2.0").is_err());
        assert!(requirement("acme:evil/backdoor").is_err());
    }
}
