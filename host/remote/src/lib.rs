//! `r1-remote`: actor messages between nodes, over the mesh.
//!
//! Implements the runtime's [`RemoteDelivery`] (what leaves this node) and hands what arrives
//! to its [`LocalDelivery`] (the runtime's router), as a mesh [`Protocol`] on
//! [`PROTOCOL`]. Between two nodes there is one long-lived stream each way; each carries
//! [`wire`] frames written by one task from one bounded queue (the *link*).
//!
//! Invariants:
//! - **Order**: one writer per link and one reader per inbound stream, so every message from
//!   this node to another (sends, requests, publishes, directory updates) arrives in the
//!   order it was queued, and is handed to local mailboxes in that order.
//! - **Threads**: link writers and stream readers run on the mesh's own thread
//!   ([`Mesh::spawn`]), beside the connections they use; actors only queue into a link.
//! - **Identity**: a message's sender is shown as `PEER/ACTOR`, where `PEER` is the
//!   authenticated peer whose stream it came in on; only streams from peers this node
//!   admits are read (the mesh closes the others unread).
//! - **Bounded memory**: a link queues at most [`RemoteConfig::link_queue`] frames: a send or
//!   request to a full link fails with `MailboxFull`, a publish is dropped and counted. On
//!   the wire, a link may have at most [`RemoteConfig::window`] bytes of messages that the
//!   receiver has not yet handed over; the receiver returns credit as it hands them to
//!   mailboxes (credit frames jump the queue, so two nodes flooding each other cannot
//!   deadlock). The receiver hands one message at a time to the local mailbox (a publish to
//!   each local subscriber in turn), waiting up to [`RemoteConfig::deliver_wait`] for room and
//!   then dropping it (counted; a subscriber still full misses the publish); while it waits
//!   it returns no credit, the sender's link fills, and backpressure reaches the sending
//!   actor as `MailboxFull`. So what one peer can make this node hold is its window plus the
//!   receiving actors' bounded mailboxes, whatever the transport would buffer.
//! - **At most once**: nothing is retried. A link that breaks (the peer died, a partition)
//!   loses the frames it had queued, fails the requests waiting on that peer with
//!   `Unreachable`, and forgets the peer's directory; sends to it fail until it is back.
//!   When the connection heals, both sides open fresh links and exchange directories first,
//!   so a subscriber sees a gap, never a reordering or a duplicate.
//! - **Directory**: each node tells every peer, first on a new link and then on each change,
//!   which actors run on it and which topics have subscribers there. Sends to an actor a
//!   peer does not advertise fail at once (`UnknownActor`), publishes go only to peers with
//!   subscribers, and plain names resolve through it ([`RemoteDelivery::locate`]). A peer
//!   from which no directory came (not connected, or it does not admit this node) is
//!   `Unreachable`.

#![warn(missing_docs)]

pub mod wire;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use futures::{AsyncWriteExt, FutureExt};
use r1_core::contract::BoxFuture;
use r1_core::contract::remote::{
    Directory, Envelope, LocalDelivery, RemoteDelivery, RemoteError, ReplyFn,
};
use r1_mesh::{Mesh, NodePeerId as PeerId, PeerStream, Protocol, Protocols};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use wire::Frame;

/// How many more times a link tries to open its stream before it counts as broken.
const OPEN_ATTEMPTS: u64 = 4;

/// The stream protocol actor messages travel on.
pub const PROTOCOL: &str = "/r1/actors/1";

/// How much a link buffers and how long arrivals wait for room.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// Frames queued per peer before sends fail with `MailboxFull` and publishes drop.
    pub link_queue: usize,
    /// How long a message from another node waits for room in a full local mailbox before
    /// it is dropped (a request is answered `MailboxFull`).
    pub deliver_wait: Duration,
    /// Bytes of messages a link may have sent that the receiver has not handed over yet.
    pub window: u64,
}

impl Default for RemoteConfig {
    fn default() -> Self {
        Self {
            link_queue: 1024,
            deliver_wait: Duration::from_secs(1),
            window: 4 << 20,
        }
    }
}

/// A link's send credit: bytes it may still put on the wire.
struct Credit {
    available: std::sync::atomic::AtomicI64,
    notify: tokio::sync::Notify,
}

impl Credit {
    fn add(&self, bytes: u64) {
        self.available
            .fetch_add(i64::try_from(bytes).unwrap_or(i64::MAX), Ordering::AcqRel);
        self.notify.notify_one();
    }
}

/// Counters shown in the node's mesh status.
#[derive(Debug, Default, Serialize)]
pub struct RemoteStats {
    /// Messages (sends, requests, publishes, replies) queued to other nodes.
    pub sent: AtomicU64,
    /// Messages that arrived from other nodes.
    pub received: AtomicU64,
    /// Sends and requests refused because the link to their node was full.
    pub link_full: AtomicU64,
    /// Publishes not queued for a node because its link was full.
    pub publishes_dropped: AtomicU64,
    /// Arrived messages that could not be handed to a local actor (none of that name, its
    /// mailbox stayed full, it stopped).
    pub deliveries_dropped: AtomicU64,
    /// Links that broke (peer died, disconnected, or the stream failed).
    pub links_broken: AtomicU64,
}

/// What a link's writer task owns.
struct Writer {
    peer: PeerId,
    generation: u64,
    window: u64,
    credit: Arc<Credit>,
    rx: mpsc::Receiver<Frame>,
    control: mpsc::UnboundedReceiver<Frame>,
}

impl Writer {
    /// Takes `cost` bytes of credit if there are that many; a message larger than the whole
    /// window goes alone, once nothing else is in flight.
    fn take_credit(&self, cost: u64) -> bool {
        let available = self.credit.available.load(Ordering::Acquire);
        let cost_i = i64::try_from(cost).unwrap_or(i64::MAX);
        let idle = available >= i64::try_from(self.window).unwrap_or(i64::MAX);
        if cost_i <= available || idle {
            self.credit.available.fetch_sub(cost_i, Ordering::AcqRel);
            true
        } else {
            false
        }
    }
}

/// A request waiting for its reply.
struct Pending {
    peer: PeerId,
    done: oneshot::Sender<Result<Option<Vec<u8>>, RemoteError>>,
}

/// The outbound side of one peer.
struct Link {
    tx: mpsc::Sender<Frame>,
    /// Credit frames, written ahead of queued messages (a handful per window of traffic).
    control: mpsc::UnboundedSender<Frame>,
    credit: Arc<Credit>,
    generation: u64,
}

#[derive(Default)]
struct State {
    links: HashMap<PeerId, Link>,
    /// What each peer advertised on its current inbound stream (stream generation, directory).
    directories: HashMap<PeerId, (u64, Directory)>,
    /// Peers seen on the mesh since this node started.
    known: HashSet<PeerId>,
    /// This node's directory, sent first on every new link.
    own: Directory,
    /// Node ids as text → peer ids, for the peers seen (parsing base58 per message is not
    /// cheap); holds only known peers, so it cannot grow with what callers make up.
    ids: HashMap<String, PeerId>,
    pending: HashMap<u64, Pending>,
}

/// Actor messaging across the mesh for one node.
pub struct RemoteActors {
    this: Weak<RemoteActors>,
    mesh: Mesh,
    me: String,
    config: RemoteConfig,
    local: OnceLock<Arc<dyn LocalDelivery>>,
    state: Mutex<State>,
    next_id: AtomicU64,
    generation: AtomicU64,
    /// Counters.
    pub stats: RemoteStats,
}

impl RemoteActors {
    /// Actor messaging over `mesh`. Nothing arrives until [`RemoteActors::attach`] names the
    /// local side and [`RemoteActors::register`] is served.
    pub fn new(mesh: Mesh, config: RemoteConfig) -> Arc<Self> {
        let me = mesh.peer_id().to_string();
        Arc::new_cyclic(|this| Self {
            this: this.clone(),
            mesh,
            me,
            config,
            local: OnceLock::new(),
            state: Mutex::new(State::default()),
            next_id: AtomicU64::new(1),
            generation: AtomicU64::new(1),
            stats: RemoteStats::default(),
        })
    }

    /// Names where arriving messages go (the runtime's router). Set once; later calls are
    /// ignored.
    pub fn attach(&self, local: Arc<dyn LocalDelivery>) {
        let _ = self.local.set(local);
    }

    /// Registers the actor stream protocol and the connect/disconnect hooks.
    pub fn register(self: &Arc<Self>, protocols: Protocols) -> Protocols {
        protocols
            .streams(PROTOCOL, self.clone())
            .on_connect(self.clone())
    }

    /// Runs `task` on the mesh's thread, beside the connections (link and stream I/O never
    /// runs on an actor's thread, and no thread hop separates it from the socket).
    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.mesh.spawn(task);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The queue to `peer`, opening the link when there is none.
    fn link(&self, state: &mut State, peer: PeerId) -> mpsc::Sender<Frame> {
        self.link_entry(state, peer).tx.clone()
    }

    fn link_entry<'s>(&self, state: &'s mut State, peer: PeerId) -> &'s Link {
        let open = state.links.get(&peer).is_some_and(|l| !l.tx.is_closed());
        if !open {
            let (tx, rx) = mpsc::channel(self.config.link_queue.max(1));
            let (control, control_rx) = mpsc::unbounded_channel();
            let window = self.config.window.max(1);
            let credit = Arc::new(Credit {
                available: std::sync::atomic::AtomicI64::new(
                    i64::try_from(window).unwrap_or(i64::MAX),
                ),
                notify: tokio::sync::Notify::new(),
            });
            let generation = self.generation.fetch_add(1, Ordering::Relaxed);
            let first = state.own.clone();
            if let Some(this) = self.this.upgrade() {
                let writer = Writer {
                    peer,
                    generation,
                    window,
                    credit: credit.clone(),
                    rx,
                    control: control_rx,
                };
                self.spawn(async move { this.write_link(writer, first).await });
            }
            state.links.insert(
                peer,
                Link {
                    tx,
                    control,
                    credit,
                    generation,
                },
            );
        }
        &state.links[&peer]
    }

    /// The writer of one link: opens the stream, sends this node's directory, then credit
    /// frames as they come and queued messages in order as the window allows, coalescing
    /// what is ready into one write.
    async fn write_link(self: Arc<Self>, mut w: Writer, directory: Directory) {
        let (peer, generation) = (w.peer, w.generation);
        // A stream that cannot be opened (a dial or a protocol negotiation that timed out on a
        // loaded machine) is tried a few times before the link counts as broken; what was
        // queued meanwhile waits in the link's bounded queue.
        let mut attempt = 0;
        let mut stream = loop {
            match self.mesh.open_stream(peer, PROTOCOL).await {
                Ok(stream) => break stream,
                Err(e) if attempt < OPEN_ATTEMPTS => {
                    attempt += 1;
                    tracing::debug!(%peer, attempt, "cannot open the actor stream yet: {e}");
                    tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
                }
                Err(e) => return self.link_broke(peer, generation, &e.to_string()),
            }
        };
        let mut buf = Vec::with_capacity(64 * 1024);
        Frame::Directory(directory).encode(&mut buf);
        // A message taken from the queue that waits for credit.
        let mut held: Option<Frame> = None;
        loop {
            while let Ok(frame) = w.control.try_recv() {
                frame.encode(&mut buf);
            }
            while buf.len() < 256 * 1024 {
                let frame = match held.take() {
                    Some(frame) => frame,
                    None => match w.rx.try_recv() {
                        Ok(frame) => frame,
                        Err(_) => break,
                    },
                };
                if !w.take_credit(frame.cost()) {
                    held = Some(frame);
                    break;
                }
                frame.encode(&mut buf);
            }
            if !buf.is_empty() {
                let written = async {
                    stream.write_all(&buf).await?;
                    stream.flush().await
                };
                if let Err(e) = written.await {
                    return self.link_broke(peer, generation, &e.to_string());
                }
                buf.clear();
            }
            tokio::select! {
                biased;
                frame = w.control.recv() => match frame {
                    Some(frame) => frame.encode(&mut buf),
                    None => break,
                },
                _ = w.credit.notify.notified(), if held.is_some() => {}
                frame = w.rx.recv(), if held.is_none() => match frame {
                    Some(frame) => held = Some(frame),
                    None => break,
                },
            }
        }
        let _ = stream.close().await;
    }

    /// Forgets a broken link and fails the requests waiting on its peer.
    fn link_broke(&self, peer: PeerId, generation: u64, reason: &str) {
        let failed = {
            let mut state = self.lock();
            if state
                .links
                .get(&peer)
                .is_some_and(|l| l.generation == generation)
            {
                state.links.remove(&peer);
                self.stats.links_broken.fetch_add(1, Ordering::Relaxed);
            }
            take_pending(&mut state, peer)
        };
        tracing::warn!(%peer, reason, "actor link broke; what it had queued is lost");
        fail(failed, &peer, &format!("the link broke: {reason}"));
    }

    /// Reads one inbound stream until it ends, handing each frame over in order.
    async fn read_link(self: Arc<Self>, peer: PeerId, stream: PeerStream) {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        self.lock().known.insert(peer);
        let mut reader = futures::io::BufReader::with_capacity(64 * 1024, stream);
        // The `NODE/` of every sender on this stream, encoded once (base58 is not cheap).
        let origin = format!("{peer}/");
        // Bytes handed over since credit was last returned; returned in quarters of the window.
        let mut consumed = 0u64;
        let grant_every = (self.config.window / 4).max(1);
        loop {
            match Frame::read(&mut reader).await {
                Ok(Some(frame)) => {
                    consumed += frame.cost();
                    self.arrived(peer, &origin, generation, frame).await;
                    if consumed >= grant_every {
                        let bytes = u32::try_from(consumed).unwrap_or(u32::MAX);
                        consumed -= u64::from(bytes);
                        let mut state = self.lock();
                        let _ = self
                            .link_entry(&mut state, peer)
                            .control
                            .send(Frame::Credit(bytes));
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(%peer, "actor stream failed: {e}");
                    break;
                }
            }
        }
        let mut state = self.lock();
        if state
            .directories
            .get(&peer)
            .is_some_and(|(g, _)| *g == generation)
        {
            state.directories.remove(&peer);
        }
    }

    /// Hands one frame from `peer` (`origin` = `"PEER/"`) over, in arrival order.
    async fn arrived(&self, peer: PeerId, origin: &str, generation: u64, frame: Frame) {
        let Some(local) = self.local.get() else {
            tracing::debug!(%peer, "dropped an actor frame: the node is still starting");
            return;
        };
        match frame {
            Frame::Directory(directory) => {
                let mut state = self.lock();
                state.known.insert(peer);
                state.directories.insert(peer, (generation, directory));
            }
            Frame::Send { from, to, payload } => {
                self.stats.received.fetch_add(1, Ordering::Relaxed);
                let envelope = Envelope {
                    from: from.clone(),
                    to,
                    topic: None,
                    payload,
                };
                let sender = format!("{origin}{from}");
                if let Err(e) = local
                    .deliver(sender, envelope, None, self.config.deliver_wait)
                    .await
                {
                    self.stats
                        .deliveries_dropped
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%peer, %from, "dropped a message from another node: {e}");
                }
            }
            Frame::Request {
                id,
                timeout_ms,
                from,
                to,
                payload,
            } => {
                self.stats.received.fetch_add(1, Ordering::Relaxed);
                let this = self.this.clone();
                let reply: ReplyFn = Box::new(move |result| {
                    if let Some(this) = this.upgrade() {
                        this.reply(peer, id, result);
                    }
                });
                let envelope = Envelope {
                    from: from.clone(),
                    to,
                    topic: None,
                    payload,
                };
                let wait = self
                    .config
                    .deliver_wait
                    .min(Duration::from_millis(u64::from(timeout_ms)));
                if let Err(e) = local
                    .deliver(format!("{origin}{from}"), envelope, Some(reply), wait)
                    .await
                {
                    self.reply(peer, id, Err(e));
                }
            }
            Frame::Credit(bytes) => {
                if let Some(link) = self.lock().links.get(&peer) {
                    link.credit.add(u64::from(bytes));
                }
            }
            Frame::Reply { id, result } => {
                let pending = self.lock().pending.remove(&id);
                match pending {
                    Some(p) if p.peer == peer => {
                        let _ = p.done.send(result);
                    }
                    Some(p) => {
                        // Not this peer's to answer: put it back.
                        self.lock().pending.insert(id, p);
                    }
                    None => {} // timed out already
                }
            }
            Frame::Publish {
                from,
                topic,
                payload,
            } => {
                self.stats.received.fetch_add(1, Ordering::Relaxed);
                let sender = format!("{origin}{from}");
                local
                    .publish(&sender, &topic, payload, self.config.deliver_wait)
                    .await;
            }
        }
    }

    /// Sends request `id`'s answer back to `peer` (waiting for room rather than losing it).
    fn reply(&self, peer: PeerId, id: u64, result: Result<Option<Vec<u8>>, RemoteError>) {
        let tx = {
            let mut state = self.lock();
            self.link(&mut state, peer)
        };
        self.stats.sent.fetch_add(1, Ordering::Relaxed);
        self.queue_surely(tx, Frame::Reply { id, result });
    }

    /// Queues a frame that must not be lost (a reply, a directory update): at once when the
    /// link has room, else by a task that waits for room, never on the caller's thread.
    fn queue_surely(&self, tx: mpsc::Sender<Frame>, frame: Frame) {
        if let Err(mpsc::error::TrySendError::Full(frame)) = tx.try_send(frame) {
            self.spawn(async move {
                let _ = tx.send(frame).await;
            });
        }
    }

    /// The queue to `node` for a message to its actor `to`, or why there is none.
    fn route(&self, node: &str, to: &str) -> Result<(PeerId, mpsc::Sender<Frame>), RemoteError> {
        let mut state = self.lock();
        let peer = match state.ids.get(node) {
            Some(peer) => *peer,
            None => {
                let peer: PeerId = node
                    .parse()
                    .map_err(|_| RemoteError::UnknownNode(node.to_owned()))?;
                if state.known.contains(&peer) {
                    state.ids.insert(node.to_owned(), peer);
                }
                peer
            }
        };
        match state.directories.get(&peer) {
            Some((_, directory)) => {
                if !directory.actors.iter().any(|a| a == to) {
                    return Err(RemoteError::UnknownActor(format!("{node}/{to}")));
                }
            }
            None if state.known.contains(&peer) => {
                return Err(RemoteError::Unreachable {
                    node: node.to_owned(),
                    reason: "not connected, or it does not admit this node".into(),
                });
            }
            None => return Err(RemoteError::UnknownNode(node.to_owned())),
        }
        Ok((peer, self.link(&mut state, peer)))
    }

    fn queue(
        &self,
        tx: &mpsc::Sender<Frame>,
        node: &str,
        to: &str,
        frame: Frame,
    ) -> Result<(), RemoteError> {
        match tx.try_send(frame) {
            Ok(()) => {
                self.stats.sent.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.stats.link_full.fetch_add(1, Ordering::Relaxed);
                Err(RemoteError::MailboxFull(format!("{node}/{to}")))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(RemoteError::Unreachable {
                node: node.to_owned(),
                reason: "the link just broke".into(),
            }),
        }
    }
}

fn take_pending(state: &mut State, peer: PeerId) -> Vec<Pending> {
    let ids: Vec<u64> = state
        .pending
        .iter()
        .filter(|(_, p)| p.peer == peer)
        .map(|(id, _)| *id)
        .collect();
    ids.into_iter()
        .filter_map(|id| state.pending.remove(&id))
        .collect()
}

fn fail(pending: Vec<Pending>, peer: &PeerId, reason: &str) {
    for p in pending {
        let _ = p.done.send(Err(RemoteError::Unreachable {
            node: peer.to_string(),
            reason: reason.to_owned(),
        }));
    }
}

impl RemoteDelivery for RemoteActors {
    fn node_id(&self) -> String {
        self.me.clone()
    }

    fn send(&self, node: &str, envelope: Envelope) -> Result<(), RemoteError> {
        let (_, tx) = self.route(node, &envelope.to)?;
        let to = envelope.to.clone();
        let frame = Frame::Send {
            from: envelope.from,
            to: envelope.to,
            payload: envelope.payload,
        };
        self.queue(&tx, node, &to, frame)
    }

    fn request<'a>(
        &'a self,
        node: &'a str,
        envelope: Envelope,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, RemoteError>> {
        async move {
            let (peer, tx) = self.route(node, &envelope.to)?;
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let (done, answer) = oneshot::channel();
            self.lock().pending.insert(id, Pending { peer, done });
            let to = envelope.to.clone();
            let frame = Frame::Request {
                id,
                timeout_ms: u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX),
                from: envelope.from,
                to: envelope.to,
                payload: envelope.payload,
            };
            if let Err(e) = self.queue(&tx, node, &to, frame) {
                self.lock().pending.remove(&id);
                return Err(e);
            }
            match tokio::time::timeout(timeout, answer).await {
                Ok(Ok(result)) => result,
                Ok(Err(_)) => Err(RemoteError::Unreachable {
                    node: node.to_owned(),
                    reason: "the link closed before the reply".into(),
                }),
                Err(_) => {
                    self.lock().pending.remove(&id);
                    Err(RemoteError::Timeout(format!("{node}/{to}")))
                }
            }
        }
        .boxed()
    }

    fn publish(&self, from: &str, topic: &str, payload: &[u8]) -> u32 {
        let targets: Vec<(PeerId, u32, mpsc::Sender<Frame>)> = {
            let mut state = self.lock();
            let peers: Vec<(PeerId, u32)> = state
                .directories
                .iter()
                .filter_map(|(peer, (_, d))| {
                    d.topics
                        .iter()
                        .find(|(t, _)| t == topic)
                        .map(|(_, n)| (*peer, *n))
                })
                .collect();
            peers
                .into_iter()
                .map(|(peer, n)| (peer, n, self.link(&mut state, peer)))
                .collect()
        };
        let mut reached = 0;
        for (peer, subscribers, tx) in targets {
            let frame = Frame::Publish {
                from: from.to_owned(),
                topic: topic.to_owned(),
                payload: payload.to_vec(),
            };
            match tx.try_send(frame) {
                Ok(()) => {
                    self.stats.sent.fetch_add(1, Ordering::Relaxed);
                    reached += subscribers;
                }
                Err(_) => {
                    self.stats.publishes_dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%peer, topic, "publish dropped: the link to the node is full");
                }
            }
        }
        reached
    }

    fn locate(&self, name: &str) -> Vec<String> {
        let mut nodes: Vec<String> = self
            .lock()
            .directories
            .iter()
            .filter(|(_, (_, d))| d.actors.iter().any(|a| a == name))
            .map(|(peer, _)| peer.to_string())
            .collect();
        nodes.sort();
        nodes
    }

    fn nodes(&self) -> Vec<String> {
        let mut nodes: Vec<String> = self
            .lock()
            .directories
            .keys()
            .map(|p| p.to_string())
            .collect();
        nodes.sort();
        nodes
    }

    fn advertise(&self, directory: Directory) {
        let links: Vec<mpsc::Sender<Frame>> = {
            let mut state = self.lock();
            state.own = directory.clone();
            state.links.values().map(|l| l.tx.clone()).collect()
        };
        for tx in links {
            self.queue_surely(tx, Frame::Directory(directory.clone()));
        }
    }
}

impl Protocol for RemoteActors {
    fn peer_connected(self: Arc<Self>, peer: PeerId) {
        let this = self.clone();
        self.spawn(async move {
            if this.mesh.admits(&peer).await {
                let mut state = this.lock();
                state.known.insert(peer);
                this.link(&mut state, peer);
            }
        });
    }

    fn peer_disconnected(self: Arc<Self>, peer: PeerId) {
        let failed = {
            let mut state = self.lock();
            if state.links.remove(&peer).is_some() {
                self.stats.links_broken.fetch_add(1, Ordering::Relaxed);
            }
            state.directories.remove(&peer);
            take_pending(&mut state, peer)
        };
        fail(failed, &peer, "the node disconnected");
    }

    fn stream(self: Arc<Self>, peer: PeerId, stream: PeerStream) {
        let this = self.clone();
        self.spawn(this.read_link(peer, stream));
    }
}
