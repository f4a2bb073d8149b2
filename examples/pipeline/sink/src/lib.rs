//! Pipeline stage 3: subscribes to `in` (default `pipeline.clean`), prints every line it
//! receives and appends it to the CSTORE hash `results` (needs `--grant cstore:<ns>`).
//! A direct message (not from the topic) is answered with every result so far, in order.
use r1_guest::{Actor, Config, Message, cstore, subscribe};

struct Sink;

impl Actor for Sink {
    fn init(config: Config) -> Result<Self, String> {
        subscribe(config.get_or("in", "pipeline.clean")).map_err(|e| e.to_string())?;
        Ok(Sink)
    }

    fn handle(&mut self, msg: Message) -> Result<Option<Vec<u8>>, String> {
        if msg.topic.is_none() {
            let mut lines = cstore::hgetall("results").map_err(|e| e.to_string())?;
            // Fields are zero-padded sequence numbers, so field order is arrival order.
            lines.sort();
            let all: Vec<String> = lines
                .into_iter()
                .map(|(_, v)| String::from_utf8_lossy(&v).into_owned())
                .collect();
            return Ok(Some(all.join("\n").into_bytes()));
        }
        let seq = cstore::incr("results.seq", 1).map_err(|e| e.to_string())?;
        let line = msg.text().into_owned();
        cstore::hset("results", &format!("{seq:010}"), line.as_bytes())
            .map_err(|e| e.to_string())?;
        println!("sink got #{seq}: {line}");
        Ok(None)
    }
}

r1_guest::export_actor!(Sink);
