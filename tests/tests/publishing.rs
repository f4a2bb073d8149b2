//! The README's "Publishing a component" commands, run exactly as written.

use std::path::{Path, PathBuf};
use std::process::Command;

use r1_test_support::r1_bin;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_owned()
}

/// The shell block between the publishing markers in README.md.
fn readme_block() -> String {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let start = readme
        .find("<!-- publishing:begin -->")
        .expect("begin marker");
    let end = readme.find("<!-- publishing:end -->").expect("end marker");
    let block = &readme[start..end];
    let code_start = block.find("```sh\n").expect("sh block") + "```sh\n".len();
    let code_end = block[code_start..].find("```").expect("block end") + code_start;
    block[code_start..code_end].to_owned()
}

fn shell(script: &str, home: &Path) -> std::process::Output {
    let bin_dir = r1_bin().parent().unwrap().to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("bash")
        .arg("-euo")
        .arg("pipefail")
        .arg("-c")
        .arg(script)
        .current_dir(repo_root())
        .env("HOME", home)
        .env("PATH", path)
        .env("R1_DATA_DIR", home.join("data"))
        .env("R1_LOG", "warn")
        // Guest builds share the cache `make guests` filled, and never the lock of the
        // target dir this test runs from.
        .env("CARGO_TARGET_DIR", bin_dir.parent().unwrap().join("guests"))
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("R1_KEY")
        .output()
        .unwrap()
}

#[test]
fn readme_publishing_commands_work_as_written() {
    let home = tempfile::tempdir().unwrap();
    let _ = std::fs::remove_dir_all(repo_root().join("target/signed"));
    let out = shell(&readme_block(), home.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    // The strict run counted, both verifications passed, the countersignature shows.
    assert!(stdout.lines().any(|l| l.trim() == "1"), "{stdout}");
    assert_eq!(
        stdout.matches("ok: every signature holds").count(),
        2,
        "{stdout}"
    );
    assert!(stdout.contains("countersignature"), "{stdout}");
    assert!(stdout.contains("capabilities  cstore"), "{stdout}");

    // Tampering with the signed file is caught by verify and by run.
    let signed = repo_root().join("target/signed/counter.wasm");
    let mut bytes = std::fs::read(&signed).unwrap();
    let mid = bytes.len() / 3;
    bytes[mid] ^= 0x01;
    let tampered = home.path().join("tampered.wasm");
    std::fs::write(&tampered, &bytes).unwrap();
    let script = format!(
        "r1 verify {t} || echo VERIFY-REFUSED; \
         r1 run {t} --strict --trust target/signed/trusted-publishers.txt \
            --grant cstore:published --send tick || echo RUN-REFUSED",
        t = tampered.display()
    );
    let out = shell(&script, home.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("VERIFY-REFUSED") && stdout.contains("RUN-REFUSED"),
        "{stdout}"
    );
    assert!(stderr.contains("does not verify"), "{stderr}");

    // Unsigned is refused by the strict policy; a world-readable key is refused for signing.
    let script = format!(
        "r1 run {hello} --strict --send x || echo UNSIGNED-REFUSED; \
         chmod 644 ~/.config/r1/publisher.key; \
         r1 sign {hello} --out {out} || echo KEY-REFUSED",
        hello = r1_test_support::guest_path("hello").display(),
        out = home.path().join("never.wasm").display()
    );
    let out = shell(&script, home.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("UNSIGNED-REFUSED"), "{stdout}");
    assert!(stderr.contains("the component is not signed"), "{stderr}");
    assert!(stdout.contains("KEY-REFUSED"), "{stdout}");
    assert!(stderr.contains("mode 644"), "{stderr}");
}
