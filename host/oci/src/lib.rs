//! The OCI fallback: workloads that cannot be wasm components run as containers, under the
//! same grants.
//!
//! - [`image`]: OCI image layouts imported without a registry, every blob verified against its
//!   digest, unpacked once per manifest into a shared read-only root filesystem.
//! - [`layout`]: writes image layouts (tests, benchmarks and `r1 oci pack` build images with
//!   it, deterministically).
//! - [`bundle`]: a container's `config.json` from its grants and limits — user namespace,
//!   own network namespace unless granted, read-only root, no capabilities, seccomp, limits.
//! - [`runtime`]: runc (or crun) driven per container, messages as lines on stdin/stdout,
//!   stderr to the node log, cgroups under the node's own and removed at stop.
//!
//! [`Oci`] ties them together for a node: `run` = image root (unpacked on first use) +
//! bundle + runtime, and `stop` leaves nothing behind (bundle, runtime state, cgroup).
//!
//! Invariants: an image is identified by its manifest digest (`sha256:…`), which is what a
//! publisher signs; nothing is unpacked from a blob whose digest does not match; a container
//! never starts with more than its [`Grants`] say (a mount or the network it was not granted
//! is simply not in its config).

#![warn(missing_docs)]

pub mod bundle;
pub mod engine;
pub mod image;
pub mod layout;
pub mod runtime;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub use bundle::{BindMount, Limits};
pub use image::{Image, ImageStore};
pub use runtime::{Container, Engine, Exit, LogSink};

/// What can go wrong with images and containers.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// An image layout, manifest, config or blob is refused (what and why).
    #[error("image: {0}")]
    Image(String),
    /// A container's configuration is refused.
    #[error("container config: {0}")]
    Config(String),
    /// This host cannot run containers (why, and what would fix it).
    #[error("containers unavailable: {0}")]
    Unavailable(String),
    /// The runtime could not start the container.
    #[error("container start: {0}")]
    Start(String),
    /// A message could not be delivered or answered.
    #[error("container message: {0}")]
    Message(String),
    /// A file operation failed.
    #[error("{0}")]
    Io(String),
}

/// What a container may use: its share of the node.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    /// Granted host directories (`fs:` / `fs-ro:` grants).
    pub mounts: Vec<BindMount>,
    /// The node's network (the `net` grant); otherwise only `lo`.
    pub network: bool,
    /// Its limits.
    pub limits: Limits,
}

/// The first host uid (and gid) of every container's user namespace: container root is host
/// uid 100000, an unprivileged id.
pub const UID_BASE: u32 = 100_000;

/// A node's OCI side: its image store and runtime (state under `DATA/oci`).
pub struct Oci {
    images: ImageStore,
    engine: Engine,
    bundles: PathBuf,
    serial: AtomicU64,
}

impl Oci {
    /// Opens the image store under `dir` and detects the runtime ([`Engine::detect`]).
    pub fn open(dir: &Path) -> Result<Self, OciError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| OciError::Io(format!("{}: {e}", dir.display())))?;
        let images = ImageStore::open(&dir.join("images"))?;
        let engine = Engine::detect(&dir.join("runtime"))?;
        let bundles = dir.join("bundles");
        // Bundles of containers an earlier run left (the engine reaped the containers).
        let _ = std::fs::remove_dir_all(&bundles);
        std::fs::create_dir_all(&bundles)
            .map_err(|e| OciError::Io(format!("{}: {e}", bundles.display())))?;
        Ok(Self {
            images,
            engine,
            bundles,
            serial: AtomicU64::new(0),
        })
    }

    /// The image store.
    pub fn images(&self) -> &ImageStore {
        &self.images
    }

    /// The runtime.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Starts a container named `name` (its instance id is `name-N`) from image `digest`
    /// with `grants`; `args` replaces the image's entrypoint and command when given.
    pub async fn run(
        &self,
        name: &str,
        digest: &str,
        grants: &Grants,
        args: Option<Vec<String>>,
        log: Option<LogSink>,
    ) -> Result<Container, OciError> {
        r1_name_check(name)?;
        bundle::check_mounts(&grants.mounts)?;
        let image = self.images.image(digest)?;
        let rootfs = self.images.rootfs(digest)?;
        ensure_mountpoints(&rootfs, grants)?;
        for m in grants.mounts.iter().filter(|m| m.writable) {
            give_to_container(&m.host)?;
        }
        let id = format!(
            "{name}-{}-{}",
            std::process::id(),
            self.serial.fetch_add(1, Ordering::Relaxed)
        );
        let config = bundle::ContainerConfig {
            args: args.unwrap_or(image.args),
            env: image.env,
            cwd: image.cwd,
            rootfs,
            mounts: grants.mounts.clone(),
            network: grants.network,
            limits: grants.limits,
            uid_base: UID_BASE,
            cgroups_path: self.engine.cgroup_for(&id),
            hostname: name.to_string(),
        };
        let dir = self.bundles.join(&id);
        bundle::write(&dir, &config)?;
        match self.engine.start(&id, &dir, log).await {
            Ok(container) => Ok(container),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    /// Whether anything of any container is left on disk under this node's bundles.
    pub fn bundles_left(&self) -> usize {
        std::fs::read_dir(&self.bundles)
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

/// A container name: what an actor name may be (`[A-Za-z0-9._-]`, 1–64).
fn r1_name_check(name: &str) -> Result<(), OciError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(OciError::Config(format!(
            "{name:?}: a container name is 1-64 characters from [A-Za-z0-9._-]"
        )))
    }
}

/// Creates the mount points the runtime needs in the shared root (it is read-only to the
/// container, whose root cannot create them itself): `/proc`, `/dev`, `/sys`, `/tmp` and the
/// target of every granted mount.
fn ensure_mountpoints(rootfs: &Path, grants: &Grants) -> Result<(), OciError> {
    let mut targets: Vec<String> = ["proc", "dev", "sys", "tmp"].map(String::from).to_vec();
    targets.extend(
        grants
            .mounts
            .iter()
            .map(|m| m.guest.trim_start_matches('/').to_string()),
    );
    for target in targets {
        if target.split('/').any(|p| p == "..") {
            return Err(OciError::Config(format!(
                "mount target {target:?} contains `..`"
            )));
        }
        let path = rootfs.join(&target);
        // Never follow a symlink of the image out of its root.
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(OciError::Config(format!(
                "mount target /{target} is a symlink in the image"
            )));
        }
        std::fs::create_dir_all(&path)
            .map_err(|e| OciError::Io(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}

/// A writable granted directory is owned by the container's root (host uid [`UID_BASE`]), so
/// the container can write there and nowhere else.
fn give_to_container(dir: &Path) -> Result<(), OciError> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| OciError::Config(format!("{}: path contains NUL", dir.display())))?;
    // SAFETY: a valid NUL-terminated path; chown has no other preconditions.
    if unsafe { libc::chown(path.as_ptr(), UID_BASE, UID_BASE) } != 0 {
        return Err(OciError::Io(format!(
            "{}: cannot hand it to the container: {}",
            dir.display(),
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}
