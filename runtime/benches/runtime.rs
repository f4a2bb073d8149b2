//! Runtime benchmarks, each printed next to its peer measured in the same run:
//!
//! - `instantiate_p50_us`: R1's path (InstancePre + pooling allocator + copy-on-write memory
//!   images) vs plain `Linker::instantiate_async` with on-demand allocation, same component
//!   (`hello`: a wit-bindgen guest importing WASI p2 and r1:actor), same store data.
//! - `actor_roundtrip_msgs_per_s`: `ping` requests `pong` (two wasm actors on one worker
//!   thread, 64-byte payloads, through mailboxes) vs a plain direct host call of `pong`'s
//!   handler (no actor system): the floor for one guest call per message.
//!
//! - `neighbour_p99_during_writes_us`: the p99 of a 64-byte request to `pong` while
//!   `counter`, on the same worker thread, is kept busy with durable CSTORE writes (one
//!   fsync'd increment after another), next to the same pings with `counter` idle: how much one actor's
//!   blocking host work costs its neighbours.
//!
//! Needs the guests (`make guests`). Run: `cargo bench -p r1-runtime --bench runtime`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use r1_runtime::engine::wasmtime_config;
use r1_runtime::grants::Grants;
use r1_runtime::host::actor::bindings::ActorPre;
use r1_runtime::host::actor::bindings::r1::actor::types::Message;
use r1_runtime::router::Router;
use r1_runtime::state::{ActorState, arm_deadline, new_store};
use r1_runtime::{ActorSpec, Runtime, RuntimeConfig};
use r1_test_support::guest;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};

fn state(router: &Arc<Router>) -> ActorState {
    ActorState::new(
        Arc::from("bench"),
        &Grants::default(),
        64 << 20,
        router.clone(),
    )
    .expect("actor state")
}

fn p50_us(mut samples: Vec<Duration>) -> f64 {
    samples.sort_unstable();
    samples[samples.len() / 2].as_secs_f64() * 1e6
}

struct Instantiation {
    tokio: tokio::runtime::Runtime,
    router: Arc<Router>,
    pooled_engine: Engine,
    pre: ActorPre<ActorState>,
    plain_engine: Engine,
    plain_linker: Linker<ActorState>,
    plain_component: Component,
}

impl Instantiation {
    fn new(wasm: &[u8]) -> Self {
        let config = RuntimeConfig::default();
        let pooled_engine = Engine::new(&wasmtime_config(Some(&config))).expect("pooling engine");
        let component = Component::new(&pooled_engine, wasm).expect("component");
        let linker = r1_runtime::linker::build_linker(&pooled_engine, &[]).expect("linker");
        let pre = ActorPre::new(linker.instantiate_pre(&component).expect("pre")).expect("actor");
        let plain_engine = Engine::new(&wasmtime_config(None)).expect("plain engine");
        let plain_component = Component::new(&plain_engine, wasm).expect("component");
        let plain_linker =
            r1_runtime::linker::build_linker(&plain_engine, &[]).expect("plain linker");
        Self {
            tokio: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio"),
            router: Arc::default(),
            pooled_engine,
            pre,
            plain_engine,
            plain_linker,
            plain_component,
        }
    }

    /// Time of one R1 instantiation (store creation included, drop excluded).
    fn r1_once(&self) -> Duration {
        self.tokio.block_on(async {
            let start = Instant::now();
            let mut store = new_store(&self.pooled_engine, state(&self.router));
            arm_deadline(&mut store, Duration::from_secs(5));
            let instance = self.pre.instantiate_async(&mut store).await.expect("inst");
            let elapsed = start.elapsed();
            drop((instance, store));
            elapsed
        })
    }

    fn plain_once(&self) -> Duration {
        self.tokio.block_on(async {
            let start = Instant::now();
            let mut store = Store::new(&self.plain_engine, state(&self.router));
            store.set_epoch_deadline(u64::MAX / 2);
            let instance = self
                .plain_linker
                .instantiate_async(&mut store, &self.plain_component)
                .await
                .expect("inst");
            let elapsed = start.elapsed();
            drop((instance, store));
            elapsed
        })
    }
}

/// `ping` asks `pong` N times inside the runtime; returns (msgs/s, p50 µs, p99 µs).
fn actor_roundtrip(n: usize) -> (f64, f64, f64) {
    actix::System::new().block_on(async move {
        let rt = Runtime::builder(
            RuntimeConfig {
                workers: 1,
                ..RuntimeConfig::default()
            },
            r1_runtime::TrustPolicy::dev(),
        )
        .build()
        .expect("runtime");
        for (name, wasm) in [("pong", "guest_pong"), ("ping", "guest_ping")] {
            rt.spawn(ActorSpec {
                name: name.into(),
                wasm: guest(wasm),
                grants: Grants::default(),
                config: Vec::new(),
                limits: None,
            })
            .await
            .expect("spawn");
        }
        // Warm up, then measure.
        rt.request("ping", b"bench:2000".to_vec(), Duration::from_secs(60))
            .await
            .expect("warm-up");
        let reply = rt
            .request(
                "ping",
                format!("bench:{n}").into_bytes(),
                Duration::from_secs(600),
            )
            .await
            .expect("bench")
            .expect("reply");
        rt.shutdown().await;
        let text = String::from_utf8(reply).expect("utf8");
        let field = |key: &str| -> f64 {
            text.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {key} in {text}"))
        };
        let total_s = field("total_ns=") / 1e9;
        (
            n as f64 / total_s,
            field("p50_ns=") / 1e3,
            field("p99_ns=") / 1e3,
        )
    })
}

/// The floor: the host calls `pong`'s handler directly, N times. Returns msgs/s.
fn direct_calls(n: usize) -> f64 {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let engine = Engine::new(&wasmtime_config(None)).expect("engine");
    let component = Component::new(&engine, guest("guest_pong")).expect("component");
    let linker = r1_runtime::linker::build_linker(&engine, &[]).expect("linker");
    let pre = ActorPre::new(linker.instantiate_pre(&component).expect("pre")).expect("actor");
    let router = Arc::default();
    tokio.block_on(async {
        let mut store = Store::new(&engine, state(&router));
        store.set_epoch_deadline(u64::MAX / 2);
        let actor = pre.instantiate_async(&mut store).await.expect("inst");
        let handler = actor.r1_actor_handler();
        handler
            .call_init(&mut store, &[])
            .await
            .expect("init")
            .expect("init ok");
        let msg = Message {
            sender: "host".into(),
            topic: None,
            payload: vec![7u8; 64],
        };
        let start = Instant::now();
        for _ in 0..n {
            let reply = handler
                .call_handle(&mut store, &msg)
                .await
                .expect("call")
                .expect("ok");
            assert_eq!(reply.map(|r| r.len()), Some(64));
        }
        n as f64 / start.elapsed().as_secs_f64()
    })
}

fn p99_us(mut samples: Vec<Duration>) -> f64 {
    samples.sort_unstable();
    samples[samples.len() * 99 / 100].as_secs_f64() * 1e6
}

/// `(quiet p99, p99 while the neighbour writes)` of `pings` requests to `pong`, in µs.
fn neighbour_p99(pings: usize) -> (f64, f64, u64) {
    actix::System::new().block_on(async move {
        let dir = tempfile::tempdir().expect("tmp");
        let store = r1_cstore::Cstore::open(dir.path()).expect("cstore");
        let rt = Runtime::builder(
            RuntimeConfig {
                workers: 1,
                ..RuntimeConfig::default()
            },
            r1_runtime::TrustPolicy::dev(),
        )
        .key_value(Arc::new(store.clone()))
        .build()
        .expect("runtime");
        for (name, wasm, grant) in [
            ("pong", "guest_pong", None),
            ("counter", "counter", Some("cstore:bench")),
        ] {
            let mut grants = Grants::default();
            if let Some(g) = grant {
                grants.add(g).expect("grant");
            }
            rt.spawn(ActorSpec {
                name: name.into(),
                wasm: guest(wasm),
                grants,
                config: Vec::new(),
                limits: None,
            })
            .await
            .expect("spawn");
        }
        let ping = |rt: Runtime| async move {
            let start = Instant::now();
            rt.request("pong", vec![7u8; 64], Duration::from_secs(60))
                .await
                .expect("ping");
            start.elapsed()
        };
        for _ in 0..200 {
            ping(rt.clone()).await;
        }
        let mut quiet = Vec::with_capacity(pings);
        for _ in 0..pings {
            quiet.push(ping(rt.clone()).await);
            actix_rt::time::sleep(Duration::from_micros(200)).await;
        }
        // `counter` writes back to back (one durable increment after another, never a
        // queue) for the whole second run.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (rt, stop) = (rt.clone(), stop.clone());
            actix_rt::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    rt.request("counter", b"x".to_vec(), Duration::from_secs(60))
                        .await
                        .expect("write");
                }
            })
        };
        actix_rt::time::sleep(Duration::from_millis(100)).await;
        let mut busy = Vec::with_capacity(pings);
        for _ in 0..pings {
            busy.push(ping(rt.clone()).await);
            actix_rt::time::sleep(Duration::from_micros(200)).await;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = writer.await;
        let writes = store
            .get("bench", "count")
            .ok()
            .flatten()
            .and_then(|v| String::from_utf8(v).ok())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        rt.shutdown().await;
        (p99_us(quiet), p99_us(busy), writes)
    })
}

fn main() {
    let mut criterion = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(3));
    let inst = Instantiation::new(&guest("hello"));

    let mut group = criterion.benchmark_group("instantiate");
    group.bench_function("r1_instance_pre_pooling", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| inst.r1_once()).sum())
    });
    group.bench_function("plain_linker_on_demand", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| inst.plain_once()).sum())
    });
    group.finish();

    const SAMPLES: usize = 5000;
    let r1_p50 = p50_us((0..SAMPLES).map(|_| inst.r1_once()).collect());
    let plain_p50 = p50_us((0..SAMPLES).map(|_| inst.plain_once()).collect());

    const MESSAGES: usize = 100_000;
    let (r1_rate, rt_p50, rt_p99) = actor_roundtrip(MESSAGES);
    let direct_rate = direct_calls(MESSAGES);
    let (quiet_p99, busy_p99, writes) = neighbour_p99(1000);

    println!();
    println!("metric                       r1            peer          ratio  (peer)");
    println!(
        "instantiate_p50_us           {r1_p50:<13.2} {plain_p50:<13.2} {:<6.2} (plain Linker::instantiate, on-demand; ratio = peer/r1)",
        plain_p50 / r1_p50
    );
    println!(
        "actor_roundtrip_msgs_per_s   {r1_rate:<13.0} {direct_rate:<13.0} {:<6.2} (plain direct call of pong's handler; ratio = r1/peer)",
        r1_rate / direct_rate
    );
    println!("actor_roundtrip_latency_us   p50 {rt_p50:.2}  p99 {rt_p99:.2}");
    println!(
        "neighbour_p99_during_writes_us {busy_p99:<11.1} {quiet_p99:<13.1} {:<6.2} (same pings, neighbour idle; ratio = busy/quiet; {writes} durable writes meanwhile)",
        busy_p99 / quiet_p99
    );
}
