//! The RL stage: sampling, rewards, advantages, PPO, GRPO, REINFORCE with
//! baseline, Expert Iteration and the KL penalty, as the paper defines them.
//!
//! | file | owns |
//! |---|---|
//! | `rl_config.rs` | [`RlConfig`]: the compiler's JSON, validated |
//! | `sampler.rs` | [`sample_completions`]: batched KV-cache generation, temperature, top-p, greedy, a first-token mask |
//! | `advantages.rs` | GAE, group-normalised and group-baseline advantages |
//! | `step_advantages.rs` | what each algorithm makes of a rollout's rewards, per token |
//! | `clipped_objective.rs` | the clipped policy and value losses |
//! | `kl_estimator.rs` | [`KlEstimator`] k1/k2/k3 and [`KlPlacement`] |
//! | `kl_schedule.rs` | [`KlSchedule`] and the adaptive [`KlController`] |
//! | `value_head.rs` | [`ValueHead`]: PPO's critic on the policy's trunk |
//! | `prompt_order.rs` | [`PromptOrder`]: the seeded, cycling order of prompts |
//! | `micro_batch.rs` | [`MicroBatch`]: padded, length-sorted training tensors |
//! | `rollout.rs` | a step's samples, graded, with their log-probabilities before the update |
//! | `policy_update.rs` | PPO's, GRPO's and REINFORCE's passes over a rollout; summed, clipped gradients |
//! | `expert_iteration.rs` | Expert Iteration's rounds and its fine-tuning on kept samples |
//! | `rl_checkpoint.rs` | [`RlCheckpoint`]: atomic, resumable state; saving and restoring it |
//! | `rl_snapshot.rs` | the snapshots and final model the stage writes |
//! | `rl_metrics.rs` | [`RlStepMetrics`]: a line of `metrics.jsonl`, and of `samples.jsonl` |
//! | `jsonl_log.rs` | [`JsonlLog`]: metrics and samples files, truncated on resume |
//! | `rl_stage.rs` | [`run`]: the stage |
//! | `rl_error.rs` | [`RlError`] |
//!
//! Everything random comes from [`crate::random::Stream`], keyed so that a
//! sample depends on (seed, step, prompt position, sample index) only.
//! `docs/rl.md` is the user-facing description.

mod advantages;
mod clipped_objective;
mod expert_iteration;
mod jsonl_log;
mod kl_estimator;
mod kl_schedule;
mod micro_batch;
mod policy_update;
mod prompt_order;
mod rl_checkpoint;
mod rl_config;
mod rl_error;
mod rl_metrics;
mod rl_snapshot;
mod rl_stage;
mod rollout;
mod sampler;
mod step_advantages;
mod value_head;

pub use advantages::{generalized_advantages, group_baseline, group_normalized, returns_to_go};
pub use clipped_objective::{
    clipped_policy_loss, clipped_policy_loss_tensor, clipped_value_loss, clipped_value_loss_tensor,
};
pub use expert_iteration::round_ends_after;
pub use jsonl_log::JsonlLog;
pub use kl_estimator::{KlEstimator, KlPlacement};
pub use kl_schedule::{KlController, KlSchedule};
pub use micro_batch::{ForwardOutput, MicroBatch, TrainingSequence, MICRO_BATCH_TOKENS};
pub use prompt_order::PromptOrder;
pub use rl_checkpoint::{
    KeptSample, RlCheckpoint, RlCheckpointState, RL_CHECKPOINT_FORMAT_VERSION,
};
pub use rl_config::{Algorithm, OptimizerSpec, RlConfig, RlTraining, ScheduleSpec, WarmupSpec};
pub use rl_error::RlError;
pub use rl_metrics::{FormatShares, RlStepMetrics};
pub use rl_snapshot::snapshot_directory;
pub use rl_stage::{prompt_text, run, RlInputs, RlOutcome};
pub use sampler::{
    cache_rows, choose_token, decoded_rows, decoding_rows, log_softmax, mask_tokens,
    sample_completions, sample_completions_with_first_token_mask, sample_requests, top_p_filter,
    Completion, PromptRequest, SamplingRequest, SamplingSettings, ROWS_PER_CACHE,
};
pub use value_head::{ValueHead, VALUE_HEAD_BIAS, VALUE_HEAD_INITIAL_STDEV, VALUE_HEAD_WEIGHT};
