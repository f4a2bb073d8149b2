//! `r1:infer` for actors granted `infer` or `infer:<model>`: opens models through the node's
//! [`InferService`](r1_core::contract::infer::InferService). The grant is checked on every `load`;
//! an opened model handle is the proof of access afterwards. Forward passes run on the
//! service's own threads, so a long batch never blocks this actor's worker.

use std::sync::Arc;

use wasmtime::component::Resource;

use r1_core::ServiceError;
use r1_core::contract::infer::{ModelHandle, ModelKind, TensorData};

use crate::state::ActorState;

/// An opened model, shared with every other actor that opened it.
pub struct InferModel {
    handle: Arc<dyn ModelHandle>,
}

/// Bindings generated from the WIT package.
#[allow(missing_docs)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/infer",
        world: "r1:infer/imports",
        imports: {
            "r1:infer/inference.load": async | trappable,
            "r1:infer/inference.[method]model.embed": async | trappable,
            "r1:infer/inference.[method]model.run": async | trappable,
            default: trappable,
        },
        with: {
            "r1:infer/inference.model": super::InferModel,
        },
    });
}

use bindings::r1::infer::inference::{self, Error, Tensor};

/// Links `r1:infer` into `linker`.
pub fn add_to_linker(linker: &mut wasmtime::component::Linker<ActorState>) -> wasmtime::Result<()> {
    inference::add_to_linker::<_, wasmtime::component::HasSelf<_>>(linker, |s| s)
}

type InferResult<T> = wasmtime::Result<Result<T, Error>>;

impl From<ServiceError> for Error {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Denied(m) => Error::Denied(m),
            ServiceError::NotFound(m) => Error::NotFound(m),
            ServiceError::Invalid(m) | ServiceError::TooLarge(m) | ServiceError::Refused(m) => {
                Error::Invalid(m)
            }
            ServiceError::Unavailable(m) | ServiceError::Other(m) => Error::Unavailable(m),
        }
    }
}

impl inference::Host for ActorState {
    async fn load(&mut self, name: String) -> InferResult<Resource<InferModel>> {
        let (service, scope) = match &self.infer {
            Some(granted) => granted.clone(),
            None => {
                return Ok(Err(Error::Denied(
                    "this actor has no inference grant".into(),
                )));
            }
        };
        if !scope.allows(&name) {
            return Ok(Err(Error::Denied(format!(
                "this actor is not granted model {name:?} (grant infer:{name})"
            ))));
        }
        match service.load(&name).await {
            Ok(handle) => Ok(Ok(self.table.push(InferModel { handle })?)),
            Err(e) => Ok(Err(e.into())),
        }
    }
}

impl inference::HostModel for ActorState {
    fn info(&mut self, model: Resource<InferModel>) -> wasmtime::Result<inference::ModelInfo> {
        let info = self.table.get(&model)?.handle.info();
        Ok(inference::ModelInfo {
            name: info.name,
            kind: match info.kind {
                ModelKind::SentenceEmbedding => inference::ModelKind::SentenceEmbedding,
                ModelKind::Dense => inference::ModelKind::Dense,
            },
            dimension: u32::try_from(info.dimension).unwrap_or(u32::MAX),
            max_input: u32::try_from(info.max_input).unwrap_or(u32::MAX),
            device: info.device,
        })
    }

    async fn embed(
        &mut self,
        model: Resource<InferModel>,
        texts: Vec<String>,
    ) -> InferResult<Vec<Vec<f32>>> {
        let handle = self.table.get(&model)?.handle.clone();
        Ok(handle.embed(texts).await.map_err(Error::from))
    }

    async fn run(&mut self, model: Resource<InferModel>, input: Tensor) -> InferResult<Tensor> {
        let handle = self.table.get(&model)?.handle.clone();
        let input = TensorData {
            shape: input.shape.into_iter().map(|d| d as usize).collect(),
            data: input.data,
        };
        Ok(handle
            .run(input)
            .await
            .map(|out| Tensor {
                shape: out
                    .shape
                    .into_iter()
                    .map(|d| u32::try_from(d).unwrap_or(u32::MAX))
                    .collect(),
                data: out.data,
            })
            .map_err(Error::from))
    }

    fn drop(&mut self, model: Resource<InferModel>) -> wasmtime::Result<()> {
        self.table.delete(model)?;
        Ok(())
    }
}
