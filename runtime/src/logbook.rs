//! What each actor logged lately: its stdout/stderr lines and its `r1:actor` / `wasi:logging`
//! events, kept in memory (the newest [`LINES_PER_ACTOR`] per actor) besides going to the node
//! log, so the API can show one actor's lines (`r1 actor logs`) and Deeploy an app's across
//! nodes (`r1 app logs`).
//!
//! Invariants: bounded (lines per actor, bytes per line); an actor's lines are dropped when it
//! is stopped; recording never blocks an actor beyond one short lock.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// Lines kept per actor.
pub const LINES_PER_ACTOR: usize = 500;
/// Longest line kept, in bytes (longer ones are cut, marked with `…`).
pub const MAX_LINE_BYTES: usize = 2048;

/// One logged line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// When (unix milliseconds).
    pub at_ms: u64,
    /// `trace` … `error`; stdout is `info`, stderr `warn`.
    pub level: String,
    /// The text.
    pub text: String,
}

/// Every actor's recent lines (cheap to clone: a shared handle).
#[derive(Debug, Clone, Default)]
pub struct LogBook {
    lines: Arc<Mutex<HashMap<String, VecDeque<LogLine>>>>,
}

impl LogBook {
    /// Records `text` for `actor`.
    pub fn record(&self, actor: &str, level: &str, text: &str) {
        let mut text = text.to_owned();
        if text.len() > MAX_LINE_BYTES {
            let mut cut = MAX_LINE_BYTES;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push('…');
        }
        let line = LogLine {
            at_ms: now_ms(),
            level: level.to_owned(),
            text,
        };
        let mut all = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let lines = all.entry(actor.to_owned()).or_default();
        if lines.len() == LINES_PER_ACTOR {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// `actor`'s lines, oldest first (empty when it logged nothing or is unknown).
    pub fn lines(&self, actor: &str) -> Vec<LogLine> {
        let all = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        all.get(actor)
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Drops `actor`'s lines.
    pub fn forget(&self, actor: &str) {
        let mut all = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        all.remove(actor);
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_kept_per_actor_bounded_and_forgotten() {
        let book = LogBook::default();
        for i in 0..LINES_PER_ACTOR + 10 {
            book.record("a", "info", &format!("line {i}"));
        }
        book.record("b", "warn", &"x".repeat(MAX_LINE_BYTES + 10));
        let a = book.lines("a");
        assert_eq!(a.len(), LINES_PER_ACTOR);
        assert_eq!(a[0].text, "line 10", "the oldest go first");
        let b = book.lines("b");
        assert!(b[0].text.ends_with('…') && b[0].text.len() <= MAX_LINE_BYTES + 3);
        book.forget("a");
        assert!(book.lines("a").is_empty());
        assert_eq!(book.lines("b").len(), 1);
    }
}
