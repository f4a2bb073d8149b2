//! Local message routing: actor names to mailboxes, topics to subscribers.
//!
//! Delivery to one recipient keeps send order (one bounded actix mailbox per actor). A full
//! mailbox is reported to the sender (`MailboxFull`) instead of growing without bound; a
//! request waits for room and a reply up to its timeout. Publish is at-most-once per
//! subscriber: a subscriber whose mailbox is full misses the message, and that is logged.

use std::collections::{BTreeSet, HashMap};
use std::sync::RwLock;
use std::time::Duration;

use actix::Addr;
use actix::dev::SendError;

use crate::actor::WasmActor;
use crate::error::DeliveryError;

/// The message an actor's mailbox carries.
#[derive(actix::Message, Debug)]
#[rtype(result = "Result<Option<Vec<u8>>, DeliveryError>")]
pub struct Deliver {
    pub sender: String,
    pub topic: Option<String>,
    pub payload: Vec<u8>,
}

impl Deliver {
    pub fn new(sender: &str, topic: Option<String>, payload: Vec<u8>) -> Self {
        Self {
            sender: sender.to_owned(),
            topic,
            payload,
        }
    }
}

#[derive(Default)]
pub struct Router {
    actors: RwLock<HashMap<String, Addr<WasmActor>>>,
    topics: RwLock<HashMap<String, BTreeSet<String>>>,
}

impl Router {
    pub(crate) fn register(&self, name: &str, addr: Addr<WasmActor>) {
        write(&self.actors).insert(name.to_owned(), addr);
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

    fn lookup(&self, name: &str) -> Result<Addr<WasmActor>, DeliveryError> {
        read(&self.actors)
            .get(name)
            .cloned()
            .ok_or_else(|| DeliveryError::UnknownActor(name.to_owned()))
    }

    /// Queues `msg` for `to` without waiting.
    pub fn try_deliver(&self, to: &str, msg: Deliver) -> Result<(), DeliveryError> {
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

    pub fn subscribe(&self, name: &str, topic: &str) {
        write(&self.topics)
            .entry(topic.to_owned())
            .or_default()
            .insert(name.to_owned());
    }

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

// The maps hold no invariant a panicking writer could break half-way, so poison is ignored.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}
