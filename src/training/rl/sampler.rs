//! [`sample_completions`]: batched generation with the model's preallocated
//! key-value cache, temperature and nucleus (top-p) sampling, or greedy
//! decoding.
//!
//! Every row of a cache must have the same length, so the rows of one
//! cache are the samples of prompts of one token length: prompts are
//! grouped by length (which also avoids padding), and each group is
//! decoded together until every row has produced EOS or its token limit.
//! A finished row keeps being fed its last token (EOS, or the last one
//! before its limit); what it computes then is dropped.
//!
//! Randomness: sample `j` of a prompt draws its `t`-th token with the
//! `t`-th number of `prompt.stream.derive(&[j])`, so a sample depends only
//! on the prompt's stream key (the stage uses seed, step and prompt
//! position), the sample index and the model, never on which prompts share
//! its batch or on the thread count (a test checks this).
//!
//! Floating point: a row's logits must not depend on the rows decoded
//! with it, or a token whose random number falls on a boundary could flip.
//! Every product of a decoding step sums each output value in one chain
//! over the inner dimension whatever the number of rows, except at very
//! few rows, where the matrix-product crate takes other routes (one row: a
//! matrix-vector product; `rows * columns <= 256`, with `columns` the
//! width or the vocabulary: lane-parallel dot products). A cache therefore
//! holds the rows of one length group, at most [`ROWS_PER_CACHE`], and a
//! chunk with fewer rows than
//! [`cache_rows`] gives is padded with copies of its last row (whose output
//! is dropped) up to that number: 3 rows for `small`, 4 for `tiny`, 2 for
//! `medium`. A row's arithmetic is then the same whatever rows it is
//! decoded with (`tests/rl_sampling.rs` checks every cache size from the
//! fewest to 40 rows bit for bit). Until stage semantics 3 every cache was
//! padded to 16 rows, which gave the same bits at a higher cost: an RL
//! step's 16 prompts x 8 samples fill caches of 8 rows.
//!
//! Constraints: [`sample_completions_with_first_token_mask`] forbids some
//! tokens at the first generated position (their logits become minus
//! infinity before the choice), which the evaluation uses to keep a
//! forced prose answer from starting another format's opening. A prefill
//! (text the answer must start with) needs nothing here: it is appended
//! to the prompt's tokens.

use std::collections::BTreeMap;

use candle_core::{Device, Tensor};

use crate::model::kernels::{exp, fewest_rows_of_the_general_route, lanes};
use crate::model::{Gpt, ModelError};
use crate::random::Stream;

/// How tokens are chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplingSettings {
    /// Logits are divided by this before the softmax; 0 means greedy
    /// decoding (the most likely token, the lowest id on a tie).
    pub temperature: f64,
    /// Keep the smallest set of most likely tokens whose probability
    /// reaches `top_p`, renormalised (1 keeps every token).
    pub top_p: f64,
    /// The most tokens generated per completion (EOS included).
    pub max_new_tokens: usize,
}

/// A prompt to sample from.
#[derive(Debug, Clone)]
pub struct PromptRequest {
    /// The prompt's token ids.
    pub tokens: Vec<u32>,
    /// The prompt's stream; sample `j` uses `stream.derive(&[j])`.
    pub stream: Stream,
    /// How many completions to sample.
    pub samples: usize,
}

/// One sampled completion: what the model wrote after the prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The generated token ids, ending with EOS when [`Completion::finished`].
    pub tokens: Vec<u32>,
    /// The decoded text (EOS writes nothing).
    pub text: String,
    /// Per generated token, its log-probability under the model's
    /// untempered distribution (temperature 1, no top-p).
    pub log_probabilities: Vec<f64>,
    /// Per generated token, the entropy (nats) of that untempered
    /// distribution at its position.
    pub entropies: Vec<f64>,
    /// Whether the completion ended with EOS (else it hit the limit).
    pub finished: bool,
}

/// The most rows of one decoding cache (see the module doc): a length
/// group with more is decoded in several caches.
pub const ROWS_PER_CACHE: usize = 16;

/// The rows a decoding cache of `real_rows` rows of `model` holds: at least
/// enough that every product of a decoding step takes the route it takes
/// with many rows (see the module doc).
pub fn cache_rows(model: &Gpt, real_rows: usize) -> usize {
    // The narrowest product of a step: the attention's output projection
    // and the MLP's second layer give `width` columns, the logits
    // `vocabulary` (narrower only in tests).
    let narrowest = model.config().width.min(model.vocabulary_size());
    real_rows.max(fewest_rows_of_the_general_route(narrowest))
}

/// The tokens kept by nucleus filtering of `probabilities`, most likely
/// first (ties by lower id), with probabilities renormalised to sum to 1.
/// Always keeps at least one token.
pub fn top_p_filter(probabilities: &[f64], top_p: f64) -> Vec<(usize, f64)> {
    let mut order: Vec<usize> = (0..probabilities.len()).collect();
    order.sort_by(|&left, &right| {
        probabilities[right]
            .total_cmp(&probabilities[left])
            .then(left.cmp(&right))
    });
    let mut kept = Vec::new();
    let mut cumulative = 0.0;
    for index in order {
        kept.push((index, probabilities[index]));
        cumulative += probabilities[index];
        if cumulative >= top_p {
            break;
        }
    }
    let total: f64 = kept.iter().map(|(_, probability)| probability).sum();
    if total > 0.0 {
        for (_, probability) in &mut kept {
            *probability /= total;
        }
    }
    kept
}

/// Log-softmax of `logits` in `f64` (the crate's own logarithm and
/// exponential, so the same bits on every machine).
pub fn log_softmax(logits: &[f32]) -> Vec<f64> {
    let maximum = logits
        .iter()
        .fold(f64::NEG_INFINITY, |best, &value| best.max(f64::from(value)));
    let sum: f64 = logits
        .iter()
        .map(|&value| libm::exp(f64::from(value) - maximum))
        .sum();
    let log_sum = maximum + libm::log(sum);
    logits
        .iter()
        .map(|&value| f64::from(value) - log_sum)
        .collect()
}

/// Chooses the next token from one row of `logits` with `uniform` in
/// `[0, 1)`; returns the token, its untempered log-probability and the
/// untempered entropy.
///
/// One pass of `f32` exponentials (the kernels' vectorised `exp`, sums in
/// their fixed lane order) gives the untempered distribution; sampling at
/// temperature 1 without top-p walks its weights in token order until
/// their running sum passes `uniform` times the total, so nothing is
/// sorted. Another temperature weighs the logits again; top-p below 1
/// sorts the tempered probabilities ([`top_p_filter`]).
pub fn choose_token(logits: &[f32], settings: &SamplingSettings, uniform: f64) -> (u32, f64, f64) {
    let maximum = lanes::maximum(logits);
    let shifted: Vec<f32> = logits.iter().map(|&value| value - maximum).collect();
    let weights: Vec<f32> = shifted.iter().map(|&value| exp(value)).collect();
    let total = lanes::sum(&weights);
    let log_total = f64::from(libm::logf(total));
    // Entropy: log Z - sum(w (x - max)) / Z; masked tokens (w = 0, x = -inf) add nothing.
    let weighted: Vec<f32> = weights
        .iter()
        .zip(&shifted)
        .map(|(&weight, &value)| if weight > 0.0 { weight * value } else { 0.0 })
        .collect();
    let entropy = log_total - f64::from(lanes::sum(&weighted)) / f64::from(total);
    let token = if settings.temperature <= 0.0 {
        let mut best = 0;
        for (index, value) in logits.iter().enumerate() {
            if *value > logits[best] {
                best = index;
            }
        }
        best
    } else {
        let tempered: Vec<f32> = if settings.temperature == 1.0 {
            weights.clone()
        } else {
            let inverse = (1.0 / settings.temperature) as f32;
            shifted.iter().map(|&value| exp(value * inverse)).collect()
        };
        if settings.top_p < 1.0 {
            let tempered_total = f64::from(lanes::sum(&tempered));
            let probabilities: Vec<f64> = tempered
                .iter()
                .map(|&weight| f64::from(weight) / tempered_total)
                .collect();
            pick(&top_p_filter(&probabilities, settings.top_p), uniform)
        } else {
            pick_in_order(&tempered, uniform)
        }
    };
    let log_probability = f64::from(shifted[token]) - log_total;
    (token as u32, log_probability, entropy)
}

/// The first token whose running sum of `weights` (in token order) passes
/// `uniform` times their total; the last token of positive weight if
/// rounding leaves the target unreached.
fn pick_in_order(weights: &[f32], uniform: f64) -> usize {
    let target = uniform * f64::from(lanes::sum(weights));
    let mut cumulative = 0f64;
    let mut last_possible = 0;
    for (index, &weight) in weights.iter().enumerate() {
        if weight > 0.0 {
            cumulative += f64::from(weight);
            last_possible = index;
            if target < cumulative {
                return index;
            }
        }
    }
    last_possible
}

/// The token of `kept` (probabilities summing to 1) where the running sum
/// passes `uniform`.
fn pick(kept: &[(usize, f64)], uniform: f64) -> usize {
    let mut cumulative = 0.0;
    for (index, probability) in kept {
        cumulative += probability;
        if uniform < cumulative {
            return *index;
        }
    }
    kept.last().map_or(0, |(index, _)| *index)
}

/// A prompt with its own decoding: for [`sample_requests`], which decodes
/// prompts of one length together whatever their settings.
#[derive(Debug, Clone, Copy)]
pub struct SamplingRequest<'a> {
    /// The prompt, its stream and how many completions.
    pub prompt: &'a PromptRequest,
    /// How its tokens are chosen.
    pub settings: SamplingSettings,
    /// Tokens that cannot be its first generated token (see
    /// [`sample_completions_with_first_token_mask`]).
    pub forbidden_first_tokens: &'a [u32],
}

/// Samples completions for every request: the result holds, per request
/// in order, its `samples` completions in sample order. `decode` turns
/// token ids into text.
pub fn sample_completions(
    model: &Gpt,
    requests: &[PromptRequest],
    settings: &SamplingSettings,
    eos: u32,
    decode: &dyn Fn(&[u32]) -> String,
) -> Result<Vec<Vec<Completion>>, ModelError> {
    sample_completions_with_first_token_mask(model, requests, settings, eos, decode, &[])
}

/// [`sample_completions`] where the tokens in `forbidden_first_tokens` can
/// never be the first token of a completion: at the first generated
/// position their logits are set to minus infinity before the token is
/// chosen (so its log-probability and entropy are those of the masked
/// distribution). Ids outside the vocabulary are ignored. With an empty
/// mask this is exactly [`sample_completions`], bit for bit.
pub fn sample_completions_with_first_token_mask(
    model: &Gpt,
    requests: &[PromptRequest],
    settings: &SamplingSettings,
    eos: u32,
    decode: &dyn Fn(&[u32]) -> String,
    forbidden_first_tokens: &[u32],
) -> Result<Vec<Vec<Completion>>, ModelError> {
    let requests: Vec<SamplingRequest<'_>> = requests
        .iter()
        .map(|prompt| SamplingRequest {
            prompt,
            settings: *settings,
            forbidden_first_tokens,
        })
        .collect();
    sample_requests(model, &requests, eos, decode)
}

/// Samples every request's completions, each with its own settings and
/// first-token mask. Rows of every request are grouped by prompt length
/// and decoded in caches of [`ROWS_PER_CACHE`] whatever their settings, so
/// asking for several kinds of answers in one call fills caches that
/// separate calls would pad; a row's completion is the same bits either
/// way (see the module doc). Returns the completions per request, in
/// sample order.
pub fn sample_requests(
    model: &Gpt,
    requests: &[SamplingRequest<'_>],
    eos: u32,
    decode: &dyn Fn(&[u32]) -> String,
) -> Result<Vec<Vec<Completion>>, ModelError> {
    let mut results: Vec<Vec<Completion>> = requests.iter().map(|_| Vec::new()).collect();
    let mut finished_rows: Vec<((usize, usize), Completion)> = Vec::new();
    for (length, rows) in rows_by_length(requests.iter().map(|request| request.prompt)) {
        for chunk in rows.chunks(ROWS_PER_CACHE) {
            let completions = decode_rows(model, requests, chunk, length, eos, decode)?;
            finished_rows.extend(chunk.iter().copied().zip(completions));
        }
    }
    finished_rows.sort_by_key(|(row, _)| *row);
    for ((request, _), completion) in finished_rows {
        results[request].push(completion);
    }
    Ok(results)
}

/// The rows (request index, sample) of `prompts` grouped by prompt
/// length, in request order: each group is decoded in chunks of
/// [`ROWS_PER_CACHE`].
fn rows_by_length<'a>(
    prompts: impl Iterator<Item = &'a PromptRequest>,
) -> BTreeMap<usize, Vec<(usize, usize)>> {
    let mut by_length: BTreeMap<usize, Vec<(usize, usize)>> = BTreeMap::new();
    for (index, prompt) in prompts.enumerate() {
        for sample in 0..prompt.samples {
            by_length
                .entry(prompt.tokens.len())
                .or_default()
                .push((index, sample));
        }
    }
    by_length
}

/// How many cache rows one sampler call of `model` decodes for `prompts`,
/// padding included (what `bench sampling` reports).
pub fn decoded_rows<'a>(model: &Gpt, prompts: impl Iterator<Item = &'a PromptRequest>) -> usize {
    rows_by_length(prompts)
        .values()
        .flat_map(|rows| rows.chunks(ROWS_PER_CACHE))
        .map(|chunk| cache_rows(model, chunk.len()))
        .sum()
}

/// Decodes `rows` (request, sample), whose prompts all have
/// `prompt_length` tokens, in one cache padded to [`cache_rows`] rows.
/// Each row stops at EOS or at its own token limit.
fn decode_rows(
    model: &Gpt,
    requests: &[SamplingRequest<'_>],
    rows: &[(usize, usize)],
    prompt_length: usize,
    eos: u32,
    decode: &dyn Fn(&[u32]) -> String,
) -> Result<Vec<Completion>, ModelError> {
    let device = Device::Cpu;
    let real_rows = rows.len();
    let mut rows = rows.to_vec();
    if let Some(&last) = rows.last() {
        rows.resize(cache_rows(model, real_rows), last);
    }
    let batch = rows.len();
    let context = model.config().context;
    let room = context.saturating_sub(prompt_length);
    let limits: Vec<usize> = rows
        .iter()
        .map(|&(request, _)| requests[request].settings.max_new_tokens.min(room))
        .collect();
    let longest = limits[..real_rows].iter().copied().max().unwrap_or(0);
    let mut streams: Vec<Stream> = rows
        .iter()
        .map(|&(request, sample)| requests[request].prompt.stream.derive(&[sample as u64]))
        .collect();
    let mut completions: Vec<Completion> = (0..batch)
        .map(|_| Completion {
            tokens: Vec::new(),
            text: String::new(),
            log_probabilities: Vec::new(),
            entropies: Vec::new(),
            finished: false,
        })
        .collect();
    if longest == 0 || prompt_length == 0 {
        completions.truncate(real_rows);
        return Ok(completions);
    }
    let prompt: Vec<u32> = rows
        .iter()
        .flat_map(|&(request, _)| requests[request].prompt.tokens.iter().copied())
        .collect();
    let mut cache = model.new_cache(batch)?;
    let mut input = Tensor::from_vec(prompt, (batch, prompt_length), &device)?;
    for position in 0..longest {
        let logits = model.forward_step(&input, &mut cache)?;
        let time = logits.dim(1)?;
        let last: Vec<Vec<f32>> = logits.narrow(1, time - 1, 1)?.squeeze(1)?.to_vec2()?;
        let mut next = Vec::with_capacity(batch);
        for (((mut row, completion), stream), (&(request, _), &limit)) in last
            .into_iter()
            .zip(&mut completions)
            .zip(&mut streams)
            .zip(rows.iter().zip(&limits))
        {
            let request = &requests[request];
            if completion.finished || position >= limit {
                // Fed its own last token (EOS once finished), whose output
                // is dropped: a row's arithmetic does not touch another's.
                let last = completion.tokens.last().or(request.prompt.tokens.last());
                next.push(last.copied().unwrap_or(eos));
                continue;
            }
            if position == 0 {
                mask_tokens(&mut row, request.forbidden_first_tokens);
            }
            let uniform = stream.next_f64();
            let (token, log_probability, entropy) = choose_token(&row, &request.settings, uniform);
            completion.tokens.push(token);
            completion.log_probabilities.push(log_probability);
            completion.entropies.push(entropy);
            completion.finished = token == eos;
            next.push(token);
        }
        let done = completions[..real_rows]
            .iter()
            .zip(&limits)
            .all(|(completion, &limit)| completion.finished || position + 1 >= limit);
        if done {
            break;
        }
        input = Tensor::from_vec(next, (batch, 1), &device)?;
    }
    completions.truncate(real_rows);
    for completion in &mut completions {
        let text_tokens = if completion.finished {
            &completion.tokens[..completion.tokens.len() - 1]
        } else {
            &completion.tokens[..]
        };
        completion.text = decode(text_tokens);
    }
    Ok(completions)
}

/// Sets the logits of `tokens` to minus infinity (ids past the end of
/// `logits` are ignored).
pub fn mask_tokens(logits: &mut [f32], tokens: &[u32]) {
    for &token in tokens {
        if let Some(logit) = logits.get_mut(token as usize) {
            *logit = f32::NEG_INFINITY;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_masked_token_is_never_chosen() {
        let mut logits = vec![0.5f32, 3.0, 2.0, -1.0];
        mask_tokens(&mut logits, &[1, 9]);
        assert_eq!(logits[1], f32::NEG_INFINITY);
        assert_eq!(logits[..1], [0.5]);
        assert_eq!(logits[2..], [2.0, -1.0]);
        let greedy = SamplingSettings {
            temperature: 0.0,
            top_p: 1.0,
            max_new_tokens: 1,
        };
        let (token, log_probability, entropy) = choose_token(&logits, &greedy, 0.0);
        assert_eq!(token, 2);
        assert!(log_probability.is_finite() && entropy.is_finite());
        let sampling = SamplingSettings {
            temperature: 1.0,
            ..greedy
        };
        for uniform in [0.0, 0.3, 0.6, 0.999] {
            assert_ne!(choose_token(&logits, &sampling, uniform).0, 1);
        }
    }

    #[test]
    fn top_p_keeps_the_smallest_prefix_reaching_p() {
        let probabilities = [0.1, 0.4, 0.3, 0.2];
        let kept = top_p_filter(&probabilities, 0.65);
        let ids: Vec<usize> = kept.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, vec![1, 2]);
        assert!((kept[0].1 - 0.4 / 0.7).abs() < 1e-12);
        assert!((kept[1].1 - 0.3 / 0.7).abs() < 1e-12);
        // Exactly reaching p stops there; p = 1 keeps everything.
        assert_eq!(top_p_filter(&probabilities, 0.7).len(), 2);
        assert_eq!(top_p_filter(&probabilities, 1.0).len(), 4);
        // A tiny p keeps the single most likely token; ties go to the lower id.
        assert_eq!(top_p_filter(&[0.5, 0.5], 0.01), vec![(0, 1.0)]);
    }

    #[test]
    fn choosing_follows_the_filtered_distribution() {
        let logits: Vec<f32> = [0.1f64, 0.4, 0.3, 0.2]
            .iter()
            .map(|p| p.ln() as f32)
            .collect();
        let settings = SamplingSettings {
            temperature: 1.0,
            top_p: 0.65,
            max_new_tokens: 1,
        };
        // Kept: 1 (0.571..), 2 (0.428..).
        assert_eq!(choose_token(&logits, &settings, 0.5).0, 1);
        assert_eq!(choose_token(&logits, &settings, 0.6).0, 2);
        let (token, log_probability, entropy) = choose_token(&logits, &settings, 0.99);
        assert_eq!(token, 2);
        assert!((log_probability - 0.3f64.ln()).abs() < 1e-6);
        let exact: f64 = -[0.1f64, 0.4, 0.3, 0.2]
            .iter()
            .map(|p| p * p.ln())
            .sum::<f64>();
        assert!((entropy - exact).abs() < 1e-6);
        let greedy = SamplingSettings {
            temperature: 0.0,
            ..settings
        };
        assert_eq!(choose_token(&logits, &greedy, 0.99).0, 1);
    }

    #[test]
    fn without_top_p_the_draw_walks_the_tokens_in_order_and_follows_the_tempered_distribution() {
        let probabilities = [0.1f64, 0.4, 0.3, 0.2];
        let mut logits: Vec<f32> = probabilities.iter().map(|p| p.ln() as f32).collect();
        logits.push(f32::NEG_INFINITY);
        for temperature in [1.0, 0.5] {
            let settings = SamplingSettings {
                temperature,
                top_p: 1.0,
                max_new_tokens: 1,
            };
            let tempered: Vec<f64> = probabilities
                .iter()
                .map(|p| p.powf(1.0 / temperature))
                .collect();
            let total: f64 = tempered.iter().sum();
            let draws = 10_000;
            let mut counts = [0usize; 5];
            let mut previous = 0;
            for draw in 0..draws {
                let uniform = (draw as f64 + 0.5) / draws as f64;
                let (token, log_probability, entropy) = choose_token(&logits, &settings, uniform);
                // Token order: a larger uniform never picks an earlier token.
                assert!(token >= previous, "{temperature}: {token} after {previous}");
                previous = token;
                counts[token as usize] += 1;
                assert!((log_probability - probabilities[token as usize].ln()).abs() < 1e-6);
                let exact: f64 = -probabilities.iter().map(|p| p * p.ln()).sum::<f64>();
                assert!((entropy - exact).abs() < 1e-6, "{entropy} vs {exact}");
            }
            assert_eq!(counts[4], 0, "the masked token was drawn");
            for (token, weight) in tempered.iter().enumerate() {
                let share = counts[token] as f64 / draws as f64;
                assert!(
                    (share - weight / total).abs() < 1e-3,
                    "{temperature}: token {token} drawn {share}, expected {}",
                    weight / total
                );
            }
        }
    }
}
