//! The scheduler's decisions: a pure function of a [`View`] (fresh adverts, desired apps,
//! stored placements, replica status) to the placements to write and the apps to revert. The
//! scheduler system actor (`actors/deeploy-scheduler`) runs it on every tick and writes what it
//! returns through its control capability; tests run it directly.
//!
//! Rules, in order:
//! 1. **One writer per side.** Only the scheduler on the lowest node id among the fresh
//!    adverts that run a scheduler decides ([`is_leader`]); on each side of a partition that is
//!    one scheduler. After the partition heals both sides see the same adverts, one leader
//!    remains, and it rewrites every placement from the merged state (stickiness keeps what
//!    runs; each component gets its node set again, so nothing stays doubled).
//! 2. **Where**: [`crate::placement::place`] over the fresh adverts, sticky to the nodes of the
//!    stored placement. A node whose heartbeats stopped is not fresh, so its replicas are
//!    placed elsewhere at the next tick (failover).
//! 3. **Which version** (a rolling update), per component and node of the target set:
//!    - a node without a replica gets the desired version;
//!    - a node running the desired version keeps it, and drops older versions beside it once
//!      the new one has been healthy for `min_healthy_ms`;
//!    - nodes running only an older version are upgraded in batches: `max_surge` at a time
//!      beside the old replica (nothing stops serving), or, with `max_surge = 0`,
//!      `max_unavailable` at a time in place; `canaries` replicas go first and the rest wait
//!      until those are healthy. A batch starts only when the previous one is healthy.
//! 4. **Auto-revert**: during an update, a replica of the new version that failed (crashed out,
//!    refused, [`FAILURES_TO_FAIL`] health checks in a row, or not healthy within
//!    `progress_deadline_ms`) reverts the app to its previous version when `auto_revert` is on.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::placement::{Sticky, place};
use crate::spec::AppSpec;
use crate::state::{
    AppPlacement, DesiredApp, Event, MAX_EVENTS, NodeStatus, ReplicaStatus, Slot, View,
};

/// Health checks failed in a row that make a replica failing.
pub const FAILURES_TO_FAIL: u32 = 3;

/// What the scheduler decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Write this placement (it differs from the stored one).
    Place(AppPlacement),
    /// Delete the placement of an app that is no longer desired.
    Drop(String),
    /// Revert the app to its previous version.
    Revert {
        /// `OWNER/NAME`.
        app: String,
        /// The version that failed.
        failed: String,
        /// Why, in words.
        reason: String,
    },
}

/// Whether the scheduler on `view.own` is the one that decides now.
pub fn is_leader(view: &View) -> bool {
    view.nodes
        .iter()
        .filter(|n| n.scheduler)
        .map(|n| n.node.as_str())
        .min()
        == Some(view.own.as_str())
}

/// A node id shortened for event text: its last 8 characters.
pub fn short_node(node: &str) -> &str {
    &node[node.len().saturating_sub(8)..]
}

/// Decides placements and reverts from `view` (nothing when this scheduler is not the leader).
pub fn decide(view: &View) -> Vec<Decision> {
    if !is_leader(view) {
        return Vec::new();
    }
    let fresh: BTreeSet<&str> = view.nodes.iter().map(|n| n.node.as_str()).collect();
    let stored: BTreeMap<&str, &AppPlacement> = view
        .placements
        .iter()
        .map(|p| (p.app.as_str(), p))
        .collect();
    let mut apps: Vec<(&DesiredApp, AppSpec)> = Vec::new();
    for app in &view.apps {
        // A stored spec was validated when it was accepted; one that no longer parses (a
        // newer node wrote it) is left alone rather than guessed at.
        if let Ok(spec) = AppSpec::parse(&app.spec) {
            apps.push((app, spec));
        }
    }
    let sticky: Sticky = view
        .placements
        .iter()
        .flat_map(|p| p.slots.iter().map(move |s| (p, s)))
        .filter(|(_, s)| fresh.contains(s.node.as_str()))
        .map(|(p, s)| (p.app.clone(), s.component.clone(), s.node.clone()))
        .collect();
    let specs: Vec<(String, AppSpec)> = apps
        .iter()
        .map(|(a, s)| (a.app_id.clone(), s.clone()))
        .collect();
    let plan = place(&view.nodes, &specs, &sticky);
    let mut targets: HashMap<(&str, &str), Vec<&str>> = HashMap::new();
    for p in &plan.placements {
        targets
            .entry((p.app.as_str(), p.component.as_str()))
            .or_default()
            .push(p.node.as_str());
    }
    let health = Health::index(&view.status, &fresh);
    let mut out = Vec::new();
    for (app, spec) in &apps {
        let old = stored.get(app.app_id.as_str()).copied();
        let mut next = AppPlacement {
            app: app.app_id.clone(),
            by: view.own.clone(),
            at_ms: view.now_ms,
            ..Default::default()
        };
        let mut failing: Option<String> = None;
        let mut components: Vec<&str> = spec.components.iter().map(|c| c.name.as_str()).collect();
        components.sort_unstable();
        for component in components {
            let target = targets
                .get(&(app.app_id.as_str(), component))
                .cloned()
                .unwrap_or_default();
            let rolled = roll(
                RollInput {
                    app,
                    spec,
                    component,
                    target: &target,
                    old,
                    fresh: &fresh,
                    health: &health,
                    now_ms: view.now_ms,
                },
                &mut next.slots,
            );
            if failing.is_none() {
                failing = rolled;
            }
        }
        next.short = plan
            .short
            .iter()
            .filter(|(a, _, _)| *a == app.app_id)
            .map(|(_, c, n)| (c.clone(), *n))
            .collect();
        next.slots.sort();
        // Every version a slot names travels with the placement.
        for slot in &next.slots {
            let text = if slot.version == app.version {
                Some(app.spec.clone())
            } else {
                old.and_then(|o| o.revisions.get(&slot.version).cloned())
                    .or_else(|| {
                        app.previous
                            .as_ref()
                            .filter(|p| p.version == slot.version)
                            .map(|p| p.spec.clone())
                    })
            };
            if let Some(text) = text {
                next.revisions.insert(slot.version.clone(), text);
            }
        }
        // A slot whose spec text is lost cannot be started anywhere: drop it.
        next.slots
            .retain(|s| next.revisions.contains_key(&s.version));
        if let Some(reason) = failing
            && spec.update.auto_revert
            && app
                .previous
                .as_ref()
                .is_some_and(|p| p.version != app.version)
        {
            out.push(Decision::Revert {
                app: app.app_id.clone(),
                failed: app.version.clone(),
                reason,
            });
            continue;
        }
        let unchanged = old.is_some_and(|o| o.same_as(&next));
        if unchanged {
            continue;
        }
        next.events = old.map(|o| o.events.clone()).unwrap_or_default();
        let before: BTreeSet<&Slot> = old.map(|o| o.slots.iter().collect()).unwrap_or_default();
        let after: BTreeSet<&Slot> = next.slots.iter().collect();
        let mut events = Vec::new();
        for gone in before.difference(&after) {
            let why = if fresh.contains(gone.node.as_str()) {
                "replaced"
            } else {
                "its node stopped beating"
            };
            events.push(format!(
                "{} {} left node …{} ({why})",
                gone.component,
                gone.version,
                short_node(&gone.node)
            ));
        }
        for new in after.difference(&before) {
            events.push(format!(
                "{} {} placed on node …{}",
                new.component,
                new.version,
                short_node(&new.node)
            ));
        }
        for (component, missing) in &next.short {
            events.push(format!(
                "{component}: {missing} replica(s) short, too few nodes qualify"
            ));
        }
        next.events.extend(events.into_iter().map(|text| Event {
            at_ms: view.now_ms,
            text,
        }));
        let excess = next.events.len().saturating_sub(MAX_EVENTS);
        next.events.drain(..excess);
        out.push(Decision::Place(next));
    }
    let desired: BTreeSet<&str> = view.apps.iter().map(|a| a.app_id.as_str()).collect();
    for p in &view.placements {
        if !desired.contains(p.app.as_str()) {
            out.push(Decision::Drop(p.app.clone()));
        }
    }
    out
}

/// Replica status by (app, node, component, version), from fresh nodes only.
struct Health<'a> {
    by_key: HashMap<(&'a str, &'a str, &'a str, &'a str), &'a ReplicaStatus>,
}

impl<'a> Health<'a> {
    fn index(status: &'a [NodeStatus], fresh: &BTreeSet<&str>) -> Self {
        let mut by_key = HashMap::new();
        for node in status.iter().filter(|s| fresh.contains(s.node.as_str())) {
            for r in &node.replicas {
                by_key.insert(
                    (
                        node.app.as_str(),
                        node.node.as_str(),
                        r.component.as_str(),
                        r.version.as_str(),
                    ),
                    r,
                );
            }
        }
        Self { by_key }
    }

    fn get(&self, app: &str, node: &str, component: &str, version: &str) -> Option<&ReplicaStatus> {
        self.by_key.get(&(app, node, component, version)).copied()
    }
}

struct RollInput<'a> {
    app: &'a DesiredApp,
    spec: &'a AppSpec,
    component: &'a str,
    target: &'a [&'a str],
    old: Option<&'a AppPlacement>,
    fresh: &'a BTreeSet<&'a str>,
    health: &'a Health<'a>,
    now_ms: u64,
}

/// One component's slots for the next placement (rule 3); returns why the desired version is
/// failing, if it is.
fn roll(input: RollInput<'_>, slots: &mut Vec<Slot>) -> Option<String> {
    let RollInput {
        app,
        spec,
        component,
        target,
        old,
        fresh,
        health,
        now_ms,
    } = input;
    let want = app.version.as_str();
    let update = &spec.update;
    let slot = |node: &str, version: &str| Slot {
        component: component.to_owned(),
        node: node.to_owned(),
        version: version.to_owned(),
    };
    // What runs where now (fresh nodes only: a silent node's replicas are gone).
    let mut running: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for s in old.map(|o| o.slots.as_slice()).unwrap_or_default() {
        if s.component == component && fresh.contains(s.node.as_str()) {
            running
                .entry(s.node.as_str())
                .or_default()
                .insert(s.version.as_str());
        }
    }
    let status = |node: &str, version: &str| health.get(&app.app_id, node, component, version);
    let done = |node: &str, version: &str| {
        status(node, version).is_some_and(|r| {
            r.healthy
                && r.healthy_since_ms
                    .is_some_and(|since| now_ms.saturating_sub(since) >= update.min_healthy_ms)
        })
    };
    let failing = |node: &str| -> Option<String> {
        let r = status(node, want)?;
        let why = if matches!(r.state.as_str(), "failed" | "refused") {
            r.state.clone()
        } else if r.failures >= FAILURES_TO_FAIL {
            format!("{} health checks failed in a row", r.failures)
        } else if !r.healthy && now_ms.saturating_sub(r.started_ms) > update.progress_deadline_ms {
            format!("not healthy within {} ms", update.progress_deadline_ms)
        } else {
            return None;
        };
        let detail = r
            .detail
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        Some(format!(
            "{component} {want} on node …{}: {why}{detail}",
            short_node(node)
        ))
    };
    let mut in_flight = 0u32;
    let mut healthy_new = 0u32;
    let mut waiting: Vec<(&str, &BTreeSet<&str>)> = Vec::new();
    let mut reason = None;
    let empty = BTreeSet::new();
    for &node in target {
        let have = running.get(node).unwrap_or(&empty);
        if have.is_empty() {
            slots.push(slot(node, want));
            if !done(node, want) {
                in_flight += 1;
            }
        } else if have.contains(want) {
            slots.push(slot(node, want));
            let ready = done(node, want);
            if ready {
                healthy_new += 1;
            } else {
                in_flight += 1;
                if reason.is_none() {
                    reason = failing(node);
                }
            }
            for other in have.iter().filter(|v| **v != want) {
                if !ready {
                    slots.push(slot(node, other));
                }
            }
        } else {
            waiting.push((node, have));
        }
    }
    let batch = if update.max_surge > 0 {
        update.max_surge
    } else {
        update.max_unavailable
    };
    let limit = if update.canaries > 0 && healthy_new < update.canaries {
        update.canaries
    } else {
        batch
    };
    let mut allowed = limit.saturating_sub(in_flight) as usize;
    for (node, have) in waiting {
        let upgrade = allowed > 0;
        if upgrade {
            allowed -= 1;
            slots.push(slot(node, want));
        }
        if !upgrade || update.max_surge > 0 {
            for version in have {
                slots.push(slot(node, version));
            }
        }
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::NodeAdvert;
    use crate::state::Revision;

    fn advert(id: &str) -> NodeAdvert {
        NodeAdvert {
            node: id.into(),
            arch: "x86_64".into(),
            cores: 2,
            free_memory_mb: 4096,
            gpu: false,
            models: vec![],
            tags: Default::default(),
            load: 0,
            scheduler: true,
            oci: false,
        }
    }

    fn spec(version: &str, extra: &str) -> String {
        format!(
            "name = \"web\"\nversion = \"{version}\"\nreplicas = 3\n{extra}\n[[components]]\nname = \"api\"\ncid = \"bafkr4x\"\n"
        )
    }

    fn desired(version: &str, previous: Option<&str>, extra: &str) -> DesiredApp {
        DesiredApp {
            app_id: "o/web".into(),
            owner: "00".into(),
            version: version.into(),
            spec: spec(version, extra),
            at_ms: 0,
            previous: previous.map(|v| Revision {
                version: v.into(),
                spec: spec(v, extra),
            }),
            reverted: None,
        }
    }

    fn view(nodes: &[&str], app: DesiredApp) -> View {
        View {
            now_ms: 100_000,
            own: "n1".into(),
            nodes: nodes.iter().map(|n| advert(n)).collect(),
            apps: vec![app],
            placements: vec![],
            status: vec![],
        }
    }

    fn healthy(view: &mut View, node: &str, version: &str, since: u64, failures: u32) {
        let replica = ReplicaStatus {
            component: "api".into(),
            version: version.into(),
            instance: "i".into(),
            state: "running".into(),
            healthy: failures == 0,
            healthy_since_ms: (failures == 0).then_some(since),
            failures,
            started_ms: since,
            detail: None,
        };
        match view.status.iter_mut().find(|s| s.node == node) {
            Some(s) => s.replicas.push(replica),
            None => view.status.push(NodeStatus {
                app: "o/web".into(),
                node: node.into(),
                at_ms: view.now_ms,
                replicas: vec![replica],
            }),
        }
    }

    fn placed(decisions: &[Decision]) -> AppPlacement {
        decisions
            .iter()
            .find_map(|d| match d {
                Decision::Place(p) => Some(p.clone()),
                _ => None,
            })
            .expect("a placement")
    }

    /// The node of the first slot of `version`.
    fn node_running(p: &AppPlacement, version: &str) -> String {
        p.slots
            .iter()
            .find(|s| s.version == version)
            .expect("a slot of that version")
            .node
            .clone()
    }

    fn versions(p: &AppPlacement) -> Vec<(String, String)> {
        p.slots
            .iter()
            .map(|s| (s.node.clone(), s.version.clone()))
            .collect()
    }

    #[test]
    fn only_the_lowest_scheduler_decides() {
        let mut v = view(&["n1", "n2", "n3"], desired("1", None, ""));
        assert!(is_leader(&v));
        v.own = "n2".into();
        assert!(decide(&v).is_empty());
        v.nodes[0].scheduler = false;
        assert!(is_leader(&v), "n1 runs no scheduler, so n2 leads");
    }

    #[test]
    fn a_first_deploy_places_every_replica_and_a_lost_node_moves_its_own() {
        let mut v = view(&["n1", "n2", "n3", "n4"], desired("1", None, ""));
        let first = placed(&decide(&v));
        assert_eq!(first.slots.len(), 3);
        assert!(first.revisions.contains_key("1"));
        v.placements = vec![first.clone()];
        assert!(decide(&v).is_empty(), "nothing changed, nothing written");
        // Lose a node that is not the scheduler's own.
        let lost = first
            .slots
            .iter()
            .find(|s| s.node != "n1")
            .unwrap()
            .node
            .clone();
        v.nodes.retain(|n| n.node != lost);
        let moved = placed(&decide(&v));
        assert_eq!(moved.slots.len(), 3);
        assert!(moved.slots.iter().all(|s| s.node != lost));
        for s in first.slots.iter().filter(|s| s.node != lost) {
            assert!(moved.slots.contains(s), "{s:?} kept");
        }
        assert!(
            moved
                .events
                .iter()
                .any(|e| e.text.contains("stopped beating"))
        );
    }

    #[test]
    fn an_update_surges_one_node_at_a_time_and_waits_for_health() {
        let mut v = view(&["n1", "n2", "n3"], desired("1", None, ""));
        let first = placed(&decide(&v));
        for n in ["n1", "n2", "n3"] {
            healthy(&mut v, n, "1", 0, 0);
        }
        v.placements = vec![first];
        v.apps = vec![desired("2", Some("1"), "")];
        let step1 = placed(&decide(&v));
        // max_surge = 1: one node runs 2 beside 1; the others keep 1.
        assert_eq!(step1.slots.len(), 4, "{:?}", versions(&step1));
        assert_eq!(step1.slots.iter().filter(|s| s.version == "2").count(), 1);
        assert!(step1.revisions.contains_key("1") && step1.revisions.contains_key("2"));
        let first_new = node_running(&step1, "2");
        v.placements = vec![step1.clone()];
        // Not healthy yet: no further batch.
        assert!(decide(&v).is_empty());
        // Healthy, but not for min_healthy_ms (2000) yet: still waiting.
        let at = v.now_ms - 500;
        healthy(&mut v, &first_new, "2", at, 0);
        assert!(decide(&v).is_empty());
        // Healthy long enough: its old replica goes and the next node surges.
        v.status.iter_mut().for_each(|s| {
            s.replicas
                .iter_mut()
                .filter(|r| r.version == "2")
                .for_each(|r| r.healthy_since_ms = Some(0))
        });
        let step2 = placed(&decide(&v));
        assert!(!step2.slots.contains(&Slot {
            component: "api".into(),
            node: first_new.clone(),
            version: "1".into()
        }));
        assert_eq!(step2.slots.iter().filter(|s| s.version == "2").count(), 2);
        // Serving never fell: every node still has a replica of some version.
        let nodes: BTreeSet<&str> = step2.slots.iter().map(|s| s.node.as_str()).collect();
        assert_eq!(nodes.len(), 3);
    }

    #[test]
    fn a_failing_new_version_reverts_and_without_surge_replaces_in_place() {
        let extra = "[update]\nmax_surge = 0\nmax_unavailable = 1";
        let mut v = view(&["n1", "n2", "n3"], desired("1", None, extra));
        let first = placed(&decide(&v));
        for n in ["n1", "n2", "n3"] {
            healthy(&mut v, n, "1", 0, 0);
        }
        v.placements = vec![first];
        v.apps = vec![desired("2", Some("1"), extra)];
        let step1 = placed(&decide(&v));
        assert_eq!(
            step1.slots.len(),
            3,
            "replaced in place: {:?}",
            versions(&step1)
        );
        let new_node = node_running(&step1, "2");
        v.placements = vec![step1];
        let at = v.now_ms - 100;
        healthy(&mut v, &new_node, "2", at, FAILURES_TO_FAIL);
        let decisions = decide(&v);
        assert!(
            matches!(&decisions[..], [Decision::Revert { failed, .. }] if failed == "2"),
            "{decisions:?}"
        );
        // With auto_revert off it stays put instead.
        v.apps = vec![desired(
            "2",
            Some("1"),
            &format!("{extra}\nauto_revert = false"),
        )];
        assert!(
            !decide(&v)
                .iter()
                .any(|d| matches!(d, Decision::Revert { .. }))
        );
    }

    #[test]
    fn a_removed_app_drops_its_placement() {
        let mut v = view(&["n1"], desired("1", None, ""));
        v.placements = vec![placed(&decide(&v))];
        v.apps.clear();
        assert_eq!(decide(&v), vec![Decision::Drop("o/web".into())]);
    }
}
