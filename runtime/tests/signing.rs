//! Signed components under the trust policy, with real guests.

use std::time::Duration;

use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use r1_runtime::signing::format::{self, Claims, SignatureError};
use r1_runtime::signing::keys::{self, PublicKey};
use r1_runtime::signing::policy::unix_now;
use r1_runtime::{ActorSpec, Grants, Runtime, RuntimeConfig, SpawnError, TrustPolicy};
use r1_test_support::guest;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn claims(capabilities: &[&str]) -> Claims {
    Claims {
        name: "hello".into(),
        version: "1.0.0".into(),
        publisher: String::new(),
        capabilities: capabilities.iter().map(|c| c.to_string()).collect(),
        issued_at: unix_now(),
        expires_at: None,
    }
}

fn strict_trusting(keys: &[&SigningKey]) -> TrustPolicy {
    let mut policy = TrustPolicy::strict();
    for k in keys {
        policy.trust(keys::public_key(k));
    }
    policy
}

fn runtime(policy: TrustPolicy, cstore: Option<r1_cstore::Cstore>) -> Runtime {
    let mut builder = Runtime::builder(
        RuntimeConfig {
            pool_instances: 16,
            workers: 1,
            ..RuntimeConfig::default()
        },
        policy,
    );
    if let Some(store) = cstore {
        builder = builder.key_value(std::sync::Arc::new(store));
    }
    builder.build().unwrap()
}

async fn spawn(rt: &Runtime, wasm: Vec<u8>, grants: &[&str]) -> Result<(), SpawnError> {
    rt.spawn(ActorSpec {
        name: "actor".into(),
        wasm,
        grants: Grants::parse(grants).unwrap(),
        config: Vec::new(),
        limits: None,
    })
    .await
    .map(|_| ())
}

#[actix_rt::test]
async fn a_valid_signed_component_runs() {
    let publisher = key(1);
    let signed = format::sign(&guest("hello"), claims(&[]), &publisher).unwrap();
    let rt = runtime(strict_trusting(&[&publisher]), None);
    spawn(&rt, signed, &[]).await.unwrap();
    let info = rt.info("actor").unwrap();
    assert_eq!(
        info.publisher,
        Some(keys::public_key(&publisher).fingerprint())
    );
    let reply = rt
        .request("actor", b"signed".to_vec(), Duration::from_secs(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply, b"hello, signed!");
    rt.shutdown().await;
}

#[test]
fn flipping_any_single_byte_is_rejected() {
    let publisher = key(1);
    let signed = format::sign(&guest("hello"), claims(&[]), &publisher).unwrap();
    let policy = strict_trusting(&[&publisher]);
    let grants = Grants::default();
    let now = unix_now();
    assert!(policy.check("a", &signed, &grants, now).is_ok());
    let section_start = format::inspect(&signed).unwrap().stripped.len();
    for i in 0..signed.len() {
        let mut tampered = signed.clone();
        tampered[i] ^= 0x01;
        let err = policy
            .check("a", &tampered, &grants, now)
            .expect_err(&format!("flip at byte {i} was accepted"));
        assert!(!err.to_string().is_empty());
        // Past the section's header, name, magic and claims length, a flip breaks the
        // claims or a signature, and the error says so.
        if i >= section_start + 32 {
            assert!(
                matches!(
                    err,
                    SignatureError::BadSignature { .. }
                        | SignatureError::MalformedSection(_)
                        | SignatureError::PublisherMismatch { .. }
                        | SignatureError::UntrustedPublisher { .. }
                ),
                "byte {i}: {err}"
            );
        }
    }
}

#[test]
fn untrusted_publisher_is_rejected() {
    let stranger = key(9);
    let signed = format::sign(&guest("hello"), claims(&[]), &stranger).unwrap();
    for policy in [strict_trusting(&[&key(1)]), TrustPolicy::dev()] {
        let err = policy
            .check("a", &signed, &Grants::default(), unix_now())
            .unwrap_err();
        assert!(
            matches!(err, SignatureError::UntrustedPublisher { .. }),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains(&keys::public_key(&stranger).fingerprint())
        );
    }
}

#[actix_rt::test]
async fn requested_capability_must_be_granted_before_instantiation() {
    let publisher = key(1);
    let dir = tempfile::tempdir().unwrap();
    let store = r1_cstore::Cstore::open(dir.path()).unwrap();
    let rt = runtime(strict_trusting(&[&publisher]), Some(store));
    let signed = format::sign(&guest("counter"), claims(&["cstore:app"]), &publisher).unwrap();

    let err = spawn(&rt, signed.clone(), &["cstore:other"])
        .await
        .unwrap_err();
    match &err {
        SpawnError::Signature(SignatureError::CapabilityNotGranted { capability, .. }) => {
            assert_eq!(capability, "cstore:app")
        }
        other => panic!("unexpected: {other}"),
    }
    assert!(err.to_string().contains("cstore:app"));
    assert!(rt.info("actor").is_none());

    spawn(&rt, signed, &["cstore:app"]).await.unwrap();
    let reply = rt
        .request("actor", b"x".to_vec(), Duration::from_secs(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply, b"1");
    rt.shutdown().await;
}

#[actix_rt::test]
async fn imports_beyond_the_claims_are_refused() {
    // Signed claiming nothing, but the code imports CSTORE.
    let publisher = key(1);
    let dir = tempfile::tempdir().unwrap();
    let store = r1_cstore::Cstore::open(dir.path()).unwrap();
    let rt = runtime(strict_trusting(&[&publisher]), Some(store));
    let signed = format::sign(&guest("counter"), claims(&[]), &publisher).unwrap();
    let err = spawn(&rt, signed, &["cstore:app"]).await.unwrap_err();
    assert!(
        matches!(
            err,
            SpawnError::Signature(SignatureError::UndeclaredCapability { .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("r1:cstore/store@0.1.0"));
    rt.shutdown().await;
}

#[test]
fn expired_and_future_claims_are_rejected() {
    let publisher = key(1);
    let policy = strict_trusting(&[&publisher]);
    let now = unix_now();
    let mut expired = claims(&[]);
    expired.issued_at = now - 100;
    expired.expires_at = Some(now - 1);
    let signed = format::sign(&guest("hello"), expired, &publisher).unwrap();
    let err = policy
        .check("a", &signed, &Grants::default(), now)
        .unwrap_err();
    assert!(matches!(err, SignatureError::Expired { .. }), "{err}");

    let mut future = claims(&[]);
    future.issued_at = now + 86_400;
    let signed = format::sign(&guest("hello"), future, &publisher).unwrap();
    assert!(matches!(
        policy.check("a", &signed, &Grants::default(), now),
        Err(SignatureError::NotYetValid { .. })
    ));
}

#[actix_rt::test]
async fn unsigned_is_refused_outside_dev_mode_and_allowed_in_it() {
    let strict = runtime(TrustPolicy::strict(), None);
    let err = spawn(&strict, guest("hello"), &[]).await.unwrap_err();
    assert!(
        matches!(err, SpawnError::Signature(SignatureError::Unsigned)),
        "{err}"
    );
    strict.shutdown().await;

    let dev = runtime(TrustPolicy::dev(), None);
    spawn(&dev, guest("hello"), &[]).await.unwrap();
    assert_eq!(dev.info("actor").unwrap().publisher, None);
    dev.shutdown().await;
}

#[test]
fn countersigned_component_verifies_both_signatures() {
    let publisher = key(1);
    let marketplace = key(2);
    let signed = format::sign(&guest("hello"), claims(&[]), &publisher).unwrap();
    let both = format::countersign(&signed, &marketplace).unwrap();
    let verified = format::verify(&both).unwrap();
    assert_eq!(verified.publisher, keys::public_key(&publisher));
    assert_eq!(
        verified.countersigners,
        vec![keys::public_key(&marketplace)]
    );
    let (_, report) = format::signature_report(&both).unwrap();
    assert_eq!(report.len(), 2);
    assert!(report.iter().all(|(_, holds)| *holds));
    // The content hash is the same before and after countersigning.
    assert_eq!(
        format::inspect(&signed).unwrap().content_hash,
        format::inspect(&both).unwrap().content_hash
    );
    assert!(matches!(
        format::countersign(&both, &marketplace),
        Err(SignatureError::AlreadySigned)
    ));
    // Damaging the countersignature is caught too.
    let mut bad = both.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x80;
    assert!(matches!(
        format::verify(&bad),
        Err(SignatureError::BadSignature { index: 1, .. })
    ));
    // A policy trusting only the publisher accepts it; countersigners need not be trusted.
    assert!(
        strict_trusting(&[&publisher])
            .check("a", &both, &Grants::default(), unix_now())
            .is_ok()
    );
}

#[test]
fn public_keys_round_trip_as_hex() {
    let k = keys::public_key(&key(3));
    assert_eq!(PublicKey::from_hex(&k.to_hex()).unwrap(), k);
    assert!(PublicKey::from_hex("zz").is_err());
}

static SIGNED_PONG: std::sync::LazyLock<Vec<u8>> =
    std::sync::LazyLock::new(|| format::sign(&guest("guest_pong"), claims(&[]), &key(1)).unwrap());

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = format::inspect(&bytes);
        let _ = format::verify(&bytes);
        let _ = TrustPolicy::dev().check("a", &bytes, &Grants::default(), 0);
    }

    #[test]
    fn arbitrary_sections_after_a_header_never_panic(
        payload in proptest::collection::vec(any::<u8>(), 0..300),
        prefix in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        // A header, then a custom section named r1-signature with arbitrary contents.
        let mut bytes = b"\0asm\x0d\x00\x01\x00".to_vec();
        bytes.extend_from_slice(&prefix);
        let mut body = vec![12u8];
        body.extend_from_slice(b"r1-signature");
        body.extend_from_slice(b"R1SIG\x01");
        body.extend_from_slice(&payload);
        bytes.push(0);
        bytes.push(body.len() as u8 & 0x7f);
        bytes.extend_from_slice(&body);
        let _ = format::inspect(&bytes);
        let _ = format::verify(&bytes);
    }

    #[test]
    fn mutated_signed_components_never_verify_wrongly(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let signed = &*SIGNED_PONG;
        let mut bytes = signed.clone();
        for (pos, value) in edits {
            let i = pos % bytes.len();
            bytes[i] = value;
        }
        if bytes != *signed {
            prop_assert!(format::verify(&bytes).is_err());
        }
    }
}
