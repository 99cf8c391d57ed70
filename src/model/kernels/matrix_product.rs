//! [`multiply`]: every matrix product of the model's kernels,
//! `destination (+)= left × right` over [`StridedMatrix`] views, with its
//! summation order fixed by the shapes alone.
//!
//! The products are computed by gemm (candle's matrix-product crate), whose
//! microkernels keep one accumulator per output value: the inner dimension
//! `k` is cut into blocks, each block's products are summed in index order
//! by fused multiply-adds starting from zero, and each block's sum is added
//! to the output. Where it cuts is the problem: for products larger than
//! 64 x 64 gemm derives the block size from the L1 data cache it reads in
//! `/sys/devices/system/cpu/*/cache` or through `cpuid` (512 for a 32 KiB
//! 8-way L1, 1,024 for a 48 KiB 12-way one), so the same product rounded
//! differently on machines with different caches.
//!
//! Here gemm never chooses: a product that gemm would block by its cache
//! description is cut by [`summation_blocks`] first, into blocks of at most
//! [`BLOCK`] values, and each block is one gemm call that adds into the
//! output. gemm never splits a `k` of at most 512, whatever the machine, so
//! each output value is rounded in the same order everywhere. The rule is
//! the one gemm itself followed with a 32 KiB 8-way L1 (the project's
//! machine, and gemm's own default when the caches cannot be read), so the
//! bits computed before this module existed are kept.
//!
//! The products gemm routes elsewhere were already independent of the
//! caches and are handed over whole: both output sides at most 64 (blocks
//! of 512 from the start), `k` of at most 2, matrix-vector products, and
//! tiny products whose operands are contiguous along `k` (eight-lane dot
//! products in blocks of 1,024). [`Route`] names them as gemm 0.19 decides.

use super::strided_matrix::StridedMatrix;
use super::wide_product;
pub(crate) use super::wide_product::Causal;

/// The most values of `k` summed in one block before the block's sum is
/// added to the output.
pub(crate) const BLOCK: usize = 512;

/// Whether a product may use the caller's thread pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Threads {
    /// On the calling thread.
    One,
    /// Split over the current rayon pool (over output blocks only, so the
    /// sums do not depend on the number of threads).
    Pool,
}

/// How gemm 0.19 computes a product, after turning it so that the output's
/// smaller stride is its row stride (the `do_transpose` of `gemm::gemm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Tiny product with both operands contiguous along `k`: lane-parallel
    /// dot products, `k` in fixed blocks of 1,024.
    Horizontal,
    /// `k` of 1 or 2: an outer product.
    OuterProduct,
    /// One output row or column: a matrix-vector product, not blocked.
    MatrixVector,
    /// Both output sides at most 64: microkernels, `k` in fixed blocks of
    /// 512.
    Small,
    /// Anything larger: microkernels, `k` blocked by the cache description.
    CacheBlocked,
}

/// The strides of one product as gemm sees them: `(row, column)` for each
/// operand, and the sizes `m`, `n`, `k`.
#[derive(Debug, Clone, Copy)]
struct Layout {
    m: usize,
    n: usize,
    k: usize,
    destination: (usize, usize),
    left: (usize, usize),
    right: (usize, usize),
}

impl Layout {
    fn of(destination: StridedMatrix, left: StridedMatrix, right: StridedMatrix) -> Self {
        Layout {
            m: left.rows,
            n: right.columns,
            k: left.columns,
            destination: (destination.row_stride, destination.column_stride),
            left: (left.row_stride, left.column_stride),
            right: (right.row_stride, right.column_stride),
        }
    }

    /// The same product as gemm computes it: transposed (`Cᵀ = Bᵀ Aᵀ`)
    /// when the output's column stride is the smaller one.
    fn oriented(self) -> Self {
        let (row, column) = self.destination;
        if column < row {
            Layout {
                m: self.n,
                n: self.m,
                k: self.k,
                destination: (column, row),
                left: (self.right.1, self.right.0),
                right: (self.left.1, self.left.0),
            }
        } else {
            self
        }
    }

    /// The route gemm 0.19 takes for this (oriented) product with `f32`
    /// values on a machine with fused multiply-add (`gemm_basic_generic`).
    fn route(self) -> Route {
        let (left_row, left_column) = self.left;
        let (right_row, right_column) = self.right;
        let (destination_row, destination_column) = self.destination;
        if cfg!(any(target_arch = "x86", target_arch = "x86_64"))
            && left_column == 1
            && right_row == 1
            && self.m * self.n <= 16 * 16
        {
            return Route::Horizontal;
        }
        if self.k <= 2 {
            return Route::OuterProduct;
        }
        let column_vector = self.n <= 1
            && ((left_row == 1 && destination_row == 1) || (left_column == 1 && right_row == 1));
        let row_vector = self.m <= 1
            && ((right_column == 1 && destination_column == 1)
                || (right_row == 1 && left_column == 1));
        if column_vector || row_vector {
            return Route::MatrixVector;
        }
        if self.m <= 64 && self.n <= 64 {
            return Route::Small;
        }
        Route::CacheBlocked
    }
}

/// The fewest rows `m` at which a product `[m, k] × [k, columns]` whose
/// operands are contiguous along `k` (a linear layer's, as in decoding)
/// takes the same route as with many rows: one row is a matrix-vector
/// product and `m * columns <= 256` the horizontal route, each summing in
/// its own order. From this many rows on, a row's outputs are the same bits
/// whatever the number of rows (each output value is one chain over `k`).
pub fn fewest_rows_of_the_general_route(columns: usize) -> usize {
    (16 * 16 / columns.max(1) + 1).max(2)
}

/// The route gemm takes for `destination = left × right` with these views.
pub(crate) fn route(
    destination: StridedMatrix,
    left: StridedMatrix,
    right: StridedMatrix,
) -> Route {
    Layout::of(destination, left, right).oriented().route()
}

/// The blocks `k` is summed in for a product that gemm would block by its
/// cache description: the fewest blocks of at most [`BLOCK`], of equal size
/// but for a smaller last one (`ceil(k / ceil(k / 512))` each).
pub(crate) fn summation_blocks(k: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let count = k.div_ceil(BLOCK).max(1);
    let size = k.div_ceil(count).max(1);
    (0..k)
        .step_by(size)
        .map(move |start| start..(start + size).min(k))
}

/// `destination = left × right` on the calling thread.
pub(crate) fn multiply(
    destination: &mut [f32],
    destination_view: StridedMatrix,
    left: &[f32],
    left_view: StridedMatrix,
    right: &[f32],
    right_view: StridedMatrix,
) -> candle_core::Result<()> {
    multiply_causal(
        Causal::Dense,
        (destination, destination_view),
        (left, left_view),
        (right, right_view),
    )
}

/// [`multiply`], skipping the work that `causal` says cannot change what
/// is read (the same bits).
pub(crate) fn multiply_causal(
    causal: Causal,
    (destination, destination_view): (&mut [f32], StridedMatrix),
    (left, left_view): (&[f32], StridedMatrix),
    (right, right_view): (&[f32], StridedMatrix),
) -> candle_core::Result<()> {
    Product {
        causal,
        ..Product::new(false, Threads::One)
    }
    .compute(
        destination,
        destination_view,
        left,
        left_view,
        right,
        right_view,
    )
}

/// How a product treats its output and where it runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Product {
    /// `destination += left × right` instead of `destination = left × right`.
    pub accumulate: bool,
    /// Whether cache-blocked products may use [`wide_product`] where the
    /// processor has AVX-512 (the same bits; off only to compare with gemm).
    pub wide: bool,
    /// See [`Threads`].
    pub threads: Threads,
    /// Terms and outputs the wide kernel may skip (see [`Causal`]; the
    /// same bits wherever the result is read).
    pub causal: Causal,
}

impl Product {
    /// `destination = left × right` (or `+=` with `accumulate`), on
    /// `threads`.
    pub(crate) fn new(accumulate: bool, threads: Threads) -> Self {
        Product {
            accumulate,
            threads,
            wide: true,
            causal: Causal::Dense,
        }
    }
}

impl Product {
    /// The product `left × right` into `destination`; the views must lie
    /// inside their slices.
    pub(crate) fn compute(
        self,
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
            candle_core::bail!("matrix product: shapes or bounds do not match");
        }
        if m == 0 || n == 0 {
            return Ok(());
        }
        let route = route(destination_view, left_view, right_view);
        let blocks: Vec<std::ops::Range<usize>> = match route {
            Route::CacheBlocked => summation_blocks(k).collect(),
            _ => std::iter::once(0..k).collect(),
        };
        // A causal product of the attention (one side a head's width) is
        // faster on the wide kernel too: its turned left operand is one
        // whole panel read in place, and it skips the zeros.
        if route == Route::CacheBlocked
            && self.wide
            && (m.min(n) >= wide_product::FEWEST_ROWS || self.causal != Causal::Dense)
            && wide_product::available()
        {
            // The same sums in the same order with 512-bit registers.
            for (index, block) in blocks.into_iter().enumerate() {
                wide_product::multiply_block(
                    (&mut *destination, destination_view),
                    (left, left_view),
                    (right, right_view),
                    block,
                    (self.accumulate || index > 0, self.causal),
                    self.threads == Threads::Pool,
                );
            }
            return Ok(());
        }
        let parallelism = match self.threads {
            Threads::One => gemm::Parallelism::None,
            Threads::Pool => gemm::Parallelism::Rayon(rayon::current_num_threads()),
        };
        for (index, block) in blocks.into_iter().enumerate() {
            let read_destination = self.accumulate || index > 0;
            // SAFETY: every index the product touches lies inside its slice
            // (checked by `fits` above; a block only narrows `k`), and
            // `destination` is borrowed mutably, so it overlaps neither operand.
            unsafe {
                gemm::gemm(
                    m,
                    n,
                    block.len(),
                    destination.as_mut_ptr().add(destination_view.offset),
                    destination_view.column_stride as isize,
                    destination_view.row_stride as isize,
                    read_destination,
                    left.as_ptr()
                        .add(left_view.offset + block.start * left_view.column_stride),
                    left_view.column_stride as isize,
                    left_view.row_stride as isize,
                    right
                        .as_ptr()
                        .add(right_view.offset + block.start * right_view.row_stride),
                    right_view.column_stride as isize,
                    right_view.row_stride as isize,
                    if read_destination { 1.0 } else { 0.0 },
                    1.0,
                    false,
                    false,
                    false,
                    parallelism,
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values from a fixed sequence, spread over several binades so that
    /// rounding differs with the order of the sum.
    fn values(count: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..count)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let unit = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                unit * [1.0, 3.0e-3, 7.0e2][(state % 3) as usize]
            })
            .collect()
    }

    /// Whether the wide kernel runs on this processor; says why not.
    fn wide_kernel_runs_here() -> bool {
        let available = wide_product::available();
        if !available {
            eprintln!("no AVX-512 here: the wide kernel is never chosen");
        }
        available
    }

    /// How many values of `a` and `b` differ in their bits.
    fn differing_bits(a: &[f32], b: &[f32]) -> usize {
        a.iter()
            .zip(b)
            .filter(|(a, b)| a.to_bits() != b.to_bits())
            .count()
    }

    /// The documented order, written out: per output value, `k` in the
    /// blocks `blocks` gives, each block summed from zero by fused
    /// multiply-adds in index order and added to the output.
    fn written_out(
        destination: &mut [f32],
        accumulate: bool,
        left: &[f32],
        right: &[f32],
        (m, k, n): (usize, usize, usize),
        blocks: &[std::ops::Range<usize>],
    ) {
        for row in 0..m {
            for column in 0..n {
                let output = &mut destination[row * n + column];
                for (index, block) in blocks.iter().enumerate() {
                    let mut sum = 0f32;
                    for depth in block.clone() {
                        sum = left[row * k + depth].mul_add(right[depth * n + column], sum);
                    }
                    *output = if accumulate || index > 0 {
                        *output + sum
                    } else {
                        sum
                    };
                }
            }
        }
    }

    #[test]
    fn summation_blocks_are_the_fewest_of_at_most_512_of_equal_size() {
        let sizes = |k: usize| -> Vec<usize> { summation_blocks(k).map(|b| b.len()).collect() };
        assert_eq!(sizes(3), vec![3]);
        assert_eq!(sizes(512), vec![512]);
        assert_eq!(sizes(513), vec![257, 256]);
        assert_eq!(sizes(1024), vec![512, 512]);
        assert_eq!(sizes(1025), vec![342, 342, 341]);
        assert_eq!(sizes(4096), vec![512; 8]);
        assert_eq!(sizes(4097), {
            let mut expected = vec![456; 8];
            expected.push(4097 - 8 * 456);
            expected
        });
        for k in 1..5000 {
            let blocks: Vec<_> = summation_blocks(k).collect();
            assert_eq!(blocks.len(), k.div_ceil(BLOCK));
            assert_eq!(blocks.first().map(|b| b.start), Some(0));
            assert_eq!(blocks.last().map(|b| b.end), Some(k));
            assert!(blocks.windows(2).all(|pair| pair[0].end == pair[1].start));
            assert!(blocks.iter().all(|b| !b.is_empty() && b.len() <= BLOCK));
        }
    }

    #[test]
    fn routes_follow_the_shapes_and_layouts_as_gemm_decides() {
        let rows = |rows, columns| StridedMatrix::rows(0, rows, columns, columns);
        // A linear layer's forward, `x Wᵀ`: W read through its transpose.
        let weight_transposed = StridedMatrix::rows(0, 256, 200, 200).transposed();
        assert_eq!(
            route(rows(64, 256), rows(64, 200), weight_transposed),
            Route::CacheBlocked
        );
        assert_eq!(
            route(
                rows(8, 16),
                rows(8, 200),
                StridedMatrix::rows(0, 16, 200, 200).transposed()
            ),
            Route::Horizontal.min_for_architecture()
        );
        assert_eq!(
            route(rows(100, 100), rows(100, 2), rows(2, 100)),
            Route::OuterProduct
        );
        assert_eq!(
            route(rows(300, 1), rows(300, 300), rows(300, 1)),
            Route::MatrixVector
        );
        assert_eq!(
            route(rows(64, 64), rows(64, 4096), rows(4096, 64)),
            Route::Small
        );
        assert_eq!(
            route(rows(65, 64), rows(65, 4096), rows(4096, 64)),
            Route::CacheBlocked
        );
    }

    impl Route {
        /// On processors without gemm's horizontal kernels (not x86) the
        /// same product takes the next route that applies.
        fn min_for_architecture(self) -> Route {
            if cfg!(any(target_arch = "x86", target_arch = "x86_64")) {
                self
            } else {
                Route::Small
            }
        }
    }

    #[test]
    fn products_sum_in_the_written_out_order_across_every_block_boundary() {
        // `k` below, at and above one block, at two and several blocks, at
        // gemm's own 1,024 and 4,096, and odd sizes; outputs larger than
        // 64 x 64 so that gemm would block `k` by the cache it finds.
        for &k in &[
            3, 100, 511, 512, 513, 1000, 1024, 1025, 2047, 4096, 4097, 5001,
        ] {
            for &(m, n) in &[(65, 70), (130, 96), (96, 200)] {
                for accumulate in [false, true] {
                    let left = values(m * k, k as u64);
                    let right = values(k * n, 7 * k as u64 + 1);
                    let start = values(m * n, 3);
                    let mut computed = if accumulate {
                        start.clone()
                    } else {
                        vec![0.0; m * n]
                    };
                    let mut expected = computed.clone();
                    let destination_view = StridedMatrix::rows(0, m, n, n);
                    let left_view = StridedMatrix::rows(0, m, k, k);
                    let right_view = StridedMatrix::rows(0, k, n, n);
                    assert_eq!(
                        route(destination_view, left_view, right_view),
                        Route::CacheBlocked
                    );
                    for threads in [Threads::One, Threads::Pool] {
                        computed.copy_from_slice(if accumulate { &start } else { &expected });
                        if !accumulate {
                            computed.fill(0.0);
                        }
                        Product::new(accumulate, threads)
                            .compute(
                                &mut computed,
                                destination_view,
                                &left,
                                left_view,
                                &right,
                                right_view,
                            )
                            .unwrap();
                        if threads == Threads::One {
                            let blocks: Vec<_> = summation_blocks(k).collect();
                            written_out(
                                &mut expected,
                                accumulate,
                                &left,
                                &right,
                                (m, k, n),
                                &blocks,
                            );
                        }
                        let differing = differing_bits(&computed, &expected);
                        assert_eq!(
                            differing, 0,
                            "k {k}, {m} x {n}, accumulate {accumulate}, {threads:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_wide_kernel_gives_gemms_bits_on_every_layout() {
        if !wide_kernel_runs_here() {
            return;
        }
        // Row-major and transposed operands and outputs, a strided view
        // inside a wider buffer (as the attention's heads are), tails of
        // the 32 x 12 tile on both sides, `k` across block boundaries.
        let shapes = [
            (65, 70, 3),
            (100, 13, 64),
            (6144, 128, 128),
            (128, 6144, 128),
            (97, 647, 128),
            (333, 65, 513),
            (70, 300, 1025),
        ];
        for &(m, n, k) in &shapes {
            for (left_transposed, right_transposed, output_transposed) in [
                (false, false, false),
                (true, false, false),
                (false, true, false),
                (false, false, true),
                (true, true, true),
            ] {
                let view = |rows: usize, columns: usize, transposed: bool, extra: usize| {
                    if transposed {
                        StridedMatrix::rows(extra, columns, rows, rows + extra).transposed()
                    } else {
                        StridedMatrix::rows(extra, rows, columns, columns + extra)
                    }
                };
                let left_view = view(m, k, left_transposed, 3);
                let right_view = view(k, n, right_transposed, 0);
                let destination_view = view(m, n, output_transposed, 5);
                if route(destination_view, left_view, right_view) != Route::CacheBlocked {
                    continue;
                }
                let size = |view: StridedMatrix| {
                    view.offset
                        + view.rows * view.row_stride.max(1)
                        + view.columns * view.column_stride.max(1)
                };
                let left = values(size(left_view), (m * k) as u64);
                let right = values(size(right_view), (k * n + 1) as u64);
                let start = values(size(destination_view), 11);
                for accumulate in [false, true] {
                    for threads in [Threads::One, Threads::Pool] {
                        let mut outputs = Vec::new();
                        for wide in [false, true] {
                            let mut destination = start.clone();
                            Product {
                                accumulate,
                                threads,
                                wide,
                                causal: Causal::Dense,
                            }
                            .compute(
                                &mut destination,
                                destination_view,
                                &left,
                                left_view,
                                &right,
                                right_view,
                            )
                            .unwrap();
                            outputs.push(destination);
                        }
                        let differing = differing_bits(&outputs[0], &outputs[1]);
                        assert_eq!(
                            differing, 0,
                            "{m} x {k} x {n}, transposed {left_transposed} {right_transposed} {output_transposed}, accumulate {accumulate}, {threads:?}"
                        );
                    }
                }
            }
        }
    }

    /// The attention's causal products, as it lays them out: `square`
    /// `[time, time]` (row-major, or its transpose) times a head's block
    /// inside `[time, 3 * width]` into another head's block.
    fn causal_product(
        causal: Causal,
        wide: bool,
        (square, transposed): (&[f32], bool),
        heads: &[f32],
        (time, width, head_width): (usize, usize, usize),
    ) -> Vec<f32> {
        let square_view = StridedMatrix::rows(0, time, time, time);
        let square_view = if transposed {
            square_view.transposed()
        } else {
            square_view
        };
        let block = |part: usize| StridedMatrix::rows(part * width, time, head_width, 3 * width);
        let mut destination = values(time * 3 * width, 5);
        Product {
            causal,
            wide,
            ..Product::new(false, Threads::One)
        }
        .compute(
            &mut destination,
            block(1),
            square,
            square_view,
            heads,
            block(2),
        )
        .unwrap();
        destination
    }

    #[test]
    fn causal_products_skip_only_what_cannot_change_a_bit() {
        if !wide_kernel_runs_here() {
            return;
        }
        for &(time, head_width) in &[(70, 32), (100, 20), (192, 32), (300, 16)] {
            let width = 2 * head_width;
            let heads = values(time * 3 * width, time as u64);
            // Zeros of both signs where the left operand is known zero.
            let mut square = values(time * time, 3);
            for (index, value) in square.iter_mut().enumerate() {
                let (row, column) = (index / time, index % time);
                if column > row {
                    *value = if index % 3 == 0 { -0.0 } else { 0.0 };
                }
            }
            let sizes = (time, width, head_width);
            for (causal, transposed) in [
                (Causal::LeftLowerTriangular, false),
                (Causal::LeftUpperTriangular, true),
            ] {
                let dense =
                    causal_product(Causal::Dense, false, (&square, transposed), &heads, sizes);
                let skipping = causal_product(causal, true, (&square, transposed), &heads, sizes);
                assert_eq!(
                    differing_bits(&dense, &skipping),
                    0,
                    "{causal:?}, time {time}, head width {head_width}"
                );
            }
        }
        // Only outputs at or left of the diagonal are written.
        let (time, head_width) = (150, 32);
        let queries = values(time * head_width, 1);
        let keys = values(time * head_width, 2);
        let scores = |causal: Causal, wide: bool| {
            let mut destination = vec![f32::NAN; time * time];
            Product {
                causal,
                wide,
                ..Product::new(false, Threads::One)
            }
            .compute(
                &mut destination,
                StridedMatrix::rows(0, time, time, time),
                &queries,
                StridedMatrix::rows(0, time, head_width, head_width),
                &keys,
                StridedMatrix::rows(0, time, head_width, head_width).transposed(),
            )
            .unwrap();
            destination
        };
        let (dense, lower) = (
            scores(Causal::Dense, false),
            scores(Causal::LowerOutputs, true),
        );
        for row in 0..time {
            let seen = row * time..row * time + row + 1;
            assert_eq!(
                differing_bits(&dense[seen.clone()], &lower[seen]),
                0,
                "row {row}"
            );
        }
        assert!(
            lower.iter().any(|value| value.is_nan()),
            "no output was skipped"
        );
    }

    #[test]
    fn a_zero_sum_of_a_causal_product_gets_the_sign_of_the_full_sum() {
        if !wide_kernel_runs_here() {
            return;
        }
        // Row 0's only term underflows to -0; the tile's own masked terms
        // keep it there (0 x negative = -0); only the terms past the tile
        // (0 x positive = +0) turn it into the full sum's +0.
        let (time, width, head_width) = (100, 32, 32);
        let mut square = vec![0f32; time * time];
        for row in 0..time {
            for column in 0..=row {
                square[row * time + column] = 0.25;
            }
        }
        square[0] = 1.0e-30;
        let mut heads = vec![1f32; time * 3 * width];
        for step in 0..12 {
            heads[step * 3 * width + 2 * width] = -1.0e-20;
        }
        let sizes = (time, width, head_width);
        let dense = causal_product(Causal::Dense, false, (&square, false), &heads, sizes);
        let skipping = causal_product(
            Causal::LeftLowerTriangular,
            true,
            (&square, false),
            &heads,
            sizes,
        );
        assert_eq!(
            dense[width].to_bits(),
            0.0f32.to_bits(),
            "the full sum is +0"
        );
        assert_eq!(differing_bits(&dense, &skipping), 0);
    }

    #[test]
    fn small_products_sum_in_fixed_blocks_of_512() {
        let (m, n) = (40, 64);
        for &k in &[511, 512, 513, 1030, 4097] {
            let left = values(m * k, k as u64);
            let right = values(k * n, 5 * k as u64);
            let mut computed = vec![0.0; m * n];
            let mut expected = vec![0.0; m * n];
            multiply(
                &mut computed,
                StridedMatrix::rows(0, m, n, n),
                &left,
                StridedMatrix::rows(0, m, k, k),
                &right,
                StridedMatrix::rows(0, k, n, n),
            )
            .unwrap();
            let blocks: Vec<_> = (0..k)
                .step_by(BLOCK)
                .map(|s| s..(s + BLOCK).min(k))
                .collect();
            written_out(&mut expected, false, &left, &right, (m, k, n), &blocks);
            assert!(
                computed
                    .iter()
                    .zip(&expected)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "k {k}"
            );
        }
    }

    #[test]
    fn views_outside_their_slices_are_refused() {
        let mut destination = vec![0.0; 4];
        let error = multiply(
            &mut destination,
            StridedMatrix::rows(0, 2, 2, 2),
            &[1.0; 3],
            StridedMatrix::rows(0, 2, 2, 2),
            &[1.0; 4],
            StridedMatrix::rows(0, 2, 2, 2),
        );
        assert!(error.is_err());
    }
}
