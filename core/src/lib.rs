//! `r1-core`: what the runtime, the host services and the node share without depending on
//! each other. It has no heavy dependency (no wasmtime, libp2p, fjall, tfhe or candle) and
//! never will: everything here must be cheap for every crate to link.
//!
//! - [`name`]: the one rule for names (actors, namespaces, topics, jobs, models), checked the
//!   same way at every door (HTTP API, CLI, grants, runtime, services).
//! - [`contract`]: the service traits the runtime calls (key/value, blobs, inference, EDIL);
//!   each service crate implements its own, and the runtime holds only `Arc<dyn …>`.
//! - [`error`]: the one error those contracts return, a kind and a message.
//! - [`token_file`]: the node API's bearer-token file, which the node checks and clients send.
//!
//! Dependencies point one way: `r1-core` ← {`r1-runtime`, the services} ← the node.

#![warn(missing_docs)]

pub mod contract;
pub mod error;
pub mod name;
#[cfg(unix)] // owner-only file modes; guests (wasm) never read token files
pub mod token_file;

pub use contract::BoxFuture;
pub use error::{ErrorKind, ServiceError};
pub use name::{NameError, NameKind, check_name, is_valid_name};
