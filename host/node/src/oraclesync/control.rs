//! The node's side of `r1:oraclesync`: what the oracle system actor reads and writes. Every
//! call runs on the blocking pool (CSTORE's durable path, a file sync), never on the actor's
//! worker thread.
//!
//! Invariants: the node key signs inside the node; a table is published once per epoch (the
//! same table again is a no-op, a different one refused); **one root per epoch** is signed,
//! recorded in `DATA_DIR/oraclesync/signed/EPOCH` (written and synced before the signature
//! leaves the node) so neither a restart nor a record deleted from CSTORE lets this node sign
//! a second root; own records older than [`KEEP_EPOCHS`] epochs are swept as new ones come.

use std::path::PathBuf;
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use r1_core::ServiceError;
use r1_core::contract::BoxFuture;
use r1_core::contract::oraclesync::{OracleControl, OracleTable, PublishedSignature};
use r1_cstore::Cstore;
use r1_oraclesync::availability::Epoch;
use r1_oraclesync::certificate::Certificate;
use r1_oraclesync::exchange::{open_signature, open_table, seal_signature, seal_table};
use r1_oraclesync::round::Settings;
use r1_oraclesync::table::Table;

use super::beats::BeatLog;
use super::records::{self, NAMESPACE};

/// Epochs of this oracle's own tables and signatures kept in CSTORE.
pub const KEEP_EPOCHS: u64 = 7;

/// OracleSync control over one node (cheap to clone).
#[derive(Clone)]
pub struct Control {
    store: Cstore,
    key: SigningKey,
    settings: Settings,
    log: Arc<BeatLog>,
    signed_dir: PathBuf,
}

fn unavailable(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Unavailable(e.to_string())
}

impl Control {
    /// Control for the oracle `settings.own` holding `key`, over `store` and `log`, recording
    /// what it signed under `data_dir`.
    pub fn new(
        store: Cstore,
        key: SigningKey,
        settings: Settings,
        log: Arc<BeatLog>,
        data_dir: &std::path::Path,
    ) -> Self {
        Self {
            store,
            key,
            settings,
            log,
            signed_dir: data_dir.join("oraclesync").join("signed"),
        }
    }

    fn publish_table_now(&self, json: &str) -> Result<(), ServiceError> {
        let table: Table = serde_json::from_str(json)
            .map_err(|e| ServiceError::Invalid(format!("not a table: {e}")))?;
        let key = records::table_key(table.epoch, &self.settings.own);
        if let Some(held) = self.store.get(NAMESPACE, &key).map_err(unavailable)? {
            return match open_table(&held) {
                Ok((_, old)) if old == table => Ok(()),
                _ => Err(ServiceError::Refused(format!(
                    "a different table for epoch {} is already published",
                    table.epoch
                ))),
            };
        }
        self.store
            .set(NAMESPACE, &key, &seal_table(&self.key, &table))
            .map_err(unavailable)?;
        self.sweep(table.epoch);
        Ok(())
    }

    /// Deletes this oracle's own records older than [`KEEP_EPOCHS`] before `epoch`.
    fn sweep(&self, epoch: u64) {
        let Some(horizon) = epoch.checked_sub(KEEP_EPOCHS) else {
            return;
        };
        for kind in ["table/", "sig/"] {
            for key in records::keys_under(&self.store, kind) {
                let old = key
                    .split('/')
                    .nth(1)
                    .and_then(|e| e.parse::<u64>().ok())
                    .is_some_and(|e| e < horizon);
                if old && key.ends_with(&self.settings.own) {
                    let _ = self.store.delete(NAMESPACE, &key);
                }
            }
        }
    }

    fn sign_now(&self, epoch: u64, root: &[u8]) -> Result<(), ServiceError> {
        let root: [u8; 32] = root
            .try_into()
            .map_err(|_| ServiceError::Invalid("a root is 32 bytes".into()))?;
        let record = self.signed_dir.join(epoch.to_string());
        match std::fs::read_to_string(&record) {
            Ok(held) if held.trim() == hex::encode(root) => {}
            Ok(held) => {
                return Err(ServiceError::Refused(format!(
                    "epoch {epoch}: this oracle signed root {} already; it signs one root per epoch",
                    held.trim()
                )));
            }
            Err(_) => {
                std::fs::create_dir_all(&self.signed_dir).map_err(unavailable)?;
                let tmp = record.with_extension("tmp");
                let write = || -> std::io::Result<()> {
                    use std::io::Write;
                    let mut file = std::fs::File::create(&tmp)?;
                    file.write_all(hex::encode(root).as_bytes())?;
                    file.sync_all()?;
                    std::fs::rename(&tmp, &record)?;
                    std::fs::File::open(&self.signed_dir)?.sync_all()
                };
                write().map_err(unavailable)?;
            }
        }
        let key = records::signature_key(epoch, &self.settings.own);
        let sealed = seal_signature(&self.key, epoch, &root);
        let own: [u8; 32] = self.key.verifying_key().to_bytes();
        let held = self.store.get(NAMESPACE, &key).map_err(unavailable)?;
        if held
            .as_deref()
            .is_some_and(|b| open_signature(&own, epoch, b).is_ok_and(|(r, _)| r == root))
        {
            return Ok(());
        }
        self.store
            .set(NAMESPACE, &key, &sealed)
            .map_err(unavailable)?;
        Ok(())
    }

    fn certify_now(&self, bytes: &[u8]) -> Result<(), ServiceError> {
        let cert =
            Certificate::from_bytes(bytes).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let stored = records::store_certificate(&self.store, &self.settings, &cert)
            .map_err(ServiceError::Invalid)?;
        if stored {
            tracing::info!(
                epoch = cert.table.epoch,
                signatures = cert.signatures.len(),
                nodes = cert.table.figures.len(),
                "epoch certified"
            );
        }
        Ok(())
    }
}

/// Runs `f` on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ServiceError> + Send + 'static,
) -> Result<T, ServiceError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServiceError::Other(format!("oraclesync control task failed: {e}")))?
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, ServiceError> {
    serde_json::to_string(value).map_err(|e| ServiceError::Other(e.to_string()))
}

impl OracleControl for Control {
    fn settings(&self) -> BoxFuture<'_, Result<String, ServiceError>> {
        Box::pin(async move { json(&self.settings) })
    }

    fn observed(&self, start_ms: u64, end_ms: u64) -> BoxFuture<'_, Result<String, ServiceError>> {
        Box::pin(async move {
            if end_ms <= start_ms {
                return Err(ServiceError::Invalid(
                    "an epoch ends after it starts".into(),
                ));
            }
            let epoch = Epoch {
                number: self.settings.epoch_at(start_ms),
                start_ms,
                end_ms,
            };
            json(&self.log.observed(&epoch))
        })
    }

    fn publish_table<'a>(&'a self, table: &'a str) -> BoxFuture<'a, Result<(), ServiceError>> {
        let (this, table) = (self.clone(), table.to_owned());
        Box::pin(blocking(move || this.publish_table_now(&table)))
    }

    fn tables(&self, epoch: u64) -> BoxFuture<'_, Result<Vec<OracleTable>, ServiceError>> {
        let this = self.clone();
        Box::pin(blocking(move || {
            records::tables(&this.store, &this.settings, epoch)
                .into_iter()
                .map(|(oracle, table)| Ok((oracle.to_vec(), json(&table)?)))
                .collect()
        }))
    }

    fn sign<'a>(&'a self, epoch: u64, root: &'a [u8]) -> BoxFuture<'a, Result<(), ServiceError>> {
        let (this, root) = (self.clone(), root.to_vec());
        Box::pin(blocking(move || this.sign_now(epoch, &root)))
    }

    fn signatures(
        &self,
        epoch: u64,
    ) -> BoxFuture<'_, Result<Vec<PublishedSignature>, ServiceError>> {
        let this = self.clone();
        Box::pin(blocking(move || {
            Ok(records::signatures(&this.store, &this.settings, epoch)
                .into_iter()
                .map(|(o, r, s)| (o.to_vec(), r.to_vec(), s.to_vec()))
                .collect())
        }))
    }

    fn certify<'a>(&'a self, certificate: &'a [u8]) -> BoxFuture<'a, Result<(), ServiceError>> {
        let (this, bytes) = (self.clone(), certificate.to_vec());
        Box::pin(blocking(move || this.certify_now(&bytes)))
    }
}
