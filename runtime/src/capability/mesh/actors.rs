//! `r1:mesh/actors` for actors granted `mesh`: typed sends and requests to any node, and where
//! names run. Delivery itself is the router's (the same path `r1:actor/mailbox` takes with the
//! grant); this module only reports its errors case by case.

use std::time::Duration;

use crate::error::DeliveryError;
use crate::router::{Deliver, Reach};
use crate::state::ActorState;

/// Bindings generated from the WIT package.
#[allow(missing_docs)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/mesh",
        world: "r1:mesh/imports",
        imports: {
            "r1:mesh/actors.request": async,
            default: tracing,
        },
    });
}

use bindings::r1::mesh::actors::{self, Error};

/// Links `r1:mesh` into `linker`.
pub fn add_to_linker(linker: &mut wasmtime::component::Linker<ActorState>) -> wasmtime::Result<()> {
    use wasmtime::component::HasSelf;
    actors::add_to_linker::<_, HasSelf<_>>(linker, |s| s)
}

impl From<DeliveryError> for Error {
    fn from(err: DeliveryError) -> Self {
        match err {
            DeliveryError::UnknownNode(to) => Error::UnknownNode(to),
            DeliveryError::Unreachable { to, reason } => {
                Error::Unreachable(format!("{to}: {reason}"))
            }
            DeliveryError::UnknownActor(name) => Error::UnknownRecipient(name),
            DeliveryError::MailboxFull(_) => Error::MailboxFull,
            DeliveryError::Timeout(_) => Error::Timeout,
            DeliveryError::Denied(why) => Error::Denied(why),
            DeliveryError::Handler { message, .. } => Error::Failed(message),
            DeliveryError::RemoteFailed { reason, .. } => Error::Failed(reason),
            other => Error::Failed(other.to_string()),
        }
    }
}

impl actors::Host for ActorState {
    fn send(&mut self, to: String, payload: Vec<u8>) -> Result<(), Error> {
        let msg = Deliver::new(&self.name, None, payload);
        Ok(self.router.try_deliver(&to, msg, Reach::Mesh)?)
    }

    async fn request(
        &mut self,
        to: String,
        payload: Vec<u8>,
        timeout_ms: u32,
    ) -> Result<Vec<u8>, Error> {
        if self.router.is_local(&to) && to == *self.name {
            return Err(Error::Denied(
                "an actor cannot request itself (it would wait on its own mailbox)".into(),
            ));
        }
        let msg = Deliver::new(&self.name, None, payload);
        let timeout = Duration::from_millis(u64::from(timeout_ms));
        let reply = self.router.request(&to, msg, timeout, Reach::Mesh).await?;
        Ok(reply.unwrap_or_default())
    }

    fn locate(&mut self, name: String) -> Vec<String> {
        self.router.locate(&name)
    }

    fn self_node(&mut self) -> String {
        self.router.node_id().unwrap_or_default()
    }

    fn nodes(&mut self) -> Vec<String> {
        self.router.nodes()
    }
}
