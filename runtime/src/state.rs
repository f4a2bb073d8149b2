//! The per-instance store data: WASI context, limits, deadline and the capability handles an
//! actor was granted. One `ActorState` lives in one `Store`, owned by one actor.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::{Engine, Store, UpdateDeadline};

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use r1_core::contract::blobs::BlobService;
use r1_core::contract::edil::EdilService;
use r1_core::contract::infer::InferService;
use r1_core::contract::kv::KeyValue;

use crate::grants::{Grants, ModelScope};
use crate::log_stream::LogStream;
use crate::router::{Reach, Router};

/// A guest call ran past its wall-clock deadline.
#[derive(Debug, thiserror::Error)]
#[error("deadline of {limit_ms} ms exceeded")]
pub struct DeadlineExceeded {
    /// The deadline that was overrun, in milliseconds.
    pub limit_ms: u128,
}

/// A guest tried to grow its memory past its limit.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {limit} bytes exceeded (tried to grow to {desired})")]
pub struct MemoryLimitExceeded {
    /// The instance's memory limit, in bytes.
    pub limit: usize,
    /// The size the guest asked to grow a memory to, in bytes.
    pub desired: usize,
}

/// Memory/table/instance limits for one store. Growth beyond the memory limit traps with
/// [`MemoryLimitExceeded`] so the supervisor can tell it from other crashes.
pub struct ActorLimiter {
    /// Largest size any one linear memory may grow to, in bytes.
    pub max_memory_bytes: usize,
}

const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl wasmtime::ResourceLimiter for ActorLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory_bytes {
            return Err(wasmtime::Error::new(MemoryLimitExceeded {
                limit: self.max_memory_bytes,
                desired,
            }));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        32
    }

    fn tables(&self) -> usize {
        32
    }

    fn memories(&self) -> usize {
        8
    }
}

/// Store data of one actor instance.
pub struct ActorState {
    pub(crate) name: Arc<str>,
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: ActorLimiter,
    /// When the current guest call must be finished; checked on every epoch tick.
    pub(crate) deadline: Instant,
    pub(crate) deadline_ms: u128,
    pub(crate) router: Arc<Router>,
    /// How far this actor's messages may go (`mesh` grant: every admitted node).
    pub(crate) reach: Reach,
    /// The key/value store (CSTORE) and namespace, present only when granted.
    pub(crate) cstore: Option<(Arc<dyn KeyValue>, String)>,
    /// R1FS and whether the grant is read-only, present only when granted.
    pub(crate) blobs: Option<(Arc<dyn BlobService>, bool)>,
    /// Inference and the models granted, present only when granted.
    pub(crate) infer: Option<(Arc<dyn InferService>, ModelScope)>,
    /// `wasi:http` state of this instance.
    pub(crate) http_ctx: wasmtime_wasi_http::WasiHttpCtx,
    /// Which hosts outgoing HTTP may reach (`http:HOST` grants; empty: none).
    pub(crate) http_hooks: crate::host::outgoing_http::HttpHooks,
    /// The deployment's configuration, for `wasi:config/store`.
    pub(crate) config: wasmtime_wasi_config::WasiConfigVariables,
    /// EDIL and the jobs granted (job → may decrypt), present only when granted.
    pub(crate) edil: Option<(
        Arc<dyn EdilService>,
        std::collections::BTreeMap<String, bool>,
    )>,
    /// Where this actor's log lines are kept for the API.
    pub(crate) logbook: crate::logbook::LogBook,
    /// Deeploy's scheduler control, present only when granted (system actors).
    pub(crate) deeploy: Option<Arc<dyn r1_core::contract::deeploy::SchedulerControl>>,
    /// OracleSync's oracle control, present only when granted (the node's oracle).
    pub(crate) oraclesync: Option<Arc<dyn r1_core::contract::oraclesync::OracleControl>>,
}

/// How an instance's WASI standard streams, arguments and environment are set up. Nothing is
/// ambient: what is not given here is absent.
#[derive(Debug, Clone, Default)]
pub struct Io {
    /// Use this process's stdin, stdout and stderr (`r1 run` of a command). Otherwise stdout
    /// and stderr go to the node log, a line per event, and stdin is empty.
    pub inherit_stdio: bool,
    /// Arguments after the program name (which is the actor's name).
    pub args: Vec<String>,
    /// Environment variables.
    pub env: Vec<(String, String)>,
}

impl ActorState {
    /// Builds the store data for actor `name` from its grants: WASI with its preopens, output
    /// to the node log, no capability handle yet (`crate::capability::attach` adds those).
    pub fn new(
        name: Arc<str>,
        grants: &Grants,
        max_memory_bytes: usize,
        router: Arc<Router>,
    ) -> Result<Self, String> {
        Self::with_io(
            name,
            grants,
            max_memory_bytes,
            router,
            &Io::default(),
            crate::logbook::LogBook::default(),
        )
    }

    /// [`ActorState::new`] with standard streams, arguments and environment set by `io`.
    pub fn with_io(
        name: Arc<str>,
        grants: &Grants,
        max_memory_bytes: usize,
        router: Arc<Router>,
        io: &Io,
        logbook: crate::logbook::LogBook,
    ) -> Result<Self, String> {
        let mut wasi = WasiCtxBuilder::new();
        // Nothing ambient: no inherited env, args, stdin or network unless `io` says so.
        if io.inherit_stdio {
            wasi.inherit_stdio();
        } else {
            wasi.stdout(LogStream::new(name.clone(), "stdout", logbook.clone()))
                .stderr(LogStream::new(name.clone(), "stderr", logbook.clone()));
        }
        let mut argv = vec![name.to_string()];
        argv.extend(io.args.iter().cloned());
        wasi.args(&argv)
            .envs(&io.env)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        for preopen in &grants.preopens {
            let perms = if preopen.read_only {
                FsPerms::ReadOnly
            } else {
                FsPerms::ReadWrite
            };
            wasi.preopened_dir(&preopen.host, &preopen.guest, perms)
                .map_err(|e| format!("cannot preopen {}: {e:#}", preopen.host.display()))?;
        }
        let state = Self {
            name,
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter: ActorLimiter { max_memory_bytes },
            deadline: Instant::now(),
            deadline_ms: 0,
            router,
            reach: Reach::Local,
            cstore: None,
            blobs: None,
            infer: None,
            config: Default::default(),
            http_ctx: wasmtime_wasi_http::WasiHttpCtx::new(),
            http_hooks: Default::default(),
            edil: None,
            deeploy: None,
            oraclesync: None,
            logbook,
        };
        Ok(state)
    }
}

impl WasiView for ActorState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wasmtime_wasi_http::WasiHttpView for ActorState {
    fn http(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_> {
        wasmtime_wasi_http::WasiHttpCtxView {
            hooks: &mut self.http_hooks,
            table: &mut self.table,
            ctx: &mut self.http_ctx,
        }
    }
}

/// A store for one instance: limits installed and deadlines enforced on every epoch tick.
/// Arm a call with [`arm_deadline`] before entering the guest.
pub fn new_store(engine: &Engine, state: ActorState) -> Store<ActorState> {
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limiter);
    store.epoch_deadline_callback(|ctx| {
        let data = ctx.data();
        if Instant::now() >= data.deadline {
            return Err(wasmtime::Error::new(DeadlineExceeded {
                limit_ms: data.deadline_ms,
            }));
        }
        // Not yet due: let other actors on this thread run, check again next tick.
        Ok(UpdateDeadline::Yield(1))
    });
    store
}

/// Gives the next guest call `budget` of wall-clock time.
pub fn arm_deadline(store: &mut Store<ActorState>, budget: std::time::Duration) {
    let data = store.data_mut();
    data.deadline = Instant::now() + budget;
    data.deadline_ms = budget.as_millis();
    store.set_epoch_deadline(1);
}
