//! The oracle actor's body, shared as source by the actor (`lib.rs`) and by the lying-oracle
//! test guest (`tests/guests/lying-oracle`, through `#[path]`): the round's I/O over the
//! node's `r1:oraclesync` imports ([`NodeIo`]) and the actor around a round ([`OracleActor`]),
//! generic over that I/O so a test guest can wrap it.

use std::collections::BTreeMap;

use r1_guest::oraclesync as node;
use r1_oraclesync::availability::{Epoch, Intervals};
use r1_oraclesync::certificate::Certificate;
use r1_oraclesync::round::{Io, Oracle, Published, Settings};
use r1_oraclesync::table::Table;

fn key32(bytes: &[u8]) -> Result<[u8; 32], String> {
    bytes.try_into().map_err(|_| "a key or root is 32 bytes".to_owned())
}

/// The round's I/O over the node's `r1:oraclesync` imports.
pub struct NodeIo;

impl Io for NodeIo {
    fn observed(&mut self, epoch: &Epoch) -> Result<BTreeMap<String, Intervals>, String> {
        let json = node::observed(epoch.start_ms, epoch.end_ms)?;
        serde_json::from_str(&json).map_err(|e| format!("bad observations: {e}"))
    }

    fn publish_table(&mut self, table: &Table) -> Result<(), String> {
        node::publish_table(&serde_json::to_string(table).map_err(|e| e.to_string())?)
    }

    fn tables(&mut self, epoch: u64) -> Result<Vec<([u8; 32], Table)>, String> {
        node::tables(epoch)?
            .into_iter()
            .map(|(oracle, json)| {
                let table = serde_json::from_str(&json).map_err(|e| format!("bad table: {e}"))?;
                Ok((key32(&oracle)?, table))
            })
            .collect()
    }

    fn sign(&mut self, epoch: u64, root: [u8; 32]) -> Result<(), String> {
        node::sign(epoch, &root)
    }

    fn signatures(&mut self, epoch: u64) -> Result<Vec<Published>, String> {
        node::signatures(epoch)?
            .into_iter()
            .map(|(oracle, root, sig)| {
                let sig: [u8; 64] = sig
                    .as_slice()
                    .try_into()
                    .map_err(|_| "a signature is 64 bytes".to_owned())?;
                Ok((key32(&oracle)?, key32(&root)?, sig))
            })
            .collect()
    }

    fn certify(&mut self, certificate: &Certificate) -> Result<(), String> {
        node::certify(&certificate.to_bytes())
    }
}

/// The current time (ms since the Unix epoch), from WASI's wall clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The oracle actor, generic over its I/O (the real one, or a test guest's wrapper).
pub struct OracleActor<T: Io> {
    oracle: Oracle,
    io: T,
    last: String,
}

impl<T: Io> OracleActor<T> {
    /// An oracle on the node's settings, talking through `io`.
    pub fn start(io: T) -> Result<Self, String> {
        let settings: Settings = serde_json::from_str(&node::settings()?)
            .map_err(|e| format!("bad settings: {e}"))?;
        r1_guest::log::info(&format!(
            "oracle {} of {} (f = {}), epochs of {} ms",
            &settings.own[..12.min(settings.own.len())],
            settings.oracles.len(),
            settings.f,
            settings.epoch_ms
        ));
        Ok(Self {
            oracle: Oracle::new(settings, now_ms()),
            io,
            last: "no pass yet".into(),
        })
    }

    /// Handles `tick` and `status`.
    pub fn handle(&mut self, message: r1_guest::Message) -> Result<Option<Vec<u8>>, String> {
        match message.text().as_ref() {
            "tick" => {
                let lines = self.oracle.tick(now_ms(), &mut self.io);
                for line in &lines {
                    r1_guest::log::info(line);
                }
                if !lines.is_empty() {
                    self.last = lines.join("\n");
                }
                Ok(Some(lines.join("\n").into_bytes()))
            }
            "status" => Ok(Some(self.last.clone().into_bytes())),
            other => Err(format!("unknown message {other:?} (tick, status)")),
        }
    }
}

