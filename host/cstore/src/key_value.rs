//! CSTORE behind `r1-core`'s [`KeyValue`] contract: what the runtime hands actors granted
//! `cstore:NS` or `wasi:keyvalue`.
//!
//! Invariants: reads answer from the local store inline (memtable or block cache, no sync);
//! writes wait for the journal sync (and group commit with other writers), so they run on
//! tokio's blocking pool, never on the calling actor's worker thread, where they would stall
//! every other actor scheduled there. A write is acknowledged exactly when
//! [`Cstore::set`](crate::Cstore::set) (and friends) would acknowledge it.

use r1_core::ServiceError;
use r1_core::contract::BoxFuture;
use r1_core::contract::kv::{CasOutcome, Fields, KeyPage, KeyValue, KvResult, Versioned};

use crate::{Cstore, CstoreError};

impl From<CstoreError> for ServiceError {
    fn from(e: CstoreError) -> Self {
        match e {
            CstoreError::TooLarge { .. } => ServiceError::TooLarge(e.to_string()),
            CstoreError::Invalid { .. } => ServiceError::Invalid(e.to_string()),
            CstoreError::Storage(_) | CstoreError::Corrupt { .. } | CstoreError::Durability(_) => {
                ServiceError::Unavailable(e.to_string())
            }
        }
    }
}

/// Runs a (syncing) write on the blocking pool.
async fn write<T: Send + 'static>(
    store: &Cstore,
    op: impl FnOnce(&Cstore) -> crate::Result<T> + Send + 'static,
) -> KvResult<T> {
    let store = store.clone();
    match tokio::task::spawn_blocking(move || op(&store)).await {
        Ok(result) => result.map_err(ServiceError::from),
        Err(join) => Err(ServiceError::Unavailable(format!(
            "the write's thread failed: {join}"
        ))),
    }
}

impl KeyValue for Cstore {
    fn max_value_bytes(&self) -> usize {
        crate::MAX_VALUE_BYTES
    }

    fn get<'a>(&'a self, ns: &'a str, key: &'a str) -> BoxFuture<'a, KvResult<Option<Vec<u8>>>> {
        Box::pin(async move { Ok(Cstore::get(self, ns, key)?) })
    }

    fn get_versioned<'a>(
        &'a self,
        ns: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, KvResult<Option<Versioned>>> {
        Box::pin(async move { Ok(Cstore::get_versioned(self, ns, key)?) })
    }

    fn set<'a>(
        &'a self,
        ns: &'a str,
        key: &'a str,
        value: &'a [u8],
    ) -> BoxFuture<'a, KvResult<u64>> {
        let (ns, key, value) = (ns.to_owned(), key.to_owned(), value.to_vec());
        Box::pin(write(self, move |s| s.set(&ns, &key, &value)))
    }

    fn delete<'a>(&'a self, ns: &'a str, key: &'a str) -> BoxFuture<'a, KvResult<bool>> {
        let (ns, key) = (ns.to_owned(), key.to_owned());
        Box::pin(write(self, move |s| s.delete(&ns, &key)))
    }

    fn exists<'a>(&'a self, ns: &'a str, key: &'a str) -> BoxFuture<'a, KvResult<bool>> {
        Box::pin(async move { Ok(Cstore::exists(self, ns, key)?) })
    }

    fn list_keys<'a>(
        &'a self,
        ns: &'a str,
        prefix: &'a str,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, KvResult<KeyPage>> {
        Box::pin(async move { Ok(Cstore::list_keys(self, ns, prefix, cursor, limit)?) })
    }

    fn compare_and_swap<'a>(
        &'a self,
        ns: &'a str,
        key: &'a str,
        expected: u64,
        value: &'a [u8],
    ) -> BoxFuture<'a, KvResult<CasOutcome>> {
        let (ns, key, value) = (ns.to_owned(), key.to_owned(), value.to_vec());
        Box::pin(write(self, move |s| {
            s.compare_and_swap(&ns, &key, expected, &value)
        }))
    }

    fn hset<'a>(
        &'a self,
        ns: &'a str,
        key: &'a str,
        field: &'a str,
        value: &'a [u8],
    ) -> BoxFuture<'a, KvResult<bool>> {
        let (ns, key, field, value) = (
            ns.to_owned(),
            key.to_owned(),
            field.to_owned(),
            value.to_vec(),
        );
        Box::pin(write(self, move |s| s.hset(&ns, &key, &field, &value)))
    }

    fn hget<'a>(
        &'a self,
        ns: &'a str,
        key: &'a str,
        field: &'a str,
    ) -> BoxFuture<'a, KvResult<Option<Vec<u8>>>> {
        Box::pin(async move { Ok(Cstore::hget(self, ns, key, field)?) })
    }

    fn hdel<'a>(
        &'a self,
        ns: &'a str,
        key: &'a str,
        field: &'a str,
    ) -> BoxFuture<'a, KvResult<bool>> {
        let (ns, key, field) = (ns.to_owned(), key.to_owned(), field.to_owned());
        Box::pin(write(self, move |s| s.hdel(&ns, &key, &field)))
    }

    fn hgetall<'a>(&'a self, ns: &'a str, key: &'a str) -> BoxFuture<'a, KvResult<Fields>> {
        Box::pin(async move { Ok(Cstore::hgetall(self, ns, key)?) })
    }
}
