//! `r1-runtime`: runs WASI component actors under wasmtime.
//!
//! - [`engine`]: cranelift + epoch interruption + pooling allocator (with on-demand fallback).
//! - [`cache`]: compile once per (bytes, engine); never accept precompiled input.
//! - [`capability`]: one unit per grantable capability (grant syntax, packages, claims,
//!   linking, instance handles), registered in one table.
//! - [`grants`] and [`linker`]: capability grants, checked before instantiation.
//! - [`actor`]: one actix actor per wasm actor, with deadlines, limits and supervision.
//! - [`router`]: send / request / publish-subscribe, here and (through the remote contract)
//!   on other nodes.
//! - [`job`]: commands (`wasi:cli/command`) run to completion as jobs.
//! - [`http`]: HTTP components (`wasi:http/proxy`), an instance per request.
//! - [`system`]: the [`Runtime`] that ties them together.
//!
//! This crate knows wasm and the service contracts of `r1-core`, never a concrete service:
//! the node hands it `Arc<dyn …>` services through [`RuntimeBuilder`], and remote delivery,
//! replication, storage and models live in `host/*`.

#![warn(missing_docs)]

pub mod actor;
pub mod cache;
pub mod capability;
pub mod config;
pub mod container;
pub mod engine;
pub mod error;
pub mod grants;
pub mod host;
pub mod http;
pub mod job;
pub mod linker;
mod log_stream;
pub mod logbook;
mod recipe;
pub mod router;
pub mod signing;
pub mod state;
pub mod system;

pub use actor::{ActorInfo, ActorStatus, ComponentKind};
pub use config::{ActorLimits, RestartPolicy, RuntimeConfig};
pub use engine::AllocatorKind;
pub use error::{DeliveryError, GrantError, LoadError, RuntimeError, SpawnError};
pub use grants::{Grants, ModelScope};
pub use http::HttpError;
pub use job::JobExit;
pub use linker::ComponentReport;
pub use logbook::LogLine;
pub use signing::{Provenance, TrustPolicy};
pub use state::Io;
pub use system::{ActorSpec, ContainerLaunch, HOST_SENDER, Runtime, RuntimeBuilder};
