//! `r1-runtime`: runs WASI component actors under wasmtime.
//!
//! - [`engine`]: cranelift + epoch interruption + pooling allocator (with on-demand fallback).
//! - [`cache`]: compile once per (bytes, engine); never accept precompiled input.
//! - [`grants`] and [`linker`]: capability grants, checked before instantiation.
//! - [`actor`]: one actix actor per wasm actor, with deadlines, limits and supervision.
//! - [`router`]: local send / request / publish-subscribe.
//! - [`system`]: the [`Runtime`] that ties them together.
//!
//! This crate knows wasm, not networks: remote delivery and replication live in `host/*`.

pub mod actor;
pub mod blobs;
pub mod cache;
pub mod config;
pub mod engine;
pub mod error;
pub mod federated;
pub mod grants;
pub mod host;
pub mod inference;
pub mod linker;
mod log_stream;
pub mod router;
pub mod signing;
pub mod state;
pub mod system;

pub use actor::{ActorInfo, ActorStatus};
pub use blobs::{BlobError, BlobService, BlobStat};
pub use config::{ActorLimits, RestartPolicy, RuntimeConfig};
pub use engine::AllocatorKind;
pub use error::{DeliveryError, GrantError, LoadError, RuntimeError, SpawnError};
pub use federated::{EdilError, EdilService};
pub use grants::{Grants, ModelScope};
pub use inference::{InferError, InferService, ModelHandle, ModelInfo, ModelKind, TensorData};
pub use linker::ComponentReport;
pub use signing::{Provenance, TrustPolicy};
pub use system::{ActorSpec, HOST_SENDER, Runtime};
