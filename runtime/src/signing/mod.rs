//! Signed components: publisher keys, the signature section, and the node's trust policy.
//!
//! - [`keys`]: ed25519 key files (secret files are 0600 and refused when readable by others).
//! - [`format`]: the `r1-signature` custom section (documented in `docs/signing.md`).
//! - [`policy`]: what a node accepts: valid signatures, a trusted publisher, unexpired claims,
//!   requested capabilities within the grants; unsigned components only in dev mode.

pub mod format;
pub mod keys;
pub mod policy;

pub use format::{Claims, SignatureError, Verified};
pub use keys::{KeyError, PublicKey};
pub use policy::{Provenance, TrustPolicy};
