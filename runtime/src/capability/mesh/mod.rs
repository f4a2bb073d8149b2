//! Reaching other nodes: grant `mesh`; package `r1:mesh@0.1.x` ([`actors`]) over the router's
//! remote transport ([`RemoteDelivery`](r1_core::contract::remote::RemoteDelivery)). The grant
//! also widens `r1:actor/mailbox` from this node to the mesh (see [`crate::router::Reach`]).

pub mod actors;

use super::Unit;
use crate::grants::{Capability, Grants};
use crate::router::Reach;

/// The mesh capability.
pub static UNIT: Unit = Unit {
    cap: Capability::Mesh,
    hint: "mesh",
    kinds: &["mesh"],
    parse: |grant, grants: &mut Grants| {
        (grant == "mesh").then(|| {
            grants.mesh = true;
            Ok(())
        })
    },
    print: |grants, out| {
        if grants.mesh {
            out.push("mesh".into());
        }
    },
    granted: |grants| grants.mesh,
    owns_claim: |claim| claim == "mesh",
    satisfies: |_claim, grants| grants.mesh,
    provides: |package, version| {
        (package == "r1:mesh").then(|| super::r1_package(package, version))
    },
    link: actors::add_to_linker,
    attach: |grants, _services, state| {
        if !grants.mesh {
            return Ok(());
        }
        if state.router.node_id().is_none() {
            return Err("mesh is granted but this node is on no mesh".into());
        }
        state.reach = Reach::Mesh;
        Ok(())
    },
};
