//! R1FS: content-addressed, chunked storage that never hands out a byte it has not verified.
//!
//! - **Chunking**: fixed 1 MiB chunks, each named by its BLAKE3 hash; deterministic, so the
//!   same bytes always give the same id.
//! - **Manifest**: size, chunk size, chunk hashes, optional name and media type, in a fixed
//!   binary layout ([`manifest`]). The file's id is a CIDv1 (`raw` codec, BLAKE3 multihash) of
//!   the manifest bytes, printed in base32 (`bafk…`).
//! - **Store**: blocks (chunks and manifests) are files under `blocks/`, written to a temporary
//!   name and renamed, durable (synced) before an add returns; reference-counted pins under
//!   `pins/`; garbage collection removes every block not reachable from a pinned manifest.
//! - **Streaming**: `get` holds one chunk in memory at a time, `add` a fixed handful (read
//!   ahead of the threads hashing and writing), whatever the file size.
//! - **Verification**: every block is hashed when read; a corrupt block is an error, never
//!   data.
//! - **Encryption** (optional, per file): a random 256-bit key, ChaCha20-Poly1305 per chunk
//!   with the chunk index as nonce; blocks hold ciphertext, the key is kept by the caller.
//!
//! - **Service** ([`service`]): provider records in CSTORE, verified peer-to-peer fetch over
//!   r1-mesh, replica targets and the repair loop.

pub mod manifest;
pub mod service;
pub mod store;

pub use manifest::{ContentId, Manifest};
pub use store::{AddOptions, BlockStore, FileKey, GcReport, Stat};

/// Chunk size of new files.
pub const CHUNK_SIZE: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("reading the input failed: {0}")]
    Input(std::io::Error),
    #[error("writing the output failed: {0}")]
    Output(std::io::Error),
    #[error("invalid content id {0:?}: {1}")]
    BadId(String, String),
    #[error("{0} is not stored on this node")]
    NotFound(String),
    #[error("block {hash} is corrupted on disk (its content no longer matches its hash)")]
    Corrupt { hash: String },
    #[error("malformed manifest: {0}")]
    BadManifest(String),
    #[error("range {offset}+{len} is outside the file ({size} bytes)")]
    BadRange { offset: u64, len: u64, size: u64 },
    #[error("{0} is encrypted: reading it needs its key")]
    Encrypted(String),
    #[error("the key does not decrypt chunk {0} (wrong key)")]
    WrongKey(usize),
}

pub type Result<T, E = FsError> = std::result::Result<T, E>;
