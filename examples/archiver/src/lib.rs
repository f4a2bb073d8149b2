//! Stores what it receives in R1FS and passes the content id on.
//!
//! Subscribed to `in` (default `pipeline.clean`), it writes each message to a new R1FS file
//! and publishes the file's content id on `out` (default `pipeline.archived`). A direct
//! message is treated the same way and answered with the content id; a direct message
//! `read <cid>` is answered with that file's contents (fetched from peers if needed).
//! Needs `--grant r1fs`. With `--config encrypt=true` (and a `cstore:NS` grant, where the
//! host keeps each file's key) the files are encrypted: only actors granted `cstore:NS` can
//! read them.
use r1_guest::{Actor, Config, Message, fs, publish, subscribe};

struct Archiver {
    out: String,
    encrypt: bool,
}

impl Actor for Archiver {
    fn init(config: Config) -> Result<Self, String> {
        subscribe(config.get_or("in", "pipeline.clean")).map_err(|e| e.to_string())?;
        Ok(Archiver {
            out: config.get_or("out", "pipeline.archived").to_owned(),
            encrypt: config.get("encrypt") == Some("true"),
        })
    }

    fn handle(&mut self, msg: Message) -> Result<Option<Vec<u8>>, String> {
        if msg.topic.is_none()
            && let Some(cid) = msg.text().strip_prefix("read ")
        {
            return fs::read_all(cid.trim())
                .map(Some)
                .map_err(|e| format!("{e:?}"));
        }
        // Written in pieces through a writer, as a large output would be.
        let writer = fs::Writer::new(Some("archived-message"), self.encrypt);
        for piece in msg.payload.chunks(4096) {
            writer.write(piece).map_err(|e| format!("{e:?}"))?;
        }
        let cid = writer.finish().map_err(|e| format!("{e:?}"))?;
        publish(&self.out, &cid).map_err(|e| e.to_string())?;
        Ok(Some(cid.into_bytes()))
    }
}

r1_guest::export_actor!(Archiver);
