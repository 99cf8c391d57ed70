//! What each kind of stage computes, from its parameters and its upstream
//! stages' cached artifacts, into a fresh output folder.
//!
//! | kind | artifacts |
//! |---|---|
//! | data | `documents.jsonl`, `statistics.json` |
//! | tokenizer | `tokenizer.json` |
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
mod tokenizer;

pub use context::{Progress, StageContext, StageError};

use crate::plan::StageKind;

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
