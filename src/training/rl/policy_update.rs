//! The update of PPO, GRPO and REINFORCE: passes over a rollout with the
//! algorithm's advantages and loss ([`update_policy`]), and the gradient bookkeeping every RL update shares:
//! gradients summed over micro-batches in a fixed order ([`accumulate`]),
//! then clipped and applied ([`apply`]).

use candle_core::Tensor;

use super::clipped_objective::{clipped_policy_loss_tensor, clipped_value_loss_tensor};
use super::rl_metrics::AdvantageStatistics;
use super::rollout::Rollout;
use super::step_advantages::Advantages;
use super::{
    Algorithm, KlEstimator, KlPlacement, MicroBatch, RlError, TrainingSequence, ValueHead,
};
use crate::model::Gpt;
use crate::training::{clip_factor, global_norm, AdamW};

/// Sums of the loss terms over one pass.
#[derive(Default, Clone, Copy)]
pub(super) struct LossTerms {
    pub(super) total: f64,
    pub(super) policy: f64,
    pub(super) kl: f64,
    pub(super) value: f64,
}

/// What an update reports of itself: its first pass's loss terms (per
/// completion token) and gradient norm before clipping, and the
/// advantages it weighted the tokens with.
pub(super) struct UpdateOutcome {
    pub(super) terms: LossTerms,
    pub(super) gradient_norm: f64,
    pub(super) advantages: AdvantageStatistics,
}

/// What one optimisation pass of PPO, GRPO or REINFORCE needs.
pub(super) struct PolicyUpdate<'a> {
    pub(super) algorithm: &'a Algorithm,
    pub(super) model: &'a Gpt,
    pub(super) value_head: Option<&'a ValueHead>,
    pub(super) kl_coefficient: f64,
    pub(super) estimator: KlEstimator,
    pub(super) placement: KlPlacement,
    pub(super) learning_rate: f64,
    pub(super) gradient_clip: Option<f64>,
    /// The step being taken (from 1), for errors.
    pub(super) step: u64,
    /// The optimizer's variables' names, in its order.
    pub(super) names: &'a [String],
}

/// The policy-gradient update of one step: the rollout's advantages, then
/// `epochs` passes over the rollout (PPO's and GRPO's setting; one for
/// REINFORCE), each one optimizer step. Returns the first pass's mean loss
/// terms per completion token and its gradient norm. If the rollout's
/// policy log-probabilities were left to the update
/// ([`Rollout::measure`]), the first pass fills them from its own forward
/// pass, before the weights change.
pub(super) fn update_policy(
    update: &PolicyUpdate,
    rollout: &mut Rollout,
    batches: &[MicroBatch],
    optimizer: &mut AdamW,
) -> Result<UpdateOutcome, RlError> {
    let advantages = Advantages::of(
        update.algorithm,
        rollout,
        update.kl_coefficient,
        update.estimator,
        update.placement,
    );
    let statistics = AdvantageStatistics::of(advantages.advantages.iter().flatten());
    let epochs = match update.algorithm {
        Algorithm::Ppo { epochs, .. } | Algorithm::Grpo { epochs, .. } => *epochs,
        _ => 1,
    };
    let mut first = (LossTerms::default(), 0.0);
    for epoch in 0..epochs {
        let outcome = one_pass(update, rollout, &advantages, batches, optimizer)?;
        if epoch == 0 {
            first = outcome;
        }
    }
    Ok(UpdateOutcome {
        terms: first.0,
        gradient_norm: first.1,
        advantages: statistics,
    })
}

/// One pass over the rollout, one optimizer step; returns the mean loss
/// terms per completion token and the gradient norm.
fn one_pass(
    update: &PolicyUpdate,
    rollout: &mut Rollout,
    advantages: &Advantages,
    batches: &[MicroBatch],
    optimizer: &mut AdamW,
) -> Result<(LossTerms, f64), RlError> {
    let Some((terms, gradients)) = pass_gradients(update, rollout, advantages, batches, optimizer)?
    else {
        return Ok((LossTerms::default(), 0.0));
    };
    let norm = apply(
        gradients,
        optimizer,
        update.learning_rate,
        update.gradient_clip,
        update.step,
        update.names,
    )?;
    Ok((terms, norm))
}

/// Each optimizer variable's gradient, summed over micro-batches.
type Gradients = Vec<Option<Tensor>>;

/// The loss of one pass over the rollout and its gradients, summed over
/// the micro-batches in their order (in the optimizer's variable order);
/// `None` when the rollout has no completion token.
fn pass_gradients(
    update: &PolicyUpdate,
    rollout: &mut Rollout,
    advantages: &Advantages,
    batches: &[MicroBatch],
    optimizer: &AdamW,
) -> Result<Option<(LossTerms, Gradients)>, RlError> {
    let total_tokens: usize = rollout
        .sequences
        .iter()
        .map(TrainingSequence::completion_length)
        .sum();
    if total_tokens == 0 {
        return Ok(None);
    }
    let scale = 1.0 / total_tokens as f64;
    let mut terms = LossTerms::default();
    let mut gradients: Gradients = vec![None; update.names.len()];
    for batch in batches {
        let output = batch.forward(update.model, update.value_head)?;
        if !rollout.policy_measured {
            let rows = batch.gather(&output.log_probabilities.detach())?;
            for (&index, row) in batch.rows.iter().zip(rows) {
                rollout.old_log_probabilities[index] = row;
            }
        }
        let old = batch.scatter(&rollout.old_log_probabilities)?;
        let advantage = batch.scatter(&advantages.advantages)?;
        let log_ratio = (&output.log_probabilities - &old)?;
        let policy_tokens = match update.algorithm {
            Algorithm::Ppo { clip, .. } | Algorithm::Grpo { clip, .. } => {
                clipped_policy_loss_tensor(&log_ratio, &advantage, *clip)?
            }
            _ => (crate::model::kernels::exponential(&log_ratio)? * &advantage)?.neg()?,
        };
        let mut loss_tokens = policy_tokens.clone();
        let masked_sum = |tensor: &Tensor| -> Result<f64, RlError> {
            Ok(f64::from((tensor * &batch.mask)?.sum_all()?.to_scalar::<f32>()?) * scale)
        };
        terms.policy += masked_sum(&policy_tokens.detach())?;
        if update.placement == KlPlacement::Loss && update.kl_coefficient > 0.0 {
            let reference = batch.scatter(&rollout.reference_log_probabilities)?;
            let kl_tokens = (update
                .estimator
                .estimate_tensor(&(&output.log_probabilities - &reference)?)?
                * update.kl_coefficient)?;
            terms.kl += masked_sum(&kl_tokens.detach())?;
            loss_tokens = (loss_tokens + kl_tokens)?;
        }
        if let (
            Algorithm::Ppo {
                value_clip,
                value_coefficient,
                ..
            },
            Some(values),
        ) = (update.algorithm, &output.values)
        {
            let old_values = batch.scatter(&rollout.old_values)?;
            let targets = batch.scatter(&advantages.returns)?;
            let value_tokens =
                clipped_value_loss_tensor(values, &old_values, &targets, *value_clip)?;
            terms.value += masked_sum(&value_tokens.detach())?;
            loss_tokens = (loss_tokens + (value_tokens * *value_coefficient)?)?;
        }
        let loss = ((loss_tokens * &batch.mask)?.sum_all()? * scale)?;
        let loss_value = f64::from(loss.to_scalar::<f32>()?);
        if !loss_value.is_finite() {
            return Err(RlError::NonFiniteLoss {
                step: update.step,
                loss: loss_value,
            });
        }
        terms.total += loss_value;
        accumulate(&mut gradients, &loss, optimizer, update.names)?;
    }
    rollout.policy_measured = true;
    Ok(Some((terms, gradients)))
}

/// Adds the gradients of `loss` to `gradients`, in the optimizer's order.
pub(super) fn accumulate(
    gradients: &mut [Option<Tensor>],
    loss: &Tensor,
    optimizer: &AdamW,
    names: &[String],
) -> Result<(), RlError> {
    let store = loss.backward()?;
    for ((slot, (_, variable)), name) in gradients.iter_mut().zip(optimizer.variables()).zip(names)
    {
        let Some(gradient) = store.get(variable.as_tensor()) else {
            return Err(RlError::MissingGradient { name: name.clone() });
        };
        *slot = Some(match slot.take() {
            Some(sum) => (sum + gradient)?,
            None => gradient.clone(),
        });
    }
    Ok(())
}

/// Clips and applies summed gradients; returns the norm before clipping.
pub(super) fn apply(
    gradients: Vec<Option<Tensor>>,
    optimizer: &mut AdamW,
    learning_rate: f64,
    gradient_clip: Option<f64>,
    step: u64,
    names: &[String],
) -> Result<f64, RlError> {
    let gradients = gradients
        .into_iter()
        .zip(names)
        .map(|(gradient, name)| {
            gradient.ok_or_else(|| RlError::MissingGradient { name: name.clone() })
        })
        .collect::<Result<Vec<Tensor>, RlError>>()?;
    let norm = global_norm(&gradients)?;
    if !norm.is_finite() {
        return Err(RlError::NonFiniteGradient { step, norm });
    }
    optimizer.step(&gradients, learning_rate, clip_factor(norm, gradient_clip))?;
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;
    use crate::model::{Gpt, ModelConfig};
    use crate::random::Stream;
    use crate::training::AdamWConfig;

    /// The `tiny` preset with a context of 24.
    fn tiny_model() -> ModelConfig {
        let mut config = ModelConfig::preset("tiny").unwrap();
        config.context = 24;
        config
    }

    /// Every weight's bits, in the order of the named parameters.
    fn weight_bits(parameters: &crate::model::Parameters) -> Vec<u32> {
        parameters
            .named()
            .unwrap()
            .iter()
            .flat_map(|(_, variable)| {
                variable
                    .as_tensor()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
            })
            .map(f32::to_bits)
            .collect()
    }

    /// One GRPO update (KL in the loss) of a seeded model on a fixed
    /// rollout; `policy_before_update` says whether the rollout measures
    /// the policy's log-probabilities first or leaves them to the update.
    /// Returns those log-probabilities and the updated weights' bits.
    fn grpo_update(policy_before_update: bool) -> (Vec<Vec<f64>>, Vec<u32>) {
        let config = tiny_model();
        let stream = Stream::new(11);
        let (model, parameters) = Gpt::initialize(&config, 30, &stream, &Device::Cpu).unwrap();
        let (reference, _) = Gpt::initialize(&config, 30, &stream, &Device::Cpu).unwrap();
        let prompts = [vec![3u32, 4, 5], vec![6, 7]];
        let completions = [
            vec![8u32, 9, 1],
            vec![10, 1],
            vec![11, 12, 13, 1],
            vec![14, 1],
        ];
        let mut rollout = Rollout::for_tests(
            completions
                .iter()
                .enumerate()
                .map(|(index, completion)| TrainingSequence::new(&prompts[index / 2], completion))
                .collect(),
            vec![0, 0, 1, 1],
            vec![1.0, 0.0, 0.0, 1.0],
        );
        let batches = MicroBatch::plan(&rollout.sequences, 1).unwrap();
        rollout
            .measure(&batches, &model, &reference, None, policy_before_update)
            .unwrap();
        let variables = parameters.named().unwrap();
        let names: Vec<String> = variables.iter().map(|(name, _)| name.clone()).collect();
        let mut optimizer = AdamW::new(
            variables,
            AdamWConfig {
                learning_rate: 1e-2,
                beta1: 0.9,
                beta2: 0.999,
                epsilon: 1e-8,
                weight_decay: 0.0,
            },
        )
        .unwrap();
        let algorithm = Algorithm::Grpo {
            clip: 0.2,
            epochs: 2,
        };
        update_policy(
            &PolicyUpdate {
                algorithm: &algorithm,
                model: &model,
                value_head: None,
                kl_coefficient: 0.1,
                estimator: KlEstimator::K3,
                placement: KlPlacement::Loss,
                learning_rate: 1e-2,
                gradient_clip: Some(1.0),
                step: 1,
                names: &names,
            },
            &mut rollout,
            &batches,
            &mut optimizer,
        )
        .unwrap();
        let weights = weight_bits(&parameters);
        (rollout.old_log_probabilities, weights)
    }

    /// The KL estimate of one token from its `log p - log q`, written out.
    fn estimate(estimator: KlEstimator, log_ratio: &Tensor) -> Tensor {
        match estimator {
            KlEstimator::K1 => log_ratio.clone(),
            KlEstimator::K2 => (log_ratio.sqr().unwrap() * 0.5).unwrap(),
            // q/p - 1 - log(q/p), with log(q/p) = -log_ratio.
            KlEstimator::K3 => {
                ((log_ratio.neg().unwrap().exp().unwrap() - 1.0).unwrap() + log_ratio).unwrap()
            }
        }
    }

    /// What the written-out reference needs of one case.
    struct ReferenceCase<'a> {
        algorithm: &'a Algorithm,
        model: &'a Gpt,
        reference: &'a Gpt,
        value_head: Option<&'a ValueHead>,
        variables: &'a [(String, candle_core::Var)],
        beta: f64,
        estimator: KlEstimator,
        placement: KlPlacement,
    }

    /// An algorithm's first-pass loss and gradient written out the
    /// plainest way, one sequence at a time: each sequence through
    /// `Gpt::hidden_states` and `Gpt::logits` alone, a log-softmax of
    /// primitive operations, PPO's values as `hidden . w + b`; per token
    /// the KL estimate `k_t` of `log p - log q`. Advantages, in `f64`:
    /// - GRPO: per group `(R - mean) / std` (population std, 0 when it is
    ///   0) of `R = r - beta sum_t k_t` (reward placement) or `r`, the same
    ///   for every token;
    /// - REINFORCE: token rewards `-beta k_t` (reward placement) plus
    ///   `r - mean_group(r)` at the last token, summed from each token on;
    /// - PPO: token rewards as REINFORCE's but with `r` itself at the last
    ///   token, `delta_t = r_t + gamma V_{t+1} - V_t` (`V_T = 0`),
    ///   `A_t = delta_t + gamma lambda A_{t+1}`, targets `A_t + V_t`.
    ///
    /// Loss per completion token: `-A exp(log p - stop_gradient(log p))`,
    /// plus `beta k_t` (loss placement), plus for PPO
    /// `value_coefficient * 0.5 (V - target)^2`; summed over every
    /// completion token and divided by their number. (In the first pass the
    /// ratio is 1 and the values are the old ones, so the clipped terms
    /// equal these, gradient included.) Returns the loss and the gradient of
    /// every variable, in `variables`' order.
    fn written_out_reference(case: &ReferenceCase, rollout: &Rollout) -> (f64, Vec<Vec<f32>>) {
        use candle_core::D;
        // Per completion token: the log-probability (with gradient) and,
        // with a value head, the value (with gradient).
        let forward = |network: &Gpt,
                       head: Option<&ValueHead>,
                       sequence: &TrainingSequence|
         -> (Tensor, Option<Tensor>) {
            let tokens = &sequence.tokens;
            let inputs = Tensor::new(&tokens[..tokens.len() - 1], &Device::Cpu)
                .unwrap()
                .unsqueeze(0)
                .unwrap();
            let hidden = network.hidden_states(&inputs).unwrap();
            let logits = network.logits(&hidden).unwrap().squeeze(0).unwrap();
            let maximum = logits.max_keepdim(D::Minus1).unwrap().detach();
            let shifted = logits.broadcast_sub(&maximum).unwrap();
            let normaliser = shifted
                .exp()
                .unwrap()
                .sum_keepdim(D::Minus1)
                .unwrap()
                .log()
                .unwrap();
            let all = shifted.broadcast_sub(&normaliser).unwrap();
            let targets = Tensor::new(&tokens[1..], &Device::Cpu)
                .unwrap()
                .unsqueeze(1)
                .unwrap();
            let picked = all.gather(&targets, 1).unwrap().squeeze(1).unwrap();
            // Completion tokens only: those after the prompt.
            let start = sequence.prompt_length - 1;
            let count = tokens.len() - 1 - start;
            let values = head.map(|head| {
                let hidden = hidden.squeeze(0).unwrap();
                let weight = head.named()[1].1.as_tensor().clone();
                let bias = head.named()[0].1.as_tensor().clone();
                hidden
                    .matmul(&weight.t().unwrap())
                    .unwrap()
                    .broadcast_add(&bias)
                    .unwrap()
                    .squeeze(1)
                    .unwrap()
                    .narrow(0, start, count)
                    .unwrap()
            });
            (picked.narrow(0, start, count).unwrap(), values)
        };
        let numbers = |tensor: &Tensor| -> Vec<f64> {
            tensor
                .to_vec1::<f32>()
                .unwrap()
                .into_iter()
                .map(f64::from)
                .collect()
        };
        let count = rollout.sequences.len();
        let beta = case.beta;
        let reward_placement = case.placement == KlPlacement::Reward;
        // Per sequence: log p, log p - log q, values; the penalties
        // `beta k_t` in the reward (0 with loss placement).
        let mut policy = Vec::new();
        let mut penalties: Vec<Vec<f64>> = Vec::new();
        for sequence in &rollout.sequences {
            let (p, values) = forward(case.model, case.value_head, sequence);
            let (q, _) = forward(case.reference, None, sequence);
            let log_ratio = (&p - &q.detach()).unwrap();
            let k = numbers(&estimate(case.estimator, &log_ratio.detach()));
            penalties.push(
                k.iter()
                    .map(|k| if reward_placement { beta * k } else { 0.0 })
                    .collect(),
            );
            policy.push((p, log_ratio, values));
        }
        let groups = rollout.groups.iter().max().unwrap() + 1;
        let members = |group: usize| -> Vec<usize> {
            (0..count).filter(|&i| rollout.groups[i] == group).collect()
        };
        let mut advantages: Vec<Vec<f64>> = vec![Vec::new(); count];
        let mut targets: Vec<Vec<f64>> = vec![Vec::new(); count];
        match case.algorithm {
            Algorithm::Grpo { .. } => {
                for group in 0..groups {
                    let members = members(group);
                    let returns: Vec<f64> = members
                        .iter()
                        .map(|&i| rollout.rewards[i] - penalties[i].iter().sum::<f64>())
                        .collect();
                    let mean = returns.iter().sum::<f64>() / returns.len() as f64;
                    let variance = returns.iter().map(|r| (r - mean) * (r - mean)).sum::<f64>()
                        / returns.len() as f64;
                    for (&i, r) in members.iter().zip(&returns) {
                        let advantage = if variance > 0.0 {
                            (r - mean) / variance.sqrt()
                        } else {
                            0.0
                        };
                        advantages[i] = vec![advantage; penalties[i].len()];
                    }
                }
            }
            Algorithm::Reinforce => {
                for group in 0..groups {
                    let members = members(group);
                    let mean = members.iter().map(|&i| rollout.rewards[i]).sum::<f64>()
                        / members.len() as f64;
                    for &i in &members {
                        let length = penalties[i].len();
                        advantages[i] = (0..length)
                            .map(|t| {
                                let penalty: f64 = penalties[i][t..].iter().sum();
                                rollout.rewards[i] - mean - penalty
                            })
                            .collect();
                    }
                }
            }
            Algorithm::Ppo {
                gae_lambda, gamma, ..
            } => {
                for i in 0..count {
                    let values = numbers(policy[i].2.as_ref().unwrap());
                    let length = values.len();
                    let mut rewards: Vec<f64> = penalties[i].iter().map(|k| -k).collect();
                    rewards[length - 1] += rollout.rewards[i];
                    let mut advantage = vec![0.0; length];
                    let mut next_advantage = 0.0;
                    for t in (0..length).rev() {
                        let next_value = if t + 1 < length { values[t + 1] } else { 0.0 };
                        let delta = rewards[t] + gamma * next_value - values[t];
                        next_advantage = delta + gamma * gae_lambda * next_advantage;
                        advantage[t] = next_advantage;
                    }
                    targets[i] = advantage.iter().zip(&values).map(|(a, v)| a + v).collect();
                    advantages[i] = advantage;
                }
            }
            Algorithm::ExpertIteration { .. } => unreachable!("not a policy-gradient update"),
        }
        let tokens: usize = rollout
            .sequences
            .iter()
            .map(TrainingSequence::completion_length)
            .sum();
        let mut loss = Tensor::new(0f32, &Device::Cpu).unwrap();
        for (i, (p, log_ratio, values)) in policy.iter().enumerate() {
            let ratio = (p - p.detach()).unwrap().exp().unwrap();
            let advantage = Tensor::new(
                advantages[i]
                    .iter()
                    .map(|a| *a as f32)
                    .collect::<Vec<f32>>(),
                &Device::Cpu,
            )
            .unwrap();
            let mut per_token = (ratio * advantage).unwrap().neg().unwrap();
            if !reward_placement {
                let kl = (estimate(case.estimator, log_ratio) * beta).unwrap();
                per_token = (per_token + kl).unwrap();
            }
            if let (
                Algorithm::Ppo {
                    value_coefficient, ..
                },
                Some(values),
            ) = (case.algorithm, values)
            {
                let target = Tensor::new(
                    targets[i].iter().map(|t| *t as f32).collect::<Vec<f32>>(),
                    &Device::Cpu,
                )
                .unwrap();
                let squared = (values - target).unwrap().sqr().unwrap();
                per_token = (per_token + (squared * (0.5 * value_coefficient)).unwrap()).unwrap();
            }
            loss = (loss + per_token.sum_all().unwrap()).unwrap();
        }
        let loss = (loss / tokens as f64).unwrap();
        let store = loss.backward().unwrap();
        let gradients = case
            .variables
            .iter()
            .map(|(_, variable)| {
                store
                    .get(variable.as_tensor())
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
            })
            .collect();
        (f64::from(loss.to_scalar::<f32>().unwrap()), gradients)
    }

    #[test]
    fn each_algorithms_loss_and_gradient_equal_a_written_out_reference() {
        let algorithms = [
            (
                Algorithm::Grpo {
                    clip: 0.2,
                    epochs: 1,
                },
                KlEstimator::K3,
            ),
            (Algorithm::Reinforce, KlEstimator::K1),
            (
                Algorithm::Ppo {
                    clip: 0.2,
                    value_clip: 0.2,
                    gae_lambda: 0.95,
                    gamma: 0.9,
                    value_coefficient: 0.5,
                    epochs: 1,
                },
                KlEstimator::K1,
            ),
        ];
        for (algorithm, estimator) in &algorithms {
            for placement in [KlPlacement::Loss, KlPlacement::Reward] {
                let case_name = format!("{} {placement:?}", algorithm.name());
                let config = tiny_model();
                let stream = Stream::new(5);
                let (model, parameters) =
                    Gpt::initialize(&config, 30, &stream, &Device::Cpu).unwrap();
                let (reference, _) =
                    Gpt::initialize(&config, 30, &Stream::new(6), &Device::Cpu).unwrap();
                let value_head = matches!(algorithm, Algorithm::Ppo { .. })
                    .then(|| ValueHead::initialize(config.width, &Stream::new(7)).unwrap());
                // Three groups of three with different rewards and
                // lengths; one group all-equal (GRPO's advantages are 0
                // there), one answer cut without EOS (token 1).
                let prompts = [vec![3u32, 4, 5], vec![6, 7], vec![2, 9]];
                let completions = [
                    vec![8u32, 9, 1],
                    vec![10, 1],
                    vec![11, 12, 13, 14, 15],
                    vec![14, 1],
                    vec![15, 16, 1],
                    vec![17, 18, 19, 1],
                    vec![20, 1],
                    vec![21, 22, 1],
                    vec![23, 1],
                ];
                let mut rollout = Rollout::for_tests(
                    completions
                        .iter()
                        .enumerate()
                        .map(|(index, completion)| {
                            TrainingSequence::new(&prompts[index / 3], completion)
                        })
                        .collect(),
                    vec![0, 0, 0, 1, 1, 1, 2, 2, 2],
                    vec![1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0],
                );
                let batches = MicroBatch::plan(&rollout.sequences, 16).unwrap();
                rollout
                    .measure(&batches, &model, &reference, value_head.as_ref(), true)
                    .unwrap();
                let mut variables = parameters.named().unwrap();
                if let Some(head) = &value_head {
                    variables.extend(head.named());
                }
                let names: Vec<String> = variables.iter().map(|(name, _)| name.clone()).collect();
                let optimizer = AdamW::new(
                    variables.clone(),
                    AdamWConfig {
                        learning_rate: 1e-3,
                        beta1: 0.9,
                        beta2: 0.95,
                        epsilon: 1e-8,
                        weight_decay: 0.0,
                    },
                )
                .unwrap();
                let beta = 0.5;
                let update = PolicyUpdate {
                    algorithm,
                    model: &model,
                    value_head: value_head.as_ref(),
                    kl_coefficient: beta,
                    estimator: *estimator,
                    placement,
                    learning_rate: 1e-3,
                    gradient_clip: None,
                    step: 1,
                    names: &names,
                };
                let advantages = Advantages::of(algorithm, &rollout, beta, *estimator, placement);
                let (terms, gradients) =
                    pass_gradients(&update, &mut rollout, &advantages, &batches, &optimizer)
                        .unwrap()
                        .unwrap();
                let (loss, expected) = written_out_reference(
                    &ReferenceCase {
                        algorithm,
                        model: &model,
                        reference: &reference,
                        value_head: value_head.as_ref(),
                        variables: &variables,
                        beta,
                        estimator: *estimator,
                        placement,
                    },
                    &rollout,
                );
                assert!(
                    (terms.total - loss).abs() <= 1e-5 * loss.abs().max(1e-3),
                    "{case_name}: loss {} against the reference's {loss}",
                    terms.total
                );
                let mut largest = 0f32;
                for ((name, gradient), expected) in names.iter().zip(gradients).zip(&expected) {
                    let gradient = gradient
                        .unwrap()
                        .flatten_all()
                        .unwrap()
                        .to_vec1::<f32>()
                        .unwrap();
                    let scale = expected.iter().fold(0f32, |m, g| m.max(g.abs()));
                    largest = largest.max(scale);
                    for (index, (a, b)) in gradient.iter().zip(expected).enumerate() {
                        assert!(
                            (a - b).abs() <= 1e-4 * scale + 1e-7,
                            "{case_name}: `{name}`[{index}] {a} against the reference's {b}"
                        );
                    }
                }
                // The comparison means something: the gradient is not zero.
                assert!(largest > 1e-3, "{case_name}: largest gradient {largest}");
            }
        }
    }

    #[test]
    fn leaving_the_policys_log_probabilities_to_the_update_changes_no_bit() {
        let (measured_first, weights_measured_first) = grpo_update(true);
        let (left_to_the_update, weights_left) = grpo_update(false);
        assert!(measured_first.iter().all(|row| !row.is_empty()));
        assert_eq!(measured_first, left_to_the_update);
        assert_eq!(weights_measured_first, weights_left);
        // The update did change the weights (so the comparison means something).
        let (_, parameters) =
            Gpt::initialize(&tiny_model(), 30, &Stream::new(11), &Device::Cpu).unwrap();
        let untouched = weight_bits(&parameters);
        assert_ne!(untouched, weights_left);
    }
}
