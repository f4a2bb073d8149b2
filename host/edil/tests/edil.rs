//! EDIL end to end in one process: keys, encryption, aggregation, decryption, signed updates.

use std::sync::OnceLock;

use ed25519_dalek::SigningKey;
use r1_edil::{
    Aggregate, AggregateError, Aggregator, Ciphertext, DecryptError, FormatError, Params,
    PublicKey, SecretKey, SignedUpdate, UpdateError, aggregate,
};

/// One key pair for the whole file (generation takes a moment).
fn keys() -> &'static (SecretKey, PublicKey) {
    static KEYS: OnceLock<(SecretKey, PublicKey)> = OnceLock::new();
    KEYS.get_or_init(|| SecretKey::generate(Params::default()).expect("keys"))
}

/// Deterministic values in (-1, 1) (xorshift), different per seed.
fn vector(len: usize, seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32 * 0.999
        })
        .collect()
}

fn client(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

#[test]
fn decrypted_sums_equal_plaintext_sums_within_the_bound_for_2_to_64_clients() {
    let (secret, public) = keys();
    let params = *public.params();
    // 5,000 values: two full bins of 2,048 and a partial one.
    let len = 5_000;
    for k in [2usize, 3, 7, 16, 33, 64] {
        let inputs: Vec<Vec<f32>> = (0..k).map(|c| vector(len, (k * 100 + c) as u64)).collect();
        let ciphertexts: Vec<Ciphertext> = inputs
            .iter()
            .map(|v| public.encrypt(v).expect("encrypt"))
            .collect();
        let sum = aggregate(&ciphertexts.iter().collect::<Vec<_>>()).expect("aggregate");
        assert_eq!(sum.summands() as usize, k);
        let decrypted = secret.decrypt(&sum).expect("decrypt");
        assert_eq!(decrypted.len(), len);
        let bound = params.sum_error_bound(k);
        let mut worst = 0f64;
        for (i, got) in decrypted.iter().enumerate() {
            let expected: f64 = inputs.iter().map(|v| f64::from(v[i])).sum();
            worst = worst.max((got - expected).abs());
        }
        assert!(
            worst <= bound,
            "K={k}: error {worst:e} over the bound {bound:e}"
        );
    }
}

#[test]
fn a_ciphertext_is_about_16_bytes_per_value_and_round_trips() {
    let (secret, public) = keys();
    let values = vector(2048 * 4, 7);
    let ct = public.encrypt(&values).expect("encrypt");
    let bytes = ct.to_bytes();
    let per_value = bytes.len() as f64 / values.len() as f64;
    assert!(per_value <= 16.1, "{per_value} bytes per value");
    let back = Ciphertext::from_bytes(&bytes).expect("parse");
    assert_eq!(back, ct);
    let plain = secret.decrypt(&back).expect("decrypt");
    assert!((plain[3] - f64::from(values[3])).abs() <= public.params().sum_error_bound(1));
}

#[test]
fn ciphertexts_under_another_key_or_other_parameters_are_refused() {
    let (secret, public) = keys();
    let (_, other_public) = SecretKey::generate(Params::default()).expect("other keys");
    let mine = public.encrypt(&vector(100, 1)).expect("mine");
    let theirs = other_public.encrypt(&vector(100, 2)).expect("theirs");
    match secret.decrypt(&theirs) {
        Err(DecryptError::OtherKey { .. }) => {}
        other => panic!("decrypted a ciphertext under another key: {other:?}"),
    }
    match aggregate(&[&mine, &theirs]) {
        Err(AggregateError::OtherKey { index: 1, .. }) => {}
        other => panic!("summed ciphertexts under two keys: {other:?}"),
    }
    // Same key id, other parameters (a tampered header): refused, not decrypted into noise.
    let mut bytes = mine.to_bytes();
    let frac_bits_at = 8 + 1 + 4 + 4 + 4; // magic, version, dimension, noise, int_bits
    bytes[frac_bits_at] = 20;
    let tampered = Ciphertext::from_bytes(&bytes).expect("still well-formed");
    assert_eq!(secret.decrypt(&tampered), Err(DecryptError::OtherParams));
    assert!(matches!(
        aggregate(&[&mine, &tampered]),
        Err(AggregateError::OtherParams { index: 1 })
    ));
    let short = public.encrypt(&vector(99, 3)).expect("short");
    assert!(matches!(
        aggregate(&[&mine, &short]),
        Err(AggregateError::Length { .. })
    ));
}

#[test]
fn malformed_bytes_are_clear_errors() {
    let (secret, public) = keys();
    let ct = public.encrypt(&vector(10, 4)).expect("encrypt").to_bytes();
    assert!(matches!(
        Ciphertext::from_bytes(b"garbage"),
        Err(FormatError::Magic { .. })
    ));
    assert!(matches!(
        Ciphertext::from_bytes(&ct[..ct.len() - 3]),
        Err(FormatError::Truncated(_))
    ));
    let mut future = ct.clone();
    future[8] = 9;
    assert_eq!(
        Ciphertext::from_bytes(&future),
        Err(FormatError::Version(9))
    );
    let mut longer = ct.clone();
    longer.push(0);
    assert!(matches!(
        Ciphertext::from_bytes(&longer),
        Err(FormatError::Invalid(_))
    ));
    // Keys round-trip, and a public key is not a secret key.
    let secret_again = SecretKey::from_bytes(&secret.to_bytes()).expect("secret");
    assert_eq!(secret_again.public_id(), public.id());
    let public_again = PublicKey::from_bytes(&public.to_bytes()).expect("public");
    assert_eq!(public_again.id(), public.id());
    assert!(SecretKey::from_bytes(&public.to_bytes()).is_err());
}

#[test]
fn out_of_range_and_empty_inputs_are_refused() {
    let (_, public) = keys();
    assert!(public.encrypt(&[]).is_err());
    let err = public.encrypt(&[0.5, 1.5]).expect_err("range");
    assert!(err.to_string().contains("value 1 = 1.5"), "{err}");
    assert!(public.encrypt(&[f32::INFINITY]).is_err());
}

#[test]
fn the_aggregator_admits_only_fresh_signed_updates_from_participants() {
    let (secret, public) = keys();
    let job = "digits";
    let participants: Vec<SigningKey> = (1..=3).map(client).collect();
    let ids = participants.iter().map(|k| k.verifying_key().to_bytes());
    let mut round2 = Aggregator::new(job, 2, public, ids.clone());
    let values: Vec<Vec<f32>> = (0..3).map(|c| vector(300, 50 + c)).collect();
    let update = |c: usize, round: u64| {
        SignedUpdate::sign(
            job,
            round,
            public.encrypt(&values[c]).expect("enc"),
            &participants[c],
        )
        .to_bytes()
    };

    assert_eq!(
        round2.add(&update(0, 2)).expect("client 1"),
        participants[0].verifying_key().to_bytes()
    );
    // The same client again (a replay within the round) is refused.
    assert!(matches!(
        round2.add(&update(0, 2)),
        Err(UpdateError::Duplicate(_))
    ));
    // An update from round 1 replayed into round 2 is refused.
    assert!(matches!(
        round2.add(&update(1, 1)),
        Err(UpdateError::WrongRound {
            found: 1,
            expected: 2
        })
    ));
    // Unsigned, forged and foreign updates are refused.
    let unsigned = SignedUpdate::unsigned(
        job,
        2,
        participants[1].verifying_key().to_bytes(),
        public.encrypt(&values[1]).expect("enc"),
    );
    assert_eq!(round2.add(&unsigned.to_bytes()), Err(UpdateError::Unsigned));
    let mut forged = update(1, 2);
    let last = forged.len() - 1;
    forged[last] ^= 1; // a ciphertext word changed after signing
    assert!(matches!(
        round2.add(&forged),
        Err(UpdateError::BadSignature(_))
    ));
    let outsider = SignedUpdate::sign(job, 2, public.encrypt(&values[1]).expect("enc"), &client(9));
    assert!(matches!(
        round2.add(&outsider.to_bytes()),
        Err(UpdateError::UnknownClient(_))
    ));
    let other_job = SignedUpdate::sign(
        "other",
        2,
        public.encrypt(&values[1]).expect("enc"),
        &participants[1],
    );
    assert!(matches!(
        round2.add(&other_job.to_bytes()),
        Err(UpdateError::WrongJob { .. })
    ));

    round2.add(&update(1, 2)).expect("client 2");
    round2.add(&update(2, 2)).expect("client 3");
    let aggregate = round2.finish().expect("aggregate");
    assert_eq!(aggregate.clients.len(), 3);
    let aggregate = Aggregate::from_bytes(&aggregate.to_bytes()).expect("round trip");
    let sum = secret.decrypt(&aggregate.ciphertext).expect("decrypt");
    let bound = public.params().sum_error_bound(3);
    for i in 0..300 {
        let expected: f64 = values.iter().map(|v| f64::from(v[i])).sum();
        assert!((sum[i] - expected).abs() <= bound);
    }
    assert!(matches!(
        Aggregator::new(job, 3, public, []).finish(),
        Err(UpdateError::Empty)
    ));
}
