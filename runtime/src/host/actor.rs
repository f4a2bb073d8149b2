//! `r1:actor`: messaging and logging for every actor (always linked).

use std::time::Duration;

use crate::error::DeliveryError;
use crate::router::Deliver;
use crate::state::ActorState;

/// Bindings generated from the WIT package.
#[allow(missing_docs)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/actor",
        world: "r1:actor/actor",
        imports: {
            "r1:actor/mailbox.request": async,
            default: tracing,
        },
        exports: { default: async },
    });
}

use bindings::r1::actor::logging::{self, Level};
use bindings::r1::actor::mailbox;
use bindings::r1::actor::types::{self, MailboxError};

/// Links `r1:actor` into `linker`.
pub fn add_to_linker(linker: &mut wasmtime::component::Linker<ActorState>) -> wasmtime::Result<()> {
    use wasmtime::component::HasSelf;
    types::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?;
    mailbox::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?;
    logging::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?;
    Ok(())
}

impl From<DeliveryError> for MailboxError {
    fn from(err: DeliveryError) -> Self {
        match err {
            DeliveryError::UnknownActor(name) | DeliveryError::UnknownNode(name) => {
                MailboxError::UnknownRecipient(name)
            }
            DeliveryError::MailboxFull(_) => MailboxError::MailboxFull,
            DeliveryError::Timeout(_) => MailboxError::Timeout,
            DeliveryError::Denied(why) => MailboxError::Denied(why),
            DeliveryError::Handler { message, .. } => MailboxError::Failed(message),
            other => MailboxError::Failed(other.to_string()),
        }
    }
}

impl types::Host for ActorState {}

impl mailbox::Host for ActorState {
    fn send(&mut self, to: String, payload: Vec<u8>) -> Result<(), MailboxError> {
        let msg = Deliver::new(&self.name, None, payload);
        Ok(self.router.try_deliver(&to, msg, self.reach)?)
    }

    async fn request(
        &mut self,
        to: String,
        payload: Vec<u8>,
        timeout_ms: u32,
    ) -> Result<Vec<u8>, MailboxError> {
        if to == *self.name {
            return Err(MailboxError::Denied(
                "an actor cannot request itself (it would wait on its own mailbox)".into(),
            ));
        }
        let msg = Deliver::new(&self.name, None, payload);
        let timeout = Duration::from_millis(u64::from(timeout_ms));
        match self.router.request(&to, msg, timeout, self.reach).await? {
            Some(reply) => Ok(reply),
            None => Ok(Vec::new()),
        }
    }

    fn publish(&mut self, topic: String, payload: Vec<u8>) -> Result<u32, MailboxError> {
        check_topic(&topic)?;
        Ok(self.router.publish(&self.name, &topic, payload, self.reach))
    }

    fn subscribe(&mut self, topic: String) -> Result<(), MailboxError> {
        check_topic(&topic)?;
        self.router.subscribe(&self.name, &topic);
        Ok(())
    }

    fn unsubscribe(&mut self, topic: String) {
        self.router.unsubscribe(&self.name, &topic);
    }

    fn self_address(&mut self) -> String {
        self.name.to_string()
    }
}

impl logging::Host for ActorState {
    fn log(&mut self, level: Level, context: String, message: String) {
        let actor = &*self.name;
        let name = match level {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Critical => "critical",
        };
        let text = if context.is_empty() {
            message.clone()
        } else {
            format!("{context}: {message}")
        };
        self.logbook.record(actor, name, &text);
        match level {
            Level::Trace => tracing::trace!(target: "r1::guest", actor, context, "{message}"),
            Level::Debug => tracing::debug!(target: "r1::guest", actor, context, "{message}"),
            Level::Info => tracing::info!(target: "r1::guest", actor, context, "{message}"),
            Level::Warn => tracing::warn!(target: "r1::guest", actor, context, "{message}"),
            Level::Error | Level::Critical => {
                tracing::error!(target: "r1::guest", actor, context, "{message}")
            }
        }
    }
}

/// Topics follow the one naming rule ([`r1_core::name`]), the same as at the node API.
fn check_topic(topic: &str) -> Result<(), MailboxError> {
    r1_core::check_name(r1_core::NameKind::Topic, topic)
        .map_err(|e| MailboxError::Denied(e.to_string()))
}
