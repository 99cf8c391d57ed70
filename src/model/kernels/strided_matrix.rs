//! [`StridedMatrix`]: a bounds-checked view of a matrix inside a slice,
//! and [`multiply`], a single-threaded gemm product between such views.
//!
//! The fused attention multiplies per-head blocks that sit inside the
//! `qkv` activations with row strides of `3 * width`; gemm reads and writes
//! them in place, so no head is ever copied out. Each product runs on the
//! calling thread (`Parallelism::None`): the kernels parallelise over
//! sequences instead, so a product's summation order never depends on the
//! number of threads.

/// `rows x columns` values at `offset + r * row_stride + c * column_stride`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StridedMatrix {
    /// Index of the first value.
    pub offset: usize,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub columns: usize,
    /// Distance between consecutive rows.
    pub row_stride: usize,
    /// Distance between consecutive columns.
    pub column_stride: usize,
}

impl StridedMatrix {
    /// A row-major block: `rows x columns`, rows `row_stride` apart.
    pub(crate) fn rows(offset: usize, rows: usize, columns: usize, row_stride: usize) -> Self {
        StridedMatrix {
            offset,
            rows,
            columns,
            row_stride,
            column_stride: 1,
        }
    }

    /// The transpose, viewing the same values.
    pub(crate) fn transposed(self) -> Self {
        StridedMatrix {
            offset: self.offset,
            rows: self.columns,
            columns: self.rows,
            row_stride: self.column_stride,
            column_stride: self.row_stride,
        }
    }

    /// Whether every value lies inside a slice of `length`.
    fn fits(&self, length: usize) -> bool {
        if self.rows == 0 || self.columns == 0 {
            return self.offset <= length;
        }
        let last = self.offset
            + (self.rows - 1) * self.row_stride
            + (self.columns - 1) * self.column_stride;
        last < length
    }
}

/// `destination = left * right`, on this thread.
pub(crate) fn multiply(
    destination: &mut [f32],
    destination_view: StridedMatrix,
    left: &[f32],
    left_view: StridedMatrix,
    right: &[f32],
    right_view: StridedMatrix,
) -> candle_core::Result<()> {
    let (m, k, n) = (left_view.rows, left_view.columns, right_view.columns);
    if right_view.rows != k
        || destination_view.rows != m
        || destination_view.columns != n
        || !destination_view.fits(destination.len())
        || !left_view.fits(left.len())
        || !right_view.fits(right.len())
    {
        candle_core::bail!("strided matrix product: shapes or bounds do not match");
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    // SAFETY: every index the product touches lies inside its slice (checked
    // by `fits` above); `destination` is borrowed mutably, so it overlaps
    // neither operand.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            destination.as_mut_ptr().add(destination_view.offset),
            destination_view.column_stride as isize,
            destination_view.row_stride as isize,
            false,
            left.as_ptr().add(left_view.offset),
            left_view.column_stride as isize,
            left_view.row_stride as isize,
            right.as_ptr().add(right_view.offset),
            right_view.column_stride as isize,
            right_view.row_stride as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
    Ok(())
}
