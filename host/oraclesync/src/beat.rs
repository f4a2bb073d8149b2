//! Signed heartbeats: what every node sends the oracles each period.
//!
//! A beat is the node's ed25519 key, its own clock's stamp and its Deeploy advert (JSON, the
//! same one it writes to CSTORE), signed with the node key over `"r1-oraclesync-beat-v1\0" |
//! [32] key | u64 at_ms | advert`. The wire form is `MAGIC | [32] key | u64 at_ms | [64]
//! signature | advert`.
//!
//! Invariants: a beat proves that the key's holder was running when it signed; **when** it
//! counts is the oracle's own clock at arrival, never the stamp (a node cannot pre-sign beats
//! for a time it will be down, nor backdate them: an oracle ignores a beat whose stamp is
//! further than the allowed skew from its clock, and one that repeats or predates the last
//! beat it took from that node).

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::OracleError;

const DOMAIN: &[u8] = b"r1-oraclesync-beat-v1\0";
const MAGIC: &[u8; 8] = b"R1BEAT01";

/// A verified (or freshly signed) heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBeat {
    /// The node's public key.
    pub node: [u8; 32],
    /// The node's clock when it signed (ms since the Unix epoch).
    pub at_ms: u64,
    /// Its Deeploy advert (JSON).
    pub advert: Vec<u8>,
    /// The signature.
    pub signature: [u8; 64],
}

fn message(node: &[u8; 32], at_ms: u64, advert: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(DOMAIN.len() + 40 + advert.len());
    m.extend_from_slice(DOMAIN);
    m.extend_from_slice(node);
    m.extend_from_slice(&at_ms.to_be_bytes());
    m.extend_from_slice(advert);
    m
}

impl SignedBeat {
    /// A beat signed with `key`.
    pub fn sign(key: &SigningKey, at_ms: u64, advert: Vec<u8>) -> Self {
        let node = key.verifying_key().to_bytes();
        let signature = key.sign(&message(&node, at_ms, &advert)).to_bytes();
        Self {
            node,
            at_ms,
            advert,
            signature,
        }
    }

    /// The wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MAGIC.len() + 104 + self.advert.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.node);
        out.extend_from_slice(&self.at_ms.to_be_bytes());
        out.extend_from_slice(&self.signature);
        out.extend_from_slice(&self.advert);
        out
    }

    /// Decodes the wire form and checks the signature.
    pub fn verify(bytes: &[u8]) -> Result<Self, OracleError> {
        let rest = bytes
            .strip_prefix(MAGIC)
            .ok_or_else(|| OracleError::Malformed("not a heartbeat".into()))?;
        if rest.len() < 104 {
            return Err(OracleError::Malformed("truncated heartbeat".into()));
        }
        let (node, rest) = rest.split_at(32);
        let (at, rest) = rest.split_at(8);
        let (signature, advert) = rest.split_at(64);
        let beat = SignedBeat {
            node: node.try_into().expect("32 bytes"),
            at_ms: u64::from_be_bytes(at.try_into().expect("8 bytes")),
            advert: advert.to_vec(),
            signature: signature.try_into().expect("64 bytes"),
        };
        let key = VerifyingKey::from_bytes(&beat.node)
            .map_err(|_| OracleError::Invalid("the beat's key is not ed25519".into()))?;
        key.verify(
            &message(&beat.node, beat.at_ms, &beat.advert),
            &Signature::from_bytes(&beat.signature),
        )
        .map_err(|_| OracleError::Invalid("the beat's signature does not verify".into()))?;
        Ok(beat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_beat_verifies_and_any_change_breaks_it() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let beat = SignedBeat::sign(&key, 1_234, br#"{"node":"x"}"#.to_vec());
        let bytes = beat.to_bytes();
        assert_eq!(SignedBeat::verify(&bytes).unwrap(), beat);
        for at in [8, 8 + 32, 8 + 40, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[at] ^= 1;
            assert!(SignedBeat::verify(&bad).is_err(), "flipped byte {at}");
        }
        assert!(SignedBeat::verify(&bytes[..50]).is_err());
        assert!(SignedBeat::verify(b"junk").is_err());
    }
}
