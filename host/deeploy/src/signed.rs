//! Signed requests: what an owner sends a node. The signature covers a domain tag, the action,
//! the app name, the spec's exact bytes (by BLAKE3), the owner's key, the nonce and the
//! window, so none of them can be changed, and a signature made for anything else (a
//! component, another action, another app) never verifies here.
//!
//! An app's identity is `OWNER/NAME`, `OWNER` being the fingerprint of the owner's key: two
//! owners' `web` are two apps, and a request naming `OTHER/web` is refused unless signed by
//! OTHER's key.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::DeeployError;
use crate::spec::AppSpec;

/// The longest validity window a request may carry, in seconds.
pub const MAX_WINDOW_S: u64 = 10 * 60;
/// Clock skew tolerated at the window's start, in seconds.
pub const SKEW_S: u64 = 30;

const DOMAIN: &[u8] = b"r1-deeploy-request-v1\0";

/// What a request asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Deploy (or update to) the spec.
    Deploy,
    /// Remove the app.
    Remove,
    /// Go back to the previous version.
    Rollback,
}

/// A request as it travels (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRequest {
    /// What it asks.
    pub action: Action,
    /// The app's name (without the owner part).
    pub app: String,
    /// The spec's TOML text, for a deploy; empty otherwise.
    #[serde(default)]
    pub spec: String,
    /// The owner's ed25519 public key, hex.
    pub owner: String,
    /// 16 random bytes, hex.
    pub nonce: String,
    /// Valid from (unix seconds).
    pub not_before: u64,
    /// Valid until (unix seconds).
    pub not_after: u64,
    /// ed25519 over [`SignedRequest::message`], hex.
    pub signature: String,
}

/// A request that passed every check but the nonce and the policy (see [`crate::nonces`]
/// and [`crate::policy`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// What it asks.
    pub action: Action,
    /// `OWNER/NAME`.
    pub app_id: String,
    /// The spec, parsed and validated, for a deploy.
    pub spec: Option<AppSpec>,
    /// The owner's key.
    pub owner: [u8; 32],
    /// The nonce's bytes.
    pub nonce: [u8; 16],
    /// Until when the request could be replayed (the nonce is kept that long).
    pub not_after: u64,
}

/// The fingerprint that scopes an owner's apps: the first 8 bytes of BLAKE3 of the key, hex.
pub fn owner_fingerprint(owner: &[u8; 32]) -> String {
    hex::encode(&blake3::hash(owner).as_bytes()[..8])
}

fn message(
    action: Action,
    app: &str,
    spec: &str,
    owner: &[u8; 32],
    nonce: &[u8; 16],
    window: (u64, u64),
) -> Vec<u8> {
    let mut m = Vec::with_capacity(DOMAIN.len() + 128 + app.len());
    m.extend_from_slice(DOMAIN);
    m.push(match action {
        Action::Deploy => 1,
        Action::Remove => 2,
        Action::Rollback => 3,
    });
    m.extend_from_slice(&(app.len() as u32).to_be_bytes());
    m.extend_from_slice(app.as_bytes());
    m.extend_from_slice(blake3::hash(spec.as_bytes()).as_bytes());
    m.extend_from_slice(owner);
    m.extend_from_slice(nonce);
    m.extend_from_slice(&window.0.to_be_bytes());
    m.extend_from_slice(&window.1.to_be_bytes());
    m
}

fn hex_array<const N: usize>(text: &str, what: &str) -> Result<[u8; N], DeeployError> {
    hex::decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| DeeployError::Invalid(format!("{what} is not {N} bytes of hex")))
}

impl SignedRequest {
    /// Signs `action` on app `app` (with `spec` for a deploy) by `key`, valid for `valid_s`
    /// seconds from `now`, with a fresh random nonce.
    pub fn sign(
        key: &SigningKey,
        action: Action,
        app: &str,
        spec: &str,
        now: u64,
        valid_s: u64,
    ) -> Result<Self, DeeployError> {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce)
            .map_err(|e| DeeployError::Invalid(format!("no randomness for a nonce: {e}")))?;
        let owner = key.verifying_key().to_bytes();
        let window = (now, now + valid_s);
        let signature = key.sign(&message(action, app, spec, &owner, &nonce, window));
        Ok(Self {
            action,
            app: app.to_owned(),
            spec: spec.to_owned(),
            owner: hex::encode(owner),
            nonce: hex::encode(nonce),
            not_before: window.0,
            not_after: window.1,
            signature: hex::encode(signature.to_bytes()),
        })
    }

    /// Checks the signature, then the window at `now`, then (for a deploy) the spec, in that
    /// order: nothing is parsed from a request whose signature fails.
    pub fn verify(&self, now: u64) -> Result<Verified, DeeployError> {
        let owner: [u8; 32] = hex_array(&self.owner, "owner")?;
        let nonce: [u8; 16] = hex_array(&self.nonce, "nonce")?;
        let signature: [u8; 64] = hex_array(&self.signature, "signature")?;
        let key = VerifyingKey::from_bytes(&owner).map_err(|_| DeeployError::BadSignature)?;
        let window = (self.not_before, self.not_after);
        key.verify_strict(
            &message(self.action, &self.app, &self.spec, &owner, &nonce, window),
            &Signature::from_bytes(&signature),
        )
        .map_err(|_| DeeployError::BadSignature)?;
        if self.not_after < self.not_before || self.not_after - self.not_before > MAX_WINDOW_S {
            return Err(DeeployError::Expired(format!(
                "a window of at most {MAX_WINDOW_S} s is accepted"
            )));
        }
        if now + SKEW_S < self.not_before {
            return Err(DeeployError::Expired("not valid yet".into()));
        }
        if now > self.not_after {
            return Err(DeeployError::Expired(format!(
                "it expired {} s ago",
                now - self.not_after
            )));
        }
        let spec = match self.action {
            Action::Deploy => {
                let spec = AppSpec::parse(&self.spec)?;
                if spec.name != self.app {
                    return Err(DeeployError::Invalid(format!(
                        "the spec names app {:?}, the request {:?}",
                        spec.name, self.app
                    )));
                }
                Some(spec)
            }
            Action::Remove | Action::Rollback => None,
        };
        Ok(Verified {
            action: self.action,
            app_id: format!("{}/{}", owner_fingerprint(&owner), self.app),
            spec,
            owner,
            nonce,
            not_after: self.not_after,
        })
    }
}

impl Verified {
    /// Refuses unless this request's owner owns `app_id` (`OWNER/NAME`).
    pub fn check_owner_of(&self, app_id: &str) -> Result<(), DeeployError> {
        if app_id == self.app_id {
            Ok(())
        } else {
            Err(DeeployError::ForeignOwner {
                app: app_id.to_owned(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "name = \"web\"\nversion = \"1\"\nreplicas = 2\n\n[[components]]\nname = \"api\"\ncid = \"bafkr4x\"\n";

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn a_signed_deploy_verifies_and_is_scoped_by_its_owner() {
        let req = SignedRequest::sign(&key(1), Action::Deploy, "web", SPEC, 1_000, 300).unwrap();
        let ok = req.verify(1_100).unwrap();
        assert_eq!(
            ok.app_id,
            format!(
                "{}/web",
                owner_fingerprint(&key(1).verifying_key().to_bytes())
            )
        );
        assert_eq!(ok.spec.unwrap().replicas, Some(2));
        // Another owner's `web` is another app.
        let other = SignedRequest::sign(&key(2), Action::Remove, "web", "", 1_000, 300)
            .unwrap()
            .verify(1_000)
            .unwrap();
        assert_ne!(other.app_id, ok.app_id);
        assert!(matches!(
            other.check_owner_of(&ok.app_id),
            Err(DeeployError::ForeignOwner { .. })
        ));
    }

    #[test]
    fn forged_altered_expired_and_overlong_requests_are_refused() {
        let req = SignedRequest::sign(&key(1), Action::Deploy, "web", SPEC, 1_000, 300).unwrap();
        let mut altered = req.clone();
        altered.spec = SPEC.replace("replicas = 2", "replicas = 200");
        assert_eq!(altered.verify(1_000), Err(DeeployError::BadSignature));
        let mut forged = req.clone();
        forged.owner = hex::encode(key(2).verifying_key().to_bytes());
        assert_eq!(forged.verify(1_000), Err(DeeployError::BadSignature));
        let mut retargeted = req.clone();
        retargeted.action = Action::Remove;
        assert_eq!(retargeted.verify(1_000), Err(DeeployError::BadSignature));
        let mut stretched = req.clone();
        stretched.not_after += 3600;
        assert_eq!(stretched.verify(1_000), Err(DeeployError::BadSignature));
        assert!(matches!(req.verify(1_301), Err(DeeployError::Expired(_))));
        assert!(matches!(req.verify(900), Err(DeeployError::Expired(_))));
        let long = SignedRequest::sign(&key(1), Action::Deploy, "web", SPEC, 1_000, 3_600).unwrap();
        assert!(matches!(long.verify(1_000), Err(DeeployError::Expired(_))));
        let misnamed =
            SignedRequest::sign(&key(1), Action::Deploy, "api", SPEC, 1_000, 60).unwrap();
        assert!(matches!(
            misnamed.verify(1_000),
            Err(DeeployError::Invalid(_))
        ));
    }
}
