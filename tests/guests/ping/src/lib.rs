//! Benchmark guest: forwards every message to the actor named by config `peer` (default
//! "pong") with a request and returns its reply.
//!
//! `bench:N` instead makes N requests of 64-byte payloads to the peer, timing each with the
//! WASI monotonic clock, and replies `n=N total_ns=T p50_ns=A p99_ns=B`: the actor-to-actor
//! round trip measured from inside the sender.
use std::time::{Duration, Instant};

use r1_guest::{Actor, Config, Message, request};

struct Ping {
    peer: String,
}

impl Ping {
    fn bench(&self, n: usize) -> Result<String, String> {
        let payload = [7u8; 64];
        let mut samples = Vec::with_capacity(n);
        let start = Instant::now();
        for _ in 0..n {
            let t = Instant::now();
            let reply = request(&self.peer, payload, Duration::from_secs(5))
                .map_err(|e| e.to_string())?;
            samples.push(t.elapsed().as_nanos() as u64);
            if reply.len() != payload.len() {
                return Err(format!("peer replied {} bytes", reply.len()));
            }
        }
        let total = start.elapsed().as_nanos();
        samples.sort_unstable();
        let pct = |p: usize| samples[(samples.len() * p / 100).min(samples.len() - 1)];
        Ok(format!(
            "n={n} total_ns={total} p50_ns={} p99_ns={}",
            pct(50),
            pct(99)
        ))
    }
}

impl Actor for Ping {
    fn init(config: Config) -> Result<Self, String> {
        Ok(Ping {
            peer: config.get_or("peer", "pong").to_owned(),
        })
    }

    fn handle(&mut self, msg: Message) -> Result<Option<Vec<u8>>, String> {
        if let Some(n) = msg.text().strip_prefix("bench:") {
            let n: usize = n.trim().parse().map_err(|_| format!("bad count {n:?}"))?;
            if n == 0 {
                return Err("bench needs at least one round trip".into());
            }
            return self.bench(n).map(|r| Some(r.into_bytes()));
        }
        let reply = request(&self.peer, &msg.payload, Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        Ok(Some(reply))
    }
}

r1_guest::export_actor!(Ping);
