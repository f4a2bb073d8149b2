//! Inference for actors: grants `infer` (every model) and `infer:MODEL` (repeatable); package
//! `r1:infer@0.1.x` ([`inference`]) over the node's
//! [`InferService`](r1_core::contract::infer::InferService), the model scope checked on every
//! load.

pub mod inference;

use r1_core::name::{NameKind, check_name};

use super::Unit;
use crate::grants::{Capability, Grants, ModelScope};

/// The inference capability.
pub static UNIT: Unit = Unit {
    cap: Capability::Infer,
    hint: "infer[:<model>]",
    kinds: &["infer"],
    parse: |grant, grants: &mut Grants| {
        if grant == "infer" {
            grants.infer = Some(ModelScope::All);
            return Some(Ok(()));
        }
        let model = grant.strip_prefix("infer:")?;
        Some(
            check_name(NameKind::Model, model)
                .map_err(|e| e.to_string())
                .map(|()| match &mut grants.infer {
                    Some(ModelScope::All) => {}
                    Some(ModelScope::Only(models)) => {
                        models.insert(model.to_owned());
                    }
                    None => grants.infer = Some(ModelScope::Only([model.to_owned()].into())),
                }),
        )
    },
    print: |grants, out| match &grants.infer {
        Some(ModelScope::All) => out.push("infer".into()),
        Some(ModelScope::Only(models)) => out.extend(models.iter().map(|m| format!("infer:{m}"))),
        None => {}
    },
    granted: |grants| grants.infer.is_some(),
    owns_claim: |claim| claim == "infer" || claim.starts_with("infer:"),
    satisfies: |claim, grants| match claim.strip_prefix("infer:") {
        Some(model) => grants.infer.as_ref().is_some_and(|s| s.allows(model)),
        None => grants.infer == Some(ModelScope::All),
    },
    provides: |package, version| {
        (package == "r1:infer").then(|| super::r1_package(package, version))
    },
    link: inference::add_to_linker,
    attach: |grants, services, state| {
        let Some(scope) = &grants.infer else {
            return Ok(());
        };
        let service = services
            .infer
            .clone()
            .ok_or("inference is granted but this node serves no models")?;
        state.infer = Some((service, scope.clone()));
        Ok(())
    },
};
