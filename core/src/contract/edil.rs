//! EDIL (federated learning with encrypted aggregation) as actors see it. The runtime links
//! `r1:edil` over this and checks the job (and key-holder grant) before calling; it knows
//! nothing of keys or ciphertexts.

use super::BoxFuture;
use crate::ServiceError;

/// A node's EDIL service.
pub trait EdilService: Send + Sync + 'static {
    /// Encrypts, signs (node key) and stores an update; its R1FS content id.
    fn encrypt<'a>(
        &'a self,
        job: &'a str,
        round: u64,
        values: Vec<f32>,
    ) -> BoxFuture<'a, Result<String, ServiceError>>;
    /// Checks and sums updates; the aggregate's content id and how many clients it sums.
    fn aggregate<'a>(
        &'a self,
        job: &'a str,
        round: u64,
        updates: Vec<String>,
    ) -> BoxFuture<'a, Result<(String, u32), ServiceError>>;
    /// Decrypts an aggregate (only where the job's secret key is).
    fn decrypt<'a>(
        &'a self,
        job: &'a str,
        aggregate: &'a str,
    ) -> BoxFuture<'a, Result<Vec<f32>, ServiceError>>;
}
