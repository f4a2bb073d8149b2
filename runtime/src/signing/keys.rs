//! ed25519 key files.
//!
//! Secret key file: one line `r1-ed25519-secret-v1 <64 hex chars>`, created with mode 0600
//! (never world- or group-readable) and refused on load if its mode allows anyone but the
//! owner to read it. Public key file: `r1-ed25519-public-v1 <64 hex chars>`. Trust files list
//! public keys, one per line (either form, or bare hex), `#` starts a comment.

use std::fmt;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};

const SECRET_TAG: &str = "r1-ed25519-secret-v1";
const PUBLIC_TAG: &str = "r1-ed25519-public-v1";

/// Why a key or trust file could not be read, written, or parsed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file being read or written.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A secret key file is readable by group or others.
    #[error(
        "{path} has mode {mode:03o}: a secret key must not be readable by group or others \
         (chmod 600 {path})"
    )]
    InsecurePermissions {
        /// The secret key file.
        path: PathBuf,
        /// The file's permission bits (`mode & 0o777`).
        mode: u32,
    },
    /// The key file already exists and overwriting was not asked for.
    #[error("{path} already exists; refusing to overwrite a key (pass --force to replace it)")]
    Exists {
        /// The existing key file.
        path: PathBuf,
    },
    /// A key or trust file is not in the expected format.
    #[error("{path}: not an r1 key file ({reason})")]
    Malformed {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Text that is not a valid hex ed25519 public key.
    #[error("invalid public key {0:?}")]
    BadPublicKey(String),
    /// The operating system could not supply randomness for a new key.
    #[error("no randomness available: {0}")]
    Random(String),
}

/// A publisher's or node's public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// Parses 64 hex chars, optionally after the public key file tag; the key must be a
    /// valid ed25519 point.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let text = text.strip_prefix(PUBLIC_TAG).unwrap_or(text).trim();
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| KeyError::BadPublicKey(text.into()))?;
        VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::BadPublicKey(text.into()))?;
        Ok(Self(bytes))
    }

    /// The key as 64 lowercase hex chars.
    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    /// A short, stable name for the key: the first 8 bytes of its BLAKE3, as hex pairs.
    pub fn fingerprint(self) -> String {
        let digest = blake3::hash(&self.0);
        digest.as_bytes()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// The ed25519 verifying key, or `None` if the bytes are not a valid point.
    pub fn verifying_key(self) -> Option<VerifyingKey> {
        VerifyingKey::from_bytes(&self.0).ok()
    }

    /// The public key file line.
    pub fn to_file_line(self) -> String {
        format!("{PUBLIC_TAG} {}\n", self.to_hex())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.fingerprint())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The public key of a secret (signing) key.
pub fn public_key(key: &SigningKey) -> PublicKey {
    PublicKey(key.verifying_key().to_bytes())
}

/// A fresh key from the operating system's randomness.
pub fn generate() -> Result<SigningKey, KeyError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Writes `key` to `path` with mode 0600 (and `path.pub` with the public key).
pub fn write_secret(path: &Path, key: &SigningKey, overwrite: bool) -> Result<(), KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    if path.exists() && !overwrite {
        return Err(KeyError::Exists {
            path: path.to_owned(),
        });
    }
    let tmp = path.with_extension("key-tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    writeln!(file, "{SECRET_TAG} {}", hex::encode(key.to_bytes())).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    let public = pub_path(path);
    std::fs::write(&public, public_key(key).to_file_line()).map_err(|source| KeyError::Io {
        path: public,
        source,
    })?;
    Ok(())
}

/// `FILE.pub` next to a secret key file.
pub fn pub_path(secret: &Path) -> PathBuf {
    let mut name = secret.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// Reads a secret key, refusing a file that group or others can read.
pub fn read_secret(path: &Path) -> Result<SigningKey, KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_owned(),
        source,
    };
    let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::InsecurePermissions {
            path: path.to_owned(),
            mode,
        });
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    let malformed = |reason: &str| KeyError::Malformed {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    let hex_part = text
        .trim()
        .strip_prefix(SECRET_TAG)
        .ok_or_else(|| malformed("missing the r1-ed25519-secret-v1 tag"))?
        .trim();
    let mut seed = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut seed).map_err(|_| malformed("bad hex"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Loads the key at `path`, creating it (0600) on first use.
pub fn load_or_create(path: &Path) -> Result<SigningKey, KeyError> {
    if path.exists() {
        return read_secret(path);
    }
    let key = generate()?;
    write_secret(path, &key, false)?;
    Ok(key)
}

/// Public keys from a trust file.
pub fn read_trust_file(path: &Path) -> Result<Vec<PublicKey>, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_trust_list(&text).map_err(|reason| KeyError::Malformed {
        path: path.to_owned(),
        reason,
    })
}

/// Parses a trust list: one public key per line, `#` comments and blank lines skipped;
/// errors name the 1-based line.
pub fn parse_trust_list(text: &str) -> Result<Vec<PublicKey>, String> {
    text.lines()
        .enumerate()
        .map(|(n, line)| (n + 1, line.split('#').next().unwrap_or("").trim()))
        .filter(|(_, line)| !line.is_empty())
        .map(|(n, line)| PublicKey::from_hex(line).map_err(|e| format!("line {n}: {e}")))
        .collect()
}

/// Reads a public key from a public key file, a secret key file, or hex text.
pub fn read_any_public(path: &Path) -> Result<PublicKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_owned(),
        source,
    })?;
    if text.trim_start().starts_with(SECRET_TAG) {
        return Ok(public_key(&read_secret(path)?));
    }
    PublicKey::from_hex(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_files_are_private_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/publisher.key");
        let key = generate().unwrap();
        write_secret(&path, &key, false).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read_secret(&path).unwrap().to_bytes(), key.to_bytes());
        assert!(matches!(
            write_secret(&path, &key, false),
            Err(KeyError::Exists { .. })
        ));
        assert_eq!(read_any_public(&pub_path(&path)).unwrap(), public_key(&key));

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_secret(&path).unwrap_err();
        assert!(matches!(
            err,
            KeyError::InsecurePermissions { mode: 0o644, .. }
        ));
        assert!(err.to_string().contains("chmod 600"));
    }

    #[test]
    fn trust_lists_parse_and_refuse_junk() {
        let a = public_key(&generate().unwrap());
        let b = public_key(&generate().unwrap());
        let text = format!(
            "# publishers\n{}\n\n{}  # marketplace\n",
            a.to_hex(),
            b.to_file_line()
        );
        assert_eq!(parse_trust_list(&text).unwrap(), vec![a, b]);
        assert!(
            parse_trust_list("not-a-key\n")
                .unwrap_err()
                .contains("line 1")
        );
    }
}
