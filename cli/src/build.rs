//! `r1 build`: compiles an actor crate into a wasm component.
//!
//! Toolchain detection (same as `scripts/setup-guest-toolchain.sh`):
//! 1. rustup with the `wasm32-wasip2` target installed → `cargo build --target wasm32-wasip2`;
//! 2. Debian's `rustc-web` with its std source and wasi-libc → the same build with
//!    `-Zbuild-std` (DESIGN §12).
//!
//! Otherwise the error says how to install one. `R1_GUEST_TOOLCHAIN=rustup|debian` forces a
//! route (for testing both on one machine).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

const TARGET: &str = "wasm32-wasip2";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toolchain {
    Rustup,
    DebianRustcWeb,
}

pub fn detect() -> Option<Toolchain> {
    match std::env::var("R1_GUEST_TOOLCHAIN").as_deref() {
        Ok("rustup") => return Some(Toolchain::Rustup),
        Ok("debian") => return Some(Toolchain::DebianRustcWeb),
        _ => {}
    }
    let rustup = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .stderr(Stdio::null())
        .output();
    if let Ok(out) = rustup
        && out.status.success()
        && String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.trim() == TARGET)
    {
        return Some(Toolchain::Rustup);
    }
    let debian_ready = Path::new("/usr/bin/rustc").exists()
        && Path::new("/usr/lib/wasm32-wasi").is_dir()
        && Path::new("/usr/lib/rustlib/src/rust/library").is_dir();
    debian_ready.then_some(Toolchain::DebianRustcWeb)
}

/// Builds the crate at `path` (release) and copies the component to `out_dir` (default: next
/// to cargo's output). Returns the component's path.
pub fn build(path: &Path, out_dir: Option<&Path>) -> Result<PathBuf> {
    let manifest = path.join("Cargo.toml");
    if !manifest.is_file() {
        bail!(
            "{} has no Cargo.toml: point `r1 build` at an actor crate",
            path.display()
        );
    }
    let toolchain = detect().context(
        "no toolchain can build wasm32-wasip2 components here; run \
         scripts/setup-guest-toolchain.sh (rustup target add wasm32-wasip2, or Debian's \
         rustc-web route)",
    )?;
    let mut cmd = match toolchain {
        Toolchain::Rustup => Command::new("cargo"),
        Toolchain::DebianRustcWeb => {
            let mut cmd = Command::new("/usr/bin/cargo");
            cmd.env("RUSTC", "/usr/bin/rustc")
                .env("RUSTC_BOOTSTRAP", "1")
                .env(
                    "RUSTFLAGS",
                    "-L /usr/lib/wasm32-wasi -C link-self-contained=no",
                )
                .env_remove("RUSTUP_TOOLCHAIN");
            cmd
        }
    };
    cmd.arg("build")
        .arg("--release")
        .arg("--target")
        .arg(TARGET)
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit())
        .stdout(Stdio::piped());
    if toolchain == Toolchain::DebianRustcWeb {
        cmd.arg("-Zbuild-std=std,panic_abort");
    }
    tracing::debug!(?toolchain, ?cmd, "building guest");
    let output = cmd.output().context("cannot run cargo")?;
    if !output.status.success() {
        bail!("cargo build failed for {}", path.display());
    }
    let wasm = find_artifact(&output.stdout)
        .with_context(|| format!("cargo produced no .wasm for {}", path.display()))?;
    let Some(out_dir) = out_dir else {
        return Ok(wasm);
    };
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let dest = out_dir.join(wasm.file_name().context("artifact has no file name")?);
    std::fs::copy(&wasm, &dest)
        .with_context(|| format!("cannot copy {} to {}", wasm.display(), dest.display()))?;
    Ok(dest)
}

/// The `.wasm` cdylib among cargo's JSON messages.
fn find_artifact(json_lines: &[u8]) -> Option<PathBuf> {
    let mut found = None;
    for line in String::from_utf8_lossy(json_lines).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        if let Some(files) = msg["filenames"].as_array() {
            for f in files.iter().filter_map(|f| f.as_str()) {
                if f.ends_with(".wasm") {
                    found = Some(PathBuf::from(f));
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_wasm_artifact() {
        let lines = br#"{"reason":"compiler-artifact","filenames":["/t/libdep.rlib"]}
not json
{"reason":"compiler-artifact","filenames":["/t/wasm32-wasip2/release/hello.wasm"]}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            find_artifact(lines),
            Some(PathBuf::from("/t/wasm32-wasip2/release/hello.wasm"))
        );
        assert_eq!(find_artifact(b""), None);
    }
}
