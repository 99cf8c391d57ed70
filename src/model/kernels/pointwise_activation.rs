//! [`PointwiseActivation`]: GELU (tanh approximation) or ReLU as one pass
//! over the values, with a hand-written backward pass that is one more pass.
//!
//! candle's own `gelu` builds its gradient from eight element-wise tensor
//! operations (each allocating a tensor the size of the hidden layer); here
//! the derivative is evaluated once per element from the saved input.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};

use super::exponential::sigmoid;
use super::rows::{build_blocks, f32_values};
use super::vector_width::widest;
use crate::model::Activation;

/// `sqrt(2 / pi)`, GELU's inner scale.
const SQRT_TWO_OVER_PI: f32 = 0.797_884_6;
/// The cubic coefficient of GELU's tanh approximation.
const CUBIC: f32 = 0.044_715;

/// Which element-wise non-linearity a [`PointwiseActivation`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointwiseKind {
    /// `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`.
    Gelu,
    /// `max(x, 0)`.
    Relu,
}

impl PointwiseKind {
    /// The element-wise kind of a feed-forward activation, if it has one
    /// (SwiGLU is a product of two projections, see `SwigluGate`).
    pub fn of(activation: Activation) -> Option<Self> {
        match activation {
            Activation::Gelu => Some(PointwiseKind::Gelu),
            Activation::Relu => Some(PointwiseKind::Relu),
            Activation::Swiglu => None,
        }
    }

    #[inline(always)]
    fn value(self, x: f32) -> f32 {
        match self {
            PointwiseKind::Gelu => {
                // 0.5 x (1 + tanh(u)) = x sigmoid(2 u).
                let inner = SQRT_TWO_OVER_PI * (x + CUBIC * x * x * x);
                x * sigmoid(2.0 * inner)
            }
            PointwiseKind::Relu => x.max(0.0),
        }
    }

    #[inline(always)]
    fn derivative(self, x: f32) -> f32 {
        match self {
            PointwiseKind::Gelu => {
                // With s = sigmoid(2 u): 0.5 (1 + tanh u) = s and
                // 1 - tanh² u = 4 s (1 - s).
                let x_squared = x * x;
                let s = sigmoid(2.0 * SQRT_TWO_OVER_PI * (x + CUBIC * x_squared * x));
                let inner_derivative = SQRT_TWO_OVER_PI * (1.0 + 3.0 * CUBIC * x_squared);
                s + 2.0 * x * s * (1.0 - s) * inner_derivative
            }
            PointwiseKind::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }
}

/// The forward kernel: `activation(x)` element by element.
#[derive(Debug, Clone, Copy)]
pub struct PointwiseActivation {
    /// The non-linearity.
    pub kind: PointwiseKind,
}

/// The backward kernel: `(x, upstream) -> upstream * activation'(x)`.
#[derive(Debug, Clone, Copy)]
struct PointwiseBackward {
    kind: PointwiseKind,
}

widest! {
    /// `block[i] = activation(input[i])`.
    fn forward_block(kind: PointwiseKind, input: &[f32], block: &mut [f32]) {
        match kind {
            PointwiseKind::Gelu => {
                for (out, &x) in block.iter_mut().zip(input) {
                    *out = PointwiseKind::Gelu.value(x);
                }
            }
            PointwiseKind::Relu => {
                for (out, &x) in block.iter_mut().zip(input) {
                    *out = PointwiseKind::Relu.value(x);
                }
            }
        }
    }
}

widest! {
    /// `block[i] = upstream[i] * activation'(input[i])`.
    fn backward_block(kind: PointwiseKind, operands: (&[f32], &[f32]), block: &mut [f32]) {
        let (input, upstream) = operands;
        match kind {
            PointwiseKind::Gelu => {
                for ((out, &x), &gradient) in block.iter_mut().zip(input).zip(upstream) {
                    *out = gradient * PointwiseKind::Gelu.derivative(x);
                }
            }
            PointwiseKind::Relu => {
                for ((out, &x), &gradient) in block.iter_mut().zip(input).zip(upstream) {
                    *out = gradient * PointwiseKind::Relu.derivative(x);
                }
            }
        }
    }
}

impl CustomOp1 for PointwiseActivation {
    fn name(&self) -> &'static str {
        "pointwise-activation"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let input = f32_values(storage, layout, self.name())?;
        let kind = self.kind;
        let output = build_blocks(input.len(), |start, block| {
            let input = &input[start..start + block.len()];
            forward_block(kind, input, block);
        });
        Ok((CpuStorage::F32(output), layout.shape().clone()))
    }

    fn bwd(
        &self,
        input: &Tensor,
        _output: &Tensor,
        upstream: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let gradient = input.contiguous()?.apply_op2_no_bwd(
            &upstream.contiguous()?,
            &PointwiseBackward { kind: self.kind },
        )?;
        Ok(Some(gradient))
    }
}

impl CustomOp2 for PointwiseBackward {
    fn name(&self) -> &'static str {
        "pointwise-activation-backward"
    }

    fn cpu_fwd(
        &self,
        input_storage: &CpuStorage,
        input_layout: &Layout,
        upstream_storage: &CpuStorage,
        upstream_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let input = f32_values(input_storage, input_layout, self.name())?;
        let upstream = f32_values(upstream_storage, upstream_layout, self.name())?;
        if input.len() != upstream.len() {
            candle_core::bail!("`{}`: input and gradient sizes differ", self.name());
        }
        let kind = self.kind;
        let output = build_blocks(input.len(), |start, block| {
            let input = &input[start..start + block.len()];
            let upstream = &upstream[start..start + block.len()];
            backward_block(kind, (input, upstream), block);
        });
        Ok((CpuStorage::F32(output), input_layout.shape().clone()))
    }
}
