//! The runtime: one engine, the compiled-component cache, pre-linked components, worker
//! threads and the actors running on them.
//!
//! Must be created and used inside an actix `System`. Actors are spread round-robin over
//! `workers` arbiters (threads); an actor stays on its worker for life.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::{Actor, Arbiter, Recipient};
use wasmtime::component::Component;

use crate::actor::{
    ActorInfo, ActorStatus, ActorTemplate, ComponentKind, CrashWindow, StopActor, WasmActor,
};
use crate::cache::{ComponentCache, ContentHash};
use crate::capability::HostServices;
use crate::config::{ActorLimits, RuntimeConfig};
use crate::container::{ContainerActor, ContainerTemplate};
use crate::engine::{AllocatorKind, EngineHandle};
use crate::error::{DeliveryError, LoadError, RuntimeError, SpawnError};
use crate::grants::{Capability, Grants, valid_name};
use crate::host::actor::bindings::ActorPre;
use crate::http::{HttpApp, HttpError};
use crate::job::{Job, JobExit};
use crate::linker::{self, ComponentReport};
use crate::recipe::Recipe;
use crate::router::{Deliver, Reach, Router};
use crate::signing::policy::unix_now;
use crate::signing::{Provenance, SignatureError, TrustPolicy};
use crate::state::{ActorState, Io};
use r1_core::contract::blobs::BlobService;
use r1_core::contract::container::{ContainerEngine, ContainerMount, ContainerSpec};
use r1_core::contract::edil::EdilService;
use r1_core::contract::infer::InferService;
use r1_core::contract::kv::KeyValue;
use r1_core::contract::remote::RemoteDelivery;

/// The sender name the node itself uses (API, CLI).
pub const HOST_SENDER: &str = "host";

/// What to run.
#[derive(Debug, Clone)]
pub struct ActorSpec {
    /// The actor's name on this node: 1-64 characters from `[A-Za-z0-9._-]`, not `host`.
    pub name: String,
    /// The component's `.wasm` bytes.
    pub wasm: Vec<u8>,
    /// What the actor may touch; its imports are checked against these before it starts.
    pub grants: Grants,
    /// Key/value pairs passed to the actor's `init`.
    pub config: Vec<(String, String)>,
    /// `None`: the runtime's defaults.
    pub limits: Option<ActorLimits>,
}

/// A container to start as an actor ([`Runtime::spawn_container`]).
#[derive(Debug, Clone)]
pub struct ContainerLaunch {
    /// The actor's name on this node.
    pub name: String,
    /// The image, by manifest digest (`sha256:…`), imported on this node.
    pub image: String,
    /// Its detached signature payload (`r1-signature` beside the image), if signed.
    pub signature: Option<Vec<u8>>,
    /// Replaces the image's entrypoint and command when given.
    pub args: Option<Vec<String>>,
    /// What it may use: `fs:`, `fs-ro:`, `net`.
    pub grants: Grants,
    /// `None`: the runtime's defaults.
    pub limits: Option<ActorLimits>,
}

/// Pre-linked components by (content hash, granted capability set).
type PreCache = HashMap<(ContentHash, Vec<Capability>), ActorPre<ActorState>>;

/// A running actor: its mailbox and its shared status.
struct ActorEntry {
    /// Stops the actor (a wasm actor or a container); `None` for a job or an HTTP component.
    addr: Option<Recipient<StopActor>>,
    /// Cancels a job still running (dropping it ends the run at its next yield); `None` for
    /// an actor.
    job: Option<tokio::sync::oneshot::Sender<()>>,
    info: Arc<Mutex<ActorInfo>>,
}

type ActorTable = BTreeMap<String, ActorEntry>;

/// The wasm actor runtime of one node: engine, component cache, router and running actors.
/// Cloning is cheap and shares the same runtime.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: EngineHandle,
    cache: ComponentCache,
    config: RuntimeConfig,
    pres: Mutex<PreCache>,
    router: Arc<Router>,
    /// Each actor's recent log lines.
    logbook: crate::logbook::LogBook,
    actors: Mutex<ActorTable>,
    /// The HTTP components, by name.
    http_apps: Mutex<HashMap<String, Arc<HttpApp>>>,
    policy: TrustPolicy,
    /// The node's services, fixed when the runtime was built.
    services: HostServices,
    /// The container engine, when the node has one.
    containers: Option<Arc<dyn ContainerEngine>>,
    workers: Vec<Arbiter>,
    next_worker: AtomicUsize,
}

/// Builds a [`Runtime`]: its configuration and trust policy, where compiled components
/// persist, and the node's services, all before anything starts. A service left out is
/// simply absent: an actor granted a capability it needs is refused at spawn, naming it.
pub struct RuntimeBuilder {
    config: RuntimeConfig,
    policy: TrustPolicy,
    cache_dir: Option<PathBuf>,
    services: HostServices,
    remote: Option<Arc<dyn RemoteDelivery>>,
    containers: Option<Arc<dyn ContainerEngine>>,
}

impl RuntimeBuilder {
    /// Where compiled components persist (default: memory only).
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// The key/value store behind `cstore:NS` and `wasi:keyvalue` (CSTORE).
    pub fn key_value(mut self, service: Arc<dyn KeyValue>) -> Self {
        self.services.key_value = Some(service);
        self
    }

    /// The file service behind `r1fs` / `r1fs-ro` (R1FS).
    pub fn blobs(mut self, service: Arc<dyn BlobService>) -> Self {
        self.services.blobs = Some(service);
        self
    }

    /// The inference service behind `infer` / `infer:MODEL`.
    pub fn inference(mut self, service: Arc<dyn InferService>) -> Self {
        self.services.infer = Some(service);
        self
    }

    /// The EDIL service behind `edil:JOB` / `edil-owner:JOB`.
    pub fn edil(mut self, service: Arc<dyn EdilService>) -> Self {
        self.services.edil = Some(service);
        self
    }

    /// Deeploy's scheduler control behind `deeploy` (system actors only).
    pub fn deeploy(
        mut self,
        control: Arc<dyn r1_core::contract::deeploy::SchedulerControl>,
    ) -> Self {
        self.services.deeploy = Some(control);
        self
    }

    /// OracleSync's oracle control behind `oraclesync` (the node's own oracle only).
    pub fn oraclesync(
        mut self,
        control: Arc<dyn r1_core::contract::oraclesync::OracleControl>,
    ) -> Self {
        self.services.oraclesync = Some(control);
        self
    }

    /// Delivery to `NODE/NAME` addresses (without it, such addresses are refused).
    pub fn remote(mut self, transport: Arc<dyn RemoteDelivery>) -> Self {
        self.remote = Some(transport);
        self
    }

    /// The container engine behind [`Runtime::spawn_container`] (the OCI fallback; without
    /// it, containers are refused with the reason).
    pub fn containers(mut self, engine: Arc<dyn ContainerEngine>) -> Self {
        self.containers = Some(engine);
        self
    }

    /// Builds the engine and worker threads. Must run inside an actix `System`.
    pub fn build(self) -> Result<Runtime, RuntimeError> {
        let RuntimeBuilder {
            config,
            policy,
            cache_dir,
            services,
            remote,
            containers,
        } = self;
        let engine = EngineHandle::new(&config)?;
        let cache = ComponentCache::new(engine.engine.clone(), cache_dir)
            .map_err(|e| RuntimeError::Io(std::io::Error::other(e.to_string())))?;
        let workers = match config.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let workers = (0..workers).map(|_| Arbiter::new()).collect();
        tracing::info!(allocator = ?engine.allocator, "wasm runtime ready");
        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                cache,
                config,
                pres: Mutex::default(),
                router: Arc::new(Router::with_remote(remote)),
                logbook: Default::default(),
                actors: Mutex::default(),
                http_apps: Mutex::default(),
                policy,
                services,
                containers,
                workers,
                next_worker: AtomicUsize::new(0),
            }),
        })
    }
}

impl Runtime {
    /// Starts building a runtime with `config` that runs what `policy` admits.
    pub fn builder(config: RuntimeConfig, policy: TrustPolicy) -> RuntimeBuilder {
        RuntimeBuilder {
            config,
            policy,
            cache_dir: None,
            services: HostServices::default(),
            remote: None,
            containers: None,
        }
    }

    /// The instance allocator the engine ended up with.
    pub fn allocator(&self) -> AllocatorKind {
        self.inner.engine.allocator
    }

    /// The wasmtime engine components are compiled and run with.
    pub fn engine(&self) -> &wasmtime::Engine {
        &self.inner.engine.engine
    }

    /// The configuration the runtime was built with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Compiles (or fetches from cache) `wasm` on a blocking thread.
    async fn load(&self, wasm: Vec<u8>) -> Result<(Component, ContentHash), LoadError> {
        let cache = self.inner.cache.clone();
        tokio::task::spawn_blocking(move || cache.load(&wasm))
            .await
            .unwrap_or_else(|join| {
                Err(LoadError::Invalid(wasmtime::Error::msg(format!(
                    "compiler thread failed: {join}"
                ))))
            })
    }

    /// Imports, exports and needed grants of a component.
    pub async fn inspect(&self, wasm: Vec<u8>) -> Result<ComponentReport, LoadError> {
        let (component, hash) = self.load(wasm).await?;
        Ok(linker::report(self.engine(), &component, &hash))
    }

    /// Pre-links `component` for `caps`, once per (component, capability set).
    fn instance_pre(
        &self,
        actor: &str,
        component: &Component,
        hash: &str,
        caps: Vec<Capability>,
    ) -> Result<ActorPre<ActorState>, SpawnError> {
        let key = (hash.to_owned(), caps);
        let mut pres = self.inner.pres.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(pre) = pres.get(&key) {
            return Ok(pre.clone());
        }
        let linker =
            linker::build_linker(self.engine(), &key.1).map_err(|e| SpawnError::Setup {
                actor: actor.to_owned(),
                reason: format!("{e:#}"),
            })?;
        let pre = linker
            .instantiate_pre(component)
            .map_err(|e| SpawnError::Instantiate {
                actor: actor.to_owned(),
                reason: format!("{e:#}"),
            })?;
        let pre = ActorPre::new(pre).map_err(SpawnError::NotAnActor)?;
        pres.insert(key, pre.clone());
        Ok(pre)
    }

    /// The doors every component passes before anything runs: its name, its shape, the trust
    /// policy (nothing is compiled from bytes the policy refuses), its imports against its
    /// grants and, when signed, against its claims.
    async fn admit(
        &self,
        name: &str,
        wasm: Vec<u8>,
        grants: &Grants,
    ) -> Result<(Component, ContentHash, Provenance, ComponentKind), SpawnError> {
        if !valid_name(name) || name == HOST_SENDER {
            return Err(SpawnError::BadName(name.to_owned()));
        }
        if self.lock_actors().contains_key(name) {
            return Err(SpawnError::NameTaken(name.to_owned()));
        }
        crate::cache::validate(&wasm)?;
        let provenance = self
            .inner
            .policy
            .check(name, &wasm, grants, unix_now())
            .map_err(|e| match e {
                SignatureError::MalformedWasm(why) => SpawnError::Load(LoadError::Malformed(why)),
                other => SpawnError::Signature(other),
            })?;
        let (component, hash) = self.load(wasm).await?;
        linker::check(name, self.engine(), &component, grants)?;
        if let Provenance::Signed(verified) = &provenance {
            linker::check_declared(name, self.engine(), &component, &verified.claims)?;
        }
        let (_, exports) = linker::interfaces(self.engine(), &component);
        let kind = linker::kind_of(&exports).ok_or_else(|| {
            SpawnError::NotAnActor(wasmtime::Error::msg(format!(
                "it exports none of r1:actor/handler (an actor), wasi:http/incoming-handler \
                 (an HTTP component) or wasi:cli/run (a command); exports: [{}]",
                exports.join(", ")
            )))
        })?;
        Ok((component, hash, provenance, kind))
    }

    fn limits(&self, limits: Option<ActorLimits>) -> ActorLimits {
        let mut limits = limits.unwrap_or(self.inner.config.default_limits);
        limits.max_memory_bytes = limits
            .max_memory_bytes
            .min(self.inner.config.pool_max_memory_bytes);
        limits
    }

    /// A command ready to run, or why `component` is not one.
    fn job(
        &self,
        name: &str,
        component: &Component,
        spec: (Grants, Vec<(String, String)>, ActorLimits),
        io: Io,
    ) -> Result<Job, SpawnError> {
        let (grants, config, limits) = spec;
        let setup = |e: wasmtime::Error| SpawnError::Instantiate {
            actor: name.to_owned(),
            reason: format!("{e:#}"),
        };
        let linker = linker::build_linker(self.engine(), &grants.capabilities()).map_err(setup)?;
        let pre = crate::job::command_pre(&linker, component).map_err(setup)?;
        Ok(Job {
            recipe: self.recipe(name, grants, config, limits, io),
            pre,
        })
    }

    /// What every instance of deployment `name` is made from.
    fn recipe(
        &self,
        name: &str,
        grants: Grants,
        config: Vec<(String, String)>,
        limits: ActorLimits,
        io: Io,
    ) -> Recipe {
        Recipe {
            name: Arc::from(name),
            engine: self.engine().clone(),
            grants,
            limits,
            config,
            io,
            router: self.inner.router.clone(),
            logbook: self.inner.logbook.clone(),
            services: self.inner.services.clone(),
        }
    }

    /// What the runtime reports of a deployment just started.
    fn new_info(
        name: &str,
        kind: ComponentKind,
        hash: ContentHash,
        grants: &Grants,
        provenance: &Provenance,
    ) -> ActorInfo {
        ActorInfo {
            name: name.to_owned(),
            kind,
            component: hash,
            grants: grants.to_strings(),
            publisher: provenance.publisher().map(|k| k.fingerprint()),
            status: ActorStatus::Running,
            restarts: 0,
            last_crash: None,
            subscriptions: Vec::new(),
        }
    }

    /// The worker the next actor or job goes to (round-robin).
    fn next_worker(&self) -> &Arbiter {
        &self.inner.workers
            [self.inner.next_worker.fetch_add(1, Ordering::Relaxed) % self.inner.workers.len()]
    }

    /// Runs a command component to its end here (`r1 run`), with `io`'s streams, arguments
    /// and environment; the same doors as [`Runtime::spawn`]. An actor component is refused.
    pub async fn run_job(&self, spec: ActorSpec, io: Io) -> Result<JobExit, SpawnError> {
        let (component, _, _, kind) = self.admit(&spec.name, spec.wasm, &spec.grants).await?;
        if kind != ComponentKind::Command {
            return Err(SpawnError::NotAnActor(wasmtime::Error::msg(
                "it is an actor (exports r1:actor/handler), not a command: start it and send it messages",
            )));
        }
        let limits = self.limits(spec.limits);
        let job = self.job(
            &spec.name,
            &component,
            (spec.grants, spec.config, limits),
            io,
        )?;
        Ok(job.run().await)
    }

    /// Checks, instantiates and initialises an actor, then starts it on a worker. A command
    /// component starts as a job instead: it runs once on a worker, its output goes to the
    /// node log, and its exit status ends up in its [`ActorInfo`].
    pub async fn spawn(&self, spec: ActorSpec) -> Result<ActorInfo, SpawnError> {
        self.spawn_with_io(spec, Io::default()).await
    }

    /// [`Runtime::spawn`] with WASI arguments and environment (`io`; its `inherit_stdio` is
    /// ignored: on a node, output goes to the log).
    pub async fn spawn_with_io(&self, spec: ActorSpec, io: Io) -> Result<ActorInfo, SpawnError> {
        let io = Io {
            inherit_stdio: false,
            ..io
        };
        let ActorSpec {
            name,
            wasm,
            grants,
            config,
            limits,
        } = spec;
        let (component, hash, provenance, kind) = self.admit(&name, wasm, &grants).await?;
        let limits = self.limits(limits);
        if kind == ComponentKind::Command {
            let job = self.job(&name, &component, (grants.clone(), config, limits), io)?;
            return self.start_job(job, &grants, hash, &provenance);
        }
        if kind == ComponentKind::Http {
            let setup = |e: wasmtime::Error| SpawnError::Instantiate {
                actor: name.clone(),
                reason: format!("{e:#}"),
            };
            let linker =
                linker::build_linker(self.engine(), &grants.capabilities()).map_err(setup)?;
            let pre = linker.instantiate_pre(&component).map_err(setup)?;
            let pre = wasmtime_wasi_http::p2::bindings::ProxyPre::new(pre).map_err(setup)?;
            let app = Arc::new(HttpApp {
                recipe: self.recipe(&name, grants.clone(), config, limits, io),
                pre,
            });
            let info = Self::new_info(&name, ComponentKind::Http, hash, &grants, &provenance);
            let mut actors = self.lock_actors();
            if actors.contains_key(&name) {
                return Err(SpawnError::NameTaken(name));
            }
            self.inner
                .http_apps
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(name.clone(), app);
            actors.insert(
                name.clone(),
                ActorEntry {
                    addr: None,
                    job: None,
                    info: Arc::new(Mutex::new(info.clone())),
                },
            );
            tracing::info!(component = %name, "HTTP component ready");
            return Ok(info);
        }
        let pre = self.instance_pre(&name, &component, &hash, grants.capabilities())?;
        let template = Arc::new(ActorTemplate {
            recipe: self.recipe(&name, grants.clone(), config, limits, io),
            pre,
            policy: limits.restart.unwrap_or(self.inner.config.restart),
        });
        let instance = template.start().await.map_err(|crash| {
            self.inner.router.unregister(&name);
            SpawnError::Init {
                actor: name.clone(),
                reason: crash.to_string(),
            }
        })?;
        let info = Arc::new(Mutex::new(Self::new_info(
            &name,
            ComponentKind::Actor,
            hash,
            &grants,
            &provenance,
        )));
        let mut actors = self.lock_actors();
        if actors.contains_key(&name) {
            return Err(SpawnError::NameTaken(name));
        }
        let worker = self.next_worker();
        let mut reply = info.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let actor_info = info.clone();
        let addr = WasmActor::start_in_arbiter(&worker.handle(), move |_| {
            WasmActor::new(template, instance, actor_info)
        });
        self.enlist(
            &mut actors,
            &name,
            (addr.clone().recipient(), addr.recipient()),
            info,
        );
        drop(actors);
        tracing::info!(actor = %name, "actor started");
        reply.subscriptions = self.inner.router.subscriptions(&name);
        Ok(reply)
    }

    /// Starts an OCI container as an actor (see [`crate::container`]): the image's signature
    /// is checked against the trust policy first, then its grants become the container's
    /// mounts (`fs:`/`fs-ro:`) and network (`net`); a grant a container cannot use is refused.
    /// Memory comes from the limits' `max_memory_bytes`, the message deadline from their
    /// `deadline`, restarts from their policy.
    pub async fn spawn_container(&self, spec: ContainerLaunch) -> Result<ActorInfo, SpawnError> {
        let ContainerLaunch {
            name,
            image,
            signature,
            args,
            grants,
            limits,
        } = spec;
        if !valid_name(&name) || name == HOST_SENDER {
            return Err(SpawnError::BadName(name));
        }
        let refuse = |reason: String| SpawnError::Container {
            actor: name.clone(),
            reason,
        };
        let engine = self.inner.containers.clone().ok_or_else(|| {
            refuse("this node runs no containers (no OCI runtime, or not enabled)".into())
        })?;
        let usable = Grants {
            preopens: grants.preopens.clone(),
            net: grants.net,
            ..Grants::default()
        };
        if usable != grants {
            return Err(refuse(format!(
                "a container can be granted only fs:, fs-ro: and net (asked: {})",
                grants.to_strings().join(", ")
            )));
        }
        let provenance = self.inner.policy.check_image(
            &name,
            &image,
            signature.as_deref(),
            &grants,
            crate::signing::policy::unix_now(),
        )?;
        let limits = limits.unwrap_or(self.inner.config.default_limits);
        let spec = ContainerSpec {
            image: image.clone(),
            args,
            mounts: grants
                .preopens
                .iter()
                .map(|p| ContainerMount {
                    host: p.host.clone(),
                    guest: p.guest.clone(),
                    writable: !p.read_only,
                })
                .collect(),
            network: grants.net,
            memory_bytes: limits.max_memory_bytes as u64,
            cpu_millis: 1000,
            pids: 64,
        };
        let logbook = self.inner.logbook.clone();
        let log_name = name.clone();
        let template = Arc::new(ContainerTemplate {
            name: Arc::from(name.as_str()),
            spec,
            engine,
            log: Arc::new(move |line: &str| logbook.record(&log_name, "warn", line)),
            deadline: limits.deadline,
            mailbox_capacity: limits.mailbox_capacity,
            router: self.inner.router.clone(),
        });
        if self.lock_actors().contains_key(&name) {
            return Err(SpawnError::NameTaken(name));
        }
        let instance = template.start().await.map_err(refuse)?;
        let info = Arc::new(Mutex::new(Self::new_info(
            &name,
            ComponentKind::Container,
            image,
            &grants,
            &provenance,
        )));
        let window = CrashWindow::new(limits.restart.unwrap_or(self.inner.config.restart));
        let reply = info.lock().unwrap_or_else(|p| p.into_inner()).clone();
        // Registered only if the name is still free; otherwise the instance goes again.
        let refused = {
            let mut actors = self.lock_actors();
            if actors.contains_key(&name) {
                Some(instance)
            } else {
                let worker = self.next_worker();
                let actor_info = info.clone();
                let addr = ContainerActor::start_in_arbiter(&worker.handle(), move |_| {
                    ContainerActor::new(template, instance, window, actor_info)
                });
                self.enlist(
                    &mut actors,
                    &name,
                    (addr.clone().recipient(), addr.recipient()),
                    info,
                );
                None
            }
        };
        if let Some(instance) = refused {
            instance.stop().await;
            return Err(SpawnError::NameTaken(name));
        }
        tracing::info!(actor = %name, "container started");
        Ok(reply)
    }

    /// Routes `name` to its mailbox and records it with its stop handle (the caller holds
    /// the actor table, so a name is checked free and taken in one step).
    fn enlist(
        &self,
        actors: &mut ActorTable,
        name: &str,
        (mailbox, stop): (Recipient<Deliver>, Recipient<StopActor>),
        info: Arc<Mutex<ActorInfo>>,
    ) {
        self.inner.router.register(name, mailbox);
        actors.insert(
            name.to_owned(),
            ActorEntry {
                addr: Some(stop),
                job: None,
                info,
            },
        );
    }

    /// Starts `job` on a worker and records it; its status becomes `exited` (or `failed`).
    fn start_job(
        &self,
        job: Job,
        grants: &Grants,
        hash: ContentHash,
        provenance: &Provenance,
    ) -> Result<ActorInfo, SpawnError> {
        let name = job.recipe.name.to_string();
        let info = Arc::new(Mutex::new(Self::new_info(
            &name,
            ComponentKind::Command,
            hash,
            grants,
            provenance,
        )));
        let mut actors = self.lock_actors();
        if actors.contains_key(&name) {
            return Err(SpawnError::NameTaken(name));
        }
        let worker = self.next_worker();
        tracing::info!(job = %name, "job started");
        let (cancel, cancelled) = tokio::sync::oneshot::channel::<()>();
        let recorded = info.clone();
        let job_name = name.clone();
        worker.spawn(async move {
            let exit = tokio::select! {
                exit = job.run() => exit,
                _ = cancelled => JobExit::Crashed("stopped on request".into()),
            };
            let mut info = recorded.lock().unwrap_or_else(|p| p.into_inner());
            match &exit {
                JobExit::Code(code) => {
                    tracing::info!(job = %job_name, code, "job exited");
                    info.status = ActorStatus::Exited { code: *code };
                }
                JobExit::Crashed(reason) => {
                    tracing::error!(job = %job_name, %reason, "job ended without an exit status");
                    info.status = ActorStatus::Failed {
                        reason: reason.clone(),
                    };
                    info.last_crash = Some(reason.clone());
                }
            }
        });
        let reply = info.lock().unwrap_or_else(|p| p.into_inner()).clone();
        actors.insert(
            name.clone(),
            ActorEntry {
                addr: None,
                job: Some(cancel),
                info,
            },
        );
        Ok(reply)
    }

    fn lock_actors(&self) -> std::sync::MutexGuard<'_, ActorTable> {
        self.inner.actors.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The actor's current state.
    pub fn info(&self, name: &str) -> Option<ActorInfo> {
        let actors = self.lock_actors();
        let entry = actors.get(name)?;
        let mut info = entry.info.lock().unwrap_or_else(|p| p.into_inner()).clone();
        info.subscriptions = self.inner.router.subscriptions(name);
        Some(info)
    }

    /// Every actor the node knows, running or not, by name.
    pub fn list(&self) -> Vec<ActorInfo> {
        let names: Vec<String> = self.lock_actors().keys().cloned().collect();
        names.iter().filter_map(|n| self.info(n)).collect()
    }

    /// Stops `name` and forgets it.
    pub async fn stop(&self, name: &str) -> Result<(), DeliveryError> {
        let ActorEntry { addr, job, .. } = self
            .lock_actors()
            .remove(name)
            .ok_or_else(|| DeliveryError::UnknownActor(name.to_owned()))?;
        self.inner.router.unregister(name);
        self.inner.logbook.forget(name);
        self.inner
            .http_apps
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        if let Some(job) = job {
            // A job still running is cancelled at its next yield; a finished one is forgotten.
            let _ = job.send(());
        }
        if let Some(addr) = addr {
            // Closed already (failed actor) is fine: it is gone either way.
            let _ = addr.send(StopActor).await;
        }
        Ok(())
    }

    /// Sends `payload` to `name` as the host and waits for the reply.
    pub async fn request(
        &self,
        name: &str,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Option<Vec<u8>>, DeliveryError> {
        self.known(name)?;
        let msg = Deliver::new(HOST_SENDER, None, payload);
        self.inner
            .router
            .request(name, msg, timeout, Reach::Mesh)
            .await
    }

    /// Queues `payload` for `name` without waiting.
    pub fn send(&self, name: &str, payload: Vec<u8>) -> Result<(), DeliveryError> {
        self.known(name)?;
        self.inner
            .router
            .try_deliver(name, Deliver::new(HOST_SENDER, None, payload), Reach::Mesh)
    }

    /// Publishes on `topic` as the host, to subscribers on every node; returns how many
    /// subscribers it reached (or was queued for, on other nodes).
    pub fn publish(&self, topic: &str, payload: Vec<u8>) -> u32 {
        self.inner
            .router
            .publish(HOST_SENDER, topic, payload, Reach::Mesh)
    }

    /// Answers `request` with HTTP component `name` (a fresh instance per request).
    pub async fn handle_http<B>(
        &self,
        name: &str,
        request: hyper::Request<B>,
    ) -> Result<hyper::Response<wasmtime_wasi_http::p2::body::HyperOutgoingBody>, HttpError>
    where
        B: hyper::body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let app = self
            .inner
            .http_apps
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
            .ok_or_else(|| HttpError::NoSuchComponent(name.to_owned()))?;
        app.handle(request).await
    }

    /// What actor `name` logged lately (stdout, stderr, its log events), oldest first; `None`
    /// when no such actor runs.
    pub fn logs(&self, name: &str) -> Option<Vec<crate::LogLine>> {
        self.info(name)?;
        Some(self.inner.logbook.lines(name))
    }

    /// The nodes an actor called `name` runs on: this one first when it runs here, then the
    /// other nodes the mesh directory knows of.
    pub fn locate(&self, name: &str) -> Vec<String> {
        self.inner.router.locate(name)
    }

    /// Makes `alias` a name for `actors` running here (messages to it go to each in turn,
    /// and other nodes reach it through the directory); an empty list removes it.
    pub fn set_alias(&self, alias: &str, actors: Vec<String>) {
        self.inner.router.set_alias(alias, actors);
    }

    /// The other nodes this one can deliver to now.
    pub fn nodes(&self) -> Vec<String> {
        self.inner.router.nodes()
    }

    /// What hands messages from other nodes to this node's actors (the transport needs it).
    pub fn local_delivery(&self) -> Arc<dyn r1_core::contract::remote::LocalDelivery> {
        self.inner.router.clone()
    }

    /// Distinguishes "failed/stopped" from "never existed" for a clearer error; a name that
    /// does not run here is left to the router (it may run on another node).
    fn known(&self, name: &str) -> Result<(), DeliveryError> {
        match self.info(name) {
            None => Ok(()),
            Some(ActorInfo {
                status: ActorStatus::Failed { reason },
                ..
            }) => Err(DeliveryError::Denied(format!(
                "actor {name:?} has failed: {reason}"
            ))),
            Some(_) => Ok(()),
        }
    }

    /// Stops every actor and the worker threads.
    pub async fn shutdown(&self) {
        let names: Vec<String> = self.lock_actors().keys().cloned().collect();
        for name in names {
            let _ = self.stop(&name).await;
        }
        for worker in &self.inner.workers {
            worker.stop();
        }
    }
}
