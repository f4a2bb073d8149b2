//! Deeploy's shared state, as stored in CSTORE namespace [`NAMESPACE`] and replicated to every
//! node. Each record has one writer role, so last-writer-wins never merges two roles' edits:
//!
//! | key | record | written by |
//! |---|---|---|
//! | `advert/NODE` | [`crate::placement::NodeAdvert`] in a heartbeat | that node |
//! | `app/OWNER/NAME` | [`DesiredApp`] | the node that accepted a signed request; the scheduler (auto-revert) |
//! | `placement/OWNER/NAME` | [`AppPlacement`] | the scheduler |
//! | `status/OWNER/NAME/NODE` | [`NodeStatus`] | that node's reconciler |
//! | `nonce/OWNERNONCE` | expiry (unix s) | the node that accepted the request |
//!
//! A placement carries the spec text of every version its slots name, so a reconciler needs
//! nothing but the placement to start or keep a replica, whatever the desired state says now.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::placement::NodeAdvert;

/// The CSTORE namespace of Deeploy's state.
pub const NAMESPACE: &str = "r1-deeploy";

/// Key prefixes in [`NAMESPACE`].
pub mod keys {
    /// Node adverts: `advert/NODE`.
    pub const ADVERT: &str = "advert/";
    /// Desired apps: `app/OWNER/NAME`.
    pub const APP: &str = "app/";
    /// Placements: `placement/OWNER/NAME`.
    pub const PLACEMENT: &str = "placement/";
    /// Replica status: `status/OWNER/NAME/NODE`.
    pub const STATUS: &str = "status/";
    /// Used request nonces: `nonce/OWNERNONCE`.
    pub const NONCE: &str = "nonce/";

    /// The status key of `app` on `node`.
    pub fn status(app: &str, node: &str) -> String {
        format!("{STATUS}{app}/{node}")
    }
}

/// One stored version of an app: its version string and the signed spec text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    /// The spec's version.
    pub version: String,
    /// The spec's TOML text, as signed by the owner.
    pub spec: String,
}

/// An app's desired state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredApp {
    /// `OWNER/NAME`.
    pub app_id: String,
    /// The owner's public key, hex.
    pub owner: String,
    /// The spec's version.
    pub version: String,
    /// The spec's TOML text, as signed.
    pub spec: String,
    /// When it was accepted (unix milliseconds).
    pub at_ms: u64,
    /// The version this one replaced: what a rollback or an auto-revert returns to.
    #[serde(default)]
    pub previous: Option<Revision>,
    /// Set when the scheduler reverted a failing version: that version and why.
    #[serde(default)]
    pub reverted: Option<String>,
}

impl DesiredApp {
    /// The current version as a [`Revision`].
    pub fn revision(&self) -> Revision {
        Revision {
            version: self.version.clone(),
            spec: self.spec.clone(),
        }
    }

    /// The app's short name (after `OWNER/`).
    pub fn name(&self) -> &str {
        self.app_id
            .split_once('/')
            .map_or(&self.app_id, |(_, name)| name)
    }
}

/// One replica's place: a component of a version on a node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Slot {
    /// The component.
    pub component: String,
    /// The node that runs it.
    pub node: String,
    /// The version it runs.
    pub version: String,
}

/// Something the scheduler did or saw, for `r1 app show`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When (unix milliseconds).
    pub at_ms: u64,
    /// What, in words.
    pub text: String,
}

/// Events an app keeps (the newest).
pub const MAX_EVENTS: usize = 30;

/// Where an app's replicas run: written by the scheduler, read by every reconciler.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppPlacement {
    /// `OWNER/NAME`.
    pub app: String,
    /// Every replica, in (component, node, version) order.
    pub slots: Vec<Slot>,
    /// The spec text of every version a slot names.
    pub revisions: BTreeMap<String, String>,
    /// (component, replicas missing) where the candidates ran out.
    #[serde(default)]
    pub short: Vec<(String, u32)>,
    /// The scheduler that wrote it (node id).
    pub by: String,
    /// When (unix milliseconds).
    pub at_ms: u64,
    /// The newest events, oldest first.
    #[serde(default)]
    pub events: Vec<Event>,
}

impl AppPlacement {
    /// Whether the placement says the same as `other` (ignoring who wrote it, when, and the
    /// event log).
    pub fn same_as(&self, other: &AppPlacement) -> bool {
        self.slots == other.slots && self.revisions == other.revisions && self.short == other.short
    }
}

/// One replica as its node reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaStatus {
    /// The component.
    pub component: String,
    /// The version.
    pub version: String,
    /// The actor's name on the node.
    pub instance: String,
    /// `starting`, `refused` (policy, signature, fetch), or the actor's state: `running`,
    /// `restarting`, `failed`, `stopped`, `exited`.
    pub state: String,
    /// Whether its last health check passed (running, when the app has no health check).
    pub healthy: bool,
    /// Since when it has been healthy without a break (unix milliseconds).
    #[serde(default)]
    pub healthy_since_ms: Option<u64>,
    /// Health checks failed in a row.
    #[serde(default)]
    pub failures: u32,
    /// When this instance was started (unix milliseconds).
    pub started_ms: u64,
    /// Why it is not running, or the last health failure.
    #[serde(default)]
    pub detail: Option<String>,
}

/// Every replica of one app on one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// `OWNER/NAME`.
    pub app: String,
    /// The reporting node.
    pub node: String,
    /// When (unix milliseconds, the reporter's clock).
    pub at_ms: u64,
    /// Its replicas of the app.
    pub replicas: Vec<ReplicaStatus>,
}

/// What the scheduler reads on each pass: everything it decides from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    /// Now (unix milliseconds, the node's clock).
    pub now_ms: u64,
    /// The node the scheduler runs on.
    pub own: String,
    /// Adverts of nodes beating now (fresh), by node id.
    pub nodes: Vec<NodeAdvert>,
    /// Every desired app.
    pub apps: Vec<DesiredApp>,
    /// Every stored placement.
    pub placements: Vec<AppPlacement>,
    /// Replica status from the fresh nodes.
    pub status: Vec<NodeStatus>,
}

/// One app as a node sees it: what `r1 app show` prints and `r1 deploy` watches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppView {
    /// The desired state (absent once removed, while its placement is being dropped).
    pub desired: Option<DesiredApp>,
    /// Where its replicas are placed, with the scheduler's events.
    pub placement: Option<AppPlacement>,
    /// What each fresh node reports of its replicas.
    pub status: Vec<NodeStatus>,
}

/// How far an app has converged on its desired version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Replicas of the desired version the placement asks for.
    pub placed: usize,
    /// Of those, how many run and are healthy.
    pub healthy: usize,
    /// Replicas of other versions still placed (a rolling update not yet done).
    pub others: usize,
    /// Replicas no node could take.
    pub short: u32,
}

impl Progress {
    /// Every placed replica of the desired version is healthy, nothing else is placed, and
    /// nothing is short.
    pub fn converged(&self) -> bool {
        self.placed > 0 && self.healthy == self.placed && self.others == 0 && self.short == 0
    }
}

impl AppView {
    /// Where the app stands against its desired version.
    pub fn progress(&self) -> Progress {
        let Some(desired) = &self.desired else {
            return Progress {
                placed: 0,
                healthy: 0,
                others: 0,
                short: 0,
            };
        };
        let slots = self
            .placement
            .as_ref()
            .map(|p| p.slots.as_slice())
            .unwrap_or_default();
        let placed = slots
            .iter()
            .filter(|s| s.version == desired.version)
            .count();
        let healthy = slots
            .iter()
            .filter(|s| s.version == desired.version)
            .filter(|s| {
                self.status.iter().any(|n| {
                    n.node == s.node
                        && n.replicas.iter().any(|r| {
                            r.component == s.component && r.version == s.version && r.healthy
                        })
                })
            })
            .count();
        Progress {
            placed,
            healthy,
            others: slots.len() - placed,
            short: self
                .placement
                .as_ref()
                .map_or(0, |p| p.short.iter().map(|(_, n)| n).sum()),
        }
    }
}

/// The name an app's component answers to on the mesh: `NAME.COMPONENT.OWNER8` (a hash
/// when longer than 64 characters). Every node with a healthy replica of it answers to it, so
/// an actor with the `mesh` grant — or `r1 request`, or any API client — reaches a healthy
/// replica by this one name, wherever the replicas run now.
pub fn app_address(app_id: &str, component: &str) -> String {
    let (owner, name) = app_id.split_once('/').unwrap_or(("", app_id));
    let owner8: String = owner.chars().take(8).collect();
    let full = format!("{name}.{component}.{owner8}");
    if full.len() <= 64 {
        full
    } else {
        let h = blake3::hash(format!("{app_id}\0{component}").as_bytes());
        format!("app-{}", &h.to_hex()[..32])
    }
}

/// A replica's instance (actor) name on its node: `APP-COMPONENT-VERSION-OWNER8`, or a hash
/// of them when that would pass the 64-character name limit. Characters a name may not hold
/// become `_`.
pub fn instance_name(app_id: &str, component: &str, version: &str) -> String {
    let (owner, name) = app_id.split_once('/').unwrap_or(("", app_id));
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let owner8: String = owner.chars().take(8).collect();
    let full = format!(
        "{}-{}-{}-{}",
        clean(name),
        clean(component),
        clean(version),
        clean(&owner8)
    );
    if full.len() <= 64 {
        full
    } else {
        let h = blake3::hash(format!("{app_id}\0{component}\0{version}").as_bytes());
        format!("dpl-{}", &h.to_hex()[..32])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names_are_valid_and_distinct_per_version() {
        let a = instance_name("ab12cd34ef/web", "api", "1.2.0");
        assert_eq!(a, "web-api-1.2.0-ab12cd34");
        assert_ne!(a, instance_name("ab12cd34ef/web", "api", "1.3.0"));
        let long = instance_name(&format!("o/{}", "x".repeat(60)), "api", "1 beta");
        assert!(long.len() <= 64 && long.starts_with("dpl-"));
        assert_eq!(app_address("ab12cd34ef/web", "api"), "web.api.ab12cd34");
        for n in [
            a,
            long,
            instance_name("o/w", "c", "v 1+2"),
            app_address(&format!("o/{}", "x".repeat(64)), "api"),
        ] {
            assert!(r1_core::name::is_valid_name(&n), "{n}");
        }
    }
}
