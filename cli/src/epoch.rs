//! `r1 epoch`: OracleSync certificates checked offline, with only the oracles' public keys.

use std::path::Path;

use anyhow::{Context, Result, bail};
use r1_oraclesync::certificate::Certificate;

fn read(file: &Path) -> Result<Certificate> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    Certificate::from_bytes(&bytes)
        .with_context(|| format!("{} is not a certificate", file.display()))
}

/// The oracle keys of a trust-style file (hex ed25519 public keys, `#` comments).
fn oracles(file: &Path) -> Result<Vec<[u8; 32]>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let keys = r1_runtime::signing::keys::parse_trust_list(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    if keys.is_empty() {
        bail!("{} names no oracle key", file.display());
    }
    Ok(keys.into_iter().map(|k| k.0).collect())
}

/// `r1 epoch verify FILE --oracles KEYS [--f N]`: the certificate holds (f defaults to the
/// most the oracle set tolerates, ⌊(n − 1) / 3⌋).
pub fn verify(file: &Path, oracle_file: &Path, f: Option<usize>) -> Result<()> {
    let cert = read(file)?;
    let oracles = oracles(oracle_file)?;
    let f = f.unwrap_or((oracles.len() - 1) / 3);
    cert.verify(&oracles, f)?;
    println!(
        "epoch {}: certified by {} of {} oracles (2f + 1 = {} needed), {} nodes, root {}",
        cert.table.epoch,
        cert.signatures.len(),
        oracles.len(),
        2 * f + 1,
        cert.table.figures.len(),
        hex::encode(cert.root)
    );
    Ok(())
}

/// `r1 epoch show FILE [--node ID]`: the figures, or one node's with its proof checked.
pub fn show(file: &Path, node: Option<&str>) -> Result<()> {
    let cert = read(file)?;
    match node {
        Some(node) => {
            let proof = cert
                .proof(node)
                .with_context(|| format!("the certificate has no figure for {node}"))?;
            if !proof.holds(cert.table.epoch, &cert.root) {
                bail!("the proof of {node} does not lead to the certificate's root");
            }
            println!(
                "epoch {} node {node}: availability {}/255 ({:.1} %), proof of {} hashes to root {}",
                cert.table.epoch,
                proof.availability,
                proof.availability as f64 / 255.0 * 100.0,
                proof.hashes.len(),
                hex::encode(cert.root)
            );
            for h in &proof.hashes {
                println!("  {}", hex::encode(h));
            }
        }
        None => {
            println!("epoch {} root {}", cert.table.epoch, hex::encode(cert.root));
            for (node, v) in &cert.table.figures {
                println!("{node:<54} {v:>3}");
            }
        }
    }
    Ok(())
}
