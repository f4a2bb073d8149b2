//! R1FS for actors: grants `r1fs` (read and write) and `r1fs-ro`; package `r1:fs@0.1.x`
//! ([`files`]) over the node's [`BlobService`](r1_core::contract::blobs::BlobService).

pub mod files;

use super::Unit;
use crate::grants::{Capability, Grants};

/// The R1FS capability.
pub static UNIT: Unit = Unit {
    cap: Capability::R1fs,
    hint: "r1fs",
    kinds: &["r1fs", "r1fs-ro"],
    parse: |grant, grants: &mut Grants| match grant {
        // Read-write wins over read-only when both are given.
        "r1fs" => {
            grants.r1fs = Some(false);
            Some(Ok(()))
        }
        "r1fs-ro" => {
            grants.r1fs = Some(grants.r1fs.unwrap_or(true));
            Some(Ok(()))
        }
        _ => None,
    },
    print: |grants, out| match grants.r1fs {
        Some(true) => out.push("r1fs-ro".into()),
        Some(false) => out.push("r1fs".into()),
        None => {}
    },
    granted: |grants| grants.r1fs.is_some(),
    owns_claim: |claim| claim == "r1fs" || claim == "r1fs-ro",
    satisfies: |claim, grants| match claim {
        "r1fs" => grants.r1fs == Some(false),
        _ => grants.r1fs.is_some(),
    },
    provides: |package, version| (package == "r1:fs").then(|| super::r1_package(package, version)),
    link: files::add_to_linker,
    attach: |grants, services, state| {
        let Some(read_only) = grants.r1fs else {
            return Ok(());
        };
        let service = services
            .blobs
            .clone()
            .ok_or("R1FS is granted but this node runs no R1FS")?;
        state.blobs = Some((service, read_only));
        Ok(())
    },
};
