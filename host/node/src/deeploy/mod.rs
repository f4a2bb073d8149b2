//! Deeploy on a node (DESIGN §11). Every node:
//!
//! - takes signed app requests into the desired state ([`submit`]): verified (signature,
//!   then window), its nonce claimed here and in CSTORE (a replay is refused, on this node at
//!   once and on every node once the record has replicated), a deploy's spec checked against
//!   this node's operator policy, then written to `r1-deeploy/app/OWNER/NAME`, which
//!   replicates it everywhere; only the owner's key can address `OWNER/NAME`;
//! - beats ([`heartbeat`]): its advert in CSTORE every `heartbeat_ms`;
//! - may run the scheduler system actor (`[deeploy] scheduler`), driven through
//!   [`control::Control`] and ticked every `schedule_ms`;
//! - reconciles ([`reconciler`]): runs exactly the replicas the placements give it, checks
//!   their health and reports it;
//! - answers requests to an app by name from a healthy replica on any node ([`reach`]);
//! - gathers an app's logs from every node that runs a replica ([`logs`]).
//!
//! The records and who writes each are in [`r1_deeploy::state`].

pub mod control;
pub mod heartbeat;
pub mod logs;
pub mod reach;
pub mod reconciler;
pub mod store;

use r1_deeploy::DeeployError;
use r1_deeploy::nonces::NonceStore;
use r1_deeploy::signed::{Action, SignedRequest};
use r1_deeploy::state::{AppPlacement, AppView, DesiredApp, NAMESPACE, keys};

use crate::node::Node;
use store::{now_ms, read_one, read_under};

/// Why a request was not taken: the Deeploy refusal, or the store failing.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// Refused (forged, expired, replayed, foreign owner, invalid, capped by policy).
    #[error(transparent)]
    Refused(#[from] DeeployError),
    /// The app does not exist (remove, rollback).
    #[error("no app {0:?}")]
    NotFound(String),
    /// The request cannot apply to the app as it is (a rollback with nothing to go back to).
    #[error("{0}")]
    Conflict(String),
    /// CSTORE failed.
    #[error("cannot record the app: {0}")]
    Store(String),
}

fn store_error(e: impl std::fmt::Display) -> SubmitError {
    SubmitError::Store(e.to_string())
}

/// A request that passed verification, its nonce claimed and (a deploy) the policy checked:
/// ready to be recorded.
pub struct Accepted {
    verified: r1_deeploy::signed::Verified,
    request: SignedRequest,
}

impl Accepted {
    /// The spec of a deploy.
    pub fn spec(&self) -> Option<&r1_deeploy::spec::AppSpec> {
        self.verified.spec.as_ref()
    }
}

/// Verifies `request` (signature, then window), claims its nonce here and mesh-wide, and
/// checks a deploy's spec against this node's operator policy.
pub fn accept(node: &Node, request: &SignedRequest) -> Result<Accepted, SubmitError> {
    let now_s = now_ms() / 1000;
    let verified = request.verify(now_s)?;
    node.deeploy_nonces().claim(&verified, now_s)?;
    claim_mesh_wide(node, &verified, now_s)?;
    if let Some(spec) = &verified.spec {
        node.config().deeploy.policy.check(spec)?;
    }
    Ok(Accepted {
        verified,
        request: request.clone(),
    })
}

/// Makes sure every component of a deploy can be fetched by any node later: each is pinned
/// here (fetched from the mesh if needed) with `[deeploy] component_copies` copies kept in
/// R1FS, so the node that took the deploy can die without taking the only copy with it. A
/// component no node holds is refused here, before anything is recorded.
pub async fn keep_components(node: &Node, accepted: &Accepted) -> Result<(), SubmitError> {
    use r1_core::contract::blobs::BlobService;
    let Some(spec) = accepted.spec() else {
        return Ok(());
    };
    let copies = node.config().deeploy.component_copies.max(1);
    let blobs: &dyn BlobService = &**node.files();
    for component in &spec.components {
        let Some(cid) = &component.cid else { continue };
        blobs.pin(cid, copies).await.map_err(|e| {
            SubmitError::Refused(DeeployError::Invalid(format!(
                "component {:?}: {cid} cannot be fetched from R1FS on this mesh ({e}); `r1 deploy` adds local files, `r1 fs add` adds one by hand",
                component.name
            )))
        })?;
    }
    Ok(())
}

/// Verifies and applies `request` ([`accept`], then [`record`]); returns the app's desired
/// state (for a remove, the record that was removed). The API also runs
/// [`keep_components`] between the two.
pub fn submit(node: &Node, request: &SignedRequest) -> Result<DesiredApp, SubmitError> {
    let accepted = accept(node, request)?;
    record(node, accepted)
}

/// Writes an accepted request's effect to the desired state.
pub fn record(node: &Node, accepted: Accepted) -> Result<DesiredApp, SubmitError> {
    let Accepted { verified, request } = accepted;
    let request = &request;
    let key = format!("{}{}", keys::APP, verified.app_id);
    let store = node.store();
    let existing: Option<DesiredApp> = read_one(store, &key);
    let desired = match verified.action {
        Action::Deploy => {
            let Some(spec) = &verified.spec else {
                return Err(DeeployError::Invalid("a deploy carries a spec".into()).into());
            };
            // The version replaced is what a rollback or an auto-revert returns to; deploying
            // the same version again keeps the one before it.
            let previous = match &existing {
                Some(old) if old.version != spec.version => Some(old.revision()),
                Some(old) => old.previous.clone(),
                None => None,
            };
            DesiredApp {
                app_id: verified.app_id.clone(),
                owner: request.owner.clone(),
                version: spec.version.clone(),
                spec: request.spec.clone(),
                at_ms: now_ms(),
                previous,
                reverted: None,
            }
        }
        Action::Remove => {
            let existing = existing.ok_or(SubmitError::NotFound(verified.app_id.clone()))?;
            verified.check_owner_of(&existing.app_id)?;
            store.delete(NAMESPACE, &key).map_err(store_error)?;
            tracing::info!(app = %existing.app_id, "app removed");
            return Ok(existing);
        }
        Action::Rollback => {
            let existing = existing.ok_or(SubmitError::NotFound(verified.app_id.clone()))?;
            verified.check_owner_of(&existing.app_id)?;
            let Some(previous) = existing.previous.clone() else {
                return Err(SubmitError::Conflict(format!(
                    "{} has no previous version to roll back to (it runs {})",
                    existing.app_id, existing.version
                )));
            };
            DesiredApp {
                version: previous.version,
                spec: previous.spec,
                previous: Some(existing.revision()),
                at_ms: now_ms(),
                reverted: None,
                ..existing
            }
        }
    };
    store::write(store, &key, &desired).map_err(SubmitError::Store)?;
    tracing::info!(app = %desired.app_id, version = %desired.version, action = ?verified.action, "app accepted");
    Ok(desired)
}

/// Records the nonce in CSTORE too, so a request replayed to another node is refused there
/// once the record has replicated (milliseconds on a healthy mesh; within that lag two nodes
/// could each take one copy — the stated limit). Records whose window has closed are swept.
fn claim_mesh_wide(
    node: &Node,
    verified: &r1_deeploy::signed::Verified,
    now_s: u64,
) -> Result<(), SubmitError> {
    let store = node.store();
    let key = format!(
        "{}{}{}",
        keys::NONCE,
        hex::encode(verified.owner),
        hex::encode(verified.nonce)
    );
    let stored_expiry = |k: &str| -> Option<u64> {
        let bytes = store.get(NAMESPACE, k).ok()??;
        String::from_utf8(bytes).ok()?.parse().ok()
    };
    if stored_expiry(&key).is_some_and(|expiry| expiry >= now_s) {
        return Err(DeeployError::Replayed.into());
    }
    store
        .set(NAMESPACE, &key, verified.not_after.to_string().as_bytes())
        .map_err(store_error)?;
    // Sweep a page of closed windows: nothing is kept past the time it could matter.
    if let Ok(page) = store.list_keys(NAMESPACE, keys::NONCE, None, 200) {
        for old in page.keys {
            if stored_expiry(&old).is_some_and(|expiry| expiry < now_s) {
                let _ = store.delete(NAMESPACE, &old);
            }
        }
    }
    Ok(())
}

/// Starts Deeploy on a served node: heartbeats, the reconciler, and the scheduler when
/// `[deeploy] scheduler` names its component (a scheduler that cannot start is logged; the
/// node still beats and runs what is placed on it).
pub async fn start(node: &std::sync::Arc<Node>) {
    use std::time::Duration;
    let settings = node.config().deeploy.clone();
    heartbeat::start(node.clone(), Duration::from_millis(settings.heartbeat_ms));
    reconciler::start(node.clone(), Duration::from_millis(settings.reconcile_ms));
    if let Some(path) = &settings.scheduler {
        let started = match std::fs::read(path) {
            Ok(wasm) => node
                .start_scheduler(wasm, Duration::from_millis(settings.schedule_ms))
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        };
        if let Err(why) = started {
            tracing::error!("deeploy scheduler not started: {why}");
        }
    }
}

/// Every app's desired state this node holds, by app id.
pub fn apps(node: &Node) -> Vec<DesiredApp> {
    read_under(node.store(), keys::APP)
}

/// The app ids whose name (after `OWNER/`) is `name`, or the id itself when `name` is one.
pub fn resolve(node: &Node, name: &str) -> Result<String, SubmitError> {
    if name.contains('/') {
        return Ok(name.to_owned());
    }
    let matching: Vec<String> = apps(node)
        .into_iter()
        .filter(|a| a.name() == name)
        .map(|a| a.app_id)
        .collect();
    match matching.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(SubmitError::NotFound(name.to_owned())),
        many => Err(SubmitError::Conflict(format!(
            "{name:?} names {} apps ({}); give OWNER/{name}",
            many.len(),
            many.join(", ")
        ))),
    }
}

/// The app `app_id` as this node sees it.
pub fn show(node: &Node, app_id: &str) -> Option<AppView> {
    let store = node.store();
    let desired: Option<DesiredApp> = read_one(store, &format!("{}{app_id}", keys::APP));
    let placement: Option<AppPlacement> = read_one(store, &format!("{}{app_id}", keys::PLACEMENT));
    if desired.is_none() && placement.is_none() {
        return None;
    }
    Some(AppView {
        desired,
        placement,
        status: store::fresh_status(node.store(), app_id, node.config().deeploy.fresh_ms()),
    })
}

/// Where the placement rule puts every app now, from the fresh adverts and the desired
/// state, ignoring what runs (a preview; the scheduler keeps running replicas where they are).
/// Apps whose stored spec no longer parses are skipped and logged.
pub fn plan(node: &Node) -> r1_deeploy::placement::Plan {
    let adverts = store::fresh_adverts(node.store(), node.config().deeploy.fresh_ms());
    let apps: Vec<(String, r1_deeploy::spec::AppSpec)> = apps(node)
        .into_iter()
        .filter_map(|app| match r1_deeploy::spec::AppSpec::parse(&app.spec) {
            Ok(spec) => Some((app.app_id, spec)),
            Err(e) => {
                tracing::warn!(app = %app.app_id, "stored spec unreadable: {e}");
                None
            }
        })
        .collect();
    r1_deeploy::placement::place(&adverts, &apps, &Default::default())
}
