//! The `training` benchmark group: pretraining speed of each model preset
//! (batch 32, sequence length 128, vocabulary 166) and the time of one step
//! split into forward pass, backward pass and optimizer.

use std::time::{Duration, Instant};

use candle_core::{Device, Tensor};

use super::{Bench, Group};
use crate::model::{Gpt, ModelConfig, PRESET_NAMES};
use crate::random::Stream;
use crate::training::{clip_factor, global_norm, AdamW, AdamWConfig};

/// Sequences per step.
const BATCH: usize = 32;
/// Tokens per sequence.
const LENGTH: usize = 128;
/// The calibration tokenizer's vocabulary.
const VOCABULARY: usize = 166;

/// The group, for [`super::groups`].
pub fn group() -> Group {
    Group {
        name: "training",
        about: "pretraining tokens/s per preset (batch 32, context 128) and step time split",
        run,
    }
}

/// The time of the three phases of one training step.
#[derive(Default)]
struct Phases {
    forward: Duration,
    backward: Duration,
    optimizer: Duration,
}

fn run(bench: &mut Bench) -> anyhow::Result<()> {
    bench.start_group("training");
    let threads = candle_core::utils::get_num_threads();
    for name in PRESET_NAMES {
        let config =
            ModelConfig::preset(name).ok_or_else(|| anyhow::anyhow!("no preset `{name}`"))?;
        let timed_steps = if name == "medium" { 2 } else { 4 };
        let phases = measure(&config, timed_steps)?;
        let total = phases.forward + phases.backward + phases.optimizer;
        let per_step = |duration: Duration| duration.as_secs_f64() * 1e3 / timed_steps as f64;
        let tokens = (BATCH * LENGTH * timed_steps) as f64;
        bench.record(
            &format!(
                "{name} ({} params) training speed",
                config.parameter_count(VOCABULARY)
            ),
            tokens / total.as_secs_f64(),
            "tokens/s",
            &format!("{threads} threads, mean of {timed_steps} steps"),
        );
        bench.record(
            &format!("{name} forward per step"),
            per_step(phases.forward),
            "ms",
            "",
        );
        bench.record(
            &format!("{name} backward per step"),
            per_step(phases.backward),
            "ms",
            "",
        );
        bench.record(
            &format!("{name} optimizer per step"),
            per_step(phases.optimizer),
            "ms",
            "clip + AdamW",
        );
    }
    Ok(())
}

/// Trains `config` for one untimed step, then `timed_steps` timed ones.
fn measure(config: &ModelConfig, timed_steps: usize) -> anyhow::Result<Phases> {
    let device = Device::Cpu;
    let stream = Stream::labelled(0, "bench/training");
    let (model, parameters) = Gpt::initialize(config, VOCABULARY, &stream, &device)?;
    let mut optimizer = AdamW::new(
        parameters.named()?,
        AdamWConfig {
            learning_rate: 1e-3,
            beta1: 0.9,
            beta2: 0.95,
            epsilon: 1e-8,
            weight_decay: 0.1,
        },
    )?;
    let mut tokens = stream.derive(&[1]);
    let mut phases = Phases::default();
    for step in 0..=timed_steps {
        let batch: Vec<u32> = (0..BATCH * (LENGTH + 1))
            .map(|_| tokens.below(VOCABULARY as u64) as u32)
            .collect();
        let batch = Tensor::from_vec(batch, (BATCH, LENGTH + 1), &device)?;
        let start = Instant::now();
        let loss = model.next_token_loss(&batch)?;
        loss.to_scalar::<f32>()?;
        let forward = start.elapsed();
        let start = Instant::now();
        let store = loss.backward()?;
        let backward = start.elapsed();
        let start = Instant::now();
        let gradients = optimizer
            .variables()
            .map(|(name, variable)| {
                store
                    .get(variable.as_tensor())
                    .cloned()
                    .ok_or_else(|| anyhow::anyhow!("no gradient for `{name}`"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let factor = clip_factor(global_norm(&gradients)?, Some(1.0));
        optimizer.step(&gradients, 1e-3, factor)?;
        let optimizer_time = start.elapsed();
        if step > 0 {
            phases.forward += forward;
            phases.backward += backward;
            phases.optimizer += optimizer_time;
        }
    }
    Ok(phases)
}
