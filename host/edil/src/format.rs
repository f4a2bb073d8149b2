//! The little binary format every EDIL object uses: an 8-byte magic naming the object, a
//! format version byte, then fields in little-endian order.

pub const VERSION: u8 = 1;

/// Why bytes cannot be read as an EDIL object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The bytes do not start with the magic of the expected kind of object.
    #[error("not an EDIL {expected} (wrong magic)")]
    Magic {
        /// The kind of object expected, e.g. `ciphertext`.
        expected: &'static str,
    },
    /// The object's format version is not the one this build reads; holds the version found.
    #[error("EDIL format version {0} is not supported (this build reads version {VERSION})")]
    Version(u8),
    /// The bytes end before the named field does (or its length prefix is too large).
    #[error("truncated: {0}")]
    Truncated(&'static str),
    /// The fields read but are inconsistent (sizes, parameters, trailing bytes, a non-UTF-8
    /// job name); the message says how.
    #[error("{0}")]
    Invalid(String),
}

pub struct Writer {
    out: Vec<u8>,
}

impl Writer {
    pub fn new(magic: &[u8; 8]) -> Self {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(magic);
        out.push(VERSION);
        Self { out }
    }

    pub fn with_capacity(magic: &[u8; 8], capacity: usize) -> Self {
        let mut w = Self::new(magic);
        w.out.reserve(capacity);
        w
    }

    pub fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    pub fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.out.extend_from_slice(b);
    }

    /// A length-prefixed byte string.
    pub fn blob(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.bytes(b);
    }

    pub fn words(&mut self, words: &[u64]) {
        self.u64(words.len() as u64);
        for w in words {
            self.out.extend_from_slice(&w.to_le_bytes());
        }
    }

    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8], magic: &[u8; 8], name: &'static str) -> Result<Self, FormatError> {
        let rest = bytes
            .strip_prefix(magic.as_slice())
            .ok_or(FormatError::Magic { expected: name })?;
        let (&version, rest) = rest
            .split_first()
            .ok_or(FormatError::Truncated("version"))?;
        if version != VERSION {
            return Err(FormatError::Version(version));
        }
        Ok(Self { rest })
    }

    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], FormatError> {
        if self.rest.len() < n {
            return Err(FormatError::Truncated(what));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], FormatError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    pub fn u32(&mut self) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(self.array("u32")?))
    }

    pub fn u64(&mut self) -> Result<u64, FormatError> {
        Ok(u64::from_le_bytes(self.array("u64")?))
    }

    pub fn blob(&mut self, what: &'static str) -> Result<&'a [u8], FormatError> {
        let len = self.u64()?;
        let len = usize::try_from(len).map_err(|_| FormatError::Truncated(what))?;
        self.take(len, what)
    }

    pub fn words(&mut self, what: &'static str) -> Result<Vec<u64>, FormatError> {
        let count = self.u64()?;
        let bytes = usize::try_from(count)
            .ok()
            .and_then(|c| c.checked_mul(8))
            .ok_or(FormatError::Truncated(what))?;
        Ok(self
            .take(bytes, what)?
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect())
    }

    pub fn end(self, what: &'static str) -> Result<(), FormatError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(FormatError::Invalid(format!(
                "{} trailing bytes after the {what}",
                self.rest.len()
            )))
        }
    }
}
