//! [`SwigluGate`]: SwiGLU's `silu(gate) * up` as one pass, with both
//! gradients computed in one backward pass.
//!
//! Composed from candle operations this is a sigmoid, two products and, in
//! the backward pass, about ten more element-wise tensors.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Shape, Tensor};

use super::rows::{f32_values, for_each_element};

/// The forward kernel: `(gate, up) -> gate * sigmoid(gate) * up`.
#[derive(Debug, Clone, Copy)]
pub struct SwigluGate;

/// The backward kernel: `(gate, up, upstream)` to both gradients, packed
/// one after the other in a tensor of twice the size.
#[derive(Debug, Clone, Copy)]
struct SwigluBackward;

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl CustomOp2 for SwigluGate {
    fn name(&self) -> &'static str {
        "swiglu-gate"
    }

    fn cpu_fwd(
        &self,
        gate_storage: &CpuStorage,
        gate_layout: &Layout,
        up_storage: &CpuStorage,
        up_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let gate = f32_values(gate_storage, gate_layout, self.name())?;
        let up = f32_values(up_storage, up_layout, self.name())?;
        if gate_layout.shape() != up_layout.shape() {
            candle_core::bail!("`{}`: gate and up shapes differ", self.name());
        }
        let mut output = vec![0f32; gate.len()];
        for_each_element(&mut output, |index, value| {
            let g = gate[index];
            *value = g * sigmoid(g) * up[index];
        });
        Ok((CpuStorage::F32(output), gate_layout.shape().clone()))
    }

    fn bwd(
        &self,
        gate: &Tensor,
        up: &Tensor,
        _output: &Tensor,
        upstream: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let packed = gate.contiguous()?.apply_op3_no_bwd(
            &up.contiguous()?,
            &upstream.contiguous()?,
            &SwigluBackward,
        )?;
        let count = gate.elem_count();
        let gate_gradient = packed.narrow(0, 0, count)?.reshape(gate.shape())?;
        let up_gradient = packed.narrow(0, count, count)?.reshape(up.shape())?;
        Ok((Some(gate_gradient), Some(up_gradient)))
    }
}

impl CustomOp3 for SwigluBackward {
    fn name(&self) -> &'static str {
        "swiglu-gate-backward"
    }

    fn cpu_fwd(
        &self,
        gate_storage: &CpuStorage,
        gate_layout: &Layout,
        up_storage: &CpuStorage,
        up_layout: &Layout,
        upstream_storage: &CpuStorage,
        upstream_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let gate = f32_values(gate_storage, gate_layout, self.name())?;
        let up = f32_values(up_storage, up_layout, self.name())?;
        let upstream = f32_values(upstream_storage, upstream_layout, self.name())?;
        let count = gate.len();
        if up.len() != count || upstream.len() != count {
            candle_core::bail!("`{}`: operand sizes differ", self.name());
        }
        let mut output = vec![0f32; 2 * count];
        for_each_element(&mut output, |index, value| {
            if index < count {
                let g = gate[index];
                let s = sigmoid(g);
                *value = upstream[index] * up[index] * (s + g * s * (1.0 - s));
            } else {
                let g = gate[index - count];
                *value = upstream[index - count] * g * sigmoid(g);
            }
        });
        Ok((CpuStorage::F32(output), Shape::from(2 * count)))
    }
}
