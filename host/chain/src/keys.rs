//! A node's EVM key (secp256k1), kept like its node key: `DATA_DIR/evm.key`, the secret in hex,
//! created once with mode 0600 (written to a temporary file, synced, then renamed, so a crash
//! never leaves half a key), refused if anyone but the owner can read it.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use alloy::primitives::B256;
use alloy::signers::local::PrivateKeySigner;

/// Why a key cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The key file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a key, or is readable by others.
    #[error("{path}: {why}")]
    Bad {
        /// The key file.
        path: String,
        /// What is wrong.
        why: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The key at `path`, created first if absent.
pub fn load_or_create(path: &Path) -> Result<PrivateKeySigner, KeyError> {
    let bad = |why: String| KeyError::Bad {
        path: path.display().to_string(),
        why,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let mode = std::fs::metadata(path)
                .map_err(io(path))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(bad(format!(
                    "mode {:o}: an EVM key must be readable by its owner only (chmod 600)",
                    mode & 0o777
                )));
            }
            let bytes = hex::decode(text.trim())
                .ok()
                .filter(|b| b.len() == 32)
                .ok_or_else(|| bad("not 64 hex digits".into()))?;
            PrivateKeySigner::from_bytes(&B256::from_slice(&bytes))
                .map_err(|e| bad(format!("not a secp256k1 secret: {e}")))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = PrivateKeySigner::random();
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io(path))?;
            }
            let tmp = path.with_extension("tmp");
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io(path))?;
            file.write_all(hex::encode(key.to_bytes()).as_bytes())
                .and_then(|()| file.sync_all())
                .and_then(|()| std::fs::rename(&tmp, path))
                .map_err(io(path))?;
            Ok(key)
        }
        Err(e) => Err(io(path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_made_once_owner_only_and_refused_when_others_can_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("evm.key");
        let made = load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load_or_create(&path).unwrap().address(), made.address());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::write(dir.path().join("junk.key"), "zz").unwrap();
        std::fs::set_permissions(
            dir.path().join("junk.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        assert!(load_or_create(&dir.path().join("junk.key")).is_err());
    }
}
