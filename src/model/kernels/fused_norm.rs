//! [`FusedNorm`]: layer norm or RMS norm over the last dimension, with gain
//! and optional bias, in one pass per row, and its backward pass giving the
//! input, gain and bias gradients in one more.
//!
//! The statistics of a row are summed on one thread in index order; the
//! gain and bias gradients are sums over rows, accumulated row after row in
//! a fixed order after the parallel part, so no sum is ever split between
//! threads.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::lanes;
use super::rows::{add_column_sums, add_column_totals, build_rows, f32_values};
use crate::model::NormKind;

/// Normalises each row of `[.., width]` and applies the gain (and bias).
///
/// As a [`CustomOp2`] it takes `(input, gain)`; as a [`CustomOp3`]
/// `(input, gain, bias)`.
#[derive(Debug, Clone, Copy)]
pub struct FusedNorm {
    /// Layer norm (centred) or RMS norm.
    pub kind: NormKind,
    /// Added to the variance (or mean square) before the square root.
    pub epsilon: f32,
}

/// `(input, gain, upstream)` to the input gradient's rows followed by the
/// gain gradient and the bias gradient, packed as `[rows + 2, width]`.
#[derive(Debug, Clone, Copy)]
struct NormBackward {
    kind: NormKind,
    epsilon: f32,
}

impl FusedNorm {
    /// The mean (zero for RMS norm) and the reciprocal standard deviation
    /// of one row.
    fn statistics(&self, row: &[f32]) -> (f32, f32) {
        let width = row.len() as f32;
        match self.kind {
            NormKind::LayerNorm => {
                let mean = lanes::sum(row) / width;
                let squares = lanes::sum_of(row, |value| (value - mean) * (value - mean));
                (mean, 1.0 / (squares / width + self.epsilon).sqrt())
            }
            NormKind::RmsNorm => {
                let squares = lanes::dot(row, row);
                (0.0, 1.0 / (squares / width + self.epsilon).sqrt())
            }
        }
    }

    fn run(
        &self,
        input: &[f32],
        shape: &Shape,
        gain: &[f32],
        bias: Option<&[f32]>,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let width = gain.len();
        if shape.dims().last() != Some(&width) || bias.is_some_and(|bias| bias.len() != width) {
            candle_core::bail!("`fused-norm`: gain, bias and input widths differ");
        }
        let output = build_rows(input.len(), width, |row, out| {
            let values = &input[row * width..(row + 1) * width];
            let (mean, reciprocal) = self.statistics(values);
            for (index, out) in out.iter_mut().enumerate() {
                let normalized = (values[index] - mean) * reciprocal;
                *out = normalized * gain[index] + bias.map_or(0.0, |bias| bias[index]);
            }
        });
        Ok((CpuStorage::F32(output), shape.clone()))
    }

    fn backward(
        &self,
        input: &Tensor,
        gain: &Tensor,
        upstream: &Tensor,
    ) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
        let width = gain.elem_count();
        let rows = input.elem_count() / width.max(1);
        let packed = input.contiguous()?.apply_op3_no_bwd(
            &gain.contiguous()?,
            &upstream.contiguous()?,
            &NormBackward {
                kind: self.kind,
                epsilon: self.epsilon,
            },
        )?;
        Ok((
            packed.narrow(0, 0, rows)?.reshape(input.shape())?,
            packed.get(rows)?,
            packed.get(rows + 1)?,
        ))
    }
}

impl CustomOp2 for FusedNorm {
    fn name(&self) -> &'static str {
        "fused-norm"
    }

    fn cpu_fwd(
        &self,
        input_storage: &CpuStorage,
        input_layout: &Layout,
        gain_storage: &CpuStorage,
        gain_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let input = f32_values(input_storage, input_layout, "fused-norm")?;
        let gain = f32_values(gain_storage, gain_layout, "fused-norm")?;
        self.run(input, input_layout.shape(), gain, None)
    }

    fn bwd(
        &self,
        input: &Tensor,
        gain: &Tensor,
        _output: &Tensor,
        upstream: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (input_gradient, gain_gradient, _) = self.backward(input, gain, upstream)?;
        Ok((Some(input_gradient), Some(gain_gradient)))
    }
}

impl CustomOp3 for FusedNorm {
    fn name(&self) -> &'static str {
        "fused-norm"
    }

    fn cpu_fwd(
        &self,
        input_storage: &CpuStorage,
        input_layout: &Layout,
        gain_storage: &CpuStorage,
        gain_layout: &Layout,
        bias_storage: &CpuStorage,
        bias_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let input = f32_values(input_storage, input_layout, "fused-norm")?;
        let gain = f32_values(gain_storage, gain_layout, "fused-norm")?;
        let bias = f32_values(bias_storage, bias_layout, "fused-norm")?;
        self.run(input, input_layout.shape(), gain, Some(bias))
    }

    fn bwd(
        &self,
        input: &Tensor,
        gain: &Tensor,
        _bias: &Tensor,
        _output: &Tensor,
        upstream: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (input_gradient, gain_gradient, bias_gradient) =
            self.backward(input, gain, upstream)?;
        Ok((
            Some(input_gradient),
            Some(gain_gradient),
            Some(bias_gradient),
        ))
    }
}

impl CustomOp3 for NormBackward {
    fn name(&self) -> &'static str {
        "fused-norm-backward"
    }

    fn cpu_fwd(
        &self,
        input_storage: &CpuStorage,
        input_layout: &Layout,
        gain_storage: &CpuStorage,
        gain_layout: &Layout,
        upstream_storage: &CpuStorage,
        upstream_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let input = f32_values(input_storage, input_layout, self.name())?;
        let gain = f32_values(gain_storage, gain_layout, self.name())?;
        let upstream = f32_values(upstream_storage, upstream_layout, self.name())?;
        let width = gain.len();
        if width == 0 || input.len() % width != 0 || upstream.len() != input.len() {
            candle_core::bail!("`{}`: operand sizes differ", self.name());
        }
        let rows = input.len() / width;
        let forward = FusedNorm {
            kind: self.kind,
            epsilon: self.epsilon,
        };
        let statistics: Vec<(f32, f32)> = input
            .par_chunks(width)
            .map(|row| forward.statistics(row))
            .collect();
        // The input's gradient row by row, then two rows of zeros for the
        // gain's and the bias's, summed below.
        let mut output = build_rows((rows + 2) * width, width, |row, out| {
            if row >= rows {
                return;
            }
            let values = &input[row * width..(row + 1) * width];
            let upstream = &upstream[row * width..(row + 1) * width];
            let (mean, reciprocal) = statistics[row];
            // d(normalized) = upstream * gain; the input gradient removes
            // its mean (layer norm only) and its projection on `normalized`.
            let scaled: Vec<f32> = upstream.iter().zip(gain).map(|(u, g)| u * g).collect();
            let normalized: Vec<f32> = values
                .iter()
                .map(|value| (value - mean) * reciprocal)
                .collect();
            let sum = lanes::sum(&scaled);
            let dot = lanes::dot(&scaled, &normalized);
            let width = width as f32;
            let mean_scaled = match self.kind {
                NormKind::LayerNorm => sum / width,
                NormKind::RmsNorm => 0.0,
            };
            let mean_dot = dot / width;
            for ((out, &scaled), &normalized) in out.iter_mut().zip(&scaled).zip(&normalized) {
                *out = reciprocal * (scaled - mean_scaled - normalized * mean_dot);
            }
        });
        let (_, parameter_gradients) = output.split_at_mut(rows * width);
        let (gain_gradient, bias_gradient) = parameter_gradients.split_at_mut(width);
        add_column_sums(gain_gradient, rows, |row, first, sums| {
            let (mean, reciprocal) = statistics[row];
            let at = row * width + first..row * width + first + sums.len();
            for ((sum, &upstream), &value) in
                sums.iter_mut().zip(&upstream[at.clone()]).zip(&input[at])
            {
                *sum += upstream * (value - mean) * reciprocal;
            }
        });
        add_column_totals(bias_gradient, upstream);
        Ok((CpuStorage::F32(output), Shape::from((rows + 2, width))))
    }
}
