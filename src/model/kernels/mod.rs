//! Fused CPU kernels: the model's element-wise and row-wise operations as
//! candle custom operations with hand-written backward passes.
//!
//! Composed from basic candle operations, each activation, norm, softmax
//! and the loss is a chain of small tensor operations, each allocating a
//! tensor and each adding more to the backward pass; profiling the `small`
//! preset put matrix products at 14% of a training step. Here each of them
//! is one pass over the data forward and one pass backward
//! (`candle_core::CustomOp1/2/3` with `cpu_fwd` and `bwd`), and the matrix
//! products stay candle's (gemm).
//!
//! Determinism: every kernel parallelises over rows (or independent
//! elements) and reduces each row on one thread in index order; sums over
//! rows (bias and norm-gain gradients) run in parallel over blocks of
//! columns, each column summed row by row. Results are therefore identical
//! bit for bit whatever the number of threads, and whatever the vector
//! width a loop is compiled for (`vector_width.rs`).
//!
//! The functions below are the entry points; [`KernelPath::Composed`]
//! selects the candle composition that the tests compare them with.

mod bias_add;
mod cached_attention;
mod causal_attention;
mod causal_softmax;
mod exponential;
pub(crate) use exponential::exp;
mod fused_linear;
mod fused_norm;
mod kernel_path;
pub(crate) mod lanes;
mod matrix_product;
pub use matrix_product::fewest_rows_of_the_general_route;
mod pointwise_activation;
mod rows;
mod strided_matrix;
mod swiglu_gate;
mod token_log_probability;
mod vector_width;
mod wide_product;

pub use bias_add::{BiasAdd, ColumnSum};
pub use cached_attention::{CacheRowCopy, CacheWrite, CachedAttention};
pub use causal_attention::CausalAttention;
pub use causal_softmax::CausalSoftmax;
pub use exponential::Exponential;
pub use fused_linear::FusedLinear;
pub use fused_norm::FusedNorm;
pub use kernel_path::KernelPath;
pub use pointwise_activation::{PointwiseActivation, PointwiseKind};
pub use swiglu_gate::SwigluGate;
pub use token_log_probability::TokenLogProbability;

use candle_core::Tensor;

use super::{NormKind, RowPlace};

/// GELU (tanh approximation) or ReLU of every value.
pub fn activation(input: &Tensor, kind: PointwiseKind) -> candle_core::Result<Tensor> {
    input.contiguous()?.apply_op1(PointwiseActivation { kind })
}

/// `input [rows, width] + bias [width]` on every row.
pub fn bias_add(input: &Tensor, bias: &Tensor) -> candle_core::Result<Tensor> {
    input.contiguous()?.apply_op2(&bias.contiguous()?, BiasAdd)
}

/// `input [rows, inputs] Wᵀ + bias` for `weight [outputs, inputs]`.
pub fn linear(
    input: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
) -> candle_core::Result<Tensor> {
    let input = input.contiguous()?;
    match bias {
        Some(bias) => input.apply_op3(weight, bias, FusedLinear),
        None => input.apply_op2(weight, FusedLinear),
    }
}

/// SwiGLU's `silu(gate) * up`.
pub fn swiglu(gate: &Tensor, up: &Tensor) -> candle_core::Result<Tensor> {
    gate.contiguous()?.apply_op2(&up.contiguous()?, SwigluGate)
}

/// Layer norm or RMS norm over the last dimension, times `gain`, plus
/// `bias` when given.
pub fn norm(
    input: &Tensor,
    gain: &Tensor,
    bias: Option<&Tensor>,
    kind: NormKind,
    epsilon: f32,
) -> candle_core::Result<Tensor> {
    let op = FusedNorm { kind, epsilon };
    let input = input.contiguous()?;
    match bias {
        Some(bias) => input.apply_op3(gain, bias, op),
        None => input.apply_op2(gain, op),
    }
}

/// Attention weights `softmax(scale * scores)` over the last dimension of
/// `scores` `[.., time, keys]`, query `i` seeing keys `0..=offset + i`.
pub fn causal_softmax(scores: &Tensor, scale: f32, offset: usize) -> candle_core::Result<Tensor> {
    scores
        .contiguous()?
        .apply_op1(CausalSoftmax { scale, offset })
}

/// The most bytes of attention weights one call of [`causal_attention`]
/// (one layer) keeps for its backward pass: 64 MiB holds a pretraining
/// batch of every preset (`medium`: 32 x 8 heads x 192² floats, 36 MiB);
/// an RL update over 128 long answers recomputes them instead of holding
/// a gigabyte.
pub const KEPT_ATTENTION_WEIGHTS_LIMIT: usize = 64 << 20;

/// Causal self-attention of `qkv` `[batch, time, 3 * width]` (queries,
/// keys, values, each head after head) over itself: `[batch, time, width]`.
/// When `qkv` is tracked (the output will be differentiated) and the
/// weights fit in [`KEPT_ATTENTION_WEIGHTS_LIMIT`], the forward pass keeps
/// them for the backward pass instead of it computing them again (the same
/// bits either way).
pub fn causal_attention(qkv: &Tensor, heads: usize, scale: f32) -> candle_core::Result<Tensor> {
    let (batch, time, _) = qkv.dims3()?;
    let kept_bytes = batch
        .saturating_mul(heads)
        .saturating_mul(time)
        .saturating_mul(time)
        .saturating_mul(std::mem::size_of::<f32>());
    let keep_weights = qkv.track_op() && kept_bytes <= KEPT_ATTENTION_WEIGHTS_LIMIT;
    qkv.contiguous()?
        .apply_op1(CausalAttention::new(heads, scale, keep_weights))
}

/// Attention of the queries in `qkv` `[batch, time, 3 * width]`, input row
/// `b` at positions `places[b].start..+time` of cache row `places[b].row`,
/// over the cached `keys` and `values` `[rows, heads, context, head_width]`
/// (already holding the new tokens, see [`write_cache`]): `[batch, time,
/// width]`. Inference only: no gradient.
pub fn cached_attention(
    qkv: &Tensor,
    keys: &Tensor,
    values: &Tensor,
    scale: f32,
    places: &[RowPlace],
) -> candle_core::Result<Tensor> {
    qkv.contiguous()?.apply_op3_no_bwd(
        &keys.contiguous()?,
        &values.contiguous()?,
        &CachedAttention {
            scale,
            places: places.to_vec(),
        },
    )
}

/// Writes the keys and values of `qkv` `[batch, new, 3 * width]` into the
/// cache tensors `keys` and `values` `[rows, heads, context, head_width]`,
/// input row `b` at `places[b]`, in place.
pub fn write_cache(
    keys: &Tensor,
    values: &Tensor,
    qkv: &Tensor,
    places: &[RowPlace],
) -> candle_core::Result<()> {
    let qkv = qkv.contiguous()?;
    keys.inplace_op2(
        &qkv,
        &CacheWrite {
            part: 1,
            places: places.to_vec(),
        },
    )?;
    values.inplace_op2(
        &qkv,
        &CacheWrite {
            part: 2,
            places: places.to_vec(),
        },
    )
}

/// Copies the first `length` positions of row `from` of a cache tensor
/// `[rows, heads, context, head_width]` into row `to`, in place.
pub fn copy_cache_row(
    cache: &Tensor,
    from: usize,
    to: usize,
    length: usize,
) -> candle_core::Result<()> {
    cache.inplace_op1(&CacheRowCopy { from, to, length })
}

/// `log softmax(logits[r])[targets[r]]` for logits `[rows, vocab]` and
/// targets `[rows]` (`u32`): `[rows]`.
pub fn token_log_probabilities(logits: &Tensor, targets: &Tensor) -> candle_core::Result<Tensor> {
    logits
        .contiguous()?
        .apply_op2(&targets.contiguous()?, TokenLogProbability)
}

/// `e^x` of every value (the crate's own exponential, the same bits on
/// every machine), differentiable.
pub fn exponential(input: &Tensor) -> candle_core::Result<Tensor> {
    input.contiguous()?.apply_op1(Exponential)
}
