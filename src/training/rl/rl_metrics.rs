//! What the RL stage writes per step: [`RlStepMetrics`], one line of
//! `metrics.jsonl`, with its [`FormatShares`], its [`FormatSteps`] (what
//! the samples of each format looked like) and its
//! [`AdvantageStatistics`], and the lines of `samples.jsonl`. `docs/rl.md`
//! lists the fields.

use serde::Serialize;

/// The share of each format among a step's samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FormatShares {
    /// `code`.
    pub code: f64,
    /// `code_text`.
    pub code_text: f64,
    /// `prose`.
    pub prose: f64,
    /// `unknown`.
    pub unknown: f64,
}

/// What one format's samples of a step looked like. Every mean is `None`
/// when no sample of the step was written in the format.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FormatStep {
    /// How many of the step's samples were written in the format.
    pub samples: usize,
    /// Their mean reward.
    pub reward: Option<f64>,
    /// The standard deviation of their rewards (over the samples, not an
    /// estimate of a population's: divided by their count).
    pub reward_spread: Option<f64>,
    /// The share of them cut at `max_new_tokens` before EOS.
    pub truncated: Option<f64>,
    /// Their mean completion length in tokens (EOS included).
    pub length: Option<f64>,
}

/// [`FormatStep`] of each format.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FormatSteps {
    /// `code`.
    pub code: FormatStep,
    /// `code_text`.
    pub code_text: FormatStep,
    /// `prose`.
    pub prose: FormatStep,
    /// `unknown`.
    pub unknown: FormatStep,
}

/// The advantages an update weighted its completion tokens with, over
/// every completion token of the step (GRPO gives all tokens of a sample
/// its sample's advantage, so these are weighted by length).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AdvantageStatistics {
    /// Their mean.
    pub mean: f64,
    /// Their standard deviation (divided by the token count).
    pub spread: f64,
    /// The smallest.
    pub minimum: f64,
    /// The largest.
    pub maximum: f64,
    /// The share of tokens whose advantage is exactly 0 (they teach the
    /// policy-gradient term nothing).
    pub zero: f64,
}

impl AdvantageStatistics {
    /// The statistics of `values` (all zero when there are none).
    pub fn of<'a>(values: impl IntoIterator<Item = &'a f64>) -> AdvantageStatistics {
        let mut count = 0usize;
        let mut sum = 0.0;
        let mut squares = 0.0;
        let mut zero = 0usize;
        let mut minimum = f64::INFINITY;
        let mut maximum = f64::NEG_INFINITY;
        for &value in values {
            count += 1;
            sum += value;
            squares += value * value;
            zero += usize::from(value == 0.0);
            minimum = minimum.min(value);
            maximum = maximum.max(value);
        }
        if count == 0 {
            return AdvantageStatistics {
                mean: 0.0,
                spread: 0.0,
                minimum: 0.0,
                maximum: 0.0,
                zero: 0.0,
            };
        }
        let mean = sum / count as f64;
        AdvantageStatistics {
            mean,
            spread: (squares / count as f64 - mean * mean).max(0.0).sqrt(),
            minimum,
            maximum,
            zero: zero as f64 / count as f64,
        }
    }
}

/// One line of the RL stage's `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RlStepMetrics {
    /// Steps completed (from 1).
    pub step: u64,
    /// The algorithm.
    pub algorithm: &'static str,
    /// Mean reward (correctness) of the step's samples.
    pub reward: f64,
    /// The standard deviation of the samples' rewards (divided by their
    /// count).
    pub reward_spread: f64,
    /// Fraction of the step's samples that are correct.
    pub accuracy: f64,
    /// The fraction of the step's prompts whose samples all got the same
    /// reward: GRPO's and REINFORCE's advantages are 0 there (less any KL
    /// penalty in the reward), so those prompts teach nothing.
    pub equal_reward_groups: f64,
    /// The KL coefficient used.
    pub kl_coefficient: f64,
    /// Measured KL(policy || reference): the mean over samples of the sum
    /// of `log p - log q` over their tokens, before the update.
    pub kl: f64,
    /// The same sum divided by the completion tokens: the KL per token.
    pub kl_per_token: f64,
    /// The policy's entropy (nats) per completion token: the mean, over the
    /// sampled tokens, of the entropy of the untempered next-token
    /// distribution at each one's position, as the sampler computed it.
    pub entropy: f64,
    /// The loss of the first optimisation pass (all terms).
    pub loss: f64,
    /// Its policy-gradient term (Expert Iteration: the fine-tuning loss).
    pub policy_loss: f64,
    /// Its KL term, `coefficient * mean estimate` (0 when the KL is in the
    /// reward).
    pub kl_loss: f64,
    /// Its value term, before the coefficient (PPO only).
    pub value_loss: Option<f64>,
    /// The learning rate of the step (Expert Iteration: `sft_lr`).
    pub learning_rate: f64,
    /// The global gradient norm before clipping (first pass).
    pub gradient_norm: f64,
    /// The advantages of the update (`None` for Expert Iteration, which
    /// fine-tunes on kept samples instead).
    pub advantage: Option<AdvantageStatistics>,
    /// Mean completion length in tokens (EOS included).
    pub completion_length: f64,
    /// The share of samples cut at `max_new_tokens` before EOS.
    pub truncated: f64,
    /// The share of each format among the samples.
    pub format_share: FormatShares,
    /// What the samples of each format looked like.
    pub formats: FormatSteps,
    /// Expert Iteration: samples kept so far in the round.
    pub kept: Option<usize>,
}

/// One line of `samples.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct SampleRecord<'a> {
    pub(super) step: u64,
    pub(super) prompt: usize,
    pub(super) sample: usize,
    pub(super) question: &'a str,
    pub(super) completion: &'a str,
    pub(super) format: &'static str,
    pub(super) correct: bool,
}

/// Samples written to `samples.jsonl` per step: the first sample of this
/// many of the step's prompts.
pub(super) const LOGGED_PROMPTS_PER_STEP: usize = 2;
