//! Actors deployed on this node, remembered across restarts.
//!
//! Layout under the data dir: `components/<blake3>.wasm` (the exact bytes that were started)
//! and `deployments/<name>.json`. Both are written to a temporary file, synced and renamed,
//! so a crash leaves either the old record or the new one, never a torn file.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// What was deployed under one actor name: enough to start it again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deployment {
    /// The actor's name.
    pub name: String,
    /// BLAKE3 of the component bytes; the file is `components/<component>.wasm`.
    pub component: String,
    /// The actor's grants, as text.
    pub grants: Vec<String>,
    /// The actor's configuration, as key/value pairs.
    pub config: Vec<(String, String)>,
    /// WASI arguments after the program name.
    #[serde(default)]
    pub args: Vec<String>,
    /// WASI environment variables.
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// For an HTTP component: the path prefix it is served on.
    #[serde(default)]
    pub route: Option<String>,
    /// For a Deeploy replica: its app (`OWNER/NAME`); the reconciler owns it.
    #[serde(default)]
    pub deeploy: Option<String>,
    /// Its own restart policy, when it has one (else the runtime's).
    #[serde(default)]
    pub restart: Option<r1_runtime::RestartPolicy>,
}

/// The deployment records and component files under a data dir.
pub struct Deployments {
    components: PathBuf,
    records: PathBuf,
}

impl Deployments {
    /// Opens the deployment records under `data_dir`, creating their directories.
    pub fn open(data_dir: &Path) -> Result<Self> {
        let components = data_dir.join("components");
        let records = data_dir.join("deployments");
        for dir in [&components, &records] {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        Ok(Self {
            components,
            records,
        })
    }

    /// Records `deployment` durably, storing `wasm` first unless its file already exists.
    pub fn save(&self, deployment: &Deployment, wasm: &[u8]) -> Result<()> {
        let component = self
            .components
            .join(format!("{}.wasm", deployment.component));
        if !component.exists() {
            write_atomically(&component, wasm)?;
        }
        let record = serde_json::to_vec_pretty(deployment)?;
        write_atomically(&self.record_path(&deployment.name), &record)
    }

    /// Forgets the deployment `name` (absent already: fine); its component file is kept.
    pub fn remove(&self, name: &str) -> Result<()> {
        match std::fs::remove_file(self.record_path(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).context("cannot remove deployment record")
            }
            _ => Ok(()),
        }
    }

    /// Every saved deployment with its component bytes; unreadable records are reported and
    /// skipped so one bad file cannot keep the node from starting.
    pub fn load_all(&self) -> Result<Vec<(Deployment, Vec<u8>)>> {
        let mut out = Vec::new();
        let mut entries: Vec<_> = std::fs::read_dir(&self.records)?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        entries.sort();
        for path in entries {
            match self.load_one(&path) {
                Ok(d) => out.push(d),
                Err(err) => tracing::error!(path = %path.display(), "skipping deployment: {err:#}"),
            }
        }
        Ok(out)
    }

    fn load_one(&self, path: &Path) -> Result<(Deployment, Vec<u8>)> {
        let deployment: Deployment = serde_json::from_slice(&std::fs::read(path)?)?;
        let wasm_path = self
            .components
            .join(format!("{}.wasm", deployment.component));
        let wasm = std::fs::read(&wasm_path)
            .with_context(|| format!("missing component {}", wasm_path.display()))?;
        let actual = blake3::hash(&wasm).to_hex();
        anyhow::ensure!(
            actual.as_str() == deployment.component,
            "component {} does not match its hash",
            wasm_path.display()
        );
        Ok((deployment, wasm))
    }

    fn record_path(&self, name: &str) -> PathBuf {
        self.records.join(format!("{name}.json"))
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
