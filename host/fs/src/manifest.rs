//! File manifests and content ids.
//!
//! Manifest layout (all integers big-endian):
//! ```text
//! "R1FSM" 0x01 | u64 size | u32 chunk_size | u32 n | n × [32] chunk BLAKE3
//!              | u16 name length | name (UTF-8) | u16 media type length | media type
//! ```
//! An encrypted file's manifest starts `"R1FSM" 0x02 | u8 flags (bit 0: encrypted)` and goes
//! on the same way; its chunk hashes name the ciphertext blocks and `size` is the plaintext
//! size. The key is never in the manifest.
//! A file's id is the CIDv1 of the manifest bytes: codec `raw` (0x55), multihash BLAKE3
//! (0x1e, 32 bytes). Chunk hashes are plain BLAKE3 digests.

use std::fmt;
use std::str::FromStr;

use cid::Cid;
use cid::multihash::Multihash;

use crate::{FsError, Result};

const MAGIC: &[u8; 6] = b"R1FSM\x01";
const MAGIC_FLAGS: &[u8; 6] = b"R1FSM\x02";
const FLAG_ENCRYPTED: u8 = 1;
const RAW_CODEC: u64 = 0x55;
const BLAKE3_CODE: u64 = 0x1e;
/// Longest name or media type kept in a manifest.
pub const MAX_LABEL: usize = 1024;

/// The id of a stored file: a CIDv1 over its manifest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentId {
    /// BLAKE3 of the manifest bytes.
    pub digest: [u8; 32],
}

impl ContentId {
    /// The id of a file whose manifest encodes to `bytes`.
    pub fn of_manifest(bytes: &[u8]) -> Self {
        Self {
            digest: *blake3::hash(bytes).as_bytes(),
        }
    }

    fn cid(&self) -> Cid {
        // A 32-byte digest always fits the 64-byte multihash.
        let hash = Multihash::wrap(BLAKE3_CODE, &self.digest).unwrap_or_default();
        Cid::new_v1(RAW_CODEC, hash)
    }
}

impl fmt::Display for ContentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.cid())
    }
}

impl fmt::Debug for ContentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentId({self})")
    }
}

impl FromStr for ContentId {
    type Err = FsError;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: &str| FsError::BadId(s.to_owned(), why.to_owned());
        let cid = Cid::from_str(s.trim()).map_err(|e| bad(&e.to_string()))?;
        if cid.codec() != RAW_CODEC || cid.hash().code() != BLAKE3_CODE {
            return Err(bad("not an R1FS id (expected codec raw, multihash blake3)"));
        }
        let digest: [u8; 32] = cid
            .hash()
            .digest()
            .try_into()
            .map_err(|_| bad("digest is not 32 bytes"))?;
        Ok(Self { digest })
    }
}

/// What a file is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// File size in bytes (of the plaintext when encrypted).
    pub size: u64,
    /// Bytes per chunk (not 0); every chunk but the last is full.
    pub chunk_size: u32,
    /// BLAKE3 of each chunk's block, in file order; `size.div_ceil(chunk_size)` of them.
    pub chunks: Vec<[u8; 32]>,
    /// File name, if any (an empty label decodes as `None`).
    pub name: Option<String>,
    /// Media type, if any (an empty label decodes as `None`).
    pub media_type: Option<String>,
    /// Chunks are ChaCha20-Poly1305 ciphertexts under a per-file key kept elsewhere.
    pub encrypted: bool,
}

impl Manifest {
    /// The manifest's binary layout (see the module docs); its id is taken over these bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.chunks.len() * 32);
        if self.encrypted {
            out.extend_from_slice(MAGIC_FLAGS);
            out.push(FLAG_ENCRYPTED);
        } else {
            out.extend_from_slice(MAGIC);
        }
        out.extend_from_slice(&self.size.to_be_bytes());
        out.extend_from_slice(&self.chunk_size.to_be_bytes());
        out.extend_from_slice(&(self.chunks.len() as u32).to_be_bytes());
        for chunk in &self.chunks {
            out.extend_from_slice(chunk);
        }
        for label in [&self.name, &self.media_type] {
            let label = label.as_deref().unwrap_or("");
            out.extend_from_slice(&(label.len() as u16).to_be_bytes());
            out.extend_from_slice(label.as_bytes());
        }
        out
    }

    /// Parses a manifest, checking its magic, flags, chunk count against size, and labels.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let bad = |why: &str| FsError::BadManifest(why.to_owned());
        let (encrypted, rest) = if let Some(rest) = bytes.strip_prefix(MAGIC.as_slice()) {
            (false, rest)
        } else if let Some(rest) = bytes.strip_prefix(MAGIC_FLAGS.as_slice()) {
            let (&flags, rest) = rest.split_first().ok_or_else(|| bad("truncated"))?;
            if flags & !FLAG_ENCRYPTED != 0 {
                return Err(bad("unknown flags"));
            }
            (flags & FLAG_ENCRYPTED != 0, rest)
        } else {
            return Err(bad("unknown magic or version"));
        };
        let (size, rest) = rest
            .split_first_chunk::<8>()
            .ok_or_else(|| bad("truncated"))?;
        let (chunk_size, rest) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| bad("truncated"))?;
        let (n, mut rest) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| bad("truncated"))?;
        let size = u64::from_be_bytes(*size);
        let chunk_size = u32::from_be_bytes(*chunk_size);
        let n = u32::from_be_bytes(*n) as usize;
        if chunk_size == 0 || rest.len() < n.saturating_mul(32) {
            return Err(bad("chunk list out of range"));
        }
        if size.div_ceil(u64::from(chunk_size)) != n as u64 {
            return Err(bad("chunk count does not match the size"));
        }
        let mut chunks = Vec::with_capacity(n);
        for _ in 0..n {
            let (c, r) = rest
                .split_first_chunk::<32>()
                .ok_or_else(|| bad("truncated"))?;
            chunks.push(*c);
            rest = r;
        }
        let mut labels = [None, None];
        for label in &mut labels {
            let (len, r) = rest
                .split_first_chunk::<2>()
                .ok_or_else(|| bad("truncated"))?;
            let len = u16::from_be_bytes(*len) as usize;
            if r.len() < len {
                return Err(bad("truncated label"));
            }
            let text = std::str::from_utf8(&r[..len]).map_err(|_| bad("label is not UTF-8"))?;
            *label = (!text.is_empty()).then(|| text.to_owned());
            rest = &r[len..];
        }
        if !rest.is_empty() {
            return Err(bad("trailing bytes"));
        }
        let [name, media_type] = labels;
        Ok(Self {
            size,
            chunk_size,
            chunks,
            name,
            media_type,
            encrypted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_round_trip_and_ids_parse() {
        let m = Manifest {
            size: 3 * 1024 * 1024 + 5,
            chunk_size: 1 << 20,
            chunks: vec![[1; 32], [2; 32], [3; 32], [4; 32]],
            name: Some("weights.safetensors".into()),
            media_type: None,
            encrypted: false,
        };
        let bytes = m.encode();
        assert_eq!(Manifest::decode(&bytes).unwrap(), m);
        let id = ContentId::of_manifest(&bytes);
        let text = id.to_string();
        assert!(text.starts_with("bafk"), "{text}");
        assert_eq!(text.parse::<ContentId>().unwrap(), id);
        assert!("not-a-cid".parse::<ContentId>().is_err());
        // A sha2-256 CID (what IPFS prints) is not an R1FS id.
        assert!(
            "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
                .parse::<ContentId>()
                .is_err()
        );
        for cut in 0..bytes.len() {
            assert!(Manifest::decode(&bytes[..cut]).is_err());
        }
        let sealed = Manifest {
            encrypted: true,
            ..m.clone()
        };
        let sealed_bytes = sealed.encode();
        assert_eq!(Manifest::decode(&sealed_bytes).unwrap(), sealed);
        assert_ne!(ContentId::of_manifest(&sealed_bytes), id);
    }
}
