//! `r1 fs …`: R1FS on this node's data dir (`<data dir>/fs`), with progress bars.

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
            let input = std::fs::File::open(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let total = input.metadata().map(|m| m.len()).ok();
            let name = name.or_else(|| file.file_name().map(|n| n.to_string_lossy().into_owned()));
            let progress = bar(total, "adding ");
            let cid = store.add(
                std::io::BufReader::new(input),
                &AddOptions {
                    name,
                    media_type,
                    pin: !no_pin,
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
        FsCommand::Pin { cid } => println!("pins: {}", store.pin(&id(&cid)?)?),
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
