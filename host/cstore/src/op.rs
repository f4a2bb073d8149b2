//! Operations: the unit of replication. One op sets or deletes one cell (a key, or one field
//! of a hash) and is signed by the node that wrote it.
//!
//! Wire format (all integers big-endian):
//! ```text
//! body = u8 format (2) | u8 kind (0 key, 1 hash field) | u64 hlc | [32] writer public key
//!      | u64 version | u64 expires (ms since the Unix epoch, 0: never) | u16+ns | u16+key
//!      | u16+field | u8 present | u32+value
//! op   = body | u32 index | u32 count | u8 n | [32]*n proof | [64] signature
//! ```
//! **One signature per batch.** A writer signs the ops it commits together once: the leaves are
//! `blake3::derive_key("r1-cstore op leaf v2", body)` in batch order, the tree is `rs_merkle`'s
//! (an inner node is `blake3(left | right)`, an odd node is promoted), and the signature is
//! ed25519 over `"r1-cstore-batch-v2\0" | root`. Every op carries its leaf's `index`, the
//! batch's `count`, its proof path and that one signature, so each op stays attributable and
//! verifiable **alone** (anti-entropy ships single ops, years later): hash the body, walk the
//! proof to a root, check the signature on the root with the writer key named in the body.
//! Ops of one batch that arrive together cost one signature check for all of them.
//!
//! Format 1 (a signature per op, `body | [64] signature over "r1-cstore-op-v1\0" | body`,
//! no `expires`) is still read and verified, so a store written before keeps its data.
//!
//! Conflicting ops on one cell are ordered by `(hlc, writer)`: the larger wins everywhere.

use std::collections::HashMap;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use rs_merkle::{MerkleProof, MerkleTree};

const FORMAT_V1: u8 = 1;
const FORMAT: u8 = 2;
const DOMAIN_V1: &[u8] = b"r1-cstore-op-v1\0";
const DOMAIN: &[u8] = b"r1-cstore-batch-v2\0";
const LEAF_CONTEXT: &str = "r1-cstore op leaf v2";
const SIG_LEN: usize = 64;
/// The most ops one signature covers (a proof is then at most 20 hashes).
pub const MAX_BATCH: usize = 1 << 20;
const MAX_PROOF: usize = 32;

/// The kind of cell an op writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A key's value.
    Key,
    /// One field of a hash.
    HashField,
}

/// What an op says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpBody {
    /// Whether it writes a key or a hash field.
    pub kind: Kind,
    /// The write's hybrid logical clock timestamp.
    pub hlc: u64,
    /// The writing node's ed25519 public key.
    pub writer: [u8; 32],
    /// The cell's version after this write (1 + its version before, 0 when absent or deleted).
    pub version: u64,
    /// When the value stops being visible, in ms since the Unix epoch (0: never).
    pub expires: u64,
    /// The namespace.
    pub ns: String,
    /// The key.
    pub key: String,
    /// The hash field; empty for a [`Kind::Key`] op.
    pub field: String,
    /// `None`: a tombstone.
    pub value: Option<Vec<u8>>,
}

/// Why an op was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    /// The bytes do not decode as an op (the part that is wrong).
    #[error("malformed op: {0}")]
    Malformed(&'static str),
    /// The signature does not verify against the writer's key.
    #[error("op signature does not verify")]
    BadSignature,
}

/// blake3 as `rs_merkle`'s node hash (inner nodes; leaves are hashed by [`leaf`]).
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

/// An op's leaf: its encoded body in blake3's key-derivation mode, a domain no inner node
/// (plain blake3 of two hashes) can share.
fn leaf(body: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key(LEAF_CONTEXT);
    h.update(body);
    *h.finalize().as_bytes()
}

impl OpBody {
    /// The order of conflicting writes: later HLC wins, writer key breaks ties.
    pub fn stamp(&self) -> (u64, [u8; 32]) {
        (self.hlc, self.writer)
    }

    /// The cell this op writes, as stored (see [`cell_key`]).
    pub fn cell(&self) -> Vec<u8> {
        cell_key(self.kind, &self.ns, &self.key, &self.field)
    }

    /// The value as seen at `now_ms`: `None` for a tombstone or once expired.
    pub fn live_value(&self, now_ms: u64) -> Option<&Vec<u8>> {
        self.value.as_ref().filter(|_| !self.expired(now_ms))
    }

    /// Whether the value has expired at `now_ms`.
    pub fn expired(&self, now_ms: u64) -> bool {
        self.expires != 0 && self.expires <= now_ms
    }

    /// The encoded body (format 2).
    pub fn encode(&self) -> Vec<u8> {
        let value_len = self.value.as_ref().map_or(0, Vec::len);
        let mut out = Vec::with_capacity(72 + self.ns.len() + self.key.len() + value_len);
        out.push(FORMAT);
        out.push(match self.kind {
            Kind::Key => 0,
            Kind::HashField => 1,
        });
        out.extend_from_slice(&self.hlc.to_be_bytes());
        out.extend_from_slice(&self.writer);
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&self.expires.to_be_bytes());
        for s in [&self.ns, &self.key, &self.field] {
            out.extend_from_slice(&(s.len() as u16).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        match &self.value {
            Some(v) => {
                out.push(1);
                out.extend_from_slice(&(v.len() as u32).to_be_bytes());
                out.extend_from_slice(v);
            }
            None => {
                out.push(0);
                out.extend_from_slice(&0u32.to_be_bytes());
            }
        }
        out
    }

    /// Encodes and signs this op alone (a batch of one; see [`seal`]).
    pub fn sign(&self, key: &SigningKey) -> Vec<u8> {
        seal(&[self.encode()], key).pop().unwrap_or_default()
    }
}

/// Signs encoded bodies (all written by `key`'s node, at most [`MAX_BATCH`]) with one
/// signature over their Merkle root; returns the ops, in the same order.
pub fn seal<B: AsRef<[u8]>>(bodies: &[B], key: &SigningKey) -> Vec<Vec<u8>> {
    if bodies.is_empty() {
        return Vec::new();
    }
    let (tree, root) = tree(bodies);
    let signature = key.sign(&root_message(&root)).to_bytes();
    with_proofs(bodies, &tree, &signature)
}

/// The ops of a whole sealed batch from its bodies and signature alone (what a compact gossip
/// frame carries): the proofs are rebuilt here. Whether the signature holds is for [`verify`]
/// or [`verify_all`] to say, as for any op.
pub fn assemble<B: AsRef<[u8]>>(bodies: &[B], signature: &[u8; SIG_LEN]) -> Vec<Vec<u8>> {
    if bodies.is_empty() || bodies.len() > MAX_BATCH {
        return Vec::new();
    }
    let (tree, _) = tree(bodies);
    with_proofs(bodies, &tree, signature)
}

/// An op of format 2 as (body, index, count, signature), to frame whole batches.
pub fn sealed_parts(op: &[u8]) -> Option<(&[u8], usize, usize, [u8; SIG_LEN])> {
    let (_, seal) = parse(op).ok()?;
    match seal {
        Seal::Batch {
            body,
            index,
            count,
            sig,
            ..
        } => Some((body, index, count, sig)),
        Seal::Single { .. } => None,
    }
}

fn tree<B: AsRef<[u8]>>(bodies: &[B]) -> (MerkleTree<Blake3>, [u8; 32]) {
    let leaves: Vec<[u8; 32]> = bodies.iter().map(|b| leaf(b.as_ref())).collect();
    let tree = MerkleTree::<Blake3>::from_leaves(&leaves);
    let root = tree.root().unwrap_or(leaves[0]);
    (tree, root)
}

fn with_proofs<B: AsRef<[u8]>>(
    bodies: &[B],
    tree: &MerkleTree<Blake3>,
    signature: &[u8; SIG_LEN],
) -> Vec<Vec<u8>> {
    let count = bodies.len() as u32;
    bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let body = body.as_ref();
            let proof = tree.proof(&[i]);
            let hashes = proof.proof_hashes();
            let mut op = Vec::with_capacity(body.len() + 9 + 32 * hashes.len() + SIG_LEN);
            op.extend_from_slice(body);
            op.extend_from_slice(&(i as u32).to_be_bytes());
            op.extend_from_slice(&count.to_be_bytes());
            op.push(hashes.len() as u8);
            for h in hashes {
                op.extend_from_slice(h);
            }
            op.extend_from_slice(signature);
            op
        })
        .collect()
}

fn root_message(root: &[u8; 32]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(DOMAIN.len() + 32);
    msg.extend_from_slice(DOMAIN);
    msg.extend_from_slice(root);
    msg
}

fn signed_message_v1(body: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(DOMAIN_V1.len() + body.len());
    msg.extend_from_slice(DOMAIN_V1);
    msg.extend_from_slice(body);
    msg
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], OpError> {
        if self.0.len() < n {
            return Err(OpError::Malformed("truncated"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, OpError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, OpError> {
        Ok(u32::from_be_bytes(
            self.take(4)?
                .try_into()
                .map_err(|_| OpError::Malformed("u32"))?,
        ))
    }

    fn u64(&mut self) -> Result<u64, OpError> {
        Ok(u64::from_be_bytes(
            self.take(8)?
                .try_into()
                .map_err(|_| OpError::Malformed("u64"))?,
        ))
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], OpError> {
        self.take(N)?
            .try_into()
            .map_err(|_| OpError::Malformed("array"))
    }

    fn string(&mut self) -> Result<String, OpError> {
        let len = u16::from_be_bytes(self.array()?);
        String::from_utf8(self.take(len as usize)?.to_vec())
            .map_err(|_| OpError::Malformed("string is not UTF-8"))
    }
}

/// How an op is signed.
enum Seal<'a> {
    /// Format 1: a signature over the body alone.
    Single { body: &'a [u8], sig: [u8; SIG_LEN] },
    /// Format 2: a signature over a batch's root, and this op's path to it.
    Batch {
        body: &'a [u8],
        index: usize,
        count: usize,
        /// The path, `32 × n` bytes (turned into hashes only when the op is verified: reads
        /// of stored ops only decode).
        proof: &'a [u8],
        sig: [u8; SIG_LEN],
    },
}

impl Seal<'_> {
    /// The signed message and the signature.
    fn message(&self) -> Result<(Vec<u8>, [u8; SIG_LEN]), OpError> {
        match self {
            Seal::Single { body, sig } => Ok((signed_message_v1(body), *sig)),
            Seal::Batch {
                body,
                index,
                count,
                proof,
                sig,
            } => {
                let hashes = proof
                    .chunks_exact(32)
                    .map(|h| h.try_into().map_err(|_| OpError::Malformed("proof")))
                    .collect::<Result<Vec<[u8; 32]>, _>>()?;
                let root = MerkleProof::<Blake3>::new(hashes)
                    .root(&[*index], &[leaf(body)], *count)
                    .map_err(|_| OpError::BadSignature)?;
                Ok((root_message(&root), *sig))
            }
        }
    }
}

/// Parses an op's body and how it is signed.
fn parse(op: &[u8]) -> Result<(OpBody, Seal<'_>), OpError> {
    let mut r = Reader(op);
    let format = r.u8()?;
    if format != FORMAT && format != FORMAT_V1 {
        return Err(OpError::Malformed("unknown format"));
    }
    let kind = match r.u8()? {
        0 => Kind::Key,
        1 => Kind::HashField,
        _ => return Err(OpError::Malformed("unknown kind")),
    };
    let hlc = r.u64()?;
    let writer: [u8; 32] = r.array()?;
    let version = r.u64()?;
    let expires = if format == FORMAT { r.u64()? } else { 0 };
    let ns = r.string()?;
    let key = r.string()?;
    let field = r.string()?;
    let present = r.u8()?;
    let len = r.u32()?;
    let value = r.take(len as usize)?.to_vec();
    let value = match present {
        1 => Some(value),
        0 if value.is_empty() => None,
        _ => return Err(OpError::Malformed("bad presence flag")),
    };
    let body_bytes = &op[..op.len() - r.0.len()];
    let seal = if format == FORMAT_V1 {
        Seal::Single {
            body: body_bytes,
            sig: r.array()?,
        }
    } else {
        let index = r.u32()? as usize;
        let count = r.u32()? as usize;
        let n = r.u8()? as usize;
        if count == 0 || count > MAX_BATCH || index >= count || n > MAX_PROOF {
            return Err(OpError::Malformed("batch position out of range"));
        }
        let proof = r.take(32 * n)?;
        Seal::Batch {
            body: body_bytes,
            index,
            count,
            proof,
            sig: r.array()?,
        }
    };
    if !r.0.is_empty() {
        return Err(OpError::Malformed("trailing bytes"));
    }
    let body = OpBody {
        kind,
        hlc,
        writer,
        version,
        expires,
        ns,
        key,
        field,
        value,
    };
    Ok((body, seal))
}

/// Parses an op without checking its signature (for ops read back from the local store).
pub fn decode(op: &[u8]) -> Result<OpBody, OpError> {
    parse(op).map(|(body, _)| body)
}

/// Parses an op and checks that its writer signed it.
pub fn verify(op: &[u8]) -> Result<OpBody, OpError> {
    let (body, seal) = parse(op)?;
    let (message, sig) = seal.message()?;
    let key = VerifyingKey::from_bytes(&body.writer).map_err(|_| OpError::BadSignature)?;
    key.verify(&message, &Signature::from_bytes(&sig))
        .map_err(|_| OpError::BadSignature)?;
    Ok(body)
}

/// [`verify`] for many ops at once. Ops that name the same writer, root and signature (one
/// batch) share one check; the distinct signatures are checked in one ed25519 batch
/// verification, and only when that fails is each checked alone, so a bad op is pinned to
/// its own signature and every op under a good one is kept.
pub fn verify_all(ops: &[Vec<u8>]) -> Vec<Result<OpBody, OpError>> {
    type Claim = ([u8; 32], Vec<u8>, [u8; SIG_LEN]);
    let mut out: Vec<Result<OpBody, OpError>> = Vec::with_capacity(ops.len());
    // The distinct (writer, message, signature) claims and the ops resting on each.
    let mut claims: Vec<(Claim, VerifyingKey, Vec<usize>)> = Vec::new();
    let mut seen: HashMap<Claim, usize> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        let parsed = parse(op).and_then(|(body, seal)| {
            let (message, sig) = seal.message()?;
            let key = VerifyingKey::from_bytes(&body.writer).map_err(|_| OpError::BadSignature)?;
            Ok((body, message, sig, key))
        });
        match parsed {
            Ok((body, message, sig, key)) => {
                let claim = (body.writer, message, sig);
                match seen.get(&claim) {
                    Some(&c) => claims[c].2.push(i),
                    None => {
                        seen.insert(claim.clone(), claims.len());
                        claims.push((claim, key, vec![i]));
                    }
                }
                out.push(Ok(body));
            }
            Err(e) => out.push(Err(e)),
        }
    }
    if claims.is_empty() {
        return out;
    }
    let messages: Vec<&[u8]> = claims.iter().map(|(c, _, _)| c.1.as_slice()).collect();
    let signatures: Vec<Signature> = claims
        .iter()
        .map(|(c, _, _)| Signature::from_bytes(&c.2))
        .collect();
    let keys: Vec<VerifyingKey> = claims.iter().map(|(_, k, _)| *k).collect();
    let all_good = match claims.len() {
        1 => keys[0].verify(messages[0], &signatures[0]).is_ok(),
        _ => ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok(),
    };
    if !all_good {
        for (n, (_, key, resting)) in claims.iter().enumerate() {
            if claims.len() == 1 || key.verify(messages[n], &signatures[n]).is_err() {
                for &i in resting {
                    out[i] = Err(OpError::BadSignature);
                }
            }
        }
    }
    out
}

/// Storage key of a cell: `kind | ns | 0 | key [| 0 | field]`. Names never contain NUL, so
/// cells of different namespaces, keys or kinds never collide.
pub fn cell_key(kind: Kind, ns: &str, key: &str, field: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(3 + ns.len() + key.len() + field.len());
    k.push(match kind {
        Kind::Key => b'k',
        Kind::HashField => b'h',
    });
    k.extend_from_slice(ns.as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    if kind == Kind::HashField {
        k.push(0);
        k.extend_from_slice(field.as_bytes());
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Option<&[u8]>) -> OpBody {
        OpBody {
            kind: Kind::HashField,
            hlc: 42,
            writer: SigningKey::from_bytes(&[7; 32]).verifying_key().to_bytes(),
            version: 3,
            expires: 0,
            ns: "ns".into(),
            key: "k".into(),
            field: "f".into(),
            value: value.map(<[u8]>::to_vec),
        }
    }

    #[test]
    fn round_trips_and_detects_tampering() {
        let key = SigningKey::from_bytes(&[7; 32]);
        for b in [body(Some(b"value")), body(None)] {
            let op = b.sign(&key);
            assert_eq!(verify(&op).unwrap(), b);
            for i in 0..op.len() {
                let mut bad = op.clone();
                bad[i] ^= 1;
                assert!(verify(&bad).is_err(), "flip at {i} accepted");
            }
        }
        // Signed by a key other than the writer named inside.
        let other = SigningKey::from_bytes(&[8; 32]);
        assert_eq!(
            verify(&body(Some(b"v")).sign(&other)),
            Err(OpError::BadSignature)
        );
        assert!(decode(b"short").is_err());
    }

    #[test]
    fn batch_verification_keeps_the_good_ops_and_pins_the_bad_ones() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let other = SigningKey::from_bytes(&[8; 32]);
        let good: Vec<Vec<u8>> = (0..5)
            .map(|i| {
                let mut b = body(Some(b"v"));
                b.version = i;
                b.sign(&key)
            })
            .collect();
        assert!(verify_all(&good).iter().all(Result::is_ok));
        let mut mixed = good.clone();
        mixed[1][10] ^= 1; // tampered
        mixed[3] = body(Some(b"v")).sign(&other); // signed by someone else
        mixed.push(b"short".to_vec());
        let results = verify_all(&mixed);
        let ok: Vec<bool> = results.iter().map(Result::is_ok).collect();
        assert_eq!(ok, [true, false, true, false, true, false]);
        assert_eq!(results[3], Err(OpError::BadSignature));
        assert_eq!(results[0], verify(&good[0]));
    }

    #[test]
    fn a_batch_shares_one_signature_and_each_op_verifies_alone() {
        let key = SigningKey::from_bytes(&[7; 32]);
        for n in [1usize, 2, 3, 7, 64, 1000] {
            let bodies: Vec<OpBody> = (0..n)
                .map(|i| {
                    let mut b = body(Some(format!("v{i}").as_bytes()));
                    b.version = i as u64;
                    b.expires = if i % 2 == 0 { 0 } else { 1_000 + i as u64 };
                    b
                })
                .collect();
            let encoded: Vec<Vec<u8>> = bodies.iter().map(OpBody::encode).collect();
            let ops = seal(&encoded, &key);
            assert_eq!(ops.len(), n);
            let sig = &ops[0][ops[0].len() - SIG_LEN..];
            for (op, b) in ops.iter().zip(&bodies) {
                assert_eq!(&op[op.len() - SIG_LEN..], sig, "one signature per batch");
                assert_eq!(verify(op).as_ref(), Ok(b), "batch of {n}");
            }
            assert!(
                verify_all(&ops)
                    .iter()
                    .zip(&bodies)
                    .all(|(r, b)| r.as_ref() == Ok(b))
            );
        }
    }

    #[test]
    fn an_op_cannot_be_moved_to_another_place_in_its_batch() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let encoded: Vec<Vec<u8>> = (0..5)
            .map(|i| {
                let mut b = body(Some(b"v"));
                b.version = i;
                b.encode()
            })
            .collect();
        let ops = seal(&encoded, &key);
        // Claim leaf 2 sits at index 3 (same proof), or that the batch had 4 ops.
        let at = encoded[2].len();
        let mut moved = ops[2].clone();
        moved[at..at + 4].copy_from_slice(&3u32.to_be_bytes());
        assert!(verify(&moved).is_err());
        let mut shrunk = ops[2].clone();
        shrunk[at + 4..at + 8].copy_from_slice(&4u32.to_be_bytes());
        assert!(verify(&shrunk).is_err());
        // Another op's proof does not fit this body.
        let mut swapped = encoded[1].clone();
        swapped.extend_from_slice(&ops[2][at..]);
        assert!(verify(&swapped).is_err());
    }

    #[test]
    fn a_bad_batch_fails_alone_in_a_mixed_delivery() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let other = SigningKey::from_bytes(&[9; 32]);
        let batch = |k: &SigningKey, n: u64| {
            let writer = k.verifying_key().to_bytes();
            let bodies: Vec<Vec<u8>> = (0..n)
                .map(|i| {
                    let mut b = body(Some(b"v"));
                    b.writer = writer;
                    b.version = i;
                    b.encode()
                })
                .collect();
            seal(&bodies, k)
        };
        let good = batch(&key, 4);
        let mut bad = batch(&other, 3);
        for op in &mut bad {
            let len = op.len();
            op[len - 1] ^= 1; // the shared signature, corrupted in every op of the batch
        }
        let mixed: Vec<Vec<u8>> = good.iter().chain(&bad).cloned().collect();
        let ok: Vec<bool> = verify_all(&mixed).iter().map(Result::is_ok).collect();
        assert_eq!(ok, [true, true, true, true, false, false, false]);
    }

    #[test]
    fn format_1_ops_are_still_read_and_verified() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let b = body(Some(b"old"));
        // Format 1: no expiry field, a signature over the body alone.
        let mut v1 = vec![FORMAT_V1, 1];
        v1.extend_from_slice(&b.hlc.to_be_bytes());
        v1.extend_from_slice(&b.writer);
        v1.extend_from_slice(&b.version.to_be_bytes());
        for s in ["ns", "k", "f"] {
            v1.extend_from_slice(&(s.len() as u16).to_be_bytes());
            v1.extend_from_slice(s.as_bytes());
        }
        v1.push(1);
        v1.extend_from_slice(&3u32.to_be_bytes());
        v1.extend_from_slice(b"old");
        let sig = key.sign(&signed_message_v1(&v1)).to_bytes();
        v1.extend_from_slice(&sig);
        assert_eq!(verify(&v1), Ok(b.clone()));
        assert_eq!(verify_all(&[v1.clone()])[0], Ok(b));
        let last = v1.len() - 1;
        v1[last] ^= 1;
        assert_eq!(verify(&v1), Err(OpError::BadSignature));
    }
}
