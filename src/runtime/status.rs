//! Whether each stage must run, and why: fresh, cached or stale.

use std::fmt;
use std::path::Path;

use super::{work_folder, Cache, CacheError};
use crate::evaluation::EvaluationPart;
use crate::lockfile::{Change, Lockfile};
use crate::plan::{Plan, Stage, StageKind};
use crate::training::rl::RlCheckpointState;
use crate::training::{Checkpoint, CheckpointState, CheckpointStateFormat, TrainingError};

/// Why a stage must run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaleReason {
    /// No run of it was ever recorded or cached.
    NeverRun,
    /// A run of it was stopped after writing a checkpoint; the next run
    /// resumes there.
    Interrupted {
        /// The steps its latest checkpoint has completed.
        step: u64,
    },
    /// An evaluation was stopped after measuring some of its (step, set)
    /// parts; the next run measures only the others.
    PartlyEvaluated {
        /// Parts measured and kept.
        parts: usize,
        /// Parts in the whole evaluation.
        total: usize,
    },
    /// A run of it left a checkpoint that cannot be read, so the next run
    /// stops with this error until the work folder is removed.
    UnreadableCheckpoint {
        /// Why the checkpoint cannot be read (naming the file).
        message: String,
    },
    /// It differs from its locked version.
    Changed(Change),
    /// The lock records its outputs but the cache no longer has them.
    OutputMissing,
    /// The cache's copy of an artifact differs from what the lock recorded.
    OutputCorrupt {
        /// The artifact.
        artifact: String,
    },
}

impl fmt::Display for StaleReason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StaleReason::NeverRun => formatter.write_str("never run"),
            StaleReason::Interrupted { step } => write!(
                formatter,
                "interrupted after step {step}; the next run resumes from that checkpoint"
            ),
            StaleReason::PartlyEvaluated { parts, total } => write!(
                formatter,
                "interrupted after {parts} of {total} (step, set) parts; the next run measures only the rest"
            ),
            StaleReason::UnreadableCheckpoint { message } => {
                write!(formatter, "its checkpoint cannot be read: {message}")
            }
            StaleReason::Changed(change) => write!(formatter, "{change}"),
            StaleReason::OutputMissing => formatter
                .write_str("its outputs are recorded in the lockfile but missing from the cache"),
            StaleReason::OutputCorrupt { artifact } => {
                write!(formatter, "output `{artifact}` differs from the lockfile")
            }
        }
    }
}

/// A stage's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    /// Cached, and the lock records this very stage (and its outputs match).
    Fresh,
    /// Cached, but the lockfile does not record it yet (`echolab lock`).
    Cached,
    /// Must run, for these reasons.
    Stale(Vec<StaleReason>),
}

impl Freshness {
    /// `fresh`, `cached` or `stale`.
    pub fn word(&self) -> &'static str {
        match self {
            Freshness::Fresh => "fresh",
            Freshness::Cached => "cached",
            Freshness::Stale(_) => "stale",
        }
    }
}

/// The state of one stage: [`stored_status`], with a stage that was never
/// run to its end but left a checkpoint said to be interrupted instead.
pub fn stage_status(
    stage: &Stage,
    plan: &Plan,
    lock: Option<&Lockfile>,
    cache: &Cache,
) -> Result<Freshness, CacheError> {
    let freshness = stored_status(stage, plan, lock, cache)?;
    let never_run =
        matches!(&freshness, Freshness::Stale(reasons) if reasons == &[StaleReason::NeverRun]);
    if !never_run {
        return Ok(freshness);
    }
    let work = work_folder(cache, stage);
    let latest_step = match stage.kind {
        StageKind::Pretrain => latest_step::<CheckpointState>(&work),
        StageKind::Rl => latest_step::<RlCheckpointState>(&work),
        StageKind::Eval => {
            return Ok(match EvaluationPart::count(&work) {
                Ok(0) => freshness,
                Ok(parts) => Freshness::Stale(vec![StaleReason::PartlyEvaluated {
                    parts,
                    total: evaluation_parts(stage),
                }]),
                Err(error) => Freshness::Stale(vec![StaleReason::UnreadableCheckpoint {
                    message: error.to_string(),
                }]),
            })
        }
        _ => Ok(None),
    };
    Ok(match latest_step {
        Ok(Some(step)) => Freshness::Stale(vec![StaleReason::Interrupted { step }]),
        Ok(None) => freshness,
        Err(error) => Freshness::Stale(vec![StaleReason::UnreadableCheckpoint {
            message: error.to_string(),
        }]),
    })
}

/// The step of the latest checkpoint in a stage's work folder, if any.
fn latest_step<State: CheckpointStateFormat>(work: &Path) -> Result<Option<u64>, TrainingError> {
    Ok(Checkpoint::<State>::latest(work)?.map(|checkpoint| checkpoint.state.step()))
}

/// The (step, set) parts of an evaluation stage: its steps (one, step 0,
/// for a pretrained model) times its sets.
fn evaluation_parts(stage: &Stage) -> usize {
    let steps = stage
        .parameters
        .get("steps")
        .and_then(serde_json::Value::as_array)
        .map_or(0, Vec::len)
        .max(1);
    let sets = stage
        .upstream
        .keys()
        .filter(|role| role.starts_with("set."))
        .count();
    steps * sets
}

/// The state of one stage from the cache and the lockfile alone.
fn stored_status(
    stage: &Stage,
    plan: &Plan,
    lock: Option<&Lockfile>,
    cache: &Cache,
) -> Result<Freshness, CacheError> {
    let record = lock.and_then(|lock| lock.stages.get(&stage.name));
    let entry = cache.get(&stage.key)?;
    match (entry, record) {
        (Some(entry), Some(record)) if record.key == stage.key => {
            let recorded_differently = record.outputs.iter().find(|(artifact, digest)| {
                entry
                    .manifest
                    .artifacts
                    .get(*artifact)
                    .is_none_or(|actual| &&actual.blake3 != digest)
            });
            match recorded_differently {
                Some((artifact, _)) => Ok(Freshness::Stale(vec![StaleReason::OutputCorrupt {
                    artifact: artifact.clone(),
                }])),
                None => Ok(Freshness::Fresh),
            }
        }
        (Some(_), _) => Ok(Freshness::Cached),
        (None, Some(record)) if record.key == stage.key => {
            Ok(Freshness::Stale(vec![if record.outputs.is_empty() {
                StaleReason::NeverRun
            } else {
                StaleReason::OutputMissing
            }]))
        }
        (None, Some(record)) => {
            let changes = lock
                .map(|lock| crate::lockfile::stage_changes(lock, record, stage, plan))
                .unwrap_or_default();
            if changes.is_empty() {
                Ok(Freshness::Stale(vec![StaleReason::NeverRun]))
            } else {
                Ok(Freshness::Stale(
                    changes.into_iter().map(StaleReason::Changed).collect(),
                ))
            }
        }
        (None, None) => Ok(Freshness::Stale(vec![StaleReason::NeverRun])),
    }
}

/// The state of every stage of a plan, in plan order.
pub fn plan_status<'a>(
    plan: &'a Plan,
    lock: Option<&Lockfile>,
    cache: &Cache,
) -> Result<Vec<(&'a Stage, Freshness)>, CacheError> {
    plan.stages
        .iter()
        .map(|stage| stage_status(stage, plan, lock, cache).map(|freshness| (stage, freshness)))
        .collect()
}
