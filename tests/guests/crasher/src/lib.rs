//! Test guest: traps on every message.
use r1_guest::{Actor, Config, Message};

struct Crasher;

impl Actor for Crasher {
    fn init(_: Config) -> Result<Self, String> {
        Ok(Crasher)
    }

    fn handle(&mut self, msg: Message) -> Result<Option<Vec<u8>>, String> {
        panic!("crasher always traps (got {} bytes)", msg.payload.len());
    }
}

r1_guest::export_actor!(Crasher);
