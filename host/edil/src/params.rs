//! Encryption and encoding parameters of a job.
//!
//! Values are fixed point: `q = round(v · 2^frac_bits)`, with `|v| < 2^int_bits`, placed in
//! the top bits of a 64-bit torus element as two's complement. The message field is
//! `1 + int_bits + frac_bits + headroom` bits wide, where `headroom = ceil(log2(max_clients))`
//! absorbs the growth of a sum of up to `max_clients` updates; the remaining low bits hold the
//! LWE noise, which must stay below half a message step.

use crate::format::{FormatError, Reader, Writer};

/// A job's encryption and fixed-point encoding parameters; keys and ciphertexts carry them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// LWE dimension n (a power of two); also the number of values per mask polynomial.
    pub lwe_dimension: usize,
    /// log2 of the TUniform noise bound.
    pub noise_bound_log2: u32,
    /// Values must lie in (-2^int_bits, 2^int_bits).
    pub int_bits: u32,
    /// Precision: values are rounded to multiples of 2^-frac_bits.
    pub frac_bits: u32,
    /// Most updates one aggregate may sum.
    pub max_clients: u32,
}

/// Why [`Params::validate`] refuses parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// The LWE dimension is not a power of two in 256..=8192; holds it.
    #[error("LWE dimension {0} must be a power of two between 256 and 8192")]
    Dimension(usize),
    /// `noise_bound_log2` is outside 1..=40; holds it.
    #[error("noise bound 2^{0} is outside 2^1..2^40")]
    Noise(u32),
    /// `max_clients` is outside 1..=65536; holds it.
    #[error("max_clients must be 1..=65536, got {0}")]
    Clients(u32),
    /// The bits below the message field are too few for the noise of a `max_clients` sum.
    #[error(
        "{message_bits} message bits leave {left} bits for noise; the noise of {clients} summed \
         ciphertexts needs {needed}: lower int_bits, frac_bits or max_clients"
    )]
    NoRoom {
        /// Width of the message field, in bits.
        message_bits: u32,
        /// Bits left below it for noise (64 − `message_bits`).
        left: u32,
        /// Bits the noise of the sum needs: its log2 bound plus one spare bit.
        needed: u32,
        /// The `max_clients` the noise was computed for.
        clients: u32,
    },
}

impl Default for Params {
    /// Zama's compact-PKE parameters; values in (-1, 1) at 2^-28 precision; up to 64 clients.
    fn default() -> Self {
        Params {
            lwe_dimension: 2048,
            noise_bound_log2: 17,
            int_bits: 0,
            frac_bits: 28,
            max_clients: 64,
        }
    }
}

impl Params {
    /// Bits reserved for the growth of a sum: ceil(log2(max_clients)).
    pub fn headroom_bits(&self) -> u32 {
        self.max_clients.max(1).next_power_of_two().trailing_zeros()
    }

    /// Width of the message field: sign, integer part, fraction and sum headroom.
    pub fn message_bits(&self) -> u32 {
        1 + self.int_bits + self.frac_bits + self.headroom_bits()
    }

    /// log2 of the message step Δ.
    pub fn delta_log2(&self) -> u32 {
        64u32.saturating_sub(self.message_bits())
    }

    /// log2 of a noise bound that a sum of `max_clients` fresh ciphertexts stays under with
    /// overwhelming probability (≥ 9 standard deviations).
    ///
    /// Decryption noise of one ciphertext ≈ e2 + <e1, s> − <e, r> with binary s and r: about
    /// n TUniform terms, variance ≈ n · 2^(2b) / 3. A sum of K has K times the variance.
    pub fn noise_log2(&self) -> u32 {
        let n = self.lwe_dimension as f64;
        let k = f64::from(self.max_clients.max(1));
        let sigma = (n * k / 3.0).sqrt() * 2f64.powi(self.noise_bound_log2 as i32);
        (9.0 * sigma).log2().ceil() as u32
    }

    /// The largest error the decrypted sum of `clients` updates can have, from rounding each
    /// value to the precision (the LWE noise is removed exactly when parameters validate).
    pub fn sum_error_bound(&self, clients: usize) -> f64 {
        clients as f64 * 2f64.powi(-(self.frac_bits as i32) - 1)
    }

    /// Checks the parameters: dimension, noise bound and `max_clients` in range, and room below
    /// the message field for the noise of a `max_clients` sum plus one spare bit.
    pub fn validate(&self) -> Result<(), ParamsError> {
        let n = self.lwe_dimension;
        if !n.is_power_of_two() || !(256..=8192).contains(&n) {
            return Err(ParamsError::Dimension(n));
        }
        if !(1..=40).contains(&self.noise_bound_log2) {
            return Err(ParamsError::Noise(self.noise_bound_log2));
        }
        if !(1..=65536).contains(&self.max_clients) {
            return Err(ParamsError::Clients(self.max_clients));
        }
        let message_bits = self.message_bits();
        let left = 64u32.saturating_sub(message_bits);
        // Noise must stay below half a step: one spare bit on top of the bound.
        let needed = self.noise_log2() + 1;
        if message_bits >= 64 || left < needed {
            return Err(ParamsError::NoRoom {
                message_bits,
                left,
                needed,
                clients: self.max_clients,
            });
        }
        Ok(())
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.u32(self.lwe_dimension as u32);
        w.u32(self.noise_bound_log2);
        w.u32(self.int_bits);
        w.u32(self.frac_bits);
        w.u32(self.max_clients);
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, FormatError> {
        let params = Params {
            lwe_dimension: r.u32()? as usize,
            noise_bound_log2: r.u32()?,
            int_bits: r.u32()?,
            frac_bits: r.u32()?,
            max_clients: r.u32()?,
        };
        params
            .validate()
            .map_err(|e| FormatError::Invalid(format!("parameters: {e}")))?;
        Ok(params)
    }

    /// A short fingerprint of the parameters.
    pub fn id(&self) -> [u8; 32] {
        let mut w = Writer::new(b"R1EDILPR");
        self.write(&mut w);
        *blake3::hash(&w.finish()).as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_leave_room_for_the_noise_of_64_clients() {
        let p = Params::default();
        p.validate().expect("defaults");
        assert_eq!(p.headroom_bits(), 6);
        assert_eq!(p.message_bits(), 35);
        assert!(p.noise_log2() < p.delta_log2());
    }

    #[test]
    fn impossible_parameters_are_refused_with_a_reason() {
        let greedy = Params {
            frac_bits: 40,
            ..Params::default()
        };
        let err = greedy.validate().expect_err("no room");
        assert!(err.to_string().contains("lower int_bits"), "{err}");
        for bad in [
            Params {
                lwe_dimension: 1000,
                ..Params::default()
            },
            Params {
                noise_bound_log2: 0,
                ..Params::default()
            },
            Params {
                max_clients: 0,
                ..Params::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
