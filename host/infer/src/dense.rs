//! Dense networks from safetensors: a stack of linear layers with one activation between them.
//! The same type trains (EDIL's clients, through a `VarMap`) and serves (the registry).
//!
//! Files: `config.json` = `{"sizes": [inputs, hidden…, outputs], "activation": "relu"}`;
//! weights named `layers.<i>.weight` ([out, in]) and `layers.<i>.bias` ([out]).

use candle_core::{Module, Tensor};
use candle_nn::{Linear, VarBuilder};
use serde::{Deserialize, Serialize};

/// The activation applied between layers (`"relu"`, `"tanh"` or `"sigmoid"` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// max(0, x); the default.
    #[default]
    Relu,
    /// Hyperbolic tangent.
    Tanh,
    /// Logistic sigmoid, 1 / (1 + e^-x).
    Sigmoid,
}

/// A dense network's `config.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenseConfig {
    /// Width of every layer boundary: inputs first, outputs last (at least two entries).
    pub sizes: Vec<usize>,
    /// Activation between layers (default: relu).
    #[serde(default)]
    pub activation: Activation,
}

impl DenseConfig {
    /// Input width (first entry of `sizes`; 0 if empty).
    pub fn inputs(&self) -> usize {
        self.sizes.first().copied().unwrap_or(0)
    }

    /// Output width (last entry of `sizes`; 0 if empty).
    pub fn outputs(&self) -> usize {
        self.sizes.last().copied().unwrap_or(0)
    }

    /// Checks that `sizes` has at least two entries, none of them 0.
    pub fn validate(&self) -> Result<(), String> {
        if self.sizes.len() < 2 || self.sizes.contains(&0) {
            return Err(format!(
                "sizes must list at least inputs and outputs, all non-zero (got {:?})",
                self.sizes
            ));
        }
        Ok(())
    }
}

/// A multi-layer perceptron; the last layer has no activation (logits or raw values).
pub struct Mlp {
    layers: Vec<Linear>,
    activation: Activation,
}

impl Mlp {
    /// Builds the layers from `vb` (`layers.<i>.weight` and `.bias`), validating `config`.
    pub fn new(vb: VarBuilder, config: &DenseConfig) -> candle_core::Result<Self> {
        config.validate().map_err(candle_core::Error::msg)?;
        let layers = config
            .sizes
            .windows(2)
            .enumerate()
            .map(|(i, w)| candle_nn::linear(w[0], w[1], vb.pp(format!("layers.{i}"))))
            .collect::<candle_core::Result<_>>()?;
        Ok(Self {
            layers,
            activation: config.activation,
        })
    }
}

impl Module for Mlp {
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let mut xs = xs.clone();
        for (i, layer) in self.layers.iter().enumerate() {
            xs = layer.forward(&xs)?;
            if i + 1 < self.layers.len() {
                xs = match self.activation {
                    Activation::Relu => xs.relu()?,
                    Activation::Tanh => xs.tanh()?,
                    Activation::Sigmoid => candle_nn::ops::sigmoid(&xs)?,
                };
            }
        }
        Ok(xs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    #[test]
    fn forward_matches_a_hand_computed_network() {
        // One hidden layer of 2 relu units, 1 output.
        let dev = Device::Cpu;
        let tensors = std::collections::HashMap::from([
            (
                "layers.0.weight".to_string(),
                Tensor::new(&[[1f32, -1.0], [0.5, 0.5]], &dev).expect("w0"),
            ),
            (
                "layers.0.bias".to_string(),
                Tensor::new(&[0f32, 1.0], &dev).expect("b0"),
            ),
            (
                "layers.1.weight".to_string(),
                Tensor::new(&[[2f32, 3.0]], &dev).expect("w1"),
            ),
            (
                "layers.1.bias".to_string(),
                Tensor::new(&[-1f32], &dev).expect("b1"),
            ),
        ]);
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &dev);
        let config = DenseConfig {
            sizes: vec![2, 2, 1],
            activation: Activation::Relu,
        };
        let mlp = Mlp::new(vb, &config).expect("mlp");
        let x = Tensor::new(&[[1f32, 3.0], [3.0, 1.0]], &dev).expect("x");
        let y = mlp.forward(&x).expect("y").to_vec2::<f32>().expect("vec");
        // Row 1: h = relu([-2, 3]) = [0, 3] → 9 - 1 = 8. Row 2: h = [2, 3] → 4 + 9 - 1 = 12.
        assert_eq!(y, vec![vec![8.0], vec![12.0]]);
    }

    #[test]
    fn bad_sizes_are_refused() {
        for sizes in [vec![], vec![3], vec![3, 0, 1]] {
            let config = DenseConfig {
                sizes,
                activation: Activation::Relu,
            };
            assert!(config.validate().is_err());
        }
    }
}
