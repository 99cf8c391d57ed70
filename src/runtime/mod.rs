//! The runtime: running a plan's stages over a content-addressed cache.
//!
//! [`Cache`] stores one entry per stage key, published atomically with a
//! manifest of its artifacts' digests; a hit needs the manifest and every
//! artifact present. An [`Executor`] runs a plan's stages over it: the
//! [`LocalExecutor`] in this process, the [`slurm::SlurmExecutor`] as one
//! Slurm batch job per stage.

mod cache;
mod compute_threads;
mod execute;
mod executor;
mod job_progress;
mod local_executor;
mod plain_progress;
mod plan_file;
mod project;
pub mod slurm;
mod stage_timing;
pub mod stages;
mod status;

pub use cache::{
    damage_text, ArtifactDigest, Cache, CacheError, Damage, Entry, Lookup, Manifest, CACHE_LAYOUT,
};
pub use compute_threads::on_threads;
pub use execute::{execute, log_file_name, work_folder, Execution, Places, FAIL_STAGE_VARIABLE};
pub use executor::{Executor, ExecutorError, Outcome, RunReport};
pub use job_progress::{stage_work, JobEstimate, JobProgress};
pub use local_executor::{run_local, LocalExecutor};
pub use plan_file::PlanFile;
pub use project::{project_root, Project};
pub use stage_timing::StageTiming;
pub use status::{plan_status, stage_status, Freshness, SavedWork, StaleReason};
