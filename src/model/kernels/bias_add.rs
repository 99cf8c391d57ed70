//! [`BiasAdd`]: adds a bias to every row of a matrix; its backward pass
//! passes the gradient through and sums it over rows for the bias.
//!
//! candle's `broadcast_add` is correct but its gradient for the bias goes
//! through a generic broadcast reduction; here the column sums are one
//! pass over the rows, in row order (no sum is split between threads).

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};

use super::rows::{add_column_totals, build_rows, f32_values};

/// `(input [rows, width], bias [width]) -> input + bias` on every row.
#[derive(Debug, Clone, Copy)]
pub struct BiasAdd;

/// `[rows, width] -> [width]`: the sum of every column, rows added in order.
#[derive(Debug, Clone, Copy)]
pub struct ColumnSum;

impl CustomOp2 for BiasAdd {
    fn name(&self) -> &'static str {
        "bias-add"
    }

    fn cpu_fwd(
        &self,
        input_storage: &CpuStorage,
        input_layout: &Layout,
        bias_storage: &CpuStorage,
        bias_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let input = f32_values(input_storage, input_layout, self.name())?;
        let bias = f32_values(bias_storage, bias_layout, self.name())?;
        let width = bias.len();
        if input_layout.shape().dims().last() != Some(&width) {
            candle_core::bail!("`{}`: bias and input widths differ", self.name());
        }
        let output = build_rows(input.len(), width, |row, out| {
            let values = &input[row * width..(row + 1) * width];
            for ((out, &value), &bias) in out.iter_mut().zip(values).zip(bias) {
                *out = value + bias;
            }
        });
        Ok((CpuStorage::F32(output), input_layout.shape().clone()))
    }

    fn bwd(
        &self,
        _input: &Tensor,
        _bias: &Tensor,
        _output: &Tensor,
        upstream: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let bias_gradient = upstream.contiguous()?.apply_op1_no_bwd(&ColumnSum)?;
        Ok((Some(upstream.clone()), Some(bias_gradient)))
    }
}

impl CustomOp1 for ColumnSum {
    fn name(&self) -> &'static str {
        "column-sum"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let values = f32_values(storage, layout, self.name())?;
        let width = layout.shape().dims().last().copied().unwrap_or(1).max(1);
        let mut sums = vec![0f32; width];
        add_column_totals(&mut sums, values);
        Ok((CpuStorage::F32(sums), Shape::from(width)))
    }
}
