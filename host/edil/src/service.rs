//! EDIL on a running node: jobs recorded in CSTORE, keys and updates carried by R1FS, the
//! node's ed25519 identity signing this node's updates.
//!
//! - A job (`edil` namespace, hash `jobs/<job>`): `public_key` = R1FS id of the public key,
//!   `participants` = hex node keys allowed to contribute, `owner` = the creating node's key.
//!   The record replicates to every node; the secret key stays on the owner, in
//!   `<data dir>/edil/<job>.key` (mode 0600).
//! - encrypt: fetch the public key (R1FS, cached), encrypt, sign with the node key, store the
//!   update in R1FS. aggregate: fetch the updates, admit them through an [`Aggregator`], store
//!   the aggregate. decrypt: only where the secret key is; anywhere else it is refused.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ed25519_dalek::SigningKey;
use r1_core::ServiceError;
use r1_core::contract::BoxFuture;
use r1_core::contract::blobs::BlobService;
use r1_core::contract::edil::EdilService;

use crate::keys::hex;
use crate::{Aggregate, Aggregator, ClientId, Params, PublicKey, SecretKey, SignedUpdate};

const NAMESPACE: &str = "edil";

/// A job as recorded in CSTORE.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobInfo {
    /// The job's name.
    pub job: String,
    /// R1FS id of the job's public key.
    pub public_key: String,
    /// Hex ed25519 node keys allowed to contribute updates.
    pub participants: Vec<String>,
    /// Hex ed25519 node key of the node that created the job (and holds its secret key).
    pub owner: String,
    /// Whether this node holds the secret key (can decrypt).
    pub key_here: bool,
}

/// EDIL on this node: jobs in CSTORE, keys, updates and aggregates in R1FS, this node's
/// updates signed with its node key. Implements [`EdilService`].
pub struct EdilNode {
    cstore: r1_cstore::Cstore,
    files: Arc<dyn BlobService>,
    node_key: SigningKey,
    keys_dir: PathBuf,
    public_keys: Mutex<HashMap<String, Arc<PublicKey>>>,
}

fn unavailable(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Unavailable(e.to_string())
}

fn parse_hex_key(text: &str) -> Option<ClientId> {
    let text = text.trim();
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl EdilNode {
    /// A service over `cstore` and `files` that signs with `node_key` and keeps the secret keys
    /// of the jobs it owns in `<data_dir>/edil`.
    pub fn new(
        cstore: r1_cstore::Cstore,
        files: Arc<dyn BlobService>,
        node_key: SigningKey,
        data_dir: &std::path::Path,
    ) -> Self {
        Self {
            cstore,
            files,
            node_key,
            keys_dir: data_dir.join("edil"),
            public_keys: Mutex::default(),
        }
    }

    fn key_path(&self, job: &str) -> PathBuf {
        self.keys_dir.join(format!("{job}.key"))
    }

    fn record(job: &str) -> String {
        format!("jobs/{job}")
    }

    /// Creates `job` owned by this node: a fresh key pair, the public key in R1FS, the record
    /// in CSTORE. Refuses to replace an existing job. Blocking (key generation, file and store
    /// writes): call it on a blocking thread of a tokio runtime, e.g. `spawn_blocking`.
    pub fn create_job(
        &self,
        job: &str,
        participants: &[String],
        params: Params,
    ) -> Result<JobInfo, ServiceError> {
        r1_core::check_name(r1_core::NameKind::Job, job)
            .map_err(|e| ServiceError::Invalid(e.to_string()))?;
        if participants.is_empty() {
            return Err(ServiceError::Invalid(
                "a job needs at least one participant".into(),
            ));
        }
        for p in participants {
            if parse_hex_key(p).is_none() {
                return Err(ServiceError::Invalid(format!(
                    "participant {p:?} is not a hex ed25519 node key (see `r1 node` status: node_id)"
                )));
            }
        }
        if self.job(job).is_ok() || self.key_path(job).exists() {
            return Err(ServiceError::Invalid(format!("job {job:?} already exists")));
        }
        let (secret, public) =
            SecretKey::generate(params).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        std::fs::create_dir_all(&self.keys_dir).map_err(unavailable)?;
        write_private(&self.key_path(job), &secret.to_bytes()).map_err(unavailable)?;
        // Called on a blocking thread (key generation is heavy): wait for the add here.
        let (cid, _) = tokio::runtime::Handle::current()
            .block_on(self.files.add(
                Box::new(std::io::Cursor::new(public.to_bytes())),
                Some(format!("{job}.edil-public-key")),
                false,
            ))
            .map_err(unavailable)?;
        let key = Self::record(job);
        let owner = hex(&self.node_key.verifying_key().to_bytes());
        for (field, value) in [
            ("public_key", cid.clone()),
            ("participants", participants.join(",")),
            ("owner", owner),
        ] {
            self.cstore
                .hset(NAMESPACE, &key, field, value.as_bytes())
                .map_err(unavailable)?;
        }
        tracing::info!(job, public_key = %cid, participants = participants.len(), "EDIL job created");
        self.job(job)
    }

    /// The job's record (replicated from its owner).
    pub fn job(&self, job: &str) -> Result<JobInfo, ServiceError> {
        let fields: HashMap<String, Vec<u8>> = self
            .cstore
            .hgetall(NAMESPACE, &Self::record(job))
            .map_err(unavailable)?
            .into_iter()
            .collect();
        let text = |f: &str| {
            fields
                .get(f)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .ok_or_else(|| ServiceError::NotFound(format!("job {job:?}")))
        };
        Ok(JobInfo {
            job: job.to_owned(),
            public_key: text("public_key")?,
            participants: text("participants")?
                .split(',')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
            owner: text("owner")?,
            key_here: self.key_path(job).is_file(),
        })
    }

    async fn read_file(&self, cid: &str) -> Result<Vec<u8>, ServiceError> {
        let stat = self.files.open(cid).await.map_err(|e| match e {
            ServiceError::NotFound(m) => ServiceError::NotFound(m),
            ServiceError::Invalid(m) => ServiceError::Invalid(m),
            other => unavailable(other),
        })?;
        let files = self.files.clone();
        let cid = cid.to_owned();
        tokio::task::spawn_blocking(move || files.read(&cid, 0, stat.size, None))
            .await
            .map_err(unavailable)?
            .map_err(unavailable)
    }

    async fn public_key(&self, job: &JobInfo) -> Result<Arc<PublicKey>, ServiceError> {
        if let Some(key) = self
            .public_keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&job.public_key)
        {
            return Ok(key.clone());
        }
        let bytes = self.read_file(&job.public_key).await?;
        let key =
            Arc::new(PublicKey::from_bytes(&bytes).map_err(|e| {
                ServiceError::Invalid(format!("job {}'s public key: {e}", job.job))
            })?);
        self.public_keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(job.public_key.clone(), key.clone());
        Ok(key)
    }

    async fn store(&self, bytes: Vec<u8>, name: String) -> Result<String, ServiceError> {
        self.files
            .add(Box::new(std::io::Cursor::new(bytes)), Some(name), false)
            .await
            .map(|(cid, _)| cid)
            .map_err(unavailable)
    }

    /// Decrypts an aggregate with this node's secret key for the job.
    pub async fn decrypt_aggregate(&self, job: &str, cid: &str) -> Result<Vec<f32>, ServiceError> {
        let info = self.job(job)?;
        let path = self.key_path(job);
        if !path.is_file() {
            return Err(ServiceError::Denied(format!(
                "this node holds no secret key for job {job:?} (its owner is {})",
                &info.owner[..16.min(info.owner.len())]
            )));
        }
        let secret = std::fs::read(&path).map_err(unavailable)?;
        let secret =
            SecretKey::from_bytes(&secret).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let aggregate = Aggregate::from_bytes(&self.read_file(cid).await?)
            .map_err(|e| ServiceError::Invalid(format!("{cid} is not an EDIL aggregate: {e}")))?;
        if aggregate.job != job {
            return Err(ServiceError::Invalid(format!(
                "{cid} aggregates job {:?}, not {job:?}",
                aggregate.job
            )));
        }
        let sum = tokio::task::spawn_blocking(move || secret.decrypt(&aggregate.ciphertext))
            .await
            .map_err(unavailable)?
            .map_err(|e| ServiceError::Refused(e.to_string()))?;
        Ok(sum.into_iter().map(|v| v as f32).collect())
    }
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("key.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

impl EdilService for EdilNode {
    fn encrypt<'a>(
        &'a self,
        job: &'a str,
        round: u64,
        values: Vec<f32>,
    ) -> BoxFuture<'a, Result<String, ServiceError>> {
        Box::pin(async move {
            let info = self.job(job)?;
            let public = self.public_key(&info).await?;
            let node_key = self.node_key.clone();
            let job_name = job.to_owned();
            let update = tokio::task::spawn_blocking(move || {
                public
                    .encrypt(&values)
                    .map(|ct| SignedUpdate::sign(&job_name, round, ct, &node_key).to_bytes())
            })
            .await
            .map_err(unavailable)?
            .map_err(|e| ServiceError::Invalid(e.to_string()))?;
            self.store(update, format!("{job}.round{round}.update"))
                .await
        })
    }

    fn aggregate<'a>(
        &'a self,
        job: &'a str,
        round: u64,
        updates: Vec<String>,
    ) -> BoxFuture<'a, Result<(String, u32), ServiceError>> {
        Box::pin(async move {
            let info = self.job(job)?;
            let public = self.public_key(&info).await?;
            let participants: Vec<ClientId> = info
                .participants
                .iter()
                .filter_map(|p| parse_hex_key(p))
                .collect();
            let mut aggregator = Aggregator::new(job, round, &public, participants);
            for cid in &updates {
                let bytes = self.read_file(cid).await?;
                aggregator
                    .add(&bytes)
                    .map_err(|e| ServiceError::Refused(format!("update {cid}: {e}")))?;
            }
            let aggregate = aggregator
                .finish()
                .map_err(|e| ServiceError::Invalid(e.to_string()))?;
            let clients = aggregate.clients.len() as u32;
            let cid = self
                .store(
                    aggregate.to_bytes(),
                    format!("{job}.round{round}.aggregate"),
                )
                .await?;
            Ok((cid, clients))
        })
    }

    fn decrypt<'a>(
        &'a self,
        job: &'a str,
        aggregate: &'a str,
    ) -> BoxFuture<'a, Result<Vec<f32>, ServiceError>> {
        Box::pin(self.decrypt_aggregate(job, aggregate))
    }
}
