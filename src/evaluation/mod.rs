//! Evaluation: from a model's completion to a grade and to the metrics.
//!
//! Owns the safe [`interpreter`] that runs model-written code, the
//! [`answer`] type and its extraction from text, the format [`classify`]er,
//! [`grade`] (which grades each format the way the paper does) and the
//! [`metrics`] the RL evaluation reports (pass@k, maj@k, format shares),
//! and [`FormatForcing`], greedy answers forced into one format.
//! Grading is a pure function of its inputs: no I/O, no randomness, so it
//! is reproducible bit for bit. The one stage here,
//! [`evaluate_checkpoints`], samples answers from checkpoints with the RL
//! stage's seeded sampler and writes the metrics files, keeping each
//! (step, set) it measured as an [`EvaluationPart`] so a killed evaluation
//! resumes. Model output is untrusted, so no
//! input can make this module panic, hang or allocate without bound; the
//! `fuzz/` crate checks that. `docs/grading.md` is the user-facing summary.

pub mod answer;
mod classifier;
mod eval_row;
mod evaluate_checkpoints;
mod evaluate_error;
mod evaluation_config;
mod evaluation_part;
mod format_forcing;
mod grade;
pub mod interpreter;
pub mod metrics;

pub use answer::{extract, Answer};
pub use classifier::{classify, Classified};
pub use eval_row::EvalRow;
pub use evaluate_checkpoints::{
    evaluate_checkpoints, evaluate_checkpoints_in, EvalInputs, EvalOutcome, PartDone,
};
pub use evaluate_error::EvaluateError;
pub use evaluation_config::{EvalConfig, EvaluationSettings, Metric, ModelKind};
pub use evaluation_part::{EvaluationPart, PART_FORMAT_VERSION};
pub use format_forcing::{ForcedAnswer, FormatForcing};
pub use grade::{
    answer_of, function_block, grade, grade_with_limits, Failure, Grade, TINY_GSM_FUNCTION,
};
