//! A running node: CSTORE, the wasm runtime, remembered deployments and the HTTP API.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use ed25519_dalek::SigningKey;
use r1_cstore::Cstore;
use r1_cstore::replication::Replicator;
use r1_mesh::{Allowlist, Mesh, MeshConfig, MeshEvent, Protocols, parse_addr};
use r1_runtime::signing::keys::{self, PublicKey};
use r1_runtime::{ActorInfo, ActorSpec, Grants, Runtime, SpawnError, TrustPolicy};

use r1_core::ServiceError;
use r1_core::contract::BoxFuture;
use r1_core::contract::control::{ActorControl, ActorLaunch, ActorSummary};

use crate::config::NodeConfig;
use crate::deployments::{Deployment, Deployments};
use r1_fs::service::FsService;

/// Builds the trust policy: `dev` trusts the local publisher key (if any) and `extra` keys;
/// every mode trusts the keys in `trust_file`.
pub fn trust_policy(
    dev: bool,
    trust_file: Option<&Path>,
    extra: &[PublicKey],
) -> Result<TrustPolicy> {
    let mut policy = if dev {
        TrustPolicy::dev()
    } else {
        TrustPolicy::strict()
    };
    if let Some(path) = trust_file {
        for key in keys::read_trust_file(path)? {
            policy.trust(key);
        }
    }
    if dev {
        for key in extra {
            policy.trust(*key);
        }
        let local = crate::config::default_key_path();
        if let Ok(key) = keys::read_any_public(&keys::pub_path(&local)) {
            policy.trust(key);
        }
    }
    Ok(policy)
}

/// A running node, shared by every API worker. Its parts are reached through methods, so the
/// node decides what it hands out.
pub struct Node {
    config: NodeConfig,
    /// The node's ed25519 identity (`<data dir>/node.key`, created at first start).
    identity: PublicKey,
    /// Signing as this node, for services and system actors (the identity contract).
    signer: Arc<dyn r1_core::contract::identity::NodeIdentity>,
    runtime: Runtime,
    cstore: Cstore,
    mesh: Mesh,
    replicator: Arc<Replicator>,
    fs: Arc<FsService>,
    /// The models this node serves (shared by actors and the API).
    infer: Arc<r1_infer::Registry>,
    /// EDIL jobs: encryption, aggregation, and decryption where this node owns the key.
    edil: Arc<r1_edil::service::EdilNode>,
    /// Actor messages to and from other nodes.
    remote: Arc<r1_remote::RemoteActors>,
    /// HTTP components' routes, and the listener serving them (if on).
    routes: Arc<crate::http_apps::Routes>,
    http: Option<crate::http_apps::HttpFront>,
    /// Deeploy request nonces seen, each until its window closes.
    deeploy_nonces: r1_deeploy::nonces::MemoryNonces,
    /// Where the RESP listener is bound, if on.
    resp: Option<std::net::SocketAddr>,
    deployments: Deployments,
    /// Deeploy replicas running here: instance name → app (shared with the log service).
    replicas: Arc<std::sync::Mutex<std::collections::BTreeMap<String, String>>>,
    /// Answers other nodes' requests for this node's replicas' logs.
    log_service: Arc<crate::deeploy::logs::LogService>,
    /// The OCI fallback, when this host can run containers.
    pub(crate) oci: Option<Arc<r1_oci::Oci>>,
    /// Layout tars imported since the node started: R1FS cid → (image digest, signed); see
    /// `Node::import_image`.
    pub(crate) imported: std::sync::Mutex<std::collections::HashMap<String, (String, bool)>>,
    /// OracleSync, when `[oraclesync] oracles` lists any.
    oraclesync: Option<Arc<crate::oraclesync::service::OracleSync>>,
}

/// The scheduler system actor's name on every node that runs one.
pub const SCHEDULER: &str = "deeploy-scheduler";

impl Node {
    /// The configuration the node runs on.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The node's public key.
    pub fn identity(&self) -> PublicKey {
        self.identity
    }

    /// Signing as this node (the identity contract).
    pub fn signer(&self) -> Arc<dyn r1_core::contract::identity::NodeIdentity> {
        self.signer.clone()
    }

    /// The actor runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The node's CSTORE.
    pub fn store(&self) -> &Cstore {
        &self.cstore
    }

    /// OracleSync, when oracles are configured.
    pub fn oraclesync(&self) -> Option<&Arc<crate::oraclesync::service::OracleSync>> {
        self.oraclesync.as_ref()
    }

    /// The mesh handle.
    pub fn mesh(&self) -> &Mesh {
        &self.mesh
    }

    /// CSTORE replication (its counters, `min_acks` writes).
    pub fn replicator(&self) -> &Arc<Replicator> {
        &self.replicator
    }

    /// R1FS.
    pub fn files(&self) -> &Arc<FsService> {
        &self.fs
    }

    /// The model registry.
    pub fn models(&self) -> &Arc<r1_infer::Registry> {
        &self.infer
    }

    /// EDIL jobs.
    pub fn edil(&self) -> &Arc<r1_edil::service::EdilNode> {
        &self.edil
    }

    /// Actor messaging across the mesh (its counters).
    pub fn remote(&self) -> &Arc<r1_remote::RemoteActors> {
        &self.remote
    }

    /// The Deeploy request nonces this node has seen.
    pub fn deeploy_nonces(&self) -> &r1_deeploy::nonces::MemoryNonces {
        &self.deeploy_nonces
    }

    /// Where HTTP components are served, if on.
    pub fn http(&self) -> Option<std::net::SocketAddr> {
        self.http.as_ref().map(|h| h.addr)
    }

    /// Where the RESP listener is bound, if on.
    pub fn resp(&self) -> Option<std::net::SocketAddr> {
        self.resp
    }
}

/// The node's ed25519 identity key, created (0600) at first start.
pub fn node_key(data_dir: &Path) -> Result<SigningKey> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    keys::load_or_create(&data_dir.join("node.key")).context("cannot load the node identity")
}

/// Opens the data dir's CSTORE (writes synced before their ack), with a clear message when
/// another process holds it.
pub fn open_cstore(data_dir: &Path, key: SigningKey) -> Result<Cstore> {
    open_cstore_with(data_dir, key, r1_cstore::Durability::Sync)
}

/// [`open_cstore`] with writes acknowledged as `durability` says.
pub fn open_cstore_with(
    data_dir: &Path,
    key: SigningKey,
    durability: r1_cstore::Durability,
) -> Result<Cstore> {
    let dir = data_dir.join("cstore");
    Cstore::open_with(&dir, key, durability).with_context(|| {
        format!(
            "cannot open CSTORE at {} (is another r1 node using this data dir?)",
            dir.display()
        )
    })
}

/// The model registry: device probed, built-in and configured models registered, idle
/// models unloaded in the background.
fn start_inference(
    settings: &crate::config::InferSettings,
    fs: Arc<FsService>,
) -> Result<Arc<r1_infer::Registry>> {
    let device: r1_infer::DeviceChoice =
        settings.device.parse().context("invalid [infer] device")?;
    let batch = r1_infer::BatchConfig {
        window: std::time::Duration::from_millis(settings.batch_window_ms),
        max_rows: settings.max_batch.max(1),
    };
    let registry = r1_infer::Registry::new(device, batch).context("inference device")?;
    if let Some(dir) = settings.models_dir() {
        let minilm = dir.join(BUILTIN_EMBEDDER);
        if minilm.join("model.safetensors").is_file() {
            registry.register(
                BUILTIN_EMBEDDER,
                r1_infer::ModelSpec::from_dir(r1_infer::SpecKind::SentenceEmbedding, minilm),
            )?;
        }
    }
    for (name, spec) in &settings.models {
        registry.register(name, spec.clone())?;
    }
    registry.set_file_service(fs);
    let registry = Arc::new(registry);
    let idle = std::time::Duration::from_secs(settings.idle_unload_s);
    let unloader = Arc::downgrade(&registry);
    tokio::spawn(async move {
        let period = idle.clamp(
            std::time::Duration::from_secs(1),
            std::time::Duration::from_secs(30),
        );
        loop {
            tokio::time::sleep(period).await;
            let Some(registry) = unloader.upgrade() else {
                break;
            };
            registry.unload_idle(idle);
        }
    });
    tracing::info!(
        device = %registry.device_name(),
        models = ?registry.models().iter().map(|m| m.name.clone()).collect::<Vec<_>>(),
        "inference ready"
    );
    Ok(registry)
}

/// The sentence-embedding model served when `scripts/fetch-models.sh` has put it in place.
pub const BUILTIN_EMBEDDER: &str = "all-minilm-l6-v2";

impl Node {
    /// Opens the data dir and runtime and restarts every remembered deployment.
    /// Must run inside an actix system.
    pub async fn start(config: NodeConfig) -> Result<Arc<Self>> {
        r1_core::check_name(r1_core::NameKind::Namespace, &config.mesh.resp_namespace)
            .context("mesh.resp_namespace")?;
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
        let node_key = node_key(&config.data_dir)?;
        let identity = keys::public_key(&node_key);
        let policy = trust_policy(config.dev, config.trust_file.as_deref(), &[identity])?;
        let durability: r1_cstore::Durability = config
            .mesh
            .cstore_durability
            .parse()
            .map_err(anyhow::Error::msg)
            .context("[mesh] cstore_durability")?;
        let cstore = open_cstore_with(&config.data_dir, node_key.clone(), durability)?;
        tracing::info!(?durability, "CSTORE open");
        let (mesh, replicator, events) = start_mesh(&config.mesh, &node_key, &cstore)?;
        let fs = FsService::new(
            r1_fs::BlockStore::open(&config.data_dir.join("fs"))?,
            mesh.clone(),
            cstore.clone(),
        );
        let remote = r1_remote::RemoteActors::new(mesh.clone(), config.mesh.actors());
        fs.start_repair_loop(std::time::Duration::from_millis(
            config.mesh.anti_entropy_ms.max(200),
        ));
        let resp = match config.mesh.resp {
            Some(addr) => {
                let bound = r1_cstore::resp::serve(
                    cstore.clone(),
                    config.mesh.resp_namespace.clone(),
                    addr,
                )
                .with_context(|| format!("cannot listen for RESP on {addr}"))?;
                tracing::info!(%bound, namespace = %config.mesh.resp_namespace, "RESP listener ready");
                Some(bound)
            }
            None => None,
        };
        let infer = start_inference(&config.infer, fs.clone())?;
        let edil = Arc::new(r1_edil::service::EdilNode::new(
            cstore.clone(),
            fs.clone(),
            node_key.clone(),
            &config.data_dir,
        ));
        let oci = match r1_oci::Oci::open(&config.data_dir.join("oci")) {
            Ok(oci) => {
                tracing::info!(
                    runtime = oci.engine().name(),
                    "containers ready (OCI fallback)"
                );
                Some(Arc::new(oci))
            }
            Err(e) => {
                tracing::info!("containers off: {e}");
                None
            }
        };
        let oraclesync =
            crate::oraclesync::service::OracleSync::new(&config, &node_key, &cstore)?.map(Arc::new);
        // Every service is in place before the runtime starts any actor.
        let mut builder = Runtime::builder(config.runtime.clone(), policy);
        if let Some(control) = oraclesync.as_ref().and_then(|o| o.control()) {
            builder = builder.oraclesync(Arc::new(control));
        }
        if let Some(oci) = &oci {
            builder = builder.containers(oci.clone());
        }
        let runtime = builder
            .cache_dir(config.data_dir.join("cache"))
            .key_value(Arc::new(cstore.clone()))
            .blobs(fs.clone())
            .inference(infer.clone())
            .edil(edil.clone())
            .deeploy(Arc::new(crate::deeploy::control::Control::new(
                cstore.clone(),
                mesh.peer_id().to_string(),
                config.deeploy.fresh_ms(),
            )))
            .remote(remote.clone())
            .build()?;
        remote.attach(runtime.local_delivery());
        // Each service registers the gossip topics, request services and streams it owns;
        // the mesh's events are served once every one of them is in place.
        let replicas: Arc<std::sync::Mutex<std::collections::BTreeMap<String, String>>> =
            Default::default();
        let log_service = crate::deeploy::logs::LogService::new(runtime.clone(), replicas.clone());
        let mut protocols = log_service
            .register(remote.register(fs.register(replicator.register(Protocols::new()))));
        if let Some(sync) = &oraclesync {
            protocols = sync.register(&mesh, protocols);
        }
        protocols.serve(&mesh, events)?;
        let routes = Arc::new(crate::http_apps::Routes::default());
        let http = match config.http {
            Some(addr) => Some(crate::http_apps::start(
                addr,
                runtime.clone(),
                routes.clone(),
            )?),
            None => None,
        };
        let deployments = Deployments::open(&config.data_dir)?;
        let node = Arc::new(Self {
            config,
            identity,
            signer: Arc::new(crate::identity::Ed25519Identity::new(node_key.clone())),
            runtime,
            cstore,
            mesh,
            replicator,
            fs,
            infer,
            edil,
            remote,
            routes,
            http,
            deeploy_nonces: Default::default(),
            resp,
            deployments,
            replicas,
            log_service,
            oci,
            imported: Default::default(),
            oraclesync,
        });
        for (deployment, wasm) in node.deployments.load_all()? {
            let name = deployment.name.clone();
            match node.spawn_deployment(&deployment, wasm).await {
                Ok(_) => {
                    if let Some(app) = &deployment.deeploy {
                        node.replicas().insert(name.clone(), app.clone());
                    }
                    tracing::info!(actor = %name, "restored deployment")
                }
                Err(err) => tracing::error!(actor = %name, "cannot restore deployment: {err:#}"),
            }
        }
        Ok(node)
    }

    async fn spawn_deployment(&self, d: &Deployment, wasm: Vec<u8>) -> Result<ActorInfo> {
        let grants = Grants::parse(&d.grants)?;
        let io = r1_runtime::Io {
            inherit_stdio: false,
            args: d.args.clone(),
            env: d.env.clone(),
        };
        let info = self
            .runtime
            .spawn_with_io(
                ActorSpec {
                    name: d.name.clone(),
                    wasm,
                    grants,
                    config: d.config.clone(),
                    limits: self.limits_with(d.restart),
                },
                io,
            )
            .await?;
        if let Some(route) = &d.route {
            self.routes
                .add(route, &d.name)
                .map_err(anyhow::Error::msg)?;
        }
        Ok(info)
    }

    /// Starts an actor and remembers it, so it comes back after a node restart.
    pub async fn deploy(&self, launch: Launch) -> Result<ActorInfo, DeployError> {
        let Launch {
            name,
            wasm,
            grants,
            config,
            io,
            route,
            deeploy,
            restart,
        } = launch;
        if grants.deeploy || grants.oraclesync {
            return Err(DeployError::Denied(
                "the deeploy and oraclesync grants are for the node's own system actors only"
                    .into(),
            ));
        }
        let info = self
            .runtime
            .spawn_with_io(
                ActorSpec {
                    name: name.clone(),
                    wasm: wasm.clone(),
                    grants: grants.clone(),
                    config: config.clone(),
                    limits: self.limits_with(restart),
                },
                io.clone(),
            )
            .await?;
        if info.kind == r1_runtime::ComponentKind::Command {
            // A job runs once: it is not restarted with the node, so there is nothing to
            // remember; its exit status stays in the runtime's table until it is removed.
            return Ok(info);
        }
        let route = match (info.kind, route) {
            (r1_runtime::ComponentKind::Http, route) => {
                let route = route.unwrap_or_else(|| format!("/{name}"));
                if let Err(why) = self.routes.add(&route, &name) {
                    let _ = self.runtime.stop(&name).await;
                    return Err(DeployError::Route(why));
                }
                Some(route)
            }
            (_, Some(route)) => {
                let _ = self.runtime.stop(&name).await;
                return Err(DeployError::Route(format!(
                    "only HTTP components (wasi:http/incoming-handler) take a route; {name:?} is not one (route {route})"
                )));
            }
            (_, None) => None,
        };
        let deployment = Deployment {
            name: name.clone(),
            component: info.component.clone(),
            grants: grants.to_strings(),
            config,
            args: io.args,
            env: io.env,
            route,
            deeploy: deeploy.clone(),
            restart,
        };
        if let Err(err) = self.deployments.save(&deployment, &wasm) {
            // Not remembered means not acknowledged: undo the start.
            self.routes.remove_component(&name);
            let _ = self.runtime.stop(&name).await;
            return Err(DeployError::Persist(format!("{err:#}")));
        }
        if let Some(app) = deeploy {
            self.replicas().insert(name, app);
        }
        Ok(info)
    }

    /// The runtime's default limits with `restart` as the restart policy; `None` when there
    /// is none (the runtime's defaults apply whole).
    fn limits_with(
        &self,
        restart: Option<r1_runtime::RestartPolicy>,
    ) -> Option<r1_runtime::ActorLimits> {
        restart.map(|r| r1_runtime::ActorLimits {
            restart: Some(r),
            ..self.config.runtime.default_limits
        })
    }

    fn replicas(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<String, String>> {
        self.replicas.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records `name` as a replica of Deeploy app `app` (for reports and logs).
    pub(crate) fn note_replica(&self, name: String, app: String) {
        self.replicas().insert(name, app);
    }

    /// This node's side of `r1 app logs`.
    pub fn log_service(&self) -> &crate::deeploy::logs::LogService {
        &self.log_service
    }

    /// The Deeploy replicas on this node: instance name → app (`OWNER/NAME`).
    pub fn deeploy_replicas(&self) -> std::collections::BTreeMap<String, String> {
        self.replicas().clone()
    }

    /// Starts the Deeploy scheduler system actor from `wasm` (granted `deeploy` and nothing
    /// else; not recorded: the node starts it again from its config at every start) and ticks
    /// it every `period`.
    pub async fn start_scheduler(
        self: &Arc<Self>,
        wasm: Vec<u8>,
        period: std::time::Duration,
    ) -> Result<(), SpawnError> {
        let grants = Grants {
            deeploy: true,
            ..Grants::default()
        };
        self.runtime
            .spawn(ActorSpec {
                name: SCHEDULER.into(),
                wasm,
                grants,
                config: Vec::new(),
                limits: None,
            })
            .await?;
        let node = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period.max(std::time::Duration::from_millis(50)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(node) = node.upgrade() else { break };
                let timeout = std::time::Duration::from_secs(10);
                match node
                    .runtime
                    .request(SCHEDULER, b"tick".to_vec(), timeout)
                    .await
                {
                    Ok(_) => {}
                    Err(r1_runtime::DeliveryError::UnknownActor(_)) => break,
                    Err(e) => tracing::warn!("scheduler pass failed: {e}"),
                }
            }
        });
        tracing::info!("deeploy scheduler started");
        Ok(())
    }

    /// Stops an actor and forgets its deployment, so it stays stopped after a restart.
    pub async fn undeploy(&self, name: &str) -> Result<(), DeployError> {
        self.runtime.stop(name).await?;
        self.replicas().remove(name);
        self.routes.remove_component(name);
        self.deployments
            .remove(name)
            .map_err(|e| DeployError::Persist(format!("{e:#}")))
    }
}

/// A deployment error as the control contract reports it.
impl From<DeployError> for r1_core::ServiceError {
    fn from(e: DeployError) -> Self {
        use r1_core::ServiceError;
        let message = e.to_string();
        match e {
            DeployError::Spawn(SpawnError::Signature(_) | SpawnError::Grant(_))
            | DeployError::Denied(_) => ServiceError::Denied(message),
            DeployError::Spawn(SpawnError::Setup { .. }) | DeployError::Persist(_) => {
                ServiceError::Unavailable(message)
            }
            DeployError::Spawn(_) | DeployError::Route(_) => ServiceError::Invalid(message),
            DeployError::Delivery(r1_runtime::DeliveryError::UnknownActor(_)) => {
                ServiceError::NotFound(message)
            }
            DeployError::Delivery(_) => ServiceError::Unavailable(message),
        }
    }
}

fn summary(info: ActorInfo) -> ActorSummary {
    ActorSummary {
        state: info.status.name().into(),
        name: info.name,
        restarts: info.restarts,
        grants: info.grants,
        component: info.component,
    }
}

/// System actors start and stop workloads through the node, so they are recorded and
/// restored like the API's.
impl ActorControl for Node {
    fn start(&self, launch: ActorLaunch) -> BoxFuture<'_, Result<ActorSummary, ServiceError>> {
        Box::pin(async move {
            let grants =
                Grants::parse(&launch.grants).map_err(|e| ServiceError::Invalid(e.to_string()))?;
            let info = self
                .deploy(Launch {
                    name: launch.name,
                    wasm: launch.wasm,
                    grants,
                    config: launch.config,
                    io: r1_runtime::Io::default(),
                    route: None,
                    deeploy: None,
                    restart: None,
                })
                .await?;
            Ok(summary(info))
        })
    }

    fn stop<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move { Ok(self.undeploy(name).await?) })
    }

    fn list(&self) -> Vec<ActorSummary> {
        self.runtime.list().into_iter().map(summary).collect()
    }
}

/// Why a deploy or undeploy failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The runtime refused to start the actor (signature, grants, loading, name taken).
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// The actor could not be stopped (no such actor, or it did not answer).
    #[error(transparent)]
    Delivery(#[from] r1_runtime::DeliveryError),
    /// The node refuses what was asked (a system-only grant).
    #[error("{0}")]
    Denied(String),
    /// The deployment could not be saved or removed on disk; a failed save stops the actor.
    #[error("cannot record the deployment: {0}")]
    Persist(String),
    /// An HTTP component's route is malformed or taken, or a route was given to a component
    /// that is not an HTTP component (it is stopped again).
    #[error("{0}")]
    Route(String),
}

/// What to deploy on a node.
#[derive(Debug, Clone)]
pub struct Launch {
    /// Its name on the node.
    pub name: String,
    /// The component bytes.
    pub wasm: Vec<u8>,
    /// What it may touch.
    pub grants: Grants,
    /// Its configuration (`init`'s pairs, `wasi:config`).
    pub config: Vec<(String, String)>,
    /// WASI arguments and environment.
    pub io: r1_runtime::Io,
    /// For an HTTP component: the path prefix it is served on (default `/NAME`).
    pub route: Option<String>,
    /// For a Deeploy replica: its app (`OWNER/NAME`), so the reconciler knows it as its own.
    pub deeploy: Option<String>,
    /// Its own restart policy (`None`: the runtime's).
    pub restart: Option<r1_runtime::RestartPolicy>,
}

/// Starts the mesh and CSTORE replication, and routes mesh events to their services.
fn start_mesh(
    settings: &crate::config::MeshSettings,
    node_key: &SigningKey,
    cstore: &Cstore,
) -> Result<(
    Mesh,
    Arc<Replicator>,
    tokio::sync::mpsc::Receiver<MeshEvent>,
)> {
    let own = keys::public_key(node_key);
    let mut allowed = Vec::new();
    for hex in &settings.allowlist {
        allowed.push(PublicKey::from_hex(hex).with_context(|| format!("allowlist entry {hex:?}"))?);
    }
    if !allowed.is_empty() && !allowed.contains(&own) {
        allowed.push(own);
    }
    if allowed.is_empty() {
        tracing::warn!("mesh admission is open: no allowlist configured (dev)");
    }
    // One admission for the mesh (peers) and CSTORE (op writers): the genesis allowlist.
    let admission: Arc<dyn r1_mesh::Admission> =
        Arc::new(Allowlist::new(allowed.iter().map(|k| k.0)));
    let listen = settings
        .listen
        .iter()
        .map(|a| parse_addr(a))
        .collect::<Result<Vec<_>, _>>()?;
    let bootstrap = settings
        .bootstrap
        .iter()
        .map(|a| parse_addr(a))
        .collect::<Result<Vec<_>, _>>()?;
    let (mesh, events) = Mesh::start(MeshConfig {
        secret: node_key.to_bytes(),
        listen,
        bootstrap: bootstrap.clone(),
        mdns: settings.mdns,
        admission: admission.clone(),
    })?;
    for addr in bootstrap {
        mesh.dial(addr)?;
    }
    let replicator = Replicator::start(
        cstore.clone(),
        mesh.clone(),
        admission,
        std::time::Duration::from_millis(settings.anti_entropy_ms.max(50)),
        std::time::Duration::from_secs(settings.tombstone_horizon_s),
    );
    tracing::info!(peer_id = %mesh.peer_id(), "mesh started");
    Ok((mesh, replicator, events))
}
