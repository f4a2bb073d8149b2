//! Message routing: actor names to mailboxes, topics to subscribers, and `NODE/NAME`
//! addresses to the node's [`RemoteDelivery`] when it has one.
//!
//! Delivery to one recipient keeps send order (one bounded actix mailbox per actor). A full
//! mailbox is reported to the sender (`MailboxFull`) instead of growing without bound; a
//! request waits for room and a reply up to its timeout. Publish is at-most-once per
//! subscriber: a subscriber whose mailbox is full misses the message, and that is logged.
//!
//! Addresses: a name never contains `/` ([`r1_core::name`]), so `NODE/NAME` is unambiguous:
//! it goes to `RemoteDelivery` untouched; a node without one refuses it (`Unreachable`).

use std::collections::{BTreeSet, HashMap};
use std::sync::RwLock;
use std::time::Duration;

use std::sync::Arc;

use actix::Recipient;
use actix::dev::SendError;
use r1_core::contract::remote::{Envelope, RemoteDelivery};

use crate::error::DeliveryError;

/// The message an actor's mailbox carries.
#[derive(actix::Message, Debug)]
#[rtype(result = "Result<Option<Vec<u8>>, DeliveryError>")]
pub struct Deliver {
    /// Name of the sending actor, or [`HOST_SENDER`](crate::HOST_SENDER) for the host.
    pub sender: String,
    /// The topic it was published on; `None` for a direct send or request.
    pub topic: Option<String>,
    /// The message bytes, opaque to the runtime.
    pub payload: Vec<u8>,
}

impl Deliver {
    /// A message from `sender`, published on `topic` if any.
    pub fn new(sender: &str, topic: Option<String>, payload: Vec<u8>) -> Self {
        Self {
            sender: sender.to_owned(),
            topic,
            payload,
        }
    }
}

/// The node's routing table: local mailboxes, topic subscriptions and the remote transport.
#[derive(Default)]
pub struct Router {
    actors: RwLock<HashMap<String, Recipient<Deliver>>>,
    topics: RwLock<HashMap<String, BTreeSet<String>>>,
    remote: Option<Arc<dyn RemoteDelivery>>,
}

/// `NODE/NAME` → `(NODE, NAME)`; a plain name is local.
fn remote_address(to: &str) -> Option<(&str, &str)> {
    to.split_once('/')
}

impl Router {
    /// A router that hands `NODE/NAME` addresses to `remote`.
    pub fn with_remote(remote: Option<Arc<dyn RemoteDelivery>>) -> Self {
        Self {
            remote,
            ..Self::default()
        }
    }

    pub(crate) fn register(&self, name: &str, mailbox: Recipient<Deliver>) {
        write(&self.actors).insert(name.to_owned(), mailbox);
    }

    /// Forgets `name` and all its subscriptions.
    pub(crate) fn unregister(&self, name: &str) {
        write(&self.actors).remove(name);
        let mut topics = write(&self.topics);
        for subscribers in topics.values_mut() {
            subscribers.remove(name);
        }
        topics.retain(|_, s| !s.is_empty());
    }

    fn lookup(&self, name: &str) -> Result<Recipient<Deliver>, DeliveryError> {
        read(&self.actors)
            .get(name)
            .cloned()
            .ok_or_else(|| DeliveryError::UnknownActor(name.to_owned()))
    }

    /// The remote transport for `to`, or why there is none.
    fn remote(&self, to: &str) -> Result<&Arc<dyn RemoteDelivery>, DeliveryError> {
        self.remote
            .as_ref()
            .ok_or_else(|| DeliveryError::Unreachable {
                to: to.to_owned(),
                reason: "this node delivers to no other node".into(),
            })
    }

    /// Queues `msg` for `to` without waiting.
    pub fn try_deliver(&self, to: &str, msg: Deliver) -> Result<(), DeliveryError> {
        if let Some((node, name)) = remote_address(to) {
            return self
                .remote(to)?
                .send(node, envelope(name, msg))
                .map_err(|e| DeliveryError::Unreachable {
                    to: to.to_owned(),
                    reason: e.to_string(),
                });
        }
        self.lookup(to)?.try_send(msg).map_err(|e| match e {
            SendError::Full(_) => DeliveryError::MailboxFull(to.to_owned()),
            SendError::Closed(_) => DeliveryError::Stopped(to.to_owned()),
        })
    }

    /// Delivers `msg` to `to` and waits up to `timeout` for the handler's reply.
    pub async fn request(
        &self,
        to: &str,
        msg: Deliver,
        timeout: Duration,
    ) -> Result<Option<Vec<u8>>, DeliveryError> {
        if let Some((node, name)) = remote_address(to) {
            return self
                .remote(to)?
                .request(node, envelope(name, msg), timeout)
                .await
                .map_err(|e| DeliveryError::Unreachable {
                    to: to.to_owned(),
                    reason: e.to_string(),
                });
        }
        let addr = self.lookup(to)?;
        match tokio::time::timeout(timeout, addr.send(msg)).await {
            Err(_) | Ok(Err(actix::MailboxError::Timeout)) => {
                Err(DeliveryError::Timeout(to.to_owned()))
            }
            Ok(Err(actix::MailboxError::Closed)) => Err(DeliveryError::Stopped(to.to_owned())),
            Ok(Ok(result)) => result,
        }
    }

    /// Delivers `payload` to every subscriber of `topic`; returns how many got it.
    pub fn publish(&self, sender: &str, topic: &str, payload: Vec<u8>) -> u32 {
        let subscribers: Vec<String> = match read(&self.topics).get(topic) {
            Some(s) => s.iter().cloned().collect(),
            None => return 0,
        };
        let mut delivered = 0;
        for name in subscribers {
            let msg = Deliver::new(sender, Some(topic.to_owned()), payload.clone());
            match self.try_deliver(&name, msg) {
                Ok(()) => delivered += 1,
                Err(err) => tracing::warn!(topic, subscriber = %name, %err, "publish dropped"),
            }
        }
        delivered
    }

    /// Subscribes `name` to `topic`; subscribing twice is a no-op.
    pub fn subscribe(&self, name: &str, topic: &str) {
        write(&self.topics)
            .entry(topic.to_owned())
            .or_default()
            .insert(name.to_owned());
    }

    /// Unsubscribes `name` from `topic`; a topic left with no subscribers is dropped.
    pub fn unsubscribe(&self, name: &str, topic: &str) {
        let mut topics = write(&self.topics);
        if let Some(s) = topics.get_mut(topic) {
            s.remove(name);
            if s.is_empty() {
                topics.remove(topic);
            }
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

    /// Records what it is given, as a transport would carry it.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<(String, Envelope)>>);

    impl RemoteDelivery for Recorder {
        fn send(&self, node: &str, envelope: Envelope) -> Result<(), r1_core::ServiceError> {
            self.0.lock().unwrap().push((node.to_owned(), envelope));
            Ok(())
        }

        fn request<'a>(
            &'a self,
            node: &'a str,
            envelope: Envelope,
            _timeout: Duration,
        ) -> r1_core::BoxFuture<'a, Result<Option<Vec<u8>>, r1_core::ServiceError>> {
            Box::pin(async move {
                if node == "down" {
                    return Err(r1_core::ServiceError::Unavailable("node down".into()));
                }
                Ok(Some(envelope.payload))
            })
        }
    }

    #[test]
    fn node_addresses_go_to_the_transport_untouched() {
        let recorder = Arc::new(Recorder::default());
        let router = Router::with_remote(Some(recorder.clone()));
        let msg = Deliver::new("source", Some("t".into()), b"hi".to_vec());
        router.try_deliver("12D3Koo/sink", msg).unwrap();
        let sent = recorder.0.lock().unwrap().clone();
        assert_eq!(
            sent,
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
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let reply = rt.block_on(router.request(
            "n1/echo",
            Deliver::new("a", None, b"ping".to_vec()),
            Duration::from_secs(1),
        ));
        assert_eq!(reply.unwrap(), Some(b"ping".to_vec()));
        let down = rt.block_on(router.request(
            "down/echo",
            Deliver::new("a", None, vec![]),
            Duration::from_secs(1),
        ));
        assert!(
            matches!(&down, Err(DeliveryError::Unreachable { to, reason }) if to == "down/echo" && reason.contains("node down")),
            "{down:?}"
        );
    }

    #[test]
    fn without_a_transport_node_addresses_are_refused_and_names_stay_local() {
        let router = Router::default();
        let err = router
            .try_deliver("n1/sink", Deliver::new("a", None, vec![]))
            .unwrap_err();
        assert!(
            err.to_string().contains("delivers to no other node"),
            "{err}"
        );
        let err = router
            .try_deliver("sink", Deliver::new("a", None, vec![]))
            .unwrap_err();
        assert!(matches!(err, DeliveryError::UnknownActor(name) if name == "sink"));
    }
}
