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

    /// GRPO's loss and gradient written out the plainest way: each
    /// sequence through `Gpt::forward`, a log-softmax of primitive
    /// operations, the advantages `(r - mean) / std` of each group
    /// (population std), and per completion token
    /// `-A exp(log p - stop_gradient(log p)) + beta k3`, summed and
    /// divided by the number of completion tokens. Returns the loss and the
    /// gradient of every variable, in the optimizer's order.
    fn grpo_reference(
        model: &Gpt,
        reference: &Gpt,
        variables: &[(String, candle_core::Var)],
        rollout: &Rollout,
        beta: f64,
        placement: KlPlacement,
    ) -> (f64, Vec<Vec<f32>>) {
        use candle_core::D;
        let log_probabilities = |network: &Gpt, sequence: &TrainingSequence| -> Tensor {
            let tokens = &sequence.tokens;
            let inputs = Tensor::new(&tokens[..tokens.len() - 1], &Device::Cpu)
                .unwrap()
                .unsqueeze(0)
                .unwrap();
            let logits = network.forward(&inputs).unwrap().squeeze(0).unwrap();
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
            picked.narrow(0, start, tokens.len() - 1 - start).unwrap()
        };
        let count = rollout.sequences.len();
        let k3 = |log_ratio: &Tensor| -> Tensor {
            // q/p - 1 - log(q/p), with log(q/p) = -log_ratio.
            ((log_ratio.neg().unwrap().exp().unwrap() - 1.0).unwrap() + log_ratio).unwrap()
        };
        let mut policy = Vec::new();
        let mut penalties = Vec::new();
        for sequence in &rollout.sequences {
            let p = log_probabilities(model, sequence);
            let q = log_probabilities(reference, sequence).detach();
            let log_ratio = (&p - &q).unwrap();
            penalties.push(
                k3(&log_ratio.detach())
                    .sum_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap() as f64,
            );
            policy.push((p, log_ratio));
        }
        let mut advantages = vec![0.0; count];
        let groups = rollout.groups.iter().max().unwrap() + 1;
        for group in 0..groups {
            let members: Vec<usize> = (0..count).filter(|&i| rollout.groups[i] == group).collect();
            let returns: Vec<f64> = members
                .iter()
                .map(|&i| match placement {
                    KlPlacement::Reward => rollout.rewards[i] - beta * penalties[i],
                    KlPlacement::Loss => rollout.rewards[i],
                })
                .collect();
            let mean = returns.iter().sum::<f64>() / returns.len() as f64;
            let variance =
                returns.iter().map(|r| (r - mean) * (r - mean)).sum::<f64>() / returns.len() as f64;
            for (&i, r) in members.iter().zip(&returns) {
                advantages[i] = if variance > 0.0 {
                    (r - mean) / variance.sqrt()
                } else {
                    0.0
                };
            }
        }
        let tokens: usize = rollout
            .sequences
            .iter()
            .map(TrainingSequence::completion_length)
            .sum();
        let mut loss = Tensor::new(0f32, &Device::Cpu).unwrap();
        for ((p, log_ratio), advantage) in policy.iter().zip(&advantages) {
            let ratio = (p - p.detach()).unwrap().exp().unwrap();
            let mut per_token = (ratio * -*advantage).unwrap();
            if placement == KlPlacement::Loss {
                per_token = (per_token + (k3(log_ratio) * beta).unwrap()).unwrap();
            }
            loss = (loss + per_token.sum_all().unwrap()).unwrap();
        }
        let loss = (loss / tokens as f64).unwrap();
        let store = loss.backward().unwrap();
        let gradients = variables
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
    fn grpos_loss_and_gradient_equal_a_written_out_reference() {
        for placement in [KlPlacement::Loss, KlPlacement::Reward] {
            let config = tiny_model();
            let stream = Stream::new(5);
            let (model, parameters) = Gpt::initialize(&config, 30, &stream, &Device::Cpu).unwrap();
            let (reference, _) =
                Gpt::initialize(&config, 30, &Stream::new(6), &Device::Cpu).unwrap();
            // Two groups of three with different rewards and lengths; one
            // group all-equal (its advantages are 0), one answer cut
            // without EOS (token 1).
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
                .measure(&batches, &model, &reference, None, true)
                .unwrap();
            let variables = parameters.named().unwrap();
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
            let algorithm = Algorithm::Grpo {
                clip: 0.2,
                epochs: 1,
            };
            let beta = 0.5;
            let update = PolicyUpdate {
                algorithm: &algorithm,
                model: &model,
                value_head: None,
                kl_coefficient: beta,
                estimator: KlEstimator::K3,
                placement,
                learning_rate: 1e-3,
                gradient_clip: None,
                step: 1,
                names: &names,
            };
            let advantages = Advantages::of(&algorithm, &rollout, beta, KlEstimator::K3, placement);
            let (terms, gradients) =
                pass_gradients(&update, &mut rollout, &advantages, &batches, &optimizer)
                    .unwrap()
                    .unwrap();
            let (loss, expected) =
                grpo_reference(&model, &reference, &variables, &rollout, beta, placement);
            assert!(
                (terms.total - loss).abs() <= 1e-5 * loss.abs().max(1e-3),
                "{placement:?}: loss {} against the reference's {loss}",
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
                        "{placement:?}: `{name}`[{index}] {a} against the reference's {b}"
                    );
                }
            }
            // The comparison means something: the gradient is not zero.
            assert!(largest > 1e-3, "{placement:?}: largest gradient {largest}");
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
