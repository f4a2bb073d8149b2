//! [`Oci`] as the runtime's container engine (`r1_core::contract::container`): a spec's
//! grants become the container's mounts, network and limits; its output goes to the actor's
//! log.

use std::time::Duration;

use r1_core::ServiceError;
use r1_core::contract::BoxFuture;
use r1_core::contract::container::{ContainerEngine, ContainerInstance, ContainerSpec, LogFn};

use crate::{BindMount, Container, Grants, Limits, Oci, OciError};

fn service_error(e: OciError) -> ServiceError {
    match e {
        OciError::Image(m) => ServiceError::NotFound(format!("image: {m}")),
        OciError::Config(m) => ServiceError::Invalid(format!("container config: {m}")),
        OciError::Unavailable(m) => ServiceError::Unavailable(m),
        OciError::Message(m) => ServiceError::Other(m),
        OciError::Start(m) | OciError::Io(m) => ServiceError::Other(m),
    }
}

impl ContainerInstance for Container {
    fn request(
        &self,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Vec<u8>, ServiceError>> {
        Box::pin(async move {
            Container::request(self, &payload, timeout)
                .await
                .map_err(service_error)
        })
    }

    fn exited(&self) -> BoxFuture<'_, String> {
        Box::pin(async move { self.wait().await.to_string() })
    }

    fn stop(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            Container::stop(self).await;
        })
    }
}

impl ContainerEngine for Oci {
    fn start<'a>(
        &'a self,
        name: &'a str,
        spec: &'a ContainerSpec,
        log: LogFn,
    ) -> BoxFuture<'a, Result<Box<dyn ContainerInstance>, ServiceError>> {
        Box::pin(async move {
            let grants = Grants {
                mounts: spec
                    .mounts
                    .iter()
                    .map(|m| BindMount {
                        host: m.host.clone(),
                        guest: m.guest.clone(),
                        writable: m.writable,
                    })
                    .collect(),
                network: spec.network,
                limits: Limits {
                    memory_bytes: spec.memory_bytes,
                    cpu_millis: spec.cpu_millis,
                    pids: spec.pids,
                    ..Limits::default()
                },
            };
            let log: crate::LogSink = std::sync::Arc::new(move |line: &str| log(line));
            let container = self
                .run(name, &spec.image, &grants, spec.args.clone(), Some(log))
                .await
                .map_err(service_error)?;
            Ok(Box::new(container) as Box<dyn ContainerInstance>)
        })
    }
}
