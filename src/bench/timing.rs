//! Timing helpers shared by the benchmark groups.

use std::time::{Duration, Instant};

/// Runs `work` `repeats` times (at least once) and returns the fastest run:
/// the least disturbed by whatever else the machine was doing.
pub fn best_of<F: FnMut()>(repeats: usize, mut work: F) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        work();
        best = best.min(start.elapsed());
    }
    best
}
