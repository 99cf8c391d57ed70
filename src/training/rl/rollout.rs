//! [`Rollout`]: one RL step's samples, graded and laid out as training
//! sequences, with their log-probabilities under the policy and the frozen
//! reference (and PPO's values), measured before the update.

use super::rl_metrics::{FormatShares, FormatStep, FormatSteps};
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
    /// Per sequence: its format's [`format_slot`].
    formats: Vec<usize>,
    /// Per sequence: whether it was cut at `max_new_tokens` before EOS.
    truncated: Vec<bool>,
    /// Samples in each format, in [`format_slot`] order.
    format_counts: [usize; 4],
    correct: usize,
    completion_tokens: usize,
    /// The sum over completion tokens of the policy's entropy there.
    entropy_sum: f64,
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
                let slot = format_slot(graded.format);
                rollout.format_counts[slot] += 1;
                rollout.formats.push(slot);
                rollout.truncated.push(!completion.finished);
                rollout.correct += usize::from(graded.correct);
                rollout.completion_tokens += completion.tokens.len();
                rollout.entropy_sum += completion.entropies.iter().sum::<f64>();
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
        let mut rollout = Rollout::with_samples(sequences, groups, rewards);
        rollout.formats = vec![format_slot(Classified::Unknown); rollout.sequences.len()];
        rollout.truncated = vec![false; rollout.sequences.len()];
        rollout.completion_tokens = rollout
            .sequences
            .iter()
            .map(TrainingSequence::completion_length)
            .sum();
        rollout
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
            formats: Vec::new(),
            truncated: Vec::new(),
            format_counts: [0; 4],
            correct: 0,
            completion_tokens: 0,
            entropy_sum: 0.0,
        }
    }

    /// The samples in all.
    pub(super) fn sample_count(&self) -> usize {
        self.sequences.len()
    }

    /// Measured KL(policy || reference): the mean over samples of the sum
    /// of `log p - log q` over their tokens.
    pub(super) fn measured_kl(&self) -> f64 {
        self.kl_sum() / self.denominator()
    }

    /// The measured KL per completion token.
    pub(super) fn measured_kl_per_token(&self) -> f64 {
        self.kl_sum() / self.completion_tokens.max(1) as f64
    }

    /// The sum over samples and their tokens of `log p - log q`.
    fn kl_sum(&self) -> f64 {
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
    }

    /// The mean reward.
    pub(super) fn mean_reward(&self) -> f64 {
        self.rewards.iter().sum::<f64>() / self.denominator()
    }

    /// The standard deviation of the rewards (divided by their count).
    pub(super) fn reward_spread(&self) -> f64 {
        spread(&self.rewards)
    }

    /// The fraction of groups (prompts) whose samples all got the same
    /// reward (0 when there are none).
    pub(super) fn equal_reward_groups(&self) -> f64 {
        let group_count = self.groups.iter().max().map_or(0, |last| last + 1);
        if group_count == 0 {
            return 0.0;
        }
        let equal = (0..group_count)
            .filter(|&group| {
                let mut rewards = self
                    .groups
                    .iter()
                    .zip(&self.rewards)
                    .filter(|(member, _)| **member == group)
                    .map(|(_, reward)| *reward);
                match rewards.next() {
                    Some(first) => rewards.all(|reward| reward == first),
                    None => true,
                }
            })
            .count();
        equal as f64 / group_count as f64
    }

    /// The share of samples cut at `max_new_tokens` before EOS.
    pub(super) fn truncated_share(&self) -> f64 {
        self.truncated.iter().filter(|cut| **cut).count() as f64 / self.denominator()
    }

    /// The policy's mean entropy per completion token, as sampled.
    pub(super) fn entropy_per_token(&self) -> f64 {
        self.entropy_sum / self.completion_tokens.max(1) as f64
    }

    /// What the samples of each format looked like.
    pub(super) fn format_steps(&self) -> FormatSteps {
        let step = |slot: usize| {
            let members: Vec<usize> = (0..self.sequences.len())
                .filter(|&index| self.formats.get(index) == Some(&slot))
                .collect();
            let count = members.len();
            let mean = |value: &dyn Fn(usize) -> f64| {
                (count > 0)
                    .then(|| members.iter().map(|&index| value(index)).sum::<f64>() / count as f64)
            };
            let rewards: Vec<f64> = members.iter().map(|&index| self.rewards[index]).collect();
            FormatStep {
                samples: count,
                reward: mean(&|index| self.rewards[index]),
                reward_spread: (count > 0).then(|| spread(&rewards)),
                truncated: mean(&|index| f64::from(u8::from(self.truncated[index]))),
                length: mean(&|index| self.sequences[index].completion_length() as f64),
            }
        };
        FormatSteps {
            code: step(0),
            code_text: step(1),
            prose: step(2),
            unknown: step(3),
        }
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

/// The standard deviation of `values`, divided by their count (0 when
/// there are none).
fn spread(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let count = values.len() as f64;
    let mean = values.iter().sum::<f64>() / count;
    (values
        .iter()
        .map(|value| (value - mean) * (value - mean))
        .sum::<f64>()
        / count)
        .sqrt()
}

fn format_slot(format: Classified) -> usize {
    match format {
        Classified::Code => 0,
        Classified::CodeText => 1,
        Classified::Prose => 2,
        Classified::Unknown => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::rl::rl_metrics::AdvantageStatistics;

    fn completion(tokens: Vec<u32>, text: &str, finished: bool, entropy: f64) -> Completion {
        Completion {
            log_probabilities: vec![-1.0; tokens.len()],
            entropies: vec![entropy; tokens.len()],
            tokens,
            text: text.to_string(),
            finished,
        }
    }

    /// Two prompts of two samples: the first group's rewards differ, the
    /// second's are equal; one sample is cut before EOS.
    fn rollout() -> Rollout {
        let code = "def solution():\n    return 4\n";
        let prose = "Two and two make 4. The answer is 4.";
        let completions = vec![
            vec![
                completion(vec![1, 2, 3, 0], code, true, 1.0),
                completion(vec![1, 2], prose, false, 3.0),
            ],
            vec![
                completion(vec![1, 2, 3, 4, 5, 0], code, true, 2.0),
                completion(vec![1, 0], "no idea", true, 0.5),
            ],
        ];
        let references = vec![Answer::parse("4").unwrap(), Answer::parse("5").unwrap()];
        let prompt_tokens = vec![vec![7, 8], vec![9]];
        Rollout::grade(&[0, 1], &completions, &references, &prompt_tokens, |_| {
            Ok(())
        })
        .unwrap()
    }

    #[test]
    fn diagnostics_count_what_the_samples_did() {
        let rollout = rollout();
        assert_eq!(rollout.rewards, vec![1.0, 1.0, 0.0, 0.0]);
        assert_eq!(rollout.mean_reward(), 0.5);
        assert_eq!(rollout.reward_spread(), 0.5);
        // Group 0: both right; group 1: both wrong.
        assert_eq!(rollout.equal_reward_groups(), 1.0);
        assert_eq!(rollout.truncated_share(), 0.25);
        // (4 * 1 + 2 * 3 + 6 * 2 + 2 * 0.5) / 14 tokens.
        assert_eq!(rollout.entropy_per_token(), 23.0 / 14.0);
        let formats = rollout.format_steps();
        assert_eq!(formats.code.samples, 2);
        assert_eq!(formats.code.reward, Some(0.5));
        assert_eq!(formats.code.reward_spread, Some(0.5));
        assert_eq!(formats.code.length, Some(5.0));
        assert_eq!(formats.code.truncated, Some(0.0));
        assert_eq!(formats.prose.samples, 1);
        assert_eq!(formats.prose.truncated, Some(1.0));
        assert_eq!(formats.code_text.samples, 0);
        assert_eq!(formats.code_text.reward, None);
        assert_eq!(formats.unknown.samples, 1);
    }

    #[test]
    fn groups_with_different_rewards_are_not_equal() {
        let sequences = vec![TrainingSequence::new(&[1], &[2, 0]); 4];
        let rollout = Rollout::for_tests(sequences, vec![0, 0, 1, 1], vec![1.0, 0.0, 1.0, 1.0]);
        assert_eq!(rollout.equal_reward_groups(), 0.5);
    }

    #[test]
    fn advantage_statistics_summarise_every_token() {
        let statistics = AdvantageStatistics::of(&[1.0, -1.0, 0.0, 0.0]);
        assert_eq!(statistics.mean, 0.0);
        assert_eq!(statistics.spread, (0.5f64).sqrt());
        assert_eq!(statistics.minimum, -1.0);
        assert_eq!(statistics.maximum, 1.0);
        assert_eq!(statistics.zero, 0.5);
        assert_eq!(AdvantageStatistics::of(&[]).spread, 0.0);
    }
}
