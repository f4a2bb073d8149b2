//! OracleSync on a node (docs/oraclesync.md). With `[oraclesync] oracles` set, every node:
//!
//! - signs each heartbeat with its node key and gossips it to the oracles on [`beats::TOPIC`]
//!   ([`service::OracleSync::beat`], called by Deeploy's heartbeat: one beat serves both);
//! - if its key is listed, keeps what it observed ([`beats::BeatLog`]) and runs the oracle
//!   system actor (`[oraclesync] oracle`, grant `oraclesync`, ticked every `tick_ms`), which
//!   drives `r1_oraclesync::round` through [`control::Control`];
//! - serves the certificates every oracle stored in CSTORE ([`records`]) on the API.
//!
//! Invariants: the oracle actor is the node's own (the grant is refused on the API and in
//! app specs); the node signs at most one root per epoch; only verified records are believed.

pub mod beats;
pub mod control;
pub mod records;
pub mod service;

use std::sync::Arc;
use std::time::Duration;

use r1_runtime::{ActorSpec, Grants};

use crate::node::Node;
pub use service::OracleSync;

/// The oracle system actor's name on every oracle node.
pub const ORACLE: &str = "oraclesync-oracle";

/// Starts the oracle system actor when this node is an oracle and `[oraclesync] oracle`
/// names its component (one that cannot start is logged; the node still beats).
pub async fn start(node: &Arc<Node>) {
    let Some(sync) = node.oraclesync() else {
        return;
    };
    if !sync.is_oracle() {
        return;
    }
    let settings = &node.config().oraclesync;
    let Some(path) = &settings.oracle else {
        tracing::warn!("this node is an oracle but [oraclesync] oracle names no component");
        return;
    };
    let wasm = match std::fs::read(path) {
        Ok(wasm) => wasm,
        Err(e) => {
            tracing::error!("oracle not started: cannot read {}: {e}", path.display());
            return;
        }
    };
    let spawned = node
        .runtime()
        .spawn(ActorSpec {
            name: ORACLE.into(),
            wasm,
            grants: Grants {
                oraclesync: true,
                ..Grants::default()
            },
            config: Vec::new(),
            limits: None,
        })
        .await;
    if let Err(e) = spawned {
        tracing::error!("oracle not started: {e}");
        return;
    }
    let period = Duration::from_millis(settings.tick_ms.max(20));
    let node = Arc::downgrade(node);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(node) = node.upgrade() else { break };
            match node
                .runtime()
                .request(ORACLE, b"tick".to_vec(), Duration::from_secs(30))
                .await
            {
                Ok(_) => {}
                Err(r1_runtime::DeliveryError::UnknownActor(_)) => break,
                Err(e) => tracing::warn!("oracle pass failed: {e}"),
            }
        }
    });
    tracing::info!("oraclesync oracle started");
}
