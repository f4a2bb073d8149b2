//! Encrypted vectors: one LWE compact ciphertext list per vector (a mask polynomial per n
//! values, then one body per value: 16 bytes per value at n = 2048), homomorphic addition of
//! lists, and decryption of a list straight from its masks.
//!
//! Decryption without expansion: value i of a bin with mask polynomial A decrypts as
//! `body_i − D[n−1−i]` where `D = A(X)·rev(s)(X) mod X^n+1` — one negacyclic product per bin
//! instead of n inner products.

use rayon::prelude::*;
use tfhe::core_crypto::algorithms::slice_algorithms::{
    slice_semi_reverse_negacyclic_convolution, slice_wrapping_add_assign,
};
use tfhe::core_crypto::prelude::*;

use crate::encoding::{EncodeError, decode, encode};
use crate::format::{FormatError, Reader, Writer};
use crate::keys::{KeyId, PublicKey, SecretKey, hex, noise};
use crate::params::Params;

const MAGIC: &[u8; 8] = b"R1EDILCT";

/// An encrypted vector (or a sum of them).
#[derive(Clone, PartialEq, Eq)]
pub struct Ciphertext {
    pub(crate) params: Params,
    pub(crate) key_id: KeyId,
    /// How many values.
    pub(crate) count: usize,
    /// How many encrypted vectors were summed into this one (1 for a fresh one).
    pub(crate) summands: u32,
    /// The compact list's container: all masks, then all bodies.
    pub(crate) data: Vec<u64>,
}

impl std::fmt::Debug for Ciphertext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ciphertext")
            .field("key", &hex(&self.key_id[..8]))
            .field("count", &self.count)
            .field("summands", &self.summands)
            .finish_non_exhaustive()
    }
}

/// Why a vector cannot be encrypted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EncryptError {
    /// A value cannot be encoded: not finite, or outside the job's range.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The vector holds no values.
    #[error("nothing to encrypt: the vector is empty")]
    Empty,
}

/// Why ciphertexts cannot be summed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AggregateError {
    /// No ciphertext was given.
    #[error("nothing to aggregate")]
    Empty,
    /// A ciphertext was made under another public key than the sum's.
    #[error("ciphertext {index} is under another key ({found}, expected {expected})")]
    OtherKey {
        /// Position of the ciphertext among those being summed.
        index: usize,
        /// Its key id's first 8 bytes, in hex.
        found: String,
        /// The sum's key id's first 8 bytes, in hex.
        expected: String,
    },
    /// A ciphertext was made under other parameters than the sum's (`Aggregator::add` also
    /// reports an update that is already a sum this way).
    #[error("ciphertext {index} was made under other parameters")]
    OtherParams {
        /// Position of the ciphertext among those being summed.
        index: usize,
    },
    /// A ciphertext holds another number of values than the sum.
    #[error("ciphertext {index} holds {found} values, expected {expected}")]
    Length {
        /// Position of the ciphertext among those being summed.
        index: usize,
        /// How many values it holds.
        found: usize,
        /// How many values the sum holds.
        expected: usize,
    },
    /// The sum would count more updates than the parameters' `max_clients`; holds that count.
    #[error("the sum would hold {0} updates, more than the parameters' max_clients allow")]
    TooMany(u32),
}

/// Why a secret key refuses to decrypt a ciphertext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    /// The ciphertext was made under another public key than this secret key's.
    #[error("this ciphertext is under another key ({found}); this secret key decrypts {expected}")]
    OtherKey {
        /// The ciphertext's key id's first 8 bytes, in hex.
        found: String,
        /// This key's public key id's first 8 bytes, in hex.
        expected: String,
    },
    /// The ciphertext was made under other parameters than the key's.
    #[error("this ciphertext was made under other parameters than the key's")]
    OtherParams,
}

fn mask_count(params: &Params, count: usize) -> usize {
    count.div_ceil(params.lwe_dimension)
}

impl Ciphertext {
    /// The parameters it was encrypted under.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The id of the public key it was encrypted under.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// How many values it holds.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether it holds no values (never, for one made by encryption or read from bytes).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// How many encrypted vectors it sums (1 for a fresh encryption).
    pub fn summands(&self) -> u32 {
        self.summands
    }

    /// Serialized as an `R1EDILCT` object: parameters, key id, value count, summands, then the
    /// compact list (about 16 bytes per value).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(MAGIC, self.data.len() * 8 + 96);
        self.params.write(&mut w);
        w.bytes(&self.key_id);
        w.u64(self.count as u64);
        w.u32(self.summands);
        w.words(&self.data);
        w.finish()
    }

    /// Reads a ciphertext written by [`Ciphertext::to_bytes`]; refuses one whose word count
    /// does not match its value count, or with no values or no summands.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes, MAGIC, "ciphertext")?;
        let params = Params::read(&mut r)?;
        let key_id = r.array("key id")?;
        let count = usize::try_from(r.u64()?)
            .map_err(|_| FormatError::Invalid("value count too large".into()))?;
        let summands = r.u32()?;
        let data = r.words("ciphertext")?;
        r.end("ciphertext")?;
        let expected = mask_count(&params, count)
            .checked_mul(params.lwe_dimension)
            .and_then(|m| m.checked_add(count));
        if expected != Some(data.len()) || count == 0 || summands == 0 {
            return Err(FormatError::Invalid(format!(
                "a ciphertext of {count} values has {} words",
                data.len()
            )));
        }
        Ok(Ciphertext {
            params,
            key_id,
            count,
            summands,
            data,
        })
    }
}

impl PublicKey {
    /// Encrypts `values` (each in the job's range) as one compact list.
    pub fn encrypt(&self, values: &[f32]) -> Result<Ciphertext, EncryptError> {
        if values.is_empty() {
            return Err(EncryptError::Empty);
        }
        let params = self.params;
        let plaintexts = PlaintextList::from_container(encode(&params, values)?);
        let mut list = LweCompactCiphertextList::new(
            0u64,
            LweDimension(params.lwe_dimension).to_lwe_size(),
            LweCiphertextCount(values.len()),
            CiphertextModulus::new_native(),
        );
        let mut seeder = new_seeder();
        let seeder = seeder.as_mut();
        let mut generator =
            EncryptionRandomGenerator::<DefaultRandomGenerator>::new(seeder.seed(), seeder);
        par_encrypt_lwe_compact_ciphertext_list_with_compact_public_key(
            &self.key,
            &mut list,
            &plaintexts,
            noise(&params),
            noise(&params),
            generator.noise_generator_mut(),
        );
        Ok(Ciphertext {
            params,
            key_id: self.id(),
            count: values.len(),
            summands: 1,
            data: list.into_container(),
        })
    }
}

/// The homomorphic sum of `ciphertexts` (same key, parameters and length). Needs no key.
pub fn aggregate(ciphertexts: &[&Ciphertext]) -> Result<Ciphertext, AggregateError> {
    let (first, rest) = ciphertexts.split_first().ok_or(AggregateError::Empty)?;
    let mut sum = (*first).clone();
    for (i, ct) in rest.iter().enumerate() {
        sum.add_assign(ct, i + 1)?;
    }
    Ok(sum)
}

impl Ciphertext {
    /// Adds `other` into this sum (`index` names it in errors).
    pub(crate) fn add_assign(
        &mut self,
        other: &Ciphertext,
        index: usize,
    ) -> Result<(), AggregateError> {
        if other.key_id != self.key_id {
            return Err(AggregateError::OtherKey {
                index,
                found: hex(&other.key_id[..8]),
                expected: hex(&self.key_id[..8]),
            });
        }
        if other.params != self.params {
            return Err(AggregateError::OtherParams { index });
        }
        if other.count != self.count {
            return Err(AggregateError::Length {
                index,
                found: other.count,
                expected: self.count,
            });
        }
        let summands = self.summands.saturating_add(other.summands);
        if summands > self.params.max_clients {
            return Err(AggregateError::TooMany(summands));
        }
        const CHUNK: usize = 1 << 16;
        self.data
            .par_chunks_mut(CHUNK)
            .zip(other.data.par_chunks(CHUNK))
            .for_each(|(a, b)| slice_wrapping_add_assign(a, b));
        self.summands = summands;
        Ok(())
    }
}

impl SecretKey {
    /// The plaintext sum held by `ciphertext` (a fresh encryption or an aggregate).
    pub fn decrypt(&self, ciphertext: &Ciphertext) -> Result<Vec<f64>, DecryptError> {
        if ciphertext.key_id != self.public_id {
            return Err(DecryptError::OtherKey {
                found: hex(&ciphertext.key_id[..8]),
                expected: hex(&self.public_id[..8]),
            });
        }
        if ciphertext.params != self.params {
            return Err(DecryptError::OtherParams);
        }
        let n = self.params.lwe_dimension;
        let bins = mask_count(&self.params, ciphertext.count);
        let (masks, bodies) = ciphertext.data.split_at(bins * n);
        let secret = self.key.as_ref();
        let params = self.params;
        Ok(masks
            .par_chunks_exact(n)
            .zip(bodies.par_chunks(n))
            .flat_map_iter(|(mask, bodies)| {
                let mut product = vec![0u64; n];
                slice_semi_reverse_negacyclic_convolution(&mut product, mask, secret);
                bodies
                    .iter()
                    .enumerate()
                    .map(move |(i, body)| decode(&params, body.wrapping_sub(product[n - 1 - i])))
                    .collect::<Vec<_>>()
            })
            .collect())
    }
}
