//! Semantic search as an actor: documents are embedded with the node's sentence-embedding
//! model and kept in CSTORE; queries return the nearest documents by cosine similarity.
//!
//! Grants: `infer:all-minilm-l6-v2` (or the model named by config `model`) and
//! `cstore:<namespace>`. Messages (text):
//! - `add <id> <text…>`   → `added <id>`
//! - `query <k> <text…>`  → up to k lines `<score>\t<id>\t<text>`, best first
//! - `info`               → the model's name, dimension, token limit and device
//!
//! CSTORE layout (inside the granted namespace): `doc/<id>` = the vector as little-endian
//! f32s, `text/<id>` = the document. Vectors are L2-normalised, so cosine is a dot product.

use r1_guest::infer::{self, Model};
use r1_guest::vectors::{from_bytes, to_bytes};
use r1_guest::{Actor, Config, Message, cstore};

struct Search {
    model: Model,
}

fn err(e: impl std::fmt::Debug) -> String {
    format!("{e:?}")
}

impl Search {
    fn embed_one(&self, text: &str) -> Result<Vec<f32>, String> {
        let mut vectors = self.model.embed(&[text.to_owned()]).map_err(err)?;
        vectors.pop().ok_or_else(|| "the model returned no vector".into())
    }

    fn add(&self, id: &str, text: &str) -> Result<String, String> {
        if id.is_empty() || text.is_empty() {
            return Err("usage: add <id> <text>".into());
        }
        let vector = self.embed_one(text)?;
        cstore::set(&format!("text/{id}"), text.as_bytes()).map_err(err)?;
        cstore::set(&format!("doc/{id}"), &to_bytes(&vector)).map_err(err)?;
        Ok(format!("added {id}"))
    }

    fn query(&self, k: &str, text: &str) -> Result<String, String> {
        let k: usize = k
            .parse()
            .map_err(|_| format!("usage: query <k> <text> (k={k:?} is not a number)"))?;
        let query = self.embed_one(text)?;
        let mut scored = Vec::new();
        let mut cursor = None;
        loop {
            let page = cstore::list_keys("doc/", cursor.as_deref(), 256).map_err(err)?;
            for key in page.keys {
                let Some(bytes) = cstore::get(&key).map_err(err)? else {
                    continue;
                };
                let id = key.trim_start_matches("doc/").to_owned();
                scored.push((infer::cosine(&query, &from_bytes(&bytes)), id));
            }
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut out = Vec::new();
        for (score, id) in scored.into_iter().take(k) {
            let text = cstore::get_string(&format!("text/{id}"))
                .map_err(err)?
                .unwrap_or_default();
            out.push(format!("{score:.4}\t{id}\t{text}"));
        }
        Ok(out.join("\n"))
    }
}

impl Actor for Search {
    fn init(config: Config) -> Result<Self, String> {
        let name = config.get("model").unwrap_or("all-minilm-l6-v2");
        let model = infer::load(name).map_err(|e| format!("cannot open model {name}: {e:?}"))?;
        Ok(Search { model })
    }

    fn handle(&mut self, msg: Message) -> Result<Option<Vec<u8>>, String> {
        let text = msg.text();
        let (command, rest) = text.split_once(' ').unwrap_or((&text, ""));
        let (first, tail) = rest.split_once(' ').unwrap_or((rest, ""));
        let reply = match command {
            "add" => self.add(first, tail)?,
            "query" => self.query(first, tail)?,
            "info" => {
                let i = self.model.info();
                format!(
                    "{} dimension={} max_tokens={} device={}",
                    i.name, i.dimension, i.max_input, i.device
                )
            }
            other => return Err(format!("unknown command {other:?}: add, query or info")),
        };
        Ok(Some(reply.into_bytes()))
    }
}

r1_guest::export_actor!(Search);
