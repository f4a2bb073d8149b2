//! The data commands: what each does to CSTORE, in Redis's words where the semantics match.
//!
//! Strings: GET, SET [NX|XX], SETNX, GETSET, APPEND, STRLEN, MGET, MSET, DEL/UNLINK, EXISTS,
//! INCR, INCRBY, DECR, DECRBY, TYPE. Expiries on string keys: SET … EX|PX|EXAT|PXAT|KEEPTTL,
//! SETEX, PSETEX, EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, PERSIST, TTL, PTTL — CSTORE's expiry is
//! an absolute time carried by the write and replicated with it, so every node hides the value
//! from then on (by its own clock). Hashes: HSET/HMSET,
//! HGET, HMGET, HDEL, HGETALL, HKEYS, HVALS, HLEN, HEXISTS, HINCRBY. Keys: KEYS, SCAN [MATCH]
//! [COUNT] [TYPE], DBSIZE — string and hash keys alike, as in Redis. Refused with a reason:
//! an expiry on a hash key (CSTORE's hash fields are separate registers), FLUSHDB/FLUSHALL (a
//! replicated store would empty every node). Counters (`INCR…`, `HINCRBY`) are compare-and-swap loops:
//! exact on one node; across nodes the last writer wins, like every CSTORE write.

use crate::{CasOutcome, Cstore, CstoreError, Expiry};

use super::wire::Reply;

/// Every data command [`run`] serves.
pub(crate) const DATA: [&str; 44] = [
    "PING",
    "ECHO",
    "GET",
    "SET",
    "SETNX",
    "MGET",
    "MSET",
    "DEL",
    "UNLINK",
    "EXISTS",
    "TYPE",
    "TTL",
    "PTTL",
    "EXPIRE",
    "PEXPIRE",
    "EXPIREAT",
    "PEXPIREAT",
    "PERSIST",
    "GETEX",
    "SETEX",
    "PSETEX",
    "FLUSHDB",
    "FLUSHALL",
    "INCR",
    "DECR",
    "INCRBY",
    "DECRBY",
    "KEYS",
    "SCAN",
    "DBSIZE",
    "HSET",
    "HMSET",
    "HGET",
    "HMGET",
    "HEXISTS",
    "HDEL",
    "HGETALL",
    "HKEYS",
    "HVALS",
    "HLEN",
    "HINCRBY",
    "STRLEN",
    "APPEND",
    "GETSET",
];

/// Whether `command` writes (it then runs on the blocking pool, where writes share fsyncs).
pub(crate) fn is_write(command: &[u8]) -> bool {
    const WRITES: [&[u8]; 15] = [
        b"SET", b"SETNX", b"MSET", b"DEL", b"UNLINK", b"HSET", b"HMSET", b"HDEL", b"INCR",
        b"INCRBY", b"DECR", b"DECRBY", b"HINCRBY", b"APPEND", b"GETSET",
    ];
    WRITES.iter().any(|w| command.eq_ignore_ascii_case(w))
}

fn text(arg: &[u8]) -> Result<String, Reply> {
    String::from_utf8(arg.to_vec()).map_err(|_| Reply::Error("ERR keys must be UTF-8".into()))
}

fn int(arg: &[u8]) -> Result<i64, Reply> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Reply::Error("ERR value is not an integer or out of range".into()))
}

fn store_err(e: CstoreError) -> Reply {
    Reply::Error(format!("ERR {e}"))
}

pub(crate) fn wrong_args(cmd: &str) -> Reply {
    Reply::Error(format!(
        "ERR wrong number of arguments for '{}' command",
        cmd.to_ascii_lowercase()
    ))
}

/// Runs one data command (`None`: not a data command).
pub(crate) fn run(store: &Cstore, ns: &str, args: &[Vec<u8>]) -> Option<Reply> {
    let cmd = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
    if !DATA.contains(&cmd.as_str()) {
        return None;
    }
    Some(match dispatch(store, ns, &cmd, args) {
        Ok(reply) | Err(reply) => reply,
    })
}

/// Runs data command `cmd` (one of [`DATA`]).
fn dispatch(store: &Cstore, ns: &str, cmd: &str, args: &[Vec<u8>]) -> Result<Reply, Reply> {
    let n = args.len();
    let arity = |ok: bool| if ok { Ok(()) } else { Err(wrong_args(cmd)) };
    Ok(match cmd {
        "PING" => {
            arity(n <= 2)?;
            match args.get(1) {
                Some(m) => Reply::Bulk(m.clone()),
                None => Reply::Status("PONG"),
            }
        }
        "ECHO" => {
            arity(n == 2)?;
            Reply::Bulk(args[1].clone())
        }
        "GET" => {
            arity(n == 2)?;
            Reply::maybe(store.get(ns, &text(&args[1])?).map_err(store_err)?)
        }
        "SET" => {
            arity(n >= 3)?;
            set(store, ns, args)?
        }
        "SETNX" => {
            arity(n == 3)?;
            let key = text(&args[1])?;
            if store.exists(ns, &key).map_err(store_err)? {
                Reply::Int(0)
            } else {
                store.set(ns, &key, &args[2]).map_err(store_err)?;
                Reply::Int(1)
            }
        }
        "MGET" => {
            arity(n >= 2)?;
            let mut out = Vec::with_capacity(n - 1);
            for k in &args[1..] {
                out.push(Reply::maybe(store.get(ns, &text(k)?).map_err(store_err)?));
            }
            Reply::Array(out)
        }
        "MSET" => {
            arity(n >= 3 && !n.is_multiple_of(2))?;
            for pair in args[1..].chunks(2) {
                store
                    .set(ns, &text(&pair[0])?, &pair[1])
                    .map_err(store_err)?;
            }
            Reply::Status("OK")
        }
        "DEL" | "UNLINK" => {
            arity(n >= 2)?;
            let mut count = 0;
            for k in &args[1..] {
                let key = text(k)?;
                let mut gone = store.delete(ns, &key).map_err(store_err)?;
                for field in store.hkeys(ns, &key).map_err(store_err)? {
                    gone |= store.hdel(ns, &key, &field).map_err(store_err)?;
                }
                count += i64::from(gone);
            }
            Reply::Int(count)
        }
        "EXISTS" => {
            arity(n >= 2)?;
            let mut count = 0;
            for k in &args[1..] {
                count += i64::from(kind_of(store, ns, &text(k)?)? != "none");
            }
            Reply::Int(count)
        }
        "TYPE" => {
            arity(n == 2)?;
            Reply::Status(kind_of(store, ns, &text(&args[1])?)?)
        }
        "TTL" | "PTTL" => {
            arity(n == 2)?;
            let key = text(&args[1])?;
            match store.expiry(ns, &key).map_err(store_err)? {
                Some(0) => Reply::Int(-1),
                Some(at) => {
                    let left = at.saturating_sub(crate::now_ms());
                    // Redis rounds TTL's seconds to the nearest.
                    Reply::Int(if cmd == "TTL" {
                        left.div_ceil(1000)
                    } else {
                        left
                    } as i64)
                }
                None if kind_of(store, ns, &key)? == "hash" => Reply::Int(-1),
                None => Reply::Int(-2),
            }
        }
        "EXPIRE" | "PEXPIRE" | "EXPIREAT" | "PEXPIREAT" => {
            arity(n == 3)?;
            let key = text(&args[1])?;
            let amount = int(&args[2])?;
            let at = match cmd {
                "EXPIRE" => expiry_in(amount, 1000)?,
                "PEXPIRE" => expiry_in(amount, 1)?,
                "EXPIREAT" => expiry_at(amount, 1000)?,
                _ => expiry_at(amount, 1)?,
            };
            no_hash_expiry(store, ns, &key)?;
            Reply::Int(i64::from(
                store.expire(ns, &key, Expiry::At(at)).map_err(store_err)?,
            ))
        }
        "PERSIST" => {
            arity(n == 2)?;
            let key = text(&args[1])?;
            let persisted = match store.expiry(ns, &key).map_err(store_err)? {
                Some(at) if at != 0 => store.expire(ns, &key, Expiry::Never).map_err(store_err)?,
                _ => false,
            };
            Reply::Int(i64::from(persisted))
        }
        "GETEX" => {
            return Err(Reply::Error(
                "ERR GETEX is not supported by CSTORE; use GET, then EXPIRE or PERSIST".into(),
            ));
        }
        "SETEX" | "PSETEX" => {
            arity(n == 4)?;
            let unit = if cmd == "SETEX" { 1000 } else { 1 };
            let at = expiry_in(int(&args[2])?, unit)?;
            store
                .set_expiring(ns, &text(&args[1])?, &args[3], Expiry::At(at))
                .map_err(store_err)?;
            Reply::Status("OK")
        }
        "FLUSHDB" | "FLUSHALL" => {
            return Err(Reply::Error(format!(
                "ERR {cmd} is refused: CSTORE is replicated, so it would empty this namespace on every node; delete keys explicitly"
            )));
        }
        "INCR" | "DECR" => {
            arity(n == 2)?;
            add(
                store,
                ns,
                &text(&args[1])?,
                if cmd == "INCR" { 1 } else { -1 },
            )?
        }
        "INCRBY" | "DECRBY" => {
            arity(n == 3)?;
            let by = int(&args[2])?;
            let by = if cmd == "INCRBY" {
                by
            } else {
                by.checked_neg().ok_or_else(overflow)?
            };
            add(store, ns, &text(&args[1])?, by)?
        }
        "KEYS" => {
            arity(n == 2)?;
            let pattern = args[1].clone();
            Reply::Array(
                all_keys(store, ns)?
                    .into_iter()
                    .filter(|k| glob(&pattern, k.as_bytes()))
                    .map(Reply::text)
                    .collect(),
            )
        }
        "SCAN" => {
            arity(n >= 2)?;
            scan(store, ns, args)?
        }
        "DBSIZE" => {
            arity(n == 1)?;
            Reply::Int(all_keys(store, ns)?.len() as i64)
        }
        "HSET" | "HMSET" => {
            arity(n >= 4 && n.is_multiple_of(2))?;
            let key = text(&args[1])?;
            let mut added = 0;
            for pair in args[2..].chunks(2) {
                added += i64::from(
                    store
                        .hset(ns, &key, &text(&pair[0])?, &pair[1])
                        .map_err(store_err)?,
                );
            }
            if cmd == "HMSET" {
                Reply::Status("OK")
            } else {
                Reply::Int(added)
            }
        }
        "HGET" => {
            arity(n == 3)?;
            Reply::maybe(
                store
                    .hget(ns, &text(&args[1])?, &text(&args[2])?)
                    .map_err(store_err)?,
            )
        }
        "HMGET" => {
            arity(n >= 3)?;
            let key = text(&args[1])?;
            let mut out = Vec::new();
            for f in &args[2..] {
                out.push(Reply::maybe(
                    store.hget(ns, &key, &text(f)?).map_err(store_err)?,
                ));
            }
            Reply::Array(out)
        }
        "HEXISTS" => {
            arity(n == 3)?;
            let found = store
                .hget(ns, &text(&args[1])?, &text(&args[2])?)
                .map_err(store_err)?;
            Reply::Int(i64::from(found.is_some()))
        }
        "HDEL" => {
            arity(n >= 3)?;
            let key = text(&args[1])?;
            let mut count = 0;
            for f in &args[2..] {
                count += i64::from(store.hdel(ns, &key, &text(f)?).map_err(store_err)?);
            }
            Reply::Int(count)
        }
        "HGETALL" => {
            arity(n == 2)?;
            Reply::Map(
                store
                    .hgetall(ns, &text(&args[1])?)
                    .map_err(store_err)?
                    .into_iter()
                    .map(|(f, v)| (Reply::text(f), Reply::Bulk(v)))
                    .collect(),
            )
        }
        "HKEYS" | "HVALS" | "HLEN" => {
            arity(n == 2)?;
            let all = store.hgetall(ns, &text(&args[1])?).map_err(store_err)?;
            match cmd {
                "HLEN" => Reply::Int(all.len() as i64),
                "HKEYS" => Reply::Array(all.into_iter().map(|(f, _)| Reply::text(f)).collect()),
                _ => Reply::Array(all.into_iter().map(|(_, v)| Reply::Bulk(v)).collect()),
            }
        }
        "STRLEN" => {
            arity(n == 2)?;
            let v = store.get(ns, &text(&args[1])?).map_err(store_err)?;
            Reply::Int(v.map_or(0, |v| v.len() as i64))
        }
        "APPEND" | "GETSET" => {
            arity(n == 3)?;
            swap(store, ns, &text(&args[1])?, &args[2], cmd == "APPEND")?
        }
        "HINCRBY" => {
            arity(n == 4)?;
            hincrby(
                store,
                ns,
                &text(&args[1])?,
                &text(&args[2])?,
                int(&args[3])?,
            )?
        }
        other => return Err(Reply::Error(format!("ERR unknown command '{other}'"))),
    })
}

fn overflow() -> Reply {
    Reply::Error("ERR increment or decrement would overflow".into())
}

/// An expiry `amount` units (ms per unit) from now; Redis refuses a non-positive one.
fn expiry_in(amount: i64, unit_ms: u64) -> Result<u64, Reply> {
    let ms = u64::try_from(amount)
        .ok()
        .filter(|a| *a > 0)
        .and_then(|a| a.checked_mul(unit_ms))
        .ok_or_else(|| Reply::Error("ERR invalid expire time".into()))?;
    Ok(crate::now_ms().saturating_add(ms))
}

/// An expiry at Unix time `amount` (ms per unit); one in the past expires the key at once.
fn expiry_at(amount: i64, unit_ms: u64) -> Result<u64, Reply> {
    u64::try_from(amount)
        .ok()
        .and_then(|a| a.checked_mul(unit_ms))
        .map(|ms| ms.max(1))
        .ok_or_else(|| Reply::Error("ERR invalid expire time".into()))
}

/// Refuses an expiry on a hash key, with the reason.
fn no_hash_expiry(store: &Cstore, ns: &str, key: &str) -> Result<(), Reply> {
    if !store.exists(ns, key).map_err(store_err)? && kind_of(store, ns, key)? == "hash" {
        return Err(Reply::Error(
            "ERR an expiry on a hash is not supported: CSTORE keeps each hash field as its own register"
                .into(),
        ));
    }
    Ok(())
}

/// `SET key value [NX|XX] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]`.
fn set(store: &Cstore, ns: &str, args: &[Vec<u8>]) -> Result<Reply, Reply> {
    let key = text(&args[1])?;
    let (mut nx, mut xx) = (false, false);
    let mut expiry: Option<Expiry> = None;
    let mut opts = args[3..].iter();
    while let Some(opt) = opts.next() {
        let opt = String::from_utf8_lossy(opt).to_ascii_uppercase();
        let mut amount = || -> Result<i64, Reply> {
            int(opts
                .next()
                .ok_or_else(|| Reply::Error("ERR syntax error".into()))?)
        };
        let this = match opt.as_str() {
            "NX" => {
                nx = true;
                continue;
            }
            "XX" => {
                xx = true;
                continue;
            }
            "EX" => Expiry::At(expiry_in(amount()?, 1000)?),
            "PX" => Expiry::At(expiry_in(amount()?, 1)?),
            "EXAT" => Expiry::At(expiry_at(amount()?, 1000)?),
            "PXAT" => Expiry::At(expiry_at(amount()?, 1)?),
            "KEEPTTL" => Expiry::Keep,
            "GET" => {
                return Err(Reply::Error(
                    "ERR SET … GET is not supported by CSTORE; use GETSET".into(),
                ));
            }
            other => {
                return Err(Reply::Error(format!(
                    "ERR SET option {other} is not supported by CSTORE"
                )));
            }
        };
        if expiry.replace(this).is_some() {
            return Err(Reply::Error("ERR syntax error".into()));
        }
    }
    if nx && xx {
        return Err(Reply::Error("ERR syntax error".into()));
    }
    if nx || xx {
        let exists = store.exists(ns, &key).map_err(store_err)?;
        if (nx && exists) || (xx && !exists) {
            return Ok(Reply::Null);
        }
    }
    store
        .set_expiring(ns, &key, &args[2], expiry.unwrap_or_default())
        .map_err(store_err)?;
    Ok(Reply::Status("OK"))
}

/// Redis's type name of `key`: `string`, `hash` or `none`.
fn kind_of(store: &Cstore, ns: &str, key: &str) -> Result<&'static str, Reply> {
    if store.exists(ns, key).map_err(store_err)? {
        return Ok("string");
    }
    let page = store.list_hash_keys(ns, key, None, 1).map_err(store_err)?;
    Ok(if page.keys.first().is_some_and(|k| k == key) {
        "hash"
    } else {
        "none"
    })
}

/// Adds `by` to the integer at `key` (absent: 0), by compare-and-swap.
fn add(store: &Cstore, ns: &str, key: &str, by: i64) -> Result<Reply, Reply> {
    loop {
        let (current, version) = match store.get_versioned(ns, key).map_err(store_err)? {
            None => (0i64, 0),
            Some(v) => (int(&v.value)?, v.version),
        };
        let next = current.checked_add(by).ok_or_else(overflow)?;
        match store
            .compare_and_swap(ns, key, version, next.to_string().as_bytes())
            .map_err(store_err)?
        {
            CasOutcome::Swapped(_) => return Ok(Reply::Int(next)),
            CasOutcome::Conflict(_) => continue,
        }
    }
}

/// `APPEND` (new value = old + `value`, replies the new length) or `GETSET` (replies the old
/// value), by compare-and-swap.
fn swap(store: &Cstore, ns: &str, key: &str, value: &[u8], append: bool) -> Result<Reply, Reply> {
    loop {
        let (old, version) = match store.get_versioned(ns, key).map_err(store_err)? {
            None => (None, 0),
            Some(v) => (Some(v.value), v.version),
        };
        let new = if append {
            let mut n = old.clone().unwrap_or_default();
            n.extend_from_slice(value);
            n
        } else {
            value.to_vec()
        };
        if let CasOutcome::Swapped(_) = store
            .compare_and_swap(ns, key, version, &new)
            .map_err(store_err)?
        {
            return Ok(if append {
                Reply::Int(new.len() as i64)
            } else {
                Reply::maybe(old)
            });
        }
    }
}

/// Adds `by` to the integer in `field` of hash `key`. Hash fields have no compare-and-swap, so
/// this is read-add-write: exact for one writer, last-writer-wins between concurrent ones.
fn hincrby(store: &Cstore, ns: &str, key: &str, field: &str, by: i64) -> Result<Reply, Reply> {
    let current = match store.hget(ns, key, field).map_err(store_err)? {
        None => 0,
        Some(v) => int(&v).map_err(|_| Reply::Error("ERR hash value is not an integer".into()))?,
    };
    let next = current.checked_add(by).ok_or_else(overflow)?;
    store
        .hset(ns, key, field, next.to_string().as_bytes())
        .map_err(store_err)?;
    Ok(Reply::Int(next))
}

/// Every key of `ns`, strings and hashes, in order (a name used for both appears once).
fn all_keys(store: &Cstore, ns: &str) -> Result<Vec<String>, Reply> {
    let mut keys = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let (page, next) = merged_page(store, ns, cursor.as_deref(), crate::MAX_PAGE)?;
        keys.extend(page);
        match next {
            Some(c) => cursor = Some(c),
            None => return Ok(keys),
        }
    }
}

/// Up to `count` keys after `after`, strings and hashes merged in order, and the cursor to go
/// on from (`None`: done).
fn merged_page(
    store: &Cstore,
    ns: &str,
    after: Option<&str>,
    count: usize,
) -> Result<(Vec<String>, Option<String>), Reply> {
    let strings = store.list_keys(ns, "", after, count).map_err(store_err)?;
    let hashes = store
        .list_hash_keys(ns, "", after, count)
        .map_err(store_err)?;
    let mut merged: Vec<String> = strings.keys;
    merged.extend(hashes.keys);
    merged.sort();
    merged.dedup();
    let more = strings.cursor.is_some() || hashes.cursor.is_some() || merged.len() > count;
    merged.truncate(count);
    let next = if more { merged.last().cloned() } else { None };
    Ok((merged, next))
}

/// Where each open SCAN stands: cursor number → the last key it returned. Clients parse a
/// cursor as an integer, so the key itself cannot be the cursor; the table is shared by every
/// connection (a client's pool may continue a scan on another one) and bounded: the oldest
/// cursors are forgotten first, and a forgotten cursor is an error, not a silent restart.
struct Cursors {
    next: u64,
    open: std::collections::BTreeMap<u64, String>,
}

/// Open scans kept.
const MAX_CURSORS: usize = 4096;

static CURSORS: std::sync::Mutex<Cursors> = std::sync::Mutex::new(Cursors {
    next: 1,
    open: std::collections::BTreeMap::new(),
});

fn cursors() -> std::sync::MutexGuard<'static, Cursors> {
    CURSORS.lock().unwrap_or_else(|p| p.into_inner())
}

/// SCAN's cursor is "0" to start and end; otherwise a number standing for the last key returned.
fn scan(store: &Cstore, ns: &str, args: &[Vec<u8>]) -> Result<Reply, Reply> {
    let cursor = text(&args[1])?;
    let mut pattern: Option<Vec<u8>> = None;
    let mut kind: Option<String> = None;
    let mut count = 10usize;
    let mut i = 2;
    while i + 1 < args.len() {
        match String::from_utf8_lossy(&args[i])
            .to_ascii_uppercase()
            .as_str()
        {
            "MATCH" => pattern = Some(args[i + 1].clone()),
            "COUNT" => count = usize::try_from(int(&args[i + 1])?).unwrap_or(10),
            "TYPE" => kind = Some(text(&args[i + 1])?.to_ascii_lowercase()),
            _ => return Err(Reply::Error("ERR syntax error".into())),
        }
        i += 2;
    }
    if i != args.len() {
        return Err(Reply::Error("ERR syntax error".into()));
    }
    let number: u64 = cursor
        .parse()
        .map_err(|_| Reply::Error("ERR invalid cursor".into()))?;
    let after = match number {
        0 => None,
        n => {
            let invalid = || {
                Reply::Error("ERR invalid cursor (unknown or expired; start again from 0)".into())
            };
            let entry = cursors().open.remove(&n).ok_or_else(invalid)?;
            match entry.split_once('\0') {
                Some((owner, last)) if owner == ns => Some(last.to_owned()),
                _ => return Err(invalid()),
            }
        }
    };
    let (page, next) = merged_page(store, ns, after.as_deref(), count.max(1))?;
    let mut keys = Vec::new();
    for k in page {
        if pattern.as_ref().is_some_and(|p| !glob(p, k.as_bytes())) {
            continue;
        }
        if let Some(want) = &kind
            && kind_of(store, ns, &k)? != want
        {
            continue;
        }
        keys.push(Reply::text(k));
    }
    let next = match next {
        None => "0".to_owned(),
        Some(last) => {
            let mut table = cursors();
            let n = table.next;
            table.next += 1;
            table.open.insert(n, format!("{ns}\0{last}"));
            while table.open.len() > MAX_CURSORS {
                table.open.pop_first();
            }
            n.to_string()
        }
    };
    Ok(Reply::Array(vec![Reply::text(next), Reply::Array(keys)]))
}

/// Redis-style glob: `*`, `?`, `[abc]`, `\x`.
pub(crate) fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob(&pattern[1..], text) || (!text.is_empty() && glob(pattern, &text[1..]))
        }
        (Some(b'?'), Some(_)) => glob(&pattern[1..], &text[1..]),
        (Some(b'['), Some(c)) => match pattern.iter().position(|b| *b == b']') {
            Some(end) if end > 1 => {
                pattern[1..end].contains(c) && glob(&pattern[end + 1..], &text[1..])
            }
            _ => *c == b'[' && glob(&pattern[1..], &text[1..]),
        },
        (Some(b'\\'), Some(c)) if pattern.len() > 1 => {
            pattern[1] == *c && glob(&pattern[2..], &text[1..])
        }
        (Some(p), Some(c)) => p == c && glob(&pattern[1..], &text[1..]),
        _ => false,
    }
}
