//! The service contracts: what the runtime (and any system actor through it) may ask of a
//! node's services (key/value, blobs, inference, EDIL, containers), of its actors (control), of its system actors (Deeploy, OracleSync), of its
//! identity (signing) and of its transport (remote delivery, admission). Each is a trait a service crate implements; the runtime holds only
//! `Arc<dyn Trait>` and never names a concrete service.
//!
//! Invariants every implementation keeps:
//! - **Errors** are [`crate::ServiceError`]s whose kind says what the caller can do.
//! - **Blocking work** (fsync, disk reads of whole files, model passes) happens inside the
//!   returned future on a thread of the service's own (a blocking pool, a batcher), never
//!   on the caller's thread: the caller is an actor worker shared with other actors.
//! - **Scope** is the caller's business: a contract takes a namespace, a job or a model
//!   name, and the runtime passes only what the actor's grant allows.

pub mod admission;
pub mod blobs;
pub mod container;
pub mod control;
pub mod deeploy;
pub mod edil;
pub mod identity;
pub mod infer;
pub mod kv;
pub mod oraclesync;
pub mod remote;

use std::future::Future;
use std::pin::Pin;

/// The future a contract method returns: boxed, `Send`, borrowing the service.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
