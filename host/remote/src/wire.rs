//! The `/r1/actors/1` wire format: one long-lived stream per ordered pair of nodes, carrying
//! length-prefixed binary frames (no serde, like the mesh's rpc codec).
//!
//! frame    = u32be length | u8 kind | fields
//! string   = u16be length | UTF-8 bytes
//! bytes    = u32be length | bytes
//! 0 directory: u32be n | n × string (actors) | u32be m | m × (string topic | u32be count)
//! 1 send:      string from | string to | bytes payload
//! 2 request:   u64be id | u32be timeout ms | string from | string to | bytes payload
//! 3 reply:     u64be id | u8 status | status 0: u8 has | bytes reply; else string reason
//! 4 publish:   string from | string topic | bytes payload
//! 5 credit:    u32be bytes (the receiver has handed over this many more bytes)
//!
//! Reply status: 0 ok, then one per [`RemoteError`] case (1 unknown node, 2 unreachable,
//! 3 unknown actor, 4 mailbox full, 5 timeout, 6 denied, 7 failed).

use std::io;

use futures::{AsyncRead, AsyncReadExt};
use r1_core::contract::remote::{Directory, RemoteError};

/// Largest frame either side accepts: a message payload up to 16 MiB plus its header.
pub const MAX_FRAME: usize = 16 * 1024 * 1024 + 64 * 1024;

/// One unit on the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// The sending node's actors and subscribed topics (the whole set, replacing the last).
    Directory(Directory),
    /// A fire-and-forget message.
    Send {
        /// Sending actor.
        from: String,
        /// Receiving actor.
        to: String,
        /// The bytes.
        payload: Vec<u8>,
    },
    /// A message that wants a [`Frame::Reply`] with the same `id`.
    Request {
        /// Chosen by the requester, unique among its pending requests.
        id: u64,
        /// How long the requester waits; the receiver waits no longer for mailbox room.
        timeout_ms: u32,
        /// Sending actor.
        from: String,
        /// Receiving actor.
        to: String,
        /// The bytes.
        payload: Vec<u8>,
    },
    /// The answer to request `id`.
    Reply {
        /// The request's id.
        id: u64,
        /// The handler's reply or why there is none.
        result: Result<Option<Vec<u8>>, RemoteError>,
    },
    /// Flow control: the sender of this frame has consumed `bytes` more of what the other
    /// side sent (see [`Frame::cost`]), which may send that much more.
    Credit(u32),
    /// A message on a topic, for the receiving node's subscribers.
    Publish {
        /// Publishing actor.
        from: String,
        /// The topic.
        topic: String,
        /// The bytes.
        payload: Vec<u8>,
    },
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Names are at most 64 bytes and reasons are cut short; longer is truncated, never wrapped.
    let bytes = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

impl Frame {
    /// What the frame counts against the link's flow-control window: its payload plus a fixed
    /// overhead for messages; nothing for directory and credit frames, which always pass.
    pub fn cost(&self) -> u64 {
        const OVERHEAD: u64 = 64;
        match self {
            Frame::Directory(_) | Frame::Credit(_) => 0,
            Frame::Send { payload, .. }
            | Frame::Request { payload, .. }
            | Frame::Publish { payload, .. } => payload.len() as u64 + OVERHEAD,
            Frame::Reply { result, .. } => match result {
                Ok(Some(reply)) => reply.len() as u64 + OVERHEAD,
                _ => OVERHEAD,
            },
        }
    }

    /// Appends the frame, length prefix first, to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        match self {
            Frame::Directory(d) => {
                out.push(0);
                out.extend_from_slice(&(d.actors.len() as u32).to_be_bytes());
                for a in &d.actors {
                    put_str(out, a);
                }
                out.extend_from_slice(&(d.topics.len() as u32).to_be_bytes());
                for (t, n) in &d.topics {
                    put_str(out, t);
                    out.extend_from_slice(&n.to_be_bytes());
                }
            }
            Frame::Send { from, to, payload } => {
                out.push(1);
                put_str(out, from);
                put_str(out, to);
                put_bytes(out, payload);
            }
            Frame::Request {
                id,
                timeout_ms,
                from,
                to,
                payload,
            } => {
                out.push(2);
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&timeout_ms.to_be_bytes());
                put_str(out, from);
                put_str(out, to);
                put_bytes(out, payload);
            }
            Frame::Reply { id, result } => {
                out.push(3);
                out.extend_from_slice(&id.to_be_bytes());
                match result {
                    Ok(reply) => {
                        out.push(0);
                        out.push(reply.is_some() as u8);
                        put_bytes(out, reply.as_deref().unwrap_or_default());
                    }
                    Err(err) => {
                        let (status, text) = match err {
                            RemoteError::UnknownNode(s) => (1, s.clone()),
                            RemoteError::Unreachable { node, reason } => {
                                (2, format!("{node}\n{reason}"))
                            }
                            RemoteError::UnknownActor(s) => (3, s.clone()),
                            RemoteError::MailboxFull(s) => (4, s.clone()),
                            RemoteError::Timeout(s) => (5, s.clone()),
                            RemoteError::Denied(s) => (6, s.clone()),
                            RemoteError::Failed(s) => (7, s.clone()),
                        };
                        out.push(status);
                        put_str(out, &text);
                    }
                }
            }
            Frame::Credit(bytes) => {
                out.push(5);
                out.extend_from_slice(&bytes.to_be_bytes());
            }
            Frame::Publish {
                from,
                topic,
                payload,
            } => {
                out.push(4);
                put_str(out, from);
                put_str(out, topic);
                put_bytes(out, payload);
            }
        }
        let len = (out.len() - start - 4) as u32;
        out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// Reads one frame; `Ok(None)` at a clean end of stream.
    pub async fn read<R: AsyncRead + Unpin>(io: &mut R) -> io::Result<Option<Frame>> {
        let mut len = [0u8; 4];
        match io.read_exact(&mut len).await {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_FRAME {
            return Err(bad("frame too large"));
        }
        let mut buf = vec![0u8; len];
        io.read_exact(&mut buf).await?;
        Frame::decode(&buf).map(Some)
    }

    /// Decodes a frame body (without its length prefix).
    pub fn decode(buf: &[u8]) -> io::Result<Frame> {
        let mut r = Reader(buf);
        let frame = match r.u8()? {
            0 => {
                let n = r.u32()? as usize;
                let mut actors = Vec::with_capacity(n.min(4096));
                for _ in 0..n {
                    actors.push(r.string()?);
                }
                let m = r.u32()? as usize;
                let mut topics = Vec::with_capacity(m.min(4096));
                for _ in 0..m {
                    topics.push((r.string()?, r.u32()?));
                }
                Frame::Directory(Directory { actors, topics })
            }
            1 => Frame::Send {
                from: r.string()?,
                to: r.string()?,
                payload: r.bytes()?,
            },
            2 => Frame::Request {
                id: r.u64()?,
                timeout_ms: r.u32()?,
                from: r.string()?,
                to: r.string()?,
                payload: r.bytes()?,
            },
            3 => {
                let id = r.u64()?;
                let result = match r.u8()? {
                    0 => {
                        let has = r.u8()? != 0;
                        let bytes = r.bytes()?;
                        Ok(has.then_some(bytes))
                    }
                    status => {
                        let text = r.string()?;
                        Err(match status {
                            1 => RemoteError::UnknownNode(text),
                            2 => {
                                let (node, reason) = text.split_once('\n').unwrap_or(("", &text));
                                RemoteError::Unreachable {
                                    node: node.to_owned(),
                                    reason: reason.to_owned(),
                                }
                            }
                            3 => RemoteError::UnknownActor(text),
                            4 => RemoteError::MailboxFull(text),
                            5 => RemoteError::Timeout(text),
                            6 => RemoteError::Denied(text),
                            7 => RemoteError::Failed(text),
                            _ => return Err(bad("unknown reply status")),
                        })
                    }
                };
                Frame::Reply { id, result }
            }
            4 => Frame::Publish {
                from: r.string()?,
                topic: r.string()?,
                payload: r.bytes()?,
            },
            5 => Frame::Credit(r.u32()?),
            _ => return Err(bad("unknown frame kind")),
        };
        if !r.0.is_empty() {
            return Err(bad("trailing bytes in frame"));
        }
        Ok(frame)
    }
}

fn bad(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("actor frame: {why}"))
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> io::Result<&[u8]> {
        if self.0.len() < n {
            return Err(bad("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> io::Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> io::Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> io::Result<u64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }
    fn string(&mut self) -> io::Result<String> {
        let b = self.take(2)?;
        let n = u16::from_be_bytes([b[0], b[1]]) as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| bad("string is not UTF-8"))
    }
    fn bytes(&mut self) -> io::Result<Vec<u8>> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn round_trip(frames: &[Frame]) -> Vec<Frame> {
        let mut wire = Vec::new();
        for f in frames {
            f.encode(&mut wire);
        }
        let mut io = futures::io::Cursor::new(wire);
        let mut out = Vec::new();
        while let Some(f) = Frame::read(&mut io).await.unwrap() {
            out.push(f);
        }
        out
    }

    #[tokio::test]
    async fn every_frame_kind_round_trips_in_order() {
        let frames = vec![
            Frame::Directory(Directory {
                actors: vec!["sink".into(), "echo".into()],
                topics: vec![("lines".into(), 2)],
            }),
            Frame::Send {
                from: "a".into(),
                to: "b".into(),
                payload: vec![1, 2, 3],
            },
            Frame::Request {
                id: 7,
                timeout_ms: 500,
                from: "a".into(),
                to: "b".into(),
                payload: vec![],
            },
            Frame::Reply {
                id: 7,
                result: Ok(Some(b"pong".to_vec())),
            },
            Frame::Reply {
                id: 8,
                result: Ok(None),
            },
            Frame::Reply {
                id: 9,
                result: Err(RemoteError::Unreachable {
                    node: "n".into(),
                    reason: "gone".into(),
                }),
            },
            Frame::Reply {
                id: 10,
                result: Err(RemoteError::MailboxFull("b".into())),
            },
            Frame::Publish {
                from: "a".into(),
                topic: "lines".into(),
                payload: b"x".to_vec(),
            },
            Frame::Credit(1 << 20),
        ];
        assert_eq!(round_trip(&frames).await, frames);
    }

    #[tokio::test]
    async fn bad_frames_are_refused() {
        assert!(Frame::decode(&[9]).is_err(), "unknown kind");
        assert!(Frame::decode(&[1, 0, 5, b'a']).is_err(), "truncated");
        let mut wire = Vec::new();
        Frame::Send {
            from: "a".into(),
            to: "b".into(),
            payload: vec![],
        }
        .encode(&mut wire);
        wire.push(0);
        wire[3] += 1;
        assert!(Frame::decode(&wire[4..]).is_err(), "trailing bytes");
        let huge = ((MAX_FRAME + 1) as u32).to_be_bytes().to_vec();
        let mut io = futures::io::Cursor::new(huge);
        assert!(Frame::read(&mut io).await.is_err());
    }
}
