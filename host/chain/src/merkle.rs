//! The tree PoA rewards verify claims against: leaves `keccak(keccak(abi.encode(node, epoch,
//! cumulative)))` (OpenZeppelin's standard leaf: no inner node can pose as a leaf), inner nodes
//! the keccak of the sorted pair (OpenZeppelin's `MerkleProof`), an odd node promoted.
//! (`rs_merkle` builds it; the hasher's sorted pairs make it OpenZeppelin's.)

use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::sol_types::SolValue;
use rs_merkle::{Hasher, MerkleTree};

/// keccak over sorted pairs.
#[derive(Clone)]
struct SortedKeccak;

impl Hasher for SortedKeccak {
    type Hash = [u8; 32];

    fn hash(data: &[u8]) -> [u8; 32] {
        keccak256(data).0
    }

    fn concat_and_hash(left: &[u8; 32], right: Option<&[u8; 32]>) -> [u8; 32] {
        match right {
            Some(right) => {
                let (a, b) = if left <= right {
                    (left, right)
                } else {
                    (right, left)
                };
                let mut both = [0u8; 64];
                both[..32].copy_from_slice(a);
                both[32..].copy_from_slice(b);
                keccak256(both).0
            }
            None => *left,
        }
    }
}

/// The leaf of `node`'s cumulative availability at `epoch`.
pub fn leaf(node: Address, epoch: u64, cumulative: U256) -> B256 {
    keccak256(keccak256((node, epoch, cumulative).abi_encode()))
}

/// A tree over leaves, in the order given.
pub struct Tree {
    tree: MerkleTree<SortedKeccak>,
    count: usize,
}

impl Tree {
    /// The tree of `leaves` (at least one).
    pub fn new(leaves: &[B256]) -> Self {
        let raw: Vec<[u8; 32]> = leaves.iter().map(|l| l.0).collect();
        Self {
            tree: MerkleTree::from_leaves(&raw),
            count: raw.len(),
        }
    }

    /// The root (of one leaf: the leaf).
    pub fn root(&self) -> B256 {
        B256::from(self.tree.root().unwrap_or_default())
    }

    /// The proof of leaf `index`, as `MerkleProof.verify` takes it.
    pub fn proof(&self, index: usize) -> Vec<B256> {
        if index >= self.count {
            return Vec::new();
        }
        self.tree
            .proof(&[index])
            .proof_hashes()
            .iter()
            .map(|h| B256::from(*h))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// OpenZeppelin's verify: fold the proof with sorted-pair keccak.
    fn verify(proof: &[B256], root: B256, leaf: B256) -> bool {
        let mut hash = leaf.0;
        for p in proof {
            hash = SortedKeccak::concat_and_hash(&hash, Some(&p.0));
        }
        hash == root.0
    }

    #[test]
    fn every_leaf_proves_alone_and_a_changed_figure_does_not() {
        for n in [1usize, 2, 3, 7, 30] {
            let leaves: Vec<B256> = (0..n)
                .map(|i| leaf(Address::repeat_byte(i as u8 + 1), 9, U256::from(i * 100)))
                .collect();
            let tree = Tree::new(&leaves);
            for (i, l) in leaves.iter().enumerate() {
                assert!(verify(&tree.proof(i), tree.root(), *l), "n {n} leaf {i}");
            }
            let forged = leaf(Address::repeat_byte(1), 9, U256::from(1));
            assert!(!verify(&tree.proof(0), tree.root(), forged));
        }
    }
}
