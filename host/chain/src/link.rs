//! The ed25519 side of a licence link. The mesh admits nodes by their ed25519 key, which the
//! EVM cannot check cheaply; so a link records the key and the key's signature of
//! `"r1-node-link-v1\0" | u64 chain id | contract | u256 licence | node address` unchecked on
//! chain, and every reader checks it here. A link naming a key whose holder did not sign it
//! (a squatter's) counts for nothing.

use alloy::primitives::{Address, U256};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

const DOMAIN: &[u8] = b"r1-node-link-v1\0";

/// What a node's ed25519 key signs to be linked to `licence` as `node` on `contract`.
pub fn message(chain_id: u64, contract: Address, licence: U256, node: Address) -> Vec<u8> {
    let mut m = DOMAIN.to_vec();
    m.extend_from_slice(&chain_id.to_be_bytes());
    m.extend_from_slice(contract.as_slice());
    m.extend_from_slice(&licence.to_be_bytes::<32>());
    m.extend_from_slice(node.as_slice());
    m
}

/// The node's ed25519 signature of its link.
pub fn sign(
    key: &SigningKey,
    chain_id: u64,
    contract: Address,
    licence: U256,
    node: Address,
) -> [u8; 64] {
    key.sign(&message(chain_id, contract, licence, node))
        .to_bytes()
}

/// Whether `signature` is `node_key`'s signature of the link.
pub fn holds(
    node_key: &[u8; 32],
    signature: &[u8],
    chain_id: u64,
    contract: Address,
    licence: U256,
    node: Address,
) -> bool {
    let Ok(signature) = <[u8; 64]>::try_from(signature) else {
        return false;
    };
    VerifyingKey::from_bytes(node_key).is_ok_and(|k| {
        k.verify(
            &message(chain_id, contract, licence, node),
            &Signature::from_bytes(&signature),
        )
        .is_ok()
    })
}
