//! Grants: what a deployment allows an actor to touch, and how a component's imports map to
//! the grants they need: the data. Each capability's own syntax, packages and claims live in
//! its unit (`crate::capability`, which also parses and prints whole grant lists); this
//! module holds the grant data and the WASI preopens (`fs:`).
//!
//! Grant syntax (CLI `--grant`, API `grants`):
//! - `cstore:NAMESPACE`: CSTORE, with every key scoped to NAMESPACE.
//! - `fs:HOST_DIR` or `fs:HOST_DIR=GUEST_DIR`: a read-write preopened directory (the guest
//!   sees it at GUEST_DIR, default `/data`); `fs-ro:` the same, read-only.
//! - `r1fs`: R1FS files (`r1:fs`), read and write; `r1fs-ro`: reading only.
//! - `infer`: every model the node serves (`r1:infer`); `infer:MODEL`: that model only
//!   (repeatable).
//! - `edil:JOB`: take part in federated job JOB (`r1:edil` encrypt, aggregate);
//!   `edil-owner:JOB`: also decrypt its aggregates (repeatable).
//! - `mesh`: reach actors on other nodes (`r1:mesh`, and `r1:actor/mailbox` beyond this node).
//! - `http:HOST`: outgoing HTTP to HOST (`wasi:http/outgoing-handler`; repeatable).
//! - `net`: the node's network, for OCI containers (without it a container has only loopback;
//!   wasm components have no sockets, so it gives them nothing).
//! - `deeploy`: Deeploy's scheduler control (`r1:deeploy`); the node gives it only to the
//!   scheduler system actor it starts itself.
//! - `oraclesync`: OracleSync's oracle control (`r1:oraclesync`); the node gives it only to
//!   the oracle system actor it starts itself.
//!
//! Everything else in WASI is linked with nothing ambient: no environment, no host files but
//! the preopens, no sockets.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// One preopened host directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preopen {
    /// The directory on the host.
    pub host: PathBuf,
    /// The absolute path the guest sees it at.
    pub guest: String,
    /// Granted with `fs-ro:`: the guest may not write.
    pub read_only: bool,
}

/// Everything granted to one actor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants {
    /// The CSTORE namespace, when CSTORE is granted.
    pub cstore: Option<String>,
    /// Preopened host directories (`fs:` and `fs-ro:` grants).
    pub preopens: Vec<Preopen>,
    /// R1FS access, when granted: `Some(true)` = read-only.
    pub r1fs: Option<bool>,
    /// Inference, when granted.
    #[serde(default)]
    pub infer: Option<ModelScope>,
    /// EDIL jobs, and whether the actor may decrypt each (owner).
    #[serde(default)]
    pub edil: std::collections::BTreeMap<String, bool>,
    /// Whether the actor may reach actors on other nodes (`mesh`).
    #[serde(default)]
    pub mesh: bool,
    /// Hosts outgoing HTTP may reach (`http:HOST`), lower-case.
    #[serde(default)]
    pub http_hosts: BTreeSet<String>,
    /// Deeploy's scheduler control (`deeploy`): a node grants it only to its own system
    /// actors.
    #[serde(default)]
    pub deeploy: bool,
    /// OracleSync's oracle control (`oraclesync`): a node grants it only to its own oracle.
    #[serde(default)]
    pub oraclesync: bool,
    /// The node's network for a container (`net`).
    #[serde(default)]
    pub net: bool,
}

/// Which models an `infer` grant opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelScope {
    /// Every model the node serves (`infer`).
    All,
    /// Only these models (`infer:MODEL`, repeated).
    Only(BTreeSet<String>),
}

impl ModelScope {
    /// Whether the scope includes `model`.
    pub fn allows(&self, model: &str) -> bool {
        match self {
            ModelScope::All => true,
            ModelScope::Only(models) => models.contains(model),
        }
    }
}

/// Capabilities whose interfaces are linked only when granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    /// CSTORE: `r1:cstore` and `wasi:keyvalue`.
    Cstore,
    /// R1FS files: `r1:fs`.
    R1fs,
    /// Inference: `r1:infer`.
    Infer,
    /// Federated jobs: `r1:edil`.
    Edil,
    /// Other nodes' actors: `r1:mesh`, and the mailbox beyond this node.
    Mesh,
    /// Outgoing HTTP to named hosts: `wasi:http/outgoing-handler`.
    Http,
    /// Deeploy's scheduler control: `r1:deeploy` (granted by a node to its system actors).
    Deeploy,
    /// OracleSync's oracle control: `r1:oraclesync` (granted by a node to its own oracle).
    OracleSync,
    /// The node's network for OCI containers (no package).
    Net,
}

/// What one import needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Always provided (actor messaging, logging, WASI with nothing ambient).
    Base,
    /// Provided only when this capability is granted.
    Capability(Capability),
}

/// Names of actors, namespaces, jobs and models: the one rule of [`r1_core::name`].
pub use r1_core::name::is_valid_name as valid_name;

impl Grants {
    /// Adds a preopened host directory: `HOST_DIR` or `HOST_DIR=GUEST_DIR` (default `/data`).
    pub(crate) fn add_preopen(&mut self, arg: &str, read_only: bool) -> Result<(), String> {
        let (host, guest) = match arg.split_once('=') {
            Some((h, g)) => (h, g),
            None => (arg, "/data"),
        };
        if host.is_empty() {
            return Err("missing host directory".into());
        }
        if !guest.starts_with('/') {
            return Err("guest path must be absolute, e.g. /data".into());
        }
        let host = PathBuf::from(host);
        if !host.is_dir() {
            return Err("host directory does not exist".into());
        }
        self.preopens.push(Preopen {
            host,
            guest: guest.to_owned(),
            read_only,
        });
        Ok(())
    }
}
