//! The node's network for OCI containers: grant `net`. A container without it has its own
//! network namespace with only loopback; with it, it shares the node's. Wasm components have
//! no sockets, so the unit provides no package and links nothing: a wasm actor granted `net`
//! gets nothing more (outgoing HTTP for components is `http:HOST`).

use super::Unit;
use crate::grants::{Capability, Grants};

/// The container network capability.
pub static UNIT: Unit = Unit {
    cap: Capability::Net,
    hint: "net",
    kinds: &["net"],
    parse: |grant, grants: &mut Grants| {
        (grant == "net").then(|| {
            grants.net = true;
            Ok(())
        })
    },
    print: |grants, out| {
        if grants.net {
            out.push("net".into());
        }
    },
    granted: |grants| grants.net,
    owns_claim: |claim| claim == "net",
    satisfies: |_claim, grants| grants.net,
    provides: |_package, _version| None,
    link: |_linker| Ok(()),
    attach: |_grants, _services, _state| Ok(()),
};
