//! Pipeline stage 2: subscribes to `in` (default `pipeline.raw`), turns each line into
//! "<UPPERCASED LINE> (<n> words)" and publishes it on `out` (default `pipeline.clean`).
use r1_guest::{Actor, Config, Message, publish, subscribe};

struct Transform {
    out: String,
}

impl Actor for Transform {
    fn init(config: Config) -> Result<Self, String> {
        subscribe(config.get_or("in", "pipeline.raw")).map_err(|e| e.to_string())?;
        Ok(Transform {
            out: config.get_or("out", "pipeline.clean").to_owned(),
        })
    }

    fn handle(&mut self, msg: Message) -> Result<Option<Vec<u8>>, String> {
        let text = msg.text();
        let words = text.split_whitespace().count();
        let line = format!("{} ({words} words)", text.to_uppercase());
        publish(&self.out, &line).map_err(|e| e.to_string())?;
        Ok(None)
    }
}

r1_guest::export_actor!(Transform);
