//! The records oracles publish for each other (through CSTORE, which replicates them over the
//! mesh): each authenticates itself with the oracle's key, whoever stored or relayed it.
//!
//! - A **table**: `[32] oracle | [64] signature | JSON table`, signed over
//!   `"r1-oraclesync-table-v1\0" | JSON`.
//! - A **signature** of a root: `[32] root | [64] signature` under the oracle's key name; the
//!   signature is the certificate's (`certificate::signed_message`).

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::OracleError;
use crate::certificate::signed_message;
use crate::table::Table;

const TABLE_DOMAIN: &[u8] = b"r1-oraclesync-table-v1\0";

fn verify(oracle: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> Result<(), OracleError> {
    VerifyingKey::from_bytes(oracle)
        .map_err(|_| OracleError::Invalid("an oracle key is not ed25519".into()))?
        .verify(message, &Signature::from_bytes(signature))
        .map_err(|_| OracleError::Invalid("the record's signature does not verify".into()))
}

/// `table` as a record signed by `key`.
pub fn seal_table(key: &SigningKey, table: &Table) -> Vec<u8> {
    let json = serde_json::to_vec(table).expect("a table serializes");
    let mut message = TABLE_DOMAIN.to_vec();
    message.extend_from_slice(&json);
    let mut out = key.verifying_key().to_bytes().to_vec();
    out.extend_from_slice(&key.sign(&message).to_bytes());
    out.extend_from_slice(&json);
    out
}

/// A table record, checked: who signed it and the table.
pub fn open_table(bytes: &[u8]) -> Result<([u8; 32], Table), OracleError> {
    if bytes.len() < 96 {
        return Err(OracleError::Malformed("truncated table record".into()));
    }
    let oracle: [u8; 32] = bytes[..32].try_into().expect("32 bytes");
    let signature: [u8; 64] = bytes[32..96].try_into().expect("64 bytes");
    let json = &bytes[96..];
    let mut message = TABLE_DOMAIN.to_vec();
    message.extend_from_slice(json);
    verify(&oracle, &message, &signature)?;
    let table = serde_json::from_slice(json)
        .map_err(|e| OracleError::Malformed(format!("not a table: {e}")))?;
    Ok((oracle, table))
}

/// `key`'s signature of `root` for `epoch`, as a record.
pub fn seal_signature(key: &SigningKey, epoch: u64, root: &[u8; 32]) -> Vec<u8> {
    let mut out = root.to_vec();
    out.extend_from_slice(&key.sign(&signed_message(epoch, root)).to_bytes());
    out
}

/// A signature record `oracle` published for `epoch`, checked: the root and the signature.
pub fn open_signature(
    oracle: &[u8; 32],
    epoch: u64,
    bytes: &[u8],
) -> Result<([u8; 32], [u8; 64]), OracleError> {
    if bytes.len() != 96 {
        return Err(OracleError::Malformed(
            "a signature record is 96 bytes".into(),
        ));
    }
    let root: [u8; 32] = bytes[..32].try_into().expect("32 bytes");
    let signature: [u8; 64] = bytes[32..].try_into().expect("64 bytes");
    verify(oracle, &signed_message(epoch, &root), &signature)?;
    Ok((root, signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_open_only_as_signed() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let table = Table {
            epoch: 4,
            figures: [("n".to_string(), 200)].into(),
        };
        let record = seal_table(&key, &table);
        assert_eq!(
            open_table(&record).unwrap(),
            (key.verifying_key().to_bytes(), table)
        );
        let mut bad = record.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(open_table(&bad).is_err());
        let root = [9; 32];
        let sig = seal_signature(&key, 4, &root);
        let own = key.verifying_key().to_bytes();
        assert_eq!(open_signature(&own, 4, &sig).unwrap().0, root);
        assert!(open_signature(&own, 5, &sig).is_err(), "another epoch");
        assert!(open_signature(&[1; 32], 4, &sig).is_err(), "another oracle");
    }
}
