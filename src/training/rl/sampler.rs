//! [`sample_completions`]: batched generation with the model's preallocated
//! key-value cache, temperature and nucleus (top-p) sampling, or greedy
//! decoding.
//!
//! Rows decode together whatever their prompts' lengths: each row of the
//! key-value cache has its own length, each distinct prompt is run once
//! (prompts of one length together) and copied into the cache rows of its
//! other samples, and then every unfinished row writes one token per step
//! in one call, from its own position ([`Gpt::forward_rows`]). A step's
//! products therefore have as many rows as there are unfinished answers
//! (up to [`decoding_rows`], 128 for `small`), not the 8 samples of one
//! prompt: the matrix-product crate packs each weight once per call, and
//! the per-call overhead is paid once per step. Models whose layers cannot
//! take rows at different positions (rotary positions, the composed
//! kernels) decode by prompt length instead, in caches of
//! [`ROWS_PER_CACHE`]; a finished row there keeps being fed its last
//! token and what it computes is dropped.
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
//! width or the vocabulary: lane-parallel dot products). A call with fewer
//! rows than [`cache_rows`] gives is therefore padded with copies of its
//! last row (whose output is dropped) up to that number: 3 rows for
//! `small`, 4 for `tiny`, 2 for `medium`. A row's arithmetic is then the
//! same whatever rows it is decoded with (`tests/rl_sampling.rs` checks
//! every call size from the fewest to 40 rows and around 128 bit for bit,
//! and a unit test below checks rows decoded together against caches of
//! one prompt length each). Until stage semantics 3 every cache was padded
//! to 16 rows, which gave the same bits at a higher cost.
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
#[derive(Debug, Clone, PartialEq, Default)]
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

/// The most rows of one decoding cache of a model that does not decode
/// rows apart (see the module doc): a length group with more is decoded in
/// several caches.
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
/// first-token mask. With a model that decodes rows apart
/// ([`Gpt::decodes_rows_apart`]: the fused kernels and learned positions,
/// every preset) the rows of every request share one cache of up to
/// [`decoding_rows`] rows whatever their prompts' lengths ([`decode_together`]);
/// otherwise rows are grouped by prompt length and decoded in caches of
/// [`ROWS_PER_CACHE`]. A row's completion is the same bits either way (see
/// the module doc). Returns the completions per request, in sample order.
pub fn sample_requests(
    model: &Gpt,
    requests: &[SamplingRequest<'_>],
    eos: u32,
    decode: &dyn Fn(&[u32]) -> String,
) -> Result<Vec<Vec<Completion>>, ModelError> {
    let mut results: Vec<Vec<Completion>> = requests.iter().map(|_| Vec::new()).collect();
    let mut finished_rows: Vec<((usize, usize), Completion)> = Vec::new();
    if model.decodes_rows_apart() {
        let rows = request_rows(requests.iter().map(|request| request.prompt));
        for chunk in rows.chunks(decoding_rows(model)) {
            let completions = decode_together(model, requests, chunk, eos, decode)?;
            finished_rows.extend(chunk.iter().copied().zip(completions));
        }
    } else {
        for (length, rows) in rows_by_length(requests.iter().map(|request| request.prompt)) {
            for chunk in rows.chunks(ROWS_PER_CACHE) {
                let completions = decode_rows(model, requests, chunk, length, eos, decode)?;
                finished_rows.extend(chunk.iter().copied().zip(completions));
            }
        }
    }
    finished_rows.sort_by_key(|(row, _)| *row);
    for ((request, _), completion) in finished_rows {
        results[request].push(completion);
    }
    Ok(results)
}

/// The bytes of cache one call of [`decode_together`] may hold.
const DECODING_CACHE_BYTES: usize = 128 << 20;

/// The most rows [`decode_together`] decodes in one cache for `model`: 128,
/// fewer where their keys and values would pass [`DECODING_CACHE_BYTES`]
/// (the `medium` preset: 54), never fewer than [`cache_rows`] asks.
pub fn decoding_rows(model: &Gpt) -> usize {
    let config = model.config();
    let row_bytes = config.layers * 2 * config.context * config.width * std::mem::size_of::<f32>();
    // Not `clamp`: a model narrow enough to need more padding rows than 128
    // gets them.
    (DECODING_CACHE_BYTES / row_bytes.max(1))
        .min(128)
        .max(cache_rows(model, 1))
}

/// Decodes `rows` (request, sample) of any prompt lengths in one cache,
/// each row from its own position. Each distinct prompt is run once (its
/// first row's cache row filled, prompts of one length together) and
/// copied into the cache rows of its other samples; then every row still
/// writing decodes one token per step in one call, so a step's products
/// have as many rows as there are unfinished answers. A call with fewer
/// rows than [`cache_rows`] gives is padded with a copy of its last row
/// (same cache row, same values; its output is dropped). Each row stops at
/// EOS or at its own token limit.
fn decode_together(
    model: &Gpt,
    requests: &[SamplingRequest<'_>],
    rows: &[(usize, usize)],
    eos: u32,
    decode: &dyn Fn(&[u32]) -> String,
) -> Result<Vec<Completion>, ModelError> {
    let device = Device::Cpu;
    let context = model.config().context;
    let fewest = cache_rows(model, 1);
    let prompt_of = |row: usize| &requests[rows[row].0].prompt.tokens;
    let limits: Vec<usize> = rows
        .iter()
        .map(|&(request, _)| {
            let room = context.saturating_sub(requests[request].prompt.tokens.len());
            requests[request].settings.max_new_tokens.min(room)
        })
        .collect();
    let mut streams: Vec<Stream> = rows
        .iter()
        .map(|&(request, sample)| requests[request].prompt.stream.derive(&[sample as u64]))
        .collect();
    let mut completions: Vec<Completion> = rows.iter().map(|_| Completion::default()).collect();
    // The cache row that runs each distinct prompt, and the rows that copy it.
    let mut leaders: BTreeMap<&[u32], usize> = BTreeMap::new();
    let mut followers: Vec<(usize, usize)> = Vec::new();
    for (row, &limit) in limits.iter().enumerate() {
        if limit == 0 || prompt_of(row).is_empty() {
            continue;
        }
        match leaders.get(prompt_of(row).as_slice()) {
            Some(&leader) => followers.push((leader, row)),
            None => {
                leaders.insert(prompt_of(row), row);
            }
        }
    }
    if leaders.is_empty() {
        return Ok(completions);
    }
    let mut cache = model.new_cache(rows.len())?;
    // Prefill, prompts of one length together: each leader's logits at its
    // prompt's last token.
    let mut next_logits: Vec<Option<Vec<f32>>> = vec![None; rows.len()];
    let mut by_length: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &leader in leaders.values() {
        by_length
            .entry(prompt_of(leader).len())
            .or_default()
            .push(leader);
    }
    for (length, mut group) in by_length {
        let real = group.len();
        pad_rows(&mut group, fewest);
        let tokens: Vec<u32> = group
            .iter()
            .flat_map(|&row| prompt_of(row).iter().copied())
            .collect();
        let input = Tensor::from_vec(tokens, (group.len(), length), &device)?;
        let logits = model.forward_rows(&input, &group, &mut cache)?;
        let last: Vec<Vec<f32>> = logits.narrow(1, length - 1, 1)?.squeeze(1)?.to_vec2()?;
        for (&row, logits) in group[..real].iter().zip(last) {
            next_logits[row] = Some(logits);
        }
    }
    for &(leader, row) in &followers {
        cache.copy_row(leader, row)?;
        next_logits[row] = next_logits[leader].clone();
    }
    let mut position = 0;
    loop {
        // Choose each writing row's token at `position`.
        let mut writing: Vec<usize> = Vec::new();
        for (row, logits) in next_logits.iter_mut().enumerate() {
            let Some(mut logits) = logits.take() else {
                continue;
            };
            let request = &requests[rows[row].0];
            let completion = &mut completions[row];
            let stream = &mut streams[row];
            extend(completion, &mut logits, request, stream, position, eos);
            if !completion.finished && position + 1 < limits[row] {
                writing.push(row);
            }
        }
        if writing.is_empty() {
            break;
        }
        let real = writing.len();
        let mut step_rows = writing;
        pad_rows(&mut step_rows, fewest);
        let tokens: Vec<u32> = step_rows
            .iter()
            .map(|&row| completions[row].tokens.last().copied().unwrap_or(eos))
            .collect();
        let input = Tensor::from_vec(tokens, (step_rows.len(), 1), &device)?;
        let logits = model.forward_rows(&input, &step_rows, &mut cache)?;
        let last: Vec<Vec<f32>> = logits.squeeze(1)?.to_vec2()?;
        for (&row, logits) in step_rows[..real].iter().zip(last) {
            next_logits[row] = Some(logits);
        }
        position += 1;
    }
    write_texts(&mut completions, decode);
    Ok(completions)
}

/// Chooses `completion`'s token at `position` from the row's `logits`
/// (the first token's forbidden ids masked) with the row's next random
/// number, appends it with its log-probability and entropy, and returns it.
fn extend(
    completion: &mut Completion,
    logits: &mut [f32],
    request: &SamplingRequest<'_>,
    stream: &mut Stream,
    position: usize,
    eos: u32,
) -> u32 {
    if position == 0 {
        mask_tokens(logits, request.forbidden_first_tokens);
    }
    let uniform = stream.next_f64();
    let (token, log_probability, entropy) = choose_token(logits, &request.settings, uniform);
    completion.tokens.push(token);
    completion.log_probabilities.push(log_probability);
    completion.entropies.push(entropy);
    completion.finished = token == eos;
    token
}

/// Decodes each completion's tokens into its text (EOS writes nothing).
fn write_texts(completions: &mut [Completion], decode: &dyn Fn(&[u32]) -> String) {
    for completion in completions {
        let text_tokens = if completion.finished {
            &completion.tokens[..completion.tokens.len() - 1]
        } else {
            &completion.tokens[..]
        };
        completion.text = decode(text_tokens);
    }
}

/// Pads `rows` to at least `fewest` with copies of its last row.
fn pad_rows(rows: &mut Vec<usize>, fewest: usize) {
    if let Some(&last) = rows.last() {
        if rows.len() < fewest {
            rows.resize(fewest, last);
        }
    }
}

/// The rows (request index, sample) of `prompts`, request after request,
/// each request's samples in order.
fn request_rows<'a>(prompts: impl Iterator<Item = &'a PromptRequest>) -> Vec<(usize, usize)> {
    prompts
        .enumerate()
        .flat_map(|(index, prompt)| (0..prompt.samples).map(move |sample| (index, sample)))
        .collect()
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

/// How many cache rows one sampler call of `model` fills for `prompts`,
/// padding included (what `bench sampling` reports): one per answer when
/// the model decodes rows apart, else its length groups' padded caches.
pub fn decoded_rows<'a>(model: &Gpt, prompts: impl Iterator<Item = &'a PromptRequest>) -> usize {
    if model.decodes_rows_apart() {
        return prompts.map(|prompt| prompt.samples).sum();
    }
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
    let mut completions: Vec<Completion> = (0..batch).map(|_| Completion::default()).collect();
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
            next.push(extend(completion, &mut row, request, stream, position, eos));
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
    write_texts(&mut completions, decode);
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
    use crate::model::ModelConfig;

    /// Every request's completions decoded the way models without
    /// [`Gpt::decodes_rows_apart`] are: by prompt length, in caches of
    /// [`ROWS_PER_CACHE`].
    fn decoded_by_length(
        model: &Gpt,
        requests: &[SamplingRequest<'_>],
        eos: u32,
    ) -> Vec<Vec<Completion>> {
        let mut results: Vec<Vec<Completion>> = requests.iter().map(|_| Vec::new()).collect();
        for (length, rows) in rows_by_length(requests.iter().map(|request| request.prompt)) {
            for chunk in rows.chunks(ROWS_PER_CACHE) {
                let completions =
                    decode_rows(model, requests, chunk, length, eos, &|_| String::new()).unwrap();
                for (&(request, _), completion) in chunk.iter().zip(completions) {
                    results[request].push(completion);
                }
            }
        }
        results
    }

    #[test]
    fn rows_decoded_together_from_their_own_positions_get_the_bits_of_caches_by_length() {
        // Prompts of four lengths (two share one, one is repeated as
        // another request), sampled, greedy and with a first-token mask,
        // with limits that stop rows at different steps: one call of
        // `decode_together` (rows at many positions, shared prefills,
        // padded steps at the end) against caches of one length each.
        for preset in ["tiny", "small"] {
            let mut config = ModelConfig::preset(preset).unwrap();
            config.context = 40;
            let model = Gpt::initialize(&config, 60, &Stream::new(9), &Device::Cpu)
                .unwrap()
                .0;
            assert!(model.decodes_rows_apart());
            let prompt = |tokens: &[u32], key: u64, samples: usize| PromptRequest {
                tokens: tokens.to_vec(),
                stream: Stream::new(key),
                samples,
            };
            let prompts = [
                prompt(&[5, 6, 7], 1, 5),
                prompt(&[8, 9, 10, 11, 12, 13], 2, 3),
                prompt(&[14, 15, 16], 3, 4),
                prompt(&[17; 9], 4, 2),
                prompt(&[5, 6, 7], 5, 1),
            ];
            let settings = |temperature: f64, max_new_tokens: usize| SamplingSettings {
                temperature,
                top_p: 1.0,
                max_new_tokens,
            };
            let forbidden = [2u32, 3, 4];
            let requests: Vec<SamplingRequest<'_>> = prompts
                .iter()
                .enumerate()
                .map(|(index, prompt)| SamplingRequest {
                    prompt,
                    settings: settings(if index == 4 { 0.0 } else { 1.5 }, 6 + 5 * index),
                    forbidden_first_tokens: if index == 2 { &forbidden } else { &[] },
                })
                .collect();
            let rows = request_rows(requests.iter().map(|request| request.prompt));
            let together =
                decode_together(&model, &requests, &rows, 1, &|_| String::new()).unwrap();
            let mut expected = decoded_by_length(&model, &requests, 1)
                .into_iter()
                .flatten();
            let lengths: Vec<usize> = together.iter().map(|c| c.tokens.len()).collect();
            assert!(
                lengths.iter().min() < lengths.iter().max(),
                "{preset}: {lengths:?}"
            );
            for (row, completion) in rows.iter().zip(&together) {
                assert_eq!(
                    Some(completion),
                    expected.next().as_ref(),
                    "{preset}: row {row:?}"
                );
            }
        }
    }

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
