//! iroh-blobs measured the way `scripts/bench-r1fs.sh` measures R1FS, on the same file:
//! - add: import the file into a fresh on-disk store (BLAKE3 outboard + copy), MB/s;
//! - fetch: a second endpoint with its own on-disk store fetches the blob from the first over
//!   loopback QUIC (relays and address lookup off), MB/s.
//!
//! Usage: iroh-blobs-bench <file> <work dir>   → prints `add_mbps=<x> fetch_mbps=<y>`

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

    let provider_store = FsStore::load(work.join("provider")).await?;
    let started = Instant::now();
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
        "add_mbps={:.1} fetch_mbps={:.1}",
        mb / add_secs,
        mb / fetch_secs
    );
    // Measurement is done; shutdown is best effort (the stores' actors may already be gone).
    fetcher.close().await;
    let _ = router.shutdown().await;
    let _ = fetcher_store.shutdown().await;
    let _ = provider_store.shutdown().await;
    Ok(())
}
