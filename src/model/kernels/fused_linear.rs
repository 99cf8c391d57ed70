//! [`FusedLinear`]: `y = x Wᵀ + b` as one gemm call with the bias
//! preloaded in the output, and a backward pass of two gemm calls and one
//! column sum, all in one custom operation.
//!
//! Through candle a linear layer was a transpose view, a matrix product, a
//! broadcast add and a reshape, each a node of the autograd graph with its
//! own gradient tensor to allocate and accumulate. Products of fewer than
//! [`PARALLEL_THRESHOLD`] multiply-adds (a decoding step's) run on the
//! calling thread: waking the thread pool cost more than they do.
//!
//! Determinism: the products' summation order is fixed by their shapes
//! ([`super::matrix_product`]); gemm parallelises over blocks of output
//! rows and columns and keeps every dot product on one thread, so results
//! do not depend on the thread count (the thread-count test checks it);
//! the bias gradient sums rows in order.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Shape, Tensor};

use super::matrix_product::{Product, Threads};
use super::rows::{add_column_totals, build_rows, f32_values, zeros};
use super::strided_matrix::StridedMatrix;

/// Multiply-adds below which a product runs on one thread.
const PARALLEL_THRESHOLD: usize = 1 << 20;

/// `(input [rows, inputs], weight [outputs, inputs])` (as a
/// [`CustomOp2`]) or `(input, weight, bias [outputs])` (as a
/// [`CustomOp3`]) `-> [rows, outputs]`.
#[derive(Debug, Clone, Copy)]
pub struct FusedLinear;

/// `(input, weight, upstream [rows, outputs])` to the input, weight and
/// bias gradients, packed one after the other in one flat tensor.
#[derive(Debug, Clone, Copy)]
struct FusedLinearBackward;

fn threads(multiply_adds: usize) -> Threads {
    // The pool the caller runs in (a stage's own, see the local executor).
    if rayon::current_num_threads() > 1 && multiply_adds >= PARALLEL_THRESHOLD {
        Threads::Pool
    } else {
        Threads::One
    }
}

/// `destination (+)= left * right` for row-major `left [m, k]` and
/// `right` given by its strides as a `[k, n]` matrix; `accumulate` keeps
/// what `destination` holds and adds the product to it.
fn product(
    destination: &mut [f32],
    accumulate: bool,
    left: &[f32],
    left_strides: (usize, usize),
    right: &[f32],
    right_strides: (usize, usize),
    (m, k, n): (usize, usize, usize),
) -> candle_core::Result<()> {
    let view = |rows, columns, (row_stride, column_stride)| StridedMatrix {
        offset: 0,
        rows,
        columns,
        row_stride,
        column_stride,
    };
    if destination.len() != m * n {
        candle_core::bail!("`fused-linear`: operand sizes do not match");
    }
    Product::new(accumulate, threads(m * n * k)).compute(
        destination,
        StridedMatrix::rows(0, m, n, n),
        left,
        view(m, k, left_strides),
        right,
        view(k, n, right_strides),
    )
}

impl FusedLinear {
    fn run(
        &self,
        input: &[f32],
        input_shape: &Shape,
        weight: &[f32],
        weight_shape: &Shape,
        bias: Option<&[f32]>,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (rows, inputs) = input_shape.dims2()?;
        let (outputs, weight_inputs) = weight_shape.dims2()?;
        if weight_inputs != inputs || bias.is_some_and(|bias| bias.len() != outputs) {
            candle_core::bail!("`fused-linear`: input, weight and bias shapes do not match");
        }
        // The bias preloaded in every row (the product adds to it), written
        // once rather than over a zeroed buffer.
        let mut output = match bias {
            Some(bias) => build_rows(rows * outputs, outputs, |_, row| row.copy_from_slice(bias)),
            None => zeros(rows * outputs),
        };
        // x [rows, inputs] times Wᵀ: W read as [inputs, outputs] by strides.
        product(
            &mut output,
            bias.is_some(),
            input,
            (inputs, 1),
            weight,
            (1, inputs),
            (rows, inputs, outputs),
        )?;
        Ok((CpuStorage::F32(output), Shape::from((rows, outputs))))
    }

    fn backward(
        &self,
        input: &Tensor,
        weight: &Tensor,
        upstream: &Tensor,
    ) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
        let (rows, inputs) = input.dims2()?;
        let outputs = weight.dim(0)?;
        let packed = input.contiguous()?.apply_op3_no_bwd(
            &weight.contiguous()?,
            &upstream.contiguous()?,
            &FusedLinearBackward,
        )?;
        let input_gradient = packed
            .narrow(0, 0, rows * inputs)?
            .reshape((rows, inputs))?;
        let weight_gradient = packed
            .narrow(0, rows * inputs, outputs * inputs)?
            .reshape((outputs, inputs))?;
        let bias_gradient = packed.narrow(0, (rows + outputs) * inputs, outputs)?;
        Ok((input_gradient, weight_gradient, bias_gradient))
    }
}

impl CustomOp2 for FusedLinear {
    fn name(&self) -> &'static str {
        "fused-linear"
    }

    fn cpu_fwd(
        &self,
        input_storage: &CpuStorage,
        input_layout: &Layout,
        weight_storage: &CpuStorage,
        weight_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let input = f32_values(input_storage, input_layout, "fused-linear")?;
        let weight = f32_values(weight_storage, weight_layout, "fused-linear")?;
        self.run(
            input,
            input_layout.shape(),
            weight,
            weight_layout.shape(),
            None,
        )
    }

    fn bwd(
        &self,
        input: &Tensor,
        weight: &Tensor,
        _output: &Tensor,
        upstream: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (input_gradient, weight_gradient, _) = self.backward(input, weight, upstream)?;
        Ok((Some(input_gradient), Some(weight_gradient)))
    }
}

impl CustomOp3 for FusedLinear {
    fn name(&self) -> &'static str {
        "fused-linear"
    }

    fn cpu_fwd(
        &self,
        input_storage: &CpuStorage,
        input_layout: &Layout,
        weight_storage: &CpuStorage,
        weight_layout: &Layout,
        bias_storage: &CpuStorage,
        bias_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let input = f32_values(input_storage, input_layout, "fused-linear")?;
        let weight = f32_values(weight_storage, weight_layout, "fused-linear")?;
        let bias = f32_values(bias_storage, bias_layout, "fused-linear")?;
        self.run(
            input,
            input_layout.shape(),
            weight,
            weight_layout.shape(),
            Some(bias),
        )
    }

    fn bwd(
        &self,
        input: &Tensor,
        weight: &Tensor,
        _bias: &Tensor,
        _output: &Tensor,
        upstream: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (input_gradient, weight_gradient, bias_gradient) =
            self.backward(input, weight, upstream)?;
        Ok((
            Some(input_gradient),
            Some(weight_gradient),
            Some(bias_gradient),
        ))
    }
}

impl CustomOp3 for FusedLinearBackward {
    fn name(&self) -> &'static str {
        "fused-linear-backward"
    }

    fn cpu_fwd(
        &self,
        input_storage: &CpuStorage,
        input_layout: &Layout,
        weight_storage: &CpuStorage,
        weight_layout: &Layout,
        upstream_storage: &CpuStorage,
        upstream_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let input = f32_values(input_storage, input_layout, self.name())?;
        let weight = f32_values(weight_storage, weight_layout, self.name())?;
        let upstream = f32_values(upstream_storage, upstream_layout, self.name())?;
        let (rows, inputs) = input_layout.shape().dims2()?;
        let (outputs, _) = weight_layout.shape().dims2()?;
        if upstream_layout.shape().dims2()? != (rows, outputs) {
            candle_core::bail!("`{}`: gradient and output shapes differ", self.name());
        }
        let mut output = zeros((rows + outputs) * inputs + outputs);
        let (input_gradient, rest) = output.split_at_mut(rows * inputs);
        let (weight_gradient, bias_gradient) = rest.split_at_mut(outputs * inputs);
        // dX = dY W: [rows, outputs] x [outputs, inputs].
        product(
            input_gradient,
            false,
            upstream,
            (outputs, 1),
            weight,
            (inputs, 1),
            (rows, outputs, inputs),
        )?;
        // dW = dYᵀ X: dY read as [outputs, rows] by strides, X [rows, inputs].
        product(
            weight_gradient,
            false,
            upstream,
            (1, outputs),
            input,
            (inputs, 1),
            (outputs, rows, inputs),
        )?;
        add_column_totals(bias_gradient, upstream);
        Ok((
            CpuStorage::F32(output),
            Shape::from(output_length(rows, inputs, outputs)),
        ))
    }
}

fn output_length(rows: usize, inputs: usize, outputs: usize) -> usize {
    (rows + outputs) * inputs + outputs
}
