//! `r1 epoch verify` and `r1 epoch show`: OracleSync certificates checked offline with only the
//! oracles' public keys — a good one holds, a forged, foreign or missing signature fails.
//! (The oracle actors that make certificates on a running mesh come with the rest of
//! OracleSync; here the certificates are made with its rules directly.)

use ed25519_dalek::SigningKey;
use r1_oraclesync::certificate::{Certificate, sign};
use r1_oraclesync::table::Table;
use r1_test_support::{r1, r1_ok};

fn oracles() -> Vec<SigningKey> {
    (1..=4u8)
        .map(|i| SigningKey::from_bytes(&[i; 32]))
        .collect() // n = 4, f = 1
}

fn certificate(signers: &[SigningKey]) -> Certificate {
    let table = Table {
        epoch: 17,
        figures: [
            ("node-a".to_string(), 255u8),
            ("node-b".into(), 128),
            ("node-c".into(), 0),
        ]
        .into_iter()
        .collect(),
    };
    let mut cert = Certificate::new(table.clone());
    for k in signers {
        assert!(cert.add_signature(k.verifying_key().to_bytes(), sign(&table, k)));
    }
    cert
}

#[test]
fn a_certificate_is_verified_offline_and_forged_or_short_ones_fail() {
    let dir = tempfile::tempdir().unwrap();
    let keys = oracles();
    let list = dir.path().join("oracles.txt");
    let text: String = keys
        .iter()
        .map(|k| format!("{}  # oracle\n", hex_of(&k.verifying_key().to_bytes())))
        .collect();
    std::fs::write(&list, text).unwrap();
    let write = |name: &str, cert: &Certificate| {
        let path = dir.path().join(name);
        std::fs::write(&path, cert.to_bytes()).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let good = certificate(&keys[..3]);
    let ok = write("good.cert", &good);
    let out = r1_ok(
        &["epoch", "verify", &ok, "--oracles", list.to_str().unwrap()],
        None,
    );
    assert!(out.contains("certified by 3 of 4 oracles"), "{out}");
    let shown = r1_ok(&["epoch", "show", &ok, "--node", "node-b"], None);
    assert!(shown.contains("availability 128/255"), "{shown}");
    // Missing: two signatures where 2f + 1 = 3 are needed.
    let short = write("short.cert", &certificate(&keys[..2]));
    // Forged: one signature's bytes changed.
    let mut forged = good.clone();
    forged.signatures.values_mut().next().unwrap()[0] ^= 1;
    let forged = write("forged.cert", &forged);
    // Signed by a key that is not an oracle.
    let outsider = SigningKey::from_bytes(&[77; 32]);
    let foreign = write(
        "foreign.cert",
        &certificate(&[keys[0].clone(), keys[1].clone(), outsider]),
    );
    for bad in [short, forged, foreign] {
        let out = r1(
            &["epoch", "verify", &bad, "--oracles", list.to_str().unwrap()],
            None,
        );
        assert!(!out.status.success(), "{bad} was accepted");
        assert!(!out.stderr.is_empty());
    }
    // Not a certificate at all.
    let junk = dir.path().join("junk");
    std::fs::write(&junk, b"R1EPOCH1 but no more").unwrap();
    let out = r1(
        &[
            "epoch",
            "verify",
            junk.to_str().unwrap(),
            "--oracles",
            list.to_str().unwrap(),
        ],
        None,
    );
    assert!(!out.status.success());
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
