//! Row access shared by the fused kernels: borrowing a contiguous `f32` or
//! `u32` slice out of candle's CPU storage, and building an output over
//! independent rows (or blocks, or chunks) in parallel.
//!
//! An output is built chunk by chunk, each chunk zeroed by the task that
//! then writes it, while it sits in that core's cache: a `vec![0.0; n]`
//! first was one thread zeroing the whole buffer while the others waited
//! (a tenth of a pretraining step, measured with `perf`).
//!
//! Every kernel parallelises over rows and computes each row (its sums,
//! maxima, normalisers) on one thread, in index order. The split of rows
//! between threads therefore never changes a single bit of the result, so
//! outputs do not depend on `RAYON_NUM_THREADS`.

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, Layout};
use rayon::prelude::*;

/// Rows handed to one parallel task at least: below this the task overhead
/// outweighs the work.
const MINIMUM_ELEMENTS_PER_TASK: usize = 8192;

/// The `f32` values of a contiguous tensor.
pub(crate) fn f32_values<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    kernel: &str,
) -> candle_core::Result<&'a [f32]> {
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("kernel `{kernel}` needs a contiguous input");
    };
    match storage {
        CpuStorage::F32(values) => Ok(&values[start..end]),
        _ => candle_core::bail!("kernel `{kernel}` needs `f32` values"),
    }
}

/// The `u32` values of a contiguous tensor.
pub(crate) fn u32_values<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    kernel: &str,
) -> candle_core::Result<&'a [u32]> {
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("kernel `{kernel}` needs a contiguous input");
    };
    match storage {
        CpuStorage::U32(values) => Ok(&values[start..end]),
        _ => candle_core::bail!("kernel `{kernel}` needs `u32` values"),
    }
}

/// `values` zeroed, as plain values.
fn zeroed(values: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    for value in values.iter_mut() {
        value.write(0.0);
    }
    // SAFETY: every value was just written, and `MaybeUninit<f32>` has the
    // layout of `f32`.
    unsafe { &mut *(values as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

/// A `length`-value output built by `work(chunk_index, chunk)` over
/// consecutive chunks of `chunk_length` values (the last may be shorter),
/// in parallel; each chunk is zeroed by its own task first. The first
/// error ends the work and is returned.
pub(crate) fn try_build_chunks<E, F>(
    length: usize,
    chunk_length: usize,
    work: F,
) -> Result<Vec<f32>, E>
where
    E: Send,
    F: Fn(usize, &mut [f32]) -> Result<(), E> + Sync + Send,
{
    let mut values = Vec::with_capacity(length);
    values.spare_capacity_mut()[..length]
        .par_chunks_mut(chunk_length.max(1))
        .enumerate()
        .try_for_each(|(index, chunk)| work(index, zeroed(chunk)))?;
    // SAFETY: the capacity holds `length` values, and every one of them was
    // written by `zeroed` (`try_for_each` visited every chunk: it returned
    // no error).
    unsafe { values.set_len(length) };
    Ok(values)
}

/// [`try_build_chunks`] for work that cannot fail.
fn build_chunks<F>(length: usize, chunk_length: usize, work: F) -> Vec<f32>
where
    F: Fn(usize, &mut [f32]) + Sync + Send,
{
    let built: Result<Vec<f32>, std::convert::Infallible> =
        try_build_chunks(length, chunk_length, |index, chunk| {
            work(index, chunk);
            Ok(())
        });
    match built {
        Ok(values) => values,
        Err(never) => match never {},
    }
}

/// Two outputs built chunk by chunk side by side: chunk `i` of the first
/// (`chunk_lengths.0` values) and of the second (`chunk_lengths.1`) go to
/// the same task, each zeroed by it first; where one output has fewer
/// chunks, its slice is empty.
pub(crate) fn try_build_chunk_pairs<E, F>(
    lengths: (usize, usize),
    chunk_lengths: (usize, usize),
    work: F,
) -> Result<(Vec<f32>, Vec<f32>), E>
where
    E: Send,
    F: Fn(usize, &mut [f32], &mut [f32]) -> Result<(), E> + Sync + Send,
{
    let mut first = Vec::with_capacity(lengths.0);
    let mut second = Vec::with_capacity(lengths.1);
    let mut first_chunks: Vec<&mut [MaybeUninit<f32>]> = first.spare_capacity_mut()[..lengths.0]
        .chunks_mut(chunk_lengths.0.max(1))
        .collect();
    let mut second_chunks: Vec<&mut [MaybeUninit<f32>]> = second.spare_capacity_mut()[..lengths.1]
        .chunks_mut(chunk_lengths.1.max(1))
        .collect();
    let tasks = first_chunks.len().max(second_chunks.len());
    first_chunks.resize_with(tasks, Default::default);
    second_chunks.resize_with(tasks, Default::default);
    first_chunks
        .into_par_iter()
        .zip(second_chunks)
        .enumerate()
        .try_for_each(|(index, (one, other))| work(index, zeroed(one), zeroed(other)))?;
    // SAFETY: as in `try_build_chunks`, for both outputs: every chunk of
    // each was visited.
    unsafe {
        first.set_len(lengths.0);
        second.set_len(lengths.1);
    }
    Ok((first, second))
}

/// A `length`-value output built by `work(row_index, output_row)` for every
/// row of `width` values, in parallel over blocks of whole rows.
pub(crate) fn build_rows<F>(length: usize, width: usize, work: F) -> Vec<f32>
where
    F: Fn(usize, &mut [f32]) + Sync + Send,
{
    build_costly_rows(length, width, width, work)
}

/// [`build_rows`] for rows that each cost about `cost_per_row` element
/// operations (more than their width), so that fewer rows go to one task.
pub(crate) fn build_costly_rows<F>(
    length: usize,
    width: usize,
    cost_per_row: usize,
    work: F,
) -> Vec<f32>
where
    F: Fn(usize, &mut [f32]) + Sync + Send,
{
    let rows_per_task = MINIMUM_ELEMENTS_PER_TASK
        .div_ceil(cost_per_row.max(1))
        .max(1);
    build_chunks(length, rows_per_task * width.max(1), |task, block| {
        for (offset, row) in block.chunks_mut(width.max(1)).enumerate() {
            work(task * rows_per_task + offset, row);
        }
    })
}

/// A `length`-value output built by `work(start, block)` over consecutive
/// blocks, `start` being the index of the block's first value, in parallel
/// (element-wise kernels have no reduction at all). A block is a plain
/// slice so that the kernel's loop over it vectorises.
pub(crate) fn build_blocks<F>(length: usize, work: F) -> Vec<f32>
where
    F: Fn(usize, &mut [f32]) + Sync + Send,
{
    build_chunks(length, MINIMUM_ELEMENTS_PER_TASK, |task, block| {
        work(task * MINIMUM_ELEMENTS_PER_TASK, block)
    })
}

/// Columns a task of [`add_column_sums`] sums at least.
const COLUMNS_PER_TASK: usize = 32;

/// Column sums over `rows` rows: `add_row(row, first, block)` adds row
/// `row`'s terms for the columns `first..first + block.len()` to `block`,
/// called for each row in order, in parallel over blocks of columns. Each
/// column's sum keeps its row order, so no bit depends on the split.
pub(crate) fn add_column_sums<F>(sums: &mut [f32], rows: usize, add_row: F)
where
    F: Fn(usize, usize, &mut [f32]) + Sync + Send,
{
    let per_task = COLUMNS_PER_TASK.max(sums.len().div_ceil(4 * rayon::current_num_threads()));
    sums.par_chunks_mut(per_task)
        .enumerate()
        .for_each(|(task, block)| {
            for row in 0..rows {
                add_row(row, task * per_task, block);
            }
        });
}

/// Adds to `sums` the column totals of `values`, a row-major matrix of
/// `sums.len()` columns ([`add_column_sums`] of the plain values).
pub(crate) fn add_column_totals(sums: &mut [f32], values: &[f32]) {
    let width = sums.len().max(1);
    add_column_sums(sums, values.len() / width, |row, first, sums| {
        let start = row * width + first;
        let end = start + sums.len();
        for (sum, &value) in sums.iter_mut().zip(&values[start..end]) {
            *sum += value;
        }
    });
}

/// `length` zeros, written in parallel (for outputs that products write in
/// their own order).
pub(crate) fn zeros(length: usize) -> Vec<f32> {
    build_blocks(length, |_, _| {})
}
