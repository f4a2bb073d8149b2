//! `r1-mesh`: the libp2p swarm every node runs.
//!
//! TCP, secured by TLS 1.3 (our own upgrade, [`tls`]: AES-GCM first where the CPU has AES
//! instructions) or, for peers that only speak it, noise; yamux multiplexing; identify, ping,
//! gossipsub, kademlia, request-response, mDNS and explicit bootstrap peers (each redialled
//! while it is not connected). The node's ed25519 identity is its libp2p identity.
//!
//! Invariants:
//! - **Admission**: gossip and requests from peers the node's [`Admission`] does not admit
//!   are dropped and counted ([`MeshStats`]); nothing from them reaches the node. The mesh
//!   asks the admission (an async contract of `r1-core`, keyed by the peer's ed25519 node
//!   key) on every connection, message and request; [`Allowlist`] is the genesis allowlist
//!   (empty: everyone, dev), the on-chain licence check plugs in the same way.
//! - **Protocols**: services do not read the mesh's events; they register the gossip topics,
//!   request services and stream protocols they own with [`Protocols`], which dispatches
//!   each event to its one handler (a request for a service nobody registered is answered
//!   with an error). Inbound streams from peers that are not admitted are closed unread.
//! - The swarm runs on its own thread; [`Mesh`] is a cheap handle that talks to it over
//!   channels, so callers on any runtime can use it.
//! - Blocked peers ([`Mesh::block`]) are disconnected and refused until unblocked.
//! - **Peer exchange**: kademlia runs in server mode, and every node asks its peers for theirs
//!   when its peer count changes and every 10 s; admitted peers found that way are dialled, so
//!   nodes that joined through one node end up connected to each other (a full mesh, which
//!   direct actor links need).

#![warn(missing_docs)]

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity, ValidationMode};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, Swarm, allow_block_list, identify, identity, kad, mdns,
    noise, ping, tcp, yamux,
};
use serde::Serialize;

mod codec;
pub mod protocols;
mod tls;
use codec::{BinaryCodec, RpcRequest, RpcResponse};
use tokio::sync::{mpsc, oneshot};

pub use libp2p::PeerId as NodePeerId;
pub use protocols::{Protocol, Protocols, Reply};
use r1_core::contract::BoxFuture;
pub use r1_core::contract::admission::Admission;

/// Largest gossip message; larger payloads must go through request-response.
pub const MAX_GOSSIP_BYTES: usize = 64 * 1024;
/// Largest request or response.
pub const MAX_RPC_BYTES: usize = 16 * 1024 * 1024;
const RPC_PROTOCOL: &str = "/r1/rpc/1";

/// Why a mesh operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    /// The swarm could not be built or could not listen (or an ed25519 key is bad).
    #[error("cannot start the mesh: {0}")]
    Start(String),
    /// An address is neither a multiaddr nor `HOST:PORT` (the text, the parser's reason).
    #[error("invalid address {0:?}: {1}")]
    BadAddress(String, String),
    /// The swarm's thread has ended, so commands go nowhere.
    #[error("the mesh has stopped")]
    Stopped,
    /// A gossip payload is over [`MAX_GOSSIP_BYTES`].
    #[error("gossip of {size} bytes exceeds the {MAX_GOSSIP_BYTES}-byte limit")]
    TooLarge {
        /// The payload's size in bytes.
        size: usize,
    },
    /// Gossipsub refused to publish (having no subscribed peers is not an error).
    #[error("publish failed: {0}")]
    Publish(String),
    /// A request got no answer: dial failure, timeout (30 s), closed connection.
    #[error("request to {peer} failed: {reason}")]
    Request {
        /// The peer asked.
        peer: PeerId,
        /// What went wrong.
        reason: String,
    },
    /// The peer answered with an error (unknown service, handler error, not admitted).
    #[error("peer {peer} refused the request: {reason}")]
    Refused {
        /// The peer asked.
        peer: PeerId,
        /// The peer's error message.
        reason: String,
    },
}

/// The genesis allowlist: these node keys are admitted; an empty list admits everyone (dev).
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    keys: HashSet<[u8; 32]>,
}

impl Allowlist {
    /// Admits every node (dev).
    pub fn open() -> Self {
        Self::default()
    }

    /// Admits only these ed25519 node keys (and so only their peers).
    pub fn new(keys: impl IntoIterator<Item = [u8; 32]>) -> Self {
        Self {
            keys: keys.into_iter().collect(),
        }
    }
}

impl Admission for Allowlist {
    fn admits<'a>(&'a self, node_key: &'a [u8; 32]) -> BoxFuture<'a, bool> {
        let admitted = self.keys.is_empty() || self.keys.contains(node_key);
        Box::pin(std::future::ready(admitted))
    }

    fn is_open(&self) -> bool {
        self.keys.is_empty()
    }
}

/// How an ed25519 key is encoded inside an identity-multihash peer id: the protobuf
/// `PublicKey { Type = Ed25519 (field 1), Data = 32 bytes (field 2) }`.
const ED25519_KEY_PREFIX: [u8; 4] = [0x08, 0x01, 0x12, 0x20];

/// The ed25519 node key inside an ed25519 peer id (whose multihash inlines the key). Read
/// straight from the bytes: it runs for every message the mesh admits, and decoding a
/// `PublicKey` would decompress a curve point each time.
pub fn node_key_of(peer: &PeerId) -> Option<[u8; 32]> {
    let hash: &libp2p::multihash::Multihash<64> = peer.as_ref();
    if hash.code() != 0 {
        return None;
    }
    hash.digest()
        .strip_prefix(&ED25519_KEY_PREFIX)?
        .try_into()
        .ok()
}

/// Whether `admission` admits `peer` (a peer without an ed25519 key: only if it is open).
pub async fn admitted(admission: &dyn Admission, peer: &PeerId) -> bool {
    if admission.is_open() {
        return true;
    }
    match node_key_of(peer) {
        Some(key) => admission.admits(&key).await,
        None => false,
    }
}

/// The libp2p peer id of an ed25519 public key.
pub fn peer_id_of(ed25519_public: &[u8; 32]) -> Result<PeerId, MeshError> {
    let key = identity::ed25519::PublicKey::try_from_bytes(ed25519_public)
        .map_err(|e| MeshError::Start(format!("bad ed25519 key: {e}")))?;
    Ok(identity::PublicKey::from(key).to_peer_id())
}

/// How to start the mesh.
#[derive(Clone)]
pub struct MeshConfig {
    /// The node's ed25519 secret seed (its libp2p identity).
    pub secret: [u8; 32],
    /// Addresses to listen on.
    pub listen: Vec<Multiaddr>,
    /// Peers to join; each is redialled every 2 s while it is not connected.
    pub bootstrap: Vec<Multiaddr>,
    /// Whether to discover (and dial admitted) peers on the local network with mDNS.
    pub mdns: bool,
    /// Decides which peers' gossip and requests reach the node.
    pub admission: Arc<dyn Admission>,
}

/// Counters shown in node status.
#[derive(Debug, Default)]
pub struct MeshStats {
    /// Gossip messages dropped because the sender or author is not admitted.
    pub dropped_gossip: AtomicU64,
    /// Requests refused because the peer is not admitted.
    pub dropped_requests: AtomicU64,
    /// Inbound streams closed because the peer is not admitted.
    pub dropped_streams: AtomicU64,
}

/// A snapshot of the swarm, shown in node status.
#[derive(Debug, Clone, Serialize)]
pub struct MeshStatus {
    /// This node's peer id.
    pub peer_id: String,
    /// The addresses the swarm listens on.
    pub listen: Vec<String>,
    /// Peers with an open connection, admitted or not.
    pub connected: Vec<String>,
    /// Peers blocked with [`Mesh::block`].
    pub blocked: Vec<String>,
    /// Gossip messages dropped because the sender or author is not admitted.
    pub dropped_gossip: u64,
    /// Requests refused because the peer is not admitted.
    pub dropped_requests: u64,
    /// Inbound streams closed because the peer is not admitted.
    pub dropped_streams: u64,
    /// Whether the admission admits everyone (dev).
    pub open_admission: bool,
}

/// What the mesh delivers to the node.
#[derive(Debug)]
pub enum MeshEvent {
    /// A gossip message from an admitted peer.
    Gossip {
        /// The gossipsub topic.
        topic: String,
        /// The message's author (else the peer that forwarded it).
        from: PeerId,
        /// The payload.
        data: Vec<u8>,
    },
    /// A request from an admitted peer; answer through `reply` (dropping it answers an error).
    Request {
        /// The requesting peer.
        from: PeerId,
        /// The service the request is for.
        service: String,
        /// The request body.
        body: Vec<u8>,
        /// Takes the response body, or an error message sent back to the peer.
        reply: oneshot::Sender<Result<Vec<u8>, String>>,
    },
    /// A connection to this peer was established (admitted or not).
    PeerConnected(PeerId),
    /// The last connection to this peer closed.
    PeerDisconnected(PeerId),
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    gossipsub: gossipsub::Behaviour,
    kad: kad::Behaviour<kad::store::MemoryStore>,
    rpc: request_response::Behaviour<BinaryCodec>,
    streams: libp2p_stream::Behaviour,
    mdns: libp2p::swarm::behaviour::toggle::Toggle<mdns::tokio::Behaviour>,
}

enum Command {
    Publish {
        topic: String,
        data: Vec<u8>,
        done: oneshot::Sender<Result<(), MeshError>>,
    },
    Subscribe(String),
    Request {
        peer: PeerId,
        service: String,
        body: Vec<u8>,
        done: oneshot::Sender<Result<Vec<u8>, MeshError>>,
    },
    Status(oneshot::Sender<MeshStatus>),
    Peers(oneshot::Sender<Vec<PeerId>>),
    Dial(Multiaddr),
    Block(PeerId, bool),
    Respond(
        request_response::ResponseChannel<RpcResponse>,
        Result<Vec<u8>, String>,
    ),
}

/// Handle to the running mesh.
#[derive(Clone)]
pub struct Mesh {
    commands: mpsc::UnboundedSender<Command>,
    peer_id: PeerId,
    stats: Arc<MeshStats>,
    streams: libp2p_stream::Control,
    admission: Arc<dyn Admission>,
    /// The swarm thread's runtime, for protocol I/O that should live beside the connections.
    io: tokio::runtime::Handle,
}

/// An ordered, flow-controlled byte stream to one peer (a yamux stream).
pub use libp2p::Stream as PeerStream;

impl Mesh {
    /// Starts the swarm on its own thread; returns once it listens.
    pub fn start(config: MeshConfig) -> Result<(Mesh, mpsc::Receiver<MeshEvent>), MeshError> {
        let keypair = identity::Keypair::ed25519_from_bytes(config.secret)
            .map_err(|e| MeshError::Start(e.to_string()))?;
        let peer_id = keypair.public().to_peer_id();
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let loopback = cmd_tx.clone();
        let (event_tx, event_rx) = mpsc::channel(4096);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let stats = Arc::new(MeshStats::default());
        let thread_stats = stats.clone();
        let admission = config.admission.clone();
        std::thread::Builder::new()
            .name("r1-mesh".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(MeshError::Start(e.to_string())));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let mut swarm = match build_swarm(keypair, &config).await {
                        Ok(swarm) => swarm,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let control = swarm.behaviour_mut().streams.new_control();
                    let _ = ready_tx.send(Ok((control, tokio::runtime::Handle::current())));
                    run(swarm, config, cmd_rx, loopback, event_tx, thread_stats).await;
                });
            })
            .map_err(|e| MeshError::Start(e.to_string()))?;
        let (streams, io) = ready_rx
            .recv()
            .map_err(|_| MeshError::Start("mesh thread died".into()))??;
        Ok((
            Mesh {
                commands: cmd_tx,
                peer_id,
                stats,
                streams,
                admission,
                io,
            },
            event_rx,
        ))
    }

    /// This node's libp2p peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The mesh's drop counters.
    pub fn stats(&self) -> &MeshStats {
        &self.stats
    }

    fn send(&self, cmd: Command) -> Result<(), MeshError> {
        self.commands.send(cmd).map_err(|_| MeshError::Stopped)
    }

    /// Subscribes the swarm to gossip `topic` (a failure is only logged).
    pub fn subscribe(&self, topic: &str) -> Result<(), MeshError> {
        self.send(Command::Subscribe(topic.to_owned()))
    }

    /// Gossips `data` on `topic` to admitted peers.
    pub async fn publish(&self, topic: &str, data: Vec<u8>) -> Result<(), MeshError> {
        if data.len() > MAX_GOSSIP_BYTES {
            return Err(MeshError::TooLarge { size: data.len() });
        }
        let (done, rx) = oneshot::channel();
        self.send(Command::Publish {
            topic: topic.to_owned(),
            data,
            done,
        })?;
        rx.await.map_err(|_| MeshError::Stopped)?
    }

    /// Opens a stream of `protocol` to `peer` (dialling it when not connected). The peer
    /// closes it unread unless it admits this node and registered `protocol`.
    pub async fn open_stream(
        &self,
        peer: PeerId,
        protocol: &'static str,
    ) -> Result<PeerStream, MeshError> {
        self.streams
            .clone()
            .open_stream(peer, StreamProtocol::new(protocol))
            .await
            .map_err(|e| MeshError::Request {
                peer,
                reason: e.to_string(),
            })
    }

    /// Runs `task` on the swarm's own thread, beside the connections it reads and writes
    /// (no thread hop between a stream and its connection). The task must not block.
    pub fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.io.spawn(task);
    }

    /// Whether `peer` is admitted by this node.
    pub async fn admits(&self, peer: &PeerId) -> bool {
        admitted(&*self.admission, peer).await
    }

    /// Inbound streams of `protocol`, from admitted peers only (used by [`Protocols`]).
    pub(crate) fn accept_streams(
        &self,
        protocol: &'static str,
    ) -> Result<libp2p_stream::IncomingStreams, MeshError> {
        self.streams
            .clone()
            .accept(StreamProtocol::new(protocol))
            .map_err(|e| MeshError::Start(format!("stream protocol {protocol}: {e}")))
    }

    /// Sends a request to `peer`'s `service` and waits for the answer.
    pub async fn request(
        &self,
        peer: PeerId,
        service: &str,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, MeshError> {
        let (done, rx) = oneshot::channel();
        self.send(Command::Request {
            peer,
            service: service.to_owned(),
            body,
            done,
        })?;
        rx.await.map_err(|_| MeshError::Stopped)?
    }

    /// Admitted peers with an open connection.
    pub async fn peers(&self) -> Vec<PeerId> {
        let (tx, rx) = oneshot::channel();
        if self.send(Command::Peers(tx)).is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// A snapshot of the swarm's state and counters.
    pub async fn status(&self) -> Result<MeshStatus, MeshError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Status(tx))?;
        rx.await.map_err(|_| MeshError::Stopped)
    }

    /// Dials `addr` once (a failure is only logged).
    pub fn dial(&self, addr: Multiaddr) -> Result<(), MeshError> {
        self.send(Command::Dial(addr))
    }

    /// Disconnects and refuses `peer` (`false`: lets it back).
    pub fn block(&self, peer: PeerId, blocked: bool) -> Result<(), MeshError> {
        self.send(Command::Block(peer, blocked))
    }
}

async fn build_swarm(
    keypair: identity::Keypair,
    config: &MeshConfig,
) -> Result<Swarm<Behaviour>, MeshError> {
    let start = |e: &dyn std::fmt::Display| MeshError::Start(e.to_string());
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            // TLS 1.3 first (AES-GCM where the CPU has AES instructions: several times
            // noise's ChaChaPoly, see tls.rs), noise for peers that only speak noise.
            (tls::Config::new, noise::Config::new),
            yamux::Config::default,
        )
        .map_err(|e| start(&e))?
        .with_behaviour(|key| {
            let peer_id = key.public().to_peer_id();
            // Messages name their author but carry no gossipsub signature: every hop is an
            // authenticated TLS or noise channel, and payloads that need end-to-end authenticity
            // (CSTORE ops) are signed by their writer. Saves a sign and a verify per message.
            let gossip_config = gossipsub::ConfigBuilder::default()
                .heartbeat_interval(Duration::from_millis(500))
                .max_transmit_size(MAX_GOSSIP_BYTES + 4096)
                .validation_mode(ValidationMode::Permissive)
                .build()
                .map_err(|e| e.to_string())?;
            let gossipsub =
                gossipsub::Behaviour::new(MessageAuthenticity::Author(peer_id), gossip_config)
                    .map_err(|e| e.to_string())?;
            let mdns = if config.mdns {
                Some(mdns::tokio::Behaviour::new(
                    mdns::Config::default(),
                    peer_id,
                )?)
            } else {
                None
            };
            let rpc_config =
                request_response::Config::default().with_request_timeout(Duration::from_secs(30));
            Ok(Behaviour {
                blocked: Default::default(),
                identify: identify::Behaviour::new(identify::Config::new(
                    "/r1/1.0.0".into(),
                    key.public(),
                )),
                ping: ping::Behaviour::default(),
                gossipsub,
                kad: kad::Behaviour::new(peer_id, kad::store::MemoryStore::new(peer_id)),
                rpc: request_response::Behaviour::with_codec(
                    BinaryCodec,
                    [(StreamProtocol::new(RPC_PROTOCOL), ProtocolSupport::Full)],
                    rpc_config,
                ),
                streams: libp2p_stream::Behaviour::new(),
                mdns: mdns.into(),
            })
        })
        .map_err(|e| start(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    for addr in &config.listen {
        swarm.listen_on(addr.clone()).map_err(|e| start(&e))?;
    }
    // Answer routing queries even without a confirmed external address (loopback, LANs), so
    // peers that joined through one node learn of each other (see `PEER_EXCHANGE`).
    swarm.behaviour_mut().kad.set_mode(Some(kad::Mode::Server));
    Ok(swarm)
}

/// Redial ticks (2 s each) between peer-exchange rounds; a round also runs at the first tick
/// after the number of connected peers changed.
const PEER_EXCHANGE_TICKS: u32 = 5;

async fn run(
    mut swarm: Swarm<Behaviour>,
    config: MeshConfig,
    mut commands: mpsc::UnboundedReceiver<Command>,
    loopback: mpsc::UnboundedSender<Command>,
    events: mpsc::Sender<MeshEvent>,
    stats: Arc<MeshStats>,
) {
    let admission = config.admission.clone();
    let mut pending: std::collections::HashMap<
        request_response::OutboundRequestId,
        oneshot::Sender<Result<Vec<u8>, MeshError>>,
    > = Default::default();
    let mut blocked: HashSet<PeerId> = HashSet::new();
    let mut redial = tokio::time::interval(Duration::from_secs(2));
    let mut ticks: u32 = 0;
    let mut last_peers = 0usize;
    let mut listen: Vec<Multiaddr> = Vec::new();
    // Which peer answered at each bootstrap address, once we dialled it successfully.
    let mut bootstrap_peers: std::collections::HashMap<Multiaddr, PeerId> = Default::default();
    loop {
        tokio::select! {
            _ = redial.tick() => {
                // Keep every bootstrap peer connected (it may have started after us, restarted,
                // or a partition may heal) — each one, not just "some peers": a node that others
                // dialled must still reach the peers it was told to join.
                for addr in &config.bootstrap {
                    let connected = bootstrap_peers
                        .get(&without_p2p(addr))
                        .is_some_and(|peer| swarm.is_connected(peer));
                    if !connected {
                        let _ = swarm.dial(addr.clone());
                    }
                }
                // Peer exchange: ask the peers we have for theirs (answers arrive as routing
                // updates, and admitted peers found that way are dialled).
                let peers = swarm.connected_peers().count();
                if peers > 0 && (peers != last_peers || ticks.is_multiple_of(PEER_EXCHANGE_TICKS)) {
                    let _ = swarm.behaviour_mut().kad.bootstrap();
                }
                last_peers = peers;
                ticks = ticks.wrapping_add(1);
            }
            cmd = commands.recv() => {
                let Some(cmd) = cmd else { return };
                match cmd {
                    Command::Publish { topic, data, done } => {
                        let result = swarm
                            .behaviour_mut()
                            .gossipsub
                            .publish(IdentTopic::new(topic), data)
                            .map(|_| ())
                            .or_else(|e| match e {
                                // Nobody to tell yet: anti-entropy will carry it later.
                                gossipsub::PublishError::NoPeersSubscribedToTopic
                                | gossipsub::PublishError::Duplicate => Ok(()),
                                other => Err(MeshError::Publish(other.to_string())),
                            });
                        let _ = done.send(result);
                    }
                    Command::Subscribe(topic) => {
                        if let Err(e) = swarm.behaviour_mut().gossipsub.subscribe(&IdentTopic::new(topic)) {
                            tracing::error!("gossip subscribe failed: {e}");
                        }
                    }
                    Command::Request { peer, service, body, done } => {
                        let id = swarm.behaviour_mut().rpc.send_request(&peer, RpcRequest { service, body });
                        pending.insert(id, done);
                    }
                    Command::Status(tx) => {
                        let _ = tx.send(MeshStatus {
                            peer_id: swarm.local_peer_id().to_string(),
                            listen: listen.iter().map(|a| a.to_string()).collect(),
                            connected: swarm.connected_peers().map(|p| p.to_string()).collect(),
                            blocked: blocked.iter().map(|p| p.to_string()).collect(),
                            dropped_gossip: stats.dropped_gossip.load(Ordering::Relaxed),
                            dropped_requests: stats.dropped_requests.load(Ordering::Relaxed),
                            dropped_streams: stats.dropped_streams.load(Ordering::Relaxed),
                            open_admission: admission.is_open(),
                        });
                    }
                    Command::Peers(tx) => {
                        let mut peers = Vec::new();
                        for peer in swarm.connected_peers() {
                            if admitted(&*admission, peer).await {
                                peers.push(*peer);
                            }
                        }
                        let _ = tx.send(peers);
                    }
                    Command::Dial(addr) => {
                        if let Err(e) = swarm.dial(addr.clone()) {
                            tracing::warn!(%addr, "dial failed: {e}");
                        }
                    }
                    Command::Respond(channel, result) => {
                        let _ = swarm.behaviour_mut().rpc.send_response(channel, RpcResponse { result });
                    }
                    Command::Block(peer, on) => {
                        if on {
                            blocked.insert(peer);
                            swarm.behaviour_mut().blocked.block_peer(peer);
                        } else {
                            blocked.remove(&peer);
                            swarm.behaviour_mut().blocked.unblock_peer(peer);
                        }
                    }
                }
            }
            event = swarm.select_next_some() => {
                if let SwarmEvent::ConnectionEstablished {
                    peer_id,
                    endpoint: libp2p::core::ConnectedPoint::Dialer { address, .. },
                    ..
                } = &event
                {
                    let address = without_p2p(address);
                    if config.bootstrap.iter().any(|b| without_p2p(b) == address) {
                        bootstrap_peers.insert(address, *peer_id);
                    }
                }
                handle_event(&mut swarm, event, &*admission, &events, &loopback, &stats, &mut pending, &mut listen).await;
            }
        }
    }
}

/// `addr` without a trailing `/p2p/<peer id>`.
fn without_p2p(addr: &Multiaddr) -> Multiaddr {
    addr.iter()
        .filter(|p| !matches!(p, libp2p::multiaddr::Protocol::P2p(_)))
        .collect()
}

#[allow(clippy::too_many_arguments)]
async fn handle_event(
    swarm: &mut Swarm<Behaviour>,
    event: SwarmEvent<BehaviourEvent>,
    admission: &dyn Admission,
    events: &mpsc::Sender<MeshEvent>,
    loopback: &mpsc::UnboundedSender<Command>,
    stats: &MeshStats,
    pending: &mut std::collections::HashMap<
        request_response::OutboundRequestId,
        oneshot::Sender<Result<Vec<u8>, MeshError>>,
    >,
    listen: &mut Vec<Multiaddr>,
) {
    match event {
        SwarmEvent::NewListenAddr { address, .. } => {
            tracing::info!(%address, "mesh listening");
            listen.push(address);
        }
        SwarmEvent::ConnectionEstablished {
            peer_id, endpoint, ..
        } => {
            if !admitted(admission, &peer_id).await {
                tracing::warn!(peer = %peer_id, "connection from a peer that is not admitted");
            }
            swarm
                .behaviour_mut()
                .kad
                .add_address(&peer_id, endpoint.get_remote_address().clone());
            let _ = events.send(MeshEvent::PeerConnected(peer_id)).await;
        }
        SwarmEvent::ConnectionClosed {
            peer_id,
            num_established: 0,
            ..
        } => {
            let _ = events.send(MeshEvent::PeerDisconnected(peer_id)).await;
        }
        SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
            peer_id,
            info,
            ..
        })) => {
            for addr in info.listen_addrs {
                swarm.behaviour_mut().kad.add_address(&peer_id, addr);
            }
        }
        // A node one of our peers knows: connect to it directly, so every admitted node of a
        // mesh reaches every other without being told all their addresses.
        SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::RoutingUpdated {
            peer,
            addresses,
            ..
        })) if peer != *swarm.local_peer_id()
            && !swarm.is_connected(&peer)
            && admitted(admission, &peer).await =>
        {
            let opts = libp2p::swarm::dial_opts::DialOpts::peer_id(peer)
                .addresses(addresses.into_vec())
                .build();
            let _ = swarm.dial(opts);
        }
        SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(found))) => {
            for (peer, addr) in found {
                if admitted(admission, &peer).await {
                    let _ = swarm.dial(addr);
                }
            }
        }
        SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
            propagation_source,
            message,
            ..
        })) => {
            let origin = message.source.unwrap_or(propagation_source);
            if !admitted(admission, &propagation_source).await
                || !admitted(admission, &origin).await
            {
                stats.dropped_gossip.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(peer = %origin, "dropped gossip from an unadmitted peer");
                return;
            }
            let _ = events
                .send(MeshEvent::Gossip {
                    topic: message.topic.into_string(),
                    from: origin,
                    data: message.data,
                })
                .await;
        }
        SwarmEvent::Behaviour(BehaviourEvent::Rpc(request_response::Event::Message {
            peer,
            message,
            ..
        })) => match message {
            request_response::Message::Request {
                request, channel, ..
            } => {
                if !admitted(admission, &peer).await {
                    stats.dropped_requests.fetch_add(1, Ordering::Relaxed);
                    let _ = swarm.behaviour_mut().rpc.send_response(
                        channel,
                        RpcResponse {
                            result: Err("not admitted".into()),
                        },
                    );
                    return;
                }
                let (reply, answer) = oneshot::channel();
                let event = MeshEvent::Request {
                    from: peer,
                    service: request.service,
                    body: request.body,
                    reply,
                };
                if events.send(event).await.is_err() {
                    return;
                }
                // Answer off the event loop, so a slow handler never stalls the swarm.
                let loopback = loopback.clone();
                tokio::spawn(async move {
                    let result = answer
                        .await
                        .unwrap_or_else(|_| Err("the node dropped the request".into()));
                    let _ = loopback.send(Command::Respond(channel, result));
                });
            }
            request_response::Message::Response {
                request_id,
                response,
            } => {
                if let Some(done) = pending.remove(&request_id) {
                    let _ = done.send(
                        response
                            .result
                            .map_err(|reason| MeshError::Refused { peer, reason }),
                    );
                }
            }
        },
        SwarmEvent::Behaviour(BehaviourEvent::Rpc(request_response::Event::OutboundFailure {
            peer,
            request_id,
            error,
            ..
        })) => {
            if let Some(done) = pending.remove(&request_id) {
                let _ = done.send(Err(MeshError::Request {
                    peer,
                    reason: error.to_string(),
                }));
            }
        }
        _ => {}
    }
}

/// Parses a multiaddr, or `HOST:PORT` as TCP.
pub fn parse_addr(text: &str) -> Result<Multiaddr, MeshError> {
    if text.starts_with('/') {
        return text.parse().map_err(|e: libp2p::multiaddr::Error| {
            MeshError::BadAddress(text.into(), e.to_string())
        });
    }
    let sock: std::net::SocketAddr = text
        .parse()
        .map_err(|e: std::net::AddrParseError| MeshError::BadAddress(text.into(), e.to_string()))?;
    let ip = match sock.ip() {
        std::net::IpAddr::V4(ip) => format!("/ip4/{ip}"),
        std::net::IpAddr::V6(ip) => format!("/ip6/{ip}"),
    };
    format!("{ip}/tcp/{}", sock.port())
        .parse()
        .map_err(|e: libp2p::multiaddr::Error| MeshError::BadAddress(text.into(), e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
        futures::executor::block_on(f)
    }

    #[test]
    fn the_allowlist_admits_by_node_key_through_the_peer_id() {
        let friend = identity::Keypair::ed25519_from_bytes([1; 32]).unwrap();
        let stranger = identity::Keypair::ed25519_from_bytes([2; 32]).unwrap();
        let key = |k: &identity::Keypair| k.public().try_into_ed25519().unwrap().to_bytes();
        let (friend_peer, stranger_peer) =
            (friend.public().to_peer_id(), stranger.public().to_peer_id());
        assert_eq!(node_key_of(&friend_peer), Some(key(&friend)));
        assert_eq!(peer_id_of(&key(&friend)).unwrap(), friend_peer);

        let list = Allowlist::new([key(&friend)]);
        assert!(!list.is_open());
        assert!(block_on(admitted(&list, &friend_peer)));
        assert!(!block_on(admitted(&list, &stranger_peer)));
        // A peer id that carries no ed25519 key is admitted only by an open admission.
        let opaque = PeerId::random();
        assert_eq!(node_key_of(&opaque), None);
        assert!(!block_on(admitted(&list, &opaque)));
        let open = Allowlist::open();
        assert!(open.is_open() && block_on(admitted(&open, &stranger_peer)));
        assert!(block_on(admitted(&open, &opaque)));
    }
}
