//! `r1-core`: what the runtime, the host services and the node share without depending on
//! each other. It has no heavy dependency (no wasmtime, libp2p, fjall, tfhe or candle) and
//! never will: everything here must be cheap for every crate to link.
//!
//! - [`name`]: the one rule for names (actors, namespaces, topics, jobs, models), checked the
//!   same way at every door (HTTP API, CLI, grants, runtime, services).

#![warn(missing_docs)]

pub mod name;

pub use name::{NameError, NameKind, check_name, is_valid_name};
