//! CSTORE: the node's key/value and hash-set store, persisted in fjall.
//!
//! Invariants:
//! - **Durability**: every mutating call returns only after the fjall journal is synced
//!   (`PersistMode::SyncData`); a write the caller saw acknowledged survives a crash.
//! - **Namespaces**: every key lives in a namespace. The runtime maps an actor's grant to one
//!   namespace, so an actor can only ever address keys inside it; a namespace cannot contain
//!   the separator byte, so one namespace can never alias another.
//! - **Versions**: each key carries a version that starts at 1 and grows by one per write; a
//!   deleted or absent key has version 0. `compare_and_swap` is linearizable on one node.
//!
//! Replication across nodes arrives with the mesh; this crate is the node-local state.

use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex};

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};

/// Byte separating namespace, key and field in the on-disk encoding.
const SEP: u8 = 0;
/// The largest value accepted (a later replication layer gossips values in 64 KiB messages;
/// bigger blobs belong in R1FS).
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;
/// The largest key, namespace or field name accepted.
pub const MAX_KEY_BYTES: usize = 1024;
/// Largest page `list_keys` returns.
pub const MAX_PAGE: usize = 1000;

/// What can go wrong in a CSTORE call.
#[derive(Debug, thiserror::Error)]
pub enum CstoreError {
    #[error("value of {size} bytes exceeds the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
    #[error("storage failure: {0}")]
    Storage(#[from] fjall::Error),
    #[error("corrupt record for key {key:?}: {reason}")]
    Corrupt { key: String, reason: &'static str },
}

pub type Result<T, E = CstoreError> = std::result::Result<T, E>;

/// A value with the version it was written at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    pub value: Vec<u8>,
    pub version: u64,
}

/// Outcome of a compare-and-swap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasOutcome {
    /// The value was written; this is its new version.
    Swapped(u64),
    /// The key was at another version (0 = absent); nothing was written.
    Conflict(u64),
}

/// One page of keys from [`Cstore::list_keys`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPage {
    pub keys: Vec<String>,
    /// Pass back to get the next page; `None` when this was the last.
    pub cursor: Option<String>,
}

/// Handle to a node's store; cheap to clone, safe to share across threads.
#[derive(Clone)]
pub struct Cstore {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    kv: Keyspace,
    hashes: Keyspace,
    /// Serialises read-modify-write sequences (versions, CAS, hset's "was new").
    write_lock: Mutex<()>,
}

impl Cstore {
    /// Opens (or creates) the store under `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        let db = Database::builder(dir).open()?;
        let kv = db.keyspace("kv", KeyspaceCreateOptions::default)?;
        let hashes = db.keyspace("hash", KeyspaceCreateOptions::default)?;
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                kv,
                hashes,
                write_lock: Mutex::new(()),
            }),
        })
    }

    pub fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.get_versioned(ns, key)?.map(|v| v.value))
    }

    pub fn get_versioned(&self, ns: &str, key: &str) -> Result<Option<Versioned>> {
        let k = kv_key(ns, key)?;
        match self.inner.kv.get(&k)? {
            None => Ok(None),
            Some(raw) => decode_versioned(key, &raw).map(Some),
        }
    }

    pub fn exists(&self, ns: &str, key: &str) -> Result<bool> {
        Ok(self.inner.kv.contains_key(kv_key(ns, key)?)?)
    }

    /// Writes `value` and returns its new version, after it is durable.
    pub fn set(&self, ns: &str, key: &str, value: &[u8]) -> Result<u64> {
        check_value(value)?;
        let k = kv_key(ns, key)?;
        let _guard = self.lock();
        let version = self.version_of(key, &k)? + 1;
        self.inner.kv.insert(k, encode_versioned(version, value))?;
        self.persist()?;
        Ok(version)
    }

    /// Writes `value` only if the key is at `expected` (0 = absent).
    pub fn compare_and_swap(
        &self,
        ns: &str,
        key: &str,
        expected: u64,
        value: &[u8],
    ) -> Result<CasOutcome> {
        check_value(value)?;
        let k = kv_key(ns, key)?;
        let _guard = self.lock();
        let current = self.version_of(key, &k)?;
        if current != expected {
            return Ok(CasOutcome::Conflict(current));
        }
        self.inner
            .kv
            .insert(k, encode_versioned(current + 1, value))?;
        self.persist()?;
        Ok(CasOutcome::Swapped(current + 1))
    }

    /// Deletes `key`; returns whether it existed.
    pub fn delete(&self, ns: &str, key: &str) -> Result<bool> {
        let k = kv_key(ns, key)?;
        let _guard = self.lock();
        if !self.inner.kv.contains_key(&k)? {
            return Ok(false);
        }
        self.inner.kv.remove(k)?;
        self.persist()?;
        Ok(true)
    }

    /// Keys in `ns` starting with `prefix`, in byte order, at most `limit` (capped at
    /// [`MAX_PAGE`]) after `cursor`.
    pub fn list_keys(
        &self,
        ns: &str,
        prefix: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<KeyPage> {
        let limit = limit.clamp(1, MAX_PAGE);
        let ns_prefix = kv_key(ns, "")?;
        let full_prefix = kv_key(ns, prefix)?;
        // Start right after the cursor instead of scanning from the prefix.
        let start = match cursor {
            Some(c) if c.as_bytes() >= prefix.as_bytes() => Bound::Excluded(kv_key(ns, c)?),
            _ => Bound::Included(full_prefix.clone()),
        };
        let mut keys = Vec::new();
        let mut more = false;
        for item in self.inner.kv.range((start, Bound::Unbounded)) {
            let raw_key = item.key()?;
            if !raw_key.starts_with(&full_prefix) {
                break;
            }
            let key = std::str::from_utf8(&raw_key[ns_prefix.len()..]).map_err(|_| {
                CstoreError::Corrupt {
                    key: String::from_utf8_lossy(&raw_key).into_owned(),
                    reason: "key is not UTF-8",
                }
            })?;
            if keys.len() == limit {
                more = true;
                break;
            }
            keys.push(key.to_owned());
        }
        let cursor = if more { keys.last().cloned() } else { None };
        Ok(KeyPage { keys, cursor })
    }

    /// Sets `field` of hash `key`; returns true when the field is new.
    pub fn hset(&self, ns: &str, key: &str, field: &str, value: &[u8]) -> Result<bool> {
        check_value(value)?;
        let k = hash_key(ns, key, field)?;
        let _guard = self.lock();
        let is_new = !self.inner.hashes.contains_key(&k)?;
        self.inner.hashes.insert(k, value)?;
        self.persist()?;
        Ok(is_new)
    }

    pub fn hget(&self, ns: &str, key: &str, field: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .inner
            .hashes
            .get(hash_key(ns, key, field)?)?
            .map(|v| v.to_vec()))
    }

    /// Removes `field` of hash `key`; returns whether it existed.
    pub fn hdel(&self, ns: &str, key: &str, field: &str) -> Result<bool> {
        let k = hash_key(ns, key, field)?;
        let _guard = self.lock();
        if !self.inner.hashes.contains_key(&k)? {
            return Ok(false);
        }
        self.inner.hashes.remove(k)?;
        self.persist()?;
        Ok(true)
    }

    /// Every field of hash `key` with its value, in field order.
    pub fn hgetall(&self, ns: &str, key: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let prefix = hash_key(ns, key, "")?;
        let mut out = Vec::new();
        for item in self.inner.hashes.prefix(&prefix) {
            let (raw_key, value) = item.into_inner()?;
            let field = std::str::from_utf8(&raw_key[prefix.len()..]).map_err(|_| {
                CstoreError::Corrupt {
                    key: key.to_owned(),
                    reason: "hash field is not UTF-8",
                }
            })?;
            out.push((field.to_owned(), value.to_vec()));
        }
        Ok(out)
    }

    pub fn hkeys(&self, ns: &str, key: &str) -> Result<Vec<String>> {
        Ok(self.hgetall(ns, key)?.into_iter().map(|(f, _)| f).collect())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        // A panic while holding the lock cannot leave fjall half-written (each insert is
        // atomic), so a poisoned lock is safe to reuse.
        self.inner
            .write_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn version_of(&self, key: &str, k: &[u8]) -> Result<u64> {
        match self.inner.kv.get(k)? {
            None => Ok(0),
            Some(raw) => Ok(decode_versioned(key, &raw)?.version),
        }
    }

    fn persist(&self) -> Result<()> {
        self.inner.db.persist(PersistMode::SyncData)?;
        Ok(())
    }
}

fn check_name(what: &'static str, name: &str) -> Result<()> {
    if name.len() > MAX_KEY_BYTES {
        return Err(CstoreError::Invalid {
            what,
            reason: format!("{} bytes, the limit is {MAX_KEY_BYTES}", name.len()),
        });
    }
    if name.as_bytes().contains(&SEP) {
        return Err(CstoreError::Invalid {
            what,
            reason: "contains a NUL byte".into(),
        });
    }
    Ok(())
}

fn check_value(value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(CstoreError::TooLarge {
            size: value.len(),
            limit: MAX_VALUE_BYTES,
        });
    }
    Ok(())
}

fn kv_key(ns: &str, key: &str) -> Result<Vec<u8>> {
    check_name("namespace", ns)?;
    check_name("key", key)?;
    let mut k = Vec::with_capacity(ns.len() + 1 + key.len());
    k.extend_from_slice(ns.as_bytes());
    k.push(SEP);
    k.extend_from_slice(key.as_bytes());
    Ok(k)
}

fn hash_key(ns: &str, key: &str, field: &str) -> Result<Vec<u8>> {
    check_name("field", field)?;
    let mut k = kv_key(ns, key)?;
    k.push(SEP);
    k.extend_from_slice(field.as_bytes());
    Ok(k)
}

fn encode_versioned(version: u64, value: &[u8]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(8 + value.len());
    raw.extend_from_slice(&version.to_be_bytes());
    raw.extend_from_slice(value);
    raw
}

fn decode_versioned(key: &str, raw: &[u8]) -> Result<Versioned> {
    let Some((version, value)) = raw.split_first_chunk::<8>() else {
        return Err(CstoreError::Corrupt {
            key: key.to_owned(),
            reason: "record shorter than its version header",
        });
    };
    Ok(Versioned {
        version: u64::from_be_bytes(*version),
        value: value.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Cstore) {
        let dir = tempfile::tempdir().unwrap();
        let store = Cstore::open(dir.path()).unwrap();
        (dir, store)
    }

    #[test]
    fn set_get_delete_and_versions() {
        let (_dir, s) = store();
        assert_eq!(s.get("a", "k").unwrap(), None);
        assert_eq!(s.set("a", "k", b"one").unwrap(), 1);
        assert_eq!(s.set("a", "k", b"two").unwrap(), 2);
        assert_eq!(
            s.get_versioned("a", "k").unwrap(),
            Some(Versioned {
                value: b"two".to_vec(),
                version: 2
            })
        );
        assert!(s.exists("a", "k").unwrap());
        assert!(s.delete("a", "k").unwrap());
        assert!(!s.delete("a", "k").unwrap());
        assert!(!s.exists("a", "k").unwrap());
    }

    #[test]
    fn namespaces_do_not_alias() {
        let (_dir, s) = store();
        s.set("a", "x", b"in a").unwrap();
        assert_eq!(s.get("b", "x").unwrap(), None);
        // "a" + "\0x" can never be written from namespace "" because NUL is refused.
        assert!(matches!(
            s.set("", "a\0x", b"evil"),
            Err(CstoreError::Invalid { .. })
        ));
        assert!(matches!(
            s.set("a\0", "x", b"evil"),
            Err(CstoreError::Invalid { .. })
        ));
        assert_eq!(s.list_keys("b", "", None, 10).unwrap().keys.len(), 0);
    }

    #[test]
    fn compare_and_swap_checks_version() {
        let (_dir, s) = store();
        assert_eq!(
            s.compare_and_swap("n", "k", 0, b"v1").unwrap(),
            CasOutcome::Swapped(1)
        );
        assert_eq!(
            s.compare_and_swap("n", "k", 0, b"again").unwrap(),
            CasOutcome::Conflict(1)
        );
        assert_eq!(
            s.compare_and_swap("n", "k", 1, b"v2").unwrap(),
            CasOutcome::Swapped(2)
        );
        assert_eq!(s.get("n", "k").unwrap().unwrap(), b"v2");
    }

    #[test]
    fn list_keys_pages_with_cursor() {
        let (_dir, s) = store();
        for i in 0..25 {
            s.set("n", &format!("user/{i:03}"), b"x").unwrap();
        }
        s.set("n", "other", b"x").unwrap();
        let mut all = Vec::new();
        let mut cursor = None;
        loop {
            let page = s.list_keys("n", "user/", cursor.as_deref(), 10).unwrap();
            assert!(page.keys.len() <= 10);
            all.extend(page.keys);
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let expected: Vec<String> = (0..25).map(|i| format!("user/{i:03}")).collect();
        assert_eq!(all, expected);
    }

    #[test]
    fn hashes() {
        let (_dir, s) = store();
        assert!(s.hset("n", "h", "b", b"2").unwrap());
        assert!(s.hset("n", "h", "a", b"1").unwrap());
        assert!(!s.hset("n", "h", "a", b"1'").unwrap());
        s.hset("n", "h2", "a", b"other hash").unwrap();
        assert_eq!(s.hget("n", "h", "a").unwrap().unwrap(), b"1'");
        assert_eq!(
            s.hgetall("n", "h").unwrap(),
            vec![("a".into(), b"1'".to_vec()), ("b".into(), b"2".to_vec())]
        );
        assert_eq!(s.hkeys("n", "h").unwrap(), vec!["a", "b"]);
        assert!(s.hdel("n", "h", "a").unwrap());
        assert!(!s.hdel("n", "h", "a").unwrap());
        assert_eq!(s.hkeys("n", "h").unwrap(), vec!["b"]);
    }

    #[test]
    fn oversize_value_refused() {
        let (_dir, s) = store();
        let big = vec![0u8; MAX_VALUE_BYTES + 1];
        assert!(matches!(
            s.set("n", "k", &big),
            Err(CstoreError::TooLarge { .. })
        ));
        assert!(matches!(
            s.hset("n", "k", "f", &big),
            Err(CstoreError::TooLarge { .. })
        ));
    }

    #[test]
    fn survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Cstore::open(dir.path()).unwrap();
            s.set("n", "k", b"durable").unwrap();
            s.hset("n", "h", "f", b"v").unwrap();
        }
        let s = Cstore::open(dir.path()).unwrap();
        assert_eq!(s.get("n", "k").unwrap().unwrap(), b"durable");
        assert_eq!(s.hget("n", "h", "f").unwrap().unwrap(), b"v");
    }
}
