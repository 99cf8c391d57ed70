//! Advantages: GAE for PPO, group-normalised for GRPO, the group-mean
//! baseline for REINFORCE, and returns-to-go of per-token rewards.
//!
//! Plain functions over `f64` slices, so that each is tested against hand
//! computed values; the stage turns their results into tensors.

/// Generalised advantage estimation (Schulman et al., 2016) over one
/// completion: `delta_t = r_t + gamma V_{t+1} - V_t` (with `V_T = 0` after
/// the last token) and `A_t = delta_t + gamma lambda A_{t+1}`. Returns the
/// advantages and the value targets `A_t + V_t`.
pub fn generalized_advantages(
    rewards: &[f64],
    values: &[f64],
    gamma: f64,
    lambda: f64,
) -> (Vec<f64>, Vec<f64>) {
    let length = rewards.len().min(values.len());
    let mut advantages = vec![0.0; length];
    let mut next_value = 0.0;
    let mut next_advantage = 0.0;
    for index in (0..length).rev() {
        let delta = rewards[index] + gamma * next_value - values[index];
        next_advantage = delta + gamma * lambda * next_advantage;
        advantages[index] = next_advantage;
        next_value = values[index];
    }
    let returns = advantages
        .iter()
        .zip(values)
        .map(|(advantage, value)| advantage + value)
        .collect();
    (advantages, returns)
}

/// GRPO's advantage of each reward of one prompt's group:
/// `(r - mean) / std` with the population standard deviation; 0 for every
/// sample when the standard deviation is 0 (all rewards equal).
pub fn group_normalized(rewards: &[f64]) -> Vec<f64> {
    if rewards.is_empty() {
        return Vec::new();
    }
    let count = rewards.len() as f64;
    let mean = rewards.iter().sum::<f64>() / count;
    let variance = rewards
        .iter()
        .map(|reward| (reward - mean) * (reward - mean))
        .sum::<f64>()
        / count;
    let deviation = variance.sqrt();
    rewards
        .iter()
        .map(|reward| {
            if deviation > 1e-12 {
                (reward - mean) / deviation
            } else {
                0.0
            }
        })
        .collect()
}

/// REINFORCE's advantage with the group mean as baseline: `r - mean`.
pub fn group_baseline(rewards: &[f64]) -> Vec<f64> {
    if rewards.is_empty() {
        return Vec::new();
    }
    let mean = rewards.iter().sum::<f64>() / rewards.len() as f64;
    rewards.iter().map(|reward| reward - mean).collect()
}

/// The discounted sum of the rewards from each token on:
/// `G_t = r_t + gamma G_{t+1}`.
pub fn returns_to_go(rewards: &[f64], gamma: f64) -> Vec<f64> {
    let mut returns = vec![0.0; rewards.len()];
    let mut next = 0.0;
    for index in (0..rewards.len()).rev() {
        next = rewards[index] + gamma * next;
        returns[index] = next;
    }
    returns
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(found: &[f64], expected: &[f64]) {
        assert_eq!(found.len(), expected.len());
        for (found, expected) in found.iter().zip(expected) {
            assert!((found - expected).abs() < 1e-12, "{found} vs {expected}");
        }
    }

    #[test]
    fn gae_matches_a_hand_computation() {
        // rewards [0, 0, 1], values [0.5, 0.6, 0.7], gamma 1, lambda 0.5:
        // deltas: 0 + 0.6 - 0.5 = 0.1, 0 + 0.7 - 0.6 = 0.1, 1 + 0 - 0.7 = 0.3;
        // A2 = 0.3, A1 = 0.1 + 0.5 * 0.3 = 0.25, A0 = 0.1 + 0.5 * 0.25 = 0.225.
        let (advantages, returns) =
            generalized_advantages(&[0.0, 0.0, 1.0], &[0.5, 0.6, 0.7], 1.0, 0.5);
        close(&advantages, &[0.225, 0.25, 0.3]);
        close(&returns, &[0.725, 0.85, 1.0]);
        // lambda 1, gamma 1: A_t = (sum of rewards from t) - V_t.
        let (advantages, _) = generalized_advantages(&[0.0, -0.1, 1.0], &[0.2, 0.3, 0.4], 1.0, 1.0);
        close(&advantages, &[0.9 - 0.2, 0.9 - 0.3, 1.0 - 0.4]);
        // gamma 0.5, lambda 0 gives one-step TD errors.
        let (advantages, _) = generalized_advantages(&[1.0, 2.0], &[0.5, 0.25], 0.5, 0.0);
        close(&advantages, &[1.0 + 0.125 - 0.5, 2.0 - 0.25]);
    }

    #[test]
    fn group_advantages_match_hand_computations() {
        // mean 0.5, population std 0.5.
        close(
            &group_normalized(&[1.0, 0.0, 1.0, 0.0]),
            &[1.0, -1.0, 1.0, -1.0],
        );
        // mean 0.25, std sqrt(0.1875).
        let deviation = 0.1875f64.sqrt();
        close(
            &group_normalized(&[1.0, 0.0, 0.0, 0.0]),
            &[
                0.75 / deviation,
                -0.25 / deviation,
                -0.25 / deviation,
                -0.25 / deviation,
            ],
        );
        close(&group_normalized(&[1.0, 1.0, 1.0]), &[0.0, 0.0, 0.0]);
        close(&group_normalized(&[0.0, 0.0]), &[0.0, 0.0]);
        close(
            &group_baseline(&[1.0, 0.0, 0.0, 0.0]),
            &[0.75, -0.25, -0.25, -0.25],
        );
        close(&returns_to_go(&[-0.1, -0.2, 1.0], 1.0), &[0.7, 0.8, 1.0]);
        close(&returns_to_go(&[1.0, 1.0], 0.5), &[1.5, 1.0]);
    }
}
