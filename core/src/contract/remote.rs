//! Delivery to actors on other nodes: what the runtime's router calls for an address of the
//! form `NODE/NAME`. The mesh-backed implementation comes with distributed actors; a node
//! without one answers such addresses with a clear error.
//!
//! Invariants an implementation keeps: the sender's identity (node and actor) travels with
//! the message and is checked at the receiver; messages from one sender to one receiver keep
//! their order; queues are bounded (a full one is an error to the sender, never unbounded
//! memory).

use std::time::Duration;

use super::BoxFuture;
use crate::ServiceError;

/// A message for an actor elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The sending actor's name on this node.
    pub from: String,
    /// The receiving actor's name on its node.
    pub to: String,
    /// The topic, for a publish.
    pub topic: Option<String>,
    /// The bytes.
    pub payload: Vec<u8>,
}

/// Carries messages to actors on other nodes.
pub trait RemoteDelivery: Send + Sync + 'static {
    /// Queues `envelope` for actor `envelope.to` on `node` without waiting for it.
    fn send(&self, node: &str, envelope: Envelope) -> Result<(), ServiceError>;
    /// Delivers `envelope` to `node` and waits up to `timeout` for the handler's reply.
    fn request<'a>(
        &'a self,
        node: &'a str,
        envelope: Envelope,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, ServiceError>>;
}
