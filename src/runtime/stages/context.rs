//! [`StageContext`]: what a stage computation sees, and [`StageError`].

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::data::{read_shard, DataError, Document, Tokenizer};
use crate::plan::{Plan, Stage};
use crate::runtime::{damage_text, Cache, CacheError, Entry, Lookup};
use crate::training::TrainingError;

/// Why a stage failed.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// An upstream stage's output is not in the cache.
    #[error("upstream stage `{role}` (key {key}) is not in the cache")]
    MissingUpstream {
        /// The role.
        role: String,
        /// Its key.
        key: String,
    },
    /// An upstream stage's cache entry does not match its manifest; the
    /// next `echolab run` recomputes it.
    #[error("the cached output of upstream stage `{upstream}` is damaged ({damage}); `echolab run` recomputes it")]
    DamagedUpstream {
        /// The upstream stage's name.
        upstream: String,
        /// What is wrong, in words.
        damage: String,
    },
    /// The stage's parameters do not have the shape this echolab expects.
    #[error("invalid parameters: {message}")]
    Parameters {
        /// What is wrong.
        message: String,
    },
    /// Reading or writing data failed.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Training failed.
    #[error(transparent)]
    Training(#[from] TrainingError),
    /// The cache failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// A report could not be drawn.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// A file could not be read or written.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Anything else, said in words.
    #[error("{0}")]
    Other(String),
}

/// Receives `(step, total steps, message)` while a stage computes.
pub type Progress<'a> = Box<dyn FnMut(u64, u64, &str) + Send + 'a>;

/// Everything one stage computation reads and writes.
pub struct StageContext<'a> {
    /// The whole plan (to name upstream stages).
    pub plan: &'a Plan,
    /// The stage.
    pub stage: &'a Stage,
    /// Where upstream artifacts are read from.
    pub upstream_cache: &'a Cache,
    /// The folder of the experiment file (relative input paths start here).
    pub experiment_directory: &'a Path,
    /// A folder that survives a killed run, for checkpoints.
    pub work: PathBuf,
    /// The fresh folder to write the artifacts into.
    pub output: PathBuf,
    /// The stage's log.
    pub log: Box<dyn std::io::Write + Send + 'a>,
    /// Progress: `(step, total steps, message)`.
    pub progress: Progress<'a>,
}

impl StageContext<'_> {
    /// A line in the stage's log.
    pub fn log(&mut self, line: &str) {
        let _ = writeln!(self.log, "{line}");
    }

    /// The parameters, deserialized.
    pub fn parameters<T: DeserializeOwned>(&self) -> Result<T, StageError> {
        serde_json::from_value(self.stage.parameters.clone()).map_err(|error| {
            StageError::Parameters {
                message: format!("stage `{}`: {error}", self.stage.name),
            }
        })
    }

    /// The cached entry of the upstream stage in `role`.
    pub fn upstream(&self, role: &str) -> Result<Entry, StageError> {
        let key = self
            .stage
            .upstream
            .get(role)
            .ok_or_else(|| StageError::MissingUpstream {
                role: role.to_string(),
                key: String::new(),
            })?;
        match self.upstream_cache.inspect(key)? {
            Lookup::Intact(entry) => Ok(entry),
            Lookup::Absent => Err(StageError::MissingUpstream {
                role: role.to_string(),
                key: key.0.clone(),
            }),
            Lookup::Damaged { damage, .. } => Err(StageError::DamagedUpstream {
                upstream: self.upstream_name(role),
                damage: damage_text(&damage),
            }),
        }
    }

    /// The name of the upstream stage in `role`.
    pub fn upstream_name(&self, role: &str) -> String {
        self.stage
            .upstream
            .get(role)
            .and_then(|key| self.plan.stage(key))
            .map_or_else(|| role.to_string(), |stage| stage.name.clone())
    }

    /// The documents of the data stage in `role`.
    pub fn documents(&self, role: &str) -> Result<Vec<Document>, StageError> {
        let entry = self.upstream(role)?;
        Ok(read_shard(&entry.artifact("documents.jsonl"))?)
    }

    /// The tokenizer upstream (role `tokenizer`).
    pub fn tokenizer(&self) -> Result<Tokenizer, StageError> {
        let entry = self.upstream("tokenizer")?;
        let path = entry.artifact("tokenizer.json");
        let text = std::fs::read_to_string(&path).map_err(|source| StageError::Io {
            action: "read",
            path: path.clone(),
            source,
        })?;
        Ok(Tokenizer::from_json(&text)?)
    }

    /// Writes an artifact.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), StageError> {
        let path = self.output.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| StageError::Io {
                action: "create",
                path: parent.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(&path, bytes).map_err(|source| StageError::Io {
            action: "write",
            path,
            source,
        })
    }

    /// Copies a file into the artifacts as `name`.
    pub fn copy_in(&self, from: &Path, name: &str) -> Result<(), StageError> {
        let path = self.output.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| StageError::Io {
                action: "create",
                path: parent.to_path_buf(),
                source,
            })?;
        }
        std::fs::copy(from, &path)
            .map(|_| ())
            .map_err(|source| StageError::Io {
                action: "copy",
                path: from.to_path_buf(),
                source,
            })
    }
}
