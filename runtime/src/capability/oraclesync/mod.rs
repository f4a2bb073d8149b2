//! OracleSync's oracle control: grant `oraclesync`; package `r1:oraclesync@0.1.x`
//! ([`oracle`]) over the node's
//! [`OracleControl`](r1_core::contract::oraclesync::OracleControl). A system grant, like
//! `deeploy`: the runtime links it like any other, and the node refuses it to every actor but
//! its own oracle (see `r1_node::Node::deploy`).

pub mod oracle;

use super::Unit;
use crate::grants::{Capability, Grants};

/// The grant string.
pub const GRANT: &str = "oraclesync";

/// The OracleSync control capability.
pub static UNIT: Unit = Unit {
    cap: Capability::OracleSync,
    hint: GRANT,
    kinds: &[GRANT],
    parse: |grant, grants: &mut Grants| {
        (grant == GRANT).then(|| {
            grants.oraclesync = true;
            Ok(())
        })
    },
    print: |grants, out| {
        if grants.oraclesync {
            out.push(GRANT.into());
        }
    },
    granted: |grants| grants.oraclesync,
    owns_claim: |claim| claim == GRANT,
    satisfies: |_claim, grants| grants.oraclesync,
    provides: |package, version| {
        (package == "r1:oraclesync").then(|| super::r1_package(package, version))
    },
    link: oracle::add_to_linker,
    attach: |grants, services, state| {
        if !grants.oraclesync {
            return Ok(());
        }
        let control = services
            .oraclesync
            .clone()
            .ok_or("oraclesync is granted but this node runs no OracleSync control")?;
        state.oraclesync = Some(control);
        Ok(())
    },
};
