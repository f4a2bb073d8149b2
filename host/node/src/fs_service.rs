//! R1FS on a running node: the local block store, provider records and peer-to-peer fetch.
//!
//! - Providers: a node holding a pinned file records itself in CSTORE (namespace `r1fs`, hash
//!   `providers/<cid>`, field = its peer id), which replicates to every node.
//! - Transfer: blocks are requested from providers over the mesh (`fs.block`, body = the
//!   32-byte BLAKE3 of the block). Every block is verified on receipt; a provider that sends a
//!   wrong block (or none) is skipped for the rest of the fetch and the block is asked of the
//!   next provider. A block no provider can deliver intact is an error, never data.
//! - Chunks of one file are fetched concurrently (a few at a time), round-robin over providers.

use std::collections::HashSet;
use std::sync::Arc;

use r1_cstore::Cstore;
use r1_fs::{BlockStore, ContentId, FsError, Manifest};
use r1_mesh::{Mesh, MeshEvent, NodePeerId as PeerId};

pub const SERVICE_BLOCK: &str = "fs.block";
const PROVIDERS_NS: &str = "r1fs";
/// Chunks requested at once during a fetch.
const PARALLEL: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error("no node provides {0}")]
    NoProviders(String),
    #[error("no provider could deliver block {block} intact (tried {tried} peers)")]
    Unavailable { block: String, tried: usize },
    #[error("provider records: {0}")]
    Records(String),
}

pub struct FsService {
    pub store: Arc<BlockStore>,
    mesh: Mesh,
    cstore: Cstore,
}

fn hex(hash: &[u8; 32]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

impl FsService {
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

    /// Answers a mesh request if it is R1FS's; returns it otherwise.
    pub fn handle(self: &Arc<Self>, event: MeshEvent) -> Option<MeshEvent> {
        match event {
            MeshEvent::Request {
                service,
                body,
                reply,
                ..
            } if service == SERVICE_BLOCK => {
                let store = self.store.clone();
                tokio::task::spawn_blocking(move || {
                    let answer = match <[u8; 32]>::try_from(body.as_slice()) {
                        Ok(hash) => store.get_block(&hash).map_err(|e| e.to_string()),
                        Err(_) => Err("a block request carries a 32-byte hash".into()),
                    };
                    let _ = reply.send(answer);
                });
                None
            }
            other => Some(other),
        }
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
                    tokio::task::spawn_blocking(move || store.put_block(&bytes))
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
    pub async fn ensure_local(self: &Arc<Self>, cid: &ContentId) -> Result<Manifest, FetchError> {
        if let Ok(manifest) = self.store.manifest(cid)
            && manifest.chunks.iter().all(|c| self.store.has_block(c))
        {
            return Ok(manifest);
        }
        let providers = self.providers(cid)?;
        if providers.is_empty() {
            return Err(FetchError::NoProviders(cid.to_string()));
        }
        let bad = Arc::new(std::sync::Mutex::new(HashSet::new()));
        self.fetch_block(cid.digest, &providers, 0, &bad).await?;
        let manifest = self.store.manifest(cid)?;
        let mut chunks = manifest.chunks.iter().copied().enumerate();
        loop {
            let wave: Vec<(usize, [u8; 32])> = chunks.by_ref().take(PARALLEL).collect();
            if wave.is_empty() {
                break;
            }
            let fetches = wave.into_iter().map(|(i, hash)| {
                let this = self.clone();
                let providers = providers.clone();
                let bad = bad.clone();
                async move { this.fetch_block(hash, &providers, i, &bad).await }
            });
            for result in futures::future::join_all(fetches).await {
                result?;
            }
        }
        Ok(manifest)
    }
}
