//! [`PointwiseActivation`]: GELU (tanh approximation) or ReLU as one pass
//! over the values, with a hand-written backward pass that is one more pass.
//!
//! candle's own `gelu` builds its gradient from eight element-wise tensor
//! operations (each allocating a tensor the size of the hidden layer); here
//! the derivative is evaluated once per element from the saved input.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};

use super::rows::{f32_values, for_each_element};
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

    fn value(self, x: f32) -> f32 {
        match self {
            PointwiseKind::Gelu => {
                let inner = SQRT_TWO_OVER_PI * (x + CUBIC * x * x * x);
                0.5 * x * (1.0 + inner.tanh())
            }
            PointwiseKind::Relu => x.max(0.0),
        }
    }

    fn derivative(self, x: f32) -> f32 {
        match self {
            PointwiseKind::Gelu => {
                let x_squared = x * x;
                let tanh = (SQRT_TWO_OVER_PI * (x + CUBIC * x_squared * x)).tanh();
                let inner_derivative = SQRT_TWO_OVER_PI * (1.0 + 3.0 * CUBIC * x_squared);
                0.5 * (1.0 + tanh) + 0.5 * x * (1.0 - tanh * tanh) * inner_derivative
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
        let mut output = vec![0f32; input.len()];
        let kind = self.kind;
        for_each_element(&mut output, |index, value| {
            *value = kind.value(input[index]);
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
        let mut output = vec![0f32; input.len()];
        let kind = self.kind;
        for_each_element(&mut output, |index, value| {
            *value = upstream[index] * kind.derivative(input[index]);
        });
        Ok((CpuStorage::F32(output), input_layout.shape().clone()))
    }
}
