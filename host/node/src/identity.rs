//! The node's identity contract over its ed25519 key (`DATA_DIR/node.key`): what system
//! actors and services use to sign as this node and to check other nodes' signatures.
//! Verification is strict (no malleable or small-order keys).

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use r1_core::contract::identity::{NodeIdentity, NodeKey, Signature};

/// Signs with the node's key.
pub struct Ed25519Identity {
    key: SigningKey,
}

impl Ed25519Identity {
    /// The identity of the node holding `key`.
    pub fn new(key: SigningKey) -> Self {
        Self { key }
    }
}

impl NodeIdentity for Ed25519Identity {
    fn node_key(&self) -> NodeKey {
        self.key.verifying_key().to_bytes()
    }

    fn sign(&self, message: &[u8]) -> Signature {
        self.key.sign(message).to_bytes()
    }

    fn verify(&self, signer: &NodeKey, message: &[u8], signature: &Signature) -> bool {
        VerifyingKey::from_bytes(signer).is_ok_and(|key| {
            key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature))
                .is_ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_the_node_and_checks_others() {
        let a = Ed25519Identity::new(SigningKey::from_bytes(&[1; 32]));
        let b = Ed25519Identity::new(SigningKey::from_bytes(&[2; 32]));
        let sig = a.sign(b"round 3");
        assert!(b.verify(&a.node_key(), b"round 3", &sig));
        assert!(!b.verify(&a.node_key(), b"round 4", &sig));
        assert!(!b.verify(&b.node_key(), b"round 3", &sig));
        let mut forged = sig;
        forged[0] ^= 1;
        assert!(!a.verify(&a.node_key(), b"round 3", &forged));
        assert!(!a.verify(&[0; 32], b"round 3", &sig));
    }
}
