//! Test guest: loops forever on "spin"; answers "alive" otherwise.
use r1_guest::{Actor, Config, Message};

struct Looper;

impl Actor for Looper {
    fn init(_: Config) -> Result<Self, String> {
        Ok(Looper)
    }

    fn handle(&mut self, msg: Message) -> Result<Option<Vec<u8>>, String> {
        if msg.payload == b"spin" {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        Ok(Some(b"alive".to_vec()))
    }
}

r1_guest::export_actor!(Looper);
