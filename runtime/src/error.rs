//! Per-operation error types: loading a component, checking its grants, spawning an actor and
//! delivering a message each fail in their own ways.

use std::path::PathBuf;

/// Building the runtime itself failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// wasmtime refused the engine configuration.
    #[error("cannot create the wasm engine: {0:#}")]
    Engine(wasmtime::Error),
    /// The component linker could not be set up.
    #[error("cannot create the linker: {0:#}")]
    Linker(wasmtime::Error),
    /// A runtime thread could not be started, or another I/O step failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Turning `.wasm` bytes into a compiled component failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The bytes are empty.
    #[error("the file is empty")]
    Empty,
    /// The bytes do not start with the wasm magic number.
    #[error("not a WebAssembly file (no `\\0asm` header)")]
    NotWasm,
    /// The bytes are a core module rather than a component.
    #[error(
        "this is a core wasm module, not a component; build actors for wasm32-wasip2 \
         (`r1 build`) so they come out as components"
    )]
    CoreModule,
    /// The bytes are a precompiled wasmtime artifact, which is never accepted.
    #[error(
        "precompiled artifacts (.cwasm) are refused: a node compiles components itself from \
         verified .wasm bytes"
    )]
    Precompiled,
    /// wasmtime failed to validate or compile the component.
    #[error("invalid component: {0:#}")]
    Invalid(wasmtime::Error),
    /// The section structure is broken (found while reading the signature section).
    #[error("malformed component: {0}")]
    Malformed(String),
    /// Reading a component file from disk failed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// Creating or writing the on-disk compiled-component cache failed.
    #[error("compiled-component cache at {path}: {source}")]
    Cache {
        /// The cache directory or entry involved.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
}

/// The component asks for something the deployment does not grant, or grants are malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// The component imports an interface whose capability was not granted.
    #[error(
        "{actor:?} imports `{interface}`, which needs grant `{grant}`; it was not \
         granted (add `--grant {grant}` to allow it)"
    )]
    NotGranted {
        /// The actor being checked.
        actor: String,
        /// The imported interface, e.g. `r1:cstore/store`.
        interface: String,
        /// A grant that would allow the import (the capability's hint).
        grant: String,
    },
    /// The component imports an interface no host service provides at all.
    #[error("{actor:?} imports `{interface}`, which no host service provides: {reason}")]
    Unsupported {
        /// The actor being checked.
        actor: String,
        /// The imported interface.
        interface: String,
        /// Why the interface cannot be provided.
        reason: String,
    },
    /// A grant string cannot be parsed or names an unknown kind.
    #[error("invalid grant {grant:?}: {reason}")]
    Malformed {
        /// The grant string as given.
        grant: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Starting an actor failed; nothing was left running.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The name is not 1-64 characters from `[A-Za-z0-9._-]`, or is reserved for the host.
    #[error("invalid actor name {0:?}: use 1-64 characters from [A-Za-z0-9._-]")]
    BadName(String),
    /// Another actor with this name is already registered.
    #[error("an actor named {0:?} is already running")]
    NameTaken(String),
    /// The component could not be loaded or compiled.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The component's imports are not covered by its grants.
    #[error(transparent)]
    Grant(#[from] GrantError),
    /// The trust policy refused the component's signatures or claims.
    #[error("refused by trust policy: {0}")]
    Signature(#[from] crate::signing::SignatureError),
    /// The component does not export the `r1:actor` handler interface.
    #[error("component does not export the r1:actor handler: {0:#}")]
    NotAnActor(wasmtime::Error),
    /// Pre-instantiating the component against the linker failed.
    #[error("cannot instantiate actor {actor:?}: {reason}")]
    Instantiate {
        /// The actor being spawned.
        actor: String,
        /// The linker's error, formatted.
        reason: String,
    },
    /// The actor's first instance failed to start or trapped in `init`.
    #[error("actor {actor:?} failed in init: {reason}")]
    Init {
        /// The actor being spawned.
        actor: String,
        /// The crash, formatted.
        reason: String,
    },
    /// Building the linker for the actor's capabilities failed.
    #[error("cannot set up actor {actor:?}: {reason}")]
    Setup {
        /// The actor being spawned.
        actor: String,
        /// The linker's error, formatted.
        reason: String,
    },
    /// A container could not be started (no engine on this node, a grant a container cannot
    /// use, or the engine's refusal).
    #[error("container {actor:?}: {reason}")]
    Container {
        /// The actor being spawned.
        actor: String,
        /// Why, in words.
        reason: String,
    },
}

/// A message could not be delivered or answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// No local actor is registered under this name.
    #[error("no actor named {0:?}")]
    UnknownActor(String),
    /// The actor's bounded mailbox is full; the message was not queued.
    #[error("mailbox of {0:?} is full")]
    MailboxFull(String),
    /// The actor did not reply within the request's timeout.
    #[error("no reply from {0:?} before the timeout")]
    Timeout(String),
    /// The actor's mailbox is closed: it has stopped or is stopping.
    #[error("actor {0:?} is stopped")]
    Stopped(String),
    /// The actor is being restarted after a crash and cannot take the message now.
    #[error("actor {actor:?} is restarting after a crash ({reason})")]
    Restarting {
        /// The addressed actor.
        actor: String,
        /// Why it crashed.
        reason: String,
    },
    /// The actor's handler returned an error for the message.
    #[error("actor {actor:?} returned an error: {message}")]
    Handler {
        /// The addressed actor.
        actor: String,
        /// The error the handler returned.
        message: String,
    },
    /// The actor trapped or ran out of limits while handling the message.
    #[error("actor {actor:?} crashed handling the message: {reason}")]
    Crashed {
        /// The addressed actor.
        actor: String,
        /// The crash, formatted.
        reason: String,
    },
    /// Delivery was refused, e.g. because the actor has failed for good.
    #[error("{0}")]
    Denied(String),
    /// A `NODE/NAME` address could not be delivered: no remote transport, or it failed.
    #[error("cannot reach {to:?}: {reason}")]
    Unreachable {
        /// The `NODE/NAME` address.
        to: String,
        /// Why the transport failed.
        reason: String,
    },
    /// A `NODE/NAME` address names a node this node does not know.
    #[error("unknown node in {0:?}")]
    UnknownNode(String),
    /// The actor on another node answered with an error (its handler failed, it crashed or
    /// it is stopped).
    #[error("{to:?} failed: {reason}")]
    RemoteFailed {
        /// The `NODE/NAME` address.
        to: String,
        /// What the other node said.
        reason: String,
    },
}

impl DeliveryError {
    /// The runtime's reading of a transport error for actor `name` on `node`.
    pub fn from_remote(
        node: &str,
        name: &str,
        err: r1_core::contract::remote::RemoteError,
    ) -> Self {
        use r1_core::contract::remote::RemoteError as R;
        let to = format!("{node}/{name}");
        match err {
            R::UnknownNode(_) => DeliveryError::UnknownNode(to),
            R::Unreachable { reason, .. } => DeliveryError::Unreachable { to, reason },
            R::UnknownActor(_) => DeliveryError::UnknownActor(to),
            R::MailboxFull(_) => DeliveryError::MailboxFull(to),
            R::Timeout(_) => DeliveryError::Timeout(to),
            R::Denied(why) => DeliveryError::Denied(why),
            R::Failed(reason) => DeliveryError::RemoteFailed { to, reason },
        }
    }

    /// What another node is told when a message it sent fails here.
    pub fn to_remote(&self) -> r1_core::contract::remote::RemoteError {
        use r1_core::contract::remote::RemoteError as R;
        match self {
            DeliveryError::UnknownActor(name) => R::UnknownActor(name.clone()),
            DeliveryError::MailboxFull(name) => R::MailboxFull(name.clone()),
            DeliveryError::Timeout(name) => R::Timeout(name.clone()),
            DeliveryError::Denied(why) => R::Denied(why.clone()),
            DeliveryError::UnknownNode(to) => R::UnknownNode(to.clone()),
            DeliveryError::Unreachable { to, reason } => R::Unreachable {
                node: to.clone(),
                reason: reason.clone(),
            },
            DeliveryError::Handler { message, .. } => R::Failed(message.clone()),
            DeliveryError::RemoteFailed { reason, .. } => R::Failed(reason.clone()),
            other => R::Failed(other.to_string()),
        }
    }
}
