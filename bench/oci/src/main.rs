//! `make bench-oci`: cold start to first answer, one run, three ways of serving a message:
//!
//! 1. **wasm**: a release `r1 node`; `PUT /v1/actors/NAME` with the `hello` component (its
//!    compiled code cached by an earlier start, as on a node that ran it before), then one
//!    request; the time from the start call until the answer.
//! 2. **OCI**: the same node; `PUT /v1/oci/containers/NAME` with a busybox image imported
//!    beforehand (unpacked root cached, as after a first run), then one request.
//! 3. **podman**: `podman run --rm -i --runtime runc --network none` of the same image (loaded
//!    into podman's store beforehand), one line in, until its answer line comes out.
//!
//! Each container answers `echo:LINE` to a line (busybox `sh`), the wasm actor `Hello, LINE!`:
//! the same work (one message in, one answer out). Prints p50/p90 of each and the rows
//! `oci_cold_start_p50_ms`, `oci_vs_podman_cold_start` (podman p50 / OCI p50) and
//! `wasm_vs_oci_cold_start` (OCI p50 / wasm p50).
//!
//! Environment: `R1_BIN` (the release r1), `R1_GUEST_WASM_DIR`; `BENCH_STARTS` (default 20),
//! `BENCH_PODMAN_STARTS` (default 10). Needs root, runc, busybox-static; podman is optional
//! (its row is skipped with the reason when it is missing).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use r1_oci::layout::{ImageRecipe, write_layout};
use r1_test_support::{NodeSpec, guest, quantile};

const SCRIPT: &str = r#"while IFS= read -r line; do echo "echo:$line"; done"#;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

fn report(what: &str, samples: &mut [f64]) -> f64 {
    let p50 = quantile(samples, 0.5);
    println!(
        "{what:<34} p50 {p50:8.2} ms   p90 {:8.2} ms   ({} starts)",
        quantile(samples, 0.9),
        samples.len()
    );
    p50
}

fn busybox() -> PathBuf {
    ["/bin/busybox", "/usr/bin/busybox"]
        .map(PathBuf::from)
        .into_iter()
        .find(|p| p.is_file())
        .expect("no busybox: apt-get install busybox-static")
}

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false)
}

/// podman's cold start of the layout's image, or why podman cannot run here.
fn podman(layout: &Path, root: &Path, starts: usize) -> Result<Vec<f64>, String> {
    if !on_path("podman") {
        return Err("not installed (apt-get install podman)".into());
    }
    let archive = root.join("image.oci.tar");
    let tar = r1_oci::image::tar_layout(layout).map_err(|e| e.to_string())?;
    std::fs::write(&archive, tar).map_err(|e| e.to_string())?;
    let loaded = Command::new("podman")
        .args(["load", "-q", "-i"])
        .arg(&archive)
        .output()
        .map_err(|e| format!("podman load: {e}"))?;
    if !loaded.status.success() {
        return Err(format!(
            "podman load: {}",
            String::from_utf8_lossy(&loaded.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&loaded.stdout).into_owned();
    let image = text
        .split_whitespace()
        .last()
        .ok_or("podman load named no image")?
        .to_owned();
    // This host grants no CAP_SYS_RESOURCE: podman's default rlimits (and even the host's own
    // hard ones, measured) make runc fail to set them; 1024 each is what r1's containers get.
    let (nproc, nofile) = (1024, 1024);
    let mut samples = Vec::new();
    for _ in 0..starts {
        let started = Instant::now();
        let mut child = Command::new("podman")
            .args([
                "run",
                "--rm",
                "-i",
                "--runtime",
                "runc",
                "--network",
                "none",
                "--ulimit",
                &format!("nofile={nofile}:{nofile}"),
                "--ulimit",
                &format!("nproc={nproc}:{nproc}"),
                &image,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("podman run: {e}"))?;
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        stdin.write_all(b"hi\n").map_err(|e| e.to_string())?;
        let mut line = String::new();
        stdout.read_line(&mut line).map_err(|e| e.to_string())?;
        let took = ms(started);
        drop(stdin);
        let status = child.wait().map_err(|e| e.to_string())?;
        if line.trim_end() != "echo:hi" {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            return Err(format!(
                "unexpected answer {line:?} ({status}): {}",
                err.trim()
            ));
        }
        samples.push(took);
    }
    let _ = Command::new("podman").args(["rmi", "-f", &image]).output();
    Ok(samples)
}

fn main() {
    let starts = env_usize("BENCH_STARTS", 20);
    let root = tempfile::Builder::new()
        .prefix("r1-bench-oci.")
        .tempdir_in("/tmp")
        .expect("temp dir");
    let layout = root.path().join("image");
    let mut recipe = ImageRecipe::busybox(&busybox(), &["sh", "echo"]).expect("busybox");
    recipe.entrypoint = vec!["/bin/sh".into(), "-c".into(), SCRIPT.into()];
    write_layout(&layout, &recipe).expect("layout");

    let node = NodeSpec::new(&root.path().join("node")).start();
    let client = node.client();
    let tar = r1_oci::image::tar_layout(&layout).expect("tar");
    let size = tar.len() as u64;
    let added = client
        .fs_add(None, None, std::io::Cursor::new(tar), Some(size), |_| {})
        .expect("add the image to R1FS");
    let image = client
        .oci_import(added["cid"].as_str().expect("cid"))
        .expect("import (is runc installed, and the node root?)");
    let digest = image["digest"].as_str().expect("digest").to_owned();
    let timeout = Duration::from_secs(30);

    // wasm: compile once (a node that ran it before has it cached), then cold starts.
    let wasm = guest("hello");
    client
        .start_actor("warm", wasm.clone(), &[], &[])
        .expect("wasm start");
    client.stop_actor("warm").expect("stop");
    let mut wasm_ms = Vec::new();
    for i in 0..starts {
        let name = format!("w{i}");
        let started = Instant::now();
        client
            .start_actor(&name, wasm.clone(), &[], &[])
            .expect("wasm start");
        let answer = client
            .request(&name, b"hi".to_vec(), timeout)
            .expect("answer");
        wasm_ms.push(ms(started));
        assert!(
            String::from_utf8_lossy(&answer).contains("hi"),
            "{answer:?}"
        );
        client.stop_actor(&name).expect("stop");
    }

    // OCI: unpack once (the first run of an image on a node), then cold starts.
    client
        .oci_start("warmc", &digest, &[], &[], None)
        .expect("container start");
    client.stop_actor("warmc").expect("stop");
    let mut oci_ms = Vec::new();
    for i in 0..starts {
        let name = format!("c{i}");
        let started = Instant::now();
        client
            .oci_start(&name, &digest, &[], &[], None)
            .expect("container start");
        let answer = client
            .request(&name, b"hi".to_vec(), timeout)
            .expect("answer");
        oci_ms.push(ms(started));
        assert_eq!(answer, b"echo:hi");
        client.stop_actor(&name).expect("stop");
    }
    drop(node);

    let podman_ms = podman(&layout, root.path(), env_usize("BENCH_PODMAN_STARTS", 10));
    println!();
    let wasm_p50 = report("wasm actor (node API)", &mut wasm_ms);
    let oci_p50 = report("OCI container, runc (node API)", &mut oci_ms);
    println!();
    println!("oci_cold_start_p50_ms {oci_p50:.2}  (target <= 50)");
    match podman_ms {
        Ok(mut p) => {
            let podman_p50 = report("podman run --runtime runc", &mut p);
            println!(
                "oci_vs_podman_cold_start {:.2}  (podman p50 / OCI p50; target >= 3)",
                podman_p50 / oci_p50
            );
        }
        Err(why) => println!("oci_vs_podman_cold_start -  (podman did not run: {why})"),
    }
    println!(
        "wasm_vs_oci_cold_start {:.2}  (OCI p50 / wasm p50)",
        oci_p50 / wasm_p50
    );
}
