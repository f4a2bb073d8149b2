//! Epoch certificates: a merged table's Merkle root signed by at least 2f + 1 oracles.
//!
//! - **Leaves**: one per node, in node order: `blake3::derive_key("r1-oraclesync leaf v1",
//!   u16 len | node | u64 epoch | u8 availability)`; inner nodes `blake3(left | right)`
//!   (`rs_merkle`; an odd node is promoted). A node's figure is proven alone by its index, the
//!   leaf count and the path ([`NodeProof`]).
//! - **Signature**: ed25519 over `"r1-oraclesync-root-v1\0" | u64 epoch | root`.
//! - **Validity** ([`Certificate::verify`]): the figures hash to the root; every signature
//!   carried verifies and comes from a listed oracle, at most once each; and at least 2f + 1
//!   oracles signed. With n ≥ 3f + 1 oracles, two roots for one epoch would need 2f + 1
//!   signers each, so at least f + 1 oracles in both — more than the f that may equivocate:
//!   two different certificates for one epoch cannot both hold.
//! - **Bytes** ([`Certificate::to_bytes`]): canonical — figures in node order, signatures in
//!   oracle-key order — so honest oracles assembling the same signatures, in any order and
//!   with any duplicates, produce the same bytes.

use std::collections::BTreeMap;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use rs_merkle::{MerkleProof, MerkleTree};

use crate::OracleError;
use crate::table::Table;

const LEAF_CONTEXT: &str = "r1-oraclesync leaf v1";
const DOMAIN: &[u8] = b"r1-oraclesync-root-v1\0";
const MAGIC: &[u8; 8] = b"R1EPOCH1";

/// blake3 for `rs_merkle`'s inner nodes.
#[derive(Clone)]
struct Blake3;

impl rs_merkle::Hasher for Blake3 {
    type Hash = [u8; 32];

    fn hash(data: &[u8]) -> [u8; 32] {
        *blake3::hash(data).as_bytes()
    }

    fn concat_and_hash(left: &[u8; 32], right: Option<&[u8; 32]>) -> [u8; 32] {
        match right {
            Some(right) => {
                let mut h = blake3::Hasher::new();
                h.update(left);
                h.update(right);
                *h.finalize().as_bytes()
            }
            None => *left,
        }
    }
}

/// The leaf of one node's figure.
pub fn leaf(node: &str, epoch: u64, availability: u8) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key(LEAF_CONTEXT);
    h.update(&(node.len() as u16).to_be_bytes());
    h.update(node.as_bytes());
    h.update(&epoch.to_be_bytes());
    h.update(&[availability]);
    *h.finalize().as_bytes()
}

fn leaves(table: &Table) -> Vec<[u8; 32]> {
    table
        .figures
        .iter()
        .map(|(node, v)| leaf(node, table.epoch, *v))
        .collect()
}

/// The Merkle root of `table` (of an empty table: the leaf of an empty node name at 0).
pub fn root(table: &Table) -> [u8; 32] {
    let leaves = leaves(table);
    if leaves.is_empty() {
        return leaf("", table.epoch, 0);
    }
    MerkleTree::<Blake3>::from_leaves(&leaves)
        .root()
        .unwrap_or(leaves[0])
}

/// What an oracle signs for `epoch`.
pub fn signed_message(epoch: u64, root: &[u8; 32]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(DOMAIN.len() + 40);
    msg.extend_from_slice(DOMAIN);
    msg.extend_from_slice(&epoch.to_be_bytes());
    msg.extend_from_slice(root);
    msg
}

/// An oracle's signature of `table`'s root.
pub fn sign(table: &Table, key: &SigningKey) -> [u8; 64] {
    key.sign(&signed_message(table.epoch, &root(table)))
        .to_bytes()
}

/// One node's figure with its path to a certificate's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeProof {
    /// The node.
    pub node: String,
    /// Its availability.
    pub availability: u8,
    /// Its leaf's index.
    pub index: usize,
    /// How many leaves.
    pub count: usize,
    /// The path.
    pub hashes: Vec<[u8; 32]>,
}

impl NodeProof {
    /// Whether the figure belongs to `root` for `epoch`.
    pub fn holds(&self, epoch: u64, root: &[u8; 32]) -> bool {
        if self.index >= self.count {
            return false;
        }
        MerkleProof::<Blake3>::new(self.hashes.clone())
            .root(
                &[self.index],
                &[leaf(&self.node, epoch, self.availability)],
                self.count,
            )
            .is_ok_and(|r| r == *root)
    }
}

/// A certificate: an epoch's figures, their root, and oracle signatures of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The merged table.
    pub table: Table,
    /// Its Merkle root.
    pub root: [u8; 32],
    /// Oracle public key → signature, in key order.
    pub signatures: BTreeMap<[u8; 32], [u8; 64]>,
}

impl Certificate {
    /// A certificate of `table` with no signatures yet.
    pub fn new(table: Table) -> Self {
        Self {
            root: root(&table),
            table,
            signatures: BTreeMap::new(),
        }
    }

    /// Adds `oracle`'s signature if it verifies over this root and the oracle has not signed
    /// yet; returns whether it was added (a duplicate or a bad one changes nothing).
    pub fn add_signature(&mut self, oracle: [u8; 32], signature: [u8; 64]) -> bool {
        if self.signatures.contains_key(&oracle) {
            return false;
        }
        let holds = VerifyingKey::from_bytes(&oracle).is_ok_and(|k| {
            k.verify(
                &signed_message(self.table.epoch, &self.root),
                &Signature::from_bytes(&signature),
            )
            .is_ok()
        });
        if holds {
            self.signatures.insert(oracle, signature);
        }
        holds
    }

    /// Checks the certificate with only the oracles' public keys and `f` (module docs).
    pub fn verify(&self, oracles: &[[u8; 32]], f: usize) -> Result<(), OracleError> {
        if root(&self.table) != self.root {
            return Err(OracleError::Invalid(
                "the figures do not hash to the certificate's root".into(),
            ));
        }
        let message = signed_message(self.table.epoch, &self.root);
        for (oracle, signature) in &self.signatures {
            if !oracles.contains(oracle) {
                return Err(OracleError::Invalid(format!(
                    "signed by {}, which is not an oracle",
                    hex::encode(oracle)
                )));
            }
            let key = VerifyingKey::from_bytes(oracle)
                .map_err(|_| OracleError::Invalid("an oracle key is not ed25519".into()))?;
            key.verify(&message, &Signature::from_bytes(signature))
                .map_err(|_| {
                    OracleError::Invalid(format!(
                        "the signature of oracle {} does not verify",
                        hex::encode(oracle)
                    ))
                })?;
        }
        let needed = 2 * f + 1;
        if self.signatures.len() < needed {
            return Err(OracleError::Invalid(format!(
                "{} oracle signatures; 2f + 1 = {needed} are needed",
                self.signatures.len()
            )));
        }
        Ok(())
    }

    /// The proof of `node`'s figure, if the certificate has one.
    pub fn proof(&self, node: &str) -> Option<NodeProof> {
        let index = self.table.figures.keys().position(|n| n == node)?;
        let leaves = leaves(&self.table);
        let tree = MerkleTree::<Blake3>::from_leaves(&leaves);
        Some(NodeProof {
            node: node.to_owned(),
            availability: self.table.figures[node],
            index,
            count: leaves.len(),
            hashes: tree.proof(&[index]).proof_hashes().to_vec(),
        })
    }

    /// Canonical bytes: `MAGIC | u64 epoch | [32] root | u32 n | n × (u16 len | node | u8) |
    /// u16 m | m × ([32] oracle | [64] signature)`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.table.epoch.to_be_bytes());
        out.extend_from_slice(&self.root);
        out.extend_from_slice(&(self.table.figures.len() as u32).to_be_bytes());
        for (node, v) in &self.table.figures {
            out.extend_from_slice(&(node.len() as u16).to_be_bytes());
            out.extend_from_slice(node.as_bytes());
            out.push(*v);
        }
        out.extend_from_slice(&(self.signatures.len() as u16).to_be_bytes());
        for (oracle, sig) in &self.signatures {
            out.extend_from_slice(oracle);
            out.extend_from_slice(sig);
        }
        out
    }

    /// Reads [`Certificate::to_bytes`] (nothing is checked but the format: see `verify`).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, OracleError> {
        let bad = |what: &str| OracleError::Malformed(what.to_owned());
        let mut rest = bytes
            .strip_prefix(MAGIC)
            .ok_or_else(|| bad("not a certificate"))?;
        let mut take = |n: usize| -> Result<&[u8], OracleError> {
            if rest.len() < n {
                return Err(bad("truncated"));
            }
            let (head, tail) = rest.split_at(n);
            rest = tail;
            Ok(head)
        };
        let epoch = u64::from_be_bytes(take(8)?.try_into().map_err(|_| bad("epoch"))?);
        let root: [u8; 32] = take(32)?.try_into().map_err(|_| bad("root"))?;
        let n = u32::from_be_bytes(take(4)?.try_into().map_err(|_| bad("count"))?);
        let mut figures = BTreeMap::new();
        for _ in 0..n {
            let len = u16::from_be_bytes(take(2)?.try_into().map_err(|_| bad("len"))?);
            let node = String::from_utf8(take(len as usize)?.to_vec())
                .map_err(|_| bad("node id is not UTF-8"))?;
            let v = take(1)?[0];
            if figures.insert(node, v).is_some() {
                return Err(bad("a node appears twice"));
            }
        }
        let m = u16::from_be_bytes(take(2)?.try_into().map_err(|_| bad("count"))?);
        let mut signatures = BTreeMap::new();
        for _ in 0..m {
            let oracle: [u8; 32] = take(32)?.try_into().map_err(|_| bad("oracle"))?;
            let sig: [u8; 64] = take(64)?.try_into().map_err(|_| bad("signature"))?;
            if signatures.insert(oracle, sig).is_some() {
                return Err(bad("an oracle appears twice"));
            }
        }
        if !take(0)?.is_empty() || !rest.is_empty() {
            return Err(bad("trailing bytes"));
        }
        let cert = Self {
            table: Table { epoch, figures },
            root,
            signatures,
        };
        if cert.to_bytes() != bytes {
            return Err(bad("not in canonical order"));
        }
        Ok(cert)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keys(n: u8) -> Vec<SigningKey> {
        (1..=n).map(|i| SigningKey::from_bytes(&[i; 32])).collect()
    }

    fn publics(keys: &[SigningKey]) -> Vec<[u8; 32]> {
        keys.iter().map(|k| k.verifying_key().to_bytes()).collect()
    }

    fn table() -> Table {
        Table {
            epoch: 42,
            figures: (0..9).map(|i| (format!("node-{i}"), i * 28)).collect(),
        }
    }

    fn certified(keys: &[SigningKey]) -> Certificate {
        let t = table();
        let mut cert = Certificate::new(t.clone());
        for k in keys {
            assert!(cert.add_signature(k.verifying_key().to_bytes(), sign(&t, k)));
        }
        cert
    }

    #[test]
    fn two_f_plus_one_signatures_certify_and_anyone_can_check_offline() {
        let oracles = keys(4); // n = 4, f = 1
        let cert = certified(&oracles[..3]);
        cert.verify(&publics(&oracles), 1).unwrap();
        let bytes = cert.to_bytes();
        assert_eq!(Certificate::from_bytes(&bytes).unwrap(), cert);
        // A missing signature: 2 of 4 is not 2f + 1.
        let mut short = cert.clone();
        short.signatures.pop_first();
        assert!(
            short
                .verify(&publics(&oracles), 1)
                .unwrap_err()
                .to_string()
                .contains("2f + 1")
        );
        // A forged one (a byte flipped), or one by a key that is not an oracle.
        let mut forged = cert.clone();
        forged.signatures.values_mut().next().unwrap()[5] ^= 1;
        assert!(forged.verify(&publics(&oracles), 1).is_err());
        let outsider = SigningKey::from_bytes(&[99; 32]);
        let mut foreign = cert.clone();
        foreign.signatures.insert(
            outsider.verifying_key().to_bytes(),
            sign(&table(), &outsider),
        );
        assert!(foreign.verify(&publics(&oracles), 1).is_err());
        // Figures changed after signing: the root no longer matches.
        let mut moved = cert.clone();
        *moved.table.figures.get_mut("node-3").unwrap() += 1;
        assert!(moved.verify(&publics(&oracles), 1).is_err());
        assert!(Certificate::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn each_node_s_figure_is_proven_alone() {
        let cert = certified(&keys(3));
        for node in cert.table.figures.keys() {
            let proof = cert.proof(node).unwrap();
            assert!(proof.holds(42, &cert.root), "{node}");
            let mut lie = proof.clone();
            lie.availability = lie.availability.wrapping_add(1);
            assert!(!lie.holds(42, &cert.root));
            assert!(!proof.holds(43, &cert.root), "another epoch");
        }
        assert!(cert.proof("nobody").is_none());
    }

    #[test]
    fn a_bad_or_duplicate_signature_is_not_added() {
        let oracles = keys(4);
        let t = table();
        let mut cert = Certificate::new(t.clone());
        let key = oracles[0].verifying_key().to_bytes();
        assert!(!cert.add_signature(key, [0; 64]));
        assert!(cert.add_signature(key, sign(&t, &oracles[0])));
        assert!(!cert.add_signature(key, sign(&t, &oracles[0])));
        // A signature of another root (an equivocating oracle's second table).
        let mut other = t.clone();
        other.figures.insert("extra".into(), 1);
        assert!(!cert.add_signature(
            oracles[1].verifying_key().to_bytes(),
            sign(&other, &oracles[1])
        ));
        assert_eq!(cert.signatures.len(), 1);
    }

    proptest! {
        /// Honest oracles assemble the same bytes whatever order (and how many times) the
        /// signatures arrive.
        #[test]
        fn the_bytes_do_not_depend_on_arrival_order_or_duplicates(
            order in proptest::collection::vec(0usize..4, 1..16),
        ) {
            let oracles = keys(4);
            let t = table();
            let signatures: Vec<([u8; 32], [u8; 64])> = oracles
                .iter()
                .map(|k| (k.verifying_key().to_bytes(), sign(&t, k)))
                .collect();
            let mut a = Certificate::new(t.clone());
            for &i in &order {
                a.add_signature(signatures[i].0, signatures[i].1);
            }
            let mut b = Certificate::new(t.clone());
            let mut seen: Vec<usize> = order.clone();
            seen.sort_unstable();
            seen.dedup();
            for &i in seen.iter().rev() {
                b.add_signature(signatures[i].0, signatures[i].1);
            }
            prop_assert_eq!(a.to_bytes(), b.to_bytes());
        }
    }
}
