//! [`Linear`]: an affine map over the last dimension.
//!
//! Unlike `candle_nn::Linear`, a 3-d input is flattened to a matrix before
//! the product, so the forward and backward passes are single matrix
//! products instead of batched ones over a broadcast weight.

use candle_core::Tensor;
use candle_nn::{Init, VarBuilder};

use super::kernels::{self, KernelPath};

/// `y = x Wᵀ + b`, with `W` of shape `[outputs, inputs]` (PyTorch's layout).
#[derive(Debug, Clone)]
pub(crate) struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    /// Loads `weight` (normal, standard deviation `stdev`) and, when `bias`,
    /// `bias` (zeros) under `vb`.
    pub(crate) fn load(
        vb: VarBuilder,
        inputs: usize,
        outputs: usize,
        bias: bool,
        stdev: f64,
    ) -> candle_core::Result<Self> {
        let weight = vb.get_with_hints(
            (outputs, inputs),
            "weight",
            Init::Randn { mean: 0.0, stdev },
        )?;
        let bias = if bias {
            Some(vb.get_with_hints(outputs, "bias", Init::Const(0.0))?)
        } else {
            None
        };
        Ok(Linear { weight, bias })
    }
}

impl Linear {
    /// `input [.., inputs] -> [.., outputs]`; the bias is added by the fused
    /// kernel or by candle's `broadcast_add`, as `path` says.
    pub(crate) fn forward(&self, input: &Tensor, path: KernelPath) -> candle_core::Result<Tensor> {
        let mut dims = input.dims().to_vec();
        let inputs = dims.pop().unwrap_or(0);
        let rows = dims.iter().product::<usize>();
        if path == KernelPath::Fused {
            let flat = kernels::linear(
                &input.reshape((rows, inputs))?,
                &self.weight,
                self.bias.as_ref(),
            )?;
            dims.push(self.weight.dim(0)?);
            return flat.reshape(dims);
        }
        let flat = input.reshape((rows, inputs))?.matmul(&self.weight.t()?)?;
        let flat = match &self.bias {
            Some(bias) if path == KernelPath::Fused => kernels::bias_add(&flat, bias)?,
            Some(bias) => flat.broadcast_add(bias)?,
            None => flat,
        };
        dims.push(self.weight.dim(0)?);
        flat.reshape(dims)
    }
}
