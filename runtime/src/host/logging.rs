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
        use crate::host::actor::bindings::r1::actor::logging::{Host, Level as R1Level};
        // The same event `r1:actor/logging` writes: one place decides how guest logs look.
        let level = match level {
            Level::Trace => R1Level::Trace,
            Level::Debug => R1Level::Debug,
            Level::Info => R1Level::Info,
            Level::Warn => R1Level::Warn,
            Level::Error => R1Level::Error,
            Level::Critical => R1Level::Critical,
        };
        Host::log(self, level, context, message);
    }
}
