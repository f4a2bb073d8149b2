//! `r1:cstore`: CSTORE for actors, linked only when granted. Every key is prefixed with the
//! granted namespace by passing it as the store's namespace, so no key an actor can write
//! reaches outside its grant.

use std::sync::Arc;

use r1_core::ServiceError;
use r1_core::contract::kv::{CasOutcome as StoreCas, KeyValue};

use crate::state::ActorState;

/// Bindings generated from the WIT package.
#[allow(missing_docs)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/cstore",
        world: "r1:cstore/imports",
        imports: { default: async | tracing },
    });
}

use bindings::r1::cstore::store::{self, CasOutcome, Error, KeyPage, Versioned};

/// Links `r1:cstore` into `linker`.
pub fn add_to_linker(linker: &mut wasmtime::component::Linker<ActorState>) -> wasmtime::Result<()> {
    store::add_to_linker::<_, wasmtime::component::HasSelf<_>>(linker, |s| s)
}

/// The WIT error for a store error; `too-large` carries the store's limit.
fn wit_error(store: &dyn KeyValue, err: ServiceError) -> Error {
    match err {
        ServiceError::Denied(m) => Error::Denied(m),
        ServiceError::TooLarge(_) => Error::TooLarge(store.max_value_bytes() as u64),
        ServiceError::Invalid(m) | ServiceError::Refused(m) => Error::Invalid(m),
        // A missing key is `none`, never an error; anything else the store cannot do now.
        ServiceError::NotFound(m) | ServiceError::Unavailable(m) | ServiceError::Other(m) => {
            Error::Unavailable(m)
        }
    }
}

impl ActorState {
    /// The store and namespace, or `denied` (only reachable if linked without a grant).
    pub(crate) fn scoped(&self) -> Result<(Arc<dyn KeyValue>, String), Error> {
        self.cstore
            .as_ref()
            .map(|(s, ns)| (s.clone(), ns.clone()))
            .ok_or_else(|| Error::Denied("this actor has no CSTORE grant".into()))
    }
}

impl store::Host for ActorState {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, Error> {
        let (s, ns) = self.scoped()?;
        s.get(&ns, &key).await.map_err(|e| wit_error(&*s, e))
    }

    async fn get_versioned(&mut self, key: String) -> Result<Option<Versioned>, Error> {
        let (s, ns) = self.scoped()?;
        let found = s.get_versioned(&ns, &key).await;
        let found = found.map_err(|e| wit_error(&*s, e))?;
        Ok(found.map(|v| Versioned {
            value: v.value,
            version: v.version,
        }))
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<u64, Error> {
        let (s, ns) = self.scoped()?;
        s.set(&ns, &key, &value)
            .await
            .map_err(|e| wit_error(&*s, e))
    }

    async fn delete(&mut self, key: String) -> Result<bool, Error> {
        let (s, ns) = self.scoped()?;
        s.delete(&ns, &key).await.map_err(|e| wit_error(&*s, e))
    }

    async fn exists(&mut self, key: String) -> Result<bool, Error> {
        let (s, ns) = self.scoped()?;
        s.exists(&ns, &key).await.map_err(|e| wit_error(&*s, e))
    }

    async fn list_keys(
        &mut self,
        prefix: String,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<KeyPage, Error> {
        let (s, ns) = self.scoped()?;
        let page = s
            .list_keys(&ns, &prefix, cursor.as_deref(), limit as usize)
            .await;
        let page = page.map_err(|e| wit_error(&*s, e))?;
        Ok(KeyPage {
            keys: page.keys,
            cursor: page.cursor,
        })
    }

    async fn compare_and_swap(
        &mut self,
        key: String,
        expected_version: u64,
        value: Vec<u8>,
    ) -> Result<CasOutcome, Error> {
        let (s, ns) = self.scoped()?;
        let outcome = s
            .compare_and_swap(&ns, &key, expected_version, &value)
            .await;
        Ok(match outcome.map_err(|e| wit_error(&*s, e))? {
            StoreCas::Swapped(v) => CasOutcome::Swapped(v),
            StoreCas::Conflict(v) => CasOutcome::Conflict(v),
        })
    }

    async fn hset(&mut self, key: String, field: String, value: Vec<u8>) -> Result<bool, Error> {
        let (s, ns) = self.scoped()?;
        s.hset(&ns, &key, &field, &value)
            .await
            .map_err(|e| wit_error(&*s, e))
    }

    async fn hget(&mut self, key: String, field: String) -> Result<Option<Vec<u8>>, Error> {
        let (s, ns) = self.scoped()?;
        s.hget(&ns, &key, &field)
            .await
            .map_err(|e| wit_error(&*s, e))
    }

    async fn hdel(&mut self, key: String, field: String) -> Result<bool, Error> {
        let (s, ns) = self.scoped()?;
        s.hdel(&ns, &key, &field)
            .await
            .map_err(|e| wit_error(&*s, e))
    }

    async fn hgetall(&mut self, key: String) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let (s, ns) = self.scoped()?;
        s.hgetall(&ns, &key).await.map_err(|e| wit_error(&*s, e))
    }

    async fn hkeys(&mut self, key: String) -> Result<Vec<String>, Error> {
        let (s, ns) = self.scoped()?;
        let fields = s.hgetall(&ns, &key).await;
        let fields = fields.map_err(|e| wit_error(&*s, e))?;
        Ok(fields.into_iter().map(|(f, _)| f).collect())
    }
}
