//! The `r1-signature` custom section. Specified in `docs/signing.md`; in short:
//!
//! ```text
//! section payload = "R1SIG" 0x01            magic and format version
//!                   u32le claims_len
//!                   claims_len bytes        claims, UTF-8 JSON
//!                   u8 count (1..=16)
//!                   count × (32-byte ed25519 public key, 64-byte signature)
//! signed message  = "r1-component-signature-v1" 0x00
//!                   BLAKE3(component with every top-level r1-signature section removed)
//!                   the claims bytes exactly as stored
//! ```
//!
//! The first signature is the publisher's (its key must equal `claims.publisher`); later
//! ones are countersignatures (e.g. a marketplace's) over the same message. A component may
//! hold at most one `r1-signature` section.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier};
use serde::{Deserialize, Serialize};

use super::keys::{PublicKey, public_key};

/// Name of the custom section that holds the signatures.
pub const SECTION_NAME: &str = "r1-signature";
const MAGIC: &[u8; 6] = b"R1SIG\x01";
const DOMAIN: &[u8] = b"r1-component-signature-v1\0";
/// Most signatures (publisher plus countersignatures) one section may hold.
pub const MAX_SIGNATURES: usize = 16;
const MAX_CLAIMS_BYTES: usize = 64 * 1024;

/// What the publisher states about the component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// Component name; must not be empty.
    pub name: String,
    /// Component version; must not be empty.
    pub version: String,
    /// Hex ed25519 public key of the publisher.
    pub publisher: String,
    /// Capabilities the component requests, e.g. `cstore`, `cstore:app`, `fs:/data`.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Unix seconds.
    pub issued_at: u64,
    /// Unix seconds; absent = no expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
}

/// Why a component's signature could not be read, made, verified, or accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The bytes are not a well-formed wasm module or component.
    #[error("malformed wasm: {0}")]
    MalformedWasm(String),
    /// The `r1-signature` section does not follow the format.
    #[error("malformed signature section: {0}")]
    MalformedSection(String),
    /// The component holds more than one `r1-signature` section.
    #[error("more than one r1-signature section")]
    DuplicateSection,
    /// The component has no `r1-signature` section.
    #[error("the component is not signed")]
    Unsigned,
    /// A signature does not hold over the content hash and claims.
    #[error("signature {index} by {key} does not verify: the component or its claims were altered")]
    BadSignature {
        /// Position of the signature in the section (0 is the publisher).
        index: usize,
        /// Fingerprint of the signing key.
        key: String,
    },
    /// The first signature is not by the publisher named in the claims.
    #[error("claims name publisher {claimed} but the first signature is by {signer}")]
    PublisherMismatch {
        /// The publisher key named in the claims, as given.
        claimed: String,
        /// Hex public key of the first signer.
        signer: String,
    },
    /// The publisher is not in this node's trust list.
    #[error("publisher {fingerprint} ({key}) is not trusted by this node")]
    UntrustedPublisher {
        /// Hex public key of the publisher.
        key: String,
        /// Fingerprint of the publisher's key.
        fingerprint: String,
    },
    /// The claims' `expires_at` has passed.
    #[error("claims expired at {expires_at} (now {now})")]
    Expired {
        /// When the claims expired, in Unix seconds.
        expires_at: u64,
        /// The time checked against, in Unix seconds.
        now: u64,
    },
    /// The claims' `issued_at` is further in the future than the tolerated clock skew.
    #[error("claims issued at {issued_at}, in the future (now {now})")]
    NotYetValid {
        /// When the claims say they were issued, in Unix seconds.
        issued_at: u64,
        /// The time checked against, in Unix seconds.
        now: u64,
    },
    /// The claims request a capability the deployment does not grant.
    #[error(
        "actor {actor:?} requests capability `{capability}`, which the deployment does not grant"
    )]
    CapabilityNotGranted {
        /// The actor being deployed.
        actor: String,
        /// The requested capability, as written in the claims.
        capability: String,
    },
    /// The component imports an interface whose capability its claims do not request.
    #[error(
        "actor {actor:?} imports `{interface}` but its signed claims do not request `{capability}`"
    )]
    UndeclaredCapability {
        /// The actor being deployed.
        actor: String,
        /// The imported interface that needs the capability.
        interface: String,
        /// The grant form of the missing capability, e.g. `cstore:<namespace>`.
        capability: String,
    },
    /// The claims are invalid (empty name or version, too large, unknown capability).
    #[error("invalid claims: {0}")]
    BadClaims(String),
    /// The countersigning key already signed the component.
    #[error("this key already signed the component")]
    AlreadySigned,
}

/// The parsed signature section.
#[derive(Debug, Clone)]
pub struct SignatureSection {
    /// The claims JSON exactly as stored; this is what is signed.
    pub claims_bytes: Vec<u8>,
    /// The claims parsed from `claims_bytes`.
    pub claims: Claims,
    /// Each signer's key and ed25519 signature, publisher first.
    pub signatures: Vec<(PublicKey, [u8; 64])>,
}

/// A component split into its content hash and its signature section.
#[derive(Debug, Clone)]
pub struct Inspected {
    /// BLAKE3 of the bytes without the signature section.
    pub content_hash: [u8; 32],
    /// The bytes without the signature section.
    pub stripped: Vec<u8>,
    /// The signature section, if the component has one.
    pub section: Option<SignatureSection>,
}

/// A component whose every signature holds (trust is the policy's business).
#[derive(Debug, Clone)]
pub struct Verified {
    /// BLAKE3 of the component without its signature section.
    pub content_hash: [u8; 32],
    /// The signed claims.
    pub claims: Claims,
    /// The first signer, named in the claims.
    pub publisher: PublicKey,
    /// The later signers, in order.
    pub countersigners: Vec<PublicKey>,
}

fn read_leb_u32(bytes: &[u8], pos: &mut usize) -> Result<u32, SignatureError> {
    let mut reader = wasmparser::BinaryReader::new(&bytes[*pos..], *pos);
    let value = reader
        .read_var_u32()
        .map_err(|e| SignatureError::MalformedWasm(e.to_string()))?;
    *pos = reader.original_position();
    Ok(value)
}

fn write_leb_u32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Walks the top-level sections (a module's or a component's; both are `id, size, bytes`),
/// separating the signature section from the rest.
pub fn inspect(bytes: &[u8]) -> Result<Inspected, SignatureError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(SignatureError::MalformedWasm("no wasm header".into()));
    }
    let mut stripped = Vec::with_capacity(bytes.len());
    stripped.extend_from_slice(&bytes[..8]);
    let mut section = None;
    let mut pos = 8;
    while pos < bytes.len() {
        let start = pos;
        let id = bytes[pos];
        pos += 1;
        let size = read_leb_u32(bytes, &mut pos)? as usize;
        let end = pos
            .checked_add(size)
            .filter(|end| *end <= bytes.len())
            .ok_or_else(|| {
                SignatureError::MalformedWasm(format!("section at {start} runs past the end"))
            })?;
        if id == 0 {
            let mut name_pos = pos;
            let name_len = read_leb_u32(bytes, &mut name_pos)? as usize;
            let name_end = name_pos
                .checked_add(name_len)
                .filter(|e| *e <= end)
                .ok_or_else(|| {
                    SignatureError::MalformedWasm(format!("custom section name at {start}"))
                })?;
            if &bytes[name_pos..name_end] == SECTION_NAME.as_bytes() {
                if section.is_some() {
                    return Err(SignatureError::DuplicateSection);
                }
                section = Some(parse_section(&bytes[name_end..end])?);
                pos = end;
                continue;
            }
        }
        stripped.extend_from_slice(&bytes[start..end]);
        pos = end;
    }
    Ok(Inspected {
        content_hash: *blake3::hash(&stripped).as_bytes(),
        stripped,
        section,
    })
}

/// The content hash an OCI image is signed under: BLAKE3 over a domain and its manifest
/// digest (`sha256:…`), so an image signature can never stand for a component's.
pub fn image_content_hash(manifest_digest: &str) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"r1-oci-image\0");
    h.update(manifest_digest.as_bytes());
    *h.finalize().as_bytes()
}

/// Signs `content_hash` (an image's, [`image_content_hash`]) as its publisher: the signature
/// payload, kept beside the image instead of inside it (a file `r1-signature` in its layout).
pub fn sign_detached(
    content_hash: &[u8; 32],
    mut claims: Claims,
    key: &SigningKey,
) -> Result<Vec<u8>, SignatureError> {
    claims.publisher = public_key(key).to_hex();
    if claims.name.is_empty() || claims.version.is_empty() {
        return Err(SignatureError::BadClaims(
            "name and version must not be empty".into(),
        ));
    }
    let claims_bytes =
        serde_json::to_vec(&claims).map_err(|e| SignatureError::BadClaims(e.to_string()))?;
    if claims_bytes.len() > MAX_CLAIMS_BYTES {
        return Err(SignatureError::BadClaims("claims exceed 64 KiB".into()));
    }
    let sig = key
        .sign(&signed_message(content_hash, &claims_bytes))
        .to_bytes();
    Ok(encode_payload(&claims_bytes, &[(public_key(key), sig)]))
}

/// Reads a detached signature payload ([`sign_detached`]).
pub fn parse_detached(payload: &[u8]) -> Result<SignatureSection, SignatureError> {
    parse_section(payload)
}

fn parse_section(payload: &[u8]) -> Result<SignatureSection, SignatureError> {
    let bad = |why: &str| SignatureError::MalformedSection(why.to_owned());
    let rest = payload
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| bad("unknown magic or version"))?;
    let (len, rest) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| bad("truncated claims length"))?;
    let len = u32::from_le_bytes(*len) as usize;
    if len > MAX_CLAIMS_BYTES || len > rest.len() {
        return Err(bad("claims length out of range"));
    }
    let (claims_bytes, rest) = rest.split_at(len);
    let claims: Claims = serde_json::from_slice(claims_bytes)
        .map_err(|e| SignatureError::MalformedSection(format!("claims: {e}")))?;
    let (&count, mut rest) = rest
        .split_first()
        .ok_or_else(|| bad("missing signature count"))?;
    let count = count as usize;
    if count == 0 || count > MAX_SIGNATURES {
        return Err(bad("signature count out of range"));
    }
    let mut signatures = Vec::with_capacity(count);
    for _ in 0..count {
        let (key, after) = rest
            .split_first_chunk::<32>()
            .ok_or_else(|| bad("truncated public key"))?;
        let (sig, after) = after
            .split_first_chunk::<64>()
            .ok_or_else(|| bad("truncated signature"))?;
        signatures.push((PublicKey(*key), *sig));
        rest = after;
    }
    if !rest.is_empty() {
        return Err(bad("trailing bytes"));
    }
    Ok(SignatureSection {
        claims_bytes: claims_bytes.to_vec(),
        claims,
        signatures,
    })
}

fn holds(message: &[u8], key: &PublicKey, sig: &[u8; 64]) -> bool {
    key.verifying_key()
        .is_some_and(|vk| vk.verify(message, &Signature::from_bytes(sig)).is_ok())
}

fn signed_message(content_hash: &[u8; 32], claims_bytes: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(DOMAIN.len() + 32 + claims_bytes.len());
    msg.extend_from_slice(DOMAIN);
    msg.extend_from_slice(content_hash);
    msg.extend_from_slice(claims_bytes);
    msg
}

/// The signature payload: magic, claims, signatures (the custom section's content).
fn encode_payload(claims_bytes: &[u8], signatures: &[(PublicKey, [u8; 64])]) -> Vec<u8> {
    let mut payload = Vec::new();
    payload.extend_from_slice(MAGIC);
    payload.extend_from_slice(&(claims_bytes.len() as u32).to_le_bytes());
    payload.extend_from_slice(claims_bytes);
    payload.push(signatures.len() as u8);
    for (key, sig) in signatures {
        payload.extend_from_slice(&key.0);
        payload.extend_from_slice(sig);
    }
    payload
}

fn encode_section(claims_bytes: &[u8], signatures: &[(PublicKey, [u8; 64])]) -> Vec<u8> {
    let payload = encode_payload(claims_bytes, signatures);
    let mut body = Vec::new();
    write_leb_u32(&mut body, SECTION_NAME.len() as u32);
    body.extend_from_slice(SECTION_NAME.as_bytes());
    body.extend_from_slice(&payload);
    let mut section = vec![0u8];
    write_leb_u32(&mut section, body.len() as u32);
    section.extend_from_slice(&body);
    section
}

/// Signs `bytes` as its publisher: any previous signature section is replaced.
/// `claims.publisher` is set from `key`.
pub fn sign(bytes: &[u8], mut claims: Claims, key: &SigningKey) -> Result<Vec<u8>, SignatureError> {
    claims.publisher = public_key(key).to_hex();
    if claims.name.is_empty() || claims.version.is_empty() {
        return Err(SignatureError::BadClaims(
            "name and version must not be empty".into(),
        ));
    }
    let inspected = inspect(bytes)?;
    let claims_bytes =
        serde_json::to_vec(&claims).map_err(|e| SignatureError::BadClaims(e.to_string()))?;
    if claims_bytes.len() > MAX_CLAIMS_BYTES {
        return Err(SignatureError::BadClaims("claims exceed 64 KiB".into()));
    }
    let sig = key
        .sign(&signed_message(&inspected.content_hash, &claims_bytes))
        .to_bytes();
    let mut out = inspected.stripped;
    out.extend_from_slice(&encode_section(&claims_bytes, &[(public_key(key), sig)]));
    Ok(out)
}

/// Adds `key`'s countersignature over the same content and claims. The existing signatures
/// must verify first.
pub fn countersign(bytes: &[u8], key: &SigningKey) -> Result<Vec<u8>, SignatureError> {
    let inspected = inspect(bytes)?;
    let section = inspected.section.ok_or(SignatureError::Unsigned)?;
    verify_section(&inspected.content_hash, &section)?;
    let signer = public_key(key);
    if section.signatures.iter().any(|(k, _)| *k == signer) {
        return Err(SignatureError::AlreadySigned);
    }
    if section.signatures.len() >= MAX_SIGNATURES {
        return Err(SignatureError::MalformedSection(
            "too many signatures".into(),
        ));
    }
    let sig = key
        .sign(&signed_message(
            &inspected.content_hash,
            &section.claims_bytes,
        ))
        .to_bytes();
    let mut signatures = section.signatures;
    signatures.push((signer, sig));
    let mut out = inspected.stripped;
    out.extend_from_slice(&encode_section(&section.claims_bytes, &signatures));
    Ok(out)
}

/// Checks every signature; the first must be the publisher named in the claims.
pub fn verify(bytes: &[u8]) -> Result<Verified, SignatureError> {
    let inspected = inspect(bytes)?;
    let section = inspected.section.ok_or(SignatureError::Unsigned)?;
    verify_section(&inspected.content_hash, &section)
}

/// Checks the signatures of an already inspected component.
pub fn verify_section(
    content_hash: &[u8; 32],
    section: &SignatureSection,
) -> Result<Verified, SignatureError> {
    let message = signed_message(content_hash, &section.claims_bytes);
    for (index, (key, sig)) in section.signatures.iter().enumerate() {
        if !holds(&message, key, sig) {
            return Err(SignatureError::BadSignature {
                index,
                key: key.fingerprint(),
            });
        }
    }
    let (publisher, _) = section.signatures[0];
    if PublicKey::from_hex(&section.claims.publisher).ok() != Some(publisher) {
        return Err(SignatureError::PublisherMismatch {
            claimed: section.claims.publisher.clone(),
            signer: publisher.to_hex(),
        });
    }
    Ok(Verified {
        content_hash: *content_hash,
        claims: section.claims.clone(),
        publisher,
        countersigners: section.signatures[1..].iter().map(|(k, _)| *k).collect(),
    })
}

/// Each signature with whether it holds, for `r1 verify`.
pub fn signature_report(
    bytes: &[u8],
) -> Result<(Inspected, Vec<(PublicKey, bool)>), SignatureError> {
    let inspected = inspect(bytes)?;
    let report = match &inspected.section {
        None => Vec::new(),
        Some(section) => {
            let message = signed_message(&inspected.content_hash, &section.claims_bytes);
            section
                .signatures
                .iter()
                .map(|(key, sig)| (*key, holds(&message, key, sig)))
                .collect()
        }
    };
    Ok((inspected, report))
}
