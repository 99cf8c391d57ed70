//! Whether each stage must run, and why: fresh, cached or stale.

use std::fmt;
use std::path::Path;

use super::stages::evaluation_parts;
use super::{damage_text, work_folder, Cache, CacheError, Lookup};
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
    /// A run is computing it now (it holds the stage's lock), with what it
    /// has saved in the work folder so far.
    Computing {
        /// Its latest checkpoint or its evaluation parts, if any yet.
        saved: Option<SavedWork>,
    },
    /// A run of it was stopped after saving some of its work; the next run
    /// resumes there.
    Interrupted {
        /// What was saved.
        saved: SavedWork,
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
    /// The cache entry's files do not match its own manifest (re-hashed
    /// byte for byte); the next run recomputes it.
    Damaged {
        /// What is wrong, in words.
        damage: String,
    },
}

/// What a stage not yet cached has saved in its work folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SavedWork {
    /// A pretraining or RL checkpoint after this many steps.
    Checkpoint {
        /// The steps it has completed.
        step: u64,
    },
    /// Evaluation parts, one per (step, set) measured.
    Parts {
        /// Parts measured and kept.
        parts: usize,
        /// Parts in the whole evaluation.
        total: usize,
    },
}

impl fmt::Display for StaleReason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StaleReason::NeverRun => formatter.write_str("never run"),
            StaleReason::Computing { saved: None } => {
                formatter.write_str("being computed by a run now")
            }
            StaleReason::Computing {
                saved: Some(SavedWork::Checkpoint { step }),
            } => write!(
                formatter,
                "being computed by a run now; its latest checkpoint is at step {step}"
            ),
            StaleReason::Computing {
                saved: Some(SavedWork::Parts { parts, total }),
            } => write!(
                formatter,
                "being computed by a run now; {parts} of {total} (step, set) parts measured"
            ),
            StaleReason::Interrupted {
                saved: SavedWork::Checkpoint { step },
            } => write!(
                formatter,
                "interrupted after step {step}; the next run resumes from that checkpoint"
            ),
            StaleReason::Interrupted {
                saved: SavedWork::Parts { parts, total },
            } => write!(
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
            StaleReason::Damaged { damage } => write!(
                formatter,
                "its cache entry is damaged ({damage}); the next run recomputes it"
            ),
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

/// The state of one stage: [`stored_status`], with a stage the cache
/// lacks said to be computing now (another run holds its lock) or
/// interrupted (a killed run saved work it will resume from) instead of
/// never run or missing from the cache; a change from the lockfile's
/// version is still named beside it. (A fresh clone's lockfile records
/// every stage, so "missing from the cache" alone would hide a run's
/// progress.)
pub fn stage_status(
    stage: &Stage,
    plan: &Plan,
    lock: Option<&Lockfile>,
    cache: &Cache,
) -> Result<Freshness, CacheError> {
    let freshness = stored_status(stage, plan, lock, cache)?;
    let Freshness::Stale(reasons) = &freshness else {
        return Ok(freshness);
    };
    let not_cached = reasons.iter().all(|reason| {
        matches!(
            reason,
            StaleReason::NeverRun | StaleReason::OutputMissing | StaleReason::Changed(_)
        )
    });
    if !not_cached {
        return Ok(freshness);
    }
    let progress = match saved_work(stage, &work_folder(cache, stage)) {
        Err(message) => StaleReason::UnreadableCheckpoint { message },
        Ok(saved) if cache.is_being_computed(&stage.key) => StaleReason::Computing { saved },
        Ok(Some(saved)) => StaleReason::Interrupted { saved },
        Ok(None) => return Ok(freshness),
    };
    let mut reasons: Vec<StaleReason> = reasons
        .iter()
        .filter(|reason| matches!(reason, StaleReason::Changed(_)))
        .cloned()
        .collect();
    reasons.insert(0, progress);
    Ok(Freshness::Stale(reasons))
}

/// What a stage's work folder holds: the latest checkpoint of a
/// pretraining or RL stage, the parts of an evaluation; an error naming
/// the file when it cannot be read.
fn saved_work(stage: &Stage, work: &Path) -> Result<Option<SavedWork>, String> {
    let checkpoint = |step: Option<u64>| step.map(|step| SavedWork::Checkpoint { step });
    match stage.kind {
        StageKind::Pretrain => latest_step::<CheckpointState>(work)
            .map(checkpoint)
            .map_err(|error| error.to_string()),
        StageKind::Rl => latest_step::<RlCheckpointState>(work)
            .map(checkpoint)
            .map_err(|error| error.to_string()),
        StageKind::Eval => match EvaluationPart::count(work) {
            Ok(0) => Ok(None),
            Ok(parts) => Ok(Some(SavedWork::Parts {
                parts,
                total: evaluation_parts(stage),
            })),
            Err(error) => Err(error.to_string()),
        },
        StageKind::Data | StageKind::Tokenizer | StageKind::Report => Ok(None),
    }
}

/// The step of the latest checkpoint in a stage's work folder, if any.
fn latest_step<State: CheckpointStateFormat>(work: &Path) -> Result<Option<u64>, TrainingError> {
    Ok(Checkpoint::<State>::latest(work)?.map(|checkpoint| checkpoint.state.step()))
}

/// The state of one stage from the cache and the lockfile alone.
fn stored_status(
    stage: &Stage,
    plan: &Plan,
    lock: Option<&Lockfile>,
    cache: &Cache,
) -> Result<Freshness, CacheError> {
    let record = lock.and_then(|lock| lock.stages.get(&stage.name));
    let entry = match cache.inspect(&stage.key)? {
        Lookup::Intact(entry) => Some(entry),
        Lookup::Absent => None,
        Lookup::Damaged { damage, .. } => {
            return Ok(Freshness::Stale(vec![StaleReason::Damaged {
                damage: damage_text(&damage),
            }]))
        }
    };
    // A record whose key matches but whose other fields differ from the
    // plan was edited by hand: say which.
    if let (Some(lock), Some(record)) = (lock, record) {
        if record.key == stage.key {
            let edits = crate::lockfile::stage_changes(lock, record, stage, plan);
            if !edits.is_empty() {
                return Ok(Freshness::Stale(
                    edits.into_iter().map(StaleReason::Changed).collect(),
                ));
            }
        }
    }
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
