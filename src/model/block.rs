//! [`Block`]: one pre-norm transformer block.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::attention::Attention;
use super::feed_forward::FeedForward;
use super::kernels::KernelPath;
use super::kv_cache::CachedRows;
use super::normalization::Normalization;
use super::rotary_embedding::RotaryEmbedding;
use super::ModelConfig;

/// `x + attention(norm(x))`, then `x + feed_forward(norm(x))`.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    attention_norm: Normalization,
    attention: Attention,
    feed_forward_norm: Normalization,
    feed_forward: FeedForward,
}

impl Block {
    /// Loads `attention_norm`, `attention`, `feed_forward_norm` and
    /// `feed_forward` under `vb`.
    pub(crate) fn load(
        vb: VarBuilder,
        config: &ModelConfig,
        rotary: Option<RotaryEmbedding>,
        stdev: f64,
        residual_stdev: f64,
    ) -> candle_core::Result<Self> {
        Ok(Block {
            attention_norm: Normalization::load(
                vb.pp("attention_norm"),
                config.norm,
                config.width,
                config.bias,
            )?,
            attention: Attention::load(vb.pp("attention"), config, rotary, stdev, residual_stdev)?,
            feed_forward_norm: Normalization::load(
                vb.pp("feed_forward_norm"),
                config.norm,
                config.width,
                config.bias,
            )?,
            feed_forward: FeedForward::load(vb.pp("feed_forward"), config, stdev, residual_stdev)?,
        })
    }

    /// Runs the block (see [`Attention::forward`] for the arguments).
    /// See [`Attention::takes_rows_apart`].
    pub(crate) fn takes_rows_apart(&self, path: KernelPath) -> bool {
        self.attention.takes_rows_apart(path)
    }

    pub(crate) fn forward(
        &self,
        input: &Tensor,
        mask: &Tensor,
        cached: Option<(CachedRows<'_>, usize)>,
        path: KernelPath,
    ) -> candle_core::Result<Tensor> {
        let attended = self.attention.forward(
            &self.attention_norm.forward(input, path)?,
            mask,
            cached,
            path,
        )?;
        let residual = (input + attended)?;
        let fed = self
            .feed_forward
            .forward(&self.feed_forward_norm.forward(&residual, path)?, path)?;
        residual + fed
    }
}
