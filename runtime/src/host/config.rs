//! `wasi:config/store@0.2.0-rc.1`: the deployment's configuration (the same pairs an actor's
//! `init` receives), read-only, through wasmtime's own implementation.

use wasmtime_wasi_config::{WasiConfig, WasiConfigVariables};

use crate::state::ActorState;

/// The package and version served.
pub const PACKAGE: &str = "wasi:config";
/// The only version served (a prerelease matches only itself).
pub const VERSION: &str = "0.2.0-rc.1";

/// Links `wasi:config/store` into `linker`, reading each instance's configuration.
pub fn add_to_linker(linker: &mut wasmtime::component::Linker<ActorState>) -> wasmtime::Result<()> {
    wasmtime_wasi_config::add_to_linker(linker, |state: &mut ActorState| {
        WasiConfig::from(&state.config)
    })
}

/// The configuration an instance reads.
pub fn variables(pairs: &[(String, String)]) -> WasiConfigVariables {
    pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}
