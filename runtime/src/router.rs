//! Message routing: actor names to mailboxes, topics to subscribers, and other nodes'
//! actors to the node's [`RemoteDelivery`] when it has one.
//!
//! Delivery to one recipient keeps send order (one bounded actix mailbox per actor). A full
//! mailbox is reported to the sender (`MailboxFull`) instead of growing without bound; a
//! request waits for room and a reply up to its timeout. The bound holds because every
//! `try_send` goes through the one sender handle the table keeps per actor: actix counts
//! room per sender handle, so a fresh clone per message would never see the mailbox full. Publish is at-most-once per
//! subscriber: a subscriber whose mailbox is full misses the message, and that is logged.
//!
//! Addresses: a name never contains `/` ([`r1_core::name`]), so `NODE/NAME` is unambiguous.
//! `NODE/NAME` with this node's own id is local; with another node's it goes to
//! `RemoteDelivery`. A plain name that runs here is local; one that runs only elsewhere is
//! resolved through the directory the transport keeps ([`RemoteDelivery::locate`], first node
//! in its stable order). Reaching another node — by address, by resolution or by a publish
//! that crosses the mesh — needs [`Reach::Mesh`] (the `mesh` grant for an actor; the node's
//! own API always has it); without it an address elsewhere is `Denied` and a publish stays on
//! this node. The router tells the transport whenever its actors or subscriptions change
//! ([`RemoteDelivery::advertise`]), so other nodes route to them.
//!
//! **Aliases** ([`Router::set_alias`]): one name standing for several actors here — a
//! Deeploy app's component, served by its healthy replicas. A send to an alias goes to one
//! of them in turn; the directory advertises aliases like actor names, so other nodes reach
//! an app by its alias the same way. An actor's own name wins over an alias of that name.
//!
//! Messages from other nodes come in through [`LocalDelivery`], which the router implements:
//! queued in arrival order (waiting a bounded time for room), with the sender shown as
//! `NODE/ACTOR`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use actix::Recipient;
use actix::dev::SendError;
use r1_core::contract::BoxFuture;
use r1_core::contract::remote::{
    Directory, Envelope, LocalDelivery, RemoteDelivery, RemoteError, ReplyFn,
};

use crate::error::DeliveryError;

/// The message an actor's mailbox carries.
#[derive(actix::Message)]
#[rtype(result = "Result<Option<Vec<u8>>, DeliveryError>")]
pub struct Deliver {
    /// Name of the sending actor (`NODE/NAME` when it runs on another node), or
    /// [`HOST_SENDER`](crate::HOST_SENDER) for the host.
    pub sender: String,
    /// The topic it was published on; `None` for a direct send or request.
    pub topic: Option<String>,
    /// The message bytes, opaque to the runtime.
    pub payload: Vec<u8>,
    /// For a request from another node: where the handler's answer goes.
    pub reply: Option<ReplyFn>,
}

impl std::fmt::Debug for Deliver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliver")
            .field("sender", &self.sender)
            .field("topic", &self.topic)
            .field("payload_len", &self.payload.len())
            .field("reply", &self.reply.is_some())
            .finish()
    }
}

impl Deliver {
    /// A message from `sender`, published on `topic` if any.
    pub fn new(sender: &str, topic: Option<String>, payload: Vec<u8>) -> Self {
        Self {
            sender: sender.to_owned(),
            topic,
            payload,
            reply: None,
        }
    }
}

/// How far a sender may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// This node's actors only.
    Local,
    /// Actors on every admitted node (the `mesh` grant, or the node's own API).
    Mesh,
}

/// The node's routing table: local mailboxes, topic subscriptions and the remote transport.
#[derive(Default)]
pub struct Router {
    actors: RwLock<HashMap<String, Recipient<Deliver>>>,
    /// Alias → the actors here it stands for, and whose turn is next.
    aliases: RwLock<HashMap<String, (Vec<String>, usize)>>,
    topics: RwLock<HashMap<String, BTreeSet<String>>>,
    remote: Option<Arc<dyn RemoteDelivery>>,
    /// This node's id on the mesh (the transport's), read once.
    own: Option<String>,
}

/// Where an address leads: an actor here (by name), or (node, name) elsewhere.
enum Route {
    Local(String),
    Remote(String, String),
}

/// What reaching another node without the grant is told.
const NEEDS_MESH: &str = "reaching actors on other nodes needs the `mesh` grant";

impl Router {
    /// A router that hands other nodes' addresses to `remote`.
    pub fn with_remote(remote: Option<Arc<dyn RemoteDelivery>>) -> Self {
        Self {
            own: remote.as_ref().map(|r| r.node_id()),
            remote,
            ..Self::default()
        }
    }

    pub(crate) fn register(&self, name: &str, mailbox: Recipient<Deliver>) {
        write(&self.actors).insert(name.to_owned(), mailbox);
        self.advertise();
    }

    /// Forgets `name` and all its subscriptions.
    pub(crate) fn unregister(&self, name: &str) {
        let known = write(&self.actors).remove(name).is_some();
        {
            let mut topics = write(&self.topics);
            for subscribers in topics.values_mut() {
                subscribers.remove(name);
            }
            topics.retain(|_, s| !s.is_empty());
        }
        if known {
            self.advertise();
        }
    }

    /// Makes `alias` stand for `actors` (those running here); an empty list removes it.
    /// Changing it re-advertises this node's directory.
    pub fn set_alias(&self, alias: &str, actors: Vec<String>) {
        let changed = {
            let mut aliases = write(&self.aliases);
            if actors.is_empty() {
                aliases.remove(alias).is_some()
            } else {
                let same = aliases.get(alias).is_some_and(|(now, _)| *now == actors);
                if !same {
                    aliases.insert(alias.to_owned(), (actors, 0));
                }
                !same
            }
        };
        if changed {
            self.advertise();
        }
    }

    /// The actor here that `name` reaches: itself, or the next of an alias's actors that runs.
    fn resolve_here(&self, name: &str) -> Option<String> {
        if read(&self.actors).contains_key(name) {
            return Some(name.to_owned());
        }
        let mut aliases = write(&self.aliases);
        let (actors, turn) = aliases.get_mut(name)?;
        let running = read(&self.actors);
        for _ in 0..actors.len() {
            let pick = &actors[*turn % actors.len()];
            *turn = turn.wrapping_add(1);
            if running.contains_key(pick) {
                return Some(pick.clone());
            }
        }
        None
    }

    /// Tells the transport what runs here now.
    fn advertise(&self) {
        let Some(remote) = &self.remote else { return };
        let mut actors: Vec<String> = read(&self.actors).keys().cloned().collect();
        actors.extend(read(&self.aliases).keys().cloned());
        actors.sort();
        actors.dedup();
        let topics = read(&self.topics)
            .iter()
            .map(|(t, s)| (t.clone(), s.len() as u32))
            .collect();
        remote.advertise(Directory { actors, topics });
    }

    /// The actors subscribed to `topic` now.
    fn subscribers_of(&self, topic: &str) -> Vec<String> {
        read(&self.topics)
            .get(topic)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The table's handle for `name`, for a request (which waits on its own clone).
    fn lookup(&self, name: &str) -> Result<Recipient<Deliver>, DeliveryError> {
        read(&self.actors)
            .get(name)
            .cloned()
            .ok_or_else(|| DeliveryError::UnknownActor(name.to_owned()))
    }

    /// [`Router::try_send_to`], waiting until `until` for room in a full mailbox (polling
    /// every [`FULL_MAILBOX_POLL`]): what arrives from other nodes uses it, in arrival order.
    async fn send_until(
        &self,
        name: &str,
        mut msg: Deliver,
        until: Instant,
    ) -> Option<Result<(), SendError<Deliver>>> {
        loop {
            match self.try_send_to(name, msg) {
                Some(Err(SendError::Full(back))) if Instant::now() < until => {
                    msg = back;
                    tokio::time::sleep(FULL_MAILBOX_POLL).await;
                }
                other => return other,
            }
        }
    }

    /// `try_send` through the table's own handle for `name` (`None`: no such actor). Never a
    /// clone: actix keeps the room count per handle.
    fn try_send_to(&self, name: &str, msg: Deliver) -> Option<Result<(), SendError<Deliver>>> {
        read(&self.actors).get(name).map(|m| m.try_send(msg))
    }

    /// Whether an actor called `name` runs on this node (or `name` is an alias here).
    pub fn is_local(&self, name: &str) -> bool {
        read(&self.actors).contains_key(name) || read(&self.aliases).contains_key(name)
    }

    /// This node's id on the mesh, when it has a transport.
    pub fn node_id(&self) -> Option<String> {
        self.own.clone()
    }

    /// The nodes an actor called `name` runs on: this one first (when it runs here), then
    /// the others the directory knows of.
    pub fn locate(&self, name: &str) -> Vec<String> {
        let mut nodes = Vec::new();
        if self.is_local(name) {
            nodes.push(self.node_id().unwrap_or_else(|| "local".into()));
        }
        if let Some(remote) = &self.remote {
            nodes.extend(remote.locate(name));
        }
        nodes
    }

    /// The other nodes this one can deliver to now.
    pub fn nodes(&self) -> Vec<String> {
        self.remote.as_ref().map(|r| r.nodes()).unwrap_or_default()
    }

    /// Resolves `to` for a sender that may reach as far as `reach`.
    fn route(&self, to: &str, reach: Reach) -> Result<Route, DeliveryError> {
        let (node, name) = match to.split_once('/') {
            Some((node, name)) => (Some(node), name),
            None => (None, to),
        };
        if node.is_none() || node == self.own.as_deref() {
            if let Some(here) = self.resolve_here(name) {
                return Ok(Route::Local(here));
            }
            if node.is_some() {
                return Err(DeliveryError::UnknownActor(to.to_owned()));
            }
        }
        let Some(remote) = &self.remote else {
            return match node {
                None => Err(DeliveryError::UnknownActor(to.to_owned())),
                Some(_) => Err(DeliveryError::Unreachable {
                    to: to.to_owned(),
                    reason: "this node delivers to no other node".into(),
                }),
            };
        };
        let node = match node {
            Some(node) => node.to_owned(),
            None => match remote.locate(name).into_iter().next() {
                Some(node) => node,
                None => return Err(DeliveryError::UnknownActor(to.to_owned())),
            },
        };
        if reach != Reach::Mesh {
            return Err(DeliveryError::Denied(format!(
                "{to} runs on another node: {NEEDS_MESH}"
            )));
        }
        Ok(Route::Remote(node, name.to_owned()))
    }

    /// Queues `msg` for `to` without waiting.
    pub fn try_deliver(&self, to: &str, msg: Deliver, reach: Reach) -> Result<(), DeliveryError> {
        match self.route(to, reach)? {
            Route::Local(name) => match self.try_send_to(&name, msg) {
                None => Err(DeliveryError::UnknownActor(name)),
                Some(Ok(())) => Ok(()),
                Some(Err(SendError::Full(_))) => Err(DeliveryError::MailboxFull(name)),
                Some(Err(SendError::Closed(_))) => Err(DeliveryError::Stopped(name)),
            },
            Route::Remote(node, name) => {
                let remote = self.remote.as_ref().ok_or_else(no_transport)?;
                remote
                    .send(&node, envelope(&name, msg))
                    .map_err(|e| DeliveryError::from_remote(&node, &name, e))
            }
        }
    }

    /// Delivers `msg` to `to` and waits up to `timeout` for the handler's reply.
    pub async fn request(
        &self,
        to: &str,
        msg: Deliver,
        timeout: Duration,
        reach: Reach,
    ) -> Result<Option<Vec<u8>>, DeliveryError> {
        match self.route(to, reach)? {
            Route::Local(name) => {
                let mailbox = self.lookup(&name)?;
                match tokio::time::timeout(timeout, mailbox.send(msg)).await {
                    Err(_) | Ok(Err(actix::MailboxError::Timeout)) => {
                        Err(DeliveryError::Timeout(name))
                    }
                    Ok(Err(actix::MailboxError::Closed)) => Err(DeliveryError::Stopped(name)),
                    Ok(Ok(result)) => result,
                }
            }
            Route::Remote(node, name) => {
                let remote = self.remote.as_ref().ok_or_else(no_transport)?;
                remote
                    .request(&node, envelope(&name, msg), timeout)
                    .await
                    .map_err(|e| DeliveryError::from_remote(&node, &name, e))
            }
        }
    }

    /// Delivers `payload` to every subscriber of `topic` here and, with [`Reach::Mesh`], queues
    /// it for every other node with subscribers; returns how many subscribers it reached.
    pub fn publish(&self, sender: &str, topic: &str, payload: Vec<u8>, reach: Reach) -> u32 {
        let remote = match (&self.remote, reach) {
            (Some(remote), Reach::Mesh) => remote.publish(sender, topic, &payload),
            _ => 0,
        };
        remote + self.publish_here(sender, topic, payload)
    }

    /// Delivers to this node's subscribers only.
    fn publish_here(&self, sender: &str, topic: &str, payload: Vec<u8>) -> u32 {
        let subscribers = self.subscribers_of(topic);
        let mut delivered = 0;
        let last = subscribers.len().saturating_sub(1);
        let mut payload = Some(payload);
        for (i, name) in subscribers.into_iter().enumerate() {
            // The last subscriber takes the payload itself: one copy fewer per publish.
            let bytes = if i == last {
                payload.take().unwrap_or_default()
            } else {
                payload.clone().unwrap_or_default()
            };
            let msg = Deliver::new(sender, Some(topic.to_owned()), bytes);
            let why = match self.try_send_to(&name, msg) {
                Some(Ok(())) => {
                    delivered += 1;
                    continue;
                }
                None => "gone",
                Some(Err(SendError::Full(_))) => "mailbox full",
                Some(Err(SendError::Closed(_))) => "stopped",
            };
            tracing::warn!(topic, subscriber = %name, why, "publish dropped");
        }
        delivered
    }

    /// Subscribes `name` to `topic`; subscribing twice is a no-op.
    pub fn subscribe(&self, name: &str, topic: &str) {
        let added = write(&self.topics)
            .entry(topic.to_owned())
            .or_default()
            .insert(name.to_owned());
        if added {
            self.advertise();
        }
    }

    /// Unsubscribes `name` from `topic`; a topic left with no subscribers is dropped.
    pub fn unsubscribe(&self, name: &str, topic: &str) {
        let removed = {
            let mut topics = write(&self.topics);
            match topics.get_mut(topic) {
                Some(s) => {
                    let removed = s.remove(name);
                    if s.is_empty() {
                        topics.remove(topic);
                    }
                    removed
                }
                None => false,
            }
        };
        if removed {
            self.advertise();
        }
    }

    /// Topics `name` is subscribed to.
    pub fn subscriptions(&self, name: &str) -> Vec<String> {
        read(&self.topics)
            .iter()
            .filter(|(_, s)| s.contains(name))
            .map(|(t, _)| t.clone())
            .collect()
    }
}

/// How long a message from another node waits between tries for room in a full mailbox.
const FULL_MAILBOX_POLL: Duration = Duration::from_millis(2);

impl LocalDelivery for Router {
    fn deliver<'a>(
        &'a self,
        sender: String,
        envelope: Envelope,
        reply: Option<ReplyFn>,
        wait: Duration,
    ) -> BoxFuture<'a, Result<(), RemoteError>> {
        Box::pin(async move {
            let to = envelope.to;
            let msg = Deliver {
                sender,
                topic: envelope.topic,
                payload: envelope.payload,
                reply,
            };
            // Waits for room in order: the caller queues the next message only after this
            // one, so arrival order is mailbox order. An alias goes to one of its actors.
            let target = self.resolve_here(&to).unwrap_or_else(|| to.clone());
            match self.send_until(&target, msg, Instant::now() + wait).await {
                None => Err(RemoteError::UnknownActor(to)),
                Some(Ok(())) => Ok(()),
                Some(Err(SendError::Closed(_))) => {
                    Err(RemoteError::Failed(format!("actor {to:?} is stopped")))
                }
                Some(Err(SendError::Full(_))) => Err(RemoteError::MailboxFull(to)),
            }
        })
    }

    fn publish<'a>(
        &'a self,
        sender: &'a str,
        topic: &'a str,
        payload: Vec<u8>,
        wait: Duration,
    ) -> BoxFuture<'a, u32> {
        Box::pin(async move {
            let until = Instant::now() + wait;
            let mut delivered = 0;
            for name in self.subscribers_of(topic) {
                let msg = Deliver::new(sender, Some(topic.to_owned()), payload.clone());
                match self.send_until(&name, msg, until).await {
                    Some(Ok(())) => delivered += 1,
                    _ => {
                        tracing::debug!(topic, subscriber = %name, "publish from another node dropped")
                    }
                }
            }
            delivered
        })
    }
}

fn no_transport() -> DeliveryError {
    DeliveryError::Denied("this node delivers to no other node".into())
}

fn envelope(name: &str, msg: Deliver) -> Envelope {
    Envelope {
        from: msg.sender,
        to: name.to_owned(),
        topic: msg.topic,
        payload: msg.payload,
    }
}

// The maps hold no invariant a panicking writer could break half-way, so poison is ignored.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records what it is given, as a transport would carry it; `elsewhere` runs on n2.
    #[derive(Default)]
    struct Recorder {
        sent: Mutex<Vec<(String, Envelope)>>,
        published: Mutex<Vec<(String, String)>>,
        adverts: Mutex<Vec<Directory>>,
    }

    impl RemoteDelivery for Recorder {
        fn node_id(&self) -> String {
            "n0".into()
        }

        fn send(&self, node: &str, envelope: Envelope) -> Result<(), RemoteError> {
            self.sent.lock().unwrap().push((node.to_owned(), envelope));
            Ok(())
        }

        fn request<'a>(
            &'a self,
            node: &'a str,
            envelope: Envelope,
            _timeout: Duration,
        ) -> BoxFuture<'a, Result<Option<Vec<u8>>, RemoteError>> {
            Box::pin(async move {
                if node == "down" {
                    return Err(RemoteError::Unreachable {
                        node: node.into(),
                        reason: "link broke".into(),
                    });
                }
                Ok(Some(envelope.payload))
            })
        }

        fn publish(&self, from: &str, topic: &str, _payload: &[u8]) -> u32 {
            self.published
                .lock()
                .unwrap()
                .push((from.to_owned(), topic.to_owned()));
            2
        }

        fn locate(&self, name: &str) -> Vec<String> {
            if name == "elsewhere" {
                vec!["n2".into()]
            } else {
                vec![]
            }
        }

        fn nodes(&self) -> Vec<String> {
            vec!["n2".into()]
        }

        fn advertise(&self, directory: Directory) {
            self.adverts.lock().unwrap().push(directory);
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn node_addresses_go_to_the_transport_untouched_with_the_mesh_reach() {
        let recorder = Arc::new(Recorder::default());
        let router = Router::with_remote(Some(recorder.clone()));
        let msg = Deliver::new("source", Some("t".into()), b"hi".to_vec());
        router
            .try_deliver("12D3Koo/sink", msg, Reach::Mesh)
            .unwrap();
        assert_eq!(
            recorder.sent.lock().unwrap().clone(),
            vec![(
                "12D3Koo".to_owned(),
                Envelope {
                    from: "source".into(),
                    to: "sink".into(),
                    topic: Some("t".into()),
                    payload: b"hi".to_vec(),
                }
            )]
        );
        let reply = block_on(router.request(
            "n1/echo",
            Deliver::new("a", None, b"ping".to_vec()),
            Duration::from_secs(1),
            Reach::Mesh,
        ));
        assert_eq!(reply.unwrap(), Some(b"ping".to_vec()));
        let down = block_on(router.request(
            "down/echo",
            Deliver::new("a", None, vec![]),
            Duration::from_secs(1),
            Reach::Mesh,
        ));
        assert!(
            matches!(&down, Err(DeliveryError::Unreachable { to, reason }) if to == "down/echo" && reason.contains("link broke")),
            "{down:?}"
        );
    }

    #[test]
    fn without_the_mesh_reach_other_nodes_are_denied_and_publishes_stay_here() {
        let recorder = Arc::new(Recorder::default());
        let router = Router::with_remote(Some(recorder.clone()));
        for to in ["n1/sink", "elsewhere"] {
            let err = router
                .try_deliver(to, Deliver::new("a", None, vec![]), Reach::Local)
                .unwrap_err();
            assert!(
                matches!(&err, DeliveryError::Denied(why) if why.contains("`mesh` grant")),
                "{err:?}"
            );
        }
        assert!(recorder.sent.lock().unwrap().is_empty());
        assert_eq!(router.publish("a", "t", b"x".to_vec(), Reach::Local), 0);
        assert!(recorder.published.lock().unwrap().is_empty());
        assert_eq!(router.publish("a", "t", b"x".to_vec(), Reach::Mesh), 2);
        assert_eq!(
            recorder.published.lock().unwrap().clone(),
            vec![("a".to_owned(), "t".to_owned())]
        );
    }

    #[test]
    fn a_name_that_runs_only_elsewhere_resolves_through_the_directory() {
        let recorder = Arc::new(Recorder::default());
        let router = Router::with_remote(Some(recorder.clone()));
        router
            .try_deliver("elsewhere", Deliver::new("a", None, vec![1]), Reach::Mesh)
            .unwrap();
        assert_eq!(recorder.sent.lock().unwrap()[0].0, "n2");
        assert_eq!(router.locate("elsewhere"), vec!["n2".to_owned()]);
        let err = router
            .try_deliver("nowhere", Deliver::new("a", None, vec![]), Reach::Mesh)
            .unwrap_err();
        assert!(matches!(err, DeliveryError::UnknownActor(n) if n == "nowhere"));
        // This node's own id is local: no such actor here, and nothing sent.
        let err = router
            .try_deliver("n0/nowhere", Deliver::new("a", None, vec![]), Reach::Mesh)
            .unwrap_err();
        assert!(matches!(err, DeliveryError::UnknownActor(n) if n == "n0/nowhere"));
        assert_eq!(recorder.sent.lock().unwrap().len(), 1);
    }

    #[test]
    fn subscriptions_are_advertised_to_the_transport() {
        let recorder = Arc::new(Recorder::default());
        let router = Router::with_remote(Some(recorder.clone()));
        router.subscribe("sink", "lines");
        router.subscribe("sink", "lines");
        router.subscribe("audit", "lines");
        let adverts = recorder.adverts.lock().unwrap().clone();
        assert_eq!(adverts.len(), 2, "a repeated subscribe is not news");
        assert_eq!(adverts[1].topics, vec![("lines".to_owned(), 2)]);
        router.unsubscribe("sink", "lines");
        router.unsubscribe("audit", "lines");
        let last = recorder.adverts.lock().unwrap().last().cloned().unwrap();
        assert!(last.topics.is_empty());
    }

    #[test]
    fn without_a_transport_node_addresses_are_refused_and_names_stay_local() {
        let router = Router::default();
        let err = router
            .try_deliver("n1/sink", Deliver::new("a", None, vec![]), Reach::Mesh)
            .unwrap_err();
        assert!(
            err.to_string().contains("delivers to no other node"),
            "{err}"
        );
        let err = router
            .try_deliver("sink", Deliver::new("a", None, vec![]), Reach::Mesh)
            .unwrap_err();
        assert!(matches!(err, DeliveryError::UnknownActor(name) if name == "sink"));
    }
}
