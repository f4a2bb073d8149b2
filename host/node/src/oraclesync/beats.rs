//! What an oracle saw of every node's heartbeats: the signed beats that reach it on the gossip
//! topic [`TOPIC`] (and its own), each stamped with **this node's clock on arrival**, kept as
//! online intervals per node (`r1_oraclesync::availability::Intervals`).
//!
//! Invariants: a beat counts only if its signature verifies, its stamp is within `max_skew_ms`
//! of this node's clock, and it is newer than the last beat taken from that node (a replayed
//! or reordered beat adds nothing); intervals older than three epochs are forgotten; the log
//! is in memory — an oracle that restarts has seen nothing before its restart, and takes part
//! again from the next whole epoch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use r1_mesh::NodePeerId as PeerId;
use r1_mesh::Protocol;
use r1_oraclesync::availability::{Epoch, Intervals, Rule};
use r1_oraclesync::beat::SignedBeat;

use crate::deeploy::store::now_ms;

/// The gossip topic of signed heartbeats.
pub const TOPIC: &str = "r1/oraclesync/beats/1";

#[derive(Default)]
struct Seen {
    kept: Intervals,
    last_stamp: u64,
}

/// The beats this node observed, per node key (hex).
pub struct BeatLog {
    rule: Rule,
    max_skew_ms: u64,
    keep_ms: u64,
    nodes: Mutex<HashMap<String, Seen>>,
}

impl BeatLog {
    /// A log under `rule`, refusing stamps further than `max_skew_ms` from this clock and
    /// keeping `keep_ms` of history.
    pub fn new(rule: Rule, max_skew_ms: u64, keep_ms: u64) -> Self {
        Self {
            rule,
            max_skew_ms,
            keep_ms,
            nodes: Mutex::default(),
        }
    }

    /// Takes `beat` (already verified) arriving at `now_ms`; returns whether it counted.
    pub fn take(&self, beat: &SignedBeat, now_ms: u64) -> bool {
        if beat.at_ms.abs_diff(now_ms) > self.max_skew_ms {
            return false;
        }
        let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        let seen = nodes.entry(hex::encode(beat.node)).or_default();
        if beat.at_ms <= seen.last_stamp {
            return false;
        }
        seen.last_stamp = beat.at_ms;
        seen.kept.push(now_ms, &self.rule);
        if seen.kept.spans.len() > 64 {
            seen.kept
                .forget_before(now_ms.saturating_sub(self.keep_ms), &self.rule);
        }
        true
    }

    /// Every node's intervals that count in `epoch`, by node key (hex).
    pub fn observed(&self, epoch: &Epoch) -> std::collections::BTreeMap<String, Intervals> {
        let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        let horizon = now_ms().saturating_sub(self.keep_ms);
        nodes.retain(|_, seen| {
            seen.kept.forget_before(horizon, &self.rule);
            seen.kept
                .spans
                .last()
                .is_some_and(|&(_, last)| last + self.rule.period_ms >= horizon)
        });
        nodes
            .iter()
            .map(|(node, seen)| (node.clone(), seen.kept.within(epoch, &self.rule)))
            .filter(|(_, kept)| !kept.spans.is_empty())
            .collect()
    }
}

/// Takes the beats gossiped to this node (an oracle).
pub struct BeatListener {
    log: Arc<BeatLog>,
}

impl BeatListener {
    /// A listener filling `log`.
    pub fn new(log: Arc<BeatLog>) -> Arc<Self> {
        Arc::new(Self { log })
    }
}

impl Protocol for BeatListener {
    fn gossip(self: Arc<Self>, _topic: String, from: PeerId, data: Vec<u8>) {
        match SignedBeat::verify(&data) {
            Ok(beat) => {
                if !self.log.take(&beat, now_ms()) {
                    tracing::debug!(peer = %from, "a stale, skewed or replayed beat ignored");
                }
            }
            Err(e) => tracing::debug!(peer = %from, "a bad beat dropped: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    #[test]
    fn only_fresh_newer_beats_count_and_arrival_time_is_what_counts() {
        let rule = Rule {
            period_ms: 200,
            grace_ms: 100,
        };
        let log = BeatLog::new(rule, 1_000, 60_000);
        let key = SigningKey::from_bytes(&[5; 32]);
        let now = now_ms();
        let beat = |at: u64| SignedBeat::sign(&key, at, b"{}".to_vec());
        assert!(log.take(&beat(now), now));
        assert!(!log.take(&beat(now), now + 10), "a replay");
        assert!(!log.take(&beat(now - 5), now + 20), "an older stamp");
        assert!(!log.take(&beat(now + 5_000), now + 30), "skewed ahead");
        assert!(log.take(&beat(now + 150), now + 200));
        let epoch = Epoch {
            number: 0,
            start_ms: now - 1_000,
            end_ms: now + 1_000,
        };
        let seen = log.observed(&epoch);
        let kept = &seen[&hex::encode(key.verifying_key().to_bytes())];
        assert_eq!(kept.spans, vec![(now, now + 200)]);
    }
}
