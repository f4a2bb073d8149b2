//! Hybrid logical clock: `physical milliseconds << 16 | logical counter` in one `u64`.
//!
//! Every timestamp this clock issues is greater than every timestamp it issued or observed
//! before, and never behind wall-clock time, so "later write wins" agrees with causality and,
//! across nodes, with real time to within clock skew.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const LOGICAL_BITS: u32 = 16;

/// A hybrid logical clock; safe to share across threads.
#[derive(Debug, Default)]
pub struct Hlc {
    last: AtomicU64,
}

fn wall() -> u64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    ms << LOGICAL_BITS
}

impl Hlc {
    /// A timestamp for a new local event.
    pub fn now(&self) -> u64 {
        let wall = wall();
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            let next = wall.max(last + 1);
            match self
                .last
                .compare_exchange_weak(last, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }

    /// Moves the clock past a timestamp seen from another node.
    pub fn observe(&self, remote: u64) {
        self.last.fetch_max(remote, Ordering::AcqRel);
    }
}

/// The wall-clock milliseconds part of a timestamp.
pub fn physical_ms(ts: u64) -> u64 {
    ts >> LOGICAL_BITS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictly_increasing_and_past_observed() {
        let clock = Hlc::default();
        let a = clock.now();
        let b = clock.now();
        assert!(b > a);
        clock.observe(b + (1000 << LOGICAL_BITS));
        assert!(clock.now() > b + (1000 << LOGICAL_BITS));
    }
}
