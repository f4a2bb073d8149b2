//! RESP on the wire: commands in (RESP arrays of bulk strings, or inline lines) and replies out
//! in the protocol the connection negotiated — RESP2 by default, RESP3 after `HELLO 3`. The two
//! differ only where RESP3 has richer types: a map (`%`, a flat array in RESP2) and a null
//! (`_`, `$-1` in RESP2).

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpStream;

/// Largest bulk string or array accepted from a client.
const MAX_BULK: usize = crate::MAX_VALUE_BYTES + 1024;
const MAX_ARGS: usize = 1024 * 1024;

/// A reply, before it is encoded for the connection's protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// `+OK`, `+PONG`, `+QUEUED`, a type name.
    Status(&'static str),
    /// `-ERR …`.
    Error(String),
    /// `:n`.
    Int(i64),
    /// `$len bytes`.
    Bulk(Vec<u8>),
    /// No value.
    Null,
    /// `*n …`.
    Array(Vec<Reply>),
    /// Key/value pairs: `%n …` in RESP3, a flat array in RESP2.
    Map(Vec<(Reply, Reply)>),
}

impl Reply {
    /// A bulk string of `s`.
    pub(crate) fn text(s: impl Into<String>) -> Self {
        Reply::Bulk(s.into().into_bytes())
    }

    /// A bulk string, or null.
    pub(crate) fn maybe(value: Option<Vec<u8>>) -> Self {
        value.map_or(Reply::Null, Reply::Bulk)
    }

    /// Appends the reply to `out` in RESP `protocol` (2 or 3).
    pub(crate) fn write(&self, out: &mut Vec<u8>, protocol: u8) {
        match self {
            Reply::Status(s) => {
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
            Reply::Null if protocol >= 3 => out.extend_from_slice(b"_\r\n"),
            Reply::Null => out.extend_from_slice(b"$-1\r\n"),
            Reply::Bulk(b) => {
                out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
                out.extend_from_slice(b);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Array(items) => {
                out.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes());
                for item in items {
                    item.write(out, protocol);
                }
            }
            Reply::Map(pairs) => {
                if protocol >= 3 {
                    out.extend_from_slice(format!("%{}\r\n", pairs.len()).as_bytes());
                } else {
                    out.extend_from_slice(format!("*{}\r\n", pairs.len() * 2).as_bytes());
                }
                for (k, v) in pairs {
                    k.write(out, protocol);
                    v.write(out, protocol);
                }
            }
        }
    }
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
pub(crate) fn looks_like_http(first: &[u8]) -> bool {
    first.eq_ignore_ascii_case(b"POST")
        || first.eq_ignore_ascii_case(b"PUT")
        || first.eq_ignore_ascii_case(b"HOST:")
}

/// Reads one command: a RESP array of bulk strings, or an inline line. `None` at the end of
/// the stream; `Some(Err)` for a protocol error (the connection is then closed).
pub(crate) async fn read_command(
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

#[cfg(test)]
mod tests {
    use super::Reply;

    fn encode(r: &Reply, protocol: u8) -> String {
        let mut out = Vec::new();
        r.write(&mut out, protocol);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn maps_and_nulls_follow_the_protocol() {
        let map = Reply::Map(vec![(Reply::text("a"), Reply::Int(1))]);
        assert_eq!(encode(&map, 2), "*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(encode(&map, 3), "%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(encode(&Reply::Null, 2), "$-1\r\n");
        assert_eq!(encode(&Reply::Null, 3), "_\r\n");
        assert_eq!(encode(&Reply::Error("ERR a\nb".into()), 3), "-ERR a b\r\n");
    }
}
