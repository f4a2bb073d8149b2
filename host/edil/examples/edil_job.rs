//! The federated-learning job EDIL exists for, timed (`scripts/bench-edil.sh` runs it): K clients (default 10) each encrypt a
//! vector of N values (default 1,000,000), an aggregator sums the ciphertexts, the owner
//! decrypts the sum. Prints one line
//! `edil total_s=… encrypt_s=… aggregate_s=… decrypt_s=… bytes_per_value=… max_abs_error=…`.
//!
//! `R1_EDIL_DATA=FILE`: the values (K·N little-endian f32, client-major) are read from FILE
//! if it exists, else generated (uniform in (-0.5, 0.5)) and written there, so
//! `scripts/bench-edil.sh` can hand the very same numbers to TenSEAL.

use std::time::Instant;

use r1_edil::{Params, SecretKey, aggregate};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn generate(k: usize, n: usize) -> Vec<f32> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..k * n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 11) as f64 / (1u64 << 53) as f64 - 0.5) as f32
        })
        .collect()
}

fn main() {
    let k = env("R1_EDIL_CLIENTS", 10);
    let n = env("R1_EDIL_VALUES", 1_000_000);
    let data = match std::env::var_os("R1_EDIL_DATA") {
        Some(path) if std::path::Path::new(&path).exists() => {
            let bytes = std::fs::read(&path).expect("data file");
            assert_eq!(bytes.len(), k * n * 4, "data file size does not match K·N");
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        }
        Some(path) => {
            let data = generate(k, n);
            let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
            std::fs::write(&path, bytes).expect("write data file");
            data
        }
        None => generate(k, n),
    };
    let clients: Vec<&[f32]> = data.chunks_exact(n).collect();

    let started = Instant::now();
    let (secret, public) = SecretKey::generate(Params::default()).expect("keys");
    let keygen = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let ciphertexts: Vec<_> = clients
        .iter()
        .map(|values| public.encrypt(values).expect("encrypt"))
        .collect();
    let encrypt = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let sum = aggregate(&ciphertexts.iter().collect::<Vec<_>>()).expect("aggregate");
    let aggregate_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let decrypted = secret.decrypt(&sum).expect("decrypt");
    let decrypt = started.elapsed().as_secs_f64();

    let bytes_per_value = ciphertexts[0].to_bytes().len() as f64 / n as f64;
    let mut max_error = 0f64;
    for (i, got) in decrypted.iter().enumerate() {
        let expected: f64 = clients.iter().map(|c| f64::from(c[i])).sum();
        max_error = max_error.max((got - expected).abs());
    }
    println!(
        "edil total_s={:.3} encrypt_s={encrypt:.3} aggregate_s={aggregate_s:.3} decrypt_s={decrypt:.3} \
         bytes_per_value={bytes_per_value:.2} max_abs_error={max_error:.3e} keygen_s={keygen:.3} clients={k} values={n}",
        encrypt + aggregate_s + decrypt
    );
}
