//! R1FS across nodes on 127.0.0.1: peer-to-peer fetch, verification, corruption handling.

use std::path::Path;
use std::time::Duration;

use r1_test_support::{NodeProcess, NodeSpec, eventually, r1, r1_ok};

fn file_bytes(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect()
}

/// Flips a byte in every stored block of exactly `len` bytes under `node`'s data dir.
fn corrupt_blocks_of_len(node: &NodeProcess, len: usize) -> usize {
    let mut damaged = 0;
    let blocks = node.data_dir.join("fs/blocks");
    for shard in std::fs::read_dir(&blocks).unwrap() {
        for block in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            let path = block.unwrap().path();
            let mut content = std::fs::read(&path).unwrap();
            if content.len() == len {
                content[len / 2] ^= 0x01;
                std::fs::write(&path, content).unwrap();
                damaged += 1;
            }
        }
    }
    damaged
}

/// Retries `r1 fs get` on `node` until it succeeds (provider records replicate
/// asynchronously), then returns the bytes written.
fn fetch(node: &NodeProcess, cid: &str, out: &Path) -> Vec<u8> {
    eventually("the file is fetched", Duration::from_secs(30), || {
        r1(
            &["fs", "get", cid, "-o", out.to_str().unwrap()],
            Some(&node.api),
        )
        .status
        .success()
        .then_some(())
    });
    std::fs::read(out).unwrap()
}

fn add(node: &NodeProcess, path: &Path) -> String {
    r1_ok(&["fs", "add", path.to_str().unwrap()], Some(&node.api))
}

#[test]
fn add_on_a_get_on_c_and_survive_a_corrupt_provider() {
    let root = tempfile::tempdir().unwrap();
    let (a, b, c) = r1_test_support::three_nodes(root.path());

    // A file that only A holds, fetched by C peer to peer.
    let input = root.path().join("in.bin");
    let bytes = file_bytes((3 << 20) + 4321, 1);
    std::fs::write(&input, &bytes).unwrap();
    let cid = add(&a, &input);
    let out = root.path().join("out.bin");
    let fetched = fetch(&c, &cid, &out);
    assert!(fetched == bytes, "C got different bytes");

    // B pins it too (fetching from A); then A's copy of one chunk rots on disk.
    r1_ok(&["fs", "pin", &cid], Some(&b.api));
    assert!(corrupt_blocks_of_len(&a, 1 << 20) >= 1);
    let d = NodeSpec::new(&root.path().join("d"))
        .join(&a.spec)
        .join(&b.spec)
        .start();
    let out_d = root.path().join("out-d.bin");
    let fetched = fetch(&d, &cid, &out_d);
    assert!(fetched == bytes, "D got different bytes");
    drop(c);
}

#[test]
fn a_file_whose_only_copy_is_corrupt_is_an_error_not_data() {
    let root = tempfile::tempdir().unwrap();
    let a = NodeSpec::new(&root.path().join("a")).start();
    let c = NodeSpec::new(&root.path().join("c")).join(&a.spec).start();
    let input = root.path().join("in.bin");
    std::fs::write(&input, file_bytes((2 << 20) + 99, 7)).unwrap();
    let cid = add(&a, &input);
    assert!(corrupt_blocks_of_len(&a, 1 << 20) >= 1);
    let out = root.path().join("out.bin");
    let stderr = eventually(
        "C knows A provides it and refuses the bad copy",
        Duration::from_secs(30),
        || {
            let res = r1(
                &["fs", "get", &cid, "-o", out.to_str().unwrap()],
                Some(&c.api),
            );
            assert!(!res.status.success(), "a corrupt file was served");
            let stderr = String::from_utf8_lossy(&res.stderr).into_owned();
            stderr.contains("intact").then_some(stderr)
        },
    );
    assert!(
        stderr.contains("no provider could deliver block"),
        "{stderr}"
    );
    assert!(!out.exists(), "no output may be left behind");
}

fn holds(node: &NodeProcess, cid: &str) -> bool {
    node.get_json(&format!("/v1/fs/{cid}/stat"))["pins"]
        .as_u64()
        .is_some_and(|p| p > 0)
}

#[test]
fn replicas_are_restored_when_a_holder_disappears() {
    let root = tempfile::tempdir().unwrap();
    let (a, b, c) = r1_test_support::three_nodes(root.path());
    let input = root.path().join("in.bin");
    std::fs::write(&input, file_bytes((1 << 20) + 5, 3)).unwrap();
    let cid = add(&a, &input);
    r1_ok(&["fs", "pin", &cid, "--replicas", "2"], Some(&a.api));

    // One more node takes a copy: two holders in all.
    let holder = eventually("a second copy appears", Duration::from_secs(30), || match (
        holds(&b, &cid),
        holds(&c, &cid),
    ) {
        (true, false) => Some("b"),
        (false, true) => Some("c"),
        _ => None,
    });
    // Kill that holder: the remaining node restores the second copy.
    let (survivor, _dead) = if holder == "b" {
        (c, b.kill())
    } else {
        (b, c.kill())
    };
    eventually(
        "the copy is repaired on the survivor",
        Duration::from_secs(30),
        || holds(&survivor, &cid).then_some(()),
    );
    assert!(holds(&a, &cid));
}

/// A deterministic 1 GiB stream, generated on the fly (nothing that size is held anywhere).
struct Generated {
    left: u64,
    xof: blake3::OutputReader,
}

impl std::io::Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        self.xof.fill(&mut buf[..n]);
        self.left -= n as u64;
        Ok(n)
    }
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_1_gib_add_and_get_keep_the_node_under_200_mb() {
    const SIZE: u64 = 1 << 30;
    let root = tempfile::tempdir().unwrap();
    let a = NodeSpec::new(&root.path().join("a")).start();
    let source = || Generated {
        left: SIZE,
        xof: blake3::Hasher::new().update(b"1 GiB").finalize_xof(),
    };
    let client = a.http_builder().timeout(None).build().unwrap();
    let resp = client
        .put(format!("http://{}/v1/fs", a.api))
        .body(reqwest::blocking::Body::sized(source(), SIZE))
        .send()
        .unwrap();
    assert!(
        resp.status().is_success(),
        "{}",
        resp.text().unwrap_or_default()
    );
    let cid = resp.json::<serde_json::Value>().unwrap()["cid"]
        .as_str()
        .unwrap()
        .to_owned();

    // Stream it back and compare hashes, never holding it.
    let mut expected = blake3::Hasher::new();
    std::io::copy(&mut source(), &mut expected).unwrap();
    let mut got = blake3::Hasher::new();
    let mut resp = client
        .get(format!("http://{}/v1/fs/{cid}", a.api))
        .send()
        .unwrap();
    assert!(resp.status().is_success());
    assert_eq!(resp.copy_to(&mut got).unwrap(), SIZE);
    assert_eq!(got.finalize(), expected.finalize());

    let peak = peak_rss_kib(a.pid().unwrap());
    eprintln!("node peak RSS during 1 GiB add + get: {peak} KiB");
    assert!(
        peak < 200 * 1024,
        "node peak RSS {peak} KiB during 1 GiB add + get"
    );
}

#[test]
fn an_actor_archives_to_r1fs_and_another_node_reads_it() {
    let root = tempfile::tempdir().unwrap();
    let a = NodeSpec::new(&root.path().join("a")).start();
    let b = NodeSpec::new(&root.path().join("b")).join(&a.spec).start();
    let archiver = r1_test_support::guest_path("archiver");
    let archiver = archiver.to_str().unwrap();

    // Without the grant the node refuses it, naming the interface.
    let refused = r1(&["actor", "start", archiver], Some(&a.api));
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("r1:fs/files@0.1.0"));

    r1_ok(
        &["actor", "start", archiver, "--grant", "r1fs"],
        Some(&a.api),
    );
    let payload = "x".repeat(10_000) + " the end";
    let cid = r1_ok(&["send", "archiver", &payload], Some(&a.api));
    assert!(cid.starts_with("bafk"), "{cid}");
    // The actor reads it back through r1:fs…
    assert_eq!(
        r1_ok(&["send", "archiver", &format!("read {cid}")], Some(&a.api)),
        payload
    );
    // …and another node fetches the same bytes peer to peer.
    let out = root.path().join("archived.txt");
    let fetched = fetch(&b, &cid, &out);
    assert_eq!(String::from_utf8(fetched).unwrap(), payload);

    // A read-only grant reads but cannot write.
    r1_ok(
        &[
            "actor", "start", archiver, "--name", "reader", "--grant", "r1fs-ro",
        ],
        Some(&b.api),
    );
    eventually("B's actor reads the file", Duration::from_secs(30), || {
        let res = r1(&["send", "reader", &format!("read {cid}")], Some(&b.api));
        (String::from_utf8_lossy(&res.stdout).trim() == payload).then_some(())
    });
    let denied = r1(&["send", "reader", "new data"], Some(&b.api));
    assert!(!denied.status.success());
    assert!(String::from_utf8_lossy(&denied.stderr).contains("read-only"));
}

#[test]
fn encrypted_files_are_readable_only_with_the_key_grant() {
    let root = tempfile::tempdir().unwrap();
    let a = NodeSpec::new(&root.path().join("a")).start();
    let b = NodeSpec::new(&root.path().join("b")).join(&a.spec).start();
    let archiver = r1_test_support::guest_path("archiver");
    let archiver = archiver.to_str().unwrap();
    r1_ok(
        &[
            "actor",
            "start",
            archiver,
            "--name",
            "vault",
            "--grant",
            "r1fs",
            "--grant",
            "cstore:vault",
            "--config",
            "encrypt=true",
        ],
        Some(&a.api),
    );
    let secret = "the secret recipe";
    let cid = r1_ok(&["send", "vault", secret], Some(&a.api));
    // On another node: granted the owner's namespace → readable (the key replicated with
    // CSTORE); granted another namespace → refused.
    r1_ok(
        &[
            "actor",
            "start",
            archiver,
            "--name",
            "friend",
            "--grant",
            "r1fs-ro",
            "--grant",
            "cstore:vault",
        ],
        Some(&b.api),
    );
    r1_ok(
        &[
            "actor",
            "start",
            archiver,
            "--name",
            "stranger",
            "--grant",
            "r1fs-ro",
            "--grant",
            "cstore:other",
        ],
        Some(&b.api),
    );
    eventually(
        "the granted actor reads the file",
        Duration::from_secs(30),
        || {
            let res = r1(&["send", "friend", &format!("read {cid}")], Some(&b.api));
            (String::from_utf8_lossy(&res.stdout).trim() == secret).then_some(())
        },
    );
    let refused = r1(&["send", "stranger", &format!("read {cid}")], Some(&b.api));
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("encrypted") && stderr.contains("key"),
        "{stderr}"
    );
    // Nor does the node hand out the ciphertext as if it were the file.
    let out = root.path().join("x");
    let via_api = r1(
        &["fs", "get", &cid, "-o", out.to_str().unwrap()],
        Some(&b.api),
    );
    assert!(!via_api.status.success());
    assert!(String::from_utf8_lossy(&via_api.stderr).contains("encrypted"));
    // No block on A's disk contains the plaintext.
    let mut found = false;
    for shard in std::fs::read_dir(a.data_dir.join("fs/blocks")).unwrap() {
        for block in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            let bytes = std::fs::read(block.unwrap().path()).unwrap();
            found |= bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
        }
    }
    assert!(!found, "plaintext found on disk");
}

/// Gives `good` bytes of a generated stream, then fails like a dropped connection.
struct Interrupted {
    good: Generated,
}

impl std::io::Read for Interrupted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.good.read(buf)? {
            0 => Err(std::io::Error::other("client went away")),
            n => Ok(n),
        }
    }
}

#[test]
fn an_interrupted_upload_pins_nothing_and_the_next_one_lands() {
    const SIZE: u64 = 8 << 20;
    let root = tempfile::tempdir().unwrap();
    let a = NodeSpec::new(&root.path().join("a")).start();
    let source = |left| Generated {
        left,
        xof: blake3::Hasher::new().update(b"interrupted").finalize_xof(),
    };
    let client = a.http();
    let url = format!("http://{}/v1/fs", a.api);
    // Announces 8 MiB, sends 3 MiB, then the body fails: the request never completes.
    let cut = client
        .put(&url)
        .body(reqwest::blocking::Body::sized(
            Interrupted {
                good: source(3 << 20),
            },
            SIZE,
        ))
        .send();
    assert!(cut.is_err() || !cut.unwrap().status().is_success());

    let whole = client
        .put(&url)
        .body(reqwest::blocking::Body::sized(source(SIZE), SIZE))
        .send()
        .unwrap();
    assert!(whole.status().is_success());
    let cid = whole.json::<serde_json::Value>().unwrap()["cid"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = a.get_json("/v1/fs");
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["cid"], cid.as_str());
    assert_eq!(listed[0]["size"], SIZE);
}

#[test]
fn cli_uploads_name_an_absent_node_and_carry_the_nodes_refusals() {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join("three-mib.bin");
    let mut bytes = vec![0u8; (3 << 20) + 1];
    blake3::Hasher::new()
        .update(b"cli upload")
        .finalize_xof()
        .fill(&mut bytes);
    std::fs::write(&path, &bytes).unwrap();
    let path = path.to_str().unwrap();

    let nobody = r1(&["fs", "add", path], Some("127.0.0.1:9"));
    assert!(!nobody.status.success());
    let stderr = String::from_utf8_lossy(&nobody.stderr);
    assert!(stderr.contains("cannot reach the node API"), "{stderr}");

    let a = NodeSpec::new(&root.path().join("a")).start();
    let long_name = "n".repeat(2000);
    let refused = r1(&["fs", "add", path, "--name", &long_name], Some(&a.api));
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("longer than"), "{stderr}");

    let cid = r1_ok(&["fs", "add", path], Some(&a.api));
    let out = r1(&["fs", "cat", &cid], Some(&a.api));
    assert!(out.status.success());
    assert!(out.stdout == bytes, "cat returned other bytes");
}
