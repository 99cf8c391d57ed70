//! The update of PPO, GRPO and REINFORCE: passes over a rollout with the
//! algorithm's advantages and loss ([`update_policy`]), and the gradient bookkeeping every RL update shares:
//! gradients summed over micro-batches in a fixed order ([`accumulate`]),
//! then clipped and applied ([`apply`]).

use candle_core::Tensor;

use super::clipped_objective::{clipped_policy_loss_tensor, clipped_value_loss_tensor};
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
/// terms per completion token and its gradient norm.
pub(super) fn update_policy(
    update: &PolicyUpdate,
    rollout: &Rollout,
    batches: &[MicroBatch],
    optimizer: &mut AdamW,
) -> Result<(LossTerms, f64), RlError> {
    let advantages = Advantages::of(
        update.algorithm,
        rollout,
        update.kl_coefficient,
        update.estimator,
        update.placement,
    );
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
    Ok(first)
}

/// One pass over the rollout, one optimizer step; returns the mean loss
/// terms per completion token and the gradient norm.
fn one_pass(
    update: &PolicyUpdate,
    rollout: &Rollout,
    advantages: &Advantages,
    batches: &[MicroBatch],
    optimizer: &mut AdamW,
) -> Result<(LossTerms, f64), RlError> {
    let total_tokens: usize = rollout
        .sequences
        .iter()
        .map(TrainingSequence::completion_length)
        .sum();
    if total_tokens == 0 {
        return Ok((LossTerms::default(), 0.0));
    }
    let scale = 1.0 / total_tokens as f64;
    let mut terms = LossTerms::default();
    let mut gradients: Vec<Option<Tensor>> = vec![None; update.names.len()];
    for batch in batches {
        let output = batch.forward(update.model, update.value_head)?;
        let old = batch.scatter(&rollout.old_log_probabilities)?;
        let advantage = batch.scatter(&advantages.advantages)?;
        let log_ratio = (&output.log_probabilities - &old)?;
        let policy_tokens = match update.algorithm {
            Algorithm::Ppo { clip, .. } | Algorithm::Grpo { clip, .. } => {
                clipped_policy_loss_tensor(&log_ratio, &advantage, *clip)?
            }
            _ => (log_ratio.exp()? * &advantage)?.neg()?,
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
