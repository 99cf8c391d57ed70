//! Row access shared by the fused kernels: borrowing a contiguous `f32` or
//! `u32` slice out of candle's CPU storage, and running a function over
//! independent rows in parallel.
//!
//! Every kernel parallelises over rows and computes each row (its sums,
//! maxima, normalisers) on one thread, in index order. The split of rows
//! between threads therefore never changes a single bit of the result, so
//! outputs do not depend on `RAYON_NUM_THREADS`.

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

/// Calls `work(row_index, output_row)` for every row of `output` (rows of
/// `width` values), in parallel over blocks of whole rows.
pub(crate) fn for_each_row<F>(output: &mut [f32], width: usize, work: F)
where
    F: Fn(usize, &mut [f32]) + Sync + Send,
{
    for_each_costly_row(output, width, width, work);
}

/// [`for_each_row`] for rows that each cost about `cost_per_row`
/// element operations (more than their width), so that fewer rows go to
/// one task.
pub(crate) fn for_each_costly_row<F>(output: &mut [f32], width: usize, cost_per_row: usize, work: F)
where
    F: Fn(usize, &mut [f32]) + Sync + Send,
{
    if width == 0 {
        return;
    }
    let rows_per_task = MINIMUM_ELEMENTS_PER_TASK
        .div_ceil(cost_per_row.max(1))
        .max(1);
    output
        .par_chunks_mut(rows_per_task * width)
        .enumerate()
        .for_each(|(task, block)| {
            for (offset, row) in block.chunks_mut(width).enumerate() {
                work(task * rows_per_task + offset, row);
            }
        });
}

/// Calls `work(start, block)` for consecutive blocks of `output`, `start`
/// being the index of the block's first element, in parallel (element-wise
/// kernels have no reduction at all). A block is a plain slice so that the
/// kernel's loop over it vectorises.
pub(crate) fn for_each_block<F>(output: &mut [f32], work: F)
where
    F: Fn(usize, &mut [f32]) + Sync + Send,
{
    output
        .par_chunks_mut(MINIMUM_ELEMENTS_PER_TASK)
        .enumerate()
        .for_each(|(task, block)| work(task * MINIMUM_ELEMENTS_PER_TASK, block));
}
