//! `r1 epoch`, `r1 epochs`: OracleSync certificates listed and fetched from a node, and
//! checked offline with only the oracles' public keys (a node's word is never taken: a
//! certificate fetched by number is verified against the oracle set before it is shown).

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

/// A certificate fetched from the node at `api`, verified against the node's oracle set.
fn fetch(epoch: u64, api: &str) -> Result<Certificate> {
    let client = r1_client::Client::connect(api)?;
    let listing = client.epochs(1)?;
    let oracles: Vec<[u8; 32]> = listing["oracles"]
        .as_array()
        .context("the node lists no oracles")?
        .iter()
        .filter_map(|k| hex::decode(k.as_str()?).ok()?.try_into().ok())
        .collect();
    let f = listing["f"].as_u64().context("the node gives no f")? as usize;
    let bytes = client.epoch_certificate(epoch)?;
    let cert = Certificate::from_bytes(&bytes).context("the node sent no certificate")?;
    cert.verify(&oracles, f)
        .context("the node's certificate does not verify against its oracle set")?;
    anyhow::ensure!(
        cert.table.epoch == epoch,
        "the node sent epoch {}'s certificate",
        cert.table.epoch
    );
    Ok(cert)
}

/// `r1 epoch get N [-o FILE]`.
pub fn get(epoch: u64, out: Option<&Path>, api: &str) -> Result<()> {
    let cert = fetch(epoch, api)?;
    let default = std::path::PathBuf::from(format!("epoch-{epoch}.cert"));
    let out = out.unwrap_or(&default);
    std::fs::write(out, cert.to_bytes())
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "epoch {epoch}: {} signatures, {} nodes, root {} -> {}",
        cert.signatures.len(),
        cert.table.figures.len(),
        hex::encode(cert.root),
        out.display()
    );
    Ok(())
}

/// `r1 epochs`.
pub fn list(limit: usize, api: &str) -> Result<()> {
    let listing = r1_client::Client::connect(api)?.epochs(limit)?;
    let oracles = listing["oracles"].as_array().map_or(0, Vec::len);
    println!(
        "{oracles} oracles, f = {}, epochs of {} ms; now in epoch {}",
        listing["f"], listing["epoch_ms"], listing["current"]
    );
    let epochs = listing["epochs"].as_array().cloned().unwrap_or_default();
    if epochs.is_empty() {
        println!("no epoch worked on yet");
    }
    for e in epochs {
        let root = e["root"]
            .as_str()
            .map_or(String::from("-"), |r| r[..16.min(r.len())].to_owned());
        println!(
            "{:>10}  {:<9}  {} signatures  {} nodes  {} tables  root {root}",
            e["epoch"],
            e["status"].as_str().unwrap_or("?"),
            e["signatures"],
            e["nodes"],
            e["tables"]
        );
    }
    Ok(())
}

/// `r1 epoch show FILE|N [--node ID]`: the figures, or one node's with its proof checked.
pub fn show(target: &str, node: Option<&str>, api: &str) -> Result<()> {
    let path = Path::new(target);
    let cert = match target.parse::<u64>() {
        Ok(epoch) if !path.exists() => fetch(epoch, api)?,
        _ => read(path)?,
    };
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
