//! The node API's credential: one bearer token in a file (the node checks it, clients send
//! it).
//!
//! - **Where**: `<data dir>/api.token` unless the node is given `--api-token-file`. The file
//!   is created with the data dir, mode 0600, holding 32 random bytes as 64 hex digits.
//! - **Who may use it**: whoever can read the file. A file that any user can read or write
//!   (an "other" permission bit) is refused, by the node at start and by the CLI; a group bit
//!   is allowed, so an operator may share it with a group (`chgrp ops api.token; chmod 640`).
//! - **Rotation**: [`rotate`] writes a new token to a temporary file (0600) and renames it
//!   over the old one, so a reader sees the old or the new token, never half of one. A running
//!   node notices the new file at its next request (its check looks at the file's identity on
//!   every request) and refuses the old token from then on.
//! - **Clients** (`r1-client`) read `R1_API_TOKEN` (the token itself), else the file named by
//!   `R1_API_TOKEN_FILE`, else `<data dir>/api.token`.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The token file's name inside the data dir.
pub const TOKEN_FILE: &str = "api.token";
/// Environment variable holding the token itself (for a second account or a script).
pub const TOKEN_ENV: &str = "R1_API_TOKEN";
/// Environment variable naming the token file.
pub const TOKEN_FILE_ENV: &str = "R1_API_TOKEN_FILE";

const TOKEN_BYTES: usize = 32;

/// Why the token could not be made or read.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)]
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

/// Refuses a mode that lets every user read or write the file.
pub fn check_mode(path: &Path, mode: u32) -> Result<(), TokenError> {
    if mode & 0o007 != 0 {
        return Err(TokenError::WorldAccessible {
            path: path.to_owned(),
            mode: mode & 0o777,
        });
    }
    Ok(())
}

/// `$R1_DATA_DIR`, else `$XDG_DATA_HOME/r1`, else `~/.local/share/r1`, else `./.r1`: where a
/// node keeps its data, and so where clients on its machine find its token.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("R1_DATA_DIR") {
        return dir.into();
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(dir).join("r1");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".local/share/r1"),
        None => PathBuf::from(".r1"),
    }
}
