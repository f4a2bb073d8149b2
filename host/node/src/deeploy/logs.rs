//! An app's logs from every replica: each node answers the mesh request service
//! [`SERVICE`] with the recent lines of its own replicas of the app asked for (the runtime's
//! log book), and the node serving `r1 app logs` gathers them from every node that reports a
//! replica, each line tagged with its node and instance, merged by time.
//!
//! Invariants: a node answers only for Deeploy replicas (never for other actors), only to
//! admitted peers (the mesh drops others' requests); a node that does not answer within
//! [`ASK_TIMEOUT`] is named in the answer, not waited on.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use r1_mesh::{NodePeerId, Protocol, Protocols, Reply};
use r1_runtime::{LogLine, Runtime};
use serde::{Deserialize, Serialize};

/// The mesh request service: body the app id, answer JSON `[InstanceLines]`.
pub const SERVICE: &str = "r1-deeploy-logs";
/// How long one node's answer is waited for.
pub const ASK_TIMEOUT: Duration = Duration::from_secs(5);

/// One replica's lines.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceLines {
    /// The replica's actor name.
    pub instance: String,
    /// Its recent lines, oldest first.
    pub lines: Vec<LogLine>,
}

/// One line of an app's logs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppLine {
    /// The node it came from.
    pub node: String,
    /// The replica.
    pub instance: String,
    /// When (unix milliseconds, the node's clock).
    pub at_ms: u64,
    /// Its level.
    pub level: String,
    /// The text.
    pub text: String,
}

/// An app's logs: every line, and the nodes that did not answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppLogs {
    /// Every replica's lines, by time.
    pub lines: Vec<AppLine>,
    /// (node, why) for nodes whose lines are missing.
    pub missing: Vec<(String, String)>,
}

/// This node's side: answers for its own replicas.
pub struct LogService {
    runtime: Runtime,
    replicas: Arc<Mutex<BTreeMap<String, String>>>,
}

impl LogService {
    /// The service over `runtime`'s log book and the node's replica table.
    pub fn new(runtime: Runtime, replicas: Arc<Mutex<BTreeMap<String, String>>>) -> Arc<Self> {
        Arc::new(Self { runtime, replicas })
    }

    /// Registers [`SERVICE`].
    pub fn register(self: &Arc<Self>, protocols: Protocols) -> Protocols {
        protocols.requests(SERVICE, self.clone())
    }

    /// The lines of this node's replicas of `app`.
    pub fn local(&self, app: &str) -> Vec<InstanceLines> {
        let instances: Vec<String> = self
            .replicas
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(_, a)| a.as_str() == app)
            .map(|(i, _)| i.clone())
            .collect();
        instances
            .into_iter()
            .filter_map(|instance| {
                let lines = self.runtime.logs(&instance)?;
                Some(InstanceLines { instance, lines })
            })
            .collect()
    }
}

impl Protocol for LogService {
    fn request(self: Arc<Self>, _from: NodePeerId, _service: String, body: Vec<u8>, reply: Reply) {
        let answer = String::from_utf8(body)
            .map_err(|_| "the app id is not UTF-8".to_owned())
            .and_then(|app| serde_json::to_vec(&self.local(&app)).map_err(|e| e.to_string()));
        let _ = reply.send(answer);
    }
}

/// Gathers `app_id`'s lines from this node (`local`) and every node beaten within
/// `fresh_ms` that reports a replica (asked over `mesh`).
pub async fn gather(
    mesh: &r1_mesh::Mesh,
    store: &r1_cstore::Cstore,
    fresh_ms: u64,
    local: &LogService,
    app_id: &str,
) -> AppLogs {
    let own = mesh.peer_id().to_string();
    let mut lines = Vec::new();
    let mut missing = Vec::new();
    let mut take = |from: &str, replicas: Vec<InstanceLines>| {
        for r in replicas {
            for l in r.lines {
                lines.push(AppLine {
                    node: from.to_owned(),
                    instance: r.instance.clone(),
                    at_ms: l.at_ms,
                    level: l.level,
                    text: l.text,
                });
            }
        }
    };
    take(&own, local.local(app_id));
    let status = super::store::fresh_status(store, app_id, fresh_ms);
    for report in status.iter().filter(|s| s.node != own) {
        let Ok(peer) = report.node.parse::<NodePeerId>() else {
            continue;
        };
        let asked = mesh.request(peer, SERVICE, app_id.as_bytes().to_vec());
        match tokio::time::timeout(ASK_TIMEOUT, asked).await {
            Ok(Ok(bytes)) => match serde_json::from_slice::<Vec<InstanceLines>>(&bytes) {
                Ok(replicas) => take(&report.node, replicas),
                Err(e) => missing.push((report.node.clone(), format!("unreadable answer: {e}"))),
            },
            Ok(Err(e)) => missing.push((report.node.clone(), e.to_string())),
            Err(_) => missing.push((report.node.clone(), "no answer within 5 s".into())),
        }
    }
    lines.sort_by_key(|l| l.at_ms);
    AppLogs { lines, missing }
}
