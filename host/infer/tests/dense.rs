//! A dense model from safetensors, served through the registry (local path and R1FS id).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use candle_core::{Device, Tensor};
use r1_core::ServiceError;
use r1_core::contract::BoxFuture;
use r1_core::contract::blobs::{BlobKey, BlobService, BlobStat};
use r1_infer::{BatchConfig, DeviceChoice, ModelSpec, Registry, SpecKind, TensorData};

/// Writes a 3 → 2 → 1 relu network whose output is easy to compute by hand.
fn write_model(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let dev = Device::Cpu;
    let tensors = HashMap::from([
        (
            "layers.0.weight".to_string(),
            Tensor::new(&[[1f32, 0.0, 0.0], [0.0, 1.0, -1.0]], &dev).expect("w0"),
        ),
        (
            "layers.0.bias".to_string(),
            Tensor::new(&[0f32, 0.0], &dev).expect("b0"),
        ),
        (
            "layers.1.weight".to_string(),
            Tensor::new(&[[1f32, 10.0]], &dev).expect("w1"),
        ),
        (
            "layers.1.bias".to_string(),
            Tensor::new(&[0.5f32], &dev).expect("b1"),
        ),
    ]);
    let weights = dir.join("model.safetensors");
    candle_core::safetensors::save(&tensors, &weights).expect("save");
    let config = dir.join("config.json");
    std::fs::write(&config, r#"{"sizes": [3, 2, 1], "activation": "relu"}"#).expect("config");
    (weights, config)
}

#[tokio::test]
async fn dense_models_run_rows_and_refuse_bad_shapes() {
    let dir = tempfile::tempdir().expect("dir");
    write_model(dir.path());
    let registry = Registry::new(DeviceChoice::Cpu, BatchConfig::default()).expect("cpu");
    registry
        .register("mlp", ModelSpec::from_dir(SpecKind::Dense, dir.path()))
        .expect("register");
    let model = registry.load("mlp").await.expect("load");
    assert_eq!((model.info().max_input, model.info().dimension), (3, 1));
    let out = model
        .run(TensorData {
            shape: vec![2, 3],
            data: vec![1.0, 2.0, 1.0, 2.0, 0.0, 5.0],
        })
        .await
        .expect("run");
    // Row 1: h = relu([1, 1]) → 1 + 10 + 0.5. Row 2: h = relu([2, -5]) = [2, 0] → 2.5.
    assert_eq!(out.shape, vec![2, 1]);
    assert_eq!(out.data, vec![11.5, 2.5]);
    for (shape, data) in [
        (vec![2, 4], vec![0.0; 8]),
        (vec![6], vec![0.0; 6]),
        (vec![0, 3], vec![]),
        (vec![2, 3], vec![0.0; 5]),
    ] {
        let err = model
            .run(TensorData {
                shape: shape.clone(),
                data,
            })
            .await
            .expect_err("bad shape");
        assert!(matches!(err, ServiceError::Invalid(_)), "{shape:?}: {err}");
    }
    let err = model.embed(&["text".into()]).await.expect_err("dense");
    assert!(err.to_string().contains("use run"), "{err}");
}

/// R1FS as the registry sees it: content id → bytes.
#[derive(Default)]
struct Files(Mutex<HashMap<String, Vec<u8>>>);

impl BlobService for Files {
    fn add(
        &self,
        _: Box<dyn std::io::Read + Send>,
        _: Option<String>,
        _: bool,
    ) -> BoxFuture<'_, Result<(String, Option<BlobKey>), ServiceError>> {
        Box::pin(async { Err(ServiceError::Invalid("read-only".into())) })
    }
    fn open<'a>(&'a self, cid: &'a str) -> BoxFuture<'a, Result<BlobStat, ServiceError>> {
        Box::pin(async move { self.stat(cid) })
    }
    fn read(
        &self,
        cid: &str,
        offset: u64,
        len: u64,
        _: Option<&BlobKey>,
    ) -> Result<Vec<u8>, ServiceError> {
        let files = self.0.lock().expect("files");
        let bytes = files
            .get(cid)
            .ok_or_else(|| ServiceError::NotFound(cid.into()))?;
        Ok(bytes[offset as usize..(offset + len) as usize].to_vec())
    }
    fn stat(&self, cid: &str) -> Result<BlobStat, ServiceError> {
        let files = self.0.lock().expect("files");
        let bytes = files
            .get(cid)
            .ok_or_else(|| ServiceError::NotFound(cid.into()))?;
        Ok(BlobStat {
            cid: cid.into(),
            size: bytes.len() as u64,
            name: None,
            encrypted: false,
        })
    }
    fn pin<'a>(&'a self, _: &'a str, _: u32) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async { Ok(()) })
    }
    fn unpin(&self, _: &str) -> Result<(), ServiceError> {
        Ok(())
    }
}

#[tokio::test]
async fn models_load_from_r1fs_content_ids() {
    let dir = tempfile::tempdir().expect("dir");
    let (weights, config) = write_model(dir.path());
    let files = Arc::new(Files::default());
    let weights_cid = "bafkr4iweightsweightsweightsweightsweightsweightsweightsw";
    let config_cid = "bafkr4iconfigconfigconfigconfigconfigconfigconfigconfigco";
    files.0.lock().expect("files").extend([
        (weights_cid.to_string(), std::fs::read(weights).expect("w")),
        (config_cid.to_string(), std::fs::read(config).expect("c")),
    ]);
    let registry = Registry::new(DeviceChoice::Cpu, BatchConfig::default()).expect("cpu");
    let spec = ModelSpec {
        weights: Some(weights_cid.into()),
        config: Some(config_cid.into()),
        ..ModelSpec::from_dir(SpecKind::Dense, "/nonexistent")
    };
    registry
        .register("from-r1fs", spec.clone())
        .expect("register");
    // Without a file service the content ids cannot be resolved, and the error says so.
    let err = registry.load("from-r1fs").await.expect_err("no r1fs");
    assert!(err.to_string().contains("runs no R1FS"), "{err}");
    registry.set_file_service(files);
    let model = registry.load("from-r1fs").await.expect("load");
    let out = model
        .run(TensorData {
            shape: vec![1, 3],
            data: vec![1.0, 2.0, 1.0],
        })
        .await
        .expect("run");
    assert_eq!(out.data, vec![11.5]);
    // A missing file is a clear error naming the model and the id.
    registry
        .register(
            "missing",
            ModelSpec {
                weights: Some("bafkr4imissingmissingmissingmissingmissingmissingmissing".into()),
                ..spec
            },
        )
        .expect("register");
    let err = registry.load("missing").await.expect_err("missing");
    let text = err.to_string();
    assert!(
        text.contains("model missing") && text.contains("bafkr4imissing"),
        "{text}"
    );
}
