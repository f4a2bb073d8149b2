//! The one error a service contract returns: a kind the caller can act on, and a message a
//! person can read. Every service maps its own errors onto these kinds at its edge, so the
//! runtime turns any of them into the matching WIT error value without knowing the service.

/// What went wrong, as the caller can act on it; each carries a message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// The caller may not do this (a grant, a key, a policy says no).
    #[error("denied: {0}")]
    Denied(String),
    /// The thing named does not exist (here, or anywhere reachable).
    #[error("not found: {0}")]
    NotFound(String),
    /// The input is over a limit.
    #[error("too large: {0}")]
    TooLarge(String),
    /// The service cannot answer now (storage, peers, device); trying later may work.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The input is malformed or over no limit but wrong.
    #[error("invalid: {0}")]
    Invalid(String),
    /// A check of the input's provenance failed: unsigned, forged, replayed, from a stranger.
    #[error("refused: {0}")]
    Refused(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// The kind of a [`ServiceError`], without its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// See [`ServiceError::Denied`].
    Denied,
    /// See [`ServiceError::NotFound`].
    NotFound,
    /// See [`ServiceError::TooLarge`].
    TooLarge,
    /// See [`ServiceError::Unavailable`].
    Unavailable,
    /// See [`ServiceError::Invalid`].
    Invalid,
    /// See [`ServiceError::Refused`].
    Refused,
    /// See [`ServiceError::Other`].
    Other,
}

impl ServiceError {
    /// The error's kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ServiceError::Denied(_) => ErrorKind::Denied,
            ServiceError::NotFound(_) => ErrorKind::NotFound,
            ServiceError::TooLarge(_) => ErrorKind::TooLarge,
            ServiceError::Unavailable(_) => ErrorKind::Unavailable,
            ServiceError::Invalid(_) => ErrorKind::Invalid,
            ServiceError::Refused(_) => ErrorKind::Refused,
            ServiceError::Other(_) => ErrorKind::Other,
        }
    }

    /// The message without the kind's prefix.
    pub fn message(&self) -> &str {
        match self {
            ServiceError::Denied(m)
            | ServiceError::NotFound(m)
            | ServiceError::TooLarge(m)
            | ServiceError::Unavailable(m)
            | ServiceError::Invalid(m)
            | ServiceError::Refused(m)
            | ServiceError::Other(m) => m,
        }
    }
}

impl From<crate::name::NameError> for ServiceError {
    fn from(e: crate::name::NameError) -> Self {
        ServiceError::Invalid(e.to_string())
    }
}
