//! The seam between the runtime and a node's EDIL service (federated learning with encrypted
//! aggregation). The runtime links `r1:edil` for actors granted `edil:<job>` or
//! `edil-owner:<job>`, checks the job against the grant on every call, and calls whatever
//! [`EdilService`] the node installed; it knows nothing of keys or ciphertexts.

pub use crate::blobs::BoxFuture;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EdilError {
    #[error("denied: {0}")]
    Denied(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// A node's EDIL service, as actors see it.
pub trait EdilService: Send + Sync + 'static {
    /// Encrypts, signs (node key) and stores an update; its R1FS content id.
    fn encrypt<'a>(
        &'a self,
        job: &'a str,
        round: u64,
        values: Vec<f32>,
    ) -> BoxFuture<'a, Result<String, EdilError>>;
    /// Checks and sums updates; the aggregate's content id and how many clients it sums.
    fn aggregate<'a>(
        &'a self,
        job: &'a str,
        round: u64,
        updates: Vec<String>,
    ) -> BoxFuture<'a, Result<(String, u32), EdilError>>;
    /// Decrypts an aggregate (only where the job's secret key is).
    fn decrypt<'a>(
        &'a self,
        job: &'a str,
        aggregate: &'a str,
    ) -> BoxFuture<'a, Result<Vec<f32>, EdilError>>;
}
