//! [`tune_process`]: process-wide settings that make CPU training faster
//! without changing a bit of any result.
//!
//! Two things outside the model cost more than its arithmetic on a small
//! machine, both measured with `echolab bench training` (see
//! `docs/performance.md`):
//!
//! - candle 0.11.1 runs large element-wise operations (at least 65,536
//!   values: residual additions, gradient accumulation, the optimizer) on a
//!   "barrier pool" of `CANDLE_NUM_THREADS - 1` spin-waiting workers beside
//!   the rayon pool that runs matrix products and the fused kernels. On two
//!   cores the pools oversubscribe them and the caller spins while waiting.
//!   `CANDLE_NUM_THREADS=1` leaves rayon alone; element-wise results do not
//!   depend on the split.
//! - every tensor is a fresh allocation; glibc serves large ones with
//!   `mmap` and returns them on free, so each op page-faults its output in
//!   again (a tenth of a step was the kernel zeroing pages). Raising glibc's
//!   mmap and trim thresholds keeps freed blocks for reuse.

/// glibc's `mallopt` parameter for the size above which `malloc` maps.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const M_MMAP_THRESHOLD: i32 = -3;
/// glibc's `mallopt` parameter for the free space kept at the heap's top.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const M_TRIM_THRESHOLD: i32 = -1;
/// 1 GiB: larger than any tensor of the presets.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const THRESHOLD: i32 = 1 << 30;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" {
    fn mallopt(parameter: i32, value: i32) -> i32;
}

/// Sets `CANDLE_NUM_THREADS=1` unless the user set it, and on glibc keeps
/// freed memory in the heap. Call it first thing in `main`, before any
/// thread exists and before the first tensor operation (candle reads the
/// variable once).
pub fn tune_process() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes allocator tuning parameters; it is
    // called before any other thread exists.
    unsafe {
        mallopt(M_MMAP_THRESHOLD, THRESHOLD);
        mallopt(M_TRIM_THRESHOLD, THRESHOLD);
    }
}
