//! One wasm actor driven by one actix actor, and its supervision.
//!
//! Invariants:
//! - The actor handles one message at a time, in mailbox order (`AtomicResponse`); a guest
//!   call never overlaps another on the same instance.
//! - Every guest call runs under a wall-clock deadline enforced on epoch ticks; between ticks
//!   a long call yields, so other actors on the same worker thread keep running.
//! - A trap, a deadline overrun or a memory-limit hit discards the instance (its state may be
//!   torn) and restarts it from the pre-linked component after an exponential backoff; more
//!   than `max_restarts` crashes inside `window` stop the actor and mark it failed. A handler
//!   that *returns* an error is not a crash.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use serde::Serialize;
use tracing::Instrument;
use wasmtime::Store;
use wasmtime::component::ResourceTableError;

use crate::config::RestartPolicy;
use crate::error::DeliveryError;
use crate::host::actor::bindings::r1::actor::types::Message as WitMessage;
use crate::host::actor::bindings::{Actor as ActorBindings, ActorPre};
use crate::router::Deliver;
use crate::state::{ActorState, DeadlineExceeded, MemoryLimitExceeded, arm_deadline};

/// Where an actor is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum ActorStatus {
    /// Has a live instance and takes messages.
    Running,
    /// Crashed; a new instance is being started after the backoff.
    Restarting,
    /// Stopped by the restart-intensity limit or a failing restart.
    Failed {
        /// Why the supervisor gave up.
        reason: String,
    },
    /// Stopped on request; no instance is left.
    Stopped,
    /// A job (a command component) that ran to its end with this exit status (0: success).
    Exited {
        /// The exit status.
        code: i32,
    },
}

impl ActorStatus {
    /// The state's name, as the API serializes it (`running`, `restarting`, `failed`,
    /// `stopped`, `exited`).
    pub fn name(&self) -> &'static str {
        match self {
            ActorStatus::Running => "running",
            ActorStatus::Restarting => "restarting",
            ActorStatus::Failed { .. } => "failed",
            ActorStatus::Stopped => "stopped",
            ActorStatus::Exited { .. } => "exited",
        }
    }
}

/// What a deployed component is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComponentKind {
    /// Exports `r1:actor/handler`: takes messages until stopped.
    Actor,
    /// Exports `wasi:cli/run`: runs once to completion, as a job.
    Command,
    /// Exports `wasi:http/incoming-handler`: answers HTTP requests on its route, an instance
    /// per request.
    Http,
    /// An OCI container (the fallback): takes messages as lines until stopped.
    Container,
}

/// What the node reports about an actor.
#[derive(Debug, Clone, Serialize)]
pub struct ActorInfo {
    /// The actor's name on this node.
    pub name: String,
    /// An actor or a command (job).
    pub kind: ComponentKind,
    /// BLAKE3 of the component bytes; for a container, its image's manifest digest.
    pub component: String,
    /// The actor's grants, as grant strings.
    pub grants: Vec<String>,
    /// Fingerprint of the publisher whose signature was verified; `None` = unsigned (dev).
    pub publisher: Option<String>,
    /// Where the actor is in its life.
    pub status: ActorStatus,
    /// How many times the supervisor has restarted it since it was spawned.
    pub restarts: u32,
    /// The most recent crash, formatted; `None` if it never crashed.
    pub last_crash: Option<String>,
    /// Topics the actor is subscribed to.
    pub subscriptions: Vec<String>,
}

impl ActorInfo {
    /// Records a crash the supervisor is restarting from.
    pub(crate) fn restarting(&mut self, crash: String) {
        self.status = ActorStatus::Restarting;
        self.restarts += 1;
        self.last_crash = Some(crash);
    }
}

/// Why an instance was lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Crash {
    /// A guest call overran its wall-clock deadline.
    Deadline(String),
    /// The instance hit its memory limit.
    Memory(String),
    /// The guest trapped (or a host call failed fatally).
    Trap(String),
    /// `init` returned an error (not restarted: it would fail the same way).
    InitRefused(String),
    /// The host state or capabilities for a new instance could not be set up (not restarted).
    Setup(String),
}

impl std::fmt::Display for Crash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Crash::Deadline(m) => write!(f, "deadline: {m}"),
            Crash::Memory(m) => write!(f, "memory: {m}"),
            Crash::Trap(m) => write!(f, "trap: {m}"),
            Crash::InitRefused(m) => write!(f, "init refused: {m}"),
            Crash::Setup(m) => write!(f, "setup: {m}"),
        }
    }
}

/// What kind of crash `err` is.
pub(crate) fn classify(err: wasmtime::Error) -> Crash {
    if let Some(d) = err.downcast_ref::<DeadlineExceeded>() {
        return Crash::Deadline(d.to_string());
    }
    if let Some(m) = err.downcast_ref::<MemoryLimitExceeded>() {
        return Crash::Memory(m.to_string());
    }
    if let Some(e) = err.downcast_ref::<ResourceTableError>() {
        return Crash::Trap(format!("resource table: {e}"));
    }
    // `{:#}` keeps the cause chain (e.g. "wasm trap: unreachable") on one line.
    let text = format!("{err:#}");
    let first = text.lines().next().unwrap_or("trap").to_owned();
    Crash::Trap(first)
}

/// Everything needed to (re)create the actor's instance.
pub(crate) struct ActorTemplate {
    pub recipe: crate::recipe::Recipe,
    pub pre: ActorPre<ActorState>,
    pub policy: RestartPolicy,
}

/// A live instance: its store and its exports.
pub(crate) struct Instance {
    store: Store<ActorState>,
    bindings: ActorBindings,
}

impl ActorTemplate {
    fn arm_deadline(&self, store: &mut Store<ActorState>) {
        arm_deadline(store, self.recipe.limits.deadline);
    }

    /// Instantiates and runs `init`.
    pub(crate) async fn start(&self) -> Result<Instance, Crash> {
        let mut store = self.recipe.store().map_err(Crash::Setup)?;
        let bindings = self
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(classify)?;
        self.arm_deadline(&mut store);
        match bindings
            .r1_actor_handler()
            .call_init(&mut store, &self.recipe.config)
            .await
        {
            Ok(Ok(())) => Ok(Instance { store, bindings }),
            Ok(Err(reason)) => Err(Crash::InitRefused(reason)),
            Err(trap) => Err(classify(trap)),
        }
    }

    /// Runs one message through `handle`. Outer error: the instance is lost.
    async fn handle(
        &self,
        instance: &mut Instance,
        msg: Deliver,
    ) -> Result<Result<Option<Vec<u8>>, String>, Crash> {
        self.arm_deadline(&mut instance.store);
        let message = WitMessage {
            sender: msg.sender,
            topic: msg.topic,
            payload: msg.payload,
        };
        instance
            .bindings
            .r1_actor_handler()
            .call_handle(&mut instance.store, &message)
            .await
            .map_err(classify)
    }
}

/// Crash times inside a restart policy's window: the supervision rule both wasm and container
/// actors follow.
pub(crate) struct CrashWindow {
    crashes: VecDeque<Instant>,
    policy: RestartPolicy,
}

impl CrashWindow {
    pub(crate) fn new(policy: RestartPolicy) -> Self {
        Self {
            crashes: VecDeque::new(),
            policy,
        }
    }

    pub(crate) fn policy(&self) -> &RestartPolicy {
        &self.policy
    }

    /// Records a crash now: the crashes inside the window, and the backoff before the restart
    /// (`None`: more than `max_restarts` in the window, give up).
    pub(crate) fn record(&mut self) -> (u32, Option<Duration>) {
        let now = Instant::now();
        while self
            .crashes
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.policy.window)
        {
            self.crashes.pop_front();
        }
        self.crashes.push_back(now);
        let crashes = self.crashes.len() as u32;
        let backoff = (crashes <= self.policy.max_restarts).then(|| backoff(&self.policy, crashes));
        (crashes, backoff)
    }
}

/// The actix actor that owns one wasm instance and supervises it.
pub struct WasmActor {
    template: Arc<ActorTemplate>,
    instance: Option<Instance>,
    window: CrashWindow,
    info: Arc<Mutex<ActorInfo>>,
}

impl WasmActor {
    pub(crate) fn new(
        template: Arc<ActorTemplate>,
        instance: Instance,
        info: Arc<Mutex<ActorInfo>>,
    ) -> Self {
        Self {
            window: CrashWindow::new(template.policy),
            template,
            instance: Some(instance),
            info,
        }
    }

    fn update_info(&self, f: impl FnOnce(&mut ActorInfo)) {
        f(&mut self.info.lock().unwrap_or_else(|p| p.into_inner()));
    }

    fn crashed(&mut self, crash: Crash, ctx: &mut Context<Self>) {
        let name = self.template.recipe.name.clone();
        let policy = self.template.policy;
        let (crashes, backoff) = self.window.record();
        let fatal = matches!(crash, Crash::InitRefused(_) | Crash::Setup(_));
        let Some(backoff) = backoff.filter(|_| !fatal) else {
            let reason = if crashes > policy.max_restarts {
                format!(
                    "restart intensity exceeded: {crashes} crashes within {:?}; last {crash}",
                    policy.window
                )
            } else {
                format!("could not restart: {crash}")
            };
            tracing::error!(actor = %name, %reason, "actor stopped by its supervisor");
            self.update_info(|i| {
                i.status = ActorStatus::Failed { reason };
                i.last_crash = Some(crash.to_string());
            });
            ctx.stop();
            return;
        };
        tracing::warn!(actor = %name, %crash, ?backoff, crashes, "actor crashed; restarting");
        self.update_info(|i| i.restarting(crash.to_string()));
        let template = self.template.clone();
        ctx.wait(
            async move {
                tokio::time::sleep(backoff).await;
                template.start().await
            }
            .instrument(tracing::info_span!("restart", actor = %name))
            .into_actor(self)
            .map(|result, act, ctx| match result {
                Ok(instance) => {
                    act.instance = Some(instance);
                    act.update_info(|i| i.status = ActorStatus::Running);
                    tracing::info!(actor = %act.template.recipe.name, "actor restarted");
                }
                Err(crash) => act.crashed(crash, ctx),
            }),
        );
    }
}

/// Doubles from `initial_backoff` with each crash in the window, capped at `max_backoff`.
fn backoff(policy: &RestartPolicy, crashes: u32) -> Duration {
    let factor = 1u32 << crashes.saturating_sub(1).min(16);
    policy
        .initial_backoff
        .saturating_mul(factor)
        .min(policy.max_backoff)
}

impl Actor for WasmActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.template.recipe.limits.mailbox_capacity);
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.instance = None;
        self.template
            .recipe
            .router
            .unregister(&self.template.recipe.name);
        self.update_info(|i| {
            if !matches!(i.status, ActorStatus::Failed { .. }) {
                i.status = ActorStatus::Stopped;
            }
        });
        tracing::info!(actor = %self.template.recipe.name, "actor stopped");
    }
}

impl Handler<Deliver> for WasmActor {
    type Result = AtomicResponse<Self, Result<Option<Vec<u8>>, DeliveryError>>;

    fn handle(&mut self, mut msg: Deliver, _ctx: &mut Self::Context) -> Self::Result {
        let name = self.template.recipe.name.to_string();
        // A request from another node is answered through its reply function as well.
        let reply_to = msg.reply.take();
        // Its mailbox sender is gone (it was queued with `try_send`), so the answer moves there.
        let answer = move |result: Result<Option<Vec<u8>>, DeliveryError>| match reply_to {
            Some(reply) => {
                reply(result.map_err(|e| e.to_remote()));
                Ok(None)
            }
            None => result,
        };
        let Some(mut instance) = self.instance.take() else {
            // Only reachable after a failed restart, while the actor is stopping.
            return AtomicResponse::new(Box::pin(actix::fut::ready(answer(Err(
                DeliveryError::Stopped(name),
            )))));
        };
        let template = self.template.clone();
        let span = tracing::debug_span!("handle", actor = %name, sender = %msg.sender);
        AtomicResponse::new(Box::pin(
            async move {
                let result = template.handle(&mut instance, msg).await;
                (instance, result)
            }
            .instrument(span)
            .into_actor(self)
            .map(move |(instance, result), act, ctx| {
                answer(match result {
                    Ok(Ok(reply)) => {
                        act.instance = Some(instance);
                        Ok(reply)
                    }
                    Ok(Err(message)) => {
                        act.instance = Some(instance);
                        Err(DeliveryError::Handler {
                            actor: name,
                            message,
                        })
                    }
                    Err(crash) => {
                        drop(instance);
                        let reason = crash.to_string();
                        act.crashed(crash, ctx);
                        Err(DeliveryError::Crashed {
                            actor: name,
                            reason,
                        })
                    }
                })
            }),
        ))
    }
}

/// Asks the actor to stop after the message it is handling.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct StopActor;

impl Handler<StopActor> for WasmActor {
    type Result = ();

    fn handle(&mut self, _msg: StopActor, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let policy = RestartPolicy {
            max_restarts: 5,
            window: Duration::from_secs(10),
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
        };
        assert_eq!(backoff(&policy, 1), Duration::from_millis(10));
        assert_eq!(backoff(&policy, 2), Duration::from_millis(20));
        assert_eq!(backoff(&policy, 3), Duration::from_millis(40));
        assert_eq!(backoff(&policy, 4), Duration::from_millis(50));
        assert_eq!(backoff(&policy, 40), Duration::from_millis(50));
    }
}
