//! The node's models: a name → spec table, and the loaded copies.
//!
//! - One copy: `load` of a model already in memory returns the same [`Model`]; concurrent
//!   first loads are serialised, so a model is never read twice at once.
//! - Unloading: a model nobody holds (no actor handle, no request in flight) and unused for
//!   the idle time is dropped by [`Registry::unload_idle`], which stops its worker and frees
//!   its weights.
//! - Files come from local paths or, by content id, from R1FS (the node's file service).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use candle_core::{Device, Tensor};
use r1_core::contract::BoxFuture;
use r1_core::contract::blobs::BlobService;
use r1_core::contract::infer::{InferService, ModelHandle};

use crate::batcher::{BatchConfig, BatchStats, Batcher};
use crate::dense::{DenseConfig, Mlp};
use crate::device::{DeviceChoice, DeviceError};
use crate::embedder::{SentenceEmbedder, TextEncoder};
use crate::spec::{FileRef, ModelSpec, SpecKind};
use crate::{LoadError, ModelInfo, ModelKind, TensorData};
use r1_core::ServiceError;

/// Most rows one `run` request may carry.
pub const MAX_ROWS: usize = 1 << 16;

/// A loaded model, shared by every caller.
pub struct Model {
    info: ModelInfo,
    engine: Engine,
}

enum Engine {
    Text {
        // Boxed: a tokenizer is large and models live behind an Arc anyway.
        encoder: Box<TextEncoder>,
        batcher: Batcher<Vec<u32>>,
    },
    Dense {
        batcher: Batcher<Vec<f32>>,
    },
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl Model {
    /// Name, kind, dimensions and device of the model.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Counters of the model's batching worker.
    pub fn batch_stats(&self) -> &BatchStats {
        match &self.engine {
            Engine::Text { batcher, .. } => batcher.stats(),
            Engine::Dense { batcher } => batcher.stats(),
        }
    }

    /// One embedding per text, in order.
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ServiceError> {
        match &self.engine {
            Engine::Text { encoder, batcher } => batcher.submit(encoder.encode(texts)?).await,
            Engine::Dense { .. } => Err(ServiceError::Invalid(format!(
                "{} is a dense model: use run, not embed",
                self.info.name
            ))),
        }
    }

    /// A [rows, inputs] tensor through the network: [rows, outputs].
    pub async fn run(&self, input: TensorData) -> Result<TensorData, ServiceError> {
        let Engine::Dense { batcher } = &self.engine else {
            return Err(ServiceError::Invalid(format!(
                "{} is a text model: use embed, not run",
                self.info.name
            )));
        };
        let inputs = self.info.max_input;
        let rows = match input.shape.as_slice() {
            [rows, cols] if *cols == inputs && (1..=MAX_ROWS).contains(rows) => *rows,
            shape => {
                return Err(ServiceError::Invalid(format!(
                    "{} takes a [rows, {inputs}] tensor with 1..={MAX_ROWS} rows, got {shape:?}",
                    self.info.name
                )));
            }
        };
        if input.data.len() != rows * inputs {
            return Err(ServiceError::Invalid(format!(
                "shape {:?} needs {} values, got {}",
                input.shape,
                rows * inputs,
                input.data.len()
            )));
        }
        let rows_in: Vec<Vec<f32>> = input.data.chunks(inputs).map(<[f32]>::to_vec).collect();
        let out = batcher.submit(rows_in).await?;
        Ok(TensorData {
            shape: vec![rows, self.info.dimension],
            data: out.into_iter().flatten().collect(),
        })
    }
}

/// A model the node can serve, and whether it is in memory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ModelListing {
    /// The registered name.
    pub name: String,
    /// What kind of model the spec describes.
    pub kind: SpecKind,
    /// Where its files come from (see [`ModelSpec::source`]).
    pub source: String,
    /// Whether a copy is in memory.
    pub loaded: bool,
    /// Holders of the loaded copy besides the registry (actor handles, requests in flight).
    pub users: usize,
}

struct Loaded {
    model: Arc<Model>,
    last_used: Instant,
}

/// The node's servable models and their loaded copies, on one device.
pub struct Registry {
    specs: RwLock<BTreeMap<String, ModelSpec>>,
    loaded: Mutex<HashMap<String, Loaded>>,
    loading: tokio::sync::Mutex<()>,
    device: Device,
    batch: BatchConfig,
    files: OnceLock<Arc<dyn BlobService>>,
    loads: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Registry {
    /// A registry on the chosen (probed) device.
    pub fn new(device: DeviceChoice, batch: BatchConfig) -> Result<Self, DeviceError> {
        Ok(Self::on_device(crate::device::open(device)?, batch))
    }

    /// A registry on an already opened device (not probed).
    pub fn on_device(device: Device, batch: BatchConfig) -> Self {
        Self {
            specs: RwLock::default(),
            loaded: Mutex::default(),
            loading: tokio::sync::Mutex::new(()),
            device,
            batch,
            files: OnceLock::new(),
            loads: AtomicU64::new(0),
        }
    }

    /// The registry's device: "cpu" or "cuda:N".
    pub fn device_name(&self) -> String {
        crate::device::describe(&self.device)
    }

    /// Makes `name` servable (replacing an earlier spec; a loaded copy stays until unloaded).
    pub fn register(&self, name: &str, spec: ModelSpec) -> Result<(), ServiceError> {
        r1_core::check_name(r1_core::NameKind::Model, name)
            .map_err(|e| ServiceError::Invalid(e.to_string()))?;
        self.specs
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), spec);
        Ok(())
    }

    /// Where content ids in specs are fetched from (once; later calls are ignored).
    pub fn set_file_service(&self, files: Arc<dyn BlobService>) {
        let _ = self.files.set(files);
    }

    /// Every registered model, by name, and whether it is loaded.
    pub fn models(&self) -> Vec<ModelListing> {
        let loaded = lock(&self.loaded);
        self.specs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(name, spec)| {
                let copy = loaded.get(name);
                ModelListing {
                    name: name.clone(),
                    kind: spec.kind,
                    source: spec.source(),
                    loaded: copy.is_some(),
                    users: copy.map_or(0, |l| Arc::strong_count(&l.model) - 1),
                }
            })
            .collect()
    }

    /// How many times a model was read into memory (each load after an unload counts).
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }

    fn cached(&self, name: &str) -> Option<Arc<Model>> {
        let mut loaded = lock(&self.loaded);
        let entry = loaded.get_mut(name)?;
        entry.last_used = Instant::now();
        Some(entry.model.clone())
    }

    /// The model called `name`, loading it on first use.
    pub async fn load(&self, name: &str) -> Result<Arc<Model>, ServiceError> {
        if let Some(model) = self.cached(name) {
            return Ok(model);
        }
        let spec = self
            .specs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned();
        let Some(spec) = spec else {
            let known: Vec<String> = self.models().into_iter().map(|m| m.name).collect();
            return Err(ServiceError::NotFound(format!(
                "{name} (this node serves: {})",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            )));
        };
        let _one_at_a_time = self.loading.lock().await;
        if let Some(model) = self.cached(name) {
            return Ok(model);
        }
        let started = Instant::now();
        let model = Arc::new(self.read_model(name, &spec).await?);
        tracing::info!(model = name, device = %self.device_name(), ms = started.elapsed().as_millis() as u64, "model loaded");
        self.loads.fetch_add(1, Ordering::Relaxed);
        lock(&self.loaded).insert(
            name.to_owned(),
            Loaded {
                model: model.clone(),
                last_used: Instant::now(),
            },
        );
        Ok(model)
    }

    /// Drops every loaded model that nobody holds and that was last opened `idle` ago or
    /// longer; returns their names.
    pub fn unload_idle(&self, idle: Duration) -> Vec<String> {
        let mut loaded = lock(&self.loaded);
        let idle_names: Vec<String> = loaded
            .iter()
            .filter(|(_, l)| Arc::strong_count(&l.model) == 1 && l.last_used.elapsed() >= idle)
            .map(|(name, _)| name.clone())
            .collect();
        for name in &idle_names {
            loaded.remove(name);
            tracing::info!(model = %name, "model unloaded (idle)");
        }
        idle_names
    }

    async fn read_file(&self, model: &str, file: &FileRef) -> Result<Vec<u8>, LoadError> {
        match file {
            FileRef::Path(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || std::fs::read(&path))
                    .await
                    .map_err(|e| LoadError::Spec {
                        model: model.to_owned(),
                        what: format!("reading task failed: {e}"),
                    })?
                    .map_err(|source| LoadError::Read {
                        model: model.to_owned(),
                        file: file.to_string(),
                        source,
                    })
            }
            FileRef::Cid(cid) => {
                let fail = |reason: String| LoadError::Fetch {
                    model: model.to_owned(),
                    cid: cid.clone(),
                    reason,
                };
                let files = self
                    .files
                    .get()
                    .ok_or_else(|| fail("this node runs no R1FS".into()))?
                    .clone();
                let stat = files.open(cid).await.map_err(|e| fail(e.to_string()))?;
                let cid = cid.clone();
                tokio::task::spawn_blocking(move || files.read(&cid, 0, stat.size, None))
                    .await
                    .map_err(|e| fail(e.to_string()))?
                    .map_err(|e| fail(e.to_string()))
            }
        }
    }

    async fn read_model(&self, name: &str, spec: &ModelSpec) -> Result<Model, LoadError> {
        let weights = self.read_file(name, &spec.locate(name, "weights")?).await?;
        let config_file = spec.locate(name, "config")?;
        let config = self.read_file(name, &config_file).await?;
        let parse = |file: &FileRef, reason: String| LoadError::Parse {
            model: name.to_owned(),
            file: file.to_string(),
            reason,
        };
        let device = self.device.clone();
        let device_name = self.device_name();
        let candle = |source| LoadError::Candle {
            model: name.to_owned(),
            source,
        };
        let no_worker = |e: std::io::Error| LoadError::Spec {
            model: name.to_owned(),
            what: format!("cannot start its worker: {e}"),
        };
        match spec.kind {
            SpecKind::SentenceEmbedding => {
                let tokenizer_file = spec.locate(name, "tokenizer")?;
                let tokenizer = self.read_file(name, &tokenizer_file).await?;
                let tokenizer = tokenizers::Tokenizer::from_bytes(&tokenizer)
                    .map_err(|e| parse(&tokenizer_file, e.to_string()))?;
                let bert: candle_transformers::models::bert::Config =
                    serde_json::from_slice(&config)
                        .map_err(|e| parse(&config_file, e.to_string()))?;
                check_pooling(name, spec)?;
                let max_tokens = spec
                    .max_tokens
                    .or_else(|| st_max_seq_length(spec))
                    .unwrap_or(bert.max_position_embeddings)
                    .min(bert.max_position_embeddings);
                let normalize = spec.normalize.unwrap_or_else(|| st_normalizes(spec));
                let pad_id = tokenizer.token_to_id("[PAD]").unwrap_or(0);
                let encoder = TextEncoder::new(name, tokenizer, max_tokens)
                    .map_err(|e| parse(&tokenizer_file, e))?;
                let embedder = tokio::task::spawn_blocking(move || {
                    SentenceEmbedder::load(weights, &bert, &device, normalize, pad_id)
                })
                .await
                .map_err(|e| LoadError::Spec {
                    model: name.to_owned(),
                    what: format!("loading task failed: {e}"),
                })?
                .map_err(candle)?;
                let info = ModelInfo {
                    name: name.to_owned(),
                    kind: ModelKind::SentenceEmbedding,
                    dimension: embedder.dimension(),
                    max_input: encoder.max_tokens(),
                    device: device_name,
                };
                let batcher = Batcher::spawn(name, self.batch, move |rows: Vec<Vec<u32>>| {
                    embedder.embed(&rows).map_err(|e| e.to_string())
                })
                .map_err(no_worker)?;
                Ok(Model {
                    info,
                    engine: Engine::Text {
                        encoder: Box::new(encoder),
                        batcher,
                    },
                })
            }
            SpecKind::Dense => {
                let dense: DenseConfig = serde_json::from_slice(&config)
                    .map_err(|e| parse(&config_file, e.to_string()))?;
                dense.validate().map_err(|e| parse(&config_file, e))?;
                let vb = candle_nn::VarBuilder::from_buffered_safetensors(
                    weights,
                    candle_core::DType::F32,
                    &device,
                )
                .map_err(candle)?;
                let mlp = Mlp::new(vb, &dense).map_err(candle)?;
                let info = ModelInfo {
                    name: name.to_owned(),
                    kind: ModelKind::Dense,
                    dimension: dense.outputs(),
                    max_input: dense.inputs(),
                    device: device_name,
                };
                let inputs = dense.inputs();
                let batcher = Batcher::spawn(name, self.batch, move |rows: Vec<Vec<f32>>| {
                    dense_pass(&mlp, &device, rows, inputs).map_err(|e| e.to_string())
                })
                .map_err(no_worker)?;
                Ok(Model {
                    info,
                    engine: Engine::Dense { batcher },
                })
            }
        }
    }
}

fn dense_pass(
    mlp: &Mlp,
    device: &Device,
    rows: Vec<Vec<f32>>,
    inputs: usize,
) -> candle_core::Result<Vec<Vec<f32>>> {
    use candle_core::Module;
    let n = rows.len();
    let flat: Vec<f32> = rows.into_iter().flatten().collect();
    let x = Tensor::from_vec(flat, (n, inputs), device)?;
    mlp.forward(&x)?.to_vec2::<f32>()
}

fn read_json(path: &std::path::Path) -> Option<serde_json::Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// sentence-transformers' own limit (`sentence_bert_config.json`).
fn st_max_seq_length(spec: &ModelSpec) -> Option<usize> {
    let config = read_json(&spec.extra("sentence_bert_config.json")?)?;
    usize::try_from(config.get("max_seq_length")?.as_u64()?).ok()
}

/// Whether the sentence-transformers pipeline (`modules.json`) ends in a Normalize module;
/// without the file, embeddings are normalised.
fn st_normalizes(spec: &ModelSpec) -> bool {
    let Some(modules) = spec.extra("modules.json").and_then(|p| read_json(&p)) else {
        return true;
    };
    modules.as_array().is_some_and(|list| {
        list.iter().any(|m| {
            m.get("type")
                .and_then(|t| t.as_str())
                .is_some_and(|t| t.ends_with("Normalize"))
        })
    })
}

/// Only mean pooling is implemented; a model that says otherwise is refused, not mis-served.
fn check_pooling(name: &str, spec: &ModelSpec) -> Result<(), LoadError> {
    let Some(config) = spec
        .extra("1_Pooling/config.json")
        .and_then(|p| read_json(&p))
    else {
        return Ok(());
    };
    let mean = config
        .get("pooling_mode_mean_tokens")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    if mean {
        Ok(())
    } else {
        Err(LoadError::Spec {
            model: name.to_owned(),
            what: "only mean pooling is supported (1_Pooling/config.json asks for another)".into(),
        })
    }
}

impl ModelHandle for Model {
    fn info(&self) -> ModelInfo {
        self.info.clone()
    }

    fn embed(&self, texts: Vec<String>) -> BoxFuture<'_, Result<Vec<Vec<f32>>, ServiceError>> {
        Box::pin(async move { Model::embed(self, &texts).await })
    }

    fn run(&self, input: TensorData) -> BoxFuture<'_, Result<TensorData, ServiceError>> {
        Box::pin(Model::run(self, input))
    }
}

impl InferService for Registry {
    fn load<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Arc<dyn ModelHandle>, ServiceError>> {
        Box::pin(async move {
            let model: Arc<dyn ModelHandle> = Registry::load(self, name).await?;
            Ok(model)
        })
    }
}
