//! [`MicroBatch`]: prompt-plus-completion sequences padded into one tensor,
//! with the mask of the completion tokens, and the forward pass that gives
//! each completion token's log-probability (and value).
//!
//! Sequences are sorted by length before they are cut into micro-batches
//! (at most [`MICRO_BATCH_TOKENS`] padded tokens each), so little compute
//! is spent on padding; gradients of the micro-batches of one update are
//! summed in a fixed order, so the update is the same bit for bit on every
//! run. Right padding (with EOS) never changes the real tokens' outputs:
//! attention is causal.

use candle_core::{Device, Tensor};

use super::ValueHead;
use crate::model::Gpt;

/// The most padded tokens (rows times length) in one micro-batch.
pub const MICRO_BATCH_TOKENS: usize = 4096;

/// A prompt followed by a completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingSequence {
    /// Prompt tokens, then completion tokens.
    pub tokens: Vec<u32>,
    /// How many of them are the prompt.
    pub prompt_length: usize,
}

impl TrainingSequence {
    /// `prompt`'s tokens followed by `completion`'s, trained on the
    /// completion only.
    pub fn new(prompt: &[u32], completion: &[u32]) -> TrainingSequence {
        let mut tokens = Vec::with_capacity(prompt.len() + completion.len());
        tokens.extend_from_slice(prompt);
        tokens.extend_from_slice(completion);
        TrainingSequence {
            tokens,
            prompt_length: prompt.len(),
        }
    }

    /// The number of completion tokens.
    pub fn completion_length(&self) -> usize {
        self.tokens.len().saturating_sub(self.prompt_length)
    }
}

/// Some of a batch's sequences as padded tensors.
#[derive(Debug)]
pub struct MicroBatch {
    /// Indices of its sequences in the batch.
    pub rows: Vec<usize>,
    /// `[rows, length + 1]` tokens, right-padded.
    pub tokens: Tensor,
    /// `[rows, length]`: 1 where position `t` predicts a completion token.
    pub mask: Tensor,
    /// Per row, the first position predicting a completion token and the
    /// completion's length.
    spans: Vec<(usize, usize)>,
    length: usize,
}

/// The log-probabilities `[rows, length]` of each next token and, with a
/// value head, the values `[rows, length]` of each position.
#[derive(Debug)]
pub struct ForwardOutput {
    /// `log p(tokens[t + 1] | tokens[..=t])`.
    pub log_probabilities: Tensor,
    /// The value head's output at each position (the state before the
    /// token predicted there).
    pub values: Option<Tensor>,
}

impl MicroBatch {
    /// Cuts `sequences` into micro-batches, shortest first.
    pub fn plan(
        sequences: &[TrainingSequence],
        pad: u32,
    ) -> Result<Vec<MicroBatch>, candle_core::Error> {
        let mut order: Vec<usize> = (0..sequences.len())
            .filter(|&index| sequences[index].completion_length() > 0)
            .collect();
        order.sort_by_key(|&index| sequences[index].tokens.len());
        let mut batches = Vec::new();
        let mut current: Vec<usize> = Vec::new();
        for index in order {
            let length = sequences[index].tokens.len();
            if !current.is_empty() && (current.len() + 1) * length > MICRO_BATCH_TOKENS {
                batches.push(MicroBatch::new(
                    sequences,
                    std::mem::take(&mut current),
                    pad,
                )?);
            }
            current.push(index);
        }
        if !current.is_empty() {
            batches.push(MicroBatch::new(sequences, current, pad)?);
        }
        Ok(batches)
    }

    fn new(
        sequences: &[TrainingSequence],
        rows: Vec<usize>,
        pad: u32,
    ) -> Result<MicroBatch, candle_core::Error> {
        let width = rows
            .iter()
            .map(|&index| sequences[index].tokens.len())
            .max()
            .unwrap_or(1);
        let length = width.saturating_sub(1);
        let mut tokens = Vec::with_capacity(rows.len() * width);
        let mut mask = vec![0f32; rows.len() * length];
        let mut spans = Vec::with_capacity(rows.len());
        for (row, &index) in rows.iter().enumerate() {
            let sequence = &sequences[index];
            tokens.extend_from_slice(&sequence.tokens);
            tokens.extend(std::iter::repeat_n(pad, width - sequence.tokens.len()));
            let start = sequence.prompt_length.saturating_sub(1);
            let count = sequence.completion_length();
            for position in start..start + count {
                mask[row * length + position] = 1.0;
            }
            spans.push((start, count));
        }
        let count = rows.len();
        Ok(MicroBatch {
            tokens: Tensor::from_vec(tokens, (count, width), &Device::Cpu)?,
            mask: Tensor::from_vec(mask, (count, length), &Device::Cpu)?,
            rows,
            spans,
            length,
        })
    }

    /// Per-token values of the completions (`values[sequence][token]`,
    /// indexed by batch sequence) laid out as `[rows, length]`, 0 elsewhere.
    pub fn scatter(&self, values: &[Vec<f64>]) -> Result<Tensor, candle_core::Error> {
        let mut flat = vec![0f32; self.rows.len() * self.length];
        for (row, (&index, &(start, count))) in self.rows.iter().zip(&self.spans).enumerate() {
            for (offset, value) in values[index].iter().take(count).enumerate() {
                flat[row * self.length + start + offset] = *value as f32;
            }
        }
        Tensor::from_vec(flat, (self.rows.len(), self.length), &Device::Cpu)
    }

    /// The completion tokens' entries of `tensor` `[rows, length]`, per row.
    pub fn gather(&self, tensor: &Tensor) -> Result<Vec<Vec<f64>>, candle_core::Error> {
        let table: Vec<Vec<f32>> = tensor.to_vec2()?;
        Ok(table
            .iter()
            .zip(&self.spans)
            .map(|(row, &(start, count))| {
                row[start..start + count]
                    .iter()
                    .map(|value| f64::from(*value))
                    .collect()
            })
            .collect())
    }

    /// The forward pass of `model` (and `value_head`) over this batch.
    pub fn forward(
        &self,
        model: &Gpt,
        value_head: Option<&ValueHead>,
    ) -> Result<ForwardOutput, crate::model::ModelError> {
        let inputs = self.tokens.narrow(1, 0, self.length)?;
        let targets = self.tokens.narrow(1, 1, self.length)?.contiguous()?;
        let hidden = model.hidden_states(&inputs)?;
        let logits = model.logits(&hidden)?;
        let log_probabilities = model.target_log_probabilities(&logits, &targets)?;
        let values = match value_head {
            Some(head) => Some(head.forward(&hidden)?),
            None => None,
        };
        Ok(ForwardOutput {
            log_probabilities,
            values,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_cover_exactly_the_completion_tokens() {
        let sequences = vec![
            TrainingSequence {
                tokens: vec![5, 6, 7, 8],
                prompt_length: 2,
            },
            TrainingSequence {
                tokens: vec![5, 6, 9],
                prompt_length: 1,
            },
            TrainingSequence {
                tokens: vec![5],
                prompt_length: 1,
            },
        ];
        let batches = MicroBatch::plan(&sequences, 0).unwrap();
        assert_eq!(batches.len(), 1);
        let batch = &batches[0];
        // Shortest first; the empty completion is left out.
        assert_eq!(batch.rows, vec![1, 0]);
        let mask: Vec<Vec<f32>> = batch.mask.to_vec2().unwrap();
        assert_eq!(mask, vec![vec![1.0, 1.0, 0.0], vec![0.0, 1.0, 1.0]]);
        let values = vec![vec![0.5, 0.25], vec![1.0, 2.0], vec![]];
        let laid_out = batch.scatter(&values).unwrap();
        assert_eq!(
            laid_out.to_vec2::<f32>().unwrap(),
            vec![vec![1.0, 2.0, 0.0], vec![0.0, 0.5, 0.25]]
        );
        assert_eq!(
            batch.gather(&laid_out).unwrap(),
            vec![vec![1.0, 2.0], vec![0.5, 0.25]]
        );
    }
}
