//! `r1 oci`: OCI images for the container fallback — import a layout (through R1FS), list,
//! run one as a container actor; `r1 sign LAYOUT_DIR` signs one as its publisher.

use std::path::Path;

use anyhow::{Context, Result, bail};
use r1_client::Client;

/// The bytes of an image layout tar: `path` itself when it is a file (a tar of a layout), or
/// a tar made from the layout directory `path`.
pub fn layout_tar(path: &Path) -> Result<Vec<u8>> {
    if path.is_dir() {
        if !path.join("index.json").is_file() {
            bail!(
                "{} is not an OCI image layout (no index.json)",
                path.display()
            );
        }
        return r1_oci::image::tar_layout(path).map_err(anyhow::Error::msg);
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Adds the layout at `path` to R1FS and imports it on the node: (digest, cid, signed).
pub fn import(client: &Client, path: &Path) -> Result<(String, String, bool)> {
    let cid = crate::fs_cli::add_to_r1fs(client, path, "application/x-tar", layout_tar(path)?)?;
    let image = client.oci_import(&cid)?;
    let digest = image["digest"]
        .as_str()
        .context("the node answered no digest")?
        .to_owned();
    Ok((digest, cid, image["signed"].as_bool().unwrap_or(false)))
}

/// `r1 sign LAYOUT_DIR`: writes the publisher's detached signature of the layout's image
/// (`r1-signature`) into the layout; returns the image's digest.
pub fn sign(
    layout: &Path,
    key: &ed25519_dalek::SigningKey,
    claims: r1_runtime::signing::format::Claims,
) -> Result<String> {
    use r1_runtime::signing::format::{image_content_hash, sign_detached};
    let digest = r1_oci::image::layout_digest(layout).map_err(anyhow::Error::msg)?;
    let signature = sign_detached(&image_content_hash(&digest), claims, key)?;
    let path = layout.join(r1_oci::image::SIGNATURE_FILE);
    std::fs::write(&path, signature).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(digest)
}
