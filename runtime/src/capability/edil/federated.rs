//! `r1:edil` for actors granted `edil:<job>` / `edil-owner:<job>`: every call names a job,
//! which must be in the actor's grant (and granted as owner to decrypt); the work is the node's
//! [`EdilService`](r1_core::contract::edil::EdilService).

use r1_core::ServiceError;
use r1_core::contract::edil::EdilService;

use crate::state::ActorState;

/// Bindings generated from the WIT package.
#[allow(missing_docs)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/edil",
        world: "r1:edil/imports",
        imports: {
            default: async | trappable,
        },
    });
}

use bindings::r1::edil::federated::{self, AggregateInfo, Error};

/// Links `r1:edil` into `linker`.
pub fn add_to_linker(linker: &mut wasmtime::component::Linker<ActorState>) -> wasmtime::Result<()> {
    federated::add_to_linker::<_, wasmtime::component::HasSelf<_>>(linker, |s| s)
}

type EdilResult<T> = wasmtime::Result<Result<T, Error>>;

impl From<ServiceError> for Error {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Denied(m) => Error::Denied(m),
            ServiceError::NotFound(m) => Error::NotFound(m),
            ServiceError::Invalid(m) | ServiceError::TooLarge(m) => Error::Invalid(m),
            ServiceError::Refused(m) => Error::Refused(m),
            ServiceError::Unavailable(m) | ServiceError::Other(m) => Error::Unavailable(m),
        }
    }
}

impl ActorState {
    /// The EDIL service, if `job` is granted (as owner when `owner`).
    fn edil_for(&self, job: &str, owner: bool) -> Result<std::sync::Arc<dyn EdilService>, Error> {
        let Some((service, jobs)) = &self.edil else {
            return Err(Error::Denied("this actor has no EDIL grant".into()));
        };
        match jobs.get(job) {
            None => Err(Error::Denied(format!(
                "this actor is not granted job {job:?} (grant edil:{job})"
            ))),
            Some(false) if owner => Err(Error::Denied(format!(
                "decrypting needs the owner grant edil-owner:{job}"
            ))),
            Some(_) => Ok(service.clone()),
        }
    }
}

impl federated::Host for ActorState {
    async fn encrypt(&mut self, job: String, round: u64, values: Vec<f32>) -> EdilResult<String> {
        let service = match self.edil_for(&job, false) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        Ok(service
            .encrypt(&job, round, values)
            .await
            .map_err(Error::from))
    }

    async fn aggregate(
        &mut self,
        job: String,
        round: u64,
        updates: Vec<String>,
    ) -> EdilResult<AggregateInfo> {
        let service = match self.edil_for(&job, false) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        Ok(service
            .aggregate(&job, round, updates)
            .await
            .map(|(cid, clients)| AggregateInfo { cid, clients })
            .map_err(Error::from))
    }

    async fn decrypt(&mut self, job: String, aggregate: String) -> EdilResult<Vec<f32>> {
        let service = match self.edil_for(&job, true) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        Ok(service.decrypt(&job, &aggregate).await.map_err(Error::from))
    }
}
