//! Placement: which nodes run which replicas. A pure function of the node adverts and the
//! desired apps, so every scheduler that sees the same state writes the same placements —
//! the convergence rule. CSTORE is last-writer-wins: two schedulers cut off from each other
//! may place differently, but once the partition heals both read the merged adverts and
//! desired state, compute the same placement, and whichever write wins, it is that one; no
//! replica is left doubled because each node runs exactly what the winning placement lists.
//!
//! The rule, per app (in app-id order) and component (in name order):
//! 1. candidates are the nodes whose advert meets the constraints (arch, memory, GPU, models,
//!    tags) and that have room (free memory ≥ the replica's reservation);
//! 2. `per_node`: every candidate; `replicas = N`: N distinct nodes, taken round-robin over
//!    the spread tag's values (in value order) so replicas spread evenly, and within a value
//!    nodes that already run the replica first (sticky), then least load (this plan's
//!    replicas), ties broken by a hash of (app, component, node) — rendezvous hashing, so apps
//!    do not pile onto the same "first" node;
//! 3. each placed replica reserves memory on its node for the apps after it (bin packing);
//! 4. fewer candidates than replicas places what fits and reports the shortfall.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::spec::{AppSpec, Constraints};

/// Memory a replica reserves when its spec does not say (MiB): the runtime's default limit.
pub const DEFAULT_REPLICA_MB: u64 = 64;

/// What a node advertises in its heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAdvert {
    /// The node's id (its peer id).
    pub node: String,
    /// CPU architecture.
    pub arch: String,
    /// Cores.
    pub cores: u32,
    /// Memory free for workloads, MiB.
    pub free_memory_mb: u64,
    /// Whether it has a GPU.
    pub gpu: bool,
    /// Models it serves.
    pub models: Vec<String>,
    /// Operator tags (`zone = "a"`).
    pub tags: BTreeMap<String, String>,
    /// Actors it runs now (informational: placement counts its own replicas).
    pub load: u32,
    /// Whether it runs a Deeploy scheduler (the leader is the lowest such node id).
    #[serde(default)]
    pub scheduler: bool,
    /// Whether it runs OCI containers (`kind = "oci"` components go only to such nodes).
    #[serde(default)]
    pub oci: bool,
}

/// One replica's place.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Placement {
    /// `OWNER/NAME` of the app.
    pub app: String,
    /// The component.
    pub component: String,
    /// The node that runs it.
    pub node: String,
}

/// The placement of every desired app, and what could not be placed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Replicas placed, in (app, component, node) order.
    pub placements: Vec<Placement>,
    /// (app, component, replicas missing) where the candidates ran out.
    pub short: Vec<(String, String, u32)>,
}

fn meets(advert: &NodeAdvert, c: &Constraints) -> bool {
    c.arch.as_ref().is_none_or(|a| *a == advert.arch)
        && c.min_memory_mb.is_none_or(|m| advert.free_memory_mb >= m)
        && (!c.gpu || advert.gpu)
        && c.models.iter().all(|m| advert.models.contains(m))
        && c.tags.iter().all(|(k, v)| advert.tags.get(k) == Some(v))
}

/// A cheap, well-mixed 64-bit hash (splitmix64 over FNV-1a of the bytes).
fn mix(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.as_bytes() {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        h = (h ^ 0xff).wrapping_mul(0x0100_0000_01b3);
    }
    mix_u64(h)
}

/// splitmix64's finaliser: spreads a combined hash over all 64 bits.
fn mix_u64(mut h: u64) -> u64 {
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// A candidate's rank, lowest first: (not already there, this plan's load, rendezvous hash,
/// node index).
type Rank = (bool, u32, u64, usize);

/// (app, component, node) triples already placed: kept where they still fit.
pub type Sticky = std::collections::HashSet<(String, String, String)>;

/// Places every app in `apps` (`(app_id, spec)`) on the nodes of `adverts`, keeping the
/// replicas in `sticky` where they are while their node still qualifies (so a lost node moves
/// only its own replicas, and a healed partition keeps what runs).
pub fn place(adverts: &[NodeAdvert], apps: &[(String, AppSpec)], sticky: &Sticky) -> Plan {
    // Working state: free memory and load per node, by node id order. The load counts this
    // plan's replicas only: the adverts' own load moves as replicas start, and a placement
    // that followed it would never settle.
    let mut nodes: Vec<&NodeAdvert> = adverts.iter().collect();
    nodes.sort_by(|a, b| a.node.cmp(&b.node));
    let mut free: Vec<u64> = nodes.iter().map(|n| n.free_memory_mb).collect();
    let mut load: Vec<u32> = vec![0; nodes.len()];
    // Per node, computed once: its hash; its index by id (for sticky lookups); for each spread
    // tag in use, its group (the tag's values in order, "" for nodes without it). The loop over
    // nodes per app is then index arithmetic: 10,000 nodes cost a few microseconds, not a
    // string hash or a tree lookup each.
    let node_hash: Vec<u64> = nodes.iter().map(|n| mix(&[&n.node])).collect();
    let index: std::collections::HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.node.as_str(), i))
        .collect();
    let mut kept: std::collections::HashMap<(&str, &str), Vec<usize>> =
        std::collections::HashMap::new();
    for (app, component, node) in sticky {
        if let Some(&i) = index.get(node.as_str()) {
            kept.entry((app.as_str(), component.as_str()))
                .or_default()
                .push(i);
        }
    }
    let mut spreads: std::collections::HashMap<&str, (usize, Vec<usize>)> =
        std::collections::HashMap::new();
    let mut marked = vec![false; nodes.len()];
    let mut apps: Vec<&(String, AppSpec)> = apps.iter().collect();
    apps.sort_by(|a, b| a.0.cmp(&b.0));
    let mut plan = Plan::default();
    for (app_id, spec) in apps {
        let reserve = spec
            .constraints
            .min_memory_mb
            .unwrap_or(DEFAULT_REPLICA_MB)
            .max(1);
        let constrained = spec.constraints != Constraints::default();
        let (group_count, group_of) = match &spec.spread {
            Some(tag) => {
                let (count, of) = spreads.entry(tag.as_str()).or_insert_with(|| {
                    let values: std::collections::BTreeSet<&str> = nodes
                        .iter()
                        .map(|n| n.tags.get(tag).map_or("", String::as_str))
                        .collect();
                    let rank: BTreeMap<&str, usize> =
                        values.iter().enumerate().map(|(g, v)| (*v, g)).collect();
                    let of = nodes
                        .iter()
                        .map(|n| rank[n.tags.get(tag).map_or("", String::as_str)])
                        .collect();
                    (values.len(), of)
                });
                (*count, Some(&*of))
            }
            None => (1, None),
        };
        let mut components: Vec<_> = spec.components.iter().collect();
        components.sort_by(|a, b| a.name.cmp(&b.name));
        for component in components {
            let app_hash = mix(&[app_id, &component.name]);
            let sticky_here = kept
                .get(&(app_id.as_str(), component.name.as_str()))
                .map(Vec::as_slice)
                .unwrap_or_default();
            for &i in sticky_here {
                marked[i] = true;
            }
            // Candidates by group, keyed best first: already there, then least load, then
            // the rendezvous hash.
            let mut groups: Vec<Vec<(Rank, usize)>> = vec![Vec::new(); group_count.max(1)];
            let mut candidates = 0usize;
            for i in 0..nodes.len() {
                if free[i] < reserve
                    || (constrained && !meets(nodes[i], &spec.constraints))
                    || (component.kind == "oci" && !nodes[i].oci)
                {
                    continue;
                }
                candidates += 1;
                let g = group_of.map_or(0, |of| of[i]);
                let key = (!marked[i], load[i], mix_u64(node_hash[i] ^ app_hash), i);
                groups[g].push((key, i));
            }
            for &i in sticky_here {
                marked[i] = false;
            }
            let wanted = match spec.replicas {
                Some(n) => n as usize,
                None => candidates,
            };
            // Only the first `wanted` of a group can be taken: selected in linear time, and
            // only they sorted.
            let mut groups: Vec<Vec<usize>> = groups
                .into_iter()
                .filter(|g| !g.is_empty())
                .map(|mut keyed| {
                    if keyed.len() > wanted && wanted > 0 {
                        keyed.select_nth_unstable(wanted - 1);
                        keyed.truncate(wanted);
                    }
                    keyed.sort_unstable();
                    keyed.into_iter().rev().map(|(_, i)| i).collect() // pop() = best
                })
                .collect();
            let mut placed = 0;
            while placed < wanted {
                let mut progressed = false;
                for members in groups.iter_mut() {
                    if placed == wanted {
                        break;
                    }
                    if let Some(i) = members.pop() {
                        free[i] -= reserve;
                        load[i] += 1;
                        plan.placements.push(Placement {
                            app: app_id.clone(),
                            component: component.name.clone(),
                            node: nodes[i].node.clone(),
                        });
                        placed += 1;
                        progressed = true;
                    }
                }
                if !progressed {
                    break;
                }
            }
            if placed < wanted {
                plan.short.push((
                    app_id.clone(),
                    component.name.clone(),
                    (wanted - placed) as u32,
                ));
            }
        }
    }
    plan.placements.sort();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, zone: &str, free: u64) -> NodeAdvert {
        NodeAdvert {
            node: id.into(),
            arch: "x86_64".into(),
            cores: 2,
            free_memory_mb: free,
            gpu: false,
            models: vec![],
            tags: [("zone".to_string(), zone.to_string())].into(),
            load: 0,
            scheduler: false,
            oci: false,
        }
    }

    fn app(extra: &str) -> AppSpec {
        AppSpec::parse(&format!(
            "name = \"web\"\nversion = \"1\"\n{extra}\n\n[[components]]\nname = \"api\"\ncid = \"bafkr4x\"\n"
        ))
        .unwrap()
    }

    #[test]
    fn replicas_spread_over_the_tag_and_land_on_distinct_nodes() {
        let nodes = vec![
            node("n1", "a", 1024),
            node("n2", "a", 1024),
            node("n3", "b", 1024),
            node("n4", "b", 1024),
            node("n5", "c", 1024),
        ];
        let plan = place(
            &nodes,
            &[("o/web".into(), app("replicas = 3\nspread = \"zone\""))],
            &Sticky::new(),
        );
        assert!(plan.short.is_empty());
        let zones: std::collections::BTreeSet<&str> = plan
            .placements
            .iter()
            .map(|p| nodes.iter().find(|n| n.node == p.node).unwrap().tags["zone"].as_str())
            .collect();
        assert_eq!(zones.len(), 3, "one per zone: {plan:?}");
        let distinct: std::collections::BTreeSet<&str> =
            plan.placements.iter().map(|p| p.node.as_str()).collect();
        assert_eq!(distinct.len(), 3);
    }

    #[test]
    fn containers_go_only_to_nodes_that_run_them() {
        let mut runs = node("c1", "a", 1024);
        runs.oci = true;
        let nodes = vec![node("n1", "a", 1024), runs, node("n2", "a", 1024)];
        let spec = AppSpec::parse(&format!(
            "name = \"box\"\nversion = \"1\"\nper_node = true\n\n[[components]]\nname = \"c\"\nkind = \"oci\"\ncid = \"bafkr4x\"\nimage = \"sha256:{}\"\n",
            "0".repeat(64)
        ))
        .unwrap();
        let plan = place(&nodes, &[("o/box".into(), spec)], &Sticky::new());
        let on: Vec<&str> = plan.placements.iter().map(|p| p.node.as_str()).collect();
        assert_eq!(on, ["c1"]);
    }

    #[test]
    fn constraints_and_capacity_hold_and_a_shortfall_is_reported() {
        let mut gpu = node("g1", "a", 4096);
        gpu.gpu = true;
        let nodes = vec![node("n1", "a", 100), node("n2", "a", 32), gpu];
        let plan = place(
            &nodes,
            &[(
                "o/web".into(),
                app("replicas = 2\n[constraints]\ngpu = true"),
            )],
            &Sticky::new(),
        );
        assert_eq!(plan.placements.len(), 1);
        assert_eq!(plan.placements[0].node, "g1");
        assert_eq!(plan.short, vec![("o/web".into(), "api".into(), 1)]);
        // 100 MiB fits one 64 MiB replica; 32 MiB fits none.
        let plan = place(
            &nodes[..2],
            &[("o/web".into(), app("per_node = true"))],
            &Sticky::new(),
        );
        assert_eq!(plan.placements.len(), 1);
        assert_eq!(plan.placements[0].node, "n1");
    }

    #[test]
    fn the_same_state_gives_the_same_placement_in_any_order() {
        let nodes: Vec<NodeAdvert> = (0..50)
            .map(|i| node(&format!("n{i:02}"), ["a", "b", "c"][i % 3], 512))
            .collect();
        let apps: Vec<(String, AppSpec)> = (0..20)
            .map(|i| (format!("o/app{i}"), app("replicas = 4\nspread = \"zone\"")))
            .collect();
        let one = place(&nodes, &apps, &Sticky::new());
        let mut nodes_rev = nodes.clone();
        nodes_rev.reverse();
        let mut apps_rev = apps.clone();
        apps_rev.reverse();
        assert_eq!(
            place(&nodes_rev, &apps_rev, &Sticky::new()),
            one,
            "input order must not matter"
        );
        assert_eq!(one.placements.len(), 80);
        // Load spreads: no node gets more than twice the mean (80 / 50).
        let mut per_node: BTreeMap<&str, u32> = BTreeMap::new();
        for p in &one.placements {
            *per_node.entry(&p.node).or_default() += 1;
        }
        assert!(per_node.values().all(|&n| n <= 4), "{per_node:?}");
    }

    #[test]
    fn a_lost_node_moves_only_its_own_replicas() {
        let nodes: Vec<NodeAdvert> = (0..6).map(|i| node(&format!("n{i}"), "a", 1024)).collect();
        let apps: Vec<(String, AppSpec)> = (0..4)
            .map(|i| (format!("o/app{i}"), app("replicas = 3")))
            .collect();
        let before = place(&nodes, &apps, &Sticky::new());
        let sticky: Sticky = before
            .placements
            .iter()
            .map(|p| (p.app.clone(), p.component.clone(), p.node.clone()))
            .collect();
        let lost = before.placements[0].node.clone();
        let rest: Vec<NodeAdvert> = nodes.iter().filter(|n| n.node != lost).cloned().collect();
        let after = place(&rest, &apps, &sticky);
        assert_eq!(after.placements.len(), before.placements.len());
        for p in &before.placements {
            if p.node != lost {
                assert!(after.placements.contains(p), "{p:?} moved without cause");
            }
        }
        assert!(after.placements.iter().all(|p| p.node != lost));
    }
}
