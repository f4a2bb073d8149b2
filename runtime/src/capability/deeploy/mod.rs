//! Deeploy's scheduler control: grant `deeploy`; package `r1:deeploy@0.1.x`
//! ([`scheduler`]) over the node's
//! [`SchedulerControl`](r1_core::contract::deeploy::SchedulerControl). A system grant: the
//! runtime links it like any other, and the node is what refuses it to every actor but its
//! own scheduler (see `r1_node::Node::deploy`).

pub mod scheduler;

use super::Unit;
use crate::grants::{Capability, Grants};

/// The grant string.
pub const GRANT: &str = "deeploy";

/// The Deeploy control capability.
pub static UNIT: Unit = Unit {
    cap: Capability::Deeploy,
    hint: GRANT,
    kinds: &[GRANT],
    parse: |grant, grants: &mut Grants| {
        (grant == GRANT).then(|| {
            grants.deeploy = true;
            Ok(())
        })
    },
    print: |grants, out| {
        if grants.deeploy {
            out.push(GRANT.into());
        }
    },
    granted: |grants| grants.deeploy,
    owns_claim: |claim| claim == GRANT,
    satisfies: |_claim, grants| grants.deeploy,
    provides: |package, version| {
        (package == "r1:deeploy").then(|| super::r1_package(package, version))
    },
    link: scheduler::add_to_linker,
    attach: |grants, services, state| {
        if !grants.deeploy {
            return Ok(());
        }
        let control = services
            .deeploy
            .clone()
            .ok_or("deeploy is granted but this node runs no Deeploy control")?;
        state.deeploy = Some(control);
        Ok(())
    },
};
