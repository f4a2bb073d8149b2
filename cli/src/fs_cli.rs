//! `r1 fs …`: R1FS through a running node (peer-to-peer fetch), or offline on a data dir
//! (`<data dir>/fs`), with progress bars either way.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use r1_fs::{AddOptions, BlockStore, ContentId};

use crate::FsCommand;

fn bar(total: Option<u64>, verb: &str) -> ProgressBar {
    let bar = match total {
        Some(len) => ProgressBar::new(len),
        None => ProgressBar::new_spinner(),
    };
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{verb} {{bar:30}} {{bytes}}/{{total_bytes}} {{bytes_per_sec}} {{eta}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn open(data_dir: &Path) -> Result<BlockStore> {
    Ok(BlockStore::open(&data_dir.join("fs"))?)
}

/// Opens a file to add: the file, its size (for the progress bar) and its name (the one
/// given, else the file's own).
fn open_input(
    file: &Path,
    name: Option<String>,
) -> Result<(std::fs::File, Option<u64>, Option<String>)> {
    let input =
        std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    let total = input.metadata().map(|m| m.len()).ok();
    let name = name.or_else(|| file.file_name().map(|n| n.to_string_lossy().into_owned()));
    Ok((input, total, name))
}

fn id(text: &str) -> Result<ContentId> {
    Ok(text.parse()?)
}

pub fn run(cmd: FsCommand, data_dir: PathBuf) -> Result<()> {
    let store = open(&data_dir)?;
    match cmd {
        FsCommand::Add {
            file,
            name,
            media_type,
            no_pin,
        } => {
            let (input, total, name) = open_input(&file, name)?;
            let progress = bar(total, "adding ");
            let cid = store.add(
                std::io::BufReader::new(input),
                &AddOptions {
                    name,
                    media_type,
                    pin: !no_pin,
                    key: None,
                },
                |done| progress.set_position(done),
            )?;
            progress.finish_and_clear();
            println!("{cid}");
        }
        FsCommand::Get { cid, output } => {
            let cid = id(&cid)?;
            let stat = store.stat(&cid)?;
            // Write beside the target and rename only when every chunk verified.
            let tmp = output.with_extension("r1fs-partial");
            let file = std::fs::File::create(&tmp)
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            let progress = bar(Some(stat.size), "fetching");
            let result = store.get(&cid, std::io::BufWriter::new(file), |done| {
                progress.set_position(done)
            });
            progress.finish_and_clear();
            if let Err(e) = result {
                let _ = std::fs::remove_file(&tmp);
                return Err(e.into());
            }
            std::fs::rename(&tmp, &output)
                .with_context(|| format!("cannot write {}", output.display()))?;
            println!("{} bytes → {}", stat.size, output.display());
        }
        FsCommand::Cat { cid } => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            store.get(&id(&cid)?, &mut out, |_| {})?;
            out.flush()?;
        }
        FsCommand::Stat { cid } => {
            let s = store.stat(&id(&cid)?)?;
            println!("id          {}", s.id);
            println!("size        {} bytes", s.size);
            println!("chunks      {} ({} here)", s.chunks, s.local_chunks);
            println!("name        {}", s.name.as_deref().unwrap_or("-"));
            println!("media type  {}", s.media_type.as_deref().unwrap_or("-"));
            println!("pins        {}", s.pins);
        }
        FsCommand::Pin { cid, replicas } => {
            anyhow::ensure!(
                replicas.is_none(),
                "--replicas needs a running node (drop --data-dir)"
            );
            println!("pins: {}", store.pin(&id(&cid)?)?)
        }
        FsCommand::Unpin { cid } => println!("pins: {}", store.unpin(&id(&cid)?)?),
        FsCommand::Ls => {
            for (cid, pins) in store.pinned()? {
                let stat = store.stat(&cid);
                let (size, name) = match &stat {
                    Ok(s) => (s.size.to_string(), s.name.clone().unwrap_or_default()),
                    Err(e) => ("?".into(), format!("({e})")),
                };
                println!("{cid}  {size:>12}  pins={pins}  {name}");
            }
        }
        FsCommand::Gc => {
            let report = store.gc()?;
            println!(
                "removed {} blocks, freed {} bytes",
                report.removed_blocks, report.freed_bytes
            );
        }
    }
    Ok(())
}

/// Counts bytes read through it onto a progress bar.
struct Counted<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: std::io::Read> std::io::Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

pub fn remote(cmd: FsCommand, api: &str) -> Result<()> {
    let client = r1_client::Client::connect(api)?;
    match cmd {
        FsCommand::Add {
            file,
            name,
            media_type,
            no_pin,
        } => {
            anyhow::ensure!(
                !no_pin,
                "--no-pin works offline only (--data-dir): a node pins what it is given"
            );
            let (input, total, name) = open_input(&file, name)?;
            let progress = bar(total, "uploading");
            let sent = progress.clone();
            let answer = client.fs_add(name, media_type, input, total, move |n| sent.inc(n))?;
            progress.finish_and_clear();
            println!("{}", answer["cid"].as_str().unwrap_or_default());
        }
        FsCommand::Get { cid, output } => {
            let resp = client.fs_get(&cid)?;
            let progress = bar(resp.content_length(), "fetching");
            let tmp = output.with_extension("r1fs-partial");
            let mut file = std::fs::File::create(&tmp)
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            let mut reader = Counted {
                inner: resp,
                bar: progress.clone(),
            };
            let copied = std::io::copy(&mut reader, &mut file);
            progress.finish_and_clear();
            if let Err(e) = copied.and_then(|_| file.sync_all()) {
                let _ = std::fs::remove_file(&tmp);
                return Err(anyhow::anyhow!("download failed (nothing written): {e}"));
            }
            std::fs::rename(&tmp, &output)
                .with_context(|| format!("cannot write {}", output.display()))?;
            println!("{} bytes → {}", progress.position(), output.display());
        }
        FsCommand::Cat { cid } => {
            let mut resp = client.fs_get(&cid)?;
            resp.copy_to(&mut std::io::stdout().lock())?;
        }
        FsCommand::Stat { cid } => {
            let v = client.fs_stat(&cid)?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        FsCommand::Pin { cid, replicas } => {
            let v = client.fs_pin(&cid, replicas)?;
            println!("pins: {}", v["pins"]);
        }
        FsCommand::Unpin { cid } => {
            let v = client.fs_unpin(&cid)?;
            println!("pins: {}", v["pins"]);
        }
        FsCommand::Ls => {
            let list = client.fs_list()?;
            for item in list {
                println!(
                    "{}  {:>12}  pins={}  {}",
                    item["cid"].as_str().unwrap_or_default(),
                    item["size"],
                    item["pins"],
                    item["name"].as_str().unwrap_or_default()
                );
            }
        }
        FsCommand::Gc => {
            let v = client.fs_gc()?;
            println!(
                "removed {} blocks, freed {} bytes",
                v["removed_blocks"], v["freed_bytes"]
            );
        }
    }
    Ok(())
}

/// Adds `bytes` (read from `path`, named after it) to R1FS through the node; its cid.
pub fn add_to_r1fs(
    client: &r1_client::Client,
    path: &Path,
    media_type: &str,
    bytes: Vec<u8>,
) -> Result<String> {
    let size = bytes.len() as u64;
    let added = client.fs_add(
        path.file_name().map(|n| n.to_string_lossy().into_owned()),
        Some(media_type.into()),
        std::io::Cursor::new(bytes),
        Some(size),
        |_| {},
    )?;
    Ok(added["cid"]
        .as_str()
        .context("the node answered no cid")?
        .to_owned())
}
