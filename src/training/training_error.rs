//! [`TrainingError`]: what can stop a training stage.

use std::path::PathBuf;

use crate::model::ModelError;

/// An error from a training stage.
#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    /// A configuration value is out of its range.
    #[error("invalid training setting `{field}`: {reason}")]
    InvalidConfig {
        /// The configuration field.
        field: &'static str,
        /// Why it is rejected.
        reason: String,
    },
    /// A source's repeat weight is negative or not finite.
    #[error("source `{source_name}` has an invalid repeat weight {weight}")]
    InvalidWeight {
        /// The source.
        source_name: String,
        /// The weight given.
        weight: f64,
    },
    /// The mixture yields no tokens at all.
    #[error("the pretraining mixture is empty: no source contributes a token")]
    EmptyMixture,
    /// A document holds a token id outside the vocabulary.
    #[error(
        "source `{source_name}` holds token {token}, outside the vocabulary of {vocabulary_size}"
    )]
    TokenOutOfRange {
        /// The source.
        source_name: String,
        /// The token id.
        token: u32,
        /// The vocabulary size.
        vocabulary_size: usize,
    },
    /// The loss became NaN or infinite.
    #[error("the training loss became {loss} at step {step}")]
    NonFiniteLoss {
        /// The step (counted from 1) whose loss was not finite.
        step: u64,
        /// The loss value.
        loss: f32,
    },
    /// The gradient norm became NaN or infinite.
    #[error("the gradient norm became {norm} at step {step}")]
    NonFiniteGradient {
        /// The step (counted from 1).
        step: u64,
        /// The global gradient norm.
        norm: f64,
    },
    /// A trainable weight received no gradient.
    #[error("weight `{name}` received no gradient")]
    MissingGradient {
        /// The weight's name.
        name: String,
    },
    /// The checkpoint in the work directory belongs to another configuration
    /// or other data.
    #[error("checkpoint `{path}` was written for another configuration or other data; remove it or use another work directory")]
    CheckpointMismatch {
        /// The checkpoint directory.
        path: PathBuf,
    },
    /// A checkpoint file is malformed.
    #[error("checkpoint file `{path}` is malformed: {reason}")]
    MalformedCheckpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("cannot access `{path}`: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Serialising or parsing JSON failed.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The model failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A tensor operation failed.
    #[error("tensor operation failed: {0}")]
    Tensor(#[from] candle_core::Error),
}

impl TrainingError {
    /// An [`TrainingError::Io`] about `path`.
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> TrainingError + '_ {
        move |source| TrainingError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
