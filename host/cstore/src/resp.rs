//! A RESP2 (Redis protocol) face for CSTORE, so any Redis client, `redis-cli` and
//! `redis-benchmark` can use it. Loopback by default; every key lives in one namespace.
//!
//! Commands: PING, ECHO, GET, SET [NX|XX], DEL, EXISTS, KEYS, SCAN [MATCH] [COUNT], HSET,
//! HGET, HDEL, HGETALL, INCR, plus the handshakes clients send (COMMAND, CONFIG GET, CLIENT,
//! SELECT 0, QUIT). Writes are durable (and queued for replication) before the reply.

use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::{CasOutcome, Cstore, CstoreError};

/// Largest bulk string or array accepted from a client.
const MAX_BULK: usize = crate::MAX_VALUE_BYTES + 1024;
const MAX_ARGS: usize = 1024 * 1024;

/// Binds `addr` and serves RESP on a dedicated thread; returns the bound address.
pub fn serve(store: Cstore, namespace: String, addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let std_listener = std::net::TcpListener::bind(addr)?;
    std_listener.set_nonblocking(true)?;
    let bound = std_listener.local_addr()?;
    std::thread::Builder::new()
        .name("r1-resp".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("RESP runtime failed: {e}");
                    return;
                }
            };
            runtime.block_on(async move {
                let listener = match TcpListener::from_std(std_listener) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!("RESP listener failed: {e}");
                        return;
                    }
                };
                loop {
                    match listener.accept().await {
                        Ok((stream, _)) => {
                            let _ = stream.set_nodelay(true);
                            let store = store.clone();
                            let ns = namespace.clone();
                            tokio::spawn(async move {
                                if let Err(e) = connection(stream, store, ns).await {
                                    tracing::debug!("RESP connection closed: {e}");
                                }
                            });
                        }
                        Err(e) => tracing::warn!("RESP accept failed: {e}"),
                    }
                }
            });
        })?;
    Ok(bound)
}

enum Reply {
    Simple(&'static str),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

impl Reply {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Simple(s) => {
                out.push(b'+');
                out.extend_from_slice(s.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            Reply::Error(e) => {
                out.push(b'-');
                out.extend_from_slice(e.replace(['\r', '\n'], " ").as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            Reply::Int(n) => out.extend_from_slice(format!(":{n}\r\n").as_bytes()),
            Reply::Bulk(None) => out.extend_from_slice(b"$-1\r\n"),
            Reply::Bulk(Some(b)) => {
                out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
                out.extend_from_slice(b);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Array(items) => {
                out.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes());
                for item in items {
                    item.write(out);
                }
            }
        }
    }
}

fn bulk_str(s: String) -> Reply {
    Reply::Bulk(Some(s.into_bytes()))
}

async fn read_line(reader: &mut BufReader<TcpStream>, line: &mut Vec<u8>) -> std::io::Result<bool> {
    line.clear();
    let n = reader.read_until(b'\n', line).await?;
    if n == 0 {
        return Ok(false);
    }
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    Ok(true)
}

fn parse_len(bytes: &[u8], max: usize) -> Result<usize, String> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|n| *n <= max)
        .ok_or_else(|| "ERR Protocol error: invalid length".to_owned())
}

/// Whether a command's first word is really the start of an HTTP request (`POST /…`,
/// `Host: …`). `GET` is a RESP command too, so it cannot be told apart here; a browser's GET
/// has no body, so nothing after its request line could run as a command anyway.
fn looks_like_http(first: &[u8]) -> bool {
    first.eq_ignore_ascii_case(b"POST")
        || first.eq_ignore_ascii_case(b"PUT")
        || first.eq_ignore_ascii_case(b"HOST:")
}

/// Reads one command: a RESP array of bulk strings, or an inline line.
async fn read_command(
    reader: &mut BufReader<TcpStream>,
    line: &mut Vec<u8>,
) -> std::io::Result<Option<Result<Vec<Vec<u8>>, String>>> {
    if !read_line(reader, line).await? {
        return Ok(None);
    }
    if line.first() != Some(&b'*') {
        let args = line
            .split(|b| *b == b' ')
            .filter(|a| !a.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        return Ok(Some(Ok(args)));
    }
    let count = match parse_len(&line[1..], MAX_ARGS) {
        Ok(n) => n,
        Err(e) => return Ok(Some(Err(e))),
    };
    let mut args = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        if !read_line(reader, line).await? {
            return Ok(None);
        }
        if line.first() != Some(&b'$') {
            return Ok(Some(Err("ERR Protocol error: expected '$'".into())));
        }
        let len = match parse_len(&line[1..], MAX_BULK) {
            Ok(n) => n,
            Err(e) => return Ok(Some(Err(e))),
        };
        let mut arg = vec![0u8; len + 2];
        reader.read_exact(&mut arg).await?;
        arg.truncate(len);
        args.push(arg);
    }
    Ok(Some(Ok(args)))
}

async fn connection(stream: TcpStream, store: Cstore, ns: String) -> std::io::Result<()> {
    let peer = stream.peer_addr().ok();
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    let mut out = Vec::with_capacity(4096);
    loop {
        let Some(command) = read_command(&mut reader, &mut line).await? else {
            return Ok(());
        };
        let (reply, quit) = match command {
            Err(e) => (Reply::Error(e), true),
            Ok(args) if args.is_empty() => continue,
            // An HTTP request sent to this port (a web page posting to 127.0.0.1:6380): its
            // body would run as inline commands. Close before any of it does, as Redis does.
            Ok(args) if looks_like_http(&args[0]) => {
                tracing::warn!(peer = ?peer, "RESP: an HTTP request arrived; connection closed");
                return Ok(());
            }
            Ok(args) => {
                let quit = args[0].eq_ignore_ascii_case(b"QUIT");
                let reply = if is_write(&args[0]) {
                    // Writes wait for an fsync: run them on the blocking pool, where many
                    // connections' writes wait together and share one sync (group commit).
                    let (store, ns) = (store.clone(), ns.clone());
                    tokio::task::spawn_blocking(move || execute(&store, &ns, &args))
                        .await
                        .unwrap_or_else(|e| Reply::Error(format!("ERR internal: {e}")))
                } else {
                    execute(&store, &ns, &args)
                };
                (reply, quit)
            }
        };
        out.clear();
        reply.write(&mut out);
        reader.get_mut().write_all(&out).await?;
        if quit {
            return Ok(());
        }
    }
}

fn is_write(command: &[u8]) -> bool {
    [&b"SET"[..], b"DEL", b"HSET", b"HDEL", b"INCR"]
        .iter()
        .any(|w| command.eq_ignore_ascii_case(w))
}

fn text(arg: &[u8]) -> Result<String, Reply> {
    String::from_utf8(arg.to_vec()).map_err(|_| Reply::Error("ERR keys must be UTF-8".into()))
}

fn store_err(e: CstoreError) -> Reply {
    Reply::Error(format!("ERR {e}"))
}

fn wrong_args(cmd: &str) -> Reply {
    Reply::Error(format!(
        "ERR wrong number of arguments for '{}' command",
        cmd.to_ascii_lowercase()
    ))
}

fn execute(store: &Cstore, ns: &str, args: &[Vec<u8>]) -> Reply {
    match run(store, ns, args) {
        Ok(reply) | Err(reply) => reply,
    }
}

fn all_keys(store: &Cstore, ns: &str) -> Result<Vec<String>, Reply> {
    let mut keys = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .list_keys(ns, "", cursor.as_deref(), crate::MAX_PAGE)
            .map_err(store_err)?;
        keys.extend(page.keys);
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(keys),
        }
    }
}

fn run(store: &Cstore, ns: &str, args: &[Vec<u8>]) -> Result<Reply, Reply> {
    let cmd = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
    let n = args.len();
    Ok(match cmd.as_str() {
        "PING" => match n {
            1 => Reply::Simple("PONG"),
            2 => Reply::Bulk(Some(args[1].clone())),
            _ => return Err(wrong_args(&cmd)),
        },
        "ECHO" if n == 2 => Reply::Bulk(Some(args[1].clone())),
        "QUIT" | "SELECT" | "CLIENT" => Reply::Simple("OK"),
        "COMMAND" | "CONFIG" => Reply::Array(Vec::new()),
        "GET" if n == 2 => Reply::Bulk(store.get(ns, &text(&args[1])?).map_err(store_err)?),
        "SET" if n >= 3 => {
            let key = text(&args[1])?;
            let mut nx = false;
            let mut xx = false;
            for opt in &args[3..] {
                match String::from_utf8_lossy(opt).to_ascii_uppercase().as_str() {
                    "NX" => nx = true,
                    "XX" => xx = true,
                    other => {
                        return Err(Reply::Error(format!(
                            "ERR SET option {other} is not supported by CSTORE"
                        )));
                    }
                }
            }
            if nx || xx {
                let exists = store.exists(ns, &key).map_err(store_err)?;
                if (nx && exists) || (xx && !exists) {
                    return Ok(Reply::Bulk(None));
                }
            }
            store.set(ns, &key, &args[2]).map_err(store_err)?;
            Reply::Simple("OK")
        }
        "DEL" if n >= 2 => {
            let mut count = 0;
            for k in &args[1..] {
                count += i64::from(store.delete(ns, &text(k)?).map_err(store_err)?);
            }
            Reply::Int(count)
        }
        "EXISTS" if n >= 2 => {
            let mut count = 0;
            for k in &args[1..] {
                count += i64::from(store.exists(ns, &text(k)?).map_err(store_err)?);
            }
            Reply::Int(count)
        }
        "KEYS" if n == 2 => {
            let pattern = text(&args[1])?;
            Reply::Array(
                all_keys(store, ns)?
                    .into_iter()
                    .filter(|k| glob(pattern.as_bytes(), k.as_bytes()))
                    .map(bulk_str)
                    .collect(),
            )
        }
        "SCAN" if n >= 2 => scan(store, ns, args)?,
        "HSET" if n >= 4 && n.is_multiple_of(2) => {
            let key = text(&args[1])?;
            let mut added = 0;
            for pair in args[2..].chunks(2) {
                added += i64::from(
                    store
                        .hset(ns, &key, &text(&pair[0])?, &pair[1])
                        .map_err(store_err)?,
                );
            }
            Reply::Int(added)
        }
        "HGET" if n == 3 => Reply::Bulk(
            store
                .hget(ns, &text(&args[1])?, &text(&args[2])?)
                .map_err(store_err)?,
        ),
        "HDEL" if n >= 3 => {
            let key = text(&args[1])?;
            let mut count = 0;
            for f in &args[2..] {
                count += i64::from(store.hdel(ns, &key, &text(f)?).map_err(store_err)?);
            }
            Reply::Int(count)
        }
        "HGETALL" if n == 2 => Reply::Array(
            store
                .hgetall(ns, &text(&args[1])?)
                .map_err(store_err)?
                .into_iter()
                .flat_map(|(f, v)| [bulk_str(f), Reply::Bulk(Some(v))])
                .collect(),
        ),
        "INCR" if n == 2 => incr(store, ns, &text(&args[1])?)?,
        "ECHO" | "GET" | "SET" | "DEL" | "EXISTS" | "KEYS" | "SCAN" | "HSET" | "HGET" | "HDEL"
        | "HGETALL" | "INCR" => return Err(wrong_args(&cmd)),
        _ => {
            return Err(Reply::Error(format!(
                "ERR unknown command '{}'",
                String::from_utf8_lossy(&args[0])
            )));
        }
    })
}

fn incr(store: &Cstore, ns: &str, key: &str) -> Result<Reply, Reply> {
    loop {
        let (current, version) = match store.get_versioned(ns, key).map_err(store_err)? {
            None => (0i64, 0),
            Some(v) => {
                let n = std::str::from_utf8(&v.value)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .ok_or_else(|| {
                        Reply::Error("ERR value is not an integer or out of range".into())
                    })?;
                (n, v.version)
            }
        };
        let next = current
            .checked_add(1)
            .ok_or_else(|| Reply::Error("ERR increment or decrement would overflow".into()))?;
        match store
            .compare_and_swap(ns, key, version, next.to_string().as_bytes())
            .map_err(store_err)?
        {
            CasOutcome::Swapped(_) => return Ok(Reply::Int(next)),
            CasOutcome::Conflict(_) => continue,
        }
    }
}

/// SCAN's cursor is "0" to start and end; otherwise the hex of the last key returned.
fn scan(store: &Cstore, ns: &str, args: &[Vec<u8>]) -> Result<Reply, Reply> {
    let cursor = text(&args[1])?;
    let mut pattern: Option<String> = None;
    let mut count = 10usize;
    let mut i = 2;
    while i + 1 < args.len() {
        match String::from_utf8_lossy(&args[i])
            .to_ascii_uppercase()
            .as_str()
        {
            "MATCH" => pattern = Some(text(&args[i + 1])?),
            "COUNT" => {
                count = text(&args[i + 1])?.parse().map_err(|_| {
                    Reply::Error("ERR value is not an integer or out of range".into())
                })?
            }
            _ => return Err(Reply::Error("ERR syntax error".into())),
        }
        i += 2;
    }
    if i != args.len() {
        return Err(Reply::Error("ERR syntax error".into()));
    }
    let after = if cursor == "0" {
        None
    } else {
        let raw = (0..cursor.len())
            .step_by(2)
            .map(|j| u8::from_str_radix(cursor.get(j..j + 2).unwrap_or("zz"), 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| Reply::Error("ERR invalid cursor".into()))?;
        Some(String::from_utf8(raw).map_err(|_| Reply::Error("ERR invalid cursor".into()))?)
    };
    let page = store
        .list_keys(ns, "", after.as_deref(), count.max(1))
        .map_err(store_err)?;
    let next = match &page.cursor {
        Some(last) => hex::encode(last),
        None => "0".to_owned(),
    };
    let keys = page
        .keys
        .into_iter()
        .filter(|k| {
            pattern
                .as_ref()
                .is_none_or(|p| glob(p.as_bytes(), k.as_bytes()))
        })
        .map(bulk_str)
        .collect();
    Ok(Reply::Array(vec![bulk_str(next), Reply::Array(keys)]))
}

/// Redis-style glob: `*`, `?`, `[abc]`, `\x`.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
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

#[cfg(test)]
mod tests {
    use super::glob;
    use std::io::{Read, Write};

    #[test]
    fn an_http_request_is_closed_before_its_body_runs() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Cstore::open(dir.path()).unwrap();
        let addr = super::serve(store.clone(), "resp".into(), ([127, 0, 0, 1], 0).into()).unwrap();
        // What a web page's cross-origin "simple" POST to the RESP port looks like.
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        conn.write_all(
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n\r\nSET k evil\r\n",
        )
        .unwrap();
        let mut answer = Vec::new();
        conn.read_to_end(&mut answer).unwrap();
        assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
        assert_eq!(store.get("resp", "k").unwrap(), None);
        // A real client on the same port still works.
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        conn.write_all(b"SET k good\r\nQUIT\r\n").unwrap();
        let mut answer = Vec::new();
        conn.read_to_end(&mut answer).unwrap();
        assert!(
            answer.starts_with(b"+OK"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
        assert_eq!(store.get("resp", "k").unwrap(), Some(b"good".to_vec()));
    }

    #[test]
    fn globs_like_redis() {
        assert!(glob(b"*", b"anything"));
        assert!(glob(b"user:*", b"user:42"));
        assert!(!glob(b"user:*", b"users"));
        assert!(glob(b"h?llo", b"hello"));
        assert!(glob(b"h[ae]llo", b"hallo"));
        assert!(!glob(b"h[ae]llo", b"hillo"));
        assert!(glob(b"a\\*b", b"a*b"));
        assert!(glob(b"", b""));
        assert!(!glob(b"", b"x"));
    }
}
