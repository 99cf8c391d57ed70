//! The `memory` benchmark group: the peak resident memory of the work each
//! kind of stage does, per model preset, beside what a Slurm job of that
//! kind asks for by default (`src/runtime/slurm/resources.rs`).
//!
//! Each workload runs in a child process of its own (`echolab bench
//! --memory-child WORKLOAD`, the same binary, so the same allocator
//! settings as a real run: see [`crate::model::tune_process`]), which
//! prints its peak resident set (`VmHWM` in `/proc/self/status`) when done.
//! A fresh process per workload keeps one workload's peak out of the
//! next's. The workloads are the experiments' shapes with random weights:
//!
//! - `pretrain`: two AdamW steps at batch 32, context 192, the 647-token
//!   vocabulary of the default experiment;
//! - `rl`: one GRPO-sized step: 16 prompts of 60 tokens x 8 samples of 120
//!   new tokens (no completion stops early), the policy and a frozen
//!   reference measured over them in micro-batches, gradients summed, one
//!   AdamW step;
//! - `evaluation`: one (step, set) part: 100 prompts of 29 lengths, 4
//!   greedy and 8 sampled answers each, up to 120 new tokens, asked in one
//!   sampler call;
//! - `idle`: the process and nothing else, the floor under the others.
//!
//! Linux only (the figure comes from `/proc`); elsewhere the group says so.

use std::process::Command;

use anyhow::Context;
use candle_core::{Device, Tensor};

use super::sampling::{random_prompts, random_token, sequences_of};
use super::training::{gradients_in_order, optimizer, optimizer_step};
use super::{Bench, Group};
use crate::model::{Gpt, ModelConfig, PRESET_NAMES};
use crate::plan::StageKind;
use crate::random::Stream;
use crate::runtime::slurm::Resources;
use crate::training::rl::{
    sample_completions, sample_requests, MicroBatch, PromptRequest, SamplingRequest,
    SamplingSettings,
};

/// The default experiment's word-level vocabulary.
const VOCABULARY: usize = 647;
/// Pretraining's sequences per step.
const BATCH: usize = 32;
/// RL's prompts per step and samples per prompt.
const RL_PROMPTS: usize = 16;
const RL_SAMPLES: usize = 8;
/// A prompt's tokens in the RL workload.
const PROMPT_LENGTH: usize = 60;
/// The answer limit of the experiments' RL and evaluation stages.
const NEW_TOKENS: usize = 120;
/// One evaluation part: prompts, their distinct lengths, greedy answers
/// (one plain, three forced) and sampled answers per prompt.
const PART_PROMPTS: usize = 100;
const PART_LENGTHS: usize = 29;
const PART_GREEDY: usize = 4;
const PART_SAMPLES: usize = 8;

/// The line a child prints its peak on.
const PEAK_PREFIX: &str = "peak_kib=";

/// The group, for [`super::groups`].
pub fn group() -> Group {
    Group {
        name: "memory",
        about: "peak resident memory of a pretraining step, an RL step and an evaluation part per preset",
        run,
    }
}

/// The child workload that starts and computes nothing.
const IDLE: &str = "idle";

/// The work of one kind of stage, run in a child for a preset
/// (`KIND:PRESET` on the child's command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    Pretrain,
    Rl,
    Evaluation,
}

impl Workload {
    const ALL: [Workload; 3] = [Workload::Pretrain, Workload::Rl, Workload::Evaluation];

    fn name(self) -> &'static str {
        match self {
            Workload::Pretrain => "pretrain",
            Workload::Rl => "rl",
            Workload::Evaluation => "evaluation",
        }
    }

    /// The kind of stage whose Slurm default it is held to.
    fn stage_kind(self) -> StageKind {
        match self {
            Workload::Pretrain => StageKind::Pretrain,
            Workload::Rl => StageKind::Rl,
            Workload::Evaluation => StageKind::Eval,
        }
    }

    fn parse(name: &str) -> Option<Workload> {
        Workload::ALL
            .into_iter()
            .find(|workload| workload.name() == name)
    }

    fn run(self, config: &ModelConfig) -> anyhow::Result<()> {
        match self {
            Workload::Pretrain => pretraining_steps(config),
            Workload::Rl => rl_step(config),
            Workload::Evaluation => evaluation_part(config),
        }
    }
}

fn run(bench: &mut Bench) -> anyhow::Result<()> {
    if !cfg!(target_os = "linux") {
        bench.record("peak memory", f64::NAN, "MiB", "measured on Linux only");
        return Ok(());
    }
    let idle = measure_in_child(IDLE)?;
    bench.record(
        "idle process peak memory",
        idle,
        "MiB",
        "the binary started, nothing computed",
    );
    for preset in PRESET_NAMES {
        for workload in Workload::ALL {
            let peak = measure_in_child(&format!("{}:{preset}", workload.name()))?;
            let asked = Resources::default_for(workload.stage_kind()).memory_mebibytes;
            bench.record(
                &format!("{preset} {} peak memory", workload.name()),
                peak,
                "MiB",
                &format!(
                    "{:.0}% of the {asked} MiB a Slurm {} job asks for",
                    100.0 * peak / asked as f64,
                    workload.stage_kind().name()
                ),
            );
        }
    }
    Ok(())
}

/// Runs `echolab bench --memory-child WORKLOAD` and returns its peak in MiB.
fn measure_in_child(workload: &str) -> anyhow::Result<f64> {
    let binary = std::env::current_exe().context("cannot find the running binary")?;
    let output = Command::new(&binary)
        .args(["bench", "--memory-child", workload])
        .output()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        anyhow::bail!(
            "the `{workload}` memory workload failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let kibibytes: f64 = stdout
        .lines()
        .find_map(|line| line.strip_prefix(PEAK_PREFIX))
        .and_then(|value| value.trim().parse().ok())
        .with_context(|| format!("the `{workload}` memory workload printed no peak: {stdout}"))?;
    Ok(kibibytes / 1024.0)
}

/// The child's side: runs `workload` (`idle` or `KIND:PRESET`) and prints
/// the process's peak resident set.
pub fn run_child(workload: &str) -> anyhow::Result<()> {
    let (kind, preset) = match workload.split_once(':') {
        Some((kind, preset)) => (kind, Some(preset)),
        None => (workload, None),
    };
    if workload != IDLE {
        let kind = Workload::parse(kind)
            .with_context(|| format!("unknown memory workload `{workload}`"))?;
        let name =
            preset.with_context(|| format!("the memory workload `{workload}` needs a preset"))?;
        let config = ModelConfig::preset(name).with_context(|| format!("no preset `{name}`"))?;
        kind.run(&config)?;
    }
    println!("{PEAK_PREFIX}{}", peak_resident_kibibytes()?);
    Ok(())
}

/// `VmHWM` of `/proc/self/status`, in KiB.
fn peak_resident_kibibytes() -> anyhow::Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("cannot read /proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .context("/proc/self/status has no VmHWM line")
}

fn pretraining_steps(config: &ModelConfig) -> anyhow::Result<()> {
    let device = Device::Cpu;
    let stream = Stream::labelled(0, "bench/memory/pretrain");
    let (model, parameters) = Gpt::initialize(config, VOCABULARY, &stream, &device)?;
    let mut optimizer = optimizer(parameters.named()?)?;
    let mut tokens = stream.derive(&[1]);
    let length = config.context;
    for _ in 0..2 {
        let batch: Vec<u32> = (0..BATCH * (length + 1))
            .map(|_| tokens.below(VOCABULARY as u64) as u32)
            .collect();
        let batch = Tensor::from_vec(batch, (BATCH, length + 1), &device)?;
        let store = model.next_token_loss(&batch)?.backward()?;
        let gradients = gradients_in_order(&optimizer, &store)?;
        optimizer_step(&mut optimizer, &gradients)?;
    }
    Ok(())
}

fn rl_step(config: &ModelConfig) -> anyhow::Result<()> {
    let device = Device::Cpu;
    let stream = Stream::labelled(0, "bench/memory/rl");
    let (model, parameters) = Gpt::initialize(config, VOCABULARY, &stream, &device)?;
    let (reference, _) = Gpt::initialize(config, VOCABULARY, &stream, &device)?;
    let mut optimizer = optimizer(parameters.named()?)?;
    let requests = random_prompts(&stream, RL_PROMPTS, PROMPT_LENGTH, RL_SAMPLES, VOCABULARY);
    let settings = SamplingSettings {
        temperature: 1.0,
        top_p: 1.0,
        max_new_tokens: NEW_TOKENS,
    };
    // An id outside the vocabulary: no completion stops early.
    let never = VOCABULARY as u32;
    let completions = sample_completions(&model, &requests, &settings, never, &|_| String::new())?;
    let batches = MicroBatch::plan(&sequences_of(&requests, &completions), 0)?;
    for batch in &batches {
        batch.gather(&batch.forward(&model, None)?.log_probabilities.detach())?;
        batch.gather(&batch.forward(&reference, None)?.log_probabilities.detach())?;
    }
    let mut sums: Vec<Option<Tensor>> = vec![None; optimizer.variables().count()];
    for batch in &batches {
        let output = batch.forward(&model, None)?;
        let store = (output.log_probabilities * &batch.mask)?
            .sum_all()?
            .neg()?
            .backward()?;
        for (sum, (name, variable)) in sums.iter_mut().zip(optimizer.variables()) {
            let gradient = store
                .get(variable.as_tensor())
                .with_context(|| format!("no gradient for `{name}`"))?;
            *sum = Some(match sum.take() {
                Some(total) => (total + gradient)?,
                None => gradient.clone(),
            });
        }
    }
    let gradients = sums
        .into_iter()
        .map(|sum| sum.context("a weight got no gradient"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    optimizer_step(&mut optimizer, &gradients)
}

fn evaluation_part(config: &ModelConfig) -> anyhow::Result<()> {
    let stream = Stream::labelled(0, "bench/memory/evaluation");
    let (model, _) = Gpt::initialize(config, VOCABULARY, &stream, &Device::Cpu)?;
    let greedy = SamplingSettings {
        temperature: 0.0,
        top_p: 1.0,
        max_new_tokens: NEW_TOKENS,
    };
    let sampled = SamplingSettings {
        temperature: 1.0,
        ..greedy
    };
    // Per prompt: its greedy answers, then its sampled ones.
    let mut tokens = stream.derive(&[1]);
    let prompts: Vec<(PromptRequest, SamplingSettings)> = (0..PART_PROMPTS)
        .flat_map(|index| {
            let prompt: Vec<u32> = (0..40 + (index * 7) % PART_LENGTHS)
                .map(|_| random_token(&mut tokens, VOCABULARY))
                .collect();
            [(PART_GREEDY, greedy, 1), (PART_SAMPLES, sampled, 2)].map(
                |(samples, settings, label)| {
                    let request = PromptRequest {
                        tokens: prompt.clone(),
                        stream: stream.derive(&[label, index as u64]),
                        samples,
                    };
                    (request, settings)
                },
            )
        })
        .collect();
    let requests: Vec<SamplingRequest> = prompts
        .iter()
        .map(|(prompt, settings)| SamplingRequest {
            prompt,
            settings: *settings,
            forbidden_first_tokens: &[],
        })
        .collect();
    sample_requests(&model, &requests, VOCABULARY as u32, &|_| String::new())?;
    Ok(())
}
