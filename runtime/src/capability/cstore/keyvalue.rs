//! `wasi:keyvalue@0.2.0-draft2` on top of CSTORE, linked with the CSTORE grant. Buckets live
//! inside the granted namespace (see `wit/keyvalue`): `default` is the namespace itself, any
//! other bucket NAME prefixes its keys with `NAME/`.

use std::sync::Arc;

use r1_core::contract::kv::{CasOutcome, KeyValue};
use wasmtime::component::Resource;

use crate::state::ActorState;

/// An open bucket: the key prefix inside the actor's namespace.
pub struct KvBucket {
    prefix: String,
}

/// A compare-and-swap handle: the key and the version it saw.
pub struct KvCas {
    key: String,
    version: u64,
    value: Option<Vec<u8>>,
}

/// Bindings generated from the WIT package.
#[allow(missing_docs)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/keyvalue",
        world: "wasi:keyvalue/imports@0.2.0-draft2",
        imports: { default: async | trappable },
        with: {
            "wasi:keyvalue/store.bucket": super::KvBucket,
            "wasi:keyvalue/atomics.cas": super::KvCas,
        },
    });
}

use bindings::wasi::keyvalue::{atomics, batch, store};
use store::{Error, KeyResponse};

/// Links `wasi:keyvalue` into `linker`.
pub fn add_to_linker(linker: &mut wasmtime::component::Linker<ActorState>) -> wasmtime::Result<()> {
    use wasmtime::component::HasSelf;
    store::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?;
    atomics::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?;
    batch::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?;
    Ok(())
}

type KvResult<T> = wasmtime::Result<Result<T, Error>>;

fn store_error(e: r1_core::ServiceError) -> Error {
    Error::Other(e.to_string())
}

impl ActorState {
    fn kv(&self) -> Scoped {
        self.cstore
            .as_ref()
            .map(|(s, ns)| (s.clone(), ns.clone()))
            .ok_or(Error::AccessDenied)
    }

    fn bucket_key(&self, bucket: &Resource<KvBucket>, key: &str) -> wasmtime::Result<String> {
        let prefix = &self.table.get(bucket)?.prefix;
        Ok(format!("{prefix}{key}"))
    }
}

/// The store and namespace an actor is granted, taken out of its state so that no borrow of
/// the state is held while a store call is awaited.
type Scoped = Result<(Arc<dyn KeyValue>, String), Error>;

async fn kv_get(kv: Scoped, key: &str) -> Result<Option<Vec<u8>>, Error> {
    let (s, ns) = kv?;
    s.get(&ns, key).await.map_err(store_error)
}

async fn kv_set(kv: Scoped, key: &str, value: &[u8]) -> Result<(), Error> {
    let (s, ns) = kv?;
    s.set(&ns, key, value)
        .await
        .map(|_| ())
        .map_err(store_error)
}

async fn kv_delete(kv: Scoped, key: &str) -> Result<(), Error> {
    let (s, ns) = kv?;
    s.delete(&ns, key).await.map(|_| ()).map_err(store_error)
}

impl store::Host for ActorState {
    async fn open(&mut self, identifier: String) -> KvResult<Resource<KvBucket>> {
        if self.cstore.is_none() {
            return Ok(Err(Error::AccessDenied));
        }
        if identifier.contains('\0') {
            return Ok(Err(Error::NoSuchStore));
        }
        let prefix = match identifier.as_str() {
            "" | "default" => String::new(),
            name => format!("{name}/"),
        };
        Ok(Ok(self.table.push(KvBucket { prefix })?))
    }
}

impl store::HostBucket for ActorState {
    async fn get(&mut self, bucket: Resource<KvBucket>, key: String) -> KvResult<Option<Vec<u8>>> {
        let key = self.bucket_key(&bucket, &key)?;
        Ok(kv_get(self.kv(), &key).await)
    }

    async fn set(
        &mut self,
        bucket: Resource<KvBucket>,
        key: String,
        value: Vec<u8>,
    ) -> KvResult<()> {
        let key = self.bucket_key(&bucket, &key)?;
        Ok(kv_set(self.kv(), &key, &value).await)
    }

    async fn delete(&mut self, bucket: Resource<KvBucket>, key: String) -> KvResult<()> {
        let key = self.bucket_key(&bucket, &key)?;
        Ok(kv_delete(self.kv(), &key).await)
    }

    async fn exists(&mut self, bucket: Resource<KvBucket>, key: String) -> KvResult<bool> {
        let key = self.bucket_key(&bucket, &key)?;
        Ok(kv_get(self.kv(), &key).await.map(|v| v.is_some()))
    }

    async fn list_keys(
        &mut self,
        bucket: Resource<KvBucket>,
        cursor: Option<String>,
    ) -> KvResult<KeyResponse> {
        let prefix = self.table.get(&bucket)?.prefix.clone();
        let (s, ns) = match self.kv() {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        let cursor = cursor.map(|c| format!("{prefix}{c}"));
        Ok(s.list_keys(&ns, &prefix, cursor.as_deref(), 1000)
            .await
            .map(|page| {
                let strip = |k: String| k[prefix.len()..].to_owned();
                KeyResponse {
                    keys: page.keys.into_iter().map(strip).collect(),
                    cursor: page.cursor.map(strip),
                }
            })
            .map_err(store_error))
    }

    async fn drop(&mut self, bucket: Resource<KvBucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for ActorState {
    async fn increment(
        &mut self,
        bucket: Resource<KvBucket>,
        key: String,
        delta: i64,
    ) -> KvResult<i64> {
        let key = self.bucket_key(&bucket, &key)?;
        let (s, ns) = match self.kv() {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        loop {
            let (current, version) = match s.get_versioned(&ns, &key).await {
                Err(e) => return Ok(Err(store_error(e))),
                Ok(None) => (0i64, 0),
                Ok(Some(v)) => match std::str::from_utf8(&v.value)
                    .ok()
                    .and_then(|t| t.trim().parse::<i64>().ok())
                {
                    Some(n) => (n, v.version),
                    None => {
                        return Ok(Err(Error::Other(format!("{key} does not hold an integer"))));
                    }
                },
            };
            let Some(next) = current.checked_add(delta) else {
                return Ok(Err(Error::Other("increment overflows".into())));
            };
            match s
                .compare_and_swap(&ns, &key, version, next.to_string().as_bytes())
                .await
            {
                Ok(CasOutcome::Swapped(_)) => return Ok(Ok(next)),
                Ok(CasOutcome::Conflict(_)) => continue,
                Err(e) => return Ok(Err(store_error(e))),
            }
        }
    }

    async fn swap(
        &mut self,
        cas: Resource<KvCas>,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), atomics::CasError>> {
        let (key, version) = {
            let c = self.table.get(&cas)?;
            (c.key.clone(), c.version)
        };
        let (s, ns) = match self.kv() {
            Ok(v) => v,
            Err(e) => return Ok(Err(atomics::CasError::StoreError(e))),
        };
        match s.compare_and_swap(&ns, &key, version, &value).await {
            Ok(CasOutcome::Swapped(_)) => {
                self.table.delete(cas)?;
                Ok(Ok(()))
            }
            // The handle goes back to the guest, which may read `current` and retry.
            Ok(CasOutcome::Conflict(_)) => Ok(Err(atomics::CasError::CasFailed(cas))),
            Err(e) => Ok(Err(atomics::CasError::StoreError(store_error(e)))),
        }
    }
}

impl atomics::HostCas for ActorState {
    async fn new(&mut self, bucket: Resource<KvBucket>, key: String) -> KvResult<Resource<KvCas>> {
        let key = self.bucket_key(&bucket, &key)?;
        let (s, ns) = match self.kv() {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        let (version, value) = match s.get_versioned(&ns, &key).await {
            Ok(Some(v)) => (v.version, Some(v.value)),
            Ok(None) => (0, None),
            Err(e) => return Ok(Err(store_error(e))),
        };
        Ok(Ok(self.table.push(KvCas {
            key,
            version,
            value,
        })?))
    }

    async fn current(&mut self, cas: Resource<KvCas>) -> KvResult<Option<Vec<u8>>> {
        Ok(Ok(self.table.get(&cas)?.value.clone()))
    }

    async fn drop(&mut self, cas: Resource<KvCas>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}

impl batch::Host for ActorState {
    async fn get_many(
        &mut self,
        bucket: Resource<KvBucket>,
        keys: Vec<String>,
    ) -> KvResult<Vec<Option<(String, Vec<u8>)>>> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let full = self.bucket_key(&bucket, &key)?;
            match kv_get(self.kv(), &full).await {
                Ok(v) => out.push(v.map(|v| (key, v))),
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(Ok(out))
    }

    async fn set_many(
        &mut self,
        bucket: Resource<KvBucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> KvResult<()> {
        for (key, value) in key_values {
            let full = self.bucket_key(&bucket, &key)?;
            if let Err(e) = kv_set(self.kv(), &full, &value).await {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }

    async fn delete_many(&mut self, bucket: Resource<KvBucket>, keys: Vec<String>) -> KvResult<()> {
        for key in keys {
            let full = self.bucket_key(&bucket, &key)?;
            if let Err(e) = kv_delete(self.kv(), &full).await {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }
}
