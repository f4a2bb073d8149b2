//! The committed contract artifacts (`contracts/artifacts`) are what the sources compile to:
//! `node contracts/build.js --check` recompiles `contracts/src` with the pinned solc-js and
//! OpenZeppelin (`make chain` installs them) and fails on any difference. A tampered artifact
//! must fail the same check.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn check(contracts: &Path) -> std::process::Output {
    Command::new("node")
        .arg(contracts.join("build.js"))
        .arg("--check")
        .output()
        .expect("node runs (make chain installs it)")
}

#[test]
fn committed_artifacts_match_a_fresh_compile_and_a_tampered_one_fails() {
    let out = check(&repo().join("contracts"));
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("artifacts match a fresh compile"), "{said}");

    // A copy whose token artifact lost one byte of its bytecode.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("contracts");
    for sub in ["src", "artifacts"] {
        std::fs::create_dir_all(copy.join(sub)).unwrap();
        for entry in std::fs::read_dir(repo().join("contracts").join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), copy.join(sub).join(entry.file_name())).unwrap();
        }
    }
    std::fs::copy(repo().join("contracts/build.js"), copy.join("build.js")).unwrap();
    let token = copy.join("artifacts/R1Token.json");
    let text = std::fs::read_to_string(&token).unwrap();
    let tampered = text.replacen("\"bytecode\": \"0x60", "\"bytecode\": \"0x61", 1);
    assert_ne!(text, tampered, "the artifact's bytecode starts as expected");
    std::fs::write(&token, tampered).unwrap();
    let out = check(&copy);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("R1Token.json"));
}
