//! [`StridedMatrix`]: a bounds-checked view of a matrix inside a slice.
//!
//! The fused attention multiplies per-head blocks that sit inside the
//! `qkv` activations with row strides of `3 * width`; the products
//! ([`super::matrix_product`]) read and write them in place, so no head is
//! ever copied out.

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
    pub(crate) fn fits(&self, length: usize) -> bool {
        if self.rows == 0 || self.columns == 0 {
            return self.offset <= length;
        }
        let last = self.offset
            + (self.rows - 1) * self.row_stride
            + (self.columns - 1) * self.column_stride;
        last < length
    }
}
