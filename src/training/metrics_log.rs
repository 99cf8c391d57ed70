//! [`MetricsLog`]: the run's `metrics.jsonl`, one JSON object a line.
//!
//! Lines are `{"kind":"train","step":..,"loss":..,"learning_rate":..,
//! "gradient_norm":..,"tokens":..}` after every
//! step and `{"kind":"held_out","step":..,"source":..,"loss":..}` per
//! source at each evaluation. Speeds vary between runs; everything else is
//! deterministic. A resumed run first drops the lines written after its
//! checkpoint (and a torn last line), so the log reads as one run.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::TrainingError;

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MetricsRecord {
    /// A training step.
    Train {
        /// Steps completed.
        step: u64,
        /// Mean training loss of the step.
        loss: f64,
        /// Learning rate used.
        learning_rate: f64,
        /// Global gradient norm before clipping.
        gradient_norm: f64,
        /// Target tokens trained on so far.
        tokens: u64,
    },
    /// The held-out loss of one source.
    HeldOut {
        /// Steps completed.
        step: u64,
        /// The source.
        source: String,
        /// Mean loss per held-out token, if the source has any.
        loss: Option<f64>,
    },
}

impl MetricsRecord {
    fn step(&self) -> u64 {
        match self {
            MetricsRecord::Train { step, .. } | MetricsRecord::HeldOut { step, .. } => *step,
        }
    }
}

/// The append-only metrics file of a run.
#[derive(Debug)]
pub struct MetricsLog {
    path: PathBuf,
    file: File,
}

impl MetricsLog {
    /// Opens `work_dir/metrics.jsonl`, keeping only the records of steps up
    /// to `keep_through_step` (0 for a fresh run).
    pub fn open(work_dir: &Path, keep_through_step: u64) -> Result<Self, TrainingError> {
        let path = work_dir.join("metrics.jsonl");
        let kept = match std::fs::read_to_string(&path) {
            Ok(text) => text
                .lines()
                .filter(|line| {
                    serde_json::from_str::<MetricsRecord>(line)
                        .is_ok_and(|record| record.step() <= keep_through_step)
                })
                .map(|line| format!("{line}\n"))
                .collect::<String>(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(error) => return Err(TrainingError::io(&path)(error)),
        };
        super::atomic_file::write_atomically(&path, kept.as_bytes())?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(TrainingError::io(&path))?;
        Ok(MetricsLog { path, file })
    }

    /// Appends one record.
    pub fn record(&mut self, record: &MetricsRecord) -> Result<(), TrainingError> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .map_err(TrainingError::io(&self.path))
    }
}
