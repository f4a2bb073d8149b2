//! CSTORE for actors: grant `cstore:NAMESPACE`; packages `r1:cstore@0.1.x` ([`store`]) and
//! `wasi:keyvalue@0.2.0-draft2` ([`keyvalue`]); every key an instance touches is in the
//! granted namespace of the node's [`KeyValue`](r1_core::contract::kv::KeyValue) service.

pub mod keyvalue;
pub mod store;

use r1_core::name::{NameKind, check_name};

use super::Unit;
use crate::grants::Capability;

/// The CSTORE capability.
pub static UNIT: Unit = Unit {
    cap: Capability::Cstore,
    hint: "cstore:<namespace>",
    kinds: &["cstore"],
    parse: |grant, grants| {
        let ns = grant.strip_prefix("cstore:")?;
        Some((|| {
            check_name(NameKind::Namespace, ns).map_err(|e| e.to_string())?;
            match &grants.cstore {
                Some(existing) if existing != ns => {
                    Err("only one CSTORE namespace may be granted".to_owned())
                }
                _ => {
                    grants.cstore = Some(ns.to_owned());
                    Ok(())
                }
            }
        })())
    },
    print: |grants, out| {
        if let Some(ns) = &grants.cstore {
            out.push(format!("cstore:{ns}"));
        }
    },
    granted: |grants| grants.cstore.is_some(),
    owns_claim: |claim| claim == "cstore" || claim.starts_with("cstore:"),
    satisfies: |claim, grants| match claim.strip_prefix("cstore:") {
        Some(ns) => grants.cstore.as_deref() == Some(ns),
        None => grants.cstore.is_some(),
    },
    provides: |package, version| match package {
        "r1:cstore" => Some(super::r1_package(package, version)),
        "wasi:keyvalue" if version == Some("0.2.0-draft2") => Some(Ok(())),
        "wasi:keyvalue" => Some(Err(format!(
            "this node provides wasi:keyvalue@0.2.0-draft2, not {}",
            version.unwrap_or("(unversioned)")
        ))),
        _ => None,
    },
    link: |linker| {
        store::add_to_linker(linker)?;
        keyvalue::add_to_linker(linker)
    },
    attach: |grants, services, state| {
        let Some(ns) = &grants.cstore else {
            return Ok(());
        };
        let store = services
            .key_value
            .clone()
            .ok_or("CSTORE is granted but this node has no store")?;
        state.cstore = Some((store, ns.clone()));
        Ok(())
    },
};
