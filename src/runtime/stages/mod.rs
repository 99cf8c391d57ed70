//! What each kind of stage computes, from its parameters and its upstream
//! stages' cached artifacts, into a fresh output folder.
//!
//! | kind | artifacts |
//! |---|---|
//! | data | `documents.jsonl`, `statistics.json` |
//! | tokenizer | `tokenizer.json`, `statistics.json` (per source: formats, mean and longest length in tokens, noise applied) |
//! | pretrain | `model.safetensors`, `config.json`, `metrics.jsonl` |
//! | rl | `model.safetensors`, `config.json`, `metrics.jsonl`, `samples.jsonl`, `snapshots/step-N/...` |
//! | eval | `metrics.jsonl`, `samples.jsonl` |
//! | report | `report.html`, `*.svg`, `*.png`, `metrics.csv` |

mod context;
mod data;
mod eval;
mod pretrain;
mod report;
mod rl;
mod stage_observer;
mod tokenizer;

pub use context::{Progress, StageContext, StageError};
pub use eval::evaluation_parts;
pub use report::{build as build_report, BuiltReport};

use std::path::Path;

use crate::plan::{Plan, Stage, StageKind};
use crate::runtime::Cache;
use crate::training::HeldOutLoss;

/// Computes the context's stage into its output folder.
pub fn compute(context: &mut StageContext<'_>) -> Result<(), StageError> {
    match context.stage.kind {
        StageKind::Data => data::run(context),
        StageKind::Tokenizer => tokenizer::run(context),
        StageKind::Pretrain => pretrain::run(context),
        StageKind::Rl => rl::run(context),
        StageKind::Eval => eval::run(context),
        StageKind::Report => report::run(context),
    }
}

/// The unigram baseline of a pretraining stage (the held-out loss per source
/// of a model that knows only token frequencies), from its upstream
/// artifacts in `cache`; nothing is computed or written besides.
pub fn pretraining_unigram_baseline(
    plan: &Plan,
    stage: &Stage,
    cache: &Cache,
    experiment_directory: &Path,
) -> Result<Vec<HeldOutLoss>, StageError> {
    if stage.kind != StageKind::Pretrain {
        return Err(StageError::Parameters {
            message: format!("stage `{}` is not a pretraining stage", stage.name),
        });
    }
    let context = StageContext {
        plan,
        stage,
        upstream_cache: cache,
        experiment_directory,
        work: std::path::PathBuf::new(),
        output: std::path::PathBuf::new(),
        log: Box::new(std::io::sink()),
        progress: Box::new(|_, _, _| {}),
    };
    pretrain::unigram_baseline(&context)
}
