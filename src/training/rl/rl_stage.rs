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

use candle_core::{Device, Tensor, Var};
use serde::Serialize;

use super::advantages::{generalized_advantages, group_baseline, group_normalized, returns_to_go};
use super::clipped_objective::{clipped_policy_loss_tensor, clipped_value_loss_tensor};
use super::rl_checkpoint::{
    KeptSample, RlCheckpoint, RlCheckpointState, RL_CHECKPOINT_FORMAT_VERSION,
};
use super::{
    sample_completions, Algorithm, Completion, JsonlLog, KlController, KlPlacement, MicroBatch,
    PromptOrder, PromptRequest, RlConfig, RlError, SamplingSettings, TrainingSequence, ValueHead,
};
use crate::data::{Document, Tokenizer};
use crate::evaluation::{grade, Answer, Classified};
use crate::model::{Gpt, Parameters};
use crate::random::Stream;
use crate::training::{
    clip_factor, global_norm, write_atomically, AdamW, AdamWConfig, ModelArtifact, Observer,
    StepReport, TrainingError, MODEL_ARTIFACT_FORMAT_VERSION,
};

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
struct SampleRecord<'a> {
    step: u64,
    prompt: usize,
    sample: usize,
    question: &'a str,
    completion: &'a str,
    format: &'static str,
    correct: bool,
}

/// Samples written to `samples.jsonl` per step: the first sample of this
/// many of the step's prompts.
const LOGGED_PROMPTS_PER_STEP: usize = 2;

/// The prompt of a question: the raw question, then a blank line, as in
/// the pretraining documents `question + "\n\n" + solution`.
pub fn prompt_text(question: &str) -> String {
    format!("{question}\n\n")
}

/// The state one update works on.
struct Rollout {
    sequences: Vec<TrainingSequence>,
    /// Per sequence: its prompt's index in the step (for groups).
    groups: Vec<usize>,
    rewards: Vec<f64>,
    old_log_probabilities: Vec<Vec<f64>>,
    reference_log_probabilities: Vec<Vec<f64>>,
    old_values: Vec<Vec<f64>>,
}

/// Sums of the loss terms over one pass.
#[derive(Default, Clone, Copy)]
struct LossTerms {
    total: f64,
    policy: f64,
    kl: f64,
    value: f64,
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
    let (reference, _) = Gpt::from_safetensors(
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

    let mut first_step = 0;
    let mut tokens_sampled = 0u64;
    let mut kept: Vec<KeptSample> = Vec::new();
    let resumed_from = match RlCheckpoint::latest(work_dir)? {
        Some(checkpoint) => {
            if checkpoint.state.fingerprint != fingerprint {
                return Err(TrainingError::CheckpointMismatch {
                    path: checkpoint.directory,
                }
                .into());
            }
            let weights_file = checkpoint.weights_path();
            let weights = std::fs::read(&weights_file).map_err(RlError::io(&weights_file))?;
            restore_variables(&variables, &weights, &weights_file)?;
            let optimizer_file = checkpoint.optimizer_path();
            let moments = std::fs::read(&optimizer_file).map_err(RlError::io(&optimizer_file))?;
            let moments = candle_core::safetensors::load_buffer(&moments, &device)?;
            optimizer.restore(&moments, checkpoint.state.optimizer_steps, &optimizer_file)?;
            kl_controller.restore(checkpoint.state.kl_controller);
            tokens_sampled = checkpoint.state.tokens;
            kept = checkpoint.state.kept.clone();
            first_step = checkpoint.state.step;
            Some(first_step)
        }
        None => None,
    };
    let keep_through = resumed_from;
    let mut metrics = JsonlLog::open(&work_dir.join("metrics.jsonl"), keep_through)?;
    let mut samples_log = JsonlLog::open(&work_dir.join("samples.jsonl"), keep_through)?;
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
        let mut rollout = Rollout {
            sequences: Vec::new(),
            groups: Vec::new(),
            rewards: Vec::new(),
            old_log_probabilities: Vec::new(),
            reference_log_probabilities: Vec::new(),
            old_values: Vec::new(),
        };
        let mut formats = [0usize; 4];
        let mut correct_count = 0usize;
        let mut completion_tokens = 0usize;
        for (group, (&prompt, samples)) in prompts.iter().zip(&completions).enumerate() {
            for (sample, completion) in samples.iter().enumerate() {
                let graded = grade(&completion.text, &references[prompt]);
                formats[format_slot(graded.format)] += 1;
                correct_count += usize::from(graded.correct);
                completion_tokens += completion.tokens.len();
                if group < LOGGED_PROMPTS_PER_STEP && sample == 0 {
                    samples_log.record(&SampleRecord {
                        step: completed,
                        prompt,
                        sample,
                        question: &inputs.prompts[prompt].question,
                        completion: &completion.text,
                        format: graded.format.name(),
                        correct: graded.correct,
                    })?;
                }
                if graded.correct {
                    let candidate = KeptSample {
                        prompt,
                        tokens: completion.tokens.clone(),
                    };
                    if matches!(training.algorithm, Algorithm::ExpertIteration { .. })
                        && !kept.contains(&candidate)
                    {
                        kept.push(candidate);
                    }
                }
                rollout
                    .sequences
                    .push(sequence_of(&prompt_tokens[prompt], completion));
                rollout.groups.push(group);
                rollout.rewards.push(if graded.correct { 1.0 } else { 0.0 });
            }
        }
        let sample_count = rollout.sequences.len();
        tokens_sampled += completion_tokens as u64;
        let batches = MicroBatch::plan(&rollout.sequences, pad)?;
        measure_rollout(
            &mut rollout,
            &batches,
            &model,
            &reference,
            value_head.as_ref(),
        )?;
        let measured_kl = rollout
            .old_log_probabilities
            .iter()
            .zip(&rollout.reference_log_probabilities)
            .map(|(policy, reference)| {
                policy
                    .iter()
                    .zip(reference)
                    .map(|(p, q)| p - q)
                    .sum::<f64>()
            })
            .sum::<f64>()
            / sample_count.max(1) as f64;
        let kl_coefficient = kl_controller.coefficient(step);
        let learning_rate = match training.algorithm {
            Algorithm::ExpertIteration { sft_lr, .. } => sft_lr,
            _ => adam.learning_rate * schedule.factor(step, total_steps),
        };

        // The update.
        let mut first_terms = LossTerms::default();
        let mut first_norm = 0.0;
        match &training.algorithm {
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
                    first_terms = LossTerms {
                        total: loss,
                        policy: loss,
                        ..LossTerms::default()
                    };
                    first_norm = norm;
                    kept.clear();
                }
            }
            algorithm => {
                let advantages =
                    compute_advantages(algorithm, &rollout, kl_coefficient, estimator, placement);
                let epochs = match algorithm {
                    Algorithm::Ppo { epochs, .. } | Algorithm::Grpo { epochs, .. } => *epochs,
                    _ => 1,
                };
                for epoch in 0..epochs {
                    let (terms, norm) = policy_update(
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
                        &rollout,
                        &advantages,
                        &batches,
                        &mut optimizer,
                    )?;
                    if epoch == 0 {
                        first_terms = terms;
                        first_norm = norm;
                    }
                }
            }
        }
        kl_controller.update(measured_kl, sample_count);

        let reward = rollout.rewards.iter().sum::<f64>() / sample_count.max(1) as f64;
        final_reward = reward;
        let share = |slot: usize| formats[slot] as f64 / sample_count.max(1) as f64;
        metrics.record(&RlStepMetrics {
            step: completed,
            algorithm: training.algorithm.name(),
            reward,
            accuracy: correct_count as f64 / sample_count.max(1) as f64,
            kl_coefficient,
            kl: measured_kl,
            loss: first_terms.total,
            policy_loss: first_terms.policy,
            kl_loss: first_terms.kl,
            value_loss: value_head.as_ref().map(|_| first_terms.value),
            learning_rate,
            gradient_norm: first_norm,
            completion_length: completion_tokens as f64 / sample_count.max(1) as f64,
            format_share: FormatShares {
                code: share(0),
                code_text: share(1),
                prose: share(2),
                unknown: share(3),
            },
            kept: matches!(training.algorithm, Algorithm::ExpertIteration { .. })
                .then_some(kept.len()),
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
        tokens_this_process += completion_tokens as u64;
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
            let moments = safetensors::serialize(optimizer.moments(), None)
                .map_err(crate::model::ModelError::from)?;
            RlCheckpoint::write(
                work_dir,
                &state,
                &serialize_variables(&variables)?,
                &moments,
            )?;
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

fn format_slot(format: Classified) -> usize {
    match format {
        Classified::Code => 0,
        Classified::CodeText => 1,
        Classified::Prose => 2,
        Classified::Unknown => 3,
    }
}

fn sequence_of(prompt: &[u32], completion: &Completion) -> TrainingSequence {
    let mut tokens = prompt.to_vec();
    tokens.extend_from_slice(&completion.tokens);
    TrainingSequence {
        tokens,
        prompt_length: prompt.len(),
    }
}

/// `snapshots/step-<N>` under `work_dir`.
pub fn snapshot_directory(work_dir: &Path, step: u64) -> PathBuf {
    work_dir.join("snapshots").join(format!("step-{step}"))
}

/// Writes `model.safetensors` and `config.json` into `directory`; returns
/// the weights' blake3.
fn write_model(
    directory: &Path,
    parameters: &Parameters,
    template: &ModelArtifact,
    steps: u64,
    tokens: u64,
) -> Result<String, RlError> {
    std::fs::create_dir_all(directory).map_err(RlError::io(directory))?;
    let weights = parameters.to_safetensors()?;
    let weights_blake3 = blake3::hash(&weights).to_hex().to_string();
    let artifact = ModelArtifact {
        format_version: MODEL_ARTIFACT_FORMAT_VERSION,
        parameter_count: parameters.scalar_count()?,
        weights_blake3: weights_blake3.clone(),
        steps,
        tokens,
        ..template.clone()
    };
    write_atomically(&ModelArtifact::weights_path(directory), &weights)?;
    write_atomically(
        &ModelArtifact::config_path(directory),
        &serde_json::to_vec_pretty(&artifact)?,
    )?;
    Ok(weights_blake3)
}

fn serialize_variables(variables: &[(String, Var)]) -> Result<Vec<u8>, RlError> {
    let tensors: Vec<(String, Tensor)> = variables
        .iter()
        .map(|(name, variable)| (name.clone(), variable.as_tensor().clone()))
        .collect();
    Ok(safetensors::serialize(tensors, None).map_err(crate::model::ModelError::from)?)
}

fn restore_variables(
    variables: &[(String, Var)],
    bytes: &[u8],
    source: &Path,
) -> Result<(), RlError> {
    let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)?;
    for (name, variable) in variables {
        let key = name;
        let Some(tensor) = tensors.get(key) else {
            return Err(TrainingError::MalformedCheckpoint {
                path: source.to_path_buf(),
                reason: format!("weight `{key}` is missing"),
            }
            .into());
        };
        if tensor.dims() != variable.dims() {
            return Err(TrainingError::MalformedCheckpoint {
                path: source.to_path_buf(),
                reason: format!("weight `{key}` has shape {:?}", tensor.dims()),
            }
            .into());
        }
        variable.set(tensor)?;
    }
    Ok(())
}

/// Fills the rollout's log-probabilities under the policy and the
/// reference, and the values, without gradients.
fn measure_rollout(
    rollout: &mut Rollout,
    batches: &[MicroBatch],
    model: &Gpt,
    reference: &Gpt,
    value_head: Option<&ValueHead>,
) -> Result<(), RlError> {
    let count = rollout.sequences.len();
    rollout.old_log_probabilities = vec![Vec::new(); count];
    rollout.reference_log_probabilities = vec![Vec::new(); count];
    rollout.old_values = vec![Vec::new(); count];
    for batch in batches {
        let policy = batch.forward(model, value_head)?;
        let reference_output = batch.forward(reference, None)?;
        let policy_rows = batch.gather(&policy.log_probabilities.detach())?;
        let reference_rows = batch.gather(&reference_output.log_probabilities.detach())?;
        let value_rows = match &policy.values {
            Some(values) => batch.gather(&values.detach())?,
            None => vec![Vec::new(); batch.rows.len()],
        };
        for (((&index, policy), reference), values) in batch
            .rows
            .iter()
            .zip(policy_rows)
            .zip(reference_rows)
            .zip(value_rows)
        {
            rollout.old_log_probabilities[index] = policy;
            rollout.reference_log_probabilities[index] = reference;
            rollout.old_values[index] = values;
        }
    }
    Ok(())
}

/// Per sequence, per completion token: the advantage, and for PPO the value
/// target.
struct Advantages {
    advantages: Vec<Vec<f64>>,
    returns: Vec<Vec<f64>>,
}

fn compute_advantages(
    algorithm: &Algorithm,
    rollout: &Rollout,
    kl_coefficient: f64,
    estimator: super::KlEstimator,
    placement: KlPlacement,
) -> Advantages {
    let count = rollout.sequences.len();
    // The per-token KL penalty in the reward (none when it is in the loss).
    let penalties: Vec<Vec<f64>> = (0..count)
        .map(|index| {
            rollout.old_log_probabilities[index]
                .iter()
                .zip(&rollout.reference_log_probabilities[index])
                .map(|(p, q)| match placement {
                    KlPlacement::Reward => kl_coefficient * estimator.estimate(p - q),
                    KlPlacement::Loss => 0.0,
                })
                .collect()
        })
        .collect();
    let group_count = rollout.groups.iter().max().map_or(0, |last| last + 1);
    let members = |group: usize| -> Vec<usize> {
        (0..count)
            .filter(|&index| rollout.groups[index] == group)
            .collect()
    };
    let mut advantages = vec![Vec::new(); count];
    let mut returns = vec![Vec::new(); count];
    match algorithm {
        Algorithm::Ppo {
            gae_lambda, gamma, ..
        } => {
            for index in 0..count {
                let mut rewards: Vec<f64> = penalties[index].iter().map(|kl| -kl).collect();
                if let Some(last) = rewards.last_mut() {
                    *last += rollout.rewards[index];
                }
                let (advantage, target) = generalized_advantages(
                    &rewards,
                    &rollout.old_values[index],
                    *gamma,
                    *gae_lambda,
                );
                advantages[index] = advantage;
                returns[index] = target;
            }
        }
        Algorithm::Grpo { .. } => {
            for group in 0..group_count {
                let indices = members(group);
                let rewards: Vec<f64> = indices
                    .iter()
                    .map(|&index| rollout.rewards[index] - penalties[index].iter().sum::<f64>())
                    .collect();
                for (&index, advantage) in indices.iter().zip(group_normalized(&rewards)) {
                    advantages[index] = vec![advantage; penalties[index].len()];
                }
            }
        }
        Algorithm::Reinforce | Algorithm::ExpertIteration { .. } => {
            for group in 0..group_count {
                let indices = members(group);
                let rewards: Vec<f64> = indices
                    .iter()
                    .map(|&index| rollout.rewards[index])
                    .collect();
                for (&index, centred) in indices.iter().zip(group_baseline(&rewards)) {
                    let mut shaped: Vec<f64> = penalties[index].iter().map(|kl| -kl).collect();
                    if let Some(last) = shaped.last_mut() {
                        *last += centred;
                    }
                    advantages[index] = returns_to_go(&shaped, 1.0);
                }
            }
        }
    }
    Advantages {
        advantages,
        returns,
    }
}

/// What one optimisation pass of PPO, GRPO or REINFORCE needs.
struct PolicyUpdate<'a> {
    algorithm: &'a Algorithm,
    model: &'a Gpt,
    value_head: Option<&'a ValueHead>,
    kl_coefficient: f64,
    estimator: super::KlEstimator,
    placement: KlPlacement,
    learning_rate: f64,
    gradient_clip: Option<f64>,
    step: u64,
    names: &'a [String],
}

/// One pass over the rollout, one optimizer step; returns the mean loss
/// terms per completion token and the gradient norm.
fn policy_update(
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
fn accumulate(
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
fn apply(
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

/// Expert Iteration's fine-tuning settings.
struct FineTuning {
    optimizer: AdamWConfig,
    epochs: u32,
    batch_size: usize,
    gradient_clip: Option<f64>,
    stream: Stream,
    pad: u32,
    step: u64,
}

/// Supervised fine-tuning on the kept samples: `epochs` passes in a seeded
/// shuffled order, `batch_size` sequences per optimizer step, the loss the
/// mean negative log-likelihood of the completion tokens (the prompt is
/// not trained on), a fresh AdamW at a constant learning rate. Returns the
/// last pass's mean loss and the last gradient norm.
fn fine_tune(
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
                    let prompt = &prompt_tokens[sample.prompt];
                    let mut tokens = prompt.clone();
                    tokens.extend_from_slice(&sample.tokens);
                    TrainingSequence {
                        tokens,
                        prompt_length: prompt.len(),
                    }
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
