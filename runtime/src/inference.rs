//! The seam between the runtime and a node's inference service. The runtime links `r1:infer`
//! for actors granted `infer` / `infer:<model>` and calls whatever [`InferService`] the node
//! installed; it knows nothing of devices, tokenizers or weights.
//!
//! Grants are checked here, before the service sees a request: an actor can only open a model
//! its grant names (or any model with a bare `infer`).

use std::sync::Arc;

pub use crate::blobs::BoxFuture;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InferError {
    #[error("denied: {0}")]
    Denied(String),
    #[error("no such model: {0}")]
    NotFound(String),
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// Texts in, one L2-normalised vector per text out.
    SentenceEmbedding,
    /// f32 rows in, f32 rows out.
    Dense,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    pub name: String,
    pub kind: ModelKind,
    pub dimension: usize,
    /// Tokens per text (embedding models) or features per row (dense models).
    pub max_input: usize,
    pub device: String,
}

/// Row-major f32 tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorData {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// A loaded model; clones share the one copy in memory.
pub trait ModelHandle: Send + Sync + 'static {
    fn info(&self) -> ModelInfo;
    fn embed(&self, texts: Vec<String>) -> BoxFuture<'_, Result<Vec<Vec<f32>>, InferError>>;
    fn run(&self, input: TensorData) -> BoxFuture<'_, Result<TensorData, InferError>>;
}

/// A node's inference service, as actors see it.
pub trait InferService: Send + Sync + 'static {
    /// The model called `name`, loaded on first use and shared by every caller.
    fn load<'a>(&'a self, name: &'a str)
    -> BoxFuture<'a, Result<Arc<dyn ModelHandle>, InferError>>;
}
