//! Data: the problems echolab trains and evaluates on, in three formats.
//!
//! Owns the synthetic problem generator, the renderers of each solution
//! format, deliberate mistakes (noise), the real-data adapters (GSM8K,
//! JSONL), data shards, per-source statistics and the tokenizer.
//!
//! | file | owns |
//! |---|---|
//! | `number.rs` | [`Number`], exact rational arithmetic |
//! | `operation.rs`, `expression.rs` | [`Operation`], [`Expression`]: a step's arithmetic |
//! | `problem.rs` | [`Problem`], [`Given`], [`Step`]: a problem independent of format |
//! | `story.rs` | [`Story`]: how one synthetic problem is told |
//! | `synthetic_source.rs` | [`SyntheticSource`]: seeded, split, noisy generation |
//! | `renderer.rs` | [`render`]: a problem in code, code_text or prose; [`solution_opening`] |
//! | `noise.rs` | [`corrupt`], [`Mistake`]: realistic wrong solutions |
//! | `split.rs`, `document.rs` | [`Split`], [`Document`] |
//! | `gsm8k.rs` | [`gsm8k`]: GSM8K's calculator annotations turned into problems |
//! | `jsonl.rs` | [`jsonl`]: any JSONL file with a field mapping |
//! | `shard.rs` | [`write_shard`], [`read_shard`] |
//! | `statistics.rs` | [`Statistics`] per source |
//! | `tokenizer.rs` | [`Tokenizer`], [`Level`] |

mod document;
mod error;
mod expression;
mod format;
pub mod gsm8k;
pub mod jsonl;
mod noise;
mod number;
mod operation;
mod problem;
mod renderer;
mod shard;
mod split;
mod statistics;
mod story;
mod synthetic_source;
mod tokenizer;

pub use document::Document;
pub use error::DataError;
pub use expression::Expression;
pub use format::Format;
pub use noise::{corrupt, Mistake};
pub use number::Number;
pub use operation::Operation;
pub use problem::{Given, Problem, Step};
pub use renderer::{
    closing_sentence, render, solution_opening, RenderOptions, CODE_SOLUTION_OPENING,
    CODE_TEXT_OPENING, CODE_TEXT_SOLUTION_OPENING,
};
pub use shard::{read_shard, write_shard};
pub use split::Split;
pub use statistics::{SourceStatistics, Statistics};
pub use story::Story;
pub use synthetic_source::SyntheticSource;
pub use tokenizer::{Level, Tokenizer};
