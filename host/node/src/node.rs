//! A running node: CSTORE, the wasm runtime, remembered deployments and the HTTP API.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use r1_cstore::Cstore;
use r1_runtime::signing::keys::{self, PublicKey};
use r1_runtime::{ActorInfo, ActorSpec, Grants, Runtime, SpawnError, TrustPolicy};

use crate::config::NodeConfig;
use crate::deployments::{Deployment, Deployments};

/// Builds the trust policy: `dev` trusts the local publisher key (if any) and `extra` keys;
/// every mode trusts the keys in `trust_file`.
pub fn trust_policy(
    dev: bool,
    trust_file: Option<&Path>,
    extra: &[PublicKey],
) -> Result<TrustPolicy> {
    let mut policy = if dev {
        TrustPolicy::dev()
    } else {
        TrustPolicy::strict()
    };
    if let Some(path) = trust_file {
        for key in keys::read_trust_file(path)? {
            policy.trust(key);
        }
    }
    if dev {
        for key in extra {
            policy.trust(*key);
        }
        let local = crate::publish::default_key_path();
        if let Ok(key) = keys::read_any_public(&keys::pub_path(&local)) {
            policy.trust(key);
        }
    }
    Ok(policy)
}

/// Shared by every API worker.
pub struct Node {
    pub config: NodeConfig,
    /// The node's ed25519 identity (`<data dir>/node.key`, created at first start).
    pub identity: PublicKey,
    pub runtime: Runtime,
    pub cstore: Cstore,
    deployments: Deployments,
}

/// Opens the data dir's CSTORE, with a clear message when another process holds it.
pub fn open_cstore(data_dir: &Path) -> Result<Cstore> {
    let dir = data_dir.join("cstore");
    Cstore::open(&dir).with_context(|| {
        format!(
            "cannot open CSTORE at {} (is another r1 node using this data dir?)",
            dir.display()
        )
    })
}

impl Node {
    /// Opens the data dir and runtime and restarts every remembered deployment.
    /// Must run inside an actix system.
    pub async fn start(config: NodeConfig) -> Result<Arc<Self>> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
        let node_key = keys::load_or_create(&config.data_dir.join("node.key"))
            .context("cannot load the node identity")?;
        let identity = keys::public_key(&node_key);
        let policy = trust_policy(config.dev, config.trust_file.as_deref(), &[identity])?;
        let cstore = open_cstore(&config.data_dir)?;
        let runtime = Runtime::new(
            config.runtime.clone(),
            Some(config.data_dir.join("cache")),
            Some(cstore.clone()),
            policy,
        )?;
        let deployments = Deployments::open(&config.data_dir)?;
        let node = Arc::new(Self {
            config,
            identity,
            runtime,
            cstore,
            deployments,
        });
        for (deployment, wasm) in node.deployments.load_all()? {
            let name = deployment.name.clone();
            match node.spawn_deployment(&deployment, wasm).await {
                Ok(_) => tracing::info!(actor = %name, "restored deployment"),
                Err(err) => tracing::error!(actor = %name, "cannot restore deployment: {err:#}"),
            }
        }
        Ok(node)
    }

    async fn spawn_deployment(&self, d: &Deployment, wasm: Vec<u8>) -> Result<ActorInfo> {
        let grants = Grants::parse(&d.grants)?;
        Ok(self
            .runtime
            .spawn(ActorSpec {
                name: d.name.clone(),
                wasm,
                grants,
                config: d.config.clone(),
                limits: None,
            })
            .await?)
    }

    /// Starts an actor and remembers it, so it comes back after a node restart.
    pub async fn deploy(
        &self,
        name: String,
        wasm: Vec<u8>,
        grants: Grants,
        config: Vec<(String, String)>,
    ) -> Result<ActorInfo, DeployError> {
        let info = self
            .runtime
            .spawn(ActorSpec {
                name: name.clone(),
                wasm: wasm.clone(),
                grants: grants.clone(),
                config: config.clone(),
                limits: None,
            })
            .await?;
        let deployment = Deployment {
            name: name.clone(),
            component: info.component.clone(),
            grants: grants.to_strings(),
            config,
        };
        if let Err(err) = self.deployments.save(&deployment, &wasm) {
            // Not remembered means not acknowledged: undo the start.
            let _ = self.runtime.stop(&name).await;
            return Err(DeployError::Persist(format!("{err:#}")));
        }
        Ok(info)
    }

    pub async fn undeploy(&self, name: &str) -> Result<(), DeployError> {
        self.runtime.stop(name).await?;
        self.deployments
            .remove(name)
            .map_err(|e| DeployError::Persist(format!("{e:#}")))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    #[error(transparent)]
    Delivery(#[from] r1_runtime::DeliveryError),
    #[error("cannot record the deployment: {0}")]
    Persist(String),
}
