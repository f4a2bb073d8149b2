//! Content-addressed files (R1FS) as actors see them: add, open, ranged reads, stat, pins.
//! The runtime links `r1:fs` over this; it knows nothing of chunks, peers or networks.

use super::BoxFuture;
use crate::ServiceError;

/// A file key (ChaCha20-Poly1305, 256 bits).
pub type BlobKey = [u8; 32];

/// What is known of a stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobStat {
    /// Its content id.
    pub cid: String,
    /// Its size in bytes (of the plaintext).
    pub size: u64,
    /// The name it was added with.
    pub name: Option<String>,
    /// Whether its chunks are encrypted.
    pub encrypted: bool,
}

/// A node's file service. `Denied` means encrypted and no (or the wrong) key.
pub trait BlobService: Send + Sync + 'static {
    /// Stores everything `data` yields as one pinned file (encrypted under a fresh key when
    /// `encrypt`); returns its content id and the key. The writing and syncing happen off the
    /// caller's thread.
    fn add(
        &self,
        data: Box<dyn std::io::Read + Send>,
        name: Option<String>,
        encrypt: bool,
    ) -> BoxFuture<'_, Result<(String, Option<BlobKey>), ServiceError>>;
    /// Makes the file readable here (fetching it if needed).
    fn open<'a>(&'a self, cid: &'a str) -> BoxFuture<'a, Result<BlobStat, ServiceError>>;
    /// `len` verified (and, with `key`, decrypted) bytes from `offset` of an opened file.
    fn read(
        &self,
        cid: &str,
        offset: u64,
        len: u64,
        key: Option<&BlobKey>,
    ) -> Result<Vec<u8>, ServiceError>;
    /// What is known of a file stored here.
    fn stat(&self, cid: &str) -> Result<BlobStat, ServiceError>;
    /// Keeps the file here (fetching it) and `replicas` copies in the mesh.
    fn pin<'a>(&'a self, cid: &'a str, replicas: u32) -> BoxFuture<'a, Result<(), ServiceError>>;
    /// Lets the file be collected here.
    fn unpin(&self, cid: &str) -> Result<(), ServiceError>;
}
