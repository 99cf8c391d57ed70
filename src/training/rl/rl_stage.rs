//! [`run`]: the RL stage, from a pretrained checkpoint to an RL-trained
//! one, resumable from its checkpoints and deterministic to the byte.
//!
//! Every step: take the step's questions (a seeded shuffled order,
//! cycling), sample `samples_per_prompt` completions of each with the
//! current policy, grade them (reward 1 if correct, else 0; nothing for
//! format), measure log-probabilities under the policy and the frozen
//! reference (the starting checkpoint), then update with the configured
//! algorithm. PPO, GRPO and REINFORCE share this path and differ only in
//! their advantages and loss; Expert Iteration shares the rollout, rewards
//! and logging, and fine-tunes on its kept samples at the end of each round.
//! `docs/rl.md` gives the formulas and the files' fields.
//!
//! Determinism: sampling draws from `Stream`s keyed by (seed, step, prompt
//! position, sample), micro-batches are formed in a fixed order, gradients
//! summed in a fixed order, and nothing written depends on time. A run
//! killed and resumed from its last checkpoint writes the same bytes as
//! one that was not.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use candle_core::Device;

use super::expert_iteration::{fine_tune, round_ends_after, FineTuning};
use super::policy_update::{update_policy, LossTerms, PolicyUpdate, UpdateOutcome};
use super::rl_checkpoint::{self, KeptSample, RlCheckpoint, RlCheckpointState};
use super::rl_metrics::{RlStepMetrics, SampleRecord, LOGGED_PROMPTS_PER_STEP};
use super::rl_snapshot::{snapshot_directory, write_model};
use super::rollout::Rollout;
use super::{
    sample_completions, Algorithm, JsonlLog, KlController, KlPlacement, MicroBatch, PromptOrder,
    PromptRequest, RlConfig, RlError, SamplingSettings, ValueHead, RL_CHECKPOINT_FORMAT_VERSION,
};
use crate::data::{Document, Tokenizer};
use crate::evaluation::Answer;
use crate::model::Gpt;
use crate::random::Stream;
use crate::training::{AdamW, AdamWConfig, ModelArtifact, Observer, StepReport};

/// What the RL stage reads besides its configuration.
#[derive(Debug, Clone)]
pub struct RlInputs {
    /// The starting checkpoint: a folder with `model.safetensors` and
    /// `config.json` as pretraining writes them.
    pub checkpoint: PathBuf,
    /// The tokenizer the checkpoint was trained with.
    pub tokenizer: Tokenizer,
    /// The problems to ask: `question` is the prompt, `answer` the reference.
    pub prompts: Vec<Document>,
}

/// What a finished RL run reports.
#[derive(Debug, Clone, PartialEq)]
pub struct RlOutcome {
    /// Steps taken in all.
    pub steps: u64,
    /// The checkpoint step this run resumed from, if any.
    pub resumed_from: Option<u64>,
    /// The last step's mean reward.
    pub final_reward: f64,
    /// `model.safetensors`.
    pub weights_path: PathBuf,
    /// `config.json`.
    pub config_path: PathBuf,
    /// blake3 (hex) of `model.safetensors`.
    pub weights_blake3: String,
}

/// The prompt of a question: the raw question, then a blank line, as in
/// the pretraining documents `question + "\n\n" + solution`.
pub fn prompt_text(question: &str) -> String {
    format!("{question}\n\n")
}

/// Runs (or resumes) the RL stage in `work_dir`.
///
/// Writes `metrics.jsonl`, `samples.jsonl`, `snapshots/step-<N>/` for every
/// listed step, checkpoints every `checkpoint_every` steps, and at the end
/// `model.safetensors` and `config.json`. If `work_dir` holds a checkpoint
/// of the same configuration and inputs, the run continues from it and
/// ends with the same bytes as an uninterrupted run.
pub fn run(
    config: &RlConfig,
    inputs: &RlInputs,
    work_dir: &Path,
    observer: &mut dyn Observer,
) -> Result<RlOutcome, RlError> {
    config.validate()?;
    if inputs.prompts.is_empty() {
        return Err(RlError::NoPrompts);
    }
    let training = &config.training;
    let references = inputs
        .prompts
        .iter()
        .enumerate()
        .map(|(index, document)| {
            Answer::parse(&document.answer).map_err(|_| RlError::BadReference {
                index,
                answer: document.answer.clone(),
            })
        })
        .collect::<Result<Vec<Answer>, RlError>>()?;
    let tokenizer = &inputs.tokenizer;
    let prompt_tokens: Vec<Vec<u32>> = inputs
        .prompts
        .iter()
        .map(|document| tokenizer.encode(&prompt_text(&document.question)))
        .collect();
    std::fs::create_dir_all(work_dir).map_err(RlError::io(work_dir))?;
    let device = Device::Cpu;
    let (artifact, model, parameters) = ModelArtifact::load(&inputs.checkpoint, &device)?;
    if artifact.vocabulary_size != tokenizer.vocab_size() {
        return Err(RlError::VocabularyMismatch {
            checkpoint: artifact.vocabulary_size,
            tokenizer: tokenizer.vocab_size(),
        });
    }
    let base_path = ModelArtifact::weights_path(&inputs.checkpoint);
    let base_weights = std::fs::read(&base_path).map_err(RlError::io(&base_path))?;
    // Never trained: constants, so its forward passes build no graph.
    let reference = Gpt::frozen_from_safetensors(
        &artifact.model,
        artifact.vocabulary_size,
        &base_weights,
        &device,
    )?;
    let value_head = match training.algorithm {
        Algorithm::Ppo { .. } => Some(ValueHead::initialize(
            artifact.model.width,
            &Stream::labelled(config.seed, "rl/value_head"),
        )?),
        _ => None,
    };
    let mut variables = parameters.named()?;
    if let Some(head) = &value_head {
        variables.extend(head.named());
    }
    let adam = training.optimizer.adam_w();
    let mut optimizer = AdamW::new(variables.clone(), adam)?;
    let mut kl_controller = KlController::new(training.kl, training.steps);

    let fingerprint = config.fingerprint(&inputs_digest(inputs, &base_weights)?)?;
    let weights_path = ModelArtifact::weights_path(work_dir);
    let config_path = ModelArtifact::config_path(work_dir);
    for path in [&weights_path, &config_path] {
        if path.exists() {
            std::fs::remove_file(path).map_err(RlError::io(path))?;
        }
    }

    let resumed: Option<RlCheckpointState> = match RlCheckpoint::latest(work_dir)? {
        Some(checkpoint) => {
            rl_checkpoint::restore(&checkpoint, &fingerprint, &variables, &mut optimizer)?;
            kl_controller.restore(checkpoint.state.kl_controller);
            Some(checkpoint.state)
        }
        None => None,
    };
    let resumed_from = resumed.as_ref().map(|state| state.step);
    let first_step = resumed_from.unwrap_or(0);
    let mut tokens_sampled = resumed.as_ref().map_or(0, |state| state.tokens);
    let mut kept: Vec<KeptSample> = resumed.map(|state| state.kept).unwrap_or_default();
    let mut metrics = JsonlLog::open(&work_dir.join("metrics.jsonl"), resumed_from)?;
    let mut samples_log = JsonlLog::open(&work_dir.join("samples.jsonl"), resumed_from)?;
    let snapshot_steps: HashSet<u64> = config.snapshots.iter().copied().collect();
    let template = ModelArtifact {
        seed: config.seed,
        ..artifact.clone()
    };
    if first_step == 0 && snapshot_steps.contains(&0) {
        write_model(
            &snapshot_directory(work_dir, 0),
            &parameters,
            &template,
            0,
            0,
        )?;
    }

    let mut order = PromptOrder::new(
        Stream::labelled(config.seed, "rl/prompt_order"),
        inputs.prompts.len(),
    );
    let sampling_stream = Stream::labelled(config.seed, "rl/sampling");
    let settings = SamplingSettings {
        temperature: training.temperature,
        top_p: training.top_p,
        max_new_tokens: training.max_new_tokens,
    };
    let eos = artifact.eos_id;
    let pad = eos;
    let names: Vec<String> = variables.iter().map(|(name, _)| name.clone()).collect();
    let schedule = training.schedule.schedule();
    let estimator = training.estimator();
    let placement = training.placement();
    let total_steps = training.steps;
    let prompts_per_step = training.prompts_per_step as u64;
    let expert_iteration = matches!(training.algorithm, Algorithm::ExpertIteration { .. });
    observer.started(total_steps, first_step);
    let started = Instant::now();
    let mut tokens_this_process = 0u64;
    let mut final_reward = f64::NAN;

    for step in first_step..total_steps {
        let completed = step + 1;
        // Rollout: the step's prompts, their samples and grades.
        let positions: Vec<u64> =
            (step * prompts_per_step..(step + 1) * prompts_per_step).collect();
        let prompts: Vec<usize> = positions
            .iter()
            .map(|&position| order.prompt_at(position))
            .collect();
        let requests: Vec<PromptRequest> = prompts
            .iter()
            .zip(&positions)
            .map(|(&prompt, &position)| PromptRequest {
                tokens: prompt_tokens[prompt].clone(),
                stream: sampling_stream.derive(&[step, position]),
                samples: training.samples_per_prompt,
            })
            .collect();
        let decode = |ids: &[u32]| tokenizer.decode(ids);
        let completions = sample_completions(&model, &requests, &settings, eos, &decode)?;
        let mut rollout = Rollout::grade(
            &prompts,
            &completions,
            &references,
            &prompt_tokens,
            |sample| {
                if sample.group < LOGGED_PROMPTS_PER_STEP && sample.sample == 0 {
                    samples_log.record(&SampleRecord {
                        step: completed,
                        prompt: sample.prompt,
                        sample: sample.sample,
                        question: &inputs.prompts[sample.prompt].question,
                        completion: &sample.completion.text,
                        format: sample.grade.format.name(),
                        correct: sample.grade.correct,
                    })?;
                }
                if expert_iteration && sample.grade.correct {
                    let candidate = KeptSample {
                        prompt: sample.prompt,
                        tokens: sample.completion.tokens.clone(),
                    };
                    if !kept.contains(&candidate) {
                        kept.push(candidate);
                    }
                }
                Ok(())
            },
        )?;
        let sample_count = rollout.sample_count();
        tokens_sampled += rollout.completion_tokens() as u64;
        let batches = MicroBatch::plan(&rollout.sequences, pad)?;
        // GRPO with its KL in the loss leaves the policy's log-probabilities
        // to the update's first pass (the same values, one forward pass less).
        let policy_before_update = !(matches!(training.algorithm, Algorithm::Grpo { .. })
            && placement == KlPlacement::Loss
            && value_head.is_none());
        rollout.measure(
            &batches,
            &model,
            &reference,
            value_head.as_ref(),
            policy_before_update,
        )?;
        let kl_coefficient = kl_controller.coefficient(step);
        let learning_rate = match training.algorithm {
            Algorithm::ExpertIteration { sft_lr, .. } => sft_lr,
            _ => adam.learning_rate * schedule.factor(step, total_steps),
        };

        // The update: the first pass's loss terms and gradient norm.
        let (first_terms, first_norm, advantage) = match &training.algorithm {
            Algorithm::ExpertIteration {
                rounds,
                restart,
                sft_epochs,
                sft_lr,
            } => {
                if round_ends_after(step, total_steps, *rounds) {
                    if *restart {
                        parameters.load_safetensors(&base_weights)?;
                    }
                    let (loss, norm) = fine_tune(
                        &model,
                        &parameters,
                        &kept,
                        &prompt_tokens,
                        &FineTuning {
                            optimizer: AdamWConfig {
                                learning_rate: *sft_lr,
                                ..adam
                            },
                            epochs: *sft_epochs,
                            batch_size: training.prompts_per_step,
                            gradient_clip: training.gradient_clip,
                            stream: Stream::labelled(config.seed, "rl/fine_tuning").derive(&[step]),
                            pad,
                            step: completed,
                        },
                    )?;
                    kept.clear();
                    (
                        LossTerms {
                            total: loss,
                            policy: loss,
                            ..LossTerms::default()
                        },
                        norm,
                        None,
                    )
                } else {
                    (LossTerms::default(), 0.0, None)
                }
            }
            algorithm => update_policy(
                &PolicyUpdate {
                    algorithm,
                    model: &model,
                    value_head: value_head.as_ref(),
                    kl_coefficient,
                    estimator,
                    placement,
                    learning_rate,
                    gradient_clip: training.gradient_clip,
                    step: completed,
                    names: &names,
                },
                &mut rollout,
                &batches,
                &mut optimizer,
            )
            .map(|outcome: UpdateOutcome| {
                (
                    outcome.terms,
                    outcome.gradient_norm,
                    Some(outcome.advantages),
                )
            })?,
        };
        // Measured with the weights the samples were drawn with (filled by
        // the update's first pass when it measured them).
        let measured_kl = rollout.measured_kl();
        kl_controller.update(measured_kl, sample_count);

        let reward = rollout.mean_reward();
        final_reward = reward;
        metrics.record(&RlStepMetrics {
            step: completed,
            algorithm: training.algorithm.name(),
            reward,
            reward_spread: rollout.reward_spread(),
            accuracy: rollout.accuracy(),
            equal_reward_groups: rollout.equal_reward_groups(),
            kl_coefficient,
            kl: measured_kl,
            kl_per_token: rollout.measured_kl_per_token(),
            entropy: rollout.entropy_per_token(),
            loss: first_terms.total,
            policy_loss: first_terms.policy,
            kl_loss: first_terms.kl,
            value_loss: value_head.as_ref().map(|_| first_terms.value),
            learning_rate,
            gradient_norm: first_norm,
            advantage,
            completion_length: rollout.mean_completion_length(),
            truncated: rollout.truncated_share(),
            format_share: rollout.format_shares(),
            formats: rollout.format_steps(),
            kept: expert_iteration.then_some(kept.len()),
        })?;
        if snapshot_steps.contains(&completed) {
            write_model(
                &snapshot_directory(work_dir, completed),
                &parameters,
                &template,
                completed,
                tokens_sampled,
            )?;
        }
        tokens_this_process += rollout.completion_tokens() as u64;
        let elapsed = started.elapsed().as_secs_f64().max(1e-9);
        let steps_here = completed - first_step;
        observer.step(&StepReport {
            step: completed,
            total_steps,
            loss: first_terms.total,
            learning_rate,
            gradient_norm: first_norm,
            tokens_per_second: tokens_this_process as f64 / elapsed,
            remaining: Duration::from_secs_f64(
                elapsed / steps_here as f64 * (total_steps - completed) as f64,
            ),
        });
        if training.checkpoint_every > 0
            && completed % training.checkpoint_every == 0
            && completed < total_steps
        {
            let state = RlCheckpointState {
                format_version: RL_CHECKPOINT_FORMAT_VERSION,
                step: completed,
                optimizer_steps: optimizer.steps(),
                tokens: tokens_sampled,
                kl_controller: kl_controller.state(),
                kept: kept.clone(),
                fingerprint: fingerprint.clone(),
            };
            rl_checkpoint::save(work_dir, &state, &variables, &optimizer)?;
            observer.checkpointed(completed);
        }
    }

    let weights_blake3 = write_model(
        work_dir,
        &parameters,
        &template,
        total_steps,
        tokens_sampled,
    )?;
    observer.finished();
    Ok(RlOutcome {
        steps: total_steps,
        resumed_from,
        final_reward,
        weights_path,
        config_path,
        weights_blake3,
    })
}

/// blake3 over the starting weights, the tokenizer and the prompts.
fn inputs_digest(inputs: &RlInputs, base_weights: &[u8]) -> Result<String, RlError> {
    let mut hasher = blake3::Hasher::new();
    hasher.update(blake3::hash(base_weights).as_bytes());
    hasher.update(inputs.tokenizer.to_json().as_bytes());
    hasher.update(&serde_json::to_vec(&inputs.prompts)?);
    Ok(hasher.finalize().to_hex().to_string())
}
