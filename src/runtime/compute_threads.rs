//! The threads a stage computes on: a rayon pool of its own, entered for the
//! whole stage.
//!
//! Every kernel parallelises with rayon. Called from a thread outside any
//! pool, each parallel loop is handed to the pool's threads while the
//! caller sleeps until they finish: one wake-up across threads per kernel
//! call, thousands per RL step of token-by-token decoding. Entered through
//! [`on_threads`], the stage itself runs on a pool thread, so a one-thread
//! pool runs every loop inline and a larger one splits loops by work
//! stealing. No result depends on the thread count (every kernel's sums
//! have an order fixed by the shapes).

/// Runs `work` inside a rayon pool of `threads` threads (at least one), or
/// on the calling thread in the current pool when no pool can be built.
pub fn on_threads<T: Send>(threads: usize, work: impl FnOnce() -> T + Send) -> T {
    match rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
    {
        Ok(pool) => pool.install(work),
        Err(_) => work(),
    }
}

#[cfg(test)]
mod tests {
    use super::on_threads;

    #[test]
    fn work_runs_on_a_thread_of_a_pool_of_the_asked_size() {
        for threads in [1, 2, 3] {
            let (inside, count) = on_threads(threads, || {
                (
                    rayon::current_thread_index().is_some(),
                    rayon::current_num_threads(),
                )
            });
            assert!(inside, "{threads} threads: work ran outside the pool");
            assert_eq!(count, threads);
        }
        assert_eq!(on_threads(0, rayon::current_num_threads), 1);
    }
}
