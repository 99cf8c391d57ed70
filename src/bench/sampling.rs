//! The `sampling` benchmark group: generation speed of the RL sampler
//! with the key-value cache (random weights, vocabulary 166, prompts of 24
//! tokens, 16 prompts x 8 samples, 64 new tokens each, no early EOS), for
//! the `tiny` and `small` presets; and the forward and backward pass of
//! one RL update over those 128 sequences (88 tokens each), in
//! micro-batches as the RL stage forms them.

use std::time::Instant;

use super::{Bench, Group};
use crate::model::{Gpt, ModelConfig};
use crate::random::Stream;
use crate::training::rl::{
    sample_completions, MicroBatch, PromptRequest, SamplingSettings, TrainingSequence,
    ROWS_PER_CACHE,
};

/// The calibration tokenizer's vocabulary.
const VOCABULARY: usize = 166;
const PROMPTS: usize = 16;
const SAMPLES: usize = 8;
const PROMPT_LENGTH: usize = 24;
const NEW_TOKENS: usize = 64;

/// The group, for [`super::groups`].
pub fn group() -> Group {
    Group {
        name: "sampling",
        about: "RL sampler tokens/s with the KV cache (16 prompts x 8 samples x 64 tokens)",
        run,
    }
}

fn run(bench: &mut Bench) -> anyhow::Result<()> {
    bench.start_group("sampling");
    let threads = candle_core::utils::get_num_threads();
    for name in ["tiny", "small"] {
        let config =
            ModelConfig::preset(name).ok_or_else(|| anyhow::anyhow!("no preset `{name}`"))?;
        let stream = Stream::labelled(0, "bench/sampling");
        let (model, _) = Gpt::initialize(&config, VOCABULARY, &stream, &candle_core::Device::Cpu)?;
        let mut tokens = stream.derive(&[1]);
        let requests: Vec<PromptRequest> = (0..PROMPTS)
            .map(|index| PromptRequest {
                tokens: (0..PROMPT_LENGTH)
                    .map(|_| 2 + tokens.below(VOCABULARY as u64 - 2) as u32)
                    .collect(),
                stream: stream.derive(&[2, index as u64]),
                samples: SAMPLES,
            })
            .collect();
        let settings = SamplingSettings {
            temperature: 1.0,
            top_p: 0.95,
            max_new_tokens: NEW_TOKENS,
        };
        // An id outside the vocabulary: no completion stops early.
        let never = VOCABULARY as u32;
        let decode = |_: &[u32]| String::new();
        let start = Instant::now();
        let completions = sample_completions(&model, &requests, &settings, never, &decode)?;
        let elapsed = start.elapsed().as_secs_f64();
        let generated: usize = completions.iter().flatten().map(|c| c.tokens.len()).sum();
        bench.record(
            &format!("{name} sampling speed"),
            generated as f64 / elapsed,
            "tokens/s",
            &format!("{threads} threads, {ROWS_PER_CACHE} rows per cache, one run"),
        );
        let sequences: Vec<TrainingSequence> = requests
            .iter()
            .zip(&completions)
            .flat_map(|(request, samples)| {
                samples.iter().map(|completion| {
                    let mut tokens = request.tokens.clone();
                    tokens.extend_from_slice(&completion.tokens);
                    TrainingSequence {
                        tokens,
                        prompt_length: PROMPT_LENGTH,
                    }
                })
            })
            .collect();
        let start = Instant::now();
        for batch in MicroBatch::plan(&sequences, 0)? {
            let output = batch.forward(&model, None)?;
            let loss = (output.log_probabilities * &batch.mask)?.sum_all()?.neg()?;
            loss.backward()?;
        }
        bench.record(
            &format!("{name} RL update forward+backward"),
            start.elapsed().as_secs_f64() * 1e3,
            "ms",
            "128 sequences of 88 tokens, one run",
        );
    }
    Ok(())
}
