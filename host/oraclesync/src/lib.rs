//! `r1-oraclesync`: OracleSync's rules (DESIGN §11), pure and deterministic, shared by the node
//! and the oracle system actors (compiled to wasm like Deeploy's scheduler).
//!
//! - [`availability`]: a node's availability in an epoch from the heartbeats an oracle saw —
//!   consecutive beats form an online interval, a gap longer than `period + grace` closes it;
//!   the share of the epoch online as 0–255.
//! - [`table`]: one oracle's figures for an epoch, and the **median merge** of n oracles'
//!   tables: per node the lower median, so with n ≥ 2f + 1 tables of which at most f lie, every
//!   merged figure lies within the range of the honest oracles' figures.
//! - [`certificate`]: the merged table's Merkle root (one leaf per `(node, epoch,
//!   availability)`, nodes in order, so one node's figure is proven alone), signed by oracles;
//!   a certificate holds when at least 2f + 1 distinct listed oracles signed the same root
//!   (n ≥ 3f + 1). Its bytes are canonical: signatures in oracle-key order, so every honest
//!   oracle assembles the same certificate bytes whatever order signatures arrived in.
//!
//! - [`beat`]: the signed heartbeat every node sends the oracles.
//! - [`exchange`]: the table and signature records oracles publish, each self-authenticating.
//! - [`round`]: one oracle's part in each epoch's agreement (table, sign once, certify), a
//!   state machine over the node's control that the oracle system actor drives.
//!
//! Invariants: every function here is a pure function of its inputs (no clock, no
//! randomness), so honest oracles given the same inputs agree bit for bit; a certificate is
//! checked with only the oracle public keys and `f`.

#![warn(missing_docs)]

pub mod availability;
pub mod beat;
pub mod certificate;
pub mod exchange;
pub mod round;
pub mod table;

/// What can go wrong with tables and certificates.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OracleError {
    /// Bytes that do not decode (what is wrong).
    #[error("malformed: {0}")]
    Malformed(String),
    /// A certificate or proof that does not hold (why).
    #[error("invalid: {0}")]
    Invalid(String),
}
