//! Operations: the unit of replication. One op sets or deletes one cell (a key, or one field
//! of a hash) and is signed by the node that wrote it.
//!
//! Wire format (all integers big-endian):
//! ```text
//! body = u8 format (1) | u8 kind (0 key, 1 hash field) | u64 hlc | [32] writer public key
//!      | u64 version | u16+ns | u16+key | u16+field | u8 present | u32+value
//! op   = body | [64] ed25519 signature over ("r1-cstore-op-v1\0" | body)
//! ```
//! Conflicting ops on one cell are ordered by `(hlc, writer)`: the larger wins everywhere.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

const FORMAT: u8 = 1;
const DOMAIN: &[u8] = b"r1-cstore-op-v1\0";
const SIG_LEN: usize = 64;

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

impl OpBody {
    /// The order of conflicting writes: later HLC wins, writer key breaks ties.
    pub fn stamp(&self) -> (u64, [u8; 32]) {
        (self.hlc, self.writer)
    }

    /// The cell this op writes, as stored (see [`cell_key`]).
    pub fn cell(&self) -> Vec<u8> {
        cell_key(self.kind, &self.ns, &self.key, &self.field)
    }

    fn encode(&self) -> Vec<u8> {
        let value_len = self.value.as_ref().map_or(0, Vec::len);
        let mut out = Vec::with_capacity(64 + self.ns.len() + self.key.len() + value_len);
        out.push(FORMAT);
        out.push(match self.kind {
            Kind::Key => 0,
            Kind::HashField => 1,
        });
        out.extend_from_slice(&self.hlc.to_be_bytes());
        out.extend_from_slice(&self.writer);
        out.extend_from_slice(&self.version.to_be_bytes());
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

    /// Encodes and signs.
    pub fn sign(&self, key: &SigningKey) -> Vec<u8> {
        let mut op = self.encode();
        let sig = key.sign(&signed_message(&op)).to_bytes();
        op.extend_from_slice(&sig);
        op
    }
}

fn signed_message(body: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(DOMAIN.len() + body.len());
    msg.extend_from_slice(DOMAIN);
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

    fn u64(&mut self) -> Result<u64, OpError> {
        Ok(u64::from_be_bytes(
            self.take(8)?
                .try_into()
                .map_err(|_| OpError::Malformed("u64"))?,
        ))
    }

    fn string(&mut self) -> Result<String, OpError> {
        let len = u16::from_be_bytes(
            self.take(2)?
                .try_into()
                .map_err(|_| OpError::Malformed("len"))?,
        );
        String::from_utf8(self.take(len as usize)?.to_vec())
            .map_err(|_| OpError::Malformed("string is not UTF-8"))
    }
}

/// Parses an op without checking its signature (for ops read back from the local store).
pub fn decode(op: &[u8]) -> Result<OpBody, OpError> {
    if op.len() < SIG_LEN {
        return Err(OpError::Malformed("shorter than a signature"));
    }
    let mut r = Reader(&op[..op.len() - SIG_LEN]);
    if r.u8()? != FORMAT {
        return Err(OpError::Malformed("unknown format"));
    }
    let kind = match r.u8()? {
        0 => Kind::Key,
        1 => Kind::HashField,
        _ => return Err(OpError::Malformed("unknown kind")),
    };
    let hlc = r.u64()?;
    let writer: [u8; 32] = r
        .take(32)?
        .try_into()
        .map_err(|_| OpError::Malformed("writer"))?;
    let version = r.u64()?;
    let ns = r.string()?;
    let key = r.string()?;
    let field = r.string()?;
    let present = r.u8()?;
    let len = u32::from_be_bytes(
        r.take(4)?
            .try_into()
            .map_err(|_| OpError::Malformed("len"))?,
    );
    let value = r.take(len as usize)?.to_vec();
    if !r.0.is_empty() {
        return Err(OpError::Malformed("trailing bytes"));
    }
    let value = match present {
        1 => Some(value),
        0 if value.is_empty() => None,
        _ => return Err(OpError::Malformed("bad presence flag")),
    };
    Ok(OpBody {
        kind,
        hlc,
        writer,
        version,
        ns,
        key,
        field,
        value,
    })
}

/// Parses an op and checks that its writer signed it.
pub fn verify(op: &[u8]) -> Result<OpBody, OpError> {
    let body = decode(op)?;
    let (signed, sig) = op.split_at(op.len() - SIG_LEN);
    let sig: [u8; SIG_LEN] = sig
        .try_into()
        .map_err(|_| OpError::Malformed("signature"))?;
    let key = VerifyingKey::from_bytes(&body.writer).map_err(|_| OpError::BadSignature)?;
    key.verify(&signed_message(signed), &Signature::from_bytes(&sig))
        .map_err(|_| OpError::BadSignature)?;
    Ok(body)
}

/// [`verify`] for many ops at once: the well-formed ones are checked in one ed25519 batch
/// verification (about half the cost per signature); only when the batch fails is each
/// checked alone, so a bad op is still pinned to itself and the good ones kept.
pub fn verify_all(ops: &[Vec<u8>]) -> Vec<Result<OpBody, OpError>> {
    let mut out: Vec<Result<OpBody, OpError>> = Vec::with_capacity(ops.len());
    let mut messages = Vec::new();
    let mut signatures = Vec::new();
    let mut keys = Vec::new();
    let mut checked = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let parsed = decode(op).and_then(|body| {
            let (signed, sig) = op.split_at(op.len() - SIG_LEN);
            let sig: [u8; SIG_LEN] = sig
                .try_into()
                .map_err(|_| OpError::Malformed("signature"))?;
            let key = VerifyingKey::from_bytes(&body.writer).map_err(|_| OpError::BadSignature)?;
            Ok((
                body,
                signed_message(signed),
                Signature::from_bytes(&sig),
                key,
            ))
        });
        match parsed {
            Ok((body, message, signature, key)) => {
                messages.push(message);
                signatures.push(signature);
                keys.push(key);
                checked.push(i);
                out.push(Ok(body));
            }
            Err(e) => out.push(Err(e)),
        }
    }
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    if !refs.is_empty() && ed25519_dalek::verify_batch(&refs, &signatures, &keys).is_err() {
        for (n, &i) in checked.iter().enumerate() {
            if keys[n].verify(refs[n], &signatures[n]).is_err() {
                out[i] = Err(OpError::BadSignature);
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
}
