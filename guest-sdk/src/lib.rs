//! `r1-guest`: write an R1 actor in a few lines.
//!
//! ```ignore
//! use r1_guest::{Actor, Config, Message};
//!
//! struct Hello;
//!
//! impl Actor for Hello {
//!     fn init(_config: Config) -> Result<Self, String> {
//!         Ok(Hello)
//!     }
//!     fn handle(&mut self, msg: Message) -> Result<Option<Vec<u8>>, String> {
//!         Ok(Some(format!("hello, {}!", msg.text()).into_bytes()))
//!     }
//! }
//!
//! r1_guest::export_actor!(Hello);
//! ```
//!
//! Build it with `r1 build path/to/crate`. The component imports only what the code calls:
//! an actor that never touches [`cstore`] needs no CSTORE grant.
//!
//! Execution model: one instance handles one message at a time, in delivery order, so the
//! actor value needs no locking. After a trap the host restarts the instance and calls
//! [`Actor::init`] again: keep anything that must survive in [`cstore`].

extern crate self as r1_guest;

use std::borrow::Cow;
use std::time::Duration;

#[doc(hidden)]
pub mod __bindings {
    wit_bindgen::generate!({
        world: "r1:guest/guest",
        path: ["../wit/actor", "../wit/cstore", "../wit/fs", "../wit/infer", "../wit/edil", "../wit/mesh", "../wit/deeploy", "../wit/oraclesync", "wit"],
        pub_export_macro: true,
        default_bindings_module: "r1_guest::__bindings",
        runtime_path: "r1_guest::__wit_bindgen::rt",
        generate_all,
    });
}

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

use __bindings::r1::actor::logging::{self as wit_logging, Level};
use __bindings::r1::actor::mailbox as wit_mailbox;
pub use __bindings::r1::actor::types::MailboxError;

/// An actor: built by [`Actor::init`], then fed messages one at a time.
pub trait Actor: Sized + 'static {
    /// Builds the actor from the deployment's configuration. An error stops it.
    fn init(config: Config) -> Result<Self, String>;
    /// Handles one message. `Some(reply)` answers a request.
    fn handle(&mut self, message: Message) -> Result<Option<Vec<u8>>, String>;
}

/// A message delivered to an actor.
#[derive(Debug, Clone)]
pub struct Message {
    /// The sending actor: its name when it runs on this node, `NODE/NAME` when it runs on
    /// another (`NODE` is the authenticated peer it came from; sending to this address
    /// answers it), or `host` for the node's API and CLI.
    pub sender: String,
    /// The topic it was published on; `None` for a direct send or request.
    pub topic: Option<String>,
    pub payload: Vec<u8>,
}

impl Message {
    /// The payload as text (invalid UTF-8 is replaced, never an error).
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.payload)
    }
}

impl From<__bindings::r1::actor::types::Message> for Message {
    fn from(m: __bindings::r1::actor::types::Message) -> Self {
        Self {
            sender: m.sender,
            topic: m.topic,
            payload: m.payload,
        }
    }
}

/// The deployment's configuration: string keys to string values.
#[derive(Debug, Clone, Default)]
pub struct Config(Vec<(String, String)>);

impl Config {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key`, or `default` when it is not configured.
    pub fn get_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.get(key).unwrap_or(default)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl From<Vec<(String, String)>> for Config {
    fn from(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }
}

/// Queues `payload` for the actor named `to` (fire and forget).
pub fn send(to: &str, payload: impl AsRef<[u8]>) -> Result<(), MailboxError> {
    wit_mailbox::send(to, payload.as_ref())
}

/// Sends `payload` to `to` and waits up to `timeout` for its reply.
pub fn request(
    to: &str,
    payload: impl AsRef<[u8]>,
    timeout: Duration,
) -> Result<Vec<u8>, MailboxError> {
    let ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
    wit_mailbox::request(to, payload.as_ref(), ms)
}

/// Delivers `payload` to every subscriber of `topic`; returns how many got it.
pub fn publish(topic: &str, payload: impl AsRef<[u8]>) -> Result<u32, MailboxError> {
    wit_mailbox::publish(topic, payload.as_ref())
}

/// Starts receiving messages published on `topic` (usually called from `init`).
pub fn subscribe(topic: &str) -> Result<(), MailboxError> {
    wit_mailbox::subscribe(topic)
}

pub fn unsubscribe(topic: &str) {
    wit_mailbox::unsubscribe(topic)
}

/// This actor's own name on the node.
pub fn self_address() -> String {
    wit_mailbox::self_address()
}

/// Actors on other nodes (`--grant mesh`). With the grant, [`send`], [`request`] and
/// [`publish`] also reach other nodes: `NODE/NAME` addresses, names that run only elsewhere,
/// subscribers on every node. This module adds typed errors (which node, which failure) and
/// where names run.
///
/// Delivery is at most once and in send order between two actors; the receiver sees the
/// sender as `NODE/NAME`.
pub mod mesh {
    use std::time::Duration;

    pub use crate::__bindings::r1::mesh::actors::Error;
    use crate::__bindings::r1::mesh::actors as wit;

    /// Queues `payload` for `to` (`NODE/NAME`, or a name on any node, this one first).
    pub fn send(to: &str, payload: impl AsRef<[u8]>) -> Result<(), Error> {
        wit::send(to, payload.as_ref())
    }

    /// Sends `payload` to `to` and waits up to `timeout` for its reply.
    pub fn request(
        to: &str,
        payload: impl AsRef<[u8]>,
        timeout: Duration,
    ) -> Result<Vec<u8>, Error> {
        let ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
        wit::request(to, payload.as_ref(), ms)
    }

    /// The nodes an actor called `name` runs on (this node first when it runs here).
    pub fn locate(name: &str) -> Vec<String> {
        wit::locate(name)
    }

    /// This node's id: the `NODE` of its actors' addresses.
    pub fn self_node() -> String {
        wit::self_node()
    }

    /// The other nodes this node can deliver to now.
    pub fn nodes() -> Vec<String> {
        wit::nodes()
    }
}

/// Logging into the node log, attributed to this actor.
/// Deeploy's scheduler control (`r1:deeploy`), for the scheduler system actor: a node grants
/// `deeploy` only to the scheduler it starts itself, so any other actor calling these is
/// refused before it starts. Documents are JSON of `r1-deeploy`'s state types.
pub mod deeploy {
    use crate::__bindings::r1::deeploy::scheduler as wit;

    /// The scheduler's view now (a `View`).
    pub fn view() -> Result<String, String> {
        wit::view()
    }

    /// Writes one app's whole placement (an `AppPlacement`).
    pub fn place(app: &str, placement: &str) -> Result<(), String> {
        wit::place(app, placement)
    }

    /// Deletes the placement of an app no longer desired.
    pub fn drop(app: &str) -> Result<(), String> {
        wit::drop(app)
    }

    /// Sets `app` back to its previous version because `failed` failed.
    pub fn revert(app: &str, failed: &str, reason: &str) -> Result<(), String> {
        wit::revert(app, failed, reason)
    }
}

/// OracleSync's oracle control (`r1:oraclesync`), for the oracle system actor: a node grants
/// `oraclesync` only to the oracle it starts itself. The node keeps the observations, holds
/// the key (it signs, once per epoch) and verifies every record it hands over.
pub mod oraclesync {
    use crate::__bindings::r1::oraclesync::oracle as wit;

    /// The agreement's parameters (JSON `Settings`).
    pub fn settings() -> Result<String, String> {
        wit::settings()
    }

    /// The beats seen that count in `[start_ms, end_ms)`: JSON node id → `Intervals`.
    pub fn observed(start_ms: u64, end_ms: u64) -> Result<String, String> {
        wit::observed(start_ms, end_ms)
    }

    /// Publishes this oracle's table (JSON `Table`), signed by the node.
    pub fn publish_table(table: &str) -> Result<(), String> {
        wit::publish_table(table)
    }

    /// The listed oracles' verified tables for `epoch`: (oracle key, JSON `Table`).
    pub fn tables(epoch: u64) -> Result<Vec<(Vec<u8>, String)>, String> {
        wit::tables(epoch)
    }

    /// Signs `root` for `epoch` (once per epoch) and publishes it.
    pub fn sign(epoch: u64, root: &[u8]) -> Result<(), String> {
        wit::sign(epoch, root)
    }

    /// The listed oracles' verified signatures for `epoch`: (oracle, root, signature).
    pub fn signatures(epoch: u64) -> Result<Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>, String> {
        wit::signatures(epoch)
    }

    /// Hands over a certificate (canonical bytes) for the node to check and store.
    pub fn certify(certificate: &[u8]) -> Result<(), String> {
        wit::certify(certificate)
    }
}

pub mod log {
    use super::{Level, wit_logging};

    pub fn debug(message: &str) {
        wit_logging::log(Level::Debug, "", message)
    }
    pub fn info(message: &str) {
        wit_logging::log(Level::Info, "", message)
    }
    pub fn warn(message: &str) {
        wit_logging::log(Level::Warn, "", message)
    }
    pub fn error(message: &str) {
        wit_logging::log(Level::Error, "", message)
    }
}

/// CSTORE, scoped to the namespace this actor is granted (`--grant cstore:NAMESPACE`).
pub mod cstore {
    pub use crate::__bindings::r1::cstore::store::{
        CasOutcome, Error, KeyPage, Versioned, compare_and_swap, delete, exists, get,
        get_versioned, hdel, hget, hgetall, hkeys, hset, list_keys, set,
    };

    /// The value of `key` as UTF-8 text.
    pub fn get_string(key: &str) -> Result<Option<String>, Error> {
        Ok(get(key)?.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// The value of `key` as a decimal `u64`; absent is 0.
    pub fn get_u64(key: &str) -> Result<u64, Error> {
        match get_string(key)? {
            None => Ok(0),
            Some(s) => s
                .trim()
                .parse()
                .map_err(|_| Error::Invalid(format!("{key} holds {s:?}, not a number"))),
        }
    }

    /// Atomically adds `by` to the decimal counter at `key` and returns the new value.
    pub fn incr(key: &str, by: u64) -> Result<u64, Error> {
        loop {
            let (current, version) = match get_versioned(key)? {
                None => (0, 0),
                Some(v) => {
                    let text = String::from_utf8_lossy(&v.value).into_owned();
                    let n: u64 = text.trim().parse().map_err(|_| {
                        Error::Invalid(format!("{key} holds {text:?}, not a number"))
                    })?;
                    (n, v.version)
                }
            };
            let next = current.saturating_add(by);
            match compare_and_swap(key, version, next.to_string().as_bytes())? {
                CasOutcome::Swapped(_) => return Ok(next),
                CasOutcome::Conflict(_) => continue,
            }
        }
    }
}

/// R1FS files (`--grant r1fs`, or `r1fs-ro` to read only): content-addressed, verified,
/// fetched from peers when this node lacks them.
pub mod fs {
    pub use crate::__bindings::r1::fs::files::{
        Error, FileStat, Reader, Writer, add, open, pin, stat, unpin,
    };

    /// Reads a whole file.
    pub fn read_all(cid: &str) -> Result<Vec<u8>, Error> {
        let reader = open(cid)?;
        let size = reader.size();
        let mut out = Vec::with_capacity(size as usize);
        while (out.len() as u64) < size {
            let chunk = reader.read(out.len() as u64, 1 << 20)?;
            if chunk.is_empty() {
                break;
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

/// Inference on the node's models (`--grant infer`, or `infer:MODEL` for one model): one
/// shared copy per node, requests from every actor batched together.
pub mod infer {
    pub use crate::__bindings::r1::infer::inference::{
        Error, Model, ModelInfo, ModelKind, Tensor, load,
    };

    /// Cosine similarity of two vectors (0 when either is all zeros).
    pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
        let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
        for (x, y) in a.iter().zip(b) {
            dot += x * y;
            na += x * x;
            nb += y * y;
        }
        if na == 0.0 || nb == 0.0 {
            0.0
        } else {
            dot / (na.sqrt() * nb.sqrt())
        }
    }
}

/// f32 vectors as little-endian bytes, the form models and embeddings are stored in
/// (CSTORE values, R1FS files).
pub mod vectors {
    pub fn to_bytes(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    /// The vector in `bytes` (a trailing partial value is ignored).
    pub fn from_bytes(bytes: &[u8]) -> Vec<f32> {
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }
}

/// Federated learning with encrypted aggregation (`--grant edil:JOB`; `edil-owner:JOB` to
/// decrypt): encrypt an update, sum updates without a key, decrypt the sum on the owner.
pub mod edil {
    pub use crate::__bindings::r1::edil::federated::{
        AggregateInfo, Error, aggregate, decrypt, encrypt,
    };
}

#[doc(hidden)]
pub mod __export {
    pub use crate::__bindings::exports::r1::actor::handler::Guest;
    pub use crate::__bindings::r1::actor::types::Message as WitMessage;
}

/// Exports `$ty` (an [`Actor`]) as this component's handler.
#[macro_export]
macro_rules! export_actor {
    ($ty:ty) => {
        const _: () = {
            struct R1Export;

            ::std::thread_local! {
                static R1_ACTOR: ::std::cell::RefCell<::std::option::Option<$ty>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }

            impl $crate::__export::Guest for R1Export {
                fn init(
                    config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                ) -> ::std::result::Result<(), ::std::string::String> {
                    let actor = <$ty as $crate::Actor>::init($crate::Config::from(config))?;
                    R1_ACTOR.with(|slot| *slot.borrow_mut() = ::std::option::Option::Some(actor));
                    ::std::result::Result::Ok(())
                }

                fn handle(
                    message: $crate::__export::WitMessage,
                ) -> ::std::result::Result<
                    ::std::option::Option<::std::vec::Vec<u8>>,
                    ::std::string::String,
                > {
                    R1_ACTOR.with(|slot| match slot.borrow_mut().as_mut() {
                        ::std::option::Option::Some(actor) => {
                            $crate::Actor::handle(actor, $crate::Message::from(message))
                        }
                        ::std::option::Option::None => ::std::result::Result::Err(
                            "actor received a message before init".into(),
                        ),
                    })
                }
            }

            $crate::__bindings::export!(R1Export);
        };
    };
}
