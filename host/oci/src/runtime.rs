//! Running containers with an OCI runtime binary (runc, or crun where it works), one
//! foreground `runtime run` process per container.
//!
//! **Which runtime** ([`Engine::detect`]): `R1_OCI_RUNTIME` (a path or a name on `PATH`) when
//! set; else crun when the host has a pure cgroup v2 hierarchy (crun refuses the hybrid
//! layout: "cgroups in hybrid mode not supported") and crun is installed — it starts faster;
//! else runc. Containers need root on the host (user namespaces are set up by the runtime).
//!
//! **Messages**: a container answers line by line on stdin/stdout. Each message is one line of
//! UTF-8-or-bytes without a newline; the container writes exactly one line back per line it
//! reads. One request at a time per container (a lock around the pair), so answers never
//! cross. A request that gets no answer within its timeout leaves the stream out of step: the
//! container is killed (its supervisor restarts it). Its stderr goes to the node log, line by
//! line, tagged with the container's name (and to the caller's sink).
//!
//! **Cgroups**: each container's cgroup is `BASE/r1-oci/ID`, `BASE` being the node's own
//! cgroup (`/proc/self/cgroup`: the unified entry on cgroup v2, the memory controller's on v1),
//! an absolute path, so it never lands outside the node's subtree. The runtime removes the
//! leaf; [`Container::stop`] and the end of a run remove what is left and the empty
//! `r1-oci` parent, in every hierarchy.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{Mutex, watch};

use crate::OciError;

/// Where a line of a container's stderr goes besides the node log.
pub type LogSink = Arc<dyn Fn(&str) + Send + Sync>;

/// How a container ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// Its process exited with this status.
    Code(i32),
    /// Its process was killed by this signal (9 after a memory-limit kill or a stop).
    Signal(i32),
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exited with status {c}"),
            Exit::Signal(9) => write!(f, "killed (SIGKILL: stopped, or over its memory limit)"),
            Exit::Signal(s) => write!(f, "killed by signal {s}"),
        }
    }
}

/// An OCI runtime on this host.
#[derive(Debug, Clone)]
pub struct Engine {
    binary: PathBuf,
    name: String,
    /// The runtime's state directory (`--root`), the node's own.
    state: PathBuf,
    /// The node's cgroup (see the module docs).
    base_cgroup: String,
    /// Directories of the node's cgroup path (and its ancestors) that did not exist, per
    /// hierarchy, when the engine started: the runtime creates them in hierarchies where the
    /// node does not live, and they are removed again once empty.
    created_by_us: Vec<PathBuf>,
}

fn on_path(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return p.is_file().then_some(p);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// The node's cgroup path, from `/proc/self/cgroup`.
fn own_cgroup() -> String {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mut unified = None;
    let mut memory = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if controllers.is_empty() {
            unified = Some(path.to_string());
        } else if controllers.split(',').any(|c| c == "memory") {
            memory = Some(path.to_string());
        }
    }
    let pure_v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let base = if pure_v2 { unified } else { memory.or(unified) };
    base.unwrap_or_else(|| "/".into())
        .trim_end_matches('/')
        .to_string()
}

/// Every cgroup hierarchy mounted on this host (the v2 root, or each v1 controller's).
fn hierarchies() -> Vec<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    if root.join("cgroup.controllers").exists() {
        return vec![root.to_path_buf()];
    }
    std::fs::read_dir(root)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default()
}

impl Engine {
    /// The runtime this host should use (module docs), keeping its state under `state`.
    pub fn detect(state: &Path) -> Result<Self, OciError> {
        let (binary, name) = match std::env::var("R1_OCI_RUNTIME") {
            Ok(wanted) if !wanted.is_empty() => {
                let binary = on_path(&wanted).ok_or_else(|| {
                    OciError::Unavailable(format!("R1_OCI_RUNTIME={wanted}: not found"))
                })?;
                let name = binary
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or(wanted);
                (binary, name)
            }
            _ => {
                let pure_v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
                match (pure_v2, on_path("crun"), on_path("runc")) {
                    (true, Some(crun), _) => (crun, "crun".to_string()),
                    (_, _, Some(runc)) => (runc, "runc".to_string()),
                    _ => {
                        return Err(OciError::Unavailable(
                            "no OCI runtime: install runc (Debian: apt-get install runc)".into(),
                        ));
                    }
                }
            }
        };
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err(OciError::Unavailable(
                "containers need the node to run as root (the runtime sets up user namespaces and cgroups)".into(),
            ));
        }
        std::fs::create_dir_all(state)
            .map_err(|e| OciError::Io(format!("{}: {e}", state.display())))?;
        let base_cgroup = own_cgroup();
        let mut created_by_us = Vec::new();
        for hierarchy in hierarchies() {
            let mut dir = hierarchy.join(base_cgroup.trim_start_matches('/'));
            // Deepest first, so removal can go in this order.
            while dir != hierarchy && dir.starts_with(&hierarchy) {
                if !dir.exists() {
                    created_by_us.push(dir.clone());
                }
                if !dir.pop() {
                    break;
                }
            }
        }
        let engine = Self {
            binary,
            name,
            state: state.to_path_buf(),
            base_cgroup,
            created_by_us,
        };
        engine.reap();
        Ok(engine)
    }

    /// Containers a previous run of this node left (it was killed before stopping them):
    /// killed and deleted, with their cgroups. Only this engine's state directory is read, so
    /// other nodes' containers are never touched.
    fn reap(&self) {
        let Ok(entries) = std::fs::read_dir(&self.state) else {
            return;
        };
        for entry in entries.flatten() {
            let Some(id) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            for args in [
                vec!["kill", id.as_str(), "KILL"],
                vec!["delete", "--force", id.as_str()],
            ] {
                let _ = std::process::Command::new(&self.binary)
                    .arg("--root")
                    .arg(&self.state)
                    .args(&args)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
            self.clean_cgroups(&id);
            tracing::warn!(container = %id, "removed a container left by an earlier run");
        }
        // The parents, if no other node's containers are in them.
        let parent = format!("{}/r1-oci", self.base_cgroup);
        for hierarchy in hierarchies() {
            let _ = std::fs::remove_dir(hierarchy.join(parent.trim_start_matches('/')));
        }
        for dir in &self.created_by_us {
            let _ = std::fs::remove_dir(dir);
        }
    }

    /// The runtime's name (`runc`, `crun`, …).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cgroup path a container `id` gets.
    pub fn cgroup_for(&self, id: &str) -> String {
        format!("{}/r1-oci/{id}", self.base_cgroup)
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--root").arg(&self.state);
        cmd
    }

    /// Starts container `id` from the bundle in `bundle` (see [`crate::bundle`]); its stderr
    /// lines go to the node log and to `log`.
    pub async fn start(
        &self,
        id: &str,
        bundle: &Path,
        log: Option<LogSink>,
    ) -> Result<Container, OciError> {
        // Ids are unique per node process (`name-pid-serial`), and what an earlier run left is
        // reaped when the engine starts: no per-start cleanup on the cold-start path.
        let mut child = self
            .command()
            .arg("run")
            .arg("--bundle")
            .arg(bundle)
            .arg("--no-new-keyring")
            .arg(id)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| OciError::Start(format!("{}: {e}", self.binary.display())))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let (exit_tx, exit_rx) = watch::channel(None);
        tokio::spawn(watch_exit(child, exit_tx));
        if let Some(stderr) = stderr {
            let name = id.to_string();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::info!(container = %name, "{line}");
                    if let Some(log) = &log {
                        log(&line);
                    }
                }
            });
        }
        let (Some(stdin), Some(stdout)) = (stdin, stdout) else {
            return Err(OciError::Start("the runtime's stdio was not piped".into()));
        };
        Ok(Container {
            id: id.to_string(),
            engine: self.clone(),
            bundle: bundle.to_path_buf(),
            io: Mutex::new(Some((stdin, BufReader::new(stdout)))),
            exit: exit_rx,
        })
    }

    /// Removes what is left of container `id`'s cgroup and the empty parents this engine
    /// created, in every hierarchy.
    fn clean_cgroups(&self, id: &str) {
        let leaf = self.cgroup_for(id);
        let parent = format!("{}/r1-oci", self.base_cgroup);
        for hierarchy in hierarchies() {
            for path in [&leaf, &parent] {
                let dir = hierarchy.join(path.trim_start_matches('/'));
                let _ = std::fs::remove_dir(&dir); // only an empty cgroup can go
            }
        }
        // The node's own path where the runtime had to create it (busy ones stay).
        for dir in &self.created_by_us {
            let _ = std::fs::remove_dir(dir);
        }
    }

    /// Whether anything of container `id` is left in any cgroup hierarchy.
    pub fn cgroup_left(&self, id: &str) -> bool {
        let leaf = self.cgroup_for(id);
        hierarchies()
            .iter()
            .any(|h| h.join(leaf.trim_start_matches('/')).exists())
    }

    /// Cgroup directories this engine's containers made that are still there: `r1-oci`
    /// parents and the node's path where it did not exist before (what a stopped set of
    /// containers must not leave).
    pub fn cgroups_left(&self) -> Vec<PathBuf> {
        let parent = format!("{}/r1-oci", self.base_cgroup);
        let mut left: Vec<PathBuf> = hierarchies()
            .iter()
            .map(|h| h.join(parent.trim_start_matches('/')))
            .filter(|d| d.exists())
            .collect();
        left.extend(self.created_by_us.iter().filter(|d| d.exists()).cloned());
        left
    }
}

async fn watch_exit(mut child: Child, tx: watch::Sender<Option<Exit>>) {
    use std::os::unix::process::ExitStatusExt;
    let exit = match child.wait().await {
        Ok(status) => match (status.code(), status.signal()) {
            // runc reports a signalled container as 128 + signal.
            (Some(code), _) if code > 128 && code < 160 => Exit::Signal(code - 128),
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            (None, None) => Exit::Code(-1),
        },
        Err(_) => Exit::Code(-1),
    };
    let _ = tx.send(Some(exit));
}

/// A running container (see the module docs for its message stream).
pub struct Container {
    id: String,
    engine: Engine,
    bundle: PathBuf,
    io: Mutex<Option<(ChildStdin, BufReader<ChildStdout>)>>,
    exit: watch::Receiver<Option<Exit>>,
}

impl Container {
    /// The container's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sends one message and waits up to `timeout` for its one-line answer.
    pub async fn request(&self, payload: &[u8], timeout: Duration) -> Result<Vec<u8>, OciError> {
        if payload.contains(&b'\n') {
            return Err(OciError::Message(
                "a message to a container is one line: it must not contain a newline".into(),
            ));
        }
        let mut io = self.io.lock().await;
        let Some((stdin, stdout)) = io.as_mut() else {
            return Err(OciError::Message(format!(
                "container {} has stopped",
                self.id
            )));
        };
        let exchange = async {
            let mut line = Vec::with_capacity(payload.len() + 1);
            line.extend_from_slice(payload);
            line.push(b'\n');
            stdin.write_all(&line).await?;
            stdin.flush().await?;
            let mut answer = Vec::new();
            let n = stdout.read_until(b'\n', &mut answer).await?;
            Ok::<_, std::io::Error>((n, answer))
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok((0, _))) => {
                *io = None;
                Err(OciError::Message(format!(
                    "container {} closed its output",
                    self.id
                )))
            }
            Ok(Ok((_, mut answer))) => {
                if answer.last() == Some(&b'\n') {
                    answer.pop();
                }
                Ok(answer)
            }
            Ok(Err(e)) => {
                *io = None;
                Err(OciError::Message(format!("container {}: {e}", self.id)))
            }
            Err(_) => {
                *io = None;
                drop(io);
                self.kill().await;
                Err(OciError::Message(format!(
                    "container {} did not answer within {timeout:?}; killed (its stream is out of step)",
                    self.id
                )))
            }
        }
    }

    /// How it ended, once it has.
    pub async fn wait(&self) -> Exit {
        let mut exit = self.exit.clone();
        loop {
            if let Some(e) = exit.borrow().clone() {
                return e;
            }
            if exit.changed().await.is_err() {
                return Exit::Code(-1);
            }
        }
    }

    /// Whether it has ended.
    pub fn exited(&self) -> Option<Exit> {
        self.exit.borrow().clone()
    }

    async fn kill(&self) {
        let _ = self
            .engine
            .command()
            .args(["kill", &self.id, "KILL"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
    }

    /// Stops it (SIGKILL), waits for its end, and removes its runtime state, cgroup and
    /// bundle; returns how it ended.
    pub async fn stop(&self) -> Exit {
        if self.exited().is_none() {
            self.kill().await;
        }
        let exit = match tokio::time::timeout(Duration::from_secs(10), self.wait()).await {
            Ok(exit) => exit,
            Err(_) => Exit::Signal(9),
        };
        self.cleanup().await;
        exit
    }

    /// Removes its runtime state, cgroup and bundle (after it has ended).
    pub async fn cleanup(&self) {
        let _ = self
            .engine
            .command()
            .args(["delete", "--force", &self.id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
        self.engine.clean_cgroups(&self.id);
        let _ = std::fs::remove_dir_all(&self.bundle);
    }
}
