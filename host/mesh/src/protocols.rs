//! The mesh's protocol registry, in the spirit of iroh's router: each service registers the
//! gossip topics, request services and stream protocols it owns, and [`Protocols::serve`]
//! hands every event from the mesh to its one handler.
//!
//! Invariants: a topic, service or stream protocol has exactly one handler (registering a second is a
//! programming error and panics at assembly, before the node serves anything); events reach
//! handlers in the order the mesh delivered them, on the dispatch task, so a handler must
//! not block it (spawn the work; answer a request through its `reply` whenever ready). A
//! request for a service nobody registered is answered with an error naming it; gossip on an
//! unregistered topic is dropped. An inbound stream reaches its handler only from a peer the
//! node admits (others are closed unread and counted in `MeshStats::dropped_streams`).

use std::collections::HashMap;
use std::sync::Arc;

use libp2p::PeerId;
use tokio::sync::{mpsc, oneshot};

use futures::StreamExt;

use crate::{Mesh, MeshEvent, PeerStream};

/// Where a request's answer goes: bytes, or an error message for the asking peer.
pub type Reply = oneshot::Sender<Result<Vec<u8>, String>>;

/// A service's side of the mesh. Each method has a default that ignores the event (or, for a
/// request, answers that the service does not take it), so a service implements only what it
/// registered for.
pub trait Protocol: Send + Sync + 'static {
    /// A gossip message on a topic this handler registered.
    fn gossip(self: Arc<Self>, topic: String, from: PeerId, data: Vec<u8>) {
        let _ = (topic, from, data);
    }

    /// A request for a service this handler registered; answer through `reply`.
    fn request(self: Arc<Self>, from: PeerId, service: String, body: Vec<u8>, reply: Reply) {
        let _ = (from, body);
        let _ = reply.send(Err(format!("service {service:?} takes no requests here")));
    }

    /// A peer connected (for handlers registered with [`Protocols::on_connect`]).
    fn peer_connected(self: Arc<Self>, peer: PeerId) {
        let _ = peer;
    }

    /// The last connection to a peer closed (for handlers registered with
    /// [`Protocols::on_connect`]).
    fn peer_disconnected(self: Arc<Self>, peer: PeerId) {
        let _ = peer;
    }

    /// An admitted peer opened a stream of a protocol this handler registered.
    fn stream(self: Arc<Self>, peer: PeerId, stream: PeerStream) {
        let _ = (peer, stream);
    }
}

/// Which handler owns which topic and service.
#[derive(Default)]
pub struct Protocols {
    topics: HashMap<String, Arc<dyn Protocol>>,
    services: HashMap<String, Arc<dyn Protocol>>,
    streams: HashMap<&'static str, Arc<dyn Protocol>>,
    on_connect: Vec<Arc<dyn Protocol>>,
}

impl Protocols {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// `handler` receives the gossip on `topic`.
    pub fn gossip(mut self, topic: &str, handler: Arc<dyn Protocol>) -> Self {
        let previous = self.topics.insert(topic.to_owned(), handler);
        assert!(
            previous.is_none(),
            "two handlers for gossip topic {topic:?}"
        );
        self
    }

    /// `handler` answers the requests for `service`.
    pub fn requests(mut self, service: &str, handler: Arc<dyn Protocol>) -> Self {
        let previous = self.services.insert(service.to_owned(), handler);
        assert!(
            previous.is_none(),
            "two handlers for request service {service:?}"
        );
        self
    }

    /// `handler` takes the inbound streams of `protocol` (e.g. `/r1/actors/1`).
    pub fn streams(mut self, protocol: &'static str, handler: Arc<dyn Protocol>) -> Self {
        let previous = self.streams.insert(protocol, handler);
        assert!(
            previous.is_none(),
            "two handlers for stream protocol {protocol:?}"
        );
        self
    }

    /// `handler` hears of every peer that connects or disconnects.
    pub fn on_connect(mut self, handler: Arc<dyn Protocol>) -> Self {
        self.on_connect.push(handler);
        self
    }

    /// Hands one event to its handler.
    pub fn dispatch(&self, event: MeshEvent) {
        match event {
            MeshEvent::Gossip { topic, from, data } => match self.topics.get(&topic) {
                Some(handler) => handler.clone().gossip(topic, from, data),
                None => tracing::debug!(%topic, peer = %from, "gossip on a topic nobody serves"),
            },
            MeshEvent::Request {
                from,
                service,
                body,
                reply,
            } => match self.services.get(&service) {
                Some(handler) => handler.clone().request(from, service, body, reply),
                None => {
                    let _ = reply.send(Err(format!("no service {service:?} on this node")));
                }
            },
            MeshEvent::PeerConnected(peer) => {
                for handler in &self.on_connect {
                    handler.clone().peer_connected(peer);
                }
            }
            MeshEvent::PeerDisconnected(peer) => {
                for handler in &self.on_connect {
                    handler.clone().peer_disconnected(peer);
                }
            }
        }
    }

    /// Dispatches every event the mesh delivers, and every inbound stream of a registered
    /// protocol from an admitted peer, on the current tokio runtime, until the mesh stops.
    pub fn serve(
        self,
        mesh: &Mesh,
        mut events: mpsc::Receiver<MeshEvent>,
    ) -> Result<tokio::task::JoinHandle<()>, crate::MeshError> {
        for (protocol, handler) in &self.streams {
            let mut incoming = mesh.accept_streams(protocol)?;
            let (mesh, handler) = (mesh.clone(), handler.clone());
            tokio::spawn(async move {
                while let Some((peer, stream)) = incoming.next().await {
                    if mesh.admits(&peer).await {
                        handler.clone().stream(peer, stream);
                    } else {
                        mesh.stats()
                            .dropped_streams
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracing::debug!(%peer, "closed a stream from a peer that is not admitted");
                    }
                }
            });
        }
        Ok(tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                self.dispatch(event);
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Log(Mutex<Vec<String>>);

    impl Protocol for Log {
        fn gossip(self: Arc<Self>, topic: String, _from: PeerId, data: Vec<u8>) {
            self.0
                .lock()
                .unwrap()
                .push(format!("{topic}:{}", String::from_utf8_lossy(&data)));
        }

        fn request(self: Arc<Self>, _from: PeerId, service: String, body: Vec<u8>, reply: Reply) {
            self.0.lock().unwrap().push(format!("req {service}"));
            let _ = reply.send(Ok(body));
        }

        fn peer_connected(self: Arc<Self>, _peer: PeerId) {
            self.0.lock().unwrap().push("connected".into());
        }
    }

    #[test]
    fn each_event_reaches_its_one_handler() {
        let (a, b) = (Arc::new(Log::default()), Arc::new(Log::default()));
        let protocols = Protocols::new()
            .gossip("t/a", a.clone())
            .gossip("t/b", b.clone())
            .requests("svc", b.clone())
            .on_connect(a.clone());
        let peer = PeerId::random();
        protocols.dispatch(MeshEvent::Gossip {
            topic: "t/a".into(),
            from: peer,
            data: b"1".to_vec(),
        });
        protocols.dispatch(MeshEvent::Gossip {
            topic: "t/b".into(),
            from: peer,
            data: b"2".to_vec(),
        });
        protocols.dispatch(MeshEvent::Gossip {
            topic: "nobody".into(),
            from: peer,
            data: b"3".to_vec(),
        });
        protocols.dispatch(MeshEvent::PeerConnected(peer));
        let (reply, answer) = oneshot::channel();
        protocols.dispatch(MeshEvent::Request {
            from: peer,
            service: "svc".into(),
            body: b"echo".to_vec(),
            reply,
        });
        assert_eq!(answer.blocking_recv().unwrap(), Ok(b"echo".to_vec()));
        let (reply, answer) = oneshot::channel();
        protocols.dispatch(MeshEvent::Request {
            from: peer,
            service: "other".into(),
            body: vec![],
            reply,
        });
        assert!(
            answer
                .blocking_recv()
                .unwrap()
                .unwrap_err()
                .contains("no service \"other\"")
        );
        assert_eq!(*a.0.lock().unwrap(), vec!["t/a:1", "connected"]);
        assert_eq!(*b.0.lock().unwrap(), vec!["t/b:2", "req svc"]);
    }

    #[test]
    #[should_panic(expected = "two handlers")]
    fn a_topic_has_one_handler() {
        let _ = Protocols::new()
            .gossip("t", Arc::new(Log::default()))
            .gossip("t", Arc::new(Log::default()));
    }
}
