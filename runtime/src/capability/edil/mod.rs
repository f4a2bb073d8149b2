//! EDIL for actors: grants `edil:JOB` (encrypt, aggregate) and `edil-owner:JOB` (also
//! decrypt), repeatable; package `r1:edil@0.1.x` ([`federated`]) over the node's
//! [`EdilService`](r1_core::contract::edil::EdilService), the job checked on every call.

pub mod federated;

use r1_core::name::{NameKind, check_name};

use super::Unit;
use crate::grants::{Capability, Grants};

/// The EDIL capability.
pub static UNIT: Unit = Unit {
    cap: Capability::Edil,
    hint: "edil:<job>",
    kinds: &["edil", "edil-owner"],
    parse: |grant, grants: &mut Grants| {
        let (owner, job) = match grant.split_once(':')? {
            ("edil", job) => (false, job),
            ("edil-owner", job) => (true, job),
            _ => return None,
        };
        Some(
            check_name(NameKind::Job, job)
                .map_err(|e| e.to_string())
                .map(|()| {
                    *grants.edil.entry(job.to_owned()).or_insert(false) |= owner;
                }),
        )
    },
    print: |grants, out| {
        for (job, owner) in &grants.edil {
            let kind = if *owner { "edil-owner" } else { "edil" };
            out.push(format!("{kind}:{job}"));
        }
    },
    granted: |grants| !grants.edil.is_empty(),
    owns_claim: |claim| claim.starts_with("edil:") || claim.starts_with("edil-owner:"),
    satisfies: |claim, grants| match claim.split_once(':') {
        Some(("edil", job)) => grants.edil.contains_key(job),
        Some(("edil-owner", job)) => grants.edil.get(job) == Some(&true),
        _ => false,
    },
    provides: |package, version| {
        (package == "r1:edil").then(|| super::r1_package(package, version))
    },
    link: federated::add_to_linker,
    attach: |grants, services, state| {
        if grants.edil.is_empty() {
            return Ok(());
        }
        let service = services
            .edil
            .clone()
            .ok_or("EDIL is granted but this node runs no EDIL")?;
        state.edil = Some((service, grants.edil.clone()));
        Ok(())
    },
};
