//! The seam between the runtime and a content-addressed file service (R1FS). The runtime
//! links `r1:fs` for actors granted `r1fs` and calls whatever [`BlobService`] the node
//! installed; it knows nothing of chunks, peers or networks.

use std::future::Future;
use std::pin::Pin;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("invalid: {0}")]
    Invalid(String),
    /// Encrypted and no (or the wrong) key.
    #[error("denied: {0}")]
    Denied(String),
}

/// A file key (ChaCha20-Poly1305, 256 bits).
pub type BlobKey = [u8; 32];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobStat {
    pub cid: String,
    pub size: u64,
    pub name: Option<String>,
    pub encrypted: bool,
}

/// A node's file service, as actors see it.
pub trait BlobService: Send + Sync + 'static {
    /// Stores everything `data` yields as one pinned file (encrypted under a fresh key when
    /// `encrypt`); returns its content id and the key.
    fn add(
        &self,
        data: &mut dyn std::io::Read,
        name: Option<String>,
        encrypt: bool,
    ) -> Result<(String, Option<BlobKey>), BlobError>;
    /// Makes the file readable here (fetching it if needed).
    fn open<'a>(&'a self, cid: &'a str) -> BoxFuture<'a, Result<BlobStat, BlobError>>;
    /// `len` verified (and, with `key`, decrypted) bytes from `offset` of an opened file.
    fn read(
        &self,
        cid: &str,
        offset: u64,
        len: u64,
        key: Option<&BlobKey>,
    ) -> Result<Vec<u8>, BlobError>;
    fn stat(&self, cid: &str) -> Result<BlobStat, BlobError>;
    fn pin<'a>(&'a self, cid: &'a str, replicas: u32) -> BoxFuture<'a, Result<(), BlobError>>;
    fn unpin(&self, cid: &str) -> Result<(), BlobError>;
}
