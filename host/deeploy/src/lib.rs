//! `r1-deeploy`: the orchestration layer's front door (DESIGN §11). This first part is what a
//! node must decide before anything is placed:
//!
//! - [`spec`]: the app spec (TOML) — components, replicas or one per matching node,
//!   constraints, spread, health check, update strategy — parsed and validated whole.
//! - [`signed`]: a spec (or a remove/rollback) travels signed by its owner's ed25519 key, with
//!   a nonce and a validity window of minutes. An app's identity is `OWNER/NAME` (the owner's
//!   key fingerprint), so names are scoped by owner and only the owner's key can touch an app.
//! - [`nonces`]: a used nonce is refused for as long as its request could still be valid, and
//!   forgotten after (bounded memory: nothing outlives its window).
//! - [`policy`]: what a node's operator lets remote specs be granted (no host directories
//!   unless allowed, a replica cap, denied grant kinds).
//! - [`placement`]: node adverts and desired apps → placements, a pure and deterministic
//!   function (the convergence rule for schedulers on both sides of a partition).
//!
//! Invariants: a request is accepted only if its signature verifies over the exact spec
//! bytes, its window is open now and no longer than [`signed::MAX_WINDOW_S`], its nonce is
//! fresh, and its spec passes validation and the operator policy — in that order, so nothing
//! is parsed from an unauthenticated request. The scheduler system actor (driving
//! [`placement`] through a control capability), the heartbeats that carry the adverts, and the
//! reconciler come next.

#![warn(missing_docs)]

pub mod nonces;
pub mod placement;
pub mod policy;
pub mod scheduler;
pub mod signed;
pub mod spec;
pub mod state;

/// Why a spec or a signed request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeeployError {
    /// The spec's TOML does not parse or a field is wrong (the message says which).
    #[error("invalid app spec: {0}")]
    Invalid(String),
    /// The signature does not verify over the request.
    #[error("the request's signature does not verify (forged or altered)")]
    BadSignature,
    /// The validity window is closed, not yet open, or too long.
    #[error("the request is outside its validity window: {0}")]
    Expired(String),
    /// The nonce was used already.
    #[error("the request's nonce was used already (a replay)")]
    Replayed,
    /// The request is for an app another key owns.
    #[error("app {app:?} belongs to another owner")]
    ForeignOwner {
        /// The app addressed.
        app: String,
    },
    /// The node's operator policy does not allow what the spec asks for.
    #[error("refused by this node's operator policy: {0}")]
    Policy(String),
}
