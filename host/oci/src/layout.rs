//! Writing OCI image layouts without a registry: one layer from a list of files, a config and
//! a manifest, with deterministic digests (entries sorted, owner root, times zero) so the same
//! inputs always give the same image id. Tests, benchmarks and `r1 oci pack` build their
//! images with it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::OciError;

/// What goes into an image.
#[derive(Debug, Clone, Default)]
pub struct ImageRecipe {
    /// Files: (path inside the image, bytes, mode).
    pub files: Vec<(String, Vec<u8>, u32)>,
    /// Symlinks: (path inside the image, target).
    pub links: Vec<(String, String)>,
    /// Empty directories to create (e.g. `tmp`, `data`).
    pub dirs: Vec<String>,
    /// Entrypoint and command.
    pub entrypoint: Vec<String>,
    /// `KEY=VALUE` environment.
    pub env: Vec<String>,
}

impl ImageRecipe {
    /// A busybox image: `bin/busybox` from `busybox` (a static binary), a link per applet
    /// name in `applets`, and the directories every container expects.
    pub fn busybox(busybox: &Path, applets: &[&str]) -> Result<Self, OciError> {
        let bytes =
            fs::read(busybox).map_err(|e| OciError::Io(format!("{}: {e}", busybox.display())))?;
        Ok(Self {
            files: vec![("bin/busybox".into(), bytes, 0o755)],
            links: applets
                .iter()
                .map(|a| (format!("bin/{a}"), "busybox".to_string()))
                .collect(),
            dirs: ["dev", "proc", "sys", "tmp", "etc", "data", "root"]
                .map(String::from)
                .to_vec(),
            entrypoint: vec!["/bin/sh".into()],
            env: vec!["PATH=/bin".into()],
        })
    }
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn io(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> OciError {
    move |e| OciError::Io(format!("{what}: {e}"))
}

/// Writes `recipe` as an OCI image layout into `dir` (created); returns the manifest digest.
pub fn write_layout(dir: &Path, recipe: &ImageRecipe) -> Result<String, OciError> {
    let blobs: PathBuf = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).map_err(io(blobs.display()))?;
    let put = |bytes: &[u8]| -> Result<String, OciError> {
        let digest = sha256(bytes);
        let path = blobs.join(&digest["sha256:".len()..]);
        fs::write(&path, bytes).map_err(io(path.display()))?;
        Ok(digest)
    };
    // The layer: a tar with every entry sorted, then gzip.
    let mut tar = tar::Builder::new(Vec::new());
    let mut entries: Vec<(String, u8)> = Vec::new();
    entries.extend(recipe.dirs.iter().map(|d| (d.clone(), 0)));
    entries.extend(recipe.files.iter().map(|f| (f.0.clone(), 1)));
    entries.extend(recipe.links.iter().map(|l| (l.0.clone(), 2)));
    // Parent directories of files and links, so the tar is complete on its own.
    let mut parents: Vec<String> = Vec::new();
    for (path, _) in &entries {
        let mut p = Path::new(path).parent();
        while let Some(parent) = p.filter(|p| !p.as_os_str().is_empty()) {
            parents.push(parent.to_string_lossy().into_owned());
            p = parent.parent();
        }
    }
    entries.extend(parents.into_iter().map(|p| (p, 0)));
    entries.sort();
    entries.dedup_by(|a, b| a.0 == b.0);
    for (path, kind) in &entries {
        let mut header = tar::Header::new_ustar();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        match kind {
            0 => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(if path == "tmp" { 0o1777 } else { 0o755 });
                header.set_size(0);
                tar.append_data(&mut header, format!("{path}/"), std::io::empty())
                    .map_err(io(path))?;
            }
            1 => {
                let (_, bytes, mode) = recipe
                    .files
                    .iter()
                    .find(|f| &f.0 == path)
                    .ok_or_else(|| OciError::Image(format!("{path}: lost file")))?;
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                header.set_size(bytes.len() as u64);
                tar.append_data(&mut header, path, bytes.as_slice())
                    .map_err(io(path))?;
            }
            _ => {
                let (_, target) = recipe
                    .links
                    .iter()
                    .find(|l| &l.0 == path)
                    .ok_or_else(|| OciError::Image(format!("{path}: lost link")))?;
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                tar.append_link(&mut header, path, target)
                    .map_err(io(path))?;
            }
        }
    }
    let layer_tar = tar.into_inner().map_err(io("layer"))?;
    let diff_id = sha256(&layer_tar);
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::fast());
    gz.write_all(&layer_tar).map_err(io("layer"))?;
    let layer = gz.finish().map_err(io("layer"))?;
    let layer_digest = put(&layer)?;
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let config = serde_json::json!({
        "architecture": arch,
        "os": "linux",
        "config": { "Entrypoint": recipe.entrypoint, "Env": recipe.env, "WorkingDir": "/" },
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
    });
    let config = serde_json::to_vec(&config).map_err(|e| OciError::Image(e.to_string()))?;
    let config_digest = put(&config)?;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": layer_digest,
            "size": layer.len(),
        }],
    });
    let manifest = serde_json::to_vec(&manifest).map_err(|e| OciError::Image(e.to_string()))?;
    let manifest_digest = put(&manifest)?;
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest.len(),
            "platform": { "architecture": arch, "os": "linux" },
        }],
    });
    let index = serde_json::to_vec(&index).map_err(|e| OciError::Image(e.to_string()))?;
    fs::write(dir.join("index.json"), index).map_err(io("index.json"))?;
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
        .map_err(io("oci-layout"))?;
    Ok(manifest_digest)
}
