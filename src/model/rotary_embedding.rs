//! [`RotaryEmbedding`]: rotary positions (RoPE, Su et al. 2021) from basic
//! operations, so that gradients pass through them.

use candle_core::{Device, Tensor};

/// The base of the rotation frequencies.
const BASE: f64 = 10_000.0;

/// Precomputed cosines and sines `[context, head_width / 2]`.
///
/// Features are rotated in pairs `(i, i + head_width / 2)` (the "rotate
/// half" layout of GPT-NeoX and Llama).
#[derive(Debug, Clone)]
pub(crate) struct RotaryEmbedding {
    cosines: Tensor,
    sines: Tensor,
}

impl RotaryEmbedding {
    /// Tables for positions `0..context` and heads of `head_width` features.
    pub(crate) fn new(
        head_width: usize,
        context: usize,
        device: &Device,
    ) -> candle_core::Result<Self> {
        let half = head_width / 2;
        let mut cosines = Vec::with_capacity(context * half);
        let mut sines = Vec::with_capacity(context * half);
        for position in 0..context {
            for pair in 0..half {
                let frequency = libm::pow(BASE, -(2.0 * pair as f64) / head_width as f64);
                let angle = position as f64 * frequency;
                cosines.push(libm::cos(angle) as f32);
                sines.push(libm::sin(angle) as f32);
            }
        }
        Ok(RotaryEmbedding {
            cosines: Tensor::from_vec(cosines, (context, half), device)?,
            sines: Tensor::from_vec(sines, (context, half), device)?,
        })
    }

    /// Rotates `input` `[batch, heads, time, head_width]` whose first token
    /// sits at position `offset`.
    pub(crate) fn apply(&self, input: &Tensor, offset: usize) -> candle_core::Result<Tensor> {
        let (_, _, time, head_width) = input.dims4()?;
        let half = head_width / 2;
        let cosines = self.cosines.narrow(0, offset, time)?;
        let sines = self.sines.narrow(0, offset, time)?;
        let first = input.narrow(3, 0, half)?;
        let second = input.narrow(3, half, half)?;
        let rotated_first = (first.broadcast_mul(&cosines)? - second.broadcast_mul(&sines)?)?;
        let rotated_second = (first.broadcast_mul(&sines)? + second.broadcast_mul(&cosines)?)?;
        Tensor::cat(&[rotated_first, rotated_second], 3)
    }
}
