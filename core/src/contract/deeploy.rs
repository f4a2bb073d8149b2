//! Deeploy's control surface for its scheduler system actor: read the scheduler's view of the
//! fabric, write placements, revert a failing app. Documents travel as JSON of `r1-deeploy`'s
//! state types (`View`, `AppPlacement`), the one definition the node and the actor share.
//!
//! Who may call: only actors the node itself starts as system actors are granted this
//! (grant `deeploy`); a node refuses the grant on the API and in remote app specs.
//! Invariants: `place` writes one app's whole placement (last writer wins per app, so a
//! placement is never half one scheduler's and half another's); `revert` applies only while
//! the app's desired version is still the failed one (a later deploy wins over a late revert).

use super::BoxFuture;
use crate::ServiceError;

/// What the scheduler actor may do.
pub trait SchedulerControl: Send + Sync + 'static {
    /// The scheduler's view now: fresh adverts, desired apps, placements, replica status.
    fn view(&self) -> BoxFuture<'_, Result<String, ServiceError>>;
    /// Writes `app`'s placement (JSON), or deletes it when `None`.
    fn place<'a>(
        &'a self,
        app: &'a str,
        placement: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), ServiceError>>;
    /// Sets `app` back to its previous version because version `failed` failed (`reason`).
    fn revert<'a>(
        &'a self,
        app: &'a str,
        failed: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), ServiceError>>;
}
