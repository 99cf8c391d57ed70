//! [`pretrain`]: the pretraining stage, from tokenised documents to
//! `model.safetensors`, resumable from its checkpoints.
//!
//! Deterministic by construction: weights come from the seeded stream,
//! the mixture from counter-free derived streams, gradients are reduced in
//! the sorted order of the weights' names, and candle's CPU kernels give the
//! same bits whatever the thread count (default features only; `mkl` or
//! `accelerate` would void this). Nothing written depends on time, except
//! the speeds in `metrics.jsonl`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use candle_core::{Device, Tensor};

use super::checkpoint::{Checkpoint, CheckpointState, CHECKPOINT_FORMAT_VERSION};
use super::gradient_clipping::{clip_factor, global_norm};
use super::metrics_log::{MetricsLog, MetricsRecord};
use super::model_artifact::MODEL_ARTIFACT_FORMAT_VERSION;
use super::{
    atomic_file, AdamW, HeldOutLoss, MixtureStream, ModelArtifact, Observer, PretrainConfig,
    PretrainData, StepReport, TrainingError,
};
use crate::model::Gpt;
use crate::random::Stream;

/// What a finished pretraining run reports.
#[derive(Debug, Clone, PartialEq)]
pub struct PretrainOutcome {
    /// Optimizer steps taken in all (including before a resume).
    pub steps: u64,
    /// Target tokens trained on in all.
    pub tokens: u64,
    /// The last step's training loss.
    pub final_loss: f64,
    /// The held-out loss per source after the last step.
    pub held_out: Vec<HeldOutLoss>,
    /// The checkpoint step this run resumed from, if any.
    pub resumed_from: Option<u64>,
    /// `model.safetensors`.
    pub weights_path: PathBuf,
    /// `config.json`.
    pub config_path: PathBuf,
    /// blake3 (hex) of `model.safetensors`.
    pub weights_blake3: String,
}

/// The held-out sequences of one source, packed like training sequences;
/// the last one is padded with EOS and its padded targets masked out.
pub(super) struct HeldOutSet {
    pub(super) source: String,
    /// `[sequences, length + 1]`.
    pub(super) tokens: Vec<Vec<u32>>,
    /// `[sequences, length]`: 1 for a real target, 0 for padding.
    pub(super) mask: Vec<Vec<f32>>,
}

impl HeldOutSet {
    pub(super) fn new(
        name: &str,
        documents: &[Vec<u32>],
        length: usize,
        limit: usize,
        eos: u32,
    ) -> Self {
        let stream: Vec<u32> = documents.iter().flatten().copied().collect();
        let mut tokens = Vec::new();
        let mut mask = Vec::new();
        let mut start = 0;
        while start + 1 < stream.len() && tokens.len() < limit {
            let end = (start + length + 1).min(stream.len());
            let mut sequence = stream[start..end].to_vec();
            let targets = sequence.len() - 1;
            sequence.resize(length + 1, eos);
            tokens.push(sequence);
            mask.push(
                (0..length)
                    .map(|index| if index < targets { 1.0 } else { 0.0 })
                    .collect(),
            );
            start += length;
        }
        HeldOutSet {
            source: name.to_string(),
            tokens,
            mask,
        }
    }

    fn loss(
        &self,
        model: &Gpt,
        batch: usize,
        device: &Device,
    ) -> Result<HeldOutLoss, TrainingError> {
        let mut total = 0.0f64;
        let mut count = 0.0f64;
        for (sequences, masks) in self.tokens.chunks(batch).zip(self.mask.chunks(batch)) {
            let rows = sequences.len();
            let tokens = Tensor::from_vec(sequences.concat(), (rows, sequences[0].len()), device)?;
            let mask = Tensor::from_vec(masks.concat(), (rows, masks[0].len()), device)?;
            let log_probabilities = model.token_log_probabilities(&tokens)?.detach();
            total -= f64::from((log_probabilities * &mask)?.sum_all()?.to_scalar::<f32>()?);
            count += f64::from(mask.sum_all()?.to_scalar::<f32>()?);
        }
        Ok(HeldOutLoss {
            source: self.source.clone(),
            loss: (count > 0.0).then(|| total / count),
        })
    }
}

/// Runs (or resumes) the pretraining stage in `work_dir`.
///
/// Writes `metrics.jsonl`, checkpoints under `checkpoints/` every
/// `checkpoint_interval` steps, and at the end `model.safetensors` and
/// `config.json`. If `work_dir` holds a checkpoint of the same
/// configuration and data, training continues from it and ends with the
/// same bytes as an uninterrupted run. A non-finite loss or gradient norm
/// stops the run with an error and no final artifacts.
pub fn pretrain(
    config: &PretrainConfig,
    data: &PretrainData,
    work_dir: &Path,
    observer: &mut dyn Observer,
) -> Result<PretrainOutcome, TrainingError> {
    config.validate()?;
    data.validate()?;
    std::fs::create_dir_all(work_dir).map_err(TrainingError::io(work_dir))?;
    let weights_path = ModelArtifact::weights_path(work_dir);
    let config_path = ModelArtifact::config_path(work_dir);
    for path in [&weights_path, &config_path] {
        if path.exists() {
            std::fs::remove_file(path).map_err(TrainingError::io(path))?;
        }
    }
    let fingerprint = config.fingerprint(&data.digest())?;
    let device = Device::Cpu;
    let (model, parameters) = Gpt::initialize(
        &config.model,
        data.vocabulary_size,
        &Stream::labelled(config.seed, "pretrain/initialization"),
        &device,
    )?;
    let mut optimizer = AdamW::new(parameters.named()?, config.optimizer)?;
    let mut mixture = MixtureStream::new(data, Stream::labelled(config.seed, "pretrain/mixture"));
    let length = config.sequence_length;
    let batch = config.batch_size;

    let mut first_step = 0;
    let resumed_from = match Checkpoint::<CheckpointState>::latest(work_dir)? {
        Some(checkpoint) => {
            if checkpoint.state.fingerprint != fingerprint {
                return Err(TrainingError::CheckpointMismatch {
                    path: checkpoint.directory,
                });
            }
            let weights_file = checkpoint.weights_path();
            let weights = std::fs::read(&weights_file).map_err(TrainingError::io(&weights_file))?;
            parameters.load_safetensors(&weights)?;
            let optimizer_file = checkpoint.optimizer_path();
            let moments =
                std::fs::read(&optimizer_file).map_err(TrainingError::io(&optimizer_file))?;
            let moments = candle_core::safetensors::load_buffer(&moments, &device)?;
            optimizer.restore(&moments, checkpoint.state.step, &optimizer_file)?;
            mixture.skip_to(checkpoint.state.tokens_consumed, length);
            first_step = checkpoint.state.step;
            Some(first_step)
        }
        None => None,
    };

    let mut metrics = MetricsLog::open(work_dir, first_step)?;
    let held_out_sets: Vec<HeldOutSet> = data
        .sources
        .iter()
        .map(|source| {
            HeldOutSet::new(
                &source.name,
                &source.held_out,
                length,
                config.held_out_sequences,
                data.eos_id,
            )
        })
        .collect();
    let total_steps = config.total_steps();
    let names: Vec<String> = optimizer
        .variables()
        .map(|(name, _)| name.to_string())
        .collect();
    observer.started(total_steps, first_step);

    let started = Instant::now();
    let mut final_loss = f64::NAN;
    let mut held_out = Vec::new();
    for step in first_step..total_steps {
        let completed = step + 1;
        let tokens = Tensor::from_vec(
            mixture.next_batch(batch, length),
            (batch, length + 1),
            &device,
        )?;
        let loss = model.next_token_loss(&tokens)?;
        let loss_value = loss.to_scalar::<f32>()?;
        if !loss_value.is_finite() {
            return Err(TrainingError::NonFiniteLoss {
                step: completed,
                loss: loss_value,
            });
        }
        let gradient_store = loss.backward()?;
        let gradients = optimizer
            .variables()
            .zip(&names)
            .map(|((_, variable), name)| {
                gradient_store
                    .get(variable.as_tensor())
                    .cloned()
                    .ok_or_else(|| TrainingError::MissingGradient { name: name.clone() })
            })
            .collect::<Result<Vec<Tensor>, TrainingError>>()?;
        let norm = global_norm(&gradients)?;
        if !norm.is_finite() {
            return Err(TrainingError::NonFiniteGradient {
                step: completed,
                norm,
            });
        }
        let learning_rate =
            config.optimizer.learning_rate * config.schedule.factor(step, total_steps);
        optimizer.step(
            &gradients,
            learning_rate,
            clip_factor(norm, config.gradient_clip),
        )?;
        final_loss = f64::from(loss_value);

        let elapsed = started.elapsed().as_secs_f64().max(1e-9);
        let steps_here = completed - first_step;
        let tokens_per_second = (steps_here * (batch * length) as u64) as f64 / elapsed;
        let remaining =
            Duration::from_secs_f64(elapsed / steps_here as f64 * (total_steps - completed) as f64);
        metrics.record(&MetricsRecord::Train {
            step: completed,
            loss: final_loss,
            learning_rate,
            gradient_norm: norm,
            tokens: mixture.tokens_consumed(),
        })?;
        observer.step(&StepReport {
            step: completed,
            total_steps,
            loss: final_loss,
            learning_rate,
            gradient_norm: norm,
            tokens_per_second,
            remaining,
        });

        let evaluate_now = (config.evaluation_interval > 0
            && completed % config.evaluation_interval == 0)
            || completed == total_steps;
        if evaluate_now {
            held_out = held_out_sets
                .iter()
                .map(|set| set.loss(&model, batch, &device))
                .collect::<Result<Vec<_>, _>>()?;
            for loss in &held_out {
                metrics.record(&MetricsRecord::HeldOut {
                    step: completed,
                    source: loss.source.clone(),
                    loss: loss.loss,
                })?;
            }
            observer.evaluated(completed, &held_out);
        }
        if config.checkpoint_interval > 0
            && completed % config.checkpoint_interval == 0
            && completed < total_steps
        {
            let state = CheckpointState {
                format_version: CHECKPOINT_FORMAT_VERSION,
                step: completed,
                tokens_consumed: mixture.tokens_consumed(),
                epoch: mixture.epoch(),
                fingerprint: fingerprint.clone(),
            };
            let moments = safetensors::serialize(optimizer.moments(), None)
                .map_err(crate::model::ModelError::from)?;
            Checkpoint::write(work_dir, &state, &parameters.to_safetensors()?, &moments)?;
            observer.checkpointed(completed);
        }
    }

    let weights = parameters.to_safetensors()?;
    let weights_blake3 = blake3::hash(&weights).to_hex().to_string();
    let artifact = ModelArtifact {
        format_version: MODEL_ARTIFACT_FORMAT_VERSION,
        model: config.model.clone(),
        vocabulary_size: data.vocabulary_size,
        eos_id: data.eos_id,
        parameter_count: parameters.scalar_count()?,
        weights_blake3: weights_blake3.clone(),
        steps: total_steps,
        tokens: mixture.tokens_consumed(),
        seed: config.seed,
    };
    atomic_file::write_atomically(&weights_path, &weights)?;
    atomic_file::write_atomically(&config_path, &serde_json::to_vec_pretty(&artifact)?)?;
    observer.finished();
    Ok(PretrainOutcome {
        steps: total_steps,
        tokens: mixture.tokens_consumed(),
        final_loss,
        held_out,
        resumed_from,
        weights_path,
        config_path,
        weights_blake3,
    })
}
