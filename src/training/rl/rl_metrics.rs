//! What the RL stage writes per step: [`RlStepMetrics`], one line of
//! `metrics.jsonl`, with its [`FormatShares`], and the lines of
//! `samples.jsonl`. `docs/rl.md` lists the fields.

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

/// One line of the RL stage's `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RlStepMetrics {
    /// Steps completed (from 1).
    pub step: u64,
    /// The algorithm.
    pub algorithm: &'static str,
    /// Mean reward (correctness) of the step's samples.
    pub reward: f64,
    /// Fraction of the step's samples that are correct.
    pub accuracy: f64,
    /// The KL coefficient used.
    pub kl_coefficient: f64,
    /// Measured KL(policy || reference): the mean over samples of the sum
    /// of `log p - log q` over their tokens, before the update.
    pub kl: f64,
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
    /// Mean completion length in tokens (EOS included).
    pub completion_length: f64,
    /// The share of each format among the samples.
    pub format_share: FormatShares,
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
