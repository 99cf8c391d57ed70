//! Decoding speed: batched greedy decoding with the key-value cache, the
//! way RL generates its groups of samples.

use std::time::Duration;

use candle_core::{Device, Tensor, D};

use super::best_of;
use crate::model::Gpt;
use crate::random::Stream;

/// Rows decoded together.
pub const SAMPLING_BATCH: usize = 64;
/// Tokens of the random prompt.
const PROMPT: usize = 8;
/// Tokens per row at the end (prompt included).
pub const SAMPLED_LENGTH: usize = 128;

/// Decoded tokens per second: `SAMPLING_BATCH` rows, a random prompt of
/// `PROMPT` tokens, then one greedy token per row per step with
/// [`Gpt::forward_step`] until `SAMPLED_LENGTH`; the best of `repeats`.
pub fn tokens_per_second(model: &Gpt, repeats: usize) -> anyhow::Result<f64> {
    let device = Device::Cpu;
    let vocabulary = model.vocabulary_size() as u64;
    let mut stream = Stream::labelled(0, "bench/sampling");
    let prompt: Vec<u32> = (0..SAMPLING_BATCH * PROMPT)
        .map(|_| stream.below(vocabulary) as u32)
        .collect();
    let prompt = Tensor::from_vec(prompt, (SAMPLING_BATCH, PROMPT), &device)?;
    let mut cache = model.new_cache(SAMPLING_BATCH)?;
    let mut failure = None;
    let time: Duration = best_of(repeats, || {
        if let Err(error) = decode(model, &prompt, &mut cache) {
            failure = Some(error);
        }
    });
    if let Some(error) = failure {
        return Err(error);
    }
    Ok((SAMPLING_BATCH * (SAMPLED_LENGTH - PROMPT)) as f64 / time.as_secs_f64())
}

fn decode(model: &Gpt, prompt: &Tensor, cache: &mut crate::model::KvCache) -> anyhow::Result<()> {
    cache.reset();
    let mut logits = model.forward_step(prompt, cache)?;
    for _ in PROMPT..SAMPLED_LENGTH {
        let last = logits.narrow(1, logits.dim(1)? - 1, 1)?;
        let next = last.argmax(D::Minus1)?;
        logits = model.forward_step(&next, cache)?;
    }
    Ok(())
}
