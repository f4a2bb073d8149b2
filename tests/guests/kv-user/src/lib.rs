//! Test guest: exercises wasi:keyvalue@0.2.0-draft2 (store, atomics, batch) and replies with
//! what it observed, one fact per line.
use r1_guest::{Actor, Config, Message};

mod kv {
    wit_bindgen::generate!({
        path: "../../../wit/keyvalue",
        world: "wasi:keyvalue/imports@0.2.0-draft2",
        generate_all,
    });
}

use kv::wasi::keyvalue::{atomics, batch, store};

struct KvUser;

fn run() -> Result<String, store::Error> {
    let bucket = store::open("default")?;
    let mut out = Vec::new();
    bucket.set("greeting", b"hello")?;
    let got = bucket.get("greeting")?.unwrap_or_default();
    out.push(format!("get={}", String::from_utf8_lossy(&got)));
    out.push(format!("exists={}", bucket.exists("greeting")?));
    out.push(format!("incr={}", atomics::increment(&bucket, "counter", 5)?));
    out.push(format!("incr={}", atomics::increment(&bucket, "counter", -2)?));
    batch::set_many(&bucket, &[("b1".into(), b"x".to_vec()), ("b2".into(), b"y".to_vec())])?;
    let many = batch::get_many(&bucket, &["b1".into(), "missing".into(), "b2".into()])?;
    out.push(format!(
        "many={}",
        many.iter()
            .map(|e| e.as_ref().map_or("-".to_owned(), |(k, v)| format!("{k}:{}", String::from_utf8_lossy(v))))
            .collect::<Vec<_>>()
            .join(",")
    ));
    let cas = atomics::Cas::new(&bucket, "greeting")?;
    let seen = cas.current()?.unwrap_or_default();
    // Someone else writes in between: the swap must fail.
    bucket.set("greeting", b"changed")?;
    match atomics::swap(cas, b"swapped") {
        Err(atomics::CasError::CasFailed(_)) => out.push(format!("cas=failed-after-{}", String::from_utf8_lossy(&seen))),
        Err(atomics::CasError::StoreError(e)) => return Err(e),
        Ok(()) => out.push("cas=unexpectedly-swapped".into()),
    }
    let cas = atomics::Cas::new(&bucket, "greeting")?;
    match atomics::swap(cas, b"swapped") {
        Ok(()) => out.push("cas=swapped".into()),
        Err(_) => out.push("cas=failed".into()),
    }
    batch::delete_many(&bucket, &["b1".into()])?;
    bucket.delete("b2")?;
    let other = store::open("other")?;
    other.set("k", b"in other bucket")?;
    let keys = bucket.list_keys(None)?;
    out.push(format!("keys={}", keys.keys.join(",")));
    out.push(format!("other-keys={}", other.list_keys(None)?.keys.join(",")));
    Ok(out.join("\n"))
}

impl Actor for KvUser {
    fn init(_: Config) -> Result<Self, String> {
        Ok(KvUser)
    }

    fn handle(&mut self, _msg: Message) -> Result<Option<Vec<u8>>, String> {
        run().map(|s| Some(s.into_bytes())).map_err(|e| format!("{e:?}"))
    }
}

r1_guest::export_actor!(KvUser);
