//! The `training` benchmark group: pretraining speed of each model preset
//! (batch 32, sequence length 128, vocabulary 166), the time of one step
//! split into forward pass, backward pass and optimizer, the arithmetic
//! rate achieved against the peak of one large matrix product measured in
//! the same run, batched sampling speed, and the same figures for the
//! PyTorch reference (`scripts/pytorch_reference.py`) when it is available,
//! and the ceiling that the step's matrix products alone set on training
//! speed ([`matmul_ceiling`]).
//!
//! Floating-point operations are counted as `2 m n k` over the matrix
//! products of a step as [`matmul_ceiling`] lists them: every weight
//! matrix (and the tied output projection) once per token forward and
//! twice backward, and attention over all `t` keys (as the kernels compute
//! it before masking).

use std::time::{Duration, Instant};

use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};

use super::{decoding, matmul_ceiling, pytorch_reference, Bench, Group};
use crate::model::kernels::KernelPath;
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

/// Side of the square matrix product that measures the peak rate.
const PEAK_SIDE: usize = 1024;

/// GFLOP/s of one `PEAK_SIDE`-square matrix product, best of three.
fn peak_gigaflops() -> anyhow::Result<f64> {
    let device = Device::Cpu;
    let mut stream = Stream::labelled(0, "bench/peak");
    let values: Vec<f32> = (0..PEAK_SIDE * PEAK_SIDE)
        .map(|_| stream.next_f32() - 0.5)
        .collect();
    let matrix = Tensor::from_vec(values, (PEAK_SIDE, PEAK_SIDE), &device)?;
    let time = matmul_ceiling::product_time(&matrix, &matrix)?;
    Ok(2.0 * (PEAK_SIDE as f64).powi(3) / time.as_secs_f64() / 1e9)
}

fn run(bench: &mut Bench) -> anyhow::Result<()> {
    bench.start_group("training");
    let threads = candle_core::utils::get_num_threads();
    let peak = peak_gigaflops()?;
    bench.record(
        &format!("peak matmul {PEAK_SIDE}x{PEAK_SIDE}x{PEAK_SIDE}"),
        peak,
        "GFLOP/s",
        &format!("{threads} threads, best of 3"),
    );
    let mut pytorch_missing = None;
    for name in PRESET_NAMES {
        // The reference runs right before echolab on the same preset, so
        // that both meet about the same load from the rest of the machine.
        let reference = match pytorch_reference::measure(&[name], threads) {
            Ok(figures) => figures,
            Err(reason) => {
                pytorch_missing = Some(reason);
                Vec::new()
            }
        };
        let config =
            ModelConfig::preset(name).ok_or_else(|| anyhow::anyhow!("no preset `{name}`"))?;
        let timed_steps = if name == "medium" { 2 } else { 4 };
        let phases = measure(&config, timed_steps)?;
        let total = phases.forward + phases.backward + phases.optimizer;
        let per_step = |duration: Duration| duration.as_secs_f64() * 1e3 / timed_steps as f64;
        let tokens = (BATCH * LENGTH * timed_steps) as f64;
        let training_speed = tokens / total.as_secs_f64();
        let pytorch = reference.iter().find(|figures| figures.preset == name);
        bench.record(
            &format!(
                "{name} ({} params) training speed",
                config.parameter_count(VOCABULARY)
            ),
            training_speed,
            "tokens/s",
            &format!("{threads} threads, mean of {timed_steps} steps"),
        );
        let gigaflops = training_speed
            * matmul_ceiling::flops_per_token(&config, BATCH, LENGTH, VOCABULARY)
            / 1e9;
        bench.record(
            &format!("{name} training arithmetic rate"),
            gigaflops,
            "GFLOP/s",
            &format!("{:.0}% of the peak matmul", 100.0 * gigaflops / peak),
        );
        record_reference(
            bench,
            name,
            "training",
            training_speed,
            pytorch.map(|f| f.training_tokens_per_second),
        );
        let products = matmul_ceiling::step_time(&config, BATCH, LENGTH, VOCABULARY)?;
        let ceiling = (BATCH * LENGTH) as f64 / products.as_secs_f64();
        bench.record(
            &format!("{name} training ceiling, matrix products alone"),
            ceiling,
            "tokens/s",
            &format!(
                "{:.0} ms of products per step; echolab reaches {:.0}%",
                products.as_secs_f64() * 1e3,
                100.0 * training_speed / ceiling
            ),
        );
        if let Some(pytorch) = pytorch {
            bench.record(
                &format!("{name} training ceiling / PyTorch"),
                ceiling / pytorch.training_tokens_per_second,
                "x",
                "the most a step using this gemm could lead PyTorch by",
            );
            bench.record(
                &format!("{name} training ceiling with PyTorch's matmul"),
                pytorch.training_ceiling_tokens_per_second,
                "tokens/s",
                "the same products, each timed alone with torch.matmul",
            );
            bench.record(
                &format!("{name} training ceiling with PyTorch's matmul / PyTorch"),
                pytorch.training_ceiling_tokens_per_second / pytorch.training_tokens_per_second,
                "x",
                "the most a step using PyTorch's matmul could lead PyTorch by",
            );
        }
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
        let (model, _) = Gpt::initialize(
            &config,
            VOCABULARY,
            &Stream::labelled(0, "bench/training"),
            &Device::Cpu,
        )?;
        let sampling_speed = decoding::tokens_per_second(&model, 2)?;
        bench.record(
            &format!("{name} sampling speed"),
            sampling_speed,
            "tokens/s",
            &format!(
                "batch {}, greedy with cache to {} tokens, best of 2",
                decoding::SAMPLING_BATCH,
                decoding::SAMPLED_LENGTH
            ),
        );
        let composed = model.clone().with_kernel_path(KernelPath::Composed);
        bench.record(
            &format!("{name} sampling speed, composed kernels"),
            decoding::tokens_per_second(&composed, 1)?,
            "tokens/s",
            "the same without the fused kernels, for comparison",
        );
        record_reference(
            bench,
            name,
            "sampling",
            sampling_speed,
            pytorch.map(|f| f.sampling_tokens_per_second),
        );
    }
    if let Some(reason) = pytorch_missing {
        eprintln!("PyTorch: {reason}");
    }
    Ok(())
}

/// Records PyTorch's figure for `what` (`training` or `sampling`) and
/// echolab's speed as a multiple of it, when there is one.
fn record_reference(bench: &mut Bench, name: &str, what: &str, ours: f64, pytorch: Option<f64>) {
    let Some(pytorch) = pytorch else {
        return;
    };
    bench.record(
        &format!("{name} {what} speed, PyTorch"),
        pytorch,
        "tokens/s",
        "scripts/pytorch_reference.py, same run",
    );
    bench.record(
        &format!("{name} {what} speed, echolab / PyTorch"),
        ours / pytorch,
        "x",
        "",
    );
}

/// The optimizer of the bench's training workloads: AdamW at learning rate
/// 1e-3, betas 0.9 and 0.95, weight decay 0.1.
pub(super) fn optimizer(parameters: Vec<(String, Var)>) -> anyhow::Result<AdamW> {
    Ok(AdamW::new(
        parameters,
        AdamWConfig {
            learning_rate: LEARNING_RATE,
            beta1: 0.9,
            beta2: 0.95,
            epsilon: 1e-8,
            weight_decay: 0.1,
        },
    )?)
}

/// The bench's learning rate.
const LEARNING_RATE: f64 = 1e-3;

/// One optimizer step with `gradients` (in the optimizer's order), clipped
/// to norm 1.
pub(super) fn optimizer_step(optimizer: &mut AdamW, gradients: &[Tensor]) -> anyhow::Result<()> {
    let factor = clip_factor(global_norm(gradients)?, Some(1.0));
    optimizer.step(gradients, LEARNING_RATE, factor)?;
    Ok(())
}

/// The gradients in `store` of the optimizer's variables, in its order.
pub(super) fn gradients_in_order(
    optimizer: &AdamW,
    store: &GradStore,
) -> anyhow::Result<Vec<Tensor>> {
    optimizer
        .variables()
        .map(|(name, variable)| {
            store
                .get(variable.as_tensor())
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("no gradient for `{name}`"))
        })
        .collect()
}

/// Trains `config` for one untimed step, then `timed_steps` timed ones.
fn measure(config: &ModelConfig, timed_steps: usize) -> anyhow::Result<Phases> {
    let device = Device::Cpu;
    let stream = Stream::labelled(0, "bench/training");
    let (model, parameters) = Gpt::initialize(config, VOCABULARY, &stream, &device)?;
    let mut optimizer = optimizer(parameters.named()?)?;
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
        let gradients = gradients_in_order(&optimizer, &store)?;
        optimizer_step(&mut optimizer, &gradients)?;
        let optimizer_time = start.elapsed();
        if step > 0 {
            phases.forward += forward;
            phases.backward += backward;
            phases.optimizer += optimizer_time;
        }
    }
    Ok(phases)
}
