//! Deeploy's records in CSTORE as every part of the node reads and writes them: JSON values
//! under [`NAMESPACE`] (the keys and who writes each: [`r1_deeploy::state`]), heartbeats and
//! what counts as fresh. Pure functions over a [`Cstore`] handle: nothing here knows the node,
//! so the scheduler's control and the log service (which the node builds before it exists)
//! use it as freely as the node's own loops.
//!
//! Reads skip entries that do not parse (a newer node's format) rather than failing a whole
//! pass; writes are CSTORE's durable, signed, replicated path (call them off actor threads).

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use r1_cstore::Cstore;
use r1_deeploy::placement::NodeAdvert;
use r1_deeploy::state::{NAMESPACE, NodeStatus, keys};
use serde::{Deserialize, Serialize};

/// The current time in unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One beat as stored: the advert and when it was written (unix milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// What the node offers.
    pub advert: NodeAdvert,
    /// When (unix milliseconds, the writer's clock).
    pub at_ms: u64,
}

/// One JSON record of Deeploy's namespace, if present and readable.
pub fn read_one<T: serde::de::DeserializeOwned>(store: &Cstore, key: &str) -> Option<T> {
    let bytes = store.get(NAMESPACE, key).ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// Writes one JSON record into Deeploy's namespace (durable, replicated).
pub fn write<T: Serialize>(store: &Cstore, key: &str, value: &T) -> Result<(), String> {
    let bytes = serde_json::to_vec(value).map_err(|e| e.to_string())?;
    store
        .set(NAMESPACE, key, &bytes)
        .map_err(|e| format!("{e:#}"))?;
    Ok(())
}

/// Every JSON value under `prefix` in Deeploy's namespace, in key order; entries that do not
/// read as `T` are skipped.
pub fn read_under<T: serde::de::DeserializeOwned>(store: &Cstore, prefix: &str) -> Vec<T> {
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

/// Every advert in `store` (this node's included), with its age in milliseconds, by node id;
/// unreadable entries are skipped.
pub fn read_all(store: &Cstore) -> Vec<(Heartbeat, u64)> {
    let now = now_ms();
    read_under::<Heartbeat>(store, keys::ADVERT)
        .into_iter()
        .map(|beat| {
            let age = now.saturating_sub(beat.at_ms);
            (beat, age)
        })
        .collect()
}

/// The adverts beaten within `fresh_ms`.
pub fn fresh_adverts(store: &Cstore, fresh_ms: u64) -> Vec<NodeAdvert> {
    read_all(store)
        .into_iter()
        .filter(|(_, age)| *age <= fresh_ms)
        .map(|(beat, _)| beat.advert)
        .collect()
}

/// The status reports for `app` from nodes beaten within `fresh_ms`.
pub fn fresh_status(store: &Cstore, app: &str, fresh_ms: u64) -> Vec<NodeStatus> {
    let fresh: BTreeSet<String> = fresh_adverts(store, fresh_ms)
        .into_iter()
        .map(|n| n.node)
        .collect();
    read_under::<NodeStatus>(store, &format!("{}{app}/", keys::STATUS))
        .into_iter()
        .filter(|s| fresh.contains(&s.node))
        .collect()
}
