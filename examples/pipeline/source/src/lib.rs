//! Pipeline stage 1: splits each message it receives into lines and publishes every
//! non-empty line on the `out` topic (default `pipeline.raw`). Replies with the count.
use r1_guest::{Actor, Config, Message, publish};

struct Source {
    out: String,
}

impl Actor for Source {
    fn init(config: Config) -> Result<Self, String> {
        Ok(Source {
            out: config.get_or("out", "pipeline.raw").to_owned(),
        })
    }

    fn handle(&mut self, msg: Message) -> Result<Option<Vec<u8>>, String> {
        let mut sent = 0;
        for line in msg.text().lines().map(str::trim).filter(|l| !l.is_empty()) {
            publish(&self.out, line).map_err(|e| e.to_string())?;
            sent += 1;
        }
        Ok(Some(format!("published {sent} line(s) on {}", self.out).into_bytes()))
    }
}

r1_guest::export_actor!(Source);
