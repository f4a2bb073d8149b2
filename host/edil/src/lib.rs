//! EDIL: federated-learning aggregation under homomorphic encryption, with tfhe's core_crypto
//! LWE *compact public key* (the parameters Zama uses for its public-key encryption: LWE
//! dimension 2048, TUniform(2^17) noise, native 64-bit modulus).
//!
//! Roles and invariants:
//! - The job owner generates a key pair ([`SecretKey::generate`]) and publishes the
//!   [`PublicKey`]; the secret key never leaves the owner.
//! - Clients encode their f32 update as fixed point ([`Params`]: range, precision, headroom for
//!   the number of clients), encrypt it as one compact ciphertext list (~16 bytes per value),
//!   and sign it with their node key ([`SignedUpdate`]).
//! - An aggregator ([`Aggregator`]) holds no secret: it checks each update (job, round, allowed
//!   client, signature, no duplicate, same key and parameters) and adds the ciphertexts with
//!   wrapping addition. It records which clients are in the aggregate.
//! - Only the secret key decrypts, and only ciphertexts made under its own key and parameters;
//!   anything else is refused with an error, never decrypted into garbage.
//! - Every serialized object carries a format version, the parameters (or their id) and the key
//!   id, so mismatches are detected before any arithmetic.

#![warn(missing_docs)]

mod ciphertext;
mod encoding;
mod format;
mod keys;
mod params;
pub mod service;
mod update;

pub use ciphertext::{AggregateError, Ciphertext, DecryptError, EncryptError, aggregate};
pub use encoding::EncodeError;
pub use format::FormatError;
pub use keys::{KeyId, PublicKey, SecretKey};
pub use params::{Params, ParamsError};
pub use update::{Aggregate, Aggregator, ClientId, SignedUpdate, UpdateError};
