//! Node configuration: an optional TOML file, overridden by flags. With nothing given, a
//! node runs the embedded default: data under `~/.local/share/r1`, dev trust policy, API on
//! 127.0.0.1:7411.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use r1_runtime::RuntimeConfig;
use serde::{Deserialize, Serialize};

/// Where the HTTP API listens unless configured otherwise.
pub const DEFAULT_API: &str = "127.0.0.1:7411";

/// A node's configuration (the TOML file's top level); missing keys take their defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    /// Where the node keeps its state: identity, CSTORE, R1FS blocks, deployments, token.
    pub data_dir: PathBuf,
    /// Where the HTTP API listens. Beyond loopback only with `api_tls` (the token is always
    /// required).
    pub api: SocketAddr,
    /// The API's bearer token file; default `<data_dir>/api.token` (made 0600 at first start).
    pub api_token_file: Option<PathBuf>,
    /// Host names clients use to reach the API, besides its own address and `localhost`
    /// (the `Host` of any other request is refused: no DNS rebinding).
    pub api_hosts: Vec<String>,
    /// Web origins (`https://dash.example`) allowed to call the API from a browser (CORS).
    /// Empty: no cross-origin request is served.
    pub api_cors_origins: Vec<String>,
    /// TLS for the API: PEM certificate chain and private key.
    pub api_tls: Option<ApiTls>,
    /// Where HTTP components (`wasi:http/proxy`) are served, each on its route; `None`: off.
    /// A separate listener from the API: apps are public to whoever reaches it, the API
    /// needs the token.
    pub http: Option<SocketAddr>,
    /// Dev trust policy: unsigned components run (with a warning) and the node's own key and
    /// the local publisher key are trusted. Off: only signed components from `trust_file`.
    pub dev: bool,
    /// Publisher keys this node trusts, one per line.
    pub trust_file: Option<PathBuf>,
    /// The mesh, replication and RESP listener (`[mesh]`).
    pub mesh: MeshSettings,
    /// The actor runtime: workers, default limits (`[runtime]`).
    pub runtime: RuntimeConfig,
    /// Inference: device, batching, models (`[infer]`).
    pub infer: InferSettings,
    /// Deeploy: heartbeats and this node's tags (`[deeploy]`).
    pub deeploy: DeeploySettings,
    /// OracleSync: the oracles, epochs and this node's oracle (`[oraclesync]`).
    pub oraclesync: OracleSyncSettings,
}

/// OracleSync (docs/oraclesync.md). The heartbeat period is `[deeploy] heartbeat_ms`: one
/// beat serves both.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OracleSyncSettings {
    /// The oracles' node keys (hex, as `r1 status` shows `node_id`), n ≥ 3f + 1. Empty:
    /// OracleSync is off (no signed beats are sent).
    pub oracles: Vec<String>,
    /// Byzantine oracles tolerated; default ⌊(n − 1) / 3⌋.
    pub f: Option<usize>,
    /// Epoch length (default one day).
    pub epoch_ms: u64,
    /// When epoch 0 began, ms since the Unix epoch (default 0: epochs are UTC days).
    pub genesis_ms: u64,
    /// Slack beyond the heartbeat period before a gap closes an online interval.
    pub grace_ms: u64,
    /// Wait after an epoch ends before the oracles compute its tables (default `grace_ms`).
    pub settle_ms: Option<u64>,
    /// Longest wait for the other oracles' tables.
    pub exchange_ms: u64,
    /// Longest wait, after that, for 2f + 1 signatures.
    pub sign_ms: u64,
    /// The oracle system actor's component (`oraclesync_oracle.wasm`); it runs only on a
    /// node whose key is in `oracles`.
    pub oracle: Option<PathBuf>,
    /// Milliseconds between the oracle's passes.
    pub tick_ms: u64,
    /// A beat whose stamp is further than this from the oracle's clock is ignored.
    pub max_skew_ms: u64,
}

impl Default for OracleSyncSettings {
    fn default() -> Self {
        Self {
            oracles: Vec::new(),
            f: None,
            epoch_ms: 86_400_000,
            genesis_ms: 0,
            grace_ms: 5_000,
            settle_ms: None,
            exchange_ms: 60_000,
            sign_ms: 60_000,
            oracle: None,
            tick_ms: 1_000,
            max_skew_ms: 30_000,
        }
    }
}

impl OracleSyncSettings {
    /// The oracle keys, each checked.
    pub fn oracle_keys(&self) -> Result<Vec<[u8; 32]>> {
        self.oracles
            .iter()
            .map(|k| {
                let bytes = hex::decode(k.trim())
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .with_context(|| {
                        format!("[oraclesync] oracles: {k:?} is not a 64-hex-digit node key")
                    })?;
                ed25519_dalek::VerifyingKey::from_bytes(&bytes).with_context(|| {
                    format!("[oraclesync] oracles: {k:?} is not an ed25519 key")
                })?;
                Ok(bytes)
            })
            .collect()
    }

    /// The agreement's settings as `own` (hex) runs it with beats every `period_ms`; errors
    /// name what is wrong (bad keys, too few oracles for f, a zero epoch).
    pub fn round(&self, own: &str, period_ms: u64) -> Result<r1_oraclesync::round::Settings> {
        let keys = self.oracle_keys()?;
        let n = keys.len();
        anyhow::ensure!(n > 0, "[oraclesync] lists no oracle");
        let distinct: std::collections::BTreeSet<_> = keys.iter().collect();
        anyhow::ensure!(
            distinct.len() == n,
            "[oraclesync] oracles lists a key twice"
        );
        let f = self.f.unwrap_or((n - 1) / 3);
        anyhow::ensure!(
            n > 3 * f,
            "[oraclesync] {n} oracles cannot tolerate f = {f}: n >= 3f + 1 is needed"
        );
        anyhow::ensure!(
            self.epoch_ms >= 1_000,
            "[oraclesync] epoch_ms must be at least 1000"
        );
        Ok(r1_oraclesync::round::Settings {
            oracles: keys.iter().map(hex::encode).collect(),
            f,
            own: own.to_owned(),
            genesis_ms: self.genesis_ms,
            epoch_ms: self.epoch_ms,
            rule: r1_oraclesync::availability::Rule {
                period_ms,
                grace_ms: self.grace_ms,
            },
            settle_ms: self.settle_ms.unwrap_or(self.grace_ms),
            exchange_ms: self.exchange_ms,
            sign_ms: self.sign_ms,
        })
    }
}

/// What this node tells Deeploy, and how often.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeeploySettings {
    /// Milliseconds between heartbeats (the advert written to CSTORE).
    pub heartbeat_ms: u64,
    /// Operator tags placement constraints and spread refer to (`zone = "a"`).
    pub tags: std::collections::BTreeMap<String, String>,
    /// What remote app specs may be granted here (`[deeploy.policy]`).
    pub policy: r1_deeploy::policy::OperatorPolicy,
    /// The scheduler system actor's component (`deeploy_scheduler.wasm`); none: this node
    /// places nothing itself (it still beats and runs what is placed on it).
    pub scheduler: Option<PathBuf>,
    /// Milliseconds between scheduler passes.
    pub schedule_ms: u64,
    /// Milliseconds between reconciler passes (start/stop what the placements say, report).
    pub reconcile_ms: u64,
    /// Memory offered to workloads, MiB (default: what is available at start).
    pub memory_mb: Option<u64>,
    /// Copies of each deployed component R1FS keeps on the mesh (the accepting node's
    /// included), so no single node's loss takes a component with it.
    pub component_copies: u32,
}

impl DeeploySettings {
    /// How recent an advert must be for its node to count as alive: three heartbeats.
    pub fn fresh_ms(&self) -> u64 {
        self.heartbeat_ms.saturating_mul(3).max(150)
    }
}

impl Default for DeeploySettings {
    fn default() -> Self {
        Self {
            heartbeat_ms: 1000,
            tags: Default::default(),
            policy: Default::default(),
            scheduler: None,
            schedule_ms: 500,
            reconcile_ms: 500,
            memory_mb: None,
            component_copies: 3,
        }
    }
}

/// The API's TLS certificate chain and private key (PEM files).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiTls {
    /// The PEM certificate chain.
    pub cert: PathBuf,
    /// The PEM private key.
    pub key: PathBuf,
}

/// Inference: the device, batching and the models this node serves.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InferSettings {
    /// `cpu`, `cuda`, `cuda:N` or `auto` (the first working GPU, else the CPU).
    pub device: String,
    /// How long the batcher waits for more requests once callers are concurrent.
    pub batch_window_ms: u64,
    /// Texts (or tensor rows) per forward pass.
    pub max_batch: usize,
    /// A model nobody holds is unloaded after this many idle seconds.
    pub idle_unload_s: u64,
    /// Where the built-in models are (`scripts/fetch-models.sh` puts them there); default
    /// `$R1_MODELS_DIR`, else `~/.cache/r1/models`. `all-minilm-l6-v2` is served when present.
    pub models_dir: Option<PathBuf>,
    /// More models by name: `[infer.models.NAME] kind = "sentence-embedding" | "dense"`, and
    /// `dir = "/path"` or `weights` / `config` / `tokenizer` as paths or R1FS content ids.
    pub models: std::collections::BTreeMap<String, r1_infer::ModelSpec>,
}

impl Default for InferSettings {
    fn default() -> Self {
        Self {
            device: "cpu".into(),
            batch_window_ms: 2,
            max_batch: 64,
            idle_unload_s: 300,
            models_dir: None,
            models: Default::default(),
        }
    }
}

impl InferSettings {
    /// `models_dir` if set, else `$R1_MODELS_DIR`, else `~/.cache/r1/models`.
    pub fn models_dir(&self) -> Option<PathBuf> {
        self.models_dir
            .clone()
            .or_else(r1_infer::default_models_dir)
    }
}

/// The node's place in the mesh and its CSTORE faces.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MeshSettings {
    /// Where the mesh listens (`HOST:PORT` or a multiaddr).
    pub listen: Vec<String>,
    /// Peers to dial at start and whenever disconnected (`HOST:PORT` or a multiaddr).
    pub bootstrap: Vec<String>,
    /// Discover peers on the LAN with mDNS.
    pub mdns: bool,
    /// Genesis allowlist: hex ed25519 node keys admitted to the mesh (this node is always
    /// admitted). Empty: every peer is admitted (dev).
    pub allowlist: Vec<String>,
    /// Anti-entropy period in milliseconds.
    pub anti_entropy_ms: u64,
    /// Tombstones older than this many seconds are collected.
    pub tombstone_horizon_s: u64,
    /// When a CSTORE write is acknowledged: `sync` (on disk; the default), `relaxed` (written
    /// to the journal file, synced within 1 s) or `relaxed:MS` (synced within MS ms). What a
    /// crash can lose in each: `docs/cstore.md`.
    pub cstore_durability: String,
    /// Redis-protocol (RESP2/RESP3) listener for CSTORE; `None`: off.
    pub resp: Option<SocketAddr>,
    /// The CSTORE namespace RESP clients read and write.
    pub resp_namespace: String,
    /// Actor messages queued per peer before sends to it fail with mailbox-full (and
    /// publishes to it are dropped).
    pub actor_link_queue: usize,
    /// How long a message from another node waits for room in a full local mailbox, in
    /// milliseconds, before it is dropped.
    pub actor_deliver_wait_ms: u64,
    /// KiB of actor messages a peer may have in flight to this node that are not yet in a
    /// mailbox (and this node to each peer): the flow-control window.
    pub actor_window_kib: u64,
}

impl MeshSettings {
    /// The actor-messaging settings, in `r1-remote`'s terms.
    pub fn actors(&self) -> r1_remote::RemoteConfig {
        r1_remote::RemoteConfig {
            link_queue: self.actor_link_queue.max(1),
            deliver_wait: std::time::Duration::from_millis(self.actor_deliver_wait_ms),
            window: self.actor_window_kib.max(1) * 1024,
        }
    }
}

impl Default for MeshSettings {
    fn default() -> Self {
        Self {
            listen: vec!["127.0.0.1:7400".into()],
            bootstrap: Vec::new(),
            mdns: false,
            allowlist: Vec::new(),
            anti_entropy_ms: 1000,
            tombstone_horizon_s: 86_400,
            resp: Some(([127, 0, 0, 1], 6380).into()),
            resp_namespace: "resp".into(),
            cstore_durability: "sync".into(),
            actor_link_queue: r1_remote::RemoteConfig::default().link_queue,
            actor_deliver_wait_ms: r1_remote::RemoteConfig::default().deliver_wait.as_millis()
                as u64,
            actor_window_kib: r1_remote::RemoteConfig::default().window / 1024,
        }
    }
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            data_dir: default_data_dir(),
            api: DEFAULT_API
                .parse()
                .unwrap_or_else(|_| ([127, 0, 0, 1], 7411).into()),
            api_token_file: None,
            api_hosts: Vec::new(),
            api_cors_origins: Vec::new(),
            api_tls: None,
            http: Some(([127, 0, 0, 1], 7480).into()),
            dev: true,
            trust_file: None,
            mesh: MeshSettings::default(),
            runtime: RuntimeConfig::default(),
            infer: InferSettings::default(),
            deeploy: DeeploySettings::default(),
            oraclesync: OracleSyncSettings::default(),
        }
    }
}

impl NodeConfig {
    /// Reads the TOML file at `path` (unknown keys are errors); `None`: the defaults.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config {}", path.display()))
    }
}

/// `$R1_KEY`, else `$XDG_CONFIG_HOME/r1/publisher.key`, else `~/.config/r1/publisher.key`.
pub fn default_key_path() -> PathBuf {
    if let Some(path) = std::env::var_os("R1_KEY") {
        return path.into();
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    config.join("r1/publisher.key")
}

pub use r1_core::token_file::default_data_dir;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_partial_file_and_refuses_unknown_keys() {
        let cfg: NodeConfig = toml::from_str(
            "api = \"127.0.0.1:9000\"\n[runtime]\nworkers = 1\n[runtime.default_limits]\ndeadline = 250\n",
        )
        .unwrap();
        assert_eq!(cfg.api.port(), 9000);
        assert_eq!(cfg.runtime.workers, 1);
        assert_eq!(cfg.runtime.default_limits.deadline.as_millis(), 250);
        assert!(toml::from_str::<NodeConfig>("apii = 1").is_err());
    }
}
