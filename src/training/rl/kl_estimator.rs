//! [`KlEstimator`] and [`KlPlacement`]: how the KL divergence between the
//! policy and the frozen reference is estimated per token, and where the
//! estimate enters training.
//!
//! With `p` the policy's and `q` the reference's probability of a token
//! sampled from `p`, and `log_ratio = log p - log q` (Schulman, "Approximating
//! KL divergence", 2020):
//! - k1 = `log_ratio`: unbiased for KL(p || q), high variance, can be negative;
//! - k2 = `0.5 log_ratio²`: biased (its expectation is KL only to second
//!   order), low variance, never negative;
//! - k3 = `q/p - 1 - log(q/p)`: unbiased and never negative.

use serde::{Deserialize, Serialize};

/// A per-token estimator of KL(policy || reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KlEstimator {
    /// `log p - log q`.
    K1,
    /// `0.5 (log p - log q)²`.
    K2,
    /// `(q/p) - 1 - log(q/p)`.
    K3,
}

impl KlEstimator {
    /// The estimate for one token from `log_ratio = log p - log q`.
    pub fn estimate(self, log_ratio: f64) -> f64 {
        match self {
            KlEstimator::K1 => log_ratio,
            KlEstimator::K2 => 0.5 * log_ratio * log_ratio,
            KlEstimator::K3 => (-log_ratio).exp() - 1.0 + log_ratio,
        }
    }

    /// The estimate as a tensor, elementwise, from `log_ratio` (so that a
    /// loss term built from it passes gradients to the policy).
    pub fn estimate_tensor(
        self,
        log_ratio: &candle_core::Tensor,
    ) -> candle_core::Result<candle_core::Tensor> {
        match self {
            KlEstimator::K1 => Ok(log_ratio.clone()),
            KlEstimator::K2 => log_ratio.sqr()? * 0.5,
            KlEstimator::K3 => ((crate::model::kernels::exponential(&log_ratio.neg()?)? - 1.0)?
                + log_ratio)?
                .contiguous(),
        }
    }
}

/// Where the KL penalty enters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KlPlacement {
    /// `coefficient * estimate` is subtracted from each token's reward
    /// (computed at rollout time, no gradient through it).
    Reward,
    /// `coefficient * mean estimate` is added to the loss (with gradient).
    Loss,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::Stream;

    /// Draws `count` tokens from `p` and averages each estimator.
    fn sampled_means(p: &[f64], q: &[f64], count: usize) -> [f64; 3] {
        let mut stream = Stream::new(99);
        let mut sums = [0.0; 3];
        for _ in 0..count {
            let uniform = stream.next_f64();
            let mut cumulative = 0.0;
            let mut token = p.len() - 1;
            for (index, probability) in p.iter().enumerate() {
                cumulative += probability;
                if uniform < cumulative {
                    token = index;
                    break;
                }
            }
            let log_ratio = p[token].ln() - q[token].ln();
            for (sum, estimator) in
                sums.iter_mut()
                    .zip([KlEstimator::K1, KlEstimator::K2, KlEstimator::K3])
            {
                *sum += estimator.estimate(log_ratio);
            }
        }
        sums.map(|sum| sum / count as f64)
    }

    #[test]
    fn k1_and_k3_are_unbiased_and_k2_has_its_known_bias() {
        let p = [0.7f64, 0.2, 0.1];
        let q = [0.1f64, 0.2, 0.7];
        let exact: f64 = p.iter().zip(&q).map(|(p, q)| p * (p / q).ln()).sum();
        // E_p[0.5 log²(p/q)], computed exactly: what k2 converges to.
        let k2_limit: f64 = p
            .iter()
            .zip(&q)
            .map(|(p, q)| 0.5 * p * (p / q).ln().powi(2))
            .sum();
        let [k1, k2, k3] = sampled_means(&p, &q, 200_000);
        assert!((k1 - exact).abs() < 0.02, "k1 {k1} vs {exact}");
        assert!((k3 - exact).abs() < 0.02, "k3 {k3} vs {exact}");
        assert!((k2 - k2_limit).abs() < 0.02, "k2 {k2} vs {k2_limit}");
        // For these distributions k2's bias is clearly visible.
        assert!((k2_limit - exact).abs() > 0.2, "{k2_limit} vs {exact}");
        // Close distributions: all three agree to second order.
        let near = [0.34f64, 0.33, 0.33];
        let third = [1.0f64 / 3.0; 3];
        let exact_near: f64 = near.iter().zip(&third).map(|(p, q)| p * (p / q).ln()).sum();
        let [_, k2_near, _] = sampled_means(&near, &third, 50_000);
        assert!((k2_near - exact_near).abs() < 1e-4);
    }

    #[test]
    fn estimates_match_hand_computed_values_and_tensors_agree() {
        let log_ratio = 0.5f64;
        assert_eq!(KlEstimator::K1.estimate(log_ratio), 0.5);
        assert_eq!(KlEstimator::K2.estimate(log_ratio), 0.125);
        let k3 = (-0.5f64).exp() - 1.0 + 0.5;
        assert!((KlEstimator::K3.estimate(log_ratio) - k3).abs() < 1e-15);
        assert_eq!(KlEstimator::K3.estimate(0.0), 0.0);
        let tensor = candle_core::Tensor::new(&[0.5f32, -1.0], &candle_core::Device::Cpu).unwrap();
        for estimator in [KlEstimator::K1, KlEstimator::K2, KlEstimator::K3] {
            let values: Vec<f32> = estimator
                .estimate_tensor(&tensor)
                .unwrap()
                .to_vec1()
                .unwrap();
            for (value, input) in values.iter().zip([0.5, -1.0]) {
                assert!((f64::from(*value) - estimator.estimate(input)).abs() < 1e-6);
            }
        }
    }
}
