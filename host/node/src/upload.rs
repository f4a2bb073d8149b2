//! A request body streaming into blocking code: the async handler pushes the body's chunks into
//! a bounded channel and a blocking task reads them through [`std::io::Read`], so an upload is
//! hashed and stored while it arrives, with a fixed amount of it in memory and none of it
//! spooled to disk first.
//!
//! Ordering: chunks are read in the order they were sent. End of input is the sender being
//! dropped after the last chunk; a failed upload is an `Err` item, which the reader returns as
//! an I/O error.

use std::io::Read;

use actix_web::web::Bytes;
use tokio::sync::mpsc;

/// Body chunks buffered between the handler and the reader.
const DEPTH: usize = 16;

/// One body chunk, or the error that ended the upload.
pub type Chunk = Result<Bytes, std::io::Error>;

/// The handler's end: send each chunk with `send(..).await`, drop it when the body ends.
pub fn channel() -> (mpsc::Sender<Chunk>, BodyReader) {
    let (tx, rx) = mpsc::channel(DEPTH);
    (
        tx,
        BodyReader {
            chunks: rx,
            current: Bytes::new(),
        },
    )
}

/// The blocking end. Must be read on a thread that may block (not an async worker).
pub struct BodyReader {
    chunks: mpsc::Receiver<Chunk>,
    current: Bytes,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_chunks_in_order_across_boundaries_then_ends() {
        let (tx, mut reader) = channel();
        let feeder = std::thread::spawn(move || {
            for part in [&b"hello "[..], b"", b"streamed ", b"world"] {
                tx.blocking_send(Ok(Bytes::copy_from_slice(part))).unwrap();
            }
        });
        let mut out = Vec::new();
        let mut small = [0u8; 4];
        loop {
            let n = reader.read(&mut small).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&small[..n]);
        }
        feeder.join().unwrap();
        assert_eq!(out, b"hello streamed world");
    }

    #[test]
    fn a_failed_upload_is_a_read_error_after_the_bytes_before_it() {
        let (tx, mut reader) = channel();
        tx.blocking_send(Ok(Bytes::from_static(b"partial")))
            .unwrap();
        tx.blocking_send(Err(std::io::Error::other("connection reset")))
            .unwrap();
        drop(tx);
        let mut out = Vec::new();
        let err = reader.read_to_end(&mut out).unwrap_err();
        assert_eq!(err.to_string(), "connection reset");
        assert_eq!(out, b"partial");
    }
}
