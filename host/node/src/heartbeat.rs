//! Heartbeats: every `[deeploy] heartbeat_ms` the node writes its advert — what it offers
//! Deeploy's placement (arch, cores, free memory, GPU, models, tags, load) — to CSTORE under
//! `r1-deeploy/advert/PEER_ID`, stamped with the time. CSTORE signs every op with the node key
//! and replicates it, so each node reads every other's adverts, authenticated, and a node whose
//! stamp stops moving has stopped beating (the failover signal; the scheduler acts on it).
//!
//! Started by the server once the node is up (`crate::server::serve`). Writes go through
//! CSTORE's durable path on the blocking pool, never on an actor's thread; a
//! failed write is logged and the next beat tries again.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use r1_deeploy::placement::NodeAdvert;
use serde::{Deserialize, Serialize};

use crate::node::Node;

/// The CSTORE namespace of Deeploy's state.
pub const NAMESPACE: &str = "r1-deeploy";
const PREFIX: &str = "advert/";

/// One beat as stored: the advert and when it was written (unix milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// What the node offers.
    pub advert: NodeAdvert,
    /// When (unix milliseconds, the writer's clock).
    pub at_ms: u64,
}

/// The current time in unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Memory available to new work, from `/proc/meminfo` (`MemAvailable`); 0 where unknown.
fn free_memory_mb() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

/// This node's advert now.
pub fn advert(node: &Node) -> NodeAdvert {
    let models = node.models().models().into_iter().map(|m| m.name).collect();
    NodeAdvert {
        node: node.mesh().peer_id().to_string(),
        arch: std::env::consts::ARCH.to_owned(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        free_memory_mb: free_memory_mb(),
        gpu: node.models().device_name().starts_with("cuda"),
        models,
        tags: node.config().deeploy.tags.clone(),
        load: node.runtime().list().len() as u32,
    }
}

/// Writes a beat every `period` for as long as the node runs.
pub fn start(node: Arc<Node>, period: Duration) {
    tokio::spawn(async move {
        let key = format!("{PREFIX}{}", node.mesh().peer_id());
        let mut tick = tokio::time::interval(period.max(Duration::from_millis(50)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let beat = Heartbeat {
                advert: advert(&node),
                at_ms: now_ms(),
            };
            let Ok(bytes) = serde_json::to_vec(&beat) else {
                continue;
            };
            let (store, key) = (node.store().clone(), key.clone());
            let written =
                tokio::task::spawn_blocking(move || store.set(NAMESPACE, &key, &bytes)).await;
            match written {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!("heartbeat not written: {e:#}"),
                Err(e) => tracing::warn!("heartbeat task failed: {e}"),
            }
        }
    });
}

/// Every advert this node has seen (its own included), with its age in milliseconds, by node
/// id; unreadable entries are skipped.
pub fn read_all(node: &Node) -> Vec<(Heartbeat, u64)> {
    let now = now_ms();
    read_under::<Heartbeat>(node, PREFIX)
        .into_iter()
        .map(|beat| {
            let age = now.saturating_sub(beat.at_ms);
            (beat, age)
        })
        .collect()
}

/// Every JSON value under `prefix` in Deeploy's namespace, in key order; entries that do not
/// read as `T` are skipped.
pub(crate) fn read_under<T: serde::de::DeserializeOwned>(node: &Node, prefix: &str) -> Vec<T> {
    let store = node.store();
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    while let Ok(page) = store.list_keys(NAMESPACE, prefix, cursor.as_deref(), 1000) {
        for key in &page.keys {
            if let Ok(Some(bytes)) = store.get(NAMESPACE, key)
                && let Ok(value) = serde_json::from_slice(&bytes)
            {
                out.push(value);
            }
        }
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    out
}
