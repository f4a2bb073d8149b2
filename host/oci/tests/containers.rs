//! Containers under runc with a busybox image built here: messages, limits, isolation and
//! cleanup. Needs root, an OCI runtime and a static busybox (`scripts/setup-tools.sh` installs
//! runc and busybox-static); skipped with the reason printed where the machine lacks them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use r1_oci::layout::{ImageRecipe, write_layout};
use r1_oci::{BindMount, Exit, Grants, Limits, Oci};

const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "dd", "ls", "sleep", "tr", "cut", "tail", "grep", "wc", "mkdir",
];

/// The test workload: answers one line per line (see `docs/oci.md`'s message framing).
const SCRIPT: &str = r#"
while IFS= read -r line; do
  case "$line" in
    write:*) f="${line#write:}"; if echo x 2>/dev/null > "$f"; then echo "wrote $f"; else echo "denied $f"; fi ;;
    net) echo "ifaces $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')" ;;
    eat) exec dd if=/dev/zero of=/dev/null bs=200M count=1 ;;
    fork) (while :; do sleep 100 & done) 2>/dev/null & echo started ;;
    *) echo "echo:$line" ;;
  esac
done
"#;

/// A statically linked busybox (an ELF without an interpreter), if the host has one.
fn busybox() -> Option<PathBuf> {
    let is_static = |p: &Path| {
        let Ok(elf) = std::fs::read(p) else {
            return false;
        };
        if elf.len() < 64 || &elf[..4] != b"\x7fELF" || elf[4] != 2 {
            return false;
        }
        let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
        let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
        let (size, count) = (u16_at(0x36), u16_at(0x38));
        (0..count).all(|i| {
            let at = phoff + i * size;
            elf.get(at..at + 4) != Some(&3u32.to_le_bytes()[..]) // PT_INTERP
        })
    };
    ["/bin/busybox", "/usr/bin/busybox"]
        .map(PathBuf::from)
        .into_iter()
        .find(|p| p.is_file() && is_static(p))
}

/// The tests share the node's cgroup parents (`…/r1-oci`), so they run one at a time: each
/// can then check that nothing at all is left after its containers stop.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The node's OCI side over a fresh directory with the test image imported, or why not; holds
/// the serial lock while the test runs.
fn setup() -> Option<(Serial, tempfile::TempDir, Oci, String)> {
    let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let Some(busybox) = busybox() else {
        eprintln!("skipped: no static busybox (apt-get install busybox-static)");
        return None;
    };
    // Under /tmp: the container's root (host uid 100000) must be able to traverse the path.
    let dir = tempfile::Builder::new()
        .prefix("r1-oci-")
        .tempdir_in("/tmp")
        .unwrap();
    let oci = match Oci::open(&dir.path().join("oci")) {
        Ok(oci) => oci,
        Err(e) => {
            eprintln!("skipped: {e}");
            return None;
        }
    };
    let mut recipe = ImageRecipe::busybox(&busybox, APPLETS).unwrap();
    recipe.entrypoint = vec!["/bin/sh".into(), "-c".into(), SCRIPT.into()];
    let layout = dir.path().join("layout");
    let digest = write_layout(&layout, &recipe).unwrap();
    let image = oci.images().import_layout(&layout).unwrap();
    assert_eq!(image.digest, digest);
    Some((serial, dir, oci, digest))
}

type Serial = std::sync::MutexGuard<'static, ()>;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

const T: Duration = Duration::from_secs(10);

async fn ask(c: &r1_oci::Container, msg: &str) -> String {
    String::from_utf8(c.request(msg.as_bytes(), T).await.unwrap()).unwrap()
}

fn pids_current(cgroup: &str) -> Option<u64> {
    for root in ["/sys/fs/cgroup/pids", "/sys/fs/cgroup"] {
        let p = Path::new(root)
            .join(cgroup.trim_start_matches('/'))
            .join("pids.current");
        if let Ok(text) = std::fs::read_to_string(&p) {
            return text.trim().parse().ok();
        }
    }
    None
}

#[test]
fn a_container_answers_messages_and_leaves_nothing_behind() {
    let Some((_serial, dir, oci, digest)) = setup() else {
        return;
    };
    rt().block_on(async {
        let c = oci
            .run("echo", &digest, &Grants::default(), None, None)
            .await
            .unwrap();
        assert_eq!(ask(&c, "hello").await, "echo:hello");
        assert_eq!(ask(&c, "again").await, "echo:again");
        assert!(
            c.request(b"two\nlines", T).await.is_err(),
            "a newline is refused"
        );
        assert!(oci.engine().cgroup_left(c.id()), "runs in its own cgroup");
        let exit = c.stop().await;
        assert_eq!(exit, Exit::Signal(9));
        assert!(!oci.engine().cgroup_left(c.id()), "cgroup removed");
        assert_eq!(oci.bundles_left(), 0, "bundle removed");
        assert_eq!(
            oci.engine().cgroups_left(),
            Vec::<PathBuf>::new(),
            "parents removed"
        );
        let state = dir.path().join("oci/runtime");
        let left: Vec<_> = std::fs::read_dir(&state).unwrap().flatten().collect();
        assert!(left.is_empty(), "runtime state left: {left:?}");
    });
}

#[test]
fn the_root_is_read_only_and_only_granted_directories_are_writable() {
    let Some((_serial, dir, oci, digest)) = setup() else {
        return;
    };
    let data = dir.path().join("granted");
    let shared = dir.path().join("readonly");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&shared).unwrap();
    let grants = Grants {
        mounts: vec![
            BindMount {
                host: data.clone(),
                guest: "/data".into(),
                writable: true,
            },
            BindMount {
                host: shared.clone(),
                guest: "/shared".into(),
                writable: false,
            },
        ],
        ..Grants::default()
    };
    rt().block_on(async {
        let c = oci
            .run("writer", &digest, &grants, None, None)
            .await
            .unwrap();
        assert_eq!(ask(&c, "write:/data/out").await, "wrote /data/out");
        assert_eq!(std::fs::read_to_string(data.join("out")).unwrap(), "x\n");
        assert_eq!(ask(&c, "write:/shared/out").await, "denied /shared/out");
        assert_eq!(ask(&c, "write:/etc/passwd").await, "denied /etc/passwd");
        assert_eq!(ask(&c, "write:/bin/busybox").await, "denied /bin/busybox");
        assert_eq!(ask(&c, "write:/tmp/scratch").await, "wrote /tmp/scratch");
        assert!(!shared.join("out").exists());
        c.stop().await;
    });
}

#[test]
fn no_network_without_the_grant() {
    let Some((_serial, _dir, oci, digest)) = setup() else {
        return;
    };
    rt().block_on(async {
        let c = oci
            .run("isolated", &digest, &Grants::default(), None, None)
            .await
            .unwrap();
        assert_eq!(ask(&c, "net").await.trim_end(), "ifaces lo");
        c.stop().await;
        let granted = Grants {
            network: true,
            ..Grants::default()
        };
        let c = oci
            .run("networked", &digest, &granted, None, None)
            .await
            .unwrap();
        let host_ifaces = std::fs::read_to_string("/proc/net/dev")
            .unwrap()
            .lines()
            .count()
            - 2;
        let seen = ask(&c, "net").await;
        assert_eq!(seen.split_whitespace().count() - 1, host_ifaces, "{seen}");
        c.stop().await;
    });
}

#[test]
fn the_memory_limit_kills_a_container_that_exceeds_it() {
    let Some((_serial, _dir, oci, digest)) = setup() else {
        return;
    };
    let grants = Grants {
        limits: Limits {
            memory_bytes: 32 << 20,
            ..Limits::default()
        },
        ..Grants::default()
    };
    rt().block_on(async {
        let c = oci
            .run("hungry", &digest, &grants, None, None)
            .await
            .unwrap();
        assert_eq!(ask(&c, "small").await, "echo:small");
        // The shell becomes a dd with a 200 MiB buffer: over the 32 MiB limit.
        assert!(c.request(b"eat", T).await.is_err());
        let exit = tokio::time::timeout(T, c.wait()).await.expect("killed");
        assert_eq!(exit, Exit::Signal(9), "{exit}");
        c.cleanup().await;
        assert!(!oci.engine().cgroup_left(c.id()));
    });
}

#[test]
fn a_fork_bomb_stops_at_the_pid_limit_and_the_node_keeps_serving() {
    let Some((_serial, _dir, oci, digest)) = setup() else {
        return;
    };
    let grants = Grants {
        limits: Limits {
            pids: 16,
            ..Limits::default()
        },
        ..Grants::default()
    };
    rt().block_on(async {
        let bomb = oci.run("bomb", &digest, &grants, None, None).await.unwrap();
        assert_eq!(ask(&bomb, "fork").await, "started");
        let cgroup = oci.engine().cgroup_for(bomb.id());
        let mut most = 0;
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if let Some(n) = pids_current(&cgroup) {
                most = most.max(n);
            }
        }
        assert!(
            (10..=16).contains(&most),
            "{most} processes against a limit of 16"
        );
        // The node still starts and serves another container meanwhile.
        let other = oci
            .run("calm", &digest, &Grants::default(), None, None)
            .await
            .unwrap();
        assert_eq!(ask(&other, "still here").await, "echo:still here");
        other.stop().await;
        bomb.stop().await;
        assert!(!oci.engine().cgroup_left(bomb.id()));
        assert_eq!(oci.bundles_left(), 0);
        assert_eq!(oci.engine().cgroups_left(), Vec::<PathBuf>::new());
    });
}

#[test]
fn grants_that_cannot_hold_are_refused_before_anything_starts() {
    let Some((_serial, dir, oci, digest)) = setup() else {
        return;
    };
    rt().block_on(async {
        let missing = Grants {
            mounts: vec![BindMount {
                host: dir.path().join("does-not-exist"),
                guest: "/data".into(),
                writable: true,
            }],
            ..Grants::default()
        };
        let e = oci
            .run("bad", &digest, &missing, None, None)
            .await
            .err()
            .unwrap();
        assert!(e.to_string().contains("does not exist"), "{e}");
        let escape = Grants {
            mounts: vec![BindMount {
                host: dir.path().to_path_buf(),
                guest: "/../x".into(),
                writable: false,
            }],
            ..Grants::default()
        };
        assert!(oci.run("bad", &digest, &escape, None, None).await.is_err());
        assert!(
            oci.run("bad name", &digest, &Grants::default(), None, None)
                .await
                .is_err()
        );
        let unknown = format!("sha256:{}", "0".repeat(64));
        let e = oci
            .run("x", &unknown, &Grants::default(), None, None)
            .await
            .err()
            .unwrap();
        assert!(e.to_string().contains("not imported"), "{e}");
        assert_eq!(oci.bundles_left(), 0);
    });
}

#[test]
fn containers_left_by_a_killed_node_are_reaped_at_the_next_start() {
    let Some((_serial, dir, oci, digest)) = setup() else {
        return;
    };
    let rt = rt();
    let left = rt.block_on(async {
        let c = oci
            .run("orphan", &digest, &Grants::default(), None, None)
            .await
            .unwrap();
        assert_eq!(ask(&c, "hi").await, "echo:hi");
        c.id().to_owned()
    });
    // The node "dies": its handles are gone without a stop (the runtime's `run` process
    // dies with the test's runtime, but the state it recorded stays).
    drop(rt);
    drop(oci);
    let again = Oci::open(&dir.path().join("oci")).unwrap();
    assert!(!again.engine().cgroup_left(&left), "reaped");
    assert_eq!(again.engine().cgroups_left(), Vec::<PathBuf>::new());
    let state: Vec<_> = std::fs::read_dir(dir.path().join("oci/runtime"))
        .unwrap()
        .flatten()
        .collect();
    assert!(state.is_empty(), "{state:?}");
    assert_eq!(again.bundles_left(), 0);
}
