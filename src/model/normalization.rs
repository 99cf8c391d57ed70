//! [`Normalization`]: layer norm or RMS norm, built from basic tensor
//! operations so that gradients reach its gain and bias (candle's fused
//! versions pass none).

use candle_core::{Tensor, D};
use candle_nn::{Init, VarBuilder};

use super::kernels::{self, KernelPath};
use super::NormKind;

/// Added to the variance before the square root.
const EPSILON: f64 = 1e-5;

/// A normalisation over the last dimension with a learned gain (`weight`)
/// and, for layer norm in a model with biases, a learned `bias`.
#[derive(Debug, Clone)]
pub(crate) struct Normalization {
    kind: NormKind,
    gain: Tensor,
    bias: Option<Tensor>,
}

impl Normalization {
    /// Loads the gain (ones) and the bias (zeros) under `vb`.
    pub(crate) fn load(
        vb: VarBuilder,
        kind: NormKind,
        width: usize,
        bias: bool,
    ) -> candle_core::Result<Self> {
        let gain = vb.get_with_hints(width, "weight", Init::Const(1.0))?;
        let bias = if bias && kind == NormKind::LayerNorm {
            Some(vb.get_with_hints(width, "bias", Init::Const(0.0))?)
        } else {
            None
        };
        Ok(Normalization { kind, gain, bias })
    }
}

impl Normalization {
    /// Normalises `input` over its last dimension, with the fused kernel or
    /// the composition of candle operations.
    pub(crate) fn forward(&self, input: &Tensor, path: KernelPath) -> candle_core::Result<Tensor> {
        if path == KernelPath::Fused {
            return kernels::norm(
                input,
                &self.gain,
                self.bias.as_ref(),
                self.kind,
                EPSILON as f32,
            );
        }
        let normalized = match self.kind {
            NormKind::LayerNorm => {
                let centered = input.broadcast_sub(&input.mean_keepdim(D::Minus1)?)?;
                let variance = centered.sqr()?.mean_keepdim(D::Minus1)?;
                centered.broadcast_div(&(variance + EPSILON)?.sqrt()?)?
            }
            NormKind::RmsNorm => {
                let mean_square = input.sqr()?.mean_keepdim(D::Minus1)?;
                input.broadcast_div(&(mean_square + EPSILON)?.sqrt()?)?
            }
        };
        let scaled = normalized.broadcast_mul(&self.gain)?;
        match &self.bias {
            Some(bias) => scaled.broadcast_add(bias),
            None => Ok(scaled),
        }
    }
}
