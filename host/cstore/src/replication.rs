//! Replication of CSTORE over the mesh.
//!
//! - Every op written locally is gossiped on [`TOPIC`] once durable; ops larger than the
//!   gossip limit are pushed to each connected peer by request-response instead. A whole
//!   signed batch travels as one frame — its bodies and the one signature — and the receiver
//!   rebuilds each op's proof ([`op::assemble`]), so a proof costs bytes on disk, not on the
//!   wire; an op whose batch is not all in one message travels with its proof.
//! - A remote op is applied only if its signature holds and its writer is admitted; anything
//!   else is counted and dropped, changing nothing.
//! - Anti-entropy: every `interval`, a node sends its 256 top bucket digests to one random
//!   peer, which answers with its leaf digests under the tops that differ; the node finds the
//!   differing leaves, pulls the peer's ops in them and pushes its own back, in resumable pages.
//!   A node that missed gossip, was partitioned or just joined converges within a few rounds,
//!   and an exchange moves about what differs (a leaf is 1/65,536 of the store).
//! - `min_acks`: a write can wait until N peers have applied it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use r1_mesh::{
    Admission, MAX_GOSSIP_BYTES, Mesh, NodePeerId as PeerId, Protocol, Protocols, Reply,
};
use serde::Serialize;

use crate::op::{self, OpError};
use crate::{Applied, BUCKETS, Cstore, CstoreError, Digest, LEAVES};

/// The gossip topic of CSTORE ops.
pub const TOPIC: &str = "r1/cstore/ops/2";
const SERVICE_DIGEST: &str = "cstore.digest.2";
const SERVICE_PULL: &str = "cstore.pull";
const SERVICE_PUSH: &str = "cstore.push";
/// Most op bytes one anti-entropy answer carries; the rest follows in later rounds.
const MAX_SYNC_BYTES: usize = 8 * 1024 * 1024;

/// Why an acknowledged write failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    /// The local write failed.
    #[error(transparent)]
    Store(#[from] CstoreError),
    /// The write is durable here, but fewer peers than required applied it.
    #[error("only {acked} of the {wanted} required peers acknowledged the write")]
    NotEnoughAcks {
        /// Peers that applied the write.
        acked: usize,
        /// Peers required (`min_acks`).
        wanted: usize,
    },
}

/// Counters for node status.
#[derive(Debug, Default, Serialize)]
pub struct ReplicationStats {
    /// Remote ops that won and changed the store.
    pub applied: AtomicU64,
    /// Remote ops the store already held, or held a later write for.
    pub stale: AtomicU64,
    /// Remote ops dropped as malformed or with a signature that does not verify.
    pub rejected_signature: AtomicU64,
    /// Remote ops dropped because their writer is not admitted.
    pub rejected_writer: AtomicU64,
    /// Anti-entropy rounds started (rounds with no peer are not counted).
    pub anti_entropy_rounds: AtomicU64,
}

/// `u32be count | count × (u32be length | op)`.
fn encode_ops(ops: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + ops.iter().map(|o| o.len() + 4).sum::<usize>());
    out.extend_from_slice(&(ops.len() as u32).to_be_bytes());
    for op in ops {
        out.extend_from_slice(&(op.len() as u32).to_be_bytes());
        out.extend_from_slice(op);
    }
    out
}

fn decode_ops(mut bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let next_u32 = |b: &mut &[u8]| -> Result<usize, String> {
        let (n, rest) = b.split_first_chunk::<4>().ok_or("truncated op list")?;
        *b = rest;
        Ok(u32::from_be_bytes(*n) as usize)
    };
    let count = next_u32(&mut bytes)?;
    let mut ops = Vec::with_capacity(count.min(1 << 16));
    for _ in 0..count {
        let len = next_u32(&mut bytes)?;
        if bytes.len() < len {
            return Err("truncated op".into());
        }
        let (op, rest) = bytes.split_at(len);
        ops.push(op.to_vec());
        bytes = rest;
    }
    if !bytes.is_empty() {
        return Err("trailing bytes after ops".into());
    }
    Ok(ops)
}

/// What a gossip message carries: ops that verify alone, or whole batches without proofs.
#[derive(Debug, PartialEq)]
enum Item {
    Op(Vec<u8>),
    Batch {
        signature: [u8; 64],
        bodies: Vec<Vec<u8>>,
    },
}

impl Item {
    fn size(&self) -> usize {
        match self {
            Item::Op(op) => 5 + op.len(),
            Item::Batch { bodies, .. } => 69 + bodies.iter().map(|b| b.len() + 4).sum::<usize>(),
        }
    }
}

/// Groups ops (in write order) into items: a run holding a whole batch, in order, becomes one
/// [`Item::Batch`] when it fits in `limit` bytes; every other op travels alone.
fn frame(ops: Vec<Vec<u8>>, limit: usize) -> Vec<Item> {
    let mut items = Vec::new();
    let mut i = 0;
    while i < ops.len() {
        if let Some((_, 0, count, signature)) = op::sealed_parts(&ops[i])
            && i + count <= ops.len()
        {
            let run = &ops[i..i + count];
            let bodies: Option<Vec<Vec<u8>>> = run
                .iter()
                .enumerate()
                .map(|(n, o)| match op::sealed_parts(o) {
                    Some((body, index, c, sig)) if index == n && c == count && sig == signature => {
                        Some(body.to_vec())
                    }
                    _ => None,
                })
                .collect();
            if let Some(bodies) = bodies {
                let item = Item::Batch { signature, bodies };
                if item.size() + 4 <= limit {
                    items.push(item);
                    i += count;
                    continue;
                }
            }
        }
        items.push(Item::Op(ops[i].clone()));
        i += 1;
    }
    items
}

/// `u32be n | n items`; an item is `0 | u32be len | op` or `1 | [64] signature | u32be count |
/// count × (u32be len | body)`.
fn encode_items(items: &[Item]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + items.iter().map(Item::size).sum::<usize>());
    out.extend_from_slice(&(items.len() as u32).to_be_bytes());
    for item in items {
        match item {
            Item::Op(op) => {
                out.push(0);
                out.extend_from_slice(&(op.len() as u32).to_be_bytes());
                out.extend_from_slice(op);
            }
            Item::Batch { signature, bodies } => {
                out.push(1);
                out.extend_from_slice(signature);
                out.extend_from_slice(&(bodies.len() as u32).to_be_bytes());
                for body in bodies {
                    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
                    out.extend_from_slice(body);
                }
            }
        }
    }
    out
}

/// The ops of a gossip message, every batch's proofs rebuilt (signatures not yet checked).
fn decode_items(mut bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    fn u32_at(b: &mut &[u8]) -> Result<usize, String> {
        let (n, rest) = b.split_first_chunk::<4>().ok_or("truncated frame")?;
        *b = rest;
        Ok(u32::from_be_bytes(*n) as usize)
    }
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if b.len() < n {
            return Err("truncated frame".into());
        }
        let (head, rest) = b.split_at(n);
        *b = rest;
        Ok(head)
    }
    let count = u32_at(&mut bytes)?;
    let mut ops = Vec::with_capacity(count.min(1 << 12));
    for _ in 0..count {
        match take(&mut bytes, 1)?[0] {
            0 => {
                let len = u32_at(&mut bytes)?;
                ops.push(take(&mut bytes, len)?.to_vec());
            }
            1 => {
                let signature: [u8; 64] = take(&mut bytes, 64)?
                    .try_into()
                    .map_err(|_| "signature".to_string())?;
                let n = u32_at(&mut bytes)?;
                if n == 0 || n > op::MAX_BATCH {
                    return Err("batch size out of range".into());
                }
                let mut bodies = Vec::with_capacity(n.min(1 << 12));
                for _ in 0..n {
                    let len = u32_at(&mut bytes)?;
                    bodies.push(take(&mut bytes, len)?.to_vec());
                }
                ops.extend(op::assemble(&bodies, &signature));
            }
            _ => return Err("unknown frame item".into()),
        }
    }
    if !bytes.is_empty() {
        return Err("trailing bytes after frame".into());
    }
    Ok(ops)
}

/// Digest request: the 256 top digests (16 bytes each). Response: `u16be n | n top ids |
/// n × 256 leaf digests` for the tops that differ.
fn encode_digest_response(differing: &[u8], leaves: &[Digest]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + differing.len() * (1 + 256 * 16));
    out.extend_from_slice(&(differing.len() as u16).to_be_bytes());
    out.extend_from_slice(differing);
    out.extend(leaves.iter().flatten());
    out
}

/// (differing tops, their leaf digests).
fn decode_digest_response(bytes: &[u8]) -> Result<(Vec<u8>, Vec<Digest>), String> {
    let (n, rest) = bytes.split_first_chunk::<2>().ok_or("truncated response")?;
    let n = u16::from_be_bytes(*n) as usize;
    if n > BUCKETS || rest.len() != n + n * 256 * 16 {
        return Err("digest response of the wrong size".into());
    }
    let (tops, rest) = rest.split_at(n);
    let leaves = rest
        .chunks_exact(16)
        .map(|c| c.try_into().map_err(|_| "digest".to_string()))
        .collect::<Result<Vec<Digest>, String>>()?;
    Ok((tops.to_vec(), leaves))
}

/// Pull request: `u32be n | n × u16be leaf buckets | the position to resume after` (empty:
/// from the start). Response: `u32be m | m bytes: the page's last position when more follow
/// (m = 0: none) | ops`.
fn encode_pull(leaves: &[u16], after: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + leaves.len() * 2);
    out.extend_from_slice(&(leaves.len() as u32).to_be_bytes());
    for leaf in leaves {
        out.extend_from_slice(&leaf.to_be_bytes());
    }
    out.extend_from_slice(after.unwrap_or_default());
    out
}

fn decode_pull(bytes: &[u8]) -> Result<(Vec<u16>, Option<&[u8]>), String> {
    let (n, rest) = bytes.split_first_chunk::<4>().ok_or("truncated pull")?;
    let n = u32::from_be_bytes(*n) as usize;
    if n > LEAVES || rest.len() < n * 2 {
        return Err("truncated leaf list".into());
    }
    let (leaves, after) = rest.split_at(n * 2);
    let leaves = leaves
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    Ok((leaves, (!after.is_empty()).then_some(after)))
}

fn encode_page(page: &crate::OpsPage) -> Vec<u8> {
    let next = page.next.as_deref().unwrap_or_default();
    let mut out = Vec::new();
    out.extend_from_slice(&(next.len() as u32).to_be_bytes());
    out.extend_from_slice(next);
    out.extend_from_slice(&encode_ops(&page.ops));
    out
}

fn decode_page(bytes: &[u8]) -> Result<crate::OpsPage, String> {
    let (m, rest) = bytes.split_first_chunk::<4>().ok_or("truncated page")?;
    let m = u32::from_be_bytes(*m) as usize;
    if rest.len() < m {
        return Err("truncated cursor".into());
    }
    let (next, rest) = rest.split_at(m);
    Ok(crate::OpsPage {
        ops: decode_ops(rest)?,
        next: (m > 0).then(|| next.to_vec()),
    })
}

/// Where the anti-entropy pages with one peer stand, each way.
#[derive(Default)]
struct Resume {
    /// The last cell of the page the peer sent us (it resumes after it).
    pull: Option<Vec<u8>>,
    /// The last cell of the page we pushed to the peer.
    push: Option<Vec<u8>>,
}

/// Replicates one [`Cstore`] over the mesh: gossip, pushes and anti-entropy.
pub struct Replicator {
    store: Cstore,
    mesh: Mesh,
    /// Whose ops are accepted: the same admission the mesh uses, keyed by writer node key.
    admission: Arc<dyn Admission>,
    /// Anti-entropy paging with each peer.
    resume: std::sync::Mutex<std::collections::HashMap<PeerId, Resume>>,
    /// What happened to the remote ops received so far.
    pub stats: ReplicationStats,
}

impl Replicator {
    /// Hooks `store` to `mesh` and starts the gossip pump and the anti-entropy loop on the
    /// current tokio runtime. Feed it the mesh's events with [`Replicator::handle`].
    pub fn start(
        store: Cstore,
        mesh: Mesh,
        admission: Arc<dyn Admission>,
        interval: Duration,
        tombstone_horizon: Duration,
    ) -> Arc<Self> {
        let this = Arc::new(Self {
            store,
            mesh,
            admission,
            resume: Default::default(),
            stats: ReplicationStats::default(),
        });
        if let Err(e) = this.mesh.subscribe(TOPIC) {
            tracing::error!("cannot subscribe to {TOPIC}: {e}");
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<Vec<u8>>>();
        this.store.set_outbox(Some(tx));
        let pump = this.clone();
        tokio::spawn(async move {
            // Drain whatever rounds have queued up into one shipment: framing and verifying
            // are paid per message, so a burst of writes travels together.
            while let Some(first) = rx.recv().await {
                let mut size: usize = first.iter().map(Vec::len).sum();
                let mut batch = first;
                while size < MAX_GOSSIP_BYTES / 2 {
                    match rx.try_recv() {
                        Ok(round) => {
                            size += round.iter().map(Vec::len).sum::<usize>();
                            batch.extend(round);
                        }
                        Err(_) => break,
                    }
                }
                pump.ship(batch).await;
            }
        });
        let looper = this.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            let mut rounds: u64 = 0;
            loop {
                tick.tick().await;
                looper.anti_entropy_round().await;
                rounds += 1;
                // Collect tombstones about once a minute.
                if rounds.is_multiple_of((60_000 / interval.as_millis().max(1)) as u64 + 1) {
                    let store = looper.store.clone();
                    let horizon = tombstone_horizon.as_millis() as u64;
                    let _ = tokio::task::spawn_blocking(move || store.collect_tombstones(horizon))
                        .await;
                }
            }
        });
        this
    }

    /// The store it replicates.
    pub fn store(&self) -> &Cstore {
        &self.store
    }

    async fn ship(&self, batch: Vec<Vec<u8>>) {
        let limit = MAX_GOSSIP_BYTES - 256;
        let (small, large): (Vec<Vec<u8>>, Vec<Vec<u8>>) = batch
            .into_iter()
            .partition(|op| op.len() + 256 <= MAX_GOSSIP_BYTES);
        // Gossip in messages under the limit, whole batches as one frame each.
        let mut message: Vec<Item> = Vec::new();
        let mut size = 4;
        for item in frame(small, limit) {
            if size + item.size() > limit && !message.is_empty() {
                self.gossip(&std::mem::take(&mut message)).await;
                size = 4;
            }
            size += item.size();
            message.push(item);
        }
        if !message.is_empty() {
            self.gossip(&message).await;
        }
        // Too big to gossip: push to every connected peer directly.
        if large.is_empty() {
            return;
        }
        let body = encode_ops(&large);
        for peer in self.mesh.peers().await {
            if let Err(e) = self.mesh.request(peer, SERVICE_PUSH, body.clone()).await {
                tracing::warn!(%peer, "push of large ops failed (anti-entropy will retry): {e}");
            }
        }
    }

    async fn gossip(&self, items: &[Item]) {
        if let Err(e) = self.mesh.publish(TOPIC, encode_items(items)).await {
            tracing::warn!("gossip of cstore ops failed (anti-entropy will retry): {e}");
        }
    }

    /// Writes `value` (synced to disk first when `synced`, whatever the store's mode) and waits
    /// until `min_acks` peers have applied it.
    pub async fn set_acked(
        &self,
        ns: &str,
        key: &str,
        value: &[u8],
        min_acks: usize,
        synced: bool,
    ) -> Result<u64, ReplicationError> {
        let store = self.store.clone();
        let (ns_owned, key_owned, value_owned) = (ns.to_owned(), key.to_owned(), value.to_vec());
        let version = tokio::task::spawn_blocking(move || {
            if synced {
                store.set_synced(&ns_owned, &key_owned, &value_owned)
            } else {
                store.set(&ns_owned, &key_owned, &value_owned)
            }
        })
        .await
        .map_err(|e| CstoreError::Invalid {
            what: "write",
            reason: e.to_string(),
        })??;
        if min_acks == 0 {
            return Ok(version);
        }
        // Push the current state of the cell to every peer and count who applied it.
        let ops: Vec<Vec<u8>> = self.store.key_op(ns, key)?.into_iter().collect();
        let body = encode_ops(&ops);
        let peers = self.mesh.peers().await;
        let mut pending = Vec::new();
        for peer in peers {
            let mesh = self.mesh.clone();
            let body = body.clone();
            pending.push(tokio::spawn(async move {
                mesh.request(peer, SERVICE_PUSH, body).await.is_ok()
            }));
        }
        let mut acked = 0;
        for p in pending {
            if p.await.unwrap_or(false) {
                acked += 1;
            }
        }
        if acked < min_acks {
            return Err(ReplicationError::NotEnoughAcks {
                acked,
                wanted: min_acks,
            });
        }
        Ok(version)
    }

    /// Verifies and applies remote ops; returns (how many this node now holds, how many
    /// changed the store).
    pub fn apply_verified(&self, from: Option<PeerId>, ops: Vec<Vec<u8>>) -> (usize, usize) {
        let mut accepted = Vec::with_capacity(ops.len());
        let verified = op::verify_all(&ops);
        for (raw, checked) in ops.into_iter().zip(verified) {
            match checked {
                // The admission answers from memory (allowlist) or a cache (licences).
                Ok(body) if futures::executor::block_on(self.admission.admits(&body.writer)) => {
                    accepted.push(raw)
                }
                Ok(_) => {
                    self.stats.rejected_writer.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        ?from,
                        "dropped a cstore op from a writer outside the allowlist"
                    );
                }
                Err(OpError::BadSignature) | Err(OpError::Malformed(_)) => {
                    self.stats
                        .rejected_signature
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(?from, "dropped a cstore op with a bad signature or format");
                }
            }
        }
        if accepted.is_empty() {
            return (0, 0);
        }
        match self.store.apply_remote(&accepted) {
            Ok(results) => {
                let mut updated = 0;
                let mut held = 0;
                for r in results {
                    match r {
                        Ok(Applied::Updated) => {
                            updated += 1;
                            held += 1;
                        }
                        Ok(Applied::Stale) => {
                            held += 1;
                            self.stats.stale.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            self.stats
                                .rejected_signature
                                .fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                self.stats
                    .applied
                    .fetch_add(updated as u64, Ordering::Relaxed);
                (held, updated)
            }
            Err(e) => {
                tracing::error!("applying remote cstore ops failed: {e}");
                (0, 0)
            }
        }
    }

    /// Registers CSTORE's gossip topic and request services (and its catch-up on connect).
    pub fn register(self: &Arc<Self>, protocols: Protocols) -> Protocols {
        protocols
            .gossip(TOPIC, self.clone())
            .requests(SERVICE_DIGEST, self.clone())
            .requests(SERVICE_PULL, self.clone())
            .requests(SERVICE_PUSH, self.clone())
            .on_connect(self.clone())
    }

    fn answer(&self, from: PeerId, service: &str, body: &[u8]) -> Result<Vec<u8>, String> {
        match service {
            SERVICE_DIGEST => {
                if body.len() != BUCKETS * 16 {
                    return Err("digest request must carry 256 buckets of 16 bytes".into());
                }
                let differing: Vec<u8> = self
                    .store
                    .digests()
                    .iter()
                    .zip(body.chunks_exact(16))
                    .enumerate()
                    .filter(|(_, (mine, theirs))| mine.as_slice() != *theirs)
                    .map(|(i, _)| i as u8)
                    .collect();
                let leaves = self.store.leaf_digests(&differing);
                Ok(encode_digest_response(&differing, &leaves))
            }
            SERVICE_PULL => {
                let (leaves, after) = decode_pull(body)?;
                let page = self
                    .store
                    .ops_in_buckets(&leaves, MAX_SYNC_BYTES, after)
                    .map_err(|e| e.to_string())?;
                Ok(encode_page(&page))
            }
            _ => {
                let ops = decode_ops(body).map_err(|e| format!("bad push: {e}"))?;
                let total = ops.len();
                let (held, _) = self.apply_verified(Some(from), ops);
                // Acknowledge only when every op is now held durably here (applied, or
                // already superseded by a later op).
                if held < total {
                    return Err(format!("refused {} of {total} ops", total - held));
                }
                Ok(Vec::new())
            }
        }
    }

    async fn anti_entropy_round(self: &Arc<Self>) {
        let peers = self.mesh.peers().await;
        if peers.is_empty() {
            return;
        }
        let pick = (self
            .stats
            .anti_entropy_rounds
            .fetch_add(1, Ordering::Relaxed) as usize)
            % peers.len();
        self.sync_with(peers[pick]).await;
    }

    /// One anti-entropy exchange with `peer`, both directions.
    pub async fn sync_with(self: &Arc<Self>, peer: PeerId) {
        let (pull_after, push_after) = {
            let resume = self.resume.lock().unwrap_or_else(|p| p.into_inner());
            resume
                .get(&peer)
                .map(|r| (r.pull.clone(), r.push.clone()))
                .unwrap_or_default()
        };
        let body: Vec<u8> = self.store.digests().iter().flatten().copied().collect();
        let response = match self.mesh.request(peer, SERVICE_DIGEST, body).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(%peer, "anti-entropy request failed: {e}");
                return;
            }
        };
        let Ok((tops, their_leaves)) = decode_digest_response(&response) else {
            tracing::warn!(%peer, "malformed anti-entropy response");
            return;
        };
        let differing: Vec<u16> = self
            .store
            .leaf_digests(&tops)
            .iter()
            .zip(&their_leaves)
            .enumerate()
            .filter(|(_, (mine, theirs))| mine != theirs)
            .map(|(i, _)| (tops[i / 256] as u16) << 8 | (i % 256) as u16)
            .collect();
        if differing.is_empty() {
            self.resume
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&peer);
            return;
        }
        let pull = encode_pull(&differing, pull_after.as_deref());
        let theirs = match self.mesh.request(peer, SERVICE_PULL, pull).await {
            Ok(r) => match decode_page(&r) {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(%peer, "malformed anti-entropy page: {e}");
                    return;
                }
            },
            Err(e) => {
                tracing::debug!(%peer, "anti-entropy pull failed: {e}");
                return;
            }
        };
        let pulled_next = theirs.next.clone();
        let this = self.clone();
        let mine = tokio::task::spawn_blocking(move || {
            this.apply_verified(Some(peer), theirs.ops);
            this.store
                .ops_in_buckets(&differing, MAX_SYNC_BYTES, push_after.as_deref())
        })
        .await;
        let mut pushed_next = None;
        if let Ok(Ok(page)) = mine {
            pushed_next = page.next.clone();
            if !page.ops.is_empty()
                && let Err(e) = self
                    .mesh
                    .request(peer, SERVICE_PUSH, encode_ops(&page.ops))
                    .await
            {
                tracing::debug!(%peer, "anti-entropy push failed: {e}");
                // Not delivered: the next push starts from the beginning again.
                pushed_next = None;
            }
        }
        // The next round with this peer resumes after these pages (from the start once a
        // scan reached the end).
        self.resume
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                peer,
                Resume {
                    pull: pulled_next,
                    push: pushed_next,
                },
            );
    }
}

/// CSTORE's side of the mesh: ops by gossip, digests and pushes by request (answered on the
/// blocking pool: they read and write the store), catch-up with every peer that connects.
impl Protocol for Replicator {
    fn gossip(self: Arc<Self>, _topic: String, from: PeerId, data: Vec<u8>) {
        match decode_items(&data) {
            Ok(ops) => {
                tokio::task::spawn_blocking(move || self.apply_verified(Some(from), ops));
            }
            Err(e) => {
                self.stats
                    .rejected_signature
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(peer = %from, "malformed cstore gossip: {e}");
            }
        }
    }

    fn request(self: Arc<Self>, from: PeerId, service: String, body: Vec<u8>, reply: Reply) {
        tokio::task::spawn_blocking(move || {
            let _ = reply.send(self.answer(from, &service, &body));
        });
    }

    fn peer_connected(self: Arc<Self>, peer: PeerId) {
        // Catch up with a newcomer (or a returning peer) right away.
        tokio::spawn(async move { self.sync_with(peer).await });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::{Kind, OpBody};
    use ed25519_dalek::SigningKey;

    fn op(writer: &SigningKey, value: &[u8]) -> Vec<u8> {
        OpBody {
            kind: Kind::Key,
            hlc: u64::MAX / 2,
            writer: writer.verifying_key().to_bytes(),
            version: 1,
            expires: 0,
            ns: "n".into(),
            key: "k".into(),
            field: String::new(),
            value: Some(value.to_vec()),
        }
        .sign(writer)
    }

    fn batch(writer: &SigningKey, n: usize) -> Vec<Vec<u8>> {
        let bodies: Vec<Vec<u8>> = (0..n)
            .map(|i| {
                OpBody {
                    kind: Kind::Key,
                    hlc: 1 + i as u64,
                    writer: writer.verifying_key().to_bytes(),
                    version: 1,
                    expires: 0,
                    ns: "n".into(),
                    key: format!("k{i}"),
                    field: String::new(),
                    value: Some(vec![b'v'; 40]),
                }
                .encode()
            })
            .collect();
        op::seal(&bodies, writer)
    }

    #[test]
    fn whole_batches_travel_without_proofs_and_arrive_identical() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let first = batch(&key, 50);
        let second = batch(&key, 7);
        let lone = op(&key, b"alone");
        let ops: Vec<Vec<u8>> = first
            .iter()
            .chain(std::slice::from_ref(&lone))
            .chain(&second)
            .cloned()
            .collect();
        let items = frame(ops.clone(), 60_000);
        assert_eq!(items.len(), 3, "three whole batches, one of a single op");
        assert!(matches!(&items[1], Item::Batch { bodies, .. } if bodies.len() == 1));
        let bytes = encode_items(&items);
        let plain = encode_ops(&ops).len();
        assert!(
            bytes.len() * 2 < plain,
            "{} bytes framed vs {plain} with proofs",
            bytes.len()
        );
        let back = decode_items(&bytes).unwrap();
        assert_eq!(back, ops, "proofs rebuilt byte for byte");
        assert!(op::verify_all(&back).iter().all(Result::is_ok));
        // A partial batch (its first op missing) travels op by op, proofs included.
        let partial = frame(first[1..].to_vec(), 60_000);
        assert_eq!(partial.len(), 49);
        assert!(partial.iter().all(|i| matches!(i, Item::Op(_))));
        // A batch over the limit too.
        assert_eq!(frame(first.clone(), 1_000).len(), 50);
        // A forged signature on a frame fails every op of it, and only those.
        let mut forged = items;
        if let Item::Batch { signature, .. } = &mut forged[0] {
            signature[0] ^= 1;
        }
        let results = op::verify_all(&decode_items(&encode_items(&forged)).unwrap());
        assert_eq!(results.iter().filter(|r| r.is_err()).count(), 50);
        assert!(results[50..].iter().all(Result::is_ok));
        assert!(decode_items(&bytes[..bytes.len() - 1]).is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn forged_and_unadmitted_ops_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Cstore::open(dir.path()).unwrap();
        let (mesh, _events) = r1_mesh::Mesh::start(r1_mesh::MeshConfig {
            secret: [3; 32],
            listen: vec![r1_mesh::parse_addr("127.0.0.1:0").unwrap()],
            bootstrap: Vec::new(),
            mdns: false,
            admission: Arc::new(r1_mesh::Allowlist::open()),
        })
        .unwrap();
        let friend = SigningKey::from_bytes(&[1; 32]);
        let stranger = SigningKey::from_bytes(&[2; 32]);
        let replicator = Replicator::start(
            store.clone(),
            mesh,
            Arc::new(r1_mesh::Allowlist::new([friend.verifying_key().to_bytes()])),
            Duration::from_secs(3600),
            Duration::from_secs(3600),
        );

        // Tampered value: the signature no longer holds.
        let mut forged = op(&friend, b"forged");
        let at = forged.len() - 70;
        forged[at] ^= 1;
        assert_eq!(replicator.apply_verified(None, vec![forged]), (0, 0));
        // Well signed, but by a writer outside the allowlist.
        assert_eq!(
            replicator.apply_verified(None, vec![op(&stranger, b"x")]),
            (0, 0)
        );
        assert_eq!(store.get("n", "k").unwrap(), None);
        assert_eq!(
            replicator.stats.rejected_signature.load(Ordering::Relaxed),
            1
        );
        assert_eq!(replicator.stats.rejected_writer.load(Ordering::Relaxed), 1);
        // The genuine op applies.
        assert_eq!(
            replicator.apply_verified(None, vec![op(&friend, b"ok")]),
            (1, 1)
        );
        assert_eq!(store.get("n", "k").unwrap().unwrap(), b"ok");
    }
}
