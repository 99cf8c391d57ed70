//! The `sampling` benchmark group: generation speed of the RL sampler
//! with the key-value cache (random weights, vocabulary 166, prompts of 24
//! tokens, 16 prompts x 8 samples, 64 new tokens each, no early EOS), for
//! the `tiny` and `small` presets; and the forward and backward pass of
//! one RL update over those 128 sequences (88 tokens each), in
//! micro-batches as the RL stage forms them. Then one evaluation part's
//! answers (100 prompts of 29 lengths: a greedy answer, three forced ones
//! and 8 samples each, as `scale.echo`'s held-out set asks) decoded in five
//! calls, one per kind of answer, beside the same answers in one call,
//! whose prompts of one length share caches.

use std::time::Instant;

use super::{Bench, Group};
use crate::model::{Gpt, ModelConfig};
use crate::random::Stream;
use crate::training::rl::{
    decoded_rows, decoding_rows, sample_completions, sample_completions_with_first_token_mask,
    sample_requests, Completion, MicroBatch, PromptRequest, SamplingRequest, SamplingSettings,
    TrainingSequence,
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

/// A random token id below `vocabulary`, never the two reserved ids 0 and 1.
pub(super) fn random_token(stream: &mut Stream, vocabulary: usize) -> u32 {
    2 + stream.below(vocabulary as u64 - 2) as u32
}

/// `count` prompts of `length` random tokens (never the two reserved ids
/// 0 and 1), each asking for `samples` completions: tokens from `stream`'s
/// child 1, prompt `i`'s sampling from its child (2, i).
pub(super) fn random_prompts(
    stream: &Stream,
    count: usize,
    length: usize,
    samples: usize,
    vocabulary: usize,
) -> Vec<PromptRequest> {
    let mut tokens = stream.derive(&[1]);
    (0..count)
        .map(|index| PromptRequest {
            tokens: (0..length)
                .map(|_| random_token(&mut tokens, vocabulary))
                .collect(),
            stream: stream.derive(&[2, index as u64]),
            samples,
        })
        .collect()
}

/// Each request's prompt followed by each of its completions, in order.
pub(super) fn sequences_of(
    requests: &[PromptRequest],
    completions: &[Vec<Completion>],
) -> Vec<TrainingSequence> {
    requests
        .iter()
        .zip(completions)
        .flat_map(|(request, samples)| {
            samples
                .iter()
                .map(|completion| TrainingSequence::new(&request.tokens, &completion.tokens))
        })
        .collect()
}

fn run(bench: &mut Bench) -> anyhow::Result<()> {
    bench.start_group("sampling");
    let threads = candle_core::utils::get_num_threads();
    for name in ["tiny", "small"] {
        let config =
            ModelConfig::preset(name).ok_or_else(|| anyhow::anyhow!("no preset `{name}`"))?;
        let stream = Stream::labelled(0, "bench/sampling");
        let (model, _) = Gpt::initialize(&config, VOCABULARY, &stream, &candle_core::Device::Cpu)?;
        let requests = random_prompts(&stream, PROMPTS, PROMPT_LENGTH, SAMPLES, VOCABULARY);
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
            &format!(
                "{threads} threads, at most {} rows per cache, one run",
                decoding_rows(&model)
            ),
        );
        let sequences = sequences_of(&requests, &completions);
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
    evaluation_part(bench)
}

/// Prompts in one evaluation part, their distinct lengths (as measured on
/// `scale.echo`'s held-out set: 100 problems, 29 prompt lengths) and the
/// tokens the two prefilled forced formats append.
const PART_PROMPTS: usize = 100;
const PART_LENGTHS: usize = 29;
const PREFILLS: [usize; 2] = [9, 14];

/// One evaluation part's answers asked kind by kind, then all at once.
fn evaluation_part(bench: &mut Bench) -> anyhow::Result<()> {
    let threads = candle_core::utils::get_num_threads();
    let config = ModelConfig::preset("tiny").ok_or_else(|| anyhow::anyhow!("no preset `tiny`"))?;
    let stream = Stream::labelled(0, "bench/evaluation-part");
    let (model, _) = Gpt::initialize(&config, VOCABULARY, &stream, &candle_core::Device::Cpu)?;
    let mut tokens = stream.derive(&[1]);
    let mut token = || random_token(&mut tokens, VOCABULARY);
    let greedy: Vec<PromptRequest> = (0..PART_PROMPTS)
        .map(|index| PromptRequest {
            tokens: (0..16 + (index * 7) % PART_LENGTHS)
                .map(|_| token())
                .collect(),
            stream: stream.derive(&[2, index as u64]),
            samples: 1,
        })
        .collect();
    let prefilled: Vec<Vec<PromptRequest>> = PREFILLS
        .iter()
        .map(|&extra| {
            greedy
                .iter()
                .map(|prompt| {
                    let mut prompt = prompt.clone();
                    prompt.tokens.extend((0..extra).map(|_| token()));
                    prompt
                })
                .collect()
        })
        .collect();
    let sampled: Vec<PromptRequest> = greedy
        .iter()
        .map(|prompt| PromptRequest {
            samples: 8,
            ..prompt.clone()
        })
        .collect();
    let greedy_settings = SamplingSettings {
        temperature: 0.0,
        top_p: 1.0,
        max_new_tokens: NEW_TOKENS,
    };
    let sampling = SamplingSettings {
        temperature: 1.0,
        top_p: 0.95,
        ..greedy_settings
    };
    let forced_settings = |extra: usize| SamplingSettings {
        max_new_tokens: NEW_TOKENS - extra,
        ..greedy_settings
    };
    // The forced prose answer's mask: two tokens it cannot start with.
    let mask = [2u32, 3];
    // An id outside the vocabulary: no completion stops early.
    let never = VOCABULARY as u32;
    let decode = |_: &[u32]| String::new();

    let start = Instant::now();
    let mut separately: Vec<Vec<Completion>> = Vec::new();
    separately.extend(sample_completions(
        &model,
        &greedy,
        &greedy_settings,
        never,
        &decode,
    )?);
    for (prompts, extra) in prefilled.iter().zip(PREFILLS) {
        let settings = forced_settings(extra);
        separately.extend(sample_completions(
            &model, prompts, &settings, never, &decode,
        )?);
    }
    separately.extend(sample_completions_with_first_token_mask(
        &model,
        &greedy,
        &greedy_settings,
        never,
        &decode,
        &mask,
    )?);
    separately.extend(sample_completions(
        &model, &sampled, &sampling, never, &decode,
    )?);
    let separate_seconds = start.elapsed().as_secs_f64();

    let mut requests: Vec<SamplingRequest<'_>> = Vec::new();
    let unmasked = |prompt, settings| SamplingRequest {
        prompt,
        settings,
        forbidden_first_tokens: &[],
    };
    requests.extend(
        greedy
            .iter()
            .map(|prompt| unmasked(prompt, greedy_settings)),
    );
    for (prompts, extra) in prefilled.iter().zip(PREFILLS) {
        let settings = forced_settings(extra);
        requests.extend(prompts.iter().map(|prompt| unmasked(prompt, settings)));
    }
    requests.extend(greedy.iter().map(|prompt| SamplingRequest {
        prompt,
        settings: greedy_settings,
        forbidden_first_tokens: &mask,
    }));
    requests.extend(sampled.iter().map(|prompt| unmasked(prompt, sampling)));
    let start = Instant::now();
    let together = sample_requests(&model, &requests, never, &decode)?;
    let together_seconds = start.elapsed().as_secs_f64();
    anyhow::ensure!(
        together == separately,
        "the answers asked in one call differ from those asked kind by kind"
    );
    let kinds = [&greedy, &prefilled[0], &prefilled[1], &greedy, &sampled];
    let separate_rows: usize = kinds
        .iter()
        .map(|kind| decoded_rows(&model, kind.iter()))
        .sum();
    let together_rows = decoded_rows(&model, requests.iter().map(|request| request.prompt));
    let answers = PART_PROMPTS * (4 + 8);
    bench.record(
        "evaluation part, one call per kind of answer",
        separate_seconds,
        "s",
        &format!("{answers} answers in {separate_rows} decoded rows, tiny, {threads} threads"),
    );
    bench.record(
        "evaluation part, one call",
        together_seconds,
        "s",
        &format!(
            "the same answers in {together_rows} decoded rows, {:.2}x faster",
            separate_seconds / together_seconds
        ),
    );
    Ok(())
}
