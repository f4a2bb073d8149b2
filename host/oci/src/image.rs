//! Images: OCI image layouts imported into the node's image store, every blob checked against
//! its digest, and unpacked once into a read-only root filesystem per manifest.
//!
//! Layout of the store (`ROOT` is the node's `oci/` directory):
//! ```text
//! ROOT/blobs/sha256/HEX      every blob of every imported image, verified
//! ROOT/images/HEX            one file per imported manifest (its digest is the image's id)
//! ROOT/rootfs/HEX/           the unpacked root filesystem of manifest HEX (read-only use)
//! ROOT/signatures/HEX        the publisher's detached signature of image HEX, when it came
//!                            with one (`r1-signature` at the top of its layout)
//! ```
//!
//! Invariants:
//! - **Nothing unverified is kept**: a blob is written to a temporary file while its sha256 is
//!   computed, and renamed into `blobs/` only when digest and size match the descriptor.
//! - **A root filesystem is complete or absent**: layers are applied in order (whiteouts
//!   included) into `rootfs/HEX.partial-PID`, which is renamed to `rootfs/HEX` at the end; a
//!   crash leaves only a partial directory, removed by the next unpack.
//! - **Layers stay inside the root**: entries are unpacked with `tar`'s path checks (no `..`,
//!   no absolute paths, no writing through a symlink out of the root); device nodes and
//!   entries of unknown types are skipped.
//! - No registry is contacted: an image arrives as a layout directory (or a tar of one).

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use oci_spec::image::{
    Descriptor, DigestAlgorithm, ImageConfiguration, ImageIndex, ImageManifest, MediaType,
};
use sha2::{Digest as _, Sha256};

use crate::OciError;

/// An imported image: its manifest digest (`sha256:HEX`, the image's identity, what a publisher
/// signs) and what its config says to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// `sha256:HEX` of the manifest.
    pub digest: String,
    /// Entrypoint followed by Cmd, from the image config.
    pub args: Vec<String>,
    /// `KEY=VALUE` environment from the image config.
    pub env: Vec<String>,
    /// The working directory (default `/`).
    pub cwd: String,
}

/// The node's image store.
#[derive(Debug, Clone)]
pub struct ImageStore {
    root: PathBuf,
}

/// The hex part of a `sha256:HEX` digest, refused when it is not one.
pub fn sha256_hex(digest: &str) -> Result<&str, OciError> {
    let hex = digest
        .strip_prefix("sha256:")
        .ok_or_else(|| OciError::Image(format!("{digest}: only sha256 digests are accepted")))?;
    if hex.len() != 64
        || !hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return Err(OciError::Image(format!("{digest}: not a sha256 digest")));
    }
    Ok(hex)
}

fn io(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> OciError {
    move |e| OciError::Io(format!("{what}: {e}"))
}

impl ImageStore {
    /// The store under `root` (created when missing).
    pub fn open(root: &Path) -> Result<Self, OciError> {
        for dir in ["blobs/sha256", "images", "rootfs", "signatures", "tmp"] {
            fs::create_dir_all(root.join(dir)).map_err(io(root.join(dir).display()))?;
        }
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    fn blob_path(&self, digest: &str) -> Result<PathBuf, OciError> {
        Ok(self.root.join("blobs/sha256").join(sha256_hex(digest)?))
    }

    /// Imports the single image of the OCI layout at `dir` (a directory with `oci-layout`,
    /// `index.json` and `blobs/sha256/…`), or the image for this machine's architecture when
    /// the index names several. Every blob is checked against its digest and size.
    pub fn import_layout(&self, dir: &Path) -> Result<Image, OciError> {
        let layout: serde_json::Value = read_json(&dir.join("oci-layout"))?;
        if layout.get("imageLayoutVersion").and_then(|v| v.as_str()) != Some("1.0.0") {
            return Err(OciError::Image(format!(
                "{}: not an OCI image layout 1.0.0 (oci-layout)",
                dir.display()
            )));
        }
        let index = ImageIndex::from_file(dir.join("index.json"))
            .map_err(|e| OciError::Image(format!("index.json: {e}")))?;
        let manifest_desc = pick_manifest(index.manifests())?;
        let source = |d: &Descriptor| -> Result<PathBuf, OciError> {
            let digest = d.digest().to_string();
            Ok(dir.join("blobs/sha256").join(sha256_hex(&digest)?))
        };
        let manifest_bytes = self.import_blob(&source(&manifest_desc)?, &manifest_desc)?;
        let manifest = ImageManifest::from_reader(manifest_bytes.as_slice())
            .map_err(|e| OciError::Image(format!("manifest: {e}")))?;
        let config_bytes = self.import_blob(&source(manifest.config())?, manifest.config())?;
        for layer in manifest.layers() {
            layer_compression(layer.media_type())?;
            self.import_blob(&source(layer)?, layer)?;
        }
        let digest = manifest_desc.digest().to_string();
        let hex = sha256_hex(&digest)?;
        match fs::read(dir.join(SIGNATURE_FILE)) {
            Ok(signature) => fs::write(self.root.join("signatures").join(hex), signature)
                .map_err(io("recording the signature"))?,
            Err(_) => {
                let _ = fs::remove_file(self.root.join("signatures").join(hex));
            }
        }
        fs::write(self.root.join("images").join(hex), &manifest_bytes)
            .map_err(io("recording the image"))?;
        image_of(&digest, &config_bytes)
    }

    /// [`ImageStore::import_layout`] from a tar of a layout (what `r1 oci import` uploads and
    /// R1FS keeps): unpacked into a private temporary directory first, with the same
    /// containment checks as layers.
    pub fn import_tar(&self, tar: impl Read) -> Result<Image, OciError> {
        let tmp = self.root.join("tmp").join(format!(
            "import-{}-{}",
            std::process::id(),
            IMPORTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).map_err(io(tmp.display()))?;
        let result = apply_layer(&tmp, tar)
            .map_err(|e| OciError::Image(format!("layout tar: {e}")))
            .and_then(|()| self.import_layout(&tmp));
        let _ = fs::remove_dir_all(&tmp);
        result
    }

    /// The publisher's detached signature of image `digest`, if it came with one.
    pub fn signature(&self, digest: &str) -> Result<Option<Vec<u8>>, OciError> {
        let path = self.root.join("signatures").join(sha256_hex(digest)?);
        Ok(fs::read(path).ok())
    }

    /// Copies one blob in, verifying digest and size; returns its bytes when it is small
    /// enough to parse (manifests and configs), an empty vector for layers.
    fn import_blob(&self, from: &Path, desc: &Descriptor) -> Result<Vec<u8>, OciError> {
        let digest = desc.digest();
        if *digest.algorithm() != DigestAlgorithm::Sha256 {
            return Err(OciError::Image(format!(
                "{digest}: only sha256 digests are accepted"
            )));
        }
        let digest = digest.to_string();
        let to = self.blob_path(&digest)?;
        let keep = !matches!(
            desc.media_type(),
            MediaType::ImageLayer | MediaType::ImageLayerGzip
        );
        if to.exists() {
            // Already verified when it was imported.
            return if keep {
                fs::read(&to).map_err(io(to.display()))
            } else {
                Ok(Vec::new())
            };
        }
        let mut input = fs::File::open(from).map_err(io(from.display()))?;
        let partial = to.with_extension(format!("partial-{}", std::process::id()));
        let mut out = fs::File::create(&partial).map_err(io(partial.display()))?;
        let mut hasher = Sha256::new();
        let mut kept = Vec::new();
        let mut size: u64 = 0;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = input.read(&mut buf).map_err(io(from.display()))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(io(partial.display()))?;
            if keep {
                kept.extend_from_slice(&buf[..n]);
            }
            size += n as u64;
        }
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if actual != digest || size != desc.size() {
            let _ = fs::remove_file(&partial);
            return Err(OciError::Image(format!(
                "blob {digest} does not match its descriptor (read {size} bytes hashing to {actual}; expected {} bytes)",
                desc.size()
            )));
        }
        out.sync_all().map_err(io(partial.display()))?;
        fs::rename(&partial, &to).map_err(io(to.display()))?;
        Ok(kept)
    }

    /// The images imported, by manifest digest.
    pub fn list(&self) -> Result<Vec<String>, OciError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(self.root.join("images")).map_err(io("images"))? {
            let name = entry.map_err(io("images"))?.file_name();
            if let Some(name) = name.to_str()
                && sha256_hex(&format!("sha256:{name}")).is_ok()
            {
                out.push(format!("sha256:{name}"));
            }
        }
        out.sort();
        Ok(out)
    }

    /// The imported image `digest`, refused when it was never imported.
    pub fn image(&self, digest: &str) -> Result<Image, OciError> {
        let manifest = self.manifest(digest)?;
        let config_path = self.blob_path(manifest.config().digest().as_ref())?;
        let config = fs::read(&config_path).map_err(io(config_path.display()))?;
        image_of(digest, &config)
    }

    fn manifest(&self, digest: &str) -> Result<ImageManifest, OciError> {
        let path = self.root.join("images").join(sha256_hex(digest)?);
        let bytes = fs::read(&path)
            .map_err(|_| OciError::Image(format!("image {digest} is not imported")))?;
        ImageManifest::from_reader(bytes.as_slice())
            .map_err(|e| OciError::Image(format!("manifest {digest}: {e}")))
    }

    /// The root filesystem of image `digest`, unpacked on first use (see the module docs).
    pub fn rootfs(&self, digest: &str) -> Result<PathBuf, OciError> {
        let hex = sha256_hex(digest)?;
        let done = self.root.join("rootfs").join(hex);
        if done.is_dir() {
            return Ok(done);
        }
        let manifest = self.manifest(digest)?;
        // Partial directories of any earlier, interrupted unpack of this image.
        if let Ok(entries) = fs::read_dir(self.root.join("rootfs")) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                if name
                    .to_str()
                    .is_some_and(|n| n.starts_with(&format!("{hex}.partial-")))
                {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
        let partial = self
            .root
            .join("rootfs")
            .join(format!("{hex}.partial-{}", std::process::id()));
        fs::create_dir_all(&partial).map_err(io(partial.display()))?;
        for layer in manifest.layers() {
            let path = self.blob_path(layer.digest().as_ref())?;
            let file = fs::File::open(&path).map_err(io(path.display()))?;
            let reader: Box<dyn Read> = if layer_compression(layer.media_type())? {
                Box::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)))
            } else {
                Box::new(std::io::BufReader::new(file))
            };
            apply_layer(&partial, reader)
                .map_err(|e| OciError::Image(format!("layer {}: {e}", layer.digest())))?;
        }
        fs::rename(&partial, &done).map_err(io(done.display()))?;
        Ok(done)
    }

    /// Removes image `digest`: its record and unpacked root (blobs shared with other images
    /// stay; `gc` is not implemented yet, so unreferenced blobs remain until the store is
    /// cleared).
    pub fn remove(&self, digest: &str) -> Result<(), OciError> {
        let hex = sha256_hex(digest)?;
        let _ = fs::remove_dir_all(self.root.join("rootfs").join(hex));
        fs::remove_file(self.root.join("images").join(hex))
            .map_err(|_| OciError::Image(format!("image {digest} is not imported")))
    }
}

/// The file at the top of a layout holding the publisher's detached signature.
pub const SIGNATURE_FILE: &str = "r1-signature";

static IMPORTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The manifest digest of the image the layout at `dir` holds, as its index names it (what a
/// publisher signs; the import checks every digest).
pub fn layout_digest(dir: &Path) -> Result<String, OciError> {
    let index = ImageIndex::from_file(dir.join("index.json"))
        .map_err(|e| OciError::Image(format!("{}: index.json: {e}", dir.display())))?;
    Ok(pick_manifest(index.manifests())?.digest().to_string())
}

/// A tar of the layout in `dir` (every file under it, sorted, owner root, times zero).
pub fn tar_layout(dir: &Path) -> Result<Vec<u8>, OciError> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).map_err(io(d.display()))? {
            let path = entry.map_err(io(d.display()))?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut tar = tar::Builder::new(Vec::new());
    for path in files {
        let rel = path
            .strip_prefix(dir)
            .map_err(|_| OciError::Image(format!("{}: outside the layout", path.display())))?;
        let bytes = fs::read(&path).map_err(io(path.display()))?;
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        tar.append_data(&mut header, rel, bytes.as_slice())
            .map_err(io(rel.display()))?;
    }
    tar.into_inner().map_err(io("layout tar"))
}

fn read_json(path: &Path) -> Result<serde_json::Value, OciError> {
    let bytes = fs::read(path).map_err(io(path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| OciError::Image(format!("{}: {e}", path.display())))
}

/// The manifest to import: the only one, or the one for this machine's OS and architecture.
fn pick_manifest(manifests: &[Descriptor]) -> Result<Descriptor, OciError> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let fits = |d: &&Descriptor| {
        d.platform()
            .as_ref()
            .is_none_or(|p| p.os().to_string() == "linux" && p.architecture().to_string() == arch)
    };
    let candidates: Vec<&Descriptor> = manifests
        .iter()
        .filter(|d| *d.media_type() == MediaType::ImageManifest)
        .filter(fits)
        .collect();
    match candidates.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(OciError::Image(format!(
            "the layout holds no image manifest for linux/{arch}"
        ))),
        _ => Err(OciError::Image(format!(
            "the layout holds {} manifests for linux/{arch}; import one image at a time",
            candidates.len()
        ))),
    }
}

/// Whether a layer is gzip-compressed; refuses layer types this node cannot unpack.
fn layer_compression(media: &MediaType) -> Result<bool, OciError> {
    match media {
        MediaType::ImageLayer => Ok(false),
        MediaType::ImageLayerGzip => Ok(true),
        other => Err(OciError::Image(format!(
            "layer media type {other} is not supported (tar and tar+gzip are)"
        ))),
    }
}

fn image_of(digest: &str, config: &[u8]) -> Result<Image, OciError> {
    let config = ImageConfiguration::from_reader(config)
        .map_err(|e| OciError::Image(format!("image config: {e}")))?;
    let mut args = Vec::new();
    let mut env = Vec::new();
    let mut cwd = "/".to_string();
    if let Some(c) = config.config() {
        args.extend(c.entrypoint().clone().unwrap_or_default());
        args.extend(c.cmd().clone().unwrap_or_default());
        env = c.env().clone().unwrap_or_default();
        if let Some(dir) = c.working_dir().as_ref().filter(|d| !d.is_empty()) {
            cwd = dir.clone();
        }
    }
    Ok(Image {
        digest: digest.to_string(),
        args,
        env,
        cwd,
    })
}

/// The whiteout prefix (`.wh.NAME` deletes NAME) and the opaque-directory marker.
const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// Applies one layer over `root`: whiteouts delete what earlier layers wrote, every other entry
/// is unpacked with `tar`'s containment checks.
fn apply_layer(root: &Path, layer: impl Read) -> Result<(), String> {
    let mut archive = tar::Archive::new(layer);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_unpack_xattrs(false);
    // Directories made opaque by this layer: earlier content is removed once, before this
    // layer's own entries land in them (entries are unpacked in archive order, so the marker
    // is acted on at once and the directory's own entries, listed after, survive).
    let mut opaque_done: BTreeSet<PathBuf> = BTreeSet::new();
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        let relative =
            contained(&path).ok_or_else(|| format!("{}: path escapes the root", path.display()))?;
        let name = relative
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let parent = relative.parent().map(Path::to_path_buf).unwrap_or_default();
        if name == OPAQUE {
            if opaque_done.insert(parent.clone()) {
                let dir = root.join(&parent);
                if let Ok(children) = fs::read_dir(&dir) {
                    for child in children.flatten() {
                        remove_any(&child.path());
                    }
                }
            }
            continue;
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT) {
            remove_any(&root.join(&parent).join(hidden));
            continue;
        }
        match entry.header().entry_type() {
            tar::EntryType::Regular
            | tar::EntryType::Directory
            | tar::EntryType::Symlink
            | tar::EntryType::Link
            | tar::EntryType::Continuous => {
                // A file replacing a directory (or the reverse) of an earlier layer.
                let target = root.join(&relative);
                if let Ok(meta) = fs::symlink_metadata(&target)
                    && (meta.is_dir() != entry.header().entry_type().is_dir())
                {
                    remove_any(&target);
                }
                entry
                    .unpack_in(root)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
            // Device nodes, fifos and extensions: not created (a container gets its /dev from
            // the runtime).
            _ => {}
        }
    }
    Ok(())
}

/// `path` as a relative path that stays inside the root, or `None`.
fn contained(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

fn remove_any(path: &Path) {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            let _ = fs::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = fs::remove_file(path);
        }
        Err(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{ImageRecipe, write_layout};

    fn recipe() -> ImageRecipe {
        ImageRecipe {
            files: vec![("bin/tool".into(), b"#!/bin/sh\necho hi\n".to_vec(), 0o755)],
            links: vec![("bin/alias".into(), "tool".into())],
            dirs: vec!["tmp".into()],
            entrypoint: vec!["/bin/tool".into(), "--serve".into()],
            env: vec!["PATH=/bin".into()],
        }
    }

    #[test]
    fn a_layout_imports_with_every_digest_checked_and_unpacks_once() {
        let dir = tempfile::tempdir().unwrap();
        let layout = dir.path().join("layout");
        let digest = write_layout(&layout, &recipe()).unwrap();
        // Deterministic: the same recipe, the same image id.
        assert_eq!(
            write_layout(&dir.path().join("again"), &recipe()).unwrap(),
            digest
        );
        let store = ImageStore::open(&dir.path().join("store")).unwrap();
        let image = store.import_layout(&layout).unwrap();
        assert_eq!(image.digest, digest);
        assert_eq!(image.args, ["/bin/tool", "--serve"]);
        assert_eq!(image.env, ["PATH=/bin"]);
        assert_eq!(store.list().unwrap(), std::slice::from_ref(&digest));
        let root = store.rootfs(&digest).unwrap();
        assert_eq!(
            std::fs::read(root.join("bin/tool")).unwrap(),
            b"#!/bin/sh\necho hi\n"
        );
        assert_eq!(
            std::fs::read_link(root.join("bin/alias")).unwrap(),
            Path::new("tool")
        );
        assert_eq!(store.rootfs(&digest).unwrap(), root, "unpacked once");
        assert_eq!(store.image(&digest).unwrap(), image);
        store.remove(&digest).unwrap();
        assert!(store.image(&digest).is_err());
    }

    #[test]
    fn a_layout_travels_as_a_tar_with_its_signature() {
        let dir = tempfile::tempdir().unwrap();
        let layout = dir.path().join("layout");
        let digest = write_layout(&layout, &recipe()).unwrap();
        std::fs::write(layout.join(SIGNATURE_FILE), b"signed").unwrap();
        let tar = tar_layout(&layout).unwrap();
        assert_eq!(tar_layout(&layout).unwrap(), tar, "deterministic");
        let store = ImageStore::open(&dir.path().join("store")).unwrap();
        assert_eq!(store.import_tar(tar.as_slice()).unwrap().digest, digest);
        assert_eq!(
            store.signature(&digest).unwrap().as_deref(),
            Some(&b"signed"[..])
        );
        assert!(store.import_tar(&b"not a tar"[..]).is_err());
        let tmp: Vec<_> = std::fs::read_dir(dir.path().join("store/tmp"))
            .unwrap()
            .collect();
        assert!(tmp.is_empty(), "temporary imports removed");
    }

    #[test]
    fn a_tampered_or_truncated_blob_is_refused_and_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let layout = dir.path().join("layout");
        write_layout(&layout, &recipe()).unwrap();
        let store = ImageStore::open(&dir.path().join("store")).unwrap();
        // The largest blob is the layer: flip one byte of it.
        let mut blobs: Vec<PathBuf> = std::fs::read_dir(layout.join("blobs/sha256"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        blobs.sort_by_key(|p| std::fs::metadata(p).unwrap().len());
        let layer = blobs.last().unwrap().clone();
        let mut bytes = std::fs::read(&layer).unwrap();
        let original = bytes.clone();
        bytes[20] ^= 1;
        std::fs::write(&layer, &bytes).unwrap();
        let e = store.import_layout(&layout).unwrap_err();
        assert!(e.to_string().contains("does not match"), "{e}");
        std::fs::write(&layer, &original[..original.len() - 1]).unwrap();
        assert!(store.import_layout(&layout).is_err());
        assert!(store.list().unwrap().is_empty());
        let kept: Vec<_> = std::fs::read_dir(dir.path().join("store/blobs/sha256"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().file_name() == layer.file_name())
            .collect();
        assert!(kept.is_empty(), "the bad layer is not in the store");
        assert!(sha256_hex("sha256:abc").is_err() && sha256_hex("md5:00").is_err());
    }

    fn tar_of(entries: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in entries {
            let mut h = tar::Header::new_gnu();
            match data {
                Some(d) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(d.len() as u64);
                    h.set_mode(0o644);
                    b.append_data(&mut h, path, *d).unwrap();
                }
                None => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    h.set_mode(0o755);
                    b.append_data(&mut h, path, std::io::empty()).unwrap();
                }
            }
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn whiteouts_delete_what_earlier_layers_wrote() {
        let root = tempfile::tempdir().unwrap();
        let lower = tar_of(&[
            ("etc/", None),
            ("etc/keep", Some(b"1")),
            ("etc/gone", Some(b"2")),
            ("var/", None),
            ("var/old", Some(b"3")),
        ]);
        apply_layer(root.path(), lower.as_slice()).unwrap();
        let upper = tar_of(&[
            ("etc/.wh.gone", Some(b"")),
            ("var/.wh..wh..opq", Some(b"")),
            ("var/new", Some(b"4")),
        ]);
        apply_layer(root.path(), upper.as_slice()).unwrap();
        assert!(root.path().join("etc/keep").exists());
        assert!(!root.path().join("etc/gone").exists());
        assert!(!root.path().join("etc/.wh.gone").exists());
        assert!(
            !root.path().join("var/old").exists(),
            "opaque directory cleared"
        );
        assert_eq!(std::fs::read(root.path().join("var/new")).unwrap(), b"4");
    }

    #[test]
    fn a_layer_cannot_write_outside_the_root() {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("root");
        std::fs::create_dir(&root).unwrap();
        // A header naming `../evil`, written by hand (tar's builder refuses it).
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..7].copy_from_slice(b"../evil");
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(1);
        h.set_mode(0o644);
        h.set_cksum();
        let mut bytes = h.as_bytes().to_vec();
        bytes.extend_from_slice(b"x");
        bytes.resize(512 * 2, 0);
        bytes.extend_from_slice(&[0; 1024]);
        assert!(apply_layer(&root, bytes.as_slice()).is_err());
        assert!(!outer.path().join("evil").exists());
    }
}
