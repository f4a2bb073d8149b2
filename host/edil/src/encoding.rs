//! Fixed-point encoding of values into the top bits of 64-bit plaintexts, and decoding of
//! decrypted sums (see [`Params`] for the layout).

use crate::params::Params;

/// Why a vector cannot be encoded as fixed point.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EncodeError {
    /// A value is NaN or infinite.
    #[error("value {index} is not a finite number ({value})")]
    NotFinite {
        /// Position of the value in the vector.
        index: usize,
        /// The value.
        value: f32,
    },
    /// A value's magnitude is at least 2^int_bits.
    #[error(
        "value {index} = {value} is outside the job's range (-{limit}, {limit}); scale it or raise int_bits"
    )]
    OutOfRange {
        /// Position of the value in the vector.
        index: usize,
        /// The value.
        value: f32,
        /// The range's bound, 2^int_bits.
        limit: f64,
    },
}

/// Plaintexts (Δ · q, wrapping) for `values`.
pub fn encode(params: &Params, values: &[f32]) -> Result<Vec<u64>, EncodeError> {
    let scale = 2f64.powi(params.frac_bits as i32);
    let limit = 2f64.powi(params.int_bits as i32);
    let shift = params.delta_log2();
    values
        .iter()
        .enumerate()
        .map(|(index, &value)| {
            if !value.is_finite() {
                return Err(EncodeError::NotFinite { index, value });
            }
            let v = f64::from(value);
            if v.abs() >= limit {
                return Err(EncodeError::OutOfRange {
                    index,
                    value,
                    limit,
                });
            }
            let q = (v * scale).round() as i64;
            Ok((q as u64).wrapping_shl(shift))
        })
        .collect()
}

/// The value a decrypted (noisy) plaintext stands for: rounded to the nearest message step,
/// read as a signed fixed-point number.
pub fn decode(params: &Params, plaintext: u64) -> f64 {
    let shift = params.delta_log2();
    let half_step = 1u64 << (shift - 1);
    let q = (plaintext.wrapping_add(half_step) as i64) >> shift;
    q as f64 / 2f64.powi(params.frac_bits as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_within_half_a_step_even_with_noise() {
        let p = Params::default();
        let values = [0.0f32, 0.5, -0.5, 0.999_999, -0.999_999, 1e-9, -3.7e-5];
        let encoded = encode(&p, &values).expect("encode");
        let noise = 1u64 << (p.delta_log2() - 2);
        for (v, e) in values.iter().zip(encoded) {
            for noisy in [e, e.wrapping_add(noise), e.wrapping_sub(noise)] {
                let back = decode(&p, noisy);
                assert!(
                    (back - f64::from(*v)).abs() <= p.sum_error_bound(1),
                    "{v} → {back}"
                );
            }
        }
    }

    #[test]
    fn sums_of_encodings_decode_to_sums() {
        let p = Params::default();
        let a = encode(&p, &[0.75, -0.9]).expect("a");
        let b = encode(&p, &[0.75, -0.9]).expect("b");
        let sums: Vec<f64> = a
            .iter()
            .zip(&b)
            .map(|(x, y)| decode(&p, x.wrapping_add(*y)))
            .collect();
        let expected = [1.5, 2.0 * f64::from(-0.9f32)];
        for (got, want) in sums.iter().zip(expected) {
            assert!(
                (got - want).abs() <= p.sum_error_bound(2),
                "{got} vs {want}"
            );
        }
    }

    #[test]
    fn bad_values_are_refused() {
        let p = Params::default();
        assert!(matches!(
            encode(&p, &[0.1, f32::NAN]),
            Err(EncodeError::NotFinite { index: 1, .. })
        ));
        assert!(matches!(
            encode(&p, &[1.0]),
            Err(EncodeError::OutOfRange { index: 0, .. })
        ));
        assert!(matches!(
            encode(&p, &[-2.5]),
            Err(EncodeError::OutOfRange { .. })
        ));
    }
}
