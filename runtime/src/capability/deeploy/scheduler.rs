//! `r1:deeploy/scheduler` for the scheduler system actor: each call goes straight to the
//! node's [`SchedulerControl`]; errors come back as text.

use r1_core::contract::deeploy::SchedulerControl;

use crate::state::ActorState;

/// Bindings generated from the WIT package.
#[allow(missing_docs)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/deeploy",
        world: "r1:deeploy/imports",
        imports: {
            default: async | trappable,
        },
    });
}

use bindings::r1::deeploy::scheduler;

/// Links `r1:deeploy` into `linker`.
pub fn add_to_linker(linker: &mut wasmtime::component::Linker<ActorState>) -> wasmtime::Result<()> {
    scheduler::add_to_linker::<_, wasmtime::component::HasSelf<_>>(linker, |s| s)
}

type Answer<T> = wasmtime::Result<Result<T, String>>;

impl ActorState {
    fn control(&self) -> Result<std::sync::Arc<dyn SchedulerControl>, String> {
        self.deeploy
            .clone()
            .ok_or_else(|| "deeploy is not granted".to_owned())
    }
}

impl scheduler::Host for ActorState {
    async fn view(&mut self) -> Answer<String> {
        let control = match self.control() {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        Ok(control.view().await.map_err(|e| e.to_string()))
    }

    async fn place(&mut self, app: String, placement: String) -> Answer<()> {
        let control = match self.control() {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        Ok(control
            .place(&app, Some(&placement))
            .await
            .map_err(|e| e.to_string()))
    }

    async fn drop(&mut self, app: String) -> Answer<()> {
        let control = match self.control() {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        Ok(control.place(&app, None).await.map_err(|e| e.to_string()))
    }

    async fn revert(&mut self, app: String, failed: String, reason: String) -> Answer<()> {
        let control = match self.control() {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        Ok(control
            .revert(&app, &failed, &reason)
            .await
            .map_err(|e| e.to_string()))
    }
}
