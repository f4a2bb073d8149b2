//! iroh-blobs measured the way `scripts/bench-r1fs.sh` measures R1FS, on the same file:
//! - add: open a fresh on-disk store and import the file (BLAKE3 outboard + copy), MB/s —
//!   R1FS's add also opens (creates) its store inside the timing;
//! - add, synced: the same, then every file and directory of the store synced, which is what
//!   an R1FS add guarantees before it returns (iroh-blobs leaves the data in the page cache);
//! - fetch: a second endpoint with its own on-disk store fetches the blob from the first over
//!   loopback QUIC (relays and address lookup off), MB/s.
//!
//! Usage: iroh-blobs-bench <file> <work dir>
//!        → prints `add_mbps=<x> add_synced_mbps=<y> fetch_mbps=<z>`

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use iroh::{Endpoint, RelayMode, endpoint::presets, protocol::Router};
use iroh_blobs::{BlobsProtocol, store::fs::FsStore};

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, work] = args.as_slice() else {
        bail!("usage: iroh-blobs-bench <file> <work dir>");
    };
    let file = std::path::absolute(PathBuf::from(file))?;
    let work = PathBuf::from(work);
    let size = std::fs::metadata(&file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len() as f64;
    let mb = size / 1e6;

    // The synced variant adds into a store of its own, so both start equally fresh.
    let started = Instant::now();
    let synced_store = FsStore::load(work.join("synced")).await?;
    synced_store.blobs().add_path(&file).await?;
    sync_tree(&work.join("synced"))?;
    let add_synced_secs = started.elapsed().as_secs_f64();
    let _ = synced_store.shutdown().await;
    std::fs::remove_dir_all(work.join("synced"))?;

    let started = Instant::now();
    let provider_store = FsStore::load(work.join("provider")).await?;
    let tag = provider_store.blobs().add_path(&file).await?;
    let add_secs = started.elapsed().as_secs_f64();

    let provider = Endpoint::builder(presets::Minimal)
        .relay_mode(RelayMode::Disabled)
        .bind()
        .await?;
    let router = Router::builder(provider)
        .accept(iroh_blobs::ALPN, BlobsProtocol::new(&provider_store, None))
        .spawn();
    let provider_addr = router.endpoint().addr();

    let fetcher_store = FsStore::load(work.join("fetcher")).await?;
    let fetcher = Endpoint::builder(presets::Minimal)
        .relay_mode(RelayMode::Disabled)
        .bind()
        .await?;
    let started = Instant::now();
    let conn = fetcher.connect(provider_addr, iroh_blobs::ALPN).await?;
    let stats = fetcher_store.remote().fetch(conn, tag.hash).await?;
    let fetch_secs = started.elapsed().as_secs_f64();
    if stats.payload_bytes_read as f64 != size {
        bail!(
            "fetched {} payload bytes, expected {size}",
            stats.payload_bytes_read
        );
    }

    println!(
        "add_mbps={:.1} add_synced_mbps={:.1} fetch_mbps={:.1}",
        mb / add_secs,
        mb / add_synced_secs,
        mb / fetch_secs
    );
    // Measurement is done; shutdown is best effort (the stores' actors may already be gone).
    fetcher.close().await;
    let _ = router.shutdown().await;
    let _ = fetcher_store.shutdown().await;
    let _ = provider_store.shutdown().await;
    Ok(())
}

/// Syncs every file under `dir` and the directories themselves.
fn sync_tree(dir: &std::path::Path) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            sync_tree(&path)?;
        } else {
            std::fs::File::open(&path)?.sync_all()?;
        }
    }
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}
