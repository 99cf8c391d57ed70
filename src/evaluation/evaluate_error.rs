//! [`EvaluateError`]: what can stop the evaluation of checkpoints.

use std::path::PathBuf;

use super::metrics::MetricError;
use crate::model::ModelError;
use crate::training::TrainingError;

/// An error from [`evaluate_checkpoints`](super::evaluate_checkpoints).
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    /// A configuration value is out of its range.
    #[error("invalid evaluation setting `{field}`: {reason}")]
    InvalidConfig {
        /// The configuration field.
        field: &'static str,
        /// Why it is rejected.
        reason: String,
    },
    /// A metric name is not known.
    #[error("unknown metric `{name}` (known: `pass@k`, `forced_pass@1`, `maj@k`, `format_share`, `format_accuracy`, `length`, `entropy`, `kl`)")]
    UnknownMetric {
        /// The name given.
        name: String,
    },
    /// No checkpoint was given for a step to evaluate.
    #[error("no checkpoint for step {step}")]
    MissingCheckpoint {
        /// The step.
        step: u64,
    },
    /// The `kl` metric was asked for without a reference model.
    #[error("the `kl` metric needs a reference checkpoint")]
    MissingReference,
    /// A problem's reference answer cannot be parsed.
    #[error("problem {index} of set `{set}` has an unreadable reference answer `{answer}`")]
    BadReference {
        /// The set.
        set: String,
        /// The problem's index in the set.
        index: usize,
        /// The answer text.
        answer: String,
    },
    /// A checkpoint's vocabulary differs from the tokenizer's.
    #[error("checkpoint `{path}` has a vocabulary of {checkpoint} tokens but the tokenizer has {tokenizer}")]
    VocabularyMismatch {
        /// The checkpoint folder.
        path: PathBuf,
        /// Its vocabulary size.
        checkpoint: usize,
        /// The tokenizer's.
        tokenizer: usize,
    },
    /// A part a killed evaluation left in its work folder cannot be read.
    #[error("evaluation part `{path}` cannot be read: {reason}; remove it to measure that step and set again")]
    UnreadablePart {
        /// The part's file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A part in the work folder was measured with another configuration,
    /// other problems or another checkpoint.
    #[error("evaluation part `{path}` was measured for another configuration, other problems or another checkpoint; remove it or use another work folder")]
    PartMismatch {
        /// The part's file.
        path: PathBuf,
    },
    /// A metric could not be computed.
    #[error(transparent)]
    Metric(#[from] MetricError),
    /// Loading a checkpoint or writing a file failed.
    #[error(transparent)]
    Training(#[from] TrainingError),
    /// The model failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A tensor operation failed.
    #[error("tensor operation failed: {0}")]
    Tensor(#[from] candle_core::Error),
    /// Serialising JSON failed.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Reading or creating a file or folder failed.
    #[error("cannot access `{path}`: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}
