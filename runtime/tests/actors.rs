//! The runtime with real guest components: messaging, CSTORE grants, supervision, limits,
//! WASI isolation and bad input.

use std::time::Duration;

use r1_runtime::{
    ActorLimits, ActorSpec, ActorStatus, DeliveryError, GrantError, Grants, LoadError,
    RestartPolicy, Runtime, RuntimeConfig, SpawnError, TrustPolicy,
};
use r1_test_support::guest;

fn config() -> RuntimeConfig {
    RuntimeConfig {
        pool_instances: 32,
        // One worker: actors share a thread, so fairness between them is really tested.
        workers: 1,
        restart: RestartPolicy {
            max_restarts: 3,
            window: Duration::from_secs(60),
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(50),
        },
        ..RuntimeConfig::default()
    }
}

fn spec(name: &str, component: &str, grants: &[&str]) -> ActorSpec {
    ActorSpec {
        name: name.into(),
        wasm: guest(component),
        grants: Grants::parse(grants).unwrap(),
        config: Vec::new(),
        limits: None,
    }
}

async fn ask(rt: &Runtime, name: &str, msg: &str) -> Result<String, DeliveryError> {
    rt.request(name, msg.as_bytes().to_vec(), Duration::from_secs(20))
        .await
        .map(|r| String::from_utf8(r.unwrap_or_default()).unwrap())
}

/// Waits until `cond` holds for the actor's info (supervision runs asynchronously).
async fn wait_for(rt: &Runtime, name: &str, cond: impl Fn(&r1_runtime::ActorInfo) -> bool) {
    for _ in 0..500 {
        if rt.info(name).as_ref().is_some_and(&cond) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition never held; last info: {:?}", rt.info(name));
}

#[actix_rt::test]
async fn hello_replies_and_config_reaches_init() {
    let rt = Runtime::builder(config(), TrustPolicy::dev())
        .build()
        .unwrap();
    rt.spawn(spec("hello", "hello", &[])).await.unwrap();
    assert_eq!(ask(&rt, "hello", "Ada").await.unwrap(), "hello, Ada!");

    let mut custom = spec("bonjour", "hello", &[]);
    custom.config = vec![("greeting".into(), "bonjour".into())];
    rt.spawn(custom).await.unwrap();
    assert_eq!(ask(&rt, "bonjour", "Zoé").await.unwrap(), "bonjour, Zoé!");

    assert!(matches!(
        rt.spawn(spec("hello", "hello", &[])).await,
        Err(SpawnError::NameTaken(_))
    ));
    assert!(matches!(
        ask(&rt, "nobody", "x").await,
        Err(DeliveryError::UnknownActor(_))
    ));
    rt.stop("hello").await.unwrap();
    assert!(matches!(
        ask(&rt, "hello", "x").await,
        Err(DeliveryError::UnknownActor(_))
    ));
    rt.shutdown().await;
}

#[actix_rt::test]
async fn ungranted_import_is_refused_before_instantiation() {
    let rt = Runtime::builder(config(), TrustPolicy::dev())
        .build()
        .unwrap();
    let err = rt.spawn(spec("counter", "counter", &[])).await.unwrap_err();
    match &err {
        SpawnError::Grant(GrantError::NotGranted {
            actor,
            interface,
            grant,
        }) => {
            assert_eq!(actor, "counter");
            assert_eq!(interface, "r1:cstore/store@0.1.0");
            assert_eq!(grant, "cstore:<namespace>");
        }
        other => panic!("unexpected: {other}"),
    }
    assert!(err.to_string().contains("r1:cstore/store@0.1.0"));
    assert!(rt.info("counter").is_none());
    rt.shutdown().await;
}

#[actix_rt::test]
async fn counter_counts_in_its_namespace_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = r1_cstore::Cstore::open(dir.path()).unwrap();
    let rt = Runtime::builder(config(), TrustPolicy::dev())
        .key_value(std::sync::Arc::new(store.clone()))
        .build()
        .unwrap();
    rt.spawn(spec("a", "counter", &["cstore:ns-a"]))
        .await
        .unwrap();
    rt.spawn(spec("b", "counter", &["cstore:ns-b"]))
        .await
        .unwrap();
    for expected in 1..=3 {
        assert_eq!(ask(&rt, "a", "tick").await.unwrap(), expected.to_string());
    }
    assert_eq!(ask(&rt, "b", "tick").await.unwrap(), "1");
    assert_eq!(store.get("ns-a", "count").unwrap().unwrap(), b"3");
    assert_eq!(store.get("ns-b", "count").unwrap().unwrap(), b"1");
    rt.shutdown().await;
}

#[actix_rt::test]
async fn pipeline_flows_source_transform_sink() {
    let dir = tempfile::tempdir().unwrap();
    let store = r1_cstore::Cstore::open(dir.path()).unwrap();
    let rt = Runtime::builder(config(), TrustPolicy::dev())
        .key_value(std::sync::Arc::new(store.clone()))
        .build()
        .unwrap();
    rt.spawn(spec("sink", "pipeline_sink", &["cstore:pipeline"]))
        .await
        .unwrap();
    rt.spawn(spec("transform", "pipeline_transform", &[]))
        .await
        .unwrap();
    rt.spawn(spec("source", "pipeline_source", &[]))
        .await
        .unwrap();
    assert_eq!(
        rt.info("transform").unwrap().subscriptions,
        vec!["pipeline.raw"]
    );
    let reply = ask(&rt, "source", "hello world\n\nwasm actors are small\n")
        .await
        .unwrap();
    assert_eq!(reply, "published 2 line(s) on pipeline.raw");
    let expected = "HELLO WORLD (2 words)\nWASM ACTORS ARE SMALL (4 words)";
    let mut got = String::new();
    for _ in 0..200 {
        got = ask(&rt, "sink", "dump").await.unwrap();
        if got == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(got, expected);
    rt.shutdown().await;
}

#[actix_rt::test]
async fn endless_loop_hits_deadline_while_neighbour_keeps_answering() {
    let mut cfg = config();
    cfg.default_limits.deadline = Duration::from_millis(2000);
    let rt = Runtime::builder(cfg, TrustPolicy::dev()).build().unwrap();
    rt.spawn(spec("looper", "guest_looper", &[])).await.unwrap();
    rt.spawn(spec("hello", "hello", &[])).await.unwrap();

    let spinning = {
        let rt = rt.clone();
        actix_rt::spawn(async move { ask(&rt, "looper", "spin").await })
    };
    // Let the looper get going on the shared worker thread, then talk to its neighbour.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for i in 0..5 {
        assert_eq!(
            ask(&rt, "hello", &format!("n{i}")).await.unwrap(),
            format!("hello, n{i}!")
        );
    }
    assert!(
        !spinning.is_finished(),
        "the neighbour should have answered while the looper was still spinning"
    );
    match spinning.await.unwrap() {
        Err(DeliveryError::Crashed { reason, .. }) => {
            assert!(reason.contains("deadline"), "{reason}")
        }
        other => panic!("expected a deadline crash, got {other:?}"),
    }
    wait_for(&rt, "looper", |i| {
        i.status == ActorStatus::Running && i.restarts == 1
    })
    .await;
    assert_eq!(ask(&rt, "looper", "ping").await.unwrap(), "alive");
    rt.shutdown().await;
}

#[actix_rt::test]
async fn a_busy_actors_mailbox_fills_and_sends_are_refused_not_queued() {
    let rt = Runtime::builder(config(), TrustPolicy::dev())
        .build()
        .unwrap();
    let mut looper = spec("looper", "guest_looper", &[]);
    looper.limits = Some(ActorLimits {
        mailbox_capacity: 8,
        deadline: Duration::from_millis(1500),
        ..ActorLimits::default()
    });
    rt.spawn(looper).await.unwrap();
    let spinning = {
        let rt = rt.clone();
        actix_rt::spawn(async move { ask(&rt, "looper", "spin").await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (mut queued, mut full) = (0, 0);
    for _ in 0..200 {
        match rt.send("looper", b"ping".to_vec()) {
            Ok(()) => queued += 1,
            Err(DeliveryError::MailboxFull(name)) => {
                assert_eq!(name, "looper");
                full += 1;
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    // The bound is the mailbox's capacity (actix lets each sender handle one message past it).
    assert!(queued <= 10, "queued {queued} into a mailbox of 8");
    assert_eq!(queued + full, 200);
    assert!(
        spinning.await.unwrap().is_err(),
        "the spin hits its deadline"
    );
    wait_for(&rt, "looper", |i| i.status == ActorStatus::Running).await;
    assert_eq!(ask(&rt, "looper", "ping").await.unwrap(), "alive");
    // Drained: the shared handle has room again.
    rt.send("looper", b"ping".to_vec()).unwrap();
    rt.shutdown().await;
}

#[actix_rt::test]
async fn unbounded_allocation_hits_memory_limit_and_restarts() {
    let rt = Runtime::builder(config(), TrustPolicy::dev())
        .build()
        .unwrap();
    let mut hog = spec("hog", "guest_hog", &[]);
    hog.limits = Some(ActorLimits {
        max_memory_bytes: 16 << 20,
        ..ActorLimits::default()
    });
    rt.spawn(hog).await.unwrap();
    match ask(&rt, "hog", "grow").await {
        Err(DeliveryError::Crashed { reason, .. }) => {
            assert!(reason.contains("memory limit"), "{reason}")
        }
        other => panic!("expected a memory crash, got {other:?}"),
    }
    wait_for(&rt, "hog", |i| i.status == ActorStatus::Running).await;
    let info = rt.info("hog").unwrap();
    assert_eq!(info.restarts, 1);
    assert!(
        info.last_crash
            .unwrap()
            .contains("memory limit of 16777216 bytes")
    );
    // A fresh instance: the hoard is gone.
    assert_eq!(
        ask(&rt, "hog", "status").await.unwrap(),
        "alive, holding 0 MiB"
    );
    rt.shutdown().await;
}

#[actix_rt::test]
async fn an_actor_s_own_restart_policy_overrides_the_runtime_s() {
    let rt = Runtime::builder(config(), TrustPolicy::dev())
        .build()
        .unwrap();
    // The runtime allows 3 restarts; this actor's own policy none: its first crash is final.
    let mut strict = spec("strict", "guest_crasher", &[]);
    strict.limits = Some(ActorLimits {
        restart: Some(RestartPolicy {
            max_restarts: 0,
            ..RestartPolicy::default()
        }),
        ..ActorLimits::default()
    });
    rt.spawn(strict).await.unwrap();
    assert!(matches!(
        ask(&rt, "strict", "boom").await,
        Err(DeliveryError::Crashed { .. })
    ));
    wait_for(&rt, "strict", |i| {
        matches!(i.status, ActorStatus::Failed { .. })
    })
    .await;
    assert_eq!(rt.info("strict").unwrap().restarts, 0);
    rt.shutdown().await;
}

#[actix_rt::test]
async fn crash_loop_is_stopped_by_restart_intensity() {
    let rt = Runtime::builder(config(), TrustPolicy::dev())
        .build()
        .unwrap();
    rt.spawn(spec("crasher", "guest_crasher", &[]))
        .await
        .unwrap();
    rt.spawn(spec("hello", "hello", &[])).await.unwrap();
    // max_restarts = 3: crashes 1-3 restart, crash 4 stops it.
    for attempt in 1..=4 {
        wait_for(&rt, "crasher", |i| {
            i.status == ActorStatus::Running || matches!(i.status, ActorStatus::Failed { .. })
        })
        .await;
        match ask(&rt, "crasher", "boom").await {
            Err(DeliveryError::Crashed { reason, .. }) => {
                assert!(reason.contains("trap"), "attempt {attempt}: {reason}")
            }
            other => panic!("attempt {attempt}: expected a crash, got {other:?}"),
        }
    }
    wait_for(&rt, "crasher", |i| {
        matches!(i.status, ActorStatus::Failed { .. })
    })
    .await;
    let info = rt.info("crasher").unwrap();
    let ActorStatus::Failed { reason } = &info.status else {
        unreachable!()
    };
    assert!(reason.contains("restart intensity exceeded"), "{reason}");
    assert_eq!(info.restarts, 3);
    assert!(matches!(
        ask(&rt, "crasher", "again").await,
        Err(DeliveryError::Denied(_))
    ));
    // The rest of the node is unaffected.
    assert_eq!(ask(&rt, "hello", "still").await.unwrap(), "hello, still!");
    rt.shutdown().await;
}

#[actix_rt::test]
async fn wasi_guest_sees_only_its_preopen() {
    let root = tempfile::tempdir().unwrap();
    let granted = root.path().join("granted");
    std::fs::create_dir(&granted).unwrap();
    std::fs::write(granted.join("inside.txt"), "inside").unwrap();
    std::fs::write(root.path().join("secret.txt"), "secret").unwrap();

    let rt = Runtime::builder(config(), TrustPolicy::dev())
        .build()
        .unwrap();
    let grant = format!("fs-ro:{}=/data", granted.display());
    rt.spawn(spec("probe", "guest_fs_probe", &[grant.as_str()]))
        .await
        .unwrap();
    assert_eq!(
        ask(&rt, "probe", "/data/inside.txt").await.unwrap(),
        "inside"
    );
    for outside in [
        "/data/../secret.txt".to_string(),
        root.path().join("secret.txt").display().to_string(),
        "/etc/passwd".to_string(),
        "secret.txt".to_string(),
    ] {
        let reply = ask(&rt, "probe", &outside).await.unwrap();
        assert!(
            reply.starts_with("error:"),
            "{outside} was readable: {reply}"
        );
    }
    // No inherited environment.
    assert_eq!(ask(&rt, "probe", "env").await.unwrap(), "");

    // Without a grant there is no filesystem at all.
    rt.spawn(spec("blind", "guest_fs_probe", &[]))
        .await
        .unwrap();
    let reply = ask(&rt, "blind", "/data/inside.txt").await.unwrap();
    assert!(reply.starts_with("error:"), "{reply}");
    rt.shutdown().await;
}

#[actix_rt::test]
async fn bad_component_bytes_give_clear_errors() {
    let rt = Runtime::builder(config(), TrustPolicy::dev())
        .build()
        .unwrap();
    let hello = guest("hello");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("garbage", b"#!/bin/sh\necho not wasm\n".to_vec()),
        ("core module", b"\0asm\x01\0\0\0".to_vec()),
        ("truncated", hello[..hello.len() / 2].to_vec()),
        (
            "flipped bytes",
            hello
                .iter()
                .enumerate()
                .map(|(i, b)| if i % 97 == 50 { !b } else { *b })
                .collect(),
        ),
    ];
    for (what, bytes) in cases {
        let err = rt
            .spawn(ActorSpec {
                name: "bad".into(),
                wasm: bytes,
                grants: Grants::default(),
                config: Vec::new(),
                limits: None,
            })
            .await
            .expect_err(what);
        assert!(
            matches!(err, SpawnError::Load(_)),
            "{what}: unexpected error {err}"
        );
        assert!(!err.to_string().is_empty());
    }
    // The 8-byte header alone is a valid, empty component: refused as not an actor.
    let err = rt
        .spawn(ActorSpec {
            name: "empty".into(),
            wasm: hello[..8].to_vec(),
            grants: Grants::default(),
            config: Vec::new(),
            limits: None,
        })
        .await
        .unwrap_err();
    assert!(matches!(err, SpawnError::NotAnActor(_)), "{err}");
    assert!(err.to_string().contains("r1:actor/handler"), "{err}");
    // A precompiled artifact is refused even though this very engine produced it.
    let cwasm = rt.engine().precompile_component(&hello).unwrap();
    let err = rt
        .spawn(ActorSpec {
            name: "cwasm".into(),
            wasm: cwasm,
            grants: Grants::default(),
            config: Vec::new(),
            limits: None,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, SpawnError::Load(LoadError::Precompiled)),
        "{err}"
    );
    assert!(rt.list().is_empty());
    rt.shutdown().await;
}

#[actix_rt::test]
async fn compiled_components_are_cached_on_disk_by_hash() {
    let cache = tempfile::tempdir().unwrap();
    let hello = guest("hello");
    let hash = blake3::hash(&hello).to_hex().to_string();
    {
        let rt = Runtime::builder(config(), TrustPolicy::dev())
            .cache_dir(cache.path())
            .build()
            .unwrap();
        rt.spawn(spec("hello", "hello", &[])).await.unwrap();
        rt.shutdown().await;
    }
    let entries: Vec<String> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].starts_with(&hash) && entries[0].ends_with(".cwasm"));
    // A second runtime loads it from disk and runs it.
    let rt = Runtime::builder(config(), TrustPolicy::dev())
        .cache_dir(cache.path())
        .build()
        .unwrap();
    rt.spawn(spec("hello", "hello", &[])).await.unwrap();
    assert_eq!(ask(&rt, "hello", "again").await.unwrap(), "hello, again!");
    rt.shutdown().await;
}

#[actix_rt::test]
async fn actors_message_each_other() {
    let rt = Runtime::builder(config(), TrustPolicy::dev())
        .build()
        .unwrap();
    rt.spawn(spec("pong", "guest_pong", &[])).await.unwrap();
    rt.spawn(spec("ping", "guest_ping", &[])).await.unwrap();
    assert_eq!(ask(&rt, "ping", "echo me").await.unwrap(), "echo me");
    // A request to a missing peer is an error value inside the guest, returned as its error.
    let mut lost = spec("lost", "guest_ping", &[]);
    lost.config = vec![("peer".into(), "nobody".into())];
    rt.spawn(lost).await.unwrap();
    match ask(&rt, "lost", "x").await {
        Err(DeliveryError::Handler { message, .. }) => {
            assert!(message.contains("nobody"), "{message}")
        }
        other => panic!("expected a handler error, got {other:?}"),
    }
    rt.shutdown().await;
}

#[actix_rt::test]
async fn wasi_keyvalue_actor_runs_on_cstore() {
    let dir = tempfile::tempdir().unwrap();
    let store = r1_cstore::Cstore::open(dir.path()).unwrap();
    let rt = Runtime::builder(config(), TrustPolicy::dev())
        .key_value(std::sync::Arc::new(store.clone()))
        .build()
        .unwrap();
    // The standard interface needs the CSTORE grant like r1:cstore does.
    let err = rt
        .spawn(spec("kv", "guest_kv_user", &[]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("wasi:keyvalue/"), "{err}");
    rt.spawn(spec("kv", "guest_kv_user", &["cstore:kv"]))
        .await
        .unwrap();
    let report = ask(&rt, "kv", "run").await.unwrap();
    assert_eq!(
        report,
        "get=hello\nexists=true\nincr=5\nincr=3\nmany=b1:x,-,b2:y\n\
         cas=failed-after-hello\ncas=swapped\nkeys=counter,greeting,other/k\nother-keys=k"
    );
    // It is CSTORE underneath, in the granted namespace.
    assert_eq!(store.get("kv", "greeting").unwrap().unwrap(), b"swapped");
    assert_eq!(
        store.get("kv", "other/k").unwrap().unwrap(),
        b"in other bucket"
    );
    assert_eq!(store.get("kv", "counter").unwrap().unwrap(), b"3");
    rt.shutdown().await;
}
