//! [`CausalSoftmax`]: attention weights from raw scores in one pass per
//! row: scale, causal mask, softmax; and the softmax's backward pass in one
//! more.
//!
//! Composed from candle operations this was a scalar product, a broadcast
//! add of a `-inf` mask and `candle_nn::ops::softmax` (max, subtract, exp,
//! sum, divide), each a tensor of `[batch, heads, time, time]`, plus their
//! gradients. Masked entries are exact zeros here and are never
//! exponentiated.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};

use super::exponential::exp;
use super::lanes;
use super::rows::{build_rows, f32_values};

/// `softmax(scale * scores)` over the last dimension of scores
/// `[.., time, keys]`, where query `i` of the `time` queries sits at
/// position `offset + i` and sees keys `0..=offset + i` only.
#[derive(Debug, Clone, Copy)]
pub struct CausalSoftmax {
    /// Multiplies every score (`1 / sqrt(head_width)`).
    pub scale: f32,
    /// The position of the first query (tokens already in the cache).
    pub offset: usize,
}

/// `(weights, upstream) -> scale * weights * (upstream - <upstream, weights>)`.
#[derive(Debug, Clone, Copy)]
struct CausalSoftmaxBackward {
    scale: f32,
}

/// Turns `row[..visible]` in place into the softmax of `scale * row[..visible]`,
/// and sets the rest of `row` to zero. The maximum, the exponentials and
/// the normalisation are each one vectorised pass; the sum is taken in the
/// lane order of [`lanes`](super::lanes), fixed by `visible` alone.
pub(crate) fn softmax_in_place(row: &mut [f32], visible: usize, scale: f32) {
    let (shown, hidden) = row.split_at_mut(visible.min(row.len()));
    let maximum = lanes::maximum(shown);
    for value in shown.iter_mut() {
        *value = exp((*value - maximum) * scale);
    }
    let reciprocal = 1.0 / lanes::sum(shown);
    for value in shown.iter_mut() {
        *value *= reciprocal;
    }
    hidden.fill(0.0);
}

/// Turns `gradient` (of a row of softmax `weights`) in place into the
/// gradient of the raw scores: `scale * weights * (gradient - <gradient,
/// weights>)`, the inner product in the lane order.
pub(crate) fn softmax_backward_row(weights: &[f32], gradient: &mut [f32], scale: f32) {
    let dot = lanes::dot(weights, gradient);
    for (value, &weight) in gradient.iter_mut().zip(weights) {
        *value = scale * weight * (*value - dot);
    }
}

impl CustomOp1 for CausalSoftmax {
    fn name(&self) -> &'static str {
        "causal-softmax"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let scores = f32_values(storage, layout, self.name())?;
        let dims = layout.shape().dims();
        let (time, keys) = match dims {
            [.., time, keys] => (*time, *keys),
            _ => candle_core::bail!("`{}` needs scores of rank 2 or more", self.name()),
        };
        if self.offset + time > keys {
            candle_core::bail!(
                "`{}`: {time} queries at offset {} but only {keys} keys",
                self.name(),
                self.offset
            );
        }
        let output = build_rows(scores.len(), keys, |row, out| {
            let visible = self.offset + row % time + 1;
            out.copy_from_slice(&scores[row * keys..(row + 1) * keys]);
            softmax_in_place(out, visible, self.scale);
        });
        Ok((CpuStorage::F32(output), layout.shape().clone()))
    }

    fn bwd(
        &self,
        _scores: &Tensor,
        weights: &Tensor,
        upstream: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let gradient = weights.contiguous()?.apply_op2_no_bwd(
            &upstream.contiguous()?,
            &CausalSoftmaxBackward { scale: self.scale },
        )?;
        Ok(Some(gradient))
    }
}

impl CustomOp2 for CausalSoftmaxBackward {
    fn name(&self) -> &'static str {
        "causal-softmax-backward"
    }

    fn cpu_fwd(
        &self,
        weights_storage: &CpuStorage,
        weights_layout: &Layout,
        upstream_storage: &CpuStorage,
        upstream_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let weights = f32_values(weights_storage, weights_layout, self.name())?;
        let upstream = f32_values(upstream_storage, upstream_layout, self.name())?;
        let keys = weights_layout.shape().dims().last().copied().unwrap_or(1);
        if upstream.len() != weights.len() {
            candle_core::bail!("`{}`: operand sizes differ", self.name());
        }
        let output = build_rows(weights.len(), keys, |row, out| {
            out.copy_from_slice(&upstream[row * keys..(row + 1) * keys]);
            softmax_backward_row(&weights[row * keys..(row + 1) * keys], out, self.scale);
        });
        Ok((CpuStorage::F32(output), weights_layout.shape().clone()))
    }
}
