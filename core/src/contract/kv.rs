//! Key/value with versions, compare-and-swap and hash sets: what CSTORE offers actors.
//!
//! Every call names a namespace; keys of one namespace never alias another's. Writes return
//! once durable on this node (the implementation's own rule for replicas). Versions grow with
//! every write of a key; 0 means "absent" in a compare-and-swap.

use super::BoxFuture;
use crate::ServiceError;

/// A value and the version it was written at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// The bytes.
    pub value: Vec<u8>,
    /// The version (monotonic per key).
    pub version: u64,
}

/// What a compare-and-swap did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasOutcome {
    /// The value was written; this is its new version.
    Swapped(u64),
    /// The key was at another version (0 = absent); nothing was written.
    Conflict(u64),
}

/// One page of keys, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyPage {
    /// The keys of this page.
    pub keys: Vec<String>,
    /// Pass back to get the next page; `None` when this was the last.
    pub cursor: Option<String>,
}

/// Result of a key/value call.
pub type KvResult<T> = Result<T, ServiceError>;

/// A hash's fields and values, in field order.
pub type Fields = Vec<(String, Vec<u8>)>;

/// A replicated key/value store with hash sets.
pub trait KeyValue: Send + Sync + 'static {
    /// The largest value accepted, in bytes (a larger one is [`ServiceError::TooLarge`]).
    fn max_value_bytes(&self) -> usize;
    /// The value of `key`, if any.
    fn get<'a>(&'a self, ns: &'a str, key: &'a str) -> BoxFuture<'a, KvResult<Option<Vec<u8>>>>;
    /// The value of `key` and its version, if any.
    fn get_versioned<'a>(
        &'a self,
        ns: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, KvResult<Option<Versioned>>>;
    /// Writes `key`; its new version once durable.
    fn set<'a>(
        &'a self,
        ns: &'a str,
        key: &'a str,
        value: &'a [u8],
    ) -> BoxFuture<'a, KvResult<u64>>;
    /// Deletes `key`; whether it existed.
    fn delete<'a>(&'a self, ns: &'a str, key: &'a str) -> BoxFuture<'a, KvResult<bool>>;
    /// Whether `key` holds a value.
    fn exists<'a>(&'a self, ns: &'a str, key: &'a str) -> BoxFuture<'a, KvResult<bool>>;
    /// Up to `limit` keys starting with `prefix`, after `cursor`.
    fn list_keys<'a>(
        &'a self,
        ns: &'a str,
        prefix: &'a str,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, KvResult<KeyPage>>;
    /// Writes `key` only if it is at `expected` (0: absent).
    fn compare_and_swap<'a>(
        &'a self,
        ns: &'a str,
        key: &'a str,
        expected: u64,
        value: &'a [u8],
    ) -> BoxFuture<'a, KvResult<CasOutcome>>;
    /// Sets a field of hash `key`; whether the field is new.
    fn hset<'a>(
        &'a self,
        ns: &'a str,
        key: &'a str,
        field: &'a str,
        value: &'a [u8],
    ) -> BoxFuture<'a, KvResult<bool>>;
    /// A field of hash `key`.
    fn hget<'a>(
        &'a self,
        ns: &'a str,
        key: &'a str,
        field: &'a str,
    ) -> BoxFuture<'a, KvResult<Option<Vec<u8>>>>;
    /// Deletes a field of hash `key`; whether it existed.
    fn hdel<'a>(
        &'a self,
        ns: &'a str,
        key: &'a str,
        field: &'a str,
    ) -> BoxFuture<'a, KvResult<bool>>;
    /// Every field of hash `key`, in order.
    fn hgetall<'a>(&'a self, ns: &'a str, key: &'a str) -> BoxFuture<'a, KvResult<Fields>>;
}
