//! Bundles: one per container instance, a `config.json` built from the container's grants and
//! limits, pointing at the image's shared read-only root filesystem.
//!
//! What every container gets, whatever it asks for (the grants can only add):
//! - its own user namespace: container uid/gid 0–65535 map to host `uid_base`…+65535, so
//!   container root is an unprivileged user on the host;
//! - its own pid, ipc, uts, mount and cgroup namespaces, and its own network namespace (only
//!   `lo`) unless the `net` grant shares the node's;
//! - a read-only root, a private `/tmp` (tmpfs, 64 MiB), no new privileges, no capabilities,
//!   a seccomp filter refusing (EPERM) the calls no workload needs (module loading, `mount`,
//!   `reboot`, `kexec`, `bpf`, `ptrace`, keyrings, …), masked and read-only kernel paths;
//! - a memory limit (swap included: no swap beyond it), a CPU quota, a pid limit, and
//!   `RLIMIT_NOFILE` within the host's hard limit (this host has no `CAP_SYS_RESOURCE`
//!   to raise one);
//! - granted host directories bind-mounted `nosuid,nodev` (and `ro` for read-only grants).
//!
//! The config is produced as JSON and parsed back into `oci_spec::runtime::Spec` before it is
//! written, so a bundle that does not match the runtime spec never reaches the runtime.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::OciError;

/// Host directories a container may use (from its `fs:` / `fs-ro:` grants).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    /// The directory on the host.
    pub host: PathBuf,
    /// Where it appears in the container (absolute).
    pub guest: String,
    /// Whether the container may write to it.
    pub writable: bool,
}

/// Resource limits of one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Memory, swap included, in bytes.
    pub memory_bytes: u64,
    /// CPU in thousandths of a core (1000: one core).
    pub cpu_millis: u32,
    /// Most processes and threads at once.
    pub pids: u32,
    /// Open files (capped at the host's hard limit).
    pub nofile: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 256 << 20,
            cpu_millis: 1000,
            pids: 64,
            nofile: 1024,
        }
    }
}

/// Everything one container instance is started with.
#[derive(Debug, Clone)]
pub struct ContainerConfig {
    /// The process: argv (the image's entrypoint and command unless overridden).
    pub args: Vec<String>,
    /// `KEY=VALUE` environment.
    pub env: Vec<String>,
    /// The working directory inside the container.
    pub cwd: String,
    /// The image's unpacked root (shared, read-only).
    pub rootfs: PathBuf,
    /// Granted host directories.
    pub mounts: Vec<BindMount>,
    /// Whether it shares the node's network (the `net` grant); otherwise only `lo`.
    pub network: bool,
    /// Its limits.
    pub limits: Limits,
    /// First host uid/gid of its user namespace mapping (65,536 ids).
    pub uid_base: u32,
    /// The absolute cgroup path runc creates for it.
    pub cgroups_path: String,
    /// Its hostname.
    pub hostname: String,
}

/// System calls refused with EPERM, whatever the grants.
const DENIED_SYSCALLS: &[&str] = &[
    "acct",
    "add_key",
    "bpf",
    "delete_module",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "init_module",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "mount",
    "move_mount",
    "open_tree",
    "perf_event_open",
    "pivot_root",
    "ptrace",
    "quotactl",
    "reboot",
    "request_key",
    "setns",
    "swapoff",
    "swapon",
    "umount2",
    "unshare",
    "userfaultfd",
];

/// The host's hard `RLIMIT_NOFILE`.
fn host_nofile_hard() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_max
    } else {
        1024
    }
}

/// Refuses a mount whose target is not an absolute path without `..`, or whose host directory
/// does not exist.
pub fn check_mounts(mounts: &[BindMount]) -> Result<(), OciError> {
    for m in mounts {
        if !m.guest.starts_with('/') || m.guest.split('/').any(|p| p == "..") {
            return Err(OciError::Config(format!(
                "mount target {:?} must be an absolute path without `..`",
                m.guest
            )));
        }
        if !m.host.is_dir() {
            return Err(OciError::Config(format!(
                "granted directory {} does not exist",
                m.host.display()
            )));
        }
    }
    Ok(())
}

/// The `config.json` of `config`, checked against the runtime spec.
pub fn spec(config: &ContainerConfig) -> Result<Value, OciError> {
    if config.args.is_empty() {
        return Err(OciError::Config(
            "the image names no entrypoint or command, and none was given".into(),
        ));
    }
    check_mounts(&config.mounts)?;
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc"}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
               "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
               "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "nodev", "mode=1777", "size=65536k"]}),
    ];
    if !config.network {
        // sysfs can be mounted only in a network namespace the container owns.
        mounts.push(
            json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
                           "options": ["nosuid", "noexec", "nodev", "ro"]}),
        );
    }
    for m in &config.mounts {
        let mut options = vec!["rbind", "nosuid", "nodev"];
        if !m.writable {
            options.push("ro");
        }
        mounts.push(json!({"destination": m.guest, "type": "bind",
                           "source": m.host, "options": options}));
    }
    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
        json!({"type": "user"}),
        json!({"type": "cgroup"}),
    ];
    if !config.network {
        namespaces.push(json!({"type": "network"}));
    }
    let nofile = config.limits.nofile.min(host_nofile_hard());
    let period: u64 = 100_000;
    let quota = (config.limits.cpu_millis as u64 * period / 1000).max(1000);
    let memory = config.limits.memory_bytes as i64;
    let spec = json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": config.args,
            "env": config.env,
            "cwd": config.cwd,
            "noNewPrivileges": true,
            "capabilities": {"bounding": [], "effective": [], "permitted": [], "ambient": []},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": nofile, "soft": nofile}],
        },
        "root": {"path": config.rootfs, "readonly": true},
        "hostname": config.hostname,
        "mounts": mounts,
        "linux": {
            "uidMappings": [{"containerID": 0, "hostID": config.uid_base, "size": 65536}],
            "gidMappings": [{"containerID": 0, "hostID": config.uid_base, "size": 65536}],
            "namespaces": namespaces,
            "cgroupsPath": config.cgroups_path,
            "resources": {
                "devices": [{"allow": false, "access": "rwm"}],
                "memory": {"limit": memory, "swap": memory},
                "cpu": {"quota": quota, "period": period},
                "pids": {"limit": config.limits.pids as i64},
            },
            "seccomp": {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": DENIED_SYSCALLS, "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
            },
            "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                            "/proc/scsi", "/sys/firmware"],
            "readonlyPaths": ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq",
                              "/proc/sys", "/proc/sysrq-trigger"],
        },
    });
    // The runtime spec's own types are the check.
    serde_json::from_value::<oci_spec::runtime::Spec>(spec.clone()).map_err(|e| {
        OciError::Config(format!("the generated config is not a valid OCI spec: {e}"))
    })?;
    Ok(spec)
}

/// Writes the bundle for `config` into `dir` (created): `config.json` only; the root is the
/// shared unpacked image.
pub fn write(dir: &Path, config: &ContainerConfig) -> Result<(), OciError> {
    let spec = spec(config)?;
    std::fs::create_dir_all(dir).map_err(|e| OciError::Io(format!("{}: {e}", dir.display())))?;
    let bytes = serde_json::to_vec_pretty(&spec).map_err(|e| OciError::Config(e.to_string()))?;
    std::fs::write(dir.join("config.json"), bytes)
        .map_err(|e| OciError::Io(format!("{}: {e}", dir.display())))
}
