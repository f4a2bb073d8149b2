//! The node's side of `r1:deeploy`: what the scheduler system actor reads and writes. Reads
//! and writes are CSTORE's durable path, run on the blocking pool (never on the actor's
//! worker thread).
//!
//! Invariants: the view holds only fresh adverts and the status of fresh nodes (a node that
//! stopped beating has no say); `place` accepts only a placement for the app it names;
//! `revert` applies only while the desired version is still the failed one and a previous
//! version exists, and it clears `previous` so a revert cannot bounce back.

use std::collections::BTreeSet;

use r1_core::ServiceError;
use r1_core::contract::BoxFuture;
use r1_core::contract::deeploy::SchedulerControl;
use r1_cstore::Cstore;
use r1_deeploy::state::{AppPlacement, DesiredApp, NAMESPACE, NodeStatus, View, keys};

use super::store::{fresh_adverts, now_ms, read_one, read_under, write};

/// Deeploy control over one node's CSTORE (cheap to clone: the store is a handle).
#[derive(Clone)]
pub struct Control {
    store: Cstore,
    own: String,
    fresh_ms: u64,
}

impl Control {
    /// Control for the node `own` (its peer id) over `store`; adverts older than `fresh_ms`
    /// are not fresh.
    pub fn new(store: Cstore, own: String, fresh_ms: u64) -> Self {
        Self {
            store,
            own,
            fresh_ms,
        }
    }

    /// The scheduler's view now.
    pub fn view_now(&self) -> View {
        let nodes = fresh_adverts(&self.store, self.fresh_ms);
        let fresh: BTreeSet<&str> = nodes.iter().map(|n| n.node.as_str()).collect();
        let status = read_under::<NodeStatus>(&self.store, keys::STATUS)
            .into_iter()
            .filter(|s| fresh.contains(s.node.as_str()))
            .collect();
        View {
            now_ms: now_ms(),
            own: self.own.clone(),
            apps: read_under(&self.store, keys::APP),
            placements: read_under(&self.store, keys::PLACEMENT),
            status,
            nodes,
        }
    }

    fn place_now(&self, app: &str, placement: Option<&str>) -> Result<(), ServiceError> {
        let key = format!("{}{app}", keys::PLACEMENT);
        let Some(text) = placement else {
            self.store
                .delete(NAMESPACE, &key)
                .map_err(|e| ServiceError::Unavailable(format!("{e:#}")))?;
            tracing::info!(app, "placement dropped");
            return Ok(());
        };
        let placement: AppPlacement = serde_json::from_str(text)
            .map_err(|e| ServiceError::Invalid(format!("not a placement: {e}")))?;
        if placement.app != app {
            return Err(ServiceError::Invalid(format!(
                "a placement for {:?} written as {app:?}",
                placement.app
            )));
        }
        write(&self.store, &key, &placement).map_err(ServiceError::Unavailable)?;
        tracing::info!(app, replicas = placement.slots.len(), "placement written");
        Ok(())
    }

    fn revert_now(&self, app: &str, failed: &str, reason: &str) -> Result<(), ServiceError> {
        let key = format!("{}{app}", keys::APP);
        let Some(current) = read_one::<DesiredApp>(&self.store, &key) else {
            return Err(ServiceError::NotFound(format!("no app {app:?}")));
        };
        let Some(previous) = current.previous.clone() else {
            return Ok(());
        };
        if current.version != failed {
            return Ok(()); // a newer deploy came first: it wins
        }
        tracing::warn!(app, failed, to = %previous.version, reason, "auto-revert");
        let reverted = DesiredApp {
            version: previous.version,
            spec: previous.spec,
            previous: None,
            reverted: Some(format!("{failed} reverted: {reason}")),
            at_ms: now_ms(),
            ..current
        };
        write(&self.store, &key, &reverted).map_err(ServiceError::Unavailable)
    }
}

/// Runs `f` on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ServiceError> + Send + 'static,
) -> Result<T, ServiceError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServiceError::Other(format!("deeploy control task failed: {e}")))?
}

impl SchedulerControl for Control {
    fn view(&self) -> BoxFuture<'_, Result<String, ServiceError>> {
        let this = self.clone();
        Box::pin(blocking(move || {
            serde_json::to_string(&this.view_now()).map_err(|e| ServiceError::Other(e.to_string()))
        }))
    }

    fn place<'a>(
        &'a self,
        app: &'a str,
        placement: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        let (this, app, placement) = (self.clone(), app.to_owned(), placement.map(str::to_owned));
        Box::pin(blocking(move || this.place_now(&app, placement.as_deref())))
    }

    fn revert<'a>(
        &'a self,
        app: &'a str,
        failed: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        let this = self.clone();
        let (app, failed, reason) = (app.to_owned(), failed.to_owned(), reason.to_owned());
        Box::pin(blocking(move || this.revert_now(&app, &failed, &reason)))
    }
}
