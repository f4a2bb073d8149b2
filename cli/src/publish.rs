//! Publishing: `r1 key`, `r1 sign`, `r1 verify`, and signing after `r1 build --sign`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use r1_runtime::signing::format::{self, Claims};
use r1_runtime::signing::keys::{self, PublicKey};
use r1_runtime::signing::policy::unix_now;
use serde::Deserialize;

pub fn key_new(out: Option<PathBuf>, force: bool) -> Result<()> {
    let path = out.unwrap_or_else(r1_node::config::default_key_path);
    let key = keys::generate()?;
    keys::write_secret(&path, &key, force)?;
    let public = keys::public_key(&key);
    println!("secret key   {} (mode 0600)", path.display());
    println!("public key   {}", keys::pub_path(&path).display());
    print_public(public);
    Ok(())
}

pub fn key_show(key: Option<PathBuf>) -> Result<()> {
    let path = key.unwrap_or_else(r1_node::config::default_key_path);
    print_public(keys::read_any_public(&path)?);
    Ok(())
}

fn print_public(key: PublicKey) {
    println!("publisher    {}", key.to_hex());
    println!("fingerprint  {}", key.fingerprint());
}

/// What `--claims FILE` may hold (TOML); flags override it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimsFile {
    pub name: Option<String>,
    pub version: Option<String>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Unix seconds.
    pub expires_at: Option<u64>,
    pub expires_in_days: Option<u64>,
}

/// Everything `r1 sign` and `r1 build --sign` take.
#[derive(Debug, Default, Clone)]
pub struct SignOptions {
    pub key: Option<PathBuf>,
    pub claims: Option<PathBuf>,
    pub name: Option<String>,
    pub version: Option<String>,
    pub capabilities: Vec<String>,
    pub expires_in_days: Option<u64>,
}

impl SignOptions {
    fn claims(&self, default_name: &str, default_version: &str) -> Result<Claims> {
        let file = match &self.claims {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read claims {}", path.display()))?;
                toml::from_str::<ClaimsFile>(&text)
                    .with_context(|| format!("invalid claims file {}", path.display()))?
            }
            None => ClaimsFile::default(),
        };
        let now = unix_now();
        let mut capabilities = file.capabilities;
        capabilities.extend(self.capabilities.iter().cloned());
        capabilities.sort();
        capabilities.dedup();
        let expires_at = match (
            self.expires_in_days.or(file.expires_in_days),
            file.expires_at,
        ) {
            (Some(days), _) => Some(now + days * 86_400),
            (None, at) => at,
        };
        Ok(Claims {
            name: self
                .name
                .clone()
                .or(file.name)
                .unwrap_or_else(|| default_name.to_owned()),
            version: self
                .version
                .clone()
                .or(file.version)
                .unwrap_or_else(|| default_version.to_owned()),
            publisher: String::new(),
            capabilities,
            issued_at: now,
            expires_at,
        })
    }

    fn key_path(&self) -> PathBuf {
        self.key
            .clone()
            .unwrap_or_else(r1_node::config::default_key_path)
    }
}

/// Signs (or countersigns) `component` in place, or into `out`.
pub fn sign(
    component: &Path,
    opts: &SignOptions,
    countersign: bool,
    out: Option<&Path>,
    default_version: &str,
) -> Result<PathBuf> {
    let key_path = opts.key_path();
    let key = keys::read_secret(&key_path).with_context(|| {
        format!(
            "cannot use signing key {} (create one with `r1 key new`)",
            key_path.display()
        )
    })?;
    if component.is_dir() {
        // An OCI image layout: its manifest digest is signed, the signature kept beside it.
        if countersign {
            anyhow::bail!("countersigning an image is not supported; sign it as its publisher");
        }
        let name = component
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into());
        let digest = crate::oci::sign(component, &key, opts.claims(&name, default_version)?)?;
        eprintln!("signed image {digest}");
        return Ok(component.join(r1_oci::image::SIGNATURE_FILE));
    }
    let bytes =
        std::fs::read(component).with_context(|| format!("cannot read {}", component.display()))?;
    let signed = if countersign {
        format::countersign(&bytes, &key)?
    } else {
        let stem = component
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "component".into());
        format::sign(&bytes, opts.claims(&stem, default_version)?, &key)?
    };
    let dest = out.unwrap_or(component).to_owned();
    let tmp = dest.with_extension("wasm-signing");
    std::fs::write(&tmp, &signed).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &dest).with_context(|| format!("cannot write {}", dest.display()))?;
    Ok(dest)
}

/// Prints the signature section and checks every signature (and trust, given a trust file).
pub fn verify(component: &Path, trust: Option<&Path>) -> Result<()> {
    let bytes =
        std::fs::read(component).with_context(|| format!("cannot read {}", component.display()))?;
    let (inspected, report) = format::signature_report(&bytes)?;
    println!("content hash  {}", hex::encode(inspected.content_hash));
    let Some(section) = &inspected.section else {
        bail!("{} is not signed", component.display());
    };
    let claims = &section.claims;
    println!("name          {}", claims.name);
    println!("version       {}", claims.version);
    println!("publisher     {}", claims.publisher);
    if let Ok(key) = PublicKey::from_hex(&claims.publisher) {
        println!("fingerprint   {}", key.fingerprint());
    }
    println!(
        "capabilities  {}",
        if claims.capabilities.is_empty() {
            "(none)".to_owned()
        } else {
            claims.capabilities.join(", ")
        }
    );
    println!("issued at     {} (unix)", claims.issued_at);
    match claims.expires_at {
        Some(at) => println!(
            "expires at    {at} (unix){}",
            if at <= unix_now() { "  EXPIRED" } else { "" }
        ),
        None => println!("expires at    never"),
    }
    let trusted = match trust {
        Some(path) => Some(keys::read_trust_file(path)?),
        None => None,
    };
    println!("signatures");
    for (i, (key, holds)) in report.iter().enumerate() {
        let role = if i == 0 {
            "publisher"
        } else {
            "countersignature"
        };
        let trust_note = match &trusted {
            Some(list) if list.contains(key) => ", trusted",
            Some(_) => ", NOT in trust file",
            None => "",
        };
        println!(
            "  {} {role:<16} {}  {}{trust_note}",
            i + 1,
            key.fingerprint(),
            if *holds { "valid" } else { "INVALID" }
        );
    }
    // The full check, including the publisher/claims binding.
    format::verify(&bytes)?;
    if let Some(list) = &trusted {
        let publisher = report[0].0;
        if !list.contains(&publisher) {
            bail!(
                "publisher {} is not in the trust file",
                publisher.fingerprint()
            );
        }
    }
    if let Some(at) = claims.expires_at
        && at <= unix_now()
    {
        bail!("the claims have expired");
    }
    println!("ok: every signature holds");
    Ok(())
}

/// `(name, version)` of the crate at `path`, for `r1 build --sign`.
pub fn crate_identity(path: &Path) -> Result<(String, String)> {
    #[derive(Deserialize)]
    struct Manifest {
        package: Package,
    }
    #[derive(Deserialize)]
    struct Package {
        name: String,
        version: Option<toml::Value>,
    }
    let manifest = path.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    let m: Manifest =
        toml::from_str(&text).with_context(|| format!("invalid {}", manifest.display()))?;
    let version = match m.package.version {
        Some(toml::Value::String(v)) => v,
        _ => "0.0.0".to_owned(),
    };
    Ok((m.package.name, version))
}
