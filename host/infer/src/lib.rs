//! R1 inference on candle: a per-node model registry (one shared copy of each model, loaded on
//! first use, unloaded when idle), CPU or CUDA chosen per node, and dynamic batching of
//! concurrent requests into one forward pass.
//!
//! Invariants:
//! - A model named in the registry is loaded at most once at a time; every caller of
//!   [`Registry::load`] gets the same [`Model`] until it is unloaded.
//! - Inputs are checked before they join a batch (empty list, over-long text, wrong shape),
//!   so one caller's bad input never fails another caller's request.
//! - Texts are never silently truncated: a text longer than the model's limit is refused.
//! - Forward passes run on one worker thread per loaded model, never on an async runtime
//!   thread or an actor's worker.

#![warn(missing_docs)]

pub mod batcher;
pub mod dense;
pub mod device;
pub mod embedder;
pub mod registry;
pub mod spec;

pub use batcher::BatchConfig;
pub use device::DeviceChoice;
pub use r1_core::contract::infer::{ModelInfo, ModelKind, TensorData};
pub use registry::{Model, ModelListing, Registry};
pub use spec::{FileRef, ModelSpec, SpecKind};

/// Where `scripts/fetch-models.sh` puts models: `$R1_MODELS_DIR`, else `~/.cache/r1/models`.
pub fn default_models_dir() -> Option<std::path::PathBuf> {
    std::env::var_os("R1_MODELS_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache/r1/models"))
        })
}

/// Why a model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The spec names no usable file or asks for something unsupported, or a loading task or
    /// the model's worker thread could not run.
    #[error("model {model}: {what}")]
    Spec {
        /// The model's registered name.
        model: String,
        /// What is wrong.
        what: String,
    },
    /// A local model file could not be read.
    #[error("model {model}: cannot read {file}: {source}")]
    Read {
        /// The model's registered name.
        model: String,
        /// The file, as the spec gives it.
        file: String,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A model file given by content id could not be fetched (or the node runs no R1FS).
    #[error("model {model}: cannot fetch {cid} from R1FS: {reason}")]
    Fetch {
        /// The model's registered name.
        model: String,
        /// The file's R1FS content id.
        cid: String,
        /// Why the fetch failed.
        reason: String,
    },
    /// A config or tokenizer file does not parse or is invalid.
    #[error("model {model}: bad {file}: {reason}")]
    Parse {
        /// The model's registered name.
        model: String,
        /// The file, as the spec gives it.
        file: String,
        /// What is wrong with it.
        reason: String,
    },
    /// candle failed to build the model from its weights (missing or mis-shaped tensors).
    #[error("model {model}: {source}")]
    Candle {
        /// The model's registered name.
        model: String,
        /// candle's error.
        source: candle_core::Error,
    },
}

impl From<LoadError> for r1_core::ServiceError {
    fn from(e: LoadError) -> Self {
        r1_core::ServiceError::Unavailable(e.to_string())
    }
}
