//! Commands: components built for the standard `wasi:cli/command` world (they export
//! `wasi:cli/run`, as `cargo build --target wasm32-wasip2` makes of any `fn main`, and as
//! `wasmtime run` expects) run to completion as **jobs**.
//!
//! A job goes through the same doors as an actor — trust policy and signature, grants checked
//! against its imports before anything is instantiated, memory limit, and the deadline (here
//! for the whole run, not per message) — and gets the same standard faces (`wasi:keyvalue` with
//! a `cstore:` grant, `wasi:config`, `wasi:logging`, preopens). Nothing is ambient: its
//! arguments and environment are what the caller gives ([`Io`]); its standard streams are the
//! terminal's under `r1 run` and the node log on a node. Its exit status is the result:
//! `run` returning `ok` is 0, `err` is 1, `exit(n)` is n, a crash (trap, deadline, memory) is
//! reported with its reason.

use wasmtime::component::Component;
use wasmtime_wasi::p2::bindings::CommandPre;

use crate::actor::classify;
use crate::recipe::Recipe;
use crate::state::ActorState;

/// Prefix of the export that marks a component as a command (`wasi:cli/run`, any 0.2.x).
pub const COMMAND_EXPORT_PREFIX: &str = "wasi:cli/run@0.2.";

/// The exit status a crashed job reports (as `wasmtime run` does for an abort: 128 + SIGABRT).
pub const CRASH_EXIT_CODE: i32 = 134;

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobExit {
    /// It returned or called `exit`: 0 is success.
    Code(i32),
    /// It trapped, overran its deadline or hit its memory limit.
    Crashed(String),
}

impl JobExit {
    /// The process-style exit status: the code, or [`CRASH_EXIT_CODE`] after a crash.
    pub fn code(&self) -> i32 {
        match self {
            JobExit::Code(code) => *code,
            JobExit::Crashed(_) => CRASH_EXIT_CODE,
        }
    }
}

/// Everything a job needs, checked and compiled.
pub(crate) struct Job {
    pub recipe: Recipe,
    pub pre: CommandPre<ActorState>,
}

/// Pre-links `component` as a command for `linker`, or says why it is not one.
pub(crate) fn command_pre(
    linker: &wasmtime::component::Linker<ActorState>,
    component: &Component,
) -> wasmtime::Result<CommandPre<ActorState>> {
    CommandPre::new(linker.instantiate_pre(component)?)
}

impl Job {
    /// Runs the job to its end.
    pub(crate) async fn run(self) -> JobExit {
        let mut store = match self.recipe.store() {
            Ok(store) => store,
            Err(why) => return JobExit::Crashed(format!("setup: {why}")),
        };
        let result = async {
            let command = self.pre.instantiate_async(&mut store).await?;
            command.wasi_cli_run().call_run(&mut store).await
        }
        .await;
        match result {
            Ok(Ok(())) => JobExit::Code(0),
            Ok(Err(())) => JobExit::Code(1),
            Err(err) => match err.downcast_ref::<wasmtime_wasi::I32Exit>() {
                Some(exit) => JobExit::Code(exit.0),
                None => JobExit::Crashed(classify(err).to_string()),
            },
        }
    }
}
