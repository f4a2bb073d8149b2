//! One unit per capability: everything the runtime knows about a grantable service in one
//! module — its grant syntax, the WIT packages it provides, what a signed component's claims
//! say about it, how it is linked, and how an instance gets its scoped handle — registered in
//! [`UNITS`], the one table the rest of the runtime consults.
//!
//! Adding a capability: a module here with its [`Unit`] (and its WIT host impl beside it), one
//! line in [`UNITS`], a [`Capability`] variant, its field in [`Grants`], [`HostServices`] and
//! [`ActorState`], and a `RuntimeBuilder` method. `docs/architecture.md` lists the steps.
//!
//! Invariants: a grant string, a WIT package and a claim each belong to at most one unit; an
//! interface is linked only for an actor granted its unit (so an ungranted import fails
//! before instantiation, naming the grant), and an instance's handle is scoped to its grant.

pub mod cstore;
pub mod deeploy;
pub mod edil;
pub mod http;
pub mod infer;
pub mod mesh;
pub mod net;
pub mod oraclesync;
pub mod r1fs;

use wasmtime::component::Linker;

use std::sync::Arc;

use r1_core::contract::blobs::BlobService;
use r1_core::contract::edil::EdilService;
use r1_core::contract::infer::InferService;
use r1_core::contract::kv::KeyValue;

use crate::error::GrantError;
use crate::grants::{Capability, Grants, Requirement};
use crate::state::ActorState;

/// A unit's answer about a package: `Some(Ok)` provided, `Some(Err(why))` another version of
/// one of its packages, `None` not its package.
pub type Provides = Option<Result<(), String>>;

/// A unit's reading of a grant string: `Some(result)` when the grant is its own.
pub type Parsed = Option<Result<(), String>>;

/// What the runtime needs to know of one capability.
pub struct Unit {
    /// Which capability this is.
    pub cap: Capability,
    /// How its grant is written, for messages (`cstore:<namespace>`).
    pub hint: &'static str,
    /// The grant kinds it reads, for the list of known grants.
    pub kinds: &'static [&'static str],
    /// Reads `grant` into `grants` if it is this unit's (`None`: not ours).
    pub parse: fn(grant: &str, grants: &mut Grants) -> Parsed,
    /// This unit's grants in string form (the inverse of `parse`).
    pub print: fn(grants: &Grants, out: &mut Vec<String>),
    /// Whether `grants` include this capability at all.
    pub granted: fn(grants: &Grants) -> bool,
    /// Whether `claim` (a signed component's requested capability) is this unit's.
    pub owns_claim: fn(claim: &str) -> bool,
    /// Whether `grants` satisfy this unit's `claim`.
    pub satisfies: fn(claim: &str, grants: &Grants) -> bool,
    /// Whether it provides `package` at `version`.
    pub provides: fn(package: &str, version: Option<&str>) -> Provides,
    /// Links its interfaces.
    pub link: fn(linker: &mut Linker<ActorState>) -> wasmtime::Result<()>,
    /// Gives an instance granted this capability its scoped handle, or says which service
    /// the node lacks.
    pub attach:
        fn(grants: &Grants, services: &HostServices, state: &mut ActorState) -> Result<(), String>,
}

/// Every capability the runtime can grant, in linking order.
pub static UNITS: [&Unit; 9] = [
    &cstore::UNIT,
    &r1fs::UNIT,
    &infer::UNIT,
    &edil::UNIT,
    &mesh::UNIT,
    &http::UNIT,
    &deeploy::UNIT,
    &net::UNIT,
    &oraclesync::UNIT,
];

/// The unit of `cap`.
pub fn unit(cap: Capability) -> &'static Unit {
    UNITS
        .iter()
        .find(|u| u.cap == cap)
        .copied()
        .unwrap_or_else(|| unreachable!("every Capability has a unit in UNITS"))
}

/// The node's services an actor may be granted; what it is granted is cut from these. Handed
/// to the runtime once, through [`crate::RuntimeBuilder`], before any actor starts.
#[derive(Clone, Default)]
pub struct HostServices {
    /// Key/value with hashes and CAS (CSTORE): `cstore:NS` and `wasi:keyvalue`.
    pub key_value: Option<Arc<dyn KeyValue>>,
    /// Content-addressed files (R1FS): `r1fs`, `r1fs-ro`.
    pub blobs: Option<Arc<dyn BlobService>>,
    /// Models: `infer`, `infer:MODEL`.
    pub infer: Option<Arc<dyn InferService>>,
    /// Federated learning: `edil:JOB`, `edil-owner:JOB`.
    pub edil: Option<Arc<dyn EdilService>>,
    /// Deeploy's scheduler control: `deeploy` (system actors only).
    pub deeploy: Option<Arc<dyn r1_core::contract::deeploy::SchedulerControl>>,
    /// OracleSync's oracle control: `oraclesync` (system actors only).
    pub oraclesync: Option<Arc<dyn r1_core::contract::oraclesync::OracleControl>>,
}

/// Gives `state` the scoped handle of every capability `grants` include.
pub fn attach(
    grants: &Grants,
    services: &HostServices,
    state: &mut ActorState,
) -> Result<(), String> {
    for unit in &UNITS {
        if (unit.granted)(grants) {
            (unit.attach)(grants, services, state)?;
        }
    }
    Ok(())
}

impl Capability {
    /// How the grant is written, for messages (`cstore:<namespace>`).
    pub fn grant_hint(self) -> &'static str {
        unit(self).hint
    }
}

/// Grant lists: each grant is read by its unit (or is a WASI preopen, `fs:` / `fs-ro:`).
impl Grants {
    /// Parses grant strings like `cstore:app` or `fs-ro:/srv/models=/models`.
    pub fn parse<S: AsRef<str>>(grants: &[S]) -> Result<Self, GrantError> {
        let mut out = Grants::default();
        for grant in grants {
            out.add(grant.as_ref())?;
        }
        Ok(out)
    }

    /// Parses one grant string and adds it; a malformed or unknown grant is an error.
    pub fn add(&mut self, grant: &str) -> Result<(), GrantError> {
        let malformed = |reason: &str| GrantError::Malformed {
            grant: grant.to_owned(),
            reason: reason.to_owned(),
        };
        for unit in &UNITS {
            if let Some(parsed) = (unit.parse)(grant, self) {
                return parsed.map_err(|reason| malformed(&reason));
            }
        }
        let (kind, arg) = grant
            .split_once(':')
            .ok_or_else(|| malformed("expected KIND:ARGUMENT, e.g. cstore:myapp or fs:/dir"))?;
        match kind {
            "fs" | "fs-ro" => self
                .add_preopen(arg, kind == "fs-ro")
                .map_err(|reason| malformed(&reason))?,
            "net" => return Err(malformed("network access cannot be granted to actors yet")),
            _ => {
                let units: Vec<&str> = UNITS.iter().map(|u| u.hint).collect();
                return Err(malformed(&format!(
                    "unknown grant kind; known: fs:DIR, fs-ro:DIR, {}",
                    units.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// Whether `cap` is granted.
    pub fn has(&self, cap: Capability) -> bool {
        (unit(cap).granted)(self)
    }

    /// The capability set that decides which interfaces a linker carries.
    pub fn capabilities(&self) -> Vec<Capability> {
        UNITS
            .iter()
            .filter(|u| (u.granted)(self))
            .map(|u| u.cap)
            .collect()
    }

    /// The grants in their string form.
    pub fn to_strings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for p in &self.preopens {
            let kind = if p.read_only { "fs-ro" } else { "fs" };
            out.push(format!("{kind}:{}={}", p.host.display(), p.guest));
        }
        for unit in &UNITS {
            (unit.print)(self, &mut out);
        }
        out
    }
}

/// What importing `interface` (e.g. `r1:cstore/store@0.1.0`) requires, or why it cannot be
/// provided at all.
pub fn requirement(interface: &str) -> Result<Requirement, String> {
    let (package_path, version) = match interface.split_once('@') {
        Some((p, v)) => (p, Some(v)),
        None => (interface, None),
    };
    let (package, iface) = package_path.split_once('/').unwrap_or((package_path, ""));
    if package == "r1:actor" {
        return r1_package(package, version).map(|()| Requirement::Base);
    }
    // Receiving HTTP is what an HTTP component is; only sending needs a grant.
    if package == "wasi:http" && !http::is_outgoing(iface) {
        return (http::UNIT.provides)(package, version)
            .unwrap_or(Ok(()))
            .map(|()| Requirement::Base);
    }
    for unit in &UNITS {
        if let Some(provided) = (unit.provides)(package, version) {
            return provided.map(|()| Requirement::Capability(unit.cap));
        }
    }
    use crate::host::{config, logging};
    match package {
        "wasi:io" | "wasi:clocks" | "wasi:random" | "wasi:cli" | "wasi:filesystem" => {
            Ok(Requirement::Base)
        }
        config::PACKAGE | logging::PACKAGE => {
            let served = if package == config::PACKAGE {
                config::VERSION
            } else {
                logging::VERSION
            };
            if version == Some(served) {
                Ok(Requirement::Base)
            } else {
                Err(format!(
                    "this node provides {package}@{served}, not version {}",
                    version.unwrap_or("(none)")
                ))
            }
        }
        "wasi:sockets" => Err("network access cannot be granted to actors yet".into()),
        _ => Err("no host service on this node provides it".into()),
    }
}

/// `version` is an `@0.1.x` of the `r1:*` packages.
pub(crate) fn r1_compatible(version: Option<&str>) -> bool {
    version.is_some_and(|v| v.starts_with("0.1."))
}

/// The answer for one of our `r1:*` packages at `version`.
pub(crate) fn r1_package(package: &str, version: Option<&str>) -> Result<(), String> {
    if r1_compatible(version) {
        Ok(())
    } else {
        Err(format!(
            "this node provides {package}@0.1.x, not version {}",
            version.unwrap_or("(none)")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grants::ModelScope;

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
    fn the_mesh_grant_is_a_capability_with_its_package_and_claim() {
        let g = Grants::parse(&["mesh"]).unwrap();
        assert!(g.mesh && g.has(Capability::Mesh));
        assert_eq!(g.to_strings(), vec!["mesh".to_string()]);
        assert_eq!(
            requirement("r1:mesh/actors@0.1.0"),
            Ok(Requirement::Capability(Capability::Mesh))
        );
        assert!(requirement("r1:mesh/actors@0.2.0").is_err());
        let mesh = unit(Capability::Mesh);
        assert!((mesh.owns_claim)("mesh"));
        assert!((mesh.satisfies)("mesh", &g));
        assert!(!(mesh.satisfies)("mesh", &Grants::default()));
        assert!(Grants::parse(&["mesh:x"]).is_err());
    }

    #[test]
    fn outgoing_http_needs_a_host_grant_and_incoming_does_not() {
        assert_eq!(requirement("wasi:http/types@0.2.6"), Ok(Requirement::Base));
        assert_eq!(
            requirement("wasi:http/outgoing-handler@0.2.6"),
            Ok(Requirement::Capability(Capability::Http))
        );
        assert!(requirement("wasi:http/types@0.3.0").is_err());
        let g = Grants::parse(&["http:API.example.com", "http:127.0.0.1:8080"]).unwrap();
        assert_eq!(
            g.to_strings(),
            vec![
                "http:127.0.0.1:8080".to_string(),
                "http:api.example.com".to_string()
            ]
        );
        for bad in ["http:", "http:a/b", "http:host:0", "http:host:port"] {
            assert!(Grants::parse(&[bad]).is_err(), "{bad} accepted");
        }
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
        assert_eq!(
            requirement("wasi:config/store@0.2.0-rc.1"),
            Ok(Requirement::Base)
        );
        assert_eq!(
            requirement("wasi:logging/logging@0.1.0-draft"),
            Ok(Requirement::Base)
        );
        assert!(requirement("wasi:config/store@0.2.0-draft").is_err());
        assert!(requirement("wasi:sockets/tcp@0.2.0").is_err());
        assert_eq!(
            requirement("wasi:keyvalue/store@0.2.0-draft2"),
            Ok(Requirement::Capability(Capability::Cstore))
        );
        assert!(requirement("wasi:keyvalue/store@0.2.0-draft").is_err());
        assert!(requirement("r1:cstore/store@0.2.0").is_err());
        assert!(requirement("acme:evil/backdoor").is_err());
    }

    #[test]
    fn every_capability_has_one_unit_and_kinds_do_not_overlap() {
        for cap in [
            Capability::Cstore,
            Capability::R1fs,
            Capability::Infer,
            Capability::Edil,
            Capability::Mesh,
            Capability::Http,
            Capability::Deeploy,
            Capability::OracleSync,
        ] {
            assert_eq!(UNITS.iter().filter(|u| u.cap == cap).count(), 1, "{cap:?}");
            assert_eq!(unit(cap).cap, cap);
        }
        let mut kinds: Vec<&str> = UNITS.iter().flat_map(|u| u.kinds.iter().copied()).collect();
        let all = kinds.len();
        kinds.sort();
        kinds.dedup();
        assert_eq!(kinds.len(), all, "a grant kind read by two units");
        for package in [
            "r1:cstore",
            "wasi:keyvalue",
            "r1:fs",
            "r1:infer",
            "r1:edil",
            "r1:mesh",
            "wasi:http",
            "r1:deeploy",
            "r1:oraclesync",
        ] {
            let owners = UNITS
                .iter()
                .filter(|u| (u.provides)(package, Some("0.1.0")).is_some())
                .count();
            assert_eq!(owners, 1, "{package}");
        }
    }
}
