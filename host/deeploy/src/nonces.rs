//! Single use: a request's nonce is remembered until its window closes (after that the request
//! is refused as expired anyway), so a replay inside the window is refused and memory holds only
//! the requests that could still be replayed.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::DeeployError;
use crate::signed::Verified;

/// Where used nonces are kept. A node keeps them in memory; the mesh-wide record (so a request
/// replayed to another node is refused too) goes in CSTORE with the scheduler.
pub trait NonceStore: Send + Sync {
    /// Records `verified`'s nonce, or refuses it as a replay; `now` lets the store forget
    /// nonces whose windows have closed.
    fn claim(&self, verified: &Verified, now: u64) -> Result<(), DeeployError>;
}

/// Used nonces in memory, each until its request's window closes.
#[derive(Default)]
pub struct MemoryNonces {
    inner: Mutex<Inner>,
}

/// An owner's key and a nonce: what must not repeat.
type Used = ([u8; 32], [u8; 16]);

#[derive(Default)]
struct Inner {
    /// (owner, nonce) → expiry.
    used: HashMap<Used, u64>,
    /// expiry → the entries expiring then, to forget them in order.
    by_expiry: BTreeMap<u64, Vec<Used>>,
}

impl MemoryNonces {
    /// How many nonces are remembered now.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .used
            .len()
    }

    /// Whether none is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl NonceStore for MemoryNonces {
    fn claim(&self, verified: &Verified, now: u64) -> Result<(), DeeployError> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let expired: Vec<u64> = inner.by_expiry.range(..now).map(|(t, _)| *t).collect();
        for t in expired {
            for key in inner.by_expiry.remove(&t).unwrap_or_default() {
                inner.used.remove(&key);
            }
        }
        let key = (verified.owner, verified.nonce);
        if inner.used.contains_key(&key) {
            return Err(DeeployError::Replayed);
        }
        inner.used.insert(key, verified.not_after);
        inner
            .by_expiry
            .entry(verified.not_after)
            .or_default()
            .push(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signed::{Action, SignedRequest};
    use ed25519_dalek::SigningKey;

    #[test]
    fn a_nonce_is_used_once_and_forgotten_after_its_window() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let req = SignedRequest::sign(&key, Action::Remove, "web", "", 1_000, 60).unwrap();
        let verified = req.verify(1_010).unwrap();
        let store = MemoryNonces::default();
        store.claim(&verified, 1_010).unwrap();
        assert_eq!(store.claim(&verified, 1_020), Err(DeeployError::Replayed));
        let other = SignedRequest::sign(&key, Action::Remove, "web", "", 1_000, 60)
            .unwrap()
            .verify(1_010)
            .unwrap();
        store.claim(&other, 1_010).unwrap();
        assert_eq!(store.len(), 2);
        // After the windows close both are forgotten (a replay then fails as expired).
        let later = SignedRequest::sign(&key, Action::Remove, "web", "", 2_000, 60)
            .unwrap()
            .verify(2_000)
            .unwrap();
        store.claim(&later, 2_000).unwrap();
        assert_eq!(store.len(), 1);
        assert!(req.verify(2_000).is_err());
    }
}
