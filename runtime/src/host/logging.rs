//! `wasi:logging/logging@0.1.0-draft`: each call becomes one event in the node log, attributed
//! to the calling actor or job, exactly as `r1:actor/logging` does.

use crate::state::ActorState;

/// The package and version served.
pub const PACKAGE: &str = "wasi:logging";
/// The only version served (a prerelease matches only itself).
pub const VERSION: &str = "0.1.0-draft";

/// Bindings generated from the WIT package.
#[allow(missing_docs)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/logging",
        world: "wasi:logging/imports",
    });
}

use bindings::wasi::logging::logging::{self, Level};

/// Links `wasi:logging` into `linker`.
pub fn add_to_linker(linker: &mut wasmtime::component::Linker<ActorState>) -> wasmtime::Result<()> {
    use wasmtime::component::HasSelf;
    logging::add_to_linker::<_, HasSelf<_>>(linker, |s| s)
}

impl logging::Host for ActorState {
    fn log(&mut self, level: Level, context: String, message: String) {
        let severity = match level {
            Level::Trace => Severity::Trace,
            Level::Debug => Severity::Debug,
            Level::Info => Severity::Info,
            Level::Warn => Severity::Warn,
            Level::Error | Level::Critical => Severity::Error,
        };
        emit(&self.name, severity, &context, &message);
    }
}

/// A guest log event's level, whichever interface it came through.
pub(crate) enum Severity {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Writes one guest log event into the node log under target `r1::guest`.
pub(crate) fn emit(actor: &str, severity: Severity, context: &str, message: &str) {
    match severity {
        Severity::Trace => tracing::trace!(target: "r1::guest", actor, context, "{message}"),
        Severity::Debug => tracing::debug!(target: "r1::guest", actor, context, "{message}"),
        Severity::Info => tracing::info!(target: "r1::guest", actor, context, "{message}"),
        Severity::Warn => tracing::warn!(target: "r1::guest", actor, context, "{message}"),
        Severity::Error => tracing::error!(target: "r1::guest", actor, context, "{message}"),
    }
}
