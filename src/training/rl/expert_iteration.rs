//! Expert Iteration's side of the RL stage: when a round ends
//! ([`round_ends_after`]), supervised fine-tuning on the correct samples the
//! round kept ([`fine_tune`]). Its rollouts, rewards and logging are the
//! stage's, shared with the policy-gradient algorithms.

use candle_core::Tensor;

use super::policy_update::{accumulate, apply};
use super::rl_checkpoint::KeptSample;
use super::{MicroBatch, PromptOrder, RlError, TrainingSequence};
use crate::model::{Gpt, Parameters};
use crate::random::Stream;
use crate::training::{AdamW, AdamWConfig};

/// Expert Iteration's fine-tuning settings.
pub(super) struct FineTuning {
    pub(super) optimizer: AdamWConfig,
    pub(super) epochs: u32,
    /// Sequences per optimizer step.
    pub(super) batch_size: usize,
    pub(super) gradient_clip: Option<f64>,
    /// The shuffled order's stream.
    pub(super) stream: Stream,
    pub(super) pad: u32,
    /// The RL step (from 1) the round ends at, for errors.
    pub(super) step: u64,
}

/// Supervised fine-tuning on the kept samples: `epochs` passes in a seeded
/// shuffled order, `batch_size` sequences per optimizer step, the loss the
/// mean negative log-likelihood of the completion tokens (the prompt is
/// not trained on), a fresh AdamW at a constant learning rate. Returns the
/// last pass's mean loss and the last gradient norm.
pub(super) fn fine_tune(
    model: &Gpt,
    parameters: &Parameters,
    kept: &[KeptSample],
    prompt_tokens: &[Vec<u32>],
    settings: &FineTuning,
) -> Result<(f64, f64), RlError> {
    if kept.is_empty() {
        return Ok((0.0, 0.0));
    }
    let variables = parameters.named()?;
    let names: Vec<String> = variables.iter().map(|(name, _)| name.clone()).collect();
    let mut optimizer = AdamW::new(variables, settings.optimizer)?;
    let mut last_loss = 0.0;
    let mut last_norm = 0.0;
    for epoch in 0..settings.epochs {
        let order = PromptOrder::new(settings.stream.clone(), kept.len()).epoch(u64::from(epoch));
        let mut epoch_loss = 0.0;
        let mut epoch_tokens = 0usize;
        for chunk in order.chunks(settings.batch_size.max(1)) {
            let sequences: Vec<TrainingSequence> = chunk
                .iter()
                .map(|&index| {
                    let sample = &kept[index];
                    TrainingSequence::new(&prompt_tokens[sample.prompt], &sample.tokens)
                })
                .collect();
            let total: usize = sequences
                .iter()
                .map(TrainingSequence::completion_length)
                .sum();
            if total == 0 {
                continue;
            }
            let scale = 1.0 / total as f64;
            let mut gradients: Vec<Option<Tensor>> = vec![None; names.len()];
            for batch in MicroBatch::plan(&sequences, settings.pad)? {
                let output = batch.forward(model, None)?;
                let loss = ((output.log_probabilities * &batch.mask)?.sum_all()?.neg()? * scale)?;
                let value = f64::from(loss.to_scalar::<f32>()?);
                if !value.is_finite() {
                    return Err(RlError::NonFiniteLoss {
                        step: settings.step,
                        loss: value,
                    });
                }
                epoch_loss += value * total as f64;
                accumulate(&mut gradients, &loss, &optimizer, &names)?;
            }
            epoch_tokens += total;
            last_norm = apply(
                gradients,
                &mut optimizer,
                settings.optimizer.learning_rate,
                settings.gradient_clip,
                settings.step,
                &names,
            )?;
        }
        last_loss = epoch_loss / epoch_tokens.max(1) as f64;
    }
    Ok((last_loss, last_norm))
}

/// Whether Expert Iteration's round ends after `step` (from 0): rounds
/// split the steps as evenly as possible, round `r` ending after step
/// `ceil((r + 1) * steps / rounds)`.
pub fn round_ends_after(step: u64, steps: u64, rounds: u32) -> bool {
    let rounds = u64::from(rounds.max(1));
    (0..rounds).any(|round| ((round + 1) * steps).div_ceil(rounds) == step + 1)
}
