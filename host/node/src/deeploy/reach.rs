//! Reaching an app by name: a request to `OWNER/NAME` (or a NAME only one owner uses) goes to
//! a healthy replica of the component on any node — this node's first, then the others in
//! turn, so load spreads. A replica that is gone (just replaced or moved), unreachable or
//! full is skipped and the next one tried, so a rolling update or a lost node costs the
//! client nothing while any healthy replica remains. The app's own error (its handler
//! failed) and a timeout are answers, not routing failures: they are returned as they are.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use r1_deeploy::spec::AppSpec;
use r1_deeploy::state::{DesiredApp, keys};
use r1_runtime::DeliveryError;

use super::SubmitError;
use super::store::read_one;
use crate::node::Node;

/// Why an app request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ReachError {
    /// No such app, or the component is not one of it.
    #[error(transparent)]
    App(#[from] SubmitError),
    /// No replica is healthy now (or every one tried failed to take the request).
    #[error("no healthy replica of {app} {component} answered ({tried} tried){last}")]
    NoReplica {
        /// The app.
        app: String,
        /// The component.
        component: String,
        /// Replicas tried.
        tried: usize,
        /// The last replica's error, if one was tried.
        last: String,
    },
    /// The replica answered with an error, or not in time.
    #[error(transparent)]
    Delivery(DeliveryError),
}

static TURN: AtomicUsize = AtomicUsize::new(0);

/// Sends `payload` to `component` (default: the app's only component) of `app_id` and returns
/// the reply.
pub async fn request(
    node: &Node,
    app_id: &str,
    component: Option<&str>,
    payload: Vec<u8>,
    timeout: Duration,
) -> Result<Vec<u8>, ReachError> {
    let desired: DesiredApp = read_one(node.store(), &format!("{}{app_id}", keys::APP))
        .ok_or_else(|| SubmitError::NotFound(app_id.to_owned()))?;
    let spec = AppSpec::parse(&desired.spec).map_err(SubmitError::Refused)?;
    let component = match component {
        Some(c) if spec.components.iter().any(|s| s.name == c) => c.to_owned(),
        Some(c) => {
            return Err(SubmitError::NotFound(format!("{app_id} has no component {c:?}")).into());
        }
        None => match spec.components.as_slice() {
            [one] => one.name.clone(),
            many => {
                let names: Vec<&str> = many.iter().map(|c| c.name.as_str()).collect();
                return Err(SubmitError::Conflict(format!(
                    "{app_id} has components {}; say which",
                    names.join(", ")
                ))
                .into());
            }
        },
    };
    let own = node.mesh().peer_id().to_string();
    let status = super::store::fresh_status(node.store(), app_id, node.config().deeploy.fresh_ms());
    let mut local = Vec::new();
    let mut remote = Vec::new();
    for report in &status {
        for r in report
            .replicas
            .iter()
            .filter(|r| r.component == component && r.healthy)
        {
            if report.node == own {
                local.push(r.instance.clone());
            } else {
                remote.push(format!("{}/{}", report.node, r.instance));
            }
        }
    }
    if !remote.is_empty() {
        let turn = TURN.fetch_add(1, Ordering::Relaxed) % remote.len();
        remote.rotate_left(turn);
    }
    let candidates: Vec<String> = local.into_iter().chain(remote).collect();
    let mut last = String::new();
    for address in &candidates {
        match node
            .runtime()
            .request(address, payload.clone(), timeout)
            .await
        {
            Ok(reply) => return Ok(reply.unwrap_or_default()),
            Err(
                e @ (DeliveryError::UnknownActor(_)
                | DeliveryError::UnknownNode(_)
                | DeliveryError::Unreachable { .. }
                | DeliveryError::MailboxFull(_)
                | DeliveryError::Stopped(_)),
            ) => {
                tracing::debug!(app = %app_id, %address, "replica skipped: {e}");
                last = format!("; last: {e}");
            }
            Err(e) => return Err(ReachError::Delivery(e)),
        }
    }
    Err(ReachError::NoReplica {
        app: app_id.to_owned(),
        component,
        tried: candidates.len(),
        last,
    })
}
