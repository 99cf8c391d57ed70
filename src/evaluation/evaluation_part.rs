//! [`EvaluationPart`]: one (step, set) of an evaluation, kept in the work
//! folder as soon as it is measured, so that a killed evaluation resumes
//! with the parts it finished instead of starting over.
//!
//! Layout under the work folder (the set is named by its place in the
//! evaluation, its name is inside):
//!
//! ```text
//! parts/
//!   step-00000010.set-0.json   {"format_version": 1, "step": 10, "set": "held_out",
//!                               "fingerprint": "…", "rows": […], "samples": "…"}
//! ```
//!
//! A part is written atomically (a kill leaves it whole or absent). Its
//! `rows` and `samples` are the lines the evaluation writes for that step
//! and set, so an evaluation assembled from parts is the same bytes as one
//! measured in a single run. Its fingerprint covers everything the part's
//! numbers depend on: the configuration, the tokenizer, the set's problems
//! and the checkpoint's files (and the KL reference's). A part that cannot
//! be read, or whose fingerprint differs, stops the evaluation with an
//! error naming the file, and is left in place.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{EvalConfig, EvalRow, EvaluateError};
use crate::data::{Document, Tokenizer};
use crate::training::{write_atomically, ModelArtifact};

/// The version of the part layout; bump it on any change.
pub const PART_FORMAT_VERSION: u32 = 1;

/// The folder of the parts under a work folder.
const PARTS_FOLDER: &str = "parts";

/// The measured rows and sample lines of one step on one set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationPart {
    /// [`PART_FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// The checkpoint's step.
    pub step: u64,
    /// The set's name.
    pub set: String,
    /// What the numbers depend on, hashed (see the module documentation).
    pub fingerprint: String,
    /// The part's rows of `metrics.jsonl`, in order.
    pub rows: Vec<EvalRow>,
    /// The part's lines of `samples.jsonl`.
    pub samples: String,
}

impl EvaluationPart {
    /// Where the part of `step` on the set at `set_index` is kept.
    pub fn path(work: &Path, step: u64, set_index: usize) -> PathBuf {
        work.join(PARTS_FOLDER)
            .join(format!("step-{step:08}.set-{set_index}.json"))
    }

    /// The part at `path` if one was written, checked against the
    /// fingerprint the evaluation expects.
    pub fn read(path: &Path, fingerprint: &str) -> Result<Option<Self>, EvaluateError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(EvaluateError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let part: EvaluationPart =
            serde_json::from_str(&text).map_err(|error| EvaluateError::UnreadablePart {
                path: path.to_path_buf(),
                reason: error.to_string(),
            })?;
        if part.format_version != PART_FORMAT_VERSION {
            return Err(EvaluateError::UnreadablePart {
                path: path.to_path_buf(),
                reason: format!(
                    "layout version {} (this echolab reads {PART_FORMAT_VERSION})",
                    part.format_version
                ),
            });
        }
        if part.fingerprint != fingerprint {
            return Err(EvaluateError::PartMismatch {
                path: path.to_path_buf(),
            });
        }
        Ok(Some(part))
    }

    /// Writes the part to `path` atomically.
    pub fn write(&self, path: &Path) -> Result<(), EvaluateError> {
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(|source| EvaluateError::Io {
                path: folder.to_path_buf(),
                source,
            })?;
        }
        write_atomically(path, serde_json::to_string(self)?.as_bytes())?;
        Ok(())
    }

    /// How many parts a work folder holds (what `echolab status` reports
    /// of an interrupted evaluation).
    pub fn count(work: &Path) -> Result<usize, EvaluateError> {
        let folder = work.join(PARTS_FOLDER);
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(source) => {
                return Err(EvaluateError::Io {
                    path: folder,
                    source,
                })
            }
        };
        let mut count = 0;
        for entry in entries {
            let entry = entry.map_err(|source| EvaluateError::Io {
                path: folder.clone(),
                source,
            })?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            // Skips the temporary files of an atomic write.
            if name.starts_with("step-") && name.ends_with(".json") {
                count += 1;
            }
        }
        Ok(count)
    }
}

/// The parts of one evaluation in a work folder, with the digest of what
/// every part depends on: the configuration, the tokenizer and the KL
/// reference.
#[derive(Debug, Clone)]
pub(super) struct PartFolder<'a> {
    work: &'a Path,
    evaluation: blake3::Hash,
}

impl<'a> PartFolder<'a> {
    pub(super) fn new(
        work: &'a Path,
        config: &EvalConfig,
        tokenizer: &Tokenizer,
        reference: Option<&Path>,
    ) -> Result<Self, EvaluateError> {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"echolab evaluation part\n");
        hasher.update(&serde_json::to_vec(config)?);
        hasher.update(tokenizer.to_json().as_bytes());
        if let Some(reference) = reference {
            hasher.update(checkpoint_digest(reference)?.as_bytes());
        }
        Ok(PartFolder {
            work,
            evaluation: hasher.finalize(),
        })
    }

    /// Where the part of `step` (whose checkpoint folder is `checkpoint`)
    /// on the set at `set_index` (named `set`, asking `problems`) is kept,
    /// and the fingerprint it must carry.
    pub(super) fn slot(
        &self,
        checkpoint: &Path,
        step: u64,
        set_index: usize,
        set: &str,
        problems: &[Document],
    ) -> Result<PartSlot, EvaluateError> {
        let mut hasher = blake3::Hasher::new();
        hasher.update(self.evaluation.as_bytes());
        hasher.update(checkpoint_digest(checkpoint)?.as_bytes());
        hasher.update(&step.to_le_bytes());
        hasher.update(&serde_json::to_vec(&(set, problems))?);
        Ok(PartSlot {
            path: EvaluationPart::path(self.work, step, set_index),
            step,
            set: set.to_string(),
            fingerprint: hasher.finalize().to_hex().to_string(),
        })
    }
}

/// One part's place in the work folder and what it must hold.
#[derive(Debug, Clone)]
pub(super) struct PartSlot {
    path: PathBuf,
    step: u64,
    set: String,
    fingerprint: String,
}

impl PartSlot {
    /// The part kept here by an earlier run, if any.
    pub(super) fn read(&self) -> Result<Option<EvaluationPart>, EvaluateError> {
        EvaluationPart::read(&self.path, &self.fingerprint)
    }

    /// Keeps a part measured now.
    pub(super) fn write(&self, rows: &[EvalRow], samples: &str) -> Result<(), EvaluateError> {
        EvaluationPart {
            format_version: PART_FORMAT_VERSION,
            step: self.step,
            set: self.set.clone(),
            fingerprint: self.fingerprint.clone(),
            rows: rows.to_vec(),
            samples: samples.to_string(),
        }
        .write(&self.path)
    }
}

/// The digest of a checkpoint folder's weights and configuration.
fn checkpoint_digest(folder: &Path) -> Result<blake3::Hash, EvaluateError> {
    let mut hasher = blake3::Hasher::new();
    for path in [
        ModelArtifact::weights_path(folder),
        ModelArtifact::config_path(folder),
    ] {
        let bytes = std::fs::read(&path).map_err(|source| EvaluateError::Io {
            path: path.clone(),
            source,
        })?;
        hasher.update(blake3::hash(&bytes).as_bytes());
    }
    Ok(hasher.finalize())
}
