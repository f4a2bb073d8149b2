//! Deeploy on a node, first part: signed app requests accepted into the desired state.
//!
//! `POST /v1/deeploy/apps` takes a [`SignedRequest`]; it is verified (signature, then window),
//! its nonce claimed here and in CSTORE (a replay is refused, on this node at once and on every
//! node once the record has replicated), and for a deploy its spec checked against this
//! node's operator policy; an accepted deploy is written to CSTORE as desired state
//! (`r1-deeploy/app/OWNER/NAME`), which replicates it to every node. A remove deletes it; only
//! the owner's key can address `OWNER/NAME`. Placement and running it come with the scheduler
//! and the reconciler.

use serde::{Deserialize, Serialize};

use r1_deeploy::DeeployError;
use r1_deeploy::nonces::NonceStore;
use r1_deeploy::signed::{Action, SignedRequest};

use crate::heartbeat::{NAMESPACE, now_ms};
use crate::node::Node;

const PREFIX: &str = "app/";

/// An app's desired state as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredApp {
    /// `OWNER/NAME`.
    pub app_id: String,
    /// The owner's public key, hex.
    pub owner: String,
    /// The spec's version.
    pub version: String,
    /// The spec's TOML text, as signed.
    pub spec: String,
    /// When it was accepted (unix milliseconds).
    pub at_ms: u64,
}

/// Why a request was not taken: the Deeploy refusal, or the store failing.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// Refused (forged, expired, replayed, foreign owner, invalid, capped by policy).
    #[error(transparent)]
    Refused(#[from] DeeployError),
    /// The app does not exist (remove, rollback).
    #[error("no app {0:?}")]
    NotFound(String),
    /// Not done yet by this node (rollback comes with rolling updates).
    #[error("{0}")]
    Unsupported(String),
    /// CSTORE failed.
    #[error("cannot record the app: {0}")]
    Store(String),
}

/// Verifies and applies `request`; returns the app's desired state (for a remove, the record
/// that was removed).
pub fn submit(node: &Node, request: &SignedRequest) -> Result<DesiredApp, SubmitError> {
    let now_s = now_ms() / 1000;
    let verified = request.verify(now_s)?;
    node.deeploy_nonces().claim(&verified, now_s)?;
    claim_mesh_wide(node, &verified, now_s)?;
    let key = format!("{PREFIX}{}", verified.app_id);
    let store = node.store();
    match verified.action {
        Action::Deploy => {
            let Some(spec) = &verified.spec else {
                return Err(DeeployError::Invalid("a deploy carries a spec".into()).into());
            };
            node.config().deeploy.policy.check(spec)?;
            let desired = DesiredApp {
                app_id: verified.app_id.clone(),
                owner: request.owner.clone(),
                version: spec.version.clone(),
                spec: request.spec.clone(),
                at_ms: now_ms(),
            };
            let bytes =
                serde_json::to_vec(&desired).map_err(|e| SubmitError::Store(e.to_string()))?;
            store
                .set(NAMESPACE, &key, &bytes)
                .map_err(|e| SubmitError::Store(format!("{e:#}")))?;
            tracing::info!(app = %desired.app_id, version = %desired.version, "app accepted");
            Ok(desired)
        }
        Action::Remove => {
            let existing =
                read(node, &key).ok_or(SubmitError::NotFound(verified.app_id.clone()))?;
            verified.check_owner_of(&existing.app_id)?;
            store
                .delete(NAMESPACE, &key)
                .map_err(|e| SubmitError::Store(format!("{e:#}")))?;
            tracing::info!(app = %existing.app_id, "app removed");
            Ok(existing)
        }
        Action::Rollback => Err(SubmitError::Unsupported(
            "rollback comes with rolling updates; deploy the previous spec meanwhile".into(),
        )),
    }
}

const NONCE_PREFIX: &str = "nonce/";

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
        "{NONCE_PREFIX}{}{}",
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
        .map_err(|e| SubmitError::Store(format!("{e:#}")))?;
    // Sweep a page of closed windows: nothing is kept past the time it could matter.
    if let Ok(page) = store.list_keys(NAMESPACE, NONCE_PREFIX, None, 200) {
        for old in page.keys {
            if stored_expiry(&old).is_some_and(|expiry| expiry < now_s) {
                let _ = store.delete(NAMESPACE, &old);
            }
        }
    }
    Ok(())
}

fn read(node: &Node, key: &str) -> Option<DesiredApp> {
    let bytes = node.store().get(NAMESPACE, key).ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// Every app's desired state this node holds, by app id.
pub fn apps(node: &Node) -> Vec<DesiredApp> {
    crate::heartbeat::read_under(node, PREFIX)
}

/// Where the placement rule puts every app now, from the adverts that are fresh (beaten within
/// three heartbeat periods) and the desired state: what the scheduler will write (a preview
/// until it runs). Apps whose stored spec no longer parses are skipped and logged.
pub fn plan(node: &Node) -> r1_deeploy::placement::Plan {
    let fresh_ms = node
        .config()
        .deeploy
        .heartbeat_ms
        .saturating_mul(3)
        .max(1000);
    let adverts: Vec<r1_deeploy::placement::NodeAdvert> = crate::heartbeat::read_all(node)
        .into_iter()
        .filter(|(_, age)| *age <= fresh_ms)
        .map(|(beat, _)| beat.advert)
        .collect();
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
    r1_deeploy::placement::place(&adverts, &apps)
}
