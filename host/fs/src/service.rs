//! R1FS on a running node: the local block store, provider records and peer-to-peer fetch.
//!
//! - Providers: a node holding a pinned file records itself in CSTORE (namespace `r1fs`, hash
//!   `providers/<cid>`, field = its peer id), which replicates to every node.
//! - Transfer: blocks are requested from providers over the mesh (`fs.block`, body = the
//!   32-byte BLAKE3 of the block). Every block is verified on receipt; a provider that sends a
//!   wrong block (or none) is skipped for the rest of the fetch and the block is asked of the
//!   next provider. A block no provider can deliver intact is an error, never data.
//! - Chunks of one file are fetched concurrently (a sliding window of `PARALLEL`), spread
//!   round-robin over providers; the fetched blocks are flushed to disk once, at the end.
//! - Replication: `pin` with `replicas = k` records the target in CSTORE (`replicas/<cid>`).
//!   Every node runs a repair loop: when fewer than k *connected* providers hold a file, the
//!   missing copies are taken by the non-holders ranked first by BLAKE3(cid, peer id) — every
//!   node computes the same ranking, so exactly the chosen ones fetch, pin and announce.

use std::collections::HashSet;

use futures::StreamExt;
use std::sync::Arc;

use crate::{BlockStore, ContentId, FsError, Manifest};
use r1_core::ServiceError;
use r1_core::contract::BoxFuture;
use r1_core::contract::blobs::{BlobKey, BlobService, BlobStat};
use r1_cstore::Cstore;
use r1_mesh::{Mesh, NodePeerId as PeerId, Protocol, Protocols, Reply};

/// Mesh request service serving blocks: the body is a block's 32-byte BLAKE3, the reply its
/// bytes.
pub const SERVICE_BLOCK: &str = "fs.block";
const PROVIDERS_NS: &str = "r1fs";
/// Chunks in flight at once during a fetch (a sliding window, not waves). Each request is a new
/// yamux stream whose window opens at 256 KiB, so a 1 MiB block needs window updates on the
/// way; enough blocks in flight keep the connection busy meanwhile (8 left it idle 16% of a
/// loopback fetch; 32 MiB in flight at most).
const PARALLEL: usize = 32;

/// Errors from provider records and peer-to-peer fetch.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The local block store failed.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// No other node is recorded as providing the file (its id).
    #[error("no node provides {0}")]
    NoProviders(String),
    /// Every provider tried failed to send the block or sent a corrupt one.
    #[error("no provider could deliver block {block} intact (tried {tried} peers)")]
    Unavailable {
        /// The block's BLAKE3, in hex.
        block: String,
        /// Providers asked for it.
        tried: usize,
    },
    /// Reading or writing provider or replica records in CSTORE failed (also a blocking
    /// task that did not complete).
    #[error("provider records: {0}")]
    Records(String),
}

/// R1FS on a node: the block store plus provider records in CSTORE and fetch over the mesh.
#[derive(Clone)]
pub struct FsService {
    /// The local block store.
    pub store: Arc<BlockStore>,
    mesh: Mesh,
    cstore: Cstore,
}

fn hex(hash: &[u8; 32]) -> String {
    hex::encode(hash)
}

impl FsService {
    /// A service over `store`, fetching through `mesh` and keeping records in `cstore`.
    pub fn new(store: BlockStore, mesh: Mesh, cstore: Cstore) -> Arc<Self> {
        Arc::new(Self {
            store: Arc::new(store),
            mesh,
            cstore,
        })
    }

    fn providers_key(cid: &ContentId) -> String {
        format!("providers/{cid}")
    }

    /// Records this node as a provider of `cid` (replicated through CSTORE).
    pub fn announce(&self, cid: &ContentId) -> Result<(), FetchError> {
        self.cstore
            .hset(
                PROVIDERS_NS,
                &Self::providers_key(cid),
                &self.mesh.peer_id().to_string(),
                b"1",
            )
            .map(|_| ())
            .map_err(|e| FetchError::Records(e.to_string()))
    }

    /// Withdraws this node as a provider of `cid`.
    pub fn withdraw(&self, cid: &ContentId) -> Result<(), FetchError> {
        self.cstore
            .hdel(
                PROVIDERS_NS,
                &Self::providers_key(cid),
                &self.mesh.peer_id().to_string(),
            )
            .map(|_| ())
            .map_err(|e| FetchError::Records(e.to_string()))
    }

    /// Known providers of `cid` other than this node.
    pub fn providers(&self, cid: &ContentId) -> Result<Vec<PeerId>, FetchError> {
        let me = self.mesh.peer_id();
        Ok(self
            .cstore
            .hkeys(PROVIDERS_NS, &Self::providers_key(cid))
            .map_err(|e| FetchError::Records(e.to_string()))?
            .into_iter()
            .filter_map(|p| p.parse::<PeerId>().ok())
            .filter(|p| *p != me)
            .collect())
    }

    fn replicas_key(cid: &ContentId) -> String {
        format!("replicas/{cid}")
    }

    /// Sets how many nodes should hold `cid` (0 or 1: no replication beyond this node).
    pub fn set_replicas(&self, cid: &ContentId, replicas: u32) -> Result<(), FetchError> {
        let key = Self::replicas_key(cid);
        let result = if replicas <= 1 {
            self.cstore.delete(PROVIDERS_NS, &key).map(|_| ())
        } else {
            self.cstore
                .set(PROVIDERS_NS, &key, replicas.to_string().as_bytes())
                .map(|_| ())
        };
        result.map_err(|e| FetchError::Records(e.to_string()))
    }

    /// Every file with a replication target, and the target.
    fn replication_targets(&self) -> Result<Vec<(ContentId, usize)>, FetchError> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self
                .cstore
                .list_keys(PROVIDERS_NS, "replicas/", cursor.as_deref(), 1000)
                .map_err(|e| FetchError::Records(e.to_string()))?;
            for key in &page.keys {
                let Some(cid) = key.strip_prefix("replicas/").and_then(|c| c.parse().ok()) else {
                    continue;
                };
                let k = self
                    .cstore
                    .get(PROVIDERS_NS, key)
                    .ok()
                    .flatten()
                    .and_then(|v| String::from_utf8(v).ok())
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(1);
                out.push((cid, k));
            }
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    /// One pass of the repair loop; returns the files this node took a copy of.
    pub async fn repair_once(self: &Arc<Self>) -> Result<Vec<ContentId>, FetchError> {
        let me = self.mesh.peer_id();
        let connected: HashSet<PeerId> = self.mesh.peers().await.into_iter().collect();
        let mut taken = Vec::new();
        for (cid, wanted) in self.replication_targets()? {
            let holds_here = self.store.pin_count(&cid).unwrap_or(0) > 0;
            if holds_here {
                continue;
            }
            let live: HashSet<PeerId> = self
                .providers(&cid)?
                .into_iter()
                .filter(|p| connected.contains(p))
                .collect();
            if live.len() >= wanted {
                continue;
            }
            // Candidates: every connected node not holding it, and this node.
            let mut candidates: Vec<PeerId> = connected
                .iter()
                .chain(std::iter::once(&me))
                .filter(|p| !live.contains(p))
                .copied()
                .collect();
            candidates.sort_by_key(|p| {
                let mut h = blake3::Hasher::new();
                h.update(&cid.digest);
                h.update(&p.to_bytes());
                *h.finalize().as_bytes()
            });
            candidates.dedup();
            let missing = wanted - live.len();
            if !candidates.iter().take(missing).any(|p| *p == me) {
                continue;
            }
            tracing::info!(%cid, wanted, live = live.len(), "repairing: taking a copy");
            self.ensure_local(&cid).await?;
            let this = self.clone();
            tokio::task::spawn_blocking(move || -> Result<(), FetchError> {
                this.store.pin(&cid)?;
                this.announce(&cid)
            })
            .await
            .map_err(|e| FetchError::Records(e.to_string()))??;
            taken.push(cid);
        }
        Ok(taken)
    }

    /// Runs the repair loop every `period` on the current runtime.
    pub fn start_repair_loop(self: &Arc<Self>, period: std::time::Duration) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                if let Err(e) = this.repair_once().await {
                    tracing::warn!("R1FS repair pass failed: {e}");
                }
            }
        });
    }

    /// Registers R1FS's request service (blocks by hash).
    pub fn register(self: &Arc<Self>, protocols: Protocols) -> Protocols {
        protocols.requests(SERVICE_BLOCK, self.clone())
    }

    /// One block from the first provider that delivers it intact; stores it locally.
    async fn fetch_block(
        &self,
        hash: [u8; 32],
        providers: &[PeerId],
        start: usize,
        bad: &std::sync::Mutex<HashSet<PeerId>>,
    ) -> Result<(), FetchError> {
        if self.store.get_block(&hash).is_ok() {
            return Ok(());
        }
        let mut tried = 0;
        for i in 0..providers.len() {
            let peer = providers[(start + i) % providers.len()];
            if bad
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(&peer)
            {
                continue;
            }
            tried += 1;
            match self.mesh.request(peer, SERVICE_BLOCK, hash.to_vec()).await {
                Ok(bytes) if blake3::hash(&bytes).as_bytes() == &hash => {
                    let store = self.store.clone();
                    tokio::task::spawn_blocking(move || store.put_verified_block(&hash, &bytes))
                        .await
                        .map_err(|e| FetchError::Records(e.to_string()))??;
                    return Ok(());
                }
                Ok(_) => {
                    tracing::warn!(%peer, block = %hex(&hash), "provider sent a corrupt block; skipping it");
                    bad.lock().unwrap_or_else(|p| p.into_inner()).insert(peer);
                }
                Err(e) => {
                    tracing::warn!(%peer, block = %hex(&hash), "provider failed: {e}");
                    bad.lock().unwrap_or_else(|p| p.into_inner()).insert(peer);
                }
            }
        }
        Err(FetchError::Unavailable {
            block: hex(&hash),
            tried,
        })
    }

    /// Makes `cid` complete in the local store, fetching missing blocks from providers.
    pub async fn ensure_local(&self, cid: &ContentId) -> Result<Manifest, FetchError> {
        if let Ok(manifest) = self.store.manifest(cid)
            && manifest.chunks.iter().all(|c| self.store.has_block(c))
        {
            return Ok(manifest);
        }
        let providers = self.providers(cid)?;
        if providers.is_empty() {
            return Err(FetchError::NoProviders(cid.to_string()));
        }
        let bad = std::sync::Mutex::new(HashSet::new());
        self.fetch_block(cid.digest, &providers, 0, &bad).await?;
        let manifest = self.store.manifest(cid)?;
        let (providers, bad) = (&providers, &bad);
        {
            let mut fetches = futures::stream::iter(manifest.chunks.iter().copied().enumerate())
                .map(|(i, hash)| async move { self.fetch_block(hash, providers, i, bad).await })
                .buffer_unordered(PARALLEL);
            while let Some(result) = fetches.next().await {
                result?;
            }
        }
        let (store, id, flushing) = (self.store.clone(), *cid, manifest.clone());
        tokio::task::spawn_blocking(move || store.flush_file(&id, &flushing))
            .await
            .map_err(|e| FetchError::Records(e.to_string()))??;
        Ok(manifest)
    }
}

impl From<FetchError> for ServiceError {
    fn from(e: FetchError) -> Self {
        match e {
            FetchError::NoProviders(m) => ServiceError::NotFound(m),
            FetchError::Fs(FsError::NotFound(m)) => ServiceError::NotFound(m),
            FetchError::Fs(e @ (FsError::BadId(..) | FsError::BadRange { .. })) => {
                ServiceError::Invalid(e.to_string())
            }
            FetchError::Fs(e @ (FsError::Encrypted(_) | FsError::WrongKey(_))) => {
                ServiceError::Denied(e.to_string())
            }
            other => ServiceError::Unavailable(other.to_string()),
        }
    }
}

fn blob_error(e: FetchError) -> ServiceError {
    ServiceError::from(e)
}

fn parse(cid: &str) -> Result<ContentId, ServiceError> {
    cid.parse()
        .map_err(|e: FsError| ServiceError::Invalid(e.to_string()))
}

/// R1FS's side of the mesh: a block by its hash, read on the blocking pool.
impl Protocol for FsService {
    fn request(self: Arc<Self>, _from: PeerId, _service: String, body: Vec<u8>, reply: Reply) {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let answer = match <[u8; 32]>::try_from(body.as_slice()) {
                Ok(hash) => store.get_block(&hash).map_err(|e| e.to_string()),
                Err(_) => Err("a block request carries a 32-byte hash".into()),
            };
            let _ = reply.send(answer);
        });
    }
}

/// R1FS as actors see it (`r1:fs`): files they add are pinned here and announced. Adds (which
/// write and sync every block) run on the blocking pool, off the actor's worker.
impl BlobService for FsService {
    fn add(
        &self,
        mut data: Box<dyn std::io::Read + Send>,
        name: Option<String>,
        encrypt: bool,
    ) -> BoxFuture<'_, Result<(String, Option<BlobKey>), ServiceError>> {
        let service = self.clone();
        Box::pin(async move {
            let added = tokio::task::spawn_blocking(move || {
                let key = if encrypt {
                    Some(BlockStore::new_key().map_err(|e| blob_error(e.into()))?)
                } else {
                    None
                };
                let options = crate::AddOptions {
                    name,
                    media_type: None,
                    pin: true,
                    key,
                };
                let cid = service
                    .store
                    .add(&mut data, &options, |_| {})
                    .map_err(|e| blob_error(e.into()))?;
                service.announce(&cid).map_err(blob_error)?;
                Ok((cid.to_string(), key))
            })
            .await;
            added.unwrap_or_else(|e| Err(ServiceError::Unavailable(format!("add failed: {e}"))))
        })
    }

    fn open<'a>(&'a self, cid: &'a str) -> BoxFuture<'a, Result<BlobStat, ServiceError>> {
        Box::pin(async move {
            let id = parse(cid)?;
            let manifest = self.ensure_local(&id).await.map_err(blob_error)?;
            Ok(BlobStat {
                cid: id.to_string(),
                size: manifest.size,
                name: manifest.name,
                encrypted: manifest.encrypted,
            })
        })
    }

    fn read(
        &self,
        cid: &str,
        offset: u64,
        len: u64,
        key: Option<&BlobKey>,
    ) -> Result<Vec<u8>, ServiceError> {
        self.store
            .read_range_with_key(&parse(cid)?, key, offset, len)
            .map_err(|e| blob_error(e.into()))
    }

    fn stat(&self, cid: &str) -> Result<BlobStat, ServiceError> {
        let s = self
            .store
            .stat(&parse(cid)?)
            .map_err(|e| blob_error(e.into()))?;
        Ok(BlobStat {
            cid: s.id.to_string(),
            size: s.size,
            name: s.name,
            encrypted: s.encrypted,
        })
    }

    fn pin<'a>(&'a self, cid: &'a str, replicas: u32) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let cid = parse(cid)?;
            self.ensure_local(&cid).await.map_err(blob_error)?;
            self.store.pin(&cid).map_err(|e| blob_error(e.into()))?;
            self.announce(&cid).map_err(blob_error)?;
            if replicas > 1 {
                self.set_replicas(&cid, replicas).map_err(blob_error)?;
            }
            Ok(())
        })
    }

    fn unpin(&self, cid: &str) -> Result<(), ServiceError> {
        let cid = parse(cid)?;
        if self.store.unpin(&cid).map_err(|e| blob_error(e.into()))? == 0 {
            self.withdraw(&cid).map_err(blob_error)?;
            self.set_replicas(&cid, 0).map_err(blob_error)?;
        }
        Ok(())
    }
}
