//! OracleSync's records in CSTORE (namespace [`NAMESPACE`]), replicated to every node:
//!
//! | key | value | written by |
//! |---|---|---|
//! | `table/EPOCH/ORACLE` | a sealed table (`r1_oraclesync::exchange`) | that oracle's node |
//! | `sig/EPOCH/ORACLE` | a sealed signature of a root | that oracle's node |
//! | `cert/EPOCH` | a certificate's canonical bytes | any oracle's node, checked first |
//!
//! `EPOCH` is zero-padded to 20 digits so keys sort by epoch; `ORACLE` is the key in hex.
//! Invariants: every record is checked when read (a table or signature against the oracle
//! its key names and the listed oracles, a certificate against the oracle list and f), so a
//! record any node forged or garbled is skipped, never believed; a certificate is replaced
//! only by one that verifies and carries more signatures.

use r1_cstore::Cstore;
use r1_oraclesync::certificate::Certificate;
use r1_oraclesync::exchange::{open_signature, open_table};
use r1_oraclesync::round::{Published, Settings};
use r1_oraclesync::table::Table;

/// The namespace of OracleSync's records.
pub const NAMESPACE: &str = "r1-oraclesync";

/// The key of `oracle`'s table for `epoch`.
pub fn table_key(epoch: u64, oracle: &str) -> String {
    format!("table/{epoch:020}/{oracle}")
}

/// The key of `oracle`'s signature for `epoch`.
pub fn signature_key(epoch: u64, oracle: &str) -> String {
    format!("sig/{epoch:020}/{oracle}")
}

/// The key of `epoch`'s certificate.
pub fn certificate_key(epoch: u64) -> String {
    format!("cert/{epoch:020}")
}

/// Every key under `prefix` (all pages).
pub fn keys_under(store: &Cstore, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut cursor: Option<String> = None;
    while let Ok(page) = store.list_keys(NAMESPACE, prefix, cursor.as_deref(), r1_cstore::MAX_PAGE)
    {
        keys.extend(page.keys);
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    keys
}

/// The oracle (hex) a record key ends with, if it is a listed one, and its bytes.
fn listed(settings: &Settings, key: &str) -> Option<[u8; 32]> {
    let oracle = key.rsplit('/').next()?;
    if !settings.oracles.iter().any(|o| o == oracle) {
        return None;
    }
    hex::decode(oracle).ok()?.try_into().ok()
}

/// The listed oracles' tables for `epoch`, each verified.
pub fn tables(store: &Cstore, settings: &Settings, epoch: u64) -> Vec<([u8; 32], Table)> {
    keys_under(store, &format!("table/{epoch:020}/"))
        .into_iter()
        .filter_map(|key| {
            let oracle = listed(settings, &key)?;
            let bytes = store.get(NAMESPACE, &key).ok()??;
            let (signer, table) = open_table(&bytes).ok()?;
            (signer == oracle && table.epoch == epoch).then_some((oracle, table))
        })
        .collect()
}

/// The listed oracles' signatures for `epoch`, each verified.
pub fn signatures(store: &Cstore, settings: &Settings, epoch: u64) -> Vec<Published> {
    keys_under(store, &format!("sig/{epoch:020}/"))
        .into_iter()
        .filter_map(|key| {
            let oracle = listed(settings, &key)?;
            let bytes = store.get(NAMESPACE, &key).ok()??;
            let (root, signature) = open_signature(&oracle, epoch, &bytes).ok()?;
            Some((oracle, root, signature))
        })
        .collect()
}

fn oracle_keys(settings: &Settings) -> Vec<[u8; 32]> {
    settings
        .oracles
        .iter()
        .filter_map(|o| hex::decode(o).ok()?.try_into().ok())
        .collect()
}

/// `epoch`'s certificate, if one is stored and verifies.
pub fn certificate(store: &Cstore, settings: &Settings, epoch: u64) -> Option<Certificate> {
    let bytes = store.get(NAMESPACE, &certificate_key(epoch)).ok()??;
    let cert = Certificate::from_bytes(&bytes).ok()?;
    (cert.table.epoch == epoch && cert.verify(&oracle_keys(settings), settings.f).is_ok())
        .then_some(cert)
}

/// Stores `cert` if it verifies and no stored one carries as many signatures; returns whether
/// it was stored.
pub fn store_certificate(
    store: &Cstore,
    settings: &Settings,
    cert: &Certificate,
) -> Result<bool, String> {
    cert.verify(&oracle_keys(settings), settings.f)
        .map_err(|e| format!("certificate refused: {e}"))?;
    let epoch = cert.table.epoch;
    if certificate(store, settings, epoch)
        .is_some_and(|held| held.signatures.len() >= cert.signatures.len())
    {
        return Ok(false);
    }
    store
        .set(NAMESPACE, &certificate_key(epoch), &cert.to_bytes())
        .map_err(|e| format!("cannot store the certificate: {e:#}"))?;
    Ok(true)
}

/// Where one epoch stands, as the API lists it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct EpochEntry {
    /// The epoch.
    pub epoch: u64,
    /// `certified`, `faulty` (its deadline passed without a certificate) or `open`.
    pub status: String,
    /// The certificate's root (hex), when certified.
    pub root: Option<String>,
    /// Oracle signatures on the certificate.
    pub signatures: usize,
    /// Nodes it gives a figure for.
    pub nodes: usize,
    /// Oracle tables published for it.
    pub tables: usize,
}

fn epoch_of(key: &str) -> Option<u64> {
    key.split('/').nth(1)?.parse().ok()
}

/// Every epoch the oracles worked on (a table or a certificate exists), newest first, at most
/// `limit`.
pub fn epochs(store: &Cstore, settings: &Settings, now_ms: u64, limit: usize) -> Vec<EpochEntry> {
    let mut seen: std::collections::BTreeMap<u64, usize> = Default::default();
    for key in keys_under(store, "table/") {
        if let Some(e) = epoch_of(&key) {
            *seen.entry(e).or_default() += 1;
        }
    }
    for key in keys_under(store, "cert/") {
        if let Some(e) = epoch_of(&key) {
            seen.entry(e).or_default();
        }
    }
    seen.into_iter()
        .rev()
        .take(limit)
        .map(
            |(epoch, tables)| match certificate(store, settings, epoch) {
                Some(cert) => EpochEntry {
                    epoch,
                    status: "certified".into(),
                    root: Some(hex::encode(cert.root)),
                    signatures: cert.signatures.len(),
                    nodes: cert.table.figures.len(),
                    tables,
                },
                None => EpochEntry {
                    epoch,
                    status: if now_ms >= settings.deadline(epoch) {
                        "faulty".into()
                    } else {
                        "open".into()
                    },
                    root: None,
                    signatures: 0,
                    nodes: 0,
                    tables,
                },
            },
        )
        .collect()
}
