//! The clipped surrogate objectives of PPO and GRPO, per token, and the
//! clipped value loss.
//!
//! Written once over tensors (what training differentiates) and once over
//! numbers (what the tests check by hand); a test ties the two together.

use candle_core::Tensor;

/// The policy loss of one token: `-min(ratio A, clip(ratio, 1 - eps, 1 + eps) A)`
/// with `ratio = exp(log_probability - old_log_probability)`.
pub fn clipped_policy_loss(log_ratio: f64, advantage: f64, clip: f64) -> f64 {
    let ratio = log_ratio.exp();
    let clipped = ratio.clamp(1.0 - clip, 1.0 + clip);
    -(ratio * advantage).min(clipped * advantage)
}

/// [`clipped_policy_loss`] elementwise: `log_ratio` and `advantages` are
/// tensors of one shape.
pub fn clipped_policy_loss_tensor(
    log_ratio: &Tensor,
    advantages: &Tensor,
    clip: f64,
) -> candle_core::Result<Tensor> {
    let ratio = crate::model::kernels::exponential(log_ratio)?;
    let clipped = ratio.clamp(1.0 - clip, 1.0 + clip)?;
    let unclipped_objective = (&ratio * advantages)?;
    let clipped_objective = (&clipped * advantages)?;
    unclipped_objective.minimum(&clipped_objective)?.neg()
}

/// PPO's clipped value loss of one token:
/// `0.5 max((V - R)², (V_old + clip(V - V_old, -c, c) - R)²)`.
pub fn clipped_value_loss(value: f64, old_value: f64, target: f64, clip: f64) -> f64 {
    let clipped = old_value + (value - old_value).clamp(-clip, clip);
    0.5 * (value - target).powi(2).max((clipped - target).powi(2))
}

/// [`clipped_value_loss`] elementwise.
pub fn clipped_value_loss_tensor(
    values: &Tensor,
    old_values: &Tensor,
    targets: &Tensor,
    clip: f64,
) -> candle_core::Result<Tensor> {
    let clipped = (old_values + (values - old_values)?.clamp(-clip, clip)?)?;
    let unclipped_loss = (values - targets)?.sqr()?;
    let clipped_loss = (clipped - targets)?.sqr()?;
    unclipped_loss.maximum(&clipped_loss)? * 0.5
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn the_ratio_is_clipped_only_where_it_would_gain() {
        let clip = 0.2;
        // Inside the range: the plain ratio times the advantage.
        let log_ratio = 1.1f64.ln();
        assert!((clipped_policy_loss(log_ratio, 2.0, clip) + 2.2).abs() < 1e-12);
        assert!((clipped_policy_loss(log_ratio, -2.0, clip) - 2.2).abs() < 1e-12);
        // Above 1 + eps with a positive advantage: clipped at 1.2.
        let high = 1.5f64.ln();
        assert!((clipped_policy_loss(high, 1.0, clip) + 1.2).abs() < 1e-12);
        // Above 1 + eps with a negative advantage: the ratio counts fully.
        assert!((clipped_policy_loss(high, -1.0, clip) - 1.5).abs() < 1e-12);
        // Below 1 - eps with a negative advantage: clipped at 0.8.
        let low = 0.5f64.ln();
        assert!((clipped_policy_loss(low, -1.0, clip) - 0.8).abs() < 1e-12);
        // Below 1 - eps with a positive advantage: the ratio counts.
        assert!((clipped_policy_loss(low, 1.0, clip) + 0.5).abs() < 1e-12);
    }

    #[test]
    fn the_value_loss_takes_the_worse_of_clipped_and_unclipped() {
        // V moved from 0 to 0.5, target 1, clip 0.2: clipped V = 0.2.
        // unclipped (0.5 - 1)² = 0.25, clipped (0.2 - 1)² = 0.64.
        assert!((clipped_value_loss(0.5, 0.0, 1.0, 0.2) - 0.32).abs() < 1e-12);
        // Inside the clip range both agree.
        assert!((clipped_value_loss(0.1, 0.0, 1.0, 0.2) - 0.405).abs() < 1e-12);
    }

    #[test]
    fn tensor_forms_agree_with_the_scalar_forms() {
        let log_ratios = [1.1f64.ln(), 1.5f64.ln(), 0.5f64.ln(), 0.0];
        let advantages = [2.0, -1.0, 1.0, -0.5];
        let to_tensor = |values: &[f64]| {
            let values: Vec<f32> = values.iter().map(|value| *value as f32).collect();
            Tensor::new(values.as_slice(), &Device::Cpu).unwrap()
        };
        let losses: Vec<f32> =
            clipped_policy_loss_tensor(&to_tensor(&log_ratios), &to_tensor(&advantages), 0.2)
                .unwrap()
                .to_vec1()
                .unwrap();
        for ((loss, log_ratio), advantage) in losses.iter().zip(log_ratios).zip(advantages) {
            let expected = clipped_policy_loss(log_ratio, advantage, 0.2);
            assert!((f64::from(*loss) - expected).abs() < 1e-5);
        }
        let values = [0.5, 0.1, -0.4];
        let old = [0.0, 0.0, 0.0];
        let targets = [1.0, 1.0, 0.0];
        let found: Vec<f32> = clipped_value_loss_tensor(
            &to_tensor(&values),
            &to_tensor(&old),
            &to_tensor(&targets),
            0.2,
        )
        .unwrap()
        .to_vec1()
        .unwrap();
        for index in 0..3 {
            let expected = clipped_value_loss(values[index], old[index], targets[index], 0.2);
            assert!((f64::from(found[index]) - expected).abs() < 1e-6);
        }
    }
}
