//! The node's side of the API token: the presented bearer token checked against the token
//! file ([`r1_core::token_file`]), following rotations: the file's identity is looked at on
//! every request. A token is compared through BLAKE3 hashes, whose equality is constant-time.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use r1_core::token_file::{TokenError, check_mode, default_path, ensure, read, rotate};

/// The node's side: checks a presented token against the file, following rotations.
pub struct TokenCheck {
    path: PathBuf,
    current: Mutex<Loaded>,
}

struct Loaded {
    stamp: Stamp,
    hash: blake3::Hash,
}

/// What identifies one version of the file: a rename gives a new inode.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    mtime_ns: i128,
    len: u64,
}

impl Stamp {
    fn of(path: &Path) -> std::io::Result<(Stamp, u32)> {
        let m = std::fs::metadata(path)?;
        Ok((
            Stamp {
                dev: m.dev(),
                ino: m.ino(),
                mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
                len: m.len(),
            },
            m.mode(),
        ))
    }
}

/// Why a request's token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The request carries no token.
    #[error(
        "this route needs the node's API token: send `Authorization: Bearer TOKEN` (the r1 CLI reads it from R1_API_TOKEN, R1_API_TOKEN_FILE or DATA_DIR/api.token)"
    )]
    Missing,
    /// The token is not the one in the token file now.
    #[error("the API token is not this node's (rotated? read it again from the token file)")]
    Wrong,
    /// The token file cannot be read, holds no token, or is open to every user.
    #[error("the node cannot read its own token file: {0}")]
    Unreadable(TokenError),
}

impl TokenCheck {
    /// Makes (if absent) and loads the token file; refuses one every user can read.
    pub fn open(path: &Path) -> Result<Self, TokenError> {
        let token = ensure(path)?;
        let (stamp, _) = Stamp::of(path).map_err(|source| TokenError::Io {
            what: "read",
            path: path.to_owned(),
            source,
        })?;
        Ok(Self {
            path: path.to_owned(),
            current: Mutex::new(Loaded {
                stamp,
                hash: blake3::hash(token.as_bytes()),
            }),
        })
    }

    /// Accepts `presented` if it is the token in the file now.
    pub fn verify(&self, presented: Option<&str>) -> Result<(), Refusal> {
        let presented = presented.ok_or(Refusal::Missing)?;
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let io = |source| {
            Refusal::Unreadable(TokenError::Io {
                what: "read",
                path: self.path.clone(),
                source,
            })
        };
        let (stamp, mode) = Stamp::of(&self.path).map_err(io)?;
        check_mode(&self.path, mode).map_err(Refusal::Unreadable)?;
        if stamp != current.stamp {
            let token = read(&self.path).map_err(Refusal::Unreadable)?;
            *current = Loaded {
                stamp,
                hash: blake3::hash(token.as_bytes()),
            };
            tracing::info!(path = %self.path.display(), "API token file changed; using the new token");
        }
        if blake3::hash(presented.trim().as_bytes()) == current.hash {
            Ok(())
        } else {
            Err(Refusal::Wrong)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn created_0600_rotated_and_followed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/api.token");
        let check = TokenCheck::open(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let first = read(&path).unwrap();
        assert_eq!(first.len(), 64);
        assert!(check.verify(Some(&first)).is_ok());
        assert!(matches!(check.verify(None), Err(Refusal::Missing)));
        assert!(matches!(check.verify(Some("nope")), Err(Refusal::Wrong)));

        let second = rotate(&path).unwrap();
        assert_ne!(first, second);
        assert!(matches!(check.verify(Some(&first)), Err(Refusal::Wrong)));
        assert!(check.verify(Some(&second)).is_ok());
        // Opening again keeps the existing token.
        assert_eq!(ensure(&path).unwrap(), second);
    }

    #[test]
    fn world_readable_and_malformed_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.token");
        rotate(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = TokenCheck::open(&path).err().unwrap();
        assert!(matches!(err, TokenError::WorldAccessible { .. }), "{err}");
        assert!(err.to_string().contains("chmod 600"), "{err}");
        // Shared with a group: allowed.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(TokenCheck::open(&path).is_ok());

        std::fs::write(&path, "short\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(read(&path), Err(TokenError::Malformed { .. })));
    }
}
