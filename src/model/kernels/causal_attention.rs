//! [`CausalAttention`]: causal multi-head self-attention straight from the
//! fused `qkv` activations, forward and backward, for training.
//!
//! Through candle, attention was per layer three copies splitting `qkv`
//! into heads, two batched matrix products of `batch * heads` small
//! products each (every one a separate gemm call with its own thread
//! dispatch), the softmax, a transpose copy back, and in the backward pass
//! four more batched products plus the gradients of every copy. Here one
//! task per sequence runs, head after head, `S = Q Kᵀ` (gemm on the
//! strided head blocks of `qkv`, in place), the causal softmax and
//! `O = P V` written straight into `[batch, time, width]`. The backward
//! pass recomputes `P` (as flash attention does, so nothing of size
//! `time²` is kept between the passes) and writes `dQ`, `dK`, `dV` into the
//! gradient of `qkv` in place.
//!
//! Determinism: a sequence is one task on one thread, and each product is
//! single-threaded gemm, so no sum depends on the number of threads.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::causal_softmax::{softmax_backward_row, softmax_in_place};
use super::matrix_product::multiply;
use super::rows::f32_values;
use super::strided_matrix::StridedMatrix;

/// `qkv [batch, time, 3 * width]` (queries, keys, values, each head after
/// head) `-> [batch, time, width]`, heads side by side.
#[derive(Debug, Clone, Copy)]
pub struct CausalAttention {
    /// Attention heads; `width / heads` is a head's width.
    pub heads: usize,
    /// Multiplies every score (`1 / sqrt(head_width)`).
    pub scale: f32,
}

/// `(qkv, upstream [batch, time, width]) -> gradient of qkv`.
#[derive(Debug, Clone, Copy)]
struct CausalAttentionBackward {
    attention: CausalAttention,
}

/// Sizes of one call.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    batch: usize,
    time: usize,
    width: usize,
    head_width: usize,
}

impl CausalAttention {
    fn sizes(&self, shape: &Shape) -> candle_core::Result<Sizes> {
        let (batch, time, triple) = shape.dims3()?;
        if self.heads == 0 || triple % (3 * self.heads) != 0 {
            candle_core::bail!(
                "`causal-attention`: {triple} qkv features for {} heads",
                self.heads
            );
        }
        let width = triple / 3;
        Ok(Sizes {
            batch,
            time,
            width,
            head_width: width / self.heads,
        })
    }

    /// The attention weights of one head of one sequence (`qkv` holding
    /// that sequence only) into `weights` `[time, time]`.
    fn weights(
        &self,
        qkv: &[f32],
        head: usize,
        sizes: Sizes,
        weights: &mut [f32],
    ) -> candle_core::Result<()> {
        let Sizes {
            time,
            width,
            head_width,
            ..
        } = sizes;
        let queries = StridedMatrix::rows(head * head_width, time, head_width, 3 * width);
        let keys = StridedMatrix::rows(width + head * head_width, time, head_width, 3 * width);
        let scores = StridedMatrix::rows(0, time, time, time);
        multiply(weights, scores, qkv, queries, qkv, keys.transposed())?;
        for (row, values) in weights.chunks_mut(time).enumerate() {
            softmax_in_place(values, row + 1, self.scale);
        }
        Ok(())
    }
}

impl CustomOp1 for CausalAttention {
    fn name(&self) -> &'static str {
        "causal-attention"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let qkv = f32_values(storage, layout, self.name())?;
        let sizes = self.sizes(layout.shape())?;
        let Sizes {
            batch,
            time,
            width,
            head_width,
        } = sizes;
        let mut output = vec![0f32; batch * time * width];
        output
            .par_chunks_mut((time * width).max(1))
            .enumerate()
            .try_for_each(|(sequence, out)| -> candle_core::Result<()> {
                let qkv = &qkv[sequence * time * 3 * width..(sequence + 1) * time * 3 * width];
                let mut weights = vec![0f32; time * time];
                for head in 0..self.heads {
                    self.weights(qkv, head, sizes, &mut weights)?;
                    let values = StridedMatrix::rows(
                        2 * width + head * head_width,
                        time,
                        head_width,
                        3 * width,
                    );
                    let mixed = StridedMatrix::rows(head * head_width, time, head_width, width);
                    multiply(
                        out,
                        mixed,
                        &weights,
                        StridedMatrix::rows(0, time, time, time),
                        qkv,
                        values,
                    )?;
                }
                Ok(())
            })?;
        Ok((CpuStorage::F32(output), Shape::from((batch, time, width))))
    }

    fn bwd(
        &self,
        qkv: &Tensor,
        _output: &Tensor,
        upstream: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let gradient = qkv.contiguous()?.apply_op2_no_bwd(
            &upstream.contiguous()?,
            &CausalAttentionBackward { attention: *self },
        )?;
        Ok(Some(gradient))
    }
}

impl CustomOp2 for CausalAttentionBackward {
    fn name(&self) -> &'static str {
        "causal-attention-backward"
    }

    fn cpu_fwd(
        &self,
        qkv_storage: &CpuStorage,
        qkv_layout: &Layout,
        upstream_storage: &CpuStorage,
        upstream_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let qkv = f32_values(qkv_storage, qkv_layout, self.name())?;
        let upstream = f32_values(upstream_storage, upstream_layout, self.name())?;
        let attention = self.attention;
        let sizes = attention.sizes(qkv_layout.shape())?;
        let Sizes {
            batch,
            time,
            width,
            head_width,
        } = sizes;
        if upstream.len() != batch * time * width {
            candle_core::bail!("`{}`: gradient and output sizes differ", self.name());
        }
        let square = StridedMatrix::rows(0, time, time, time);
        let mut output = vec![0f32; qkv.len()];
        output
            .par_chunks_mut((time * 3 * width).max(1))
            .enumerate()
            .try_for_each(|(sequence, gradient)| -> candle_core::Result<()> {
                let qkv = &qkv[sequence * time * 3 * width..(sequence + 1) * time * 3 * width];
                let upstream = &upstream[sequence * time * width..(sequence + 1) * time * width];
                let mut weights = vec![0f32; time * time];
                let mut scores_gradient = vec![0f32; time * time];
                for head in 0..attention.heads {
                    let at = |part: usize| {
                        StridedMatrix::rows(
                            part * width + head * head_width,
                            time,
                            head_width,
                            3 * width,
                        )
                    };
                    let mixed_gradient =
                        StridedMatrix::rows(head * head_width, time, head_width, width);
                    attention.weights(qkv, head, sizes, &mut weights)?;
                    // dV = Pᵀ dO
                    multiply(
                        gradient,
                        at(2),
                        &weights,
                        square.transposed(),
                        upstream,
                        mixed_gradient,
                    )?;
                    // dP = dO Vᵀ, then dS row by row.
                    multiply(
                        &mut scores_gradient,
                        square,
                        upstream,
                        mixed_gradient,
                        qkv,
                        at(2).transposed(),
                    )?;
                    for (weights, scores) in
                        weights.chunks(time).zip(scores_gradient.chunks_mut(time))
                    {
                        softmax_backward_row(weights, scores, attention.scale);
                    }
                    // dQ = dS K, dK = dSᵀ Q
                    multiply(gradient, at(0), &scores_gradient, square, qkv, at(1))?;
                    multiply(
                        gradient,
                        at(1),
                        &scores_gradient,
                        square.transposed(),
                        qkv,
                        at(0),
                    )?;
                }
                Ok(())
            })?;
        Ok((CpuStorage::F32(output), qkv_layout.shape().clone()))
    }
}
