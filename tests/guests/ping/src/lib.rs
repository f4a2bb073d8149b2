//! Benchmark guest: forwards every message to the actor named by config `peer` (default
//! "pong") with a request and returns its reply.
use std::time::Duration;

use r1_guest::{Actor, Config, Message, request};

struct Ping {
    peer: String,
}

impl Actor for Ping {
    fn init(config: Config) -> Result<Self, String> {
        Ok(Ping {
            peer: config.get_or("peer", "pong").to_owned(),
        })
    }

    fn handle(&mut self, msg: Message) -> Result<Option<Vec<u8>>, String> {
        let reply = request(&self.peer, &msg.payload, Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        Ok(Some(reply))
    }
}

r1_guest::export_actor!(Ping);
