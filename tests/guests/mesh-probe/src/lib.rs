//! Test guest for distributed actors (needs `--grant mesh`). Commands come from the host
//! (`r1 send`); everything else is a message from another actor, recorded as
//! `SENDER|TEXT` (and answered `echo:TEXT` → TEXT, `sleep:MS` → after MS ms busy).
//!
//! Commands (each answers one line; errors as `err:KIND:DETAIL`, KIND one of unknown-node,
//! unreachable, unknown-recipient, mailbox-full, timeout, failed, denied):
//! - `request TO TIMEOUT_MS TEXT` → `ok:REPLY`
//! - `send TO TEXT` → `ok`
//! - `stream TO N` → sends `seq:0`…`seq:N-1`, keeps going past errors:
//!   `ok=A full=B unreachable=C other=D`
//! - `flood TO N SIZE` → N sends of SIZE bytes: the same counts
//! - `publish TOPIC N` → publishes `seq:0`…: `reached=R errors=E`
//! - `subscribe TOPIC`, `locate NAME` (nodes, comma-separated), `self`, `nodes`
//! - `received` → every recorded message, one per line; `count` → how many
//! - `stats` → `count=N span_ns=T`: messages from actors so far, and the time from the first
//!   to the last of them (for the remote benchmark); `reset` → `ok`, starting both afresh
//!
//! Config: `slow` = milliseconds to spend on each recorded message (fills the mailbox);
//! `record=0` counts messages without keeping them (benchmarks).
use std::time::{Duration, Instant};

use r1_guest::mesh::{self, Error};
use r1_guest::{Actor, Config, Message, publish, subscribe};

struct Probe {
    slow: u64,
    record: bool,
    received: Vec<String>,
    count: u64,
    first: Option<Instant>,
    last: Option<Instant>,
}

fn kind(e: &Error) -> String {
    match e {
        Error::UnknownNode(d) => format!("err:unknown-node:{d}"),
        Error::Unreachable(d) => format!("err:unreachable:{d}"),
        Error::UnknownRecipient(d) => format!("err:unknown-recipient:{d}"),
        Error::MailboxFull => "err:mailbox-full:".into(),
        Error::Timeout => "err:timeout:".into(),
        Error::Failed(d) => format!("err:failed:{d}"),
        Error::Denied(d) => format!("err:denied:{d}"),
    }
}

fn busy(ms: u64) {
    let until = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

/// Sends `n` payloads made by `make`, counting outcomes.
fn sends(to: &str, n: usize, make: impl Fn(usize) -> Vec<u8>) -> String {
    let (mut ok, mut full, mut unreachable, mut other) = (0, 0, 0, 0);
    for i in 0..n {
        match mesh::send(to, make(i)) {
            Ok(()) => ok += 1,
            Err(Error::MailboxFull) => full += 1,
            Err(Error::Unreachable(_)) => unreachable += 1,
            Err(_) => other += 1,
        }
    }
    format!("ok={ok} full={full} unreachable={unreachable} other={other}")
}

impl Probe {
    fn command(&mut self, text: &str) -> Result<String, String> {
        let mut words = text.splitn(4, ' ');
        let cmd = words.next().unwrap_or_default();
        let mut arg = || words.next().unwrap_or_default().to_owned();
        let num = |s: String| s.parse::<usize>().map_err(|_| format!("bad number {s:?}"));
        Ok(match cmd {
            "request" => {
                let (to, ms, text) = (arg(), num(arg())?, arg());
                match mesh::request(&to, text, Duration::from_millis(ms as u64)) {
                    Ok(reply) => format!("ok:{}", String::from_utf8_lossy(&reply)),
                    Err(e) => kind(&e),
                }
            }
            "send" => {
                let (to, text) = (arg(), arg());
                match mesh::send(&to, text) {
                    Ok(()) => "ok".into(),
                    Err(e) => kind(&e),
                }
            }
            "stream" => {
                let (to, n) = (arg(), num(arg())?);
                sends(&to, n, |i| format!("seq:{i}").into_bytes())
            }
            "flood" => {
                let (to, n, size) = (arg(), num(arg())?, num(arg())?);
                sends(&to, n, |_| vec![b'x'; size])
            }
            "publish" => {
                let (topic, n) = (arg(), num(arg())?);
                let (mut reached, mut errors) = (0, 0);
                for i in 0..n {
                    match publish(&topic, format!("seq:{i}")) {
                        Ok(r) => reached += r,
                        Err(_) => errors += 1,
                    }
                }
                format!("reached={reached} errors={errors}")
            }
            "subscribe" => {
                subscribe(&arg()).map_err(|e| e.to_string())?;
                "ok".into()
            }
            "locate" => mesh::locate(&arg()).join(","),
            "self" => mesh::self_node(),
            "nodes" => mesh::nodes().join(","),
            "received" => self.received.join("\n"),
            "count" => self.count.to_string(),
            "reset" => {
                self.count = 0;
                self.first = None;
                self.last = None;
                self.received.clear();
                "ok".into()
            }
            "stats" => {
                let span = match (self.first, self.last) {
                    (Some(first), Some(last)) => last.duration_since(first).as_nanos(),
                    _ => 0,
                };
                format!("count={} span_ns={span}", self.count)
            }
            other => return Err(format!("unknown command {other:?}")),
        })
    }
}

impl Actor for Probe {
    fn init(config: Config) -> Result<Self, String> {
        let slow = config
            .get_or("slow", "0")
            .parse()
            .map_err(|_| "slow must be milliseconds".to_string())?;
        Ok(Probe {
            slow,
            record: config.get_or("record", "1") != "0",
            received: Vec::new(),
            count: 0,
            first: None,
            last: None,
        })
    }

    fn handle(&mut self, msg: Message) -> Result<Option<Vec<u8>>, String> {
        let text = msg.text().into_owned();
        if msg.sender == "host" {
            return self.command(&text).map(|r| Some(r.into_bytes()));
        }
        let now = Instant::now();
        self.first.get_or_insert(now);
        self.last = Some(now);
        self.count += 1;
        busy(self.slow);
        if let Some(rest) = text.strip_prefix("echo:") {
            return Ok(Some(rest.as_bytes().to_vec()));
        }
        if let Some(ms) = text.strip_prefix("sleep:") {
            busy(ms.parse().unwrap_or(0));
            return Ok(Some(b"slept".to_vec()));
        }
        if !self.record {
            return Ok(None);
        }
        // Large flood payloads are recorded by size only.
        let shown = if text.len() > 64 {
            format!("{} bytes", text.len())
        } else {
            text
        };
        self.received.push(format!("{}|{shown}", msg.sender));
        Ok(None)
    }
}

r1_guest::export_actor!(Probe);
