//! CSTORE: the node's replicated key/value and hash-set store, persisted in fjall.
//!
//! Data model: every key is a last-writer-wins register, every hash field one too; a delete
//! writes a tombstone. Writes are [`op`]s stamped by a hybrid logical clock ([`hlc`]) and
//! signed by the writing node; conflicting ops are ordered by `(hlc, writer key)`, so every
//! replica that has seen the same ops holds the same values, whatever the delivery order.
//!
//! Invariants:
//! - **Durability** ([`Durability`]), per store: `sync` (the default) — a mutating call
//!   returns only after its op is in the fjall journal and synced (`PersistMode::SyncData`,
//!   shared by concurrent writers: group commit); an acknowledged write survives `kill -9` and
//!   power loss. `relaxed` — a call returns once its batch is written to the journal file
//!   (handed to the OS: it survives `kill -9` of the node), and the journal is synced at least
//!   every `flush` (default 1 s): a machine crash or power loss can lose the writes of the last
//!   `flush`, what Redis's `appendfsync everysec` promises. Replication and `min_acks` are the
//!   same in both.
//! - **Namespaces**: every key lives in a namespace; names cannot contain NUL, so one
//!   namespace can never alias another. The runtime maps an actor's grant to one namespace.
//! - **Versions**: a key's version grows by one per write (absent or deleted = 0);
//!   `compare_and_swap` is linearizable on one node; across nodes the last writer wins.
//! - **Signing**: the committer signs each round's local writes together — one ed25519
//!   signature over a Merkle root, each op stored with its proof ([`op`]) — before the round
//!   reaches the journal; nothing unsigned is stored, shipped or acknowledged, and every op
//!   still verifies alone.
//! - **Expiry**: a write may carry an absolute expiry ([`Expiry`]); from then on every read on
//!   every node treats the value as absent (by that node's wall clock), and it is collected with
//!   the tombstones.
//! - **Replication** ([`replication`]) ships ops after they are durable here and applies
//!   remote ops only when their signature holds and their writer is admitted.
//! - **Anti-entropy**: cells are hashed into 65,536 leaf buckets grouped under 256 top
//!   buckets; peers compare the 256 top digests, then the leaf digests under the tops that
//!   differ, and exchange the ops of the differing leaves only, read through a bucket index
//!   (`leaf | cell`, kept with every new cell) so an exchange costs about what differs (a
//!   leaf holds 1/65,536 of the store), not the whole store,
//!   in pages of at most 8 MiB that resume where the last page with that peer stopped, so a
//!   difference of any size is crossed.
//! - **Tombstones** are collected after a bounded horizon ([`Cstore::collect_tombstones`]); a
//!   replica partitioned for longer than the horizon may bring a deleted value back.

#![warn(missing_docs)]

pub mod hlc;
pub mod key_value;
pub mod op;
pub mod replication;
pub mod resp;

use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use ed25519_dalek::SigningKey;
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use tokio::sync::mpsc;

use crate::hlc::Hlc;
use crate::op::{Kind, OpBody, OpError, cell_key};

/// The largest value accepted. Values above the gossip limit replicate by request-response.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;
/// The largest key, namespace or field name accepted.
pub const MAX_KEY_BYTES: usize = 1024;
/// Largest page `list_keys` returns.
pub const MAX_PAGE: usize = 1000;
/// Top-level anti-entropy buckets (the first digest exchange).
pub const BUCKETS: usize = 256;
/// Leaf buckets: each top bucket splits into 256 (compared only under tops that differ).
pub const LEAVES: usize = BUCKETS * 256;

/// An anti-entropy bucket digest: the XOR of a 16-byte blake3 leaf per cell in the bucket,
/// over the cell key and its op's `(hlc, writer)`.
pub type Digest = [u8; 16];

/// What can go wrong in a CSTORE call.
#[derive(Debug, thiserror::Error)]
pub enum CstoreError {
    /// A value is over [`MAX_VALUE_BYTES`].
    #[error("value of {size} bytes exceeds the {limit}-byte limit")]
    TooLarge {
        /// The value's size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// An input is refused (a name over [`MAX_KEY_BYTES`] or containing NUL), or a resource
    /// the store needs (randomness, its committer thread) is unavailable.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was refused: `namespace`, `key`, `field`, …
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// fjall failed to read or write.
    #[error("storage failure: {0}")]
    Storage(#[from] fjall::Error),
    /// A stored record does not decode (or its key is not UTF-8).
    #[error("corrupt record for key {key:?}: {reason}")]
    Corrupt {
        /// The stored cell key, lossily as text.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The journal sync failed or the committer has stopped: the write may not survive a crash.
    #[error("the write is not durable: {0}")]
    Durability(String),
}

/// Result of a CSTORE call.
pub type Result<T, E = CstoreError> = std::result::Result<T, E>;

/// A value and its version, a compare-and-swap's outcome, a page of keys: the key/value
/// contract's own types (`r1-core`), which this store implements.
pub use r1_core::contract::kv::{CasOutcome, KeyPage, Versioned};

/// What applying a remote op did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// It won and is now the cell's state.
    Updated,
    /// The cell already holds this op or a later one.
    Stale,
}

/// A job for the committer and its result. Local writes it makes are signed when the round is
/// sealed and shipped, the whole round together, once durable (see [`Batch`]).
trait Work<T>: FnOnce(&Shared) -> Result<T> + Send + 'static {}
impl<T, F: FnOnce(&Shared) -> Result<T> + Send + 'static> Work<T> for F {}

/// A page of ops for anti-entropy ([`Cstore::ops_in_buckets`]).
#[derive(Debug, Clone, Default)]
pub struct OpsPage {
    /// The ops, in cell order.
    pub ops: Vec<Vec<u8>>,
    /// The last cell of this page when more follow (`None`: the scan reached the end).
    pub next: Option<Vec<u8>>,
}

/// A write queued on the committer ([`Cstore::set_queued`]).
pub struct Queued<T>(tokio::sync::oneshot::Receiver<Result<T>>);

impl<T> Queued<T> {
    /// The write's result, once its batch is durable.
    pub async fn wait(self) -> Result<T> {
        self.0
            .await
            .map_err(|_| CstoreError::Durability("the store's committer has stopped".into()))?
    }
}

/// How far a write has gone when its call returns (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Synced to disk before the ack (survives power loss).
    #[default]
    Sync,
    /// Written to the journal file before the ack (survives a process crash); synced at least
    /// every `flush`.
    Relaxed {
        /// The longest a written batch waits for its sync.
        flush: std::time::Duration,
    },
}

impl std::str::FromStr for Durability {
    type Err = String;

    /// `sync`, `relaxed` (1 s) or `relaxed:MS`.
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.split_once(':') {
            None if s == "sync" => Ok(Durability::Sync),
            None if s == "relaxed" => Ok(Durability::Relaxed {
                flush: std::time::Duration::from_secs(1),
            }),
            Some(("relaxed", ms)) => ms
                .parse::<u64>()
                .ok()
                .filter(|ms| *ms > 0)
                .map(|ms| Durability::Relaxed {
                    flush: std::time::Duration::from_millis(ms),
                })
                .ok_or_else(|| format!("relaxed:{ms}: the flush period must be milliseconds > 0")),
            _ => Err(format!("{s:?}: expected sync, relaxed or relaxed:MS")),
        }
    }
}

/// When a written value expires (`SET … EX|PX|KEEPTTL`, `EXPIRE`). An expired value reads as
/// absent on every node from its expiry on (each node's wall clock decides: nodes whose clocks
/// differ by `d` disagree for at most `d`), and is collected with the tombstones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expiry {
    /// Never (a plain `SET`, `PERSIST`).
    #[default]
    Never,
    /// At this time, in ms since the Unix epoch.
    At(u64),
    /// Whatever the key's current value has (`KEEPTTL`).
    Keep,
}

impl Expiry {
    /// `ms` from now.
    pub fn after_ms(ms: u64) -> Self {
        Expiry::At(now_ms().saturating_add(ms).max(1))
    }

    /// The `expires` field of a write over `current`.
    fn resolve(self, current: Option<&OpBody>) -> u64 {
        match self {
            Expiry::Never => 0,
            Expiry::At(at) => at.max(1),
            Expiry::Keep => current
                .filter(|b| b.value.is_some())
                .map_or(0, |b| b.expires),
        }
    }
}

/// Handle to a node's store; cheap to clone, safe to share across threads.
#[derive(Clone)]
pub struct Cstore {
    // Field order matters: the committer is joined before the shared state is released.
    committer: Arc<Committer>,
    shared: Arc<Shared>,
}

struct Shared {
    db: Database,
    cells: Keyspace,
    /// `leaf bucket (u16be) | cell` for every cell: anti-entropy reads a leaf bucket without
    /// scanning the store.
    by_bucket: Keyspace,
    key: SigningKey,
    writer: [u8; 32],
    clock: Hlc,
    digests: Mutex<Digests>,
    /// Ops written here, for replication (set by [`replication`]).
    outbox: Mutex<Option<mpsc::UnboundedSender<Vec<Vec<u8>>>>>,
    /// Journal syncs done (for tests and counters).
    syncs: std::sync::atomic::AtomicU64,
    /// Set by a job that inserted something; the committer syncs only then.
    dirty: std::sync::atomic::AtomicBool,
    /// Local ops of the committer's current round (committer thread only).
    batch: Mutex<Batch>,
}

/// The local writes of one committer round, signed together: jobs stamp ops, which wait here
/// unsigned (and not yet in `cells`) until the round is sealed — one Merkle root, one
/// signature ([`op::seal`]) — before the journal is persisted, so nothing unsigned is ever
/// stored or acknowledged. Jobs read their round's own writes through [`Shared::read_current`];
/// a job that scans `cells` seals first ([`Shared::seal`]).
#[derive(Default)]
struct Batch {
    /// Ops stamped in this round and not yet sealed: their cell, body and encoded body.
    pending: Vec<(Vec<u8>, OpBody, Vec<u8>)>,
    /// The pending op that holds each cell's state (a later remote op removes the claim).
    latest: std::collections::HashMap<Vec<u8>, usize>,
    /// Signed ops of this round, in write order, shipped together once durable.
    sealed: Vec<Vec<u8>>,
}

/// Finishes a job once its batch is durable (or failed): answers the caller. The round's ops
/// are queued for replication before, so an acknowledged write is always on its way to peers.
type Pending = Box<dyn FnOnce(&Result<(), String>) + Send>;
/// A unit of work for the committer, and whether it wants its batch synced whatever the
/// store's mode (a write asking for more durability than the node's, never less).
struct Job {
    run: Box<dyn FnOnce(&Shared) -> Pending + Send>,
    sync: bool,
}

/// The single writer. Every mutation runs as a job on its thread, so read-modify-write
/// sequences never interleave; a batch of jobs shares one journal sync (group commit), and
/// no caller hears back before its batch is durable.
struct Committer {
    jobs: Option<std::sync::mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

const MAX_BATCH: usize = 4096;
/// Local ops under one signature at most: a round's ops then gossip as one frame (bodies and
/// the signature, proofs rebuilt by the receiver) within the gossip limit, and a stored proof
/// is at most 8 hashes.
const SEAL_EVERY: usize = 256;

impl Committer {
    fn start(shared: Arc<Shared>, durability: Durability) -> Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("r1-cstore-commit".into())
            .spawn(move || {
                // Relaxed: when the oldest write not yet synced was acknowledged.
                let mut unsynced_since: Option<std::time::Instant> = None;
                loop {
                    let first = match (durability, unsynced_since) {
                        (Durability::Relaxed { flush }, Some(since)) => {
                            let wait = flush.saturating_sub(since.elapsed());
                            match rx.recv_timeout(wait) {
                                Ok(job) => Some(job),
                                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => None,
                                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                            }
                        }
                        _ => match rx.recv() {
                            Ok(job) => Some(job),
                            Err(_) => break,
                        },
                    };
                    if let (Durability::Relaxed { flush }, Some(since)) =
                        (durability, unsynced_since)
                        && since.elapsed() >= flush
                    {
                        match shared.db.persist(PersistMode::SyncData) {
                            Ok(()) => {
                                unsynced_since = None;
                                shared.syncs.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => tracing::error!("CSTORE journal sync failed: {e}"),
                        }
                    }
                    let Some(first) = first else { continue };
                    let mut force_sync = first.sync;
                    let mut pending = vec![(first.run)(&shared)];
                    while pending.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(job) => {
                                force_sync |= job.sync;
                                pending.push((job.run)(&shared));
                            }
                            Err(_) => break,
                        }
                    }
                    let sealed = shared.seal();
                    let durable = if let Err(e) = sealed {
                        Err(e.to_string())
                    } else if shared.dirty.swap(false, Ordering::AcqRel) {
                        let mode = match durability {
                            Durability::Relaxed { .. } if !force_sync => {
                                unsynced_since.get_or_insert_with(std::time::Instant::now);
                                PersistMode::Buffer
                            }
                            _ => PersistMode::SyncData,
                        };
                        let result = shared.db.persist(mode).map_err(|e| e.to_string());
                        if mode == PersistMode::SyncData && result.is_ok() {
                            unsynced_since = None; // everything before is on disk too
                            shared.syncs.fetch_add(1, Ordering::Relaxed);
                        }
                        result
                    } else {
                        Ok(())
                    };
                    if durable.is_ok() {
                        shared.ship_round();
                    } else {
                        shared.lock_batch().sealed.clear();
                    }
                    for finish in pending {
                        finish(&durable);
                    }
                }
                // Stopping: whatever was acknowledged reaches the disk.
                if unsynced_since.is_some()
                    && let Err(e) = shared.db.persist(PersistMode::SyncData)
                {
                    tracing::error!("CSTORE journal sync at stop failed: {e}");
                }
            })
            .map_err(|e| CstoreError::Invalid {
                what: "committer thread",
                reason: e.to_string(),
            })?;
        Ok(Self {
            jobs: Some(tx),
            thread: Some(thread),
        })
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Cstore {
    /// Opens (or creates) a store under `dir` that signs its writes with a fresh key
    /// (single-node use and tests; a node passes its identity to [`Cstore::open_with_key`]).
    pub fn open(dir: &Path) -> Result<Self> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| CstoreError::Invalid {
            what: "randomness",
            reason: e.to_string(),
        })?;
        Self::open_with_key(dir, SigningKey::from_bytes(&seed))
    }

    /// Opens (or creates) the store under `dir`; writes are signed with `key` and synced
    /// before they are acknowledged ([`Durability::Sync`]).
    pub fn open_with_key(dir: &Path, key: SigningKey) -> Result<Self> {
        Self::open_with(dir, key, Durability::Sync)
    }

    /// Opens (or creates) the store under `dir`; writes are signed with `key` and
    /// acknowledged as `durability` says.
    pub fn open_with(dir: &Path, key: SigningKey, durability: Durability) -> Result<Self> {
        let db = Database::builder(dir).open()?;
        let cells = db.keyspace("cells", KeyspaceCreateOptions::default)?;
        // The index of 256 one-byte buckets that came before the leaf index: dropped (the
        // leaf index is built at open from the cells).
        if db.keyspace_exists("by_bucket") {
            let old = db.keyspace("by_bucket", KeyspaceCreateOptions::default)?;
            db.delete_keyspace(old)?;
        }
        let by_bucket = db.keyspace("by_leaf", KeyspaceCreateOptions::default)?;
        let writer = key.verifying_key().to_bytes();
        let shared = Arc::new(Shared {
            db,
            cells,
            by_bucket,
            key,
            writer,
            clock: Hlc::default(),
            digests: Mutex::new(Digests::default()),
            outbox: Mutex::new(None),
            dirty: std::sync::atomic::AtomicBool::new(false),
            syncs: std::sync::atomic::AtomicU64::new(0),
            batch: Mutex::new(Batch::default()),
        });
        shared.rebuild_digests()?;
        Ok(Self {
            committer: Arc::new(Committer::start(shared.clone(), durability)?),
            shared,
        })
    }

    /// The ed25519 public key this store signs with.
    pub fn writer(&self) -> [u8; 32] {
        self.shared.writer
    }

    /// Runs `work` on the committer and returns once its batch is durable. `work` returns
    /// its result and, for a local write, the op to replicate.
    fn commit<T: Send + 'static>(&self, work: impl Work<T>) -> Result<T> {
        let stopped = || CstoreError::Durability("the store's committer has stopped".into());
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.enqueue(work, false, move |result| {
            let _ = tx.send(result);
        })?;
        rx.recv().map_err(|_| stopped())?
    }

    /// [`Cstore::commit`] with its batch synced to disk whatever the store's mode.
    fn commit_synced<T: Send + 'static>(&self, work: impl Work<T>) -> Result<T> {
        let stopped = || CstoreError::Durability("the store's committer has stopped".into());
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.enqueue(work, true, move |result| {
            let _ = tx.send(result);
        })?;
        rx.recv().map_err(|_| stopped())?
    }

    /// Queues `work` on the committer; the receiver gets its result once its batch is
    /// durable. An async caller awaits it without holding a thread while the batch syncs.
    fn submit<T: Send + 'static>(
        &self,
        work: impl Work<T>,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<T>>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.enqueue(work, false, move |result| {
            let _ = tx.send(result);
        })?;
        Ok(rx)
    }

    /// Queues `work` on the committer; `reply` gets its result once its batch is durable
    /// (after the op is queued for replication).
    fn enqueue<T: Send + 'static>(
        &self,
        work: impl Work<T>,
        sync: bool,
        reply: impl FnOnce(Result<T>) + Send + 'static,
    ) -> Result<()> {
        let tx = reply;
        let run: Box<dyn FnOnce(&Shared) -> Pending + Send> =
            Box::new(move |shared: &Shared| -> Pending {
                let outcome = work(shared);
                Box::new(move |durable: &Result<(), String>| {
                    let result = match (outcome, durable) {
                        (Ok(value), Ok(())) => Ok(value),
                        (Ok(_), Err(e)) => Err(CstoreError::Durability(e.clone())),
                        (Err(e), _) => Err(e),
                    };
                    tx(result);
                })
            });
        let job = Job { run, sync };
        let stopped = || CstoreError::Durability("the store's committer has stopped".into());
        self.committer
            .jobs
            .as_ref()
            .ok_or_else(stopped)?
            .send(job)
            .map_err(|_| stopped())?;
        Ok(())
    }

    fn decode(&self, cell: &[u8], op: &[u8]) -> Result<OpBody> {
        self.shared.decode(cell, op)
    }

    fn read_cell(&self, cell: &[u8]) -> Result<Option<OpBody>> {
        self.shared.read_cell(cell)
    }

    fn lock_digests(&self) -> std::sync::MutexGuard<'_, Digests> {
        self.shared.lock_digests()
    }
    /// The value of `key`, if it is set.
    pub fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.get_versioned(ns, key)?.map(|v| v.value))
    }

    /// The value of `key` with its version, if it is set.
    pub fn get_versioned(&self, ns: &str, key: &str) -> Result<Option<Versioned>> {
        let cell = kv_cell(ns, key)?;
        Ok(self.read_cell(&cell)?.and_then(|body| {
            let version = body.version;
            body.value.map(|value| Versioned { value, version })
        }))
    }

    /// Whether `key` holds a value (not absent, not deleted).
    pub fn exists(&self, ns: &str, key: &str) -> Result<bool> {
        Ok(self.get_versioned(ns, key)?.is_some())
    }

    /// Writes `value` and returns its new version, after it is durable.
    pub fn set(&self, ns: &str, key: &str, value: &[u8]) -> Result<u64> {
        self.commit(Self::set_work(ns, key, value, Expiry::Never)?)
    }

    /// [`Cstore::set`], synced to disk before it returns even on a `relaxed` store: a write
    /// may ask for more durability than the node's mode (never less).
    pub fn set_synced(&self, ns: &str, key: &str, value: &[u8]) -> Result<u64> {
        self.commit_synced(Self::set_work(ns, key, value, Expiry::Never)?)
    }

    /// Journal syncs done since the store opened.
    pub fn journal_syncs(&self) -> u64 {
        self.shared.syncs.load(Ordering::Relaxed)
    }

    /// [`Cstore::set`] for async callers: no thread waits while the write's batch syncs.
    pub async fn set_async(&self, ns: &str, key: &str, value: &[u8]) -> Result<u64> {
        self.set_queued(ns, key, value)?.wait().await
    }

    /// Queues a [`Cstore::set`] and returns at once; [`Queued::wait`] gives its result once
    /// its batch is durable. Writes queued one after another are applied in that order, and
    /// share a batch (one journal sync) when they arrive together: what a pipelining client
    /// gets.
    pub fn set_queued(&self, ns: &str, key: &str, value: &[u8]) -> Result<Queued<u64>> {
        Ok(Queued(self.submit(Self::set_work(
            ns,
            key,
            value,
            Expiry::Never,
        )?)?))
    }

    /// [`Cstore::set`] with an expiry (`SET … EX|PX|KEEPTTL`); the new version once durable.
    pub fn set_expiring(&self, ns: &str, key: &str, value: &[u8], expiry: Expiry) -> Result<u64> {
        self.commit(Self::set_work(ns, key, value, expiry)?)
    }

    /// Sets when `key`'s current value expires (`Expiry::Never`: never); returns false when
    /// the key holds no value. The value is rewritten with the new expiry: a new version,
    /// replicated like any write.
    pub fn expire(&self, ns: &str, key: &str, expiry: Expiry) -> Result<bool> {
        let cell = kv_cell(ns, key)?;
        let (ns, key) = (ns.to_owned(), key.to_owned());
        self.commit(move |sh| {
            let current = sh.read_current(&cell)?;
            let Some(value) = current.as_ref().and_then(|b| b.value.clone()) else {
                return Ok(false);
            };
            let expires = expiry.resolve(current.as_ref());
            let version = Shared::current_version(&current) + 1;
            sh.write_local(
                (Kind::Key, &ns, &key, ""),
                (Some(&value), expires),
                version,
                current.as_ref(),
            )?;
            Ok(true)
        })
    }

    /// When `key`'s value expires: `None` when the key holds no value, `Some(0)` when it never
    /// expires, else the expiry in ms since the Unix epoch.
    pub fn expiry(&self, ns: &str, key: &str) -> Result<Option<u64>> {
        let cell = kv_cell(ns, key)?;
        Ok(self
            .read_cell(&cell)?
            .filter(|b| b.value.is_some())
            .map(|b| b.expires))
    }

    /// The committer job of a set (its input checked here, on the caller's thread).
    fn set_work(ns: &str, key: &str, value: &[u8], expiry: Expiry) -> Result<impl Work<u64>> {
        check_value(value)?;
        let cell = kv_cell(ns, key)?;
        let (ns, key, value) = (ns.to_owned(), key.to_owned(), value.to_vec());
        Ok(move |sh: &Shared| {
            let current = sh.read_current(&cell)?;
            let version = Shared::current_version(&current) + 1;
            sh.write_local(
                (Kind::Key, &ns, &key, ""),
                (Some(&value), expiry.resolve(current.as_ref())),
                version,
                current.as_ref(),
            )?;
            Ok(version)
        })
    }

    /// Writes `value` only if the key is at `expected` (0 = absent).
    pub fn compare_and_swap(
        &self,
        ns: &str,
        key: &str,
        expected: u64,
        value: &[u8],
    ) -> Result<CasOutcome> {
        check_value(value)?;
        let cell = kv_cell(ns, key)?;
        let (ns, key, value) = (ns.to_owned(), key.to_owned(), value.to_vec());
        self.commit(move |sh| {
            let current = sh.read_current(&cell)?;
            let version = Shared::current_version(&current);
            if version != expected {
                return Ok(CasOutcome::Conflict(version));
            }
            // A counter's or an append's rewrite keeps the value's expiry, as in Redis.
            sh.write_local(
                (Kind::Key, &ns, &key, ""),
                (Some(&value), Expiry::Keep.resolve(current.as_ref())),
                version + 1,
                current.as_ref(),
            )?;
            Ok(CasOutcome::Swapped(version + 1))
        })
    }

    /// Deletes `key` (a tombstone); returns whether it existed.
    pub fn delete(&self, ns: &str, key: &str) -> Result<bool> {
        let cell = kv_cell(ns, key)?;
        let (ns, key) = (ns.to_owned(), key.to_owned());
        self.commit(move |sh| {
            let current = sh.read_current(&cell)?;
            if current.as_ref().is_none_or(|b| b.value.is_none()) {
                return Ok(false);
            }
            let version = Shared::current_version(&current) + 1;
            sh.write_local(
                (Kind::Key, &ns, &key, ""),
                (None, 0),
                version,
                current.as_ref(),
            )?;
            Ok(true)
        })
    }

    /// Keys in `ns` starting with `prefix`, in byte order, at most `limit` (capped at
    /// [`MAX_PAGE`]) after `cursor`.
    pub fn list_keys(
        &self,
        ns: &str,
        prefix: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<KeyPage> {
        let limit = limit.clamp(1, MAX_PAGE);
        let now = now_ms();
        let ns_prefix = kv_cell(ns, "")?;
        let full_prefix = kv_cell(ns, prefix)?;
        // Start right after the cursor instead of scanning from the prefix.
        let start = match cursor {
            Some(c) if c.as_bytes() >= prefix.as_bytes() => Bound::Excluded(kv_cell(ns, c)?),
            _ => Bound::Included(full_prefix.clone()),
        };
        let mut keys = Vec::new();
        let mut more = false;
        for item in self.shared.cells.range((start, Bound::Unbounded)) {
            let (cell, op) = item.into_inner()?;
            if !cell.starts_with(&full_prefix) {
                break;
            }
            if self.decode(&cell, &op)?.live_value(now).is_none() {
                continue;
            }
            if keys.len() == limit {
                more = true;
                break;
            }
            keys.push(key_text(&cell, &cell[ns_prefix.len()..])?.to_owned());
        }
        let cursor = if more { keys.last().cloned() } else { None };
        Ok(KeyPage { keys, cursor })
    }

    /// Hash keys in `ns` (those with at least one live field) starting with `prefix`, in
    /// byte order, at most `limit` (capped at [`MAX_PAGE`]) after `cursor`. Each hash costs one
    /// seek past its fields, not a read of every field.
    pub fn list_hash_keys(
        &self,
        ns: &str,
        prefix: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<KeyPage> {
        let limit = limit.clamp(1, MAX_PAGE);
        let now = now_ms();
        check_name("namespace", ns)?;
        check_name("key", prefix)?;
        // `h NS \0 KEY \0 FIELD`; keys hold no NUL, so `KEY \x01` sorts after all of KEY's
        // fields and before any longer key.
        // `h NS \0 \0` for the empty key and field; without the last NUL: every hash of NS.
        let mut ns_prefix = cell_key(Kind::HashField, ns, "", "");
        ns_prefix.pop();
        let mut full_prefix = ns_prefix.clone();
        full_prefix.extend_from_slice(prefix.as_bytes());
        let past = |key: &str| {
            let mut k = ns_prefix.clone();
            k.extend_from_slice(key.as_bytes());
            k.push(1);
            k
        };
        let mut start = match cursor {
            Some(c) if c.as_bytes() >= prefix.as_bytes() => Bound::Included(past(c)),
            _ => Bound::Included(full_prefix.clone()),
        };
        let mut keys: Vec<String> = Vec::new();
        let mut more = false;
        'scan: loop {
            let mut next_start = None;
            for item in self.shared.cells.range((start.clone(), Bound::Unbounded)) {
                let (cell, op) = item.into_inner()?;
                if !cell.starts_with(&full_prefix) {
                    break 'scan;
                }
                let rest = &cell[ns_prefix.len()..];
                let Some(end) = rest.iter().position(|b| *b == 0) else {
                    continue;
                };
                let key = key_text(&cell, &rest[..end])?;
                if self.decode(&cell, &op)?.live_value(now).is_none() {
                    continue; // a deleted field; the hash may still have live ones
                }
                if keys.len() == limit {
                    more = true;
                    break 'scan;
                }
                keys.push(key.to_owned());
                next_start = Some(past(key));
                break;
            }
            match next_start {
                Some(s) => start = Bound::Included(s),
                None => break,
            }
        }
        let cursor = if more { keys.last().cloned() } else { None };
        Ok(KeyPage { keys, cursor })
    }

    /// Sets `field` of hash `key`; returns true when the field is new.
    pub fn hset(&self, ns: &str, key: &str, field: &str, value: &[u8]) -> Result<bool> {
        check_value(value)?;
        let cell = hash_cell(ns, key, field)?;
        let (ns, key, field, value) = (
            ns.to_owned(),
            key.to_owned(),
            field.to_owned(),
            value.to_vec(),
        );
        self.commit(move |sh| {
            let current = sh.read_current(&cell)?;
            let is_new = current.as_ref().is_none_or(|b| b.value.is_none());
            let version = Shared::current_version(&current) + 1;
            sh.write_local(
                (Kind::HashField, &ns, &key, &field),
                (Some(&value), 0),
                version,
                current.as_ref(),
            )?;
            Ok(is_new)
        })
    }

    /// The value of `field` of hash `key`, if it is set.
    pub fn hget(&self, ns: &str, key: &str, field: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .read_cell(&hash_cell(ns, key, field)?)?
            .and_then(|b| b.value))
    }

    /// Removes `field` of hash `key`; returns whether it existed.
    pub fn hdel(&self, ns: &str, key: &str, field: &str) -> Result<bool> {
        let cell = hash_cell(ns, key, field)?;
        let (ns, key, field) = (ns.to_owned(), key.to_owned(), field.to_owned());
        self.commit(move |sh| {
            let current = sh.read_current(&cell)?;
            if current.as_ref().is_none_or(|b| b.value.is_none()) {
                return Ok(false);
            }
            let version = Shared::current_version(&current) + 1;
            sh.write_local(
                (Kind::HashField, &ns, &key, &field),
                (None, 0),
                version,
                current.as_ref(),
            )?;
            Ok(true)
        })
    }

    /// Every field of hash `key` with its value, in field order.
    pub fn hgetall(&self, ns: &str, key: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let prefix = hash_cell(ns, key, "")?;
        let now = now_ms();
        let mut out = Vec::new();
        for item in self.shared.cells.prefix(&prefix) {
            let (cell, op) = item.into_inner()?;
            let body = visible(self.decode(&cell, &op)?, now);
            if let Some(value) = body.value {
                out.push((body.field, value));
            }
        }
        Ok(out)
    }

    /// The fields of hash `key`, in field order.
    pub fn hkeys(&self, ns: &str, key: &str) -> Result<Vec<String>> {
        Ok(self.hgetall(ns, key)?.into_iter().map(|(f, _)| f).collect())
    }

    /// Applies ops from other nodes (already verified and admitted by the caller): each
    /// wins only if it is later than the cell's state. Durable when this returns.
    pub fn apply_remote(&self, ops: &[Vec<u8>]) -> Result<Vec<Result<Applied, OpError>>> {
        let ops = ops.to_vec();
        self.commit(move |sh| {
            let results = ops
                .iter()
                .map(|op| sh.apply_one(op))
                .collect::<Result<Vec<_>>>()?;
            Ok(results)
        })
    }

    /// The stored op (value or tombstone) of plain key `key`, as replicated.
    pub fn key_op(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .shared
            .cells
            .get(kv_cell(ns, key)?)?
            .map(|op| op.to_vec()))
    }

    /// The anti-entropy digest of every top bucket ([`BUCKETS`]).
    pub fn digests(&self) -> Vec<Digest> {
        self.lock_digests().tops.to_vec()
    }

    /// The 256 leaf digests under each of `tops`, in that order (leaf `t * 256 + i`).
    pub fn leaf_digests(&self, tops: &[u8]) -> Vec<Digest> {
        let digests = self.lock_digests();
        tops.iter()
            .flat_map(|&t| {
                let start = t as usize * 256;
                digests.leaves[start..start + 256].iter().copied()
            })
            .collect()
    }

    /// Stored ops (values and tombstones) whose cell falls in one of `buckets`, bucket by
    /// bucket through the bucket index (so the cost is what those buckets hold, not the
    /// store), after the position `after` (from the start when `None`), up to `max_bytes` in
    /// total. When the limit cuts the list short, [`OpsPage::next`] says where the next page
    /// starts: an exchange that pages on from there covers every op, however large the
    /// difference (a page that always restarted from the first cell would never get past it).
    pub fn ops_in_buckets(
        &self,
        buckets: &[u16],
        max_bytes: usize,
        after: Option<&[u8]>,
    ) -> Result<OpsPage> {
        let mut buckets = buckets.to_vec();
        buckets.sort_unstable();
        buckets.dedup();
        let mut ops = Vec::new();
        let mut total = 0;
        let mut last: Option<Vec<u8>> = None;
        let after_bucket =
            after.and_then(|pos| pos.first_chunk::<2>().map(|b| u16::from_be_bytes(*b)));
        for bucket in buckets {
            let prefix = bucket.to_be_bytes();
            let start = match (after, after_bucket) {
                (Some(pos), Some(b)) if b == bucket => Bound::Excluded(pos.to_vec()),
                (Some(_), Some(b)) if b > bucket => continue,
                _ => Bound::Included(prefix.to_vec()),
            };
            for item in self.shared.by_bucket.range((start, Bound::Unbounded)) {
                let index = item.key()?;
                if !index.starts_with(&prefix) {
                    break;
                }
                let Some(op) = self.shared.cells.get(&index[2..])? else {
                    continue; // collected since it was indexed
                };
                if total + op.len() > max_bytes && !ops.is_empty() {
                    return Ok(OpsPage { ops, next: last });
                }
                total += op.len();
                ops.push(op.to_vec());
                last = Some(index.to_vec());
            }
        }
        Ok(OpsPage { ops, next: None })
    }

    /// Removes tombstones written, and values expired, more than `horizon_ms` ago; returns
    /// how many.
    pub fn collect_tombstones(&self, horizon_ms: u64) -> Result<usize> {
        self.commit(move |sh| {
            let now_ms = hlc::physical_ms(sh.clock.now());
            let cutoff = now_ms.saturating_sub(horizon_ms);
            sh.seal()?; // this round's writes are in `cells` before the scan
            let mut doomed = Vec::new();
            for item in sh.cells.iter() {
                let (cell, op) = item.into_inner()?;
                let body = sh.decode(&cell, &op)?;
                // A tombstone, or a value expired, before the horizon.
                let dead_since = match (&body.value, body.expires) {
                    (None, _) => Some(hlc::physical_ms(body.hlc)),
                    (Some(_), 0) => None,
                    (Some(_), expires) => Some(expires),
                };
                if dead_since.is_some_and(|t| t < cutoff) {
                    doomed.push((cell.to_vec(), body));
                }
            }
            for (cell, body) in &doomed {
                sh.cells.remove(cell.as_slice())?;
                sh.by_bucket.remove(bucket_key(cell))?;
                sh.dirty.store(true, Ordering::Release);
                xor_leaf(&mut sh.lock_digests(), cell, body);
            }
            Ok(doomed.len())
        })
    }

    /// Routes every op written here to `outbox` (replication), a committer round's durable
    /// ops together, in write order; `None` stops it.
    pub fn set_outbox(&self, outbox: Option<mpsc::UnboundedSender<Vec<Vec<u8>>>>) {
        *self.shared.outbox.lock().unwrap_or_else(|p| p.into_inner()) = outbox;
    }
}

impl Shared {
    /// Queues the round's signed ops for replication once durable (before any of its callers
    /// hears back), if replication is on.
    fn ship_round(&self) {
        let ops = std::mem::take(&mut self.lock_batch().sealed);
        if ops.is_empty() {
            return;
        }
        if let Some(outbox) = &*self.outbox.lock().unwrap_or_else(|p| p.into_inner()) {
            let _ = outbox.send(ops);
        }
    }

    fn lock_batch(&self) -> std::sync::MutexGuard<'_, Batch> {
        self.batch.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Signs the round's pending local ops with one signature and stores each cell's latest
    /// (committer thread only). Called before the journal is persisted, and by a job before
    /// it scans `cells`.
    fn seal(&self) -> Result<()> {
        let (pending, latest) = {
            let mut batch = self.lock_batch();
            if batch.pending.is_empty() {
                return Ok(());
            }
            (
                std::mem::take(&mut batch.pending),
                std::mem::take(&mut batch.latest),
            )
        };
        let bodies: Vec<&[u8]> = pending.iter().map(|(_, _, b)| b.as_slice()).collect();
        let ops = op::seal(&bodies, &self.key);
        for (i, ((cell, _, _), op)) in pending.iter().zip(&ops).enumerate() {
            if latest.get(cell) == Some(&i) {
                self.cells.insert(cell, op)?;
            }
        }
        self.lock_batch().sealed.extend(ops);
        Ok(())
    }

    /// Applies one remote op if it is later than the cell's state (committer thread only).
    fn apply_one(&self, op: &[u8]) -> Result<std::result::Result<Applied, OpError>> {
        let body = match op::decode(op) {
            Ok(body) => body,
            Err(e) => return Ok(Err(e)),
        };
        if check_names(&body).is_err()
            || body
                .value
                .as_ref()
                .is_some_and(|v| v.len() > MAX_VALUE_BYTES)
        {
            return Ok(Err(OpError::Malformed("names or value out of bounds")));
        }
        self.clock.observe(body.hlc);
        let cell = body.cell();
        let current = self.read_current(&cell)?;
        if current.as_ref().is_some_and(|c| c.stamp() >= body.stamp()) {
            return Ok(Ok(Applied::Stale));
        }
        self.store_cell(&cell, op, &body, current.as_ref())?;
        Ok(Ok(Applied::Updated))
    }

    /// A cell's state as the committer's jobs see it: this round's own unsigned writes first,
    /// then the store (committer thread only).
    fn read_current(&self, cell: &[u8]) -> Result<Option<OpBody>> {
        let pending = {
            let batch = self.lock_batch();
            batch.latest.get(cell).map(|&i| batch.pending[i].1.clone())
        };
        match pending {
            Some(body) => Ok(Some(visible(body, now_ms()))),
            None => self.read_cell(cell),
        }
    }

    /// At open: the bucket digests, the clock's floor, and the bucket index when the store
    /// predates it (a store written before the index existed gets it here, once).
    fn rebuild_digests(&self) -> Result<()> {
        let mut digests = Digests::default();
        let mut max_hlc = 0;
        let index = self.by_bucket.iter().next().is_none();
        for item in self.cells.iter() {
            let (cell, op) = item.into_inner()?;
            let body = self.decode(&cell, &op)?;
            max_hlc = max_hlc.max(body.hlc);
            xor_leaf(&mut digests, &cell, &body);
            if index {
                self.by_bucket.insert(bucket_key(&cell), [])?;
            }
        }
        self.clock.observe(max_hlc);
        *self.lock_digests() = digests;
        Ok(())
    }

    fn lock_digests(&self) -> std::sync::MutexGuard<'_, Digests> {
        self.digests.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn decode(&self, cell: &[u8], op: &[u8]) -> Result<OpBody> {
        op::decode(op).map_err(|e| CstoreError::Corrupt {
            key: String::from_utf8_lossy(cell).into_owned(),
            reason: e.to_string(),
        })
    }

    /// A cell's stored state, an expired value read as absent.
    fn read_cell(&self, cell: &[u8]) -> Result<Option<OpBody>> {
        match self.cells.get(cell)? {
            None => Ok(None),
            Some(op) => Ok(Some(visible(self.decode(cell, &op)?, now_ms()))),
        }
    }

    /// Replaces a cell's state (committer thread only).
    fn store_cell(
        &self,
        cell: &[u8],
        op: &[u8],
        body: &OpBody,
        previous: Option<&OpBody>,
    ) -> Result<()> {
        self.cells.insert(cell, op)?;
        self.lock_batch().latest.remove(cell); // a pending local op it overtook stays unstored
        self.index_cell(cell, body, previous)
    }

    /// Indexes a cell's new state: bucket index, digest, and the dirty mark (committer only).
    fn index_cell(&self, cell: &[u8], body: &OpBody, previous: Option<&OpBody>) -> Result<()> {
        if previous.is_none() {
            self.by_bucket.insert(bucket_key(cell), [])?;
        }
        self.dirty.store(true, Ordering::Release);
        let mut digests = self.lock_digests();
        if let Some(prev) = previous {
            xor_leaf(&mut digests, cell, prev);
        }
        xor_leaf(&mut digests, cell, body);
        Ok(())
    }

    /// Stamps a local write into the round's batch (committer thread only); it is signed and
    /// stored when the round is sealed, and shipped with the round.
    fn write_local(
        &self,
        (kind, ns, key, field): (Kind, &str, &str, &str),
        (value, expires): (Option<&[u8]>, u64),
        version: u64,
        previous: Option<&OpBody>,
    ) -> Result<()> {
        let body = OpBody {
            kind,
            hlc: self.clock.now(),
            writer: self.writer,
            version,
            expires: if value.is_some() { expires } else { 0 },
            ns: ns.to_owned(),
            key: key.to_owned(),
            field: field.to_owned(),
            value: value.map(<[u8]>::to_vec),
        };
        let cell = body.cell();
        self.index_cell(&cell, &body, previous)?;
        let encoded = body.encode();
        let mut batch = self.lock_batch();
        let index = batch.pending.len();
        batch.latest.insert(cell.clone(), index);
        batch.pending.push((cell, body, encoded));
        let full = batch.pending.len() >= SEAL_EVERY;
        drop(batch);
        if full {
            self.seal()?;
        }
        Ok(())
    }

    fn current_version(current: &Option<OpBody>) -> u64 {
        match current {
            Some(body) if body.value.is_some() => body.version,
            _ => 0,
        }
    }
}

/// Wall-clock milliseconds since the Unix epoch: what expiries are compared with.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A stored state as readers see it at `now`: an expired value is absent (version 0).
fn visible(mut body: OpBody, now: u64) -> OpBody {
    if body.expired(now) {
        body.value = None;
    }
    body
}

/// The anti-entropy leaf bucket of a cell (its top bucket is the high byte).
pub fn bucket_of(cell: &[u8]) -> u16 {
    let hash = blake3::hash(cell);
    u16::from_be_bytes([hash.as_bytes()[0], hash.as_bytes()[1]])
}

/// The bucket digests: every leaf's, and every top's (the XOR of its 256 leaves).
struct Digests {
    tops: [Digest; BUCKETS],
    leaves: Box<[Digest]>,
}

impl Default for Digests {
    fn default() -> Self {
        Self {
            tops: [[0; 16]; BUCKETS],
            leaves: vec![[0; 16]; LEAVES].into_boxed_slice(),
        }
    }
}

/// Adds (or, applied again, removes) a cell state's hash in its leaf and top digests.
fn xor_leaf(digests: &mut Digests, cell: &[u8], body: &OpBody) {
    let mut hasher = blake3::Hasher::new();
    hasher.update(cell);
    hasher.update(&body.hlc.to_be_bytes());
    hasher.update(&body.writer);
    let hash = hasher.finalize();
    let bucket = bucket_of(cell) as usize;
    for digest in [&mut digests.leaves[bucket], &mut digests.tops[bucket >> 8]] {
        for (d, l) in digest.iter_mut().zip(hash.as_bytes()) {
            *d ^= l;
        }
    }
}

fn check_name(what: &'static str, name: &str) -> Result<()> {
    if name.len() > MAX_KEY_BYTES {
        return Err(CstoreError::Invalid {
            what,
            reason: format!("{} bytes, the limit is {MAX_KEY_BYTES}", name.len()),
        });
    }
    if name.as_bytes().contains(&0) {
        return Err(CstoreError::Invalid {
            what,
            reason: "contains a NUL byte".into(),
        });
    }
    Ok(())
}

fn check_names(body: &OpBody) -> Result<()> {
    check_name("namespace", &body.ns)?;
    check_name("key", &body.key)?;
    check_name("field", &body.field)
}

fn check_value(value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(CstoreError::TooLarge {
            size: value.len(),
            limit: MAX_VALUE_BYTES,
        });
    }
    Ok(())
}

/// The bucket index's key of `cell`: its leaf bucket, then the cell.
fn bucket_key(cell: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(cell.len() + 2);
    key.extend_from_slice(&bucket_of(cell).to_be_bytes());
    key.extend_from_slice(cell);
    key
}

/// The key bytes of stored `cell` as text (a stored key that is not UTF-8 is corruption).
fn key_text<'a>(cell: &[u8], key: &'a [u8]) -> Result<&'a str> {
    std::str::from_utf8(key).map_err(|_| CstoreError::Corrupt {
        key: String::from_utf8_lossy(cell).into_owned(),
        reason: "key is not UTF-8".into(),
    })
}

fn kv_cell(ns: &str, key: &str) -> Result<Vec<u8>> {
    check_name("namespace", ns)?;
    check_name("key", key)?;
    Ok(cell_key(Kind::Key, ns, key, ""))
}

fn hash_cell(ns: &str, key: &str, field: &str) -> Result<Vec<u8>> {
    check_name("namespace", ns)?;
    check_name("key", key)?;
    check_name("field", field)?;
    Ok(cell_key(Kind::HashField, ns, key, field))
}

#[cfg(test)]
mod tests;
