//! [`multiply_block`]: one summation block of a cache-blocked matrix
//! product on processors with AVX-512, in exactly gemm's order.
//!
//! gemm 0.19 has AVX-512 microkernels only behind a nightly-only feature,
//! so on an AVX-512 machine it multiplies with its 256-bit kernels. The
//! rounding of a product does not depend on the vector width: gemm keeps
//! one accumulator per output value, starts it at zero, adds each
//! `left[i, k] * right[k, j]` of the block by a fused multiply-add in index
//! order, then writes the sum (first block) or adds it to the output (later
//! blocks, or when accumulating). This module does the same with 512-bit
//! registers, so its results are gemm's bits, value for value
//! (`products_match_gemm_bit_for_bit` below compares them on many shapes
//! and layouts); [`super::matrix_product`] chooses it where the processor
//! has AVX-512 and falls back to gemm elsewhere, and no output depends on
//! which of the two ran.
//!
//! Layout: the product is turned so that the output is contiguous along
//! its rows' index (`Cᵀ = Bᵀ Aᵀ` when it is stored row by row; a product
//! of two values is the same either way round). The left operand is packed
//! into panels of [`PANEL_ROWS`] rows, stored `k`-major; each task packs
//! [`PANEL_COLUMNS`] columns of the right operand at a time and runs a
//! 32 x 12 register tile over every row panel.

use super::strided_matrix::StridedMatrix;

/// Rows of one register tile: two 16-lane vectors.
const PANEL_ROWS: usize = 32;
/// Columns of one register tile: 24 accumulators in all.
const PANEL_COLUMNS: usize = 12;

/// The environment variable that, set to `0`, keeps every product on gemm
/// (to compare the two kernels' speed; the bits are the same).
pub const WIDE_PRODUCT_VARIABLE: &str = "ECHOLAB_WIDE_PRODUCT";

/// The fewest rows and columns of an output for which the wide kernel is
/// faster than gemm (measured with `echolab bench training`: decoding's
/// 64-row products ran at 0.7x with it).
pub(crate) const FEWEST_ROWS: usize = 128;

/// What is known about a product's terms or outputs that lets the kernel
/// skip work. A hint only: a product computed in full gives the same bits
/// wherever its result is read, so a kernel that ignores it (gemm, or this
/// one on a layout it does not turn) is right too. `i` is the output's row
/// (the left operand's), `k` the summation index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Causal {
    /// Every term and every output.
    #[default]
    Dense,
    /// Only outputs at or left of the diagonal (column <= row) are read
    /// afterwards; the others are left as they were (the scores `Q Kᵀ`,
    /// which the causal softmax masks).
    LowerOutputs,
    /// `left[i, k]` is zero for every `k > i` (the attention weights `P`
    /// and their gradient): terms past the last row of a tile are skipped.
    /// Adding a zero leaves every sum but a zero one unchanged, so a tile
    /// with a sum of exactly zero (whose sign the skipped terms could
    /// change, `-0 + +0 = +0`) is computed again in full.
    LeftLowerTriangular,
    /// `left[i, k]` is zero for every `k < i` (their transposes): terms
    /// before the first row of a tile are skipped. A sum starts at `+0` and
    /// `+0 + ±0 = +0`, so leading zeros never change it.
    LeftUpperTriangular,
}

/// Whether this processor can run the wide kernel (AVX-512F, which implies
/// fused multiply-add) and [`WIDE_PRODUCT_VARIABLE`] does not turn it off.
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *AVAILABLE.get_or_init(|| {
            std::env::var(WIDE_PRODUCT_VARIABLE).map_or(true, |value| value.trim() != "0")
                && std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("fma")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// One summation block of `destination (+)= left × right`: the columns
/// `block` of `left` and the rows `block` of `right`. With `accumulate`
/// the block's sums are added to the output, otherwise they replace it.
/// The views must lie inside their slices (checked by the caller) and
/// [`available`] must be true. With `parallel`, the work is split over the
/// current rayon pool by output columns, so no sum depends on the threads.
/// `causal` may skip work where the block is the whole of `k` and the
/// product is turned (its output stored row by row, as every causal
/// product of the attention is); elsewhere it is ignored.
pub(crate) fn multiply_block(
    (destination, destination_view): (&mut [f32], StridedMatrix),
    (left, left_view): (&[f32], StridedMatrix),
    (right, right_view): (&[f32], StridedMatrix),
    block: std::ops::Range<usize>,
    (accumulate, causal): (bool, Causal),
    parallel: bool,
) {
    if block.is_empty() {
        return;
    }
    let whole = block.start == 0 && block.end == left_view.columns;
    let turned = destination_view.column_stride < destination_view.row_stride;
    let causal = if whole && turned {
        causal
    } else {
        Causal::Dense
    };
    // Narrow the operands to the block.
    let left_view = StridedMatrix {
        offset: left_view.offset + block.start * left_view.column_stride,
        columns: block.len(),
        ..left_view
    };
    let right_view = StridedMatrix {
        offset: right_view.offset + block.start * right_view.row_stride,
        rows: block.len(),
        ..right_view
    };
    // Turn the product so that the output is contiguous down its columns.
    let (destination_view, left, left_view, right, right_view) =
        if destination_view.column_stride < destination_view.row_stride {
            (
                destination_view.transposed(),
                right,
                right_view.transposed(),
                left,
                left_view.transposed(),
            )
        } else {
            (destination_view, left, left_view, right, right_view)
        };
    let left_panels = LeftPanels::of(left, left_view);
    let product = Oriented {
        destination: destination_view,
        left_panels: &left_panels,
        right,
        right_view,
        accumulate,
        causal,
    };
    let columns = destination_view.columns;
    let panels = columns.div_ceil(PANEL_COLUMNS);
    let address = destination.as_mut_ptr() as usize;
    let length = destination.len();
    let run_panels = |panel_range: std::ops::Range<usize>| {
        // SAFETY: each task writes only the output columns of its own
        // panels (disjoint between tasks), all inside `destination`
        // (checked by the caller's `fits`); the slice outlives the tasks.
        let destination = unsafe { std::slice::from_raw_parts_mut(address as *mut f32, length) };
        for panel in panel_range {
            product.columns(destination, panel * PANEL_COLUMNS);
        }
    };
    if parallel && panels > 1 {
        // Four tasks a thread, so that a thread held up elsewhere does not
        // hold up the product (rayon's idle threads take the rest).
        use rayon::prelude::*;
        let tasks = (4 * rayon::current_num_threads()).clamp(1, panels);
        let per_task = panels.div_ceil(tasks);
        (0..tasks).into_par_iter().for_each(|task| {
            let start = task * per_task;
            run_panels(start.min(panels)..((task + 1) * per_task).min(panels));
        });
    } else {
        run_panels(0..panels);
    }
}

/// The left operand's row panels as the tiles read them: straight from the
/// operand where its rows are adjacent (row stride 1) and a panel is whole,
/// otherwise packed (`k`-major, zeros past the last row).
struct LeftPanels<'a> {
    source: &'a [f32],
    view: StridedMatrix,
    /// Whether whole panels are read in place.
    direct: bool,
    /// The packed panels: all of them, or only the last when `direct`.
    packed: Vec<f32>,
}

impl<'a> LeftPanels<'a> {
    fn of(source: &'a [f32], view: StridedMatrix) -> Self {
        let (rows, depth) = (view.rows, view.columns);
        let panels = rows.div_ceil(PANEL_ROWS);
        let direct = view.row_stride == 1;
        let packed_panels: Vec<usize> = if direct {
            (rows % PANEL_ROWS != 0)
                .then_some(panels - 1)
                .into_iter()
                .collect()
        } else {
            (0..panels).collect()
        };
        let mut packed = vec![0f32; packed_panels.len() * depth * PANEL_ROWS];
        for (chunk, &panel) in packed
            .chunks_exact_mut(depth * PANEL_ROWS)
            .zip(&packed_panels)
        {
            let first = panel * PANEL_ROWS;
            gather(
                chunk,
                PANEL_ROWS,
                source,
                view.offset + first * view.row_stride,
                (PANEL_ROWS.min(rows - first), view.row_stride),
                (depth, view.column_stride),
            );
        }
        LeftPanels {
            source,
            view,
            direct,
            packed,
        }
    }

    fn count(&self) -> usize {
        self.view.rows.div_ceil(PANEL_ROWS)
    }

    /// Panel `panel`'s values and the distance between its `k` steps.
    fn panel(&self, panel: usize) -> (&[f32], usize) {
        let depth = self.view.columns;
        let first = panel * PANEL_ROWS;
        if self.direct && first + PANEL_ROWS <= self.view.rows {
            let start = self.view.offset + first;
            let end = start + (depth - 1) * self.view.column_stride + PANEL_ROWS;
            (&self.source[start..end], self.view.column_stride)
        } else {
            let index = if self.direct { 0 } else { panel };
            let size = depth * PANEL_ROWS;
            (&self.packed[index * size..(index + 1) * size], PANEL_ROWS)
        }
    }
}

/// `packed[k * width + lane] = source[start + lane * lane_stride + k *
/// depth_stride]` for `lane < lanes`, `k < depth`, reading along whichever
/// of the two strides is the smaller, so that reads go through memory in
/// order.
fn gather(
    packed: &mut [f32],
    width: usize,
    source: &[f32],
    start: usize,
    (lanes, lane_stride): (usize, usize),
    (depth, depth_stride): (usize, usize),
) {
    if lane_stride <= depth_stride {
        for (k, step) in packed.chunks_exact_mut(width).take(depth).enumerate() {
            let base = start + k * depth_stride;
            if lane_stride == 1 {
                step[..lanes].copy_from_slice(&source[base..base + lanes]);
            } else {
                for (lane, value) in step[..lanes].iter_mut().enumerate() {
                    *value = source[base + lane * lane_stride];
                }
            }
        }
    } else {
        for lane in 0..lanes {
            let base = start + lane * lane_stride;
            for k in 0..depth {
                packed[k * width + lane] = source[base + k * depth_stride];
            }
        }
    }
}

/// A product turned so that the output's row stride is the smaller one.
struct Oriented<'a> {
    destination: StridedMatrix,
    left_panels: &'a LeftPanels<'a>,
    right: &'a [f32],
    right_view: StridedMatrix,
    accumulate: bool,
    /// In the turned product's terms: its columns are the rows `i` of
    /// [`Causal`], its rows the output's columns.
    causal: Causal,
}

impl Oriented<'_> {
    /// The output columns `first..first + PANEL_COLUMNS` (fewer at the
    /// end), every row panel. The right operand's values are read in place
    /// (one broadcast per value and `k`); a last, narrower panel is copied
    /// out with zeros so that every tile reads 12 columns.
    fn columns(&self, destination: &mut [f32], first: usize) {
        let depth = self.right_view.rows;
        let count = PANEL_COLUMNS.min(self.destination.columns - first);
        let padded;
        let (right, right_steps): (&[f32], (usize, usize)) = if count == PANEL_COLUMNS {
            let start = self.right_view.offset + first * self.right_view.column_stride;
            let end = start
                + (depth - 1) * self.right_view.row_stride
                + (PANEL_COLUMNS - 1) * self.right_view.column_stride
                + 1;
            (
                &self.right[start..end],
                (self.right_view.row_stride, self.right_view.column_stride),
            )
        } else {
            let mut values = vec![0f32; depth * PANEL_COLUMNS];
            gather(
                &mut values,
                PANEL_COLUMNS,
                self.right,
                self.right_view.offset + first * self.right_view.column_stride,
                (count, self.right_view.column_stride),
                (depth, self.right_view.row_stride),
            );
            padded = values;
            (&padded, (PANEL_COLUMNS, 1))
        };
        let rows = self.destination.rows;
        // The original product's rows `first..=last` are this panel's
        // columns.
        let last = first + count - 1;
        let (terms, recheck_zeros) = match self.causal {
            Causal::LeftLowerTriangular => (0..depth.min(last + 1), true),
            Causal::LeftUpperTriangular => (first.min(depth)..depth, false),
            Causal::Dense | Causal::LowerOutputs => (0..depth, false),
        };
        for panel in 0..self.left_panels.count() {
            let first_row = panel * PANEL_ROWS;
            if self.causal == Causal::LowerOutputs && first_row > last {
                // Every output of this tile lies right of the diagonal.
                continue;
            }
            let (left, left_step) = self.left_panels.panel(panel);
            let tile = Tile {
                rows: PANEL_ROWS.min(rows - first_row),
                columns: count,
                offset: self.destination.offset
                    + first_row * self.destination.row_stride
                    + first * self.destination.column_stride,
                row_stride: self.destination.row_stride,
                column_stride: self.destination.column_stride,
                accumulate: self.accumulate,
            };
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked `available()` (AVX-512F and FMA);
            // the tile lies inside `destination` (the caller's `fits`); the
            // slices hold every value the steps reach (bounds taken above).
            unsafe {
                tile_avx512(
                    destination,
                    &tile,
                    (left, left_step),
                    (right, right_steps),
                    Terms {
                        summed: terms.clone(),
                        depth,
                        recheck_zeros,
                    },
                );
            }
            #[cfg(not(target_arch = "x86_64"))]
            let _ = (
                tile,
                left,
                left_step,
                right,
                right_steps,
                &terms,
                recheck_zeros,
            );
        }
    }
}

/// Where one register tile's results go.
struct Tile {
    rows: usize,
    columns: usize,
    offset: usize,
    row_stride: usize,
    column_stride: usize,
    accumulate: bool,
}

/// The terms `k` a tile sums.
struct Terms {
    /// The terms summed.
    summed: std::ops::Range<usize>,
    /// All terms, `0..depth`.
    depth: usize,
    /// Whether a sum of exactly zero over `summed` is computed again over
    /// all terms (see [`Causal::LeftLowerTriangular`]).
    recheck_zeros: bool,
}

/// The 24 accumulators of one 32 x 12 tile: from zero, one fused
/// multiply-add per value and `k` of `terms`, in index order.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
#[inline]
unsafe fn tile_sums(
    (left, left_step): (*const f32, usize),
    (right, (right_step, right_column_step)): (*const f32, (usize, usize)),
    terms: std::ops::Range<usize>,
) -> [std::arch::x86_64::__m512; 2 * PANEL_COLUMNS] {
    use std::arch::x86_64::*;
    let mut sums = [_mm512_setzero_ps(); 2 * PANEL_COLUMNS];
    for k in terms {
        // SAFETY: the caller's slices hold every step up to its depth.
        let (low, high, column_values) = unsafe {
            (
                _mm512_loadu_ps(left.add(k * left_step)),
                _mm512_loadu_ps(left.add(k * left_step + 16)),
                right.add(k * right_step),
            )
        };
        for column in 0..PANEL_COLUMNS {
            // SAFETY: `column < PANEL_COLUMNS`, inside this step's values.
            let value = _mm512_set1_ps(unsafe { *column_values.add(column * right_column_step) });
            sums[2 * column] = _mm512_fmadd_ps(low, value, sums[2 * column]);
            sums[2 * column + 1] = _mm512_fmadd_ps(high, value, sums[2 * column + 1]);
        }
    }
    sums
}

/// Whether any of the tile's `rows x columns` sums is zero (of either
/// sign); the lanes past them (zero padding) are not looked at.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn any_zero(
    sums: &[std::arch::x86_64::__m512; 2 * PANEL_COLUMNS],
    rows: usize,
    columns: usize,
) -> bool {
    use std::arch::x86_64::*;
    let lanes = |count: usize| -> u16 {
        match count {
            0 => 0,
            1..=15 => (1u16 << count) - 1,
            _ => u16::MAX,
        }
    };
    let (low_lanes, high_lanes) = (lanes(rows), lanes(rows.saturating_sub(16)));
    let zero = _mm512_setzero_ps();
    sums.chunks_exact(2).take(columns).any(|pair| {
        _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(pair[0], zero) & low_lanes != 0
            || _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(pair[1], zero) & high_lanes != 0
    })
}

/// One 32 x 12 tile: its sums ([`tile_sums`]; again over all terms where
/// [`Terms`] says so), written or added to the output.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn tile_avx512(
    destination: &mut [f32],
    tile: &Tile,
    (left, left_step): (&[f32], usize),
    (right, right_steps): (&[f32], (usize, usize)),
    terms: Terms,
) {
    use std::arch::x86_64::*;
    let depth = terms.depth;
    debug_assert!(depth == 0 || left.len() >= (depth - 1) * left_step + PANEL_ROWS);
    debug_assert!(
        depth == 0
            || right.len() > (depth - 1) * right_steps.0 + (PANEL_COLUMNS - 1) * right_steps.1
    );
    debug_assert!(terms.summed.end <= depth);
    let operands = ((left.as_ptr(), left_step), (right.as_ptr(), right_steps));
    // SAFETY: the slices hold every step below `depth` (asserted above).
    let mut sums = unsafe { tile_sums(operands.0, operands.1, terms.summed.clone()) };
    if terms.recheck_zeros
        && terms.summed != (0..depth)
        // SAFETY: AVX-512F, as for this function.
        && unsafe { any_zero(&sums, tile.rows, tile.columns) }
    {
        // SAFETY: as above.
        sums = unsafe { tile_sums(operands.0, operands.1, 0..depth) };
    }
    if tile.rows == PANEL_ROWS && tile.row_stride == 1 {
        // A whole tile down contiguous columns: vector loads and stores.
        for (column, pair) in sums.chunks_exact(2).take(tile.columns).enumerate() {
            let start = tile.offset + column * tile.column_stride;
            let output = &mut destination[start..start + PANEL_ROWS];
            let address = output.as_mut_ptr();
            // SAFETY: `output` holds the 32 values written here.
            unsafe {
                let (low, high) = if tile.accumulate {
                    (
                        _mm512_add_ps(_mm512_loadu_ps(address), pair[0]),
                        _mm512_add_ps(_mm512_loadu_ps(address.add(16)), pair[1]),
                    )
                } else {
                    (pair[0], pair[1])
                };
                _mm512_storeu_ps(address, low);
                _mm512_storeu_ps(address.add(16), high);
            }
        }
        return;
    }
    let mut values = [0f32; PANEL_ROWS];
    for (column, pair) in sums.chunks_exact(2).take(tile.columns).enumerate() {
        // SAFETY: `values` holds 32 floats.
        unsafe {
            _mm512_storeu_ps(values.as_mut_ptr(), pair[0]);
            _mm512_storeu_ps(values.as_mut_ptr().add(16), pair[1]);
        }
        let start = tile.offset + column * tile.column_stride;
        for (row, value) in values.iter().take(tile.rows).enumerate() {
            let output = &mut destination[start + row * tile.row_stride];
            *output = if tile.accumulate {
                *output + value
            } else {
                *value
            };
        }
    }
}
