//! Who may take part in the mesh (dAuth): a node's ed25519 key in, a verdict out. The mesh
//! asks it for every connection, gossip message and request, and CSTORE for every op's
//! writer; the genesis allowlist is the first implementation, the on-chain licence check the
//! next.
//!
//! Invariant: `admits` is called on hot paths (the mesh's event loop awaits it), so an
//! implementation that asks something slow (a chain) answers from a cache and refreshes it
//! in the background.

use super::BoxFuture;

/// Decides which nodes are admitted.
pub trait Admission: Send + Sync + 'static {
    /// Whether the node with ed25519 public key `node_key` is admitted.
    fn admits<'a>(&'a self, node_key: &'a [u8; 32]) -> BoxFuture<'a, bool>;
    /// Whether every node is admitted (dev); shown in the node's status.
    fn is_open(&self) -> bool;
}
