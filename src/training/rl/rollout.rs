//! [`Rollout`]: one RL step's samples, graded and laid out as training
//! sequences, with their log-probabilities under the policy and the frozen
//! reference (and PPO's values), measured before the update.

use super::rl_metrics::FormatShares;
use super::{Completion, MicroBatch, RlError, TrainingSequence, ValueHead};
use crate::evaluation::{grade, Answer, Classified, Grade};
use crate::model::Gpt;

/// One sample as [`Rollout::grade`] meets it.
pub(super) struct GradedSample<'a> {
    /// The prompt's position among the step's prompts (its group).
    pub(super) group: usize,
    /// The prompt's index in the stage's inputs.
    pub(super) prompt: usize,
    /// The sample's index within its group.
    pub(super) sample: usize,
    pub(super) completion: &'a Completion,
    pub(super) grade: &'a Grade,
}

/// The state one update works on.
pub(super) struct Rollout {
    pub(super) sequences: Vec<TrainingSequence>,
    /// Per sequence: its prompt's position in the step (for groups).
    pub(super) groups: Vec<usize>,
    /// Per sequence: 1 if correct, else 0.
    pub(super) rewards: Vec<f64>,
    /// Per sequence, per completion token; filled by [`Rollout::measure`].
    pub(super) old_log_probabilities: Vec<Vec<f64>>,
    /// As `old_log_probabilities`, under the reference.
    pub(super) reference_log_probabilities: Vec<Vec<f64>>,
    /// As `old_log_probabilities`, PPO's values (empty otherwise).
    pub(super) old_values: Vec<Vec<f64>>,
    /// Whether `old_log_probabilities` are filled; when [`Rollout::measure`]
    /// leaves them to the update's first pass, they are not until then.
    pub(super) policy_measured: bool,
    /// Samples in each format, in [`format_slot`] order.
    format_counts: [usize; 4],
    correct: usize,
    completion_tokens: usize,
}

impl Rollout {
    /// Grades the step's completions (`completions[i]` are the samples of
    /// `prompts[i]`) and lays each out as prompt + completion. `on_sample`
    /// sees every sample with its grade, prompt by prompt, in order.
    pub(super) fn grade(
        prompts: &[usize],
        completions: &[Vec<Completion>],
        references: &[Answer],
        prompt_tokens: &[Vec<u32>],
        mut on_sample: impl FnMut(GradedSample) -> Result<(), RlError>,
    ) -> Result<Self, RlError> {
        let mut rollout = Rollout::with_samples(Vec::new(), Vec::new(), Vec::new());
        for (group, (&prompt, samples)) in prompts.iter().zip(completions).enumerate() {
            for (sample, completion) in samples.iter().enumerate() {
                let graded = grade(&completion.text, &references[prompt]);
                rollout.format_counts[format_slot(graded.format)] += 1;
                rollout.correct += usize::from(graded.correct);
                rollout.completion_tokens += completion.tokens.len();
                on_sample(GradedSample {
                    group,
                    prompt,
                    sample,
                    completion,
                    grade: &graded,
                })?;
                rollout.sequences.push(TrainingSequence::new(
                    &prompt_tokens[prompt],
                    &completion.tokens,
                ));
                rollout.groups.push(group);
                rollout.rewards.push(if graded.correct { 1.0 } else { 0.0 });
            }
        }
        Ok(rollout)
    }

    /// Fills the log-probabilities under the reference and, with
    /// `policy`, under the policy and PPO's values, without gradients.
    ///
    /// Without `policy` the update's first pass fills the policy's (GRPO
    /// with its KL in the loss, whose advantages do not read them): its
    /// forward pass with gradients computes the very same values, so one
    /// forward pass of the policy per step is saved and no bit changes.
    pub(super) fn measure(
        &mut self,
        batches: &[MicroBatch],
        model: &Gpt,
        reference: &Gpt,
        value_head: Option<&ValueHead>,
        policy: bool,
    ) -> Result<(), RlError> {
        let count = self.sequences.len();
        self.old_log_probabilities = vec![Vec::new(); count];
        self.reference_log_probabilities = vec![Vec::new(); count];
        self.old_values = vec![Vec::new(); count];
        for batch in batches {
            let reference_output = batch.forward(reference, None)?;
            let reference_rows = batch.gather(&reference_output.log_probabilities.detach())?;
            for (&index, reference) in batch.rows.iter().zip(reference_rows) {
                self.reference_log_probabilities[index] = reference;
            }
            if !policy {
                continue;
            }
            let output = batch.forward(model, value_head)?;
            let policy_rows = batch.gather(&output.log_probabilities.detach())?;
            let value_rows = match &output.values {
                Some(values) => batch.gather(&values.detach())?,
                None => vec![Vec::new(); batch.rows.len()],
            };
            for ((&index, policy), values) in batch.rows.iter().zip(policy_rows).zip(value_rows) {
                self.old_log_probabilities[index] = policy;
                self.old_values[index] = values;
            }
        }
        self.policy_measured = policy;
        Ok(())
    }

    /// A rollout of `sequences` with their groups and rewards, as
    /// [`Rollout::grade`] would lay it out (for tests of the update).
    #[cfg(test)]
    pub(super) fn for_tests(
        sequences: Vec<TrainingSequence>,
        groups: Vec<usize>,
        rewards: Vec<f64>,
    ) -> Self {
        Rollout::with_samples(sequences, groups, rewards)
    }

    /// A rollout of these samples with nothing measured or counted yet.
    fn with_samples(
        sequences: Vec<TrainingSequence>,
        groups: Vec<usize>,
        rewards: Vec<f64>,
    ) -> Self {
        Rollout {
            sequences,
            groups,
            rewards,
            old_log_probabilities: Vec::new(),
            reference_log_probabilities: Vec::new(),
            old_values: Vec::new(),
            policy_measured: false,
            format_counts: [0; 4],
            correct: 0,
            completion_tokens: 0,
        }
    }

    /// The samples in all.
    pub(super) fn sample_count(&self) -> usize {
        self.sequences.len()
    }

    /// Measured KL(policy || reference): the mean over samples of the sum
    /// of `log p - log q` over their tokens.
    pub(super) fn measured_kl(&self) -> f64 {
        self.old_log_probabilities
            .iter()
            .zip(&self.reference_log_probabilities)
            .map(|(policy, reference)| {
                policy
                    .iter()
                    .zip(reference)
                    .map(|(p, q)| p - q)
                    .sum::<f64>()
            })
            .sum::<f64>()
            / self.denominator()
    }

    /// The mean reward.
    pub(super) fn mean_reward(&self) -> f64 {
        self.rewards.iter().sum::<f64>() / self.denominator()
    }

    /// The fraction of samples that are correct.
    pub(super) fn accuracy(&self) -> f64 {
        self.correct as f64 / self.denominator()
    }

    /// The completion tokens sampled, EOS included.
    pub(super) fn completion_tokens(&self) -> usize {
        self.completion_tokens
    }

    /// The mean completion length in tokens, EOS included.
    pub(super) fn mean_completion_length(&self) -> f64 {
        self.completion_tokens as f64 / self.denominator()
    }

    /// The share of each format among the samples.
    pub(super) fn format_shares(&self) -> FormatShares {
        let share = |slot: usize| self.format_counts[slot] as f64 / self.denominator();
        FormatShares {
            code: share(0),
            code_text: share(1),
            prose: share(2),
            unknown: share(3),
        }
    }

    /// The sample count as the denominator of a mean (1 when empty).
    fn denominator(&self) -> f64 {
        self.sample_count().max(1) as f64
    }
}

fn format_slot(format: Classified) -> usize {
    match format {
        Classified::Code => 0,
        Classified::CodeText => 1,
        Classified::Prose => 2,
        Classified::Unknown => 3,
    }
}
