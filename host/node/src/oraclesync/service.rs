//! [`OracleSync`]: OracleSync's part of a node, built before the node itself (the runtime
//! needs its control): the settings, the signed beats this node sends, and on an oracle node
//! the beat log and the control its oracle actor is granted.

use std::sync::Arc;

use anyhow::Result;
use ed25519_dalek::SigningKey;
use r1_cstore::Cstore;
use r1_mesh::{Mesh, Protocols};
use r1_oraclesync::beat::SignedBeat;
use r1_oraclesync::round::Settings;

use super::{beats, control};
use crate::config::NodeConfig;
use crate::deeploy::store::now_ms;

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
