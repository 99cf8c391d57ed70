//! Training: the pretraining stage and the pieces it is made of.
//!
//! Owns mixture sampling and sequence packing ([`MixtureStream`]), the
//! optimizer ([`AdamW`], with moments that can be saved), learning-rate
//! schedules ([`LearningRateSchedule`]), global-norm gradient clipping,
//! atomic checkpoints ([`Checkpoint`]), the metrics log, progress
//! reporting ([`Observer`]) and the stage itself ([`pretrain`]); the RL
//! stage lives in [`rl`]. The
//! optimizer and the checkpoints are written here rather than taken from
//! candle so that a run killed at any moment resumes to the same bytes.

mod adam_w;
mod atomic_file;
mod checkpoint;
mod gradient_clipping;
mod learning_rate_schedule;
mod metrics_log;
mod mixture_stream;
mod model_artifact;
mod observer;
mod pretrain;
mod pretrain_config;
mod pretrain_data;
mod progress_bar_observer;
pub mod rl;
mod training_error;
mod unigram_baseline;

pub use adam_w::{AdamW, AdamWConfig};
pub use atomic_file::write_atomically;
pub use checkpoint::{
    checkpoints_directory, Checkpoint, CheckpointState, CheckpointStateFormat,
    CHECKPOINT_FORMAT_VERSION,
};
pub use gradient_clipping::{clip_factor, global_norm};
pub use learning_rate_schedule::{DecayKind, LearningRateSchedule, Warmup};
pub use metrics_log::{MetricsLog, MetricsRecord};
pub use mixture_stream::{DocumentRef, MixtureStream};
pub use model_artifact::{ModelArtifact, MODEL_ARTIFACT_FORMAT_VERSION};
pub use observer::{HeldOutLoss, Observer, SilentObserver, StepReport};
pub use pretrain::{pretrain, PretrainOutcome};
pub use pretrain_config::PretrainConfig;
pub use pretrain_data::{fractional_count, PretrainData, SourceDocuments};
pub use progress_bar_observer::ProgressBarObserver;
pub use training_error::TrainingError;
pub use unigram_baseline::unigram_held_out_losses;
