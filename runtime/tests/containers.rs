//! Containers as actors, through the container contract with an engine made here (no OCI
//! runtime needed): messages, supervision with the restart policy, stop, the trust policy on
//! the image digest, and the grants a container may take. `host/oci`'s tests run the real one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use r1_core::ServiceError;
use r1_core::contract::BoxFuture;
use r1_core::contract::container::{ContainerEngine, ContainerInstance, ContainerSpec, LogFn};
use r1_runtime::signing::format::{Claims, image_content_hash, sign_detached};
use r1_runtime::signing::keys::public_key;
use r1_runtime::{
    ActorLimits, ActorStatus, ComponentKind, ContainerLaunch, Grants, RestartPolicy, Runtime,
    RuntimeConfig, SpawnError, TrustPolicy,
};

/// Answers `echo:LINE`; `die` ends the instance, as a crash would.
#[derive(Default)]
struct FakeEngine {
    started: AtomicUsize,
    stopped: Arc<AtomicUsize>,
    specs: Mutex<Vec<ContainerSpec>>,
}

struct FakeInstance {
    done: tokio::sync::watch::Sender<Option<String>>,
    stopped: Arc<AtomicUsize>,
    log: LogFn,
}

impl ContainerInstance for FakeInstance {
    fn request(
        &self,
        payload: Vec<u8>,
        _timeout: Duration,
    ) -> BoxFuture<'_, Result<Vec<u8>, ServiceError>> {
        Box::pin(async move {
            if payload == b"die" {
                (self.log)("dying");
                let _ = self.done.send(Some("exited with status 3".into()));
                return Err(ServiceError::Other("closed its output".into()));
            }
            let mut out = b"echo:".to_vec();
            out.extend_from_slice(&payload);
            Ok(out)
        })
    }

    fn exited(&self) -> BoxFuture<'_, String> {
        let mut rx = self.done.subscribe();
        Box::pin(async move {
            loop {
                if let Some(how) = rx.borrow().clone() {
                    return how;
                }
                if rx.changed().await.is_err() {
                    return "gone".into();
                }
            }
        })
    }

    fn stop(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.stopped.fetch_add(1, Ordering::SeqCst);
            let _ = self.done.send(Some("stopped".into()));
        })
    }
}

impl ContainerEngine for FakeEngine {
    fn start<'a>(
        &'a self,
        _name: &'a str,
        spec: &'a ContainerSpec,
        log: LogFn,
    ) -> BoxFuture<'a, Result<Box<dyn ContainerInstance>, ServiceError>> {
        Box::pin(async move {
            self.started.fetch_add(1, Ordering::SeqCst);
            self.specs.lock().unwrap().push(spec.clone());
            let (done, _) = tokio::sync::watch::channel(None);
            Ok(Box::new(FakeInstance {
                done,
                stopped: self.stopped.clone(),
                log,
            }) as Box<dyn ContainerInstance>)
        })
    }
}

const IMAGE: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

fn runtime(policy: TrustPolicy, engine: Arc<FakeEngine>) -> Runtime {
    let config = RuntimeConfig {
        pool_instances: 8,
        workers: 1,
        restart: RestartPolicy {
            max_restarts: 2,
            window: Duration::from_secs(60),
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
        },
        ..RuntimeConfig::default()
    };
    Runtime::builder(config, policy)
        .containers(engine)
        .build()
        .unwrap()
}

fn launch(name: &str, grants: &[&str]) -> ContainerLaunch {
    ContainerLaunch {
        name: name.into(),
        image: IMAGE.into(),
        signature: None,
        args: None,
        grants: Grants::parse(grants).unwrap(),
        limits: Some(ActorLimits {
            max_memory_bytes: 32 << 20,
            ..ActorLimits::default()
        }),
    }
}

async fn ask(rt: &Runtime, name: &str, msg: &str) -> Result<String, String> {
    rt.request(name, msg.as_bytes().to_vec(), Duration::from_secs(5))
        .await
        .map(|r| String::from_utf8(r.unwrap_or_default()).unwrap())
        .map_err(|e| e.to_string())
}

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
async fn a_container_is_an_actor_supervised_like_any_other() {
    let engine = Arc::new(FakeEngine::default());
    let rt = runtime(TrustPolicy::dev(), engine.clone());
    let info = rt
        .spawn_container(launch("box", &["fs-ro:/tmp=/input", "net"]))
        .await
        .unwrap();
    assert_eq!(info.kind, ComponentKind::Container);
    assert_eq!(info.component, IMAGE);
    let spec = engine.specs.lock().unwrap()[0].clone();
    assert!(spec.network && spec.memory_bytes == 32 << 20);
    assert_eq!(spec.mounts.len(), 1);
    assert!(!spec.mounts[0].writable && spec.mounts[0].guest == "/input");
    assert_eq!(ask(&rt, "box", "hi").await.unwrap(), "echo:hi");
    // An exit it was not asked for is a crash: restarted after the backoff.
    assert!(ask(&rt, "box", "die").await.is_err());
    wait_for(&rt, "box", |i| {
        i.restarts == 1 && i.status == ActorStatus::Running
    })
    .await;
    assert_eq!(ask(&rt, "box", "again").await.unwrap(), "echo:again");
    assert_eq!(engine.started.load(Ordering::SeqCst), 2);
    let lines = rt.logs("box").unwrap();
    assert!(lines.iter().any(|l| l.text.contains("dying")), "{lines:?}");
    // More crashes than the policy allows in its window: failed, not restarted again.
    for _ in 0..2 {
        let _ = ask(&rt, "box", "die").await;
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    wait_for(&rt, "box", |i| {
        matches!(i.status, ActorStatus::Failed { .. })
    })
    .await;
    assert_eq!(engine.started.load(Ordering::SeqCst), 3);
}

#[actix_rt::test]
async fn stopping_a_container_removes_its_instance() {
    let engine = Arc::new(FakeEngine::default());
    let rt = runtime(TrustPolicy::dev(), engine.clone());
    rt.spawn_container(launch("box", &[])).await.unwrap();
    assert!(
        rt.spawn_container(launch("box", &[])).await.is_err(),
        "name taken"
    );
    rt.stop("box").await.unwrap();
    assert_eq!(engine.stopped.load(Ordering::SeqCst), 1);
    assert!(rt.info("box").is_none());
    assert!(ask(&rt, "box", "hi").await.is_err());
    assert_eq!(
        engine.started.load(Ordering::SeqCst),
        1,
        "a stop is not a crash"
    );
}

#[actix_rt::test]
async fn only_fs_and_net_grants_fit_a_container() {
    let engine = Arc::new(FakeEngine::default());
    let rt = runtime(TrustPolicy::dev(), engine.clone());
    let e = rt
        .spawn_container(launch("box", &["cstore:x"]))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("fs:, fs-ro: and net"), "{e}");
    assert!(matches!(
        rt.spawn_container(launch("bad name", &[])).await,
        Err(SpawnError::BadName(_))
    ));
    assert_eq!(engine.started.load(Ordering::SeqCst), 0);
    let none = Runtime::builder(RuntimeConfig::default(), TrustPolicy::dev())
        .build()
        .unwrap();
    let e = none.spawn_container(launch("box", &[])).await.unwrap_err();
    assert!(e.to_string().contains("runs no containers"), "{e}");
}

#[actix_rt::test]
async fn the_trust_policy_checks_the_image_digest_before_anything_starts() {
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let mut policy = TrustPolicy::strict();
    policy.trust(public_key(&key));
    let engine = Arc::new(FakeEngine::default());
    let rt = runtime(policy, engine.clone());
    let e = rt.spawn_container(launch("box", &[])).await.unwrap_err();
    assert!(
        matches!(e, SpawnError::Signature(_)),
        "unsigned refused: {e}"
    );
    let claims = Claims {
        name: "box".into(),
        version: "1".into(),
        publisher: String::new(),
        capabilities: vec!["net".into()],
        issued_at: 1,
        expires_at: None,
    };
    let signature = sign_detached(&image_content_hash(IMAGE), claims.clone(), &key).unwrap();
    // Signed for another image: refused.
    let other = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    let mut wrong = launch("box", &["net"]);
    wrong.image = other.into();
    wrong.signature = Some(signature.clone());
    assert!(matches!(
        rt.spawn_container(wrong).await,
        Err(SpawnError::Signature(_))
    ));
    // Its claims ask for `net`: not granted, refused.
    let mut ungranted = launch("box", &[]);
    ungranted.signature = Some(signature.clone());
    assert!(matches!(
        rt.spawn_container(ungranted).await,
        Err(SpawnError::Signature(_))
    ));
    assert_eq!(
        engine.started.load(Ordering::SeqCst),
        0,
        "nothing started so far"
    );
    let mut good = launch("box", &["net"]);
    good.signature = Some(signature);
    let info = rt.spawn_container(good).await.unwrap();
    assert_eq!(info.publisher, Some(public_key(&key).fingerprint()));
}
