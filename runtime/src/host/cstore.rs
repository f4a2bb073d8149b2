//! `r1:cstore`: CSTORE for actors, linked only when granted. Every key is prefixed with the
//! granted namespace by passing it as the store's namespace, so no key an actor can write
//! reaches outside its grant.

use r1_cstore::{CasOutcome as StoreCas, CstoreError};

use crate::state::ActorState;

pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/cstore",
        world: "r1:cstore/imports",
        imports: { default: tracing },
    });
}

use bindings::r1::cstore::store::{self, CasOutcome, Error, KeyPage, Versioned};

/// Links `r1:cstore` into `linker`.
pub fn add_to_linker(linker: &mut wasmtime::component::Linker<ActorState>) -> wasmtime::Result<()> {
    store::add_to_linker::<_, wasmtime::component::HasSelf<_>>(linker, |s| s)
}

impl From<CstoreError> for Error {
    fn from(err: CstoreError) -> Self {
        match err {
            CstoreError::TooLarge { limit, .. } => Error::TooLarge(limit as u64),
            CstoreError::Invalid { .. } => Error::Invalid(err.to_string()),
            CstoreError::Storage(_) | CstoreError::Corrupt { .. } | CstoreError::Durability(_) => {
                Error::Unavailable(err.to_string())
            }
        }
    }
}

impl ActorState {
    /// The store and namespace, or `denied` (only reachable if linked without a grant).
    fn scoped(&self) -> Result<(&r1_cstore::Cstore, &str), Error> {
        self.cstore
            .as_ref()
            .map(|(s, ns)| (s, ns.as_str()))
            .ok_or_else(|| Error::Denied("this actor has no CSTORE grant".into()))
    }
}

impl store::Host for ActorState {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, Error> {
        let (s, ns) = self.scoped()?;
        Ok(s.get(ns, &key)?)
    }

    fn get_versioned(&mut self, key: String) -> Result<Option<Versioned>, Error> {
        let (s, ns) = self.scoped()?;
        Ok(s.get_versioned(ns, &key)?.map(|v| Versioned {
            value: v.value,
            version: v.version,
        }))
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<u64, Error> {
        let (s, ns) = self.scoped()?;
        Ok(s.set(ns, &key, &value)?)
    }

    fn delete(&mut self, key: String) -> Result<bool, Error> {
        let (s, ns) = self.scoped()?;
        Ok(s.delete(ns, &key)?)
    }

    fn exists(&mut self, key: String) -> Result<bool, Error> {
        let (s, ns) = self.scoped()?;
        Ok(s.exists(ns, &key)?)
    }

    fn list_keys(
        &mut self,
        prefix: String,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<KeyPage, Error> {
        let (s, ns) = self.scoped()?;
        let page = s.list_keys(ns, &prefix, cursor.as_deref(), limit as usize)?;
        Ok(KeyPage {
            keys: page.keys,
            cursor: page.cursor,
        })
    }

    fn compare_and_swap(
        &mut self,
        key: String,
        expected_version: u64,
        value: Vec<u8>,
    ) -> Result<CasOutcome, Error> {
        let (s, ns) = self.scoped()?;
        Ok(
            match s.compare_and_swap(ns, &key, expected_version, &value)? {
                StoreCas::Swapped(v) => CasOutcome::Swapped(v),
                StoreCas::Conflict(v) => CasOutcome::Conflict(v),
            },
        )
    }

    fn hset(&mut self, key: String, field: String, value: Vec<u8>) -> Result<bool, Error> {
        let (s, ns) = self.scoped()?;
        Ok(s.hset(ns, &key, &field, &value)?)
    }

    fn hget(&mut self, key: String, field: String) -> Result<Option<Vec<u8>>, Error> {
        let (s, ns) = self.scoped()?;
        Ok(s.hget(ns, &key, &field)?)
    }

    fn hdel(&mut self, key: String, field: String) -> Result<bool, Error> {
        let (s, ns) = self.scoped()?;
        Ok(s.hdel(ns, &key, &field)?)
    }

    fn hgetall(&mut self, key: String) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let (s, ns) = self.scoped()?;
        Ok(s.hgetall(ns, &key)?)
    }

    fn hkeys(&mut self, key: String) -> Result<Vec<String>, Error> {
        let (s, ns) = self.scoped()?;
        Ok(s.hkeys(ns, &key)?)
    }
}
