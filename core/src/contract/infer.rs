//! Inference as actors see it: load a model by name, embed texts, run tensors. The runtime
//! links `r1:infer` over this and checks the grant's model scope before calling; it knows
//! nothing of devices, tokenizers or weights.

use std::sync::Arc;

use super::BoxFuture;
use crate::ServiceError;

/// What a model does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// Texts in, one L2-normalised vector per text out.
    SentenceEmbedding,
    /// f32 rows in, f32 rows out.
    Dense,
}

/// A model's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    /// Its name on this node.
    pub name: String,
    /// What it does.
    pub kind: ModelKind,
    /// Width of its output vectors.
    pub dimension: usize,
    /// Tokens per text (embedding models) or features per row (dense models).
    pub max_input: usize,
    /// Where it runs (`cpu`, `cuda:0`, …).
    pub device: String,
}

/// Row-major f32 tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorData {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<f32>,
}

/// A loaded model; clones share the one copy in memory.
pub trait ModelHandle: Send + Sync + 'static {
    /// The model's facts.
    fn info(&self) -> ModelInfo;
    /// One vector per text (embedding models).
    fn embed(&self, texts: Vec<String>) -> BoxFuture<'_, Result<Vec<Vec<f32>>, ServiceError>>;
    /// A forward pass (dense models).
    fn run(&self, input: TensorData) -> BoxFuture<'_, Result<TensorData, ServiceError>>;
}

/// A node's inference service.
pub trait InferService: Send + Sync + 'static {
    /// The model called `name`, loaded on first use and shared by every caller.
    fn load<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Arc<dyn ModelHandle>, ServiceError>>;
}
