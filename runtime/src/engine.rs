//! The wasmtime engine: cranelift, async, epoch interruption, and a pooling allocator with
//! copy-on-write memory images that falls back to on-demand allocation when the host cannot
//! reserve the address space the pool needs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::config::RuntimeConfig;
use crate::error::RuntimeError;

/// Which instance allocator the engine ended up with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AllocatorKind {
    /// The pooling allocator, sized by the runtime config.
    Pooling,
    /// Pooling was requested but could not reserve its address space.
    OnDemandFallback,
    /// On-demand allocation, because pooling was turned off in the config.
    OnDemand,
}

/// An engine plus the ticker thread that advances its epoch.
pub struct EngineHandle {
    /// The wasmtime engine every component is compiled and run with.
    pub engine: Engine,
    /// The instance allocator the engine was built with.
    pub allocator: AllocatorKind,
    ticker: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl EngineHandle {
    /// Builds the engine (pooling if asked and possible) and starts the epoch ticker thread.
    pub fn new(config: &RuntimeConfig) -> Result<Self, RuntimeError> {
        let (engine, allocator) = if config.pooling {
            match Engine::new(&wasmtime_config(Some(config))) {
                Ok(engine) => (engine, AllocatorKind::Pooling),
                Err(err) => {
                    tracing::warn!(
                        error = %err,
                        "pooling allocator unavailable (address space?); using on-demand allocation"
                    );
                    (
                        Engine::new(&wasmtime_config(None)).map_err(RuntimeError::Engine)?,
                        AllocatorKind::OnDemandFallback,
                    )
                }
            }
        } else {
            (
                Engine::new(&wasmtime_config(None)).map_err(RuntimeError::Engine)?,
                AllocatorKind::OnDemand,
            )
        };

        let stop = Arc::new(AtomicBool::new(false));
        let tick = config.epoch_tick;
        let weak = engine.weak();
        let stop_flag = stop.clone();
        let ticker = std::thread::Builder::new()
            .name("r1-epoch".into())
            .spawn(move || {
                while !stop_flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .map_err(RuntimeError::Io)?;
        Ok(Self {
            engine,
            allocator,
            ticker: Some(ticker),
            stop,
        })
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
    }
}

/// The engine settings; `pool` = `None` for on-demand allocation.
pub fn wasmtime_config(pool: Option<&RuntimeConfig>) -> Config {
    let mut cfg = Config::new();
    cfg.wasm_component_model(true)
        .epoch_interruption(true)
        .memory_init_cow(true)
        .cranelift_opt_level(wasmtime::OptLevel::Speed);
    if let Some(rc) = pool {
        let mut pooling = PoolingAllocationConfig::new();
        let n = rc.pool_instances.max(1);
        pooling
            .total_component_instances(n)
            // A Rust guest is a handful of core instances and one memory; give headroom.
            .total_core_instances(n * 8)
            .total_memories(n * 2)
            .total_tables(n * 4)
            .total_stacks(n)
            .max_memory_size(rc.pool_max_memory_bytes)
            .max_memories_per_component(4)
            .max_tables_per_component(8)
            .max_core_instances_per_component(16);
        cfg.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    }
    cfg
}

/// A stable fingerprint of everything that makes a compiled artifact valid for this engine:
/// wasmtime version, target, and every setting that affects code generation.
pub fn fingerprint(engine: &Engine) -> String {
    use std::hash::Hash;
    let mut hasher = Blake3Hasher(blake3::Hasher::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.0.finalize().to_hex()[..16].to_owned()
}

/// Adapts BLAKE3 to `std::hash::Hasher` so the fingerprint does not depend on the
/// unstable `DefaultHasher`.
struct Blake3Hasher(blake3::Hasher);

impl std::hash::Hasher for Blake3Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.finalize();
        u64::from_le_bytes(digest.as_bytes()[..8].try_into().unwrap_or([0; 8]))
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}
