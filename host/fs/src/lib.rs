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

#![warn(missing_docs)]

pub mod manifest;
pub mod service;
pub mod store;

pub use manifest::{ContentId, Manifest};
pub use store::{AddOptions, BlockStore, FileKey, GcReport, Stat};

/// Chunk size of new files.
pub const CHUNK_SIZE: usize = 1 << 20;

/// Errors from the block store and manifests.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// A file or directory of the store could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: std::path::PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// Reading the data being added failed; also when no key can be drawn, sealing a chunk
    /// fails or a worker thread panics.
    #[error("reading the input failed: {0}")]
    Input(std::io::Error),
    /// Writing a file's bytes to the caller's output failed.
    #[error("writing the output failed: {0}")]
    Output(std::io::Error),
    /// A string is not an R1FS content id: the text, and why.
    #[error("invalid content id {0:?}: {1}")]
    BadId(String, String),
    /// A block, file or pin is not stored here; names what was missing.
    #[error("{0} is not stored on this node")]
    NotFound(String),
    /// A block's bytes no longer hash to its name.
    #[error("block {hash} is corrupted on disk (its content no longer matches its hash)")]
    Corrupt {
        /// The block's expected BLAKE3, in hex.
        hash: String,
    },
    /// A manifest does not decode, or its chunks disagree with it; also a name or media type
    /// longer than [`manifest::MAX_LABEL`] bytes.
    #[error("malformed manifest: {0}")]
    BadManifest(String),
    /// A ranged read reaches past the end of the file.
    #[error("range {offset}+{len} is outside the file ({size} bytes)")]
    BadRange {
        /// First byte asked for.
        offset: u64,
        /// Bytes asked for.
        len: u64,
        /// The file's size in bytes.
        size: u64,
    },
    /// An encrypted file was read without its key.
    #[error("{0} is encrypted: reading it needs its key")]
    Encrypted(String),
    /// The key does not decrypt (authenticate) the chunk with this index.
    #[error("the key does not decrypt chunk {0} (wrong key)")]
    WrongKey(usize),
}

/// Result with [`FsError`] as the default error.
pub type Result<T, E = FsError> = std::result::Result<T, E>;
