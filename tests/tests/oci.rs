//! The OCI fallback across `r1 node` processes: a busybox image built here, imported through
//! R1FS with `r1 deploy`, placed by Deeploy on the nodes that run containers, answering
//! messages as an app, and restarted by its supervisor after its memory limit kills it.
//! Needs root, runc and a static busybox (`scripts/setup-tools.sh`); skipped with the reason
//! printed where the machine lacks them. `host/oci/tests` covers limits, isolation and cleanup.

use std::path::{Path, PathBuf};
use std::time::Duration;

use r1_deeploy::state::AppView;
use r1_oci::layout::{ImageRecipe, write_layout};
use r1_test_support::{NodeProcess, NodeSpec, eventually, guest_path, r1_ok};

const WAIT: Duration = Duration::from_secs(60);

/// Answers one line per line: `health` → `ok`, `eat` → the shell becomes a 200 MiB `dd` (over
/// any small memory limit), anything else → `echo:LINE`.
const SCRIPT: &str = r#"
while IFS= read -r line; do
  case "$line" in
    health) echo ok ;;
    eat) exec dd if=/dev/zero of=/dev/null bs=200M count=1 ;;
    *) echo "echo:$line" ;;
  esac
done
"#;

/// A static busybox, when this machine can run containers at all.
fn containers_possible() -> Option<PathBuf> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc_geteuid() } != 0 {
        eprintln!("skipped: containers need root");
        return None;
    }
    let on_path = |name: &str| {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
            .unwrap_or(false)
    };
    if !on_path("runc") && !on_path("crun") {
        eprintln!("skipped: no OCI runtime (apt-get install runc)");
        return None;
    }
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .map(PathBuf::from)
        .into_iter()
        .find(|p| p.is_file());
    if busybox.is_none() {
        eprintln!("skipped: no busybox (apt-get install busybox-static)");
    }
    busybox
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

fn fabric(root: &Path, name: &str) -> NodeSpec {
    NodeSpec::new(&root.join(name))
        .arg("--heartbeat-ms")
        .arg("200")
        .arg("--scheduler")
        .arg(guest_path("deeploy_scheduler").to_str().unwrap())
}

fn view(node: &NodeProcess, app: &str) -> Option<AppView> {
    serde_json::from_value(node.client().deeploy_app(app).ok()?).ok()
}

#[test]
fn a_busybox_image_deployed_by_deeploy_answers_and_comes_back_after_a_memory_kill() {
    let Some(busybox) = containers_possible() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let a = fabric(root.path(), "a").start();
    let b = fabric(root.path(), "b").join(&a.spec).start();
    // The image: busybox and the echo script, as an OCI layout on disk.
    let layout = root.path().join("echo-image");
    let mut recipe = ImageRecipe::busybox(&busybox, &["sh", "dd", "echo"]).unwrap();
    recipe.entrypoint = vec!["/bin/sh".into(), "-c".into(), SCRIPT.into()];
    let digest = write_layout(&layout, &recipe).unwrap();
    // `r1 deploy` imports the layout (R1FS + digest checks) and names it by cid and digest.
    let key = root.path().join("publisher.key");
    r1_ok(&["key", "new", "--out", key.to_str().unwrap()], None);
    let spec = root.path().join("app.toml");
    std::fs::write(
        &spec,
        format!(
            "name = \"echo\"\nversion = \"1\"\nreplicas = 2\n\n[[components]]\nname = \"box\"\nkind = \"oci\"\nfile = \"{}\"\nconfig = {{ memory_mb = \"32\" }}\n\n[health]\ninterval_ms = 500\ntimeout_ms = 500\nmessage = \"health\"\n\n[restart]\nmax_restarts = 5\nwindow_ms = 30000\nbackoff_ms = 10\nmax_backoff_ms = 200\n",
            layout.display()
        ),
    )
    .unwrap();
    let out = r1_ok(
        &[
            "deploy",
            spec.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--wait-s",
            "0",
        ],
        Some(&a.api),
    );
    let app = out
        .lines()
        .find_map(|l| l.strip_prefix("accepted "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no app id in {out}"))
        .to_owned();
    let stored = view(&a, &app).expect("the app's view");
    let text = stored.desired.as_ref().unwrap().spec.clone();
    assert!(text.contains(&digest), "the spec names the image: {text}");
    // Placed on both nodes (both run containers), every replica healthy.
    let placed = eventually("the app converges", WAIT, || {
        let v = view(&a, &app)?;
        v.progress().converged().then_some(v)
    });
    let nodes: std::collections::BTreeSet<&str> = placed
        .placement
        .iter()
        .flat_map(|p| p.slots.iter().map(|s| s.node.as_str()))
        .collect();
    assert_eq!(nodes.len(), 2, "{placed:?}");
    let ask = |msg: &str| {
        a.client()
            .app_request(&app, None, msg.as_bytes().to_vec(), Duration::from_secs(10))
            .map(|r| String::from_utf8(r).unwrap())
    };
    assert_eq!(ask("hello").unwrap(), "echo:hello");
    // B imported the image from R1FS itself.
    let images = r1_ok(&["oci", "images"], Some(&b.api));
    assert!(images.contains(&digest), "{images}");
    // A's replica goes over its 32 MiB: killed, then restarted by its supervisor.
    let replica = a
        .client()
        .actors()
        .unwrap()
        .into_iter()
        .find(|x| x["kind"] == "container")
        .expect("a container replica on A");
    let name = replica["name"].as_str().unwrap().to_owned();
    assert!(
        a.client()
            .request(&name, b"eat".to_vec(), Duration::from_secs(10))
            .is_err()
    );
    let restarted = eventually("the killed replica is restarted", WAIT, || {
        let info = a.client().actor(&name).ok()?;
        (info["restarts"].as_u64()? >= 1 && info["status"]["state"] == "running").then_some(info)
    });
    assert!(
        restarted["last_crash"]
            .as_str()
            .unwrap_or("")
            .contains("SIGKILL"),
        "{restarted}"
    );
    let again = a
        .client()
        .request(&name, b"back".to_vec(), Duration::from_secs(10))
        .unwrap();
    assert_eq!(again, b"echo:back");
    assert_eq!(ask("still").unwrap(), "echo:still");
}

#[test]
fn a_strict_node_runs_only_signed_untampered_images() {
    let Some(busybox) = containers_possible() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let key = r.join("publisher.key");
    r1_ok(&["key", "new", "--out", key.to_str().unwrap()], None);
    // `dev = false` and the publisher trusted: signed by it, or refused.
    let config = r.join("strict.toml");
    std::fs::write(
        &config,
        format!("dev = false\ntrust_file = \"{}.pub\"\n", key.display()),
    )
    .unwrap();
    let node = NodeSpec::new(&r.join("strict"))
        .arg("--config")
        .arg(config.to_str().unwrap())
        .start();
    let layout = r.join("image");
    let mut recipe = ImageRecipe::busybox(&busybox, &["sh", "echo"]).unwrap();
    recipe.entrypoint = vec!["/bin/sh".into(), "-c".into(), SCRIPT.into()];
    let digest = write_layout(&layout, &recipe).unwrap();
    let api = Some(node.api.as_str());
    // Unsigned: imported (its digests hold), refused at start, naming the reason.
    assert_eq!(
        r1_ok(&["oci", "import", layout.to_str().unwrap()], api),
        digest
    );
    let out = r1_test_support::r1(&["oci", "run", "box", &digest], api);
    assert!(
        !out.status.success(),
        "an unsigned image ran on a strict node"
    );
    let why = String::from_utf8_lossy(&out.stderr);
    assert!(why.contains("unsigned") || why.contains("sign"), "{why}");
    // Signed with the trusted key: runs and answers.
    r1_ok(
        &[
            "sign",
            layout.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        r1_ok(&["oci", "import", layout.to_str().unwrap()], api),
        digest
    );
    assert!(r1_ok(&["oci", "images"], api).contains(&format!("{digest} signed")));
    r1_ok(&["oci", "run", "box", &digest], api);
    let answer = node
        .client()
        .request("box", b"signed".to_vec(), Duration::from_secs(10))
        .unwrap();
    assert_eq!(answer, b"echo:signed");
    // Another image, tampered in transit: one byte of its layer changed; the import refuses
    // it. (A tampered copy of a blob the node already holds is never read: blobs are kept by
    // digest.)
    let tampered = r.join("tampered");
    let mut other = recipe.clone();
    other
        .files
        .push(("etc/motd".into(), b"another image".to_vec(), 0o644));
    write_layout(&tampered, &other).unwrap();
    let mut blobs: Vec<PathBuf> = std::fs::read_dir(tampered.join("blobs/sha256"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    blobs.sort_by_key(|p| std::fs::metadata(p).unwrap().len());
    let layer = blobs.last().unwrap();
    let mut bytes = std::fs::read(layer).unwrap();
    bytes[100] ^= 1;
    std::fs::write(layer, bytes).unwrap();
    let out = r1_test_support::r1(&["oci", "import", tampered.to_str().unwrap()], api);
    assert!(!out.status.success());
    let why = String::from_utf8_lossy(&out.stderr);
    assert!(why.contains("does not match"), "{why}");
}
