//! The node's trust policy, applied to component bytes before anything is compiled.
//!
//! Order of checks: signature section well formed → every signature holds → the publisher
//! is trusted → claims are current → every requested capability is granted. In dev mode an
//! unsigned component is allowed with a warning; outside dev mode it is refused.

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use super::format::{self, SignatureError, Verified};
use super::keys::PublicKey;
use crate::capability::UNITS;
use crate::grants::{Capability, Grants};

/// Clock skew tolerated on `issued_at`.
const MAX_SKEW_SECS: u64 = 300;

/// Which publishers this node trusts, and whether unsigned components may run.
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    /// Dev mode: unsigned components run (with a warning).
    pub dev: bool,
    trusted: BTreeSet<PublicKey>,
}

/// Who vouches for a component that passed the policy.
#[derive(Debug, Clone)]
pub enum Provenance {
    /// Allowed only by dev mode.
    Unsigned,
    /// Signed by a trusted publisher, with the verified signatures and claims.
    Signed(Box<Verified>),
}

impl Provenance {
    /// The publisher's key, or `None` for an unsigned component.
    pub fn publisher(&self) -> Option<PublicKey> {
        match self {
            Provenance::Unsigned => None,
            Provenance::Signed(v) => Some(v.publisher),
        }
    }
}

/// The current time in Unix seconds (0 if the clock is before the epoch).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl TrustPolicy {
    /// Dev mode, trusting nobody yet (add the local keys with [`TrustPolicy::trust`]).
    pub fn dev() -> Self {
        Self {
            dev: true,
            trusted: BTreeSet::new(),
        }
    }

    /// Signed components from trusted publishers only.
    pub fn strict() -> Self {
        Self::default()
    }

    /// Adds `key` to the trusted publishers.
    pub fn trust(&mut self, key: PublicKey) -> &mut Self {
        self.trusted.insert(key);
        self
    }

    /// Whether `key` is a trusted publisher.
    pub fn trusts(&self, key: &PublicKey) -> bool {
        self.trusted.contains(key)
    }

    /// The trusted publishers, in key order.
    pub fn trusted(&self) -> impl Iterator<Item = &PublicKey> {
        self.trusted.iter()
    }

    /// Applies the policy to `bytes` deployed as `actor` with `grants`.
    pub fn check(
        &self,
        actor: &str,
        bytes: &[u8],
        grants: &Grants,
        now: u64,
    ) -> Result<Provenance, SignatureError> {
        let inspected = format::inspect(bytes)?;
        self.check_section(
            actor,
            &inspected.content_hash,
            inspected.section,
            grants,
            now,
        )
    }

    /// Applies the policy to an OCI image (manifest digest `sha256:…`) run as `actor` with
    /// `grants`, and its detached signature payload if it has one
    /// ([`format::sign_detached`]). Checked before anything of the image is unpacked.
    pub fn check_image(
        &self,
        actor: &str,
        manifest_digest: &str,
        signature: Option<&[u8]>,
        grants: &Grants,
        now: u64,
    ) -> Result<Provenance, SignatureError> {
        let section = signature.map(format::parse_detached).transpose()?;
        let content_hash = format::image_content_hash(manifest_digest);
        self.check_section(actor, &content_hash, section, grants, now)
    }

    fn check_section(
        &self,
        actor: &str,
        content_hash: &[u8; 32],
        section: Option<format::SignatureSection>,
        grants: &Grants,
        now: u64,
    ) -> Result<Provenance, SignatureError> {
        let Some(section) = section else {
            if self.dev {
                tracing::warn!(
                    actor,
                    "DEV MODE: running an UNSIGNED component; a node outside dev mode refuses it"
                );
                return Ok(Provenance::Unsigned);
            }
            return Err(SignatureError::Unsigned);
        };
        let verified = format::verify_section(content_hash, &section)?;
        if !self.trusted.contains(&verified.publisher) {
            return Err(SignatureError::UntrustedPublisher {
                key: verified.publisher.to_hex(),
                fingerprint: verified.publisher.fingerprint(),
            });
        }
        let claims = &verified.claims;
        if let Some(expires_at) = claims.expires_at
            && expires_at <= now
        {
            return Err(SignatureError::Expired { expires_at, now });
        }
        if claims.issued_at > now + MAX_SKEW_SECS {
            return Err(SignatureError::NotYetValid {
                issued_at: claims.issued_at,
                now,
            });
        }
        for capability in &claims.capabilities {
            if !granted(capability, grants)? {
                return Err(SignatureError::CapabilityNotGranted {
                    actor: actor.to_owned(),
                    capability: capability.clone(),
                });
            }
        }
        Ok(Provenance::Signed(Box::new(verified)))
    }
}

/// Whether `grants` satisfy one requested capability.
pub fn granted(capability: &str, grants: &Grants) -> Result<bool, SignatureError> {
    if let Some(unit) = UNITS.iter().find(|u| (u.owns_claim)(capability)) {
        return Ok((unit.satisfies)(capability, grants));
    }
    Ok(match capability.split_once(':') {
        Some(("fs", guest)) => grants
            .preopens
            .iter()
            .any(|p| p.guest == guest && !p.read_only),
        Some(("fs-ro", guest)) => grants.preopens.iter().any(|p| p.guest == guest),
        _ => {
            let units: Vec<&str> = UNITS.iter().map(|u| u.hint).collect();
            return Err(SignatureError::BadClaims(format!(
                "unknown capability {capability:?} (known: fs:GUEST_DIR, fs-ro:GUEST_DIR, {})",
                units.join(", ")
            )));
        }
    })
}

/// Whether the claims request capability `cap` in any scope.
pub fn declares(claims: &format::Claims, cap: Capability) -> bool {
    let unit = crate::capability::unit(cap);
    claims.capabilities.iter().any(|c| (unit.owns_claim)(c))
}
