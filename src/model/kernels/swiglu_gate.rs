//! [`SwigluGate`]: SwiGLU's `silu(gate) * up` as one pass, with both
//! gradients computed in one backward pass.
//!
//! Composed from candle operations this is a sigmoid, two products and, in
//! the backward pass, about ten more element-wise tensors.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Shape, Tensor};

use super::exponential::sigmoid;
use super::rows::{build_blocks, f32_values};

/// The forward kernel: `(gate, up) -> gate * sigmoid(gate) * up`.
#[derive(Debug, Clone, Copy)]
pub struct SwigluGate;

/// The backward kernel: `(gate, up, upstream)` to both gradients, packed
/// one after the other in a tensor of twice the size.
#[derive(Debug, Clone, Copy)]
struct SwigluBackward;

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
        let output = build_blocks(gate.len(), |start, block| {
            let gate = &gate[start..start + block.len()];
            let up = &up[start..start + block.len()];
            for ((out, &g), &u) in block.iter_mut().zip(gate).zip(up) {
                *out = g * sigmoid(g) * u;
            }
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
        // The gate's gradient, then the up projection's; a block may hold
        // the end of one and the start of the other.
        let output = build_blocks(2 * count, |start, block| {
            let gate_end = (start + block.len()).min(count);
            let (gate_block, up_block) = block.split_at_mut(gate_end.saturating_sub(start));
            let gate_range = start.min(gate_end)..gate_end;
            let operands = gate[gate_range.clone()].iter().zip(&up[gate_range.clone()]);
            for ((out, (&g, &u)), &gradient) in gate_block
                .iter_mut()
                .zip(operands)
                .zip(&upstream[gate_range])
            {
                let s = sigmoid(g);
                *out = gradient * u * (s + g * s * (1.0 - s));
            }
            let up_start = start.max(count) - count;
            let up_range = up_start..up_start + up_block.len();
            for ((out, &g), &gradient) in up_block
                .iter_mut()
                .zip(&gate[up_range.clone()])
                .zip(&upstream[up_range])
            {
                *out = gradient * g * sigmoid(g);
            }
        });
        Ok((CpuStorage::F32(output), Shape::from(2 * count)))
    }
}
