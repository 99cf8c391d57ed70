//! [`Attention`]: causal multi-head self-attention.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::kernels::{self, KernelPath};
use super::kv_cache::{shared_start, CachedRows};
use super::linear::Linear;
use super::rotary_embedding::RotaryEmbedding;
use super::ModelConfig;

/// Causal self-attention with one fused query-key-value projection (`qkv`,
/// output features ordered queries, keys, values, each head-major) and an
/// output projection (`out`).
#[derive(Debug, Clone)]
pub(crate) struct Attention {
    qkv: Linear,
    out: Linear,
    heads: usize,
    head_width: usize,
    rotary: Option<RotaryEmbedding>,
}

impl Attention {
    /// Loads `qkv` and `out` under `vb`; `out` is a residual projection and
    /// starts with standard deviation `residual_stdev`.
    pub(crate) fn load(
        vb: VarBuilder,
        config: &ModelConfig,
        rotary: Option<RotaryEmbedding>,
        stdev: f64,
        residual_stdev: f64,
    ) -> candle_core::Result<Self> {
        let width = config.width;
        Ok(Attention {
            qkv: Linear::load(vb.pp("qkv"), width, 3 * width, config.bias, stdev)?,
            out: Linear::load(vb.pp("out"), width, width, config.bias, residual_stdev)?,
            heads: config.heads,
            head_width: config.head_width(),
            rotary,
        })
    }

    /// Whether this layer decodes rows at different positions, or a subset
    /// of a cache's rows, in one call: the fused path without rotary
    /// positions.
    pub(crate) fn takes_rows_apart(&self, path: KernelPath) -> bool {
        self.rotary.is_none() && path == KernelPath::Fused
    }

    /// Attends `input` `[batch, time, width]` over itself and, with the
    /// cache of `layer`, over each row's cached tokens (input row `b` at
    /// its place in the cache; without a cache every row starts at
    /// position 0). `mask` is the model's `[context, context]` additive
    /// causal mask. Only the fused path without rotary positions takes rows
    /// at different positions or a subset of the cache's rows
    /// ([`Attention::takes_rows_apart`]).
    pub(crate) fn forward(
        &self,
        input: &Tensor,
        mask: &Tensor,
        cached: Option<(CachedRows<'_>, usize)>,
        path: KernelPath,
    ) -> candle_core::Result<Tensor> {
        let (batch, time, width) = input.dims3()?;
        let scale = 1.0 / (self.head_width as f64).sqrt();
        if self.takes_rows_apart(path) {
            let qkv = self.qkv.forward(input, path)?;
            let mixed = match cached {
                None => kernels::causal_attention(&qkv, self.heads, scale as f32)?,
                Some((rows, layer)) => {
                    let (keys, values) = rows.cache.append_from_qkv(layer, &qkv, rows.places)?;
                    kernels::cached_attention(&qkv, &keys, &values, scale as f32, rows.places)?
                }
            };
            return self.out.forward(&mixed, path);
        }
        let offset = match cached {
            None => 0,
            Some((rows, _)) => {
                let in_order = rows.cache.batch() == batch
                    && rows
                        .places
                        .iter()
                        .enumerate()
                        .all(|(b, place)| place.row == b);
                match (shared_start(rows.places), in_order) {
                    (Some(start), true) => start,
                    _ => candle_core::bail!(
                        "rotary positions and the composed kernels decode every row of a \
                         cache, in order, at one shared position"
                    ),
                }
            }
        };
        let split = self.qkv.forward(input, path)?.reshape((
            batch,
            time,
            3,
            self.heads,
            self.head_width,
        ))?;
        let part = |index: usize| -> candle_core::Result<Tensor> {
            split
                .narrow(2, index, 1)?
                .squeeze(2)?
                .transpose(1, 2)?
                .contiguous()
        };
        let (mut queries, mut keys, values) = (part(0)?, part(1)?, part(2)?);
        if let Some(rotary) = &self.rotary {
            queries = rotary.apply(&queries, offset)?;
            keys = rotary.apply(&keys, offset)?;
        }
        let (keys, values) = match cached {
            Some((rows, layer)) => rows.cache.append(layer, &keys, &values, offset)?,
            None => (keys, values),
        };
        let total = keys.dim(2)?;
        let weights = match path {
            KernelPath::Fused => {
                kernels::causal_softmax(&queries.matmul(&keys.t()?)?, scale as f32, offset)?
            }
            KernelPath::Composed => {
                let mut scores = (queries.matmul(&keys.t()?)? * scale)?;
                if time > 1 {
                    let causal = mask.narrow(0, offset, time)?.narrow(1, 0, total)?;
                    scores = scores.broadcast_add(&causal)?;
                }
                candle_nn::ops::softmax(&scores, candle_core::D::Minus1)?
            }
        };
        let mixed = weights
            .matmul(&values)?
            .transpose(1, 2)?
            .reshape((batch, time, width))?;
        self.out.forward(&mixed, path)
    }
}
