//! OracleSync on a node (docs/oraclesync.md). With `[oraclesync] oracles` set, every node:
//!
//! - signs each heartbeat with its node key and gossips it to the oracles on [`beats::TOPIC`]
//!   ([`OracleSync::beat`], called by Deeploy's heartbeat: one beat serves both);
//! - if its key is listed, keeps what it observed ([`beats::BeatLog`]) and runs the oracle
//!   system actor (`[oraclesync] oracle`, grant `oraclesync`, ticked every `tick_ms`), which
//!   drives `r1_oraclesync::round` through [`control::Control`];
//! - serves the certificates every oracle stored in CSTORE ([`records`]) on the API.
//!
//! Invariants: the oracle actor is the node's own (the grant is refused on the API and in
//! app specs); the node signs at most one root per epoch; only verified records are believed.

pub mod beats;
pub mod control;
pub mod records;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use ed25519_dalek::SigningKey;
use r1_cstore::Cstore;
use r1_mesh::{Mesh, Protocols};
use r1_oraclesync::beat::SignedBeat;
use r1_oraclesync::round::Settings;
use r1_runtime::{ActorSpec, Grants};

use crate::config::NodeConfig;
use crate::deeploy::store::now_ms;
use crate::node::Node;

/// The oracle system actor's name on every oracle node.
pub const ORACLE: &str = "oraclesync-oracle";

/// OracleSync's part of a node.
pub struct OracleSync {
    settings: Settings,
    key: SigningKey,
    /// Set on an oracle node: what it observed.
    log: Option<Arc<beats::BeatLog>>,
    control: Option<control::Control>,
}

impl OracleSync {
    /// OracleSync for a node with `key` on `config`; `None` when no oracle is listed. Bad
    /// settings are errors naming the setting.
    pub fn new(config: &NodeConfig, key: &SigningKey, store: &Cstore) -> Result<Option<Self>> {
        let oc = &config.oraclesync;
        if oc.oracles.is_empty() {
            return Ok(None);
        }
        let own = hex::encode(key.verifying_key().to_bytes());
        let settings = oc.round(&own, config.deeploy.heartbeat_ms)?;
        let is_oracle = settings.oracles.contains(&own);
        let (log, control) = if is_oracle {
            let keep_ms = settings.epoch_ms.saturating_mul(3);
            let log = Arc::new(beats::BeatLog::new(settings.rule, oc.max_skew_ms, keep_ms));
            let control = control::Control::new(
                store.clone(),
                key.clone(),
                settings.clone(),
                log.clone(),
                &config.data_dir,
            );
            (Some(log), Some(control))
        } else {
            (None, None)
        };
        Ok(Some(Self {
            settings,
            key: key.clone(),
            log,
            control,
        }))
    }

    /// The agreement's settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Whether this node is an oracle.
    pub fn is_oracle(&self) -> bool {
        self.log.is_some()
    }

    /// The control the oracle actor is granted (oracle nodes only).
    pub fn control(&self) -> Option<control::Control> {
        self.control.clone()
    }

    /// Registers the beat listener (oracle nodes only) and subscribes to its topic.
    pub fn register(&self, mesh: &Mesh, protocols: Protocols) -> Protocols {
        let Some(log) = &self.log else {
            return protocols;
        };
        if let Err(e) = mesh.subscribe(beats::TOPIC) {
            tracing::error!("cannot subscribe to {}: {e}", beats::TOPIC);
        }
        protocols.gossip(beats::TOPIC, beats::BeatListener::new(log.clone()))
    }

    /// Signs a heartbeat carrying `advert` (JSON) and sends it to the oracles; an oracle
    /// takes its own beat directly.
    pub async fn beat(&self, mesh: &Mesh, advert: Vec<u8>) {
        let beat = SignedBeat::sign(&self.key, now_ms(), advert);
        if let Some(log) = &self.log {
            log.take(&beat, now_ms());
        }
        if let Err(e) = mesh.publish(beats::TOPIC, beat.to_bytes()).await {
            tracing::debug!("heartbeat not gossiped: {e}");
        }
    }
}

/// Starts the oracle system actor when this node is an oracle and `[oraclesync] oracle`
/// names its component (one that cannot start is logged; the node still beats).
pub async fn start(node: &Arc<Node>) {
    let Some(sync) = node.oraclesync() else {
        return;
    };
    if !sync.is_oracle() {
        return;
    }
    let settings = &node.config().oraclesync;
    let Some(path) = &settings.oracle else {
        tracing::warn!("this node is an oracle but [oraclesync] oracle names no component");
        return;
    };
    let wasm = match std::fs::read(path) {
        Ok(wasm) => wasm,
        Err(e) => {
            tracing::error!("oracle not started: cannot read {}: {e}", path.display());
            return;
        }
    };
    let spawned = node
        .runtime()
        .spawn(ActorSpec {
            name: ORACLE.into(),
            wasm,
            grants: Grants {
                oraclesync: true,
                ..Grants::default()
            },
            config: Vec::new(),
            limits: None,
        })
        .await;
    if let Err(e) = spawned {
        tracing::error!("oracle not started: {e}");
        return;
    }
    let period = Duration::from_millis(settings.tick_ms.max(20));
    let node = Arc::downgrade(node);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(node) = node.upgrade() else { break };
            match node
                .runtime()
                .request(ORACLE, b"tick".to_vec(), Duration::from_secs(30))
                .await
            {
                Ok(_) => {}
                Err(r1_runtime::DeliveryError::UnknownActor(_)) => break,
                Err(e) => tracing::warn!("oracle pass failed: {e}"),
            }
        }
    });
    tracing::info!("oraclesync oracle started");
}
