//! [`AdamW`]: Adam with decoupled weight decay (Loshchilov and Hutter, 2019),
//! written here rather than taken from candle so that its moments can be
//! saved in a checkpoint and restored.
//!
//! Which tensors decay: every tensor of rank two or more (the weight
//! matrices and the embeddings, tied or not); biases and norm gains (rank
//! one) never do, as in GPT-2 and nanoGPT.

use std::collections::HashMap;

use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};

use super::TrainingError;

/// AdamW's hyper-parameters; the learning rate is the schedule's peak.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamWConfig {
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Decay of the first moment.
    pub beta1: f64,
    /// Decay of the second moment.
    pub beta2: f64,
    /// Added to the root of the second moment.
    pub epsilon: f64,
    /// Decoupled weight decay, multiplied by the learning rate.
    pub weight_decay: f64,
}

/// One trainable tensor and its moments.
struct Slot {
    name: String,
    variable: Var,
    first_moment: Tensor,
    second_moment: Tensor,
    decays: bool,
}

/// AdamW over a fixed, ordered list of named variables.
///
/// For gradient `g` (already multiplied by the clipping factor), step `t`
/// (from 1) and learning rate `lr`:
/// `m = b1 m + (1 - b1) g`, `v = b2 v + (1 - b2) g²`,
/// `w = w (1 - lr wd) - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)`,
/// with `wd = 0` for tensors that do not decay.
pub struct AdamW {
    config: AdamWConfig,
    slots: Vec<Slot>,
    steps: u64,
}

impl AdamW {
    /// An optimizer with zero moments for `parameters` (in this order).
    pub fn new(parameters: Vec<(String, Var)>, config: AdamWConfig) -> Result<Self, TrainingError> {
        let slots = parameters
            .into_iter()
            .map(|(name, variable)| {
                Ok(Slot {
                    first_moment: variable.as_tensor().zeros_like()?,
                    second_moment: variable.as_tensor().zeros_like()?,
                    decays: variable.rank() >= 2,
                    name,
                    variable,
                })
            })
            .collect::<Result<Vec<_>, TrainingError>>()?;
        Ok(AdamW {
            config,
            slots,
            steps: 0,
        })
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Whether the tensor called `name` decays; `None` for unknown names.
    pub fn decays(&self, name: &str) -> Option<bool> {
        self.slots
            .iter()
            .find(|slot| slot.name == name)
            .map(|slot| slot.decays)
    }

    /// The variables, in the optimizer's order.
    pub fn variables(&self) -> impl Iterator<Item = (&str, &Var)> {
        self.slots
            .iter()
            .map(|slot| (slot.name.as_str(), &slot.variable))
    }

    /// Applies one step with `gradients` (one per variable, in order), each
    /// multiplied by `gradient_factor` first, at `learning_rate`.
    pub fn step(
        &mut self,
        gradients: &[Tensor],
        learning_rate: f64,
        gradient_factor: f64,
    ) -> Result<(), TrainingError> {
        if gradients.len() != self.slots.len() {
            return Err(TrainingError::InvalidConfig {
                field: "gradients",
                reason: format!(
                    "{} gradients for {} weights",
                    gradients.len(),
                    self.slots.len()
                ),
            });
        }
        self.steps += 1;
        let AdamWConfig {
            beta1,
            beta2,
            epsilon,
            weight_decay,
            ..
        } = self.config;
        let exponent = i32::try_from(self.steps).unwrap_or(i32::MAX);
        let first_correction = 1.0 - beta1.powi(exponent);
        let second_correction = 1.0 - beta2.powi(exponent);
        for (slot, gradient) in self.slots.iter_mut().zip(gradients) {
            let gradient = if gradient_factor == 1.0 {
                gradient.clone()
            } else {
                (gradient * gradient_factor)?
            };
            slot.first_moment = ((&slot.first_moment * beta1)? + (&gradient * (1.0 - beta1))?)?;
            slot.second_moment =
                ((&slot.second_moment * beta2)? + (gradient.sqr()? * (1.0 - beta2))?)?;
            let denominator = ((&slot.second_moment / second_correction)?.sqrt()? + epsilon)?;
            let update = ((&slot.first_moment / first_correction)? / denominator)?;
            let decay = if slot.decays { weight_decay } else { 0.0 };
            let weights = slot.variable.as_tensor();
            let decayed = if decay == 0.0 {
                weights.clone()
            } else {
                (weights * (1.0 - learning_rate * decay))?
            };
            slot.variable.set(&(decayed - (update * learning_rate)?)?)?;
        }
        Ok(())
    }

    /// The moments as named tensors: `first_moment.<name>` and
    /// `second_moment.<name>`.
    pub fn moments(&self) -> Vec<(String, Tensor)> {
        let mut named = Vec::with_capacity(2 * self.slots.len());
        for slot in &self.slots {
            named.push((
                format!("first_moment.{}", slot.name),
                slot.first_moment.clone(),
            ));
            named.push((
                format!("second_moment.{}", slot.name),
                slot.second_moment.clone(),
            ));
        }
        named
    }

    /// Restores the moments (as named by [`AdamW::moments`]) and the step
    /// count; `source` names the file for errors.
    pub fn restore(
        &mut self,
        moments: &HashMap<String, Tensor>,
        steps: u64,
        source: &std::path::Path,
    ) -> Result<(), TrainingError> {
        for slot in &mut self.slots {
            for (prefix, target) in [
                ("first_moment", &mut slot.first_moment),
                ("second_moment", &mut slot.second_moment),
            ] {
                let name = format!("{prefix}.{}", slot.name);
                let Some(tensor) = moments.get(&name) else {
                    return Err(TrainingError::MalformedCheckpoint {
                        path: source.to_path_buf(),
                        reason: format!("moment `{name}` is missing"),
                    });
                };
                if tensor.dims() != slot.variable.dims() {
                    return Err(TrainingError::MalformedCheckpoint {
                        path: source.to_path_buf(),
                        reason: format!("moment `{name}` has shape {:?}", tensor.dims()),
                    });
                }
                *target = tensor.clone();
            }
        }
        self.steps = steps;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn values(tensor: &Tensor) -> Vec<f32> {
        tensor.flatten_all().unwrap().to_vec1().unwrap()
    }

    #[test]
    fn two_steps_match_hand_computed_values_and_only_matrices_decay() {
        let config = AdamWConfig {
            learning_rate: 0.1,
            beta1: 0.9,
            beta2: 0.99,
            epsilon: 1e-8,
            weight_decay: 0.5,
        };
        let matrix = Var::new(&[[1.0f32, -2.0]], &Device::Cpu).unwrap();
        let vector = Var::new(&[1.0f32, -2.0], &Device::Cpu).unwrap();
        let mut optimizer = AdamW::new(
            vec![
                ("matrix".into(), matrix.clone()),
                ("vector".into(), vector.clone()),
            ],
            config,
        )
        .unwrap();
        assert_eq!(optimizer.decays("matrix"), Some(true));
        assert_eq!(optimizer.decays("vector"), Some(false));
        let gradient_matrix = Tensor::new(&[[0.5f32, 2.0]], &Device::Cpu).unwrap();
        let gradient_vector = Tensor::new(&[0.5f32, 2.0], &Device::Cpu).unwrap();
        // Step 1: m = 0.1 g, v = 0.01 g², the corrected ratio is sign(g).
        // Matrix: w (1 - 0.1 * 0.5) - 0.1 sign(g) = [0.85, -2.0]; vector [0.9, -2.1].
        optimizer
            .step(
                &[gradient_matrix.clone(), gradient_vector.clone()],
                0.1,
                1.0,
            )
            .unwrap();
        let first_matrix = values(matrix.as_tensor());
        let first_vector = values(vector.as_tensor());
        for (found, expected) in first_matrix.iter().zip([0.85f32, -2.0]) {
            assert!((found - expected).abs() < 1e-6, "{first_matrix:?}");
        }
        for (found, expected) in first_vector.iter().zip([0.9f32, -2.1]) {
            assert!((found - expected).abs() < 1e-6, "{first_vector:?}");
        }
        // Step 2 with the gradient halved by a clipping factor of 0.5 and
        // a learning rate of 0.05, computed in f64 by hand.
        optimizer
            .step(&[gradient_matrix, gradient_vector], 0.05, 0.5)
            .unwrap();
        for (index, gradient) in [0.5f64, 2.0].into_iter().enumerate() {
            let clipped = gradient * 0.5;
            let m = 0.9 * (0.1 * gradient) + 0.1 * clipped;
            let v = 0.99 * (0.01 * gradient * gradient) + 0.01 * clipped * clipped;
            let update = (m / (1.0 - 0.81)) / ((v / (1.0 - 0.9801)).sqrt() + 1e-8);
            let matrix_expected =
                f64::from(first_matrix[index]) * (1.0 - 0.05 * 0.5) - 0.05 * update;
            let vector_expected = f64::from(first_vector[index]) - 0.05 * update;
            let matrix_found = f64::from(values(matrix.as_tensor())[index]);
            let vector_found = f64::from(values(vector.as_tensor())[index]);
            assert!(
                (matrix_found - matrix_expected).abs() < 1e-6,
                "{matrix_found} vs {matrix_expected}"
            );
            assert!(
                (vector_found - vector_expected).abs() < 1e-6,
                "{vector_found} vs {vector_expected}"
            );
        }
        assert_eq!(optimizer.steps(), 2);
    }
}
