//! Heartbeats: every `[deeploy] heartbeat_ms` the node writes its advert — what it offers
//! Deeploy's placement (arch, cores, memory for workloads, GPU, models, tags, whether it runs a
//! scheduler) — to CSTORE under `r1-deeploy/advert/PEER_ID`, stamped with the time. CSTORE
//! signs every op with the node key and replicates it, so each node reads every other's
//! adverts, authenticated, and a node whose stamp stops moving has stopped beating: after
//! three periods ([`crate::config::DeeploySettings::fresh_ms`]) it is no longer fresh and the
//! scheduler places its replicas elsewhere (failover).
//!
//! With OracleSync on, the same beat is also signed with the node key and gossiped to the
//! oracles (`crate::oraclesync`), who time it by their own clocks.
//!
//! The memory advertised is measured once at start, so the advert — and the placement that
//! follows from it — does not move as replicas start. Writes go through CSTORE's durable path
//! on the blocking pool, never on an actor's thread; a failed write is logged and the next
//! beat tries again.

use std::sync::Arc;
use std::time::Duration;

use r1_deeploy::placement::NodeAdvert;
use r1_deeploy::state::{NAMESPACE, keys};

use super::store::{Heartbeat, now_ms};
use crate::node::Node;

/// Memory available to new work, from `/proc/meminfo` (`MemAvailable`), rounded down to
/// 256 MiB; 0 where unknown.
fn free_memory_mb() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024 / 256 * 256)
}

/// This node's advert now, with `memory_mb` for workloads.
pub fn advert(node: &Node, memory_mb: u64) -> NodeAdvert {
    let models = node.models().models().into_iter().map(|m| m.name).collect();
    let settings = &node.config().deeploy;
    NodeAdvert {
        node: node.mesh().peer_id().to_string(),
        arch: std::env::consts::ARCH.to_owned(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        free_memory_mb: memory_mb,
        gpu: node.models().device_name().starts_with("cuda"),
        models,
        tags: settings.tags.clone(),
        load: node.runtime().list().len() as u32,
        // Only a scheduler that runs counts: one configured but refused (say, unsigned on a
        // strict node) must not be elected leader and leave the mesh with nobody placing.
        scheduler: node
            .runtime()
            .info(crate::node::SCHEDULER)
            .is_some_and(|i| i.status == r1_runtime::ActorStatus::Running),
        oci: node.containers().is_ok(),
    }
}

/// Writes a beat every `period` for as long as the node runs.
pub fn start(node: Arc<Node>, period: Duration) {
    let memory_mb = node
        .config()
        .deeploy
        .memory_mb
        .unwrap_or_else(free_memory_mb);
    tokio::spawn(async move {
        let key = format!("{}{}", keys::ADVERT, node.mesh().peer_id());
        let mut tick = tokio::time::interval(period.max(Duration::from_millis(50)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let beat = Heartbeat {
                advert: advert(&node, memory_mb),
                at_ms: now_ms(),
            };
            let Ok(bytes) = serde_json::to_vec(&beat) else {
                continue;
            };
            if let Some(sync) = node.oraclesync()
                && let Ok(advert) = serde_json::to_vec(&beat.advert)
            {
                sync.beat(node.mesh(), advert).await;
            }
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
