//! [`CausalAttention`]: causal multi-head self-attention straight from the
//! fused `qkv` activations, forward and backward, for training.
//!
//! Through candle, attention was per layer three copies splitting `qkv`
//! into heads, two batched matrix products of `batch * heads` small
//! products each (every one a separate gemm call with its own thread
//! dispatch), the softmax, a transpose copy back, and in the backward pass
//! four more batched products plus the gradients of every copy. Here one
//! task per sequence runs, head after head, `S = Q Kᵀ` (a product of the
//! strided head blocks of `qkv`, in place), the causal softmax and
//! `O = P V` written straight into `[batch, time, width]`. When the output
//! will be differentiated (its input is tracked) and `P` fits in
//! `KEPT_ATTENTION_WEIGHTS_LIMIT`, the forward pass keeps `P`
//! (`batch * heads * time²` values) for the backward pass; otherwise
//! the backward pass recomputes it (as flash attention does; the same
//! arithmetic, so the same bits). The backward pass writes `dQ`, `dK`,
//! `dV` into the gradient of `qkv` in place.
//!
//! The products are causal: `P` and `dS` are zero right of the diagonal
//! and the scores there are masked, so each product tells
//! [`matrix_product`](super::matrix_product) which terms or outputs it may
//! skip ([`Causal`]); the wide kernel then does about half the work, and
//! every value that is read keeps its bits (gemm, where the wide kernel
//! cannot run, computes everything).
//!
//! Determinism: a sequence is one task on one thread, and each product is
//! single-threaded, so no sum depends on the number of threads.

use std::sync::OnceLock;

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};

use super::causal_softmax::{softmax_backward_row, softmax_in_place};
use super::matrix_product::{multiply, multiply_causal, Causal};
use super::rows::{f32_values, try_build_chunk_pairs, try_build_chunks};
use super::strided_matrix::StridedMatrix;

/// `qkv [batch, time, 3 * width]` (queries, keys, values, each head after
/// head) `-> [batch, time, width]`, heads side by side.
#[derive(Debug)]
pub struct CausalAttention {
    /// Attention heads; `width / heads` is a head's width.
    pub heads: usize,
    /// Multiplies every score (`1 / sqrt(head_width)`).
    pub scale: f32,
    /// With `Some`, the forward pass stores its attention weights here,
    /// `[batch, heads, time, time]`, for the backward pass.
    kept_weights: Option<OnceLock<Vec<f32>>>,
}

/// `(qkv, upstream [batch, time, width]) -> gradient of qkv`.
#[derive(Debug, Clone, Copy)]
struct CausalAttentionBackward<'a> {
    heads: usize,
    scale: f32,
    /// The forward pass's weights, `[batch, heads, time, time]`, if kept.
    kept_weights: Option<&'a [f32]>,
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
    /// Attention with `heads` heads and scores multiplied by `scale`;
    /// `keep_weights` keeps the forward pass's weights for the backward
    /// pass (memory for speed: use it when the output is differentiated).
    pub fn new(heads: usize, scale: f32, keep_weights: bool) -> Self {
        Self {
            heads,
            scale,
            kept_weights: keep_weights.then(OnceLock::new),
        }
    }
}

fn sizes(heads: usize, shape: &Shape) -> candle_core::Result<Sizes> {
    let (batch, time, triple) = shape.dims3()?;
    if heads == 0 || triple % (3 * heads) != 0 {
        candle_core::bail!("`causal-attention`: {triple} qkv features for {heads} heads");
    }
    let width = triple / 3;
    Ok(Sizes {
        batch,
        time,
        width,
        head_width: width / heads,
    })
}

/// The attention weights of one head of one sequence (`qkv` holding that
/// sequence only) into `weights` `[time, time]`, scores multiplied by
/// `scale`.
fn attention_weights(
    qkv: &[f32],
    head: usize,
    sizes: Sizes,
    scale: f32,
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
    // Scores right of the diagonal are masked by the softmax, never read.
    multiply_causal(
        Causal::LowerOutputs,
        (weights, scores),
        (qkv, queries),
        (qkv, keys.transposed()),
    )?;
    for (row, values) in weights.chunks_mut(time).enumerate() {
        softmax_in_place(values, row + 1, scale);
    }
    Ok(())
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
        let sizes = sizes(self.heads, layout.shape())?;
        let Sizes {
            batch,
            time,
            width,
            head_width,
        } = sizes;
        let square = time * time;
        // Every head's weights of every sequence when they are kept for the
        // backward pass; otherwise one head's at a time, per task.
        let per_sequence = self.heads * square;
        let kept_length = match self.kept_weights {
            Some(_) => batch * per_sequence,
            None => 0,
        };
        let (output, kept) = try_build_chunk_pairs(
            (batch * time * width, kept_length),
            (time * width, per_sequence),
            |sequence, out, kept| -> candle_core::Result<()> {
                let qkv = &qkv[sequence * time * 3 * width..(sequence + 1) * time * 3 * width];
                let mut scratch = if kept.is_empty() {
                    vec![0f32; square]
                } else {
                    Vec::new()
                };
                for head in 0..self.heads {
                    let weights = if kept.is_empty() {
                        &mut scratch[..]
                    } else {
                        &mut kept[head * square..(head + 1) * square]
                    };
                    attention_weights(qkv, head, sizes, self.scale, weights)?;
                    let values = StridedMatrix::rows(
                        2 * width + head * head_width,
                        time,
                        head_width,
                        3 * width,
                    );
                    let mixed = StridedMatrix::rows(head * head_width, time, head_width, width);
                    // O = P V; P is zero right of the diagonal.
                    multiply_causal(
                        Causal::LeftLowerTriangular,
                        (out, mixed),
                        (weights, StridedMatrix::rows(0, time, time, time)),
                        (qkv, values),
                    )?;
                }
                Ok(())
            },
        )?;
        if let Some(slot) = &self.kept_weights {
            // A second forward pass of the same operation (candle does not
            // make one) would compute the same weights again.
            let _ = slot.set(kept);
        }
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
            &CausalAttentionBackward {
                heads: self.heads,
                scale: self.scale,
                kept_weights: self
                    .kept_weights
                    .as_ref()
                    .and_then(OnceLock::get)
                    .map(Vec::as_slice),
            },
        )?;
        Ok(Some(gradient))
    }
}

impl CustomOp2 for CausalAttentionBackward<'_> {
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
        let heads = self.heads;
        let sizes = sizes(heads, qkv_layout.shape())?;
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
        let kept_weights = match self.kept_weights {
            Some(kept) if kept.len() == batch * heads * time * time => Some(kept),
            Some(_) => candle_core::bail!("`{}`: kept weights of another size", self.name()),
            None => None,
        };
        let output = try_build_chunks(
            qkv.len(),
            time * 3 * width,
            |sequence, gradient| -> candle_core::Result<()> {
                let qkv = &qkv[sequence * time * 3 * width..(sequence + 1) * time * 3 * width];
                let upstream = &upstream[sequence * time * width..(sequence + 1) * time * width];
                let mut recomputed = match kept_weights {
                    Some(_) => Vec::new(),
                    None => vec![0f32; time * time],
                };
                let mut scores_gradient = vec![0f32; time * time];
                for head in 0..heads {
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
                    let weights = match kept_weights {
                        Some(kept) => {
                            let start = (sequence * heads + head) * time * time;
                            &kept[start..start + time * time]
                        }
                        None => {
                            attention_weights(qkv, head, sizes, self.scale, &mut recomputed)?;
                            &recomputed[..]
                        }
                    };
                    // dV = Pᵀ dO; Pᵀ is zero left of the diagonal.
                    multiply_causal(
                        Causal::LeftUpperTriangular,
                        (gradient, at(2)),
                        (weights, square.transposed()),
                        (upstream, mixed_gradient),
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
                        softmax_backward_row(weights, scores, self.scale);
                    }
                    // dQ = dS K, dK = dSᵀ Q; dS is zero (of either sign)
                    // wherever P is.
                    multiply_causal(
                        Causal::LeftLowerTriangular,
                        (gradient, at(0)),
                        (&scores_gradient, square),
                        (qkv, at(1)),
                    )?;
                    multiply_causal(
                        Causal::LeftUpperTriangular,
                        (gradient, at(1)),
                        (&scores_gradient, square.transposed()),
                        (qkv, at(0)),
                    )?;
                }
                Ok(())
            },
        )?;
        Ok((CpuStorage::F32(output), qkv_layout.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape};

    use super::{CausalAttention, CausalAttentionBackward};
    use crate::random::Stream;

    fn uniform(seed: u64, count: usize) -> Vec<f32> {
        let mut stream = Stream::new(seed);
        (0..count)
            .map(|_| (2.0 * stream.next_f64() - 1.0) as f32)
            .collect()
    }

    fn values(storage: CpuStorage) -> Vec<u32> {
        match storage {
            CpuStorage::F32(values) => values.into_iter().map(f32::to_bits).collect(),
            _ => panic!("f32 expected"),
        }
    }

    #[test]
    fn the_backward_pass_gets_the_same_bits_from_kept_and_recomputed_weights() {
        let (batch, time, width, heads) = (3, 7, 12, 3);
        let qkv_layout = Layout::contiguous(Shape::from((batch, time, 3 * width)));
        let upstream_layout = Layout::contiguous(Shape::from((batch, time, width)));
        let qkv = CpuStorage::F32(uniform(1, batch * time * 3 * width));
        let upstream = CpuStorage::F32(uniform(2, batch * time * width));
        let scale = 0.5;

        let keeping = CausalAttention::new(heads, scale, true);
        let recomputing = CausalAttention::new(heads, scale, false);
        let (kept_output, _) = keeping.cpu_fwd(&qkv, &qkv_layout).unwrap();
        let (plain_output, _) = recomputing.cpu_fwd(&qkv, &qkv_layout).unwrap();
        assert_eq!(values(kept_output), values(plain_output));
        let kept = keeping
            .kept_weights
            .as_ref()
            .and_then(|slot| slot.get())
            .unwrap();
        assert_eq!(kept.len(), batch * heads * time * time);
        assert!(recomputing.kept_weights.is_none());

        let gradient = |kept_weights: Option<&[f32]>| {
            let backward = CausalAttentionBackward {
                heads,
                scale,
                kept_weights,
            };
            let (gradient, _) = backward
                .cpu_fwd(&qkv, &qkv_layout, &upstream, &upstream_layout)
                .unwrap();
            values(gradient)
        };
        let from_kept = gradient(Some(kept));
        assert_eq!(from_kept, gradient(None));
        assert!(from_kept.iter().any(|&bits| f32::from_bits(bits) != 0.0));
        // Weights of another shape are refused, not misread.
        let backward = CausalAttentionBackward {
            heads,
            scale,
            kept_weights: Some(&kept[1..]),
        };
        assert!(backward
            .cpu_fwd(&qkv, &qkv_layout, &upstream, &upstream_layout)
            .is_err());
    }
}
