//! The Slurm executor: one batch job per stage, on a shared cache.
//!
//! `echolab run FILE --executor slurm` hands the stages to
//! [`SlurmExecutor`] instead of the local executor. It
//!
//! 1. takes every selected stage whose entry is already in the cache, whole,
//!    as cached (a rerun after a failure submits only what is missing);
//! 2. writes one batch script per other stage ([`JobScript`]), next to the
//!    stage's log, and submits it with `sbatch`, upstream stages first, each
//!    job depending (`afterok`) on the jobs of the stages it reads, with
//!    `--kill-on-invalid-dep=yes` so a failure cancels its dependants;
//! 3. follows the jobs to the end with `squeue` and `sacct`
//!    ([`SlurmClient`], [`JobState`]), drawing progress and printing each
//!    stage as it ends, a failure with its log.
//!
//! Each job runs `echolab exec-stage` (the running binary, by absolute
//! path) on the plan `echolab run` saved and the shared cache: the same
//! code as a local run, so the same keys and the same bytes, and the same
//! per-key locks and atomic publication keep concurrent jobs safe. Slurm
//! appends the job's output to the stage's log.
//!
//! Nothing here reaches a stage's key or outputs: partitions, resources
//! ([`Resources`]) and extra `#SBATCH` options only decide where and how a
//! stage runs.

mod job_script;
mod job_state;
mod resources;
mod slurm_client;
mod slurm_executor;

use std::path::PathBuf;

pub use job_script::JobScript;
pub use job_state::{parse_sacct, parse_squeue, JobId, JobState};
pub use resources::{ResourceOverride, ResourceTable, Resources};
pub use slurm_client::SlurmClient;
pub use slurm_executor::{PlannedJob, SlurmExecutor, SlurmOptions, SubmissionPlan};

/// What can go wrong running stages on Slurm.
#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    /// A Slurm command could not be started (Slurm is not installed here?).
    #[error("cannot run `{command}` (is Slurm installed and on the PATH?): {source}")]
    Spawn {
        /// The command.
        command: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// A Slurm command ran and failed.
    #[error("`{command}` failed: {message}")]
    Command {
        /// The command.
        command: &'static str,
        /// What it said.
        message: String,
    },
    /// A resources override is not `KIND:NAME=VALUE,...`.
    #[error("invalid resources `{text}`: {message}")]
    InvalidResources {
        /// The override as given.
        text: String,
        /// What is wrong.
        message: String,
    },
    /// A file or folder could not be read, written or found.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The cache could not be read.
    #[error(transparent)]
    Cache(#[from] super::CacheError),
}
