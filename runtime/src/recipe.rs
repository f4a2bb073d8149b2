//! What every instance of one deployment is made from — an actor's instance (and each restart),
//! a job's run, one HTTP request's instance — and how a fresh store is set up from it: WASI per
//! its `Io`, its configuration, its granted handles, its deadline.

use std::sync::Arc;

use wasmtime::{Engine, Store};

use crate::grants::Grants;
use crate::router::Router;
use crate::state::{ActorState, Io, arm_deadline, new_store};

/// What every instance of one deployment is made from, whatever it is (an actor's instance,
/// a job's run, one HTTP request's instance).
pub(crate) struct Recipe {
    pub name: Arc<str>,
    pub engine: Engine,
    pub grants: Grants,
    pub limits: crate::config::ActorLimits,
    pub config: Vec<(String, String)>,
    pub io: Io,
    pub router: Arc<Router>,
    pub logbook: crate::logbook::LogBook,
    pub services: crate::capability::HostServices,
}

impl Recipe {
    /// A store for one fresh instance: WASI per `io`, the configuration for `wasi:config`,
    /// the granted handles, and the deadline armed.
    pub(crate) fn store(&self) -> Result<Store<ActorState>, String> {
        let mut state = ActorState::with_io(
            self.name.clone(),
            &self.grants,
            self.limits.max_memory_bytes,
            self.router.clone(),
            &self.io,
            self.logbook.clone(),
        )?;
        state.config = crate::host::config::variables(&self.config);
        crate::capability::attach(&self.grants, &self.services, &mut state)?;
        let mut store = new_store(&self.engine, state);
        arm_deadline(&mut store, self.limits.deadline);
        Ok(store)
    }
}
