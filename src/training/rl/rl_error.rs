//! [`RlError`]: what can stop the RL stage.

use std::path::PathBuf;

use crate::model::ModelError;
use crate::training::TrainingError;

/// An error from the RL stage.
#[derive(Debug, thiserror::Error)]
pub enum RlError {
    /// A configuration value is out of its range.
    #[error("invalid RL setting `{field}`: {reason}")]
    InvalidConfig {
        /// The configuration field.
        field: &'static str,
        /// Why it is rejected.
        reason: String,
    },
    /// There are no prompts to train on.
    #[error("the RL stage has no prompts")]
    NoPrompts,
    /// A prompt's reference answer cannot be parsed.
    #[error("prompt {index} has an unreadable reference answer `{answer}`")]
    BadReference {
        /// The prompt's index in the inputs.
        index: usize,
        /// The answer text.
        answer: String,
    },
    /// The starting checkpoint's vocabulary differs from the tokenizer's.
    #[error(
        "the checkpoint has a vocabulary of {checkpoint} tokens but the tokenizer has {tokenizer}"
    )]
    VocabularyMismatch {
        /// The checkpoint's vocabulary size.
        checkpoint: usize,
        /// The tokenizer's vocabulary size.
        tokenizer: usize,
    },
    /// The loss became NaN or infinite.
    #[error("the RL loss became {loss} at step {step}")]
    NonFiniteLoss {
        /// The step (counted from 1).
        step: u64,
        /// The loss value.
        loss: f64,
    },
    /// The gradient norm became NaN or infinite.
    #[error("the gradient norm became {norm} at step {step}")]
    NonFiniteGradient {
        /// The step (counted from 1).
        step: u64,
        /// The norm.
        norm: f64,
    },
    /// A weight received no gradient.
    #[error("weight `{name}` received no gradient")]
    MissingGradient {
        /// The weight's name.
        name: String,
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
    /// Loading or writing model artifacts or checkpoints failed, or the
    /// checkpoint in the work directory belongs to another run.
    #[error(transparent)]
    Training(#[from] TrainingError),
    /// The model failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A tensor operation failed.
    #[error("tensor operation failed: {0}")]
    Tensor(#[from] candle_core::Error),
}

impl RlError {
    /// An [`RlError::Io`] about `path`.
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> RlError + '_ {
        move |source| RlError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
