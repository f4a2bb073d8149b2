//! The node's OCI side: images travel through R1FS as tars of OCI layouts, are imported into
//! the node's image store (every digest checked), and run as container actors through the
//! runtime (which checks the image's signature against the trust policy before anything is
//! unpacked).
//!
//! Who may call what: the API's token holders (import, start) and Deeploy's reconciler (for
//! `kind = "oci"` components). A node without an OCI runtime (or not running as root) answers
//! every call with the reason.

use std::sync::Arc;

use r1_core::contract::blobs::BlobService;
use r1_runtime::{ActorInfo, ContainerLaunch};
use serde::Serialize;

use crate::node::{DeployError, Node};

/// An image this node holds.
#[derive(Debug, Clone, Serialize)]
pub struct ImageRecord {
    /// Its manifest digest (`sha256:…`): what specs name and publishers sign.
    pub digest: String,
    /// Whether it came with a publisher's signature.
    pub signed: bool,
}

/// Why an image could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// This node runs no containers (and why).
    #[error("this node runs no containers: {0}")]
    Unavailable(String),
    /// The layout tar could not be fetched from R1FS.
    #[error("cannot fetch the image layout {cid}: {reason}")]
    Fetch {
        /// Its R1FS content id.
        cid: String,
        /// Why.
        reason: String,
    },
    /// The layout is refused (a digest that does not match, a malformed manifest, …).
    #[error(transparent)]
    Refused(#[from] r1_oci::OciError),
}

impl Node {
    /// The OCI side, or why there is none.
    pub fn containers(&self) -> Result<&Arc<r1_oci::Oci>, ImageError> {
        self.oci.as_ref().ok_or_else(|| {
            ImageError::Unavailable(
                "no OCI runtime (install runc) or the node does not run as root; see the node log"
                    .into(),
            )
        })
    }

    /// Imports the image layout tar stored in R1FS as `cid` (fetched from a peer when this
    /// node does not hold it). A cid names the same bytes forever and the node never removes
    /// an image, so a layout imported once is not fetched and unpacked again (the reconciler
    /// asks at every replica start).
    pub async fn import_image(&self, cid: &str) -> Result<ImageRecord, ImageError> {
        let oci = self.containers()?.clone();
        if let Some((digest, signed)) = self.imported().get(cid) {
            return Ok(ImageRecord {
                digest: digest.clone(),
                signed: *signed,
            });
        }
        let blobs: &dyn BlobService = &**self.files();
        let fetch = |reason: String| ImageError::Fetch {
            cid: cid.to_owned(),
            reason,
        };
        let stat = blobs.open(cid).await.map_err(|e| fetch(e.to_string()))?;
        let tar = blobs
            .read(cid, 0, stat.size, None)
            .map_err(|e| fetch(e.to_string()))?;
        let image = tokio::task::spawn_blocking(move || {
            let image = oci.images().import_tar(tar.as_slice())?;
            let signed = oci.images().signature(&image.digest)?.is_some();
            Ok::<_, r1_oci::OciError>(ImageRecord {
                digest: image.digest,
                signed,
            })
        })
        .await
        .map_err(|e| ImageError::Unavailable(e.to_string()))??;
        tracing::info!(image = %image.digest, %cid, "image imported");
        self.imported()
            .insert(cid.to_owned(), (image.digest.clone(), image.signed));
        Ok(image)
    }

    fn imported(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, (String, bool)>> {
        self.imported.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The images this node holds.
    pub fn images(&self) -> Result<Vec<ImageRecord>, ImageError> {
        let oci = self.containers()?;
        let mut out = Vec::new();
        for digest in oci.images().list()? {
            let signed = oci.images().signature(&digest)?.is_some();
            out.push(ImageRecord { digest, signed });
        }
        Ok(out)
    }

    /// Starts an imported image as a container actor; its signature (if it came with one) is
    /// checked by the runtime's trust policy. `app`: the Deeploy app it is a replica of.
    pub async fn start_container(
        &self,
        mut launch: ContainerLaunch,
        app: Option<String>,
    ) -> Result<ActorInfo, DeployError> {
        if launch.signature.is_none()
            && let Ok(oci) = self.containers()
        {
            launch.signature = oci.images().signature(&launch.image).ok().flatten();
        }
        let name = launch.name.clone();
        let info = self.runtime().spawn_container(launch).await?;
        if let Some(app) = app {
            self.note_replica(name, app);
        }
        Ok(info)
    }
}
