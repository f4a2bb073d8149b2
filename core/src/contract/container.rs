//! Containers: the OCI fallback, for workloads that cannot be wasm components. The runtime
//! supervises a container as an actor (mailbox, restart policy, log) through this contract and
//! never names the engine behind it.
//!
//! Invariants every engine keeps:
//! - A container starts with exactly what its [`ContainerSpec`] says: no mount, no network and
//!   no more memory, CPU or processes than listed.
//! - [`ContainerInstance::request`] serves one message at a time and answers it or fails; an
//!   instance whose stream is out of step is stopped, and [`ContainerInstance::exited`] then
//!   resolves.
//! - [`ContainerInstance::stop`] leaves nothing of the instance behind (runtime state,
//!   cgroup, bundle).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::BoxFuture;
use crate::ServiceError;

/// A host directory a container may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerMount {
    /// The directory on the host.
    pub host: PathBuf,
    /// Where the container sees it (absolute).
    pub guest: String,
    /// Whether the container may write to it.
    pub writable: bool,
}

/// What one container runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    /// The image, by manifest digest (`sha256:…`), already imported on this node.
    pub image: String,
    /// Replaces the image's entrypoint and command when given.
    pub args: Option<Vec<String>>,
    /// Granted host directories.
    pub mounts: Vec<ContainerMount>,
    /// The node's network; otherwise only loopback.
    pub network: bool,
    /// Memory, swap included, in bytes.
    pub memory_bytes: u64,
    /// CPU in thousandths of a core.
    pub cpu_millis: u32,
    /// Most processes at once.
    pub pids: u32,
}

/// Where a line of a container's output goes (the node's log for that actor).
pub type LogFn = Arc<dyn Fn(&str) + Send + Sync>;

/// One running container.
pub trait ContainerInstance: Send + Sync {
    /// Sends one message and waits up to `timeout` for the answer.
    fn request(
        &self,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Vec<u8>, ServiceError>>;
    /// Resolves once the container has ended, saying how.
    fn exited(&self) -> BoxFuture<'_, String>;
    /// Stops it and removes everything it left.
    fn stop(&self) -> BoxFuture<'_, ()>;
}

/// Starts containers.
pub trait ContainerEngine: Send + Sync {
    /// Starts one instance of `spec` named `name`; its output lines go to `log`.
    fn start<'a>(
        &'a self,
        name: &'a str,
        spec: &'a ContainerSpec,
        log: LogFn,
    ) -> BoxFuture<'a, Result<Box<dyn ContainerInstance>, ServiceError>>;
}
