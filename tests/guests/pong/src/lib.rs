//! Benchmark guest: echoes every payload back.
use r1_guest::{Actor, Config, Message};

struct Pong;

impl Actor for Pong {
    fn init(_: Config) -> Result<Self, String> {
        Ok(Pong)
    }

    fn handle(&mut self, msg: Message) -> Result<Option<Vec<u8>>, String> {
        Ok(Some(msg.payload))
    }
}

r1_guest::export_actor!(Pong);
