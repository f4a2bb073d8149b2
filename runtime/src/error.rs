//! Per-operation error types: loading a component, checking its grants, spawning an actor and
//! delivering a message each fail in their own ways.

use std::path::PathBuf;

/// Building the runtime itself failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot create the wasm engine: {0:#}")]
    Engine(wasmtime::Error),
    #[error("cannot create the linker: {0:#}")]
    Linker(wasmtime::Error),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Turning `.wasm` bytes into a compiled component failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the file is empty")]
    Empty,
    #[error("not a WebAssembly file (no `\\0asm` header)")]
    NotWasm,
    #[error(
        "this is a core wasm module, not a component; build actors for wasm32-wasip2 \
         (`r1 build`) so they come out as components"
    )]
    CoreModule,
    #[error(
        "precompiled artifacts (.cwasm) are refused: a node compiles components itself from \
         verified .wasm bytes"
    )]
    Precompiled,
    #[error("invalid component: {0:#}")]
    Invalid(wasmtime::Error),
    #[error("malformed component: {0}")]
    Malformed(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("compiled-component cache at {path}: {source}")]
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The component asks for something the deployment does not grant, or grants are malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error(
        "actor {actor:?} imports `{interface}`, which needs grant `{grant}`; it was not \
         granted (add `--grant {grant}` to allow it)"
    )]
    NotGranted {
        actor: String,
        interface: String,
        grant: String,
    },
    #[error("actor {actor:?} imports `{interface}`, which no host service provides: {reason}")]
    Unsupported {
        actor: String,
        interface: String,
        reason: String,
    },
    #[error("invalid grant {grant:?}: {reason}")]
    Malformed { grant: String, reason: String },
}

/// Starting an actor failed; nothing was left running.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("invalid actor name {0:?}: use 1-64 characters from [A-Za-z0-9._-]")]
    BadName(String),
    #[error("an actor named {0:?} is already running")]
    NameTaken(String),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Grant(#[from] GrantError),
    #[error("refused by trust policy: {0}")]
    Signature(#[from] crate::signing::SignatureError),
    #[error("component does not export the r1:actor handler: {0:#}")]
    NotAnActor(wasmtime::Error),
    #[error("cannot instantiate actor {actor:?}: {reason}")]
    Instantiate { actor: String, reason: String },
    #[error("actor {actor:?} failed in init: {reason}")]
    Init { actor: String, reason: String },
    #[error("cannot set up actor {actor:?}: {reason}")]
    Setup { actor: String, reason: String },
}

/// A message could not be delivered or answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error("no actor named {0:?} on this node")]
    UnknownActor(String),
    #[error("mailbox of {0:?} is full")]
    MailboxFull(String),
    #[error("no reply from {0:?} before the timeout")]
    Timeout(String),
    #[error("actor {0:?} is stopped")]
    Stopped(String),
    #[error("actor {actor:?} is restarting after a crash ({reason})")]
    Restarting { actor: String, reason: String },
    #[error("actor {actor:?} returned an error: {message}")]
    Handler { actor: String, message: String },
    #[error("actor {actor:?} crashed handling the message: {reason}")]
    Crashed { actor: String, reason: String },
    #[error("{0}")]
    Denied(String),
    #[error("cannot reach {to:?}: {reason}")]
    Unreachable { to: String, reason: String },
}
