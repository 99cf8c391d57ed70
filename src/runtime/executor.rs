//! [`Executor`]: what runs a plan's stages, and what it says happened.
//!
//! `echolab run` picks one executor and hands it the stages to run; each
//! executor returns a [`RunReport`] with one [`Outcome`] per stage, so what
//! follows a run (the lockfile, the summary, the exit code) does not depend
//! on where the stages ran. Two exist: the local one (threads of this
//! process, [`super::LocalExecutor`]) and the Slurm one (one batch job per
//! stage, [`super::slurm::SlurmExecutor`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::execute::Places;
use super::slurm::SlurmError;
use crate::plan::{Plan, Stage, StageKey};

/// Runs stages of a plan over a cache.
pub trait Executor {
    /// Runs `selected` stages of `plan`, each after the stages it reads,
    /// with `places` saying where the cache and the logs are. A stage that
    /// fails is an [`Outcome::Failed`], not an error: an error means the
    /// executor itself could not work (no scheduler, say).
    fn run(
        &self,
        plan: &Plan,
        selected: &[&Stage],
        places: &Places<'_>,
    ) -> Result<RunReport, ExecutorError>;
}

/// Why an executor could not run stages at all.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// The Slurm executor failed.
    #[error(transparent)]
    Slurm(#[from] SlurmError),
}

/// What happened to one stage in a run.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Taken from the cache.
    Cached,
    /// Computed, in this much time.
    Computed(Duration),
    /// Failed, with this message; its log is at `log`.
    Failed {
        /// The error, in words.
        message: String,
        /// The stage's log file.
        log: PathBuf,
    },
    /// Not run because a stage it reads failed.
    Skipped {
        /// The failed upstream stage.
        because: String,
    },
}

/// The outcome of every selected stage, in plan order.
#[derive(Debug, Default)]
pub struct RunReport {
    /// `(stage name, key, outcome)`.
    pub stages: Vec<(String, StageKey, Outcome)>,
}

impl RunReport {
    /// The outcomes of `stages`, in that order, taken out of `outcomes`;
    /// a stage without an outcome is left out.
    pub fn in_order<'a>(
        stages: impl IntoIterator<Item = &'a Stage>,
        outcomes: &mut BTreeMap<StageKey, Outcome>,
    ) -> RunReport {
        RunReport {
            stages: stages
                .into_iter()
                .filter_map(|stage| {
                    outcomes
                        .remove(&stage.key)
                        .map(|outcome| (stage.name.clone(), stage.key.clone(), outcome))
                })
                .collect(),
        }
    }

    /// Whether any stage failed or was skipped.
    pub fn failed(&self) -> bool {
        self.stages.iter().any(|(_, _, outcome)| {
            matches!(outcome, Outcome::Failed { .. } | Outcome::Skipped { .. })
        })
    }

    /// The names of the stages that were computed.
    pub fn computed(&self) -> Vec<&str> {
        self.stages
            .iter()
            .filter(|(_, _, outcome)| matches!(outcome, Outcome::Computed(_)))
            .map(|(name, _, _)| name.as_str())
            .collect()
    }
}
