//! Test guest: the message is a path; replies with that file's contents, or with
//! "error: ..." when WASI refuses to open it.
use r1_guest::{Actor, Config, Message};

struct FsProbe;

impl Actor for FsProbe {
    fn init(_: Config) -> Result<Self, String> {
        Ok(FsProbe)
    }

    fn handle(&mut self, msg: Message) -> Result<Option<Vec<u8>>, String> {
        let path = msg.text().trim().to_owned();
        let env: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
        if path == "env" {
            return Ok(Some(env.join(",").into_bytes()));
        }
        Ok(Some(match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) => format!("error: {e}").into_bytes(),
        }))
    }
}

r1_guest::export_actor!(FsProbe);
