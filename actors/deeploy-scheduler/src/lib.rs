//! Deeploy's scheduler, a system actor. The node starts it (grant `deeploy`, which nothing
//! else can be given) and sends it `tick` every `[deeploy] schedule_ms`. On each tick it reads
//! the view through `r1:deeploy`, runs `r1_deeploy::scheduler::decide` — placement with
//! constraints, spread and stickiness, health-gated rolling updates, auto-revert — and writes
//! what changed. Every node may run one; only the lowest fresh node id that runs a scheduler
//! writes (one per side of a partition), and the rule is deterministic, so they converge.
//!
//! Messages: `tick` (decide and write; replies with a one-line summary), `status` (the last
//! summary). Ticks are idempotent, so a stray one from another actor costs a pass, nothing
//! more.

use r1_deeploy::scheduler::{Decision, decide, is_leader};
use r1_deeploy::state::View;
use r1_guest::{Actor, Config, Message, deeploy, log};

struct Scheduler {
    last: String,
}

impl Scheduler {
    fn tick(&mut self) -> Result<String, String> {
        let text = deeploy::view()?;
        let view: View = serde_json::from_str(&text).map_err(|e| format!("bad view: {e}"))?;
        let leader = is_leader(&view);
        let decisions = decide(&view);
        let mut written = 0;
        for decision in &decisions {
            let result = match decision {
                Decision::Place(placement) => serde_json::to_string(placement)
                    .map_err(|e| e.to_string())
                    .and_then(|json| deeploy::place(&placement.app, &json)),
                Decision::Drop(app) => deeploy::drop(app),
                Decision::Revert {
                    app,
                    failed,
                    reason,
                } => {
                    log::warn(&format!("reverting {app}: {failed} failed ({reason})"));
                    deeploy::revert(app, failed, reason)
                }
            };
            match result {
                Ok(()) => written += 1,
                Err(e) => log::warn(&format!("cannot apply {decision:?}: {e}")),
            }
        }
        Ok(format!(
            "{} nodes, {} apps, leader {leader}, {written} of {} decisions written",
            view.nodes.len(),
            view.apps.len(),
            decisions.len()
        ))
    }
}

impl Actor for Scheduler {
    fn init(_config: Config) -> Result<Self, String> {
        Ok(Scheduler {
            last: "no pass yet".into(),
        })
    }

    fn handle(&mut self, message: Message) -> Result<Option<Vec<u8>>, String> {
        match message.text().as_ref() {
            "tick" => {
                self.last = self.tick()?;
                Ok(Some(self.last.clone().into_bytes()))
            }
            "status" => Ok(Some(self.last.clone().into_bytes())),
            other => Err(format!("unknown message {other:?} (tick, status)")),
        }
    }
}

r1_guest::export_actor!(Scheduler);
