//! Actors on other nodes: the two halves of distributed messaging.
//!
//! - [`RemoteDelivery`] is what the runtime's router calls for an address of the form
//!   `NODE/NAME`, for a plain name that runs only elsewhere, and for a publish that may have
//!   subscribers elsewhere. The mesh implements it (`r1-remote`).
//! - [`LocalDelivery`] is what that implementation calls to hand a message that arrived from
//!   another node to this node's actors. The runtime's router implements it.
//!
//! Invariants every implementation keeps:
//! - **Identity**: the receiver learns the sender as `NODE/ACTOR`, where `NODE` is the
//!   authenticated peer the bytes came from (never a claim inside them) and `ACTOR` the name
//!   the sending node vouches for.
//! - **Order**: messages from one sender node to one receiver node are handed over in the
//!   order they were sent (sends, requests and publishes alike), so one actor's messages to
//!   another, and one publisher's messages on a topic, keep their order.
//! - **Bounded memory**: every queue has a capacity; a full one is an error to the sender
//!   ([`RemoteError::MailboxFull`]) or, for a publish, a drop that is counted, never growth.
//! - **At most once**: a message is delivered once or not at all; nothing is retried behind
//!   the sender's back (a link that breaks loses what it had queued, and says so in the log).

use std::time::Duration;

use super::BoxFuture;

/// A message for an actor elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The sending actor's name on its node (`host` for the node's API).
    pub from: String,
    /// The receiving actor's name on its node.
    pub to: String,
    /// The topic, for a publish.
    pub topic: Option<String>,
    /// The bytes.
    pub payload: Vec<u8>,
}

/// Why a message to another node was not delivered or answered: each case is one thing the
/// caller can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    /// The address names no node this node knows (not a node id, or never seen on the mesh).
    #[error("unknown node {0:?}")]
    UnknownNode(String),
    /// The node is known but cannot be reached now: not admitted (by this node or by it), not
    /// connected, or the link broke.
    #[error("node {node} is unreachable: {reason}")]
    Unreachable {
        /// The node addressed.
        node: String,
        /// What failed.
        reason: String,
    },
    /// The node has no actor of that name (the full address).
    #[error("no actor {0:?} there")]
    UnknownActor(String),
    /// A bounded queue on the way (the link to the node, or the actor's mailbox there) is
    /// full; back off and retry.
    #[error("mailbox of {0:?} is full")]
    MailboxFull(String),
    /// No reply within the request's timeout.
    #[error("no reply from {0:?} before the timeout")]
    Timeout(String),
    /// Refused by a rule (a grant this actor lacks, a name the node refuses).
    #[error("{0}")]
    Denied(String),
    /// The receiving actor's handler returned an error, crashed or stopped.
    #[error("{0}")]
    Failed(String),
}

/// This node's side of the directory: what other nodes need to route to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    /// Names of the actors running here.
    pub actors: Vec<String>,
    /// Topics with at least one subscriber here, each with its subscriber count.
    pub topics: Vec<(String, u32)>,
}

/// Carries messages to actors on other nodes.
pub trait RemoteDelivery: Send + Sync + 'static {
    /// This node's id, the `NODE` of its actors' addresses.
    fn node_id(&self) -> String;
    /// Queues `envelope` for actor `envelope.to` on `node` without waiting for it.
    fn send(&self, node: &str, envelope: Envelope) -> Result<(), RemoteError>;
    /// Delivers `envelope` to `node` and waits up to `timeout` for the handler's reply.
    fn request<'a>(
        &'a self,
        node: &'a str,
        envelope: Envelope,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, RemoteError>>;
    /// Queues a publish of `payload` on `topic` for every other node with subscribers to it;
    /// returns how many remote subscribers it was queued for.
    fn publish(&self, from: &str, topic: &str, payload: &[u8]) -> u32;
    /// The other nodes that run an actor called `name`, in a stable order.
    fn locate(&self, name: &str) -> Vec<String>;
    /// The other nodes this one can deliver to now.
    fn nodes(&self) -> Vec<String>;
    /// This node's actors or subscriptions changed: `directory` is the new whole.
    fn advertise(&self, directory: Directory);
}

/// Where a request that arrived from another node sends its answer.
pub type ReplyFn = Box<dyn FnOnce(Result<Option<Vec<u8>>, RemoteError>) + Send>;

/// Hands messages from other nodes to this node's actors.
pub trait LocalDelivery: Send + Sync + 'static {
    /// Queues `envelope` for local actor `envelope.to`, waiting up to `wait` for room in its
    /// mailbox. `sender` is the full `NODE/ACTOR` address the receiver sees. With `reply`,
    /// the actor's answer (or failure) goes there once it has handled the message; the
    /// returned future resolves as soon as the message is queued, so the caller can queue
    /// the next one in order.
    fn deliver<'a>(
        &'a self,
        sender: String,
        envelope: Envelope,
        reply: Option<ReplyFn>,
        wait: Duration,
    ) -> BoxFuture<'a, Result<(), RemoteError>>;
    /// Delivers a publish from `sender` to this node's subscribers of `topic`, in subscriber
    /// order, waiting up to `wait` in all for room in full mailboxes (a subscriber still full
    /// then misses it); returns how many got it.
    fn publish<'a>(
        &'a self,
        sender: &'a str,
        topic: &'a str,
        payload: Vec<u8>,
        wait: Duration,
    ) -> BoxFuture<'a, u32>;
}
