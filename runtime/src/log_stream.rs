//! Captures a guest's stdout/stderr into the node log, one tracing event per line, tagged
//! with the actor's name, and into the runtime's [`LogBook`]. Partial lines are buffered up to 8 KiB, then flushed as they are.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;

use crate::logbook::LogBook;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

const MAX_LINE: usize = 8 * 1024;

/// A guest output stream (`stdout` or `stderr`) of one actor.
#[derive(Clone)]
pub struct LogStream {
    actor: Arc<str>,
    stream: &'static str,
    book: LogBook,
}

impl LogStream {
    pub fn new(actor: Arc<str>, stream: &'static str, book: LogBook) -> Self {
        Self {
            actor,
            stream,
            book,
        }
    }

    fn writer(&self) -> LineWriter {
        LineWriter {
            actor: self.actor.clone(),
            stream: self.stream,
            pending: Vec::new(),
            book: self.book.clone(),
        }
    }
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.writer())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.writer())
    }
}

struct LineWriter {
    actor: Arc<str>,
    stream: &'static str,
    pending: Vec<u8>,
    book: LogBook,
}

impl LineWriter {
    fn push(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        while let Some(pos) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=pos).collect();
            self.emit(&line[..line.len() - 1]);
        }
        if self.pending.len() >= MAX_LINE {
            let line = std::mem::take(&mut self.pending);
            self.emit(&line);
        }
    }

    fn emit(&self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches('\r');
        let level = if self.stream == "stderr" {
            "warn"
        } else {
            "info"
        };
        self.book.record(&self.actor, level, text);
        if self.stream == "stderr" {
            tracing::warn!(target: "r1::guest", actor = %self.actor, stream = self.stream, "{text}");
        } else {
            tracing::info!(target: "r1::guest", actor = %self.actor, stream = self.stream, "{text}");
        }
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.emit(&line);
        }
    }
}

#[async_trait::async_trait]
impl Pollable for LineWriter {
    async fn ready(&mut self) {}
}

impl OutputStream for LineWriter {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for LineWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
