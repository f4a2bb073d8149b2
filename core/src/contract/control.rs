//! Starting and stopping actors on a node: what system actors (the Deeploy scheduler's
//! reconciler, an oracle) use to run workloads. The node implements it over its runtime and
//! its deployment records, so an actor started this way is remembered and restarted with the
//! node exactly like one started through the API.
//!
//! Invariants: `start` refuses a name already running (`invalid`), a component or grant the
//! node's policy refuses (`denied`), a malformed component (`invalid`); `stop` of an unknown
//! name is `not-found`. A started actor's grants are exactly those asked for.

use super::BoxFuture;
use crate::ServiceError;

/// An actor to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorLaunch {
    /// Its name on the node.
    pub name: String,
    /// The component's `.wasm` bytes.
    pub wasm: Vec<u8>,
    /// Its grants, as written on the command line (`cstore:app`, `r1fs`, …).
    pub grants: Vec<String>,
    /// Its configuration pairs.
    pub config: Vec<(String, String)>,
}

/// What the node says of a running actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorSummary {
    /// Its name.
    pub name: String,
    /// `running`, `restarting`, `failed`, `stopped`, or `exited` (a job that ran to its end).
    pub state: String,
    /// How often it was restarted.
    pub restarts: u32,
    /// Its grants.
    pub grants: Vec<String>,
    /// BLAKE3 of its component.
    pub component: String,
}

/// Starts, stops and lists a node's actors.
pub trait ActorControl: Send + Sync + 'static {
    /// Starts (and records) an actor.
    fn start(&self, launch: ActorLaunch) -> BoxFuture<'_, Result<ActorSummary, ServiceError>>;
    /// Stops an actor and forgets its record.
    fn stop<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), ServiceError>>;
    /// Every actor on the node.
    fn list(&self) -> Vec<ActorSummary>;
}
