//! OracleSync's control surface for the oracle system actor: the node's observations of every
//! node's heartbeats, and the exchange of tables, signatures and certificates with the other
//! oracles. Documents travel as JSON of `r1-oraclesync`'s types (`Settings`, `Intervals`,
//! `Table`); certificates as their canonical bytes.
//!
//! Who may call: only the oracle system actor a node starts itself (grant `oraclesync`; a node
//! refuses it on the API and in remote app specs).
//! Invariants: the node signs with its own key, and signs **one root per epoch**, durably — a
//! second, different root for an epoch it signed is refused even after a restart; every table
//! and signature handed to the actor comes from a listed oracle and verifies; a certificate
//! is stored only if it verifies against the oracle list.

use super::BoxFuture;
use crate::ServiceError;

/// An oracle's table: (oracle key, JSON `Table`).
pub type OracleTable = (Vec<u8>, String);

/// A signature another oracle published: (oracle key, root, signature).
pub type PublishedSignature = (Vec<u8>, Vec<u8>, Vec<u8>);

/// What the oracle actor may do.
pub trait OracleControl: Send + Sync + 'static {
    /// The agreement's parameters (JSON `Settings`).
    fn settings(&self) -> BoxFuture<'_, Result<String, ServiceError>>;
    /// The beats seen that count in `[start_ms, end_ms)`: JSON node id → `Intervals`.
    fn observed(&self, start_ms: u64, end_ms: u64) -> BoxFuture<'_, Result<String, ServiceError>>;
    /// Signs and publishes this oracle's table (JSON `Table`), once per epoch.
    fn publish_table<'a>(&'a self, table: &'a str) -> BoxFuture<'a, Result<(), ServiceError>>;
    /// The listed oracles' verified tables for `epoch`: (oracle key, JSON `Table`).
    fn tables(&self, epoch: u64) -> BoxFuture<'_, Result<Vec<OracleTable>, ServiceError>>;
    /// Signs `root` for `epoch` and publishes it (one root per epoch, durably).
    fn sign<'a>(&'a self, epoch: u64, root: &'a [u8]) -> BoxFuture<'a, Result<(), ServiceError>>;
    /// The listed oracles' verified signatures for `epoch`.
    fn signatures(
        &self,
        epoch: u64,
    ) -> BoxFuture<'_, Result<Vec<PublishedSignature>, ServiceError>>;
    /// Checks and stores a certificate (canonical bytes).
    fn certify<'a>(&'a self, certificate: &'a [u8]) -> BoxFuture<'a, Result<(), ServiceError>>;
}
