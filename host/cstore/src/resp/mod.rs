//! A Redis-protocol (RESP2 and RESP3) face for CSTORE, so Redis clients on their defaults,
//! `redis-cli` and `redis-benchmark` can use it. Loopback by default; every key lives in one
//! namespace (`[mesh] resp_namespace`).
//!
//! A connection speaks RESP2 until `HELLO 3` (what redis-py 5+ and node-redis send first);
//! `HELLO 2` stays on RESP2. Session commands: HELLO, CLIENT (SETNAME, GETNAME, SETINFO, ID),
//! SELECT 0 (the only database), INFO, COMMAND, CONFIG GET, QUIT, RESET, and MULTI/EXEC/DISCARD.
//! Data commands: [`commands`].
//!
//! **Transactions.** `MULTI` queues commands (each checked to be a known command: an unknown
//! one aborts the transaction at `EXEC`, as in Redis); `EXEC` runs them in order on this node,
//! each durable before `EXEC` answers, and replies with every result. Not isolated: another
//! client's writes may land between two queued commands; not atomic: a failing command does
//! not undo the others (Redis does not roll back either). `WATCH` is refused.
//!
//! **Pipelining.** Replies are written when the client has sent nothing more, so a pipeline of
//! N commands costs one write, not N. A plain `SET key value` is queued on the store's
//! committer without a thread waiting for it (the SETs of a pipeline, and of concurrent
//! connections, share one batch and one journal sync) and answered, in order, before the next
//! reply; other writes run on the blocking pool, where concurrent connections' writes also
//! share a sync (group commit).

mod commands;
mod wire;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::Cstore;
use wire::{Reply, looks_like_http, read_command};

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

static NEXT_ID: AtomicI64 = AtomicI64::new(1);

/// One client connection's state.
struct Session {
    id: i64,
    /// 2 or 3.
    protocol: u8,
    name: Option<String>,
    /// Commands queued since `MULTI`, and whether one was refused (then `EXEC` aborts).
    multi: Option<(Vec<Vec<Vec<u8>>>, bool)>,
}

/// What to do after a command: answer it, maybe close.
struct Step {
    reply: Reply,
    quit: bool,
}

async fn connection(stream: TcpStream, store: Cstore, ns: String) -> std::io::Result<()> {
    let peer = stream.peer_addr().ok();
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    let mut out = Vec::with_capacity(4096);
    let mut session = Session {
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        protocol: 2,
        name: None,
        multi: None,
    };
    // Plain SETs queued on the committer and not yet answered, in order.
    let mut queued: Vec<crate::Queued<u64>> = Vec::new();
    loop {
        let Some(command) = read_command(&mut reader, &mut line).await? else {
            return Ok(());
        };
        // A plain `SET key value` is queued and answered later, so the SETs of a pipeline
        // share a batch; anything else first answers what is queued (replies keep order).
        if let Ok(args) = &command
            && session.multi.is_none()
            && args.len() == 3
            && args[0].eq_ignore_ascii_case(b"SET")
            && let Ok(key) = std::str::from_utf8(&args[1])
        {
            match store.set_queued(&ns, key, &args[2]) {
                Ok(q) => queued.push(q),
                Err(e) => {
                    answer_queued(&mut queued, &mut out, session.protocol).await;
                    Reply::Error(format!("ERR {e}")).write(&mut out, session.protocol);
                }
            }
            if reader.buffer().is_empty() {
                answer_queued(&mut queued, &mut out, session.protocol).await;
                flush(&mut reader, &mut out, true).await?;
            }
            continue;
        }
        answer_queued(&mut queued, &mut out, session.protocol).await;
        // The commonest read, straight to the store (no command-table walk, no copies).
        if let Ok(args) = &command
            && session.multi.is_none()
            && args.len() == 2
            && args[0].eq_ignore_ascii_case(b"GET")
            && let Ok(key) = std::str::from_utf8(&args[1])
        {
            let reply = match store.get(&ns, key) {
                Ok(value) => Reply::maybe(value),
                Err(e) => Reply::Error(format!("ERR {e}")),
            };
            reply.write(&mut out, session.protocol);
            flush(&mut reader, &mut out, false).await?;
            continue;
        }
        let step = match command {
            Err(e) => Step {
                reply: Reply::Error(e),
                quit: true,
            },
            Ok(args) if args.is_empty() => continue,
            // An HTTP request sent to this port (a web page posting to 127.0.0.1:6380): its
            // body would run as inline commands. Close before any of it does, as Redis does.
            Ok(args) if looks_like_http(&args[0]) => {
                tracing::warn!(peer = ?peer, "RESP: an HTTP request arrived; connection closed");
                return Ok(());
            }
            Ok(args) => session.step(&store, &ns, args).await,
        };
        step.reply.write(&mut out, session.protocol);
        flush(&mut reader, &mut out, step.quit).await?;
        if step.quit {
            return Ok(());
        }
    }
}

/// Pipelining: writes the replies gathered in `out` once the client has sent nothing more
/// (or `now`).
async fn flush(
    reader: &mut BufReader<TcpStream>,
    out: &mut Vec<u8>,
    now: bool,
) -> std::io::Result<()> {
    if now || reader.buffer().is_empty() {
        reader.get_mut().write_all(out).await?;
        out.clear();
    }
    Ok(())
}

/// Answers the queued SETs, in order.
async fn answer_queued(queued: &mut Vec<crate::Queued<u64>>, out: &mut Vec<u8>, protocol: u8) {
    for q in queued.drain(..) {
        let reply = match q.wait().await {
            Ok(_) => Reply::Status("OK"),
            Err(e) => Reply::Error(format!("ERR {e}")),
        };
        reply.write(out, protocol);
    }
}

impl Session {
    async fn step(&mut self, store: &Cstore, ns: &str, args: Vec<Vec<u8>>) -> Step {
        let cmd = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
        let reply = |reply| Step { reply, quit: false };
        if let Some((queue, refused)) = &mut self.multi {
            match cmd.as_str() {
                "EXEC" | "DISCARD" | "MULTI" | "WATCH" | "QUIT" | "RESET" => {}
                _ if known(&cmd) => {
                    queue.push(args);
                    return reply(Reply::Status("QUEUED"));
                }
                _ => {
                    *refused = true;
                    return reply(unknown(&args[0]));
                }
            }
        }
        match cmd.as_str() {
            "QUIT" => Step {
                reply: Reply::Status("OK"),
                quit: true,
            },
            "RESET" => {
                self.protocol = 2;
                self.name = None;
                self.multi = None;
                reply(Reply::Status("RESET"))
            }
            "HELLO" => reply(self.hello(&args)),
            "CLIENT" => reply(self.client(&args)),
            "SELECT" => reply(match args.get(1).map(|a| a.as_slice()) {
                Some(b"0") if args.len() == 2 => Reply::Status("OK"),
                Some(_) if args.len() == 2 => {
                    Reply::Error("ERR DB index is out of range (CSTORE serves database 0)".into())
                }
                _ => commands::wrong_args(&cmd),
            }),
            "INFO" => reply(info(store, ns)),
            "COMMAND" => reply(Reply::Array(Vec::new())),
            "CONFIG" => reply(Reply::Map(Vec::new())),
            "WATCH" | "UNWATCH" => reply(Reply::Error(
                "ERR WATCH is not supported: CSTORE has no optimistic multi-key transactions"
                    .into(),
            )),
            "MULTI" if self.multi.is_some() => {
                reply(Reply::Error("ERR MULTI calls can not be nested".into()))
            }
            "MULTI" => {
                self.multi = Some((Vec::new(), false));
                reply(Reply::Status("OK"))
            }
            "DISCARD" => match self.multi.take() {
                Some(_) => reply(Reply::Status("OK")),
                None => reply(Reply::Error("ERR DISCARD without MULTI".into())),
            },
            "EXEC" => match self.multi.take() {
                None => reply(Reply::Error("ERR EXEC without MULTI".into())),
                Some((_, true)) => reply(Reply::Error(
                    "EXECABORT Transaction discarded because of previous errors.".into(),
                )),
                Some((queue, false)) => {
                    let (store, ns) = (store.clone(), ns.to_owned());
                    let replies = tokio::task::spawn_blocking(move || {
                        queue
                            .iter()
                            .map(|args| {
                                commands::run(&store, &ns, args)
                                    .unwrap_or_else(|| unknown(&args[0]))
                            })
                            .collect::<Vec<_>>()
                    })
                    .await
                    .unwrap_or_else(|e| vec![Reply::Error(format!("ERR internal: {e}"))]);
                    reply(Reply::Array(replies))
                }
            },
            _ if commands::is_write(&args[0]) => {
                // Writes wait for an fsync: run them on the blocking pool, where many
                // connections' writes wait together and share one sync (group commit).
                let (store, ns) = (store.clone(), ns.to_owned());
                let answer = tokio::task::spawn_blocking(move || {
                    commands::run(&store, &ns, &args).unwrap_or_else(|| unknown(&args[0]))
                })
                .await
                .unwrap_or_else(|e| Reply::Error(format!("ERR internal: {e}")));
                reply(answer)
            }
            _ => reply(commands::run(store, ns, &args).unwrap_or_else(|| unknown(&args[0]))),
        }
    }

    /// `HELLO [protover [AUTH user pass] [SETNAME name]]`.
    fn hello(&mut self, args: &[Vec<u8>]) -> Reply {
        if let Some(v) = args.get(1) {
            match v.as_slice() {
                b"2" => self.protocol = 2,
                b"3" => self.protocol = 3,
                _ => return Reply::Error("NOPROTO unsupported protocol version".into()),
            }
        }
        let mut i = 2;
        while i < args.len() {
            match String::from_utf8_lossy(&args[i])
                .to_ascii_uppercase()
                .as_str()
            {
                "SETNAME" if i + 1 < args.len() => {
                    self.name = Some(String::from_utf8_lossy(&args[i + 1]).into_owned());
                    i += 2;
                }
                "AUTH" if i + 2 < args.len() => {
                    return Reply::Error(
                        "ERR AUTH is not supported: the RESP listener is for loopback clients; use the node API's token for remote access".into(),
                    );
                }
                _ => return Reply::Error("ERR syntax error in HELLO".into()),
            }
        }
        Reply::Map(vec![
            (Reply::text("server"), Reply::text("redis")),
            (Reply::text("version"), Reply::text(REDIS_VERSION)),
            (Reply::text("proto"), Reply::Int(i64::from(self.protocol))),
            (Reply::text("id"), Reply::Int(self.id)),
            (Reply::text("mode"), Reply::text("standalone")),
            (Reply::text("role"), Reply::text("master")),
            (Reply::text("modules"), Reply::Array(Vec::new())),
        ])
    }

    /// `CLIENT SETNAME|GETNAME|SETINFO|ID|…`.
    fn client(&mut self, args: &[Vec<u8>]) -> Reply {
        let sub = args
            .get(1)
            .map(|s| String::from_utf8_lossy(s).to_ascii_uppercase())
            .unwrap_or_default();
        match sub.as_str() {
            "SETNAME" if args.len() == 3 => {
                self.name = Some(String::from_utf8_lossy(&args[2]).into_owned());
                Reply::Status("OK")
            }
            "GETNAME" => self
                .name
                .clone()
                .map_or(Reply::Null, |n| Reply::Bulk(n.into_bytes())),
            "ID" => Reply::Int(self.id),
            // Library name/version, tracking, no-evict, reply modes: accepted, nothing to do.
            _ => Reply::Status("OK"),
        }
    }
}

/// The Redis version CSTORE reports: the command set it follows.
const REDIS_VERSION: &str = "7.0.0";

fn info(store: &Cstore, ns: &str) -> Reply {
    let keys = commands::run(store, ns, &[b"DBSIZE".to_vec()]);
    let count = match keys {
        Some(Reply::Int(n)) => n,
        _ => 0,
    };
    Reply::text(format!(
        "# Server\r\nredis_version:{REDIS_VERSION}\r\nredis_mode:standalone\r\nr1_cstore:1\r\nr1_namespace:{ns}\r\n\r\n# Keyspace\r\ndb0:keys={count},expires=0,avg_ttl=0\r\n"
    ))
}

/// Whether `cmd` may be queued inside `MULTI`: the data commands (session commands are not).
fn known(cmd: &str) -> bool {
    commands::DATA.contains(&cmd)
}

fn unknown(command: &[u8]) -> Reply {
    Reply::Error(format!(
        "ERR unknown command '{}'",
        String::from_utf8_lossy(command)
    ))
}
#[cfg(test)]
mod tests {
    use super::commands::glob;
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

    /// Sends `input` on a fresh connection and reads until the server closes (QUIT).
    fn exchange(addr: std::net::SocketAddr, input: &[u8]) -> String {
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        conn.write_all(input).unwrap();
        let mut answer = Vec::new();
        conn.read_to_end(&mut answer).unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    }

    #[test]
    fn resp3_clients_negotiate_and_get_maps_and_nulls() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Cstore::open(dir.path()).unwrap();
        let addr = super::serve(store.clone(), "resp".into(), ([127, 0, 0, 1], 0).into()).unwrap();
        let out = exchange(
            addr,
            b"HELLO 3\r\nCLIENT SETINFO LIB-NAME redis-py\r\nHSET h f v\r\nHGETALL h\r\nGET nothing\r\nQUIT\r\n",
        );
        assert!(
            out.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
            "{out}"
        );
        assert!(out.contains("$5\r\nproto\r\n:3\r\n"), "{out}");
        assert!(
            out.contains("+OK\r\n:1\r\n%1\r\n$1\r\nf\r\n$1\r\nv\r\n_\r\n+OK\r\n"),
            "{out}"
        );
        // RESP2 by default: the same map is a flat array, the null a null bulk.
        let out = exchange(addr, b"HGETALL h\r\nGET nothing\r\nSELECT 1\r\nQUIT\r\n");
        assert!(
            out.starts_with("*2\r\n$1\r\nf\r\n$1\r\nv\r\n$-1\r\n-ERR DB index"),
            "{out}"
        );
        let out = exchange(addr, b"HELLO 4\r\nQUIT\r\n");
        assert!(out.starts_with("-NOPROTO"), "{out}");
    }

    #[test]
    fn multi_queues_and_exec_runs_in_order_and_an_unknown_command_aborts() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Cstore::open(dir.path()).unwrap();
        let addr = super::serve(store.clone(), "resp".into(), ([127, 0, 0, 1], 0).into()).unwrap();
        let out = exchange(
            addr,
            b"MULTI\r\nSET a 1\r\nINCRBY a 41\r\nGET a\r\nEXEC\r\nQUIT\r\n",
        );
        assert_eq!(
            out,
            "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n:42\r\n$2\r\n42\r\n+OK\r\n"
        );
        let out = exchange(
            addr,
            b"MULTI\r\nSET b 1\r\nNOPE\r\nEXEC\r\nGET b\r\nQUIT\r\n",
        );
        assert!(
            out.contains("EXECABORT") && out.ends_with("$-1\r\n+OK\r\n"),
            "{out}"
        );
        let out = exchange(addr, b"SET c 1 EX 10\r\nTTL c\r\nSET c 1 EX 0\r\nQUIT\r\n");
        assert_eq!(
            out, "+OK\r\n:10\r\n-ERR invalid expire time\r\n+OK\r\n",
            "{out}"
        );
    }

    #[test]
    fn hashes_are_keys_too_and_every_data_command_is_served() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Cstore::open(dir.path()).unwrap();
        store.set("resp", "s1", b"x").unwrap();
        store.hset("resp", "h1", "f", b"1").unwrap();
        store.hset("resp", "h1", "g", b"2").unwrap();
        store.hset("resp", "h2", "f", b"1").unwrap();
        store.hdel("resp", "h2", "f").unwrap(); // an emptied hash is gone
        store.hset("resp", "h3", "f", b"1").unwrap();
        let run = |args: &[&str]| {
            let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
            super::commands::run(&store, "resp", &args).unwrap()
        };
        use super::wire::Reply;
        let names = |r: Reply| match r {
            Reply::Array(items) => items
                .into_iter()
                .map(|i| match i {
                    Reply::Bulk(b) => String::from_utf8(b).unwrap(),
                    other => panic!("{other:?}"),
                })
                .collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(names(run(&["KEYS", "*"])), ["h1", "h3", "s1"]);
        assert_eq!(run(&["DBSIZE"]), Reply::Int(3));
        assert_eq!(run(&["TYPE", "h1"]), Reply::Status("hash"));
        assert_eq!(run(&["TYPE", "s1"]), Reply::Status("string"));
        assert_eq!(run(&["TYPE", "h2"]), Reply::Status("none"));
        // SCAN pages through both kinds, two at a time.
        let Reply::Array(first) = run(&["SCAN", "0", "COUNT", "2"]) else {
            panic!()
        };
        let Reply::Bulk(cursor) = &first[0] else {
            panic!()
        };
        let cursor = String::from_utf8(cursor.clone()).unwrap();
        assert_ne!(cursor, "0");
        let Reply::Array(second) = run(&["SCAN", &cursor, "COUNT", "2"]) else {
            panic!()
        };
        let mut seen = names(first[1].clone());
        seen.extend(names(second[1].clone()));
        assert_eq!(seen, ["h1", "h3", "s1"]);
        assert_eq!(second[0], Reply::text("0"));
        let Reply::Array(typed) = run(&["SCAN", "0", "TYPE", "hash"]) else {
            panic!()
        };
        assert_eq!(names(typed[1].clone()), ["h1", "h3"]);
        assert_eq!(run(&["HINCRBY", "h1", "f", "9"]), Reply::Int(10));
        assert_eq!(run(&["HLEN", "h1"]), Reply::Int(2));
        assert_eq!(run(&["DEL", "h1"]), Reply::Int(1));
        assert_eq!(run(&["EXISTS", "h1", "s1"]), Reply::Int(1));
        assert_eq!(run(&["APPEND", "s1", "yz"]), Reply::Int(3));
        assert_eq!(run(&["GETSET", "s1", "new"]), Reply::text("xyz"));
        assert_eq!(run(&["TTL", "s1"]), Reply::Int(-1));
        assert_eq!(run(&["TTL", "gone"]), Reply::Int(-2));
        assert_eq!(run(&["TTL", "h3"]), Reply::Int(-1));
        assert_eq!(run(&["PEXPIRE", "s1", "100000"]), Reply::Int(1));
        assert!(matches!(run(&["PTTL", "s1"]), Reply::Int(ms) if ms > 99_000 && ms <= 100_000));
        assert_eq!(run(&["PERSIST", "s1"]), Reply::Int(1));
        assert_eq!(run(&["PERSIST", "s1"]), Reply::Int(0));
        assert_eq!(run(&["SETEX", "s2", "100", "v"]), Reply::Status("OK"));
        assert_eq!(run(&["TTL", "s2"]), Reply::Int(100));
        assert_eq!(run(&["EXPIREAT", "s2", "1"]), Reply::Int(1)); // in the past: gone at once
        assert_eq!(run(&["GET", "s2"]), Reply::Null);
        assert_eq!(run(&["EXISTS", "s2"]), Reply::Int(0));
        assert!(matches!(run(&["EXPIRE", "h3", "10"]), Reply::Error(e) if e.contains("hash")));
        for name in super::commands::DATA {
            assert!(
                super::commands::run(&store, "resp", &[name.as_bytes().to_vec()]).is_some(),
                "{name} is listed but not served"
            );
        }
    }
}
