//! Counts the messages it receives in CSTORE, so the count survives restarts of the actor and
//! of the node. Needs `--grant cstore:<namespace>`; replies with the new count.
use r1_guest::{Actor, Config, Message, cstore};

struct Counter {
    key: String,
}

impl Actor for Counter {
    fn init(config: Config) -> Result<Self, String> {
        let key = config.get_or("key", "count").to_owned();
        Ok(Counter { key })
    }

    fn handle(&mut self, _msg: Message) -> Result<Option<Vec<u8>>, String> {
        let count = cstore::incr(&self.key, 1).map_err(|e| e.to_string())?;
        Ok(Some(count.to_string().into_bytes()))
    }
}

r1_guest::export_actor!(Counter);
