//! Signed client updates and the aggregator that sums them without any key.
//!
//! An update is the client's ciphertext for one (job, round), signed with the client's node
//! key (ed25519) over the job, the round, the client key and the BLAKE3 of the ciphertext. The
//! aggregator admits an update only if it is for its job and round (an update replayed from
//! another round is refused), from a client on the job's list, correctly signed, the first from
//! that client, and under the job's key and parameters. The aggregate names every client in it.

use std::collections::HashSet;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::ciphertext::{AggregateError, Ciphertext};
use crate::format::{FormatError, Reader, Writer};
use crate::keys::{KeyId, PublicKey, hex};
use crate::params::Params;

/// A client's ed25519 public key.
pub type ClientId = [u8; 32];

const UPDATE_MAGIC: &[u8; 8] = b"R1EDILUP";
const AGGREGATE_MAGIC: &[u8; 8] = b"R1EDILAG";

/// Why an update is refused, or an aggregation cannot finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    /// The update's bytes cannot be read.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// The update carries no signature (all zeros).
    #[error("the update is not signed")]
    Unsigned,
    /// The signature does not verify under the client's key; holds the key's first 8 bytes
    /// in hex.
    #[error("the update's signature does not verify for client {0}")]
    BadSignature(String),
    /// The client is not a participant of the job; holds its key's first 8 bytes in hex.
    #[error("client {0} is not a participant of this job")]
    UnknownClient(String),
    /// The client already has an update in this round's sum; holds its key's first 8 bytes in
    /// hex.
    #[error("client {0} already contributed to this round (replay or duplicate)")]
    Duplicate(String),
    /// The update is for another job.
    #[error("the update is for job {found:?}, this aggregator sums job {expected:?}")]
    WrongJob {
        /// The update's job.
        found: String,
        /// The aggregator's job.
        expected: String,
    },
    /// The update is for another round (e.g. replayed from an earlier one).
    #[error("the update is for round {found}, this aggregator sums round {expected} (replayed?)")]
    WrongRound {
        /// The update's round.
        found: u64,
        /// The aggregator's round.
        expected: u64,
    },
    /// The ciphertext is under another key or parameters than the job's, is already a sum, or
    /// cannot be added to the sum.
    #[error(transparent)]
    Mismatch(#[from] AggregateError),
    /// [`Aggregator::finish`] was called before any update was admitted.
    #[error("no update was admitted")]
    Empty,
}

/// One client's encrypted contribution to one round of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedUpdate {
    /// The job it contributes to.
    pub job: String,
    /// The round it contributes to.
    pub round: u64,
    /// The signing client's ed25519 public key.
    pub client: ClientId,
    ciphertext: Ciphertext,
    /// BLAKE3 of the ciphertext's bytes, taken once (the signature covers it).
    ciphertext_hash: [u8; 32],
    signature: [u8; 64],
}

fn signing_message(
    job: &str,
    round: u64,
    client: &ClientId,
    ciphertext_hash: &[u8; 32],
) -> Vec<u8> {
    let mut w = Writer::new(b"R1EDILSG");
    w.blob(job.as_bytes());
    w.u64(round);
    w.bytes(client);
    w.bytes(ciphertext_hash);
    w.finish()
}

fn hash(bytes: &[u8]) -> [u8; 32] {
    *blake3::hash(bytes).as_bytes()
}

impl SignedUpdate {
    /// `ciphertext` as this client's update to `round` of `job`, signed with its node `key`
    /// (whose public key becomes the client id).
    pub fn sign(job: &str, round: u64, ciphertext: Ciphertext, key: &SigningKey) -> Self {
        let client = key.verifying_key().to_bytes();
        let ciphertext_hash = hash(&ciphertext.to_bytes());
        let message = signing_message(job, round, &client, &ciphertext_hash);
        SignedUpdate {
            job: job.to_owned(),
            round,
            client,
            signature: key.sign(&message).to_bytes(),
            ciphertext,
            ciphertext_hash,
        }
    }

    /// An update with no signature (what a careless or malicious client might send).
    pub fn unsigned(job: &str, round: u64, client: ClientId, ciphertext: Ciphertext) -> Self {
        SignedUpdate {
            job: job.to_owned(),
            round,
            client,
            ciphertext_hash: hash(&ciphertext.to_bytes()),
            ciphertext,
            signature: [0; 64],
        }
    }

    /// The encrypted update.
    pub fn ciphertext(&self) -> &Ciphertext {
        &self.ciphertext
    }

    /// Serialized as an `R1EDILUP` object: job, round, client key, signature, ciphertext.
    pub fn to_bytes(&self) -> Vec<u8> {
        let ciphertext = self.ciphertext.to_bytes();
        let mut w = Writer::with_capacity(UPDATE_MAGIC, ciphertext.len() + 160);
        w.blob(self.job.as_bytes());
        w.u64(self.round);
        w.bytes(&self.client);
        w.bytes(&self.signature);
        w.blob(&ciphertext);
        w.finish()
    }

    /// Reads an update written by [`SignedUpdate::to_bytes`]; does not check the signature
    /// (see [`SignedUpdate::verify`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes, UPDATE_MAGIC, "update")?;
        let job = String::from_utf8(r.blob("job")?.to_vec())
            .map_err(|_| FormatError::Invalid("job name is not UTF-8".into()))?;
        let round = r.u64()?;
        let client = r.array("client")?;
        let signature = r.array("signature")?;
        let ciphertext_bytes = r.blob("ciphertext")?;
        let ciphertext = Ciphertext::from_bytes(ciphertext_bytes)?;
        r.end("update")?;
        Ok(SignedUpdate {
            job,
            round,
            client,
            ciphertext,
            ciphertext_hash: hash(ciphertext_bytes),
            signature,
        })
    }

    /// Checks the signature (nothing else).
    pub fn verify(&self) -> Result<(), UpdateError> {
        if self.signature == [0; 64] {
            return Err(UpdateError::Unsigned);
        }
        let bad = || UpdateError::BadSignature(hex(&self.client[..8]));
        let key = VerifyingKey::from_bytes(&self.client).map_err(|_| bad())?;
        let message = signing_message(&self.job, self.round, &self.client, &self.ciphertext_hash);
        key.verify(&message, &Signature::from_bytes(&self.signature))
            .map_err(|_| bad())
    }
}

/// The sum of one round's updates and who is in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate {
    /// The job summed.
    pub job: String,
    /// The round summed.
    pub round: u64,
    /// The clients whose updates it sums, in the order they were admitted.
    pub clients: Vec<ClientId>,
    /// The homomorphic sum of their ciphertexts.
    pub ciphertext: Ciphertext,
}

impl Aggregate {
    /// Serialized as an `R1EDILAG` object: job, round, client keys, ciphertext.
    pub fn to_bytes(&self) -> Vec<u8> {
        let ciphertext = self.ciphertext.to_bytes();
        let mut w = Writer::with_capacity(
            AGGREGATE_MAGIC,
            ciphertext.len() + 64 + self.clients.len() * 32,
        );
        w.blob(self.job.as_bytes());
        w.u64(self.round);
        w.u32(self.clients.len() as u32);
        for c in &self.clients {
            w.bytes(c);
        }
        w.blob(&ciphertext);
        w.finish()
    }

    /// Reads an aggregate written by [`Aggregate::to_bytes`]; refuses one whose client count
    /// differs from the number of updates its ciphertext sums.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes, AGGREGATE_MAGIC, "aggregate")?;
        let job = String::from_utf8(r.blob("job")?.to_vec())
            .map_err(|_| FormatError::Invalid("job name is not UTF-8".into()))?;
        let round = r.u64()?;
        let n = r.u32()? as usize;
        let clients = (0..n)
            .map(|_| r.array("client"))
            .collect::<Result<Vec<ClientId>, _>>()?;
        let ciphertext = Ciphertext::from_bytes(r.blob("ciphertext")?)?;
        r.end("aggregate")?;
        if ciphertext.summands() as usize != clients.len() {
            return Err(FormatError::Invalid(format!(
                "the aggregate names {} clients but sums {} updates",
                clients.len(),
                ciphertext.summands()
            )));
        }
        Ok(Aggregate {
            job,
            round,
            clients,
            ciphertext,
        })
    }
}

/// Sums the updates of one round of one job. Holds no secret: it cannot decrypt.
pub struct Aggregator {
    job: String,
    round: u64,
    key_id: KeyId,
    params: Params,
    participants: HashSet<ClientId>,
    clients: Vec<ClientId>,
    sum: Option<Ciphertext>,
}

impl Aggregator {
    /// An aggregator for `round` of `job`, whose updates must be under `public` and come from
    /// `participants`.
    pub fn new(
        job: &str,
        round: u64,
        public: &PublicKey,
        participants: impl IntoIterator<Item = ClientId>,
    ) -> Self {
        Aggregator {
            job: job.to_owned(),
            round,
            key_id: public.id(),
            params: *public.params(),
            participants: participants.into_iter().collect(),
            clients: Vec::new(),
            sum: None,
        }
    }

    /// Checks and adds one serialized update; returns its client.
    pub fn add(&mut self, bytes: &[u8]) -> Result<ClientId, UpdateError> {
        let update = SignedUpdate::from_bytes(bytes)?;
        if update.job != self.job {
            return Err(UpdateError::WrongJob {
                found: update.job,
                expected: self.job.clone(),
            });
        }
        if update.round != self.round {
            return Err(UpdateError::WrongRound {
                found: update.round,
                expected: self.round,
            });
        }
        if !self.participants.contains(&update.client) {
            return Err(UpdateError::UnknownClient(hex(&update.client[..8])));
        }
        update.verify()?;
        if self.clients.contains(&update.client) {
            return Err(UpdateError::Duplicate(hex(&update.client[..8])));
        }
        let index = self.clients.len();
        let ct = &update.ciphertext;
        if ct.key_id() != self.key_id {
            return Err(AggregateError::OtherKey {
                index,
                found: hex(&ct.key_id()[..8]),
                expected: hex(&self.key_id[..8]),
            }
            .into());
        }
        if *ct.params() != self.params || ct.summands() != 1 {
            return Err(AggregateError::OtherParams { index }.into());
        }
        match &mut self.sum {
            None => self.sum = Some(update.ciphertext),
            Some(sum) => sum.add_assign(&update.ciphertext, index)?,
        }
        self.clients.push(update.client);
        tracing::debug!(job = %self.job, round = self.round, client = %hex(&update.client[..8]), "update admitted");
        Ok(update.client)
    }

    /// Clients admitted so far, in order.
    pub fn clients(&self) -> &[ClientId] {
        &self.clients
    }

    /// The aggregate of the admitted updates; [`UpdateError::Empty`] if none was admitted.
    pub fn finish(self) -> Result<Aggregate, UpdateError> {
        Ok(Aggregate {
            ciphertext: self.sum.ok_or(UpdateError::Empty)?,
            job: self.job,
            round: self.round,
            clients: self.clients,
        })
    }
}
