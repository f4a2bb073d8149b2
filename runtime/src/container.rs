//! An OCI container as an actor: its mailbox in the router like any actor's, messages passed to
//! the container one at a time, its exits supervised with the same restart policy as a wasm
//! actor's, its output in the actor's log. The engine is the node's
//! ([`ContainerEngine`]); the runtime never names it.
//!
//! Invariants:
//! - One message at a time, in mailbox order (`AtomicResponse`); each waits at most the
//!   actor's deadline for its answer.
//! - An exit the runtime did not ask for is a crash: the instance is replaced after the
//!   policy's backoff, or the actor is marked failed when crashes exceed the policy's window.
//!   A stop asked for removes the instance (the engine leaves nothing behind) and is not a
//!   crash.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use r1_core::contract::container::{ContainerEngine, ContainerInstance, ContainerSpec, LogFn};
use tracing::Instrument;

use crate::actor::{ActorInfo, ActorStatus, CrashWindow, StopActor};
use crate::error::DeliveryError;
use crate::router::{Deliver, Router};

/// What a container actor is started from (and restarted from).
pub(crate) struct ContainerTemplate {
    pub name: Arc<str>,
    pub spec: ContainerSpec,
    pub engine: Arc<dyn ContainerEngine>,
    pub log: LogFn,
    pub deadline: Duration,
    pub mailbox_capacity: usize,
    pub router: Arc<Router>,
}

impl ContainerTemplate {
    pub(crate) async fn start(&self) -> Result<Arc<dyn ContainerInstance>, String> {
        self.engine
            .start(&self.name, &self.spec, self.log.clone())
            .await
            .map(Arc::from)
            .map_err(|e| e.to_string())
    }
}

/// The actix actor owning one container instance.
pub struct ContainerActor {
    template: Arc<ContainerTemplate>,
    instance: Option<Arc<dyn ContainerInstance>>,
    /// Which instance is current: an exit of an older one is ignored.
    generation: u64,
    window: CrashWindow,
    info: Arc<Mutex<ActorInfo>>,
    stopping: bool,
}

/// The current instance ended.
#[derive(actix::Message)]
#[rtype(result = "()")]
struct Exited {
    generation: u64,
    how: String,
}

impl ContainerActor {
    pub(crate) fn new(
        template: Arc<ContainerTemplate>,
        instance: Arc<dyn ContainerInstance>,
        window: CrashWindow,
        info: Arc<Mutex<ActorInfo>>,
    ) -> Self {
        Self {
            template,
            instance: Some(instance),
            generation: 0,
            window,
            info,
            stopping: false,
        }
    }

    fn update_info(&self, f: impl FnOnce(&mut ActorInfo)) {
        f(&mut self.info.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Sends [`Exited`] to this actor when the current instance ends.
    fn watch(&self, ctx: &mut Context<Self>) {
        let Some(instance) = self.instance.clone() else {
            return;
        };
        let generation = self.generation;
        let me = ctx.address();
        ctx.spawn(
            async move {
                let how = instance.exited().await;
                me.do_send(Exited { generation, how });
            }
            .into_actor(self),
        );
    }

    fn crashed(&mut self, how: String, ctx: &mut Context<Self>) {
        let name = self.template.name.clone();
        if let Some(instance) = self.instance.take() {
            // Its runtime state, cgroup and bundle go; a new instance gets fresh ones.
            actix::spawn(async move { instance.stop().await });
        }
        let (crashes, backoff) = self.window.record();
        let Some(backoff) = backoff else {
            let reason = format!(
                "restart intensity exceeded: {crashes} crashes within {:?}; last: {how}",
                self.window.policy().window
            );
            tracing::error!(actor = %name, %reason, "container stopped by its supervisor");
            self.update_info(|i| {
                i.status = ActorStatus::Failed { reason };
                i.last_crash = Some(how);
            });
            ctx.stop();
            return;
        };
        tracing::warn!(actor = %name, %how, ?backoff, crashes, "container ended; restarting");
        self.update_info(|i| i.restarting(how));
        let template = self.template.clone();
        ctx.wait(
            async move {
                tokio::time::sleep(backoff).await;
                template.start().await
            }
            .instrument(tracing::info_span!("restart", actor = %name))
            .into_actor(self)
            .map(|result, act, ctx| match result {
                Ok(instance) if !act.stopping => {
                    act.instance = Some(instance);
                    act.generation += 1;
                    act.update_info(|i| i.status = ActorStatus::Running);
                    act.watch(ctx);
                    tracing::info!(actor = %act.template.name, "container restarted");
                }
                Ok(instance) => {
                    actix::spawn(async move { instance.stop().await });
                }
                Err(why) => act.crashed(format!("could not restart: {why}"), ctx),
            }),
        );
    }
}

impl Actor for ContainerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.template.mailbox_capacity);
        self.watch(ctx);
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        if let Some(instance) = self.instance.take() {
            actix::spawn(async move { instance.stop().await });
        }
        self.template.router.unregister(&self.template.name);
        self.update_info(|i| {
            if !matches!(i.status, ActorStatus::Failed { .. }) {
                i.status = ActorStatus::Stopped;
            }
        });
        tracing::info!(actor = %self.template.name, "container actor stopped");
    }
}

impl Handler<Exited> for ContainerActor {
    type Result = ();

    fn handle(&mut self, msg: Exited, ctx: &mut Self::Context) {
        if msg.generation != self.generation || self.stopping || self.instance.is_none() {
            return;
        }
        self.crashed(msg.how, ctx);
    }
}

impl Handler<Deliver> for ContainerActor {
    type Result = AtomicResponse<Self, Result<Option<Vec<u8>>, DeliveryError>>;

    fn handle(&mut self, mut msg: Deliver, _ctx: &mut Self::Context) -> Self::Result {
        let name = self.template.name.to_string();
        let reply_to = msg.reply.take();
        let answer = move |result: Result<Option<Vec<u8>>, DeliveryError>| match reply_to {
            Some(reply) => {
                reply(result.map_err(|e| e.to_remote()));
                Ok(None)
            }
            None => result,
        };
        let Some(instance) = self.instance.clone() else {
            return AtomicResponse::new(Box::pin(actix::fut::ready(answer(Err(
                DeliveryError::Stopped(name),
            )))));
        };
        let deadline = self.template.deadline;
        let span = tracing::debug_span!("handle", actor = %name, sender = %msg.sender);
        AtomicResponse::new(Box::pin(
            async move { instance.request(msg.payload, deadline).await }
                .instrument(span)
                .into_actor(self)
                .map(move |result, _act, _ctx| {
                    answer(match result {
                        Ok(reply) => Ok(Some(reply)),
                        Err(e) => Err(DeliveryError::Handler {
                            actor: name,
                            message: e.to_string(),
                        }),
                    })
                }),
        ))
    }
}

impl Handler<StopActor> for ContainerActor {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _msg: StopActor, _ctx: &mut Self::Context) -> Self::Result {
        self.stopping = true;
        let instance = self.instance.take();
        Box::pin(
            async move {
                if let Some(instance) = instance {
                    instance.stop().await;
                }
            }
            .into_actor(self)
            .map(|(), _act, ctx| ctx.stop()),
        )
    }
}
