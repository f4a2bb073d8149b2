//! Names of actors, CSTORE namespaces, topics, EDIL jobs and models: one rule everywhere.
//!
//! A name is 1 to [`MAX_NAME_BYTES`] bytes of ASCII letters, digits, `.`, `_` and `-`, and
//! starts with a letter or a digit. So a name is never empty, never a path (`/` and `\` are
//! out), never `.` or `..` and never looks like a command-line flag; it is the same byte
//! string in a URL path, a file name, a log line and a CSTORE cell key. Every door checks
//! it with [`check_name`] and reports the same [`NameError`], which names what was wrong.

use std::fmt;

/// The longest name accepted, in bytes.
pub const MAX_NAME_BYTES: usize = 64;

/// What a name names; it only changes the wording of the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// An actor's name (its address on a node).
    Actor,
    /// A CSTORE namespace.
    Namespace,
    /// A publish/subscribe topic.
    Topic,
    /// An EDIL (federated learning) job.
    Job,
    /// A model served by inference.
    Model,
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameKind::Actor => "actor name",
            NameKind::Namespace => "namespace",
            NameKind::Topic => "topic",
            NameKind::Job => "job name",
            NameKind::Model => "model name",
        })
    }
}

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid {kind} {name:?}: {reason} (a name is 1-{MAX_NAME_BYTES} letters, digits, '.', '_' or '-', starting with a letter or digit)"
)]
pub struct NameError {
    /// What the name was for.
    pub kind: NameKind,
    /// The refused name, cut to a printable length.
    pub name: String,
    /// What broke the rule.
    pub reason: &'static str,
}

/// Whether `name` follows the rule (see the module docs).
pub fn is_valid_name(name: &str) -> bool {
    rule(name).is_none()
}

/// Checks `name` as a `kind`; the error says which part of the rule it broke.
pub fn check_name(kind: NameKind, name: &str) -> Result<(), NameError> {
    match rule(name) {
        None => Ok(()),
        Some(reason) => Err(NameError {
            kind,
            name: name.chars().take(80).collect(),
            reason,
        }),
    }
}

fn rule(name: &str) -> Option<&'static str> {
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return Some("it is empty");
    }
    if bytes.len() > MAX_NAME_BYTES {
        return Some("it is too long");
    }
    if bytes.iter().any(|&b| b == b'/' || b == b'\\') {
        return Some("it contains a path separator");
    }
    if !bytes
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Some("it contains a character outside the allowed set");
    }
    if !bytes[0].is_ascii_alphanumeric() {
        return Some("it does not start with a letter or digit");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        let longest = "x".repeat(MAX_NAME_BYTES);
        for ok in ["counter", "pipeline.raw", "job-1", "a", "A_b.c-9", &longest] {
            assert!(is_valid_name(ok), "{ok:?}");
            assert_eq!(check_name(NameKind::Topic, ok), Ok(()));
        }
    }

    #[test]
    fn refuses_paths_dots_flags_and_junk_with_the_reason() {
        let cases = [
            ("", "empty"),
            ("../../etc", "path separator"),
            ("a/b", "path separator"),
            ("a\\b", "path separator"),
            (".", "start with a letter"),
            ("..", "start with a letter"),
            ("-rf", "start with a letter"),
            ("_x", "start with a letter"),
            ("bad name", "outside the allowed set"),
            ("nul\0", "outside the allowed set"),
            ("é", "outside the allowed set"),
        ];
        for (name, why) in cases {
            let err = check_name(NameKind::Namespace, name).unwrap_err();
            assert!(err.to_string().contains(why), "{name:?}: {err}");
            assert!(err.to_string().starts_with("invalid namespace"), "{err}");
            assert!(!is_valid_name(name));
        }
        let long = "x".repeat(65);
        assert!(
            check_name(NameKind::Actor, &long)
                .unwrap_err()
                .to_string()
                .contains("too long")
        );
    }
}
