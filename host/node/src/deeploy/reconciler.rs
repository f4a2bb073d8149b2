//! The reconciler: every `[deeploy] reconcile_ms`, this node runs exactly the replicas the
//! stored placements give it, checks their health and reports it.
//!
//! One pass:
//! 1. read every placement; the slots naming this node are what should run, each as instance
//!    [`instance_name`] of the slot's version, started from the spec text the placement carries;
//! 2. stop this node's Deeploy replicas that no slot names (moved, replaced, app removed);
//! 3. start the missing ones: the component is fetched from R1FS (from a peer when not held
//!    here), the spec checked against this node's operator policy, and the component's
//!    signature against its trust policy (the runtime's spawn); a refusal is reported as the
//!    replica's state and retried only after [`RETRY_AFTER_MS`];
//! 4. health: a replica whose spec has `[health]` is sent its health message every interval
//!    and is healthy while it answers within the timeout; without one, running is healthy;
//! 5. point each app address (`NAME.COMPONENT.OWNER8`) at this node's healthy replicas, so
//!    a request by that name from any node reaches a healthy replica;
//! 6. report each app's replicas here to `status/OWNER/NAME/NODE` when something changed, and
//!    at least every [`REPORT_EVERY_MS`].
//!
//! Replicas are started through [`Node::deploy`], so they are recorded on disk: a node that
//! restarts — even cut off from the mesh — runs its assignments again before any pass, and its
//! CSTORE (durable) still holds the placements that keep them. A healthy replica is never
//! restarted by a pass: only a slot's disappearance stops it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use r1_core::contract::blobs::BlobService;
use r1_deeploy::spec::{AppSpec, Health};
use r1_deeploy::state::{
    AppPlacement, NAMESPACE, NodeStatus, ReplicaStatus, app_address, instance_name, keys,
};
use r1_runtime::{ActorStatus, Grants};

use super::store::{now_ms, read_under};
use crate::node::{Launch, Node};

/// A refused or failed start is tried again after this long.
pub const RETRY_AFTER_MS: u64 = 5_000;
/// A node reports its replicas at least this often, changed or not.
pub const REPORT_EVERY_MS: u64 = 5_000;

/// What the reconciler remembers of one replica between passes.
#[derive(Debug, Clone)]
struct Tracked {
    component: String,
    version: String,
    started_ms: u64,
    healthy: bool,
    healthy_since_ms: Option<u64>,
    failures: u32,
    last_check_ms: u64,
    /// Set when the start was refused or failed: the reason, and when.
    refused: Option<(String, u64)>,
    detail: Option<String>,
}

/// A slot this node should run.
struct Wanted {
    app: String,
    component: String,
    version: String,
    /// The version's spec, parsed once per pass and version (or why it does not parse).
    spec: Arc<Result<AppSpec, String>>,
}

/// Starts the reconcile loop.
pub fn start(node: Arc<Node>, period: Duration) {
    tokio::spawn(async move {
        let mut state = Reconciler::default();
        let mut tick = tokio::time::interval(period.max(Duration::from_millis(50)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            state.pass(&node).await;
        }
    });
}

#[derive(Default)]
struct Reconciler {
    tracked: HashMap<String, Tracked>,
    /// App addresses this node answers to now, and for which replicas.
    addresses: HashMap<String, Vec<String>>,
    /// What was last reported per app, and when.
    reported: HashMap<String, (Vec<ReplicaStatus>, u64)>,
}

impl Reconciler {
    async fn pass(&mut self, node: &Arc<Node>) {
        let own = node.mesh().peer_id().to_string();
        let store = node.store().clone();
        let placements = match tokio::task::spawn_blocking(move || {
            read_under::<AppPlacement>(&store, keys::PLACEMENT)
        })
        .await
        {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("reconciler cannot read placements: {e}");
                return;
            }
        };
        let mut wanted: BTreeMap<String, Wanted> = BTreeMap::new();
        for p in &placements {
            let mut parsed: HashMap<&str, Arc<Result<AppSpec, String>>> = HashMap::new();
            for slot in p.slots.iter().filter(|s| s.node == own) {
                let Some(text) = p.revisions.get(&slot.version) else {
                    continue;
                };
                let spec = parsed
                    .entry(slot.version.as_str())
                    .or_insert_with(|| Arc::new(AppSpec::parse(text).map_err(|e| e.to_string())));
                wanted.insert(
                    instance_name(&p.app, &slot.component, &slot.version),
                    Wanted {
                        app: p.app.clone(),
                        component: slot.component.clone(),
                        version: slot.version.clone(),
                        spec: spec.clone(),
                    },
                );
            }
        }
        for (instance, app) in node.deeploy_replicas() {
            if !wanted.contains_key(&instance) {
                match node.undeploy(&instance).await {
                    Ok(()) => tracing::info!(app = %app, instance = %instance, "replica stopped"),
                    Err(e) => {
                        tracing::warn!(app = %app, instance = %instance, "cannot stop replica: {e}")
                    }
                }
                self.tracked.remove(&instance);
            }
        }
        self.tracked.retain(|name, _| wanted.contains_key(name));
        let now = now_ms();
        for (instance, want) in &wanted {
            if node.runtime().info(instance).is_some() {
                self.tracked
                    .entry(instance.clone())
                    .or_insert_with(|| Tracked::new(want, now));
                continue;
            }
            if let Some(t) = self.tracked.get(instance)
                && let Some((_, at)) = &t.refused
                && now.saturating_sub(*at) < RETRY_AFTER_MS
            {
                continue;
            }
            let mut t = Tracked::new(want, now);
            match start_replica(node, instance, want).await {
                Ok(()) => {
                    tracing::info!(app = %want.app, component = %want.component, version = %want.version, "replica started");
                }
                Err(why) => {
                    tracing::warn!(app = %want.app, component = %want.component, version = %want.version, "replica not started: {why}");
                    t.refused = Some((why, now));
                }
            }
            self.tracked.insert(instance.clone(), t);
        }
        self.check_health(node, &wanted).await;
        self.answer_to_addresses(node, &wanted);
        self.report(node, &own, &wanted).await;
    }

    async fn check_health(&mut self, node: &Node, wanted: &BTreeMap<String, Wanted>) {
        let now = now_ms();
        let mut checks = Vec::new();
        for (instance, want) in wanted {
            let Some(t) = self.tracked.get_mut(instance) else {
                continue;
            };
            let running = node
                .runtime()
                .info(instance)
                .is_some_and(|i| i.status == ActorStatus::Running);
            let health = want
                .spec
                .as_ref()
                .as_ref()
                .ok()
                .and_then(|s| s.health.clone());
            match (running, health) {
                (false, _) => t.set_health(false, now, None),
                (true, None) => t.set_health(true, now, None),
                (true, Some(h)) => {
                    if now.saturating_sub(t.last_check_ms) >= h.interval_ms {
                        t.last_check_ms = now;
                        checks.push((instance.clone(), h));
                    }
                }
            }
        }
        // The checks of one pass run side by side, each bounded by its timeout.
        let results = futures::future::join_all(checks.into_iter().map(
            |(instance, h): (String, Health)| async move {
                let timeout = Duration::from_millis(h.timeout_ms);
                let answer = node
                    .runtime()
                    .request(&instance, h.message.into_bytes(), timeout)
                    .await;
                (instance, answer.map(|_| ()).map_err(|e| e.to_string()))
            },
        ))
        .await;
        let now = now_ms();
        for (instance, result) in results {
            if let Some(t) = self.tracked.get_mut(&instance) {
                match result {
                    Ok(()) => t.set_health(true, now, None),
                    Err(why) => t.set_health(false, now, Some(why)),
                }
            }
        }
    }

    /// Points each app address (`app_address`) at this node's healthy replicas of it, so
    /// requests by the app's name reach only replicas that pass their health checks.
    fn answer_to_addresses(&mut self, node: &Node, wanted: &BTreeMap<String, Wanted>) {
        let mut now: HashMap<String, Vec<String>> = HashMap::new();
        for (instance, want) in wanted {
            if self.tracked.get(instance).is_some_and(|t| t.healthy) {
                now.entry(app_address(&want.app, &want.component))
                    .or_default()
                    .push(instance.clone());
            }
        }
        for (address, instances) in &now {
            if self.addresses.get(address) != Some(instances) {
                node.runtime().set_alias(address, instances.clone());
            }
        }
        for address in self.addresses.keys() {
            if !now.contains_key(address) {
                node.runtime().set_alias(address, Vec::new());
            }
        }
        self.addresses = now;
    }

    async fn report(&mut self, node: &Node, own: &str, wanted: &BTreeMap<String, Wanted>) {
        let now = now_ms();
        let mut by_app: BTreeMap<&str, Vec<ReplicaStatus>> = BTreeMap::new();
        for (instance, want) in wanted {
            let Some(t) = self.tracked.get(instance) else {
                continue;
            };
            let state = match (&t.refused, node.runtime().info(instance)) {
                (Some(_), None) => "refused".to_owned(),
                (_, None) => "starting".to_owned(),
                (_, Some(info)) => info.status.name().to_owned(),
            };
            let detail = t
                .refused
                .as_ref()
                .map(|(why, _)| why.clone())
                .or_else(|| t.detail.clone());
            by_app.entry(&want.app).or_default().push(ReplicaStatus {
                component: t.component.clone(),
                version: t.version.clone(),
                instance: instance.clone(),
                state,
                healthy: t.healthy,
                healthy_since_ms: t.healthy_since_ms,
                failures: t.failures,
                started_ms: t.started_ms,
                detail,
            });
        }
        let mut writes: Vec<(String, Option<Vec<u8>>)> = Vec::new();
        for (app, replicas) in &by_app {
            let due = match self.reported.get(*app) {
                Some((last, at)) => last != replicas || now.saturating_sub(*at) >= REPORT_EVERY_MS,
                None => true,
            };
            if !due {
                continue;
            }
            let status = NodeStatus {
                app: (*app).to_owned(),
                node: own.to_owned(),
                at_ms: now,
                replicas: replicas.clone(),
            };
            if let Ok(bytes) = serde_json::to_vec(&status) {
                writes.push((keys::status(app, own), Some(bytes)));
                self.reported
                    .insert((*app).to_owned(), (replicas.clone(), now));
            }
        }
        // An app with nothing here any more: its report goes.
        let gone: Vec<String> = self
            .reported
            .keys()
            .filter(|app| !by_app.contains_key(app.as_str()))
            .cloned()
            .collect();
        for app in gone {
            self.reported.remove(&app);
            writes.push((keys::status(&app, own), None));
        }
        if writes.is_empty() {
            return;
        }
        let store = node.store().clone();
        let written = tokio::task::spawn_blocking(move || {
            for (key, value) in writes {
                let result = match value {
                    Some(bytes) => store.set(NAMESPACE, &key, &bytes).map(|_| ()),
                    None => store.delete(NAMESPACE, &key).map(|_| ()),
                };
                if let Err(e) = result {
                    tracing::warn!(key, "status not written: {e:#}");
                }
            }
        })
        .await;
        if let Err(e) = written {
            tracing::warn!("status task failed: {e}");
        }
    }
}

impl Tracked {
    fn new(want: &Wanted, now: u64) -> Self {
        Self {
            component: want.component.clone(),
            version: want.version.clone(),
            started_ms: now,
            healthy: false,
            healthy_since_ms: None,
            failures: 0,
            last_check_ms: 0,
            refused: None,
            detail: None,
        }
    }

    fn set_health(&mut self, healthy: bool, now: u64, why: Option<String>) {
        if healthy {
            if !self.healthy {
                self.healthy_since_ms = Some(now);
            }
            self.failures = 0;
            self.detail = None;
        } else {
            self.healthy_since_ms = None;
            if why.is_some() {
                self.failures += 1;
                self.detail = why;
            }
        }
        self.healthy = healthy;
    }
}

/// Fetches, checks and starts one replica; the error says why not, in words.
async fn start_replica(node: &Node, instance: &str, want: &Wanted) -> Result<(), String> {
    let spec = want.spec.as_ref().as_ref().map_err(Clone::clone)?;
    node.config()
        .deeploy
        .policy
        .check(spec)
        .map_err(|e| e.to_string())?;
    let component = spec
        .components
        .iter()
        .find(|c| c.name == want.component)
        .ok_or_else(|| format!("the spec has no component {:?}", want.component))?;
    let cid = component
        .cid
        .as_deref()
        .ok_or("the stored spec names its component by file, not cid")?;
    let restart = spec.restart.as_ref().map(|r| r1_runtime::RestartPolicy {
        max_restarts: r.max_restarts,
        window: Duration::from_millis(r.window_ms),
        initial_backoff: Duration::from_millis(r.backoff_ms),
        max_backoff: Duration::from_millis(r.max_backoff_ms),
    });
    if component.kind == "oci" {
        return start_container_replica(node, instance, want, component, cid, restart).await;
    }
    let blobs: &dyn BlobService = &**node.files();
    let stat = blobs
        .open(cid)
        .await
        .map_err(|e| format!("cannot fetch {cid} from R1FS: {e}"))?;
    let wasm = blobs
        .read(cid, 0, stat.size, None)
        .map_err(|e| format!("cannot read {cid}: {e}"))?;
    let grants = Grants::parse(&component.grants).map_err(|e| e.to_string())?;
    node.deploy(Launch {
        name: instance.to_owned(),
        wasm,
        grants,
        config: component
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        io: r1_runtime::Io::default(),
        route: None,
        deeploy: Some(want.app.clone()),
        restart,
    })
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// An `oci` replica: the image layout from R1FS imported here (every digest checked), the
/// image checked to be the one the spec names, then started as a container actor (the
/// runtime checks its signature against this node's trust policy first). From the component's
/// config: `args` (space-separated) replaces the image's command, `memory_mb` its memory limit.
async fn start_container_replica(
    node: &Node,
    instance: &str,
    want: &Wanted,
    component: &r1_deeploy::spec::ComponentSpec,
    cid: &str,
    restart: Option<r1_runtime::RestartPolicy>,
) -> Result<(), String> {
    let image = node.import_image(cid).await.map_err(|e| e.to_string())?;
    let wanted = component.image.as_deref().unwrap_or_default();
    if image.digest != wanted {
        return Err(format!(
            "the layout {cid} holds image {}, not the {wanted} the spec names",
            image.digest
        ));
    }
    let grants = Grants::parse(&component.grants).map_err(|e| e.to_string())?;
    let args = component
        .config
        .get("args")
        .map(|a| a.split_whitespace().map(str::to_owned).collect());
    let mut limits = node.config().runtime.default_limits;
    if let Some(mb) = component.config.get("memory_mb") {
        let mb: usize = mb
            .parse()
            .map_err(|_| format!("config memory_mb = {mb:?} is not a number of MiB"))?;
        limits.max_memory_bytes = mb << 20;
    }
    limits.restart = restart;
    node.start_container(
        r1_runtime::ContainerLaunch {
            name: instance.to_owned(),
            image: image.digest,
            signature: None,
            args,
            grants,
            limits: Some(limits),
        },
        Some(want.app.clone()),
    )
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}
