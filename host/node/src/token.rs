//! The node API's credential: one bearer token in a file.
//!
//! - **Where**: `<data dir>/api.token` unless the node is given `--api-token-file`. The file
//!   is created with the data dir, mode 0600, holding 32 random bytes as 64 hex digits.
//! - **Who may use it**: whoever can read the file. A file that any user can read or write
//!   (an "other" permission bit) is refused, by the node at start and by the CLI; a group bit
//!   is allowed, so an operator may share it with a group (`chgrp ops api.token; chmod 640`).
//! - **Rotation**: [`rotate`] writes a new token to a temporary file (0600) and renames it
//!   over the old one, so a reader sees the old or the new token, never half of one. A running
//!   node notices the new file at its next request ([`TokenCheck`] looks at the file's
//!   identity on every request) and refuses the old token from then on.
//! - **The CLI's side**: [`client_token`] reads `R1_API_TOKEN` (the token itself), else the
//!   file named by `R1_API_TOKEN_FILE`, else `<data dir>/api.token` (data dir from
//!   `R1_DATA_DIR` or the default).
//!
//! A token is compared through BLAKE3 hashes, whose equality is constant-time.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The token file's name inside the data dir.
pub const TOKEN_FILE: &str = "api.token";
/// Environment variable holding the token itself (for a second account or a script).
pub const TOKEN_ENV: &str = "R1_API_TOKEN";
/// Environment variable naming the token file.
pub const TOKEN_FILE_ENV: &str = "R1_API_TOKEN_FILE";

const TOKEN_BYTES: usize = 32;

/// Why the token could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot {what} the API token file {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the API token file {path} can be read or written by every user (mode {mode:o}); run `chmod 600 {path}` (or 640 to share it with a group), then `r1 token rotate` since the old token may have leaked"
    )]
    WorldAccessible { path: PathBuf, mode: u32 },
    #[error(
        "the API token file {path} does not hold a token (64 hex digits); run `r1 token rotate --token-file {path}`"
    )]
    Malformed { path: PathBuf },
    #[error("cannot make a random token: {0}")]
    Random(String),
}

/// The token file of a data dir.
pub fn default_path(data_dir: &Path) -> PathBuf {
    data_dir.join(TOKEN_FILE)
}

/// Reads the token at `path`, creating the file (0600, and its directory) when it is absent.
pub fn ensure(path: &Path) -> Result<String, TokenError> {
    match read(path) {
        Err(TokenError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            rotate(path)
        }
        other => other,
    }
}

/// Reads the token at `path`, refusing a file every user can read or write.
pub fn read(path: &Path) -> Result<String, TokenError> {
    let io = |what| {
        move |source| TokenError::Io {
            what,
            path: path.to_owned(),
            source,
        }
    };
    let meta = std::fs::metadata(path).map_err(io("read"))?;
    check_mode(path, meta.permissions().mode())?;
    let text = std::fs::read_to_string(path).map_err(io("read"))?;
    let token = text.trim();
    if token.len() != TOKEN_BYTES * 2 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(TokenError::Malformed {
            path: path.to_owned(),
        });
    }
    Ok(token.to_owned())
}

/// Writes a new random token to `path` (atomically, 0600) and returns it.
pub fn rotate(path: &Path) -> Result<String, TokenError> {
    let io = |what| {
        move |source| TokenError::Io {
            what,
            path: path.to_owned(),
            source,
        }
    };
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| TokenError::Random(e.to_string()))?;
    let token = hex::encode(bytes);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(io("create the directory of"))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| TOKEN_FILE.into()),
        std::process::id()
    ));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        // The mode above is masked by the umask; make sure of it.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        writeln!(file, "{token}")?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(&dir)?.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io("write")(e));
    }
    Ok(token)
}

fn check_mode(path: &Path, mode: u32) -> Result<(), TokenError> {
    if mode & 0o007 != 0 {
        return Err(TokenError::WorldAccessible {
            path: path.to_owned(),
            mode: mode & 0o777,
        });
    }
    Ok(())
}

/// Which file the CLI reads the token from when `R1_API_TOKEN` is not set.
pub fn client_token_path() -> PathBuf {
    match std::env::var_os(TOKEN_FILE_ENV) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => default_path(&crate::config::default_data_dir()),
    }
}

/// The token the CLI sends: `R1_API_TOKEN`, else the token file (see the module docs).
/// `Ok(None)` when there is none to send; the node's 401 then says what is missing.
pub fn client_token() -> Result<Option<String>, TokenError> {
    if let Some(token) = std::env::var(TOKEN_ENV)
        .ok()
        .filter(|t| !t.trim().is_empty())
    {
        return Ok(Some(token.trim().to_owned()));
    }
    match read(&client_token_path()) {
        Ok(token) => Ok(Some(token)),
        Err(TokenError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

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
    #[error(
        "this route needs the node's API token: send `Authorization: Bearer TOKEN` (the r1 CLI reads it from R1_API_TOKEN, R1_API_TOKEN_FILE or DATA_DIR/api.token)"
    )]
    Missing,
    #[error("the API token is not this node's (rotated? read it again from the token file)")]
    Wrong,
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
