//! A Deeploy test replica; prints `replica VERSION ready as NAME` when it starts. Config: `version` (echoed in every reply), `healthy` (`false`: the
//! health message fails, to exercise auto-revert). Messages: `health` → `ok` (or an error);
//! `who` → `VERSION INSTANCE`; anything else → `VERSION:TEXT`.

use r1_guest::{Actor, Config, Message};

struct Replica {
    version: String,
    healthy: bool,
}

impl Actor for Replica {
    fn init(config: Config) -> Result<Self, String> {
        let version = config.get_or("version", "?").to_owned();
        println!("replica {version} ready as {}", r1_guest::self_address());
        Ok(Replica {
            version,
            healthy: config.get_or("healthy", "true") != "false",
        })
    }

    fn handle(&mut self, message: Message) -> Result<Option<Vec<u8>>, String> {
        let reply = match message.text().as_ref() {
            "health" if self.healthy => "ok".to_owned(),
            "health" => return Err("unhealthy by configuration".into()),
            "who" => format!("{} {}", self.version, r1_guest::self_address()),
            text => format!("{}:{text}", self.version),
        };
        Ok(Some(reply.into_bytes()))
    }
}

r1_guest::export_actor!(Replica);
