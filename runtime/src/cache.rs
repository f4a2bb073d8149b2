//! Compile once: components are compiled on this node from `.wasm` bytes and cached on disk
//! under `<dir>/<blake3 of the bytes>-<engine fingerprint>.cwasm`.
//!
//! Invariants:
//! - Only files this cache wrote itself are ever deserialized (`Component::deserialize_file`
//!   is `unsafe` because a crafted artifact is native code). Precompiled input from outside is
//!   refused by [`validate`] before it gets here.
//! - An entry is keyed by the hash of the exact bytes that were validated, so different (or
//!   tampered) bytes can never hit another component's compiled code.
//! - Entries are written to a temporary file and renamed, so a crash never leaves a torn entry;
//!   an entry that fails to deserialize (older engine, disk damage) is recompiled and replaced.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::LoadError;

/// BLAKE3 hash of a component's bytes, hex encoded.
pub type ContentHash = String;

/// Checks that `bytes` are a wasm component (not a core module, not a precompiled artifact).
pub fn validate(bytes: &[u8]) -> Result<(), LoadError> {
    if bytes.is_empty() {
        return Err(LoadError::Empty);
    }
    if Engine::detect_precompiled(bytes).is_some() {
        return Err(LoadError::Precompiled);
    }
    if !bytes.starts_with(b"\0asm") {
        return Err(LoadError::NotWasm);
    }
    if wasmparser::Parser::is_core_wasm(bytes) {
        return Err(LoadError::CoreModule);
    }
    Ok(())
}

/// The on-disk and in-memory cache of compiled components for one engine.
#[derive(Clone)]
pub struct ComponentCache {
    engine: Engine,
    dir: Option<PathBuf>,
    fingerprint: String,
    loaded: Arc<Mutex<HashMap<ContentHash, Component>>>,
}

impl ComponentCache {
    /// A cache persisting under `dir` (`None`: in memory only).
    pub fn new(engine: Engine, dir: Option<PathBuf>) -> Result<Self, LoadError> {
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir).map_err(|source| LoadError::Cache {
                path: dir.clone(),
                source,
            })?;
        }
        let fingerprint = crate::engine::fingerprint(&engine);
        Ok(Self {
            engine,
            dir,
            fingerprint,
            loaded: Arc::default(),
        })
    }

    /// Validates and compiles `bytes` (or reuses an earlier compile of the same bytes).
    /// CPU-heavy on a miss: call from a blocking context.
    pub fn load(&self, bytes: &[u8]) -> Result<(Component, ContentHash), LoadError> {
        validate(bytes)?;
        let hash = blake3::hash(bytes).to_hex().to_string();
        if let Some(component) = self.memory_get(&hash) {
            return Ok((component, hash));
        }
        let component = match &self.dir {
            Some(dir) => self.load_through_disk(dir, &hash, bytes)?,
            None => Component::new(&self.engine, bytes).map_err(LoadError::Invalid)?,
        };
        self.loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(hash.clone(), component.clone());
        Ok((component, hash))
    }

    /// Reads and loads a component file.
    pub fn load_file(&self, path: &Path) -> Result<(Component, ContentHash), LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        self.load(&bytes)
    }

    fn memory_get(&self, hash: &str) -> Option<Component> {
        self.loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(hash)
            .cloned()
    }

    fn entry_path(&self, dir: &Path, hash: &str) -> PathBuf {
        dir.join(format!("{hash}-{}.cwasm", self.fingerprint))
    }

    fn load_through_disk(
        &self,
        dir: &Path,
        hash: &str,
        bytes: &[u8],
    ) -> Result<Component, LoadError> {
        let path = self.entry_path(dir, hash);
        if path.exists() {
            // SAFETY: `path` is inside this node's cache directory and named by the hash of
            // validated bytes plus this engine's fingerprint; only `store` below writes there.
            match unsafe { Component::deserialize_file(&self.engine, &path) } {
                Ok(component) => {
                    tracing::debug!(%hash, "compiled component cache hit");
                    return Ok(component);
                }
                Err(err) => {
                    tracing::warn!(%hash, error = %err, "unusable cache entry; recompiling");
                }
            }
        }
        let serialized = self
            .engine
            .precompile_component(bytes)
            .map_err(LoadError::Invalid)?;
        self.store(&path, &serialized)?;
        // SAFETY: these bytes were produced by this engine a moment ago.
        unsafe { Component::deserialize(&self.engine, &serialized) }.map_err(LoadError::Invalid)
    }

    fn store(&self, path: &Path, serialized: &[u8]) -> Result<(), LoadError> {
        let cache_err = |source| LoadError::Cache {
            path: path.to_owned(),
            source,
        };
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut file = std::fs::File::create(&tmp).map_err(cache_err)?;
        file.write_all(serialized).map_err(cache_err)?;
        file.sync_all().map_err(cache_err)?;
        std::fs::rename(&tmp, path).map_err(cache_err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_garbage_without_panicking() {
        assert!(matches!(validate(b""), Err(LoadError::Empty)));
        assert!(matches!(validate(b"hello world"), Err(LoadError::NotWasm)));
        // A valid core module is refused with a hint.
        let core = b"\0asm\x01\x00\x00\x00";
        assert!(matches!(validate(core), Err(LoadError::CoreModule)));
        // Truncated component header: passes the cheap checks, fails compilation cleanly.
        let engine = Engine::default();
        let cache = ComponentCache::new(engine, None).unwrap();
        let truncated = b"\0asm\x0d\x00\x01\x00\x01\x05";
        assert!(matches!(cache.load(truncated), Err(LoadError::Invalid(_))));
    }
}
