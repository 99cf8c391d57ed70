//! [`FeedForward`]: the position-wise MLP of a block.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::kernels::{self, KernelPath, PointwiseKind};
use super::linear::Linear;
use super::{Activation, ModelConfig};

/// `down(act(up(x)))`, or `down(silu(gate(x)) * up(x))` for SwiGLU.
#[derive(Debug, Clone)]
pub(crate) struct FeedForward {
    nonlinearity: Nonlinearity,
    up: Linear,
    down: Linear,
}

/// The activation, holding SwiGLU's gate projection.
#[derive(Debug, Clone)]
enum Nonlinearity {
    Gelu,
    Relu,
    Swiglu { gate: Linear },
}

impl FeedForward {
    /// Loads `up`, `gate` (SwiGLU only) and `down` under `vb`; `down` is a
    /// residual projection and starts with standard deviation
    /// `residual_stdev`.
    pub(crate) fn load(
        vb: VarBuilder,
        config: &ModelConfig,
        stdev: f64,
        residual_stdev: f64,
    ) -> candle_core::Result<Self> {
        let (width, hidden) = (config.width, config.hidden_width());
        let up = Linear::load(vb.pp("up"), width, hidden, config.bias, stdev)?;
        let nonlinearity = match config.activation {
            Activation::Gelu => Nonlinearity::Gelu,
            Activation::Relu => Nonlinearity::Relu,
            Activation::Swiglu => Nonlinearity::Swiglu {
                gate: Linear::load(vb.pp("gate"), width, hidden, config.bias, stdev)?,
            },
        };
        let down = Linear::load(vb.pp("down"), hidden, width, config.bias, residual_stdev)?;
        Ok(FeedForward {
            nonlinearity,
            up,
            down,
        })
    }
}

impl FeedForward {
    /// The layer on `input` `[.., width]`, with the fused activation kernels
    /// or candle's operations.
    pub(crate) fn forward(&self, input: &Tensor, path: KernelPath) -> candle_core::Result<Tensor> {
        let up = self.up.forward(input, path)?;
        let hidden = match (&self.nonlinearity, path) {
            (Nonlinearity::Gelu, KernelPath::Fused) => {
                kernels::activation(&up, PointwiseKind::Gelu)?
            }
            (Nonlinearity::Relu, KernelPath::Fused) => {
                kernels::activation(&up, PointwiseKind::Relu)?
            }
            (Nonlinearity::Swiglu { gate }, KernelPath::Fused) => {
                kernels::swiglu(&gate.forward(input, path)?, &up)?
            }
            // `Tensor::gelu` is the tanh approximation (`gelu_erf` is exact).
            (Nonlinearity::Gelu, KernelPath::Composed) => up.gelu()?,
            (Nonlinearity::Relu, KernelPath::Composed) => up.relu()?,
            (Nonlinearity::Swiglu { gate }, KernelPath::Composed) => {
                (gate.forward(input, path)?.silu()? * up)?
            }
        };
        self.down.forward(&hidden, path)
    }
}
