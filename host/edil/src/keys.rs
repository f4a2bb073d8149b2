//! A job's key pair: the binary LWE secret key (the owner's only) and the compact public key
//! clients encrypt under. A key is named by its id, the BLAKE3 of the public key's bytes.

use tfhe::core_crypto::prelude::*;

use crate::format::{FormatError, Reader, Writer};
use crate::params::{Params, ParamsError};

/// A key's id: the BLAKE3 hash (32 bytes) of the serialized public key.
pub type KeyId = [u8; 32];

const PUBLIC_MAGIC: &[u8; 8] = b"R1EDILPK";
const SECRET_MAGIC: &[u8; 8] = b"R1EDILSK";

/// A job's LWE compact public key: clients encrypt under it; it cannot decrypt.
pub struct PublicKey {
    pub(crate) params: Params,
    pub(crate) key: LweCompactPublicKeyOwned<u64>,
    id: KeyId,
}

/// A job's binary LWE secret key: the owner's only, it decrypts what its public key encrypts.
pub struct SecretKey {
    pub(crate) params: Params,
    pub(crate) key: LweSecretKeyOwned<u64>,
    /// The id of the public key made with it: ciphertexts name it.
    pub(crate) public_id: KeyId,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey")
            .field("public_id", &hex(&self.public_id))
            .finish_non_exhaustive()
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

pub(crate) fn noise(params: &Params) -> DynamicDistribution<u64> {
    DynamicDistribution::new_t_uniform(params.noise_bound_log2)
}

impl SecretKey {
    /// A fresh key pair for a job (randomness from the OS).
    pub fn generate(params: Params) -> Result<(SecretKey, PublicKey), ParamsError> {
        params.validate()?;
        let mut seeder = new_seeder();
        let seeder = seeder.as_mut();
        let mut secret_gen = SecretRandomGenerator::<DefaultRandomGenerator>::new(seeder.seed());
        let mut encryption_gen =
            EncryptionRandomGenerator::<DefaultRandomGenerator>::new(seeder.seed(), seeder);
        let secret: LweSecretKeyOwned<u64> = allocate_and_generate_new_binary_lwe_secret_key(
            LweDimension(params.lwe_dimension),
            &mut secret_gen,
        );
        let public = allocate_and_generate_new_lwe_compact_public_key(
            &secret,
            noise(&params),
            CiphertextModulus::new_native(),
            &mut encryption_gen,
        );
        let public = PublicKey::new(params, public);
        Ok((
            SecretKey {
                params,
                key: secret,
                public_id: public.id,
            },
            public,
        ))
    }

    /// The parameters the key pair was made for.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The id of the matching public key.
    pub fn public_id(&self) -> KeyId {
        self.public_id
    }

    /// Serialized (keep it private: it decrypts every aggregate of the job).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(SECRET_MAGIC);
        self.params.write(&mut w);
        w.bytes(&self.public_id);
        w.words(self.key.as_ref());
        w.finish()
    }

    /// Reads a key written by [`SecretKey::to_bytes`]; refuses one that is not a binary vector
    /// of the LWE dimension.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes, SECRET_MAGIC, "secret key")?;
        let params = Params::read(&mut r)?;
        let public_id = r.array("key id")?;
        let words = r.words("secret key")?;
        r.end("secret key")?;
        if words.len() != params.lwe_dimension || words.iter().any(|&b| b > 1) {
            return Err(FormatError::Invalid(
                "secret key is not a binary vector of the LWE dimension".into(),
            ));
        }
        Ok(SecretKey {
            params,
            key: LweSecretKey::from_container(words),
            public_id,
        })
    }
}

impl PublicKey {
    fn new(params: Params, key: LweCompactPublicKeyOwned<u64>) -> Self {
        let mut w = Writer::new(PUBLIC_MAGIC);
        params.write(&mut w);
        w.words(key.as_ref());
        let id = *blake3::hash(&w.finish()).as_bytes();
        PublicKey { params, key, id }
    }

    /// The parameters the key pair was made for.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The key's id: the BLAKE3 of [`PublicKey::to_bytes`].
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// Serialized as an `R1EDILPK` object: parameters, then the key's 2 · lwe_dimension words.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(PUBLIC_MAGIC);
        self.params.write(&mut w);
        w.words(self.key.as_ref());
        w.finish()
    }

    /// Reads a key written by [`PublicKey::to_bytes`]; refuses one whose size does not match
    /// its parameters. The id is recomputed from the bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes, PUBLIC_MAGIC, "public key")?;
        let params = Params::read(&mut r)?;
        let words = r.words("public key")?;
        r.end("public key")?;
        if words.len() != 2 * params.lwe_dimension {
            return Err(FormatError::Invalid(format!(
                "public key has {} words, the parameters need {}",
                words.len(),
                2 * params.lwe_dimension
            )));
        }
        let key = LweCompactPublicKey::from_container(words, CiphertextModulus::new_native());
        Ok(PublicKey::new(params, key))
    }
}
