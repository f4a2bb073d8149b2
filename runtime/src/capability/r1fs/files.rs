//! `r1:fs` for actors granted `r1fs` (or `r1fs-ro`): calls the node's [`BlobService`].
//! Writers spool to a host temporary file, so an actor can write files larger than memory.

use std::io::{Seek, Write};

use wasmtime::component::Resource;

use std::sync::Arc;

use r1_core::ServiceError;
use r1_core::contract::blobs::{BlobKey, BlobService};

use crate::state::ActorState;

/// A file being written: spooled to disk until `finish`.
pub struct FsWriter {
    spool: std::fs::File,
    name: Option<String>,
    encrypt: bool,
}

/// An opened file (with its key, if encrypted).
pub struct FsReader {
    cid: String,
    size: u64,
    key: Option<BlobKey>,
}

/// Where an encrypted file's key lives in its owner's CSTORE namespace.
fn key_name(cid: &str) -> String {
    format!("r1fs-keys/{cid}")
}

/// Bindings generated from the WIT package.
#[allow(missing_docs)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/fs",
        world: "r1:fs/imports",
        imports: {
            "r1:fs/files.open": async | trappable,
            "r1:fs/files.pin": async | trappable,
            // Adding a file writes and syncs it: done off the actor's worker thread.
            "r1:fs/files.add": async | trappable,
            "r1:fs/files.[method]writer.finish": async | trappable,
            default: trappable,
        },
        with: {
            "r1:fs/files.writer": super::FsWriter,
            "r1:fs/files.reader": super::FsReader,
        },
    });
}

use bindings::r1::fs::files::{self, Error, FileStat as Stat};

/// Links `r1:fs` into `linker`.
pub fn add_to_linker(linker: &mut wasmtime::component::Linker<ActorState>) -> wasmtime::Result<()> {
    files::add_to_linker::<_, wasmtime::component::HasSelf<_>>(linker, |s| s)
}

type FsResult<T> = wasmtime::Result<Result<T, Error>>;

impl From<ServiceError> for Error {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound(m) => Error::NotFound(m),
            ServiceError::Unavailable(m) | ServiceError::Other(m) => Error::Unavailable(m),
            ServiceError::Invalid(m) | ServiceError::TooLarge(m) | ServiceError::Refused(m) => {
                Error::Invalid(m)
            }
            ServiceError::Denied(m) => Error::Denied(m),
        }
    }
}

impl ActorState {
    fn blob_service(&self, write: bool) -> Result<Arc<dyn BlobService>, Error> {
        match &self.blobs {
            None => Err(Error::Denied("this actor has no r1fs grant".into())),
            Some((_, true)) if write => {
                Err(Error::Denied("this actor's r1fs grant is read-only".into()))
            }
            Some((service, _)) => Ok(service.clone()),
        }
    }

    /// Stores a file, keeping the key of an encrypted one in this actor's namespace.
    async fn store_file(
        &mut self,
        data: Box<dyn std::io::Read + Send>,
        name: Option<String>,
        encrypt: bool,
    ) -> Result<String, Error> {
        let service = self.blob_service(true)?;
        let keys = self.cstore.clone();
        if encrypt && keys.is_none() {
            return Err(Error::Denied(
                "encryption keeps the key in CSTORE: grant cstore:<namespace> too".into(),
            ));
        }
        let (cid, key) = service.add(data, name, encrypt).await?;
        if let (Some(key), Some((store, ns))) = (key, keys) {
            store
                .set(&ns, &key_name(&cid), &key)
                .await
                .map_err(|e| Error::Unavailable(format!("cannot keep the file key: {e}")))?;
        }
        Ok(cid)
    }

    /// The key of encrypted file `cid`, from this actor's namespace.
    async fn file_key(&mut self, cid: &str) -> Result<BlobKey, Error> {
        let denied = || {
            Error::Denied(format!(
                "{cid} is encrypted and its key is not in this actor's CSTORE namespace"
            ))
        };
        let (store, ns) = self.cstore.clone().ok_or_else(denied)?;
        let raw = store
            .get(&ns, &key_name(cid))
            .await
            .map_err(|e| Error::Unavailable(e.to_string()))?
            .ok_or_else(denied)?;
        raw.try_into().map_err(|_| denied())
    }
}

impl files::Host for ActorState {
    async fn add(
        &mut self,
        bytes: Vec<u8>,
        name: Option<String>,
        encrypt: bool,
    ) -> FsResult<String> {
        let data = Box::new(std::io::Cursor::new(bytes));
        Ok(self.store_file(data, name, encrypt).await)
    }

    async fn open(&mut self, cid: String) -> FsResult<Resource<FsReader>> {
        let service = match self.blob_service(false) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        let stat = match service.open(&cid).await {
            Ok(stat) => stat,
            Err(e) => return Ok(Err(e.into())),
        };
        let key = if stat.encrypted {
            match self.file_key(&stat.cid).await {
                Ok(key) => Some(key),
                Err(e) => return Ok(Err(e)),
            }
        } else {
            None
        };
        Ok(Ok(self.table.push(FsReader {
            cid: stat.cid,
            size: stat.size,
            key,
        })?))
    }

    fn stat(&mut self, cid: String) -> FsResult<Stat> {
        Ok(self.blob_service(false).and_then(|s| {
            s.stat(&cid)
                .map(|st| Stat {
                    cid: st.cid,
                    size: st.size,
                    name: st.name,
                    encrypted: st.encrypted,
                })
                .map_err(Error::from)
        }))
    }

    async fn pin(&mut self, cid: String, replicas: u32) -> FsResult<()> {
        let service = match self.blob_service(true) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        Ok(service.pin(&cid, replicas).await.map_err(Error::from))
    }

    fn unpin(&mut self, cid: String) -> FsResult<()> {
        Ok(self
            .blob_service(true)
            .and_then(|s| s.unpin(&cid).map_err(Error::from)))
    }
}

impl files::HostWriter for ActorState {
    fn new(&mut self, name: Option<String>, encrypt: bool) -> wasmtime::Result<Resource<FsWriter>> {
        let spool = tempfile::tempfile()?;
        Ok(self.table.push(FsWriter {
            spool,
            name,
            encrypt,
        })?)
    }

    fn write(&mut self, writer: Resource<FsWriter>, bytes: Vec<u8>) -> FsResult<()> {
        if let Err(e) = self.blob_service(true) {
            return Ok(Err(e));
        }
        let w = self.table.get_mut(&writer)?;
        Ok(w.spool
            .write_all(&bytes)
            .map_err(|e| Error::Unavailable(format!("spooling failed: {e}"))))
    }

    async fn finish(&mut self, writer: Resource<FsWriter>) -> FsResult<String> {
        let w = self.table.get_mut(&writer)?;
        if let Err(e) = w.spool.rewind() {
            return Ok(Err(Error::Unavailable(format!("spool: {e}"))));
        }
        let name = w.name.take();
        let encrypt = w.encrypt;
        let spool = w.spool.try_clone()?;
        let spool = Box::new(std::io::BufReader::new(spool));
        Ok(self.store_file(spool, name, encrypt).await)
    }

    fn drop(&mut self, writer: Resource<FsWriter>) -> wasmtime::Result<()> {
        self.table.delete(writer)?;
        Ok(())
    }
}

impl files::HostReader for ActorState {
    fn size(&mut self, reader: Resource<FsReader>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&reader)?.size)
    }

    fn read(&mut self, reader: Resource<FsReader>, offset: u64, len: u32) -> FsResult<Vec<u8>> {
        let (cid, size, key) = {
            let r = self.table.get(&reader)?;
            (r.cid.clone(), r.size, r.key)
        };
        let service = match self.blob_service(false) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        // Reads past the end are clipped, like a file's.
        let len = u64::from(len).min(size.saturating_sub(offset));
        if len == 0 {
            return Ok(Ok(Vec::new()));
        }
        Ok(service
            .read(&cid, offset, len, key.as_ref())
            .map_err(Error::from))
    }

    fn drop(&mut self, reader: Resource<FsReader>) -> wasmtime::Result<()> {
        self.table.delete(reader)?;
        Ok(())
    }
}
