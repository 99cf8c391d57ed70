//! Running one stage: lock its key, use the cache or compute and publish.
//!
//! This is all a cluster job needs: the plan, the cache and a key
//! (`echolab exec-stage`). Two processes computing the same key serialize on
//! `locks/<key>.lock`; the second finds the first's entry and uses it.
//! A failure is written to the end of the stage's log.

use std::fs;
use std::path::{Path, PathBuf};

use super::stages::{compute, Progress, StageContext, StageError};
use super::{damage_text, Cache, Damage, Entry, Lookup, StageTiming};
use crate::plan::{Plan, Stage};

/// What running a stage did.
#[derive(Debug, Clone)]
pub enum Execution {
    /// The cache had it, with every artifact intact.
    Cached(Entry),
    /// It was computed and published.
    Computed(Entry),
    /// The cache held a damaged entry (`damage`); it was removed, and the
    /// stage computed and published again.
    Repaired {
        /// The new entry.
        entry: Entry,
        /// What was wrong with the old one.
        damage: Vec<Damage>,
    },
}

impl Execution {
    /// The stage's entry.
    pub fn entry(&self) -> &Entry {
        match self {
            Execution::Cached(entry)
            | Execution::Computed(entry)
            | Execution::Repaired { entry, .. } => entry,
        }
    }
}

/// Where a stage's inputs and outputs live.
pub struct Places<'a> {
    /// Where upstream artifacts are read from.
    pub upstream: &'a Cache,
    /// Where the stage's entry is published (the same cache, or a scratch
    /// one when verifying).
    pub target: &'a Cache,
    /// The experiment file's folder.
    pub experiment_directory: &'a Path,
    /// The folder for the stage's log file.
    pub logs: &'a Path,
}

/// A file name for a stage's log: its name with path-unsafe characters replaced.
pub fn log_file_name(stage: &Stage) -> String {
    let safe: String = stage
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.#=".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.{}.log", stage.key.short())
}

/// Runs `stage`: from the target cache if it holds it intact, else computed.
/// `progress` receives `(0, 0, "")` when the stage starts computing, then
/// `(step, total, message)` while it computes.
pub fn execute(
    stage: &Stage,
    plan: &Plan,
    places: &Places<'_>,
    mut progress: Progress<'_>,
) -> Result<Execution, StageError> {
    let target = places.target;
    let locks = target.locks();
    fs::create_dir_all(&locks).map_err(|source| StageError::Io {
        action: "create",
        path: locks.clone(),
        source,
    })?;
    let lock_path = locks.join(format!("{}.lock", stage.key.0));
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|source| StageError::Io {
            action: "open",
            path: lock_path.clone(),
            source,
        })?;
    lock.lock().map_err(|source| StageError::Io {
        action: "lock",
        path: lock_path.clone(),
        source,
    })?;
    fs::create_dir_all(places.logs).map_err(|source| StageError::Io {
        action: "create",
        path: places.logs.to_path_buf(),
        source,
    })?;
    let log_path = places.logs.join(log_file_name(stage));
    let mut log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|source| StageError::Io {
            action: "open",
            path: log_path.clone(),
            source,
        })?;
    // Every cache hit is checked byte for byte: a damaged entry is never
    // used, whatever a lockfile says, but removed and computed again.
    let mut replaced = Vec::new();
    match target.inspect(&stage.key)? {
        Lookup::Intact(entry) => return Ok(Execution::Cached(entry)),
        Lookup::Absent => {}
        Lookup::Damaged { damage, .. } => {
            use std::io::Write as _;
            let _ = writeln!(
                log,
                "the cached entry is damaged ({}): recomputing",
                damage_text(&damage)
            );
            target.remove(&stage.key)?;
            replaced = damage;
        }
    }
    let work = work_folder(target, stage);
    fs::create_dir_all(&work).map_err(|source| StageError::Io {
        action: "create",
        path: work.clone(),
        source,
    })?;
    let output = target.staging(&stage.key)?;
    let mut error_log = log.try_clone().map_err(|source| StageError::Io {
        action: "open",
        path: log_path.clone(),
        source,
    })?;
    {
        use std::io::Write as _;
        let threads = rayon::current_num_threads();
        let plural = if threads == 1 { "" } else { "s" };
        let _ = writeln!(
            error_log,
            "computing `{}` on {threads} thread{plural}",
            stage.name
        );
    }
    progress(0, 0, "");
    let started = std::time::Instant::now();
    let result = if injected_failure(stage) {
        Err(StageError::Other(format!(
            "failure injected by `{FAIL_STAGE_VARIABLE}`"
        )))
    } else {
        let mut context = StageContext {
            plan,
            stage,
            upstream_cache: places.upstream,
            experiment_directory: places.experiment_directory,
            work: work.clone(),
            output: output.clone(),
            log: Box::new(log),
            progress,
        };
        compute(&mut context)
    };
    match result {
        Ok(()) => {
            let entry = target.publish(&stage.key, stage.kind, &stage.name, &output)?;
            // Beside the log, never in the cache: durations vary. A record
            // that cannot be written loses a duration, not the stage.
            let _ = StageTiming::record(places.logs, stage, started.elapsed());
            // The work folder only serves a resume; the entry is whole now.
            let _ = fs::remove_dir_all(&work);
            Ok(if replaced.is_empty() {
                Execution::Computed(entry)
            } else {
                Execution::Repaired {
                    entry,
                    damage: replaced,
                }
            })
        }
        Err(error) => {
            use std::io::Write as _;
            let _ = writeln!(error_log, "error: stage `{}` failed: {error}", stage.name);
            // Outputs of a failed stage are never cached; its checkpoints
            // stay in the work folder for the next attempt.
            let _ = fs::remove_dir_all(&output);
            Err(error)
        }
    }
}

/// The environment variable naming a stage that must fail (fault injection
/// for the failure tests, wherever the stage runs: a cluster job inherits
/// it from `echolab run`).
pub const FAIL_STAGE_VARIABLE: &str = "ECHOLAB_FAULT_FAIL_STAGE";

/// Whether [`FAIL_STAGE_VARIABLE`] names `stage`.
fn injected_failure(stage: &Stage) -> bool {
    std::env::var_os(FAIL_STAGE_VARIABLE).is_some_and(|name| name == stage.name.as_str())
}

/// The folder where a stage keeps what a killed run resumes from.
pub fn work_folder(cache: &Cache, stage: &Stage) -> PathBuf {
    cache.root().join("work").join(&stage.key.0)
}
