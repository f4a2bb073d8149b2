//! Test guest: on "grow" allocates without bound (until the host's memory limit stops it);
//! answers "alive" otherwise.
use r1_guest::{Actor, Config, Message};

struct Hog {
    hoard: Vec<Vec<u8>>,
}

impl Actor for Hog {
    fn init(_: Config) -> Result<Self, String> {
        Ok(Hog { hoard: Vec::new() })
    }

    fn handle(&mut self, msg: Message) -> Result<Option<Vec<u8>>, String> {
        if msg.payload == b"grow" {
            loop {
                self.hoard.push(vec![1u8; 1 << 20]);
            }
        }
        Ok(Some(format!("alive, holding {} MiB", self.hoard.len()).into_bytes()))
    }
}

r1_guest::export_actor!(Hog);
