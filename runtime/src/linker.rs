//! The capability linker: which interfaces a component imports, which grants they need, and a
//! linker per capability set that carries only the granted `r1:*` interfaces.
//!
//! A component is checked against its grants *before* instantiation; an ungranted import is a
//! [`GrantError`] naming the actor, the interface and the grant, never a link-time surprise.

use serde::Serialize;
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use crate::capability::requirement;
use crate::error::GrantError;
use crate::grants::{Capability, Grants, Requirement};
use crate::signing::format::{Claims, SignatureError};
use crate::signing::policy::declares;
use crate::state::ActorState;

/// What `r1 inspect` prints about a component.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentReport {
    /// BLAKE3 of the component bytes, hex.
    pub hash: String,
    /// Every import, with what provides it.
    pub imports: Vec<ImportReport>,
    /// Names of the component's exports.
    pub exports: Vec<String>,
    /// Grants the component needs to run (`cstore:<namespace>`, ...).
    pub needs_grants: Vec<String>,
    /// Whether it exports an `r1:actor/handler@0.1.x` interface.
    pub is_actor: bool,
    /// Whether it exports `wasi:cli/run@0.2.x` (a command, run as a job).
    pub is_command: bool,
    /// Whether it exports `wasi:http/incoming-handler@0.2.x` (an HTTP component).
    pub is_http: bool,
}

/// One import of a component and what would provide it.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// The imported interface or function name.
    pub name: String,
    /// `base` (always provided), a grant like `cstore:<namespace>`, or why it is unavailable.
    pub provided_by: String,
}

/// Prefix of the export that marks a component as an actor (`r1:actor/handler`, any 0.1.x).
pub const HANDLER_EXPORT_PREFIX: &str = "r1:actor/handler@0.1.";

fn item_names<'a, T>(items: impl Iterator<Item = (&'a str, T)>) -> Vec<String> {
    items.map(|(name, _)| name.to_owned()).collect()
}

/// Whether an export's name starts with `prefix` (an interface at any compatible version).
fn exports_any(exports: &[String], prefix: &str) -> bool {
    exports.iter().any(|e| e.starts_with(prefix))
}

/// What a component is by its exports: an actor if it exports the `r1:actor` handler, else an
/// HTTP component, else a command; `None` when it is none R1 runs.
pub fn kind_of(exports: &[String]) -> Option<crate::actor::ComponentKind> {
    use crate::actor::ComponentKind;
    if exports_any(exports, HANDLER_EXPORT_PREFIX) {
        Some(ComponentKind::Actor)
    } else if exports_any(exports, crate::http::HTTP_EXPORT_PREFIX) {
        Some(ComponentKind::Http)
    } else if exports_any(exports, crate::job::COMMAND_EXPORT_PREFIX) {
        Some(ComponentKind::Command)
    } else {
        None
    }
}

/// Imports and exports of `component`, by name.
pub fn interfaces(engine: &Engine, component: &Component) -> (Vec<String>, Vec<String>) {
    let ty = component.component_type();
    (
        item_names(ty.imports(engine)),
        item_names(ty.exports(engine)),
    )
}

/// Imports, exports and needed grants of `component`, whose content hash is `hash`.
pub fn report(engine: &Engine, component: &Component, hash: &str) -> ComponentReport {
    let (imports, exports) = interfaces(engine, component);
    let mut needs = Vec::new();
    let imports = imports
        .into_iter()
        .map(|name| {
            let provided_by = match requirement(&name) {
                Ok(Requirement::Base) => "base".to_owned(),
                Ok(Requirement::Capability(cap)) => {
                    needs.push(cap.grant_hint().to_owned());
                    cap.grant_hint().to_owned()
                }
                Err(why) => format!("unavailable: {why}"),
            };
            ImportReport { name, provided_by }
        })
        .collect();
    needs.sort();
    needs.dedup();
    let is_actor = exports_any(&exports, HANDLER_EXPORT_PREFIX);
    let is_command = exports_any(&exports, crate::job::COMMAND_EXPORT_PREFIX);
    let is_http = exports_any(&exports, crate::http::HTTP_EXPORT_PREFIX);
    ComponentReport {
        hash: hash.to_owned(),
        imports,
        exports,
        needs_grants: needs,
        is_actor,
        is_command,
        is_http,
    }
}

/// Refuses `component` unless every import is provided and every needed grant is given.
pub fn check(
    actor: &str,
    engine: &Engine,
    component: &Component,
    grants: &Grants,
) -> Result<(), GrantError> {
    let (imports, _) = interfaces(engine, component);
    for interface in imports {
        match requirement(&interface) {
            Ok(Requirement::Base) => {}
            Ok(Requirement::Capability(cap)) if grants.has(cap) => {}
            Ok(Requirement::Capability(cap)) => {
                return Err(GrantError::NotGranted {
                    actor: actor.to_owned(),
                    interface,
                    grant: cap.grant_hint().to_owned(),
                });
            }
            Err(reason) => {
                return Err(GrantError::Unsupported {
                    actor: actor.to_owned(),
                    interface,
                    reason,
                });
            }
        }
    }
    Ok(())
}

/// For a signed component: every capability its imports need must be requested in its
/// claims, so a publisher cannot ship more reach than it declared.
pub fn check_declared(
    actor: &str,
    engine: &Engine,
    component: &Component,
    claims: &Claims,
) -> Result<(), SignatureError> {
    let (imports, _) = interfaces(engine, component);
    for interface in imports {
        if let Ok(Requirement::Capability(cap)) = requirement(&interface)
            && !declares(claims, cap)
        {
            return Err(SignatureError::UndeclaredCapability {
                actor: actor.to_owned(),
                interface,
                capability: cap.grant_hint().to_owned(),
            });
        }
    }
    Ok(())
}

/// A linker with WASI (nothing ambient), `r1:actor`, `wasi:config`, `wasi:logging` and
/// `wasi:http`, and
/// the interfaces of `caps`.
pub fn build_linker(engine: &Engine, caps: &[Capability]) -> wasmtime::Result<Linker<ActorState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    crate::host::actor::add_to_linker(&mut linker)?;
    crate::host::config::add_to_linker(&mut linker)?;
    crate::host::logging::add_to_linker(&mut linker)?;
    // `wasi:http` types and handlers: receiving is every HTTP component's; sending is
    // checked against its `http:` grants before instantiation and again at every request.
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    for cap in caps {
        (crate::capability::unit(*cap).link)(&mut linker)?;
    }
    Ok(linker)
}
