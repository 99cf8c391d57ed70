//! [`Advantages`]: what each algorithm makes of a graded rollout, per
//! completion token, from the plain functions of `advantages.rs`.

use super::advantages::{generalized_advantages, group_baseline, group_normalized, returns_to_go};
use super::rollout::Rollout;
use super::{Algorithm, KlEstimator, KlPlacement};

/// Per sequence, per completion token: the advantage, and for PPO the value
/// target.
pub(super) struct Advantages {
    pub(super) advantages: Vec<Vec<f64>>,
    pub(super) returns: Vec<Vec<f64>>,
}

impl Advantages {
    /// The advantages of `rollout`'s completion tokens under `algorithm`: PPO's
    /// GAE over per-token rewards (the KL penalty on each token when it is in
    /// the reward, the correctness reward on the last), GRPO's group-normalised
    /// sequence reward, REINFORCE's (and Expert Iteration's) group-baseline
    /// reward as returns-to-go.
    pub(super) fn of(
        algorithm: &Algorithm,
        rollout: &Rollout,
        kl_coefficient: f64,
        estimator: KlEstimator,
        placement: KlPlacement,
    ) -> Advantages {
        let count = rollout.sequences.len();
        // The per-token KL penalty in the reward (none when it is in the loss).
        let penalties: Vec<Vec<f64>> = (0..count)
            .map(|index| match placement {
                KlPlacement::Reward => rollout.old_log_probabilities[index]
                    .iter()
                    .zip(&rollout.reference_log_probabilities[index])
                    .map(|(p, q)| kl_coefficient * estimator.estimate(p - q))
                    .collect(),
                KlPlacement::Loss => vec![0.0; rollout.sequences[index].completion_length()],
            })
            .collect();
        let group_count = rollout.groups.iter().max().map_or(0, |last| last + 1);
        let members = |group: usize| -> Vec<usize> {
            (0..count)
                .filter(|&index| rollout.groups[index] == group)
                .collect()
        };
        let mut advantages = vec![Vec::new(); count];
        let mut returns = vec![Vec::new(); count];
        match algorithm {
            Algorithm::Ppo {
                gae_lambda, gamma, ..
            } => {
                for index in 0..count {
                    let mut rewards: Vec<f64> = penalties[index].iter().map(|kl| -kl).collect();
                    if let Some(last) = rewards.last_mut() {
                        *last += rollout.rewards[index];
                    }
                    let (advantage, target) = generalized_advantages(
                        &rewards,
                        &rollout.old_values[index],
                        *gamma,
                        *gae_lambda,
                    );
                    advantages[index] = advantage;
                    returns[index] = target;
                }
            }
            Algorithm::Grpo { .. } => {
                for group in 0..group_count {
                    let indices = members(group);
                    let rewards: Vec<f64> = indices
                        .iter()
                        .map(|&index| rollout.rewards[index] - penalties[index].iter().sum::<f64>())
                        .collect();
                    for (&index, advantage) in indices.iter().zip(group_normalized(&rewards)) {
                        advantages[index] = vec![advantage; penalties[index].len()];
                    }
                }
            }
            Algorithm::Reinforce | Algorithm::ExpertIteration { .. } => {
                for group in 0..group_count {
                    let indices = members(group);
                    let rewards: Vec<f64> = indices
                        .iter()
                        .map(|&index| rollout.rewards[index])
                        .collect();
                    for (&index, centred) in indices.iter().zip(group_baseline(&rewards)) {
                        let mut shaped: Vec<f64> = penalties[index].iter().map(|kl| -kl).collect();
                        if let Some(last) = shaped.last_mut() {
                            *last += centred;
                        }
                        advantages[index] = returns_to_go(&shaped, 1.0);
                    }
                }
            }
        }
        Advantages {
            advantages,
            returns,
        }
    }
}
