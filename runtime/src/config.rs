//! Runtime configuration: engine sizing, per-actor limits and the restart policy.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the engine is built and how many actors it is sized for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Instances the pooling allocator reserves slots for (each actor instance takes one).
    pub pool_instances: u32,
    /// Largest linear memory a pooled slot can hold; actor limits above this are clamped.
    pub pool_max_memory_bytes: usize,
    /// Use the pooling allocator (falls back to on-demand when the address space cannot be
    /// reserved, as on small ARM boards).
    pub pooling: bool,
    /// Epoch tick: how often deadlines are checked and long-running guests yield.
    #[serde(with = "duration_ms")]
    pub epoch_tick: Duration,
    /// Worker threads that run actors (0 = one per CPU).
    pub workers: usize,
    /// Defaults for actors that do not set their own limits.
    pub default_limits: ActorLimits,
    /// How crashed actors are restarted.
    pub restart: RestartPolicy,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            pool_instances: 256,
            pool_max_memory_bytes: 256 << 20,
            pooling: true,
            epoch_tick: Duration::from_millis(2),
            workers: 0,
            default_limits: ActorLimits::default(),
            restart: RestartPolicy::default(),
        }
    }
}

/// Per-actor resource limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActorLimits {
    /// Linear memory an instance may grow to.
    pub max_memory_bytes: usize,
    /// Wall-clock budget for one `init` or `handle` call.
    #[serde(with = "duration_ms")]
    pub deadline: Duration,
    /// Messages queued before senders see `mailbox-full`.
    pub mailbox_capacity: usize,
    /// This actor's restart policy; `None`: the runtime's (`[runtime.restart]`).
    pub restart: Option<RestartPolicy>,
}

impl Default for ActorLimits {
    fn default() -> Self {
        Self {
            max_memory_bytes: 64 << 20,
            deadline: Duration::from_secs(5),
            mailbox_capacity: 1024,
            restart: None,
        }
    }
}

/// Erlang-style restart policy: a crashed actor is restarted after a backoff that doubles
/// with each consecutive crash; more than `max_restarts` within `window` stops it for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RestartPolicy {
    /// Crashes allowed inside `window`; one more marks the actor failed.
    pub max_restarts: u32,
    /// Sliding window over which crashes are counted (milliseconds in config files).
    #[serde(with = "duration_ms")]
    pub window: Duration,
    /// Backoff before the first restart; doubled for each further crash in the window.
    #[serde(with = "duration_ms")]
    pub initial_backoff: Duration,
    /// Upper bound on the backoff.
    #[serde(with = "duration_ms")]
    pub max_backoff: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            max_restarts: 5,
            window: Duration::from_secs(30),
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_secs(2),
        }
    }
}

/// Durations in config files are whole milliseconds.
mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}
