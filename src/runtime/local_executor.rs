//! The local executor: stages in dependency order, in threads of this
//! process, independent ones in parallel up to `jobs`, going on after a
//! failure.
//!
//! Threads: each stage computes in its own rayon pool of
//! [`threads_per_stage`] threads, the process's threads (`RAYON_NUM_THREADS`,
//! else the cores) shared out between the stages running once it starts
//! (at most `jobs`): a stage that starts alone, as pretraining does, gets
//! every thread; stages that start together share them. On two cores, two
//! stages on one thread each did more in total than one stage on two
//! (docs/performance.md). No result depends on a thread count: every
//! kernel's sums have an order fixed by the shapes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{mpsc, Mutex, PoisonError};
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::cache::damage_text;
use super::compute_threads::on_threads;
use super::execute::{execute, log_file_name, Execution, Places};
use super::executor::{Executor, ExecutorError, Outcome, RunReport};
use super::job_progress::{JobEstimate, JobProgress};
use super::plain_progress::{duration_text, PlainProgress};
use crate::plan::{Plan, Stage, StageKey};

/// Runs `selected` stages of `plan` (each after the stages it reads),
/// at most `jobs` at a time. With `show_progress` (a terminal), draws a
/// progress bar per running stage on standard error under one for the whole
/// job ([`JobProgress`]: its share done and time left); without, prints
/// plain lines there ([`PlainProgress`]): when a stage starts computing,
/// with its log, and about every 30 s with the stage's time left and the
/// job's.
pub fn run_local(
    plan: &Plan,
    selected: &[&Stage],
    places: &Places<'_>,
    jobs: usize,
    show_progress: bool,
) -> RunReport {
    let wanted: BTreeSet<&StageKey> = selected.iter().map(|stage| &stage.key).collect();
    let order: Vec<&Stage> = plan
        .stages
        .iter()
        .filter(|stage| wanted.contains(&stage.key))
        .collect();
    let mut outcomes: BTreeMap<StageKey, Outcome> = BTreeMap::new();
    let multi = MultiProgress::with_draw_target(if show_progress {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let style = ProgressStyle::with_template(
        "{prefix:.bold} [{bar:30}] {pos}/{len} {msg} (ETA {eta}, {elapsed} in)",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    let job = Mutex::new(JobProgress::new(plan, &order));
    let job_bar = multi.add(ProgressBar::new(JOB_BAR_LENGTH));
    job_bar.set_style(
        ProgressStyle::with_template("{prefix:.bold} [{bar:30}] {percent}% {msg} ({elapsed} in)")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    job_bar.set_prefix("job");
    job_bar.set_message("estimating the time left");
    let (sender, receiver) = mpsc::channel::<(StageKey, Outcome)>();
    let available = rayon::current_num_threads();
    std::thread::scope(|scope| {
        let mut running: BTreeSet<StageKey> = BTreeSet::new();
        loop {
            // Start every stage whose upstream stages are done, within `jobs`.
            let ready = order
                .iter()
                .filter(|stage| {
                    !outcomes.contains_key(&stage.key)
                        && !running.contains(&stage.key)
                        && stage
                            .upstream
                            .values()
                            .filter(|key| wanted.contains(key))
                            .all(|key| outcomes.contains_key(key))
                })
                .count();
            let threads = threads_per_stage(available, (running.len() + ready).min(jobs.max(1)));
            for stage in &order {
                if running.len() >= jobs.max(1) {
                    break;
                }
                if outcomes.contains_key(&stage.key) || running.contains(&stage.key) {
                    continue;
                }
                let upstream: Vec<&StageKey> = stage
                    .upstream
                    .values()
                    .filter(|key| wanted.contains(key))
                    .collect();
                if let Some(failed) = upstream.iter().find(|key| {
                    matches!(
                        outcomes.get(**key),
                        Some(Outcome::Failed { .. } | Outcome::Skipped { .. })
                    )
                }) {
                    let because = plan
                        .stage(failed)
                        .map_or_else(|| failed.short().to_string(), |stage| stage.name.clone());
                    eprintln!("skipped  {} (`{because}` failed)", stage.name);
                    outcomes.insert(stage.key.clone(), Outcome::Skipped { because });
                    continue;
                }
                if !upstream.iter().all(|key| outcomes.contains_key(*key)) {
                    continue;
                }
                running.insert(stage.key.clone());
                let bar = multi.add(ProgressBar::new(1));
                bar.set_style(style.clone());
                bar.set_prefix(format!("{} {}", stage.kind, stage.name));
                let sender = sender.clone();
                let stage: &Stage = stage;
                let job = &job;
                let job_bar = job_bar.clone();
                let multi = &multi;
                scope.spawn(move || {
                    let start = Instant::now();
                    let progress_bar = bar.clone();
                    let mut lines =
                        PlainProgress::new(&stage.name, places.logs.join(log_file_name(stage)));
                    let progress = Box::new(move |step: u64, total: u64, message: &str| {
                        let now = Instant::now();
                        let estimate = {
                            let mut job = job.lock().unwrap_or_else(PoisonError::into_inner);
                            if total == 0 {
                                job.started(now);
                            }
                            job.report(&stage.key, step, total);
                            job.estimate(now)
                        };
                        if !show_progress {
                            if let Some(line) = lines.report(step, total, message, now) {
                                // A start line ends with its log's path.
                                let job = if total > 0 {
                                    job_suffix(&estimate)
                                } else {
                                    String::new()
                                };
                                eprintln!("{line}{job}");
                            }
                            return;
                        }
                        show_job(&job_bar, &estimate);
                        if total > 0 {
                            progress_bar.set_length(total);
                            progress_bar.set_position(step);
                            progress_bar.set_message(message.to_string());
                        }
                    });
                    let computed = on_threads(threads, || execute(stage, plan, places, progress));
                    let outcome = match computed {
                        Ok(Execution::Cached(_)) => Outcome::Cached,
                        Ok(Execution::Computed(_)) => Outcome::Computed(start.elapsed()),
                        Ok(Execution::Repaired { damage, .. }) => {
                            let line = format!(
                                "damaged  {}: {}; recomputed",
                                stage.name,
                                damage_text(&damage)
                            );
                            let _ = multi.println(&line);
                            if !show_progress {
                                eprintln!("{line}");
                            }
                            Outcome::Computed(start.elapsed())
                        }
                        Err(error) => Outcome::Failed {
                            message: error.to_string(),
                            log: places.logs.join(log_file_name(stage)),
                        },
                    };
                    bar.finish_and_clear();
                    let _ = sender.send((stage.key.clone(), outcome));
                });
            }
            if running.is_empty() {
                break;
            }
            let Ok((key, outcome)) = receiver.recv() else {
                break;
            };
            running.remove(&key);
            {
                let mut job = job.lock().unwrap_or_else(PoisonError::into_inner);
                job.finished(&key, matches!(outcome, Outcome::Cached));
                show_job(&job_bar, &job.estimate(Instant::now()));
            }
            if let Some(stage) = plan.stage(&key) {
                let line = match &outcome {
                    Outcome::Cached => format!("cached   {}", stage.name),
                    Outcome::Computed(duration) => {
                        format!("ran      {} ({:.1} s)", stage.name, duration.as_secs_f64())
                    }
                    Outcome::Failed { message, .. } => {
                        format!("failed   {}: {message}", stage.name)
                    }
                    Outcome::Skipped { because } => {
                        format!("skipped  {} (`{because}` failed)", stage.name)
                    }
                };
                let _ = multi.println(&line);
                if !show_progress {
                    eprintln!("{line}");
                }
            }
            outcomes.insert(key, outcome);
        }
    });
    job_bar.finish_and_clear();
    RunReport::in_order(order.iter().copied(), &mut outcomes)
}

/// The job bar's length: its position is the job's share done in
/// thousandths.
const JOB_BAR_LENGTH: u64 = 1000;

/// Sets the job bar to `estimate`.
fn show_job(bar: &ProgressBar, estimate: &JobEstimate) {
    bar.set_position((estimate.fraction * JOB_BAR_LENGTH as f64).round() as u64);
    if let Some(left) = estimate.seconds_left {
        bar.set_message(format!("about {} left", duration_text(left)));
    }
}

/// What a plain progress line adds about the whole job.
fn job_suffix(estimate: &JobEstimate) -> String {
    match estimate.seconds_left {
        Some(left) => format!(
            "; job {:.0}% done, about {} left",
            estimate.fraction * 100.0,
            duration_text(left)
        ),
        None => String::new(),
    }
}

/// The threads each stage computes on when `jobs` stages may run at once
/// in a process of `available` threads: an equal share, at least one.
pub fn threads_per_stage(available: usize, jobs: usize) -> usize {
    (available / jobs.max(1)).max(1)
}

/// [`run_local`] behind the [`Executor`] interface.
#[derive(Debug, Clone, Copy)]
pub struct LocalExecutor {
    /// How many stages may run at once.
    pub jobs: usize,
    /// Whether to draw progress lines on standard error.
    pub show_progress: bool,
}

impl Executor for LocalExecutor {
    fn run(
        &self,
        plan: &Plan,
        selected: &[&Stage],
        places: &Places<'_>,
    ) -> Result<RunReport, ExecutorError> {
        Ok(run_local(
            plan,
            selected,
            places,
            self.jobs,
            self.show_progress,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::threads_per_stage;

    #[test]
    fn the_process_threads_are_shared_out_between_the_jobs() {
        assert_eq!(threads_per_stage(2, 1), 2);
        assert_eq!(threads_per_stage(2, 2), 1);
        assert_eq!(threads_per_stage(8, 3), 2);
        // Never zero: more jobs than threads still gives each stage one.
        assert_eq!(threads_per_stage(2, 4), 1);
        assert_eq!(threads_per_stage(4, 0), 4);
    }
}
