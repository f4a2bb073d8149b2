//! The node's identity as its services and system actors use it: who this node is, signing
//! with its key, checking another node's signature. The key itself never leaves the node
//! (ed25519, `DATA_DIR/node.key`, also its mesh identity).

/// An ed25519 node key: 32 bytes.
pub type NodeKey = [u8; 32];

/// An ed25519 signature: 64 bytes.
pub type Signature = [u8; 64];

/// Signs as this node and checks other nodes' signatures.
pub trait NodeIdentity: Send + Sync + 'static {
    /// This node's public key.
    fn node_key(&self) -> NodeKey;
    /// This node's signature over `message`.
    fn sign(&self, message: &[u8]) -> Signature;
    /// Whether `signature` is `signer`'s over `message`.
    fn verify(&self, signer: &NodeKey, message: &[u8], signature: &Signature) -> bool;
}
