//! [`FeedForward`]: the position-wise MLP of a block.

use candle_core::{Module, Tensor};
use candle_nn::VarBuilder;

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

impl Module for FeedForward {
    fn forward(&self, input: &Tensor) -> candle_core::Result<Tensor> {
        let up = self.up.forward(input)?;
        let hidden = match &self.nonlinearity {
            // `Tensor::gelu` is the tanh approximation (`gelu_erf` is exact).
            Nonlinearity::Gelu => up.gelu()?,
            Nonlinearity::Relu => up.relu()?,
            Nonlinearity::Swiglu { gate } => (gate.forward(input)?.silu()? * up)?,
        };
        self.down.forward(&hidden)
    }
}
